#!/usr/bin/env bats
# bl-code end to end against bl-mockd, in a temp git repository: scripted
# write, edit and bash calls change real files; failing edits are
# is_error results that leave files alone; a write killed at any moment
# leaves the old or the new file; the bash tool's sandbox (no writes out
# of the workspace and its temp dir, no TCP unless allowed, no secrets),
# its timeout with a background child, its output cap; the coder's
# context on a loop; SIGTERM during a command.

load helpers

FIX="$ROOT/tests/fixtures/bl-code"
CFG="$FIX/config"

setup() {
	WS=$BATS_TEST_TMPDIR/ws
	OUT=$BATS_TEST_TMPDIR/out.jsonl
	ERR=$BATS_TEST_TMPDIR/err.txt
	mkdir -p "$WS/src"
	printf 'int add(int a, int b)\n{\n\treturn a + b;\n}\n' >"$WS/src/calc.c"
	printf 'test:\n\tgrep -q "int sub" src/calc.c\n\techo tests passed > test.log\n' >"$WS/Makefile"
	printf 'first\ndup line\nmiddle\ndup line\n' >"$WS/notes.txt"
	printf 'item 1\nitem 2\nitem 3\n' >"$WS/list.txt"
	printf '#!/bin/sh\necho one\necho three\n' >"$WS/run.sh"
	chmod 755 "$WS/run.sh"
	ln -s notes.txt "$WS/link.txt"
	git -C "$WS" init -q
	git -C "$WS" add -A
	git -C "$WS" -c user.name=test -c user.email=test@example.com commit -qm init
	HEAD0=$(git -C "$WS" rev-parse HEAD)
}

teardown() {
	mockd_stop
}

# code [ARGS...]: runs bl-code in $WS with the test config (or $CODE_CFG),
# stdin from $IN (default /dev/null); sets status, stdout in $OUT,
# stderr in $ERR.
code() {
	status=0
	bl-code -C "$WS" --config "${CODE_CFG:-$CFG}" "$@" <"${IN:-/dev/null}" >"$OUT" 2>"$ERR" ||
		status=$?
}

error_of() { jq -r "select(.type == \"tool_result\" and .tool_use_id == \"$1\") | .is_error" "$OUT"; }
# gone PID: the process no longer runs.  An orphan whose parent died is
# reparented to PID 1, which in some containers never reaps it: a zombie
# (state Z) has ended too.
gone() {
	kill -0 "$1" 2>/dev/null || return 0
	[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f 1)" = Z ]
}

# A copy of the test config in $BATS_TEST_TMPDIR/cfg with jq filters
# applied: cfg_copy AGENT_FILTER SYSTEM_FILTER.
cfg_copy() {
	local d=$BATS_TEST_TMPDIR/cfg
	mkdir -p "$d"
	jq "$1" "$CFG/agent_config.json" >"$d/agent_config.json"
	jq "$2" "$CFG/system_config.json" >"$d/system_config.json"
	printf '%s\n' "$d"
}

@test "scripted write, edit and bash change real files in a temp git repo" {
	mockd_start "$FIX/code.jsonl"
	code "add a sub function"
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(jq -r 'select(.type == "tool_use") | .name' "$OUT" | paste -sd ' ')" "write edit bash"
	assert_equal "$(jq -r 'select(.type == "tool_result") | .is_error' "$OUT" | sort -u)" false
	# write: a new file in a new directory
	assert_equal "$(result_of toolu_write_1)" "created src/ops/sub.h (4 lines, +4 -0; made 1 directory)"
	diff <(printf '#ifndef SUB_H\n#define SUB_H\nint sub(int a, int b);\n#endif\n') "$WS/src/ops/sub.h"
	# edit: the exact replacement
	assert_equal "$(result_of toolu_edit_2)" "edited src/calc.c: replaced 1 occurrence (+5 -0; 9 lines now)"
	diff <(printf 'int add(int a, int b)\n{\n\treturn a + b;\n}\n\nint sub(int a, int b)\n{\n\treturn a - b;\n}\n') "$WS/src/calc.c"
	# bash: make ran in the workspace and saw the edit
	assert_equal "$(result_of toolu_bash_3 | head -n 1)" "exit 0"
	assert_equal "$(result_of toolu_bash_3 | tail -n 1)" "tests passed"
	assert_equal "$(cat "$WS/test.log")" "tests passed"
	# the repository: changed files, no commit, no temp file left
	assert_equal "$(git -C "$WS" rev-parse HEAD)" "$HEAD0"
	assert_equal "$(git -C "$WS" status --porcelain | paste -sd ' ')" " M src/calc.c ?? src/ops/ ?? test.log"
	assert_equal "$(find "$WS" -name '.bl-write-*' | wc -l | tr -d ' ')" 0
	# the summary is the message line, last
	assert_equal "$(count message)" 1
	assert_equal "$(tail -n 1 "$OUT" | jq -r '[.type, .agent, .role] | join(" ")')" "message coder assistant"
	[[ $(lines message | jq -r .text) == "## Changes"* ]]
	assert_equal "$(cat "$ERR")" ""
}

