/* forge.h: host validation, upstream vetting, validity windows, TTL, and
 * the forged leaf field by field (plain and mimic, RSA/EC/EdDSA upstreams
 * and CAs), each leaf also checked by OpenSSL's strict verifier. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fcgend/test/fcgen_fixture.h"

struct env {
	EVP_PKEY *ca_key;
	X509 *ca;
	struct forge_ca *fca;
};

static struct env E;

static int setup(void **state)
{
	(void)state;
	E.ca_key = fx_key("ec256");
	E.ca = fx_ca(E.ca_key, "Forge Test CA", -10, 3650, true);
	E.fca = fx_forge_ca(E.ca, E.ca_key, false, false, 86400);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	forge_ca_free(E.fca);
	X509_free(E.ca);
	EVP_PKEY_free(E.ca_key);
	return 0;
}

/* Forge for host (and upstream) with a fresh key; asserts success. */
static X509 *forge(const struct forge_ca *fca, const char *host, bool wildcard, int usage, X509 *up,
		   enum fcgen_key_type kt, struct pool_key **key_out)
{
	struct forge_host h;
	struct forge_req r = {.host = &h, .usage = usage, .upstream = up};
	struct pool_key *k;
	uint8_t *der = NULL;
	size_t len = 0;
	char err[256] = "";
	X509 *x;

	if (forge_host_parse(host, strlen(host), wildcard, &h, err, sizeof(err)) != 0)
		fail_msg("host %s: %s", host, err);
	assert_int_equal(
		forge_validity(fca, up, time(NULL), &r.not_before, &r.not_after, err, sizeof(err)),
		RPC_OK);
	k = pool_key_generate(kt);
	assert_non_null(k);
	if (forge_leaf(fca, &r, k, &der, &len, err, sizeof(err)) != RPC_OK)
		fail_msg("forge_leaf: %s", err);
	x = fx_parse(der, len);
	OPENSSL_free(der);
	if (key_out)
		*key_out = k;
	else
		pool_key_free(k);
	return x;
}

/* ---- hosts ------------------------------------------------------------------------ */

