/*
 * pipeline — the stage graph bl-manager runs (DESIGN §6): an ordered list
 * of stages, each an agent of agent_config.json, with `on` edges from a
 * verdict to the stage to run next:
 *
 *	{"name": "default",
 *	 "stages": [{"agent": "planner"},
 *	            {"agent": "coder"},
 *	            {"agent": "reviewer", "on": {"changes_requested": "coder"}},
 *	            {"agent": "tester", "on": {"fail": "coder"}},
 *	            {"agent": "committer"}]}
 *
 * A stage whose verdict has no edge goes on to the next stage in order;
 * after the last one the pipeline is done.  Keys: name (string),
 * description (string), stages (array, 1..PIPELINE_MAX_STAGES); per
 * stage agent (string, required, unique in the pipeline), on (object of
 * verdict -> agent of this pipeline), max_cycles (integer >= 0: how often
 * this stage's edges may be taken; default by the agent's role, see
 * bl-manager(1)), description.  Any other key is an error, so a typo
 * does not silently change the graph.
 *
 * Ownership: struct pipeline owns its strings and arrays; pipeline_free().
 */
#ifndef BL_PIPELINE_H
#define BL_PIPELINE_H

#include <stddef.h>

#include "config.h"

#define PIPELINE_MAX_STAGES 16

struct pipe_edge {
	char *verdict; /* "changes_requested" */
	int target;    /* index of the stage to run next */
};

struct pipe_stage {
	char *agent;
	struct pipe_edge *on;
	size_t non;
	int max_cycles; /* -1: by role (bl-manager's policy) */
};

struct pipeline {
	char *name; /* "name", else the file's base name without .json */
	char *path; /* the file read, or NULL when parsed from text */
	struct pipe_stage *stages;
	size_t n;
};

/* Parses pipeline JSON text; what names the text in messages ("FILE").
 * 0, or -1 with err ("FILE: stages[2].on.fail: no stage 'coderr'") and
 * p left empty. */
int pipeline_parse(struct pipeline *p, const char *text, size_t len, const char *what, char *err,
                   size_t errlen);
/* Reads and parses a file (p->path set).  0, or -1 with err. */
int pipeline_load(struct pipeline *p, const char *path, char *err, size_t errlen);
void pipeline_free(struct pipeline *p);

/* The file for --pipeline SPEC, malloc'd: SPEC itself when it names an
 * existing file (holds a '/' or ends in ".json"), else
 * "pipelines/SPEC.json" found along the config search path
 * (config_find).  NULL with err when there is none. */
char *pipeline_resolve(const struct bl_config *cfg, const char *workspace, const char *spec,
                       char *err, size_t errlen);

/* Index of the stage running agent, or -1. */
int pipeline_index(const struct pipeline *p, const char *agent);
/* The stage an edge of stage idx leads to for verdict, or -1 (no edge;
 * verdict may be NULL). */
int pipeline_edge(const struct pipeline *p, int idx, const char *verdict);

/*
 * The `@agent` prefix of a task: when task starts with '@' and a name of
 * letters, digits, '_' or '-' followed by blank space or the end, and
 * that name is a stage, *start gets its index and *rest points to the
 * task text after the blanks; returns 0.  Without such a prefix (also
 * "@types/node ...", which is not a name), *start = 0, *rest = task, 0.
 * A prefix naming no stage, or leaving no task text: -1 with err.
 * *rest points into task.
 */
int pipeline_start(const struct pipeline *p, const char *task, int *start, const char **rest,
                   char *err, size_t errlen);

#endif
