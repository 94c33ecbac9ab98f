/*
 * supervise — the child and the stage (see supervise.h).
 *
 * The child: fork, exec and one poll loop over absolute deadlines.  The
 * leader's exit is seen through a pidfd (or, on kernels without one,
 * waitid(WNOWAIT) every 50 ms) and it is reaped only at the end, so its
 * group id stays ours until every kill is sent.  Caught signals set a
 * flag and write a byte to a non-blocking self-pipe; the flag is the
 * state, the pipe only wakes poll(2).
 *
 * The stage: the stage's lines reach emit in the order written, each
 * checked by lib/conv before; stage_start comes before them and
 * stage_end after everything else of the attempt; an error line is
 * written for every failure the stage did not report itself (and always
 * for a crash by signal, which it cannot report), so a session read
 * later says why each attempt ended.
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "log.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

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

static int is_exec_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

char *sv_which(const char *cmd, const char *dir)
{
	if (!cmd || !*cmd) {
		errno = ENOENT;
		return NULL;
	}
	if (strchr(cmd, '/')) {
		if (!is_exec_file(cmd)) {
			if (!errno)
				errno = EACCES;
			return NULL;
		}
		if (cmd[0] == '/')
			return xstrdup(cmd);
		char cwd[PATH_MAX];
		/* absolute, but not resolved: a symlink keeps its name as argv[0] */
		return getcwd(cwd, sizeof cwd) ? xasprintf("%s/%s", cwd, cmd) : xstrdup(cmd);
	}
	if (dir) {
		char *p = xasprintf("%s/%s", dir, cmd);
		if (is_exec_file(p))
			return p;
		free(p);
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *s = path; *s;) {
		const char *e = strchr(s, ':');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		char *p = n ? xasprintf("%.*s/%s", (int)n, s, cmd) : xasprintf("./%s", cmd);
		if (is_exec_file(p))
			return p;
		free(p);
		s += n + (e ? 1 : 0);
	}
	errno = ENOENT;
	return NULL;
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

enum { ST_SETSID = 1, ST_STDIO, ST_CHDIR, ST_EXEC };

struct child_report {
	int stage, errnum;
};

struct child_args {
	const char *path, *cwd;
	char *const *argv, *const *envp;
	int in_fd, out_fd, err_fd, report_fd;
	pid_t parent;
};

static __attribute__((noreturn)) void child_fail(const struct child_args *a, int stage, int errnum)
{
	struct child_report rep = {stage, errnum};
	ssize_t n;
	do
		n = write(a->report_fd, &rep, sizeof rep);
	while (n < 0 && errno == EINTR);
	_exit(127);
}

static __attribute__((noreturn)) void child_run(const struct child_args *a)
{
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (setsid() < 0)
		child_fail(a, ST_SETSID, errno);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != a->parent)
		_exit(127);
	if (dup2(a->in_fd, 0) < 0 || dup2(a->out_fd, 1) < 0 || dup2(a->err_fd, 2) < 0)
		child_fail(a, ST_STDIO, errno);
	if (a->cwd && chdir(a->cwd) < 0)
		child_fail(a, ST_CHDIR, errno);
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < 1024; fd++)
			if (fd != a->report_fd)
				fcntl(fd, F_SETFD, FD_CLOEXEC);
	execve(a->path, a->argv, a->envp);
	child_fail(a, ST_EXEC, errno);
}

static void start_error(const struct child_args *a, const struct child_report *rep, char *err,
                        size_t errlen)
{
	const char *why = strerror(rep->errnum);
	if (rep->stage == ST_CHDIR)
		snprintf(err, errlen, "cannot change to directory '%s': %s", a->cwd, why);
	else if (rep->stage == ST_EXEC)
		snprintf(err, errlen, "cannot run '%s': %s", a->path, why);
	else
		snprintf(err, errlen, "cannot set up the child process: %s", why);
}

/* A duplicate of fd (or of /dev/null when fd < 0) above the standard
 * streams, close-on-exec. */
