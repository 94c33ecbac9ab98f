/*
 * supervise — how bl-manager runs the stages of a pipeline (DESIGN §6),
 * in two layers, plus the signals that stop it.  The child layer and the
 * signals are in supervise.c (over lib/child), the stage layer in
 * supervise_stage.c.
 *
 * 1. The child (sv_run): runs one program as a supervised child, the way
 * bl-manager runs a pipeline stage: the program in a new session (its own
 * process group, no controlling terminal), stdin a file the caller gives
 * (the conversation so far), stdout a pipe read line by line in one poll
 * loop over absolute deadlines, stderr to a file the caller gives (the
 * stage log), and the signals that stop bl-manager.
 *
 * Guarantees of sv_run():
 *  - every whole line the child writes is handed to on_line, in order,
 *    as soon as it is read; the bytes after the last newline when the
 *    pipe closes are not (they are in res->tail: a line cut by a kill,
 *    or a last line without its newline — the caller judges);
 *  - on timeout, on a caught signal (sv_catch_signals) and when on_line
 *    refuses a line, the whole process group gets SIGTERM, then after
 *    the grace SIGKILL; a second caught signal during the grace sends
 *    SIGKILL at once.  Lines keep being read (and handed over, except
 *    after a refusal) until the pipe closes, so a stage's own last words
 *    (its `error` line) are kept;
 *  - once the leader has exited, whatever is left in its process group
 *    gets SIGKILL (no orphan), and the pipe is read to EOF for at most
 *    drain_ms more (a process that left the group may hold it);
 *  - the child is reaped on every path (no zombie); until then its
 *    zombie holds the group id, so kill(-pid) never hits a stranger;
 *    when the caller is a child subreaper (sv_catch_signals makes it
 *    one), the orphans of the group come to it and are reaped too;
 *  - "could not start" (program missing or not executable, bad cwd) is
 *    an error return, reported through a close-on-exec pipe and told
 *    apart from the program's own exit 127;
 *  - the child dies with bl-manager (PR_SET_PDEATHSIG, SIGKILL);
 *  - memory stays bounded: a line longer than max_line is refused like
 *    an invalid one.
 * Between fork and exec the child makes only async-signal-safe calls.
 *
 * Ownership: the caller owns opts and everything it points to, and keeps
 * its stdin_fd and stderr_fd (the child gets duplicates); res owns
 * res->tail, released by sv_result_free().  Pipe ends: the child owns
 * the write end as its fd 1, the parent the read end; all are O_CLOEXEC
 * in the parent.
 *
 * 2. The stage (sv_stage_run): one attempt of one pipeline stage, at the
 * level of the conversation (DESIGN §3, §6).  The stage's program is run
 * as `PROGRAM -C WORKSPACE [--config PATH] [-m MODEL] [-s]` in the
 * workspace, with the conversation so far on stdin; each line it writes
 * is checked (one conversation line: JSON object, type, ts, the fields
 * of its type) and handed to the caller as it arrives.  Around the
 * stage's own lines this writes, through the same callback:
 *
 *	{"type":"event","event":"stage_start","agent":A,"attempt":N,"pid":P,
 *	 "timeout_s":T,"command":PROGRAM}           once the program runs
 *	{"type":"event","event":"timeout",...}       when its deadline passes
 *	{"type":"error","agent":A,"kind":K,...}      how it failed, unless it
 *	                                             said so itself
 *	{"type":"event","event":"stage_end","agent":A,"attempt":N,
 *	 "status":S,"exit_code":E,"verdict"?:V,"duration_ms":D}
 *
 * and sorts the end into what a supervisor does next (DESIGN §3 exit
 * statuses): SV_OK (exit 0); SV_RETRY — crashed (killed by a signal, or
 * exit 70), timed out (our deadline, or exit 75) or the API failed (69),
 * unless the stage's own error line says retryable:false for another
 * kind (a turn limit, a refused request); SV_STOPPED — bl-manager caught
 * a signal; SV_FATAL — anything else: an invalid line (kind protocol;
 * the stage is ended at once), a program that cannot be started
 * (config), exit 64 (config), 65 (input), 77 (auth), 78 (config), other
 * statuses (crash).  A line cut by a kill is dropped (the line in
 * flight); a last line without its newline from a stage that exited is
 * checked like any other.
 *
 * Ownership: the caller owns the spec and its fds; struct sv_outcome
 * owns its strings (sv_outcome_free).  Items handed to emit are valid
 * only during the call.
 */
#ifndef BL_SUPERVISE_H
#define BL_SUPERVISE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "conv.h"
#include "util.h"

#define SV_GRACE_DEFAULT_MS 3000
#define SV_DRAIN_DEFAULT_MS 1000
#define SV_LINE_MAX (16 * 1024 * 1024)

struct sv_opts {
	const char *path;  /* the program (absolute, or relative to the caller's cwd) */
	char *const *argv; /* argv[0] included */
	char *const *envp; /* NULL: environ */
	const char *cwd;   /* NULL: the caller's */
	int stdin_fd;      /* becomes the child's fd 0; -1: /dev/null */
	int stderr_fd;     /* becomes the child's fd 2; -1: /dev/null */
	int timeout_ms;    /* from the start; <= 0: none */
	int grace_ms;      /* SIGTERM -> SIGKILL; 0: SV_GRACE_DEFAULT_MS */
	int drain_ms;      /* after the leader exits; 0: SV_DRAIN_DEFAULT_MS */
	size_t max_line;   /* 0: SV_LINE_MAX */
	void *ctx;
	/* The program runs (exec succeeded); pid is its process group too. */
	void (*on_start)(void *ctx, pid_t pid);
	/* One whole line without its '\n'.  0 to go on; -1 refuses it: the
	 * group is ended as on timeout and later lines are dropped. */
	int (*on_line)(void *ctx, const char *line, size_t len);
	/* The deadline passed; called once, just before the SIGTERM. */
	void (*on_timeout)(void *ctx);
};

