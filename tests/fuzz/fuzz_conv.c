/*
 * fuzz_conv — libFuzzer target for the conversation reader: any input
 * either parses or fails with a message, never crashes or leaks; a
 * parsed conversation always renders a coder context (max 5 items).
 */
#include <stddef.h>
#include <stdint.h>

#include "conv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input is only read; everything built here is freed here. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conv c;
	char err[256];
	if (conv_parse((const char *)data, size, "fuzz", &c, err, sizeof err) == 0) {
		struct buf out = BUF_INIT;
		int n = conv_context(&c, "coder", 5, &out);
		if (n < 0 || n > 5)
			__builtin_trap();
		buf_free(&out);
		conv_free(&c);
	}
	return 0;
}
