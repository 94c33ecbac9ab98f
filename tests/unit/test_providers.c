/*
 * test_providers — request building and the policy around the model
 * call, without a network: the anthropic and openai bodies for a request
 * with a system prompt, three tools and a tool_use/tool_result exchange
 * (shapes and cache_control positions checked through json_get), header
 * redaction in llm_request_dump, endpoints from the environment, the
 * HTTP-status classification table, error bodies, non-streamed bodies,
 * retry-after parsing and the backoff computation.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "json.h"
#include "provider.h"
#include "t.h"

static void add_tool(struct llm_request *r, const char *name, const char *schema)
{
	r->tools = xrealloc(r->tools, (r->ntools + 1) * sizeof *r->tools);
	struct llm_tool *t = &r->tools[r->ntools++];
	t->name = xstrdup(name);
	t->description = xasprintf("the %s tool", name);
	t->schema = schema ? xstrdup(schema) : NULL;
}

static struct llm_msg *add_msg(struct llm_request *r, enum llm_role role)
{
	r->msgs = xrealloc(r->msgs, (r->nmsgs + 1) * sizeof *r->msgs);
	struct llm_msg *m = &r->msgs[r->nmsgs++];
	memset(m, 0, sizeof *m);
	m->role = role;
	return m;
}

#define READ_SCHEMA "{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}}}"

/* system, tools read/write/bash, user text, assistant text + tool_use,
 * user tool_result. */
static void build_request(struct llm_request *r, int cache)
{
	memset(r, 0, sizeof *r);
	r->model = xstrdup("claude-test");
	r->system = xstrdup("You are the coder.");
	r->max_tokens = 1000;
	r->stream = 1;
	r->cache = cache;
	r->temperature = -1;
	add_tool(r, "read", READ_SCHEMA);
	add_tool(r, "write", "{\"type\":\"object\"}");
	add_tool(r, "bash", "{\"type\":\"object\"}");
	struct llm_msg *m = add_msg(r, LLM_USER);
	llm_msg_add(m, LLM_TEXT)->text = xstrdup("fix the bug");
	m = add_msg(r, LLM_ASSISTANT);
	llm_msg_add(m, LLM_TEXT)->text = xstrdup("Reading.");
	struct llm_block *b = llm_msg_add(m, LLM_TOOL_USE);
	b->id = xstrdup("toolu_1");
	b->name = xstrdup("read");
	b->input = xstrdup("{\"path\":\"a.c\"}");
	m = add_msg(r, LLM_USER);
	b = llm_msg_add(m, LLM_TOOL_RESULT);
	b->id = xstrdup("toolu_1");
	b->text = xstrdup("int main;");
}

/* Token of a path like "messages.2.content.0.type" (numbers index arrays). */
static int at(const struct json *j, const char *path)
{
	char *p = xstrdup(path), *save = NULL;
	int t = 0;
	for (char *k = strtok_r(p, ".", &save); k && t >= 0; k = strtok_r(NULL, ".", &save)) {
		if (*k >= '0' && *k <= '9' && json_type(j, t) == JSON_ARRAY)
			t = json_at(j, t, atoi(k));
		else
			t = json_get(j, t, k);
	}
	free(p);
	return t;
}

static int is_str(const struct json *j, const char *path, const char *want)
{
	return json_streq(j, at(j, path), want);
}

