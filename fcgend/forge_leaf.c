/* The forged leaf itself (forge_leaf in forge.h): fields, extensions,
 * signature. Extensions are built from OpenSSL's structures directly (no
 * config-string parsing) since this runs once per certificate. */
#include "fcgend/forge.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "fcgend/forge_int.h"

/* keyUsage bit numbers (RFC 5280 4.2.1.3). */
enum {
	KUBIT_DIGITAL_SIGNATURE = 0,
	KUBIT_NON_REPUDIATION = 1,
	KUBIT_KEY_ENCIPHERMENT = 2,
	KUBIT_DATA_ENCIPHERMENT = 3,
	KUBIT_KEY_AGREEMENT = 4,
};

static bool set_serial(X509 *x, const struct forge_ca *ca, const X509 *up)
{
	unsigned char b[16];

	if (up && ca->opts.keep_serial)
		return X509_set_serialNumber(x, (ASN1_INTEGER *)X509_get0_serialNumber(up)) == 1;
	if (RAND_bytes(b, sizeof(b)) != 1)
		return false;
	b[0] |= 0x80; /* a full 128 bits; DER adds a leading zero */
	return ASN1_STRING_set(X509_get_serialNumber(x), b, sizeof(b)) == 1;
}

/* The subject key from the pool key's precomputed pieces: X509_set_pubkey
 * would run OpenSSL 3's key encoder and decoder for every certificate. */
static bool set_pubkey(X509 *x, const struct pool_key *k)
{
	X509_PUBKEY *xp = X509_get_X509_PUBKEY(x);
	ASN1_OBJECT *param =
		k->spki_param_type == V_ASN1_OBJECT ? OBJ_nid2obj(k->spki_param_nid) : NULL;
	unsigned char *bits = OPENSSL_memdup(k->spki_bits, k->spki_bits_len);

	if (!xp || !bits)
		goto fail;
	if (!X509_PUBKEY_set0_param(xp, OBJ_nid2obj(k->spki_alg_nid), k->spki_param_type, param,
				    bits, (int)k->spki_bits_len))
		goto fail;
	return true;
fail:
	OPENSSL_free(bits);
	return false;
}

static bool set_time(ASN1_TIME *a, time_t t)
{
	return ASN1_TIME_set(a, t) != NULL;
}

static bool set_subject(X509 *x, const struct forge_req *r)
{
	const struct forge_host *h = r->host;

	if (r->upstream)
		return X509_set_subject_name(x, X509_get_subject_name(r->upstream)) == 1;
	/* A host longer than a CN may be is named by the SAN alone. */
	if (h->len > FORGE_CN_MAX)
		return true;
	return X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName, MBSTRING_UTF8,
					  (const unsigned char *)h->name, (int)h->len, -1, 0) == 1;
}

static bool add_ku_bits(X509 *x, unsigned bits, int crit)
{
	ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();
	bool ok = bs != NULL;

	for (int i = 0; ok && i < 9; i++)
		if (bits & (1u << i))
			ok = ASN1_BIT_STRING_set_bit(bs, i, 1) == 1;
	ok = ok && X509_add1_ext_i2d(x, NID_key_usage, bs, crit, X509V3_ADD_DEFAULT) == 1;
	ASN1_BIT_STRING_free(bs);
	return ok;
}

static unsigned ku_by_key(enum fcgen_key_type t)
{
	switch (t) {
	case FCGEN_KEY_RSA2048:
		return 1u << KUBIT_DIGITAL_SIGNATURE | 1u << KUBIT_KEY_ENCIPHERMENT;
	case FCGEN_KEY_EC256:
		return 1u << KUBIT_DIGITAL_SIGNATURE | 1u << KUBIT_KEY_AGREEMENT;
	default:
		return 1u << KUBIT_DIGITAL_SIGNATURE;
	}
}

static bool add_key_usage(X509 *x, const struct forge_req *r, enum fcgen_key_type kt)
{
	switch (r->usage) {
	case FORGE_USAGE_TLCP_SIGN:
		return add_ku_bits(x, 1u << KUBIT_DIGITAL_SIGNATURE | 1u << KUBIT_NON_REPUDIATION,
				   1);
	case FORGE_USAGE_TLCP_ENC:
		return add_ku_bits(x,
				   1u << KUBIT_KEY_ENCIPHERMENT | 1u << KUBIT_DATA_ENCIPHERMENT |
					   1u << KUBIT_KEY_AGREEMENT,
				   1);
	case FORGE_USAGE_TLS_SERVER:
		if (r->upstream) {
			int crit = -1;
			ASN1_BIT_STRING *ku =
				X509_get_ext_d2i(r->upstream, NID_key_usage, &crit, NULL);
			if (ku) {
				/* Mimic: the upstream's bits and criticality. */
				bool ok = X509_add1_ext_i2d(x, NID_key_usage, ku, crit,
							    X509V3_ADD_DEFAULT) == 1;
				ASN1_BIT_STRING_free(ku);
				return ok;
			}
		}
		break;
	default:
		break;
	}
	return add_ku_bits(x, ku_by_key(kt), 1);
}

/* The upstream's extKeyUsage (criticality kept) with serverAuth added when
 * missing; serverAuth alone otherwise. */
