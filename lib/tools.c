/*
 * tools — the registry, running a tool safely (input checked, result
 * capped), and the helpers tool implementations share: argument access,
 * path handling, binary detection and the glob matcher.  The read-only
 * tools themselves are in tools_read.c.  See tools.h for the contract.
 */
#include "tools.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGISTRY_MAX 32

static const struct tool *registry[REGISTRY_MAX];
static size_t nregistry;

void tools_register(const struct tool *t)
{
	for (size_t i = 0; i < nregistry; i++)
		if (!strcmp(registry[i]->name, t->name)) {
			registry[i] = t;
			return;
		}
	if (nregistry < REGISTRY_MAX)
		registry[nregistry++] = t;
}

const struct tool *tools_find(const char *name)
{
	const struct tool *builtin[] = {&tool_read, &tool_glob, &tool_grep};
	for (size_t i = 0; i < nregistry; i++)
		if (!strcmp(registry[i]->name, name))
			return registry[i];
	for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++)
		if (!strcmp(builtin[i]->name, name))
			return builtin[i];
	return NULL;
}

void tool_fail(struct tool_result *res, const char *fmt, ...)
{
	va_list ap;
	buf_reset(&res->text);
	va_start(ap, fmt);
	buf_vaddf(&res->text, fmt, ap);
	va_end(ap);
	res->is_error = 1;
}

void tools_run(const struct tool *t, struct tool_ctx *ctx, const char *input, size_t len,
               struct tool_result *res)
{
	struct json j = {0};
	struct json_error je;
	if (!input || !len) {
		input = "{}";
		len = 2;
	}
	if (json_parse(&j, input, len, &je) < 0) {
		tool_fail(res, "the input of '%s' is not valid JSON: %s", t->name, je.msg);
	} else if (json_type(&j, 0) != JSON_OBJECT) {
		tool_fail(res, "the input of '%s' must be a JSON object", t->name);
	} else {
		t->run(ctx, &j, 0, res);
		if (!res->text.len)
			buf_adds(&res->text, res->is_error ? "failed" : "(no output)");
	}
	json_free(&j);
	tools_cap(&res->text, TOOL_RESULT_MAX);
}

void tool_result_free(struct tool_result *res)
{
	buf_free(&res->text);
	res->is_error = 0;
}

void tools_describe(const struct tool *t, struct llm_tool *out)
{
	out->name = xstrdup(t->name);
	out->description = xstrdup(t->description);
	out->schema = xstrdup(t->schema);
}

/* Moves i back to the start of a UTF-8 sequence. */
static size_t utf8_back(const char *p, size_t i)
{
	while (i > 0 && ((unsigned char)p[i] & 0xC0) == 0x80)
		i--;
	return i;
}

void tools_cap(struct buf *b, size_t max)
{
	if (b->len <= max || max < 256)
		return;
	char marker[96];
	size_t half = (max - sizeof marker) / 2;
	/* Head: up to half bytes, ending after a newline when one is in
	 * its last quarter, else on a character boundary. */
	size_t head = utf8_back(b->p, half);
	for (size_t i = head; i > half - half / 4; i--)
		if (b->p[i - 1] == '\n') {
			head = i;
			break;
		}
	/* Tail: the last half bytes, starting after a newline when one is
	 * in its first quarter. */
	size_t tail = b->len - half;
	for (size_t i = tail; i < tail + half / 4; i++)
		if (b->p[i] == '\n') {
			tail = i + 1;
			goto found;
		}
	while (tail < b->len && ((unsigned char)b->p[tail] & 0xC0) == 0x80)
		tail++;
found:;
	int m = snprintf(marker, sizeof marker, "%s[... %zu bytes left out ...]\n",
	                 head && b->p[head - 1] == '\n' ? "" : "\n", tail - head);
	memmove(b->p + head + (size_t)m, b->p + tail, b->len - tail);
	memcpy(b->p + head, marker, (size_t)m);
	b->len = head + (size_t)m + (b->len - tail);
	b->p[b->len] = '\0';
}

char *tool_arg_str(const struct json *j, int obj, const char *key, int required,
                   struct tool_result *res)
{
	int t = json_get(j, obj, key);
	if (t < 0 || json_type(j, t) == JSON_NULL) {
		if (required)
			tool_fail(res, "missing required argument '%s'", key);
		return NULL;
	}
	size_t n;
	char *s = json_str(j, t, &n);
	if (!s) {
		tool_fail(res, "argument '%s' must be a string", key);
		return NULL;
	}
	if (strlen(s) != n) {
		tool_fail(res, "argument '%s' holds a NUL byte", key);
		free(s);
		return NULL;
	}
	return s;
}

int tool_arg_int(const struct json *j, int obj, const char *key, long long def, long long min,
                 long long *out, struct tool_result *res)
{
	int t = json_get(j, obj, key);
	*out = def;
	if (t < 0 || json_type(j, t) == JSON_NULL)
		return 0;
	long long v;
	if (json_int(j, t, &v) < 0) {
		/* Models sometimes quote numbers: accept "10". */
		char *s = json_str(j, t, NULL), *end = NULL;
		int ok = s && *s && (v = strtoll(s, &end, 10), *end == '\0');
		free(s);
		if (!ok) {
			tool_fail(res, "argument '%s' must be an integer", key);
			return -1;
		}
	}
	if (v < min) {
		tool_fail(res, "argument '%s' must be at least %lld", key, min);
		return -1;
	}
	*out = v;
	return 0;
}

const char *tool_rel_path(const struct tool_ctx *ctx, const char *path)
{
	const char *r = ctx->root_abs;
	size_t n = r ? strlen(r) : 0;
	while (n > 1 && r[n - 1] == '/')
		n--;
	if (n > 1 && !strncmp(path, r, n) && (path[n] == '/' || path[n] == '\0')) {
		path += n;
		while (*path == '/')
			path++;
		return *path ? path : ".";
	}
	return path;
}

int tool_looks_binary(const char *p, size_t n)
{
	return memchr(p, '\0', n < 8000 ? n : 8000) != NULL;
}

/* Splits s on '/' into segments (empty and "." ones dropped, runs of
 * "**" collapsed) in a copy the caller frees with free(segs[0] base). */
static size_t split_path(char *s, char **segs, size_t max)
{
	size_t n = 0;
	for (char *tok = strtok(s, "/"); tok && n < max; tok = strtok(NULL, "/")) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "**") && n && !strcmp(segs[n - 1], "**"))
			continue;
		segs[n++] = tok;
	}
	return n;
}

static int match_segs(char **ps, size_t np, char **xs, size_t nx, int prefix)
{
	if (np == 0)
		return !prefix && nx == 0;
	if (nx == 0) {
		if (prefix)
			return 1;
		return np == 1 && !strcmp(ps[0], "**");
	}
	if (!strcmp(ps[0], "**"))
		return match_segs(ps + 1, np - 1, xs, nx, prefix) ||
		       match_segs(ps, np, xs + 1, nx - 1, prefix);
	if (fnmatch(ps[0], xs[0], 0) != 0)
		return 0;
	return match_segs(ps + 1, np - 1, xs + 1, nx - 1, prefix);
}

int tool_glob_match(const char *pattern, const char *path, int prefix)
{
	enum { MAXSEG = 128 };
	char *pc = xstrdup(pattern), *xc = xstrdup(path);
	char *ps[MAXSEG], *xs[MAXSEG];
	size_t np = split_path(pc, ps, MAXSEG), nx = split_path(xc, xs, MAXSEG);
	int r = match_segs(ps, np, xs, nx, prefix);
	free(pc);
	free(xc);
	return r;
}
