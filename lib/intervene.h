/*
 * intervene — the user's say while bl-manager runs (bl-manager(1)): the
 * controlling terminal, opened apart from stdin and stdout, on which
 * the run asks its questions: the window after each stage (Enter goes
 * on, /pause takes a message for the team, /stop ends the run, other
 * text is a message) and, past a limit, "[s]top or [o]ne more?".
 *
 * Guarantees: nothing is asked unless stdin is a terminal and /dev/tty
 * opens as one; an end of file on the terminal (^D, a gone terminal)
 * ends the questions for the rest of the run and counts as "go on"
 * (and as "stop" at a limit); every wait is through sv_wait, so a
 * caught SIGINT/SIGTERM ends it at once.  Prompts are written to the
 * terminal only, never to stdout or stderr.
 */
#ifndef BL_INTERVENE_H
#define BL_INTERVENE_H

#include <stddef.h>
#include <stdint.h>

struct intervene {
	int tty_fd;      /* the terminal (O_CLOEXEC), or -1; set it to -1 before intervene_open */
	int interactive; /* questions may be asked: a terminal, no end of file on it yet */
	int wait_s;      /* the window after a stage, in seconds; 0: none */
};

/* What the window after a stage decided. */
enum { IV_GO = 0, IV_STOP_SIGNAL = -1, IV_STOP_USER = -2 };

/* Opens /dev/tty into iv when fd 0 is a terminal; iv owns the fd until
 * intervene_close.  Never fails: without a terminal nothing is asked. */
void intervene_open(struct intervene *iv, int wait_s);
/* Closes the terminal iv owns (if any). */
void intervene_close(struct intervene *iv);

/* Writes prompt and reads one line into out (n bytes, without '\n');
 * wait_ms < 0 waits forever.  1 got a line, 0 timed out or end of file
 * (which also clears iv->interactive), -1 a signal was caught. */
int intervene_line(struct intervene *iv, const char *prompt, int64_t wait_ms, char *out, size_t n);

/* Past a limit: asks "WHAT reached. [s]top or [o]ne more?" when
 * interactive.  1 when the user allows one more, else 0. */
int intervene_one_more(struct intervene *iv, const char *what);

/* The window after a stage: waits iv->wait_s seconds for Enter, /pause
 * or /stop.  On /pause, event(ctx, "pause", detail) is called before the
 * message is read and event(ctx, "resume", "resumed") after.  IV_GO
 * with the user's message in msg (n bytes; "" for none), IV_STOP_USER
 * on /stop, IV_STOP_SIGNAL when a signal was caught.  The caller owns
 * msg; event's strings are borrowed for the call. */
int intervene_window(struct intervene *iv,
                     void (*event)(void *ctx, const char *event, const char *detail), void *ctx,
                     char *msg, size_t n);

#endif
