/*
 * sse — incremental Server-Sent Events parser (see sse.h for the
 * guarantees).  Bytes are split into lines here; each finished line is
 * interpreted as the WHATWG spec's "process the field" step, and a blank
 * line dispatches the event.  Nothing depends on how the input was
 * chunked: a partial line waits in p->line, and a CR at the end of a
 * chunk remembers to swallow an LF at the start of the next.
 */
#include "sse.h"

#include <string.h>

void sse_init(struct sse *p, sse_event_fn fn, void *ctx)
{
	memset(p, 0, sizeof *p);
	p->fn = fn;
	p->ctx = ctx;
	p->retry_ms = -1;
}

void sse_free(struct sse *p)
{
	buf_free(&p->line);
	buf_free(&p->data);
	buf_free(&p->event);
	buf_free(&p->id);
}

static int dispatch(struct sse *p)
{
	if (p->data.len == 0) {
		buf_reset(&p->event);
		return 0;
	}
	p->data.len--; /* the LF after the last data line */
	p->data.p[p->data.len] = '\0';
	struct sse_event ev = {
	    .event = p->event.len ? p->event.p : "message",
	    .data = p->data.p,
	    .data_len = p->data.len,
	    .id = p->id.len ? p->id.p : "",
	};
	p->events++;
	int rc = p->fn ? p->fn(p->ctx, &ev) : 0;
	buf_reset(&p->data);
	buf_reset(&p->event);
	return rc;
}

static int field_is(const char *f, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(f, name, n) == 0;
}

static int process_line(struct sse *p)
{
	const char *l = p->line.p ? p->line.p : "";
	size_t len = p->line.len;
	int rc = 0;

	if (!p->started) {
		p->started = 1;
		if (len >= 3 && memcmp(l, "\xEF\xBB\xBF", 3) == 0)
			l += 3, len -= 3;
	}
	if (len == 0) {
		rc = dispatch(p);
	} else if (l[0] != ':') {
		const char *colon = memchr(l, ':', len);
		size_t flen = colon ? (size_t)(colon - l) : len;
		const char *v = colon ? colon + 1 : l + len;
		size_t vlen = (size_t)(l + len - v);
		if (vlen > 0 && v[0] == ' ')
			v++, vlen--;
		if (field_is(l, flen, "event")) {
			buf_reset(&p->event);
			buf_add(&p->event, v, vlen);
		} else if (field_is(l, flen, "data")) {
			if (p->data.len + vlen + 1 > SSE_MAX_DATA)
				rc = -1;
			else {
				buf_add(&p->data, v, vlen);
				buf_addc(&p->data, '\n');
			}
		} else if (field_is(l, flen, "id")) {
			if (!memchr(v, '\0', vlen)) {
				buf_reset(&p->id);
				buf_add(&p->id, v, vlen);
			}
		} else if (field_is(l, flen, "retry")) {
			long long ms = 0;
			size_t i;
			for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9' && ms < (1LL << 50); i++)
				ms = ms * 10 + (v[i] - '0');
			if (vlen > 0 && i == vlen)
				p->retry_ms = ms;
		}
	}
	buf_reset(&p->line);
	return rc;
}

int sse_feed(struct sse *p, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n && !p->stopped) {
		if (p->after_cr) {
			p->after_cr = 0;
			if (s[i] == '\n') {
				i++;
				continue;
			}
		}
		size_t j = i;
		while (j < n && s[j] != '\n' && s[j] != '\r')
			j++;
		if (p->line.len + (j - i) > SSE_MAX_LINE) {
			p->stopped = -1;
			break;
		}
		buf_add(&p->line, s + i, j - i);
		if (j == n)
			break;
		p->after_cr = s[j] == '\r';
		i = j + 1;
		int rc = process_line(p);
		if (rc)
			p->stopped = rc;
	}
	return p->stopped;
}

int sse_finish(struct sse *p)
{
	if (p->stopped)
		return p->stopped;
	int rc = 0;
	if (p->line.len > 0)
		rc = process_line(p);
	if (!rc)
		rc = dispatch(p);
	p->after_cr = 0;
	if (rc)
		p->stopped = rc;
	return rc;
}
