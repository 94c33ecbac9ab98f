/*
 * respcache — the on-disk response cache (see respcache.h for the key,
 * the entry format and the guarantees under concurrent use).
 *
 * Recency is the entry file's mtime, set explicitly from CLOCK_REALTIME
 * (nanoseconds) when an entry is stored and on every hit, because the
 * kernel's own timestamps are only tick-grained and would tie.
 */
#include "respcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "json.h"
#include "provider.h"

#define STALE_TEMP_S 3600

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mkdir -p with mode 0700 for the parts it creates. */
static int make_dirs(const char *dir)
{
	char *p = xstrdup(dir);
	int rc = 0;
	for (char *s = p + 1; rc == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			rc = -1;
		*s = c;
		if (!c)
			break;
	}
	int e = errno;
	free(p);
	errno = e;
	return rc;
}

/* Opens dir for the cache and takes ownership of a copy of its path. */
int respcache_open(struct respcache *rc, const char *dir, int ttl_s, int max_entries, char *err,
                   size_t errlen)
{
	memset(rc, 0, sizeof *rc);
	if (make_dirs(dir) < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", dir, strerror(errno));
		return -1;
	}
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a directory", dir);
		return -1;
	}
	rc->dir = xstrdup(dir);
	size_t n = strlen(rc->dir);
	while (n > 1 && rc->dir[n - 1] == '/')
		rc->dir[--n] = '\0';
	rc->ttl_s = ttl_s > 0 ? ttl_s : 0;
	rc->max_entries = max_entries > 0 ? max_entries : 0;
	return 0;
}

/* Releases what rc owns; rc may be opened again. */
void respcache_close(struct respcache *rc)
{
	free(rc->dir);
	rc->dir = NULL;
}

