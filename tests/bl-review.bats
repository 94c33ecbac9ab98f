#!/usr/bin/env bats
# bl-review end to end against bl-mockd, in a temp git repo with an
# uncommitted change: both verdicts as verdict lines (findings
# normalised), bad verdict calls as is_error results, the reminder when
# the model ends without a verdict and the protocol error after it, the
# changes given in the first request, the read-only bash and the
# missing write tool.

load helpers

FIX="$ROOT/tests/fixtures/bl-review"
CFG="$FIX/config"

setup() {
	WS=$BATS_TEST_TMPDIR/ws
	OUT=$BATS_TEST_TMPDIR/out.jsonl
	ERR=$BATS_TEST_TMPDIR/err.txt
	mkdir -p "$WS/src" "$WS/tests"
	printf 'test:\n\tsh tests/test_calc.sh\n' >"$WS/Makefile"
	printf 'int add(int a, int b)\n{\n\treturn a + b;\n}\n' >"$WS/src/calc.c"
	printf '#!/bin/sh\necho ok\n' >"$WS/tests/test_calc.sh"
	git -C "$WS" init -q
	git -C "$WS" -c user.name=t -c user.email=t@example.com add -A
	git -C "$WS" -c user.name=t -c user.email=t@example.com commit -qm "calc: add"
	# the coder's change: sub() (wrong), and a new untracked file
	printf '\nint sub(int a, int b)\n{\n\treturn a + b;\n}\n' >>"$WS/src/calc.c"
	printf 'notes\n' >"$WS/NOTES.md"
}

teardown() {
	mockd_stop
}

# review [ARGS...]: bl-review in $WS with the test config, stdin the
# fixture conversation; sets status, stdout in $OUT, stderr in $ERR.
review() {
	status=0
	bl-review -C "$WS" --config "$CFG" "$@" <"${IN:-$FIX/conversation.jsonl}" >"$OUT" 2>"$ERR" ||
		status=$?
}

error_of() { jq -j "select(.type == \"tool_result\" and .tool_use_id == \"$1\") | .is_error" "$OUT"; }
# text of request N's message M (content as string or blocks)
msg_text() {
	mockd_request "$1" | jq -r ".body.messages[$2].content | if type == \"string\" then . else map(.text // .content // \"\" | if type == \"string\" then . else tostring end) | join(\"\") end"
}

@test "approve: one verdict line (agent, verdict, summary, findings), no message line" {
	mockd_start "$FIX/approve.jsonl"
	review
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(jq -r .type "$OUT" | paste -sd ' ')" "usage tool_use tool_result usage tool_use tool_result verdict"
	assert_equal "$(count verdict)" 1
	assert_equal "$(count message)" 0
	lines verdict | jq -e '.agent == "reviewer" and .verdict == "approve"
		and .summary == "sub() is correct and has a test."
		and .findings == [{"file": "src/calc.c", "line": 6, "severity": "low", "message": "add a comment above sub()"}]
		and (.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))
		and has("exit_code") == false and has("command") == false' >/dev/null ||
		fail "bad verdict line: $(lines verdict)"
	# the verdict call's result says it was recorded
	[[ $(result_of toolu_verdict_2) == "Verdict recorded: approve with 1 finding."* ]]
	assert_equal "$(error_of toolu_verdict_2)" false
	# bash ran git read-only in the workspace
	[[ $(result_of toolu_diff_1) == "exit 0"*"src/calc.c"*"5 +"* ]] || fail "git diff result: $(result_of toolu_diff_1)"
	# the verdict ended the stage: no request after it
	assert_equal "$(mockd_requests)" 2
	# the verdict line is the last line
	assert_equal "$(tail -n 1 "$OUT" | jq -r .type)" verdict
}

@test "changes_requested: findings of three shapes normalised to {file, line, severity, message}" {
	mockd_start "$FIX/changes.jsonl"
	review
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(count verdict)" 1
	lines verdict | jq -e '.verdict == "changes_requested"
		and .summary == "sub() adds instead of subtracting, and it is untested."
		and .findings == [
			{"file": "src/calc.c", "line": 7, "severity": "high", "message": "sub returns a + b; it must return a - b"},
			{"message": "no test covers sub()"},
			{"file": "tests/test_calc.sh", "line": 3, "severity": "medium", "message": "the test script only echoes ok"}]' >/dev/null ||
		fail "bad verdict line: $(lines verdict)"
	# the text the model wrote beside the call is not a message line
	assert_equal "$(count message)" 0
	# the findings are jq-friendly: file:line of each
	assert_equal "$(lines verdict | jq -r '.findings[] | select(.file) | "\(.file):\(.line)"' | paste -sd ' ')" \
		"src/calc.c:7 tests/test_calc.sh:3"
}

