#!/usr/bin/env bats
# bl-commit against bl-mockd in temp git repositories: the commit line
# agrees with git (sha, subject, files), the message rules (long subject,
# fences, trailing period), the one request holds the staged diff, and
# the no-request paths: nothing to commit, not a repository, no identity,
# --dry-run; failures: no message, a hook refusing, SIGTERM in a hook.

load helpers

FIX="$ROOT/tests/fixtures/bl-commit"
CFG="$FIX/config"

setup() {
	export GIT_CONFIG_NOSYSTEM=1
	unset GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL EMAIL
	WS=$BATS_TEST_TMPDIR/ws
	OUT=$BATS_TEST_TMPDIR/out.jsonl
	ERR=$BATS_TEST_TMPDIR/err.txt
	mkdir -p "$WS"
	git -C "$WS" init -q -b main
	git -C "$WS" config user.name "Test Committer"
	git -C "$WS" config user.email committer@example.com
	printf 'int add(int a, int b)\n{\n\treturn a + b;\n}\n' >"$WS/calc.c"
	printf 'old\n' >"$WS/old.txt"
	printf '# Calc\n' >"$WS/README.md"
	git -C "$WS" add -A
	git -C "$WS" commit -q -m "Initial commit"
}

teardown() {
	mockd_stop
}

# Changes of every kind: a modified file, a new file with a space and
# non-ASCII letters in a new directory, a deleted file.
change_files() {
	printf 'int add(int a, int b)\n{\n\treturn a + b;\n}\n\nint sub(int a, int b)\n{\n\treturn a - b;\n}\n' >"$WS/calc.c"
	mkdir -p "$WS/new dir"
	printf 'SUB-MARKER\n' >"$WS/new dir/ünï file.txt"
	rm "$WS/old.txt"
}

# commit [ARGS...]: bl-commit in $WS with the test config, stdin from $IN
# (default /dev/null); status, stdout in $OUT, stderr in $ERR.
commit() {
	status=0
	bl-commit -C "$WS" --config "${COMMIT_CFG:-$CFG}" "$@" <"${IN:-/dev/null}" >"$OUT" 2>"$ERR" ||
		status=$?
}

# The text the model was given (request N, default 1).
request_text() { mockd_request "${1:-1}" | jq -r '.body.messages[0].content | if type == "string" then . else map(.text // "") | join("") end'; }

@test "commits every change: the commit line's sha, subject and files agree with git" {
	mockd_start "$FIX/commit.jsonl"
	change_files
	commit "add a sub function"
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(jq -r .type "$OUT" | paste -sd ' ')" "task usage commit message"
	local c
	c=$(lines commit)
	assert_equal "$(jq -r .agent <<<"$c")" committer
	assert_equal "$(jq -r .sha <<<"$c")" "$(git -C "$WS" rev-parse HEAD)"
	assert_equal "$(jq -r .subject <<<"$c")" "Add sub() to the calculator"
	assert_equal "$(git -C "$WS" log -1 --format=%s)" "Add sub() to the calculator"
	assert_equal "$(git -C "$WS" log -1 --format=%b)" "$(printf 'sub() returns a - b, next to add(). The tests cover it and\nmake test passes.')"
	# files: the modified, the new (raw UTF-8 name, not quoted) and the deleted one
	assert_equal "$(jq -r '.files | sort | join("|")' <<<"$c")" "calc.c|new dir/ünï file.txt|old.txt"
	assert_equal "$(jq -r '.files | sort | join("|")' <<<"$c")" \
		"$(git -C "$WS" -c core.quotepath=off diff-tree --no-commit-id --name-only -r HEAD | sort | paste -sd '|')"
	# the author is git's configured identity, and the tree is clean
	assert_equal "$(git -C "$WS" log -1 --format='%an <%ae>')" "Test Committer <committer@example.com>"
	assert_equal "$(git -C "$WS" status --porcelain)" ""
	assert_equal "$(git -C "$WS" show HEAD:"new dir/ünï file.txt")" SUB-MARKER
	# the message line says what happened
	lines message | jq -e --arg sha "$(git -C "$WS" rev-parse --short=12 HEAD)" \
		'.role == "assistant" and .agent == "committer"
		 and (.text | startswith("Committed " + $sha + ": Add sub() to the calculator"))
		 and (.text | test("3 files changed"))' >/dev/null
	assert_equal "$(mockd_requests)" 1
	assert_equal "$(cat "$ERR")" ""
}

