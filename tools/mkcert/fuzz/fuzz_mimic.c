/* Fuzz what --mimic does with an untrusted certificate: DER bytes →
 * d2i_X509 → mkcert_mimic_read → the validity window against a fixed
 * issuer, the CN as a host, and the SAN re-encoded into a certificate
 * signed by a fixed in-process CA (keys are made once, not per input). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "tools/mkcert/cert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *ca_key, *leaf_key;
static X509 *ca_cert;

static void setup(void)
{
	struct mkcert_key_spec ks = {MKCERT_KEY_EC256, 0};
	struct mkcert_tbs t;
	char err[MKCERT_ERR_MAX];
	X509_NAME *n = X509_NAME_new();

	if (mkcert_key_generate(&ks, &ca_key, err, sizeof(err)) < 0 ||
	    mkcert_key_generate(&ks, &leaf_key, err, sizeof(err)) < 0 || !n ||
	    X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
				       (const unsigned char *)"fuzz CA", -1, -1, 0) != 1)
		abort();
	memset(&t, 0, sizeof(t));
	t.key = ca_key;
	t.subject = n;
	t.validity.not_before = 0;
	t.validity.not_after = 4102444800LL;
	t.ca = true;
	t.path_length = -1;
	t.has_ku = t.ku_critical = true;
	t.ku = MKCERT_KU_KEY_CERT_SIGN | MKCERT_KU_CRL_SIGN;
	if (mkcert_cert_sign(&t, &ca_cert, err, sizeof(err)) < 0)
		abort();
	X509_NAME_free(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *p = data;
	struct mkcert_window issuer = {0, 4102444800LL}, w;
	struct mkcert_mimic m;
	struct mkcert_opts o;
	struct mkcert_host h;
	struct mkcert_tbs t;
	char err[MKCERT_ERR_MAX];
	X509 *up, *out = NULL;

	if (!ca_cert)
		setup();
	up = d2i_X509(NULL, &p, (long)size);
	ERR_clear_error();
	if (!up)
		return 0;
	if (mkcert_mimic_read(up, &m, err, sizeof(err)) == 0) {
		memset(&o, 0, sizeof(o));
		o.kind = MKCERT_KIND_MIMIC;
		if (m.cn[0])
			(void)mkcert_host_classify(m.cn, &h, err, sizeof(err));
		if (mkcert_validity_compute(&o, 1700000000, &issuer, &m.validity, &w, err,
					    sizeof(err)) == 0) {
			memset(&t, 0, sizeof(t));
			t.key = leaf_key;
			t.subject = m.subject;
			t.san = m.san;
			t.validity = w;
			t.path_length = -1;
			t.has_ku = m.has_ku;
			t.ku_critical = m.ku_critical;
			t.ku = m.ku;
			t.eku = m.eku;
			t.eku_critical = m.eku_critical;
			t.serial = m.serial;
			t.issuer = ca_cert;
			t.issuer_key = ca_key;
			if (mkcert_cert_sign(&t, &out, err, sizeof(err)) == 0)
				X509_free(out);
		}
	}
	mkcert_mimic_fini(&m);
	X509_free(up);
	ERR_clear_error();
	return 0;
}
