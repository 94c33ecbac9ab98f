/*
 * markdown — CommonMark (libcmark's tree) to terminal text (see
 * markdown.h).  Blocks are walked with the prefix of their first line
 * and the prefix of every later line (list markers and their indent,
 * quote bars); inline content is built with its SGR attributes into one
 * buffer per block and wrapped by term_wrap.
 *
 * Guarantees: the cmark tree is freed on every path; the inline style
 * stack is bounded (deeper nesting is shown without more attributes);
 * every byte written comes from the input through the sanitizers below
 * or from the fixed marks and SGR sequences of this file.
 */
#include "markdown.h"

#include <cmark.h>
#include <stdlib.h>
#include <string.h>

#include "highlight.h"
#include "term.h"

#define MD_RESET "\033[0m"
#define STYLE_MAX 16
#define RULE_MAX 40

struct md {
	int width, color;
	struct buf *out;
	const char *style[STYLE_MAX];
	int nstyle, list_depth;
};

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* Inline text: control characters replaced, tabs as spaces, newlines
 * kept. */
static void add_sane(struct buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\t')
			buf_addc(b, ' ');
		else if ((c < 0x20 && c != '\n') || c == 0x7F)
			buf_adds(b, replacement);
		else
			buf_addc(b, (char)c);
	}
}

/* Code: tabs to 4-column stops, control characters replaced. */
static void add_code(struct buf *b, const char *s, size_t n)
{
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') {
			buf_addc(b, '\n');
			col = 0;
		} else if (c == '\t') {
			do
				buf_addc(b, ' ');
			while (++col % 4);
		} else if (c < 0x20 || c == 0x7F) {
			buf_adds(b, replacement);
			col++;
		} else {
			buf_addc(b, (char)c);
			if ((c & 0xC0) != 0x80)
				col++;
		}
	}
}

static void push(struct md *m, struct buf *b, const char *sgr)
{
	if (m->nstyle < STYLE_MAX)
		m->style[m->nstyle] = sgr;
	m->nstyle++;
	if (m->color && m->nstyle <= STYLE_MAX)
		buf_adds(b, sgr);
}

static void pop(struct md *m, struct buf *b)
{
	if (m->nstyle > 0)
		m->nstyle--;
	if (!m->color || m->nstyle >= STYLE_MAX)
		return;
	buf_adds(b, MD_RESET);
	for (int i = 0; i < m->nstyle; i++)
		buf_adds(b, m->style[i]);
}

/* The plain text of an inline subtree (for comparing a link's text to
 * its URL). */
static void plain_text(cmark_node *n, struct buf *b)
{
	for (cmark_node *c = cmark_node_first_child(n); c; c = cmark_node_next(c)) {
		const char *lit = cmark_node_get_literal(c);
		if (lit && (cmark_node_get_type(c) == CMARK_NODE_TEXT ||
		            cmark_node_get_type(c) == CMARK_NODE_CODE))
			buf_adds(b, lit);
		else
			plain_text(c, b);
	}
}

static void inlines(struct md *m, cmark_node *parent, struct buf *b, int table);

static void url_after(struct md *m, cmark_node *n, struct buf *b)
{
	const char *url = cmark_node_get_url(n);
	if (!url || !*url)
		return;
	struct buf t = BUF_INIT;
	plain_text(n, &t);
	const char *text = t.p ? t.p : "";
	int same = !strcmp(text, url) || (!strncmp(url, "mailto:", 7) && !strcmp(text, url + 7));
	buf_free(&t);
	if (same && cmark_node_get_type(n) == CMARK_NODE_LINK)
		return;
	buf_addc(b, ' ');
	push(m, b, MD_SGR_DIM);
	buf_addc(b, '(');
	add_sane(b, url, strlen(url));
	buf_addc(b, ')');
	pop(m, b);
}

