/* keypool.h: each key type's precomputed PKCS#8 and SubjectPublicKeyInfo
 * match what OpenSSL's generic encoders produce; pools fill, refill after
 * takes, shrink and grow; an empty pool generates inline and counts it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fcgend/test/fcgen_fixture.h"

#define WAIT_MS 60000

static void test_key_encodings(void **state)
{
	(void)state;
	for (int t = 0; t < FCGEN_KEY__COUNT; t++) {
		struct pool_key *k = pool_key_generate((enum fcgen_key_type)t);
		const unsigned char *p;
		PKCS8_PRIV_KEY_INFO *p8;
		EVP_PKEY *back;
		unsigned char *spki = NULL, *ref = NULL, md[20];
		int n, m;

		assert_non_null(k);
		assert_int_equal(k->type, t);
		/* The PKCS#8 DER decodes to the same key... */
		p = k->der;
		p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)k->der_len);
		assert_non_null(p8);
		assert_ptr_equal(p, k->der + k->der_len);
		back = EVP_PKCS82PKEY(p8);
		assert_non_null(back);
		assert_int_equal(EVP_PKEY_eq(back, k->pkey), 1);
		/* ... and is byte-identical to OpenSSL's own encoding. */
		PKCS8_PRIV_KEY_INFO *ref8 = EVP_PKEY2PKCS8(k->pkey);
		m = i2d_PKCS8_PRIV_KEY_INFO(ref8, &ref);
		assert_int_equal((size_t)m, k->der_len);
		assert_memory_equal(ref, k->der, k->der_len);
		OPENSSL_free(ref);
		ref = NULL;
		PKCS8_PRIV_KEY_INFO_free(ref8);
		/* The SPKI pieces re-assemble into the key's own SPKI. */
		X509_PUBKEY *xp = X509_PUBKEY_new();
		unsigned char *bits = OPENSSL_memdup(k->spki_bits, k->spki_bits_len);
		ASN1_OBJECT *param =
			k->spki_param_type == V_ASN1_OBJECT ? OBJ_nid2obj(k->spki_param_nid) : NULL;
		assert_int_equal(X509_PUBKEY_set0_param(xp, OBJ_nid2obj(k->spki_alg_nid),
							k->spki_param_type, param, bits,
							(int)k->spki_bits_len),
				 1);
		n = i2d_X509_PUBKEY(xp, &spki);
		m = i2d_PUBKEY(k->pkey, &ref);
		assert_int_equal(n, m);
		assert_memory_equal(spki, ref, (size_t)n);
		SHA1(k->spki_bits, k->spki_bits_len, md);
		assert_memory_equal(md, k->skid, 20);
		OPENSSL_free(spki);
		OPENSSL_free(ref);
		X509_PUBKEY_free(xp);
		EVP_PKEY_free(back);
		PKCS8_PRIV_KEY_INFO_free(p8);
		pool_key_free(k);
	}
	pool_key_free(NULL);
}

static void test_key_types_and_names(void **state)
{
	struct pool_key *k;

	(void)state;
	k = pool_key_generate(FCGEN_KEY_RSA2048);
	assert_int_equal(EVP_PKEY_get_base_id(k->pkey), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(k->pkey), 2048);
	pool_key_free(k);
	k = pool_key_generate(FCGEN_KEY_EC256);
	assert_int_equal(EVP_PKEY_get_bits(k->pkey), 256);
	pool_key_free(k);
	assert_string_equal(fcgen_key_type_name(FCGEN_KEY_EC256), "ec256");
	assert_string_equal(fcgen_key_type_name(FCGEN_KEY_RSA2048), "rsa2048");
	assert_string_equal(fcgen_key_type_name(FCGEN_KEY_ED25519), "ed25519");
	assert_string_equal(fcgen_key_type_name(FCGEN_KEY_ED448), "ed448");
	assert_string_equal(fcgen_key_type_name(FCGEN_KEY__COUNT), "unknown");
	assert_null(pool_key_generate(FCGEN_KEY__COUNT));
}

