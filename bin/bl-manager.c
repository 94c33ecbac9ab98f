/*
 * bl-manager — runs the team (DESIGN §6): writes the `task` line, runs a
 * pipeline of stages, each a supervised child filter fed the
 * conversation so far, stores every stage's additions in the session as
 * they arrive and shows them live (the render view on a terminal, JSON
 * Lines otherwise), retries crashed, timed-out and API-failed stages,
 * follows the `on` edges (reviewer changes_requested -> coder, tester
 * fail -> coder) within the workflow limits, and ends with one `result`
 * line and the saved session.  With --route llm a Manager model picks
 * the stages instead (one tool per agent plus `finish`), under the same
 * limits.
 *
 * This file is the policy (what to run next, which failures are retried,
 * which limit applies, what the user is asked); the mechanisms are in
 * lib/: supervise (processes, deadlines, signals, stage attempts),
 * pipeline, session, render, tally (the result's totals), intervene
 * (the questions on the terminal) and route_llm (the Manager model's
 * agent and its tools).  It is longer than one filter's main because
 * the whole orchestration policy lives here, in one place.  The
 * contract — options, output, exit status — is written in bl-manager(1).
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "conv.h"
#include "dotenv.h"
#include "intervene.h"
#include "json.h"
#include "log.h"
#include "pipeline.h"
#include "render.h"
#include "route_llm.h"
#include "session.h"
#include "supervise.h"
#include "tally.h"
#include "term.h"
#include "tools.h"

#define PROG "bl-manager"

/* Exit status of bl-manager (bl-manager(1)). */
enum { EXIT_COMPLETED = 0, EXIT_FAILED = 1, EXIT_LIMIT = 2 };

enum status { ST_COMPLETED, ST_FAILED, ST_STOPPED, ST_LIMIT, ST_TIMEOUT };
static const char *const status_names[] = {"completed", "failed", "stopped", "limit", "timeout"};

/* How one stage run (all its attempts) ended. */
enum outcome { OC_OK, OC_FAILED, OC_TIMEOUT, OC_STOPPED, OC_LIMIT };

struct opts {
	const char *workspace, *config, *pipeline, *route, *resume, *model, *task;
	int json, stream, wait_s, verbose;
};

struct mgr {
	struct opts o;
	struct bl_config cfg;
	struct pipeline pl;
	struct session sess;
	char *ws_abs, *config_abs, *self_dir, *home;
	char **cmds; /* resolved program of each pipeline stage */
	int stage_log_fd;
	int json_out;
	struct intervene iv; /* the terminal, for the user's say */
	struct render view;
	int io_failed; /* errno of a failed session write */

	/* the session so far (also rebuilt on --resume) */
	struct tally tally;              /* turns, cost, tests, commit, message */
	int cycles[PIPELINE_MAX_STAGES]; /* edges taken from each stage */
	int runs[PIPELINE_MAX_STAGES];   /* successful runs of each stage (--route llm) */
	int extra[PIPELINE_MAX_STAGES];  /* "one more" granted at a limit */
	char *task_text;                 /* the task (after an @agent prefix) */
	char *pipeline_spec;             /* the pipeline as the task line records it */
	struct sv_outcome last;          /* how the latest stage attempt ended */

	/* the end */
	enum status status;
	char *summary;
};

/* ---- lines: store, show, account ---- */

static void replace(char **dst, char *src)
{
	free(*dst);
	*dst = src;
}

static void show_item(struct mgr *m, const struct conv_item *it)
{
	if (!m->json_out) {
		render_item(&m->view, it);
		return;
	}
	struct buf b = BUF_INIT;
	buf_add(&b, it->line, it->len);
	buf_addc(&b, '\n');
	write_all(1, b.p, b.len); /* a closed stdout does not stop the run */
	buf_free(&b);
}

/* Stores (unless a delta), shows and accounts one parsed line. */
static void take_item(struct mgr *m, const struct conv_item *it)
{
	if (it->type == CONV_DELTA) {
		if (!m->json_out || m->o.stream)
			show_item(m, it);
		return;
	}
	if (session_append(&m->sess, it->line, it->len) < 0 && !m->io_failed) {
		m->io_failed = errno ? errno : EIO;
		warnx("cannot write the session '%s': %s", m->sess.path, strerror(m->io_failed));
	}
	tally_note(&m->tally, &m->cfg, it);
	show_item(m, it);
}

/* The emit callback of lib/supervise: every line of a stage attempt. */
static int emit_item(void *ctx, const struct conv_item *it)
{
	struct mgr *m = ctx;
	take_item(m, it);
	return m->io_failed ? -1 : 0;
}