static void test_anthropic_body(void)
{
	struct llm_request r;
	build_request(&r, 1);
	struct llm_endpoint ep = {.provider = &llm_provider_anthropic};
	struct buf b = BUF_INIT;
	llm_request_body(&ep, &r, &b);
	struct json j;
	int ok = json_parse(&j, b.p, b.len, NULL) == 0;
	T_OK(ok, "anthropic body parses");
	if (!ok) {
		printf("# %s\n", b.p);
		return;
	}
	T_OK(is_str(&j, "model", "claude-test"), "anthropic body: model");
	T_INTEQ(json_get_int(&j, 0, "max_tokens", 0), 1000, "anthropic body: max_tokens");
	T_INTEQ(json_get_bool(&j, 0, "stream", 0), 1, "anthropic body: stream true");
	T_OK(at(&j, "temperature") < 0, "anthropic body: no temperature when < 0");
	T_OK(json_type(&j, at(&j, "system")) == JSON_ARRAY && json_len(&j, at(&j, "system")) == 1,
	     "anthropic body: system is one block");
	T_OK(is_str(&j, "system.0.text", "You are the coder.") &&
	         is_str(&j, "system.0.type", "text"),
	     "anthropic body: system text block");
	T_OK(is_str(&j, "system.0.cache_control.type", "ephemeral"),
	     "anthropic body: cache_control on system");
	T_INTEQ(json_len(&j, at(&j, "tools")), 3, "anthropic body: three tools");
	T_OK(is_str(&j, "tools.2.cache_control.type", "ephemeral"),
	     "anthropic body: cache_control on the last tool");
	T_OK(at(&j, "tools.0.cache_control") < 0 && at(&j, "tools.1.cache_control") < 0,
	     "anthropic body: no cache_control on the other tools");
	size_t n;
	const char *raw = json_raw(&j, at(&j, "tools.0.input_schema"), &n);
	T_OK(raw && n == strlen(READ_SCHEMA) && memcmp(raw, READ_SCHEMA, n) == 0,
	     "anthropic body: input_schema as given");
	T_OK(is_str(&j, "tools.0.name", "read") &&
	         is_str(&j, "tools.0.description", "the read tool"),
	     "anthropic body: tool name and description");
	T_INTEQ(json_len(&j, at(&j, "messages")), 3, "anthropic body: three messages");
	T_OK(is_str(&j, "messages.0.role", "user") && is_str(&j, "messages.1.role", "assistant"),
	     "anthropic body: roles");
	T_OK(is_str(&j, "messages.0.content.0.type", "text") &&
	         is_str(&j, "messages.0.content.0.text", "fix the bug"),
	     "anthropic body: user text block");
	T_OK(is_str(&j, "messages.1.content.1.type", "tool_use") &&
	         is_str(&j, "messages.1.content.1.id", "toolu_1") &&
	         is_str(&j, "messages.1.content.1.name", "read") &&
	         is_str(&j, "messages.1.content.1.input.path", "a.c"),
	     "anthropic body: tool_use block with its input object");
	T_OK(is_str(&j, "messages.2.content.0.type", "tool_result") &&
	         is_str(&j, "messages.2.content.0.tool_use_id", "toolu_1") &&
	         is_str(&j, "messages.2.content.0.content", "int main;"),
	     "anthropic body: tool_result block");
	T_OK(at(&j, "messages.2.content.0.is_error") < 0, "anthropic body: is_error only when set");
	T_OK(is_str(&j, "messages.2.content.0.cache_control.type", "ephemeral"),
	     "anthropic body: cache_control on the last block of the last message");
	T_OK(at(&j, "messages.0.content.0.cache_control") < 0 &&
	         at(&j, "messages.1.content.1.cache_control") < 0,
	     "anthropic body: no cache_control on earlier messages");
	json_free(&j);

	/* No cache: system is a plain string, no breakpoints at all. */
	buf_reset(&b);
	r.cache = 0;
	r.temperature = 0.5;
	r.msgs[2].blocks[0].is_error = 1;
	llm_msg_add(&r.msgs[2], LLM_TEXT)->text = xstrdup(""); /* empty: left out */
	free(r.msgs[1].blocks[1].input);
	r.msgs[1].blocks[1].input = xstrdup("{broken");
	llm_request_body(&ep, &r, &b);
	ok = json_parse(&j, b.p, b.len, NULL) == 0;
	T_OK(ok, "anthropic body without cache parses (a broken input replaced by {})");
	if (ok) {
		T_OK(json_type(&j, at(&j, "system")) == JSON_STRING,
		     "anthropic no-cache: system string");
		T_OK(!strstr(b.p, "cache_control"),
		     "anthropic no-cache: no cache_control anywhere");
		T_OK(json_get_bool(&j, at(&j, "messages.2.content.0"), "is_error", 0) == 1,
		     "anthropic body: is_error true");
		T_INTEQ(json_len(&j, at(&j, "messages.2.content")), 1,
		        "anthropic body: an empty text block is left out");
		T_OK(json_len(&j, at(&j, "messages.1.content.1.input")) == 0,
		     "anthropic body: an invalid input becomes {}");
		T_OK(json_get_num(&j, 0, "temperature", -1) == 0.5, "anthropic body: temperature");
		json_free(&j);
	}
	buf_free(&b);
	llm_request_free(&r);
}

