/* tls.h: certificates minted in-process (throwaway CA, server, client) into
 * a temp dir, loading from files and inline PEM, clear errors for bad
 * input, and real handshakes between our server and client contexts over a
 * socketpair: verification, SNI selection, mTLS, versions, resumption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/tls.h"

/* ---- throwaway PKI ---------------------------------------------------- */

struct ident {
	EVP_PKEY *key;
	X509 *cert;
	char *cert_pem, *key_pem; /* inline forms */
	char cert_path[PATH_MAX], key_path[PATH_MAX];
};

static char tmpdir[] = "/tmp/g3c-tls-test-XXXXXX";
static struct ident ca, ca2, srv, other, cli, cli2;
static char chain_path[PATH_MAX], junk_path[PATH_MAX], enc_key_pem_path[PATH_MAX];
static char *enc_key_pem;

static char *bio_to_str(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	char *s = malloc((size_t)n + 1);

	assert_non_null(s);
	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	BIO_free(b);
	return s;
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Mint a P-256 key and a certificate for cn signed by issuer (self-signed
 * when issuer is NULL), and write both as PEM files named after tag. */
static void mint(struct ident *id, const char *tag, const char *cn, const char *san,
		 const struct ident *issuer, bool is_ca, long serial)
{
	X509_NAME *name;
	BIO *b;

	id->key = EVP_EC_gen("P-256");
	assert_non_null(id->key);
	id->cert = X509_new();
	assert_non_null(id->cert);
	X509_set_version(id->cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(id->cert), serial);
	X509_gmtime_adj(X509_getm_notBefore(id->cert), -3600);
	X509_gmtime_adj(X509_getm_notAfter(id->cert), 86400);
	X509_set_pubkey(id->cert, id->key);
	name = X509_get_subject_name(id->cert);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(id->cert, issuer ? X509_get_subject_name(issuer->cert) : name);

	X509 *iss = issuer ? issuer->cert : id->cert;
	add_ext(id->cert, iss, NID_subject_key_identifier, "hash");
	if (is_ca) {
		add_ext(id->cert, iss, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(id->cert, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(id->cert, iss, NID_basic_constraints, "critical,CA:FALSE");
		add_ext(id->cert, iss, NID_authority_key_identifier, "keyid:always");
		add_ext(id->cert, iss, NID_ext_key_usage, "serverAuth,clientAuth");
		if (san)
			add_ext(id->cert, iss, NID_subject_alt_name, san);
	}
	assert_true(X509_sign(id->cert, issuer ? issuer->key : id->key, EVP_sha256()) > 0);

	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509(b, id->cert), 1);
	id->cert_pem = bio_to_str(b);
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(b, id->key, NULL, NULL, 0, NULL, NULL), 1);
	id->key_pem = bio_to_str(b);

	snprintf(id->cert_path, sizeof(id->cert_path), "%s/%s.pem", tmpdir, tag);
	snprintf(id->key_path, sizeof(id->key_path), "%s/%s-key.pem", tmpdir, tag);
	write_file(id->cert_path, id->cert_pem);
	write_file(id->key_path, id->key_pem);
}

static void ident_free(struct ident *id)
{
	EVP_PKEY_free(id->key);
	X509_free(id->cert);
	free(id->cert_pem);
	free(id->key_pem);
	unlink(id->cert_path);
	unlink(id->key_path);
	memset(id, 0, sizeof(*id));
}

static int setup_pki(void **state)
{
	(void)state;
	char *chain;
	BIO *b;

	if (!mkdtemp(tmpdir))
		return -1;
	mint(&ca, "ca", "g3c test CA", NULL, NULL, true, 1);
	mint(&ca2, "ca2", "unrelated CA", NULL, NULL, true, 2);
	mint(&srv, "srv", "localhost", "DNS:localhost,DNS:www.example.test,IP:127.0.0.1", &ca,
	     false, 10);
	mint(&other, "other", "other.example.test", "DNS:other.example.test", &ca, false, 11);
	mint(&cli, "cli", "client one", "DNS:client.example.test", &ca, false, 12);
	mint(&cli2, "cli2", "client two", "DNS:client2.example.test", &ca2, false, 13);

	chain = malloc(strlen(srv.cert_pem) + strlen(ca.cert_pem) + 1);
	assert_non_null(chain);
	strcpy(chain, srv.cert_pem);
	strcat(chain, ca.cert_pem);
	snprintf(chain_path, sizeof(chain_path), "%s/chain.pem", tmpdir);
	write_file(chain_path, chain);
	free(chain);

	snprintf(junk_path, sizeof(junk_path), "%s/junk.pem", tmpdir);
	write_file(junk_path, "this is not a certificate\n");

	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(b, srv.key, EVP_aes_128_cbc(),
						  (const unsigned char *)"secret", 6, NULL, NULL),
			 1);
	enc_key_pem = bio_to_str(b);
	snprintf(enc_key_pem_path, sizeof(enc_key_pem_path), "%s/enc-key.pem", tmpdir);
	write_file(enc_key_pem_path, enc_key_pem);

	log_init("test_tls", NULL, LOG_SINK_STDERR, 0);
	return 0;
}

