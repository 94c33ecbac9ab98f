/*
 * agent — the tool loop of one stage (see agent.h for the contract).
 *
 * Guarantees: every line is built whole and handed to conv_emit() as it
 * is produced; a tool_result block sent to the model holds exactly the
 * content its tool_result line shows (both capped by tools_run); an
 * unknown tool or a bad tool input is an is_error result for the model,
 * never a failure of the stage; a failed write to out_fd stops the loop
 * at the next line (exit 70), since the reader is gone or the disk full.
 */
#include "agent.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "json.h"
#include "log.h"
#include "provider.h"
#include "respcache.h"

void agent_init(struct agent *a, const char *name)
{
	memset(a, 0, sizeof *a);
	a->name = name;
	a->emit_message = 1;
	a->out_fd = 1;
	a->req.stream = 1;
	a->req.temperature = -1;
}

void agent_add_tool(struct agent *a, const struct tool *t)
{
	a->tools = xrealloc(a->tools, (a->ntools + 1) * sizeof *a->tools);
	a->tools[a->ntools++] = t;
	a->req.tools = xrealloc(a->req.tools, (a->req.ntools + 1) * sizeof *a->req.tools);
	tools_describe(t, &a->req.tools[a->req.ntools++]);
}

static struct llm_msg *add_msg(struct agent *a, enum llm_role role)
{
	a->req.msgs = xrealloc(a->req.msgs, (a->req.nmsgs + 1) * sizeof *a->req.msgs);
	struct llm_msg *m = &a->req.msgs[a->req.nmsgs++];
	memset(m, 0, sizeof *m);
	m->role = role;
	return m;
}

void agent_add_user_text(struct agent *a, const char *text)
{
	struct llm_block *b = llm_msg_add(add_msg(a, LLM_USER), LLM_TEXT);
	b->text = xstrdup(text);
}

void agent_free(struct agent *a)
{
	llm_request_free(&a->req);
	free(a->tools);
	free(a->final_text);
	a->tools = NULL;
	a->ntools = 0;
	a->final_text = NULL;
}

static int fail(struct agent *a, const char *kind, int retryable, int code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(struct agent *a, const char *kind, int retryable, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->err.message, sizeof a->err.message, fmt, ap);
	va_end(ap);
	a->err.kind = kind;
	a->err.retryable = retryable;
	a->err.exit_code = code;
	log_error("agent_error", "%s: %s", kind, a->err.message);
	return code;
}

/* Writes a finished line; remembers the first failure. */
static void emit(struct agent *a, struct buf *line)
{
	if (!a->write_failed && conv_emit(a->out_fd, line) < 0)
		a->write_failed = errno ? errno : EIO;
	buf_free(line);
}

static void on_text(void *ctx, const char *s, size_t n)
{
	struct agent *a = ctx;
	if (!a->stream_deltas || !n)
		return;
	struct buf b = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &b, "delta", a->name);
	jw_key(&w, "text");
	jw_strn(&w, s, n);
	conv_line_end(&w);
	emit(a, &b);
}

static void on_retry(void *ctx, int attempt, const struct llm_error *why, int64_t delay_ms)
{
	struct agent *a = ctx;
	struct buf b = BUF_INIT;
	struct jw w;
	char detail[800], status[32] = "";
	if (why->http_status)
		snprintf(status, sizeof status, ", HTTP %d", why->http_status);
	snprintf(detail, sizeof detail, "attempt %d failed (%s%s): %s; retrying in %lld ms",
	         attempt, llm_err_kind_name(why->kind), status, why->message, (long long)delay_ms);
	conv_line_begin(&w, &b, "event", NULL);
	jw_kstr(&w, "event", "retry");
	jw_kstr(&w, "agent", a->name);
	jw_kint(&w, "attempt", attempt + 1);
	jw_kstr(&w, "detail", detail);
	conv_line_end(&w);
	emit(a, &b);
}

