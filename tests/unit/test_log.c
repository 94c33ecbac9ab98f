/*
 * test_log — lib/log.c: JSON records carry every field and parse; the
 * console form; level routing to the three files; rotation keeps the
 * configured number of backups; four processes logging at once lose no
 * record and mix none, with and without rotation; descriptors are
 * close-on-exec; logging to an impossible directory fails softly.
 */
#include "log.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "t.h"
#include "util.h"

static char tmp[256];

struct scan {
	int lines, bad, with_all_fields;
	int per_pid[4];
	pid_t pids[4];
};

static char *slurp(const char *path)
{
	struct buf b = BUF_INIT;
	if (read_file(path, &b) < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_detach(&b, NULL);
}

static int has_all_fields(const struct json *j)
{
	static const char *const strs[] = {"ts",      "level", "event", "msg",
	                                   "program", "file",  "func"};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		if (json_type(j, json_get(j, 0, strs[i])) != JSON_STRING)
			return 0;
	int s = json_type(j, json_get(j, 0, "session")), a = json_type(j, json_get(j, 0, "agent"));
	return (s == JSON_STRING || s == JSON_NULL) && (a == JSON_STRING || a == JSON_NULL) &&
	       json_type(j, json_get(j, 0, "pid")) == JSON_NUMBER &&
	       json_type(j, json_get(j, 0, "line")) == JSON_NUMBER;
}

/* Parses every line of path; counts lines, bad lines, and per pid. */
static void scan_file(const char *path, struct scan *s)
{
	char *text = slurp(path);
	if (!text)
		return;
	for (char *p = text, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl) {
			s->bad++; /* a record without its newline */
			break;
		}
		struct json j;
		s->lines++;
		if (json_parse(&j, p, (size_t)(nl - p), NULL) < 0 ||
		    json_type(&j, 0) != JSON_OBJECT) {
			s->bad++;
			continue;
		}
		s->with_all_fields += has_all_fields(&j);
		long long pid = json_get_int(&j, 0, "pid", -1);
		for (int i = 0; i < 4; i++)
			if (s->pids[i] == pid)
				s->per_pid[i]++;
		json_free(&j);
	}
	free(text);
}

static char *mkdir_tmp(const char *name)
{
	char *d = xasprintf("%s/%s", tmp, name);
	mkdir(d, 0700);
	return d;
}

static int exists(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	int r = stat(p, &st) == 0;
	free(p);
	return r;
}

static long long size_of(const char *dir, const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);
	struct stat st;
	long long r = stat(p, &st) == 0 ? (long long)st.st_size : -1;
	free(p);
	return r;
}

