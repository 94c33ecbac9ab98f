/*
 * test_sse — the SSE parser on hand-made inputs, each fed whole, one
 * byte at a time and in random splits (the events must not depend on the
 * chunking); then the recorded real API streams in ../shared/fixtures
 * decoded through the anthropic and openai stream decoders, fed whole
 * and byte by byte, checked against what the fixtures' README says they
 * decode to; then synthetic streams for the error paths (error events,
 * cut streams, bad JSON, empty tool input).
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "provider.h"
#include "sse.h"
#include "t.h"

/* ---- the parser alone ---- */

struct collect {
	struct buf out;
	int stop_after; /* return 7 after this many events; 0 never */
	int n;
};

/* Each event as "type|data|id;" with newlines in data shown as "\n". */
static int collect_event(void *ctx, const struct sse_event *ev)
{
	struct collect *c = ctx;
	buf_adds(&c->out, ev->event);
	buf_addc(&c->out, '|');
	for (size_t i = 0; i < ev->data_len; i++) {
		if (ev->data[i] == '\n')
			buf_adds(&c->out, "\\n");
		else
			buf_addc(&c->out, ev->data[i]);
	}
	buf_addc(&c->out, '|');
	buf_adds(&c->out, ev->id);
	buf_addc(&c->out, ';');
	c->n++;
	return c->stop_after && c->n >= c->stop_after ? 7 : 0;
}

static unsigned rng = 12345;
static unsigned next_rand(void)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 16) & 0x7fff;
}

/* chunk: 0 whole, 1 byte by byte, else random pieces of 1..chunk bytes. */
static char *parse_all(const char *in, size_t n, size_t chunk, int stop_after, int *rc,
                       long long *retry)
{
	struct collect c = {BUF_INIT, stop_after, 0};
	struct sse p;
	sse_init(&p, collect_event, &c);
	*rc = 0;
	size_t i = 0;
	while (i < n && *rc == 0) {
		size_t k = chunk == 0 ? n : chunk == 1 ? 1 : 1 + next_rand() % chunk;
		if (k > n - i)
			k = n - i;
		*rc = sse_feed(&p, in + i, k);
		i += k;
	}
	if (*rc == 0)
		*rc = sse_finish(&p);
	if (retry)
		*retry = p.retry_ms;
	sse_free(&p);
	buf_addc(&c.out, '\0');
	return buf_detach(&c.out, NULL);
}

struct sse_case {
	const char *name;
	const char *in;
	size_t len; /* 0: strlen */
	const char *want;
};

static const struct sse_case cases[] = {
    {"simple", "data: hello\n\n", 0, "message|hello|;"},
    {"multi-line data", "data: a\ndata: b\ndata: c\n\n", 0, "message|a\\nb\\nc|;"},
    {"CRLF", "event: x\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n", 0, "x|1|;message|2|;"},
    {"CR only", "event: y\rdata: 1\r\rdata: 2\r\r", 0, "y|1|;message|2|;"},
    {"mixed line ends", "data: a\r\ndata: b\rdata: c\n\r\n", 0, "message|a\\nb\\nc|;"},
    {"comments", ": hi\ndata: z\n: in between\n\n: tail\n\n", 0, "message|z|;"},
    {"colon spacing", "data:nospace\n\ndata:  two\n\n", 0, "message|nospace|;message| two|;"},
    {"field without colon", "data\n\n", 0, "message||;"},
    {"empty data line", "data:\n\n", 0, "message||;"},
    {"event without data", "event: foo\n\ndata: x\n\n", 0, "message|x|;"},
    {"id persists", "id: 7\ndata: a\n\ndata: b\nid\n\n", 0, "message|a|7;message|b|;"},
    {"id with NUL ignored", "id: 1\n\nid: a\0b\ndata: d\n\n", 24, "message|d|1;"},
    {"BOM dropped",
     "\xEF\xBB\xBF"
     "data: bom\n\n",
     0, "message|bom|;"},
    {"unknown field", "foo: bar\ndata: q\nevent: e\n\n", 0, "e|q|;"},
    {"last event without blank line", "data: a\n\nevent: end\ndata: last", 0,
     "message|a|;end|last|;"},
    {"last event with one newline", "data: last\n", 0, "message|last|;"},
    {"trailing CR", "data: r\r", 0, "message|r|;"},
    {"blank lines only", "\n\n\r\n\r\r", 0, ""},
    {"colon in value", "data: {\"a\": \"b:c\"}\n\n", 0, "message|{\"a\": \"b:c\"}|;"},
};

