/*
 * llm — the provider-neutral model call (see llm.h): endpoints from the
 * environment, request dumps with secrets redacted, the stream decoder
 * frame shared by the providers, and llm_call()'s retry loop.
 *
 * Retry policy (DESIGN §5), decided here once for every provider:
 * connection errors, timeouts/stalls, 408, 409, 429, 5xx (529 included),
 * an error event mid-stream (unless its type is a permanent one) and a
 * stream cut before its end marker are retried, up to max_attempts
 * attempts in all; x-should-retry: true/false from the server overrides
 * the status table.  The delay is the server's retry-after-ms or
 * retry-after when it is between 0 and 60 s (as the official SDKs do),
 * else min(base·2^n, max) ± jitter.  Sleeping is done in 50 ms slices
 * so *abort is honoured at once.  A text delta already passed to
 * on_text by a failed attempt is not taken back: the retry streams its
 * text again from the start.
 *
 * Timing: latency_ms and ttft_ms count from the start of the attempt
 * that succeeded (so retries and backoff do not inflate a model's
 * latency); attempts says how many were made.
 */
#include "llm.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "json.h"
#include "log.h"
#include "provider.h"

const char *llm_err_kind_name(enum llm_err_kind k)
{
	switch (k) {
	case LLM_OK:
		return "ok";
	case LLM_ERR_API:
		return "api";
	case LLM_ERR_AUTH:
		return "auth";
	case LLM_ERR_RATE_LIMIT:
		return "rate_limit";
	case LLM_ERR_TIMEOUT:
		return "timeout";
	case LLM_ERR_PROTOCOL:
		return "protocol";
	case LLM_ERR_INTERRUPTED:
		return "timeout"; /* DESIGN §3: an interrupted stage reports timeout */
	case LLM_ERR_CONFIG:
		return "config";
	}
	return "api";
}

const struct llm_provider *llm_provider_find(const char *name)
{
	if (!name)
		return NULL;
	if (strcmp(name, "anthropic") == 0)
		return &llm_provider_anthropic;
	if (strcmp(name, "openai") == 0)
		return &llm_provider_openai;
	return NULL;
}

static void verror_set(struct llm_error *err, enum llm_err_kind kind, int retryable,
                       const char *type, const char *fmt, va_list ap)
{
	memset(err, 0, sizeof *err);
	err->kind = kind;
	err->retryable = retryable;
	err->retry_after_ms = -1;
	snprintf(err->type, sizeof err->type, "%s", type ? type : "");
	vsnprintf(err->message, sizeof err->message, fmt, ap);
}

void llm_error_set(struct llm_error *err, enum llm_err_kind kind, int retryable, const char *type,
                   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verror_set(err, kind, retryable, type, fmt, ap);
	va_end(ap);
}

/* A key from the environment, trimmed; NULL when unset or blank.  -1
 * when it holds a control character (it would corrupt the headers). */
