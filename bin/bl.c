/*
 * bl — the interactive front end (the seed's TUI), and `bl "task"`, its
 * one-shot CLI.  Every task runs as `bl-manager --json -s --no-wait` in
 * the current directory, a child in its own session (so its process
 * group gets signals only when we send them); its JSON Lines are shown
 * through lib/render as they arrive.
 *
 * Interactive (stdin and stdout terminals, no TASK): a libedit prompt
 * with history ($BL_HOME/history), the view written above it and a
 * status line (stage, cycle, tokens, cost, elapsed) just above the
 * prompt.  Enter runs a task; Ctrl+N starts a new session; Ctrl+C
 * cancels the running task (SIGINT to bl-manager's group; again:
 * SIGTERM, then SIGKILL), clears a typed line, or, at an empty prompt
 * right after another Ctrl+C, quits; Ctrl+D quits.  Commands: /help
 * /stop /pause /resume [ID] /sessions /cost /model [NAME] /new /quit.
 *
 * Guarantees: the terminal modes found at start are put back on every
 * way out — normal exit, Ctrl+C, Ctrl+D, SIGTERM, SIGHUP, and crash
 * signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT), whose
 * handlers call only tcsetattr(3), write(2) and kill(2) before
 * re-raising; a running bl-manager is stopped (SIGINT when we quit,
 * SIGTERM when we are killed) so it writes its `result stopped` line and
 * saves its session; on a normal way out it is also reaped.
 * `bl --reset-terminal` repairs a terminal left broken by anything else.
 *
 * One-shot (`bl TASK`): the view on stdout (plain text when stdout is
 * not a terminal), bl-manager's stderr passed through, SIGINT, SIGTERM
 * and SIGHUP forwarded to its group, and bl-manager's exit status as
 * ours (128+N when it died of signal N).  The contract is bl(1).
 *
 * The mechanisms are in lib/: the run of one bl-manager in lib/runjob,
 * the terminal's safety and the signals' self-pipe in lib/tty, the view
 * above the prompt and the status line in lib/statusline.  What is here
 * is the prompt loop, the commands and the policy.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <histedit.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "conv.h"
#include "json.h"
#include "render.h"
#include "runjob.h"
#include "statusline.h"
#include "term.h"
#include "tty.h"

#define PROG "bl"
#define PROMPT "bl> "
#define PROMPT_W 4
#define CTRL_N 0x0E

struct opts {
	const char *config, *pipeline, *route, *workspace;
	char *model;
	int verbose;
	enum term_color color;
};

/* Starts bl-manager for one task; the fatal-signal handlers are told its
 * group.  0, or -1 with err. */
static int run_start(struct runjob *rn, const struct opts *o, const char *const *extra, int view_fd,
                     int width, int color, char *err, size_t errlen)
{
	struct runjob_args a = {.config = o->config,
	                        .pipeline = o->pipeline,
	                        .route = o->route,
	                        .workspace = o->workspace,
	                        .model = o->model,
	                        .verbose = o->verbose};
	if (runjob_start(rn, &a, extra, view_fd, width, color, err, errlen) < 0)
		return -1;
	tty_set_group(rn->pid);
	return 0;
}

/* Over (see runjob_over); the fatal-signal handlers then forget it. */
static int run_over(struct runjob *rn)
{
	if (!runjob_over(rn))
		return 0;
	tty_set_group(0);
	return 1;
}

/* ---- the one-shot CLI ---- */

static void pass_stderr(void *ctx, const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	buf_add(&b, s, n);
	buf_addc(&b, '\n');
	write_all(2, b.p, b.len);
	buf_free(&b);
}

static int one_shot(const struct opts *o, const char *task)
{
	struct runjob rn;
	char err[512];
	const char *extra[] = {task, NULL};
	tty_install_signals(0);
	if (run_start(&rn, o, extra, 1, term_width(1), term_use_color(o->color, 1), err,
	              sizeof err) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EX_BL_UNAVAILABLE;
	}
	while (!run_over(&rn)) {
		struct pollfd p[3] = {
		    {tty_signal_fd(), POLLIN, 0}, {rn.out, POLLIN, 0}, {rn.err, POLLIN, 0}};
		if (poll(p, 3, rn.exited ? 100 : 1000) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			unsigned char sigs[64];
			ssize_t k = read(tty_signal_fd(), sigs, sizeof sigs);
			for (ssize_t i = 0; i < k; i++)
				if (sigs[i] == SIGINT || sigs[i] == SIGTERM || sigs[i] == SIGHUP)
					runjob_cancel(&rn);
		}
		if (p[1].revents)
			runjob_read(&rn, 0, NULL, NULL);
		if (p[2].revents)
			runjob_read(&rn, 1, pass_stderr, NULL);
	}
	render_end(&rn.r);
	int code = rn.exit_code;
	runjob_free(&rn);
	return code;
}

