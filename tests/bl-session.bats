#!/usr/bin/env bats
# bl-session over sessions made by real bl-manager runs: the real bl-plan
# against bl-mockd as the planner, the stand-in stage of tests/fixtures/
# bl-manager for the other stages (as in bl-manager.bats).  Made once:
# A completed, B failed (its coder exits 70 on every attempt; a long,
# different task), C stopped by SIGINT while its coder sleeps.  Checked:
# list (order, status, task, turns, cost against jq over the .jsonl,
# the width, --json), show (the same view as bl-view), export (the
# seed's keys and the .jsonl's lines, json and json.gz, -o, built from
# the log when the final file is missing), resume to completion, gc
# (--keep, --older-than, --dry-run, never a session a running
# bl-manager holds), abbreviated, ambiguous and unknown ids, usage.

load helpers

STAND_IN="$ROOT/tests/fixtures/bl-manager/stage"
AGENTS="coder reviewer tester committer"
LONG_TASK="fix the login bug: the session cookie is not renewed after a password change, so every user is logged out at once"

# paths: the files made once, shared by every test.
paths() {
	F=$BATS_FILE_TMPDIR
	WS=$F/ws CFG=$F/config BIN=$F/bin MADE=$F/made
}

# manager STAGE_DIR ARGS...: one bl-manager run in $WS; stdout in $F/out.
manager() {
	local sd=$1
	shift
	mkdir -p "$sd"
	STAGE_DIR=$sd bl-manager -C "$WS" --config "$CFG" "$@" </dev/null >"$F/out" 2>"$F/err"
}

# The id of the session of the last run (its task line names it).
last_id() { head -n 1 "$F/out" | jq -r .session; }

# start_sleeper STAGE_DIR TASK: a bl-manager whose coder sleeps 60 s,
# in the background; returns once the coder sleeps; $PID, $SLEEPER.
start_sleeper() {
	local sd=$1 i
	mkdir -p "$sd"
	echo "sleep 60" >"$sd/coder.script"
	STAGE_DIR=$sd bl-manager -C "$WS" --config "$CFG" "$2" </dev/null >"$F/out" 2>"$F/err" &
	PID=$!
	for i in $(seq 150); do
		grep -q '"going to sleep"' "$F/out" 2>/dev/null && break
		sleep 0.1
	done
	grep -q '"going to sleep"' "$F/out" || fail "the coder never started"
	SLEEPER=$(last_id)
}

setup_file() {
	setup_mockd_env
	paths
	mkdir -p "$WS" "$CFG" "$BIN"
	git -C "$WS" init -q
	git -C "$WS" config user.email test@example.com
	git -C "$WS" config user.name Test
	printf 'exit 0\n' >"$WS/test.sh"
	git -C "$WS" add -A
	git -C "$WS" commit -qm init
	# real calls every time: no response cache
	jq '.performance.enable_caching = false' "$ROOT/tests/fixtures/bl-manager/config/system_config.json" \
		>"$CFG/system_config.json"
	local a spec=("planner=bl-plan")
	for a in $AGENTS; do
		ln -s "$STAND_IN" "$BIN/$a"
		spec+=("$a=$BIN/$a")
	done
	printf '%s\n' "${spec[@]}" | jq -Rn '{agents: [inputs | split("=") |
		{name: .[0], role: .[0], command: .[1]}]}' >"$CFG/agent_config.json"
	mockd_start "$(mk_script "$F/script.jsonl" <<'EOF'
{"content":[{"type":"text","text":"## Plan\n1. Change work.txt."}],"usage":{"input_tokens":1200,"output_tokens":40},"repeat":0}
EOF
)"
	manager "$F/st.A" "add a feature" || fail "run A: exit $?, $(cat "$F/err")"
	last_id >"$F/id.A"
	printf 'exit 70\nexit 70\nexit 70\n' >"$F/st.B.script"
	mkdir -p "$F/st.B" && mv "$F/st.B.script" "$F/st.B/coder.script"
	local rc=0
	manager "$F/st.B" "$LONG_TASK" || rc=$?
	[ "$rc" = 1 ] || fail "run B: exit $rc, $(cat "$F/err")"
	last_id >"$F/id.B"
	start_sleeper "$F/st.C" "add a feature"
	kill -INT "$PID"
	rc=0
	wait "$PID" || rc=$?
	[ "$rc" = 75 ] || fail "run C: exit $rc"
	echo "$SLEEPER" >"$F/id.C"
	mockd_stop
	cp -r "$BL_HOME/sessions" "$MADE"
}

