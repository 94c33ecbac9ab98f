#!/usr/bin/env bats
# The response cache ($BL_HOME/cache) end to end: bl-plan against
# bl-mockd with a config whose system_config turns caching on.  A
# repeated identical request is served from the cache (bl-mockd receives
# it once, the usage line says cached:true and costs 0); an expired
# entry is not served; the cache never holds more than cache_max_size
# entries; a corrupt entry is a miss; caching off sends every request;
# parallel writers leave only whole entries and no temp files.

load helpers

setup() {
	WS=$BATS_TEST_TMPDIR/ws
	mkdir -p "$WS/src"
	printf 'int add(int a, int b)\n{\n\treturn a + b;\n}\n' >"$WS/src/calc.c"
	printf '# Calc\n' >"$WS/README.md"
	CACHE=$BL_HOME/cache
	cache_config true 3600 1000
}

teardown() {
	mockd_stop
}

# cache_config ENABLE TTL MAX: a config directory using the planner of
# tests/fixtures/bl-plan and these performance settings.
cache_config() {
	CFG=$BATS_TEST_TMPDIR/config
	mkdir -p "$CFG"
	cp "$ROOT/tests/fixtures/bl-plan/config/agent_config.json" "$CFG/"
	cat >"$CFG/system_config.json" <<EOF
{
  "performance": {
    "retry": {"max_attempts": 2, "base_delay": 0.05, "max_delay": 0.2, "jitter": 0},
    "enable_caching": $1,
    "cache_ttl_seconds": $2,
    "cache_max_size": $3
  },
  "sandbox": "best-effort"
}
EOF
}

# plan OUT TASK [ARGS...]: bl-plan in $WS; status in $status.
plan() {
	local out=$1 task=$2
	shift 2
	status=0
	bl-plan -C "$WS" --config "$CFG" "$@" "$task" </dev/null >"$out" 2>"$BATS_TEST_TMPDIR/err" ||
		status=$?
}

entries() { find "$CACHE" -maxdepth 1 -name '*.json' | wc -l | tr -d ' '; }
temps() { find "$CACHE" -maxdepth 1 -name '.tmp.*' | wc -l | tr -d ' '; }
usage_of() { jq -c 'select(.type == "usage")' "$1"; }

# A two-turn plan: a glob, then the text.
two_turns() {
	mk_script <<'EOF'
{"content":[{"type":"text","text":"Looking."},{"type":"tool_use","id":"toolu_g1","name":"glob","input":{"pattern":"**/*.c"}}]}
{"content":[{"type":"text","text":"## Plan\n1. Edit src/calc.c."}]}
{"content":[{"type":"text","text":"Looking again."},{"type":"tool_use","id":"toolu_g2","name":"glob","input":{"pattern":"**/*.md"}}]}
{"content":[{"type":"text","text":"## Plan\n2. Another."}]}
EOF
}

@test "a repeated identical request is served from the cache: bl-mockd sees it once" {
	mockd_start "$(two_turns)"
	plan "$BATS_TEST_TMPDIR/1.jsonl" "add sub"
	assert_equal "$status" 0
	assert_equal "$(mockd_requests)" 2
	assert_equal "$(usage_of "$BATS_TEST_TMPDIR/1.jsonl" | jq -r .cached | sort -u)" false
	assert_equal "$(entries)" 2

	plan "$BATS_TEST_TMPDIR/2.jsonl" "add sub"
	assert_equal "$status" 0
	# nothing reached bl-mockd the second time
	assert_equal "$(mockd_requests)" 2
	assert_equal "$(usage_of "$BATS_TEST_TMPDIR/2.jsonl" | wc -l | tr -d ' ')" 2
	usage_of "$BATS_TEST_TMPDIR/2.jsonl" | while IFS= read -r u; do
		jq -e '.cached == true and .cost_usd == 0 and .input_tokens == 0 and .output_tokens == 0
			and .agent == "planner" and .model == "claude-sonnet-4-5" and .attempt == 0' \
			<<<"$u" >/dev/null || fail "bad cached usage line: $u"
	done
	# the same tool calls (run again, for real) and the same plan
	assert_equal "$(jq -c 'select(.type == "tool_use" or .type == "tool_result" or .type == "message") | del(.ts)' "$BATS_TEST_TMPDIR/2.jsonl")" \
		"$(jq -c 'select(.type == "tool_use" or .type == "tool_result" or .type == "message") | del(.ts)' "$BATS_TEST_TMPDIR/1.jsonl")"
	assert_equal "$(jq -r 'select(.type == "message") | .text' "$BATS_TEST_TMPDIR/2.jsonl")" "$(printf '## Plan\n1. Edit src/calc.c.')"

	# a hit with -s replays the text as one delta per call
	plan "$BATS_TEST_TMPDIR/3.jsonl" "add sub" -s
	assert_equal "$(mockd_requests)" 2
	assert_equal "$(jq -r 'select(.type == "delta") | .text' "$BATS_TEST_TMPDIR/3.jsonl" | head -n 1)" "Looking."
	assert_equal "$(jq -c 'select(.type == "delta")' "$BATS_TEST_TMPDIR/3.jsonl" | wc -l | tr -d ' ')" 2

	# another task is another request: a miss, sent to bl-mockd
	plan "$BATS_TEST_TMPDIR/4.jsonl" "add mul"
	assert_equal "$status" 0
	assert_equal "$(mockd_requests)" 4
	assert_equal "$(usage_of "$BATS_TEST_TMPDIR/4.jsonl" | jq -r .cached | sort -u)" false
	assert_equal "$(entries)" 4
	assert_equal "$(temps)" 0
}

