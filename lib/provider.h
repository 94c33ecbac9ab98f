/*
 * provider — the internal interface between llm.c and one wire protocol
 * (provider_anthropic.c, provider_openai.c), plus the pieces of llm.c
 * that tests and fuzzers drive directly: the stream decoder, the
 * HTTP-status classification and the backoff computation.
 *
 * A provider only translates: a request to headers and a JSON body, SSE
 * events or a whole JSON body to a struct llm_response, an HTTP error
 * body to an error type and message.  It never does I/O, never sleeps,
 * never retries.
 *
 * Guarantees of every decoder: any byte sequence, in any chunking, ends
 * in either a complete response (0) or one typed error (-1): never a
 * crash, never a half-filled response reported as success.  A tool
 * call's input is always a JSON object text once decoding succeeded.
 *
 * Ownership: decoders fill the caller's struct llm_response (which owns
 * its strings, see llm.h); struct llm_stream owns its parser and the
 * provider's state, released by llm_stream_free().
 */
#ifndef BL_PROVIDER_H
#define BL_PROVIDER_H

#include <stdint.h>

#include "json.h"
#include "llm.h"
#include "sse.h"
#include "util.h"

struct llm_stream;

struct llm_provider {
	const char *name;             /* "anthropic", "openai" */
	const char *path;             /* "/v1/messages" */
	const char *default_base_url; /* without trailing '/' */
	/* Appends "Name: value\n" lines; secrets shown as "[redacted]" when
	 * redact is set.  attempt: 0 for the first try, n for the n-th retry. */
	void (*headers)(const struct llm_endpoint *ep, int attempt, int redact, struct buf *out);
	/* Appends the JSON request body. */
	void (*body)(const struct llm_request *req, struct buf *out);
	/* Stream decoding: state_new() gives the state kept in st->state. */
	void *(*state_new)(void);
	void (*state_free)(void *state);
	/* One SSE event: 0, or -1 with st->err filled (the stream is failed). */
	int (*event)(struct llm_stream *st, const struct sse_event *ev);
	/* End of the stream: 0 when it was complete, else -1 with st->err. */
	int (*end)(struct llm_stream *st);
	/* A whole non-streamed 2xx body: 0, or -1 with *err filled. */
	int (*parse_body)(const char *body, size_t n, struct llm_response *resp,
	                  const struct llm_hooks *hooks, struct llm_error *err);
	/* An HTTP error body: fills err->type and err->message (which
	 * already says "HTTP <status>"); leaves them alone when the body says
	 * nothing usable. */
	void (*parse_error)(int status, const char *body, size_t n, struct llm_error *err);
};

extern const struct llm_provider llm_provider_anthropic;
extern const struct llm_provider llm_provider_openai;

/* A response being decoded from a stream. */
struct llm_stream {
	const struct llm_provider *prov;
	struct llm_response *resp;     /* borrowed: filled as events arrive */
	const struct llm_hooks *hooks; /* borrowed; may be NULL */
	int64_t t0;                    /* mono_ms() at request start, for ttft_ms */
	struct sse sse;
	void *state; /* the provider's */
	int done;    /* the provider saw the end marker (message_stop, [DONE]) */
	int eof;     /* input ended: an event now is the unterminated last one */
	int failed;  /* err holds the first error; later input is ignored */
	struct llm_error err;
};

/* Starts decoding into resp (zeroed by the caller, ttft_ms set to -1
 * here).  Release with llm_stream_free (resp stays the caller's). */
void llm_stream_init(struct llm_stream *st, const struct llm_provider *prov,
                     struct llm_response *resp, const struct llm_hooks *hooks);
/* Feeds stream bytes in any chunking.  0, or -1 once the stream failed
 * (st->err says why; further feeds are ignored). */
int llm_stream_feed(struct llm_stream *st, const char *p, size_t n);
/* End of input: 0 with resp complete, or -1 with *err (may be NULL). */
int llm_stream_finish(struct llm_stream *st, struct llm_error *err);
void llm_stream_free(struct llm_stream *st);

/* Helpers for decoders: record an error (first one wins), a text delta
 * (appended, on_text hook, ttft), the first content delta (ttft). */
int llm_stream_fail(struct llm_stream *st, enum llm_err_kind kind, int retryable, const char *type,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void llm_stream_text(struct llm_stream *st, const char *s, size_t n);
void llm_stream_mark_content(struct llm_stream *st);
/* Fills *err (cleared first); err->retry_after_ms = -1. */
void llm_error_set(struct llm_error *err, enum llm_err_kind kind, int retryable, const char *type,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Appends a tool call to resp; the strings are copied. */
void llm_response_add_call(struct llm_response *resp, const char *id, const char *name,
                           const char *input, size_t input_len);

/* Writes json (a JSON object text) as a raw value, or fallback when json
 * is NULL, invalid or not an object, so the body always parses. */
void llm_jw_object(struct jw *w, const char *json, const char *fallback);

/* A short, printable excerpt of a body that is not an API error object
 * (an HTML page from a proxy, say), for error messages; "" when empty. */
void llm_body_excerpt(const char *body, size_t n, char *out, size_t cap);

/* Kind and retryability of an HTTP status (DESIGN §5): 401/403 auth,
 * 429 rate_limit, else api; 408, 409, 429, 5xx (incl. 529) retryable.
 * should_retry is the x-should-retry header: 1 true, 0 false, -1 absent;
 * it overrides the table either way. */
void llm_classify_status(int status, int should_retry, enum llm_err_kind *kind, int *retryable);
/* Whether an API error type (as in error events and bodies) is worth a
 * retry: everything but the permanent ones (invalid_request_error,
 * authentication_error, permission_error, not_found_error,
 * request_too_large, billing_error). */
int llm_error_type_retryable(const char *type);

/* Delay in ms before retry number n (0 for the first retry):
 * retry_after_ms when 0 <= it <= 60000 (the server said so, as the
 * official SDKs do; a larger or absent value is ignored), else
 * min(base * 2^n, max) * (1 + jitter * (2 * rand01 - 1)), never < 0. */
int64_t llm_backoff_ms(const struct llm_retry *r, int n, int64_t retry_after_ms, double rand01);

/* The request URL: base_url + provider path, without doubling "/v1"
 * when base_url already ends in "/v1" (OPENAI_BASE_URL is conventionally
 * given with it, and bl-mockd without).  malloc'd. */
char *llm_url(const struct llm_endpoint *ep);

#endif
