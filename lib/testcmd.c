/*
 * testcmd — test command detection (see testcmd.h for the rules and
 * their order).  Every file is opened beneath the workspace and read up
 * to FILE_MAX bytes; nothing is run.
 */
#include "testcmd.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsbeneath.h"
#include "json.h"
#include "util.h"

#define FILE_MAX (1024 * 1024)

/* Reads up to FILE_MAX bytes of the regular file path into b.  0, or -1
 * when it is absent, not a regular file, outside or unreadable. */
static int slurp(int rootfd, const char *path, struct buf *b)
{
	char err[256];
	int fd = fsb_open(rootfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0, err, sizeof err);
	if (fd < 0)
		return -1;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	buf_reset(b);
	char chunk[16384];
	ssize_t n;
	while (b->len < FILE_MAX && (n = read(fd, chunk, sizeof chunk)) > 0)
		buf_add(b, chunk, (size_t)n);
	close(fd);
	if (!b->p)
		buf_add(b, "", 0);
	return 0;
}

static int exists(int rootfd, const char *path)
{
	struct buf b = BUF_INIT;
	int ok = slurp(rootfd, path, &b) == 0;
	buf_free(&b);
	return ok;
}

static int contains(int rootfd, const char *path, const char *needle)
{
	struct buf b = BUF_INIT;
	int ok = slurp(rootfd, path, &b) == 0 && memmem(b.p, b.len, needle, strlen(needle));
	buf_free(&b);
	return ok;
}

/* Does one logical makefile line define a rule for target? */
static int rule_names(const char *s, size_t n, const char *target)
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	if (!n || *s == '#')
		return 0;
	const char *colon = memchr(s, ':', n);
	if (!colon)
		return 0;
	/* An assignment (X = a:b, X := y, X ::= y, X ?= y): not a rule. */
	if (memchr(s, '=', (size_t)(colon - s)))
		return 0;
	size_t rest = n - (size_t)(colon - s) - 1;
	if (rest >= 1 && colon[1] == '=')
		return 0;
	if (rest >= 2 && colon[1] == ':' && colon[2] == '=')
		return 0;
	size_t tl = strlen(target);
	for (const char *p = s; p < colon;) {
		while (p < colon && isspace((unsigned char)*p))
			p++;
		const char *w = p;
		while (p < colon && !isspace((unsigned char)*p))
			p++;
		if ((size_t)(p - w) == tl && !memcmp(w, target, tl))
			return 1;
	}
	return 0;
}

int testcmd_make_has_target(const char *text, size_t len, const char *target)
{
	struct buf line = BUF_INIT;
	int found = 0;
	const char *p = text, *end = text + len;
	while (p < end && !found) {
		/* A logical line: physical lines joined at a trailing '\'. */
		buf_reset(&line);
		int recipe = *p == '\t';
		for (;;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *e = nl ? nl : end;
			size_t n = (size_t)(e - p);
			if (n && p[n - 1] == '\r')
				n--;
			int cont = n && p[n - 1] == '\\';
			buf_add(&line, p, cont ? n - 1 : n);
			p = nl ? nl + 1 : end;
			if (!cont || p >= end)
				break;
			buf_addc(&line, ' ');
		}
		if (!recipe && line.len)
			found = rule_names(line.p, line.len, target);
	}
	buf_free(&line);
	return found;
}

/* Is there a test_*.py or *_test.py file directly in dir? */
static int has_py_tests(int rootfd, const char *dir)
{
	char err[256];
	int fd = fsb_open(rootfd, dir, O_RDONLY | O_DIRECTORY, 0, err, sizeof err);
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	int found = 0;
	struct dirent *de;
	while (!found && (de = readdir(d)))
		found =
		    !fnmatch("test_*.py", de->d_name, 0) || !fnmatch("*_test.py", de->d_name, 0);
	closedir(d);
	return found;
}

static char *found(char *why, size_t whylen, const char *cmd, const char *fmt, const char *arg)
{
	snprintf(why, whylen, fmt, arg);
	return xstrdup(cmd);
}

/* The makefile make would read, then its test or check target. */
static char *detect_make(int rootfd, char *why, size_t whylen)
{
	static const char *const names[] = {"GNUmakefile", "makefile", "Makefile"};
	static const char *const targets[] = {"test", "check"};
	struct buf b = BUF_INIT;
	char *cmd = NULL;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		if (slurp(rootfd, names[i], &b) < 0)
			continue;
		for (size_t t = 0; t < 2 && !cmd; t++)
			if (testcmd_make_has_target(b.p, b.len, targets[t])) {
				cmd = xasprintf("make %s", targets[t]);
				snprintf(why, whylen, "%s has a '%s' target", names[i], targets[t]);
			}
		break;
	}
	buf_free(&b);
	return cmd;
}

static char *detect_npm(int rootfd, char *why, size_t whylen)
{
	struct buf b = BUF_INIT;
	struct json j = {0};
	char *cmd = NULL;
	if (slurp(rootfd, "package.json", &b) == 0 && json_parse(&j, b.p, b.len, NULL) == 0) {
		int scripts = json_get(&j, 0, "scripts");
		char *test = json_get_str(&j, scripts, "test");
		if (test && *test && !strstr(test, "no test specified"))
			cmd = found(why, whylen, "npm test", "%s has scripts.test", "package.json");
		free(test);
	}
	json_free(&j);
	buf_free(&b);
	return cmd;
}

static char *detect_pytest(int rootfd, char *why, size_t whylen)
{
	static const struct {
		const char *file, *needle;
	} configs[] = {
	    {"pytest.ini", NULL},
	    {"conftest.py", NULL},
	    {"pyproject.toml", "[tool.pytest"},
	    {"setup.cfg", "[tool:pytest]"},
	    {"tox.ini", "[pytest]"},
	};
	for (size_t i = 0; i < sizeof configs / sizeof *configs; i++) {
		const char *f = configs[i].file, *s = configs[i].needle;
		if (s ? contains(rootfd, f, s) : exists(rootfd, f))
			return found(why, whylen, "pytest",
			             s ? "%s configures pytest" : "%s exists", f);
	}
	static const char *const dirs[] = {".", "tests", "test"};
	for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
		if (has_py_tests(rootfd, dirs[i]))
			return found(why, whylen, "pytest", "%s holds test_*.py or *_test.py files",
			             !strcmp(dirs[i], ".") ? "the top level" : dirs[i]);
	return NULL;
}

char *testcmd_detect(int rootfd, char *why, size_t whylen)
{
	char *cmd;
	if ((cmd = detect_make(rootfd, why, whylen)) || (cmd = detect_npm(rootfd, why, whylen)) ||
	    (cmd = detect_pytest(rootfd, why, whylen)))
		return cmd;
	if (exists(rootfd, "Cargo.toml"))
		return found(why, whylen, "cargo test", "%s exists", "Cargo.toml");
	if (exists(rootfd, "go.mod"))
		return found(why, whylen, "go test ./...", "%s exists", "go.mod");
	snprintf(why, whylen,
	         "no makefile test/check target, package.json scripts.test, pytest "
	         "layout, Cargo.toml or go.mod");
	return NULL;
}
