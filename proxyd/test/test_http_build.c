/* http_build_*(): forwarded request and response heads and error replies,
 * compared byte for byte. */
#include <errno.h>

#include "proxyd/test/http_test.h"

static struct http_request req;
static struct http_response rsp;
static uint8_t out[4096];

/* Parse s, forward it, compare with want. */
static void fwd_req(const char *s, bool absolute, bool keep_alive, const char *want)
{
	int n;

	assert_int_equal(ht_req(s, &req), PARSE_OK);
	n = http_build_forward_request(&req, absolute, keep_alive, out, sizeof(out));
	assert_true(n > 0);
	if ((size_t)n != strlen(want) || memcmp(out, want, (size_t)n) != 0)
		fail_msg("got:\n%.*s\nwant:\n%s", n, (const char *)out, want);
}

static void fwd_rsp(const char *s, enum http_method m, bool keep_alive, const char *want)
{
	int n;

	assert_int_equal(ht_rsp(s, m, &rsp), PARSE_OK);
	n = http_build_forward_response(&rsp, keep_alive, out, sizeof(out));
	assert_true(n > 0);
	if ((size_t)n != strlen(want) || memcmp(out, want, (size_t)n) != 0)
		fail_msg("got:\n%.*s\nwant:\n%s", n, (const char *)out, want);
}

