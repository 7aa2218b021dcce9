/* Next-hop proxy protocols (proxyd/dp/peer_proto.h): the bytes proxyd
 * sends to a peer proxy and the strictness of reading its answers. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/sock.h"
#include "proxyd/dp/peer_proto.h"
#include "proxyd/dp/proxy_proto.h"

static struct sockaddr_storage addr(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	assert_int_equal(sock_ip_parse(slice_from_cstr(ip), port, &ss, &len), 0);
	return ss;
}

static bool same_addr(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	return sock_addr_len((const struct sockaddr *)x) ==
		       sock_addr_len((const struct sockaddr *)y) &&
	       memcmp(x, y, sock_addr_len((const struct sockaddr *)x)) == 0;
}

static struct slice S(const char *s) {
	return slice_make(s, strlen(s));
}

static void
test_pp_v1(void **state)
{
	struct sockaddr_storage a = addr("192.0.2.1", 5000), b = addr("198.51.100.2", 80);
	struct sockaddr_storage c = addr("2001:db8::1", 443);
	uint8_t out[PEER_PP_MAX];
	int n;

	(void)state;
	n = peer_pp_build(1, (struct sockaddr *)&a, (struct sockaddr *)&b, out, sizeof(out));
	assert_int_equal(n, strlen("PROXY TCP4 192.0.2.1 198.51.100.2 5000 80\r\n"));
	assert_memory_equal(out, "PROXY TCP4 192.0.2.1 198.51.100.2 5000 80\r\n", (size_t)n);
	/* mixed families go as TCP6 with a v4-mapped address */
	n = peer_pp_build(1, (struct sockaddr *)&a, (struct sockaddr *)&c, out, sizeof(out));
	assert_memory_equal(out, "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::1 5000 443\r\n", (size_t)n);
	assert_int_equal(peer_pp_build(1, (struct sockaddr *)&a, (struct sockaddr *)&b, out, 10),
			 -ENOSPC);
	assert_int_equal(
		peer_pp_build(3, (struct sockaddr *)&a, (struct sockaddr *)&b, out, sizeof(out)),
		-EINVAL);
}

/* what we build, the PROXY parser of our own listeners reads back */
static void test_pp_v2_roundtrip(void **state)
{
	const char *pairs[][2] = {{"192.0.2.1", "198.51.100.2"}, {"2001:db8::1", "2001:db8::2"}};

	(void)state;
	for (unsigned v = 1; v <= 2; v++) {
		for (size_t k = 0; k < 2; k++) {
			struct sockaddr_storage a = addr(pairs[k][0], 1234);
			struct sockaddr_storage b = addr(pairs[k][1], 3128);
			struct proxy_proto_hdr h;
			uint8_t out[PEER_PP_MAX];
			size_t used = 0;
			const char *why = NULL;
			int n = peer_pp_build(v, (struct sockaddr *)&a, (struct sockaddr *)&b, out,
					      sizeof(out));
			assert_true(n > 0);
			assert_int_equal(
				proxy_proto_parse(slice_make(out, (size_t)n), v, &h, &used, &why),
				PARSE_OK);
			assert_int_equal(used, n);
			assert_false(h.local);
			assert_true(same_addr(&h.src, &a));
			assert_true(same_addr(&h.dst, &b));
		}
	}
}

static void test_basic_and_connect(void **state)
{
	char line[PEER_BASIC_LINE_MAX];
	uint8_t out[PEER_CONNECT_MAX];
	int n;

	(void)state;
	/* RFC 7617 §2 example */
	n = peer_basic_line("Aladdin", "open sesame", line, sizeof(line));
	assert_string_equal(line, "Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n");
	assert_int_equal(n, strlen(line));
	n = peer_basic_line("ab", "c", line, sizeof(line)); /* "ab:c": no padding */
	assert_string_equal(line, "Proxy-Authorization: Basic YWI6Yw==\r\n");
	assert_int_equal(n, strlen(line));
	n = peer_basic_line("a", "bc", line, sizeof(line));
	assert_string_equal(line, "Proxy-Authorization: Basic YTpiYw==\r\n");
	assert_int_equal(n, strlen(line));
	n = peer_basic_line("abc", "de", line, sizeof(line));
	assert_string_equal(line, "Proxy-Authorization: Basic YWJjOmRl\r\n");
	assert_int_equal(n, strlen(line));
	assert_int_equal(peer_basic_line("a", "b", line, 20), -ENOSPC);

	n = peer_http_connect_build("example.net", false, 443, NULL, out, sizeof(out));
	assert_memory_equal(out,
			    "CONNECT example.net:443 HTTP/1.1\r\nHost: example.net:443\r\n\r\n",
			    (size_t)n);
	n = peer_basic_line("u", "p", line, sizeof(line));
	assert_int_equal(n, strlen(line));
	n = peer_http_connect_build("2001:db8::1", true, 8443, line, out, sizeof(out));
	out[n] = 0;
	assert_string_equal((char *)out, "CONNECT [2001:db8::1]:8443 HTTP/1.1\r\n"
					 "Host: [2001:db8::1]:8443\r\n"
					 "Proxy-Authorization: Basic dTpw\r\n\r\n");
	assert_int_equal(peer_http_connect_build("example.net", false, 443, NULL, out, 20),
			 -ENOSPC);
}

