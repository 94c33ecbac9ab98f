/*
 * bl-mockd — a scripted stand-in for the Anthropic Messages and OpenAI
 * Chat Completions APIs on 127.0.0.1, for tests, demos and offline
 * pipeline work.  bl-mockd(1) is the contract: command line, endpoints,
 * script format, request log, caching simulation, exit status.
 *
 * Guarantees: it listens on 127.0.0.1 only; it prints the port and a
 * newline on stdout once listening; each request's log line is written
 * (one write(2), O_APPEND) before its response is queued; SIGTERM or
 * SIGINT ends it with status 0, waking any connection that sleeps in a
 * stall or drip.  One mutex guards the script cursor, the prompt cache,
 * the id counters and the log; everything else is per connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <microhttpd.h>

#include "json.h"
#include "mock_cache.h"
#include "mock_req.h"
#include "mock_script.h"
#include "mock_wire.h"
#include "util.h"

#define MAX_BODY (64u << 20)

static struct {
	pthread_mutex_t mu; /* guards everything below up to "nap" */
	struct mock_script script;
	struct mock_cache cache;
	long long nreq, next_id;
	int log_fd;

	pthread_mutex_t nap_mu; /* guards stopping; cond wakes sleepers */
	pthread_cond_t nap_cond;
	int stopping;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER, .nap_mu = PTHREAD_MUTEX_INITIALIZER, .log_fd = -1};

/* Sleeps ms milliseconds; -1 when bl-mockd is stopping. */
static int nap(long long ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&S.nap_mu);
	while (!S.stopping && pthread_cond_timedwait(&S.nap_cond, &S.nap_mu, &until) != ETIMEDOUT)
		;
	int stopping = S.stopping;
	pthread_mutex_unlock(&S.nap_mu);
	return stopping ? -1 : 0;
}

/* ---- the request log ---- */

struct hdrs {
	char **name, **value;
	int n, cap;
};

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
	struct hdrs *h = cls;
	char *name = xstrdup(key);
	for (char *p = name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	for (int i = 0; i < h->n; i++) {
		if (!strcmp(h->name[i], name)) {
			free(name);
			return MHD_YES;
		}
	}
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 16;
		h->name = xrealloc(h->name, (size_t)h->cap * sizeof *h->name);
		h->value = xrealloc(h->value, (size_t)h->cap * sizeof *h->value);
	}
	h->name[h->n] = name;
	h->value[h->n++] = xstrdup(value ? value : "");
	return MHD_YES;
}

/* One log line for a request; the caller holds S.mu. */
static void log_request(struct MHD_Connection *conn, long long n, const char *method,
                        const char *path, const struct buf *body, const struct json *j, int reply)
{
	if (S.log_fd < 0)
		return;
	struct hdrs h = {0};
	struct buf line = BUF_INIT;
	struct jw w;
	char ts[32];

	MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &h);
	rfc3339_now(ts);
	jw_init(&w, &line);
	jw_obj(&w);
	jw_kint(&w, "n", n);
	jw_kstr(&w, "ts", ts);
	jw_kstr(&w, "method", method);
	jw_kstr(&w, "path", path);
	jw_key(&w, "headers");
	jw_obj(&w);
	for (int i = 0; i < h.n; i++) {
		jw_kstr(&w, h.name[i], h.value[i]);
		free(h.name[i]);
		free(h.value[i]);
	}
	free(h.name);
	free(h.value);
	jw_obj_end(&w);
	jw_key(&w, "body");
	if (j)
		mock_canon(&w, j, 0, NULL);
	else
		jw_strn(&w, body->p ? body->p : "", body->len);
	jw_kint(&w, "reply", reply);
	jw_obj_end(&w);
	buf_addc(&line, '\n');
	if (write_all(S.log_fd, line.p, line.len) < 0)
		fprintf(stderr, "bl-mockd: cannot write the log: %s\n", strerror(errno));
	buf_free(&line);
}

/* ---- responses ---- */

