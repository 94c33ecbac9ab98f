/*
 * bl-view — shows a conversation (DESIGN §2) for a person: reads JSON
 * Lines from stdin or a file, or a saved session (<id>.json.gz or
 * <id>.json, the seed's document whose `messages` array holds the
 * lines), and hands every line to lib/render as soon as it is read, so a
 * pipe from a running `bl-manager --json -s` is shown live.  --follow
 * tails a session file that is still being written until its `result`
 * line.  Markdown, wrapping and colour are render's (lib/markdown,
 * lib/term); this file only finds the input and feeds it.
 *
 * Contract (bl-view(1)): stdout carries only the view; diagnostics go to
 * stderr.  A line that is not a conversation line is reported
 * ("bl-view: FILE:LINE: what") and skipped; the rest is still shown.
 * Exit status: 0 shown, 64 usage, 65 a malformed line or document was
 * skipped, 66 the input cannot be opened, 74 a read error.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "config.h"
#include "conv.h"
#include "json.h"
#include "render.h"
#include "term.h"

#define EX_NOINPUT 66
#define EX_IOERR 74
#define LINE_MAX_BYTES (64 * 1024 * 1024)
#define FOLLOW_POLL_MS 500

struct view {
	struct render r;
	const char *name; /* "stdin" or the path, for messages */
	int malformed;    /* lines skipped */
	int saw_result;
	long lineno;
};

static void usage(int fd)
{
	static const char text[] =
	    "usage: bl-view [options] [FILE | SESSION-ID]\n"
	    "Show a conversation (JSON Lines, or a saved session .json/.json.gz) for a\n"
	    "person: stage headers, text as Markdown, one line per tool call, verdicts,\n"
	    "cycles and the closing summary.  Without FILE, or with -, reads stdin as it\n"
	    "arrives.\n"
	    "\n"
	    "  -f, --follow        keep reading FILE as it grows, until its result line\n"
	    "      --color WHEN    auto (default: on a terminal, unless NO_COLOR is set),\n"
	    "                      always or never\n"
	    "  -w, --width N       wrap to N columns (default: the terminal's, else\n"
	    "                      $COLUMNS, else 80)\n"
	    "  -h, --help          show this help\n"
	    "      --version       show the version\n"
	    "\n"
	    "Exit status: 0 shown, 64 usage, 65 malformed input skipped, 66 cannot open,\n"
	    "74 read error.  See bl-view(1).\n";
	write_all(fd, text, sizeof text - 1);
}

/* Shows one parsed conversation line. */
static void show_conv(struct view *v, const char *s, size_t n, long where)
{
	struct conv c;
	char err[256];
	if (conv_parse(s, n, v->name, &c, err, sizeof err) < 0) {
		warnx("%s:%ld: not a conversation line: %s", v->name, where,
		     strchr(err, ' ') ? strchr(err, ' ') + 1 : err);
		v->malformed++;
		return;
	}
	for (size_t i = 0; i < c.n; i++) {
		render_item(&v->r, &c.items[i]);
		if (c.items[i].type == CONV_RESULT)
			v->saw_result = 1;
	}
	conv_free(&c);
}

/* A saved session document: every element of its `messages` array.
 * -1 when s is not such a document. */
static int show_document(struct view *v, const char *s, size_t n)
{
	struct json j;
	struct json_error e;
	if (json_parse(&j, s, n, &e) < 0)
		return -1;
	int msgs = json_get(&j, 0, "messages"), el, i;
	if (json_type(&j, msgs) != JSON_ARRAY || json_get(&j, 0, "type") >= 0) {
		json_free(&j);
		return -1;
	}
	struct buf line = BUF_INIT;
	JSON_ARRAY_EACH(&j, msgs, i, el)
	{
		size_t len;
		const char *raw = json_raw(&j, el, &len);
		/* one line: in valid JSON a newline can only be whitespace */
		buf_reset(&line);
		buf_add(&line, raw, len);
		for (size_t k = 0; k < line.len; k++)
			if (line.p[k] == '\n' || line.p[k] == '\r')
				line.p[k] = ' ';
		show_conv(v, line.p, line.len, i + 1);
	}
	buf_free(&line);
	json_free(&j);
	return 0;
}

/* One line of a JSON Lines stream (without its '\n'). */
static void show_line(struct view *v, const char *s, size_t n)
{
	v->lineno++;
	size_t k = 0;
	while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
		k++;
	if (k == n)
		return;
	if (v->lineno == 1 && show_document(v, s, n) == 0)
		return;
	show_conv(v, s, n, v->lineno);
}