/* ---- the interactive front end ---- */

struct app {
	struct opts *o;
	EditLine *el;
	History *hist;
	char *hist_path;
	struct runjob rn;     /* rn.pid == 0: idle */
	struct statusline sl; /* the view, the status line and the prompt on screen */
	int last_sigint;      /* the last key was a Ctrl+C at an idle prompt */
	int quit;
	char *paused; /* a session stopped by /pause, continued by the next line */
	char *last_session;
	int runs;
	long long tok_in, tok_out;
	double cost;
};

static struct app A;

/* The status line's text (statusline.text). */
static void status_text(void *ctx, struct buf *b)
{
	int64_t secs = A.rn.pid ? (mono_ms() - A.rn.t0) / 1000 : 0;
	struct render *r = &A.rn.r;
	if (A.rn.pid) {
		buf_addf(b, "● %s", A.rn.stage ? A.rn.stage : "starting");
		if (A.rn.max_cycles)
			buf_addf(b, " · cycle %d/%d", A.rn.cycle, A.rn.max_cycles);
		buf_addf(b, " · %lld tokens · $%.4f · %lld:%02lld", r->in_tokens + r->out_tokens,
		         r->cost_usd, (long long)secs / 60, (long long)secs % 60);
		if (A.rn.cancels)
			buf_adds(b, " · stopping");
		else if (A.rn.pause)
			buf_adds(b, " · pausing after this stage");
	} else {
		buf_adds(b, A.paused ? "⏸ paused" : "ready");
		if (A.last_session)
			buf_addf(b, " · session %s", A.last_session);
		buf_addf(b, " · %d run%s · %lld tokens · $%.4f · /help", A.runs,
		         A.runs == 1 ? "" : "s", A.tok_in + A.tok_out, A.cost);
	}
}

static void run_ended(void)
{
	struct runjob *rn = &A.rn;
	int was = A.sl.shown, cancelled = rn->cancels > 0;
	statusline_hide(&A.sl);
	render_end(&rn->r);
	statusline_pump(&A.sl);
	statusline_end_view(&A.sl);
	int code = rn->exit_code;
	if (!rn->result[0])
		printf("bl-manager ended without a result (exit %d)\n", code);
	A.runs++;
	A.tok_in += rn->r.in_tokens;
	A.tok_out += rn->r.out_tokens;
	A.cost += rn->r.cost_usd;
	if (rn->session) {
		free(A.last_session);
		A.last_session = xstrdup(rn->session);
	}
	free(A.paused);
	A.paused = NULL;
	if (rn->pause && rn->session && !strcmp(rn->result, "stopped")) {
		A.paused = xstrdup(rn->session);
		printf("⏸ paused: type a message for the team and Enter (an empty line "
		       "continues)\n");
	}
	fflush(stdout);
	runjob_free(rn);
	A.last_sigint = cancelled;
	if (was)
		statusline_show(&A.sl);
}

static void show_ui_line(void *ctx, const char *s, size_t n)
{
	statusline_pump(&A.sl);
}

static void show_ui_err(void *ctx, const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s  %.*s%s\n", A.sl.color ? "\033[2m" : "", (int)n, s,
	         A.sl.color ? "\033[0m" : "");
	write_all(1, b.p, b.len);
	buf_free(&b);
}

static void new_session(void)
{
	if (A.rn.pid) {
		statusline_say(&A.sl, "a task is running: Ctrl+C or /stop first");
		return;
	}
	free(A.paused);
	free(A.last_session);
	A.paused = A.last_session = NULL;
	A.runs = 0;
	A.tok_in = A.tok_out = 0;
	A.cost = 0;
	statusline_say(&A.sl, "\n%s──── new session ────%s", A.sl.color ? "\033[1m" : "",
	               A.sl.color ? "\033[0m" : "");
}