static void test_cases(void)
{
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		const struct sse_case *c = &cases[k];
		size_t n = c->len ? c->len : strlen(c->in);
		int rc;
		char *got = parse_all(c->in, n, 0, 0, &rc, NULL);
		T_STREQ(got, c->want, "sse %s: whole", c->name);
		free(got);
		got = parse_all(c->in, n, 1, 0, &rc, NULL);
		T_STREQ(got, c->want, "sse %s: byte by byte", c->name);
		free(got);
		int same = 1;
		for (int seed = 0; seed < 40 && same; seed++) {
			got = parse_all(c->in, n, 2 + (size_t)seed % 7, 0, &rc, NULL);
			same = strcmp(got, c->want) == 0;
			if (!same)
				printf("# seed %d got %s\n", seed, got);
			free(got);
		}
		T_OK(same, "sse %s: 40 random splittings", c->name);
	}
}

static void test_parser_misc(void)
{
	int rc;
	long long retry;
	char *got = parse_all("retry: 3000\ndata: x\n\nretry: 3x\n\n", 32, 1, 0, &rc, &retry);
	T_INTEQ(retry, 3000, "sse retry field: digits kept, junk ignored");
	free(got);

	got = parse_all("data: 1\n\ndata: 2\n\ndata: 3\n\n", 27, 1, 2, &rc, NULL);
	T_INTEQ(rc, 7, "sse: the callback's nonzero result stops the parser");
	T_STREQ(got, "message|1|;message|2|;", "sse: no event after the stop");
	free(got);

	/* A line past the limit fails instead of growing without bound. */
	struct sse p;
	sse_init(&p, NULL, NULL);
	size_t big = 1 << 20;
	char *junk = malloc(big);
	memset(junk, 'x', big);
	int r = 0;
	for (int i = 0; i < 20 && r == 0; i++)
		r = sse_feed(&p, junk, big);
	T_INTEQ(r, -1, "sse: an endless line fails with -1");
	sse_free(&p);
	free(junk);
}

/* ---- decoders on recorded streams ---- */

static char *fixture_dir(void)
{
	const char *src = getenv("BL_SRCDIR");
	return xasprintf("%s/../shared/fixtures", src && *src ? src : BL_SRCDIR);
}

static int read_fixture(const char *name, struct buf *b)
{
	char *dir = fixture_dir();
	char *path = xasprintf("%s/%s", dir, name);
	int rc = read_file(path, b);
	if (rc != 0)
		printf("# cannot read %s\n", path);
	free(path);
	free(dir);
	return rc;
}

struct hooked {
	struct buf text;
	int calls;
};

static void on_text(void *ctx, const char *s, size_t n)
{
	struct hooked *h = ctx;
	buf_add(&h->text, s, n);
	h->calls++;
}

/* Decodes bytes through prov, whole (bytewise 0) or one byte at a time. */
static int decode(const struct llm_provider *prov, const char *s, size_t n, int bytewise,
                  struct llm_response *resp, struct llm_error *err, struct hooked *h)
{
	struct llm_hooks hooks = {.ctx = h, .on_text = on_text};
	struct llm_stream st;
	memset(resp, 0, sizeof *resp);
	llm_stream_init(&st, prov, resp, &hooks);
	if (bytewise)
		for (size_t i = 0; i < n; i++)
			llm_stream_feed(&st, s + i, 1);
	else
		llm_stream_feed(&st, s, n);
	int rc = llm_stream_finish(&st, err);
	llm_stream_free(&st);
	return rc;
}

