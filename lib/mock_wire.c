/*
 * mock_wire — renders scripted replies as Anthropic and OpenAI wire
 * traffic (see mock_wire.h for the guarantees).  The shapes mirror the
 * recorded real-API streams in ../shared/fixtures: Anthropic
 * message_start / content_block_start / ping / content_block_delta /
 * content_block_stop / message_delta / message_stop; OpenAI
 * chat.completion.chunk objects, a finish chunk, the usage chunk with
 * "choices": [] and "data: [DONE]".
 */
#include "mock_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

struct piece {
	size_t off, len;
};

void mock_events_free(struct mock_events *e)
{
	for (int i = 0; i < e->n; i++)
		buf_free(&e->ev[i]);
	free(e->ev);
	memset(e, 0, sizeof *e);
}

static struct buf *new_event(struct mock_events *e)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? e->cap * 2 : 16;
		e->ev = xrealloc(e->ev, (size_t)e->cap * sizeof *e->ev);
	}
	struct buf *b = &e->ev[e->n++];
	memset(b, 0, sizeof *b);
	return b;
}

/* Moves i forward to the start of a UTF-8 sequence. */
static size_t utf8_boundary(const char *s, size_t len, size_t i)
{
	while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
		i++;
	return i;
}

/* Splits a text into its delta pieces; returns how many (at most max). */
static int split_text(const char *s, size_t len, long long chunk, struct piece *p, int max)
{
	int n = 0;
	if (chunk > 0) {
		size_t off = 0;
		while (off < len && n < max - 1) {
			size_t end = utf8_boundary(s, len, off + (size_t)chunk);
			if (end > len)
				end = len;
			p[n++] = (struct piece){off, end - off};
			off = end;
		}
		if (off < len || n == 0)
			p[n++] = (struct piece){off, len - off};
		return n;
	}
	for (size_t i = 1; i + 1 < len; i++) {
		if (s[i] == ' ' || s[i] == '\n' || s[i] == '\t') {
			p[0] = (struct piece){0, i + 1};
			p[1] = (struct piece){i + 1, len - i - 1};
			return 2;
		}
	}
	p[0] = (struct piece){0, len};
	return 1;
}

/* Splits a tool input's JSON text into up to three pieces. */
static int split_input(const char *s, struct piece *p)
{
	size_t len = strlen(s), prev = 0;
	int n = 0;
	for (int k = 1; k <= 3; k++) {
		size_t end = k == 3 ? len : utf8_boundary(s, len, len * (size_t)k / 3);
		if (end > prev)
			p[n++] = (struct piece){prev, end - prev};
		prev = end > prev ? end : prev;
	}
	return n;
}

/* How many pieces a text may need: enough for chunk_bytes pieces. */
static struct piece *text_pieces(const struct mock_ctx *c, const struct mock_block *b, int *n)
{
	size_t max = 2;
	if (c->r->chunk_bytes > 0)
		max = b->text_len / (size_t)c->r->chunk_bytes + 2;
	struct piece *p = xcalloc(max, sizeof *p);
	*n = split_text(b->text, b->text_len, c->r->chunk_bytes, p, (int)max);
	return p;
}

int mock_generated_ids(const struct mock_reply *r)
{
	int n = 0;
	for (int i = 0; i < r->nblocks; i++)
		n += r->blocks[i].type == MOCK_TOOL_USE && !r->blocks[i].id;
	return n;
}

/* The id of tool block i: scripted, or prefix + a generated number. */
static char *tool_id(const struct mock_ctx *c, int i, const char *prefix)
{
	const struct mock_reply *r = c->r;
	if (r->blocks[i].id)
		return xstrdup(r->blocks[i].id);
	long long k = c->id_base;
	for (int b = 0; b < i; b++)
		k += r->blocks[b].type == MOCK_TOOL_USE && !r->blocks[b].id;
	return xasprintf("%s%lld", prefix, k);
}

