/*
 * stats — gathering and reporting the figures of bl-stats (see stats.h
 * for the sources, the definitions and the percentile method).
 *
 * Guarantees: every figure is a plain sum, count or nearest-rank
 * percentile of the lines read, so it can be checked with jq over the
 * same lines; one session is held in memory at a time; a bad session
 * file costs its bad lines (counted), never the whole report.
 *
 * The gathering and its two renderings (JSON, table) stay in one file,
 * a little over the usual size, so that each figure is defined once.
 */
#include "stats.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "sessions.h"

void stats_init(struct stats *s, int64_t since_ms)
{
	memset(s, 0, sizeof *s);
	s->since_ms = since_ms;
}

static void row_free(struct stats_row *r)
{
	free(r->agent);
	free(r->model);
	free(r->latency.v);
	free(r->ttft.v);
}

/* Releases everything s gathered. */
void stats_free(struct stats *s)
{
	for (size_t i = 0; i < s->nrows; i++)
		row_free(&s->rows[i]);
	free(s->rows);
	row_free(&s->total);
	for (size_t i = 0; i < s->nkinds; i++)
		free(s->kinds[i].kind);
	free(s->kinds);
	for (size_t i = 0; i < s->nerrors; i++) {
		struct stats_error *e = &s->errors[i];
		free(e->ts);
		free(e->session);
		free(e->agent);
		free(e->kind);
		free(e->message);
	}
	free(s->errors);
	memset(s, 0, sizeof *s);
}

static void series_add(struct stats_series *v, int64_t x)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->v = xrealloc(v->v, v->cap * sizeof *v->v);
	}
	v->v[v->n++] = x;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* The ceil(p/100 * n)-th smallest value; sorts v. */
int64_t stats_percentile(struct stats_series *v, double p)
{
	if (!v->n)
		return -1;
	qsort(v->v, v->n, sizeof *v->v, cmp_i64);
	double r = p / 100.0 * (double)v->n;
	size_t k = (size_t)r;
	if ((double)k < r)
		k++;
	if (k < 1)
		k = 1;
	if (k > v->n)
		k = v->n;
	return v->v[k - 1];
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

/* See stats.h for the accepted forms. */
int stats_parse_time(const char *s, int64_t now_ms, int64_t *out)
{
	size_t n = strlen(s);
	if (n >= 2 && strspn(s, "0123456789") == n - 1 && strchr("smhdw", s[n - 1])) {
		static const int64_t unit[] = {1000, 60000, 3600000, 86400000, 604800000};
		int64_t v = strtoll(s, NULL, 10);
		if (v > 100000000)
			return -1;
		*out = now_ms - v * unit[strchr("smhdw", s[n - 1]) - "smhdw"];
		return 0;
	}
	const char *p = s;
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    digits(&p, 2, &d) < 0)
		return -1;
	int64_t off_ms = 0;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0)
			return -1;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &sec) < 0)
				return -1;
			if (*p == '.') {
				p++;
				int scale = 100;
				if (!isdigit((unsigned char)*p))
					return -1;
				for (; isdigit((unsigned char)*p); p++, scale /= 10)
					ms += (*p - '0') * scale;
			}
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;
			if (digits(&p, 2, &oh) < 0 || *p++ != ':' || digits(&p, 2, &om) < 0 ||
			    oh > 23 || om > 59)
				return -1;
			off_ms = sign * (oh * 3600000LL + om * 60000LL);
		}
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	if (t == (time_t)-1 && y != 1969)
		return -1;
	*out = (int64_t)t * 1000 + ms - off_ms;
	return 0;
}

static struct stats_row *row_for(struct stats *s, const char *agent, const char *model)
{
	for (size_t i = 0; i < s->nrows; i++)
		if (!strcmp(s->rows[i].agent, agent) && !strcmp(s->rows[i].model, model))
			return &s->rows[i];
	s->rows = xrealloc(s->rows, (s->nrows + 1) * sizeof *s->rows);
	struct stats_row *r = &s->rows[s->nrows++];
	memset(r, 0, sizeof *r);
	r->agent = xstrdup(agent);
	r->model = xstrdup(model);
	return r;
}

