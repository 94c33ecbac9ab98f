#!/usr/bin/env bats
# The hand-made pipeline end to end:
#   bl-plan "x" | bl-code -p | bl-review -p | bl-test -p | bl-commit -p
# against one bl-mockd, in a temp git repository holding a small C project
# whose `make test` really builds and runs a test that needs the change.
# The script (tests/fixtures/pipeline/script.jsonl) gives each role its
# replies by matching its system prompt.  It must end in a real commit of
# the right files, with a conversation that is valid line by line.

load helpers

FIX="$ROOT/tests/fixtures/pipeline"
TASK="add a sub function with a test"

setup() {
	export GIT_CONFIG_NOSYSTEM=1
	unset GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL EMAIL
	WS=$BATS_TEST_TMPDIR/ws
	OUT=$BATS_TEST_TMPDIR/conversation.jsonl
	ERR=$BATS_TEST_TMPDIR/err.txt
	cp -R "$FIX/project" "$WS"
	git -C "$WS" init -q -b main
	git -C "$WS" config user.name "Pipeline Test"
	git -C "$WS" config user.email pipeline@example.com
	git -C "$WS" add -A
	git -C "$WS" commit -q -m "Calculator with add()"
	BASE=$(git -C "$WS" rev-parse HEAD)
	# the configuration, where a user keeps theirs: no flag on any stage
	mkdir -p "$XDG_CONFIG_HOME/better-llm"
	cp "$FIX/config/system_config.json" "$XDG_CONFIG_HOME/better-llm/"
	cp "$FIX/config/agent_config.json" "$XDG_CONFIG_HOME/better-llm/"
}

teardown() {
	mockd_stop
}

# Runs the pipeline in $WS; sets PIPE_STATUS to the five exit statuses.
pipeline() {
	(
		cd "$WS" &&
			bl-plan "$TASK" | bl-code -p | bl-review -p | bl-test -p | bl-commit -p >"$OUT" 2>>"$ERR"
		echo "${PIPESTATUS[*]}" >"$BATS_TEST_TMPDIR/pipestatus"
	) 2>>"$ERR"
	PIPE_STATUS=$(cat "$BATS_TEST_TMPDIR/pipestatus")
}

# line_of TYPE AGENT: that agent's lines of that type.
line_of() { jq -c "select(.type == \"$1\" and .agent == \"$2\")" "$OUT"; }
is_error_of() { jq -r "select(.type == \"tool_result\" and .tool_use_id == \"$1\") | .is_error" "$OUT"; }

