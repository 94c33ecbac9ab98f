#!/usr/bin/env bats
# bl: the interactive front end driven in tmux (send-keys, capture-pane)
# over the real bl-manager in a temp git repo — the planner is the real
# bl-plan against bl-mockd (fake key), the coder a shell stand-in
# (tests/fixtures/bl/stage) — and `bl "task"` off a terminal.  What is
# checked: a typed task streams its view and the closing summary, Ctrl+N
# starts a new session, Ctrl+C mid-stage (a bl-mockd stall) cancels and
# the prompt returns, `stty -a` after quitting (Ctrl+D, Ctrl+C twice,
# SIGTERM, SIGHUP, a crash signal) matches `stty -a` before, the
# one-shot CLI writes the plain view and exits with the run's status, and
# the options reach bl-manager.

load helpers

FIX="$ROOT/tests/fixtures/bl"

setup() {
	WS=$BATS_TEST_TMPDIR/ws
	CFG=$BATS_TEST_TMPDIR/config
	mkdir -p "$WS" "$CFG"
	git -C "$WS" init -q
	git -C "$WS" config user.email test@example.com
	git -C "$WS" config user.name Test
	git -C "$WS" commit -q --allow-empty -m init
	cp "$FIX/config/system_config.json" "$CFG/"
	jq -n --arg stage "$FIX/stage" '{agents: [
		{name: "planner", role: "planner", command: "bl-plan",
		 system_prompt_file: "prompts/planner.txt", tools: ["read", "glob", "grep"],
		 provider: "anthropic", model: "claude-sonnet-4-5", max_turns: 5, timeout_s: 60,
		 max_tokens: 1024},
		{name: "coder", role: "coder", command: $stage, timeout_s: 60}]}' \
		>"$CFG/agent_config.json"
	BLARGS=(--config "$CFG" --pipeline "$FIX/pipeline.json")
	SOCK=bl-test-$$-$BATS_TEST_NUMBER
}

teardown() {
	if [ -n "${SOCK:-}" ] && command -v tmux >/dev/null; then
		tmux -L "$SOCK" kill-server 2>/dev/null || true
	fi
	mockd_stop
}

plan_script() {
	mk_script <<'EOF'
{"content":[{"type":"text","text":"## Plan\n\n- write **work.txt**\n- check it"}]}
EOF
}

need_tmux() {
	command -v tmux >/dev/null || skip "tmux is not installed (make deps installs it)"
}

# Starts a shell in a detached tmux pane (100x40) in $WS with the test's
# environment; bl is started in it by the test.
pane_start() {
	need_tmux
	tmux -L "$SOCK" -f /dev/null new-session -d -s t -x 100 -y 40 \
		env -i PATH="$PATH" HOME="$HOME" BL_HOME="$BL_HOME" BL_SRCDIR="$BL_SRCDIR" \
		XDG_CONFIG_HOME="$XDG_CONFIG_HOME" XDG_STATE_HOME="$XDG_STATE_HOME" \
		ANTHROPIC_BASE_URL="${ANTHROPIC_BASE_URL:-}" ANTHROPIC_API_KEY="${ANTHROPIC_API_KEY:-}" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
		TERM=screen LANG=C.UTF-8 PS1='$ ' bash --norc --noprofile
	keys "cd '$WS'" Enter
}

keys() { tmux -L "$SOCK" send-keys -t t "$@"; }
screen() { tmux -L "$SOCK" capture-pane -p -J -S - -t t; }

# wait_for REGEX [SECONDS]: until the pane shows it.
wait_for() {
	local i
	for i in $(seq $((${2:-10} * 10))); do
		screen | grep -Eq -- "$1" && return 0
		sleep 0.1
	done
	echo "timed out waiting for /$1/; the pane:" >&2
	screen >&2
	return 1
}

# The pane's last non-empty line.
last_line() { screen | sed -e 's/[[:space:]]*$//' -e '/^$/d' | tail -n 1; }

