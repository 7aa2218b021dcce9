/* Unit tests for the log-linear histogram: exact small values, bounded
 * relative error on large ones, percentiles against a sorted reference,
 * merge, clamping, invalid shapes, the rotating window. */
#include "common/hist.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* g3bench's shape: ns up to 2^40 - 1, within 1/2048. */
#define SUB 10
#define BITS 40

static void test_empty(void **state)
{
	struct hist *h = hist_new(SUB, BITS);

	(void)state;
	assert_int_equal(h->count, 0);
	assert_int_equal(hist_quantile(h, 0.5), 0);
	assert_true(hist_mean(h) == 0.0);
	assert_true(hist_stddev(h) == 0.0);
	hist_free(h);
	hist_free(NULL);
}

static void test_small_exact(void **state)
{
	struct hist *h = hist_new(SUB, BITS);

	(void)state;
	for (uint64_t v = 1; v <= 1000; v++)
		hist_record(h, v);
	assert_int_equal(h->count, 1000);
	assert_int_equal(h->min, 1);
	assert_int_equal(h->max, 1000);
	assert_int_equal(hist_quantile(h, 0.5), 500);
	assert_int_equal(hist_quantile(h, 0.9), 900);
	assert_int_equal(hist_quantile(h, 0.999), 999);
	assert_int_equal(hist_quantile(h, 1), 1000);
	assert_int_equal(hist_quantile(h, 0), 1);
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
	struct hist *h = hist_new(SUB, BITS);
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
		double want = (double)vals[rank - 1],
		       got = (double)hist_quantile(h, pcts[i] / 100.0);

		if (fabs(got - want) / want > 0.001)
			fail_msg("p%g: got %.0f want %.0f", pcts[i], got, want);
	}
	free(vals);
	hist_free(h);
}

static void test_merge_and_clamp(void **state)
{
	struct hist *a = hist_new(SUB, BITS), *b = hist_new(SUB, BITS);

	(void)state;
	hist_record(a, 100);
	hist_record(a, 200);
	hist_record(b, 5000000);
	hist_record(b, UINT64_MAX); /* clamped */
	assert_int_equal(hist_merge(a, b), 0);
	assert_int_equal(a->count, 4);
	assert_int_equal(a->min, 100);
	assert_int_equal(a->max, a->max_value);
	assert_int_equal(hist_quantile(a, 0.5), 200);
	{
		uint64_t p75 = hist_quantile(a, 0.75);

		assert_true(p75 >= 4995000 && p75 <= 5005000);
	}
	{
		struct hist *empty = hist_new(SUB, BITS);

		assert_int_equal(hist_merge(a, empty), 0); /* nothing changes */
		assert_int_equal(a->count, 4);
		assert_int_equal(a->min, 100);
		hist_free(empty);
	}
	hist_free(a);
	hist_free(b);
}

static void test_shapes(void **state)
{
	struct hist h, o;

	(void)state;
	assert_int_equal(hist_init(&h, 0, 40), -EINVAL);
	assert_int_equal(hist_init(&h, 13, 40), -EINVAL);
	assert_int_equal(hist_init(&h, 5, 6), -EINVAL);
	assert_int_equal(hist_init(&h, 5, 65), -EINVAL);
	hist_fini(&h); /* a failed init leaves nothing to free */
	/* The full 64-bit range: the largest value has a bucket of its own band. */
	assert_int_equal(hist_init(&h, 3, 64), 0);
	hist_record(&h, UINT64_MAX);
	hist_record(&h, 0);
	assert_int_equal(h.max, UINT64_MAX);
	assert_int_equal(hist_quantile(&h, 0.5), 0);
	assert_true(hist_quantile(&h, 0.99) > UINT64_MAX / 16 * 15);
	/* Merging different shapes is refused and changes nothing. */
	assert_int_equal(hist_init(&o, 4, 64), 0);
	hist_record(&o, 7);
	assert_int_equal(hist_merge(&h, &o), -EINVAL);
	assert_int_equal(h.count, 2);
	hist_fini(&o);
	/* Reset keeps the shape and forgets the values. */
	hist_reset(&h);
	assert_int_equal(h.count, 0);
	assert_int_equal(hist_quantile(&h, 0.5), 0);
	hist_record(&h, 12);
	assert_int_equal(hist_quantile(&h, 0.5), 12);
	hist_fini(&h);
	hist_fini(&h);
}

/* Coarse shapes (iplocd uses 5 bits): every quantile within 2^-(bits+1). */
static void test_coarse_error(void **state)
{
	struct hist h;

	(void)state;
	assert_int_equal(hist_init(&h, 5, 40), 0);
	for (uint64_t v = 1; v <= 100000; v += 7)
		hist_record(&h, v * 13);
	for (int pct = 5; pct < 100; pct += 5) {
		double q = pct / 100.0;
		uint64_t rank = (uint64_t)ceil(q * (double)h.count - 1e-9);
		double want = (double)(1 + (rank - 1) * 7) * 13, got = (double)hist_quantile(&h, q);

		if (fabs(got - want) / want > 1.0 / 64)
			fail_msg("q%.2f: got %.0f want %.0f", q, got, want);
	}
	hist_fini(&h);
}

static void test_window(void **state)
{
	struct hist_conf c;
	struct hist_window w;

	(void)state;
	hist_conf_defaults(&c);
	c.rotate_ms = 100;
	assert_int_equal(hist_window_init(&w, 50), 0);
	hist_window_record(&w, 7);
	hist_window_record(&w, 9);
	assert_false(hist_window_rotate(&w, &c, 149));
	assert_true(hist_window_rotate(&w, &c, 150));
	assert_int_equal(w.last.count, 2);
	assert_int_equal(w.last.mean, 8);
	assert_int_equal(w.last.nq, 5);
	assert_int_equal(w.last.qv[0], 7);
	assert_int_equal(w.last.qv[4], 9);
	assert_int_equal(w.h.count, 0); /* the next interval starts empty */
	assert_false(hist_window_rotate(&w, &c, 249));
	hist_window_fini(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),	       cmocka_unit_test(test_small_exact),
		cmocka_unit_test(test_relative_error), cmocka_unit_test(test_merge_and_clamp),
		cmocka_unit_test(test_shapes),	       cmocka_unit_test(test_coarse_error),
		cmocka_unit_test(test_window),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
