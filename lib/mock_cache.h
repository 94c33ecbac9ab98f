/*
 * mock_cache — bl-mockd's simulated Anthropic prompt cache.
 *
 * A request is seen as a sequence of blocks in the order the API caches
 * them: each tool, each system block, then each content block of each
 * message (a string content is one block).  A block with a
 * "cache_control" object is a breakpoint (and a top-level
 * "cache_control" makes the last block one).  The cache remembers the
 * prefix (the canonical JSON of the blocks, cache_control left out, with
 * the model and message roles mixed in) ending at every breakpoint of
 * every earlier request.
 *
 * Billing (token = 4 bytes of canonical prefix text):
 *   cache_read_input_tokens     = the longest prefix of this request,
 *                                 ending at a block boundary no later than
 *                                 its last breakpoint, that is remembered;
 *   cache_creation_input_tokens = the prefix up to the last breakpoint,
 *                                 minus what was read;
 *   input_tokens                = (body bytes)/4 minus both, at least 1.
 * A request without breakpoints is billed (body bytes)/4 input tokens.
 *
 * Ownership: the cache owns its table; mock_cache_free() releases it.
 * Not thread-safe: the caller serialises calls.
 */
#ifndef BL_MOCK_CACHE_H
#define BL_MOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"

struct mock_cache {
	uint64_t *slot; /* open addressing; 0 = empty */
	size_t n, cap;
};

struct mock_bill {
	long long input_tokens, cache_creation, cache_read;
};

/* Bills a Messages request (j's root is the body object, body_len its
 * size in bytes) and remembers its breakpoint prefixes. */
void mock_cache_bill(struct mock_cache *c, const struct json *j, size_t body_len,
                     struct mock_bill *out);
void mock_cache_free(struct mock_cache *c);

#endif