/* Shows every whole line in b and keeps the rest (a line in flight). */
static void drain_lines(struct view *v, struct buf *b)
{
	size_t start = 0;
	for (;;) {
		char *nl = memchr(b->p + start, '\n', b->len - start);
		if (!nl)
			break;
		show_line(v, b->p + start, (size_t)(nl - (b->p + start)));
		start = (size_t)(nl - b->p) + 1;
	}
	if (start) {
		memmove(b->p, b->p + start, b->len - start);
		b->len -= start;
		b->p[b->len] = '\0';
	}
}

/* Reads fd to EOF, showing lines as they come.  A text whose first line
 * is not JSON (a pretty-printed session document) is read whole and
 * shown as a document.  0 or -1 (read error, reported). */
static int read_stream(struct view *v, int fd, struct buf *b)
{
	char chunk[65536];
	for (;;) {
		ssize_t got = read(fd, chunk, sizeof chunk);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			warnx("%s: read: %s", v->name, strerror(errno));
			return -1;
		}
		if (got == 0)
			return 0;
		buf_add(b, chunk, (size_t)got);
		if (v->lineno == 0 && b->len && b->p[0] == '{' && memchr(b->p, '\n', b->len)) {
			/* one JSON text spread over several lines? */
			struct json j;
			size_t first = (size_t)((char *)memchr(b->p, '\n', b->len) - b->p);
			if (json_parse(&j, b->p, first, NULL) < 0) {
				if (read_all(fd, b) < 0) {
					warnx("%s: read: %s", v->name, strerror(errno));
					return -1;
				}
				if (show_document(v, b->p, b->len) < 0) {
					warnx("%s: neither JSON Lines nor a session document",
					     v->name);
					v->malformed++;
				}
				buf_reset(b);
				v->lineno = 1;
				return 0;
			}
			json_free(&j);
		}
		if (b->len > LINE_MAX_BYTES && !memchr(b->p, '\n', b->len)) {
			warnx("%s:%ld: line longer than %d bytes; skipped", v->name, v->lineno + 1,
			     LINE_MAX_BYTES);
			v->malformed++;
			v->lineno++;
			buf_reset(b);
		}
		drain_lines(v, b);
	}
}

/* A gzip file, whole: a session document, or JSON Lines compressed. */
static int read_gzip(struct view *v, const char *path)
{
	gzFile gz = gzopen(path, "rb");
	if (!gz) {
		warnx("cannot open '%s': %s", path, strerror(errno ? errno : ENOMEM));
		return EX_NOINPUT;
	}
	struct buf b = BUF_INIT;
	char chunk[65536];
	int got;
	while ((got = gzread(gz, chunk, sizeof chunk)) > 0)
		buf_add(&b, chunk, (size_t)got);
	int zerr = 0;
	const char *msg = got < 0 ? gzerror(gz, &zerr) : NULL;
	gzclose(gz);
	if (msg) {
		warnx("%s: %s", path, msg);
		buf_free(&b);
		return EX_IOERR;
	}
	if (show_document(v, b.p ? b.p : "", b.len) < 0) {
		drain_lines(v, &b);
		if (b.len)
			show_line(v, b.p, b.len);
	}
	buf_free(&b);
	return 0;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && !strcmp(s + n - m, suf);
}

/* A session id names $BL_HOME/sessions/<id>.jsonl, else .json.gz, else
 * .json; NULL when none exists.  malloc'd. */
