/*
 * test_json — the JSON reader and writer: a table of valid and invalid
 * texts (invalid ones with the exact error line, column and message),
 * look-ups and iteration over nested data, unescaping (surrogates, NUL),
 * number conversions and their limits, the writer's commas and number
 * format, escaping and the repair of invalid UTF-8, and write-then-parse
 * round trips.
 */
#include "json.h"
#include "t.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct pcase {
	const char *in;
	size_t len;      /* 0: strlen(in) */
	int line, col;   /* 0: valid */
	const char *msg; /* substring of the error message */
};

static const struct pcase cases[] = {
    /* valid */
    {"0", 0, 0, 0, NULL},
    {"-0", 0, 0, 0, NULL},
    {"1.5e-3", 0, 0, 0, NULL},
    {"-12.0E+5", 0, 0, 0, NULL},
    {"123456789012345678901234567890", 0, 0, 0, NULL},
    {" true ", 0, 0, 0, NULL},
    {"false", 0, 0, 0, NULL},
    {"null", 0, 0, 0, NULL},
    {"\"\"", 0, 0, 0, NULL},
    {"{}", 0, 0, 0, NULL},
    {"[]", 0, 0, 0, NULL},
    {" \t\r\n[ ]\n", 0, 0, 0, NULL},
    {"{\"a\":[1,{\"b\":null}],\"c\":\"d\"}", 0, 0, 0, NULL},
    {"\"\\u00e9\\n\\/\\\"\\\\\\b\\f\\r\\t\"", 0, 0, 0, NULL},
    {"\"\\uD83D\\uDE00\"", 0, 0, 0, NULL},
    {"[1,2,3]", 0, 0, 0, NULL},
    {"\"\x7f \xc3\xa9\"", 0, 0, 0, NULL},
    {"[[[[[[[[[[]]]]]]]]]]", 0, 0, 0, NULL},
    {"{\"\":0}", 0, 0, 0, NULL},
    /* invalid */
    {"{\"a\":1,}", 0, 1, 8, "expected string key, found '}'"},
    {"[1 2]", 0, 1, 4, "expected ',' or ']' after array element"},
    {"{\"a\" 1}", 0, 1, 6, "expected ':' after object key"},
    {"\"\\x\"", 0, 1, 2, "invalid escape '\\x' in string"},
    {"01", 0, 1, 2, "leading zero in number"},
    {"-01", 0, 1, 3, "leading zero in number"},
    {"1.", 0, 1, 3, "expected digit after '.'"},
    {"1.e5", 0, 1, 3, "expected digit after '.'"},
    {"-", 0, 1, 2, "expected digit after '-'"},
    {"[-]", 0, 1, 3, "expected digit after '-'"},
    {"1e", 0, 1, 3, "expected digit in exponent"},
    {"1e+", 0, 1, 4, "expected digit in exponent"},
    {"tru", 0, 1, 1, "invalid literal, expected 'true'"},
    {"nul", 0, 1, 1, "invalid literal, expected 'null'"},
    {"nulll", 0, 1, 5, "trailing characters after value"},
    {"[true false]", 0, 1, 7, "expected ',' or ']'"},
    {"\"a\nb\"", 0, 1, 3, "control character 0x0a in string"},
    {"\"\t\"", 0, 1, 2, "control character 0x09 in string"},
    {"[", 0, 1, 2, "unexpected end of input"},
    {"{\"a\":", 0, 1, 6, "unexpected end of input"},
    {"{\"a\"", 0, 1, 5, "unexpected end of input"},
    {"", 0, 1, 1, "unexpected end of input"},
    {" \n ", 0, 2, 2, "unexpected end of input"},
    {"{}x", 0, 1, 3, "trailing characters after value"},
    {"1 2", 0, 1, 3, "trailing characters after value"},
    {"[1]\n[2]", 0, 2, 1, "trailing characters after value"},
    {"\"a\"\0", 4, 1, 4, "trailing characters after value"},
    {"[1,]", 0, 1, 4, "expected value, found ']'"},
    {"{\"a\":}", 0, 1, 6, "expected value, found '}'"},
    {"[1}", 0, 1, 3, "expected ',' or ']' after array element"},
    {"{\"a\":1]", 0, 1, 7, "expected ',' or '}' after object member"},
    {"{1:2}", 0, 1, 2, "expected string key, found '1'"},
    {"{\n  \"a\": 1,\n  \"b\" 2\n}", 0, 3, 7, "expected ':' after object key"},
    {"\"\\u12G4\"", 0, 1, 6, "invalid \\u escape in string"},
    {"\"\\u12", 0, 1, 1, "unterminated string"},
    {"\"abc", 0, 1, 1, "unterminated string"},
    {"[\"a\\\"]", 0, 1, 2, "unterminated string"},
    {"+1", 0, 1, 1, "expected value, found '+'"},
    {".5", 0, 1, 1, "expected value, found '.'"},
    {"NaN", 0, 1, 1, "expected value, found 'N'"},
    {"'a'", 0, 1, 1, "expected value, found '''"},
    {"\xef\xbb\xbf{}", 0, 1, 1, "expected value, found byte 0xef"},
    {"[1,\x01]", 0, 1, 4, "expected value, found byte 0x01"},
};