static void host_err(const char *s, size_t len, bool wildcard, const char *want)
{
	struct forge_host h;
	char err[256] = "";

	assert_int_equal(forge_host_parse(s, len, wildcard, &h, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, want);
}

static void test_host_valid(void **state)
{
	struct forge_host h;
	char err[256];

	(void)state;
	assert_int_equal(forge_host_parse("WWW.Example.COM.", 16, false, &h, err, sizeof(err)), 0);
	assert_string_equal(h.name, "www.example.com");
	assert_false(h.is_ip);
	assert_int_equal(forge_host_parse("192.0.2.7", 9, false, &h, err, sizeof(err)), 0);
	assert_true(h.is_ip);
	assert_int_equal(h.iplen, 4);
	assert_int_equal(forge_host_parse("[2001:DB8::1]", 13, false, &h, err, sizeof(err)), 0);
	assert_true(h.is_ip);
	assert_int_equal(h.iplen, 16);
	assert_string_equal(h.name, "2001:db8::1");
	assert_int_equal(forge_host_parse("*.example.com", 13, false, &h, err, sizeof(err)), 0);
	assert_true(h.is_wildcard);
	assert_string_equal(h.wild, "");
	assert_int_equal(forge_host_parse("a.b.example.com", 15, true, &h, err, sizeof(err)), 0);
	assert_string_equal(h.wild, "*.b.example.com");
	assert_int_equal(forge_host_parse("_dmarc.x-y.example", 18, false, &h, err, sizeof(err)),
			 0);
	char max[FORGE_HOST_MAX + 1];
	for (size_t i = 0; i < FORGE_HOST_MAX; i++)
		max[i] = (i % 50 == 49) ? '.' : 'a';
	assert_int_equal(forge_host_parse(max, FORGE_HOST_MAX, false, &h, err, sizeof(err)), 0);
}

static void test_host_invalid(void **state)
{
	char big[400];

	(void)state;
	host_err("", 0, false, "empty host");
	memset(big, 'a', sizeof(big));
	host_err(big, 300, false, "host too long (300 bytes, at most 253)");
	for (size_t i = 0; i < 254; i++)
		big[i] = (i % 50 == 49) ? '.' : 'a';
	host_err(big, 254, false, "host too long (254 bytes, at most 253)");
	host_err("a..b", 4, false, "empty label at offset 2");
	host_err(".a", 2, false, "empty label at offset 0");
	host_err("a b.com", 7, false,
		 "invalid character 0x20 at offset 1 (DNS names use letters, digits, '-', '_' and "
		 "A-labels for IDNs)");
	host_err("b\xc3\xa4r.de", 7, false,
		 "invalid character 0xc3 at offset 1 (DNS names use letters, digits, '-', '_' and "
		 "A-labels for IDNs)");
	host_err("a\0b", 3, false, "host contains a NUL byte");
	host_err("-a.com", 6, false, "label at offset 0 starts or ends with '-'");
	host_err("a.*.com", 7, false, "'*' is only allowed as the whole first label");
	host_err("*.com", 5, false, "a wildcard needs at least two labels after '*'");
	snprintf(big, sizeof(big), "%.64s.com",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	host_err(big, 68, false, "label at offset 0 is 64 bytes long (at most 63)");
	host_err("[1.2.3.4]", 9, false, "invalid IPv6 literal '[1.2.3.4'");
	host_err("10.0.0.1", 8, true, "a wildcard needs a DNS name, not an IP address");
	host_err("example.com", 11, true,
		 "a wildcard for 'example.com' would cover a top-level domain: it needs three "
		 "labels");
}

/* ---- upstream vetting ------------------------------------------------------------- */

static void test_upstream_invalid(void **state)
{
	struct fx_leaf spec = {.key = "ec256", .subject = "/CN=up.example", .na_days = 30};
	enum fcgen_key_type kt;
	X509 *up = fx_leaf(&spec, NULL), *out = NULL;
	uint8_t *der, junk[64];
	size_t n = fx_der(up, &der);
	char err[256];

	(void)state;
	assert_int_equal(forge_upstream_parse(der, 0, &out, &kt, err, sizeof(err)),
			 RPC_INVALID_ARGUMENT);
	assert_string_equal(err, "empty upstream certificate");
	assert_int_equal(forge_upstream_parse(der, n - 1, &out, &kt, err, sizeof(err)),
			 RPC_INVALID_ARGUMENT);
	assert_non_null(strstr(err, "invalid upstream certificate: not DER X.509"));
	uint8_t *longer = malloc(n + 3);
	memcpy(longer, der, n);
	memset(longer + n, 0, 3);
	assert_int_equal(forge_upstream_parse(longer, n + 3, &out, &kt, err, sizeof(err)),
			 RPC_INVALID_ARGUMENT);
	assert_string_equal(err, "invalid upstream certificate: 3 bytes of trailing data after "
				 "the DER certificate");
	free(longer);
	memset(junk, 0x41, sizeof(junk));
	assert_int_equal(forge_upstream_parse(junk, sizeof(junk), &out, &kt, err, sizeof(err)),
			 RPC_INVALID_ARGUMENT);
	assert_int_equal(
		forge_upstream_parse(der, FORGE_UPSTREAM_MAX + 1, &out, &kt, err, sizeof(err)),
		RPC_INVALID_ARGUMENT);
	assert_string_equal(err, "upstream certificate too large (65537 bytes, at most 65536)");
	assert_null(out);
	assert_int_equal(forge_upstream_parse(der, n, &out, &kt, err, sizeof(err)), RPC_OK);
	assert_int_equal(kt, FCGEN_KEY_EC256);
	X509_free(out);
	OPENSSL_free(der);
	X509_free(up);

	/* X25519 cannot sign: no server certificate to mimic. */
	spec.key = "x25519";
	up = fx_leaf(&spec, NULL);
	n = fx_der(up, &der);
	assert_int_equal(forge_upstream_parse(der, n, &out, &kt, err, sizeof(err)),
			 RPC_INVALID_ARGUMENT);
	assert_string_equal(err, "unsupported upstream key type X25519");
	OPENSSL_free(der);
	X509_free(up);
}

static void test_upstream_key_types(void **state)
{
	static const struct {
		const char *kind;
		enum fcgen_key_type want;
	} cases[] = {
		{"rsa3072", FCGEN_KEY_RSA2048}, {"ec384", FCGEN_KEY_EC256},
		{"ec256", FCGEN_KEY_EC256},	{"ed25519", FCGEN_KEY_ED25519},
		{"ed448", FCGEN_KEY_ED448},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct fx_leaf spec = {
			.key = cases[i].kind, .subject = "/CN=k.example", .na_days = 10};
		X509 *up = fx_leaf(&spec, NULL), *out = NULL;
		enum fcgen_key_type kt = FCGEN_KEY__COUNT;
		uint8_t *der;
		size_t n = fx_der(up, &der);
		char err[256];

		assert_int_equal(forge_upstream_parse(der, n, &out, &kt, err, sizeof(err)), RPC_OK);
		assert_int_equal(kt, cases[i].want);
		X509_free(out);
		OPENSSL_free(der);
		X509_free(up);
	}
}

/* ---- plain certificates ------------------------------------------------------------ */

static void check_common(X509 *leaf, const struct pool_key *k)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(leaf);
	const ASN1_OCTET_STRING *skid, *akid_ca;
	AUTHORITY_KEYID *akid;
	BASIC_CONSTRAINTS *bc;
	int crit = -1;
	char eku[128];

	assert_int_equal(X509_get_version(leaf), X509_VERSION_3);
	/* 128 random bits with the top one set: 16 content bytes, positive. */
	assert_int_equal(ASN1_STRING_length(sn), 16);
	assert_true(ASN1_STRING_get0_data(sn)[0] & 0x80);
	assert_int_equal(ASN1_STRING_type(sn), V_ASN1_INTEGER);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(leaf), X509_get_subject_name(E.ca)), 0);
	bc = X509_get_ext_d2i(leaf, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_false(bc->ca);
	BASIC_CONSTRAINTS_free(bc);
	fx_eku(leaf, eku, sizeof(eku), &crit);
	assert_non_null(strstr(eku, "serverAuth"));
	skid = X509_get0_subject_key_id(leaf);
	assert_non_null(skid);
	assert_int_equal(ASN1_STRING_length(skid), 20);
	assert_memory_equal(ASN1_STRING_get0_data(skid), k->skid, 20);
	akid = X509_get_ext_d2i(leaf, NID_authority_key_identifier, &crit, NULL);
	akid_ca = X509_get0_subject_key_id(E.ca);
	assert_non_null(akid);
	assert_int_equal(ASN1_OCTET_STRING_cmp(akid->keyid, akid_ca), 0);
	AUTHORITY_KEYID_free(akid);
	/* The certificate carries the pool key's public key. */
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(leaf), k->pkey), 1);
	assert_int_equal(X509_verify(leaf, E.ca_key), 1);
}

