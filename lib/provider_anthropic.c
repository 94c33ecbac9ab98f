/*
 * provider_anthropic — the Anthropic Messages API wire protocol
 * (DESIGN §5): POST {base}/v1/messages.
 *
 * Headers are those the official SDK on npm sends (@anthropic-ai/sdk
 * 1.13's buildHeaders/authHeaders, checked by tests/conformance):
 * authorization: Bearer with ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN
 * alike, anthropic-version: 2026-10-21, content-type and accept both
 * application/json (the SDKs send accept: application/json for streams
 * too), user-agent better-llm/VERSION and x-stainless-retry-count (the
 * number of the retry, 0 first, so a server or mock can see retries).
 *
 * Body: cache breakpoints (cache_control ephemeral) on the system block,
 * the last tool and the last content block of the last message when
 * req->cache: three of the four allowed, so a tool loop reads its prefix
 * from the cache.  Empty text blocks are left out (the API rejects them).
 *
 * Stream decoding follows the event types, not the event names (they
 * agree on the real API); unknown types are ignored, thinking and
 * redacted_thinking blocks are passed over.  A tool_use input is the
 * concatenated partial_json, "" meaning {}; it must parse as a JSON
 * object, else the response is a non-retryable protocol error (a cut
 * input under stop_reason max_tokens says so).  A tool block still open
 * at message_stop is finished there.  A stream without message_stop is a
 * retryable cut; an error event is an error of its type, retryable
 * unless the type is a permanent one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "provider.h"

#define ANTHROPIC_DEFAULT_MAX_TOKENS 8192
#define ANTHROPIC_VERSION "2026-10-21" /* what @anthropic-ai/sdk sends */

static void a_headers(const struct llm_endpoint *ep, int attempt, int redact, struct buf *out)
{
	if (ep->api_key)
		buf_addf(out, "authorization: Bearer %s\n", redact ? "[redacted]" : ep->api_key);
	buf_adds(out, "anthropic-version: " ANTHROPIC_VERSION "\n"
	              "content-type: application/json\n"
	              "accept: application/json\n"
	              "user-agent: better-llm/" BL_VERSION "\n");
	buf_addf(out, "x-stainless-retry-count: %d\n", attempt);
}

static void cache_mark(struct jw *w)
{
	jw_key(w, "cache_control");
	jw_obj(w);
	jw_kstr(w, "type", "ephemeral");
	jw_obj_end(w);
}

static int block_sent(const struct llm_block *b)
{
	return b->kind != LLM_TEXT || (b->text && *b->text);
}

static void write_block(struct jw *w, const struct llm_block *b, int cache)
{
	jw_obj(w);
	switch (b->kind) {
	case LLM_TEXT:
		jw_kstr(w, "type", "text");
		jw_kstr(w, "text", b->text ? b->text : "");
		break;
	case LLM_TOOL_USE:
		jw_kstr(w, "type", "tool_use");
		jw_kstr(w, "id", b->id ? b->id : "");
		jw_kstr(w, "name", b->name ? b->name : "");
		jw_key(w, "input");
		llm_jw_object(w, b->input, "{}");
		break;
	case LLM_TOOL_RESULT:
		jw_kstr(w, "type", "tool_result");
		jw_kstr(w, "tool_use_id", b->id ? b->id : "");
		jw_kstr(w, "content", b->text ? b->text : "");
		if (b->is_error)
			jw_kbool(w, "is_error", 1);
		break;
	}
	if (cache)
		cache_mark(w);
	jw_obj_end(w);
}