static int dup_high(int fd)
{
	if (fd >= 0)
		return fcntl(fd, F_DUPFD_CLOEXEC, 3);
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul < 0 || nul > 2)
		return nul;
	int hi = fcntl(nul, F_DUPFD_CLOEXEC, 3);
	close(nul);
	return hi;
}

static int leader_exited(pid_t pid)
{
	siginfo_t si;
	for (;;) {
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
			return si.si_pid == pid;
		if (errno != EINTR)
			return 1; /* ECHILD: nothing to wait for */
	}
}

/* ---- the poll loop ---- */

struct loop {
	const struct sv_opts *o;
	struct sv_result *res;
	struct buf line; /* bytes since the last newline */
	size_t max_line;
};

/* Splits what was read into lines and hands them over. */
static void take_bytes(struct loop *l, const char *p, size_t n)
{
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

/* Reaps what is left of group pgid among our children (orphans of the
 * leader, when we are a child subreaper), killing stragglers, for at
 * most 1 s. */
static void reap_group(pid_t pgid)
{
	int64_t until = mono_ms() + 1000;
	for (;;) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		if (waitid(P_PGID, (id_t)pgid, &si, WEXITED | WNOHANG) < 0) {
			if (errno == EINTR)
				continue;
			return; /* ECHILD: none of ours is left in the group */
		}
		if (si.si_pid)
			continue;
		if (mono_ms() >= until)
			return;
		kill(-pgid, SIGKILL);
		poll(NULL, 0, 10);
	}
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Owner: res owns res->tail; sv_result_free() releases it. */
int sv_run(const struct sv_opts *o, struct sv_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof *res);
	res->pid = -1;
	int grace = o->grace_ms > 0 ? o->grace_ms : SV_GRACE_DEFAULT_MS;
	int drain = o->drain_ms > 0 ? o->drain_ms : SV_DRAIN_DEFAULT_MS;
	extern char **environ;
	struct child_args a = {
	    .path = o->path,
	    .cwd = o->cwd,
	    .argv = o->argv,
	    .envp = o->envp ? o->envp : environ,
	    .parent = getpid(),
	};
	int outp[2] = {-1, -1}, repp[2] = {-1, -1}, rc = -1;
	a.in_fd = dup_high(o->stdin_fd);
	a.err_fd = dup_high(o->stderr_fd);
	if (a.in_fd < 0 || a.err_fd < 0 || pipe2(outp, O_CLOEXEC) < 0 ||
	    pipe2(repp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot set up the stage's files: %s", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		int hi;
		if (outp[i] <= 2 && (hi = fcntl(outp[i], F_DUPFD_CLOEXEC, 3)) >= 0) {
			close(outp[i]);
			outp[i] = hi;
		}
		if (repp[i] <= 2 && (hi = fcntl(repp[i], F_DUPFD_CLOEXEC, 3)) >= 0) {
			close(repp[i]);
			repp[i] = hi;
		}
	}
	a.out_fd = outp[1];
	a.report_fd = repp[1];

	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	int64_t start = mono_ms();
	pid_t pid = fork();
	if (pid == 0)
		child_run(&a);
	int fork_errno = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(outp[1]);
	close(repp[1]);
	outp[1] = repp[1] = -1;
	if (pid < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(fork_errno));
		goto out;
	}
	res->pid = pid;

	struct child_report rep;
	ssize_t n;
	do
		n = read(repp[0], &rep, sizeof rep);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof rep) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		start_error(&a, &rep, err, errlen);
		res->pid = -1;
		goto out;
	}
	if (o->on_start)
		o->on_start(o->ctx, pid);

	enum { RUNNING, TERMINATING, KILLED } phase = RUNNING;
	struct loop l = {o, res, BUF_INIT, o->max_line ? o->max_line : SV_LINE_MAX};
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int exited = 0, out_fd = outp[0], signals_seen = sv_caught_count();
	int64_t deadline = o->timeout_ms > 0 ? start + o->timeout_ms : INT64_MAX;
	int64_t phase_end = INT64_MAX, drain_end = INT64_MAX;
	char *chunk = xmalloc(65536);
	for (;;) {
		if (exited && out_fd < 0)
			break;
		int64_t now = mono_ms();
		if (exited && drain_end == INT64_MAX) {
			kill(-pid, SIGKILL); /* leftovers of the group: no orphan */
			drain_end = now + drain;
		}
		if (exited && now >= drain_end)
			break; /* the pipe is held by a process outside the group */
		if (!exited && phase == RUNNING) {
			int why = 0;
			if (sv_caught_count())
				why = res->stopped = 1;
			else if (res->refused)
				why = 1;
			else if (now >= deadline) {
				if (o->on_timeout)
					o->on_timeout(o->ctx);
				why = res->timed_out = 1;
			}
			if (why) {
				kill(-pid, SIGTERM);
				phase = TERMINATING;
				phase_end = now + grace;
				signals_seen = sv_caught_count();
			}
		} else if (!exited && phase == TERMINATING &&
		           (now >= phase_end || sv_caught_count() > signals_seen)) {
			kill(-pid, SIGKILL);
			res->killed = 1;
			phase = KILLED;
			phase_end = INT64_MAX;
		}

		int64_t until = exited ? drain_end : phase == RUNNING ? deadline : phase_end;
		int64_t wait = until == INT64_MAX ? 1000 : until - now;
		if (pidfd < 0 && !exited)
			wait = earliest(wait, 50);
		if (wait < 0)
			wait = 0;
		struct pollfd pfd[3];
		int nfd = 0, out_i = -1, pid_i = -1;
		if (out_fd >= 0)
			out_i = nfd, pfd[nfd++] = (struct pollfd){.fd = out_fd, .events = POLLIN};
		if (pidfd >= 0 && !exited)
			pid_i = nfd, pfd[nfd++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (self_pipe[0] >= 0)
			pfd[nfd++] = (struct pollfd){.fd = self_pipe[0], .events = POLLIN};
		int pr = poll(pfd, (nfds_t)nfd, (int)wait);
		if (pr < 0 && errno != EINTR)
			wait = 10; /* should not happen; keep the deadlines going */
		drain_self_pipe();
		if (pr > 0 && out_i >= 0 && pfd[out_i].revents) {
			n = read(out_fd, chunk, 65536);
			if (n > 0) {
				take_bytes(&l, chunk, (size_t)n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				close(out_fd);
				out_fd = outp[0] = -1;
			}
		}
		if (!exited && (pidfd < 0 || (pr > 0 && pid_i >= 0 && pfd[pid_i].revents)))
			exited = leader_exited(pid);
	}
	kill(-pid, SIGKILL); /* the zombie still holds the group id */
	free(chunk);
	if (pidfd >= 0)
		close(pidfd);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	reap_group(pid);
	res->duration_ms = mono_ms() - start;
	if (WIFSIGNALED(st)) {
		res->signal = WTERMSIG(st);
		res->exit_code = 128 + res->signal;
	} else {
		res->exit_code = WEXITSTATUS(st);
	}
	if (!res->refused && l.line.len)
		buf_add(&res->tail, l.line.p, l.line.len);
	buf_free(&l.line);
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (repp[i] >= 0)
			close(repp[i]);
	}
	if (a.in_fd >= 0)
		close(a.in_fd);
	if (a.err_fd >= 0)
		close(a.err_fd);
	return rc;
}