static void test_plain_dns(void **state)
{
	struct pool_key *k = NULL;
	X509 *x = forge(E.fca, "Www.Example.com", false, FORGE_USAGE_TLS_SERVER, NULL,
			FCGEN_KEY_EC256, &k);
	char buf[512];
	int crit = -1;
	time_t now = time(NULL);

	(void)state;
	check_common(x, k);
	fx_subject(x, buf, sizeof(buf));
	assert_string_equal(buf, "/CN=www.example.com");
	fx_sans(x, buf, sizeof(buf), &crit);
	assert_string_equal(buf, "DNS:www.example.com");
	assert_int_equal(crit, 0);
	assert_int_equal(fx_ku(x, &crit), 1 << 0 | 1 << 4); /* digitalSignature, keyAgreement */
	assert_int_equal(crit, 1);
	fx_eku(x, buf, sizeof(buf), &crit);
	assert_string_equal(buf, "serverAuth");
	/* now - 1 day .. now + 365 days (a second of slack each way). */
	assert_true(labs((long)(fx_time(X509_get0_notBefore(x)) - (now - DAY))) <= 2);
	assert_true(labs((long)(fx_time(X509_get0_notAfter(x)) - (now + 365 * DAY))) <= 2);
	assert_int_equal(X509_get_ext_by_NID(x, NID_crl_distribution_points, -1), -1);
	assert_int_equal(fx_verify(E.ca, x, "www.example.com"), X509_V_OK);
	assert_int_equal(fx_verify(E.ca, x, "other.example.com"), X509_V_ERR_HOSTNAME_MISMATCH);
	X509_free(x);
	pool_key_free(k);
}

