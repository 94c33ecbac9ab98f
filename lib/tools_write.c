/*
 * tools_write — `write` and `edit` (see tools_write.h for the contract).
 *
 * How a file is replaced: the directory that holds it is opened beneath
 * the workspace (missing directories are made one component at a time,
 * each opened again through fsbeneath, so a symlink can never lead a
 * mkdir out); the content goes to an unnamed O_TMPFILE in that
 * directory, is fsync'd, given a name with linkat(2) — straight to the
 * target when it does not exist yet, else to ".bl-write-XXXXXXXX.tmp" —
 * and renamed over the target, then the directory is fsync'd.  Where
 * O_TMPFILE or /proc is unavailable the temp file is named from the
 * start.  A process killed at any point leaves the target old or new;
 * only a kill between linkat and renameat, after the content is
 * complete, can leave a named temp file behind.
 */
#include "tools_write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsbeneath.h"

#define EDIT_FILE_MAX (64 * 1024 * 1024) /* edit: larger files are refused */
#define DIFF_WORK_MAX 50000000LL         /* diff: Myers steps before approximating */
#define TMP_PREFIX ".bl-write-"

/*
 * Line counts and the line diff.
 */
size_t tool_count_lines(const char *p, size_t n)
{
	size_t lines = 0;
	for (const char *q = p, *end = p + n; q < end;) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		lines++;
		if (!nl)
			break;
		q = nl + 1;
	}
	return lines;
}

/* FNV-1a hashes of each line (its '\n' excluded), malloc'd; *n lines. */
static uint64_t *hash_lines(const char *p, size_t len, size_t *n)
{
	size_t count = tool_count_lines(p, len), i = 0;
	uint64_t *h = xmalloc((count ? count : 1) * sizeof *h);
	for (const char *q = p, *end = p + len; q < end && i < count; i++) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		const char *e = nl ? nl : end;
		uint64_t x = 1469598103934665603ULL;
		for (const char *c = q; c < e; c++)
			x = (x ^ (unsigned char)*c) * 1099511628211ULL;
		h[i] = x ^ (uint64_t)(e - q);
		q = nl ? nl + 1 : end;
	}
	*n = count;
	return h;
}

/* The edit distance (insertions + deletions) between a and b by Myers'
 * greedy algorithm, or -1 when it would take more than DIFF_WORK_MAX
 * steps. */
static long long myers_distance(const uint64_t *a, long long n, const uint64_t *b, long long m)
{
	long long maxd = n + m;
	if (maxd == 0)
		return 0;
	long long dcap = DIFF_WORK_MAX / (n + m);
	if (dcap < maxd)
		maxd = dcap;
	long long *v = xcalloc((size_t)(2 * maxd + 3), sizeof *v);
	long long off = maxd + 1, result = -1;
	for (long long d = 0; d <= maxd && result < 0; d++) {
		for (long long k = -d; k <= d; k += 2) {
			long long x;
			if (k == -d || (k != d && v[off + k - 1] < v[off + k + 1]))
				x = v[off + k + 1];
			else
				x = v[off + k - 1] + 1;
			long long y = x - k;
			while (x < n && y < m && a[x] == b[y])
				x++, y++;
			v[off + k] = x;
			if (x >= n && y >= m) {
				result = d;
				break;
			}
		}
	}
	free(v);
	return result;
}

void tool_diff_stat(const char *a, size_t an, const char *b, size_t bn, size_t *added,
                    size_t *removed)
{
	size_t n, m;
	uint64_t *ha = hash_lines(a, an, &n), *hb = hash_lines(b, bn, &m);
	size_t pre = 0, suf = 0;
	while (pre < n && pre < m && ha[pre] == hb[pre])
		pre++;
	while (suf < n - pre && suf < m - pre && ha[n - 1 - suf] == hb[m - 1 - suf])
		suf++;
	long long na = (long long)(n - pre - suf), nb = (long long)(m - pre - suf);
	long long d = myers_distance(ha + pre, na, hb + pre, nb);
	if (d < 0) {
		*removed = (size_t)na;
		*added = (size_t)nb;
	} else {
		long long common = (na + nb - d) / 2;
		*removed = (size_t)(na - common);
		*added = (size_t)(nb - common);
	}
	free(ha);
	free(hb);
}

