/*
 * test_proc — proc_run(): exit statuses and signals, the timeout that
 * ends a whole process group (background children included), capped
 * output (head, tail, the cut said), stdin /dev/null, no inherited fds,
 * signal dispositions reset, start failures told apart from exit 127,
 * the abort flag, and no zombie left behind.
 */
#include "proc.h"
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/bl-proc-test.XXXXXX";

/* Runs cmd with the given timeout and cap; err is kept in last_err. */
static char last_err[256];
static int run(const char *cmd, int timeout_ms, size_t cap, struct proc_result *res)
{
	struct proc_opts o = {.cmd = cmd, .cwd = dir, .timeout_ms = timeout_ms, .cap_bytes = cap};
	last_err[0] = '\0';
	return proc_run(&o, res, last_err, sizeof last_err);
}

static pid_t read_pid(const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	struct buf b = BUF_INIT;
	pid_t pid = read_file(path, &b) == 0 && b.len ? (pid_t)atol(b.p) : -1;
	buf_free(&b);
	return pid;
}

/* 1 when pid no longer runs within 1 s (a process sent SIGKILL may take a
 * moment to finish exiting): gone, or a zombie waiting for init. */
static int dead(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int64_t end = mono_ms() + 1000;
	do {
		struct buf b = BUF_INIT;
		int gone = read_file(path, &b) < 0;
		const char *rp = gone || !b.p ? NULL : strrchr(b.p, ')');
		int zombie = rp && (rp[2] == 'Z' || rp[2] == 'X');
		buf_free(&b);
		if (gone || zombie)
			return 1;
		usleep(10000);
	} while (mono_ms() < end);
	return 0;
}

/* 1 when no process of group pgid is left within ms (init reaps zombies). */
static int group_gone(pid_t pgid, int ms)
{
	int64_t end = mono_ms() + ms;
	do {
		if (kill(-pgid, 0) < 0 && errno == ESRCH)
			return 1;
		usleep(20000);
	} while (mono_ms() < end);
	return 0;
}

static volatile sig_atomic_t stop_flag;
static void on_alarm(int sig)
{
	stop_flag = 1;
}

static void test_basics(void)
{
	struct proc_result r;
	int rc = run("echo hello; echo oops >&2", 5000, 0, &r);
	T_INTEQ(rc, 0, "echo: ran (%s)", last_err);
	T_STREQ(r.output.p, "hello\noops\n", "echo: stdout and stderr on one pipe");
	T_INTEQ(r.exit_code, 0, "echo: exit 0");
	T_OK(!r.signal && !r.timed_out && !r.aborted && !r.sandboxed, "echo: no flags set");
	T_INTEQ(r.total_bytes, 11, "echo: total_bytes");
	T_OK(r.pid > 0 && r.duration_ms >= 0 && r.duration_ms < 3000, "echo: pid and duration");
	proc_result_free(&r);

	rc = run("pwd", 5000, 0, &r);
	char want[PATH_MAX + 2];
	snprintf(want, sizeof want, "%s\n", dir);
	T_STREQ(r.output.p, want, "pwd: runs in cwd");
	proc_result_free(&r);

	rc = run("exit 3", 5000, 0, &r);
	T_OK(rc == 0 && r.exit_code == 3 && r.signal == 0, "exit 3 -> exit_code 3 (got %d)",
	     r.exit_code);
	proc_result_free(&r);

	rc = run("kill -9 $$", 5000, 0, &r);
	T_INTEQ(r.signal, 9, "kill -9 $$ -> signal 9");
	T_INTEQ(r.exit_code, 137, "kill -9 $$ -> exit_code 137");
	proc_result_free(&r);

	rc = run("exit 127", 5000, 0, &r);
	T_OK(rc == 0 && r.exit_code == 127,
	     "exit 127 is the command's status, not a start failure");
	proc_result_free(&r);

	char *envp[] = {"FOO=bar baz", "PATH=/usr/bin:/bin", NULL};
	struct proc_opts o = {.cmd = "echo \"$FOO\"", .envp = envp, .timeout_ms = 5000};
	rc = proc_run(&o, &r, last_err, sizeof last_err);
	T_STREQ(r.output.p, "bar baz\n", "envp given is the child's environment");
	proc_result_free(&r);
}