long long mock_output_tokens(const struct mock_reply *r)
{
	size_t bytes = 0;
	for (int i = 0; i < r->nblocks; i++) {
		const struct mock_block *b = &r->blocks[i];
		bytes += b->type == MOCK_TEXT ? b->text_len : strlen(b->input);
	}
	return bytes / 4 > 0 ? (long long)(bytes / 4) : 1;
}

const char *mock_finish_reason(const char *stop_reason)
{
	if (!strcmp(stop_reason, "tool_use"))
		return "tool_calls";
	if (!strcmp(stop_reason, "max_tokens"))
		return "length";
	if (!strcmp(stop_reason, "refusal"))
		return "content_filter";
	return "stop";
}

/* ---- Anthropic ---- */

/* Starts an SSE event: "event: NAME\ndata: " and a writer on it. */
static struct buf *sse_begin(struct mock_events *e, const char *name, struct jw *w)
{
	struct buf *b = new_event(e);
	if (name)
		buf_addf(b, "event: %s\n", name);
	buf_adds(b, "data: ");
	jw_init(w, b);
	return b;
}

static void sse_end(struct buf *b)
{
	buf_adds(b, "\n\n");
}

static void anthropic_usage(struct jw *w, const struct mock_ctx *c, long long output)
{
	jw_key(w, "usage");
	jw_obj(w);
	jw_kint(w, "input_tokens", c->input_tokens);
	jw_kint(w, "cache_creation_input_tokens", c->cache_creation);
	jw_kint(w, "cache_read_input_tokens", c->cache_read);
	jw_kint(w, "output_tokens", output);
	jw_kstr(w, "service_tier", "standard");
	jw_obj_end(w);
}

/* The message object's fields before "content". */
static void anthropic_head(struct jw *w, const struct mock_ctx *c)
{
	char id[48];
	snprintf(id, sizeof id, "msg_mock_%lld", c->seq);
	jw_kstr(w, "id", id);
	jw_kstr(w, "type", "message");
	jw_kstr(w, "role", "assistant");
	jw_kstr(w, "model", c->model);
}

