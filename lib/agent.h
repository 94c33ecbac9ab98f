/*
 * agent — one stage's tool loop (DESIGN §4): the request (system prompt,
 * tools, the context as the first user message) goes to the model
 * (streaming); every tool call is written as a `tool_use` line, run, and
 * answered with a `tool_result` line and a tool_result block in the next
 * request; until the model ends its turn (its text becomes the `message`
 * line) or max_turns API calls were made (an error of kind "limit").
 *
 * Lines written to out_fd, each one whole line per write(2) as it is
 * produced: `delta` (with stream_deltas), `usage` (one per API call),
 * `event` retry (one per retry), `tool_use`, `tool_result`, `message`.
 * The agent never writes `error` lines: a failure is returned in
 * a->err (kind, retryable, message, exit code) and the caller (stage.c)
 * words it, because only the caller knows e.g. which signal interrupted.
 *
 * Ownership: struct agent owns its request (model, system, tools,
 * messages), final_text and its tool list; agent_free() releases them.
 * ep, retry, cfg and tctx are borrowed and must outlive agent_run().
 */
#ifndef BL_AGENT_H
#define BL_AGENT_H

#include <stddef.h>

#include "config.h"
#include "llm.h"
#include "tools.h"

struct respcache;

struct agent_err {
	const char *kind; /* "api", "auth", "rate_limit", "timeout", "protocol",
	                     "config", "limit", "interrupted", "io" */
	int retryable;
	int exit_code; /* 69, 70, 75, 77, 78 (DESIGN §3) */
	char message[600];
};

struct agent {
	/* Set by the caller (agent_init zeroes everything). */
	const char *name;     /* "planner": every line's agent */
	const char *provider; /* "anthropic": usage lines */
	const struct llm_endpoint *ep;
	const struct llm_retry *retry;
	const struct bl_config *cfg; /* prices; may be NULL (cost 0) */
	struct tool_ctx *tctx;
	struct llm_request req; /* model, system, max_tokens, cache, stream, msgs */
	int max_turns;          /* API calls allowed; <= 0: 30 */
	int stream_deltas;      /* -s: write delta lines */
	int emit_message;       /* write the final text as a message line (1) */
	int out_fd;             /* 1 */
	volatile int *abort;
	struct respcache *cache; /* response cache (borrowed), or NULL: off */

	/* Filled by agent_run. */
	const struct tool **tools;
	size_t ntools;
	int turns;         /* API calls made */
	double cost_usd;   /* over all calls */
	char *final_text;  /* the model's last text (malloc'd), or NULL */
	int ended_by_tool; /* a tool set tctx->end_stage */
	struct agent_err err;
	int write_failed; /* errno of a failed write to out_fd, or 0 */
};

/* Zeroes a and sets the defaults (emit_message 1, out_fd 1, stream 1). */
void agent_init(struct agent *a, const char *name);
/* Offers tool t to the model (describes it in the request); a keeps
 * the pointer, so t must outlive a (the static tools do). */
void agent_add_tool(struct agent *a, const struct tool *t);
/* Appends a user message with one text block (copied). */
void agent_add_user_text(struct agent *a, const char *text);

/*
 * Runs the loop from the current messages.  0 when the model ended its
 * turn (final_text set, a message line written when emit_message) or a
 * tool ended the stage (ended_by_tool); otherwise the exit code of
 * DESIGN §3 with a->err filled: API failure 69 (also a reply cut at
 * max_tokens inside a tool call: kind protocol), auth 77, config 78,
 * interrupted (abort flag) 75, max_turns reached 75 (kind limit), write
 * error 70.
 * May be called again after adding a user message (e.g. a reviewer
 * asked once more for its verdict); turns keep counting.
 */
int agent_run(struct agent *a);

void agent_free(struct agent *a);

#endif
