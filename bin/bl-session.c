/*
 * bl-session — the sessions of $BL_HOME/sessions (DESIGN §6): list
 * them, show one, export one in the seed's schema, resume a stopped one,
 * and remove old ones.  Ids may be abbreviated like git's object names.
 *
 * What is a session, which of its files is read, how ids match, which
 * document is exported and how it is written is lib/sessions's; a
 * document built from a log is lib/session's (the very function
 * bl-manager saves with).  `show` and `resume` chain-load: they resolve
 * the id, then exec bl-view or bl-manager (found beside this executable
 * first, then on PATH), so a session is shown exactly as bl-view shows
 * it and resumed exactly as bl-manager resumes it.
 *
 * Contract (bl-session(1)): stdout carries only what was asked for (the
 * list, the document, what gc removed); diagnostics go to stderr.  A
 * session whose log a bl-manager holds is never removed.  Exit status: 0
 * done, 64 usage or an ambiguous id, 65 a session that cannot be read,
 * 66 no such session, 69 bl-view or bl-manager cannot be run, 70 the
 * sessions directory cannot be read or a session not removed, 74 the
 * output cannot be written; show and resume exit as bl-view and
 * bl-manager do.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "session.h"
#include "sessions.h"
#include "supervise.h"
#include "term.h"
#include "util.h"

#define EX_NOINPUT 66
#define EX_IOERR 74

static const char usage_text[] =
    "usage: bl-session list [--json]\n"
    "       bl-session show ID [-f] [--color WHEN] [-w N]\n"
    "       bl-session export ID [--format json|json.gz] [-o FILE]\n"
    "       bl-session resume ID [bl-manager options] [MESSAGE]\n"
    "       bl-session gc (--keep N | --older-than DAYS) [--dry-run]\n"
    "The sessions of $BL_HOME/sessions: list them (newest first), show one\n"
    "through bl-view, export one in the seed's schema, resume a stopped one\n"
    "with bl-manager, remove old ones.  ID may be any unique prefix of an id.\n"
    "\n"
    "  list --json              one JSON array instead of the table\n"
    "  export --format F        json (default; json.gz when FILE ends in .gz)\n"
    "                           or json.gz\n"
    "  export -o FILE           write FILE (atomically) instead of stdout\n"
    "  gc --keep N              remove all but the N newest sessions\n"
    "  gc --older-than DAYS     remove sessions not written for DAYS days\n"
    "  gc -n, --dry-run         say what would be removed, remove nothing\n"
    "  -h, --help               show this help\n"
    "      --version            show the version\n"
    "\n"
    "Exit status: 0 done, 64 usage or an ambiguous id, 65 unreadable session,\n"
    "66 no such session, 69 bl-view/bl-manager not found, 70 internal, 74 write\n"
    "error; show and resume exit as bl-view and bl-manager.  See bl-session(1).\n";

/* The sessions directory and what is in it. */
struct store {
	char *dir;
	struct session_file *v;
	size_t n;
};

static void store_free(struct store *st)
{
	sessions_free(st->v, st->n);
	free(st->dir);
}

/* Lists $BL_HOME/sessions.  -1 to go on, else the exit status. */
static int store_load(struct store *st)
{
	char *home = config_bl_home(), err[800];
	memset(st, 0, sizeof *st);
	st->dir = xasprintf("%s/sessions", home);
	free(home);
	if (sessions_list(st->dir, &st->v, &st->n, err, sizeof err) < 0) {
		warnx("%s", err);
		return EX_BL_SOFTWARE;
	}
	return -1;
}

/* Finds the one session id names.  -1 with *idx, else the exit status
 * (66 none, 64 ambiguous: the candidates are listed). */
