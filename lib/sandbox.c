/*
 * sandbox — Landlock for `bash` children, through raw syscalls.
 *
 * GUARANTEES (for bl-code(1) and friends, section SANDBOX)
 *
 * A command run by the `bash` tool is confined by a Landlock ruleset,
 * entered after PR_SET_NO_NEW_PRIVS (so set-user-ID programs gain
 * nothing), and inherited by everything it starts.  "The writable trees"
 * are the workspace and the agent's private temp dir (TMPDIR); for a
 * read-only agent (planner, reviewer) only the temp dir.  With Landlock
 * ABI version N (sandbox_abi(): the kernel's own, at most 7):
 *
 *   N >= 1  Reading files, listing directories and executing: allowed
 *           everywhere.  Opening a file for writing, creating, removing or
 *           renaming files, directories, fifos, sockets and symlinks:
 *           allowed only beneath the writable trees, plus writing to
 *           /dev/null.  Writing through a symlink is judged at its target.
 *           Creating device nodes: denied everywhere.  Linking or moving a
 *           file into the writable trees from elsewhere, or out of them:
 *           denied.  mount, umount and pivot_root: denied.  ptrace of a
 *           process outside the sandbox: denied.  The standard streams
 *           (also as /dev/stdout, /dev/stderr) stay usable.
 *   N == 1  Moving or linking a file between two directories is denied even
 *           inside the workspace (EXDEV; mv falls back to copying).
 *   N >= 2  Moving and linking within and between the writable trees: allowed.
 *   N <= 2  truncate(2) by path is not restricted.
 *   N >= 3  Truncating: only files beneath the writable trees.
 *   N <= 3  TCP is not restricted; sb->note says so.
 *   N >= 4  TCP connect and bind: denied unless the agent's config allows
 *           network (then allowed on every port).
 *   N >= 5  Device ioctls (a terminal's TIOCSTI, say) on device files opened
 *           inside the sandbox: denied; the standard streams, opened
 *           before, are not affected.
 *   N >= 6  Connecting to abstract Unix sockets created outside the sandbox,
 *           and sending signals to processes outside it: denied.
 *   N == 7  Nothing more (ABI 7 adds audit logging controls only).
 *   N == 0  No confinement.  sandbox "required" refuses to run; "best-effort"
 *           runs the command unconfined and says so (sb->note).
 *
 * Never restricted by Landlock (documented limits, not bugs): chmod,
 * chown, utime and stat anywhere; UDP and other non-TCP sockets;
 * connecting to path-named Unix sockets; and anything a privileged user
 * may do without a path (loading modules, raw sockets, setting the clock):
 * run agents as an unprivileged user.  A command that leaves its process
 * group (setsid) escapes the group kill of proc_run, not the sandbox.
 *
 * The environment loses the secrets (sandbox_is_secret) and gets
 * TMPDIR=<private temp dir>; HOME and caches outside the workspace are
 * read-only, so tools should be pointed at $TMPDIR for caches.
 *
 * Test hooks: sandbox_force_abi(), and BL_SANDBOX_ABI=N in the
 * environment; both can only lower the ABI used.
 */
#include "sandbox.h"

#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The system header may be older than the kernel: the kernel's values. */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13) /* ABI 2 */
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14) /* ABI 3 */
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0) /* ABI 4 */
#endif
#ifndef LANDLOCK_ACCESS_NET_CONNECT_TCP
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1) /* ABI 4 */
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0) /* ABI 6 */
#endif
#ifndef LANDLOCK_SCOPE_SIGNAL
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1) /* ABI 6 */
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif

#define ABI_KNOWN 7

/* struct landlock_ruleset_attr as of ABI 6; the size passed says which
 * prefix the kernel reads (8 bytes: ABI 1-3, 16: ABI 4-5, 24: ABI 6+). */
struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

#define FS_READ                                                                                    \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_DEVICES                                                                                 \
	(LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK |                            \
	 LANDLOCK_ACCESS_FS_IOCTL_DEV)

static int forced_abi = -1;

static uint64_t fs_rights(int abi)
{
	uint64_t r = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0..12 */
	if (abi >= 2)
		r |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		r |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		r |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	return r;
}

static int kernel_abi(void)
{
	static int cached = -1;
	if (cached < 0) {
		long v =
		    syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
		cached = v < 0 ? 0 : v > ABI_KNOWN ? ABI_KNOWN : (int)v;
	}
	return cached;
}

