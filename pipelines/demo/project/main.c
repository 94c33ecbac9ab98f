/* calc A OP B — prints the result of one integer operation. */
#include <stdio.h>
#include <stdlib.h>

#include "calc.h"

int main(int argc, char **argv)
{
	long result;

	if (argc != 4 || argv[2][0] == '\0' || argv[2][1] != '\0') {
		fprintf(stderr, "usage: calc A OP B\n");
		return 2;
	}
	if (calc(strtol(argv[1], NULL, 10), argv[2][0], strtol(argv[3], NULL, 10), &result) != 0) {
		fprintf(stderr, "calc: cannot compute %s %s %s\n", argv[1], argv[2], argv[3]);
		return 1;
	}
	printf("%ld\n", result);
	return 0;
}