static int resolve(const struct store *st, const char *id, size_t *idx)
{
	if (!*id) {
		warnx("the session id is empty");
		return EX_BL_USAGE;
	}
	size_t first = 0, count = sessions_match(st->v, st->n, id, &first);
	if (!count) {
		warnx("no session '%s' in %s", id, st->dir);
		return EX_NOINPUT;
	}
	if (count > 1) {
		warnx("session id '%s' is ambiguous; it may be:", id);
		for (size_t i = first; i < first + count; i++)
			fprintf(stderr, "  %s\n", st->v[i].id);
		return EX_BL_USAGE;
	}
	*idx = first;
	return -1;
}

/* Execs a sibling program (beside this executable, else on PATH). */
static int exec_sibling(const char *name, char **argv)
{
	char *self = sv_self_dir();
	char *prog = sv_which(name, self);
	free(self);
	if (!prog) {
		warnx("cannot find '%s' beside bl-session or on PATH", name);
		return EX_BL_UNAVAILABLE;
	}
	fflush(stdout);
	execv(prog, argv);
	warnx("cannot run '%s': %s", prog, strerror(errno));
	free(prog);
	return EX_BL_UNAVAILABLE;
}

static int bad_option(int c, char **argv, const char *cmd)
{
	if (c == ':')
		warnx("option '%s' needs a value (see bl-session --help)", argv[optind - 1]);
	else if (optopt)
		warnx("%s: unknown option '-%c' (see bl-session --help)", cmd, optopt);
	else
		warnx("%s: unknown option '%s' (see bl-session --help)", cmd, argv[optind - 1]);
	return EX_BL_USAGE;
}

/* The one ID argument left after the options.  NULL when not exactly one. */
static const char *one_id(int argc, char **argv, const char *cmd)
{
	if (argc - optind == 1)
		return argv[optind];
	if (argc == optind)
		warnx("%s: which session? (an id, see bl-session list)", cmd);
	else
		warnx("%s: one session id expected, got %d", cmd, argc - optind);
	return NULL;
}

/* ---- list ---- */

struct entry {
	const struct session_file *f;
	struct session_info info;
};

static int newest_first(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	if (a->info.began_ms != b->info.began_ms)
		return a->info.began_ms > b->info.began_ms ? -1 : 1;
	return -strcmp(a->f->id, b->f->id);
}

/* Every session's summary, newest first; unreadable ones are warned
 * about and kept (status "unreadable").  A malloc'd array of st->n. */
static struct entry *gather(const struct store *st)
{
	struct entry *e = xcalloc(st->n + 1, sizeof *e);
	char err[800];
	for (size_t i = 0; i < st->n; i++) {
		e[i].f = &st->v[i];
		if (sessions_info(st->dir, e[i].f, &e[i].info, err, sizeof err) < 0)
			warnx("warning: %s", err);
		else if (e[i].info.bad_lines)
			warnx("warning: %s: %d unreadable line%s skipped", e[i].f->path,
			     e[i].info.bad_lines, e[i].info.bad_lines == 1 ? "" : "s");
	}
	if (st->n)
		qsort(e, st->n, sizeof *e, newest_first);
	return e;
}

static void entries_free(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		session_info_free(&e[i].info);
	free(e);
}

/* Columns one code point of a task takes in the list (a control
 * character is shown as a space). */
static size_t cp_cols(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f ? 1 : (size_t)term_cp_width(cp);
}

/* Appends the first line of s, control characters as spaces, cut with
 * "…" to at most cols (>= 1) display columns. */
static void add_cut(struct buf *out, const char *s, size_t cols)
{
	size_t n = strcspn(s, "\r\n"), total = 0, used = 0, cut = n;
	uint32_t cp;
	for (size_t i = 0; i < n; total += cp_cols(cp))
		i += (size_t)term_utf8_decode(s + i, n - i, &cp);
	if (total > cols)
		for (size_t i = 0; i < n;) {
			int len = term_utf8_decode(s + i, n - i, &cp);
			if (used + cp_cols(cp) > cols - 1) {
				cut = i;
				break;
			}
			used += cp_cols(cp);
			i += (size_t)len;
		}
	while (total > cols && cut && s[cut - 1] == ' ')
		cut--;
	for (size_t i = 0; i < cut; i++)
		buf_addc(out, (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i]);
	if (total > cols)
		buf_adds(out, "…");
}

