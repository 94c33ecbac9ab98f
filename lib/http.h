/*
 * http — one HTTP POST over libcurl, its response body handed to a sink
 * as it arrives (so a stream can be decoded incrementally), its status
 * and the headers that matter to retries captured.
 *
 * Guarantees: no signal is used (CURLOPT_NOSIGNAL); curl_global_init
 * runs once per process; a connect timeout and an idle (stall) timeout
 * apply, never a total one (a long generation is fine as long as bytes
 * flow); the transfer stops within about a second once *abort becomes
 * nonzero; redirects are not followed.  Nothing is printed.  Each thread
 * keeps one curl handle between calls so connections are reused.
 *
 * Ownership: http_post borrows everything it is given; the response
 * struct is the caller's and holds no pointers.
 */
#ifndef BL_HTTP_H
#define BL_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct http_response {
	long status;            /* final status; 0 before any */
	int64_t retry_after_ms; /* retry-after-ms, else retry-after; -1 none */
	int should_retry;       /* x-should-retry: 1 true, 0 false, -1 absent */
	char request_id[128];   /* request-id (or x-request-id); "" none */
	char content_type[128]; /* lower-cased; "" none */
	size_t body_bytes;      /* body bytes received */
};

/* Gets the body as it arrives, after the headers (hr is filled by then).
 * A nonzero return stops the transfer (HTTP_ERR_SINK). */
typedef int (*http_body_fn)(void *ctx, const struct http_response *hr, const char *p, size_t n);

struct http_opts {
	long connect_timeout_s; /* <= 0: 30 */
	long idle_timeout_s;    /* <= 0: 300; no byte for this long: timeout */
	volatile int *abort;    /* may be NULL */
};

enum http_result {
	HTTP_OK = 0,      /* a response was received (any status) */
	HTTP_ERR_CONNECT, /* could not connect, resolve, send or receive */
	HTTP_ERR_TIMEOUT, /* connect or idle timeout */
	HTTP_ERR_ABORTED, /* *abort became nonzero */
	HTTP_ERR_SINK,    /* the body callback asked to stop */
	HTTP_ERR_OTHER,   /* anything else curl reports */
};

/* POSTs body to url with headers ("Name: value\n" lines).  Fills *hr and
 * returns HTTP_OK, or an error with a one-line reason in errbuf (which
 * never holds header values). */
enum http_result http_post(const char *url, const char *headers, const char *body, size_t len,
                           const struct http_opts *o, http_body_fn fn, void *ctx,
                           struct http_response *hr, char *errbuf, size_t errlen);

/* Closes the calling thread's kept connection(s), if any.  Optional:
 * the handle is reachable until exit, so it is not a leak. */
void http_cleanup(void);

/* The delay a server asked for: retry-after-ms (milliseconds, may be
 * fractional), else retry-after (seconds, or an HTTP date relative to
 * now).  Either value may be NULL.  -1 when absent or unparseable; a
 * date in the past gives 0. */
int64_t http_retry_after_ms(const char *retry_after_ms, const char *retry_after, time_t now);

#endif
