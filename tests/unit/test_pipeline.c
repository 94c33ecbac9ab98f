/*
 * test_pipeline — lib/pipeline: the stage graphs bl-manager runs (the
 * shipped default and quick pipelines, edges, every kind of refusal with
 * its message), the @agent prefix of a task, and finding a pipeline by
 * name along the config search path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline.h"
#include "t.h"

static int parse(struct pipeline *p, const char *text, char *err, size_t errlen)
{
	return pipeline_parse(p, text, strlen(text), "p.json", err, errlen);
}

static void test_shipped(void)
{
	static const char *const files[] = {BL_SRCDIR "/pipelines/default.json",
	                                    BL_SRCDIR "/pipelines/quick.json"};
	char err[400] = "";
	struct pipeline p;
	T_INTEQ(pipeline_load(&p, files[0], err, sizeof err), 0, "default.json loads (%s)", err);
	T_STREQ(p.name, "default", "default: name");
	T_INTEQ((long long)p.n, 5, "default: five stages");
	const char *order[] = {"planner", "coder", "reviewer", "tester", "committer"};
	for (size_t i = 0; i < 5 && i < p.n; i++)
		T_STREQ(p.stages[i].agent, order[i], "default: stage %zu", i);
	T_INTEQ(pipeline_edge(&p, 2, "changes_requested"), 1,
	        "reviewer changes_requested -> coder");
	T_INTEQ(pipeline_edge(&p, 2, "approve"), -1, "reviewer approve: no edge");
	T_INTEQ(pipeline_edge(&p, 3, "fail"), 1, "tester fail -> coder");
	T_INTEQ(pipeline_edge(&p, 3, NULL), -1, "no verdict: no edge");
	T_INTEQ(pipeline_edge(&p, 9, "fail"), -1, "no such stage: no edge");
	T_INTEQ(p.stages[2].max_cycles, -1, "max_cycles by role when absent");
	T_STREQ(p.path, files[0], "path kept");
	pipeline_free(&p);

	T_INTEQ(pipeline_load(&p, files[1], err, sizeof err), 0, "quick.json loads (%s)", err);
	T_INTEQ((long long)p.n, 3, "quick: three stages");
	T_INTEQ(pipeline_index(&p, "tester"), 2, "quick: tester third");
	T_INTEQ(pipeline_index(&p, "reviewer"), -1, "quick: no reviewer");
	T_INTEQ(pipeline_edge(&p, 2, "fail"), 1, "quick: tester fail -> coder");
	pipeline_free(&p);
}

static void test_parse(void)
{
	char err[400];
	struct pipeline p;
	T_INTEQ(
	    parse(&p,
	          "{\"stages\":[{\"agent\":\"a\",\"description\":\"x\"},{\"agent\":\"b\","
	          "\"on\":{\"no\":\"a\",\"again\":\"b\"},\"max_cycles\":0}],\"description\":\"d\"}",
	          err, sizeof err),
	    0, "a small graph parses");
	T_STREQ(p.name, "p", "name from the file name");
	T_INTEQ(pipeline_edge(&p, 1, "no"), 0, "edge back");
	T_INTEQ(pipeline_edge(&p, 1, "again"), 1, "edge to itself");
	T_INTEQ(p.stages[1].max_cycles, 0, "max_cycles 0 kept");
	pipeline_free(&p);

	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"[]", "p.json: expected a JSON object"},
	    {"{", "p.json:1:2:"},
	    {"{\"name\":\"x\"}", "p.json: stages: expected a non-empty array"},
	    {"{\"stages\":[]}", "p.json: stages: expected a non-empty array"},
	    {"{\"stages\":[{}]}", "p.json: stages[0]: missing \"agent\""},
	    {"{\"stages\":[{\"agent\":\"\"}]}", "p.json: stages[0]: missing \"agent\""},
	    {"{\"stages\":[1]}", "p.json: stages[0]: expected object"},
	    {"{\"stages\":[{\"agent\":1}]}", "p.json: stages[0].agent: expected string"},
	    {"{\"stages\":[{\"agent\":\"a\",\"onn\":{}}]}", "p.json: stages[0]: unknown key 'onn'"},
	    {"{\"stage\":[]}", "p.json: unknown key 'stage'"},
	    {"{\"name\":3,\"stages\":[{\"agent\":\"a\"}]}", "p.json: name: expected string"},
	    {"{\"stages\":[{\"agent\":\"a\"},{\"agent\":\"a\"}]}",
	     "p.json: stages[1]: agent 'a' appears twice"},
	    {"{\"stages\":[{\"agent\":\"a\",\"on\":{\"fail\":\"b\"}}]}",
	     "p.json: stages[0].on.fail: no stage 'b' in the pipeline"},
	    {"{\"stages\":[{\"agent\":\"a\",\"on\":{\"fail\":1}}]}",
	     "p.json: stages[0].on.fail: expected string"},
	    {"{\"stages\":[{\"agent\":\"a\",\"on\":[]}]}", "p.json: stages[0].on: expected object"},
	    {"{\"stages\":[{\"agent\":\"a\",\"max_cycles\":-1}]}",
	     "p.json: stages[0].max_cycles: expected integer >= 0"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		err[0] = '\0';
		int rc = parse(&p, bad[i].text, err, sizeof err);
		T_INTEQ(rc, -1, "refused: %s", bad[i].text);
		T_OK(!strncmp(err, bad[i].want, strlen(bad[i].want)), "message for %s: '%s'",
		     bad[i].text, err);
		T_OK(p.n == 0 && !p.stages && !p.name, "left empty: %s", bad[i].text);
	}

	struct buf many = BUF_INIT;
	buf_adds(&many, "{\"stages\":[");
	for (int i = 0; i <= PIPELINE_MAX_STAGES; i++)
		buf_addf(&many, "%s{\"agent\":\"s%d\"}", i ? "," : "", i);
	buf_adds(&many, "]}");
	T_INTEQ(parse(&p, many.p, err, sizeof err), -1, "more than %d stages refused",
	        PIPELINE_MAX_STAGES);
	T_STREQ(err, "p.json: stages: at most 16 stages", "too many: message");
	buf_free(&many);
}

static void test_start(void)
{
	char err[400];
	struct pipeline p;
	parse(&p, "{\"name\":\"t\",\"stages\":[{\"agent\":\"planner\"},{\"agent\":\"coder\"}]}",
	      err, sizeof err);
	int start = -1;
	const char *rest = NULL;
	T_INTEQ(pipeline_start(&p, "@coder  fix the typo", &start, &rest, err, sizeof err), 0,
	        "@coder");
	T_INTEQ(start, 1, "@coder starts at the coder");
	T_STREQ(rest, "fix the typo", "@coder: the task after it");
	T_INTEQ(pipeline_start(&p, "plain task", &start, &rest, err, sizeof err), 0, "no prefix");
	T_INTEQ(start, 0, "no prefix: from the start");
	T_STREQ(rest, "plain task", "no prefix: the whole task");
	T_INTEQ(pipeline_start(&p, "@types/node upgrade", &start, &rest, err, sizeof err), 0,
	        "@types/node is no prefix");
	T_STREQ(rest, "@types/node upgrade", "@types/node kept");
	T_INTEQ(pipeline_start(&p, "@ nobody", &start, &rest, err, sizeof err), 0, "a lone @");
	T_INTEQ(start, 0, "a lone @: from the start");
	T_INTEQ(pipeline_start(&p, "@tester run it", &start, &rest, err, sizeof err), -1,
	        "@tester: not a stage");
	T_STREQ(err, "@tester: no such stage in pipeline 't' (stages: planner, coder)",
	        "@tester: message");
	T_INTEQ(pipeline_start(&p, "@coder   ", &start, &rest, err, sizeof err), -1,
	        "@coder with no task");
	T_STREQ(err, "@coder: no task after the stage name", "no task: message");
	pipeline_free(&p);
}

static void test_resolve(void)
{
	char dir[] = "/tmp/test_pipeline.XXXXXX", err[400];
	T_OK(mkdtemp(dir) != NULL, "temp dir");
	char *pdir = xasprintf("%s/pipelines", dir), *file = xasprintf("%s/mine.json", pdir);
	mkdir(pdir, 0700);
	struct buf b = BUF_INIT;
	buf_adds(&b, "{\"stages\":[{\"agent\":\"planner\"}]}");
	FILE *f = fopen(file, "w");
	fwrite(b.p, 1, b.len, f);
	fclose(f);
	struct bl_config cfg;
	memset(&cfg, 0, sizeof cfg);
	cfg.dir = dir;
	char *got = pipeline_resolve(&cfg, dir, "mine", err, sizeof err);
	T_OK(got && strstr(got, "/pipelines/mine.json"), "a name found in the config dir (%.200s)",
	     got ? got : err);
	free(got);
	got = pipeline_resolve(&cfg, dir, "default", err, sizeof err);
	T_OK(got && strstr(got, "/pipelines/default.json"), "default found in the source tree");
	free(got);
	got = pipeline_resolve(&cfg, dir, file, err, sizeof err);
	T_STREQ(got, file, "a file path as given");
	free(got);
	got = pipeline_resolve(&cfg, dir, "nosuch", err, sizeof err);
	T_OK(!got && strstr(err, "pipeline 'nosuch': no pipelines/nosuch.json"),
	     "an unknown name: '%.200s'", err);
	got = pipeline_resolve(&cfg, dir, "/no/such.json", err, sizeof err);
	T_OK(!got && strstr(err, "No such file"), "a missing file: '%.200s'", err);
	got = pipeline_resolve(&cfg, dir, "..", err, sizeof err);
	T_OK(!got, "'..' is no name");
	unlink(file);
	rmdir(pdir);
	rmdir(dir);
	free(file);
	free(pdir);
	buf_free(&b);
}

int main(void)
{
	test_shipped();
	test_parse();
	test_start();
	test_resolve();
	return t_done();
}
