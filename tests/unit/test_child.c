/*
 * test_child — lib/child: exec and chdir failures told apart from the
 * program's own exit 127 (and the failed child reaped), the PATH lookup,
 * fds: only 0, 1 and 2 reach the child (counted in /proc/self/fd by this
 * binary run as the child), stdin from /dev/null or a given fd, stdout
 * and stderr on one pipe or two; the process group (new session or not),
 * the group kill reaching a background grandchild (SIGTERM, and SIGKILL
 * after the grace when it is ignored), the two exit policies, the stop
 * and hurry hooks, leave_group, PR_SET_PDEATHSIG, the head + tail
 * capture in both cut styles, and no zombie left behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "t.h"

static char self[PATH_MAX]; /* this binary: run as a child with --fds */

/* The child side of the fd test: prints the fds it has open, and where
 * 0, 1 and 2 lead. */
static int child_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 2;
	int n = 0, dfd = dirfd(d);
	struct dirent *e;
	printf("fds:");
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && atoi(e->d_name) != dfd)
			printf(" %s", e->d_name), n++;
	closedir(d);
	char p[64], t[PATH_MAX];
	for (int fd = 0; fd < 3; fd++) {
		snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
		ssize_t k = readlink(p, t, sizeof t - 1);
		t[k > 0 ? k : 0] = '\0';
		printf(" %d=%s", fd,
		       !strcmp(t, "/dev/null")   ? "null"
		       : !strncmp(t, "pipe:", 5) ? "pipe"
		                                 : "other");
	}
	printf(" count=%d\n", n);
	return 0;
}

/* What a watched run read. */
struct got {
	struct buf out, err;
	int stop_at; /* stop() returns 1 once out holds this many bytes (0: never) */
	int hurry;
};

static void on_data(void *ctx, int which, const char *p, size_t n)
{
	struct got *g = ctx;
	buf_add(which ? &g->err : &g->out, p, n);
}

static int on_stop(void *ctx)
{
	struct got *g = ctx;
	return g->stop_at && g->out.len >= (size_t)g->stop_at;
}

static int on_hurry(void *ctx)
{
	return ((struct got *)ctx)->hurry;
}

/* Spawns sh -c script (out a pipe, err as given), watches it with w's
 * policy and timeout_ms, finishes.  Returns child_spawn's value. */
static int run_sh(const char *script, int err_mode, int timeout_ms, struct child_watch *w,
                  struct got *g, struct child *ch, char *err, size_t errlen)
{
	char *argv[] = {"sh", "-c", (char *)script, NULL};
	*ch = (struct child){.path = "/bin/sh",
	                     .argv = argv,
	                     .in = CHILD_NULL,
	                     .out = CHILD_PIPE,
	                     .err = err_mode,
	                     .new_session = 1,
	                     .pdeathsig = SIGKILL};
	int64_t t0 = mono_ms();
	if (child_spawn(ch, err, errlen) < 0)
		return -1;
	w->deadline = timeout_ms > 0 ? t0 + timeout_ms : 0;
	w->wake_fd = -1;
	w->ctx = g;
	w->on_data = on_data;
	w->stop = on_stop;
	w->hurry = on_hurry;
	child_watch(ch, w, err, errlen);
	pid_t pid = ch->pid;
	child_finish(ch);
	ch->pid = pid; /* kept for the checks */
	return 0;
}

static void got_free(struct got *g)
{
	buf_free(&g->out);
	buf_free(&g->err);
}

/* 1 when pid is gone or a zombie within 2 s (an orphan waits for init). */
static int dead(pid_t pid)
{
	char path[64], state = 0;
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	for (int64_t end = mono_ms() + 2000; mono_ms() < end; usleep(10000)) {
		FILE *f = fopen(path, "r");
		if (!f)
			return 1;
		int n = fscanf(f, "%*d (%*[^)]) %c", &state);
		fclose(f);
		if (n == 1 && (state == 'Z' || state == 'X'))
			return 1;
	}
	return 0;
}

static pid_t first_pid(const struct buf *b)
{
	return b->p ? (pid_t)atol(b->p) : 0;
}

