#!/usr/bin/env bats
# bl-stats over sessions made by real bl-plan runs against bl-mockd (each
# run's output saved as $BL_HOME/sessions/<id>.jsonl, the live-log
# format): its figures equal the sums of the usage lines computed with
# jq, per agent and model and in total; errors by kind and the recent
# ones; cache hits and misses; percentiles of known latencies (usage
# lines crafted by hand); --session prefixes; --since; .json.gz final
# files, counted once beside their .jsonl; bad lines; usage errors.

load helpers

CFG="$ROOT/tests/fixtures/bl-plan/config"

# The sessions, made once: A (3 calls, tools), B (another model), C (A
# again: served from the response cache), D (401: an auth error), E
# (persistent 529: retries, then an api error).
setup_file() {
	setup_mockd_env
	local ws=$BATS_FILE_TMPDIR/ws s
	mkdir -p "$ws/src" "$BL_HOME/sessions"
	printf 'int add(int a, int b)\n{\n\treturn a + b;\n}\n' >"$ws/src/calc.c"
	printf '# Calc\n' >"$ws/README.md"
	s=$(mk_script "$BATS_FILE_TMPDIR/script.jsonl" <<'EOF'
{"content":[{"type":"text","text":"Looking."},{"type":"tool_use","id":"toolu_1","name":"glob","input":{"pattern":"**/*.c"}}]}
{"content":[{"type":"tool_use","id":"toolu_2","name":"read","input":{"path":"README.md"}}]}
{"content":[{"type":"text","text":"## Plan\nEdit src/calc.c."}]}
{"content":[{"type":"text","text":"## Plan\nA haiku plan."}],"usage":{"input_tokens":1000,"output_tokens":200,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}
{"status":401,"error_message":"invalid x-api-key"}
{"status":529,"error_message":"Overloaded","repeat":3}
EOF
)
	mockd_start "$s"
	run_session "$ws" "add sub"
	run_session "$ws" "add mul" -m claude-haiku-4-5
	sleep 0.01
	run_session "$ws" "add sub"
	run_session "$ws" "fail auth"
	run_session "$ws" "fail overloaded"
	mockd_stop
	cp -r "$BL_HOME/sessions" "$BATS_FILE_TMPDIR/made"
}

# run_session WS TASK [ARGS]: one bl-plan run saved as a session.
run_session() {
	local ws=$1 task=$2 out=$BATS_FILE_TMPDIR/run.jsonl id
	shift 2
	bl-plan -C "$ws" --config "$CFG" "$@" "$task" </dev/null >"$out" 2>/dev/null || true
	id=$(head -n 1 "$out" | jq -r .session)
	mv "$out" "$BL_HOME/sessions/$id.jsonl"
}

setup() {
	S=$BL_HOME/sessions
	mkdir -p "$BL_HOME"
	cp -r "$BATS_FILE_TMPDIR/made" "$S"
}

# stats [ARGS]: bl-stats --json ARGS into $J (stdout) and $status.
stats() {
	J=$BATS_TEST_TMPDIR/stats.json
	status=0
	bl-stats --json "$@" >"$J" 2>"$BATS_TEST_TMPDIR/stats.err" || status=$?
}

# usage lines of every session, as one array
all_usage() { cat "$S"/*.jsonl | jq -cs 'map(select(.type == "usage"))'; }

@test "the sessions were made by real runs: 5 sessions, usage and error lines" {
	assert_equal "$(ls "$S" | wc -l | tr -d ' ')" 5
	assert_equal "$(all_usage | jq length)" 7
	assert_equal "$(all_usage | jq 'map(select(.cached)) | length')" 3
	assert_equal "$(cat "$S"/*.jsonl | jq -r 'select(.type == "error") | .kind' | sort | paste -sd ' ')" "api auth"
}

@test "totals and per agent/model rows equal the sums of the usage lines" {
	stats
	assert_equal "$status" 0
	local u
	u=$(all_usage)
	assert_equal "$(jq .sessions "$J")" 5
	local f
	for f in input_tokens output_tokens cache_creation_input_tokens cache_read_input_tokens; do
		assert_equal "$(jq ".total.$f" "$J")" "$(jq "map(.$f) | add" <<<"$u")"
	done
	assert_equal "$(jq .total.calls "$J")" "$(jq length <<<"$u")"
	assert_equal "$(jq .total.cached "$J")" 3
	jq -e --argjson u "$u" '(.total.cost_usd - ($u | map(.cost_usd) | add)) | fabs < 1e-9' "$J" >/dev/null ||
		fail "cost: $(jq .total.cost_usd "$J") vs $(jq 'map(.cost_usd) | add' <<<"$u")"
	jq -e '.total.cost_usd > 0' "$J" >/dev/null
	# cache-read share
	jq -e '.total as $t | ($t.cache_read_share - ($t.cache_read_input_tokens /
		($t.input_tokens + $t.cache_read_input_tokens + $t.cache_creation_input_tokens))) | fabs < 1e-12' "$J" >/dev/null
	# rows: the same sums grouped by agent and model
	local want got
	want=$(jq -c 'group_by([.agent, .model]) | map({agent: .[0].agent, model: .[0].model,
		calls: length, cached: map(select(.cached)) | length,
		input_tokens: map(.input_tokens) | add, output_tokens: map(.output_tokens) | add,
		cache_creation_input_tokens: map(.cache_creation_input_tokens) | add,
		cache_read_input_tokens: map(.cache_read_input_tokens) | add,
		cost: (map(.cost_usd) | add * 1e9 | round)})' <<<"$u")
	got=$(jq -c '.by_agent_model | sort_by([.agent, .model]) | map({agent, model, calls, cached,
		input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens,
		cost: (.cost_usd * 1e9 | round)})' "$J")
	assert_equal "$got" "$want"
	assert_equal "$(jq -r '.by_agent_model | map(.model) | sort | join(" ")' "$J")" "claude-haiku-4-5 claude-sonnet-4-5"
	# the haiku call's scripted usage, priced from models.json ($1 / $5 per M)
	jq -e '.by_agent_model[] | select(.model == "claude-haiku-4-5") |
		.input_tokens == 1000 and .output_tokens == 200 and ((.cost_usd - 0.002) | fabs < 1e-12)' "$J" >/dev/null
}

@test "errors by kind and the most recent ones, with session and agent" {
	stats
	assert_equal "$(jq -c .errors.by_kind "$J")" \
		"$(cat "$S"/*.jsonl | jq -cs 'map(select(.type == "error")) | group_by(.kind) | map({(.[0].kind): length}) | add')"
	assert_equal "$(jq .errors.total "$J")" 2
	# most recent first: the 529 run came last
	local last
	last=$(grep -l '"kind":"api"' "$S"/*.jsonl | xargs -n 1 basename | sed 's/\.jsonl$//')
	assert_equal "$(jq -r '.errors.recent[0] | [.kind, .session, .agent] | join(" ")' "$J")" "api $last planner"
	assert_equal "$(jq -r '.errors.recent[1] | [.kind, .agent] | join(" ")' "$J")" "auth planner"
	jq -e '.errors.recent[0].message | test("529|Overloaded|overloaded")' "$J" >/dev/null
	stats --recent 1
	assert_equal "$(jq '.errors.recent | length' "$J")" 1
	assert_equal "$(jq .errors.total "$J")" 2
}

@test "the response cache: hits are the cached usage lines, misses the others" {
	stats
	assert_equal "$(jq -c .cache "$J")" '{"hits":3,"misses":4,"hit_rate":0.42857142857142855}'
	# a cached call costs nothing and has no API latency in the percentiles
	assert_equal "$(all_usage | jq 'map(select(.cached) | .cost_usd) | add')" 0
}

# craft FILE SESSION: a session of hand-written lines with known latencies.
craft() {
	local f=$1 id=$2 i
	{
		printf '{"type":"task","ts":"2026-01-01T00:00:00.000Z","text":"crafted","session":"%s","v":1}\n' "$id"
		for i in 10 20 30 40 50 60 70 80 90 100; do
			printf '{"type":"usage","ts":"2026-01-01T00:00:%02d.000Z","agent":"coder","provider":"anthropic","model":"m1","input_tokens":%d,"output_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":%d,"cost_usd":0.5,"latency_ms":%d,"ttft_ms":%d,"attempt":1,"cached":false}\n' \
				$((i / 10)) "$i" "$i" "$((i * 10))" "$(((i / 10) % 2 ? i : -1))"
		done
		# a cached call: its latency (1) and ttft stay out of the percentiles
		printf '{"type":"usage","ts":"2026-01-01T00:01:00.000Z","agent":"coder","provider":"anthropic","model":"m1","input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cost_usd":0,"latency_ms":1,"ttft_ms":1,"attempt":0,"cached":true}\n'
	} >"$f"
}

@test "p50 and p95 of known latencies (nearest rank), cached calls left out" {
	local d=$BATS_TEST_TMPDIR/crafted
	mkdir -p "$d"
	craft "$d/20260101-000000-aaaaaa.jsonl" 20260101-000000-aaaaaa
	stats --dir "$d"
	assert_equal "$status" 0
	# latencies 100..1000: p50 = 5th = 500, p95 = ceil(9.5) = 10th = 1000
	assert_equal "$(jq -c '.total | [.calls, .cached, .latency_p50_ms, .latency_p95_ms]' "$J")" "[11,1,500,1000]"
	# ttft: 10 30 50 70 90 (the others -1): p50 = 3rd = 50, p95 = 5th = 90
	assert_equal "$(jq -c '.total | [.ttft_p50_ms, .ttft_p95_ms]' "$J")" "[50,90]"
	assert_equal "$(jq -c '.by_agent_model[0] | [.agent, .model, .latency_p50_ms]' "$J")" '["coder","m1",500]'
	# input 550, cache_read 550: share 0.5; cost 10 x 0.5
	assert_equal "$(jq -c '.total | [.input_tokens, .cache_read_input_tokens, .cache_read_share, .cost_usd]' "$J")" "[550,550,0.5,5]"
	# one sample: p50 = p95 = it
	printf '{"type":"usage","ts":"2026-01-02T00:00:00.000Z","agent":"x","input_tokens":1,"output_tokens":1,"latency_ms":7}\n' \
		>"$d/20260102-000000-bbbbbb.jsonl"
	stats --dir "$d" --session 20260102
	assert_equal "$(jq -c '.total | [.latency_p50_ms, .latency_p95_ms, .ttft_p50_ms, .cache_read_share]' "$J")" "[7,7,null,0]"
}

@test "--session: a unique prefix, an exact id, an ambiguous prefix (64), none (66)" {
	local ids first
	ids=$(ls "$S" | sed 's/\.jsonl$//' | sort)
	first=$(head -n 1 <<<"$ids")
	# the full id, and a prefix long enough to be unique
	stats --session "$first"
	assert_equal "$status" 0
	assert_equal "$(jq .sessions "$J")" 1
	assert_equal "$(jq .total.calls "$J")" \
		"$(jq -s 'map(select(.type == "usage")) | length' "$S/$first.jsonl")"
	stats --session "${first:0:20}"
	assert_equal "$status" 0
	assert_equal "$(jq .sessions "$J")" 1
	# all ids share the date: ambiguous
	stats --session "${first:0:8}"
	assert_equal "$status" 64
	grep -q "ambiguous" "$BATS_TEST_TMPDIR/stats.err"
	assert_equal "$(grep -c "^  ${first:0:8}" "$BATS_TEST_TMPDIR/stats.err")" 5
	stats --session 19990101
	assert_equal "$status" 66
	grep -q "no session '19990101'" "$BATS_TEST_TMPDIR/stats.err"
	# an exact id wins over a longer one that starts with it
	cp "$S/$first.jsonl" "$S/$first-x.jsonl"
	stats --session "$first"
	assert_equal "$status" 0
	assert_equal "$(jq .sessions "$J")" 1
}

@test "--since keeps the lines at or after the time" {
	local d=$BATS_TEST_TMPDIR/since
	mkdir -p "$d"
	{
		printf '{"type":"usage","ts":"2020-05-01T10:00:00.000Z","agent":"a","model":"m","input_tokens":1,"output_tokens":0,"latency_ms":5}\n'
		printf '{"type":"error","ts":"2020-05-01T10:00:01.000Z","agent":"a","kind":"api","message":"old","retryable":false}\n'
		printf '{"type":"usage","ts":"2026-11-20T09:30:00.000+01:00","agent":"a","model":"m","input_tokens":10,"output_tokens":0,"latency_ms":5}\n'
		printf '{"type":"usage","ts":"%s","agent":"a","model":"m","input_tokens":100,"output_tokens":0,"latency_ms":5}\n' \
			"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
	} >"$d/s1.jsonl"
	stats --dir "$d"
	assert_equal "$(jq -c '[.total.input_tokens, .errors.total]' "$J")" "[111,1]"
	stats --dir "$d" --since 2021-01-01
	assert_equal "$(jq -c '[.total.input_tokens, .errors.total, .sessions]' "$J")" "[110,0,1]"
	# 09:30+01:00 is 08:30Z: 08:30 is in, 08:31 is out
	stats --dir "$d" --since 2026-11-20T08:30Z
	assert_equal "$(jq .total.input_tokens "$J")" 110
	stats --dir "$d" --since "2026-11-20 08:31"
	assert_equal "$(jq .total.input_tokens "$J")" 100
	stats --dir "$d" --since 1h
	assert_equal "$(jq .total.input_tokens "$J")" 100
	# nothing in range: no session counted
	stats --dir "$d" --since 2099-01-01
	assert_equal "$(jq -c '[.sessions, .total.calls, .total.latency_p50_ms, .cache.hit_rate]' "$J")" "[0,0,null,null]"
	stats --dir "$d" --since yesterday
	assert_equal "$status" 64
	stats --dir "$d" --since 2026-13-01
	assert_equal "$status" 64
}

@test ".json.gz and .json final files are read; a session in both forms counts once" {
	local first id
	first=$(ls "$S" | head -n 1)
	id=${first%.jsonl}
	stats
	local want
	want=$(jq -c '.total' "$J")
	# the final document (pretty-printed: its messages span lines) beside the log
	jq -s --arg id "$id" '{session_id: $id, created_at: .[0].ts, messages: .,
		result: {status: "completed", tests_passed: false}}' "$S/$first" | gzip >"$S/$id.json.gz"
	stats
	assert_equal "$(jq -c .total "$J")" "$want"
	assert_equal "$(jq .sessions "$J")" 5
	# only the .json.gz: the same figures
	rm "$S/$first"
	stats
	assert_equal "$(jq -c .total "$J")" "$want"
	# as .json (compression off)
	gzip -dc "$S/$id.json.gz" >"$S/$id.json"
	rm "$S/$id.json.gz"
	stats
	assert_equal "$(jq -c .total "$J")" "$want"
	# a broken final file: warned about and skipped, the rest counted
	printf 'not json' | gzip >"$S/$id.json.gz"
	rm "$S/$id.json"
	stats
	assert_equal "$status" 0
	assert_equal "$(jq .sessions "$J")" 4
	grep -q "warning: .*$id.json.gz" "$BATS_TEST_TMPDIR/stats.err"
}

@test "bad lines are skipped and counted; an unfinished last line is ignored" {
	local f
	f=$(ls "$S"/*.jsonl | head -n 1)
	stats
	local calls
	calls=$(jq .total.calls "$J")
	printf '{"type":"usage", broken\n' >>"$f"
	printf '{"type":"usage","ts":"2026-11-24T00:00:00.000Z","agent":"planner","model":"claude-sonnet-4-5","input_tokens":5,"output_tokens":5' >>"$f"
	stats
	assert_equal "$status" 0
	assert_equal "$(jq .total.calls "$J")" "$calls"
	assert_equal "$(jq .bad_lines "$J")" 1
	grep -q "1 unreadable line skipped" "$BATS_TEST_TMPDIR/stats.err"
}

@test "the table: a row per agent and model, the total, errors, the cache" {
	status=0
	bl-stats >"$BATS_TEST_TMPDIR/table" 2>&1 || status=$?
	assert_equal "$status" 0
	local t=$BATS_TEST_TMPDIR/table
	grep -q '^5 sessions$' "$t"
	grep -Eq '^AGENT +MODEL +CALLS +CACHED +INPUT +OUTPUT +CACHE_W +CACHE_R +CR% +COST_USD +P50_MS +P95_MS +TTFT50 +TTFT95$' "$t"
	grep -Eq '^planner +claude-sonnet-4-5 +6 +3 ' "$t"
	grep -Eq '^planner +claude-haiku-4-5 +1 +0 +1000 +200 ' "$t"
	grep -Eq '^total +7 +3 ' "$t"
	grep -Eq '^errors: 2 \((auth 1, api 1|api 1, auth 1)\)$' "$t"
	grep -Eq "^  20[0-9-]+T[0-9:.]+Z  [0-9]{8}-[0-9]{6}-[0-9a-f]{6}  planner  api: " "$t"
	grep -q '^response cache: 3 hits, 4 misses, hit rate 42.9%$' "$t"
}

@test "no sessions: an empty report; usage errors exit 64" {
	rm -rf "$S"
	stats
	assert_equal "$status" 0
	assert_equal "$(jq -c '[.sessions, .total.calls, .by_agent_model, .errors.total]' "$J")" '[0,0,[],0]'
	run bl-stats
	assert_success
	assert_line '0 sessions'
	run bl-stats --bogus
	assert_equal "$status" 64
	assert_output --partial "unknown option '--bogus'"
	run bl-stats extra
	assert_equal "$status" 64
	run bl-stats --recent -1
	assert_equal "$status" 64
	run bl-stats --help
	assert_success
	assert_output --partial "usage: bl-stats"
	run bl-stats --version
	assert_output --regexp '^bl-stats \(better-llm\) [0-9.]+$'
}
