#!/usr/bin/env bats
# bl-plan end to end against bl-mockd: the conversation lines it writes,
# the requests it sends (both providers), retries and failures with their
# exit codes, input errors, confinement of the tools, -p, -s, SIGTERM,
# --dry-run, and that the API key never leaks.

load helpers

FIX="$ROOT/tests/fixtures/bl-plan"
CFG="$FIX/config"
KEY=sk-ant-test-0123456789abcdef

setup() {
	WS=$BATS_TEST_TMPDIR/ws
	OUT=$BATS_TEST_TMPDIR/out.jsonl
	ERR=$BATS_TEST_TMPDIR/err.txt
	mkdir -p "$WS/src" "$WS/tests"
	printf '# Calc\nA tiny calculator library.\nRun `make test` to test it.\n' >"$WS/README.md"
	printf 'test:\n\tsh tests/test_calc.sh\n' >"$WS/Makefile"
	printf 'int add(int a, int b)\n{\n\treturn a + b;\n}\n' >"$WS/src/calc.c"
	printf '#!/bin/sh\necho ok\n' >"$WS/tests/test_calc.sh"
	printf 'TOP-SECRET-OUTSIDE\n' >"$BATS_TEST_TMPDIR/secret.txt"
	ln -s ../secret.txt "$WS/link-out"
	git -C "$WS" init -q
}

teardown() {
	mockd_stop
}

# plan [ARGS...]: runs bl-plan in $WS with the test config, stdin from
# $IN (default /dev/null); sets status, stdout in $OUT, stderr in $ERR.
plan() {
	status=0
	bl-plan -C "$WS" --config "${PLAN_CFG:-$CFG}" "$@" <"${IN:-/dev/null}" >"$OUT" 2>"$ERR" ||
		status=$?
}

@test "plans a task: task line, real tool results, usage, the message" {
	mockd_start "$FIX/plan.jsonl"
	plan "add a sub function"
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(head -n 1 "$OUT" | jq -r '[.type, .text, .v] | join(" ")')" "task add a sub function 1"
	[[ $(head -n 1 "$OUT" | jq -r .session) =~ ^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$ ]]
	assert_equal "$(jq -r 'select(.type == "tool_use") | .name' "$OUT" | paste -sd ' ')" "glob read grep"
	assert_equal "$(result_of toolu_glob_1)" "src/calc.c"
	# read: numbered lines of the real file
	assert_equal "$(result_of toolu_read_2 | sed -n 2p)" "$(printf '     2\tA tiny calculator library.')"
	assert_equal "$(result_of toolu_read_2 | wc -l | tr -d ' ')" 3
	assert_equal "$(result_of toolu_grep_3)" "$(printf 'src/calc.c:3:\treturn a + b;')"
	assert_equal "$(jq -r 'select(.type == "tool_result") | .is_error' "$OUT" | sort -u)" false
	assert_equal "$(count message)" 1
	assert_equal "$(lines message | jq -r '.agent + " " + .role')" "planner assistant"
	assert_equal "$(lines message | jq -r .text)" "$(printf '## Goal\nAdd sub() next to add().\n\n## Steps\n1. Edit src/calc.c.')"
	assert_equal "$(tail -n 1 "$OUT" | jq -r .type)" message
	# one usage line per API call, each complete
	assert_equal "$(count usage)" 3
	assert_equal "$(mockd_requests)" 3
	lines usage | while IFS= read -r u; do
		jq -e '.agent == "planner" and .provider == "anthropic" and .model == "claude-sonnet-4-5"
			and (.input_tokens | type) == "number" and (.output_tokens | type) == "number"
			and (.cache_creation_input_tokens | type) == "number"
			and (.cache_read_input_tokens | type) == "number"
			and .cost_usd > 0 and .latency_ms >= 0 and (.ttft_ms | type) == "number"
			and .attempt == 1 and .cached == false' <<<"$u" >/dev/null || fail "bad usage line: $u"
	done
	# the second call read from the cache what the first wrote
	assert [ "$(lines usage | sed -n 2p | jq .cache_read_input_tokens)" -gt 0 ]
	# tool_use comes before its tool_result
	assert_equal "$(jq -r 'select(.type | test("^tool_")) | .type' "$OUT" | paste -sd ' ')" \
		"tool_use tool_result tool_use tool_result tool_use tool_result"
	# nothing on stderr in a clean run
	assert_equal "$(cat "$ERR")" ""
}

