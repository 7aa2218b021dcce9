/* OpenSSL 3 helpers: certificates and keys from a file or inline PEM,
 * server and client SSL_CTX construction from g3-shaped settings, peer name
 * checks, and one-line error text from the OpenSSL error queue.
 *
 * Values that name a certificate or key follow g3: a value containing
 * "-----BEGIN" is inline PEM text, anything else is a file path (relative
 * paths are the config loader's business). Functions that fail write a
 * human-readable reason into err (when err is not NULL; TLS_ERR_MAX bytes
 * suffice) and leave the OpenSSL error queue empty. */
#ifndef G3C_COMMON_TLS_H
#define G3C_COMMON_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "common/util.h"

/* Suggested size of err buffers and of tls_err_string() buffers. */
#define TLS_ERR_MAX 512
/* Most cert pairs one server context holds. */
#define TLS_MAX_CERT_PAIRS 16

/* A certificate chain (leaf first) and its private key; each a path or
 * inline PEM. Borrowed: the strings are read while a context is built and
 * not kept. */
struct tls_cert_pair {
	const char *certificate;
	const char *private_key;
};

/* True when v holds inline PEM rather than a path. */
bool tls_is_inline_pem(const char *v);

/* Load every certificate in src (leaf first). On success *out is an owned
 * stack with at least one certificate; free it with
 * sk_X509_pop_free(*out, X509_free). Returns 0, -ENOENT / -EACCES / other
 * -errno when the file cannot be read, -EBADMSG for malformed PEM or no
 * certificate at all, -ENOMEM. */
int tls_load_certs(const char *src, STACK_OF(X509) * *out, char *err, size_t errcap) MUST_CHECK;

/* Load the first private key in src ("PRIVATE KEY" PKCS#8, or traditional
 * "RSA PRIVATE KEY" / "EC PRIVATE KEY"; other PEM blocks are skipped;
 * encrypted keys are refused, there is no prompt). *out is owned:
 * EVP_PKEY_free(). Same returns as tls_load_certs(). */
int tls_load_key(const char *src, EVP_PKEY **out, char *err, size_t errcap) MUST_CHECK;

/* "tls1.0"/"tls1.1"/"tls1.2"/"tls1.3" (case-insensitive; "tlsv1.2",
 * "tls1_2", "1.2" too) → TLS1_x_VERSION in *out. Returns 0 or -EINVAL. */
int tls_version_parse(const char *s, int *out) MUST_CHECK;

struct tls_server_conf {
	/* 1..TLS_MAX_CERT_PAIRS pairs. The first is the default; the others
	 * are chosen by the client's SNI against the certificate names (a
	 * certificate callback is installed for that when there are several,
	 * so do not install another one on this context). */
	const struct tls_cert_pair *cert_pairs;
	size_t n_cert_pairs;
	/* mTLS: require a client certificate verified against client_auth_ca
	 * (path or PEM; NULL = the system default trust store). */
	bool enable_client_auth;
	const char *client_auth_ca;
	bool no_session_ticket;	  /* no (stateless) session tickets */
	bool no_session_cache;	  /* no server-side session cache */
	int min_version;	  /* TLS1_x_VERSION; 0 = library default */
	int max_version;	  /* 0 = highest supported */
	const char *ciphers;	  /* TLS <= 1.2 cipher list; NULL = default */
	const char *ciphersuites; /* TLS 1.3 suites; NULL = default */
};

/* Build a server context. On success *out is owned (SSL_CTX_free) and 0 is
 * returned; otherwise -EINVAL (bad settings, key not matching certificate,
 * unknown cipher), a loader error, or -ENOMEM, with the reason in err
 * prefixed by the offending key ("cert_pairs[1].private_key: ..."). The
 * context runs with partial writes, moving write buffers and released idle
 * buffers (SSL_MODE_*), as the non-blocking relays expect. */
int tls_server_ctx_new(const struct tls_server_conf *c, SSL_CTX **out, char *err,
		       size_t errcap) MUST_CHECK;

struct tls_client_conf {
	/* Extra trust anchors (path or PEM; NULL = none). */
	const char *ca_certificate;
	/* Do not trust the system default store (only ca_certificate). */
	bool no_default_ca;
	/* Client certificate for mTLS; both NULL = none. */
	struct tls_cert_pair cert_pair;
	int min_version; /* TLS1_x_VERSION; 0 = library default */
	int max_version;
	const char *ciphers;
	const char *ciphersuites;
};

/* Build a client context that verifies the server certificate chain.
 * Returns as tls_server_ctx_new(). The peer name is checked per connection:
 * see tls_client_set_name().
 *
 * Note for users of either context: OpenSSL forgets a session (server cache
 * and client copy alike) when an SSL is freed without SSL_shutdown(); call
 * it (or SSL_set_shutdown) on an orderly close so resumption keeps working. */
int tls_client_ctx_new(const struct tls_client_conf *c, SSL_CTX **out, char *err,
		       size_t errcap) MUST_CHECK;

/* Before a client handshake: verify the server certificate against name (a
 * DNS name, or an IP literal checked against IP SANs) and send it as SNI
 * when send_sni is true and name is not an IP literal (RFC 6066 §3).
 * Borrows name. Returns 0, -EINVAL (empty or longer than 255) or -ENOMEM. */
int tls_client_set_name(SSL *ssl, const char *name, bool send_sni) MUST_CHECK;

/* Why certificate verification failed on ssl ("unable to get local issuer
 * certificate", "Hostname mismatch", ...), or "ok". Static string. */
const char *tls_verify_result_string(const SSL *ssl);

/* Drain the calling thread's OpenSSL error queue into buf as one line:
 * "error:0A000086:SSL routines::certificate verify failed; ..." (extra data
 * appended in parentheses). An empty queue gives "no TLS error details".
 * Truncates safely to cap. Returns buf. */
const char *tls_err_string(char *buf, size_t cap);

/* log_warn("<what>: <tls_err_string>"), draining the queue. */
void tls_log_errors(const char *what);

#endif