@test "the requests: the coder prompt, the six tools, results sent back" {
	mockd_start "$FIX/code.jsonl"
	code "add a sub function"
	assert_equal "$status" 0
	local r1 sys
	r1=$(mockd_request 1)
	assert_equal "$(jq -r '[.body.tools[].name] | sort | join(" ")' <<<"$r1")" "bash edit glob grep read write"
	jq -e '.body.tools | all(.description != "" and .input_schema.type == "object")' <<<"$r1" >/dev/null
	jq -e '.body.tools[] | select(.name == "write") | .input_schema.required == ["path", "content"]' <<<"$r1" >/dev/null
	jq -e '.body.tools[] | select(.name == "edit") | .input_schema.required == ["path", "old_string", "new_string"]' <<<"$r1" >/dev/null
	jq -e '.body.tools[] | select(.name == "bash") | .input_schema.properties.timeout.type == "integer"' <<<"$r1" >/dev/null
	sys=$(jq -r '.body.system | if type == "string" then . else map(.text) | join("") end' <<<"$r1")
	[[ $sys == *"$(head -n 1 "$ROOT/prompts/coder.txt")"* ]] || fail "system prompt lacks coder.txt: ${sys:0:200}"
	[[ $sys == *"never commit"* || $sys == *"Never commit"* ]]
	# the bash result of turn 3 is what request 4 carries
	local want
	want=$(jq -c 'select(.type == "tool_result" and .tool_use_id == "toolu_bash_3") | .content' "$OUT")
	mockd_request 4 | jq -e --argjson want "$want" '.body.messages[-1].content
		| map(select(.type == "tool_result"))[0]
		| .tool_use_id == "toolu_bash_3" and
		  ((.content | if type == "string" then . else map(.text) | join("") end) == $want)' >/dev/null
}