static void emit_usage(struct agent *a, const struct llm_response *r, int cached)
{
	const char *model = r->model && *r->model ? r->model : a->req.model;
	const struct model_price *p = a->cfg ? config_price(a->cfg, model) : NULL;
	if (!p && a->cfg)
		p = config_price(a->cfg, a->req.model);
	double cost = config_cost(p, &r->usage);
	a->cost_usd += cost;
	struct buf b = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &b, "usage", a->name);
	jw_kstr(&w, "provider", a->provider ? a->provider : a->ep->provider->name);
	jw_kstr(&w, "model", model);
	jw_kint(&w, "input_tokens", r->usage.input_tokens);
	jw_kint(&w, "output_tokens", r->usage.output_tokens);
	jw_kint(&w, "cache_creation_input_tokens", r->usage.cache_creation_input_tokens);
	jw_kint(&w, "cache_read_input_tokens", r->usage.cache_read_input_tokens);
	jw_knum(&w, "cost_usd", cost);
	jw_kint(&w, "latency_ms", r->latency_ms);
	jw_kint(&w, "ttft_ms", r->ttft_ms);
	jw_kint(&w, "attempt", r->attempts);
	jw_kbool(&w, "cached", cached);
	conv_line_end(&w);
	emit(a, &b);
	log_info("api_call",
	         "model=%s in=%lld out=%lld cache_write=%lld cache_read=%lld cost=%.6f "
	         "latency_ms=%lld ttft_ms=%lld attempts=%d stop=%s cached=%d",
	         model, r->usage.input_tokens, r->usage.output_tokens,
	         r->usage.cache_creation_input_tokens, r->usage.cache_read_input_tokens, cost,
	         (long long)r->latency_ms, (long long)r->ttft_ms, r->attempts,
	         r->stop_reason ? r->stop_reason : "?", cached);
}

static int is_object(const char *s)
{
	struct json j;
	if (!s || json_parse(&j, s, strlen(s), NULL) < 0)
		return 0;
	int ok = json_type(&j, 0) == JSON_OBJECT;
	json_free(&j);
	return ok;
}

static const struct tool *find_tool(const struct agent *a, const char *name)
{
	for (size_t i = 0; i < a->ntools; i++)
		if (name && !strcmp(a->tools[i]->name, name))
			return a->tools[i];
	return NULL;
}

/* Runs one call: tool_use line, the tool, tool_result line; the result
 * block goes into results (a user message). */
static void run_call(struct agent *a, const struct llm_block *call, struct llm_msg *results)
{
	struct buf b = BUF_INIT;
	struct jw w;
	int input_ok = is_object(call->input);
	conv_line_begin(&w, &b, "tool_use", a->name);
	jw_kstr(&w, "id", call->id);
	jw_kstr(&w, "name", call->name ? call->name : "");
	jw_key(&w, "input");
	if (input_ok)
		jw_raw(&w, call->input, strlen(call->input));
	else
		jw_raw(&w, "{}", 2);
	conv_line_end(&w);
	emit(a, &b);

	struct tool_result res = {0};
	const struct tool *t = find_tool(a, call->name);
	int64_t t0 = mono_ms();
	if (!t) {
		tool_fail(&res, "unknown tool '%s'; the tools are:", call->name ? call->name : "");
		for (size_t i = 0; i < a->ntools; i++)
			buf_addf(&res.text, "%s %s", i ? "," : "", a->tools[i]->name);
		if (!a->ntools)
			buf_adds(&res.text, " none");
	} else if (!input_ok) {
		tool_fail(&res, "the input of '%s' is not a JSON object", t->name);
	} else {
		tools_run(t, a->tctx, call->input, strlen(call->input), &res);
	}
	log_info("tool", "name=%s is_error=%d bytes=%zu ms=%lld", call->name ? call->name : "",
	         res.is_error, res.text.len, (long long)(mono_ms() - t0));

	conv_line_begin(&w, &b, "tool_result", a->name);
	jw_kstr(&w, "tool_use_id", call->id);
	jw_key(&w, "content");
	jw_strn(&w, res.text.p ? res.text.p : "", res.text.len);
	jw_kbool(&w, "is_error", res.is_error);
	conv_line_end(&w);
	emit(a, &b);

	struct llm_block *rb = llm_msg_add(results, LLM_TOOL_RESULT);
	rb->id = xstrdup(call->id);
	rb->is_error = res.is_error;
	rb->text = buf_detach(&res.text, NULL);
}

/* The exit code and kind for an llm error. */
static int llm_fail(struct agent *a, const struct llm_error *e)
{
	switch (e->kind) {
	case LLM_ERR_AUTH:
		return fail(a, "auth", 0, 77, "%s", e->message);
	case LLM_ERR_CONFIG:
		return fail(a, "config", 0, 78, "%s", e->message);
	case LLM_ERR_INTERRUPTED:
		return fail(a, "interrupted", 1, 75, "%s", e->message);
	default:
		return fail(a, llm_err_kind_name(e->kind), e->retryable, 69, "%s", e->message);
	}
}

static void emit_message(struct agent *a, const char *text)
{
	struct buf b = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &b, "message", a->name);
	jw_kstr(&w, "role", "assistant");
	jw_kstr(&w, "text", text);
	conv_line_end(&w);
	emit(a, &b);
}

