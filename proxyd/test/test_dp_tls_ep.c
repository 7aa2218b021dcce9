/* tls_ep endpoint I/O and tls_ctx contexts over a socketpair: data both
 * ways, -EAGAIN when nothing is there, decrypted bytes held by OpenSSL,
 * close_notify and a bare TCP end both read as end of stream, garbage as
 * -EPROTO, the same calls on a plain endpoint, and certificate checks of
 * the client context (good name, wrong name, unknown issuer). The
 * certificate is made here with OpenSSL; nothing is read from disk. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "proxyd/dp/conn.h"
#include "proxyd/dp/tls_ctx.h"
#include "proxyd/dp/tls_ep.h"

struct pem {
	char *cert, *key;
};

static char *bio_text(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	char *s = malloc((size_t)n + 1);

	memcpy(s, p, (size_t)n);
	s[n] = '\0';
	return s;
}

/* A self-signed P-256 certificate for origin.test. */
static struct pem make_cert(void)
{
	struct pem out;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	BIO *bc = BIO_new(BIO_s_mem()), *bk = BIO_new(BIO_s_mem());

	assert_non_null(k);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"origin.test", -1,
				   -1, 0);
	X509_set_subject_name(x, nm);
	X509_set_issuer_name(x, nm);
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "DNS:origin.test");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	PEM_write_bio_X509(bc, x);
	PEM_write_bio_PrivateKey(bk, k, NULL, NULL, 0, NULL, NULL);
	out.cert = bio_text(bc);
	out.key = bio_text(bk);
	BIO_free(bc);
	BIO_free(bk);
	X509_NAME_free(nm);
	X509_free(x);
	EVP_PKEY_free(k);
	return out;
}

struct pair {
	struct pem pem;
	SSL_CTX *sctx, *cctx;
	struct conn_ep s, c; /* server and client endpoints */
};