void sv_result_free(struct sv_result *res)
{
	buf_free(&res->tail);
}

/* ---- the stage ---- */

const char *sv_signame(int sig)
{
	switch (sig) {
	case 1:
		return "SIGHUP";
	case 2:
		return "SIGINT";
	case 6:
		return "SIGABRT";
	case 9:
		return "SIGKILL";
	case 11:
		return "SIGSEGV";
	case 15:
		return "SIGTERM";
	default:
		return "a signal";
	}
}

int sv_emit_built(int (*emit)(void *, const struct conv_item *), void *ctx, struct buf *line)
{
	struct conv c;
	char err[300];
	size_t n = line->len;
	while (n && line->p[n - 1] == '\n')
		n--;
	int rc = -1;
	if (conv_parse(line->p ? line->p : "", n, "line", &c, err, sizeof err) == 0 && c.n == 1)
		rc = emit(ctx, &c.items[0]);
	else
		log_error("bad_line", "%s", err);
	conv_free(&c);
	buf_free(line);
	return rc;
}

int sv_emit_error(int (*emit)(void *, const struct conv_item *), void *ctx, const char *agent,
                  const char *kind, int retryable, const char *message)
{
	struct buf b = BUF_INIT;
	struct jw w;
	log_error("stage_error", "%s: %s: %s", agent, kind, message);
	conv_line_begin(&w, &b, "error", agent);
	jw_kstr(&w, "kind", kind);
	jw_kstr(&w, "message", message);
	jw_kbool(&w, "retryable", retryable);
	conv_line_end(&w);
	return sv_emit_built(emit, ctx, &b);
}

