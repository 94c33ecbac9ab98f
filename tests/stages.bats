#!/usr/bin/env bats
# The example custom stage pipelines/stages/lint-gate (bash + jq) by hand:
# the filter contract (reads to EOF, then one verdict line that passes
# jq -e; -p echoes the input; other flags ignored; 65 on malformed input,
# 78 outside a git work tree, 75 on SIGTERM), what it finds (trailing
# whitespace in tracked and new files, conflict markers, a failing or
# timed-out LINT_COMMAND) and that it leaves the index alone; then
# swapped in through agent_config with pipelines/lint.json under
# bl-manager against bl-mockd: it sends the coder back once, the run
# ends in a commit.

load helpers

LINT="$ROOT/pipelines/stages/lint-gate"

setup() {
	WS=$BATS_TEST_TMPDIR/ws
	IN=$BATS_TEST_TMPDIR/in.jsonl
	OUT=$BATS_TEST_TMPDIR/out.jsonl
	ERR=$BATS_TEST_TMPDIR/err
	mkdir -p "$WS"
	git -C "$WS" init -q
	git -C "$WS" config user.name t
	git -C "$WS" config user.email t@example.invalid
	printf 'int add(int a, int b)\n{\n\treturn a + b;\n}\n' >"$WS/calc.c"
	git -C "$WS" add -A
	git -C "$WS" commit -q -m init
	cat >"$IN" <<-'EOF'
		{"type":"task","ts":"2026-11-24T21:00:00.000Z","text":"add sub()","session":"s1","v":1}
		{"type":"message","ts":"2026-11-24T21:00:05.000Z","agent":"coder","role":"assistant","text":"## Changes\n- calc.c: sub()"}
	EOF
}

teardown() {
	mockd_stop
}

# lint [ARGS...]: lint-gate -C $WS with $IN on stdin; status, $OUT, $ERR.
lint() {
	status=0
	"$LINT" -C "$WS" "$@" <"$IN" >"$OUT" 2>"$ERR" || status=$?
}

# Every stdout line is a conversation line: jq -e on each.
assert_lines_ok() {
	local line n=0
	while IFS= read -r line; do
		n=$((n + 1))
		jq -e 'type == "object" and (.type | type) == "string"
			and (.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))' \
			<<<"$line" >/dev/null || fail "stdout line $n is not a conversation line: $line"
	done <"$OUT"
	[ "$n" -gt 0 ] || fail "stdout is empty"
}

# The one verdict line, checked for its schema.
verdict() {
	assert_lines_ok
	assert_equal "$(jq -c 'select(.type == "verdict")' "$OUT" | wc -l | tr -d ' ')" 1
	jq -c 'select(.type == "verdict")' "$OUT" | jq -ce 'select(.agent == "lint" and (.summary | type) == "string"
		and (.verdict == "approve" or .verdict == "changes_requested")
		and (.findings | type) == "array")'
}

@test "a clean work tree: approve, no findings, one line" {
	printf 'int sub(int a, int b)\n{\n\treturn a - b;\n}\n' >>"$WS/calc.c"
	lint
	assert_equal "$status" 0
	v=$(verdict)
	assert_equal "$(wc -l <"$OUT" | tr -d ' ')" 1
	assert_equal "$(jq -r .verdict <<<"$v")" approve
	assert_equal "$(jq -c .findings <<<"$v")" "[]"
	assert_equal "$(jq -r .summary <<<"$v")" "git diff --check: clean"
	[ ! -s "$ERR" ]
}

@test "trailing whitespace in a tracked file: changes_requested with file, line and severity" {
	printf 'int sub(int a, int b)  \n{\n\treturn a - b;\n}\n' >>"$WS/calc.c"
	lint
	assert_equal "$status" 0
	v=$(verdict)
	assert_equal "$(jq -r .verdict <<<"$v")" changes_requested
	assert_equal "$(jq -c '.findings' <<<"$v")" \
		'[{"file":"calc.c","line":5,"severity":"medium","message":"trailing whitespace"}]'
	assert_equal "$(jq -r .summary <<<"$v")" "git diff --check: 1 problem in 1 file"
}

