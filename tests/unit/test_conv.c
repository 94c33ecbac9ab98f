/*
 * test_conv — the conversation reader, context builder and line writer
 * (lib/conv.c): good streams of every type, every kind of bad line with
 * its exact "stdin:LINE:COL: what" message, context selection and
 * rendering, and lines written by conv_line_begin/end parsed back.
 */
#include "conv.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "t.h"

#define TS "\"ts\":\"2026-11-24T21:05:09.123Z\""

static const char good[] =
    "{\"type\":\"task\"," TS ",\"text\":\"add a /users endpoint\",\"session\":\"s1\",\"v\":1}\n"
    "{\"type\":\"message\"," TS
    ",\"agent\":\"planner\",\"role\":\"assistant\",\"text\":\"the plan\"}\n"
    "{\"type\":\"tool_use\"," TS ",\"agent\":\"coder\",\"id\":\"tu_1\",\"name\":\"read\","
    "\"input\":{\"path\":\"a.c\"}}\n"
    "{\"type\":\"tool_result\"," TS ",\"agent\":\"coder\",\"tool_use_id\":\"tu_1\","
    "\"content\":\"SECRET_TOOL_OUTPUT\",\"is_error\":false}\n"
    "{\"type\":\"delta\"," TS ",\"agent\":\"coder\",\"text\":\"partial\"}\n"
    "{\"type\":\"usage\"," TS ",\"agent\":\"coder\",\"provider\":\"anthropic\",\"model\":\"m\","
    "\"input_tokens\":10,\"output_tokens\":5,\"cache_creation_input_tokens\":0,"
    "\"cache_read_input_tokens\":3,\"cost_usd\":null,\"latency_ms\":12,\"ttft_ms\":3,"
    "\"attempt\":1,\"cached\":false}\n"
    "{\"type\":\"message\"," TS
    ",\"agent\":\"coder\",\"role\":\"assistant\",\"text\":\"done coding\"}\n"
    "{\"type\":\"verdict\"," TS ",\"agent\":\"reviewer\",\"verdict\":\"changes_requested\","
    "\"summary\":\"needs work\",\"findings\":[\"missing test\",{\"file\":\"a.c\",\"line\":3,"
    "\"severity\":\"high\",\"message\":\"leak\"}]}\n"
    "{\"type\":\"event\"," TS ",\"event\":\"loop\",\"cycle\":1,\"max_cycles\":3}\n"
    "{\"type\":\"verdict\"," TS ",\"agent\":\"tester\",\"verdict\":\"fail\",\"summary\":\"1 test "
    "failed\",\"command\":\"make test\",\"exit_code\":2,\"output\":\"FAIL: test_users\\n\"}\n"
    "{\"type\":\"commit\"," TS ",\"agent\":\"committer\",\"sha\":\"abc\",\"subject\":\"s\","
    "\"files\":[\"a.c\"]}\n"
    "{\"type\":\"error\"," TS ",\"agent\":\"coder\",\"kind\":\"api\",\"message\":\"boom\","
    "\"retryable\":true}\n"
    "{\"type\":\"custom_thing\"," TS ",\"agent\":\"lint\",\"whatever\":[1,2]}\n"
    "{\"type\":\"message\",\"ts\":\"2026-11-24T22:05:09+01:00\",\"agent\":\"user\",\"role\":"
    "\"user\","
    "\"text\":\"please use snake_case\"}\n"
    "{\"type\":\"result\"," TS ",\"status\":\"completed\",\"tests_passed\":true}\n";

static void test_good(void)
{
	struct conv c;
	char err[256] = "";
	int rc = conv_parse(good, strlen(good), "stdin", &c, err, sizeof err);
	T_INTEQ(rc, 0, "good: parses (%s)", err);
	T_INTEQ(c.n, 15, "good: 15 items");
	static const enum conv_type want[] = {
	    CONV_TASK,   CONV_MESSAGE, CONV_TOOL_USE, CONV_TOOL_RESULT, CONV_DELTA,
	    CONV_USAGE,  CONV_MESSAGE, CONV_VERDICT,  CONV_EVENT,       CONV_VERDICT,
	    CONV_COMMIT, CONV_ERROR,   CONV_OTHER,    CONV_MESSAGE,     CONV_RESULT};
	int types_ok = c.n == 15;
	for (size_t i = 0; types_ok && i < c.n; i++)
		types_ok = c.items[i].type == want[i];
	T_OK(types_ok, "good: every type recognised, unknown kept as CONV_OTHER");
	T_STREQ(conv_task(&c), "add a /users endpoint", "good: conv_task");
	T_STREQ(conv_session(&c), "s1", "good: conv_session");
	if (c.n == 15) {
		T_STREQ(c.items[1].agent, "planner", "good: message agent");
		T_STREQ(c.items[1].role, "assistant", "good: message role");
		T_STREQ(c.items[1].text, "the plan", "good: message text");
		T_STREQ(c.items[7].verdict, "changes_requested", "good: verdict value");
		T_STREQ(c.items[7].text, "needs work", "good: verdict summary as text");
		T_STREQ(c.items[11].text, "boom", "good: error message as text");
		T_INTEQ(c.items[12].lineno, 13, "good: line numbers");
		T_INTEQ(json_type(&c.items[12].j, json_get(&c.items[12].j, 0, "whatever")),
		        JSON_ARRAY, "good: unknown type keeps its parsed fields");
	}
	T_INTEQ(c.raw.len, strlen(good), "good: raw kept for --pass");
	T_OK(c.raw.p && memcmp(c.raw.p, good, c.raw.len) == 0, "good: raw is the input");
	conv_free(&c);
	T_INTEQ(c.n, 0, "conv_free empties");
}