/* The case as a JSON string, so that TAP lines stay single lines. */
static struct buf show_buf;

static const char *show(const char *in, size_t len)
{
	buf_reset(&show_buf);
	json_escape(&show_buf, in, len);
	return show_buf.p;
}

static void test_table(void)
{
	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const struct pcase *pc = &cases[c];
		size_t len = pc->len ? pc->len : strlen(pc->in);
		const char *name = show(pc->in, len);
		struct json j;
		struct json_error e = {0};
		int r = json_parse(&j, pc->in, len, &e);
		if (!pc->line) {
			T_OK(r == 0 && j.ntok > 0, "valid %s (%s)", name, r ? e.msg : "ok");
			json_free(&j);
			continue;
		}
		T_OK(r == -1 && j.tok == NULL, "invalid %s is rejected", name);
		T_OK(e.line == pc->line && e.col == pc->col, "%s: error at %d:%d (want %d:%d)",
		     name, e.line, e.col, pc->line, pc->col);
		T_OK(strstr(e.msg, pc->msg) != NULL, "%s: message '%s' holds '%s'", name, e.msg,
		     pc->msg);
	}
	buf_free(&show_buf);
}

static void test_depth(void)
{
	char deep[2 * 600 + 1];
	struct json j;
	struct json_error e;
	memset(deep, '[', 600);
	memset(deep + 600, ']', 600);
	T_OK(json_parse(&j, deep, 1200, &e) == -1, "600 deep is rejected");
	T_OK(e.col == 513 && strstr(e.msg, "nesting deeper than 512"), "600 deep: %d '%s'", e.col,
	     e.msg);
	memmove(deep + 512, deep + 600, 512);
	T_OK(json_parse(&j, deep, 1024, &e) == 0 && j.ntok == 512, "512 deep is accepted");
	T_INTEQ(json_next(&j, 0), 512, "json_next over 512 levels");
	json_free(&j);
	T_OK(json_parse(&j, "[1]", 3, NULL) == 0, "err may be NULL (ok)");
	json_free(&j);
	T_OK(json_parse(&j, "[1", 2, NULL) == -1, "err may be NULL (error)");
}

/* The string scanner reads 8 bytes at a time: put the byte that stops
 * it at every position of a word, after bytes >= 0x80 that must not. */