@test "the one request: committer prompt, no tools, the context, the staged stat and diff" {
	mockd_start "$FIX/commit.jsonl"
	change_files
	IN="$FIX/conversation.jsonl" commit
	assert_equal "$status" 0
	assert_equal "$(mockd_requests)" 1
	local r sys text
	r=$(mockd_request 1)
	assert_equal "$(jq -r .path <<<"$r")" /v1/messages
	jq -e '(.body.tools // []) | length == 0' <<<"$r" >/dev/null
	assert_equal "$(jq -r '.body.messages | length' <<<"$r")" 1
	sys=$(jq -r '.body.system | if type == "string" then . else map(.text) | join("") end' <<<"$r")
	[[ $sys == *"$(head -n 1 "$ROOT/prompts/committer.txt")"* ]] || fail "system prompt lacks committer.txt: ${sys:0:200}"
	text=$(request_text)
	# the conversation's context: task, plan, verdicts
	[[ $text == *"add a sub function"* ]] || fail "no task in: $text"
	[[ $text == *"Add sub() next to add()."* ]] || fail "no plan in: $text"
	[[ $text == *"PLAN-REVIEW-MARK"* ]] || fail "no review verdict in: $text"
	# the staged stat and the staged diff, exactly as git shows them
	[[ $text == *"$(git -C "$WS" -c core.quotepath=off diff --cached --stat --summary --no-color)"* ]] || fail "no stat in: $text"
	[[ $text == *"$(git -C "$WS" -c core.quotepath=off diff HEAD~1 HEAD --no-color)"* ]] || fail "no diff in: $text"
	[[ $text == *"+	return a - b;"* ]]
	[[ $text == *"+SUB-MARKER"* ]]
	[[ $text == *"-old"* ]]
	# the echo-less output with a conversation on stdin: only the additions
	assert_equal "$(jq -r .type "$OUT" | paste -sd ' ')" "usage commit message"
}

@test "a root commit in a repository without commits lists its files" {
	rm -rf "$WS/.git"
	git -C "$WS" init -q -b main
	git -C "$WS" config user.name "Test Committer"
	git -C "$WS" config user.email committer@example.com
	mockd_start "$FIX/commit.jsonl"
	commit "first"
	assert_equal "$status" 0
	assert_equal "$(lines commit | jq -r .sha)" "$(git -C "$WS" rev-parse HEAD)"
	assert_equal "$(lines commit | jq -r '.files | sort | join(" ")')" "README.md calc.c old.txt"
	assert_equal "$(git -C "$WS" rev-list --count HEAD)" 1
}

@test "a subject over 72 characters is cut at a word; the whole line opens the body; fences go" {
	mockd_start "$FIX/long-subject.jsonl"
	change_files
	commit "add a sub function"
	assert_equal "$status" 0
	local full="Add a subtraction function to the calculator library so that callers can take differences"
	local subject
	subject=$(lines commit | jq -r .subject)
	assert_equal "$subject" "Add a subtraction function to the calculator library so that callers can"
	assert [ "${#subject}" -le 72 ]
	assert_equal "$(git -C "$WS" log -1 --format=%s)" "$subject"
	assert_equal "$(git -C "$WS" log -1 --format=%B)" "$(printf '%s\n\n%s.\n\nThe body stays.' "$subject" "$full")"
	run grep -c '```' <(git -C "$WS" log -1 --format=%B)
	assert_output 0
}

@test "a subject without a space is cut at 72 characters (not bytes)" {
	mockd_start "$FIX/hard-cut.jsonl"
	change_files
	commit "x"
	assert_equal "$status" 0
	local subject
	subject=$(lines commit | jq -r .subject)
	assert_equal "$(lines commit | jq -r '.subject | length')" 72
	assert_equal "$(printf '%s' "$subject" | wc -c | tr -d ' ')" 144
	assert_equal "$(git -C "$WS" log -1 --format=%s)" "$subject"
	assert_equal "$(git -C "$WS" log -1 --format=%b | head -n 1 | jq -R length)" 100
}

@test "surrounding blank lines, one trailing period and a missing blank line are fixed" {
	mockd_start "$FIX/subject-only.jsonl"
	change_files
	commit "x"
	assert_equal "$status" 0
	assert_equal "$(lines commit | jq -r .subject)" "Fix the greeting"
	assert_equal "$(git -C "$WS" log -1 --format=%B)" "$(printf 'Fix the greeting\n\nIt said hullo.')"
}

@test "nothing to commit: a message line, exit 0, and no request" {
	mockd_start "$FIX/commit.jsonl"
	IN="$FIX/conversation.jsonl" commit -p
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(head -n 5 "$OUT")" "$(cat "$FIX/conversation.jsonl")"
	assert_equal "$(sed -n '6,$p' "$OUT" | jq -r '[.type, .agent, .role, .text] | join(" ")')" \
		"message committer assistant nothing to commit"
	assert_equal "$(mockd_requests)" 0
	assert_equal "$(git -C "$WS" rev-list --count HEAD)" 1
}