/* Owner: none; reads the kernel once and caches. */
int sandbox_abi(void)
{
	int abi = kernel_abi();
	const char *env = getenv("BL_SANDBOX_ABI");
	if (env && *env >= '0' && *env <= '9') {
		int cap = atoi(env);
		if (cap < abi)
			abi = cap;
	}
	if (forced_abi >= 0 && forced_abi < abi)
		abi = forced_abi;
	return abi;
}

/* Owner: none; process-wide test setting. */
void sandbox_force_abi(int abi)
{
	forced_abi = abi;
}

static int add_path(int ruleset, const char *path, uint64_t access, char *err, size_t errlen)
{
	struct landlock_path_beneath_attr rule = {.allowed_access = access};
	rule.parent_fd = open(path, O_PATH | O_CLOEXEC);
	if (rule.parent_fd < 0) {
		snprintf(err, errlen, "sandbox: cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	long r = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
	int e = errno;
	close(rule.parent_fd);
	if (r < 0) {
		snprintf(err, errlen, "sandbox: cannot add a Landlock rule for '%s': %s", path,
		         strerror(e));
		return -1;
	}
	return 0;
}

static int check_dir(const char *what, const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (!path || !*path) {
		snprintf(err, errlen, "sandbox: no %s given", what);
		return -1;
	}
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "sandbox: cannot use %s '%s': %s", what, path,
		         strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "sandbox: %s '%s' is not a directory", what, path);
		return -1;
	}
	return 0;
}

/* Owner: sb owns the ruleset fd it gets; the caller releases it. */
int sandbox_prepare(const struct sandbox_policy *p, struct sandbox *sb, char *err, size_t errlen)
{
	sb->fd = -1;
	sb->abi = 0;
	sb->tcp_denied = 0;
	sb->note[0] = '\0';
	if (check_dir("workspace", p->workspace, err, errlen) < 0)
		return -1;
	if (p->tmpdir && check_dir("temp dir", p->tmpdir, err, errlen) < 0)
		return -1;

	int abi = sandbox_abi();
	if (abi == 0) {
		if (p->required) {
			snprintf(err, errlen,
			         "sandbox is required but this kernel has no Landlock "
			         "(set sandbox to \"best-effort\" to run unconfined)");
			return -1;
		}
		snprintf(sb->note, sizeof sb->note,
		         "not sandboxed: this kernel has no Landlock (sandbox: best-effort)");
		return 0;
	}

	struct ruleset_attr attr = {.handled_access_fs = fs_rights(abi)};
	size_t size = sizeof attr.handled_access_fs;
	if (abi >= 4) {
		size += sizeof attr.handled_access_net;
		if (!p->network)
			attr.handled_access_net =
			    LANDLOCK_ACCESS_NET_BIND_TCP | LANDLOCK_ACCESS_NET_CONNECT_TCP;
	}
	if (abi >= 6) {
		size += sizeof attr.scoped;
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
	}
	long fd = syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (fd < 0) {
		snprintf(err, errlen, "sandbox: cannot create a Landlock ruleset (ABI %d): %s", abi,
		         strerror(errno));
		return -1;
	}

	uint64_t write = attr.handled_access_fs & ~(uint64_t)FS_DEVICES;
	uint64_t devnull =
	    LANDLOCK_ACCESS_FS_WRITE_FILE | (abi >= 3 ? LANDLOCK_ACCESS_FS_TRUNCATE : 0);
	if (add_path((int)fd, "/", FS_READ, err, errlen) < 0 ||
	    add_path((int)fd, "/dev/null", devnull, err, errlen) < 0 ||
	    (p->writable && add_path((int)fd, p->workspace, write, err, errlen) < 0) ||
	    (p->tmpdir && add_path((int)fd, p->tmpdir, write, err, errlen) < 0)) {
		close((int)fd);
		return -1;
	}

	sb->fd = (int)fd;
	sb->abi = abi;
	sb->tcp_denied = abi >= 4 && !p->network;
	const char *tcp = abi < 4      ? "TCP not restricted (needs Landlock ABI 4)"
	                  : p->network ? "TCP allowed"
	                               : "TCP connect/bind denied";
	const char *where = p->writable
	                        ? (p->tmpdir ? "the workspace and its temp dir" : "the workspace")
	                        : (p->tmpdir ? "its temp dir (workspace read-only)"
	                                     : "nothing (workspace read-only)");
	snprintf(sb->note, sizeof sb->note, "Landlock ABI %d: writes only beneath %s; %s", abi,
	         where, tcp);
	return 0;
}

/* Owner: none; sb keeps its fd.  Async-signal-safe. */
int sandbox_enter(const struct sandbox *sb)
{
	if (sb->fd < 0)
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_landlock_restrict_self, sb->fd, 0) < 0)
		return -errno;
	return 0;
}

