/* Fuzz the PROXY protocol header parser (proxyd/dp/proxy_proto.h). The
 * first byte picks the required version (0: either, 1, 2), the rest is the
 * header. Checks the parser's promises: *used stays within the input and
 * within the maximum header size, a reason accompanies every rejection,
 * parsed addresses are INET/INET6, and every prefix gives PARSE_AGAIN or the
 * verdict of the whole input (prefix stability). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <sys/socket.h>

#include "proxyd/dp/proxy_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

static enum parse_res run(const uint8_t *p, size_t n, unsigned ver, size_t *used)
{
	struct proxy_proto_hdr h;
	const char *why = NULL;
	enum parse_res r = proxy_proto_parse(slice_make(p, n), ver, &h, used, &why);

	if (r == PARSE_OK) {
		CHECK(*used > 0 && *used <= n && *used <= PROXY_PROTO_MAX);
		CHECK(h.version == 1 || h.version == 2);
		if (!h.local) {
			CHECK(h.src.ss_family == AF_INET || h.src.ss_family == AF_INET6);
			CHECK(h.dst.ss_family == h.src.ss_family);
		}
	} else if (r != PARSE_AGAIN) {
		CHECK(why != NULL);
	}
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;

	unsigned ver = data[0] % 3;
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	size_t used = 0;
	enum parse_res whole = run(p, n, ver, &used);

	for (size_t i = 0; i < n && i <= PROXY_PROTO_V1_MAX + 20; i++) {
		size_t u = 0;
		enum parse_res r = run(p, i, ver, &u);

		CHECK(r == PARSE_AGAIN || r == whole);
		if (r == PARSE_OK)
			CHECK(u == used);
	}
	return 0;
}