static bool add_eku(X509 *x, const X509 *up)
{
	EXTENDED_KEY_USAGE *eku = NULL;
	int crit = 0;
	bool ok = false, server = false;

	if (up)
		eku = X509_get_ext_d2i(up, NID_ext_key_usage, &crit, NULL);
	if (!eku) {
		crit = 0;
		eku = sk_ASN1_OBJECT_new_null();
		if (!eku)
			return false;
	}
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		server = server || OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_server_auth;
	if (!server) {
		ASN1_OBJECT *o = OBJ_nid2obj(NID_server_auth);
		if (!o || !sk_ASN1_OBJECT_push(eku, o))
			goto out;
	}
	ok = X509_add1_ext_i2d(x, NID_ext_key_usage, eku, crit, X509V3_ADD_DEFAULT) == 1;
out:
	sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
	return ok;
}

static bool push_dns(GENERAL_NAMES *gens, const char *name)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();

	if (!gn || !s || !ASN1_STRING_set(s, name, (int)strlen(name)))
		goto fail;
	GENERAL_NAME_set0_value(gn, GEN_DNS, s);
	if (!sk_GENERAL_NAME_push(gens, gn)) {
		GENERAL_NAME_free(gn);
		return false;
	}
	return true;
fail:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(gn);
	return false;
}

static bool push_ip(GENERAL_NAMES *gens, const uint8_t *ip, size_t len)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();

	if (!gn || !s || !ASN1_OCTET_STRING_set(s, ip, (int)len))
		goto fail;
	GENERAL_NAME_set0_value(gn, GEN_IPADD, s);
	if (!sk_GENERAL_NAME_push(gens, gn)) {
		GENERAL_NAME_free(gn);
		return false;
	}
	return true;
fail:
	ASN1_OCTET_STRING_free(s);
	GENERAL_NAME_free(gn);
	return false;
}

/* Mimic: every upstream name; otherwise (or when upstream has none) the
 * host, plus "*.<parent>" when asked. Critical when the subject is empty
 * (RFC 5280 4.2.1.6). */
static bool add_san(X509 *x, const struct forge_req *r)
{
	const struct forge_host *h = r->host;
	GENERAL_NAMES *gens = NULL;
	bool ok = false;
	int crit;

	if (r->upstream) {
		gens = X509_get_ext_d2i(r->upstream, NID_subject_alt_name, NULL, NULL);
		if (gens && sk_GENERAL_NAME_num(gens) == 0) {
			GENERAL_NAMES_free(gens);
			gens = NULL;
		}
	}
	if (!gens) {
		gens = sk_GENERAL_NAME_new_null();
		if (!gens)
			return false;
		if (h->is_ip ? !push_ip(gens, h->ip, h->iplen) : !push_dns(gens, h->name))
			goto out;
		if (h->wild[0] && !push_dns(gens, h->wild))
			goto out;
	}
	crit = X509_NAME_entry_count(X509_get_subject_name(x)) == 0;
	ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, crit, X509V3_ADD_DEFAULT) == 1;
out:
	GENERAL_NAMES_free(gens);
	return ok;
}

static bool add_skid(X509 *x, const struct pool_key *k)
{
	ASN1_OCTET_STRING *s = ASN1_OCTET_STRING_new();
	bool ok = s && ASN1_OCTET_STRING_set(s, k->skid, sizeof(k->skid)) &&
		  X509_add1_ext_i2d(x, NID_subject_key_identifier, s, 0, X509V3_ADD_DEFAULT) == 1;

	ASN1_OCTET_STRING_free(s);
	return ok;
}

static bool sign(X509 *x, const struct forge_ca *ca)
{
	EVP_MD_CTX *ctx;
	bool ok;

	if (!ca->sign_tmpl)
		return X509_sign(x, ca->key, ca->md) > 0;
	ctx = EVP_MD_CTX_new();
	if (ctx && EVP_MD_CTX_copy_ex(ctx, ca->sign_tmpl) == 1) {
		ok = X509_sign_ctx(x, ctx) > 0;
	} else {
		ERR_clear_error();
		ok = X509_sign(x, ca->key, ca->md) > 0;
	}
	EVP_MD_CTX_free(ctx);
	return ok;
}

enum rpc_code forge_leaf(const struct forge_ca *ca, const struct forge_req *r,
			 const struct pool_key *k, uint8_t **der, size_t *len, char *err,
			 size_t errlen)
{
	X509 *x = NULL;
	unsigned char *out = NULL;
	const char *step = "cannot allocate a certificate";
	int n;

	CHECK_OBJ(ca, FORGE_CA_MAGIC);
	*der = NULL;
	*len = 0;
	x = X509_new();
	if (!x)
		goto fail;
	step = "cannot set the certificate fields";
	if (!X509_set_version(x, X509_VERSION_3) || !set_serial(x, ca, r->upstream) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) || !set_subject(x, r) ||
	    !set_time(X509_getm_notBefore(x), r->not_before) ||
	    !set_time(X509_getm_notAfter(x), r->not_after) || !set_pubkey(x, k))
		goto fail;
	step = "cannot add the certificate extensions";
	if (!X509_add_ext(x, ca->basic, -1) || !add_key_usage(x, r, k->type) ||
	    !add_eku(x, r->upstream) || !add_skid(x, k) || !X509_add_ext(x, ca->akid, -1) ||
	    !add_san(x, r))
		goto fail;
	step = "cannot sign the certificate";
	if (!sign(x, ca))
		goto fail;
	step = "cannot encode the certificate";
	n = i2d_X509(x, &out);
	if (n <= 0)
		goto fail;
	X509_free(x);
	*der = out;
	*len = (size_t)n;
	return RPC_OK;
fail:
	forge_ssl_err(err, errlen, step);
	X509_free(x);
	return RPC_INTERNAL;
}
