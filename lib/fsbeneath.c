/*
 * fsbeneath — workspace-confined opens and walks over openat2(2).  See
 * fsbeneath.h for the guarantees; the kernel does the confinement
 * (RESOLVE_BENEATH), this file only words the refusals and sorts walks.
 */
#include "fsbeneath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

#define WALK_MAX_DEPTH 64

static int sys_openat2(int dirfd, const char *path, int flags, mode_t mode,
                       unsigned long long resolve)
{
	struct open_how how;
	memset(&how, 0, sizeof how);
	how.flags = (unsigned long long)(flags | O_CLOEXEC);
	if (flags & (O_CREAT | O_TMPFILE))
		how.mode = mode;
	how.resolve = resolve;
	/* RESOLVE_BENEATH may fail with EAGAIN when a rename raced with
	 * the lookup; a few retries are what the man page advises. */
	for (int i = 0; i < 8; i++) {
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN && errno != EINTR)
			break;
	}
	return -1;
}

static void path_error(const char *path, int e, char *err, size_t errlen)
{
	if (!err || !errlen)
		return;
	if (e == EXDEV)
		snprintf(err, errlen, "path '%s' is outside the workspace", path);
	else if (e == ELOOP)
		snprintf(err, errlen,
		         "path '%s' is outside the workspace or loops (too many symbolic links)",
		         path);
	else if (e == ENOSYS)
		snprintf(err, errlen, "cannot open '%s': openat2(2) is not available (Linux 5.6+)",
		         path);
	else
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(e));
}

int fsb_open_root(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && err && errlen)
		snprintf(err, errlen, "cannot open workspace '%s': %s", dir, strerror(errno));
	return fd;
}

int fsb_open(int rootfd, const char *path, int flags, mode_t mode, char *err, size_t errlen)
{
	const char *p = path && *path ? path : ".";
	int fd = sys_openat2(rootfd, p, flags, mode, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
	if (fd < 0) {
		int e = errno;
		path_error(path ? path : "", e, err, errlen);
		errno = e;
	}
	return fd;
}

int fsb_open_parent(int rootfd, const char *path, const char **base, char *err, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *b = slash ? slash + 1 : path;
	if (!*b || !strcmp(b, ".") || !strcmp(b, "..")) {
		if (err && errlen)
			snprintf(err, errlen, "path '%s' does not name a file", path);
		errno = EINVAL;
		return -1;
	}
	int fd;
	if (!slash) {
		fd = fsb_open(rootfd, ".", O_PATH | O_DIRECTORY, 0, err, errlen);
	} else {
		/* "/x" has the root directory as its parent: keep the "/" so
		 * the kernel refuses it as absolute. */
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		char *dir = xstrndup(path, n);
		fd = sys_openat2(rootfd, dir, O_PATH | O_DIRECTORY, 0,
		                 RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
		if (fd < 0) {
			int e = errno;
			path_error(path, e, err, errlen);
			errno = e;
		}
		free(dir);
	}
	if (fd >= 0)
		*base = b;
	return fd;
}

int fsb_path_is_inside(const char *path)
{
	if (path[0] == '/')
		return 0;
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += n;
		while (*p == '/')
			p++;
	}
	return 1;
}

struct walk {
	int (*visit)(void *ctx, const struct fsb_entry *e);
	void *ctx;
	volatile int *abort;
	int stopped;
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the names in dirfd (sorted, without ".", ".." and ".git").
 * The caller frees each name and the array. */
static char **list_dir(int dirfd, size_t *n)
{
	*n = 0;
	int fd = dup(dirfd);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return NULL;
	}
	rewinddir(d);
	char **names = NULL;
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, "..") || !strcmp(nm, ".git"))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			names = xrealloc(names, cap * sizeof *names);
		}
		names[(*n)++] = xstrdup(nm);
	}
	closedir(d);
	if (*n)
		qsort(names, *n, sizeof *names, cmp_names);
	return names;
}

static void walk_dir(struct walk *w, int dirfd, const char *prefix, int depth)
{
	size_t n;
	char **names = list_dir(dirfd, &n);
	struct buf path = BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (w->stopped || (w->abort && *w->abort)) {
			w->stopped = 1;
			break;
		}
		struct stat st;
		unsigned char type = DT_UNKNOWN;
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0) {
			if (S_ISDIR(st.st_mode))
				type = DT_DIR;
			else if (S_ISREG(st.st_mode))
				type = DT_REG;
			else if (S_ISLNK(st.st_mode))
				type = DT_LNK;
			else
				type = DT_UNKNOWN;
		}
		buf_reset(&path);
		if (*prefix)
			buf_addf(&path, "%s/", prefix);
		buf_adds(&path, names[i]);
		struct fsb_entry e = {path.p, names[i], dirfd, type};
		int r = w->visit(w->ctx, &e);
		if (r == FSB_STOP) {
			w->stopped = 1;
			break;
		}
		if (r == FSB_SKIP || type != DT_DIR || depth >= WALK_MAX_DEPTH)
			continue;
		int sub =
		    sys_openat2(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0,
		                RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
		if (sub < 0)
			continue;
		walk_dir(w, sub, path.p, depth + 1);
		close(sub);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	buf_free(&path);
}

int fsb_walk(int rootfd, const char *start, int (*visit)(void *ctx, const struct fsb_entry *e),
             void *ctx, volatile int *abort, char *err, size_t errlen)
{
	/* The display prefix: start without "./" and trailing slashes. */
	const char *s = start ? start : "";
	while (s[0] == '.' && s[1] == '/')
		for (s += 2; *s == '/';)
			s++;
	if (!strcmp(s, "."))
		s = "";
	size_t len = strlen(s);
	while (len > 1 && s[len - 1] == '/')
		len--;
	char *prefix = xstrndup(s, len);

	int fd = fsb_open(rootfd, *prefix ? prefix : ".", O_RDONLY | O_DIRECTORY, 0, err, errlen);
	if (fd < 0) {
		free(prefix);
		return -1;
	}
	struct walk w = {visit, ctx, abort, 0};
	walk_dir(&w, fd, prefix, 0);
	close(fd);
	free(prefix);
	return 0;
}
