/*
 * bl-commit — the Committer stage (DESIGN §1, §4): stages every change in
 * the workspace's git work tree (`git add -A`), gives the model the
 * conversation's context plus the staged stat and diff (capped, head and
 * tail kept) in ONE request with no tools, and commits with git itself,
 * the model's final text being the commit message.  It writes a `commit`
 * line {sha, subject, files} and a `message` line saying what it did.
 *
 * Guarantees: git is always run with an argv (never a shell string built
 * from data), with stdin /dev/null, in its own process group that is
 * ended on SIGTERM/SIGINT; the message reaches git through a private
 * temporary file (-F).  Nothing staged: a `message` line "nothing to
 * commit", exit 0, and no request.  Not a git work tree, or no git
 * identity configured: an `error` line of kind config, exit 78, before
 * any request.  The subject is at most 72 characters (see clean_message),
 * and the commit line's sha and subject are read back from git.  A
 * workspace `.env` (where keys live) is never staged by bl-commit.
 * --dry-run stages into a copy of the index, so the real index is left
 * as it was.  Hooks run (no --no-verify); git is not sandboxed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "child.h"
#include "log.h"
#include "stage.h"

static const struct stage_spec spec = {
    .prog = "bl-commit",
    .role = "committer",
    .purpose = "Commit the work tree: stage every change with git, have the model write the "
               "message.",
    .writes = 0, /* the model has no tools: bl-commit itself runs git */
};

#define SUBJECT_MAX 72         /* characters (UTF-8 code points) */
#define DIFF_HEAD (40 * 1024)  /* the diff given to the model: head ... */
#define DIFF_TAIL (20 * 1024)  /* ... and tail */
#define STAT_HEAD (12 * 1024)  /* the stat: head ... */
#define STAT_TAIL (4 * 1024)   /* ... and tail */
#define GIT_OUT_MAX (64 << 20) /* other commands: all of it, up to this */
#define GIT_ERR_MAX (8 * 1024) /* stderr kept for messages */
#define GIT_GRACE_MS 1500      /* SIGTERM -> SIGKILL on interruption */
#define GIT_DRAIN_MS 2000      /* after git exits, wait this long for its pipes, then end */

/* One git run: stdout kept as head + tail (bounded memory), stderr's head. */
struct git_out {
	struct child_cap out; /* set out.head_max, out.tail_max; both 0: GIT_OUT_MAX / none */
	struct child_cap err;
	int exit_code; /* exit status, or 128 + signal */
};

static void out_free(struct git_out *o)
{
	child_cap_free(&o->out);
	child_cap_free(&o->err);
}

/* stdout as one string (only for commands run with tail_max 0). */
static const char *out_str(const struct git_out *o)
{
	return o->out.head.p ? o->out.head.p : "";
}

/* The last non-empty line of git's stderr (its "fatal: ..."), in buf. */
static const char *err_last_line(const struct git_out *o, char *buf, size_t n)
{
	const char *s = o->err.head.p ? o->err.head.p : "";
	size_t len = o->err.head.len;
	while (len && (s[len - 1] == '\n' || s[len - 1] == ' '))
		len--;
	size_t start = len;
	while (start && s[start - 1] != '\n')
		start--;
	snprintf(buf, n, "%.*s", (int)(len - start), s + start);
	return buf;
}

enum { GIT_RAN = 0, GIT_NOT_STARTED = -1, GIT_INTERRUPTED = -2 };

static void git_data(void *ctx, int which, const char *p, size_t n)
{
	struct git_out *o = ctx;
	child_cap_add(which ? &o->err : &o->out, p, n);
}

static int git_stop(void *ctx)
{
	return stage_signal() != 0;
}

/*
 * Runs `git -C root -c core.quotepath=off -c user.useConfigOnly=true
 * ARGS...` with stdin /dev/null in a new process group (lib/child); o
 * (zeroed, with out.head_max/out.tail_max set) is filled and owned by
 * the caller (out_free).  GIT_RAN whatever git's exit status;
 * GIT_NOT_STARTED with err filled; GIT_INTERRUPTED when a signal came
 * (git's group was ended).
 */
