/* Server and client SSL_CTX construction. */
#include "common/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/tls_int.h"

struct srv_pair {
	X509 *leaf;
	EVP_PKEY *key;
	STACK_OF(X509) * chain;
};

/* The pairs of a server context, for SNI selection; owned by the context
 * through ex_data and freed with it. */
struct srv_certs {
	size_t n;
	struct srv_pair p[TLS_MAX_CERT_PAIRS];
};

static pthread_once_t certs_idx_once = PTHREAD_ONCE_INIT;
static int certs_idx = -1;

static void pair_clear(struct srv_pair *p)
{
	X509_free(p->leaf);
	EVP_PKEY_free(p->key);
	sk_X509_pop_free(p->chain, X509_free);
	memset(p, 0, sizeof(*p));
}

static void srv_certs_free(struct srv_certs *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i < sc->n; i++)
		pair_clear(&sc->p[i]);
	free(sc);
}

static void certs_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			  void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	srv_certs_free(ptr);
}

static void certs_idx_init(void)
{
	certs_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, certs_ex_free);
}

/* Load one pair and check that the key belongs to the leaf. */
static int load_pair(const struct tls_cert_pair *cp, const char *name, struct srv_pair *out,
		     char *err, size_t errcap)
{
	char why[TLS_ERR_MAX];
	STACK_OF(X509) *certs = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = tls_load_certs(cp->certificate, &certs, why, sizeof(why));
	if (rc < 0) {
		tls_set_err(err, errcap, "%scertificate: %s", name, why);
		goto out;
	}
	rc = tls_load_key(cp->private_key, &out->key, why, sizeof(why));
	if (rc < 0) {
		tls_set_err(err, errcap, "%sprivate_key: %s", name, why);
		goto out;
	}
	out->leaf = sk_X509_shift(certs);
	out->chain = certs;
	certs = NULL;
	if (X509_check_private_key(out->leaf, out->key) != 1) {
		ERR_clear_error();
		tls_set_err(err, errcap, "%sprivate_key: does not match the certificate", name);
		rc = -EINVAL;
		goto out;
	}
	rc = 0;
out:
	sk_X509_pop_free(certs, X509_free);
	if (rc < 0)
		pair_clear(out);
	return rc;
}

static int set_common(SSL_CTX *ctx, int min_version, int max_version, const char *ciphers,
		      const char *ciphersuites, char *err, size_t errcap)
{
	if (min_version && max_version && min_version > max_version) {
		tls_set_err(err, errcap, "min_tls_version is above max_tls_version");
		return -EINVAL;
	}
	if (min_version && SSL_CTX_set_min_proto_version(ctx, min_version) != 1) {
		tls_set_err(err, errcap, "min_tls_version: unsupported version");
		return -EINVAL;
	}
	if (max_version && SSL_CTX_set_max_proto_version(ctx, max_version) != 1) {
		tls_set_err(err, errcap, "max_tls_version: unsupported version");
		return -EINVAL;
	}
	if (ciphers && SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		tls_set_err(err, errcap, "ciphers: no usable cipher in \"%s\"", ciphers);
		return -EINVAL;
	}
	if (ciphersuites && SSL_CTX_set_ciphersuites(ctx, ciphersuites) != 1) {
		tls_set_err(err, errcap, "ciphersuites: invalid TLS 1.3 suites \"%s\"",
			    ciphersuites);
		return -EINVAL;
	}
	/* non-blocking relays retry writes with a buffer that may have moved,
	 * accept partial writes, and let idle connections drop their buffers */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

/* Trust every certificate of src; optionally advertise them as acceptable
 * client CAs (CertificateRequest). */
static int add_trust(SSL_CTX *ctx, const char *src, const char *key, bool client_ca_list, char *err,
		     size_t errcap)
{
	char why[TLS_ERR_MAX];
	STACK_OF(X509) *certs = NULL;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	int rc;

	rc = tls_load_certs(src, &certs, why, sizeof(why));
	if (rc < 0) {
		tls_set_err(err, errcap, "%s: %s", key, why);
		return rc;
	}
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *x = sk_X509_value(certs, i);

		/* a certificate listed twice is harmless */
		if (X509_STORE_add_cert(store, x) != 1 ||
		    (client_ca_list && SSL_CTX_add_client_CA(ctx, x) != 1)) {
			ERR_clear_error();
			continue;
		}
	}
	sk_X509_pop_free(certs, X509_free);
	return 0;
}

/* Pick the pair whose certificate covers the SNI name; the default (first)
 * pair stays when none does or no name was sent. */
static int srv_cert_cb(SSL *ssl, void *arg)
{
	struct srv_certs *sc = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	if (!name || X509_check_host(sc->p[0].leaf, name, 0, 0, NULL) == 1)
		return 1;
	for (size_t i = 1; i < sc->n; i++) {
		struct srv_pair *p = &sc->p[i];

		if (X509_check_host(p->leaf, name, 0, 0, NULL) != 1)
			continue;
		SSL_certs_clear(ssl);
		return SSL_use_cert_and_key(ssl, p->leaf, p->key, p->chain, 1) == 1 ? 1 : 0;
	}
	return 1;
}