static void test_plain_ip(void **state)
{
	struct pool_key *k = NULL;
	X509 *x = forge(E.fca, "2001:db8::7", false, FORGE_USAGE_TLS_SERVER, NULL, FCGEN_KEY_EC256,
			&k);
	X509 *y = forge(E.fca, "192.0.2.1", false, FORGE_USAGE_TLS_SERVER, NULL, FCGEN_KEY_EC256,
			NULL);
	char buf[256];

	(void)state;
	check_common(x, k);
	fx_sans(x, buf, sizeof(buf), NULL);
	assert_string_equal(buf, "IP:2001:db8::7");
	fx_sans(y, buf, sizeof(buf), NULL);
	assert_string_equal(buf, "IP:192.0.2.1");
	fx_subject(y, buf, sizeof(buf));
	assert_string_equal(buf, "/CN=192.0.2.1");
	assert_int_equal(fx_verify(E.ca, x, "2001:db8::7"), X509_V_OK);
	assert_int_equal(fx_verify(E.ca, y, "192.0.2.1"), X509_V_OK);
	assert_int_equal(fx_verify(E.ca, y, "192.0.2.2"), X509_V_ERR_IP_ADDRESS_MISMATCH);
	X509_free(x);
	X509_free(y);
	pool_key_free(k);
}

static void test_plain_wildcard(void **state)
{
	X509 *x = forge(E.fca, "api.shop.example", true, FORGE_USAGE_TLS_SERVER, NULL,
			FCGEN_KEY_EC256, NULL);
	X509 *y = forge(E.fca, "*.cdn.example", false, FORGE_USAGE_TLS_SERVER, NULL,
			FCGEN_KEY_EC256, NULL);
	char buf[256];

	(void)state;
	fx_sans(x, buf, sizeof(buf), NULL);
	assert_string_equal(buf, "DNS:api.shop.example,DNS:*.shop.example");
	assert_int_equal(fx_verify(E.ca, x, "api.shop.example"), X509_V_OK);
	assert_int_equal(fx_verify(E.ca, x, "www.shop.example"), X509_V_OK);
	fx_sans(y, buf, sizeof(buf), NULL);
	assert_string_equal(buf, "DNS:*.cdn.example");
	fx_subject(y, buf, sizeof(buf));
	assert_string_equal(buf, "/CN=*.cdn.example");
	assert_int_equal(fx_verify(E.ca, y, "img.cdn.example"), X509_V_OK);
	X509_free(x);
	X509_free(y);
}