# The pid of bl running in the pane (a child of the pane's shell).
bl_pid() {
	local sh
	sh=$(tmux -L "$SOCK" display -p -t t '#{pane_pid}')
	pgrep -P "$sh" -x bl
}

start_bl() {
	keys "stty -a >'$BATS_TEST_TMPDIR/stty.before'; bl ${BLARGS[*]}" Enter
	wait_for '^bl> ?$'
}

# After bl is gone: the terminal's modes must be as before.
stty_unchanged() {
	wait_for '^\$ ?$'
	keys "stty -a >'$BATS_TEST_TMPDIR/stty.after'" Enter
	local i
	for i in $(seq 50); do
		[ -s "$BATS_TEST_TMPDIR/stty.after" ] && break
		sleep 0.1
	done
	sleep 0.2
	diff "$BATS_TEST_TMPDIR/stty.before" "$BATS_TEST_TMPDIR/stty.after"
	# under SAN=1 a leak or UB report would be on the screen
	! screen | grep -E 'Sanitizer|runtime error'
}

@test "bl in tmux: a task streams the view and the closing summary" {
	mockd_start "$(plan_script)"
	pane_start
	start_bl
	assert_equal "$(last_line)" "bl>"
	screen | grep -q 'ready · 0 runs'
	keys "write work.txt" Enter
	wait_for 'status +completed' 20
	run screen
	assert_line 'bl> write work.txt'
	assert_line '◆ task: write work.txt'
	assert_line --regexp '^━━ planner ━+$'
	assert_line 'Plan' # the Markdown heading (in colour: bold, no '#')
	assert_line '• write work.txt'
	assert_line '  ✎ write work.txt (+1 −0)'
	assert_line 'Coder finished: work.txt written.'
	assert_line --regexp '^  tokens   [0-9,]+ in, [0-9,]+ out'
	assert_line --regexp '^  session  .*/sessions/[0-9]{8}-[0-9]{6}-[0-9a-f]{6}\.jsonl$'
	assert_line --regexp '^ready · session [0-9-]+[0-9a-f]+ · 1 run · [0-9]+ tokens'
	assert_equal "$(last_line)" "bl>"
	[ "$(cat "$WS/work.txt")" = done ]
	# the session was saved, and the task went into the history
	ls "$BL_HOME"/sessions/*.jsonl
	grep -q 'work.txt' "$BL_HOME/history" # libedit's format: write\040work.txt
	keys C-d
	stty_unchanged
}

@test "bl in tmux: Ctrl+N starts a new session" {
	mockd_start "$(plan_script)"
	pane_start
	start_bl
	keys "write work.txt" Enter
	wait_for 'status +completed' 20
	wait_for '· 1 run ·'
	keys C-n
	wait_for '──── new session ────'
	wait_for '^ready · 0 runs · 0 tokens'
	assert_equal "$(last_line)" "bl>"
	keys "/cost" Enter
	wait_for 'this session: 0 runs, 0 tokens in, 0 out'
	keys C-d
	stty_unchanged
}

@test "bl in tmux: Ctrl+C mid-stage cancels the task and the prompt returns" {
	mockd_start "$(mk_script <<'EOF'
{"stall": 30, "content":[{"type":"text","text":"too late"}]}
EOF
)"
	pane_start
	start_bl
	keys "a slow task" Enter
	wait_for '━━ planner' 10
	wait_for '^● planner'
	sleep 0.5
	local t0=$SECONDS
	keys C-c
	wait_for 'status +stopped' 10
	[ $((SECONDS - t0)) -lt 8 ]
	wait_for '^ready · session'
	assert_equal "$(last_line)" "bl>"
	run screen
	assert_line --partial 'cancelling the task'
	refute_output --partial 'too late'
	# the session ends with result stopped, and the planner is gone
	run jq -r 'select(.type == "result") | .status' "$BL_HOME"/sessions/*.jsonl
	assert_output stopped
	! pgrep -f "bl-plan.*$WS" >/dev/null
	# the prompt works again: /help, then quit with Ctrl+C twice
	keys "/help" Enter
	wait_for '/resume \[ID\]'
	keys C-c
	wait_for 'Ctrl\+C again to quit'
	keys C-c
	stty_unchanged
}

@test "bl in tmux: the terminal is restored after SIGTERM, SIGHUP and a crash signal" {
	need_tmux
	pane_start
	local sig
	for sig in TERM HUP SEGV; do
		rm -f "$BATS_TEST_TMPDIR/stty.after"
		keys clear Enter
		start_bl
		keys "half-typed"
		sleep 0.3
		kill -s "$sig" "$(bl_pid)"
		stty_unchanged
	done
}

@test "bl --reset-terminal repairs a raw terminal" {
	need_tmux
	pane_start
	keys "stty -a >'$BATS_TEST_TMPDIR/stty.before'" Enter
	keys "stty raw -echo -icanon; printf '\\033[?25l'" Enter
	sleep 0.3
	keys "bl --reset-terminal" C-j
	sleep 0.5
	keys "stty -a >'$BATS_TEST_TMPDIR/stty.after'" Enter
	sleep 0.5
	grep -Eq '(^| )icanon( |$)' "$BATS_TEST_TMPDIR/stty.after"
	grep -Eq '(^| )echo( |$)' "$BATS_TEST_TMPDIR/stty.after"
	grep -Eq '(^| )icrnl( |$)' "$BATS_TEST_TMPDIR/stty.after"
	grep -Eq '(^| )opost( |$)' "$BATS_TEST_TMPDIR/stty.after"
	# and off a terminal it says so
	run bl --reset-terminal </dev/null
	[ "$status" = 0 ] || [ "$status" = 1 ]
}

@test "bl TASK off a terminal: the plain view and the run's status" {
	mockd_start "$(plan_script)"
	cd "$WS"
	run --separate-stderr bl "${BLARGS[@]}" "write work.txt"
	assert_success
	refute_output --partial $'\033'
	assert_line '◆ task: write work.txt'
	assert_line '## Plan'
	assert_line '• write **work.txt**'
	assert_line '  ✎ write work.txt (+1 −0)'
	assert_line '  status   completed'
	[ "$(cat work.txt)" = done ]
}

@test "bl TASK: a failed run's status is bl's" {
	mockd_start "$(mk_script <<'EOF'
{"status": 401, "error_message": "invalid x-api-key", "repeat": 0}
EOF
)"
	cd "$WS"
	run --separate-stderr bl "${BLARGS[@]}" "write work.txt"
	local ours=$status
	[ "$ours" -ne 0 ]
	assert_line --regexp '^  status   (failed|stopped)$'
	run --separate-stderr bl-manager --json --no-wait "${BLARGS[@]}" "write work.txt" </dev/null
	assert_equal "$ours" "$status"
}

@test "bl TASK: options reach bl-manager; its status and stderr pass through" {
	export BL_MANAGER=$FIX/fake-manager FAKE_ARGS=$BATS_TEST_TMPDIR/args FAKE_EXIT=3
	run --separate-stderr bl --verbose --config /c --pipeline quick --route llm -m mymodel \
		-C "$WS" "do it"
	assert_failure 3
	assert_line '◆ task: do it'
	assert_line 'fake plan'
	[[ $stderr == *"fake-manager: a diagnostic"* ]]
	run cat "$FAKE_ARGS"
	assert_output "--json
--stream
--no-wait
--verbose
--config
/c
--pipeline
quick
--route
llm
-m
mymodel
-C
$WS
do it"
}

@test "bl: usage errors; no terminal and no task is an error" {
	run bl </dev/null
	assert_failure 64
	assert_output --partial 'not on a terminal'
	run bl --color=rainbow x
	assert_failure 64
	run bl a b
	assert_failure 64
	run bl --help
	assert_success
	assert_output --partial 'bl --reset-terminal'
	run bl --version
	assert_output --regexp '^bl \(better-llm\) [0-9]'
}