static void test_openai_body(void)
{
	struct llm_request r;
	build_request(&r, 1);
	struct llm_msg *m = &r.msgs[2];
	llm_msg_add(m, LLM_TEXT)->text = xstrdup("and also this");
	struct llm_endpoint ep = {.provider = &llm_provider_openai};
	struct buf b = BUF_INIT;
	llm_request_body(&ep, &r, &b);
	struct json j;
	int ok = json_parse(&j, b.p, b.len, NULL) == 0;
	T_OK(ok, "openai body parses");
	if (!ok)
		return;
	T_OK(is_str(&j, "messages.0.role", "system") &&
	         is_str(&j, "messages.0.content", "You are the coder."),
	     "openai body: system message first");
	T_OK(is_str(&j, "messages.1.role", "user") &&
	         is_str(&j, "messages.1.content", "fix the bug"),
	     "openai body: user message");
	T_OK(is_str(&j, "messages.2.role", "assistant") &&
	         is_str(&j, "messages.2.content", "Reading."),
	     "openai body: assistant text");
	T_OK(is_str(&j, "messages.2.tool_calls.0.id", "toolu_1") &&
	         is_str(&j, "messages.2.tool_calls.0.type", "function") &&
	         is_str(&j, "messages.2.tool_calls.0.function.name", "read") &&
	         is_str(&j, "messages.2.tool_calls.0.function.arguments", "{\"path\":\"a.c\"}"),
	     "openai body: tool_calls with arguments as a string");
	T_OK(is_str(&j, "messages.3.role", "tool") &&
	         is_str(&j, "messages.3.tool_call_id", "toolu_1") &&
	         is_str(&j, "messages.3.content", "int main;"),
	     "openai body: tool result as a tool message");
	T_OK(is_str(&j, "messages.4.role", "user") &&
	         is_str(&j, "messages.4.content", "and also this"),
	     "openai body: user text after the tool messages");
	T_OK(is_str(&j, "tools.0.type", "function") &&
	         is_str(&j, "tools.0.function.name", "read") &&
	         is_str(&j, "tools.0.function.parameters.properties.path.type", "string"),
	     "openai body: tools as functions with parameters");
	T_INTEQ(json_get_int(&j, 0, "max_tokens", 0), 1000, "openai body: max_tokens");
	T_OK(json_get_bool(&j, 0, "stream", 0) == 1 &&
	         json_get_bool(&j, at(&j, "stream_options"), "include_usage", 0) == 1,
	     "openai body: stream with include_usage");
	T_OK(!strstr(b.p, "cache_control"), "openai body: no cache_control");
	json_free(&j);

	buf_reset(&b);
	r.msgs[2].blocks[0].is_error = 1;
	r.stream = 0;
	llm_request_body(&ep, &r, &b);
	ok = json_parse(&j, b.p, b.len, NULL) == 0;
	T_OK(ok && is_str(&j, "messages.3.content", "Error: int main;") &&
	         at(&j, "stream_options") < 0,
	     "openai body: an error result says Error:, no stream_options without stream");
	if (ok)
		json_free(&j);
	buf_free(&b);
	llm_request_free(&r);
}