static void test_head_end(void **state)
{
	const char *r = "HTTP/1.1 200 OK\r\nA: b\r\n\r\nextra";

	(void)state;
	assert_int_equal(peer_http_head_end(S(r), 0), strlen(r) - 5);
	assert_int_equal(peer_http_head_end(slice_make(r, 20), 0), 0);
	/* resuming from where the last search stopped still finds a split CRLFCRLF */
	assert_int_equal(peer_http_head_end(slice_make(r, 25), 23), 25);
	assert_int_equal(peer_http_head_end(S("\r\n\r\n"), 0), 4);
}

static void parse_ok(const char *head, int want)
{
	int st = -1;
	const char *why = NULL;

	if (peer_http_connect_parse(S(head), &st, &why) != PARSE_OK)
		fail_msg("'%s' rejected: %s", head, why);
	assert_int_equal(st, want);
}

static void parse_bad(const char *head, const char *want_why)
{
	int st;
	const char *why = NULL;

	assert_int_equal(peer_http_connect_parse(S(head), &st, &why), PARSE_INVALID);
	assert_non_null(why);
	if (strstr(why, want_why) == NULL)
		fail_msg("'%s': got '%s', want '%s'", head, why, want_why);
}

static void test_connect_parse(void **state)
{
	(void)state;
	parse_ok("HTTP/1.1 200 Connection established\r\n\r\n", 200);
	parse_ok("HTTP/1.0 200 OK\r\nVia: 1.1 squid\r\nX-Empty:\r\n\r\n", 200);
	parse_ok("HTTP/1.1 200\r\n\r\n", 200);
	/* a 2xx to CONNECT has no body: these headers are ignored */
	parse_ok("HTTP/1.1 200 OK\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n",
		 200);
	parse_ok("HTTP/1.1 407 Proxy Authentication Required\r\n"
		 "Proxy-Authenticate: Basic realm=\"squid\"\r\nContent-Length: 5\r\n\r\n",
		 407);
	parse_ok("HTTP/1.1 503 Service Unavailable\r\n\r\n", 503);
	parse_bad("SSH-2.0-OpenSSH_9.0\r\n\r\n", "not an HTTP/1.x status line");
	parse_bad("HTTP/2 200 OK\r\n\r\n", "not an HTTP/1.x status line");
	parse_bad("HTTP/1.1 2x0 OK\r\n\r\n", "invalid status code");
	parse_bad("HTTP/1.1 099 Low\r\n\r\n", "invalid status code");
	parse_bad("HTTP/1.1 600 High\r\n\r\n", "invalid status code");
	parse_bad("HTTP/1.1 200OK\r\n\r\n", "invalid status line");
	parse_bad("HTTP/1.1 200 OK\r\n folded\r\n\r\n", "obsolete line folding");
	parse_bad("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "header line without a colon");
	parse_bad("HTTP/1.1 200 OK\r\n: x\r\n\r\n", "invalid header name");
	parse_bad("HTTP/1.1 200 OK\r\nA: x\ny\r\n\r\n", "control character");
	parse_bad("HTTP/1.1 200 OK\rX\r\n\r\n", "bare CR");
	parse_bad("HTTP/1.1 200 OK\r\nA: b\r\n", "does not end with an empty line");
}

static void test_socks5_client(void **state)
{
	uint8_t out[PEER_SOCKS5_AUTH_MAX];
	uint8_t m;
	const char *why = NULL;
	int n;

	(void)state;
	assert_int_equal(peer_socks5_greeting(false, out), 3);
	assert_memory_equal(out, "\x05\x01\x00", 3);
	assert_int_equal(peer_socks5_greeting(true, out), 4);
	assert_memory_equal(out, "\x05\x02\x00\x02", 4);

	assert_int_equal(peer_socks5_method(slice_make("\x05", 1), true, &m, &why), PARSE_AGAIN);
	assert_int_equal(peer_socks5_method(slice_make("\x05\x02", 2), true, &m, &why), PARSE_OK);
	assert_int_equal(m, 2);
	assert_int_equal(peer_socks5_method(slice_make("\x05\x00", 2), true, &m, &why), PARSE_OK);
	assert_int_equal(peer_socks5_method(slice_make("\x05\x02", 2), false, &m, &why),
			 PARSE_INVALID);
	assert_string_equal(why, "socks5 peer: chose a method we did not offer");
	assert_int_equal(peer_socks5_method(slice_make("\x05\xff", 2), true, &m, &why),
			 PARSE_INVALID);
	assert_string_equal(why, "socks5 peer: no acceptable authentication method");
	assert_int_equal(peer_socks5_method(slice_make("\x04\x00", 2), true, &m, &why),
			 PARSE_INVALID);

	n = peer_socks5_auth_build("bob", "pw", out, sizeof(out));
	assert_int_equal(n, 8);
	assert_memory_equal(out,
			    "\x01\x03"
			    "bob"
			    "\x02"
			    "pw",
			    8);
	assert_int_equal(peer_socks5_auth_build("", "pw", out, sizeof(out)), -EINVAL);
	assert_int_equal(peer_socks5_auth_reply(slice_make("\x01\x00", 2), &why), PARSE_OK);
	assert_int_equal(peer_socks5_auth_reply(slice_make("\x01\x01", 2), &why), PARSE_INVALID);
	assert_string_equal(why, "socks5 peer: authentication rejected");
	assert_int_equal(peer_socks5_auth_reply(slice_make("\x05\x00", 2), &why), PARSE_INVALID);

	n = peer_socks5_request_build(1, "example.com", 443, out, sizeof(out));
	assert_int_equal(n, 18);
	assert_memory_equal(out,
			    "\x05\x01\x00\x03\x0b"
			    "example.com"
			    "\x01\xbb",
			    18);
	n = peer_socks5_request_build(1, "127.0.0.1", 80, out, sizeof(out));
	assert_int_equal(n, 10);
	assert_memory_equal(out, "\x05\x01\x00\x01\x7f\x00\x00\x01\x00\x50", 10);
	n = peer_socks5_request_build(3, "::1", 53, out, sizeof(out));
	assert_int_equal(n, 22);
	assert_int_equal(out[1], 3);
	assert_int_equal(out[3], 4);
	assert_int_equal(peer_socks5_request_build(1, "", 1, out, sizeof(out)), -EINVAL);
}

static void test_socks5_reply(void **state)
{
	uint8_t rep = 0xee;
	size_t need = 0, used = 0;
	struct sockaddr_storage b;
	const char *why = NULL;
	const uint8_t ok4[] = {5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90};
	const uint8_t okd[] = {5, 0, 0, 3, 3, 'a', 'b', 'c', 0, 80, 0xaa};

	(void)state;
	assert_int_equal(peer_socks5_reply(slice_make(ok4, 3), &rep, &need, &used, &b, &why),
			 PARSE_AGAIN);
	assert_int_equal(need, 5);
	assert_int_equal(peer_socks5_reply(slice_make(ok4, 6), &rep, &need, &used, &b, &why),
			 PARSE_AGAIN);
	assert_int_equal(need, 10);
	assert_int_equal(peer_socks5_reply(slice_make(ok4, 10), &rep, &need, &used, &b, &why),
			 PARSE_OK);
	assert_int_equal(rep, 0);
	assert_int_equal(used, 10);
	assert_int_equal(b.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&b)->sin_port), 8080);
	/* a domain bound address; the byte after it is not ours */
	assert_int_equal(peer_socks5_reply(slice_make(okd, 11), &rep, &need, &used, &b, &why),
			 PARSE_OK);
	assert_int_equal(used, 10);
	assert_int_equal(b.ss_family, 0);
	assert_int_equal(peer_socks5_reply(slice_make("\x05\x05\x00\x01\x00", 5), &rep, &need,
					   &used, &b, &why),
			 PARSE_INVALID);
	assert_int_equal(rep, 5);
	assert_string_equal(why, "socks5 peer: connection refused");
	assert_int_equal(peer_socks5_reply(slice_make("\x05\x00\x01\x01\x00", 5), &rep, &need,
					   &used, &b, &why),
			 PARSE_INVALID);
	assert_int_equal(peer_socks5_reply(slice_make("\x05\x00\x00\x07\x00", 5), &rep, &need,
					   &used, &b, &why),
			 PARSE_INVALID);
	assert_int_equal(peer_socks5_reply(slice_make("\x05\x00\x00\x03\x00", 5), &rep, &need,
					   &used, &b, &why),
			 PARSE_INVALID);
	assert_int_equal(peer_socks5_reply(slice_make("HTTP/", 5), &rep, &need, &used, &b, &why),
			 PARSE_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pp_v1),
		cmocka_unit_test(test_pp_v2_roundtrip),
		cmocka_unit_test(test_basic_and_connect),
		cmocka_unit_test(test_head_end),
		cmocka_unit_test(test_connect_parse),
		cmocka_unit_test(test_socks5_client),
		cmocka_unit_test(test_socks5_reply),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
