# tests/helpers.bash — shared helpers for every bats suite (`load helpers`).
#
# Loading this file:
#   - loads bats-support and bats-assert;
#   - sets ROOT (the repo root), puts "$ROOT/bin" first on PATH and exports
#     BL_SRCDIR="$ROOT";
#   - calls setup_mockd_env: an isolated environment for the test —
#     HOME="$BATS_TEST_TMPDIR/home" (created), XDG_CONFIG_HOME and
#     XDG_STATE_HOME beneath it (created), BL_HOME="$BATS_TEST_TMPDIR/blhome"
#     (not created), and LOG_DIR, ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN,
#     ANTHROPIC_API_KEY, OPENAI_API_KEY, ANTHROPIC_BASE_URL, OPENAI_BASE_URL
#     unset, so no test can reach a real API with a real key.  In setup_file
#     (no BATS_TEST_TMPDIR yet) BATS_FILE_TMPDIR is used instead.
#
# Functions:
#   mockd_start SCRIPT [ARGS...]  start bin/bl-mockd --script SCRIPT --port 0
#                                 --log "$BATS_TEST_TMPDIR/mockd.log" in the
#                                 background, wait (up to 5 s) for its port,
#                                 export MOCKD_PORT MOCKD_LOG MOCKD_PID,
#                                 ANTHROPIC_BASE_URL=http://127.0.0.1:PORT,
#                                 OPENAI_BASE_URL=http://127.0.0.1:PORT/v1,
#                                 ANTHROPIC_API_KEY=sk-ant-test-0123456789abcdef,
#                                 OPENAI_API_KEY=sk-openai-test-0123456789abcdef.
#                                 The log starts empty; a bl-mockd this test
#                                 started before is stopped first.  Fails
#                                 (printing bl-mockd's stderr) when it does
#                                 not come up.
#   mockd_stop                    SIGTERM + wait; call it from teardown.  Fails
#                                 when bl-mockd exited non-zero (e.g. an ASan
#                                 report under SAN=1), printing its stderr.
#   mockd_requests                the number of logged requests
#   mockd_request N               the Nth (1-based) request log line (JSON)
#   mk_script [FILE]              writes stdin to FILE (default
#                                 "$BATS_TEST_TMPDIR/script.jsonl") and prints
#                                 its path: script=$(mk_script <<'EOF' ... EOF)

load /usr/lib/bats/bats-support/load.bash
load /usr/lib/bats/bats-assert/load.bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
export BL_SRCDIR="$ROOT"
case ":$PATH:" in
"$ROOT/bin:"*) ;;
*) export PATH="$ROOT/bin:$PATH" ;;
esac

MOCKD_TEST_KEY_ANTHROPIC=sk-ant-test-0123456789abcdef
MOCKD_TEST_KEY_OPENAI=sk-openai-test-0123456789abcdef

# The per-test (or per-file, in setup_file) scratch directory.
_helpers_tmpdir() {
	if [ -n "${BATS_TEST_TMPDIR:-}" ]; then
		printf '%s\n' "$BATS_TEST_TMPDIR"
	elif [ -n "${BATS_FILE_TMPDIR:-}" ]; then
		printf '%s\n' "$BATS_FILE_TMPDIR"
	else
		mktemp -d
	fi
}

setup_mockd_env() {
	local base
	base=$(_helpers_tmpdir)
	export HOME="$base/home"
	export XDG_CONFIG_HOME="$HOME/.config"
	export XDG_STATE_HOME="$HOME/.local/state"
	export BL_HOME="$base/blhome"
	mkdir -p "$HOME" "$XDG_CONFIG_HOME" "$XDG_STATE_HOME"
	unset LOG_DIR ANTHROPIC_AUTH_TOKEN CLAUDE_CODE_OAUTH_TOKEN
	unset ANTHROPIC_API_KEY OPENAI_API_KEY ANTHROPIC_BASE_URL OPENAI_BASE_URL
}
setup_mockd_env

mockd_start() {
	local script=$1
	shift
	local dir i port=
	mockd_stop || return 1
	dir=$(_helpers_tmpdir)
	MOCKD_LOG="$dir/mockd.log"
	: >"$MOCKD_LOG"
	"$ROOT/bin/bl-mockd" --script "$script" --port 0 --log "$MOCKD_LOG" "$@" \
		>"$dir/mockd.out" 2>"$dir/mockd.err" 3>&- &
	MOCKD_PID=$!
	for i in $(seq 150); do # up to 15 s: a loaded 2-core CI machine
		port=$(head -n 1 "$dir/mockd.out" 2>/dev/null)
		[ -n "$port" ] && break
		if ! kill -0 "$MOCKD_PID" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	if [ -z "$port" ]; then
		echo "mockd_start: bl-mockd did not come up; its stderr:" >&2
		cat "$dir/mockd.err" >&2
		kill "$MOCKD_PID" 2>/dev/null
		MOCKD_PID=
		return 1
	fi
	MOCKD_ERR="$dir/mockd.err"
	export MOCKD_PORT=$port MOCKD_LOG MOCKD_PID MOCKD_ERR
	export ANTHROPIC_BASE_URL="http://127.0.0.1:$port"
	export OPENAI_BASE_URL="http://127.0.0.1:$port/v1"
	export ANTHROPIC_API_KEY=$MOCKD_TEST_KEY_ANTHROPIC
	export OPENAI_API_KEY=$MOCKD_TEST_KEY_OPENAI
}

mockd_stop() {
	local pid=${MOCKD_PID:-} rc=0 i
	[ -n "$pid" ] || return 0
	MOCKD_PID=
	kill -TERM "$pid" 2>/dev/null || return 0
	if wait "$pid" 2>/dev/null; then
		rc=0
	else
		rc=$?
		if [ "$rc" = 127 ]; then
			# not our child (started in another shell): poll until gone
			rc=0
			for i in $(seq 100); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.05
			done
		fi
	fi
	if [ "$rc" != 0 ]; then
		echo "mockd_stop: bl-mockd exited $rc; its stderr:" >&2
		cat "${MOCKD_ERR:-/dev/null}" >&2
		return 1
	fi
}

mockd_requests() {
	if [ -f "${MOCKD_LOG:-}" ]; then
		wc -l <"$MOCKD_LOG" | tr -d ' '
	else
		echo 0
	fi
}

mockd_request() {
	sed -n "${1}p" "$MOCKD_LOG"
}

mk_script() {
	local file=${1:-$(_helpers_tmpdir)/script.jsonl}
	cat >"$file"
	printf '%s\n' "$file"
}

# Reading a filter's stdout, kept in $OUT by each suite:
# assert_jsonl: every line is a conversation line (an object with string
# type and ts), and there is at least one.
assert_jsonl() {
	local line n=0
	while IFS= read -r line; do
		n=$((n + 1))
		jq -e 'type == "object" and (.type | type) == "string" and (.ts | type) == "string"' \
			<<<"$line" >/dev/null || fail "stdout line $n is not a conversation line: $line"
	done <"$OUT"
	[ "$n" -gt 0 ] || fail "stdout is empty"
}
# lines TYPE: the lines of that type, compact; count TYPE: how many.
lines() { jq -c "select(.type == \"$1\")" "$OUT"; }
count() { lines "$1" | wc -l | tr -d ' '; }
# result_of ID: the content of the tool_result answering tool_use ID.
result_of() { jq -j "select(.type == \"tool_result\" and .tool_use_id == \"$1\") | .content" "$OUT"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
