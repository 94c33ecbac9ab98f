/*
 * test_sandbox — the Landlock confinement of `bash` children, through
 * proc_run(): no writes outside the workspace and its temp dir (`../x`,
 * `$HOME/x`, symlinks, moves, device nodes), a read-only policy that
 * cannot change the workspace, TCP to 127.0.0.1 denied unless network is
 * allowed, secrets scrubbed from the environment, "required" refused and
 * "best-effort" unconfined where Landlock is missing (simulated), and the
 * temp dir helpers.  Checks that need Landlock are skipped, saying so,
 * on a kernel without it.
 *
 * The test binary is also its own TCP client: `test_sandbox --connect
 * PORT` / `--bind` exit 0 on success, 1 with the error on failure.
 */
#include "proc.h"
#include "sandbox.h"
#include "t.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[] = "/tmp/bl-sandbox-test.XXXXXX";
static char ws[PATH_MAX], tmp[PATH_MAX], home[PATH_MAX], exe[PATH_MAX];
static char last_err[256];
static int abi;

static void skip(const char *what)
{
	t_n++;
	printf("ok %d - %s # skip Landlock ABI %d\n", t_n, what, abi);
}

static int tcp_client(int bind_only, int port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int r = bind_only ? bind(s, (struct sockaddr *)&a, sizeof a)
	                  : connect(s, (struct sockaddr *)&a, sizeof a);
	if (r < 0) {
		printf("%s: %s\n", bind_only ? "bind" : "connect", strerror(errno));
		fflush(stdout);
		_exit(1);
	}
	_exit(0);
}

static char *path_in(const char *dir, const char *name)
{
	static char p[4][PATH_MAX];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof p[i], "%s/%s", dir, name);
	return p[i];
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Runs cmd in the workspace under a policy; returns proc_run's status. */
static int run_in(const char *cmd, int writable, int network, int required, struct proc_result *r)
{
	struct sandbox_policy p = {.workspace = ws,
	                           .tmpdir = tmp,
	                           .writable = writable,
	                           .network = network,
	                           .required = required};
	struct proc_opts o = {.cmd = cmd, .cwd = ws, .timeout_ms = 10000, .sandbox = &p};
	last_err[0] = '\0';
	return proc_run(&o, r, last_err, sizeof last_err);
}

static void test_secret_names(void)
{
	static const char *const secret[] = {"ANTHROPIC_API_KEY=x",
	                                     "ANTHROPIC_AUTH_TOKEN",
	                                     "ANTHROPIC_BASE_URL=http://h",
	                                     "CLAUDE_CODE_OAUTH_TOKEN=t",
	                                     "OPENAI_API_KEY=k",
	                                     "GITHUB_TOKEN=g",
	                                     "MY_SECRET=s",
	                                     "AWS_SECRET_ACCESS_KEY=a",
	                                     "npm_config__auth_token=z"};
	static const char *const kept[] = {
	    "PATH=/bin",     "HOME=/root", "TOKENIZER=x", "KEYBOARD=us", "OPENAI_BASE_URL=http://h",
	    "SECRETS_DIR=d", "LANG=C"};
	int bad = 0;
	for (size_t i = 0; i < sizeof secret / sizeof *secret; i++)
		if (!sandbox_is_secret(secret[i])) {
			printf("# not seen as secret: %s\n", secret[i]);
			bad++;
		}
	T_OK(!bad, "secret names: all %zu recognised", sizeof secret / sizeof *secret);
	bad = 0;
	for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
		if (sandbox_is_secret(kept[i])) {
			printf("# wrongly seen as secret: %s\n", kept[i]);
			bad++;
		}
	T_OK(!bad, "ordinary names: all %zu kept", sizeof kept / sizeof *kept);

	char *env[] = {"PATH=/bin", "GITHUB_TOKEN=g", "TMPDIR=/old", "HOME=/h", NULL};
	char **out = sandbox_scrub_env(env, "/new");
	int n = 0;
	while (out[n])
		n++;
	T_OK(n == 3 && !strcmp(out[0], "PATH=/bin") && !strcmp(out[1], "HOME=/h") &&
	         !strcmp(out[2], "TMPDIR=/new"),
	     "scrub_env: secret dropped, TMPDIR replaced, the rest kept in order");
	sandbox_env_free(out);
}

