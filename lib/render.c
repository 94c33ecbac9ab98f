/*
 * render — the terminal view of a conversation (see render.h).
 *
 * Guarantees: every item is written with one write(2) after it is built,
 * so a view interleaved with prompts stays readable; lines of tool calls
 * and events are cut to one terminal-friendly line; nothing here reads
 * the terminal or changes its modes.
 */
#include "render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "markdown.h"
#include "term.h"

#define C_RESET "\033[0m"
#define C_BOLD "\033[1m"
#define C_DIM "\033[2m"
#define C_RED "\033[31m"
#define C_GREEN "\033[32m"
#define C_YELLOW "\033[33m"
#define C_CYAN "\033[36m"

#define ONE_LINE_MAX 110 /* bytes of a tool argument shown on one line */

void render_init(struct render *r, int fd, int color)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->color = color;
	r->t0 = mono_ms();
	r->tests = -1;
	r->width = 80;
}

void render_free(struct render *r)
{
	free(r->agent);
	free(r->pending_id);
	free(r->commit);
	r->agent = r->pending_id = r->commit = NULL;
	md_stream_free(&r->md);
}

static const char *col(const struct render *r, const char *c)
{
	return r->color ? c : "";
}

/* Appends s up to its first newline, cut at max bytes (UTF-8 safe). */
static void add_one_line(struct buf *b, const char *s, size_t max)
{
	if (!s)
		return;
	size_t n = strcspn(s, "\n");
	int cut = n > max || s[n] == '\n';
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	buf_add(b, s, n);
	if (cut)
		buf_adds(b, "…");
}

/* With markdown on: every whole line of b wider than the width wrapped
 * (continued 4 columns in); a line still open (no '\n' yet) is kept. */
static void fit(struct render *r, struct buf *b)
{
	struct buf o = BUF_INIT;
	size_t i = 0;
	while (i < b->len) {
		char *nl = memchr(b->p + i, '\n', b->len - i);
		size_t n = nl ? (size_t)(nl - (b->p + i)) : b->len - i;
		if (nl && term_display_width(b->p + i, n) > (size_t)r->width)
			term_wrap(b->p + i, n, r->width, "", "    ", &o);
		else
			buf_add(&o, b->p + i, n + (nl != NULL));
		i += n + (nl != NULL);
	}
	buf_free(b);
	*b = o;
}

static void flush(struct render *r, struct buf *b)
{
	if (!b->len)
		return;
	if (r->markdown)
		fit(r, b);
	if (write_all(r->fd, b->p, b->len) == 0)
		r->mid_line = b->p[b->len - 1] != '\n';
	buf_reset(b);
}

/* Ends a half-written line (streamed text, a pending "$ cmd"). */
static void end_line(struct render *r, struct buf *b)
{
	if (md_stream_pending(&r->md)) {
		if (r->mid_line || (b->len && b->p[b->len - 1] != '\n'))
			buf_addc(b, '\n'), r->mid_line = 0;
		md_stream_end(&r->md, b);
	}
	r->pending_write = 0;
	if (r->pending_id) {
		free(r->pending_id);
		r->pending_id = NULL;
	}
	if (r->mid_line || (b->len && b->p[b->len - 1] != '\n')) {
		buf_addc(b, '\n');
		r->mid_line = 0;
	}
}

static char *str_field(const struct conv_item *it, const char *key)
{
	return json_get_str(&it->j, 0, key);
}

static void set_agent(struct render *r, const char *agent)
{
	if (agent && (!r->agent || strcmp(r->agent, agent))) {
		free(r->agent);
		r->agent = xstrdup(agent);
		r->streamed = 0;
	}
}

/* n (3..60) heavy horizontal lines. */
static void rule(struct buf *b, int n)
{
	n = n < 3 ? 3 : n > 60 ? 60 : n;
	while (n-- > 0)
		buf_adds(b, "━");
}

static void header(struct render *r, struct buf *b, const struct conv_item *it)
{
	long long attempt = json_get_int(&it->j, 0, "attempt", 1);
	set_agent(r, it->agent ? it->agent : "?");
	r->streamed = 0;
	buf_addf(b, "\n%s%s━━ %s", col(r, C_BOLD), col(r, C_CYAN), r->agent);
	if (attempt > 1)
		buf_addf(b, " (attempt %lld)", attempt);
	buf_addc(b, ' ');
	rule(b, r->width - 5 - (int)strlen(r->agent) - (attempt > 1 ? 12 : 0));
	buf_addf(b, "%s\n", col(r, C_RESET));
}

