/*
 * json — the one JSON reader and writer (see json.h for ownership).
 *
 * Reading: DESIGN names jsmn, but jsmn is a tokenizer, not a validator —
 * even in strict mode it accepts "01", "1.", "-", "tru", "[1 2]" and
 * "{\"a\":1,}", and its errors carry no message.  So json_parse first runs
 * validate(), a small non-allocating, iterative, linear checker of the
 * RFC 8259 grammar (depth limited to JSON_MAX_DEPTH) that reports the exact
 * offset, line and column of the first error and counts the tokens (the
 * count jsmn's NULL-token first pass would give, one scan fewer); then
 * jsmn fills a token array of exactly that size.  Guarantees: a successful
 * parse is valid RFC 8259 JSON with exactly one top-level value; the
 * tokens appear in text order (so start offsets increase with the index).
 * Deliberate leniency: bytes >= 0x80 inside strings are not checked for
 * valid UTF-8 (json_str hands them on as they are; the writer repairs them).
 *
 * Writing: json_escape always produces a valid JSON string: quotes,
 * backslashes and control characters are escaped and invalid UTF-8
 * (bad lead bytes, truncated or overlong sequences, UTF-16 surrogates,
 * code points above U+10FFFF) becomes U+FFFD, one per maximal invalid
 * subpart as Unicode recommends.  Numbers assume the C locale for
 * LC_NUMERIC (no program here calls setlocale).
 *
 * Longer than most files here because reader, validator and writer of
 * the one format belong together and share the UTF-8 rules.
 */
/* jsmn is compiled here and only here: included before json.h (whose
 * include of it, with JSMN_HEADER, then stops at jsmn's include guard). */
#define JSMN_PARENT_LINKS
#define JSMN_STRICT
#include <jsmn.h>

#include "json.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 512
#define JW_MAX_DEPTH 64

/* ---- validation ---- */

static int fail(const char *s, size_t off, struct json_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fills err for the byte at off; line and column are computed only here,
 * so the fast path pays nothing for them. */
static int fail(const char *s, size_t off, struct json_error *err, const char *fmt, ...)
{
	if (!err)
		return -1;
	const char *p = s, *line_start = s, *end = s + off, *nl;
	int line = 1;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p)))) {
		line++;
		p = line_start = nl + 1;
	}
	err->offset = off;
	err->line = line;
	err->col = (int)(end - line_start) + 1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* "'x'" for a printable byte, "byte 0xNN" otherwise, in out[16]. */
static const char *show(unsigned char c, char out[16])
{
	if (c > 0x20 && c < 0x7f)
		snprintf(out, 16, "'%c'", c);
	else
		snprintf(out, 16, "byte 0x%02x", c);
	return out;
}

static size_t skip_ws(const unsigned char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
		i++;
	return i;
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Bit 8k+7 set for each of the 8 bytes at p that may be '"', '\\' or
 * below 0x20 (the classic SWAR zero-byte test: borrows only flag bytes
 * above a true hit, so the lowest flagged byte is exact). */
static uint64_t special8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t v, q, bs;
	memcpy(&v, p, 8);
	q = v ^ (ones * '"');
	bs = v ^ (ones * '\\');
	return (((q - ones) & ~q) | ((bs - ones) & ~bs) | ((v - ones * 0x20) & ~v)) & highs;
}

/* Checks the string whose opening quote is at *pi; on success *pi is just
 * past the closing quote. */