static void test_pool_fill_and_refill(void **state)
{
	uint32_t target[FCGEN_KEY__COUNT] = {
		[FCGEN_KEY_EC256] = 8, [FCGEN_KEY_ED25519] = 4, [FCGEN_KEY_RSA2048] = 1};
	struct keypool_stats st;
	struct pool_key *taken[5];
	char err[128];
	bool was_inline = true;
	int rc = -1;
	struct keypool *p = keypool_new(target, 2, 0, &rc, err, sizeof(err));

	(void)state;
	assert_non_null(p);
	assert_int_equal(rc, 0);
	assert_true(keypool_wait_full(p, WAIT_MS));
	keypool_get_stats(p, &st);
	assert_int_equal(st.threads, 2);
	assert_int_equal(st.level[FCGEN_KEY_EC256], 8);
	assert_int_equal(st.level[FCGEN_KEY_ED25519], 4);
	assert_int_equal(st.level[FCGEN_KEY_RSA2048], 1);
	assert_int_equal(st.level[FCGEN_KEY_ED448], 0);
	assert_int_equal(st.refilled[FCGEN_KEY_EC256], 8);

	for (int i = 0; i < 5; i++) {
		taken[i] = keypool_take(p, FCGEN_KEY_EC256, &was_inline);
		assert_non_null(taken[i]);
		assert_false(was_inline);
		assert_int_equal(taken[i]->type, FCGEN_KEY_EC256);
	}
	/* Every key is distinct. */
	for (int i = 0; i < 5; i++)
		for (int j = i + 1; j < 5; j++)
			assert_int_not_equal(EVP_PKEY_eq(taken[i]->pkey, taken[j]->pkey), 1);
	/* The refill threads bring the pool back to its target. */
	assert_true(keypool_wait_full(p, WAIT_MS));
	keypool_get_stats(p, &st);
	assert_int_equal(st.level[FCGEN_KEY_EC256], 8);
	assert_int_equal(st.taken[FCGEN_KEY_EC256], 5);
	assert_int_equal(st.refilled[FCGEN_KEY_EC256], 13);
	assert_int_equal(st.generated_inline[FCGEN_KEY_EC256], 0);
	for (int i = 0; i < 5; i++)
		pool_key_free(taken[i]);

	/* A type with target 0 is generated inline, and counted. */
	struct pool_key *k = keypool_take(p, FCGEN_KEY_ED448, &was_inline);
	assert_non_null(k);
	assert_true(was_inline);
	assert_int_equal(k->type, FCGEN_KEY_ED448);
	pool_key_free(k);
	keypool_get_stats(p, &st);
	assert_int_equal(st.generated_inline[FCGEN_KEY_ED448], 1);

	/* Shrink: extra keys go at once; grow: refilled. */
	target[FCGEN_KEY_EC256] = 2;
	keypool_set_targets(p, target);
	keypool_get_stats(p, &st);
	assert_int_equal(st.level[FCGEN_KEY_EC256], 2);
	assert_int_equal(st.target[FCGEN_KEY_EC256], 2);
	target[FCGEN_KEY_ED448] = 3;
	keypool_set_targets(p, target);
	assert_true(keypool_wait_full(p, WAIT_MS));
	keypool_get_stats(p, &st);
	assert_int_equal(st.level[FCGEN_KEY_ED448], 3);
	assert_int_equal(st.failures, 0);
	keypool_free(p);
	keypool_free(NULL);
}

static void test_pool_without_threads(void **state)
{
	uint32_t target[FCGEN_KEY__COUNT] = {0};
	struct keypool_stats st;
	char err[128];
	bool was_inline = false;
	int rc = -1;
	struct keypool *p = keypool_new(target, 0, 0, &rc, err, sizeof(err));

	(void)state;
	assert_non_null(p);
	for (int i = 0; i < 3; i++) {
		struct pool_key *k = keypool_take(p, FCGEN_KEY_EC256, &was_inline);
		assert_non_null(k);
		assert_true(was_inline);
		pool_key_free(k);
	}
	keypool_get_stats(p, &st);
	assert_int_equal(st.threads, 0);
	assert_int_equal(st.generated_inline[FCGEN_KEY_EC256], 3);
	assert_int_equal(st.taken[FCGEN_KEY_EC256], 0);
	assert_true(keypool_wait_full(p, 10)); /* nothing to wait for */
	keypool_free(p);
}

static void test_pool_reuse(void **state)
{
	uint32_t target[FCGEN_KEY__COUNT] = {[FCGEN_KEY_ED25519] = 1};
	struct keypool_stats st;
	char err[128];
	bool was_inline = true;
	int rc;
	struct keypool *p = keypool_new(target, 1, 0, &rc, err, sizeof(err));

	(void)state;
	assert_true(keypool_wait_full(p, WAIT_MS));
	keypool_set_reuse(p, true);
	struct pool_key *a = keypool_take(p, FCGEN_KEY_ED25519, &was_inline);
	struct pool_key *b = keypool_take(p, FCGEN_KEY_ED25519, &was_inline);
	assert_false(was_inline);
	/* Copies of the one pooled key, each with its own buffers. */
	assert_int_equal(EVP_PKEY_eq(a->pkey, b->pkey), 1);
	assert_ptr_not_equal(a->der, b->der);
	assert_memory_equal(a->der, b->der, a->der_len);
	assert_memory_equal(a->skid, b->skid, 20);
	keypool_get_stats(p, &st);
	assert_int_equal(st.level[FCGEN_KEY_ED25519], 1);
	assert_int_equal(st.taken[FCGEN_KEY_ED25519], 2);
	pool_key_free(a);
	pool_key_free(b);
	keypool_set_reuse(p, false);
	a = keypool_take(p, FCGEN_KEY_ED25519, &was_inline);
	assert_false(was_inline);
	pool_key_free(a);
	keypool_free(p);
}

static void test_pool_bad_stack(void **state)
{
	uint32_t target[FCGEN_KEY__COUNT] = {0};
	char err[128] = "";
	int rc = 0;

	(void)state;
	/* Smaller than PTHREAD_STACK_MIN: refused with a message. */
	assert_null(keypool_new(target, 1, 1024, &rc, err, sizeof(err)));
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, "key pool: thread stack size 1024"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_encodings),
		cmocka_unit_test(test_key_types_and_names),
		cmocka_unit_test(test_pool_fill_and_refill),
		cmocka_unit_test(test_pool_without_threads),
		cmocka_unit_test(test_pool_reuse),
		cmocka_unit_test(test_pool_bad_stack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
