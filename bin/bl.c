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
 * Longer than one filter's main because it is three things that belong
 * together: the run of one bl-manager, the prompt around it, and the
 * terminal's safety on every way out.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <histedit.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "conv.h"
#include "json.h"
#include "render.h"
#include "term.h"

#define PROG "bl"
#define PROMPT "bl> "
#define PROMPT_W 4
#define CTRL_N 0x0E
#define DRAIN_MS 2000

/* ---- signals and the terminal: async-signal-safe state ---- */

static struct termios saved_tio;
static volatile sig_atomic_t have_tio, child_pgid;
static int sig_pipe[2] = {-1, -1};

/* Puts the terminal back as found; only async-signal-safe calls. */
static void restore_terminal(void)
{
	static const char seq[] = "\033[0m\033[?25h\033[?2004l";
	if (have_tio) {
		tcsetattr(0, TCSANOW, &saved_tio);
		if (write(1, seq, sizeof seq - 1) < 0) {
			/* nothing more can be done for a gone terminal */
		}
	}
}

static void on_signal(int sig)
{
	int e = errno;
	unsigned char c = (unsigned char)sig;
	if (write(sig_pipe[1], &c, 1) < 0) {
		/* the pipe is full: the loop is already awake */
	}
	errno = e;
}

/* SIGTERM, SIGHUP and crashes: the terminal back, the run told, and the
 * signal's own end (the handler was installed with SA_RESETHAND). */
static void on_fatal(int sig)
{
	restore_terminal();
	if (child_pgid > 0)
		kill(-(pid_t)child_pgid, SIGTERM);
	raise(sig);
}

static void install_signals(int interactive)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	if (!interactive) {
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
		return;
	}
	sa.sa_handler = on_fatal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	int fatal[] = {SIGTERM, SIGHUP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGQUIT};
	for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
		sigaction(fatal[i], &sa, NULL);
	signal(SIGTSTP, SIG_IGN); /* a stopped bl would leave the terminal raw */
	signal(SIGPIPE, SIG_IGN);
}

/* stty sane, the cursor shown, the alternate screen left, attributes,
 * bracketed paste and mouse reporting off. */
static int reset_terminal(void)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		fd = isatty(0) ? 0 : -1;
	if (fd < 0) {
		fprintf(stderr, PROG ": --reset-terminal: no terminal\n");
		return 1;
	}
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		t.c_iflag &= ~(tcflag_t)(IGNBRK | INLCR | IGNCR | IXOFF | IUCLC | IXANY);
		t.c_iflag |= BRKINT | ICRNL | IMAXBEL | IXON;
		t.c_oflag &= ~(tcflag_t)(OLCUC | OCRNL | ONOCR | ONLRET | OFILL | OFDEL | NLDLY |
		                         CRDLY | TABDLY | BSDLY | VTDLY | FFDLY);
		t.c_oflag |= OPOST | ONLCR;
		t.c_cflag |= CREAD;
		t.c_lflag &= ~(tcflag_t)(ECHONL | NOFLSH | XCASE | TOSTOP | ECHOPRT);
		t.c_lflag |= ISIG | ICANON | IEXTEN | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE;
		t.c_cc[VINTR] = 3, t.c_cc[VQUIT] = 28, t.c_cc[VERASE] = 127, t.c_cc[VKILL] = 21;
		t.c_cc[VEOF] = 4, t.c_cc[VSTART] = 17, t.c_cc[VSTOP] = 19, t.c_cc[VSUSP] = 26;
		t.c_cc[VREPRINT] = 18, t.c_cc[VWERASE] = 23, t.c_cc[VLNEXT] = 22;
		t.c_cc[VEOL] = 0, t.c_cc[VEOL2] = 0, t.c_cc[VMIN] = 1, t.c_cc[VTIME] = 0;
		tcsetattr(fd, TCSANOW, &t);
	}
	static const char seq[] = "\033[?1049l\033[?25h\033[0m\033[?2004l\033[?1000l\033[?1002l"
	                          "\033[?1003l\033[?1006l\033>\r\n";
	write_all(fd, seq, sizeof seq - 1);
	if (fd)
		close(fd);
	return 0;
}

/* ---- one bl-manager run ---- */

struct opts {
	const char *config, *pipeline, *route, *workspace;
	char *model;
	int verbose;
	enum term_color color;
};

