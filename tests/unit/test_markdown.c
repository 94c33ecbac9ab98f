/*
 * test_markdown — lib/term (widths, colour decision, wrapping),
 * lib/highlight (each language's token colours) and lib/markdown (every
 * block and inline kind, plain and coloured, wrapping, streaming) as
 * data: input, options, the exact expected text.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "highlight.h"
#include "markdown.h"
#include "t.h"
#include "term.h"

static char *md(const char *in, int width, int color)
{
	struct buf b = BUF_INIT;
	md_render(in, strlen(in), width, color, &b);
	return buf_detach(&b, NULL);
}

static char *wrap(const char *in, int width, const char *first, const char *rest)
{
	struct buf b = BUF_INIT;
	term_wrap(in, strlen(in), width, first, rest, &b);
	return buf_detach(&b, NULL);
}

static char *hl(enum hl_lang lang, const char *in)
{
	struct buf b = BUF_INIT;
	hl_code(lang, in, strlen(in), &b);
	return buf_detach(&b, NULL);
}

static char *strip(const char *s)
{
	struct buf b = BUF_INIT;
	term_strip_escapes(s, strlen(s), &b);
	buf_addc(&b, 0);
	return buf_detach(&b, NULL);
}

/* The widest line of s in display columns. */
static size_t widest(const char *s)
{
	size_t max = 0;
	while (*s) {
		size_t n = strcspn(s, "\n");
		size_t w = term_display_width(s, n);
		if (w > max)
			max = w;
		s += n + (s[n] == '\n');
	}
	return max;
}

static void test_width(void)
{
	T_INTEQ(term_display_width("abc", 3), 3, "ascii width");
	T_INTEQ(term_display_width("héllo", strlen("héllo")), 5, "latin-1 accent width");
	T_INTEQ(term_display_width("日本語", strlen("日本語")), 6, "CJK is 2 columns each");
	T_INTEQ(term_display_width("e\xCC\x81", 3), 1, "combining mark is 0 columns");
	T_INTEQ(term_display_width("\033[1;31mred\033[0m", 14), 3, "SGR counts 0");
	T_INTEQ(term_display_width("\033]8;;http://x\033\\a\033]8;;\033\\", 24), 1,
	        "OSC 8 link counts 0");
	T_INTEQ(term_display_width("🙂", 4), 2, "emoji is 2 columns");
	T_INTEQ(term_display_width("✎ ━", strlen("✎ ━")), 3, "pencil and box line are 1");
	T_INTEQ(term_display_width("\xff\xfe", 2), 2, "invalid bytes 1 each");
	uint32_t cp;
	T_INTEQ(term_utf8_decode("\xE2\x82", 2, &cp), 1, "cut sequence decodes 1 byte");
	T_INTEQ(cp, 0xFFFD, "cut sequence is U+FFFD");
	T_INTEQ(term_utf8_decode("\xED\xA0\x80", 3, &cp), 1, "surrogate refused");
}

static void test_color(void)
{
	enum term_color m = TERM_COLOR_AUTO;
	T_OK(term_parse_color("always", &m) == 0 && m == TERM_COLOR_ALWAYS, "parse always");
	T_OK(term_parse_color("never", &m) == 0 && m == TERM_COLOR_NEVER, "parse never");
	T_OK(term_parse_color("auto", &m) == 0 && m == TERM_COLOR_AUTO, "parse auto");
	T_OK(term_parse_color("sometimes", &m) < 0 && m == TERM_COLOR_AUTO, "parse bad");
	int fd = open("/dev/null", O_RDONLY);
	T_INTEQ(term_use_color(TERM_COLOR_ALWAYS, fd), 1, "always colours a non-tty");
	T_INTEQ(term_use_color(TERM_COLOR_AUTO, fd), 0, "auto: no colour on a non-tty");
	T_INTEQ(term_use_color(TERM_COLOR_NEVER, fd), 0, "never");
	setenv("COLUMNS", "123", 1);
	T_INTEQ(term_width(fd), 123, "width from $COLUMNS off a terminal");
	setenv("COLUMNS", "junk", 1);
	T_INTEQ(term_width(fd), 80, "width defaults to 80");
	unsetenv("COLUMNS");
	close(fd);
}

