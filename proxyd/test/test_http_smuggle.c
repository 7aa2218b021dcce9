/* Request smuggling and malformed heads: every vector of the hardening list
 * is refused with its own reason, fed whole and byte by byte. */
#include "proxyd/test/http_test.h"

struct bad {
	const char *in;
	const char *why;
};

#define G "GET http://h/ HTTP/1.1\r\n"
#define P "POST http://h/ HTTP/1.1\r\n"

static void check_bad(const struct bad *cases, size_t n)
{
	static struct http_request req;

	for (size_t i = 0; i < n; i++) {
		enum parse_res r = ht_req(cases[i].in, &req);
		if (r != PARSE_INVALID || strcmp(ht_why, cases[i].why) != 0)
			fail_msg("case %zu: got %d (%s), want '%s'", i, (int)r,
				 ht_why ? ht_why : "-", cases[i].why);
	}
}

static void test_framing(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{P "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "both Transfer-Encoding and Content-Length"},
		{P "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
		 "both Transfer-Encoding and Content-Length"},
		{P "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
		 "both Transfer-Encoding and Content-Length"},
		/* strict: equal duplicates are refused too */
		{P "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", "duplicate Content-Length"},
		{P "Content-Length: 5\r\ncontent-length: 6\r\n\r\n", "duplicate Content-Length"},
		{P "Content-Length: 5, 5\r\n\r\n", "Content-Length is a list"},
		{P "Content-Length: 5,\r\n\r\n", "Content-Length is a list"},
		{P "Content-Length: +5\r\n\r\n", "invalid Content-Length"},
		{P "Content-Length: -1\r\n\r\n", "invalid Content-Length"},
		{P "Content-Length: 0x10\r\n\r\n", "invalid Content-Length"},
		{P "Content-Length: 1 2\r\n\r\n", "invalid Content-Length"},
		{P "Content-Length:\r\n\r\n", "invalid Content-Length"},
		{P "Content-Length: 9223372036854775808\r\n\r\n", "Content-Length too large"},
		{P "Content-Length: 18446744073709551616\r\n\r\n", "Content-Length too large"},
		{P "Transfer-Encoding: gzip\r\n\r\n", "Transfer-Encoding does not end in chunked"},
		{P "Transfer-Encoding: chunked, gzip\r\n\r\n",
		 "Transfer-Encoding does not end in chunked"},
		{P "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
		 "Transfer-Encoding does not end in chunked"},
		{P "Transfer-Encoding: chunked, chunked\r\n\r\n", "chunked applied more than once"},
		{P "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "chunked applied more than once"},
		{P "Transfer-Encoding: xchunked\r\n\r\n", "unknown transfer coding"},
		{P "Transfer-Encoding: identity, chunked\r\n\r\n", "unknown transfer coding"},
		{P "Transfer-Encoding: \"chunked\"\r\n\r\n", "malformed Transfer-Encoding"},
		{P "Transfer-Encoding: chunked;x=1\r\n\r\n", "malformed Transfer-Encoding"},
		{P "Transfer-Encoding: , chunked\r\n\r\n", "malformed Transfer-Encoding"},
		{P "Transfer-Encoding:\r\n\r\n", "malformed Transfer-Encoding"},
		{P "Transfer-Encoding: chunk ed\r\n\r\n", "malformed Transfer-Encoding"},
		{"POST http://h/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "Transfer-Encoding in an HTTP/1.0 request"},
		{"CONNECT h:443 HTTP/1.1\r\nContent-Length: 4\r\n\r\n",
		 "CONNECT request with a body"},
		{"CONNECT h:443 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		 "CONNECT request with a body"},
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_line_syntax(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		/* obs-fold, in any position */
		{G "X-A: 1\r\n continued\r\n\r\n",
		 "obs-fold (header line starting with whitespace)"},
		{G "\tTransfer-Encoding: chunked\r\n\r\n",
		 "obs-fold (header line starting with whitespace)"},
		{G " Host: h\r\n\r\n", "obs-fold (header line starting with whitespace)"},
		/* bare CR anywhere */
		{G "X-A: 1\r2\r\n\r\n", "bare CR in head"},
		{G "X-A\r: 1\r\n\r\n", "bare CR in head"},
		{G "\r\r\n\r\n", "bare CR in head"},
		{"GET http://h/ HTTP/1.1\rX: y\r\n\r\n", "bare CR in head"},
		{"\rGET http://h/ HTTP/1.1\r\n\r\n", "bare CR in head"},
		/* bare LF line endings are refused, not tolerated (RFC 9112 §2.2 MAY) */
		{"GET http://h/ HTTP/1.1\n\n", "bare LF line ending"},
		{G "Host: h\n\r\n", "bare LF line ending"},
		{G "Host: h\r\n\n", "bare LF line ending"},
		{G "\n", "bare LF line ending"},
		{"\nGET http://h/ HTTP/1.1\r\n\r\n", "bare LF line ending"},
		/* names */
		{G "Content-Length : 5\r\n\r\n", "whitespace between header name and colon"},
		{G "Transfer-Encoding\t: chunked\r\n\r\n",
		 "whitespace between header name and colon"},
		{G "X A: b\r\n\r\n", "whitespace between header name and colon"},
		{G "X(A): b\r\n\r\n", "invalid byte in header name"},
		{G "X\x01: b\r\n\r\n", "invalid byte in header name"},
		{G "Caf\xc3\xa9: b\r\n\r\n", "invalid byte in header name"},
		{G ": b\r\n\r\n", "empty header name"},
		{G "NoColon\r\n\r\n", "header line without colon"},
		/* values */
		{G "X-A: \x01\r\n\r\n", "control byte in header value"},
		{G "X-A: a\x7f\r\n\r\n", "control byte in header value"},
		{G "X-A: a\x1b[31m\r\n\r\n", "control byte in header value"},
	};
	static const char nul[] = G "X-A: a\0b\r\n\r\n";
	static const char nul_target[] = "GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n";
	static struct http_request req;

	check_bad(cases, ARRAY_SIZE(cases));
	assert_int_equal(ht_req_n(nul, sizeof(nul) - 1, MAX_HEAD, &req), PARSE_INVALID);
	assert_string_equal(ht_why, "control byte in header value");
	assert_int_equal(ht_req_n(nul_target, sizeof(nul_target) - 1, MAX_HEAD, &req),
			 PARSE_INVALID);
	assert_string_equal(ht_why, "invalid byte in request-target");
}

static void test_request_line(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{"GET http://h/a b HTTP/1.1\r\n\r\n",
		 "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)"},
		{"GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", "invalid byte in request-target"},
		{"GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", "invalid byte in request-target"},
		{"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", "invalid byte in request-target"},
		{"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n", "invalid byte in request-target"},
		{"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
		 "empty request-target (extra space in request line)"},
		{"GET / HTTP/1.1 \r\nHost: h\r\n\r\n", "malformed request line"},
		{"GET\t/ HTTP/1.1\r\n\r\n", "malformed request line"},
		{" GET / HTTP/1.1\r\n\r\n", "invalid method"},
		{"G(T / HTTP/1.1\r\n\r\n", "malformed request line"},
		{"GET /\r\n\r\n", "missing HTTP version in request line"},
		{"GET / HTTP/2.0\r\n\r\n", "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)"},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		 "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)"},
		{"GET / HTTP/1.2\r\n\r\n", "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)"},
		{"GET / HTTP/0.9\r\n\r\n", "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)"},
		{"GET / http/1.1\r\n\r\n", "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)"},
		{"GET / HTTP/1.10\r\n\r\n", "malformed request line"},
		{"GET / HTTP/1.1\n\r\n", "bare LF line ending"},
		{"GET / HTTP/1.1\rX\r\n\r\n", "bare CR in head"},
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "invalid method"},
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

static void test_host_and_target(void **state)
{
	(void)state;
	static const struct bad cases[] = {
		{G "Host: h\r\nHost: h\r\n\r\n", "duplicate Host header"},
		{G "Host: a\r\nhost: b\r\n\r\n", "duplicate Host header"},
		{"GET / HTTP/1.1\r\n\r\n", "missing Host header in an HTTP/1.1 request"},
		{"OPTIONS * HTTP/1.1\r\n\r\n", "missing Host header in an HTTP/1.1 request"},
		{G "Host: a b\r\n\r\n", "invalid Host header"},
		{G "Host: a:0\r\n\r\n", "invalid Host header"},
		{G "Host: user@a\r\n\r\n", "invalid Host header"},
		{G "Host: a/b\r\n\r\n", "invalid Host header"},
		{"GET http://evil@good@h/ HTTP/1.1\r\n\r\n", "'@' in URI userinfo"},
		{"GET http://good\\@evil/ HTTP/1.1\r\n\r\n", "backslash in URI authority"},
		{"GET http://h:0/ HTTP/1.1\r\n\r\n", "port 0"},
		{"GET http://h:65536/ HTTP/1.1\r\n\r\n", "port out of range (1..65535)"},
		{"GET http://h:99999999999999999999/ HTTP/1.1\r\n\r\n",
		 "port out of range (1..65535)"},
		{"GET http://h:8o/ HTTP/1.1\r\n\r\n", "non-numeric port"},
		{"GET http://h:/ HTTP/1.1\r\n\r\n", "empty port"},
		{"GET http:/// HTTP/1.1\r\n\r\n", "empty host"},
		{"GET http://:80/ HTTP/1.1\r\n\r\n", "empty host"},
		{"GET http://u@/ HTTP/1.1\r\n\r\n", "empty host"},
		{"GET http://[::1/ HTTP/1.1\r\n\r\n", "unterminated IPv6 literal"},
		{"GET http://[::g]/ HTTP/1.1\r\n\r\n", "invalid IPv6 literal"},
		{"GET http://[1.2.3.4]/ HTTP/1.1\r\n\r\n", "invalid IPv6 literal"},
		{"GET http://[::1]x/ HTTP/1.1\r\n\r\n", "junk after IPv6 literal"},
		{"GET http://2130706433/ HTTP/1.1\r\n\r\n",
		 "numeric host is not a dotted-quad IPv4 address"},
		{"GET http://127.1/ HTTP/1.1\r\n\r\n",
		 "numeric host is not a dotted-quad IPv4 address"},
		{"GET http://0x7f.0.0.1/ HTTP/1.1\r\n\r\n",
		 "numeric host is not a dotted-quad IPv4 address"},
		{"GET http://1.2.3.0x4/ HTTP/1.1\r\n\r\n",
		 "numeric host is not a dotted-quad IPv4 address"},
		{"GET http://010.0.0.1/ HTTP/1.1\r\n\r\n",
		 "numeric host is not a dotted-quad IPv4 address"},
		{"GET http://h/#frag HTTP/1.1\r\n\r\n", "fragment in request-target"},
		{"GET h.example:80 HTTP/1.1\r\n\r\n", "invalid request-target"},
		{"GET //h/ HTTP/1.1\r\n\r\n", "missing Host header in an HTTP/1.1 request"},
		{"GET * HTTP/1.1\r\nHost: h\r\n\r\n", "asterisk-form target without OPTIONS"},
		{"GET 1http://h/ HTTP/1.1\r\n\r\n", "invalid request-target"},
		{"GET http:h/ HTTP/1.1\r\n\r\n", "invalid request-target"},
		{"CONNECT http://h:443/ HTTP/1.1\r\n\r\n", "CONNECT target is not authority-form"},
		{"CONNECT /h HTTP/1.1\r\n\r\n", "CONNECT target is not authority-form"},
		{"CONNECT h:443?x HTTP/1.1\r\n\r\n", "CONNECT target is not authority-form"},
		{"CONNECT user@h:443 HTTP/1.1\r\n\r\n", "userinfo not allowed here"},
		{"CONNECT :443 HTTP/1.1\r\n\r\n", "empty host"},
		{"CONNECT h:0 HTTP/1.1\r\n\r\n", "port 0"},
		{"CONNECT * HTTP/1.1\r\n\r\n", "invalid byte in host"},
	};
	check_bad(cases, ARRAY_SIZE(cases));
}

/* The upstream is untrusted too. */
static void test_response_framing(void **state)
{
	(void)state;
	struct http_response rsp;

	assert_rsp_fails("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
			 HTTP_M_GET, "duplicate Content-Length");
	assert_rsp_fails("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n", HTTP_M_GET,
			 "Content-Length is a list");
	assert_rsp_fails("HTTP/1.1 200 OK\r\nContent-Length: 3x\r\n\r\n", HTTP_M_GET,
			 "invalid Content-Length");
	assert_rsp_fails("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
			 HTTP_M_GET, "Content-Length too large");
	assert_rsp_fails(
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		HTTP_M_GET, "both Transfer-Encoding and Content-Length");
	assert_rsp_fails("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
			 HTTP_M_GET, "chunked applied more than once");
	assert_rsp_fails("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;a=b\r\n\r\n", HTTP_M_GET,
			 "malformed Transfer-Encoding");
	assert_rsp_fails("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", HTTP_M_GET,
			 "obs-fold (header line starting with whitespace)");
	assert_rsp_fails("HTTP/1.1 200 OK\nX: a\r\n\r\n", HTTP_M_GET, "bare LF line ending");
	/* the same rules hold even when the status says there is no body */
	assert_rsp_fails(
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		HTTP_M_GET, "duplicate Content-Length");
	/* what is fine: TE not ending in chunked means "until close" */
	assert_int_equal(ht_rsp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
				HTTP_M_GET, &rsp),
			 PARSE_OK);
	assert_int_equal(rsp.body, HTTP_BODY_EOF);
	assert_false(rsp.keep_alive);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_framing),		 cmocka_unit_test(test_line_syntax),
		cmocka_unit_test(test_request_line),	 cmocka_unit_test(test_host_and_target),
		cmocka_unit_test(test_response_framing),
	};
	return cmocka_run_group_tests(tests, NULL, ht_teardown);
}
