/*
 * supervise_stage — the stage layer of supervise.h: one attempt of one
 * pipeline stage at the level of the conversation, over sv_run().
 *
 * The stage's lines reach emit in the order written, each checked by
 * lib/conv before; stage_start comes before them and stage_end after
 * everything else of the attempt; an error line is written for every
 * failure the stage did not report itself (and always for a crash by
 * signal, which it cannot report), so a session read later says why
 * each attempt ended.
 */
#include "supervise.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "log.h"

const char *sv_signame(int sig)
{
	switch (sig) {
	case 1:
		return "SIGHUP";
	case 2:
		return "SIGINT";
	case 6:
		return "SIGABRT";
	case 9:
		return "SIGKILL";
	case 11:
		return "SIGSEGV";
	case 15:
		return "SIGTERM";
	default:
		return "a signal";
	}
}

int sv_emit_built(int (*emit)(void *, const struct conv_item *), void *ctx, struct buf *line)
{
	struct conv c;
	char err[300];
	size_t n = line->len;
	while (n && line->p[n - 1] == '\n')
		n--;
	int rc = -1;
	if (conv_parse(line->p ? line->p : "", n, "line", &c, err, sizeof err) == 0 && c.n == 1)
		rc = emit(ctx, &c.items[0]);
	else
		log_error("bad_line", "%s", err);
	conv_free(&c);
	buf_free(line);
	return rc;
}

int sv_emit_error(int (*emit)(void *, const struct conv_item *), void *ctx, const char *agent,
                  const char *kind, int retryable, const char *message)
{
	struct buf b = BUF_INIT;
	struct jw w;
	log_error("stage_error", "%s: %s: %s", agent, kind, message);
	conv_line_begin(&w, &b, "error", agent);
	jw_kstr(&w, "kind", kind);
	jw_kstr(&w, "message", message);
	jw_kbool(&w, "retryable", retryable);
	conv_line_end(&w);
	return sv_emit_built(emit, ctx, &b);
}

/* The state of one attempt. */
struct run {
	const struct sv_stage *s;
	struct sv_outcome *o;
	int nlines;
	char *err_kind;    /* the stage's latest error line's kind */
	int err_retryable; /* its retryable, -1 absent */
	char protocol[600];
};

static void replace(char **dst, char *src)
{
	free(*dst);
	*dst = src;
}

static void emit(struct run *r, const struct conv_item *it)
{
	if (!r->o->emit_failed && r->s->emit(r->s->ctx, it) < 0)
		r->o->emit_failed = 1;
}

static void emit_built(struct run *r, struct buf *b)
{
	if (!r->o->emit_failed && sv_emit_built(r->s->emit, r->s->ctx, b) < 0)
		r->o->emit_failed = 1;
	buf_free(b);
}

static void error_line(struct run *r, const char *kind, int retryable, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void error_line(struct run *r, const char *kind, int retryable, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->o->why, sizeof r->o->why, fmt, ap);
	va_end(ap);
	if (!r->o->emit_failed &&
	    sv_emit_error(r->s->emit, r->s->ctx, r->s->agent, kind, retryable, r->o->why) < 0)
		r->o->emit_failed = 1;
}

/* Begins our event line in b: type, ts, event, agent, attempt. */
static void event_begin(struct run *r, struct jw *w, struct buf *b, const char *event)
{
	conv_line_begin(w, b, "event", NULL);
	jw_kstr(w, "event", event);
	jw_kstr(w, "agent", r->s->agent);
	jw_kint(w, "attempt", r->s->attempt);
}

static void on_start(void *ctx, pid_t pid)
{
	struct run *r = ctx;
	struct buf b = BUF_INIT;
	struct jw w;
	event_begin(r, &w, &b, "stage_start");
	jw_kint(&w, "pid", pid);
	jw_kint(&w, "timeout_s", r->s->timeout_s);
	jw_kstr(&w, "command", r->s->program);
	conv_line_end(&w);
	emit_built(r, &b);
	log_info("stage_start", "agent=%s attempt=%d pid=%d", r->s->agent, r->s->attempt, (int)pid);
}

/* One line of the stage: checked, then handed over.  last: the bytes
 * after the last newline of a stage that exited. */
