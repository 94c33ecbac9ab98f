/*
 * mock_script — loads and matches bl-mockd scripts (see mock_script.h).
 * Every field of a reply line is checked here, once, so that a typo in
 * a test's script fails at start-up with its file and line instead of
 * producing a puzzling reply later.
 */
#include "mock_script.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mock_req.h"
#include "util.h"

struct ctx {
	const char *path;
	int line;
	char *err;
	size_t errsz;
	const struct json *j;
};

__attribute__((format(printf, 2, 3))) static int fail(struct ctx *c, const char *fmt, ...)
{
	int n = snprintf(c->err, c->errsz, "%s:%d: ", c->path, c->line);
	va_list ap;
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < c->errsz)
		vsnprintf(c->err + n, c->errsz - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int want_type(struct ctx *c, int t, enum json_type want, const char *what)
{
	if (json_type(c->j, t) == want)
		return 0;
	return fail(c, "'%s' must be a %s, not a %s", what, json_type_name(want),
	            json_type_name(json_type(c->j, t)));
}

static int get_string(struct ctx *c, int t, const char *what, char **out)
{
	if (want_type(c, t, JSON_STRING, what) < 0)
		return -1;
	free(*out);
	*out = json_str(c->j, t, NULL);
	return 0;
}

static int get_count(struct ctx *c, int t, const char *what, long long min, long long *out)
{
	long long v;
	if (json_int(c->j, t, &v) < 0)
		return fail(c, "'%s' must be an integer", what);
	if (v < min)
		return fail(c, "'%s' must be at least %lld", what, min);
	*out = v;
	return 0;
}

static int parse_block(struct ctx *c, int t, struct mock_block *b)
{
	const struct json *j = c->j;
	int i, k;

	if (json_type(j, t) != JSON_OBJECT)
		return fail(c, "each 'content' block must be an object");
	int type = json_get(j, t, "type");
	if (json_streq(j, type, "text"))
		b->type = MOCK_TEXT;
	else if (json_streq(j, type, "tool_use"))
		b->type = MOCK_TOOL_USE;
	else
		return fail(c, "content block 'type' must be \"text\" or \"tool_use\"");

	int have_input = 0;
	JSON_OBJECT_EACH(j, t, i, k)
	{
		int v = k + 1;
		if (json_streq(j, k, "type"))
			continue;
		if (b->type == MOCK_TEXT && json_streq(j, k, "text")) {
			if (want_type(c, v, JSON_STRING, "text") < 0)
				return -1;
			free(b->text);
			b->text = json_str(j, v, &b->text_len);
		} else if (b->type == MOCK_TOOL_USE && json_streq(j, k, "name")) {
			if (get_string(c, v, "name", &b->name) < 0)
				return -1;
		} else if (b->type == MOCK_TOOL_USE && json_streq(j, k, "id")) {
			if (get_string(c, v, "id", &b->id) < 0)
				return -1;
		} else if (b->type == MOCK_TOOL_USE && json_streq(j, k, "input")) {
			if (want_type(c, v, JSON_OBJECT, "input") < 0)
				return -1;
			struct buf in = BUF_INIT;
			mock_canon_buf(&in, j, v, NULL);
			free(b->input);
			b->input = buf_detach(&in, NULL);
			have_input = 1;
		} else {
			char *key = json_str(j, k, NULL);
			int rc = fail(c, "unknown field '%s' in a %s block", key,
			              b->type == MOCK_TEXT ? "text" : "tool_use");
			free(key);
			return rc;
		}
	}
	if (b->type == MOCK_TEXT && !b->text)
		return fail(c, "a text block needs 'text'");
	if (b->type == MOCK_TOOL_USE && !b->name)
		return fail(c, "a tool_use block needs 'name'");
	if (b->type == MOCK_TOOL_USE && !have_input)
		b->input = xstrdup("{}");
	return 0;
}

static int parse_usage(struct ctx *c, int t, struct mock_reply *r)
{
	const struct json *j = c->j;
	int i, k;

	if (want_type(c, t, JSON_OBJECT, "usage") < 0)
		return -1;
	r->has_usage = 1;
	JSON_OBJECT_EACH(j, t, i, k)
	{
		long long *dst;
		if (json_streq(j, k, "input_tokens"))
			dst = &r->input_tokens;
		else if (json_streq(j, k, "output_tokens"))
			dst = &r->output_tokens;
		else if (json_streq(j, k, "cache_creation_input_tokens"))
			dst = &r->cache_creation;
		else if (json_streq(j, k, "cache_read_input_tokens"))
			dst = &r->cache_read;
		else
			return fail(c, "unknown field in 'usage' (input_tokens, output_tokens, "
			               "cache_creation_input_tokens, cache_read_input_tokens)");
		if (get_count(c, k + 1, "usage", 0, dst) < 0)
			return -1;
	}
	return 0;
}

static int parse_error_event(struct ctx *c, int t, struct mock_reply *r)
{
	const struct json *j = c->j;
	int i, k;

	if (want_type(c, t, JSON_OBJECT, "error_event") < 0)
		return -1;
	r->has_error_event = 1;
	JSON_OBJECT_EACH(j, t, i, k)
	{
		if (json_streq(j, k, "type")) {
			if (get_string(c, k + 1, "error_event.type", &r->event_error_type) < 0)
				return -1;
		} else if (json_streq(j, k, "message")) {
			if (get_string(c, k + 1, "error_event.message", &r->event_error_message) <
			    0)
				return -1;
		} else {
			return fail(c, "unknown field in 'error_event' (type, message)");
		}
	}
	if (!r->event_error_type)
		r->event_error_type = xstrdup("overloaded_error");
	if (!r->event_error_message)
		r->event_error_message = xstrdup("Overloaded");
	return 0;
}

static int parse_headers(struct ctx *c, int t, struct mock_reply *r)
{
	const struct json *j = c->j;
	int i, k;

	if (want_type(c, t, JSON_OBJECT, "headers") < 0)
		return -1;
	r->headers = xcalloc((size_t)json_len(j, t) + 1, sizeof *r->headers);
	JSON_OBJECT_EACH(j, t, i, k)
	{
		if (json_type(j, k + 1) != JSON_STRING)
			return fail(c, "each value in 'headers' must be a string");
		struct mock_header *h = &r->headers[r->nheaders++];
		h->name = json_str(j, k, NULL);
		h->value = json_str(j, k + 1, NULL);
		if (!h->name[0] || strpbrk(h->name, ": \r\n") || strpbrk(h->value, "\r\n"))
			return fail(c, "bad header in 'headers'");
	}
	return 0;
}

static int parse_seconds(struct ctx *c, int t, const char *what, long long *ms)
{
	double v;
	if (json_num(c->j, t, &v) < 0 || !isfinite(v) || v < 0 || v > 86400)
		return fail(c, "'%s' must be a number of seconds from 0 to 86400", what);
	*ms = (long long)llround(v * 1000.0);
	return 0;
}

/* One field of a reply line.  k is the key token. */
static int parse_field(struct ctx *c, int k, struct mock_reply *r)
{
	const struct json *j = c->j;
	int v = k + 1, i, e;

	if (json_streq(j, k, "match"))
		return get_string(c, v, "match", &r->match);
	if (json_streq(j, k, "endpoint")) {
		if (json_streq(j, v, "anthropic"))
			r->endpoint = MOCK_ANTHROPIC;
		else if (json_streq(j, v, "openai"))
			r->endpoint = MOCK_OPENAI;
		else
			return fail(c, "'endpoint' must be \"anthropic\" or \"openai\"");
		return 0;
	}
	if (json_streq(j, k, "content")) {
		if (want_type(c, v, JSON_ARRAY, "content") < 0)
			return -1;
		r->blocks = xcalloc((size_t)json_len(j, v) + 1, sizeof *r->blocks);
		JSON_ARRAY_EACH(j, v, i, e)
		{
			if (parse_block(c, e, &r->blocks[r->nblocks++]) < 0)
				return -1;
		}
		return 0;
	}
	if (json_streq(j, k, "stop_reason"))
		return get_string(c, v, "stop_reason", &r->stop_reason);
	if (json_streq(j, k, "model"))
		return get_string(c, v, "model", &r->model);
	if (json_streq(j, k, "usage"))
		return parse_usage(c, v, r);
	if (json_streq(j, k, "status")) {
		long long st;
		if (get_count(c, v, "status", 0, &st) < 0)
			return -1;
		if (st < 400 || st > 599)
			return fail(c, "'status' must be an HTTP error status (400-599)");
		r->status = (int)st;
		return 0;
	}
	if (json_streq(j, k, "error_type"))
		return get_string(c, v, "error_type", &r->error_type);
	if (json_streq(j, k, "error_message"))
		return get_string(c, v, "error_message", &r->error_message);
	if (json_streq(j, k, "retry_after")) {
		long long ms;
		if (parse_seconds(c, v, "retry_after", &ms) < 0)
			return -1;
		size_t n;
		const char *raw = json_raw(j, v, &n);
		free(r->retry_after);
		r->retry_after = xstrndup(raw, n);
		return 0;
	}
	if (json_streq(j, k, "retry_after_ms"))
		return get_count(c, v, "retry_after_ms", 0, &r->retry_after_ms);
	if (json_streq(j, k, "should_retry")) {
		if (json_bool(j, v, &r->should_retry) < 0)
			return fail(c, "'should_retry' must be true or false");
		return 0;
	}
	if (json_streq(j, k, "headers"))
		return parse_headers(c, v, r);
	if (json_streq(j, k, "cut_after"))
		return get_count(c, v, "cut_after", 0, &r->cut_after);
	if (json_streq(j, k, "stall"))
		return parse_seconds(c, v, "stall", &r->stall_ms);
	if (json_streq(j, k, "stall_after"))
		return get_count(c, v, "stall_after", 0, &r->stall_after);
	if (json_streq(j, k, "drip_ms"))
		return get_count(c, v, "drip_ms", 0, &r->drip_ms);
	if (json_streq(j, k, "chunk_bytes"))
		return get_count(c, v, "chunk_bytes", 1, &r->chunk_bytes);
	if (json_streq(j, k, "error_event"))
		return parse_error_event(c, v, r);
	if (json_streq(j, k, "repeat"))
		return get_count(c, v, "repeat", 0, &r->repeat);
	if (json_streq(j, k, "note"))
		return 0;

	char *key = json_str(j, k, NULL);
	int rc = fail(c, "unknown field '%s'", key);
	free(key);
	return rc;
}

static void reply_free(struct mock_reply *r)
{
	for (int i = 0; i < r->nblocks; i++) {
		free(r->blocks[i].text);
		free(r->blocks[i].name);
		free(r->blocks[i].id);
		free(r->blocks[i].input);
	}
	free(r->blocks);
	for (int i = 0; i < r->nheaders; i++) {
		free(r->headers[i].name);
		free(r->headers[i].value);
	}
	free(r->headers);
	free(r->match);
	free(r->stop_reason);
	free(r->model);
	free(r->error_type);
	free(r->error_message);
	free(r->retry_after);
	free(r->event_error_type);
	free(r->event_error_message);
	memset(r, 0, sizeof *r);
}

/* Refuses a key that occurs earlier in the same object. */
static int check_unique(struct ctx *c, int obj, int key)
{
	int i, k;
	JSON_OBJECT_EACH(c->j, obj, i, k)
	{
		if (k == key)
			return 0;
		size_t n;
		char *name = json_str(c->j, key, &n);
		int dup = json_streq(c->j, k, name);
		if (dup)
			fail(c, "duplicate field '%s'", name);
		free(name);
		if (dup)
			return -1;
	}
	return 0;
}

static int parse_line(struct ctx *c, const char *s, size_t n, struct mock_reply *r)
{
	struct json j;
	struct json_error je;
	int i, k, rc = 0;

	memset(r, 0, sizeof *r);
	r->line = c->line;
	r->input_tokens = r->output_tokens = r->cache_creation = r->cache_read = -1;
	r->retry_after_ms = -1;
	r->should_retry = -1;
	r->cut_after = -1;
	r->stall_after = -1;
	r->repeat = 1;

	if (json_parse(&j, s, n, &je) < 0)
		return fail(c, "column %d: %s", je.col, je.msg);
	c->j = &j;
	if (json_type(&j, 0) != JSON_OBJECT) {
		rc = fail(c, "a reply line must be a JSON object");
		goto out;
	}
	JSON_OBJECT_EACH(&j, 0, i, k)
	{
		if ((rc = check_unique(c, 0, k)) < 0 || (rc = parse_field(c, k, r)) < 0)
			goto out;
	}
	if (r->stall_after >= 0 && r->stall_ms == 0)
		rc = fail(c, "'stall_after' needs 'stall'");
out:
	c->j = NULL;
	json_free(&j);
	return rc;
}

int mock_script_load(struct mock_script *s, const char *path, char *err, size_t errsz)
{
	struct buf text = BUF_INIT;
	struct ctx c = {path, 0, err, errsz, NULL};
	int cap = 0;

	memset(s, 0, sizeof *s);
	if (read_file(path, &text) < 0) {
		snprintf(err, errsz, "cannot read '%s': %s", path, strerror(errno));
		buf_free(&text);
		return -1;
	}
	const char *p = text.p ? text.p : "", *end = p + text.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *q = p;
		c.line++;
		while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q < eol && *q != '#') {
			if (s->n == cap) {
				cap = cap ? cap * 2 : 16;
				s->r = xrealloc(s->r, (size_t)cap * sizeof *s->r);
			}
			if (parse_line(&c, p, (size_t)(eol - p), &s->r[s->n]) < 0) {
				reply_free(&s->r[s->n]);
				mock_script_free(s);
				buf_free(&text);
				return -1;
			}
			s->n++;
		}
		p = nl ? nl + 1 : end;
	}
	buf_free(&text);
	return 0;
}