/* The DATE column, as ls(1) dates: "Nov 24 21:05" within half a year
 * of now, else "Nov 24  2025"; local time. */
static void list_date(int64_t ms, time_t now, char out[16])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	int recent = t <= now + 3600 && now - t < 183 * 86400;
	if (ms <= 0 || !localtime_r(&t, &tm) ||
	    !strftime(out, 16, recent ? "%b %e %H:%M" : "%b %e  %Y", &tm))
		snprintf(out, 16, "-");
}

/* The table: one line per session, the task cut to what is left of the
 * width. */
static void list_table(const struct entry *e, size_t n, struct buf *out)
{
	char(*cost)[32] = xcalloc(n + 1, sizeof *cost);
	int idw = 2, stw = 6, cw = 4;
	for (size_t i = 0; i < n; i++) {
		int a = (int)strlen(e[i].f->id), b = (int)strlen(e[i].info.status);
		int c = snprintf(cost[i], sizeof cost[i], "$%.4f", e[i].info.cost_usd);
		idw = a > idw ? a : idw;
		stw = b > stw ? b : stw;
		cw = c > cw ? c : cw;
	}
	size_t width = (size_t)term_width(1);
	size_t fixed = (size_t)idw + 2 + 12 + 2 + (size_t)stw + 2 + 5 + 2 + (size_t)cw + 2;
	size_t room = width > fixed + 10 ? width - fixed : 10;
	buf_addf(out, "%-*s  %-12s  %-*s  %5s  %*s  %s\n", idw, "ID", "DATE", stw, "STATUS",
	         "TURNS", cw, "COST", "TASK");
	time_t now = time(NULL);
	for (size_t i = 0; i < n; i++) {
		char date[16];
		list_date(e[i].info.began_ms, now, date);
		buf_addf(out, "%-*s  %-12s  %-*s  %5ld  %*s  ", idw, e[i].f->id, date, stw,
		         e[i].info.status, e[i].info.turns, cw, cost[i]);
		add_cut(out, e[i].info.task, room);
		buf_addc(out, '\n');
	}
	free(cost);
}

static void kstr_or_null(struct jw *w, const char *k, const char *v)
{
	jw_key(w, k);
	if (v && *v)
		jw_str(w, v);
	else
		jw_null(w);
}

static void list_json(const struct entry *e, size_t n, struct buf *out)
{
	struct jw w;
	jw_init(&w, out);
	jw_arr(&w);
	for (size_t i = 0; i < n; i++) {
		const struct session_info *in = &e[i].info;
		jw_obj(&w);
		jw_kstr(&w, "id", e[i].f->id);
		kstr_or_null(&w, "created_at", in->created_at);
		kstr_or_null(&w, "completed_at", in->completed_at);
		jw_kstr(&w, "status", in->status);
		jw_kstr(&w, "task", in->task);
		jw_kint(&w, "turns", in->turns);
		jw_knum(&w, "cost_usd", in->cost_usd);
		jw_kbool(&w, "running", in->running);
		jw_kstr(&w, "path", e[i].f->path);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	buf_addc(out, '\n');
}

static int cmd_list(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int json = 0, c;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else if (c == 'h')
			return fputs(usage_text, stdout), 0;
		else
			return bad_option(c, argv, "list");
	}
	if (optind < argc) {
		warnx("list: unexpected argument '%s'", argv[optind]);
		return EX_BL_USAGE;
	}
	struct store st;
	int rc = store_load(&st);
	if (rc >= 0)
		return rc;
	struct entry *e = gather(&st);
	struct buf out = BUF_INIT;
	if (json)
		list_json(e, st.n, &out);
	else
		list_table(e, st.n, &out);
	rc = 0;
	if (write_all(1, out.p, out.len) < 0) {
		warnx("stdout: %s", strerror(errno));
		rc = EX_IOERR;
	}
	buf_free(&out);
	entries_free(e, st.n);
	store_free(&st);
	return rc;
}

