/* mkcert --mimic: take an existing certificate apart into the fields a
 * look-alike is made from (subject, SANs, validity, key usage, EKU, key
 * type, serial). Everything else (policies, AIA, SCTs, ...) is dropped. */
#include "tools/mkcert/cert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

void mkcert_mimic_fini(struct mkcert_mimic *m)
{
	X509_NAME_free(m->subject);
	GENERAL_NAMES_free(m->san);
	EXTENDED_KEY_USAGE_free(m->eku);
	ASN1_INTEGER_free(m->serial);
	memset(m, 0, sizeof(*m));
}

/* X509_get_ext_d2i with the three outcomes told apart: absent (NULL,
 * *crit == -1), present (value), malformed or repeated (NULL, -EBADMSG). */
static int get_ext(X509 *up, int nid, void **val, int *crit, char *err, size_t errcap)
{
	*val = X509_get_ext_d2i(up, nid, crit, NULL);
	if (*val || *crit == -1) {
		ERR_clear_error();
		return 0;
	}
	ERR_clear_error();
	snprintf(err, errcap, "the certificate's %s extension is %s", OBJ_nid2ln(nid),
		 *crit == -2 ? "present more than once" : "malformed");
	return -EBADMSG;
}

int mkcert_mimic_read(X509 *up, struct mkcert_mimic *m, char *err, size_t errcap)
{
	ASN1_BIT_STRING *ku = NULL;
	EVP_PKEY *pub;
	void *v;
	int crit, bit, rc;

	memset(m, 0, sizeof(*m));
	ERR_clear_error();
	pub = X509_get0_pubkey(up);
	if (!pub) {
		ERR_clear_error();
		snprintf(err, errcap, "the certificate's public key algorithm is not supported");
		return -ENOTSUP;
	}
	rc = mkcert_key_spec_of(pub, &m->key, err, errcap);
	if (rc < 0)
		return rc;
	if (mkcert_time_of(X509_get0_notBefore(up), &m->validity.not_before) < 0 ||
	    mkcert_time_of(X509_get0_notAfter(up), &m->validity.not_after) < 0) {
		snprintf(err, errcap, "the certificate's validity times are malformed");
		return -EBADMSG;
	}
	m->subject = X509_NAME_dup(X509_get_subject_name(up));
	m->serial = ASN1_INTEGER_dup(X509_get0_serialNumber(up));
	if (!m->subject || !m->serial) {
		ERR_clear_error();
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	if (X509_NAME_get_text_by_NID(m->subject, NID_commonName, m->cn, sizeof(m->cn)) < 0)
		m->cn[0] = '\0';
	ERR_clear_error();

	rc = get_ext(up, NID_subject_alt_name, &v, &crit, err, errcap);
	if (rc < 0)
		return rc;
	m->san = v;

	rc = get_ext(up, NID_ext_key_usage, &v, &crit, err, errcap);
	if (rc < 0)
		return rc;
	m->eku = v;
	m->eku_critical = crit == 1;

	rc = get_ext(up, NID_key_usage, &v, &crit, err, errcap);
	if (rc < 0)
		return rc;
	ku = v;
	if (ku) {
		m->has_ku = true;
		m->ku_critical = crit == 1;
		for (bit = 0; bit <= 8; bit++)
			if (ASN1_BIT_STRING_get_bit(ku, bit))
				m->ku |= (uint16_t)(1u << bit);
		ASN1_BIT_STRING_free(ku);
	}
	return 0;
}
