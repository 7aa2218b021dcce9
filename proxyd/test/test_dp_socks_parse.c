/* SOCKS4/4a/5 parsers and reply builders (proxyd/dp/socks_parse.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "proxyd/dp/socks_parse.h"

#define S(lit) slice_make((lit), sizeof(lit) - 1)

/* Every strict prefix of a complete message must give PARSE_AGAIN. */
static void assert_prefixes_again5(const uint8_t *m, size_t n)
{
	struct socks_request rq;
	size_t used;
	uint8_t code;
	const char *why;

	for (size_t i = 0; i < n; i++)
		assert_int_equal(socks5_parse_request(slice_make(m, i), &rq, &used, &code, &why),
				 PARSE_AGAIN);
}

static void test_greeting(void **state)
{
	struct socks5_greeting g;
	size_t used = 0;
	const char *why;

	(void)state;
	assert_int_equal(socks5_parse_greeting(S("\x05\x02\x00\x02"), &g, &used, &why), PARSE_OK);
	assert_int_equal(used, 4);
	assert_int_equal(g.nmethods, 2);
	assert_true(socks5_greeting_has(&g, SOCKS5_METHOD_NONE));
	assert_true(socks5_greeting_has(&g, SOCKS5_METHOD_USER));
	assert_false(socks5_greeting_has(&g, 0x01));
	/* bytes after the greeting are not consumed */
	assert_int_equal(socks5_parse_greeting(S("\x05\x01\x00\x05\x01"), &g, &used, &why),
			 PARSE_OK);
	assert_int_equal(used, 3);
	/* prefixes */
	assert_int_equal(socks5_parse_greeting(S(""), &g, &used, &why), PARSE_AGAIN);
	assert_int_equal(socks5_parse_greeting(S("\x05"), &g, &used, &why), PARSE_AGAIN);
	assert_int_equal(socks5_parse_greeting(S("\x05\x02\x00"), &g, &used, &why), PARSE_AGAIN);
	/* zero methods, wrong version */
	assert_int_equal(socks5_parse_greeting(S("\x05\x00"), &g, &used, &why), PARSE_INVALID);
	assert_string_equal(why, "no authentication method offered");
	assert_int_equal(socks5_parse_greeting(S("GET / HTTP/1.1\r\n"), &g, &used, &why),
			 PARSE_INVALID);
	assert_string_equal(why, "invalid socks version");
}

static void test_request_ipv4(void **state)
{
	static const uint8_t m[] = {5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x90, 'x'};
	struct socks_request rq;
	size_t used = 0;
	uint8_t code;
	const char *why;

	(void)state;
	assert_int_equal(socks5_parse_request(slice_make(m, sizeof(m)), &rq, &used, &code, &why),
			 PARSE_OK);
	assert_int_equal(used, 10);
	assert_int_equal(rq.cmd, SOCKS_CMD_CONNECT);
	assert_int_equal(rq.atyp, SOCKS_ATYP_IPV4);
	assert_memory_equal(rq.ip, "\x7f\x00\x00\x01", 4);
	assert_int_equal(rq.port, 8080);
	assert_prefixes_again5(m, 10);
}

static void test_request_ipv6_and_domain(void **state)
{
	uint8_t m6[22] = {5, 1, 0, 4};
	static const uint8_t md[] = {5,	  1,   0,   3,	 11,  'e', 'x', 'a',  'm',
				     'p', 'l', 'e', '.', 'c', 'o', 'm', 0x01, 0xbb};
	struct socks_request rq;
	size_t used = 0;
	uint8_t code;
	const char *why;

	(void)state;
	m6[19] = 1; /* ::1 */
	m6[20] = 0;
	m6[21] = 80;
	assert_int_equal(socks5_parse_request(slice_make(m6, sizeof(m6)), &rq, &used, &code, &why),
			 PARSE_OK);
	assert_int_equal(used, 22);
	assert_int_equal(rq.atyp, SOCKS_ATYP_IPV6);
	assert_int_equal(rq.ip[15], 1);
	assert_int_equal(rq.port, 80);
	assert_prefixes_again5(m6, sizeof(m6));

	assert_int_equal(socks5_parse_request(slice_make(md, sizeof(md)), &rq, &used, &code, &why),
			 PARSE_OK);
	assert_int_equal(used, sizeof(md));
	assert_int_equal(rq.atyp, SOCKS_ATYP_DOMAIN);
	assert_int_equal(rq.host.len, 11);
	assert_memory_equal(rq.host.p, "example.com", 11);
	assert_int_equal(rq.port, 443);
	assert_prefixes_again5(md, sizeof(md));
}

