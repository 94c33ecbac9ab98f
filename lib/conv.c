/*
 * conv — reading, checking, rendering and writing the conversation of
 * DESIGN §2 (JSON Lines, one object per line, append-only).
 *
 * Guarantees: a successful read means every non-blank line is one JSON
 * object with a string "type" and an RFC 3339 "ts", and every line of a
 * known type has its required fields with the right types; the first
 * bad line stops the read with "NAME:LINE:COL: what" (COL in bytes,
 * 1-based) and leaves the struct conv empty.  Blank lines are skipped
 * but counted; a last line without '\n' is accepted.  Unknown types are
 * kept as CONV_OTHER.  A line is written with one write(2) (more only
 * after a short write), so readers see whole lines.
 */
#include "conv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* A single rendered field (tester output) is cut to head + tail. */
#define FIELD_HEAD 4096
#define FIELD_TAIL 12288

static const struct {
	const char *name;
	enum conv_type type;
} type_names[] = {
    {"task", CONV_TASK},         {"message", CONV_MESSAGE},
    {"tool_use", CONV_TOOL_USE}, {"tool_result", CONV_TOOL_RESULT},
    {"verdict", CONV_VERDICT},   {"commit", CONV_COMMIT},
    {"usage", CONV_USAGE},       {"delta", CONV_DELTA},
    {"event", CONV_EVENT},       {"error", CONV_ERROR},
    {"result", CONV_RESULT},
};

/* The state of one line being checked, for error messages. */
struct lctx {
	const char *name;
	struct conv_item *it;
	char *err;
	size_t errlen;
};

static int col_of(const struct lctx *x, int t)
{
	size_t n;
	const char *p = json_raw(&x->it->j, t, &n);
	if (!p || p < x->it->line || p > x->it->line + x->it->len)
		return 1;
	return (int)(p - x->it->line) + 1;
}

static int fail_at(const struct lctx *x, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(const struct lctx *x, int col, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (x->err && x->errlen)
		snprintf(x->err, x->errlen, "%s:%d:%d: %s", x->name, x->it->lineno, col, what);
	return -1;
}

static int is_digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

static int num2(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

/* 1 when s (n bytes) is YYYY-MM-DDTHH:MM:SS[.fff...](Z|±HH:MM) with
 * every field in range (leap years and a leap second allowed). */
static int is_rfc3339(const char *s, size_t n)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (n < 20 || !is_digits(s, 4) || s[4] != '-' || !is_digits(s + 5, 2) || s[7] != '-' ||
	    !is_digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') || !is_digits(s + 11, 2) ||
	    s[13] != ':' || !is_digits(s + 14, 2) || s[16] != ':' || !is_digits(s + 17, 2))
		return 0;
	int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + num2(s + 2);
	int mon = num2(s + 5), day = num2(s + 8);
	if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1])
		return 0;
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (mon == 2 && day == 29 && !leap)
		return 0;
	if (num2(s + 11) > 23 || num2(s + 14) > 59 || num2(s + 17) > 60)
		return 0;
	size_t i = 19;
	if (s[i] == '.') {
		size_t d = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return 0;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z'))
		return i + 1 == n;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		return i + 6 == n && is_digits(s + i + 1, 2) && s[i + 3] == ':' &&
		       is_digits(s + i + 4, 2) && num2(s + i + 1) <= 23 && num2(s + i + 4) <= 59;
	return 0;
}

/* Checks that key exists (when required) and has the wanted type; a
 * JSON_NONE want accepts any type.  Returns the value token, -1 when
 * absent and optional, -2 on error (err filled). */
static int field(const struct lctx *x, const char *key, enum json_type want, int required)
{
	const struct json *j = &x->it->j;
	int v = json_get(j, 0, key);
	if (v < 0) {
		if (required)
			return fail_at(x, col_of(x, 0), "missing \"%s\"", key), -2;
		return -1;
	}
	enum json_type t = json_type(j, v);
	if (want != JSON_NONE && t != want)
		return fail_at(x, col_of(x, v), "\"%s\": expected %s", key, json_type_name(want)),
		       -2;
	return v;
}

/* An optional number; null is accepted too (e.g. cost_usd of an unknown model). */
static int opt_number(const struct lctx *x, const char *key)
{
	const struct json *j = &x->it->j;
	int v = json_get(j, 0, key);
	if (v < 0)
		return 0;
	enum json_type t = json_type(j, v);
	if (t != JSON_NUMBER && t != JSON_NULL)
		return fail_at(x, col_of(x, v), "\"%s\": expected number", key);
	return 0;
}

