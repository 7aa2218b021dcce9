/* Fuzz the URL parser: any accepted URL must give an authority that parses
 * back to the same host and port. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bench/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct url u, v;
	char s[8192], auth[URL_HOST_MAX + 16], again[URL_HOST_MAX + 32];

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (url_parse(s, &u) < 0)
		return 0;
	if (u.port == 0 || u.host[0] == '\0' || u.path[0] != '/')
		abort();
	if (url_authority(&u, auth, sizeof(auth)) < 0)
		abort();
	snprintf(again, sizeof(again), "http://%s", auth);
	if (url_parse(again, &v) < 0 || strcmp(u.host, v.host) != 0 || u.port != v.port)
		abort();
	return 0;
}
