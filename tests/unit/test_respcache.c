/*
 * test_respcache — the response cache's key and store: the same request
 * gives the same key, any change the server would see (model, system,
 * message, tool, max_tokens, temperature, provider, base URL) gives
 * another, the flags that do not change the answer (stream, cache
 * breakpoints) do not; a stored response comes back whole with zero
 * usage; an expired or corrupt entry is a miss and is removed; eviction
 * keeps the most recently used entries; no temp file is left behind.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "llm.h"
#include "provider.h"
#include "respcache.h"
#include "t.h"

static void mk_request(struct llm_request *r)
{
	memset(r, 0, sizeof *r);
	r->model = xstrdup("claude-sonnet-4-5");
	r->system = xstrdup("You are the planner.");
	r->tools = xcalloc(1, sizeof *r->tools);
	r->ntools = 1;
	r->tools[0].name = xstrdup("read");
	r->tools[0].description = xstrdup("read a file");
	r->tools[0].schema =
	    xstrdup("{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}}}");
	r->msgs = xcalloc(1, sizeof *r->msgs);
	r->nmsgs = 1;
	r->msgs[0].role = LLM_USER;
	llm_msg_add(&r->msgs[0], LLM_TEXT)->text = xstrdup("## Task\nadd sub\n");
	r->max_tokens = 4096;
	r->stream = 1;
	r->cache = 1;
	r->temperature = -1;
}

static void key_of(const struct llm_endpoint *ep, const struct llm_request *r, char out[65])
{
	if (respcache_key(ep, r, out) < 0)
		strcpy(out, "error");
}

static void test_keys(void)
{
	struct llm_endpoint ep = {&llm_provider_anthropic, "http://127.0.0.1:9", NULL, 0, 0, 0};
	struct llm_request r;
	char k0[65], k1[65], k[65];
	mk_request(&r);
	key_of(&ep, &r, k0);
	key_of(&ep, &r, k1);
	T_INTEQ(strlen(k0), 64, "key: 64 hex digits");
	T_OK(strspn(k0, "0123456789abcdef") == 64, "key: lower-case hex (%s)", k0);
	T_STREQ(k1, k0, "key: the same request gives the same key");

	struct llm_request r2;
	mk_request(&r2);
	key_of(&ep, &r2, k);
	T_STREQ(k, k0, "key: an equal request built anew gives the same key");
	llm_request_free(&r2);

	/* What does not change the answer does not change the key. */
	r.stream = 0;
	r.cache = 0;
	key_of(&ep, &r, k);
	T_STREQ(k, k0, "key: stream and cache_control flags are not part of it");
	r.stream = 1;
	r.cache = 1;

	/* Everything the server sees does. */
	char *save = r.model;
	r.model = "claude-haiku-4-5";
	key_of(&ep, &r, k);
	T_OK(strcmp(k, k0) != 0, "key: another model, another key");
	r.model = save;

	save = r.msgs[0].blocks[0].text;
	r.msgs[0].blocks[0].text = "## Task\nadd mul\n";
	key_of(&ep, &r, k);
	T_OK(strcmp(k, k0) != 0, "key: another message text, another key");
	r.msgs[0].blocks[0].text = save;

	save = r.system;
	r.system = "You are the coder.";
	key_of(&ep, &r, k);
	T_OK(strcmp(k, k0) != 0, "key: another system prompt, another key");
	r.system = save;

	save = r.tools[0].schema;
	r.tools[0].schema = "{\"type\":\"object\"}";
	key_of(&ep, &r, k);
	T_OK(strcmp(k, k0) != 0, "key: another tool schema, another key");
	r.tools[0].schema = save;
	r.ntools = 0;
	key_of(&ep, &r, k);
	T_OK(strcmp(k, k0) != 0, "key: without the tool, another key");
	r.ntools = 1;

	r.max_tokens = 1024;
	key_of(&ep, &r, k);
	T_OK(strcmp(k, k0) != 0, "key: another max_tokens, another key");
	r.max_tokens = 4096;
	r.temperature = 0;
	key_of(&ep, &r, k);
	T_OK(strcmp(k, k0) != 0, "key: a temperature, another key");
	r.temperature = -1;

	/* A second message (a tool result) changes it. */
	struct llm_msg *m = xrealloc(r.msgs, 2 * sizeof *r.msgs);
	r.msgs = m;
	memset(&r.msgs[1], 0, sizeof r.msgs[1]);
	r.msgs[1].role = LLM_ASSISTANT;
	llm_msg_add(&r.msgs[1], LLM_TEXT)->text = xstrdup("ok");
	r.nmsgs = 2;
	key_of(&ep, &r, k);
	T_OK(strcmp(k, k0) != 0, "key: one more message, another key");
	r.nmsgs = 1;
	llm_msg_free(&r.msgs[1]);

	ep.base_url = "http://127.0.0.1:10";
	key_of(&ep, &r, k);
	T_OK(strcmp(k, k0) != 0, "key: another server, another key");
	ep.base_url = "http://127.0.0.1:9";
	ep.provider = &llm_provider_openai;
	key_of(&ep, &r, k);
	T_OK(strcmp(k, k0) != 0, "key: another provider, another key");
	ep.provider = &llm_provider_anthropic;
	ep.api_key = "sk-ant-secret";
	key_of(&ep, &r, k);
	T_STREQ(k, k0, "key: the API key is not part of it");
	llm_request_free(&r);
}

