/*
 * test_tools — fsbeneath confinement and the read-only tools (read, glob,
 * grep) over a scratch workspace built in a temp directory, plus the
 * registry, the result cap and the glob matcher.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsbeneath.h"
#include "t.h"
#include "tools.h"

static char tmp[256], ws[300], outside[300];

static void put(const char *rel, const char *text)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", ws, rel);
	FILE *f = fopen(p, "w");
	if (!f) {
		perror(p);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static void mkd(const char *rel)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", ws, rel);
	mkdir(p, 0755);
}

static void lnk(const char *target, const char *rel)
{
	char p[600];
	snprintf(p, sizeof p, "%s/%s", ws, rel);
	if (symlink(target, p) < 0) {
		perror(p);
		exit(2);
	}
}

static struct tool_ctx ctx;
static char *last;

/* Runs a tool by name; returns the result text (static copy). */
static const char *run(const char *name, const char *input, int *is_error)
{
	free(last);
	struct tool_result res = {0};
	const struct tool *t = tools_find(name);
	if (!t) {
		*is_error = -1;
		return last = xstrdup("(no such tool)");
	}
	tools_run(t, &ctx, input, strlen(input), &res);
	*is_error = res.is_error;
	last = buf_detach(&res.text, NULL);
	return last;
}

static void setup(void)
{
	const char *td = getenv("TMPDIR");
	snprintf(tmp, sizeof tmp, "%s/test_tools.XXXXXX", td && *td ? td : "/tmp");
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(ws, sizeof ws, "%s/ws", tmp);
	snprintf(outside, sizeof outside, "%s/secret.txt", tmp);
	mkdir(ws, 0755);
	FILE *f = fopen(outside, "w");
	fputs("TOP-SECRET-OUTSIDE\n", f);
	fclose(f);

	put("README.md", "# Demo\nhello world\n");
	mkd("src");
	mkd("src/sub");
	mkd(".git");
	put(".git/config", "hello from git\n");
	put("src/a.c", "int main(void)\n{\n\treturn 0; /* hello */\n}\n");
	put("src/b.h", "#define HELLO 1\n");
	put("src/sub/c.c", "void c(void) {} // Hello again\n");
	put("noeol.txt", "one\ntwo");
	put("empty.txt", "");
	char bin[] = "ELF\0\1\2hello\n";
	char p[600];
	snprintf(p, sizeof p, "%s/blob.bin", ws);
	f = fopen(p, "w");
	fwrite(bin, 1, sizeof bin - 1, f);
	fclose(f);
	/* 2500 numbered lines */
	struct buf b = BUF_INIT;
	for (int i = 1; i <= 2500; i++)
		buf_addf(&b, "line %d\n", i);
	put("long.txt", b.p);
	buf_free(&b);
	/* a line of 5000 bytes */
	char *wide = xmalloc(5002);
	memset(wide, 'x', 5000);
	wide[5000] = '\n';
	wide[5001] = '\0';
	put("wide.txt", wide);
	free(wide);

	lnk("../secret.txt", "out-link");
	lnk(outside, "abs-link");
	lnk("src/a.c", "in-link");
	lnk("..", "up-dir");
	lnk("src", "src-link");
}

static void cleanup(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
}