int agent_run(struct agent *a)
{
	int max_turns = a->max_turns > 0 ? a->max_turns : 30;
	struct llm_hooks hooks = {a, on_text, on_retry, a->abort};
	memset(&a->err, 0, sizeof a->err);
	for (;;) {
		if (a->write_failed)
			return fail(a, "io", 0, 70, "cannot write the conversation: %s",
			            strerror(a->write_failed));
		if (a->abort && *a->abort)
			return fail(a, "interrupted", 1, 75, "interrupted");
		if (a->turns >= max_turns)
			return fail(a, "limit", 0, 75,
			            "reached max_turns (%d API calls) before the model finished",
			            max_turns);

		struct llm_response resp;
		struct llm_error lerr;
		memset(&resp, 0, sizeof resp);
		resp.ttft_ms = -1;
		a->turns++;
		/* The response cache: a hit replays the stored response (its
		 * text as one delta); a miss stores what the API answered. */
		char key[RESPCACHE_KEY_LEN + 1] = "";
		int cached = a->cache && respcache_key(a->ep, &a->req, key) == 0 &&
		             respcache_get(a->cache, key, &resp) == 1;
		if (cached) {
			on_text(a, resp.text.p, resp.text.len);
		} else if (llm_call(a->ep, &a->req, a->retry, &hooks, &resp, &lerr) < 0) {
			llm_response_free(&resp);
			return llm_fail(a, &lerr);
		} else if (a->cache && respcache_put(a->cache, key, &resp, lerr.message,
		                                     sizeof lerr.message) < 0) {
			log_warn("cache_store", "%s", lerr.message);
		}
		emit_usage(a, &resp, cached);

		const char *stop = resp.stop_reason ? resp.stop_reason : "";
		if (!resp.ncalls) {
			/* The model ended its turn. */
			if (!resp.text.len) {
				llm_response_free(&resp);
				return fail(
				    a, "api", 0, 69,
				    "the model ended its turn without any text (stop_reason "
				    "'%s')",
				    stop);
			}
			if (!strcmp(stop, "max_tokens"))
				log_warn("max_tokens", "the final text was cut at max_tokens (%d)",
				         a->req.max_tokens);
			free(a->final_text);
			a->final_text = xstrndup(resp.text.p, resp.text.len);
			struct llm_block *tb = llm_msg_add(add_msg(a, LLM_ASSISTANT), LLM_TEXT);
			tb->text = xstrdup(a->final_text);
			llm_response_free(&resp);
			if (a->emit_message)
				emit_message(a, a->final_text);
			if (a->write_failed)
				return fail(a, "io", 0, 70, "cannot write the conversation: %s",
				            strerror(a->write_failed));
			return 0;
		}
		if (!strcmp(stop, "max_tokens"))
			for (size_t i = 0; i < resp.ncalls; i++)
				if (!is_object(resp.calls[i].input)) {
					llm_response_free(&resp);
					return fail(
					    a, "protocol", 0, 69,
					    "the reply hit max_tokens (%d) inside a tool call; "
					    "raise max_tokens in agent_config.json",
					    a->req.max_tokens);
				}

		/* The assistant turn as the model gave it, then the results. */
		struct llm_msg *am = add_msg(a, LLM_ASSISTANT);
		if (resp.text.len)
			llm_msg_add(am, LLM_TEXT)->text = xstrndup(resp.text.p, resp.text.len);
		for (size_t i = 0; i < resp.ncalls; i++) {
			struct llm_block *src = &resp.calls[i];
			struct llm_block *cb = llm_msg_add(am, LLM_TOOL_USE);
			cb->id = src->id && *src->id ? xstrdup(src->id)
			                             : xasprintf("toolu_bl_%d_%zu", a->turns, i);
			cb->name = xstrdup(src->name ? src->name : "");
			cb->input = xstrdup(src->input && *src->input ? src->input : "{}");
		}
		llm_response_free(&resp);
		struct llm_msg results = {LLM_USER, NULL, 0};
		size_t ai = a->req.nmsgs - 1;
		for (size_t i = 0; i < a->req.msgs[ai].nblocks; i++) {
			const struct llm_block *cb = &a->req.msgs[ai].blocks[i];
			if (cb->kind == LLM_TOOL_USE)
				run_call(a, cb, &results);
		}
		*add_msg(a, LLM_USER) = results;
		if (a->tctx && a->tctx->end_stage) {
			a->ended_by_tool = 1;
			return a->write_failed
			           ? fail(a, "io", 0, 70, "cannot write the conversation: %s",
			                  strerror(a->write_failed))
			           : 0;
		}
	}
}