/* A line bl-manager built (valid by construction); line is released. */
static void put(struct mgr *m, struct buf *line)
{
	sv_emit_built(emit_item, m, line);
}

static void put_event(struct mgr *m, const char *event, const char *agent, int attempt, int cycle,
                      int max_cycles, const char *detail)
{
	struct buf b = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &b, "event", NULL);
	jw_kstr(&w, "event", event);
	if (agent)
		jw_kstr(&w, "agent", agent);
	if (attempt > 0)
		jw_kint(&w, "attempt", attempt);
	if (max_cycles > 0) {
		jw_kint(&w, "cycle", cycle);
		jw_kint(&w, "max_cycles", max_cycles);
	}
	if (detail)
		jw_kstr(&w, "detail", detail);
	conv_line_end(&w);
	put(m, &b);
}

static void put_error(struct mgr *m, const char *agent, const char *kind, int retryable,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void put_error(struct mgr *m, const char *agent, const char *kind, int retryable,
                      const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	sv_emit_error(emit_item, m, agent, kind, retryable, msg);
}

/* ---- one stage run ---- */

static const struct agent_cfg *agent_of(const struct mgr *m, int idx)
{
	return config_agent(&m->cfg, m->pl.stages[idx].agent);
}

static const char *role_of(const struct mgr *m, int idx)
{
	const struct agent_cfg *a = agent_of(m, idx);
	return a && a->role ? a->role : m->pl.stages[idx].agent;
}

/* One attempt of stage idx; its outcome is left in m->last. */
static enum sv_end run_attempt(struct mgr *m, int idx, int attempt)
{
	char err[700];
	sv_outcome_free(&m->last);
	memset(&m->last, 0, sizeof m->last);
	int in = session_snapshot(&m->sess, err, sizeof err);
	if (in < 0) {
		put_error(m, m->pl.stages[idx].agent, "crash", 0, "%s", err);
		m->last.kind = "crash";
		snprintf(m->last.why, sizeof m->last.why, "%s", err);
		return m->last.end = SV_FATAL;
	}
	struct sv_stage s = {
	    .agent = m->pl.stages[idx].agent,
	    .program = m->cmds[idx],
	    .workspace = m->ws_abs,
	    .config = m->config_abs,
	    .model = m->o.model,
	    .stream = !m->json_out || m->o.stream,
	    .attempt = attempt,
	    .timeout_s = agent_of(m, idx)->timeout_s,
	    .stdin_fd = in,
	    .stderr_fd = m->stage_log_fd,
	    .ctx = m,
	    .emit = emit_item,
	};
	sv_stage_run(&s, &m->last);
	close(in);
	if (session_sync(&m->sess) < 0 && !m->io_failed)
		m->io_failed = errno ? errno : EIO;
	return m->last.end;
}

/* Runs stage idx until it succeeds, fails for good, or is stopped;
 * crashed, timed-out and API-failed attempts are rerun up to
 * max_retry_cycles times with exponential backoff (performance.retry
 * base_delay * 2^n, at most max_delay). */
static enum outcome run_stage(struct mgr *m, int idx)
{
	const char *agent = m->pl.stages[idx].agent;
	int retries = m->cfg.max_retry_cycles;
	for (int attempt = 1;; attempt++) {
		if (sv_caught())
			return OC_STOPPED;
		if (m->tally.turns >= m->cfg.max_turns) {
			replace(&m->summary,
			        xasprintf("max_turns reached: %d stage runs", m->cfg.max_turns));
			put_error(m, agent, "limit", 0, "%s", m->summary);
			return OC_LIMIT;
		}
		enum sv_end end = run_attempt(m, idx, attempt);
		if (end == SV_OK) {
			m->runs[idx]++;
			return OC_OK;
		}
		if (end == SV_STOPPED || sv_caught())
			return OC_STOPPED;
		int timeout = !strcmp(m->last.kind, "timeout");
		if (end == SV_FATAL || m->io_failed || attempt > retries) {
			if (end == SV_RETRY)
				replace(&m->summary,
				        xasprintf(
				            "%s %s on every attempt (%d, max_retry_cycles %d): %s",
				            agent, timeout ? "timed out" : "failed", attempt,
				            retries, m->last.why));
			else
				replace(&m->summary,
				        xasprintf("%s failed: %s", agent, m->last.why));
			return timeout ? OC_TIMEOUT : OC_FAILED;
		}
		double d = m->cfg.retry.base_delay_s * pow(2, attempt - 1);
		if (d > m->cfg.retry.max_delay_s)
			d = m->cfg.retry.max_delay_s;
		char detail[300];
		snprintf(detail, sizeof detail, "%s after %s; retry %d/%d in %.0f ms", agent,
		         m->last.kind, attempt, retries, d * 1000);
		put_event(m, "retry", agent, attempt + 1, 0, 0, detail);
		if (sv_wait(-1, (int64_t)(d * 1000)) < 0)
			return OC_STOPPED;
	}
}

/* ---- limits and the user ---- */

static int max_cycles(const struct mgr *m, int idx)
{
	int mc = m->pl.stages[idx].max_cycles;
	if (mc < 0)
		mc = !strcmp(role_of(m, idx), "reviewer") ? m->cfg.max_review_iterations
		                                          : m->cfg.max_coder_retries;
	return mc + m->extra[idx];
}

static const char *limit_key(const struct mgr *m, int idx)
{
	if (m->pl.stages[idx].max_cycles >= 0)
		return "the pipeline's max_cycles";
	return !strcmp(role_of(m, idx), "reviewer") ? "max_review_iterations" : "max_coder_retries";
}

static const char *cycle_label(const struct mgr *m, int idx)
{
	const char *role = role_of(m, idx);
	return !strcmp(role, "reviewer") ? "Review cycle"
	       : !strcmp(role, "tester") ? "Test cycle"
	                                 : NULL;
}

/* Counts taking an edge from stage idx: 0 to go on (a loop event is
 * written), -1 past the limit (an error line; status limit). */
static int count_cycle(struct mgr *m, int idx, const char *to, const char *why)
{
	const char *from = m->pl.stages[idx].agent, *label = cycle_label(m, idx);
	char head[120], d[400];
	if (label)
		snprintf(head, sizeof head, "%s", label);
	else
		snprintf(head, sizeof head, "%s cycle", from);
	if (m->cycles[idx] + 1 > max_cycles(m, idx)) {
		snprintf(d, sizeof d, "%s limit (%s = %d)", head, limit_key(m, idx),
		         max_cycles(m, idx));
		if (intervene_one_more(&m->iv, d)) {
			m->extra[idx]++;
		} else {
			put_error(m, from, "limit", 0,
			          "%s: %s said %s %d times; stopping instead of going back to %s",
			          d, from, why, m->cycles[idx] + 1, to);
			replace(
			    &m->summary,
			    xasprintf("stopped at the %s after %d cycles; the last %s verdict: %s",
			              d, m->cycles[idx], from, why));
			return -1;
		}
	}
	m->cycles[idx]++;
	snprintf(d, sizeof d, "%s %d/%d: %s %s, back to %s", head, m->cycles[idx],
	         max_cycles(m, idx), from, why, to);
	struct buf b = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &b, "event", NULL);
	jw_kstr(&w, "event", "loop");
	jw_kstr(&w, "agent", to);
	jw_kstr(&w, "from", from);
	jw_kint(&w, "cycle", m->cycles[idx]);
	jw_kint(&w, "max_cycles", max_cycles(m, idx));
	jw_kstr(&w, "detail", d);
	conv_line_end(&w);
	put(m, &b);
	return 0;
}