static void test_fsbeneath(int root)
{
	char err[512];
	int fd = fsb_open(root, "src/a.c", O_RDONLY, 0, err, sizeof err);
	T_OK(fd >= 0, "fsb_open inside");
	if (fd >= 0)
		close(fd);

	fd = fsb_open(root, "../secret.txt", O_RDONLY, 0, err, sizeof err);
	T_OK(fd < 0, "fsb_open ../ refused");
	T_STREQ(err, "path '../secret.txt' is outside the workspace", "message for ..");

	fd = fsb_open(root, "src/../../secret.txt", O_RDONLY, 0, err, sizeof err);
	T_OK(fd < 0 && strstr(err, "outside the workspace"), "fsb_open src/../../ refused");

	fd = fsb_open(root, "src/../README.md", O_RDONLY, 0, err, sizeof err);
	T_OK(fd >= 0, "fsb_open src/../README.md stays inside: allowed");
	if (fd >= 0)
		close(fd);

	fd = fsb_open(root, "/etc/passwd", O_RDONLY, 0, err, sizeof err);
	T_OK(fd < 0, "fsb_open absolute refused");
	T_STREQ(err, "path '/etc/passwd' is outside the workspace", "message for absolute");

	fd = fsb_open(root, "out-link", O_RDONLY, 0, err, sizeof err);
	T_OK(fd < 0 && strstr(err, "outside the workspace"), "relative symlink out refused");
	fd = fsb_open(root, "abs-link", O_RDONLY, 0, err, sizeof err);
	T_OK(fd < 0 && strstr(err, "outside the workspace"), "absolute symlink out refused");
	fd = fsb_open(root, "up-dir/secret.txt", O_RDONLY, 0, err, sizeof err);
	T_OK(fd < 0 && strstr(err, "outside the workspace"), "symlinked dir out refused");
	fd = fsb_open(root, "/proc/self/root/etc/passwd", O_RDONLY, 0, err, sizeof err);
	T_OK(fd < 0, "magic link path refused");

	fd = fsb_open(root, "in-link", O_RDONLY, 0, err, sizeof err);
	T_OK(fd >= 0, "symlink inside followed");
	if (fd >= 0)
		close(fd);
	fd = fsb_open(root, "src-link/b.h", O_RDONLY, 0, err, sizeof err);
	T_OK(fd >= 0, "symlinked dir inside followed");
	if (fd >= 0)
		close(fd);

	fd = fsb_open(root, "nope.txt", O_RDONLY, 0, err, sizeof err);
	T_OK(fd < 0 && errno == ENOENT, "missing file: ENOENT");
	T_STREQ(err, "cannot open 'nope.txt': No such file or directory", "missing file message");

	const char *base = NULL;
	fd = fsb_open_parent(root, "src/sub/new.c", &base, err, sizeof err);
	T_OK(fd >= 0 && base && !strcmp(base, "new.c"), "fsb_open_parent nested");
	if (fd >= 0)
		close(fd);
	fd = fsb_open_parent(root, "top.c", &base, err, sizeof err);
	T_OK(fd >= 0 && !strcmp(base, "top.c"), "fsb_open_parent top level");
	if (fd >= 0)
		close(fd);
	fd = fsb_open_parent(root, "../x.c", &base, err, sizeof err);
	T_OK(fd < 0 && strstr(err, "outside"), "fsb_open_parent ../ refused");
	fd = fsb_open_parent(root, "/tmp/x.c", &base, err, sizeof err);
	T_OK(fd < 0 && strstr(err, "outside"), "fsb_open_parent absolute refused");
	fd = fsb_open_parent(root, "src/", &base, err, sizeof err);
	T_OK(fd < 0 && errno == EINVAL, "fsb_open_parent trailing slash refused");

	T_OK(fsb_path_is_inside("src/**/*.c"), "is_inside relative");
	T_OK(!fsb_path_is_inside("src/../../x"), "is_inside ..");
	T_OK(!fsb_path_is_inside("/x"), "is_inside absolute");
	T_OK(fsb_path_is_inside("a..b/c"), "is_inside a..b is a name");
}

static int collect(void *vctx, const struct fsb_entry *e)
{
	struct buf *b = vctx;
	buf_addf(b, "%s%s ", e->path, e->type == 4 /* DT_DIR */ ? "/" : "");
	return FSB_CONTINUE;
}

static void test_walk(int root)
{
	struct buf b = BUF_INIT;
	char err[256];
	T_OK(fsb_walk(root, "src", collect, &b, NULL, err, sizeof err) == 0, "walk src");
	T_STREQ(b.p, "src/a.c src/b.h src/sub/ src/sub/c.c ", "walk order, sorted, depth-first");
	buf_reset(&b);
	T_OK(fsb_walk(root, "./src/", collect, &b, NULL, err, sizeof err) == 0, "walk ./src/");
	T_STREQ(b.p, "src/a.c src/b.h src/sub/ src/sub/c.c ", "walk ./src/ paths normalised");
	buf_reset(&b);
	fsb_walk(root, ".", collect, &b, NULL, err, sizeof err);
	T_OK(!strstr(b.p, ".git"), "walk skips .git");
	T_OK(strstr(b.p, "up-dir ") && !strstr(b.p, "up-dir/"),
	     "walk lists a symlink, never enters");
	T_OK(!strstr(b.p, "src-link/"), "walk does not enter a symlinked dir inside either");
	T_OK(fsb_walk(root, "../", collect, &b, NULL, err, sizeof err) < 0 &&
	         strstr(err, "outside"),
	     "walk of ../ refused");
	buf_free(&b);
}