static void test_wrap(void)
{
	char *s = wrap("the quick brown fox jumps over the lazy dog", 10, NULL, NULL);
	T_STREQ(s, "the quick\nbrown fox\njumps over\nthe lazy\ndog\n", "wrap at spaces");
	free(s);
	s = wrap("abcdefghijklmnop", 6, "> ", "> ");
	T_STREQ(s, "> abcd\n> efgh\n> ijkl\n> mnop\n", "long word cut, prefix repeated");
	free(s);
	s = wrap("x abcdefghij", 6, NULL, NULL);
	T_STREQ(s, "x abcd\nefghij\n", "a word longer than a line starts where it is");
	free(s);
	s = wrap("one two three", 9, "• ", "  ");
	T_STREQ(s, "• one two\n  three\n", "hanging indent");
	free(s);
	s = wrap("    indented code here", 12, NULL, NULL);
	T_STREQ(s, "    indented\ncode here\n", "leading spaces kept");
	free(s);
	s = wrap("a\n\nb\n", 10, "│ ", "│ ");
	T_STREQ(s, "│ a\n│\n│ b\n", "hard breaks, blank line trimmed, final newline");
	free(s);
	s = wrap("", 10, "│ ", "│ ");
	T_STREQ(s, "│\n", "empty input is one trimmed line");
	free(s);
	s = wrap("\033[31mred words that wrap\033[0m done", 11, "- ", "- ");
	T_STREQ(s, "- \033[31mred words\033[0m\n- \033[31mthat wrap\033[0m\n- done\n",
	        "colour reset at the break and set again after the prefix");
	free(s);
	s = wrap("日本語日本語", 7, NULL, NULL);
	T_STREQ(s, "日本語\n日本語\n", "wide characters are not split");
	free(s);
	char long_line[301];
	memset(long_line, 'x', 300);
	long_line[300] = 0;
	for (int i = 9; i < 300; i += 10)
		long_line[i] = ' ';
	s = wrap(long_line, 80, NULL, "  ");
	T_OK(widest(s) <= 80, "300 columns wrap within 80 (widest %zu)", widest(s));
	free(s);
}

