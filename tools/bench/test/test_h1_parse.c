/* Unit tests for the HTTP/1.x response head parser and body framer:
 * every framing (length, chunked, close-delimited, none), byte-at-a-time
 * feeding, and malformed input refused. */
#include "tools/bench/h1_parse.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static enum parse_res head(const char *s, bool head_req, struct h1_head *h)
{
	return h1_head_parse(slice_make(s, strlen(s)), head_req, 65536, h);
}

static void test_content_length(void **state)
{
	const char *r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhelloNEXT";
	struct h1_head h;
	struct h1_body b;
	size_t used;

	(void)state;
	assert_int_equal(head(r, false, &h), PARSE_OK);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.minor, 1);
	assert_int_equal(h.body, H1_BODY_LENGTH);
	assert_int_equal(h.content_length, 5);
	assert_false(h.conn_close);
	assert_int_equal(h.head_len, strlen(r) - 9);
	h1_body_init(&b, &h);
	assert_int_equal(h1_body_feed(&b, slice_make(r + h.head_len, 3), &used), PARSE_AGAIN);
	assert_int_equal(used, 3);
	assert_int_equal(h1_body_feed(&b, slice_make(r + h.head_len + 3, 6), &used), PARSE_OK);
	assert_int_equal(used, 2);
}

static void test_no_body_cases(void **state)
{
	struct h1_head h;

	(void)state;
	assert_int_equal(head("HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", false, &h),
			 PARSE_OK);
	assert_int_equal(h.body, H1_BODY_NONE);
	assert_int_equal(head("HTTP/1.1 304 Not Modified\r\n\r\n", false, &h), PARSE_OK);
	assert_int_equal(h.body, H1_BODY_NONE);
	assert_false(h.conn_close);
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, &h),
			 PARSE_OK);
	assert_int_equal(h.body, H1_BODY_NONE);
	assert_int_equal(head("HTTP/1.1 100 Continue\r\n\r\n", false, &h), PARSE_OK);
	assert_int_equal(h.status, 100);
	assert_int_equal(h.body, H1_BODY_NONE);
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, &h), PARSE_OK);
	assert_int_equal(h.body, H1_BODY_NONE);
}

static void test_connection_semantics(void **state)
{
	struct h1_head h;

	(void)state;
	assert_int_equal(head("HTTP/1.1 200 OK\r\nConnection: keep-alive, Close\r\n"
			      "Content-Length: 1\r\n\r\n",
			      false, &h),
			 PARSE_OK);
	assert_true(h.conn_close);
	assert_int_equal(head("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false, &h), PARSE_OK);
	assert_true(h.conn_close);
	assert_int_equal(
		head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n",
		     false, &h),
		PARSE_OK);
	assert_false(h.conn_close);
	/* Neither length nor chunked: the close ends the body. */
	assert_int_equal(head("HTTP/1.1 200 OK\r\n\r\n", false, &h), PARSE_OK);
	assert_int_equal(h.body, H1_BODY_EOF);
	assert_true(h.conn_close);
	/* Transfer-Encoding wins over Content-Length. */
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n"
			      "Transfer-Encoding: gzip, chunked\r\n\r\n",
			      false, &h),
			 PARSE_OK);
	assert_int_equal(h.body, H1_BODY_CHUNKED);
	assert_int_equal(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, &h),
			 PARSE_OK);
	assert_int_equal(h.body, H1_BODY_EOF);
	assert_true(h.conn_close);
}

static void test_chunked_bytewise(void **state)
{
	const char *body = "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: ok\r\n\r\nNEXT";
	size_t blen = strlen(body) - 4, used;
	struct h1_head h = {.body = H1_BODY_CHUNKED};
	struct h1_body b;
	enum parse_res r = PARSE_AGAIN;

	(void)state;
	/* Whole. */
	h1_body_init(&b, &h);
	assert_int_equal(h1_body_feed(&b, slice_make(body, strlen(body)), &used), PARSE_OK);
	assert_int_equal(used, blen);
	/* One byte at a time. */
	h1_body_init(&b, &h);
	for (size_t i = 0; i < blen; i++) {
		assert_int_equal(r, PARSE_AGAIN);
		r = h1_body_feed(&b, slice_make(body + i, 1), &used);
		assert_int_equal(used, 1);
	}
	assert_int_equal(r, PARSE_OK);
}

static void test_chunked_invalid(void **state)
{
	static const char *const bad[] = {
		"x\r\n",		 /* not hex */
		"\r\n",			 /* no size */
		"5\r\nhelloXX",		 /* no CRLF after data */
		"5\nhello\r\n",		 /* bare LF */
		"1234567890abcdef0\r\n", /* size overflow */
		"0\r\n\n",		 /* bare LF at the end */
	};
	struct h1_head h = {.body = H1_BODY_CHUNKED};
	struct h1_body b;
	size_t used;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h1_body_init(&b, &h);
		if (h1_body_feed(&b, slice_make(bad[i], strlen(bad[i])), &used) != PARSE_INVALID)
			fail_msg("chunked '%s' accepted", bad[i]);
	}
}

static void test_head_invalid(void **state)
{
	static const char *const bad[] = {
		"this is not http\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 099 Low\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/2.0 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty name\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\n",
	};
	struct h1_head h;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (head(bad[i], false, &h) != PARSE_INVALID)
			fail_msg("head '%s' accepted", bad[i]);
	/* The same Content-Length twice is fine. */
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",
			      false, &h),
			 PARSE_OK);
}

static void test_head_incomplete_and_big(void **state)
{
	char big[300];
	struct h1_head h;

	(void)state;
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Len", false, &h), PARSE_AGAIN);
	assert_int_equal(head("", false, &h), PARSE_AGAIN);
	memset(big, 'a', sizeof(big));
	assert_int_equal(h1_head_parse(slice_make(big, sizeof(big)), false, 256, &h),
			 PARSE_TOO_BIG);
	assert_int_equal(h1_head_parse(slice_make(big, 100), false, 256, &h), PARSE_AGAIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_no_body_cases),
		cmocka_unit_test(test_connection_semantics),
		cmocka_unit_test(test_chunked_bytewise),
		cmocka_unit_test(test_chunked_invalid),
		cmocka_unit_test(test_head_invalid),
		cmocka_unit_test(test_head_incomplete_and_big),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
