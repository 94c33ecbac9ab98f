#!/usr/bin/env bats
# bl-manager end to end: pipelines of stand-in stages (tests/fixtures/
# bl-manager/stage, a shell + jq filter scripted per test, swapped in
# through agent_config.json "command"), the real bl-plan against bl-mockd
# for API timeouts, and a scripted Manager model for --route llm.  What is
# checked: the session (.jsonl line by line, the .json.gz document), the
# loops and their limits, retries of crashed / timed-out / API-failed
# stages, protocol errors, SIGINT, --resume, the live view, and that no
# stage process is left behind.

load helpers

FIX="$ROOT/tests/fixtures/bl-manager"
AGENTS="planner coder reviewer tester committer"

setup() {
	WS=$BATS_TEST_TMPDIR/ws
	CFG=$BATS_TEST_TMPDIR/config
	OUT=$BATS_TEST_TMPDIR/out.jsonl
	ERR=$BATS_TEST_TMPDIR/err.txt
	export STAGE_DIR=$BATS_TEST_TMPDIR/stages
	mkdir -p "$WS" "$CFG" "$STAGE_DIR"
	git -C "$WS" init -q
	git -C "$WS" config user.email test@example.com
	git -C "$WS" config user.name Test
	printf 'exit 0\n' >"$WS/test.sh"
	git -C "$WS" add -A
	git -C "$WS" commit -qm init
	cp "$FIX/config/system_config.json" "$CFG/"
	for a in $AGENTS lint; do ln -s "$FIX/stage" "$STAGE_DIR/$a"; done
	agents
}

teardown() {
	mockd_stop
}

# agents [NAME=COMMAND...]: agent_config.json with the five agents run by
# the stand-in stage, except those given (and any extra ones).
agents() {
	local spec=() a
	for a in $AGENTS; do spec+=("$a=$STAGE_DIR/$a"); done
	spec+=("$@")
	printf '%s\n' "${spec[@]}" | jq -Rn '{agents: [inputs | split("=") |
		{name: .[0], role: .[0], command: (.[1:] | join("="))}] | group_by(.name) | map(last)}' \
		>"$CFG/agent_config.json"
}

# limits JQ: edits system_config.json (e.g. '.workflow_limits.max_retry_cycles = 0').
limits() {
	jq "$1" "$CFG/system_config.json" >"$CFG/s.tmp" && mv "$CFG/s.tmp" "$CFG/system_config.json"
}

# does AGENT ACTION...: what the stand-in AGENT does on its runs 1, 2, ...
does() {
	local a=$1
	shift
	printf '%s\n' "$@" >"$STAGE_DIR/$a.script"
}

# manage [ARGS...]: runs bl-manager in $WS; status, stdout in $OUT,
# stderr in $ERR, the session log in $SESS, its id in $SID.
manage() {
	status=0
	bl-manager -C "$WS" --config "$CFG" "$@" </dev/null >"$OUT" 2>"$ERR" || status=$?
	find_session
}