/* The state of one attempt. */
struct run {
	const struct sv_stage *s;
	struct sv_outcome *o;
	int nlines;
	char *err_kind;    /* the stage's latest error line's kind */
	int err_retryable; /* its retryable, -1 absent */
	char protocol[600];
};

static void replace(char **dst, char *src)
{
	free(*dst);
	*dst = src;
}

static void emit(struct run *r, const struct conv_item *it)
{
	if (!r->o->emit_failed && r->s->emit(r->s->ctx, it) < 0)
		r->o->emit_failed = 1;
}

static void emit_built(struct run *r, struct buf *b)
{
	if (!r->o->emit_failed && sv_emit_built(r->s->emit, r->s->ctx, b) < 0)
		r->o->emit_failed = 1;
	buf_free(b);
}

static void error_line(struct run *r, const char *kind, int retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void error_line(struct run *r, const char *kind, int retryable, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->o->why, sizeof r->o->why, fmt, ap);
	va_end(ap);
	if (!r->o->emit_failed &&
	    sv_emit_error(r->s->emit, r->s->ctx, r->s->agent, kind, retryable, r->o->why) < 0)
		r->o->emit_failed = 1;
}

static void on_start(void *ctx, pid_t pid)
{
	struct run *r = ctx;
	struct buf b = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &b, "event", NULL);
	jw_kstr(&w, "event", "stage_start");
	jw_kstr(&w, "agent", r->s->agent);
	jw_kint(&w, "attempt", r->s->attempt);
	jw_kint(&w, "pid", pid);
	jw_kint(&w, "timeout_s", r->s->timeout_s);
	jw_kstr(&w, "command", r->s->program);
	conv_line_end(&w);
	emit_built(r, &b);
	log_info("stage_start", "agent=%s attempt=%d pid=%d", r->s->agent, r->s->attempt, (int)pid);
}

/* One line of the stage: checked, then handed over.  last: the bytes
 * after the last newline of a stage that exited. */
static int take_line(struct run *r, const char *line, size_t len, int last)
{
	struct conv cv;
	char err[600], name[96];
	r->nlines++;
	snprintf(name, sizeof name, "%s output", r->s->agent);
	if (conv_parse(line, len, name, &cv, err, sizeof err) < 0) {
		/* err is "NAME:1:COL: what" (one line parsed): say which line
		 * of the stage's output it was */
		char *q;
		strtol(err + strlen(name) + 1, &q, 10);
		long col = *q == ':' ? strtol(q + 1, &q, 10) : 0;
		snprintf(r->protocol, sizeof r->protocol, "line %d%s, column %ld%s", r->nlines,
		         last ? " (the last, without a newline)" : "", col,
		         *q == ':' ? q : ": not a conversation line");
		return -1;
	}
	if (cv.n == 1) {
		const struct conv_item *it = &cv.items[0];
		emit(r, it);
		if (it->type == CONV_VERDICT) {
			replace(&r->o->verdict, xstrdup(it->verdict));
			replace(&r->o->verdict_line, xstrndup(it->line, it->len));
		} else if (it->type == CONV_MESSAGE && it->role && !strcmp(it->role, "assistant")) {
			replace(&r->o->message, xstrdup(it->text));
		} else if (it->type == CONV_ERROR) {
			replace(&r->err_kind, json_get_str(&it->j, 0, "kind"));
			r->err_retryable = json_get_bool(&it->j, 0, "retryable", -1);
		}
	}
	conv_free(&cv);
	return r->o->emit_failed ? -1 : 0;
}

