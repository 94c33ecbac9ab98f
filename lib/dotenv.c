/*
 * dotenv — KEY=VALUE files that hold keys for a workspace or a user
 * (DESIGN §5, §7): `.env` in the workspace, then in $BL_HOME.
 *
 * Guarantees: a variable already in the environment is never replaced
 * (the environment wins, then the workspace's file, then $BL_HOME's);
 * a file with a bad line sets nothing and the error names the file and
 * line, never a value, so a key cannot leak into a message.
 */
#include "dotenv.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

struct kv {
	char *k, *v;
};

/* Parses one .env line into *out (k NULL for blank/comment).  -1 with
 * what filled on a bad line. */
static int dotenv_line(char *s, struct kv *out, const char **what)
{
	out->k = out->v = NULL;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s || *s == '#')
		return 0;
	if (!strncmp(s, "export", 6) && (s[6] == ' ' || s[6] == '\t')) {
		s += 6;
		while (*s == ' ' || *s == '\t')
			s++;
	}
	char *k = s;
	if (!(isalpha((unsigned char)*s) || *s == '_'))
		return *what = "expected KEY=VALUE", -1;
	while (isalnum((unsigned char)*s) || *s == '_')
		s++;
	char *kend = s;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '=')
		return *what = "expected KEY=VALUE", -1;
	s++;
	while (*s == ' ' || *s == '\t')
		s++;
	struct buf v = BUF_INIT;
	if (*s == '"' || *s == '\'') {
		char q = *s++;
		for (; *s && *s != q; s++) {
			if (q == '"' && *s == '\\' && s[1]) {
				s++;
				buf_addc(&v, *s == 'n'   ? '\n'
				             : *s == 't' ? '\t'
				             : *s == 'r' ? '\r'
				                         : *s);
			} else {
				buf_addc(&v, *s);
			}
		}
		if (*s != q) {
			buf_free(&v);
			return *what = "unterminated quote", -1;
		}
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s && *s != '#') {
			buf_free(&v);
			return *what = "unexpected text after the closing quote", -1;
		}
	} else {
		char *e = s;
		while (*e && !(*e == '#' && (e == s || e[-1] == ' ' || e[-1] == '\t')))
			e++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		buf_add(&v, s, (size_t)(e - s));
	}
	out->k = xstrndup(k, (size_t)(kend - k));
	out->v = buf_detach(&v, NULL);
	return 0;
}

/* Sets only variables absent from the environment; nothing is set when
 * any line is bad.  Values are never put in err. */
int dotenv_load(const char *path, char *err, size_t errlen)
{
	char dummy[8];
	if (!err || !errlen)
		err = dummy, errlen = sizeof dummy;
	struct buf b = BUF_INIT;
	if (read_file(path, &b) < 0) {
		int e = errno;
		buf_free(&b);
		if (e == ENOENT || e == ENOTDIR)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -1;
	}
	struct kv *kvs = NULL;
	size_t n = 0;
	int lineno = 0, rc = 0;
	char *p = b.p ? b.p : (char *)"";
	while (*p) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		size_t l = strlen(p);
		if (l && p[l - 1] == '\r')
			p[l - 1] = '\0';
		lineno++;
		struct kv kv;
		const char *what = NULL;
		if (dotenv_line(p, &kv, &what) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, what);
			rc = -1;
			break;
		}
		if (kv.k) {
			kvs = xrealloc(kvs, (n + 1) * sizeof *kvs);
			kvs[n++] = kv;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	for (size_t i = 0; i < n; i++) {
		if (rc >= 0 && !getenv(kvs[i].k) && setenv(kvs[i].k, kvs[i].v, 0) == 0)
			rc++;
		free(kvs[i].k);
		free(kvs[i].v);
	}
	free(kvs);
	buf_free(&b);
	return rc;
}

/* Both files, workspace first; the second path is found after the first
 * is loaded, since a workspace .env may set BL_HOME. */
int dotenv_load_all(const char *workspace, char *err, size_t errlen)
{
	char *path = xasprintf("%s/.env", workspace);
	int rc = dotenv_load(path, err, errlen);
	free(path);
	if (rc < 0)
		return -1;
	char *home = config_bl_home();
	path = xasprintf("%s/.env", home);
	free(home);
	int rc2 = dotenv_load(path, err, errlen);
	free(path);
	return rc2 < 0 ? -1 : rc + rc2;
}
