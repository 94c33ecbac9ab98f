/*
 * bl-review — the Reviewer stage (DESIGN §1, §4): reads the conversation
 * (the task, the plan, the coder's summary), inspects the change with
 * read, glob, grep and a read-only bash (git status, git diff, git log),
 * and ends by calling the `verdict` tool: "approve" or
 * "changes_requested", a summary, and findings (file, line, severity,
 * message).  Its output is one `verdict` line, no `message` line.
 *
 * Policy: the first request also carries what changed in the workspace
 * (`git status --short` and `git diff HEAD`, capped), gathered by
 * bl-review itself under the same read-only sandbox.  A model that ends
 * its turn without a valid verdict is told so and asked once more (one
 * more user message, at least one more API call even past max_turns);
 * if it still gives none the stage fails: an `error` line of kind
 * "protocol" (retryable: a new attempt may do better) and exit 70.
 *
 * Rights: nothing in this program writes to the workspace — no write or
 * edit tool is linked in, and bash runs under a read-only Landlock
 * ruleset (writes only in its private temp dir), with git's optional
 * locks off, TCP only when the agent's config says "network": true.
 * The filter contract is lib/stage's, written down in bl-review(1).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "stage.h"
#include "tools_bash.h"
#include "tools_verdict.h"

#define CHANGES_MAX (32 * 1024) /* git status + diff given in the first request */
#define GIT_TIMEOUT_MS (20 * 1000)

static const struct stage_spec spec = {
    .prog = "bl-review",
    .role = "reviewer",
    .purpose = "Review the change: read-only tools and git, then a verdict (approve or "
               "changes_requested).",
    .writes = 0,
};

static const char reminder[] =
    "You ended your turn without calling the verdict tool. You must end by calling the "
    "verdict tool: verdict \"approve\" or \"changes_requested\", a summary, and findings "
    "(each with file, line, severity and message; [] when there is nothing to report). "
    "Call it now; this is the last chance before the review fails.";

/* Shows what changed in the workspace: git status and the diff against
 * HEAD (or the index, before the first commit), as a shell script so
 * one sandboxed run does it all. */
static const char changes_script[] =
    "git rev-parse --is-inside-work-tree >/dev/null 2>&1 || "
    "{ echo 'The workspace is not a git repository (or git is missing).'; exit 0; }\n"
    "echo '$ git status --short'\n"
    "git status --short\n"
    "if git rev-parse -q --verify HEAD >/dev/null; then\n"
    "  echo '$ git diff HEAD'\n"
    "  git --no-pager diff --no-ext-diff --no-textconv --no-color HEAD\n"
    "else\n"
    "  echo '(no commit yet)'\n"
    "  echo '$ git diff --cached'\n"
    "  git --no-pager diff --no-ext-diff --no-textconv --no-color --cached\n"
    "fi\n";

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

/* Runs changes_script read-only in the workspace and adds its output to
 * the context.  A failure only leaves a note: the model has bash. */
static void add_changes(struct stage *st)
{
	struct sandbox_policy pol = {
	    .workspace = st->root_abs,
	    .writable = 0,
	    .network = 0,
	    .required = st->cfg.sandbox_required,
	};
	struct proc_opts o = {
	    .cmd = changes_script,
	    .cwd = st->root_abs,
	    .timeout_ms = GIT_TIMEOUT_MS,
	    .cap_bytes = CHANGES_MAX,
	    .sandbox = &pol,
	    .abort_flag = st->tctx.abort,
	};
	struct proc_result pr;
	char err[512];
	struct buf text = BUF_INIT;
	buf_adds(&text, "## Changes in the workspace\n\n");
	if (proc_run(&o, &pr, err, sizeof err) < 0) {
		log_warn("review_changes", "cannot run git: %s", err);
		buf_addf(&text, "(bl-review could not run git: %s)\n", err);
	} else {
		if (pr.timed_out)
			buf_adds(&text, "(git timed out; the output is incomplete)\n");
		buf_adds(&text, "```\n");
		buf_add(&text, pr.output.p ? pr.output.p : "", pr.output.len);
		if (pr.output.len && pr.output.p[pr.output.len - 1] != '\n')
			buf_addc(&text, '\n');
		buf_adds(&text, "```\n");
		if (pr.total_bytes > pr.output.len)
			buf_adds(&text,
			         "The diff was cut in the middle: run `git diff HEAD -- PATH` "
			         "for the parts you need.\n");
		buf_adds(&text,
		         "New files are listed as `??` and are not in the diff: read them.\n");
	}
	proc_result_free(&pr);
	stage_add_context(st, text.p);
	buf_free(&text);
}

