/*
 * provider_openai — the OpenAI Chat Completions wire protocol (DESIGN
 * §5), which is also what llama.cpp's llama-server, Ollama, vLLM and
 * OpenRouter speak: POST {OPENAI_BASE_URL}/v1/chat/completions, where a
 * base already ending in "/v1" (the OpenAI SDK convention, e.g. the
 * default https://api.openai.com/v1) is not given a second one.
 *
 * Headers: Authorization: Bearer OPENAI_API_KEY only when a key is set
 * (local servers need none), content-type and accept application/json,
 * user-agent, x-stainless-retry-count as the SDK sends it.
 *
 * Body: the system prompt as the first message; an assistant message
 * carries its text as content (null when it has none) and its tool calls
 * as tool_calls [{id, type:function, function{name, arguments}}] with
 * arguments the input JSON as a string; each tool_result becomes a
 * {role:tool, tool_call_id, content} message, placed before any user
 * text of the same turn (the API wants them right after the assistant's
 * calls); an error result's content starts "Error: " since the protocol
 * has no is_error.  max_tokens (not max_completion_tokens) is sent when
 * set, because the local servers accept only it; streams ask for
 * stream_options.include_usage.
 *
 * Stream decoding: "data: {chunk}" events; choices[0].delta.content is
 * text (delta.refusal too, turning stop into "refusal"); tool_calls are
 * assembled by index (id and name set once, arguments appended);
 * finish_reason maps stop->end_turn, tool_calls->tool_use,
 * length->max_tokens, content_filter->refusal, and stop with tool calls
 * -> tool_use (some local servers say stop); the usage chunk gives
 * input_tokens = prompt_tokens - cached_tokens and
 * cache_read_input_tokens = cached_tokens.  "data: [DONE]" ends it; a
 * stream that ends with neither [DONE] nor a finish_reason is a
 * retryable cut.  An {"error": ...} chunk is an error of its type.
 * Arguments must parse as a JSON object ("" meaning {}), else a
 * non-retryable protocol error.  A call without an id gets "call_<index>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "provider.h"

static void o_headers(const struct llm_endpoint *ep, int attempt, int redact, struct buf *out)
{
	if (ep->api_key)
		buf_addf(out, "authorization: Bearer %s\n", redact ? "[redacted]" : ep->api_key);
	buf_adds(out, "content-type: application/json\n"
	              "accept: application/json\n"
	              "user-agent: better-llm/" BL_VERSION "\n");
	buf_addf(out, "x-stainless-retry-count: %d\n", attempt);
}

static void write_tool_results(struct jw *w, const struct llm_msg *m)
{
	for (size_t k = 0; k < m->nblocks; k++) {
		const struct llm_block *b = &m->blocks[k];
		if (b->kind != LLM_TOOL_RESULT)
			continue;
		jw_obj(w);
		jw_kstr(w, "role", "tool");
		jw_kstr(w, "tool_call_id", b->id ? b->id : "");
		jw_key(w, "content");
		if (b->is_error) {
			struct buf c = BUF_INIT;
			buf_adds(&c, "Error: ");
			buf_adds(&c, b->text ? b->text : "");
			jw_strn(w, c.p, c.len);
			buf_free(&c);
		} else {
			jw_str(w, b->text ? b->text : "");
		}
		jw_obj_end(w);
	}
}

/* The message's text blocks joined by blank lines; 0 when there is none. */
static int joined_text(const struct llm_msg *m, struct buf *out)
{
	int any = 0;
	for (size_t k = 0; k < m->nblocks; k++) {
		const struct llm_block *b = &m->blocks[k];
		if (b->kind != LLM_TEXT || !b->text || !*b->text)
			continue;
		if (any)
			buf_adds(out, "\n\n");
		buf_adds(out, b->text);
		any = 1;
	}
	return any;
}

