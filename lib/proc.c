/*
 * proc — `/bin/sh -c CMD` as a command (see proc.h for the guarantees):
 * lib/child spawns it in a new session with stdout and stderr on one
 * pipe, under the sandbox when one is given, and watches it with the
 * command policy: when the shell exits, its background children get the
 * drain time to close the pipe before the group is ended.  What it
 * writes goes to a child_cap (head + tail).
 */
#include "proc.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "child.h"

/* One run: the capture and the abort flag. */
struct run {
	struct child_cap cap;
	volatile sig_atomic_t *abort_flag;
};

static void take_output(void *ctx, int which, const char *p, size_t n)
{
	child_cap_add(&((struct run *)ctx)->cap, p, n);
}

static int abort_requested(void *ctx)
{
	struct run *r = ctx;
	return r->abort_flag && *r->abort_flag;
}

static int enter_sandbox(void *sb)
{
	return sandbox_enter(sb);
}

/* Owner: res owns its output; the caller frees it with proc_result_free(). */
int proc_run(const struct proc_opts *opts, struct proc_result *res, char *err, size_t errlen)
{
	memset(res, 0, sizeof *res);
	res->pid = -1;
	size_t total_cap = opts->cap_bytes ? opts->cap_bytes : PROC_CAP_DEFAULT;
	struct run r = {.cap = {.head_max = total_cap / 2}, .abort_flag = opts->abort_flag};
	r.cap.tail_max = total_cap - r.cap.head_max;
	buf_add(&res->output, "", 0);
	if (!opts->cmd) {
		snprintf(err, errlen, "no command given");
		return -1;
	}

	struct sandbox sb = {.fd = -1};
	if (opts->sandbox) {
		if (sandbox_prepare(opts->sandbox, &sb, err, errlen) < 0)
			return -1;
		res->sandboxed = sb.fd >= 0;
		snprintf(res->sandbox_note, sizeof res->sandbox_note, "%s", sb.note);
	}
	char **own_env = NULL;
	if (!opts->envp && opts->sandbox)
		own_env = sandbox_scrub_env(NULL, opts->sandbox->tmpdir);

	char *argv[] = {"sh", "-c", (char *)opts->cmd, NULL};
	struct child ch = {
	    .path = opts->shell ? opts->shell : "/bin/sh",
	    .argv = argv,
	    .envp = opts->envp ? opts->envp : own_env,
	    .cwd = opts->cwd,
	    .in = CHILD_NULL,
	    .out = CHILD_PIPE,
	    .err = CHILD_STDOUT,
	    .new_session = 1,
	    .pdeathsig = SIGKILL,
	    .confine = opts->sandbox ? enter_sandbox : NULL,
	    .confine_arg = &sb,
	    .confine_what = "enter the sandbox",
	};
	int64_t start = mono_ms();
	int rc = child_spawn(&ch, err, errlen);
	sandbox_release(&sb);
	if (rc == 0) {
		res->pid = ch.pid;
		struct child_watch w = {
		    .deadline = opts->timeout_ms > 0 ? start + opts->timeout_ms : 0,
		    .grace_ms = opts->grace_ms > 0 ? opts->grace_ms : PROC_GRACE_DEFAULT_MS,
		    .drain_ms = opts->drain_ms > 0 ? opts->drain_ms : PROC_DRAIN_DEFAULT_MS,
		    .wake_fd = -1,
		    .tick_ms = opts->abort_flag ? 100 : 0,
		    .ctx = &r,
		    .on_data = take_output,
		    .stop = abort_requested,
		};
		rc = child_watch(&ch, &w, err, errlen);
		child_finish(&ch);
		res->duration_ms = mono_ms() - start;
		res->exit_code = ch.exit_code;
		res->signal = ch.signal;
		res->timed_out = w.timed_out;
		res->aborted = w.stopped;
	}
	child_cap_take(&r.cap, &res->output);
	res->total_bytes = r.cap.total;
	child_cap_free(&r.cap);
	sandbox_env_free(own_env);
	return rc;
}

/* Owner: frees res->output. */
void proc_result_free(struct proc_result *res)
{
	buf_free(&res->output);
}
