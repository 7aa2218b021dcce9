/* Fuzz http_chunked_scan(). The first byte picks max_line (1..255, or 8192
 * for 0), the second a split point; the rest is a chunked body. It is fed
 * whole, byte by byte and in two pieces: the verdict, the end offset and
 * the reason must be the same every time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd/http/http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                              \
	do {                                                                                  \
		if (!(x)) {                                                                   \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
			abort();                                                              \
		}                                                                             \
	} while (0)

struct verdict {
	enum parse_res r;
	size_t end;
	const char *why;
};

/* Feed p[0..len) in pieces: the first of `first` bytes, then of `step`. */
static struct verdict feed(const uint8_t *p, size_t len, size_t max_line, size_t first, size_t step)
{
	struct http_chunked c;
	struct verdict v = {PARSE_AGAIN, len, NULL};
	size_t off = 0;

	http_chunked_init(&c, max_line);
	while (off < len) {
		size_t want = off == 0 ? first : step;
		size_t n = MIN(want, len - off), used = SIZE_MAX;

		v.r = http_chunked_scan(&c, p + off, n, &used, &v.why);
		CHECK(used <= n);
		if (v.r == PARSE_AGAIN) {
			CHECK(used == n && v.why == NULL && !http_chunked_done(&c));
			off += n;
			continue;
		}
		v.end = off + used;
		if (v.r == PARSE_OK) {
			CHECK(v.why == NULL && used > 0 && http_chunked_done(&c));
			/* later calls: done, nothing used */
			CHECK(http_chunked_scan(&c, p, len, &used, NULL) == PARSE_OK && used == 0);
		} else {
			CHECK(v.r == PARSE_INVALID || v.r == PARSE_TOO_BIG);
			CHECK(v.why != NULL && v.why[0] != '\0');
			CHECK(http_chunked_scan(&c, p, len, &used, NULL) == PARSE_INVALID);
		}
		return v;
	}
	return v;
}

static void same(struct verdict a, struct verdict b)
{
	CHECK(a.r == b.r && a.end == b.end);
	CHECK((!a.why && !b.why) || (a.why && b.why && strcmp(a.why, b.why) == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max_line, split;
	struct verdict all;

	if (size < 2)
		return 0;
	max_line = data[0] ? data[0] : 8192;
	split = data[1];
	data += 2;
	size -= 2;
	all = feed(data, size, max_line, size ? size : 1, size ? size : 1);
	same(all, feed(data, size, max_line, 1, 1));
	same(all, feed(data, size, max_line, split ? split : 1, size ? size : 1));
	same(all, feed(data, size, max_line, 3, 5));
	return 0;
}
