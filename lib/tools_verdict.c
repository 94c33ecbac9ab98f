/*
 * tools_verdict — the `verdict` tool of the reviewer and the tester and
 * the `verdict` line (see tools_verdict.h for the contract).
 *
 * Validation is all-or-nothing: the input is checked and the findings
 * are normalised into a scratch buffer first; only a call that passes
 * every check replaces what ctx->user holds.
 */
#include "tools_verdict.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conv.h"
#include "json.h"

enum role { REVIEW, TEST };

static const char *const finding_text_keys[] = {"message", "issue", "text", "description",
                                                "comment"};
static const char *const severities[] = {"high", "medium", "low"};

static int blank(const char *s)
{
	for (; s && *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

/* The first of keys present in obj as a non-blank string, malloc'd, or
 * NULL; *bad set when one is present with another type. */
static char *first_str(const struct json *j, int obj, const char *const *keys, size_t nkeys,
                       const char **which, int *bad)
{
	for (size_t i = 0; i < nkeys; i++) {
		int t = json_get(j, obj, keys[i]);
		if (t < 0 || json_type(j, t) == JSON_NULL)
			continue;
		*which = keys[i];
		char *s = json_str(j, t, NULL);
		if (!s || blank(s)) {
			*bad = 1;
			free(s);
			return NULL;
		}
		return s;
	}
	return NULL;
}

/* Checks finding e (index i) and writes it as an object to w.  0, or -1
 * with res filled. */
static int add_finding(const struct json *j, int e, int i, struct jw *w, int *nhigh,
                       struct tool_result *res)
{
	if (json_type(j, e) == JSON_STRING) {
		char *s = json_str(j, e, NULL);
		int ok = s && !blank(s);
		if (ok) {
			jw_obj(w);
			jw_kstr(w, "message", s);
			jw_obj_end(w);
		} else {
			tool_fail(res, "findings[%d] is an empty string; say what is wrong", i);
		}
		free(s);
		return ok ? 0 : -1;
	}
	if (json_type(j, e) != JSON_OBJECT) {
		tool_fail(res,
		          "findings[%d] must be an object {file, line, severity, message} (or a "
		          "string), not %s",
		          i, json_type_name(json_type(j, e)));
		return -1;
	}
	const char *which = "message";
	int bad = 0;
	char *msg = first_str(j, e, finding_text_keys,
	                      sizeof finding_text_keys / sizeof *finding_text_keys, &which, &bad);
	if (!msg) {
		tool_fail(res,
		          bad ? "findings[%d].%s must be a non-empty string"
		              : "findings[%d] has no 'message': say what is wrong",
		          i, which);
		return -1;
	}
	static const char *const file_keys[] = {"file", "path"};
	char *file = first_str(j, e, file_keys, 2, &which, &bad);
	if (bad) {
		tool_fail(res, "findings[%d].%s must be a non-empty string (a workspace path)", i,
		          which);
		free(msg);
		return -1;
	}
	long long line = 0;
	int lt = json_get(j, e, "line");
	if (lt >= 0 && json_type(j, lt) != JSON_NULL) {
		char *s = NULL, *end = NULL;
		int ok = json_int(j, lt, &line) == 0 || ((s = json_str(j, lt, NULL)) && *s &&
		                                         (line = strtoll(s, &end, 10), !*end));
		free(s);
		if (!ok || line < 1) {
			tool_fail(res, "findings[%d].line must be a line number (an integer >= 1)",
			          i);
			free(msg);
			free(file);
			return -1;
		}
	}
	const char *sev = NULL;
	int st = json_get(j, e, "severity");
	if (st >= 0 && json_type(j, st) != JSON_NULL) {
		char *s = json_str(j, st, NULL);
		for (size_t k = 0; s && k < sizeof severities / sizeof *severities; k++)
			if (!strcasecmp(s, severities[k]))
				sev = severities[k];
		free(s);
		if (!sev) {
			tool_fail(res,
			          "findings[%d].severity must be \"high\", \"medium\" or \"low\"",
			          i);
			free(msg);
			free(file);
			return -1;
		}
		if (sev == severities[0])
			(*nhigh)++;
	}
	jw_obj(w);
	if (file)
		jw_kstr(w, "file", file);
	if (line)
		jw_kint(w, "line", line);
	if (sev)
		jw_kstr(w, "severity", sev);
	jw_kstr(w, "message", msg);
	jw_obj_end(w);
	free(msg);
	free(file);
	return 0;
}

/* Normalises the findings argument into out (a JSON array).  -1 with res
 * filled. */
static int parse_findings(const struct json *j, int obj, struct buf *out, int *n, int *nhigh,
                          struct tool_result *res)
{
	int f = json_get(j, obj, "findings");
	*n = *nhigh = 0;
	if (f < 0 || json_type(j, f) == JSON_NULL)
		return 0;
	struct json inner = {0};
	char *text = NULL;
	const struct json *src = j;
	if (json_type(j, f) == JSON_STRING) {
		/* Some models send the array JSON-encoded in a string. */
		size_t len;
		text = json_str(j, f, &len);
		if (blank(text)) {
			free(text);
			return 0;
		}
		if (json_parse(&inner, text, len, NULL) < 0 || json_type(&inner, 0) != JSON_ARRAY) {
			tool_fail(res,
			          "'findings' must be an array of objects {file, line, severity, "
			          "message}");
			json_free(&inner);
			free(text);
			return -1;
		}
		src = &inner;
		f = 0;
	} else if (json_type(j, f) != JSON_ARRAY) {
		tool_fail(res,
		          "'findings' must be an array of objects {file, line, severity, "
		          "message}, not %s",
		          json_type_name(json_type(j, f)));
		return -1;
	}
	struct jw w;
	int i, e, rc = 0;
	jw_init(&w, out);
	jw_arr(&w);
	JSON_ARRAY_EACH(src, f, i, e)
	{
		if (add_finding(src, e, i, &w, nhigh, res) < 0) {
			rc = -1;
			break;
		}
		(*n)++;
	}
	jw_arr_end(&w);
	json_free(&inner);
	free(text);
	return rc;
}

static void verdict_run(enum role role, struct tool_ctx *ctx, const struct json *j, int obj,
                        struct tool_result *res)
{
	static const char *const allowed[2][2] = {{"approve", "changes_requested"},
	                                          {"pass", "fail"}};
	struct verdict *v = ctx->user;
	if (!v) {
		tool_fail(res, "the verdict tool is not available in this stage");
		return;
	}
	char *verdict = tool_arg_str(j, obj, "verdict", 1, res);
	if (!verdict)
		return;
	if (strcmp(verdict, allowed[role][0]) && strcmp(verdict, allowed[role][1])) {
		tool_fail(res, "'verdict' must be \"%s\" or \"%s\", not \"%s\"", allowed[role][0],
		          allowed[role][1], verdict);
		free(verdict);
		return;
	}
	char *summary = tool_arg_str(j, obj, "summary", 1, res);
	if (!summary || blank(summary)) {
		if (summary)
			tool_fail(res, "'summary' is empty: say in a few sentences what you found");
		free(verdict);
		free(summary);
		return;
	}
	struct buf findings = BUF_INIT;
	int n, nhigh;
	if (parse_findings(j, obj, &findings, &n, &nhigh, res) < 0) {
		buf_free(&findings);
		free(verdict);
		free(summary);
		return;
	}
	const char *bad = NULL;
	if (role == REVIEW && !strcmp(verdict, "approve") && nhigh)
		bad = "'approve' with a finding of severity \"high\": a high finding blocks "
		      "approval; give \"changes_requested\" or lower the severity";
	else if (role == REVIEW && !strcmp(verdict, "changes_requested") && !n)
		bad = "'changes_requested' needs at least one finding saying what to change "
		      "(file, line, severity, message)";
	if (bad) {
		tool_fail(res, "%s", bad);
		buf_free(&findings);
		free(verdict);
		free(summary);
		return;
	}

	free(v->verdict);
	free(v->summary);
	buf_free(&v->findings);
	v->verdict = verdict;
	v->summary = summary;
	v->findings = findings;
	v->nfindings = n;
	v->set = 1;
	v->calls++;
	ctx->end_stage = 1;
	buf_addf(&res->text, "Verdict recorded: %s", verdict);
	if (n)
		buf_addf(&res->text, " with %d finding%s", n, n == 1 ? "" : "s");
	buf_adds(&res->text, ". The stage ends after this turn.");
}

static void review_run(struct tool_ctx *ctx, const struct json *j, int obj, struct tool_result *res)
{
	verdict_run(REVIEW, ctx, j, obj, res);
}

static void test_run(struct tool_ctx *ctx, const struct json *j, int obj, struct tool_result *res)
{
	verdict_run(TEST, ctx, j, obj, res);
}

/* One finding, the same for both roles. */
#define FINDING_SCHEMA                                                                             \
	"{\"type\":\"object\",\"properties\":{"                                                    \
	"\"file\":{\"type\":\"string\",\"description\":\"workspace path of the file\"},"           \
	"\"line\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"line number\"},"           \
	"\"severity\":{\"type\":\"string\",\"enum\":[\"high\",\"medium\",\"low\"],"                \
	"\"description\":\"high: blocking (a bug, a security hole, a broken or missing test); "    \
	"medium: should be fixed; low: minor or style\"},"                                         \
	"\"message\":{\"type\":\"string\",\"description\":\"what is wrong and what to do "         \
	"about it\"}},"                                                                            \
	"\"required\":[\"message\"]}"

const struct tool tool_verdict_review = {
    "verdict",
    "Give your review verdict; this ends your review. verdict: \"approve\" when the change "
    "does what the task asks and has no blocking problem, else \"changes_requested\". "
    "summary: a few sentences on what you checked and concluded. findings: one entry per "
    "concrete problem, each with file, line, severity (high blocks approval, medium should "
    "be fixed, low is minor) and a message saying what is wrong and how to fix it; [] when "
    "there is nothing to report. changes_requested needs at least one finding; approve "
    "allows no high finding.",
    "{\"type\":\"object\",\"properties\":{"
    "\"verdict\":{\"type\":\"string\",\"enum\":[\"approve\",\"changes_requested\"]},"
    "\"summary\":{\"type\":\"string\",\"description\":\"what you checked and concluded\"},"
    "\"findings\":{\"type\":\"array\",\"items\":" FINDING_SCHEMA "}},"
    "\"required\":[\"verdict\",\"summary\",\"findings\"]}",
    review_run,
};

const struct tool tool_verdict_test = {
    "verdict",
    "Give your test verdict; this ends your stage. verdict: \"pass\" when the test command "
    "exited 0, \"fail\" otherwise (the exit status decides; your verdict cannot overrule "
    "it). summary: what ran, what failed and why, in a few sentences a developer can act "
    "on. findings (optional): where the cause of a failure is, each with file, line, "
    "severity and a message.",
    "{\"type\":\"object\",\"properties\":{"
    "\"verdict\":{\"type\":\"string\",\"enum\":[\"pass\",\"fail\"]},"
    "\"summary\":{\"type\":\"string\",\"description\":\"what ran, what failed and why\"},"
    "\"findings\":{\"type\":\"array\",\"items\":" FINDING_SCHEMA "}},"
    "\"required\":[\"verdict\",\"summary\"]}",
    test_run,
};

void verdict_set(struct verdict *v, const char *verdict, const char *summary)
{
	char *a = xstrdup(verdict), *b = xstrdup(summary ? summary : "");
	free(v->verdict);
	free(v->summary);
	v->verdict = a;
	v->summary = b;
	v->set = 1;
}

static int is_review(const char *verdict)
{
	return verdict && (!strcmp(verdict, "approve") || !strcmp(verdict, "changes_requested"));
}

void verdict_line(struct buf *line, const char *agent, const struct verdict *v)
{
	struct jw w;
	conv_line_begin(&w, line, "verdict", agent);
	jw_kstr(&w, "verdict", v->verdict ? v->verdict : "");
	jw_kstr(&w, "summary", v->summary ? v->summary : "");
	if (v->findings.len) {
		jw_key(&w, "findings");
		jw_raw(&w, v->findings.p, v->findings.len);
	} else if (is_review(v->verdict)) {
		jw_key(&w, "findings");
		jw_raw(&w, "[]", 2);
	}
	if (v->command)
		jw_kstr(&w, "command", v->command);
	if (v->has_exit_code)
		jw_kint(&w, "exit_code", v->exit_code);
	if (v->output)
		jw_kstr(&w, "output", v->output);
	conv_line_end(&w);
}

char *verdict_cap_output(const char *p, size_t n)
{
	struct buf b = BUF_INIT;
	buf_add(&b, p ? p : "", n);
	for (size_t i = 0; i < b.len; i++)
		if (!b.p[i])
			b.p[i] = '?'; /* the result is a C string */
	tools_cap(&b, VERDICT_OUTPUT_MAX);
	return buf_detach(&b, NULL);
}

void verdict_free(struct verdict *v)
{
	free(v->verdict);
	free(v->summary);
	buf_free(&v->findings);
	free(v->command);
	free(v->output);
	memset(v, 0, sizeof *v);
}