/* 1 when the two JSON texts hold equal values (object key order aside). */
static int json_equal_at(const struct json *a, int ta, const struct json *b, int tb)
{
	enum json_type t = json_type(a, ta);
	if (t != json_type(b, tb))
		return 0;
	if (t == JSON_STRING) {
		size_t na, nb;
		char *sa = json_str(a, ta, &na), *sb = json_str(b, tb, &nb);
		int eq = na == nb && memcmp(sa, sb, na) == 0;
		free(sa);
		free(sb);
		return eq;
	}
	if (t == JSON_ARRAY) {
		if (json_len(a, ta) != json_len(b, tb))
			return 0;
		for (int i = 0; i < json_len(a, ta); i++)
			if (!json_equal_at(a, json_at(a, ta, i), b, json_at(b, tb, i)))
				return 0;
		return 1;
	}
	if (t == JSON_OBJECT) {
		if (json_len(a, ta) != json_len(b, tb))
			return 0;
		int i, k;
		JSON_OBJECT_EACH(a, ta, i, k)
		{
			char *key = json_str(a, k, NULL);
			int v = json_get(b, tb, key);
			free(key);
			if (v < 0 || !json_equal_at(a, k + 1, b, v))
				return 0;
		}
		return 1;
	}
	size_t na, nb;
	const char *ra = json_raw(a, ta, &na), *rb = json_raw(b, tb, &nb);
	return na == nb && memcmp(ra, rb, na) == 0;
}

static int json_equal(const char *x, const char *y)
{
	struct json a, b;
	if (!x || !y || json_parse(&a, x, strlen(x), NULL) != 0)
		return 0;
	if (json_parse(&b, y, strlen(y), NULL) != 0) {
		json_free(&a);
		return 0;
	}
	int eq = json_equal_at(&a, 0, &b, 0);
	json_free(&a);
	json_free(&b);
	return eq;
}

static const char *mode_name(int bytewise)
{
	return bytewise ? "byte by byte" : "whole";
}

static void test_anthropic_tool_use(void)
{
	struct buf f = BUF_INIT;
	int ok = read_fixture("anthropic-sdk-python__streaming__tool_use_response.sse", &f) == 0;
	T_OK(ok, "fixture tool_use_response.sse readable");
	if (!ok)
		return;
	for (int bw = 0; bw <= 1; bw++) {
		struct llm_response r;
		struct llm_error e;
		struct hooked h = {BUF_INIT, 0};
		const char *m = mode_name(bw);
		int rc = decode(&llm_provider_anthropic, f.p, f.len, bw, &r, &e, &h);
		T_INTEQ(rc, 0, "anthropic tool_use (%s): decodes", m);
		if (rc)
			printf("# %s\n", e.message);
		T_STREQ(r.stop_reason, "tool_use", "anthropic tool_use (%s): stop_reason", m);
		T_STREQ(r.text.p, "I'll check the current weather in Paris for you.",
		        "anthropic tool_use (%s): text", m);
		T_STREQ(h.text.p, r.text.p, "anthropic tool_use (%s): on_text saw the same text",
		        m);
		T_INTEQ(h.calls, 2, "anthropic tool_use (%s): one on_text per text delta", m);
		T_INTEQ(r.ncalls, 1, "anthropic tool_use (%s): one tool call", m);
		if (r.ncalls == 1) {
			T_STREQ(r.calls[0].name, "get_weather", "anthropic tool_use (%s): name", m);
			T_STREQ(r.calls[0].id, "toolu_01NRLabsLyVHZPKxbKvkfSMn",
			        "anthropic tool_use (%s): id", m);
			T_OK(json_equal(r.calls[0].input, "{\"location\":\"Paris\"}"),
			     "anthropic tool_use (%s): input {\"location\":\"Paris\"}", m);
		}
		T_INTEQ(r.usage.output_tokens, 65, "anthropic tool_use (%s): output_tokens", m);
		T_INTEQ(r.usage.input_tokens, 377, "anthropic tool_use (%s): input_tokens", m);
		T_STREQ(r.id, "msg_019Q1hrJbZG26Fb9BQhrkHEr", "anthropic tool_use (%s): id", m);
		T_STREQ(r.model, "claude-sonnet-4-20250514", "anthropic tool_use (%s): model", m);
		T_OK(r.ttft_ms >= 0, "anthropic tool_use (%s): ttft measured", m);
		llm_response_free(&r);
		buf_free(&h.text);
	}
	/* The same stream cut anywhere before message_stop is a retryable cut. */
	const char *stop = strstr(f.p, "event: message_stop");
	int all_cut = 1;
	for (size_t cut = 0; stop && cut < (size_t)(stop - f.p); cut += 97) {
		struct llm_response r;
		struct llm_error e;
		struct hooked h = {BUF_INIT, 0};
		int rc = decode(&llm_provider_anthropic, f.p, cut, 0, &r, &e, &h);
		if (rc != -1 || e.kind != LLM_ERR_API || !e.retryable ||
		    !strstr(e.message, "message_stop")) {
			printf("# cut at %zu: rc %d kind %d: %s\n", cut, rc, e.kind, e.message);
			all_cut = 0;
		}
		llm_response_free(&r);
		buf_free(&h.text);
	}
	T_OK(stop && all_cut, "anthropic: every cut before message_stop is a retryable api error");
	buf_free(&f);
}