static SSL_CTX *ctx_alloc(const SSL_METHOD *m, char *err, size_t errcap)
{
	SSL_CTX *ctx = SSL_CTX_new(m);

	if (!ctx) {
		char why[TLS_ERR_MAX];
		tls_set_err(err, errcap, "cannot create TLS context: %s",
			    tls_err_string(why, sizeof(why)));
	}
	return ctx;
}

int tls_server_ctx_new(const struct tls_server_conf *c, SSL_CTX **out, char *err, size_t errcap)
{
	struct srv_certs *sc = NULL;
	SSL_CTX *ctx = NULL;
	int rc;

	ERR_clear_error();
	if (c->n_cert_pairs == 0 || c->n_cert_pairs > TLS_MAX_CERT_PAIRS || !c->cert_pairs) {
		tls_set_err(err, errcap, "cert_pairs: need 1 to %u certificate pairs",
			    TLS_MAX_CERT_PAIRS);
		return -EINVAL;
	}
	pthread_once(&certs_idx_once, certs_idx_init);
	ctx = ctx_alloc(TLS_server_method(), err, errcap);
	if (!ctx) {
		rc = -ENOMEM;
		goto out;
	}
	rc = set_common(ctx, c->min_version, c->max_version, c->ciphers, c->ciphersuites, err,
			errcap);
	if (rc < 0)
		goto out;

	sc = calloc(1, sizeof(*sc));
	if (!sc) {
		rc = -ENOMEM;
		tls_set_err(err, errcap, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < c->n_cert_pairs; i++) {
		char name[48] = "";

		if (c->n_cert_pairs > 1)
			snprintf(name, sizeof(name), "cert_pairs[%zu].", i);
		rc = load_pair(&c->cert_pairs[i], name, &sc->p[i], err, errcap);
		if (rc < 0)
			goto out;
		sc->n++;
	}
	if (SSL_CTX_use_cert_and_key(ctx, sc->p[0].leaf, sc->p[0].key, sc->p[0].chain, 1) != 1) {
		char why[TLS_ERR_MAX];
		tls_set_err(err, errcap, "certificate: rejected: %s",
			    tls_err_string(why, sizeof(why)));
		rc = -EINVAL;
		goto out;
	}
	if (sc->n > 1) {
		if (certs_idx < 0 || SSL_CTX_set_ex_data(ctx, certs_idx, sc) != 1) {
			rc = -ENOMEM;
			tls_set_err(err, errcap, "out of memory");
			goto out;
		}
		SSL_CTX_set_cert_cb(ctx, srv_cert_cb, sc);
		sc = NULL; /* owned by ctx now */
	}

	if (c->enable_client_auth) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
		if (c->client_auth_ca) {
			rc = add_trust(ctx, c->client_auth_ca, "ca_certificate", true, err, errcap);
			if (rc < 0)
				goto out;
		} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			ERR_clear_error();
		}
	}

	/* resumption needs a context id, and one is mandatory with client auth */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"g3c", 3);
	if (c->no_session_cache)
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (c->no_session_ticket)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	if (c->no_session_cache && c->no_session_ticket)
		SSL_CTX_set_num_tickets(ctx, 0); /* TLS 1.3 would send useless tickets */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);

	*out = ctx;
	ctx = NULL;
	rc = 0;
out:
	srv_certs_free(sc);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int tls_client_ctx_new(const struct tls_client_conf *c, SSL_CTX **out, char *err, size_t errcap)
{
	struct srv_pair pair = {0};
	SSL_CTX *ctx = NULL;
	int rc;

	ERR_clear_error();
	if (!c->cert_pair.certificate != !c->cert_pair.private_key) {
		tls_set_err(err, errcap, "%s: required with %s",
			    c->cert_pair.certificate ? "private_key" : "certificate",
			    c->cert_pair.certificate ? "certificate" : "private_key");
		return -EINVAL;
	}
	ctx = ctx_alloc(TLS_client_method(), err, errcap);
	if (!ctx) {
		rc = -ENOMEM;
		goto out;
	}
	rc = set_common(ctx, c->min_version, c->max_version, c->ciphers, c->ciphersuites, err,
			errcap);
	if (rc < 0)
		goto out;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (!c->no_default_ca && SSL_CTX_set_default_verify_paths(ctx) != 1)
		ERR_clear_error(); /* no system store: only explicit CAs are trusted */
	if (c->ca_certificate) {
		rc = add_trust(ctx, c->ca_certificate, "ca_certificate", false, err, errcap);
		if (rc < 0)
			goto out;
	}
	if (c->cert_pair.certificate) {
		rc = load_pair(&c->cert_pair, "", &pair, err, errcap);
		if (rc < 0)
			goto out;
		if (SSL_CTX_use_cert_and_key(ctx, pair.leaf, pair.key, pair.chain, 1) != 1) {
			char why[TLS_ERR_MAX];
			tls_set_err(err, errcap, "certificate: rejected: %s",
				    tls_err_string(why, sizeof(why)));
			rc = -EINVAL;
			goto out;
		}
	}
	*out = ctx;
	ctx = NULL;
	rc = 0;
out:
	pair_clear(&pair);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}
