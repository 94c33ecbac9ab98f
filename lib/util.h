/*
 * util — the few things every file needs: allocation that aborts on
 * out-of-memory, a growable byte buffer, clocks and timestamps, and
 * whole-buffer I/O that retries on EINTR and short writes.
 *
 * Ownership: a struct buf owns its bytes; buf_free() releases them and
 * leaves an empty buffer that may be reused.  A zeroed struct buf
 * (BUF_INIT) is a valid empty buffer.  b->p is always NUL-terminated
 * once anything was added, so it may be used as a C string when the
 * contents hold no NUL.
 */
#ifndef BL_UTIL_H
#define BL_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define BL_VERSION "0.1.0"

/* sysexits(3) codes used by every executable (DESIGN §3). */
enum {
	EX_BL_OK = 0,
	EX_BL_USAGE = 64,
	EX_BL_DATAERR = 65,
	EX_BL_UNAVAILABLE = 69,
	EX_BL_SOFTWARE = 70,
	EX_BL_TEMPFAIL = 75,
	EX_BL_NOPERM = 77,
	EX_BL_CONFIG = 78,
};

/* Allocation: never returns NULL; prints one line to stderr and aborts. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A malloc'd string built with printf formatting. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct buf {
	char *p;
	size_t len, cap;
};
#define BUF_INIT {0, 0, 0}

void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
void buf_reset(struct buf *b);      /* len = 0, keeps the memory */
void buf_free(struct buf *b);       /* releases the memory */
/* Hands the bytes to the caller (malloc'd, NUL-terminated, never NULL). */
char *buf_detach(struct buf *b, size_t *len);

/* Milliseconds on CLOCK_MONOTONIC, for deadlines and latencies. */
int64_t mono_ms(void);
/* Writes the current UTC time as RFC 3339 with milliseconds
 * ("2026-11-24T21:05:09.123Z") into out, which holds at least 25 bytes. */
void rfc3339_now(char out[32]);

/* Writes all n bytes, retrying on EINTR and short writes.  0 or -1/errno. */
int write_all(int fd, const void *p, size_t n);
/* Appends everything readable from fd until EOF.  0 or -1/errno. */
int read_all(int fd, struct buf *b);
/* Reads a whole file.  0 or -1/errno. */
int read_file(const char *path, struct buf *b);

#endif