/* intervene_window's event hook: the pause and resume lines. */
static void put_pause_event(void *ctx, const char *event, const char *detail)
{
	put_event(ctx, event, NULL, 0, 0, 0, detail);
}

/* The window after a stage (interactive only): 0 go on, -1 stop. */
static int intervene(struct mgr *m)
{
	char line[4096];
	int r = intervene_window(&m->iv, put_pause_event, m, line, sizeof line);
	if (r == IV_STOP_USER)
		replace(&m->summary, xstrdup("stopped by the user"));
	if (r != IV_GO)
		return -1;
	if (line[0]) {
		struct buf b = BUF_INIT;
		struct jw w;
		conv_line_begin(&w, &b, "message", "user");
		jw_kstr(&w, "role", "user");
		jw_kstr(&w, "text", line);
		conv_line_end(&w);
		put(m, &b);
	}
	return 0;
}

/* ---- the fixed route ---- */

static enum status status_of(enum outcome oc)
{
	return oc == OC_STOPPED   ? ST_STOPPED
	       : oc == OC_LIMIT   ? ST_LIMIT
	       : oc == OC_TIMEOUT ? ST_TIMEOUT
	                          : ST_FAILED;
}

/* Where to go after stage idx said verdict: the next index (n = done),
 * or -1 past a limit. */
static int next_stage(struct mgr *m, int idx, const char *verdict)
{
	int to = pipeline_edge(&m->pl, idx, verdict);
	if (to < 0)
		return idx + 1;
	return count_cycle(m, idx, m->pl.stages[to].agent, verdict) < 0 ? -1 : to;
}