static void event(struct render *r, struct buf *b, const struct conv_item *it)
{
	char *ev = str_field(it, "event"), *detail = str_field(it, "detail");
	const char *d = detail ? detail : "";
	if (!strcmp(ev, "stage_start")) {
		header(r, b, it);
	} else if (!strcmp(ev, "stage_end")) {
		char *status = str_field(it, "status");
		double secs = (double)json_get_int(&it->j, 0, "duration_ms", 0) / 1000.0;
		int ok = !status || !strcmp(status, "ok");
		buf_addf(b, "%s  %s %s %s", col(r, ok ? C_DIM : C_RED), ok ? "✓" : "✗",
		         it->agent ? it->agent : "stage", ok ? "done" : status);
		long long code = json_get_int(&it->j, 0, "exit_code", 0);
		if (!ok && code)
			buf_addf(b, " (exit %lld)", code);
		buf_addf(b, " in %.1f s%s\n", secs, col(r, C_RESET));
		free(status);
	} else if (!strcmp(ev, "loop")) {
		buf_addf(b, "\n%s%s↺ %s%s\n", col(r, C_BOLD), col(r, C_YELLOW), d, col(r, C_RESET));
	} else if (!strcmp(ev, "retry")) {
		buf_addf(b, "%s  ↻ %s: ", col(r, C_YELLOW), it->agent ? it->agent : "retry");
		add_one_line(b, d, 2 * ONE_LINE_MAX);
		buf_addf(b, "%s\n", col(r, C_RESET));
	} else if (!strcmp(ev, "timeout")) {
		buf_addf(b, "%s  ⏱ %s%s\n", col(r, C_RED), d, col(r, C_RESET));
	} else if (!strcmp(ev, "pause") || !strcmp(ev, "resume")) {
		buf_addf(b, "%s%s %s%s\n", col(r, C_YELLOW), !strcmp(ev, "pause") ? "⏸" : "▶", d,
		         col(r, C_RESET));
	} else {
		buf_addf(b, "%s  · %s %s%s\n", col(r, C_DIM), ev, d, col(r, C_RESET));
	}
	free(ev);
	free(detail);
}

/* Bytes of a tool argument on its line: with markdown on, what leaves
 * room in the width for the mark, the name and a result (" → exit 1",
 * " (+12 −3)"). */
static size_t arg_max(const struct render *r, const char *name)
{
	if (!r->markdown)
		return ONE_LINE_MAX;
	int room = r->width - 24 - (int)strlen(name);
	return room < 16 ? 16 : (size_t)room;
}

static void tool_use(struct render *r, struct buf *b, const struct conv_item *it)
{
	char *name = str_field(it, "name");
	int in = json_get(&it->j, 0, "input");
	const char *arg_key = NULL, *mark = "·";
	if (!strcmp(name, "verdict") || json_get(&it->j, in, "instructions") >= 0) {
		/* the verdict line shows it; --route llm: a stage called as a
		 * tool shows as the manager's message and the stage's header */
		free(name);
		return;
	}
	if (!strcmp(name, "write") || !strcmp(name, "edit"))
		mark = "✎", arg_key = "path";
	else if (!strcmp(name, "read"))
		arg_key = "path";
	else if (!strcmp(name, "glob") || !strcmp(name, "grep"))
		arg_key = "pattern";
	else if (!strcmp(name, "bash"))
		mark = "$", arg_key = "command";
	
	buf_addf(b, "%s  %s %s", col(r, strcmp(mark, "·") ? "" : C_DIM), mark,
	         strcmp(mark, "$") ? name : "");
	char *arg = arg_key ? json_get_str(&it->j, in, arg_key) : NULL;
	if (arg) {
		if (strcmp(mark, "$"))
			buf_addc(b, ' ');
		add_one_line(b, arg, arg_max(r, name));
	} else if (in >= 0) {
		size_t n;
		const char *raw = json_raw(&it->j, in, &n);
		char *s = xstrndup(raw, n);
		buf_addc(b, ' ');
		add_one_line(b, s, arg_max(r, name));
		free(s);
	}
	if ((!strcmp(mark, "$") || !strcmp(mark, "✎")) && it->agent) {
		free(r->pending_id);
		r->pending_id = str_field(it, "id");
		r->pending_write = !strcmp(mark, "✎");
		buf_adds(b, col(r, C_RESET));
	} else {
		buf_addf(b, "%s\n", col(r, strcmp(mark, "·") ? "" : C_RESET));
	}
	free(arg);
	free(name);
}

