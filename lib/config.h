/*
 * config — agent_config.json, system_config.json, models.json and .env
 * (DESIGN §7).
 *
 * Each of the three files is looked up on its own, first found wins:
 * the --config path (a directory, or one of the three files, whose
 * directory is then searched for the other two), ./.better-llm/ in the
 * workspace, ${XDG_CONFIG_HOME:-~/.config}/better-llm/, the installed
 * BL_DATADIR (share/better-llm), then the source tree's config/.
 * Unknown keys are warnings (kept in cfg->warnings); a wrong type or a
 * bad value fails with "FILE: KEY: expected TYPE" (exit 78 in main).
 * Environment overrides: WORKER_TIMEOUT_<AGENT>, LOG_LEVEL, LOG_FORMAT,
 * LOG_DIR, BL_HOME, BL_MODEL (every agent's model).
 *
 * Ownership: struct bl_config owns everything in it; config_free().
 */
#ifndef BL_CONFIG_H
#define BL_CONFIG_H

#include <stddef.h>

#include "llm.h"

struct agent_cfg {
	char *name;                /* "planner" */
	char *role;                /* "planner", "coder", ... */
	char *command;             /* executable run by bl-manager ("bl-plan") */
	char *system_prompt_file;  /* "prompts/planner.txt", resolved by config_find */
	char **tools;
	size_t ntools;
	char *provider;            /* "anthropic" | "openai" | "claude-code" */
	char *model;
	int max_turns;             /* default 30 */
	int timeout_s;             /* seed defaults per role, WORKER_TIMEOUT_* wins */
	int max_tokens;            /* default 8192 */
	int network;               /* bash may use TCP; default 0 */
};

struct model_price {
	char *id;
	double input, output, cache_write, cache_read; /* USD per million tokens */
};

struct bl_config {
	char *agent_path, *system_path, *models_path; /* files actually read */
	char *dir;                 /* --config directory, or NULL */

	struct agent_cfg *agents;
	size_t nagents;

	/* system_config.json */
	int max_review_iterations; /* 3 */
	int max_coder_retries;     /* 2 */
	int max_retry_cycles;      /* 3 */
	int max_turns;             /* 50 */
	int max_context_messages;  /* 50 */
	struct llm_retry retry;    /* performance.retry */
	int enable_caching;        /* performance.enable_caching */
	int cache_ttl_seconds;
	int cache_max_size;
	int compression;           /* performance.enable_compression */
	int metrics;
	char *log_level, *log_format, *log_dir;
	int sandbox_required;      /* "required" (1) | "best-effort" (0) */
	char *test_command;        /* NULL: detect */
	long connect_timeout_s, idle_timeout_s; /* provider transport */

	struct model_price *models;
	size_t nmodels;
	char *default_model;       /* models.json "default" */

	char **warnings;           /* "FILE: unknown key 'x'" */
	size_t nwarnings;
};

/* Loads all three files.  workspace: the -C directory.  0, or -1 with err
 * ("/p/system_config.json: workflow_limits.max_turns: expected integer"). */
int config_load(struct bl_config *cfg, const char *config_path, const char *workspace,
		char *err, size_t errlen);
void config_free(struct bl_config *cfg);

/* The agent named name, or NULL. */
const struct agent_cfg *config_agent(const struct bl_config *cfg, const char *name);
/* Price entry for a model id (exact, then longest prefix), or NULL. */
const struct model_price *config_price(const struct bl_config *cfg, const char *model);
/* Cost in USD of one call; 0 when p is NULL. */
double config_cost(const struct model_price *p, const struct llm_usage *u);

/* Finds a data file (e.g. "prompts/planner.txt") along the same search
 * path as the config files; malloc'd absolute path or NULL. */
char *config_find(const struct bl_config *cfg, const char *workspace, const char *rel);

/* $BL_HOME, else ${XDG_STATE_HOME:-~/.local/state}/better-llm; malloc'd. */
char *config_bl_home(void);

#endif
