/* One pool key (pool_key_generate in keypool.h): the key, its PKCS#8 DER,
 * its SubjectPublicKeyInfo pieces and its key id. For EC and EdDSA keys the
 * DER is assembled from the raw key material (RFC 5915 ECPrivateKey, RFC
 * 8410 CurvePrivateKey inside RFC 5208 PKCS#8), which is several times
 * cheaper than OpenSSL 3's generic encoders; RSA keys, whose generation
 * dwarfs any encoding, take the generic path. */
#include "fcgend/keypool.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#define P256_LEN 32
#define P256_POINT_LEN 65

struct raw_key {
	int alg_nid, param_type, param_nid;
	uint8_t pub[P256_POINT_LEN + 64];
	size_t pub_len;
	unsigned char *inner; /* PKCS#8 privateKey contents, OPENSSL_malloc'd */
	int inner_len;
};

static EVP_PKEY *gen_pkey(enum fcgen_key_type t)
{
	switch (t) {
	case FCGEN_KEY_EC256:
		return EVP_EC_gen("P-256");
	case FCGEN_KEY_RSA2048:
		return EVP_RSA_gen(2048);
	case FCGEN_KEY_ED25519:
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	case FCGEN_KEY_ED448:
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	case FCGEN_KEY__COUNT:
		break;
	}
	return NULL;
}

/* ECPrivateKey {version 1, privateKey, [1] publicKey} without parameters
 * (they are in the PKCS#8 AlgorithmIdentifier), as OpenSSL writes it. */
static bool ec_raw(EVP_PKEY *pkey, struct raw_key *r)
{
	static const uint8_t head[] = {0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, P256_LEN};
	static const uint8_t pub_head[] = {0xa1, 0x44, 0x03, 0x42, 0x00};
	BIGNUM *d = NULL;
	unsigned char *p;
	bool ok = false;

	if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, r->pub,
					     sizeof(r->pub), &r->pub_len) ||
	    r->pub_len != P256_POINT_LEN || r->pub[0] != 0x04)
		return false;
	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d))
		return false;
	r->inner_len = (int)(sizeof(head) + P256_LEN + sizeof(pub_head) + P256_POINT_LEN);
	r->inner = p = OPENSSL_malloc((size_t)r->inner_len);
	if (!p)
		goto out;
	memcpy(p, head, sizeof(head));
	p += sizeof(head);
	if (BN_bn2binpad(d, p, P256_LEN) != P256_LEN)
		goto out;
	p += P256_LEN;
	memcpy(p, pub_head, sizeof(pub_head));
	memcpy(p + sizeof(pub_head), r->pub, P256_POINT_LEN);
	r->alg_nid = NID_X9_62_id_ecPublicKey;
	r->param_type = V_ASN1_OBJECT;
	r->param_nid = NID_X9_62_prime256v1;
	ok = true;
out:
	BN_clear_free(d);
	return ok;
}

/* CurvePrivateKey ::= OCTET STRING (RFC 8410 7). */
static bool ed_raw(EVP_PKEY *pkey, int nid, struct raw_key *r)
{
	uint8_t priv[64];
	size_t plen = sizeof(priv);

	r->pub_len = sizeof(r->pub);
	if (!EVP_PKEY_get_raw_public_key(pkey, r->pub, &r->pub_len) ||
	    !EVP_PKEY_get_raw_private_key(pkey, priv, &plen) || plen > 127)
		return false;
	r->inner_len = (int)(2 + plen);
	r->inner = OPENSSL_malloc((size_t)r->inner_len);
	if (r->inner) {
		r->inner[0] = 0x04;
		r->inner[1] = (unsigned char)plen;
		memcpy(r->inner + 2, priv, plen);
	}
	OPENSSL_cleanse(priv, sizeof(priv));
	r->alg_nid = nid;
	r->param_type = V_ASN1_UNDEF;
	return r->inner != NULL;
}

