/* TLS on a connection endpoint (struct conn_ep): the data plane's
 * OpenSSL layer.
 *
 * Contexts: one SSL_CTX per (config generation, worker, TLS setting),
 * built on first use from the config model and freed with the generation
 * (tls_ep_gen_fini), never per connection. tls_ep_server_ctx() serves a
 * server's `tls_server` (http_proxy as an HTTPS proxy, plain_tls_port);
 * tls_ep_client_ctx() any `tls_client` map (http_proxy https forward, the
 * proxy_https / proxy_socks5s / proxy_float escapers' own tls_client).
 *
 * Endpoint I/O: tls_ep_read/write and the buf variants work on every
 * endpoint, plain or TLS (ep->ssl NULL = plain recv/send), with the
 * endpoint's readiness bits kept as conn.c expects: a call that cannot
 * progress clears the bit of the direction the socket must become ready
 * in, and when OpenSSL needs the other direction (a read waiting for a
 * write or the reverse) that direction is put in ep->tls_want, which the
 * watcher sync adds to the interest; conn_on_io retries both directions
 * when it fires.
 *
 * Use from an escaper (e.g. proxy_https, TLS to the next proxy), once the
 * TCP connection of c->up is established:
 *     SSL_CTX *ctx = tls_ep_client_ctx(c->gen, &esc->tls_client, &why);
 *     tls_ep_client_begin(c, ctx, &esc->tls_client, tls_name, done_fn);
 * The connection moves to CONN_ST_TLS_CONNECT; when the handshake ends
 * done_fn(c, 0) runs (or done_fn(c, -errno) with the reason on the task
 * and in c->esc.msg), then c->up is a TLS endpoint and everything above
 * (relay, HTTP forward) encrypts transparently. */
#ifndef G3C_PROXYD_DP_TLS_EP_H
#define G3C_PROXYD_DP_TLS_EP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "common/buf.h"
#include "proxyd/config.h"
#include "proxyd/dp/dp.h"

struct conn;
struct conn_ep;

/* The server context for srv->tls_server (borrowed; lives as long as the
 * generation g). NULL when it cannot be built: the reason is logged once
 * per generation. */
SSL_CTX *tls_ep_server_ctx(struct dp_gen *g, const struct server_conf *srv);

/* The client context for tc (a tls_client inside g's config). NULL when it
 * cannot be built; *why (static or generation-owned text) says why. */
SSL_CTX *tls_ep_client_ctx(struct dp_gen *g, const struct tls_client_conf *tc, const char **why);

/* Free the generation's contexts (worker.c, with the generation). */
void tls_ep_gen_fini(struct dp_gen *g);

/* Put c->cl under TLS as a server with tls_srv's tls_server (c->srv or the
 * plain_tls_port in front of it) and move c to CONN_ST_TLS_ACCEPT with the
 * handshake timeout. Returns 0, or -errno when no SSL could be made (the
 * caller closes the connection). */
int tls_ep_server_begin(struct conn *c, const struct server_conf *tls_srv) MUST_CHECK;

/* Called when a client-side handshake on c->up ends: rc 0 = ready,
 * -errno = failed (task reason set, c->esc.msg the text). */
typedef void tls_ep_done_fn(struct conn *c, int rc);

/* Start TLS as a client on the connected c->up towards name (verified
 * unless tc->insecure; sent as SNI unless tc->disable_sni or an IP) and
 * move c to CONN_ST_TLS_CONNECT; done runs when it ends. Returns 0 or
 * -errno (nothing started; the caller reports the failure). */
int tls_ep_client_begin(struct conn *c, SSL_CTX *ctx, const struct tls_client_conf *tc,
			const char *name, tls_ep_done_fn *done) MUST_CHECK;

/* State handlers and timeouts of CONN_ST_TLS_ACCEPT / CONN_ST_TLS_CONNECT
 * (conn.c's table). */
int tls_ep_on_accept(struct conn *c);
void tls_ep_accept_timeout(struct conn *c);
int tls_ep_on_connect(struct conn *c);
void tls_ep_connect_timeout(struct conn *c);

/* ---- endpoint I/O (plain or TLS) ---------------------------------------- */

/* Read up to n bytes. Returns > 0, 0 at end of stream (a close_notify or a
 * TCP end, both accepted), -EAGAIN, or -errno (-EPROTO for a TLS error). */
ssize_t tls_ep_read(struct conn_ep *ep, void *p, size_t n);
/* As tls_ep_read, but the bytes stay to be read again (MSG_PEEK /
 * SSL_peek): a handshake with a next proxy takes only its own bytes. */
ssize_t tls_ep_peek(struct conn_ep *ep, void *p, size_t n);
/* Write up to n bytes (partial writes happen). Returns > 0, -EAGAIN, or
 * -errno (-EPIPE, -EPROTO). */
ssize_t tls_ep_write(struct conn_ep *ep, const void *p, size_t n);
/* One read into b's free room / one write of b's unread bytes (consumed);
 * returns as buf_read_fd / buf_write_fd. */
ssize_t tls_ep_buf_read(struct conn_ep *ep, struct buf *b);
ssize_t tls_ep_buf_write(struct conn_ep *ep, struct buf *b);
/* End our direction: a close_notify first on TLS, then shutdown(SHUT_WR).
 * Returns 0 or -errno. */
int tls_ep_shut_write(struct conn_ep *ep);
/* Free the endpoint's SSL (before its fd is closed). NULL ssl ok. */
void tls_ep_free(struct conn_ep *ep);

/* Bytes OpenSSL holds decrypted and not yet read (0 for plain). */
size_t tls_ep_pending(const struct conn_ep *ep);

#endif