static char *str_of(const struct json *j, int t)
{
	return t >= 0 ? json_str(j, t, NULL) : NULL;
}

#define REQ(key, ty)                                                                               \
	do {                                                                                       \
		if (field(x, key, ty, 1) < -1)                                                     \
			return -1;                                                                 \
	} while (0)
#define OPT(key, ty)                                                                               \
	do {                                                                                       \
		if (field(x, key, ty, 0) < -1)                                                     \
			return -1;                                                                 \
	} while (0)

/* The per-type field rules of DESIGN §2; fills the decoded fields. */
static int check_fields(const struct lctx *x)
{
	struct conv_item *it = x->it;
	const struct json *j = &it->j;
	int v;

	OPT("agent", JSON_STRING);
	switch (it->type) {
	case CONV_TASK:
		REQ("text", JSON_STRING);
		OPT("session", JSON_STRING);
		OPT("v", JSON_NUMBER);
		it->text = str_of(j, json_get(j, 0, "text"));
		it->session = str_of(j, json_get(j, 0, "session"));
		break;
	case CONV_MESSAGE:
		REQ("agent", JSON_STRING);
		if ((v = field(x, "role", JSON_STRING, 1)) < -1)
			return -1;
		if (!json_streq(j, v, "assistant") && !json_streq(j, v, "user"))
			return fail_at(x, col_of(x, v),
			               "\"role\": expected \"assistant\" or \"user\"");
		REQ("text", JSON_STRING);
		it->role = str_of(j, v);
		it->text = str_of(j, json_get(j, 0, "text"));
		break;
	case CONV_TOOL_USE:
		REQ("id", JSON_STRING);
		REQ("name", JSON_STRING);
		REQ("input", JSON_OBJECT);
		break;
	case CONV_TOOL_RESULT:
		REQ("tool_use_id", JSON_STRING);
		REQ("content", JSON_STRING);
		REQ("is_error", JSON_BOOL);
		break;
	case CONV_VERDICT:
		REQ("agent", JSON_STRING);
		REQ("verdict", JSON_STRING);
		REQ("summary", JSON_STRING);
		OPT("findings", JSON_ARRAY);
		OPT("command", JSON_STRING);
		OPT("output", JSON_STRING);
		if (opt_number(x, "exit_code") < 0)
			return -1;
		it->verdict = str_of(j, json_get(j, 0, "verdict"));
		it->text = str_of(j, json_get(j, 0, "summary"));
		break;
	case CONV_COMMIT:
		REQ("sha", JSON_STRING);
		OPT("subject", JSON_STRING);
		OPT("files", JSON_ARRAY);
		break;
	case CONV_USAGE: {
		static const char *const nums[] = {"input_tokens",
		                                   "output_tokens",
		                                   "cache_creation_input_tokens",
		                                   "cache_read_input_tokens",
		                                   "cost_usd",
		                                   "latency_ms",
		                                   "ttft_ms",
		                                   "attempt"};
		REQ("input_tokens", JSON_NUMBER);
		REQ("output_tokens", JSON_NUMBER);
		for (size_t i = 2; i < sizeof nums / sizeof nums[0]; i++)
			if (opt_number(x, nums[i]) < 0)
				return -1;
		OPT("provider", JSON_STRING);
		OPT("model", JSON_STRING);
		OPT("cached", JSON_BOOL);
		break;
	}
	case CONV_DELTA:
		REQ("text", JSON_STRING);
		break;
	case CONV_EVENT:
		REQ("event", JSON_STRING);
		break;
	case CONV_ERROR:
		REQ("kind", JSON_STRING);
		REQ("message", JSON_STRING);
		OPT("retryable", JSON_BOOL);
		it->text = str_of(j, json_get(j, 0, "message"));
		break;
	case CONV_RESULT:
		REQ("status", JSON_STRING);
		OPT("summary", JSON_STRING);
		break;
	case CONV_OTHER:
		break;
	}
	it->agent = str_of(j, json_get(j, 0, "agent"));
	return 0;
}

static void item_free(struct conv_item *it)
{
	json_free(&it->j);
	free(it->line);
	free(it->agent);
	free(it->text);
	free(it->role);
	free(it->verdict);
	free(it->session);
	memset(it, 0, sizeof *it);
}

