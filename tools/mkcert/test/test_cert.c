/* Unit tests for mkcert's certificate assembly and --mimic field copying:
 * certificates are built in memory, then read back through OpenSSL and
 * through mkcert_mimic_read(). */
#include "tools/mkcert/cert.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#define NOW 1700000000LL
#define DAY 86400LL

static EVP_PKEY *gen(enum mkcert_key_type t, unsigned bits)
{
	struct mkcert_key_spec ks = {t, bits};
	char err[MKCERT_ERR_MAX];
	EVP_PKEY *k = NULL;

	if (mkcert_key_generate(&ks, &k, err, sizeof(err)) < 0)
		fail_msg("keygen: %s", err);
	return k;
}

static X509_NAME *name_cn(const char *cn)
{
	X509_NAME *n = X509_NAME_new();

	assert_non_null(n);
	if (cn)
		assert_int_equal(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
							    (const unsigned char *)cn, -1, -1, 0),
				 1);
	return n;
}

/* A root CA (owned cert and key). */
static void make_root(X509 **cert, EVP_PKEY **key, enum mkcert_key_type t)
{
	struct mkcert_tbs tbs;
	char err[MKCERT_ERR_MAX];
	X509_NAME *n = name_cn("Unit Root");

	memset(&tbs, 0, sizeof(tbs));
	*key = gen(t, 2048);
	tbs.key = *key;
	tbs.subject = n;
	tbs.validity.not_before = NOW - DAY;
	tbs.validity.not_after = NOW + 3650 * DAY;
	tbs.ca = true;
	tbs.path_length = -1;
	tbs.has_ku = tbs.ku_critical = true;
	tbs.ku = mkcert_ku_for(MKCERT_KIND_ROOT, t);
	if (mkcert_cert_sign(&tbs, cert, err, sizeof(err)) < 0)
		fail_msg("root: %s", err);
	X509_NAME_free(n);
}

static void test_ku_eku_for(void **state)
{
	(void)state;
	assert_int_equal(mkcert_ku_for(MKCERT_KIND_ROOT, MKCERT_KEY_EC256),
			 MKCERT_KU_KEY_CERT_SIGN | MKCERT_KU_CRL_SIGN);
	assert_int_equal(mkcert_ku_for(MKCERT_KIND_INTERMEDIATE, MKCERT_KEY_RSA),
			 MKCERT_KU_KEY_CERT_SIGN | MKCERT_KU_CRL_SIGN);
	assert_int_equal(mkcert_ku_for(MKCERT_KIND_TLS_SERVER, MKCERT_KEY_RSA),
			 MKCERT_KU_DIGITAL_SIGNATURE | MKCERT_KU_KEY_ENCIPHERMENT);
	assert_int_equal(mkcert_ku_for(MKCERT_KIND_TLS_CLIENT, MKCERT_KEY_RSA),
			 MKCERT_KU_DIGITAL_SIGNATURE);
	assert_int_equal(mkcert_ku_for(MKCERT_KIND_TLS_SERVER, MKCERT_KEY_EC256),
			 MKCERT_KU_DIGITAL_SIGNATURE);
	assert_int_equal(mkcert_ku_for(MKCERT_KIND_TLS_SERVER, MKCERT_KEY_ED448),
			 MKCERT_KU_DIGITAL_SIGNATURE);
	assert_int_equal(mkcert_ku_for(MKCERT_KIND_TLS_SERVER, MKCERT_KEY_X25519),
			 MKCERT_KU_KEY_AGREEMENT);
	assert_int_equal(mkcert_ku_for(MKCERT_KIND_TLCP_SERVER_SIGN, MKCERT_KEY_SM2),
			 MKCERT_KU_DIGITAL_SIGNATURE | MKCERT_KU_NON_REPUDIATION);
	assert_int_equal(mkcert_ku_for(MKCERT_KIND_TLCP_CLIENT_ENC, MKCERT_KEY_SM2),
			 MKCERT_KU_KEY_AGREEMENT | MKCERT_KU_KEY_ENCIPHERMENT |
				 MKCERT_KU_DATA_ENCIPHERMENT);
	assert_int_equal(mkcert_eku_nid_for(MKCERT_KIND_TLS_SERVER), NID_server_auth);
	assert_int_equal(mkcert_eku_nid_for(MKCERT_KIND_TLCP_SERVER_ENC), NID_server_auth);
	assert_int_equal(mkcert_eku_nid_for(MKCERT_KIND_TLS_CLIENT), NID_client_auth);
	assert_int_equal(mkcert_eku_nid_for(MKCERT_KIND_ROOT), NID_undef);
	assert_int_equal(mkcert_eku_nid_for(MKCERT_KIND_MIMIC), NID_undef);
}

