/*
 * statusline — the screen of a line-editing front end (bl): a view
 * written above a libedit prompt, and a one-line status just above the
 * prompt, kept out of each other's way.
 *
 *	struct statusline sl = {.el = el, .prompt_w = 4, .fd = 1, .width = w,
 *	                        .color = c, .view_fd = memfd, .text = fn};
 *	statusline_draw(&sl); sl.in_edit = sl.shown = 1; el_gets(...)
 *	while waiting: statusline_hide(&sl); write the view; statusline_show(&sl);
 *	               statusline_tick(&sl) now and then
 *
 * Guarantees: whatever is written between statusline_hide() and
 * statusline_show() appears above the status line and the prompt, which
 * come back below it with the typed line and the cursor as they were; a
 * view line still open (no newline yet: a "$ cmd" waiting for its exit
 * code) is continued in place once the status line is hidden again.
 * The status line is the text callback's, cut to the width (never
 * wrapping), dim when color is on.  All output goes to fd; nothing here
 * exits.
 */
#ifndef BL_STATUSLINE_H
#define BL_STATUSLINE_H

#include <histedit.h>
#include <stddef.h>

#include "util.h"

struct statusline {
	/* Set by the caller. */
	EditLine *el; /* the prompt's editor (the caller's) */
	int prompt_w; /* columns of the prompt */
	int fd;       /* the terminal */
	int width;    /* its columns */
	int color;    /* 1: escape sequences for attributes */
	int view_fd;  /* a memfd the view is rendered to (the caller's) */
	void *ctx;    /* for text */
	void (*text)(void *ctx, struct buf *out); /* the status, appended to out */
	int in_edit;                              /* inside el_gets: the prompt is on screen */
	int shown;                                /* the status line and the prompt are on screen */

	/* Kept by the functions below. */
	struct buf partial; /* the view's last line while it is still open */
	int partial_broken; /* ... and a newline was written after it for the prompt */
};

/* Writes the status line (cut to the width) and a newline at the
 * cursor.  Nothing is kept. */
void statusline_draw(struct statusline *s);

/* Takes the status line and the prompt off the screen (when shown),
 * the cursor back at the end of the view. */
void statusline_hide(struct statusline *s);

/* Puts them back below the view (when inside el_gets and not shown). */
void statusline_show(struct statusline *s);

/* Redraws only the status line (when shown), the cursor left where it is. */
void statusline_tick(struct statusline *s);

/* Writes one line of the caller's above the prompt, after the view (an
 * open view line is left as it is).  The text is formatted into a
 * buffer of its own, freed before it returns. */
void statusline_say(struct statusline *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Copies what was rendered to view_fd onto the terminal and empties
 * view_fd, remembering the last line while it is open. */
void statusline_pump(struct statusline *s);

/* Forgets the open view line (it was ended by the caller). */
void statusline_end_view(struct statusline *s);

/* Releases what s keeps (not el, not view_fd). */
void statusline_free(struct statusline *s);

#endif
