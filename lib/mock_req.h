/*
 * mock_req — what bl-mockd reads from a request body: the compact
 * (canonical) JSON text of any value, the system prompt each wire
 * protocol carries, and a few scalar fields.
 *
 * Canonical JSON here means: the same value, keys in their original
 * order, no insignificant whitespace, strings re-escaped by the jw_*
 * writer, numbers as written.  Two texts that differ only in layout have
 * the same canonical form, so it serves both as a one-line log record
 * and as the byte measure of the simulated prompt cache.
 *
 * Ownership: nothing here keeps a pointer to its arguments; results go
 * into caller-owned buffers or writers.
 */
#ifndef BL_MOCK_REQ_H
#define BL_MOCK_REQ_H

#include "json.h"
#include "util.h"

/* Writes value t of j to w in canonical form.  When skip_key is not NULL
 * and t is an object, its member of that name (top level only) is left
 * out.  The caller owns w and its buffer. */
void mock_canon(struct jw *w, const struct json *j, int t, const char *skip_key);

/* Appends the canonical text of value t to b (a convenience over
 * mock_canon). */
void mock_canon_buf(struct buf *b, const struct json *j, int t, const char *skip_key);

/* Appends the system prompt of an Anthropic Messages request (root of j
 * is the body object) to b: "system" as a string, or the concatenated
 * "text" of its blocks.  Appends nothing when there is none. */
void mock_anthropic_system(const struct json *j, struct buf *b);

/* Appends the system prompt of an OpenAI Chat Completions request to b:
 * the concatenated content (string, or the "text" of its parts) of every
 * message whose role is "system" or "developer". */
void mock_openai_system(const struct json *j, struct buf *b);

#endif