setup() {
	paths
	A=$(cat "$F/id.A") B=$(cat "$F/id.B") C=$(cat "$F/id.C")
	S=$BL_HOME/sessions
	mkdir -p "$BL_HOME"
	cp -r "$MADE" "$S"
	OUT=$BATS_TEST_TMPDIR/out
	ERR=$BATS_TEST_TMPDIR/err
}

teardown() {
	if [ -n "${PID:-}" ]; then
		kill -INT "$PID" 2>/dev/null
		wait "$PID" 2>/dev/null || true
	fi
	mockd_stop
}

# bls ARGS...: bl-session; $status, stdout in $OUT, stderr in $ERR.
bls() {
	status=0
	bl-session "$@" >"$OUT" 2>"$ERR" || status=$?
}

# The cost of a session: the sum of its usage lines' cost_usd.
cost_of() { jq -s 'map(select(.type == "usage") | .cost_usd) | add // 0' "$S/$1.jsonl"; }
turns_of() { jq -s 'map(select(.type == "event" and .event == "stage_start")) | length' "$S/$1.jsonl"; }

@test "the sessions were made by real runs: completed, failed, stopped; the planner called bl-mockd" {
	assert_equal "$(ls "$S" | sort | paste -sd ' ')" \
		"$(printf '%s\n' "$A.json.gz" "$A.jsonl" "$B.json.gz" "$B.jsonl" "$C.json.gz" "$C.jsonl" | sort | paste -sd ' ')"
	local id
	assert_equal "$(tail -n 1 "$S/$A.jsonl" | jq -r .status)" completed
	assert_equal "$(tail -n 1 "$S/$B.jsonl" | jq -r .status)" failed
	assert_equal "$(tail -n 1 "$S/$C.jsonl" | jq -r .status)" stopped
	for id in "$A" "$B" "$C"; do
		jq -se 'map(select(.type == "usage" and .agent == "planner" and .cached == false and
			.model == "claude-sonnet-4-5" and .input_tokens == 1200)) | length == 1' "$S/$id.jsonl" >/dev/null ||
			fail "$id: no real planner call"
		[ "$(cost_of "$id")" != 0 ] || fail "$id: no cost"
	done
	assert_equal "$(jq -r 'select(.type == "task") | .text' "$S/$B.jsonl")" "$LONG_TASK"
}