static void test_highlight(void)
{
	char *s = hl(HL_C, "int x = 42; /* c */ // d\n#include <x.h>\nreturn \"s\\\"q\";");
	T_STREQ(s,
	        HL_SGR_KEYWORD "int" HL_SGR_RESET " x = " HL_SGR_NUMBER "42" HL_SGR_RESET
	                       "; " HL_SGR_COMMENT "/* c */" HL_SGR_RESET " " HL_SGR_COMMENT
	                       "// d" HL_SGR_RESET "\n" HL_SGR_SPECIAL "#include" HL_SGR_RESET
	                       " <x.h>\n" HL_SGR_KEYWORD "return" HL_SGR_RESET " " HL_SGR_STRING
	                       "\"s\\\"q\"" HL_SGR_RESET ";",
	        "C tokens");
	free(s);
	s = hl(HL_C, "/* a\nb */x");
	T_STREQ(s, HL_SGR_COMMENT "/* a" HL_SGR_RESET "\n" HL_SGR_COMMENT "b */" HL_SGR_RESET "x",
	        "a comment over two lines is closed and reopened at the newline");
	free(s);
	s = hl(HL_SH, "if [ -n \"$X\" ]; then echo 'a#b' # note\nfi");
	T_STREQ(s,
	        HL_SGR_KEYWORD "if" HL_SGR_RESET " [ -n " HL_SGR_STRING "\"$X\"" HL_SGR_RESET
	                       " ]; " HL_SGR_KEYWORD "then" HL_SGR_RESET " echo " HL_SGR_STRING
	                       "'a#b'" HL_SGR_RESET " " HL_SGR_COMMENT "# note" HL_SGR_RESET
	                       "\n" HL_SGR_KEYWORD "fi" HL_SGR_RESET,
	        "shell tokens");
	free(s);
	s = hl(HL_SH, "echo $HOME ${X:-y}");
	T_STREQ(s,
	        "echo " HL_SGR_SPECIAL "$HOME" HL_SGR_RESET " " HL_SGR_SPECIAL
	        "${X:-y}" HL_SGR_RESET,
	        "shell variables");
	free(s);
	s = hl(HL_PYTHON, "@dec\ndef f(x):\n    return r'a' + \"\"\"b\nc\"\"\"  # k");
	T_STREQ(s,
	        HL_SGR_SPECIAL "@dec" HL_SGR_RESET "\n" HL_SGR_KEYWORD "def" HL_SGR_RESET
	                       " f(x):\n    " HL_SGR_KEYWORD "return" HL_SGR_RESET " " HL_SGR_STRING
	                       "r'a'" HL_SGR_RESET " + " HL_SGR_STRING "\"\"\"b" HL_SGR_RESET
	                       "\n" HL_SGR_STRING "c\"\"\"" HL_SGR_RESET "  " HL_SGR_COMMENT
	                       "# k" HL_SGR_RESET,
	        "python tokens");
	free(s);
	s = hl(HL_JS, "const s = `a${b}`; let n = 0x1F;");
	T_STREQ(s,
	        HL_SGR_KEYWORD "const" HL_SGR_RESET " s = " HL_SGR_STRING "`a${b}`" HL_SGR_RESET
	                       "; " HL_SGR_KEYWORD "let" HL_SGR_RESET " n = " HL_SGR_NUMBER
	                       "0x1F" HL_SGR_RESET ";",
	        "js tokens");
	free(s);
	s = hl(HL_JSON, "{\"k\": [1, -2.5e3, true, \"v\"]}");
	T_STREQ(s,
	        "{" HL_SGR_SPECIAL "\"k\"" HL_SGR_RESET ": [" HL_SGR_NUMBER "1" HL_SGR_RESET
	        ", " HL_SGR_NUMBER "-2.5e3" HL_SGR_RESET ", " HL_SGR_KEYWORD "true" HL_SGR_RESET
	        ", " HL_SGR_STRING "\"v\"" HL_SGR_RESET "]}",
	        "json tokens");
	free(s);
	s = hl(HL_DIFF, "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-old\n+new\n ctx");
	T_STREQ(s,
	        HL_SGR_HEADER "--- a/x" HL_SGR_RESET "\n" HL_SGR_HEADER "+++ b/x" HL_SGR_RESET
	                      "\n" HL_SGR_SPECIAL "@@ -1 +1 @@" HL_SGR_RESET "\n" HL_SGR_REMOVED
	                      "-old" HL_SGR_RESET "\n" HL_SGR_ADDED "+new" HL_SGR_RESET "\n ctx",
	        "diff lines");
	free(s);
	s = hl(HL_C, "\"unterminated");
	T_STREQ(s, HL_SGR_STRING "\"unterminated" HL_SGR_RESET, "unterminated string ends");
	free(s);
	T_INTEQ(hl_lang_of("C"), HL_C, "info C");
	T_INTEQ(hl_lang_of("bash title=x"), HL_SH, "info bash with attributes");
	T_INTEQ(hl_lang_of("tsx"), HL_JS, "info tsx");
	T_INTEQ(hl_lang_of("py"), HL_PYTHON, "info py");
	T_INTEQ(hl_lang_of("patch"), HL_DIFF, "info patch");
	T_INTEQ(hl_lang_of("cobol"), HL_NONE, "info unknown");
	T_INTEQ(hl_lang_of(""), HL_NONE, "info empty");
	/* stripping the colours gives the code back, whatever the language */
	const char *code = "x = \"a\\\"b\" # c\n/* d */ 'e' `f` 12.5e-3 $V @g";
	for (int l = HL_NONE; l <= HL_DIFF; l++) {
		s = hl((enum hl_lang)l, code);
		char *p = strip(s);
		T_STREQ(p, code, "highlight %s keeps the bytes", hl_lang_name((enum hl_lang)l));
		free(p);
		free(s);
	}
}

struct md_case {
	const char *name, *in;
	int width, color;
	const char *want;
};