static void test_key_types(void **state)
{
	static const enum mkcert_key_type types[] = {
		MKCERT_KEY_EC224, MKCERT_KEY_EC256,  MKCERT_KEY_EC384,
		MKCERT_KEY_EC521, MKCERT_KEY_SM2,    MKCERT_KEY_ED25519,
		MKCERT_KEY_ED448, MKCERT_KEY_X25519, MKCERT_KEY_X448,
	};
	struct mkcert_key_spec ks;
	char err[MKCERT_ERR_MAX], buf[32];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		EVP_PKEY *k = gen(types[i], 0);

		assert_int_equal(mkcert_key_spec_of(k, &ks, err, sizeof(err)), 0);
		assert_int_equal(ks.type, types[i]);
		EVP_PKEY_free(k);
	}
	{
		EVP_PKEY *k = gen(MKCERT_KEY_RSA, 1024);

		assert_int_equal(mkcert_key_spec_of(k, &ks, err, sizeof(err)), 0);
		assert_int_equal(ks.type, MKCERT_KEY_RSA);
		assert_int_equal(ks.rsa_bits, 1024);
		assert_string_equal(mkcert_key_spec_str(&ks, buf, sizeof(buf)), "rsa1024");
		assert_ptr_equal(mkcert_sign_md(k), EVP_sha256());
		EVP_PKEY_free(k);
	}
	{
		EVP_PKEY *k = gen(MKCERT_KEY_ED25519, 0);

		assert_null(mkcert_sign_md(k));
		EVP_PKEY_free(k);
		k = gen(MKCERT_KEY_SM2, 0);
		assert_ptr_equal(mkcert_sign_md(k), EVP_sm3());
		EVP_PKEY_free(k);
	}
	ks = mkcert_key_default(MKCERT_KIND_TLS_SERVER, NULL);
	assert_int_equal(ks.type, MKCERT_KEY_EC256);
	ks = mkcert_key_default(MKCERT_KIND_TLCP_CLIENT_SIGN, NULL);
	assert_int_equal(ks.type, MKCERT_KEY_SM2);
	{
		struct mkcert_key_spec up = {MKCERT_KEY_RSA, 3072};

		ks = mkcert_key_default(MKCERT_KIND_MIMIC, &up);
		assert_int_equal(ks.type, MKCERT_KEY_RSA);
		assert_int_equal(ks.rsa_bits, 3072);
	}
	assert_false(mkcert_key_can_sign(MKCERT_KEY_X448));
	assert_true(mkcert_key_can_sign(MKCERT_KEY_ED448));
}

static void test_key_unsupported(void **state)
{
	struct mkcert_key_spec ks;
	char err[MKCERT_ERR_MAX];
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "brainpoolP256r1");

	(void)state;
	assert_non_null(k);
	assert_int_equal(mkcert_key_spec_of(k, &ks, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "brainpoolP256r1"));
	EVP_PKEY_free(k);
}