static void inline_node(struct md *m, cmark_node *n, struct buf *b, int table)
{
	const char *lit = cmark_node_get_literal(n);
	switch (cmark_node_get_type(n)) {
	case CMARK_NODE_TEXT:
	case CMARK_NODE_HTML_INLINE:
	case CMARK_NODE_CUSTOM_INLINE:
		if (lit)
			add_sane(b, lit, strlen(lit));
		inlines(m, n, b, table);
		break;
	case CMARK_NODE_SOFTBREAK:
		buf_addc(b, table ? '\n' : ' ');
		break;
	case CMARK_NODE_LINEBREAK:
		buf_addc(b, '\n');
		break;
	case CMARK_NODE_CODE:
		push(m, b, MD_SGR_CODE);
		if (!m->color)
			buf_addc(b, '`');
		if (lit)
			add_sane(b, lit, strlen(lit));
		if (!m->color)
			buf_addc(b, '`');
		pop(m, b);
		break;
	case CMARK_NODE_EMPH:
		push(m, b, MD_SGR_EMPH);
		if (!m->color)
			buf_addc(b, '*');
		inlines(m, n, b, table);
		if (!m->color)
			buf_addc(b, '*');
		pop(m, b);
		break;
	case CMARK_NODE_STRONG:
		push(m, b, MD_SGR_STRONG);
		if (!m->color)
			buf_adds(b, "**");
		inlines(m, n, b, table);
		if (!m->color)
			buf_adds(b, "**");
		pop(m, b);
		break;
	case CMARK_NODE_LINK:
		push(m, b, MD_SGR_LINK);
		inlines(m, n, b, table);
		pop(m, b);
		url_after(m, n, b);
		break;
	case CMARK_NODE_IMAGE:
		buf_adds(b, "[image: ");
		inlines(m, n, b, table);
		buf_addc(b, ']');
		url_after(m, n, b);
		break;
	default:
		inlines(m, n, b, table);
		break;
	}
}

static void inlines(struct md *m, cmark_node *parent, struct buf *b, int table)
{
	for (cmark_node *c = cmark_node_first_child(parent); c; c = cmark_node_next(c))
		inline_node(m, c, b, table);
}

/* A blank line inside the current containers: their prefix, trimmed. */
static void blank(struct md *m, const char *rest)
{
	size_t n = strlen(rest);
	while (n > 0 && rest[n - 1] == ' ')
		n--;
	buf_add(m->out, rest, n);
	buf_addc(m->out, '\n');
}

static void wrap(struct md *m, const struct buf *b, const char *first, const char *rest)
{
	term_wrap(b->p ? b->p : "", b->len, m->width, first, rest, m->out);
}

static void blocks(struct md *m, cmark_node *parent, const char *first, const char *rest,
                   int tight);

static void code_block(struct md *m, cmark_node *n, const char *first, const char *rest)
{
	const char *info = cmark_node_get_fence_info(n), *lit = cmark_node_get_literal(n);
	struct buf fence = BUF_INIT, code = BUF_INIT, shown = BUF_INIT;
	if (m->color)
		buf_adds(&fence, MD_SGR_DIM);
	buf_adds(&fence, "```");
	if (info)
		add_sane(&fence, info, strcspn(info, "\n"));
	if (m->color)
		buf_adds(&fence, MD_RESET);
	wrap(m, &fence, first, rest);
	add_code(&code, lit ? lit : "", lit ? strlen(lit) : 0);
	if (code.len && code.p[code.len - 1] == '\n')
		code.len--;
	if (code.len) {
		enum hl_lang lang = hl_lang_of(info);
		if (m->color && lang != HL_NONE)
			hl_code(lang, code.p, code.len, &shown);
		else
			buf_add(&shown, code.p, code.len);
		wrap(m, &shown, rest, rest);
	}
	buf_reset(&fence);
	buf_adds(&fence, m->color ? MD_SGR_DIM "```" MD_RESET : "```");
	wrap(m, &fence, rest, rest);
	buf_free(&fence);
	buf_free(&code);
	buf_free(&shown);
}

