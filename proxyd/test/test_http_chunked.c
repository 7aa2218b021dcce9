/* http_chunked_scan(): where a chunked body ends and which bodies are
 * refused; every case is fed whole, byte by byte and in odd splits, and the
 * three must agree on the verdict, the end offset and the reason. */
#include "proxyd/test/http_test.h"

struct verdict {
	enum parse_res r;
	size_t end; /* total bytes used (OK), offset of the bad byte (errors) */
	const char *why;
};

/* Feed p in pieces of step bytes (0: all at once). */
static struct verdict feed(const uint8_t *p, size_t len, size_t max_line, size_t step)
{
	struct http_chunked c;
	struct verdict v = {PARSE_AGAIN, 0, NULL};
	size_t off = 0;

	http_chunked_init(&c, max_line);
	while (off < len) {
		size_t n = step ? MIN(step, len - off) : len - off, used = 0;

		v.r = http_chunked_scan(&c, p + off, n, &used, &v.why);
		if (v.r != PARSE_AGAIN) {
			v.end = off + used;
			assert_true(used <= n);
			if (v.r == PARSE_OK)
				assert_true(http_chunked_done(&c));
			return v;
		}
		assert_int_equal(used, n);
		assert_null(v.why);
		off += n;
	}
	v.end = len;
	return v;
}

/* Scan s (len bytes) with max_line; all feeding patterns must agree. */
static struct verdict scan_n(const char *s, size_t len, size_t max_line)
{
	const uint8_t *p = ht_copy(s, len);
	struct verdict all = feed(p, len, max_line, 0);
	static const size_t steps[] = {1, 2, 3, 7};

	for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
		struct verdict v = feed(p, len, max_line, steps[i]);
		if (v.r != all.r || v.end != all.end ||
		    (v.why != all.why && (!v.why || !all.why || strcmp(v.why, all.why) != 0)))
			fail_msg("step %zu: %d at %zu (%s), whole: %d at %zu (%s)", steps[i], v.r,
				 v.end, v.why ? v.why : "-", all.r, all.end,
				 all.why ? all.why : "-");
	}
	return all;
}

static struct verdict scan(const char *s)
{
	return scan_n(s, strlen(s), 8192);
}

#define assert_chunked_ok(s, want_end)                \
	do {                                          \
		struct verdict v_ = scan(s);          \
		assert_int_equal(v_.r, PARSE_OK);     \
		assert_int_equal(v_.end, (want_end)); \
	} while (0)

#define assert_chunked_bad(s, res, at, reason)         \
	do {                                           \
		struct verdict v_ = scan(s);           \
		assert_int_equal(v_.r, (res));         \
		assert_int_equal(v_.end, (at));        \
		assert_string_equal(v_.why, (reason)); \
	} while (0)

static void test_simple_bodies(void **state)
{
	(void)state;
	const char *s = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

	assert_chunked_ok(s, strlen(s));
	assert_chunked_ok("0\r\n\r\n", 5);
	/* data may hold anything, including what looks like the end */
	static const char tricky[] = "c\r\n"
				     "\r\n0\r\n\r\n\x00\xff\n\r\r" /* 12 data bytes */
				     "\r\n0\r\n\r\n";
	assert_int_equal(scan_n(tricky, sizeof(tricky) - 1, 8192).r, PARSE_OK);
	assert_int_equal(scan_n(tricky, sizeof(tricky) - 1, 8192).end, 22);
	/* incomplete bodies wait */
	assert_int_equal(scan("5\r\nhel").r, PARSE_AGAIN);
	assert_int_equal(scan("5\r\nhello\r\n0\r\n\r").r, PARSE_AGAIN);
	assert_int_equal(scan("").r, PARSE_AGAIN);
}

