/* Fuzz the HTTP/1 response parser: byte 0 picks HEAD and the feeding
 * pattern, the rest is a response. The body is framed once whole and once
 * in pieces; both must agree on the result and on where the body ends. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bench/h1_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum parse_res feed(const struct h1_head *h, const uint8_t *p, size_t len, size_t step,
			   size_t *total)
{
	struct h1_body b;
	size_t off = 0;

	h1_body_init(&b, h);
	*total = 0;
	if (len == 0) {
		size_t used = 0;
		enum parse_res r = h1_body_feed(&b, slice_make(p, 0), &used);

		*total = used;
		return r;
	}
	while (off < len) {
		size_t n = step ? MIN(step, len - off) : len - off, used = 0;
		enum parse_res r = h1_body_feed(&b, slice_make(p + off, n), &used);

		if (used > n)
			abort();
		*total += used;
		if (r != PARSE_AGAIN)
			return r;
		if (used != n)
			abort(); /* AGAIN consumes everything */
		off += n;
	}
	return PARSE_AGAIN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct h1_head h;
	enum parse_res r, r1, r2;
	size_t t1, t2, step;

	if (size < 1)
		return 0;
	step = (size_t)(data[0] >> 1) % 7 + 1;
	r = h1_head_parse(slice_make(data + 1, size - 1), data[0] & 1, 4096, &h);
	if (r != PARSE_OK)
		return 0;
	if (h.head_len > size - 1 || h.head_len < 4 || h.status < 100 || h.status > 999)
		abort();
	r1 = feed(&h, data + 1 + h.head_len, size - 1 - h.head_len, 0, &t1);
	r2 = feed(&h, data + 1 + h.head_len, size - 1 - h.head_len, step, &t2);
	if (r1 != r2 || (r1 == PARSE_OK && t1 != t2))
		abort();
	return 0;
}