static void test_records(void)
{
	char *dir = xasprintf("%s/a/b/logs", tmp); /* mkdir -p */
	int rc = log_init(dir, "INFO", "json", "bl-test");
	T_INTEQ(rc, 0, "log_init creates the directory tree");
	log_set_session("20261124-210509-abcdef");
	log_set_agent("coder");
	log_info("stage_start", "starting %s with \"quotes\" and a\nnewline", "coder");
	log_debug("noise", "not written at INFO");
	log_warn("slow", "took %d ms", 1234);
	log_error("api_error", "status %d", 529);
	log_set_agent(NULL);
	log_info("no_agent", "agent unset");
	log_close();

	char *path = xasprintf("%s/better-llm.log", dir);
	char *text = slurp(path);
	struct scan s = {0};
	scan_file(path, &s);
	T_INTEQ(s.lines, 4, "main log: INFO, WARN, ERROR and the last INFO (no DEBUG)");
	T_INTEQ(s.bad, 0, "main log: every line parses");
	T_INTEQ(s.with_all_fields, 4, "main log: every record has every field");
	struct json j;
	char *nl = text ? strchr(text, '\n') : NULL;
	rc = nl ? json_parse(&j, text, (size_t)(nl - text), NULL) : -1;
	T_INTEQ(rc, 0, "first record parses");
	if (rc == 0) {
		T_OK(json_streq(&j, json_get(&j, 0, "level"), "INFO"), "level INFO");
		T_OK(json_streq(&j, json_get(&j, 0, "event"), "stage_start"), "event");
		T_OK(json_streq(&j, json_get(&j, 0, "msg"),
		                "starting coder with \"quotes\" and a\nnewline"),
		     "msg formatted and escaped");
		T_OK(json_streq(&j, json_get(&j, 0, "session"), "20261124-210509-abcdef"),
		     "session");
		T_OK(json_streq(&j, json_get(&j, 0, "agent"), "coder"), "agent");
		T_OK(json_streq(&j, json_get(&j, 0, "program"), "bl-test"), "program");
		T_INTEQ(json_get_int(&j, 0, "pid", -1), getpid(), "pid");
		T_OK(json_streq(&j, json_get(&j, 0, "file"), "tests/unit/test_log.c"), "file");
		T_OK(json_streq(&j, json_get(&j, 0, "func"), "test_records"), "func");
		T_OK(json_get_int(&j, 0, "line", 0) > 100, "line number");
		char *ts = json_get_str(&j, 0, "ts");
		T_OK(ts && strlen(ts) == 24 && ts[10] == 'T' && ts[23] == 'Z',
		     "ts RFC 3339 with ms");
		free(ts);
		json_free(&j);
	}
	T_OK(text && strstr(text, "\"agent\":null") && strstr(text, "\"event\":\"no_agent\""),
	     "unset agent written as null");
	free(text);
	free(path);

	path = xasprintf("%s/better-llm-error.log", dir);
	struct scan e = {0};
	scan_file(path, &e);
	text = slurp(path);
	T_OK(e.lines == 1 && e.bad == 0 && text && strstr(text, "\"level\":\"ERROR\""),
	     "error log: only the ERROR record");
	free(text);
	free(path);
	T_OK(!exists(dir, "better-llm-debug.log"), "no debug log at INFO");

	/* DEBUG level: the debug log gets everything, the main log no DEBUG */
	rc = log_init(dir, "debug", "json", "bl-test");
	log_debug("d1", "debug record");
	log_info("i1", "info record");
	log_close();
	path = xasprintf("%s/better-llm-debug.log", dir);
	struct scan d = {0};
	scan_file(path, &d);
	T_OK(rc == 0 && d.lines == 2 && d.bad == 0, "debug log at DEBUG: both records");
	free(path);
	path = xasprintf("%s/better-llm.log", dir);
	text = slurp(path);
	T_OK(text && !strstr(text, "\"d1\"") && strstr(text, "\"i1\""), "main log never has DEBUG");
	free(text);
	free(path);

	/* console form */
	char *cdir = mkdir_tmp("console");
	log_init(cdir, "INFO", "console", "bl-plan");
	log_set_agent("planner");
	log_info("stage_end", "done in %d turns", 3);
	log_close();
	path = xasprintf("%s/better-llm.log", cdir);
	text = slurp(path);
	char *want = xasprintf(" INFO  bl-plan[%d] planner stage_end: done in 3 turns "
	                       "(tests/unit/test_log.c:",
	                       (int)getpid());
	T_OK(text && strlen(text) > 24 && text[23] == 'Z' && strstr(text, want) &&
	         strstr(text, " test_records)\n"),
	     "console line has the documented form");
	if (text && !strstr(text, want))
		printf("#   got: %s", text);
	free(want);
	free(text);
	free(path);
	free(cdir);
	free(dir);
}