/*
 * Paths.
 */

/* 1 when a component of rel is ".git": the repository is not the
 * coder's to touch. */
static int in_git_dir(const char *rel)
{
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 4 && !memcmp(p, ".git", 4))
			return 1;
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* Words a failed open of a directory on the way to shown. */
static void dir_fail(struct tool_result *res, const char *shown, const char *dir, int e)
{
	if (e == EXDEV || e == ELOOP)
		tool_fail(res, "path '%s' is outside the workspace", shown);
	else if (e == ENOTDIR)
		tool_fail(res, "cannot write '%s': '%s' is not a directory", shown, dir);
	else
		tool_fail(res, "cannot open directory '%s': %s", dir, strerror(e));
}

/*
 * Opens (O_RDONLY | O_DIRECTORY) the directory that holds rel beneath the
 * workspace and points *base into rel at the file's name.  With create,
 * missing directories are made one component at a time; *made counts
 * them.  Returns the fd (the caller closes it) or -1 with res filled.
 */
static int open_holder(struct tool_ctx *ctx, const char *shown, const char *rel, int create,
                       const char **base, int *made, struct tool_result *res)
{
	const char *slash = strrchr(rel, '/');
	const char *b = slash ? slash + 1 : rel;
	if (!*b || !strcmp(b, ".") || !strcmp(b, "..")) {
		tool_fail(res, "path '%s' does not name a file", shown);
		return -1;
	}
	if (in_git_dir(rel)) {
		tool_fail(res,
		          "path '%s' is inside .git; the repository is the committer's, "
		          "not changed by tools",
		          shown);
		return -1;
	}
	*base = b;
	/* "/x" keeps its "/" as the directory, so the kernel refuses it. */
	char *dir = slash ? xstrndup(rel, slash == rel ? 1 : (size_t)(slash - rel)) : xstrdup(".");
	int fd = fsb_open(ctx->rootfd, dir, O_RDONLY | O_DIRECTORY, 0, NULL, 0);
	if (fd >= 0 || errno != ENOENT || !create) {
		int e = errno;
		if (fd < 0)
			dir_fail(res, shown, dir, e);
		free(dir);
		errno = e;
		return fd;
	}
	/* Make the missing directories, from the top. */
	int cur = fsb_open(ctx->rootfd, ".", O_RDONLY | O_DIRECTORY, 0, NULL, 0);
	for (size_t i = 0; cur >= 0 && dir[i];) {
		size_t start = i, n = strcspn(dir + i, "/");
		i += n;
		char *prefix = xstrndup(dir, i);
		char *name = xstrndup(dir + start, n);
		while (dir[i] == '/')
			i++;
		int next = fsb_open(ctx->rootfd, prefix, O_RDONLY | O_DIRECTORY, 0, NULL, 0);
		if (next < 0 && errno == ENOENT) {
			if (mkdirat(cur, name, 0777) == 0)
				(*made)++;
			else if (errno != EEXIST) {
				tool_fail(res, "cannot create directory '%s': %s", prefix,
				          strerror(errno));
				close(cur);
				cur = -1;
				free(prefix);
				free(name);
				break;
			}
			next = fsb_open(ctx->rootfd, prefix, O_RDONLY | O_DIRECTORY, 0, NULL, 0);
		}
		if (next < 0)
			dir_fail(res, shown, prefix, errno);
		close(cur);
		cur = next;
		free(prefix);
		free(name);
	}
	free(dir);
	return cur;
}

/*
 * The atomic replacement.
 */

/* A fresh temp name in out: ".bl-write-XXXXXXXX.tmp". */
static void temp_name(char out[32])
{
	unsigned char r[4];
	if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
		uint64_t x = (uint64_t)mono_ms() ^ ((uint64_t)getpid() << 20);
		memcpy(r, &x, sizeof r);
	}
	snprintf(out, 32, TMP_PREFIX "%02x%02x%02x%02x.tmp", r[0], r[1], r[2], r[3]);
}