/* The exit code a bash result reports ("exit code: 2", "exit 2",
 * "exit_code=2"), or -1. */
static long exit_code_of(const char *s)
{
	for (const char *p = s; p && (p = strstr(p, "exit")); p += 4) {
		const char *q = p + 4;
		if (!strncmp(q, " code", 5) || !strncmp(q, "_code", 5))
			q += 5;
		while (*q == ':' || *q == ' ' || *q == '=' || *q == '"')
			q++;
		if (*q >= '0' && *q <= '9')
			return strtol(q, NULL, 10);
		if (p - s > 400)
			break;
	}
	return -1;
}

/* The "+A -D" counts of a write or edit result ("created x (3 lines,
 * +3 -0)", "edited x: replaced 1 occurrence (+4 -3; 40 lines now)").
 * 1 when found. */
static int diff_counts(const char *s, long *add, long *del)
{
	for (const char *p = s; p && (p = strchr(p, '+')); p++) {
		char *end;
		if (p == s || (p[-1] != '(' && p[-1] != ' ') || p[1] < '0' || p[1] > '9')
			continue;
		*add = strtol(p + 1, &end, 10);
		if (end[0] == ' ' && end[1] == '-' && end[2] >= '0' && end[2] <= '9') {
			*del = strtol(end + 2, NULL, 10);
			return 1;
		}
	}
	return 0;
}

static void tool_result(struct render *r, struct buf *b, const struct conv_item *it)
{
	char *id = str_field(it, "tool_use_id"), *content = str_field(it, "content");
	int is_error = json_get_bool(&it->j, 0, "is_error", 0);
	long add, del;
	if (r->pending_id && id && !strcmp(id, r->pending_id) && r->pending_write) {
		if (!is_error && content && diff_counts(content, &add, &del))
			buf_addf(b, " %s(+%ld −%ld)%s", col(r, C_DIM), add, del, col(r, C_RESET));
		buf_addc(b, '\n');
		r->mid_line = 0;
		free(r->pending_id);
		r->pending_id = NULL;
		r->pending_write = 0;
		if (is_error) {
			buf_addf(b, "%s    ✗ ", col(r, C_RED));
			add_one_line(b, content, 2 * ONE_LINE_MAX);
			buf_addf(b, "%s\n", col(r, C_RESET));
		}
	} else if (r->pending_id && id && !strcmp(id, r->pending_id)) {
		long code = exit_code_of(content);
		int bad = is_error || code > 0;
		buf_addf(b, " %s→ ", col(r, bad ? C_RED : C_DIM));
		if (code >= 0)
			buf_addf(b, "exit %ld", code);
		else
			buf_adds(b, is_error ? "error" : "done");
		buf_addf(b, "%s\n", col(r, C_RESET));
		free(r->pending_id);
		r->pending_id = NULL;
	} else if (is_error) {
		end_line(r, b);
		buf_addf(b, "%s    ✗ ", col(r, C_RED));
		add_one_line(b, content, 2 * ONE_LINE_MAX);
		buf_addf(b, "%s\n", col(r, C_RESET));
	}
	free(id);
	free(content);
}

static void verdict(struct render *r, struct buf *b, const struct conv_item *it)
{
	const char *v = it->verdict ? it->verdict : "?";
	int good = !strcmp(v, "approve") || !strcmp(v, "pass");
	if (!strcmp(v, "pass") || !strcmp(v, "fail"))
		r->tests = good;
	buf_addf(b, "%s%s  %s %s: %s%s", col(r, C_BOLD), col(r, good ? C_GREEN : C_RED),
	         good ? "✔" : "✘", it->agent ? it->agent : "verdict", v, col(r, C_RESET));
	if (it->text && *it->text) {
		buf_adds(b, " — ");
		add_one_line(b, it->text, 2 * ONE_LINE_MAX);
	}
	char *cmd = str_field(it, "command");
	int code = json_get(&it->j, 0, "exit_code");
	if (cmd) {
		buf_addf(b, " (%s", cmd);
		if (code >= 0)
			buf_addf(b, " → exit %lld", json_get_int(&it->j, 0, "exit_code", 0));
		buf_addc(b, ')');
	}
	buf_addc(b, '\n');
	free(cmd);
	int f = json_get(&it->j, 0, "findings"), e, i;
	if (f >= 0 && json_type(&it->j, f) == JSON_ARRAY) {
		JSON_ARRAY_EACH(&it->j, f, i, e)
		{
			if (i == 5) {
				buf_addf(b, "    … %d more\n", json_len(&it->j, f) - 5);
				break;
			}
			char *msg = json_type(&it->j, e) == JSON_STRING
			                ? json_str(&it->j, e, NULL)
			                : json_get_str(&it->j, e, "message");
			char *file = json_get_str(&it->j, e, "file");
			long long line = json_get_int(&it->j, e, "line", 0);
			buf_adds(b, "    - ");
			if (file && line)
				buf_addf(b, "%s:%lld: ", file, line);
			else if (file)
				buf_addf(b, "%s: ", file);
			add_one_line(b, msg ? msg : "(finding)", 2 * ONE_LINE_MAX);
			buf_addc(b, '\n');
			free(msg);
			free(file);
		}
	}
}