static void test_scanner_offsets(void)
{
	int bad_err = 0, bad_val = 0;
	for (int k = 0; k < 24; k++) {
		char in[64], want[64];
		struct json j;
		struct json_error e;
		size_t n = 0;
		in[0] = '"';
		for (int i = 0; i < k; i++)
			in[1 + i] = want[i] = (char)(i % 2 ? 0xa0 + i : 'a' + i);
		memcpy(in + 1 + k, "\\n0123456789\"", 13);
		memcpy(want + k, "\n0123456789", 11);
		if (json_parse(&j, in, (size_t)k + 14, &e) == 0) {
			char *s = json_str(&j, 0, &n);
			bad_val += n != (size_t)k + 11 || memcmp(s, want, n) != 0;
			free(s);
			json_free(&j);
		} else {
			bad_val++;
		}
		in[1 + k] = '\x01';
		bad_err += json_parse(&j, in, (size_t)k + 14, &e) != -1 || e.col != k + 2;
	}
	T_INTEQ(bad_val, 0, "escape at each offset 0..23 unescapes");
	T_INTEQ(bad_err, 0, "control byte at each offset 0..23 is reported there");
}

static const char doc[] = "{\"name\":\"x\",\"n\":42,\"f\":1.5,\"neg\":-7,"
                          "\"big\":9223372036854775807,\"over\":9223372036854775808,"
                          "\"min\":-9223372036854775808,\"t\":true,\"nil\":null,"
                          "\"arr\":[1,[2,3],{\"k\":\"v\"},\"s\"],"
                          "\"obj\":{\"a\":{\"b\":{\"c\":\"deep\"}}},"
                          "\"esc\\u0041\":\"escaped key\",\"exp\":1e3,\"huge\":1e999,"
                          "\"dup\":1,\"dup\":2}";