static void on_sigint(void)
{
	if (A.rn.pid) {
		runjob_cancel(&A.rn);
		statusline_say(&A.sl, A.rn.cancels == 1
		                          ? "⏹ cancelling the task (Ctrl+C again to force)"
		                      : A.rn.cancels == 2 ? "⏹ sent SIGTERM"
		                                          : "⏹ sent SIGKILL");
		return;
	}
	const LineInfoW *li = el_wline(A.el);
	if (li->lastchar > li->buffer) {
		statusline_hide(&A.sl);
		el_cursor(A.el, (int)(li->lastchar - li->cursor));
		el_deletestr(A.el, (int)(li->lastchar - li->buffer));
		statusline_show(&A.sl);
		A.last_sigint = 0;
		return;
	}
	if (A.last_sigint) {
		A.quit = 1;
		return;
	}
	A.last_sigint = 1;
	statusline_say(&A.sl, "(Ctrl+C again to quit, or Ctrl+D)");
}

/* libedit's character source: the one poll loop of the front end.  It
 * shows the run's output and the signals' effects while waiting for a
 * key, and hands libedit one decoded character (0: quit). */
static int get_char(EditLine *el, wchar_t *wc)
{
	unsigned char u[4];
	size_t have = 0, need = 1;
	for (;;) {
		if (A.quit)
			return 0;
		if (A.rn.pid && run_over(&A.rn))
			run_ended();
		struct pollfd p[4] = {{0, POLLIN, 0},
		                      {tty_signal_fd(), POLLIN, 0},
		                      {A.rn.pid ? A.rn.out : -1, POLLIN, 0},
		                      {A.rn.pid ? A.rn.err : -1, POLLIN, 0}};
		int n = poll(p, 4, A.rn.pid ? (A.rn.exited ? 100 : 1000) : -1);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n == 0) {
			statusline_tick(&A.sl);
			continue;
		}
		if (p[1].revents & POLLIN) {
			unsigned char sigs[64];
			ssize_t k = read(tty_signal_fd(), sigs, sizeof sigs);
			for (ssize_t i = 0; i < k; i++) {
				if (sigs[i] == SIGINT)
					on_sigint();
				else if (sigs[i] == SIGWINCH) {
					A.sl.width = term_width(1);
					if (A.rn.pid)
						render_set_width(&A.rn.r, A.sl.width);
					el_resize(A.el);
				}
			}
		}
		if (p[2].revents || p[3].revents) {
			statusline_hide(&A.sl);
			if (p[2].revents)
				runjob_read(&A.rn, 0, show_ui_line, NULL);
			if (p[3].revents)
				runjob_read(&A.rn, 1, show_ui_err, NULL);
			statusline_show(&A.sl);
		}
		if (!(p[0].revents & (POLLIN | POLLHUP)))
			continue;
		ssize_t got = read(0, u + have, 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return 0;
		if (have == 0) {
			if (u[0] == CTRL_N) {
				A.last_sigint = 0;
				new_session();
				continue;
			}
			need = u[0] < 0xC0 ? 1 : u[0] < 0xE0 ? 2 : u[0] < 0xF0 ? 3 : 4;
		}
		if (++have < need)
			continue;
		uint32_t cp;
		term_utf8_decode((const char *)u, have, &cp);
		*wc = (wchar_t)cp;
		A.last_sigint = 0;
		return 1;
	}
}

static char *prompt_fn(EditLine *el)
{
	return PROMPT;
}

static void start_task(const char *const *extra)
{
	char err[512];
	if (run_start(&A.rn, A.o, extra, A.sl.view_fd, A.sl.width, A.sl.color, err, sizeof err) <
	    0) {
		fprintf(stdout, "%s\n", err);
	} else if (!strcmp(extra[0], "--resume") && !strchr(extra[1], '/')) { /* no task line */
		char *home = config_bl_home();
		A.rn.session = xstrdup(extra[1]);
		A.rn.session_path = xasprintf("%s/sessions/%s.jsonl", home, extra[1]);
		A.rn.r.session_path = A.rn.session_path;
		free(home);
	}
}

