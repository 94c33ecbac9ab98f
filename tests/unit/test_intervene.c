/*
 * test_intervene — the user's say on the terminal (lib/intervene.c),
 * played through a socketpair standing in for /dev/tty: Enter, a
 * message, /stop, /pause with the message read after the pause event,
 * the window timing out, end of file ending the questions, and the
 * "[s]top or [o]ne more?" question at a limit.
 */
#include "intervene.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "t.h"
#include "util.h"

static int peer; /* the user's end of the "terminal" */
static char events[256];

static void say(const char *s)
{
	write_all(peer, s, strlen(s));
}

/* Drains what was written to the terminal (the prompts). */
static void heard(char *out, size_t n)
{
	ssize_t got = recv(peer, out, n - 1, MSG_DONTWAIT);
	out[got > 0 ? got : 0] = '\0';
}

static void on_event(void *ctx, const char *event, const char *detail)
{
	snprintf(events + strlen(events), sizeof events - strlen(events), "%s(%s);", event, detail);
	if (!strcmp(event, "pause"))
		say(ctx);
}

int main(void)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		return 1;
	}
	peer = sv[1];
	struct intervene iv = {.tty_fd = sv[0], .interactive = 1, .wait_s = 2};
	char msg[128], out[512];

	say("\n");
	T_INTEQ(intervene_window(&iv, on_event, NULL, msg, sizeof msg), IV_GO, "enter: go on");
	T_STREQ(msg, "", "enter: no message");
	heard(out, sizeof out);
	T_STREQ(out, "[Enter] continue · /pause · /stop (2 s) ", "enter: the window's prompt");

	say("use strncpy\n");
	T_INTEQ(intervene_window(&iv, on_event, NULL, msg, sizeof msg), IV_GO, "text: go on");
	T_STREQ(msg, "use strncpy", "text: is the message");

	say("/stop\r\n");
	T_INTEQ(intervene_window(&iv, on_event, NULL, msg, sizeof msg), IV_STOP_USER,
	        "/stop: stopped by the user");
	T_STREQ(msg, "", "/stop: no message");

	say("/pause\n");
	T_INTEQ(intervene_window(&iv, on_event, "add a test\n", msg, sizeof msg), IV_GO,
	        "/pause: go on after the message");
	T_STREQ(msg, "add a test", "/pause: the message read after the pause");
	T_STREQ(events, "pause(paused: type a message for the team);resume(resumed);",
	        "/pause: pause then resume events");
	heard(out, sizeof out);
	T_OK(strstr(out, "message> ") != NULL, "/pause: the message prompt");

	iv.wait_s = 1;
	T_INTEQ(intervene_window(&iv, on_event, NULL, msg, sizeof msg), IV_GO, "timeout: go on");
	T_STREQ(msg, "", "timeout: no message");
	T_OK(iv.interactive, "timeout: still interactive");
	heard(out, sizeof out);
	T_STREQ(out, "[Enter] continue · /pause · /stop (1 s) \n",
	        "timeout: the prompt ended by a new line");

	say("o\n");
	T_INTEQ(intervene_one_more(&iv, "Review cycle limit"), 1, "one more: o allows one");
	heard(out, sizeof out);
	T_STREQ(out, "Review cycle limit reached. [s]top or [o]ne more? ",
	        "one more: the question");
	say("s\n");
	T_INTEQ(intervene_one_more(&iv, "Test cycle limit"), 0, "one more: s stops");

	shutdown(peer, SHUT_WR);
	T_INTEQ(intervene_window(&iv, on_event, NULL, msg, sizeof msg), IV_GO, "eof: go on");
	T_OK(!iv.interactive, "eof: no more questions");
	T_INTEQ(intervene_one_more(&iv, "x"), 0, "eof: no one more without a terminal");
	heard(out, sizeof out);
	T_INTEQ(intervene_window(&iv, on_event, NULL, msg, sizeof msg), IV_GO,
	        "not interactive: go on at once");
	heard(out, sizeof out);
	T_STREQ(out, "", "not interactive: nothing asked");

	iv.interactive = 1;
	iv.wait_s = 0;
	T_INTEQ(intervene_window(&iv, on_event, NULL, msg, sizeof msg), IV_GO, "--no-wait: go on");
	heard(out, sizeof out);
	T_STREQ(out, "", "--no-wait: nothing asked");

	intervene_close(&iv);
	T_INTEQ(iv.tty_fd, -1, "close: no terminal left");
	close(peer);
	return t_done();
}
