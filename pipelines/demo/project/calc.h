/* calc — integer arithmetic on two operands, for the calc command. */
#ifndef CALC_H
#define CALC_H

/* Applies op (one of + - * /) to a and b and stores the result in *out.
 * Returns 0, or -1 for an unknown operator or a division by zero. */
int calc(long a, char op, long b, long *out);

#endif