static void row_add(struct stats_row *r, const struct json *j, int cached)
{
	r->calls++;
	r->cached += cached;
	r->input += json_get_int(j, 0, "input_tokens", 0);
	r->output += json_get_int(j, 0, "output_tokens", 0);
	r->cache_write += json_get_int(j, 0, "cache_creation_input_tokens", 0);
	r->cache_read += json_get_int(j, 0, "cache_read_input_tokens", 0);
	r->cost += json_get_num(j, 0, "cost_usd", 0);
	if (cached)
		return;
	double lat = json_get_num(j, 0, "latency_ms", -1), ttft = json_get_num(j, 0, "ttft_ms", -1);
	if (lat >= 0)
		series_add(&r->latency, (int64_t)lat);
	if (ttft >= 0)
		series_add(&r->ttft, (int64_t)ttft);
}

/* Counts one error of kind; kinds stay sorted by name, so the output does
 * not depend on the order sessions were read in. */
static void add_kind(struct stats *s, const char *kind)
{
	size_t i = 0;
	for (; i < s->nkinds; i++) {
		int c = strcmp(s->kinds[i].kind, kind);
		if (c == 0) {
			s->kinds[i].n++;
			return;
		}
		if (c > 0)
			break;
	}
	s->kinds = xrealloc(s->kinds, (s->nkinds + 1) * sizeof *s->kinds);
	memmove(&s->kinds[i + 1], &s->kinds[i], (s->nkinds - i) * sizeof *s->kinds);
	s->kinds[i].kind = xstrdup(kind);
	s->kinds[i].n = 1;
	s->nkinds++;
}

static int64_t item_ts(const struct conv_item *it)
{
	char *ts = json_get_str(&it->j, 0, "ts");
	int64_t ms = INT64_MIN;
	if (!ts || stats_parse_time(ts, 0, &ms) < 0)
		ms = INT64_MIN;
	free(ts);
	return ms;
}

/* Adds c's usage and error lines at or after s->since_ms. */
void stats_add_conv(struct stats *s, const struct conv *c, const char *session)
{
	int counted = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct conv_item *it = &c->items[i];
		int64_t ts = item_ts(it);
		if (s->since_ms != INT64_MIN && ts < s->since_ms)
			continue;
		counted = 1;
		if (it->type == CONV_USAGE) {
			char *model = json_get_str(&it->j, 0, "model");
			int cached = json_get_bool(&it->j, 0, "cached", 0);
			row_add(row_for(s, it->agent ? it->agent : "", model ? model : ""), &it->j,
			        cached);
			row_add(&s->total, &it->j, cached);
			free(model);
		} else if (it->type == CONV_ERROR) {
			char *kind = json_get_str(&it->j, 0, "kind");
			add_kind(s, kind ? kind : "");
			s->errors = xrealloc(s->errors, (s->nerrors + 1) * sizeof *s->errors);
			struct stats_error *e = &s->errors[s->nerrors++];
			e->ts_ms = ts;
			e->ts = json_get_str(&it->j, 0, "ts");
			e->session = xstrdup(session ? session : "");
			e->agent = xstrdup(it->agent ? it->agent : "");
			e->kind = kind ? kind : xstrdup("");
			e->message = xstrdup(it->text ? it->text : "");
		}
	}
	s->sessions += counted;
}

/* Reads one session file and adds it (see stats.h). */
int stats_add_file(struct stats *s, const char *path, const char *session, char *err, size_t errlen)
{
	struct conv c;
	int bad = sessions_read(path, &c, err, errlen);
	if (bad < 0)
		return -1;
	stats_add_conv(s, &c, session);
	conv_free(&c);
	s->bad_lines += bad;
	return bad;
}

/* ---- reporting ---- */

static double share(const struct stats_row *r)
{
	long long den = r->input + r->cache_read + r->cache_write;
	return den ? (double)r->cache_read / (double)den : -1;
}

static void kint_or_null(struct jw *w, const char *k, int64_t v)
{
	jw_key(w, k);
	if (v < 0)
		jw_null(w);
	else
		jw_int(w, v);
}

