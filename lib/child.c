/*
 * child — fork, plumb, confine, exec; one poll loop over absolute
 * deadlines; the group's end and the reaping; the PATH lookup and the
 * head + tail capture (see child.h for the guarantees).
 *
 * The child reports a failure between fork and exec through a
 * close-on-exec pipe as {step, errno} and exits 127; EOF on that pipe
 * means exec succeeded.  The watch moves through phases: running ->
 * (exited: draining, for a command) -> terminating (SIGTERM sent) ->
 * killed (SIGKILL sent); every wait is until the nearest deadline.
 */
#include "child.h"

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

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define CHUNK 65536

/* ---- spawn ---- */

enum step { STEP_GROUP = 1, STEP_STDIO, STEP_CHDIR, STEP_CONFINE, STEP_EXEC };

struct report {
	int step, errnum;
};

/* Everything the child needs, made before fork. */
struct start {
	const struct child *ch;
	const char *prog; /* ch->path, or what PATH gave */
	char *const *envp;
	int fd[3];     /* become 0, 1, 2; all above 2 */
	int report_fd; /* the write end of the exec-failure pipe */
	pid_t parent;
	int max_fd; /* for the close_range fallback */
};

static __attribute__((noreturn)) void fail(const struct start *a, int step, int errnum)
{
	struct report rep = {step, errnum};
	ssize_t n;
	do
		n = write(a->report_fd, &rep, sizeof rep);
	while (n < 0 && errno == EINTR);
	_exit(127);
}

static __attribute__((noreturn)) void run_child(const struct start *a)
{
	const struct child *ch = a->ch;
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL); /* ignored signals survive exec */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	if ((ch->new_session ? setsid() : setpgid(0, 0)) < 0)
		fail(a, STEP_GROUP, errno);
	if (ch->pdeathsig) {
		prctl(PR_SET_PDEATHSIG, ch->pdeathsig);
		if (getppid() != a->parent)
			_exit(127);
	}
	if (dup2(a->fd[0], 0) < 0 || dup2(a->fd[1], 1) < 0 || dup2(a->fd[2], 2) < 0)
		fail(a, STEP_STDIO, errno);
	if (ch->cwd && chdir(ch->cwd) < 0)
		fail(a, STEP_CHDIR, errno);
	if (ch->confine) {
		int r = ch->confine(ch->confine_arg);
		if (r < 0)
			fail(a, STEP_CONFINE, -r);
	}
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd <= a->max_fd; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	execve(a->prog, ch->argv, a->envp);
	fail(a, STEP_EXEC, errno);
}

/* Moves fd above the standard streams (close-on-exec), so that dup2
 * onto 0-2 in the child never meets it. */
static int above_stdio(int fd)
{
	if (fd < 0 || fd > 2)
		return fd;
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void start_error(const struct child *ch, const struct report *rep, char *err, size_t errlen)
{
	const char *why = strerror(rep->errnum);
	switch (rep->step) {
	case STEP_CHDIR:
		snprintf(err, errlen, "cannot change to directory '%s': %s", ch->cwd, why);
		break;
	case STEP_CONFINE:
		snprintf(err, errlen, "cannot %s: %s",
		         ch->confine_what ? ch->confine_what : "confine the child", why);
		break;
	case STEP_EXEC:
		snprintf(err, errlen, "cannot run '%s': %s", ch->path, why);
		break;
	default:
		snprintf(err, errlen, "cannot set up the child process: %s", why);
		break;
	}
}

/* The source of the child's fd `which` (0, 1, 2) in a->fd, made above
 * 2; what the parent must close after fork goes to *tmp.  -1 on error. */
static int plumb(struct child *ch, struct start *a, int which, int *devnull, int *tmp)
{
	int want = which == 0 ? ch->in : which == 1 ? ch->out : ch->err;
	if (want == CHILD_NULL) {
		if (*devnull < 0)
			*devnull = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
		a->fd[which] = *devnull;
	} else if (want == CHILD_PIPE && which > 0) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return -1;
		*(which == 1 ? &ch->out_r : &ch->err_r) = above_stdio(p[0]);
		a->fd[which] = *tmp = above_stdio(p[1]);
		if (a->fd[which] < 0 || (which == 1 ? ch->out_r : ch->err_r) < 0)
			return -1;
	} else if (want == CHILD_STDOUT && which == 2) {
		a->fd[2] = a->fd[1];
	} else if (want > 2) {
		a->fd[which] = want; /* the caller's: dup2 in the child makes the copy */
	} else if (want >= 0) {
		a->fd[which] = *tmp = fcntl(want, F_DUPFD_CLOEXEC, 3);
	} else {
		errno = EINVAL;
		return -1;
	}
	return a->fd[which] < 0 ? -1 : 0;
}

