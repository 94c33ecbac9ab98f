/*
 * http — libcurl POST with an incremental body sink (see http.h).  The
 * header callback captures the status line and the retry headers of the
 * final response (a 100-continue or proxy CONNECT response resets them);
 * the write callback hands bytes to the sink; the progress callback
 * polls the abort flag and the idle clock: when no byte has moved either
 * way (headers, body, upload) for idle_timeout_s, the transfer is a stall.
 * (curl's LOW_SPEED_TIME averages over a window of several seconds, which
 * makes short idle limits imprecise; this check is exact to ~1 s.)
 */
#include "http.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "util.h"

struct xfer {
	struct http_response *hr;
	http_body_fn fn;
	void *ctx;
	volatile int *abort;
	int sink_stopped;
	int stalled;
	int64_t idle_ms, last_ms; /* the idle limit; when a byte last moved */
	curl_off_t dl, ul;        /* progress at last_ms */
	CURL *curl;
	char retry_after[64];
	char retry_after_ms[64];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;

/* One easy handle per thread, kept between calls: its connection cache
 * lets the next turn of a tool loop reuse the TCP/TLS connection. */
static _Thread_local CURL *reuse;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void http_cleanup(void)
{
	if (reuse)
		curl_easy_cleanup(reuse);
	reuse = NULL;
}

int64_t http_retry_after_ms(const char *retry_after_ms, const char *retry_after, time_t now)
{
	char *end;
	if (retry_after_ms && *retry_after_ms) {
		double ms = strtod(retry_after_ms, &end);
		while (*end == ' ' || *end == '\t')
			end++;
		if (end != retry_after_ms && *end == '\0' && ms >= 0 && ms < 1e12)
			return (int64_t)ms;
	}
	if (retry_after && *retry_after) {
		double s = strtod(retry_after, &end);
		while (*end == ' ' || *end == '\t')
			end++;
		if (end != retry_after && *end == '\0')
			return s >= 0 && s < 1e9 ? (int64_t)(s * 1000) : -1;
		time_t t = curl_getdate(retry_after, NULL);
		if (t == (time_t)-1)
			return -1;
		return t > now ? (int64_t)(t - now) * 1000 : 0;
	}
	return -1;
}

/* Copies a header value, trimmed, into out (truncated to fit). */
static void copy_value(char *out, size_t cap, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 &&
	       (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

static int name_is(const char *h, size_t nlen, const char *name)
{
	return strlen(name) == nlen && strncasecmp(h, name, nlen) == 0;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	struct http_response *hr = x->hr;
	x->last_ms = mono_ms();

	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* A new response (after 100-continue, a proxy, ...): start over. */
		const char *sp = memchr(p, ' ', n);
		hr->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		hr->retry_after_ms = -1;
		hr->should_retry = -1;
		hr->request_id[0] = hr->content_type[0] = '\0';
		x->retry_after[0] = x->retry_after_ms[0] = '\0';
		return n;
	}
	const char *colon = memchr(p, ':', n);
	if (!colon)
		return n;
	size_t nlen = (size_t)(colon - p);
	const char *v = colon + 1;
	size_t vlen = n - nlen - 1;
	char tmp[64];

	if (name_is(p, nlen, "retry-after-ms")) {
		copy_value(x->retry_after_ms, sizeof x->retry_after_ms, v, vlen);
	} else if (name_is(p, nlen, "retry-after")) {
		copy_value(x->retry_after, sizeof x->retry_after, v, vlen);
	} else if (name_is(p, nlen, "x-should-retry")) {
		copy_value(tmp, sizeof tmp, v, vlen);
		if (strcasecmp(tmp, "true") == 0)
			hr->should_retry = 1;
		else if (strcasecmp(tmp, "false") == 0)
			hr->should_retry = 0;
	} else if (name_is(p, nlen, "request-id") ||
	           (name_is(p, nlen, "x-request-id") && !hr->request_id[0])) {
		copy_value(hr->request_id, sizeof hr->request_id, v, vlen);
	} else if (name_is(p, nlen, "content-type")) {
		copy_value(hr->content_type, sizeof hr->content_type, v, vlen);
		for (char *c = hr->content_type; *c; c++)
			*c = (char)tolower((unsigned char)*c);
	} else {
		return n;
	}
	hr->retry_after_ms = http_retry_after_ms(x->retry_after_ms, x->retry_after, time(NULL));
	return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;
	if (x->hr->status == 0) {
		long code = 0;
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
		x->hr->status = code;
	}
	x->hr->body_bytes += n;
	if (x->fn && x->fn(x->ctx, x->hr, p, n) != 0) {
		x->sink_stopped = 1;
		return 0; /* CURLE_WRITE_ERROR */
	}
	return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct xfer *x = arg;
	if (x->abort && *x->abort)
		return 1;
	int64_t now = mono_ms();
	if (dlnow != x->dl || ulnow != x->ul) {
		x->dl = dlnow;
		x->ul = ulnow;
		x->last_ms = now;
	} else if (now - x->last_ms >= x->idle_ms) {
		x->stalled = 1;
		return 1;
	}
	return 0;
}

static enum http_result classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_ERR_TIMEOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_READ_ERROR:
		return HTTP_ERR_CONNECT;
	default:
		return HTTP_ERR_OTHER;
	}
}

