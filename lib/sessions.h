/*
 * sessions — the stored sessions of a directory ($BL_HOME/sessions) as a
 * set, for the programs that look back at them (bl-session, bl-stats):
 * which sessions there are, which one an abbreviated id names, what a
 * session's conversation is whatever form it is kept in, a summary of
 * it for a listing, its document in the seed's schema (session.h) and
 * writing it out, and its removal.
 *
 * A session is kept as <id>.jsonl (the live log, session.h), as
 * <id>.json.gz or <id>.json (the final document, whose "messages" array
 * holds the same lines as objects), or several of these.  It is read
 * from its .jsonl when there is one (the most complete: append-only,
 * every stored line), else its .json.gz, else its .json.  An unfinished
 * last line of a live log (no '\n' yet: a write in flight) is ignored.
 * Files whose name starts with '.' (temporary files) are no session.
 *
 * Ids are matched like git's abbreviated object names: an exact id
 * wins; otherwise every id starting with the prefix matches.
 *
 * Ownership: arrays and strings handed out are malloc'd and the
 * caller's, freed with the matching *_free.  Nothing here prints or
 * exits.
 */
#ifndef BL_SESSIONS_H
#define BL_SESSIONS_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"
#include "util.h"

/* The forms a session is kept in (struct session_file.forms). */
enum { SESSION_JSONL = 1, SESSION_JSON_GZ = 2, SESSION_JSON = 4 };

/* One session found in a directory. */
struct session_file {
	char *id;   /* the file name without .jsonl / .json.gz / .json */
	char *path; /* the file it is read from (see the preference above) */
	int forms;  /* SESSION_* bits: the files present */
};

/* Lists the sessions of dir, one per id, sorted by id.  A missing dir
 * is no session.  0 with *out (malloc'd array of *n entries; free with
 * sessions_free), or -1 with err. */
int sessions_list(const char *dir, struct session_file **out, size_t *n, char *err, size_t errlen);
void sessions_free(struct session_file *v, size_t n);

/* The sessions of v (sorted by id) named by prefix: an exact id counts
 * alone, else every id starting with prefix; the matches are v[*first]
 * onwards, contiguous.  Returns how many match. */
size_t sessions_match(const struct session_file *v, size_t n, const char *prefix, size_t *first);

/* The path of one form of a session: dir/<id>.jsonl etc.  malloc'd. */
char *sessions_path(const char *dir, const char *id, int form);

/* Reads a whole file into b, decompressed when it is gzip data (any
 * other file as it is).  0, or -1 with err ("PATH: No such file ..."). */
int sessions_read_file(const char *path, struct buf *b, char *err, size_t errlen);

/* Reads the conversation of one session file of any form into c: the
 * lines of a .jsonl (its unfinished last line left out), or the
 * "messages" of a document.  When the text does not read as a whole it
 * is read line by line and the bad lines are left out.  Returns the
 * number of bad lines (>= 0) with c filled (possibly empty; conv_free
 * it), or -1 with err when the file cannot be read at all ("PATH: not
 * gzip data", "PATH: no \"messages\" array") and c empty. */
int sessions_read(const char *path, struct conv *c, char *err, size_t errlen);

/* What a listing shows of one session. */
struct session_info {
	char *task;         /* the first task line's text; "" without one */
	char *created_at;   /* its ts; "" without one */
	char *completed_at; /* the last result line's ts; NULL without one */
	char *status;       /* "running" while a bl-manager holds the log, else
	                       the last result's status, else "stopped" */
	long turns;         /* stage runs: stage_start events (retries included) */
	double cost_usd;    /* the sum of the usage lines' cost_usd */
	int running;
	int64_t mtime_ms; /* the newest modification time of its files */
	int64_t began_ms; /* created_at, else mtime_ms: the listing's order */
	int bad_lines;    /* lines left out as unreadable */
};

/* Fills info for the session f of dir.  0, or -1 with err (the session
 * cannot be read at all; info then holds its mtime and status
 * "unreadable").  Free with session_info_free. */
int sessions_info(const char *dir, const struct session_file *f, struct session_info *info,
                  char *err, size_t errlen);
void session_info_free(struct session_info *info);

/* The document of session.h for the session f of dir: its final file
 * (.json.gz, else .json) when there is one at least as new as its log
 * (checked to be a JSON object with a "messages" array), else built
 * from the log by session_document.  Appended to doc; 0, or -1 with err. */
int sessions_document(const char *dir, const struct session_file *f, struct buf *doc, char *err,
                      size_t errlen);
/* Writes doc (through gzip when compress) to path atomically: a new file
 * beside it (mode 0666 less the umask), fsync, rename; never a partial
 * file at path.  0, or -1 with err. */
int sessions_write_document(const char *path, int compress, const struct buf *doc, char *err,
                            size_t errlen);

/* Removes every file of the session f of dir, holding its log's lock
 * meanwhile, so a session a bl-manager is running (or resuming) is never
 * removed.  0 removed, 1 kept because it is in use, -1 with err (some
 * file could not be removed; the others may have been). */
int sessions_remove(const char *dir, const struct session_file *f, char *err, size_t errlen);

#endif
