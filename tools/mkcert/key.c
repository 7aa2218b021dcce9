/* mkcert keys: generation per key type, reading the type of an existing
 * key (for --mimic), and the digest a CA key signs with. */
#include "tools/mkcert/mkcert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/ec.h>

#include "common/tls.h"

struct key_info {
	enum mkcert_key_type type;
	int nid;	   /* EC curve NID, else NID_undef */
	const char *name;  /* for messages and mkcert_key_spec_str */
	const char *alg;   /* OpenSSL key type */
	const char *group; /* EC group, or NULL */
};

static const struct key_info key_infos[] = {
	{MKCERT_KEY_RSA, NID_undef, "rsa", "RSA", NULL},
	{MKCERT_KEY_EC224, NID_secp224r1, "ec224", "EC", "P-224"},
	{MKCERT_KEY_EC256, NID_X9_62_prime256v1, "ec256", "EC", "P-256"},
	{MKCERT_KEY_EC384, NID_secp384r1, "ec384", "EC", "P-384"},
	{MKCERT_KEY_EC521, NID_secp521r1, "ec521", "EC", "P-521"},
	{MKCERT_KEY_SM2, NID_sm2, "sm2", "SM2", NULL},
	{MKCERT_KEY_ED25519, NID_undef, "ed25519", "ED25519", NULL},
	{MKCERT_KEY_ED448, NID_undef, "ed448", "ED448", NULL},
	{MKCERT_KEY_X25519, NID_undef, "x25519", "X25519", NULL},
	{MKCERT_KEY_X448, NID_undef, "x448", "X448", NULL},
};

static const struct key_info *info_of(enum mkcert_key_type t)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(key_infos); i++)
		if (key_infos[i].type == t)
			return &key_infos[i];
	return NULL;
}

const char *mkcert_key_spec_str(const struct mkcert_key_spec *ks, char *buf, size_t cap)
{
	const struct key_info *ki = info_of(ks->type);

	if (ks->type == MKCERT_KEY_RSA)
		snprintf(buf, cap, "rsa%u", ks->rsa_bits);
	else
		snprintf(buf, cap, "%s", ki ? ki->name : "default");
	return buf;
}

struct mkcert_key_spec mkcert_key_default(enum mkcert_kind k, const struct mkcert_key_spec *mimic)
{
	struct mkcert_key_spec ks = {MKCERT_KEY_EC256, 0};

	if (k == MKCERT_KIND_MIMIC && mimic)
		ks = *mimic;
	else if (k >= MKCERT_KIND_TLCP_SERVER_SIGN && k <= MKCERT_KIND_TLCP_CLIENT_ENC)
		ks.type = MKCERT_KEY_SM2;
	return ks;
}

bool mkcert_key_can_sign(enum mkcert_key_type t)
{
	return t != MKCERT_KEY_X25519 && t != MKCERT_KEY_X448;
}

int mkcert_key_generate(const struct mkcert_key_spec *ks, EVP_PKEY **out, char *err, size_t errcap)
{
	const struct key_info *ki = info_of(ks->type);
	char detail[TLS_ERR_MAX];
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	int rc = -EIO;

	ERR_clear_error();
	if (!ki) {
		snprintf(err, errcap, "no key type chosen");
		return -EINVAL;
	}
	ctx = EVP_PKEY_CTX_new_from_name(NULL, ki->alg, NULL);
	if (!ctx) {
		ERR_clear_error();
		snprintf(err, errcap, "%s keys are not supported by this OpenSSL (%s)", ki->name,
			 OpenSSL_version(OPENSSL_VERSION));
		return -ENOTSUP;
	}
	if (EVP_PKEY_keygen_init(ctx) <= 0)
		goto fail;
	if (ks->type == MKCERT_KEY_RSA &&
	    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)ks->rsa_bits) <= 0)
		goto fail;
	if (ki->group && EVP_PKEY_CTX_set_group_name(ctx, ki->group) <= 0)
		goto fail;
	if (EVP_PKEY_generate(ctx, &key) <= 0)
		goto fail;
	*out = key;
	rc = 0;
	goto out;
fail:
	snprintf(err, errcap, "cannot generate a %s key: %s", ki->name,
		 tls_err_string(detail, sizeof(detail)));
out:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* NID of an EC key's named curve, or NID_undef. */
static int ec_curve_nid(const EVP_PKEY *pkey)
{
	char name[80];
	size_t len = 0;
	int nid;

	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
					   &len) != 1) {
		ERR_clear_error();
		return NID_undef;
	}
	nid = OBJ_sn2nid(name);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(name);
	if (nid == NID_undef)
		nid = OBJ_ln2nid(name);
	return nid;
}

int mkcert_key_spec_of(const EVP_PKEY *pkey, struct mkcert_key_spec *out, char *err, size_t errcap)
{
	size_t i;

	memset(out, 0, sizeof(*out));
	if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS")) {
		int bits = EVP_PKEY_get_bits(pkey);

		if (bits < (int)MKCERT_RSA_MIN_BITS || bits > (int)MKCERT_RSA_MAX_BITS) {
			snprintf(err, errcap, "RSA key of %d bits is outside %u..%u", bits,
				 MKCERT_RSA_MIN_BITS, MKCERT_RSA_MAX_BITS);
			return -ENOTSUP;
		}
		out->type = MKCERT_KEY_RSA;
		out->rsa_bits = (unsigned)bits;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "SM2")) {
		out->type = MKCERT_KEY_SM2;
		return 0;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		int nid = ec_curve_nid(pkey);

		for (i = 0; i < ARRAY_SIZE(key_infos); i++) {
			if (nid != NID_undef && key_infos[i].nid == nid) {
				out->type = key_infos[i].type;
				return 0;
			}
		}
		snprintf(err, errcap,
			 "EC key on curve %s is not supported (P-224, P-256, P-384, "
			 "P-521 and SM2 are)",
			 nid == NID_undef ? "(unnamed)" : OBJ_nid2sn(nid));
		return -ENOTSUP;
	}
	for (i = 0; i < ARRAY_SIZE(key_infos); i++) {
		if (!key_infos[i].group && key_infos[i].nid == NID_undef &&
		    key_infos[i].type != MKCERT_KEY_RSA && EVP_PKEY_is_a(pkey, key_infos[i].alg)) {
			out->type = key_infos[i].type;
			return 0;
		}
	}
	snprintf(err, errcap, "%s keys are not supported",
		 EVP_PKEY_get0_type_name(pkey) ? EVP_PKEY_get0_type_name(pkey) : "these");
	return -ENOTSUP;
}

const EVP_MD *mkcert_sign_md(const EVP_PKEY *key)
{
	if (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"))
		return NULL;
	if (EVP_PKEY_is_a(key, "SM2") || (EVP_PKEY_is_a(key, "EC") && ec_curve_nid(key) == NID_sm2))
		return EVP_sm3();
	return EVP_sha256();
}