static bool fill_from_raw(struct pool_key *k, struct raw_key *r)
{
	PKCS8_PRIV_KEY_INFO *p8 = PKCS8_PRIV_KEY_INFO_new();
	ASN1_OBJECT *param = r->param_type == V_ASN1_OBJECT ? OBJ_nid2obj(r->param_nid) : NULL;
	unsigned char *der = NULL;
	int len;

	if (!p8 || !PKCS8_pkey_set0(p8, OBJ_nid2obj(r->alg_nid), 0, r->param_type, param, r->inner,
				    r->inner_len)) {
		PKCS8_PRIV_KEY_INFO_free(p8);
		return false;
	}
	r->inner = NULL; /* owned by p8 now */
	len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (len <= 0)
		return false;
	k->der = xmalloc((size_t)len);
	memcpy(k->der, der, (size_t)len);
	k->der_len = (size_t)len;
	OPENSSL_clear_free(der, (size_t)len);
	k->spki_alg_nid = r->alg_nid;
	k->spki_param_type = r->param_type;
	k->spki_param_nid = r->param_nid;
	k->spki_bits = xmalloc(r->pub_len);
	memcpy(k->spki_bits, r->pub, r->pub_len);
	k->spki_bits_len = r->pub_len;
	return true;
}

/* The generic path (RSA). */
static bool fill_generic(struct pool_key *k, EVP_PKEY *pkey)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
	X509_PUBKEY *xp = NULL;
	const ASN1_OBJECT *aobj = NULL;
	const X509_ALGOR *alg = NULL;
	const unsigned char *bits = NULL;
	unsigned char *der = NULL;
	int bitslen = 0, len = 0, ptype = V_ASN1_UNDEF;
	bool ok = false;

	if (!p8 || (len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0)
		goto out;
	if (!X509_PUBKEY_set(&xp, pkey) ||
	    !X509_PUBKEY_get0_param((ASN1_OBJECT **)&aobj, &bits, &bitslen, (X509_ALGOR **)&alg,
				    xp) ||
	    bitslen <= 0)
		goto out;
	X509_ALGOR_get0(NULL, &ptype, NULL, alg);
	if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF)
		goto out; /* RSA has a NULL parameter */
	k->der = xmalloc((size_t)len);
	memcpy(k->der, der, (size_t)len);
	k->der_len = (size_t)len;
	k->spki_alg_nid = OBJ_obj2nid(aobj);
	k->spki_param_type = ptype;
	k->spki_bits = xmalloc((size_t)bitslen);
	memcpy(k->spki_bits, bits, (size_t)bitslen);
	k->spki_bits_len = (size_t)bitslen;
	ok = true;
out:
	if (der)
		OPENSSL_clear_free(der, (size_t)len);
	X509_PUBKEY_free(xp);
	PKCS8_PRIV_KEY_INFO_free(p8);
	return ok;
}

struct pool_key *pool_key_generate(enum fcgen_key_type t)
{
	struct pool_key *k = xcalloc(1, sizeof(*k));
	struct raw_key r;
	bool ok;

	memset(&r, 0, sizeof(r));
	k->type = t;
	k->pkey = gen_pkey(t);
	if (!k->pkey)
		goto fail;
	switch (t) {
	case FCGEN_KEY_EC256:
		ok = ec_raw(k->pkey, &r) && fill_from_raw(k, &r);
		break;
	case FCGEN_KEY_ED25519:
		ok = ed_raw(k->pkey, NID_ED25519, &r) && fill_from_raw(k, &r);
		break;
	case FCGEN_KEY_ED448:
		ok = ed_raw(k->pkey, NID_ED448, &r) && fill_from_raw(k, &r);
		break;
	default:
		ok = fill_generic(k, k->pkey);
		break;
	}
	if (r.inner)
		OPENSSL_clear_free(r.inner, (size_t)r.inner_len);
	if (!ok)
		goto fail;
	SHA1(k->spki_bits, k->spki_bits_len, k->skid);
	return k;
fail:
	ERR_clear_error();
	pool_key_free(k);
	return NULL;
}

void pool_key_free(struct pool_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	if (k->der) {
		OPENSSL_cleanse(k->der, k->der_len);
		free(k->der);
	}
	free(k->spki_bits);
	free(k);
}

struct pool_key *pool_key_dup(const struct pool_key *k)
{
	struct pool_key *d = xmalloc(sizeof(*d));

	*d = *k;
	EVP_PKEY_up_ref(k->pkey);
	d->der = xmalloc(k->der_len);
	memcpy(d->der, k->der, k->der_len);
	d->spki_bits = xmalloc(k->spki_bits_len);
	memcpy(d->spki_bits, k->spki_bits, k->spki_bits_len);
	return d;
}
