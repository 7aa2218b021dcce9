/* mkcert: certificate assembly on OpenSSL 3 (names, extensions, serial,
 * signature), the reader that takes a certificate apart for --mimic, and
 * the file helpers. Functions fail with a negative errno and a one-line
 * reason in err (MKCERT_ERR_MAX bytes suffice) and leave the OpenSSL
 * error queue empty. */
#ifndef G3C_TOOLS_MKCERT_CERT_H
#define G3C_TOOLS_MKCERT_CERT_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tools/mkcert/mkcert.h"

/* Key usage bits as numbered in RFC 5280 §4.2.1.3 (bit n is 1u << n). */
enum mkcert_ku {
	MKCERT_KU_DIGITAL_SIGNATURE = 1u << 0,
	MKCERT_KU_NON_REPUDIATION = 1u << 1,
	MKCERT_KU_KEY_ENCIPHERMENT = 1u << 2,
	MKCERT_KU_DATA_ENCIPHERMENT = 1u << 3,
	MKCERT_KU_KEY_AGREEMENT = 1u << 4,
	MKCERT_KU_KEY_CERT_SIGN = 1u << 5,
	MKCERT_KU_CRL_SIGN = 1u << 6,
	MKCERT_KU_ENCIPHER_ONLY = 1u << 7,
	MKCERT_KU_DECIPHER_ONLY = 1u << 8,
};

/* Key usage of a fresh certificate of kind k with a key of type t:
 * CAs keyCertSign+cRLSign; TLCP sign digitalSignature+nonRepudiation;
 * TLCP enc keyAgreement+keyEncipherment+dataEncipherment; TLS:
 * keyAgreement for X25519/X448, digitalSignature otherwise, plus
 * keyEncipherment for an RSA server (TLS 1.2 RSA key exchange). Always
 * marked critical. */
uint16_t mkcert_ku_for(enum mkcert_kind k, enum mkcert_key_type t);

/* NID_server_auth, NID_client_auth, or NID_undef (CAs, mimic). */
int mkcert_eku_nid_for(enum mkcert_kind k);

/* Everything a certificate is made from. All pointers are borrowed. */
struct mkcert_tbs {
	EVP_PKEY *key;		  /* the subject's key (its public half goes in) */
	const X509_NAME *subject; /* may be empty: then a SAN is required */
	const GENERAL_NAMES *san; /* NULL = no SAN extension */
	struct mkcert_window validity;
	const ASN1_INTEGER *serial; /* NULL = random 128-bit (mkcert_serial_random) */
	bool ca;
	int path_length; /* CA only; -1 = no pathlen */
	bool has_ku;
	bool ku_critical;
	uint16_t ku;		       /* enum mkcert_ku bits */
	const EXTENDED_KEY_USAGE *eku; /* NULL = no EKU extension */
	bool eku_critical;
	X509 *issuer;	      /* NULL = self-signed with key */
	EVP_PKEY *issuer_key; /* signing key; ignored when issuer is NULL */
};

/* Build and sign a v3 certificate: serial, subject, issuer (the issuer's
 * subject, or the subject), validity, basicConstraints (critical),
 * keyUsage, EKU, SAN (critical when the subject is empty), SKID (SHA-1 of
 * the public key), AKID keyid (the issuer's SKID, or the hash of its key;
 * not on self-signed certificates). *out is owned (X509_free). Returns 0,
 * -EINVAL (no SAN with an empty subject, a key that cannot sign), or -EIO
 * with OpenSSL's reason. */
int mkcert_cert_sign(const struct mkcert_tbs *t, X509 **out, char *err, size_t errcap) MUST_CHECK;

/* A random positive 128-bit serial with the top bit set (so always 16
 * significant bytes). *out is owned (ASN1_INTEGER_free). Returns 0 or -EIO. */
int mkcert_serial_random(ASN1_INTEGER **out) MUST_CHECK;

/* Subject from --country, --organization, --organization-unit and
 * --common-name (in that order), the CN defaulting to default_cn (may be
 * NULL; left out when longer than the 64 bytes X.520 allows). *out is
 * owned (X509_NAME_free). Returns 0 or -EINVAL with the reason. */
int mkcert_subject_build(const struct mkcert_opts *o, const char *default_cn, X509_NAME **out,
			 char *err, size_t errcap) MUST_CHECK;

/* One DNS or IP general name per host, in order. *out is owned
 * (GENERAL_NAMES_free). Returns 0 or -ENOMEM. */
int mkcert_san_build(const struct mkcert_host *hosts, size_t n, GENERAL_NAMES **out) MUST_CHECK;

/* What --mimic takes from an existing certificate. Owned members. */
struct mkcert_mimic {
	X509_NAME *subject;
	GENERAL_NAMES *san; /* NULL when the upstream has none */
	struct mkcert_window validity;
	bool has_ku;
	bool ku_critical;
	uint16_t ku;
	EXTENDED_KEY_USAGE *eku; /* NULL when the upstream has none */
	bool eku_critical;
	struct mkcert_key_spec key;
	ASN1_INTEGER *serial;
	char cn[65]; /* the upstream CN when it has one (for file names), else "" */
};

/* Take up apart into m (zeroed first; release with mkcert_mimic_fini
 * whatever the result). Borrows up. Returns 0, -ENOTSUP for a key type we
 * cannot make, -EBADMSG for a malformed extension, with the reason. */
int mkcert_mimic_read(X509 *up, struct mkcert_mimic *m, char *err, size_t errcap) MUST_CHECK;

void mkcert_mimic_fini(struct mkcert_mimic *m);

/* ASN1_TIME → seconds since the epoch. Returns 0 or -EINVAL. */
int mkcert_time_of(const ASN1_TIME *t, int64_t *out) MUST_CHECK;

/* ---- files (io.c) ---- */

/* Read the first certificate of path, PEM or DER. *out is owned. Returns
 * 0, -errno when unreadable, -EBADMSG when it holds no certificate. */
int mkcert_read_cert(const char *path, X509 **out, char *err, size_t errcap) MUST_CHECK;

/* Write cert as PEM to path (mode 0644 for a new file). Returns 0 or
 * -errno; a partly written file is removed. */
int mkcert_write_cert(const char *path, X509 *cert, char *err, size_t errcap) MUST_CHECK;

/* Write key as unencrypted PKCS#8 PEM to path with mode 0600 (also when
 * the file existed). Returns 0 or -errno; a partly written file is removed. */
int mkcert_write_key(const char *path, EVP_PKEY *key, char *err, size_t errcap) MUST_CHECK;

#endif