static void test_plain_long_host(void **state)
{
	char host[100];
	char buf[256];
	int crit = -1;
	X509 *x;

	(void)state;
	snprintf(host, sizeof(host), "%s.%s.example", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
	x = forge(E.fca, host, false, FORGE_USAGE_TLS_SERVER, NULL, FCGEN_KEY_EC256, NULL);
	/* A CN holds 64 bytes at most: the subject is empty, the SAN critical. */
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
	fx_sans(x, buf, sizeof(buf), &crit);
	assert_int_equal(crit, 1);
	assert_int_equal(fx_verify(E.ca, x, host), X509_V_OK);
	X509_free(x);
}

static void test_usage_key_usage(void **state)
{
	static const struct {
		int usage;
		enum fcgen_key_type kt;
		int ku;
	} cases[] = {
		{FORGE_USAGE_TLS_SERVER, FCGEN_KEY_RSA2048, 1 << 0 | 1 << 2},
		{FORGE_USAGE_TLS_SERVER, FCGEN_KEY_ED25519, 1 << 0},
		{FORGE_USAGE_TLS_SERVER_TONGSUO, FCGEN_KEY_EC256, 1 << 0 | 1 << 4},
		{FORGE_USAGE_TLCP_SIGN, FCGEN_KEY_EC256, 1 << 0 | 1 << 1},
		{FORGE_USAGE_TLCP_ENC, FCGEN_KEY_EC256, 1 << 2 | 1 << 3 | 1 << 4},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		X509 *x = forge(E.fca, "ku.example.com", false, cases[i].usage, NULL, cases[i].kt,
				NULL);
		int crit = -1;
		assert_int_equal(fx_ku(x, &crit), cases[i].ku);
		assert_int_equal(crit, 1);
		X509_free(x);
	}
}

/* ---- mimic ------------------------------------------------------------------------ */

static X509 *mimic(const struct fx_leaf *spec, const struct forge_ca *fca, X509 **up_out,
		   struct pool_key **k)
{
	X509 *up = fx_leaf(spec, NULL), *parsed = NULL, *x;
	enum fcgen_key_type kt;
	uint8_t *der;
	size_t n = fx_der(up, &der);
	char err[256];

	assert_int_equal(forge_upstream_parse(der, n, &parsed, &kt, err, sizeof(err)), RPC_OK);
	x = forge(fca, "host.example", false, FORGE_USAGE_TLS_SERVER, parsed, kt, k);
	X509_free(parsed);
	OPENSSL_free(der);
	*up_out = up;
	return x;
}

static void test_mimic_rsa_multi_san(void **state)
{
	struct fx_leaf spec = {
		.key = "rsa3072",
		.subject = "/C=US/O=Example Corp/CN=www.example.org",
		.san = "DNS:www.example.org,DNS:example.org,DNS:*.static.example.org,IP:198.51.100."
		       "9",
		.ku = "critical,digitalSignature,keyEncipherment",
		.eku = "serverAuth,clientAuth",
		.nb_days = -3,
		.na_days = 60,
		.skid = true,
		.akid = true,
	};
	struct pool_key *k = NULL;
	X509 *up, *x = mimic(&spec, E.fca, &up, &k);
	char a[512], b[512];
	int ca = -1, cb = -1;

	(void)state;
	check_common(x, k);
	assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(x)), EVP_PKEY_RSA);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 2048);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x), X509_get_subject_name(up)), 0);
	fx_sans(x, a, sizeof(a), &ca);
	fx_sans(up, b, sizeof(b), &cb);
	assert_string_equal(a, b);
	assert_int_equal(ca, 0);
	assert_int_equal(fx_ku(x, &ca), fx_ku(up, &cb));
	assert_int_equal(ca, cb);
	fx_eku(x, a, sizeof(a), &ca);
	assert_string_equal(a, "serverAuth,clientAuth");
	assert_int_equal(ASN1_TIME_compare(X509_get0_notBefore(x), X509_get0_notBefore(up)), 0);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(up)), 0);
	/* A fresh serial, not the upstream's. */
	assert_int_not_equal(
		ASN1_INTEGER_cmp(X509_get0_serialNumber(x), X509_get0_serialNumber(up)), 0);
	assert_int_equal(X509_get_ext_by_NID(x, NID_crl_distribution_points, -1), -1);
	assert_int_equal(fx_verify(E.ca, x, "example.org"), X509_V_OK);
	assert_int_equal(fx_verify(E.ca, x, "img.static.example.org"), X509_V_OK);
	assert_int_equal(fx_verify(E.ca, x, "198.51.100.9"), X509_V_OK);
	X509_free(x);
	X509_free(up);
	pool_key_free(k);
}