@test "new untracked files are checked (a conflict marker is high) and the index is left alone" {
	printf 'x \n<<<<<<< HEAD\n' >"$WS/new.c"
	mkdir -p "$WS/sub"
	printf 'ok\n\ttabbed\nspace \n' >"$WS/sub/notes.txt"
	before=$(git -C "$WS" status --porcelain)
	idx_before=$(cksum <"$WS/.git/index")
	lint
	assert_equal "$status" 0
	v=$(verdict)
	assert_equal "$(jq -r .verdict <<<"$v")" changes_requested
	assert_equal "$(jq -c '[.findings[] | "\(.file):\(.line):\(.severity)"]' <<<"$v")" \
		'["new.c:1:medium","new.c:2:high","sub/notes.txt:3:medium"]'
	assert_equal "$(jq -r .summary <<<"$v")" "git diff --check: 3 problems in 2 files"
	# nothing staged, no intent-to-add entry, the index file unchanged
	assert_equal "$(git -C "$WS" status --porcelain)" "$before"
	assert_equal "$(cksum <"$WS/.git/index")" "$idx_before"
	git -C "$WS" diff --cached --quiet
}

@test "before the first commit the whole tree is checked" {
	rm -rf "$WS"
	mkdir -p "$WS"
	git -C "$WS" init -q
	printf 'a\t \n' >"$WS/a.txt"
	lint
	assert_equal "$status" 0
	v=$(verdict)
	assert_equal "$(jq -c '[.findings[] | "\(.file):\(.line)"]' <<<"$v")" '["a.txt:1"]'
}

@test "-p echoes the input first, byte for byte, then the verdict" {
	lint -p
	assert_equal "$status" 0
	assert_lines_ok
	assert_equal "$(head -n 2 "$OUT")" "$(cat "$IN")"
	assert_equal "$(wc -l <"$OUT" | tr -d ' ')" 3
	assert_equal "$(sed -n 3p "$OUT" | jq -r .type)" verdict
	# and in a bundle with other short flags
	lint -sp
	assert_equal "$(wc -l <"$OUT" | tr -d ' ')" 3
}

@test "it reads to EOF before writing: appending to its own input is safe" {
	cp "$IN" "$BATS_TEST_TMPDIR/c.jsonl"
	"$LINT" -C "$WS" <"$BATS_TEST_TMPDIR/c.jsonl" >>"$BATS_TEST_TMPDIR/c.jsonl"
	assert_equal "$(wc -l <"$BATS_TEST_TMPDIR/c.jsonl" | tr -d ' ')" 3
	assert_equal "$(tail -n 1 "$BATS_TEST_TMPDIR/c.jsonl" | jq -r .verdict)" approve
}

@test "the common flags of a filter and a task argument are accepted and ignored" {
	lint --config /nonexistent -m some-model --max-turns 3 -s -v --dry-run "a task"
	assert_equal "$status" 0
	assert_equal "$(verdict | jq -r .verdict)" approve
	# -C given as -CDIR
	status=0
	"$LINT" -C"$WS" <"$IN" >"$OUT" || status=$?
	assert_equal "$status" 0
	verdict >/dev/null
}

@test "LINT_COMMAND: a failure is a high finding with command, exit_code and output; a success approves" {
	LINT_COMMAND='echo checking; echo "style.c:3: bad indent" >&2; exit 3' lint
	assert_equal "$status" 0
	v=$(verdict)
	assert_equal "$(jq -r .verdict <<<"$v")" changes_requested
	assert_equal "$(jq -r .exit_code <<<"$v")" 3
	assert_equal "$(jq -r .command <<<"$v")" 'echo checking; echo "style.c:3: bad indent" >&2; exit 3'
	assert_equal "$(jq -r .output <<<"$v")" $'checking\nstyle.c:3: bad indent'
	assert_equal "$(jq -r '.findings[0].severity' <<<"$v")" high
	jq -e '.findings[0].message | contains("exited 3") and contains("bad indent")' <<<"$v" >/dev/null

	# it runs in the workspace
	LINT_COMMAND='test -f calc.c' lint
	v=$(verdict)
	assert_equal "$(jq -c '{verdict, exit_code, has_output: has("output")}' <<<"$v")" \
		'{"verdict":"approve","exit_code":0,"has_output":false}'
}

