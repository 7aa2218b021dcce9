/* http_parse_response(): status lines, the body length rules of RFC 9112
 * §6.3 for each status and request method, keep-alive, limits. */
#include "proxyd/test/http_test.h"

static struct http_response rsp;

static void test_status_line(void **state)
{
	(void)state;
	struct slice v;

	assert_int_equal(ht_rsp("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: x\r\n\r\nhi",
				HTTP_M_GET, &rsp),
			 PARSE_OK);
	assert_int_equal(rsp.status, 200);
	assert_int_equal(rsp.minor, 1);
	assert_slice(rsp.reason, "OK");
	assert_int_equal(rsp.nheaders, 2);
	assert_int_equal(rsp.head_len, ht_len - 2);
	assert_true(http_response_header(&rsp, "server", &v));
	assert_slice(v, "x");
	assert_false(http_response_header(&rsp, "date", NULL));

	assert_int_equal(ht_rsp("HTTP/1.0 404 Not  Found \t\r\n\r\n", HTTP_M_GET, &rsp), PARSE_OK);
	assert_int_equal(rsp.status, 404);
	assert_slice(rsp.reason, "Not  Found \t");
	/* the SP before an empty reason may be missing */
	assert_int_equal(ht_rsp("HTTP/1.1 204\r\n\r\n", HTTP_M_GET, &rsp), PARSE_OK);
	assert_int_equal(rsp.status, 204);
	assert_int_equal(rsp.reason.len, 0);
	assert_int_equal(ht_rsp("HTTP/1.1 599 \r\n\r\n", HTTP_M_GET, &rsp), PARSE_OK);
	assert_int_equal(rsp.status, 599);
	assert_int_equal(ht_rsp("HTTP/1.1 200 caf\xc3\xa9\r\n\r\n", HTTP_M_GET, &rsp), PARSE_OK);
}

static void test_bad_status_lines(void **state)
{
	(void)state;
	const char *vers = "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)";

	assert_rsp_fails("HTTP/2 200 OK\r\n\r\n", HTTP_M_GET, vers);
	assert_rsp_fails("HTTP/1.2 200 OK\r\n\r\n", HTTP_M_GET, vers);
	assert_rsp_fails("ICY 200 OK\r\n\r\n", HTTP_M_GET, vers);
	assert_rsp_fails("HTTP/1.1  200 OK\r\n\r\n", HTTP_M_GET, "invalid status code");
	assert_rsp_fails("HTTP/1.1 20 OK\r\n\r\n", HTTP_M_GET, "invalid status code");
	assert_rsp_fails("HTTP/1.1 2000 OK\r\n\r\n", HTTP_M_GET, "invalid status code");
	assert_rsp_fails("HTTP/1.1 099 OK\r\n\r\n", HTTP_M_GET, "invalid status code");
	assert_rsp_fails("HTTP/1.1 600 OK\r\n\r\n", HTTP_M_GET, "invalid status code");
	assert_rsp_fails("HTTP/1.1 2x0 OK\r\n\r\n", HTTP_M_GET, "invalid status code");
	assert_rsp_fails("HTTP/1.1\t200 OK\r\n\r\n", HTTP_M_GET, "malformed status line");
	assert_rsp_fails("HTTP/1.1 200 O\x01K\r\n\r\n", HTTP_M_GET,
			 "invalid byte in reason phrase");
	assert_rsp_fails("HTTP/1.1 200 OK\n\r\n", HTTP_M_GET, "bare LF line ending");
	assert_rsp_fails("HTTP/1.1 200\n\r\n", HTTP_M_GET, "bare LF line ending");
	assert_rsp_fails("HTTP/1.1 200 OK\rX\r\n\r\n", HTTP_M_GET, "bare CR in head");
}

struct body_case {
	const char *head;
	enum http_method m;
	enum http_body body;
	uint64_t len;
	bool ka;
};

