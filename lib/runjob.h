/*
 * runjob — one run of bl-manager for a front end (bl): started as
 * `bl-manager --json --stream --no-wait [options] EXTRA...` through
 * lib/child (a new session, so its process group gets signals only when
 * we send them; SIGTERM to it when we die), its JSON Lines read as they
 * come, noted (session, stage, cycle, result) and shown through
 * lib/render, and its end told apart from its pipes' end.
 *
 *	struct runjob rn;
 *	runjob_start(&rn, &args, extra, view_fd, width, color, err, sizeof err);
 *	poll rn.out, rn.err: runjob_read(&rn, 0 or 1, show, ctx)
 *	runjob_cancel(&rn)                 SIGINT, then SIGTERM, then SIGKILL
 *	until runjob_over(&rn): rn.exit_code
 *	render_end(&rn.r); runjob_free(&rn);
 *
 * Guarantees: bl-manager is not reaped before runjob_over() (or
 * runjob_kill()) says the run is over, so its group id stays ours for
 * every signal sent to it; the run is over when bl-manager has exited
 * and both its pipes are at EOF, or 2 s after its exit at the
 * latest; what is left of its group is then killed and it is reaped.
 * Fds: rn->out and rn->err are the read ends of bl-manager's stdout
 * and stderr, owned by rn (taken over from struct child): runjob_read()
 * closes each at EOF, runjob_free() what is left.  Nothing here prints
 * or exits.
 */
#ifndef BL_RUNJOB_H
#define BL_RUNJOB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "child.h"
#include "render.h"
#include "util.h"

/* bl-manager's options passed through (NULL / 0: not given). */
struct runjob_args {
	const char *config, *pipeline, *route, *workspace, *model;
	int verbose;
};

struct runjob {
	pid_t pid;     /* bl-manager = its process group; 0 when none */
	int out, err;  /* the read ends of its stdout and stderr, -1 once at EOF */
	int exited;    /* it has exited (not yet reaped until over) */
	int over;      /* reaped: exit_code is set */
	int exit_code; /* its exit status, or 128 + signal */
	int64_t t0, exited_at;
	struct child ch;
	struct buf obuf, ebuf;
	struct render r;
	char *session, *session_path; /* from the task line */
	char *stage;                  /* the stage running now */
	int cycle, max_cycles;
	char result[16]; /* the result line's status */
	int cancels;     /* signals sent to stop it */
	int pause;       /* stop after the current stage (/pause) */
};

/* Clears rn to "no run" (pid 0, out and err -1); nothing is owned. */
void runjob_clear(struct runjob *rn);

/* Starts bl-manager ($BL_MANAGER, else next to this program, else from
 * PATH) with a's options and extra (NULL-ended), its view rendered to
 * view_fd.  0, or -1 with err ("cannot run 'bl-manager': ...") and rn
 * cleared.  On 0 rn owns the pipes, buffers and renderer until
 * runjob_free(). */
int runjob_start(struct runjob *rn, const struct runjob_args *a, const char *const *extra,
                 int view_fd, int width, int color, char *err, size_t errlen);

/* Reads what stdout (which 0) or stderr (which 1) has; each whole line
 * of stdout is noted and rendered (runjob_line) and then given to show
 * (may be NULL), each of stderr given to show.  The pipe is closed at
 * EOF (the last unfinished line shown first).  The lines are rn's. */
void runjob_read(struct runjob *rn, int which, void (*show)(void *ctx, const char *s, size_t n),
                 void *ctx);

/* Notes what one JSON line says about the run, then renders it.  The
 * line stays the caller's. */
void runjob_line(struct runjob *rn, const char *line, size_t len);

/* Sends the next signal of the cancel ladder to bl-manager's group:
 * SIGINT, SIGTERM, then SIGKILL.  Nothing once it is over. */
void runjob_cancel(struct runjob *rn);

/* 1 once the run is over (see above): then bl-manager is reaped,
 * exit_code set and its group gone.  Notes its exit (exited). */
int runjob_over(struct runjob *rn);

/* Reads both pipes (as runjob_read, show_out for stdout's lines,
 * show_err for stderr's) until the run is over or the mono_ms() time
 * deadline has passed; then ends it as runjob_kill() if it is not over.
 * The lines are rn's; the callbacks get them for the call only. */
void runjob_wait(struct runjob *rn, int64_t deadline,
                 void (*show_out)(void *ctx, const char *s, size_t n),
                 void (*show_err)(void *ctx, const char *s, size_t n), void *ctx);

/* Ends the run now: SIGKILL to the group, reaped, exit_code set. */
void runjob_kill(struct runjob *rn);

/* Releases what rn owns (ending the run first if it is not over) and
 * clears it. */
void runjob_free(struct runjob *rn);

#endif
