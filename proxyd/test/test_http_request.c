/* http_parse_request(): well-formed requests of every target form, the
 * connection flags, header access, incremental feeding and size limits. */
#include "proxyd/test/http_test.h"

static struct http_request req;

static void test_absolute_get(void **state)
{
	(void)state;
	const char *s = "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\n"
			"Host: example.com:8080\r\n"
			"User-Agent: curl/8.0\r\n"
			"Accept: */*\r\n"
			"Proxy-Connection: Keep-Alive\r\n"
			"\r\n";

	assert_int_equal(ht_req(s, &req), PARSE_OK);
	assert_int_equal(req.method, HTTP_M_GET);
	assert_slice(req.method_str, "GET");
	assert_slice(req.target_raw, "http://example.com:8080/a/b?c=d");
	assert_int_equal(req.target.form, HTTP_TGT_ABSOLUTE);
	assert_true(http_target_scheme_is(&req.target, "http"));
	assert_slice(req.target.host, "example.com");
	assert_int_equal(req.target.port, 8080);
	assert_false(req.target.host_is_ip);
	assert_slice(req.target.path, "/a/b?c=d");
	assert_int_equal(req.target.userinfo.len, 0);
	assert_int_equal(req.minor, 1);
	assert_int_equal(req.nheaders, 4);
	assert_slice(req.headers[2].name, "Accept");
	assert_slice(req.headers[2].value, "*/*");
	assert_int_equal(req.head_len, strlen(s));
	assert_int_equal(req.body, HTTP_BODY_NONE);
	assert_true(req.keep_alive);
	assert_false(req.expect_continue);
	assert_false(req.upgrade);
	assert_true(req.has_host);
	assert_slice(req.host_hdr, "example.com:8080");
	assert_slice(req.user_agent, "curl/8.0");
	assert_int_equal(req.proxy_authorization.len, 0);
}

static void test_default_ports_and_paths(void **state)
{
	(void)state;

	assert_int_equal(ht_req("GET http://a.example HTTP/1.1\r\nHost: a.example\r\n\r\n", &req),
			 PARSE_OK);
	assert_int_equal(req.target.port, 80);
	assert_slice(req.target.path, "/");
	assert_int_equal(ht_req("GET HTTPS://a.example?q HTTP/1.1\r\n\r\n", &req), PARSE_OK);
	assert_int_equal(req.target.port, 443);
	assert_true(http_target_scheme_is(&req.target, "https"));
	assert_slice(req.target.scheme, "HTTPS");
	assert_slice(req.target.path, "?q");
	assert_int_equal(ht_req("GET ftp://u:pw@ftp.example/pub/ HTTP/1.1\r\n\r\n", &req),
			 PARSE_OK);
	assert_int_equal(req.target.port, 21);
	assert_slice(req.target.userinfo, "u:pw");
	assert_slice(req.target.host, "ftp.example");
	assert_slice(req.target.path, "/pub/");
	/* a scheme without a known default keeps port 0 for the caller to refuse */
	assert_int_equal(ht_req("GET gopher://g.example/ HTTP/1.1\r\n\r\n", &req), PARSE_OK);
	assert_int_equal(req.target.port, 0);
	assert_int_equal(ht_req("GET gopher://g.example:70/ HTTP/1.1\r\n\r\n", &req), PARSE_OK);
	assert_int_equal(req.target.port, 70);
}

static void test_origin_form(void **state)
{
	(void)state;

	assert_int_equal(ht_req("GET /index.html?x=1 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n", &req),
			 PARSE_OK);
	assert_int_equal(req.target.form, HTTP_TGT_ORIGIN);
	assert_slice(req.target.path, "/index.html?x=1");
	assert_slice(req.target.host, "::1");
	assert_int_equal(req.target.port, 8443);
	assert_true(req.target.host_is_ip);
	assert_int_equal(req.target.scheme.len, 0);

	assert_int_equal(ht_req("GET / HTTP/1.1\r\nHost: www.example\r\n\r\n", &req), PARSE_OK);
	assert_slice(req.target.host, "www.example");
	assert_int_equal(req.target.port, 80);
	/* an empty Host is allowed (RFC 9110 §7.2); the host stays unknown */
	assert_int_equal(ht_req("GET / HTTP/1.1\r\nHost:\r\n\r\n", &req), PARSE_OK);
	assert_true(req.has_host);
	assert_int_equal(req.target.host.len, 0);
	assert_int_equal(req.target.port, 0);
	/* HTTP/1.0 needs no Host */
	assert_int_equal(ht_req("GET / HTTP/1.0\r\n\r\n", &req), PARSE_OK);
	assert_false(req.has_host);
	assert_false(req.keep_alive);
}