/* Owner: ch owns out_r/err_r afterwards (child_watch, child_finish). */
int child_spawn(struct child *ch, char *err, size_t errlen)
{
	ch->pid = -1;
	ch->out_r = ch->err_r = -1;
	ch->ended = ch->exit_code = ch->signal = 0;
	extern char **environ;
	struct rlimit rl = {0};
	struct start a = {
	    .ch = ch,
	    .prog = ch->path,
	    .envp = ch->envp ? ch->envp : environ,
	    .report_fd = -1,
	    .parent = getpid(),
	    .max_fd = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur
	                                                                        : 65536,
	};
	char *found = NULL;
	if (!strchr(ch->path, '/') && !(found = child_which(ch->path, NULL))) {
		snprintf(err, errlen, "cannot run '%s': %s", ch->path, strerror(errno));
		return -1;
	}
	if (found)
		a.prog = found;

	int devnull = -1, tmp[3] = {-1, -1, -1}, rep[2] = {-1, -1}, rc = -1;
	int bad = pipe2(rep, O_CLOEXEC) < 0 || (rep[1] = above_stdio(rep[1])) < 0;
	for (int i = 0; i < 3 && !bad; i++)
		bad = plumb(ch, &a, i, &devnull, &tmp[i]) < 0;
	if (bad) {
		snprintf(err, errlen, "cannot set up the child's files: %s", strerror(errno));
		goto out;
	}
	a.report_fd = rep[1];

	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = fork();
	if (pid == 0)
		run_child(&a);
	int fork_errno = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close_fd(&rep[1]);
	for (int i = 0; i < 3; i++)
		close_fd(&tmp[i]);
	close_fd(&devnull);
	if (pid < 0) {
		snprintf(err, errlen, "cannot fork: %s", strerror(fork_errno));
		goto out;
	}

	struct report r;
	ssize_t n;
	do
		n = read(rep[0], &r, sizeof r);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof r) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		start_error(ch, &r, err, errlen);
		goto out;
	}
	ch->pid = pid;
	rc = 0;
out:
	for (int i = 0; i < 2; i++)
		close_fd(&rep[i]);
	for (int i = 0; i < 3; i++)
		close_fd(&tmp[i]);
	close_fd(&devnull);
	if (rc < 0) {
		close_fd(&ch->out_r);
		close_fd(&ch->err_r);
	}
	free(found);
	return rc;
}

/* ---- watch ---- */

/* 1 when the child has exited (left unreaped). */
static int exited_now(pid_t pid)
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