static void test_env_and_stderr(void)
{
	char *dir = mkdir_tmp("fromenv");
	setenv("LOG_DIR", dir, 1);
	setenv("LOG_LEVEL", "WARN", 1);
	setenv("LOG_FORMAT", "json", 1);
	int rc = log_init(NULL, NULL, NULL, "bl-x");
	log_info("hidden", "below WARN");
	log_warn("shown", "at WARN");

	/* stderr copy in console form, at its own level */
	char *errpath = xasprintf("%s/stderr.txt", tmp);
	int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int saved = dup(2);
	dup2(fd, 2);
	log_set_stderr(BL_LOG_INFO);
	log_info("to_stderr", "visible on stderr");
	log_debug("not_stderr", "below the stderr level");
	dup2(saved, 2);
	close(saved);
	close(fd);
	log_close();
	unsetenv("LOG_DIR");
	unsetenv("LOG_LEVEL");
	unsetenv("LOG_FORMAT");

	char *path = xasprintf("%s/better-llm.log", dir);
	char *text = slurp(path);
	T_OK(rc == 0 && text && strstr(text, "\"shown\"") && !strstr(text, "\"hidden\""),
	     "LOG_DIR and LOG_LEVEL from the environment");
	T_OK(text && !strstr(text, "to_stderr"), "INFO below the file level stays out of the file");
	char *e = slurp(errpath);
	T_OK(e && strstr(e, " INFO  bl-x[") && strstr(e, "to_stderr: visible on stderr") &&
	         !strstr(e, "not_stderr") && e[strlen(e) - 1] == '\n',
	     "stderr copy in console form");
	free(e);
	free(text);
	free(path);
	free(errpath);
	free(dir);

	/* an impossible directory: -1, and logging goes on silently */
	char *file = xasprintf("%s/plainfile", tmp);
	int f = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	close(f);
	char *bad = xasprintf("%s/sub", file);
	rc = log_init(bad, "INFO", "json", "bl-x");
	T_INTEQ(rc, -1, "log_init under a regular file fails");
	log_error("dropped", "nowhere to go");
	T_OK(1, "log_write after a failed init does not crash");
	log_close();
	free(bad);
	free(file);
}

static void test_cloexec(void)
{
	char *dir = mkdir_tmp("cloexec");
	log_init(dir, "DEBUG", "json", "bl-x");
	log_info("x", "y");
	int n = 0, ok = 1;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char lp[300], target[512];
		snprintf(lp, sizeof lp, "/proc/self/fd/%s", de->d_name);
		ssize_t r = readlink(lp, target, sizeof target - 1);
		if (r <= 0)
			continue;
		target[r] = '\0';
		if (!strncmp(target, dir, strlen(dir))) {
			n++;
			int flags = fcntl(atoi(de->d_name), F_GETFD);
			ok = ok && flags >= 0 && (flags & FD_CLOEXEC);
		}
	}
	if (d)
		closedir(d);
	T_OK(n == 3 && ok, "three log fds open, all close-on-exec (%d)", n);
	log_close();
	free(dir);
}

static void test_rotation(void)
{
	char *dir = mkdir_tmp("rot");
	log_init(dir, "INFO", "json", "bl-rot");
	log_set_limits_for_test(2000, 2);
	for (int i = 0; i < 60; i++)
		log_info("tick", "record %03d %s", i, "padding padding padding padding");
	log_close();
	T_OK(exists(dir, "better-llm.log") && exists(dir, "better-llm.log.1") &&
	         exists(dir, "better-llm.log.2"),
	     "rotation: .log, .log.1 and .log.2 exist");
	T_OK(!exists(dir, "better-llm.log.3"), "rotation: only 2 backups kept");
	long long s0 = size_of(dir, "better-llm.log"), s1 = size_of(dir, "better-llm.log.1"),
	          s2 = size_of(dir, "better-llm.log.2");
	T_OK(s0 > 0 && s0 <= 2000 && s1 <= 2000 && s2 <= 2000 && s1 > 1500 && s2 > 1500,
	     "rotation: each file within the limit (%lld %lld %lld)", s0, s1, s2);
	struct scan s = {0};
	const char *names[] = {"better-llm.log", "better-llm.log.1", "better-llm.log.2"};
	for (int i = 0; i < 3; i++) {
		char *p = xasprintf("%s/%s", dir, names[i]);
		scan_file(p, &s);
		free(p);
	}
	T_OK(s.bad == 0 && s.lines > 0 && s.lines < 60, "rotation: kept lines all parse (%d)",
	     s.lines);
	char *p = xasprintf("%s/better-llm.log", dir);
	char *text = slurp(p);
	T_OK(text && strstr(text, "record 059"), "rotation: newest record in the current file");
	free(text);
	free(p);
	p = xasprintf("%s/better-llm.log.2", dir);
	text = slurp(p);
	T_OK(text && !strstr(text, "record 000"), "rotation: oldest records dropped");
	free(text);
	free(p);
	T_OK(exists(dir, ".lock"), "rotation: lock file in the directory");
	free(dir);
}