static int scan_string(const char *text, size_t len, size_t *pi, struct json_error *err)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t open = *pi, i = open + 1;
	char sc[16];
	for (;;) {
		while (i + 8 <= len) {
			uint64_t m = special8(s + i);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			if (m) {
				i += (size_t)__builtin_ctzll(m) / 8;
				break;
			}
#else
			if (m)
				break;
#endif
			i += 8;
		}
		while (i < len && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
			i++;
		if (i >= len)
			return fail(text, open, err, "unterminated string");
		if (s[i] == '"') {
			*pi = i + 1;
			return 0;
		}
		if (s[i] < 0x20)
			return fail(text, i, err, "control character 0x%02x in string", s[i]);
		if (i + 1 >= len)
			return fail(text, open, err, "unterminated string");
		switch (s[i + 1]) {
		case '"':
		case '\\':
		case '/':
		case 'b':
		case 'f':
		case 'n':
		case 'r':
		case 't':
			i += 2;
			break;
		case 'u':
			for (size_t k = i + 2; k < i + 6; k++) {
				if (k >= len)
					return fail(text, open, err, "unterminated string");
				if (hexval(s[k]) < 0)
					return fail(text, k, err, "invalid \\u escape in string");
			}
			i += 6;
			break;
		default:
			if (s[i + 1] > 0x20 && s[i + 1] < 0x7f)
				return fail(text, i, err, "invalid escape '\\%c' in string",
				            s[i + 1]);
			return fail(text, i, err, "invalid escape (%s) in string",
			            show(s[i + 1], sc));
		}
	}
}

static int scan_number(const char *text, size_t len, size_t *pi, struct json_error *err)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t i = *pi;
	if (s[i] == '-' && (++i >= len || !is_digit(s[i])))
		return fail(text, i, err, "expected digit after '-'");
	if (s[i] == '0') {
		if (++i < len && is_digit(s[i]))
			return fail(text, i, err, "leading zero in number");
	} else {
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && s[i] == '.') {
		if (++i >= len || !is_digit(s[i]))
			return fail(text, i, err, "expected digit after '.'");
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		if (++i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !is_digit(s[i]))
			return fail(text, i, err, "expected digit in exponent");
		while (i < len && is_digit(s[i]))
			i++;
	}
	*pi = i;
	return 0;
}

/* The RFC 8259 grammar as a state machine over an explicit stack of open
 * containers: linear time, no allocation.  *ntok gets the number of jsmn
 * tokens the text makes (one per value and one per object key). */
