/*
 * stats — usage, cost, latency, errors and response-cache figures over
 * sessions (DESIGN §8), for bl-stats.
 *
 * Sources, found and read by lib/sessions: the files of
 * $BL_HOME/sessions: <id>.jsonl (the live log), <id>.json.gz and
 * <id>.json (the final document, whose "messages" array holds the same
 * lines as objects).  A session present in several forms
 * is read once, from its .jsonl (the most complete: append-only, every
 * stored line), else its .json.gz, else its .json.  Every source is read
 * with lib/conv; a session whose text does not read as a whole is read
 * line by line and its bad lines are skipped (and counted), and an
 * unfinished last line of a live log (no '\n' yet: a write in flight)
 * is ignored.
 *
 * Figures, from `usage` lines (one per API call or cache hit) per agent
 * and model: calls (usage lines, cache hits included), cached (cache
 * hits), input/output/cache-write/cache-read tokens and cost (sums),
 * the cache-read share cache_read / (input + cache_read + cache_write),
 * and p50/p95 of latency_ms and ttft_ms over the calls that reached the
 * API (cached:false; ttft_ms < 0 means none and is left out), by the
 * nearest-rank method (the ceil(p/100 * n)-th smallest).  From `error`
 * lines: counts by kind and the most recent ones (time, session, agent,
 * kind, message).  The response cache: hits = usage lines with
 * cached:true, misses = the others, hit rate = hits / (hits + misses).
 * A --since time keeps the lines whose ts is at or after it.
 *
 * Ownership: struct stats owns everything it gathered; stats_free().
 * Nothing here prints or exits.
 */
#ifndef BL_STATS_H
#define BL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "conv.h"
#include "util.h"

struct stats_series {
	int64_t *v;
	size_t n, cap;
};

struct stats_row {
	char *agent, *model; /* NULL in the total row */
	long calls, cached;
	long long input, output, cache_write, cache_read;
	double cost;
	struct stats_series latency, ttft;
};

struct stats_error {
	int64_t ts_ms;
	char *ts, *session, *agent, *kind, *message;
};

struct stats_kind {
	char *kind;
	long n;
};

struct stats {
	int64_t since_ms;       /* lines before it are left out; INT64_MIN: none */
	long sessions;          /* sessions with at least one line counted */
	long bad_lines;         /* lines skipped as unreadable */
	struct stats_row *rows; /* per agent and model, in order of first use */
	size_t nrows;
	struct stats_row total;
	struct stats_kind *kinds;
	size_t nkinds;
	struct stats_error *errors; /* every error line, in reading order */
	size_t nerrors;
};

/* Zeroes s and sets the --since time (INT64_MIN: everything). */
void stats_init(struct stats *s, int64_t since_ms);
void stats_free(struct stats *s);

/* Adds the usage and error lines of a conversation read from session. */
void stats_add_conv(struct stats *s, const struct conv *c, const char *session);

/* Reads one session file (.jsonl, .json.gz or .json, with
 * sessions_read) and adds it.  Returns the number of bad lines skipped
 * (>= 0), or -1 with err when the file cannot be read at all ("PATH:
 * not gzip data", "PATH: no \"messages\" array"). */
int stats_add_file(struct stats *s, const char *path, const char *session, char *err,
                   size_t errlen);

/* Parses an RFC 3339 time ("2026-11-24T21:05:09.123Z", an offset
 * instead of Z, a space for T), a date ("2026-11-24", UTC midnight), a
 * date and time without zone (UTC), or an age ("30m", "12h", "7d", "2w":
 * that long before now_ms).  0 with *out in ms since the epoch, or -1. */
int stats_parse_time(const char *s, int64_t now_ms, int64_t *out);

/* The nearest-rank percentile p (0 < p <= 100) of a series; -1 when empty.
 * Sorts the series in place. */
int64_t stats_percentile(struct stats_series *v, double p);

/* Appends the figures as one JSON object (see bl-stats(1) for its
 * fields), with at most recent most-recent errors, to out. */
void stats_json(struct stats *s, size_t recent, struct buf *out);
/* Appends the readable report (a table per agent and model, a total,
 * errors, the response cache). */
void stats_table(struct stats *s, size_t recent, struct buf *out);

#endif