/* Parses and checks one non-blank line into it (line/len/lineno set). */
static int parse_line(struct conv_item *it, const char *name, char *err, size_t errlen)
{
	struct lctx x = {name, it, err, errlen};
	struct json_error je;
	memset(&je, 0, sizeof je);
	if (json_parse(&it->j, it->line, it->len, &je) < 0)
		return fail_at(&x, je.col > 0 ? je.col : 1, "%s", je.msg);
	if (json_type(&it->j, 0) != JSON_OBJECT)
		return fail_at(&x, col_of(&x, 0), "expected a JSON object");
	int t = json_get(&it->j, 0, "type");
	if (t < 0 || json_type(&it->j, t) != JSON_STRING)
		return fail_at(&x, col_of(&x, 0), "missing \"type\"");
	int ts = json_get(&it->j, 0, "ts");
	if (ts < 0)
		return fail_at(&x, col_of(&x, 0), "missing \"ts\"");
	size_t n = 0;
	char *s = json_str(&it->j, ts, &n);
	int ok = s && is_rfc3339(s, n);
	free(s);
	if (!ok)
		return fail_at(&x, col_of(&x, ts), "\"ts\": expected an RFC 3339 time");
	it->type = CONV_OTHER;
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (json_streq(&it->j, t, type_names[i].name))
			it->type = type_names[i].type;
	return check_fields(&x);
}

static int blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/* Parses c->raw into items; on error frees everything. */
static int parse_raw(struct conv *c, const char *name, char *err, size_t errlen)
{
	size_t cap = 0;
	const char *p = c->raw.p ? c->raw.p : "", *end = p + c->raw.len;
	int lineno = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		lineno++;
		if (!blank(p, n)) {
			if (c->n == cap) {
				cap = cap ? cap * 2 : 64;
				c->items = xrealloc(c->items, cap * sizeof *c->items);
			}
			struct conv_item *it = &c->items[c->n];
			memset(it, 0, sizeof *it);
			it->lineno = lineno;
			it->line = xstrndup(p, n);
			it->len = n;
			if (parse_line(it, name, err, errlen) < 0) {
				item_free(it);
				conv_free(c);
				return -1;
			}
			c->n++;
		}
		p += n + (nl ? 1 : 0);
	}
	return 0;
}

/* Reads fd to EOF into c (overwritten); c owns the result, conv_free(). */
int conv_read_fd(int fd, const char *name, struct conv *c, char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	if (read_all(fd, &c->raw) < 0) {
		int e = errno;
		if (err && errlen)
			snprintf(err, errlen, "%s: read: %s", name, strerror(e));
		buf_free(&c->raw);
		errno = e;
		return -1;
	}
	return parse_raw(c, name, err, errlen);
}

/* Parses a copy of data into c (overwritten); c owns the result. */
int conv_parse(const char *data, size_t len, const char *name, struct conv *c, char *err,
               size_t errlen)
{
	memset(c, 0, sizeof *c);
	buf_add(&c->raw, data, len);
	return parse_raw(c, name, err, errlen);
}

/* Releases everything c owns and leaves it empty. */
void conv_free(struct conv *c)
{
	for (size_t i = 0; i < c->n; i++)
		item_free(&c->items[i]);
	free(c->items);
	buf_free(&c->raw);
	memset(c, 0, sizeof *c);
}

static const struct conv_item *first_task(const struct conv *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->items[i].type == CONV_TASK)
			return &c->items[i];
	return NULL;
}

/* Borrowed from c: valid until conv_free(). */
const char *conv_task(const struct conv *c)
{
	const struct conv_item *t = first_task(c);
	return t ? t->text : NULL;
}

/* Borrowed from c: valid until conv_free(). */
const char *conv_session(const struct conv *c)
{
	const struct conv_item *t = first_task(c);
	return t ? t->session : NULL;
}

static int is_review(const struct conv_item *it)
{
	return it->verdict &&
	       (!strcmp(it->verdict, "approve") || !strcmp(it->verdict, "changes_requested"));
}

static int is_test(const struct conv_item *it)
{
	return it->verdict && (!strcmp(it->verdict, "pass") || !strcmp(it->verdict, "fail"));
}