static void clear_env(void)
{
	unsetenv("ANTHROPIC_API_KEY");
	unsetenv("ANTHROPIC_AUTH_TOKEN");
	unsetenv("CLAUDE_CODE_OAUTH_TOKEN");
	unsetenv("ANTHROPIC_BASE_URL");
	unsetenv("OPENAI_API_KEY");
	unsetenv("OPENAI_BASE_URL");
}

static void test_env_and_dump(void)
{
	struct llm_endpoint ep;
	struct llm_error e;
	struct llm_request r;
	struct buf b = BUF_INIT;
	const char *key = "sk-ant-test-SECRET-1234567890";
	build_request(&r, 1);

	clear_env();
	setenv("ANTHROPIC_API_KEY", key, 1);
	int rc = llm_endpoint_from_env(&ep, "anthropic", &e);
	T_OK(rc == 0 && ep.api_key && strcmp(ep.api_key, key) == 0 && !ep.key_is_bearer,
	     "env: ANTHROPIC_API_KEY is the key (not the bearer-token variable)");
	T_STREQ(ep.base_url, "https://api.anthropic.com", "env: default anthropic base URL");
	llm_request_dump(&ep, &r, &b);
	T_OK(!strstr(b.p, key) && !strstr(b.p, "SECRET"), "dump: the key never appears");
	T_OK(strncmp(b.p, "POST https://api.anthropic.com/v1/messages\n", 43) == 0,
	     "dump: starts with POST and the URL");
	T_OK(strstr(b.p, "\nauthorization: Bearer [redacted]\n") != NULL && !strstr(b.p, "x-api-key"),
	     "dump: the key as a bearer token, as @anthropic-ai/sdk sends it, redacted");
	T_OK(strstr(b.p, "\nanthropic-version: 2026-10-21\n") &&
	         strstr(b.p, "\ncontent-type: application/json\n") &&
	         strstr(b.p, "\nuser-agent: better-llm/"),
	     "dump: anthropic-version, content-type, user-agent");
	const char *blank = strstr(b.p, "\n\n");
	struct json j;
	memset(&j, 0, sizeof j);
	T_OK(blank && json_parse(&j, blank + 2, strlen(blank + 2), NULL) == 0,
	     "dump: the body after a blank line parses");
	if (blank && j.tok)
		json_free(&j);
	buf_reset(&b);
	ep.provider->headers(&ep, 2, 0, &b);
	T_OK(strstr(b.p, key) && strstr(b.p, "x-stainless-retry-count: 2\n"),
	     "headers: unredacted they carry the key and the retry count");
	buf_reset(&b);
	llm_endpoint_free(&ep);

	clear_env();
	setenv("ANTHROPIC_AUTH_TOKEN", "gateway-token-XYZ\n", 1);
	setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9999//", 1);
	rc = llm_endpoint_from_env(&ep, "anthropic", &e);
	T_OK(rc == 0 && ep.key_is_bearer && strcmp(ep.api_key, "gateway-token-XYZ") == 0,
	     "env: ANTHROPIC_AUTH_TOKEN is a bearer token (trimmed)");
	T_STREQ(ep.base_url, "http://127.0.0.1:9999", "env: ANTHROPIC_BASE_URL without trailing /");
	llm_request_dump(&ep, &r, &b);
	T_OK(strstr(b.p, "\nauthorization: Bearer [redacted]\n") && !strstr(b.p, "gateway-token") &&
	         !strstr(b.p, "x-api-key"),
	     "dump: bearer token redacted");
	T_OK(strncmp(b.p, "POST http://127.0.0.1:9999/v1/messages\n", 39) == 0,
	     "dump: URL from ANTHROPIC_BASE_URL");
	buf_reset(&b);
	llm_endpoint_free(&ep);

	clear_env();
	setenv("CLAUDE_CODE_OAUTH_TOKEN", "oauth-secret", 1);
	rc = llm_endpoint_from_env(&ep, "anthropic", &e);
	T_OK(rc == -1 && e.kind == LLM_ERR_AUTH, "env: only the OAuth token is an auth error");
	T_OK(strstr(e.message, "claude-code") && strstr(e.message, "CLAUDE_CODE_OAUTH_TOKEN") &&
	         !strstr(e.message, "oauth-secret"),
	     "env: the message points to claude-code: %.200s", e.message);
	T_OK(ep.api_key == NULL && ep.base_url == NULL, "env: nothing left in ep on failure");

	clear_env();
	rc = llm_endpoint_from_env(&ep, "anthropic", &e);
	T_OK(rc == -1 && e.kind == LLM_ERR_AUTH &&
	         strcmp(e.message, "ANTHROPIC_API_KEY is not set") == 0,
	     "env: no key at all: ANTHROPIC_API_KEY is not set");

	setenv("ANTHROPIC_API_KEY", "k", 1);
	setenv("ANTHROPIC_BASE_URL", "ftp://x", 1);
	rc = llm_endpoint_from_env(&ep, "anthropic", &e);
	T_OK(rc == -1 && e.kind == LLM_ERR_CONFIG, "env: a non-http base URL is a config error");
	rc = llm_endpoint_from_env(&ep, "nosuch", &e);
	T_OK(rc == -1 && e.kind == LLM_ERR_CONFIG, "env: an unknown provider is a config error");

	clear_env();
	rc = llm_endpoint_from_env(&ep, "openai", &e);
	T_OK(rc == 0 && ep.api_key == NULL, "env: openai without a key is fine (local servers)");
	char *url = llm_url(&ep);
	T_STREQ(url, "https://api.openai.com/v1/chat/completions", "url: openai default");
	free(url);
	llm_request_dump(&ep, &r, &b);
	T_OK(!strstr(b.p, "authorization"), "dump: no authorization header without a key");
	buf_reset(&b);
	llm_endpoint_free(&ep);

	setenv("OPENAI_BASE_URL", "http://127.0.0.1:8080", 1);
	setenv("OPENAI_API_KEY", "sk-openai-SECRET", 1);
	rc = llm_endpoint_from_env(&ep, "openai", &e);
	url = llm_url(&ep);
	T_STREQ(url, "http://127.0.0.1:8080/v1/chat/completions", "url: openai base without /v1");
	free(url);
	llm_request_dump(&ep, &r, &b);
	T_OK(strstr(b.p, "\nauthorization: Bearer [redacted]\n") && !strstr(b.p, "sk-openai"),
	     "dump: openai key redacted");
	buf_reset(&b);
	llm_endpoint_free(&ep);
	setenv("OPENAI_BASE_URL", "http://localhost:11434/v1/", 1);
	rc = llm_endpoint_from_env(&ep, "openai", &e);
	url = llm_url(&ep);
	T_STREQ(url, "http://localhost:11434/v1/chat/completions", "url: openai base with /v1/");
	free(url);
	llm_endpoint_free(&ep);
	clear_env();

	T_OK(llm_provider_find("anthropic") == &llm_provider_anthropic &&
	         llm_provider_find("openai") == &llm_provider_openai && !llm_provider_find("x"),
	     "llm_provider_find");
	T_OK(strcmp(llm_err_kind_name(LLM_ERR_RATE_LIMIT), "rate_limit") == 0 &&
	         strcmp(llm_err_kind_name(LLM_ERR_PROTOCOL), "protocol") == 0 &&
	         strcmp(llm_err_kind_name(LLM_ERR_AUTH), "auth") == 0,
	     "llm_err_kind_name");
	buf_free(&b);
	llm_request_free(&r);
}