static int git_run(const char *root, const char *const *args, struct git_out *o, char *err,
                   size_t errlen)
{
	const char *argv[40] = {
	    "git", "-C", root, "-c", "core.quotepath=off", "-c", "user.useConfigOnly=true"};
	size_t argc = 7;
	for (size_t i = 0; args[i] && argc < sizeof argv / sizeof *argv - 1; i++)
		argv[argc++] = args[i];
	argv[argc] = NULL;
	if (!o->out.head_max && !o->out.tail_max)
		o->out.head_max = GIT_OUT_MAX;
	o->err.head_max = GIT_ERR_MAX;

	struct child ch = {
	    .path = "git",
	    .argv = (char *const *)argv,
	    .in = CHILD_NULL,
	    .out = CHILD_PIPE,
	    .err = CHILD_PIPE,
	    .leave_group = 1, /* a hook's background job outlives a clean exit */
	};
	if (child_spawn(&ch, err, errlen) < 0)
		return GIT_NOT_STARTED;
	struct child_watch w = {
	    .grace_ms = GIT_GRACE_MS,
	    .drain_ms = GIT_DRAIN_MS,
	    .wake_fd = -1,
	    .tick_ms = 100,
	    .ctx = o,
	    .on_data = git_data,
	    .stop = git_stop,
	};
	child_watch(&ch, &w, err, errlen);
	child_finish(&ch);
	o->exit_code = ch.exit_code;
	return w.stopped ? GIT_INTERRUPTED : GIT_RAN;
}

/* What the stage needs across the steps. */
struct committer {
	struct stage *st;
	const char *root;
	char tmpdir[4096]; /* private temp dir (message file, dry-run index), or "" */
};

/* The error line for a signal that came during a git run. */
static int interrupted(struct stage *st)
{
	int sig = stage_signal();
	return stage_fail(st, EX_BL_TEMPFAIL, sig == SIGTERM ? "timeout" : "crash", sig == SIGTERM,
	                  "interrupted by %s",
	                  sig == SIGTERM  ? "SIGTERM"
	                  : sig == SIGINT ? "SIGINT"
	                  : sig == SIGHUP ? "SIGHUP"
	                                  : "a signal");
}

#define GIT_ANY (~0u) /* git_step: accept any exit status */

/*
 * Runs git and turns "could not start", a signal, and (unless ok_codes
 * allows it) a non-zero exit into an error line of kind/code: -1 to go
 * on (o filled), else the exit status.  ok_codes: a bitmask of the exit
 * codes 0..7 accepted, or GIT_ANY.
 */
static int git_step(struct committer *c, const char *const *args, struct git_out *o,
                    unsigned ok_codes, const char *kind, int code)
{
	char err[600], last[400];
	int r = git_run(c->root, args, o, err, sizeof err);
	if (r == GIT_INTERRUPTED)
		return interrupted(c->st);
	if (r == GIT_NOT_STARTED)
		return stage_fail(c->st, EX_BL_CONFIG, "config", 0, "%s", err);
	if (ok_codes == GIT_ANY || (o->exit_code < 8 && (ok_codes >> o->exit_code & 1)))
		return -1;
	return stage_fail(c->st, code, kind, 0, "git %s failed (exit %d): %s", args[0],
	                  o->exit_code, err_last_line(o, last, sizeof last));
}

/* The workspace must be in a git work tree. */
static int check_repo(struct committer *c)
{
	static const char *const args[] = {"rev-parse", "--is-inside-work-tree", NULL};
	struct git_out o = {0};
	char last[400];
	const char *ws = c->st->workspace;
	int rc = git_step(c, args, &o, GIT_ANY, NULL, 0);
	if (rc >= 0)
		;
	else if (o.exit_code == 0 && strncmp(out_str(&o), "true", 4) != 0)
		rc = stage_fail(c->st, EX_BL_CONFIG, "config", 0,
		                "'%s' is not in a git work tree (a .git directory or a bare "
		                "repository)",
		                ws);
	else if (o.exit_code != 0 && o.err.head.p && strstr(o.err.head.p, "not a git repository"))
		rc = stage_fail(c->st, EX_BL_CONFIG, "config", 0, "'%s' is not a git repository",
		                ws);
	else if (o.exit_code != 0)
		rc = stage_fail(c->st, EX_BL_CONFIG, "config", 0, "'%s': git rev-parse failed: %s",
		                ws, err_last_line(&o, last, sizeof last));
	out_free(&o);
	return rc;
}