static int teardown_pki(void **state)
{
	(void)state;
	ident_free(&ca);
	ident_free(&ca2);
	ident_free(&srv);
	ident_free(&other);
	ident_free(&cli);
	ident_free(&cli2);
	free(enc_key_pem);
	unlink(chain_path);
	unlink(junk_path);
	unlink(enc_key_pem_path);
	return rmdir(tmpdir) == 0 ? 0 : -1;
}

/* ---- handshake harness ------------------------------------------------- */

struct tpair {
	SSL *c, *s;
	int fds[2];
	int crc, src; /* 1 done, -1 failed */
	char cerr[TLS_ERR_MAX], serr[TLS_ERR_MAX];
};

static void tpair_new(struct tpair *t, SSL_CTX *sctx, SSL_CTX *cctx, const char *name, bool sni)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, t->fds), 0);
	t->c = SSL_new(cctx);
	t->s = SSL_new(sctx);
	assert_non_null(t->c);
	assert_non_null(t->s);
	assert_int_equal(SSL_set_fd(t->c, t->fds[0]), 1);
	assert_int_equal(SSL_set_fd(t->s, t->fds[1]), 1);
	if (name)
		assert_int_equal(tls_client_set_name(t->c, name, sni), 0);
	SSL_set_connect_state(t->c);
	SSL_set_accept_state(t->s);
}

static void tpair_free(struct tpair *t)
{
	/* an orderly close keeps the session resumable */
	if (t->crc == 1 && t->src == 1) {
		(void)SSL_shutdown(t->c);
		(void)SSL_shutdown(t->s);
	}
	ERR_clear_error();
	SSL_free(t->c);
	SSL_free(t->s);
	close(t->fds[0]);
	close(t->fds[1]);
}

static void step(SSL *ssl, int *rc, char *err)
{
	int r;

	if (*rc)
		return;
	r = SSL_do_handshake(ssl);
	if (r == 1) {
		*rc = 1;
		return;
	}
	r = SSL_get_error(ssl, r);
	if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE)
		return;
	*rc = -1;
	/* the error queue is per thread: take it right after the failing call */
	tls_err_string(err, TLS_ERR_MAX);
}

/* Run both ends in turns until each has finished or failed (or neither can
 * make progress). */
static void handshake(struct tpair *t)
{
	for (int i = 0; i < 200; i++) {
		step(t->c, &t->crc, t->cerr);
		step(t->s, &t->src, t->serr);
		if (t->crc && t->src)
			return;
		if ((t->crc == -1 || t->src == -1) && i > 20)
			return;
	}
}

/* Application bytes from one end to the other. */
static void transfer(SSL *from, SSL *to, const char *msg)
{
	char got[64];
	size_t len = strlen(msg);
	int n = -1;

	assert_int_equal(SSL_write(from, msg, (int)len), (int)len);
	for (int i = 0; i < 100 && n <= 0; i++) {
		n = SSL_read(to, got, sizeof(got));
		if (n <= 0)
			assert_int_equal(SSL_get_error(to, n), SSL_ERROR_WANT_READ);
		(void)SSL_read(from, got, 0); /* let the sender process tickets */
	}
	assert_int_equal(n, (int)len);
	assert_memory_equal(got, msg, len);
}