static int env_key(const char *name, char **out)
{
	*out = NULL;
	const char *v = getenv(name);
	if (!v)
		return 0;
	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	size_t n = strlen(v);
	while (n > 0 &&
	       (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return -1;
	if (n > 0)
		*out = xstrndup(v, n);
	return 0;
}

int llm_endpoint_from_env(struct llm_endpoint *ep, const char *provider, struct llm_error *err)
{
	struct llm_error scratch;
	if (!err)
		err = &scratch;
	memset(ep, 0, sizeof *ep);
	memset(err, 0, sizeof *err);
	err->retry_after_ms = -1;
	ep->connect_timeout_s = 30;
	ep->idle_timeout_s = 300;

	const struct llm_provider *p = llm_provider_find(provider ? provider : "anthropic");
	if (!p) {
		llm_error_set(err, LLM_ERR_CONFIG, 0, "",
		              "unknown provider '%s' (known: anthropic, openai)", provider);
		return -1;
	}
	int anthropic = p == &llm_provider_anthropic;
	const char *base_var = anthropic ? "ANTHROPIC_BASE_URL" : "OPENAI_BASE_URL";
	const char *base = getenv(base_var);
	if (!base || !*base)
		base = p->default_base_url;
	if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0) {
		llm_error_set(err, LLM_ERR_CONFIG, 0, "", "%s '%.200s' is not an http(s) URL",
		              base_var, base);
		return -1;
	}
	size_t n = strlen(base);
	while (n > 0 && base[n - 1] == '/')
		n--;
	ep->provider = p;
	ep->base_url = xstrndup(base, n);

	const char *bad = NULL;
	if (anthropic) {
		if (env_key("ANTHROPIC_API_KEY", &ep->api_key) < 0)
			bad = "ANTHROPIC_API_KEY";
		else if (!ep->api_key) {
			if (env_key("ANTHROPIC_AUTH_TOKEN", &ep->api_key) < 0)
				bad = "ANTHROPIC_AUTH_TOKEN";
			ep->key_is_bearer = ep->api_key != NULL;
		}
		if (!bad && !ep->api_key) {
			const char *oauth = getenv("CLAUDE_CODE_OAUTH_TOKEN");
			if (oauth && *oauth)
				llm_error_set(
				    err, LLM_ERR_AUTH, 0, "",
				    "CLAUDE_CODE_OAUTH_TOKEN is a Claude subscription token for "
				    "Anthropic's own clients; better-llm never sends it. Set "
				    "ANTHROPIC_API_KEY, or use provider \"claude-code\" (runs the "
				    "official claude CLI).");
			else
				llm_error_set(err, LLM_ERR_AUTH, 0, "",
				              "ANTHROPIC_API_KEY is not set");
			llm_endpoint_free(ep);
			return -1;
		}
	} else if (env_key("OPENAI_API_KEY", &ep->api_key) < 0) {
		bad = "OPENAI_API_KEY";
	}
	if (bad) {
		llm_error_set(err, LLM_ERR_AUTH, 0, "", "%s holds a control character", bad);
		llm_endpoint_free(ep);
		return -1;
	}
	return 0;
}

void llm_endpoint_free(struct llm_endpoint *ep)
{
	free(ep->base_url);
	free(ep->api_key);
	memset(ep, 0, sizeof *ep);
}

char *llm_url(const struct llm_endpoint *ep)
{
	const char *base = ep->base_url ? ep->base_url : ep->provider->default_base_url;
	const char *path = ep->provider->path;
	size_t n = strlen(base);
	if (n >= 3 && strcmp(base + n - 3, "/v1") == 0 && strncmp(path, "/v1/", 4) == 0)
		path += 3;
	return xasprintf("%s%s", base, path);
}

void llm_request_body(const struct llm_endpoint *ep, const struct llm_request *req, struct buf *out)
{
	ep->provider->body(req, out);
}

void llm_request_dump(const struct llm_endpoint *ep, const struct llm_request *req, struct buf *out)
{
	char *url = llm_url(ep);
	buf_addf(out, "POST %s\n", url);
	free(url);
	ep->provider->headers(ep, 0, 1, out);
	buf_addc(out, '\n');
	ep->provider->body(req, out);
	buf_addc(out, '\n');
}

/* ---- the stream frame shared by the decoders ---- */

static int on_sse_event(void *ctx, const struct sse_event *ev)
{
	struct llm_stream *st = ctx;
	if (st->failed)
		return 1;
	if (st->prov->event(st, ev) != 0 && !st->failed)
		llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "", "cannot decode event '%.40s'",
		                ev->event);
	return st->failed ? 1 : 0;
}

void llm_stream_init(struct llm_stream *st, const struct llm_provider *prov,
                     struct llm_response *resp, const struct llm_hooks *hooks)
{
	memset(st, 0, sizeof *st);
	st->prov = prov;
	st->resp = resp;
	st->hooks = hooks;
	st->t0 = mono_ms();
	st->err.retry_after_ms = -1;
	resp->ttft_ms = -1;
	sse_init(&st->sse, on_sse_event, st);
	st->state = prov->state_new();
}

static void check_sse(struct llm_stream *st, int rc)
{
	if (rc == -1 && !st->failed)
		llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "",
		                "event stream line or event data too large");
}

int llm_stream_feed(struct llm_stream *st, const char *p, size_t n)
{
	if (st->failed)
		return -1;
	check_sse(st, sse_feed(&st->sse, p, n));
	return st->failed ? -1 : 0;
}

int llm_stream_finish(struct llm_stream *st, struct llm_error *err)
{
	st->eof = 1;
	if (!st->failed)
		check_sse(st, sse_finish(&st->sse));
	if (!st->failed && st->prov->end(st) != 0 && !st->failed)
		llm_stream_fail(st, LLM_ERR_PROTOCOL, 0, "", "incomplete stream");
	if (st->failed) {
		if (err)
			*err = st->err;
		return -1;
	}
	return 0;
}

void llm_stream_free(struct llm_stream *st)
{
	sse_free(&st->sse);
	if (st->state)
		st->prov->state_free(st->state);
	st->state = NULL;
}

int llm_stream_fail(struct llm_stream *st, enum llm_err_kind kind, int retryable, const char *type,
                    const char *fmt, ...)
{
	if (st->failed)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	verror_set(&st->err, kind, retryable, type, fmt, ap);
	va_end(ap);
	st->failed = 1;
	return -1;
}

