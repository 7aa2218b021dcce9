/* Credentials and password tokens (proxyd/dp/auth.h) and the per-user
 * shared state (proxyd/user_state.h). Token vectors were made with
 * `openssl passwd -1/-5/-6 -salt saltsalt 'secret pw'` and Python's
 * hashlib over 'secret pw' ‖ 0102030405060708. */
#include "proxyd/test/proxyd_fixture.h"

#include <stdio.h>

#include "proxyd/dp/auth.h"
#include "proxyd/user_state.h"

static enum parse_res basic(const char *v, struct auth_cred *c)
{
	const char *why = NULL;
	enum parse_res r = auth_basic_decode(slice_from_cstr(v), c, &why);

	if (r != PARSE_OK)
		assert_non_null(why);
	return r;
}

static void test_base64(void **state)
{
	uint8_t out[16];

	(void)state;
	assert_int_equal(auth_base64_decode(slice_from_cstr("YQ=="), out, sizeof(out)), 1);
	assert_int_equal(out[0], 'a');
	assert_int_equal(auth_base64_decode(slice_from_cstr("YQ"), out, sizeof(out)), 1);
	assert_int_equal(auth_base64_decode(slice_from_cstr("YWI="), out, sizeof(out)), 2);
	assert_int_equal(auth_base64_decode(slice_from_cstr("YWJj"), out, sizeof(out)), 3);
	assert_int_equal(auth_base64_decode(slice_from_cstr(""), out, sizeof(out)), 0);
	/* a bad character, a stray '=', a lone sextet, non-zero pad bits */
	assert_int_equal(auth_base64_decode(slice_from_cstr("YW*j"), out, sizeof(out)), -EINVAL);
	assert_int_equal(auth_base64_decode(slice_from_cstr("Y=Jj"), out, sizeof(out)), -EINVAL);
	assert_int_equal(auth_base64_decode(slice_from_cstr("YWJjZ"), out, sizeof(out)), -EINVAL);
	assert_int_equal(auth_base64_decode(slice_from_cstr("YR=="), out, sizeof(out)), -EINVAL);
	assert_int_equal(auth_base64_decode(slice_from_cstr("YQ="), out, sizeof(out)), -EINVAL);
	assert_int_equal(auth_base64_decode(slice_from_cstr("YWJjYWJj"), out, 5), -ENOBUFS);
}

static void test_basic_decode(void **state)
{
	struct auth_cred c;
	char big[2200];

	(void)state;
	assert_int_equal(basic("Basic dXNlcjpwYXNz", &c), PARSE_OK); /* user:pass */
	assert_string_equal(c.user, "user");
	assert_string_equal(c.pass, "pass");
	assert_int_equal(c.user_len, 4);
	assert_int_equal(basic("bAsIc \t YTpiOmM=", &c), PARSE_OK); /* a:b:c */
	assert_string_equal(c.user, "a");
	assert_string_equal(c.pass, "b:c");
	assert_int_equal(basic("Basic YTo=", &c), PARSE_OK); /* a: (empty password) */
	assert_int_equal(c.pass_len, 0);
	assert_int_equal(basic("Basic OnBhc3M=", &c), PARSE_INVALID); /* :pass */
	assert_int_equal(basic("Basic dXNlcg==", &c), PARSE_INVALID); /* no colon */
	assert_int_equal(basic("Bearer dXNlcjpwYXNz", &c), PARSE_INVALID);
	assert_int_equal(basic("Basic", &c), PARSE_INVALID);
	assert_int_equal(basic("Basic ", &c), PARSE_INVALID);
	assert_int_equal(basic("BasicdXNlcjpwYXNz", &c), PARSE_INVALID);
	assert_int_equal(basic("Basic dXNlcjpwYXNz!", &c), PARSE_INVALID);
	assert_int_equal(basic("Basic dQBzOnA=", &c), PARSE_INVALID); /* u\0s:p */
	/* 2000 'A's decode to 1500 bytes: over the limits */
	snprintf(big, sizeof(big), "Basic %s", "");
	memset(big + 6, 'A', 2000);
	big[2006] = '\0';
	assert_int_equal(basic(big, &c), PARSE_TOO_BIG);
}

static enum parse_res r1929(const void *p, size_t n, struct auth_cred *c, size_t *used)
{
	const char *why;

	return auth_rfc1929_parse(slice_make(p, n), c, used, &why);
}