/* git must know who commits: no guessing from the host name. */
static int check_identity(struct committer *c)
{
	static const char *const who[] = {"GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"};
	int rc = -1;
	for (int i = 0; i < 2 && rc < 0; i++) {
		const char *args[] = {"var", who[i], NULL};
		struct git_out o = {0};
		char last[400];
		rc = git_step(c, args, &o, GIT_ANY, NULL, 0);
		if (rc < 0 && o.exit_code != 0)
			rc = stage_fail(c->st, EX_BL_CONFIG, "config", 0,
			                "git has no %s identity (%s): set user.name and user.email "
			                "(git config user.email you@example.com), or "
			                "GIT_AUTHOR_NAME/GIT_AUTHOR_EMAIL and "
			                "GIT_COMMITTER_NAME/GIT_COMMITTER_EMAIL",
			                i ? "committer" : "author",
			                err_last_line(&o, last, sizeof last));
		out_free(&o);
	}
	return rc;
}

/* --dry-run: every git command below uses a copy of the index. */
static int use_index_copy(struct committer *c)
{
	static const char *const args[] = {"rev-parse", "--git-path", "index", NULL};
	struct git_out o = {0};
	int rc = git_step(c, args, &o, 1, "tool", EX_BL_SOFTWARE);
	if (rc >= 0) {
		out_free(&o);
		return rc;
	}
	char *path = xstrdup(out_str(&o));
	path[strcspn(path, "\n")] = '\0';
	char *abs = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", c->root, path);
	char *copy = xasprintf("%s/index", c->tmpdir);
	struct buf idx = BUF_INIT;
	if (read_file(abs, &idx) == 0) {
		int fd = open(copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 || write_all(fd, idx.p, idx.len) < 0)
			rc = stage_fail(c->st, EX_BL_SOFTWARE, "tool", 0,
			                "cannot copy the index to '%s': %s", copy, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (rc < 0)
		setenv("GIT_INDEX_FILE", copy, 1);
	buf_free(&idx);
	out_free(&o);
	free(path);
	free(abs);
	free(copy);
	return rc;
}

/* A fence longer than any run of backticks in s. */
static void add_fenced(struct buf *b, const char *lang, const char *s, size_t n)
{
	size_t run = 0, longest = 0;
	for (size_t i = 0; i < n; i++) {
		run = s[i] == '`' ? run + 1 : 0;
		if (run > longest)
			longest = run;
	}
	size_t fence = longest >= 3 ? longest + 1 : 3;
	for (size_t i = 0; i < fence; i++)
		buf_addc(b, '`');
	buf_adds(b, lang);
	buf_addc(b, '\n');
	buf_add(b, s, n);
	if (n && s[n - 1] != '\n')
		buf_addc(b, '\n');
	for (size_t i = 0; i < fence; i++)
		buf_addc(b, '`');
	buf_addc(b, '\n');
}

/* The staged stat and diff, appended to the context message. */
static int add_staged_changes(struct committer *c)
{
	static const char *const stat_args[] = {
	    "diff", "--cached", "--stat", "--summary", "--no-color", "--no-ext-diff", NULL};
	static const char *const diff_args[] = {"diff", "--cached", "--no-color", "--no-ext-diff",
	                                        NULL};
	struct git_out so = {.out = {.head_max = STAT_HEAD, .tail_max = STAT_TAIL}};
	struct git_out dout = {.out = {.head_max = DIFF_HEAD, .tail_max = DIFF_TAIL}};
	int rc = git_step(c, stat_args, &so, 1, "tool", EX_BL_SOFTWARE);
	if (rc < 0)
		rc = git_step(c, diff_args, &dout, 1, "tool", EX_BL_SOFTWARE);
	if (rc < 0) {
		struct buf stat = BUF_INIT, diff = BUF_INIT, text = BUF_INIT;
		child_cap_take_lines(&so.out, &stat, "the stat");
		child_cap_take_lines(&dout.out, &diff, "the diff");
		struct llm_msg *m = &c->st->agent.req.msgs[0];
		buf_adds(&text, m->blocks[0].text ? m->blocks[0].text : "");
		buf_adds(&text, "\n## Staged changes (git diff --cached --stat --summary)\n\n");
		add_fenced(&text, "", stat.p ? stat.p : "", stat.len);
		buf_addf(&text, "\n## Staged diff (git diff --cached; %zu bytes%s)\n\n",
		         dout.out.total, dout.out.total > diff.len ? ", cut in the middle" : "");
		add_fenced(&text, "diff", diff.p ? diff.p : "", diff.len);
		buf_adds(&text, "\nWrite the commit message for exactly these staged changes.\n");
		free(m->blocks[0].text);
		m->blocks[0].text = buf_detach(&text, NULL);
		buf_free(&stat);
		buf_free(&diff);
	}
	out_free(&so);
	out_free(&dout);
	return rc;
}

/* Number of UTF-8 code points in s[0..n). */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += ((unsigned char)s[i] & 0xC0) != 0x80;
	return k;
}

/*
 * The model's text made into a commit message, appended to msg (the
 * caller's).  Rules: '\r' and trailing blanks go;
 * surrounding blank lines go; a Markdown code fence around the whole
 * text goes; the subject is the first line, without leading blanks and
 * without one trailing '.'; a subject over SUBJECT_MAX characters is cut
 * at the last space that keeps it within the limit (or at the limit when
 * there is none), trailing ",;:-" dropped, and the whole original line
 * becomes the body's first paragraph; exactly one blank line separates
 * the subject from the body.  0, or -1 when no subject is left.
 */
static int clean_message(const char *text, struct buf *msg)
{
	/* lines, trimmed at the right */
	size_t nl = 0, cap = 16;
	char **lines = xmalloc(cap * sizeof *lines);
	for (const char *p = text;;) {
		size_t n = strcspn(p, "\n");
		size_t m = n;
		while (m && (p[m - 1] == ' ' || p[m - 1] == '\t' || p[m - 1] == '\r'))
			m--;
		if (nl == cap)
			lines = xrealloc(lines, (cap *= 2) * sizeof *lines);
		lines[nl++] = xstrndup(p, m);
		if (!p[n])
			break;
		p += n + 1;
	}
	size_t a = 0, z = nl;
	for (int pass = 0; pass < 2; pass++) {
		while (a < z && !*lines[a])
			a++;
		while (z > a && !*lines[z - 1])
			z--;
		if (pass == 0 && z - a >= 2 && !strncmp(lines[a], "```", 3) &&
		    !strcmp(lines[z - 1], "```"))
			a++, z--;
	}
	int rc = -1;
	if (a < z) {
		const char *first = lines[a] + strspn(lines[a], " \t");
		size_t n = strlen(first);
		if (n && first[n - 1] == '.' && (n < 2 || first[n - 2] != '.'))
			n--;
		size_t cut = n;
		if (utf8_chars(first, n) > SUBJECT_MAX) {
			/* lim: where character SUBJECT_MAX + 1 starts */
			size_t lim = 0, k = 0;
			for (; lim < n; lim++)
				if (((unsigned char)first[lim] & 0xC0) != 0x80 &&
				    k++ == SUBJECT_MAX)
					break;
			cut = lim;
			while (cut > 0 && first[cut] != ' ')
				cut--;
			if (cut == 0)
				cut = lim;
			while (cut && strchr(" ,;:-", first[cut - 1]))
				cut--;
		}
		if (cut) {
			buf_add(msg, first, cut);
			buf_addc(msg, '\n');
			size_t b = a + 1;
			while (b < z && !*lines[b])
				b++;
			if (cut < n || b < z)
				buf_addc(msg, '\n');
			if (cut < n)
				buf_addf(msg, "%s\n%s", first, b < z ? "\n" : "");
			for (size_t i = b; i < z; i++)
				buf_addf(msg, "%s\n", lines[i]);
			rc = 0;
		}
	}
	for (size_t i = 0; i < nl; i++)
		free(lines[i]);
	free(lines);
	return rc;
}

/* Writes msg to a private file and runs git commit -F on it. */
static int commit(struct committer *c, const struct buf *msg)
{
	char *path = xasprintf("%s/COMMIT_MSG", c->tmpdir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = -1;
	if (fd < 0 || write_all(fd, msg->p, msg->len) < 0)
		rc = stage_fail(c->st, EX_BL_SOFTWARE, "tool", 0, "cannot write '%s': %s", path,
		                strerror(errno));
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		const char *args[] = {"commit", "-q", "--cleanup=whitespace", "-F", path, NULL};
		struct git_out o = {0};
		rc = git_step(c, args, &o, 1, "tool", EX_BL_SOFTWARE);
		out_free(&o);
	}
	unlink(path);
	free(path);
	return rc;
}

/* The commit line (sha and subject read back from git) and the message. */
static int report_commit(struct committer *c, const char *shortstat)
{
	static const char *const show[] = {"show", "-s", "--format=%H%x00%s", "HEAD", NULL};
	static const char *const files[] = {
	    "diff-tree", "--no-commit-id", "--name-only", "--no-renames", "-r", "-z",
	    "--root",    "HEAD",           NULL};
	struct git_out so = {0}, fo = {0};
	int rc = git_step(c, show, &so, 1, "tool", EX_BL_SOFTWARE);
	if (rc < 0)
		rc = git_step(c, files, &fo, 1, "tool", EX_BL_SOFTWARE);
	if (rc < 0) {
		const char *sha = out_str(&so);
		const char *subj = so.out.head.len > strlen(sha) ? sha + strlen(sha) + 1 : "";
		size_t sn = strcspn(subj, "\n");
		const char *name = c->st->acfg->name;
		struct buf line = BUF_INIT;
		struct jw w;
		conv_line_begin(&w, &line, "commit", name);
		jw_kstr(&w, "sha", sha);
		jw_key(&w, "subject");
		jw_strn(&w, subj, sn);
		jw_key(&w, "files");
		jw_arr(&w);
		size_t nfiles = 0;
		for (size_t i = 0; i < fo.out.head.len;
		     i += strlen(fo.out.head.p + i) + 1, nfiles++)
			jw_str(&w, fo.out.head.p + i);
		jw_arr_end(&w);
		conv_line_end(&w);
		int wrc = conv_emit(1, &line);
		if (wrc == 0) {
			buf_reset(&line);
			conv_line_begin(&w, &line, "message", name);
			jw_kstr(&w, "role", "assistant");
			size_t ssn = strcspn(shortstat, "\n");
			char *text = xasprintf("Committed %.12s: %.*s\n%.*s", sha, (int)sn, subj,
			                       (int)ssn, shortstat);
			jw_kstr(&w, "text", text);
			free(text);
			conv_line_end(&w);
			wrc = conv_emit(1, &line);
		}
		if (wrc < 0) {
			buf_addf(&c->st->diag, "bl-commit: cannot write to stdout: %s\n",
			         strerror(errno));
			rc = EX_BL_SOFTWARE;
		}
		log_info("commit", "sha=%s files=%zu", sha, nfiles);
		buf_free(&line);
	}
	out_free(&so);
	out_free(&fo);
	return rc;
}

static int write_message(struct stage *st, const char *text)
{
	struct buf line = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &line, "message", st->acfg->name);
	jw_kstr(&w, "role", "assistant");
	jw_kstr(&w, "text", text);
	conv_line_end(&w);
	int rc = conv_emit(1, &line) < 0 ? EX_BL_SOFTWARE : EX_BL_OK;
	if (rc)
		buf_addf(&st->diag, "bl-commit: cannot write to stdout: %s\n", strerror(errno));
	buf_free(&line);
	return rc;
}