struct stream {
	struct mock_events ev;
	int i;
	size_t off;
	long long drip_ms, cut_after, stall_ms, stall_after;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream *s = cls;
	if (s->off == 0) {
		if (s->cut_after >= 0 && s->i >= s->cut_after)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (s->i >= s->ev.n)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (s->i > 0 && s->drip_ms > 0 && nap(s->drip_ms) < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
		if (s->stall_ms > 0 && s->stall_after == s->i && nap(s->stall_ms) < 0)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	const struct buf *ev = &s->ev.ev[s->i];
	size_t n = ev->len - s->off;
	if (n > max)
		n = max;
	memcpy(out, ev->p + s->off, n);
	s->off += n;
	if (s->off == ev->len) {
		s->i++;
		s->off = 0;
	}
	return (ssize_t)n;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;
	mock_events_free(&s->ev);
	free(s);
}

/* Queues response resp with status and drops our reference. */
static enum MHD_Result send_response(struct MHD_Connection *conn, unsigned status,
                                     struct MHD_Response *resp)
{
	if (!resp)
		return MHD_NO;
	enum MHD_Result rc = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static struct MHD_Response *json_response(struct buf *body)
{
	size_t n;
	char *p = buf_detach(body, &n);
	struct MHD_Response *resp = MHD_create_response_from_buffer(n, p, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(p);
		return NULL;
	}
	MHD_add_response_header(resp, "content-type", "application/json");
	return resp;
}

/* The per-endpoint request-id header, the reply's rate-limit and extra
 * headers. */
static void add_headers(struct MHD_Response *resp, enum mock_endpoint ep, const char *rid,
                        const struct mock_reply *r)
{
	char v[32];
	MHD_add_response_header(resp, ep == MOCK_OPENAI ? "x-request-id" : "request-id", rid);
	if (!r)
		return;
	if (r->retry_after)
		MHD_add_response_header(resp, "retry-after", r->retry_after);
	if (r->retry_after_ms >= 0) {
		snprintf(v, sizeof v, "%lld", r->retry_after_ms);
		MHD_add_response_header(resp, "retry-after-ms", v);
	}
	if (r->should_retry >= 0)
		MHD_add_response_header(resp, "x-should-retry", r->should_retry ? "true" : "false");
	for (int i = 0; i < r->nheaders; i++)
		MHD_add_response_header(resp, r->headers[i].name, r->headers[i].value);
}

static enum MHD_Result send_error(struct MHD_Connection *conn, enum mock_endpoint ep,
                                  unsigned status, const char *type, const char *msg,
                                  const char *rid, const struct mock_reply *r)
{
	struct buf body = BUF_INIT;
	if (ep == MOCK_OPENAI)
		mock_openai_error(&body, type, msg);
	else
		mock_anthropic_error(&body, type, msg, rid);
	struct MHD_Response *resp = json_response(&body);
	if (resp)
		add_headers(resp, ep, rid, r);
	return send_response(conn, status, resp);
}

static const char *default_error_message(int status)
{
	switch (status) {
	case 401:
		return "invalid x-api-key";
	case 429:
		return "Number of request tokens has exceeded your per-minute rate limit";
	case 529:
		return "Overloaded";
	default:
		return "bl-mockd: scripted error";
	}
}

static enum MHD_Result send_models(struct MHD_Connection *conn, const char *rid)
{
	struct buf body = BUF_INIT;
	struct jw w;
	jw_init(&w, &body);
	jw_obj(&w);
	jw_kstr(&w, "object", "list");
	jw_key(&w, "data");
	jw_arr(&w);
	jw_obj(&w);
	jw_kstr(&w, "type", "model");
	jw_kstr(&w, "id", "mock-model");
	jw_kstr(&w, "object", "model");
	jw_kstr(&w, "display_name", "bl-mockd scripted model");
	jw_kstr(&w, "created_at", "2025-01-01T00:00:00Z");
	jw_kint(&w, "created", 1735689600);
	jw_kstr(&w, "owned_by", "bl-mockd");
	jw_obj_end(&w);
	jw_arr_end(&w);
	jw_kbool(&w, "has_more", 0);
	jw_kstr(&w, "first_id", "mock-model");
	jw_kstr(&w, "last_id", "mock-model");
	jw_obj_end(&w);
	struct MHD_Response *resp = json_response(&body);
	if (resp)
		add_headers(resp, MOCK_ANTHROPIC, rid, NULL);
	return send_response(conn, 200, resp);
}

/* A scripted success reply, streamed or whole. */
static enum MHD_Result send_reply(struct MHD_Connection *conn, enum mock_endpoint ep,
                                  const struct mock_ctx *c, int stream, const char *rid)
{
	const struct mock_reply *r = c->r;
	struct MHD_Response *resp;
	if (!stream) {
		struct buf body = BUF_INIT;
		if (ep == MOCK_OPENAI)
			mock_openai_completion(c, &body);
		else
			mock_anthropic_message(c, &body);
		resp = json_response(&body);
	} else {
		struct stream *s = xcalloc(1, sizeof *s);
		if (ep == MOCK_OPENAI)
			mock_openai_stream(c, &s->ev);
		else
			mock_anthropic_stream(c, &s->ev);
		s->drip_ms = r->drip_ms;
		s->cut_after = r->cut_after;
		s->stall_ms = r->stall_after >= 0 ? r->stall_ms : 0;
		s->stall_after = r->stall_after;
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, stream_read, s,
		                                         stream_free);
		if (!resp) {
			stream_free(s);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "content-type", "text/event-stream; charset=utf-8");
		MHD_add_response_header(resp, "cache-control", "no-cache");
	}
	if (resp)
		add_headers(resp, ep, rid, r);
	return send_response(conn, 200, resp);
}

/* ---- the request handler ---- */

struct conn {
	struct buf body;
	int too_big;
};

static enum mock_endpoint route(const char *method, const char *url)
{
	if (strcmp(method, "POST"))
		return MOCK_ANY;
	if (!strcmp(url, "/v1/messages"))
		return MOCK_ANTHROPIC;
	if (!strcmp(url, "/v1/chat/completions") || !strcmp(url, "/chat/completions"))
		return MOCK_OPENAI;
	return MOCK_ANY;
}

static enum MHD_Result serve(struct MHD_Connection *conn, const char *url, const char *method,
                             struct conn *cx)
{
	enum mock_endpoint ep = route(method, url);
	struct json j;
	struct json_error je;
	int parsed = cx->body.len > 0 && json_parse(&j, cx->body.p, cx->body.len, &je) == 0;
	int is_models =
	    !strcmp(method, "GET") && (!strcmp(url, "/v1/models") || !strcmp(url, "/models"));
	int api = ep != MOCK_ANY && parsed && json_type(&j, 0) == JSON_OBJECT;
	struct buf system = BUF_INIT;
	struct mock_bill bill = {0, 0, 0};
	struct mock_ctx c = {0};
	char *model = NULL;
	int idx = -1, stream = 0;
	enum MHD_Result rc;
	char rid[48];

	if (api) {
		if (ep == MOCK_ANTHROPIC)
			mock_anthropic_system(&j, &system);
		else
			mock_openai_system(&j, &system);
		model = json_get_str(&j, 0, "model");
		stream = json_get_bool(&j, 0, "stream", 0);
		int so = json_get(&j, 0, "stream_options");
		c.include_usage = json_get_bool(&j, so, "include_usage", 0);
	}

	pthread_mutex_lock(&S.mu);
	long long seq = ++S.nreq;
	if (api) {
		idx = mock_script_take(&S.script, ep, system.p ? system.p : "");
		if (ep == MOCK_ANTHROPIC)
			mock_cache_bill(&S.cache, &j, cx->body.len, &bill);
		else
			bill.input_tokens = cx->body.len / 4 > 0 ? (long long)cx->body.len / 4 : 1;
		if (idx >= 0) {
			c.id_base = S.next_id + 1;
			S.next_id += mock_generated_ids(&S.script.r[idx]);
		}
	}
	log_request(conn, seq, method, url, &cx->body, parsed ? &j : NULL, idx);
	/* lines are never freed while serving, so r stays valid unlocked */
	const struct mock_reply *r = idx >= 0 ? &S.script.r[idx] : NULL;
	pthread_mutex_unlock(&S.mu);

	snprintf(rid, sizeof rid, "req_mock_%lld", seq);
	buf_free(&system);
	if (parsed)
		json_free(&j);

	if (is_models) {
		rc = send_models(conn, rid);
	} else if (ep == MOCK_ANY) {
		char *msg = xasprintf("bl-mockd: no such endpoint: %s %s", method, url);
		rc = send_error(conn, MOCK_ANTHROPIC, 404, "not_found_error", msg, rid, NULL);
		free(msg);
	} else if (cx->too_big) {
		rc = send_error(conn, ep, 413, "request_too_large", "bl-mockd: request too large",
		                rid, NULL);
	} else if (!api) {
		char *msg;
		if (cx->body.len == 0)
			msg = xstrdup("bl-mockd: empty request body");
		else if (parsed)
			msg = xstrdup("bl-mockd: request body is not a JSON object");
		else
			msg = xasprintf(
			    "bl-mockd: request body is not valid JSON: line %d, column %d: %s",
			    je.line, je.col, je.msg);
		rc = send_error(conn, ep, 400, "invalid_request_error", msg, rid, NULL);
		free(msg);
	} else if (!r) {
		rc =
		    send_error(conn, ep, 500, "api_error", "bl-mockd: script exhausted", rid, NULL);
	} else if (r->stall_ms > 0 && r->stall_after < 0 && nap(r->stall_ms) < 0) {
		rc = MHD_NO;
	} else if (r->status) {
		rc = send_error(
		    conn, ep, (unsigned)r->status, mock_reply_error_type(r),
		    r->error_message ? r->error_message : default_error_message(r->status), rid, r);
	} else {
		c.r = r;
		c.model = r->model ? r->model : model ? model : "mock-model";
		c.seq = seq;
		c.created = (long long)time(NULL);
		c.input_tokens = r->input_tokens >= 0 ? r->input_tokens : bill.input_tokens;
		c.output_tokens = r->output_tokens >= 0 ? r->output_tokens : mock_output_tokens(r);
		c.cache_creation = r->cache_creation >= 0 ? r->cache_creation : bill.cache_creation;
		c.cache_read = r->cache_read >= 0 ? r->cache_read : bill.cache_read;
		rc = send_reply(conn, ep, &c, stream, rid);
	}
	free(model);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct conn *cx = *con_cls;
	if (!cx) {
		*con_cls = xcalloc(1, sizeof *cx);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (cx->body.len + *upload_data_size > MAX_BODY)
			cx->too_big = 1;
		else
			buf_add(&cx->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return serve(conn, url, method, cx);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct conn *cx = *con_cls;
	if (cx) {
		buf_free(&cx->body);
		free(cx);
		*con_cls = NULL;
	}
}

/* ---- main ---- */

static void usage(FILE *f, int full)
{
	fprintf(f, "usage: bl-mockd --script FILE [--port N] [--log FILE] [--host 127.0.0.1]\n");
	if (!full)
		return;
	fprintf(f,
	        "A scripted stand-in for the Anthropic and OpenAI APIs on 127.0.0.1.\n"
	        "\n"
	        "  -s, --script FILE  replies and faults, one JSON object per line, used in order\n"
	        "                     (text and tool_use content, status, retry_after, cut_after,\n"
	        "                     stall, drip_ms, error_event, match, repeat, ...)\n"
	        "  -p, --port N       port to listen on; 0 (the default) picks a free one\n"
	        "  -l, --log FILE     append each request received as a JSON line\n"
	        "  -H, --host HOST    only 127.0.0.1 (or localhost) is accepted\n"
	        "  -h, --help         show this help\n"
	        "  -V, --version      show the version\n"
	        "\n"
	        "Serves POST /v1/messages (Anthropic) and POST /v1/chat/completions (OpenAI),\n"
	        "streaming and not.  Prints the port on stdout once listening; runs until\n"
	        "SIGTERM or SIGINT.  Exit status: 0 stopped, 64 usage, 65 bad script, 69 the\n"
	        "port is busy, 70 internal, 73 the log cannot be opened.  See bl-mockd(1).\n");
}

/* A listening TCP socket on 127.0.0.1:port, or -1 with errno. */
static int listen_on(unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"script", required_argument, NULL, 's'},
	    {"port", required_argument, NULL, 'p'},
	    {"log", required_argument, NULL, 'l'},
	    {"host", required_argument, NULL, 'H'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *script = NULL, *logpath = NULL;
	unsigned long port = 0;
	char *end;
	int o;

	while ((o = getopt_long(argc, argv, "s:p:l:H:hV", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			script = optarg;
			break;
		case 'p':
			errno = 0;
			port = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || port > 65535) {
				fprintf(stderr, "bl-mockd: bad port '%s'\n", optarg);
				return EX_BL_USAGE;
			}
			break;
		case 'l':
			logpath = optarg;
			break;
		case 'H':
			if (strcmp(optarg, "127.0.0.1") && strcmp(optarg, "localhost")) {
				fprintf(stderr, "bl-mockd: listens on 127.0.0.1 only, not '%s'\n",
				        optarg);
				return EX_BL_USAGE;
			}
			break;
		case 'h':
			usage(stdout, 1);
			return 0;
		case 'V':
			printf("bl-mockd (better-llm) %s\n", BL_VERSION);
			return 0;
		default:
			usage(stderr, 0);
			return EX_BL_USAGE;
		}
	}
	if (!script || optind != argc) {
		usage(stderr, 0);
		return EX_BL_USAGE;
	}

	char err[512];
	if (mock_script_load(&S.script, script, err, sizeof err) < 0) {
		fprintf(stderr, "bl-mockd: %s\n", err);
		return EX_BL_DATAERR;
	}
	if (logpath) {
		S.log_fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (S.log_fd < 0) {
			fprintf(stderr, "bl-mockd: cannot open '%s': %s\n", logpath,
			        strerror(errno));
			mock_script_free(&S.script);
			return EX_CANTCREAT;
		}
	}

	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&S.nap_cond, &ca);
	pthread_condattr_destroy(&ca);

	/* every thread inherits this mask; main takes the signals in sigwait */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	int fd = listen_on((unsigned)port);
	if (fd < 0) {
		fprintf(stderr, "bl-mockd: cannot listen on 127.0.0.1:%lu: %s\n", port,
		        strerror(errno));
		mock_script_free(&S.script);
		return EX_BL_UNAVAILABLE;
	}
	struct MHD_Daemon *d =
	    MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0,
	                     NULL, NULL, on_request, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
	                     MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "bl-mockd: cannot start the HTTP server\n");
		close(fd);
		mock_script_free(&S.script);
		return EX_BL_SOFTWARE;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned bound = info ? info->port : 0;
	if (!bound) {
		struct sockaddr_in sa;
		socklen_t len = sizeof sa;
		if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
			bound = ntohs(sa.sin_port);
	}
	printf("%u\n", bound);
	fflush(stdout);

	int sig;
	while (sigwait(&sigs, &sig) != 0)
		;

	pthread_mutex_lock(&S.nap_mu);
	S.stopping = 1;
	pthread_cond_broadcast(&S.nap_cond);
	pthread_mutex_unlock(&S.nap_mu);
	MHD_stop_daemon(d);

	mock_script_free(&S.script);
	mock_cache_free(&S.cache);
	if (S.log_fd >= 0)
		close(S.log_fd);
	return 0;
}
