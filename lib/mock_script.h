/*
 * mock_script — bl-mockd's script: a JSON Lines file, one scripted reply
 * per line, used in file order (bl-mockd(1) documents every field).
 *
 * Guarantees: mock_script_load() either accepts the whole file, every
 * field checked for name, type and range, or rejects it with
 * "FILE:LINE: what" in the error buffer; a loaded script never needs a
 * second look at the JSON.  mock_script_take() implements the matching
 * rule: the first line not used up whose endpoint fits and whose match
 * is a substring of the system prompt.
 *
 * Ownership: a struct mock_script owns every string it holds; free it
 * with mock_script_free().  Nothing here locks: a server that serves
 * requests in parallel serialises mock_script_take() itself.
 */
#ifndef BL_MOCK_SCRIPT_H
#define BL_MOCK_SCRIPT_H

#include <stddef.h>

enum mock_endpoint { MOCK_ANY = 0, MOCK_ANTHROPIC = 1, MOCK_OPENAI = 2 };

enum mock_block_type { MOCK_TEXT, MOCK_TOOL_USE };

struct mock_block {
	enum mock_block_type type;
	char *text; /* MOCK_TEXT: the text (may hold no NUL) */
	size_t text_len;
	char *name;  /* MOCK_TOOL_USE: the tool name */
	char *id;    /* MOCK_TOOL_USE: the scripted id, or NULL (generated) */
	char *input; /* MOCK_TOOL_USE: the input, canonical compact JSON */
};

struct mock_header {
	char *name, *value;
};

struct mock_reply {
	int line; /* 1-based line in the script file */
	char *match;
	enum mock_endpoint endpoint;
	struct mock_block *blocks;
	int nblocks;
	char *stop_reason; /* NULL: by content (tool_use / end_turn) */
	char *model;       /* NULL: echo the request's model */
	/* usage overrides; -1 = not given */
	long long input_tokens, output_tokens, cache_creation, cache_read;
	int has_usage;
	int status; /* 0: a normal reply; else an HTTP error status */
	char *error_type, *error_message;
	char *retry_after;        /* header value as written, or NULL */
	long long retry_after_ms; /* -1: absent */
	int should_retry;         /* -1: absent, else 0/1 */
	struct mock_header *headers;
	int nheaders;
	long long cut_after;   /* -1: never */
	long long stall_ms;    /* 0: none */
	long long stall_after; /* -1: stall before the response */
	long long drip_ms;
	long long chunk_bytes; /* 0: the default text split */
	int has_error_event;
	char *event_error_type, *event_error_message;
	long long repeat; /* 0: forever */
	long long used;   /* requests served so far */
};

struct mock_script {
	struct mock_reply *r;
	int n;
};

/* Loads path.  0 on success; -1 with err set to "PATH:LINE: what" (or
 * "cannot read 'PATH': reason").  On failure s is left empty. */
int mock_script_load(struct mock_script *s, const char *path, char *err, size_t errsz);
void mock_script_free(struct mock_script *s);

/* Index of the reply serving a request to endpoint ep with system prompt
 * system (may be ""), marked used; -1 when no line fits. */
int mock_script_take(struct mock_script *s, enum mock_endpoint ep, const char *system);

/* The stop reason a reply reports: its scripted one or the default. */
const char *mock_reply_stop_reason(const struct mock_reply *r);

/* The error type a reply reports: its scripted one or the default by
 * status (400 invalid_request_error, 401 authentication_error, ...). */
const char *mock_reply_error_type(const struct mock_reply *r);

/* The default error type for an HTTP status. */
const char *mock_status_error_type(int status);

#endif
