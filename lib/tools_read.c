/*
 * tools_read — the read-only tools every stage has: read (numbered
 * lines, paged), glob (paths matching a pattern, sorted, capped) and
 * grep (POSIX ERE over files, "file:line:text", capped).  All access goes
 * through fsbeneath, so nothing outside the workspace is ever opened;
 * walks skip ".git" and never follow symlinks; binary files are refused
 * (read) or skipped (grep).  Every outcome is result text (tools.h).
 */
#include "tools.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsbeneath.h"

#define READ_CHUNK (64 * 1024)
#define READ_SCAN_MAX (256LL * 1024 * 1024) /* read: stop counting lines here */
#define GLOB_COLLECT_MAX 100000

/* Opens a file for reading beneath the workspace; a directory or a
 * special file is refused.  -1 with res filled. */
static int open_regular(struct tool_ctx *ctx, const char *path, const char *rel, struct stat *st,
                        struct tool_result *res)
{
	char err[512];
	int fd = fsb_open(ctx->rootfd, rel, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, err, sizeof err);
	if (fd < 0) {
		if (errno == ENOENT)
			tool_fail(res, "'%s' does not exist", path);
		else
			tool_fail(res, "%s", err);
		return -1;
	}
	if (fstat(fd, st) < 0) {
		tool_fail(res, "cannot stat '%s': %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (S_ISDIR(st->st_mode)) {
		tool_fail(res, "'%s' is a directory; use glob to list its files", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		tool_fail(res, "'%s' is not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * read
 */
struct reader {
	long long offset, limit; /* window: lines [offset, offset + limit) */
	long long lineno;        /* line being read, 1-based */
	long long last_shown;    /* last line written to out */
	size_t cur;              /* bytes of the current line so far */
	int stopped;             /* the byte budget ended the window */
	struct buf line;         /* the current line, when in the window */
	struct buf *out;
};

static void reader_end_line(struct reader *r)
{
	if (!r->stopped && r->lineno >= r->offset && r->lineno < r->offset + r->limit) {
		size_t keep = r->line.len;
		if (keep && r->line.p[keep - 1] == '\r')
			keep--;
		int cut = keep > TOOL_READ_LINE_MAX;
		if (cut)
			keep = TOOL_READ_LINE_MAX;
		while (cut && keep && ((unsigned char)r->line.p[keep] & 0xC0) == 0x80)
			keep--;
		if (r->out->len + keep + 64 > TOOL_RESULT_MAX - 512) {
			r->stopped = 1;
		} else {
			buf_addf(r->out, "%6lld\t", r->lineno);
			buf_add(r->out, r->line.p, keep);
			if (cut)
				buf_addf(r->out, " [... line cut; %zu bytes in all]", r->cur);
			buf_addc(r->out, '\n');
			r->last_shown = r->lineno;
		}
	}
	buf_reset(&r->line);
	r->cur = 0;
	r->lineno++;
}

static void reader_feed(struct reader *r, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;
		int in_window =
		    !r->stopped && r->lineno >= r->offset && r->lineno < r->offset + r->limit;
		if (in_window && r->line.len < TOOL_READ_LINE_MAX + 8) {
			size_t room = TOOL_READ_LINE_MAX + 8 - r->line.len;
			buf_add(&r->line, p, seg < room ? seg : room);
		}
		r->cur += seg;
		if (!nl) {
			/* a partial line; it continues in the next chunk */
			return;
		}
		reader_end_line(r);
		p += seg + 1;
		n -= seg + 1;
	}
}

static void read_run(struct tool_ctx *ctx, const struct json *j, int obj, struct tool_result *res)
{
	char *path = tool_arg_str(j, obj, "path", 1, res);
	long long offset, limit;
	if (!path || tool_arg_int(j, obj, "offset", 1, 0, &offset, res) < 0 ||
	    tool_arg_int(j, obj, "limit", TOOL_READ_LINES, 1, &limit, res) < 0) {
		free(path);
		return;
	}
	if (offset == 0)
		offset = 1;
	struct stat st;
	int fd = open_regular(ctx, path, tool_rel_path(ctx, path), &st, res);
	if (fd < 0) {
		free(path);
		return;
	}
	struct reader r = {.offset = offset, .limit = limit, .lineno = 1, .out = &res->text};
	char *chunk = xmalloc(READ_CHUNK);
	long long scanned = 0;
	int first = 1, total_known = 1;
	for (;;) {
		if (ctx->abort && *ctx->abort) {
			tool_fail(res, "interrupted");
			goto out;
		}
		ssize_t n = read(fd, chunk, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			tool_fail(res, "cannot read '%s': %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (first && tool_looks_binary(chunk, (size_t)n)) {
			tool_fail(res,
			          "'%s' is a binary file (%lld bytes); read shows text files only",
			          path, (long long)st.st_size);
			goto out;
		}
		first = 0;
		reader_feed(&r, chunk, (size_t)n);
		scanned += n;
		if (scanned >= READ_SCAN_MAX && (r.stopped || r.lineno >= offset + limit)) {
			total_known = 0;
			break;
		}
	}
	if (total_known && r.cur > 0)
		reader_end_line(&r); /* a last line without '\n' */
	long long total = r.lineno - 1;
	if (total_known && total == 0) {
		buf_addf(&res->text, "(the file '%s' is empty)", path);
	} else if (total_known && offset > total) {
		tool_fail(res, "offset %lld is past the end of '%s' (%lld lines)", offset, path,
		          total);
	} else if (!total_known || r.last_shown < total) {
		long long from = offset, to = r.last_shown;
		if (to < from)
			to = from - 1;
		buf_addf(&res->text, "[lines %lld-%lld of ", from, to);
		if (total_known)
			buf_addf(&res->text, "%lld; %lld more", total, total - to);
		else
			buf_adds(&res->text, "more than that; more");
		buf_addf(&res->text, " lines: call read with offset=%lld to continue]\n", to + 1);
	}
out:
	buf_free(&r.line);
	free(chunk);
	close(fd);
	free(path);
}

const struct tool tool_read = {
    "read",
    "Read a text file in the workspace. Returns its lines numbered like `cat -n` "
    "(line number, tab, text). By default up to 2000 lines from the start; for long "
    "files give offset (1-based first line) and limit (number of lines) to page. "
    "Lines longer than 2000 bytes are cut. Paths are relative to the workspace root.",
    "{\"type\":\"object\",\"properties\":{"
    "\"path\":{\"type\":\"string\",\"description\":\"file path relative to the workspace\"},"
    "\"offset\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"first line to read "
    "(1-based)\"},"
    "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"number of lines to "
    "read (default 2000)\"}},"
    "\"required\":[\"path\"],\"additionalProperties\":false}",
    read_run,
};

/*
 * glob
 */
struct globber {
	const char *pattern;
	char **paths;
	size_t n, cap;
	int full; /* GLOB_COLLECT_MAX reached */
};

static int glob_visit(void *vctx, const struct fsb_entry *e)
{
	struct globber *g = vctx;
	if (tool_glob_match(g->pattern, e->path, 0)) {
		if (g->n == GLOB_COLLECT_MAX) {
			g->full = 1;
			return FSB_STOP;
		}
		if (g->n == g->cap) {
			g->cap = g->cap ? g->cap * 2 : 64;
			g->paths = xrealloc(g->paths, g->cap * sizeof *g->paths);
		}
		g->paths[g->n++] = e->type == DT_DIR ? xasprintf("%s/", e->path) : xstrdup(e->path);
	}
	if (e->type == DT_DIR && !tool_glob_match(g->pattern, e->path, 1))
		return FSB_SKIP;
	return FSB_CONTINUE;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The leading segments of pattern without wildcards: where to start. */
static char *literal_dir(const char *pattern)
{
	size_t end = 0;
	for (size_t i = 0; pattern[i]; i++) {
		if (strchr("*?[\\", pattern[i]))
			break;
		if (pattern[i] == '/')
			end = i;
	}
	return xstrndup(pattern, end);
}

static void glob_run(struct tool_ctx *ctx, const struct json *j, int obj, struct tool_result *res)
{
	char *arg = tool_arg_str(j, obj, "pattern", 1, res);
	if (!arg)
		return;
	const char *pattern = tool_rel_path(ctx, arg);
	while (pattern[0] == '.' && pattern[1] == '/')
		for (pattern += 2; *pattern == '/';)
			pattern++;
	if (!*pattern) {
		tool_fail(res, "empty pattern");
		free(arg);
		return;
	}
	if (!fsb_path_is_inside(pattern)) {
		tool_fail(res, "pattern '%s' is outside the workspace", arg);
		free(arg);
		return;
	}
	struct globber g = {.pattern = pattern};
	char *start = literal_dir(pattern), err[512];
	if (fsb_walk(ctx->rootfd, start, glob_visit, &g, ctx->abort, err, sizeof err) < 0 &&
	    errno != ENOENT && errno != ENOTDIR) {
		tool_fail(res, "%s", err);
		goto out;
	}
	if (ctx->abort && *ctx->abort) {
		tool_fail(res, "interrupted");
		goto out;
	}
	if (!g.n) {
		buf_addf(&res->text, "no files match '%s'", arg);
		goto out;
	}
	qsort(g.paths, g.n, sizeof *g.paths, cmp_str);
	size_t shown = g.n < TOOL_GLOB_MAX ? g.n : TOOL_GLOB_MAX;
	for (size_t i = 0; i < shown; i++)
		buf_addf(&res->text, "%s\n", g.paths[i]);
	if (shown < g.n || g.full)
		buf_addf(&res->text, "[%zu of %s%zu matches shown; narrow the pattern]\n", shown,
		         g.full ? "more than " : "", g.n);
out:
	for (size_t i = 0; i < g.n; i++)
		free(g.paths[i]);
	free(g.paths);
	free(start);
	free(arg);
}

const struct tool tool_glob = {
    "glob",
    "List the files in the workspace whose paths match a glob pattern, sorted, one "
    "per line (directories end in '/'). `*` and `?` match within one path segment, "
    "`[...]` a character class, `**` any number of directories: `**/*.c`, "
    "`src/**/test_*.py`, `*` for the top level. .git is skipped; at most 1000 paths.",
    "{\"type\":\"object\",\"properties\":{"
    "\"pattern\":{\"type\":\"string\",\"description\":\"glob pattern relative to the "
    "workspace, e.g. **/*.c\"}},"
    "\"required\":[\"pattern\"],\"additionalProperties\":false}",
    glob_run,
};

/*
 * grep
 */
struct grepper {
	regex_t re;
	const char *glob; /* file filter or NULL */
	struct buf *out;
	long matches;
	int capped;
	long skipped_binary, skipped_large;
	volatile int *abort;
};

/* Greps one open file; returns FSB_STOP when the caps are reached. */
static int grep_fd(struct grepper *g, int fd, const char *path)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return FSB_CONTINUE;
	if (st.st_size > TOOL_FILE_MAX) {
		g->skipped_large++;
		return FSB_CONTINUE;
	}
	struct buf b = BUF_INIT;
	if (read_all(fd, &b) < 0 || !b.len) {
		buf_free(&b);
		return FSB_CONTINUE;
	}
	if (tool_looks_binary(b.p, b.len)) {
		g->skipped_binary++;
		buf_free(&b);
		return FSB_CONTINUE;
	}
	int r = FSB_CONTINUE;
	long lineno = 0;
	for (char *p = b.p, *end = b.p + b.len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *eol = nl ? nl : end;
		lineno++;
		char saved = *eol;
		*eol = '\0';
		if (regexec(&g->re, p, 0, NULL, 0) == 0) {
			size_t n = (size_t)(eol - p);
			if (n && p[n - 1] == '\r')
				n--;
			int cut = n > TOOL_GREP_LINE_MAX;
			if (cut) {
				n = TOOL_GREP_LINE_MAX;
				while (n && ((unsigned char)p[n] & 0xC0) == 0x80)
					n--;
			}
			if (g->matches >= TOOL_GREP_MAX ||
			    g->out->len + strlen(path) + n + 48 > TOOL_GREP_BYTES) {
				g->capped = 1;
				r = FSB_STOP;
			} else {
				buf_addf(g->out, "%s:%ld:", path, lineno);
				buf_add(g->out, p, n);
				buf_adds(g->out, cut ? " [...]\n" : "\n");
				g->matches++;
			}
		}
		*eol = saved;
		if (r == FSB_STOP)
			break;
		p = eol + 1;
	}
	buf_free(&b);
	return r;
}

static int grep_visit(void *vctx, const struct fsb_entry *e)
{
	struct grepper *g = vctx;
	if (e->type != DT_REG)
		return FSB_CONTINUE; /* directories are walked; symlinks never followed */
	if (g->glob && !tool_glob_match(g->glob, strchr(g->glob, '/') ? e->path : e->name, 0))
		return FSB_CONTINUE;
	int fd =
	    fsb_open(e->dirfd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0, NULL, 0);
	if (fd < 0)
		return FSB_CONTINUE;
	int r = grep_fd(g, fd, e->path);
	close(fd);
	return r;
}

static void grep_run(struct tool_ctx *ctx, const struct json *j, int obj, struct tool_result *res)
{
	char *pattern = tool_arg_str(j, obj, "pattern", 1, res);
	char *path = pattern ? tool_arg_str(j, obj, "path", 0, res) : NULL;
	char *glob = pattern && !res->is_error ? tool_arg_str(j, obj, "glob", 0, res) : NULL;
	int icase = json_get_bool(j, obj, "ignore_case", 0);
	if (!pattern || res->is_error)
		goto out0;
	struct grepper g = {.glob = glob, .out = &res->text, .abort = ctx->abort};
	int rc = regcomp(&g.re, pattern, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
	if (rc != 0) {
		char msg[256];
		regerror(rc, &g.re, msg, sizeof msg);
		tool_fail(res, "bad regular expression '%s': %s", pattern, msg);
		goto out0;
	}
	const char *shown = path ? path : ".";
	const char *rel = tool_rel_path(ctx, shown);
	char err[512];
	int fd = fsb_open(ctx->rootfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY, 0, err, sizeof err);
	struct stat st;
	if (fd < 0) {
		if (errno == ENOENT)
			tool_fail(res, "'%s' does not exist", shown);
		else
			tool_fail(res, "%s", err);
		goto out;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		if (fsb_walk(ctx->rootfd, rel, grep_visit, &g, ctx->abort, err, sizeof err) < 0) {
			tool_fail(res, "%s", err);
			goto out;
		}
	} else {
		while (rel[0] == '.' && rel[1] == '/')
			rel += 2;
		grep_fd(&g, fd, rel);
		close(fd);
	}
	if (ctx->abort && *ctx->abort) {
		tool_fail(res, "interrupted");
		goto out;
	}
	if (!g.matches)
		buf_addf(&res->text, "no matches for '%s'", pattern);
	if (g.capped)
		buf_addf(&res->text,
		         "[output capped at %ld matches; narrow the pattern, path or glob]\n",
		         g.matches);
	if (g.skipped_large)
		buf_addf(&res->text, "%s[%ld files over %d MiB skipped]\n", g.matches ? "" : "\n",
		         g.skipped_large, TOOL_FILE_MAX >> 20);
out:
	regfree(&g.re);
out0:
	free(pattern);
	free(path);
	free(glob);
}

const struct tool tool_grep = {
    "grep",
    "Search file contents with a POSIX extended regular expression (as `grep -E`). "
    "Returns matching lines as `file:line:text`. path: a file or directory to search "
    "(default: the whole workspace); glob: only files whose name matches, e.g. `*.c` "
    "(a pattern with '/' is matched against the whole path, e.g. `src/**/*.h`). "
    ".git, binary files and symlinks are skipped; at most 500 matches.",
    "{\"type\":\"object\",\"properties\":{"
    "\"pattern\":{\"type\":\"string\",\"description\":\"POSIX extended regular "
    "expression\"},"
    "\"path\":{\"type\":\"string\",\"description\":\"file or directory to search "
    "(default .)\"},"
    "\"glob\":{\"type\":\"string\",\"description\":\"file name filter, e.g. *.py\"},"
    "\"ignore_case\":{\"type\":\"boolean\",\"description\":\"match case-insensitively\"}},"
    "\"required\":[\"pattern\"],\"additionalProperties\":false}",
    grep_run,
};