static void test_request_invalid(void **state)
{
	struct socks_request rq;
	size_t used = 0;
	uint8_t code;
	const char *why;

	(void)state;
	/* unknown address type → 0x08 */
	assert_int_equal(socks5_parse_request(S("\x05\x01\x00\x07\x01\x02\x03\x04\x00\x50"), &rq,
					      &used, &code, &why),
			 PARSE_INVALID);
	assert_int_equal(code, SOCKS5_REP_ATYP_UNSUPPORTED);
	assert_string_equal(why, "unsupported address type");
	/* unknown command → 0x07, reported with the whole request read */
	assert_int_equal(socks5_parse_request(S("\x05\x09\x00\x01\x01\x02\x03\x04\x00\x50"), &rq,
					      &used, &code, &why),
			 PARSE_INVALID);
	assert_int_equal(code, SOCKS5_REP_CMD_UNSUPPORTED);
	assert_int_equal(used, 10);
	/* unknown command: still waits for the whole request first */
	assert_int_equal(
		socks5_parse_request(S("\x05\x09\x00\x01\x01\x02"), &rq, &used, &code, &why),
		PARSE_AGAIN);
	/* empty domain, NUL in the domain → general failure */
	assert_int_equal(
		socks5_parse_request(S("\x05\x01\x00\x03\x00\x00\x50"), &rq, &used, &code, &why),
		PARSE_INVALID);
	assert_int_equal(code, SOCKS5_REP_GENERAL_FAILURE);
	assert_int_equal(socks5_parse_request(S("\x05\x01\x00\x03\x03\x61\x00\x62\x00\x50"), &rq,
					      &used, &code, &why),
			 PARSE_INVALID);
	assert_string_equal(why, "NUL byte in domain name");
	/* wrong version, non-zero reserved byte: seen early */
	assert_int_equal(socks5_parse_request(S("\x04"), &rq, &used, &code, &why), PARSE_INVALID);
	assert_int_equal(socks5_parse_request(S("\x05\x01\x01"), &rq, &used, &code, &why),
			 PARSE_INVALID);
	assert_string_equal(why, "non-zero reserved byte in request");
}

static void test_socks4(void **state)
{
	static const uint8_t v4[] = {4, 1, 0, 80, 10, 1, 2, 3, 'b', 'o', 'b', 0};
	static const uint8_t v4a[] = {4, 1,   0x01, 0xbb, 0,   0,   0,	 9,
				      0, 'h', 'o',  's',  't', '.', 'a', 0};
	uint8_t big[8 + 300 + 1];
	struct socks_request rq;
	size_t used = 0;
	const char *why;

	(void)state;
	assert_int_equal(socks4_parse_request(slice_make(v4, sizeof(v4)), &rq, &used, &why),
			 PARSE_OK);
	assert_int_equal(used, sizeof(v4));
	assert_int_equal(rq.atyp, SOCKS_ATYP_IPV4);
	assert_memory_equal(rq.ip, "\x0a\x01\x02\x03", 4);
	assert_int_equal(rq.port, 80);
	assert_int_equal(rq.user.len, 3);
	for (size_t i = 0; i < sizeof(v4); i++)
		assert_int_equal(socks4_parse_request(slice_make(v4, i), &rq, &used, &why),
				 PARSE_AGAIN);

	assert_int_equal(socks4_parse_request(slice_make(v4a, sizeof(v4a)), &rq, &used, &why),
			 PARSE_OK);
	assert_int_equal(used, sizeof(v4a));
	assert_int_equal(rq.atyp, SOCKS_ATYP_DOMAIN);
	assert_int_equal(rq.host.len, 6);
	assert_memory_equal(rq.host.p, "host.a", 6);
	assert_int_equal(rq.port, 443);
	for (size_t i = 0; i < sizeof(v4a); i++)
		assert_int_equal(socks4_parse_request(slice_make(v4a, i), &rq, &used, &why),
				 PARSE_AGAIN);

	/* bad command, empty 4a host, over-long user id */
	assert_int_equal(socks4_parse_request(S("\x04\x03"), &rq, &used, &why), PARSE_INVALID);
	assert_int_equal(socks4_parse_request(S("\x04\x01\x00\x50\x00\x00\x00\x01\x00\x00"), &rq,
					      &used, &why),
			 PARSE_INVALID);
	assert_string_equal(why, "empty socks4a host name");
	memset(big, 'u', sizeof(big));
	memcpy(big, "\x04\x01\x00\x50\x01\x02\x03\x04", 8);
	assert_int_equal(socks4_parse_request(slice_make(big, sizeof(big)), &rq, &used, &why),
			 PARSE_TOO_BIG);
	assert_string_equal(why, "socks4 user id too long");
	/* exactly SOCKS4_MAX_FIELD bytes of user id is fine */
	big[8 + SOCKS4_MAX_FIELD] = 0;
	assert_int_equal(
		socks4_parse_request(slice_make(big, 8 + SOCKS4_MAX_FIELD + 1), &rq, &used, &why),
		PARSE_OK);
}

