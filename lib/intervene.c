/*
 * intervene — bl-manager's questions on the controlling terminal (see
 * intervene.h for the contract).  Reads are whole lines as the
 * terminal's line discipline delivers them, at most one read(2) per
 * question; waits go through sv_wait, so SIGINT/SIGTERM end them.
 */
#include "intervene.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervise.h"
#include "util.h"

void intervene_open(struct intervene *iv, int wait_s)
{
	iv->wait_s = wait_s;
	if (isatty(0))
		iv->tty_fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	iv->interactive = iv->tty_fd >= 0 && isatty(iv->tty_fd);
}

void intervene_close(struct intervene *iv)
{
	if (iv->tty_fd >= 0)
		close(iv->tty_fd);
	iv->tty_fd = -1;
	iv->interactive = 0;
}

int intervene_line(struct intervene *iv, const char *prompt, int64_t wait_ms, char *out, size_t n)
{
	write_all(iv->tty_fd, prompt, strlen(prompt));
	int w = sv_wait(iv->tty_fd, wait_ms);
	if (w <= 0) {
		write_all(iv->tty_fd, "\n", 1);
		return w;
	}
	ssize_t got = read(iv->tty_fd, out, n - 1);
	if (got <= 0) {
		/* ^D (or a gone terminal): no more questions, the run goes on */
		iv->interactive = 0;
		write_all(iv->tty_fd, "\n", 1);
		return 0;
	}
	out[got] = '\0';
	out[strcspn(out, "\r\n")] = '\0';
	return 1;
}

int intervene_one_more(struct intervene *iv, const char *what)
{
	if (!iv->interactive)
		return 0;
	char ans[64];
	char *prompt = xasprintf("%s reached. [s]top or [o]ne more? ", what);
	int r = intervene_line(iv, prompt, -1, ans, sizeof ans);
	free(prompt);
	if (r != 1)
		return 0;
	return ans[0] == 'o' || ans[0] == 'O' || ans[0] == 'y' || ans[0] == 'Y';
}

int intervene_window(struct intervene *iv,
                     void (*event)(void *ctx, const char *event, const char *detail), void *ctx,
                     char *msg, size_t n)
{
	msg[0] = '\0';
	if (!iv->interactive || iv->wait_s <= 0 || sv_caught())
		return sv_caught() ? IV_STOP_SIGNAL : IV_GO;
	char prompt[160];
	snprintf(prompt, sizeof prompt, "[Enter] continue · /pause · /stop (%d s) ", iv->wait_s);
	int r = intervene_line(iv, prompt, (int64_t)iv->wait_s * 1000, msg, n);
	if (r < 0)
		return IV_STOP_SIGNAL;
	if (r == 0 || !msg[0]) {
		msg[0] = '\0';
		return IV_GO;
	}
	if (!strcmp(msg, "/stop")) {
		msg[0] = '\0';
		return IV_STOP_USER;
	}
	if (!strcmp(msg, "/pause")) {
		event(ctx, "pause", "paused: type a message for the team");
		int got = intervene_line(iv, "message> ", -1, msg, n);
		if (got < 0) {
			msg[0] = '\0';
			return IV_STOP_SIGNAL;
		}
		if (got == 0)
			msg[0] = '\0';
		event(ctx, "resume", "resumed");
	}
	return IV_GO;
}
