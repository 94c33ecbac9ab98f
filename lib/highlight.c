/*
 * highlight — one table-driven lexer for the C-like, shell, Python,
 * JavaScript/TypeScript and JSON families, and a line classifier for
 * diffs (see highlight.h).
 *
 * Guarantees: every byte of the input is copied once, in order; the
 * lexer always advances, so any input ends; lines never carry an open
 * colour past their '\n'.
 */
#include "highlight.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const kw_c[] = {"_Alignas",
                                   "_Alignof",
                                   "_Atomic",
                                   "_Bool",
                                   "_Generic",
                                   "_Noreturn",
                                   "_Static_assert",
                                   "_Thread_local",
                                   "alignas",
                                   "auto",
                                   "bool",
                                   "break",
                                   "case",
                                   "catch",
                                   "char",
                                   "class",
                                   "const",
                                   "constexpr",
                                   "continue",
                                   "default",
                                   "delete",
                                   "do",
                                   "double",
                                   "else",
                                   "enum",
                                   "explicit",
                                   "extern",
                                   "false",
                                   "float",
                                   "for",
                                   "friend",
                                   "goto",
                                   "if",
                                   "inline",
                                   "int",
                                   "int16_t",
                                   "int32_t",
                                   "int64_t",
                                   "int8_t",
                                   "long",
                                   "namespace",
                                   "new",
                                   "noexcept",
                                   "nullptr",
                                   "operator",
                                   "private",
                                   "protected",
                                   "public",
                                   "register",
                                   "restrict",
                                   "return",
                                   "short",
                                   "signed",
                                   "size_t",
                                   "sizeof",
                                   "ssize_t",
                                   "static",
                                   "static_assert",
                                   "struct",
                                   "switch",
                                   "template",
                                   "this",
                                   "throw",
                                   "true",
                                   "try",
                                   "typedef",
                                   "typename",
                                   "uint16_t",
                                   "uint32_t",
                                   "uint64_t",
                                   "uint8_t",
                                   "union",
                                   "unsigned",
                                   "using",
                                   "virtual",
                                   "void",
                                   "volatile",
                                   "while",
                                   NULL};

static const char *const kw_sh[] = {"break",  "case",     "continue", "declare",  "do",    "done",
                                    "elif",   "else",     "esac",     "eval",     "exec",  "exit",
                                    "export", "fi",       "for",      "function", "if",    "in",
                                    "local",  "readonly", "return",   "select",   "set",   "shift",
                                    "then",   "trap",     "unset",    "until",    "while", NULL};

static const char *const kw_py[] = {
    "False",  "None",     "True",   "and",  "as",   "assert", "async",  "await",    "break", "case",
    "class",  "continue", "def",    "del",  "elif", "else",   "except", "finally",  "for",   "from",
    "global", "if",       "import", "in",   "is",   "lambda", "match",  "nonlocal", "not",   "or",
    "pass",   "raise",    "return", "self", "try",  "while",  "with",   "yield",    NULL};

static const char *const kw_js[] = {
    "abstract",   "any",       "as",       "async",      "await",     "boolean",  "break",
    "case",       "catch",     "class",    "const",      "continue",  "debugger", "declare",
    "default",    "delete",    "do",       "else",       "enum",      "export",   "extends",
    "false",      "finally",   "for",      "from",       "function",  "get",      "if",
    "implements", "import",    "in",       "instanceof", "interface", "keyof",    "let",
    "namespace",  "never",     "new",      "null",       "number",    "of",       "private",
    "protected",  "public",    "readonly", "return",     "set",       "static",   "string",
    "super",      "switch",    "this",     "throw",      "true",      "try",      "type",
    "typeof",     "undefined", "unknown",  "var",        "void",      "while",    "with",
    "yield",      NULL};

static const char *const kw_json[] = {"false", "null", "true", NULL};