static int on_line(void *ctx, const char *line, size_t len)
{
	return take_line(ctx, line, len, 0);
}

static void on_timeout(void *ctx)
{
	struct run *r = ctx;
	char d[300];
	snprintf(d, sizeof d,
	         "%s: no end after %d s (timeout_s, WORKER_TIMEOUT_*); ending its process group",
	         r->s->agent, r->s->timeout_s);
	struct buf b = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &b, "event", NULL);
	jw_kstr(&w, "event", "timeout");
	jw_kstr(&w, "agent", r->s->agent);
	jw_kint(&w, "attempt", r->s->attempt);
	jw_kstr(&w, "detail", d);
	conv_line_end(&w);
	emit_built(r, &b);
}

/* Sorts the end of a run that started; writes our error line when needed. */
static enum sv_end judge(struct run *r, const struct sv_result *res)
{
	struct sv_outcome *o = r->o;
	const char *a = r->s->agent;
	int code = res->exit_code, said = r->err_kind != NULL;
	if (res->refused) {
		o->kind = "protocol";
		if (o->emit_failed) {
			snprintf(o->why, sizeof o->why, "the conversation could not be stored");
			return SV_FATAL;
		}
		if (res->line_too_long)
			snprintf(r->protocol, sizeof r->protocol, "a line longer than %d bytes",
			         SV_LINE_MAX);
		error_line(r, "protocol", 0, "%s wrote an invalid conversation line: %s", a,
		           r->protocol);
		return SV_FATAL;
	}
	if (res->stopped) {
		o->kind = "stopped";
		snprintf(o->why, sizeof o->why, "%s was stopped", a);
		return SV_STOPPED;
	}
	if (res->timed_out) {
		o->kind = "timeout";
		if (said && !strcmp(r->err_kind, "timeout"))
			snprintf(o->why, sizeof o->why, "%s timed out after %d s", a,
			         r->s->timeout_s);
		else
			error_line(r, "timeout", 1, "%s timed out after %d s%s", a, r->s->timeout_s,
			           res->killed ? " (killed after the grace period)" : "");
		return SV_RETRY;
	}
	if (res->signal) {
		o->kind = "crash";
		error_line(r, "crash", 1, "%s was killed by %s (signal %d)", a,
		           sv_signame(res->signal), res->signal);
		return SV_RETRY;
	}
	if (code == 0) {
		o->kind = "ok";
		return SV_OK;
	}
	if (code == EX_BL_SOFTWARE || code == EX_BL_TEMPFAIL || code == EX_BL_UNAVAILABLE) {
		o->kind = code == EX_BL_SOFTWARE   ? "crash"
		          : code == EX_BL_TEMPFAIL ? "timeout"
		                                   : "api";
		const char *what = code == EX_BL_SOFTWARE   ? "internal error"
		                   : code == EX_BL_TEMPFAIL ? "interrupted or timed out"
		                                            : "the API failed";
		if (!said)
			error_line(r, o->kind, 1, "%s exited %d (%s)", a, code, what);
		else
			snprintf(o->why, sizeof o->why, "%s exited %d (%s: %s)", a, code,
			         r->err_kind, what);
		/* The stage's own word wins: a turn limit or a refused request
		 * will not pass on a retry. */
		if (said && r->err_retryable == 0 && strcmp(r->err_kind, "timeout") &&
		    strcmp(r->err_kind, "crash")) {
			o->kind = r->err_kind;
			return SV_FATAL;
		}
		return SV_RETRY;
	}
	o->kind = code == EX_BL_NOPERM                          ? "auth"
	          : code == EX_BL_CONFIG || code == EX_BL_USAGE ? "config"
	          : code == EX_BL_DATAERR                       ? "input"
	                                                        : "crash";
	if (!said)
		error_line(r, o->kind, 0, "%s exited %d%s (its stderr is in the stage log)", a,
		           code, code == EX_BL_USAGE ? ": it refused its arguments" : "");
	else
		snprintf(o->why, sizeof o->why, "%s exited %d (%s)", a, code, r->err_kind);
	return SV_FATAL;
}