static int take_line(struct run *r, const char *line, size_t len, int last)
{
	struct conv cv;
	char err[600], name[96];
	r->nlines++;
	snprintf(name, sizeof name, "%s output", r->s->agent);
	if (conv_parse(line, len, name, &cv, err, sizeof err) < 0) {
		/* err is "NAME:1:COL: what" (one line parsed): say which line
		 * of the stage's output it was */
		char *q;
		strtol(err + strlen(name) + 1, &q, 10);
		long col = *q == ':' ? strtol(q + 1, &q, 10) : 0;
		snprintf(r->protocol, sizeof r->protocol, "line %d%s, column %ld%s", r->nlines,
		         last ? " (the last, without a newline)" : "", col,
		         *q == ':' ? q : ": not a conversation line");
		return -1;
	}
	if (cv.n == 1) {
		const struct conv_item *it = &cv.items[0];
		emit(r, it);
		if (it->type == CONV_VERDICT) {
			replace(&r->o->verdict, xstrdup(it->verdict));
			replace(&r->o->verdict_line, xstrndup(it->line, it->len));
		} else if (it->type == CONV_MESSAGE && it->role && !strcmp(it->role, "assistant")) {
			replace(&r->o->message, xstrdup(it->text));
		} else if (it->type == CONV_ERROR) {
			replace(&r->err_kind, json_get_str(&it->j, 0, "kind"));
			r->err_retryable = json_get_bool(&it->j, 0, "retryable", -1);
		}
	}
	conv_free(&cv);
	return r->o->emit_failed ? -1 : 0;
}

static int on_line(void *ctx, const char *line, size_t len)
{
	return take_line(ctx, line, len, 0);
}

static void on_timeout(void *ctx)
{
	struct run *r = ctx;
	char d[300];
	snprintf(d, sizeof d,
	         "%s: no end after %d s (timeout_s, WORKER_TIMEOUT_*); ending its process group",
	         r->s->agent, r->s->timeout_s);
	struct buf b = BUF_INIT;
	struct jw w;
	event_begin(r, &w, &b, "timeout");
	jw_kstr(&w, "detail", d);
	conv_line_end(&w);
	emit_built(r, &b);
}

/* Sorts the end of a run that started; writes our error line when needed. */
static enum sv_end judge(struct run *r, const struct sv_result *res)
{
	struct sv_outcome *o = r->o;
	const char *a = r->s->agent;
	int code = res->exit_code, said = r->err_kind != NULL;
	if (res->refused) {
		o->kind = "protocol";
		if (o->emit_failed) {
			snprintf(o->why, sizeof o->why, "the conversation could not be stored");
			return SV_FATAL;
		}
		if (res->line_too_long)
			snprintf(r->protocol, sizeof r->protocol, "a line longer than %d bytes",
			         SV_LINE_MAX);
		error_line(r, "protocol", 0, "%s wrote an invalid conversation line: %s", a,
		           r->protocol);
		return SV_FATAL;
	}
	if (res->stopped) {
		o->kind = "stopped";
		snprintf(o->why, sizeof o->why, "%s was stopped", a);
		return SV_STOPPED;
	}
	if (res->timed_out) {
		o->kind = "timeout";
		if (said && !strcmp(r->err_kind, "timeout"))
			snprintf(o->why, sizeof o->why, "%s timed out after %d s", a,
			         r->s->timeout_s);
		else
			error_line(r, "timeout", 1, "%s timed out after %d s%s", a, r->s->timeout_s,
			           res->killed ? " (killed after the grace period)" : "");
		return SV_RETRY;
	}
	if (res->signal) {
		o->kind = "crash";
		error_line(r, "crash", 1, "%s was killed by %s (signal %d)", a,
		           sv_signame(res->signal), res->signal);
		return SV_RETRY;
	}
	if (code == 0) {
		o->kind = "ok";
		return SV_OK;
	}
	if (code == EX_BL_SOFTWARE || code == EX_BL_TEMPFAIL || code == EX_BL_UNAVAILABLE) {
		o->kind = code == EX_BL_SOFTWARE   ? "crash"
		          : code == EX_BL_TEMPFAIL ? "timeout"
		                                   : "api";
		const char *what = code == EX_BL_SOFTWARE   ? "internal error"
		                   : code == EX_BL_TEMPFAIL ? "interrupted or timed out"
		                                            : "the API failed";
		if (!said)
			error_line(r, o->kind, 1, "%s exited %d (%s)", a, code, what);
		else
			snprintf(o->why, sizeof o->why, "%s exited %d (%s: %s)", a, code,
			         r->err_kind, what);
		/* The stage's own word wins: a turn limit or a refused request
		 * will not pass on a retry. */
		if (said && r->err_retryable == 0 && strcmp(r->err_kind, "timeout") &&
		    strcmp(r->err_kind, "crash")) {
			o->kind = r->err_kind;
			return SV_FATAL;
		}
		return SV_RETRY;
	}
	o->kind = code == EX_BL_NOPERM                          ? "auth"
	          : code == EX_BL_CONFIG || code == EX_BL_USAGE ? "config"
	          : code == EX_BL_DATAERR                       ? "input"
	                                                        : "crash";
	if (!said)
		error_line(r, o->kind, 0, "%s exited %d%s (its stderr is in the stage log)", a,
		           code, code == EX_BL_USAGE ? ": it refused its arguments" : "");
	else
		snprintf(o->why, sizeof o->why, "%s exited %d (%s)", a, code, r->err_kind);
	return SV_FATAL;
}