static void test_anthropic_incomplete(void)
{
	struct buf f = BUF_INIT;
	int ok =
	    read_fixture("anthropic-sdk-python__streaming__incomplete_partial_json_response.sse",
	                 &f) == 0;
	T_OK(ok, "fixture incomplete_partial_json_response.sse readable");
	if (!ok)
		return;
	for (int bw = 0; bw <= 1; bw++) {
		struct llm_response r;
		struct llm_error e;
		struct hooked h = {BUF_INIT, 0};
		const char *m = mode_name(bw);
		int rc = decode(&llm_provider_anthropic, f.p, f.len, bw, &r, &e, &h);
		T_INTEQ(rc, -1, "anthropic incomplete (%s): an error", m);
		T_INTEQ(e.kind, LLM_ERR_PROTOCOL, "anthropic incomplete (%s): kind protocol", m);
		T_INTEQ(e.retryable, 0, "anthropic incomplete (%s): not retried", m);
		T_OK(strstr(e.message, "tool_use 'make_file': input is not valid JSON") &&
		         strstr(e.message, "max_tokens"),
		     "anthropic incomplete (%s): message names the tool and max_tokens: %.200s", m,
		     e.message);
		T_STREQ(r.stop_reason, "max_tokens", "anthropic incomplete (%s): stop_reason", m);
		llm_response_free(&r);
		buf_free(&h.text);
	}
	buf_free(&f);
}

static void test_anthropic_refusal(void)
{
	struct buf f = BUF_INIT;
	int ok =
	    read_fixture(
	        "anthropic-sdk-python__fable-fallback__stream-a-refusal_thinking_signature.sse",
	        &f) == 0;
	T_OK(ok, "fixture stream-a-refusal.sse readable");
	if (!ok)
		return;
	for (int bw = 0; bw <= 1; bw++) {
		struct llm_response r;
		struct llm_error e;
		struct hooked h = {BUF_INIT, 0};
		const char *m = mode_name(bw);
		int rc = decode(&llm_provider_anthropic, f.p, f.len, bw, &r, &e, &h);
		T_INTEQ(rc, 0, "anthropic refusal (%s): decodes", m);
		T_STREQ(r.stop_reason, "refusal", "anthropic refusal (%s): stop_reason", m);
		T_STREQ(r.text.p, "Hi", "anthropic refusal (%s): text (thinking passed over)", m);
		T_INTEQ(r.ncalls, 0, "anthropic refusal (%s): no tool call", m);
		T_INTEQ(r.usage.output_tokens, 106, "anthropic refusal (%s): output_tokens", m);
		llm_response_free(&r);
		buf_free(&h.text);
	}
	buf_free(&f);
}

