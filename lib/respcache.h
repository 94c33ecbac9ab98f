/*
 * respcache — the response cache (DESIGN §8, the seed's prompt cache):
 * a model response kept on disk under $BL_HOME/cache and served again
 * for an identical request, so a repeated run costs nothing and sends
 * nothing.  On when system_config performance.enable_caching.
 *
 * The key is the SHA-256 (hex) of the canonical request: the provider
 * name, the base URL and the provider's wire body (model, system, tools,
 * messages with every tool result, max_tokens, temperature — everything
 * the server sees and that may change its answer), with the two flags
 * that never change the answer (stream, cache_control breakpoints)
 * normalised.  Nothing volatile is in it: no time, no session, no key.
 *
 * An entry is one file "<key>.json": the response (text, tool calls,
 * stop reason, model, id, the usage it cost) and its creation time.
 * Guarantees, with any number of processes sharing the directory:
 *   - an entry is written to a temp file ".tmp.<pid>.<random>", fsynced
 *     and renamed into place, so a reader sees a whole entry or none;
 *     a temp file is never named like an entry;
 *   - an entry that does not parse, or whose key does not match its
 *     name, is a miss and is removed;
 *   - an entry older than ttl_s is a miss and is removed (ttl_s 0:
 *     entries never expire);
 *   - a hit sets the entry's mtime to now; after a store, when there are
 *     more than max_entries entries (0: no limit) the least recently
 *     used (oldest mtime) are removed, under flock(2) on "<dir>/.lock"
 *     held for that scan only; temp files left by a killed process are
 *     removed by the same scan once an hour old.
 * A response is stored only when it is worth replaying: it has text or
 * tool calls, and every tool call's input is a JSON object.
 *
 * Ownership: struct respcache owns its directory path; respcache_close().
 * Nothing here prints or exits.
 */
#ifndef BL_RESPCACHE_H
#define BL_RESPCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "llm.h"

#define RESPCACHE_KEY_LEN 64 /* hex digits of a SHA-256 */

struct respcache {
	char *dir;       /* "$BL_HOME/cache", no trailing '/' */
	int ttl_s;       /* 0: never expire */
	int max_entries; /* 0: no limit */
	/* Counters of this process, for logs and tests. */
	long hits, misses, stores, evictions;
};

/* Makes dir (and its parents, mode 0700) and fills rc, which owns a copy
 * of dir.  0, or -1 with err ("cannot create '/x/cache': Permission
 * denied"). */
int respcache_open(struct respcache *rc, const char *dir, int ttl_s, int max_entries, char *err,
                   size_t errlen);
void respcache_close(struct respcache *rc);

/* Writes the key of req as sent to ep into hex (NUL-terminated).  0, or
 * -1 when libcrypto fails (then the call must not use the cache). */
int respcache_key(const struct llm_endpoint *ep, const struct llm_request *req,
                  char hex[RESPCACHE_KEY_LEN + 1]);

/* Looks key up.  1 on a hit: resp (zeroed by the caller) is filled as a
 * response served from the cache — text, calls, stop_reason, model, id;
 * usage all zero (nothing was billed), attempts 0, latency_ms and
 * ttft_ms the look-up time (ttft -1 without text).  0 on a miss (no
 * entry, expired, corrupt: the last two removed). */
int respcache_get(struct respcache *rc, const char *key, struct llm_response *resp);

/* Stores resp under key (when worth replaying, see above), then evicts
 * beyond max_entries.  1 stored, 0 not worth storing, -1 with err. */
int respcache_put(struct respcache *rc, const char *key, const struct llm_response *resp, char *err,
                  size_t errlen);

/* Removes the least recently used entries until at most max entries are
 * left (under the lock); returns the number removed, or -1/errno. */
int respcache_evict(struct respcache *rc, int max);

#endif
