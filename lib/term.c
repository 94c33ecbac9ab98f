/*
 * term — terminal width, the colour decision, display widths and
 * escape-preserving word wrapping (see term.h).
 *
 * Guarantees: no process-wide state is read but the environment and the
 * fd's window size; widths come from the table below, not the locale;
 * term_wrap never splits a UTF-8 character or an escape sequence and
 * never writes a line wider than asked unless a single character is wider
 * than the room left after the prefix.
 */
#include "term.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int term_parse_color(const char *s, enum term_color *out)
{
	if (!s)
		return -1;
	if (!strcmp(s, "auto") || !strcmp(s, "tty") || !strcmp(s, "if-tty"))
		*out = TERM_COLOR_AUTO;
	else if (!strcmp(s, "always") || !strcmp(s, "yes") || !strcmp(s, "force"))
		*out = TERM_COLOR_ALWAYS;
	else if (!strcmp(s, "never") || !strcmp(s, "no") || !strcmp(s, "none"))
		*out = TERM_COLOR_NEVER;
	else
		return -1;
	return 0;
}

int term_use_color(enum term_color mode, int fd)
{
	if (mode == TERM_COLOR_ALWAYS)
		return 1;
	if (mode == TERM_COLOR_NEVER)
		return 0;
	const char *no = getenv("NO_COLOR"), *t = getenv("TERM");
	if (no && *no)
		return 0;
	if (t && !strcmp(t, "dumb"))
		return 0;
	return isatty(fd);
}

int term_width(int fd)
{
	struct winsize ws;
	int w = 0;
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		w = ws.ws_col;
	if (w <= 0) {
		const char *c = getenv("COLUMNS");
		if (c && *c) {
			char *end;
			long v = strtol(c, &end, 10);
			if (!*end && v > 0 && v < 100000)
				w = (int)v;
		}
	}
	if (w <= 0)
		w = 80;
	return w < 10 ? 10 : w > 1000 ? 1000 : w;
}

int term_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t c;
	int len;
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	} else if (u[0] >= 0xC2 && u[0] <= 0xDF) {
		c = u[0] & 0x1F, len = 2;
	} else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
		c = u[0] & 0x0F, len = 3;
	} else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
		c = u[0] & 0x07, len = 4;
	} else {
		*cp = 0xFFFD;
		return 1;
	}
	if ((size_t)len > n)
		goto bad;
	for (int i = 1; i < len; i++) {
		if ((u[i] & 0xC0) != 0x80)
			goto bad;
		c = c << 6 | (u[i] & 0x3F);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
	    (len == 4 && (c < 0x10000 || c > 0x10FFFF)))
		goto bad;
	*cp = c;
	return len;
bad:
	*cp = 0xFFFD;
	return 1;
}

struct range {
	uint32_t lo, hi;
};

static const struct range zero_width[] = {
    {0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x05BF, 0x05BF},   {0x05C1, 0x05C2},
    {0x05C4, 0x05C5}, {0x05C7, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F},   {0x0670, 0x0670},
    {0x06D6, 0x06DC}, {0x06DF, 0x06E4}, {0x06E7, 0x06E8}, {0x06EA, 0x06ED},   {0x1AB0, 0x1AFF},
    {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x2028, 0x202E}, {0x2060, 0x2064},   {0x20D0, 0x20FF},
    {0xFE00, 0xFE0F}, {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}, {0xE0000, 0xE007F}, {0xE0100, 0xE01EF},
};

