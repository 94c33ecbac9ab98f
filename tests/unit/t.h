/*
 * t — the unit-test harness: TAP on stdout, one "ok"/"not ok" per
 * check, a diagnostic naming the case on failure.  Usage:
 *
 *	T_OK(cond, "json: %s", name);
 *	T_STREQ(got, want, "unescape %s", case);
 *	return t_done();
 */
#ifndef BL_T_H
#define BL_T_H

#include <stdio.h>
#include <string.h>

static int t_n, t_failed;

static inline int t_check(int ok, const char *file, int line, const char *what)
{
	t_n++;
	printf("%s %d - %s\n", ok ? "ok" : "not ok", t_n, what);
	if (!ok) {
		t_failed++;
		printf("# at %s:%d\n", file, line);
	}
	fflush(stdout);
	return ok;
}

#define T_OK(cond, ...)                                                                            \
	do {                                                                                       \
		char t_what_[512];                                                                 \
		snprintf(t_what_, sizeof t_what_, __VA_ARGS__);                                    \
		t_check(!!(cond), __FILE__, __LINE__, t_what_);                                    \
	} while (0)

#define T_STREQ(got, want, ...)                                                                    \
	do {                                                                                       \
		const char *t_g_ = (got), *t_w_ = (want);                                          \
		char t_what_[512];                                                                 \
		snprintf(t_what_, sizeof t_what_, __VA_ARGS__);                                    \
		int t_ok_ = t_g_ && t_w_ ? strcmp(t_g_, t_w_) == 0 : t_g_ == t_w_;                 \
		if (!t_check(t_ok_, __FILE__, __LINE__, t_what_))                                  \
			printf("#   got:  %s\n#   want: %s\n", t_g_ ? t_g_ : "(null)",             \
			       t_w_ ? t_w_ : "(null)");                                            \
	} while (0)

#define T_INTEQ(got, want, ...)                                                                    \
	do {                                                                                       \
		long long t_g_ = (got), t_w_ = (want);                                             \
		char t_what_[512];                                                                 \
		snprintf(t_what_, sizeof t_what_, __VA_ARGS__);                                    \
		if (!t_check(t_g_ == t_w_, __FILE__, __LINE__, t_what_))                           \
			printf("#   got:  %lld\n#   want: %lld\n", t_g_, t_w_);                     \
	} while (0)

static inline int t_done(void)
{
	printf("1..%d\n", t_n);
	return t_failed ? 1 : 0;
}

#endif