static void test_rfc1929(void **state)
{
	struct auth_cred c;
	size_t used;
	static const uint8_t ok[] = {1, 4, 'u', 's', 'e', 'r', 2, 'p', 'w', 0x05};

	(void)state;
	assert_int_equal(r1929(ok, sizeof(ok), &c, &used), PARSE_OK);
	assert_int_equal(used, 9); /* the trailing byte is the next message's */
	assert_string_equal(c.user, "user");
	assert_string_equal(c.pass, "pw");
	for (size_t k = 0; k < 9; k++)
		assert_int_equal(r1929(ok, k, &c, &used), PARSE_AGAIN);
	assert_int_equal(r1929("\x05\x01\x00", 3, &c, &used), PARSE_INVALID);
	assert_int_equal(r1929("\x01\x00\x00", 3, &c, &used), PARSE_INVALID);
	assert_int_equal(r1929("\x01\x01u\x00", 4, &c, &used), PARSE_OK);
	assert_int_equal(c.pass_len, 0);
	assert_int_equal(r1929("\x01\x01\x00\x00", 4, &c, &used), PARSE_INVALID);
}

static struct user_token crypt_token(const char *s)
{
	struct user_token t;

	memset(&t, 0, sizeof(t));
	t.type = USER_TOKEN_CRYPT;
	t.crypt = s;
	return t;
}

static bool verify(const struct user_token *t, const char *pw)
{
	return auth_token_verify(t, pw, strlen(pw));
}

static void test_crypt_tokens(void **state)
{
	static const char *const hashes[] = {
		"$1$saltsalt$ZtMHw9WXbhe3pPBkCQJKC1",
		"$5$saltsalt$vCVzagwpKquSflhQxH0D10Fgy2Km11eLAozR93EkXT6",
		"$6$saltsalt$zM85MwF7wzNFxhHekCkSASe1NaC/xUx1S2eoXlbcx1w6LkHRO4n1DK7q.d/"
		"HKoYFUjJ10GWDs5jLq2A53OAzU1",
	};
	struct user_token t;
	uint64_t t0, t1;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		t = crypt_token(hashes[i]);
		assert_true(verify(&t, "secret pw"));
		assert_false(verify(&t, "secret pW"));
		assert_false(verify(&t, ""));
		/* a NUL inside the password never matches a crypt token */
		assert_false(auth_token_verify(&t, "secret pw\0x", 11));
		assert_true(auth_token_slow(&t));
	}
	/* one $6$ (5000 rounds) verification: report the cost */
	t = crypt_token(hashes[2]);
	t0 = util_mono_ns();
	assert_true(verify(&t, "secret pw"));
	t1 = util_mono_ns();
	print_message("one $6$ verify: %.2f ms\n", (double)(t1 - t0) / 1e6);
	/* a corrupted stored hash does not match */
	t = crypt_token("$6$saltsalt$AAAA");
	assert_false(verify(&t, "secret pw"));
}