void llm_stream_mark_content(struct llm_stream *st)
{
	if (st->resp->ttft_ms < 0)
		st->resp->ttft_ms = mono_ms() - st->t0;
}

void llm_stream_text(struct llm_stream *st, const char *s, size_t n)
{
	if (n == 0)
		return;
	llm_stream_mark_content(st);
	buf_add(&st->resp->text, s, n);
	if (st->hooks && st->hooks->on_text)
		st->hooks->on_text(st->hooks->ctx, s, n);
}

void llm_response_add_call(struct llm_response *resp, const char *id, const char *name,
                           const char *input, size_t input_len)
{
	resp->calls = xrealloc(resp->calls, (resp->ncalls + 1) * sizeof *resp->calls);
	struct llm_block *b = &resp->calls[resp->ncalls++];
	memset(b, 0, sizeof *b);
	b->kind = LLM_TOOL_USE;
	b->id = xstrdup(id ? id : "");
	b->name = xstrdup(name ? name : "");
	b->input = xstrndup(input, input_len);
}

void llm_jw_object(struct jw *w, const char *json, const char *fallback)
{
	struct json j;
	if (json && json_parse(&j, json, strlen(json), NULL) == 0) {
		int obj = json_type(&j, 0) == JSON_OBJECT;
		json_free(&j);
		if (obj) {
			jw_raw(w, json, strlen(json));
			return;
		}
	}
	jw_raw(w, fallback, strlen(fallback));
}

void llm_body_excerpt(const char *body, size_t n, char *out, size_t cap)
{
	if (cap < 4) {
		if (cap)
			out[0] = '\0';
		return;
	}
	size_t o = 0, room = cap - 4; /* keep room for "..." and NUL */
	int space = 0, cut = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)body[i];
		if (c < 0x20 || c == 0x7f) {
			space = o > 0;
			continue;
		}
		if (o + (size_t)space + 1 > room) {
			cut = 1;
			break;
		}
		if (space)
			out[o++] = ' ';
		space = 0;
		out[o++] = (char)c;
	}
	if (cut) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	if (cap > 0)
		out[o] = '\0';
}

/* ---- retry policy ---- */

void llm_classify_status(int status, int should_retry, enum llm_err_kind *kind, int *retryable)
{
	if (status == 401 || status == 403)
		*kind = LLM_ERR_AUTH;
	else if (status == 429)
		*kind = LLM_ERR_RATE_LIMIT;
	else
		*kind = LLM_ERR_API;
	if (should_retry == 0 || should_retry == 1)
		*retryable = should_retry;
	else
		*retryable = status == 408 || status == 409 || status == 429 || status >= 500;
}

int llm_error_type_retryable(const char *type)
{
	static const char *const permanent[] = {
	    "invalid_request_error", "authentication_error", "permission_error",
	    "not_found_error",       "request_too_large",    "billing_error",
	};
	if (!type)
		return 1;
	for (size_t i = 0; i < sizeof permanent / sizeof *permanent; i++)
		if (strcmp(type, permanent[i]) == 0)
			return 0;
	return 1;
}

int64_t llm_backoff_ms(const struct llm_retry *r, int n, int64_t retry_after_ms, double rand01)
{
	if (retry_after_ms >= 0 && retry_after_ms <= 60000)
		return retry_after_ms;
	double base = r && r->base_delay_s >= 0 ? r->base_delay_s : 1.0;
	double max = r && r->max_delay_s > 0 ? r->max_delay_s : 60.0;
	double jitter = r && r->jitter >= 0 ? r->jitter : 0.1;
	double d = base * pow(2.0, n < 0 ? 0 : n > 62 ? 62 : n);
	if (d > max)
		d = max;
	d *= 1.0 + jitter * (2.0 * rand01 - 1.0);
	if (d < 0)
		d = 0;
	return (int64_t)llround(d * 1000.0);
}

