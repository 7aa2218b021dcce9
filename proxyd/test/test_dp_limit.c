/* Speed limiter arithmetic (proxyd/dp/limit.h): g3 slices and the shared
 * token bucket, including from several threads at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proxyd/dp/limit.h"

static void test_slice_unlimited(void **state)
{
	struct limit_slice l;

	(void)state;
	limit_slice_init(&l, 10, 0);
	assert_false(limit_slice_on(&l));
	assert_true(limit_slice_avail(&l, 5) == LIMIT_UNLIMITED);
	limit_slice_use(&l, 5, 1u << 30);
	assert_true(limit_slice_avail(&l, 5) == LIMIT_UNLIMITED);
	assert_int_equal(limit_slice_wait_ms(&l, 5), 0);
}

static void test_slice_budget(void **state)
{
	struct limit_slice l;

	(void)state;
	/* 1000 bytes per 1024 ms slice; slice 1 is [1024, 2048) */
	limit_slice_init(&l, 10, 1000);
	assert_true(limit_slice_on(&l));
	assert_int_equal(limit_slice_avail(&l, 1100), 1000);
	limit_slice_use(&l, 1100, 600);
	assert_int_equal(limit_slice_avail(&l, 1200), 400);
	limit_slice_use(&l, 1200, 400);
	assert_int_equal(limit_slice_avail(&l, 1300), 0);
	/* next slice starts at 2048 */
	assert_int_equal(limit_slice_wait_ms(&l, 1300), 2048 - 1300);
	assert_int_equal(limit_slice_avail(&l, 2047), 0);
	assert_int_equal(limit_slice_avail(&l, 2048), 1000);
	assert_int_equal(limit_slice_wait_ms(&l, 2048), 0);
}

static void test_slice_debt(void **state)
{
	struct limit_slice l;

	(void)state;
	/* 100 bytes per 16 ms; 350 bytes at once are paid over the next slices */
	limit_slice_init(&l, 4, 100);
	limit_slice_use(&l, 0, 350);
	assert_int_equal(limit_slice_avail(&l, 1), 0);
	/* owed 250 after slice 0: slices 1 and 2 pay 200, slice 3 has 50 left */
	assert_int_equal(limit_slice_wait_ms(&l, 1), 3 * 16 - 1);
	assert_int_equal(limit_slice_avail(&l, 16), 0);
	assert_int_equal(limit_slice_avail(&l, 3 * 16), 50);
	/* a long pause clears everything owed but never saves up */
	limit_slice_use(&l, 3 * 16, 50);
	assert_int_equal(limit_slice_avail(&l, 100 * 16), 100);
}

static void test_slice_shift_clamped(void **state)
{
	struct limit_slice l;

	(void)state;
	limit_slice_init(&l, 40, 10);
	assert_int_equal(l.shift, 12);
	limit_slice_use(&l, 0, 10);
	assert_int_equal(limit_slice_wait_ms(&l, 0), 4096);
}

/* Rate over a long simulated transfer: 2 MB through 500 KiB per 1024 ms
 * with reads of up to 64 KiB takes ~4 s, as the integration test expects. */
static void test_slice_rate(void **state)
{
	struct limit_slice l;
	uint64_t now = 12345, left = 2000000;

	(void)state;
	limit_slice_init(&l, 10, 500 * 1024);
	while (left > 0) {
		uint64_t a = limit_slice_avail(&l, now);
		if (a == 0) {
			now += limit_slice_wait_ms(&l, now);
			continue;
		}
		if (a > 65536)
			a = 65536;
		if (a > left)
			a = left;
		limit_slice_use(&l, now, a);
		left -= a;
		now += 1;
	}
	assert_in_range(now - 12345, 2800, 4200);
}

static void test_bucket_basic(void **state)
{
	struct limit_bucket b;
	uint64_t wait = 0;
	const uint64_t s = 1000000000ull;

	(void)state;
	/* 1000 bytes per second, burst 1000; starts full */
	limit_bucket_init(&b, 1000, 1000, 0);
	assert_true(limit_bucket_on(&b));
	assert_int_equal(limit_bucket_take(&b, 10 * s, 600, NULL), 600);
	assert_int_equal(limit_bucket_take(&b, 10 * s, 600, NULL), 400);
	assert_int_equal(limit_bucket_take(&b, 10 * s, 1, &wait), 0);
	assert_in_range(wait, 900000, 1100000); /* ~1 ms for one byte */
	/* half a second later: 500 bytes */
	assert_int_equal(limit_bucket_take(&b, 10 * s + s / 2, 2000, NULL), 500);
	/* refunds come back */
	limit_bucket_refund(&b, 200);
	assert_int_equal(limit_bucket_take(&b, 10 * s + s / 2, 2000, NULL), 200);
	/* idle for a minute: never more than the burst */
	assert_int_equal(limit_bucket_take(&b, 70 * s, 5000, NULL), 1000);
}

static void test_bucket_burst_and_unlimited(void **state)
{
	struct limit_bucket b;

	(void)state;
	limit_bucket_init(&b, 100, 10, 50); /* 100 B/s, burst 50 */
	assert_int_equal(limit_bucket_take(&b, 5000000000ull, 80, NULL), 50);
	limit_bucket_init(&b, 0, 10, 0);
	assert_false(limit_bucket_on(&b));
	assert_int_equal(limit_bucket_take(&b, 1, 123456, NULL), 123456);
}

struct bucket_thread {
	struct limit_bucket *b;
	uint64_t got;
};

static void *bucket_worker(void *arg)
{
	struct bucket_thread *t = arg;

	/* all threads at the same instant: together they never get more
	 * than the burst */
	for (int i = 0; i < 100000; i++)
		t->got += limit_bucket_take(t->b, 1000000000ull, 7, NULL);
	return NULL;
}

static void test_bucket_threads(void **state)
{
	struct limit_bucket b;
	struct bucket_thread t[4];
	pthread_t th[4];
	uint64_t total = 0;

	(void)state;
	limit_bucket_init(&b, 1000, 100000, 0);
	for (int i = 0; i < 4; i++) {
		t[i].b = &b;
		t[i].got = 0;
		assert_int_equal(pthread_create(&th[i], NULL, bucket_worker, &t[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		total += t[i].got;
	}
	assert_in_range(total, 99990, 100000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slice_unlimited),
		cmocka_unit_test(test_slice_budget),
		cmocka_unit_test(test_slice_debt),
		cmocka_unit_test(test_slice_shift_clamped),
		cmocka_unit_test(test_slice_rate),
		cmocka_unit_test(test_bucket_basic),
		cmocka_unit_test(test_bucket_burst_and_unlimited),
		cmocka_unit_test(test_bucket_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