/* Milliseconds since the epoch of an RFC 3339 UTC time, or -1. */
static int64_t ts_ms(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!end)
		return -1;
	int64_t ms = 0;
	if (*end == '.')
		for (int scale = 100; *++end >= '0' && *end <= '9'; scale /= 10)
			ms += (*end - '0') * scale;
	return (int64_t)timegm(&tm) * 1000 + ms;
}

/* "1,234,567" into out. */
static void thousands(char *out, size_t n, long long v)
{
	char digits[32];
	int len = snprintf(digits, sizeof digits, "%lld", v < 0 ? 0 : v), o = 0;
	for (int i = 0; i < len && o + 2 < (int)n; i++) {
		if (i && (len - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

static void summary(struct render *r, struct buf *b, const struct conv_item *it)
{
	char *status = str_field(it, "status"), *sum = str_field(it, "summary");
	int ok = status && !strcmp(status, "completed");
	int tp = json_get_bool(&it->j, 0, "tests_passed", -1);
	double cost = json_get_num(&it->j, 0, "cost_usd", r->cost_usd);
	int64_t secs = (mono_ms() - r->t0) / 1000;
	char *ts = str_field(it, "ts");
	int64_t first = ts_ms(r->first_ts), last = ts_ms(ts);
	if (first >= 0 && last >= first) /* the run's own time, also on a replay */
		secs = (last - first) / 1000;
	free(ts);
	char in[32], out[32], cr[32];
	thousands(in, sizeof in, r->in_tokens);
	thousands(out, sizeof out, r->out_tokens);
	thousands(cr, sizeof cr, r->cache_read_tokens);
	buf_addf(b, "\n%s━━ result ", col(r, C_BOLD));
	rule(b, r->width - 11);
	buf_addf(b, "%s\n", col(r, C_RESET));
	buf_addf(b, "  status   %s%s%s%s\n", col(r, C_BOLD), col(r, ok ? C_GREEN : C_RED),
	         status ? status : "?", col(r, C_RESET));
	if (sum && *sum) {
		buf_adds(b, "  summary  ");
		add_one_line(b, sum, 2 * ONE_LINE_MAX);
		buf_addc(b, '\n');
	}
	buf_addf(b, "  tests    %s\n",
	         tp == 1         ? "passed"
	         : r->tests == 0 ? "failed"
	                         : "not run or not passed");
	buf_addf(b, "  commit   %s\n", r->commit ? r->commit : "none");
	buf_addf(b, "  tokens   %s in, %s out (%s cache read)\n", in, out, cr);
	buf_addf(b, "  cost     $%.4f\n", cost);
	if (secs >= 60)
		buf_addf(b, "  time     %lld min %lld s\n", (long long)secs / 60,
		         (long long)secs % 60);
	else
		buf_addf(b, "  time     %lld s\n", (long long)secs);
	if (r->session_path)
		buf_addf(b, "  session  %s\n", r->session_path);
	free(status);
	free(sum);
}

void render_item(struct render *r, const struct conv_item *it)
{
	struct buf b = BUF_INIT;
	if (!r->first_ts[0]) {
		char *ts = str_field(it, "ts");
		snprintf(r->first_ts, sizeof r->first_ts, "%s", ts ? ts : "");
		free(ts);
	}
	if (it->type != CONV_DELTA && it->type != CONV_TOOL_RESULT && it->type != CONV_USAGE)
		end_line(r, &b);
	switch (it->type) {
	case CONV_TASK:
		buf_addf(&b, "%s◆ task:%s %s\n", col(r, C_BOLD), col(r, C_RESET),
		         it->text ? it->text : "");
		if (it->session)
			buf_addf(&b, "%s  session %s%s\n", col(r, C_DIM), it->session,
			         col(r, C_RESET));
		break;
	case CONV_EVENT:
		event(r, &b, it);
		break;
	case CONV_DELTA:
		if (r->pending_id || (md_stream_pending(&r->md) && r->agent && it->agent &&
		                      strcmp(r->agent, it->agent)))
			end_line(r, &b);
		set_agent(r, it->agent);
		{
			char *t = str_field(it, "text");
			if (t && r->markdown)
				md_stream_feed(&r->md, t, strlen(t), &b);
			else if (t)
				buf_adds(&b, t);
			free(t);
		}
		r->streamed = 1;
		break;
	case CONV_MESSAGE:
		if (it->agent && !strcmp(it->agent, "user")) {
			buf_addf(&b, "%s» you:%s %s\n", col(r, C_BOLD), col(r, C_RESET), it->text);
		} else if (it->role && !strcmp(it->role, "user")) {
			buf_addf(&b, "%s» %s:%s %s\n", col(r, C_BOLD), it->agent, col(r, C_RESET),
			         it->text);
		} else if (!(r->streamed && r->agent && it->agent &&
		             !strcmp(r->agent, it->agent))) {
			if (r->markdown) {
				md_render(it->text, strlen(it->text), r->width, r->color, &b);
			} else {
				buf_adds(&b, it->text);
				if (!*it->text || it->text[strlen(it->text) - 1] != '\n')
					buf_addc(&b, '\n');
			}
		}
		r->streamed = 0;
		break;
	case CONV_TOOL_USE:
		tool_use(r, &b, it);
		break;
	case CONV_TOOL_RESULT:
		tool_result(r, &b, it);
		break;
	case CONV_VERDICT:
		verdict(r, &b, it);
		break;
	case CONV_COMMIT: {
		char *sha = str_field(it, "sha"), *subject = str_field(it, "subject");
		free(r->commit);
		r->commit = xasprintf("%.12s %s", sha ? sha : "?", subject ? subject : "");
		buf_addf(&b, "%s  ● commit %s%s\n", col(r, C_GREEN), r->commit, col(r, C_RESET));
		free(sha);
		free(subject);
		break;
	}
	case CONV_USAGE:
		r->in_tokens += json_get_int(&it->j, 0, "input_tokens", 0) +
		                json_get_int(&it->j, 0, "cache_creation_input_tokens", 0);
		r->out_tokens += json_get_int(&it->j, 0, "output_tokens", 0);
		r->cache_read_tokens += json_get_int(&it->j, 0, "cache_read_input_tokens", 0);
		r->cost_usd += json_get_num(&it->j, 0, "cost_usd", 0);
		break;
	case CONV_ERROR: {
		char *kind = str_field(it, "kind");
		buf_addf(&b, "%s  ✗ %s: %s: ", col(r, C_RED), it->agent ? it->agent : "error",
		         kind ? kind : "?");
		add_one_line(&b, it->text, 3 * ONE_LINE_MAX);
		buf_addf(&b, "%s\n", col(r, C_RESET));
		free(kind);
		break;
	}
	case CONV_RESULT:
		summary(r, &b, it);
		break;
	case CONV_OTHER:
		break;
	}
	flush(r, &b);
	buf_free(&b);
}

void render_line(struct render *r, const char *line, size_t len)
{
	struct conv c;
	char err[8];
	if (conv_parse(line, len, "line", &c, err, sizeof err) == 0 && c.n == 1)
		render_item(r, &c.items[0]);
	conv_free(&c);
}

void render_set_markdown(struct render *r, int on)
{
	if (on && !r->markdown)
		md_stream_init(&r->md, r->width, r->color);
	r->markdown = on;
}

void render_set_width(struct render *r, int width)
{
	r->width = width > 0 ? width : 80;
	r->md.width = r->width;
}

void render_end(struct render *r)
{
	struct buf b = BUF_INIT;
	end_line(r, &b);
	flush(r, &b);
	buf_free(&b);
}

void render_note(struct render *r, const char *text)
{
	struct buf b = BUF_INIT;
	end_line(r, &b);
	buf_addf(&b, "%s%s%s\n", col(r, C_YELLOW), text, col(r, C_RESET));
	flush(r, &b);
	buf_free(&b);
}