struct lang_def {
	const char *const *keywords;
	const char *line_comment; /* "//", "#" */
	const char *block_open, *block_close;
	const char *quotes;   /* characters that open a string */
	int multiline_quotes; /* strings may span lines (sh, JS templates: see below) */
	int preproc;          /* '#' directives at the start of a line (C) */
	int shell;            /* $VAR, '#' comments only at a word start, no escapes in '' */
	int python;           /* triple quotes, string prefixes, @decorators */
	int json;             /* keys (a string before ':') coloured apart */
};

static const struct lang_def def_c = {kw_c, "//", "/*", "*/", "\"'", 0, 1, 0, 0, 0};
static const struct lang_def def_sh = {kw_sh, "#", NULL, NULL, "\"'", 1, 0, 1, 0, 0};
static const struct lang_def def_py = {kw_py, "#", NULL, NULL, "\"'", 0, 0, 0, 1, 0};
static const struct lang_def def_js = {kw_js, "//", "/*", "*/", "\"'`", 0, 0, 0, 0, 0};
static const struct lang_def def_json = {kw_json, NULL, NULL, NULL, "\"", 0, 0, 0, 0, 1};

struct lang_name {
	const char *name;
	enum hl_lang lang;
};

static const struct lang_name names[] = {
    {"c", HL_C},           {"h", HL_C},           {"cc", HL_C},
    {"cpp", HL_C},         {"c++", HL_C},         {"cxx", HL_C},
    {"hpp", HL_C},         {"objc", HL_C},        {"sh", HL_SH},
    {"bash", HL_SH},       {"shell", HL_SH},      {"zsh", HL_SH},
    {"ksh", HL_SH},        {"console", HL_SH},    {"shell-session", HL_SH},
    {"py", HL_PYTHON},     {"python", HL_PYTHON}, {"python3", HL_PYTHON},
    {"js", HL_JS},         {"javascript", HL_JS}, {"mjs", HL_JS},
    {"cjs", HL_JS},        {"jsx", HL_JS},        {"ts", HL_JS},
    {"typescript", HL_JS}, {"tsx", HL_JS},        {"json", HL_JSON},
    {"jsonl", HL_JSON},    {"jsonc", HL_JSON},    {"diff", HL_DIFF},
    {"patch", HL_DIFF},    {"udiff", HL_DIFF},
};

enum hl_lang hl_lang_of(const char *info)
{
	if (!info)
		return HL_NONE;
	while (*info == ' ' || *info == '\t' || *info == '{' || *info == '.')
		info++;
	size_t n = strcspn(info, " \t,{}");
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strlen(names[i].name) == n && !strncasecmp(names[i].name, info, n))
			return names[i].lang;
	return HL_NONE;
}

const char *hl_lang_name(enum hl_lang lang)
{
	static const char *const n[] = {"", "c", "sh", "python", "js", "json", "diff"};
	return (unsigned)lang < sizeof n / sizeof *n ? n[lang] : "";
}

/* Appends n bytes coloured sgr, closing the colour before each '\n'. */
static void span(struct buf *out, const char *sgr, const char *s, size_t n)
{
	int open = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			if (open)
				buf_adds(out, HL_SGR_RESET);
			open = 0;
			buf_addc(out, '\n');
			continue;
		}
		if (!open)
			buf_adds(out, sgr);
		open = 1;
		buf_addc(out, s[i]);
	}
	if (open)
		buf_adds(out, HL_SGR_RESET);
}

static int ident_start(int c, const struct lang_def *d)
{
	return isalpha(c) || c == '_' || c >= 0x80 || (c == '$' && !d->shell);
}

static int ident_char(int c, const struct lang_def *d)
{
	return isalnum(c) || c == '_' || c >= 0x80 || (c == '$' && !d->shell) ||
	       (d->shell && (c == '-' || c == '.' || c == '/'));
}

static int is_keyword(const struct lang_def *d, const char *s, size_t n)
{
	for (const char *const *k = d->keywords; *k; k++)
		if (strlen(*k) == n && !memcmp(*k, s, n))
			return 1;
	return 0;
}

