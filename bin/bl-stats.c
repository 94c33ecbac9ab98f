/*
 * bl-stats — usage, cost, latency, errors and response-cache figures
 * over the sessions in $BL_HOME/sessions (DESIGN §8): per agent and
 * model, calls, tokens, cache-read share, cost, p50/p95 latency and time
 * to first token; errors by kind and the most recent ones; the response
 * cache's hits, misses and hit rate.  A readable table, or one JSON
 * object with --json.  What each figure means is lib/stats's contract,
 * written down in bl-stats(1).
 *
 * It only reads: session files are never changed.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "config.h"
#include "sessions.h"
#include "stats.h"
#include "util.h"

static const char usage_text[] =
    "usage: bl-stats [--json] [--since TIME] [--session ID] [--recent N] [--dir DIR]\n"
    "Usage, cost, latency, errors and response-cache figures over sessions.\n"
    "\n"
    "      --json         one JSON object instead of the table\n"
    "      --since TIME   only lines at or after TIME: 2026-11-24, 2026-11-24T09:00,\n"
    "                     an RFC 3339 time, or an age: 30m, 12h, 7d, 2w\n"
    "      --session ID   only that session; a unique prefix of its id is enough\n"
    "      --recent N     list the N most recent errors (default 10)\n"
    "      --dir DIR      read sessions from DIR (default $BL_HOME/sessions)\n"
    "  -h, --help         show this help\n"
    "      --version      show the version\n"
    "\n"
    "Exit status: 0 done, 64 usage or an ambiguous session id, 66 no such session,\n"
    "70 the sessions directory cannot be read.  See bl-stats(1).\n";

static int die(int code, const char *fmt, const char *arg)
{
	fputs("bl-stats: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return code;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum { OPT_JSON = 256, OPT_SINCE, OPT_SESSION, OPT_RECENT, OPT_DIR, OPT_VERSION };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"session", required_argument, NULL, OPT_SESSION},
	    {"recent", required_argument, NULL, OPT_RECENT},
	    {"dir", required_argument, NULL, OPT_DIR},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	int json = 0, c;
	const char *session = NULL, *dir_arg = NULL;
	int64_t since = INT64_MIN;
	long recent = 10;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			json = 1;
			break;
		case OPT_SINCE:
			if (stats_parse_time(optarg, now_ms(), &since) < 0)
				return die(
				    EX_BL_USAGE,
				    "--since: expected a date, a time or an age (7d), not '%s'",
				    optarg);
			break;
		case OPT_SESSION:
			if (!*optarg)
				return die(EX_BL_USAGE, "--session needs an id%s", "");
			session = optarg;
			break;
		case OPT_RECENT: {
			char *end;
			recent = strtol(optarg, &end, 10);
			if (*end || end == optarg || recent < 0 || recent > INT_MAX)
				return die(EX_BL_USAGE,
				           "--recent: expected an integer >= 0, not '%s'", optarg);
			break;
		}
		case OPT_DIR:
			dir_arg = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case OPT_VERSION:
			printf("bl-stats (better-llm) %s\n", BL_VERSION);
			return 0;
		case ':':
			return die(EX_BL_USAGE, "option '%s' needs a value (see bl-stats --help)",
			           argv[optind - 1]);
		default:
			return die(EX_BL_USAGE, "unknown option '%s' (see bl-stats --help)",
			           argv[optind - 1]);
		}
	}
	if (optind < argc)
		return die(EX_BL_USAGE, "unexpected argument '%s' (see bl-stats --help)",
		           argv[optind]);

	char *dir;
	if (dir_arg) {
		dir = xstrdup(dir_arg);
	} else {
		char *home = config_bl_home();
		dir = xasprintf("%s/sessions", home);
		free(home);
	}
	char err[1200];
	struct session_file *src;
	size_t nsrc, first = 0, count;
	if (sessions_list(dir, &src, &nsrc, err, sizeof err) < 0) {
		free(dir);
		return die(EX_BL_SOFTWARE, "%s", err);
	}
	count = nsrc;
	if (session) {
		count = sessions_match(src, nsrc, session, &first);
		int rc = 0;
		if (!count)
			rc = die(EX_NOINPUT, "no session '%s'", session);
		else if (count > 1) {
			fprintf(stderr, "bl-stats: session id '%s' is ambiguous; it may be:\n",
			        session);
			for (size_t i = first, shown = 0; i < nsrc && shown < count; i++)
				if (!strncmp(src[i].id, session, strlen(session))) {
					fprintf(stderr, "  %s\n", src[i].id);
					shown++;
				}
			rc = EX_BL_USAGE;
		}
		if (rc) {
			sessions_free(src, nsrc);
			free(dir);
			return rc;
		}
	}

	struct stats st;
	stats_init(&st, since);
	for (size_t i = first; i < first + count; i++) {
		int bad = stats_add_file(&st, src[i].path, src[i].id, err, sizeof err);
		if (bad < 0)
			fprintf(stderr, "bl-stats: warning: %s; skipped\n", err);
		else if (bad > 0)
			fprintf(stderr, "bl-stats: warning: %s: %d unreadable line%s skipped\n",
			        src[i].path, bad, bad == 1 ? "" : "s");
	}
	struct buf out = BUF_INIT;
	if (json)
		stats_json(&st, (size_t)recent, &out);
	else
		stats_table(&st, (size_t)recent, &out);
	int rc = write_all(1, out.p, out.len) < 0 ? EX_BL_SOFTWARE : 0;
	if (rc)
		perror("bl-stats: stdout");
	buf_free(&out);
	stats_free(&st);
	sessions_free(src, nsrc);
	free(dir);
	return rc;
}