static void test_isolation(void)
{
	struct proc_result r;
	int64_t t0 = mono_ms();
	run("cat; echo done", 5000, 0, &r);
	T_OK(!strcmp(r.output.p, "done\n") && mono_ms() - t0 < 3000, "stdin is /dev/null");
	proc_result_free(&r);

	int fd = open("/dev/null", O_RDONLY); /* deliberately not O_CLOEXEC */
	int high = dup2(fd, 37);
	run("if [ -e /proc/self/fd/37 ]; then echo leaked; else echo closed; fi", 5000, 0, &r);
	T_OK(high == 37 && !strcmp(r.output.p, "closed\n"), "fds above 2 are not inherited");
	proc_result_free(&r);
	close(fd);
	close(37);

	signal(SIGPIPE, SIG_IGN); /* ignored dispositions survive exec unless reset */
	run("yes | head -n 1", 5000, 0, &r);
	T_STREQ(r.output.p, "y\n", "SIGPIPE is default again in the child");
	proc_result_free(&r);
	signal(SIGPIPE, SIG_DFL);

	/* /proc/PID/stat fields 6 and 7: session id, controlling tty. */
	run("set -- $(cat /proc/$$/stat); [ \"$6\" = $$ ] && [ \"$7\" = 0 ] && echo leader", 5000,
	    0, &r);
	T_STREQ(r.output.p, "leader\n", "the shell leads its own session, without a terminal");
	proc_result_free(&r);
}

static void test_timeout(void)
{
	struct proc_result r;
	int64_t t0 = mono_ms();
	int rc = run("sleep 30 & echo $! > bg; sleep 30", 500, 0, &r);
	int64_t took = mono_ms() - t0;
	pid_t bg = read_pid("bg");
	T_INTEQ(rc, 0, "timeout: returns 0 (%s)", last_err);
	T_OK(took >= 450 && took < 3000, "timeout: sleep 30 ended after ~500 ms (%lld ms)",
	     (long long)took);
	T_OK(r.timed_out && !r.aborted, "timeout: timed_out set");
	T_OK(r.signal == SIGTERM && r.exit_code == 128 + SIGTERM,
	     "timeout: the shell ended by SIGTERM (signal %d, exit %d)", r.signal, r.exit_code);
	T_OK(bg > 0 && dead(bg), "timeout: the background child %d is dead", (int)bg);
	T_OK(group_gone(r.pid, 10000), "timeout: no process of group %d is left", (int)r.pid);
	proc_result_free(&r);

	struct proc_opts o = {.cmd = "trap '' TERM; sleep 30 & echo $! > bg2; sleep 30",
	                      .cwd = dir,
	                      .timeout_ms = 300,
	                      .grace_ms = 200};
	t0 = mono_ms();
	rc = proc_run(&o, &r, last_err, sizeof last_err);
	took = mono_ms() - t0;
	bg = read_pid("bg2");
	T_OK(rc == 0 && r.timed_out && r.signal == SIGKILL && took < 2500,
	     "timeout: SIGTERM ignored -> SIGKILL after the grace (signal %d, %lld ms)", r.signal,
	     (long long)took);
	T_OK(bg > 0 && dead(bg), "timeout: ignoring background child %d is dead too", (int)bg);
	proc_result_free(&r);

	/* The shell exits at once; a background child keeps the pipe open. */
	o = (struct proc_opts){.cmd = "sleep 30 & echo $! > bg3; echo hi",
	                       .cwd = dir,
	                       .timeout_ms = 10000,
	                       .drain_ms = 300};
	t0 = mono_ms();
	rc = proc_run(&o, &r, last_err, sizeof last_err);
	took = mono_ms() - t0;
	bg = read_pid("bg3");
	T_OK(rc == 0 && r.exit_code == 0 && !r.timed_out && !strcmp(r.output.p, "hi\n"),
	     "held pipe: the shell's own exit 0 and output reported");
	T_OK(took < 3000 && bg > 0 && dead(bg),
	     "held pipe: returns after the drain, the child is killed (%lld ms)", (long long)took);
	proc_result_free(&r);

	/* A background child that let go of the pipe is killed all the same. */
	rc = run("sleep 30 >/dev/null 2>&1 & echo $! > bg4", 10000, 0, &r);
	bg = read_pid("bg4");
	T_OK(rc == 0 && r.exit_code == 0 && bg > 0 && dead(bg),
	     "detached-output background child %d is killed when the shell is done", (int)bg);
	proc_result_free(&r);

	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = {.it_value = {.tv_usec = 300000}};
	setitimer(ITIMER_REAL, &it, NULL);
	stop_flag = 0;
	o = (struct proc_opts){.cmd = "sleep 30", .abort_flag = &stop_flag, .grace_ms = 500};
	t0 = mono_ms();
	rc = proc_run(&o, &r, last_err, sizeof last_err);
	took = mono_ms() - t0;
	T_OK(rc == 0 && r.aborted && !r.timed_out && took < 2000 && r.signal == SIGTERM,
	     "abort flag set by a signal handler ends the command (%lld ms)", (long long)took);
	proc_result_free(&r);
}

