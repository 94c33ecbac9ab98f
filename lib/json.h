/*
 * json — JSON in and out.  Reading is jsmn's tokenizer plus a strict
 * syntax check (jsmn alone accepts some invalid texts, e.g. bad escapes
 * or numbers), so every parsed document is valid RFC 8259 JSON and every
 * error has an exact position.  Writing escapes per RFC 8259, replacing
 * invalid UTF-8 with U+FFFD, so the output always parses.
 *
 * Ownership: a struct json borrows the text it was parsed from (the
 * caller keeps it alive and unchanged) and owns its token array, freed
 * by json_free().  Tokens are addressed by index; the root is token 0.
 * Functions returning char * return malloc'd strings the caller frees.
 */
#ifndef BL_JSON_H
#define BL_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define JSMN_HEADER
#define JSMN_PARENT_LINKS
#define JSMN_STRICT
#include <jsmn.h>

struct json {
	const char *s;
	size_t len;
	jsmntok_t *tok;
	int ntok;
};

struct json_error {
	size_t offset; /* byte offset of the error in the text */
	int line, col; /* 1-based; col counts bytes */
	char msg[96];  /* "expected ':' after object key" */
};

enum json_type {
	JSON_NONE = 0, /* no such token (index < 0) */
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

/* Parses exactly one JSON value (surrounding whitespace allowed).
 * 0 on success; -1 with *err filled (err may be NULL). */
int json_parse(struct json *j, const char *s, size_t len, struct json_error *err);
void json_free(struct json *j);

enum json_type json_type(const struct json *j, int t);
const char *json_type_name(enum json_type t); /* "string", "object", ... */
/* Index of the first token after t's whole subtree. */
int json_next(const struct json *j, int t);
/* Number of elements (array) or members (object); 0 otherwise. */
int json_len(const struct json *j, int t);
/* Value token of key in object obj, or -1 (also when obj is not an object). */
int json_get(const struct json *j, int obj, const char *key);
/* i-th element of array arr, or -1. */
int json_at(const struct json *j, int arr, int i);

/* Iterate: e is each element token of array arr. */
#define JSON_ARRAY_EACH(j, arr, i, e) \
	for ((i) = 0, (e) = (arr) + 1; (i) < json_len((j), (arr)); (i)++, (e) = json_next((j), (e)))
/* Iterate: k is each key token of object obj; its value is k + 1. */
#define JSON_OBJECT_EACH(j, obj, i, k) \
	for ((i) = 0, (k) = (obj) + 1; (i) < json_len((j), (obj)); (i)++, (k) = json_next((j), (k) + 1))

/* The value's JSON text exactly as written (strings with their quotes). */
const char *json_raw(const struct json *j, int t, size_t *n);
/* Unescaped string value (\uXXXX and surrogate pairs to UTF-8), malloc'd;
 * NULL when t is not a string.  *n (may be NULL) gets the length, since
 * the value may hold "\u0000". */
char *json_str(const struct json *j, int t, size_t *n);
/* Appends the unescaped string to b; -1 when t is not a string. */
int json_str_buf(const struct json *j, int t, struct buf *b);
/* 1 when t is a string whose unescaped value equals lit. */
int json_streq(const struct json *j, int t, const char *lit);
/* 0 and *out on success; -1 when t is not of that type (or not integral,
 * or out of range, for json_int). */
int json_int(const struct json *j, int t, long long *out);
int json_num(const struct json *j, int t, double *out);
int json_bool(const struct json *j, int t, int *out);

/* Look-ups with a default for an absent key or a wrong type. */
char *json_get_str(const struct json *j, int obj, const char *key); /* NULL */
long long json_get_int(const struct json *j, int obj, const char *key, long long def);
double json_get_num(const struct json *j, int obj, const char *key, double def);
int json_get_bool(const struct json *j, int obj, const char *key, int def);

/* Appends s (n bytes) as a quoted JSON string. */
void json_escape(struct buf *b, const char *s, size_t n);

/*
 * A streaming writer with automatic commas.  Nesting is at most 64 deep.
 * Keys and string values are escaped; jw_raw inserts a value the caller
 * guarantees is valid JSON (e.g. json_raw of a parsed token).
 */
struct jw {
	struct buf *b;
	int depth;
	uint64_t has_item; /* bit d: level d already holds an item */
	int after_key;
};
void jw_init(struct jw *w, struct buf *b);
void jw_obj(struct jw *w);
void jw_obj_end(struct jw *w);
void jw_arr(struct jw *w);
void jw_arr_end(struct jw *w);
void jw_key(struct jw *w, const char *k);
void jw_str(struct jw *w, const char *s); /* NULL writes null */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, long long v);
void jw_num(struct jw *w, double v); /* non-finite writes null */
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
void jw_raw(struct jw *w, const char *json, size_t n);
/* key + value in one call */
void jw_kstr(struct jw *w, const char *k, const char *s);
void jw_kint(struct jw *w, const char *k, long long v);
void jw_knum(struct jw *w, const char *k, double v);
void jw_kbool(struct jw *w, const char *k, int v);

#endif
