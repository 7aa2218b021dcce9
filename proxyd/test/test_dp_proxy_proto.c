/* PROXY protocol v1/v2 header parser (proxyd/dp/proxy_proto.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "proxyd/dp/proxy_proto.h"

#define S(lit) slice_make((lit), sizeof(lit) - 1)
#define V2SIG "\r\n\r\n\0\r\nQUIT\n"

static enum parse_res parse(struct slice in, unsigned ver, struct proxy_proto_hdr *h, size_t *used)
{
	const char *why = NULL;
	enum parse_res r = proxy_proto_parse(in, ver, h, used, &why);

	if (r == PARSE_INVALID || r == PARSE_TOO_BIG)
		assert_non_null(why);
	return r;
}

/* Every strict prefix of a complete header gives PARSE_AGAIN. */
static void assert_prefixes_again(struct slice m)
{
	struct proxy_proto_hdr h;
	size_t used;

	for (size_t i = 0; i < m.len; i++)
		assert_int_equal(parse(slice_make(m.p, i), 0, &h, &used), PARSE_AGAIN);
}

static void assert_in4(const struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	char buf[INET_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET);
	assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(ntohs(sin->sin_port), port);
}

static void assert_in6(const struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET6);
	assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(ntohs(sin6->sin6_port), port);
}

static void test_v1_tcp4(void **state)
{
	static const char m[] = "PROXY TCP4 192.0.2.7 127.0.0.1 56324 8080\r\nGET";
	struct proxy_proto_hdr h;
	size_t used = 0;

	(void)state;
	assert_int_equal(parse(S(m), 0, &h, &used), PARSE_OK);
	assert_int_equal(used, sizeof(m) - 1 - 3);
	assert_int_equal(h.version, 1);
	assert_false(h.local);
	assert_in4(&h.src, "192.0.2.7", 56324);
	assert_in4(&h.dst, "127.0.0.1", 8080);
	assert_int_equal(parse(S(m), 1, &h, &used), PARSE_OK);
	assert_int_equal(parse(S(m), 2, &h, &used), PARSE_INVALID);
	assert_prefixes_again(slice_make(m, used));
}

static void test_v1_tcp6_unknown(void **state)
{
	struct proxy_proto_hdr h;
	size_t used = 0;

	(void)state;
	assert_int_equal(parse(S("PROXY TCP6 2001:db8::1 ::1 0 65535\r\n"), 0, &h, &used),
			 PARSE_OK);
	assert_in6(&h.src, "2001:db8::1", 0);
	assert_in6(&h.dst, "::1", 65535);
	assert_int_equal(parse(S("PROXY UNKNOWN\r\n"), 0, &h, &used), PARSE_OK);
	assert_true(h.local);
	assert_int_equal(used, 15);
	/* The rest of an UNKNOWN line is ignored. */
	assert_int_equal(parse(S("PROXY UNKNOWN ffff::1 ::1 1 2\r\n"), 0, &h, &used), PARSE_OK);
	assert_true(h.local);
	assert_int_equal(parse(S("PROXY UNKNOWNX\r\n"), 0, &h, &used), PARSE_INVALID);
}

static void test_v1_malformed(void **state)
{
	static const char *const bad[] = {
		"PROXY\r\n",
		"PROXY \r\n",
		"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",	   /* LF without CR */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",	   /* trailing space */
		"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",	   /* double space */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",	   /* missing port */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",	   /* extra field */
		"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",	   /* bad octet */
		"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",	   /* v6 under TCP4 */
		"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",	   /* v4 under TCP6 */
		"PROXY TCP4 host.example 5.6.7.8 1 2\r\n", /* a name */
		"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",  /* port out of range */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", /* leading zero */
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2x\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
		"PROXZ TCP4 1.2.3.4 5.6.7.8 1 2\r\n", /* bad signature */
		"GET / HTTP/1.1\r\n",
		"\x05\x01\x00",
	};
	struct proxy_proto_hdr h;
	size_t used;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		enum parse_res r = parse(slice_from_cstr(bad[i]), 0, &h, &used);

		if (r != PARSE_INVALID)
			fail_msg("case %zu (%s) gave %d", i, bad[i], r);
	}
}

static void test_v1_too_long(void **state)
{
	char m[200];
	struct proxy_proto_hdr h;
	size_t used;

	(void)state;
	/* 106 bytes without CRLF: still a possible prefix. */
	memset(m, 'x', sizeof(m));
	/* bytes, not a string */
	memcpy(m, "PROXY UNKNOWN ", 14); /* NOLINT(bugprone-not-null-terminated-result) */
	assert_int_equal(parse(slice_make(m, 106), 0, &h, &used), PARSE_AGAIN);
	assert_int_equal(parse(slice_make(m, 107), 0, &h, &used), PARSE_TOO_BIG);
	assert_int_equal(parse(slice_make(m, 200), 0, &h, &used), PARSE_TOO_BIG);
	/* Exactly 107 bytes with CRLF is the maximum and accepted. */
	m[105] = '\r';
	m[106] = '\n';
	assert_int_equal(parse(slice_make(m, 107), 0, &h, &used), PARSE_OK);
	assert_int_equal(used, 107);
	/* CRLF one byte later is too long. */
	m[105] = 'x';
	m[106] = '\r';
	m[107] = '\n';
	assert_int_equal(parse(slice_make(m, 108), 0, &h, &used), PARSE_TOO_BIG);
}