void mock_script_free(struct mock_script *s)
{
	for (int i = 0; i < s->n; i++)
		reply_free(&s->r[i]);
	free(s->r);
	s->r = NULL;
	s->n = 0;
}

int mock_script_take(struct mock_script *s, enum mock_endpoint ep, const char *system)
{
	for (int i = 0; i < s->n; i++) {
		struct mock_reply *r = &s->r[i];
		if (r->repeat > 0 && r->used >= r->repeat)
			continue;
		if (r->endpoint != MOCK_ANY && r->endpoint != ep)
			continue;
		if (r->match && !strstr(system, r->match))
			continue;
		r->used++;
		return i;
	}
	return -1;
}

const char *mock_reply_stop_reason(const struct mock_reply *r)
{
	if (r->stop_reason)
		return r->stop_reason;
	for (int i = 0; i < r->nblocks; i++)
		if (r->blocks[i].type == MOCK_TOOL_USE)
			return "tool_use";
	return "end_turn";
}

const char *mock_status_error_type(int status)
{
	switch (status) {
	case 400:
		return "invalid_request_error";
	case 401:
		return "authentication_error";
	case 403:
		return "permission_error";
	case 404:
		return "not_found_error";
	case 413:
		return "request_too_large";
	case 429:
		return "rate_limit_error";
	case 529:
		return "overloaded_error";
	default:
		return "api_error";
	}
}

const char *mock_reply_error_type(const struct mock_reply *r)
{
	return r->error_type ? r->error_type : mock_status_error_type(r->status);
}