/* Appends s, cut to its head and tail when long (at UTF-8 boundaries). */
static void add_capped(struct buf *out, const char *s, size_t n)
{
	if (n <= FIELD_HEAD + FIELD_TAIL) {
		buf_add(out, s, n);
		return;
	}
	size_t h = FIELD_HEAD, t = n - FIELD_TAIL;
	while (h > 0 && ((unsigned char)s[h] & 0xC0) == 0x80)
		h--;
	while (t < n && ((unsigned char)s[t] & 0xC0) == 0x80)
		t++;
	buf_add(out, s, h);
	buf_addf(out, "\n[... %zu bytes omitted ...]\n", t - h);
	buf_add(out, s + t, n - t);
}

static void add_str_field(struct buf *out, const struct json *j, int obj, const char *key)
{
	int v = json_get(j, obj, key);
	if (v >= 0 && json_type(j, v) == JSON_STRING)
		json_str_buf(j, v, out);
}

/* One finding: a string, or an object with file/line/severity/message. */
static void render_finding(struct buf *out, const struct json *j, int f)
{
	buf_adds(out, "- ");
	if (json_type(j, f) == JSON_STRING) {
		json_str_buf(j, f, out);
	} else if (json_type(j, f) == JSON_OBJECT) {
		static const char *const msgs[] = {"message", "text", "description", "issue",
		                                   "comment"};
		int file = json_get(j, f, "file");
		if (file < 0)
			file = json_get(j, f, "path");
		int line = json_get(j, f, "line"), sev = json_get(j, f, "severity"), msg = -1;
		for (size_t i = 0; i < sizeof msgs / sizeof msgs[0] && msg < 0; i++)
			msg = json_get(j, f, msgs[i]);
		if (msg < 0 || json_type(j, msg) != JSON_STRING) {
			size_t n;
			const char *raw = json_raw(j, f, &n);
			buf_add(out, raw, n);
		} else {
			if (file >= 0 && json_type(j, file) == JSON_STRING) {
				json_str_buf(j, file, out);
				if (line >= 0 && json_type(j, line) == JSON_NUMBER) {
					size_t n;
					const char *raw = json_raw(j, line, &n);
					buf_addc(out, ':');
					buf_add(out, raw, n);
				}
				buf_adds(out, ": ");
			}
			if (sev >= 0 && json_type(j, sev) == JSON_STRING) {
				buf_addc(out, '[');
				json_str_buf(j, sev, out);
				buf_adds(out, "] ");
			}
			json_str_buf(j, msg, out);
		}
	} else {
		size_t n;
		const char *raw = json_raw(j, f, &n);
		buf_add(out, raw, n);
	}
	buf_addc(out, '\n');
}

static void render_verdict(struct buf *out, const struct conv_item *it)
{
	const struct json *j = &it->j;
	buf_addf(out, "## %s verdict: %s\n", it->agent ? it->agent : "?", it->verdict);
	buf_adds(out, it->text ? it->text : "");
	buf_addc(out, '\n');
	int f = json_get(j, 0, "findings"), e, i;
	if (f >= 0 && json_len(j, f) > 0) {
		buf_adds(out, "\nFindings:\n");
		JSON_ARRAY_EACH(j, f, i, e)
		render_finding(out, j, e);
	}
	int cmd = json_get(j, 0, "command"), code = json_get(j, 0, "exit_code");
	if (cmd >= 0 && json_type(j, cmd) == JSON_STRING) {
		buf_adds(out, "\nCommand: ");
		add_str_field(out, j, 0, "command");
		buf_addc(out, '\n');
	}
	if (code >= 0 && json_type(j, code) == JSON_NUMBER) {
		size_t n;
		const char *raw = json_raw(j, code, &n);
		buf_adds(out, cmd >= 0 ? "Exit code: " : "\nExit code: ");
		buf_add(out, raw, n);
		buf_addc(out, '\n');
	}
	int o = json_get(j, 0, "output");
	if (o >= 0 && json_type(j, o) == JSON_STRING) {
		struct buf s = BUF_INIT;
		json_str_buf(j, o, &s);
		buf_adds(out, "\nOutput:\n```\n");
		add_capped(out, s.p ? s.p : "", s.len);
		if (s.len && s.p[s.len - 1] != '\n')
			buf_addc(out, '\n');
		buf_adds(out, "```\n");
		buf_free(&s);
	}
}

