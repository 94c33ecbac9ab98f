/*
 * bl-test — the Tester stage (DESIGN §1, §4): runs the workspace's test
 * command itself, then lets the model investigate and explain the
 * outcome, and writes one `verdict` line whose verdict is the command's
 * exit status — "pass" for 0, "fail" otherwise — whatever the model says.
 *
 * The command: system_config.json "test_command", else detected
 * (lib/testcmd: make test / make check, npm test, pytest, cargo test,
 * go test ./...); none is a config error (exit 78).  It runs as
 * `/bin/sh -c` in the workspace under Landlock (writable workspace —
 * builds write — and a private TMPDIR, TCP only when the agent's config
 * says "network": true, no secrets in the environment) with a timeout
 * of two thirds of the agent's timeout_s, so the model keeps time to
 * explain before a supervisor's stage timeout.  The run is written as a
 * `tool_use` (name "bash") and `tool_result` pair, so the conversation
 * shows it like any command, and its command, exit status and output
 * (capped) are given to the model with read, glob, grep, bash and
 * verdict.
 *
 * The verdict line: verdict from the exit status; summary the model's
 * (from its verdict call, else its final text), with a note when the
 * model's verdict disagreed with the exit status; the model's findings;
 * command, exit_code, and for a failure the output (8 KiB, head and
 * tail).  A failure of the model (API, limit) after the run is the
 * stage's failure: an `error` line and its exit status, no verdict.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "stage.h"
#include "testcmd.h"
#include "tools_bash.h"
#include "tools_verdict.h"

#define RUN_CAP (256 * 1024)         /* output kept from the run, head + tail */
#define MODEL_OUTPUT_MAX (32 * 1024) /* of which the model and the tool_result see */
#define RUN_ID "toolu_bl_test_run"

static const struct stage_spec spec = {
    .prog = "bl-test",
    .role = "tester",
    .purpose = "Run the tests (test_command or detected) and explain the outcome; the "
               "verdict is the command's exit status.",
    .writes = 0,
};

/* One run of the test command. */
struct run {
	char *command;
	char why[256]; /* where the command came from */
	int timeout_s;
	struct proc_result pr;
	struct buf shown; /* the status line and the output, capped: the tool_result */
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

static int emit(struct stage *st, struct buf *line)
{
	int rc = conv_emit(1, line);
	if (rc < 0)
		buf_addf(&st->diag, "%s: cannot write to stdout: %s\n", spec.prog, strerror(errno));
	buf_free(line);
	return rc;
}

/* The test command: config, else detection.  -1, or 78 with an error. */
static int find_command(struct stage *st, struct run *run)
{
	const char *c = st->cfg.test_command;
	if (c && c[strspn(c, " \t\r\n")]) {
		run->command = xstrdup(c);
		snprintf(run->why, sizeof run->why, "test_command in %s",
		         st->cfg.system_path ? st->cfg.system_path : "system_config.json");
		return -1;
	}
	run->command = testcmd_detect(st->rootfd, run->why, sizeof run->why);
	if (!run->command)
		return stage_fail(
		    st, EX_BL_CONFIG, "config", 0,
		    "no test command: set test_command in system_config.json (found %s)", run->why);
	return -1;
}

/* How the run ended, as the bash tool says it. */
static void add_status(struct buf *b, const struct run *run)
{
	const struct proc_result *pr = &run->pr;
	if (pr->timed_out) {
		buf_addf(b, "timed out after %d s (process group ended)", run->timeout_s);
	} else if (pr->signal) {
		const char *abbrev = sigabbrev_np(pr->signal);
		buf_addf(b, "killed by signal %d", pr->signal);
		if (abbrev)
			buf_addf(b, " (SIG%s)", abbrev);
	} else {
		buf_addf(b, "exit %d", pr->exit_code);
	}
}

/* Runs the command: tool_use line, proc_run, tool_result line.  -1 when
 * it ran (whatever its status), else the exit status with an error. */
static int run_tests(struct stage *st, struct run *run)
{
	const struct agent_cfg *ac = st->acfg;
	run->timeout_s = ac->timeout_s > 0 ? ac->timeout_s * 2 / 3 : 400;
	if (run->timeout_s < 1)
		run->timeout_s = 1;
	if (run->timeout_s > 7 * 86400) /* a week: no int overflow in ms */
		run->timeout_s = 7 * 86400;

	struct buf line = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &line, "tool_use", ac->name);
	jw_kstr(&w, "id", RUN_ID);
	jw_kstr(&w, "name", "bash");
	jw_key(&w, "input");
	jw_obj(&w);
	jw_kstr(&w, "command", run->command);
	jw_kint(&w, "timeout", run->timeout_s);
	jw_obj_end(&w);
	conv_line_end(&w);
	if (emit(st, &line) < 0)
		return EX_BL_SOFTWARE;