struct run {
	pid_t pid;    /* bl-manager, its process group; 0 when none */
	int out, err; /* its stdout and stderr, -1 once at EOF */
	int status;   /* its wait status, once reaped */
	int reaped;
	int64_t t0, reaped_at;
	struct buf obuf, ebuf;
	struct render r;
	char *session, *session_path; /* from the task line */
	char *stage;                  /* the stage running now */
	int cycle, max_cycles;
	char result[16]; /* the result line's status */
	int cancels;     /* signals sent to stop it */
	int pause;       /* stop after the current stage (/pause) */
};

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

/* Starts bl-manager with the common options and extra (NULL-ended).
 * 0, or -1 with err. */
static int run_start(struct run *rn, const struct opts *o, const char *const *extra, int view_fd,
                     int width, int color, char *err, size_t errlen)
{
	const char *argv[32];
	int n = 0;
	char *prog = manager_path();
	argv[n++] = prog;
	argv[n++] = "--json";
	argv[n++] = "--stream";
	argv[n++] = "--no-wait";
	if (o->verbose)
		argv[n++] = "--verbose";
	if (o->config)
		argv[n++] = "--config", argv[n++] = o->config;
	if (o->pipeline)
		argv[n++] = "--pipeline", argv[n++] = o->pipeline;
	if (o->route)
		argv[n++] = "--route", argv[n++] = o->route;
	if (o->model)
		argv[n++] = "-m", argv[n++] = o->model;
	if (o->workspace)
		argv[n++] = "-C", argv[n++] = o->workspace;
	for (; extra && *extra && n < 30; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;

	int out[2], er[2], ex[2];
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0 || pipe2(ex, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		free(prog);
		return -1;
	}
	pid_t parent = getpid(), pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		free(prog);
		return -1;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		setsid();
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTSTP, SIG_DFL);
		if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 ||
		    dup2(er[1], 2) < 0)
			_exit(127);
		execvp(argv[0], (char *const *)argv);
		int e = errno;
		if (write(ex[1], &e, sizeof e) < 0)
			_exit(127);
		_exit(127);
	}
	close(out[1]);
	close(er[1]);
	close(ex[1]);
	int e = 0;
	ssize_t got;
	while ((got = read(ex[0], &e, sizeof e)) < 0 && errno == EINTR)
		;
	close(ex[0]);
	if (got == (ssize_t)sizeof e) {
		snprintf(err, errlen, "cannot run '%s': %s", prog, strerror(e));
		waitpid(pid, NULL, 0);
		close(out[0]);
		close(er[0]);
		free(prog);
		return -1;
	}
	free(prog);
	memset(rn, 0, sizeof *rn);
	rn->pid = pid;
	child_pgid = pid;
	rn->out = out[0];
	rn->err = er[0];
	rn->t0 = mono_ms();
	render_init(&rn->r, view_fd, color);
	render_set_width(&rn->r, width);
	render_set_markdown(&rn->r, 1);
	return 0;
}

static void run_free(struct run *rn)
{
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
	child_pgid = 0;
	memset(rn, 0, sizeof *rn);
	rn->out = rn->err = -1;
}

/* The next signal of the cancel ladder: SIGINT, SIGTERM, SIGKILL. */
static void run_cancel(struct run *rn)
{
	if (!rn->pid || rn->reaped)
		return;
	int sig = rn->cancels == 0 ? SIGINT : rn->cancels == 1 ? SIGTERM : SIGKILL;
	rn->cancels++;
	kill(-rn->pid, sig);
}

/* Notes what a line says about the run, then shows it. */
static void run_line(struct run *rn, const char *line, size_t len)
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
			run_cancel(rn); /* /pause: stop between stages */
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