static int64_t earliest(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int child_watch(struct child *ch, struct child_watch *w, char *err, size_t errlen)
{
	enum { RUNNING, DRAINING, TERMINATING, KILLED } phase = RUNNING;
	pid_t pid = ch->pid;
	int *fds[2] = {&ch->out_r, &ch->err_r};
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int exited = 0, rc = 0;
	int64_t deadline = w->deadline > 0 ? w->deadline : INT64_MAX;
	int64_t phase_end = INT64_MAX, drain_end = INT64_MAX;
	char *chunk = xmalloc(CHUNK);
	w->timed_out = w->stopped = w->killed = 0;
	for (;;) {
		if (exited && ch->out_r < 0 && ch->err_r < 0)
			break;
		int64_t now = mono_ms();
		if (exited && w->kill_at_exit) {
			if (drain_end == INT64_MAX) {
				kill(-pid, SIGKILL); /* leftovers of the group: no orphan */
				ch->ended = 1;
				drain_end = now + w->drain_ms;
			}
			if (now >= drain_end)
				break; /* the pipe is held by a process outside the group */
		} else {
			int stop = 0;
			if (phase == RUNNING && exited) {
				phase = DRAINING;
				phase_end = now + w->drain_ms;
			}
			if (phase <= DRAINING) {
				if (w->stop && w->stop(w->ctx)) {
					stop = w->stopped = 1;
				} else if (now >= deadline) {
					stop = 1;
					if (phase == RUNNING) {
						if (w->on_timeout)
							w->on_timeout(w->ctx);
						w->timed_out = 1;
					}
				} else if (phase == DRAINING && now >= phase_end) {
					stop = 1;
				}
			}
			if (stop) {
				kill(-pid, SIGTERM);
				ch->ended = 1;
				phase = TERMINATING;
				phase_end = now + w->grace_ms;
			} else if (phase == TERMINATING &&
			           (now >= phase_end || (w->hurry && w->hurry(w->ctx)))) {
				kill(-pid, SIGKILL);
				w->killed = 1;
				phase = KILLED;
				/* a supervisor waits for the exit, then drains */
				phase_end = w->kill_at_exit ? INT64_MAX : now + 1000;
			} else if (phase == KILLED && now >= phase_end) {
				break; /* the pipe is held by a process outside the group */
			}
		}

		int64_t until = exited && w->kill_at_exit ? drain_end
		                : phase <= DRAINING       ? earliest(deadline, phase_end)
		                                          : phase_end;
		int64_t wait = until == INT64_MAX ? 1000 : until - now;
		if (w->tick_ms > 0 && wait > w->tick_ms)
			wait = w->tick_ms;
		if (pidfd < 0 && !exited && wait > 50)
			wait = 50;
		if (wait < 0)
			wait = 0;
		if (wait > INT_MAX)
			wait = INT_MAX;
		struct pollfd pfd[4];
		int nfd = 0, at[2] = {-1, -1}, pid_i = -1, wake_i = -1;
		for (int i = 0; i < 2; i++)
			if (*fds[i] >= 0)
				at[i] = nfd,
				pfd[nfd++] = (struct pollfd){.fd = *fds[i], .events = POLLIN};
		if (pidfd >= 0 && !exited)
			pid_i = nfd, pfd[nfd++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (w->wake_fd >= 0)
			wake_i = nfd,
			pfd[nfd++] = (struct pollfd){.fd = w->wake_fd, .events = POLLIN};
		int pr = poll(pfd, (nfds_t)nfd, (int)wait);
		if (pr < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			rc = -1;
			break;
		}
		if (pr > 0 && wake_i >= 0 && pfd[wake_i].revents)
			while (read(w->wake_fd, chunk, 64) > 0)
				;
		for (int i = 0; i < 2 && pr > 0; i++) {
			if (at[i] < 0 || !pfd[at[i]].revents)
				continue;
			ssize_t n = read(*fds[i], chunk, CHUNK);
			if (n > 0) {
				if (w->on_data)
					w->on_data(w->ctx, i, chunk, (size_t)n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				close_fd(fds[i]);
			}
		}
		if (!exited && (pidfd < 0 || (pr > 0 && pid_i >= 0 && pfd[pid_i].revents)))
			exited = exited_now(pid);
	}
	free(chunk);
	if (pidfd >= 0)
		close(pidfd);
	return rc;
}

/* ---- the end ---- */

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

void child_finish(struct child *ch)
{
	close_fd(&ch->out_r);
	close_fd(&ch->err_r);
	if (ch->pid <= 0)
		return;
	/* The zombie (or the live child) still holds the group id: safe. */
	int end = !ch->leave_group || ch->ended || !exited_now(ch->pid);
	if (end)
		kill(-ch->pid, SIGKILL);
	int st = 0;
	while (waitpid(ch->pid, &st, 0) < 0 && errno == EINTR)
		;
	if (end)
		reap_group(ch->pid);
	if (WIFSIGNALED(st)) {
		ch->signal = WTERMSIG(st);
		ch->exit_code = 128 + ch->signal;
	} else {
		ch->signal = 0;
		ch->exit_code = WEXITSTATUS(st);
	}
	ch->pid = -1;
}

/* ---- finding programs ---- */

static int is_exec_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* Owner: the caller frees the result. */
char *child_which(const char *cmd, const char *dir)
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

/* ---- the capture ---- */

void child_cap_add(struct child_cap *c, const char *p, size_t n)
{
	c->total += n;
	size_t room = c->head.len < c->head_max ? c->head_max - c->head.len : 0;
	size_t h = n < room ? n : room;
	buf_add(&c->head, p, h);
	p += h;
	n -= h;
	if (!n || !c->tail_max)
		return;
	if (!c->ring)
		c->ring = xmalloc(c->tail_max);
	if (n > c->tail_max) {
		p += n - c->tail_max;
		n = c->tail_max;
	}
	size_t first = c->tail_max - c->ring_pos;
	if (first > n)
		first = n;
	memcpy(c->ring + c->ring_pos, p, first);
	memcpy(c->ring, p + first, n - first);
	c->ring_pos = (c->ring_pos + n) % c->tail_max;
	c->ring_len = c->ring_len + n > c->tail_max ? c->tail_max : c->ring_len + n;
}

/* The tail in order, malloc'd (ring_len bytes + NUL). */
static char *cap_tail(const struct child_cap *c)
{
	size_t start = c->ring_len < c->tail_max ? 0 : c->ring_pos;
	char *tail = xmalloc(c->ring_len + 1);
	size_t first = c->tail_max ? c->tail_max - start : 0;
	if (first > c->ring_len)
		first = c->ring_len;
	if (c->ring_len) {
		memcpy(tail, c->ring + start, first);
		memcpy(tail + first, c->ring, c->ring_len - first);
	}
	tail[c->ring_len] = '\0';
	return tail;
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

/* Owner: out is the caller's; c is unchanged. */
void child_cap_take(const struct child_cap *c, struct buf *out)
{
	char *tail = cap_tail(c);
	size_t hn = c->head.len, t0 = 0;
	buf_add(out, "", 0);
	if (c->total > c->head.len + c->ring_len) {
		hn = utf8_whole(c->head.p, hn);
		while (t0 < 3 && t0 < c->ring_len && ((unsigned char)tail[t0] & 0xC0) == 0x80)
			t0++;
		buf_add(out, c->head.p, hn);
		buf_addf(out, "\n[... %zu bytes cut ...]\n", c->total - hn - (c->ring_len - t0));
	} else {
		buf_add(out, c->head.p, hn);
	}
	buf_add(out, tail + t0, c->ring_len - t0);
	free(tail);
}

/* Owner: out is the caller's; c is unchanged. */
void child_cap_take_lines(const struct child_cap *c, struct buf *out, const char *what)
{
	char *tail = cap_tail(c);
	size_t lost = c->total - c->head.len - c->ring_len;
	size_t hn = c->head.len, t0 = 0;
	if (lost) {
		while (hn && c->head.p[hn - 1] != '\n')
			hn--;
		while (t0 < c->ring_len && tail[t0++] != '\n')
			;
	}
	buf_add(out, c->head.p ? c->head.p : "", hn);
	if (lost)
		buf_addf(out, "[... %zu bytes of %s cut here ...]\n",
		         c->total - hn - (c->ring_len - t0), what);
	buf_add(out, tail + t0, c->ring_len - t0);
	free(tail);
}

void child_cap_free(struct child_cap *c)
{
	buf_free(&c->head);
	free(c->ring);
	c->ring = NULL;
	c->ring_pos = c->ring_len = 0;
}