static void test_lookup(void)
{
	struct json j;
	T_OK(json_parse(&j, doc, strlen(doc), NULL) == 0, "parse the look-up document");
	T_INTEQ(json_type(&j, 0), JSON_OBJECT, "root is an object");
	T_INTEQ(json_len(&j, 0), 16, "root has 16 members");
	T_INTEQ(json_next(&j, 0), j.ntok, "json_next(root) is ntok");
	T_STREQ(json_type_name(json_type(&j, json_get(&j, 0, "t"))), "boolean", "type name");
	T_STREQ(json_type_name(JSON_NONE), "none", "type name of none");

	char *s = json_get_str(&j, 0, "name");
	T_STREQ(s, "x", "json_get_str name");
	free(s);
	T_OK(json_get_str(&j, 0, "n") == NULL, "json_get_str of a number is NULL");
	T_OK(json_get_str(&j, 0, "absent") == NULL, "json_get_str of an absent key is NULL");
	T_INTEQ(json_get_int(&j, 0, "n", -1), 42, "int n");
	T_INTEQ(json_get_int(&j, 0, "neg", 0), -7, "int neg");
	T_INTEQ(json_get_int(&j, 0, "f", -1), -1, "1.5 is not an int");
	T_INTEQ(json_get_int(&j, 0, "exp", -1), -1, "1e3 is not a plain int");
	T_INTEQ(json_get_int(&j, 0, "big", 0), LLONG_MAX, "LLONG_MAX");
	T_INTEQ(json_get_int(&j, 0, "over", -1), -1, "LLONG_MAX + 1 is out of range");
	T_INTEQ(json_get_int(&j, 0, "min", 0), LLONG_MIN, "LLONG_MIN");
	T_INTEQ(json_get_int(&j, 0, "name", 5), 5, "int of a string gives the default");
	T_OK(json_get_num(&j, 0, "f", 0) == 1.5, "num f");
	T_OK(json_get_num(&j, 0, "exp", 0) == 1000.0, "num exp");
	T_OK(json_get_num(&j, 0, "huge", -2) == -2, "1e999 overflows: default");
	T_OK(json_get_num(&j, 0, "big", 0) == 9223372036854775807.0, "num of a big int");
	T_INTEQ(json_get_bool(&j, 0, "t", 0), 1, "bool t");
	T_INTEQ(json_get_bool(&j, 0, "nil", 7), 7, "bool of null gives the default");
	T_INTEQ(json_type(&j, json_get(&j, 0, "nil")), JSON_NULL, "nil is null");
	T_INTEQ(json_get(&j, 0, "absent"), -1, "absent key");
	T_INTEQ(json_get(&j, 0, "nam"), -1, "prefix of a key does not match");
	T_INTEQ(json_get_int(&j, 0, "dup", 0), 1, "duplicate keys: the first wins");
	s = json_get_str(&j, 0, "escA");
	T_STREQ(s, "escaped key", "key written with \\u0041 matches");
	free(s);

	int arr = json_get(&j, 0, "arr");
	T_INTEQ(json_len(&j, arr), 4, "arr has 4 elements");
	T_INTEQ(json_get(&j, arr, "k"), -1, "json_get on an array is -1");
	int a1 = json_at(&j, arr, 1);
	T_OK(json_type(&j, a1) == JSON_ARRAY && json_len(&j, a1) == 2, "arr[1] is [2,3]");
	T_INTEQ(json_get_int(&j, json_at(&j, a1, 1), "x", 0), 0, "json_get on a number is -1");
	long long v = 0;
	T_OK(json_int(&j, json_at(&j, a1, 1), &v) == 0 && v == 3, "arr[1][1] is 3");
	T_OK(json_streq(&j, json_get(&j, json_at(&j, arr, 2), "k"), "v"), "arr[2].k is v");
	T_OK(json_streq(&j, json_at(&j, arr, 3), "s"), "arr[3] is s");
	T_OK(!json_streq(&j, json_at(&j, arr, 3), "sx"), "arr[3] is not sx");
	T_INTEQ(json_at(&j, arr, 4), -1, "arr[4] is absent");
	T_INTEQ(json_at(&j, arr, -1), -1, "arr[-1] is absent");
	T_INTEQ(json_at(&j, 0, 0), -1, "json_at on an object is -1");

	int i, e, k;
	struct buf b = BUF_INIT;
	JSON_ARRAY_EACH(&j, arr, i, e)
	{
		buf_adds(&b, json_type_name(json_type(&j, e)));
		buf_addc(&b, ' ');
	}
	T_STREQ(b.p, "number array object string ", "JSON_ARRAY_EACH visits each element");
	buf_reset(&b);
	JSON_OBJECT_EACH(&j, 0, i, k)
	{
		size_t n;
		const char *raw = json_raw(&j, k, &n);
		buf_add(&b, raw, n);
	}
	T_STREQ(b.p,
	        "\"name\"\"n\"\"f\"\"neg\"\"big\"\"over\"\"min\"\"t\"\"nil\"\"arr\"\"obj\"\"esc\\u0"
	        "041\""
	        "\"exp\"\"huge\"\"dup\"\"dup\"",
	        "JSON_OBJECT_EACH visits each key");
	buf_free(&b);

	int c = json_get(&j, json_get(&j, json_get(&j, json_get(&j, 0, "obj"), "a"), "b"), "c");
	T_OK(json_streq(&j, c, "deep"), "obj.a.b.c is deep");
	size_t n;
	const char *raw = json_raw(&j, json_get(&j, 0, "obj"), &n);
	T_OK(n == 24 && memcmp(raw, "{\"a\":{\"b\":{\"c\":\"deep\"}}}", n) == 0, "json_raw object");
	raw = json_raw(&j, c, &n);
	T_OK(n == 6 && memcmp(raw, "\"deep\"", n) == 0, "json_raw string keeps its quotes");
	raw = json_raw(&j, json_get(&j, 0, "f"), &n);
	T_OK(n == 3 && memcmp(raw, "1.5", n) == 0, "json_raw number");
	T_OK(json_raw(&j, -1, &n) == NULL && n == 0, "json_raw of no token");
	T_INTEQ(json_type(&j, -1), JSON_NONE, "type of -1");
	T_INTEQ(json_type(&j, j.ntok), JSON_NONE, "type past the end");
	json_free(&j);

	T_OK(json_parse(&j, " 42 ", 4, NULL) == 0 && j.ntok == 1, "top-level number");
	T_OK(json_int(&j, 0, &v) == 0 && v == 42, "top-level number value");
	json_free(&j);
	T_OK(json_parse(&j, "false", 5, NULL) == 0 && json_bool(&j, 0, &i) == 0 && i == 0,
	     "top-level false");
	json_free(&j);
	T_OK(json_parse(&j, "\"top\"", 5, NULL) == 0 && json_streq(&j, 0, "top"),
	     "top-level string");
	json_free(&j);
}