static int starts(const char *s, size_t n, size_t i, const char *lit)
{
	size_t l = strlen(lit);
	return i + l <= n && !memcmp(s + i, lit, l);
}

/* End (exclusive) of a string opening at i with quote q. */
static size_t string_end(const struct lang_def *d, const char *s, size_t n, size_t i)
{
	char q = s[i];
	if (d->python && i + 2 < n && s[i + 1] == q && s[i + 2] == q) {
		for (size_t k = i + 3; k < n; k++) {
			if (s[k] == '\\') {
				k++;
				continue;
			}
			if (k + 2 < n && s[k] == q && s[k + 1] == q && s[k + 2] == q)
				return k + 3;
		}
		return n;
	}
	int escapes = !(d->shell && q == '\'');
	int multiline = d->multiline_quotes || q == '`';
	for (size_t k = i + 1; k < n; k++) {
		if (escapes && s[k] == '\\') {
			k++;
			continue;
		}
		if (s[k] == q)
			return k + 1;
		if (s[k] == '\n' && !multiline)
			return k;
	}
	return n;
}

static size_t number_end(const char *s, size_t n, size_t i)
{
	int hex = s[i] == '0' && i + 1 < n && (s[i + 1] == 'x' || s[i + 1] == 'X');
	size_t k = i;
	while (k < n) {
		char c = s[k];
		if (isalnum((unsigned char)c) || c == '.' || c == '_' || c == '\'') {
			k++;
		} else if ((c == '+' || c == '-') && !hex && k > i &&
		           (s[k - 1] == 'e' || s[k - 1] == 'E')) {
			k++;
		} else {
			break;
		}
	}
	return k;
}

/* End of a shell variable reference starting at '$' (s[i]), or i. */
static size_t shell_var_end(const char *s, size_t n, size_t i)
{
	size_t k = i + 1;
	if (k >= n)
		return i;
	if (s[k] == '{') {
		const char *c = memchr(s + k, '}', n - k);
		const char *nl = memchr(s + k, '\n', n - k);
		if (c && (!nl || c < nl))
			return (size_t)(c - s) + 1;
		return i;
	}
	if (strchr("@#?*!$-0123456789", s[k]))
		return k + 1;
	while (k < n && (isalnum((unsigned char)s[k]) || s[k] == '_'))
		k++;
	return k;
}

static int py_string_prefix(const char *s, size_t n)
{
	if (n > 2)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("rRbBfFuU", s[i]))
			return 0;
	return 1;
}