static void test_classify(void)
{
	static const struct {
		int status, should_retry;
		enum llm_err_kind kind;
		int retryable;
	} tab[] = {
	    {400, -1, LLM_ERR_API, 0}, {401, -1, LLM_ERR_AUTH, 0},       {403, -1, LLM_ERR_AUTH, 0},
	    {404, -1, LLM_ERR_API, 0}, {408, -1, LLM_ERR_API, 1},        {409, -1, LLM_ERR_API, 1},
	    {413, -1, LLM_ERR_API, 0}, {429, -1, LLM_ERR_RATE_LIMIT, 1}, {500, -1, LLM_ERR_API, 1},
	    {503, -1, LLM_ERR_API, 1}, {529, -1, LLM_ERR_API, 1},        {529, 0, LLM_ERR_API, 0},
	    {400, 1, LLM_ERR_API, 1},  {429, 0, LLM_ERR_RATE_LIMIT, 0},
	};
	for (size_t i = 0; i < sizeof tab / sizeof *tab; i++) {
		enum llm_err_kind k;
		int rt;
		llm_classify_status(tab[i].status, tab[i].should_retry, &k, &rt);
		T_OK(k == tab[i].kind && rt == tab[i].retryable,
		     "status %d x-should-retry %d: %s, %sretried", tab[i].status,
		     tab[i].should_retry, llm_err_kind_name(tab[i].kind),
		     tab[i].retryable ? "" : "not ");
	}
	T_OK(llm_error_type_retryable("overloaded_error") &&
	         llm_error_type_retryable("api_error") &&
	         !llm_error_type_retryable("invalid_request_error") &&
	         !llm_error_type_retryable("authentication_error"),
	     "error types: overloaded/api retried, invalid_request/authentication not");
}