static const struct md_case md_cases[] = {
    {"heading plain", "# Title\n\n## Sub *x*", 80, 0, "# Title\n\n## Sub *x*\n"},
    {"heading colour", "# Title\n\n## Sub", 80, 1,
     MD_SGR_H1 "Title\033[0m\n\n" MD_SGR_HEADING "Sub\033[0m\n"},
    {"inline plain", "a *b* **c** `d` [e](http://f) <http://g>", 80, 0,
     "a *b* **c** `d` e (http://f) http://g\n"},
    {"inline colour", "a *b* **c** `d` [e](http://f)", 80, 1,
     "a " MD_SGR_EMPH "b\033[0m " MD_SGR_STRONG "c\033[0m " MD_SGR_CODE "d\033[0m " MD_SGR_LINK
     "e\033[0m " MD_SGR_DIM "(http://f)\033[0m\n"},
    {"nested style keeps the outer one", "**a *b* c**", 80, 1,
     MD_SGR_STRONG "a " MD_SGR_EMPH "b\033[0m" MD_SGR_STRONG " c\033[0m\n"},
    {"image", "![logo](x.png)", 80, 0, "[image: logo] (x.png)\n"},
    {"paragraphs wrap", "one two three four five six seven\n\nnext", 12, 0,
     "one two\nthree four\nfive six\nseven\n\nnext\n"},
    {"soft and hard breaks", "a\nb  \nc", 80, 0, "a b\nc\n"},
    {"tight bullets", "- a\n- b\n  - c\n  - d\n- e", 80, 0, "• a\n• b\n  ◦ c\n  ◦ d\n• e\n"},
    {"loose ordered from 3", "3. a\n\n4. b", 80, 0, "3. a\n\n4. b\n"},
    {"list item wraps under its text", "- aaa bbb ccc", 9, 0, "• aaa bbb\n  ccc\n"},
    {"quote", "> q1\n>\n> q2", 80, 0, "│ q1\n│\n│ q2\n"},
    {"quote with list", "> - a\n> - b", 80, 0, "│ • a\n│ • b\n"},
    {"code plain", "```c\nint x;\n\tx = 1;\n```", 80, 0, "```c\nint x;\n    x = 1;\n```\n"},
    {"code colour", "```c\nint x;\n```", 80, 1,
     MD_SGR_DIM "```c\033[0m\n" HL_SGR_KEYWORD "int" HL_SGR_RESET " x;\n" MD_SGR_DIM
                "```\033[0m\n"},
    {"indented code", "    raw <b>", 80, 0, "```\nraw <b>\n```\n"},
    {"code in a list item", "1. see\n\n   ```sh\n   ls\n   ```", 80, 0,
     "1. see\n\n   ```sh\n   ls\n   ```\n"},
    {"rule", "a\n\n---\n\nb", 10, 0, "a\n\n──────────\n\nb\n"},
    {"table lines kept", "| a | b |\n|---|---|\n| 1 | 2 |", 80, 0,
     "| a | b |\n|---|---|\n| 1 | 2 |\n"},
    {"html block", "<div>\nx\n</div>", 80, 0, "<div>\nx\n</div>\n"},
    {"escape sequences neutralised", "a \033[2J b", 80, 0, "a \xEF\xBF\xBD[2J b\n"},
    {"empty", "", 80, 0, ""},
};

static void test_markdown(void)
{
	for (size_t i = 0; i < sizeof md_cases / sizeof *md_cases; i++) {
		const struct md_case *c = &md_cases[i];
		char *s = md(c->in, c->width, c->color);
		T_STREQ(s, c->want, "markdown: %s", c->name);
		free(s);
	}
	/* every line within the width, whatever the block */
	const char *doc = "# A heading that is quite long indeed for a narrow terminal\n\n"
	                  "- a list item with enough words to wrap several times over\n"
	                  "  - nested and also long enough to wrap around the edge\n\n"
	                  "> quoted text that goes on and on and on and on and on\n\n"
	                  "```\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n```\n";
	for (int color = 0; color <= 1; color++) {
		char *s = md(doc, 20, color);
		T_OK(widest(s) <= 20, "markdown width 20 (colour %d): widest %zu", color,
		     widest(s));
		free(s);
	}
}

static void test_stream(void)
{
	const char *text =
	    "# Plan\n\nFirst paragraph\nstill first.\n\n```c\nint a;\n\nint b;\n```\n\n"
	    "- one\n- two\n\nlast";
	char *whole = md(text, 80, 0);
	/* fed one byte at a time: blocks come out as they finish */
	struct md_stream s;
	struct buf out = BUF_INIT;
	md_stream_init(&s, 80, 0);
	size_t before_first = 1;
	int code_early = 0;
	for (size_t i = 0; text[i]; i++) {
		md_stream_feed(&s, text + i, 1, &out);
		if (!strncmp(text + i, "\n\nFirst", 7))
			before_first = out.len;
		if (!strncmp(text + i, "- one", 5))
			code_early = out.p && strstr(out.p, "int b;") && !strstr(out.p, "one");
	}
	T_INTEQ(before_first, 0, "nothing shown before the heading's block is finished");
	T_OK(code_early,
	     "the code block (blank line inside) is shown once finished, before the list");
	T_OK(md_stream_pending(&s), "the last block is held back");
	md_stream_end(&s, &out);
	buf_addc(&out, 0);
	T_STREQ(out.p, whole, "streamed byte by byte == rendered whole");
	T_OK(!md_stream_pending(&s), "nothing pending after the end");
	buf_free(&out);
	md_stream_free(&s);
	free(whole);
}

int main(void)
{
	test_width();
	test_color();
	test_wrap();
	test_highlight();
	test_markdown();
	test_stream();
	return t_done();
}
