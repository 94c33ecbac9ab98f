/*
 * fuzz_sse — libFuzzer target for the SSE parser and the two stream
 * decoders.  The first input byte seeds the chunking; the rest is fed in
 * random-sized pieces (1..64 bytes) to the bare SSE parser, to the
 * anthropic and openai stream decoders, and whole to both providers'
 * non-streamed body parsers.
 *
 * Invariants checked (abort() on violation, so libFuzzer reports it):
 * the parser's event count does not depend on the chunking; a decoder
 * ends in success or one error with a message; on success every tool
 * call's input parses as a JSON object.  ASan/LSan catch the rest.
 *
 * Built by the Makefile's fuzz rule with -fsanitize=fuzzer; built with
 * -DBL_FUZZ_MAIN it is a plain program that replays the files named on
 * its command line (for a regression run without libFuzzer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "provider.h"
#include "sse.h"

static unsigned rng;

static size_t next_chunk(void)
{
	rng = rng * 1103515245u + 12345u;
	return 1 + ((rng >> 16) % 64);
}

static int count_event(void *ctx, const struct sse_event *ev)
{
	size_t *n = ctx;
	if (strlen(ev->data) != ev->data_len && !memchr(ev->data, '\0', ev->data_len))
		abort();
	(*n)++;
	return 0;
}

static size_t sse_events(const uint8_t *d, size_t n, int chunked)
{
	size_t count = 0;
	struct sse p;
	sse_init(&p, count_event, &count);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0;) {
		size_t k = chunked ? next_chunk() : n;
		if (k > n - i)
			k = n - i;
		rc = sse_feed(&p, (const char *)d + i, k);
		i += k;
	}
	if (rc == 0)
		sse_finish(&p);
	sse_free(&p);
	return rc == 0 ? count : (size_t)-1;
}

static void ignore_text(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	(void)s;
	(void)n;
}

static void check_calls(const struct llm_response *r)
{
	for (size_t i = 0; i < r->ncalls; i++) {
		struct json j;
		const char *in = r->calls[i].input;
		if (!in || json_parse(&j, in, strlen(in), NULL) != 0)
			abort();
		int obj = json_type(&j, 0) == JSON_OBJECT;
		json_free(&j);
		if (!obj || !r->calls[i].name || !r->calls[i].id)
			abort();
	}
}

static void decode(const struct llm_provider *prov, const uint8_t *d, size_t n)
{
	struct llm_hooks hooks = {.on_text = ignore_text};
	struct llm_response r;
	struct llm_error err;
	struct llm_stream st;
	memset(&r, 0, sizeof r);
	llm_stream_init(&st, prov, &r, &hooks);
	for (size_t i = 0; i < n;) {
		size_t k = next_chunk();
		if (k > n - i)
			k = n - i;
		llm_stream_feed(&st, (const char *)d + i, k);
		i += k;
	}
	int rc = llm_stream_finish(&st, &err);
	llm_stream_free(&st);
	if (rc == 0)
		check_calls(&r);
	else if (!err.message[0])
		abort();
	llm_response_free(&r);

	memset(&r, 0, sizeof r);
	rc = prov->parse_body((const char *)d, n, &r, &hooks, &err);
	if (rc == 0)
		check_calls(&r);
	llm_response_free(&r);
	err.message[0] = '\0';
	prov->parse_error(500, (const char *)d, n, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	rng = data[0];
	data++, size--;
	if (sse_events(data, size, 0) != sse_events(data, size, 1))
		abort();
	decode(&llm_provider_anthropic, data, size);
	decode(&llm_provider_openai, data, size);
	return 0;
}

#ifdef BL_FUZZ_MAIN
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct buf b = BUF_INIT;
		if (read_file(argv[i], &b) != 0) {
			perror(argv[i]);
			return 1;
		}
		for (unsigned seed = 0; seed < 8; seed++) {
			struct buf in = BUF_INIT;
			buf_addc(&in, (char)seed);
			buf_add(&in, b.p ? b.p : "", b.len);
			LLVMFuzzerTestOneInput((const uint8_t *)in.p, in.len);
			buf_free(&in);
		}
		buf_free(&b);
	}
	return 0;
}
#endif
