/* The lock-free cell GCRA (limit_gcra_take, proxyd/dp/limit.h) behind
 * log_rate_limit, and user_state_log_take() with parsed quotas. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "proxyd/dp/limit.h"
#include "proxyd/user_state.h"

#define MS 1000000ull

static unsigned take_n(_Atomic uint64_t *tat, uint64_t iv, uint32_t burst, uint64_t now, unsigned n)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += limit_gcra_take(tat, iv, burst, now) ? 1u : 0u;
	return ok;
}

static void test_gcra_burst_then_rate(void **state)
{
	_Atomic uint64_t tat = 0;
	uint64_t now = 5000 * MS;

	(void)state;
	/* "2/s": one cell every 500 ms, burst 2 */
	assert_int_equal(take_n(&tat, 500 * MS, 2, now, 20), 2);
	/* 499 ms later: still nothing; at 500 ms one more */
	assert_false(limit_gcra_take(&tat, 500 * MS, 2, now + 499 * MS));
	assert_true(limit_gcra_take(&tat, 500 * MS, 2, now + 500 * MS));
	assert_false(limit_gcra_take(&tat, 500 * MS, 2, now + 500 * MS));
	/* a long pause refills to the burst, never beyond */
	assert_int_equal(take_n(&tat, 500 * MS, 2, now + 60000 * MS, 10), 2);
}

static void test_gcra_steady_rate(void **state)
{
	_Atomic uint64_t tat = 0;
	uint64_t now = 1000 * MS;
	unsigned ok = 0;

	(void)state;
	/* 10/s burst 1, asked every 10 ms for 2 s: 20 cells (+1 at start) */
	for (unsigned i = 0; i <= 200; i++)
		ok += limit_gcra_take(&tat, 100 * MS, 1, now + i * 10 * MS) ? 1u : 0u;
	assert_in_range(ok, 20, 21);
}

static void test_gcra_unlimited(void **state)
{
	_Atomic uint64_t tat = 0;

	(void)state;
	assert_int_equal(take_n(&tat, 0, 5, 1, 100), 100);
	assert_int_equal(take_n(&tat, 100 * MS, 0, 1, 100), 100);
}

struct race {
	_Atomic uint64_t *tat;
	uint64_t now;
	unsigned ok;
};

static void *racer(void *arg)
{
	struct race *r = arg;

	r->ok = take_n(r->tat, 1000 * MS, 50, r->now, 1000);
	return NULL;
}

static void test_gcra_threads_share(void **state)
{
	_Atomic uint64_t tat = 0;
	struct race r[4];
	pthread_t th[4];
	unsigned sum = 0;

	(void)state;
	/* four threads at the same instant share one burst of 50 */
	for (int i = 0; i < 4; i++) {
		r[i] = (struct race){&tat, 77 * MS, 0};
		assert_int_equal(pthread_create(&th[i], NULL, racer, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		sum += r[i].ok;
	}
	assert_int_equal(sum, 50);
}

static void test_user_state_log_take(void **state)
{
	struct user_state *st = user_state_get("g", "logger");
	struct rate_limit_quota q = {
		.set = true, .replenish_interval_ns = 500 * MS, .max_burst = 2};
	struct rate_limit_quota unset = {0};
	unsigned ok = 0;

	(void)state;
	assert_non_null(st);
	for (int i = 0; i < 20; i++)
		ok += user_state_log_take(st, &q, 10000 * MS) ? 1u : 0u;
	assert_int_equal(ok, 2);
	assert_true(user_state_log_take(st, &unset, 10000 * MS));
	assert_true(user_state_log_take(st, NULL, 10000 * MS));
	/* the state is per (group, user) */
	assert_true(user_state_log_take(user_state_get("g", "other"), &q, 10000 * MS));
	user_state_registry_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gcra_burst_then_rate),
		cmocka_unit_test(test_gcra_steady_rate),
		cmocka_unit_test(test_gcra_unlimited),
		cmocka_unit_test(test_gcra_threads_share),
		cmocka_unit_test(test_user_state_log_take),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