	char tmpdir[4096], err[512];
	int started = -1;
	if (sandbox_tmpdir_create(tmpdir, sizeof tmpdir, err, sizeof err) == 0) {
		char *cache = xasprintf("%s/cache", tmpdir);
		mkdir(cache, 0700);
		free(cache);
		struct sandbox_policy pol = {
		    .workspace = st->root_abs,
		    .tmpdir = tmpdir,
		    .writable = 1,
		    .network = ac->network,
		    .required = st->cfg.sandbox_required,
		};
		char **env = sandbox_command_env(tmpdir);
		struct proc_opts o = {
		    .cmd = run->command,
		    .cwd = st->root_abs,
		    .envp = env,
		    .timeout_ms = run->timeout_s * 1000,
		    .cap_bytes = RUN_CAP,
		    .sandbox = &pol,
		    .abort_flag = st->tctx.abort,
		};
		log_info("test_run", "command=%s (%s) timeout_s=%d", run->command, run->why,
		         run->timeout_s);
		started = proc_run(&o, &run->pr, err, sizeof err);
		sandbox_env_free(env);
		sandbox_tmpdir_remove(tmpdir);
	}

	int is_error = started < 0 || run->pr.timed_out || run->pr.signal;
	if (started < 0) {
		buf_addf(&run->shown, "the command was not run: %s", err);
	} else {
		add_status(&run->shown, run);
		buf_addc(&run->shown, '\n');
		if (!run->pr.sandboxed || (!ac->network && sandbox_abi() < 4))
			buf_addf(&run->shown, "[sandbox: %s]\n", run->pr.sandbox_note);
		if (run->pr.output.len)
			buf_add(&run->shown, run->pr.output.p, run->pr.output.len);
		else
			buf_adds(&run->shown, "(no output)");
		tools_cap(&run->shown, MODEL_OUTPUT_MAX);
	}
	conv_line_begin(&w, &line, "tool_result", ac->name);
	jw_kstr(&w, "tool_use_id", RUN_ID);
	jw_key(&w, "content");
	jw_strn(&w, run->shown.p ? run->shown.p : "", run->shown.len);
	jw_kbool(&w, "is_error", is_error);
	conv_line_end(&w);
	if (emit(st, &line) < 0)
		return EX_BL_SOFTWARE;

	if (started < 0) {
		if (st->cfg.sandbox_required && sandbox_abi() == 0)
			return stage_fail(
			    st, EX_BL_CONFIG, "config", 0,
			    "cannot run the test command: the sandbox is required "
			    "(system_config.json \"sandbox\") but this kernel has no "
			    "Landlock; set \"sandbox\": \"best-effort\" to run unconfined");
		return stage_fail(st, EX_BL_SOFTWARE, "tool", 0, "cannot run the test command: %s",
		                  err);
	}
	if (run->pr.aborted) {
		int sig = stage_signal();
		return stage_fail(st, EX_BL_TEMPFAIL, sig == SIGTERM ? "timeout" : "crash",
		                  sig == SIGTERM, "interrupted by %s while running the tests",
		                  sig == SIGTERM  ? "SIGTERM"
		                  : sig == SIGINT ? "SIGINT"
		                  : sig == SIGHUP ? "SIGHUP"
		                                  : "a signal");
	}
	log_info("test_result", "exit=%d timed_out=%d bytes=%zu ms=%lld", run->pr.exit_code,
	         run->pr.timed_out, run->pr.total_bytes, (long long)run->pr.duration_ms);
	return -1;
}