static SSL_CTX *server_ctx(const struct tls_server_conf *c)
{
	char err[TLS_ERR_MAX] = "";
	SSL_CTX *ctx = NULL;
	int rc = tls_server_ctx_new(c, &ctx, err, sizeof(err));

	if (rc != 0)
		fail_msg("server ctx: %d %s", rc, err);
	assert_int_equal(ERR_peek_error(), 0);
	return ctx;
}

static SSL_CTX *client_ctx(const struct tls_client_conf *c)
{
	char err[TLS_ERR_MAX] = "";
	SSL_CTX *ctx = NULL;
	int rc = tls_client_ctx_new(c, &ctx, err, sizeof(err));

	if (rc != 0)
		fail_msg("client ctx: %d %s", rc, err);
	return ctx;
}

static bool one_line(const char *s)
{
	return strchr(s, '\n') == NULL && strchr(s, '\r') == NULL && *s;
}

/* ---- loading ------------------------------------------------------------ */

static void test_load_file_and_inline(void **state)
{
	(void)state;
	STACK_OF(X509) *a = NULL, *b = NULL, *chain = NULL;
	EVP_PKEY *k1 = NULL, *k2 = NULL;
	char err[TLS_ERR_MAX];

	assert_false(tls_is_inline_pem(srv.cert_path));
	assert_true(tls_is_inline_pem(srv.cert_pem));
	assert_false(tls_is_inline_pem(NULL));

	assert_int_equal(tls_load_certs(srv.cert_path, &a, err, sizeof(err)), 0);
	assert_int_equal(tls_load_certs(srv.cert_pem, &b, err, sizeof(err)), 0);
	assert_int_equal(sk_X509_num(a), 1);
	assert_int_equal(sk_X509_num(b), 1);
	assert_int_equal(X509_cmp(sk_X509_value(a, 0), srv.cert), 0);
	assert_int_equal(X509_cmp(sk_X509_value(b, 0), srv.cert), 0);

	assert_int_equal(tls_load_certs(chain_path, &chain, err, sizeof(err)), 0);
	assert_int_equal(sk_X509_num(chain), 2);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 0), srv.cert), 0);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 1), ca.cert), 0);

	assert_int_equal(tls_load_key(srv.key_path, &k1, err, sizeof(err)), 0);
	assert_int_equal(tls_load_key(srv.key_pem, &k2, err, sizeof(err)), 0);
	assert_int_equal(EVP_PKEY_eq(k1, srv.key), 1);
	assert_int_equal(EVP_PKEY_eq(k2, srv.key), 1);

	/* traditional "EC PRIVATE KEY", after an unrelated PEM block */
	BIO *tb = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509(tb, ca.cert), 1);
	assert_int_equal(
		PEM_write_bio_PrivateKey_traditional(tb, other.key, NULL, NULL, 0, NULL, NULL), 1);
	char *trad = bio_to_str(tb);
	assert_non_null(strstr(trad, "-----BEGIN EC PRIVATE KEY-----"));
	EVP_PKEY *k3 = NULL;
	assert_int_equal(tls_load_key(trad, &k3, err, sizeof(err)), 0);
	assert_int_equal(EVP_PKEY_eq(k3, other.key), 1);
	EVP_PKEY_free(k3);
	free(trad);

	/* inline PEM may sit after other text (YAML block scalars) */
	char *padded = malloc(strlen(cli.cert_pem) + 32);
	assert_non_null(padded);
	sprintf(padded, "# client\n%s", cli.cert_pem);
	STACK_OF(X509) *c = NULL;
	assert_int_equal(tls_load_certs(padded, &c, err, sizeof(err)), 0);
	assert_int_equal(X509_cmp(sk_X509_value(c, 0), cli.cert), 0);
	free(padded);

	assert_int_equal(ERR_peek_error(), 0);
	sk_X509_pop_free(a, X509_free);
	sk_X509_pop_free(b, X509_free);
	sk_X509_pop_free(c, X509_free);
	sk_X509_pop_free(chain, X509_free);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}