static void a_body(const struct llm_request *req, struct buf *out)
{
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_kstr(&w, "model", req->model ? req->model : "");
	jw_kint(&w, "max_tokens",
	        req->max_tokens > 0 ? req->max_tokens : ANTHROPIC_DEFAULT_MAX_TOKENS);
	if (req->system && *req->system) {
		jw_key(&w, "system");
		if (req->cache) {
			jw_arr(&w);
			jw_obj(&w);
			jw_kstr(&w, "type", "text");
			jw_kstr(&w, "text", req->system);
			cache_mark(&w);
			jw_obj_end(&w);
			jw_arr_end(&w);
		} else {
			jw_str(&w, req->system);
		}
	}
	if (req->ntools > 0) {
		jw_key(&w, "tools");
		jw_arr(&w);
		for (size_t i = 0; i < req->ntools; i++) {
			const struct llm_tool *t = &req->tools[i];
			jw_obj(&w);
			jw_kstr(&w, "name", t->name ? t->name : "");
			if (t->description)
				jw_kstr(&w, "description", t->description);
			jw_key(&w, "input_schema");
			llm_jw_object(&w, t->schema, "{\"type\":\"object\"}");
			if (req->cache && i + 1 == req->ntools)
				cache_mark(&w);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
	}
	jw_key(&w, "messages");
	jw_arr(&w);
	for (size_t i = 0; i < req->nmsgs; i++) {
		const struct llm_msg *m = &req->msgs[i];
		size_t last = m->nblocks;
		for (size_t k = 0; k < m->nblocks; k++)
			if (block_sent(&m->blocks[k]))
				last = k;
		jw_obj(&w);
		jw_kstr(&w, "role", m->role == LLM_ASSISTANT ? "assistant" : "user");
		jw_key(&w, "content");
		jw_arr(&w);
		for (size_t k = 0; k < m->nblocks; k++)
			if (block_sent(&m->blocks[k]))
				write_block(&w, &m->blocks[k],
				            req->cache && i + 1 == req->nmsgs && k == last);
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	if (req->temperature >= 0)
		jw_knum(&w, "temperature", req->temperature);
	jw_kbool(&w, "stream", req->stream);
	jw_obj_end(&w);
}

/* ---- decoding ---- */

enum ablock_kind { AB_OTHER, AB_TEXT, AB_TOOL };

struct ablock {
	long long index;
	enum ablock_kind kind;
	int stopped;
	char *id, *name, *initial; /* initial: content_block.input, raw */
	struct buf json;           /* partial_json so far */
};

struct astate {
	struct ablock *b;
	size_t nb;
};

static void *a_state_new(void)
{
	return xcalloc(1, sizeof(struct astate));
}

static void a_state_free(void *p)
{
	struct astate *s = p;
	for (size_t i = 0; i < s->nb; i++) {
		free(s->b[i].id);
		free(s->b[i].name);
		free(s->b[i].initial);
		buf_free(&s->b[i].json);
	}
	free(s->b);
	free(s);
}

static struct ablock *find_block(struct astate *s, long long index)
{
	for (size_t i = 0; i < s->nb; i++)
		if (s->b[i].index == index)
			return &s->b[i];
	return NULL;
}

static void read_usage(const struct json *j, int u, struct llm_usage *usage)
{
	if (json_type(j, u) != JSON_OBJECT)
		return;
	usage->input_tokens = json_get_int(j, u, "input_tokens", usage->input_tokens);
	usage->output_tokens = json_get_int(j, u, "output_tokens", usage->output_tokens);
	usage->cache_creation_input_tokens =
	    json_get_int(j, u, "cache_creation_input_tokens", usage->cache_creation_input_tokens);
	usage->cache_read_input_tokens =
	    json_get_int(j, u, "cache_read_input_tokens", usage->cache_read_input_tokens);
}

static void set_str(char **dst, const struct json *j, int t)
{
	char *v = json_str(j, t, NULL);
	if (v) {
		free(*dst);
		*dst = v;
	}
}

/* Kind of an API error type (error events and error bodies). */
static enum llm_err_kind type_kind(const char *type)
{
	if (strcmp(type, "authentication_error") == 0 || strcmp(type, "permission_error") == 0)
		return LLM_ERR_AUTH;
	if (strcmp(type, "rate_limit_error") == 0)
		return LLM_ERR_RATE_LIMIT;
	return LLM_ERR_API;
}

/* Checks a tool input and adds the call; -1 with the stream failed. */
static int finish_tool(struct llm_stream *st, struct ablock *b)
{
	b->stopped = 1;
	const char *in = b->json.p ? b->json.p : "";
	size_t n = b->json.len;
	while (n > 0 && (*in == ' ' || *in == '\n' || *in == '\r' || *in == '\t'))
		in++, n--;
	if (n == 0) {
		in = b->initial ? b->initial : "{}";
		n = strlen(in);
	}
	struct json j;
	struct json_error je;
	const char *sr = st->resp->stop_reason;
	const char *note =
	    sr && strcmp(sr, "max_tokens") == 0 ? " (the response hit max_tokens)" : "";
	if (json_parse(&j, in, n, &je) != 0)
		return llm_stream_fail(
		    st, LLM_ERR_PROTOCOL, 0, "",
		    "tool_use '%.100s': input is not valid JSON%s: %s at byte %zu", b->name, note,
		    je.msg, je.offset);
	int obj = json_type(&j, 0) == JSON_OBJECT;
	json_free(&j);
	if (!obj)
		return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
		                       "tool_use '%.100s': input is not a JSON object", b->name);
	llm_response_add_call(st->resp, b->id, b->name, in, n);
	return 0;
}

static int block_start(struct llm_stream *st, struct astate *s, const struct json *j)
{
	long long index = json_get_int(j, 0, "index", -1);
	int cb = json_get(j, 0, "content_block");
	if (index < 0 || json_type(j, cb) != JSON_OBJECT)
		return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
		                       "content_block_start without index or content_block");
	if (find_block(s, index))
		return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
		                       "content block %lld started twice", index);
	s->b = xrealloc(s->b, (s->nb + 1) * sizeof *s->b);
	struct ablock *b = &s->b[s->nb++];
	memset(b, 0, sizeof *b);
	b->index = index;
	int type = json_get(j, cb, "type");
	if (json_streq(j, type, "text")) {
		b->kind = AB_TEXT;
		struct buf t = BUF_INIT;
		if (json_str_buf(j, json_get(j, cb, "text"), &t) == 0)
			llm_stream_text(st, t.p ? t.p : "", t.len);
		buf_free(&t);
	} else if (json_streq(j, type, "tool_use")) {
		b->kind = AB_TOOL;
		b->id = json_get_str(j, cb, "id");
		b->name = json_get_str(j, cb, "name");
		if (!b->id || !b->name)
			return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
			                       "tool_use block %lld without id or name", index);
		int in = json_get(j, cb, "input");
		if (json_type(j, in) == JSON_OBJECT) {
			size_t n;
			const char *raw = json_raw(j, in, &n);
			b->initial = xstrndup(raw, n);
		}
	}
	return 0;
}

