/* mkcert certificate assembly: every extension is built from its OpenSSL
 * structure (no config-string parsing), then the issuer key signs. */
#include "tools/mkcert/cert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "common/tls.h"

uint16_t mkcert_ku_for(enum mkcert_kind k, enum mkcert_key_type t)
{
	switch (k) {
	case MKCERT_KIND_ROOT:
	case MKCERT_KIND_INTERMEDIATE:
		return MKCERT_KU_KEY_CERT_SIGN | MKCERT_KU_CRL_SIGN;
	case MKCERT_KIND_TLCP_SERVER_SIGN:
	case MKCERT_KIND_TLCP_CLIENT_SIGN:
		return MKCERT_KU_DIGITAL_SIGNATURE | MKCERT_KU_NON_REPUDIATION;
	case MKCERT_KIND_TLCP_SERVER_ENC:
	case MKCERT_KIND_TLCP_CLIENT_ENC:
		return MKCERT_KU_KEY_AGREEMENT | MKCERT_KU_KEY_ENCIPHERMENT |
		       MKCERT_KU_DATA_ENCIPHERMENT;
	case MKCERT_KIND_TLS_SERVER:
	case MKCERT_KIND_TLS_CLIENT:
		if (!mkcert_key_can_sign(t))
			return MKCERT_KU_KEY_AGREEMENT;
		if (t == MKCERT_KEY_RSA && k == MKCERT_KIND_TLS_SERVER)
			return MKCERT_KU_DIGITAL_SIGNATURE | MKCERT_KU_KEY_ENCIPHERMENT;
		return MKCERT_KU_DIGITAL_SIGNATURE;
	case MKCERT_KIND_NONE:
	case MKCERT_KIND_MIMIC:
		break;
	}
	return 0;
}

int mkcert_eku_nid_for(enum mkcert_kind k)
{
	switch (k) {
	case MKCERT_KIND_TLS_SERVER:
	case MKCERT_KIND_TLCP_SERVER_SIGN:
	case MKCERT_KIND_TLCP_SERVER_ENC:
		return NID_server_auth;
	case MKCERT_KIND_TLS_CLIENT:
	case MKCERT_KIND_TLCP_CLIENT_SIGN:
	case MKCERT_KIND_TLCP_CLIENT_ENC:
		return NID_client_auth;
	default:
		return NID_undef;
	}
}

int mkcert_serial_random(ASN1_INTEGER **out)
{
	unsigned char b[16];
	ASN1_INTEGER *ai = NULL;
	BIGNUM *bn = NULL;

	if (RAND_bytes(b, sizeof(b)) != 1)
		goto fail;
	b[0] |= 0x80; /* exactly 128 bits: 17 DER bytes with the sign pad */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (!bn)
		goto fail;
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	if (!ai)
		goto fail;
	*out = ai;
	return 0;
fail:
	ERR_clear_error();
	return -EIO;
}

int mkcert_time_of(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return -EINVAL;
	}
	*out = (int64_t)timegm(&tm);
	return 0;
}

static int add_entry(X509_NAME *n, int nid, const char *v, const char *opt, char *err,
		     size_t errcap)
{
	char detail[TLS_ERR_MAX];

	if (X509_NAME_add_entry_by_NID(n, nid, MBSTRING_UTF8, (const unsigned char *)v, -1, -1,
				       0) == 1)
		return 0;
	snprintf(err, errcap, "--%s '%s' cannot go in a certificate: %s", opt, v,
		 tls_err_string(detail, sizeof(detail)));
	return -EINVAL;
}