static void test_cap(void)
{
	struct proc_result r;
	size_t cap = 64 * 1024;
	int rc = run("head -c 10000000 /dev/zero | tr '\\0' a", 30000, cap, &r);
	const char *marker = "\n[... 9934464 bytes cut ...]\n";
	T_INTEQ(rc, 0, "10 MB: ran (%s)", last_err);
	T_INTEQ(r.total_bytes, 10000000, "10 MB: total_bytes counts everything");
	T_INTEQ(r.output.len, cap + strlen(marker), "10 MB: output is cap + marker");
	T_OK(r.output.len >= 2 && r.output.p[0] == 'a' && r.output.p[cap / 2 - 1] == 'a' &&
	         r.output.p[r.output.len - 1] == 'a',
	     "10 MB: head and tail are the command's bytes");
	char *m = strstr(r.output.p, marker);
	T_OK(m && m - r.output.p == (ptrdiff_t)(cap / 2), "10 MB: the cut is said in the middle");
	proc_result_free(&r);

	run("seq 1 100000", 30000, 1000, &r);
	size_t len = r.output.len;
	T_OK(!strncmp(r.output.p, "1\n2\n3\n", 6) && len > 7 &&
	         !strcmp(r.output.p + len - 7, "100000\n"),
	     "seq: head starts at 1, tail ends at 100000");
	T_OK(strstr(r.output.p, " bytes cut ...]") && r.total_bytes == 588895,
	     "seq: marker present, total %zu", r.total_bytes);
	proc_result_free(&r);

	/* 1000 two-byte characters, cap 101: cuts must not split one. */
	run("i=0; while [ $i -lt 1000 ]; do printf '\\303\\251'; i=$((i+1)); done", 30000, 101, &r);
	m = strstr(r.output.p, "\n[... 1900 bytes cut ...]\n");
	T_OK(m && m - r.output.p == 50 && strlen(m) == strlen("\n[... 1900 bytes cut ...]\n") + 50,
	     "utf-8: the cut falls between characters");
	proc_result_free(&r);

	run("printf 12345", 5000, 10, &r);
	T_STREQ(r.output.p, "12345", "output under the cap is whole");
	proc_result_free(&r);
}

static void test_start_errors(void)
{
	struct proc_result r;
	struct proc_opts o = {.cmd = "echo hi", .cwd = "/nonexistent/dir", .timeout_ms = 5000};
	int rc = proc_run(&o, &r, last_err, sizeof last_err);
	T_OK(rc == -1 && strstr(last_err, "cannot change to directory '/nonexistent/dir'") &&
	         strstr(last_err, "No such file"),
	     "missing cwd: a clean error (%s)", last_err);
	T_OK(r.output.p && r.output.len == 0, "missing cwd: output empty and valid");
	proc_result_free(&r);

	o = (struct proc_opts){.cmd = "echo hi", .shell = "/nonexistent/sh"};
	rc = proc_run(&o, &r, last_err, sizeof last_err);
	T_OK(rc == -1 && strstr(last_err, "cannot run '/nonexistent/sh'"),
	     "missing shell: told apart from exit 127 (%s)", last_err);
	proc_result_free(&r);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	test_basics();
	test_isolation();
	test_timeout();
	test_cap();
	test_start_errors();
	int st;
	T_OK(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "no child or zombie left behind");
	sandbox_tmpdir_remove(dir);
	return t_done();
}
