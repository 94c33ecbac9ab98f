/*
 * tools_bash — the `bash` tool (DESIGN §4): `/bin/sh -c COMMAND` in the
 * workspace through proc_run (lib/proc.h), confined by the sandbox
 * (lib/sandbox.h), with a timeout and capped output.  bl-code registers
 * it writable; bl-review and bl-test may register the same tool with a
 * read-only configuration.
 *
 * Guarantees: the command runs in its own process group with stdin
 * /dev/null, under Landlock (writes only beneath the workspace — when
 * the configuration is writable — and a private temp dir made for this
 * process, which is TMPDIR and holds XDG_CACHE_HOME; TCP only when the
 * network is allowed), without the secret environment variables; it is
 * ended (SIGTERM, then SIGKILL, whole group) at its timeout, which the
 * model may lower but never raise past timeout_max_s; the result is
 * "exit N" (or "killed by signal S", or "timed out after T s (process
 * group ended)") followed by the output (stdout and stderr together,
 * head and tail kept past cap_bytes), and, when the command ran less
 * confined than asked, the sandbox's note — also logged as a warning.
 * A required sandbox that cannot be had is an is_error result; nothing
 * is run.
 *
 * Ownership: the configuration is copied; the temp dir belongs to this
 * module until tool_bash_cleanup() removes it.
 */
#ifndef BL_TOOLS_BASH_H
#define BL_TOOLS_BASH_H

#include <stddef.h>

#include "tools.h"

#define BASH_TIMEOUT_DEFAULT_S 120
#define BASH_TIMEOUT_MAX_S 600
#define BASH_CAP_DEFAULT (30 * 1000) /* bytes of output kept, head + tail */

/*
 * The rights: writable and network given as 0 or 1 decide; -1 takes the
 * tool_ctx's (writable from the stage_spec, network from
 * agent_config.json).  required can only tighten: the sandbox is required
 * when it is 1 here or when system_config.json says "required"
 * (ctx->sandbox_required).
 */
struct bash_cfg {
	int writable;          /* 1: workspace writable; 0: read-only; -1: ctx->writable */
	int network;           /* 1: TCP allowed; 0: denied; -1: ctx->network */
	int required;          /* 1: refuse without Landlock; 0/-1: ctx->sandbox_required */
	int timeout_default_s; /* when the model gives none; <= 0: 120 */
	int timeout_max_s;     /* the cap, e.g. the agent's timeout_s; <= 0: 600 */
	size_t cap_bytes;      /* output kept; 0: BASH_CAP_DEFAULT */
};

/* The bash tool; static, register with tools_register(). */
extern const struct tool tool_bash;

/* Sets how the bash tool runs commands (copied).  Before it is called
 * the tool takes every right from the tool_ctx, with the default
 * timeouts and cap above. */
void tool_bash_configure(const struct bash_cfg *cfg);

/* Removes the private temp dir, if one was made.  Call before exit. */
void tool_bash_cleanup(void);

#endif