static void list(struct md *m, cmark_node *n, const char *first, const char *rest)
{
	static const char *const bullets[] = {"•", "◦", "▪"};
	int ordered = cmark_node_get_list_type(n) == CMARK_ORDERED_LIST;
	int tight = cmark_node_get_list_tight(n), start = cmark_node_get_list_start(n);
	char delim = cmark_node_get_list_delim(n) == CMARK_PAREN_DELIM ? ')' : '.';
	int i = 0;
	m->list_depth++;
	for (cmark_node *item = cmark_node_first_child(n); item;
	     item = cmark_node_next(item), i++) {
		char marker[32];
		if (ordered)
			snprintf(marker, sizeof marker, "%d%c", start + i, delim);
		else
			snprintf(marker, sizeof marker, "%s", bullets[(m->list_depth - 1) % 3]);
		size_t mw = term_display_width(marker, strlen(marker));
		if (i > 0 && !tight)
			blank(m, rest);
		char *f = xasprintf("%s%s ", i == 0 ? first : rest, marker);
		char *r = xasprintf("%s%*s", rest, (int)mw + 1, "");
		if (cmark_node_first_child(item))
			blocks(m, item, f, r, tight);
		else
			blank(m, f);
		free(f);
		free(r);
	}
	m->list_depth--;
}

static int is_table(cmark_node *para)
{
	cmark_node *c = cmark_node_first_child(para);
	const char *lit = c ? cmark_node_get_literal(c) : NULL;
	return c && cmark_node_get_type(c) == CMARK_NODE_TEXT && lit && lit[0] == '|';
}

static void block(struct md *m, cmark_node *n, const char *first, const char *rest, int tight)
{
	struct buf b = BUF_INIT;
	const char *lit;
	switch (cmark_node_get_type(n)) {
	case CMARK_NODE_PARAGRAPH:
		inlines(m, n, &b, is_table(n));
		wrap(m, &b, first, rest);
		break;
	case CMARK_NODE_HEADING: {
		int level = cmark_node_get_heading_level(n);
		if (!m->color)
			buf_addf(&b, "%.*s ", level, "######");
		push(m, &b, level == 1 ? MD_SGR_H1 : MD_SGR_HEADING);
		inlines(m, n, &b, 0);
		pop(m, &b);
		wrap(m, &b, first, rest);
		break;
	}
	case CMARK_NODE_CODE_BLOCK:
		code_block(m, n, first, rest);
		break;
	case CMARK_NODE_HTML_BLOCK:
	case CMARK_NODE_CUSTOM_BLOCK:
		lit = cmark_node_get_literal(n);
		add_code(&b, lit ? lit : "", lit ? strlen(lit) : 0);
		wrap(m, &b, first, rest);
		break;
	case CMARK_NODE_THEMATIC_BREAK: {
		int avail = m->width > 0 ? m->width - (int)term_display_width(first, strlen(first))
		                         : RULE_MAX;
		avail = avail > RULE_MAX ? RULE_MAX : avail < 3 ? 3 : avail;
		push(m, &b, MD_SGR_DIM);
		for (int i = 0; i < avail; i++)
			buf_adds(&b, "─");
		pop(m, &b);
		wrap(m, &b, first, rest);
		break;
	}
	case CMARK_NODE_BLOCK_QUOTE: {
		const char *bar = m->color ? MD_SGR_DIM "│" MD_RESET " " : "│ ";
		char *f = xasprintf("%s%s", first, bar), *r = xasprintf("%s%s", rest, bar);
		blocks(m, n, f, r, 0);
		free(f);
		free(r);
		break;
	}
	case CMARK_NODE_LIST:
		list(m, n, first, rest);
		break;
	default:
		blocks(m, n, first, rest, tight);
		break;
	}
	buf_free(&b);
}

