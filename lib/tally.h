/*
 * tally — the totals bl-manager's `result` line reports (DESIGN §6),
 * kept from the conversation's lines as they are stored (or read back
 * on --resume): stage runs (stage_start events), cost (usage lines),
 * whether the tests passed (the latest verdict of a stage whose role is
 * tester), the last commit and the last assistant message.
 *
 * Guarantees: a tally depends only on the lines noted, in order, so a
 * session read back yields the totals it had when it stopped; noting
 * never fails (lines of other types are ignored).
 */
#ifndef BL_TALLY_H
#define BL_TALLY_H

#include "config.h"
#include "conv.h"
#include "util.h"

struct tally {
	int turns;          /* stage runs: stage_start events */
	double cost_usd;    /* the sum of the usage lines' cost_usd */
	int tests_passed;   /* the latest tester verdict: 1 pass, 0 fail, -1 none yet */
	char *commit;       /* "sha7 subject" of the last commit line, or NULL */
	char *last_message; /* the text of the last assistant message, or NULL */
};

/* Empties t (tests_passed -1).  t owns its strings from then on. */
void tally_init(struct tally *t);
/* Counts the line it into t; cfg (borrowed) gives the agents' roles. */
void tally_note(struct tally *t, const struct bl_config *cfg, const struct conv_item *it);
/* Appends the result line to b (with its '\n'): status, tests_passed,
 * turns, review_cycles, cost_usd (rounded to 1e-6) and summary (NULL:
 * ""); the caller owns b. */
void tally_result_line(struct buf *b, const struct tally *t, const char *status, int review_cycles,
                       const char *summary);
/* Releases t's strings. */
void tally_free(struct tally *t);

#endif