static void anthropic_block_start(struct mock_events *e, const struct mock_ctx *c, int i)
{
	const struct mock_block *b = &c->r->blocks[i];
	struct jw w;
	struct buf *ev = sse_begin(e, "content_block_start", &w);
	jw_obj(&w);
	jw_kstr(&w, "type", "content_block_start");
	jw_kint(&w, "index", i);
	jw_key(&w, "content_block");
	jw_obj(&w);
	if (b->type == MOCK_TEXT) {
		jw_kstr(&w, "type", "text");
		jw_kstr(&w, "text", "");
	} else {
		char *id = tool_id(c, i, "toolu_mock_");
		jw_kstr(&w, "type", "tool_use");
		jw_kstr(&w, "id", id);
		jw_kstr(&w, "name", b->name);
		jw_key(&w, "input");
		jw_raw(&w, "{}", 2);
		free(id);
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
	sse_end(ev);
}

static void anthropic_delta(struct mock_events *e, int i, const char *type, const char *key,
                            const char *s, size_t n)
{
	struct jw w;
	struct buf *ev = sse_begin(e, "content_block_delta", &w);
	jw_obj(&w);
	jw_kstr(&w, "type", "content_block_delta");
	jw_kint(&w, "index", i);
	jw_key(&w, "delta");
	jw_obj(&w);
	jw_kstr(&w, "type", type);
	jw_key(&w, key);
	jw_strn(&w, s, n);
	jw_obj_end(&w);
	jw_obj_end(&w);
	sse_end(ev);
}

static void simple_event(struct mock_events *e, const char *type, int index)
{
	struct jw w;
	struct buf *ev = sse_begin(e, type, &w);
	jw_obj(&w);
	jw_kstr(&w, "type", type);
	if (index >= 0)
		jw_kint(&w, "index", index);
	jw_obj_end(&w);
	sse_end(ev);
}

void mock_anthropic_stream(const struct mock_ctx *c, struct mock_events *out)
{
	const struct mock_reply *r = c->r;
	struct jw w;
	struct buf *ev = sse_begin(out, "message_start", &w);
	jw_obj(&w);
	jw_kstr(&w, "type", "message_start");
	jw_key(&w, "message");
	jw_obj(&w);
	anthropic_head(&w, c);
	jw_key(&w, "content");
	jw_arr(&w);
	jw_arr_end(&w);
	jw_key(&w, "stop_reason");
	jw_null(&w);
	jw_key(&w, "stop_sequence");
	jw_null(&w);
	anthropic_usage(&w, c, 1);
	jw_obj_end(&w);
	jw_obj_end(&w);
	sse_end(ev);

	if (r->nblocks == 0)
		simple_event(out, "ping", -1);
	for (int i = 0; i < r->nblocks; i++) {
		const struct mock_block *b = &r->blocks[i];
		struct piece tp[3], *p = tp;
		int n;
		anthropic_block_start(out, c, i);
		if (i == 0)
			simple_event(out, "ping", -1);
		if (b->type == MOCK_TEXT) {
			p = text_pieces(c, b, &n);
			for (int k = 0; k < n; k++)
				anthropic_delta(out, i, "text_delta", "text", b->text + p[k].off,
				                p[k].len);
			free(p);
		} else {
			n = split_input(b->input, tp);
			for (int k = 0; k < n; k++)
				anthropic_delta(out, i, "input_json_delta", "partial_json",
				                b->input + tp[k].off, tp[k].len);
		}
		simple_event(out, "content_block_stop", i);
	}

	if (r->has_error_event) {
		ev = sse_begin(out, "error", &w);
		jw_obj(&w);
		jw_kstr(&w, "type", "error");
		jw_key(&w, "error");
		jw_obj(&w);
		jw_kstr(&w, "type", r->event_error_type);
		jw_kstr(&w, "message", r->event_error_message);
		jw_obj_end(&w);
		jw_obj_end(&w);
		sse_end(ev);
		return;
	}

	ev = sse_begin(out, "message_delta", &w);
	jw_obj(&w);
	jw_kstr(&w, "type", "message_delta");
	jw_key(&w, "delta");
	jw_obj(&w);
	jw_kstr(&w, "stop_reason", mock_reply_stop_reason(r));
	jw_key(&w, "stop_sequence");
	jw_null(&w);
	jw_obj_end(&w);
	jw_key(&w, "usage");
	jw_obj(&w);
	jw_kint(&w, "output_tokens", c->output_tokens);
	jw_obj_end(&w);
	jw_obj_end(&w);
	sse_end(ev);
	simple_event(out, "message_stop", -1);
}

void mock_anthropic_message(const struct mock_ctx *c, struct buf *out)
{
	const struct mock_reply *r = c->r;
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	anthropic_head(&w, c);
	jw_key(&w, "content");
	jw_arr(&w);
	for (int i = 0; i < r->nblocks; i++) {
		const struct mock_block *b = &r->blocks[i];
		jw_obj(&w);
		if (b->type == MOCK_TEXT) {
			jw_kstr(&w, "type", "text");
			jw_key(&w, "text");
			jw_strn(&w, b->text, b->text_len);
		} else {
			char *id = tool_id(c, i, "toolu_mock_");
			jw_kstr(&w, "type", "tool_use");
			jw_kstr(&w, "id", id);
			jw_kstr(&w, "name", b->name);
			jw_key(&w, "input");
			jw_raw(&w, b->input, strlen(b->input));
			free(id);
		}
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_kstr(&w, "stop_reason", mock_reply_stop_reason(r));
	jw_key(&w, "stop_sequence");
	jw_null(&w);
	anthropic_usage(&w, c, c->output_tokens);
	jw_obj_end(&w);
}

void mock_anthropic_error(struct buf *out, const char *type, const char *msg,
                          const char *request_id)
{
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_kstr(&w, "type", "error");
	jw_key(&w, "error");
	jw_obj(&w);
	jw_kstr(&w, "type", type);
	jw_kstr(&w, "message", msg);
	jw_obj_end(&w);
	if (request_id)
		jw_kstr(&w, "request_id", request_id);
	jw_obj_end(&w);
}

/* ---- OpenAI ---- */

static void openai_head(struct jw *w, const struct mock_ctx *c, const char *object)
{
	char id[48];
	snprintf(id, sizeof id, "chatcmpl-mock%lld", c->seq);
	jw_kstr(w, "id", id);
	jw_kstr(w, "object", object);
	jw_kint(w, "created", c->created);
	jw_kstr(w, "model", c->model);
	jw_kstr(w, "system_fingerprint", "fp_mock");
}

/* Opens a chunk up to the inside of choices[0].delta. */
static struct buf *chunk_begin(struct mock_events *e, const struct mock_ctx *c, struct jw *w)
{
	struct buf *ev = sse_begin(e, NULL, w);
	jw_obj(w);
	openai_head(w, c, "chat.completion.chunk");
	jw_key(w, "choices");
	jw_arr(w);
	jw_obj(w);
	jw_kint(w, "index", 0);
	jw_key(w, "delta");
	jw_obj(w);
	return ev;
}

static void chunk_end(struct buf *ev, struct jw *w, const struct mock_ctx *c, const char *finish)
{
	jw_obj_end(w); /* delta */
	jw_key(w, "logprobs");
	jw_null(w);
	jw_kstr(w, "finish_reason", finish);
	jw_obj_end(w);
	jw_arr_end(w);
	if (c->include_usage) {
		jw_key(w, "usage");
		jw_null(w);
	}
	jw_obj_end(w);
	sse_end(ev);
}

static void openai_usage(struct jw *w, const struct mock_ctx *c)
{
	jw_key(w, "usage");
	jw_obj(w);
	jw_kint(w, "prompt_tokens", c->input_tokens + c->cache_read + c->cache_creation);
	jw_kint(w, "completion_tokens", c->output_tokens);
	jw_kint(w, "total_tokens",
	        c->input_tokens + c->cache_read + c->cache_creation + c->output_tokens);
	jw_key(w, "prompt_tokens_details");
	jw_obj(w);
	jw_kint(w, "cached_tokens", c->cache_read);
	jw_obj_end(w);
	jw_key(w, "completion_tokens_details");
	jw_obj(w);
	jw_kint(w, "reasoning_tokens", 0);
	jw_obj_end(w);
	jw_obj_end(w);
}

static int has_text(const struct mock_reply *r)
{
	for (int i = 0; i < r->nblocks; i++)
		if (r->blocks[i].type == MOCK_TEXT)
			return 1;
	return 0;
}

static void openai_tool_deltas(struct mock_events *out, const struct mock_ctx *c, int i, int k)
{
	const struct mock_block *b = &c->r->blocks[i];
	struct piece p[3];
	struct jw w;
	char *id = tool_id(c, i, "call_mock_");
	struct buf *ev = chunk_begin(out, c, &w);
	jw_key(&w, "tool_calls");
	jw_arr(&w);
	jw_obj(&w);
	jw_kint(&w, "index", k);
	jw_kstr(&w, "id", id);
	jw_kstr(&w, "type", "function");
	jw_key(&w, "function");
	jw_obj(&w);
	jw_kstr(&w, "name", b->name);
	jw_kstr(&w, "arguments", "");
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_arr_end(&w);
	chunk_end(ev, &w, c, NULL);
	free(id);

	int n = split_input(b->input, p);
	for (int q = 0; q < n; q++) {
		ev = chunk_begin(out, c, &w);
		jw_key(&w, "tool_calls");
		jw_arr(&w);
		jw_obj(&w);
		jw_kint(&w, "index", k);
		jw_key(&w, "function");
		jw_obj(&w);
		jw_key(&w, "arguments");
		jw_strn(&w, b->input + p[q].off, p[q].len);
		jw_obj_end(&w);
		jw_obj_end(&w);
		jw_arr_end(&w);
		chunk_end(ev, &w, c, NULL);
	}
}

void mock_openai_stream(const struct mock_ctx *c, struct mock_events *out)
{
	const struct mock_reply *r = c->r;
	struct jw w;
	struct buf *ev = chunk_begin(out, c, &w);
	jw_kstr(&w, "role", "assistant");
	jw_kstr(&w, "content", has_text(r) ? "" : NULL);
	jw_key(&w, "refusal");
	jw_null(&w);
	chunk_end(ev, &w, c, NULL);

	int ntool = 0;
	for (int i = 0; i < r->nblocks; i++) {
		const struct mock_block *b = &r->blocks[i];
		if (b->type == MOCK_TOOL_USE) {
			openai_tool_deltas(out, c, i, ntool++);
			continue;
		}
		int n;
		struct piece *p = text_pieces(c, b, &n);
		for (int k = 0; k < n; k++) {
			ev = chunk_begin(out, c, &w);
			jw_key(&w, "content");
			jw_strn(&w, b->text + p[k].off, p[k].len);
			chunk_end(ev, &w, c, NULL);
		}
		free(p);
	}

	if (r->has_error_event) {
		ev = sse_begin(out, NULL, &w);
		mock_openai_error(ev, r->event_error_type, r->event_error_message);
		sse_end(ev);
		return;
	}

	ev = chunk_begin(out, c, &w);
	chunk_end(ev, &w, c, mock_finish_reason(mock_reply_stop_reason(r)));
	if (c->include_usage) {
		ev = sse_begin(out, NULL, &w);
		jw_obj(&w);
		openai_head(&w, c, "chat.completion.chunk");
		jw_key(&w, "choices");
		jw_arr(&w);
		jw_arr_end(&w);
		openai_usage(&w, c);
		jw_obj_end(&w);
		sse_end(ev);
	}
	buf_adds(new_event(out), "data: [DONE]\n\n");
}

void mock_openai_completion(const struct mock_ctx *c, struct buf *out)
{
	const struct mock_reply *r = c->r;
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	openai_head(&w, c, "chat.completion");
	jw_key(&w, "choices");
	jw_arr(&w);
	jw_obj(&w);
	jw_kint(&w, "index", 0);
	jw_key(&w, "message");
	jw_obj(&w);
	jw_kstr(&w, "role", "assistant");
	jw_key(&w, "content");
	if (has_text(r)) {
		struct buf text = BUF_INIT;
		for (int i = 0; i < r->nblocks; i++)
			if (r->blocks[i].type == MOCK_TEXT)
				buf_add(&text, r->blocks[i].text, r->blocks[i].text_len);
		jw_strn(&w, text.p ? text.p : "", text.len);
		buf_free(&text);
	} else {
		jw_null(&w);
	}
	jw_key(&w, "refusal");
	jw_null(&w);
	int started = 0;
	for (int i = 0; i < r->nblocks; i++) {
		const struct mock_block *b = &r->blocks[i];
		if (b->type != MOCK_TOOL_USE)
			continue;
		if (!started) {
			jw_key(&w, "tool_calls");
			jw_arr(&w);
			started = 1;
		}
		char *id = tool_id(c, i, "call_mock_");
		jw_obj(&w);
		jw_kstr(&w, "id", id);
		jw_kstr(&w, "type", "function");
		jw_key(&w, "function");
		jw_obj(&w);
		jw_kstr(&w, "name", b->name);
		jw_kstr(&w, "arguments", b->input);
		jw_obj_end(&w);
		jw_obj_end(&w);
		free(id);
	}
	if (started)
		jw_arr_end(&w);
	jw_obj_end(&w); /* message */
	jw_key(&w, "logprobs");
	jw_null(&w);
	jw_kstr(&w, "finish_reason", mock_finish_reason(mock_reply_stop_reason(r)));
	jw_obj_end(&w);
	jw_arr_end(&w);
	openai_usage(&w, c);
	jw_obj_end(&w);
}

void mock_openai_error(struct buf *out, const char *type, const char *msg)
{
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_key(&w, "error");
	jw_obj(&w);
	jw_kstr(&w, "message", msg);
	jw_kstr(&w, "type", type);
	jw_key(&w, "param");
	jw_null(&w);
	jw_key(&w, "code");
	jw_null(&w);
	jw_obj_end(&w);
	jw_obj_end(&w);
}
