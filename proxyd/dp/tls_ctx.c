/* SSL_CTX construction through common/tls.h (see tls_ctx.h). */
#include "proxyd/dp/tls_ctx.h"

#include <errno.h>
#include <stdio.h>

#include "common/tls.h"

int tls_ctx_server_new(const struct tls_ctx_srv_params *p, SSL_CTX **out, char *err, size_t errcap)
{
	struct tls_cert_pair pairs[TLS_CTX_MAX_PAIRS];
	struct tls_server_conf c = {0};

	if (p->n_pairs == 0 || p->n_pairs > TLS_CTX_MAX_PAIRS) {
		snprintf(err, errcap, "need 1 to %d certificate pairs", (int)TLS_CTX_MAX_PAIRS);
		return -EINVAL;
	}
	for (size_t i = 0; i < p->n_pairs; i++) {
		pairs[i].certificate = p->certs[i];
		pairs[i].private_key = p->keys[i];
	}
	c.cert_pairs = pairs;
	c.n_cert_pairs = p->n_pairs;
	c.enable_client_auth = p->client_auth;
	c.client_auth_ca = p->client_ca;
	c.no_session_ticket = p->no_session_ticket;
	c.no_session_cache = p->no_session_cache;
	return tls_server_ctx_new(&c, out, err, errcap);
}

int tls_ctx_client_new(const struct tls_ctx_cli_params *p, SSL_CTX **out, char *err, size_t errcap)
{
	struct tls_client_conf c = {0};

	c.ca_certificate = p->ca;
	c.no_default_ca = p->no_default_ca;
	c.cert_pair.certificate = p->cert;
	c.cert_pair.private_key = p->key;
	c.min_version = p->min_version;
	c.max_version = p->max_version;
	c.ciphers = p->ciphers;
	return tls_client_ctx_new(&c, out, err, errcap);
}

int tls_ctx_set_peer_name(SSL *ssl, const char *name, bool send_sni)
{
	return tls_client_set_name(ssl, name, send_sni);
}

const char *tls_ctx_verify_string(const SSL *ssl)
{
	return tls_verify_result_string(ssl);
}

const char *tls_ctx_err_string(char *buf, size_t cap)
{
	return tls_err_string(buf, cap);
}
