/* Fuzz the next-hop proxy answer parsers (proxyd/dp/peer_proto.h). The
 * first byte picks the parser (HTTP CONNECT head, SOCKS5 method, RFC 1929
 * reply, SOCKS5 reply), the rest is what a peer sent. Checks the promises:
 * a head end lies within the input, a parsed status is 100..599, a reason
 * comes with every rejection, a SOCKS5 reply never claims more bytes than
 * it has and asks for at most 262, and feeding the reply byte by byte gives
 * the same verdict as all at once. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <sys/socket.h>

#include "proxyd/dp/peer_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

static enum parse_res s5_reply(struct slice in, size_t *used)
{
	uint8_t rep = 0;
	size_t need = 0;
	struct sockaddr_storage b;
	const char *why = NULL;
	enum parse_res r = peer_socks5_reply(in, &rep, &need, used, &b, &why);

	if (r == PARSE_OK) {
		CHECK(*used <= in.len && *used >= 7 && rep == 0);
		CHECK(b.ss_family == 0 || b.ss_family == AF_INET || b.ss_family == AF_INET6);
	} else if (r == PARSE_AGAIN) {
		CHECK(need > in.len && need <= 262);
	} else {
		CHECK(why != NULL);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slice in;
	const char *why = NULL;

	if (size == 0)
		return 0;
	in = slice_make(data + 1, size - 1);
	switch (data[0] % 4) {
	case 0: {
		size_t end = peer_http_head_end(in, 0);
		int st = 0;
		CHECK(end <= in.len);
		if (end != 0) {
			enum parse_res r =
				peer_http_connect_parse(slice_make(in.p, end), &st, &why);
			CHECK(r == PARSE_OK || r == PARSE_INVALID);
			if (r == PARSE_OK)
				CHECK(st >= 100 && st <= 599);
			else
				CHECK(why != NULL);
			/* resuming the search anywhere before the end finds the same end */
			CHECK(peer_http_head_end(in, end / 2) == end);
		}
		break;
	}
	case 1: {
		uint8_t m;
		enum parse_res r = peer_socks5_method(in, data[0] & 4, &m, &why);
		CHECK(r != PARSE_INVALID || why != NULL);
		CHECK(r != PARSE_AGAIN || in.len < 2);
		break;
	}
	case 2: {
		enum parse_res r = peer_socks5_auth_reply(in, &why);
		CHECK(r != PARSE_INVALID || why != NULL);
		break;
	}
	default: {
		size_t used = 0, used2 = 0;
		enum parse_res whole = s5_reply(in, &used), part = PARSE_AGAIN;
		for (size_t k = 0; k <= in.len && part == PARSE_AGAIN; k++)
			part = s5_reply(slice_make(in.p, k), &used2);
		CHECK(part == whole);
		if (whole == PARSE_OK)
			CHECK(used2 == used);
		break;
	}
	}
	return 0;
}