static void list_sessions(void)
{
	char *home = config_bl_home(), *dir = xasprintf("%s/sessions", home);
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort), shown = 0;
	if (n < 0) {
		printf("no sessions in %s\n", dir);
	} else {
		for (int i = n - 1; i >= 0; i--) {
			const char *nm = names[i]->d_name;
			size_t len = strlen(nm);
			if (len > 6 && !strcmp(nm + len - 6, ".jsonl") && shown < 20) {
				char *path = xasprintf("%s/%s", dir, nm);
				struct buf b = BUF_INIT;
				struct conv c;
				char e[64];
				const char *task = "?", *status = "?";
				char *st = NULL;
				if (read_file(path, &b) == 0 &&
				    conv_parse(b.p ? b.p : "", b.len, nm, &c, e, sizeof e) == 0) {
					task = conv_task(&c) ? conv_task(&c) : "?";
					status = "stopped";
					for (size_t k = 0; k < c.n; k++)
						if (c.items[k].type == CONV_RESULT) {
							free(st);
							st = json_get_str(&c.items[k].j, 0,
							                  "status");
						}
					printf("%.*s  %-9s  %.60s\n", (int)(len - 6), nm,
					       st ? st : status, task);
					conv_free(&c);
				} else {
					printf("%.*s  (unreadable)\n", (int)(len - 6), nm);
				}
				free(st);
				buf_free(&b);
				free(path);
				shown++;
			}
			free(names[i]);
		}
		free(names);
		if (!shown)
			printf("no sessions in %s\n", dir);
	}
	free(dir);
	free(home);
}

static const char help_text[] =
    "Type a task and Enter: the team (bl-manager) works on it in this directory.\n"
    "  Ctrl+C   cancel the running task; at an empty prompt twice: quit\n"
    "  Ctrl+N   new session        Ctrl+D   quit\n"
    "  /stop            stop the running task (its session is kept: /resume)\n"
    "  /pause           stop after the current stage, then type a message to continue\n"
    "  /resume [ID]     continue a stopped session (default: the last one)\n"
    "  /sessions        the saved sessions, newest first\n"
    "  /cost            tokens and cost of this session\n"
    "  /model [NAME]    show or set the model (/model default: the config's)\n"
    "  /new             new session (Ctrl+N)    /quit  quit (Ctrl+D)\n";

/* Handles one line typed at the prompt. */
static void handle_line(char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		line[--n] = '\0';
	while (*line == ' ')
		line++;
	if (*line)
		history(A.hist, &(HistEvent){0}, H_ENTER, line),
		    history(A.hist, &(HistEvent){0}, H_SAVE, A.hist_path);
	char *arg = strchr(line, ' ');
	if (arg)
		while (*arg == ' ')
			arg++;
	if (line[0] != '/') {
		if (A.rn.pid && *line)
			printf("a task is running: /stop or Ctrl+C first, or /pause to add a "
			       "message\n");
		else if (A.paused) {
			const char *extra[] = {"--resume", A.paused, *line ? line : NULL, NULL};
			start_task(extra);
		} else if (*line) {
			const char *extra[] = {line, NULL};
			start_task(extra);
		}
		return;
	}
	size_t cmd = strcspn(line, " ");
#define IS(c) (cmd == strlen(c) && !strncmp(line, c, cmd))
	if (IS("/help") || IS("/?")) {
		fputs(help_text, stdout);
	} else if (IS("/stop")) {
		if (A.rn.pid)
			runjob_cancel(&A.rn), printf("⏹ stopping the task\n");
		else
			printf("no task is running\n");
	} else if (IS("/pause")) {
		if (A.rn.pid)
			A.rn.pause = 1, printf("⏸ pausing after the current stage\n");
		else
			printf("no task is running\n");
	} else if (IS("/resume")) {
		const char *id = arg && *arg ? arg : A.paused ? A.paused : A.last_session;
		if (A.rn.pid)
			printf("a task is running\n");
		else if (!id)
			printf("usage: /resume ID (see /sessions)\n");
		else {
			const char *extra[] = {"--resume", id, NULL};
			start_task(extra);
		}
	} else if (IS("/sessions")) {
		list_sessions();
	} else if (IS("/cost")) {
		struct render *r = &A.rn.r;
		printf("this session: %d run%s, %lld tokens in, %lld out, $%.4f\n", A.runs,
		       A.runs == 1 ? "" : "s", A.tok_in, A.tok_out, A.cost);
		if (A.rn.pid)
			printf("running now: %lld tokens in, %lld out, $%.4f\n", r->in_tokens,
			       r->out_tokens, r->cost_usd);
	} else if (IS("/model")) {
		if (arg && *arg) {
			free(A.o->model);
			A.o->model = strcmp(arg, "default") ? xstrdup(arg) : NULL;
		}
		printf("model: %s\n", A.o->model ? A.o->model : "the config's (per agent)");
	} else if (IS("/new") || IS("/clear")) {
		new_session();
	} else if (IS("/quit") || IS("/exit")) {
		A.quit = 1;
	} else {
		printf("unknown command '%.*s' (see /help)\n", (int)cmd, line);
	}
#undef IS
	fflush(stdout);
}