find_session() {
	SESS=$(ls "$BL_HOME"/sessions/*.jsonl 2>/dev/null | head -n 1)
	SID=$(basename "${SESS:-x}" .jsonl)
}

# manage_bg TASK: bl-manager in the background (its pid in $pid) until a
# stand-in stage says "going to sleep"; $SESS and $SID are then set.
manage_bg() {
	bl-manager -C "$WS" --config "$CFG" "$1" </dev/null >"$OUT" 2>"$ERR" &
	pid=$!
	local i
	for i in $(seq 100); do
		find_session
		[ -n "$SESS" ] && grep -q '"going to sleep"' "$SESS" && break
		sleep 0.1
	done
	grep -q '"going to sleep"' "$SESS" || fail "the stage never started"
}

runs() { cat "$STAGE_DIR/$1.n" 2>/dev/null || echo 0; }
# The agents of the stage_start events, in order.
started() { jq -r 'select(.type == "event" and .event == "stage_start") | .agent' "$SESS" | paste -sd ' '; }
sel() { jq -c "select($1)" "$SESS"; }
count() { sel "$1" | wc -l | tr -d ' '; }
result() { tail -n 1 "$SESS" | jq -r "$1"; }

# Every line of the session is one JSON object with type and ts (jq -e).
assert_session_jsonl() {
	local line n=0
	[ -s "$SESS" ] || fail "no session log"
	while IFS= read -r line; do
		n=$((n + 1))
		jq -e 'type == "object" and (.type | type) == "string" and (.ts | type) == "string"' \
			<<<"$line" >/dev/null || fail "session line $n: $line"
	done <"$SESS"
	[ "$(tail -n 1 "$SESS" | jq -r .type)" = result ] || fail "the last line is not the result"
}

# No process is left in any stage's process group.
assert_no_stage_left() {
	local g
	for g in $(jq -r 'select(.event == "stage_start" and .pid) | .pid' "$SESS"); do
		if ps -e -o pgid= | tr -d ' ' | grep -qx "$g"; then
			ps -e -o pid,pgid,args | awk -v g="$g" '$2 == g' >&2
			fail "a process of stage group $g is still running"
		fi
	done
}

@test "default pipeline end to end: a commit, a valid session, the .json.gz document" {
	manage "add a feature"
	assert_equal "$status" 0
	assert_session_jsonl
	assert_equal "$(started)" "planner coder reviewer tester committer"
	# the commit is real and the commit line names it
	assert_equal "$(git -C "$WS" log --format=%s | head -n 1)" "stand-in commit 1"
	assert_equal "$(sel '.type == "commit"' | jq -r .sha)" "$(git -C "$WS" rev-parse HEAD)"
	assert_equal "$(git -C "$WS" show HEAD:work.txt)" "change 1"
	# task first, result last
	assert_equal "$(head -n 1 "$SESS" | jq -r '[.type, .text, .session, .v, .pipeline] | join(" ")')" \
		"task add a feature $SID 1 default"
	assert_equal "$(result '[.status, .tests_passed, .turns, .review_cycles] | join(" ")')" "completed true 5 0"
	assert_equal "$(result .cost_usd)" 0.0012
	[[ $(result .summary) == "committed "* ]]
	# every stage_start has its stage_end, ok, with a duration
	assert_equal "$(count '.event == "stage_end" and .status == "ok" and (.duration_ms | type) == "number"')" 5
	# JSON Lines on stdout (not a terminal): the same lines as the session
	diff "$OUT" "$SESS"
	# each stage got the conversation so far on stdin, and -C WORKSPACE
	jq -e -s '.[0].type == "task" and (map(select(.type == "message" and .agent == "planner")) | length) == 1' \
		"$STAGE_DIR/coder.1.in" >/dev/null
	assert_equal "$(sed -n 1,2p "$STAGE_DIR/coder.1.args" | paste -sd ' ')" "-C $(cd "$WS" && pwd -P)"
	# the saved document
	local gz=$BL_HOME/sessions/$SID.json.gz
	[ -f "$gz" ]
	zcat "$gz" | jq -e --arg id "$SID" '
		(keys | sort) == (["agents_used", "completed_at", "created_at", "messages", "pipeline",
		                   "result", "session_id", "total_turns", "user_request"]) and
		.session_id == $id and .user_request == "add a feature" and .total_turns == 5 and
		.agents_used == ["planner", "coder", "reviewer", "tester", "committer"] and
		.result.status == "completed" and .result.tests_passed == true and
		(.messages | length) > 10 and .messages[0].type == "task" and .messages[-1].type == "result" and
		(.created_at | test("^[0-9]{4}-")) and (.completed_at >= .created_at)' >/dev/null
	assert_equal "$(zcat "$gz" | jq '.messages | length')" "$(wc -l <"$SESS" | tr -d ' ')"
	assert_no_stage_left
}

@test "four changes_requested in a row: 3 review cycles, the coder rerun exactly 3 times, result limit" {
	does reviewer changes_requested changes_requested changes_requested changes_requested
	manage "add a feature"
	assert_equal "$status" 2
	assert_session_jsonl
	assert_equal "$(runs coder)" 4
	assert_equal "$(runs reviewer)" 4
	assert_equal "$(runs tester)" 0
	assert_equal "$(runs committer)" 0
	assert_equal "$(started)" "planner coder reviewer coder reviewer coder reviewer coder reviewer"
	assert_equal "$(sel '.event == "loop"' | jq -r '"\(.agent) \(.from) \(.cycle)/\(.max_cycles)"' | paste -sd ,)" \
		"coder reviewer 1/3,coder reviewer 2/3,coder reviewer 3/3"
	sel '.event == "loop"' | head -n 1 | jq -e '.detail | startswith("Review cycle 1/3")' >/dev/null
	assert_equal "$(count '.type == "error" and .kind == "limit" and .agent == "reviewer"')" 1
	assert_equal "$(result '[.status, .tests_passed, .review_cycles] | join(" ")')" "limit false 3"
	# the coder's reruns see the reviewer's latest verdict
	jq -e -s '[.[] | select(.type == "verdict")] | last | .verdict == "changes_requested"' \
		"$STAGE_DIR/coder.4.in" >/dev/null
	zcat "$BL_HOME/sessions/$SID.json.gz" | jq -e '.result.status == "limit"' >/dev/null
}

@test "max_turns bounds the stage runs, retries included" {
	limits '.workflow_limits.max_turns = 4'
	does coder crash
	manage "add a feature"
	assert_equal "$status" 2
	assert_equal "$(started)" "planner coder coder reviewer"
	assert_equal "$(sel '.type == "error" and .kind == "limit"' | jq -r '"\(.agent) \(.message)"')" \
		"tester max_turns reached: 4 stage runs"
	assert_equal "$(result '[.status, .turns] | join(" ")')" "limit 4"
}

@test "a failing test then a passing one: the coder rerun once, then the commit" {
	does tester fail pass
	manage "add a feature"
	assert_equal "$status" 0
	assert_equal "$(started)" "planner coder reviewer tester coder reviewer tester committer"
	assert_equal "$(runs coder)" 2
	assert_equal "$(runs committer)" 1
	assert_equal "$(sel '.event == "loop"' | jq -r '"\(.from) \(.cycle)/\(.max_cycles)"')" "tester 1/2"
	sel '.event == "loop"' | jq -e '.detail | startswith("Test cycle 1/2")' >/dev/null
	assert_equal "$(result '[.status, .tests_passed, .review_cycles] | join(" ")')" "completed true 0"
	assert_equal "$(git -C "$WS" log --format=%s | head -n 1)" "stand-in commit 1"
}

@test "WORKER_TIMEOUT_PLANNER=2 with a stalled API: group ended in 2-4 s, error timeout, retries, nothing left" {
	mockd_start "$(mk_script <<<'{"stall": 30, "repeat": 0}')"
	agents planner=bl-plan
	limits '.workflow_limits.max_retry_cycles = 1'
	local t0=$(date +%s%N)
	WORKER_TIMEOUT_PLANNER=2 manage "add a feature"
	local ms=$((($(date +%s%N) - t0) / 1000000))
	assert_equal "$status" 75
	assert_session_jsonl
	assert_equal "$(started)" "planner planner"
	assert_equal "$(sel '.event == "stage_start"' | jq -r '.command | split("/") | last' | sort -u)" bl-plan
	# each attempt ended 2-4 s after its start
	local d
	for d in $(sel '.event == "stage_end"' | jq -r .duration_ms); do
		[ "$d" -ge 2000 ] && [ "$d" -le 4000 ] || fail "an attempt took $d ms"
	done
	[ "$ms" -lt 12000 ] || fail "the run took $ms ms"
	assert_equal "$(count '.event == "timeout" and .agent == "planner"')" 2
	[ "$(count '.type == "error" and .kind == "timeout" and .agent == "planner"')" -ge 2 ]
	assert_equal "$(sel '.event == "retry"' | jq -r '"\(.agent) \(.attempt)"')" "planner 2"
	assert_equal "$(sel '.event == "stage_end"' | jq -r .status | sort -u)" timeout
	assert_equal "$(result .status)" timeout
	assert_equal "$(runs coder)" 0
	assert_equal "$(mockd_requests)" 2
	assert_no_stage_left
}

@test "a workspace .env is read before config: its WORKER_TIMEOUT_CODER holds" {
	does coder "deaf 60"
	limits '.workflow_limits.max_retry_cycles = 0'
	printf 'WORKER_TIMEOUT_CODER=1\n' >"$WS/.env"
	manage "add a feature"
	assert_equal "$status" 75
	assert_equal "$(sel '.event == "stage_start" and .agent == "coder"' | jq -r .timeout_s)" 1
	assert_equal "$(sel '.event == "stage_end" and .agent == "coder"' | jq -r .status)" timeout
}

@test "a stage that ignores SIGTERM is killed after the grace period" {
	does coder "deaf 60"
	limits '.workflow_limits.max_retry_cycles = 0'
	WORKER_TIMEOUT_CODER=1 manage "add a feature"
	assert_equal "$status" 75
	local d
	d=$(sel '.event == "stage_end" and .agent == "coder"' | jq -r .duration_ms)
	[ "$d" -ge 3900 ] && [ "$d" -le 6000 ] || fail "the coder took $d ms"
	sel '.type == "error" and .kind == "timeout"' | jq -e '.message | contains("killed after the grace")' >/dev/null
	assert_equal "$(result .status)" timeout
	assert_no_stage_left
}

@test "a stage SIGKILLed mid-run: a crash error, a retry, every line written before the kill kept" {
	does coder crash
	manage "add a feature"
	assert_equal "$status" 0
	assert_session_jsonl
	assert_equal "$(started)" "planner coder coder reviewer tester committer"
	assert_equal "$(sel '.type == "error"' | jq -r '"\(.agent) \(.kind) \(.retryable)"')" "coder crash true"
	sel '.type == "error"' | jq -e '.message | contains("SIGKILL")' >/dev/null
	assert_equal "$(sel '.event == "retry"' | jq -r '"\(.agent) \(.attempt)"')" "coder 2"
	assert_equal "$(sel '.type == "tool_use" and .id == "toolu_c"' | jq -r .name)" read
	assert_equal "$(sel '.type == "tool_result" and .tool_use_id == "toolu_c"' | jq -r .content)" "before the kill"
	assert_equal "$(count '.type == "message" and .text == "written before the kill"')" 1
	assert_equal "$(sel '.event == "stage_end" and .agent == "coder"' | jq -r '"\(.attempt) \(.status) \(.exit_code)"' | paste -sd ,)" \
		"1 crash 137,2 ok 0"
	assert_equal "$(result .status)" completed
}

@test "an API-failed stage (exit 69) is retried; its own error line is not repeated" {
	does coder api
	manage "add a feature"
	assert_equal "$status" 0
	assert_equal "$(runs coder)" 2
	assert_equal "$(sel '.type == "error"' | jq -r '"\(.agent) \(.kind)"')" "coder api"
	assert_equal "$(count '.event == "retry"')" 1
}

@test "retries stop at max_retry_cycles: result failed" {
	does coder "exit 70" "exit 70" "exit 70" "exit 70"
	manage "add a feature"
	assert_equal "$status" 1
	assert_equal "$(runs coder)" 3
	assert_equal "$(count '.event == "retry"')" 2
	assert_equal "$(count '.type == "error" and .kind == "crash"')" 3
	assert_equal "$(result .status)" failed
	[[ $(result .summary) == "coder failed on every attempt (3, max_retry_cycles 2): coder exited 70 (internal error)" ]]
	[[ $(cat "$ERR") == *"failed"* ]]
}

@test "a non-retryable failure (exit 64) fails at once" {
	does coder "exit 64"
	manage "add a feature"
	assert_equal "$status" 1
	assert_equal "$(runs coder)" 1
	assert_equal "$(count '.event == "retry"')" 0
	assert_equal "$(sel '.type == "error"' | jq -r .kind)" config
}

@test "an invalid line is a protocol error and the stage fails" {
	does coder bad
	manage "add a feature"
	assert_equal "$status" 1
	assert_session_jsonl
	assert_equal "$(runs coder)" 1
	assert_equal "$(runs reviewer)" 0
	assert_equal "$(sel '.type == "error"' | jq -r '"\(.agent) \(.kind)"')" "coder protocol"
	sel '.type == "error"' | jq -e '.message | contains("line 1")' >/dev/null
	assert_equal "$(result .status)" failed
}

@test "what a stage leaves running in its group is killed when it exits" {
	does coder bg
	manage "add a feature"
	assert_equal "$status" 0
	local pid
	pid=$(cat "$STAGE_DIR/coder.1.bg")
	! kill -0 "$pid" 2>/dev/null || fail "the coder's background sleep $pid survived"
	assert_no_stage_left
}

@test "a shell+jq custom stage swapped in through agent_config runs in the pipeline" {
	agents lint="$FIX/lint-gate"
	does coder todo
	manage --pipeline "$FIX/pipelines/lint.json" "add a feature"
	assert_equal "$status" 0
	assert_equal "$(started)" "planner coder lint coder lint committer"
	assert_equal "$(sel '.type == "verdict" and .agent == "lint"' | jq -r .verdict | paste -sd ' ')" "fail pass"
	sel '.type == "verdict" and .verdict == "fail"' | jq -e '.findings[0] | contains("work.txt")' >/dev/null
	assert_equal "$(sel '.event == "loop"' | jq -r '"\(.from) \(.agent) \(.cycle)/\(.max_cycles)"')" "lint coder 1/2"
	assert_equal "$(git -C "$WS" show HEAD:work.txt)" "change 2"
	assert_equal "$(head -n 1 "$SESS" | jq -r .pipeline)" "$FIX/pipelines/lint.json"
}

@test "SIGINT mid-stage: result stopped, the session saved, no orphans" {
	does coder "sleep 60"
	manage_bg "add a feature"
	# one bl-manager per session
	run bl-manager --resume "$SID" -C "$WS" --config "$CFG" </dev/null
	assert_equal "$status" 64
	assert_output --partial "is in use by another bl-manager"
	local t0=$(date +%s%N)
	kill -INT "$pid"
	status=0
	wait "$pid" || status=$?
	local ms=$((($(date +%s%N) - t0) / 1000000))
	assert_equal "$status" 75
	[ "$ms" -lt 3000 ] || fail "bl-manager took $ms ms to stop"
	assert_session_jsonl
	assert_equal "$(result '[.status, .tests_passed] | join(" ")')" "stopped false"
	[[ $(result .summary) == *SIGINT* ]]
	assert_equal "$(sel '.event == "stage_end" and .agent == "coder"' | jq -r .status)" stopped
	zcat "$BL_HOME/sessions/$SID.json.gz" | jq -e '.result.status == "stopped"' >/dev/null
	assert_no_stage_left
	assert_equal "$(runs reviewer)" 0
}

@test "--resume continues a stopped session from its last completed stage" {
	does coder "sleep 60"
	manage_bg "add a feature"
	kill -INT "$pid"
	wait "$pid" || true
	assert_equal "$(result .status)" stopped
	local lines
	lines=$(wc -l <"$SESS")

	# the coder's second run is the default: the run goes on from there
	status=0
	bl-manager --resume "$SID" -C "$WS" --config "$CFG" </dev/null >"$OUT" 2>"$ERR" || status=$?
	assert_equal "$status" 0
	assert_session_jsonl
	assert_equal "$(runs planner)" 1
	assert_equal "$(runs coder)" 2
	assert_equal "$(started)" "planner coder coder reviewer tester committer"
	sed -n "$((lines + 1))p" "$SESS" | jq -e '.event == "resume" and (.detail | contains("at coder"))' >/dev/null
	# stdout holds only the new lines
	assert_equal "$(head -n 1 "$OUT" | jq -r .event)" resume
	assert_equal "$(count '.type == "task"')" 1
	assert_equal "$(result '[.status, .tests_passed] | join(" ")')" "completed true"
	# the resumed coder saw the plan
	grep -q '"plan 1: change work.txt"' "$STAGE_DIR/coder.2.in"
	zcat "$BL_HOME/sessions/$SID.json.gz" | jq -e '.result.status == "completed" and .total_turns == 6' >/dev/null
	# a completed session is not resumed again
	status=0
	bl-manager --resume "$SID" -C "$WS" --config "$CFG" </dev/null >"$OUT" 2>"$ERR" || status=$?
	assert_equal "$status" 64
	[[ $(cat "$ERR") == *"already completed"* ]]
}

@test "--resume after a review loop keeps the cycle count" {
	does reviewer changes_requested changes_requested changes_requested changes_requested
	does coder default default "sleep 60"
	manage_bg "add a feature"
	kill -INT "$pid"
	wait "$pid" || true
	rm "$STAGE_DIR/coder.script"
	status=0
	bl-manager --resume "$SID" -C "$WS" --config "$CFG" </dev/null >"$OUT" 2>"$ERR" || status=$?
	# cycles 1 and 2 happened before the stop; cycle 3 after; the 4th verdict hits the limit
	assert_equal "$status" 2
	assert_equal "$(runs reviewer)" 4
	assert_equal "$(sel '.event == "loop"' | jq -r .cycle | paste -sd ' ')" "1 2 3"
	assert_equal "$(result .status)" limit
}

@test "@agent at the start of the task starts the pipeline there" {
	manage "@coder fix the typo"
	assert_equal "$status" 0
	assert_equal "$(started)" "coder reviewer tester committer"
	assert_equal "$(head -n 1 "$SESS" | jq -r '"\(.text)|\(.start)"')" "fix the typo|coder"
	manage_status=0
	bl-manager -C "$WS" --config "$CFG" "@nobody do it" </dev/null >"$OUT" 2>"$ERR" || manage_status=$?
	assert_equal "$manage_status" 64
	[[ $(cat "$ERR") == *"@nobody: no such stage"* ]]
}

@test "--pipeline quick runs plan, code, test" {
	manage --pipeline quick "add a feature"
	assert_equal "$status" 0
	assert_equal "$(started)" "planner coder tester"
	assert_equal "$(head -n 1 "$SESS" | jq -r .pipeline)" quick
}

@test "--route llm: the manager model calls planner, coder, tester, then finish" {
	mockd_start "$(mk_script <<'EOF'
{"match": "Manager of a small software team", "content": [{"type": "text", "text": "Planning first."}, {"type": "tool_use", "id": "toolu_m1", "name": "planner", "input": {"instructions": "plan the feature"}}]}
{"match": "Manager of a small software team", "content": [{"type": "tool_use", "id": "toolu_m2", "name": "coder", "input": {"instructions": "implement the plan"}}]}
{"match": "Manager of a small software team", "content": [{"type": "tool_use", "id": "toolu_m3", "name": "tester", "input": {"instructions": "run the tests"}}]}
{"match": "Manager of a small software team", "content": [{"type": "tool_use", "id": "toolu_m4", "name": "finish", "input": {"summary": "feature added, tests pass"}}]}
EOF
)"
	manage --route llm "add a feature"
	assert_equal "$status" 0
	assert_session_jsonl
	assert_equal "$(started)" "planner coder tester"
	assert_equal "$(result '[.status, .tests_passed, .summary] | join("|")')" "completed|true|feature added, tests pass"
	assert_equal "$(mockd_requests)" 4
	# one tool per stage plus finish
	assert_equal "$(mockd_request 1 | jq -r '[.body.tools[].name] | join(" ")')" \
		"planner coder reviewer tester committer finish"
	mockd_request 1 | jq -e '.body.system | tostring | contains("Stages (one tool each)")' >/dev/null
	# the tool result is the stage's final message
	mockd_request 2 | jq -e '[.body.messages[-1].content[] | select(.type == "tool_result")][0] |
		.tool_use_id == "toolu_m1" and (.content | tostring | contains("plan 1: change work.txt"))' >/dev/null
	mockd_request 4 | jq -e '.body.messages[-1].content[0].content | tostring | contains("Verdict: pass")' >/dev/null
	# the instructions are in the conversation, before the stage, and the stage saw them
	assert_equal "$(sel '.type == "message" and .agent == "manager" and .role == "user"' | jq -r .text | paste -sd ,)" \
		"plan the feature,implement the plan,run the tests"
	grep -q '"implement the plan"' "$STAGE_DIR/coder.1.in"
	assert_equal "$(sel '.type == "tool_use" and .agent == "manager"' | jq -r .name | paste -sd ' ')" \
		"planner coder tester finish"
	assert_equal "$(count '.type == "usage" and .agent == "manager"')" 4
	assert_equal "$(head -n 1 "$SESS" | jq -r .route)" llm
}

@test "--route llm: a manager that keeps calling the reviewer is stopped by the limit" {
	mockd_start "$(mk_script <<'EOF'
{"match": "Manager of a small software team", "content": [{"type": "tool_use", "name": "reviewer", "input": {"instructions": "review again"}}], "repeat": 0}
EOF
)"
	# a manager agent in agent_config.json chooses the model (its command is not run)
	jq '.agents += [{name: "manager", role: "manager", command: "bl-manager", model: "claude-haiku-4-5"}]' \
		"$CFG/agent_config.json" >"$CFG/a.tmp" && mv "$CFG/a.tmp" "$CFG/agent_config.json"
	manage --route llm "add a feature"
	assert_equal "$status" 2
	assert_equal "$(mockd_request 1 | jq -r .body.model)" claude-haiku-4-5
	assert_session_jsonl
	assert_equal "$(runs reviewer)" 4
	assert_equal "$(sel '.event == "loop"' | jq -r '"\(.cycle)/\(.max_cycles)"' | paste -sd ' ')" "1/3 2/3 3/3"
	assert_equal "$(count '.type == "error" and .kind == "limit"')" 1
	assert_equal "$(result .status)" limit
	assert_equal "$(mockd_requests)" 5
	sel '.type == "tool_result" and .agent == "manager"' | tail -n 1 | jq -e '.is_error and (.content | contains("limit"))' >/dev/null
}

@test "the delta lines are shown (--json -s) but never stored" {
	manage --json -s "add a feature"
	assert_equal "$status" 0
	[ "$(jq -c 'select(.type == "delta")' "$OUT" | wc -l)" -ge 2 ]
	assert_equal "$(count '.type == "delta"')" 0
	grep -qx -- -s "$STAGE_DIR/planner.1.args"
	# without -s, no stage is asked to stream
	rm -rf "$BL_HOME" "$STAGE_DIR"/*.n
	manage --json "add a feature"
	assert_equal "$(jq -c 'select(.type == "delta")' "$OUT" | wc -l | tr -d ' ')" 0
	! grep -qx -- -s "$STAGE_DIR/planner.1.args"
}

@test "the live view on a terminal: stage headers, tool lines, cycle counters, the summary" {
	does reviewer changes_requested
	status=0
	# wide enough that the session path is not wrapped
	COLUMNS=400 script -qec "stty cols 400 2>/dev/null; bl-manager -C '$WS' --config '$CFG' --no-wait 'add a feature'" \
		/dev/null >"$OUT" </dev/null || status=$?
	assert_equal "$status" 0
	local view
	view=$(sed 's/\x1b\[[0-9;]*m//g; s/\r$//' "$OUT")
	[[ $view == *"◆ task: add a feature"* ]]
	[[ $view == *"━━ planner ━"* ]]
	[[ $view == *"✎ write work.txt"* ]]
	[[ $view == *"✘ reviewer: changes_requested"* ]]
	[[ $view == *"↺ Review cycle 1/3: reviewer changes_requested, back to coder"* ]]
	[[ $view == *"✔ tester: pass"*"(sh test.sh → exit 0)"* ]]
	[[ $view == *"● commit "* ]]
	[[ $view == *"status   completed"* ]]
	[[ $view == *"tests    passed"* ]]
	[[ $view == *"cost     \$0.0018"* ]]
	[[ $view == *"session  $BL_HOME/sessions/"*".jsonl"* ]]
	# the plan text streamed once, not twice
	assert_equal "$(grep -c 'plan 1: change work.txt' <<<"$view")" 1
}

@test "compression off: the document is <id>.json" {
	limits '.performance.enable_compression = false'
	manage "add a feature"
	assert_equal "$status" 0
	jq -e '.result.status == "completed"' "$BL_HOME/sessions/$SID.json" >/dev/null
	[ ! -e "$BL_HOME/sessions/$SID.json.gz" ]
}

@test "stage stderr goes to the stage log" {
	does coder nonsense
	limits '.workflow_limits.max_retry_cycles = 0'
	manage "add a feature"
	assert_equal "$status" 1
	grep -q "unknown action 'nonsense'" "$BL_HOME/logs/stages/$SID.log"
}

@test "usage and configuration errors" {
	run bl-manager -C "$WS" --config "$CFG" </dev/null
	assert_equal "$status" 64
	assert_output --partial "no task"
	run bl-manager -C "$WS" --config "$CFG" --route bogus "x" </dev/null
	assert_equal "$status" 64
	run bl-manager -C "$BATS_TEST_TMPDIR/nowhere" --config "$CFG" "x" </dev/null
	assert_equal "$status" 64
	run bl-manager -C "$WS" --config "$CFG" --pipeline nosuch "x" </dev/null
	assert_equal "$status" 78
	assert_output --partial "pipeline 'nosuch'"
	printf '{"stages":[{"agent":"planner","on":{"fail":"coderr"}}]}\n' >"$BATS_TEST_TMPDIR/bad.json"
	run bl-manager -C "$WS" --config "$CFG" --pipeline "$BATS_TEST_TMPDIR/bad.json" "x" </dev/null
	assert_equal "$status" 78
	assert_output --partial "stages[0].on.fail: no stage 'coderr'"
	agents coder=/nonexistent/bl-code
	run bl-manager -C "$WS" --config "$CFG" "x" </dev/null
	assert_equal "$status" 78
	assert_output --partial "agent 'coder': cannot find its command '/nonexistent/bl-code'"
	run bl-manager --resume nosuch-session -C "$WS" --config "$CFG" </dev/null
	assert_equal "$status" 64
	assert_output --partial "no session 'nosuch-session'"
	[ ! -d "$BL_HOME/sessions" ] || [ -z "$(ls "$BL_HOME/sessions")" ]
	run bl-manager --version
	assert_output --regexp '^bl-manager \(better-llm\) [0-9]'
}

@test "the real filters end to end: bl-plan, bl-code, bl-review, bl-test, bl-commit against bl-mockd" {
	local pfix=$ROOT/tests/fixtures/pipeline
	[ -f "$pfix/script.jsonl" ] || skip "tests/fixtures/pipeline is not there"
	rm -rf "$WS"
	cp -R "$pfix/project" "$WS"
	git -C "$WS" init -q -b main
	git -C "$WS" config user.name "Manager Test"
	git -C "$WS" config user.email manager@example.com
	git -C "$WS" add -A
	git -C "$WS" commit -q -m "Calculator with add()"
	local base
	base=$(git -C "$WS" rev-parse HEAD)
	cp "$pfix/config/system_config.json" "$pfix/config/agent_config.json" "$CFG/"
	mockd_start "$pfix/script.jsonl"
	manage "add a sub function with a test"
	assert_equal "$status" 0
	assert_session_jsonl
	assert_equal "$(started)" "planner coder reviewer tester committer"
	assert_equal "$(sel '.event == "stage_start"' | jq -r '.command | split("/") | last' | paste -sd ' ')" \
		"bl-plan bl-code bl-review bl-test bl-commit"
	assert_equal "$(result '[.status, .tests_passed, .turns, .review_cycles] | join(" ")')" "completed true 5 0"
	# a real commit on top of the base, of the changed files, tested from scratch
	assert_equal "$(git -C "$WS" log -1 --format=%s)" "Add sub() to the calculator"
	assert_equal "$(git -C "$WS" rev-parse HEAD~1)" "$base"
	assert_equal "$(sel '.type == "commit"' | jq -r .sha)" "$(git -C "$WS" rev-parse HEAD)"
	assert_equal "$(git -C "$WS" status --porcelain)" ""
	run make -s -C "$WS" test
	assert_output --partial "all tests passed"
	# one request per scripted reply, in order; the cost is the sum of the usage lines
	assert_equal "$(mockd_requests)" 10
	assert_equal "$(jq -r .reply "$MOCKD_LOG" | paste -sd ' ')" "0 1 2 3 4 5 6 7 8 9"
	assert_equal "$(count '.type == "usage"')" 10
	assert_equal "$(result .cost_usd)" "$(jq -s '[.[] | select(.type == "usage") | .cost_usd] | add * 1e6 | round / 1e6' "$SESS")"
	zcat "$BL_HOME/sessions/$SID.json.gz" | jq -e '.result.tests_passed == true and .total_turns == 5' >/dev/null
	assert_no_stage_left
}

# on_tty INPUT ARGS...: runs bl-manager on a pseudo-terminal (script(1))
# with INPUT typed ahead; sets status, the view (escapes and CRs removed)
# in $OUT.
on_tty() {
	local input=$1 cmd=bl-manager a
	shift
	for a in -C "$WS" --config "$CFG" "$@"; do cmd+=" $(printf '%q' "$a")"; done
	status=0
	printf '%b' "$input" | timeout 60 script -qec "$cmd" /dev/null >"$OUT.raw" 2>"$ERR" || status=$?
	sed 's/\x1b\[[0-9;]*m//g; s/\r$//' "$OUT.raw" >"$OUT"
	find_session
}

@test "interactive: /pause takes a message into the conversation" {
	on_tty '/pause\nuse tabs, not spaces\n' --wait 3 "add a feature"
	assert_equal "$status" 0
	assert_session_jsonl
	assert_equal "$(sel '.type == "message" and .agent == "user"' | jq -r '"\(.role) \(.text)"')" \
		"user use tabs, not spaces"
	assert_equal "$(sel '.type == "event" and (.event == "pause" or .event == "resume")' | jq -r .event | paste -sd ' ')" \
		"pause resume"
	# it came after the planner, and the coder saw it
	assert_equal "$(jq -r 'select(.type == "message") | .agent' "$SESS" | head -n 2 | paste -sd ' ')" "planner user"
	grep -q '"use tabs, not spaces"' "$STAGE_DIR/coder.1.in"
	grep -q '/pause · /stop' "$OUT"
	assert_equal "$(result .status)" completed
}

@test "interactive: /stop after a stage stops the run" {
	on_tty '/stop\n' --wait 3 "add a feature"
	assert_equal "$status" 75
	assert_equal "$(started)" planner
	assert_equal "$(result '[.status, .summary] | join("|")')" "stopped|stopped by the user"
	grep -q 'status   stopped' "$OUT"
}

@test "interactive: past a limit the user may allow one more cycle" {
	does reviewer changes_requested changes_requested changes_requested changes_requested approve
	on_tty 'o\n' --no-wait "add a feature"
	assert_equal "$status" 0
	assert_equal "$(runs reviewer)" 5
	assert_equal "$(sel '.event == "loop"' | jq -r '"\(.cycle)/\(.max_cycles)"' | paste -sd ' ')" "1/3 2/3 3/3 4/4"
	grep -q 'Review cycle limit (max_review_iterations = 3) reached. \[s\]top or \[o\]ne more?' "$OUT"
	assert_equal "$(result '[.status, .review_cycles] | join(" ")')" "completed 4"
}

@test "a stage program that cannot be executed: error kind config, reported through the exec pipe" {
	printf '#!/nonexistent/interpreter\n' >"$BATS_TEST_TMPDIR/broken"
	chmod +x "$BATS_TEST_TMPDIR/broken"
	agents coder="$BATS_TEST_TMPDIR/broken"
	manage "add a feature"
	assert_equal "$status" 1
	assert_session_jsonl
	assert_equal "$(runs coder)" 0
	sel '.type == "error" and .agent == "coder"' | jq -e '.kind == "config" and
		(.message | test("cannot run .*/broken.: No such file or directory"))' >/dev/null
	assert_equal "$(sel '.event == "stage_end" and .agent == "coder"' | jq -r '"\(.status) \(.exit_code)"')" "config 127"
	assert_equal "$(count '.event == "retry"')" 0
	assert_equal "$(result .status)" failed
}
