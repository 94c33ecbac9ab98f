/*
 * route_llm — the Manager model's agent and tools for `bl-manager
 * --route llm` (see route_llm.h for the contract).  The agent writes
 * its lines into a memfd; before each tool call and at the end, the
 * new whole lines are parsed and handed to hooks.take, so the session
 * keeps the Manager's lines in order with the stages'.
 */
#include "route_llm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "util.h"

void route_llm_init(struct route_llm *r)
{
	memset(r, 0, sizeof *r);
	r->mfd = -1;
}

/* Hands over the lines the Manager agent wrote since the last call. */
static void flush_manager(struct route_llm *r)
{
	struct stat st;
	if (r->mfd < 0 || fstat(r->mfd, &st) < 0 || st.st_size <= r->mfd_off)
		return;
	size_t n = (size_t)(st.st_size - r->mfd_off);
	char *p = xmalloc(n);
	ssize_t got = pread(r->mfd, p, n, r->mfd_off);
	size_t used = 0;
	for (size_t i = 0; got > 0 && i < (size_t)got; i++)
		if (p[i] == '\n') {
			struct conv c;
			char err[300];
			if (conv_parse(p + used, i - used, "manager", &c, err, sizeof err) == 0 &&
			    c.n == 1)
				r->hooks.take(r->hooks.ctx, &c.items[0]);
			conv_free(&c);
			used = i + 1;
		}
	r->mfd_off += (off_t)used;
	free(p);
}

static void end_run(struct route_llm *r, struct tool_ctx *ctx, int status)
{
	r->end_status = status;
	r->ended = 1;
	ctx->end_stage = 1;
}

/* A stage called as a tool: the hook decides and runs. */
static void run_agent_tool(int idx, struct tool_ctx *ctx, const struct json *j, int obj,
                           struct tool_result *res)
{
	struct route_llm *r = ctx->user;
	flush_manager(r);
	if (r->ended) {
		tool_fail(res, "the run has ended; call finish");
		return;
	}
	char *instr = json_get_str(j, obj, "instructions");
	int st = r->hooks.stage(r->hooks.ctx, idx, instr, res);
	free(instr);
	if (st >= 0)
		end_run(r, ctx, st);
}

/* A tool's run gets no pointer to the tool, so each stage index has its
 * own function. */
#define TRAMPOLINE(i)                                                                              \
	static void run_tool_##i(struct tool_ctx *c, const struct json *j, int o,                  \
	                         struct tool_result *r)                                            \
	{                                                                                          \
		run_agent_tool(i, c, j, o, r);                                                     \
	}
TRAMPOLINE(0)
TRAMPOLINE(1)
TRAMPOLINE(2)
TRAMPOLINE(3)
TRAMPOLINE(4)
TRAMPOLINE(5)
TRAMPOLINE(6)
TRAMPOLINE(7)
TRAMPOLINE(8)
TRAMPOLINE(9)
TRAMPOLINE(10)
TRAMPOLINE(11)
TRAMPOLINE(12)
TRAMPOLINE(13)
TRAMPOLINE(14)
TRAMPOLINE(15)
static void (*const trampolines[PIPELINE_MAX_STAGES])(struct tool_ctx *, const struct json *, int,
                                                      struct tool_result *) = {
    run_tool_0,  run_tool_1,  run_tool_2,  run_tool_3,  run_tool_4,  run_tool_5,
    run_tool_6,  run_tool_7,  run_tool_8,  run_tool_9,  run_tool_10, run_tool_11,
    run_tool_12, run_tool_13, run_tool_14, run_tool_15,
};

static void run_finish(struct tool_ctx *ctx, const struct json *j, int obj, struct tool_result *res)
{
	struct route_llm *r = ctx->user;
	flush_manager(r);
	int st = r->hooks.finish(r->hooks.ctx, json_get_str(j, obj, "summary"));
	buf_adds(&res->text, "finished");
	end_run(r, ctx, st);
}

void route_llm_report(struct tool_result *res, const char *agent, const struct sv_outcome *c)
{
	buf_addf(&res->text, "%s finished.\n", agent);
	if (c->message)
		buf_addf(&res->text, "\nIts final message:\n%s\n", c->message);
	if (c->verdict_line) {
		struct json j;
		if (json_parse(&j, c->verdict_line, strlen(c->verdict_line), NULL) == 0) {
			char *sum = json_get_str(&j, 0, "summary");
			buf_addf(&res->text, "\nVerdict: %s\nSummary: %s\n", c->verdict,
			         sum ? sum : "");
			int f = json_get(&j, 0, "findings"), code = json_get(&j, 0, "exit_code");
			if (f >= 0) {
				size_t n;
				const char *raw = json_raw(&j, f, &n);
				buf_adds(&res->text, "Findings: ");
				buf_add(&res->text, raw, n);
				buf_addc(&res->text, '\n');
			}
			if (code >= 0)
				buf_addf(&res->text, "Exit code: %lld\n",
				         json_get_int(&j, 0, "exit_code", 0));
			free(sum);
			json_free(&j);
		}
	}
	if (!c->message && !c->verdict_line)
		buf_adds(&res->text, "(it wrote no message and no verdict)\n");
}

static const char *const role_blurbs[][2] = {
    {"planner", "reads the code with read-only tools and writes a plan"},
    {"coder", "changes the files (read, write, edit, bash) to carry out the plan or fix "
              "findings"},
    {"reviewer", "reviews the change and gives a verdict: approve or changes_requested"},
    {"tester", "runs the tests; its verdict pass or fail follows their exit status"},
    {"committer", "commits the change with a written message"},
};

