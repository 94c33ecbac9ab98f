/*
 * tools_verdict — the `verdict` tool that ends a reviewer's or a tester's
 * stage (DESIGN §4), and the `verdict` conversation line (DESIGN §2).
 *
 * Two tools, both named "verdict" to the model, one per role:
 *   tool_verdict_review: verdict "approve" | "changes_requested",
 *                        summary, findings (required in the schema, may
 *                        be []);
 *   tool_verdict_test:   verdict "pass" | "fail", summary, findings
 *                        (optional: where a failure comes from).
 * A finding is {file?, line?, severity?, message}; severity is "high"
 * (blocks approval), "medium" or "low".  The model may also give a
 * finding as a plain string, name its text "issue", "text",
 * "description" or "comment", or send the array JSON-encoded in a
 * string; the stored findings are always objects with "message", so
 * readers of the verdict line see one shape.
 *
 * Guarantees: a bad call (unknown verdict, blank summary, a finding
 * without text, a bad line or severity, approve with a high finding,
 * changes_requested without findings) is an is_error result naming what
 * to fix, so the model can call again, and records nothing.  A good call
 * replaces any earlier one in ctx->user (a struct verdict) and sets
 * ctx->end_stage, so the agent loop ends after this turn.
 *
 * Ownership: struct verdict owns its strings and findings;
 * verdict_free() releases them and leaves it empty (reusable).
 */
#ifndef BL_TOOLS_VERDICT_H
#define BL_TOOLS_VERDICT_H

#include "tools.h"
#include "util.h"

#define VERDICT_OUTPUT_MAX (8 * 1024) /* tester output kept in the line, head + tail */

struct verdict {
	/* Set by the tool. */
	int set;       /* a valid call was recorded */
	int calls;     /* valid calls made (the last one counts) */
	char *verdict; /* "approve", "changes_requested", "pass", "fail" */
	char *summary;
	struct buf findings; /* a JSON array of finding objects; len 0: none given */
	int nfindings;

	/* Set by bl-test for the line (the tool never touches them). */
	int has_exit_code;
	int exit_code;
	char *command;
	char *output; /* capped with verdict_cap_output() */
};

extern const struct tool tool_verdict_review, tool_verdict_test;

/* Sets v's verdict and summary (copies) as if the tool had recorded them;
 * keeps the findings.  For bl-test, which forces the verdict. */
void verdict_set(struct verdict *v, const char *verdict, const char *summary);

/* Appends the whole `verdict` line for agent (with '\n') to line: verdict,
 * summary, findings (always for a review verdict, [] when none; for a
 * test verdict only when some were given), exit_code, command and output
 * when set.  v is only read. */
void verdict_line(struct buf *line, const char *agent, const struct verdict *v);

/* Returns a malloc'd copy of the n bytes at p cut to VERDICT_OUTPUT_MAX
 * bytes, head and tail kept, the cut said (tools_cap); NUL bytes become
 * '?', so the result is a C string. */
char *verdict_cap_output(const char *p, size_t n);

/* Releases what v owns (strings, findings, bl-test's fields) and zeroes
 * it; v may be freed twice. */
void verdict_free(struct verdict *v);

#endif
