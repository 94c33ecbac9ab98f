/*
 * supervise — the signals that stop bl-manager, finding programs, and
 * the child layer (sv_run) of supervise.h; the stage layer is in
 * supervise_stage.c.
 *
 * The child: lib/child spawns the program in a new session and watches
 * it with the supervisor policy: when the leader exits, what is left of
 * its group is killed at once and the pipe drained for a bounded time.
 * Caught signals set a flag and write a byte to a non-blocking
 * self-pipe; the flag is the state, the pipe only wakes poll(2) (the
 * watch polls it too).
 */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "child.h"

/* ---- signals ---- */

static volatile int stop_flag;
static volatile sig_atomic_t first_signal, nsignals;
static int self_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
	int e = errno;
	if (!first_signal)
		first_signal = sig;
	nsignals++;
	stop_flag = 1;
	if (self_pipe[1] >= 0) {
		char c = (char)sig;
		ssize_t n = write(self_pipe[1], &c, 1);
		(void)n;
	}
	errno = e;
}

int sv_catch_signals(void)
{
	if (self_pipe[0] < 0 && pipe2(self_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	signal(SIGPIPE, SIG_IGN);
	/* Orphans of a stage (children of a killed leader) come to us, so
	 * sv_run can reap them: no zombie is left behind. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return 0;
}

int sv_caught(void)
{
	return first_signal;
}

int sv_caught_count(void)
{
	return nsignals;
}

volatile int *sv_stop_flag(void)
{
	return &stop_flag;
}

static void drain_self_pipe(void)
{
	char b[64];
	while (self_pipe[0] >= 0 && read(self_pipe[0], b, sizeof b) > 0)
		;
}

int sv_wait(int fd, int64_t ms)
{
	int64_t end = ms < 0 ? INT64_MAX : mono_ms() + ms;
	for (;;) {
		if (stop_flag)
			return -1;
		int64_t now = mono_ms(), left = end == INT64_MAX ? -1 : end - now;
		if (end != INT64_MAX && left <= 0)
			return 0;
		struct pollfd p[2];
		int n = 0, fi = -1;
		if (self_pipe[0] >= 0)
			p[n++] = (struct pollfd){.fd = self_pipe[0], .events = POLLIN};
		if (fd >= 0)
			fi = n, p[n++] = (struct pollfd){.fd = fd, .events = POLLIN};
		int r = poll(p, (nfds_t)n, left > INT_MAX ? INT_MAX : (int)left);
		if (r < 0 && errno != EINTR)
			return 0;
		drain_self_pipe();
		if (r > 0 && fi >= 0 && p[fi].revents)
			return stop_flag ? -1 : 1;
	}
}

/* ---- finding programs ---- */

char *sv_which(const char *cmd, const char *dir)
{
	return child_which(cmd, dir);
}

char *sv_self_dir(void)
{
	char buf[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');
	if (!slash)
		return NULL;
	return xstrndup(buf, slash == buf ? 1 : (size_t)(slash - buf));
}

/* ---- the child ---- */

/* One run of sv_run: the line splitter and the signals seen. */
struct loop {
	const struct sv_opts *o;
	struct sv_result *res;
	struct buf line; /* bytes since the last newline */
	size_t max_line;
	int signals_seen; /* sv_caught_count() when the group was told to end */
};

/* Splits what was read into lines and hands them over. */
static void take_bytes(void *ctx, int which, const char *p, size_t n)
{
	struct loop *l = ctx;
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) : n;
		if (!l->res->refused) {
			if (l->line.len + k > l->max_line) {
				l->res->refused = l->res->line_too_long = 1;
				buf_reset(&l->line);
			} else {
				buf_add(&l->line, p, k);
			}
		}
		if (!nl)
			return;
		if (!l->res->refused && l->o->on_line &&
		    l->o->on_line(l->o->ctx, l->line.p ? l->line.p : "", l->line.len) < 0)
			l->res->refused = 1;
		buf_reset(&l->line);
		p += k + 1;
		n -= k + 1;
	}
}

/* End the group: a caught signal, or a refused line. */
static int stop_now(void *ctx)
{
	struct loop *l = ctx;
	if (sv_caught_count()) {
		l->res->stopped = 1;
		l->signals_seen = sv_caught_count();
		return 1;
	}
	return l->res->refused;
}

/* A second signal during the grace: SIGKILL at once. */
static int kill_now(void *ctx)
{
	return sv_caught_count() > ((struct loop *)ctx)->signals_seen;
}

static void timed_out(void *ctx)
{
	struct loop *l = ctx;
	if (l->o->on_timeout)
		l->o->on_timeout(l->o->ctx);
}

/* Owner: res owns res->tail; sv_result_free() releases it. */
int sv_run(const struct sv_opts *o, struct sv_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof *res);
	res->pid = -1;
	struct child ch = {
	    .path = o->path,
	    .argv = o->argv,
	    .envp = o->envp,
	    .cwd = o->cwd,
	    .in = o->stdin_fd < 0 ? CHILD_NULL : o->stdin_fd,
	    .out = CHILD_PIPE,
	    .err = o->stderr_fd < 0 ? CHILD_NULL : o->stderr_fd,
	    .new_session = 1,
	    .pdeathsig = SIGKILL,
	};
	int64_t start = mono_ms();
	if (child_spawn(&ch, err, errlen) < 0)
		return -1;
	res->pid = ch.pid;
	if (o->on_start)
		o->on_start(o->ctx, ch.pid);

	struct loop l = {o, res, BUF_INIT, o->max_line ? o->max_line : SV_LINE_MAX,
	                 sv_caught_count()};
	struct child_watch w = {
	    .deadline = o->timeout_ms > 0 ? start + o->timeout_ms : 0,
	    .grace_ms = o->grace_ms > 0 ? o->grace_ms : SV_GRACE_DEFAULT_MS,
	    .drain_ms = o->drain_ms > 0 ? o->drain_ms : SV_DRAIN_DEFAULT_MS,
	    .kill_at_exit = 1,
	    .wake_fd = self_pipe[0],
	    .ctx = &l,
	    .on_data = take_bytes,
	    .stop = stop_now,
	    .hurry = kill_now,
	    .on_timeout = timed_out,
	};
	char perr[200];
	child_watch(&ch, &w, perr, sizeof perr); /* a failed poll(2) ends it early: still a run */
	child_finish(&ch);
	res->duration_ms = mono_ms() - start;
	res->exit_code = ch.exit_code;
	res->signal = ch.signal;
	res->timed_out = w.timed_out;
	res->killed = w.killed;
	if (!res->refused && l.line.len)
		buf_add(&res->tail, l.line.p, l.line.len);
	buf_free(&l.line);
	return 0;
}

void sv_result_free(struct sv_result *res)
{
	buf_free(&res->tail);
}