static void test_mimic_ec_no_eku(void **state)
{
	struct fx_leaf spec = {
		.key = "ec384",
		.subject = "/CN=legacy.example",
		.san = "DNS:legacy.example",
		.nb_days = -1,
		.na_days = 20,
	};
	struct pool_key *k = NULL;
	X509 *up, *x = mimic(&spec, E.fca, &up, &k);
	char buf[256];
	int crit = -1;

	(void)state;
	check_common(x, k);
	assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(x)), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_bits(X509_get0_pubkey(x)), 256);
	/* No EKU and no KU upstream: serverAuth, and KU by key type. */
	fx_eku(x, buf, sizeof(buf), &crit);
	assert_string_equal(buf, "serverAuth");
	assert_int_equal(fx_ku(x, &crit), 1 << 0 | 1 << 4);
	assert_int_equal(fx_verify(E.ca, x, "legacy.example"), X509_V_OK);
	X509_free(x);
	X509_free(up);
	pool_key_free(k);
}

static void test_mimic_ed25519_client_only(void **state)
{
	struct fx_leaf spec = {
		.key = "ed25519",
		.subject = "/O=Only Org/CN=ed.example",
		.san = "DNS:ed.example",
		.ku = "critical,digitalSignature",
		.eku = "clientAuth",
		.na_days = 5,
	};
	struct pool_key *k = NULL;
	X509 *up, *x = mimic(&spec, E.fca, &up, &k);
	char buf[256];
	int crit = -1;

	(void)state;
	check_common(x, k);
	assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(x)), EVP_PKEY_ED25519);
	fx_eku(x, buf, sizeof(buf), &crit);
	assert_string_equal(buf, "clientAuth,serverAuth");
	fx_subject(x, buf, sizeof(buf));
	assert_string_equal(buf, "/O=Only Org/CN=ed.example");
	assert_int_equal(fx_verify(E.ca, x, "ed.example"), X509_V_OK);
	X509_free(x);
	X509_free(up);
	pool_key_free(k);
}

static void test_mimic_without_san(void **state)
{
	/* CN-only upstream: the SAN comes from the request host. */
	struct fx_leaf spec = {.key = "ec256", .subject = "/CN=cn-only.example", .na_days = 9};
	X509 *up, *x = mimic(&spec, E.fca, &up, NULL);
	char buf[256];

	(void)state;
	fx_sans(x, buf, sizeof(buf), NULL);
	assert_string_equal(buf, "DNS:host.example");
	X509_free(x);
	X509_free(up);
}

static void test_mimic_validity_clamped(void **state)
{
	EVP_PKEY *key = fx_key("ec256");
	X509 *ca = fx_ca(key, "Short CA", -5, 100, true);
	struct forge_ca *fca = fx_forge_ca(ca, key, false, false, 86400);
	struct fx_leaf spec = {.key = "ec256",
			       .subject = "/CN=long.example",
			       .san = "DNS:long.example",
			       .nb_days = -400,
			       .na_days = 800};
	X509 *up, *x;
	char err[256];
	time_t nb, na;

	(void)state;
	x = mimic(&spec, fca, &up, NULL);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notBefore(x), X509_get0_notBefore(ca)), 0);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(x), X509_get0_notAfter(ca)), 0);
	/* Plain mode clamps the same way: 365 days would outlive this CA. */
	assert_int_equal(forge_validity(fca, NULL, time(NULL), &nb, &na, err, sizeof(err)), RPC_OK);
	assert_int_equal(na, fx_time(X509_get0_notAfter(ca)));
	assert_true(labs((long)(nb - (time(NULL) - DAY))) <= 2);
	assert_int_equal(fx_verify(ca, x, "long.example"), X509_V_OK);
	X509_free(x);
	X509_free(up);
	forge_ca_free(fca);
	X509_free(ca);
	EVP_PKEY_free(key);
}

