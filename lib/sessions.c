/*
 * sessions — the stored sessions of a directory as a set (see
 * sessions.h for the forms a session is kept in, which one is read, and
 * how ids are matched).
 *
 * Guarantees: reading never changes a session file; a session file that
 * does not read as a whole costs its bad lines, never the session; a
 * session is removed only while its log's lock is held here, so one a
 * bl-manager holds is never removed.
 */
#include "sessions.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "json.h"
#include "session.h"
#include "stats.h"

static const char *const form_ext[] = {".jsonl", ".json.gz", ".json"};

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

/* Which form (0 .jsonl, 1 .json.gz, 2 .json) name is, with the length of
 * its id in *stem; -1 when none. */
static int rank_of(const char *name, size_t *stem)
{
	for (int i = 0; i < 3; i++)
		if (ends_with(name, form_ext[i]) && strlen(name) > strlen(form_ext[i])) {
			*stem = strlen(name) - strlen(form_ext[i]);
			return i;
		}
	return -1;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const struct session_file *)a)->id, ((const struct session_file *)b)->id);
}

/* Lists the sessions of dir (see sessions.h). */
int sessions_list(const char *dir, struct session_file **out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	struct session_file *v = NULL;
	int *rank = NULL;
	size_t cnt = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t stem;
		int r = rank_of(de->d_name, &stem);
		if (r < 0 || de->d_name[0] == '.')
			continue;
		size_t i;
		for (i = 0; i < cnt; i++)
			if (strlen(v[i].id) == stem && !strncmp(v[i].id, de->d_name, stem))
				break;
		if (i == cnt) {
			if (cnt == cap) {
				cap = cap ? cap * 2 : 32;
				v = xrealloc(v, cap * sizeof *v);
				rank = xrealloc(rank, cap * sizeof *rank);
			}
			v[cnt].id = xstrndup(de->d_name, stem);
			v[cnt].path = NULL;
			v[cnt].forms = 0;
			rank[cnt] = 99;
			cnt++;
		}
		v[i].forms |= 1 << r;
		if (r < rank[i]) {
			free(v[i].path);
			v[i].path = xasprintf("%s/%s", dir, de->d_name);
			rank[i] = r;
		}
	}
	closedir(d);
	free(rank);
	if (cnt)
		qsort(v, cnt, sizeof *v, by_id);
	*out = v;
	*n = cnt;
	return 0;
}

void sessions_free(struct session_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].path);
	}
	free(v);
}

/* How many ids start with prefix; an exact id counts alone. */
size_t sessions_match(const struct session_file *v, size_t n, const char *prefix, size_t *first)
{
	size_t cnt = 0, plen = strlen(prefix);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, prefix)) {
			*first = i;
			return 1;
		}
	for (size_t i = 0; i < n; i++)
		if (!strncmp(v[i].id, prefix, plen)) {
			if (!cnt)
				*first = i;
			cnt++;
		}
	return cnt;
}

/* The path of one form (SESSION_JSONL, ...) of a session. */
char *sessions_path(const char *dir, const char *id, int form)
{
	int i = form == SESSION_JSONL ? 0 : form == SESSION_JSON_GZ ? 1 : 2;
	return xasprintf("%s/%s%s", dir, id, form_ext[i]);
}

/* Reads a whole (possibly gzip'd) file into b.  0 or -1 with err. */
int sessions_read_file(const char *path, struct buf *b, char *err, size_t errlen)
{
	errno = 0;
	gzFile f = gzopen(path, "rb");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno ? errno : ENOMEM));
		return -1;
	}
	char chunk[65536];
	int n;
	while ((n = gzread(f, chunk, sizeof chunk)) > 0)
		buf_add(b, chunk, (size_t)n);
	int zerr = Z_OK;
	const char *msg = n < 0 ? gzerror(f, &zerr) : NULL;
	if (n < 0)
		snprintf(err, errlen, "%s: %s", path,
		         zerr == Z_ERRNO ? strerror(errno)
		         : msg           ? msg
		                         : "read error");
	gzclose(f);
	return n < 0 ? -1 : 0;
}

/* The lines of a final document: each element of "messages" as one line. */
static int doc_lines(const char *path, const struct buf *doc, struct buf *lines, char *err,
                     size_t errlen)
{
	struct json j;
	struct json_error je;
	if (json_parse(&j, doc->p ? doc->p : "", doc->len, &je) < 0) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.col, je.msg);
		return -1;
	}
	int msgs = json_get(&j, 0, "messages");
	if (json_type(&j, msgs) != JSON_ARRAY) {
		json_free(&j);
		snprintf(err, errlen, "%s: no \"messages\" array", path);
		return -1;
	}
	int i, e;
	JSON_ARRAY_EACH(&j, msgs, i, e)
	{
		size_t start = lines->len, n;
		if (json_type(&j, e) == JSON_STRING) {
			json_str_buf(&j, e, lines);
		} else {
			const char *raw = json_raw(&j, e, &n);
			buf_add(lines, raw, n);
		}
		/* Whitespace between tokens may hold newlines; inside strings
		 * they are always escaped, so this keeps the value. */
		for (size_t k = start; k < lines->len; k++)
			if (lines->p[k] == '\n' || lines->p[k] == '\r')
				lines->p[k] = ' ';
		buf_addc(lines, '\n');
	}
	json_free(&j);
	return 0;
}