static int block_delta(struct llm_stream *st, struct astate *s, const struct json *j)
{
	long long index = json_get_int(j, 0, "index", -1);
	struct ablock *b = find_block(s, index);
	if (!b || b->stopped)
		return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
		                       "content_block_delta for %s block %lld",
		                       b ? "a stopped" : "an unknown", index);
	int d = json_get(j, 0, "delta");
	int type = json_get(j, d, "type");
	if (json_streq(j, type, "text_delta")) {
		struct buf t = BUF_INIT;
		if (json_str_buf(j, json_get(j, d, "text"), &t) == 0)
			llm_stream_text(st, t.p ? t.p : "", t.len);
		buf_free(&t);
	} else if (json_streq(j, type, "input_json_delta") && b->kind == AB_TOOL) {
		llm_stream_mark_content(st);
		if (json_str_buf(j, json_get(j, d, "partial_json"), &b->json) < 0)
			return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
			                       "input_json_delta without partial_json");
		if (b->json.len > SSE_MAX_DATA)
			return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "", "tool input too large");
	}
	return 0;
}

static int a_event(struct llm_stream *st, const struct sse_event *ev)
{
	struct astate *s = st->state;
	struct llm_response *r = st->resp;
	if (st->done)
		return 0;
	struct json j;
	struct json_error je;
	int bad = json_parse(&j, ev->data, ev->data_len, &je) != 0;
	if (bad && st->eof)
		return llm_stream_fail(st, LLM_ERR_API, 1, "",
		                       "stream cut before message_stop (last event incomplete)");
	if (bad)
		return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
		                       "event '%.40s': data is not valid JSON: %s at byte %zu",
		                       ev->event, je.msg, je.offset);
	int rc = 0;
	char *type = json_get_str(&j, 0, "type");
	const char *t = type ? type : ev->event;

	if (json_type(&j, 0) != JSON_OBJECT) {
		rc = llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "", "event '%.40s': not an object",
		                     ev->event);
	} else if (strcmp(t, "message_start") == 0) {
		int m = json_get(&j, 0, "message");
		set_str(&r->id, &j, json_get(&j, m, "id"));
		set_str(&r->model, &j, json_get(&j, m, "model"));
		read_usage(&j, json_get(&j, m, "usage"), &r->usage);
	} else if (strcmp(t, "content_block_start") == 0) {
		rc = block_start(st, s, &j);
	} else if (strcmp(t, "content_block_delta") == 0) {
		rc = block_delta(st, s, &j);
	} else if (strcmp(t, "content_block_stop") == 0) {
		struct ablock *b = find_block(s, json_get_int(&j, 0, "index", -1));
		if (!b)
			rc = llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
			                     "content_block_stop for an unknown block");
		else if (b->kind == AB_TOOL && !b->stopped)
			rc = finish_tool(st, b);
		else
			b->stopped = 1;
	} else if (strcmp(t, "message_delta") == 0) {
		int d = json_get(&j, 0, "delta");
		set_str(&r->stop_reason, &j, json_get(&j, d, "stop_reason"));
		read_usage(&j, json_get(&j, 0, "usage"), &r->usage);
	} else if (strcmp(t, "message_stop") == 0) {
		for (size_t i = 0; i < s->nb && rc == 0; i++)
			if (s->b[i].kind == AB_TOOL && !s->b[i].stopped)
				rc = finish_tool(st, &s->b[i]);
		st->done = 1;
	} else if (strcmp(t, "error") == 0) {
		int e = json_get(&j, 0, "error");
		char *et = json_get_str(&j, e, "type");
		char *em = json_get_str(&j, e, "message");
		const char *ety = et ? et : "error";
		rc = llm_stream_fail(st, type_kind(ety), llm_error_type_retryable(ety), ety,
		                     "stream error %.60s: %.300s", ety, em ? em : "(no message)");
		free(et);
		free(em);
	}
	free(type);
	json_free(&j);
	return rc;
}

