/* Peer pick policies (proxyd/dp/pick.h): weight distribution, order of
 * rr / serial, and stability of the hash policies. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "proxyd/dp/pick.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static struct pick_set *mk(enum pick_policy p, const struct pick_node *nodes, size_t n)
{
	struct pick_set *s = NULL;

	assert_int_equal(pick_set_new(p, nodes, n, &s), 0);
	assert_non_null(s);
	return s;
}

/* key for client i hitting host h, as the escapers build it */
static uint64_t key_of(unsigned i)
{
	char host[32];

	snprintf(host, sizeof(host), "host%u.example", i);
	return pick_key_client_user_host(NULL, NULL, host);
}

/* 2000 picks, each node's share within 10% of its weight share */
static void check_shares(enum pick_policy p, bool hashed)
{
	const struct pick_node nodes[] = {
		{"10.0.0.1:3128", 1}, {"10.0.0.2:3128", 2}, {"10.0.0.3:3128", 0},
		{"10.0.0.4:3128", 5}, {"10.0.0.5:3128", 2},
	};
	const double share[] = {0.1, 0.2, 0, 0.5, 0.2};
	unsigned cnt[5] = {0};
	struct pick_set *s = mk(p, nodes, 5);

	for (unsigned i = 0; i < 2000; i++) {
		size_t k = pick_select(s, hashed ? key_of(i) : rnd());
		assert_true(k < 5);
		cnt[k]++;
	}
	assert_int_equal(cnt[2], 0);
	for (unsigned i = 0; i < 5; i++) {
		double got = cnt[i] / 2000.0;
		if (fabs(got - share[i]) > 0.1 * share[i] + 1e-9)
			fail_msg("%s: node %u got %.3f, want %.3f +-10%%", pick_policy_name(p), i,
				 got, share[i]);
	}
	pick_set_free(s);
}

static void test_weights_random(void **state)
{
	(void)state;
	check_shares(PICK_RANDOM, false);
}

static void test_weights_rr(void **state)
{
	(void)state;
	check_shares(PICK_ROUND_ROBIN, false);
}

static void test_weights_serial(void **state)
{
	(void)state;
	check_shares(PICK_SERIAL, false);
}

static void test_weights_ketama(void **state)
{
	(void)state;
	check_shares(PICK_KETAMA, true);
}

static void test_weights_rendezvous(void **state)
{
	(void)state;
	check_shares(PICK_RENDEZVOUS, true);
}

static void test_weights_jump(void **state)
{
	(void)state;
	check_shares(PICK_JUMP_HASH, true);
}

static void test_rr_order(void **state)
{
	const struct pick_node nodes[] = {{"a", 5}, {"b", 1}, {"c", 1}};
	/* smooth weighted round robin interleaves the heavy node */
	const size_t want[] = {0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0};
	struct pick_set *s = mk(PICK_ROUND_ROBIN, nodes, 3);

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(pick_select(s, 0), want[i]);
	pick_set_free(s);
}

static void test_serial_order(void **state)
{
	const struct pick_node nodes[] = {{"a", 2}, {"b", 0}, {"c", 1}};
	const size_t want[] = {0, 0, 2, 0, 0, 2};
	struct pick_set *s = mk(PICK_SERIAL, nodes, 3);

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(pick_select(s, 0), want[i]);
	pick_set_free(s);
}

#define NKEYS 2000

/* Same list rebuilt (a reload): every key keeps its node. */
static void check_same(enum pick_policy p)
{
	const struct pick_node nodes[] = {{"p1", 1}, {"p2", 1}, {"p3", 3}, {"p4", 1}};
	struct pick_set *a = mk(p, nodes, 4), *b = mk(p, nodes, 4);

	for (unsigned i = 0; i < NKEYS; i++) {
		uint64_t k = key_of(i);
		size_t x = pick_select(a, k);
		assert_int_equal(x, pick_select(a, k)); /* and repeated picks agree */
		assert_int_equal(x, pick_select(b, k));
	}
	pick_set_free(a);
	pick_set_free(b);
}