/* n children log `each` records at once; returns the scan of all files. */
static void concurrent(const char *dir, long long limit, int keep, int each, struct scan *s)
{
	log_init(dir, "INFO", "json", "bl-conc");
	log_set_limits_for_test(limit, keep);
	for (int c = 0; c < 4; c++) {
		pid_t pid = fork();
		if (pid == 0) {
			for (int i = 0; i < each; i++)
				log_info("conc", "child %d record %d %s", c, i,
				         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
			_exit(0);
		}
		s->pids[c] = pid;
	}
	int ok = 1;
	for (int c = 0; c < 4; c++) {
		int st;
		ok = ok && waitpid(s->pids[c], &st, 0) == s->pids[c] && WIFEXITED(st) &&
		     WEXITSTATUS(st) == 0;
	}
	log_close();
	T_OK(ok, "four children exited cleanly");
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "better-llm.log", 14)) {
			char *p = xasprintf("%s/%s", dir, de->d_name);
			scan_file(p, s);
			free(p);
		}
	if (d)
		closedir(d);
}

static void test_concurrent(void)
{
	char *dir = mkdir_tmp("conc");
	struct scan s = {0};
	concurrent(dir, 10LL << 20, 5, 500, &s);
	T_INTEQ(s.lines, 2000, "4 x 500 concurrent: exactly 2000 lines");
	T_INTEQ(s.bad, 0, "4 x 500 concurrent: every line parses");
	T_OK(s.per_pid[0] == 500 && s.per_pid[1] == 500 && s.per_pid[2] == 500 &&
	         s.per_pid[3] == 500,
	     "4 x 500 concurrent: 500 per process (%d %d %d %d)", s.per_pid[0], s.per_pid[1],
	     s.per_pid[2], s.per_pid[3]);
	free(dir);

	/* the same while rotating, with room for every backup */
	dir = mkdir_tmp("concrot");
	struct scan r = {0};
	concurrent(dir, 16384, 100, 500, &r);
	T_INTEQ(r.lines, 2000, "concurrent with rotation: no record lost");
	T_INTEQ(r.bad, 0, "concurrent with rotation: every line parses");
	T_OK(r.per_pid[0] == 500 && r.per_pid[1] == 500 && r.per_pid[2] == 500 &&
	         r.per_pid[3] == 500,
	     "concurrent with rotation: 500 per process");
	T_OK(exists(dir, "better-llm.log.10") && !exists(dir, "better-llm.log.100"),
	     "concurrent with rotation: rotated many times");
	free(dir);
}

int main(void)
{
	snprintf(tmp, sizeof tmp, "/tmp/bl-test-log-XXXXXX");
	if (!mkdtemp(tmp)) {
		printf("Bail out! mkdtemp\n");
		return 1;
	}
	unsetenv("LOG_DIR");
	unsetenv("LOG_LEVEL");
	unsetenv("LOG_FORMAT");
	test_records();
	test_env_and_stderr();
	test_cloexec();
	test_rotation();
	test_concurrent();
	char *cmd = xasprintf("rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmp);
	free(cmd);
	return t_done();
}
