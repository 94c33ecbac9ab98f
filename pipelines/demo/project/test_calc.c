/* The tests of calc(): each check prints "ok" or "FAIL"; exit 1 on any failure. */
#include <stdio.h>

#include "calc.h"

static int failed;

/* want_rc 0: calc must succeed with want; -1: calc must refuse. */
static void check(long a, char op, long b, int want_rc, long want)
{
	long got = 0;
	int rc = calc(a, op, b, &got);

	if (rc != want_rc || (rc == 0 && got != want)) {
		printf("FAIL: %ld %c %ld: rc %d, result %ld (want rc %d, result %ld)\n", a, op, b,
		       rc, got, want_rc, want);
		failed++;
		return;
	}
	printf("ok: %ld %c %ld\n", a, op, b);
}

int main(void)
{
	check(2, '+', 3, 0, 5);
	check(2, '-', 3, 0, -1);
	check(6, '*', 7, 0, 42);
	check(7, '/', 2, 0, 3);
	check(7, '/', 0, -1, 0);
	check(1, '?', 1, -1, 0);
	printf("%s\n", failed ? "tests failed" : "all tests passed");
	return failed != 0;
}
