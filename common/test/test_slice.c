/* slice.h: views, comparisons, splitting and number parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/slice.h"

#define S(lit) slice_make((lit), sizeof(lit) - 1)

static void test_cstr_and_eq(void **state)
{
	(void)state;
	struct slice a = slice_from_cstr("Host");

	assert_int_equal(a.len, 4);
	assert_true(slice_eq_cstr(a, "Host"));
	assert_false(slice_eq_cstr(a, "host"));
	assert_false(slice_eq_cstr(a, "Hos"));
	assert_true(slice_case_eq_cstr(a, "hOST"));
	assert_false(slice_case_eq_cstr(a, "hosts"));
	assert_int_equal(slice_from_cstr(NULL).len, 0);
	assert_true(slice_eq(slice_from_cstr(""), slice_make(NULL, 0)));
	/* only ASCII letters fold: '@' (0x40) and '`' (0x60) stay distinct */
	assert_false(slice_case_eq_cstr(S("@"), "`"));
	/* embedded NUL bytes are data, not terminators */
	assert_false(slice_eq(S("a\0b"), S("a\0c")));
	assert_true(slice_eq(S("a\0b"), S("a\0b")));
}

static void test_starts_with_find(void **state)
{
	(void)state;
	struct slice s = S("Content-Length: 12");

	assert_true(slice_starts_with(s, S("Content-")));
	assert_false(slice_starts_with(s, S("content-")));
	assert_true(slice_case_starts_with(s, S("content-length")));
	assert_true(slice_starts_with(s, S("")));
	assert_false(slice_starts_with(S("ab"), S("abc")));
	assert_int_equal(slice_find(s, ':'), 14);
	assert_int_equal(slice_find(s, 'x'), SLICE_NPOS);
	assert_int_equal(slice_find(slice_make(NULL, 0), 'x'), SLICE_NPOS);
}

static void test_trim_split(void **state)
{
	(void)state;
	struct slice h, t;

	assert_true(slice_eq_cstr(slice_trim(S(" \t a b \t")), "a b"));
	assert_int_equal(slice_trim(S(" \t ")).len, 0);
	/* CR is not OWS: it must stay visible to the caller */
	assert_true(slice_eq_cstr(slice_trim(S(" x\r")), "x\r"));

	assert_true(slice_split(S("Host: a:80"), ':', &h, &t));
	assert_true(slice_eq_cstr(h, "Host"));
	assert_true(slice_eq_cstr(t, " a:80"));

	assert_true(slice_split(S("k="), '=', &h, &t));
	assert_true(slice_eq_cstr(h, "k"));
	assert_int_equal(t.len, 0);

	assert_false(slice_split(S("novalue"), '=', &h, &t));
	assert_true(slice_eq_cstr(h, "novalue"));
	assert_int_equal(t.len, 0);

	/* head may alias the input */
	struct slice s = S("a,b,c");
	assert_true(slice_split(s, ',', NULL, &s));
	assert_true(slice_split(s, ',', &h, &s));
	assert_true(slice_eq_cstr(h, "b"));
	assert_true(slice_eq_cstr(s, "c"));

	assert_true(slice_eq_cstr(slice_sub(S("abcdef"), 2, 3), "cde"));
	assert_true(slice_eq_cstr(slice_sub(S("abcdef"), 4, 100), "ef"));
	assert_int_equal(slice_sub(S("abc"), 9, 1).len, 0);
	assert_true(slice_eq_cstr(slice_skip(S("abc"), 1), "bc"));
}

