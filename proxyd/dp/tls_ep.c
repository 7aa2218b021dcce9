/* TLS on connection endpoints: per-generation contexts, handshakes driven
 * by the connection state machine, and endpoint I/O (see tls_ep.h). */
#include "proxyd/dp/tls_ep.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>

#include "common/log.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/tls_ctx.h"

/* One context of a generation, keyed by the config object it came from
 * (a server's tls_server, or a tls_client map). A failed build is kept
 * too, so the reason is logged once and not rebuilt per connection. */
struct tls_ep_ctx {
	const void *key;
	SSL_CTX *ctx; /* owned; NULL when the build failed */
	char why[TLS_CTX_ERR_MAX];
	struct tls_ep_ctx *next;
};

static struct tls_ep_ctx *ctx_find(struct dp_gen *g, const void *key)
{
	for (struct tls_ep_ctx *e = g->tls_ctxs; e != NULL; e = e->next)
		if (e->key == key)
			return e;
	return NULL;
}

static struct tls_ep_ctx *ctx_add(struct dp_gen *g, const void *key)
{
	struct tls_ep_ctx *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->key = key;
	e->next = g->tls_ctxs;
	g->tls_ctxs = e;
	return e;
}

void tls_ep_gen_fini(struct dp_gen *g)
{
	struct tls_ep_ctx *e = g->tls_ctxs;

	while (e != NULL) {
		struct tls_ep_ctx *next = e->next;

		SSL_CTX_free(e->ctx);
		free(e);
		e = next;
	}
	g->tls_ctxs = NULL;
}

SSL_CTX *tls_ep_server_ctx(struct dp_gen *g, const struct server_conf *srv)
{
	const struct tls_server_conf *ts = &srv->tls_server;
	struct tls_ctx_srv_params p = {0};
	struct tls_ep_ctx *e = ctx_find(g, ts);

	if (e != NULL)
		return e->ctx;
	e = ctx_add(g, ts);
	if (e == NULL)
		return NULL;
	p.n_pairs = MIN(ts->n_pairs, (size_t)TLS_CTX_MAX_PAIRS);
	for (size_t i = 0; i < p.n_pairs; i++) {
		p.certs[i] = ts->pairs[i].cert_pem;
		p.keys[i] = ts->pairs[i].key_pem;
	}
	p.client_auth = ts->enable_client_auth;
	p.client_ca = ts->ca_pem;
	p.no_session_ticket = ts->no_session_ticket;
	p.no_session_cache = ts->no_session_cache;
	if (tls_ctx_server_new(&p, &e->ctx, e->why, sizeof(e->why)) < 0) {
		e->ctx = NULL;
		log_err("server %s: tls_server: %s", srv->name, e->why);
	}
	return e->ctx;
}

static int version_of(enum tls_version v)
{
	switch (v) {
	case TLS_VER_1_0:
		return TLS1_VERSION;
	case TLS_VER_1_1:
		return TLS1_1_VERSION;
	case TLS_VER_1_2:
		return TLS1_2_VERSION;
	case TLS_VER_1_3:
		return TLS1_3_VERSION;
	case TLS_VER_UNSET:
	case TLS_VER_TLCP:
	default:
		return 0;
	}
}

SSL_CTX *tls_ep_client_ctx(struct dp_gen *g, const struct tls_client_conf *tc, const char **why)
{
	struct tls_ctx_cli_params p = {0};
	struct tls_ep_ctx *e = ctx_find(g, tc);

	if (e == NULL) {
		e = ctx_add(g, tc);
		if (e == NULL) {
			*why = "out of memory";
			return NULL;
		}
		p.ca = tc->ca_pem;
		p.no_default_ca = tc->no_default_ca_certificate;
		if (tc->has_cert_pair) {
			p.cert = tc->cert_pair.cert_pem;
			p.key = tc->cert_pair.key_pem;
		}
		p.min_version = version_of(tc->min_version);
		p.max_version = version_of(tc->max_version);
		if (tc->protocol != TLS_VER_UNSET)
			p.min_version = p.max_version = version_of(tc->protocol);
		p.ciphers = tc->ciphers;
		if (tls_ctx_client_new(&p, &e->ctx, e->why, sizeof(e->why)) < 0) {
			e->ctx = NULL;
			log_err("tls_client: %s", e->why);
		}
	}
	*why = e->ctx ? NULL : e->why;
	return e->ctx;
}

static SSL *ssl_make(SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL) {
		ERR_clear_error();
		return NULL;
	}
	if (SSL_set_fd(ssl, fd) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	/* a peer that ends with a bare TCP FIN (no close_notify) ends the
	 * stream like any TCP peer would; it is not a protocol error here */
	SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
	return ssl;
}