static void test_read(void)
{
	int e;
	const char *r = run("read", "{\"path\":\"README.md\"}", &e);
	T_STREQ(r, "     1\t# Demo\n     2\thello world\n", "read numbers lines like cat -n");
	T_INTEQ(e, 0, "read ok is not an error");

	r = run("read", "{\"path\":\"noeol.txt\"}", &e);
	T_STREQ(r, "     1\tone\n     2\ttwo\n", "read: last line without newline");

	r = run("read", "{\"path\":\"long.txt\"}", &e);
	T_OK(strstr(r, "  2000\tline 2000\n") && !strstr(r, "line 2001"),
	     "read: default limit 2000 lines");
	T_OK(strstr(r, "[lines 1-2000 of 2500; 500 more lines: call read with offset=2001 to "
	               "continue]"),
	     "read: says more remains and how to page");

	r = run("read", "{\"path\":\"long.txt\",\"offset\":2001,\"limit\":3}", &e);
	T_STREQ(r,
	        "  2001\tline 2001\n  2002\tline 2002\n  2003\tline 2003\n"
	        "[lines 2001-2003 of 2500; 497 more lines: call read with offset=2004 to "
	        "continue]\n",
	        "read: offset and limit page");

	r = run("read", "{\"path\":\"long.txt\",\"offset\":2499}", &e);
	T_STREQ(r, "  2499\tline 2499\n  2500\tline 2500\n", "read: last page has no footer");

	r = run("read", "{\"path\":\"long.txt\",\"offset\":\"10\",\"limit\":1}", &e);
	T_OK(!e && strstr(r, "    10\tline 10\n"), "read: quoted integer accepted");

	r = run("read", "{\"path\":\"long.txt\",\"offset\":9000}", &e);
	T_OK(e && strstr(r, "past the end"), "read: offset past the end is an error");

	r = run("read", "{\"path\":\"wide.txt\"}", &e);
	T_OK(!e && strlen(r) < 2100 && strstr(r, "line cut; 5000 bytes"), "read: long line cut");

	r = run("read", "{\"path\":\"blob.bin\"}", &e);
	T_OK(e && strstr(r, "binary"), "read: binary refused");

	r = run("read", "{\"path\":\"empty.txt\"}", &e);
	T_OK(!e && strstr(r, "empty"), "read: empty file");

	r = run("read", "{\"path\":\"src\"}", &e);
	T_OK(e && strstr(r, "is a directory"), "read: directory refused");

	r = run("read", "{\"path\":\"nope\"}", &e);
	T_STREQ(r, "'nope' does not exist", "read: missing file");
	T_INTEQ(e, 1, "read: missing file is an error");

	r = run("read", "{}", &e);
	T_OK(e && strstr(r, "missing required argument 'path'"), "read: path required");
	r = run("read", "{\"path\":3}", &e);
	T_OK(e && strstr(r, "must be a string"), "read: path must be a string");
	r = run("read", "{\"path\":\"README.md\",\"limit\":0}", &e);
	T_OK(e && strstr(r, "at least 1"), "read: limit 0 refused");
	r = run("read", "[1]", &e);
	T_OK(e && strstr(r, "JSON object"), "read: input not an object");
	r = run("read", "{\"path\":", &e);
	T_OK(e && strstr(r, "not valid JSON"), "read: input not JSON");
	r = run("read", "{\"path\":\"a\\u0000b\"}", &e);
	T_OK(e && strstr(r, "NUL"), "read: NUL in path refused");

	/* confinement */
	r = run("read", "{\"path\":\"../secret.txt\"}", &e);
	T_OK(e && strstr(r, "path '../secret.txt' is outside the workspace") &&
	         !strstr(r, "TOP-SECRET"),
	     "read: ../ refused");
	r = run("read", "{\"path\":\"/etc/passwd\"}", &e);
	T_OK(e && strstr(r, "outside the workspace") && !strstr(r, "root:"),
	     "read: absolute path refused");
	r = run("read", "{\"path\":\"out-link\"}", &e);
	T_OK(e && strstr(r, "outside the workspace") && !strstr(r, "TOP-SECRET"),
	     "read: symlink out refused");
	r = run("read", "{\"path\":\"in-link\"}", &e);
	T_OK(!e && strstr(r, "int main"), "read: symlink inside allowed");
	char abs[700];
	snprintf(abs, sizeof abs, "{\"path\":\"%s/src/b.h\"}", ws);
	r = run("read", abs, &e);
	T_OK(!e && strstr(r, "HELLO"), "read: absolute path under the workspace accepted");
}

