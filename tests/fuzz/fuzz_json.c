/*
 * fuzz_json — libFuzzer target for lib/json.c.  For any input: parsing
 * either fails with an error position inside the input, or succeeds and
 * then every token can be walked (types, lengths, json_next, json_raw,
 * look-ups), every string unescapes, the document re-serializes through
 * the writer (jw_*, json_escape, jw_raw beyond the writer's depth) into
 * text that parses again into the same shape with the same strings, and
 * the input's raw bytes, escaped as one string, parse back to the same
 * bytes after U+FFFD repair (repair is idempotent).  Any violation
 * aborts, which libFuzzer reports as a crash.
 */
#include "json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "fuzz_json: check failed: %s (line %d)\n", #c, __LINE__);  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Writes token t (and its subtree) through w; returns the next token. */
static int copy(const struct json *j, int t, struct jw *w)
{
	size_t n;
	const char *raw;
	int i, e, k;
	switch (json_type(j, t)) {
	case JSON_OBJECT:
		if (w->depth >= 60)
			goto verbatim;
		jw_obj(w);
		JSON_OBJECT_EACH(j, t, i, k)
		{
			char *key = json_str(j, k, &n);
			CHECK(key && key[n] == '\0');
			/* jw_key takes a C string: a key holding NUL is cut there */
			jw_key(w, key);
			free(key);
			CHECK(copy(j, k + 1, w) == json_next(j, k + 1));
		}
		jw_obj_end(w);
		break;
	case JSON_ARRAY:
		if (w->depth >= 60)
			goto verbatim;
		jw_arr(w);
		JSON_ARRAY_EACH(j, t, i, e)
		{
			CHECK(json_at(j, t, i) == e);
			copy(j, e, w);
		}
		jw_arr_end(w);
		break;
	case JSON_STRING: {
		char *s = json_str(j, t, &n);
		CHECK(s);
		jw_strn(w, s, n);
		free(s);
		break;
	}
	case JSON_NUMBER:
	case JSON_BOOL:
	case JSON_NULL:
	verbatim:
		raw = json_raw(j, t, &n);
		CHECK(raw && n > 0);
		jw_raw(w, raw, n);
		break;
	case JSON_NONE:
		CHECK(0);
	}
	return json_next(j, t);
}

static void walk(const struct json *j)
{
	for (int t = 0; t < j->ntok; t++) {
		enum json_type ty = json_type(j, t);
		CHECK(ty != JSON_NONE);
		CHECK(json_next(j, t) > t && json_next(j, t) <= j->ntok);
		size_t n;
		const char *raw = json_raw(j, t, &n);
		CHECK(raw >= j->s && raw + n <= j->s + j->len);
		if (ty == JSON_STRING) {
			char *s = json_str(j, t, &n);
			CHECK(s);
			/* a string without NUL matches itself */
			if (strlen(s) == n)
				CHECK(json_streq(j, t, s));
			free(s);
		} else if (ty == JSON_OBJECT && json_len(j, t) > 0) {
			/* the first member is found by its own key (first wins) */
			char *key = json_str(j, t + 1, &n);
			if (strlen(key) == n)
				CHECK(json_get(j, t, key) == t + 2);
			free(key);
		} else if (ty == JSON_NUMBER) {
			double d;
			long long v;
			if (json_int(j, t, &v) == 0)
				CHECK(json_num(j, t, &d) == 0);
		}
	}
}

/* Same shape (token types and container sizes), and every string of b
 * is written either verbatim as in a (inside a subtree copied by jw_raw)
 * or exactly as json_escape writes a's value (keys cut at a NUL). */
static void same(const struct json *a, const struct json *b)
{
	CHECK(a->ntok == b->ntok);
	for (int t = 0; t < a->ntok; t++) {
		CHECK(json_type(a, t) == json_type(b, t));
		CHECK(json_len(a, t) == json_len(b, t));
		if (json_type(a, t) != JSON_STRING)
			continue;
		size_t na, ra, rb;
		const char *raw_a = json_raw(a, t, &ra), *raw_b = json_raw(b, t, &rb);
		if (ra == rb && memcmp(raw_a, raw_b, ra) == 0)
			continue;
		int parent = a->tok[t].parent;
		int is_key = parent >= 0 && a->tok[parent].type == JSMN_OBJECT;
		char *sa = json_str(a, t, &na);
		struct buf e = BUF_INIT;
		json_escape(&e, sa, is_key ? strlen(sa) : na);
		CHECK(e.len == rb && memcmp(e.p, raw_b, rb) == 0);
		buf_free(&e);
		free(sa);
	}
}

static void escape_roundtrip(const char *data, size_t size)
{
	struct buf b = BUF_INIT, b2 = BUF_INIT;
	struct json j, j2;
	size_t n, n2;
	json_escape(&b, data, size);
	CHECK(json_parse(&j, b.p, b.len, NULL) == 0 && j.ntok == 1);
	char *s = json_str(&j, 0, &n);
	int ascii = 1;
	for (size_t i = 0; i < size; i++)
		ascii &= (unsigned char)data[i] < 0x80;
	if (ascii)
		CHECK(n == size && memcmp(s, data, size) == 0);
	json_escape(&b2, s, n);
	CHECK(json_parse(&j2, b2.p, b2.len, NULL) == 0);
	char *s2 = json_str(&j2, 0, &n2);
	CHECK(n2 == n && memcmp(s, s2, n) == 0);
	free(s);
	free(s2);
	json_free(&j);
	json_free(&j2);
	buf_free(&b);
	buf_free(&b2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct json j, j2;
	struct json_error err;
	escape_roundtrip(s, size);
	if (json_parse(&j, s, size, &err) < 0) {
		CHECK(err.offset <= size && err.line >= 1 && err.col >= 1 && err.msg[0]);
		CHECK(j.tok == NULL && j.ntok == 0);
		return 0;
	}
	CHECK(j.ntok >= 1 && json_next(&j, 0) == j.ntok);
	walk(&j);
	/* jsmn's own count agrees with the validator's (when jsmn can count
	 * the text: it needs a delimiter after a top-level primitive) */
	if (j.tok[0].type != JSMN_PRIMITIVE) {
		jsmn_parser p;
		jsmn_init(&p);
		CHECK(jsmn_parse(&p, s, size, NULL, 0) == j.ntok);
	}
	struct buf b = BUF_INIT;
	struct jw w;
	jw_init(&w, &b);
	CHECK(copy(&j, 0, &w) == j.ntok && w.depth == 0);
	if (json_parse(&j2, b.p, b.len, &err) < 0) {
		fprintf(stderr, "fuzz_json: re-parse failed at %zu: %s\n%.*s\n", err.offset,
		        err.msg, (int)b.len, b.p);
		abort();
	}
	same(&j, &j2);
	json_free(&j2);
	json_free(&j);
	buf_free(&b);
	return 0;
}