static void test_start_failures(void)
{
	char err[300] = "";
	char *argv[] = {"x", NULL};
	struct child ch = {.path = "/nonexistent/x",
	                   .argv = argv,
	                   .in = CHILD_NULL,
	                   .out = CHILD_PIPE,
	                   .err = CHILD_STDOUT,
	                   .new_session = 1};
	T_INTEQ(child_spawn(&ch, err, sizeof err), -1, "a missing program: -1");
	T_STREQ(err, "cannot run '/nonexistent/x': No such file or directory", "its message");
	T_OK(ch.pid == -1 && ch.out_r == -1 && ch.err_r == -1, "no pid, no pipe left");
	int st;
	T_OK(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "the failed child was reaped");

	ch.path = "no-such-program-anywhere";
	child_spawn(&ch, err, sizeof err);
	T_STREQ(err, "cannot run 'no-such-program-anywhere': No such file or directory",
	        "not in PATH: the name as given");

	ch.path = "/etc/passwd";
	child_spawn(&ch, err, sizeof err);
	T_STREQ(err, "cannot run '/etc/passwd': Permission denied", "not executable");

	char *sh[] = {"sh", "-c", "exit 0", NULL};
	ch = (struct child){.path = "/bin/sh",
	                    .argv = sh,
	                    .cwd = "/nonexistent/dir",
	                    .in = CHILD_NULL,
	                    .out = CHILD_NULL,
	                    .err = CHILD_NULL};
	T_INTEQ(child_spawn(&ch, err, sizeof err), -1, "a bad cwd: -1");
	T_STREQ(err, "cannot change to directory '/nonexistent/dir': No such file or directory",
	        "its message");

	struct got g = {BUF_INIT, BUF_INIT, 0, 0};
	struct child_watch w = {0};
	T_INTEQ(run_sh("exit 127", CHILD_STDOUT, 5000, &w, &g, &ch, err, sizeof err), 0,
	        "the program's own 127 is a run");
	T_INTEQ(ch.exit_code, 127, "exit 127");
	T_INTEQ(ch.signal, 0, "no signal");
	got_free(&g);

	memset(&g, 0, sizeof g);
	w = (struct child_watch){0};
	run_sh("kill -9 $$", CHILD_STDOUT, 5000, &w, &g, &ch, err, sizeof err);
	T_OK(ch.signal == SIGKILL && ch.exit_code == 128 + SIGKILL, "killed: 128 + signal (%d)",
	     ch.exit_code);
	got_free(&g);
}

static int refuse(void *arg)
{
	return -EPERM;
}

static void test_confine(void)
{
	char err[300] = "";
	char *sh[] = {"sh", "-c", "exit 0", NULL};
	struct child ch = {.path = "/bin/sh",
	                   .argv = sh,
	                   .in = CHILD_NULL,
	                   .out = CHILD_NULL,
	                   .err = CHILD_NULL,
	                   .confine = refuse,
	                   .confine_what = "enter the box"};
	T_INTEQ(child_spawn(&ch, err, sizeof err), -1, "a refusing confine hook: -1");
	T_STREQ(err, "cannot enter the box: Operation not permitted", "its message");
}