@test "list: newest first, with date, status, turns, cost and task" {
	COLUMNS=400 bls list
	assert_equal "$status" 0
	assert_equal "$(wc -l <"$OUT" | tr -d ' ')" 4
	assert_equal "$(head -n 1 "$OUT" | tr -s ' ')" "ID DATE STATUS TURNS COST TASK"
	assert_equal "$(sed 1d "$OUT" | awk '{print $1}' | paste -sd ' ')" "$C $B $A"
	local id line want
	for id in "$A" "$B" "$C"; do
		line=$(grep "^$id " "$OUT")
		want=$(jq -r --arg id "$id" --argjson turns "$(turns_of "$id")" --argjson cost "$(cost_of "$id")" \
			-s '(map(select(.type == "result")) | last | .status) as $st |
			    (map(select(.type == "task")) | first | .text) as $task |
			    "\($st) \($turns) $\($cost * 10000 | round / 10000) \($task)"' "$S/$id.jsonl")
		# the cost with 4 decimals
		want=$(awk -v w="$want" 'BEGIN { n = split(w, f, " "); c = substr(f[3], 2);
			printf "%s %s $%.4f", f[1], f[2], c; for (i = 4; i <= n; i++) printf " %s", f[i] }')
		assert_equal "$(awk '{ $1 = $2 = $3 = $4 = ""; print }' <<<"$line" | sed 's/^ *//')" "$want"
	done
	# the date is the task line's time, in local time, as ls(1) shows it
	local ts
	ts=$(head -n 1 "$S/$A.jsonl" | jq -r .ts)
	assert_equal "$(grep "^$A " "$OUT" | awk '{print $2, $3, $4}')" "$(date -d "$ts" '+%b %e %H:%M' | tr -s ' ')"
	# turns: A ran 5 stages, B the planner and 3 coder attempts, C planner and coder
	assert_equal "$(sed 1d "$OUT" | awk '{print $6}' | paste -sd ' ')" "2 4 5"
}

@test "list: the task is cut to the width" {
	COLUMNS=80 bls list
	assert_equal "$status" 0
	local line
	while IFS= read -r line; do
		[ "$(printf '%s' "$line" | LC_ALL=C.UTF-8 wc -m)" -le 80 ] || fail "wider than 80: $line"
	done <"$OUT"
	line=$(grep "^$B " "$OUT")
	[[ $line == *"  fix the login…" ]] || fail "not cut: $line"
	[[ $line != *"at once"* ]]
	# short tasks are not cut
	[[ $(grep "^$A " "$OUT") == *"  add a feature" ]]
}

@test "list --json: every session, newest first, with the figures of its .jsonl" {
	bls list --json
	assert_equal "$status" 0
	assert_equal "$(jq -r 'map(.id) | join(" ")' "$OUT")" "$C $B $A"
	local id
	for id in "$A" "$B" "$C"; do
		jq -e --arg id "$id" --argjson turns "$(turns_of "$id")" --argjson cost "$(cost_of "$id")" \
			--slurpfile log "$S/$id.jsonl" '.[] | select(.id == $id) |
			.turns == $turns and ((.cost_usd - $cost) | fabs < 1e-12) and
			.task == ($log | map(select(.type == "task"))[0].text) and
			.created_at == $log[0].ts and .completed_at == ($log | map(select(.type == "result")) | last | .ts) and
			.status == ($log | map(select(.type == "result")) | last | .status) and
			.running == false and (.path | endswith("/\($id).jsonl"))' "$OUT" >/dev/null ||
			fail "$id: $(jq -c --arg id "$id" '.[] | select(.id == $id)' "$OUT")"
	done
	# no sessions: an empty array
	rm -rf "$S"
	bls list --json
	assert_equal "$status" 0
	assert_equal "$(cat "$OUT")" "[]"
}

@test "show: the session through bl-view (task, stage headers, summary), by a short id" {
	bls show "${A:0:18}" --color never -w 100
	assert_equal "$status" 0
	local view
	view=$(cat "$OUT")
	[[ $view == *"◆ task: add a feature"* ]]
	[[ $view == *"━━ planner ━"* ]]
	[[ $view == *"━━ coder ━"* ]]
	[[ $view == *"━━ committer ━"* ]]
	[[ $view == *"1. Change work.txt."* ]]
	[[ $view == *"status   completed"* ]]
	# exactly what bl-view shows
	diff "$OUT" <(bl-view --color never -w 100 "$S/$A.jsonl")
	bls show "$C" --color never
	assert_equal "$status" 0
	grep -q "status   stopped" "$OUT"
	# only the final document left: shown from it
	rm "$S/$B.jsonl"
	bls show "$B" --color never -w 100
	assert_equal "$status" 0
	grep -q "fix the login bug" "$OUT"
	grep -q "status   failed" "$OUT"
}

# assert_document FILE ID: FILE holds the seed's document of session ID,
# whose messages are the lines of its .jsonl.
assert_document() {
	jq -e --arg id "$2" '(keys | sort) == ["agents_used", "completed_at", "created_at", "messages",
		"pipeline", "result", "session_id", "total_turns", "user_request"] and .session_id == $id' \
		"$1" >/dev/null || fail "$1: keys $(jq -c keys "$1")"
	assert_equal "$(jq -c .messages "$1")" "$(jq -cs . "$S/$2.jsonl")"
	assert_equal "$(jq -c '[.user_request, .total_turns, .result.status]' "$1")" \
		"$(jq -cs '[(map(select(.type == "task"))[0].text),
			(map(select(.event == "stage_start")) | length), (map(select(.type == "result")) | last | .status)]' \
			"$S/$2.jsonl")"
}