/* Everything after stage_setup: stage, ask, commit, report. */
static int commit_stage(struct committer *c)
{
	static const char *const add[] = {"add", "-A", "--", ":/", ":(exclude).env", NULL};
	static const char *const quiet[] = {"diff", "--cached", "--quiet", "--no-ext-diff", NULL};
	static const char *const shortstat[] = {"diff", "--cached", "--shortstat", "--no-color",
	                                        NULL};
	struct stage *st = c->st;
	struct git_out o = {0}, ss = {0};
	if (st->acfg->ntools)
		return stage_fail(st, EX_BL_CONFIG, "config", 0,
		                  "agent '%s': tools must be empty: the committer is given none",
		                  st->acfg->name);
	int rc = check_repo(c);
	if (rc >= 0)
		return rc;
	if (st->dry_run && (rc = use_index_copy(c)) >= 0)
		return rc;
	if ((rc = git_step(c, add, &o, 1, "tool", EX_BL_SOFTWARE)) >= 0)
		goto out;
	out_free(&o);
	memset(&o, 0, sizeof o);
	if ((rc = git_step(c, quiet, &o, 3, "tool", EX_BL_SOFTWARE)) >= 0)
		goto out;
	if (o.exit_code == 0) {
		log_info("nothing_to_commit", "the index matches HEAD");
		if (st->dry_run) {
			buf_adds(&st->diag, "bl-commit: nothing to commit\n");
			rc = EX_BL_OK;
		} else {
			rc = write_message(st, "nothing to commit");
		}
		goto out;
	}
	if ((rc = check_identity(c)) >= 0 || (rc = add_staged_changes(c)) >= 0 ||
	    (rc = git_step(c, shortstat, &ss, 1, "tool", EX_BL_SOFTWARE)) >= 0)
		goto out;

	st->agent.max_turns = 1;
	st->agent.emit_message = 0;
	if ((rc = stage_run(st)) != 0 || st->dry_run)
		goto out;

	struct buf msg = BUF_INIT;
	if (clean_message(st->agent.final_text ? st->agent.final_text : "", &msg) < 0) {
		rc = stage_fail(st, EX_BL_UNAVAILABLE, "protocol", 1,
		                "the model wrote no commit message; the changes stay staged");
	} else {
		rc = commit(c, &msg);
		if (rc < 0) {
			const char *s = out_str(&ss);
			rc = report_commit(c, s + strspn(s, " "));
		}
	}
	buf_free(&msg);
out:
	out_free(&o);
	out_free(&ss);
	return rc < 0 ? EX_BL_OK : rc;
}