static void ep_setup(struct conn_ep *ep, int fd)
{
	memset(ep, 0, sizeof(*ep));
	ep->fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Drive both handshakes until done or failed; returns the client's
 * SSL_do_handshake result (1 = ok). */
static int handshake(struct pair *p)
{
	int rs = 0, rc = 0;

	for (int i = 0; i < 200 && (rs != 1 || rc != 1); i++) {
		if (rc != 1) {
			rc = SSL_do_handshake(p->c.ssl);
			if (rc <= 0 && SSL_get_error(p->c.ssl, rc) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(p->c.ssl, rc) != SSL_ERROR_WANT_WRITE)
				return -1;
		}
		if (rs != 1) {
			rs = SSL_do_handshake(p->s.ssl);
			if (rs <= 0 && SSL_get_error(p->s.ssl, rs) != SSL_ERROR_WANT_READ &&
			    SSL_get_error(p->s.ssl, rs) != SSL_ERROR_WANT_WRITE)
				return -1;
		}
	}
	return rc == 1 && rs == 1 ? 1 : -1;
}

static void pair_init(struct pair *p, const char *name, bool trust)
{
	struct tls_ctx_srv_params sp = {0};
	struct tls_ctx_cli_params cp = {0};
	char err[TLS_CTX_ERR_MAX];
	int sv[2];

	memset(p, 0, sizeof(*p));
	p->pem = make_cert();
	sp.certs[0] = p->pem.cert;
	sp.keys[0] = p->pem.key;
	sp.n_pairs = 1;
	assert_int_equal(tls_ctx_server_new(&sp, &p->sctx, err, sizeof(err)), 0);
	cp.ca = trust ? p->pem.cert : NULL;
	cp.no_default_ca = true;
	assert_int_equal(tls_ctx_client_new(&cp, &p->cctx, err, sizeof(err)), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ep_setup(&p->s, sv[0]);
	ep_setup(&p->c, sv[1]);
	p->s.ssl = SSL_new(p->sctx);
	p->c.ssl = SSL_new(p->cctx);
	SSL_set_fd(p->s.ssl, sv[0]);
	SSL_set_fd(p->c.ssl, sv[1]);
	SSL_set_options(p->s.ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_set_options(p->c.ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_set_accept_state(p->s.ssl);
	SSL_set_connect_state(p->c.ssl);
	assert_int_equal(tls_ctx_set_peer_name(p->c.ssl, name, true), 0);
}

static void pair_fini(struct pair *p)
{
	tls_ep_free(&p->s);
	tls_ep_free(&p->c);
	close(p->s.fd);
	close(p->c.fd);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	free(p->pem.cert);
	free(p->pem.key);
}

static void test_data_both_ways(void **state)
{
	struct pair p;
	struct buf b;
	uint8_t big[10000], small[100];

	(void)state;
	pair_init(&p, "origin.test", true);
	assert_int_equal(handshake(&p), 1);
	/* nothing there yet */
	assert_int_equal(tls_ep_read(&p.s, small, sizeof(small)), -EAGAIN);
	assert_int_equal(tls_ep_write(&p.c, "hello", 5), 5);
	buf_init(&b, 64);
	assert_int_equal(tls_ep_buf_read(&p.s, &b), 5);
	assert_memory_equal(buf_peek(&b).p, "hello", 5);
	/* and back, through a buffer */
	assert_int_equal(tls_ep_buf_write(&p.s, &b), 5);
	assert_true(buf_empty(&b));
	assert_int_equal(tls_ep_read(&p.c, small, sizeof(small)), 5);
	assert_memory_equal(small, "hello", 5);
	/* one record larger than the reader's room: OpenSSL keeps the rest */
	memset(big, 'x', sizeof(big));
	assert_int_equal(tls_ep_write(&p.c, big, sizeof(big)), (ssize_t)sizeof(big));
	assert_int_equal(tls_ep_read(&p.s, small, sizeof(small)), (ssize_t)sizeof(small));
	assert_int_equal(tls_ep_pending(&p.s), sizeof(big) - sizeof(small));
	buf_fini(&b);
	pair_fini(&p);
}

static void test_close_notify_and_bare_fin_end_the_stream(void **state)
{
	struct pair p;
	uint8_t tmp[64];

	(void)state;
	pair_init(&p, "origin.test", true);
	assert_int_equal(handshake(&p), 1);
	assert_int_equal(tls_ep_write(&p.c, "last", 4), 4);
	assert_int_equal(tls_ep_shut_write(&p.c), 0);
	assert_int_equal(tls_ep_read(&p.s, tmp, sizeof(tmp)), 4);
	assert_int_equal(tls_ep_read(&p.s, tmp, sizeof(tmp)), 0);
	assert_true(SSL_get_shutdown(p.s.ssl) & SSL_RECEIVED_SHUTDOWN);
	/* the other direction is still open (half-close), then a bare FIN */
	assert_int_equal(tls_ep_write(&p.s, "reply", 5), 5);
	assert_int_equal(tls_ep_read(&p.c, tmp, sizeof(tmp)), 5);
	assert_int_equal(shutdown(p.s.fd, SHUT_WR), 0);
	assert_int_equal(tls_ep_read(&p.c, tmp, sizeof(tmp)), 0);
	pair_fini(&p);
}

static void test_garbage_is_a_protocol_error(void **state)
{
	struct pair p;
	uint8_t tmp[64];
	static const char junk[] = "\x17\x03\x03\x00\x10garbage-garbage!";

	(void)state;
	pair_init(&p, "origin.test", true);
	assert_int_equal(handshake(&p), 1);
	assert_int_equal(write(p.c.fd, junk, sizeof(junk) - 1), (ssize_t)(sizeof(junk) - 1));
	assert_int_equal(tls_ep_read(&p.s, tmp, sizeof(tmp)), -EPROTO);
	pair_fini(&p);
}

static void test_plain_endpoint(void **state)
{
	struct conn_ep a, b;
	struct buf bf;
	int sv[2];
	uint8_t tmp[8];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ep_setup(&a, sv[0]);
	ep_setup(&b, sv[1]);
	assert_int_equal(tls_ep_read(&a, tmp, sizeof(tmp)), -EAGAIN);
	assert_int_equal(tls_ep_write(&b, "abc", 3), 3);
	buf_init(&bf, 16);
	assert_int_equal(tls_ep_buf_read(&a, &bf), 3);
	assert_int_equal(tls_ep_pending(&a), 0);
	assert_int_equal(tls_ep_shut_write(&b), 0);
	assert_int_equal(tls_ep_read(&a, tmp, sizeof(tmp)), 0);
	buf_fini(&bf);
	close(sv[0]);
	close(sv[1]);
}

/* tls_ep_peek (a next proxy's handshake answer): the bytes stay to be
 * read, on TLS and plain endpoints; an empty endpoint is -EAGAIN. */
static void test_peek_leaves_bytes(void **state)
{
	struct pair p;
	struct conn_ep a, b;
	int sv[2];
	uint8_t tmp[64];

	(void)state;
	pair_init(&p, "origin.test", true);
	assert_int_equal(handshake(&p), 1);
	assert_int_equal(tls_ep_peek(&p.c, tmp, sizeof(tmp)), -EAGAIN);
	assert_int_equal(tls_ep_write(&p.s, "HTTP/1.1 200 OK\r\n\r\ntunnel", 25), 25);
	assert_int_equal(tls_ep_peek(&p.c, tmp, sizeof(tmp)), 25);
	assert_memory_equal(tmp, "HTTP/1.1 200 OK\r\n\r\n", 19);
	assert_int_equal(tls_ep_pending(&p.c), 25);
	/* take just the head; the tunnel's first bytes stay */
	assert_int_equal(tls_ep_read(&p.c, tmp, 19), 19);
	assert_int_equal(tls_ep_peek(&p.c, tmp, sizeof(tmp)), 6);
	assert_memory_equal(tmp, "tunnel", 6);
	assert_int_equal(tls_ep_read(&p.c, tmp, sizeof(tmp)), 6);
	assert_int_equal(tls_ep_peek(&p.c, tmp, sizeof(tmp)), -EAGAIN);
	pair_fini(&p);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ep_setup(&a, sv[0]);
	ep_setup(&b, sv[1]);
	assert_int_equal(tls_ep_peek(&a, tmp, sizeof(tmp)), -EAGAIN);
	assert_int_equal(tls_ep_write(&b, "abcdef", 6), 6);
	assert_int_equal(tls_ep_peek(&a, tmp, 4), 4);
	assert_int_equal(tls_ep_read(&a, tmp, sizeof(tmp)), 6);
	assert_memory_equal(tmp, "abcdef", 6);
	assert_int_equal(tls_ep_shut_write(&b), 0);
	assert_int_equal(tls_ep_peek(&a, tmp, sizeof(tmp)), 0);
	close(sv[0]);
	close(sv[1]);
}

static void test_client_verification(void **state)
{
	struct pair p;

	(void)state;
	pair_init(&p, "other.test", true);
	assert_int_equal(handshake(&p), -1);
	assert_non_null(strstr(tls_ctx_verify_string(p.c.ssl), "ostname"));
	pair_fini(&p);
	ERR_clear_error();

	pair_init(&p, "origin.test", false);
	assert_int_equal(handshake(&p), -1);
	assert_string_not_equal(tls_ctx_verify_string(p.c.ssl), "ok");
	pair_fini(&p);
	ERR_clear_error();
}

static void test_server_ctx_errors(void **state)
{
	struct tls_ctx_srv_params sp = {0};
	struct pem a, b;
	char err[TLS_CTX_ERR_MAX] = "";
	SSL_CTX *ctx = NULL;

	(void)state;
	a = make_cert();
	b = make_cert();
	sp.certs[0] = a.cert;
	sp.keys[0] = b.key; /* not a's key */
	sp.n_pairs = 1;
	assert_int_equal(tls_ctx_server_new(&sp, &ctx, err, sizeof(err)), -EINVAL);
	assert_null(ctx);
	assert_non_null(strstr(err, "does not match"));
	sp.n_pairs = 0;
	assert_int_equal(tls_ctx_server_new(&sp, &ctx, err, sizeof(err)), -EINVAL);
	free(a.cert);
	free(a.key);
	free(b.cert);
	free(b.key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_both_ways),
		cmocka_unit_test(test_close_notify_and_bare_fin_end_the_stream),
		cmocka_unit_test(test_garbage_is_a_protocol_error),
		cmocka_unit_test(test_plain_endpoint),
		cmocka_unit_test(test_peek_leaves_bytes),
		cmocka_unit_test(test_client_verification),
		cmocka_unit_test(test_server_ctx_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
