/*
 * tools_bash — the `bash` tool over proc_run and the sandbox (see
 * tools_bash.h for the contract).  This file only decides the policy of
 * one call (timeout, environment, confinement) and words the outcome;
 * spawning, the group kill and the output cap are proc's.
 */
#include "tools_bash.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"
#include "sandbox.h"

extern char **environ;

static struct bash_cfg conf = {.writable = -1, .network = -1, .required = -1};
static char tmpdir[PATH_MAX]; /* "" until the first command */
static int warned;            /* the sandbox warning was logged */

/* Owner: conf is a copy; the caller keeps c. */
void tool_bash_configure(const struct bash_cfg *c)
{
	conf = *c;
}

/* Owner: the temp dir is this module's; removed here. */
void tool_bash_cleanup(void)
{
	if (tmpdir[0])
		sandbox_tmpdir_remove(tmpdir);
	tmpdir[0] = '\0';
}

/* The private temp dir (made on first use, again if a command removed
 * it) with its "cache" subdirectory.  0, or -1 with res filled. */
static int ensure_tmpdir(struct tool_result *res)
{
	struct stat st;
	if (tmpdir[0] && stat(tmpdir, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	char err[512];
	if (sandbox_tmpdir_create(tmpdir, sizeof tmpdir, err, sizeof err) < 0) {
		tmpdir[0] = '\0';
		tool_fail(res, "cannot make a temp dir for the command: %s", err);
		return -1;
	}
	char *cache = xasprintf("%s/cache", tmpdir);
	mkdir(cache, 0700);
	free(cache);
	return 0;
}

/* The first line of the result: how the command ended. */
static void add_status(struct buf *b, const struct proc_result *pr, long long timeout_s)
{
	if (pr->aborted) {
		buf_adds(b, "interrupted (process group ended)");
	} else if (pr->timed_out) {
		buf_addf(b, "timed out after %lld s (process group ended)", timeout_s);
	} else if (pr->signal) {
		const char *abbrev = sigabbrev_np(pr->signal);
		buf_addf(b, "killed by signal %d", pr->signal);
		if (abbrev)
			buf_addf(b, " (SIG%s)", abbrev);
	} else {
		buf_addf(b, "exit %d", pr->exit_code);
	}
	buf_addc(b, '\n');
}

static void bash_run(struct tool_ctx *ctx, const struct json *j, int obj, struct tool_result *res)
{
	char *cmd = tool_arg_str(j, obj, "command", 1, res);
	if (!cmd)
		return;
	if (!cmd[strspn(cmd, " \t\r\n")]) {
		tool_fail(res, "the command is empty");
		free(cmd);
		return;
	}
	long long max_s = conf.timeout_max_s > 0 ? conf.timeout_max_s : BASH_TIMEOUT_MAX_S;
	if (max_s > 86400)
		max_s = 86400; /* a day; keeps the milliseconds in an int */
	long long def_s =
	    conf.timeout_default_s > 0 ? conf.timeout_default_s : BASH_TIMEOUT_DEFAULT_S;
	if (def_s > max_s)
		def_s = max_s;
	long long timeout_s;
	if (tool_arg_int(j, obj, "timeout", def_s, 1, &timeout_s, res) < 0) {
		free(cmd);
		return;
	}
	long long asked = timeout_s;
	if (timeout_s > max_s)
		timeout_s = max_s;
	if (ensure_tmpdir(res) < 0) {
		free(cmd);
		return;
	}

	int network = conf.network < 0 ? ctx->network : conf.network != 0;
	int required = ctx->sandbox_required || conf.required > 0;
	struct sandbox_policy pol = {
	    .workspace = ctx->root_abs ? ctx->root_abs : ctx->root,
	    .tmpdir = tmpdir,
	    .writable = conf.writable < 0 ? ctx->writable : conf.writable != 0,
	    .network = network,
	    .required = required,
	};
	char **env = sandbox_command_env(tmpdir);
	struct proc_opts o = {
	    .cmd = cmd,
	    .cwd = pol.workspace,
	    .envp = env,
	    .timeout_ms = (int)(timeout_s * 1000),
	    .cap_bytes = conf.cap_bytes ? conf.cap_bytes : BASH_CAP_DEFAULT,
	    .sandbox = &pol,
	    .abort_flag = ctx->abort,
	};
	struct proc_result pr;
	char err[512];
	if (proc_run(&o, &pr, err, sizeof err) < 0) {
		if (required && sandbox_abi() == 0)
			tool_fail(
			    res,
			    "the command was not run: the sandbox is required (system_config.json "
			    "\"sandbox\": \"required\") but this kernel has no Landlock. Ask the "
			    "user to run on a kernel with Landlock or to set \"sandbox\" to "
			    "\"best-effort\".");
		else
			tool_fail(res, "the command was not run: %s", err);
		log_warn("bash_not_run", "%s", err);
		goto out;
	}

	struct buf *b = &res->text;
	add_status(b, &pr, timeout_s);
	res->is_error = pr.timed_out || pr.aborted || pr.signal;
	if (asked > timeout_s)
		buf_addf(b, "[timeout %lld s lowered to the cap of %lld s]\n", asked, timeout_s);
	if (!pr.sandboxed || (!network && sandbox_abi() < 4)) {
		buf_addf(b, "[sandbox: %s]\n", pr.sandbox_note);
		if (!warned)
			log_warn("bash_sandbox", "%s", pr.sandbox_note);
		warned = 1;
	}
	if (pr.output.len)
		buf_add(b, pr.output.p, pr.output.len);
	else
		buf_adds(b, "(no output)");
out:
	proc_result_free(&pr);
	sandbox_env_free(env);
	free(cmd);
}

const struct tool tool_bash = {
    "bash",
    "Run a shell command in the workspace root with /bin/sh -c (a POSIX shell; for bash "
    "features run `bash -c '...'`). stdin is /dev/null, so nothing interactive works. "
    "stdout and stderr come back together, long output cut to its head and tail; the "
    "first line of the result is `exit N` (or how the command was ended). Use it to "
    "build, run tests, run git read-only commands (status, diff, log) and inspect the "
    "system. Sandboxed: files can be written only in the workspace (when this agent "
    "may write) and in $TMPDIR; no network unless configured; no secrets in the "
    "environment. The command and everything it starts are ended at the timeout "
    "(seconds; a default applies and there is a maximum). Do not start servers or "
    "background jobs that outlive the command.",
    "{\"type\":\"object\",\"properties\":{"
    "\"command\":{\"type\":\"string\",\"description\":\"The shell command to run\"},"
    "\"timeout\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"Timeout in "
    "seconds (optional; lower than the default for quick commands)\"}},"
    "\"required\":[\"command\"],\"additionalProperties\":false}",
    bash_run,
};