int mkcert_subject_build(const struct mkcert_opts *o, const char *default_cn, X509_NAME **out,
			 char *err, size_t errcap)
{
	X509_NAME *n = X509_NAME_new();
	const char *cn = o->common_name;
	int rc = 0;

	ERR_clear_error();
	if (!n) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	if (!cn && default_cn && strlen(default_cn) <= 64)
		cn = default_cn;
	if (o->country)
		rc = add_entry(n, NID_countryName, o->country, "country", err, errcap);
	if (rc == 0 && o->organization)
		rc = add_entry(n, NID_organizationName, o->organization, "organization", err,
			       errcap);
	if (rc == 0 && o->org_unit)
		rc = add_entry(n, NID_organizationalUnitName, o->org_unit, "organization-unit", err,
			       errcap);
	if (rc == 0 && cn)
		rc = add_entry(n, NID_commonName, cn, o->common_name ? "common-name" : "host", err,
			       errcap);
	if (rc < 0) {
		X509_NAME_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

int mkcert_san_build(const struct mkcert_host *hosts, size_t n, GENERAL_NAMES **out)
{
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	size_t i;

	if (!gens)
		goto fail;
	for (i = 0; i < n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_STRING *s = ASN1_STRING_new();
		int ok;

		if (!g || !s) {
			GENERAL_NAME_free(g);
			ASN1_STRING_free(s);
			goto fail;
		}
		if (hosts[i].ip_len) {
			ok = ASN1_OCTET_STRING_set(s, hosts[i].ip, (int)hosts[i].ip_len);
			GENERAL_NAME_set0_value(g, GEN_IPADD, s);
		} else {
			ok = ASN1_STRING_set(s, hosts[i].name, -1);
			GENERAL_NAME_set0_value(g, GEN_DNS, s);
		}
		if (!ok || !sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto fail;
		}
	}
	*out = gens;
	return 0;
fail:
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	return -ENOMEM;
}

/* keyUsage bits (RFC 5280 numbering) as the DER BIT STRING. */
static ASN1_BIT_STRING *ku_bit_string(uint16_t ku)
{
	ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();
	int bit;

	if (!bs)
		return NULL;
	for (bit = 0; bit <= 8; bit++) {
		if ((ku & (1u << bit)) && ASN1_BIT_STRING_set_bit(bs, bit, 1) != 1) {
			ASN1_BIT_STRING_free(bs);
			return NULL;
		}
	}
	return bs;
}

/* SHA-1 of the subjectPublicKey BIT STRING (RFC 5280 §4.2.1.2 method 1). */
static ASN1_OCTET_STRING *key_id_of(const X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	ASN1_OCTET_STRING *os;

	if (X509_pubkey_digest(x, EVP_sha1(), md, &len) != 1)
		return NULL;
	os = ASN1_OCTET_STRING_new();
	if (os && ASN1_OCTET_STRING_set(os, md, (int)len) != 1) {
		ASN1_OCTET_STRING_free(os);
		os = NULL;
	}
	return os;
}

static bool add_ext(X509 *x, int nid, void *value, bool crit)
{
	return X509_add1_ext_i2d(x, nid, value, crit ? 1 : 0, X509V3_ADD_REPLACE) == 1;
}

static bool add_basic_constraints(X509 *x, bool ca, int path_length)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	bool ok = false;

	if (!bc)
		return false;
	bc->ca = ca ? 0xff : 0;
	if (ca && path_length >= 0) {
		bc->pathlen = ASN1_INTEGER_new();
		if (!bc->pathlen || ASN1_INTEGER_set(bc->pathlen, path_length) != 1)
			goto out;
	}
	ok = add_ext(x, NID_basic_constraints, bc, true);
out:
	BASIC_CONSTRAINTS_free(bc);
	return ok;
}

static bool add_key_ids(X509 *x, const X509 *issuer)
{
	ASN1_OCTET_STRING *skid = key_id_of(x);
	AUTHORITY_KEYID *akid = NULL;
	bool ok = false;

	if (!skid || !add_ext(x, NID_subject_key_identifier, skid, false))
		goto out;
	if (!issuer) {
		ok = true;
		goto out;
	}
	akid = AUTHORITY_KEYID_new();
	if (!akid)
		goto out;
	/* the issuer's own SKID when it has one, so chains built by SKID/AKID
	 * matching work even for CAs that used another key-id method */
	if (X509_get0_subject_key_id((X509 *)issuer))
		akid->keyid = ASN1_OCTET_STRING_dup(X509_get0_subject_key_id((X509 *)issuer));
	else
		akid->keyid = key_id_of(issuer);
	if (!akid->keyid)
		goto out;
	ok = add_ext(x, NID_authority_key_identifier, akid, false);
out:
	ASN1_OCTET_STRING_free(skid);
	AUTHORITY_KEYID_free(akid);
	return ok;
}

static bool set_time(ASN1_TIME *t, int64_t v)
{
	return ASN1_TIME_set(t, (time_t)v) != NULL;
}

int mkcert_cert_sign(const struct mkcert_tbs *t, X509 **out, char *err, size_t errcap)
{
	EVP_PKEY *signer = t->issuer ? t->issuer_key : t->key;
	char detail[TLS_ERR_MAX];
	ASN1_INTEGER *serial = NULL;
	ASN1_BIT_STRING *ku = NULL;
	X509 *x = NULL;
	const char *step = "allocate the certificate";
	bool empty_subject = X509_NAME_entry_count(t->subject) == 0;
	int rc = -EIO;

	ERR_clear_error();
	if (empty_subject && !t->san) {
		snprintf(err, errcap, "the certificate has neither a subject nor subjectAltName");
		return -EINVAL;
	}
	if (EVP_PKEY_is_a(signer, "X25519") || EVP_PKEY_is_a(signer, "X448")) {
		snprintf(err, errcap, "the %s key is an %s key and cannot sign",
			 t->issuer ? "CA" : "certificate", EVP_PKEY_get0_type_name(signer));
		return -EINVAL;
	}
	x = X509_new();
	if (!x)
		goto fail;
	step = "set the serial number";
	if (!t->serial && mkcert_serial_random(&serial) < 0)
		goto fail;
	if (X509_set_serialNumber(x, t->serial ? (ASN1_INTEGER *)t->serial : serial) != 1)
		goto fail;
	step = "set the names";
	if (X509_set_version(x, X509_VERSION_3) != 1 || X509_set_subject_name(x, t->subject) != 1 ||
	    X509_set_issuer_name(x, t->issuer ? X509_get_subject_name(t->issuer) : t->subject) != 1)
		goto fail;
	step = "set the validity";
	if (!set_time(X509_getm_notBefore(x), t->validity.not_before) ||
	    !set_time(X509_getm_notAfter(x), t->validity.not_after))
		goto fail;
	step = "set the public key";
	if (X509_set_pubkey(x, t->key) != 1)
		goto fail;
	step = "add basicConstraints";
	if (!add_basic_constraints(x, t->ca, t->path_length))
		goto fail;
	step = "add keyUsage";
	if (t->has_ku) {
		ku = ku_bit_string(t->ku);
		if (!ku || !add_ext(x, NID_key_usage, ku, t->ku_critical))
			goto fail;
	}
	step = "add extendedKeyUsage";
	if (t->eku && !add_ext(x, NID_ext_key_usage, (void *)t->eku, t->eku_critical))
		goto fail;
	step = "add subjectAltName";
	if (t->san && !add_ext(x, NID_subject_alt_name, (void *)t->san, empty_subject))
		goto fail;
	step = "add the key identifiers";
	if (!add_key_ids(x, t->issuer))
		goto fail;
	step = "sign";
	if (X509_sign(x, signer, mkcert_sign_md(signer)) <= 0)
		goto fail;
	*out = x;
	x = NULL;
	rc = 0;
	goto out;
fail:
	snprintf(err, errcap, "cannot %s: %s", step, tls_err_string(detail, sizeof(detail)));
out:
	X509_free(x);
	ASN1_INTEGER_free(serial);
	ASN1_BIT_STRING_free(ku);
	return rc;
}