static void stage_end(struct run *r)
{
	struct sv_outcome *o = r->o;
	struct buf b = BUF_INIT;
	struct jw w;
	event_begin(r, &w, &b, "stage_end");
	jw_kstr(&w, "status", o->kind);
	jw_kint(&w, "exit_code", o->exit_code);
	if (o->verdict)
		jw_kstr(&w, "verdict", o->verdict);
	jw_kint(&w, "duration_ms", o->duration_ms);
	conv_line_end(&w);
	emit_built(r, &b);
	log_info("stage_end", "agent=%s attempt=%d status=%s exit=%d ms=%lld", r->s->agent,
	         r->s->attempt, o->kind, o->exit_code, (long long)o->duration_ms);
}

void sv_stage_run(const struct sv_stage *s, struct sv_outcome *o)
{
	memset(o, 0, sizeof *o);
	o->pid = -1;
	o->kind = "failed";
	struct run r = {.s = s, .o = o, .err_retryable = -1};
	char *argv[12];
	int n = 0;
	argv[n++] = (char *)s->program;
	argv[n++] = "-C";
	argv[n++] = (char *)s->workspace;
	if (s->config) {
		argv[n++] = "--config";
		argv[n++] = (char *)s->config;
	}
	if (s->model) {
		argv[n++] = "-m";
		argv[n++] = (char *)s->model;
	}
	if (s->stream)
		argv[n++] = "-s";
	argv[n] = NULL;
	struct sv_opts so = {
	    .path = s->program,
	    .argv = argv,
	    .cwd = s->workspace,
	    .stdin_fd = s->stdin_fd,
	    .stderr_fd = s->stderr_fd,
	    .timeout_ms = s->timeout_s <= 0               ? 0
	                  : s->timeout_s > INT_MAX / 1000 ? INT_MAX
	                                                  : s->timeout_s * 1000,
	    .grace_ms = s->grace_ms,
	    .ctx = &r,
	    .on_start = on_start,
	    .on_line = on_line,
	    .on_timeout = on_timeout,
	};
	struct sv_result res;
	int64_t t0 = mono_ms();
	char err[700];
	if (sv_run(&so, &res, err, sizeof err) < 0) {
		struct buf b = BUF_INIT;
		struct jw w;
		event_begin(&r, &w, &b, "stage_start");
		jw_kstr(&w, "command", s->program);
		conv_line_end(&w);
		emit_built(&r, &b);
		error_line(&r, "config", 0, "%s", err);
		o->kind = "config";
		o->end = SV_FATAL;
		o->exit_code = 127;
	} else {
		if (res.tail.len && !res.signal && !res.refused &&
		    take_line(&r, res.tail.p, res.tail.len, 1) < 0)
			res.refused = 1; /* an unterminated last line that is not one */
		else if (res.tail.len && res.signal)
			log_warn("line_lost", "%s: %zu bytes of a line cut by %s", s->agent,
			         res.tail.len, sv_signame(res.signal));
		o->pid = res.pid;
		o->exit_code = res.exit_code;
		o->end = judge(&r, &res);
	}
	o->duration_ms = mono_ms() - t0;
	stage_end(&r);
	if (o->emit_failed && o->end != SV_STOPPED)
		o->end = SV_FATAL;
	sv_result_free(&res);
	free(r.err_kind);
}

void sv_outcome_free(struct sv_outcome *o)
{
	free(o->verdict);
	free(o->verdict_line);
	free(o->message);
	o->verdict = o->verdict_line = o->message = NULL;
}
