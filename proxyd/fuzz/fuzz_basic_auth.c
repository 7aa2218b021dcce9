/* Fuzz the credential decoders of proxyd/dp/auth.h: a Proxy-Authorization
 * value (Basic + base64 "user:password") and, with the first byte 0x01,
 * an RFC 1929 user/password request.
 * Checks: decoded names and passwords stay within their maxima and are
 * NUL-terminated with the reported lengths; a decoded Basic value encodes
 * back to base64 that decodes to the same bytes; RFC 1929 *used stays
 * within the input and every prefix gives PARSE_AGAIN or the verdict of
 * the whole input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd/dp/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                 \
	do {                     \
		if (!(x))        \
			abort(); \
	} while (0)

static void check_cred(const struct auth_cred *c)
{
	CHECK(c->user_len >= 1 && c->user_len <= AUTH_USER_MAX);
	CHECK(c->pass_len <= AUTH_PASS_MAX);
	CHECK(strlen(c->user) == c->user_len);
	CHECK(strlen(c->pass) == c->pass_len);
}

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	return o;
}

static void basic(const uint8_t *data, size_t size)
{
	static struct auth_cred c, c2;
	static uint8_t joined[AUTH_USER_MAX + AUTH_PASS_MAX + 2];
	static char hdr[6 + 4 * (sizeof(joined) / 3 + 1)];
	const char *why = NULL;
	enum parse_res r = auth_basic_decode(slice_make(data, size), &c, &why);
	size_t n;

	if (r != PARSE_OK) {
		CHECK(why != NULL);
		CHECK(r == PARSE_INVALID || r == PARSE_TOO_BIG);
		return;
	}
	check_cred(&c);
	CHECK(memchr(c.user, ':', c.user_len) == NULL);
	memcpy(joined, c.user, c.user_len);
	joined[c.user_len] = ':';
	memcpy(joined + c.user_len + 1, c.pass, c.pass_len);
	memcpy(hdr, "Basic ", 6); // NOLINT(bugprone-not-null-terminated-result): length-delimited
	n = 6 + b64_encode(joined, c.user_len + 1 + c.pass_len, hdr + 6);
	CHECK(auth_basic_decode(slice_make(hdr, n), &c2, &why) == PARSE_OK);
	CHECK(c2.user_len == c.user_len && c2.pass_len == c.pass_len);
	CHECK(memcmp(c2.user, c.user, c.user_len) == 0);
	CHECK(memcmp(c2.pass, c.pass, c.pass_len) == 0);
}

static void rfc1929(const uint8_t *data, size_t size)
{
	static struct auth_cred c;
	const char *why = NULL;
	size_t used = 0, u2;
	enum parse_res r = auth_rfc1929_parse(slice_make(data, size), &c, &used, &why);

	if (r == PARSE_OK) {
		CHECK(used <= size);
		CHECK(c.pass_len <= 255);
		check_cred(&c);
	} else if (r == PARSE_INVALID) {
		CHECK(why != NULL);
	} else {
		CHECK(r == PARSE_AGAIN);
	}
	for (size_t k = 0; k < size && k < 600; k++) {
		enum parse_res rp = auth_rfc1929_parse(slice_make(data, k), &c, &u2, &why);
		CHECK(rp == PARSE_AGAIN || rp == r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == 0x01)
		rfc1929(data, size);
	else
		basic(data, size);
	return 0;
}
