/*
 * test_supervise — lib/supervise's child layer (sv_run) driven with
 * /bin/sh programs: lines in order and the unterminated tail, exit codes
 * and signals, the deadline (SIGTERM, then SIGKILL after the grace for a
 * program that ignores it), a refused line and a line over the cap
 * ending the group, what is left in the group killed when the leader
 * exits, a process that left the group holding the pipe bounded by the
 * drain time, start failures told apart from exit 127, and sv_which.
 * (The stage layer and the signals are tested end to end in
 * tests/bl-manager.bats.)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervise.h"
#include "t.h"

struct got {
	struct buf lines; /* each line + '\n' */
	int n;
	int refuse_at; /* refuse the Nth line (0: never) */
	pid_t started;
};

static int on_line(void *ctx, const char *line, size_t len)
{
	struct got *g = ctx;
	g->n++;
	buf_add(&g->lines, line, len);
	buf_addc(&g->lines, '\n');
	return g->refuse_at && g->n == g->refuse_at ? -1 : 0;
}

static void on_start(void *ctx, pid_t pid)
{
	((struct got *)ctx)->started = pid;
}

/* Runs sh -c script; fills g and res; returns sv_run's value. */
static int run_sh(const char *script, int timeout_ms, int grace_ms, size_t max_line, struct got *g,
                  struct sv_result *res, char *err, size_t errlen)
{
	char *argv[] = {"sh", "-c", (char *)script, NULL};
	struct sv_opts o = {
	    .path = "/bin/sh",
	    .argv = argv,
	    .stdin_fd = -1,
	    .stderr_fd = -1,
	    .timeout_ms = timeout_ms,
	    .grace_ms = grace_ms,
	    .drain_ms = 300,
	    .max_line = max_line,
	    .ctx = g,
	    .on_line = on_line,
	    .on_start = on_start,
	};
	return sv_run(&o, res, err, errlen);
}

static int group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno == EPERM;
}

static void test_lines(void)
{
	struct got g = {BUF_INIT, 0, 0, 0};
	struct sv_result r;
	char err[300] = "";
	int rc = run_sh("printf 'one\\ntwo\\n'; sleep 0.1; printf 'three\\nfour'; exit 3", 5000, 0,
	                0, &g, &r, err, sizeof err);
	T_INTEQ(rc, 0, "ran (%s)", err);
	T_STREQ(g.lines.p, "one\ntwo\nthree\n", "whole lines in order");
	T_INTEQ((long long)r.tail.len, 4, "the unterminated tail kept apart");
	T_OK(r.tail.p && !memcmp(r.tail.p, "four", 4), "tail is 'four'");
	T_INTEQ(r.exit_code, 3, "exit status");
	T_INTEQ(r.signal, 0, "no signal");
	T_OK(!r.timed_out && !r.refused && !r.stopped, "no timeout, refusal or stop");
	T_OK(g.started == r.pid && r.pid > 0, "on_start got the pid");
	T_OK(!group_alive(r.pid), "nothing left of the group");
	sv_result_free(&r);
	buf_free(&g.lines);
}

static void test_signal_exit(void)
{
	struct got g = {BUF_INIT, 0, 0, 0};
	struct sv_result r;
	char err[300];
	run_sh("echo before; kill -9 $$", 5000, 0, 0, &g, &r, err, sizeof err);
	T_INTEQ(r.signal, SIGKILL, "killed by SIGKILL");
	T_INTEQ(r.exit_code, 128 + SIGKILL, "exit code 128 + 9");
	T_STREQ(g.lines.p, "before\n", "the line before the kill kept");
	sv_result_free(&r);
	buf_free(&g.lines);
}