static char *session_file(const char *id)
{
	static const char *const exts[] = {".jsonl", ".json.gz", ".json"};
	if (strchr(id, '/'))
		return NULL;
	char *home = config_bl_home();
	char *found = NULL;
	for (size_t i = 0; i < 3 && !found; i++) {
		char *p = xasprintf("%s/sessions/%s%s", home, id, exts[i]);
		if (access(p, R_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(home);
	return found;
}

/* Waits until path changes (inotify) or FOLLOW_POLL_MS pass. */
static void wait_change(int ino)
{
	struct pollfd p = {ino, POLLIN, 0};
	if (ino < 0) {
		poll(NULL, 0, FOLLOW_POLL_MS);
		return;
	}
	if (poll(&p, 1, FOLLOW_POLL_MS) > 0) {
		char ev[4096];
		while (read(ino, ev, sizeof ev) > 0)
			;
	}
}

/* Reads a growing file until a result line is shown. */
static int follow(struct view *v, int fd, const char *path, struct buf *b)
{
	int ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino >= 0 && inotify_add_watch(ino, path, IN_MODIFY | IN_CLOSE_WRITE) < 0) {
		close(ino);
		ino = -1;
	}
	int rc = 0;
	while (!v->saw_result) {
		if (read_stream(v, fd, b) < 0) {
			rc = -1;
			break;
		}
		if (v->saw_result)
			break;
		struct stat st;
		if (stat(path, &st) < 0) /* removed: the run is over */
			break;
		wait_change(ino);
	}
	if (ino >= 0)
		close(ino);
	return rc;
}

enum { OPT_COLOR = 256, OPT_VERSION };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"follow", no_argument, NULL, 'f'},
	    {"color", required_argument, NULL, OPT_COLOR},
	    {"colour", required_argument, NULL, OPT_COLOR},
	    {"width", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	enum term_color cmode = TERM_COLOR_AUTO;
	int follow_mode = 0, width = 0, c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fw:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			follow_mode = 1;
			break;
		case OPT_COLOR:
			if (term_parse_color(optarg, &cmode) < 0) {
				warnx("--color: expected auto, always or never, not '%s'", optarg);
				return EX_BL_USAGE;
			}
			break;
		case 'w': {
			char *end;
			long n = strtol(optarg, &end, 10);
			if (*end || end == optarg || n < 10 || n > 1000) {
				warnx("--width: expected columns 10..1000, not '%s'", optarg);
				return EX_BL_USAGE;
			}
			width = (int)n;
			break;
		}
		case 'h':
			usage(1);
			return 0;
		case OPT_VERSION:
			printf("bl-view (better-llm) %s\n", BL_VERSION);
			return 0;
		case ':':
			warnx("option '%s' needs a value (see bl-view --help)", argv[optind - 1]);
			return EX_BL_USAGE;
		default:
			if (optopt)
				warnx("unknown option '-%c' (see bl-view --help)", optopt);
			else
				warnx("unknown option '%s' (see bl-view --help)", argv[optind - 1]);
			return EX_BL_USAGE;
		}
	}
	if (argc - optind > 1) {
		warnx("one input expected, got %d", argc - optind);
		return EX_BL_USAGE;
	}
	const char *arg = optind < argc ? argv[optind] : "-";
	char *path = NULL;
	if (strcmp(arg, "-")) {
		path = access(arg, F_OK) == 0 ? xstrdup(arg) : session_file(arg);
		if (!path) {
			warnx("cannot open '%s': %s", arg, strerror(ENOENT));
			return EX_NOINPUT;
		}
	}
	signal(SIGPIPE, SIG_DFL);

	struct view v = {0};
	v.name = path ? path : "stdin";
	render_init(&v.r, 1, term_use_color(cmode, 1));
	render_set_width(&v.r, width ? width : term_width(1));
	render_set_markdown(&v.r, 1);
	int rc = 0;
	if (path && (has_suffix(path, ".gz") || has_suffix(path, ".json"))) {
		rc = has_suffix(path, ".gz") ? read_gzip(&v, path) : 0;
		if (!has_suffix(path, ".gz")) {
			struct buf b = BUF_INIT;
			if (read_file(path, &b) < 0) {
				warnx("cannot read '%s': %s", path, strerror(errno));
				rc = EX_NOINPUT;
			} else if (show_document(&v, b.p ? b.p : "", b.len) < 0) {
				drain_lines(&v, &b);
				if (b.len)
					show_line(&v, b.p, b.len);
			}
			buf_free(&b);
		}
	} else {
		int fd = 0;
		if (path && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			warnx("cannot open '%s': %s", path, strerror(errno));
			free(path);
			render_free(&v.r);
			return EX_NOINPUT;
		}
		struct buf b = BUF_INIT;
		int r = follow_mode && path ? follow(&v, fd, path, &b) : read_stream(&v, fd, &b);
		if (r < 0)
			rc = EX_IOERR;
		else if (b.len)
			show_line(&v, b.p, b.len); /* a last line without its '\n' */
		buf_free(&b);
		if (fd > 0)
			close(fd);
	}
	render_end(&v.r);
	render_free(&v.r);
	free(path);
	if (!rc && v.malformed)
		rc = EX_BL_DATAERR;
	return rc;
}
