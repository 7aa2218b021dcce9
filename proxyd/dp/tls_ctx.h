/* SSL_CTX construction for the data plane, in terms that do not collide
 * with proxyd/config.h: common/tls.h and proxyd/config.h both name their
 * settings `struct tls_server_conf` / `struct tls_client_conf`, so the
 * translation unit that calls common/tls.h (tls_ctx.c) sees only these
 * flat parameter structs, and tls_ep.c fills them from the config model.
 * Everything here is pure OpenSSL: no loop, no connection. */
#ifndef G3C_PROXYD_DP_TLS_CTX_H
#define G3C_PROXYD_DP_TLS_CTX_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "common/util.h"

/* Most certificate pairs of one server context (common/tls.h's bound). */
#define TLS_CTX_MAX_PAIRS 16
/* Size of error text buffers. */
#define TLS_CTX_ERR_MAX 512

/* Server side (tls_server). Strings are PEM text or paths, borrowed while
 * the context is built. */
struct tls_ctx_srv_params {
	const char *certs[TLS_CTX_MAX_PAIRS];
	const char *keys[TLS_CTX_MAX_PAIRS];
	size_t n_pairs;
	bool client_auth;      /* mTLS: a verified client certificate is required */
	const char *client_ca; /* trust anchors for client certificates, NULL = system */
	bool no_session_ticket;
	bool no_session_cache;
};

/* Client side (tls_client towards origins or next proxies). */
struct tls_ctx_cli_params {
	const char *ca;		      /* extra trust anchors, NULL = none */
	bool no_default_ca;	      /* only ca is trusted */
	const char *cert, *key;	      /* client certificate (both or neither) */
	int min_version, max_version; /* TLS1_x_VERSION, 0 = default */
	const char *ciphers;	      /* TLS <= 1.2 list, NULL = default */
};

/* Build a context. On success *out is owned (SSL_CTX_free) and 0 is
 * returned; otherwise -errno with the reason in err (errcap bytes). */
int tls_ctx_server_new(const struct tls_ctx_srv_params *p, SSL_CTX **out, char *err,
		       size_t errcap) MUST_CHECK;
int tls_ctx_client_new(const struct tls_ctx_cli_params *p, SSL_CTX **out, char *err,
		       size_t errcap) MUST_CHECK;

/* Verify the peer against name and send it as SNI unless disabled or an IP
 * literal (common/tls.h tls_client_set_name). Returns 0 or -errno. */
int tls_ctx_set_peer_name(SSL *ssl, const char *name, bool send_sni) MUST_CHECK;

/* Why verification of the peer's certificate failed ("ok" when it did not);
 * static text. */
const char *tls_ctx_verify_string(const SSL *ssl);

/* Drain the thread's OpenSSL error queue into buf as one line. Returns buf. */
const char *tls_ctx_err_string(char *buf, size_t cap);

#endif