/* Owner: closes what sb owns. */
void sandbox_release(struct sandbox *sb)
{
	if (sb->fd >= 0)
		close(sb->fd);
	sb->fd = -1;
}

/* Owner: none; the calling process is confined for good. */
int sandbox_apply(const struct sandbox_policy *p, char *note, size_t notelen, char *err,
                  size_t errlen)
{
	struct sandbox sb;
	if (sandbox_prepare(p, &sb, err, errlen) < 0)
		return -1;
	int r = sandbox_enter(&sb);
	sandbox_release(&sb);
	if (r < 0) {
		snprintf(err, errlen, "sandbox: cannot enter the Landlock ruleset: %s",
		         strerror(-r));
		return -1;
	}
	if (note && notelen)
		snprintf(note, notelen, "%s", sb.note);
	return 0;
}

static int name_has_suffix(const char *name, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);
	return len >= n && strncasecmp(name + len - n, suffix, n) == 0;
}

/* Owner: none. */
int sandbox_is_secret(const char *name)
{
	const char *eq = strchr(name, '=');
	size_t len = eq ? (size_t)(eq - name) : strlen(name);
	static const char *const exact[] = {"CLAUDE_CODE_OAUTH_TOKEN", "OPENAI_API_KEY"};
	static const char *const suffixes[] = {"_TOKEN", "_SECRET", "_KEY"};
	for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
		if (len == strlen(exact[i]) && strncasecmp(name, exact[i], len) == 0)
			return 1;
	if (len >= 10 && strncasecmp(name, "ANTHROPIC_", 10) == 0)
		return 1;
	for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
		if (name_has_suffix(name, len, suffixes[i]))
			return 1;
	return 0;
}

/* Owner: the caller owns the returned vector and strings. */
char **sandbox_scrub_env(char *const *env, const char *tmpdir)
{
	extern char **environ;
	if (!env)
		env = environ;
	size_t n = 0;
	while (env[n])
		n++;
	char **out = xcalloc(n + 2, sizeof *out);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (sandbox_is_secret(env[i]))
			continue;
		if (tmpdir && strncmp(env[i], "TMPDIR=", 7) == 0)
			continue;
		out[k++] = xstrdup(env[i]);
	}
	if (tmpdir)
		out[k++] = xasprintf("TMPDIR=%s", tmpdir);
	out[k] = NULL;
	return out;
}

/* Owner: frees env and its strings; NULL is fine. */
char **sandbox_command_env(const char *tmpdir)
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = xcalloc(n + 2, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "XDG_CACHE_HOME=", 15))
			env[k++] = environ[i];
	char *cache = xasprintf("XDG_CACHE_HOME=%s/cache", tmpdir);
	env[k++] = cache;
	env[k] = NULL;
	char **scrubbed = sandbox_scrub_env(env, tmpdir);
	free(cache);
	free(env);
	return scrubbed;
}

void sandbox_env_free(char **env)
{
	if (!env)
		return;
	for (char **e = env; *e; e++)
		free(*e);
	free(env);
}

/* Owner: out receives the path; the caller removes the directory. */
int sandbox_tmpdir_create(char *out, size_t outlen, char *err, size_t errlen)
{
	const char *base = getenv("TMPDIR");
	if (!base || base[0] != '/')
		base = "/tmp";
	int n = snprintf(out, outlen, "%s/bl-tmp.XXXXXX", base);
	if (n < 0 || (size_t)n >= outlen) {
		snprintf(err, errlen, "temp dir path under '%s' is too long", base);
		return -1;
	}
	if (!mkdtemp(out)) {
		snprintf(err, errlen, "cannot create a temp dir under '%s': %s", base,
		         strerror(errno));
		return -1;
	}
	return 0;
}

/* Removes name in dirfd, recursing into directories. */
static int remove_at(int dirfd, const char *name)
{
	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	fchmodat(dirfd, name, 0700, 0);
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	int rc = -1;
	for (int pass = 0; pass < 4; pass++) {
		struct dirent *e;
		int removed = 0;
		rewinddir(d);
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
			    remove_at(fd, e->d_name) == 0)
				removed++;
		if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0) {
			rc = 0;
			break;
		}
		if (errno != ENOTEMPTY || !removed)
			break;
	}
	int e = errno;
	closedir(d);
	errno = e;
	return rc;
}

/* Owner: none. */
int sandbox_tmpdir_remove(const char *dir)
{
	if (!dir || !*dir) {
		errno = EINVAL;
		return -1;
	}
	return remove_at(AT_FDCWD, dir);
}