static void test_serial(void **state)
{
	ASN1_INTEGER *a = NULL, *b = NULL;
	BIGNUM *bn;

	(void)state;
	assert_int_equal(mkcert_serial_random(&a), 0);
	assert_int_equal(mkcert_serial_random(&b), 0);
	assert_int_not_equal(ASN1_INTEGER_cmp(a, b), 0);
	bn = ASN1_INTEGER_to_BN(a, NULL);
	assert_int_equal(BN_num_bits(bn), 128);
	assert_false(BN_is_negative(bn));
	BN_free(bn);
	ASN1_INTEGER_free(a);
	ASN1_INTEGER_free(b);
}

static void test_subject_build(void **state)
{
	struct mkcert_opts o;
	X509_NAME *n = NULL;
	char err[MKCERT_ERR_MAX], line[256];
	char long_host[80];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.country = "DE";
	o.organization = "Example GmbH";
	o.org_unit = "Ops";
	assert_int_equal(mkcert_subject_build(&o, "www.example.com", &n, err, sizeof(err)), 0);
	X509_NAME_oneline(n, line, sizeof(line));
	assert_string_equal(line, "/C=DE/O=Example GmbH/OU=Ops/CN=www.example.com");
	X509_NAME_free(n);
	o.common_name = "Given";
	assert_int_equal(mkcert_subject_build(&o, "www.example.com", &n, err, sizeof(err)), 0);
	X509_NAME_oneline(n, line, sizeof(line));
	assert_string_equal(line, "/C=DE/O=Example GmbH/OU=Ops/CN=Given");
	X509_NAME_free(n);

	/* a host too long for a CN is left out of the subject */
	memset(&o, 0, sizeof(o));
	memset(long_host, 'h', 70);
	strcpy(long_host + 70, ".example");
	assert_int_equal(mkcert_subject_build(&o, long_host, &n, err, sizeof(err)), 0);
	assert_int_equal(X509_NAME_entry_count(n), 0);
	X509_NAME_free(n);
	/* but an explicit one that long is an error naming the option */
	o.common_name = long_host;
	assert_int_equal(mkcert_subject_build(&o, NULL, &n, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--common-name"));
}

/* Make a server leaf under a fresh root with the given extensions. */
struct leaf {
	X509 *root;
	EVP_PKEY *root_key;
	X509 *cert;
	EVP_PKEY *key;
};

static void leaf_free(struct leaf *l)
{
	X509_free(l->root);
	EVP_PKEY_free(l->root_key);
	X509_free(l->cert);
	EVP_PKEY_free(l->key);
}

static int make_leaf(struct leaf *l, const struct mkcert_tbs *proto, enum mkcert_key_type kt,
		     char *err)
{
	struct mkcert_tbs t = *proto;

	memset(l, 0, sizeof(*l));
	make_root(&l->root, &l->root_key, MKCERT_KEY_EC256);
	l->key = gen(kt, 2048);
	t.key = l->key;
	t.issuer = l->root;
	t.issuer_key = l->root_key;
	return mkcert_cert_sign(&t, &l->cert, err, MKCERT_ERR_MAX);
}

static GENERAL_NAMES *hosts_san(const char *const *names, size_t n)
{
	struct mkcert_host h[8];
	GENERAL_NAMES *g = NULL;
	char err[MKCERT_ERR_MAX];
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_not_equal(mkcert_host_classify(names[i], &h[i], err, sizeof(err)),
				     MKCERT_HOST_INVALID);
	assert_int_equal(mkcert_san_build(h, n, &g), 0);
	return g;
}

static void test_leaf_extensions(void **state)
{
	static const char *const names[] = {"www.example.com", "*.example.net", "127.0.0.1", "::1"};
	struct mkcert_tbs t;
	struct leaf l;
	X509_NAME *n = name_cn("www.example.com");
	GENERAL_NAMES *san = hosts_san(names, 4);
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	char err[MKCERT_ERR_MAX];
	const ASN1_OCTET_STRING *akid_keyid;
	AUTHORITY_KEYID *akid;
	int crit;

	(void)state;
	sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth));
	memset(&t, 0, sizeof(t));
	t.subject = n;
	t.san = san;
	t.validity.not_before = NOW - DAY;
	t.validity.not_after = NOW + 365 * DAY;
	t.path_length = -1;
	t.has_ku = t.ku_critical = true;
	t.ku = mkcert_ku_for(MKCERT_KIND_TLS_SERVER, MKCERT_KEY_RSA);
	t.eku = eku;
	if (make_leaf(&l, &t, MKCERT_KEY_RSA, err) < 0)
		fail_msg("leaf: %s", err);

	assert_int_equal(X509_get_version(l.cert), X509_VERSION_3);
	assert_int_equal(X509_verify(l.cert, l.root_key), 1);
	assert_int_equal(X509_check_issued(l.root, l.cert), X509_V_OK);
	assert_int_equal(X509_check_host(l.cert, "a.example.net", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(l.cert, "www.example.com", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(l.cert, "::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(l.cert, "127.0.0.2", 0), 0);
	assert_int_equal(X509_check_purpose(l.cert, X509_PURPOSE_SSL_SERVER, 0), 1);
	assert_int_equal(X509_check_purpose(l.cert, X509_PURPOSE_SSL_CLIENT, 0), 0);
	assert_int_equal(X509_check_ca(l.cert), 0);
	assert_int_equal(X509_get_key_usage(l.cert), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	/* basicConstraints critical, SAN not (the subject is not empty) */
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(
				 l.cert, X509_get_ext_by_NID(l.cert, NID_basic_constraints, -1))),
			 1);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(
				 l.cert, X509_get_ext_by_NID(l.cert, NID_subject_alt_name, -1))),
			 0);
	/* AKID = the root's SKID; the root has no AKID of its own */
	akid = X509_get_ext_d2i(l.cert, NID_authority_key_identifier, &crit, NULL);
	assert_non_null(akid);
	assert_int_equal(crit, 0);
	akid_keyid = akid->keyid;
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid_keyid, X509_get0_subject_key_id(l.root)), 0);
	assert_null(akid->issuer);
	AUTHORITY_KEYID_free(akid);
	assert_null(X509_get0_authority_key_id(l.root));
	assert_non_null(X509_get0_subject_key_id(l.cert));
	assert_int_equal(ASN1_STRING_length(X509_get0_subject_key_id(l.cert)), 20);
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(l.cert), NULL);

		assert_int_equal(BN_num_bits(bn), 128);
		BN_free(bn);
	}
	leaf_free(&l);
	X509_NAME_free(n);
	GENERAL_NAMES_free(san);
	sk_ASN1_OBJECT_free(eku);
}

