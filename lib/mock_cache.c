/*
 * mock_cache — the simulated prompt cache (rules in mock_cache.h).
 * Prefixes are kept as 64-bit FNV-1a hashes mixed with their length, in
 * an open-addressing set; a test cache holds a few hundred entries.
 */
#include "mock_cache.h"

#include <stdlib.h>
#include <string.h>

#include "mock_req.h"
#include "util.h"

struct boundary {
	uint64_t key;
	size_t len;
	int breakpoint;
};

struct walk {
	uint64_t h;
	size_t len;
	struct boundary *b;
	int n, cap;
	struct buf tmp;
};

static void hash_add(struct walk *w, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		w->h ^= (unsigned char)p[i];
		w->h *= 0x100000001b3ULL;
	}
	w->len += n;
}

static uint64_t key_of(uint64_t h, size_t len)
{
	uint64_t k = h ^ ((uint64_t)len * 0x9E3779B97F4A7C15ULL);
	return k ? k : 1;
}

/* Adds one block (tag + canonical text) and records the boundary after it. */
static void add_block(struct walk *w, const char *tag, const struct json *j, int t)
{
	buf_reset(&w->tmp);
	buf_adds(&w->tmp, tag);
	mock_canon_buf(&w->tmp, j, t, "cache_control");
	hash_add(w, w->tmp.p, w->tmp.len);
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 32;
		w->b = xrealloc(w->b, (size_t)w->cap * sizeof *w->b);
	}
	int cc = json_get(j, t, "cache_control");
	w->b[w->n++] =
	    (struct boundary){key_of(w->h, w->len), w->len, json_type(j, cc) == JSON_OBJECT};
}

/* Adds the blocks of a content value: a string, or an array of blocks. */
static void add_content(struct walk *w, const char *tag, const struct json *j, int c)
{
	int i, e;
	if (json_type(j, c) == JSON_ARRAY) {
		JSON_ARRAY_EACH(j, c, i, e)
		{
			add_block(w, tag, j, e);
		}
	} else if (json_type(j, c) != JSON_NONE) {
		add_block(w, tag, j, c);
	}
}

static int set_has(const struct mock_cache *c, uint64_t key)
{
	if (!c->cap)
		return 0;
	for (size_t i = key & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
		if (c->slot[i] == key)
			return 1;
		if (c->slot[i] == 0)
			return 0;
	}
}

static void set_put(struct mock_cache *c, uint64_t key)
{
	if (set_has(c, key))
		return;
	if ((c->n + 1) * 2 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		uint64_t *old = c->slot;
		size_t oldcap = c->cap;
		c->slot = xcalloc(cap, sizeof *c->slot);
		c->cap = cap;
		c->n = 0;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i])
				set_put(c, old[i]);
		free(old);
	}
	size_t i = key & (c->cap - 1);
	while (c->slot[i])
		i = (i + 1) & (c->cap - 1);
	c->slot[i] = key;
	c->n++;
}

void mock_cache_bill(struct mock_cache *c, const struct json *j, size_t body_len,
                     struct mock_bill *out)
{
	struct walk w = {0xcbf29ce484222325ULL, 0, NULL, 0, 0, BUF_INIT};
	int i, e;

	/* the model: caches are per model */
	int model = json_get(j, 0, "model");
	if (json_type(j, model) == JSON_STRING) {
		size_t n;
		const char *raw = json_raw(j, model, &n);
		hash_add(&w, raw, n);
		w.len = 0;
	}
	int tools = json_get(j, 0, "tools");
	if (json_type(j, tools) == JSON_ARRAY) {
		JSON_ARRAY_EACH(j, tools, i, e)
		{
			add_block(&w, "T", j, e);
		}
	}
	add_content(&w, "S", j, json_get(j, 0, "system"));
	int msgs = json_get(j, 0, "messages");
	if (json_type(j, msgs) == JSON_ARRAY) {
		JSON_ARRAY_EACH(j, msgs, i, e)
		{
			int role = json_get(j, e, "role");
			add_content(&w, json_streq(j, role, "assistant") ? "A" : "U", j,
			            json_get(j, e, "content"));
		}
	}
	if (w.n > 0 && json_type(j, json_get(j, 0, "cache_control")) == JSON_OBJECT)
		w.b[w.n - 1].breakpoint = 1;

	int last = -1;
	for (i = 0; i < w.n; i++)
		if (w.b[i].breakpoint)
			last = i;
	long long total = (long long)(body_len / 4);
	out->cache_read = out->cache_creation = 0;
	if (last >= 0) {
		size_t hit = 0;
		for (i = last; i >= 0; i--) {
			if (set_has(c, w.b[i].key)) {
				hit = w.b[i].len;
				break;
			}
		}
		out->cache_read = (long long)(hit / 4);
		out->cache_creation = (long long)(w.b[last].len / 4) - out->cache_read;
		for (i = 0; i <= last; i++)
			if (w.b[i].breakpoint)
				set_put(c, w.b[i].key);
	}
	out->input_tokens = total - out->cache_read - out->cache_creation;
	if (out->input_tokens < 1)
		out->input_tokens = 1;
	free(w.b);
	buf_free(&w.tmp);
}

void mock_cache_free(struct mock_cache *c)
{
	free(c->slot);
	memset(c, 0, sizeof *c);
}
