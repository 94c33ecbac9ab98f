/*
 * child — the one way better-llm starts a program and ends it (STYLE §5:
 * spawn like git, supervise like s6).  lib/proc (the `bash` tool and the
 * tester), lib/supervise (bl-manager's stages) and bl-commit (git) are
 * thin uses of it.
 *
 *	struct child ch = {.path = "/bin/sh", .argv = argv, .in = CHILD_NULL,
 *	                   .out = CHILD_PIPE, .err = CHILD_STDOUT, .new_session = 1};
 *	if (child_spawn(&ch, err, sizeof err) < 0)   "cannot run '/bin/sh': ..."
 *		return -1;
 *	child_watch(&ch, &w, err, sizeof err);       read, deadlines, end the group
 *	child_finish(&ch);                           reap: ch.exit_code, ch.signal
 *
 * Guarantees of child_spawn():
 *  - the child is its own process group (a new session with new_session,
 *    so no controlling terminal either); its pid is the group id;
 *  - it gets fds 0, 1 and 2 as asked and no other: every other fd is
 *    close-on-exec in the child (close_range), whatever the caller left
 *    open; every fd child_spawn makes is O_CLOEXEC in the parent, so
 *    concurrent spawns do not inherit each other's pipes;
 *  - every signal disposition is the default again and no signal is
 *    blocked (an ignored SIGPIPE would otherwise survive exec);
 *  - with pdeathsig, the child gets that signal when the spawning thread
 *    dies, also when it died before the child could ask (getppid check);
 *  - between fork and exec the child makes only async-signal-safe calls
 *    (the caller may have threads); all signals are blocked in the parent
 *    around fork, so no handler of the caller's runs in the child;
 *  - "could not start" (a bad cwd, the confine hook refused, the program
 *    missing or not executable) is a -1 return with err, reported through
 *    a close-on-exec pipe as {step, errno} and the child reaped — told
 *    apart from the program's own exit 127.  When it returns 0 the
 *    program has been exec'd.
 *
 * Guarantees of child_watch(): one poll(2) loop over absolute deadlines;
 * the child's exit is seen through a pidfd (or, on kernels without one,
 * waitid(WNOWAIT) every 50 ms) and it is NOT reaped, so its zombie keeps
 * the group id ours and kill(-pid) can never hit a stranger.  A stop
 * (w->stop) or the deadline sends SIGTERM to the group, then SIGKILL
 * after the grace (at once when w->hurry says so).  What happens when
 * the child exits is the caller's policy (w->kill_at_exit, see below).
 * For a command (kill_at_exit 0) it returns at most grace + 1 s after a
 * stop or the deadline, and at most drain + grace + 1 s after the exit;
 * for a supervisor, at most drain after the exit, which the SIGKILL
 * brings at most grace after a stop or the deadline.
 *
 * child_finish() sends SIGKILL to what is left of the group (unless
 * leave_group lets it stay), reaps the child and, when the caller is a
 * child subreaper, the group's orphans (no zombie left), and closes the
 * read ends still open.  Call it once after every successful
 * child_spawn(), on every path.
 *
 * Fd ownership (as git's run-command.h writes it down):
 *  - in/out/err >= 0: the caller's fd; the caller keeps it and closes it
 *    when it likes (the child gets its own duplicate as fd 0/1/2);
 *  - CHILD_NULL: /dev/null, opened and closed by child_spawn;
 *  - CHILD_PIPE (out, err): a new pipe; the child owns the write end (as
 *    its fd 1 or 2; the parent's copy is closed before child_spawn
 *    returns), the parent the read end, in ch->out_r / ch->err_r, owned
 *    by the struct child: child_watch() closes each at EOF and
 *    child_finish() what is left; a caller that reads them itself may
 *    close them, setting them to -1;
 *  - CHILD_STDOUT (err only): fd 2 is the same as fd 1 (one pipe for both).
 * The exec-failure pipe and the pidfd are child_spawn's and child_watch's
 * own and closed before they return.
 *
 * child_which() is the PATH lookup; struct child_cap the bounded
 * head + tail capture of what a child writes.
 */
#ifndef BL_CHILD_H
#define BL_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define CHILD_NULL (-1)   /* the fd is /dev/null */
#define CHILD_PIPE (-2)   /* out, err: a new pipe, its read end in out_r / err_r */
#define CHILD_STDOUT (-3) /* err: the same as fd 1 */

struct child {
	/* Set by the caller. */
	const char *path;  /* with a '/': run as is (after the chdir); else looked up in PATH */
	char *const *argv; /* argv[0] included, NULL-terminated */
	char *const *envp; /* NULL: environ */
	const char *cwd;   /* NULL: the caller's */
	int in, out, err;  /* an fd of the caller's, or CHILD_NULL, CHILD_PIPE, CHILD_STDOUT */
	int new_session;   /* 1: setsid (no controlling terminal); 0: setpgid, same session */
	int pdeathsig;     /* sent to the child when the spawning thread dies; 0: none */
	/* 1: when the child exited on its own and nothing was sent to its
	 * group, child_finish leaves the rest of the group running (a git
	 * hook's background job); 0: it is always killed. */
	int leave_group;
	/* Called in the child after the chdir, just before exec (e.g.
	 * sandbox_enter); async-signal-safe only.  0, or -errno: the spawn
	 * fails with "cannot CONFINE_WHAT: strerror". */
	int (*confine)(void *arg);
	void *confine_arg;
	const char *confine_what; /* "enter the sandbox" */