struct ucase {
	const char *in, *want;
	size_t want_len;
};

static const struct ucase ucases[] = {
    {"\"\\u00e9\"", "\xc3\xa9", 2},
    {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4},
    {"\"\\uD83D\\uDE00!\"", "\xf0\x9f\x98\x80!", 5},
    {"\"\\ud800\"", "\xef\xbf\xbd", 3},
    {"\"\\ud800x\"", "\xef\xbf\xbdx", 4},
    {"\"\\ud800\\u0041\"",
     "\xef\xbf\xbd"
     "A",
     4},
    {"\"\\ud800\\ud800\\udc00\"", "\xef\xbf\xbd\xf0\x90\x80\x80", 7},
    {"\"\\udc00\"", "\xef\xbf\xbd", 3},
    {"\"a\\u0000b\"", "a\0b", 3},
    {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8},
    {"\"\\u20AC\"", "\xe2\x82\xac", 3},
    {"\"\\u0080\\u07ff\\uffff\"", "\xc2\x80\xdf\xbf\xef\xbf\xbf", 7},
    {"\"\\udbff\\udfff\"", "\xf4\x8f\xbf\xbf", 4},
    {"\"raw \xc3\xa9 kept\"", "raw \xc3\xa9 kept", 11},
    {"\"\"", "", 0},
};

static void test_unescape(void)
{
	for (size_t c = 0; c < sizeof ucases / sizeof ucases[0]; c++) {
		struct json j;
		size_t n = 99;
		if (json_parse(&j, ucases[c].in, strlen(ucases[c].in), NULL) < 0) {
			T_OK(0, "unescape %s: parse failed", ucases[c].in);
			continue;
		}
		char *s = json_str(&j, 0, &n);
		T_OK(s && n == ucases[c].want_len && memcmp(s, ucases[c].want, n) == 0 &&
		         s[n] == '\0',
		     "unescape %s (%zu bytes)", ucases[c].in, n);
		free(s);
		json_free(&j);
	}
	struct json j;
	struct buf b = BUF_INIT;
	size_t n = 5;
	json_parse(&j, "[\"b\\u0063\",1]", 13, NULL);
	buf_adds(&b, "a");
	T_OK(json_str_buf(&j, 1, &b) == 0 && strcmp(b.p, "abc") == 0, "json_str_buf appends");
	T_INTEQ(json_str_buf(&j, 2, &b), -1, "json_str_buf of a number");
	T_OK(json_str(&j, 2, &n) == NULL && n == 0, "json_str of a number is NULL");
	T_OK(json_streq(&j, 1, "bc") && !json_streq(&j, 1, "b") && !json_streq(&j, 2, "1"),
	     "json_streq with escapes");
	json_free(&j);
	buf_free(&b);
}

static char *escaped(const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	json_escape(&b, s, n);
	return buf_detach(&b, NULL);
}

struct ecase {
	const char *in;
	size_t len;
	const char *want;
};

