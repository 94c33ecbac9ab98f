/*
 * log — structured log records (DESIGN §8) in files under the log
 * directory, optionally copied to stderr.
 *
 * Guarantees: each record is one line written with one write(2) on an
 * O_APPEND descriptor, so records from several processes never mix; a
 * JSON record always has every field (null when unknown) and always
 * parses.  Before a write that would take a file past its limit the
 * file is rotated (NAME.log -> NAME.log.1 -> ... -> NAME.log.KEEP, the
 * oldest dropped) under an exclusive flock(2) on "<dir>/.lock"; the size
 * is re-checked after taking the lock, and a process whose file was
 * rotated by another reopens it.  Logging never fails its caller and
 * never exits; it is not thread-safe (one logger per process).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "json.h"
#include "util.h"

#define MSG_MAX 16384

enum { F_MAIN, F_ERROR, F_DEBUG, NFILES };

struct log_file {
	const char *name;
	long long limit;
	int keep;
	enum log_level min;
	int fd;
	dev_t dev;
	ino_t ino;
};

static struct {
	int inited;
	char *dir;
	char *program;
	char *session, *agent;
	enum log_level level;
	int json;
	int stderr_on;
	enum log_level stderr_level;
	struct log_file f[NFILES];
} L = {
    .f = {{"better-llm.log", 10LL << 20, 5, BL_LOG_INFO, -1, 0, 0},
          {"better-llm-error.log", 5LL << 20, 3, BL_LOG_ERROR, -1, 0, 0},
          {"better-llm-debug.log", 20LL << 20, 3, BL_LOG_DEBUG, -1, 0, 0}},
};

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

static enum log_level parse_level(const char *s)
{
	if (!s || !*s)
		return BL_LOG_INFO;
	if (!strcasecmp(s, "DEBUG"))
		return BL_LOG_DEBUG;
	if (!strcasecmp(s, "WARN") || !strcasecmp(s, "WARNING"))
		return BL_LOG_WARN;
	if (!strcasecmp(s, "ERROR") || !strcasecmp(s, "CRITICAL"))
		return BL_LOG_ERROR;
	return BL_LOG_INFO;
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int mkdir_p(const char *path)
{
	char *p = xstrdup(path);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST) {
				rc = -1;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	int e = errno;
	free(p);
	errno = e;
	if (rc == 0) {
		struct stat st;
		if (stat(path, &st) < 0)
			return -1;
		if (!S_ISDIR(st.st_mode))
			return errno = ENOTDIR, -1;
	}
	return rc;
}

static char *file_path(const struct log_file *f, int gen)
{
	return gen ? xasprintf("%s/%s.%d", L.dir, f->name, gen)
	           : xasprintf("%s/%s", L.dir, f->name);
}

static int open_file(struct log_file *f)
{
	char *p = file_path(f, 0);
	int fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	free(p);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = fd, f->dev = st.st_dev, f->ino = st.st_ino;
	return 0;
}

/* Renames NAME.log.(keep-1) -> NAME.log.keep ... NAME.log -> NAME.log.1. */
static void shift_files(const struct log_file *f)
{
	for (int g = f->keep; g >= 1; g--) {
		char *from = file_path(f, g - 1), *to = file_path(f, g);
		rename(from, to);
		free(from);
		free(to);
	}
	if (f->keep < 1) {
		char *p = file_path(f, 0);
		unlink(p);
		free(p);
	}
}

/* Makes f->fd the current file and rotates it when adding len bytes
 * would pass the limit.  -1 when the file cannot be opened. */
static int prepare(struct log_file *f, size_t len)
{
	char *p = file_path(f, 0);
	struct stat st;
	int have = stat(p, &st) == 0;
	free(p);
	if (f->fd < 0 || !have || st.st_ino != f->ino || st.st_dev != f->dev) {
		if (open_file(f) < 0)
			return -1;
		if (fstat(f->fd, &st) < 0)
			return -1;
	}
	if (st.st_size == 0 || st.st_size + (long long)len <= f->limit)
		return 0;

	char *lp = xasprintf("%s/.lock", L.dir);
	int lk = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lp);
	if (lk >= 0)
		while (flock(lk, LOCK_EX) < 0 && errno == EINTR)
			;
	/* Another process may have rotated while we waited. */
	p = file_path(f, 0);
	have = stat(p, &st) == 0;
	free(p);
	if (have && st.st_ino == f->ino && st.st_dev == f->dev && st.st_size > 0 &&
	    st.st_size + (long long)len > f->limit)
		shift_files(f);
	int rc = open_file(f);
	if (lk >= 0)
		close(lk); /* releases the lock */
	return rc;
}

