/*
 * runjob — one run of bl-manager for a front end; the contract is in
 * runjob.h.  The exit is seen with waitid(WNOWAIT), so the zombie keeps
 * the group id ours until child_finish() reaps it once the pipes are
 * drained.
 */
#include "runjob.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "conv.h"
#include "json.h"

#define DRAIN_MS 2000

/* Owner: rn owns nothing afterwards. */
void runjob_clear(struct runjob *rn)
{
	memset(rn, 0, sizeof *rn);
	rn->out = rn->err = -1;
	rn->ch.pid = rn->ch.out_r = rn->ch.err_r = -1;
}

/* $BL_MANAGER, else bl-manager next to this program, else "bl-manager"
 * (looked up in PATH); malloc'd, the caller's. */
static char *manager_path(void)
{
	const char *env = getenv("BL_MANAGER");
	if (env && *env)
		return xstrdup(env);
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			char *p = xasprintf("%s/bl-manager", self);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	return xstrdup("bl-manager");
}

/* Owner: on success rn owns the pipes, buffers and renderer. */
int runjob_start(struct runjob *rn, const struct runjob_args *a, const char *const *extra,
                 int view_fd, int width, int color, char *err, size_t errlen)
{
	const char *argv[32];
	int n = 0;
	char *prog = manager_path();
	argv[n++] = prog;
	argv[n++] = "--json";
	argv[n++] = "--stream";
	argv[n++] = "--no-wait";
	if (a->verbose)
		argv[n++] = "--verbose";
	if (a->config)
		argv[n++] = "--config", argv[n++] = a->config;
	if (a->pipeline)
		argv[n++] = "--pipeline", argv[n++] = a->pipeline;
	if (a->route)
		argv[n++] = "--route", argv[n++] = a->route;
	if (a->model)
		argv[n++] = "-m", argv[n++] = a->model;
	if (a->workspace)
		argv[n++] = "-C", argv[n++] = a->workspace;
	for (; extra && *extra && n < 30; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;

	runjob_clear(rn);
	rn->ch = (struct child){.path = prog,
	                        .argv = (char *const *)argv,
	                        .in = CHILD_NULL,
	                        .out = CHILD_PIPE,
	                        .err = CHILD_PIPE,
	                        .new_session = 1,
	                        .pdeathsig = SIGTERM};
	int rc = child_spawn(&rn->ch, err, errlen);
	free(prog);
	rn->ch.path = NULL;
	rn->ch.argv = NULL;
	if (rc < 0) {
		runjob_clear(rn);
		return -1;
	}
	/* the pipes are read here: rn->out/err own them from now on */
	rn->pid = rn->ch.pid;
	rn->out = rn->ch.out_r;
	rn->err = rn->ch.err_r;
	rn->ch.out_r = rn->ch.err_r = -1;
	rn->t0 = mono_ms();
	render_init(&rn->r, view_fd, color);
	render_set_width(&rn->r, width);
	render_set_markdown(&rn->r, 1);
	return 0;
}

/* Owner: frees what rn owns; rn is cleared. */
void runjob_free(struct runjob *rn)
{
	if (rn->pid && !rn->over)
		runjob_kill(rn);
	render_free(&rn->r);
	buf_free(&rn->obuf);
	buf_free(&rn->ebuf);
	free(rn->session);
	free(rn->session_path);
	free(rn->stage);
	if (rn->out >= 0)
		close(rn->out);
	if (rn->err >= 0)
		close(rn->err);
	runjob_clear(rn);
}

/* Owner: nothing allocated. */
void runjob_cancel(struct runjob *rn)
{
	if (!rn->pid || rn->over)
		return;
	int sig = rn->cancels == 0 ? SIGINT : rn->cancels == 1 ? SIGTERM : SIGKILL;
	rn->cancels++;
	kill(-rn->pid, sig);
}

/* Owner: the line stays the caller's; what is noted is rn's. */
void runjob_line(struct runjob *rn, const char *line, size_t len)
{
	struct conv c;
	char err[64];
	if (conv_parse(line, len, "bl-manager", &c, err, sizeof err) < 0 || c.n != 1) {
		conv_free(&c);
		return;
	}
	const struct conv_item *it = &c.items[0];
	const struct json *j = &it->j;
	if (it->type == CONV_TASK && it->session && !rn->session) {
		rn->session = xstrdup(it->session);
		char *home = config_bl_home();
		rn->session_path = xasprintf("%s/sessions/%s.jsonl", home, it->session);
		free(home);
		rn->r.session_path = rn->session_path;
	} else if (it->type == CONV_EVENT) {
		char *ev = json_get_str(j, 0, "event");
		if (ev && !strcmp(ev, "stage_start") && it->agent) {
			free(rn->stage);
			rn->stage = xstrdup(it->agent);
		} else if (ev && !strcmp(ev, "loop")) {
			rn->cycle = (int)json_get_int(j, 0, "cycle", rn->cycle);
			rn->max_cycles = (int)json_get_int(j, 0, "max_cycles", rn->max_cycles);
		} else if (ev && !strcmp(ev, "stage_end") && rn->pause && !rn->cancels) {
			runjob_cancel(rn); /* /pause: stop between stages */
		}
		free(ev);
	} else if (it->type == CONV_RESULT) {
		char *st = json_get_str(j, 0, "status");
		snprintf(rn->result, sizeof rn->result, "%s", st ? st : "?");
		free(st);
		free(rn->stage);
		rn->stage = NULL;
	}
	render_item(&rn->r, it);
	conv_free(&c);
}

/* Reads what fd has; whole lines go to line(); -1 at EOF (the rest of
 * b given first). */
static int read_lines(int fd, struct buf *b, struct runjob *rn, int which,
                      void (*show)(void *, const char *, size_t), void *ctx)
{
	char chunk[65536];
	ssize_t got = read(fd, chunk, sizeof chunk);
	if (got < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (got > 0)
		buf_add(b, chunk, (size_t)got);
	size_t start = 0;
	char *nl;
	while (b->len > start) {
		nl = memchr(b->p + start, '\n', b->len - start);
		if (!nl && got > 0)
			break;
		size_t end = nl ? (size_t)(nl - b->p) : b->len;
		if (which == 0)
			runjob_line(rn, b->p + start, end - start);
		if (show)
			show(ctx, b->p + start, end - start);
		start = nl ? end + 1 : b->len;
	}
	if (got == 0) {
		buf_reset(b);
		return -1;
	}
	memmove(b->p, b->p + start, b->len - start);
	b->len -= start;
	return 0;
}

/* Owner: the lines are rn's; show gets them for the call only. */
void runjob_read(struct runjob *rn, int which, void (*show)(void *ctx, const char *s, size_t n),
                 void *ctx)
{
	int *fd = which == 0 ? &rn->out : &rn->err;
	if (*fd >= 0 &&
	    read_lines(*fd, which == 0 ? &rn->obuf : &rn->ebuf, rn, which, show, ctx) < 0) {
		close(*fd);
		*fd = -1;
	}
}

/* Reaps bl-manager and ends its group. */
static void finish(struct runjob *rn)
{
	child_finish(&rn->ch);
	rn->exit_code = rn->ch.exit_code;
	rn->exited = rn->over = 1;
}

/* Owner: nothing allocated. */
int runjob_over(struct runjob *rn)
{
	if (!rn->pid)
		return 0;
	if (rn->over)
		return 1;
	if (!rn->exited) {
		siginfo_t si;
		memset(&si, 0, sizeof si);
		if (waitid(P_PID, (id_t)rn->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		    si.si_pid != rn->pid)
			return 0;
		rn->exited = 1;
		rn->exited_at = mono_ms();
	}
	if ((rn->out >= 0 || rn->err >= 0) && mono_ms() - rn->exited_at <= DRAIN_MS)
		return 0;
	finish(rn);
	return 1;
}

/* Owner: nothing allocated. */
void runjob_kill(struct runjob *rn)
{
	if (!rn->pid || rn->over)
		return;
	finish(rn); /* child_finish: SIGKILL to the group, then the reap */
}

/* Owner: the lines are rn's; the callbacks get them for the call only. */
void runjob_wait(struct runjob *rn, int64_t deadline,
                 void (*show_out)(void *ctx, const char *s, size_t n),
                 void (*show_err)(void *ctx, const char *s, size_t n), void *ctx)
{
	while (!runjob_over(rn) && mono_ms() < deadline) {
		struct pollfd p[2] = {{rn->out, POLLIN, 0}, {rn->err, POLLIN, 0}};
		poll(p, 2, 200);
		if (p[0].revents)
			runjob_read(rn, 0, show_out, ctx);
		if (p[1].revents)
			runjob_read(rn, 1, show_err, ctx);
	}
	runjob_kill(rn);
}