static void test_glob(void)
{
	int e;
	const char *r = run("glob", "{\"pattern\":\"**/*.c\"}", &e);
	T_STREQ(r, "src/a.c\nsrc/sub/c.c\n", "glob **/*.c sorted");
	r = run("glob", "{\"pattern\":\"src/*\"}", &e);
	T_STREQ(r, "src/a.c\nsrc/b.h\nsrc/sub/\n", "glob src/* lists files and dirs");
	r = run("glob", "{\"pattern\":\"src/?.[ch]\"}", &e);
	T_STREQ(r, "src/a.c\nsrc/b.h\n", "glob ? and [...]");
	r = run("glob", "{\"pattern\":\"./src/**\"}", &e);
	T_STREQ(r, "src/a.c\nsrc/b.h\nsrc/sub/\nsrc/sub/c.c\n", "glob ./src/**");
	r = run("glob", "{\"pattern\":\"**/config\"}", &e);
	T_OK(!strstr(r, ".git"), "glob skips .git");
	r = run("glob", "{\"pattern\":\"*.nothing\"}", &e);
	T_OK(!e && strstr(r, "no files match"), "glob: no match is not an error");
	r = run("glob", "{\"pattern\":\"../*\"}", &e);
	T_OK(e && strstr(r, "outside the workspace"), "glob: ../ refused");
	r = run("glob", "{\"pattern\":\"/etc/*\"}", &e);
	T_OK(e && strstr(r, "outside the workspace"), "glob: absolute refused");
	r = run("glob", "{\"pattern\":\"up-dir/*\"}", &e);
	T_OK(e && strstr(r, "outside the workspace") && !strstr(r, "secret"),
	     "glob: through a symlink out refused");

	/* the cap: 1200 files */
	mkd("many");
	for (int i = 0; i < 1200; i++) {
		char n[64];
		snprintf(n, sizeof n, "many/f%04d.txt", i);
		put(n, "x\n");
	}
	r = run("glob", "{\"pattern\":\"many/*.txt\"}", &e);
	T_OK(strstr(r, "many/f0000.txt\n") && strstr(r, "many/f0999.txt\n") &&
	         !strstr(r, "many/f1000.txt"),
	     "glob: capped at 1000, sorted");
	T_OK(strstr(r, "[1000 of 1200 matches shown; narrow the pattern]"), "glob: says capped");

	T_OK(tool_glob_match("**", "a/b/c", 0), "match ** everything");
	T_OK(tool_glob_match("**/x.c", "x.c", 0), "match **/ zero dirs");
	T_OK(!tool_glob_match("*.c", "src/a.c", 0), "match * does not cross /");
	T_OK(tool_glob_match("src/**/*.h", "src", 1), "prefix: src could hold matches");
	T_OK(!tool_glob_match("src/*.h", "lib", 1), "prefix: lib cannot");
	T_OK(!tool_glob_match("src/*.h", "src/sub", 1), "prefix: src/sub cannot");
	T_OK(tool_glob_match("a/**/**/b", "a/x/y/b", 0), "match repeated **");
}