static void use_utf8_locale(void)
{
	setlocale(LC_CTYPE, "");
	const char *cs = nl_langinfo(CODESET);
	if (!cs || strcmp(cs, "UTF-8"))
		setlocale(LC_CTYPE, "C.UTF-8");
}

static int interactive(struct opts *o)
{
	A.o = o;
	runjob_clear(&A.rn);
	A.sl.color = term_use_color(o->color, 1);
	A.sl.view_fd = memfd_create("bl-view", MFD_CLOEXEC);
	if (A.sl.view_fd < 0) {
		fprintf(stderr, PROG ": memfd_create: %s\n", strerror(errno));
		return EX_BL_SOFTWARE;
	}
	A.sl.width = term_width(1);
	tty_save(0);
	tty_install_signals(1);
	use_utf8_locale();

	char *home = config_bl_home();
	for (char *p = home + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(home, 0700);
			*p = '/';
		}
	mkdir(home, 0700);
	A.hist_path = xasprintf("%s/history", home);
	free(home);
	HistEvent ev;
	A.hist = history_init();
	history(A.hist, &ev, H_SETSIZE, 1000);
	history(A.hist, &ev, H_SETUNIQUE, 1);
	history(A.hist, &ev, H_LOAD, A.hist_path);

	A.el = el_init(PROG, stdin, stdout, stderr);
	el_set(A.el, EL_EDITOR, "emacs");
	el_set(A.el, EL_SIGNAL, 0);
	el_set(A.el, EL_PROMPT, prompt_fn);
	el_set(A.el, EL_HIST, history, A.hist);
	el_set(A.el, EL_GETCFN, get_char);
	el_source(A.el, NULL);
	A.sl.el = A.el;
	A.sl.prompt_w = PROMPT_W;
	A.sl.fd = 1;
	A.sl.text = status_text;

	printf("%sbetter-llm%s — type a task, /help for commands, Ctrl+D to quit\n",
	       A.sl.color ? "\033[1m" : "", A.sl.color ? "\033[0m" : "");
	fflush(stdout);
	while (!A.quit) {
		statusline_draw(&A.sl);
		A.sl.in_edit = A.sl.shown = 1;
		int count = 0;
		const char *got = el_gets(A.el, &count);
		A.sl.in_edit = 0;
		if (!got || count <= 0) {
			A.sl.shown = 0;
			write_all(1, "\n", 1);
			break;
		}
		/* the line is on screen below the status line: replace both by an echo */
		size_t w = PROMPT_W + term_display_width(got, strcspn(got, "\n"));
		char seq[32];
		snprintf(seq, sizeof seq, "\r\033[%dA\033[J", (int)(w / (size_t)A.sl.width) + 2);
		write_all(1, seq, strlen(seq));
		A.sl.shown = 0;
		char *line = xstrdup(got);
		if (strspn(line, " \n") != strlen(line) || A.paused)
			printf("%s%s%s%s", A.sl.color ? "\033[1m" : "", PROMPT,
			       A.sl.color ? "\033[0m" : "", line);
		fflush(stdout);
		handle_line(line);
		fflush(stdout);
		free(line);
	}
	if (A.rn.pid) { /* quitting while a task runs: stop it and keep its end */
		runjob_cancel(&A.rn);
		runjob_wait(&A.rn, mono_ms() + 15000, show_ui_line, show_ui_err, NULL);
		tty_set_group(0);
		render_end(&A.rn.r);
		statusline_pump(&A.sl);
		runjob_free(&A.rn);
	}
	el_end(A.el);
	history_end(A.hist);
	free(A.hist_path);
	free(A.paused);
	free(A.last_session);
	free(o->model);
	statusline_free(&A.sl);
	close(A.sl.view_fd);
	tty_restore();
	return 0;
}

