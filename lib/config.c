/*
 * config — loads agent_config.json, system_config.json and models.json
 * (DESIGN §7), applies the environment overrides, finds data files along
 * the same search path, and reads .env files.
 *
 * Guarantees: after a successful config_load() every field holds a
 * checked value (the file's, else the seed default below, else an
 * environment override), every agent has a name, role, command, provider
 * and model, and cfg->warnings lists each unknown key.  A file that is
 * found nowhere is not an error: built-in defaults stand in for it.  On
 * failure cfg is left empty and err holds "FILE: KEY: expected TYPE".
 *
 * Accepted keys (the tables below are the reference; anything else
 * warns "FILE: unknown key 'a.b'"):
 *
 * agent_config.json
 *   agents[]: name (string, required, unique), role (string; default the
 *     name), command (string; default bl-plan/bl-code/bl-review/bl-test/
 *     bl-commit by role, required for other roles), system_prompt_file
 *     (string; default prompts/<role>.txt for the five roles), tools
 *     (array of strings; default the role's set of DESIGN §4), provider
 *     ("anthropic"|"openai"|"claude-code"; anthropic), model (string;
 *     default models.json "default"), max_turns (integer >= 1; 30),
 *     timeout_s (integer >= 1; planner 300, coder 600, reviewer 300,
 *     tester 600, committer 180, others 600), max_tokens (integer >= 1;
 *     8192), network (boolean; false)
 *
 * system_config.json
 *   workflow_limits: max_review_iterations (integer >= 0; 3),
 *     max_coder_retries (>= 0; 2), max_retry_cycles (>= 0; 3),
 *     max_turns (>= 1; 50)
 *   performance: retry {max_attempts (integer >= 1; 3), base_delay
 *     (number >= 0; 1.0), max_delay (number >= 0; 60), jitter (number
 *     0..1; 0.1)}, also the seed's flat worker_retry_max_attempts,
 *     worker_retry_base_delay, worker_retry_max_delay, worker_retry_jitter;
 *     enable_caching (boolean; true), cache_ttl_seconds (integer >= 0;
 *     3600), cache_max_size (integer >= 0; 1000), enable_compression
 *     (boolean; true), enable_metrics (boolean; true)
 *   logging: level ("DEBUG"|"INFO"|"WARN"|"WARNING"|"ERROR", any case;
 *     INFO), format ("json"|"console"; json), dir (string or null;
 *     $BL_HOME/logs)
 *   sandbox ("required"|"best-effort"; required)
 *   test_command (string or null; null = detect)
 *   max_context_messages (integer >= 1; 50)
 *   api: connect_timeout_s (integer >= 1; 10), idle_timeout_s
 *     (integer >= 1; 120)
 *
 * models.json
 *   default (string; claude-sonnet-4-5)
 *   models[]: id (string, required), input, output, cache_write,
 *     cache_read (numbers >= 0, USD per million tokens; default 0)
 *
 * Environment: WORKER_TIMEOUT_<NAME> (agent name upper-cased, other
 * characters as '_'; integer >= 1) beats timeout_s; BL_MODEL sets every
 * agent's model; LOG_LEVEL, LOG_FORMAT, LOG_DIR beat logging.*.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"

static const char *const file_names[3] = {"agent_config.json", "system_config.json", "models.json"};

/* The state of one file being checked. */
struct cctx {
	const char *file;
	const struct json *j;
	struct bl_config *cfg;
	char *err;
	size_t errlen;
};