static void test_parse_dec(void **state)
{
	(void)state;
	uint64_t v = 7;

	assert_int_equal(slice_parse_u64(S("0"), UINT64_MAX, &v), PARSE_OK);
	assert_int_equal(v, 0);
	assert_int_equal(slice_parse_u64(S("65535"), 65535, &v), PARSE_OK);
	assert_int_equal(v, 65535);
	assert_int_equal(slice_parse_u64(S("00080"), 65535, &v), PARSE_OK);
	assert_int_equal(v, 80);
	v = 7;
	assert_int_equal(slice_parse_u64(S("65536"), 65535, &v), PARSE_TOO_BIG);
	assert_int_equal(v, 7); /* untouched on failure */
	assert_int_equal(slice_parse_u64(S("18446744073709551615"), UINT64_MAX, &v), PARSE_OK);
	assert_true(v == UINT64_MAX);
	assert_int_equal(slice_parse_u64(S("18446744073709551616"), UINT64_MAX, &v), PARSE_TOO_BIG);
	assert_int_equal(slice_parse_u64(S("99999999999999999999999"), UINT64_MAX, &v),
			 PARSE_TOO_BIG);
	assert_int_equal(slice_parse_u64(S("7"), 5, &v), PARSE_TOO_BIG);
	assert_int_equal(slice_parse_u64(S(""), 10, &v), PARSE_INVALID);
	assert_int_equal(slice_parse_u64(S("+1"), 10, &v), PARSE_INVALID);
	assert_int_equal(slice_parse_u64(S("-1"), 10, &v), PARSE_INVALID);
	assert_int_equal(slice_parse_u64(S(" 1"), 10, &v), PARSE_INVALID);
	assert_int_equal(slice_parse_u64(S("1a"), 10, &v), PARSE_INVALID);
	/* junk after an overflow is still junk */
	assert_int_equal(slice_parse_u64(S("99999999999999999999999x"), UINT64_MAX, &v),
			 PARSE_INVALID);
}

static void test_parse_hex(void **state)
{
	(void)state;
	uint64_t v = 0;

	assert_int_equal(slice_parse_hex_u64(S("1a2B"), UINT64_MAX, &v), PARSE_OK);
	assert_int_equal(v, 0x1a2b);
	assert_int_equal(slice_parse_hex_u64(S("ffffffffffffffff"), UINT64_MAX, &v), PARSE_OK);
	assert_true(v == UINT64_MAX);
	assert_int_equal(slice_parse_hex_u64(S("10000000000000000"), UINT64_MAX, &v),
			 PARSE_TOO_BIG);
	assert_int_equal(slice_parse_hex_u64(S("100"), 0xff, &v), PARSE_TOO_BIG);
	assert_int_equal(slice_parse_hex_u64(S("ff"), 0xff, &v), PARSE_OK);
	assert_int_equal(v, 255);
	assert_int_equal(slice_parse_hex_u64(S("0x10"), UINT64_MAX, &v), PARSE_INVALID);
	assert_int_equal(slice_parse_hex_u64(S("g"), UINT64_MAX, &v), PARSE_INVALID);
	assert_int_equal(slice_parse_hex_u64(S(""), UINT64_MAX, &v), PARSE_INVALID);
}

static void test_to_cstr(void **state)
{
	(void)state;
	char buf[4];

	assert_int_equal(slice_to_cstr(S("abc"), buf, sizeof(buf)), 0);
	assert_string_equal(buf, "abc");
	buf[0] = 'z';
	assert_int_equal(slice_to_cstr(S("abcd"), buf, sizeof(buf)), -ENOSPC);
	assert_int_equal(buf[0], 'z');
	assert_int_equal(slice_to_cstr(S(""), buf, 1), 0);
	assert_string_equal(buf, "");
	assert_int_equal(slice_to_cstr(S(""), buf, 0), -ENOSPC);
}

static void test_lower_every_byte(void **state)
{
	(void)state;
	/* ASCII folding only: the bytes around 'A'..'Z' and non-ASCII stay */
	for (unsigned c = 0; c < 256; c++) {
		uint8_t want = c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : (uint8_t)c;
		uint8_t a = (uint8_t)c, b = want;
		assert_int_equal(slice_lower((uint8_t)c), want);
		assert_true(slice_case_eq(slice_make(&a, 1), slice_make(&b, 1)));
	}
	assert_false(slice_case_eq(slice_from_cstr("@"), slice_from_cstr("`")));
	assert_false(slice_case_eq(slice_from_cstr("["), slice_from_cstr("{")));
	assert_false(slice_case_eq(slice_from_cstr("\xc0"), slice_from_cstr("\xe0")));
	assert_true(slice_case_eq(slice_from_cstr("Content-LENGTH"),
				  slice_from_cstr("content-length")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cstr_and_eq),	 cmocka_unit_test(test_starts_with_find),
		cmocka_unit_test(test_trim_split),	 cmocka_unit_test(test_parse_dec),
		cmocka_unit_test(test_parse_hex),	 cmocka_unit_test(test_to_cstr),
		cmocka_unit_test(test_lower_every_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