static void test_writes(void)
{
	struct proc_result r;
	const char *what[] = {"../x", "$HOME/x", "workspace write", "TMPDIR write"};
	if (!abi) {
		for (size_t i = 0; i < 4; i++)
			skip(what[i]);
		return;
	}
	int rc = run_in("echo x > ../x", 1, 0, 0, &r);
	T_OK(rc == 0 && r.exit_code != 0 && !exists(path_in(root, "x")),
	     "echo x > ../x fails and ../x does not exist (exit %d: %s)", r.exit_code, last_err);
	T_OK(r.sandboxed && strstr(r.sandbox_note, "Landlock ABI"), "sandboxed, note: %s",
	     r.sandbox_note);
	proc_result_free(&r);

	run_in("echo x > \"$HOME/x\"", 1, 0, 0, &r);
	T_OK(r.exit_code != 0 && !exists(path_in(home, "x")), "echo x > $HOME/x fails");
	proc_result_free(&r);

	run_in("echo ok > in_ws && cat in_ws", 1, 0, 0, &r);
	T_OK(r.exit_code == 0 && !strcmp(r.output.p, "ok\n") && exists(path_in(ws, "in_ws")),
	     "writing in the workspace works");
	proc_result_free(&r);

	run_in("printf '%s\\n' \"$TMPDIR\"; echo ok > \"$TMPDIR/t\" && cat \"$TMPDIR/t\"", 1, 0, 0,
	       &r);
	char want[PATH_MAX + 8];
	snprintf(want, sizeof want, "%s\nok\n", tmp);
	T_STREQ(r.output.p, want, "TMPDIR is the private temp dir and writable");
	proc_result_free(&r);

	run_in("mkdir -p a/b && echo y > a/b/f && mv a/b c && mv c/f \"$TMPDIR/f\" && rm -r a c", 1,
	       0, 0, &r);
	if (abi >= 2)
		T_OK(r.exit_code == 0, "mkdir, mv within and between the writable trees, rm work");
	else
		skip("mv between directories (needs ABI 2)");
	proc_result_free(&r);

	run_in("mv in_ws ../moved", 1, 0, 0, &r);
	T_OK(r.exit_code != 0 && !exists(path_in(root, "moved")) && exists(path_in(ws, "in_ws")),
	     "moving a file out of the workspace fails");
	proc_result_free(&r);

	run_in("ln -s ../target lnk && echo x >> lnk", 1, 0, 0, &r);
	struct stat st;
	T_OK(r.exit_code != 0 && stat(path_in(root, "target"), &st) == 0 && st.st_size == 0,
	     "writing through a symlink that leaves the workspace fails");
	proc_result_free(&r);

	run_in("mknod dev c 1 3", 1, 0, 0, &r);
	T_OK(r.exit_code != 0 && !exists(path_in(ws, "dev")), "creating a device node fails");
	proc_result_free(&r);

	run_in("echo a > /dev/null && echo b >/dev/stderr && echo c 2>&1 >/dev/stdout", 1, 0, 0,
	       &r);
	T_STREQ(r.output.p, "b\nc\n", "/dev/null, /dev/stderr and /dev/stdout stay writable");
	proc_result_free(&r);
}

/* A pty opened inside the sandbox: its ioctls are denied from ABI 5. */
static void test_device_ioctl(void)
{
	if (abi < 5) {
		skip("device ioctl on a terminal denied (needs ABI 5)");
		return;
	}
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	char *pts = m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0 ? ptsname(m) : NULL;
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof cmd, "stty -F '%s' >/dev/null", pts ? pts : "/nonexistent");
	struct proc_result r, plain;
	struct proc_opts o = {.cmd = cmd, .timeout_ms = 10000};
	proc_run(&o, &plain, last_err, sizeof last_err);
	run_in(cmd, 1, 0, 0, &r);
	T_OK(pts && plain.exit_code == 0 && r.exit_code != 0,
	     "stty on a terminal works unconfined (exit %d), is denied sandboxed (exit %d)",
	     plain.exit_code, r.exit_code);
	proc_result_free(&r);
	proc_result_free(&plain);
	if (m >= 0)
		close(m);
}

/* From ABI 6 a sandboxed command cannot signal the agent that runs it. */
static void test_signal_scope(void)
{
	if (abi < 6) {
		skip("signals to processes outside the sandbox denied (needs ABI 6)");
		return;
	}
	char cmd[64];
	snprintf(cmd, sizeof cmd, "kill -0 %d", (int)getpid());
	struct proc_result r, plain;
	struct proc_opts o = {.cmd = cmd, .timeout_ms = 10000};
	proc_run(&o, &plain, last_err, sizeof last_err);
	run_in(cmd, 1, 0, 0, &r);
	T_OK(plain.exit_code == 0 && r.exit_code != 0,
	     "kill -0 of the agent works unconfined (exit %d), is denied sandboxed (exit %d)",
	     plain.exit_code, r.exit_code);
	proc_result_free(&r);
	proc_result_free(&plain);
}