/* Parses text as a conversation; when it does not read as a whole, line
 * by line, leaving out (and counting) the bad lines. */
static int parse_tolerant(const char *text, size_t len, const char *name, struct conv *out)
{
	struct conv c;
	char err[600];
	if (conv_parse(text, len, name, out, err, sizeof err) == 0)
		return 0;
	/* Line by line: gather the good lines, then read them as one. */
	struct buf good = BUF_INIT;
	int bad = 0;
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (conv_parse(p, n, name, &c, err, sizeof err) == 0) {
			buf_add(&good, p, n);
			buf_addc(&good, '\n');
		} else {
			bad++;
		}
		conv_free(&c);
		p += n + (nl ? 1 : 0);
	}
	if (conv_parse(good.p ? good.p : "", good.len, name, out, err, sizeof err) < 0)
		memset(out, 0, sizeof *out);
	buf_free(&good);
	return bad;
}

/* Reads one session file of any form (see sessions.h). */
int sessions_read(const char *path, struct conv *c, char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	int rc;
	memset(c, 0, sizeof *c);
	if (ends_with(path, ".jsonl")) {
		if (read_file(path, &b) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			buf_free(&b);
			return -1;
		}
		/* A live log's unfinished last line is a write in flight. */
		size_t len = b.len;
		while (len && b.p[len - 1] != '\n')
			len--;
		rc = parse_tolerant(b.p ? b.p : "", len, path, c);
	} else {
		struct buf lines = BUF_INIT;
		rc = sessions_read_file(path, &b, err, errlen);
		if (rc == 0)
			rc = doc_lines(path, &b, &lines, err, errlen);
		if (rc == 0)
			rc = parse_tolerant(lines.p ? lines.p : "", lines.len, path, c);
		buf_free(&lines);
	}
	buf_free(&b);
	return rc;
}

static int64_t newest_mtime(const char *dir, const struct session_file *f)
{
	int64_t newest = 0;
	for (int form = SESSION_JSONL; form <= SESSION_JSON; form <<= 1) {
		struct stat st;
		if (!(f->forms & form))
			continue;
		char *p = sessions_path(dir, f->id, form);
		if (stat(p, &st) == 0) {
			int64_t ms =
			    (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
			if (ms > newest)
				newest = ms;
		}
		free(p);
	}
	return newest;
}

static int is_event(const struct conv_item *it, const char *name)
{
	return it->type == CONV_EVENT && json_streq(&it->j, json_get(&it->j, 0, "event"), name);
}

/* Fills the summary of one session (see sessions.h). */
int sessions_info(const char *dir, const struct session_file *f, struct session_info *info,
                  char *err, size_t errlen)
{
	memset(info, 0, sizeof *info);
	info->mtime_ms = info->began_ms = newest_mtime(dir, f);
	if (f->forms & SESSION_JSONL) {
		char *log = sessions_path(dir, f->id, SESSION_JSONL);
		int fd = session_try_lock(log, 0);
		info->running = fd < 0 && errno == EWOULDBLOCK;
		if (fd >= 0)
			close(fd);
		free(log);
	}
	struct conv c;
	int bad = sessions_read(f->path, &c, err, errlen);
	if (bad < 0) {
		info->task = xstrdup("");
		info->created_at = xstrdup("");
		info->status = xstrdup("unreadable");
		return -1;
	}
	info->bad_lines = bad;
	const struct conv_item *task = NULL, *result = NULL;
	for (size_t i = 0; i < c.n; i++) {
		const struct conv_item *it = &c.items[i];
		if (it->type == CONV_TASK && !task)
			task = it;
		else if (it->type == CONV_RESULT)
			result = it;
		else if (it->type == CONV_USAGE)
			info->cost_usd += json_get_num(&it->j, 0, "cost_usd", 0);
		else if (is_event(it, "stage_start"))
			info->turns++;
	}
	info->task = xstrdup(task && task->text ? task->text : "");
	char *ts = task ? json_get_str(&task->j, 0, "ts") : NULL;
	info->created_at = ts ? ts : xstrdup("");
	if (!ts || stats_parse_time(ts, 0, &info->began_ms) < 0)
		info->began_ms = info->mtime_ms;
	info->completed_at = result ? json_get_str(&result->j, 0, "ts") : NULL;
	if (info->running)
		info->status = xstrdup("running");
	else if (result)
		info->status = json_get_str(&result->j, 0, "status");
	if (!info->status)
		info->status = xstrdup("stopped");
	conv_free(&c);
	return 0;
}

void session_info_free(struct session_info *info)
{
	free(info->task);
	free(info->created_at);
	free(info->completed_at);
	free(info->status);
	memset(info, 0, sizeof *info);
}

/* Removes every file of one session under its log's lock. */
int sessions_remove(const char *dir, const struct session_file *f, char *err, size_t errlen)
{
	int lock_fd = -1, rc = 0;
	if (f->forms & SESSION_JSONL) {
		char *log = sessions_path(dir, f->id, SESSION_JSONL);
		lock_fd = session_try_lock(log, 1);
		int e = errno;
		free(log);
		if (lock_fd < 0 && e == EWOULDBLOCK)
			return 1;
	}
	/* The final document first, the log (whose lock is held) last. */
	for (int form = SESSION_JSON; form >= SESSION_JSONL; form >>= 1) {
		if (!(f->forms & form))
			continue;
		char *p = sessions_path(dir, f->id, form);
		if (unlink(p) < 0 && errno != ENOENT && rc == 0) {
			snprintf(err, errlen, "cannot remove '%s': %s", p, strerror(errno));
			rc = -1;
		}
		free(p);
	}
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}

static int64_t mtime_ns(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) < 0)
		return -1;
	return (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
}

