#!/usr/bin/env bats
# bl-test end to end against bl-mockd: the test command is run by
# bl-test itself and its exit status is the verdict whatever the model
# says; the run is a tool_use/tool_result pair and part of the first
# request; the failing output goes into the verdict line; detection of
# the command (make test/check, npm test, pytest, cargo test, go test),
# test_command from --config, no command (exit 78), a timeout, and the
# sandbox around the run.

load helpers

FIX="$ROOT/tests/fixtures/bl-test"
CFG="$FIX/config"

setup() {
	WS=$BATS_TEST_TMPDIR/ws
	OUT=$BATS_TEST_TMPDIR/out.jsonl
	ERR=$BATS_TEST_TMPDIR/err.txt
	mkdir -p "$WS/src" "$WS/tests"
	printf 'int add(int a, int b)\n{\n\treturn a + b;\n}\nint sub(int a, int b)\n{\n\t/* oops */\n\treturn a + b;\n}\n' >"$WS/src/calc.c"
	printf '.PHONY: test\nCC = cc\ntest:\n\tsh tests/test_calc.sh\n' >"$WS/Makefile"
	# a failing suite by default; pass_suite makes it green
	cat >"$WS/tests/test_calc.sh" <<-'EOF'
		#!/bin/sh
		echo "PASS: add(1, 2) = 3"
		echo "FAIL: sub(3, 1) = 4, expected 2" >&2
		exit 1
	EOF
	git -C "$WS" init -q
}

pass_suite() {
	printf '#!/bin/sh\necho "PASS: add(1, 2) = 3"\necho "PASS: sub(3, 1) = 2"\n' >"$WS/tests/test_calc.sh"
}

teardown() {
	mockd_stop
}

# tester [ARGS...]: bl-test in $WS with $TCFG (default the test config),
# stdin the fixture conversation; sets status, stdout in $OUT, stderr in $ERR.
tester() {
	status=0
	bl-test -C "$WS" --config "${TCFG:-$CFG}" "$@" <"${IN:-$FIX/conversation.jsonl}" >"$OUT" 2>"$ERR" ||
		status=$?
}

# A config dir like the test one with system_config.json test_command set.
config_with_command() {
	TCFG=$BATS_TEST_TMPDIR/cfg
	mkdir -p "$TCFG"
	cp "$CFG/agent_config.json" "$TCFG/"
	jq --arg c "$1" '.test_command = $c' "$CFG/system_config.json" >"$TCFG/system_config.json"
}

first_msg() {
	mockd_request 1 | jq -r '.body.messages[0].content | if type == "string" then . else map(.text) | join("") end'
}
# the request body of --dry-run output
dry_body() { sed '1,/^$/d' "$OUT"; }

@test "the suite fails while the model says pass: the verdict is fail, with exit_code, command and output" {
	mockd_start "$FIX/say-pass.jsonl"
	tester
	assert_equal "$status" 0
	assert_jsonl
	assert_equal "$(count verdict)" 1
	assert_equal "$(tail -n 1 "$OUT" | jq -r .type)" verdict
	# make exits 2 when a recipe fails
	lines verdict | jq -e '.agent == "tester" and .verdict == "fail" and .exit_code == 2
		and .command == "make test"
		and (.output | test("FAIL: sub\\(3, 1\\) = 4, expected 2"))
		and (.output | test("PASS: add"))
		and .summary == "[bl-test: the model said pass, but `make test` ended with exit 2: the verdict is fail]\n\nAll good, the tests pass."
		and .findings == [{"file": "src/calc.c", "line": 8, "severity": "low", "message": "looks fine"}]' >/dev/null ||
		fail "bad verdict line: $(lines verdict)"
	assert_equal "$(count message)" 0
}