static void test_read_only(void)
{
	struct proc_result r;
	if (!abi) {
		skip("read-only: workspace write denied");
		skip("read-only: workspace readable, TMPDIR writable");
		return;
	}
	run_in("echo x > ro", 0, 0, 0, &r);
	T_OK(r.exit_code != 0 && !exists(path_in(ws, "ro")),
	     "read-only policy: writing the workspace fails");
	proc_result_free(&r);

	run_in("rm -f in_ws", 0, 0, 0, &r);
	T_OK(r.exit_code != 0 && exists(path_in(ws, "in_ws")),
	     "read-only policy: removing a workspace file fails");
	proc_result_free(&r);

	run_in("cat in_ws && echo ok > \"$TMPDIR/ro\" && cat \"$TMPDIR/ro\"", 0, 0, 0, &r);
	T_OK(r.exit_code == 0 && !strcmp(r.output.p, "ok\nok\n") &&
	         strstr(r.sandbox_note, "read-only"),
	     "read-only policy: workspace readable, TMPDIR writable (%s)", r.sandbox_note);
	proc_result_free(&r);
}

static void test_network(void)
{
	struct proc_result r;
	if (abi < 4) {
		skip("TCP connect denied when network is off");
		skip("TCP bind denied when network is off");
		skip("TCP connect allowed when network is on");
		return;
	}
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t alen = sizeof a;
	int ok = ls >= 0 && bind(ls, (struct sockaddr *)&a, sizeof a) == 0 && listen(ls, 8) == 0 &&
	         getsockname(ls, (struct sockaddr *)&a, &alen) == 0;
	int port = ntohs(a.sin_port);
	char cmd[PATH_MAX + 64];

	snprintf(cmd, sizeof cmd, "'%s' --connect %d", exe, port);
	run_in(cmd, 1, 0, 0, &r);
	T_OK(ok && r.exit_code == 1 && strstr(r.output.p, "connect: Permission denied") &&
	         strstr(r.sandbox_note, "TCP connect/bind denied"),
	     "network off: TCP connect to 127.0.0.1:%d is denied", port);
	proc_result_free(&r);

	snprintf(cmd, sizeof cmd, "'%s' --bind 0", exe);
	run_in(cmd, 1, 0, 0, &r);
	T_OK(r.exit_code == 1 && strstr(r.output.p, "bind: Permission denied"),
	     "network off: TCP bind is denied");
	proc_result_free(&r);

	snprintf(cmd, sizeof cmd, "'%s' --connect %d", exe, port);
	run_in(cmd, 1, 1, 0, &r);
	T_OK(r.exit_code == 0 && strstr(r.sandbox_note, "TCP allowed"),
	     "network on: TCP connect to 127.0.0.1:%d works", port);
	proc_result_free(&r);

	/* Below ABI 4 TCP cannot be restricted: the note must say so. */
	sandbox_force_abi(3);
	run_in(cmd, 1, 0, 0, &r);
	T_OK(r.sandboxed && r.exit_code == 0 && strstr(r.sandbox_note, "TCP not restricted"),
	     "ABI 3: confined, but TCP open and the note says so (%s)", r.sandbox_note);
	proc_result_free(&r);
	sandbox_force_abi(-1);
	close(ls);
}

static void test_env(void)
{
	struct proc_result r;
	const char *names[] = {"ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "MY_SECRET",
	                       "CLAUDE_CODE_OAUTH_TOKEN"};
	for (size_t i = 0; i < 5; i++)
		setenv(names[i], "s3cr3t-value", 1);
	run_in("env", 1, 0, 0, &r);
	int seen = 0;
	for (size_t i = 0; i < 5; i++)
		if (strstr(r.output.p, names[i]))
			seen++;
	T_OK(r.exit_code == 0 && !seen && !strstr(r.output.p, "s3cr3t-value"),
	     "env: none of the 5 secret variables is seen (%d were)", seen);
	T_OK(strstr(r.output.p, "PATH=") && strstr(r.output.p, "HOME=") &&
	         strstr(r.output.p, "TMPDIR="),
	     "env: PATH and HOME remain, TMPDIR is set");
	proc_result_free(&r);
	for (size_t i = 0; i < 5; i++)
		unsetenv(names[i]);
}

