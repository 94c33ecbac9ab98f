/*
 * sse — an incremental parser for Server-Sent Events (the WHATWG HTML
 * "event stream" interpretation), fit for bytes arriving in any chunking
 * from a socket.
 *
 * Guarantees: the same events come out whatever the chunking of the
 * input (one byte at a time or all at once); lines may end in CRLF, LF
 * or CR, a CRLF split across two chunks counts as one line end; a
 * leading UTF-8 BOM is dropped; comment lines (":...") are skipped; a
 * field line without a colon is a field with an empty value; one space
 * after the colon is removed; "data" lines are joined with "\n"; an
 * event with no data is not dispatched (as the spec says); "id" sets the
 * last event id (ignored when it holds a NUL) and it persists across
 * events; "retry" (digits only) is recorded.  Unlike a browser, the
 * final event of a stream that ends without a blank line is delivered
 * by sse_finish(), because real servers (and the recorded fixtures) end
 * that way.  A line longer than SSE_MAX_LINE, or event data longer than
 * SSE_MAX_DATA, fails the stream instead of growing without bound.
 *
 * Ownership: struct sse owns its buffers (sse_free releases them).  The
 * event passed to the callback borrows the parser's buffers: valid only
 * during the call.
 */
#ifndef BL_SSE_H
#define BL_SSE_H

#include <stddef.h>

#include "util.h"

#define SSE_MAX_LINE (16u << 20)
#define SSE_MAX_DATA (64u << 20)

struct sse_event {
	const char *event; /* the event type; "message" when none was given */
	const char *data;  /* the data lines joined by "\n", NUL-terminated */
	size_t data_len;
	const char *id; /* the last event id so far; "" when none */
};

/* Called once per dispatched event; a nonzero return stops the parser,
 * and sse_feed()/sse_finish() return that value from then on. */
typedef int (*sse_event_fn)(void *ctx, const struct sse_event *ev);

struct sse {
	sse_event_fn fn;
	void *ctx;
	struct buf line;    /* the current, unfinished line */
	struct buf data;    /* data buffer of the event being built */
	struct buf event;   /* event type buffer */
	struct buf id;      /* last event id */
	int have_data;      /* at least one data line in this event */
	int after_cr;       /* the previous byte was a CR: skip one LF */
	int started;        /* past the (optional) BOM check */
	int stopped;        /* the callback's nonzero result or -1; sticky */
	long long retry_ms; /* the last valid "retry" field; -1 none */
	size_t events;      /* events dispatched so far */
};

/* Sets up p to call fn(ctx, ev) for each event.  Release with sse_free. */
void sse_init(struct sse *p, sse_event_fn fn, void *ctx);
/* Feeds n bytes (any split).  0, or the callback's nonzero result, or
 * -1 when a size limit was exceeded. */
int sse_feed(struct sse *p, const char *s, size_t n);
/* End of stream: an unterminated last line is taken as a line, and a
 * pending event is dispatched.  Same results as sse_feed. */
int sse_finish(struct sse *p);
/* Releases the parser's buffers; p may be sse_init'ed again. */
void sse_free(struct sse *p);

#endif
