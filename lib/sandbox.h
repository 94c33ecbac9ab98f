/*
 * sandbox — the Landlock confinement of `bash` children (DESIGN §4), the
 * scrubbed environment they run with, and their private temp directory.
 * What the ruleset allows and denies, per Landlock ABI, is written at
 * the top of sandbox.c.
 *
 * Use, around fork+exec (proc_run does all of this):
 *	parent:  sandbox_prepare(&policy, &sb, err, sizeof err)   opens paths,
 *	         builds the ruleset; refuses when policy.required and the
 *	         kernel has no Landlock
 *	child:   sandbox_enter(&sb)    async-signal-safe: two syscalls
 *	parent:  sandbox_release(&sb)  after fork, closes the ruleset fd
 * A process may also confine itself with sandbox_apply().
 *
 * Ownership: a struct sandbox owns its ruleset fd (O_CLOEXEC) until
 * sandbox_release().  sandbox_scrub_env() returns a vector the caller
 * frees with sandbox_env_free().
 */
#ifndef BL_SANDBOX_H
#define BL_SANDBOX_H

#include <stddef.h>

struct sandbox_policy {
	const char *workspace; /* writable beneath (readable only when !writable) */
	const char *tmpdir;    /* private temp dir, always writable; NULL: none */
	int writable;          /* 0: a read-only agent (planner, reviewer) */
	int network;           /* 1: TCP connect/bind allowed */
	int required;          /* 1: refuse where Landlock is missing */
};

struct sandbox {
	int fd;         /* the ruleset, or -1: run unconfined (best-effort) */
	int abi;        /* the Landlock ABI used; 0: none */
	int tcp_denied; /* TCP connect/bind is denied */
	char note[192]; /* one line saying what applies, for the result and the log */
};

/* The running kernel's Landlock ABI version, 0 when Landlock is missing
 * or disabled; never more than the newest ABI this file knows (7).
 * Capped by sandbox_force_abi() and by BL_SANDBOX_ABI=N (tests). */
int sandbox_abi(void);

/* Test hook: caps the ABI sandbox_abi() reports at abi (0 simulates a
 * kernel without Landlock); -1 removes the cap.  It can only lower. */
void sandbox_force_abi(int abi);

/* Builds the ruleset for p into sb (in the parent, before fork).
 * 0 on success — sb->fd is -1 when Landlock is missing and !p->required,
 * which sb->note says; -1 with err when p->required and Landlock is
 * missing, or a path cannot be opened, or the kernel refuses a rule. */
int sandbox_prepare(const struct sandbox_policy *p, struct sandbox *sb, char *err, size_t errlen);

/* Confines the calling thread and its future children to sb: sets
 * PR_SET_NO_NEW_PRIVS, then landlock_restrict_self().  Only raw
 * syscalls: safe between fork and exec.  Does not close sb->fd (it is
 * O_CLOEXEC).  0 (also when sb->fd is -1), or -errno. */
int sandbox_enter(const struct sandbox *sb);

/* Closes sb's ruleset fd; sb may be released twice. */
void sandbox_release(struct sandbox *sb);

/* prepare + enter + release, for a single-threaded process narrowing
 * itself.  Fills note (may be NULL) like sb->note.  0 or -1 with err. */
int sandbox_apply(const struct sandbox_policy *p, char *note, size_t notelen, char *err,
                  size_t errlen);

/* 1 when the environment variable named name (up to '=' or the end) is
 * a secret that sandboxed children must not see: ANTHROPIC_*,
 * CLAUDE_CODE_OAUTH_TOKEN, OPENAI_API_KEY, *_TOKEN, *_SECRET, *_KEY
 * (the suffixes in any letter case). */
int sandbox_is_secret(const char *name);

/* A copy of env (NULL: environ) without the secret variables, with
 * TMPDIR=tmpdir when tmpdir is not NULL.  The caller owns the vector and
 * its strings: sandbox_env_free(). */
char **sandbox_scrub_env(char *const *env, const char *tmpdir);
/* The environment of a confined command: this process's environ,
 * scrubbed as above, with TMPDIR=tmpdir and XDG_CACHE_HOME=tmpdir/cache
 * (HOME is read-only under the sandbox, so caches go there).  Freed with
 * sandbox_env_free(). */
char **sandbox_command_env(const char *tmpdir);
void sandbox_env_free(char **env);

/* Creates a private (0700) temp directory "bl-tmp.XXXXXX" under
 * $TMPDIR or /tmp and writes its path into out.  0 or -1 with err. */
int sandbox_tmpdir_create(char *out, size_t outlen, char *err, size_t errlen);

/* Removes dir and everything beneath it, without following symlinks,
 * making read-only directories writable first.  0 or -1/errno. */
int sandbox_tmpdir_remove(const char *dir);

#endif