/* ---- main ---- */

static void usage(int fd)
{
	static const char text[] =
	    "usage: bl [options]            the interactive front end (on a terminal)\n"
	    "       bl [options] TASK       run one task and show it; exit with its status\n"
	    "       bl --reset-terminal     repair a terminal left in a bad state\n"
	    "\n"
	    "  -C DIR              the repository to work in (default .)\n"
	    "      --config PATH   config directory or file (passed to bl-manager)\n"
	    "      --pipeline P    pipeline name or file (passed to bl-manager)\n"
	    "      --route R       fixed or llm (passed to bl-manager)\n"
	    "  -m, --model MODEL   model for every stage\n"
	    "      --color WHEN    auto (default), always or never\n"
	    "  -v, --verbose       bl-manager's diagnostics and log records on stderr\n"
	    "  -h, --help          show this help\n"
	    "      --version       show the version\n"
	    "\n"
	    "Exit status: bl-manager's (0 completed, 1 failed, 2 limit, 75 stopped, ...),\n"
	    "0 for the interactive front end, 64 usage.  See bl(1).\n";
	write_all(fd, text, sizeof text - 1);
}

enum { OPT_CONFIG = 256, OPT_PIPELINE, OPT_ROUTE, OPT_COLOR, OPT_RESET, OPT_VERSION };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"pipeline", required_argument, NULL, OPT_PIPELINE},
	    {"route", required_argument, NULL, OPT_ROUTE},
	    {"model", required_argument, NULL, 'm'},
	    {"color", required_argument, NULL, OPT_COLOR},
	    {"colour", required_argument, NULL, OPT_COLOR},
	    {"verbose", no_argument, NULL, 'v'},
	    {"reset-terminal", no_argument, NULL, OPT_RESET},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {0};
	char err[64];
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":C:m:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			o.workspace = optarg;
			break;
		case 'm':
			free(o.model);
			o.model = xstrdup(optarg);
			break;
		case 'v':
			o.verbose = 1;
			break;
		case OPT_CONFIG:
			o.config = optarg;
			break;
		case OPT_PIPELINE:
			o.pipeline = optarg;
			break;
		case OPT_ROUTE:
			o.route = optarg;
			break;
		case OPT_COLOR:
			if (term_parse_color(optarg, &o.color) < 0) {
				fprintf(stderr,
				        PROG
				        ": --color: expected auto, always or never, not '%s'\n",
				        optarg);
				return EX_BL_USAGE;
			}
			break;
		case OPT_RESET:
			if (tty_reset(err, sizeof err) < 0) {
				fprintf(stderr, PROG ": --reset-terminal: %s\n", err);
				return 1;
			}
			return 0;
		case 'h':
			usage(1);
			return 0;
		case OPT_VERSION:
			printf("bl (better-llm) %s\n", BL_VERSION);
			return 0;
		case ':':
			fprintf(stderr, PROG ": option '%s' needs a value (see bl --help)\n",
			        argv[optind - 1]);
			return EX_BL_USAGE;
		default:
			fprintf(stderr, PROG ": unknown option '%s' (see bl --help)\n",
			        argv[optind - 1]);
			return EX_BL_USAGE;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, PROG ": one task argument expected, got %d (quote the task)\n",
		        argc - optind);
		return EX_BL_USAGE;
	}
	if (tty_signals_open() < 0) {
		fprintf(stderr, PROG ": pipe: %s\n", strerror(errno));
		return EX_BL_SOFTWARE;
	}
	int rc;
	if (optind < argc) {
		rc = one_shot(&o, argv[optind]);
		free(o.model);
	} else if (isatty(0) && isatty(1)) {
		rc = interactive(&o);
	} else {
		fprintf(stderr,
		        PROG ": not on a terminal: give the task as an argument (bl \"TASK\")\n");
		free(o.model);
		rc = EX_BL_USAGE;
	}
	return rc;
}
