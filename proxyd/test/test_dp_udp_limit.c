/* UDP speed limits of an association (proxyd/dp/udp_limit.h): per-socket
 * packet and byte slices of the server and the user (the slower wins) and
 * the user's shared udp_all_* buckets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proxyd/dp/udp_limit.h"

#define MS 1000000ull

static unsigned pass_n(struct udp_limit *l, enum udp_limit_dir d, size_t len, uint64_t now,
		       unsigned n)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += udp_limit_pass(l, d, len, now) ? 1u : 0u;
	return ok;
}

static void test_no_limit(void **state)
{
	struct udp_limit l;
	struct user_conf uc;

	(void)state;
	memset(&uc, 0, sizeof(uc));
	udp_limit_init(&l, NULL, &uc, NULL);
	assert_false(l.on);
	assert_int_equal(pass_n(&l, UDP_LIMIT_UP, 1400, 5 * MS, 1000), 1000);
}

static void test_server_packets_per_slice(void **state)
{
	struct udp_speed_limit s = {.set = true, .shift_millis = 10, .upload_packets = 5};
	struct udp_limit l;
	uint64_t t = 2048 * MS; /* the start of slice 2 */

	(void)state;
	udp_limit_init(&l, &s, NULL, NULL);
	assert_true(l.on);
	assert_int_equal(pass_n(&l, UDP_LIMIT_UP, 100, t, 10), 5);
	assert_int_equal(pass_n(&l, UDP_LIMIT_UP, 100, t + 1023 * MS, 10), 0);
	/* download is not limited */
	assert_int_equal(pass_n(&l, UDP_LIMIT_DOWN, 100, t, 50), 50);
	/* the next slice */
	assert_int_equal(pass_n(&l, UDP_LIMIT_UP, 100, t + 1024 * MS, 10), 5);
}

static void test_bytes_and_big_datagram(void **state)
{
	struct udp_speed_limit s = {.set = true, .shift_millis = 10, .download_bytes = 1000};
	struct udp_limit l;
	uint64_t t = 4096 * MS;

	(void)state;
	udp_limit_init(&l, &s, NULL, NULL);
	assert_int_equal(pass_n(&l, UDP_LIMIT_DOWN, 400, t, 3), 2);
	/* 200 bytes left: a 200-byte datagram fits, a 201 one would not */
	assert_false(udp_limit_pass(&l, UDP_LIMIT_DOWN, 201, t));
	assert_true(udp_limit_pass(&l, UDP_LIMIT_DOWN, 200, t));
	/* a datagram larger than a slice passes alone at a slice start */
	assert_true(udp_limit_pass(&l, UDP_LIMIT_DOWN, 5000, t + 1024 * MS));
	assert_false(udp_limit_pass(&l, UDP_LIMIT_DOWN, 1, t + 1024 * MS));
}

static void test_user_slower_than_server(void **state)
{
	struct udp_speed_limit s = {.set = true, .shift_millis = 10, .upload_packets = 50};
	struct user_conf uc;
	struct udp_limit l;

	(void)state;
	memset(&uc, 0, sizeof(uc));
	uc.udp_sock_speed_limit =
		(struct udp_speed_limit){.set = true, .shift_millis = 10, .upload_packets = 3};
	udp_limit_init(&l, &s, &uc, NULL);
	assert_int_equal(pass_n(&l, UDP_LIMIT_UP, 10, 1024 * MS, 20), 3);
}

static void test_user_all_shared(void **state)
{
	struct user_state *st = user_state_get("g", "udpall");
	struct user_conf uc;
	struct udp_limit a, b;
	uint64_t t = 10000 * MS;

	(void)state;
	assert_non_null(st);
	memset(&uc, 0, sizeof(uc));
	uc.udp_all_download_speed_limit = (struct global_datagram_limit){
		.set = true,
		.replenish_interval_ms = 1000,
		.replenish_packets = 10,
		.max_burst_packets = 10,
	};
	udp_limit_init(&a, NULL, &uc, st);
	udp_limit_init(&b, NULL, &uc, st);
	assert_true(a.on && b.on);
	assert_non_null(a.all[UDP_LIMIT_DOWN]);
	assert_ptr_equal(a.all[UDP_LIMIT_DOWN], b.all[UDP_LIMIT_DOWN]);
	assert_null(a.all[UDP_LIMIT_UP]);
	/* two associations share the user's 10 packets */
	assert_int_equal(
		pass_n(&a, UDP_LIMIT_DOWN, 100, t, 6) + pass_n(&b, UDP_LIMIT_DOWN, 100, t, 6), 10);
	/* 100 ms later: one packet back */
	assert_int_equal(pass_n(&b, UDP_LIMIT_DOWN, 100, t + 100 * MS, 5), 1);
	/* bytes too: 1000 bytes per second */
	uc.udp_all_upload_speed_limit = (struct global_datagram_limit){
		.set = true,
		.replenish_interval_ms = 1000,
		.replenish_bytes = 1000,
		.max_burst_bytes = 1000,
	};
	udp_limit_init(&a, NULL, &uc, st);
	assert_int_equal(pass_n(&a, UDP_LIMIT_UP, 300, t, 5), 3);
	/* a refused datagram takes nothing: 100 bytes still fit */
	assert_true(udp_limit_pass(&a, UDP_LIMIT_UP, 100, t));
	user_state_registry_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_limit),
		cmocka_unit_test(test_server_packets_per_slice),
		cmocka_unit_test(test_bytes_and_big_datagram),
		cmocka_unit_test(test_user_slower_than_server),
		cmocka_unit_test(test_user_all_shared),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