struct bad {
	const char *name, *input, *err;
};

#define L1 "{\"type\":\"task\"," TS ",\"text\":\"t\"}\n"
#define L2                                                                                         \
	"{\"type\":\"message\"," TS                                                                \
	",\"agent\":\"planner\",\"role\":\"assistant\",\"text\":\"p\"}\n"

static const struct bad bads[] = {
    {"malformed line 3", L1 L2 "{\"type\":\"message\" \"ts\":1}\n",
     "stdin:3:19: expected ',' or '}' after object member"},
    {"non-object", L1 L2 L2 "[1,2]\n", "stdin:4:1: expected a JSON object"},
    {"non-object string", "\"hello\"\n", "stdin:1:1: expected a JSON object"},
    {"missing type", L1 "{" TS ",\"text\":\"x\"}\n", "stdin:2:1: missing \"type\""},
    {"non-string type", L1 "  {\"type\":7," TS "}\n", "stdin:2:3: missing \"type\""},
    {"missing ts", "{\"type\":\"task\",\"text\":\"t\"}\n", "stdin:1:1: missing \"ts\""},
    {"bad ts", "{\"type\":\"task\",\"ts\":\"2026-11-24 21:05:09Z\",\"text\":\"t\"}\n",
     "stdin:1:21: \"ts\": expected an RFC 3339 time"},
    {"ts not a string", "{\"type\":\"task\",\"ts\":12345,\"text\":\"t\"}\n",
     "stdin:1:21: \"ts\": expected an RFC 3339 time"},
    {"ts bad month", "{\"type\":\"task\",\"ts\":\"2026-13-24T21:05:09Z\",\"text\":\"t\"}\n",
     "stdin:1:21: \"ts\": expected an RFC 3339 time"},
    {"ts Feb 29 not leap", "{\"type\":\"task\",\"ts\":\"2027-02-29T21:05:09Z\",\"text\":\"t\"}\n",
     "stdin:1:21: \"ts\": expected an RFC 3339 time"},
    {"ts no zone", "{\"type\":\"task\",\"ts\":\"2026-11-24T21:05:09.123\",\"text\":\"t\"}\n",
     "stdin:1:21: \"ts\": expected an RFC 3339 time"},
    {"ts empty fraction", "{\"type\":\"task\",\"ts\":\"2026-11-24T21:05:09.Z\",\"text\":\"t\"}\n",
     "stdin:1:21: \"ts\": expected an RFC 3339 time"},
    {"task text not string", "{\"type\":\"task\"," TS ",\"text\":5}\n",
     "stdin:1:55: \"text\": expected string"},
    {"task missing text", "{\"type\":\"task\"," TS "}\n", "stdin:1:1: missing \"text\""},
    {"message bad role",
     L1 "{\"type\":\"message\"," TS ",\"agent\":\"a\",\"role\":\"bot\",\"text\":\"x\"}\n",
     "stdin:2:70: \"role\": expected \"assistant\" or \"user\""},
    {"message missing agent", L1 "{\"type\":\"message\"," TS ",\"role\":\"user\",\"text\":\"x\"}\n",
     "stdin:2:1: missing \"agent\""},
    {"tool_use input not object",
     L1 "{\"type\":\"tool_use\"," TS ",\"id\":\"i\",\"name\":\"read\",\"input\":[]}\n",
     "stdin:2:83: \"input\": expected object"},
    {"tool_result is_error not bool",
     L1 "{\"type\":\"tool_result\"," TS
        ",\"tool_use_id\":\"i\",\"content\":\"c\",\"is_error\":0}\n",
     "stdin:2:98: \"is_error\": expected boolean"},
    {"verdict findings not array",
     L1 "{\"type\":\"verdict\"," TS ",\"agent\":\"r\",\"verdict\":\"approve\",\"summary\":\"s\","
        "\"findings\":\"x\"}\n",
     "stdin:2:108: \"findings\": expected array"},
    {"verdict missing summary",
     L1 "{\"type\":\"verdict\"," TS ",\"agent\":\"r\",\"verdict\":\"approve\"}\n",
     "stdin:2:1: missing \"summary\""},
    {"usage tokens not number",
     L1 "{\"type\":\"usage\"," TS ",\"input_tokens\":\"10\",\"output_tokens\":1}\n",
     "stdin:2:64: \"input_tokens\": expected number"},
    {"usage latency not number",
     L1 "{\"type\":\"usage\"," TS ",\"input_tokens\":10,\"output_tokens\":1,\"latency_ms\":true}\n",
     "stdin:2:98: \"latency_ms\": expected number"},
    {"error kind missing", L1 "{\"type\":\"error\"," TS ",\"message\":\"m\"}\n",
     "stdin:2:1: missing \"kind\""},
    {"result status not string", L1 "{\"type\":\"result\"," TS ",\"status\":null}\n",
     "stdin:2:59: \"status\": expected string"},
    {"agent not string", L1 "{\"type\":\"zzz\"," TS ",\"agent\":3}\n",
     "stdin:2:55: \"agent\": expected string"},
    {"trailing garbage", L1 "{\"type\":\"task\"," TS ",\"text\":\"t\"} x\n", "stdin:2:60: "},
    {"not json", L1 L2 "x\n", "stdin:3:1: "},
};

