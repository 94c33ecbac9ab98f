#!/usr/bin/env bats
# The official @anthropic-ai/sdk and openai npm clients against bl-mockd:
# tests/conformance/conformance.mjs runs once (in setup_file) and prints
# one TAP line per client feature; each test here asserts one of them.
# Skipped (visibly) only when npm is missing; a failed `npm install`
# fails the suite.

ORIG_HOME=${ORIG_HOME:-$HOME}
export ORIG_HOME

load helpers

CONF="$ROOT/tests/conformance"
SCRIPT="$ROOT/tests/fixtures/mockd/conformance.jsonl"

setup_file() {
	command -v npm >/dev/null || return 0
	local out="$BATS_FILE_TMPDIR"
	if [ ! -d "$CONF/node_modules/@anthropic-ai/sdk" ] || [ ! -d "$CONF/node_modules/openai" ]; then
		(cd "$CONF" && HOME="$ORIG_HOME" npm install --no-audit --no-fund) \
			>"$out/npm.log" 2>&1 || echo "npm install failed" >"$out/npm.failed"
	fi
	[ -f "$out/npm.failed" ] && return 0
	mockd_start "$SCRIPT"
	(cd "$CONF" && timeout 120 node conformance.mjs "$SCRIPT") >"$out/tap" 2>"$out/node.err"
	echo $? >"$out/node.rc"
	cp "$MOCKD_LOG" "$out/requests.log"
	mockd_stop || echo "bl-mockd exited non-zero" >>"$out/node.err"
}

# expect_check NAME: the named TAP check passed.
expect_check() {
	command -v npm >/dev/null || skip "npm not found"
	local out="$BATS_FILE_TMPDIR"
	if [ -f "$out/npm.failed" ]; then
		cat "$out/npm.log"
		fail "npm install failed in tests/conformance"
	fi
	if ! grep -Eq "^ok [0-9]+ - $1\$" "$out/tap"; then
		echo "--- conformance.mjs output:"
		cat "$out/tap" "$out/node.err"
		fail "check '$1' did not pass"
	fi
}

@test "anthropic: messages.stream text (finalMessage, text events)" {
	expect_check 'anthropic messages\.stream text'
}

@test "anthropic: messages.stream tool_use (input equals the script)" {
	expect_check 'anthropic messages\.stream tool_use'
}

@test "anthropic: messages.create, not streamed" {
	expect_check 'anthropic messages\.create \(not streamed\)'
}

@test "anthropic: raw stream events in order" {
	expect_check 'anthropic messages\.create stream:true raw events'
}

@test "anthropic: 529 is an APIError with overloaded_error" {
	expect_check 'anthropic 529 -> APIError overloaded_error'
}

@test "anthropic: 401 is an AuthenticationError" {
	expect_check 'anthropic 401 -> AuthenticationError'
}

@test "anthropic: an error event mid-stream is an APIError" {
	expect_check 'anthropic error event mid-stream -> APIError'
}

@test "anthropic: cache usage fields through the SDK" {
	expect_check 'anthropic prompt caching usage'
}

@test "openai: streamed tool_calls, finish_reason and usage" {
	expect_check 'openai chat\.completions\.create stream with tool_calls and usage'
}

@test "openai: chat.completions.stream helper" {
	expect_check 'openai chat\.completions\.stream helper assembles tool_calls'
}

@test "openai: chat.completions.create, not streamed" {
	expect_check 'openai chat\.completions\.create \(not streamed\)'
}

@test "openai: 429 is an APIError with status and type" {
	expect_check 'openai 429 -> APIError with status and type'
}

@test "every check passed, the SDKs sent the fake keys, bl-mockd exited cleanly" {
	command -v npm >/dev/null || skip "npm not found"
	local out="$BATS_FILE_TMPDIR"
	[ ! -f "$out/npm.failed" ] || fail "npm install failed"
	assert_equal "$(cat "$out/node.rc")" 0
	plan=$(sed -n 's/^1\.\.//p' "$out/tap")
	assert_equal "$(grep -c '^ok ' "$out/tap")" "$plan"
	refute grep -q '^not ok' "$out/tap"
	refute grep -q 'exited non-zero' "$out/node.err"
	jq -e -s --arg a "$MOCKD_TEST_KEY_ANTHROPIC" --arg o "$MOCKD_TEST_KEY_OPENAI" '
		all(.[] | select(.path == "/v1/messages");
			(.headers["x-api-key"] == $a or .headers.authorization == "Bearer " + $a)
			and (.headers["anthropic-version"] | length) > 0)
		and all(.[] | select(.path == "/v1/chat/completions"); .headers.authorization == "Bearer " + $o)
		and all(.[]; .reply >= 0)' "$out/requests.log"
}