@test "LINT_TIMEOUT ends a slow LINT_COMMAND: exit_code 124, timed out" {
	start=$(date +%s)
	LINT_TIMEOUT=1 LINT_COMMAND='sleep 30' lint
	assert_equal "$status" 0
	[ $(($(date +%s) - start)) -lt 10 ]
	v=$(verdict)
	assert_equal "$(jq -r .exit_code <<<"$v")" 124
	jq -e '.findings[0].message | contains("timed out")' <<<"$v" >/dev/null
}

@test "malformed input: exit 65, stdin:LINE on stderr, nothing on stdout" {
	printf '{"type":"task","ts":"2026-11-24T21:00:00.000Z"}\n{"type":\n' >"$IN"
	lint
	assert_equal "$status" 65
	[ ! -s "$OUT" ]
	grep -q '^lint-gate: stdin:[0-9]' "$ERR"

	printf '{"type":"task","ts":"2026-11-24T21:00:00.000Z"}\n[1, 2]\n' >"$IN"
	lint
	assert_equal "$status" 65
	[ ! -s "$OUT" ]
	grep -q '^lint-gate: stdin:2: not a conversation line' "$ERR"

	printf '{"ts":"2026-11-24T21:00:00.000Z"}\n' >"$IN"
	lint -p
	assert_equal "$status" 65
	[ ! -s "$OUT" ]
}

@test "usage errors exit 64; outside a git work tree an error line of kind config, exit 78" {
	status=0
	"$LINT" -C "$BATS_TEST_TMPDIR/nonexistent" <"$IN" >"$OUT" 2>"$ERR" || status=$?
	assert_equal "$status" 64
	[ ! -s "$OUT" ]
	status=0
	"$LINT" -C <"$IN" >"$OUT" 2>"$ERR" || status=$?
	assert_equal "$status" 64

	mkdir -p "$BATS_TEST_TMPDIR/plain"
	status=0
	GIT_CEILING_DIRECTORIES=$BATS_TEST_TMPDIR "$LINT" -C "$BATS_TEST_TMPDIR/plain" <"$IN" >"$OUT" 2>"$ERR" ||
		status=$?
	assert_equal "$status" 78
	assert_lines_ok
	assert_equal "$(jq -c '{type, agent, kind, retryable}' "$OUT")" \
		'{"type":"error","agent":"lint","kind":"config","retryable":false}'
}

@test "SIGTERM: the lint command's group is ended, an error line of kind timeout, exit 75" {
	pidfile=$BATS_TEST_TMPDIR/child.pid
	LINT_COMMAND="echo \$\$ > '$pidfile'; sleep 30" "$LINT" -C "$WS" <"$IN" >"$OUT" 2>"$ERR" &
	pid=$!
	for _ in $(seq 100); do
		[ -s "$pidfile" ] && break
		sleep 0.05
	done
	[ -s "$pidfile" ] || fail "LINT_COMMAND did not start"
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	assert_equal "$status" 75
	assert_lines_ok
	assert_equal "$(jq -c '{type, kind, retryable}' "$OUT")" '{"type":"error","kind":"timeout","retryable":true}'
	child=$(cat "$pidfile")
	for _ in $(seq 40); do
		kill -0 "$child" 2>/dev/null || break
		sleep 0.05
	done
	! kill -0 "$child" 2>/dev/null || fail "the lint command ($child) is still running"
}

@test "LINT_AGENT names the stage in its lines" {
	LINT_AGENT=gate lint
	assert_equal "$(jq -r .agent "$OUT")" gate
}

