/*
 * statusline — a view above a libedit prompt with a status line between
 * them; the contract is in statusline.h.  The prompt and the typed line
 * are redrawn by libedit (EL_REFRESH); what is computed here is only
 * how many rows they take, from the prompt's width and the display
 * width of the line up to the cursor.
 */
#include "statusline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "term.h"

/* Rows above the cursor's taken by the prompt and the line up to it. */
static int cursor_rows(const struct statusline *s)
{
	const LineInfoW *li = el_wline(s->el);
	size_t w = (size_t)s->prompt_w;
	for (const wchar_t *p = li->buffer; p < li->cursor; p++)
		w += (size_t)term_cp_width((uint32_t)*p);
	return (int)(w / (size_t)s->width);
}

/* Owner: the text is the callback's for the call, freed here. */
void statusline_draw(struct statusline *s)
{
	struct buf b = BUF_INIT, line = BUF_INIT;
	s->text(s->ctx, &b);
	size_t max = (size_t)(s->width > 2 ? s->width - 1 : 1), w = 0, i = 0;
	while (i < b.len) {
		uint32_t cp;
		int len = term_utf8_decode(b.p + i, b.len - i, &cp);
		if (w + (size_t)term_cp_width(cp) > max)
			break;
		w += (size_t)term_cp_width(cp);
		i += (size_t)len;
	}
	buf_addf(&line, "\r\033[K%s%.*s%s\n", s->color ? "\033[2m" : "", (int)i, b.p,
	         s->color ? "\033[0m" : "");
	write_all(s->fd, line.p, line.len);
	buf_free(&b);
	buf_free(&line);
}

/* Owner: nothing allocated. */
void statusline_hide(struct statusline *s)
{
	if (!s->shown)
		return;
	char seq[32];
	snprintf(seq, sizeof seq, "\r\033[%dA\033[J", cursor_rows(s) + 1);
	write_all(s->fd, seq, strlen(seq));
	s->shown = 0;
	if (s->partial_broken && s->partial.len) { /* back to the end of the open line */
		write_all(s->fd, "\033[A\r", 4);
		write_all(s->fd, s->partial.p, s->partial.len);
	}
	s->partial_broken = 0;
}

/* Owner: nothing allocated. */
void statusline_show(struct statusline *s)
{
	if (s->shown || !s->in_edit)
		return;
	if (s->partial.len) {
		write_all(s->fd, "\n", 1);
		s->partial_broken = 1;
	}
	statusline_draw(s);
	el_set(s->el, EL_REFRESH);
	s->shown = 1;
}

/* Owner: nothing allocated. */
void statusline_tick(struct statusline *s)
{
	if (!s->shown)
		return;
	char seq[32];
	snprintf(seq, sizeof seq, "\0337\r\033[%dA", cursor_rows(s) + 1);
	write_all(s->fd, seq, strlen(seq));
	statusline_draw(s);
	write_all(s->fd, "\0338", 2);
}

/* Owner: the formatted line is freed before it returns. */
void statusline_say(struct statusline *s, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	buf_addc(&b, '\n');
	int was = s->shown;
	statusline_hide(s);
	if (s->partial.len) { /* the open line is left as it is; its end comes below */
		write_all(s->fd, "\n", 1);
		buf_reset(&s->partial);
	}
	write_all(s->fd, b.p, b.len);
	if (was)
		statusline_show(s);
	buf_free(&b);
}

/* Owner: the open line is kept in s->partial. */
void statusline_pump(struct statusline *s)
{
	off_t end = lseek(s->view_fd, 0, SEEK_END);
	if (end <= 0)
		return;
	char *p = xmalloc((size_t)end);
	ssize_t got = pread(s->view_fd, p, (size_t)end, 0);
	if (ftruncate(s->view_fd, 0) < 0 || lseek(s->view_fd, 0, SEEK_SET) < 0)
		got = -1;
	if (got > 0) {
		write_all(s->fd, p, (size_t)got);
		char *nl = memrchr(p, '\n', (size_t)got);
		if (nl)
			buf_reset(&s->partial);
		char *rest = nl ? nl + 1 : p;
		buf_add(&s->partial, rest, (size_t)(p + got - rest));
	}
	free(p);
}

/* Owner: nothing allocated. */
void statusline_end_view(struct statusline *s)
{
	buf_reset(&s->partial);
}

/* Owner: frees the open-line buffer. */
void statusline_free(struct statusline *s)
{
	buf_free(&s->partial);
}
