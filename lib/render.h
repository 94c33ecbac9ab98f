/*
 * render — the readable live view of a conversation, for a person at a
 * terminal (bl-manager without --json; later bl-view): a header per
 * stage, streamed text as it arrives, one line per tool call
 * ("✎ write src/x.c", "$ make test → exit 1"), verdicts with their
 * findings, commits, retries, timeouts and cycle counters ("↺ Review
 * cycle 1/3 ..."), errors, and at the result line a closing summary:
 * status, tests, commit, tokens, cost, time and the session path.
 *
 * It is fed one parsed line at a time, in order, and writes to one fd;
 * it keeps the little state a live view needs (the stage being shown,
 * whether its text was already streamed through delta lines, a shell
 * command waiting for its exit code, the running token and cost totals).
 * Unknown types and fields are ignored.  Colour (ANSI SGR) only when
 * asked for.  It never fails its caller: a failed write is dropped.
 *
 * Ownership: struct render owns its copies (agent, commit); render_free().
 * session_path is borrowed and must outlive the render.
 */
#ifndef BL_RENDER_H
#define BL_RENDER_H

#include <stdint.h>

#include "conv.h"
#include "markdown.h"

struct render {
	int fd;
	int color;
	int width;                /* terminal columns; 0: 80 */
	const char *session_path; /* shown in the summary; may be NULL */
	int64_t t0;               /* mono_ms() at the start, for "time" */

	/* state */
	int mid_line;     /* the last byte written was not '\n' */
	char *agent;      /* whose text is being shown */
	int streamed;     /* delta text of agent was shown since its last message */
	char *pending_id; /* a bash tool_use waiting for its result on the same line */
	long long in_tokens, out_tokens, cache_read_tokens;
	double cost_usd;
	char *commit; /* "abc1234 subject" of the last commit */
	int tests;    /* -1 none, 0 fail, 1 pass (latest tester verdict) */

	/* additive (bl-view, bl): render_set_markdown() */
	int markdown;        /* assistant text as Markdown (lib/markdown), lines fit the width */
	struct md_stream md; /* delta text held until its Markdown block is finished */
	int pending_write;   /* the pending tool_use is a write/edit awaiting its +/- counts */
	char first_ts[32];   /* ts of the first line, for the summary's time on a replay */
};

/* Sets up r for writing to fd; color: use ANSI colours. */
void render_init(struct render *r, int fd, int color);
/* Sets the width the view may use (terminal columns; < 1: 80). */
void render_set_width(struct render *r, int width);
/* Ends the view: finishes a half-written line (streamed text, a shell
 * command waiting for its exit code).  Call once after the last item. */
void render_end(struct render *r);
/* Additive (bl-view, bl): on, assistant text (message and delta lines)
 * is rendered as Markdown through lib/markdown (delta text one finished
 * block at a time), every other line wider than the width is wrapped
 * (lib/term), and tool arguments are cut to fit.  Off (the default) text
 * is shown as it came.  Either way a write/edit line ends with the
 * "(+A −D)" counts of its result, and the summary's time is the span of
 * the lines' timestamps (so a replayed session shows its real time). */
void render_set_markdown(struct render *r, int on);
/* Shows one line of the conversation. */
void render_item(struct render *r, const struct conv_item *it);
/* Parses one line (text without its '\n') and shows it; a line that is
 * not a valid conversation line is ignored. */
void render_line(struct render *r, const char *line, size_t len);
/* Writes a free-form note ("⏸ paused: type a message") on its own line. */
void render_note(struct render *r, const char *text);
void render_free(struct render *r);

#endif
