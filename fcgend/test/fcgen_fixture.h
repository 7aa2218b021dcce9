/* Test helpers for fcgend's unit tests: keys, CAs and upstream leaves made
 * in-process with OpenSSL, a strict verifier, and Forge requests run
 * through rpc_dispatch_buffer. Header-only; include after <cmocka.h>. */
#ifndef G3C_FCGEND_TEST_FCGEN_FIXTURE_H
#define G3C_FCGEND_TEST_FCGEN_FIXTURE_H

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "fcgend/forge.h"
#include "fcgend/keypool.h"
#include "fcgend/service.h"

#define DAY 86400

/* ---- keys and certificates ------------------------------------------------------- */

/* "ec256", "ec384", "rsa2048", "rsa3072", "ed25519", "ed448", "x25519". */
static inline EVP_PKEY *fx_key(const char *kind)
{
	EVP_PKEY *k = NULL;

	if (strcmp(kind, "ec256") == 0)
		k = EVP_EC_gen("P-256");
	else if (strcmp(kind, "ec384") == 0)
		k = EVP_EC_gen("P-384");
	else if (strcmp(kind, "rsa2048") == 0)
		k = EVP_RSA_gen(2048);
	else if (strcmp(kind, "rsa3072") == 0)
		k = EVP_RSA_gen(3072);
	else if (strcmp(kind, "ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (strcmp(kind, "ed448") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	else if (strcmp(kind, "x25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	assert_non_null(k);
	return k;
}

static inline const EVP_MD *fx_md(EVP_PKEY *signer)
{
	int id = EVP_PKEY_get_base_id(signer);

	return id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448 ? NULL : EVP_sha256();
}

static inline void fx_add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *e;

	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A CA certificate (self-signed) valid from now+nb_days to now+na_days. */
static inline X509 *fx_ca(EVP_PKEY *key, const char *cn, long nb_days, long na_days, bool skid)
{
	X509 *x = X509_new();

	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4242);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), nb_days * DAY);
	X509_gmtime_adj(X509_getm_notAfter(x), na_days * DAY);
	X509_set_pubkey(x, key);
	fx_add_ext(x, NULL, NID_basic_constraints, "critical,CA:TRUE");
	fx_add_ext(x, NULL, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (skid)
		fx_add_ext(x, NULL, NID_subject_key_identifier, "hash");
	assert_true(X509_sign(x, key, fx_md(key)) > 0);
	return x;
}

/* An upstream leaf shaped by the arguments (NULL: extension absent),
 * issued by its own throwaway CA key. Extension values use OpenSSL's
 * config syntax ("DNS:a.example,IP:10.0.0.1", "critical,digitalSignature"). */
struct fx_leaf {
	const char *key;     /* key kind for fx_key */
	const char *subject; /* "/CN=x/O=y" or "" for empty */
	const char *san, *ku, *eku;
	long nb_days, na_days;
	long na_secs; /* when set: notAfter = now + na_secs instead */
	long serial;
	bool skid, akid;
};