@test "the run is a tool_use/tool_result pair first, and the model is given it" {
	mockd_start "$FIX/say-pass.jsonl"
	tester
	assert_equal "$status" 0
	assert_equal "$(jq -r .type "$OUT" | paste -sd ' ')" \
		"tool_use tool_result usage tool_use tool_result usage tool_use tool_result verdict"
	head -n 1 "$OUT" | jq -e '.agent == "tester" and .name == "bash" and .id == "toolu_bl_test_run"
		and .input.command == "make test" and .input.timeout == 40' >/dev/null ||
		fail "bad tool_use: $(head -n 1 "$OUT")"
	local res
	res=$(result_of toolu_bl_test_run)
	[[ $res == "exit 2"$'\n'* ]] || fail "tool_result: $res"
	[[ $res == *"FAIL: sub(3, 1) = 4, expected 2"* ]]
	sed -n 2p "$OUT" | jq -e '.is_error == false' >/dev/null
	# the first request: the conversation, then the run and the verdict it decides
	local ctx
	ctx=$(first_msg)
	[[ $ctx == *"add a sub function"* && $ctx == *"Added sub() to src/calc.c"* ]] || fail "no conversation: $ctx"
	[[ $ctx == *"## Test run"*"(Makefile has a 'test' target)"*'$ make test'*"exit 2"*"FAIL: sub(3, 1)"* ]] ||
		fail "no test run in the context: $ctx"
	[[ $ctx == *"The exit status decides the verdict: fail."* ]] || fail "$ctx"
	# tester prompt and tools
	mockd_request 1 | jq -e '([.body.tools[].name] | sort) == ["bash", "glob", "grep", "read", "verdict"]
		and (.body.tools[] | select(.name == "verdict") | .input_schema.properties.verdict.enum) == ["pass", "fail"]' >/dev/null
	mockd_request 1 | jq -r '.body.system | if type == "string" then . else map(.text) | join("") end' |
		grep -qF "$(head -n 1 "$ROOT/prompts/tester.txt")"
	# the model's grep ran for real
	[[ $(result_of toolu_grep_1) == *"src/calc.c:5:int sub(int a, int b)"* ]]
}

@test "the suite passes: verdict pass, exit_code 0, no output field" {
	pass_suite
	mockd_start "$FIX/pass.jsonl"
	tester
	assert_equal "$status" 0
	lines verdict | jq -e '.verdict == "pass" and .exit_code == 0 and .command == "make test"
		and .summary == "make test ran 2 checks; both passed." and has("output") == false
		and has("findings") == false' >/dev/null || fail "bad verdict line: $(lines verdict)"
	[[ $(first_msg) == *"The exit status decides the verdict: pass."* ]]
}

@test "the suite passes while the model says fail: the verdict is pass, the summary says so" {
	pass_suite
	mockd_start "$FIX/say-fail.jsonl"
	tester
	assert_equal "$status" 0
	lines verdict | jq -e '.verdict == "pass" and .exit_code == 0
		and .summary == "[bl-test: the model said fail, but `make test` ended with exit 0: the verdict is pass]\n\nI do not trust these tests."' >/dev/null ||
		fail "bad verdict line: $(lines verdict)"
}

@test "test_command from --config wins over the Makefile; exit 1 is fail with exit_code 1" {
	printf '#!/bin/sh\necho "suite: 1 failed"\nexit 1\n' >"$WS/run-tests.sh"
	config_with_command "sh run-tests.sh"
	mockd_start "$FIX/explain-fail.jsonl"
	tester
	assert_equal "$status" 0
	lines verdict | jq -e '.verdict == "fail" and .exit_code == 1 and .command == "sh run-tests.sh"
		and .output == "suite: 1 failed\n"
		and .summary == "sub(3, 1) returns 4: src/calc.c:8 adds instead of subtracting."
		and .findings == [{"file": "src/calc.c", "line": 8, "severity": "high", "message": "return a - b, not a + b"}]' >/dev/null ||
		fail "bad verdict line: $(lines verdict)"
	head -n 1 "$OUT" | jq -e '.input.command == "sh run-tests.sh"' >/dev/null
	[[ $(first_msg) == *"(test_command in $TCFG/system_config.json)"* ]] || fail "$(first_msg)"
}