static void test_bad(void)
{
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		struct conv c;
		char err[256] = "";
		int rc =
		    conv_parse(bads[i].input, strlen(bads[i].input), "stdin", &c, err, sizeof err);
		T_INTEQ(rc, -1, "bad %s: rejected", bads[i].name);
		size_t wl = strlen(bads[i].err);
		if (bads[i].err[wl - 1] == ' ' || bads[i].err[wl - 1] == ':') {
			/* prefix check: the JSON error text is json.c's */
			char what[256];
			snprintf(what, sizeof what, "bad %s: message starts '%s'", bads[i].name,
			         bads[i].err);
			if (!t_check(strncmp(err, bads[i].err, wl) == 0 && strlen(err) > wl,
			             __FILE__, __LINE__, what))
				printf("#   got: %s\n", err);
		} else {
			T_STREQ(err, bads[i].err, "bad %s: message", bads[i].name);
		}
		T_OK(c.n == 0 && c.items == NULL && c.raw.len == 0, "bad %s: conv left empty",
		     bads[i].name);
		conv_free(&c);
	}
}

static void test_lines(void)
{
	/* blank lines counted but skipped; no final newline; CRLF */
	const char *in =
	    "\n   \n\t\r\n" L1 "\n" L2 "{\"type\":\"event\"," TS ",\"event\":\"x\"}\r\n"
	    "{\"type\":\"result\"," TS ",\"status\":\"completed\"}";
	struct conv c;
	char err[256] = "";
	int rc = conv_parse(in, strlen(in), "stdin", &c, err, sizeof err);
	T_INTEQ(rc, 0, "blank lines, CRLF and no final newline accepted (%s)", err);
	T_INTEQ(c.n, 4, "blank lines skipped");
	if (c.n == 4) {
		T_INTEQ(c.items[0].lineno, 4, "blank lines still counted");
		T_INTEQ(c.items[3].lineno, 8, "last line without newline has its number");
		T_INTEQ(c.items[3].type, CONV_RESULT, "last line without newline parsed");
		T_OK(c.items[3].line[c.items[3].len] == '\0' &&
		         c.items[3].line[c.items[3].len - 1] == '}',
		     "line stored without newline");
	}
	conv_free(&c);

	/* error after blank lines names the right line */
	in = L1 "\n\n{\"type\":\"task\"}\n";
	rc = conv_parse(in, strlen(in), "c.jsonl", &c, err, sizeof err);
	T_STREQ(err, "c.jsonl:4:1: missing \"ts\"",
	        "error line number counts blank lines; NAME used");
	conv_free(&c);

	/* empty input */
	rc = conv_parse("", 0, "stdin", &c, err, sizeof err);
	T_OK(rc == 0 && c.n == 0, "empty input: no items");
	T_OK(conv_task(&c) == NULL && conv_session(&c) == NULL, "empty input: no task");
	conv_free(&c);

	/* reading from an fd */
	int p[2];
	if (pipe(p) == 0) {
		write_all(p[1], good, strlen(good));
		close(p[1]);
		rc = conv_read_fd(p[0], "stdin", &c, err, sizeof err);
		close(p[0]);
		T_OK(rc == 0 && c.n == 15, "conv_read_fd reads a pipe to EOF");
		conv_free(&c);
	}
	rc = conv_read_fd(-1, "stdin", &c, err, sizeof err);
	T_STREQ(err, "stdin: read: Bad file descriptor", "conv_read_fd I/O error message");
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void add_line(struct buf *b, const char *type, const char *agent, const char *extra)
{
	buf_addf(b, "{\"type\":\"%s\"," TS ",\"agent\":\"%s\"%s}\n", type, agent, extra);
}

static void test_context(void)
{
	struct conv c;
	char err[256] = "";
	struct buf out = BUF_INIT;
	conv_parse(good, strlen(good), "stdin", &c, err, sizeof err);
	int n = conv_context(&c, "reviewer", 50, &out);
	T_INTEQ(n, 6, "context: task + 3 messages + 2 verdicts");
	const char *s = out.p ? out.p : "";
	T_OK(strncmp(s, "## Task\nadd a /users endpoint\n", 30) == 0, "context: task first");
	T_OK(strstr(s, "## planner (message)\nthe plan\n") != NULL, "context: planner message");
	T_OK(strstr(s, "## reviewer verdict: changes_requested\nneeds work\n") != NULL,
	     "context: reviewer verdict header and summary");
	T_OK(strstr(s, "- missing test\n") && strstr(s, "- a.c:3: [high] leak\n"),
	     "context: findings rendered (string and object)");
	T_OK(strstr(s, "Command: make test\nExit code: 2\n") != NULL,
	     "context: tester command/exit");
	T_OK(strstr(s, "Output:\n```\nFAIL: test_users\n```\n") != NULL, "context: tester output");
	T_OK(strstr(s, "## user (interjection)\nplease use snake_case\n") != NULL,
	     "context: user interjection");
	T_OK(!strstr(s, "SECRET_TOOL_OUTPUT") && !strstr(s, "partial") && !strstr(s, "boom"),
	     "context: no tool traffic, deltas or errors");
	T_OK(strstr(s, "the plan") < strstr(s, "done coding") &&
	         strstr(s, "done coding") < strstr(s, "needs work") &&
	         strstr(s, "needs work") < strstr(s, "snake_case"),
	     "context: in conversation order");
	conv_free(&c);

	/* 20 messages, a review, more messages: max_items drops the oldest */
	struct buf in = BUF_INIT;
	buf_adds(&in, L1);
	for (int i = 0; i < 10; i++) {
		char extra[80];
		snprintf(extra, sizeof extra, ",\"role\":\"assistant\",\"text\":\"msg-%02d\"", i);
		add_line(&in, "message", "planner", extra);
	}
	add_line(
	    &in, "verdict", "reviewer",
	    ",\"verdict\":\"changes_requested\",\"summary\":\"fix it\",\"findings\":[\"F-ONE\"]");
	add_line(
	    &in, "verdict", "tester",
	    ",\"verdict\":\"fail\",\"summary\":\"red\",\"output\":\"OUT-FAIL\",\"exit_code\":1");
	for (int i = 10; i < 20; i++) {
		char extra[80];
		snprintf(extra, sizeof extra, ",\"role\":\"assistant\",\"text\":\"msg-%02d\"", i);
		add_line(&in, "message", "coder", extra);
	}
	add_line(&in, "tool_use", "coder", ",\"id\":\"x\",\"name\":\"bash\",\"input\":{}");
	int rc = conv_parse(in.p, in.len, "stdin", &c, err, sizeof err);
	T_INTEQ(rc, 0, "context: generated conversation parses (%s)", err);

	buf_reset(&out);
	n = conv_context(&c, "planner", 5, &out);
	s = out.p;
	T_INTEQ(n, 5, "max 5: five items");
	T_OK(strstr(s, "## Task\nt\n") == s, "max 5: task kept first");
	T_OK(strstr(s, "msg-19") && strstr(s, "msg-16") && !strstr(s, "msg-15"),
	     "max 5: the four newest kept, older dropped");
	T_OK(!strstr(s, "F-ONE") && !strstr(s, "OUT-FAIL"),
	     "max 5 (planner): old verdicts dropped");

	buf_reset(&out);
	n = conv_context(&c, "coder", 5, &out);
	s = out.p;
	T_INTEQ(n, 5, "coder max 5: five items");
	T_OK(strstr(s, "F-ONE") != NULL, "coder: latest reviewer findings kept");
	T_OK(strstr(s, "OUT-FAIL") != NULL, "coder: latest failing test output kept");
	T_OK(strstr(s, "msg-19") && strstr(s, "msg-18") && !strstr(s, "msg-17"),
	     "coder: the rest filled newest first");
	T_OK(strstr(s, "F-ONE") < strstr(s, "msg-18"), "coder: pinned items keep their order");

	buf_reset(&out);
	n = conv_context(&c, "coder", 1, &out);
	T_OK(n == 1 && strcmp(out.p, "## Task\nt\n") == 0, "max 1: only the task");
	buf_reset(&out);
	n = conv_context(&c, "coder", 0, &out);
	T_INTEQ(n, 23, "max 0: no limit");
	T_INTEQ(count(out.p, "## "), 23, "max 0: 23 sections");
	conv_free(&c);

	/* an approval after the changes request: nothing pinned for the coder */
	add_line(&in, "verdict", "reviewer", ",\"verdict\":\"approve\",\"summary\":\"lgtm\"");
	add_line(&in, "verdict", "tester", ",\"verdict\":\"pass\",\"summary\":\"green\"");
	conv_parse(in.p, in.len, "stdin", &c, err, sizeof err);
	buf_reset(&out);
	conv_context(&c, "coder", 4, &out);
	T_OK(!strstr(out.p, "F-ONE") && !strstr(out.p, "OUT-FAIL") && strstr(out.p, "lgtm"),
	     "coder: stale findings not pinned after approve/pass");
	conv_free(&c);
	buf_free(&in);
	buf_free(&out);
}

static void test_write(void)
{
	struct buf b = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &b, "message", "coder");
	jw_kstr(&w, "role", "assistant");
	jw_kstr(&w, "text", "line1\nline2 \"q\"");
	conv_line_end(&w);
	T_OK(b.len > 0 && b.p[b.len - 1] == '\n' && memchr(b.p, '\n', b.len - 1) == NULL,
	     "line: exactly one newline, at the end");
	struct json j;
	int rc = json_parse(&j, b.p, b.len, NULL);
	T_INTEQ(rc, 0, "line: parses back");
	if (rc == 0) {
		char *ts = json_get_str(&j, 0, "ts"), *ty = json_get_str(&j, 0, "type");
		T_STREQ(ty, "message", "line: type");
		T_OK(json_streq(&j, json_get(&j, 0, "agent"), "coder"), "line: agent");
		T_OK(json_streq(&j, json_get(&j, 0, "text"), "line1\nline2 \"q\""), "line: text");
		T_OK(ts && strlen(ts) == 24 && ts[23] == 'Z' && ts[19] == '.', "line: ts with ms");
		free(ts);
		free(ty);
		json_free(&j);
	}
	/* and through the reader */
	struct conv c;
	char err[256] = "";
	rc = conv_parse(b.p, b.len, "stdin", &c, err, sizeof err);
	T_OK(rc == 0 && c.n == 1 && c.items[0].type == CONV_MESSAGE,
	     "line: accepted by the reader");
	conv_free(&c);

	/* no agent */
	buf_reset(&b);
	conv_line_begin(&w, &b, "result", NULL);
	jw_kstr(&w, "status", "completed");
	conv_line_end(&w);
	rc = json_parse(&j, b.p, b.len, NULL);
	T_OK(rc == 0 && json_get(&j, 0, "agent") < 0, "line: agent omitted when NULL");
	if (rc == 0)
		json_free(&j);

	/* emit through a pipe */
	int p[2];
	if (pipe(p) == 0) {
		rc = conv_emit(p[1], &b);
		close(p[1]);
		struct buf got = BUF_INIT;
		read_all(p[0], &got);
		close(p[0]);
		T_OK(rc == 0 && got.len == b.len && memcmp(got.p, b.p, b.len) == 0,
		     "conv_emit writes the whole line");
		buf_free(&got);
	}
	buf_free(&b);

	char id[32], id2[32];
	conv_new_session_id(id);
	conv_new_session_id(id2);
	int shape = strlen(id) == 22 && id[8] == '-' && id[15] == '-';
	for (int i = 16; shape && i < 22; i++)
		shape = strchr("0123456789abcdef", id[i]) != NULL;
	T_OK(shape, "session id shape YYYYMMDD-HHMMSS-xxxxxx (%s)", id);
	T_OK(strcmp(id, id2) != 0, "session ids differ (%s %s)", id, id2);
}

int main(void)
{
	test_good();
	test_bad();
	test_lines();
	test_context();
	test_write();
	return t_done();
}
