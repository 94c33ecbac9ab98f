#!/usr/bin/env bats
# bl-view: a fixed conversation (tests/fixtures/bl-view/conv.jsonl, every
# line type, Markdown with a fenced C block) renders to the golden text
# (expected.txt) without colour; with --color=always it carries the SGR
# sequences of headers, Markdown and the C highlighter; long lines wrap
# to --width; saved sessions (.json.gz, .json, an id under $BL_HOME) show
# the same; lines are shown as they arrive; --follow stops at the result.

load helpers

FIX="$ROOT/tests/fixtures/bl-view"
ESC=$'\033'

# The widest line of stdin in display columns (every character of these
# fixtures is one column wide; SGR sequences removed first).
widest() {
	local line max=0
	while IFS= read -r line; do
		line=$(printf '%s' "$line" | sed "s/${ESC}\[[0-9;]*m//g")
		[ "${#line}" -gt "$max" ] && max=${#line}
	done
	echo "$max"
}

@test "golden: the fixed conversation renders to expected.txt with NO_COLOR" {
	NO_COLOR=1 bl-view --width 80 "$FIX/conv.jsonl" >"$BATS_TEST_TMPDIR/out.txt"
	diff -u "$FIX/expected.txt" "$BATS_TEST_TMPDIR/out.txt"
	run grep -c "$ESC" "$BATS_TEST_TMPDIR/out.txt"
	assert_output 0
}

@test "golden: the same from stdin, and no colour off a terminal without NO_COLOR" {
	unset NO_COLOR
	bl-view -w 80 <"$FIX/conv.jsonl" >"$BATS_TEST_TMPDIR/out.txt"
	diff -u "$FIX/expected.txt" "$BATS_TEST_TMPDIR/out.txt"
}

@test "golden: every line type has its line" {
	# guards the golden file itself: what each line type must show
	run cat "$FIX/expected.txt"
	assert_line '◆ task: add a greeting function to src/greet.c'
	assert_line --regexp '^━━ planner ━+$'
	assert_line '# Plan'
	assert_line '1. Write `greet()`:'
	assert_line '```c'
	assert_line 'int main(void)'
	assert_line '  ✎ write src/greet.c (+12 −0)'
	assert_line '  ✎ edit src/main.c (+4 −3)'
	assert_line '  $ make test → exit 1'
	assert_line "    ✗ '../etc/passwd' is outside the workspace"
	assert_line '  ✘ reviewer: changes_requested — greet() leaks on the error path'
	assert_line '    - src/greet.c:7: free the buffer when snprintf fails'
	assert_line '↺ Review cycle 1/3: reviewer changes_requested, back to coder'
	assert_line '  ↻ coder: API overloaded (529); retrying in 2 s'
	assert_line '  ✗ coder: api: overloaded_error: Overloaded'
	assert_line '» you: please also update the README'
	assert_line '  ✔ tester: pass — all 3 tests pass (make test → exit 0)'
	assert_line '  ● commit 0123456789ab Add greet() with a test'
	assert_line '  status   completed'
	assert_line '  tests    passed'
	assert_line '  tokens   4,700 in, 1,000 out (2,800 cache read)'
	assert_line '  cost     $0.0315'
	assert_line '  time     39 s'
	refute_output --partial 'lint_report'
	refute_output --partial 'a custom stage'
	# the streamed text (delta lines, then its message) is shown once
	[ "$(grep -c "I'll write the function now." "$FIX/expected.txt")" = 1 ]
}

@test "--color=always: SGR for headers, Markdown and the C keywords" {
	NO_COLOR=1 run bl-view --color=always --width 80 "$FIX/conv.jsonl"
	assert_success
	# the stage header: bold cyan
	assert_output --partial "${ESC}[1m${ESC}[36m━━ planner"
	# the Markdown heading: bold underlined, its '#' gone
	assert_output --partial "${ESC}[1;4mPlan${ESC}[0m"
	refute_output --partial '# Plan'
	# strong, inline code, the link's URL dimmed
	assert_output --partial "${ESC}[1msrc/greet.c${ESC}[0m"
	assert_output --partial "${ESC}[36mtests/greet.sh${ESC}[0m"
	assert_output --partial "${ESC}[2m(https://example.com/greet)${ESC}[0m"
	# the fenced C block: keywords magenta, strings green, comments grey,
	# numbers yellow, the #include cyan
	assert_output --partial "${ESC}[35mint${ESC}[0m main(${ESC}[35mvoid${ESC}[0m)"
	assert_output --partial "${ESC}[35mreturn${ESC}[0m ${ESC}[33m0${ESC}[0m;"
	assert_output --partial "${ESC}[32m\"hello, %s\\n\"${ESC}[0m"
	assert_output --partial "${ESC}[90m/* prints a greeting */${ESC}[0m"
	assert_output --partial "${ESC}[36m#include${ESC}[0m <stdio.h>"
	# a failing verdict red, a passing one green, the error red
	assert_output --partial "${ESC}[1m${ESC}[31m  ✘ reviewer: changes_requested"
	assert_output --partial "${ESC}[1m${ESC}[32m  ✔ tester: pass"
	assert_output --partial "${ESC}[31m  ✗ coder: api: overloaded_error"
}

@test "--color=never and NO_COLOR: no escape sequence at all" {
	run bl-view --color=never "$FIX/conv.jsonl"
	assert_success
	refute_output --partial "$ESC"
	NO_COLOR=1 run bl-view --color=auto "$FIX/conv.jsonl"
	refute_output --partial "$ESC"
}

@test "a 300-column line wraps at --width 80, plain and in colour" {
	run bl-view --width 80 "$FIX/long.jsonl"
	assert_success
	[ "$(printf '%s\n' "$output" | LC_ALL=C.UTF-8 widest)" -le 80 ]
	# the long words are all there, cut into lines
	[ "$(printf '%s\n' "$output" | tr -d '\n' | tr -cd 'y' | wc -c)" = 300 ]
	[ "$(printf '%s\n' "$output" | tr -d '\n' | tr -cd 'z' | wc -c)" = 300 ]
	assert_line --partial 'lorem000 lorem001'
	assert_line --partial 'lorem033'
	run bl-view --width 40 --color=always "$FIX/long.jsonl"
	[ "$(printf '%s\n' "$output" | LC_ALL=C.UTF-8 widest)" -le 40 ]
	run bl-view --width 80 "$FIX/conv.jsonl"
	[ "$(printf '%s\n' "$output" | LC_ALL=C.UTF-8 widest)" -le 80 ]
}

@test "--width comes from COLUMNS off a terminal" {
	COLUMNS=50 run bl-view "$FIX/long.jsonl"
	assert_success
	[ "$(printf '%s\n' "$output" | LC_ALL=C.UTF-8 widest)" -le 50 ]
}

@test "a saved session: .json.gz, .json and an id under \$BL_HOME show the same" {
	# the saved document holds the stored lines: the conversation less its deltas
	local want=$BATS_TEST_TMPDIR/want.txt
	jq -c 'select(.type != "delta")' "$FIX/conv.jsonl" | NO_COLOR=1 bl-view --width 80 >"$want"
	grep -q '^  status   completed$' "$want"
	NO_COLOR=1 bl-view --width 80 "$FIX/session.json.gz" >"$BATS_TEST_TMPDIR/gz.txt"
	diff -u "$want" "$BATS_TEST_TMPDIR/gz.txt"
	gzip -dc "$FIX/session.json.gz" | jq . >"$BATS_TEST_TMPDIR/s.json"
	NO_COLOR=1 bl-view --width 80 "$BATS_TEST_TMPDIR/s.json" >"$BATS_TEST_TMPDIR/json.txt"
	diff -u "$want" "$BATS_TEST_TMPDIR/json.txt"
	# a pretty-printed document on stdin
	NO_COLOR=1 bl-view --width 80 <"$BATS_TEST_TMPDIR/s.json" >"$BATS_TEST_TMPDIR/stdin.txt"
	diff -u "$want" "$BATS_TEST_TMPDIR/stdin.txt"
	mkdir -p "$BL_HOME/sessions"
	cp "$FIX/session.json.gz" "$BL_HOME/sessions/20261124-100000-abc123.json.gz"
	NO_COLOR=1 bl-view --width 80 20261124-100000-abc123 >"$BATS_TEST_TMPDIR/id.txt"
	diff -u "$want" "$BATS_TEST_TMPDIR/id.txt"
	# without deltas the coder's message comes after its tool calls
	run cat "$BATS_TEST_TMPDIR/gz.txt"
	assert_line "I'll write the function now."
	assert_line '  ✎ write src/greet.c (+12 −0)'
	assert_line '  time     39 s'
}

@test "lines are shown as they arrive, not after EOF" {
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	bl-view --width 80 <"$BATS_TEST_TMPDIR/fifo" >"$BATS_TEST_TMPDIR/out.txt" &
	local pid=$!
	exec 4>"$BATS_TEST_TMPDIR/fifo"
	head -n 3 "$FIX/conv.jsonl" >&4
	local i
	for i in $(seq 50); do
		grep -q '^# Plan' "$BATS_TEST_TMPDIR/out.txt" && break
		sleep 0.1
	done
	run cat "$BATS_TEST_TMPDIR/out.txt"
	assert_line '◆ task: add a greeting function to src/greet.c'
	assert_line '# Plan'
	refute_output --partial 'status'
	tail -n +4 "$FIX/conv.jsonl" >&4
	exec 4>&-
	wait "$pid"
	diff -u "$FIX/expected.txt" "$BATS_TEST_TMPDIR/out.txt"
}

@test "streamed Markdown (delta lines) shows as the whole message would" {
	local text='## Steps\n\n1. one\n2. two\n\n```sh\necho "hi"\n```\n\nDone.'
	{
		echo '{"type":"task","ts":"2026-11-24T10:00:00.000Z","text":"t","session":"s","v":1}'
		printf '%b' "$text" | jq -Rsc --arg ts 2026-11-24T10:00:01.000Z \
			'range(0; length; 3) as $i | {type:"delta",ts:$ts,agent:"coder",text:.[$i:$i+3]}'
	} >"$BATS_TEST_TMPDIR/deltas.jsonl"
	# the pieces, joined, are the text exactly
	[ "$(jq -j 'select(.type=="delta") | .text' "$BATS_TEST_TMPDIR/deltas.jsonl")" = "$(printf '%b' "$text")" ]
	[ "$(grep -c '"delta"' "$BATS_TEST_TMPDIR/deltas.jsonl")" -gt 10 ]
	jq -cn --arg t "$(printf '%b' "$text")" \
		'{type:"message",ts:"2026-11-24T10:00:02.000Z",agent:"coder",role:"assistant",text:$t}' \
		>>"$BATS_TEST_TMPDIR/deltas.jsonl"
	{
		head -n 1 "$BATS_TEST_TMPDIR/deltas.jsonl"
		tail -n 1 "$BATS_TEST_TMPDIR/deltas.jsonl"
	} >"$BATS_TEST_TMPDIR/whole.jsonl"
	run bl-view --width 80 "$BATS_TEST_TMPDIR/deltas.jsonl"
	assert_success
	local streamed=$output
	run bl-view --width 80 "$BATS_TEST_TMPDIR/whole.jsonl"
	assert_equal "$streamed" "$output"
	assert_line '## Steps'
	assert_line '2. two'
	assert_line 'echo "hi"'
	[ "$(grep -c Done <<<"$output")" = 1 ]
}

@test "--follow tails a growing session file until its result line" {
	local f=$BATS_TEST_TMPDIR/live.jsonl
	head -n 5 "$FIX/conv.jsonl" >"$f"
	bl-view --follow --width 80 "$f" >"$BATS_TEST_TMPDIR/out.txt" &
	local pid=$! i
	sleep 0.5
	kill -0 "$pid" # still waiting for more
	grep -q '^# Plan' "$BATS_TEST_TMPDIR/out.txt"
	tail -n +6 "$FIX/conv.jsonl" | while IFS= read -r line; do
		printf '%s\n' "$line" >>"$f"
	done
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	run kill -0 "$pid"
	assert_failure # it ended by itself at the result line
	wait "$pid"
	diff -u "$FIX/expected.txt" "$BATS_TEST_TMPDIR/out.txt"
}

@test "a malformed line is reported and skipped; the rest is shown; exit 65" {
	{
		head -n 2 "$FIX/conv.jsonl"
		echo '{"type": broken'
		tail -n 1 "$FIX/conv.jsonl"
	} >"$BATS_TEST_TMPDIR/bad.jsonl"
	run --separate-stderr bl-view "$BATS_TEST_TMPDIR/bad.jsonl"
	assert_failure 65
	assert_line '◆ task: add a greeting function to src/greet.c'
	assert_line '  status   completed'
	[[ $stderr == *"bad.jsonl:3: not a conversation line"* ]]
}

@test "usage: bad options 64, a missing file 66, --help, --version" {
	run bl-view --color=sometimes
	assert_failure 64
	assert_output --partial "--color: expected auto, always or never"
	run bl-view --width 3
	assert_failure 64
	run bl-view a b
	assert_failure 64
	run bl-view "$BATS_TEST_TMPDIR/none.jsonl"
	assert_failure 66
	assert_output --partial "cannot open"
	run bl-view --help
	assert_success
	assert_output --partial "usage: bl-view"
	run bl-view --version
	assert_output --regexp '^bl-view \(better-llm\) [0-9]'
}