/* Writes, sets the mode (when keep_mode) and fsyncs fd.  0 or -1/errno. */
static int fill(int fd, const char *data, size_t n, int keep_mode, mode_t mode)
{
	if (write_all(fd, data, n) < 0)
		return -1;
	if (keep_mode && fchmod(fd, mode) < 0)
		return -1;
	return fsync(fd);
}

/* Gives the unnamed file fd a name in dirfd (name), following
 * /proc/self/fd.  0 or -1/errno. */
static int link_tmpfile(int fd, int dirfd, const char *name)
{
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW);
}

/*
 * Replaces (or creates, when !exists) base in dirfd with data.  mode:
 * the permission bits to keep when exists.  0, or -1 with err.
 */
static int replace_file(int dirfd, const char *base, const char *data, size_t n, int exists,
                        mode_t mode, char *err, size_t errlen)
{
	char tmp[32] = "";
	int named = 0;
	int fd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
	if (fd >= 0) {
		if (fill(fd, data, n, exists, mode) < 0) {
			snprintf(err, errlen, "cannot write the new content: %s", strerror(errno));
			close(fd);
			return -1;
		}
		if (!exists && link_tmpfile(fd, dirfd, base) == 0) {
			close(fd);
			goto done; /* created, atomically */
		}
		for (int i = 0; i < 16 && !named; i++) {
			temp_name(tmp);
			if (link_tmpfile(fd, dirfd, tmp) == 0)
				named = 1;
			else if (errno != EEXIST)
				break;
		}
		close(fd);
		fd = -1;
	}
	if (!named) {
		/* No O_TMPFILE here (or no /proc): a named temp file. */
		for (int i = 0; i < 16 && fd < 0; i++) {
			temp_name(tmp);
			fd = openat(dirfd, tmp,
			            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
			if (fd < 0 && errno != EEXIST)
				break;
		}
		if (fd < 0) {
			snprintf(err, errlen, "cannot create a temp file: %s", strerror(errno));
			return -1;
		}
		if (fill(fd, data, n, exists, mode) < 0) {
			snprintf(err, errlen, "cannot write the new content: %s", strerror(errno));
			close(fd);
			unlinkat(dirfd, tmp, 0);
			return -1;
		}
		close(fd);
	}
	if (renameat(dirfd, tmp, dirfd, base) < 0) {
		snprintf(err, errlen, "cannot rename the temp file into place: %s",
		         strerror(errno));
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
done:
	fsync(dirfd); /* the new name durable; a failure here loses nothing */
	return 0;
}

/*
 * What is there now: 0 and *exists set (0 when absent), with the old
 * content in old when it is a regular file; -1 with res filled for a
 * directory, a symlink or a special file.
 */
static int load_current(int dirfd, const char *base, const char *shown, int *exists,
                        struct stat *st, struct buf *old, size_t max, struct tool_result *res)
{
	*exists = 0;
	if (fstatat(dirfd, base, st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		tool_fail(res, "cannot stat '%s': %s", shown, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st->st_mode)) {
		char target[512];
		ssize_t n = readlinkat(dirfd, base, target, sizeof target - 1);
		target[n > 0 ? n : 0] = '\0';
		tool_fail(res, "'%s' is a symbolic link (to '%s'); write to the file it points to",
		          shown, target);
		return -1;
	}
	if (S_ISDIR(st->st_mode)) {
		tool_fail(res, "'%s' is a directory", shown);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		tool_fail(res, "'%s' is not a regular file", shown);
		return -1;
	}
	*exists = 1;
	if ((size_t)st->st_size > max)
		return 0; /* too large to read: old stays empty */
	int fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || read_all(fd, old) < 0) {
		tool_fail(res, "cannot read '%s': %s", shown, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * write
 */
static void write_run(struct tool_ctx *ctx, const struct json *j, int obj, struct tool_result *res)
{
	char *path = tool_arg_str(j, obj, "path", 1, res);
	if (!path)
		return;
	int ct = json_get(j, obj, "content");
	if (ct < 0 || json_type(j, ct) != JSON_STRING) {
		tool_fail(res, ct < 0 ? "missing required argument 'content'"
		                      : "argument 'content' must be a string");
		free(path);
		return;
	}
	struct buf content = BUF_INIT, old = BUF_INIT;
	json_str_buf(j, ct, &content);
	const char *rel = tool_rel_path(ctx, path), *base;
	int made = 0, exists;
	struct stat st = {0};
	char err[512];
	int dirfd = open_holder(ctx, path, rel, 1, &base, &made, res);
	if (dirfd < 0)
		goto out;
	if (load_current(dirfd, base, path, &exists, &st, &old, EDIT_FILE_MAX, res) < 0)
		goto out;
	if (replace_file(dirfd, base, content.p ? content.p : "", content.len, exists,
	                 st.st_mode & 01777, err, sizeof err) < 0) {
		tool_fail(res, "cannot write '%s': %s", path, err);
		goto out;
	}
	size_t lines = tool_count_lines(content.p ? content.p : "", content.len), add, del;
	if (exists && (size_t)st.st_size > EDIT_FILE_MAX) {
		buf_addf(&res->text, "overwrote %s (%zu lines; the old file was too large to diff)",
		         rel, lines);
		goto out;
	}
	tool_diff_stat(old.p ? old.p : "", old.len, content.p ? content.p : "", content.len, &add,
	               &del);
	buf_addf(&res->text, "%s %s (%zu line%s, +%zu -%zu", exists ? "overwrote" : "created", rel,
	         lines, lines == 1 ? "" : "s", add, del);
	if (exists && old.len == content.len && (!old.len || !memcmp(old.p, content.p, old.len)))
		buf_adds(&res->text, "; content unchanged");
	if (made)
		buf_addf(&res->text, "; made %d director%s", made, made == 1 ? "y" : "ies");
	buf_addc(&res->text, ')');
out:
	if (dirfd >= 0)
		close(dirfd);
	buf_free(&content);
	buf_free(&old);
	free(path);
}

const struct tool tool_write = {
    "write",
    "Write a whole file in the workspace: creates it (and any missing parent "
    "directories) or replaces its entire content. The write is atomic: the file is "
    "either left as it was or holds exactly the new content. An overwritten file keeps "
    "its permissions. For a change to part of an existing file use edit instead; read "
    "a file before overwriting it. Paths are relative to the workspace root; nothing "
    "outside it or under .git can be written. The result says created/overwrote, the "
    "line count and the lines added and removed.",
    "{\"type\":\"object\",\"properties\":{"
    "\"path\":{\"type\":\"string\",\"description\":\"File path relative to the workspace "
    "root, e.g. src/util.c\"},"
    "\"content\":{\"type\":\"string\",\"description\":\"The complete new content of the "
    "file\"}},"
    "\"required\":[\"path\",\"content\"],\"additionalProperties\":false}",
    write_run,
};

/*
 * edit
 */

/* Non-overlapping occurrences of needle (nn > 0) in hay. */
static size_t count_occurrences(const char *hay, size_t hn, const char *needle, size_t nn)
{
	size_t count = 0;
	for (const char *p = hay, *end = hay + hn; (size_t)(end - p) >= nn;) {
		const char *q = memmem(p, (size_t)(end - p), needle, nn);
		if (!q)
			break;
		count++;
		p = q + nn;
	}
	return count;
}

/* hay with every (or the first) occurrence of from replaced by to. */
static void replace_in(struct buf *out, const char *hay, size_t hn, const char *from, size_t fn,
                       const char *to, size_t tn, int all)
{
	const char *p = hay, *end = hay + hn;
	while ((size_t)(end - p) >= fn) {
		const char *q = memmem(p, (size_t)(end - p), from, fn);
		if (!q)
			break;
		buf_add(out, p, (size_t)(q - p));
		buf_add(out, to, tn);
		p = q + fn;
		if (!all)
			break;
	}
	buf_add(out, p, (size_t)(end - p));
}

static void edit_run(struct tool_ctx *ctx, const struct json *j, int obj, struct tool_result *res)
{
	char *path = tool_arg_str(j, obj, "path", 1, res), *from = NULL, *to = NULL;
	struct buf old = BUF_INIT, neu = BUF_INIT;
	int dirfd = -1, all = 0;
	if (!path || !(from = tool_arg_str(j, obj, "old_string", 1, res)) ||
	    !(to = tool_arg_str(j, obj, "new_string", 1, res)))
		goto out;
	int ra = json_get(j, obj, "replace_all");
	if (ra >= 0 && json_type(j, ra) != JSON_NULL && json_bool(j, ra, &all) < 0) {
		tool_fail(res, "argument 'replace_all' must be true or false");
		goto out;
	}
	if (!*from) {
		tool_fail(res, "old_string is empty; give the exact text to replace "
		               "(to create a file use write)");
		goto out;
	}
	if (!strcmp(from, to)) {
		tool_fail(res, "old_string and new_string are the same; nothing to change");
		goto out;
	}
	const char *rel = tool_rel_path(ctx, path), *base;
	int made = 0, exists;
	struct stat st = {0};
	char err[512];
	dirfd = open_holder(ctx, path, rel, 0, &base, &made, res);
	if (dirfd < 0) {
		if (errno == ENOENT)
			tool_fail(res, "'%s' does not exist; use write to create a file", path);
		goto out;
	}
	if (load_current(dirfd, base, path, &exists, &st, &old, EDIT_FILE_MAX, res) < 0)
		goto out;
	if (!exists) {
		tool_fail(res, "'%s' does not exist; use write to create a file", path);
		goto out;
	}
	if ((size_t)st.st_size > EDIT_FILE_MAX) {
		tool_fail(res, "'%s' is too large to edit (%lld bytes)", path,
		          (long long)st.st_size);
		goto out;
	}
	size_t fn = strlen(from), tn = strlen(to);
	size_t n = count_occurrences(old.p ? old.p : "", old.len, from, fn);
	if (n == 0) {
		tool_fail(res,
		          "old_string not found in %s; it must match the file exactly, "
		          "whitespace and indentation included (read the file again)",
		          path);
		goto out;
	}
	if (n > 1 && !all) {
		tool_fail(res,
		          "old_string occurs %zu times in %s; give more context or set "
		          "replace_all",
		          n, path);
		goto out;
	}
	replace_in(&neu, old.p ? old.p : "", old.len, from, fn, to, tn, all);
	if (replace_file(dirfd, base, neu.p ? neu.p : "", neu.len, 1, st.st_mode & 01777, err,
	                 sizeof err) < 0) {
		tool_fail(res, "cannot write '%s': %s", path, err);
		goto out;
	}
	size_t add, del;
	tool_diff_stat(old.p ? old.p : "", old.len, neu.p ? neu.p : "", neu.len, &add, &del);
	buf_addf(&res->text, "edited %s: replaced %zu occurrence%s (+%zu -%zu; %zu lines now)", rel,
	         all ? n : 1, (all ? n : 1) == 1 ? "" : "s", add, del,
	         tool_count_lines(neu.p ? neu.p : "", neu.len));
out:
	if (dirfd >= 0)
		close(dirfd);
	buf_free(&old);
	buf_free(&neu);
	free(path);
	free(from);
	free(to);
}

const struct tool tool_edit = {
    "edit",
    "Replace an exact string in a file of the workspace. old_string must match the "
    "file's text exactly (whitespace and indentation included) and occur exactly once, "
    "unless replace_all is true (then every occurrence is replaced); give enough "
    "surrounding lines to make it unique. Read the file first. new_string must differ "
    "from old_string. The file is rewritten atomically and keeps its permissions. The "
    "result says how many occurrences were replaced and the lines added and removed.",
    "{\"type\":\"object\",\"properties\":{"
    "\"path\":{\"type\":\"string\",\"description\":\"File path relative to the workspace "
    "root\"},"
    "\"old_string\":{\"type\":\"string\",\"description\":\"The exact text to replace\"},"
    "\"new_string\":{\"type\":\"string\",\"description\":\"The text to put in its "
    "place\"},"
    "\"replace_all\":{\"type\":\"boolean\",\"description\":\"Replace every occurrence "
    "(default false)\"}},"
    "\"required\":[\"path\",\"old_string\",\"new_string\"],\"additionalProperties\":false}",
    edit_run,
};