/* What stage i of pl does, for the prompt and its tool description. */
static const char *blurb(const struct bl_config *cfg, const struct pipeline *pl, size_t i)
{
	const struct agent_cfg *a = config_agent(cfg, pl->stages[i].agent);
	const char *role = a && a->role ? a->role : pl->stages[i].agent;
	for (size_t k = 0; k < sizeof role_blurbs / sizeof *role_blurbs; k++)
		if (!strcmp(role_blurbs[k][0], role))
			return role_blurbs[k][1];
	return "a custom stage of this pipeline";
}

int route_llm_setup(struct route_llm *r, const struct bl_config *cfg, const struct pipeline *pl,
                    const char *ws_abs, const char *model, const struct route_llm_hooks *hooks,
                    char *err, size_t errlen)
{
	struct agent *a = &r->agent;
	r->hooks = *hooks;
	const struct agent_cfg *ac = config_agent(cfg, "manager");
	const char *prov = ac && ac->provider ? ac->provider : "anthropic";
	struct llm_error lerr;
	if (llm_endpoint_from_env(&r->ep, prov, &lerr) < 0) {
		snprintf(err, errlen, "manager: %s", lerr.message);
		return lerr.kind == LLM_ERR_AUTH ? -2 : -1;
	}
	r->ep.connect_timeout_s = cfg->connect_timeout_s;
	r->ep.idle_timeout_s = cfg->idle_timeout_s;
	const char *rel =
	    ac && ac->system_prompt_file ? ac->system_prompt_file : "prompts/manager.txt";
	char *path = config_find(cfg, ws_abs, rel);
	struct buf prompt = BUF_INIT;
	if (!path || read_file(path, &prompt) < 0) {
		snprintf(err, errlen, "manager: cannot read the system prompt '%s'", rel);
		free(path);
		buf_free(&prompt);
		return -1;
	}
	free(path);
	buf_addf(&prompt, "\n\n# This run\n\nWorkspace: %s\nStages (one tool each):\n", ws_abs);
	for (size_t i = 0; i < pl->n; i++)
		buf_addf(&prompt, "- %s: %s\n", pl->stages[i].agent, blurb(cfg, pl, i));
	buf_addf(&prompt,
	         "Limits (enforced whatever you ask): %d review cycles, %d test cycles, %d stage "
	         "runs in all.\n",
	         cfg->max_review_iterations, cfg->max_coder_retries, cfg->max_turns);

	agent_init(a, "manager");
	for (size_t i = 0; i < pl->n; i++) {
		r->tools[i] = (struct tool){
		    .name = pl->stages[i].agent,
		    .description = xasprintf("Run the %s stage: it %s. Returns its final "
		                             "message and verdict.",
		                             pl->stages[i].agent, blurb(cfg, pl, i)),
		    .schema = "{\"type\":\"object\",\"properties\":{\"instructions\":{\"type\":"
		              "\"string\",\"description\":\"what this stage should do now\"}},"
		              "\"required\":[\"instructions\"]}",
		    .run = trampolines[i],
		};
		agent_add_tool(a, &r->tools[i]);
	}
	r->finish = (struct tool){
	    .name = "finish",
	    .description = "End the run once the work is committed (or cannot be done), with "
	                   "a one-paragraph summary.",
	    .schema = "{\"type\":\"object\",\"properties\":{\"summary\":{\"type\":\"string\"}},"
	              "\"required\":[\"summary\"]}",
	    .run = run_finish,
	};
	agent_add_tool(a, &r->finish);
	a->req.system = buf_detach(&prompt, NULL);
	a->req.model = xstrdup(model ? model : ac && ac->model ? ac->model : cfg->default_model);
	a->req.max_tokens = ac ? ac->max_tokens : 4096;
	a->req.cache = cfg->enable_caching;
	a->provider = prov;
	a->ep = &r->ep;
	a->retry = &cfg->retry;
	a->cfg = cfg;
	a->max_turns = cfg->max_turns + 10;
	a->stream_deltas = 0;
	a->abort = sv_stop_flag();

	memset(&r->tctx, 0, sizeof r->tctx);
	r->tctx.rootfd = -1;
	r->tctx.root = r->tctx.root_abs = ws_abs;
	r->tctx.agent = "manager";
	r->tctx.abort = sv_stop_flag();
	r->tctx.user = r;
	a->tctx = &r->tctx;
	return 0;
}

int route_llm_run(struct route_llm *r, const char *task, char *err, size_t errlen)
{
	struct agent *a = &r->agent;
	r->mfd = memfd_create("bl-manager-agent", MFD_CLOEXEC);
	if (r->mfd < 0) {
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		return -2;
	}
	a->out_fd = r->mfd;
	agent_add_user_text(a, task);
	int rc = agent_run(a);
	flush_manager(r);
	if (r->ended)
		return 0;
	return rc == 0 ? 1 : -1;
}

void route_llm_free(struct route_llm *r)
{
	agent_free(&r->agent);
	llm_endpoint_free(&r->ep);
	for (size_t i = 0; i < PIPELINE_MAX_STAGES; i++) {
		free((char *)r->tools[i].description);
		r->tools[i].description = NULL;
	}
	if (r->mfd >= 0)
		close(r->mfd);
	r->mfd = -1;
}