@test "the requests: reviewer prompt, tools incl. verdict and bash, the changes in the first message" {
	mockd_start "$FIX/approve.jsonl"
	review
	assert_equal "$status" 0
	local r1 sys ctx
	r1=$(mockd_request 1)
	assert_equal "$(jq -r '[.body.tools[].name] | sort | join(" ")' <<<"$r1")" "bash glob grep read verdict"
	jq -e '.body.tools[] | select(.name == "verdict") | .input_schema
		| .properties.verdict.enum == ["approve", "changes_requested"]
		and (.required | index("summary")) != null
		and .properties.findings.items.properties.severity.enum == ["high", "medium", "low"]' <<<"$r1" >/dev/null
	sys=$(jq -r '.body.system | if type == "string" then . else map(.text) | join("") end' <<<"$r1")
	[[ $sys == *"$(head -n 1 "$ROOT/prompts/reviewer.txt")"* ]] || fail "system prompt lacks reviewer.txt"
	[[ $sys == *"verdict"* ]]
	ctx=$(msg_text 1 0)
	# the conversation: task, plan, coder's summary
	[[ $ctx == *"add a sub function"* && $ctx == *"Add sub() next to add()"* && $ctx == *"Added sub() to src/calc.c."* ]] ||
		fail "context lacks the conversation: $ctx"
	# the changes: git status (modified + untracked) and the diff
	[[ $ctx == *'$ git status --short'*' M src/calc.c'*'?? NOTES.md'* ]] || fail "no git status: $ctx"
	[[ $ctx == *'$ git diff HEAD'*'+int sub(int a, int b)'* ]] || fail "no diff: $ctx"
	# no commit was made, nothing was staged
	assert_equal "$(git -C "$WS" rev-list --count HEAD)" 1
	assert_equal "$(git -C "$WS" diff --cached --name-only)" ""
}

@test "outside a git repository the first message says so; the review still runs" {
	rm -rf "$WS/.git"
	mockd_start "$FIX/second-chance.jsonl"
	review
	assert_equal "$status" 0
	[[ $(msg_text 1 0) == *"not a git repository"* ]] || fail "$(msg_text 1 0)"
	assert_equal "$(lines verdict | jq -r .verdict)" approve
}

@test "bad verdict calls are is_error results the model sees; the first valid one counts" {
	mockd_start "$FIX/bad-then-good.jsonl"
	review
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(mockd_requests)" 5
	local id
	for id in toolu_v1 toolu_v2 toolu_v3 toolu_v4; do
		assert_equal "$(error_of $id)" true
	done
	assert_equal "$(result_of toolu_v1)" "'verdict' must be \"approve\" or \"changes_requested\", not \"lgtm\""
	[[ $(result_of toolu_v2) == *"high"*"blocks approval"* ]] || fail "$(result_of toolu_v2)"
	[[ $(result_of toolu_v3) == *"'summary' is empty"* ]] || fail "$(result_of toolu_v3)"
	[[ $(result_of toolu_v4) == *"needs at least one finding"* ]] || fail "$(result_of toolu_v4)"
	assert_equal "$(error_of toolu_v5)" false
	# the model got each error as a tool_result block
	mockd_request 2 | jq -e '.body.messages[-1].content[0] | .type == "tool_result" and .is_error == true
		and .tool_use_id == "toolu_v1"' >/dev/null
	# findings sent JSON-encoded in a string are parsed
	lines verdict | jq -e '.verdict == "approve" and .summary == "fine after all"
		and .findings == [{"file": "src/calc.c", "severity": "low", "message": "nit: spacing"}]' >/dev/null ||
		fail "bad verdict line: $(lines verdict)"
	assert_equal "$(count verdict)" 1
}

