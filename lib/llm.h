/*
 * llm — the provider-neutral model call: a request (system prompt, tools,
 * messages of text / tool_use / tool_result blocks), one streamed
 * response (text, tool calls, stop reason, usage), typed errors, and
 * the retry policy of DESIGN §5 around any provider.
 *
 * Providers (provider_anthropic.c, provider_openai.c) only translate:
 * request -> wire body and headers, wire stream -> struct llm_response.
 * llm_call() owns HTTP, retries, backoff and timing.
 *
 * Ownership: every struct here owns its strings (malloc'd); the *_free
 * functions release them.  Requests are built by the caller and only
 * read by llm_call(); responses are filled by llm_call().
 */
#ifndef BL_LLM_H
#define BL_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum llm_block_kind { LLM_TEXT, LLM_TOOL_USE, LLM_TOOL_RESULT };

struct llm_block {
	enum llm_block_kind kind;
	char *text;  /* TEXT: the text; TOOL_RESULT: the content */
	char *id;    /* TOOL_USE: its id; TOOL_RESULT: the tool_use_id */
	char *name;  /* TOOL_USE: tool name */
	char *input; /* TOOL_USE: input as JSON text (an object) */
	int is_error; /* TOOL_RESULT */
};

enum llm_role { LLM_USER, LLM_ASSISTANT };

struct llm_msg {
	enum llm_role role;
	struct llm_block *blocks;
	size_t nblocks;
};

struct llm_tool {
	char *name;
	char *description;
	char *schema; /* input_schema as JSON text */
};

struct llm_request {
	char *model;
	char *system;
	struct llm_tool *tools;
	size_t ntools;
	struct llm_msg *msgs;
	size_t nmsgs;
	int max_tokens;  /* 0: provider default */
	int stream;      /* 1 unless --no-stream */
	int cache;       /* 1: cache_control breakpoints (anthropic) */
	double temperature; /* < 0: not sent */
};

struct llm_usage {
	long long input_tokens, output_tokens;
	long long cache_creation_input_tokens, cache_read_input_tokens;
};

struct llm_response {
	struct buf text;          /* all text blocks, concatenated */
	struct llm_block *calls;  /* LLM_TOOL_USE blocks, in order */
	size_t ncalls;
	char *stop_reason;        /* "end_turn", "tool_use", "max_tokens", ...;
	                             openai finish_reason mapped: stop->end_turn,
	                             tool_calls->tool_use, length->max_tokens */
	char *model;              /* as reported by the server */
	char *id;                 /* message id */
	struct llm_usage usage;
	int64_t latency_ms;       /* request start to end of stream */
	int64_t ttft_ms;          /* request start to first content delta; -1 none */
	int attempts;             /* 1 + retries */
};

/* Error kinds, named as in `error` lines (DESIGN §2). */
enum llm_err_kind {
	LLM_OK = 0,
	LLM_ERR_API,        /* 5xx, 529, 4xx other than below, bad stream */
	LLM_ERR_AUTH,       /* 401, 403, missing key */
	LLM_ERR_RATE_LIMIT, /* 429 */
	LLM_ERR_TIMEOUT,    /* transport timeout or stall */
	LLM_ERR_PROTOCOL,   /* unparseable response or event */
	LLM_ERR_INTERRUPTED,/* *abort flag set (SIGINT/SIGTERM) */
	LLM_ERR_CONFIG,     /* unknown provider, bad base URL */
};
const char *llm_err_kind_name(enum llm_err_kind k); /* "api", "auth", ... */

struct llm_error {
	enum llm_err_kind kind;
	int http_status;     /* 0 when no response */
	int retryable;
	int64_t retry_after_ms; /* from retry-after(-ms); -1 none */
	char type[64];       /* API error type, e.g. "overloaded_error" */
	char message[512];   /* human-readable, never holds a secret */
};

/* Retry policy: system_config performance.retry. */
struct llm_retry {
	int max_attempts;     /* total attempts, >= 1 (default 3) */
	double base_delay_s;  /* default 1.0 */
	double max_delay_s;   /* default 60 */
	double jitter;        /* fraction, default 0.1: delay * (1 ± jitter) */
};

/* Called during a call; any may be NULL.  ctx is llm_hooks.ctx. */
struct llm_hooks {
	void *ctx;
	void (*on_text)(void *ctx, const char *s, size_t n);  /* a text delta */
	/* before sleeping for a retry: attempt that failed (1-based), why, delay */
	void (*on_retry)(void *ctx, int attempt, const struct llm_error *why, int64_t delay_ms);
	volatile int *abort;  /* nonzero: stop now, LLM_ERR_INTERRUPTED */
};

struct llm_provider; /* one wire protocol; see provider.h */

struct llm_endpoint {
	const struct llm_provider *provider;
	char *base_url;    /* e.g. "https://api.anthropic.com" (no trailing /) */
	char *api_key;     /* x-api-key / Authorization: Bearer; may be NULL */
	int key_is_bearer; /* anthropic: ANTHROPIC_AUTH_TOKEN */
	long connect_timeout_s;
	long idle_timeout_s; /* no byte for this long: timeout (stall) */
};

/* Looks up "anthropic" or "openai"; NULL for an unknown name. */
const struct llm_provider *llm_provider_find(const char *name);
/* Fills ep from the environment for that provider (ANTHROPIC_BASE_URL,
 * ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN; OPENAI_BASE_URL,
 * OPENAI_API_KEY).  -1 with err (kind auth) when no usable key is set —
 * including the case where only CLAUDE_CODE_OAUTH_TOKEN is set, whose
 * message points to the claude-code provider. */
int llm_endpoint_from_env(struct llm_endpoint *ep, const char *provider, struct llm_error *err);
void llm_endpoint_free(struct llm_endpoint *ep);

/* Appends the wire request body to out (for --dry-run and tests). */
void llm_request_body(const struct llm_endpoint *ep, const struct llm_request *req, struct buf *out);
/* Appends the request as --dry-run prints it: method, URL, headers with
 * secrets shown as "[redacted]", then the body. */
void llm_request_dump(const struct llm_endpoint *ep, const struct llm_request *req, struct buf *out);

/* One model call with retries.  0 with *resp filled, or -1 with *err.
 * resp must be zeroed (or llm_response_free'd) before the call. */
int llm_call(const struct llm_endpoint *ep, const struct llm_request *req,
	     const struct llm_retry *retry, const struct llm_hooks *hooks,
	     struct llm_response *resp, struct llm_error *err);

void llm_block_free(struct llm_block *b);
void llm_msg_free(struct llm_msg *m);
void llm_request_free(struct llm_request *r);
void llm_response_free(struct llm_response *r);
/* Appends a block to a message (takes ownership of the strings). */
struct llm_block *llm_msg_add(struct llm_msg *m, enum llm_block_kind kind);

#endif