@test "outside a git repository: exit 78, an error line after the echo, no request" {
	mockd_start "$FIX/commit.jsonl"
	rm -rf "$WS/.git"
	IN="$FIX/conversation.jsonl" commit -p
	assert_equal "$status" 78
	assert_jsonl
	assert_equal "$(head -n 5 "$OUT")" "$(cat "$FIX/conversation.jsonl")"
	assert_equal "$(wc -l <"$OUT" | tr -d ' ')" 6
	tail -n 1 "$OUT" | jq -e --arg ws "$WS" '.type == "error" and .agent == "committer" and .kind == "config"
		and .retryable == false and .message == "'"'"'" + $ws + "'"'"' is not a git repository"' >/dev/null ||
		fail "bad error line: $(tail -n 1 "$OUT")"
	assert_equal "$(cat "$ERR")" "bl-commit: '$WS' is not a git repository"
	assert_equal "$(mockd_requests)" 0
}

@test "inside .git (not a work tree): exit 78" {
	mockd_start "$FIX/commit.jsonl"
	bl-commit -C "$WS/.git" --config "$CFG" x </dev/null >"$OUT" 2>"$ERR" || status=$?
	assert_equal "$status" 78
	lines error | jq -e '.kind == "config" and (.message | test("not in a git work tree"))' >/dev/null
	assert_equal "$(mockd_requests)" 0
}

@test "no git identity: exit 78 with a clear error line, before any request" {
	mockd_start "$FIX/commit.jsonl"
	git -C "$WS" config --unset user.name
	git -C "$WS" config --unset user.email
	change_files
	commit "x"
	assert_equal "$status" 78
	assert_equal "$(count error)" 1
	lines error | jq -e '.kind == "config" and (.message | test("git has no author identity"))
		and (.message | test("user.email"))' >/dev/null || fail "$(cat "$OUT")"
	assert_equal "$(mockd_requests)" 0
	assert_equal "$(git -C "$WS" rev-list --count HEAD)" 1
	# with the identity in the environment it commits
	mockd_stop
	mockd_start "$FIX/commit.jsonl"
	GIT_AUTHOR_NAME=Env GIT_AUTHOR_EMAIL=env@example.com GIT_COMMITTER_NAME=Env \
		GIT_COMMITTER_EMAIL=env@example.com commit "x"
	assert_equal "$status" 0
	assert_equal "$(git -C "$WS" log -1 --format='%an <%ae> %cn')" "Env <env@example.com> Env"
}

@test "a committer with tools in its config: exit 78, no request" {
	mockd_start "$FIX/commit.jsonl"
	change_files
	mkdir -p "$BATS_TEST_TMPDIR/cfg"
	cp "$CFG/system_config.json" "$BATS_TEST_TMPDIR/cfg/"
	jq '.agents[0].tools = ["read"]' "$CFG/agent_config.json" >"$BATS_TEST_TMPDIR/cfg/agent_config.json"
	COMMIT_CFG="$BATS_TEST_TMPDIR/cfg" commit "x"
	assert_equal "$status" 78
	assert_equal "$(count error)" 1
	lines error | jq -e '.kind == "config" and (.message | test("tools must be empty"))' >/dev/null
	assert_equal "$(mockd_requests)" 0
	assert_equal "$(git -C "$WS" rev-list --count HEAD)" 1
}

@test "the workspace .env (where keys live) is never staged" {
	mockd_start "$FIX/commit.jsonl"
	change_files
	printf 'ANTHROPIC_API_KEY=sk-ant-from-dotenv\n' >"$WS/.env"
	commit "x"
	assert_equal "$status" 0
	assert_equal "$(lines commit | jq -r '.files | index(".env")')" null
	run git -C "$WS" ls-files .env
	assert_output ""
	run grep -c sk-ant-from-dotenv "$MOCKD_LOG"
	assert_output 0
	assert_equal "$(git -C "$WS" status --porcelain)" "?? .env"
}

@test "--dry-run prints the request with the diff, sends nothing, leaves the index alone" {
	mockd_start "$FIX/commit.jsonl"
	change_files
	git -C "$WS" add calc.c
	local before
	before=$(git -C "$WS" status --porcelain)
	commit --dry-run "x"
	assert_equal "$status" 0
	assert_equal "$(head -n 1 "$OUT")" "POST $ANTHROPIC_BASE_URL/v1/messages"
	grep -q 'SUB-MARKER' "$OUT"
	grep -q 'deleted file mode' "$OUT"
	run grep -c "$MOCKD_TEST_KEY_ANTHROPIC" "$OUT"
	assert_output 0
	assert_equal "$(git -C "$WS" status --porcelain)" "$before"
	assert_equal "$(mockd_requests)" 0
	assert_equal "$(git -C "$WS" rev-list --count HEAD)" 1
}