@test "no verdict: asked once more with a reminder, then an error line of kind protocol, exit 70" {
	mockd_start "$FIX/no-verdict.jsonl"
	review
	assert_equal "$status" 70
	assert_jsonl
	assert_equal "$(mockd_requests)" 2
	# the second request: the model's text, then the reminder as a user message
	mockd_request 2 | jq -e '.body.messages[-2].role == "assistant"' >/dev/null
	[[ $(msg_text 2 -2) == "The change looks fine to me." ]] || fail "$(msg_text 2 -2)"
	mockd_request 2 | jq -e '.body.messages[-1].role == "user"' >/dev/null
	[[ $(msg_text 2 -1) == "You ended your turn without calling the verdict tool. You must end by calling the verdict tool"* ]] ||
		fail "no reminder: $(msg_text 2 -1)"
	# no verdict, no message; one error line, last
	assert_equal "$(count verdict)" 0
	assert_equal "$(count message)" 0
	assert_equal "$(count error)" 1
	assert_equal "$(tail -n 1 "$OUT" | jq -r '[.type, .agent, .kind, .retryable] | join(" ")')" "error reviewer protocol true"
	lines error | jq -e '.message | test("without calling the verdict tool") and test("As I said, it looks fine")' >/dev/null ||
		fail "error message: $(lines error)"
	assert_equal "$(cat "$ERR")" "bl-review: $(lines error | jq -r .message)"
}

@test "a second-chance verdict works: exit 0 and the verdict line" {
	mockd_start "$FIX/second-chance.jsonl"
	review
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(mockd_requests)" 2
	[[ $(msg_text 2 -1) == *"You must end by calling the verdict tool"* ]]
	assert_equal "$(count error)" 0
	lines verdict | jq -e '.verdict == "approve" and .summary == "sub() is correct." and .findings == []' >/dev/null
}

@test "the reminder gets its turn even when max_turns is used up" {
	mockd_start "$FIX/second-chance.jsonl"
	review --max-turns 1
	assert_equal "$status" 0
	assert_equal "$(mockd_requests)" 2
	assert_equal "$(lines verdict | jq -r .verdict)" approve
}

@test "bash is read-only: writes in the workspace are refused, the file is unchanged" {
	mockd_start "$FIX/readonly.jsonl"
	local before
	before=$(cat "$WS/src/calc.c")
	review
	assert_equal "$status" 0
	local res
	res=$(result_of toolu_write_1)
	if [[ $res == *"[sandbox:"* ]]; then
		skip "no Landlock here: $res"
	fi
	[ ! -e "$WS/written.txt" ] || fail "bash wrote written.txt: $res"
	assert_equal "$(cat "$WS/src/calc.c")" "$before"
	[[ $res == *"ermission denied"* ]] || fail "no refusal in: $res"
	# git status still worked
	[[ $res == *" M src/calc.c"* ]] || fail "git status did not run: $res"
	assert_equal "$(lines verdict | jq -r .verdict)" approve
}

@test "the write tool is not available: an is_error result, no file" {
	mockd_start "$FIX/write-tool.jsonl"
	review
	assert_equal "$status" 0
	assert_equal "$(error_of toolu_write_1)" true
	[[ $(result_of toolu_write_1) == "unknown tool 'write'"* ]]
	[ ! -e "$WS/x.txt" ]
}

@test "-p echoes the conversation first; the verdict line ends the output" {
	mockd_start "$FIX/approve.jsonl"
	review -p
	assert_equal "$status" 0
	assert_equal "$(head -n 3 "$OUT")" "$(cat "$FIX/conversation.jsonl")"
	assert_equal "$(tail -n 1 "$OUT" | jq -r .type)" verdict
}

@test "--dry-run: the request with the changes and the verdict tool; nothing sent, nothing written" {
	mockd_start "$FIX/approve.jsonl"
	review --dry-run
	assert_equal "$status" 0
	assert_equal "$(mockd_requests)" 0
	sed '1,/^$/d' "$OUT" | jq -e '([.tools[].name] | index("verdict")) != null
		and (.messages[0].content | tostring | test("git diff HEAD"))' >/dev/null
	run grep -c '"type":"verdict"' "$OUT"
	assert_output 0
}

@test "an agent config without the verdict tool is a config error: exit 78, nothing sent" {
	local cfg=$BATS_TEST_TMPDIR/cfg
	mkdir -p "$cfg"
	cp "$CFG/system_config.json" "$cfg/"
	jq '.agents[0].tools = ["read", "glob", "grep", "bash"]' "$CFG/agent_config.json" >"$cfg/agent_config.json"
	mockd_start "$FIX/approve.jsonl"
	status=0
	bl-review -C "$WS" --config "$cfg" <"$FIX/conversation.jsonl" >"$OUT" 2>"$ERR" || status=$?
	assert_equal "$status" 78
	assert_equal "$(mockd_requests)" 0
	assert_equal "$(jq -r '[.type, .kind] | join(" ")' "$OUT")" "error config"
	lines error | jq -e '.message | test("must include .verdict.")' >/dev/null
}