static inline X509 *fx_leaf(const struct fx_leaf *spec, EVP_PKEY **leaf_key)
{
	EVP_PKEY *k = fx_key(spec->key), *ik = fx_key("ec256");
	X509 *x = X509_new(), *issuer = fx_ca(ik, "Upstream Issuing CA", -100, 1000, true);
	X509_NAME *nm = NULL;

	assert_non_null(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), spec->serial ? spec->serial : 77);
	if (spec->subject && spec->subject[0]) {
		nm = X509_NAME_new();
		char buf[256], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", spec->subject + 1);
		for (char *part = strtok_r(buf, "/", &save); part;
		     part = strtok_r(NULL, "/", &save)) {
			char *eq = strchr(part, '=');
			assert_non_null(eq);
			*eq = '\0';
			assert_int_equal(X509_NAME_add_entry_by_txt(nm, part, MBSTRING_UTF8,
								    (unsigned char *)eq + 1, -1, -1,
								    0),
					 1);
		}
		X509_set_subject_name(x, nm);
		X509_NAME_free(nm);
	}
	X509_set_issuer_name(x, X509_get_subject_name(issuer));
	X509_gmtime_adj(X509_getm_notBefore(x), spec->nb_days * DAY);
	X509_gmtime_adj(X509_getm_notAfter(x), spec->na_secs ? spec->na_secs : spec->na_days * DAY);
	X509_set_pubkey(x, k);
	fx_add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
	if (spec->ku)
		fx_add_ext(x, issuer, NID_key_usage, spec->ku);
	if (spec->eku)
		fx_add_ext(x, issuer, NID_ext_key_usage, spec->eku);
	if (spec->skid)
		fx_add_ext(x, issuer, NID_subject_key_identifier, "hash");
	if (spec->akid)
		fx_add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
	if (spec->san)
		fx_add_ext(x, issuer, NID_subject_alt_name, spec->san);
	/* Also an extension the forgery must drop. */
	fx_add_ext(x, issuer, NID_crl_distribution_points, "URI:http://crl.example/up.crl");
	assert_true(X509_sign(x, ik, EVP_sha256()) > 0);
	X509_free(issuer);
	EVP_PKEY_free(ik);
	if (leaf_key)
		*leaf_key = k;
	else
		EVP_PKEY_free(k);
	return x;
}

static inline size_t fx_der(X509 *x, uint8_t **out)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	assert_true(n > 0);
	*out = der;
	return (size_t)n;
}

static inline X509 *fx_parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	assert_non_null(x);
	assert_ptr_equal(p, der + len);
	return x;
}

/* A forge_ca for (ca, key) with options; asserts success. */
static inline struct forge_ca *fx_forge_ca(X509 *ca, EVP_PKEY *key, bool no_append,
					   bool keep_serial, uint32_t max_ttl)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	struct forge_opts o = {no_append, keep_serial, max_ttl};
	struct forge_ca *fca = NULL;
	char err[256] = "";

	sk_X509_push(sk, ca);
	X509_up_ref(ca);
	if (forge_ca_new(sk, key, &o, time(NULL), &fca, err, sizeof(err)) != 0)
		fail_msg("forge_ca_new: %s", err);
	sk_X509_pop_free(sk, X509_free);
	return fca;
}

/* Strict chain verification as `openssl verify -x509_strict -purpose
 * sslserver -verify_hostname host` does it (host may be an IP or NULL).
 * Returns X509_V_OK or the verification error. */
static inline int fx_verify(X509 *ca, X509 *leaf, const char *host)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *vp;
	struct in6_addr a6;
	struct in_addr a4;
	int ok, err;

	X509_STORE_add_cert(st, ca);
	X509_STORE_CTX_init(ctx, st, leaf, NULL);
	vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
	if (host) {
		if (inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1)
			X509_VERIFY_PARAM_set1_ip_asc(vp, host);
		else
			X509_VERIFY_PARAM_set1_host(vp, host, 0);
	}
	ok = X509_verify_cert(ctx);
	err = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return err;
}

/* ---- extension readers --------------------------------------------------------- */

/* The SAN entries as "DNS:x" / "IP:1.2.3.4" joined by ','. */
static inline void fx_sans(const X509 *x, char *buf, size_t cap, int *crit)
{
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, crit, NULL);
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; g && i < sk_GENERAL_NAME_num(g); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(g, i);
		char item[300];
		if (gn->type == GEN_DNS) {
			snprintf(item, sizeof(item), "DNS:%s",
				 (const char *)ASN1_STRING_get0_data(gn->d.dNSName));
		} else if (gn->type == GEN_IPADD) {
			char ip[64];
			int l = ASN1_STRING_length(gn->d.iPAddress);
			inet_ntop(l == 4 ? AF_INET : AF_INET6,
				  ASN1_STRING_get0_data(gn->d.iPAddress), ip, sizeof(ip));
			snprintf(item, sizeof(item), "IP:%s", ip);
		} else {
			snprintf(item, sizeof(item), "type%d", gn->type);
		}
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", item);
	}
	GENERAL_NAMES_free(g);
}

