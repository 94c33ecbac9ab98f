/*
 * markdown — an agent's Markdown as terminal text, through libcmark
 * (CommonMark): headings, emphasis, strong, inline code, links (text and
 * URL), images (alt and URL), block quotes, bullet and ordered lists
 * (nested), thematic breaks, fenced and indented code blocks coloured by
 * lib/highlight, HTML shown as written, and pipe tables kept line by line.
 * Text is wrapped to a given width (lib/term), prefixes (list markers,
 * quote bars) repeated on every wrapped line.
 *
 * Output, without colour ("plain", stable for tests and pipes):
 *	# Heading            headings keep their '#' marks
 *	*emph* **strong** `code` text (https://url)
 *	• item / 1. item     list markers; nested lists indented 2 more
 *	│ quoted             block quotes
 *	```c ... ```         code blocks between their fences, code as written
 *	────────             thematic breaks
 * With colour the marks of headings, emphasis, strong and inline code are
 * replaced by SGR attributes (MD_SGR_*), fences are dim and code is
 * highlighted.  Blocks are separated by one blank line; the output ends
 * with '\n' and never with a blank line.
 *
 * Guarantees: control characters of the input (ESC included) are shown
 * as U+FFFD, never sent to the terminal, so a model cannot drive it;
 * tabs in code become spaces (4-column stops); nothing is ever refused:
 * input cmark cannot parse is shown wrapped as plain text.
 *
 * Ownership: output is appended to a struct buf the caller owns; struct
 * md_stream owns its pending text, released by md_stream_free().
 */
#ifndef BL_MARKDOWN_H
#define BL_MARKDOWN_H

#include <stddef.h>

#include "util.h"

#define MD_SGR_H1 "\033[1;4m"    /* bold, underlined */
#define MD_SGR_HEADING "\033[1m" /* h2..h6: bold */
#define MD_SGR_EMPH "\033[3m"
#define MD_SGR_STRONG "\033[1m"
#define MD_SGR_CODE "\033[36m"
#define MD_SGR_LINK "\033[4m"
#define MD_SGR_DIM "\033[2m" /* URLs, fences, quote bars, rules */

/* Renders n bytes of Markdown, wrapped to width columns (< 1: no
 * wrapping), coloured when color is nonzero; appends to out.  0, or -1
 * when cmark failed (then the text was appended wrapped, unrendered). */
int md_render(const char *text, size_t n, int width, int color, struct buf *out);

/*
 * Streaming: text arriving in pieces (delta lines) is rendered one
 * finished block at a time.  A block is finished when a blank line
 * outside a code fence is followed by a line that starts in column 0;
 * until then it is held back.  The pieces rendered by successive feeds
 * are separated by one blank line, so feeding a text in any split and
 * ending gives the same output as md_render() on the whole text, except
 * where a list or quote was cut by a blank line (then its parts are
 * rendered as separate blocks).
 */
struct md_stream {
	int width, color;
	struct buf pending; /* text received but not yet rendered */
	int shown;          /* blocks rendered since init or the last end */
};

/* Sets up s; nothing is allocated until text is fed. */
void md_stream_init(struct md_stream *s, int width, int color);
/* Adds text; appends to out whatever blocks it finished. */
void md_stream_feed(struct md_stream *s, const char *text, size_t n, struct buf *out);
/* Renders what is left and starts over (a new message). */
void md_stream_end(struct md_stream *s, struct buf *out);
/* 1 when text was fed and not yet rendered. */
int md_stream_pending(const struct md_stream *s);
/* Drops the pending text without rendering it. */
void md_stream_reset(struct md_stream *s);
void md_stream_free(struct md_stream *s);

#endif
