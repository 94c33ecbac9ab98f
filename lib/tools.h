/*
 * tools — the tools an agent offers its model (DESIGN §4): a registry of
 * named tools, each with a description, a JSON schema and a run
 * function, plus the three read-only ones every stage has: read, glob
 * and grep.  Other tool files (write, edit, bash, verdict) register
 * theirs with tools_register() at the start of main.
 *
 * Guarantees: every path a tool touches is resolved beneath the
 * workspace (fsbeneath); a tool never prints, never exits and never
 * fails its caller — whatever goes wrong becomes result text with
 * is_error set, which the model sees.  Results are capped
 * (TOOL_RESULT_MAX bytes, head and tail kept) by tools_run().
 *
 * Ownership: struct tool descriptions are static and live for the whole
 * program; tools_register() keeps the pointer.  struct tool_result owns
 * its text; tool_result_free().
 */
#ifndef BL_TOOLS_H
#define BL_TOOLS_H

#include <stddef.h>

#include "json.h"
#include "llm.h"
#include "util.h"

#define TOOL_RESULT_MAX (100 * 1024)     /* bytes of one result, head + tail */
#define TOOL_READ_LINES 2000             /* read: default limit */
#define TOOL_READ_LINE_MAX 2000          /* read: longer lines are cut */
#define TOOL_GLOB_MAX 1000               /* glob: entries listed */
#define TOOL_GREP_MAX 500                /* grep: matches listed */
#define TOOL_GREP_BYTES (64 * 1024)      /* grep: bytes of output */
#define TOOL_GREP_LINE_MAX 500           /* grep: longer matching lines are cut */
#define TOOL_FILE_MAX (16 * 1024 * 1024) /* grep: larger files are skipped */

/* What a tool runs in; built by the stage, shared by every call. */
struct tool_ctx {
	int rootfd;           /* the workspace (fsb_open_root), owned by the caller */
	const char *root;     /* its path as given (-C), for messages and bash's cwd */
	const char *root_abs; /* its absolute path: absolute paths under it are accepted */
	const char *agent;    /* "planner", ... */
	volatile int *abort;  /* nonzero: stop soon (SIGINT/SIGTERM) */
	int network;          /* agent_config network: bash may use TCP */
	int writable;         /* the agent may change the workspace (bash: writable sandbox) */
	int sandbox_required; /* system_config sandbox "required" (1) or "best-effort" (0) */
	int end_stage;        /* set by a tool (verdict) to end the stage after this turn */
	void *user;           /* the stage's own data (e.g. where verdict stores its result) */
};

struct tool_result {
	struct buf text;
	int is_error;
};

struct tool {
	const char *name;
	const char *description;
	const char *schema; /* input_schema, JSON text (an object) */
	/* Runs the tool on input (object token obj of j; the model's
	 * arguments).  Appends the result text to res->text and sets
	 * res->is_error on failure. */
	void (*run)(struct tool_ctx *ctx, const struct json *j, int obj, struct tool_result *res);
};

/* The built-in read-only tools. */
extern const struct tool tool_read, tool_glob, tool_grep;

/* Adds t to the registry (a tool of the same name is replaced).  t must
 * stay valid for the program's life; the registry holds up to 32. */
void tools_register(const struct tool *t);
/* The tool named name (registered ones first, so a registration may
 * replace a built-in), or NULL; static, never freed. */
const struct tool *tools_find(const char *name);

/* Runs t on input (JSON text of the model's arguments); checks that the
 * input is an object, runs, caps the result.  res must be zeroed; the
 * caller owns its text afterwards (tool_result_free). */
void tools_run(const struct tool *t, struct tool_ctx *ctx, const char *input, size_t len,
               struct tool_result *res);
void tool_result_free(struct tool_result *res);

/* Fills an llm_tool with malloc'd copies the caller owns (freed by
 * llm_request_free when it sits in a request). */
void tools_describe(const struct tool *t, struct llm_tool *out);

/* Shortens b to at most max bytes keeping the head and the tail (cut at
 * line or UTF-8 boundaries) with a line saying how much was left out. */
void tools_cap(struct buf *b, size_t max);

/*
 * Helpers for tool implementations.
 */
/* The string argument key of obj, malloc'd; NULL with res filled
 * ("missing 'path'") when required and absent or not a string, or when
 * it holds a NUL byte. */
char *tool_arg_str(const struct json *j, int obj, const char *key, int required,
                   struct tool_result *res);
/* An integer argument; def when absent; -1 with res filled when wrong. */
int tool_arg_int(const struct json *j, int obj, const char *key, long long def, long long min,
                 long long *out, struct tool_result *res);
/* The model's path as given, made relative to the workspace: an absolute
 * path under root_abs loses that prefix; anything else is unchanged (and
 * refused later by fsbeneath).  Returns a pointer into path. */
const char *tool_rel_path(const struct tool_ctx *ctx, const char *path);
/* Sets res to an error with printf formatting. */
void tool_fail(struct tool_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 when the first bytes of a file (n of them) look binary (a NUL byte). */
int tool_looks_binary(const char *p, size_t n);
/* Path matching for glob/grep: pattern segments split on '/', "**"
 * matches any number of directories, other segments use fnmatch(3)
 * ("*", "?", "[...]").  prefix: 1 when path is a directory and the
 * question is whether something beneath it could match. */
int tool_glob_match(const char *pattern, const char *path, int prefix);

#endif