@test "export: the seed's schema, json and json.gz, -o, and the same messages as the .jsonl" {
	bls export "${A:0:18}"
	assert_equal "$status" 0
	assert_equal "$(wc -l <"$OUT" | tr -d ' ')" 1
	assert_document "$OUT" "$A"
	# the final file's document, as bl-manager saved it
	cmp "$OUT" <(zcat "$S/$A.json.gz")
	bls export "$A" --format json.gz
	assert_equal "$status" 0
	zcat "$OUT" >"$BATS_TEST_TMPDIR/a.json"
	assert_document "$BATS_TEST_TMPDIR/a.json" "$A"
	# -o: the format follows the name; the file is whole
	bls export "$B" -o "$BATS_TEST_TMPDIR/b.json.gz"
	assert_equal "$status" 0
	[ ! -s "$OUT" ]
	zcat "$BATS_TEST_TMPDIR/b.json.gz" >"$BATS_TEST_TMPDIR/b.json"
	assert_document "$BATS_TEST_TMPDIR/b.json" "$B"
	bls export "$C" --format json -o "$BATS_TEST_TMPDIR/c.json"
	assert_equal "$status" 0
	assert_document "$BATS_TEST_TMPDIR/c.json" "$C"
	jq -e '.result.status == "stopped" and .result.tests_passed == false' "$BATS_TEST_TMPDIR/c.json" >/dev/null
	[ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep '^\.')" ] || fail "a temporary file was left"
	bls export "$A" -o "$BATS_TEST_TMPDIR/nowhere/a.json"
	assert_equal "$status" 74
	grep -q "cannot write '$BATS_TEST_TMPDIR/nowhere/a.json'" "$ERR"
}

@test "export without the final file: built from the .jsonl, byte for byte what bl-manager saved" {
	zcat "$S/$A.json.gz" >"$BATS_TEST_TMPDIR/saved.json"
	rm "$S/$A.json.gz"
	bls export "$A"
	assert_equal "$status" 0
	cmp "$OUT" "$BATS_TEST_TMPDIR/saved.json"
	# a final file older than the log (the session went on) is not used
	zcat "$S/$C.json.gz" >"$BATS_TEST_TMPDIR/c-saved.json"
	printf '{"type":"message","ts":"2026-01-01T00:00:00.000Z","agent":"user","role":"user","text":"later"}\n' >>"$S/$C.jsonl"
	bls export "$C"
	assert_equal "$status" 0
	assert_document "$OUT" "$C"
	assert_equal "$(jq -r '.messages[-1].text' "$OUT")" later
}

@test "resume: the stopped session goes on to completion" {
	local before
	before=$(wc -l <"$S/$C.jsonl")
	STAGE_DIR=$F/st.C bls resume "${C:0:18}" -C "$WS" --config "$CFG"
	assert_equal "$status" 0
	assert_equal "$(tail -n 1 "$S/$C.jsonl" | jq -r '[.type, .status, .tests_passed] | join(" ")')" "result completed true"
	sed -n "$((before + 1))p" "$S/$C.jsonl" | jq -e '.event == "resume"' >/dev/null
	# the resumed stages: the coder again, then the rest
	assert_equal "$(jq -r 'select(.event == "stage_start") | .agent' "$S/$C.jsonl" | paste -sd ' ')" \
		"planner coder coder reviewer tester committer"
	zcat "$S/$C.json.gz" | jq -e '.result.status == "completed"' >/dev/null
	bls list --json
	jq -e --arg id "$C" --argjson cost "$(cost_of "$C")" '.[] | select(.id == $id) |
		.status == "completed" and .turns == 6 and ((.cost_usd - $cost) | fabs < 1e-12)' "$OUT" >/dev/null
	# bl-manager's own answer: a completed session is not resumed again
	STAGE_DIR=$F/st.C bls resume "$C" -C "$WS" --config "$CFG"
	assert_equal "$status" 64
	grep -q "already completed" "$ERR"
	# the id must come first
	bls resume -C "$WS" "$C"
	assert_equal "$status" 64
}