/* ---- show, resume ---- */

static int cmd_show(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"follow", no_argument, NULL, 'f'},       {"color", required_argument, NULL, 'c'},
	    {"colour", required_argument, NULL, 'c'}, {"width", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	char *args[16];
	int na = 0, c;
	args[na++] = "bl-view";
	while ((c = getopt_long(argc, argv, ":fw:h", longopts, NULL)) != -1) {
		if (na > 10)
			return warnx("show: too many options"), EX_BL_USAGE;
		if (c == 'f') {
			args[na++] = "--follow";
		} else if (c == 'c' || c == 'w') {
			args[na++] = c == 'c' ? "--color" : "--width";
			args[na++] = optarg;
		} else if (c == 'h') {
			return fputs(usage_text, stdout), 0;
		} else {
			return bad_option(c, argv, "show");
		}
	}
	const char *id = one_id(argc, argv, "show");
	if (!id)
		return EX_BL_USAGE;
	struct store st;
	size_t k;
	int rc = store_load(&st);
	if (rc < 0 && (rc = resolve(&st, id, &k)) < 0) {
		args[na++] = "--";
		args[na++] = st.v[k].path;
		args[na] = NULL;
		rc = exec_sibling("bl-view", args);
	}
	store_free(&st);
	return rc;
}

/* resume ID [ARGS...]: everything after ID goes to bl-manager as is. */
static int cmd_resume(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		if (argc < 2)
			warnx("resume: which session? (an id, see bl-session list)");
		else
			fputs(usage_text, stdout);
		return argc < 2 ? EX_BL_USAGE : 0;
	}
	if (argv[1][0] == '-') {
		warnx("resume: the session id comes first, then bl-manager's options");
		return EX_BL_USAGE;
	}
	struct store st;
	size_t k;
	int rc = store_load(&st);
	if (rc < 0 && (rc = resolve(&st, argv[1], &k)) < 0) {
		if (!(st.v[k].forms & SESSION_JSONL)) {
			warnx("session '%s' has no log to resume (only its final document)",
			     st.v[k].id);
			rc = EX_NOINPUT;
		} else {
			char **args = xcalloc((size_t)argc + 3, sizeof *args);
			args[0] = "bl-manager";
			args[1] = "--resume";
			args[2] = st.v[k].id;
			for (int i = 2; i < argc; i++)
				args[i + 1] = argv[i];
			rc = exec_sibling("bl-manager", args);
			free(args);
		}
	}
	store_free(&st);
	return rc;
}

/* ---- export ---- */

static int cmd_export(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"format", required_argument, NULL, 'F'},
	    {"output", required_argument, NULL, 'o'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int compress = -1, c;
	const char *out = NULL;
	while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
		if (c == 'F') {
			if (strcmp(optarg, "json") && strcmp(optarg, "json.gz")) {
				warnx("--format: expected json or json.gz, not '%s'", optarg);
				return EX_BL_USAGE;
			}
			compress = !strcmp(optarg, "json.gz");
		} else if (c == 'o') {
			out = optarg;
		} else if (c == 'h') {
			return fputs(usage_text, stdout), 0;
		} else {
			return bad_option(c, argv, "export");
		}
	}
	const char *id = one_id(argc, argv, "export");
	if (!id)
		return EX_BL_USAGE;
	if (out && !strcmp(out, "-"))
		out = NULL;
	if (compress < 0) {
		size_t n = out ? strlen(out) : 0;
		compress = n > 3 && !strcmp(out + n - 3, ".gz");
	}
	if (compress && !out && isatty(1)) {
		warnx("export: compressed data not written to a terminal (use -o FILE or a pipe)");
		return EX_BL_USAGE;
	}
	struct store st;
	size_t k;
	int rc = store_load(&st);
	if (rc >= 0 || (rc = resolve(&st, id, &k)) >= 0) {
		store_free(&st);
		return rc;
	}
	struct buf doc = BUF_INIT;
	char err[1200];
	rc = 0;
	if (sessions_document(st.dir, &st.v[k], &doc, err, sizeof err) < 0) {
		warnx("%s", err);
		rc = EX_BL_DATAERR;
	} else if (out ? sessions_write_document(out, compress, &doc, err, sizeof err) < 0
	               : session_write_document(1, compress, &doc, err, sizeof err) < 0) {
		warnx("%s%s", out ? "" : "stdout: ", err);
		rc = EX_IOERR;
	}
	buf_free(&doc);
	store_free(&st);
	return rc;
}

