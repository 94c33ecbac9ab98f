/*
 * fsbeneath — file access confined to a workspace directory (DESIGN §4).
 *
 * Every path a model names is resolved beneath the workspace's directory
 * fd with openat2(2) and RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: "..",
 * absolute paths and symlinks whose target leaves the workspace are
 * refused by the kernel, race-free, and the refusal is turned into one
 * clear message ("path '../x' is outside the workspace").  Symlinks that
 * stay inside are followed.
 *
 * The walker (fsb_walk) visits a tree depth-first in sorted name order,
 * skips ".git", and never follows a symlink: each directory is opened
 * from its parent's fd with RESOLVE_NO_SYMLINKS, so a symlinked directory
 * is reported as an entry but never descended into.
 *
 * Errors: functions return -1 with errno set and, where an err buffer is
 * taken, a message naming the path as the caller gave it.  All fds are
 * O_CLOEXEC and owned by the caller.
 */
#ifndef BL_FSBENEATH_H
#define BL_FSBENEATH_H

#include <stddef.h>
#include <sys/types.h>

/* Opens the workspace directory itself (O_PATH | O_DIRECTORY).  The
 * caller owns the fd.  -1 with err ("cannot open workspace 'd': ..."). */
int fsb_open_root(const char *dir, char *err, size_t errlen);

/* Opens path beneath rootfd with open(2) flags (O_CLOEXEC is added; mode
 * is used with O_CREAT).  "" and "." name the root.  Returns an fd the
 * caller owns, or -1 with errno and err filled:
 *   EXDEV/ELOOP from a path that leaves -> "path 'P' is outside the workspace"
 *   others -> "cannot open 'P': strerror". */
int fsb_open(int rootfd, const char *path, int flags, mode_t mode, char *err, size_t errlen);

/* Opens the directory that would hold path (beneath rootfd, O_PATH |
 * O_DIRECTORY) and points *base at the last component inside path (not
 * copied); for write/rename/mkdir helpers.  A path ending in "/", "."
 * or ".." has no usable last component: -1 (EINVAL).  The caller owns
 * the fd. */
int fsb_open_parent(int rootfd, const char *path, const char **base, char *err, size_t errlen);

/* 1 when path is written as one that stays inside (relative, no ".."
 * component); for checks before any file exists (glob patterns). */
int fsb_path_is_inside(const char *path);

/* One entry of a walk. */
struct fsb_entry {
	const char *path;   /* relative to the root, e.g. "src/a.c" (no "./") */
	const char *name;   /* last component */
	int dirfd;          /* fd of the directory holding it (O_RDONLY) */
	unsigned char type; /* DT_REG, DT_DIR, DT_LNK, ... (lstat-based) */
};

/* What the visitor returns. */
enum { FSB_CONTINUE = 0, FSB_SKIP = 1, FSB_STOP = 2 };

/*
 * Walks the tree under start (a directory path beneath rootfd; "" or
 * "." for the root), calling visit for every entry except "." and ".."
 * and except any entry named ".git", in sorted order, depth-first
 * (a directory is visited before its contents).  visit returns
 * FSB_SKIP to not descend into a directory, FSB_STOP to end the walk.
 * *abort (may be NULL) nonzero ends the walk too.  The entry and its
 * strings and dirfd are lent to visit for the call only.  Directories that
 * cannot be opened are skipped silently.  Returns 0 (also when
 * stopped), or -1 with err when start itself cannot be opened.
 */
int fsb_walk(int rootfd, const char *start, int (*visit)(void *ctx, const struct fsb_entry *e),
             void *ctx, volatile int *abort, char *err, size_t errlen);

#endif