@test "the model ends without a verdict: the exit status decides, its text is the summary, no reminder" {
	mockd_start "$FIX/no-verdict.jsonl"
	tester
	assert_equal "$status" 0
	assert_equal "$(mockd_requests)" 1
	lines verdict | jq -e '.verdict == "fail" and .exit_code == 2
		and .summary == "The test for sub() fails because sub adds."' >/dev/null ||
		fail "bad verdict line: $(lines verdict)"
	assert_equal "$(count message)" 0
	assert_equal "$(count error)" 0
}

@test "a bad verdict value is an is_error result; the next call counts" {
	mockd_start "$FIX/bad-verdict.jsonl"
	tester
	assert_equal "$status" 0
	assert_equal "$(result_of toolu_v1)" "'verdict' must be \"pass\" or \"fail\", not \"approve\""
	assert_equal "$(jq -j 'select(.type == "tool_result" and .tool_use_id == "toolu_v1") | .is_error' "$OUT")" true
	assert_equal "$(lines verdict | jq -r '.verdict + " " + .summary')" "fail sub adds."
}

@test "no test command: exit 78, an error line of kind config, nothing run, nothing sent" {
	rm "$WS/Makefile"
	mockd_start "$FIX/pass.jsonl"
	tester
	assert_equal "$status" 78
	assert_jsonl
	assert_equal "$(jq -r .type "$OUT")" error
	lines error | jq -e '.agent == "tester" and .kind == "config" and .retryable == false
		and (.message | startswith("no test command: set test_command in system_config.json"))' >/dev/null ||
		fail "bad error line: $(lines error)"
	assert_equal "$(mockd_requests)" 0
	grep -q '^bl-test: no test command: set test_command in system_config.json' "$ERR"
}

@test "detection: make test, make check, npm test, pytest, cargo test, go test (--dry-run)" {
	mockd_start "$FIX/pass.jsonl"
	# detected: the command the dry-run request shows ("" when none)
	detected() {
		tester --dry-run
		dry_body | jq -r '.messages[0].content | if type == "string" then . else map(.text) | join("") end' |
			sed -n 's/^\$ //p'
	}
	assert_equal "$(detected)" "make test"
	# a 'check' target only (automake style), with an assignment and a recipe mentioning test
	printf 'TESTS = test: not a rule\ncheck: all\n\techo test: no\nall:\n' >"$WS/Makefile"
	assert_equal "$(detected)" "make check"
	# a Makefile without either falls through to package.json
	printf 'all:\n\tcc -o calc src/calc.c\n' >"$WS/Makefile"
	printf '{"name": "x", "scripts": {"test": "echo \\"Error: no test specified\\" && exit 1"}}\n' >"$WS/package.json"
	assert_equal "$(detected)" ""
	tester --dry-run
	assert_equal "$status" 78
	printf '{"name": "x", "scripts": {"test": "node --test"}}\n' >"$WS/package.json"
	assert_equal "$(detected)" "npm test"
	rm "$WS/package.json"
	printf 'def test_x():\n    assert True\n' >"$WS/tests/test_x.py"
	assert_equal "$(detected)" "pytest"
	rm "$WS/tests/test_x.py"
	printf '[tool.pytest.ini_options]\n' >"$WS/pyproject.toml"
	assert_equal "$(detected)" "pytest"
	rm "$WS/pyproject.toml"
	printf '[package]\nname = "x"\n' >"$WS/Cargo.toml"
	assert_equal "$(detected)" "cargo test"
	rm "$WS/Cargo.toml"
	printf 'module x\n' >"$WS/go.mod"
	assert_equal "$(detected)" "go test ./..."
	# the Makefile's test target comes first
	printf 'test:\n\ttrue\n' >"$WS/Makefile"
	assert_equal "$(detected)" "make test"
	# --dry-run runs nothing and sends nothing
	assert_equal "$(mockd_requests)" 0
	assert_equal "$(count tool_use)" 0
}

@test "a symlinked Makefile leaving the workspace is not used for detection" {
	printf 'test:\n\ttrue\n' >"$BATS_TEST_TMPDIR/outside.mk"
	rm "$WS/Makefile"
	ln -s ../outside.mk "$WS/Makefile"
	tester --dry-run
	assert_equal "$status" 78
}

