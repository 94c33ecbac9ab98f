/*
 * parse_rate — the conversation parse rate for `make bench`: reads FILE
 * into memory, then times conv_parse() over it (lib/conv, the one
 * conversation reader every filter uses: every line tokenized, checked
 * and decoded), REPEAT times, and prints the best run as
 *
 *	BYTES ITEMS SECONDS
 *
 * on one line.  The file read is not timed; the copy conv_parse makes of
 * its input is (a filter pays it too).  Exit 1 when the file does not
 * read or parse, with the reason on stderr.
 *
 * Built on the fly by tests/bench/run against .obj/libbl.a.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv.h"
#include "util.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: parse_rate FILE [REPEAT]\n");
		return 64;
	}
	int repeat = argc == 3 ? atoi(argv[2]) : 1;
	if (repeat < 1)
		repeat = 1;
	struct buf b = BUF_INIT;
	if (read_file(argv[1], &b) < 0) {
		perror(argv[1]);
		return 1;
	}
	double best = -1;
	size_t items = 0;
	for (int i = 0; i < repeat; i++) {
		struct conv c;
		char err[600];
		double t0 = now_s();
		int rc = conv_parse(b.p ? b.p : "", b.len, argv[1], &c, err, sizeof err);
		double dt = now_s() - t0;
		if (rc < 0) {
			fprintf(stderr, "parse_rate: %s\n", err);
			buf_free(&b);
			return 1;
		}
		items = c.n;
		conv_free(&c);
		if (best < 0 || dt < best)
			best = dt;
	}
	printf("%zu %zu %.6f\n", b.len, items, best);
	buf_free(&b);
	return 0;
}
