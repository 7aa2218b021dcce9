/* Fuzz the SOCKS parsers (proxyd/dp/socks_parse.h): a SOCKS5 greeting and
 * the request after it, a SOCKS4/4a request, as socks_proxy reads them, or
 * (first byte 0) a SOCKS5 UDP datagram.
 * Checks the parsers' promises: *used stays within the input, slices point
 * into it, and every prefix of the input gives PARSE_AGAIN or the verdict
 * of the whole input (prefix stability). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proxyd/dp/socks_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

static void in_input(struct slice s, const uint8_t *p, size_t n)
{
	if (s.len)
		CHECK(s.p >= p && s.p + s.len <= p + n);
}

static enum parse_res req5(const uint8_t *p, size_t n, size_t *used)
{
	struct socks_request rq;
	uint8_t code;
	const char *why;
	enum parse_res r = socks5_parse_request(slice_make(p, n), &rq, used, &code, &why);

	if (r == PARSE_OK) {
		CHECK(*used <= n);
		in_input(rq.host, p, n);
	}
	if (r == PARSE_INVALID)
		CHECK(why != NULL && code != 0);
	return r;
}

static enum parse_res req4(const uint8_t *p, size_t n, size_t *used)
{
	struct socks_request rq;
	const char *why;
	enum parse_res r = socks4_parse_request(slice_make(p, n), &rq, used, &why);

	if (r == PARSE_OK) {
		CHECK(*used <= n);
		in_input(rq.host, p, n);
		in_input(rq.user, p, n);
	}
	if (r == PARSE_INVALID || r == PARSE_TOO_BIG)
		CHECK(why != NULL);
	return r;
}

static void prefixes(enum parse_res (*f)(const uint8_t *, size_t, size_t *), const uint8_t *p,
		     size_t n)
{
	size_t used = 0;
	enum parse_res whole = f(p, n, &used);

	for (size_t i = 0; i < n; i++) {
		size_t u = 0;
		enum parse_res r = f(p, i, &u);
		CHECK(r == PARSE_AGAIN || r == whole);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct socks5_greeting g;
	size_t used = 0;
	const char *why;

	if (size > 1024)
		return 0;
	if (size > 0 && data[0] == 0) {
		/* a UDP datagram (RSV starts with 0) */
		struct socks5_udp h;
		if (socks5_parse_udp(slice_make(data, size), &h, &why) == PARSE_OK) {
			in_input(h.host, data, size);
			in_input(h.payload, data, size);
			CHECK(h.payload.p + h.payload.len == data + size || h.payload.len == 0);
		} else {
			CHECK(why != NULL);
		}
		return 0;
	}
	if (size > 0 && data[0] == 4) {
		prefixes(req4, data, size);
		return 0;
	}
	if (socks5_parse_greeting(slice_make(data, size), &g, &used, &why) == PARSE_OK) {
		CHECK(used <= size && used == 2u + g.nmethods);
		(void)socks5_greeting_has(&g, 0);
		prefixes(req5, data + used, size - used);
	}
	return 0;
}