@test "edit: missing or non-unique old_string and bad paths are is_error results; files unchanged" {
	cp "$WS/notes.txt" "$BATS_TEST_TMPDIR/notes.orig"
	mockd_start "$FIX/edit-errors.jsonl"
	code "rename the items"
	assert_equal "$status" 0
	assert_jsonl
	local id
	for id in toolu_missing toolu_dup toolu_same toolu_nofile toolu_empty toolu_outside \
		toolu_outside_dir toolu_abs toolu_git toolu_link toolu_dir toolu_noargs; do
		assert_equal "$id $(error_of $id)" "$id true"
	done
	[[ $(result_of toolu_missing) == "old_string not found in notes.txt;"* ]] || fail "$(result_of toolu_missing)"
	assert_equal "$(result_of toolu_dup)" "old_string occurs 2 times in notes.txt; give more context or set replace_all"
	assert_equal "$(result_of toolu_same)" "old_string and new_string are the same; nothing to change"
	assert_equal "$(result_of toolu_nofile)" "'nope/none.txt' does not exist; use write to create a file"
	[[ $(result_of toolu_empty) == "old_string is empty"* ]]
	assert_equal "$(result_of toolu_outside)" "path '../outside.txt' is outside the workspace"
	assert_equal "$(result_of toolu_outside_dir)" "path 'sub/../../outside-dir/x.txt' is outside the workspace"
	assert_equal "$(result_of toolu_abs)" "path '/tmp/bl-code-abs-escape.txt' is outside the workspace"
	[[ $(result_of toolu_git) == "path '.git/hooks/pre-commit' is inside .git;"* ]]
	assert_equal "$(result_of toolu_link)" "'link.txt' is a symbolic link (to 'notes.txt'); write to the file it points to"
	assert_equal "$(result_of toolu_dir)" "'src' is a directory"
	assert_equal "$(result_of toolu_noargs)" "missing required argument 'old_string'"
	# nothing changed or appeared anywhere
	cmp "$BATS_TEST_TMPDIR/notes.orig" "$WS/notes.txt"
	[ -L "$WS/link.txt" ]
	[ ! -e "$BATS_TEST_TMPDIR/outside.txt" ]
	[ ! -e "$BATS_TEST_TMPDIR/outside-dir" ]
	[ ! -e /tmp/bl-code-abs-escape.txt ]
	[ ! -e "$WS/.git/hooks/pre-commit" ]
	[ ! -e "$WS/nope" ]
	assert_equal "$(git -C "$WS" status --porcelain | paste -sd ' ')" " M list.txt"
	# replace_all replaced every occurrence
	assert_equal "$(error_of toolu_all)" false
	assert_equal "$(result_of toolu_all)" "edited list.txt: replaced 3 occurrences (+3 -3; 3 lines now)"
	diff <(printf 'entry 1\nentry 2\nentry 3\n') "$WS/list.txt"
	assert_equal "$(count message)" 1
}

@test "write and edit keep an overwritten file's mode; counts; unchanged content; empty file" {
	mockd_start "$FIX/mode.jsonl"
	code "change run.sh"
	assert_equal "$status" 0
	assert_equal "$(result_of toolu_w)" "overwrote run.sh (3 lines, +1 -1)"
	assert_equal "$(result_of toolu_e)" "edited run.sh: replaced 1 occurrence (+2 -1; 4 lines now)"
	assert_equal "$(result_of toolu_same)" "overwrote src/calc.c (4 lines, +0 -0; content unchanged)"
	assert_equal "$(result_of toolu_empty)" "created empty.txt (0 lines, +0 -0)"
	diff <(printf '#!/bin/sh\necho 2\necho 2b\necho three\n') "$WS/run.sh"
	assert_equal "$(stat -c %a "$WS/run.sh")" 755
	assert_equal "$("$WS/run.sh" | paste -sd ' ')" "2 2b three"
	# a new file gets the umask's mode
	assert_equal "$(stat -c %a "$WS/empty.txt")" "$(printf '%o' $((0666 & ~$(umask))))"
	[ ! -s "$WS/empty.txt" ]
}