static void test_origin_rewrite(void **state)
{
	(void)state;
	fwd_req("GET http://example.com/a?b=c HTTP/1.1\r\nHost: example.com\r\n"
		"User-Agent: curl/8\r\nProxy-Connection: Keep-Alive\r\nAccept: */*\r\n\r\n",
		false, true,
		"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\n"
		"Accept: */*\r\nConnection: keep-alive\r\n\r\n");
	/* no path, a query only, OPTIONS without path (RFC 9112 §3.2.4) */
	fwd_req("HEAD http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", false, false,
		"HEAD / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
	fwd_req("GET http://example.com?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", false, true,
		"GET /?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n");
	fwd_req("OPTIONS http://example.com:8080 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", false,
		true,
		"OPTIONS * HTTP/1.1\r\nHost: example.com:8080\r\nConnection: keep-alive\r\n\r\n");
	fwd_req("OPTIONS http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n", false, true,
		"OPTIONS /x HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n");
	/* the client's version is kept: an HTTP/1.0 client gets no chunked reply */
	fwd_req("GET http://h/ HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false, true,
		"GET / HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n");
	/* header values are written without their OWS */
	fwd_req("GET http://h/ HTTP/1.1\r\nHost:h\r\nX-A: \t v  \r\n\r\n", false, true,
		"GET / HTTP/1.1\r\nHost: h\r\nX-A: v\r\nConnection: keep-alive\r\n\r\n");
}

static void test_absolute_kept(void **state)
{
	(void)state;
	fwd_req("GET http://u:p@example.com:81/a HTTP/1.1\r\nHost: example.com:81\r\n"
		"Proxy-Authorization: Basic dTpw\r\n\r\n",
		true, true,
		"GET http://u:p@example.com:81/a HTTP/1.1\r\nHost: example.com:81\r\n"
		"Connection: keep-alive\r\n\r\n");
	/* origin form towards a next-hop proxy: the URI is rebuilt from Host */
	fwd_req("GET /p?q HTTP/1.1\r\nHost: h.example:8080\r\n\r\n", true, false,
		"GET http://h.example:8080/p?q HTTP/1.1\r\nHost: h.example:8080\r\n"
		"Connection: close\r\n\r\n");
	assert_int_equal(ht_req("GET / HTTP/1.0\r\n\r\n", &req), PARSE_OK);
	assert_int_equal(http_build_forward_request(&req, true, true, out, sizeof(out)), -EINVAL);
	/* CONNECT keeps its authority either way */
	fwd_req("CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n"
		"Proxy-Authorization: Basic x\r\n\r\n",
		false, true,
		"CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n"
		"Connection: keep-alive\r\n\r\n");
}

static void test_hop_by_hop(void **state)
{
	(void)state;
	fwd_req("POST http://h/ HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Secret, close\r\n"
		"X-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-Sum\r\n"
		"Upgrade: h2c\r\nProxy-Authorization: Basic dTpw\r\nProxy-Authenticate: x\r\n"
		"Proxy-Connection: close\r\nx-secret: 2\r\nX-Public: 3\r\n"
		"Transfer-Encoding: chunked\r\n\r\n",
		false, false,
		"POST / HTTP/1.1\r\nHost: h\r\nX-Public: 3\r\nTransfer-Encoding: chunked\r\n"
		"Connection: close\r\n\r\n");
	/* options over several Connection lines, any case */
	fwd_req("GET http://h/ HTTP/1.1\r\nConnection: x-a\r\nConnection: X-B\r\nX-A: 1\r\n"
		"x-b: 2\r\nX-C: 3\r\n\r\n",
		false, true,
		"GET / HTTP/1.1\r\nHost: h\r\nX-C: 3\r\nConnection: keep-alive\r\n\r\n");
	/* Connection cannot strip the framing or Host */
	fwd_req("POST http://h/ HTTP/1.1\r\nHost: h\r\n"
		"Connection: Content-Length, Host, Transfer-Encoding\r\nContent-Length: 2\r\n\r\n",
		false, true,
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: "
		"keep-alive\r\n\r\n");
	/* a real upgrade keeps Upgrade */
	fwd_req("GET http://h/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
		"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n",
		false, true,
		"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
		"Connection: upgrade\r\n\r\n");
}

static void test_host_synthesis(void **state)
{
	(void)state;
	/* right after the request line, default port dropped */
	fwd_req("GET http://h.example/ HTTP/1.1\r\nAccept: */*\r\n\r\n", false, true,
		"GET / HTTP/1.1\r\nHost: h.example\r\nAccept: */*\r\nConnection: "
		"keep-alive\r\n\r\n");
	fwd_req("GET https://h.example:443/ HTTP/1.1\r\n\r\n", false, true,
		"GET / HTTP/1.1\r\nHost: h.example\r\nConnection: keep-alive\r\n\r\n");
	fwd_req("GET http://h.example:8080/ HTTP/1.1\r\n\r\n", false, true,
		"GET / HTTP/1.1\r\nHost: h.example:8080\r\nConnection: keep-alive\r\n\r\n");
	fwd_req("GET http://[2001:db8::1]:8080/ HTTP/1.1\r\n\r\n", false, true,
		"GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\nConnection: keep-alive\r\n\r\n");
	fwd_req("GET http://[::1]/ HTTP/1.1\r\n\r\n", false, true,
		"GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: keep-alive\r\n\r\n");
	fwd_req("CONNECT [::1] HTTP/1.1\r\n\r\n", false, true,
		"CONNECT [::1] HTTP/1.1\r\nHost: [::1]:443\r\nConnection: keep-alive\r\n\r\n");
	/* the client's Host is kept even when it differs (allow_custom_host) */
	fwd_req("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n", false, true,
		"GET / HTTP/1.1\r\nHost: b.example\r\nConnection: keep-alive\r\n\r\n");
	/* HTTP/1.0 origin form without Host: nothing to make one from */
	fwd_req("GET /x HTTP/1.0\r\n\r\n", false, false,
		"GET /x HTTP/1.0\r\nConnection: close\r\n\r\n");
}

static void test_forward_response(void **state)
{
	(void)state;
	fwd_rsp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, X-Hop\r\n"
		"X-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n"
		"Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",
		HTTP_M_GET, true,
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"
		"Connection: keep-alive\r\n\r\n");
	fwd_rsp("HTTP/1.0 404 Not Here\r\nContent-Type: text/html\r\n\r\n", HTTP_M_GET, false,
		"HTTP/1.1 404 Not Here\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n");
	/* empty reason: the standard one */
	fwd_rsp("HTTP/1.1 503\r\nContent-Length: 0\r\n\r\n", HTTP_M_GET, true,
		"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: "
		"keep-alive\r\n\r\n");
	fwd_rsp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n",
		HTTP_M_GET, true,
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n");
	/* interim responses carry no Connection; 101 keeps Upgrade */
	fwd_rsp("HTTP/1.1 100 Continue\r\n\r\n", HTTP_M_PUT, true, "HTTP/1.1 100 Continue\r\n\r\n");
	fwd_rsp("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Accept: x\r\n\r\n",
		HTTP_M_GET, true,
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: "
		"x\r\n"
		"Connection: upgrade\r\n\r\n");
	fwd_rsp("HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n", HTTP_M_GET, true,
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
}

static void test_no_space(void **state)
{
	(void)state;
	int n;

	assert_int_equal(ht_req("GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n", &req), PARSE_OK);
	n = http_build_forward_request(&req, false, true, out, sizeof(out));
	assert_true(n > 0);
	/* exactly enough room works, one byte less does not */
	assert_int_equal(http_build_forward_request(&req, false, true, out, (size_t)n), n);
	assert_int_equal(http_build_forward_request(&req, false, true, out, (size_t)n - 1),
			 -ENOSPC);
	assert_int_equal(http_build_forward_request(&req, false, true, NULL, 0), -ENOSPC);
	assert_int_equal(ht_rsp("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HTTP_M_GET, &rsp),
			 PARSE_OK);
	n = http_build_forward_response(&rsp, false, out, sizeof(out));
	assert_int_equal(http_build_forward_response(&rsp, false, out, (size_t)n), n);
	assert_int_equal(http_build_forward_response(&rsp, false, out, (size_t)n - 1), -ENOSPC);
	n = http_build_error(502, true, NULL, out, sizeof(out));
	assert_int_equal(http_build_error(502, true, NULL, out, (size_t)n), n);
	assert_int_equal(http_build_error(502, true, NULL, out, (size_t)n - 1), -ENOSPC);
}

static void test_error_replies(void **state)
{
	(void)state;
	static const char want502[] = "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
				      "Content-Length: 16\r\nConnection: close\r\n\r\n"
				      "502 Bad Gateway\n";
	static const char want407[] = "HTTP/1.1 407 Proxy Authentication Required\r\n"
				      "Content-Type: text/plain\r\nContent-Length: 34\r\n"
				      "Proxy-Authenticate: Basic realm=\"proxy\"\r\n\r\n"
				      "407 Proxy Authentication Required\n";
	int n;

	n = http_build_error(502, true, NULL, out, sizeof(out));
	assert_int_equal(n, sizeof(want502) - 1);
	assert_memory_equal(out, want502, sizeof(want502) - 1);
	n = http_build_error(407, false, "Proxy-Authenticate: Basic realm=\"proxy\"\r\n", out,
			     sizeof(out));
	assert_int_equal(n, sizeof(want407) - 1);
	assert_memory_equal(out, want407, sizeof(want407) - 1);
	/* the reply is a well-formed response with the stated body length */
	assert_int_equal(ht_rsp_n((const char *)out, (size_t)n, MAX_HEAD, HTTP_M_GET, &rsp),
			 PARSE_OK);
	assert_int_equal(rsp.status, 407);
	assert_int_equal(rsp.body, HTTP_BODY_LENGTH);
	assert_int_equal(rsp.content_length, (size_t)n - rsp.head_len);
	assert_true(rsp.keep_alive);

	n = http_build_error(530, true, NULL, out, sizeof(out));
	assert_true(n > 0);
	assert_memory_equal(out, "HTTP/1.1 530 Origin DNS Error\r\n", 31);
	assert_int_equal(http_build_error(99, true, NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(http_build_error(600, true, NULL, out, sizeof(out)), -EINVAL);
	n = http_build_error(599, true, NULL, out, sizeof(out));
	assert_true(n > 0);
	assert_memory_equal(out, "HTTP/1.1 599 Unknown\r\n", 22);
}

static void test_reasons(void **state)
{
	(void)state;
	assert_string_equal(http_reason(200), "OK");
	assert_string_equal(http_reason(400), "Bad Request");
	assert_string_equal(http_reason(403), "Forbidden");
	assert_string_equal(http_reason(405), "Method Not Allowed");
	assert_string_equal(http_reason(408), "Request Timeout");
	assert_string_equal(http_reason(429), "Too Many Requests");
	assert_string_equal(http_reason(431), "Request Header Fields Too Large");
	assert_string_equal(http_reason(500), "Internal Server Error");
	assert_string_equal(http_reason(501), "Not Implemented");
	assert_string_equal(http_reason(503), "Service Unavailable");
	assert_string_equal(http_reason(504), "Gateway Timeout");
	assert_string_equal(http_reason(521), "Web Server Is Down");
	assert_string_equal(http_reason(522), "Connection Timed Out");
	assert_string_equal(http_reason(523), "Origin Is Unreachable");
	assert_string_equal(http_reason(525), "SSL Handshake Failed");
	assert_string_equal(http_reason(530), "Origin DNS Error");
	assert_string_equal(http_reason(524), "Unknown");
	assert_string_equal(http_reason(-1), "Unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origin_rewrite),	 cmocka_unit_test(test_absolute_kept),
		cmocka_unit_test(test_hop_by_hop),	 cmocka_unit_test(test_host_synthesis),
		cmocka_unit_test(test_forward_response), cmocka_unit_test(test_no_space),
		cmocka_unit_test(test_error_replies),	 cmocka_unit_test(test_reasons),
	};
	return cmocka_run_group_tests(tests, NULL, ht_teardown);
}
