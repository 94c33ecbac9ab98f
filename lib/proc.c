/*
 * proc — fork, confine, exec `/bin/sh -c`, and supervise it with one poll
 * loop over absolute deadlines (see proc.h for the guarantees).
 *
 * Between fork and exec the child makes only async-signal-safe calls
 * (raw syscalls, dup2, chdir, execve): the caller may have threads.  It
 * reports a failure there through a close-on-exec pipe as {stage, errno};
 * EOF on that pipe means exec succeeded.  The shell is not reaped until
 * the end: its zombie keeps its pid, hence its process group id, from
 * being reused, so kill(-pid) can never hit a stranger.  Its exit is
 * seen through a pidfd (or, on kernels without one, waitid(WNOWAIT)
 * every 50 ms).
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

enum stage { ST_SETSID = 1, ST_STDIO, ST_CHDIR, ST_SANDBOX, ST_EXEC };

struct child_report {
	int stage, errnum;
};

/* Everything the child needs, made before fork. */
struct child_args {
	const char *shell, *cwd;
	char *argv[4];
	char *const *envp;
	const struct sandbox *sb;
	int devnull, out_w, err_w;
	pid_t parent;
	int max_fd;
};

/* Head + ring tail capture: memory bounded by the cap. */
struct capture {
	struct buf *head;
	size_t head_cap, tail_cap;
	char *ring;
	size_t ring_pos, ring_len;
	size_t total;
};

static __attribute__((noreturn)) void child_fail(const struct child_args *a, int stage, int errnum)
{
	struct child_report rep = {stage, errnum};
	ssize_t n;
	do
		n = write(a->err_w, &rep, sizeof rep);
	while (n < 0 && errno == EINTR);
	_exit(127);
}

static __attribute__((noreturn)) void child_run(const struct child_args *a)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL); /* ignored signals survive exec */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if (setsid() < 0)
		child_fail(a, ST_SETSID, errno);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != a->parent)
		_exit(127);
	if (dup2(a->devnull, 0) < 0 || dup2(a->out_w, 1) < 0 || dup2(a->out_w, 2) < 0)
		child_fail(a, ST_STDIO, errno);
	if (a->cwd && chdir(a->cwd) < 0)
		child_fail(a, ST_CHDIR, errno);
	if (a->sb) {
		int r = sandbox_enter(a->sb);
		if (r < 0)
			child_fail(a, ST_SANDBOX, -r);
	}
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd <= a->max_fd; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	execve(a->shell, a->argv, a->envp);
	child_fail(a, ST_EXEC, errno);
}

/* Moves fd above the standard streams so dup2 onto 0-2 never meets it. */
static int above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static void capture_add(struct capture *c, const char *p, size_t n)
{
	c->total += n;
	size_t room = c->head_cap - c->head->len;
	size_t h = n < room ? n : room;
	buf_add(c->head, p, h);
	p += h;
	n -= h;
	if (!n || !c->tail_cap)
		return;
	if (!c->ring)
		c->ring = xmalloc(c->tail_cap);
	if (n > c->tail_cap) {
		p += n - c->tail_cap;
		n = c->tail_cap;
	}
	size_t first = c->tail_cap - c->ring_pos;
	if (first > n)
		first = n;
	memcpy(c->ring + c->ring_pos, p, first);
	memcpy(c->ring, p + first, n - first);
	c->ring_pos = (c->ring_pos + n) % c->tail_cap;
	c->ring_len = c->ring_len + n > c->tail_cap ? c->tail_cap : c->ring_len + n;
}

/* Length of s[0..len) without a trailing incomplete UTF-8 sequence. */
static size_t utf8_whole(const char *s, size_t len)
{
	for (size_t back = 1; back <= 4 && back <= len; back++) {
		unsigned char b = (unsigned char)s[len - back];
		if ((b & 0xC0) == 0x80)
			continue;
		size_t need = b < 0x80             ? 1
		              : (b & 0xE0) == 0xC0 ? 2
		              : (b & 0xF0) == 0xE0 ? 3
		              : (b & 0xF8) == 0xF0 ? 4
		                                   : 1;
		return back < need ? len - back : len;
	}
	return len;
}