@test "gc --keep 1 leaves the newest only; --dry-run removes nothing" {
	bls gc --keep 1 --dry-run
	assert_equal "$status" 0
	assert_equal "$(awk '{print $1, $2, $3}' "$OUT" | paste -sd ,)" "would remove $B,would remove $A"
	assert_equal "$(ls "$S" | wc -l | tr -d ' ')" 6
	bls gc --keep 1
	assert_equal "$status" 0
	assert_equal "$(awk '{print $1, $2}' "$OUT" | paste -sd ,)" "removed $B,removed $A"
	grep -q "^removed $A (completed, " "$OUT"
	assert_equal "$(ls "$S" | paste -sd ' ')" "$C.json.gz $C.jsonl"
	bls gc --keep 1
	assert_equal "$status" 0
	[ ! -s "$OUT" ]
	bls gc --keep 0
	assert_equal "$(ls "$S" | wc -l | tr -d ' ')" 0
}

@test "gc --older-than: by the files' modification time" {
	touch -d '10 days ago' "$S/$A.jsonl" "$S/$A.json.gz"
	touch -d '3 days ago' "$S/$B.jsonl" "$S/$B.json.gz"
	# one file recent enough keeps the session
	touch -d '10 days ago' "$S/$C.jsonl"
	bls gc --older-than 5
	assert_equal "$status" 0
	assert_equal "$(awk '{print $2}' "$OUT")" "$A"
	[ ! -e "$S/$A.jsonl" ] && [ ! -e "$S/$A.json.gz" ]
	bls gc --older-than 2.5
	assert_equal "$(awk '{print $2}' "$OUT")" "$B"
	assert_equal "$(ls "$S" | paste -sd ' ')" "$C.json.gz $C.jsonl"
	# both criteria: older than N days and not among the newest
	bls gc --older-than 0 --keep 1
	assert_equal "$(ls "$S" | wc -l | tr -d ' ')" 2
}

@test "gc never removes a session a running bl-manager holds" {
	mockd_start "$F/script.jsonl"
	start_sleeper "$BATS_TEST_TMPDIR/st.D" "a long job"
	local D=$SLEEPER
	[ -f "$S/$D.jsonl" ]
	touch -d '30 days ago' "$S/$D.jsonl"
	bls list --json
	assert_equal "$(jq -r --arg id "$D" '.[] | select(.id == $id) | "\(.status) \(.running)"' "$OUT")" "running true"
	bls gc --keep 0 --dry-run
	assert_equal "$(wc -l <"$OUT" | tr -d ' ')" 3
	grep -q "kept $D: a bl-manager is running it" "$ERR"
	# old enough, but held
	bls gc --older-than 1
	assert_equal "$status" 0
	[ ! -s "$OUT" ]
	grep -q "kept $D: a bl-manager is running it" "$ERR"
	[ -f "$S/$D.jsonl" ]
	bls gc --keep 0
	assert_equal "$status" 0
	assert_equal "$(awk '{print $2}' "$OUT" | sort | paste -sd ' ')" "$(printf '%s\n' "$A" "$B" "$C" | sort | paste -sd ' ')"
	grep -q "kept $D: a bl-manager is running it" "$ERR"
	assert_equal "$(ls "$S" | paste -sd ' ')" "$D.jsonl"
	kill -0 "$PID"
	# stopped, it is an ordinary session
	kill -INT "$PID"
	wait "$PID" || true
	PID=
	assert_equal "$(tail -n 1 "$S/$D.jsonl" | jq -r .status)" stopped
	bls gc --keep 0
	assert_equal "$(awk '{print $2}' "$OUT")" "$D"
	assert_equal "$(ls "$S" | wc -l | tr -d ' ')" 0
}