static void test_sizes(void **state)
{
	(void)state;
	char big[300];

	/* upper- and lower-case hex, leading zeros */
	memset(big, 'x', sizeof(big));
	snprintf(big, sizeof(big), "FF\r\n");
	big[4] = 'x';
	snprintf(big + 4 + 255, sizeof(big) - 4 - 255, "\r\n0\r\n\r\n");
	assert_int_equal(scan_n(big, 266, 8192).r, PARSE_OK);
	assert_int_equal(scan_n(big, 266, 8192).end, 266);
	big[0] = 'f';
	assert_int_equal(scan_n(big, 266, 8192).end, 266);
	/* one data byte more than FF: no CRLF where it belongs */
	big[1] = 'E';
	assert_int_equal(scan_n(big, 266, 8192).r, PARSE_INVALID);
	assert_int_equal(scan_n(big, 266, 8192).end, 4 + 254);
	assert_chunked_ok("0005\r\nhello\r\n000\r\n\r\n", 20);
	assert_chunked_ok("00000000000000000000000001\r\nx\r\n0\r\n\r\n", 36);
	/* the largest size accepted is INT64_MAX: a valid prefix */
	assert_int_equal(scan("7fffffffffffffff\r\nabc").r, PARSE_AGAIN);
	assert_chunked_bad("8000000000000000\r\n", PARSE_INVALID, 15, "chunk size overflow");
	assert_chunked_bad("ffffffffffffffffff\r\n", PARSE_INVALID, 15, "chunk size overflow");
	assert_chunked_bad("1000000000000000000000\r\n", PARSE_INVALID, 16, "chunk size overflow");
	/* not a size */
	assert_chunked_bad("\r\n", PARSE_INVALID, 0, "invalid chunk size");
	assert_chunked_bad("x\r\n", PARSE_INVALID, 0, "invalid chunk size");
	assert_chunked_bad("-5\r\n", PARSE_INVALID, 0, "invalid chunk size");
	assert_chunked_bad("+5\r\n", PARSE_INVALID, 0, "invalid chunk size");
	assert_chunked_bad("0x5\r\n", PARSE_INVALID, 1, "invalid chunk size");
	assert_chunked_bad(" 5\r\n", PARSE_INVALID, 0, "invalid chunk size");
	assert_chunked_bad("5 \r\nhello", PARSE_INVALID, 2, "invalid chunk size");
	assert_chunked_bad("5 x\r\n", PARSE_INVALID, 2, "invalid chunk size");
	assert_chunked_bad("5,\r\n", PARSE_INVALID, 1, "invalid chunk size");
}

static void test_extensions(void **state)
{
	(void)state;
	const char *s = "5;name=val;q=\"a;b\"\r\nhello\r\n5 ; x\r\nworld\r\n0;last\r\n\r\n";

	assert_chunked_ok(s, strlen(s));
	assert_chunked_bad("5;a\nhello", PARSE_INVALID, 3, "bare LF in chunked body");
	assert_chunked_bad("5;a\x01\r\n", PARSE_INVALID, 3, "control byte in chunk extension");
	assert_chunked_bad("5;a\rb\n", PARSE_INVALID, 4, "bare CR in chunked body");
}

static void test_missing_crlf(void **state)
{
	(void)state;

	assert_chunked_bad("5\nhello\r\n", PARSE_INVALID, 1, "bare LF in chunked body");
	assert_chunked_bad("5\rhello\r\n", PARSE_INVALID, 2, "bare CR in chunked body");
	assert_chunked_bad("5\r\nhelloX\r\n0\r\n\r\n", PARSE_INVALID, 8,
			   "missing CRLF after chunk data");
	assert_chunked_bad("5\r\nhello\n0\r\n\r\n", PARSE_INVALID, 8,
			   "missing CRLF after chunk data");
	assert_chunked_bad("5\r\nhello\rX", PARSE_INVALID, 9, "missing CRLF after chunk data");
	assert_chunked_bad("5\r\nhello\r\n0\r\n\n", PARSE_INVALID, 13, "bare LF in chunked body");
	assert_chunked_bad("0\r\n\rX", PARSE_INVALID, 4, "bare CR in chunked body");
	/* a body sized one byte short of its data */
	assert_chunked_bad("4\r\nhello\r\n0\r\n\r\n", PARSE_INVALID, 7,
			   "missing CRLF after chunk data");
}

static void test_trailers(void **state)
{
	(void)state;
	const char *s = "3\r\nabc\r\n0\r\nX-Checksum: 1234\r\nEmpty:\r\nObs: caf\xc3\xa9\r\n\r\n";

	assert_chunked_ok(s, strlen(s));
	assert_chunked_bad("0\r\n folded: x\r\n\r\n", PARSE_INVALID, 3, "obs-fold in trailer");
	assert_chunked_bad("0\r\n\tX: y\r\n\r\n", PARSE_INVALID, 3, "obs-fold in trailer");
	assert_chunked_bad("0\r\nNoColon\r\n\r\n", PARSE_INVALID, 10, "malformed trailer field");
	assert_chunked_bad("0\r\n: v\r\n\r\n", PARSE_INVALID, 3, "malformed trailer field");
	assert_chunked_bad("0\r\nX : v\r\n\r\n", PARSE_INVALID, 4, "malformed trailer field");
	assert_chunked_bad("0\r\nX: a\x7f\r\n\r\n", PARSE_INVALID, 7,
			   "control byte in trailer field");
	assert_chunked_bad("0\r\nX: a\nY: b\r\n\r\n", PARSE_INVALID, 7, "bare LF in chunked body");
	assert_chunked_bad("0\r\nX: a\rY: b\r\n\r\n", PARSE_INVALID, 8, "bare CR in chunked body");
}