static void test_v2_inet(void **state)
{
	static const uint8_t m[] = V2SIG "\x21\x11\x00\x0c"
					 "\xc0\x00\x02\x07"
					 "\x7f\x00\x00\x01"
					 "\xdc\x04\x1f\x90"
					 "\x05\x01";
	struct proxy_proto_hdr h;
	size_t used = 0;

	(void)state;
	assert_int_equal(parse(S(m), 0, &h, &used), PARSE_OK);
	assert_int_equal(used, 28);
	assert_int_equal(h.version, 2);
	assert_false(h.local);
	assert_in4(&h.src, "192.0.2.7", 56324);
	assert_in4(&h.dst, "127.0.0.1", 8080);
	assert_int_equal(parse(S(m), 1, &h, &used), PARSE_INVALID);
	assert_prefixes_again(slice_make(m, 28));
}

static void test_v2_inet6_tlv(void **state)
{
	/* INET6 addresses followed by a 4-byte TLV (type 0x04 NOOP) that is skipped. */
	static const uint8_t m[] =
		V2SIG "\x21\x21\x00\x2b"
		      "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
		      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
		      "\x00\x50\x01\xbb"
		      "\x04\x00\x04zzzz";
	struct proxy_proto_hdr h;
	size_t used = 0;

	(void)state;
	assert_int_equal(sizeof(m) - 1, 16 + 43);
	assert_int_equal(parse(S(m), 2, &h, &used), PARSE_OK);
	assert_int_equal(used, 59);
	assert_in6(&h.src, "2001:db8::1", 80);
	assert_in6(&h.dst, "::1", 443);
	assert_prefixes_again(S(m));
}

static void test_v2_local_unspec(void **state)
{
	struct proxy_proto_hdr h;
	size_t used = 0;

	(void)state;
	/* LOCAL: addresses (whatever they are) ignored. */
	assert_int_equal(parse(S(V2SIG "\x20\x11\x00\x0c"
				       "123456789012"),
			       0, &h, &used),
			 PARSE_OK);
	assert_true(h.local);
	assert_int_equal(used, 28);
	assert_int_equal(parse(S(V2SIG "\x20\x00\x00\x00"), 0, &h, &used), PARSE_OK);
	assert_true(h.local);
	assert_int_equal(used, 16);
	/* PROXY with AF_UNSPEC or AF_UNIX: keep the real peer. */
	assert_int_equal(parse(S(V2SIG "\x21\x00\x00\x00"), 0, &h, &used), PARSE_OK);
	assert_true(h.local);
	assert_int_equal(parse(S(V2SIG "\x21\x31\x00\x00"), 0, &h, &used), PARSE_OK);
	assert_true(h.local);
}

static void test_v2_malformed(void **state)
{
	const struct {
		struct slice m;
		enum parse_res r;
	} cases[] = {
		{S("\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c"), PARSE_INVALID}, /* signature */
		{S("\r\n\r\n\x01"), PARSE_INVALID},
		{S(V2SIG "\x11\x11\x00\x0c"), PARSE_INVALID}, /* version 1 */
		{S(V2SIG "\x31"), PARSE_INVALID},	      /* version 3 */
		{S(V2SIG "\x22\x11\x00\x0c"), PARSE_INVALID}, /* command 2 */
		{S(V2SIG "\x2f"), PARSE_INVALID},
		{S(V2SIG "\x21\x41\x00\x0c"), PARSE_INVALID}, /* family 4 */
		{S(V2SIG "\x21\x13\x00\x0c"), PARSE_INVALID}, /* transport 3 */
		{S(V2SIG "\x21\x12\x00\x0c"
			 "123456789012"),
		 PARSE_INVALID}, /* PROXY over DGRAM */
		{S(V2SIG "\x21\x11\x00\x0b"
			 "12345678901"),
		 PARSE_INVALID}, /* INET needs 12 */
		{S(V2SIG "\x21\x21\x00\x0c"
			 "123456789012"),
		 PARSE_INVALID},			      /* INET6 needs 36 */
		{S(V2SIG "\x21\x11\x08\x01"), PARSE_TOO_BIG}, /* 2049 > max */
		{S(V2SIG "\x21\x11\xff\xff"), PARSE_TOO_BIG},
	};
	struct proxy_proto_hdr h;
	size_t used;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		enum parse_res r = parse(cases[i].m, 0, &h, &used);

		if (r != cases[i].r)
			fail_msg("case %zu gave %d, want %d", i, r, cases[i].r);
	}
}

static void test_v2_truncated(void **state)
{
	uint8_t m[PROXY_PROTO_V2_HDR + PROXY_PROTO_V2_MAX_LEN];
	struct proxy_proto_hdr h;
	size_t used;

	(void)state;
	memset(m, 0, sizeof(m));
	/* exactly the maximum length */
	memcpy(m, V2SIG "\x21\x11\x08\x00", 16); /* NOLINT(bugprone-not-null-terminated-result) */
	assert_int_equal(parse(slice_make(m, 16), 0, &h, &used), PARSE_AGAIN);
	assert_int_equal(parse(slice_make(m, sizeof(m) - 1), 0, &h, &used), PARSE_AGAIN);
	assert_int_equal(parse(slice_make(m, sizeof(m)), 0, &h, &used), PARSE_OK);
	assert_int_equal(used, sizeof(m));
	assert_int_equal(parse(slice_make(m, 0), 0, &h, &used), PARSE_AGAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4),		cmocka_unit_test(test_v1_tcp6_unknown),
		cmocka_unit_test(test_v1_malformed),	cmocka_unit_test(test_v1_too_long),
		cmocka_unit_test(test_v2_inet),		cmocka_unit_test(test_v2_inet6_tlv),
		cmocka_unit_test(test_v2_local_unspec), cmocka_unit_test(test_v2_malformed),
		cmocka_unit_test(test_v2_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