static void test_connect_and_asterisk(void **state)
{
	(void)state;

	assert_int_equal(ht_req("CONNECT example.com:443 HTTP/1.1\r\n"
				"Host: example.com:443\r\n\r\n",
				&req),
			 PARSE_OK);
	assert_int_equal(req.method, HTTP_M_CONNECT);
	assert_int_equal(req.target.form, HTTP_TGT_AUTHORITY);
	assert_slice(req.target.host, "example.com");
	assert_int_equal(req.target.port, 443);
	assert_int_equal(req.body, HTTP_BODY_NONE);
	assert_int_equal(req.target.path.len, 0);
	/* no port: 443 as g3 does; IPv6 literal */
	assert_int_equal(ht_req("CONNECT [2001:db8::1] HTTP/1.1\r\n\r\n", &req), PARSE_OK);
	assert_slice(req.target.host, "2001:db8::1");
	assert_true(req.target.host_is_ip);
	assert_int_equal(req.target.port, 443);
	assert_int_equal(ht_req("CONNECT 10.0.0.1:22 HTTP/1.0\r\n\r\n", &req), PARSE_OK);
	assert_true(req.target.host_is_ip);
	assert_int_equal(req.target.port, 22);
	/* "Content-Length: 0" on CONNECT (some Java clients) is harmless */
	assert_int_equal(
		ht_req("CONNECT a.example:443 HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &req),
		PARSE_OK);
	assert_int_equal(req.body, HTTP_BODY_NONE);

	assert_int_equal(ht_req("OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n", &req), PARSE_OK);
	assert_int_equal(req.method, HTTP_M_OPTIONS);
	assert_int_equal(req.target.form, HTTP_TGT_ASTERISK);
}

static void test_methods(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		enum http_method m;
	} cases[] = {
		{"GET", HTTP_M_GET},	 {"HEAD", HTTP_M_HEAD},	     {"POST", HTTP_M_POST},
		{"PUT", HTTP_M_PUT},	 {"DELETE", HTTP_M_DELETE},  {"OPTIONS", HTTP_M_OPTIONS},
		{"TRACE", HTTP_M_TRACE}, {"PATCH", HTTP_M_PATCH},    {"PROPFIND", HTTP_M_OTHER},
		{"get", HTTP_M_OTHER},	 {"M-SEARCH", HTTP_M_OTHER},
	};
	char buf[128];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(buf, sizeof(buf), "%s /x HTTP/1.1\r\nHost: h\r\n\r\n", cases[i].name);
		assert_int_equal(ht_req(buf, &req), PARSE_OK);
		assert_int_equal(req.method, cases[i].m);
		assert_slice(req.method_str, cases[i].name);
	}
}

static void test_bodies(void **state)
{
	(void)state;

	assert_int_equal(ht_req("POST http://h/ HTTP/1.1\r\nContent-Length: 0042\r\n\r\n", &req),
			 PARSE_OK);
	assert_int_equal(req.body, HTTP_BODY_LENGTH);
	assert_int_equal(req.content_length, 42);
	assert_int_equal(ht_req("POST http://h/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &req),
			 PARSE_OK);
	assert_int_equal(req.body, HTTP_BODY_LENGTH);
	assert_int_equal(req.content_length, 0);
	assert_int_equal(ht_req("POST http://h/ HTTP/1.1\r\n"
				"Content-Length: 9223372036854775807\r\n\r\n",
				&req),
			 PARSE_OK);
	assert_int_equal(req.content_length, INT64_MAX);
	assert_int_equal(
		ht_req("PUT http://h/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", &req),
		PARSE_OK);
	assert_int_equal(req.body, HTTP_BODY_CHUNKED);
	/* codings over several lines combine; chunked must come last */
	assert_int_equal(ht_req("PUT http://h/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
				"Transfer-Encoding: chunked\r\n\r\n",
				&req),
			 PARSE_OK);
	assert_int_equal(req.body, HTTP_BODY_CHUNKED);
	assert_int_equal(ht_req("GET http://h/ HTTP/1.1\r\n\r\n", &req), PARSE_OK);
	assert_int_equal(req.body, HTTP_BODY_NONE);
}

static void test_keep_alive_matrix(void **state)
{
	(void)state;
	static const struct {
		const char *ver, *hdrs;
		bool ka;
	} cases[] = {
		{"1.1", "", true},
		{"1.1", "Connection: close\r\n", false},
		{"1.1", "Connection: Keep-Alive, CLOSE\r\n", false},
		{"1.1", "Proxy-Connection: close\r\n", false},
		{"1.0", "", false},
		{"1.0", "Connection: keep-alive\r\n", true},
		{"1.0", "Proxy-Connection: Keep-Alive\r\n", true},
		{"1.0", "Connection: keep-alive\r\nProxy-Connection: close\r\n", false},
		{"1.0", "Connection: foo,, keep-alive \r\n", true},
	};
	char buf[256];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(buf, sizeof(buf), "GET http://h/ HTTP/%s\r\n%s\r\n", cases[i].ver,
			 cases[i].hdrs);
		assert_int_equal(ht_req(buf, &req), PARSE_OK);
		if (req.keep_alive != cases[i].ka)
			fail_msg("case %zu: keep_alive %d", i, req.keep_alive);
	}
}