static void test_timeout(void)
{
	struct got g = {BUF_INIT, 0, 0, 0};
	struct sv_result r;
	char err[300];
	int64_t t0 = mono_ms();
	run_sh("echo up; sleep 30 & sleep 30", 300, 1000, 0, &g, &r, err, sizeof err);
	int64_t ms = mono_ms() - t0;
	T_OK(r.timed_out, "timed out");
	T_OK(!r.killed, "SIGTERM was enough");
	T_INTEQ(r.signal, SIGTERM, "ended by SIGTERM");
	T_OK(ms >= 300 && ms < 1500, "ended soon after the deadline (%lld ms)", (long long)ms);
	T_OK(!group_alive(r.pid), "the background sleep of the group is gone too");
	sv_result_free(&r);
	buf_free(&g.lines);

	memset(&g, 0, sizeof g);
	t0 = mono_ms();
	run_sh("trap '' TERM; echo deaf; sleep 30", 200, 400, 0, &g, &r, err, sizeof err);
	ms = mono_ms() - t0;
	T_OK(r.timed_out && r.killed, "SIGTERM ignored: SIGKILL after the grace");
	T_INTEQ(r.signal, SIGKILL, "ended by SIGKILL");
	T_OK(ms >= 600 && ms < 2000, "deadline + grace (%lld ms)", (long long)ms);
	T_OK(!group_alive(r.pid), "nothing left");
	sv_result_free(&r);
	buf_free(&g.lines);
}

static void test_refusals(void)
{
	struct got g = {BUF_INIT, 0, 2, 0};
	struct sv_result r;
	char err[300];
	int64_t t0 = mono_ms();
	run_sh("echo a; echo b; echo c; sleep 30", 10000, 500, 0, &g, &r, err, sizeof err);
	T_OK(r.refused && !r.timed_out, "a refused line ends the run");
	T_INTEQ(g.n, 2, "no line after the refused one is handed over");
	T_OK(mono_ms() - t0 < 2000, "ended at once");
	T_OK(!group_alive(r.pid), "nothing left");
	sv_result_free(&r);
	buf_free(&g.lines);

	memset(&g, 0, sizeof g);
	run_sh("echo short; head -c 5000 /dev/zero | tr '\\0' x; echo; sleep 30", 10000, 500, 1000,
	       &g, &r, err, sizeof err);
	T_OK(r.refused && r.line_too_long, "a line over max_line is refused");
	T_STREQ(g.lines.p, "short\n", "only the short line handed over");
	T_INTEQ((long long)r.tail.len, 0, "no tail after a refusal");
	sv_result_free(&r);
	buf_free(&g.lines);
}

static void test_leftovers(void)
{
	struct got g = {BUF_INIT, 0, 0, 0};
	struct sv_result r;
	char err[300];
	char pidfile[] = "/tmp/test_supervise.XXXXXX";
	int fd = mkstemp(pidfile);
	close(fd);
	/* the background sleep keeps stdout open; it is in the group, so it
	 * is killed once the leader exits, and the pipe closes */
	char *script = xasprintf("sleep 30 & echo $! >%s; echo done", pidfile);
	int64_t t0 = mono_ms();
	run_sh(script, 10000, 500, 0, &g, &r, err, sizeof err);
	T_OK(mono_ms() - t0 < 1000, "returned at once after the leader exited");
	T_INTEQ(r.exit_code, 0, "exit 0");
	struct buf b = BUF_INIT;
	read_file(pidfile, &b);
	pid_t bg = (pid_t)atoi(b.p ? b.p : "0");
	T_OK(bg > 0 && kill(bg, 0) < 0, "the background child was killed (and reaped)");
	buf_free(&b);
	free(script);
	sv_result_free(&r);
	buf_free(&g.lines);

	/* one that left the group (setsid) and holds the pipe: the drain time bounds it */
	memset(&g, 0, sizeof g);
	script = xasprintf("setsid sh -c 'echo $$ >%s; sleep 5' & sleep 0.2; echo left", pidfile);
	t0 = mono_ms();
	run_sh(script, 10000, 500, 0, &g, &r, err, sizeof err);
	int64_t ms = mono_ms() - t0;
	T_OK(ms < 1500, "the drain time bounds the wait (%lld ms)", (long long)ms);
	T_STREQ(g.lines.p, "left\n", "its lines before the leader exited kept");
	read_file(pidfile, &b);
	bg = (pid_t)atoi(b.p ? b.p : "0");
	if (bg > 0)
		kill(bg, SIGKILL);
	buf_free(&b);
	free(script);
	unlink(pidfile);
	sv_result_free(&r);
	buf_free(&g.lines);
}