/* One node appended: keys move only to the new node, and about its share. */
static void check_added(enum pick_policy p)
{
	const struct pick_node nodes[] = {{"p1", 1}, {"p2", 1}, {"p3", 1}, {"p4", 1}, {"p5", 1}};
	struct pick_set *a = mk(p, nodes, 4), *b = mk(p, nodes, 5);
	unsigned moved = 0;

	for (unsigned i = 0; i < NKEYS; i++) {
		uint64_t k = key_of(i);
		size_t x = pick_select(a, k), y = pick_select(b, k);
		if (x != y) {
			assert_int_equal(y, 4);
			moved++;
		}
	}
	/* the new node takes ~1/5 of the keys */
	if (moved < NKEYS / 5 * 7 / 10 || moved > NKEYS / 5 * 13 / 10)
		fail_msg("%s: %u of %u keys moved", pick_policy_name(p), moved, NKEYS);
	pick_set_free(a);
	pick_set_free(b);
}

static void test_stable_ketama(void **state)
{
	(void)state;
	check_same(PICK_KETAMA);
	check_added(PICK_KETAMA);
}

static void test_stable_rendezvous(void **state)
{
	(void)state;
	check_same(PICK_RENDEZVOUS);
	check_added(PICK_RENDEZVOUS);
}

static void test_stable_jump(void **state)
{
	(void)state;
	check_same(PICK_JUMP_HASH);
	check_added(PICK_JUMP_HASH);
}

/* ketama and rendezvous follow the ids, not the list order */
static void test_reorder(void **state)
{
	const struct pick_node ab[] = {{"x:1", 1}, {"y:2", 1}, {"z:3", 2}};
	const struct pick_node ba[] = {{"z:3", 2}, {"x:1", 1}, {"y:2", 1}};
	const enum pick_policy pol[] = {PICK_KETAMA, PICK_RENDEZVOUS};

	(void)state;
	for (size_t p = 0; p < 2; p++) {
		struct pick_set *a = mk(pol[p], ab, 3), *b = mk(pol[p], ba, 3);
		for (unsigned i = 0; i < 500; i++) {
			uint64_t k = key_of(i);
			assert_string_equal(ab[pick_select(a, k)].id, ba[pick_select(b, k)].id);
		}
		pick_set_free(a);
		pick_set_free(b);
	}
}

static void test_key(void **state)
{
	struct sockaddr_in c1 = {.sin_family = AF_INET}, c2 = {.sin_family = AF_INET};
	const struct sockaddr *s1 = (const struct sockaddr *)&c1,
			      *s2 = (const struct sockaddr *)&c2;

	(void)state;
	c1.sin_addr.s_addr = htonl(0x0a000001);
	c2.sin_addr.s_addr = htonl(0x0a000002);
	c2.sin_port = htons(999); /* the port is not part of the key */
	c1.sin_port = htons(1);
	assert_true(pick_key_client_user_host(s1, NULL, "h") ==
		    pick_key_client_user_host(s1, "", "h"));
	assert_true(pick_key_client_user_host(s1, NULL, "h") !=
		    pick_key_client_user_host(s2, NULL, "h"));
	assert_true(pick_key_client_user_host(s1, "u", "h") !=
		    pick_key_client_user_host(s1, NULL, "h"));
	assert_true(pick_key_client_user_host(s1, NULL, "h") !=
		    pick_key_client_user_host(s1, NULL, "g"));
	c2.sin_addr = c1.sin_addr;
	assert_true(pick_key_client_user_host(s1, "u", "h") ==
		    pick_key_client_user_host(s2, "u", "h"));
}

static void test_bad_sets(void **state)
{
	const struct pick_node zero[] = {{"a", 0}, {"b", 0}};
	const struct pick_node neg[] = {{"a", 1}, {"b", -1}};
	const struct pick_node nan_w[] = {{"a", NAN}};
	const struct pick_node inf_w[] = {{"a", INFINITY}};
	const struct pick_node noid[] = {{NULL, 1}};
	struct pick_set *s = (struct pick_set *)&s;

	(void)state;
	assert_int_equal(pick_set_new(PICK_RANDOM, zero, 0, &s), -EINVAL);
	assert_null(s);
	assert_int_equal(pick_set_new(PICK_RANDOM, zero, 2, &s), -EINVAL);
	assert_int_equal(pick_set_new(PICK_KETAMA, neg, 2, &s), -EINVAL);
	assert_int_equal(pick_set_new(PICK_RENDEZVOUS, nan_w, 1, &s), -EINVAL);
	assert_int_equal(pick_set_new(PICK_ROUND_ROBIN, inf_w, 1, &s), -EINVAL);
	assert_int_equal(pick_set_new(PICK_RANDOM, noid, 1, &s), -EINVAL);
	pick_set_free(NULL);
}