static void test_empty_subject(void **state)
{
	static const char *const names[] = {"only-in-san.example"};
	struct mkcert_tbs t;
	struct leaf l;
	X509_NAME *n = name_cn(NULL);
	GENERAL_NAMES *san = hosts_san(names, 1);
	char err[MKCERT_ERR_MAX];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.subject = n;
	t.validity.not_before = NOW;
	t.validity.not_after = NOW + DAY;
	t.path_length = -1;
	/* no SAN either: refused */
	assert_int_equal(make_leaf(&l, &t, MKCERT_KEY_EC256, err), -EINVAL);
	assert_non_null(strstr(err, "neither a subject nor subjectAltName"));
	leaf_free(&l);
	/* with a SAN: the SAN becomes critical (RFC 5280 §4.2.1.6) */
	t.san = san;
	if (make_leaf(&l, &t, MKCERT_KEY_EC256, err) < 0)
		fail_msg("leaf: %s", err);
	assert_int_equal(X509_EXTENSION_get_critical(X509_get_ext(
				 l.cert, X509_get_ext_by_NID(l.cert, NID_subject_alt_name, -1))),
			 1);
	leaf_free(&l);
	X509_NAME_free(n);
	GENERAL_NAMES_free(san);
}

static void test_x25519_cannot_sign(void **state)
{
	struct mkcert_tbs t;
	X509_NAME *n = name_cn("x");
	EVP_PKEY *k = gen(MKCERT_KEY_X25519, 0);
	X509 *x = NULL;
	char err[MKCERT_ERR_MAX];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.key = k;
	t.subject = n;
	t.validity.not_after = NOW;
	t.path_length = -1;
	assert_int_equal(mkcert_cert_sign(&t, &x, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cannot sign"));
	assert_null(x);
	EVP_PKEY_free(k);
	X509_NAME_free(n);
}

static void test_ca_pathlen(void **state)
{
	struct mkcert_tbs t;
	struct leaf l;
	X509_NAME *n = name_cn("Inter");
	char err[MKCERT_ERR_MAX];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.subject = n;
	t.validity.not_after = NOW + DAY;
	t.ca = true;
	t.path_length = 2;
	t.has_ku = t.ku_critical = true;
	t.ku = mkcert_ku_for(MKCERT_KIND_INTERMEDIATE, MKCERT_KEY_EC256);
	if (make_leaf(&l, &t, MKCERT_KEY_EC256, err) < 0)
		fail_msg("intermediate: %s", err);
	assert_int_equal(X509_check_ca(l.cert), 1);
	assert_int_equal(X509_get_pathlen(l.cert), 2);
	assert_int_equal(X509_get_pathlen(l.root), -1);
	assert_int_equal(X509_get_key_usage(l.cert), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	leaf_free(&l);
	X509_NAME_free(n);
}

/* The mimic reader gets back exactly what the builder put in. */
static void test_mimic_roundtrip(void **state)
{
	static const char *const names[] = {"a.example.org", "*.b.example.org", "10.9.8.7"};
	struct mkcert_tbs t;
	struct mkcert_mimic m;
	struct leaf l;
	X509_NAME *n = name_cn("a.example.org");
	GENERAL_NAMES *san = hosts_san(names, 3);
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	char err[MKCERT_ERR_MAX], line[256];
	GENERAL_NAME *g;

	(void)state;
	X509_NAME_add_entry_by_NID(n, NID_organizationName, MBSTRING_UTF8,
				   (const unsigned char *)"Upstream", -1, -1, 0);
	sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth));
	sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth));
	ASN1_INTEGER_set(serial, 0x1234567);
	memset(&t, 0, sizeof(t));
	t.subject = n;
	t.san = san;
	t.serial = serial;
	t.validity.not_before = NOW - 3 * DAY;
	t.validity.not_after = NOW + 90 * DAY;
	t.path_length = -1;
	t.has_ku = true;
	t.ku_critical = false;
	t.ku = MKCERT_KU_DIGITAL_SIGNATURE | MKCERT_KU_KEY_AGREEMENT;
	t.eku = eku;
	t.eku_critical = true;
	if (make_leaf(&l, &t, MKCERT_KEY_EC384, err) < 0)
		fail_msg("leaf: %s", err);

	if (mkcert_mimic_read(l.cert, &m, err, sizeof(err)) < 0)
		fail_msg("mimic: %s", err);
	X509_NAME_oneline(m.subject, line, sizeof(line));
	assert_string_equal(line, "/CN=a.example.org/O=Upstream");
	assert_string_equal(m.cn, "a.example.org");
	assert_int_equal(m.key.type, MKCERT_KEY_EC384);
	assert_int_equal(m.validity.not_before, NOW - 3 * DAY);
	assert_int_equal(m.validity.not_after, NOW + 90 * DAY);
	assert_true(m.has_ku);
	assert_false(m.ku_critical);
	assert_int_equal(m.ku, MKCERT_KU_DIGITAL_SIGNATURE | MKCERT_KU_KEY_AGREEMENT);
	assert_non_null(m.eku);
	assert_true(m.eku_critical);
	assert_int_equal(sk_ASN1_OBJECT_num(m.eku), 2);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(m.eku, 0)), NID_server_auth);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(m.eku, 1)), NID_client_auth);
	assert_int_equal(ASN1_INTEGER_get(m.serial), 0x1234567);
	assert_non_null(m.san);
	assert_int_equal(sk_GENERAL_NAME_num(m.san), 3);
	g = sk_GENERAL_NAME_value(m.san, 1);
	assert_int_equal(g->type, GEN_DNS);
	assert_string_equal((const char *)ASN1_STRING_get0_data(g->d.dNSName), "*.b.example.org");
	g = sk_GENERAL_NAME_value(m.san, 2);
	assert_int_equal(g->type, GEN_IPADD);
	assert_memory_equal(ASN1_STRING_get0_data(g->d.iPAddress), "\x0a\x09\x08\x07", 4);
	mkcert_mimic_fini(&m);
	leaf_free(&l);
	X509_NAME_free(n);
	GENERAL_NAMES_free(san);
	sk_ASN1_OBJECT_free(eku);
	ASN1_INTEGER_free(serial);
}

