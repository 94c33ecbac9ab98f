/*
 * session — the live .jsonl log and the final document of a bl-manager
 * run (see session.h for the layout and the schema).
 *
 * Guarantees: the log is only ever appended to, one whole line per
 * write(2)/writev(2) on an O_APPEND descriptor, so a concurrent reader
 * (bl-view, tail -f) sees whole lines and a crash loses at most the line
 * in flight; the document is never seen half-written (temp + fsync +
 * rename in the same directory); stages get a snapshot of the log, never
 * the live file, so nothing they do can change it.
 */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include "json.h"

/* mkdir -p with mode for each new directory.  0 or -1/errno. */
static int mkdir_p(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int rc = 0;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s)
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			rc = -1;
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	int e = errno;
	free(p);
	errno = e;
	return rc;
}

/* One bl-manager per session: an exclusive flock on the log, held until
 * session_close (or exit). */
static int lock(struct session *s, char *err, size_t errlen)
{
	int rc;
	while ((rc = flock(s->fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
		;
	if (rc == 0 || (errno != EWOULDBLOCK && errno != EAGAIN))
		return 0; /* a file system without locks: go on */
	snprintf(err, errlen, "session '%s' is in use by another bl-manager", s->id);
	session_close(s);
	return -1;
}

static void session_init(struct session *s)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
}

int session_create(struct session *s, const char *home, const char *id, char *err, size_t errlen)
{
	session_init(s);
	snprintf(s->id, sizeof s->id, "%s", id);
	s->dir = xasprintf("%s/sessions", home);
	if (mkdir_p(s->dir, 0700) < 0) {
		snprintf(err, errlen, "cannot make '%s': %s", s->dir, strerror(errno));
		session_close(s);
		return -1;
	}
	s->path = xasprintf("%s/%s.jsonl", s->dir, s->id);
	s->fd = open(s->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", s->path, strerror(errno));
		session_close(s);
		return -1;
	}
	return lock(s, err, errlen);
}

int session_open(struct session *s, const char *home, const char *id, char *err, size_t errlen)
{
	session_init(s);
	size_t n = strlen(id);
	if (strchr(id, '/') || (n > 6 && !strcmp(id + n - 6, ".jsonl"))) {
		const char *slash = strrchr(id, '/');
		const char *base = slash ? slash + 1 : id;
		size_t bn = strlen(base);
		if (bn > 6 && !strcmp(base + bn - 6, ".jsonl"))
			bn -= 6;
		snprintf(s->id, sizeof s->id, "%.*s", (int)bn, base);
		s->dir = slash ? xstrndup(id, (size_t)(slash - id) + (slash == id)) : xstrdup(".");
		s->path = xstrdup(id);
	} else {
		snprintf(s->id, sizeof s->id, "%s", id);
		s->dir = xasprintf("%s/sessions", home);
		s->path = xasprintf("%s/%s.jsonl", s->dir, s->id);
	}
	s->fd = open(s->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (s->fd < 0) {
		if (errno == ENOENT)
			snprintf(err, errlen, "no session '%s' in %s", s->id, s->dir);
		else
			snprintf(err, errlen, "cannot open '%s': %s", s->path, strerror(errno));
		session_close(s);
		return -1;
	}
	return lock(s, err, errlen);
}

void session_close(struct session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->dir);
	free(s->path);
	s->fd = -1;
	s->dir = s->path = NULL;
}

int session_append(struct session *s, const char *line, size_t len)
{
	if (s->fd < 0) {
		errno = EBADF;
		return -1;
	}
	int nl = !len || line[len - 1] != '\n';
	struct iovec iov[2] = {{(void *)line, len}, {(void *)"\n", nl ? 1 : 0}};
	size_t total = len + (nl ? 1 : 0), done = 0;
	while (done < total) {
		struct iovec v[2];
		int nv = 0;
		size_t skip = done;
		for (int i = 0; i < 2; i++) {
			if (skip >= iov[i].iov_len) {
				skip -= iov[i].iov_len;
				continue;
			}
			v[nv].iov_base = (char *)iov[i].iov_base + skip;
			v[nv].iov_len = iov[i].iov_len - skip;
			nv++;
			skip = 0;
		}
		ssize_t w = writev(s->fd, v, nv);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

int session_sync(struct session *s)
{
	return s->fd >= 0 ? fdatasync(s->fd) : 0;
}

int session_snapshot(const struct session *s, char *err, size_t errlen)
{
	int src = open(s->path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		snprintf(err, errlen, "cannot read '%s': %s", s->path, strerror(errno));
		return -1;
	}
	int mfd = memfd_create("bl-conversation", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return src; /* no memfd: the live file, read-only */
	char *chunk = xmalloc(65536);
	int rc = 0;
	for (;;) {
		ssize_t n = read(src, chunk, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = (int)n;
			break;
		}
		if (write_all(mfd, chunk, (size_t)n) < 0) {
			rc = -1;
			break;
		}
	}
	int e = errno;
	free(chunk);
	close(src);
	if (rc < 0 || lseek(mfd, 0, SEEK_SET) < 0) {
		snprintf(err, errlen, "cannot copy '%s': %s", s->path,
		         strerror(rc < 0 ? e : errno));
		close(mfd);
		return -1;
	}
	fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return mfd;
}

int session_read(const struct session *s, struct conv *c, char *err, size_t errlen)
{
	int fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		memset(c, 0, sizeof *c);
		snprintf(err, errlen, "cannot read '%s': %s", s->path, strerror(errno));
		return -1;
	}
	int rc = conv_read_fd(fd, s->path, c, err, errlen);
	close(fd);
	return rc;
}

/* Appends to w the raw value of key in item it's object, or def. */
static void copy_str(struct jw *w, const char *key, const struct conv_item *it, const char *field,
                     const char *def)
{
	int v = it ? json_get(&it->j, 0, field) : -1;
	jw_key(w, key);
	if (v >= 0 && json_type(&it->j, v) == JSON_STRING) {
		size_t n;
		const char *raw = json_raw(&it->j, v, &n);
		jw_raw(w, raw, n);
	} else {
		jw_str(w, def);
	}
}

static int is_event(const struct conv_item *it, const char *name)
{
	return it->type == CONV_EVENT && json_streq(&it->j, json_get(&it->j, 0, "event"), name);
}

/* The document of session.h for session id into out. */
static void build_document(const char *id, const struct conv *c, struct buf *out)
{
	const struct conv_item *task = NULL, *result = NULL;
	char **agents = xcalloc(c->n + 1, sizeof *agents);
	size_t nagents = 0;
	long long turns = 0;
	for (size_t i = 0; i < c->n; i++) {
		const struct conv_item *it = &c->items[i];
		if (it->type == CONV_TASK && !task)
			task = it;
		if (it->type == CONV_RESULT)
			result = it;
		if (is_event(it, "stage_start")) {
			turns++;
			size_t k = 0;
			while (k < nagents && it->agent && strcmp(agents[k], it->agent))
				k++;
			if (it->agent && k == nagents)
				agents[nagents++] = it->agent;
		}
	}
	char now[32];
	rfc3339_now(now);
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_kstr(&w, "session_id", id);
	copy_str(&w, "created_at", task, "ts", now);
	copy_str(&w, "completed_at", result, "ts", now);
	copy_str(&w, "user_request", task, "text", "");
	jw_kint(&w, "total_turns", turns);
	jw_key(&w, "agents_used");
	jw_arr(&w);
	for (size_t k = 0; k < nagents; k++)
		jw_str(&w, agents[k]);
	jw_arr_end(&w);
	if (task && json_get(&task->j, 0, "pipeline") >= 0)
		copy_str(&w, "pipeline", task, "pipeline", "");
	jw_key(&w, "messages");
	jw_arr(&w);
	for (size_t i = 0; i < c->n; i++)
		jw_raw(&w, c->items[i].line, c->items[i].len);
	jw_arr_end(&w);
	jw_key(&w, "result");
	jw_obj(&w);
	if (result) {
		int k, i;
		JSON_OBJECT_EACH(&result->j, 0, i, k)
		{
			if (json_streq(&result->j, k, "type") || json_streq(&result->j, k, "ts"))
				continue;
			char *key = json_str(&result->j, k, NULL);
			size_t n;
			const char *raw = json_raw(&result->j, k + 1, &n);
			jw_key(&w, key);
			jw_raw(&w, raw, n);
			free(key);
		}
		if (json_get(&result->j, 0, "tests_passed") < 0)
			jw_kbool(&w, "tests_passed", 0);
	} else {
		jw_kstr(&w, "status", "stopped");
		jw_kbool(&w, "tests_passed", 0);
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
	buf_addc(out, '\n');
	free(agents);
}

/* Writes data to fd, through gzip when compress.  0 or -1 with err. */
int session_write_document(int fd, int compress, const struct buf *data, char *err, size_t errlen)
{
	if (!compress) {
		if (write_all(fd, data->p, data->len) < 0) {
			snprintf(err, errlen, "write: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	int gfd = dup(fd);
	gzFile gz = gfd >= 0 ? gzdopen(gfd, "wb6") : NULL;
	if (!gz) {
		if (gfd >= 0)
			close(gfd);
		snprintf(err, errlen, "gzip: cannot start");
		return -1;
	}
	size_t off = 0;
	int rc = 0;
	while (off < data->len && rc == 0) {
		unsigned n =
		    data->len - off > (1u << 30) ? (1u << 30) : (unsigned)(data->len - off);
		int w = gzwrite(gz, data->p + off, n);
		if (w <= 0) {
			int ge;
			snprintf(err, errlen, "gzip: %s", gzerror(gz, &ge));
			rc = -1;
		}
		off += (size_t)(w > 0 ? w : 0);
	}
	if (gzclose(gz) != Z_OK && rc == 0) {
		snprintf(err, errlen, "gzip: cannot finish the file");
		rc = -1;
	}
	return rc;
}

int session_save(const struct session *s, int compress, char **out_path, char *err, size_t errlen)
{
	struct conv c;
	char rerr[600];
	if (out_path)
		*out_path = NULL;
	if (session_read(s, &c, rerr, sizeof rerr) < 0) {
		snprintf(err, errlen, "%s", rerr);
		return -1;
	}
	struct buf doc = BUF_INIT;
	build_document(s->id, &c, &doc);
	conv_free(&c);

	char *final = xasprintf("%s/%s.json%s", s->dir, s->id, compress ? ".gz" : "");
	char *tmp = xasprintf("%s/.%s.json.XXXXXX", s->dir, s->id);
	int rc = -1, fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a file in '%s': %s", s->dir, strerror(errno));
		goto out;
	}
	char werr[300];
	if (session_write_document(fd, compress, &doc, werr, sizeof werr) < 0) {
		snprintf(err, errlen, "%s: %s", tmp, werr);
		goto out;
	}
	if (fsync(fd) < 0 || rename(tmp, final) < 0) {
		snprintf(err, errlen, "cannot write '%s': %s", final, strerror(errno));
		goto out;
	}
	rc = 0;
	int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	if (rc == 0 && out_path)
		*out_path = final;
	else
		free(final);
	free(tmp);
	buf_free(&doc);
	return rc;
}

int session_document(const char *id, const char *log_path, struct buf *out, char *err,
                     size_t errlen)
{
	struct buf b = BUF_INIT;
	if (read_file(log_path, &b) < 0) {
		snprintf(err, errlen, "cannot read '%s': %s", log_path, strerror(errno));
		buf_free(&b);
		return -1;
	}
	size_t len = b.len;
	while (len && b.p[len - 1] != '\n')
		len--;
	struct conv c;
	int rc = conv_parse(b.p ? b.p : "", len, log_path, &c, err, errlen);
	if (rc == 0)
		build_document(id, &c, out);
	conv_free(&c);
	buf_free(&b);
	return rc;
}

int session_try_lock(const char *log_path, int exclusive)
{
	int fd = open(log_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc;
	while ((rc = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB)) < 0 && errno == EINTR)
		;
	if (rc < 0 && (errno == EWOULDBLOCK || errno == EAGAIN)) {
		close(fd);
		errno = EWOULDBLOCK;
		return -1;
	}
	return fd; /* locked, or a file system without locks */
}