static enum status run_fixed(struct mgr *m, int idx)
{
	while ((size_t)idx < m->pl.n) {
		enum outcome oc = run_stage(m, idx);
		if (oc != OC_OK)
			return status_of(oc);
		int next = next_stage(m, idx, m->last.verdict);
		if (next < 0)
			return ST_LIMIT;
		if ((size_t)next < m->pl.n && intervene(m) < 0)
			return ST_STOPPED;
		idx = next;
	}
	return ST_COMPLETED;
}

/* ---- --route llm: the Manager model's hooks (lib/route_llm) ---- */

/* A line the Manager agent wrote: stored, shown, accounted. */
static void llm_take(void *ctx, const struct conv_item *it)
{
	take_item(ctx, it);
}

/* A stage called as a tool: the limits first, then the run, then the
 * window after it.  -1 to go on, else the status that ends the run. */
static int llm_stage(void *ctx, int idx, const char *instructions, struct tool_result *res)
{
	struct mgr *m = ctx;
	const char *agent = m->pl.stages[idx].agent;
	const char *label = cycle_label(m, idx);
	if (label && m->runs[idx] > 0) {
		/* --route llm: every rerun of a reviewer or tester is a cycle */
		char why[64];
		snprintf(why, sizeof why, "asked for again by the manager");
		if (count_cycle(m, idx, agent, why) < 0) {
			tool_fail(res, "limit: %s; the run ends here", m->summary);
			return ST_LIMIT;
		}
	}
	if (instructions && *instructions) {
		struct buf b = BUF_INIT;
		struct jw w;
		conv_line_begin(&w, &b, "message", "manager");
		jw_kstr(&w, "role", "user");
		jw_kstr(&w, "text", instructions);
		conv_line_end(&w);
		put(m, &b);
	}
	enum outcome oc = run_stage(m, idx);
	if (oc == OC_OK) {
		route_llm_report(res, agent, &m->last);
	} else {
		res->is_error = 1;
		buf_addf(&res->text, "the %s stage did not finish: %s", agent,
		         m->summary ? m->summary : status_names[status_of(oc)]);
	}
	if (oc == OC_STOPPED || oc == OC_LIMIT)
		return (int)status_of(oc);
	return intervene(m) < 0 ? ST_STOPPED : -1;
}

/* The Manager called finish: its summary is the result's. */
static int llm_finish(void *ctx, char *summary)
{
	struct mgr *m = ctx;
	replace(&m->summary, summary);
	return ST_COMPLETED;
}

/* The Manager agent for this run; -1 to go on, else the exit status
 * (with a message on stderr). */
static int llm_setup(struct mgr *m, struct route_llm *r)
{
	const struct route_llm_hooks hooks = {
	    .ctx = m, .take = llm_take, .stage = llm_stage, .finish = llm_finish};
	char err[800];
	int rc =
	    route_llm_setup(r, &m->cfg, &m->pl, m->ws_abs, m->o.model, &hooks, err, sizeof err);
	if (rc == 0)
		return -1;
	warnx("%s", err);
	return rc == -2 ? EX_BL_NOPERM : EX_BL_CONFIG;
}

static enum status run_llm(struct mgr *m, struct route_llm *r)
{
	char err[300];
	int rc = route_llm_run(r, m->task_text, err, sizeof err);
	if (rc == -2) {
		put_error(m, "manager", "crash", 0, "%s", err);
		return ST_FAILED;
	}
	if (rc == 0)
		return (enum status)r->end_status;
	if (sv_caught())
		return ST_STOPPED;
	const struct agent *a = &r->agent;
	if (rc == 1) {
		/* It ended its turn without calling finish: its text is the summary. */
		if (a->final_text)
			replace(&m->summary, xstrdup(a->final_text));
		return ST_COMPLETED;
	}
	put_error(m, "manager", a->err.kind ? a->err.kind : "crash", a->err.retryable, "%s",
	          a->err.message);
	replace(&m->summary, xasprintf("the manager model failed: %s", a->err.message));
	return a->err.kind && !strcmp(a->err.kind, "limit") ? ST_LIMIT : ST_FAILED;
}

/* ---- the result ---- */

static void put_result(struct mgr *m)
{
	int review = 0;
	for (size_t i = 0; i < m->pl.n; i++)
		if (!strcmp(role_of(m, (int)i), "reviewer"))
			review += m->cycles[i];
	if (m->status == ST_STOPPED && !m->summary)
		m->summary = sv_caught() ? xasprintf("stopped by %s", sv_signame(sv_caught()))
		                         : xstrdup("stopped");
	if (m->status == ST_COMPLETED && !m->summary) {
		const struct tally *t = &m->tally;
		if (t->commit)
			m->summary = xasprintf("committed %s", t->commit);
		else if (t->last_message)
			m->summary = xstrndup(t->last_message, strcspn(t->last_message, "\n"));
		else
			m->summary = xstrdup("done");
	}
	struct buf b = BUF_INIT;
	tally_result_line(&b, &m->tally, status_names[m->status], review, m->summary);
	put(m, &b);
	if (session_sync(&m->sess) < 0 && !m->io_failed)
		m->io_failed = errno;
}