static void lex(const struct lang_def *d, const char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	int bol = 1; /* only blanks since the start of the line */
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		size_t e;
		if (c == '\n') {
			buf_addc(out, '\n');
			i++;
			bol = 1;
			continue;
		}
		if (c == ' ' || c == '\t') {
			buf_addc(out, (char)c);
			i++;
			continue;
		}
		if (d->preproc && bol && c == '#') {
			e = i + 1;
			while (e < n && (s[e] == ' ' || s[e] == '\t'))
				e++;
			while (e < n && isalpha((unsigned char)s[e]))
				e++;
			span(out, HL_SGR_SPECIAL, s + i, e - i);
			i = e, bol = 0;
			continue;
		}
		bol = 0;
		int word_start = i == 0 || strchr(" \t\n;|&(", s[i - 1]);
		if (d->line_comment && starts(s, n, i, d->line_comment) &&
		    (!d->shell || word_start)) {
			const char *nl = memchr(s + i, '\n', n - i);
			e = nl ? (size_t)(nl - s) : n;
			span(out, HL_SGR_COMMENT, s + i, e - i);
			i = e;
			continue;
		}
		if (d->block_open && starts(s, n, i, d->block_open)) {
			const char *close =
			    memmem(s + i + 2, n - i - 2, d->block_close, strlen(d->block_close));
			e = close ? (size_t)(close - s) + strlen(d->block_close) : n;
			span(out, HL_SGR_COMMENT, s + i, e - i);
			i = e;
			continue;
		}
		if (strchr(d->quotes, c)) {
			e = string_end(d, s, n, i);
			const char *sgr = HL_SGR_STRING;
			if (d->json) {
				size_t k = e;
				while (k < n && (s[k] == ' ' || s[k] == '\t'))
					k++;
				if (k < n && s[k] == ':')
					sgr = HL_SGR_SPECIAL;
			}
			span(out, sgr, s + i, e - i);
			i = e;
			continue;
		}
		if (d->shell && c == '$' && (e = shell_var_end(s, n, i)) > i) {
			span(out, HL_SGR_SPECIAL, s + i, e - i);
			i = e;
			continue;
		}
		if (d->python && c == '@' &&
		    (i == 0 || s[i - 1] == '\n' || s[i - 1] == ' ' || s[i - 1] == '\t')) {
			e = i + 1;
			while (e < n &&
			       (isalnum((unsigned char)s[e]) || s[e] == '_' || s[e] == '.'))
				e++;
			span(out, HL_SGR_SPECIAL, s + i, e - i);
			i = e;
			continue;
		}
		if (isdigit(c) || (c == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
			e = number_end(s, n, i);
			if (d->shell)
				buf_add(out, s + i, e - i);
			else
				span(out, HL_SGR_NUMBER, s + i, e - i);
			i = e;
			continue;
		}
		if (c == '-' && d->json && i + 1 < n && isdigit((unsigned char)s[i + 1])) {
			e = number_end(s, n, i + 1);
			span(out, HL_SGR_NUMBER, s + i, e - i);
			i = e;
			continue;
		}
		if (ident_start(c, d)) {
			e = i + 1;
			while (e < n && ident_char((unsigned char)s[e], d))
				e++;
			if (d->python && e < n && strchr("\"'", s[e]) &&
			    py_string_prefix(s + i, e - i)) {
				size_t end = string_end(d, s, n, e);
				span(out, HL_SGR_STRING, s + i, end - i);
				i = end;
				continue;
			}
			if (is_keyword(d, s + i, e - i) && (!d->shell || word_start))
				span(out, HL_SGR_KEYWORD, s + i, e - i);
			else
				buf_add(out, s + i, e - i);
			i = e;
			continue;
		}
		buf_addc(out, (char)c);
		i++;
	}
}

static void diff(const char *s, size_t n, struct buf *out)
{
	size_t i = 0;
	while (i < n) {
		const char *nl = memchr(s + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - s) : n;
		const char *sgr = NULL;
		if (starts(s, e, i, "+++") || starts(s, e, i, "---") || starts(s, e, i, "diff ") ||
		    starts(s, e, i, "index "))
			sgr = HL_SGR_HEADER;
		else if (starts(s, e, i, "@@"))
			sgr = HL_SGR_SPECIAL;
		else if (starts(s, e, i, "+"))
			sgr = HL_SGR_ADDED;
		else if (starts(s, e, i, "-"))
			sgr = HL_SGR_REMOVED;
		if (sgr)
			span(out, sgr, s + i, e - i);
		else
			buf_add(out, s + i, e - i);
		if (nl)
			buf_addc(out, '\n');
		i = nl ? e + 1 : n;
	}
}

void hl_code(enum hl_lang lang, const char *code, size_t n, struct buf *out)
{
	switch (lang) {
	case HL_C:
		lex(&def_c, code, n, out);
		break;
	case HL_SH:
		lex(&def_sh, code, n, out);
		break;
	case HL_PYTHON:
		lex(&def_py, code, n, out);
		break;
	case HL_JS:
		lex(&def_js, code, n, out);
		break;
	case HL_JSON:
		lex(&def_json, code, n, out);
		break;
	case HL_DIFF:
		diff(code, n, out);
		break;
	case HL_NONE:
	default:
		buf_add(out, code, n);
		break;
	}
}
