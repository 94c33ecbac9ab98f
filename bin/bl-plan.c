/*
 * bl-plan — the Planner stage (DESIGN §1, §4): reads the conversation,
 * looks at the workspace with read-only tools (read, glob, grep by
 * default; agent_config.json "planner" may narrow them) and writes a
 * plan as its `message` line.  It never changes a file: no write tool is
 * linked into this program.  The filter contract (flags, stdin/stdout,
 * exit status) is lib/stage's and is written down in bl-plan(1).
 */
#include <stdio.h>
#include <unistd.h>

#include "stage.h"

static const struct stage_spec spec = {
    .prog = "bl-plan",
    .role = "planner",
    .purpose = "Plan a task: read the code with read-only tools (read, glob, grep), write a plan.",
    .writes = 0,
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
	int rc = stage_args(&st, &spec, argc, argv);
	if (rc < 0)
		rc = stage_input(&st);
	if (rc < 0)
		rc = stage_setup(&st);
	report(&st);
	if (rc < 0)
		rc = stage_run(&st);
	report(&st);
	stage_free(&st);
	return rc;
}
