/*
 * pipeline — reading and checking stage graphs (see pipeline.h).
 *
 * Guarantees: a loaded pipeline has 1..PIPELINE_MAX_STAGES stages, every
 * stage a non-empty agent name unique in the pipeline, every edge a
 * non-empty verdict leading to a stage of the same pipeline; whether the
 * agents exist in agent_config.json is the caller's check.  Errors name
 * the file and the key path.
 */
#include "pipeline.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "json.h"

static int perr(char *err, size_t errlen, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int perr(char *err, size_t errlen, const char *what, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", what, msg);
	return -1;
}

void pipeline_free(struct pipeline *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct pipe_stage *s = &p->stages[i];
		free(s->agent);
		for (size_t k = 0; k < s->non; k++)
			free(s->on[k].verdict);
		free(s->on);
	}
	free(p->stages);
	free(p->name);
	free(p->path);
	memset(p, 0, sizeof *p);
}

int pipeline_index(const struct pipeline *p, const char *agent)
{
	for (size_t i = 0; agent && i < p->n; i++)
		if (!strcmp(p->stages[i].agent, agent))
			return (int)i;
	return -1;
}

int pipeline_edge(const struct pipeline *p, int idx, const char *verdict)
{
	if (idx < 0 || (size_t)idx >= p->n || !verdict)
		return -1;
	const struct pipe_stage *s = &p->stages[idx];
	for (size_t k = 0; k < s->non; k++)
		if (!strcmp(s->on[k].verdict, verdict))
			return s->on[k].target;
	return -1;
}

/* One stage object at token t; edges are resolved later. */
static int parse_stage(struct pipeline *p, const struct json *j, int t, size_t i, const char *what,
                       char *err, size_t errlen)
{
	struct pipe_stage *s = &p->stages[i];
	s->max_cycles = -1;
	if (json_type(j, t) != JSON_OBJECT)
		return perr(err, errlen, what, "stages[%zu]: expected object", i);
	int k, n;
	JSON_OBJECT_EACH(j, t, n, k)
	{
		int v = k + 1;
		if (json_streq(j, k, "agent")) {
			if (json_type(j, v) != JSON_STRING)
				return perr(err, errlen, what, "stages[%zu].agent: expected string",
				            i);
			s->agent = json_str(j, v, NULL);
		} else if (json_streq(j, k, "max_cycles")) {
			long long m;
			if (json_int(j, v, &m) < 0 || m < 0 || m > 1000000)
				return perr(err, errlen, what,
				            "stages[%zu].max_cycles: expected integer >= 0", i);
			s->max_cycles = (int)m;
		} else if (json_streq(j, k, "description")) {
			if (json_type(j, v) != JSON_STRING)
				return perr(err, errlen, what,
				            "stages[%zu].description: expected string", i);
		} else if (json_streq(j, k, "on")) {
			if (json_type(j, v) != JSON_OBJECT)
				return perr(err, errlen, what, "stages[%zu].on: expected object",
				            i);
		} else {
			char *key = json_str(j, k, NULL);
			perr(err, errlen, what, "stages[%zu]: unknown key '%s'", i, key);
			free(key);
			return -1;
		}
	}
	if (!s->agent || !*s->agent)
		return perr(err, errlen, what, "stages[%zu]: missing \"agent\"", i);
	return 0;
}

/* The edges of stage i (object at token on), now that all agents are known. */
static int parse_edges(struct pipeline *p, const struct json *j, int on, size_t i, const char *what,
                       char *err, size_t errlen)
{
	struct pipe_stage *s = &p->stages[i];
	int k, n;
	s->on = xcalloc((size_t)json_len(j, on) + 1, sizeof *s->on);
	JSON_OBJECT_EACH(j, on, n, k)
	{
		char *verdict = json_str(j, k, NULL);
		if (!verdict || !*verdict) {
			free(verdict);
			return perr(err, errlen, what, "stages[%zu].on: empty verdict", i);
		}
		s->on[s->non].verdict = verdict;
		s->non++;
		if (json_type(j, k + 1) != JSON_STRING)
			return perr(err, errlen, what, "stages[%zu].on.%s: expected string", i,
			            verdict);
		char *target = json_str(j, k + 1, NULL);
		int ti = pipeline_index(p, target);
		if (ti < 0)
			perr(err, errlen, what, "stages[%zu].on.%s: no stage '%s' in the pipeline",
			     i, verdict, target);
		free(target);
		if (ti < 0)
			return -1;
		s->on[s->non - 1].target = ti;
	}
	return 0;
}

static char *base_name(const char *what)
{
	const char *b = strrchr(what, '/');
	b = b ? b + 1 : what;
	size_t n = strlen(b);
	if (n > 5 && !strcmp(b + n - 5, ".json"))
		n -= 5;
	return xstrndup(b, n);
}