@test "a changed workspace changes the tool result, so only the first call is served" {
	mockd_start "$(two_turns)"
	plan "$BATS_TEST_TMPDIR/1.jsonl" "add sub"
	assert_equal "$(mockd_requests)" 2
	printf 'int mul(int a, int b);\n' >"$WS/src/mul.c"
	# turn 1 is the same request (a hit); turn 2 carries a new glob
	# result, so it and what follows (script lines 3, 4) go to bl-mockd
	plan "$BATS_TEST_TMPDIR/2.jsonl" "add sub"
	assert_equal "$status" 0
	assert_equal "$(usage_of "$BATS_TEST_TMPDIR/2.jsonl" | jq -r .cached | paste -sd ' ')" "true false false"
	assert_equal "$(mockd_requests)" 4
	mockd_request 3 | jq -e '.body.messages[-1].content[0].content | test("mul.c")' >/dev/null
	assert_equal "$(mockd_request 3 | jq .reply)" 2
}

@test "an entry older than cache_ttl_seconds is not served, and is replaced" {
	cache_config true 1 1000
	mockd_start "$(mk_script <<'EOF'
{"content":[{"type":"text","text":"a plan"}],"repeat":0}
EOF
)"
	plan "$BATS_TEST_TMPDIR/1.jsonl" "add sub"
	# within the TTL: served
	plan "$BATS_TEST_TMPDIR/2.jsonl" "add sub"
	assert_equal "$(usage_of "$BATS_TEST_TMPDIR/2.jsonl" | jq -r .cached)" true
	assert_equal "$(mockd_requests)" 1
	local before
	before=$(jq .created_ms "$CACHE"/*.json)
	sleep 2
	plan "$BATS_TEST_TMPDIR/3.jsonl" "add sub"
	assert_equal "$status" 0
	# past the TTL: sent to bl-mockd again
	assert_equal "$(mockd_requests)" 2
	assert_equal "$(usage_of "$BATS_TEST_TMPDIR/3.jsonl" | jq -r .cached)" false
	# a fresh entry took the old one's place
	assert_equal "$(entries)" 1
	assert [ "$(jq .created_ms "$CACHE"/*.json)" -gt "$((before + 1000))" ]
}

@test "the cache never holds more than cache_max_size entries; the most recent stay" {
	cache_config true 3600 2
	mockd_start "$(mk_script <<'EOF'
{"content":[{"type":"text","text":"a plan"}],"repeat":0}
EOF
)"
	local i
	for i in 1 2 3 4 5; do
		plan "$BATS_TEST_TMPDIR/$i.jsonl" "task number $i"
		assert_equal "$status" 0
		[ "$(entries)" -le 2 ] || fail "after task $i: $(entries) entries"
	done
	assert_equal "$(mockd_requests)" 5
	assert_equal "$(entries)" 2
	# tasks 4 and 5 are cached, 1 was evicted
	plan "$BATS_TEST_TMPDIR/5b.jsonl" "task number 5"
	assert_equal "$(mockd_requests)" 5
	plan "$BATS_TEST_TMPDIR/4b.jsonl" "task number 4"
	assert_equal "$(mockd_requests)" 5
	plan "$BATS_TEST_TMPDIR/1b.jsonl" "task number 1"
	assert_equal "$(mockd_requests)" 6
	# task 1 now evicted the least recently used: 5 (4 was used after it)
	plan "$BATS_TEST_TMPDIR/4c.jsonl" "task number 4"
	assert_equal "$(mockd_requests)" 6
	plan "$BATS_TEST_TMPDIR/5c.jsonl" "task number 5"
	assert_equal "$(mockd_requests)" 7
	assert_equal "$(entries)" 2
}

@test "a corrupt entry is a miss: the request is sent and a whole entry replaces it" {
	mockd_start "$(mk_script <<'EOF'
{"content":[{"type":"text","text":"first"}]}
{"content":[{"type":"text","text":"second"}]}
EOF
)"
	plan "$BATS_TEST_TMPDIR/1.jsonl" "add sub"
	assert_equal "$(entries)" 1
	local f
	f=$(find "$CACHE" -name '*.json')
	head -c 20 "$f" >"$f.cut" && mv "$f.cut" "$f"
	plan "$BATS_TEST_TMPDIR/2.jsonl" "add sub"
	assert_equal "$status" 0
	assert_equal "$(mockd_requests)" 2
	assert_equal "$(jq -r 'select(.type == "message") | .text' "$BATS_TEST_TMPDIR/2.jsonl")" second
	jq -e '.text == "second" and .v == 1' "$f" >/dev/null
}

@test "enable_caching false: every request is sent, no cache directory" {
	cache_config false 3600 1000
	mockd_start "$(mk_script <<'EOF'
{"content":[{"type":"text","text":"a plan"}],"repeat":0}
EOF
)"
	plan "$BATS_TEST_TMPDIR/1.jsonl" "add sub"
	plan "$BATS_TEST_TMPDIR/2.jsonl" "add sub"
	assert_equal "$status" 0
	assert_equal "$(mockd_requests)" 2
	assert_equal "$(usage_of "$BATS_TEST_TMPDIR/2.jsonl" | jq -r .cached)" false
	[ ! -e "$CACHE" ]
}

@test "an API error is not cached: the next run asks again" {
	mockd_start "$(mk_script <<'EOF'
{"status":400,"error_message":"bad request"}
{"content":[{"type":"text","text":"ok now"}]}
EOF
)"
	plan "$BATS_TEST_TMPDIR/1.jsonl" "add sub"
	assert_equal "$status" 69
	[ "$(entries 2>/dev/null || echo 0)" = 0 ]
	plan "$BATS_TEST_TMPDIR/2.jsonl" "add sub"
	assert_equal "$status" 0
	assert_equal "$(mockd_requests)" 2
	assert_equal "$(entries)" 1
}

# run_parallel ROUND: 8 bl-plan at once over 5 tasks (so some are the
# same), each making 4 calls (every reply a tool call; --max-turns 4
# ends it with exit 75, an error line of kind limit).
run_parallel() {
	local round=$1 i pids=() rc
	for i in 1 2 3 4 5 6 7 8; do
		bl-plan -C "$WS" --config "$CFG" --max-turns 4 "task $((i % 5))" </dev/null \
			>"$BATS_TEST_TMPDIR/p$round-$i.jsonl" 2>"$BATS_TEST_TMPDIR/p$round-$i.err" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		rc=0
		wait "$i" || rc=$?
		[ "$rc" = 75 ] || fail "round $round: bl-plan exited $rc"
	done
	for i in "$BATS_TEST_TMPDIR"/p"$round"-*.jsonl; do
		jq -e 'select(.type == "error") | .kind == "limit"' "$i" >/dev/null || fail "$i: no limit error"
		assert_equal "$(usage_of "$i" | wc -l | tr -d ' ')" 4
	done
}

# Every entry parses, is named by its key, holds its one call; no temp file.
assert_whole_entries() {
	local f
	assert_equal "$(temps)" 0
	for f in "$CACHE"/*.json; do
		jq -e --arg k "$(basename "$f" .json)" '.v == 1 and .key == $k and (.calls | length) == 1' "$f" >/dev/null ||
			fail "not a whole entry: $f"
	done
}

@test "8 processes filling the cache at once leave only whole entries, no temp files" {
	mockd_start "$(mk_script <<'EOF'
{"content":[{"type":"text","text":"Looking."},{"type":"tool_use","id":"toolu_fixed","name":"glob","input":{"pattern":"**/*"}}],"repeat":0}
EOF
)"
	# a small cache: every store evicts, concurrently
	cache_config true 3600 3
	run_parallel 1
	[ "$(entries)" -le 3 ] || fail "$(entries) entries > cache_max_size 3"
	[ "$(entries)" -ge 1 ]
	assert_whole_entries
	# a large one: 5 tasks x 4 calls = 20 requests stored, then all served
	cache_config true 3600 100
	run_parallel 2
	assert_equal "$(entries)" 20
	assert_whole_entries
	local n
	n=$(mockd_requests)
	run_parallel 3
	assert_equal "$(mockd_requests)" "$n"
	assert_equal "$(cat "$BATS_TEST_TMPDIR"/p3-*.jsonl | jq -r 'select(.type == "usage") | .cached' | sort -u)" true
	assert_whole_entries
}
