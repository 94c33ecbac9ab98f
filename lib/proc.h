/*
 * proc — runs one shell command the way the `bash` tool and the tester
 * need it: `/bin/sh -c CMD` in a new session (its own process group, no
 * controlling terminal), stdin /dev/null, stdout and stderr together on
 * one pipe, no other fd inherited, optionally under the Landlock sandbox,
 * with a timeout and a bounded capture of its output.
 *
 * Guarantees of proc_run():
 *  - it returns at most grace + 1 s after the timeout, and at most
 *    drain + grace + 1 s after the shell exits, whatever the command does
 *    (background children holding the pipe, SIGTERM ignored);
 *  - on timeout or abort the whole process group gets SIGTERM, then after
 *    the grace SIGKILL; when the shell has exited but something still
 *    holds the pipe after the drain time, the same; and at the end the
 *    group always gets SIGKILL, so by the return every process left in it
 *    has been killed (one that left the group with setsid escapes);
 *  - the shell is reaped on every path, no zombie is left;
 *  - memory stays bounded by cap_bytes whatever the output size: the head
 *    and the tail are kept, the middle replaced by "\n[... N bytes cut ...]\n";
 *  - "could not start" (bad cwd, sandbox refused, /bin/sh missing) is an
 *    error return, told apart from the command's own exit 127;
 *  - the child is killed (PR_SET_PDEATHSIG) if the calling thread dies.
 * It installs no signal handler and changes no process-wide state.  The
 * spawn, the watch and the group's end are lib/child's.
 *
 * Ownership: the caller owns opts and everything it points to; res owns
 * res->output (release with proc_result_free()).  Pipe ends: the child
 * owns the write end (as its fds 1 and 2), the parent the read end; both
 * are O_CLOEXEC in the parent, so concurrent spawns do not inherit them.
 */
#ifndef BL_PROC_H
#define BL_PROC_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "sandbox.h"
#include "util.h"

#define PROC_CAP_DEFAULT (64 * 1024)
#define PROC_GRACE_DEFAULT_MS 1500
#define PROC_DRAIN_DEFAULT_MS 2000

struct proc_opts {
	const char *cmd;   /* run as /bin/sh -c cmd */
	const char *cwd;   /* NULL: the caller's */
	char *const *envp; /* NULL: environ, scrubbed (sandbox_scrub_env) when sandbox is set */
	int timeout_ms;    /* <= 0: no timeout */
	size_t cap_bytes;  /* output kept, head + tail; 0: PROC_CAP_DEFAULT */
	const struct sandbox_policy *sandbox; /* NULL: not confined */
	volatile sig_atomic_t *abort_flag;    /* nonzero: end the command as on timeout */
	int grace_ms;                         /* SIGTERM -> SIGKILL; 0: PROC_GRACE_DEFAULT_MS */
	int drain_ms;      /* after the shell exits, how long to wait for the pipe's
	                      EOF before ending the rest of its group; 0: default */
	const char *shell; /* NULL: "/bin/sh" (tests) */
};

struct proc_result {
	int exit_code;          /* exit status, or 128 + signal */
	int signal;             /* the signal that ended the shell, or 0 */
	int timed_out;          /* the shell was still running at the timeout */
	int aborted;            /* ended because *abort_flag was set */
	int sandboxed;          /* ran under Landlock */
	char sandbox_note[192]; /* what confinement applied ("" without a policy) */
	struct buf output;      /* stdout+stderr interleaved, capped as above */
	size_t total_bytes;     /* bytes the command wrote, before the cap */
	int64_t duration_ms;    /* fork to reap */
	pid_t pid;              /* the shell = its process group and session; -1: not started */
};

/* Runs opts->cmd to completion (or timeout/abort) and fills res.  Returns
 * 0 when the command ran, whatever its exit status; -1 with err when it
 * could not be started ("cannot change to directory '/x': No such file or
 * directory", "cannot run '/bin/sh': ...", a refused sandbox), in which
 * case res->output is empty but valid.  res is overwritten; free it with
 * proc_result_free() in both cases. */
int proc_run(const struct proc_opts *opts, struct proc_result *res, char *err, size_t errlen);

/* Releases what res owns; res may be freed twice. */
void proc_result_free(struct proc_result *res);

#endif