static void test_no_landlock(void)
{
	struct proc_result r;
	sandbox_force_abi(0);
	T_INTEQ(sandbox_abi(), 0, "forced ABI 0 is reported");
	int rc = run_in("touch ran", 1, 0, 1, &r);
	T_OK(rc == -1 && strstr(last_err, "required") && strstr(last_err, "Landlock") &&
	         !exists(path_in(ws, "ran")),
	     "required sandbox without Landlock: refused, nothing ran (%s)", last_err);
	proc_result_free(&r);

	rc = run_in("echo x > ../unconfined", 1, 0, 0, &r);
	T_OK(rc == 0 && !r.sandboxed && strstr(r.sandbox_note, "not sandboxed") &&
	         exists(path_in(root, "unconfined")),
	     "best-effort without Landlock: runs unconfined and says so (%s)", r.sandbox_note);
	proc_result_free(&r);
	sandbox_force_abi(-1);

	char *orig = getenv("BL_SANDBOX_ABI") ? xstrdup(getenv("BL_SANDBOX_ABI")) : NULL;
	unsetenv("BL_SANDBOX_ABI");
	int full = sandbox_abi();
	setenv("BL_SANDBOX_ABI", "0", 1);
	int capped = sandbox_abi();
	setenv("BL_SANDBOX_ABI", "99", 1);
	T_OK(capped == 0 && sandbox_abi() == full,
	     "BL_SANDBOX_ABI lowers the ABI, never raises it");
	if (orig)
		setenv("BL_SANDBOX_ABI", orig, 1);
	else
		unsetenv("BL_SANDBOX_ABI");
	free(orig);
}

static void test_apply_and_errors(void)
{
	struct sandbox_policy p = {.workspace = ws, .tmpdir = tmp, .writable = 0};
	if (abi) {
		pid_t pid = fork();
		if (pid == 0) {
			char e[256];
			if (sandbox_apply(&p, NULL, 0, e, sizeof e) < 0)
				_exit(2);
			int w = open(path_in(ws, "self"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			int rd = open(path_in(ws, "in_ws"), O_RDONLY | O_CLOEXEC);
			_exit(w < 0 && errno == EACCES && rd >= 0 ? 0 : 1);
		}
		int st = -1;
		waitpid(pid, &st, 0);
		T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && !exists(path_in(ws, "self")),
		     "sandbox_apply confines the calling process (read-only)");
	} else {
		skip("sandbox_apply confines the calling process");
	}

	struct sandbox sb;
	char e[256];
	p.workspace = "/nonexistent/ws";
	int prc = sandbox_prepare(&p, &sb, e, sizeof e);
	T_OK(prc == -1 && strstr(e, "'/nonexistent/ws'"),
	     "a missing workspace is an error naming it (%s)", e);

	char d[PATH_MAX];
	int made = sandbox_tmpdir_create(d, sizeof d, e, sizeof e) == 0;
	struct stat st;
	T_OK(made && stat(d, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700,
	     "tmpdir_create: a private 0700 directory");
	mkdir(path_in(d, "sub"), 0700);
	close(open(path_in(d, "sub/f"), O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	symlink("/etc/passwd", path_in(d, "sub/l"));
	chmod(path_in(d, "sub"), 0500);
	T_OK(sandbox_tmpdir_remove(d) == 0 && !exists(d) && exists("/etc/passwd"),
	     "tmpdir_remove: removes read-only subdirectories, does not follow symlinks");
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--connect"))
		tcp_client(0, atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "--bind"))
		tcp_client(1, atoi(argv[2]));

	if (!mkdtemp(root) || !realpath("/proc/self/exe", exe)) {
		perror("setup");
		return 1;
	}
	snprintf(ws, sizeof ws, "%s/ws", root);
	snprintf(tmp, sizeof tmp, "%s/tmp", root);
	snprintf(home, sizeof home, "%s/home", root);
	mkdir(ws, 0755);
	mkdir(tmp, 0700);
	mkdir(home, 0755);
	close(open(path_in(root, "target"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	setenv("HOME", home, 1);
	abi = sandbox_abi();
	printf("# Landlock ABI %d\n", abi);

	test_secret_names();
	test_writes();
	test_device_ioctl();
	test_signal_scope();
	test_read_only();
	test_network();
	test_env();
	test_no_landlock();
	test_apply_and_errors();
	sandbox_tmpdir_remove(root);
	return t_done();
}