/* Appends the tail (and the cut marker when bytes were dropped) to head. */
static void capture_finish(struct capture *c)
{
	size_t start = c->ring_len < c->tail_cap ? 0 : c->ring_pos;
	char *tail = xmalloc(c->ring_len + 1);
	size_t first = c->tail_cap ? c->tail_cap - start : 0;
	if (first > c->ring_len)
		first = c->ring_len;
	if (c->ring_len) {
		memcpy(tail, c->ring + start, first);
		memcpy(tail + first, c->ring, c->ring_len - first);
	}
	size_t tail_off = 0;
	if (c->total > c->head->len + c->ring_len) {
		c->head->len = utf8_whole(c->head->p, c->head->len);
		while (tail_off < 3 && tail_off < c->ring_len &&
		       ((unsigned char)tail[tail_off] & 0xC0) == 0x80)
			tail_off++;
		size_t cut = c->total - c->head->len - (c->ring_len - tail_off);
		buf_addf(c->head, "\n[... %zu bytes cut ...]\n", cut);
	}
	buf_add(c->head, tail + tail_off, c->ring_len - tail_off);
	if (!c->head->p)
		buf_add(c->head, "", 0);
	free(tail);
	free(c->ring);
	c->ring = NULL;
}

/* 1 when the shell has exited (left unreaped). */
static int shell_exited(pid_t pid)
{
	siginfo_t si;
	for (;;) {
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
			return si.si_pid == pid;
		if (errno != EINTR)
			return 1; /* ECHILD: nothing left to wait for */
	}
}