static const struct range wide[] = {
    {0x1100, 0x115F},   {0x231A, 0x231B},   {0x2329, 0x232A},   {0x23E9, 0x23EC},
    {0x23F0, 0x23F0},   {0x23F3, 0x23F3},   {0x25FD, 0x25FE},   {0x2614, 0x2615},
    {0x2648, 0x2653},   {0x267F, 0x267F},   {0x2693, 0x2693},   {0x26A1, 0x26A1},
    {0x26AA, 0x26AB},   {0x26BD, 0x26BE},   {0x26C4, 0x26C5},   {0x26CE, 0x26CE},
    {0x26D4, 0x26D4},   {0x26EA, 0x26EA},   {0x26F2, 0x26F3},   {0x26F5, 0x26F5},
    {0x26FA, 0x26FA},   {0x26FD, 0x26FD},   {0x2705, 0x2705},   {0x270A, 0x270B},
    {0x2728, 0x2728},   {0x274C, 0x274C},   {0x274E, 0x274E},   {0x2753, 0x2755},
    {0x2757, 0x2757},   {0x2795, 0x2797},   {0x27B0, 0x27B0},   {0x27BF, 0x27BF},
    {0x2B1B, 0x2B1C},   {0x2B50, 0x2B50},   {0x2B55, 0x2B55},   {0x2E80, 0x303E},
    {0x3041, 0x33FF},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xA000, 0xA4CF},
    {0xA960, 0xA97F},   {0xAC00, 0xD7A3},   {0xF900, 0xFAFF},   {0xFE10, 0xFE19},
    {0xFE30, 0xFE6F},   {0xFF00, 0xFF60},   {0xFFE0, 0xFFE6},   {0x16FE0, 0x16FE4},
    {0x17000, 0x18AFF}, {0x1B000, 0x1B2FF}, {0x1F004, 0x1F004}, {0x1F0CF, 0x1F0CF},
    {0x1F18E, 0x1F18E}, {0x1F191, 0x1F19A}, {0x1F200, 0x1F251}, {0x1F300, 0x1F64F},
    {0x1F680, 0x1F6FF}, {0x1F7E0, 0x1F7EB}, {0x1F90C, 0x1F9FF}, {0x1FA70, 0x1FAFF},
    {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
};

static int in_table(uint32_t cp, const struct range *t, size_t n)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cp < t[mid].lo)
			hi = mid;
		else if (cp > t[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

int term_cp_width(uint32_t cp)
{
	if (cp == 0 || cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
		return 0;
	if (cp < 0x300)
		return 1;
	if (in_table(cp, zero_width, sizeof zero_width / sizeof *zero_width))
		return 0;
	if (in_table(cp, wide, sizeof wide / sizeof *wide))
		return 2;
	return 1;
}

size_t term_escape_len(const char *s, size_t n)
{
	if (n < 2 || s[0] != '\033')
		return 0;
	if (s[1] == '[') {
		for (size_t i = 2; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c >= 0x40 && c <= 0x7E)
				return i + 1;
			if (c < 0x20 || c > 0x3F)
				return i; /* malformed: stop before the odd byte */
		}
		return n;
	}
	if (s[1] == ']') {
		for (size_t i = 2; i < n; i++) {
			if (s[i] == '\a')
				return i + 1;
			if (s[i] == '\033' && i + 1 < n && s[i + 1] == '\\')
				return i + 2;
		}
		return n;
	}
	return 2; /* ESC + one byte (ESC 7, ESC 8, ESC =) */
}

size_t term_display_width(const char *s, size_t n)
{
	size_t w = 0, i = 0;
	while (i < n) {
		size_t e = term_escape_len(s + i, n - i);
		if (e) {
			i += e;
			continue;
		}
		uint32_t cp;
		int len = term_utf8_decode(s + i, n - i, &cp);
		w += s[i] == '\t' ? 1 : (size_t)term_cp_width(cp);
		i += (size_t)len;
	}
	return w;
}

void term_strip_escapes(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		size_t e = term_escape_len(s + i, n - i);
		if (e) {
			i += e;
			continue;
		}
		buf_addc(out, s[i++]);
	}
}

/* The state of one wrap: the output, the prefix for the next line, the
 * colours in effect (SGR sequences since the last reset). */
struct wrap {
	struct buf *out;
	int width;
	const char *rest;
	size_t rest_w; /* display width of rest */
	struct buf sgr;
	size_t line_start; /* offset in out of the current line */
	size_t col;        /* display columns used on the current line */
	int has_text;      /* a word (not only the prefix) is on the line */
};

static int is_sgr(const char *s, size_t n)
{
	return n >= 3 && s[0] == '\033' && s[1] == '[' && s[n - 1] == 'm';
}

static void copy_escape(struct wrap *w, const char *s, size_t n)
{
	buf_add(w->out, s, n);
	if (!is_sgr(s, n))
		return;
	if (n == 3 || (n == 4 && s[2] == '0'))
		buf_reset(&w->sgr);
	else
		buf_add(&w->sgr, s, n);
}

/* Ends the current line: trailing spaces dropped, colours reset. */
static void end_line(struct wrap *w)
{
	while (w->out->len > w->line_start && w->out->p[w->out->len - 1] == ' ')
		w->out->len--;
	if (w->sgr.len)
		buf_adds(w->out, "\033[0m");
	buf_addc(w->out, '\n');
}

static void begin_line(struct wrap *w, const char *prefix)
{
	w->line_start = w->out->len;
	if (prefix) {
		buf_adds(w->out, prefix);
		w->col = term_display_width(prefix, strlen(prefix));
	} else {
		w->col = 0;
	}
	if (w->sgr.len)
		buf_add(w->out, w->sgr.p, w->sgr.len);
	w->has_text = 0;
}

static void break_line(struct wrap *w)
{
	end_line(w);
	begin_line(w, w->rest);
}

/* Copies a word (no spaces) of n bytes, cutting it between characters
 * where it does not fit. */
static void put_word(struct wrap *w, const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t e = term_escape_len(s + i, n - i);
		if (e) {
			copy_escape(w, s + i, e);
			i += e;
			continue;
		}
		uint32_t cp;
		int len = term_utf8_decode(s + i, n - i, &cp);
		size_t cw = s[i] == '\t' ? 1 : (size_t)term_cp_width(cp);
		if (w->width > 0 && w->col + cw > (size_t)w->width && w->has_text)
			break_line(w);
		buf_add(w->out, s + i, (size_t)len);
		w->col += cw;
		w->has_text = 1;
		i += (size_t)len;
	}
}