static void test_anthropic_roundtrip(void)
{
	struct buf f = BUF_INIT;
	int ok = read_fixture(
	             "anthropic-sdk-python__tool-runner-recorded__streaming_tool_roundtrip.json",
	             &f) == 0;
	T_OK(ok, "fixture streaming_tool_roundtrip.json readable");
	if (!ok)
		return;
	struct json j;
	ok = json_parse(&j, f.p, f.len, NULL) == 0 && json_len(&j, 0) == 2;
	T_OK(ok, "roundtrip: two recorded exchanges");
	if (!ok) {
		buf_free(&f);
		return;
	}
	for (int turn = 0; turn < 2; turn++) {
		size_t n;
		char *body = json_str(
		    &j, json_get(&j, json_get(&j, json_at(&j, 0, turn), "response"), "body"), &n);
		for (int bw = 0; bw <= 1; bw++) {
			struct llm_response r;
			struct llm_error e;
			struct hooked h = {BUF_INIT, 0};
			const char *m = mode_name(bw);
			int rc = decode(&llm_provider_anthropic, body ? body : "", body ? n : 0, bw,
			                &r, &e, &h);
			T_INTEQ(rc, 0, "roundtrip response %d (%s): decodes", turn + 1, m);
			if (turn == 0) {
				T_STREQ(r.stop_reason, "tool_use", "roundtrip 1 (%s): stop", m);
				T_OK(
				    r.ncalls == 1 &&
				        json_equal(
				            r.calls[0].input,
				            "{\"location\":\"San Francisco, CA\",\"units\":\"f\"}"),
				    "roundtrip 1 (%s): input", m);
				T_OK(r.ncalls == 1 && strcmp(r.calls[0].id,
				                             "toolu_01TJoxvFknVdnV9XpWFPaRmY") == 0,
				     "roundtrip 1 (%s): tool id", m);
			} else {
				T_STREQ(r.stop_reason, "end_turn", "roundtrip 2 (%s): stop", m);
				const char *want = "The weather in San Francisco, CA is currently "
				                   "**68\xC2\xB0"
				                   "F and Sunny**.";
				T_OK(r.text.p && strncmp(r.text.p, want, strlen(want)) == 0,
				     "roundtrip 2 (%s): text starts as recorded", m);
				T_INTEQ(r.usage.input_tokens, 770, "roundtrip 2 (%s): input tokens",
				        m);
				T_INTEQ(r.usage.output_tokens, 27,
				        "roundtrip 2 (%s): output tokens", m);
			}
			llm_response_free(&r);
			buf_free(&h.text);
		}
		free(body);
	}
	json_free(&j);
	buf_free(&f);
}

static void test_openai_fixtures(void)
{
	static const struct {
		const char *file, *what;
		int ncalls;
		const char *id0, *name0, *in0, *name1, *in1;
		long long in, out;
	} fx[] = {
	    {"openai-python__chat-stream__single_tool_call_with_usage_and_DONE.sse", "single", 1,
	     "call_CTf1nWJLqSeRgDqaCG27xZ74", "get_weather",
	     "{\"city\":\"San Francisco\",\"state\":\"CA\"}", NULL, NULL, 48, 19},
	    {"openai-python__chat-stream__parallel_tool_calls_with_usage_and_DONE.sse", "parallel",
	     2, "call_JMW1whyEaYG438VE1OIflxA2", "GetWeatherArgs",
	     "{\"city\":\"Edinburgh\",\"country\":\"GB\",\"units\":\"c\"}", "get_stock_price",
	     "{\"ticker\":\"AAPL\",\"exchange\":\"NASDAQ\"}", 149, 60},
	};
	for (size_t k = 0; k < sizeof fx / sizeof *fx; k++) {
		struct buf f = BUF_INIT;
		int ok = read_fixture(fx[k].file, &f) == 0;
		T_OK(ok, "fixture openai %s readable", fx[k].what);
		if (!ok)
			continue;
		for (int bw = 0; bw <= 1; bw++) {
			struct llm_response r;
			struct llm_error e;
			struct hooked h = {BUF_INIT, 0};
			const char *m = mode_name(bw);
			const char *w = fx[k].what;
			int rc = decode(&llm_provider_openai, f.p, f.len, bw, &r, &e, &h);
			T_INTEQ(rc, 0, "openai %s (%s): decodes", w, m);
			if (rc)
				printf("# %s\n", e.message);
			T_STREQ(r.stop_reason, "tool_use", "openai %s (%s): tool_calls -> tool_use",
			        w, m);
			T_INTEQ(r.ncalls, fx[k].ncalls, "openai %s (%s): calls", w, m);
			if (r.ncalls >= 1) {
				T_STREQ(r.calls[0].id, fx[k].id0, "openai %s (%s): call 0 id", w,
				        m);
				T_STREQ(r.calls[0].name, fx[k].name0, "openai %s (%s): call 0 name",
				        w, m);
				T_OK(json_equal(r.calls[0].input, fx[k].in0),
				     "openai %s (%s): call 0 input", w, m);
			}
			if (fx[k].ncalls == 2 && r.ncalls == 2) {
				T_STREQ(r.calls[1].name, fx[k].name1, "openai %s (%s): call 1 name",
				        w, m);
				T_OK(json_equal(r.calls[1].input, fx[k].in1),
				     "openai %s (%s): call 1 input", w, m);
			}
			T_INTEQ(r.usage.input_tokens, fx[k].in, "openai %s (%s): prompt tokens", w,
			        m);
			T_INTEQ(r.usage.output_tokens, fx[k].out,
			        "openai %s (%s): completion tokens", w, m);
			T_STREQ(r.model, "gpt-4o-2024-08-06", "openai %s (%s): model", w, m);
			llm_response_free(&r);
			buf_free(&h.text);
		}
		/* Cut before finish_reason: a retryable cut. */
		const char *fin = strstr(f.p, "\"finish_reason\":\"tool_calls\"");
		if (fin) {
			const char *line = fin;
			while (line > f.p && line[-1] != '\n')
				line--;
			struct llm_response r;
			struct llm_error e;
			struct hooked h = {BUF_INIT, 0};
			int rc =
			    decode(&llm_provider_openai, f.p, (size_t)(line - f.p), 0, &r, &e, &h);
			T_OK(rc == -1 && e.kind == LLM_ERR_API && e.retryable,
			     "openai %s: cut before finish_reason is a retryable api error",
			     fx[k].what);
			llm_response_free(&r);
			buf_free(&h.text);
		}
		buf_free(&f);
	}
}

