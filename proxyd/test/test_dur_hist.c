/* The task.ready.duration histogram (proxyd/dur_hist.h): the same buckets
 * as common/hist for its shape, draining moves every value (exact count,
 * min, max, mean) and empties it, quantiles of known distributions, the
 * g3 rotate window over drained values, and recording from several
 * threads. */
#include "proxyd/test/proxyd_fixture.h"

#include <pthread.h>

#include "proxyd/dur_hist.h"

static void hist_shape(struct hist *h)
{
	assert_int_equal(hist_init(h, DUR_HIST_SUB_BITS, DUR_HIST_VALUE_BITS), 0);
	assert_int_equal(h->nbuckets, DUR_HIST_BUCKETS);
}

/* Values spread over the whole range, recorded both ways: the drained
 * buckets equal common/hist's. */
static void test_same_layout(void **state)
{
	static struct dur_hist d;
	struct hist ref, got;
	uint64_t v;

	(void)state;
	dur_hist_init(&d);
	hist_shape(&ref);
	hist_shape(&got);
	for (v = 0; v < 300; v++) {
		dur_hist_record(&d, v);
		hist_record(&ref, v);
	}
	for (v = 300; v < (UINT64_C(1) << 41); v = v * 3 / 2 + 7) {
		dur_hist_record(&d, v);
		hist_record(&ref, v);
	}
	dur_hist_record(&d, UINT64_MAX); /* clamped like common/hist */
	hist_record(&ref, UINT64_MAX);
	assert_int_equal(dur_hist_drain(&d, &got), 0);
	assert_memory_equal(got.buckets, ref.buckets, DUR_HIST_BUCKETS * sizeof(uint64_t));
	assert_int_equal(got.count, ref.count);
	assert_int_equal(got.min, 0);
	assert_int_equal(got.max, ref.max);
	assert_true(got.sum == ref.sum);
	assert_int_equal(dur_hist_index(UINT64_MAX), DUR_HIST_BUCKETS - 1);
	hist_fini(&ref);
	hist_fini(&got);
}

static void near(uint64_t got, uint64_t want)
{
	uint64_t d = got > want ? got - want : want - got;

	if (d * 16 > want) /* within 1/16 */
		fail_msg("got %llu, want %llu", (unsigned long long)got, (unsigned long long)want);
}

static void test_drain_and_quantiles(void **state)
{
	static struct dur_hist d;
	struct hist h, bad;

	(void)state;
	dur_hist_init(&d);
	hist_shape(&h);
	assert_int_equal(dur_hist_drain(&d, &h), 0);
	assert_int_equal(h.count, 0); /* empty */
	/* 1..1000 µs in ns */
	for (uint64_t v = 1; v <= 1000; v++)
		dur_hist_record(&d, v * 1000);
	assert_int_equal(dur_hist_drain(&d, &h), 0);
	assert_int_equal(h.count, 1000);
	assert_int_equal(h.min, 1000);
	assert_int_equal(h.max, 1000000);
	assert_true(hist_mean(&h) == 500500.0);
	near(hist_quantile(&h, 0.5), 500000);
	near(hist_quantile(&h, 0.8), 800000);
	near(hist_quantile(&h, 0.9), 900000);
	near(hist_quantile(&h, 0.95), 950000);
	near(hist_quantile(&h, 0.99), 990000);
	/* drained: nothing more comes out */
	hist_reset(&h);
	assert_int_equal(dur_hist_drain(&d, &h), 0);
	assert_int_equal(h.count, 0);
	/* drains add up: 99 fast then 1 slow */
	for (int i = 0; i < 99; i++)
		dur_hist_record(&d, 2000);
	assert_int_equal(dur_hist_drain(&d, &h), 0);
	dur_hist_record(&d, 9000000);
	assert_int_equal(dur_hist_drain(&d, &h), 0);
	assert_int_equal(h.count, 100);
	near(hist_quantile(&h, 0.5), 2000);
	near(hist_quantile(&h, 0.99), 2000);
	assert_int_equal(hist_quantile(&h, 1.0), 9000000);
	assert_int_equal(h.min, 2000);
	/* another shape is refused and nothing is taken */
	assert_int_equal(hist_init(&bad, 7, 40), 0);
	dur_hist_record(&d, 5);
	assert_int_equal(dur_hist_drain(&d, &bad), -EINVAL);
	assert_int_equal(bad.count, 0);
	hist_reset(&h);
	assert_int_equal(dur_hist_drain(&d, &h), 0);
	assert_int_equal(h.count, 1);
	hist_fini(&bad);
	hist_fini(&h);
}

/* g3's duration_stats over drained values: the snapshot of the closed
 * interval, with the configured quantiles. */
static void test_window(void **state)
{
	static struct dur_hist d;
	struct hist_window w;
	struct hist_conf c;

	(void)state;
	dur_hist_init(&d);
	memset(&w, 0, sizeof(w));
	hist_shape(&w.h);
	hist_conf_defaults(&c);
	c.rotate_ms = 100;
	dur_hist_record(&d, 123456789);
	assert_int_equal(dur_hist_drain(&d, &w.h), 0);
	assert_false(hist_window_rotate(&w, &c, 50));
	assert_true(hist_window_rotate(&w, &c, 100));
	assert_int_equal(w.last.count, 1);
	assert_int_equal(w.last.nq, 5);
	for (unsigned i = 0; i < w.last.nq; i++)
		assert_int_equal(w.last.qv[i], 123456789); /* clamped to [min, max] */
	assert_int_equal(w.last.min, 123456789);
	assert_int_equal(w.last.mean, 123456789);
	hist_window_fini(&w);
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
	static struct dur_hist d;
	struct hist h;
	pthread_t t[4];

	(void)state;
	dur_hist_init(&d);
	hist_shape(&h);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, &d), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(dur_hist_drain(&d, &h), 0);
	assert_int_equal(h.count, 40000);
	assert_int_equal(h.min, 1);
	assert_int_equal(h.max, 10000);
	assert_true(hist_mean(&h) == 5000.5);
	near(hist_quantile(&h, 0.5), 5000);
	hist_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_layout),
		cmocka_unit_test(test_drain_and_quantiles),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_threads),
	};
	log_init("test", "", LOG_SINK_STDERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