static void write_msg(struct jw *w, const struct llm_msg *m)
{
	struct buf text = BUF_INIT;
	int has_text = joined_text(m, &text);
	if (m->role == LLM_USER) {
		write_tool_results(w, m);
		if (has_text) {
			jw_obj(w);
			jw_kstr(w, "role", "user");
			jw_key(w, "content");
			jw_strn(w, text.p, text.len);
			jw_obj_end(w);
		}
		buf_free(&text);
		return;
	}
	jw_obj(w);
	jw_kstr(w, "role", "assistant");
	jw_key(w, "content");
	if (has_text)
		jw_strn(w, text.p, text.len);
	else
		jw_null(w);
	int calls = 0;
	for (size_t k = 0; k < m->nblocks; k++) {
		const struct llm_block *b = &m->blocks[k];
		if (b->kind != LLM_TOOL_USE)
			continue;
		if (!calls++) {
			jw_key(w, "tool_calls");
			jw_arr(w);
		}
		jw_obj(w);
		jw_kstr(w, "id", b->id ? b->id : "");
		jw_kstr(w, "type", "function");
		jw_key(w, "function");
		jw_obj(w);
		jw_kstr(w, "name", b->name ? b->name : "");
		jw_kstr(w, "arguments", b->input && *b->input ? b->input : "{}");
		jw_obj_end(w);
		jw_obj_end(w);
	}
	if (calls)
		jw_arr_end(w);
	jw_obj_end(w);
	buf_free(&text);
}

static void o_body(const struct llm_request *req, struct buf *out)
{
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_kstr(&w, "model", req->model ? req->model : "");
	jw_key(&w, "messages");
	jw_arr(&w);
	if (req->system && *req->system) {
		jw_obj(&w);
		jw_kstr(&w, "role", "system");
		jw_kstr(&w, "content", req->system);
		jw_obj_end(&w);
	}
	for (size_t i = 0; i < req->nmsgs; i++)
		write_msg(&w, &req->msgs[i]);
	jw_arr_end(&w);
	if (req->ntools > 0) {
		jw_key(&w, "tools");
		jw_arr(&w);
		for (size_t i = 0; i < req->ntools; i++) {
			const struct llm_tool *t = &req->tools[i];
			jw_obj(&w);
			jw_kstr(&w, "type", "function");
			jw_key(&w, "function");
			jw_obj(&w);
			jw_kstr(&w, "name", t->name ? t->name : "");
			if (t->description)
				jw_kstr(&w, "description", t->description);
			jw_key(&w, "parameters");
			llm_jw_object(&w, t->schema, "{\"type\":\"object\"}");
			jw_obj_end(&w);
			jw_obj_end(&w);
		}
		jw_arr_end(&w);
	}
	if (req->max_tokens > 0)
		jw_kint(&w, "max_tokens", req->max_tokens);
	if (req->temperature >= 0)
		jw_knum(&w, "temperature", req->temperature);
	jw_kbool(&w, "stream", req->stream);
	if (req->stream) {
		jw_key(&w, "stream_options");
		jw_obj(&w);
		jw_kbool(&w, "include_usage", 1);
		jw_obj_end(&w);
	}
	jw_obj_end(&w);
}

/* ---- decoding ---- */

struct ocall {
	long long index;
	char *id, *name;
	struct buf args;
};

struct ostate {
	struct ocall *c;
	size_t nc;
	char *finish;
	int refusal;
};

static void *o_state_new(void)
{
	return xcalloc(1, sizeof(struct ostate));
}

static void o_state_free(void *p)
{
	struct ostate *s = p;
	for (size_t i = 0; i < s->nc; i++) {
		free(s->c[i].id);
		free(s->c[i].name);
		buf_free(&s->c[i].args);
	}
	free(s->c);
	free(s->finish);
	free(s);
}

static struct ocall *call_at(struct ostate *s, long long index)
{
	for (size_t i = 0; i < s->nc; i++)
		if (s->c[i].index == index)
			return &s->c[i];
	if (s->nc >= 1024)
		return NULL;
	s->c = xrealloc(s->c, (s->nc + 1) * sizeof *s->c);
	struct ocall *c = &s->c[s->nc++];
	memset(c, 0, sizeof *c);
	c->index = index;
	return c;
}