/* Hands what the stage left for the user to stdout/stderr. */
static void report(struct stage *st)
{
	if (st->out.len)
		write_all(1, st->out.p, st->out.len);
	if (st->diag.len)
		write_all(2, st->diag.p, st->diag.len);
	buf_reset(&st->out);
	buf_reset(&st->diag);
}

int main(int argc, char **argv)
{
	struct stage st;
	struct committer c = {&st, NULL, ""};
	int rc = stage_args(&st, &spec, argc, argv);
	if (rc < 0)
		rc = stage_input(&st);
	if (rc < 0)
		rc = stage_setup(&st);
	report(&st);
	if (rc < 0) {
		const char *tmp = getenv("TMPDIR");
		snprintf(c.tmpdir, sizeof c.tmpdir, "%s/bl-commit.XXXXXX",
		         tmp && *tmp ? tmp : "/tmp");
		c.root = st.root_abs;
		if (!mkdtemp(c.tmpdir)) {
			rc = stage_fail(&st, EX_BL_SOFTWARE, "tool", 0,
			                "cannot make a temporary directory '%s': %s", c.tmpdir,
			                strerror(errno));
			c.tmpdir[0] = '\0';
		} else {
			rc = commit_stage(&c);
			char *idx = xasprintf("%s/index", c.tmpdir);
			unlink(idx);
			free(idx);
			rmdir(c.tmpdir);
		}
	}
	report(&st);
	stage_free(&st);
	return rc;
}