/* p is overwritten; on failure it is left empty. */
int pipeline_parse(struct pipeline *p, const char *text, size_t len, const char *what, char *err,
                   size_t errlen)
{
	memset(p, 0, sizeof *p);
	struct json j;
	struct json_error je;
	memset(&je, 0, sizeof je);
	if (json_parse(&j, text, len, &je) < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s:%d:%d: %s", what, je.line, je.col, je.msg);
		return -1;
	}
	int rc = -1, stages = -1, k, n, e;
	if (json_type(&j, 0) != JSON_OBJECT) {
		perr(err, errlen, what, "expected a JSON object");
		goto out;
	}
	JSON_OBJECT_EACH(&j, 0, n, k)
	{
		if (json_streq(&j, k, "name")) {
			if (json_type(&j, k + 1) != JSON_STRING) {
				perr(err, errlen, what, "name: expected string");
				goto out;
			}
			free(p->name);
			p->name = json_str(&j, k + 1, NULL);
		} else if (json_streq(&j, k, "stages")) {
			stages = k + 1;
		} else if (!json_streq(&j, k, "description")) {
			char *key = json_str(&j, k, NULL);
			perr(err, errlen, what, "unknown key '%s'", key);
			free(key);
			goto out;
		}
	}
	if (stages < 0 || json_type(&j, stages) != JSON_ARRAY || json_len(&j, stages) < 1) {
		perr(err, errlen, what, "stages: expected a non-empty array");
		goto out;
	}
	if (json_len(&j, stages) > PIPELINE_MAX_STAGES) {
		perr(err, errlen, what, "stages: at most %d stages", PIPELINE_MAX_STAGES);
		goto out;
	}
	p->stages = xcalloc((size_t)json_len(&j, stages), sizeof *p->stages);
	JSON_ARRAY_EACH(&j, stages, n, e)
	{
		p->n++;
		if (parse_stage(p, &j, e, (size_t)n, what, err, errlen) < 0)
			goto out;
		if (pipeline_index(p, p->stages[n].agent) < n) {
			perr(err, errlen, what, "stages[%d]: agent '%s' appears twice", n,
			     p->stages[n].agent);
			goto out;
		}
	}
	JSON_ARRAY_EACH(&j, stages, n, e)
	{
		int on = json_get(&j, e, "on");
		if (on >= 0 && parse_edges(p, &j, on, (size_t)n, what, err, errlen) < 0)
			goto out;
	}
	if (!p->name || !*p->name) {
		free(p->name);
		p->name = base_name(what);
	}
	rc = 0;
out:
	json_free(&j);
	if (rc < 0)
		pipeline_free(p);
	return rc;
}

int pipeline_load(struct pipeline *p, const char *path, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	memset(p, 0, sizeof *p);
	if (read_file(path, &b) < 0) {
		if (err && errlen)
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		buf_free(&b);
		return -1;
	}
	int rc = pipeline_parse(p, b.p ? b.p : "", b.len, path, err, errlen);
	buf_free(&b);
	if (rc == 0)
		p->path = xstrdup(path);
	return rc;
}

static int is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

char *pipeline_resolve(const struct bl_config *cfg, const char *workspace, const char *spec,
                       char *err, size_t errlen)
{
	size_t n = strlen(spec);
	int looks_like_file = strchr(spec, '/') || (n > 5 && !strcmp(spec + n - 5, ".json"));
	if (looks_like_file) {
		errno = 0;
		if (is_file(spec))
			return xstrdup(spec);
		snprintf(err, errlen, "pipeline '%s': %s", spec,
		         errno ? strerror(errno) : "not a file");
		return NULL;
	}
	if (!is_name(spec) || spec[0] == '.') {
		snprintf(err, errlen, "pipeline '%s': not a name or a file", spec);
		return NULL;
	}
	char *rel = xasprintf("pipelines/%s.json", spec);
	char *path = config_find(cfg, workspace, rel);
	if (!path)
		snprintf(err, errlen,
		         "pipeline '%s': no %s in .better-llm/, the user config, or the installed "
		         "data",
		         spec, rel);
	free(rel);
	return path;
}

int pipeline_start(const struct pipeline *p, const char *task, int *start, const char **rest,
                   char *err, size_t errlen)
{
	*start = 0;
	*rest = task;
	if (task[0] != '@')
		return 0;
	size_t n = 1;
	while (isalnum((unsigned char)task[n]) || task[n] == '_' || task[n] == '-')
		n++;
	if (n == 1 || (task[n] && !isspace((unsigned char)task[n])))
		return 0; /* "@types/node": not an agent prefix */
	char *name = xstrndup(task + 1, n - 1);
	int idx = pipeline_index(p, name);
	if (idx < 0) {
		struct buf names = BUF_INIT;
		for (size_t i = 0; i < p->n; i++)
			buf_addf(&names, "%s%s", i ? ", " : "", p->stages[i].agent);
		snprintf(err, errlen, "@%s: no such stage in pipeline '%s' (stages: %s)", name,
		         p->name, names.p);
		buf_free(&names);
		free(name);
		return -1;
	}
	const char *r = task + n;
	while (isspace((unsigned char)*r))
		r++;
	if (!*r) {
		snprintf(err, errlen, "@%s: no task after the stage name", name);
		free(name);
		return -1;
	}
	free(name);
	*start = idx;
	*rest = r;
	return 0;
}