static int a_end(struct llm_stream *st)
{
	if (!st->done)
		return llm_stream_fail(st, LLM_ERR_API, 1, "", "stream cut before message_stop");
	return 0;
}

static int a_parse_body(const char *body, size_t n, struct llm_response *r,
                        const struct llm_hooks *hooks, struct llm_error *err)
{
	struct json j;
	struct json_error je;
	if (json_parse(&j, body, n, &je) != 0) {
		llm_error_set(err, LLM_ERR_PROTOCOL, 0, "",
		              "response is not valid JSON: %s at byte %zu", je.msg, je.offset);
		return -1;
	}
	int rc = 0;
	int content = json_get(&j, 0, "content");
	if (json_streq(&j, json_get(&j, 0, "type"), "error")) {
		int e = json_get(&j, 0, "error");
		char *et = json_get_str(&j, e, "type");
		char *em = json_get_str(&j, e, "message");
		const char *ety = et ? et : "error";
		llm_error_set(err, type_kind(ety), llm_error_type_retryable(ety), ety,
		              "error %s: %.300s", ety, em ? em : "(no message)");
		free(et);
		free(em);
		rc = -1;
	} else if (json_type(&j, content) != JSON_ARRAY) {
		llm_error_set(err, LLM_ERR_PROTOCOL, 0, "", "response has no content array");
		rc = -1;
	} else {
		set_str(&r->id, &j, json_get(&j, 0, "id"));
		set_str(&r->model, &j, json_get(&j, 0, "model"));
		set_str(&r->stop_reason, &j, json_get(&j, 0, "stop_reason"));
		read_usage(&j, json_get(&j, 0, "usage"), &r->usage);
		int i, b;
		JSON_ARRAY_EACH(&j, content, i, b)
		{
			int type = json_get(&j, b, "type");
			if (json_streq(&j, type, "text")) {
				size_t before = r->text.len;
				json_str_buf(&j, json_get(&j, b, "text"), &r->text);
				if (hooks && hooks->on_text && r->text.len > before)
					hooks->on_text(hooks->ctx, r->text.p + before,
					               r->text.len - before);
			} else if (json_streq(&j, type, "tool_use")) {
				char *id = json_get_str(&j, b, "id");
				char *name = json_get_str(&j, b, "name");
				int in = json_get(&j, b, "input");
				size_t len;
				const char *raw = json_raw(&j, in, &len);
				if (!id || !name || json_type(&j, in) != JSON_OBJECT) {
					llm_error_set(
					    err, LLM_ERR_PROTOCOL, 0, "",
					    "tool_use block without id, name or object input");
					rc = -1;
				} else {
					llm_response_add_call(r, id, name, raw, len);
				}
				free(id);
				free(name);
				if (rc)
					break;
			}
		}
	}
	json_free(&j);
	return rc;
}

static void a_parse_error(int status, const char *body, size_t n, struct llm_error *err)
{
	struct json j;
	if (n > 0 && json_parse(&j, body, n, NULL) == 0) {
		int e = json_get(&j, 0, "error");
		char *et = json_get_str(&j, e, "type");
		char *em = json_get_str(&j, e, "message");
		int found = et || em;
		if (found) {
			snprintf(err->type, sizeof err->type, "%s", et ? et : "");
			snprintf(err->message, sizeof err->message, "HTTP %d %s: %.400s", status,
			         et ? et : "error", em ? em : "(no message)");
		}
		free(et);
		free(em);
		json_free(&j);
		if (found)
			return;
	}
	char ex[200];
	llm_body_excerpt(body, n, ex, sizeof ex);
	if (ex[0])
		snprintf(err->message, sizeof err->message, "HTTP %d: %s", status, ex);
}

const struct llm_provider llm_provider_anthropic = {
    .name = "anthropic",
    .path = "/v1/messages",
    .default_base_url = "https://api.anthropic.com",
    .headers = a_headers,
    .body = a_body,
    .state_new = a_state_new,
    .state_free = a_state_free,
    .event = a_event,
    .end = a_end,
    .parse_body = a_parse_body,
    .parse_error = a_parse_error,
};