@test "the requests: model, planner prompt, read-only tools, stream, cache breakpoints, headers" {
	mockd_start "$FIX/plan.jsonl"
	plan "add a sub function"
	assert_equal "$status" 0
	local r1
	r1=$(mockd_request 1)
	assert_equal "$(jq -r .path <<<"$r1")" /v1/messages
	assert_equal "$(jq -r .body.model <<<"$r1")" claude-sonnet-4-5
	assert_equal "$(jq -r .body.stream <<<"$r1")" true
	assert_equal "$(jq -r '[.body.tools[].name] | sort | join(" ")' <<<"$r1")" "glob grep read"
	jq -e '.body.tools | all(.description != "" and .input_schema.type == "object")' <<<"$r1" >/dev/null
	# the system prompt is prompts/planner.txt
	local sys
	sys=$(jq -r '.body.system | if type == "string" then . else map(.text) | join("") end' <<<"$r1")
	[[ $sys == *"$(head -n 1 "$ROOT/prompts/planner.txt")"* ]] || fail "system prompt lacks planner.txt: ${sys:0:200}"
	[[ $sys == *"## Testing"* ]]
	# the context: the task
	[[ $(jq -r '.body.messages[0].content | if type == "string" then . else map(.text) | join("") end' <<<"$r1") == *"add a sub function"* ]]
	# cache_control breakpoints: last tool, system, last block of the last message
	jq -e '.body.tools[-1].cache_control.type == "ephemeral"' <<<"$r1" >/dev/null
	jq -e '[.body.tools[:-1][] | select(.cache_control)] | length == 0' <<<"$r1" >/dev/null
	jq -e '.body.system | type == "array" and (.[-1].cache_control.type == "ephemeral")' <<<"$r1" >/dev/null
	jq -e '.body.messages[-1].content[-1].cache_control.type == "ephemeral"' <<<"$(mockd_request 3)" >/dev/null
	# headers
	# the headers @anthropic-ai/sdk sends (tests/conformance checks the same)
	assert_equal "$(jq -r '.headers.authorization' <<<"$r1")" "Bearer $KEY"
	assert_equal "$(jq -r '.headers["x-api-key"]' <<<"$r1")" null
	assert_equal "$(jq -r '.headers["anthropic-version"]' <<<"$r1")" 2026-10-21
	assert_equal "$(jq -r '.headers["content-type"]' <<<"$r1")" application/json
}