/* ---- synthetic streams: error paths ---- */

static int decode_str(const struct llm_provider *p, const char *s, struct llm_response *r,
                      struct llm_error *e)
{
	struct hooked h = {BUF_INIT, 0};
	int rc = decode(p, s, strlen(s), 1, r, e, &h);
	buf_free(&h.text);
	return rc;
}

#define A_START                                                                                    \
	"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\","      \
	"\"model\":\"x\",\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":90,"           \
	"\"cache_creation_input_tokens\":5,\"output_tokens\":1}}}\n\n"
#define A_STOP "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

static void test_synthetic(void)
{
	struct llm_response r;
	struct llm_error e;
	int rc;

	rc = decode_str(&llm_provider_anthropic,
	                A_START "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
	                        "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
	                &r, &e);
	T_OK(rc == -1 && e.kind == LLM_ERR_API && e.retryable &&
	         strcmp(e.type, "overloaded_error") == 0 && strstr(e.message, "Overloaded"),
	     "anthropic error event overloaded_error: retryable api error: %.200s", e.message);
	llm_response_free(&r);

	rc = decode_str(&llm_provider_anthropic,
	                A_START "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
	                        "\"invalid_request_error\",\"message\":\"bad\"}}\n\n",
	                &r, &e);
	T_OK(rc == -1 && !e.retryable, "anthropic error event invalid_request_error: not retried");
	llm_response_free(&r);

	rc = decode_str(
	    &llm_provider_anthropic,
	    A_START "event: content_block_start\ndata: {\"type\":\"content_block_start\","
	            "\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":"
	            "\"glob\",\"input\":{}}}\n\nevent: content_block_delta\ndata: {\"type\":"
	            "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
	            "\"partial_json\":\"\"}}\n\nevent: content_block_stop\ndata: {\"type\":"
	            "\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":"
	            "\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{"
	            "\"output_tokens\":3}}\n\n" A_STOP,
	    &r, &e);
	T_OK(rc == 0 && r.ncalls == 1 && json_equal(r.calls[0].input, "{}"),
	     "anthropic: an empty tool input is {}");
	T_OK(r.usage.cache_read_input_tokens == 90 && r.usage.cache_creation_input_tokens == 5 &&
	         r.usage.input_tokens == 10 && r.usage.output_tokens == 3,
	     "anthropic: cache usage from message_start, output_tokens from message_delta");
	llm_response_free(&r);

	rc = decode_str(&llm_provider_anthropic, A_START "event: ping\ndata: {oops\n\n" A_STOP, &r,
	                &e);
	T_OK(rc == -1 && e.kind == LLM_ERR_PROTOCOL && !e.retryable,
	     "anthropic: an event with invalid JSON is a protocol error: %.200s", e.message);
	llm_response_free(&r);

	rc = decode_str(&llm_provider_anthropic,
	                A_START
	                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
	                "\"index\":4,\"delta\":{\"type\":\"text_delta\",\"text\":\"x\"}}\n\n",
	                &r, &e);
	T_OK(rc == -1 && e.kind == LLM_ERR_PROTOCOL, "anthropic: a delta for an unknown block");
	llm_response_free(&r);

	rc = decode_str(&llm_provider_anthropic, "", &r, &e);
	T_OK(rc == -1 && e.retryable, "anthropic: an empty stream is a retryable cut");
	llm_response_free(&r);

	rc = decode_str(&llm_provider_anthropic,
	                A_START "event: future_event\ndata: {\"type\":\"future_event\"}\n\n" A_STOP,
	                &r, &e);
	T_OK(rc == 0, "anthropic: unknown event types are ignored");
	llm_response_free(&r);

	rc = decode_str(
	    &llm_provider_openai,
	    "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
	    "data: {\"choices\":[{\"delta\":{\"content\":\"lo\"},\"finish_reason\":"
	    "\"stop\"}]}\n\ndata: {\"choices\":[],\"usage\":{\"prompt_tokens\":100,"
	    "\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_tokens\":80}}}\n\n",
	    &r, &e);
	T_OK(rc == 0 && strcmp(r.text.p, "Hello") == 0 && strcmp(r.stop_reason, "end_turn") == 0,
	     "openai: text, finish stop -> end_turn, no [DONE] needed after finish_reason");
	T_OK(r.usage.input_tokens == 20 && r.usage.cache_read_input_tokens == 80 &&
	         r.usage.output_tokens == 5,
	     "openai: cached_tokens -> cache_read_input_tokens, input = prompt - cached");
	llm_response_free(&r);

	rc = decode_str(&llm_provider_openai,
	                "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":"
	                "\"length\"}]}\n\ndata: [DONE]\n\n",
	                &r, &e);
	T_OK(rc == 0 && strcmp(r.stop_reason, "max_tokens") == 0, "openai: length -> max_tokens");
	llm_response_free(&r);

	rc = decode_str(&llm_provider_openai,
	                "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"c\","
	                "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":\"}}]},"
	                "\"finish_reason\":\"length\"}]}\n\ndata: [DONE]\n\n",
	                &r, &e);
	T_OK(rc == -1 && e.kind == LLM_ERR_PROTOCOL && !e.retryable &&
	         strstr(e.message, "max_tokens"),
	     "openai: cut tool arguments are a protocol error: %.200s", e.message);
	llm_response_free(&r);

	rc = decode_str(&llm_provider_openai,
	                "data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\"}}\n\n",
	                &r, &e);
	T_OK(rc == -1 && e.retryable && strstr(e.message, "boom"),
	     "openai: an error chunk is a retryable error: %.200s", e.message);
	llm_response_free(&r);

	rc = decode_str(&llm_provider_openai,
	                "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"a\",\"function\":{"
	                "\"name\":\"f\",\"arguments\":\"{\\\"x\\\":\"}}]}}]}\n\n"
	                "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"function\":{"
	                "\"arguments\":\"1}\"}}]}}]}\n\n"
	                "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"b\",\"function\":{"
	                "\"name\":\"g\",\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}"
	                "\n\ndata: [DONE]\n\n",
	                &r, &e);
	T_OK(rc == 0 && r.ncalls == 2 && strcmp(r.calls[0].id, "a") == 0 &&
	         json_equal(r.calls[0].input, "{\"x\":1}") && strcmp(r.calls[1].name, "g") == 0,
	     "openai: tool calls without index are told apart by id");
	llm_response_free(&r);

	rc = decode_str(&llm_provider_openai, "data: {\"choices\":[{\"delta\":{}}]}\n\n", &r, &e);
	T_OK(rc == -1 && e.retryable, "openai: no [DONE] and no finish_reason is a retryable cut");
	llm_response_free(&r);
}

int main(void)
{
	test_cases();
	test_parser_misc();
	test_anthropic_tool_use();
	test_anthropic_incomplete();
	test_anthropic_refusal();
	test_anthropic_roundtrip();
	test_openai_fixtures();
	test_synthetic();
	return t_done();
}
