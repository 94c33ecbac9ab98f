/*
 * highlight — syntax colouring of code blocks for the terminal: a small
 * lexer per language that finds keywords, strings, comments, numbers
 * (and, per language, preprocessor lines, shell variables, Python
 * decorators, JSON keys, diff lines) and wraps them in ANSI SGR
 * sequences.  No external program is run.
 *
 * Guarantees: the output holds exactly the input's bytes plus SGR
 * sequences (strip them and the code is unchanged); every coloured span
 * is closed with HL_SGR_RESET before a '\n' and reopened after it, so
 * the output may be cut into lines and each line shown on its own;
 * unterminated strings and comments run to the end of the block without
 * reading past it.  Input that is not valid for the language is coloured
 * as well as the lexer can, never refused.
 *
 * Ownership: hl_code appends to a struct buf the caller owns.
 */
#ifndef BL_HIGHLIGHT_H
#define BL_HIGHLIGHT_H

#include <stddef.h>

#include "util.h"

/* The colours, public so tests and other renderers can match them. */
#define HL_SGR_RESET "\033[0m"
#define HL_SGR_KEYWORD "\033[35m" /* magenta */
#define HL_SGR_STRING "\033[32m"  /* green */
#define HL_SGR_COMMENT "\033[90m" /* grey */
#define HL_SGR_NUMBER "\033[33m"  /* yellow */
#define HL_SGR_SPECIAL "\033[36m" /* cyan: #include, $VAR, @decorator, JSON keys, @@ */
#define HL_SGR_ADDED "\033[32m"   /* diff + */
#define HL_SGR_REMOVED "\033[31m" /* diff - */
#define HL_SGR_HEADER "\033[1m"   /* diff ---/+++/diff/index */

enum hl_lang {
	HL_NONE = 0, /* plain text: no colour */
	HL_C,        /* C and C++ */
	HL_SH,       /* POSIX sh, bash, zsh */
	HL_PYTHON,
	HL_JS, /* JavaScript and TypeScript */
	HL_JSON,
	HL_DIFF, /* unified diffs */
};

/* The language named by a fenced block's info string ("c", "bash",
 * "py", "ts", "json", "diff", ...; only its first word counts, case
 * ignored); HL_NONE when unknown or empty. */
enum hl_lang hl_lang_of(const char *info);

/* The language's canonical name ("c", "sh", ...), "" for HL_NONE. */
const char *hl_lang_name(enum hl_lang lang);

/* Appends code (n bytes) to out, coloured for lang (HL_NONE: as is). */
void hl_code(enum hl_lang lang, const char *code, size_t n, struct buf *out);

#endif