static void test_error_bodies(void)
{
	struct llm_error e;
	const char *body = "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
	                   "\"message\":\"Overloaded\"}}";
	llm_error_set(&e, LLM_ERR_API, 1, "", "HTTP 529");
	llm_provider_anthropic.parse_error(529, body, strlen(body), &e);
	T_OK(strcmp(e.type, "overloaded_error") == 0 && strstr(e.message, "529") &&
	         strstr(e.message, "Overloaded"),
	     "anthropic error body: type and message: %.200s", e.message);
	const char *html = "<html>\n<body>502 Bad Gateway</body></html>";
	llm_error_set(&e, LLM_ERR_API, 1, "", "HTTP 502");
	llm_provider_anthropic.parse_error(502, html, strlen(html), &e);
	T_OK(strstr(e.message, "502 Bad Gateway") && !strchr(e.message, '\n'),
	     "a non-JSON error body is quoted on one line: %.200s", e.message);
	const char *ob = "{\"error\":{\"message\":\"Incorrect API key provided\",\"type\":"
	                 "\"invalid_request_error\",\"code\":\"invalid_api_key\"}}";
	llm_error_set(&e, LLM_ERR_AUTH, 0, "", "HTTP 401");
	llm_provider_openai.parse_error(401, ob, strlen(ob), &e);
	T_OK(strcmp(e.type, "invalid_request_error") == 0 &&
	         strstr(e.message, "Incorrect API key") && e.kind == LLM_ERR_AUTH && !e.retryable,
	     "openai error body: type and message, kind kept: %.200s", e.message);
}