@test "pipelines/lint.json: the gate after the coder, changes_requested back to the coder" {
	run jq -c '[.stages[] | [.agent, (.on // {})]]' "$ROOT/pipelines/lint.json"
	assert_output '[["planner",{}],["coder",{}],["lint",{"changes_requested":"coder"}],["reviewer",{"changes_requested":"coder"}],["tester",{"fail":"coder"}],["committer",{}]]'
}

@test "swapped in through agent_config, the gate sends the coder back once and the run ends in a commit" {
	[ -x "$ROOT/bin/bl-manager" ] || skip "bl-manager is not built"
	cfg=$BATS_TEST_TMPDIR/cfg
	mkdir -p "$cfg"
	# the README's recipe
	jq --arg cmd "$LINT" '.agents += [{"name": "lint", "role": "reviewer", "command": $cmd}]' \
		"$ROOT/config/agent_config.json" >"$cfg/agent_config.json"
	jq '.sandbox = "best-effort" | .test_command = "sh hello.sh | grep -q hello"' \
		"$ROOT/config/system_config.json" >"$cfg/system_config.json"
	printf 'echo hi\n' >"$WS/hello.sh"
	git -C "$WS" add -A
	git -C "$WS" commit -q -m hello
	script=$(mk_script <<-'EOF'
		{"match":"You are the Planner","content":[{"type":"text","text":"## Goal\nhello.sh says hello."}]}
		{"match":"You are the Coder","content":[{"type":"tool_use","id":"toolu_w","name":"write","input":{"path":"hello.sh","content":"echo hello   \n"}}]}
		{"match":"You are the Coder","content":[{"type":"text","text":"## Changes\n- hello.sh says hello."}]}
		{"match":"You are the Coder","content":[{"type":"tool_use","id":"toolu_e","name":"edit","input":{"path":"hello.sh","old_string":"hello   \n","new_string":"hello\n"}}]}
		{"match":"You are the Coder","content":[{"type":"text","text":"## Changes\n- hello.sh: trailing whitespace removed (lint)."}]}
		{"match":"You are the Reviewer","content":[{"type":"tool_use","id":"toolu_v","name":"verdict","input":{"verdict":"approve","summary":"fine","findings":[]}}]}
		{"match":"You are the Tester","content":[{"type":"tool_use","id":"toolu_t","name":"verdict","input":{"verdict":"pass","summary":"ok"}}]}
		{"match":"You are the Committer","content":[{"type":"text","text":"Make hello.sh say hello\n\nThe lint gate caught trailing whitespace first."}]}
	EOF
	)
	mockd_start "$script"
	status=0
	bl-manager -C "$WS" --config "$cfg" --pipeline lint --no-wait "make hello.sh say hello" \
		</dev/null >"$OUT" 2>"$ERR" || status=$?
	[ "$status" -eq 0 ] || { cat "$ERR"; jq -c 'select(.type != "usage")' "$OUT"; fail "bl-manager exited $status"; }
	assert_lines_ok
	run jq -c 'select(.type == "verdict") | [.agent, .verdict]' "$OUT"
	assert_output $'["lint","changes_requested"]\n["lint","approve"]\n["reviewer","approve"]\n["tester","pass"]'
	jq -se '[.[] | select(.type == "verdict" and .agent == "lint")][0]
		| .findings == [{"file":"hello.sh","line":1,"severity":"medium","message":"trailing whitespace"}]' \
		"$OUT" >/dev/null
	run jq -r 'select(.type == "event" and .event == "stage_start") | .agent' "$OUT"
	assert_output $'planner\ncoder\nlint\ncoder\nlint\nreviewer\ntester\ncommitter'
	assert_equal "$(jq -r 'select(.type == "result") | .status' "$OUT")" completed
	assert_equal "$(git -C "$WS" log -1 --format=%s)" "Make hello.sh say hello"
	assert_equal "$(git -C "$WS" show HEAD:hello.sh)" "echo hello"
}