static void test_load_errors(void **state)
{
	(void)state;
	STACK_OF(X509) *sk = NULL;
	EVP_PKEY *k = NULL;
	char err[TLS_ERR_MAX], path[PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/missing.pem", tmpdir);
	assert_int_equal(tls_load_certs(path, &sk, err, sizeof(err)), -ENOENT);
	assert_true(strstr(err, "cannot open ") && strstr(err, path));
	assert_non_null(strstr(err, "No such file or directory"));

	assert_int_equal(tls_load_certs(tmpdir, &sk, err, sizeof(err)), -EISDIR);

	assert_int_equal(tls_load_certs(junk_path, &sk, err, sizeof(err)), -EBADMSG);
	assert_true(strstr(err, "no certificate found in ") && strstr(err, junk_path));

	assert_int_equal(tls_load_certs("", &sk, err, sizeof(err)), -EINVAL);

	/* broken base64 inside the armour: the OpenSSL reason is passed on */
	assert_int_equal(tls_load_certs("-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n"
					"-----END CERTIFICATE-----\n",
					&sk, err, sizeof(err)),
			 -EBADMSG);
	assert_int_equal(strncmp(err, "bad certificate PEM in inline PEM: error:", 41), 0);
	assert_true(one_line(err));

	/* armour without an end line */
	assert_int_equal(
		tls_load_certs("-----BEGIN CERTIFICATE-----\nMIIB\n", &sk, err, sizeof(err)),
		-EBADMSG);
	assert_non_null(strstr(err, "bad certificate PEM in inline PEM"));

	/* a key file holds no certificate, a certificate no key */
	assert_int_equal(tls_load_certs(srv.key_pem, &sk, err, sizeof(err)), -EBADMSG);
	assert_string_equal(err, "no certificate found in inline PEM");
	assert_int_equal(tls_load_key(srv.cert_path, &k, err, sizeof(err)), -EBADMSG);
	assert_true(strstr(err, "no private key found in ") && strstr(err, srv.cert_path));

	/* encrypted keys fail cleanly instead of prompting */
	assert_int_equal(tls_load_key(enc_key_pem, &k, err, sizeof(err)), -EBADMSG);
	assert_string_equal(
		err, "encrypted private key in inline PEM: encrypted keys are not supported");
	assert_int_equal(tls_load_key(enc_key_pem_path, &k, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "encrypted keys are not supported"));
	assert_int_equal(tls_load_key(junk_path, &k, err, sizeof(err)), -EBADMSG);
	assert_true(strstr(err, "no private key found in ") && strstr(err, junk_path));
	/* a key block whose body is not a key */
	assert_int_equal(
		tls_load_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", &k,
			     err, sizeof(err)),
		-EBADMSG);
	assert_int_equal(strncmp(err, "bad private key in inline PEM: error:", 37), 0);
	assert_true(one_line(err));

	assert_null(sk);
	assert_null(k);
	/* errors leave the queue empty, so they do not leak into later calls */
	assert_int_equal(ERR_peek_error(), 0);
	/* err may be NULL */
	assert_int_equal(tls_load_certs(junk_path, &sk, NULL, 0), -EBADMSG);
}

