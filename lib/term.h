/*
 * term — what a program writing for a person at a terminal needs to
 * know and do: how wide the terminal is, whether to use colour, how
 * many columns a UTF-8 string takes on screen, and word wrapping that
 * keeps ANSI escape sequences (SGR colours) intact.
 *
 * Guarantees: nothing here changes process-wide state (no setlocale, no
 * terminal modes); display widths come from a built-in table (wide East
 * Asian ranges and emoji 2 columns, combining marks and zero-width
 * characters 0, everything else 1), so the result does not depend on the
 * locale; escape sequences (CSI "ESC [ ... final", OSC "ESC ] ... BEL or
 * ESC \") count 0 columns; invalid UTF-8 counts 1 column per byte.
 *
 * Ownership: functions taking a struct buf append to it; the caller owns
 * it.  No function keeps a pointer to its arguments.
 */
#ifndef BL_TERM_H
#define BL_TERM_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum term_color { TERM_COLOR_AUTO, TERM_COLOR_ALWAYS, TERM_COLOR_NEVER };

/* Parses "auto", "always" or "never" (also "yes"/"no"/"force"/"none").
 * 0, or -1 when s names no mode (*out unchanged). */
int term_parse_color(const char *s, enum term_color *out);

/* Whether to write colour on fd: ALWAYS yes, NEVER no; AUTO yes when fd
 * is a terminal, NO_COLOR is unset or empty and TERM is not "dumb". */
int term_use_color(enum term_color mode, int fd);

/* Columns of the terminal on fd (TIOCGWINSZ), else $COLUMNS, else 80;
 * always within 10..1000. */
int term_width(int fd);

/* Decodes one UTF-8 character at s (n bytes available, n > 0) into *cp
 * and returns its length (1..4); an invalid or cut sequence gives 1 and
 * *cp = 0xFFFD. */
int term_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Columns a code point takes: 0, 1 or 2 (control characters 0). */
int term_cp_width(uint32_t cp);

/* Length in bytes of the escape sequence starting at s (s[0] == ESC), or
 * 0 when s does not start one. */
size_t term_escape_len(const char *s, size_t n);

/* Display columns of n bytes of s (escape sequences 0, a tab 1). */
size_t term_display_width(const char *s, size_t n);

/* Appends s without its escape sequences. */
void term_strip_escapes(const char *s, size_t n, struct buf *out);

/*
 * Word wrapping.  Appends s (n bytes; '\n' is a hard break) to out as
 * lines of at most width display columns each, every line ending in
 * '\n'.  The first line starts with first_prefix, every later one with
 * rest_prefix (either may be NULL or hold SGR sequences; they count
 * toward width).  Lines break at spaces (the space is dropped); a word
 * longer than a whole line starts where it is and is cut between
 * characters.  Leading spaces of
 * an input line are kept (indented code stays indented).  SGR sequences
 * stay where they were: at a break, colours in effect are reset before
 * the '\n' and set again after the next prefix, so a prefix never takes
 * the colour of the text.  Empty input gives one line holding the prefix
 * with its trailing spaces removed.  width < 1 means no limit.
 */
void term_wrap(const char *s, size_t n, int width, const char *first_prefix,
               const char *rest_prefix, struct buf *out);

#endif