static void test_start_failures(void)
{
	struct got g = {BUF_INIT, 0, 0, 0};
	struct sv_result r;
	char err[300] = "";
	char *argv[] = {"x", NULL};
	struct sv_opts o = {.path = "/nonexistent/x",
	                    .argv = argv,
	                    .stdin_fd = -1,
	                    .stderr_fd = -1,
	                    .ctx = &g,
	                    .on_line = on_line,
	                    .on_start = on_start};
	T_INTEQ(sv_run(&o, &r, err, sizeof err), -1, "a missing program is a start failure");
	T_STREQ(err, "cannot run '/nonexistent/x': No such file or directory", "its message");
	T_INTEQ(r.pid, -1, "no pid");
	T_INTEQ(g.started, 0, "on_start not called");
	sv_result_free(&r);

	char *sh[] = {"sh", "-c", "exit 0", NULL};
	o = (struct sv_opts){.path = "/bin/sh",
	                     .argv = sh,
	                     .cwd = "/nonexistent/dir",
	                     .stdin_fd = -1,
	                     .stderr_fd = -1};
	T_INTEQ(sv_run(&o, &r, err, sizeof err), -1, "a bad cwd is a start failure");
	T_STREQ(err, "cannot change to directory '/nonexistent/dir': No such file or directory",
	        "its message");
	sv_result_free(&r);

	memset(&g, 0, sizeof g);
	T_INTEQ(run_sh("exit 127", 5000, 0, 0, &g, &r, err, sizeof err), 0,
	        "the program's own 127 is a run");
	T_INTEQ(r.exit_code, 127, "exit 127");
	sv_result_free(&r);
}

static void test_which(void)
{
	char *p = sv_which("sh", NULL);
	T_OK(p && p[0] == '/' && !strcmp(strrchr(p, '/'), "/sh"), "sh found on PATH (%s)",
	     p ? p : "-");
	free(p);
	p = sv_which("sh", "/nonexistent");
	T_OK(p && strcmp(p, "/nonexistent/sh"), "a missing dir falls back to PATH");
	free(p);
	p = sv_which("sh", "/bin");
	T_STREQ(p, "/bin/sh", "the given dir first");
	free(p);
	errno = 0;
	T_OK(sv_which("no-such-program-here", NULL) == NULL && errno == ENOENT,
	     "not found: ENOENT");
	T_OK(sv_which("/etc/passwd", NULL) == NULL, "a file that is not executable");
	char dir[] = "/tmp/test_supervise_w.XXXXXX";
	mkdtemp(dir);
	char *prog = xasprintf("%s/prog", dir), *cwd = getcwd(NULL, 0);
	FILE *f = fopen(prog, "w");
	fputs("#!/bin/sh\n", f);
	fclose(f);
	chmod(prog, 0755);
	chdir(dir);
	p = sv_which("./prog", NULL);
	T_OK(p && p[0] == '/' && strstr(p, "/./prog"), "a relative path made absolute (%s)",
	     p ? p : "-");
	free(p);
	chdir(cwd);
	unlink(prog);
	rmdir(dir);
	free(prog);
	free(cwd);
	int64_t t0 = mono_ms();
	T_INTEQ(sv_wait(-1, 50), 0, "sv_wait times out");
	T_OK(mono_ms() - t0 >= 45, "after the time given");
}

int main(void)
{
	/* as bl-manager does: a child subreaper, so the orphans of a killed
	 * group come back to be reaped */
	T_INTEQ(sv_catch_signals(), 0, "signals and subreaper set up");
	test_lines();
	test_signal_exit();
	test_timeout();
	test_refusals();
	test_leftovers();
	test_start_failures();
	test_which();
	return t_done();
}