	/* Set by child_spawn (pid, out_r, err_r), child_watch (ended) and
	 * child_finish (exit_code, signal). */
	pid_t pid;        /* the child = its process group id; -1 when not running */
	int out_r, err_r; /* the parent's read ends of CHILD_PIPE pipes, else -1 */
	int ended;        /* child_watch sent a signal to the group */
	int exit_code;    /* exit status, or 128 + signal */
	int signal;       /* the signal that ended it, or 0 */
};

/* Starts ch->argv (see above); fills ch->pid, ch->out_r, ch->err_r.
 * 0, or -1 with err: "cannot run 'git': No such file or directory",
 * "cannot change to directory '/w': ...", "cannot enter the sandbox: ...",
 * "cannot fork: ...".  On -1 nothing is left to release. */
int child_spawn(struct child *ch, char *err, size_t errlen);

struct child_watch {
	int64_t deadline; /* mono_ms() time at which the group is ended; <= 0: none */
	int grace_ms;     /* SIGTERM -> SIGKILL */
	int drain_ms;     /* after the child's exit, see kill_at_exit */
	/* What the child's exit means for the rest of its group:
	 * 1 (a supervisor): SIGKILL to the group at once, then the pipes are
	 *   read to EOF for at most drain_ms (a process that left the group
	 *   may hold them); no stop is acted on any more;
	 * 0 (a command): its background children get drain_ms to finish and
	 *   close the pipes, then the group is ended as on a stop; stops and
	 *   the deadline still count meanwhile. */
	int kill_at_exit;
	int wake_fd; /* a non-blocking fd polled and emptied (a self-pipe); -1: none */
	int tick_ms; /* > 0: wake at least this often (stop and hurry read a flag) */
	void *ctx;
	/* Bytes read from out_r (which 0) or err_r (which 1); NULL: dropped. */
	void (*on_data)(void *ctx, int which, const char *p, size_t n);
	/* Asked before each wait until the group is being ended: nonzero ends it. */
	int (*stop)(void *ctx);
	/* Asked during the grace: nonzero sends SIGKILL at once. */
	int (*hurry)(void *ctx);
	/* The deadline passed while the child ran; called once, before the SIGTERM. */
	void (*on_timeout)(void *ctx);

	/* Set by child_watch. */
	int timed_out; /* the deadline passed while the child ran */
	int stopped;   /* stop() returned nonzero */
	int killed;    /* SIGKILL was needed (the grace ran out, or hurry) */
};

/* Reads the child's pipes and ends its group as w says, until the child
 * has exited and its pipes are closed (or the drain or kill time ran
 * out).  The child is left unreaped for child_finish().  0, or -1 with
 * err when poll(2) failed (the group is then still to be ended: call
 * child_finish()). */
int child_watch(struct child *ch, struct child_watch *w, char *err, size_t errlen);

/* SIGKILL to what is left of ch's group (see leave_group), reaps ch
 * (exit_code, signal) and the group's orphans that came to us, closes
 * out_r/err_r; pid becomes -1.  Only closes when ch->pid is -1. */
void child_finish(struct child *ch);

/* The program cmd names, malloc'd: cmd itself when it holds a '/' (must
 * be an executable file; made absolute), else the executable dir/cmd
 * when dir is given, else the first executable PATH entry.  NULL with
 * errno when none. */
char *child_which(const char *cmd, const char *dir);

/*
 * The bounded capture of a child's output: the first head_max bytes and
 * the last tail_max, memory bounded by their sum whatever the output's
 * size.  Zero it, set head_max and tail_max, add, take, free.  The
 * struct owns head and its ring.
 */
struct child_cap {
	size_t head_max, tail_max;
	struct buf head; /* the first bytes, at most head_max */
	size_t total;    /* every byte added */
	char *ring;      /* the last bytes after the head, at most tail_max */
	size_t ring_pos, ring_len;
};

void child_cap_add(struct child_cap *c, const char *p, size_t n);
/* Appends head and tail to out (the caller's); when bytes were dropped
 * between them, "\n[... N bytes cut ...]\n", neither side splitting a
 * UTF-8 character. */
void child_cap_take(const struct child_cap *c, struct buf *out);
/* The same, cut at lines: the head up to its last newline, "[... N
 * bytes of WHAT cut here ...]\n", the tail from after its first one. */
void child_cap_take_lines(const struct child_cap *c, struct buf *out, const char *what);
/* Releases what c owns; it may be freed twice. */
void child_cap_free(struct child_cap *c);

#endif