static int cfail(const struct cctx *x, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cfail(const struct cctx *x, const char *key, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(x->err, x->errlen, "%s: %s: %s", x->file, key, what);
	return -1;
}

static void warn(struct bl_config *cfg, char *msg)
{
	cfg->warnings = xrealloc(cfg->warnings, (cfg->nwarnings + 1) * sizeof *cfg->warnings);
	cfg->warnings[cfg->nwarnings++] = msg;
}

/* ---- the key tables and the walker ---- */

enum ktype {
	K_INT,      /* int, [min, max] */
	K_LONG,     /* long, [min, max] */
	K_NUM,      /* double, [min, max] */
	K_BOOL,     /* int 0/1 */
	K_STR,      /* char *, one of choices when set */
	K_STR_NULL, /* char * or NULL */
	K_ENUM,     /* int: index of the value in choices */
	K_LIST,     /* char ** at off, size_t count at off2; unknown choices warn */
	K_SKIP,     /* known; checked by the caller */
};

struct key {
	const char *path; /* dotted, relative to the object walked */
	enum ktype type;
	size_t off, off2;
	double min, max;
	const char *choices; /* "a|b|c", compared without case */
};

#define TOOLS "read|write|edit|glob|grep|bash|verdict"
#define S(f) offsetof(struct bl_config, f)
static const struct key system_keys[] = {
    {"workflow_limits.max_review_iterations", K_INT, S(max_review_iterations), 0, 0, INT_MAX, 0},
    {"workflow_limits.max_coder_retries", K_INT, S(max_coder_retries), 0, 0, INT_MAX, 0},
    {"workflow_limits.max_retry_cycles", K_INT, S(max_retry_cycles), 0, 0, INT_MAX, 0},
    {"workflow_limits.max_turns", K_INT, S(max_turns), 0, 1, INT_MAX, 0},
    {"performance.retry.max_attempts", K_INT, S(retry.max_attempts), 0, 1, INT_MAX, 0},
    {"performance.retry.base_delay", K_NUM, S(retry.base_delay_s), 0, 0, HUGE_VAL, 0},
    {"performance.retry.max_delay", K_NUM, S(retry.max_delay_s), 0, 0, HUGE_VAL, 0},
    {"performance.retry.jitter", K_NUM, S(retry.jitter), 0, 0, 1, 0},
    {"performance.worker_retry_max_attempts", K_INT, S(retry.max_attempts), 0, 1, INT_MAX, 0},
    {"performance.worker_retry_base_delay", K_NUM, S(retry.base_delay_s), 0, 0, HUGE_VAL, 0},
    {"performance.worker_retry_max_delay", K_NUM, S(retry.max_delay_s), 0, 0, HUGE_VAL, 0},
    {"performance.worker_retry_jitter", K_NUM, S(retry.jitter), 0, 0, 1, 0},
    {"performance.enable_caching", K_BOOL, S(enable_caching), 0, 0, 0, 0},
    {"performance.cache_ttl_seconds", K_INT, S(cache_ttl_seconds), 0, 0, INT_MAX, 0},
    {"performance.cache_max_size", K_INT, S(cache_max_size), 0, 0, INT_MAX, 0},
    {"performance.enable_compression", K_BOOL, S(compression), 0, 0, 0, 0},
    {"performance.enable_metrics", K_BOOL, S(metrics), 0, 0, 0, 0},
    {"logging.level", K_STR, S(log_level), 0, 0, 0, "DEBUG|INFO|WARN|WARNING|ERROR"},
    {"logging.format", K_STR, S(log_format), 0, 0, 0, "json|console"},
    {"logging.dir", K_STR_NULL, S(log_dir), 0, 0, 0, 0},
    {"sandbox", K_ENUM, S(sandbox_required), 0, 0, 0, "best-effort|required"},
    {"test_command", K_STR_NULL, S(test_command), 0, 0, 0, 0},
    {"max_context_messages", K_INT, S(max_context_messages), 0, 1, INT_MAX, 0},
    {"api.connect_timeout_s", K_LONG, S(connect_timeout_s), 0, 1, LONG_MAX, 0},
    {"api.idle_timeout_s", K_LONG, S(idle_timeout_s), 0, 1, LONG_MAX, 0},
    {0},
};
#undef S
#define A(f) offsetof(struct agent_cfg, f)
static const struct key agent_keys[] = {
    {"name", K_STR, A(name), 0, 0, 0, 0},
    {"role", K_STR, A(role), 0, 0, 0, 0},
    {"command", K_STR, A(command), 0, 0, 0, 0},
    {"system_prompt_file", K_STR, A(system_prompt_file), 0, 0, 0, 0},
    {"tools", K_LIST, A(tools), A(ntools), 0, 0, TOOLS},
    {"provider", K_STR, A(provider), 0, 0, 0, "anthropic|openai|claude-code"},
    {"model", K_STR, A(model), 0, 0, 0, 0},
    {"max_turns", K_INT, A(max_turns), 0, 1, INT_MAX, 0},
    {"timeout_s", K_INT, A(timeout_s), 0, 1, INT_MAX, 0},
    {"max_tokens", K_INT, A(max_tokens), 0, 1, INT_MAX, 0},
    {"network", K_BOOL, A(network), 0, 0, 0, 0},
    {0},
};
#undef A
#define M(f) offsetof(struct model_price, f)
static const struct key model_keys[] = {
    {"id", K_STR, M(id), 0, 0, 0, 0},
    {"input", K_NUM, M(input), 0, 0, HUGE_VAL, 0},
    {"output", K_NUM, M(output), 0, 0, HUGE_VAL, 0},
    {"cache_write", K_NUM, M(cache_write), 0, 0, HUGE_VAL, 0},
    {"cache_read", K_NUM, M(cache_read), 0, 0, HUGE_VAL, 0},
    {0},
};
#undef M
static const struct key agents_root_keys[] = {{"agents", K_SKIP, 0, 0, 0, 0, 0}, {0}};
static const struct key models_root_keys[] = {
    {"default", K_STR, offsetof(struct bl_config, default_model), 0, 0, 0, 0},
    {"models", K_SKIP, 0, 0, 0, 0, 0},
    {0},
};

/* Index of s in "a|b|c" (case-insensitive), or -1. */
static int choice(const char *choices, const char *s)
{
	size_t n = strlen(s);
	for (int i = 0; *choices; i++) {
		const char *bar = strchr(choices, '|');
		size_t len = bar ? (size_t)(bar - choices) : strlen(choices);
		if (len == n && !strncasecmp(choices, s, n))
			return i;
		choices += len + (bar ? 1 : 0);
	}
	return -1;
}

/* "expected \"a\", \"b\" or \"c\"" for choices "a|b|c". */
static int fail_choice(const struct cctx *x, const char *path, const char *choices)
{
	struct buf b = BUF_INIT;
	buf_adds(&b, "expected \"");
	for (const char *p = choices; *p; p++) {
		if (*p != '|') {
			buf_addc(&b, *p);
			continue;
		}
		buf_adds(&b, strchr(p + 1, '|') ? "\", \"" : "\" or \"");
	}
	buf_addc(&b, '"');
	cfail(x, path, "%s", b.p);
	buf_free(&b);
	return -1;
}

static int fail_range(const struct cctx *x, const char *path, const char *type, const struct key *k)
{
	if (k->max >= (double)INT_MAX)
		return cfail(x, path, "expected %s >= %g", type, k->min);
	return cfail(x, path, "expected %s from %g to %g", type, k->min, k->max);
}

/* Checks value token v against k and stores it into base. */
static int assign(const struct cctx *x, int v, const struct key *k, const char *path, char *base)
{
	const struct json *j = x->j;
	void *dst = base + k->off;
	long long n;
	double d;
	switch (k->type) {
	case K_INT:
	case K_LONG:
		if (json_int(j, v, &n) < 0)
			return cfail(x, path, "expected integer");
		if ((double)n < k->min || (double)n > k->max)
			return fail_range(x, path, "integer", k);
		if (k->type == K_INT)
			*(int *)dst = (int)n;
		else
			*(long *)dst = (long)n;
		return 0;
	case K_NUM:
		if (json_num(j, v, &d) < 0 || !isfinite(d))
			return cfail(x, path, "expected number");
		if (d < k->min || d > k->max)
			return fail_range(x, path, "number", k);
		*(double *)dst = d;
		return 0;
	case K_BOOL:
		return json_bool(j, v, (int *)dst) < 0 ? cfail(x, path, "expected boolean") : 0;
	case K_STR_NULL:
		if (json_type(j, v) == JSON_NULL) {
			free(*(char **)dst);
			*(char **)dst = NULL;
			return 0;
		}
		if (json_type(j, v) != JSON_STRING)
			return cfail(x, path, "expected string or null");
		break;
	case K_STR:
	case K_ENUM:
		if (json_type(j, v) != JSON_STRING)
			return cfail(x, path, "expected string");
		break;
	case K_LIST: {
		if (json_type(j, v) != JSON_ARRAY)
			return cfail(x, path, "expected array");
		char ***list = dst;
		size_t *cnt = (size_t *)(base + k->off2);
		for (size_t i = 0; i < *cnt; i++)
			free((*list)[i]);
		free(*list);
		*list = xcalloc((size_t)json_len(j, v) + 1, sizeof **list);
		*cnt = 0;
		int i, e;
		JSON_ARRAY_EACH(j, v, i, e)
		{
			char ep[160];
			snprintf(ep, sizeof ep, "%s[%d]", path, i);
			if (json_type(j, e) != JSON_STRING)
				return cfail(x, ep, "expected string");
			char *s = json_str(j, e, NULL);
			if (k->choices && choice(k->choices, s) < 0)
				warn(x->cfg,
				     xasprintf("%s: %s: unknown tool '%s'", x->file, ep, s));
			(*list)[(*cnt)++] = s;
		}
		return 0;
	}
	case K_SKIP:
		return 0;
	}
	char *s = json_str(j, v, NULL);
	int c = k->choices ? choice(k->choices, s) : 0;
	if (c < 0) {
		free(s);
		return fail_choice(x, path, k->choices);
	}
	if (k->type == K_ENUM) {
		*(int *)dst = c;
		free(s);
	} else {
		free(*(char **)dst);
		*(char **)dst = s;
	}
	return 0;
}

/*
 * Checks object obj against keys and stores what it finds into base.
 * rel is obj's dotted path inside the table ("" at the top), shown is
 * its path in messages ("agents[2]").  A member that is a leaf of the
 * table is assigned; one that prefixes table paths must be an object and
 * is walked; anything else warns.
 */
static int walk(const struct cctx *x, int obj, const char *rel, const char *shown,
                const struct key *keys, void *base)
{
	int i, k;
	if (json_type(x->j, obj) != JSON_OBJECT)
		return cfail(x, *shown ? shown : "(top level)", "expected object");
	JSON_OBJECT_EACH(x->j, obj, i, k)
	{
		char *name = json_str(x->j, k, NULL);
		char *r = *rel ? xasprintf("%s.%s", rel, name) : xstrdup(name);
		char *p = *shown ? xasprintf("%s.%s", shown, name) : xstrdup(name);
		size_t rl = strlen(r);
		const struct key *leaf = NULL;
		int section = 0, rc = 0;
		for (const struct key *kk = keys; kk->path && !leaf; kk++) {
			if (!strcmp(kk->path, r))
				leaf = kk;
			else if (!strncmp(kk->path, r, rl) && kk->path[rl] == '.')
				section = 1;
		}
		if (leaf)
			rc = assign(x, k + 1, leaf, p, base);
		else if (section)
			rc = walk(x, k + 1, r, p, keys, base);
		else
			warn(x->cfg, xasprintf("%s: unknown key '%s'", x->file, p));
		free(name);
		free(r);
		free(p);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* The array at key of the root object: its token, -1 absent, -2 error. */
static int root_array(const struct cctx *x, const char *key)
{
	int arr = json_get(x->j, 0, key);
	if (arr >= 0 && json_type(x->j, arr) != JSON_ARRAY)
		return cfail(x, key, "expected array"), -2;
	return arr;
}

/* ---- agents ---- */

static const struct {
	const char *role, *command, *tools;
	int timeout_s;
} role_defaults[] = {
    {"planner", "bl-plan", "read glob grep", 300},
    {"coder", "bl-code", "read write edit glob grep bash", 600},
    {"reviewer", "bl-review", "read glob grep bash verdict", 300},
    {"tester", "bl-test", "read glob grep bash verdict", 600},
    {"committer", "bl-commit", "", 180},
};
#define NROLES (sizeof role_defaults / sizeof role_defaults[0])

static void agent_free(struct agent_cfg *a)
{
	free(a->name);
	free(a->role);
	free(a->command);
	free(a->system_prompt_file);
	for (size_t i = 0; i < a->ntools; i++)
		free(a->tools[i]);
	free(a->tools);
	free(a->provider);
	free(a->model);
	memset(a, 0, sizeof *a);
}

static struct agent_cfg *agent_add(struct bl_config *cfg)
{
	cfg->agents = xrealloc(cfg->agents, (cfg->nagents + 1) * sizeof *cfg->agents);
	struct agent_cfg *a = &cfg->agents[cfg->nagents++];
	memset(a, 0, sizeof *a);
	a->max_turns = 30;
	a->max_tokens = 8192;
	return a;
}

/* Fills what the file left out from the role's defaults. */
static void agent_defaults(struct agent_cfg *a)
{
	if (!a->role)
		a->role = xstrdup(a->name);
	int r = -1;
	for (size_t i = 0; i < NROLES; i++)
		if (!strcmp(a->role, role_defaults[i].role))
			r = (int)i;
	if (!a->command && r >= 0)
		a->command = xstrdup(role_defaults[r].command);
	if (!a->system_prompt_file && r >= 0)
		a->system_prompt_file = xasprintf("prompts/%s.txt", a->role);
	if (!a->tools && r >= 0) {
		char *s = xstrdup(role_defaults[r].tools), *save = NULL;
		a->tools = xcalloc(8, sizeof *a->tools);
		for (char *t = strtok_r(s, " ", &save); t; t = strtok_r(NULL, " ", &save))
			a->tools[a->ntools++] = xstrdup(t);
		free(s);
	}
	if (!a->provider)
		a->provider = xstrdup("anthropic");
	if (a->timeout_s == 0)
		a->timeout_s = r >= 0 ? role_defaults[r].timeout_s : 600;
}

static int parse_agents(const struct cctx *x)
{
	int arr, i, e;
	if (walk(x, 0, "", "", agents_root_keys, x->cfg) < 0 ||
	    (arr = root_array(x, "agents")) == -2)
		return -1;
	if (arr < 0)
		return cfail(x, "agents", "missing");
	JSON_ARRAY_EACH(x->j, arr, i, e)
	{
		char pre[64];
		snprintf(pre, sizeof pre, "agents[%d]", i);
		struct agent_cfg *a = agent_add(x->cfg);
		if (walk(x, e, "", pre, agent_keys, a) < 0)
			return -1;
		char key[96];
		snprintf(key, sizeof key, "%s.name", pre);
		if (!a->name)
			return cfail(x, pre, "missing \"name\"");
		if (!*a->name)
			return cfail(x, key, "expected non-empty string");
		for (size_t k = 0; k + 1 < x->cfg->nagents; k++)
			if (!strcmp(x->cfg->agents[k].name, a->name))
				return cfail(x, key, "duplicate agent '%s'", a->name);
		agent_defaults(a);
		snprintf(key, sizeof key, "%s.command", pre);
		if (!a->command)
			return cfail(x, key, "missing (required for role '%s')", a->role);
	}
	return 0;
}

/* ---- system, models ---- */

static int parse_system(const struct cctx *x)
{
	return walk(x, 0, "", "", system_keys, x->cfg);
}

static int parse_models(const struct cctx *x)
{
	struct bl_config *c = x->cfg;
	int arr, i, e;
	if (walk(x, 0, "", "", models_root_keys, c) < 0 || (arr = root_array(x, "models")) == -2)
		return -1;
	JSON_ARRAY_EACH(x->j, arr, i, e)
	{
		char pre[64];
		snprintf(pre, sizeof pre, "models[%d]", i);
		c->models = xrealloc(c->models, (c->nmodels + 1) * sizeof *c->models);
		struct model_price *p = &c->models[c->nmodels++];
		memset(p, 0, sizeof *p);
		if (walk(x, e, "", pre, model_keys, p) < 0)
			return -1;
		if (!p->id)
			return cfail(x, pre, "missing \"id\"");
	}
	return 0;
}

/* ---- search path ---- */

static const char *src_dir(void)
{
	const char *s = getenv("BL_SRCDIR");
	if (s && *s)
		return s;
#ifdef BL_SRCDIR
	return BL_SRCDIR;
#else
	return NULL;
#endif
}

static char *home_dir(void)
{
	const char *h = getenv("HOME");
	if (h && *h)
		return xstrdup(h);
	struct passwd *pw = getpwuid(getuid());
	return xstrdup(pw && pw->pw_dir ? pw->pw_dir : "/");
}

/* Malloc'd: dir without trailing slashes. */
static char *trim_dir(const char *d)
{
	size_t n = strlen(d);
	while (n > 1 && d[n - 1] == '/')
		n--;
	return xstrndup(d, n);
}

/*
 * The search directories, in order, each with the subdirectory in which
 * it keeps config files ("" for user directories, "config/" for the
 * installed data and the source tree).  Returns the count.
 */
struct sdir {
	char *dir;
	const char *cfgsub;
};

static int search_dirs(const struct bl_config *cfg, const char *workspace, struct sdir out[5])
{
	int n = 0;
	if (cfg && cfg->dir)
		out[n++] = (struct sdir){xstrdup(cfg->dir), ""};
	out[n++] = (struct sdir){xasprintf("%s/.better-llm", workspace ? workspace : "."), ""};
	const char *xdg = getenv("XDG_CONFIG_HOME");
	if (xdg && *xdg == '/') {
		out[n++] = (struct sdir){xasprintf("%s/better-llm", xdg), ""};
	} else {
		char *h = home_dir();
		out[n++] = (struct sdir){xasprintf("%s/.config/better-llm", h), ""};
		free(h);
	}
#ifdef BL_DATADIR
	out[n++] = (struct sdir){xstrdup(BL_DATADIR), "config/"};
#endif
	if (src_dir())
		out[n++] = (struct sdir){xstrdup(src_dir()), "config/"};
	return n;
}

static int is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Found path (malloc'd) of config file name, or NULL. */
static char *find_config_file(const struct bl_config *cfg, const char *workspace, const char *name)
{
	struct sdir d[5];
	int n = search_dirs(cfg, workspace, d);
	char *found = NULL;
	for (int i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s%s", d[i].dir, d[i].cfgsub, name);
		if (!found && is_file(p))
			found = p;
		else
			free(p);
		free(d[i].dir);
	}
	return found;
}

/* Absolute path of a file found along the search path; caller frees. */
char *config_find(const struct bl_config *cfg, const char *workspace, const char *rel)
{
	if (!rel || !*rel)
		return NULL;
	if (rel[0] == '/')
		return is_file(rel) ? xstrdup(rel) : NULL;
	struct sdir d[5];
	int n = search_dirs(cfg, workspace, d);
	char *found = NULL;
	for (int i = 0; i < n; i++) {
		char *p = xasprintf("%s/%s", d[i].dir, rel);
		if (!found && is_file(p)) {
			char *abs = realpath(p, NULL);
			found = abs ? xstrdup(abs) : xstrdup(p);
			free(abs);
		}
		free(p);
		free(d[i].dir);
	}
	return found;
}

/* Reads and checks one file; kind 0 agents, 1 system, 2 models. */
static int load_file(struct bl_config *cfg, int kind, const char *path, char *err, size_t errlen)
{
	static int (*const parsers[3])(const struct cctx *) = {parse_agents, parse_system,
	                                                       parse_models};
	struct buf b = BUF_INIT;
	if (read_file(path, &b) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		buf_free(&b);
		return -1;
	}
	struct json j;
	struct json_error je;
	memset(&j, 0, sizeof j);
	memset(&je, 0, sizeof je);
	if (json_parse(&j, b.p ? b.p : "", b.len, &je) < 0) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.col, je.msg);
		buf_free(&b);
		return -1;
	}
	struct cctx x = {path, &j, cfg, err, errlen};
	int rc = parsers[kind](&x);
	json_free(&j);
	buf_free(&b);
	return rc;
}

static void set_defaults(struct bl_config *cfg)
{
	cfg->max_review_iterations = 3;
	cfg->max_coder_retries = 2;
	cfg->max_retry_cycles = 3;
	cfg->max_turns = 50;
	cfg->max_context_messages = 50;
	cfg->retry = (struct llm_retry){3, 1.0, 60.0, 0.1};
	cfg->enable_caching = 1;
	cfg->cache_ttl_seconds = 3600;
	cfg->cache_max_size = 1000;
	cfg->compression = 1;
	cfg->metrics = 1;
	cfg->log_level = xstrdup("INFO");
	cfg->log_format = xstrdup("json");
	cfg->sandbox_required = 1;
	cfg->connect_timeout_s = 10;
	cfg->idle_timeout_s = 120;
}

/* Which of the three files a --config file is: by name, else by content. */
static int kind_of(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (int k = 0; k < 3; k++)
		if (!strcmp(base, file_names[k]))
			return k;
	struct buf b = BUF_INIT;
	struct json j;
	int kind = 1;
	memset(&j, 0, sizeof j);
	if (read_file(path, &b) == 0 && json_parse(&j, b.p ? b.p : "", b.len, NULL) == 0) {
		if (json_get(&j, 0, "agents") >= 0)
			kind = 0;
		else if (json_get(&j, 0, "models") >= 0)
			kind = 2;
		json_free(&j);
	}
	buf_free(&b);
	return kind;
}

static int env_overrides(struct bl_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < cfg->nagents; i++) {
		struct agent_cfg *a = &cfg->agents[i];
		char var[128];
		int n = snprintf(var, sizeof var, "WORKER_TIMEOUT_");
		for (const char *p = a->name; *p && n < (int)sizeof var - 1; p++)
			var[n++] =
			    isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_';
		var[n] = '\0';
		const char *v = getenv(var);
		if (v && *v) {
			char *end;
			errno = 0;
			long t = strtol(v, &end, 10);
			if (errno || *end || t < 1 || t > INT_MAX) {
				snprintf(err, errlen, "%s: expected integer >= 1, not '%s'", var,
				         v);
				return -1;
			}
			a->timeout_s = (int)t;
		}
		const char *m = getenv("BL_MODEL");
		if (m && *m) {
			free(a->model);
			a->model = xstrdup(m);
		}
		if (!a->model)
			a->model = xstrdup(cfg->default_model);
	}
	const char *v;
	if ((v = getenv("LOG_LEVEL")) && *v) {
		if (choice("DEBUG|INFO|WARN|WARNING|ERROR", v) < 0) {
			snprintf(err, errlen,
			         "LOG_LEVEL: expected DEBUG, INFO, WARN or ERROR, not '%s'", v);
			return -1;
		}
		free(cfg->log_level);
		cfg->log_level = xstrdup(v);
	}
	if ((v = getenv("LOG_FORMAT")) && *v) {
		if (choice("json|console", v) < 0) {
			snprintf(err, errlen, "LOG_FORMAT: expected json or console, not '%s'", v);
			return -1;
		}
		free(cfg->log_format);
		cfg->log_format = xstrdup(v);
	}
	for (char *p = cfg->log_level; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	if (!strcmp(cfg->log_level, "WARNING"))
		cfg->log_level[4] = '\0';
	for (char *p = cfg->log_format; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if ((v = getenv("LOG_DIR")) && *v) {
		free(cfg->log_dir);
		cfg->log_dir = xstrdup(v);
	}
	if (!cfg->log_dir) {
		char *home = config_bl_home();
		cfg->log_dir = xasprintf("%s/logs", home);
		free(home);
	}
	return 0;
}

/* cfg is overwritten and owns everything after success; on failure it
 * is left empty (config_free is still safe). */
int config_load(struct bl_config *cfg, const char *config_path, const char *workspace, char *err,
                size_t errlen)
{
	char dummy[8];
	if (!err || !errlen)
		err = dummy, errlen = sizeof dummy;
	memset(cfg, 0, sizeof *cfg);
	set_defaults(cfg);
	char *paths[3] = {NULL, NULL, NULL};
	if (config_path && *config_path) {
		struct stat st;
		if (stat(config_path, &st) < 0) {
			snprintf(err, errlen, "%s: %s", config_path, strerror(errno));
			goto fail;
		}
		if (S_ISDIR(st.st_mode)) {
			cfg->dir = trim_dir(config_path);
		} else {
			const char *slash = strrchr(config_path, '/');
			cfg->dir = slash ? xstrndup(config_path, (size_t)(slash - config_path) +
			                                             (slash == config_path))
			                 : xstrdup(".");
			paths[kind_of(config_path)] = xstrdup(config_path);
		}
	}
	for (int k = 0; k < 3; k++)
		if (!paths[k])
			paths[k] = find_config_file(cfg, workspace, file_names[k]);
	for (int k = 0; k < 3; k++)
		if (paths[k] && load_file(cfg, k, paths[k], err, errlen) < 0)
			goto fail;
	if (!cfg->default_model)
		cfg->default_model = xstrdup("claude-sonnet-4-5");
	for (size_t i = 0; !paths[0] && i < NROLES; i++) {
		struct agent_cfg *a = agent_add(cfg);
		a->name = xstrdup(role_defaults[i].role);
		agent_defaults(a);
	}
	cfg->agent_path = paths[0], cfg->system_path = paths[1], cfg->models_path = paths[2];
	paths[0] = paths[1] = paths[2] = NULL;
	if (env_overrides(cfg, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	for (int k = 0; k < 3; k++)
		free(paths[k]);
	config_free(cfg);
	return -1;
}

/* Releases everything cfg owns and leaves it zeroed. */
void config_free(struct bl_config *cfg)
{
	free(cfg->agent_path);
	free(cfg->system_path);
	free(cfg->models_path);
	free(cfg->dir);
	for (size_t i = 0; i < cfg->nagents; i++)
		agent_free(&cfg->agents[i]);
	free(cfg->agents);
	free(cfg->log_level);
	free(cfg->log_format);
	free(cfg->log_dir);
	free(cfg->test_command);
	for (size_t i = 0; i < cfg->nmodels; i++)
		free(cfg->models[i].id);
	free(cfg->models);
	free(cfg->default_model);
	for (size_t i = 0; i < cfg->nwarnings; i++)
		free(cfg->warnings[i]);
	free(cfg->warnings);
	memset(cfg, 0, sizeof *cfg);
}

/* Borrowed from cfg. */
const struct agent_cfg *config_agent(const struct bl_config *cfg, const char *name)
{
	for (size_t i = 0; name && i < cfg->nagents; i++)
		if (!strcmp(cfg->agents[i].name, name))
			return &cfg->agents[i];
	return NULL;
}

/* Borrowed from cfg.  A prefix must end at a word boundary: "claude-opus-4"
 * matches "claude-opus-4-20250514" but not "claude-opus-45". */
const struct model_price *config_price(const struct bl_config *cfg, const char *model)
{
	const struct model_price *best = NULL;
	size_t best_len = 0;
	if (!model)
		return NULL;
	for (size_t i = 0; i < cfg->nmodels; i++) {
		const char *id = cfg->models[i].id;
		size_t n = strlen(id);
		if (!strcmp(id, model))
			return &cfg->models[i];
		if (n > best_len && !strncmp(id, model, n) && !isalnum((unsigned char)model[n]))
			best = &cfg->models[i], best_len = n;
	}
	return best;
}

/* Prices are per million tokens; input_tokens excludes cached tokens
 * (Anthropic's accounting), so the four counts are disjoint. */
double config_cost(const struct model_price *p, const struct llm_usage *u)
{
	if (!p || !u)
		return 0;
	return ((double)u->input_tokens * p->input + (double)u->output_tokens * p->output +
	        (double)u->cache_creation_input_tokens * p->cache_write +
	        (double)u->cache_read_input_tokens * p->cache_read) /
	       1e6;
}

/* Malloc'd; the caller frees. */
char *config_bl_home(void)
{
	const char *v = getenv("BL_HOME");
	if (v && *v)
		return trim_dir(v);
	v = getenv("XDG_STATE_HOME");
	if (v && *v == '/')
		return xasprintf("%s/better-llm", v);
	char *h = home_dir();
	char *r = xasprintf("%s/.local/state/better-llm", h);
	free(h);
	return r;
}