static void stage_end(struct run *r)
{
	struct sv_outcome *o = r->o;
	struct buf b = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &b, "event", NULL);
	jw_kstr(&w, "event", "stage_end");
	jw_kstr(&w, "agent", r->s->agent);
	jw_kint(&w, "attempt", r->s->attempt);
	jw_kstr(&w, "status", o->kind);
	jw_kint(&w, "exit_code", o->exit_code);
	if (o->verdict)
		jw_kstr(&w, "verdict", o->verdict);
	jw_kint(&w, "duration_ms", o->duration_ms);
	conv_line_end(&w);
	emit_built(r, &b);
	log_info("stage_end", "agent=%s attempt=%d status=%s exit=%d ms=%lld", r->s->agent,
	         r->s->attempt, o->kind, o->exit_code, (long long)o->duration_ms);
}

void sv_stage_run(const struct sv_stage *s, struct sv_outcome *o)
{
	memset(o, 0, sizeof *o);
	o->pid = -1;
	o->kind = "failed";
	struct run r = {.s = s, .o = o, .err_retryable = -1};
	char *argv[12];
	int n = 0;
	argv[n++] = (char *)s->program;
	argv[n++] = "-C";
	argv[n++] = (char *)s->workspace;
	if (s->config) {
		argv[n++] = "--config";
		argv[n++] = (char *)s->config;
	}
	if (s->model) {
		argv[n++] = "-m";
		argv[n++] = (char *)s->model;
	}
	if (s->stream)
		argv[n++] = "-s";
	argv[n] = NULL;
	struct sv_opts so = {
	    .path = s->program,
	    .argv = argv,
	    .cwd = s->workspace,
	    .stdin_fd = s->stdin_fd,
	    .stderr_fd = s->stderr_fd,
	    .timeout_ms = s->timeout_s <= 0               ? 0
	                  : s->timeout_s > INT_MAX / 1000 ? INT_MAX
	                                                  : s->timeout_s * 1000,
	    .grace_ms = s->grace_ms,
	    .ctx = &r,
	    .on_start = on_start,
	    .on_line = on_line,
	    .on_timeout = on_timeout,
	};
	struct sv_result res;
	int64_t t0 = mono_ms();
	char err[700];
	if (sv_run(&so, &res, err, sizeof err) < 0) {
		struct buf b = BUF_INIT;
		struct jw w;
		conv_line_begin(&w, &b, "event", NULL);
		jw_kstr(&w, "event", "stage_start");
		jw_kstr(&w, "agent", s->agent);
		jw_kint(&w, "attempt", s->attempt);
		jw_kstr(&w, "command", s->program);
		conv_line_end(&w);
		emit_built(&r, &b);
		error_line(&r, "config", 0, "%s", err);
		o->kind = "config";
		o->end = SV_FATAL;
		o->exit_code = 127;
	} else {
		if (res.tail.len && !res.signal && !res.refused &&
		    take_line(&r, res.tail.p, res.tail.len, 1) < 0)
			res.refused = 1; /* an unterminated last line that is not one */
		else if (res.tail.len && res.signal)
			log_warn("line_lost", "%s: %zu bytes of a line cut by %s", s->agent,
			         res.tail.len, sv_signame(res.signal));
		o->pid = res.pid;
		o->exit_code = res.exit_code;
		o->end = judge(&r, &res);
	}
	o->duration_ms = mono_ms() - t0;
	stage_end(&r);
	if (o->emit_failed && o->end != SV_STOPPED)
		o->end = SV_FATAL;
	sv_result_free(&res);
	free(r.err_kind);
}

void sv_outcome_free(struct sv_outcome *o)
{
	free(o->verdict);
	free(o->verdict_line);
	free(o->message);
	o->verdict = o->verdict_line = o->message = NULL;
}