/* Logging state is process-global; the strings are copied. */
int log_init(const char *dir, const char *level, const char *format, const char *program)
{
	log_close();
	L.inited = 1;
	L.program = xstrdup(program ? program : "better-llm");
	if (!level)
		level = getenv("LOG_LEVEL");
	if (!format)
		format = getenv("LOG_FORMAT");
	L.level = parse_level(level);
	L.json = !(format && !strcasecmp(format, "console"));
	if (!dir || !*dir)
		dir = getenv("LOG_DIR");
	if (dir && *dir) {
		L.dir = xstrdup(dir);
	} else {
		char *home = config_bl_home();
		L.dir = xasprintf("%s/logs", home);
		free(home);
	}
	if (mkdir_p(L.dir) < 0)
		goto fail;
	if (open_file(&L.f[F_MAIN]) < 0 || open_file(&L.f[F_ERROR]) < 0)
		goto fail;
	if (L.level == BL_LOG_DEBUG && open_file(&L.f[F_DEBUG]) < 0)
		goto fail;
	return 0;
fail : {
	int e = errno;
	for (int i = 0; i < NFILES; i++)
		if (L.f[i].fd >= 0)
			close(L.f[i].fd), L.f[i].fd = -1;
	free(L.dir);
	L.dir = NULL; /* records are dropped; stderr copies still work */
	errno = e;
	return -1;
}
}

static void set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = s ? xstrdup(s) : NULL;
}

/* s is copied. */
void log_set_session(const char *session)
{
	set_str(&L.session, session);
}

/* s is copied. */
void log_set_agent(const char *agent)
{
	set_str(&L.agent, agent);
}

/* No ownership involved. */
void log_set_stderr(enum log_level level)
{
	L.stderr_on = 1;
	L.stderr_level = level;
}

/* Test hook: every file rotates past max_bytes and keeps `keep` backups. */
void log_set_limits_for_test(long long max_bytes, int keep)
{
	for (int i = 0; i < NFILES; i++)
		L.f[i].limit = max_bytes, L.f[i].keep = keep;
}

/* Closes the files and frees the state; logging may be re-initialised. */
void log_close(void)
{
	for (int i = 0; i < NFILES; i++)
		if (L.f[i].fd >= 0)
			close(L.f[i].fd), L.f[i].fd = -1;
	free(L.dir);
	free(L.program);
	free(L.session);
	free(L.agent);
	L.dir = L.program = L.session = L.agent = NULL;
	L.inited = 0;
	L.stderr_on = 0;
}

static void format_json(struct buf *b, const char *ts, enum log_level lvl, const char *file,
                        int line, const char *func, const char *event, const char *msg)
{
	struct jw w;
	jw_init(&w, b);
	jw_obj(&w);
	jw_kstr(&w, "ts", ts);
	jw_kstr(&w, "level", level_names[lvl]);
	jw_kstr(&w, "event", event);
	jw_kstr(&w, "msg", msg);
	jw_kstr(&w, "session", L.session);
	jw_kstr(&w, "agent", L.agent);
	jw_kstr(&w, "program", L.program ? L.program : "better-llm");
	jw_kint(&w, "pid", (long long)getpid());
	jw_kstr(&w, "file", file);
	jw_kstr(&w, "func", func);
	jw_kint(&w, "line", line);
	jw_obj_end(&w);
	buf_addc(b, '\n');
}

/* "2026-11-24T21:05:09.123Z INFO  bl-plan[42] planner event: msg (file:line func)" */
static void format_console(struct buf *b, const char *ts, enum log_level lvl, const char *file,
                           int line, const char *func, const char *event, const char *msg)
{
	buf_addf(b, "%s %-5s %s[%ld] ", ts, level_names[lvl], L.program ? L.program : "better-llm",
	         (long)getpid());
	if (L.agent)
		buf_addf(b, "%s ", L.agent);
	buf_addf(b, "%s: ", event ? event : "-");
	/* one record, one line */
	for (const char *p = msg; *p; p++)
		buf_addc(b, *p == '\n' ? ' ' : *p);
	buf_addf(b, " (%s:%d %s)\n", file ? file : "?", line, func ? func : "?");
}

/* Never fails the caller; records that cannot be written are dropped. */
void log_write(enum log_level lvl, const char *file, int line, const char *func, const char *event,
               const char *fmt, ...)
{
	if ((int)lvl < BL_LOG_DEBUG || lvl > BL_LOG_ERROR)
		lvl = BL_LOG_ERROR;
	int to_files = L.dir && lvl >= L.level;
	int to_stderr = L.stderr_on && lvl >= L.stderr_level;
	if (!to_files && !to_stderr)
		return;
	int e = errno;
	struct buf msg = BUF_INIT, rec = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	if (msg.len > MSG_MAX) {
		msg.len = MSG_MAX;
		while (msg.len > 0 && ((unsigned char)msg.p[msg.len] & 0xC0) == 0x80)
			msg.len--;
		msg.p[msg.len] = '\0';
		buf_adds(&msg, " [truncated]");
	}
	char ts[32];
	rfc3339_now(ts);
	const char *m = msg.p ? msg.p : "";
	if (to_files) {
		if (L.json)
			format_json(&rec, ts, lvl, file, line, func, event, m);
		else
			format_console(&rec, ts, lvl, file, line, func, event, m);
		for (int i = 0; i < NFILES; i++) {
			struct log_file *f = &L.f[i];
			if (i == F_DEBUG && L.level != BL_LOG_DEBUG)
				continue;
			if (lvl < f->min)
				continue;
			if (prepare(f, rec.len) == 0)
				(void)!write(f->fd, rec.p, rec.len);
		}
	}
	if (to_stderr) {
		buf_reset(&rec);
		format_console(&rec, ts, lvl, file, line, func, event, m);
		(void)!write(2, rec.p, rec.len);
	}
	buf_free(&msg);
	buf_free(&rec);
	errno = e;
}