int tls_ep_server_begin(struct conn *c, const struct server_conf *tls_srv)
{
	SSL_CTX *ctx = tls_ep_server_ctx(c->gen, tls_srv);
	SSL *ssl;

	if (ctx == NULL)
		return -EINVAL;
	ssl = ssl_make(ctx, c->cl.fd);
	if (ssl == NULL)
		return -ENOMEM;
	SSL_set_accept_state(ssl);
	c->cl.ssl = ssl;
	c->cl.tls_want = EV_READ; /* the ClientHello */
	c->state = CONN_ST_TLS_ACCEPT;
	conn_arm_timer(c, tls_srv->tls_server.handshake_timeout_ms, false);
	return 0;
}

int tls_ep_client_begin(struct conn *c, SSL_CTX *ctx, const struct tls_client_conf *tc,
			const char *name, tls_ep_done_fn *done)
{
	SSL *ssl = ssl_make(ctx, c->up.fd);
	int rc;

	if (ssl == NULL)
		return -ENOMEM;
	SSL_set_connect_state(ssl);
	rc = tls_ctx_set_peer_name(ssl, name, !tc->disable_sni);
	if (rc < 0) {
		SSL_free(ssl);
		return rc;
	}
	if (tc->insecure)
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	c->up.ssl = ssl;
	c->up.tls_want = EV_WRITE; /* the ClientHello goes first */
	c->tls_done = done;
	conn_set_state(c, CONN_ST_TLS_CONNECT);
	conn_arm_timer(c, tc->handshake_timeout_ms, false);
	return 0;
}

/* One handshake step on ep. Returns 1 when done, 0 to wait (ep->tls_want
 * says for what), -1 on failure with the reason in why. */
static int hs_step(struct conn_ep *ep, char *why, size_t cap)
{
	int r, e;

	ERR_clear_error();
	r = SSL_do_handshake(ep->ssl);
	if (r == 1) {
		ep->tls_want = 0;
		ep->ready |= EV_READ | EV_WRITE;
		return 1;
	}
	e = SSL_get_error(ep->ssl, r);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		ep->tls_want = EV_READ;
		ep->ready &= ~EV_READ;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		ep->tls_want = EV_WRITE;
		ep->ready &= ~EV_WRITE;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(why, cap, "peer closed the connection during the handshake");
		break;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() != 0)
			(void)tls_ctx_err_string(why, cap);
		else if (errno != 0)
			snprintf(why, cap, "%s", strerror(errno));
		else
			snprintf(why, cap, "peer closed the connection during the handshake");
		break;
	default:
		if (SSL_get_verify_result(ep->ssl) != X509_V_OK)
			snprintf(why, cap, "certificate verify failed: %s",
				 tls_ctx_verify_string(ep->ssl));
		else
			(void)tls_ctx_err_string(why, cap);
		break;
	}
	ERR_clear_error();
	ep->tls_want = 0;
	return -1;
}

/* TLS_ACCEPT: the client's handshake (RFC 8446 §4), then the server's
 * protocol on the decrypted stream. */
int tls_ep_on_accept(struct conn *c)
{
	char why[TLS_CTX_ERR_MAX];
	int rc = hs_step(&c->cl, why, sizeof(why));

	if (rc == 0)
		return CONN_WAIT;
	if (rc < 0) {
		conn_reject_log(c, "TLS handshake failed with", why);
		conn_close(c);
		return CONN_WAIT;
	}
	conn_start_server(c);
	return CONN_AGAIN;
}

void tls_ep_accept_timeout(struct conn *c)
{
	conn_reject_log(c, "TLS handshake failed with", "handshake timed out");
	conn_close(c);
}

/* TLS_CONNECT: our handshake with the upstream, then the continuation. */
int tls_ep_on_connect(struct conn *c)
{
	char why[TLS_CTX_ERR_MAX];
	int rc = hs_step(&c->up, why, sizeof(why));
	tls_ep_done_fn *done = c->tls_done;

	if (rc == 0)
		return CONN_WAIT;
	c->tls_done = NULL;
	if (rc < 0) {
		/* the task log keeps a static message; the detail goes to the
		 * process log */
		log_info("server %s: TLS handshake with %s:%u failed: %s", c->srv->name, c->host,
			 c->port, why);
		c->esc.msg = strstr(why, "certificate verify failed") != NULL
				     ? "upstream certificate verify failed"
				     : "upstream TLS handshake failed";
		task_set_reason(&c->task, TASK_R_UPSTREAM_TLS_HANDSHAKE_FAILED, c->esc.msg);
		done(c, -EPROTO);
		return CONN_AGAIN;
	}
	done(c, 0);
	return CONN_AGAIN;
}