static void render_item(struct buf *out, const struct conv_item *it)
{
	if (out->len)
		buf_addc(out, '\n');
	switch (it->type) {
	case CONV_TASK:
		buf_adds(out, "## Task\n");
		break;
	case CONV_MESSAGE:
		if (it->agent && !strcmp(it->agent, "user"))
			buf_adds(out, "## user (interjection)\n");
		else
			buf_addf(out, "## %s (message)\n", it->agent);
		break;
	case CONV_VERDICT:
		render_verdict(out, it);
		return;
	default:
		return;
	}
	buf_adds(out, it->text ? it->text : "");
	buf_addc(out, '\n');
}

/*
 * The rendered context is appended to out (caller owns it); c is only
 * read.  max_items <= 0 means no limit.  For role "coder" the latest
 * reviewer verdict when it is changes_requested and the latest tester
 * verdict when it is fail are kept first whatever their age.
 */
int conv_context(const struct conv *c, const char *role, int max_items, struct buf *out)
{
	const struct conv_item *task = first_task(c);
	size_t ncand = 0, budget;
	long pin_review = -1, pin_test = -1, last_review = -1, last_test = -1;
	for (size_t i = 0; i < c->n; i++) {
		const struct conv_item *it = &c->items[i];
		if (it->type == CONV_MESSAGE || it->type == CONV_VERDICT)
			ncand++;
		if (it->type == CONV_VERDICT && is_review(it))
			last_review = (long)i;
		if (it->type == CONV_VERDICT && is_test(it))
			last_test = (long)i;
	}
	if (role && !strcmp(role, "coder")) {
		if (last_review >= 0 && !strcmp(c->items[last_review].verdict, "changes_requested"))
			pin_review = last_review;
		if (last_test >= 0 && !strcmp(c->items[last_test].verdict, "fail"))
			pin_test = last_test;
	}
	if (max_items <= 0)
		budget = ncand;
	else
		budget =
		    (size_t)max_items > (task ? 1u : 0u) ? (size_t)max_items - (task ? 1 : 0) : 0;

	char *keep = xcalloc(c->n ? c->n : 1, 1);
	size_t kept = 0;
	long pins[2] = {pin_review > pin_test ? pin_review : pin_test,
	                pin_review > pin_test ? pin_test : pin_review};
	for (int k = 0; k < 2; k++)
		if (pins[k] >= 0 && kept < budget && !keep[pins[k]])
			keep[pins[k]] = 1, kept++;
	for (size_t i = c->n; i-- > 0 && kept < budget;) {
		const struct conv_item *it = &c->items[i];
		if ((it->type == CONV_MESSAGE || it->type == CONV_VERDICT) && !keep[i])
			keep[i] = 1, kept++;
	}

	int used = 0;
	if (task) {
		render_item(out, task);
		used++;
	}
	for (size_t i = 0; i < c->n; i++)
		if (keep[i]) {
			render_item(out, &c->items[i]);
			used++;
		}
	free(keep);
	return used;
}

/* w writes into b (caller owns b); the line is open until conv_line_end. */
void conv_line_begin(struct jw *w, struct buf *b, const char *type, const char *agent)
{
	char ts[32];
	rfc3339_now(ts);
	jw_init(w, b);
	jw_obj(w);
	jw_kstr(w, "type", type);
	jw_kstr(w, "ts", ts);
	if (agent)
		jw_kstr(w, "agent", agent);
}

/* Closes the object opened by conv_line_begin and ends the line. */
void conv_line_end(struct jw *w)
{
	jw_obj_end(w);
	buf_addc(w->b, '\n');
}

/* line stays the caller's; one write(2), more only after a short write. */
int conv_emit(int fd, const struct buf *line)
{
	return write_all(fd, line->p ? line->p : "", line->len);
}

/* Fills out (caller's storage) with "YYYYMMDD-HHMMSS-xxxxxx". */
void conv_new_session_id(char out[32])
{
	unsigned char r[3];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	ssize_t got;
	do
		got = getrandom(r, sizeof r, 0);
	while (got < 0 && errno == EINTR);
	if (got != (ssize_t)sizeof r) {
		unsigned long x = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 12);
		r[0] = (unsigned char)x, r[1] = (unsigned char)(x >> 8),
		r[2] = (unsigned char)(x >> 16);
	}
	size_t n = strftime(out, 32, "%Y%m%d-%H%M%S", &tm);
	snprintf(out + n, 32 - n, "-%02x%02x%02x", r[0], r[1], r[2]);
}
