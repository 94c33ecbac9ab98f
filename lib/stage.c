/*
 * stage — the filter contract of DESIGN §3, shared by every bl-<role>
 * (see stage.h for the steps, the input rules and the signal policy).
 *
 * Guarantees: nothing reaches stdout before stdin was read to EOF and
 * checked; stdout carries only conversation lines (or, with --dry-run,
 * only the request dump); every failure after the input was accepted
 * is an `error` line plus one diagnostic line; API keys are only ever
 * in st->ep, never in a line, a log record or the dump.
 */
#include "stage.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dotenv.h"
#include "fsbeneath.h"
#include "log.h"
#include "provider.h"
#include "respcache.h"

static volatile int abort_flag;
static volatile int abort_signal;
static struct respcache resp_cache; /* one stage per process */

static void on_signal(int sig)
{
	abort_signal = sig;
	abort_flag = 1;
}

int stage_signal(void)
{
	return abort_signal;
}

static void diag(struct stage *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diag(struct stage *st, const char *fmt, ...)
{
	va_list ap;
	buf_addf(&st->diag, "%s: ", st->spec->prog);
	va_start(ap, fmt);
	buf_vaddf(&st->diag, fmt, ap);
	va_end(ap);
	buf_addc(&st->diag, '\n');
}

static void help(struct stage *st)
{
	const char *p = st->spec->prog;
	buf_addf(&st->out,
	         "usage: %s [options] [TASK]\n"
	         "%s\n"
	         "Reads a conversation (JSON Lines) on stdin unless it is a terminal and writes\n"
	         "its additions on stdout; TASK starts a new conversation.\n"
	         "\n"
	         "  -C DIR            workspace (default .)\n"
	         "  -m MODEL          model (beats agent_config.json and BL_MODEL)\n"
	         "      --config PATH config directory or file\n"
	         "      --max-turns N at most N API calls\n"
	         "      --dry-run     print the request that would be sent (key redacted), send "
	         "nothing\n"
	         "  -p, --pass        echo the input conversation first\n"
	         "  -s, --stream      add delta lines as text arrives\n"
	         "  -v, --verbose     copy log records to stderr\n"
	         "  -h, --help        show this help\n"
	         "      --version     show the version\n"
	         "\n"
	         "Exit status: 0 done, 64 usage, 65 bad input, 69 API failed, 70 internal,\n"
	         "75 interrupted or limit reached, 77 auth refused, 78 config error.\n"
	         "See %s(1).\n",
	         p, st->spec->purpose, p);
}

enum { OPT_CONFIG = 256, OPT_MAX_TURNS, OPT_DRY_RUN, OPT_VERSION };

int stage_args(struct stage *st, const struct stage_spec *spec, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"model", required_argument, NULL, 'm'},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"max-turns", required_argument, NULL, OPT_MAX_TURNS},
	    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
	    {"pass", no_argument, NULL, 'p'},
	    {"stream", no_argument, NULL, 's'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, OPT_VERSION},
	    {NULL, 0, NULL, 0},
	};
	memset(st, 0, sizeof *st);
	st->spec = spec;
	st->workspace = ".";
	st->rootfd = -1;
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, ":C:m:psvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			st->workspace = optarg;
			break;
		case 'm':
			if (!*optarg) {
				diag(st, "-m needs a model name");
				return EX_BL_USAGE;
			}
			st->model = optarg;
			break;
		case OPT_CONFIG:
			st->config = optarg;
			break;
		case OPT_MAX_TURNS: {
			char *end;
			errno = 0;
			long n = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 1 || n > INT_MAX) {
				diag(st, "--max-turns: expected an integer >= 1, not '%s'", optarg);
				return EX_BL_USAGE;
			}
			st->max_turns = (int)n;
			break;
		}
		case OPT_DRY_RUN:
			st->dry_run = 1;
			break;
		case 'p':
			st->pass = 1;
			break;
		case 's':
			st->stream = 1;
			break;
		case 'v':
			st->verbose = 1;
			break;
		case 'h':
			help(st);
			return 0;
		case OPT_VERSION:
			buf_addf(&st->out, "%s (better-llm) %s\n", spec->prog, BL_VERSION);
			return 0;
		case ':':
			diag(st, "option '%s' needs a value (see %s --help)", argv[optind - 1],
			     spec->prog);
			return EX_BL_USAGE;
		default:
			if (optopt)
				diag(st, "unknown option '-%c' (see %s --help)", optopt,
				     spec->prog);
			else
				diag(st, "unknown option '%s' (see %s --help)", argv[optind - 1],
				     spec->prog);
			return EX_BL_USAGE;
		}
	}
	if (argc - optind > 1) {
		diag(st, "one task argument expected, got %d (quote the task)", argc - optind);
		return EX_BL_USAGE;
	}
	if (optind < argc) {
		st->task = argv[optind];
		if (!*st->task) {
			diag(st, "the task argument is empty");
			return EX_BL_USAGE;
		}
	}
	char err[600];
	st->rootfd = fsb_open_root(st->workspace, err, sizeof err);
	if (st->rootfd < 0) {
		diag(st, "%s", err);
		return EX_BL_USAGE;
	}
	st->root_abs = realpath(st->workspace, NULL);
	if (!st->root_abs)
		st->root_abs = xstrdup(st->workspace);
	return -1;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESETHAND; /* a second signal kills at once */
	sigaction(SIGTERM, &sa, NULL);
	/* SIGINT/SIGHUP ignored by the parent (a background job, nohup)
	 * stay ignored, as for any filter. */
	int others[] = {SIGINT, SIGHUP};
	for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
		struct sigaction old;
		if (sigaction(others[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		sigaction(others[i], &sa, NULL);
	}
}

int stage_input(struct stage *st)
{
	char err[600];
	install_signals();
	if (!isatty(0) && errno != EBADF) {
		if (conv_read_fd(0, "stdin", &st->in, err, sizeof err) < 0) {
			diag(st, "%s", err);
			return EX_BL_DATAERR;
		}
	}
	const char *session = conv_session(&st->in);
	int has_task = conv_task(&st->in) != NULL;
	if (!st->task && !has_task) {
		if (st->in.n) {
			diag(st, "stdin: the conversation has no task line");
			return EX_BL_DATAERR;
		}
		diag(st, "no task: give one as an argument or a conversation on stdin");
		return EX_BL_USAGE;
	}
	if (session && *session)
		snprintf(st->session, sizeof st->session, "%s", session);
	else
		conv_new_session_id(st->session);

	struct jw w;
	if (st->task && !has_task) {
		conv_line_begin(&w, &st->additions, "task", NULL);
		jw_kstr(&w, "text", st->task);
		jw_kstr(&w, "session", st->session);
		jw_kint(&w, "v", 1);
		conv_line_end(&w);
	} else if (st->task) {
		conv_line_begin(&w, &st->additions, "message", "user");
		jw_kstr(&w, "role", "user");
		jw_kstr(&w, "text", st->task);
		conv_line_end(&w);
	}

	/* The context source: the input followed by the additions. */
	struct buf all = BUF_INIT;
	buf_add(&all, st->in.raw.p ? st->in.raw.p : "", st->in.raw.len);
	if (all.len && all.p[all.len - 1] != '\n')
		buf_addc(&all, '\n');
	buf_add(&all, st->additions.p ? st->additions.p : "", st->additions.len);
	int rc = conv_parse(all.p ? all.p : "", all.len, "stdin", &st->all, err, sizeof err);
	buf_free(&all);
	if (rc < 0) {
		diag(st, "%s", err);
		return EX_BL_DATAERR;
	}
	return -1;
}

int stage_fail(struct stage *st, int code, const char *kind, int retryable, const char *fmt, ...)
{
	char msg[800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	diag(st, "%s", msg);
	log_error("stage_error", "%s: %s (exit %d)", kind, msg, code);
	if (st->dry_run)
		return code;
	struct buf b = BUF_INIT;
	struct jw w;
	conv_line_begin(&w, &b, "error", st->acfg ? st->acfg->name : st->spec->role);
	jw_kstr(&w, "kind", kind);
	jw_kstr(&w, "message", msg);
	jw_kbool(&w, "retryable", retryable);
	conv_line_end(&w);
	if (conv_emit(1, &b) < 0)
		diag(st, "cannot write to stdout: %s", strerror(errno));
	buf_free(&b);
	return code;
}

/* Writes the -p echo and the additions, one line per write(2). */
static int write_start(struct stage *st)
{
	struct buf line = BUF_INIT;
	int rc = 0;
	for (size_t i = 0; st->pass && i < st->in.n && rc == 0; i++) {
		buf_reset(&line);
		buf_add(&line, st->in.items[i].line, st->in.items[i].len);
		buf_addc(&line, '\n');
		rc = conv_emit(1, &line);
	}
	for (const char *p = st->additions.p, *end = p + st->additions.len; p && p < end && !rc;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		buf_reset(&line);
		buf_add(&line, p, n);
		rc = conv_emit(1, &line);
		p += n;
	}
	buf_free(&line);
	return rc;
}

/* The agent of st's role: by name, else the first with that role. */
static const struct agent_cfg *find_agent(const struct bl_config *cfg, const char *role)
{
	const struct agent_cfg *a = config_agent(cfg, role);
	for (size_t i = 0; !a && i < cfg->nagents; i++)
		if (cfg->agents[i].role && !strcmp(cfg->agents[i].role, role))
			a = &cfg->agents[i];
	return a;
}

static int setup_endpoint(struct stage *st)
{
	struct llm_error lerr;
	const char *prov = st->acfg->provider ? st->acfg->provider : "anthropic";
	if (llm_endpoint_from_env(&st->ep, prov, &lerr) < 0) {
		const struct llm_provider *p = llm_provider_find(prov);
		if (lerr.kind == LLM_ERR_AUTH && st->dry_run && p) {
			/* --dry-run sends nothing: show the request without a key. */
			const char *base = getenv(strcmp(prov, "openai") ? "ANTHROPIC_BASE_URL"
			                                                 : "OPENAI_BASE_URL");
			memset(&st->ep, 0, sizeof st->ep);
			st->ep.provider = p;
			st->ep.base_url = xstrdup(base && *base ? base : p->default_base_url);
		} else if (lerr.kind == LLM_ERR_AUTH) {
			return stage_fail(st, EX_BL_NOPERM, "auth", 0, "%s", lerr.message);
		} else {
			return stage_fail(st, EX_BL_CONFIG, "config", 0, "agent '%s': %s",
			                  st->acfg->name, lerr.message);
		}
	}
	st->ep.connect_timeout_s = st->cfg.connect_timeout_s;
	st->ep.idle_timeout_s = st->cfg.idle_timeout_s;
	return -1;
}

static int setup_agent(struct stage *st)
{
	const struct agent_cfg *ac = st->acfg;
	char *rel = ac->system_prompt_file ? xstrdup(ac->system_prompt_file)
	                                   : xasprintf("prompts/%s.txt", st->spec->role);
	char *path = config_find(&st->cfg, st->workspace, rel);
	struct buf prompt = BUF_INIT;
	if (!path || read_file(path, &prompt) < 0) {
		int rc = stage_fail(st, EX_BL_CONFIG, "config", 0,
		                    "agent '%s': cannot read the system prompt '%s'%s%s", ac->name,
		                    rel, path ? ": " : " (not found)", path ? strerror(errno) : "");
		free(rel);
		free(path);
		buf_free(&prompt);
		return rc;
	}
	free(rel);
	free(path);

	struct agent *a = &st->agent;
	agent_init(a, ac->name);
	for (size_t i = 0; i < ac->ntools; i++) {
		const struct tool *t = tools_find(ac->tools[i]);
		if (!t) {
			buf_free(&prompt);
			return stage_fail(st, EX_BL_CONFIG, "config", 0,
			                  "agent '%s': tool '%s' is not available in %s", ac->name,
			                  ac->tools[i], st->spec->prog);
		}
		agent_add_tool(a, t);
	}
	while (prompt.len && prompt.p[prompt.len - 1] == '\n')
		prompt.p[--prompt.len] = '\0';
	buf_addf(&prompt,
	         "\n\n# Environment\n\nWorkspace root (tool paths are relative to it): %s\n",
	         st->root_abs);
	a->req.system = buf_detach(&prompt, NULL);
	a->req.model = xstrdup(st->model ? st->model : ac->model);
	a->req.max_tokens = ac->max_tokens;
	a->req.cache = st->cfg.enable_caching;
	a->provider = st->ep.provider->name;
	a->ep = &st->ep;
	a->retry = &st->cfg.retry;
	a->cfg = &st->cfg;
	a->max_turns = st->max_turns ? st->max_turns : ac->max_turns;
	a->stream_deltas = st->stream;
	a->abort = &abort_flag;
	if (st->cfg.enable_caching && !st->dry_run) {
		char *home = config_bl_home(), *dir = xasprintf("%s/cache", home), err[600];
		if (respcache_open(&resp_cache, dir, st->cfg.cache_ttl_seconds,
		                   st->cfg.cache_max_size, err, sizeof err) == 0)
			a->cache = &resp_cache;
		else
			diag(st, "warning: response cache off: %s", err);
		free(home);
		free(dir);
	}

	st->tctx.rootfd = st->rootfd;
	st->tctx.root = st->workspace;
	st->tctx.root_abs = st->root_abs;
	st->tctx.agent = ac->name;
	st->tctx.abort = &abort_flag;
	st->tctx.network = ac->network;
	st->tctx.writable = st->spec->writes;
	st->tctx.sandbox_required = st->cfg.sandbox_required;
	a->tctx = &st->tctx;

	struct buf ctx = BUF_INIT;
	conv_context(&st->all, ac->role ? ac->role : st->spec->role, st->cfg.max_context_messages,
	             &ctx);
	agent_add_user_text(a, ctx.p ? ctx.p : "");
	buf_free(&ctx);
	return -1;
}

int stage_setup(struct stage *st)
{
	char err[1024];
	if (!st->dry_run && write_start(st) < 0) {
		diag(st, "cannot write to stdout: %s", strerror(errno));
		return EX_BL_SOFTWARE;
	}
	/* .env before config, so that what it sets counts as environment. */
	if (dotenv_load_all(st->root_abs, err, sizeof err) < 0)
		return stage_fail(st, EX_BL_CONFIG, "config", 0, "%s", err);

	if (config_load(&st->cfg, st->config, st->workspace, err, sizeof err) < 0)
		return stage_fail(st, EX_BL_CONFIG, "config", 0, "%s", err);
	for (size_t i = 0; i < st->cfg.nwarnings; i++)
		diag(st, "warning: %s", st->cfg.warnings[i]);

	if (log_init(st->cfg.log_dir, st->cfg.log_level, st->cfg.log_format, st->spec->prog) < 0)
		diag(st, "warning: cannot write logs to '%s': %s", st->cfg.log_dir,
		     strerror(errno));
	log_set_session(st->session);
	log_set_agent(st->spec->role);
	if (st->verbose)
		log_set_stderr(BL_LOG_INFO);

	st->acfg = find_agent(&st->cfg, st->spec->role);
	if (!st->acfg)
		return stage_fail(st, EX_BL_CONFIG, "config", 0, "%s: no agent '%s'",
		                  st->cfg.agent_path ? st->cfg.agent_path : "agent_config.json",
		                  st->spec->role);
	log_set_agent(st->acfg->name);
	int rc;
	if ((rc = setup_endpoint(st)) >= 0)
		return rc;
	return setup_agent(st);
}

int stage_run(struct stage *st)
{
	if (st->dry_run) {
		struct buf dump = BUF_INIT;
		llm_request_dump(&st->ep, &st->agent.req, &dump);
		int rc = write_all(1, dump.p, dump.len);
		buf_free(&dump);
		if (rc < 0) {
			diag(st, "cannot write to stdout: %s", strerror(errno));
			return EX_BL_SOFTWARE;
		}
		return EX_BL_OK;
	}
	struct agent *a = &st->agent;
	log_info("stage_start", "provider=%s model=%s tools=%zu max_turns=%d", a->provider,
	         a->req.model, a->ntools, a->max_turns);
	int rc = abort_flag ? EX_BL_TEMPFAIL : agent_run(a);
	if (rc == EX_BL_TEMPFAIL &&
	    (abort_flag || !a->err.kind || !strcmp(a->err.kind, "interrupted"))) {
		int sig = abort_signal;
		rc = stage_fail(st, EX_BL_TEMPFAIL, sig == SIGTERM ? "timeout" : "crash",
		                sig == SIGTERM, "interrupted by %s",
		                sig == SIGTERM  ? "SIGTERM"
		                : sig == SIGINT ? "SIGINT"
		                : sig == SIGHUP ? "SIGHUP"
		                                : "a signal");
	} else if (rc != 0 && !strcmp(a->err.kind, "io")) {
		diag(st, "%s", a->err.message);
	} else if (rc != 0) {
		stage_fail(st, rc, a->err.kind, a->err.retryable, "%s", a->err.message);
	}
	log_info("stage_end", "exit=%d turns=%d cost_usd=%.6f", rc, a->turns, a->cost_usd);
	return rc;
}

void stage_free(struct stage *st)
{
	conv_free(&st->in);
	conv_free(&st->all);
	buf_free(&st->additions);
	agent_free(&st->agent);
	respcache_close(&resp_cache);
	llm_endpoint_free(&st->ep);
	config_free(&st->cfg);
	if (st->rootfd >= 0)
		close(st->rootfd);
	st->rootfd = -1;
	free(st->root_abs);
	st->root_abs = NULL;
	buf_free(&st->out);
	buf_free(&st->diag);
	log_close();
}

void stage_add_context(struct stage *st, const char *text)
{
	struct llm_request *r = &st->agent.req;
	if (!r->nmsgs || !r->msgs[0].nblocks || r->msgs[0].blocks[0].kind != LLM_TEXT) {
		agent_add_user_text(&st->agent, text);
		return;
	}
	struct llm_block *b = &r->msgs[0].blocks[0];
	char *joined = xasprintf("%s\n%s", b->text ? b->text : "", text);
	free(b->text);
	b->text = joined;
}