/* keyUsage bits as an int (bit i = RFC 5280 bit i), -1 when absent. */
static inline int fx_ku(const X509 *x, int *crit)
{
	ASN1_BIT_STRING *b = X509_get_ext_d2i(x, NID_key_usage, crit, NULL);
	int v = 0;

	if (!b)
		return -1;
	for (int i = 0; i < 9; i++)
		if (ASN1_BIT_STRING_get_bit(b, i))
			v |= 1 << i;
	ASN1_BIT_STRING_free(b);
	return v;
}

/* extKeyUsage as short names joined by ',' ("" when absent). */
static inline void fx_eku(const X509 *x, char *buf, size_t cap, int *crit)
{
	EXTENDED_KEY_USAGE *e = X509_get_ext_d2i(x, NID_ext_key_usage, crit, NULL);
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; e && i < sk_ASN1_OBJECT_num(e); i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "",
				      OBJ_nid2sn(OBJ_obj2nid(sk_ASN1_OBJECT_value(e, i))));
	EXTENDED_KEY_USAGE_free(e);
}

static inline void fx_subject(const X509 *x, char *buf, size_t cap)
{
	X509_NAME_oneline(X509_get_subject_name(x), buf, (int)cap);
}

static inline time_t fx_time(const ASN1_TIME *t)
{
	time_t v = 0;

	assert_true(forge_asn1_time(t, &v));
	return v;
}

/* ---- Forge through rpc_dispatch_buffer ----------------------------------------- */

struct fx_reply {
	G3c__Fcgen__Reply *rep; /* unpacked, owned */
	enum rpc_code code;
	const char *msg;
};

static inline void fx_reply_free(struct fx_reply *r)
{
	if (r->rep)
		g3c__fcgen__reply__free_unpacked(r->rep, NULL);
	memset(r, 0, sizeof(*r));
}

static inline struct fx_reply fx_call(struct fcgen_service *svc, G3c__Fcgen__ForgeReq *f)
{
	G3c__Fcgen__Request req = G3C__FCGEN__REQUEST__INIT;
	struct fx_reply r = {0};
	uint8_t *in, *out = NULL;
	size_t n, outlen = 0;

	req.id = 99;
	if (f) {
		req.body_case = G3C__FCGEN__REQUEST__BODY_FORGE;
		req.forge = f;
	}
	n = g3c__fcgen__request__get_packed_size(&req);
	in = malloc(n ? n : 1);
	assert_non_null(in);
	g3c__fcgen__request__pack(&req, in);
	assert_int_equal(
		rpc_dispatch_buffer(&fcgen_rpc_service, fcgen_handle, svc, in, n, &out, &outlen),
		0);
	free(in);
	r.rep = g3c__fcgen__reply__unpack(NULL, outlen, out);
	free(out);
	assert_non_null(r.rep);
	assert_int_equal(r.rep->id, 99);
	assert_non_null(r.rep->status);
	r.code = (enum rpc_code)r.rep->status->code;
	r.msg = r.rep->status->message ? r.rep->status->message : "";
	return r;
}

/* The leaf of an OK reply (owned: X509_free). */
static inline X509 *fx_reply_leaf(const struct fx_reply *r)
{
	assert_int_equal(r->code, RPC_OK);
	assert_int_equal(r->rep->body_case, G3C__FCGEN__REPLY__BODY_FORGE);
	assert_true(r->rep->forge->n_chain >= 1);
	return fx_parse(r->rep->forge->chain[0].data, r->rep->forge->chain[0].len);
}

/* The reply's private key (owned: EVP_PKEY_free); asserts PKCS#8. */
static inline EVP_PKEY *fx_reply_key(const struct fx_reply *r)
{
	const unsigned char *p = r->rep->forge->key.data;
	PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)r->rep->forge->key.len);
	EVP_PKEY *k;

	assert_non_null(p8);
	k = EVP_PKCS82PKEY(p8);
	PKCS8_PRIV_KEY_INFO_free(p8);
	assert_non_null(k);
	return k;
}

#endif