static void test_grep(void)
{
	int e;
	const char *r = run("grep", "{\"pattern\":\"[Hh]ello\"}", &e);
	T_STREQ(r,
	        "README.md:2:hello world\n"
	        "src/a.c:3:\treturn 0; /* hello */\n"
	        "src/sub/c.c:1:void c(void) {} // Hello again\n",
	        "grep: ERE, file:line:text, sorted, skips .git, binary and symlinks");
	r = run("grep", "{\"pattern\":\"hel+o\",\"glob\":\"*.c\"}", &e);
	T_STREQ(r, "src/a.c:3:\treturn 0; /* hello */\n", "grep: glob filter on names");
	r = run("grep", "{\"pattern\":\"hello\",\"ignore_case\":true,\"path\":\"src/sub\"}", &e);
	T_STREQ(r, "src/sub/c.c:1:void c(void) {} // Hello again\n", "grep: path dir, ignore_case");
	r = run("grep", "{\"pattern\":\"HELLO\",\"path\":\"src/b.h\"}", &e);
	T_STREQ(r, "src/b.h:1:#define HELLO 1\n", "grep: path a file");
	r = run("grep", "{\"pattern\":\"^(int|void) \",\"glob\":\"src/**/*.c\"}", &e);
	T_STREQ(r, "src/a.c:1:int main(void)\nsrc/sub/c.c:1:void c(void) {} // Hello again\n",
	        "grep: alternation, anchors, path glob");
	r = run("grep", "{\"pattern\":\"zzzz\"}", &e);
	T_OK(!e && strstr(r, "no matches"), "grep: no match is not an error");
	r = run("grep", "{\"pattern\":\"a(\"}", &e);
	T_OK(e && strstr(r, "bad regular expression"), "grep: bad ERE is an error");
	r = run("grep", "{\"pattern\":\"SECRET\",\"path\":\"..\"}", &e);
	T_OK(e && strstr(r, "outside the workspace") && !strstr(r, "TOP-SECRET-OUTSIDE"),
	     "grep: path .. refused");
	r = run("grep", "{\"pattern\":\"SECRET\",\"path\":\"out-link\"}", &e);
	T_OK(e && strstr(r, "outside the workspace"), "grep: symlink out refused");
	r = run("grep", "{\"pattern\":\"SECRET\"}", &e);
	T_OK(!strstr(r, "TOP-SECRET-OUTSIDE"), "grep: walk never follows links out");

	r = run("grep", "{\"pattern\":\"line\",\"path\":\"long.txt\"}", &e);
	T_OK(strstr(r, "long.txt:500:line 500\n") && !strstr(r, "long.txt:501:"),
	     "grep: capped at 500 matches");
	T_OK(strstr(r, "[output capped at 500 matches"), "grep: says capped");

	r = run("grep", "{\"pattern\":\"x\",\"path\":\"wide.txt\"}", &e);
	T_OK(strlen(r) < 600 && strstr(r, "[...]"), "grep: long line cut");
}

static void test_cap_and_registry(void)
{
	struct buf b = BUF_INIT;
	for (int i = 0; i < 10000; i++)
		buf_addf(&b, "row %05d\n", i);
	tools_cap(&b, 4096);
	T_OK(b.len <= 4096, "cap: within the limit (%zu)", b.len);
	T_OK(!strncmp(b.p, "row 00000\n", 10), "cap: head kept");
	T_OK(b.len > 10 && !strcmp(b.p + b.len - 10, "row 09999\n"), "cap: tail kept");
	T_OK(strstr(b.p, "bytes left out ...]\n"), "cap: says what was left out");
	T_OK(strstr(b.p, "\n[... ") != NULL, "cap: marker on its own line");
	buf_free(&b);

	buf_adds(&b, "short");
	tools_cap(&b, 4096);
	T_STREQ(b.p, "short", "cap: short text unchanged");
	buf_free(&b);

	T_OK(tools_find("read") == &tool_read, "registry: read");
	T_OK(tools_find("write") == NULL, "registry: write not in read-only set");
	static const struct tool fake = {"write", "w", "{}", NULL};
	tools_register(&fake);
	T_OK(tools_find("write") == &fake, "registry: registered tool found");

	struct llm_tool lt;
	tools_describe(&tool_grep, &lt);
	struct json j;
	T_OK(json_parse(&j, lt.schema, strlen(lt.schema), NULL) == 0, "grep schema is JSON");
	json_free(&j);
	T_OK(json_parse(&j, tool_read.schema, strlen(tool_read.schema), NULL) == 0,
	     "read schema is JSON");
	json_free(&j);
	T_OK(json_parse(&j, tool_glob.schema, strlen(tool_glob.schema), NULL) == 0,
	     "glob schema is JSON");
	json_free(&j);
	free(lt.name);
	free(lt.description);
	free(lt.schema);
}

int main(void)
{
	setup();
	char err[512];
	int root = fsb_open_root(ws, err, sizeof err);
	T_OK(root >= 0, "open workspace");
	ctx.rootfd = root;
	ctx.root = ws;
	ctx.root_abs = ws;
	ctx.agent = "planner";

	test_fsbeneath(root);
	test_walk(root);
	test_read();
	test_glob();
	test_grep();
	test_cap_and_registry();

	free(last);
	close(root);
	cleanup();
	return t_done();
}