struct sv_result {
	int exit_code;       /* exit status, or 128 + signal */
	int signal;          /* the signal that ended the leader, or 0 */
	int timed_out;       /* ended by the deadline */
	int stopped;         /* ended because bl-manager caught a signal */
	int refused;         /* ended because on_line returned -1 (or line_too_long) */
	int line_too_long;   /* a line exceeded max_line */
	int killed;          /* SIGKILL was needed (the grace ran out) */
	struct buf tail;     /* bytes after the last newline at EOF (capped at max_line) */
	int64_t duration_ms; /* fork to reap */
	pid_t pid;           /* the leader = its process group id; -1 when never started */
};

/* Runs o->path to completion (or timeout / stop / refusal) and fills res.
 * 0 when the program ran, whatever its exit; -1 with err when it could
 * not be started ("cannot run '/x/bl-code': No such file or directory",
 * "cannot change to directory '/w': ..."). */
int sv_run(const struct sv_opts *o, struct sv_result *res, char *err, size_t errlen);
void sv_result_free(struct sv_result *res);

/*
 * Signals.  sv_catch_signals() installs handlers for SIGINT, SIGTERM and
 * SIGHUP that record the signal, set the stop flag and wake a self-pipe
 * that sv_run() and sv_wait() poll; SIGPIPE is ignored (a closed stdout
 * is an EPIPE, not a death); and it makes the process a child subreaper
 * (PR_SET_CHILD_SUBREAPER), so what a killed stage leaves behind comes
 * to it and sv_run() reaps it.  0 or -1/errno.
 */
int sv_catch_signals(void);
/* The first signal caught, or 0; how many were caught. */
int sv_caught(void);
int sv_caught_count(void);
/* Nonzero once a signal was caught: an abort flag for lib/agent and llm. */
volatile int *sv_stop_flag(void);

/* Waits up to ms (< 0: forever) for fd (-1: none) to be readable.
 * 1 readable, 0 time out, -1 a signal was caught (sv_caught()). */
int sv_wait(int fd, int64_t ms);

/* The program cmd names, malloc'd: cmd itself when it holds a '/' (must
 * be an executable file), else the executable dir/cmd when dir is given,
 * else the first executable PATH entry.  NULL with errno when none. */
char *sv_which(const char *cmd, const char *dir);
/* The directory of the running executable (/proc/self/exe), malloc'd, or NULL. */
char *sv_self_dir(void);

/* ---- the stage ---- */
struct sv_stage {
	const char *agent;     /* "coder": stage_start/stage_end, our error lines */
	const char *program;   /* the resolved program (sv_which) */
	const char *workspace; /* absolute: -C and the working directory */
	const char *config;    /* --config PATH, or NULL */
	const char *model;     /* -m MODEL, or NULL */
	int stream;            /* pass -s (delta lines) */
	int attempt;           /* 1-based */
	int timeout_s;         /* <= 0: none */
	int grace_ms;          /* SIGTERM -> SIGKILL; 0: SV_GRACE_DEFAULT_MS */
	int stdin_fd;          /* the conversation so far (kept by the caller) */
	int stderr_fd;         /* the stage log (kept by the caller); -1: /dev/null */
	void *ctx;
	/* Every line in order, the stage's (delta included) and ours.  0, or
	 * -1 when it could not be kept: the stage is then ended (SV_FATAL). */
	int (*emit)(void *ctx, const struct conv_item *it);
};

enum sv_end { SV_OK, SV_RETRY, SV_FATAL, SV_STOPPED };

struct sv_outcome {
	enum sv_end end;
	const char *kind; /* "ok", "stopped", "timeout", "crash", "api", "protocol",
	                     "config", "auth", "input", or the stage's own error kind */
	int exit_code;    /* exit status or 128 + signal; 127 when it never ran */
	int64_t duration_ms;
	pid_t pid;          /* its process group; -1 when it never ran */
	int emit_failed;    /* emit returned -1 */
	char *verdict;      /* the latest verdict it wrote ("approve"), or NULL */
	char *verdict_line; /* that whole line */
	char *message;      /* the text of its latest assistant message, or NULL */
	char why[800];      /* what went wrong, one line ("" when ok) */
};

/* Runs one attempt (see above).  Fills o; never fails otherwise. */
void sv_stage_run(const struct sv_stage *s, struct sv_outcome *o);
void sv_outcome_free(struct sv_outcome *o);

/* Builds a line with conv_line_begin/end and hands it, parsed, to emit:
 * sv_emit_error writes {"type":"error","agent","kind","message","retryable"}. */
int sv_emit_error(int (*emit)(void *, const struct conv_item *), void *ctx, const char *agent,
                  const char *kind, int retryable, const char *message);
/* Parses one built line (with or without its '\n') and hands it to emit;
 * line is released.  0, or -1 (emit failed, or the line is not valid). */
int sv_emit_built(int (*emit)(void *, const struct conv_item *), void *ctx, struct buf *line);

/* "SIGKILL" for 9, ... ("a signal" for others). */
const char *sv_signame(int sig);

#endif