/* ---- gc ---- */

static int parse_count(const char *opt, const char *s, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v) || v < 0 || v > max) {
		warnx("%s: expected a number >= 0, not '%s'", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int cmd_gc(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"keep", required_argument, NULL, 'k'},
	    {"older-than", required_argument, NULL, 'o'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	double keep = -1, days = -1;
	int dry = 0, c;
	while ((c = getopt_long(argc, argv, ":nh", longopts, NULL)) != -1) {
		if (c == 'k') {
			if (parse_count("--keep", optarg, 1e9, &keep) < 0)
				return EX_BL_USAGE;
			if (keep != floor(keep)) {
				warnx("--keep: expected a whole number, not '%s'", optarg);
				return EX_BL_USAGE;
			}
		} else if (c == 'o') {
			if (parse_count("--older-than", optarg, 1e6, &days) < 0)
				return EX_BL_USAGE;
		} else if (c == 'n') {
			dry = 1;
		} else if (c == 'h') {
			return fputs(usage_text, stdout), 0;
		} else {
			return bad_option(c, argv, "gc");
		}
	}
	if (optind < argc) {
		warnx("gc: unexpected argument '%s'", argv[optind]);
		return EX_BL_USAGE;
	}
	if (keep < 0 && days < 0) {
		warnx("gc: say what to remove: --keep N or --older-than DAYS");
		return EX_BL_USAGE;
	}
	struct store st;
	int rc = store_load(&st);
	if (rc >= 0)
		return rc;
	struct entry *e = gather(&st);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	int64_t cutoff =
	    (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - (int64_t)(days * 86400000.0);
	struct buf out = BUF_INIT;
	char err[800];
	rc = 0;
	for (size_t i = 0; i < st.n; i++) {
		if (keep >= 0 && (double)i < keep)
			continue;
		if (days >= 0 && e[i].info.mtime_ms >= cutoff)
			continue;
		int r = dry ? (e[i].info.running ? 1 : 0)
		            : sessions_remove(st.dir, e[i].f, err, sizeof err);
		if (r == 1) {
			warnx("kept %s: a bl-manager is running it", e[i].f->id);
		} else if (r < 0) {
			warnx("%s", err);
			rc = EX_BL_SOFTWARE;
		} else {
			buf_addf(&out, "%s %s (%s, %s)\n", dry ? "would remove" : "removed",
			         e[i].f->id, e[i].info.status,
			         *e[i].info.created_at ? e[i].info.created_at : "no task");
		}
	}
	if (write_all(1, out.p, out.len) < 0 && !rc) {
		warnx("stdout: %s", strerror(errno));
		rc = EX_IOERR;
	}
	buf_free(&out);
	entries_free(e, st.n);
	store_free(&st);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int, char **);
	} cmds[] = {{"list", cmd_list},     {"show", cmd_show}, {"export", cmd_export},
	            {"resume", cmd_resume}, {"gc", cmd_gc},     {"ls", cmd_list}};
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EX_BL_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("bl-session (better-llm) %s\n", BL_VERSION);
		return 0;
	}
	opterr = 0;
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	warnx("unknown command '%s' (see bl-session --help)", argv[1]);
	return EX_BL_USAGE;
}