# The checks shared by both providers.
check_pipeline() {
	assert_equal "$PIPE_STATUS" "0 0 0 0 0"
	# every line is a conversation line
	local line n=0
	while IFS= read -r line; do
		n=$((n + 1))
		jq -e 'type == "object" and (.type | type) == "string"
			and (.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$"))' <<<"$line" >/dev/null ||
			fail "line $n is not a conversation line: $line"
	done <"$OUT"
	assert [ "$n" -gt 10 ]

	# exactly one task, first, and the stages' lines in pipeline order
	assert_equal "$(count task)" 1
	assert_equal "$(head -n 1 "$OUT" | jq -r .text)" "$TASK"
	assert_equal "$(jq -r 'select(.agent and .type != "usage") | .agent' "$OUT" | uniq | paste -sd ' ')" \
		"planner coder reviewer tester committer"
	# the plan and the coder's summary
	assert_equal "$(line_of message planner | jq -r .text | head -n 1)" "## Goal"
	line_of message coder | jq -e '.text | test("make test passes")' >/dev/null

	# the coder's tools really ran: write, two edits, and make test green
	local id
	for id in toolu_code_write toolu_code_edit1 toolu_code_edit2 toolu_code_bash; do
		assert_equal "$(is_error_of "$id")" false
	done
	[[ $(result_of toolu_code_bash) == *"all tests passed"* ]] || fail "coder's make test: $(result_of toolu_code_bash)"

	# one approve from the reviewer, one pass from the tester (grounded in exit 0)
	assert_equal "$(count verdict)" 2
	line_of verdict reviewer | jq -e '.verdict == "approve" and .findings == []' >/dev/null
	line_of verdict tester | jq -e '.verdict == "pass" and .exit_code == 0 and .command == "make test"' >/dev/null
	[[ $(jq -r 'select(.type == "tool_result" and .agent == "tester") | .content' "$OUT") == *"all tests passed"* ]]

	# one commit line, HEAD, on top of the base, with exactly the changed files
	assert_equal "$(count commit)" 1
	local c
	c=$(lines commit)
	assert_equal "$(jq -r .sha <<<"$c")" "$(git -C "$WS" rev-parse HEAD)"
	assert_equal "$(git -C "$WS" rev-parse HEAD~1)" "$BASE"
	assert_equal "$(jq -r .subject <<<"$c")" "Add sub() to the calculator"
	assert_equal "$(git -C "$WS" log -1 --format=%s)" "Add sub() to the calculator"
	assert_equal "$(jq -r '.files | sort | join(" ")' <<<"$c")" "calc.c calc.h test_calc.c"
	assert_equal "$(tail -n 1 "$OUT" | jq -r '.type + " " + .agent')" "message committer"

	# the committed contents: sub() declared, defined and tested; the build
	# output (ignored) was not committed; nothing is left over
	git -C "$WS" show HEAD:calc.h | grep -qx 'int sub(int a, int b);'
	git -C "$WS" show HEAD:calc.c | grep -q 'return a - b;'
	git -C "$WS" show HEAD:test_calc.c | grep -qF 'check(sub(7, 3), 4, "sub(7, 3)");'
	run git -C "$WS" show HEAD:test_calc.c
	refute_output --partial "/* TESTS */"
	run git -C "$WS" ls-files test_calc
	assert_output ""
	assert_equal "$(git -C "$WS" status --porcelain)" ""
	# and the committed tree passes its tests from scratch
	rm -f "$WS/test_calc"
	run make -s -C "$WS" test
	assert_success
	assert_output --partial "all tests passed"

	# one request per scripted reply, each sent by the role it was meant for
	assert_equal "$(mockd_requests)" 10
	assert_equal "$(jq -r .reply "$MOCKD_LOG" | paste -sd ' ')" "0 1 2 3 4 5 6 7 8 9"
	# the committer's request held the staged diff and the verdicts
	local req
	req=$(mockd_request 10 | jq -c .body)
	[[ $req == *"return a - b;"* ]] || fail "the committer did not see the diff"
	[[ $req == *"sub() is right and tested."* ]] || fail "the committer did not see the review"
}

@test "plan | code | review | test | commit ends in a real commit (anthropic)" {
	mockd_start "$FIX/script.jsonl"
	pipeline
	check_pipeline
	assert_equal "$(lines usage | jq -r .provider | sort -u)" anthropic
	assert_equal "$(jq -r .path "$MOCKD_LOG" | sort -u)" /v1/messages
}

@test "the same pipeline with provider openai for every agent" {
	cp "$FIX/config/agent_config-openai.json" "$XDG_CONFIG_HOME/better-llm/agent_config.json"
	mockd_start "$FIX/script.jsonl"
	pipeline
	check_pipeline
	assert_equal "$(lines usage | jq -r .provider | sort -u)" openai
	assert_equal "$(jq -r .path "$MOCKD_LOG" | sort -u)" /v1/chat/completions
}

@test "a stage swapped for a shell+jq script: the README's review-lint" {
	mockd_start "$FIX/script.jsonl"
	# the script is the one README.md shows, word for word
	assert_equal "$(sed -n '/^# review-lint:/,/^```/p' "$ROOT/README.md" | sed '$d')" \
		"$(sed -n '2,$p' "$FIX/review-lint")"
	(
		cd "$WS" &&
			bl-plan "$TASK" | bl-code -p | "$FIX/review-lint" | bl-test -p | bl-commit -p >"$OUT"
		echo "${PIPESTATUS[*]}" >"$BATS_TEST_TMPDIR/pipestatus"
	) 2>>"$ERR"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/pipestatus")" "0 0 0 0 0"
	line_of verdict reviewer | jq -e '.verdict == "approve" and .summary == "make lint is clean"
		and .findings == [] and (.ts | test("^[0-9-]{10}T[0-9:]{8}[.][0-9]{3}Z$"))' >/dev/null ||
		fail "$(line_of verdict reviewer)"
	# bl-test and bl-commit read the script's line like any other
	line_of verdict tester | jq -e '.verdict == "pass"' >/dev/null
	assert_equal "$(lines commit | jq -r .sha)" "$(git -C "$WS" rev-parse HEAD)"
	assert_equal "$(git -C "$WS" log -1 --format=%s)" "Add sub() to the calculator"
	mockd_request 8 | jq -e '.body | tostring | test("make lint is clean")' >/dev/null
	# the reviewer's two scripted replies were never asked for
	assert_equal "$(mockd_requests)" 8
	assert_equal "$(jq -r .reply "$MOCKD_LOG" | paste -sd ' ')" "0 1 2 3 4 5 8 9"
}
