/*
 * stage — what every bl-<role> filter shares (DESIGN §3): the common
 * flags, reading the conversation, the task argument, -p/--pass, config,
 * .env, logging, signals, the workspace, the provider endpoint, the
 * agent (prompt, tools, context) and the exit status.  A filter's main
 * is then a handful of calls:
 *
 *	struct stage st;
 *	int rc = stage_args(&st, &spec, argc, argv);   64, or 0 for -h/--version
 *	if (rc < 0) rc = stage_input(&st);             64/65: nothing on stdout
 *	if (rc < 0) rc = stage_setup(&st);             78/77 with an error line
 *	(role policy here: register tools, tweak st.agent)
 *	if (rc < 0) rc = stage_run(&st);               0, or 69/70/75/77 with an error line
 *	print st.out on stdout and st.diag on stderr; stage_free(&st); return rc;
 *
 * Each step returns -1 to go on or the exit status to stop with.  stage
 * functions never print: text for the user is left in st->out (--help,
 * --version) and st->diag (one "PROG: what\n" line each); conversation
 * lines (and --dry-run's request) go to fd 1 as they are produced.
 *
 * Input rules: stdin is read to EOF before anything is written, unless it
 * is a terminal.  A task argument becomes a `task` line (new session)
 * when the input holds no task line, else a `message` line of agent
 * "user" (a follow-up instruction in that session).  No task from either
 * source: 64 (empty input) or 65 (a conversation without a task line).
 *
 * Signals: SIGTERM, SIGINT and SIGHUP set the abort flag that stops the
 * API call and the tools; the stage then writes an `error` line — kind
 * "timeout" (retryable) for SIGTERM, a supervisor's timeout; "crash"
 * (not retryable) for SIGINT/SIGHUP, a person stopping it — and exits
 * 75.  A second signal kills at once (SA_RESETHAND).  SIGINT and SIGHUP
 * inherited as ignored (background job, nohup) stay ignored.
 *
 * Ownership: struct stage owns everything in it; stage_free().
 */
#ifndef BL_STAGE_H
#define BL_STAGE_H

#include "agent.h"
#include "config.h"
#include "conv.h"
#include "llm.h"
#include "tools.h"
#include "util.h"

struct stage_spec {
	const char *prog;    /* "bl-plan" */
	const char *role;    /* "planner": the agent looked up in agent_config */
	const char *purpose; /* one line for --help */
	int writes;          /* 1: the agent may change the workspace (tctx.writable) */
};

struct stage {
	const struct stage_spec *spec;

	/* options */
	const char *workspace; /* -C, default "." */
	const char *model;     /* -m */
	const char *config;    /* --config */
	const char *task;      /* the task argument, or NULL */
	int max_turns;         /* --max-turns, 0: config */
	int dry_run, pass, stream, verbose;

	/* input */
	struct conv in;       /* stdin as read (empty when stdin is a terminal) */
	struct conv all;      /* in + this stage's additions: the context source */
	struct buf additions; /* lines written before the agent's (task/message) */
	char session[32];

	/* setup */
	struct bl_config cfg;
	const struct agent_cfg *acfg;
	struct llm_endpoint ep;
	int rootfd;
	char *root_abs;
	struct tool_ctx tctx;
	struct agent agent;

	/* for main to print */
	struct buf out;  /* stdout text: --help, --version */
	struct buf diag; /* stderr lines: "PROG: what\n" */
};

/* Parses argv (getopt_long).  Fills st (zeroed first; it keeps
 * pointers into argv, which must outlive it).  -1 to go on; 0
 * with st->out filled for --help/--version; 64 with st->diag for bad
 * usage (unknown flag, bad -C, bad --max-turns, more than one task). */
int stage_args(struct stage *st, const struct stage_spec *spec, int argc, char **argv);

/* Installs the signal handlers, reads stdin to EOF (unless a terminal),
 * checks it, and works out the task (see the input rules above).  -1 to
 * go on; 64 or 65 with st->diag, nothing written. */
int stage_input(struct stage *st);

/* Writes the echo (-p) and the additions, then loads config, .env files
 * (workspace, then $BL_HOME), logging, the endpoint, the system prompt,
 * the tools and the context into st->agent.  Not in --dry-run: nothing
 * is written.  -1 to go on; 77/78 with an error line and st->diag.
 * Config warnings are added to st->diag. */
int stage_setup(struct stage *st);

/* --dry-run: writes the request (llm_request_dump, key redacted) to
 * stdout and returns 0.  Otherwise runs the agent: 0, or its exit code
 * with an error line written and st->diag filled. */
int stage_run(struct stage *st);

/* Writes an error line {kind, message, retryable} for st's agent and
 * adds the message to st->diag; returns code. */
int stage_fail(struct stage *st, int code, const char *kind, int retryable, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Appends text (copied) to the first user message, the context, after
 * stage_setup; a stage adds what it gathered itself (a diff, a test run). */
void stage_add_context(struct stage *st, const char *text);

/* The signal that interrupted the stage, or 0. */
int stage_signal(void);

void stage_free(struct stage *st);

#endif