static void test_fds(void)
{
	char err[300] = "";
	int leak = open("/dev/null", O_RDONLY); /* deliberately not O_CLOEXEC */
	int high = dup2(leak, 57);
	int p[2];
	T_OK(pipe(p) == 0 && leak >= 0 && high == 57, "fds left open without O_CLOEXEC");
	char *argv[] = {self, "--fds", NULL};
	struct child ch = {.path = self,
	                   .argv = argv,
	                   .in = CHILD_NULL,
	                   .out = CHILD_PIPE,
	                   .err = CHILD_STDOUT,
	                   .new_session = 1};
	struct got g = {BUF_INIT, BUF_INIT, 0, 0};
	struct child_watch w = {.wake_fd = -1, .ctx = &g, .on_data = on_data};
	T_INTEQ(child_spawn(&ch, err, sizeof err), 0, "spawned (%s)", err);
	child_watch(&ch, &w, err, sizeof err);
	child_finish(&ch);
	T_STREQ(g.out.p, "fds: 0 1 2 0=null 1=pipe 2=pipe count=3\n",
	        "only 0, 1 and 2 reach the child");
	T_INTEQ(ch.exit_code, 0, "it exited 0");
	got_free(&g);

	/* stdin from a given fd, which the caller keeps */
	(void)!write(p[1], "given\n", 6);
	close(p[1]);
	char *cat[] = {"cat", NULL};
	ch = (struct child){
	    .path = "cat", .argv = cat, .in = p[0], .out = CHILD_PIPE, .err = CHILD_PIPE};
	memset(&g, 0, sizeof g);
	w = (struct child_watch){.wake_fd = -1, .ctx = &g, .on_data = on_data};
	T_INTEQ(child_spawn(&ch, err, sizeof err), 0, "cat found in PATH (%s)", err);
	child_watch(&ch, &w, err, sizeof err);
	child_finish(&ch);
	T_STREQ(g.out.p, "given\n", "stdin from the caller's fd");
	T_OK(fcntl(p[0], F_GETFD) >= 0, "the caller keeps its fd");
	got_free(&g);
	close(p[0]);
	close(leak);
	close(57);

	/* two pipes: stdout and stderr kept apart */
	memset(&g, 0, sizeof g);
	w = (struct child_watch){0};
	run_sh("echo out; echo err >&2; echo out2", CHILD_PIPE, 5000, &w, &g, &ch, err, sizeof err);
	T_STREQ(g.out.p, "out\nout2\n", "stdout on its pipe");
	T_STREQ(g.err.p, "err\n", "stderr on its own");
	got_free(&g);

	memset(&g, 0, sizeof g);
	w = (struct child_watch){0};
	run_sh("echo out; echo err >&2", CHILD_STDOUT, 5000, &w, &g, &ch, err, sizeof err);
	T_STREQ(g.out.p, "out\nerr\n", "CHILD_STDOUT: one pipe for both");
	got_free(&g);
}

static void test_groups(void)
{
	char err[300];
	struct got g = {BUF_INIT, BUF_INIT, 0, 0};
	struct child ch;
	/* /proc/PID/stat fields 5, 6, 7: process group, session, controlling tty */
	const char *ids = "set -- $(cat /proc/$$/stat); echo $5 $6 $7";
	struct child_watch w = {0};
	run_sh(ids, CHILD_STDOUT, 5000, &w, &g, &ch, err, sizeof err);
	char want[64];
	snprintf(want, sizeof want, "%d %d 0\n", (int)ch.pid, (int)ch.pid);
	T_STREQ(g.out.p, want, "new_session: leads its group and session, no terminal");
	got_free(&g);

	char *argv[] = {"sh", "-c", (char *)ids, NULL};
	ch = (struct child){.path = "/bin/sh",
	                    .argv = argv,
	                    .in = CHILD_NULL,
	                    .out = CHILD_PIPE,
	                    .err = CHILD_STDOUT};
	memset(&g, 0, sizeof g);
	w = (struct child_watch){.wake_fd = -1, .ctx = &g, .on_data = on_data};
	child_spawn(&ch, err, sizeof err);
	pid_t pid = ch.pid;
	child_watch(&ch, &w, err, sizeof err);
	child_finish(&ch);
	snprintf(want, sizeof want, "%d %d ", (int)pid, (int)getsid(0));
	T_OK(g.out.p && !strncmp(g.out.p, want, strlen(want)),
	     "no new_session: its own group in our session (%.*s)",
	     g.out.p ? (int)strcspn(g.out.p, "\n") : 1, g.out.p ? g.out.p : "-");
	got_free(&g);
}

