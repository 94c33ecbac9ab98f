#!/usr/bin/env bats
# The offline demo (pipelines/demo/run, behind `make demo`): with no key
# and no network it runs the whole default pipeline under bl-manager
# against bl-mockd, ends in a commit whose tests pass, with a complete
# session; it stops bl-mockd on every exit path; and its script is data
# that fits the prompts and the project.  `make demo` itself is not run
# here: it would rebuild without SAN=1 in the middle of a sanitizer run.

load helpers

RUN="$ROOT/pipelines/demo/run"
DEMO="$ROOT/pipelines/demo"

setup() {
	[ -x "$ROOT/bin/bl-manager" ] || skip "bl-manager is not built"
	DIR=$BATS_TEST_TMPDIR/demo
	OUT=$BATS_TEST_TMPDIR/out
	ERR=$BATS_TEST_TMPDIR/err
}

# demo [ENV=VALUE...]: runs the demo with stdout a file (not a terminal);
# sets status.
demo() {
	status=0
	env "$@" "$RUN" </dev/null >"$OUT" 2>"$ERR" || status=$?
}

# The process ids of bl-mockd and bl-manager that run for the demo in $1.
demo_procs() {
	pgrep -f -- "$1/" 2>/dev/null | grep -vx "$$" || true
}

session_file() { ls "$DIR"/bl-home/sessions/*.jsonl; }

@test "the demo runs to the end with no key and no network, and ends in a commit" {
	# No key anywhere (helpers unset them); a proxy that would swallow
	# any request; and, where user namespaces allow, no network at all.
	if unshare -rn true 2>/dev/null && command -v ip >/dev/null; then
		status=0
		http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 DEMO_DIR=$DIR \
			unshare -rn sh -c 'ip link set lo up && exec "$0"' "$RUN" </dev/null >"$OUT" 2>"$ERR" ||
			status=$?
	else
		demo http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 DEMO_DIR="$DIR"
	fi
	[ "$status" -eq 0 ] || { cat "$ERR"; tail -n 40 "$OUT"; fail "the demo exited $status"; }
	# it says where everything is
	grep -qx "demo: repository $DIR/calc" "$OUT"
	grep -q "^demo: session $DIR/bl-home/sessions/.*\.jsonl" "$OUT"
	grep -q 'export ANTHROPIC_API_KEY=' "$OUT"
	grep -q 'OPENAI_BASE_URL=http://127.0.0.1:8080' "$OUT"
	grep -q 'OPENAI_BASE_URL=http://127.0.0.1:11434/v1' "$OUT"
	# stdout not a terminal: bl-manager wrote JSON Lines, ending in a result
	grep '^{' "$OUT" | jq -se '.[-1].type == "result"' >/dev/null
	# a commit on top of the starting point, with the new module and tests
	assert_equal "$(git -C "$DIR/calc" rev-list --count HEAD)" 2
	assert_equal "$(git -C "$DIR/calc" log -1 --format=%s)" "Add a ^ (integer power) operator to calc"
	git -C "$DIR/calc" show --stat --format= HEAD | grep -q 'ipow.c'
	git -C "$DIR/calc" show --stat --format= HEAD | grep -q 'test_calc.c'
	[ -z "$(git -C "$DIR/calc" status --porcelain)" ] || fail "the work tree is not clean"
	# the committed code really passes its tests, the fix included
	run make -s -C "$DIR/calc" test
	assert_success
	assert_output --partial "ok: 2 ^ -1"
	assert_output --partial "all tests passed"
	# the epilogue showed the commit and the tests
	grep -q '^ ipow.c ' "$OUT"
	grep -q 'all tests passed' "$OUT"
}

@test "the demo's session is complete: every line JSON, a review loop, result completed with tests passed" {
	demo DEMO_DIR="$DIR"
	[ "$status" -eq 0 ] || { cat "$ERR"; fail "the demo exited $status"; }
	s=$(session_file)
	n=0
	while IFS= read -r line; do
		n=$((n + 1))
		jq -e 'type == "object" and (.type | type) == "string" and (.ts | type) == "string"' \
			<<<"$line" >/dev/null || fail "session line $n: $line"
	done <"$s"
	[ "$n" -gt 20 ]
	run jq -sc '[.[] | select(.type == "verdict") | "\(.agent):\(.verdict)"]' "$s"
	assert_output '["reviewer:changes_requested","reviewer:approve","tester:pass"]'
	run jq -sc '[.[] | select(.type == "event" and .event == "stage_start") | .agent]' "$s"
	assert_output '["planner","coder","reviewer","coder","reviewer","tester","committer"]'
	run jq -sc '[.[] | select(.type == "tool_use" and .agent == "coder") | .name] | unique' "$s"
	assert_output '["bash","edit","read","write"]'
	jq -se '[.[] | select(.type == "tool_result" and .agent == "coder" and .is_error)] | length == 0' "$s" >/dev/null ||
		fail "a coder tool call failed: $(jq -c 'select(.type == "tool_result" and .is_error)' "$s")"
	jq -se '[.[] | select(.type == "verdict" and .agent == "tester")][0] | .exit_code == 0' "$s" >/dev/null
	jq -se '[.[] | select(.type == "commit")] | length == 1' "$s" >/dev/null
	run jq -c 'select(.type == "result") | {status, tests_passed, review_cycles}' "$s"
	assert_output '{"status":"completed","tests_passed":true,"review_cycles":1}'
	# the saved document, in the seed's schema
	gz=${s%.jsonl}.json.gz
	[ -f "$gz" ] || fail "no $gz"
	run sh -c "gzip -dc '$gz' | jq -c '([has(\"session_id\", \"created_at\", \"completed_at\", \"user_request\",
		\"total_turns\", \"agents_used\", \"messages\", \"result\")] | all), .result.status, .result.tests_passed'"
	assert_success
	assert_output $'true\n"completed"\ntrue'
	# every scripted reply was used, none missing, and only the demo key was sent
	used=$(jq -s '[.[] | select(.reply >= 0)] | length' "$DIR/mockd-requests.jsonl")
	scripted=$(grep -c '^{' "$DEMO/script.jsonl")
	assert_equal "$used" "$scripted"
	assert_equal "$(jq -s '[.[] | select(.reply < 0)] | length' "$DIR/mockd-requests.jsonl")" 0
	run jq -r '.headers | .["x-api-key"] // (.authorization | ltrimstr("Bearer "))' "$DIR/mockd-requests.jsonl"
	assert_equal "$(printf '%s\n' "${lines[@]}" | sort -u)" "sk-ant-demo-offline-not-a-real-key"
	# and bl-mockd is gone
	[ -z "$(demo_procs "$DIR")" ] || fail "left running: $(ps -o pid,args -p "$(demo_procs "$DIR" | paste -sd,)")"
}

@test "an interrupted demo stops bl-manager and bl-mockd and keeps a stopped session" {
	DEMO_DIR=$DIR "$RUN" </dev/null >"$OUT" 2>"$ERR" &
	pid=$!
	# wait until the coder is at work, then interrupt
	for _ in $(seq 200); do
		grep -q '"stage_start".*"coder"\|"event":"stage_start","agent":"coder"' "$OUT" 2>/dev/null && break
		sleep 0.05
	done
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	assert_equal "$status" 143
	for _ in $(seq 40); do
		[ -z "$(demo_procs "$DIR")" ] && break
		sleep 0.05
	done
	[ -z "$(demo_procs "$DIR")" ] || fail "left running: $(ps -o pid,args -p "$(demo_procs "$DIR" | paste -sd,)")"
	s=$(session_file)
	run jq -r 'select(.type == "result") | .status' "$s"
	assert_output stopped
	# no commit was made
	assert_equal "$(git -C "$DIR/calc" rev-list --count HEAD)" 1
}

@test "DEMO_KEEP=0 removes the temp directory; a non-empty DEMO_DIR is refused" {
	mkdir -p "$BATS_TEST_TMPDIR/t"
	demo TMPDIR="$BATS_TEST_TMPDIR/t" DEMO_KEEP=0
	[ "$status" -eq 0 ] || { cat "$ERR"; fail "the demo exited $status"; }
	grep -q '^demo: repository ' "$OUT"
	assert_equal "$(ls -A "$BATS_TEST_TMPDIR/t")" ""

	mkdir -p "$DIR" && touch "$DIR/x"
	demo DEMO_DIR="$DIR"
	assert_equal "$status" 1
	grep -q 'not empty' "$ERR"
	assert_equal "$(ls -A "$DIR")" "x"
}

@test "the demo script is data that fits: bl-mockd takes it, every match is in a prompt, every role has replies" {
	mockd_start "$DEMO/script.jsonl"
	mockd_stop
	jq -r 'select(type == "object") | .match' <(grep '^{' "$DEMO/script.jsonl") | sort -u >"$BATS_TEST_TMPDIR/matches"
	while IFS= read -r m; do
		[ -n "$m" ] && [ "$m" != null ] || fail "a reply without match"
		grep -qF -- "$m" "$ROOT"/prompts/*.txt || fail "match '$m' is in no prompt"
	done <"$BATS_TEST_TMPDIR/matches"
	for role in Planner Coder Reviewer Tester Committer; do
		grep -qx "You are the $role" "$BATS_TEST_TMPDIR/matches" || fail "no replies for the $role"
	done
	# each match names one role only: no prompt holds another's
	for f in "$ROOT"/prompts/{planner,coder,reviewer,tester,committer}.txt; do
		assert_equal "$(grep -cFf "$BATS_TEST_TMPDIR/matches" "$f")" 1
	done
	# the starting project passes its own tests before the change
	cp -R "$DEMO/project" "$BATS_TEST_TMPDIR/p"
	run make -s -C "$BATS_TEST_TMPDIR/p" test
	assert_success
	assert_output --partial "all tests passed"
}