# The write must be atomic: bl-code is SIGKILLed at each step of replacing
# a 4.7 MB file (in the middle of writing the content, before the fsync,
# before the link, before the rename) by an LD_PRELOAD shim
# (tests/fixtures/bl-code/killshim.c) that logs where it struck; after
# each kill the target is byte-identical to the old content (or absent,
# for a new file), and the only file ever left beside it is a complete
# temp file from a kill between link and rename.
@test "a write SIGKILLed at each step leaves the old file, never a torn one" {
	local shim=$BATS_TEST_TMPDIR/killshim.so mode
	cc -shared -fPIC -O1 -o "$shim" "$FIX/killshim.c"
	seq 1 300000 | sed 's/^/new line /' >"$BATS_TEST_TMPDIR/new.txt"
	seq 1 200000 | sed 's/^/old line /' >"$BATS_TEST_TMPDIR/old.txt"
	jq -nc --rawfile c "$BATS_TEST_TMPDIR/new.txt" '{repeat: 0, content: [{type: "tool_use",
		id: "toolu_big", name: "write", input: {path: "data/big.txt", content: $c}}]}' >"$BATS_TEST_TMPDIR/big.jsonl"
	mockd_start "$BATS_TEST_TMPDIR/big.jsonl"
	mkdir -p "$WS/data"
	for mode in write fsync link rename new-link new-fsync; do
		rm -f "$WS/data/big.txt" "$WS"/data/.bl-write-* "$BATS_TEST_TMPDIR/kill.log"
		[[ $mode == new-* ]] || cp "$BATS_TEST_TMPDIR/old.txt" "$WS/data/big.txt"
		status=0
		KILLSHIM=${mode#new-} KILLSHIM_DIR=$WS/data KILLSHIM_LOG=$BATS_TEST_TMPDIR/kill.log LD_PRELOAD=$shim \
			ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
			bl-code -C "$WS" --config "$CFG" --max-turns 1 "big" </dev/null >"$OUT" 2>"$ERR" || status=$?
		assert_equal "$mode: $status" "$mode: 137"
		# the shim struck where asked, at the file in data/
		assert_equal "$mode: $(cut -d ' ' -f 1 "$BATS_TEST_TMPDIR/kill.log")" "$mode: ${mode#new-}"
		case ${mode#new-} in
		write | fsync) grep -q "^${mode#new-} $WS/data/" "$BATS_TEST_TMPDIR/kill.log" ||
			fail "$mode: struck elsewhere: $(cat "$BATS_TEST_TMPDIR/kill.log")" ;;
		esac
		if [[ $mode == new-* ]]; then
			[ ! -e "$WS/data/big.txt" ] || fail "$mode: a new file appeared"
		else
			cmp "$BATS_TEST_TMPDIR/old.txt" "$WS/data/big.txt" || fail "$mode: the target changed"
		fi
		local tmps
		tmps=$(find "$WS/data" -name '.bl-write-*')
		if [ "$mode" = rename ]; then
			assert_equal "$(wc -l <<<"$tmps" | tr -d ' ')" 1
			cmp "$BATS_TEST_TMPDIR/new.txt" "$tmps" || fail "the leftover temp file is not complete"
		else
			assert_equal "$mode: $tmps" "$mode: "
		fi
		assert_equal "$(find "$WS/data" -mindepth 1 | grep -v '/\.bl-write-' | paste -sd ' ')" \
			"$([[ $mode == new-* ]] || echo "$WS/data/big.txt")"
	done
	# and without the shim the write completes
	rm -f "$WS"/data/.bl-write-*
	cp "$BATS_TEST_TMPDIR/old.txt" "$WS/data/big.txt"
	code --max-turns 1 "big"
	assert_equal "$status" 75
	cmp "$BATS_TEST_TMPDIR/new.txt" "$WS/data/big.txt"
	assert_equal "$(result_of toolu_big)" "overwrote data/big.txt (300000 lines, +300000 -200000)"
}

# The same guarantee under kills at random moments: 20 runs, each killed
# (SIGKILL) after a random delay spread over the time a whole run takes
# (measured first), so some kills land while the content is streamed,
# some while it is written and some after; after each the target is the
# old or the new content, byte for byte.
@test "a write SIGKILLed at random moments leaves the old or the new file" {
	seq 1 300000 | sed 's/^/new line /' >"$BATS_TEST_TMPDIR/new.txt"
	seq 1 200000 | sed 's/^/old line /' >"$BATS_TEST_TMPDIR/old.txt"
	jq -nc --rawfile c "$BATS_TEST_TMPDIR/new.txt" '{repeat: 0, content: [{type: "tool_use",
		id: "toolu_big", name: "write", input: {path: "data/big.txt", content: $c}}]}' >"$BATS_TEST_TMPDIR/big.jsonl"
	mockd_start "$BATS_TEST_TMPDIR/big.jsonl"
	mkdir -p "$WS/data"
	local t0 t1 full i pid delay olds=0 news=0
	cp "$BATS_TEST_TMPDIR/old.txt" "$WS/data/big.txt"
	t0=$(now_ms)
	code --max-turns 1 "big"
	t1=$(now_ms)
	full=$((t1 - t0 + 20))
	cmp "$BATS_TEST_TMPDIR/new.txt" "$WS/data/big.txt"
	for i in $(seq 20); do
		cp "$BATS_TEST_TMPDIR/old.txt" "$WS/data/big.txt"
		rm -f "$WS"/data/.bl-write-*
		bl-code -C "$WS" --config "$CFG" --max-turns 1 "big" </dev/null >"$OUT" 2>"$ERR" &
		pid=$!
		delay=$((RANDOM % full))
		sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		if cmp -s "$BATS_TEST_TMPDIR/old.txt" "$WS/data/big.txt"; then
			olds=$((olds + 1))
		elif cmp -s "$BATS_TEST_TMPDIR/new.txt" "$WS/data/big.txt"; then
			news=$((news + 1))
		else
			fail "run $i (killed after ${delay} ms): torn file of $(wc -c <"$WS/data/big.txt") bytes"
		fi
		# a leftover temp file (a kill between link and rename) is complete
		local tmp
		for tmp in "$WS"/data/.bl-write-*; do
			[ -e "$tmp" ] || continue
			cmp "$BATS_TEST_TMPDIR/new.txt" "$tmp" || fail "run $i: a torn temp file"
		done
	done
	assert_equal "$((olds + news))" 20
	echo "# random kills: $olds left the old file, $news the new one" >&3
}