static void test_line_limits(void **state)
{
	(void)state;
	/* max_line 8: "5;abcdef" is exactly 8 bytes before CRLF */
	assert_int_equal(scan_n("5;abcdef\r\nhello\r\n0\r\n\r\n", 22, 8).r, PARSE_OK);
	struct verdict v = scan_n("5;abcdefg\r\nhello\r\n0\r\n\r\n", 23, 8);
	assert_int_equal(v.r, PARSE_INVALID);
	assert_int_equal(v.end, 8);
	assert_string_equal(v.why, "chunk size line too long");
	/* leading zeros count too */
	v = scan_n("000000005\r\n", 11, 8);
	assert_int_equal(v.r, PARSE_INVALID);
	assert_string_equal(v.why, "chunk size line too long");
	/* a trailer line of 8 bytes passes, of 9 is refused */
	assert_int_equal(scan_n("0\r\nX: 12345\r\n\r\n", 15, 8).r, PARSE_OK);
	v = scan_n("0\r\nX: 123456\r\n\r\n", 16, 8);
	assert_int_equal(v.r, PARSE_INVALID);
	assert_int_equal(v.end, 11);
	assert_string_equal(v.why, "trailer line too long");
	/* trailers: max_line * 8 = 64 bytes, CRLFs included: 7 lines of
	 * "A: 1234\r\n" (9 bytes) are 63; then "A" is the 64th, "B" too many */
	static const char ok6[] = "0\r\nA: 1234\r\nA: 1234\r\nA: 1234\r\nA: 1234\r\nA: 1234\r\n"
				  "A: 1234\r\nA: 1234\r\n\r\n";
	assert_int_equal(scan_n(ok6, sizeof(ok6) - 1, 8).r, PARSE_OK); /* 63 bytes */
	static const char over[] = "0\r\nA: 1234\r\nA: 1234\r\nA: 1234\r\nA: 1234\r\nA: 1234\r\n"
				   "A: 1234\r\nA: 1234\r\nAB\r\n\r\n";
	v = scan_n(over, sizeof(over) - 1, 8);
	assert_int_equal(v.r, PARSE_TOO_BIG);
	assert_int_equal(v.end, 3 + 64);
	assert_string_equal(v.why, "trailer section too large");
}

static void test_pipelined_and_after_end(void **state)
{
	(void)state;
	const char *s = "3\r\nabc\r\n0\r\n\r\nGET http://h/ HTTP/1.1\r\n\r\n";
	struct http_chunked c;
	size_t used;
	const char *why;
	struct http_request req;

	assert_chunked_ok(s, 13);
	http_chunked_init(&c, 8192);
	assert_int_equal(http_chunked_scan(&c, (const uint8_t *)s, strlen(s), &used, &why),
			 PARSE_OK);
	assert_int_equal(used, 13);
	assert_int_equal(http_parse_request((const uint8_t *)s + used, strlen(s) - used, MAX_HEAD,
					    &req, &why),
			 PARSE_OK);
	assert_int_equal(req.method, HTTP_M_GET);
	assert_int_equal(c.chunks, 2);
	/* after the end: OK, nothing used */
	assert_int_equal(http_chunked_scan(&c, (const uint8_t *)"xx", 2, &used, &why), PARSE_OK);
	assert_int_equal(used, 0);
	/* after a failure: it stays failed */
	http_chunked_init(&c, 8192);
	assert_int_equal(http_chunked_scan(&c, (const uint8_t *)"z", 1, &used, &why),
			 PARSE_INVALID);
	assert_int_equal(http_chunked_scan(&c, (const uint8_t *)"0\r\n\r\n", 5, &used, &why),
			 PARSE_INVALID);
	assert_string_equal(why, "chunked body already failed");
	/* empty input leaves the state alone */
	http_chunked_init(&c, 8192);
	assert_int_equal(http_chunked_scan(&c, NULL, 0, &used, NULL), PARSE_AGAIN);
	assert_int_equal(used, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_bodies),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_missing_crlf),
		cmocka_unit_test(test_trailers),
		cmocka_unit_test(test_line_limits),
		cmocka_unit_test(test_pipelined_and_after_end),
	};
	return cmocka_run_group_tests(tests, NULL, ht_teardown);
}