/* ---- --resume ---- */

static int is_event_item(const struct conv_item *it, const char *name)
{
	return it->type == CONV_EVENT && json_streq(&it->j, json_get(&it->j, 0, "event"), name);
}

/* Rebuilds the counters from the stored log and finds where to go on:
 * after the last stage that ended well, along the edge its verdict took
 * (already counted when its loop event is stored).  The next stage
 * index, or -1 past a limit, or -2 with err. */
static int resume_point(struct mgr *m, const struct conv *c, char *err, size_t errlen)
{
	long last_ok = -1;
	const struct conv_item *result = NULL;
	for (size_t i = 0; i < c->n; i++) {
		const struct conv_item *it = &c->items[i];
		tally_note(&m->tally, &m->cfg, it);
		if (it->type == CONV_RESULT)
			result = it;
		if (is_event_item(it, "loop")) {
			char *from = json_get_str(&it->j, 0, "from");
			int k = pipeline_index(&m->pl, from);
			if (k >= 0)
				m->cycles[k]++;
			free(from);
		}
		if (is_event_item(it, "stage_end") &&
		    json_streq(&it->j, json_get(&it->j, 0, "status"), "ok")) {
			last_ok = (long)i;
			int k = pipeline_index(&m->pl, it->agent);
			if (k >= 0)
				m->runs[k]++;
		}
	}
	if (result && json_streq(&result->j, json_get(&result->j, 0, "status"), "completed")) {
		snprintf(err, errlen, "session '%s' already completed; nothing to resume",
		         m->sess.id);
		return -2;
	}
	const struct conv_item *task = NULL;
	for (size_t i = 0; i < c->n && !task; i++)
		if (c->items[i].type == CONV_TASK)
			task = &c->items[i];
	if (last_ok < 0) {
		char *start = json_get_str(&task->j, 0, "start");
		int k = start ? pipeline_index(&m->pl, start) : 0;
		free(start);
		return k < 0 ? 0 : k;
	}
	const struct conv_item *end = &c->items[last_ok];
	int idx = pipeline_index(&m->pl, end->agent);
	if (idx < 0) {
		snprintf(err, errlen, "session '%s': its last stage '%s' is not in pipeline '%s'",
		         m->sess.id, end->agent ? end->agent : "?", m->pl.name);
		return -2;
	}
	for (size_t i = (size_t)last_ok + 1; i < c->n; i++) {
		const struct conv_item *it = &c->items[i];
		if (!is_event_item(it, "loop"))
			continue;
		char *from = json_get_str(&it->j, 0, "from");
		int same = from && !strcmp(from, end->agent);
		free(from);
		if (same)
			return pipeline_index(&m->pl, it->agent) < 0
			           ? idx + 1
			           : pipeline_index(&m->pl, it->agent);
	}
	char *verdict = json_get_str(&end->j, 0, "verdict");
	int next = next_stage(m, idx, verdict);
	free(verdict);
	return next;
}

/* ---- options ---- */

static void usage(int fd)
{
	static const char text[] =
	    "usage: bl-manager [options] TASK\n"
	    "       bl-manager [options] --resume ID [MESSAGE]\n"
	    "Run the team on TASK in the workspace: plan, code, review, test, commit.\n"
	    "\n"
	    "  -C DIR              workspace (default .)\n"
	    "      --config PATH   config directory or file\n"
	    "      --pipeline P    pipeline name (pipelines/P.json) or file (default: default)\n"
	    "      --route R       fixed (the pipeline's order and edges) or llm (a Manager\n"
	    "                      model picks the stages)\n"
	    "      --json          JSON Lines on stdout even on a terminal\n"
	    "  -s, --stream        with JSON output, also the delta lines\n"
	    "      --wait N        interactive: N seconds to intervene after each stage (5)\n"
	    "      --no-wait       interactive: do not wait\n"
	    "      --resume ID     continue a stopped session after its last completed stage\n"
	    "  -m MODEL            model for every stage (and the Manager model)\n"
	    "  -v, --verbose       stage diagnostics and log records on stderr\n"
	    "  -h, --help          show this help\n"
	    "      --version       show the version\n"
	    "\n"
	    "TASK may start with @AGENT to start at that stage (\"@coder fix the typo\").\n"
	    "Exit status: 0 completed, 1 failed, 2 a limit was reached, 64 usage,\n"
	    "70 internal (the session could not be written), 75 stopped or timed out,\n"
	    "77 auth refused (--route llm), 78 config error.  See bl-manager(1).\n";
	write_all(fd, text, sizeof text - 1);
}