@test "the tool results of turn N are the tool_result blocks of request N+1" {
	mockd_start "$FIX/plan.jsonl"
	plan "add a sub function"
	assert_equal "$status" 0
	# the tool_result lines grouped by turn (a usage line starts a turn)
	local groups n k want got
	groups=$(jq -cs 'reduce .[] as $l ([];
		if $l.type == "usage" then . + [[]]
		elif $l.type == "tool_result" then .[:-1] + [.[-1] + [{id: $l.tool_use_id, content: $l.content, is_error: $l.is_error}]]
		else . end)' "$OUT")
	n=$(jq length <<<"$groups")
	assert_equal "$n" 3
	for k in 0 1; do
		want=$(jq -c ".[$k]" <<<"$groups")
		got=$(mockd_request $((k + 2)) | jq -c '.body.messages[-1] | select(.role == "user") | .content
			| map(select(.type == "tool_result") | {id: .tool_use_id,
				content: (.content | if type == "string" then . else map(.text) | join("") end),
				is_error: (.is_error // false)})')
		assert_equal "$got" "$want"
	done
	# and the assistant turn that asked for them precedes them
	mockd_request 3 | jq -e '.body.messages[-2].role == "assistant" and
		([.body.messages[-2].content[] | select(.type == "tool_use") | .id] == ["toolu_read_2", "toolu_grep_3"])' >/dev/null
	mockd_request 2 | jq -e '.body.messages[1].content[0] == {"type": "text", "text": "Let me look at the code first."}' >/dev/null
}

@test "529 with retry-after: 2 is retried after 2 s, with an event retry line" {
	mockd_start "$FIX/overloaded-then-ok.jsonl"
	local t0 t1
	t0=$(now_ms)
	plan "add a sub function"
	t1=$(now_ms)
	assert_equal "$status" 0
	assert_jsonl
	assert [ $((t1 - t0)) -ge 2000 ]
	assert_equal "$(mockd_requests)" 2
	assert_equal "$(count event)" 1
	lines event | jq -e '.event == "retry" and .agent == "planner" and .attempt == 2
		and (.detail | test("529")) and (.detail | test("2000 ms"))' >/dev/null
	assert_equal "$(lines usage | jq .attempt)" 2
	assert_equal "$(lines message | jq -r .text)" "$(printf '## Goal\nPlanned after a retry.')"
}

@test "a stream cut mid-way is retried and succeeds" {
	mockd_start "$FIX/cut-then-ok.jsonl"
	plan "add a sub function"
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(mockd_requests)" 2
	lines event | jq -e '.event == "retry" and (.detail | test("cut"))' >/dev/null
	assert_equal "$(lines message | jq -r .text)" "$(printf '## Goal\nPlanned after a cut stream.')"
}

@test "401 is not retried: exit 77, an error line of kind auth" {
	mockd_start "$FIX/unauthorized.jsonl"
	plan "add a sub function"
	assert_equal "$status" 77
	assert_jsonl
	assert_equal "$(mockd_requests)" 1
	assert_equal "$(count error)" 1
	lines error | jq -e '.kind == "auth" and .retryable == false and .agent == "planner"
		and (.message | test("invalid x-api-key"))' >/dev/null
	assert_equal "$(count message)" 0
	grep -q 'invalid x-api-key' "$ERR"
}

@test "persistent 529: exit 69 after max_attempts requests, an error line" {
	mockd_start "$FIX/overloaded-always.jsonl"
	plan "add a sub function"
	assert_equal "$status" 69
	assert_jsonl
	assert_equal "$(mockd_requests)" 3
	assert_equal "$(count event)" 2
	lines error | jq -e '.kind == "api" and .retryable == true and (.message | test("Overloaded"))' >/dev/null
	assert_equal "$(tail -n 1 "$OUT" | jq -r .type)" error
}

@test "the API key never reaches stdout, the log files or --dry-run" {
	mockd_start "$FIX/plan.jsonl"
	LOG_LEVEL=DEBUG plan -v "add a sub function"
	assert_equal "$status" 0
	[ -s "$BL_HOME/logs/better-llm.log" ] || fail "no log written"
	[ -s "$BL_HOME/logs/better-llm-debug.log" ] || fail "no debug log written"
	run grep -r -F "$KEY" "$OUT" "$ERR" "$BL_HOME/logs"
	assert_failure 1
	# -v copied log records to stderr
	grep -q api_call "$ERR"
	# an error path too
	mockd_stop
	mockd_start "$FIX/unauthorized.jsonl"
	plan "x"
	assert_equal "$status" 77
	run grep -r -F "$KEY" "$OUT" "$ERR" "$BL_HOME/logs"
	assert_failure 1
}

@test "--dry-run prints the request with the key redacted and sends nothing" {
	mockd_start "$FIX/plan.jsonl"
	plan --dry-run "add a sub function"
	assert_equal "$status" 0
	assert_equal "$(mockd_requests)" 0
	assert_equal "$(head -n 1 "$OUT")" "POST http://127.0.0.1:$MOCKD_PORT/v1/messages"
	grep -qi '^authorization: Bearer \[redacted\]' "$OUT"
	run grep -F "$KEY" "$OUT"
	assert_failure 1
	# the body: everything after the blank line
	sed '1,/^$/d' "$OUT" >"$BATS_TEST_TMPDIR/body.json"
	jq -e '.model == "claude-sonnet-4-5" and .stream == true
		and ([.tools[].name] | sort) == ["glob", "grep", "read"]
		and (.messages[0].content | tostring | test("add a sub function"))' "$BATS_TEST_TMPDIR/body.json" >/dev/null
	# no conversation lines: no task line was written
	run grep -c '"type":"task"' "$OUT"
	assert_output 0
	# works without any key too (nothing is sent)
	unset ANTHROPIC_API_KEY
	plan --dry-run -m claude-haiku-4-5 "x"
	assert_equal "$status" 0
	sed '1,/^$/d' "$OUT" | jq -e '.model == "claude-haiku-4-5"' >/dev/null
}

@test "malformed JSON on line 3: exit 65, stdin:3: on stderr, nothing on stdout" {
	mockd_start "$FIX/plan.jsonl"
	IN="$FIX/malformed.jsonl" plan -p
	assert_equal "$status" 65
	assert_equal "$(wc -c <"$OUT" | tr -d ' ')" 0
	run cat "$ERR"
	assert_output --regexp '^bl-plan: stdin:3:[0-9]+: '
	assert_equal "${#lines[@]}" 1
	assert_equal "$(mockd_requests)" 0
}

@test "unknown line types are ignored; the conversation is the context" {
	mockd_start "$FIX/plan-text.jsonl"
	IN="$FIX/conversation.jsonl" plan
	assert_equal "$status" 0
	assert_jsonl
	# no task argument: only the agent's additions
	assert_equal "$(jq -r .type "$OUT" | paste -sd ' ')" "usage message"
	local ctx
	ctx=$(mockd_request 1 | jq -r '.body.messages[0].content | if type == "string" then . else map(.text) | join("") end')
	[[ $ctx == *"add a sub function"* ]] || fail "task not in context: $ctx"
	[[ $ctx == *"keep it in src/calc.c"* ]] || fail "user interjection not in context: $ctx"
	[[ $ctx != *"linter"* && $ctx != *"custom_x"* ]] || fail "unknown line leaked into context: $ctx"
}

@test "no task: 64 from an empty stdin and from a terminal; unknown flag 64" {
	plan
	assert_equal "$status" 64
	assert_equal "$(cat "$ERR")" "bl-plan: no task: give one as an argument or a conversation on stdin"
	assert_equal "$(wc -c <"$OUT" | tr -d ' ')" 0
	# stdin a terminal: script(1) gives bl-plan a pty
	run script -qec "bl-plan -C '$WS' --config '$CFG'" /dev/null
	assert_equal "$status" 64
	assert_output --partial "no task"
	plan --frobnicate "x"
	assert_equal "$status" 64
	assert_equal "$(cat "$ERR")" "bl-plan: unknown option '--frobnicate' (see bl-plan --help)"
	plan -Z "x"
	assert_equal "$status" 64
	plan --max-turns zero "x"
	assert_equal "$status" 64
	plan "one" "two"
	assert_equal "$status" 64
	run bl-plan -C "$BATS_TEST_TMPDIR/nowhere" x </dev/null
	assert_equal "$status" 64
	assert_output --partial "cannot open workspace"
}

@test "paths out of the workspace are refused as is_error results; nothing outside is read" {
	mockd_start "$FIX/escape.jsonl"
	plan "add a sub function"
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(count tool_result)" 6
	local results
	results=$(lines tool_result)
	# the first five are refusals naming the path
	assert_equal "$(sed -n 1,5p <<<"$results" | jq -r .is_error | sort -u)" true
	assert_equal "$(sed -n 1p <<<"$results" | jq -r .content)" "path '../secret.txt' is outside the workspace"
	assert_equal "$(sed -n 2p <<<"$results" | jq -r .content)" "path '/etc/passwd' is outside the workspace"
	assert_equal "$(sed -n 3p <<<"$results" | jq -r .content)" "path 'link-out' is outside the workspace"
	assert_equal "$(sed -n 4p <<<"$results" | jq -r .content)" "path '..' is outside the workspace"
	assert_equal "$(sed -n 5p <<<"$results" | jq -r .content)" "pattern '../*' is outside the workspace"
	# a workspace-wide grep does not follow the link out
	assert_equal "$(sed -n 6p <<<"$results" | jq -r '.is_error, .content' | paste -sd ' ')" \
		"false no matches for 'TOP-SECRET'"
	run grep -c -e TOP-SECRET-OUTSIDE -e 'root:x:0' "$OUT"
	assert_output 0
	# the model saw the same refusals
	run grep -c TOP-SECRET-OUTSIDE "$MOCKD_LOG"
	assert_output 0
	assert_equal "$(lines message | jq -r .text)" "$(printf '## Goal\nStay inside.')"
}

@test "an unknown tool is an is_error result, not a failure; nothing is written" {
	mockd_start "$FIX/unknown-tool.jsonl"
	plan "add a sub function"
	assert_equal "$status" 0
	lines tool_result | jq -e '.is_error == true and (.content | test("^unknown tool .write.; the tools are: read, glob, grep"))' >/dev/null
	[ ! -e "$WS/pwned.txt" ]
	assert_equal "$(count message)" 1
}

@test "--max-turns: the turn limit is an error line of kind limit, exit 75" {
	mockd_start "$FIX/plan.jsonl"
	plan --max-turns 2 "add a sub function"
	assert_equal "$status" 75
	assert_jsonl
	assert_equal "$(mockd_requests)" 2
	assert_equal "$(count tool_result)" 3
	lines error | jq -e '.kind == "limit" and .retryable == false and (.message | test("max_turns"))' >/dev/null
}

@test "-p echoes the input lines first, then the additions" {
	mockd_start "$FIX/plan-text.jsonl"
	IN="$FIX/conversation.jsonl" plan -p "also add mul"
	assert_equal "$status" 0
	assert_jsonl
	# the input, byte for byte
	assert_equal "$(head -n 3 "$OUT")" "$(cat "$FIX/conversation.jsonl")"
	# the argument, given with a conversation that has a task, is a user message
	assert_equal "$(sed -n 4p "$OUT" | jq -r '[.type, .agent, .role, .text] | join(" ")')" "message user user also add mul"
	assert_equal "$(sed -n '5,$p' "$OUT" | jq -r .type | paste -sd ' ')" "usage message"
	assert_equal "$(count task)" 1
	# and it reached the model
	mockd_request 1 | jq -e '.body.messages[0] | tostring | test("also add mul")' >/dev/null
}

@test "-s adds delta lines with the streamed text" {
	mockd_start "$FIX/plan.jsonl"
	plan -s "add a sub function"
	assert_equal "$status" 0
	assert_jsonl
	assert [ "$(count delta)" -ge 2 ]
	lines delta | jq -e '.agent == "planner" and (.text | type) == "string"' >/dev/null
	local streamed
	streamed=$(jq -j 'select(.type == "delta") | .text' "$OUT")
	[[ $streamed == *"Let me look at the code first."* ]]
	[[ $streamed == *"$(lines message | jq -r .text)"* ]] || fail "final text not streamed: $streamed"
	# without -s: none
	mockd_stop
	mockd_start "$FIX/plan.jsonl"
	plan "add a sub function"
	assert_equal "$(count delta)" 0
}

@test "SIGTERM during a stalled call: exit 75 and an error line, at once" {
	mockd_start "$FIX/stall.jsonl"
	bl-plan -C "$WS" --config "$CFG" "add a sub function" </dev/null >"$OUT" 2>"$ERR" &
	local pid=$! i t0 t1 rc=0
	for i in $(seq 100); do
		[ "$(mockd_requests)" -ge 1 ] && break
		sleep 0.05
	done
	assert_equal "$(mockd_requests)" 1
	sleep 0.2
	t0=$(now_ms)
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	t1=$(now_ms)
	assert_equal "$rc" 75
	assert [ $((t1 - t0)) -lt 2000 ]
	assert_jsonl
	assert_equal "$(tail -n 1 "$OUT" | jq -r '[.type, .kind, .retryable] | join(" ")')" "error timeout true"
	lines error | jq -e '.message | test("SIGTERM")' >/dev/null
}

@test "the same plan with provider openai against /v1/chat/completions" {
	mockd_start "$FIX/plan.jsonl"
	PLAN_CFG="$CFG/agent_config-openai.json" plan "add a sub function"
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(jq -r 'select(.type == "tool_use") | .name' "$OUT" | paste -sd ' ')" "glob read grep"
	assert_equal "$(result_of toolu_glob_1)" "src/calc.c"
	assert_equal "$(result_of toolu_grep_3)" "$(printf 'src/calc.c:3:\treturn a + b;')"
	assert_equal "$(result_of toolu_read_2 | sed -n 1p)" "$(printf '     1\t# Calc')"
	assert_equal "$(lines message | jq -r .text)" "$(printf '## Goal\nAdd sub() next to add().\n\n## Steps\n1. Edit src/calc.c.')"
	assert_equal "$(lines usage | jq -r '.provider + " " + .model' | sort -u)" "openai gpt-4o-mini"
	assert_equal "$(mockd_requests)" 3
	local r1
	r1=$(mockd_request 1)
	assert_equal "$(jq -r .path <<<"$r1")" /v1/chat/completions
	assert_equal "$(jq -r .body.model <<<"$r1")" gpt-4o-mini
	assert_equal "$(jq -r .body.stream <<<"$r1")" true
	assert_equal "$(jq -r '[.body.tools[].function.name] | sort | join(" ")' <<<"$r1")" "glob grep read"
	jq -e '.body.messages[0].role == "system" and (.body.messages[0].content | tostring | test("Planner"))' <<<"$r1" >/dev/null
	assert_equal "$(jq -r '.headers.authorization' <<<"$r1")" "Bearer sk-openai-test-0123456789abcdef"
	# turn 2 carries the glob result as a tool message
	mockd_request 2 | jq -e '[.body.messages[] | select(.role == "tool")][0] | .tool_call_id == "toolu_glob_1" and (.content | tostring | test("src/calc.c"))' >/dev/null
}

@test "missing key: exit 77; bad config: exit 78; both with an error line" {
	plan "add a sub function"
	assert_equal "$status" 77
	assert_jsonl
	assert_equal "$(head -n 1 "$OUT" | jq -r .type)" task
	lines error | jq -e '.kind == "auth" and (.message | test("ANTHROPIC_API_KEY"))' >/dev/null
	mkdir -p "$BATS_TEST_TMPDIR/badcfg"
	echo '{"workflow_limits": {"max_turns": "many"}}' >"$BATS_TEST_TMPDIR/badcfg/system_config.json"
	PLAN_CFG="$BATS_TEST_TMPDIR/badcfg" plan "add a sub function"
	assert_equal "$status" 78
	assert_jsonl
	lines error | jq -e '.kind == "config" and (.message | test("max_turns"))' >/dev/null
	grep -q 'max_turns' "$ERR"
}

@test "--help and --version" {
	run bl-plan --version
	assert_success
	assert_output "bl-plan (better-llm) 0.1.0"
	run bl-plan --help
	assert_success
	assert_output --partial "usage: bl-plan [options] [TASK]"
	assert_output --partial "--dry-run"
}

@test ".env in the workspace supplies the key and BL_MODEL before config is read" {
	mockd_start "$FIX/plan-text.jsonl"
	printf '# keys for this workspace\nexport ANTHROPIC_API_KEY="sk-ant-from-dotenv-42"\nBL_MODEL=claude-from-dotenv\n' >"$WS/.env"
	unset ANTHROPIC_API_KEY BL_MODEL
	plan "x"
	assert_equal "$status" 0
	assert_equal "$(mockd_request 1 | jq -r .body.model)" claude-from-dotenv
	assert_equal "$(mockd_request 1 | jq -r .headers.authorization)" "Bearer sk-ant-from-dotenv-42"
	run grep -c sk-ant-from-dotenv-42 "$OUT"
	assert_output 0
}