/* A final document read whole: it must be a JSON object with a
 * "messages" array.  0 or -1 with err. */
static int read_final(const char *path, struct buf *doc, char *err, size_t errlen)
{
	if (sessions_read_file(path, doc, err, errlen) < 0)
		return -1;
	struct json j;
	struct json_error je;
	if (json_parse(&j, doc->p ? doc->p : "", doc->len, &je) < 0) {
		snprintf(err, errlen, "%s:%d:%d: %s", path, je.line, je.col, je.msg);
		return -1;
	}
	int rc = 0;
	if (json_type(&j, json_get(&j, 0, "messages")) != JSON_ARRAY) {
		snprintf(err, errlen, "%s: not a session document (no \"messages\" array)", path);
		rc = -1;
	}
	json_free(&j);
	return rc;
}

/* The document of one session (see sessions.h). */
int sessions_document(const char *dir, const struct session_file *f, struct buf *doc, char *err,
                      size_t errlen)
{
	int form = f->forms & SESSION_JSON_GZ ? SESSION_JSON_GZ
	           : f->forms & SESSION_JSON  ? SESSION_JSON
	                                      : 0;
	char *log = sessions_path(dir, f->id, SESSION_JSONL);
	char *final = form ? sessions_path(dir, f->id, form) : NULL;
	int rc;
	if (final && (!(f->forms & SESSION_JSONL) || mtime_ns(final) >= mtime_ns(log)))
		rc = read_final(final, doc, err, errlen);
	else
		rc = session_document(f->id, log, doc, err, errlen);
	free(log);
	free(final);
	return rc;
}

/* A new file beside path, named .NAME.XXXXXX, mode 0666 less the umask:
 * its fd, with the name in *tmp (malloc'd); -1/errno. */
static int create_beside(const char *path, char **tmp)
{
	const char *slash = strrchr(path, '/');
	for (int tries = 0; tries < 100; tries++) {
		unsigned char r[4] = {0};
		if (getrandom(r, sizeof r, GRND_NONBLOCK) < 0)
			r[0] = (unsigned char)tries, r[1] = (unsigned char)getpid();
		unsigned x = (unsigned)r[0] | (unsigned)r[1] << 8 | (unsigned)r[2] << 16 |
		             (unsigned)r[3] << 24;
		*tmp = slash ? xasprintf("%.*s/.%s.%08x", (int)(slash - path), path, slash + 1, x)
		             : xasprintf(".%s.%08x", path, x);
		int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (fd >= 0 || errno != EEXIST)
			return fd;
		free(*tmp);
	}
	*tmp = NULL;
	errno = EEXIST;
	return -1;
}

/* Writes a document to path atomically (see sessions.h). */
int sessions_write_document(const char *path, int compress, const struct buf *doc, char *err,
                            size_t errlen)
{
	char *tmp, werr[300];
	int fd = create_beside(path, &tmp), rc = -1;
	if (fd < 0) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		free(tmp);
		return -1;
	}
	if (session_write_document(fd, compress, doc, werr, sizeof werr) < 0)
		snprintf(err, errlen, "%s: %s", path, werr);
	else if (fsync(fd) < 0 || rename(tmp, path) < 0)
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
	else
		rc = 0;
	close(fd);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}