void tls_ep_connect_timeout(struct conn *c)
{
	tls_ep_done_fn *done = c->tls_done;

	c->tls_done = NULL;
	c->esc.msg = "upstream TLS handshake timed out";
	task_set_reason(&c->task, TASK_R_UPSTREAM_TLS_HANDSHAKE_TIMEOUT, c->esc.msg);
	if (done != NULL)
		done(c, -ETIMEDOUT);
	else
		conn_close(c);
}

/* ---- endpoint I/O --------------------------------------------------------- */

/* The outcome of a failed SSL_read / SSL_write. */
static ssize_t io_error(struct conn_ep *ep, int r, int other_dir)
{
	int e = SSL_get_error(ep->ssl, r);
	char why[TLS_CTX_ERR_MAX];

	switch (e) {
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_WANT_READ:
		if (other_dir == EV_READ)
			ep->tls_want |= EV_READ;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		if (other_dir == EV_WRITE)
			ep->tls_want |= EV_WRITE;
		return -EAGAIN;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			ERR_clear_error();
			return errno != 0 ? -errno : -ECONNRESET;
		}
		/* fall through */
	default:
		if (log_threshold >= LOG_LVL_DEBUG)
			log_debug("TLS I/O error: %s", tls_ctx_err_string(why, sizeof(why)));
		ERR_clear_error();
		return -EPROTO;
	}
}

ssize_t tls_ep_read(struct conn_ep *ep, void *p, size_t n)
{
	int r;

	if (ep->ssl == NULL) {
		ssize_t k;

		do
			k = recv(ep->fd, p, n, 0);
		while (k < 0 && errno == EINTR);
		if (k >= 0)
			return k;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	if (n == 0)
		return -ENOBUFS;
	ERR_clear_error();
	r = SSL_read(ep->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	return io_error(ep, r, EV_WRITE);
}

ssize_t tls_ep_peek(struct conn_ep *ep, void *p, size_t n)
{
	int r;

	if (ep->ssl == NULL) {
		ssize_t k;

		do
			k = recv(ep->fd, p, n, MSG_PEEK);
		while (k < 0 && errno == EINTR);
		if (k >= 0)
			return k;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	if (n == 0)
		return -ENOBUFS;
	ERR_clear_error();
	r = SSL_peek(ep->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	return io_error(ep, r, EV_WRITE);
}

ssize_t tls_ep_write(struct conn_ep *ep, const void *p, size_t n)
{
	int r;

	if (ep->ssl == NULL) {
		ssize_t k;

		do
			k = send(ep->fd, p, n, MSG_NOSIGNAL);
		while (k < 0 && errno == EINTR);
		if (k >= 0)
			return k;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
	if (n == 0)
		return 0;
	ERR_clear_error();
	r = SSL_write(ep->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
	if (r > 0)
		return r;
	r = (int)io_error(ep, r, EV_READ);
	return r == 0 ? -EPIPE : r;
}

ssize_t tls_ep_buf_read(struct conn_ep *ep, struct buf *b)
{
	uint8_t *p;
	size_t room;
	ssize_t n;
	int rc;

	if (ep->ssl == NULL)
		return buf_read_fd(b, ep->fd);
	rc = buf_reserve(b, &p, &room);
	if (rc < 0)
		return rc;
	n = tls_ep_read(ep, p, room);
	if (n > 0)
		buf_commit(b, (size_t)n);
	return n;
}

ssize_t tls_ep_buf_write(struct conn_ep *ep, struct buf *b)
{
	struct slice s = buf_peek(b);
	ssize_t n;

	if (ep->ssl == NULL)
		return buf_write_fd(b, ep->fd);
	if (s.len == 0)
		return 0;
	n = tls_ep_write(ep, s.p, s.len);
	if (n > 0)
		buf_consume(b, (size_t)n);
	return n;
}

int tls_ep_shut_write(struct conn_ep *ep)
{
	if (ep->ssl != NULL && !(SSL_get_shutdown(ep->ssl) & SSL_SENT_SHUTDOWN)) {
		/* best effort: a close_notify that does not fit the socket now
		 * is dropped, the TCP end still follows */
		ERR_clear_error();
		(void)SSL_shutdown(ep->ssl);
		ERR_clear_error();
	}
	return shutdown(ep->fd, SHUT_WR) < 0 ? -errno : 0;
}

void tls_ep_free(struct conn_ep *ep)
{
	if (ep->ssl == NULL)
		return;
	SSL_free(ep->ssl);
	ep->ssl = NULL;
	ep->tls_want = 0;
}

size_t tls_ep_pending(const struct conn_ep *ep)
{
	if (ep->ssl == NULL)
		return 0;
	return (size_t)SSL_pending(ep->ssl);
}