static void test_expect_and_upgrade(void **state)
{
	(void)state;

	assert_int_equal(ht_req("PUT http://h/ HTTP/1.1\r\nExpect: 100-Continue\r\n"
				"Content-Length: 5\r\n\r\n",
				&req),
			 PARSE_OK);
	assert_true(req.expect_continue);
	/* HTTP/1.0 Expect is ignored (RFC 9110 §10.1.1) */
	assert_int_equal(ht_req("PUT http://h/ HTTP/1.0\r\nExpect: 100-continue\r\n"
				"Content-Length: 5\r\n\r\n",
				&req),
			 PARSE_OK);
	assert_false(req.expect_continue);

	assert_int_equal(ht_req("GET http://h/chat HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\n"
				"Upgrade: websocket, foo/2\r\nSec-WebSocket-Key: x\r\n\r\n",
				&req),
			 PARSE_OK);
	assert_true(req.upgrade);
	assert_slice(req.upgrade_proto, "websocket");
	/* an Upgrade header alone, or Connection: upgrade alone, is no upgrade */
	assert_int_equal(ht_req("GET http://h/ HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", &req),
			 PARSE_OK);
	assert_false(req.upgrade);
	assert_int_equal(req.upgrade_proto.len, 0);
	assert_int_equal(ht_req("GET http://h/ HTTP/1.1\r\nConnection: upgrade\r\n\r\n", &req),
			 PARSE_OK);
	assert_false(req.upgrade);
	assert_int_equal(ht_req("GET http://h/ HTTP/1.1\r\nProxy-Connection: upgrade\r\n"
				"Upgrade: websocket\r\n\r\n",
				&req),
			 PARSE_OK);
	assert_false(req.upgrade);
	assert_int_equal(ht_req("GET http://h/ HTTP/1.0\r\nConnection: upgrade\r\n"
				"Upgrade: websocket\r\n\r\n",
				&req),
			 PARSE_OK);
	assert_false(req.upgrade);
}

static void test_header_access(void **state)
{
	(void)state;
	struct slice v;

	assert_int_equal(ht_req("GET http://h/ HTTP/1.1\r\nX-A:1\r\nx-a: \t 2 \t\r\n"
				"Proxy-Authorization: Basic dTpw\r\n"
				"Proxy-Authorization: Basic other\r\nEmpty:\r\n"
				"Obs: caf\xc3\xa9\r\n\r\n",
				&req),
			 PARSE_OK);
	assert_true(http_request_header(&req, "x-A", &v));
	assert_slice(v, "1");
	assert_slice(req.headers[1].value, "2");
	assert_slice(req.proxy_authorization, "Basic dTpw");
	assert_true(http_request_header(&req, "empty", &v));
	assert_int_equal(v.len, 0);
	assert_true(http_request_header(&req, "obs", &v));
	assert_slice(v, "caf\xc3\xa9");
	assert_false(http_request_header(&req, "Host", &v));
	assert_false(http_request_header(&req, "X-", NULL));
	assert_true(http_request_header(&req, "X-a", NULL));
}

static void test_leading_crlf_and_pipelining(void **state)
{
	(void)state;
	const char *two = "\r\n\r\nGET http://h/1 HTTP/1.1\r\n\r\nGET http://h/2 HTTP/1.1\r\n\r\n";
	size_t first = strlen("\r\n\r\nGET http://h/1 HTTP/1.1\r\n\r\n");
	struct http_request r2;

	assert_int_equal(ht_req(two, &req), PARSE_OK);
	assert_int_equal(req.head_len, first);
	assert_slice(req.target.path, "/1");
	assert_int_equal(http_parse_request(ht_buf + first, ht_len - first, MAX_HEAD, &r2, NULL),
			 PARSE_OK);
	assert_slice(r2.target.path, "/2");
	/* the bytes after the head (a body, the next request) are not looked at */
	assert_int_equal(
		ht_req("POST http://h/ HTTP/1.1\r\nContent-Length: 3\r\n\r\n\x01\n\r", &req),
		PARSE_OK);
	assert_int_equal(req.head_len, ht_len - 3);
}

