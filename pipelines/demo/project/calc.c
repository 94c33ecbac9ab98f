/* calc — integer arithmetic on two operands. */
#include "calc.h"

int calc(long a, char op, long b, long *out)
{
	switch (op) {
	case '+':
		*out = a + b;
		return 0;
	case '-':
		*out = a - b;
		return 0;
	case '*':
		*out = a * b;
		return 0;
	case '/':
		if (b == 0)
			return -1;
		*out = a / b;
		return 0;
	}
	return -1;
}