enum {
	OPT_CONFIG = 256,
	OPT_PIPELINE,
	OPT_ROUTE,
	OPT_JSON,
	OPT_WAIT,
	OPT_NO_WAIT,
	OPT_RESUME,
	OPT_VERSION
};

/* -1 to go on, else the exit status. */
static int parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"pipeline", required_argument, NULL, OPT_PIPELINE},
	    {"route", required_argument, NULL, OPT_ROUTE},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"stream", no_argument, NULL, 's'},
	    {"wait", required_argument, NULL, OPT_WAIT},
	    {"no-wait", no_argument, NULL, OPT_NO_WAIT},
	    {"resume", required_argument, NULL, OPT_RESUME},
	    {"model", required_argument, NULL, 'm'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	memset(o, 0, sizeof *o);
	o->workspace = ".";
	o->route = "fixed";
	o->wait_s = 5;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, ":C:m:svh", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			o->workspace = optarg;
			break;
		case 'm':
			o->model = optarg;
			break;
		case 's':
			o->stream = 1;
			break;
		case 'v':
			o->verbose = 1;
			break;
		case OPT_CONFIG:
			o->config = optarg;
			break;
		case OPT_PIPELINE:
			o->pipeline = optarg;
			break;
		case OPT_JSON:
			o->json = 1;
			break;
		case OPT_NO_WAIT:
			o->wait_s = 0;
			break;
		case OPT_RESUME:
			o->resume = optarg;
			break;
		case OPT_ROUTE:
			if (strcmp(optarg, "fixed") && strcmp(optarg, "llm")) {
				warnx("--route: expected fixed or llm, not '%s'", optarg);
				return EX_BL_USAGE;
			}
			o->route = optarg;
			break;
		case OPT_WAIT: {
			char *end;
			errno = 0;
			long n = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 0 || n > 3600) {
				warnx("--wait: expected seconds 0..3600, not '%s'", optarg);
				return EX_BL_USAGE;
			}
			o->wait_s = (int)n;
			break;
		}
		case 'h':
			usage(1);
			return 0;
		case OPT_VERSION:
			printf("bl-manager (better-llm) %s\n", BL_VERSION);
			return 0;
		case ':':
			warnx("option '%s' needs a value (see bl-manager --help)",
			      argv[optind - 1]);
			return EX_BL_USAGE;
		default:
			if (optopt)
				warnx("unknown option '-%c' (see bl-manager --help)", optopt);
			else
				warnx("unknown option '%s' (see bl-manager --help)",
				      argv[optind - 1]);
			return EX_BL_USAGE;
		}
	}
	if (argc - optind > 1) {
		warnx("one task argument expected, got %d (quote the task)", argc - optind);
		return EX_BL_USAGE;
	}
	o->task = optind < argc ? argv[optind] : NULL;
	if (o->task && !*o->task) {
		warnx("the task is empty");
		return EX_BL_USAGE;
	}
	if (!o->task && !o->resume) {
		warnx("no task (see bl-manager --help)");
		return EX_BL_USAGE;
	}
	if (o->resume && !strcmp(o->route, "llm")) {
		warnx("--resume continues the fixed route only");
		return EX_BL_USAGE;
	}
	return -1;
}

/* ---- setup ---- */

/* Loads the pipeline and finds every stage's agent and program.  -1 to
 * go on, else 78 with a message. */
static int setup_pipeline(struct mgr *m, const char *spec)
{
	char err[800];
	char *path = pipeline_resolve(&m->cfg, m->ws_abs, spec, err, sizeof err);
	if (!path || pipeline_load(&m->pl, path, err, sizeof err) < 0) {
		warnx("%s", err);
		free(path);
		return EX_BL_CONFIG;
	}
	free(path);
	if (strchr(spec, '/') || strstr(spec, ".json")) {
		/* a file: the session keeps its absolute path, for --resume */
		char *abs = realpath(m->pl.path, NULL);
		replace(&m->pipeline_spec, abs ? abs : xstrdup(m->pl.path));
	} else {
		replace(&m->pipeline_spec, xstrdup(spec));
	}
	m->cmds = xcalloc(m->pl.n, sizeof *m->cmds);
	for (size_t i = 0; i < m->pl.n; i++) {
		const struct agent_cfg *a = agent_of(m, (int)i);
		if (!a) {
			warnx("pipeline '%s': no agent '%s' in %s", m->pl.name,
			      m->pl.stages[i].agent,
			      m->cfg.agent_path ? m->cfg.agent_path : "agent_config.json");
			return EX_BL_CONFIG;
		}
		m->cmds[i] = sv_which(a->command, m->self_dir);
		if (!m->cmds[i]) {
			warnx("agent '%s': cannot find its command '%s' (beside bl-manager, or on "
			      "PATH): %s",
			      a->name, a->command, strerror(errno));
			return EX_BL_CONFIG;
		}
	}
	return -1;
}