/* Reads what fd has; whole lines go to show.  -1 at EOF. */
static int read_lines(int fd, struct buf *b, void (*show)(void *, const char *, size_t), void *ctx)
{
	char chunk[65536];
	ssize_t got = read(fd, chunk, sizeof chunk);
	if (got < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (got == 0) {
		if (b->len)
			show(ctx, b->p, b->len);
		buf_reset(b);
		return -1;
	}
	buf_add(b, chunk, (size_t)got);
	size_t start = 0;
	char *nl;
	while ((nl = memchr(b->p + start, '\n', b->len - start))) {
		show(ctx, b->p + start, (size_t)(nl - b->p) - start);
		start = (size_t)(nl - b->p) + 1;
	}
	memmove(b->p, b->p + start, b->len - start);
	b->len -= start;
	return 0;
}

/* Reaps the run when it has exited.  1 once it is reaped. */
static int run_reap(struct run *rn)
{
	if (rn->pid && !rn->reaped && waitpid(rn->pid, &rn->status, WNOHANG) == rn->pid) {
		rn->reaped = 1;
		rn->reaped_at = mono_ms();
		child_pgid = 0;
	}
	return rn->reaped;
}

/* Over when reaped and both pipes are at EOF (or drained long enough). */
static int run_over(struct run *rn)
{
	if (!run_reap(rn))
		return 0;
	return (rn->out < 0 && rn->err < 0) || mono_ms() - rn->reaped_at > DRAIN_MS;
}

static int exit_code(int status)
{
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the one-shot CLI ---- */

static void show_run_line(void *ctx, const char *s, size_t n)
{
	run_line(ctx, s, n);
}

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
	struct run rn;
	char err[512];
	const char *extra[] = {task, NULL};
	install_signals(0);
	if (run_start(&rn, o, extra, 1, term_width(1), term_use_color(o->color, 1), err,
	              sizeof err) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EX_BL_UNAVAILABLE;
	}
	while (!run_over(&rn)) {
		struct pollfd p[3] = {
		    {sig_pipe[0], POLLIN, 0}, {rn.out, POLLIN, 0}, {rn.err, POLLIN, 0}};
		if (poll(p, 3, rn.reaped ? 100 : 1000) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			unsigned char sigs[64];
			ssize_t k = read(sig_pipe[0], sigs, sizeof sigs);
			for (ssize_t i = 0; i < k; i++)
				if (sigs[i] == SIGINT || sigs[i] == SIGTERM || sigs[i] == SIGHUP)
					run_cancel(&rn);
		}
		if (rn.out >= 0 && p[1].revents &&
		    read_lines(rn.out, &rn.obuf, show_run_line, &rn) < 0)
			close(rn.out), rn.out = -1;
		if (rn.err >= 0 && p[2].revents &&
		    read_lines(rn.err, &rn.ebuf, pass_stderr, NULL) < 0)
			close(rn.err), rn.err = -1;
	}
	render_end(&rn.r);
	int code = exit_code(rn.status);
	run_free(&rn);
	return code;
}

/* ---- the interactive front end ---- */

struct app {
	struct opts *o;
	EditLine *el;
	History *hist;
	char *hist_path;
	struct run rn; /* rn.pid == 0: idle */
	int in_edit;   /* inside el_gets: the prompt is on screen */
	int shown;     /* the status line and the prompt are on screen */
	int color, width;
	int last_sigint;    /* the last key was a Ctrl+C at an idle prompt */
	int view_fd;        /* a memfd render writes to; pump_view() copies it out */
	struct buf partial; /* the view's last line while it is still open */
	int partial_broken; /* ... and a newline was written after it for the prompt */
	int quit;
	char *paused; /* a session stopped by /pause, continued by the next line */
	char *last_session;
	int runs;
	long long tok_in, tok_out;
	double cost;
};

static struct app A;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Columns of the prompt and the line up to the cursor. */
static int cursor_rows(void)
{
	const LineInfoW *li = el_wline(A.el);
	size_t w = PROMPT_W;
	for (const wchar_t *p = li->buffer; p < li->cursor; p++)
		w += (size_t)term_cp_width((uint32_t)*p);
	return (int)(w / (size_t)A.width);
}

static void status_text(struct buf *b)
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

/* Writes the status line (cut to the width) and a newline. */
static void draw_status(void)
{
	struct buf b = BUF_INIT, line = BUF_INIT;
	status_text(&b);
	size_t max = (size_t)(A.width > 2 ? A.width - 1 : 1), w = 0, i = 0;
	while (i < b.len) {
		uint32_t cp;
		int len = term_utf8_decode(b.p + i, b.len - i, &cp);
		if (w + (size_t)term_cp_width(cp) > max)
			break;
		w += (size_t)term_cp_width(cp);
		i += (size_t)len;
	}
	buf_addf(&line, "\r\033[K%s%.*s%s\n", A.color ? "\033[2m" : "", (int)i, b.p,
	         A.color ? "\033[0m" : "");
	write_all(1, line.p, line.len);
	buf_free(&b);
	buf_free(&line);
}

/* Takes the status line and the prompt off the screen. */
static void ui_hide(void)
{
	if (!A.shown)
		return;
	char seq[32];
	snprintf(seq, sizeof seq, "\r\033[%dA\033[J", cursor_rows() + 1);
	write_all(1, seq, strlen(seq));
	A.shown = 0;
	if (A.partial_broken && A.partial.len) { /* back to the end of the open line */
		write_all(1, "\033[A\r", 4);
		write_all(1, A.partial.p, A.partial.len);
	}
	A.partial_broken = 0;
}

/* Puts them back below what was written. */
static void ui_show(void)
{
	if (A.shown || !A.in_edit)
		return;
	if (A.partial.len) {
		write_all(1, "\n", 1);
		A.partial_broken = 1;
	}
	draw_status();
	el_set(A.el, EL_REFRESH);
	A.shown = 1;
}

/* Redraws only the status line, the cursor left where it is. */
static void ui_tick(void)
{
	if (!A.shown)
		return;
	char seq[32];
	snprintf(seq, sizeof seq, "\0337\r\033[%dA", cursor_rows() + 1);
	write_all(1, seq, strlen(seq));
	draw_status();
	write_all(1, "\0338", 2);
}

/* Writes one line of our own above the prompt. */
static void say(const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	buf_addc(&b, '\n');
	int was = A.shown;
	ui_hide();
	if (A.partial.len) { /* the open line is left as it is; its end comes below */
		write_all(1, "\n", 1);
		buf_reset(&A.partial);
	}
	write_all(1, b.p, b.len);
	if (was)
		ui_show();
	buf_free(&b);
}

/* Copies what render wrote to the memfd onto the terminal, keeping the
 * last line while it is open (a "$ cmd" waiting for its exit code). */
static void pump_view(void)
{
	off_t end = lseek(A.view_fd, 0, SEEK_END);
	if (end <= 0)
		return;
	char *p = xmalloc((size_t)end);
	ssize_t got = pread(A.view_fd, p, (size_t)end, 0);
	if (ftruncate(A.view_fd, 0) < 0 || lseek(A.view_fd, 0, SEEK_SET) < 0)
		got = -1;
	if (got > 0) {
		write_all(1, p, (size_t)got);
		char *nl = memrchr(p, '\n', (size_t)got);
		if (nl)
			buf_reset(&A.partial);
		char *rest = nl ? nl + 1 : p;
		buf_add(&A.partial, rest, (size_t)(p + got - rest));
	}
	free(p);
}

static void run_ended(void)
{
	struct run *rn = &A.rn;
	int was = A.shown, cancelled = rn->cancels > 0;
	ui_hide();
	render_end(&rn->r);
	pump_view();
	buf_reset(&A.partial);
	int code = exit_code(rn->status);
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
	run_free(rn);
	A.last_sigint = cancelled;
	if (was)
		ui_show();
}

static void show_ui_line(void *ctx, const char *s, size_t n)
{
	run_line(&A.rn, s, n);
	pump_view();
}

static void show_ui_err(void *ctx, const char *s, size_t n)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s  %.*s%s\n", A.color ? "\033[2m" : "", (int)n, s, A.color ? "\033[0m" : "");
	write_all(1, b.p, b.len);
	buf_free(&b);
}

static void new_session(void)
{
	if (A.rn.pid) {
		say("a task is running: Ctrl+C or /stop first");
		return;
	}
	free(A.paused);
	free(A.last_session);
	A.paused = A.last_session = NULL;
	A.runs = 0;
	A.tok_in = A.tok_out = 0;
	A.cost = 0;
	say("\n%s──── new session ────%s", A.color ? "\033[1m" : "", A.color ? "\033[0m" : "");
}

static void on_sigint(void)
{
	if (A.rn.pid) {
		run_cancel(&A.rn);
		say(A.rn.cancels == 1   ? "⏹ cancelling the task (Ctrl+C again to force)"
		    : A.rn.cancels == 2 ? "⏹ sent SIGTERM"
		                        : "⏹ sent SIGKILL");
		return;
	}
	const LineInfoW *li = el_wline(A.el);
	if (li->lastchar > li->buffer) {
		ui_hide();
		el_cursor(A.el, (int)(li->lastchar - li->cursor));
		el_deletestr(A.el, (int)(li->lastchar - li->buffer));
		ui_show();
		A.last_sigint = 0;
		return;
	}
	if (A.last_sigint) {
		A.quit = 1;
		return;
	}
	A.last_sigint = 1;
	say("(Ctrl+C again to quit, or Ctrl+D)");
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
		                      {sig_pipe[0], POLLIN, 0},
		                      {A.rn.pid ? A.rn.out : -1, POLLIN, 0},
		                      {A.rn.pid ? A.rn.err : -1, POLLIN, 0}};
		int n = poll(p, 4, A.rn.pid ? (A.rn.reaped ? 100 : 1000) : -1);
		if (n < 0 && errno != EINTR)
			return -1;
		if (n == 0) {
			ui_tick();
			continue;
		}
		if (p[1].revents & POLLIN) {
			unsigned char sigs[64];
			ssize_t k = read(sig_pipe[0], sigs, sizeof sigs);
			for (ssize_t i = 0; i < k; i++) {
				if (sigs[i] == SIGINT)
					on_sigint();
				else if (sigs[i] == SIGWINCH) {
					A.width = term_width(1);
					if (A.rn.pid)
						render_set_width(&A.rn.r, A.width);
					el_resize(A.el);
				}
			}
		}
		if (p[2].revents || p[3].revents) {
			ui_hide();
			if (A.rn.out >= 0 && p[2].revents &&
			    read_lines(A.rn.out, &A.rn.obuf, show_ui_line, NULL) < 0)
				close(A.rn.out), A.rn.out = -1;
			if (A.rn.err >= 0 && p[3].revents &&
			    read_lines(A.rn.err, &A.rn.ebuf, show_ui_err, NULL) < 0)
				close(A.rn.err), A.rn.err = -1;
			ui_show();
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
	if (run_start(&A.rn, A.o, extra, A.view_fd, A.width, A.color, err, sizeof err) < 0) {
		fprintf(stdout, "%s\n", err);
		A.rn.pid = 0;
		A.rn.out = A.rn.err = -1;
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
			run_cancel(&A.rn), printf("⏹ stopping the task\n");
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
	A.rn.out = A.rn.err = -1;
	A.color = term_use_color(o->color, 1);
	A.view_fd = memfd_create("bl-view", MFD_CLOEXEC);
	if (A.view_fd < 0) {
		fprintf(stderr, PROG ": memfd_create: %s\n", strerror(errno));
		return EX_BL_SOFTWARE;
	}
	A.width = term_width(1);
	if (tcgetattr(0, &saved_tio) == 0)
		have_tio = 1;
	install_signals(1);
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

	printf("%sbetter-llm%s — type a task, /help for commands, Ctrl+D to quit\n",
	       A.color ? "\033[1m" : "", A.color ? "\033[0m" : "");
	fflush(stdout);
	while (!A.quit) {
		draw_status();
		A.in_edit = A.shown = 1;
		int count = 0;
		const char *got = el_gets(A.el, &count);
		A.in_edit = 0;
		if (!got || count <= 0) {
			A.shown = 0;
			write_all(1, "\n", 1);
			break;
		}
		/* the line is on screen below the status line: replace both by an echo */
		size_t w = PROMPT_W + term_display_width(got, strcspn(got, "\n"));
		char seq[32];
		snprintf(seq, sizeof seq, "\r\033[%dA\033[J", (int)(w / (size_t)A.width) + 2);
		write_all(1, seq, strlen(seq));
		A.shown = 0;
		char *line = xstrdup(got);
		if (strspn(line, " \n") != strlen(line) || A.paused)
			printf("%s%s%s%s", A.color ? "\033[1m" : "", PROMPT,
			       A.color ? "\033[0m" : "", line);
		fflush(stdout);
		handle_line(line);
		fflush(stdout);
		free(line);
	}
	if (A.rn.pid) { /* quitting while a task runs: stop it and keep its end */
		run_cancel(&A.rn);
		int64_t deadline = mono_ms() + 15000;
		while (!run_over(&A.rn) && mono_ms() < deadline) {
			struct pollfd p[2] = {{A.rn.out, POLLIN, 0}, {A.rn.err, POLLIN, 0}};
			poll(p, 2, 200);
			if (A.rn.out >= 0 && p[0].revents &&
			    read_lines(A.rn.out, &A.rn.obuf, show_ui_line, NULL) < 0)
				close(A.rn.out), A.rn.out = -1;
			if (A.rn.err >= 0 && p[1].revents &&
			    read_lines(A.rn.err, &A.rn.ebuf, show_ui_err, NULL) < 0)
				close(A.rn.err), A.rn.err = -1;
		}
		if (!run_reap(&A.rn)) {
			kill(-A.rn.pid, SIGKILL);
			waitpid(A.rn.pid, &A.rn.status, 0);
			A.rn.reaped = 1;
		}
		render_end(&A.rn.r);
		pump_view();
		run_free(&A.rn);
	}
	el_end(A.el);
	history_end(A.hist);
	free(A.hist_path);
	free(A.paused);
	free(A.last_session);
	free(o->model);
	buf_free(&A.partial);
	close(A.view_fd);
	restore_terminal();
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
			return reset_terminal();
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
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
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