static void test_fast_hash_and_special(void **state)
{
	static const uint8_t salt[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	static const uint8_t md5[16] = {0x88, 0xdf, 0xd4, 0xea, 0x7d, 0x8e, 0x86, 0x6e,
					0x00, 0x06, 0xb6, 0x76, 0x9d, 0xf7, 0x9d, 0xaa};
	static const uint8_t sha1[20] = {0x9e, 0xac, 0xa0, 0x82, 0xce, 0xe6, 0xaf,
					 0x51, 0x9f, 0x54, 0x03, 0x9c, 0xc4, 0xb5,
					 0xb7, 0xa2, 0xc2, 0xa8, 0x97, 0xcd};
	struct user_token t;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.type = USER_TOKEN_FAST_HASH;
	memcpy(t.salt, salt, 8);
	t.has_md5 = true;
	memcpy(t.md5, md5, 16);
	assert_true(verify(&t, "secret pw"));
	assert_false(verify(&t, "secret"));
	t.has_sha1 = true;
	memcpy(t.sha1, sha1, 20);
	assert_true(verify(&t, "secret pw"));
	t.sha1[0] ^= 1; /* every hash present must match */
	assert_false(verify(&t, "secret pw"));
	t.has_md5 = false;
	t.sha1[0] ^= 1;
	assert_true(verify(&t, "secret pw"));
	assert_false(auth_token_slow(&t));

	memset(&t, 0, sizeof(t));
	t.type = USER_TOKEN_SKIP;
	assert_true(verify(&t, "anything"));
	t.type = USER_TOKEN_FORBID;
	assert_false(verify(&t, "anything"));
	assert_false(verify(&t, ""));
}

static void test_token_digest(void **state)
{
	struct user_token a = crypt_token("$1$saltsalt$ZtMHw9WXbhe3pPBkCQJKC1");
	struct user_token b = crypt_token("$1$saltsal2$ZtMHw9WXbhe3pPBkCQJKC1");
	uint8_t d1[32], d2[32], d3[32], d4[32];

	(void)state;
	auth_token_digest(&a, "pw", 2, d1);
	auth_token_digest(&a, "pw", 2, d2);
	auth_token_digest(&a, "pW", 2, d3);
	auth_token_digest(&b, "pw", 2, d4);
	assert_true(auth_equal(d1, d2, 32));
	assert_false(auth_equal(d1, d3, 32));
	assert_false(auth_equal(d1, d4, 32));
}

static void test_user_state(void **state)
{
	struct user_state *a = user_state_get("g", "alice");
	struct user_state *b = user_state_get("g", "bob");
	struct rate_limit_quota q = {
		.set = true, .replenish_interval_ns = 100000000, .max_burst = 3};
	uint8_t d[32] = {1}, e[32] = {2};
	uint64_t now = 1000000000000ull;

	(void)state;
	assert_non_null(a);
	assert_ptr_equal(a, user_state_get("g", "alice"));
	assert_ptr_not_equal(a, b);
	assert_ptr_not_equal(a, user_state_get("g2", "alice"));
	assert_ptr_not_equal(user_state_get("ga", "b"), user_state_get("g", "ab"));
	/* password cache */
	assert_false(user_state_pw_cached(a, d));
	user_state_pw_remember(a, d);
	assert_true(user_state_pw_cached(a, d));
	assert_false(user_state_pw_cached(a, e));
	assert_false(user_state_pw_cached(b, d));
	user_state_pw_forget(a);
	assert_false(user_state_pw_cached(a, d));
	/* rate: a burst of 3, then one per 100ms */
	for (int i = 0; i < 3; i++)
		assert_true(user_state_rate_take(a, USER_RATE_REQUEST, &q, now));
	assert_false(user_state_rate_take(a, USER_RATE_REQUEST, &q, now));
	assert_false(user_state_rate_take(a, USER_RATE_REQUEST, &q, now + 99000000));
	assert_true(user_state_rate_take(a, USER_RATE_REQUEST, &q, now + 100000000));
	assert_false(user_state_rate_take(a, USER_RATE_REQUEST, &q, now + 100000000));
	/* the connection limiter and other users are separate */
	assert_true(user_state_rate_take(a, USER_RATE_CONN, &q, now));
	assert_true(user_state_rate_take(b, USER_RATE_REQUEST, &q, now));
	/* after a long pause only a burst is available again */
	for (int i = 0; i < 3; i++)
		assert_true(user_state_rate_take(a, USER_RATE_REQUEST, &q, now + 10000000000ull));
	assert_false(user_state_rate_take(a, USER_RATE_REQUEST, &q, now + 10000000000ull));
	q.set = false;
	assert_true(user_state_rate_take(a, USER_RATE_REQUEST, &q, now));
	/* alive slots */
	assert_true(user_state_alive_acquire(b, 2));
	assert_true(user_state_alive_acquire(b, 2));
	assert_false(user_state_alive_acquire(b, 2));
	assert_int_equal(user_state_alive(b), 2);
	user_state_alive_release(b);
	assert_true(user_state_alive_acquire(b, 2));
	/* per-server counters */
	struct user_srv_stats *s1 = user_state_srv(a, "http", false);
	assert_ptr_equal(s1, user_state_srv(a, "http", false));
	assert_ptr_not_equal(s1, user_state_srv(a, "socks", false));
	user_stats_add(s1, UC_FORBID_AUTH_FAILED, 2);
	assert_int_equal(atomic_load(&s1->c[UC_FORBID_AUTH_FAILED]), 2);
	user_state_registry_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_basic_decode),
		cmocka_unit_test(test_rfc1929),
		cmocka_unit_test(test_crypt_tokens),
		cmocka_unit_test(test_fast_hash_and_special),
		cmocka_unit_test(test_token_digest),
		cmocka_unit_test(test_user_state),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
