#!/usr/bin/env bats
# bl-mockd: both wire protocols, every script field, the request log, the
# caching simulation and the command line, checked with curl and jq.

load helpers

FIX="$ROOT/tests/fixtures/mockd"
SHARED="$ROOT/../shared/fixtures"

A_STREAM='{"model":"claude-test","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
A_WHOLE='{"model":"claude-test","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}'
O_STREAM='{"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}'
O_WHOLE='{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}'

teardown() {
	mockd_stop
}

# req PATH BODY [CURL ARGS...]: POSTs BODY; sets code (HTTP status), curl_rc,
# and leaves the body in $out and the headers in $hdr.
req() {
	local path=$1 body=$2
	shift 2
	out=$BATS_TEST_TMPDIR/out hdr=$BATS_TEST_TMPDIR/hdr
	curl_rc=0
	code=$(curl -sS -N -o "$out" -D "$hdr" -w '%{http_code}' "$@" \
		-H 'content-type: application/json' --data-binary "$body" \
		"http://127.0.0.1:$MOCKD_PORT$path" 2>"$BATS_TEST_TMPDIR/curl.err") || curl_rc=$?
}
data() { sed -n 's/^data: //p' "$out"; }
events() { sed -n 's/^event: //p' "$out"; }
header() { grep -i "^$1:" "$hdr" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ //'; }
types() { data | jq -r .type | paste -sd ' '; }
# first_of TYPE FILTER: jq -e FILTER on the first data event of that type
first_of() { data | jq -s -e --arg t "$1" "[.[] | select(.type == \$t)][0] | $2"; }

@test "prints its port, serves GET /v1/models, 404 elsewhere" {
	mockd_start "$FIX/basic.jsonl"
	[[ $MOCKD_PORT =~ ^[0-9]+$ ]]
	run curl -sS "http://127.0.0.1:$MOCKD_PORT/v1/models"
	assert_success
	assert_equal "$(jq -r '.data[0].id' <<<"$output")" mock-model
	req /nope '{}'
	assert_equal "$code" 404
	assert_equal "$(jq -r .error.type "$out")" not_found_error
	assert_equal "$(mockd_requests)" 2
}

@test "anthropic stream: event order, names and message fields" {
	mockd_start "$FIX/basic.jsonl"
	req /v1/messages "$A_STREAM"
	assert_equal "$code" 200
	assert_equal "$(header content-type)" "text/event-stream; charset=utf-8"
	assert_equal "$(header request-id)" req_mock_1
	assert_equal "$(types)" "message_start content_block_start ping content_block_delta content_block_delta content_block_stop message_delta message_stop"
	assert_equal "$(events | paste -sd ' ')" "$(types)"
	data | head -n 1 | jq -e '.message | .id == "msg_mock_1" and .type == "message"
		and .role == "assistant" and .content == [] and .model == "claude-test"
		and .stop_reason == null and .stop_sequence == null
		and (.usage | .input_tokens > 0 and .output_tokens >= 0
		     and .cache_creation_input_tokens == 0 and .cache_read_input_tokens == 0)'
	first_of content_block_start '.index == 0 and .content_block == {"type":"text","text":""}'
	assert_equal "$(data | jq -rj 'select(.type == "content_block_delta") | .delta.text')" "Hello there, world."
	first_of message_delta '.delta == {"stop_reason":"end_turn","stop_sequence":null} and .usage.output_tokens == 4'
}

@test "anthropic stream: tool_use input arrives as input_json_delta pieces" {
	mockd_start "$FIX/basic.jsonl"
	req /v1/messages "$A_STREAM"
	req /v1/messages "$A_STREAM"
	assert_equal "$(types)" "message_start content_block_start ping content_block_delta content_block_delta content_block_stop content_block_start content_block_delta content_block_delta content_block_delta content_block_stop message_delta message_stop"
	data | jq -s -e '[.[] | select(.type == "content_block_start")][1] | .index == 1 and .content_block
		== {"type":"tool_use","id":"toolu_mock_1","name":"glob","input":{}}'
	pieces=$(data | jq -c 'select(.index == 1 and .type == "content_block_delta") | .delta' | jq -s 'length')
	assert_equal "$pieces" 3
	got=$(data | jq -rj 'select(.delta.type == "input_json_delta") | .delta.partial_json' | jq -cS .)
	want=$(sed -n 3p "$FIX/basic.jsonl" | jq -cS '.content[1].input')
	assert_equal "$got" "$want"
	first_of message_delta '.delta.stop_reason == "tool_use"'
}

@test "anthropic: a scripted tool id is kept, generated ids count up" {
	script=$(mk_script <<'EOF'
{"content":[{"type":"tool_use","name":"a","input":{}},{"type":"tool_use","name":"b","input":{"x":1}}]}
{"content":[{"type":"tool_use","id":"toolu_fixed_1","name":"read","input":{"path":"README.md"}}]}
{"content":[{"type":"tool_use","name":"c"}]}
EOF
	)
	mockd_start "$script"
	req /v1/messages "$A_WHOLE"
	assert_equal "$(jq -r '[.content[].id] | join(" ")' "$out")" "toolu_mock_1 toolu_mock_2"
	req /v1/messages "$A_WHOLE"
	assert_equal "$(jq -c '.content[0] | [.id, .input]' "$out")" '["toolu_fixed_1",{"path":"README.md"}]'
	req /v1/messages "$A_STREAM"
	first_of content_block_start '.content_block.id == "toolu_mock_3"'
	assert_equal "$(data | jq -rj '.delta.partial_json // empty')" "{}"
}

@test "anthropic non-streaming: a whole message object" {
	mockd_start "$FIX/basic.jsonl"
	req /v1/messages "$A_WHOLE"
	assert_equal "$code" 200
	assert_equal "$(header content-type)" application/json
	jq -e '.id == "msg_mock_1" and .type == "message" and .role == "assistant"
		and .model == "claude-test" and .content == [{"type":"text","text":"Hello there, world."}]
		and .stop_reason == "end_turn" and .stop_sequence == null
		and .usage.input_tokens > 0 and .usage.output_tokens == 4' "$out"
	req /v1/messages "$A_WHOLE"
	assert_equal "$(jq -cS '.content[1].input' "$out")" "$(sed -n 3p "$FIX/basic.jsonl" | jq -cS '.content[1].input')"
	assert_equal "$(jq -r .stop_reason "$out")" tool_use
}

@test "openai non-streaming: chat.completion with content and tool_calls" {
	mockd_start "$FIX/basic.jsonl"
	req /v1/chat/completions "$O_WHOLE"
	assert_equal "$code" 200
	assert_equal "$(header x-request-id)" req_mock_1
	jq -e '.object == "chat.completion" and .model == "gpt-test" and (.id | startswith("chatcmpl-"))
		and (.created | type) == "number"
		and .choices[0].message == {"role":"assistant","content":"Hello there, world.","refusal":null}
		and .choices[0].finish_reason == "stop" and .choices[0].logprobs == null
		and .usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens' "$out"
	req /v1/chat/completions "$O_WHOLE"
	jq -e '.choices[0].finish_reason == "tool_calls" and .choices[0].message.content == "Let me look."' "$out"
	jq -e '.choices[0].message.tool_calls[0] | .id == "call_mock_1" and .type == "function" and .function.name == "glob"' "$out"
	assert_equal "$(jq -r '.choices[0].message.tool_calls[0].function.arguments' "$out" | jq -cS .)" \
		"$(sed -n 3p "$FIX/basic.jsonl" | jq -cS '.content[1].input')"
}

@test "openai stream with include_usage: chunks, usage chunk, [DONE]" {
	mockd_start "$FIX/basic.jsonl"
	req /v1/chat/completions "$O_STREAM"
	assert_equal "$code" 200
	assert_equal "$(header content-type)" "text/event-stream; charset=utf-8"
	assert_equal "$(data | tail -n 1)" "[DONE]"
	assert_equal "$(events | wc -l)" 0
	chunks=$(data | sed '$d')
	jq -e -s 'all(.[]; .object == "chat.completion.chunk" and .id == "chatcmpl-mock1" and .model == "gpt-test")' <<<"$chunks"
	jq -e -s '.[-1] | .choices == [] and .usage.prompt_tokens > 0 and .usage.completion_tokens == 4
		and .usage.total_tokens == .usage.prompt_tokens + .usage.completion_tokens' <<<"$chunks"
	jq -e -s '.[:-1] | all(.[]; .usage == null and (.choices | length) == 1 and .choices[0].logprobs == null)' <<<"$chunks"
	jq -e -s '.[0].choices[0].delta.role == "assistant"' <<<"$chunks"
	jq -e -s '[.[:-1][] | .choices[0].finish_reason] | .[:-1] == [null,null,null] and .[-1] == "stop"' <<<"$chunks"
	assert_equal "$(jq -rj '.choices[0].delta.content // empty' <<<"$chunks")" "Hello there, world."
}

@test "openai stream: tool_calls deltas by index, no usage chunk unless asked" {
	mockd_start "$FIX/basic.jsonl"
	req /v1/chat/completions "$O_STREAM"
	req /v1/chat/completions '{"model":"m","stream":true,"messages":[]}'
	assert_equal "$(data | tail -n 1)" "[DONE]"
	chunks=$(data | sed '$d')
	jq -e -s 'all(.[]; has("usage") | not) and all(.[]; (.choices | length) == 1)' <<<"$chunks"
	jq -e -s '[.[].choices[0].delta.tool_calls // empty | .[]] | .[0] | .index == 0 and .id == "call_mock_1"
		and .type == "function" and .function == {"name":"glob","arguments":""}' <<<"$chunks"
	assert_equal "$(jq -s '[.[].choices[0].delta.tool_calls // empty | .[] | select(.function.arguments != "")] | length' <<<"$chunks")" 3
	got=$(jq -rj '.choices[0].delta.tool_calls // empty | .[].function.arguments' <<<"$chunks" | jq -cS .)
	assert_equal "$got" "$(sed -n 3p "$FIX/basic.jsonl" | jq -cS '.content[1].input')"
	assert_equal "$(jq -rj '.choices[0].delta.content // empty' <<<"$chunks")" "Let me look."
	assert_equal "$(jq -r -s '.[-1].choices[0].finish_reason' <<<"$chunks")" tool_calls
}

@test "match picks lines by system prompt substring, in any request order" {
	script=$(mk_script <<'EOF'
{"match":"You are the planner","content":[{"type":"text","text":"PLAN"}]}
{"match":"You are the coder","content":[{"type":"text","text":"CODE"}]}
EOF
	)
	mockd_start "$script"
	req /v1/messages '{"model":"m","system":[{"type":"text","text":"Intro. "},{"type":"text","text":"You are the coder."}],"messages":[]}'
	assert_equal "$(jq -r '.content[0].text' "$out")" CODE
	req /v1/messages '{"model":"m","system":"You are the planner. Plan.","messages":[]}'
	assert_equal "$(jq -r '.content[0].text' "$out")" PLAN
	assert_equal "$(mockd_request 1 | jq .reply)" 1
	assert_equal "$(mockd_request 2 | jq .reply)" 0
}

@test "match reads the openai system and developer messages; endpoint restricts" {
	script=$(mk_script <<'EOF'
{"endpoint":"anthropic","content":[{"type":"text","text":"ANTHROPIC"}]}
{"match":"reviewer","content":[{"type":"text","text":"REVIEW"}]}
{"endpoint":"openai","content":[{"type":"text","text":"OPENAI"}]}
EOF
	)
	mockd_start "$script"
	req /v1/chat/completions '{"model":"m","messages":[{"role":"developer","content":[{"type":"text","text":"You are the reviewer"}]},{"role":"user","content":"x"}]}'
	assert_equal "$(jq -r '.choices[0].message.content' "$out")" REVIEW
	req /v1/chat/completions "$O_WHOLE"
	assert_equal "$(jq -r '.choices[0].message.content' "$out")" OPENAI
	req /v1/messages "$A_WHOLE"
	assert_equal "$(jq -r '.content[0].text' "$out")" ANTHROPIC
}

@test "script exhausted: HTTP 500 api_error, logged with reply -1" {
	script=$(mk_script <<<'{"content":[{"type":"text","text":"one"}]}')
	mockd_start "$script"
	req /v1/messages "$A_WHOLE"
	assert_equal "$code" 200
	req /v1/messages "$A_STREAM"
	assert_equal "$code" 500
	jq -e '.type == "error" and .error == {"type":"api_error","message":"bl-mockd: script exhausted"}' "$out"
	req /v1/chat/completions "$O_WHOLE"
	assert_equal "$code" 500
	jq -e '.error.type == "api_error" and .error.message == "bl-mockd: script exhausted"' "$out"
	assert_equal "$(mockd_request 2 | jq .reply)" -1
}

@test "status 529 with retry-after: overloaded_error and request-id" {
	script=$(mk_script <<<'{"status":529,"retry_after":2}')
	mockd_start "$script"
	req /v1/messages "$A_STREAM"
	assert_equal "$code" 529
	assert_equal "$(header retry-after)" 2
	assert_equal "$(header content-type)" application/json
	assert_equal "$(header request-id)" req_mock_1
	jq -e '.type == "error" and .error.type == "overloaded_error" and .error.message == "Overloaded"
		and .request_id == "req_mock_1"' "$out"
}

@test "status 401: authentication_error, x-should-retry, retry-after-ms, headers" {
	script=$(mk_script <<'EOF'
{"status":401,"should_retry":false,"retry_after_ms":1500,"headers":{"x-mock":"yes"}}
{"status":400,"error_type":"invalid_request_error","error_message":"max_tokens: required"}
EOF
	)
	mockd_start "$script"
	req /v1/messages "$A_WHOLE"
	assert_equal "$code" 401
	assert_equal "$(jq -r .error.type "$out")" authentication_error
	assert_equal "$(header x-should-retry)" false
	assert_equal "$(header retry-after-ms)" 1500
	assert_equal "$(header x-mock)" yes
	req /v1/messages "$A_WHOLE"
	assert_equal "$code" 400
	jq -e '.error == {"type":"invalid_request_error","message":"max_tokens: required"}' "$out"
}

@test "openai errors have the openai shape" {
	script=$(mk_script <<<'{"status":429,"error_message":"slow down","retry_after":1}')
	mockd_start "$script"
	req /v1/chat/completions "$O_STREAM"
	assert_equal "$code" 429
	assert_equal "$(header x-request-id)" req_mock_1
	assert_equal "$(header retry-after)" 1
	jq -e '.error == {"message":"slow down","type":"rate_limit_error","param":null,"code":null}' "$out"
}

@test "cut_after: curl sees a truncated chunked stream" {
	script=$(mk_script <<'EOF'
{"content":[{"type":"text","text":"Hello there"}],"cut_after":4}
{"content":[{"type":"text","text":"Hello there"}],"cut_after":2}
EOF
	)
	mockd_start "$script"
	req /v1/messages "$A_STREAM"
	assert_equal "$code" 200
	assert_equal "$curl_rc" 18
	assert_equal "$(types)" "message_start content_block_start ping content_block_delta"
	req /v1/chat/completions "$O_STREAM"
	assert_equal "$curl_rc" 18
	assert_equal "$(data | wc -l)" 2
	refute grep -q DONE "$out"
}

@test "stall: nothing arrives, curl --max-time 1 times out" {
	script=$(mk_script <<<'{"content":[{"type":"text","text":"late"}],"stall":30}')
	mockd_start "$script"
	t0=$(now_ms)
	req /v1/messages "$A_STREAM" --max-time 1
	assert_equal "$curl_rc" 28
	assert_equal "$code" 000
	[ ! -s "$out" ]
	[ $(($(now_ms) - t0)) -lt 5000 ]
}

@test "stall_after: the first N events arrive, then silence" {
	script=$(mk_script <<<'{"content":[{"type":"text","text":"Hello there"}],"stall":30,"stall_after":2}')
	mockd_start "$script"
	req /v1/messages "$A_STREAM" --max-time 1
	assert_equal "$curl_rc" 28
	assert_equal "$code" 200
	assert_equal "$(types)" "message_start content_block_start"
}

@test "a short stall delays, then the reply arrives whole" {
	script=$(mk_script <<<'{"content":[{"type":"text","text":"late"}],"stall":0.5}')
	mockd_start "$script"
	t0=$(now_ms)
	req /v1/messages "$A_WHOLE"
	[ $(($(now_ms) - t0)) -ge 500 ]
	assert_equal "$(jq -r '.content[0].text' "$out")" late
}

@test "drip_ms: the stream takes at least (events - 1) x drip" {
	script=$(mk_script <<<'{"content":[{"type":"text","text":"Hello there"}],"drip_ms":150}')
	mockd_start "$script"
	t0=$(now_ms)
	req /v1/messages "$A_STREAM"
	elapsed=$(($(now_ms) - t0))
	n=$(events | wc -l)
	assert_equal "$n" 8
	[ "$elapsed" -ge $(((n - 1) * 150)) ] || fail "took ${elapsed} ms for $n events"
	assert_equal "$curl_rc" 0
}

@test "streams are served in parallel" {
	script=$(mk_script <<<'{"content":[{"type":"text","text":"Hello there"}],"drip_ms":200,"repeat":3}')
	mockd_start "$script"
	t0=$(now_ms)
	pids=()
	for i in 1 2 3; do
		curl -sS -N -o "$BATS_TEST_TMPDIR/par$i" --data-binary "$A_STREAM" \
			"http://127.0.0.1:$MOCKD_PORT/v1/messages" 3>&- &
		pids+=($!)
	done
	wait "${pids[@]}"
	elapsed=$(($(now_ms) - t0))
	[ "$elapsed" -lt 3000 ] || fail "3 x 1.4 s streams took ${elapsed} ms"
	for i in 1 2 3; do
		assert_equal "$(grep -c '^event: message_stop' "$BATS_TEST_TMPDIR/par$i")" 1
	done
}

@test "error_event: anthropic sends event: error instead of message_delta" {
	script=$(mk_script <<'EOF'
{"content":[{"type":"text","text":"Hello there"}],"error_event":{"type":"overloaded_error","message":"Overloaded"}}
{"content":[{"type":"text","text":"Hello there"}],"error_event":{"type":"api_error","message":"boom"}}
EOF
	)
	mockd_start "$script"
	req /v1/messages "$A_STREAM"
	assert_equal "$code" 200
	assert_equal "$curl_rc" 0
	assert_equal "$(events | tail -n 1)" error
	data | tail -n 1 | jq -e '. == {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
	refute grep -q -e message_delta -e message_stop "$out"
	req /v1/chat/completions "$O_STREAM"
	data | tail -n 1 | jq -e '.error.type == "api_error" and .error.message == "boom"'
	refute grep -q DONE "$out"
}

@test "repeat: N requests per line, 0 forever" {
	script=$(mk_script <<'EOF'
{"repeat":2,"content":[{"type":"text","text":"A"}]}
{"content":[{"type":"text","text":"B"}]}
{"repeat":0,"content":[{"type":"text","text":"C"}]}
EOF
	)
	mockd_start "$script"
	got=
	for i in $(seq 7); do
		req /v1/messages "$A_WHOLE"
		got+=$(jq -r '.content[0].text' "$out")
	done
	assert_equal "$got" AABCCCC
}

@test "request log: one JSON line per request, headers lower-cased, body parsed" {
	mockd_start "$FIX/basic.jsonl"
	req /v1/messages "$A_STREAM" -H "X-Api-Key: $ANTHROPIC_API_KEY" -H 'Anthropic-Version: 2023-06-01'
	req /v1/messages 'not json'
	assert_equal "$code" 400
	assert_equal "$(jq -r .error.type "$out")" invalid_request_error
	assert_equal "$(mockd_requests)" 2
	mockd_request 1 | jq -e --arg key "$ANTHROPIC_API_KEY" '.n == 1 and .method == "POST"
		and .path == "/v1/messages" and (.ts | test("^[0-9-]+T[0-9:.]+Z$"))
		and .headers["x-api-key"] == $key and .headers["anthropic-version"] == "2023-06-01"
		and .headers["content-type"] == "application/json"
		and .body.messages[0].content == "hi" and .body.stream == true and .reply == 0'
	mockd_request 2 | jq -e '.n == 2 and .body == "not json" and .reply == -1'
	# a bad request does not use up a script line
	req /v1/messages "$A_WHOLE"
	assert_equal "$(jq -r '.content[0].text' "$out")" "Let me look."
	assert_equal "$(mockd_request 3 | jq .reply)" 1
}

@test "the log line is written before the response is sent" {
	mockd_start "$FIX/basic.jsonl"
	for i in 1 2 3; do
		req /v1/messages "$A_WHOLE"
		assert_equal "$(mockd_requests)" "$i"
		assert_equal "$(mockd_request "$i" | jq .reply)" "$((i - 1))"
	done
}

@test "caching: the second identical request reads what the first created" {
	script=$(mk_script <<<'{"repeat":0,"content":[{"type":"text","text":"ok"}]}')
	mockd_start "$script"
	body='{"model":"claude-test","max_tokens":100,
		"tools":[{"name":"glob","description":"find files","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}],
		"system":[{"type":"text","text":"You are a careful engineer. Read the code before you change it.","cache_control":{"type":"ephemeral"}}],
		"messages":[{"role":"user","content":[{"type":"text","text":"list the C files in this repository","cache_control":{"type":"ephemeral"}}]}]}'
	req /v1/messages "$body"
	create=$(jq .usage.cache_creation_input_tokens "$out")
	assert_equal "$(jq .usage.cache_read_input_tokens "$out")" 0
	[ "$create" -gt 0 ]
	req /v1/messages "$body"
	assert_equal "$(jq .usage.cache_read_input_tokens "$out")" "$create"
	assert_equal "$(jq .usage.cache_creation_input_tokens "$out")" 0
	[ "$(jq .usage.input_tokens "$out")" -ge 1 ]
	# the next turn: the breakpoint moves to the new last message
	body2=$(jq -c 'del(.messages[0].content[0].cache_control)
		| .messages += [{"role":"assistant","content":"C files: a.c"},
		  {"role":"user","content":[{"type":"text","text":"now read a.c","cache_control":{"type":"ephemeral"}}]}]' <<<"$body")
	req /v1/messages "$body2" -H 'x-stream: no'
	assert_equal "$(jq .usage.cache_read_input_tokens "$out")" "$create"
	[ "$(jq .usage.cache_creation_input_tokens "$out")" -gt 0 ]
	# no breakpoints: no cache traffic
	req /v1/messages "$A_WHOLE"
	jq -e '.usage.cache_read_input_tokens == 0 and .usage.cache_creation_input_tokens == 0' "$out"
}

@test "usage overrides the estimates, field by field" {
	script=$(mk_script <<'EOF'
{"content":[{"type":"text","text":"x"}],"usage":{"input_tokens":42,"output_tokens":7,"cache_read_input_tokens":5}}
{"content":[{"type":"text","text":"x"}],"usage":{"output_tokens":9}}
EOF
	)
	mockd_start "$script"
	req /v1/messages "$A_STREAM"
	data | head -n 1 | jq -e '.message.usage | .input_tokens == 42 and .cache_read_input_tokens == 5'
	first_of message_delta '.usage.output_tokens == 7'
	req /v1/chat/completions "$O_WHOLE"
	jq -e --argjson p $((${#O_WHOLE} / 4)) '.usage.completion_tokens == 9 and .usage.prompt_tokens == $p' "$out"
}

@test "chunk_bytes splits text into pieces without breaking UTF-8; stop_reason maps" {
	script=$(mk_script <<'EOF'
{"chunk_bytes":4,"content":[{"type":"text","text":"abcdefghij"}]}
{"chunk_bytes":1,"stop_reason":"max_tokens","content":[{"type":"text","text":"é☃x"}]}
EOF
	)
	mockd_start "$script"
	req /v1/messages "$A_STREAM"
	assert_equal "$(data | jq -r 'select(.type == "content_block_delta") | .delta.text' | paste -sd ,)" "abcd,efgh,ij"
	req /v1/chat/completions "$O_STREAM"
	assert_equal "$(data | sed '$d' | jq -r '.choices[0].delta.content // empty | select(. != "")' | paste -sd ,)" "é,☃,x"
	refute grep -q $'\xef\xbf\xbd' "$out"
	assert_equal "$(data | sed '$d' | jq -r -s '.[-2].choices[0].finish_reason')" length
}

@test "event shapes match the recorded real-API streams" {
	[ -d "$SHARED" ] || skip "no ../shared/fixtures"
	script=$(mk_script <<'EOF'
{"repeat":0,"content":[{"type":"text","text":"Let me look."},{"type":"tool_use","name":"glob","input":{"pattern":"*.c"}}]}
EOF
	)
	mockd_start "$script"
	req /v1/messages "$A_STREAM"
	fix="$SHARED/anthropic-sdk-python__streaming__tool_use_response.sse"
	shape='def sh: if type == "object" then with_entries(select(.key != "caller") | .value |= sh) else type end;
		group_by(.type) | map({key: .[0].type, value: (map(sh) | unique)}) | from_entries'
	ours=$(data | jq -s "$shape")
	theirs=$(sed -n 's/^data: //p' "$fix" | jq -s "$shape")
	for t in message_start content_block_start content_block_delta content_block_stop message_delta message_stop ping; do
		assert_equal "$(jq -c --arg t "$t" '.[$t]' <<<"$ours")" "$(jq -c --arg t "$t" '.[$t]' <<<"$theirs")"
	done
	req /v1/chat/completions "$O_STREAM"
	fix="$SHARED/openai-python__chat-stream__single_tool_call_with_usage_and_DONE.sse"
	keys='[.[] | select(. != "[DONE]") | fromjson | del(.usage | nulls) | [keys, (.choices[0] // {} | keys)]] | unique'
	assert_equal "$(data | jq -R -s -c "split(\"\n\") | map(select(length > 0)) | $keys")" \
		"$(sed -n 's/^data: //p' "$fix" | jq -R -s -c "split(\"\n\") | map(select(length > 0)) | $keys")"
	ukeys=$(sed -n 's/^data: //p' "$fix" | grep '"usage"' | jq -c '.usage | keys - (keys - ["prompt_tokens","completion_tokens","total_tokens"])')
	assert_equal "$(data | grep '"usage":{' | jq -c '.usage | keys - (keys - ["prompt_tokens","completion_tokens","total_tokens"])')" "$ukeys"
}

@test "a bad script: exit 65 with FILE:LINE" {
	run bl-mockd --script "$FIX/bad-json.jsonl"
	assert_equal "$status" 65
	assert_output --regexp "^bl-mockd: .*/bad-json\.jsonl:3: "
	run bl-mockd --script "$FIX/bad-field.jsonl"
	assert_equal "$status" 65
	assert_output --partial "bad-field.jsonl:3: unknown field 'stal'"
	script=$(mk_script <<<'{"content":[{"type":"tool_use","input":{}}]}')
	run bl-mockd --script "$script"
	assert_equal "$status" 65
	assert_output --partial "script.jsonl:1: a tool_use block needs 'name'"
	script=$(mk_script <<<'{"repeat":0,"repeat":1}')
	run bl-mockd --script "$script"
	assert_equal "$status" 65
	assert_output --partial "script.jsonl:1: duplicate field 'repeat'"
	script=$(mk_script <<<'{"stall_after":1}')
	run bl-mockd --script "$script"
	assert_equal "$status" 65
	assert_output --partial "script.jsonl:1: 'stall_after' needs 'stall'"
	run bl-mockd --script "$BATS_TEST_TMPDIR/missing.jsonl"
	assert_equal "$status" 65
	assert_output --partial "cannot read"
}

@test "--port busy: a clear error" {
	mockd_start "$FIX/basic.jsonl"
	run bl-mockd --script "$FIX/basic.jsonl" --port "$MOCKD_PORT"
	assert_equal "$status" 69
	assert_output "bl-mockd: cannot listen on 127.0.0.1:$MOCKD_PORT: Address already in use"
}

@test "usage errors exit 64; only 127.0.0.1 is served" {
	run bl-mockd
	assert_equal "$status" 64
	assert_output --partial "usage: bl-mockd --script FILE"
	run bl-mockd --script "$FIX/basic.jsonl" --host 0.0.0.0
	assert_equal "$status" 64
	run bl-mockd --script "$FIX/basic.jsonl" --port 70000
	assert_equal "$status" 64
}

@test "SIGTERM ends it promptly with status 0, even mid-stall" {
	script=$(mk_script <<<'{"content":[{"type":"text","text":"late"}],"stall":60}')
	mockd_start "$script"
	curl -sS -o /dev/null --data-binary "$A_STREAM" "http://127.0.0.1:$MOCKD_PORT/v1/messages" 2>/dev/null 3>&- &
	curl_pid=$!
	sleep 0.3
	t0=$(now_ms)
	mockd_stop
	[ $(($(now_ms) - t0)) -lt 3000 ]
	wait "$curl_pid" || true
}

@test "--help names the options and both endpoints; --version; no script is usage (64)" {
	run bl-mockd --help
	assert_success
	assert_output --partial "--script FILE"
	assert_output --partial "POST /v1/messages"
	assert_output --partial "POST /v1/chat/completions"
	run bl-mockd --version
	assert_success
	assert_output "bl-mockd (better-llm) 0.1.0"
	run bl-mockd
	assert_equal "$status" 64
}