#define FFFD "\xef\xbf\xbd"
static const struct ecase ecases[] = {
    {"plain / text", 12, "\"plain / text\""},
    {"\"q\" \\b\\", 7, "\"\\\"q\\\" \\\\b\\\\\""},
    {"\n\t\r\b\f", 5, "\"\\n\\t\\r\\b\\f\""},
    {"\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\""},
    {"a\0b", 3, "\"a\\u0000b\""},
    {"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
    {"\xc0\x80", 2, "\"" FFFD FFFD "\""},
    {"\xed\xa0\x80", 3, "\"" FFFD FFFD FFFD "\""},
    {"\xf5\x80\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\""},
    {"\xe2\x82", 2, "\"" FFFD "\""},
    {"\xe2\x82z", 3, "\"" FFFD "z\""},
    {"\xe0\x80\x80", 3, "\"" FFFD FFFD FFFD "\""},
    {"\xf4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\""},
    {"\xf0\x8f\xbf\xbf", 4, "\"" FFFD FFFD FFFD FFFD "\""},
    {"\xf0\x90\x80\x80", 4, "\"\xf0\x90\x80\x80\""},
    {"\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\""},
    {"a\x80z", 3, "\"a" FFFD "z\""},
    {"\xff", 1, "\"" FFFD "\""},
    {"\xed\x9f\xbf", 3, "\"\xed\x9f\xbf\""},
};

static void test_escape(void)
{
	for (size_t c = 0; c < sizeof ecases / sizeof ecases[0]; c++) {
		char *got = escaped(ecases[c].in, ecases[c].len);
		T_STREQ(got, ecases[c].want, "escape case %zu", c);
		free(got);
	}
	/* Every single byte escapes to a string that parses back to itself,
	 * or to U+FFFD for bytes that are not UTF-8 on their own. */
	int bad = 0;
	for (int c = 0; c < 256; c++) {
		char in = (char)c, *e = escaped(&in, 1);
		struct json j;
		size_t n = 0;
		char *s = NULL;
		if (json_parse(&j, e, strlen(e), NULL) == 0)
			s = json_str(&j, 0, &n);
		if (!s || (c < 0x80 ? n != 1 || s[0] != in : n != 3 || memcmp(s, FFFD, 3) != 0))
			bad++;
		free(s);
		free(e);
		json_free(&j);
	}
	T_INTEQ(bad, 0, "all 256 single bytes round-trip through escape and parse");
}

static void test_writer(void)
{
	struct buf b = BUF_INIT;
	struct jw w;
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kint(&w, "a", 1);
	jw_key(&w, "b");
	jw_arr(&w);
	jw_bool(&w, 1);
	jw_null(&w);
	jw_str(&w, "x");
	jw_str(&w, NULL);
	jw_arr_end(&w);
	jw_key(&w, "c");
	jw_obj(&w);
	jw_obj_end(&w);
	jw_key(&w, "d");
	jw_arr(&w);
	jw_arr_end(&w);
	jw_knum(&w, "e", 1.5);
	jw_kbool(&w, "f", 0);
	jw_kstr(&w, "g\n", "q\"");
	jw_key(&w, "h");
	jw_raw(&w, "[1, 2]", 6);
	jw_obj_end(&w);
	T_STREQ(b.p,
	        "{\"a\":1,\"b\":[true,null,\"x\",null],\"c\":{},\"d\":[],\"e\":1.5,\"f\":false,"
	        "\"g\\n\":\"q\\\"\",\"h\":[1, 2]}",
	        "writer output with automatic commas");
	T_INTEQ(w.depth, 0, "writer depth back to 0");

	buf_reset(&b);
	jw_init(&w, &b);
	jw_arr(&w);
	double nums[] = {0.1, 1e300, -0.0, 1.0 / 3, 5e-324, 123456789.0, 2.5e-7};
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
		jw_num(&w, nums[i]);
	jw_num(&w, NAN);
	jw_num(&w, INFINITY);
	jw_int(&w, LLONG_MIN);
	jw_strn(&w, "a\0b", 3);
	jw_strn(&w, NULL, 4);
	jw_arr_end(&w);
	T_OK(strncmp(b.p, "[0.1,1e+300,-0,0.3333333333333333,", 34) == 0, "short numbers: %s", b.p);
	struct json j;
	struct json_error e;
	T_OK(json_parse(&j, b.p, b.len, &e) == 0, "written numbers parse back");
	int ok = 1;
	for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
		double d = -1;
		ok &= json_num(&j, json_at(&j, 0, (int)i), &d) == 0 && d == nums[i];
	}
	T_OK(ok, "every written double reads back exactly");
	T_OK(json_type(&j, json_at(&j, 0, 7)) == JSON_NULL &&
	         json_type(&j, json_at(&j, 0, 8)) == JSON_NULL,
	     "NaN and infinity are written as null");
	long long v = 0;
	T_OK(json_int(&j, json_at(&j, 0, 9), &v) == 0 && v == LLONG_MIN, "LLONG_MIN round-trips");
	size_t n = 0;
	char *s = json_str(&j, json_at(&j, 0, 10), &n);
	T_OK(s && n == 3 && memcmp(s, "a\0b", 3) == 0, "string with NUL round-trips");
	free(s);
	T_INTEQ(json_type(&j, json_at(&j, 0, 11)), JSON_NULL, "jw_strn(NULL) writes null");
	json_free(&j);

	/* JSON Lines: top-level values get no comma */
	buf_reset(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	jw_kint(&w, "n", 1);
	jw_obj_end(&w);
	buf_addc(&b, '\n');
	jw_obj(&w);
	jw_kint(&w, "n", 2);
	jw_obj_end(&w);
	T_STREQ(b.p, "{\"n\":1}\n{\"n\":2}", "consecutive top-level values");

	/* 64 levels, the writer's limit, parse back */
	buf_reset(&b);
	jw_init(&w, &b);
	for (int i = 0; i < 64; i++) {
		jw_arr(&w);
		jw_int(&w, i);
	}
	for (int i = 0; i < 64; i++)
		jw_arr_end(&w);
	T_OK(json_parse(&j, b.p, b.len, &e) == 0 && j.ntok == 128, "64 levels written and parsed");
	json_free(&j);

	/* round trip: parse, copy through jw_raw and jw_strn, parse again */
	const char *src = "{\"k\":[1,{\"x\":\"\\u00e9\\ud83d\\ude00\"}],\"s\":\"a\\tb\"}";
	T_OK(json_parse(&j, src, strlen(src), &e) == 0, "round trip source parses");
	buf_reset(&b);
	jw_init(&w, &b);
	jw_obj(&w);
	int i, k;
	JSON_OBJECT_EACH(&j, 0, i, k)
	{
		char *key = json_str(&j, k, NULL);
		jw_key(&w, key);
		free(key);
		if (json_type(&j, k + 1) == JSON_STRING) {
			s = json_str(&j, k + 1, &n);
			jw_strn(&w, s, n);
			free(s);
		} else {
			const char *raw = json_raw(&j, k + 1, &n);
			jw_raw(&w, raw, n);
		}
	}
	jw_obj_end(&w);
	T_STREQ(b.p, "{\"k\":[1,{\"x\":\"\\u00e9\\ud83d\\ude00\"}],\"s\":\"a\\tb\"}",
	        "copy through jw_raw and jw_strn");
	json_free(&j);
	T_OK(json_parse(&j, b.p, b.len, &e) == 0, "copy parses back");
	s = json_get_str(&j, 0, "s");
	T_STREQ(s, "a\tb", "copied string value");
	free(s);
	json_free(&j);
	buf_free(&b);
}

int main(void)
{
	test_table();
	test_depth();
	test_scanner_offsets();
	test_lookup();
	test_unescape();
	test_escape();
	test_writer();
	return t_done();
}
