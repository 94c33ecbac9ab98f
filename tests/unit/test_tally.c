/*
 * test_tally — the result's totals (lib/tally.c): cost summed over usage
 * lines, tests_passed following the latest tester verdict (by role, and
 * by name without a config), the last commit and assistant message,
 * turns counted from stage_start events, and the result line parsed back.
 */
#include "tally.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "t.h"

#define TS "\"ts\":\"2026-11-24T21:05:09.123Z\""

static const char lines[] =
    "{\"type\":\"event\"," TS ",\"event\":\"stage_start\",\"agent\":\"coder\"}\n"
    "{\"type\":\"usage\"," TS ",\"agent\":\"coder\",\"provider\":\"anthropic\",\"model\":\"m\","
    "\"input_tokens\":10,\"output_tokens\":5,\"cost_usd\":0.0012345}\n"
    "{\"type\":\"message\"," TS
    ",\"agent\":\"coder\",\"role\":\"assistant\",\"text\":\"done\\nmore\"}\n"
    "{\"type\":\"message\"," TS ",\"agent\":\"manager\",\"role\":\"user\",\"text\":\"not this\"}\n"
    "{\"type\":\"event\"," TS ",\"event\":\"stage_start\",\"agent\":\"tester\"}\n"
    "{\"type\":\"verdict\"," TS ",\"agent\":\"tester\",\"verdict\":\"pass\",\"summary\":\"ok\"}\n"
    "{\"type\":\"usage\"," TS ",\"agent\":\"tester\",\"provider\":\"anthropic\",\"model\":\"m\","
    "\"input_tokens\":1,\"output_tokens\":1,\"cost_usd\":0.001}\n"
    "{\"type\":\"event\"," TS ",\"event\":\"stage_end\",\"agent\":\"tester\"}\n";

static const char later[] =
    "{\"type\":\"verdict\"," TS
    ",\"agent\":\"reviewer\",\"verdict\":\"approve\",\"summary\":\"s\"}\n"
    "{\"type\":\"verdict\"," TS ",\"agent\":\"tester\",\"verdict\":\"fail\",\"summary\":\"no\"}\n"
    "{\"type\":\"commit\"," TS ",\"agent\":\"committer\",\"sha\":\"0123456789abcdef\","
    "\"subject\":\"add the endpoint\",\"files\":[\"a.c\"]}\n";

static void note_all(struct tally *t, const struct bl_config *cfg, const char *data)
{
	struct conv c;
	char err[300];
	if (conv_parse(data, strlen(data), "test", &c, err, sizeof err) < 0) {
		printf("# %s\n", err);
		return;
	}
	for (size_t i = 0; i < c.n; i++)
		tally_note(t, cfg, &c.items[i]);
	conv_free(&c);
}

int main(void)
{
	struct bl_config cfg;
	memset(&cfg, 0, sizeof cfg);
	struct tally t;
	tally_init(&t);
	T_INTEQ(t.tests_passed, -1, "init: no tests yet");

	note_all(&t, &cfg, lines);
	T_INTEQ(t.turns, 2, "turns: two stage_start events");
	T_OK(t.cost_usd > 0.0022344 && t.cost_usd < 0.0022346, "cost: summed (%g)", t.cost_usd);
	T_INTEQ(t.tests_passed, 1, "tests: the tester said pass");
	T_STREQ(t.last_message, "done\nmore", "message: the last assistant one");
	T_STREQ(t.commit, NULL, "commit: none yet");

	note_all(&t, &cfg, later);
	T_INTEQ(t.tests_passed, 0, "tests: the latest tester verdict (fail) counts");
	T_STREQ(t.commit, "0123456 add the endpoint", "commit: sha7 and subject");

	struct buf b = BUF_INIT;
	tally_result_line(&b, &t, "completed", 3, NULL);
	T_OK(b.len > 0 && b.p[b.len - 1] == '\n', "result: one line");
	struct json j;
	T_INTEQ(json_parse(&j, b.p, b.len - 1, NULL), 0, "result: valid JSON");
	char *type = json_get_str(&j, 0, "type"), *st = json_get_str(&j, 0, "status"),
	     *sum = json_get_str(&j, 0, "summary");
	T_STREQ(type, "result", "result: type");
	T_STREQ(st, "completed", "result: status");
	T_STREQ(sum, "", "result: no summary is \"\"");
	T_INTEQ(json_get_bool(&j, 0, "tests_passed", 1), 0, "result: tests_passed false");
	T_INTEQ(json_get_int(&j, 0, "turns", -1), 2, "result: turns");
	T_INTEQ(json_get_int(&j, 0, "review_cycles", -1), 3, "result: review_cycles");
	T_OK(json_get_num(&j, 0, "cost_usd", 0) == 0.002235, "result: cost rounded to 1e-6");
	free(type);
	free(st);
	free(sum);
	json_free(&j);
	buf_free(&b);

	tally_free(&t);
	T_STREQ(t.commit, NULL, "free: strings released");
	return t_done();
}