/* The first bytes of the model's last text on one line, for messages. */
static void last_words(const struct agent *a, char *out, size_t outlen)
{
	const char *t = a->final_text ? a->final_text : "";
	size_t k = 0;
	for (; *t && k + 4 < outlen; t++)
		out[k++] = (*t == '\n' || *t == '\t' || *t == '\r') ? ' ' : *t;
	if (*t && k >= 3)
		memcpy(out + k - 3, "...", 3);
	out[k] = '\0';
}

static int review(struct stage *st, struct verdict *v)
{
	/* git status must not take index.lock in a read-only tree. */
	setenv("GIT_OPTIONAL_LOCKS", "0", 1);
	struct bash_cfg bc = {
	    .writable = 0,
	    .network = -1, /* the agent's "network" (false by default) */
	    .required = st->cfg.sandbox_required,
	    .timeout_default_s = BASH_TIMEOUT_DEFAULT_S,
	    .timeout_max_s = st->acfg->timeout_s,
	};
	tool_bash_configure(&bc);
	int has_verdict = 0;
	for (size_t i = 0; i < st->agent.ntools; i++)
		has_verdict |= !strcmp(st->agent.tools[i]->name, "verdict");
	if (!has_verdict)
		return stage_fail(
		    st, EX_BL_CONFIG, "config", 0,
		    "agent '%s': its tools must include 'verdict' (a review ends with it)",
		    st->acfg->name);
	st->tctx.user = v;
	st->agent.emit_message = 0; /* the verdict line is this stage's output */
	add_changes(st);

	int rc = stage_run(st);
	if (rc != 0 || st->dry_run)
		return rc;
	if (!v->set) {
		log_warn("no_verdict",
		         "the model ended its turn without a verdict; asking once more");
		agent_add_user_text(&st->agent, reminder);
		int max = st->agent.max_turns > 0 ? st->agent.max_turns : 30;
		if (st->agent.turns >= max)
			st->agent.max_turns = st->agent.turns + 1;
		rc = stage_run(st);
		if (rc != 0)
			return rc;
		if (!v->set) {
			char words[200];
			last_words(&st->agent, words, sizeof words);
			return stage_fail(st, EX_BL_SOFTWARE, "protocol", 1,
			                  "the model ended its turn twice without calling the "
			                  "verdict tool (its last words: \"%s\")",
			                  words);
		}
	}
	struct buf line = BUF_INIT;
	verdict_line(&line, st->acfg->name, v);
	log_info("verdict", "verdict=%s findings=%d", v->verdict, v->nfindings);
	if (conv_emit(1, &line) < 0) {
		buf_addf(&st->diag, "%s: cannot write to stdout: %s\n", spec.prog, strerror(errno));
		rc = EX_BL_SOFTWARE;
	}
	buf_free(&line);
	return rc;
}

int main(int argc, char **argv)
{
	struct stage st;
	struct verdict v = {0};
	tools_register(&tool_bash);
	tools_register(&tool_verdict_review);
	int rc = stage_args(&st, &spec, argc, argv);
	if (rc < 0)
		rc = stage_input(&st);
	if (rc < 0)
		rc = stage_setup(&st);
	report(&st);
	if (rc < 0)
		rc = review(&st, &v);
	report(&st);
	tool_bash_cleanup();
	verdict_free(&v);
	stage_free(&st);
	return rc;
}