/* The index a tool_calls delta belongs to: its "index"; without one (some
 * local servers), the call with the same id, a new call for a new id, or
 * else the latest call (a continuation). */
static long long call_index(struct ostate *s, const struct json *j, int tc)
{
	long long index = json_get_int(j, tc, "index", -1);
	if (index >= 0)
		return index;
	char *id = json_get_str(j, tc, "id");
	long long found = -1, max = -1;
	for (size_t i = 0; id && *id && i < s->nc; i++) {
		if (s->c[i].id && strcmp(s->c[i].id, id) == 0)
			found = s->c[i].index;
		if (s->c[i].index > max)
			max = s->c[i].index;
	}
	int fresh = id && *id;
	free(id);
	if (found >= 0)
		return found;
	if (fresh)
		return max + 1;
	return s->nc ? s->c[s->nc - 1].index : 0;
}

static void set_once(char **dst, const struct json *j, int t)
{
	if (*dst && **dst)
		return;
	char *v = json_str(j, t, NULL);
	if (v && *v) {
		free(*dst);
		*dst = v;
	} else {
		free(v);
	}
}

static void read_usage(const struct json *j, int u, struct llm_usage *usage)
{
	if (json_type(j, u) != JSON_OBJECT)
		return;
	long long prompt = json_get_int(j, u, "prompt_tokens", 0);
	long long cached =
	    json_get_int(j, json_get(j, u, "prompt_tokens_details"), "cached_tokens", 0);
	if (cached < 0 || cached > prompt)
		cached = 0;
	usage->input_tokens = prompt - cached;
	usage->cache_read_input_tokens = cached;
	usage->output_tokens = json_get_int(j, u, "completion_tokens", 0);
}

/* An {"error": ...} object or string: fills err. */
static void read_error(const struct json *j, int e, int status, struct llm_error *err)
{
	char *type = NULL, *msg = NULL;
	if (json_type(j, e) == JSON_OBJECT) {
		type = json_get_str(j, e, "type");
		if (!type)
			type = json_get_str(j, e, "code");
		msg = json_get_str(j, e, "message");
	} else {
		msg = json_str(j, e, NULL);
	}
	const char *t = type ? type : "error";
	if (status)
		llm_error_set(err, err->kind, err->retryable, type, "HTTP %d %s: %.400s", status, t,
		              msg ? msg : "(no message)");
	else
		llm_error_set(err, LLM_ERR_API, llm_error_type_retryable(t), type, "%s: %.400s", t,
		              msg ? msg : "(no message)");
	free(type);
	free(msg);
}

static int o_chunk(struct llm_stream *st, struct ostate *s, const struct json *j)
{
	struct llm_response *r = st->resp;
	int e = json_get(j, 0, "error");
	if (e >= 0 && json_type(j, e) != JSON_NULL) {
		struct llm_error why;
		read_error(j, e, 0, &why);
		return llm_stream_fail(st, why.kind, why.retryable, why.type, "stream error %s",
		                       why.message);
	}
	set_once(&r->id, j, json_get(j, 0, "id"));
	set_once(&r->model, j, json_get(j, 0, "model"));
	read_usage(j, json_get(j, 0, "usage"), &r->usage);
	int ch = json_at(j, json_get(j, 0, "choices"), 0);
	if (ch < 0)
		return 0;
	int d = json_get(j, ch, "delta");
	struct buf t = BUF_INIT;
	if (json_str_buf(j, json_get(j, d, "content"), &t) == 0)
		llm_stream_text(st, t.p ? t.p : "", t.len);
	buf_reset(&t);
	if (json_str_buf(j, json_get(j, d, "refusal"), &t) == 0 && t.len) {
		s->refusal = 1;
		llm_stream_text(st, t.p, t.len);
	}
	buf_free(&t);
	int tcs = json_get(j, d, "tool_calls");
	int i, tc;
	if (json_type(j, tcs) == JSON_ARRAY) {
		JSON_ARRAY_EACH(j, tcs, i, tc)
		{
			struct ocall *c = call_at(s, call_index(s, j, tc));
			if (!c)
				return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
				                       "too many tool calls");
			int f = json_get(j, tc, "function");
			set_once(&c->id, j, json_get(j, tc, "id"));
			set_once(&c->name, j, json_get(j, f, "name"));
			json_str_buf(j, json_get(j, f, "arguments"), &c->args);
			llm_stream_mark_content(st);
			if (c->args.len > SSE_MAX_DATA)
				return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
				                       "tool call arguments too large");
		}
	}
	int fr = json_get(j, ch, "finish_reason");
	if (json_type(j, fr) == JSON_STRING) {
		free(s->finish);
		s->finish = json_str(j, fr, NULL);
	}
	return 0;
}