static int validate(const char *text, size_t len, int *ntok, struct json_error *err)
{
	const unsigned char *s = (const unsigned char *)text;
	unsigned char stack[JSON_MAX_DEPTH];
	int depth = 0, count = 0;
	size_t i = 0;
	char sc[16];
	const char *lit;

value:
	i = skip_ws(s, len, i);
	if (i >= len)
		return fail(text, i, err, "unexpected end of input");
	switch (s[i]) {
	case '{':
	case '[':
		if (depth == JSON_MAX_DEPTH)
			return fail(text, i, err, "nesting deeper than %d", JSON_MAX_DEPTH);
		stack[depth++] = s[i];
		count++;
		i = skip_ws(s, len, i + 1);
		if (i < len && s[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
			depth--;
			i++;
			goto after;
		}
		if (stack[depth - 1] == '{')
			goto key;
		goto value;
	case '"':
		if (scan_string(text, len, &i, err) < 0)
			return -1;
		count++;
		goto after;
	case 't':
		lit = "true";
		goto literal;
	case 'f':
		lit = "false";
		goto literal;
	case 'n':
		lit = "null";
		goto literal;
	default:
		if (s[i] != '-' && !is_digit(s[i]))
			return fail(text, i, err, "expected value, found %s", show(s[i], sc));
		if (scan_number(text, len, &i, err) < 0)
			return -1;
		count++;
		goto after;
	}

literal:
	if (len - i < strlen(lit) || memcmp(s + i, lit, strlen(lit)) != 0)
		return fail(text, i, err, "invalid literal, expected '%s'", lit);
	i += strlen(lit);
	count++;
	goto after;

key: /* at the first non-blank byte after '{' or ',' */
	if (i >= len)
		return fail(text, i, err, "unexpected end of input");
	if (s[i] != '"')
		return fail(text, i, err, "expected string key, found %s", show(s[i], sc));
	if (scan_string(text, len, &i, err) < 0)
		return -1;
	count++;
	i = skip_ws(s, len, i);
	if (i >= len)
		return fail(text, i, err, "unexpected end of input");
	if (s[i] != ':')
		return fail(text, i, err, "expected ':' after object key");
	i++;
	goto value;

after:
	i = skip_ws(s, len, i);
	if (depth == 0) {
		if (i < len)
			return fail(text, i, err, "trailing characters after value");
		*ntok = count;
		return 0;
	}
	if (i >= len)
		return fail(text, i, err, "unexpected end of input");
	if (s[i] == ',') {
		i = skip_ws(s, len, i + 1);
		if (stack[depth - 1] == '{')
			goto key;
		goto value;
	}
	if (s[i] == (stack[depth - 1] == '{' ? '}' : ']')) {
		depth--;
		i++;
		goto after;
	}
	if (stack[depth - 1] == '{')
		return fail(text, i, err, "expected ',' or '}' after object member");
	return fail(text, i, err, "expected ',' or ']' after array element");
}

/* ---- reading ---- */

/* On success j owns a token array (json_free); on failure j is empty. */
int json_parse(struct json *j, const char *s, size_t len, struct json_error *err)
{
	int ntok;
	memset(j, 0, sizeof *j);
	/* jsmn keeps offsets in int */
	if (len >= INT_MAX) {
		if (err) {
			err->offset = 0;
			err->line = err->col = 1;
			snprintf(err->msg, sizeof err->msg, "input too large");
		}
		return -1;
	}
	if (validate(s, len, &ntok, err) < 0)
		return -1;
	jsmntok_t *tok = xmalloc((size_t)ntok * sizeof *tok);
	size_t i = skip_ws((const unsigned char *)s, len, 0);
	if (s[i] != '{' && s[i] != '[' && s[i] != '"') {
		/* jsmn's strict mode wants a delimiter after a primitive, so a
		 * bare top-level number or literal is tokenized here. */
		size_t e = i;
		while (e < len && s[e] != ' ' && s[e] != '\n' && s[e] != '\r' && s[e] != '\t')
			e++;
		tok[0] = (jsmntok_t){.type = JSMN_PRIMITIVE,
		                     .start = (int)i,
		                     .end = (int)e,
		                     .size = 0,
		                     .parent = -1};
	} else {
		jsmn_parser p;
		jsmn_init(&p);
		int r = jsmn_parse(&p, s, len, tok, (unsigned)ntok);
		if (r != ntok) {
			free(tok);
			return fail(s, p.pos < len ? p.pos : len, err, "tokenizer error %d", r);
		}
	}
	j->s = s;
	j->len = len;
	j->tok = tok;
	j->ntok = ntok;
	return 0;
}

/* Frees the token array; j may be parsed again afterwards. */
void json_free(struct json *j)
{
	free(j->tok);
	j->tok = NULL;
	j->ntok = 0;
}

/* Borrowed view: nothing to free. */
enum json_type json_type(const struct json *j, int t)
{
	if (!j || t < 0 || t >= j->ntok)
		return JSON_NONE;
	switch (j->tok[t].type) {
	case JSMN_OBJECT:
		return JSON_OBJECT;
	case JSMN_ARRAY:
		return JSON_ARRAY;
	case JSMN_STRING:
		return JSON_STRING;
	case JSMN_PRIMITIVE:
		switch (j->s[j->tok[t].start]) {
		case 't':
		case 'f':
			return JSON_BOOL;
		case 'n':
			return JSON_NULL;
		default:
			return JSON_NUMBER;
		}
	default:
		return JSON_NONE;
	}
}

/* Static string. */
const char *json_type_name(enum json_type t)
{
	static const char *const names[] = {"none",   "null",  "boolean", "number",
	                                    "string", "array", "object"};
	return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "none";
}

/* Tokens are in text order, so the subtree of a container ends at the
 * first later token that starts past its end: a short linear probe, then
 * a binary search, making skipping a large value O(log n). */
int json_next(const struct json *j, int t)
{
	if (!j || t < 0 || t >= j->ntok)
		return -1;
	const jsmntok_t *tok = j->tok;
	if (tok[t].type != JSMN_OBJECT && tok[t].type != JSMN_ARRAY)
		return t + 1;
	int end = tok[t].end, lo = t + 1, hi = j->ntok;
	for (int k = 0; k < 8; k++, lo++)
		if (lo >= hi || tok[lo].start >= end)
			return lo;
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		if (tok[mid].start < end)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int json_len(const struct json *j, int t)
{
	enum json_type ty = json_type(j, t);
	return ty == JSON_ARRAY || ty == JSON_OBJECT ? j->tok[t].size : 0;
}

/* 1 when the raw (still escaped) string token t unescapes to key[0..kl). */
static int key_eq(const struct json *j, int t, const char *key, size_t kl)
{
	const char *p = j->s + j->tok[t].start;
	size_t n = (size_t)(j->tok[t].end - j->tok[t].start);
	if (!memchr(p, '\\', n))
		return n == kl && memcmp(p, key, n) == 0;
	if (kl > n)
		return 0; /* unescaping never lengthens */
	struct buf b = BUF_INIT;
	json_str_buf(j, t, &b);
	int eq = b.len == kl && memcmp(b.p, key, kl) == 0;
	buf_free(&b);
	return eq;
}

/* With duplicate keys the first one wins. */
int json_get(const struct json *j, int obj, const char *key)
{
	if (json_type(j, obj) != JSON_OBJECT)
		return -1;
	size_t kl = strlen(key);
	int n = j->tok[obj].size, k = obj + 1;
	for (int i = 0; i < n; i++) {
		if (key_eq(j, k, key, kl))
			return k + 1;
		k = json_next(j, k + 1);
	}
	return -1;
}

int json_at(const struct json *j, int arr, int i)
{
	if (json_type(j, arr) != JSON_ARRAY || i < 0 || i >= j->tok[arr].size)
		return -1;
	int e = arr + 1;
	while (i-- > 0)
		e = json_next(j, e);
	return e;
}

/* Points into the parsed text (borrowed); NULL and *n = 0 for no token. */
const char *json_raw(const struct json *j, int t, size_t *n)
{
	if (json_type(j, t) == JSON_NONE) {
		if (n)
			*n = 0;
		return NULL;
	}
	int q = j->tok[t].type == JSMN_STRING;
	if (n)
		*n = (size_t)(j->tok[t].end - j->tok[t].start + 2 * q);
	return j->s + j->tok[t].start - q;
}

static unsigned hex4(const char *p)
{
	return (unsigned)(hexval((unsigned char)p[0]) << 12 | hexval((unsigned char)p[1]) << 8 |
	                  hexval((unsigned char)p[2]) << 4 | hexval((unsigned char)p[3]));
}

static void put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	buf_add(b, u, n);
}

/* Appends to b; b keeps owning its bytes. */
int json_str_buf(const struct json *j, int t, struct buf *b)
{
	if (json_type(j, t) != JSON_STRING)
		return -1;
	const char *p = j->s + j->tok[t].start, *end = j->s + j->tok[t].end, *bs;
	buf_grow(b, (size_t)(end - p)); /* the value is never longer than its text */
	while ((bs = memchr(p, '\\', (size_t)(end - p)))) {
		buf_add(b, p, (size_t)(bs - p));
		p = bs + 2;
		switch (bs[1]) {
		case 'b':
			buf_addc(b, '\b');
			break;
		case 'f':
			buf_addc(b, '\f');
			break;
		case 'n':
			buf_addc(b, '\n');
			break;
		case 'r':
			buf_addc(b, '\r');
			break;
		case 't':
			buf_addc(b, '\t');
			break;
		case 'u': {
			unsigned cp = hex4(p);
			p += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				unsigned lo =
				    end - p >= 6 && p[0] == '\\' && p[1] == 'u' ? hex4(p + 2) : 0;
				if (lo >= 0xDC00 && lo <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
					p += 6;
				} else {
					cp = 0xFFFD;
				}
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				cp = 0xFFFD;
			}
			put_utf8(b, cp);
			break;
		}
		default: /* '"', '\\', '/' */
			buf_addc(b, bs[1]);
			break;
		}
	}
	buf_add(b, p, (size_t)(end - p));
	return 0;
}