static void test_body_rules(void **state)
{
	(void)state;
	static const struct body_case cases[] = {
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", HTTP_M_GET, HTTP_BODY_LENGTH, 10,
		 true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", HTTP_M_GET, HTTP_BODY_LENGTH, 0,
		 true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HTTP_M_GET,
		 HTTP_BODY_CHUNKED, 0, true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", HTTP_M_GET, HTTP_BODY_EOF, 0,
		 false},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: x-custom\r\n\r\n", HTTP_M_POST,
		 HTTP_BODY_EOF, 0, false},
		/* no length at all: until close */
		{"HTTP/1.1 200 OK\r\n\r\n", HTTP_M_GET, HTTP_BODY_EOF, 0, false},
		{"HTTP/1.0 200 OK\r\n\r\n", HTTP_M_GET, HTTP_BODY_EOF, 0, false},
		/* HTTP/1.0 with Transfer-Encoding: faulty framing, until close */
		{"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
		 HTTP_M_GET, HTTP_BODY_EOF, 0, false},
		/* no body whatever the headers say */
		{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", HTTP_M_HEAD, HTTP_BODY_NONE, 0,
		 true},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_M_HEAD,
		 HTTP_BODY_NONE, 0, true},
		{"HTTP/1.1 200 OK\r\n\r\n", HTTP_M_HEAD, HTTP_BODY_NONE, 0, true},
		{"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", HTTP_M_GET,
		 HTTP_BODY_NONE, 0, true},
		{"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", HTTP_M_GET,
		 HTTP_BODY_NONE, 0, true},
		{"HTTP/1.1 100 Continue\r\n\r\n", HTTP_M_PUT, HTTP_BODY_NONE, 0, true},
		{"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", HTTP_M_GET, HTTP_BODY_NONE, 0,
		 true},
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", HTTP_M_GET,
		 HTTP_BODY_NONE, 0, true},
		/* 2xx to CONNECT: a tunnel; other statuses have bodies */
		{"HTTP/1.1 200 Connection established\r\n\r\n", HTTP_M_CONNECT, HTTP_BODY_NONE, 0,
		 true},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", HTTP_M_CONNECT, HTTP_BODY_NONE, 0,
		 true},
		{"HTTP/1.1 407 Auth\r\nContent-Length: 5\r\n\r\n", HTTP_M_CONNECT, HTTP_BODY_LENGTH,
		 5, true},
		{"HTTP/1.1 502 Bad\r\n\r\n", HTTP_M_CONNECT, HTTP_BODY_EOF, 0, false},
		/* keep-alive */
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n", HTTP_M_GET,
		 HTTP_BODY_LENGTH, 1, false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", HTTP_M_GET, HTTP_BODY_LENGTH, 1,
		 false},
		{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\nConnection: Keep-Alive\r\n\r\n",
		 HTTP_M_GET, HTTP_BODY_LENGTH, 1, true},
		/* Proxy-Connection means nothing in a response */
		{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nProxy-Connection: close\r\n\r\n",
		 HTTP_M_GET, HTTP_BODY_LENGTH, 1, true},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (ht_rsp(cases[i].head, cases[i].m, &rsp) != PARSE_OK)
			fail_msg("case %zu: %s", i, ht_why);
		if (rsp.body != cases[i].body || rsp.content_length != cases[i].len ||
		    rsp.keep_alive != cases[i].ka)
			fail_msg("case %zu: body %d len %llu keep-alive %d", i, rsp.body,
				 (unsigned long long)rsp.content_length, rsp.keep_alive);
	}
}

static void test_incremental_and_limits(void **state)
{
	(void)state;
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	size_t n = strlen(s);

	assert_int_equal(ht_rsp_n(s, n, n, HTTP_M_GET, &rsp), PARSE_OK);
	assert_int_equal(ht_rsp_n(s, n, n - 1, HTTP_M_GET, &rsp), PARSE_TOO_BIG);
	assert_string_equal(ht_why, "head exceeds the maximum size");
	assert_int_equal(ht_rsp_n(s, n - 1, n, HTTP_M_GET, &rsp), PARSE_AGAIN);
	assert_int_equal(http_parse_response((const uint8_t *)"HTTP/1.1 2", 10, 100, HTTP_M_GET,
					     &rsp, &ht_why),
			 PARSE_AGAIN);
	assert_null(ht_why);
	/* a 100 Continue followed by the final response in one buffer */
	s = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(ht_rsp(s, HTTP_M_PUT, &rsp), PARSE_OK);
	assert_int_equal(rsp.status, 100);
	size_t first = rsp.head_len;
	assert_int_equal(http_parse_response(ht_buf + first, ht_len - first, MAX_HEAD, HTTP_M_PUT,
					     &rsp, NULL),
			 PARSE_OK);
	assert_int_equal(rsp.status, 201);
	assert_int_equal(first + rsp.head_len, ht_len);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_bad_status_lines),
		cmocka_unit_test(test_body_rules),
		cmocka_unit_test(test_incremental_and_limits),
	};
	return cmocka_run_group_tests(tests, NULL, ht_teardown);
}
