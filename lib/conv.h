/*
 * conv — the conversation of DESIGN §2: JSON Lines, one object per line,
 * each with "type" and "ts" (RFC 3339 UTC with milliseconds).
 *
 * Reading takes a whole stream (stdin to EOF), checks every line, and
 * gives typed items; the first bad line stops the read with
 * "NAME:LINE:COL: what" (COL 1-based, in bytes), so a filter can exit 65
 * having written nothing.  Unknown types are kept as CONV_OTHER (readers
 * skip them); delta lines are kept as CONV_DELTA and never used for context.
 *
 * Writing builds one line in a buffer and hands it to conv_emit(), which
 * puts the whole line on the fd with one write(2) (looping only on a
 * short write), so a reader sees whole lines and a kill loses at most the
 * line in flight.
 *
 * Ownership: struct conv owns its items, their lines and parsed fields;
 * conv_free() releases everything.
 */
#ifndef BL_CONV_H
#define BL_CONV_H

#include <stddef.h>

#include "json.h"
#include "util.h"

enum conv_type {
	CONV_OTHER = 0,
	CONV_TASK,
	CONV_MESSAGE,
	CONV_TOOL_USE,
	CONV_TOOL_RESULT,
	CONV_VERDICT,
	CONV_COMMIT,
	CONV_USAGE,
	CONV_DELTA,
	CONV_EVENT,
	CONV_ERROR,
	CONV_RESULT,
};

struct conv_item {
	enum conv_type type;
	int lineno;       /* 1-based line in the input */
	char *line;       /* the line, without its '\n' (owned) */
	size_t len;
	struct json j;    /* parsed over line; root token 0 */
	/* Decoded common fields; NULL when absent. */
	char *agent;
	char *text;       /* task/message: text; verdict: summary; error: message */
	char *role;       /* message: role */
	char *verdict;    /* verdict: verdict */
	char *session;    /* task: session */
};

struct conv {
	struct conv_item *items;
	size_t n;
	struct buf raw;   /* the input exactly as read (for -p/--pass) */
};

/* Reads fd to EOF and parses it; name is used in messages ("stdin").
 * 0 on success; -1 with err filled ("stdin:3:14: expected ',' or '}'")
 * and c left empty.  An I/O error gives "stdin: read: <strerror>". */
int conv_read_fd(int fd, const char *name, struct conv *c, char *err, size_t errlen);
/* Same over a buffer (copied into c->raw). */
int conv_parse(const char *data, size_t len, const char *name, struct conv *c, char *err, size_t errlen);
void conv_free(struct conv *c);

/* The task text (first task line), or NULL. */
const char *conv_task(const struct conv *c);
/* The session id of the first task line, or NULL. */
const char *conv_session(const struct conv *c);

/*
 * A stage's model context (DESIGN §2): the task, every message and
 * verdict (latest last), user interjections, and for the coder the
 * latest reviewer findings and failing test output; at most max_items
 * items, oldest dropped first, the task always kept.  Tool traffic is
 * never included.  Appends the rendered text (what the model is given as
 * its first user message) to out and returns the number of items used.
 */
int conv_context(const struct conv *c, const char *role, int max_items, struct buf *out);

/* Line building: conv_line_begin writes {"type":T,"ts":NOW and, when
 * agent is non-NULL, "agent":A; the caller adds its fields with jw_*;
 * conv_line_end closes the object and appends '\n'. */
void conv_line_begin(struct jw *w, struct buf *b, const char *type, const char *agent);
void conv_line_end(struct jw *w);
/* Writes the whole buffer (one line) to fd.  0 or -1/errno. */
int conv_emit(int fd, const struct buf *line);

/* A new session id: "YYYYMMDD-HHMMSS-xxxxxx" (UTC time + 6 random hex). */
void conv_new_session_id(char out[32]);

#endif
