/* The task.ready.duration histogram (proxyd/dur_hist.h): bucket bounds,
 * quantiles of known distributions within the bucket error, exact min /
 * max / mean, reset on take, and recording from several threads. */
#include "proxyd/test/proxyd_fixture.h"

#include <pthread.h>

#include "proxyd/dur_hist.h"

static void test_buckets(void **state)
{
	uint64_t lo, hi, prev_hi = 0;

	(void)state;
	/* contiguous, increasing, each value inside its own bucket */
	for (unsigned i = 0; i < DUR_HIST_BUCKETS; i++) {
		dur_hist_bucket_range(i, &lo, &hi);
		assert_true(lo <= hi);
		if (i > 0)
			assert_int_equal(lo, prev_hi + 1);
		assert_int_equal(dur_hist_bucket(lo), i);
		assert_int_equal(dur_hist_bucket(hi), i);
		prev_hi = hi;
	}
	assert_int_equal(dur_hist_bucket(0), 0);
	assert_int_equal(dur_hist_bucket(3), 3);
	assert_int_equal(dur_hist_bucket(4), 4);
	/* a bucket is at most 1/4 of its lower bound wide (above 4) */
	for (unsigned i = 4; i < DUR_HIST_BUCKETS; i++) {
		dur_hist_bucket_range(i, &lo, &hi);
		assert_true((hi - lo + 1) * 4 <= lo);
	}
	/* huge values land in the last bucket */
	assert_int_equal(dur_hist_bucket(UINT64_MAX), DUR_HIST_BUCKETS - 1);
}

static void near(uint64_t got, uint64_t want)
{
	uint64_t d = got > want ? got - want : want - got;

	if (d * 8 > want) /* within 12.5% */
		fail_msg("got %llu, want %llu", (unsigned long long)got, (unsigned long long)want);
}

static void test_quantiles(void **state)
{
	struct dur_hist h;
	struct dur_snapshot s;

	(void)state;
	dur_hist_init(&h);
	dur_hist_take(&h, &s);
	assert_int_equal(s.n, 0); /* empty */
	/* 1..1000 µs in ns */
	for (uint64_t v = 1; v <= 1000; v++)
		dur_hist_record(&h, v * 1000);
	dur_hist_take(&h, &s);
	assert_int_equal(s.n, 1000);
	assert_int_equal(s.v[DUR_Q_MIN], 1000);
	assert_int_equal(s.v[DUR_Q_MAX], 1000000);
	assert_int_equal(s.v[DUR_Q_MEAN], 500500);
	near(s.v[DUR_Q_50], 500000);
	near(s.v[DUR_Q_80], 800000);
	near(s.v[DUR_Q_90], 900000);
	near(s.v[DUR_Q_95], 950000);
	near(s.v[DUR_Q_99], 990000);
	for (unsigned q = DUR_Q_50; q < DUR_Q_99; q++)
		assert_true(s.v[q] <= s.v[q + 1]);
	/* taken: the next interval starts empty */
	dur_hist_take(&h, &s);
	assert_int_equal(s.n, 0);
	/* one sample: every quantile is that sample (clamped to min / max) */
	dur_hist_record(&h, 123456789);
	dur_hist_take(&h, &s);
	assert_int_equal(s.n, 1);
	for (unsigned q = 0; q < DUR_Q__COUNT; q++)
		assert_int_equal(s.v[q], 123456789);
	/* a skewed distribution: 99 fast, 1 slow */
	for (int i = 0; i < 99; i++)
		dur_hist_record(&h, 2000);
	dur_hist_record(&h, 9000000);
	dur_hist_take(&h, &s);
	near(s.v[DUR_Q_50], 2000);
	near(s.v[DUR_Q_95], 2000);
	near(s.v[DUR_Q_99], 2000);
	assert_int_equal(s.v[DUR_Q_MAX], 9000000);
	assert_int_equal(s.v[DUR_Q_MEAN], (99 * 2000 + 9000000) / 100);
	assert_string_equal(dur_q_name(DUR_Q_MIN), "min");
	assert_string_equal(dur_q_name(DUR_Q_50), "0.50");
	assert_string_equal(dur_q_name(DUR_Q_99), "0.99");
}

static void *writer(void *arg)
{
	struct dur_hist *h = arg;

	for (uint64_t v = 1; v <= 10000; v++)
		dur_hist_record(h, v);
	return NULL;
}

static void test_threads(void **state)
{
	struct dur_hist h;
	struct dur_snapshot s;
	pthread_t t[4];

	(void)state;
	dur_hist_init(&h);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, &h), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	dur_hist_take(&h, &s);
	assert_int_equal(s.n, 40000);
	assert_int_equal(s.v[DUR_Q_MIN], 1);
	assert_int_equal(s.v[DUR_Q_MAX], 10000);
	assert_int_equal(s.v[DUR_Q_MEAN], 5000); /* 4 * 50005000 / 40000 */
	near(s.v[DUR_Q_50], 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_quantiles),
		cmocka_unit_test(test_threads),
	};
	log_init("test", "", LOG_SINK_STDERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
