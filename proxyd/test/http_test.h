/* Helpers for the proxyd/http unit tests: parse a string from an exact-size
 * heap copy (so ASan sees reads past the input) and check on the way that
 * every prefix gives PARSE_AGAIN or the very same verdict (byte-by-byte
 * feeding). Slices stay valid until the next parse. Header-only; each test
 * binary includes it once. */
#ifndef G3C_PROXYD_TEST_HTTP_TEST_H
#define G3C_PROXYD_TEST_HTTP_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxyd/http/http_parse.h"

#define S(lit) slice_make((lit), sizeof(lit) - 1)
#define MAX_HEAD 65536

static uint8_t *ht_buf;
static size_t ht_len;
static const char *ht_why;

static UNUSED const uint8_t *ht_copy(const char *s, size_t len)
{
	free(ht_buf);
	ht_buf = malloc(len ? len : 1);
	assert_non_null(ht_buf);
	memcpy(ht_buf, s, len);
	ht_len = len;
	return ht_buf;
}

static UNUSED int ht_teardown(void **state)
{
	(void)state;
	free(ht_buf);
	ht_buf = NULL;
	return 0;
}

/* Compare a prefix's verdict with the whole input's. */
static UNUSED void ht_same(enum parse_res full, const char *why, size_t head_len, enum parse_res r,
			   const char *w, size_t hl, size_t n)
{
	if (r == PARSE_AGAIN)
		return;
	if (r != full || (why && (!w || strcmp(w, why) != 0)) || (!why && w)) {
		print_error("prefix %zu: %d (%s) but whole input: %d (%s)\n", n, (int)r,
			    w ? w : "-", (int)full, why ? why : "-");
		fail();
	}
	if (r == PARSE_OK)
		assert_int_equal(hl, head_len);
}

/* Parse s[0..len) as a request with max; checks every prefix. */
static UNUSED enum parse_res ht_req_n(const char *s, size_t len, size_t max,
				      struct http_request *req)
{
	static struct http_request tmp;
	const uint8_t *p = ht_copy(s, len);
	enum parse_res full = http_parse_request(p, len, max, req, &ht_why);

	for (size_t n = 0; n < len; n++) {
		const char *w = NULL;
		enum parse_res r = http_parse_request(p, n, max, &tmp, &w);
		ht_same(full, ht_why, req->head_len, r, w, tmp.head_len, n);
	}
	if (full == PARSE_OK) {
		assert_true(req->head_len <= len && req->head_len <= max);
		assert_null(ht_why);
	} else if (full != PARSE_AGAIN) {
		assert_non_null(ht_why);
	}
	return full;
}

static UNUSED enum parse_res ht_req(const char *s, struct http_request *req)
{
	return ht_req_n(s, strlen(s), MAX_HEAD, req);
}

static UNUSED enum parse_res ht_rsp_n(const char *s, size_t len, size_t max, enum http_method m,
				      struct http_response *rsp)
{
	static struct http_response tmp;
	const uint8_t *p = ht_copy(s, len);
	enum parse_res full = http_parse_response(p, len, max, m, rsp, &ht_why);

	for (size_t n = 0; n < len; n++) {
		const char *w = NULL;
		enum parse_res r = http_parse_response(p, n, max, m, &tmp, &w);
		ht_same(full, ht_why, rsp->head_len, r, w, tmp.head_len, n);
	}
	if (full == PARSE_OK)
		assert_true(rsp->head_len <= len && rsp->head_len <= max);
	return full;
}

static UNUSED enum parse_res ht_rsp(const char *s, enum http_method m, struct http_response *rsp)
{
	return ht_rsp_n(s, strlen(s), MAX_HEAD, m, rsp);
}

/* The request must be refused with exactly this result and reason. */
#define assert_req_fails(s, res, reason)                   \
	do {                                               \
		static struct http_request r_;             \
		assert_int_equal(ht_req((s), &r_), (res)); \
		assert_string_equal(ht_why, (reason));     \
	} while (0)

#define assert_rsp_fails(s, m, reason)                                  \
	do {                                                            \
		static struct http_response r_;                         \
		assert_int_equal(ht_rsp((s), (m), &r_), PARSE_INVALID); \
		assert_string_equal(ht_why, (reason));                  \
	} while (0)

#define assert_slice(sl, str)                     \
	assert_true(slice_eq_cstr((sl), (str)) || \
		    (print_error("got '%.*s'\n", (int)(sl).len, (const char *)(sl).p), 0))

#endif