static void test_validity_errors(void **state)
{
	struct fx_leaf spec = {
		.key = "ec256", .subject = "/CN=old.example", .nb_days = -100, .na_days = -1};
	X509 *up = fx_leaf(&spec, NULL);
	char err[256], want[128], t[32];
	time_t nb, na, now = time(NULL);

	(void)state;
	assert_int_equal(forge_validity(E.fca, up, now, &nb, &na, err, sizeof(err)),
			 RPC_FAILED_PRECONDITION);
	forge_fmt_time(fx_time(X509_get0_notAfter(up)), t, sizeof(t));
	snprintf(want, sizeof(want), "the upstream certificate expired at %s", t);
	assert_string_equal(err, want);
	/* The CA itself past its end (as seen at a later `now`). */
	time_t later = fx_time(X509_get0_notAfter(E.ca)) + 10;
	assert_int_equal(forge_validity(E.fca, NULL, later, &nb, &na, err, sizeof(err)),
			 RPC_FAILED_PRECONDITION);
	forge_fmt_time(fx_time(X509_get0_notAfter(E.ca)), t, sizeof(t));
	snprintf(want, sizeof(want), "the CA certificate expired at %s", t);
	assert_string_equal(err, want);
	X509_free(up);
	/* An upstream that starts after the CA ends. */
	EVP_PKEY *key = fx_key("ec256");
	X509 *ca = fx_ca(key, "Brief CA", -1, 2, true);
	struct forge_ca *fca = fx_forge_ca(ca, key, false, false, 86400);
	struct fx_leaf late = {.key = "ec256", .subject = "/CN=late", .nb_days = 5, .na_days = 9};
	up = fx_leaf(&late, NULL);
	assert_int_equal(forge_validity(fca, up, now, &nb, &na, err, sizeof(err)),
			 RPC_FAILED_PRECONDITION);
	assert_non_null(strstr(err, "the upstream validity does not overlap the CA's"));
	X509_free(up);
	forge_ca_free(fca);
	X509_free(ca);
	EVP_PKEY_free(key);
}

static void test_ttl(void **state)
{
	EVP_PKEY *key = fx_key("ec256");
	X509 *ca = fx_ca(key, "TTL CA", -1, 10, true);
	struct forge_ca *fca = fx_forge_ca(ca, key, false, false, 100);

	(void)state;
	/* max_ttl below 300 is raised to 300. */
	assert_int_equal(forge_ca_opts(fca)->max_ttl_s, FORGE_MIN_TTL);
	assert_int_equal(forge_ttl(fca, 1000000, 1000000 - 5000), 300);
	assert_int_equal(forge_ttl(fca, 1000000, 1000000 - 200), 200);
	assert_int_equal(forge_ttl(fca, 1000000, 1000000), 0);
	assert_int_equal(forge_ttl(E.fca, 2000000, 0), 86400);
	forge_ca_free(fca);
	X509_free(ca);
	EVP_PKEY_free(key);
}

static void test_keep_serial(void **state)
{
	struct forge_ca *keep = fx_forge_ca(E.ca, E.ca_key, false, true, 86400);
	struct fx_leaf spec = {.key = "ec256",
			       .subject = "/CN=sn.example",
			       .san = "DNS:sn.example",
			       .na_days = 9,
			       .serial = 0x12345678};
	X509 *up, *x = mimic(&spec, keep, &up, NULL);
	X509 *plain = forge(keep, "p.example", false, 0, NULL, FCGEN_KEY_EC256, NULL);

	(void)state;
	assert_int_equal(ASN1_INTEGER_get(X509_get0_serialNumber(x)), 0x12345678);
	/* keep_serial only concerns mimic mode. */
	assert_int_equal(ASN1_STRING_length(X509_get0_serialNumber(plain)), 16);
	X509_free(plain);
	X509_free(x);
	X509_free(up);
	forge_ca_free(keep);
}

