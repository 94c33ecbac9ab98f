/*
 * route_llm — the Manager model of `bl-manager --route llm` (DESIGN §6):
 * an agent (lib/agent) whose tools are the pipeline's stages, one tool
 * per stage named for its agent (input: "instructions"), plus `finish`
 * (input: "summary").  Its system prompt is prompts/manager.txt (or the
 * manager agent's system_prompt_file) followed by this run's
 * workspace, stages and limits.
 *
 * This file is the mechanism: building the agent, dispatching its tool
 * calls to the caller's hooks, and reading back the lines the agent
 * writes (into a memfd) so that they are stored in order, before each
 * stage the Manager starts.  What a stage call does (limits, the run,
 * the window after it) is the caller's policy, in its hooks.
 *
 * Guarantees: once a hook decides the end (or finish is called) every
 * later stage call fails with "the run has ended; call finish" and the
 * agent's turn ends; no global state: the tools find their route_llm
 * through tool_ctx.user, so a process may hold several (one runs at a
 * time, as agent_run is not reentrant).
 */
#ifndef BL_ROUTE_LLM_H
#define BL_ROUTE_LLM_H

#include <stddef.h>
#include <sys/types.h>

#include "agent.h"
#include "config.h"
#include "conv.h"
#include "llm.h"
#include "pipeline.h"
#include "supervise.h"
#include "tools.h"

struct route_llm_hooks {
	void *ctx;
	/* A line the Manager agent wrote, in order (it is borrowed). */
	void (*take)(void *ctx, const struct conv_item *it);
	/* The Manager called stage idx with instructions (NULL when it gave
	 * none; borrowed): run it, and fill res.  -1 to go on, else the
	 * caller's status that ends the run. */
	int (*stage)(void *ctx, int idx, const char *instructions, struct tool_result *res);
	/* The Manager called finish; summary (malloc'd, or NULL) is handed
	 * over.  The caller's status that ends the run. */
	int (*finish)(void *ctx, char *summary);
};

struct route_llm {
	struct agent agent;
	struct llm_endpoint ep;
	struct tool tools[PIPELINE_MAX_STAGES], finish;
	struct tool_ctx tctx;
	struct route_llm_hooks hooks;
	int mfd;        /* the agent's output (a memfd read back), or -1 */
	off_t mfd_off;  /* how much of it is taken */
	int ended;      /* a hook decided the end (finish, a limit, a stop) */
	int end_status; /* then: the status the hook returned */
};

/* Zeroes r (no memfd).  route_llm_free is then always safe. */
void route_llm_init(struct route_llm *r);

/* Builds the Manager agent for pipeline pl (whose agents are in cfg)
 * in workspace ws_abs; model overrides the manager agent's model.  r
 * borrows cfg, pl, ws_abs and hooks' ctx until route_llm_free; r owns
 * the rest.  0, or -1 (a config error) or -2 (no API key, auth) with
 * err ("manager: ..."). */
int route_llm_setup(struct route_llm *r, const struct bl_config *cfg, const struct pipeline *pl,
                    const char *ws_abs, const char *model, const struct route_llm_hooks *hooks,
                    char *err, size_t errlen);

/* Runs the Manager on task (borrowed) until it ends its turn, a hook
 * ends the run, or it fails.  0 when a hook ended it (r->end_status),
 * 1 when the model ended its turn without finish (r->agent.final_text
 * may hold its text), -1 when the agent failed (r->agent.err), -2 when
 * its output could not be set up (err). */
int route_llm_run(struct route_llm *r, const char *task, char *err, size_t errlen);

/* Appends to res the tool result of a stage run that ended well: its
 * final message and verdict from c (borrowed). */
void route_llm_report(struct tool_result *res, const char *agent, const struct sv_outcome *c);

/* Releases what r owns (the agent, endpoint, tool texts, memfd). */
void route_llm_free(struct route_llm *r);

#endif