static void put_task(struct mgr *m, const char *spec, int start)
{
	struct buf b = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &b, "task", NULL);
	jw_kstr(&w, "text", m->task_text);
	jw_kstr(&w, "session", m->sess.id);
	jw_kint(&w, "v", 1);
	jw_kstr(&w, "pipeline", spec);
	if (!strcmp(m->o.route, "llm"))
		jw_kstr(&w, "route", "llm");
	if (start > 0)
		jw_kstr(&w, "start", m->pl.stages[start].agent);
	conv_line_end(&w);
	put(m, &b);
}

static int open_stage_log(struct mgr *m)
{
	if (m->o.verbose)
		return 2;
	char *dir = xasprintf("%s/stages", m->cfg.log_dir);
	mkdir(m->cfg.log_dir, 0700);
	mkdir(dir, 0700);
	char *path = xasprintf("%s/%s.log", dir, m->sess.id);
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		warnx("warning: cannot write the stage log '%s': %s", path, strerror(errno));
	free(dir);
	free(path);
	return fd;
}

static int exit_status(const struct mgr *m)
{
	if (m->io_failed)
		return EX_BL_SOFTWARE;
	switch (m->status) {
	case ST_COMPLETED:
		return EXIT_COMPLETED;
	case ST_LIMIT:
		return EXIT_LIMIT;
	case ST_STOPPED:
	case ST_TIMEOUT:
		return EX_BL_TEMPFAIL;
	default:
		return EXIT_FAILED;
	}
}

static void mgr_free(struct mgr *m)
{
	sv_outcome_free(&m->last);
	for (size_t i = 0; m->cmds && i < m->pl.n; i++)
		free(m->cmds[i]);
	free(m->cmds);
	pipeline_free(&m->pl);
	config_free(&m->cfg);
	session_close(&m->sess);
	render_free(&m->view);
	free(m->ws_abs);
	free(m->config_abs);
	free(m->self_dir);
	free(m->home);
	free(m->task_text);
	free(m->pipeline_spec);
	tally_free(&m->tally);
	free(m->summary);
	if (m->stage_log_fd > 2)
		close(m->stage_log_fd);
	intervene_close(&m->iv);
	log_close();
}

/* Everything before the first line is written.  -1 to go on. */
static int setup(struct mgr *m, struct conv *old)
{
	char err[1024];
	struct stat st;
	m->ws_abs = realpath(m->o.workspace, NULL);
	if (!m->ws_abs || stat(m->ws_abs, &st) < 0 || !S_ISDIR(st.st_mode)) {
		warnx("cannot use the workspace '%s': %s", m->o.workspace,
		      m->ws_abs ? "not a directory" : strerror(errno));
		return EX_BL_USAGE;
	}
	/* .env before config, so that what it sets counts as environment. */
	if (dotenv_load_all(m->ws_abs, err, sizeof err) < 0) {
		warnx("%s", err);
		return EX_BL_CONFIG;
	}
	if (config_load(&m->cfg, m->o.config, m->ws_abs, err, sizeof err) < 0) {
		warnx("%s", err);
		return EX_BL_CONFIG;
	}
	for (size_t i = 0; i < m->cfg.nwarnings; i++)
		warnx("warning: %s", m->cfg.warnings[i]);
	m->home = config_bl_home();
	if (log_init(m->cfg.log_dir, m->cfg.log_level, m->cfg.log_format, PROG) < 0)
		warnx("warning: cannot write logs to '%s': %s", m->cfg.log_dir, strerror(errno));
	if (m->o.verbose)
		log_set_stderr(BL_LOG_INFO);
	m->self_dir = sv_self_dir();
	if (m->o.config && !(m->config_abs = realpath(m->o.config, NULL))) {
		warnx("%s: %s", m->o.config, strerror(errno));
		return EX_BL_CONFIG;
	}

	const char *spec = m->o.pipeline;
	char *old_spec = NULL;
	if (m->o.resume) {
		if (session_open(&m->sess, m->home, m->o.resume, err, sizeof err) < 0 ||
		    session_read(&m->sess, old, err, sizeof err) < 0) {
			warnx("%s", err);
			return EX_BL_USAGE;
		}
		if (!conv_task(old)) {
			warnx("%s: no task line", m->sess.path);
			return EX_BL_DATAERR;
		}
		for (size_t i = 0; i < old->n && !old_spec; i++)
			if (old->items[i].type == CONV_TASK)
				old_spec = json_get_str(&old->items[i].j, 0, "pipeline");
		m->task_text = xstrdup(conv_task(old));
	}
	if (!spec)
		spec = old_spec ? old_spec : "default";
	int rc = setup_pipeline(m, spec);
	free(old_spec);
	return rc;
}

