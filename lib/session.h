/*
 * session — where a bl-manager run is kept (DESIGN §6):
 *
 *   $BL_HOME/sessions/<id>.jsonl    the live log: every stored line of
 *                                   the conversation (no delta lines),
 *                                   appended as it happens (O_APPEND,
 *                                   one whole line per write), synced
 *                                   (fdatasync) at every stage end;
 *   $BL_HOME/sessions/<id>.json.gz  at the end (or <id>.json when
 *                                   compression is off): the seed's
 *                                   document, written atomically (temp
 *                                   file, fsync, rename):
 *
 *	{"session_id", "created_at", "completed_at", "user_request",
 *	 "total_turns", "agents_used": [...], "pipeline"?,
 *	 "messages": [every line of the .jsonl, as objects],
 *	 "result": {"status", "tests_passed", "turns", "review_cycles",
 *	            "cost_usd", "summary"}}
 *
 * created_at is the task line's ts, completed_at the last result line's
 * (else now), total_turns the number of stage_start events (stage runs,
 * retries included), agents_used the agents of those events in order of
 * first appearance, result the last result line without type and ts
 * (status "stopped", tests_passed false when there is none).
 *
 * Ownership: struct session owns its paths and its fd; session_close().
 */
#ifndef BL_SESSION_H
#define BL_SESSION_H

#include <stddef.h>

#include "conv.h"
#include "util.h"

struct session {
	char id[64];
	char *dir;  /* $BL_HOME/sessions */
	char *path; /* dir/<id>.jsonl */
	int fd;     /* append-only; -1 when closed */
};

/* Makes home/sessions (0700, with parents) and a new <id>.jsonl (O_EXCL,
 * 0600).  Both functions take an exclusive flock(2) on the log, held
 * until session_close(): one bl-manager per session.  0, or -1 with err. */
int session_create(struct session *s, const char *home, const char *id, char *err, size_t errlen);
/* Opens an existing session for appending: id is a session id (looked
 * up in home/sessions) or a path to its .jsonl file.  0, or -1 with err
 * ("no session '2026...' in /h/sessions", "session '2026...' is in use
 * by another bl-manager"). */
int session_open(struct session *s, const char *home, const char *id, char *err, size_t errlen);
void session_close(struct session *s);

/* Appends one line (len bytes; the '\n' is added when missing) with one
 * write.  0 or -1/errno. */
int session_append(struct session *s, const char *line, size_t len);
/* fdatasync of the log.  0 or -1/errno. */
int session_sync(struct session *s);

/* A read-only file holding the log as it is now, at offset 0: a sealed
 * memfd copy, so a stage that writes before reading to EOF never sees
 * its own lines (or, where memfd is missing, a fresh O_RDONLY open of
 * the log).  The caller closes it.  -1 with err. */
int session_snapshot(const struct session *s, char *err, size_t errlen);

/* Reads and checks the whole log (conv_read rules).  0 or -1 with err. */
int session_read(const struct session *s, struct conv *c, char *err, size_t errlen);

/* Writes the document described above from the log; compress selects
 * .json.gz over .json.  *out_path (may be NULL) gets the path, malloc'd.
 * 0, or -1 with err. */
int session_save(const struct session *s, int compress, char **out_path, char *err, size_t errlen);

/* Additive (bl-session): the document above for session id, built from
 * the log at log_path as it is now (an unfinished last line, a write in
 * flight, left out) by the same code as session_save, appended to out.
 * 0, or -1 with err. */
int session_document(const char *id, const char *log_path, struct buf *out, char *err,
                     size_t errlen);
/* Writes a document to fd, through gzip when compress.  0 or -1 with err. */
int session_write_document(int fd, int compress, const struct buf *doc, char *err, size_t errlen);
/* Takes the lock a bl-manager holds on a log (shared or exclusive, never
 * waiting): the fd holding it (the caller closes it to let go), or -1
 * with errno (EWOULDBLOCK: a bl-manager has the session). */
int session_try_lock(const char *log_path, int exclusive);

#endif