static void test_plain_bodies(void)
{
	struct llm_response r;
	struct llm_error e;
	memset(&r, 0, sizeof r);
	const char *a =
	    "{\"id\":\"msg_1\",\"type\":\"message\",\"model\":\"m\",\"content\":[{\"type\":"
	    "\"text\",\"text\":\"Hi\"},{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":"
	    "\"bash\",\"input\":{\"command\":\"ls\"}}],\"stop_reason\":\"tool_use\","
	    "\"usage\":{\"input_tokens\":5,\"output_tokens\":7}}";
	int rc = llm_provider_anthropic.parse_body(a, strlen(a), &r, NULL, &e);
	T_OK(rc == 0 && strcmp(r.text.p, "Hi") == 0 && r.ncalls == 1 &&
	         strcmp(r.calls[0].name, "bash") == 0 && strcmp(r.stop_reason, "tool_use") == 0 &&
	         r.usage.output_tokens == 7,
	     "anthropic non-streamed body decodes");
	llm_response_free(&r);
	const char *ae =
	    "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"x\"}}";
	rc = llm_provider_anthropic.parse_body(ae, strlen(ae), &r, NULL, &e);
	T_OK(rc == -1 && e.retryable && strcmp(e.type, "api_error") == 0,
	     "anthropic error object in a 200 body: retryable api_error");
	llm_response_free(&r);
	const char *o =
	    "{\"id\":\"c1\",\"model\":\"llama\",\"choices\":[{\"message\":{\"role\":"
	    "\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_9\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"read\",\"arguments\":\"{\\\"path\\\":"
	    "\\\"x\\\"}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{"
	    "\"prompt_tokens\":12,\"completion_tokens\":3}}";
	rc = llm_provider_openai.parse_body(o, strlen(o), &r, NULL, &e);
	T_OK(rc == 0 && r.ncalls == 1 && strcmp(r.calls[0].id, "call_9") == 0 &&
	         strcmp(r.calls[0].input, "{\"path\":\"x\"}") == 0 &&
	         strcmp(r.stop_reason, "tool_use") == 0 && r.usage.input_tokens == 12 &&
	         r.text.len == 0,
	     "openai non-streamed body decodes");
	llm_response_free(&r);
}

static void test_backoff(void)
{
	struct llm_retry rp = {3, 1.0, 60.0, 0.1};
	T_INTEQ(llm_backoff_ms(&rp, 0, -1, 0.5), 1000, "backoff: first retry base");
	T_INTEQ(llm_backoff_ms(&rp, 1, -1, 0.5), 2000, "backoff: doubles");
	T_INTEQ(llm_backoff_ms(&rp, 3, -1, 0.5), 8000, "backoff: 2^3");
	T_INTEQ(llm_backoff_ms(&rp, 10, -1, 0.5), 60000, "backoff: capped at max_delay");
	T_INTEQ(llm_backoff_ms(&rp, 0, -1, 0.0), 900, "backoff: -jitter");
	T_INTEQ(llm_backoff_ms(&rp, 0, -1, 1.0), 1100, "backoff: +jitter");
	T_INTEQ(llm_backoff_ms(&rp, 0, 2000, 0.9), 2000, "backoff: retry-after honoured");
	T_INTEQ(llm_backoff_ms(&rp, 2, 0, 0.9), 0, "backoff: retry-after 0 honoured");
	T_INTEQ(llm_backoff_ms(&rp, 0, 120000, 0.5), 1000, "backoff: retry-after > 60 s ignored");
	T_INTEQ(llm_backoff_ms(NULL, 1, -1, 0.5), 2000, "backoff: defaults without a policy");

	time_t now = time(NULL);
	char date[64];
	time_t later = now + 10;
	struct tm tm;
	gmtime_r(&later, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	T_INTEQ(http_retry_after_ms("1500", NULL, now), 1500, "retry-after-ms");
	T_INTEQ(http_retry_after_ms(NULL, "2", now), 2000, "retry-after seconds");
	T_INTEQ(http_retry_after_ms("1500", "9", now), 1500, "retry-after-ms wins");
	T_INTEQ(http_retry_after_ms("junk", "3", now), 3000, "bad retry-after-ms falls back");
	T_INTEQ(http_retry_after_ms(NULL, date, now), 10000, "retry-after HTTP date: %s", date);
	T_INTEQ(http_retry_after_ms(NULL, "Thu, 01 Jan 1970 00:00:10 GMT", now), 0,
	        "retry-after date in the past: 0");
	T_INTEQ(http_retry_after_ms(NULL, "soon", now), -1, "retry-after junk: none");
	T_INTEQ(http_retry_after_ms(NULL, NULL, now), -1, "no retry-after: none");
}

int main(void)
{
	test_anthropic_body();
	test_openai_body();
	test_env_and_dump();
	test_classify();
	test_error_bodies();
	test_plain_bodies();
	test_backoff();
	return t_done();
}