/* Caller frees the result. */
char *json_str(const struct json *j, int t, size_t *n)
{
	struct buf b = BUF_INIT;
	if (json_str_buf(j, t, &b) < 0) {
		if (n)
			*n = 0;
		return NULL;
	}
	return buf_detach(&b, n);
}

int json_streq(const struct json *j, int t, const char *lit)
{
	return json_type(j, t) == JSON_STRING && key_eq(j, t, lit, strlen(lit));
}

/* Plain integers only: no fraction, no exponent, within long long. */
int json_int(const struct json *j, int t, long long *out)
{
	if (json_type(j, t) != JSON_NUMBER)
		return -1;
	const char *p = j->s + j->tok[t].start, *end = j->s + j->tok[t].end;
	int neg = *p == '-';
	p += neg;
	unsigned long long v = 0, lim = neg ? (unsigned long long)LLONG_MAX + 1 : LLONG_MAX;
	for (; p < end; p++) {
		if (!is_digit((unsigned char)*p))
			return -1;
		unsigned d = (unsigned)(*p - '0');
		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (neg)
		*out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
	else
		*out = (long long)v;
	return 0;
}

/* -1 also when the number overflows a double. */
int json_num(const struct json *j, int t, double *out)
{
	if (json_type(j, t) != JSON_NUMBER)
		return -1;
	size_t n = (size_t)(j->tok[t].end - j->tok[t].start);
	char small[64], *tmp = n < sizeof small ? small : xmalloc(n + 1);
	memcpy(tmp, j->s + j->tok[t].start, n);
	tmp[n] = '\0';
	double v = strtod(tmp, NULL);
	if (tmp != small)
		free(tmp);
	if (!isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int json_bool(const struct json *j, int t, int *out)
{
	if (json_type(j, t) != JSON_BOOL)
		return -1;
	*out = j->s[j->tok[t].start] == 't';
	return 0;
}

/* Caller frees the result. */
char *json_get_str(const struct json *j, int obj, const char *key)
{
	return json_str(j, json_get(j, obj, key), NULL);
}

long long json_get_int(const struct json *j, int obj, const char *key, long long def)
{
	long long v;
	return json_int(j, json_get(j, obj, key), &v) == 0 ? v : def;
}

double json_get_num(const struct json *j, int obj, const char *key, double def)
{
	double v;
	return json_num(j, json_get(j, obj, key), &v) == 0 ? v : def;
}

int json_get_bool(const struct json *j, int obj, const char *key, int def)
{
	int v;
	return json_bool(j, json_get(j, obj, key), &v) == 0 ? v : def;
}

/* ---- writing ---- */

/* Length of the valid UTF-8 sequence at p (n > 0 bytes left), or 0 with
 * *bad = length of the maximal invalid subpart to replace by one U+FFFD. */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t *bad)
{
	unsigned c = p[0], lo = 0x80, hi = 0xBF;
	size_t need;
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		lo = c == 0xE0 ? 0xA0 : 0x80; /* overlong */
		hi = c == 0xED ? 0x9F : 0xBF; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		lo = c == 0xF0 ? 0x90 : 0x80; /* overlong */
		hi = c == 0xF4 ? 0x8F : 0xBF; /* above U+10FFFF */
	} else {
		*bad = 1;
		return 0;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= n || p[i] < lo || p[i] > hi) {
			*bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xBF;
	}
	return need + 1;
}

/* Appends to b. */
void json_escape(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;
	buf_grow(b, n + 2);
	buf_addc(b, '"');
	while (p < end) {
		unsigned c = *p;
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			p++;
			continue;
		}
		if (c >= 0x80) {
			size_t bad, k = utf8_seq(p, (size_t)(end - p), &bad);
			if (k) {
				p += k;
				continue;
			}
			buf_add(b, run, (size_t)(p - run));
			buf_add(b, "\xEF\xBF\xBD", 3);
			p += bad;
			run = p;
			continue;
		}
		buf_add(b, run, (size_t)(p - run));
		char e[6] = {'\\', 0};
		size_t en = 2;
		switch (c) {
		case '"':
		case '\\':
			e[1] = (char)c;
			break;
		case '\b':
			e[1] = 'b';
			break;
		case '\f':
			e[1] = 'f';
			break;
		case '\n':
			e[1] = 'n';
			break;
		case '\r':
			e[1] = 'r';
			break;
		case '\t':
			e[1] = 't';
			break;
		default:
			memcpy(e + 1, "u00", 3);
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			en = 6;
		}
		buf_add(b, e, en);
		run = ++p;
	}
	buf_add(b, run, (size_t)(p - run));
	buf_addc(b, '"');
}