static void test_group_kill(void)
{
	char err[300];
	struct got g = {BUF_INIT, BUF_INIT, 0, 0};
	struct child ch;
	struct child_watch w = {.grace_ms = 1000};
	int64_t t0 = mono_ms();
	run_sh("sleep 30 & echo $!; wait", CHILD_STDOUT, 300, &w, &g, &ch, err, sizeof err);
	int64_t ms = mono_ms() - t0;
	pid_t bg = first_pid(&g.out);
	T_OK(w.timed_out && !w.killed && ch.signal == SIGTERM,
	     "deadline: SIGTERM ended it (signal %d)", ch.signal);
	T_OK(ms >= 300 && ms < 1500, "soon after the deadline (%lld ms)", (long long)ms);
	T_OK(bg > 0 && dead(bg), "the background grandchild %d got it too", (int)bg);
	got_free(&g);

	memset(&g, 0, sizeof g);
	w = (struct child_watch){.grace_ms = 300};
	t0 = mono_ms();
	run_sh("trap '' TERM; sleep 30 & echo $!; wait", CHILD_STDOUT, 200, &w, &g, &ch, err,
	       sizeof err);
	ms = mono_ms() - t0;
	bg = first_pid(&g.out);
	T_OK(w.timed_out && w.killed && ch.signal == SIGKILL,
	     "SIGTERM ignored: SIGKILL after the grace (signal %d)", ch.signal);
	T_OK(ms >= 500 && ms < 2500, "deadline + grace (%lld ms)", (long long)ms);
	T_OK(bg > 0 && dead(bg), "the deaf grandchild %d is dead too", (int)bg);
	got_free(&g);

	/* stop() ends the group; hurry() skips the grace */
	memset(&g, 0, sizeof g);
	g.stop_at = 3;
	g.hurry = 1;
	w = (struct child_watch){.grace_ms = 10000, .tick_ms = 50};
	t0 = mono_ms();
	run_sh("trap '' TERM; echo up; sleep 30", CHILD_STDOUT, 0, &w, &g, &ch, err, sizeof err);
	ms = mono_ms() - t0;
	T_OK(w.stopped && !w.timed_out && w.killed && ch.signal == SIGKILL && ms < 3000,
	     "stop, then hurry: SIGKILL without the grace (%lld ms)", (long long)ms);
	got_free(&g);
}

static void test_exit_policies(void)
{
	char err[300];
	struct got g = {BUF_INIT, BUF_INIT, 0, 0};
	struct child ch;
	/* a command: the background child holding the pipe gets the drain */
	struct child_watch w = {.grace_ms = 500, .drain_ms = 400};
	int64_t t0 = mono_ms();
	run_sh("(sleep 0.2; echo late) & echo now", CHILD_STDOUT, 10000, &w, &g, &ch, err,
	       sizeof err);
	T_STREQ(g.out.p, "now\nlate\n", "command: a background child may finish within the drain");
	T_OK(mono_ms() - t0 < 1500, "and it ends when the pipe closes");
	got_free(&g);

	memset(&g, 0, sizeof g);
	w = (struct child_watch){.grace_ms = 300, .drain_ms = 300};
	t0 = mono_ms();
	run_sh("sleep 30 & echo $!", CHILD_STDOUT, 10000, &w, &g, &ch, err, sizeof err);
	int64_t ms = mono_ms() - t0;
	pid_t bg = first_pid(&g.out);
	T_OK(ch.exit_code == 0 && !w.timed_out && ms >= 300 && ms < 2000,
	     "command: drain, then the group is ended (%lld ms)", (long long)ms);
	T_OK(bg > 0 && dead(bg), "the held pipe's holder %d is killed", (int)bg);
	got_free(&g);

	/* a supervisor: what is left of the group dies with the leader */
	memset(&g, 0, sizeof g);
	w = (struct child_watch){.grace_ms = 300, .drain_ms = 3000, .kill_at_exit = 1};
	t0 = mono_ms();
	run_sh("(sleep 0.5; echo late) & echo now", CHILD_STDOUT, 10000, &w, &g, &ch, err,
	       sizeof err);
	ms = mono_ms() - t0;
	T_STREQ(g.out.p, "now\n", "kill_at_exit: the group is killed with the leader's exit");
	T_OK(ms < 400, "at once (%lld ms)", (long long)ms);
	got_free(&g);
}

/* leave_group: a clean exit leaves a detached background job alone; a
 * stop does not. */
