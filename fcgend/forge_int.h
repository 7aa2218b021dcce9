/* Internals shared by forge.c and forge_leaf.c: the CA context. */
#ifndef G3C_FCGEND_FORGE_INT_H
#define G3C_FCGEND_FORGE_INT_H

#include "fcgend/forge.h"

#define FORGE_CA_MAGIC 0x66636361u /* "fcca" */

struct forge_ca {
	uint32_t magic;
	struct forge_opts opts;
	X509 *cert;	       /* signing CA (a reference) */
	EVP_PKEY *key;	       /* its key (a reference) */
	const EVP_MD *md;      /* NULL for EdDSA CAs */
	EVP_MD_CTX *sign_tmpl; /* initialised once, copied per certificate; NULL: X509_sign */
	time_t not_before, not_after;
	X509_EXTENSION *akid;  /* keyid of the CA, added to every leaf */
	X509_EXTENSION *basic; /* critical CA:FALSE */
	struct slice *tail;    /* DER of every CA cert (OPENSSL_malloc'd), or none */
	size_t ntail;
};

/* "what: <last OpenSSL error>" into err; clears the OpenSSL error queue. */
void forge_ssl_err(char *err, size_t errlen, const char *what);

#endif