/* Fills hex with the key of req as ep would send it. */
int respcache_key(const struct llm_endpoint *ep, const struct llm_request *req,
                  char hex[RESPCACHE_KEY_LEN + 1])
{
	struct llm_request canon = *req; /* shallow: only read by the provider */
	canon.stream = 1;
	canon.cache = 0;
	struct buf body = BUF_INIT;
	const char *base = ep->base_url ? ep->base_url : ep->provider->default_base_url;
	buf_addf(&body, "bl-respcache/1\n%s\n%s\n", ep->provider->name, base);
	ep->provider->body(&canon, &body);

	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int ok = EVP_Digest(body.p, body.len, md, &mdlen, EVP_sha256(), NULL) && mdlen == 32;
	buf_free(&body);
	if (!ok)
		return -1;
	static const char digits[] = "0123456789abcdef";
	for (unsigned int i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[RESPCACHE_KEY_LEN] = '\0';
	return 0;
}

static int is_key(const char *s, size_t n)
{
	if (n != RESPCACHE_KEY_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* "<64 hex>.json" */
static int is_entry_name(const char *name)
{
	size_t n = strlen(name);
	return n == RESPCACHE_KEY_LEN + 5 && !strcmp(name + RESPCACHE_KEY_LEN, ".json") &&
	       is_key(name, RESPCACHE_KEY_LEN);
}

/* Removes path only while it is still the file fd has open, so a fresh
 * entry renamed over it by another process survives. */
static void remove_if_same(const char *path, int fd)
{
	struct stat a, b;
	if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
	    a.st_dev == b.st_dev)
		unlink(path);
}

static void touch(int fd)
{
	struct timespec ts[2];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[1] = ts[0];
	futimens(fd, ts);
}

/* Fills resp from a parsed entry; -1 when it is not a valid entry of key. */
static int decode_entry(const struct json *j, const char *key, struct llm_response *resp)
{
	if (json_type(j, 0) != JSON_OBJECT || json_get_int(j, 0, "v", 0) != 1 ||
	    !json_streq(j, json_get(j, 0, "key"), key))
		return -1;
	int text = json_get(j, 0, "text"), calls = json_get(j, 0, "calls");
	int stop = json_get(j, 0, "stop_reason");
	if (json_type(j, text) != JSON_STRING || json_type(j, calls) != JSON_ARRAY ||
	    json_type(j, stop) != JSON_STRING)
		return -1;
	int i, c;
	JSON_ARRAY_EACH(j, calls, i, c)
	{
		int id = json_get(j, c, "id"), name = json_get(j, c, "name");
		int input = json_get(j, c, "input");
		if (json_type(j, id) != JSON_STRING || json_type(j, name) != JSON_STRING ||
		    json_type(j, input) != JSON_OBJECT)
			return -1;
	}
	if (json_str_buf(j, text, &resp->text) < 0)
		return -1;
	resp->ncalls = (size_t)json_len(j, calls);
	resp->calls = resp->ncalls ? xcalloc(resp->ncalls, sizeof *resp->calls) : NULL;
	JSON_ARRAY_EACH(j, calls, i, c)
	{
		struct llm_block *b = &resp->calls[i];
		size_t n;
		const char *raw = json_raw(j, json_get(j, c, "input"), &n);
		b->kind = LLM_TOOL_USE;
		b->id = json_get_str(j, c, "id");
		b->name = json_get_str(j, c, "name");
		b->input = xstrndup(raw, n);
	}
	resp->stop_reason = json_get_str(j, 0, "stop_reason");
	resp->model = json_get_str(j, 0, "model");
	resp->id = json_get_str(j, 0, "id");
	return 0;
}

/* Looks key up and fills resp on a hit (see respcache.h). */
int respcache_get(struct respcache *rc, const char *key, struct llm_response *resp)
{
	int64_t t0 = mono_ms();
	if (!rc->dir || !is_key(key, strlen(key))) {
		rc->misses++;
		return 0;
	}
	char *path = xasprintf("%s/%s.json", rc->dir, key);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(path);
		rc->misses++;
		return 0;
	}
	struct buf b = BUF_INIT;
	struct json j = {0};
	int ok = read_all(fd, &b) == 0 && b.len && json_parse(&j, b.p, b.len, NULL) == 0;
	int64_t created = ok ? json_get_int(&j, 0, "created_ms", -1) : -1;
	int expired = ok && rc->ttl_s && (created < 0 || wall_ms() - created >= rc->ttl_s * 1000LL);
	if (ok && !expired && decode_entry(&j, key, resp) < 0) {
		llm_response_free(resp);
		memset(resp, 0, sizeof *resp);
		ok = 0;
	}
	if (!ok || expired) {
		remove_if_same(path, fd);
	} else {
		touch(fd);
		memset(&resp->usage, 0, sizeof resp->usage);
		resp->attempts = 0;
		resp->latency_ms = mono_ms() - t0;
		resp->ttft_ms = resp->text.len ? resp->latency_ms : -1;
	}
	json_free(&j);
	buf_free(&b);
	close(fd);
	free(path);
	if (!ok || expired) {
		rc->misses++;
		return 0;
	}
	rc->hits++;
	return 1;
}

static int worth_storing(const struct llm_response *r)
{
	if (!r->text.len && !r->ncalls)
		return 0;
	for (size_t i = 0; i < r->ncalls; i++) {
		struct json j;
		const char *in = r->calls[i].input;
		if (!in || json_parse(&j, in, strlen(in), NULL) < 0)
			return 0;
		int obj = json_type(&j, 0) == JSON_OBJECT;
		json_free(&j);
		if (!obj)
			return 0;
	}
	return 1;
}

static void encode_entry(const char *key, const struct llm_response *r, struct buf *out)
{
	struct jw w;
	jw_init(&w, out);
	jw_obj(&w);
	jw_kint(&w, "v", 1);
	jw_kstr(&w, "key", key);
	jw_kint(&w, "created_ms", wall_ms());
	jw_kstr(&w, "model", r->model);
	jw_kstr(&w, "id", r->id);
	jw_kstr(&w, "stop_reason", r->stop_reason ? r->stop_reason : "");
	jw_key(&w, "text");
	jw_strn(&w, r->text.p ? r->text.p : "", r->text.len);
	jw_key(&w, "calls");
	jw_arr(&w);
	for (size_t i = 0; i < r->ncalls; i++) {
		const struct llm_block *c = &r->calls[i];
		jw_obj(&w);
		jw_kstr(&w, "id", c->id ? c->id : "");
		jw_kstr(&w, "name", c->name ? c->name : "");
		jw_key(&w, "input");
		jw_raw(&w, c->input, strlen(c->input));
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_key(&w, "usage");
	jw_obj(&w);
	jw_kint(&w, "input_tokens", r->usage.input_tokens);
	jw_kint(&w, "output_tokens", r->usage.output_tokens);
	jw_kint(&w, "cache_creation_input_tokens", r->usage.cache_creation_input_tokens);
	jw_kint(&w, "cache_read_input_tokens", r->usage.cache_read_input_tokens);
	jw_obj_end(&w);
	jw_obj_end(&w);
	buf_addc(out, '\n');
}

/* Stores resp under key (temp + fsync + rename), then evicts. */
int respcache_put(struct respcache *rc, const char *key, const struct llm_response *resp, char *err,
                  size_t errlen)
{
	if (!rc->dir || !is_key(key, strlen(key)) || !worth_storing(resp))
		return 0;
	unsigned char rnd[6] = {0};
	if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) < 0) {
		int64_t t = mono_ms();
		memcpy(rnd, &t, sizeof rnd);
	}
	char *tmp = xasprintf("%s/.tmp.%ld.%02x%02x%02x%02x%02x%02x", rc->dir, (long)getpid(),
	                      rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
	char *path = xasprintf("%s/%s.json", rc->dir, key);
	struct buf b = BUF_INIT;
	encode_entry(key, resp, &b);
	int rcode = -1;
	const char *what = "create";
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		what = "write";
		if (write_all(fd, b.p, b.len) == 0) {
			touch(fd);
			what = "fsync";
			if (fsync(fd) == 0)
				rcode = 0;
		}
		int e = errno;
		close(fd);
		errno = e;
		if (rcode == 0) {
			what = "rename";
			if (rename(tmp, path) < 0)
				rcode = -1;
		}
		if (rcode < 0) {
			e = errno;
			unlink(tmp);
			errno = e;
		}
	}
	if (rcode < 0)
		snprintf(err, errlen, "cannot %s cache entry '%s': %s", what, tmp, strerror(errno));
	buf_free(&b);
	free(tmp);
	free(path);
	if (rcode < 0)
		return -1;
	/* The rename is durable once the directory is. */
	int dfd = open(rc->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc->stores++;
	if (rc->max_entries && respcache_evict(rc, rc->max_entries) < 0) {
		snprintf(err, errlen, "cannot evict from '%s': %s", rc->dir, strerror(errno));
		return -1;
	}
	return 1;
}

struct aged {
	struct timespec mtime;
	char name[RESPCACHE_KEY_LEN + 6];
};

static int older_first(const void *pa, const void *pb)
{
	const struct aged *a = pa, *b = pb;
	if (a->mtime.tv_sec != b->mtime.tv_sec)
		return a->mtime.tv_sec < b->mtime.tv_sec ? -1 : 1;
	if (a->mtime.tv_nsec != b->mtime.tv_nsec)
		return a->mtime.tv_nsec < b->mtime.tv_nsec ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Removes the oldest entries beyond max and stale temp files. */
int respcache_evict(struct respcache *rc, int max)
{
	if (!rc->dir)
		return 0;
	char *lockpath = xasprintf("%s/.lock", rc->dir);
	int lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lockpath);
	if (lfd < 0)
		return -1;
	while (flock(lfd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int e = errno;
			close(lfd);
			errno = e;
			return -1;
		}
	int dfd = open(rc->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		int e = errno;
		if (dfd >= 0)
			close(dfd);
		close(lfd);
		errno = e;
		return -1;
	}
	struct aged *v = NULL;
	size_t n = 0, cap = 0;
	time_t now = time(NULL);
	struct dirent *de;
	while ((de = readdir(d))) {
		struct stat st;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!strncmp(de->d_name, ".tmp.", 5)) {
			if (now - st.st_mtim.tv_sec > STALE_TEMP_S)
				unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (!is_entry_name(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[n].mtime = st.st_mtim;
		memcpy(v[n].name, de->d_name, sizeof v[n].name);
		n++;
	}
	int removed = 0;
	if (max > 0 && n > (size_t)max) {
		qsort(v, n, sizeof *v, older_first);
		for (size_t i = 0; i < n - (size_t)max; i++)
			if (unlinkat(dfd, v[i].name, 0) == 0)
				removed++;
	}
	free(v);
	closedir(d);
	flock(lfd, LOCK_UN);
	close(lfd);
	rc->evictions += removed;
	return removed;
}