/* No KU, no EKU, no SAN upstream: the reader reports them absent. */
static void test_mimic_absent_extensions(void **state)
{
	struct mkcert_tbs t;
	struct mkcert_mimic m;
	struct leaf l;
	X509_NAME *n = name_cn("bare.example");
	char err[MKCERT_ERR_MAX];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.subject = n;
	t.validity.not_before = NOW;
	t.validity.not_after = NOW + DAY;
	t.path_length = -1;
	if (make_leaf(&l, &t, MKCERT_KEY_RSA, err) < 0)
		fail_msg("leaf: %s", err);
	assert_int_equal(mkcert_mimic_read(l.cert, &m, err, sizeof(err)), 0);
	assert_false(m.has_ku);
	assert_null(m.eku);
	assert_null(m.san);
	assert_int_equal(m.key.type, MKCERT_KEY_RSA);
	assert_int_equal(m.key.rsa_bits, 2048);
	assert_string_equal(m.cn, "bare.example");
	mkcert_mimic_fini(&m);
	mkcert_mimic_fini(&m); /* safe twice */
	leaf_free(&l);
	X509_NAME_free(n);
}

static void test_mimic_bad_extension(void **state)
{
	struct mkcert_mimic m;
	struct leaf l;
	struct mkcert_tbs t;
	X509_NAME *n = name_cn("dup.example");
	X509_EXTENSION *ext;
	ASN1_OCTET_STRING *junk = ASN1_OCTET_STRING_new();
	char err[MKCERT_ERR_MAX];

	(void)state;
	memset(&t, 0, sizeof(t));
	t.subject = n;
	t.validity.not_after = NOW + DAY;
	t.path_length = -1;
	if (make_leaf(&l, &t, MKCERT_KEY_EC256, err) < 0)
		fail_msg("leaf: %s", err);
	/* an EKU extension whose value is not a SEQUENCE OF OID */
	ASN1_OCTET_STRING_set(junk, (const unsigned char *)"\x04\x01\x00", 3);
	ext = X509_EXTENSION_create_by_NID(NULL, NID_ext_key_usage, 0, junk);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(l.cert, ext, -1), 1);
	assert_int_equal(mkcert_mimic_read(l.cert, &m, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "Extended Key Usage extension is malformed"));
	mkcert_mimic_fini(&m);
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(junk);
	leaf_free(&l);
	X509_NAME_free(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ku_eku_for),
		cmocka_unit_test(test_key_types),
		cmocka_unit_test(test_key_unsupported),
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_subject_build),
		cmocka_unit_test(test_leaf_extensions),
		cmocka_unit_test(test_empty_subject),
		cmocka_unit_test(test_x25519_cannot_sign),
		cmocka_unit_test(test_ca_pathlen),
		cmocka_unit_test(test_mimic_roundtrip),
		cmocka_unit_test(test_mimic_absent_extensions),
		cmocka_unit_test(test_mimic_bad_extension),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
