/* Fuzz the username params of proxyd/dp/uparams.h: the input is a user
 * name (as a client sends it), its first byte picks the config flags.
 * Checks: the base and every key / value lie inside the input and are
 * non-empty; keys are unique when duplicates are refused; a next hop, when
 * built, is a NUL-terminated host of at most 253 bytes holding only host
 * bytes, with the port of the inbound kind. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd/dp/uparams.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

static const char *keys[] = {"country", "state", "city", "opt"};
static const char *floating[] = {"opt"};

static void check_in(struct slice s, const uint8_t *p, size_t n)
{
	CHECK(s.len > 0);
	CHECK(s.p >= p && s.p + s.len <= p + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct username_params_conf c;
	struct uparams p;
	struct uparams_hop h;
	const char *why = NULL;
	uint8_t flags;

	if (size == 0)
		return 0;
	flags = data[0];
	data++;
	size--;
	memset(&c, 0, sizeof(c));
	c.set = true;
	c.keys_for_host.v = keys;
	c.keys_for_host.n = 4;
	c.floating_keys.v = floating;
	c.floating_keys.n = (flags & 1) ? 1 : 0;
	c.require_hierarchy = (flags & 2) != 0;
	c.reject_unknown_keys = (flags & 4) != 0;
	c.reject_duplicate_keys = (flags & 8) != 0;
	c.separator = (flags & 16) ? "." : "-";
	c.domain_suffix = (flags & 32) ? "exits.example" : NULL;
	c.resolve_sticky_key = (flags & 64) ? "session" : NULL;
	c.http_port = 10000;
	c.socks5_port = 10001;

	if (uparams_parse(slice_make(data, size), c.reject_duplicate_keys, &p, &why) != PARSE_OK) {
		CHECK(why != NULL);
		return 0;
	}
	check_in(p.base, data, size);
	CHECK(p.n <= UPARAMS_MAX_KV);
	for (unsigned i = 0; i < p.n; i++) {
		check_in(p.kv[i].key, data, size);
		check_in(p.kv[i].value, data, size);
		CHECK(memchr(p.kv[i].key.p, '+', p.kv[i].key.len) == NULL);
		CHECK(memchr(p.kv[i].key.p, '=', p.kv[i].key.len) == NULL);
		for (unsigned j = 0; j < i; j++)
			CHECK(!slice_eq(p.kv[i].key, p.kv[j].key));
	}
	if (uparams_next_hop(&c, &p, (flags & 128) != 0, &h, &why) < 0) {
		CHECK(why != NULL);
		return 0;
	}
	if (!h.set)
		return 0;
	CHECK(strlen(h.host) > 0 && strlen(h.host) <= 253);
	for (const char *q = h.host; *q; q++)
		CHECK(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._",
			     *q) != NULL);
	CHECK(h.port == ((flags & 128) ? 10001 : 10000));
	return 0;
}