static void start_error(const struct child_args *a, const struct child_report *rep, char *err,
                        size_t errlen)
{
	const char *why = strerror(rep->errnum);
	switch (rep->stage) {
	case ST_CHDIR:
		snprintf(err, errlen, "cannot change to directory '%s': %s", a->cwd, why);
		break;
	case ST_SANDBOX:
		snprintf(err, errlen, "cannot enter the sandbox: %s", why);
		break;
	case ST_EXEC:
		snprintf(err, errlen, "cannot run '%s': %s", a->shell, why);
		break;
	default:
		snprintf(err, errlen, "cannot set up the child process: %s", why);
		break;
	}
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Owner: res owns its output; the caller frees it with proc_result_free(). */
int proc_run(const struct proc_opts *opts, struct proc_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof *res);
	res->pid = -1;
	struct capture cap = {.head = &res->output};
	size_t total_cap = opts->cap_bytes ? opts->cap_bytes : PROC_CAP_DEFAULT;
	cap.head_cap = total_cap / 2;
	cap.tail_cap = total_cap - cap.head_cap;
	int grace = opts->grace_ms > 0 ? opts->grace_ms : PROC_GRACE_DEFAULT_MS;
	int drain = opts->drain_ms > 0 ? opts->drain_ms : PROC_DRAIN_DEFAULT_MS;
	buf_add(&res->output, "", 0);
	if (!opts->cmd) {
		snprintf(err, errlen, "no command given");
		return -1;
	}

	struct sandbox sb = {.fd = -1};
	if (opts->sandbox) {
		if (sandbox_prepare(opts->sandbox, &sb, err, errlen) < 0)
			return -1;
		res->sandboxed = sb.fd >= 0;
		snprintf(res->sandbox_note, sizeof res->sandbox_note, "%s", sb.note);
	}
	char **own_env = NULL;
	if (!opts->envp && opts->sandbox)
		own_env = sandbox_scrub_env(NULL, opts->sandbox->tmpdir);
	extern char **environ;

	struct rlimit rl = {0};
	struct child_args a = {
	    .shell = opts->shell ? opts->shell : "/bin/sh",
	    .cwd = opts->cwd,
	    .envp = opts->envp ? opts->envp
	            : own_env  ? own_env
	                       : environ,
	    .sb = opts->sandbox ? &sb : NULL,
	    .parent = getpid(),
	    .max_fd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur
	                                                                        : 65536,
	};
	a.argv[0] = "sh";
	a.argv[1] = "-c";
	a.argv[2] = (char *)opts->cmd;
	a.argv[3] = NULL;

	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, rc = -1;
	a.devnull = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
	if (a.devnull < 0 || pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot set up pipes: %s", strerror(errno));
		goto out;
	}
	outp[0] = above_stdio(outp[0]);
	outp[1] = above_stdio(outp[1]);
	errp[1] = above_stdio(errp[1]);
	if (outp[0] < 0 || outp[1] < 0 || errp[1] < 0) {
		snprintf(err, errlen, "cannot set up pipes: %s", strerror(errno));
		goto out;
	}
	a.out_w = outp[1];
	a.err_w = errp[1];

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int64_t start = mono_ms();
	pid_t pid = fork();
	if (pid == 0)
		child_run(&a);
	int fork_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	sandbox_release(&sb);
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	if (pid < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(fork_errno));
		goto out;
	}
	res->pid = pid;

	struct child_report rep;
	ssize_t n;
	do
		n = read(errp[0], &rep, sizeof rep);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof rep) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		start_error(&a, &rep, err, errlen);
		goto out;
	}

	/* The shell runs.  Phases: running -> (exited: draining) ->
	 * terminating (SIGTERM sent) -> killed (SIGKILL sent). */
	enum { RUNNING, DRAINING, TERMINATING, KILLED } phase = RUNNING;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int exited = 0, out_fd = outp[0];
	int64_t deadline = opts->timeout_ms > 0 ? start + opts->timeout_ms : INT64_MAX;
	int64_t phase_end = INT64_MAX;
	char *chunk = xmalloc(65536);
	int poll_failed = 0;
	for (;;) {
		if (exited && out_fd < 0)
			break;
		int64_t now = mono_ms();
		int stop = 0;
		if (phase == RUNNING && exited) {
			phase = DRAINING;
			phase_end = now + drain;
		}
		if (phase <= DRAINING) {
			if (opts->abort_flag && *opts->abort_flag)
				stop = res->aborted = 1;
			else if (now >= deadline) {
				stop = 1;
				res->timed_out = phase == RUNNING;
			} else if (phase == DRAINING && now >= phase_end)
				stop = 1;
		}
		if (stop) {
			kill(-pid, SIGTERM);
			phase = TERMINATING;
			phase_end = now + grace;
		} else if (phase == TERMINATING && now >= phase_end) {
			kill(-pid, SIGKILL);
			phase = KILLED;
			phase_end = now + 1000;
		} else if (phase == KILLED && now >= phase_end) {
			break; /* the pipe is held by a process outside the group */
		}

		int64_t until = phase <= DRAINING ? earliest(deadline, phase_end) : phase_end;
		int64_t wait = until == INT64_MAX ? 1000 : until - now;
		if (opts->abort_flag && wait > 100)
			wait = 100;
		if (pidfd < 0 && !exited && wait > 50)
			wait = 50;
		if (wait < 0)
			wait = 0;
		struct pollfd pfd[2];
		int nfd = 0, out_i = -1, pid_i = -1;
		if (out_fd >= 0)
			out_i = nfd, pfd[nfd++] = (struct pollfd){.fd = out_fd, .events = POLLIN};
		if (pidfd >= 0 && !exited)
			pid_i = nfd, pfd[nfd++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		int pr = poll(pfd, (nfds_t)nfd, (int)wait);
		if (pr < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			poll_failed = 1;
			break;
		}
		if (pr > 0 && out_i >= 0 && pfd[out_i].revents) {
			n = read(out_fd, chunk, 65536);
			if (n > 0)
				capture_add(&cap, chunk, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				close(out_fd);
				out_fd = outp[0] = -1;
			}
		}
		if (!exited && (pidfd < 0 || (pr > 0 && pid_i >= 0 && pfd[pid_i].revents)))
			exited = shell_exited(pid);
	}
	/* The zombie (or live shell) still holds the group id: safe to kill. */
	kill(-pid, SIGKILL);
	free(chunk);
	if (pidfd >= 0)
		close(pidfd);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	res->duration_ms = mono_ms() - start;
	if (WIFSIGNALED(st)) {
		res->signal = WTERMSIG(st);
		res->exit_code = 128 + res->signal;
	} else {
		res->exit_code = WEXITSTATUS(st);
	}
	rc = poll_failed ? -1 : 0;
out:
	capture_finish(&cap);
	res->total_bytes = cap.total;
	sandbox_release(&sb);
	sandbox_env_free(own_env);
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (a.devnull >= 0)
		close(a.devnull);
	return rc;
}

/* Owner: frees res->output. */
void proc_result_free(struct proc_result *res)
{
	buf_free(&res->output);
}