/* The writer borrows b; the caller keeps owning it. */
void jw_init(struct jw *w, struct buf *b)
{
	w->b = b;
	w->depth = 0;
	w->has_item = 0;
	w->after_key = 0;
}

/* Before any value or key: the comma when the level already holds an
 * item.  Top-level values get none, so one writer can emit JSON Lines. */
static void jw_sep(struct jw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth == 0)
		return;
	uint64_t bit = (uint64_t)1 << (w->depth - 1);
	if (w->has_item & bit)
		buf_addc(w->b, ',');
	w->has_item |= bit;
}

static void jw_open(struct jw *w, char c)
{
	jw_sep(w);
	if (w->depth >= JW_MAX_DEPTH)
		abort(); /* programming error: nesting beyond 64 */
	buf_addc(w->b, c);
	w->depth++;
	w->has_item &= ~((uint64_t)1 << (w->depth - 1));
}

static void jw_close(struct jw *w, char c)
{
	if (w->depth <= 0)
		abort(); /* programming error: unbalanced end */
	buf_addc(w->b, c);
	w->depth--;
	w->after_key = 0;
}

void jw_obj(struct jw *w)
{
	jw_open(w, '{');
}

void jw_obj_end(struct jw *w)
{
	jw_close(w, '}');
}

void jw_arr(struct jw *w)
{
	jw_open(w, '[');
}

