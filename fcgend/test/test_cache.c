/* cache.h: hits and misses, expiry, the LRU bound, replacement, clearing,
 * resizing, a disabled cache; and hist.h's interval statistics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fcgend/cache.h"
#include "common/hist.h"

static struct cached_cert val(const char *leaf, const char *key, uint64_t ttl_until)
{
	struct cached_cert c = {
		.leaf = (const uint8_t *)leaf,
		.leaf_len = strlen(leaf),
		.key = (const uint8_t *)key,
		.key_len = strlen(key),
		.ttl_until_ms = ttl_until,
	};
	return c;
}

static void put(struct cert_cache *c, const char *k, const char *leaf, uint64_t expire)
{
	struct cached_cert v = val(leaf, "KEY", expire + 5);

	cert_cache_put(c, k, strlen(k), &v, expire);
}

static bool has(struct cert_cache *c, const char *k, uint64_t now)
{
	struct cached_cert out;

	return cert_cache_get(c, k, strlen(k), now, &out);
}

static void test_hit_miss(void **state)
{
	struct cert_cache *c = cert_cache_new(10);
	struct cert_cache_stats st;
	struct cached_cert out;

	(void)state;
	assert_false(cert_cache_get(c, "a", 1, 0, &out));
	put(c, "a", "leaf-a", 1000);
	assert_true(cert_cache_get(c, "a", 1, 10, &out));
	assert_int_equal(out.leaf_len, 6);
	assert_memory_equal(out.leaf, "leaf-a", 6);
	assert_int_equal(out.key_len, 3);
	assert_memory_equal(out.key, "KEY", 3);
	assert_int_equal(out.ttl_until_ms, 1005);
	/* Keys are bytes: a prefix or a longer key is another key. */
	assert_false(has(c, "", 10));
	assert_false(has(c, "ab", 10));
	cert_cache_get_stats(c, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 3);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.max_entries, 10);
	assert_int_equal(st.inserted, 1);
	cert_cache_free(c);
	cert_cache_free(NULL);
}

static void test_expiry(void **state)
{
	struct cert_cache *c = cert_cache_new(10);
	struct cert_cache_stats st;

	(void)state;
	put(c, "k", "v", 500);
	assert_true(has(c, "k", 499));
	assert_false(has(c, "k", 500)); /* expired: dropped */
	cert_cache_get_stats(c, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.entries, 0);
	assert_false(has(c, "k", 0)); /* gone even for an earlier clock */
	cert_cache_free(c);
}

static void test_lru_bound(void **state)
{
	struct cert_cache *c = cert_cache_new(3);
	struct cert_cache_stats st;

	(void)state;
	put(c, "1", "one", 1000);
	put(c, "2", "two", 1000);
	put(c, "3", "three", 1000);
	assert_true(has(c, "1", 0)); /* 1 is now the most recent; 2 the least */
	put(c, "4", "four", 1000);
	assert_false(has(c, "2", 0));
	assert_true(has(c, "1", 0));
	assert_true(has(c, "3", 0));
	assert_true(has(c, "4", 0));
	cert_cache_get_stats(c, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.entries, 3);
	/* Shrinking evicts the least recently used first: 1 (then 3, 4 were read after). */
	cert_cache_set_max(c, 2);
	assert_false(has(c, "1", 0));
	assert_true(has(c, "3", 0));
	assert_true(has(c, "4", 0));
	/* Growing keeps everything and the table still finds it after a rehash. */
	cert_cache_set_max(c, 5000);
	assert_true(has(c, "3", 0));
	for (int i = 0; i < 4000; i++) {
		char k[16];
		snprintf(k, sizeof(k), "k%d", i);
		put(c, k, "x", 1000);
	}
	assert_true(has(c, "k0", 0));
	assert_true(has(c, "k3999", 0));
	cert_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 4002);
	cert_cache_free(c);
}

static void test_replace_clear_disabled(void **state)
{
	struct cert_cache *c = cert_cache_new(4), *off = cert_cache_new(0);
	struct cert_cache_stats st;
	struct cached_cert out;

	(void)state;
	put(c, "k", "old", 1000);
	put(c, "k", "new!", 2000);
	assert_true(cert_cache_get(c, "k", 1, 1500, &out));
	assert_int_equal(out.leaf_len, 4);
	assert_memory_equal(out.leaf, "new!", 4);
	cert_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.inserted, 2);
	cert_cache_clear(c);
	assert_false(has(c, "k", 0));
	cert_cache_get_stats(c, &st);
	assert_int_equal(st.entries, 0);
	put(c, "again", "x", 10);
	assert_true(has(c, "again", 0));

	put(off, "k", "v", 1000);
	assert_false(has(off, "k", 0));
	cert_cache_get_stats(off, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.misses, 1);
	cert_cache_free(off);
	cert_cache_free(c);
}

static void test_hist(void **state)
{
	struct hist_conf hc;
	struct hist_window w;

	(void)state;
	hist_conf_defaults(&hc);
	assert_int_equal(hc.rotate_ms, 4000);
	assert_int_equal(hc.nq, 5);
	assert_int_equal(hist_window_init(&w, 1000), 0);
	for (uint64_t v = 1; v <= 100; v++)
		hist_window_record(&w, v * 10);
	assert_false(hist_window_rotate(&w, &hc, 4999)); /* the interval is not over */
	assert_true(hist_window_rotate(&w, &hc, 5000));
	assert_int_equal(w.last.count, 100);
	assert_int_equal(w.last.min, 10);
	assert_int_equal(w.last.max, 1000);
	assert_int_equal(w.last.mean, 505);
	assert_int_equal(w.last.qv[0], 501); /* 0.50: the 50th value, 500, bucket 500..501 */
	assert_int_equal(w.last.qv[4], 990); /* 0.99: the 99th value, 990, bucket 988..991 */
	/* An empty interval reports nothing. */
	assert_true(hist_window_rotate(&w, &hc, 9000));
	assert_int_equal(w.last.count, 0);
	/* Many values: min, max and mean stay exact, quantiles within 0.4 %. */
	for (uint64_t v = 0; v < 3 * 4096; v++)
		hist_window_record(&w, v);
	assert_true(hist_window_rotate(&w, &hc, 20000));
	assert_int_equal(w.last.count, 3 * 4096);
	assert_int_equal(w.last.min, 0);
	assert_int_equal(w.last.max, 3 * 4096 - 1);
	assert_int_equal(w.last.mean, (3 * 4096 - 1) / 2);
	assert_true(w.last.qv[0] >= 6144 - 24 && w.last.qv[0] <= 6144 + 24);
	hist_window_fini(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_miss),  cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_lru_bound), cmocka_unit_test(test_replace_clear_disabled),
		cmocka_unit_test(test_hist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