@test "bash under the sandbox: no writes out of the workspace and TMPDIR, no TCP, no secrets" {
	mockd_start "$FIX/sandbox.jsonl"
	export FOO_TOKEN=foo-token-value-123 BAR_SECRET=bar-secret-value-456 MY_API_KEY=my-key-value-789
	export GITHUB_TOKEN=ghp_value_000 CLAUDE_CODE_OAUTH_TOKEN=oauth-value-111 ANTHROPIC_EXTRA=anth-extra-222
	export VISIBLE_MARKER=visible-1
	code "probe"
	assert_equal "$status" 0
	assert_jsonl
	# ../x and $HOME/x: refused, not created
	[[ $(result_of toolu_up | head -n 1) =~ ^exit\ [1-9] ]] || fail "../x: $(result_of toolu_up)"
	[[ $(result_of toolu_up) == *"Permission denied"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/outside-x" ]
	[[ $(result_of toolu_home | head -n 1) =~ ^exit\ [1-9] ]] || fail "\$HOME/x: $(result_of toolu_home)"
	[ ! -e "$HOME/x" ]
	# the temp dir, its cache dir and the workspace are writable
	assert_equal "$(result_of toolu_inside)" "$(printf 'exit 0\ntmp-ok\ncache-ok')"
	assert_equal "$(cat "$WS/in-ws.txt")" ws-ok
	# TCP to bl-mockd's port on 127.0.0.1 is denied
	[[ $(result_of toolu_tcp | head -n 1) =~ ^exit\ [1-9] ]] || fail "tcp: $(result_of toolu_tcp)"
	[[ $(result_of toolu_tcp) != *connected* ]]
	# the environment: no secret, the rest kept, TMPDIR private
	local env name tmp
	env=$(result_of toolu_env)
	for name in FOO_TOKEN BAR_SECRET MY_API_KEY GITHUB_TOKEN CLAUDE_CODE_OAUTH_TOKEN ANTHROPIC_EXTRA \
		ANTHROPIC_API_KEY OPENAI_API_KEY; do
		grep -q "^$name=" <<<"$env" && fail "$name reached the command"
	done
	run grep -c -e foo-token-value -e bar-secret-value -e my-key-value -e ghp_value -e oauth-value \
		-e anth-extra -e "$MOCKD_TEST_KEY_ANTHROPIC" -e "$MOCKD_TEST_KEY_OPENAI" "$OUT"
	assert_output 0
	grep -qx 'VISIBLE_MARKER=visible-1' <<<"$env"
	grep -qx "HOME=$HOME" <<<"$env"
	tmp=$(sed -n 's/^TMPDIR=//p' <<<"$env")
	[[ $tmp == */bl-tmp.* ]] || fail "TMPDIR=$tmp"
	grep -qx "XDG_CACHE_HOME=$tmp/cache" <<<"$env"
	# the temp dir is gone once bl-code has exited
	[ ! -e "$tmp" ]
	# fully confined: no sandbox note in the results
	run grep -c '\[sandbox:' "$OUT"
	assert_output 0
}

@test "network true in agent_config: the same TCP connect works" {
	mockd_start "$FIX/sandbox.jsonl"
	code --config "$CFG/agent_config-net.json" "probe"
	assert_equal "$status" 0
	assert_equal "$(result_of toolu_tcp)" "$(printf 'exit 0\nconnected')"
	# writes out of the workspace stay denied
	[ ! -e "$BATS_TEST_TMPDIR/outside-x" ]
	[ ! -e "$HOME/x" ]
}

@test "a command past its timeout is ended with its background child; the cap lowers a timeout" {
	mockd_start "$FIX/timeout.jsonl"
	local t0 t1 bg
	t0=$(now_ms)
	code "sleep"
	t1=$(now_ms)
	assert_equal "$status" 0
	assert_jsonl
	assert [ $((t1 - t0)) -lt 6000 ]
	assert_equal "$(result_of toolu_sleep)" "$(printf 'timed out after 1 s (process group ended)\nstarted')"
	assert_equal "$(error_of toolu_sleep)" true
	bg=$(cat "$WS/bg.pid")
	[ -n "$bg" ]
	gone "$bg" || fail "the background sleep $bg still runs"
	assert_equal "$(result_of toolu_cap)" "$(printf 'exit 0\n[timeout 100 s lowered to the cap of 30 s]\nquick')"
	assert_equal "$(error_of toolu_cap)" false
}

@test "10 MB of output comes back capped: head, the cut marker, tail" {
	mockd_start "$FIX/bigout.jsonl"
	code "big output"
	assert_equal "$status" 0
	local r
	r=$(result_of toolu_big)
	assert_equal "$(head -n 1 <<<"$r")" "exit 0"
	[[ $(sed -n 2p <<<"$r") == aaaaaaaaaa* ]]
	grep -qE '^\[\.\.\. [0-9]+ bytes cut \.\.\.\]$' <<<"$r" || fail "no cut marker"
	assert_equal "$(tail -n 1 <<<"$r")" END-OF-OUTPUT
	assert [ "${#r}" -lt 32000 ]
	assert [ "${#r}" -gt 20000 ]
	# the cut is told in bytes: 10 MB + 15 written, about 30 kB kept
	local cut
	cut=$(grep -oE '^\[\.\.\. [0-9]+ bytes cut' <<<"$r" | grep -oE '[0-9]+')
	assert [ "$cut" -gt 9900000 ]
	# and the model was sent the same capped text
	assert [ "$(mockd_request 2 | wc -c)" -lt 100000 ]
}

@test "sandbox required without Landlock: an is_error result, nothing run; best-effort runs and says so" {
	mockd_start "$FIX/touch.jsonl"
	CODE_CFG=$(cfg_copy . '.sandbox = "required"') BL_SANDBOX_ABI=0 code "touch"
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(error_of toolu_touch)" true
	[[ $(result_of toolu_touch) == "the command was not run: the sandbox is required"*"no Landlock"* ]] ||
		fail "$(result_of toolu_touch)"
	[ ! -e "$WS/made-it" ]
	assert_equal "$(count message)" 1
	# best-effort: runs unconfined, the result and the log say so
	mockd_stop
	mockd_start "$FIX/touch.jsonl"
	BL_SANDBOX_ABI=0 code "touch"
	assert_equal "$status" 0
	assert_equal "$(result_of toolu_touch)" \
		"$(printf 'exit 0\n[sandbox: not sandboxed: this kernel has no Landlock (sandbox: best-effort)]\ndone')"
	[ -e "$WS/made-it" ]
	grep -q 'not sandboxed' "$BL_HOME/logs/better-llm.log"
	# Landlock without TCP rules (ABI 3): confined, the result says TCP is open
	rm -f "$WS/made-it"
	mockd_stop
	mockd_start "$FIX/touch.jsonl"
	BL_SANDBOX_ABI=3 code "touch"
	assert_equal "$status" 0
	[[ $(result_of toolu_touch | sed -n 2p) == "[sandbox: Landlock ABI 3: "*"TCP not restricted"* ]] ||
		fail "$(result_of toolu_touch)"
}

@test "on a loop the context holds the latest findings and the failing test output" {
	mockd_start "$FIX/text.jsonl"
	IN="$FIX/loop.jsonl" code
	assert_equal "$status" 0
	assert_equal "$(jq -r .type "$OUT" | paste -sd ' ')" "usage message"
	local ctx m
	ctx=$(mockd_request 1 | jq -r '.body.messages[0].content | if type == "string" then . else map(.text) | join("") end')
	for m in "add a sub function" PLAN-MARKER CODER-ONE-MARKER REVIEW-SUMMARY-MARKER FINDING-ONE-MARKER \
		FINDING-TWO-MARKER TEST-SUMMARY-MARKER FAILING-OUTPUT-MARKER "make test" USER-MARKER; do
		[[ $ctx == *"$m"* ]] || fail "context lacks $m: $ctx"
	done
	[[ $ctx == *"src/calc.c:5"* ]] || fail "finding location missing: $ctx"
	[[ $ctx != *TOOL-TRAFFIC-MARKER* ]] || fail "tool traffic leaked into the context"
	# with a small max_context_messages the findings and the failing output stay, older items go
	mockd_stop
	mockd_start "$FIX/text.jsonl"
	CODE_CFG=$(cfg_copy . '.max_context_messages = 4') IN="$FIX/loop.jsonl" code
	assert_equal "$status" 0
	ctx=$(mockd_request 1 | jq -r '.body.messages[0].content | if type == "string" then . else map(.text) | join("") end')
	for m in "add a sub function" FINDING-ONE-MARKER FAILING-OUTPUT-MARKER; do
		[[ $ctx == *"$m"* ]] || fail "small context lacks $m: $ctx"
	done
	[[ $ctx != *PLAN-MARKER* && $ctx != *CODER-ONE-MARKER* ]] || fail "old items kept: $ctx"
}

@test "SIGTERM while bash runs: the command's group is ended, exit 75, an error line" {
	mockd_start "$FIX/stall-bash.jsonl"
	mkdir "$BATS_TEST_TMPDIR/tmp"
	TMPDIR=$BATS_TEST_TMPDIR/tmp bl-code -C "$WS" --config "$CFG" "wait" </dev/null >"$OUT" 2>"$ERR" &
	local pid=$! i rc=0 t0 t1
	for i in $(seq 100); do
		[ -s "$WS/bg.pid" ] && break
		sleep 0.05
	done
	[ -s "$WS/bg.pid" ] || fail "the command did not start"
	t0=$(now_ms)
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	t1=$(now_ms)
	assert_equal "$rc" 75
	assert [ $((t1 - t0)) -lt 4000 ]
	assert_jsonl
	assert_equal "$(result_of toolu_long | head -n 1)" "interrupted (process group ended)"
	assert_equal "$(tail -n 1 "$OUT" | jq -r '[.type, .kind, .retryable] | join(" ")')" "error timeout true"
	gone "$(cat "$WS/bg.pid")" || fail "the background sleep still runs"
	# the private temp dir was made under $TMPDIR and removed
	assert_equal "$(ls -A "$BATS_TEST_TMPDIR/tmp")" ""
}

@test "--dry-run shows the coder's tools; agent_config narrows them; --help, --version" {
	mockd_start "$FIX/text.jsonl"
	code --dry-run "add x"
	assert_equal "$status" 0
	assert_equal "$(mockd_requests)" 0
	sed '1,/^$/d' "$OUT" | jq -e '([.tools[].name] | sort) == ["bash", "edit", "glob", "grep", "read", "write"]' >/dev/null
	CODE_CFG=$(cfg_copy '.agents[0].tools = ["read", "edit"]' .) code --dry-run "add x"
	assert_equal "$status" 0
	sed '1,/^$/d' "$OUT" | jq -e '([.tools[].name] | sort) == ["edit", "read"]' >/dev/null
	# a tool bl-code does not have is a config error
	CODE_CFG=$(cfg_copy '.agents[0].tools = ["read", "verdict"]' .) code "add x"
	assert_equal "$status" 78
	lines error | jq -e '.kind == "config" and (.message | test("verdict"))' >/dev/null
	run bl-code --version
	assert_success
	assert_output "bl-code (better-llm) 0.1.0"
	run bl-code --help
	assert_success
	assert_output --partial "usage: bl-code [options] [TASK]"
}