static void test_replies(void **state)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	uint8_t out[22];

	(void)state;
	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons(1080);
	inet_pton(AF_INET, "192.0.2.7", &in.sin_addr);
	assert_int_equal(socks5_build_reply(0, (struct sockaddr *)&in, out), 10);
	assert_memory_equal(out, "\x05\x00\x00\x01\xc0\x00\x02\x07\x04\x38", 10);
	assert_int_equal(socks5_build_reply(SOCKS5_REP_TIMED_OUT, NULL, out), 10);
	assert_memory_equal(out, "\x05\x09\x00\x01\x00\x00\x00\x00\x00\x00", 10);

	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	in6.sin6_port = htons(443);
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	assert_int_equal(socks5_build_reply(0, (struct sockaddr *)&in6, out), 22);
	assert_int_equal(out[3], SOCKS_ATYP_IPV6);
	assert_int_equal(out[4], 0x20);
	assert_int_equal(out[19], 1);
	assert_int_equal(out[20] << 8 | out[21], 443);
	/* a v4-mapped bound address is answered as IPv4 */
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &in6.sin6_addr);
	assert_int_equal(socks5_build_reply(0, (struct sockaddr *)&in6, out), 10);
	assert_memory_equal(out, "\x05\x00\x00\x01\x0a\x00\x00\x01\x01\xbb", 10);

	assert_int_equal(socks4_build_reply(SOCKS4_REP_GRANTED, out), 8);
	assert_memory_equal(out, "\x00\x5a\x00\x00\x00\x00\x00\x00", 8);
}

static void test_udp(void **state)
{
	static const uint8_t v4[] = {0, 0, 0, 1, 10, 0, 0, 1, 0, 53, 'q', 'r'};
	static const uint8_t dom[] = {0, 0, 0, 3, 3, 'a', '.', 'b', 0x1f, 0x90};
	struct socks5_udp h;
	struct sockaddr_in in;
	uint8_t out[22];
	const char *why;

	(void)state;
	assert_int_equal(socks5_parse_udp(slice_make(v4, sizeof(v4)), &h, &why), PARSE_OK);
	assert_int_equal(h.frag, 0);
	assert_int_equal(h.atyp, SOCKS_ATYP_IPV4);
	assert_int_equal(h.port, 53);
	assert_int_equal(h.payload.len, 2);
	assert_memory_equal(h.payload.p, "qr", 2);
	/* an empty payload is a valid datagram */
	assert_int_equal(socks5_parse_udp(slice_make(dom, sizeof(dom)), &h, &why), PARSE_OK);
	assert_int_equal(h.host.len, 3);
	assert_int_equal(h.port, 8080);
	assert_int_equal(h.payload.len, 0);
	/* fragments parse (the caller drops them); truncation and bad types do not */
	assert_int_equal(socks5_parse_udp(S("\x00\x00\x02\x01\x01\x02\x03\x04\x00\x35"), &h, &why),
			 PARSE_OK);
	assert_int_equal(h.frag, 2);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(socks5_parse_udp(slice_make(v4, i), &h, &why), PARSE_INVALID);
	assert_int_equal(socks5_parse_udp(S("\x00\x00\x00\x05\x01\x02\x03\x04\x00\x35"), &h, &why),
			 PARSE_INVALID);
	assert_string_equal(why, "unsupported address type in udp header");
	assert_int_equal(socks5_parse_udp(S("\x00\x00\x00\x03\x00\x00\x35"), &h, &why),
			 PARSE_INVALID);

	memset(&in, 0, sizeof(in));
	in.sin_family = AF_INET;
	in.sin_port = htons(53);
	inet_pton(AF_INET, "10.0.0.1", &in.sin_addr);
	assert_int_equal(socks5_build_udp_header((struct sockaddr *)&in, out), 10);
	assert_memory_equal(out, v4, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_greeting),
		cmocka_unit_test(test_request_ipv4),
		cmocka_unit_test(test_request_ipv6_and_domain),
		cmocka_unit_test(test_request_invalid),
		cmocka_unit_test(test_socks4),
		cmocka_unit_test(test_replies),
		cmocka_unit_test(test_udp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