@test "a large diff is capped, head and tail kept, the cut said" {
	mockd_start "$FIX/commit.jsonl"
	seq -f 'line %06g of a big generated file' 1 10000 >"$WS/big.txt"
	commit "x"
	assert_equal "$status" 0
	local text
	text=$(request_text)
	assert [ "${#text}" -lt 70000 ]
	[[ $text == *"+line 000001 of a big"* ]] || fail "no head"
	[[ $text == *"+line 010000 of a big"* ]] || fail "no tail"
	[[ $text != *"+line 005000 of a big"* ]] || fail "the middle was not cut"
	[[ $text =~ \[\.\.\.\ [0-9]+\ bytes\ of\ the\ diff\ cut\ here\ \.\.\.\] ]] || fail "no cut line"
	assert_equal "$(lines commit | jq -r '.files | join(" ")')" big.txt
}

@test "a model without a message: exit 69, an error line, nothing committed" {
	mockd_start "$FIX/empty.jsonl"
	change_files
	commit "x"
	assert_equal "$status" 69
	assert_equal "$(count error)" 1
	lines error | jq -e '.kind == "protocol" and .retryable == true and (.message | test("no commit message"))' >/dev/null
	assert_equal "$(count commit)" 0
	assert_equal "$(git -C "$WS" rev-list --count HEAD)" 1
}

@test "a tool call gets no second turn: error of kind limit, nothing committed" {
	mockd_start "$FIX/tool-call.jsonl"
	change_files
	commit "x"
	assert_equal "$status" 75
	assert_equal "$(mockd_requests)" 1
	lines error | jq -e '.kind == "limit"' >/dev/null
	assert_equal "$(git -C "$WS" rev-list --count HEAD)" 1
}

@test "hooks run: a pre-commit hook that refuses is an error line with git's words, exit 70" {
	mockd_start "$FIX/commit.jsonl"
	change_files
	printf '#!/bin/sh\necho "hook: REFUSED-BY-HOOK" >&2\nexit 1\n' >"$WS/.git/hooks/pre-commit"
	chmod +x "$WS/.git/hooks/pre-commit"
	commit "x"
	assert_equal "$status" 70
	assert_equal "$(count error)" 1
	lines error | jq -e '.kind == "tool" and (.message | test("git commit failed \\(exit 1\\): hook: REFUSED-BY-HOOK"))' >/dev/null ||
		fail "$(cat "$OUT")"
	assert_equal "$(git -C "$WS" rev-list --count HEAD)" 1
}

@test "SIGTERM while a hook runs: exit 75, error line, the hook's process group is ended" {
	mockd_start "$FIX/commit.jsonl"
	change_files
	printf '#!/bin/sh\necho $$ > "%s/hook.pid"\nsleep 300 &\necho $! > "%s/sleep.pid"\nwait\n' \
		"$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR" >"$WS/.git/hooks/pre-commit"
	chmod +x "$WS/.git/hooks/pre-commit"
	bl-commit -C "$WS" --config "$CFG" x </dev/null >"$OUT" 2>"$ERR" &
	local pid=$! i rc=0
	for i in $(seq 100); do
		[ -s "$BATS_TEST_TMPDIR/sleep.pid" ] && break
		sleep 0.05
	done
	[ -s "$BATS_TEST_TMPDIR/sleep.pid" ] || fail "the hook did not start"
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	assert_equal "$rc" 75
	assert_equal "$(tail -n 1 "$OUT" | jq -r '[.type, .kind, .retryable] | join(" ")')" "error timeout true"
	for i in $(seq 40); do
		kill -0 "$(cat "$BATS_TEST_TMPDIR/sleep.pid")" 2>/dev/null || break
		sleep 0.05
	done
	run kill -0 "$(cat "$BATS_TEST_TMPDIR/sleep.pid")"
	assert_failure
	assert_equal "$(git -C "$WS" rev-list --count HEAD)" 1
}

@test "provider openai: the same commit through /v1/chat/completions" {
	mockd_start "$FIX/commit.jsonl"
	change_files
	COMMIT_CFG="$CFG/agent_config-openai.json" commit "add a sub function"
	assert_equal "$status" 0
	assert_equal "$(lines commit | jq -r .sha)" "$(git -C "$WS" rev-parse HEAD)"
	assert_equal "$(git -C "$WS" log -1 --format=%s)" "Add sub() to the calculator"
	assert_equal "$(mockd_request 1 | jq -r .path)" /v1/chat/completions
	mockd_request 1 | jq -e '[.body.messages[] | select(.role == "user") | .content | tostring] | join("") | test("SUB-MARKER")' >/dev/null
	assert_equal "$(lines usage | jq -r .provider)" openai
}

@test "--help and --version" {
	run bl-commit --version
	assert_success
	assert_output "bl-commit (better-llm) 0.1.0"
	run bl-commit --help
	assert_success
	assert_output --partial "usage: bl-commit [options] [TASK]"
}
