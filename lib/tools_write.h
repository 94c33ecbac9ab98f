/*
 * tools_write — the tools that change files (DESIGN §4): `write` (a whole
 * file) and `edit` (replace an exact string).  bl-code registers them;
 * read-only stages never link them in.
 *
 * Guarantees: every path is resolved beneath the workspace (fsbeneath);
 * nothing under ".git" and no symbolic link is ever written; a file is
 * replaced atomically — the new content is written to a temp file in
 * the same directory, fsync'd, then renamed over the target — so a
 * reader, or a crash at any instant, sees the old or the new content,
 * never a mix; an overwritten file keeps its permission bits.  Results
 * say what happened with line counts ("created src/x.c (12 lines, +12
 * -0)"); failures are is_error results (tools.h), never a crash.
 */
#ifndef BL_TOOLS_WRITE_H
#define BL_TOOLS_WRITE_H

#include "tools.h"

/* The write and edit tools; static, register with tools_register(). */
extern const struct tool tool_write, tool_edit;

/* Counts the lines of p (n bytes): newlines, plus one for a last line
 * without one.  Exported for tests and viewers. */
size_t tool_count_lines(const char *p, size_t n);

/* The lines added and removed going from a to b (a line diff, as
 * `diff` counts them); approximate (all changed lines counted as
 * removed and added) when the files differ too much to diff cheaply. */
void tool_diff_stat(const char *a, size_t an, const char *b, size_t bn, size_t *added,
                    size_t *removed);

#endif