static void wrap_line(struct wrap *w, const char *s, size_t n)
{
	size_t i = 0;
	/* leading spaces are kept as they are */
	while (i < n && s[i] == ' ') {
		if (w->width <= 0 || w->col < (size_t)w->width)
			buf_addc(w->out, ' '), w->col++;
		i++;
	}
	while (i < n) {
		size_t sp = i;
		while (i < n && s[i] == ' ')
			i++;
		size_t spaces = i - sp, ws = i;
		while (i < n && s[i] != ' ')
			i++;
		if (i == ws)
			break; /* trailing spaces */
		size_t ww = term_display_width(s + ws, i - ws);
		/* a word longer than a whole line starts where it is and is cut */
		if (w->width > 0 && w->has_text && w->col + spaces + ww > (size_t)w->width &&
		    ww + w->rest_w <= (size_t)w->width) {
			break_line(w);
		} else {
			for (size_t k = 0; k < spaces; k++)
				buf_addc(w->out, ' ');
			w->col += spaces;
		}
		put_word(w, s + ws, i - ws);
	}
}

void term_wrap(const char *s, size_t n, int width, const char *first_prefix,
               const char *rest_prefix, struct buf *out)
{
	struct wrap w = {out, width, rest_prefix, 0, BUF_INIT, 0, 0, 0};
	w.rest_w = rest_prefix ? term_display_width(rest_prefix, strlen(rest_prefix)) : 0;
	size_t i = 0;
	begin_line(&w, first_prefix);
	if (n > 0 && s[n - 1] == '\n')
		n--;
	for (;;) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - s) : n;
		wrap_line(&w, s + i, end - i);
		end_line(&w);
		if (!nl)
			break;
		i = end + 1;
		begin_line(&w, rest_prefix);
	}
	buf_free(&w.sgr);
}