static void mk_response(struct llm_response *r, const char *text, int with_call)
{
	memset(r, 0, sizeof *r);
	buf_adds(&r->text, text);
	if (with_call) {
		r->calls = xcalloc(1, sizeof *r->calls);
		r->ncalls = 1;
		r->calls[0].kind = LLM_TOOL_USE;
		r->calls[0].id = xstrdup("toolu_1");
		r->calls[0].name = xstrdup("read");
		r->calls[0].input = xstrdup("{\"path\":\"a \\\"b\\\".c\"}");
	}
	r->stop_reason = xstrdup(with_call ? "tool_use" : "end_turn");
	r->model = xstrdup("claude-sonnet-4-5");
	r->id = xstrdup("msg_1");
	r->usage.input_tokens = 100;
	r->usage.output_tokens = 20;
	r->attempts = 1;
}

static int count_files(const char *dir, int *temps)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *de;
	*temps = 0;
	while (d && (de = readdir(d)))
		if (strlen(de->d_name) == 69)
			n++;
		else if (!strncmp(de->d_name, ".tmp.", 5))
			++*temps;
	if (d)
		closedir(d);
	return n;
}

static char key_n(int i, char out[65])
{
	for (int k = 0; k < 64; k++)
		out[k] = "0123456789abcdef"[(i + k) % 16];
	out[64] = '\0';
	return out[0];
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void test_store(const char *base)
{
	char err[600], dir[512], path[1024], ka[65], kb[65], kc[65];
	snprintf(dir, sizeof dir, "%s/deep/cache", base);
	struct respcache rc;
	T_INTEQ(respcache_open(&rc, dir, 0, 2, err, sizeof err), 0, "open makes the directory");
	key_n(1, ka);
	key_n(2, kb);
	key_n(3, kc);

	struct llm_response in, out;
	memset(&out, 0, sizeof out);
	T_INTEQ(respcache_get(&rc, ka, &out), 0, "an absent entry is a miss");

	mk_response(&in, "Let me look.", 1);
	T_INTEQ(respcache_put(&rc, ka, &in, err, sizeof err), 1, "a response is stored");
	llm_response_free(&in);
	memset(&out, 0, sizeof out);
	T_INTEQ(respcache_get(&rc, ka, &out), 1, "a stored response is a hit");
	T_STREQ(out.text.p, "Let me look.", "hit: the text");
	T_INTEQ(out.ncalls, 1, "hit: one tool call");
	if (out.ncalls) {
		T_STREQ(out.calls[0].id, "toolu_1", "hit: the call id");
		T_STREQ(out.calls[0].name, "read", "hit: the call name");
		T_STREQ(out.calls[0].input, "{\"path\":\"a \\\"b\\\".c\"}",
		        "hit: the call input, as JSON");
	}
	T_STREQ(out.stop_reason, "tool_use", "hit: the stop reason");
	T_STREQ(out.model, "claude-sonnet-4-5", "hit: the model");
	T_INTEQ(out.usage.input_tokens + out.usage.output_tokens, 0, "hit: nothing billed");
	T_INTEQ(out.attempts, 0, "hit: no API attempt");
	llm_response_free(&out);

	/* Not worth storing: empty, or a tool call whose input was cut. */
	memset(&in, 0, sizeof in);
	T_INTEQ(respcache_put(&rc, kb, &in, err, sizeof err), 0, "an empty response is not stored");
	mk_response(&in, "", 1);
	free(in.calls[0].input);
	in.calls[0].input = xstrdup("{\"path\":\"sr");
	T_INTEQ(respcache_put(&rc, kb, &in, err, sizeof err), 0, "a cut tool input is not stored");
	llm_response_free(&in);

	/* LRU: a, b stored; a used; c stored -> b (least recently used) goes. */
	sleep_ms(5);
	mk_response(&in, "B", 0);
	respcache_put(&rc, kb, &in, err, sizeof err);
	llm_response_free(&in);
	sleep_ms(5);
	memset(&out, 0, sizeof out);
	T_INTEQ(respcache_get(&rc, ka, &out), 1, "lru: a is used again");
	llm_response_free(&out);
	sleep_ms(5);
	mk_response(&in, "C", 0);
	T_INTEQ(respcache_put(&rc, kc, &in, err, sizeof err), 1, "lru: c stored");
	llm_response_free(&in);
	int temps;
	T_INTEQ(count_files(dir, &temps), 2, "lru: at most max_entries (2) entries");
	T_INTEQ(temps, 0, "no temp file is left");
	memset(&out, 0, sizeof out);
	T_INTEQ(respcache_get(&rc, kb, &out), 0, "lru: b, the least recently used, was evicted");
	T_INTEQ(respcache_get(&rc, ka, &out), 1, "lru: a, used recently, is kept");
	llm_response_free(&out);
	memset(&out, 0, sizeof out);
	T_INTEQ(respcache_get(&rc, kc, &out), 1, "lru: c, the newest, is kept");
	llm_response_free(&out);

	/* Evicting to 1 keeps the most recent hit (c). */
	T_INTEQ(respcache_evict(&rc, 1), 1, "evict to 1 removes one");
	memset(&out, 0, sizeof out);
	T_INTEQ(respcache_get(&rc, kc, &out), 1, "evict keeps the most recently used");
	llm_response_free(&out);

	/* A corrupt entry is a miss and is removed. */
	snprintf(path, sizeof path, "%s/%s.json", dir, kc);
	FILE *f = fopen(path, "w");
	fputs("{\"v\":1,\"key\":\"", f);
	fclose(f);
	memset(&out, 0, sizeof out);
	T_INTEQ(respcache_get(&rc, kc, &out), 0, "a torn entry is a miss");
	T_OK(access(path, F_OK) != 0, "the torn entry was removed");
	/* An entry under the wrong name is a miss too. */
	mk_response(&in, "A", 0);
	respcache_put(&rc, ka, &in, err, sizeof err);
	llm_response_free(&in);
	char pa[1024];
	snprintf(pa, sizeof pa, "%s/%s.json", dir, ka);
	T_INTEQ(rename(pa, path), 0, "move a's entry under c's name");
	memset(&out, 0, sizeof out);
	T_INTEQ(respcache_get(&rc, kc, &out), 0,
	        "an entry whose key differs from its name is a miss");
	llm_response_free(&out);
	respcache_close(&rc);

	/* TTL: an entry older than ttl_s is a miss and is removed. */
	T_INTEQ(respcache_open(&rc, dir, 1, 0, err, sizeof err), 0, "open with ttl 1");
	mk_response(&in, "T", 0);
	respcache_put(&rc, ka, &in, err, sizeof err);
	llm_response_free(&in);
	memset(&out, 0, sizeof out);
	T_INTEQ(respcache_get(&rc, ka, &out), 1, "ttl: fresh entry is a hit");
	llm_response_free(&out);
	sleep_ms(1100);
	memset(&out, 0, sizeof out);
	T_INTEQ(respcache_get(&rc, ka, &out), 0, "ttl: an expired entry is a miss");
	T_OK(access(pa, F_OK) != 0, "ttl: the expired entry was removed");
	T_INTEQ(rc.hits, 1, "counters: hits");
	respcache_close(&rc);

	/* A stale temp file (a killed writer) goes with the next scan. */
	T_INTEQ(respcache_open(&rc, dir, 0, 5, err, sizeof err), 0, "open again");
	snprintf(path, sizeof path, "%s/.tmp.1.abcdef", dir);
	f = fopen(path, "w");
	fputs("{", f);
	fclose(f);
	struct timespec old[2] = {{time(NULL) - 7200, 0}, {time(NULL) - 7200, 0}};
	utimensat(AT_FDCWD, path, old, 0);
	snprintf(pa, sizeof pa, "%s/.tmp.2.abcdef", dir);
	f = fopen(pa, "w");
	fclose(f);
	respcache_evict(&rc, 5);
	T_OK(access(path, F_OK) != 0, "a stale temp file is removed");
	T_OK(access(pa, F_OK) == 0, "a fresh temp file (a writer at work) is kept");
	unlink(pa);
	respcache_close(&rc);

	/* A file in the way of the directory. */
	snprintf(path, sizeof path, "%s/file", base);
	f = fopen(path, "w");
	fclose(f);
	snprintf(dir, sizeof dir, "%s/file/cache", base);
	T_INTEQ(respcache_open(&rc, dir, 0, 0, err, sizeof err), -1, "open fails under a file");
	T_OK(strstr(err, "cannot create") != NULL, "open: says why (%.200s)", err);
	respcache_close(&rc);
}

int main(void)
{
	char base[] = "/tmp/test_respcache.XXXXXX";
	if (!mkdtemp(base))
		return 1;
	test_keys();
	test_store(base);
	char *cmd = xasprintf("rm -rf '%s'", base);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", base);
	free(cmd);
	return t_done();
}
