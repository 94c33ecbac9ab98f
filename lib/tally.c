/*
 * tally — the totals of a run's conversation and its result line (see
 * tally.h for the contract).
 */
#include "tally.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void tally_init(struct tally *t)
{
	memset(t, 0, sizeof *t);
	t->tests_passed = -1;
}

void tally_note(struct tally *t, const struct bl_config *cfg, const struct conv_item *it)
{
	const struct json *j = &it->j;
	switch (it->type) {
	case CONV_USAGE:
		t->cost_usd += json_get_num(j, 0, "cost_usd", 0);
		break;
	case CONV_VERDICT: {
		/* tests_passed: the latest verdict of a tester (by role) */
		const struct agent_cfg *a = it->agent ? config_agent(cfg, it->agent) : NULL;
		const char *role = a && a->role ? a->role : it->agent ? it->agent : "";
		if (strcmp(role, "tester"))
			break;
		if (it->verdict && !strcmp(it->verdict, "pass"))
			t->tests_passed = 1;
		else if (it->verdict && !strcmp(it->verdict, "fail"))
			t->tests_passed = 0;
		break;
	}
	case CONV_COMMIT: {
		char *sha = json_get_str(j, 0, "sha"), *subj = json_get_str(j, 0, "subject");
		free(t->commit);
		t->commit = xasprintf("%.7s %s", sha ? sha : "?", subj ? subj : "");
		free(sha);
		free(subj);
		break;
	}
	case CONV_MESSAGE:
		if (it->role && !strcmp(it->role, "assistant")) {
			free(t->last_message);
			t->last_message = xstrdup(it->text);
		}
		break;
	case CONV_EVENT:
		if (json_streq(j, json_get(j, 0, "event"), "stage_start"))
			t->turns++;
		break;
	default:
		break;
	}
}

void tally_result_line(struct buf *b, const struct tally *t, const char *status, int review_cycles,
                       const char *summary)
{
	struct jw w;
	conv_line_begin(&w, b, "result", NULL);
	jw_kstr(&w, "status", status);
	jw_kbool(&w, "tests_passed", t->tests_passed == 1);
	jw_kint(&w, "turns", t->turns);
	jw_kint(&w, "review_cycles", review_cycles);
	jw_knum(&w, "cost_usd", round(t->cost_usd * 1e6) / 1e6);
	jw_kstr(&w, "summary", summary ? summary : "");
	conv_line_end(&w);
}

void tally_free(struct tally *t)
{
	free(t->commit);
	free(t->last_message);
	t->commit = t->last_message = NULL;
}