enum http_result http_post(const char *url, const char *headers, const char *body, size_t len,
                           const struct http_opts *o, http_body_fn fn, void *ctx,
                           struct http_response *hr, char *errbuf, size_t errlen)
{
	memset(hr, 0, sizeof *hr);
	hr->retry_after_ms = -1;
	hr->should_retry = -1;
	if (errlen)
		errbuf[0] = '\0';

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK) {
		snprintf(errbuf, errlen, "curl_global_init: %s", curl_easy_strerror(global_rc));
		return HTTP_ERR_OTHER;
	}
	if (o->abort && *o->abort) {
		snprintf(errbuf, errlen, "interrupted");
		return HTTP_ERR_ABORTED;
	}
	CURL *c = reuse;
	if (c)
		curl_easy_reset(c);
	else
		c = reuse = curl_easy_init();
	if (!c) {
		snprintf(errbuf, errlen, "curl_easy_init failed");
		return HTTP_ERR_OTHER;
	}

	struct curl_slist *hl = NULL, *tmp;
	int ok = 1;
	for (const char *s = headers ? headers : ""; *s && ok;) {
		const char *e = strchr(s, '\n');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n > 0) {
			char *line = xstrndup(s, n);
			tmp = curl_slist_append(hl, line);
			free(line);
			if (tmp)
				hl = tmp;
			else
				ok = 0;
		}
		s += n + (e ? 1 : 0);
	}
	tmp = ok ? curl_slist_append(hl, "Expect:") : NULL; /* no 100-continue round trip */
	if (tmp)
		hl = tmp;
	else
		ok = 0;

	long connect_s = o->connect_timeout_s > 0 ? o->connect_timeout_s : 30;
	long idle_s = o->idle_timeout_s > 0 ? o->idle_timeout_s : 300;
	struct xfer x = {.hr = hr,
	                 .fn = fn,
	                 .ctx = ctx,
	                 .abort = o->abort,
	                 .curl = c,
	                 .idle_ms = (int64_t)idle_s * 1000,
	                 .last_ms = mono_ms()};
	char cerr[CURL_ERROR_SIZE] = "";

	CURLcode rc = ok ? CURLE_OK : CURLE_OUT_OF_MEMORY;
#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(c, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_POSTFIELDS, body);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	SET(CURLOPT_HTTPHEADER, hl);
	SET(CURLOPT_CONNECTTIMEOUT, connect_s);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, &x);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, &x);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, &x);
	SET(CURLOPT_ERRORBUFFER, cerr);
#undef SET
	if (rc == CURLE_OK)
		rc = curl_easy_perform(c);

	enum http_result res = HTTP_OK;
	if (rc == CURLE_OK) {
		long code = 0;
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		hr->status = code;
	} else if (rc == CURLE_ABORTED_BY_CALLBACK && x.stalled) {
		res = HTTP_ERR_TIMEOUT;
		snprintf(errbuf, errlen, "no data for %ld s", idle_s);
	} else if (rc == CURLE_ABORTED_BY_CALLBACK) {
		res = HTTP_ERR_ABORTED;
		snprintf(errbuf, errlen, "interrupted");
	} else if (rc == CURLE_WRITE_ERROR && x.sink_stopped) {
		res = HTTP_ERR_SINK;
		snprintf(errbuf, errlen, "stopped by the response decoder");
	} else {
		res = classify(rc);
		snprintf(errbuf, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
	}
	curl_slist_free_all(hl);
	return res;
}