@test "an unreadable session is listed as such, warned about, and can be removed" {
	printf 'not gzip' >"$S/20200101-000000-000000.json.gz"
	# its date is its file's: the oldest
	touch -d '2 days ago' "$S/20200101-000000-000000.json.gz"
	COLUMNS=200 bls list
	assert_equal "$status" 0
	assert_equal "$(tail -n 1 "$OUT" | awk '{print $1, $5}')" "20200101-000000-000000 unreadable"
	grep -q "warning: .*20200101-000000-000000.json.gz" "$ERR"
	bls export 20200101
	assert_equal "$status" 65
	bls gc --older-than 1
	assert_equal "$status" 0
	assert_equal "$(awk '{print $2}' "$OUT")" 20200101-000000-000000
	assert_equal "$(ls "$S" | wc -l | tr -d ' ')" 6
}

@test "ids: exact, unique prefix, ambiguous (64, the candidates listed), unknown (66)" {
	bls export "$B"
	assert_equal "$status" 0
	local p=
	# the longest prefix A and B share names both (and maybe C)
	while [ "${A:0:${#p}+1}" = "${B:0:${#p}+1}" ]; do p=${A:0:${#p}+1}; done
	[ -n "$p" ] || skip "the ids share no prefix"
	local cmd
	for cmd in show export resume; do
		bls $cmd "$p"
		assert_equal "$status" 64
		grep -q "session id '$p' is ambiguous" "$ERR" || fail "$cmd: $(cat "$ERR")"
		grep -qx "  $A" "$ERR"
		grep -qx "  $B" "$ERR"
	done
	bls export 19990101
	assert_equal "$status" 66
	grep -q "no session '19990101' in $S" "$ERR"
	bls show nosuch
	assert_equal "$status" 66
	bls resume nosuch
	assert_equal "$status" 66
	# an exact id wins over a longer one that starts with it
	cp "$S/$A.jsonl" "$S/$A-copy.jsonl"
	bls export "$A"
	assert_equal "$status" 0
	bls export "$A-"
	assert_equal "$status" 0
	assert_equal "$(jq -r .session_id "$OUT")" "$A-copy"
	bls export ""
	assert_equal "$status" 64
}

@test "usage errors" {
	bls
	assert_equal "$status" 64
	grep -q "^usage: bl-session list" "$ERR"
	bls frobnicate
	assert_equal "$status" 64
	grep -q "bl-session: unknown command 'frobnicate'" "$ERR"
	bls gc
	assert_equal "$status" 64
	grep -q -- "--keep N or --older-than DAYS" "$ERR"
	bls gc --keep -1
	assert_equal "$status" 64
	bls gc --keep 1.5
	assert_equal "$status" 64
	bls gc --older-than soon
	assert_equal "$status" 64
	bls export "$A" --format xml
	assert_equal "$status" 64
	bls export
	assert_equal "$status" 64
	bls export "$A" "$B"
	assert_equal "$status" 64
	bls list --bogus
	assert_equal "$status" 64
	bls list extra
	assert_equal "$status" 64
	bls --help
	assert_equal "$status" 0
	grep -q "bl-session gc" "$OUT"
	bls --version
	assert_equal "$(cat "$OUT")" "bl-session (better-llm) $(bl-manager --version | awk '{print $3}')"
	# compressed data is not written to a terminal
	status=0
	script -qec "bl-session export $A --format json.gz" /dev/null >"$OUT" 2>&1 || status=$?
	assert_equal "$status" 64
	grep -q "not written to a terminal" "$OUT"
}
