/*
 * mock_wire — what bl-mockd puts on the wire: the Anthropic Messages and
 * OpenAI Chat Completions replies for one scripted reply, streamed (a
 * list of whole SSE events) or not (one JSON body), and the error
 * bodies of both APIs.
 *
 * Guarantees: every JSON text is written with the jw_* writer, so it
 * always parses; event and field shapes follow the real APIs (see
 * bl-mockd(1), "WIRE FORMAT"); the split of text and tool input into
 * deltas is deterministic, so tests can count events:
 *   - a text block is sent as two deltas, the first word (through the
 *     first whitespace character) and the rest, or as one delta when it
 *     has no inner whitespace; with chunk_bytes N, as N-byte pieces;
 *   - a tool input (compact JSON) is sent as up to three pieces;
 * and no piece ever splits a UTF-8 sequence.
 *
 * Ownership: the caller owns every output buffer and event list; free
 * event lists with mock_events_free().
 */
#ifndef BL_MOCK_WIRE_H
#define BL_MOCK_WIRE_H

#include "mock_script.h"
#include "util.h"

/* A list of whole SSE events ("event: x\ndata: {...}\n\n"). */
struct mock_events {
	struct buf *ev;
	int n, cap;
};

/* Releases every event and the list itself; e is left empty. */
void mock_events_free(struct mock_events *e);

/* Everything a reply needs besides the script line. */
struct mock_ctx {
	const struct mock_reply *r;
	const char *model; /* echoed model id */
	long long seq;     /* request number: msg_mock_<seq>, chatcmpl-mock<seq> */
	long long id_base; /* first number for generated tool ids */
	long long created; /* Unix seconds (OpenAI "created") */
	long long input_tokens, output_tokens, cache_creation, cache_read;
	int include_usage; /* OpenAI stream_options.include_usage */
};

/* Number of tool_use blocks of r without a scripted id (how many
 * generated ids a reply consumes). */
int mock_generated_ids(const struct mock_reply *r);

/* Default output tokens: the content's bytes / 4, at least 1. */
long long mock_output_tokens(const struct mock_reply *r);

/* OpenAI finish_reason for an Anthropic stop_reason. */
const char *mock_finish_reason(const char *stop_reason);

/* Anthropic: the events of a streamed reply; the full message object. */
void mock_anthropic_stream(const struct mock_ctx *c, struct mock_events *out);
void mock_anthropic_message(const struct mock_ctx *c, struct buf *out);
/* {"type":"error","error":{"type":..,"message":..},"request_id":..} */
void mock_anthropic_error(struct buf *out, const char *type, const char *msg,
                          const char *request_id);

/* OpenAI: the chunks of a streamed reply (ending "data: [DONE]"); the
 * full chat.completion object. */
void mock_openai_stream(const struct mock_ctx *c, struct mock_events *out);
void mock_openai_completion(const struct mock_ctx *c, struct buf *out);
/* {"error":{"message":..,"type":..,"param":null,"code":null}} */
void mock_openai_error(struct buf *out, const char *type, const char *msg);

#endif
