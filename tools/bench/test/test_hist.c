/* Unit tests for the log-linear histogram: exact small values, bounded
 * relative error on large ones, percentiles against a sorted reference,
 * merge, clamping. */
#include "tools/bench/hist.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void test_empty(void **state)
{
	struct hist *h = hist_new();

	(void)state;
	assert_int_equal(h->count, 0);
	assert_int_equal(hist_percentile(h, 50), 0);
	assert_true(hist_mean(h) == 0.0);
	assert_true(hist_stddev(h) == 0.0);
	hist_free(h);
	hist_free(NULL);
}

static void test_small_exact(void **state)
{
	struct hist *h = hist_new();

	(void)state;
	for (uint64_t v = 1; v <= 1000; v++)
		hist_record(h, v);
	assert_int_equal(h->count, 1000);
	assert_int_equal(h->min, 1);
	assert_int_equal(h->max, 1000);
	assert_int_equal(hist_percentile(h, 50), 500);
	assert_int_equal(hist_percentile(h, 90), 900);
	assert_int_equal(hist_percentile(h, 99.9), 999);
	assert_int_equal(hist_percentile(h, 100), 1000);
	assert_int_equal(hist_percentile(h, 0), 1);
	assert_true(fabs(hist_mean(h) - 500.5) < 1e-9);
	/* sd of 1..1000 is about 288.7 */
	assert_true(fabs(hist_stddev(h) - 288.675) < 0.5);
	hist_free(h);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_relative_error(void **state)
{
	enum { N = 20000 };
	uint64_t *vals = malloc(N * sizeof(*vals));
	struct hist *h = hist_new();
	uint64_t seed = 12345;
	static const double pcts[] = {1, 10, 50, 66, 90, 99, 99.9};

	(void)state;
	assert_non_null(vals);
	for (int i = 0; i < N; i++) {
		/* log-uniform over 1 us .. 10 s */
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		vals[i] = (uint64_t)(1e3 *
				     pow(10.0, 7.0 * (double)(seed >> 11) / 9007199254740992.0));
		hist_record(h, vals[i]);
	}
	qsort(vals, N, sizeof(*vals), cmp_u64);
	assert_int_equal(h->min, vals[0]);
	assert_int_equal(h->max, vals[N - 1]);
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		size_t rank = (size_t)ceil(pcts[i] / 100.0 * N);
		double want = (double)vals[rank - 1], got = (double)hist_percentile(h, pcts[i]);

		if (fabs(got - want) / want > 0.001)
			fail_msg("p%g: got %.0f want %.0f", pcts[i], got, want);
	}
	free(vals);
	hist_free(h);
}

static void test_merge_and_clamp(void **state)
{
	struct hist *a = hist_new(), *b = hist_new();

	(void)state;
	hist_record(a, 100);
	hist_record(a, 200);
	hist_record(b, 5000000);
	hist_record(b, UINT64_MAX); /* clamped */
	hist_merge(a, b);
	assert_int_equal(a->count, 4);
	assert_int_equal(a->min, 100);
	assert_int_equal(a->max, HIST_MAX_NS);
	assert_int_equal(hist_percentile(a, 50), 200);
	{
		uint64_t p75 = hist_percentile(a, 75);

		assert_true(p75 >= 4995000 && p75 <= 5005000);
	}
	{
		struct hist *empty = hist_new();

		hist_merge(a, empty); /* nothing changes */
		assert_int_equal(a->count, 4);
		assert_int_equal(a->min, 100);
		hist_free(empty);
	}
	hist_free(a);
	hist_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_small_exact),
		cmocka_unit_test(test_relative_error),
		cmocka_unit_test(test_merge_and_clamp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