/* The run, for the model: what ran, how it ended, the output. */
static void tell_model(struct stage *st, const struct run *run)
{
	struct buf t = BUF_INIT;
	int pass = run->pr.exit_code == 0 && !run->pr.timed_out && !run->pr.signal;
	buf_addf(&t, "## Test run\n\nbl-test ran the test command (%s) in the workspace:\n\n",
	         run->why);
	buf_addf(&t, "$ %s\n", run->command);
	if (st->dry_run) {
		buf_adds(&t, "(--dry-run: not run; its exit status and output would be here)\n");
	} else {
		buf_adds(&t, "```\n");
		buf_add(&t, run->shown.p, run->shown.len);
		if (run->shown.len && run->shown.p[run->shown.len - 1] != '\n')
			buf_addc(&t, '\n');
		buf_adds(&t, "```\n\n");
		buf_addf(&t,
		         "The exit status decides the verdict: %s. %s Then call the verdict tool "
		         "with verdict \"%s\".\n",
		         pass ? "pass" : "fail",
		         pass ? "Check the output for anything worth reporting (skipped or no "
		                "tests, warnings) and summarise it."
		              : "Find out why it failed: read the failing tests and the code they "
		                "exercise, rerun a single failing test with bash if useful, and "
		                "explain the cause, pointing to files and lines.",
		         pass ? "pass" : "fail");
	}
	stage_add_context(st, t.p);
	buf_free(&t);
}

/* Forces the verdict from the exit status and writes the line. */
static int write_verdict(struct stage *st, const struct run *run, struct verdict *v)
{
	const struct proc_result *pr = &run->pr;
	int pass = pr->exit_code == 0 && !pr->timed_out && !pr->signal;
	const char *forced = pass ? "pass" : "fail";
	struct buf summary = BUF_INIT;
	char status[96];
	struct buf sb = BUF_INIT;
	add_status(&sb, run);
	snprintf(status, sizeof status, "%s", sb.p);
	buf_free(&sb);
	if (v->set && strcmp(v->verdict, forced)) {
		/* The correction first, so no reader takes the model's word. */
		log_warn("verdict_overruled", "the model said %s; '%s' ended with %s", v->verdict,
		         run->command, status);
		buf_addf(
		    &summary,
		    "[bl-test: the model said %s, but `%s` ended with %s: the verdict is %s]\n\n",
		    v->verdict, run->command, status, forced);
	} else if (!v->set) {
		log_warn("no_verdict",
		         "the model ended without a verdict; the exit status decides");
	}
	if (v->set && v->summary)
		buf_adds(&summary, v->summary);
	else if (st->agent.final_text && *st->agent.final_text)
		buf_adds(&summary, st->agent.final_text);
	else
		buf_addf(&summary, "`%s`: %s.", run->command, status);
	verdict_set(v, forced, summary.p ? summary.p : "");
	buf_free(&summary);
	v->command = xstrdup(run->command);
	v->has_exit_code = 1;
	v->exit_code = pr->exit_code;
	if (!pass)
		v->output = verdict_cap_output(pr->output.p, pr->output.len);
	log_info("verdict", "verdict=%s exit=%d", forced, pr->exit_code);

	struct buf line = BUF_INIT;
	verdict_line(&line, st->acfg->name, v);
	return emit(st, &line) < 0 ? EX_BL_SOFTWARE : 0;
}

static int test(struct stage *st, struct verdict *v, struct run *run)
{
	struct bash_cfg bc = {
	    .writable = 1, /* rebuilding and rerunning a test writes build outputs */
	    .network = -1,
	    .required = st->cfg.sandbox_required,
	    .timeout_default_s = BASH_TIMEOUT_DEFAULT_S,
	    .timeout_max_s = st->acfg->timeout_s,
	};
	tool_bash_configure(&bc);
	st->tctx.user = v;
	st->agent.emit_message = 0; /* the verdict line is this stage's output */

	int rc = find_command(st, run);
	if (rc >= 0)
		return rc;
	if (!st->dry_run && (rc = run_tests(st, run)) >= 0)
		return rc;
	tell_model(st, run);
	rc = stage_run(st);
	if (rc != 0 || st->dry_run)
		return rc;
	return write_verdict(st, run, v);
}

int main(int argc, char **argv)
{
	struct stage st;
	struct verdict v = {0};
	struct run run = {0};
	tools_register(&tool_bash);
	tools_register(&tool_verdict_test);
	int rc = stage_args(&st, &spec, argc, argv);
	if (rc < 0)
		rc = stage_input(&st);
	if (rc < 0)
		rc = stage_setup(&st);
	report(&st);
	if (rc < 0)
		rc = test(&st, &v, &run);
	report(&st);
	tool_bash_cleanup();
	proc_result_free(&run.pr);
	buf_free(&run.shown);
	free(run.command);
	verdict_free(&v);
	stage_free(&st);
	return rc;
}