static double rand01(void)
{
	static uint64_t s;
	if (!s)
		s = (((uint64_t)mono_ms() << 20) ^ (uint64_t)getpid() ^
		     ((uint64_t)time(NULL) << 40)) |
		    1;
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return (double)((s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* ---- llm_call ---- */

enum body_mode { MODE_UNDECIDED, MODE_STREAM, MODE_BUFFER };

struct attempt {
	struct llm_stream st;
	enum body_mode mode;
	int want_stream;
	struct buf body;
	int too_large;
};

static int is_2xx(long status)
{
	return status >= 200 && status < 300;
}

static int on_body(void *ctx, const struct http_response *hr, const char *p, size_t n)
{
	struct attempt *a = ctx;
	if (a->mode == MODE_UNDECIDED) {
		const char *ct = hr->content_type;
		int sse = strncmp(ct, "text/event-stream", 17) == 0 || (!*ct && a->want_stream);
		a->mode = is_2xx(hr->status) && sse ? MODE_STREAM : MODE_BUFFER;
	}
	if (a->mode == MODE_STREAM)
		return llm_stream_feed(&a->st, p, n) ? 1 : 0;
	size_t cap = is_2xx(hr->status) ? (size_t)64 << 20 : (size_t)64 << 10;
	if (a->body.len + n > cap) {
		a->too_large = is_2xx(hr->status);
		buf_add(&a->body, p, cap - a->body.len);
		return 1;
	}
	buf_add(&a->body, p, n);
	return 0;
}

/* One attempt: 0 with resp filled, or -1 with *err. */
static int attempt_once(const struct llm_endpoint *ep, const char *url, const struct buf *reqbody,
                        const struct llm_request *req, int n, const struct llm_hooks *hooks,
                        struct llm_response *resp, struct llm_error *err)
{
	const struct llm_provider *p = ep->provider;
	struct attempt a = {.want_stream = req->stream};
	struct buf headers = BUF_INIT;
	struct http_response hr;
	char why[256];
	int rc = -1;

	p->headers(ep, n, 0, &headers);
	llm_stream_init(&a.st, p, resp, hooks);
	struct http_opts o = {ep->connect_timeout_s, ep->idle_timeout_s,
	                      hooks ? hooks->abort : NULL};
	enum http_result res = http_post(url, headers.p, reqbody->p, reqbody->len, &o, on_body, &a,
	                                 &hr, why, sizeof why);

	if (res == HTTP_ERR_ABORTED) {
		llm_error_set(err, LLM_ERR_INTERRUPTED, 0, "", "interrupted");
	} else if (a.mode == MODE_STREAM && (res == HTTP_OK || res == HTTP_ERR_SINK || a.st.done)) {
		rc = llm_stream_finish(&a.st, err);
	} else if (a.mode == MODE_STREAM) {
		/* The transport failed mid-stream: a cut, retried. */
		if (a.st.failed)
			*err = a.st.err;
		else
			llm_error_set(err, res == HTTP_ERR_TIMEOUT ? LLM_ERR_TIMEOUT : LLM_ERR_API,
			              1, "", "stream %s: %s",
			              res == HTTP_ERR_TIMEOUT ? "stalled" : "cut before its end",
			              why);
	} else if (res != HTTP_OK && !(res == HTTP_ERR_SINK && !a.too_large)) {
		if (a.too_large)
			llm_error_set(err, LLM_ERR_PROTOCOL, 0, "", "response body too large");
		else if (res == HTTP_ERR_TIMEOUT)
			llm_error_set(err, LLM_ERR_TIMEOUT, 1, "", "request timed out: %s", why);
		else
			llm_error_set(err, LLM_ERR_API, res == HTTP_ERR_CONNECT, "",
			              "request failed: %s", why);
	} else if (is_2xx(hr.status)) {
		if (a.body.len == 0)
			llm_error_set(err, LLM_ERR_PROTOCOL, 1, "",
			              "empty response body (HTTP %ld)", hr.status);
		else
			rc = p->parse_body(a.body.p, a.body.len, resp, hooks, err);
		if (rc == 0 && resp->ttft_ms < 0 && (resp->text.len || resp->ncalls))
			resp->ttft_ms = mono_ms() - a.st.t0;
	} else {
		enum llm_err_kind kind;
		int retryable;
		llm_classify_status((int)hr.status, hr.should_retry, &kind, &retryable);
		llm_error_set(err, kind, retryable, "", "HTTP %ld", hr.status);
		p->parse_error((int)hr.status, a.body.p ? a.body.p : "", a.body.len, err);
	}
	if (rc != 0 && err->kind != LLM_ERR_INTERRUPTED) {
		err->http_status = (int)hr.status;
		if (err->retry_after_ms < 0)
			err->retry_after_ms = hr.retry_after_ms;
		if (hr.request_id[0]) {
			size_t len = strlen(err->message);
			snprintf(err->message + len, sizeof err->message - len, " (request-id %s)",
			         hr.request_id);
		}
	}
	if (rc == 0)
		resp->latency_ms = mono_ms() - a.st.t0;
	llm_stream_free(&a.st);
	buf_free(&a.body);
	buf_free(&headers);
	return rc;
}

/* Sleeps ms in slices; -1 when *abort became nonzero. */
static int sleep_abortable(int64_t ms, volatile int *abort)
{
	int64_t end = mono_ms() + ms;
	for (;;) {
		if (abort && *abort)
			return -1;
		int64_t left = end - mono_ms();
		if (left <= 0)
			return 0;
		if (left > 50)
			left = 50;
		struct timespec ts = {0, (long)left * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static void prefix_message(struct llm_error *err, const char *name)
{
	char tmp[sizeof err->message];
	size_t n = strlen(name);
	if (n + 2 >= sizeof tmp)
		return;
	memcpy(tmp, name, n);
	memcpy(tmp + n, ": ", 2);
	snprintf(tmp + n + 2, sizeof tmp - n - 2, "%.*s", (int)(sizeof tmp - n - 3), err->message);
	memcpy(err->message, tmp, sizeof tmp);
}

int llm_call(const struct llm_endpoint *ep, const struct llm_request *req,
             const struct llm_retry *retry, const struct llm_hooks *hooks,
             struct llm_response *resp, struct llm_error *err)
{
	struct llm_error scratch;
	if (!err)
		err = &scratch;
	memset(err, 0, sizeof *err);
	err->retry_after_ms = -1;
	if (!ep->provider) {
		llm_error_set(err, LLM_ERR_CONFIG, 0, "", "no provider");
		return -1;
	}
	const char *name = ep->provider->name;
	int max = retry && retry->max_attempts >= 1 ? retry->max_attempts : 3;
	char *url = llm_url(ep);
	struct buf body = BUF_INIT;
	ep->provider->body(req, &body);
	volatile int *abort = hooks ? hooks->abort : NULL;
	int rc = -1;

	for (int attempt = 1;; attempt++) {
		llm_response_free(resp);
		rc = attempt_once(ep, url, &body, req, attempt - 1, hooks, resp, err);
		if (rc == 0) {
			resp->attempts = attempt;
			break;
		}
		if (err->kind == LLM_ERR_INTERRUPTED)
			break;
		prefix_message(err, name);
		if (!err->retryable || attempt >= max) {
			log_warn("llm_error", "%s call failed after %d attempt(s): %s (%s)", name,
			         attempt, err->message, llm_err_kind_name(err->kind));
			break;
		}
		int64_t delay = llm_backoff_ms(retry, attempt - 1, err->retry_after_ms, rand01());
		log_warn("llm_retry", "attempt %d/%d failed: %s; retrying in %lld ms", attempt, max,
		         err->message, (long long)delay);
		if (hooks && hooks->on_retry)
			hooks->on_retry(hooks->ctx, attempt, err, delay);
		if (sleep_abortable(delay, abort) < 0) {
			llm_error_set(err, LLM_ERR_INTERRUPTED, 0, "", "interrupted");
			break;
		}
	}
	if (rc != 0)
		llm_response_free(resp);
	free(url);
	buf_free(&body);
	return rc;
}

/* ---- ownership ---- */

void llm_block_free(struct llm_block *b)
{
	free(b->text);
	free(b->id);
	free(b->name);
	free(b->input);
	memset(b, 0, sizeof *b);
}

void llm_msg_free(struct llm_msg *m)
{
	for (size_t i = 0; i < m->nblocks; i++)
		llm_block_free(&m->blocks[i]);
	free(m->blocks);
	m->blocks = NULL;
	m->nblocks = 0;
}

void llm_request_free(struct llm_request *r)
{
	free(r->model);
	free(r->system);
	for (size_t i = 0; i < r->ntools; i++) {
		free(r->tools[i].name);
		free(r->tools[i].description);
		free(r->tools[i].schema);
	}
	free(r->tools);
	for (size_t i = 0; i < r->nmsgs; i++)
		llm_msg_free(&r->msgs[i]);
	free(r->msgs);
	memset(r, 0, sizeof *r);
}

void llm_response_free(struct llm_response *r)
{
	buf_free(&r->text);
	for (size_t i = 0; i < r->ncalls; i++)
		llm_block_free(&r->calls[i]);
	free(r->calls);
	free(r->stop_reason);
	free(r->model);
	free(r->id);
	memset(r, 0, sizeof *r);
	r->ttft_ms = -1;
}

struct llm_block *llm_msg_add(struct llm_msg *m, enum llm_block_kind kind)
{
	m->blocks = xrealloc(m->blocks, (m->nblocks + 1) * sizeof *m->blocks);
	struct llm_block *b = &m->blocks[m->nblocks++];
	memset(b, 0, sizeof *b);
	b->kind = kind;
	return b;
}