@test "a command past its timeout (2/3 of timeout_s) is ended: fail, and the summary says so" {
	config_with_command "sleep 30; echo never"
	mockd_start "$FIX/no-verdict.jsonl"
	local t0 t1
	t0=$(now_ms)
	WORKER_TIMEOUT_TESTER=3 tester
	t1=$(now_ms)
	assert_equal "$status" 0
	assert [ $((t1 - t0)) -lt 10000 ]
	head -n 1 "$OUT" | jq -e '.input.timeout == 2' >/dev/null
	[[ $(result_of toolu_bl_test_run) == "timed out after 2 s (process group ended)"* ]] ||
		fail "$(result_of toolu_bl_test_run)"
	sed -n 2p "$OUT" | jq -e '.is_error == true' >/dev/null
	lines verdict | jq -e '.verdict == "fail" and .exit_code != 0 and (.output | test("never") | not)' >/dev/null ||
		fail "bad verdict line: $(lines verdict)"
}

@test "the run is sandboxed: it writes in the workspace, not outside; no secrets in its environment" {
	config_with_command 'touch built.o && test -z "$ANTHROPIC_API_KEY" && echo "tmp=$TMPDIR" && touch "$HOME/outside" ; echo "rc=$?"'
	mockd_start "$FIX/pass.jsonl"
	tester
	assert_equal "$status" 0
	local res
	res=$(result_of toolu_bl_test_run)
	[ -e "$WS/built.o" ] || fail "the build could not write in the workspace: $res"
	[[ $res == *"tmp=/"*"bl-tmp."* ]] || fail "no private TMPDIR: $res"
	if [[ $res == *"[sandbox:"* ]]; then
		skip "no Landlock here: $res"
	fi
	[ ! -e "$HOME/outside" ] || fail "the run wrote outside the workspace: $res"
	[[ $res == *"rc=1"* ]] || fail "$res"
}

@test "-p echoes the conversation first; the verdict line is last" {
	pass_suite
	mockd_start "$FIX/pass.jsonl"
	tester -p
	assert_equal "$status" 0
	assert_equal "$(head -n 2 "$OUT")" "$(cat "$FIX/conversation.jsonl")"
	assert_equal "$(tail -n 1 "$OUT" | jq -r .type)" verdict
}

@test "an API failure after the run is the stage's failure: error line, exit 69, no verdict" {
	mk_script >/dev/null <<-'EOF'
		{"status": 500, "repeat": 0}
	EOF
	mockd_start "$BATS_TEST_TMPDIR/script.jsonl"
	tester
	assert_equal "$status" 69
	assert_equal "$(count verdict)" 0
	assert_equal "$(tail -n 1 "$OUT" | jq -r '.type + " " + .kind')" "error api"
	# the run happened and is in the conversation
	assert_equal "$(jq -r 'select(.type == "tool_use") | .id' "$OUT")" toolu_bl_test_run
}

@test "SIGTERM during the run: the test command's group is ended, an error line, exit 75, no verdict" {
	config_with_command 'sleep 29.71 & sleep 29.71; echo never'
	mockd_start "$FIX/pass.jsonl"
	bl-test -C "$WS" --config "$TCFG" <"$FIX/conversation.jsonl" >"$OUT" 2>"$ERR" &
	local pid=$! i t0 t1 rc=0
	for i in $(seq 100); do
		[ "$(count tool_use)" -ge 1 ] && break
		sleep 0.05
	done
	sleep 0.3
	t0=$(now_ms)
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	t1=$(now_ms)
	assert_equal "$rc" 75
	assert [ $((t1 - t0)) -lt 5000 ]
	assert_equal "$(mockd_requests)" 0
	assert_equal "$(count verdict)" 0
	assert_equal "$(tail -n 1 "$OUT" | jq -r '[.type, .kind, .retryable] | join(" ")')" "error timeout true"
	lines error | jq -e '.message | test("SIGTERM")' >/dev/null
	# neither sleep is left running
	run pgrep -f "^sleep 29.71$"
	assert_failure
}