static int o_event(struct llm_stream *st, const struct sse_event *ev)
{
	if (st->done)
		return 0;
	const char *d = ev->data;
	size_t n = ev->data_len;
	while (n > 0 && (d[n - 1] == ' ' || d[n - 1] == '\r' || d[n - 1] == '\n'))
		n--;
	if (n == 6 && memcmp(d, "[DONE]", 6) == 0) {
		st->done = 1;
		return 0;
	}
	struct json j;
	struct json_error je;
	int bad = json_parse(&j, ev->data, ev->data_len, &je) != 0;
	if (bad && st->eof)
		return llm_stream_fail(st, LLM_ERR_API, 1, "",
		                       "stream cut before [DONE] (last chunk incomplete)");
	if (bad)
		return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
		                       "chunk is not valid JSON: %s at byte %zu", je.msg,
		                       je.offset);
	int rc = json_type(&j, 0) == JSON_OBJECT
	             ? o_chunk(st, st->state, &j)
	             : llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "", "chunk is not an object");
	json_free(&j);
	return rc;
}

static int by_index(const void *a, const void *b)
{
	const struct ocall *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

static const char *map_finish(const char *f, int ncalls, int refusal)
{
	if (!f)
		return ncalls ? "tool_use" : "end_turn";
	if (strcmp(f, "stop") == 0)
		return ncalls ? "tool_use" : refusal ? "refusal" : "end_turn";
	if (strcmp(f, "tool_calls") == 0 || strcmp(f, "function_call") == 0)
		return "tool_use";
	if (strcmp(f, "length") == 0)
		return "max_tokens";
	if (strcmp(f, "content_filter") == 0)
		return "refusal";
	return f;
}

/* Checks and adds the assembled calls; sets stop_reason. */
static int finish_calls(struct llm_stream *st, struct ostate *s)
{
	const char *note =
	    s->finish && strcmp(s->finish, "length") == 0 ? " (the response hit max_tokens)" : "";
	if (s->nc > 1)
		qsort(s->c, s->nc, sizeof *s->c, by_index);
	for (size_t i = 0; i < s->nc; i++) {
		struct ocall *c = &s->c[i];
		if (!c->name)
			return llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
			                       "tool call %lld has no function name", c->index);
		const char *in = c->args.p ? c->args.p : "";
		size_t n = c->args.len;
		while (n > 0 && (*in == ' ' || *in == '\n' || *in == '\r' || *in == '\t'))
			in++, n--;
		if (n == 0)
			in = "{}", n = 2;
		struct json j;
		struct json_error je;
		if (json_parse(&j, in, n, &je) != 0)
			return llm_stream_fail(
			    st, LLM_ERR_PROTOCOL, 0, "",
			    "tool call '%.100s': arguments are not valid JSON%s: %s at byte %zu",
			    c->name, note, je.msg, je.offset);
		int obj = json_type(&j, 0) == JSON_OBJECT;
		json_free(&j);
		if (!obj)
			return llm_stream_fail(
			    st, LLM_ERR_PROTOCOL, 0, "",
			    "tool call '%.100s': arguments are not a JSON object", c->name);
		char idbuf[40];
		snprintf(idbuf, sizeof idbuf, "call_%lld", c->index);
		llm_response_add_call(st->resp, c->id ? c->id : idbuf, c->name, in, n);
	}
	free(st->resp->stop_reason);
	st->resp->stop_reason = xstrdup(map_finish(s->finish, (int)s->nc, s->refusal));
	return 0;
}