int main(int argc, char **argv)
{
	struct mgr mgr, *m = &mgr;
	memset(m, 0, sizeof *m);
	m->iv.tty_fd = -1;
	m->stage_log_fd = -1;
	tally_init(&m->tally);
	int rc = parse_args(&m->o, argc, argv);
	if (rc >= 0)
		return rc;
	if (sv_catch_signals() < 0) {
		warnx("cannot install signal handlers: %s", strerror(errno));
		return EX_BL_SOFTWARE;
	}
	struct conv old;
	memset(&old, 0, sizeof old);
	struct route_llm rl;
	route_llm_init(&rl);
	int llm = !strcmp(m->o.route, "llm"), start = 0;
	char err[800];

	if ((rc = setup(m, &old)) >= 0)
		goto out;
	if (!m->o.resume) {
		const char *rest;
		if (pipeline_start(&m->pl, m->o.task, &start, &rest, err, sizeof err) < 0) {
			warnx("%s", err);
			rc = EX_BL_USAGE;
			goto out;
		}
		m->task_text = xstrdup(llm ? m->o.task : rest);
		if (llm)
			start = 0;
	}
	if (llm && (rc = llm_setup(m, &rl)) >= 0)
		goto out;
	if (!m->o.resume) {
		char id[32];
		conv_new_session_id(id);
		if (session_create(&m->sess, m->home, id, err, sizeof err) < 0) {
			warnx("%s", err);
			rc = EX_BL_SOFTWARE;
			goto out;
		}
	}
	log_set_session(m->sess.id);
	m->json_out = m->o.json || !isatty(1);
	render_init(&m->view, 1, !m->json_out && term_use_color(TERM_COLOR_AUTO, 1));
	m->view.session_path = m->sess.path;
	if (!m->json_out) {
		render_set_width(&m->view, term_width(1));
		render_set_markdown(&m->view, 1);
	}
	intervene_open(&m->iv, m->o.wait_s);
	m->stage_log_fd = open_stage_log(m);

	if (!m->o.resume) {
		put_task(m, m->pipeline_spec, start);
		m->status = llm ? run_llm(m, &rl) : run_fixed(m, start);
	} else {
		int next = resume_point(m, &old, err, sizeof err);
		if (next == -2) {
			warnx("%s", err);
			rc = EX_BL_USAGE;
			goto out;
		}
		char *d = xasprintf("resuming session %s at %s", m->sess.id,
		                    next < 0                 ? "its limit"
		                    : (size_t)next < m->pl.n ? m->pl.stages[next].agent
		                                             : "the end");
		put_event(m, "resume", NULL, 0, 0, 0, d);
		free(d);
		if (m->o.task) {
			struct buf b = BUF_INIT;
			struct jw w;
			conv_line_begin(&w, &b, "message", "user");
			jw_kstr(&w, "role", "user");
			jw_kstr(&w, "text", m->o.task);
			conv_line_end(&w);
			put(m, &b);
		}
		m->status = next < 0 ? ST_LIMIT : run_fixed(m, next);
	}
	if (m->status != ST_STOPPED && sv_caught())
		m->status = ST_STOPPED;
	put_result(m);
	char *saved = NULL;
	if (session_save(&m->sess, m->cfg.compression, &saved, err, sizeof err) < 0) {
		warnx("cannot save the session: %s", err);
		if (!m->io_failed)
			m->io_failed = EIO;
	}
	if (m->json_out && m->status != ST_COMPLETED)
		warnx("%s: %s (session %s)", status_names[m->status], m->summary ? m->summary : "",
		      m->sess.path);
	log_info("result", "status=%s turns=%d cost_usd=%.6f saved=%s", status_names[m->status],
	         m->tally.turns, m->tally.cost_usd, saved ? saved : "-");
	free(saved);
	rc = exit_status(m);
out:
	conv_free(&old);
	route_llm_free(&rl);
	mgr_free(m);
	return rc;
}