/* fractional and huge weights are scaled, still proportionate */
static void test_scaled(void **state)
{
	const struct pick_node nodes[] = {{"a", 0.25}, {"b", 0.75}, {"c", 1e6}, {"d", 3e6}};
	struct pick_set *s = mk(PICK_ROUND_ROBIN, nodes, 4);
	unsigned cnt[4] = {0};

	(void)state;
	for (unsigned i = 0; i < 4000; i++)
		cnt[pick_select(s, 0)]++;
	/* a and b are tiny but positive: picked at least once per cycle */
	assert_true(cnt[0] >= 1 && cnt[1] >= 1);
	assert_in_range(cnt[3], cnt[2] * 27 / 10, cnt[2] * 33 / 10);
	pick_set_free(s);
	s = mk(PICK_SERIAL, nodes, 1);
	assert_int_equal(pick_set_size(s), 1);
	assert_int_equal(pick_select(s, 5), 0);
	pick_set_free(s);
}

/* a big list: the ring is bounded, every positive node reachable */
static void test_many(void **state)
{
	static struct pick_node nodes[PICK_MAX_NODES];
	static char ids[PICK_MAX_NODES][16];
	struct pick_set *s;

	(void)state;
	for (unsigned i = 0; i < PICK_MAX_NODES; i++) {
		snprintf(ids[i], sizeof(ids[i]), "n%u", i);
		nodes[i].id = ids[i];
		nodes[i].weight = 1;
	}
	s = mk(PICK_KETAMA, nodes, PICK_MAX_NODES);
	for (unsigned i = 0; i < 1000; i++)
		assert_true(pick_select(s, rnd()) < PICK_MAX_NODES);
	pick_set_free(s);
	s = mk(PICK_ROUND_ROBIN, nodes, PICK_MAX_NODES);
	for (unsigned i = 0; i < PICK_MAX_NODES; i++)
		assert_int_equal(pick_select(s, 0), i);
	pick_set_free(s);
	assert_int_equal(pick_set_new(PICK_RANDOM, nodes, PICK_MAX_NODES + 1, &s), -EINVAL);
}

/* a set in caller memory (the config arena) picks like a heap one */
static uint8_t bump_mem[1 << 20];
static size_t bump_used;

static void *bump(void *arg, size_t n)
{
	void *p;

	(*(unsigned *)arg)++;
	n = (n + 15) & ~(size_t)15;
	if (bump_used + n > sizeof(bump_mem))
		return NULL;
	p = bump_mem + bump_used;
	memset(p, 0, n);
	bump_used += n;
	return p;
}

static void test_with_alloc(void **state)
{
	const struct pick_node nodes[] = {{"a:1", 1}, {"b:1", 3}, {"c:1", 2}};
	const enum pick_policy pol[] = {PICK_RANDOM, PICK_SERIAL,     PICK_ROUND_ROBIN,
					PICK_KETAMA, PICK_RENDEZVOUS, PICK_JUMP_HASH};

	(void)state;
	for (size_t p = 0; p < 6; p++) {
		unsigned calls = 0;
		struct pick_set *a = mk(pol[p], nodes, 3), *b = NULL;
		assert_int_equal(pick_set_new_with(pol[p], nodes, 3, bump, &calls, &b), 0);
		assert_true(calls >= 2);
		assert_int_equal(pick_set_policy(b), pol[p]);
		for (unsigned i = 0; i < 200; i++) {
			uint64_t k = pol[p] == PICK_RANDOM ? (uint64_t)i * 0x9e3779b97f4a7c15ull
							   : key_of(i);
			assert_int_equal(pick_select(a, k), pick_select(b, k));
		}
		pick_set_free(b); /* leaves caller memory alone (ASan would object) */
		pick_set_free(a);
	}
	bump_used = sizeof(bump_mem); /* allocator failure is reported */
	{
		unsigned calls = 0;
		struct pick_set *b = NULL;
		assert_int_equal(pick_set_new_with(PICK_KETAMA, nodes, 3, bump, &calls, &b),
				 -ENOMEM);
		assert_null(b);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weights_random),
		cmocka_unit_test(test_weights_rr),
		cmocka_unit_test(test_weights_serial),
		cmocka_unit_test(test_weights_ketama),
		cmocka_unit_test(test_weights_rendezvous),
		cmocka_unit_test(test_weights_jump),
		cmocka_unit_test(test_rr_order),
		cmocka_unit_test(test_serial_order),
		cmocka_unit_test(test_stable_ketama),
		cmocka_unit_test(test_stable_rendezvous),
		cmocka_unit_test(test_stable_jump),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_bad_sets),
		cmocka_unit_test(test_scaled),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_with_alloc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
