/*
 * bl-code — the Coder stage (DESIGN §1, §4): reads the conversation (the
 * task, the plan, and on a loop the latest reviewer findings and failing
 * test output), changes files in the workspace with read, write, edit,
 * glob, grep and bash (agent_config.json "coder" may narrow them), and
 * writes a summary of the change as its `message` line.
 *
 * Rights: file tools stay beneath the workspace (fsbeneath) and never
 * touch .git; bash runs under Landlock, writable beneath the workspace
 * and a private temp dir only, TCP only when the agent's config says
 * "network": true, with a timeout of 120 s by default and never more
 * than the agent's timeout_s.  It never commits.  The filter contract
 * (flags, stdin/stdout, exit status) is lib/stage's, written down in
 * bl-code(1).
 */
#include <stdio.h>
#include <unistd.h>

#include "stage.h"
#include "tools_bash.h"
#include "tools_write.h"

static const struct stage_spec spec = {
    .prog = "bl-code",
    .role = "coder",
    .purpose = "Change the code for a task: read, write, edit, glob, grep and a sandboxed bash.",
    .writes = 1,
};

/* Hands what the stage left for the user to stdout/stderr. */
static void report(struct stage *st)
{
	if (st->out.len)
		write_all(1, st->out.p, st->out.len);
	if (st->diag.len)
		write_all(2, st->diag.p, st->diag.len);
	buf_reset(&st->out);
	buf_reset(&st->diag);
}

int main(int argc, char **argv)
{
	struct stage st;
	tools_register(&tool_write);
	tools_register(&tool_edit);
	tools_register(&tool_bash);
	int rc = stage_args(&st, &spec, argc, argv);
	if (rc < 0)
		rc = stage_input(&st);
	if (rc < 0)
		rc = stage_setup(&st);
	report(&st);
	if (rc < 0) {
		/* Rights as the stage set them in st.tctx: the workspace
		 * writable, TCP per the agent's "network", the sandbox
		 * required or best-effort per system_config.json. */
		struct bash_cfg bc = {
		    .writable = -1,
		    .network = -1,
		    .required = -1,
		    .timeout_default_s = BASH_TIMEOUT_DEFAULT_S,
		    .timeout_max_s = st.acfg->timeout_s,
		};
		tool_bash_configure(&bc);
		rc = stage_run(&st);
	}
	report(&st);
	tool_bash_cleanup();
	stage_free(&st);
	return rc;
}