static void test_leave_group(void)
{
	char err[300];
	for (int stop = 0; stop < 2; stop++) {
		char *argv[] = {"sh", "-c",
		                stop ? "sleep 30 >/dev/null 2>&1 & echo $!; sleep 30"
		                     : "sleep 30 >/dev/null 2>&1 & echo $!",
		                NULL};
		struct child ch = {.path = "/bin/sh",
		                   .argv = argv,
		                   .in = CHILD_NULL,
		                   .out = CHILD_PIPE,
		                   .err = CHILD_STDOUT,
		                   .leave_group = 1};
		struct got g = {BUF_INIT, BUF_INIT, stop ? 1 : 0, 0};
		struct child_watch w = {
		    .grace_ms = 300, .wake_fd = -1, .ctx = &g, .on_data = on_data, .stop = on_stop};
		child_spawn(&ch, err, sizeof err);
		child_watch(&ch, &w, err, sizeof err);
		child_finish(&ch);
		pid_t bg = first_pid(&g.out);
		if (stop) {
			T_OK(w.stopped && bg > 0 && dead(bg),
			     "leave_group, stopped: the background job %d is ended", (int)bg);
		} else {
			T_OK(ch.exit_code == 0 && bg > 0 && kill(bg, 0) == 0,
			     "leave_group, clean exit: the background job %d lives on", (int)bg);
			if (bg > 0)
				kill(bg, SIGKILL);
		}
		got_free(&g);
	}
}

static void test_pdeathsig(void)
{
	for (int sig = SIGKILL; sig >= 0; sig -= SIGKILL) {
		int p[2];
		if (pipe(p) < 0)
			return;
		fflush(stdout);
		pid_t mid = fork();
		if (mid == 0) {
			char err[300];
			char *argv[] = {"sleep", "30", NULL};
			struct child ch = {.path = "sleep",
			                   .argv = argv,
			                   .in = CHILD_NULL,
			                   .out = CHILD_NULL,
			                   .err = CHILD_NULL,
			                   .new_session = 1,
			                   .pdeathsig = sig};
			pid_t got = child_spawn(&ch, err, sizeof err) == 0 ? ch.pid : -1;
			(void)!write(p[1], &got, sizeof got);
			_exit(0); /* dies without ending it */
		}
		close(p[1]);
		pid_t kid = -1;
		(void)!read(p[0], &kid, sizeof kid);
		close(p[0]);
		waitpid(mid, NULL, 0);
		if (sig) {
			T_OK(kid > 0 && dead(kid), "pdeathsig: the child %d died with its parent",
			     (int)kid);
		} else {
			usleep(200000);
			T_OK(kid > 0 && kill(kid, 0) == 0, "no pdeathsig: the child %d lives on",
			     (int)kid);
			if (kid > 0)
				kill(kid, SIGKILL);
		}
	}
}

static void test_cap(void)
{
	struct child_cap c = {.head_max = 8, .tail_max = 8};
	struct buf out = BUF_INIT;
	child_cap_add(&c, "12345", 5);
	child_cap_take(&c, &out);
	T_STREQ(out.p, "12345", "under the cap: whole");
	buf_reset(&out);
	for (int i = 0; i < 1000; i++)
		child_cap_add(&c, "abc", 3);
	child_cap_add(&c, "XYZ", 3);
	child_cap_take(&c, &out);
	T_STREQ(out.p, "12345abc\n[... 2992 bytes cut ...]\nbcabcXYZ", "bytes: head, cut, tail");
	T_INTEQ((long long)c.total, 3008, "total counts every byte");
	child_cap_free(&c);

	c = (struct child_cap){.head_max = 10, .tail_max = 10};
	const char *text = "one\ntwo\nthree\nfour\nfive\nsix\n";
	child_cap_add(&c, text, strlen(text));
	buf_reset(&out);
	child_cap_take_lines(&c, &out, "the diff");
	T_STREQ(out.p, "one\ntwo\n[... 11 bytes of the diff cut here ...]\nfive\nsix\n",
	        "lines: cut at newlines, the cut said");
	child_cap_free(&c);
	child_cap_free(&c);
	buf_free(&out);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--fds"))
		return child_fds();
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = '\0';
	signal(SIGPIPE, SIG_IGN); /* the child must get it back */
	test_start_failures();
	test_confine();
	test_fds();
	test_groups();
	test_group_kill();
	test_exit_policies();
	test_leave_group();
	test_pdeathsig();
	test_cap();
	int st;
	T_OK(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "no child or zombie left behind");
	return t_done();
}