void jw_arr_end(struct jw *w)
{
	jw_close(w, ']');
}

void jw_key(struct jw *w, const char *k)
{
	jw_sep(w);
	json_escape(w->b, k, strlen(k));
	buf_addc(w->b, ':');
	w->after_key = 1;
}

void jw_str(struct jw *w, const char *s)
{
	if (!s)
		jw_null(w);
	else
		jw_strn(w, s, strlen(s));
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_sep(w);
	json_escape(w->b, s, n);
}

void jw_int(struct jw *w, long long v)
{
	jw_sep(w);
	buf_addf(w->b, "%lld", v);
}

/* The shortest of %.15g, %.16g, %.17g that reads back as v. */
void jw_num(struct jw *w, double v)
{
	if (!isfinite(v)) {
		jw_null(w);
		return;
	}
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	jw_sep(w);
	buf_adds(w->b, tmp);
}

void jw_bool(struct jw *w, int v)
{
	jw_sep(w);
	buf_adds(w->b, v ? "true" : "false");
}

void jw_null(struct jw *w)
{
	jw_sep(w);
	buf_adds(w->b, "null");
}

void jw_raw(struct jw *w, const char *json, size_t n)
{
	jw_sep(w);
	buf_add(w->b, json, n);
}

void jw_kstr(struct jw *w, const char *k, const char *s)
{
	jw_key(w, k);
	jw_str(w, s);
}

void jw_kint(struct jw *w, const char *k, long long v)
{
	jw_key(w, k);
	jw_int(w, v);
}

void jw_knum(struct jw *w, const char *k, double v)
{
	jw_key(w, k);
	jw_num(w, v);
}

void jw_kbool(struct jw *w, const char *k, int v)
{
	jw_key(w, k);
	jw_bool(w, v);
}
