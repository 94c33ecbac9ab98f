/*
 * test_config — lib/config.c: the repository's config/ files load with
 * the documented values; wrong types fail with the exact message;
 * unknown keys warn; environment overrides; the search order of files
 * and data files; prices and cost; .env parsing.
 */
#include "config.h"
#include "dotenv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"

static char tmp[256];

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0) {
		printf("Bail out! cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
}

static char *path_in(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void mkdirs(const char *d)
{
	char *cmd = xasprintf("mkdir -p '%s'", d);
	if (system(cmd) != 0)
		printf("Bail out! %s\n", cmd), exit(1);
	free(cmd);
}

static const char *srcdir(void)
{
	const char *s = getenv("BL_SRCDIR");
	return s && *s ? s : BL_SRCDIR;
}

static void clean_env(void)
{
	static const char *const vars[] = {"WORKER_TIMEOUT_CODER",
	                                   "WORKER_TIMEOUT_PLANNER",
	                                   "BL_MODEL",
	                                   "LOG_LEVEL",
	                                   "LOG_FORMAT",
	                                   "LOG_DIR",
	                                   "BL_HOME",
	                                   NULL};
	for (const char *const *v = vars; *v; v++)
		unsetenv(*v);
}

static void test_repo_files(void)
{
	struct bl_config cfg;
	char err[300] = "";
	char *dir = xasprintf("%s/config", srcdir());
	int rc = config_load(&cfg, dir, tmp, err, sizeof err);
	T_INTEQ(rc, 0, "repo config loads (%s)", err);
	T_INTEQ(cfg.nwarnings, 0, "repo config: no warnings%s%s", cfg.nwarnings ? ": " : "",
	        cfg.nwarnings ? cfg.warnings[0] : "");
	T_INTEQ(cfg.nagents, 6, "repo config: five workers and the --route llm manager");
	const struct agent_cfg *mgr = config_agent(&cfg, "manager");
	T_OK(mgr && !strcmp(mgr->system_prompt_file, "prompts/manager.txt") && mgr->ntools == 0,
	     "repo config: the manager agent");
	static const char *const names[] = {"planner", "coder", "reviewer", "tester", "committer"};
	static const char *const cmds[] = {"bl-plan", "bl-code", "bl-review", "bl-test",
	                                   "bl-commit"};
	static const int timeouts[] = {300, 600, 300, 600, 180};
	static const size_t ntools[] = {3, 6, 5, 5, 0};
	static const int network[] = {0, 0, 0, 1, 0}; /* the tester's suites bind loopback */
	for (int i = 0; i < 5; i++) {
		const struct agent_cfg *a = config_agent(&cfg, names[i]);
		T_OK(a != NULL, "agent %s present", names[i]);
		if (!a)
			continue;
		T_STREQ(a->command, cmds[i], "agent %s command", names[i]);
		T_INTEQ(a->timeout_s, timeouts[i], "agent %s timeout", names[i]);
		T_INTEQ(a->ntools, ntools[i], "agent %s tool count", names[i]);
		char *want = xasprintf("prompts/%s.txt", names[i]);
		T_STREQ(a->system_prompt_file, want, "agent %s prompt file", names[i]);
		free(want);
		T_OK(!strcmp(a->provider, "anthropic") && !strcmp(a->model, "claude-sonnet-4-5") &&
		         a->network == network[i],
		     "agent %s provider/model/network", names[i]);
	}
	const struct agent_cfg *coder = config_agent(&cfg, "coder");
	T_OK(coder && coder->ntools == 6 && !strcmp(coder->tools[3], "glob") &&
	         !strcmp(coder->tools[5], "bash"),
	     "coder tools in order");
	T_OK(config_agent(&cfg, "nobody") == NULL, "unknown agent: NULL");
	T_OK(cfg.max_review_iterations == 3 && cfg.max_coder_retries == 2 &&
	         cfg.max_retry_cycles == 3 && cfg.max_turns == 50,
	     "workflow limits 3/2/3/50");
	T_OK(cfg.retry.max_attempts == 3 && cfg.retry.base_delay_s == 1.0 &&
	         cfg.retry.max_delay_s == 60 && fabs(cfg.retry.jitter - 0.1) < 1e-12,
	     "retry 3/1.0/60/0.1");
	T_OK(cfg.enable_caching && cfg.cache_ttl_seconds == 3600 && cfg.cache_max_size == 1000 &&
	         cfg.compression && cfg.metrics,
	     "performance flags");
	T_OK(cfg.sandbox_required && cfg.test_command == NULL && cfg.max_context_messages == 50,
	     "sandbox required, test_command null, 50 context messages");
	T_OK(cfg.connect_timeout_s == 10 && cfg.idle_timeout_s == 120, "api timeouts 10/120");
	T_STREQ(cfg.log_level, "INFO", "log level");
	T_STREQ(cfg.log_format, "json", "log format");
	T_STREQ(cfg.default_model, "claude-sonnet-4-5", "default model");
	T_OK(cfg.nmodels >= 5, "models listed");
	char *want = xasprintf("%s/agent_config.json", dir);
	T_STREQ(cfg.agent_path, want, "agent_path is the file read");
	free(want);
	T_STREQ(cfg.dir, dir, "cfg.dir is the --config directory");

	/* prices */
	const struct model_price *p = config_price(&cfg, "claude-sonnet-4-5");
	T_OK(p && p->input == 3 && p->output == 15 && p->cache_write == 3.75 &&
	         p->cache_read == 0.30,
	     "price: claude-sonnet-4-5 exact");
	p = config_price(&cfg, "claude-sonnet-4-5-20250929");
	T_STREQ(p ? p->id : NULL, "claude-sonnet-4-5", "price: dated id by longest prefix");
	p = config_price(&cfg, "claude-opus-4-1-20250805");
	T_STREQ(p ? p->id : NULL, "claude-opus-4-1", "price: longest prefix beats shorter");
	p = config_price(&cfg, "gpt-4o-mini-2024-07-18");
	T_STREQ(p ? p->id : NULL, "gpt-4o-mini", "price: gpt-4o-mini not gpt-4o");
	T_OK(config_price(&cfg, "claude-opus-45") == NULL, "price: prefix needs a word boundary");
	T_OK(config_price(&cfg, "llama-3") == NULL && config_price(&cfg, NULL) == NULL,
	     "price: unknown model NULL");
	p = config_price(&cfg, "claude-haiku-4-5");
	struct llm_usage u = {1000000, 200000, 100000, 2000000};
	/* 1.0*1 + 0.2*5 + 0.1*1.25 + 2*0.10 = 2.325 */
	T_OK(p && fabs(config_cost(p, &u) - 2.325) < 1e-9, "cost: haiku 4.5 = 2.325 (got %.6f)",
	     p ? config_cost(p, &u) : -1);
	p = config_price(&cfg, "claude-opus-4-1");
	struct llm_usage u2 = {1234, 567, 0, 8900};
	/* (1234*15 + 567*75 + 8900*1.5) / 1e6 = 0.074385 */
	T_OK(p && fabs(config_cost(p, &u2) - 0.074385) < 1e-12, "cost: opus 4.1 = 0.074385");
	T_OK(config_cost(NULL, &u) == 0, "cost: no price is 0");
	config_free(&cfg);
	T_OK(cfg.agents == NULL && cfg.nagents == 0, "config_free empties");
	free(dir);
}

struct bad {
	const char *name, *file, *text, *err; /* err after "DIR/FILE: " */
};

static const struct bad bads[] = {
    {"retry not object", "system_config.json", "{\"performance\":{\"retry\":5}}",
     "performance.retry: expected object"},
    {"idle timeout zero", "system_config.json", "{\"api\":{\"idle_timeout_s\":0}}",
     "api.idle_timeout_s: expected integer >= 1"},
    {"top level array", "system_config.json", "[1]", "(top level): expected object"},
    {"agent not object", "agent_config.json", "{\"agents\":[1]}", "agents[0]: expected object"},
    {"models not array", "models.json", "{\"models\":{}}", "models: expected array"},
    {"model missing id", "models.json", "{\"models\":[{\"input\":1}]}",
     "models[0]: missing \"id\""},
    {"max_turns string", "system_config.json", "{\"workflow_limits\":{\"max_turns\":\"50\"}}",
     "workflow_limits.max_turns: expected integer"},
    {"max_turns fraction", "system_config.json", "{\"workflow_limits\":{\"max_turns\":1.5}}",
     "workflow_limits.max_turns: expected integer"},
    {"max_turns zero", "system_config.json", "{\"workflow_limits\":{\"max_turns\":0}}",
     "workflow_limits.max_turns: expected integer >= 1"},
    {"jitter range", "system_config.json", "{\"performance\":{\"retry\":{\"jitter\":2}}}",
     "performance.retry.jitter: expected number from 0 to 1"},
    {"base_delay type", "system_config.json",
     "{\"performance\":{\"retry\":{\"base_delay\":\"1\"}}}",
     "performance.retry.base_delay: expected number"},
    {"caching type", "system_config.json", "{\"performance\":{\"enable_caching\":1}}",
     "performance.enable_caching: expected boolean"},
    {"logging not object", "system_config.json", "{\"logging\":\"INFO\"}",
     "logging: expected object"},
    {"log level value", "system_config.json", "{\"logging\":{\"level\":\"LOUD\"}}",
     "logging.level: expected \"DEBUG\", \"INFO\", \"WARN\", \"WARNING\" or \"ERROR\""},
    {"sandbox value", "system_config.json", "{\"sandbox\":\"off\"}",
     "sandbox: expected \"best-effort\" or \"required\""},
    {"test_command type", "system_config.json", "{\"test_command\":[\"make\"]}",
     "test_command: expected string or null"},
    {"agents tools type", "agent_config.json",
     "{\"agents\":[{\"name\":\"planner\"},{\"name\":\"coder\"},{\"name\":\"x\",\"command\":\"c\","
     "\"tools\":\"read\"}]}",
     "agents[2].tools: expected array"},
    {"agents tool element", "agent_config.json",
     "{\"agents\":[{\"name\":\"coder\",\"tools\":[\"read\",7]}]}",
     "agents[0].tools[1]: expected string"},
    {"agent timeout type", "agent_config.json",
     "{\"agents\":[{\"name\":\"coder\",\"timeout_s\":true}]}",
     "agents[0].timeout_s: expected integer"},
    {"agent missing name", "agent_config.json", "{\"agents\":[{\"role\":\"coder\"}]}",
     "agents[0]: missing \"name\""},
    {"agent duplicate", "agent_config.json",
     "{\"agents\":[{\"name\":\"coder\"},{\"name\":\"coder\"}]}",
     "agents[1].name: duplicate agent 'coder'"},
    {"custom agent no command", "agent_config.json", "{\"agents\":[{\"name\":\"lint\"}]}",
     "agents[0].command: missing (required for role 'lint')"},
    {"agent provider", "agent_config.json",
     "{\"agents\":[{\"name\":\"coder\",\"provider\":\"x\"}]}",
     "agents[0].provider: expected \"anthropic\", \"openai\" or \"claude-code\""},
    {"agents not array", "agent_config.json", "{\"agents\":{}}", "agents: expected array"},
    {"models price type", "models.json", "{\"models\":[{\"id\":\"m\",\"input\":\"3\"}]}",
     "models[0].input: expected number"},
    {"models negative", "models.json", "{\"models\":[{\"id\":\"m\",\"output\":-1}]}",
     "models[0].output: expected number >= 0"},
};

static void test_bad(void)
{
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		char *dir = xasprintf("%s/bad%zu", tmp, i);
		mkdirs(dir);
		char *f = path_in(dir, bads[i].file);
		put(f, bads[i].text);
		struct bl_config cfg;
		char err[300] = "";
		int rc = config_load(&cfg, dir, tmp, err, sizeof err);
		char *want = xasprintf("%s: %s", f, bads[i].err);
		T_INTEQ(rc, -1, "bad %s: fails", bads[i].name);
		T_STREQ(err, want, "bad %s: message", bads[i].name);
		T_OK(cfg.agents == NULL && cfg.warnings == NULL, "bad %s: cfg left empty",
		     bads[i].name);
		config_free(&cfg);
		free(want);
		free(f);
		free(dir);
	}

	/* a JSON syntax error names file, line and column */
	char *dir = xasprintf("%s/syntax", tmp);
	mkdirs(dir);
	char *f = path_in(dir, "system_config.json");
	put(f, "{\n  \"sandbox\": \"required\",\n}\n");
	struct bl_config cfg;
	char err[300] = "";
	config_load(&cfg, dir, tmp, err, sizeof err);
	char *want = xasprintf("%s:3:1: ", f);
	T_OK(strncmp(err, want, strlen(want)) == 0, "syntax error: '%.200s' starts '%.200s'", err,
	     want);
	free(want);
	free(f);
	free(dir);
}

static void test_warnings_and_env(void)
{
	char *dir = xasprintf("%s/warn", tmp);
	mkdirs(dir);
	char *f = path_in(dir, "system_config.json");
	put(f, "{\"performance\":{\"foo\":1,\"retry\":{\"bar\":2}},\"zap\":true,"
	       "\"logging\":{\"level\":\"debug\",\"format\":\"console\",\"dir\":\"/tmp/x\"}}");
	char *fa = path_in(dir, "agent_config.json");
	put(fa, "{\"agents\":[{\"name\":\"coder\",\"colour\":\"red\",\"tools\":[\"read\","
	        "\"teleport\"]},"
	        "{\"name\":\"my-lint\",\"command\":\"./lint.sh\"}]}");
	struct bl_config cfg;
	char err[300] = "";
	int rc = config_load(&cfg, dir, tmp, err, sizeof err);
	T_INTEQ(rc, 0, "unknown keys only warn (%s)", err);
	T_INTEQ(cfg.nwarnings, 5, "five warnings");
	int seen[5] = {0};
	const char *want[5] = {"system_config.json: unknown key 'performance.foo'",
	                       "system_config.json: unknown key 'performance.retry.bar'",
	                       "system_config.json: unknown key 'zap'",
	                       "agent_config.json: unknown key 'agents[0].colour'",
	                       "agent_config.json: agents[0].tools[1]: unknown tool 'teleport'"};
	for (size_t i = 0; i < cfg.nwarnings; i++)
		for (int k = 0; k < 5; k++) {
			char *full = xasprintf("%s/%s", dir, want[k]);
			if (!strcmp(cfg.warnings[i], full))
				seen[k] = 1;
			free(full);
		}
	for (int k = 0; k < 5; k++)
		T_OK(seen[k], "warning: %s", want[k]);
	T_STREQ(cfg.log_level, "DEBUG", "logging.level normalised to upper case");
	T_STREQ(cfg.log_format, "console", "logging.format from file");
	T_STREQ(cfg.log_dir, "/tmp/x", "logging.dir from file");
	const struct agent_cfg *a = config_agent(&cfg, "coder");
	T_OK(a && a->ntools == 2 && a->timeout_s == 600 && a->max_turns == 30 &&
	         a->max_tokens == 8192,
	     "coder: defaults for absent keys");
	T_STREQ(a ? a->command : NULL, "bl-code", "coder: default command from role");
	a = config_agent(&cfg, "my-lint");
	T_OK(a && !strcmp(a->role, "my-lint") && a->ntools == 0 && a->system_prompt_file == NULL &&
	         a->timeout_s == 600,
	     "custom agent: role defaults to name, no tools");
	T_OK(cfg.models_path && strstr(cfg.models_path, "/config/models.json") && cfg.nmodels > 0,
	     "models.json not in the --config dir: found further down the path");
	config_free(&cfg);

	setenv("WORKER_TIMEOUT_CODER", "42", 1);
	setenv("WORKER_TIMEOUT_MY_LINT", "7", 1);
	setenv("BL_MODEL", "claude-haiku-4-5", 1);
	setenv("LOG_LEVEL", "warning", 1);
	setenv("LOG_FORMAT", "json", 1);
	setenv("LOG_DIR", "/tmp/logs-env", 1);
	rc = config_load(&cfg, dir, tmp, err, sizeof err);
	T_INTEQ(rc, 0, "env overrides load");
	a = config_agent(&cfg, "coder");
	T_INTEQ(a ? a->timeout_s : -1, 42, "WORKER_TIMEOUT_CODER wins");
	a = config_agent(&cfg, "my-lint");
	T_INTEQ(a ? a->timeout_s : -1, 7, "WORKER_TIMEOUT_MY_LINT for a dashed name");
	int all = cfg.nagents == 2;
	for (size_t i = 0; i < cfg.nagents; i++)
		all = all && !strcmp(cfg.agents[i].model, "claude-haiku-4-5");
	T_OK(all, "BL_MODEL sets every agent's model");
	T_STREQ(cfg.log_level, "WARN", "LOG_LEVEL wins (WARNING -> WARN)");
	T_STREQ(cfg.log_format, "json", "LOG_FORMAT wins");
	T_STREQ(cfg.log_dir, "/tmp/logs-env", "LOG_DIR wins");
	config_free(&cfg);

	setenv("WORKER_TIMEOUT_CODER", "soon", 1);
	rc = config_load(&cfg, dir, tmp, err, sizeof err);
	T_STREQ(rc < 0 ? err : NULL, "WORKER_TIMEOUT_CODER: expected integer >= 1, not 'soon'",
	        "bad WORKER_TIMEOUT_CODER fails");
	clean_env();
	setenv("LOG_FORMAT", "xml", 1);
	rc = config_load(&cfg, dir, tmp, err, sizeof err);
	T_STREQ(rc < 0 ? err : NULL, "LOG_FORMAT: expected json or console, not 'xml'",
	        "bad LOG_FORMAT fails");
	clean_env();

	/* log dir default is $BL_HOME/logs */
	unlink(f);
	setenv("BL_HOME", "/tmp/blhome/", 1);
	rc = config_load(&cfg, dir, tmp, err, sizeof err);
	T_STREQ(rc == 0 ? cfg.log_dir : err, "/tmp/blhome/logs",
	        "log dir defaults to $BL_HOME/logs");
	config_free(&cfg);
	clean_env();
	free(fa);
	free(f);
	free(dir);
}

static void test_search(void)
{
	/* three places, each with its own system_config.json and prompt */
	char *ws = xasprintf("%s/ws", tmp), *dot = xasprintf("%s/ws/.better-llm", tmp);
	char *xdg = xasprintf("%s/xdg", tmp), *xdgbl = xasprintf("%s/xdg/better-llm", tmp);
	char *cd = xasprintf("%s/cfgdir", tmp);
	const char *dirs[3] = {cd, dot, xdgbl};
	for (int i = 0; i < 3; i++) {
		char *pd = xasprintf("%s/prompts", dirs[i]);
		mkdirs(pd);
		char *f = path_in(dirs[i], "system_config.json");
		char *text = xasprintf("{\"max_context_messages\": %d}", 10 + i);
		put(f, text);
		free(text);
		free(f);
		f = path_in(pd, "planner.txt");
		put(f, "p");
		free(f);
		free(pd);
	}
	setenv("XDG_CONFIG_HOME", xdg, 1);
	struct bl_config cfg;
	char err[300] = "";
	int rc = config_load(&cfg, cd, ws, err, sizeof err);
	T_OK(rc == 0 && cfg.max_context_messages == 10, "--config dir beats .better-llm and XDG");
	char *found = config_find(&cfg, ws, "prompts/planner.txt");
	char *want = realpath(cd, NULL);
	char *wantf = xasprintf("%s/prompts/planner.txt", want);
	T_STREQ(found, wantf, "config_find: --config dir first");
	free(found);
	free(wantf);
	free(want);
	T_OK(cfg.agent_path && strstr(cfg.agent_path, "/config/agent_config.json"),
	     "agent_config.json still found further down (%s)", cfg.agent_path);
	config_free(&cfg);

	rc = config_load(&cfg, NULL, ws, err, sizeof err);
	T_OK(rc == 0 && cfg.max_context_messages == 11, ".better-llm beats XDG");
	found = config_find(&cfg, ws, "prompts/planner.txt");
	T_OK(found && strstr(found, "/ws/.better-llm/prompts/planner.txt"),
	     "config_find: .better-llm");
	free(found);
	config_free(&cfg);

	char *f = path_in(dot, "system_config.json");
	unlink(f);
	free(f);
	rc = config_load(&cfg, NULL, ws, err, sizeof err);
	T_OK(rc == 0 && cfg.max_context_messages == 12, "XDG used when nothing closer");
	config_free(&cfg);

	/* --config naming one file: that file, and its directory for the others */
	f = xasprintf("%s/mine.json", cd);
	put(f, "{\"agents\":[{\"name\":\"solo\",\"command\":\"true\"}]}");
	rc = config_load(&cfg, f, ws, err, sizeof err);
	T_OK(rc == 0 && cfg.nagents == 1 && config_agent(&cfg, "solo") &&
	         cfg.max_context_messages == 10,
	     "--config FILE: read by content, its directory searched for the rest (%s)", err);
	config_free(&cfg);
	free(f);

	rc = config_load(&cfg, "/nonexistent/cfg", ws, err, sizeof err);
	T_STREQ(rc < 0 ? err : NULL, "/nonexistent/cfg: No such file or directory",
	        "--config missing: error");

	/* source tree fallback for data files */
	rc = config_load(&cfg, NULL, ws, err, sizeof err);
	found = config_find(&cfg, ws, "config/models.json");
	want = xasprintf("%s/config/models.json", srcdir());
	char *wantr = realpath(want, NULL);
	T_STREQ(found, wantr, "config_find: falls back to the source tree");
	free(found);
	free(want);
	free(wantr);
	T_OK(config_find(&cfg, ws, "prompts/nope.txt") == NULL, "config_find: missing file NULL");
	config_free(&cfg);
	unsetenv("XDG_CONFIG_HOME");
	free(ws);
	free(dot);
	free(xdg);
	free(xdgbl);
	free(cd);
}

static void test_dotenv(void)
{
	char *f = path_in(tmp, ".env");
	put(f, "# comment\n"
	       "\n"
	       "BLT_PLAIN=value1\n"
	       "export BLT_EXPORTED=two\n"
	       "BLT_DQ=\"a b # not a comment\\n\\\"x\\\"\"\n"
	       "BLT_SQ='raw $HOME \\n'\n"
	       "  BLT_SPACED = spaced value   # trailing comment\n"
	       "BLT_EMPTY=\n"
	       "BLT_HASH=abc#def\n"
	       "BLT_EXISTING=from-file\r\n");
	setenv("BLT_EXISTING", "from-env", 1);
	char err[256] = "";
	int n = dotenv_load(f, err, sizeof err);
	T_INTEQ(n, 7, ".env: seven variables set (%s)", err);
	T_STREQ(getenv("BLT_PLAIN"), "value1", ".env: plain");
	T_STREQ(getenv("BLT_EXPORTED"), "two", ".env: export prefix");
	T_STREQ(getenv("BLT_DQ"), "a b # not a comment\n\"x\"", ".env: double quotes and escapes");
	T_STREQ(getenv("BLT_SQ"), "raw $HOME \\n", ".env: single quotes literal");
	T_STREQ(getenv("BLT_SPACED"), "spaced value", ".env: spaces and inline comment trimmed");
	T_STREQ(getenv("BLT_EMPTY"), "", ".env: empty value");
	T_STREQ(getenv("BLT_HASH"), "abc#def", ".env: '#' inside a word kept");
	T_STREQ(getenv("BLT_EXISTING"), "from-env", ".env: existing environment not overridden");
	n = dotenv_load(f, err, sizeof err);
	T_INTEQ(n, 0, ".env: second load sets nothing");

	put(f, "BLT_OK=1\nnot a line\n");
	unsetenv("BLT_OK");
	n = dotenv_load(f, err, sizeof err);
	char *want = xasprintf("%s:2: expected KEY=VALUE", f);
	T_INTEQ(n, -1, ".env: bad line fails");
	T_STREQ(err, want, ".env: bad line message");
	T_OK(getenv("BLT_OK") == NULL, ".env: nothing set from a bad file");
	free(want);
	put(f, "BLT_Q=\"open\n");
	n = dotenv_load(f, err, sizeof err);
	want = xasprintf("%s:1: unterminated quote", f);
	T_STREQ(n < 0 ? err : NULL, want, ".env: unterminated quote");
	free(want);
	T_INTEQ(dotenv_load("/nonexistent/.env", err, sizeof err), 0,
	        ".env: missing file is 0");
	free(f);

	setenv("BL_HOME", "/x/home", 1);
	char *h = config_bl_home();
	T_STREQ(h, "/x/home", "config_bl_home: $BL_HOME");
	free(h);
	unsetenv("BL_HOME");
	setenv("XDG_STATE_HOME", "/x/state", 1);
	h = config_bl_home();
	T_STREQ(h, "/x/state/better-llm", "config_bl_home: XDG_STATE_HOME");
	free(h);
	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/x/h", 1);
	h = config_bl_home();
	T_STREQ(h, "/x/h/.local/state/better-llm", "config_bl_home: ~/.local/state");
	free(h);
}

int main(void)
{
	snprintf(tmp, sizeof tmp, "/tmp/bl-test-config-XXXXXX");
	if (!mkdtemp(tmp)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	clean_env();
	char *xdg = xasprintf("%s/no-xdg", tmp);
	setenv("XDG_CONFIG_HOME", xdg, 1);
	free(xdg);
	test_repo_files();
	test_bad();
	test_warnings_and_env();
	test_search();
	test_dotenv();
	char *cmd = xasprintf("rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmp);
	free(cmd);
	return t_done();
}