static void test_incremental(void **state)
{
	(void)state;
	const char *s = "GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n";

	/* ht_req checks every prefix; here the verdicts are spelled out */
	for (size_t n = 0; n < strlen(s); n++)
		assert_int_equal(http_parse_request((const uint8_t *)s, n, MAX_HEAD, &req, &ht_why),
				 PARSE_AGAIN);
	assert_null(ht_why);
	assert_int_equal(http_parse_request((const uint8_t *)s, strlen(s), MAX_HEAD, &req, &ht_why),
			 PARSE_OK);
	/* an invalid start is refused before the end of the head arrives */
	assert_int_equal(
		http_parse_request((const uint8_t *)"\x16\x03\x01", 3, MAX_HEAD, &req, &ht_why),
		PARSE_INVALID);
	assert_string_equal(ht_why, "invalid method");
	assert_int_equal(
		http_parse_request((const uint8_t *)"PRI * HTTP/2", 12, MAX_HEAD, &req, &ht_why),
		PARSE_INVALID);
	assert_string_equal(ht_why, "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)");
	/* nothing at all yet */
	assert_int_equal(http_parse_request(NULL, 0, MAX_HEAD, &req, &ht_why), PARSE_AGAIN);
	assert_int_equal(http_parse_request((const uint8_t *)"\r\n\r", 3, MAX_HEAD, &req, NULL),
			 PARSE_AGAIN);
}

static void test_max_boundaries(void **state)
{
	(void)state;
	const char *s = "GET http://h/ HTTP/1.1\r\nX: 12345\r\n\r\n";
	size_t n = strlen(s);

	/* exactly at the limit: accepted; one over: too big */
	assert_int_equal(ht_req_n(s, n, n, &req), PARSE_OK);
	assert_int_equal(req.head_len, n);
	assert_int_equal(ht_req_n(s, n, n - 1, &req), PARSE_TOO_BIG);
	assert_string_equal(ht_why, "head exceeds the maximum size");
	/* more buffered than max but the head fits: fine */
	const char *b = "GET http://h/ HTTP/1.1\r\n\r\nBODYBODY";
	assert_int_equal(ht_req_n(b, strlen(b), strlen(b) - 8, &req), PARSE_OK);
	assert_int_equal(req.head_len, strlen(b) - 8);
	assert_int_equal(ht_req_n(b, strlen(b), strlen(b) - 9, &req), PARSE_TOO_BIG);
	/* a request line longer than max */
	assert_int_equal(ht_req_n("GET http://h/aaaaaaaaaaaaaaaa", 29, 20, &req), PARSE_TOO_BIG);
	/* incomplete and below max: wait */
	assert_int_equal(ht_req_n(s, n - 1, n, &req), PARSE_AGAIN);
}

static void test_header_count_limit(void **state)
{
	(void)state;
	static char buf[8192];
	size_t off = (size_t)snprintf(buf, sizeof(buf), "GET http://h/ HTTP/1.1\r\n");

	for (int i = 0; i < HTTP_MAX_HEADERS; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "X-%d: v\r\n", i);
	snprintf(buf + off, sizeof(buf) - off, "\r\n");
	assert_int_equal(ht_req(buf, &req), PARSE_OK);
	assert_int_equal(req.nheaders, HTTP_MAX_HEADERS);
	assert_slice(req.headers[HTTP_MAX_HEADERS - 1].name, "X-127");
	snprintf(buf + off, sizeof(buf) - off, "One: more\r\n\r\n");
	assert_req_fails(buf, PARSE_TOO_BIG, "more than 128 header fields");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absolute_get),
		cmocka_unit_test(test_default_ports_and_paths),
		cmocka_unit_test(test_origin_form),
		cmocka_unit_test(test_connect_and_asterisk),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_keep_alive_matrix),
		cmocka_unit_test(test_expect_and_upgrade),
		cmocka_unit_test(test_header_access),
		cmocka_unit_test(test_leading_crlf_and_pipelining),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_max_boundaries),
		cmocka_unit_test(test_header_count_limit),
	};
	return cmocka_run_group_tests(tests, NULL, ht_teardown);
}