static void test_ctx_config_errors(void **state)
{
	(void)state;
	char err[TLS_ERR_MAX];
	SSL_CTX *ctx = NULL;

	struct tls_cert_pair mismatch = {srv.cert_path, other.key_pem};
	struct tls_server_conf sc = {.cert_pairs = &mismatch, .n_cert_pairs = 1};
	assert_int_equal(tls_server_ctx_new(&sc, &ctx, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "private_key: does not match the certificate");

	struct tls_cert_pair two[2] = {{srv.cert_path, srv.key_path}, {junk_path, other.key_pem}};
	sc.cert_pairs = two;
	sc.n_cert_pairs = 2;
	assert_int_equal(tls_server_ctx_new(&sc, &ctx, err, sizeof(err)), -EBADMSG);
	assert_int_equal(strncmp(err, "cert_pairs[1].certificate: no certificate found", 47), 0);

	sc.n_cert_pairs = 0;
	assert_int_equal(tls_server_ctx_new(&sc, &ctx, err, sizeof(err)), -EINVAL);

	sc.cert_pairs = two;
	sc.n_cert_pairs = 1;
	sc.ciphers = "NO-SUCH-CIPHER";
	assert_int_equal(tls_server_ctx_new(&sc, &ctx, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "ciphers: no usable cipher in \"NO-SUCH-CIPHER\"");
	sc.ciphers = NULL;
	sc.min_version = TLS1_3_VERSION;
	sc.max_version = TLS1_2_VERSION;
	assert_int_equal(tls_server_ctx_new(&sc, &ctx, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "min_tls_version is above max_tls_version");
	sc.min_version = sc.max_version = 0;
	sc.enable_client_auth = true;
	sc.client_auth_ca = junk_path;
	assert_int_equal(tls_server_ctx_new(&sc, &ctx, err, sizeof(err)), -EBADMSG);
	assert_int_equal(strncmp(err, "ca_certificate: no certificate found", 36), 0);

	struct tls_client_conf cc = {.cert_pair = {cli.cert_path, NULL}};
	assert_int_equal(tls_client_ctx_new(&cc, &ctx, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "private_key: required with certificate");
	cc.cert_pair.certificate = NULL;
	cc.ca_certificate = "-----BEGIN CERTIFICATE-----\n@@\n-----END CERTIFICATE-----\n";
	assert_int_equal(tls_client_ctx_new(&cc, &ctx, err, sizeof(err)), -EBADMSG);
	assert_int_equal(strncmp(err, "ca_certificate: bad certificate PEM", 35), 0);
	assert_null(ctx);
	assert_int_equal(ERR_peek_error(), 0);

	int v = 0;
	assert_int_equal(tls_version_parse("tls1.2", &v), 0);
	assert_int_equal(v, TLS1_2_VERSION);
	assert_int_equal(tls_version_parse("TLSv1.3", &v), 0);
	assert_int_equal(v, TLS1_3_VERSION);
	assert_int_equal(tls_version_parse("tls1_1", &v), 0);
	assert_int_equal(v, TLS1_1_VERSION);
	assert_int_equal(tls_version_parse("1.0", &v), 0);
	assert_int_equal(v, TLS1_VERSION);
	assert_int_equal(tls_version_parse("tls1.4", &v), -EINVAL);
	assert_int_equal(tls_version_parse("ssl3", &v), -EINVAL);
	assert_int_equal(tls_version_parse("", &v), -EINVAL);
	assert_int_equal(tls_version_parse("tls1.2.0000000", &v), -EINVAL);
}

/* ---- error text --------------------------------------------------------- */

static void test_err_string(void **state)
{
	(void)state;
	char buf[TLS_ERR_MAX], small[20];

	ERR_clear_error();
	assert_string_equal(tls_err_string(buf, sizeof(buf)), "no TLS error details");

	ERR_raise(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED);
	ERR_raise_data(ERR_LIB_SSL, SSL_R_NO_PROTOCOLS_AVAILABLE, "line\none");
	assert_ptr_equal(tls_err_string(buf, sizeof(buf)), buf);
	assert_string_equal(buf, "error:0A000086:SSL routines::certificate verify failed; "
				 "error:0A0000BF:SSL routines::no protocols available (line one)");
	assert_int_equal(ERR_peek_error(), 0);

	/* truncation is safe and still drains the queue */
	for (int i = 0; i < 10; i++)
		ERR_raise(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED);
	tls_err_string(small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(strncmp(small, "error:0A000086:SSL", 18), 0);
	assert_int_equal(ERR_peek_error(), 0);
}

static void test_log_errors(void **state)
{
	(void)state;
	int p[2], saved;
	char out[2048];
	ssize_t n;
	enum log_level old = log_threshold;

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);

	log_threshold = LOG_LVL_WARN;
	ERR_raise(ERR_LIB_SSL, SSL_R_CERTIFICATE_VERIFY_FAILED);
	tls_log_errors("upstream handshake");
	/* filtered out: nothing written, but the queue is still drained */
	log_threshold = LOG_LVL_ERR;
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_PROTOCOLS_AVAILABLE);
	tls_log_errors("quiet");
	log_threshold = old;

	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	n = read(p[0], out, sizeof(out) - 1);
	assert_true(n > 0);
	out[n] = '\0';
	assert_non_null(strstr(
		out,
		"upstream handshake: error:0A000086:SSL routines::certificate verify failed\n"));
	assert_null(strstr(out, "quiet"));
	assert_int_equal(ERR_peek_error(), 0);
	close(p[0]);
	close(p[1]);
}

/* ---- handshakes --------------------------------------------------------- */

static void test_handshake_verify(void **state)
{
	(void)state;
	struct tls_cert_pair pair = {srv.cert_path, srv.key_path};
	struct tls_server_conf sconf = {.cert_pairs = &pair, .n_cert_pairs = 1};
	struct tls_client_conf trusting = {.ca_certificate = ca.cert_pem, .no_default_ca = true};
	struct tls_client_conf blind = {.no_default_ca = true};
	struct tls_client_conf wrong = {.ca_certificate = ca2.cert_path};
	SSL_CTX *s = server_ctx(&sconf), *c1 = client_ctx(&trusting), *c2 = client_ctx(&blind);
	SSL_CTX *c3 = client_ctx(&wrong);
	struct tpair t;

	/* trusted CA: both sides finish and bytes flow both ways */
	tpair_new(&t, s, c1, "localhost", true);
	handshake(&t);
	if (t.crc != 1 || t.src != 1)
		fail_msg("handshake: client %d (%s) server %d (%s)", t.crc, t.cerr, t.src, t.serr);
	assert_int_equal(SSL_get_verify_result(t.c), X509_V_OK);
	assert_string_equal(tls_verify_result_string(t.c), "ok");
	assert_string_equal(SSL_get_servername(t.s, TLSEXT_NAMETYPE_host_name), "localhost");
	transfer(t.c, t.s, "GET / HTTP/1.1\r\n\r\n");
	transfer(t.s, t.c, "HTTP/1.1 200 OK\r\n\r\n");
	tpair_free(&t);

	/* an IP literal is checked against IP SANs and sends no SNI */
	tpair_new(&t, s, c1, "127.0.0.1", true);
	handshake(&t);
	assert_int_equal(t.crc, 1);
	assert_null(SSL_get_servername(t.s, TLSEXT_NAMETYPE_host_name));
	tpair_free(&t);
	tpair_new(&t, s, c1, "127.0.0.2", true);
	handshake(&t);
	assert_int_equal(t.crc, -1);
	assert_string_equal(tls_verify_result_string(t.c), "IP address mismatch");
	tpair_free(&t);

	/* no trust anchor: verification fails, in one line of text */
	tpair_new(&t, s, c2, "localhost", true);
	handshake(&t);
	assert_int_equal(t.crc, -1);
	assert_int_equal(t.src, -1);
	assert_string_equal(t.cerr, "error:0A000086:SSL routines::certificate verify failed");
	assert_true(one_line(t.serr));
	assert_non_null(strstr(t.serr, "unknown ca"));
	assert_string_equal(tls_verify_result_string(t.c),
			    "unable to get local issuer certificate");
	tpair_free(&t);

	/* an unrelated CA does not help */
	tpair_new(&t, s, c3, "localhost", true);
	handshake(&t);
	assert_int_equal(t.crc, -1);
	assert_non_null(strstr(t.cerr, "certificate verify failed"));
	tpair_free(&t);

	/* a trusted chain for another name */
	tpair_new(&t, s, c1, "evil.example.test", true);
	handshake(&t);
	assert_int_equal(t.crc, -1);
	assert_string_equal(tls_verify_result_string(t.c), "hostname mismatch");
	tpair_free(&t);

	SSL_CTX_free(s);
	SSL_CTX_free(c1);
	SSL_CTX_free(c2);
	SSL_CTX_free(c3);
}

static void test_sni_selection(void **state)
{
	(void)state;
	struct tls_cert_pair pairs[2] = {{srv.cert_pem, srv.key_pem},
					 {other.cert_path, other.key_path}};
	struct tls_server_conf sconf = {.cert_pairs = pairs, .n_cert_pairs = 2};
	struct tls_client_conf cconf = {.ca_certificate = ca.cert_path, .no_default_ca = true};
	SSL_CTX *s = server_ctx(&sconf), *c = client_ctx(&cconf);
	struct tpair t;

	tpair_new(&t, s, c, "other.example.test", true);
	handshake(&t);
	if (t.crc != 1 || t.src != 1)
		fail_msg("handshake: client %d (%s) server %d (%s)", t.crc, t.cerr, t.src, t.serr);
	assert_int_equal(X509_cmp(SSL_get0_peer_certificate(t.c), other.cert), 0);
	tpair_free(&t);

	tpair_new(&t, s, c, "www.example.test", true);
	handshake(&t);
	assert_int_equal(t.crc, 1);
	assert_int_equal(X509_cmp(SSL_get0_peer_certificate(t.c), srv.cert), 0);
	tpair_free(&t);

	/* no SNI: the default pair, which does not cover the name */
	tpair_new(&t, s, c, "other.example.test", false);
	handshake(&t);
	assert_int_equal(t.crc, -1);
	assert_string_equal(tls_verify_result_string(t.c), "hostname mismatch");
	tpair_free(&t);

	SSL_CTX_free(s);
	SSL_CTX_free(c);
}

static void test_mtls(void **state)
{
	(void)state;
	struct tls_cert_pair pair = {srv.cert_path, srv.key_path};
	struct tls_server_conf sconf = {.cert_pairs = &pair,
					.n_cert_pairs = 1,
					.enable_client_auth = true,
					.client_auth_ca = ca.cert_pem};
	struct tls_client_conf anon = {.ca_certificate = ca.cert_path, .no_default_ca = true};
	struct tls_client_conf good = anon, bad = anon;
	SSL_CTX *s, *ca_anon, *ca_good, *ca_bad;
	struct tpair t;

	good.cert_pair = (struct tls_cert_pair){cli.cert_path, cli.key_pem};
	bad.cert_pair = (struct tls_cert_pair){cli2.cert_pem, cli2.key_path};
	s = server_ctx(&sconf);
	ca_anon = client_ctx(&anon);
	ca_good = client_ctx(&good);
	ca_bad = client_ctx(&bad);

	/* required client certificate missing: the server refuses */
	tpair_new(&t, s, ca_anon, "localhost", true);
	handshake(&t);
	assert_int_equal(t.src, -1);
	assert_non_null(strstr(t.serr, "peer did not return a certificate"));
	tpair_free(&t);

	/* a client certificate from the accepted CA */
	tpair_new(&t, s, ca_good, "localhost", true);
	handshake(&t);
	if (t.crc != 1 || t.src != 1)
		fail_msg("handshake: client %d (%s) server %d (%s)", t.crc, t.cerr, t.src, t.serr);
	assert_int_equal(X509_cmp(SSL_get0_peer_certificate(t.s), cli.cert), 0);
	assert_int_equal(SSL_get_verify_result(t.s), X509_V_OK);
	transfer(t.c, t.s, "hello");
	tpair_free(&t);

	/* a client certificate from another CA */
	tpair_new(&t, s, ca_bad, "localhost", true);
	handshake(&t);
	assert_int_equal(t.src, -1);
	assert_non_null(strstr(t.serr, "certificate verify failed"));
	tpair_free(&t);

	SSL_CTX_free(s);
	SSL_CTX_free(ca_anon);
	SSL_CTX_free(ca_good);
	SSL_CTX_free(ca_bad);
}

static void test_versions_and_ciphers(void **state)
{
	(void)state;
	struct tls_cert_pair pair = {srv.cert_path, srv.key_path};
	struct tls_server_conf s12 = {.cert_pairs = &pair,
				      .n_cert_pairs = 1,
				      .max_version = TLS1_2_VERSION,
				      .ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"};
	struct tls_client_conf c13 = {.ca_certificate = ca.cert_pem,
				      .no_default_ca = true,
				      .min_version = TLS1_3_VERSION};
	struct tls_client_conf cany = {.ca_certificate = ca.cert_pem, .no_default_ca = true};
	SSL_CTX *s = server_ctx(&s12), *a = client_ctx(&c13), *b = client_ctx(&cany);
	struct tpair t;

	tpair_new(&t, s, a, "localhost", true);
	handshake(&t);
	assert_int_equal(t.crc, -1);
	assert_int_equal(t.src, -1);
	assert_true(one_line(t.cerr) && one_line(t.serr));
	tpair_free(&t);

	tpair_new(&t, s, b, "localhost", true);
	handshake(&t);
	assert_int_equal(t.crc, 1);
	assert_int_equal(SSL_version(t.c), TLS1_2_VERSION);
	assert_string_equal(SSL_get_cipher_name(t.c), "ECDHE-ECDSA-AES128-GCM-SHA256");
	tpair_free(&t);

	SSL_CTX_free(s);
	SSL_CTX_free(a);
	SSL_CTX_free(b);
}

/* Two handshakes; returns whether the second resumed the first session. */
static bool resumed(SSL_CTX *s, SSL_CTX *c)
{
	struct tpair t;
	SSL_SESSION *sess;
	bool reused;

	tpair_new(&t, s, c, "localhost", true);
	handshake(&t);
	assert_int_equal(t.crc, 1);
	transfer(t.s, t.c, "ticket?"); /* the client reads any NewSessionTicket */
	sess = SSL_get1_session(t.c);
	assert_non_null(sess);
	tpair_free(&t);

	tpair_new(&t, s, c, "localhost", true);
	assert_int_equal(SSL_set_session(t.c, sess), 1);
	handshake(&t);
	assert_int_equal(t.crc, 1);
	assert_int_equal(t.src, 1);
	reused = SSL_session_reused(t.c) == 1;
	tpair_free(&t);
	SSL_SESSION_free(sess);
	return reused;
}

static void test_session_switches(void **state)
{
	(void)state;
	struct tls_cert_pair pair = {srv.cert_path, srv.key_path};
	struct tls_client_conf cc = {.ca_certificate = ca.cert_pem, .no_default_ca = true};
	SSL_CTX *c = client_ctx(&cc);

	for (int v = 0; v < 2; v++) {
		int ver = v ? TLS1_2_VERSION : TLS1_3_VERSION;
		struct tls_server_conf on = {.cert_pairs = &pair,
					     .n_cert_pairs = 1,
					     .min_version = ver,
					     .max_version = ver};
		struct tls_server_conf no_ticket = on, off = on;
		no_ticket.no_session_ticket = true;
		off.no_session_ticket = true;
		off.no_session_cache = true;

		SSL_CTX *s = server_ctx(&on);
		assert_true(resumed(s, c));
		SSL_CTX_free(s);
		s = server_ctx(&no_ticket); /* the session cache still resumes */
		assert_true(resumed(s, c));
		SSL_CTX_free(s);
		s = server_ctx(&off);
		assert_false(resumed(s, c));
		SSL_CTX_free(s);
	}
	SSL_CTX_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_file_and_inline),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_ctx_config_errors),
		cmocka_unit_test(test_err_string),
		cmocka_unit_test(test_log_errors),
		cmocka_unit_test(test_handshake_verify),
		cmocka_unit_test(test_sni_selection),
		cmocka_unit_test(test_mtls),
		cmocka_unit_test(test_versions_and_ciphers),
		cmocka_unit_test(test_session_switches),
	};
	return cmocka_run_group_tests(tests, setup_pki, teardown_pki);
}