static int o_end(struct llm_stream *st)
{
	struct ostate *s = st->state;
	if (!st->done && !s->finish)
		return llm_stream_fail(st, LLM_ERR_API, 1, "", "stream cut before [DONE]");
	return finish_calls(st, s);
}

static int o_parse_body(const char *body, size_t n, struct llm_response *r,
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
	int e = json_get(&j, 0, "error");
	int ch = json_at(&j, json_get(&j, 0, "choices"), 0);
	int m = json_get(&j, ch, "message");
	if (e >= 0 && json_type(&j, e) != JSON_NULL) {
		read_error(&j, e, 0, err);
		rc = -1;
	} else if (json_type(&j, m) != JSON_OBJECT) {
		llm_error_set(err, LLM_ERR_PROTOCOL, 0, "", "response has no choices[0].message");
		rc = -1;
	} else {
		/* Reuse the stream decoder's assembly and checks. */
		struct llm_stream st;
		static const struct llm_hooks none;
		llm_stream_init(&st, &llm_provider_openai, r, hooks ? hooks : &none);
		struct ostate *s = st.state;
		set_once(&r->id, &j, json_get(&j, 0, "id"));
		set_once(&r->model, &j, json_get(&j, 0, "model"));
		read_usage(&j, json_get(&j, 0, "usage"), &r->usage);
		struct buf t = BUF_INIT;
		if (json_str_buf(&j, json_get(&j, m, "content"), &t) == 0)
			llm_stream_text(&st, t.p ? t.p : "", t.len);
		buf_reset(&t);
		if (json_str_buf(&j, json_get(&j, m, "refusal"), &t) == 0 && t.len) {
			s->refusal = 1;
			llm_stream_text(&st, t.p, t.len);
		}
		buf_free(&t);
		int i, tc, tcs = json_get(&j, m, "tool_calls");
		if (json_type(&j, tcs) == JSON_ARRAY) {
			JSON_ARRAY_EACH(&j, tcs, i, tc)
			{
				struct ocall *c = call_at(s, i);
				int f = json_get(&j, tc, "function");
				if (!c)
					break;
				set_once(&c->id, &j, json_get(&j, tc, "id"));
				set_once(&c->name, &j, json_get(&j, f, "name"));
				json_str_buf(&j, json_get(&j, f, "arguments"), &c->args);
			}
		}
		int fr = json_get(&j, ch, "finish_reason");
		if (json_type(&j, fr) == JSON_STRING)
			s->finish = json_str(&j, fr, NULL);
		rc = finish_calls(&st, s);
		if (rc)
			*err = st.err;
		r->ttft_ms = -1;
		llm_stream_free(&st);
	}
	json_free(&j);
	return rc;
}

static void o_parse_error(int status, const char *body, size_t n, struct llm_error *err)
{
	struct json j;
	if (n > 0 && json_parse(&j, body, n, NULL) == 0) {
		int e = json_get(&j, 0, "error");
		if (e >= 0 && json_type(&j, e) != JSON_NULL) {
			read_error(&j, e, status, err);
			json_free(&j);
			return;
		}
		json_free(&j);
	}
	char ex[200];
	llm_body_excerpt(body, n, ex, sizeof ex);
	if (ex[0])
		snprintf(err->message, sizeof err->message, "HTTP %d: %s", status, ex);
}

const struct llm_provider llm_provider_openai = {
    .name = "openai",
    .path = "/v1/chat/completions",
    .default_base_url = "https://api.openai.com/v1",
    .headers = o_headers,
    .body = o_body,
    .state_new = o_state_new,
    .state_free = o_state_free,
    .event = o_event,
    .end = o_end,
    .parse_body = o_parse_body,
    .parse_error = o_parse_error,
};