static void blocks(struct md *m, cmark_node *parent, const char *first, const char *rest, int tight)
{
	int i = 0;
	for (cmark_node *c = cmark_node_first_child(parent); c; c = cmark_node_next(c), i++) {
		if (i > 0 && !tight)
			blank(m, rest);
		block(m, c, i == 0 ? first : rest, rest, tight);
	}
}

int md_render(const char *text, size_t n, int width, int color, struct buf *out)
{
	struct md m = {width, color, out, {0}, 0, 0};
	cmark_node *doc = cmark_parse_document(text, n, CMARK_OPT_DEFAULT);
	if (!doc) {
		struct buf b = BUF_INIT;
		add_sane(&b, text, n);
		wrap(&m, &b, "", "");
		buf_free(&b);
		return -1;
	}
	blocks(&m, doc, "", "", 0);
	cmark_node_free(doc);
	return 0;
}

void md_stream_init(struct md_stream *s, int width, int color)
{
	memset(s, 0, sizeof *s);
	s->width = width;
	s->color = color;
}

static void render_piece(struct md_stream *s, const char *text, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n && (text[i] == '\n' || text[i] == ' ' || text[i] == '\t' || text[i] == '\r'))
		i++;
	if (i == n)
		return;
	if (s->shown)
		buf_addc(out, '\n');
	md_render(text, n, s->width, s->color, out);
	s->shown++;
}

/* A code fence line: up to 3 spaces, then 3 or more ` or ~.  Its
 * character and length in *ch, *len. */
static int fence_of(const char *s, size_t n, char *ch, size_t *len)
{
	size_t i = 0, k;
	while (i < n && i < 3 && s[i] == ' ')
		i++;
	if (i >= n || (s[i] != '`' && s[i] != '~'))
		return 0;
	for (k = i; k < n && s[k] == s[i]; k++)
		;
	if (k - i < 3)
		return 0;
	*ch = s[i];
	*len = k - i;
	return 1;
}

/* The offset of the last place the pending text may be cut at (see
 * markdown.h), or 0. */
static size_t last_cut(const struct buf *p)
{
	size_t i = 0, cut = 0, fence_len = 0;
	int in_fence = 0, prev_blank = 0, content = 0;
	char fence_ch = 0;
	while (i < p->len) {
		const char *s = p->p + i;
		if (!in_fence && prev_blank && content && *s != ' ' && *s != '\t' && *s != '\n')
			cut = i;
		const char *nl = memchr(s, '\n', p->len - i);
		if (!nl)
			break;
		size_t n = (size_t)(nl - s), k = 0;
		while (k < n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
			k++;
		char ch;
		size_t len;
		if (k == n) {
			prev_blank = !in_fence;
		} else {
			prev_blank = 0;
			content = 1;
			if (fence_of(s, n, &ch, &len)) {
				if (!in_fence)
					in_fence = 1, fence_ch = ch, fence_len = len;
				else if (ch == fence_ch && len >= fence_len &&
				         k + len + strspn(s + k + len, " \t\r") >= n)
					in_fence = 0;
			}
		}
		i += n + 1;
	}
	return cut;
}

void md_stream_feed(struct md_stream *s, const char *text, size_t n, struct buf *out)
{
	buf_add(&s->pending, text, n);
	size_t cut = last_cut(&s->pending);
	if (!cut)
		return;
	render_piece(s, s->pending.p, cut, out);
	memmove(s->pending.p, s->pending.p + cut, s->pending.len - cut);
	s->pending.len -= cut;
	s->pending.p[s->pending.len] = '\0';
}

void md_stream_end(struct md_stream *s, struct buf *out)
{
	if (s->pending.len)
		render_piece(s, s->pending.p, s->pending.len, out);
	md_stream_reset(s);
}

int md_stream_pending(const struct md_stream *s)
{
	return s->pending.len > 0;
}

void md_stream_reset(struct md_stream *s)
{
	buf_reset(&s->pending);
	s->shown = 0;
}

void md_stream_free(struct md_stream *s)
{
	buf_free(&s->pending);
	s->shown = 0;
}
