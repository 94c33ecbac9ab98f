/*
 * test_verdict — the verdict tool's validation and normalisation (cases
 * as data: the model's input, whether it is refused, the findings kept),
 * the verdict line, the output cap, and the makefile target detection
 * of testcmd (makefile text, target, expected answer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "t.h"
#include "testcmd.h"
#include "tools_verdict.h"

struct vcase {
	int test; /* 0 reviewer tool, 1 tester tool */
	const char *input;
	const char *error;    /* a substring of the is_error text, or NULL: accepted */
	const char *findings; /* accepted: the stored findings ("" none) */
};

static const struct vcase vcases[] = {
    {0, "{\"verdict\":\"approve\",\"summary\":\"ok\",\"findings\":[]}", NULL, "[]"},
    {0, "{\"verdict\":\"approve\",\"summary\":\"ok\"}", NULL, ""},
    {0, "{\"summary\":\"ok\"}", "missing required argument 'verdict'", NULL},
    {0, "{\"verdict\":\"pass\",\"summary\":\"ok\"}", "must be \"approve\" or \"changes_requested\"",
     NULL},
    {1, "{\"verdict\":\"approve\",\"summary\":\"ok\"}", "must be \"pass\" or \"fail\"", NULL},
    {0, "{\"verdict\":\"approve\"}", "missing required argument 'summary'", NULL},
    {0, "{\"verdict\":\"approve\",\"summary\":\" \\n\"}", "'summary' is empty", NULL},
    {0, "{\"verdict\":\"approve\",\"summary\":3}", "'summary' must be a string", NULL},
    {0, "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":[]}",
     "needs at least one finding", NULL},
    {0, "{\"verdict\":\"changes_requested\",\"summary\":\"x\"}", "needs at least one finding",
     NULL},
    {0,
     "{\"verdict\":\"approve\",\"summary\":\"x\",\"findings\":[{\"message\":\"m\",\"severity\":"
     "\"High\"}]}",
     "blocks approval", NULL},
    {0,
     "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":[\"a\",{\"file\":\"f."
     "c\",\"line\":2,\"severity\":\"HIGH\",\"message\":\"b\"}]}",
     NULL,
     "[{\"message\":\"a\"},{\"file\":\"f.c\",\"line\":2,\"severity\":\"high\",\"message\":\"b\"}]"},
    {0,
     "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":[{\"path\":\"g.c\","
     "\"line\":"
     "\"7\",\"description\":\"d\",\"extra\":1}]}",
     NULL, "[{\"file\":\"g.c\",\"line\":7,\"message\":\"d\"}]"},
    {0,
     "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":\"[{\\\"issue\\\":"
     "\\\"i\\\"}"
     "]\"}",
     NULL, "[{\"message\":\"i\"}]"},
    {0, "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":\"not json\"}",
     "'findings' must be an array", NULL},
    {0, "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":{\"message\":\"m\"}}",
     "'findings' must be an array", NULL},
    {0, "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":[{\"file\":\"a\"}]}",
     "findings[0] has no 'message'", NULL},
    {0, "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":[{\"message\":\"\"}]}",
     "findings[0].message must be a non-empty string", NULL},
    {0, "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":[\"ok\",3]}",
     "findings[1] must be an object", NULL},
    {0,
     "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":[{\"message\":\"m\","
     "\"line\":0}]}",
     "findings[0].line must be a line number", NULL},
    {0,
     "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":[{\"message\":\"m\","
     "\"severity\":\"blocker\"}]}",
     "findings[0].severity must be", NULL},
    {0,
     "{\"verdict\":\"changes_requested\",\"summary\":\"x\",\"findings\":[{\"message\":\"m\","
     "\"file\":\"\"}]}",
     "findings[0].file must be a non-empty string", NULL},
    {1, "{\"verdict\":\"fail\",\"summary\":\"s\"}", NULL, ""},
    {1,
     "{\"verdict\":\"pass\",\"summary\":\"s\",\"findings\":[{\"message\":\"m\",\"severity\":"
     "\"high\"}]}",
     NULL, "[{\"severity\":\"high\",\"message\":\"m\"}]"},
};

static void test_tool_cases(void)
{
	for (size_t i = 0; i < sizeof vcases / sizeof *vcases; i++) {
		const struct vcase *c = &vcases[i];
		struct verdict v = {0};
		struct tool_ctx ctx = {0};
		ctx.user = &v;
		struct tool_result res = {0};
		const struct tool *t = c->test ? &tool_verdict_test : &tool_verdict_review;
		tools_run(t, &ctx, c->input, strlen(c->input), &res);
		if (c->error) {
			T_OK(res.is_error && strstr(res.text.p, c->error),
			     "case %zu refused with '%s' (got '%s')", i, c->error, res.text.p);
			T_OK(!v.set && !ctx.end_stage, "case %zu: nothing recorded, stage goes on",
			     i);
		} else {
			T_OK(!res.is_error, "case %zu accepted (got '%s')", i, res.text.p);
			T_OK(v.set && v.calls == 1 && ctx.end_stage,
			     "case %zu: recorded, stage ends", i);
			T_STREQ(v.findings.p ? v.findings.p : "", c->findings, "case %zu findings",
			        i);
		}
		tool_result_free(&res);
		verdict_free(&v);
	}
}

static void test_replace_and_no_user(void)
{
	struct verdict v = {0};
	struct tool_ctx ctx = {0};
	struct tool_result res = {0};
	const char *a =
	    "{\"verdict\":\"changes_requested\",\"summary\":\"one\",\"findings\":[\"x\"]}";
	const char *bad = "{\"verdict\":\"nope\",\"summary\":\"two\"}";
	const char *b = "{\"verdict\":\"approve\",\"summary\":\"three\",\"findings\":[]}";
	tools_run(&tool_verdict_review, &ctx, a, strlen(a), &res);
	T_OK(res.is_error && strstr(res.text.p, "not available"), "no ctx->user: is_error");
	tool_result_free(&res);
	ctx.user = &v;
	tools_run(&tool_verdict_review, &ctx, a, strlen(a), &res);
	tool_result_free(&res);
	tools_run(&tool_verdict_review, &ctx, bad, strlen(bad), &res);
	T_OK(res.is_error, "a bad call after a good one is refused");
	T_STREQ(v.summary, "one", "a refused call keeps the recorded verdict");
	tool_result_free(&res);
	tools_run(&tool_verdict_review, &ctx, b, strlen(b), &res);
	T_STREQ(res.text.p, "Verdict recorded: approve. The stage ends after this turn.",
	        "result text");
	T_STREQ(v.verdict, "approve", "a later valid call replaces the earlier one");
	T_INTEQ(v.calls, 2, "valid calls counted");
	T_INTEQ(v.nfindings, 0, "its findings replace the earlier ones");
	tool_result_free(&res);
	verdict_free(&v);
}

static void test_line(void)
{
	struct verdict v = {0};
	struct buf line = BUF_INIT;
	struct json j;
	verdict_set(&v, "approve", "fine");
	verdict_line(&line, "reviewer", &v);
	T_OK(line.len && line.p[line.len - 1] == '\n' && !memchr(line.p, '\n', line.len - 1),
	     "one line");
	T_OK(json_parse(&j, line.p, line.len, NULL) == 0, "the line parses");
	T_OK(json_streq(&j, json_get(&j, 0, "type"), "verdict") &&
	         json_streq(&j, json_get(&j, 0, "agent"), "reviewer") &&
	         json_streq(&j, json_get(&j, 0, "verdict"), "approve") &&
	         json_streq(&j, json_get(&j, 0, "summary"), "fine") && json_get(&j, 0, "ts") >= 0,
	     "type, ts, agent, verdict, summary");
	T_OK(json_type(&j, json_get(&j, 0, "findings")) == JSON_ARRAY &&
	         json_len(&j, json_get(&j, 0, "findings")) == 0,
	     "a review verdict always has findings ([])");
	T_OK(json_get(&j, 0, "exit_code") < 0 && json_get(&j, 0, "output") < 0,
	     "no tester fields on a review verdict");
	json_free(&j);

	buf_reset(&line);
	verdict_set(&v, "fail", "broken");
	v.command = xstrdup("make test");
	v.has_exit_code = 1;
	v.exit_code = 2;
	const char raw[] = "a\0b\xff\n";
	v.output = verdict_cap_output(raw, sizeof raw - 1);
	T_STREQ(v.output, "a?b\xff\n", "NUL bytes in the output become '?'");
	verdict_line(&line, "tester", &v);
	T_OK(json_parse(&j, line.p, line.len, NULL) == 0, "the tester line parses (bad UTF-8 too)");
	long long code = -1;
	json_int(&j, json_get(&j, 0, "exit_code"), &code);
	T_INTEQ(code, 2, "exit_code");
	T_OK(json_streq(&j, json_get(&j, 0, "command"), "make test"), "command");
	T_OK(json_get(&j, 0, "findings") < 0, "a test verdict without findings has none");
	char *out = json_str(&j, json_get(&j, 0, "output"), NULL);
	T_STREQ(out, "a?b\xef\xbf\xbd\n", "output, invalid UTF-8 replaced");
	free(out);
	json_free(&j);
	buf_free(&line);
	verdict_free(&v);

	struct buf big = BUF_INIT;
	for (int i = 0; i < 5000; i++)
		buf_addf(&big, "line %d\n", i);
	char *capped = verdict_cap_output(big.p, big.len);
	T_OK(strlen(capped) <= VERDICT_OUTPUT_MAX, "output capped to %d bytes (%zu)",
	     VERDICT_OUTPUT_MAX, strlen(capped));
	T_OK(!strncmp(capped, "line 0\n", 7) && strstr(capped, "line 4999\n") &&
	         strstr(capped, "bytes left out"),
	     "head and tail kept, the cut said");
	free(capped);
	buf_free(&big);
}

struct mcase {
	const char *text, *target;
	int want;
};

static const struct mcase mcases[] = {
    {"test:\n\tsh t.sh\n", "test", 1},
    {"all test: build\n", "test", 1},
    {"test::\n\ttrue\n", "test", 1},
    {"  test : a\n", "test", 1},
    {".PHONY: test\n", "test", 0},
    {"TEST = x\ntests:\n\ttrue\n", "test", 0},
    {"X = test: y\n", "test", 0},
    {"test := 1\n", "test", 0},
    {"test ::= 1\n", "test", 0},
    {"test ?= 1\n", "test", 0},
    {"all:\n\ttest: not a rule\n", "test", 0},
    {"# test: commented\n", "test", 0},
    {"all \\\n test: x\n", "test", 1},
    {"check: all\r\n", "check", 1},
    {"test: check\n", "check", 0},
    {"", "test", 0},
};

static void test_make_targets(void)
{
	for (size_t i = 0; i < sizeof mcases / sizeof *mcases; i++) {
		const struct mcase *c = &mcases[i];
		T_INTEQ(testcmd_make_has_target(c->text, strlen(c->text), c->target), c->want,
		        "makefile case %zu: target '%s'", i, c->target);
	}
}

int main(void)
{
	test_tool_cases();
	test_replace_and_no_user();
	test_line();
	test_make_targets();
	return t_done();
}