/* ---- CA kinds ------------------------------------------------------------------------ */

static void test_ca_kinds(void **state)
{
	static const struct {
		const char *kind;
		int sig_nid;
	} cases[] = {
		{"rsa2048", NID_sha256WithRSAEncryption},
		{"ed25519", NID_ED25519},
		{"ec384", NID_ecdsa_with_SHA384},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		EVP_PKEY *key = fx_key(cases[i].kind);
		/* No SKID on this CA: the AKID is computed from its key. */
		X509 *ca = fx_ca(key, "Kind CA", -1, 100, false);
		struct forge_ca *fca = fx_forge_ca(ca, key, false, false, 86400);
		X509 *x = forge(fca, "kind.example", false, 0, NULL, FCGEN_KEY_EC256, NULL);
		AUTHORITY_KEYID *akid =
			X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
		unsigned char md[20];
		unsigned int n = 0;

		assert_int_equal(X509_get_signature_nid(x), cases[i].sig_nid);
		assert_int_equal(X509_verify(x, key), 1);
		assert_true(X509_pubkey_digest(ca, EVP_sha1(), md, &n));
		assert_non_null(akid);
		assert_memory_equal(ASN1_STRING_get0_data(akid->keyid), md, 20);
		AUTHORITY_KEYID_free(akid);
		X509_free(x);
		forge_ca_free(fca);
		X509_free(ca);
		EVP_PKEY_free(key);
	}
}

static void test_ca_rejected(void **state)
{
	EVP_PKEY *key = fx_key("ec256"), *other = fx_key("ec256");
	X509 *ca = fx_ca(key, "Good CA", -1, 100, true);
	X509 *old = fx_ca(key, "Old CA", -100, -1, true);
	struct fx_leaf spec = {.key = "ec256", .subject = "/CN=leaf", .na_days = 9};
	EVP_PKEY *leaf_key = NULL;
	X509 *leaf = fx_leaf(&spec, &leaf_key);
	STACK_OF(X509) *sk = sk_X509_new_null();
	struct forge_opts o = {false, false, 86400};
	struct forge_ca *fca = NULL;
	char err[256];

	(void)state;
	sk_X509_push(sk, ca);
	assert_int_equal(forge_ca_new(sk, other, &o, time(NULL), &fca, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "the private key does not match the first certificate (the "
				 "signing CA)");
	sk_X509_set(sk, 0, leaf);
	assert_int_equal(forge_ca_new(sk, leaf_key, &o, time(NULL), &fca, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "is not a CA certificate"));
	sk_X509_set(sk, 0, old);
	assert_int_equal(forge_ca_new(sk, key, &o, time(NULL), &fca, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "the CA certificate expired at "));
	sk_X509_free(sk);
	assert_int_equal(forge_ca_new(NULL, key, &o, time(NULL), &fca, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "no CA certificate");
	assert_null(fca);
	X509_free(leaf);
	EVP_PKEY_free(leaf_key);
	X509_free(old);
	X509_free(ca);
	EVP_PKEY_free(other);
	EVP_PKEY_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_valid),
		cmocka_unit_test(test_host_invalid),
		cmocka_unit_test(test_upstream_invalid),
		cmocka_unit_test(test_upstream_key_types),
		cmocka_unit_test(test_plain_dns),
		cmocka_unit_test(test_plain_ip),
		cmocka_unit_test(test_plain_wildcard),
		cmocka_unit_test(test_plain_long_host),
		cmocka_unit_test(test_usage_key_usage),
		cmocka_unit_test(test_mimic_rsa_multi_san),
		cmocka_unit_test(test_mimic_ec_no_eku),
		cmocka_unit_test(test_mimic_ed25519_client_only),
		cmocka_unit_test(test_mimic_without_san),
		cmocka_unit_test(test_mimic_validity_clamped),
		cmocka_unit_test(test_validity_errors),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_keep_serial),
		cmocka_unit_test(test_ca_kinds),
		cmocka_unit_test(test_ca_rejected),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