static void row_json(struct jw *w, struct stats_row *r)
{
	jw_obj(w);
	if (r->agent) {
		jw_kstr(w, "agent", r->agent);
		jw_kstr(w, "model", r->model);
	}
	jw_kint(w, "calls", r->calls);
	jw_kint(w, "cached", r->cached);
	jw_kint(w, "input_tokens", r->input);
	jw_kint(w, "output_tokens", r->output);
	jw_kint(w, "cache_creation_input_tokens", r->cache_write);
	jw_kint(w, "cache_read_input_tokens", r->cache_read);
	double sh = share(r);
	jw_key(w, "cache_read_share");
	if (sh < 0)
		jw_null(w);
	else
		jw_num(w, sh);
	jw_knum(w, "cost_usd", r->cost);
	kint_or_null(w, "latency_p50_ms", stats_percentile(&r->latency, 50));
	kint_or_null(w, "latency_p95_ms", stats_percentile(&r->latency, 95));
	kint_or_null(w, "ttft_p50_ms", stats_percentile(&r->ttft, 50));
	kint_or_null(w, "ttft_p95_ms", stats_percentile(&r->ttft, 95));
	jw_obj_end(w);
}

static int recent_first(const void *pa, const void *pb)
{
	const struct stats_error *a = *(struct stats_error *const *)pa;
	const struct stats_error *b = *(struct stats_error *const *)pb;
	if (a->ts_ms != b->ts_ms)
		return a->ts_ms > b->ts_ms ? -1 : 1;
	return a > b ? -1 : a < b; /* later in reading order first */
}

/* The errors, most recent first (an array of pointers the caller frees). */
static struct stats_error **sorted_errors(const struct stats *s)
{
	struct stats_error **v = xcalloc(s->nerrors + 1, sizeof *v);
	for (size_t i = 0; i < s->nerrors; i++)
		v[i] = &s->errors[i];
	if (s->nerrors)
		qsort(v, s->nerrors, sizeof *v, recent_first);
	return v;
}

/* Appends the figures as JSON (see bl-stats(1)). */
void stats_json(struct stats *s, size_t recent, struct buf *out)
{
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_kint(&w, "sessions", s->sessions);
	jw_key(&w, "by_agent_model");
	jw_arr(&w);
	for (size_t i = 0; i < s->nrows; i++)
		row_json(&w, &s->rows[i]);
	jw_arr_end(&w);
	jw_key(&w, "total");
	row_json(&w, &s->total);
	jw_key(&w, "errors");
	jw_obj(&w);
	jw_kint(&w, "total", (long long)s->nerrors);
	jw_key(&w, "by_kind");
	jw_obj(&w);
	for (size_t i = 0; i < s->nkinds; i++)
		jw_kint(&w, s->kinds[i].kind, s->kinds[i].n);
	jw_obj_end(&w);
	jw_key(&w, "recent");
	jw_arr(&w);
	struct stats_error **v = sorted_errors(s);
	for (size_t i = 0; i < s->nerrors && i < recent; i++) {
		jw_obj(&w);
		jw_kstr(&w, "ts", v[i]->ts);
		jw_kstr(&w, "session", v[i]->session);
		jw_kstr(&w, "agent", v[i]->agent);
		jw_kstr(&w, "kind", v[i]->kind);
		jw_kstr(&w, "message", v[i]->message);
		jw_obj_end(&w);
	}
	free(v);
	jw_arr_end(&w);
	jw_obj_end(&w);
	jw_key(&w, "cache");
	jw_obj(&w);
	long hits = s->total.cached, misses = s->total.calls - s->total.cached;
	jw_kint(&w, "hits", hits);
	jw_kint(&w, "misses", misses);
	jw_key(&w, "hit_rate");
	if (s->total.calls)
		jw_num(&w, (double)hits / (double)s->total.calls);
	else
		jw_null(&w);
	jw_obj_end(&w);
	jw_kint(&w, "bad_lines", s->bad_lines);
	jw_obj_end(&w);
	buf_addc(out, '\n');
}

static void cell_ms(char *out, size_t n, int64_t v)
{
	if (v < 0)
		snprintf(out, n, "-");
	else
		snprintf(out, n, "%lld", (long long)v);
}

static void table_row(struct buf *out, int aw, int mw, const char *agent, const char *model,
                      struct stats_row *r)
{
	char sh[16], l50[24], l95[24], t50[24], t95[24];
	double x = share(r);
	if (x < 0)
		snprintf(sh, sizeof sh, "-");
	else
		snprintf(sh, sizeof sh, "%.1f%%", 100 * x);
	cell_ms(l50, sizeof l50, stats_percentile(&r->latency, 50));
	cell_ms(l95, sizeof l95, stats_percentile(&r->latency, 95));
	cell_ms(t50, sizeof t50, stats_percentile(&r->ttft, 50));
	cell_ms(t95, sizeof t95, stats_percentile(&r->ttft, 95));
	buf_addf(out, "%-*s  %-*s %6ld %6ld %10lld %9lld %9lld %10lld %7s %10.4f %7s %7s %7s %7s\n",
	         aw, agent, mw, model, r->calls, r->cached, r->input, r->output, r->cache_write,
	         r->cache_read, sh, r->cost, l50, l95, t50, t95);
}

/* Cuts a message to its first line and at most 100 bytes. */
static void add_short(struct buf *out, const char *msg)
{
	size_t n = strcspn(msg, "\n");
	if (n > 100) {
		n = 100;
		while (n && ((unsigned char)msg[n] & 0xC0) == 0x80)
			n--;
	}
	buf_add(out, msg, n);
	if (msg[n])
		buf_adds(out, "...");
}

/* Appends the readable report. */
void stats_table(struct stats *s, size_t recent, struct buf *out)
{
	int aw = 5, mw = 5;
	for (size_t i = 0; i < s->nrows; i++) {
		int a = (int)strlen(s->rows[i].agent), m = (int)strlen(s->rows[i].model);
		aw = a > aw ? a : aw;
		mw = m > mw ? m : mw;
	}
	buf_addf(out, "%ld session%s\n\n", s->sessions, s->sessions == 1 ? "" : "s");
	buf_addf(out, "%-*s  %-*s %6s %6s %10s %9s %9s %10s %7s %10s %7s %7s %7s %7s\n", aw,
	         "AGENT", mw, "MODEL", "CALLS", "CACHED", "INPUT", "OUTPUT", "CACHE_W", "CACHE_R",
	         "CR%", "COST_USD", "P50_MS", "P95_MS", "TTFT50", "TTFT95");
	for (size_t i = 0; i < s->nrows; i++)
		table_row(out, aw, mw, s->rows[i].agent, s->rows[i].model, &s->rows[i]);
	table_row(out, aw, mw, "total", "", &s->total);

	buf_addf(out, "\nerrors: %zu", s->nerrors);
	for (size_t i = 0; i < s->nkinds; i++)
		buf_addf(out, "%s%s %ld", i ? ", " : " (", s->kinds[i].kind, s->kinds[i].n);
	buf_adds(out, s->nkinds ? ")\n" : "\n");
	struct stats_error **v = sorted_errors(s);
	for (size_t i = 0; i < s->nerrors && i < recent; i++) {
		buf_addf(out, "  %s  %s  %s  %s: ", v[i]->ts ? v[i]->ts : "-", v[i]->session,
		         *v[i]->agent ? v[i]->agent : "-", v[i]->kind);
		add_short(out, v[i]->message);
		buf_addc(out, '\n');
	}
	free(v);
	long hits = s->total.cached, misses = s->total.calls - s->total.cached;
	buf_addf(out, "\nresponse cache: %ld hit%s, %ld miss%s", hits, hits == 1 ? "" : "s", misses,
	         misses == 1 ? "" : "es");
	if (s->total.calls)
		buf_addf(out, ", hit rate %.1f%%\n", 100.0 * (double)hits / (double)s->total.calls);
	else
		buf_adds(out, "\n");
	if (s->bad_lines)
		buf_addf(out, "\n%ld unreadable line%s skipped\n", s->bad_lines,
		         s->bad_lines == 1 ? "" : "s");
}
