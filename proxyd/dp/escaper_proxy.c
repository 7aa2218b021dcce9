/* Proxy chaining escapers on the data path: proxy_http, proxy_https,
 * proxy_socks5, proxy_socks5s and proxy_float's peers of those kinds.
 *
 *   start      pick a peer of proxy_addr (proxy_addr_pick_policy; the hash
 *              key is client ip + target host) — or the next hop of the
 *              user name's params (uparams.h) — connect to it with the
 *              escaper's resolver, bind address and tcp_connect
 *   connected  PROXY protocol header (use_proxy_protocol, plain, before
 *              any TLS), then for proxy_https / proxy_socks5s a TLS
 *              handshake with the escaper's tls_client towards tls_name
 *              (default: the peer's host) in CONN_ST_TLS_CONNECT, bounded
 *              by the smaller of handshake_timeout and what is left of
 *              peer_negotiation_timeout; then, over TLS or not,
 *                proxy_http(s), HTTP forward: the request goes in absolute
 *                  form with Proxy-Authorization, no handshake (https://
 *                  targets too when http_forward_capability.forward_https;
 *                  else a CONNECT tunnel and TLS to the origin through it,
 *                  which a TLS peer cannot carry: one TLS layer per socket)
 *                proxy_http(s), tunnels: CONNECT host:port (RFC 9110 §9.3.6)
 *                proxy_socks5(s): RFC 1928 greeting, RFC 1929 auth, CONNECT
 *                  (UDP ASSOCIATE for 0.0.0.0:0 when op->udp: the reply's
 *                  relay address goes to op->udp_relay, an unspecified IP
 *                  replaced by the peer's; an http peer cannot carry UDP)
 *   PEER_NEGO  read the answers strictly without reading past them (bytes
 *              after the handshake belong to the tunnel), bounded by
 *              peer_negotiation_timeout (counted from the end of the TCP
 *              connect, TLS included); any failure is ESCAPE_PEER_FAILED
 *              (HTTP 502 / SOCKS general failure, task reason
 *              UpstreamNotNegotiated, or UpstreamTlsHandshakeFailed /
 *              -Timeout for the TLS part, with a TlsHandshake escape log
 *              record) with the reason in the task message.
 *
 * Requests to the peer are small and go on a just-connected socket (or a
 * just-established TLS session) whose send buffer is empty, so they are
 * sent whole or the peer is broken. https forward through a TLS peer
 * would need TLS inside TLS: refused (EscaperNotUsable). */
#include "proxyd/dp/escaper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/log.h"
#include "common/sock.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/http_forward.h"
#include "proxyd/dp/peer_proto.h"
#include "proxyd/dp/pick.h"
#include "proxyd/dp/tls_ep.h"
#include "proxyd/dp/uparams.h"
#include "proxyd/float_pub.h"

enum nego_step {
	NEGO_HTTP_CONNECT = 0, /* CONNECT response head */
	NEGO_S5_METHOD,	       /* method selection reply */
	NEGO_S5_AUTH,	       /* RFC 1929 reply */
	NEGO_S5_REPLY,	       /* reply to CONNECT */
};

struct peer_nego {
	enum nego_step step;
	size_t len;	/* bytes in buf */
	size_t want;	/* SOCKS: bytes this step reads in all */
	size_t scanned; /* HTTP: where the head-end search stopped */
	size_t cap;
	uint8_t buf[];
};

bool escape_is_proxy(const struct escaper_conf *e)
{
	return e != NULL && (e->type == ESCAPER_PROXY_HTTP || e->type == ESCAPER_PROXY_HTTPS ||
			     e->type == ESCAPER_PROXY_SOCKS5 || e->type == ESCAPER_PROXY_SOCKS5S ||
			     e->type == ESCAPER_PROXY_FLOAT);
}

/* What the handshake uses: the escaper's settings, or a float peer's. */
struct peer_view {
	int kind; /* ESCAPER_PROXY_HTTP ... */
	const char *username, *password;
	uint64_t rsp_max;
	bool tls;	      /* proxy_https / proxy_socks5s (or such a float peer) */
	const char *tls_name; /* verified name and SNI, NULL = the peer's host */
};

static bool kind_is_tls(int kind)
{
	return kind == ESCAPER_PROXY_HTTPS || kind == ESCAPER_PROXY_SOCKS5S;
}

static void view_of_esc(const struct conn *c, const struct escaper_conf *e, struct peer_view *v)
{
	const struct float_peer *fp = c->esc.fpeer;

	if (fp != NULL && e->type == ESCAPER_PROXY_FLOAT) {
		v->kind = fp->kind;
		v->username = fp->username;
		v->password = fp->password;
		v->rsp_max = fp->rsp_max;
		v->tls = kind_is_tls(fp->kind);
		v->tls_name = fp->tls_name;
		return;
	}
	v->kind = e->type;
	v->username = e->proxy.username;
	v->password = e->proxy.password;
	v->rsp_max = e->proxy.connect_rsp_header_max_size;
	v->tls = e->proxy.tls || kind_is_tls(e->type);
	v->tls_name = e->proxy.tls_name;
	/* pass_proxy_userid: the client's user name, password "g3proxy" (g3) */
	if (e->proxy.pass_proxy_userid &&
	    (e->type == ESCAPER_PROXY_HTTP || e->type == ESCAPER_PROXY_HTTPS)) {
		const char *u = conn_uparams_userid(c);
		if (u[0] != '\0') {
			v->username = u;
			v->password = "g3proxy";
		}
	}
}

static void view_of(const struct conn *c, struct peer_view *v)
{
	view_of_esc(c, c->esc.esc, v);
}

/* https forward needs TLS to the origin inside the tunnel: not over a TLS
 * session to the peer (one TLS layer per endpoint). */
static bool tls_in_tls(const struct conn *c, const struct escaper_conf *e, bool tls)
{
	bool by_peer = c->esc.fpeer == NULL && e->proxy.fwd_cap.forward_https;

	return tls && c->proto == CONN_P_HTTP_FORWARD && http_fwd_is_https(c) && !by_peer;
}

#define TLS_IN_TLS_MSG "escaper not usable: https forward over TLS to the next proxy"

static bool is_http(int kind)
{
	return kind == ESCAPER_PROXY_HTTP || kind == ESCAPER_PROXY_HTTPS;
}

void escape_proxy_fini(struct escape_op *op)
{
	escape_proxy_cancel(op);
	float_set_unref(op->fset);
	op->fset = NULL;
	op->fpeer = NULL;
}

bool escape_proxy_poolable(const struct conn *c, bool reused)
{
	const struct escaper_conf *srv = c->srv->escaper;

	/* a float's peer (and its credentials) are picked per connection */
	if (srv != NULL && srv->type == ESCAPER_PROXY_FLOAT)
		return false;
	/* a next hop chosen by the user name's params is this client's only */
	if (conn_uparams_hop_set(c))
		return false;
	/* requests from the pool are prepared for the server's escaper: a
	 * connection through another (a route's pick) proxy escaper stays out */
	return reused || c->esc.esc == srv || !escape_is_proxy(c->esc.esc);
}

/* proxy_float: the usable peer with the egress path's string id when one
 * is selected (none with that id: not usable, as g3), else a random
 * usable peer of the published set. */
static void float_start(struct conn *c, const struct escaper_conf *e)
{
	struct escape_op *op = &c->esc;
	struct float_set *s = float_pub_get(e->name);
	int64_t now = (int64_t)time(NULL);
	uint64_t guard = e->proxy.expire_guard_ms / 1000;
	const char *want = escape_float_path_id(c, e);
	size_t usable = 0, pick;
	union dp_addr ip;

	for (size_t i = 0; s != NULL && i < s->n; i++)
		if (want == NULL || (s->v[i].id != NULL && strcmp(s->v[i].id, want) == 0))
			usable += float_peer_usable(&s->v[i], now, guard);
	if (usable == 0) {
		float_set_unref(s);
		escape_fail(c, ESCAPE_NOT_USABLE,
			    want != NULL
				    ? "escaper not usable: no peer with the selected ID"
				    : "escaper not usable: no peer published (or all expired)");
		return;
	}
	pick = (size_t)(dp_rand(c->wk) % usable);
	for (size_t i = 0; i < s->n; i++) {
		if (want != NULL && (s->v[i].id == NULL || strcmp(s->v[i].id, want) != 0))
			continue;
		if (!float_peer_usable(&s->v[i], now, guard) || pick-- != 0)
			continue;
		op->fset = s;
		op->fpeer = &s->v[i];
		break;
	}
	if (tls_in_tls(c, e, kind_is_tls(op->fpeer->kind))) {
		escape_fail(c, ESCAPE_NOT_USABLE, TLS_IN_TLS_MSG);
		return;
	}
	op->peer = &op->fpeer->peer;
	memset(&ip, 0, sizeof(ip));
	dp_addr_set(&ip, (const struct sockaddr *)&op->peer->addr);
	escape_connect(c, op->peer->host, op->peer->port, true, &ip);
}

void escape_proxy_cancel(struct escape_op *op)
{
	free(op->nego);
	op->nego = NULL;
}

void escape_proxy_start(struct conn *c, const struct escaper_conf *e)
{
	struct escape_op *op = &c->esc;
	const struct proxy_peer *p;
	union dp_addr ip;
	uint64_t key;

	if (e->type == ESCAPER_PROXY_FLOAT) {
		float_start(c, e);
		return;
	}
	if (tls_in_tls(c, e, e->proxy.tls)) {
		escape_fail(c, ESCAPE_NOT_USABLE, TLS_IN_TLS_MSG);
		return;
	}
	if (conn_uparams_hop_set(c)) {
		const struct uparams_hop *h = &conn_uparams_of(c)->hop;
		bool is_ip = uparams_hop_ip(h, &ip);
		op->peer = NULL;
		op->sticky = h->sticky;
		op->sticky_key = h->sticky_key;
		escape_connect(c, h->host, h->port, is_ip, &ip);
		return;
	}
	if (pick_policy_is_hash(pick_set_policy(e->proxy.pick)))
		key = pick_key_client_user_host(&c->client_addr.sa, NULL, c->host);
	else
		key = dp_rand(c->wk);
	p = &e->proxy.peers[pick_select(e->proxy.pick, key)];
	op->peer = p;
	memset(&ip, 0, sizeof(ip));
	if (p->is_ip)
		dp_addr_set(&ip, (const struct sockaddr *)&p->addr);
	escape_connect(c, p->host, p->port, p->is_ip, &ip);
}

/* Send a whole small message to the peer (over TLS once the session is
 * up): 0 or -errno (-EAGAIN when it did not go all at once). */
static int peer_send(struct conn *c, const void *p, size_t n)
{
	ssize_t k = tls_ep_write(&c->up, p, n);

	if (k < 0)
		return (int)k;
	if ((size_t)k != n)
		return -EAGAIN;
	c->task.r_wr += (uint64_t)n;
	return 0;
}

static void nego_fail(struct conn *c, const char *msg)
{
	escape_fail(c, ESCAPE_PEER_FAILED, msg);
}

static const char *status_msg(int st)
{
	switch (st) {
	case 400:
		return "peer refused CONNECT: 400 Bad Request";
	case 403:
		return "peer refused CONNECT: 403 Forbidden";
	case 404:
		return "peer refused CONNECT: 404 Not Found";
	case 405:
		return "peer refused CONNECT: 405 Method Not Allowed";
	case 407:
		return "peer refused CONNECT: 407 Proxy Authentication Required";
	case 429:
		return "peer refused CONNECT: 429 Too Many Requests";
	case 500:
		return "peer refused CONNECT: 500 Internal Server Error";
	case 502:
		return "peer refused CONNECT: 502 Bad Gateway";
	case 503:
		return "peer refused CONNECT: 503 Service Unavailable";
	case 504:
		return "peer refused CONNECT: 504 Gateway Timeout";
	default:
		break;
	}
	if (st < 200)
		return "peer answered CONNECT with an informational (1xx) status";
	if (st < 400)
		return "peer answered CONNECT with a non-2xx status";
	return st < 500 ? "peer refused CONNECT: 4xx" : "peer refused CONNECT: 5xx";
}

/* "Proxy-Authorization: Basic ...\r\n" for the peer, "" without creds */
static int auth_line(const struct peer_view *v, char *out, size_t cap)
{
	out[0] = '\0';
	if (v->username == NULL)
		return 0;
	return peer_basic_line(v->username, v->password, out, cap) < 0 ? -ENOSPC : 0;
}

static int fwd_prepare(struct conn *c, const struct peer_view *v)
{
	char line[PEER_BASIC_LINE_MAX];

	if (!is_http(v->kind))
		return 0;
	if (auth_line(v, line, sizeof(line)) < 0)
		return -ENOSPC;
	return http_fwd_absolute(c, line);
}

int escape_proxy_fwd_prepare(struct conn *c, const struct escaper_conf *e)
{
	struct peer_view v;

	if (!escape_is_proxy(e) || e->type == ESCAPER_PROXY_FLOAT)
		return 0;
	view_of_esc(c, e, &v);
	return fwd_prepare(c, &v);
}

static struct peer_nego *nego_new(struct conn *c, enum nego_step step, size_t cap)
{
	struct peer_nego *n = calloc(1, sizeof(*n) + cap);

	if (n == NULL)
		return NULL;
	n->step = step;
	n->cap = cap;
	c->esc.nego = n;
	return n;
}

/* The loop's time (what the connection timer counts from), in ns. */
static uint64_t loop_now_ns(const struct conn *c)
{
	return (uint64_t)(ev_now(c->wk->loop) * 1e9);
}

/* What is left of peer_negotiation_timeout (counted from the end of the
 * TCP connect, in the loop's time as the timer is), at least 1 ms. */
static uint64_t nego_left_ms(const struct conn *c)
{
	uint64_t total = c->esc.esc->proxy.peer_negotiation_timeout_ms;
	uint64_t spent = 0, now = loop_now_ns(c);

	if (c->esc.nego_start_ns != 0 && now > c->esc.nego_start_ns)
		spent = (now - c->esc.nego_start_ns) / 1000000u;
	return spent + 1 >= total ? 1 : total - spent;
}

static void nego_begin(struct conn *c)
{
	conn_set_state(c, CONN_ST_PEER_NEGO);
	conn_arm_timer(c, nego_left_ms(c), false);
}

/* socks5: the request for the target (RFC 1928 §4) */
static void s5_request(struct conn *c, struct peer_nego *n)
{
	uint8_t req[PEER_SOCKS5_REQ_MAX];
	/* UDP: the address we send from is not known to the peer's side
	 * (NAT, a socket made later): 0.0.0.0:0 as RFC 1928 §6 allows */
	int len = c->esc.udp ? peer_socks5_request_build(0x03, "0.0.0.0", 0, req, sizeof(req))
			     : peer_socks5_request_build(0x01, c->host, c->port, req, sizeof(req));

	if (len < 0 || peer_send(c, req, (size_t)len) < 0) {
		nego_fail(c, "socks5 peer: cannot send the request");
		return;
	}
	n->step = NEGO_S5_REPLY;
	n->len = 0;
	n->want = 5;
}

static void peer_proto_start(struct conn *c);

/* g3's escape log TlsHandshake record (§3.8) for a failed handshake with
 * the peer; msg is the task's reason text. */
static void tls_escape_log(struct conn *c, const struct peer_view *v, const char *msg)
{
	struct logger *lg = c->wk->sh->escape_log;
	const char *host = c->esc.dst_host;
	struct log_rec r;
	char id[33], up[272], peer[272];

	if (!logger_enabled(lg) || host == NULL)
		return;
	task_id_format(c->task.id, id);
	if (c->host_is_ip && c->host_addr.sa.sa_family == AF_INET6)
		snprintf(up, sizeof(up), "[%s]:%u", c->host, c->port);
	else
		snprintf(up, sizeof(up), "%s:%u", c->host, c->port);
	if (strchr(host, ':') != NULL)
		snprintf(peer, sizeof(peer), "[%s]:%u", host, c->esc.dst_port);
	else
		snprintf(peer, sizeof(peer), "%s:%u", host, c->esc.dst_port);
	log_rec_init(&r, lg);
	log_rec_str(&r, "escaper_type",
		    c->esc.fpeer != NULL	     ? "ProxyFloat"
		    : v->kind == ESCAPER_PROXY_HTTPS ? "ProxyHttps"
						     : "ProxySocks5s");
	log_rec_str(&r, "escaper_name", c->esc.esc->name);
	log_rec_str(&r, "escape_type", "TlsHandshake");
	log_rec_str(&r, "task_id", id);
	log_rec_str(&r, "upstream", up);
	if (c->task.has_bound)
		log_rec_addr(&r, "next_bound_addr", &c->task.bound.sa);
	if (c->task.has_peer)
		log_rec_addr(&r, "next_peer_addr", &c->task.peer.sa);
	log_rec_str(&r, "tls_name", v->tls_name != NULL ? v->tls_name : host);
	log_rec_str(&r, "tls_peer", peer);
	log_rec_str(&r, "tls_application", is_http(v->kind) ? "HttpProxy" : "TcpStream");
	log_rec_emit(&r, msg);
}

/* The TLS handshake with the peer ended (tls_ep_client_begin). */
static void peer_tls_done(struct conn *c, int rc)
{
	struct peer_view v;

	if (rc < 0) {
		const char *msg = c->esc.msg != NULL ? c->esc.msg : "upstream TLS handshake failed";
		view_of(c, &v);
		tls_escape_log(c, &v, msg);
		nego_fail(c, msg);
		return;
	}
	peer_proto_start(c);
}

/* TLS to the peer: c moves to CONN_ST_TLS_CONNECT. */
static void peer_tls_start(struct conn *c, const struct peer_view *v)
{
	const struct tls_client_conf *tc = &c->esc.esc->proxy.tls_client;
	const char *why = NULL;
	/* the peer as connected: proxy_addr's, a float's or the user name
	 * params' next hop */
	const char *name = v->tls_name != NULL ? v->tls_name : c->esc.dst_host;
	SSL_CTX *ctx = tls_ep_client_ctx(c->gen, tc, &why);
	uint64_t left;

	if (ctx == NULL) {
		log_warn("escaper %s: tls_client: %s", c->esc.esc->name,
			 why != NULL ? why : "unusable");
		escape_fail(c, ESCAPE_SETUP_FAILED, "tls_client context unavailable");
		return;
	}
	if (tls_ep_client_begin(c, ctx, tc, name, peer_tls_done) < 0) {
		escape_fail(c, ESCAPE_SETUP_FAILED, "cannot start TLS to the peer");
		return;
	}
	/* the handshake counts against peer_negotiation_timeout */
	left = nego_left_ms(c);
	if (left < tc->handshake_timeout_ms)
		conn_arm_timer(c, left, false);
}

void escape_proxy_connected(struct conn *c)
{
	const struct escaper_conf *e = c->esc.esc;
	struct peer_view v;

	view_of(c, &v);
	if (c->esc.udp && is_http(v.kind)) { /* a proxy_float's http peer */
		escape_fail(c, ESCAPE_NOT_USABLE,
			    "escaper not usable: an http proxy cannot relay udp");
		return;
	}
	c->esc.nego_start_ns = loop_now_ns(c);
	if (e->use_proxy_protocol != 0) {
		uint8_t pp[PEER_PP_MAX];
		int len = peer_pp_build(e->use_proxy_protocol, &c->client_addr.sa,
					&c->server_addr.sa, pp, sizeof(pp));
		if (len < 0 || peer_send(c, pp, (size_t)len) < 0) {
			nego_fail(c, "cannot send the PROXY protocol header to the peer");
			return;
		}
	}
	if (v.tls) {
		peer_tls_start(c, &v);
		return;
	}
	peer_proto_start(c);
}

/* The peer's protocol, on the plain socket or the TLS session. */
static void peer_proto_start(struct conn *c)
{
	const struct escaper_conf *e = c->esc.esc;
	struct peer_nego *n;
	struct peer_view v;

	view_of(c, &v);
	if (is_http(v.kind) && c->proto == CONN_P_HTTP_FORWARD &&
	    (!http_fwd_is_https(c) || (c->esc.fpeer == NULL && e->proxy.fwd_cap.forward_https))) {
		c->esc.fwd_by_peer = http_fwd_is_https(c);
		if (fwd_prepare(c, &v) < 0) {
			escape_fail(c, ESCAPE_SETUP_FAILED,
				    "cannot build the request for the next proxy");
			return;
		}
		conn_connect_done(c, ESCAPE_OK);
		return;
	}
	if (is_http(v.kind)) {
		char line[PEER_BASIC_LINE_MAX];
		uint8_t req[PEER_CONNECT_MAX];
		int len;
		bool v6 = c->host_is_ip && c->host_addr.sa.sa_family == AF_INET6;

		if (auth_line(&v, line, sizeof(line)) < 0 ||
		    (len = peer_http_connect_build(c->host, v6, c->port, line, req, sizeof(req))) <
			    0) {
			escape_fail(c, ESCAPE_SETUP_FAILED, "cannot build the CONNECT request");
			return;
		}
		if (peer_send(c, req, (size_t)len) < 0) {
			nego_fail(c, "cannot send CONNECT to the peer");
			return;
		}
		if (nego_new(c, NEGO_HTTP_CONNECT, (size_t)v.rsp_max) == NULL) {
			escape_fail(c, ESCAPE_SETUP_FAILED, "out of memory");
			return;
		}
		nego_begin(c);
		return;
	}
	{
		uint8_t g[4];
		size_t len = peer_socks5_greeting(v.username != NULL, g);
		if (peer_send(c, g, len) < 0) {
			nego_fail(c, "socks5 peer: cannot send the greeting");
			return;
		}
		n = nego_new(c, NEGO_S5_METHOD, 262);
		if (n == NULL) {
			escape_fail(c, ESCAPE_SETUP_FAILED, "out of memory");
			return;
		}
		n->want = 2;
		nego_begin(c);
	}
}

/* Read up to max bytes (MSG_PEEK with peek). > 0 bytes, 0 nothing now (ready
 * cleared), -1 failed (escape failed). */
static ssize_t nego_read(struct conn *c, uint8_t *p, size_t max, bool peek)
{
	ssize_t k = peek ? tls_ep_peek(&c->up, p, max) : tls_ep_read(&c->up, p, max);

	if (k > 0)
		return k;
	if (k == 0) {
		nego_fail(c, "peer closed the connection during negotiation");
		return -1;
	}
	if (k == -EAGAIN) {
		c->up.ready &= ~EV_READ;
		return 0;
	}
	nego_fail(c, "read from the peer failed during negotiation");
	return -1;
}

static void nego_done(struct conn *c)
{
	escape_proxy_cancel(&c->esc);
	conn_connect_done(c, ESCAPE_OK);
}

/* CONNECT response: peek, then take exactly the bytes up to the end of
 * the head (a tunnel's first bytes may follow in the same segment). */
static int http_step(struct conn *c, struct peer_nego *n)
{
	ssize_t k = nego_read(c, n->buf + n->len, n->cap - n->len, true);
	size_t end, take;
	int status;
	const char *why = NULL;

	if (k <= 0)
		return CONN_WAIT;
	end = peer_http_head_end(slice_make(n->buf, n->len + (size_t)k), n->scanned);
	take = end != 0 ? end - n->len : (size_t)k;
	if (tls_ep_read(&c->up, n->buf + n->len, take) != (ssize_t)take) {
		nego_fail(c, "read from the peer failed during negotiation");
		return CONN_WAIT;
	}
	c->task.r_rd += take;
	n->len += take;
	n->scanned = n->len;
	if (end == 0) {
		if (n->len == n->cap)
			nego_fail(c, "peer's CONNECT response head is too large");
		return n->len == n->cap ? CONN_WAIT : CONN_AGAIN;
	}
	if (peer_http_connect_parse(slice_make(n->buf, n->len), &status, &why) != PARSE_OK) {
		log_debug("escaper %s: invalid CONNECT response from the peer: %s",
			  c->esc.esc->name, why);
		nego_fail(c, "peer sent an invalid CONNECT response");
		return CONN_WAIT;
	}
	if (status < 200 || status > 299) {
		nego_fail(c, status_msg(status));
		return CONN_WAIT;
	}
	nego_done(c);
	return CONN_AGAIN;
}

/* transmute_udp_peer_ip's map: the IP to use instead of the relay IP r
 * (port kept); false when r is not a key. The map was checked at load. */
static bool transmute_lookup(const struct conf_node *m, union dp_addr *r)
{
	uint16_t port = sock_addr_port(&r->sa);

	for (const struct conf_node *k = m->child; k != NULL; k = k->next) {
		struct sockaddr_storage a, b;
		socklen_t la, lb;
		if (sock_ip_parse(slice_make(k->str, k->len), port, &a, &la) < 0 ||
		    !sock_addr_equal((const struct sockaddr *)&a, &r->sa))
			continue;
		if (k->value == NULL || k->value->str == NULL ||
		    sock_ip_parse(slice_make(k->value->str, k->value->len), port, &b, &lb) < 0)
			return false;
		dp_addr_set(r, (const struct sockaddr *)&b);
		return true;
	}
	return false;
}

/* The relay address of the peer's UDP ASSOCIATE reply: an unspecified
 * IP (0.0.0.0 / ::) means the peer's own address, as g3 does; with
 * transmute_udp_peer_ip the peer's address always (true or an empty map),
 * or the map's IP for a relay IP that is a key. 0, or -1 with the escape
 * failed. */
static int udp_relay(struct conn *c, const struct sockaddr_storage *bound)
{
	const struct proxy_escaper_conf *pc = &c->esc.esc->proxy;
	union dp_addr *r = &c->esc.udp_relay;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint16_t port;
	bool any;

	if (bound->ss_family != AF_INET && bound->ss_family != AF_INET6) {
		nego_fail(c, "socks5 peer: the udp relay address is a domain name");
		return -1;
	}
	dp_addr_set(r, (const struct sockaddr *)bound);
	port = sock_addr_port(&r->sa);
	if (r->sa.sa_family == AF_INET)
		any = r->in.sin_addr.s_addr == htonl(INADDR_ANY);
	else
		any = IN6_IS_ADDR_UNSPECIFIED(&r->in6.sin6_addr);
	if (port == 0) {
		nego_fail(c, "socks5 peer: the udp relay address has port 0");
		return -1;
	}
	if (!any && pc->transmute_udp_peer_ip) {
		const struct conf_node *m = pc->transmute_udp_peer_ip_map;
		if (m == NULL || m->child == NULL)
			any = true; /* true / {}: the peer's own address */
		else
			(void)transmute_lookup(m, r);
	}
	if (any) {
		if (getpeername(c->up.fd, (struct sockaddr *)&ss, &len) < 0) {
			nego_fail(c, "socks5 peer: cannot get the peer's address");
			return -1;
		}
		dp_addr_set(r, (const struct sockaddr *)&ss);
		sock_addr_set_port(&r->sa, port);
	}
	return 0;
}

static int s5_step(struct conn *c, struct peer_nego *n)
{
	struct peer_view v;
	const char *why = "socks5 peer: invalid reply";
	ssize_t k = nego_read(c, n->buf + n->len, n->want - n->len, false);
	struct slice in;
	uint8_t m, rep = 0;
	size_t need = 0, used = 0;
	struct sockaddr_storage bound;

	if (k <= 0)
		return CONN_WAIT;
	view_of(c, &v);
	c->task.r_rd += (uint64_t)k;
	n->len += (size_t)k;
	if (n->len < n->want)
		return CONN_AGAIN;
	in = slice_make(n->buf, n->len);
	switch (n->step) {
	case NEGO_S5_METHOD:
		if (peer_socks5_method(in, v.username != NULL, &m, &why) != PARSE_OK)
			break;
		if (m == 0x02) {
			uint8_t a[PEER_SOCKS5_AUTH_MAX];
			int len = peer_socks5_auth_build(v.username, v.password, a, sizeof(a));
			if (len < 0 || peer_send(c, a, (size_t)len) < 0) {
				nego_fail(c, "socks5 peer: cannot send the authentication");
				return CONN_WAIT;
			}
			n->step = NEGO_S5_AUTH;
			n->len = 0;
			n->want = 2;
			return CONN_AGAIN;
		}
		s5_request(c, n);
		return CONN_AGAIN;
	case NEGO_S5_AUTH:
		if (peer_socks5_auth_reply(in, &why) != PARSE_OK)
			break;
		s5_request(c, n);
		return CONN_AGAIN;
	case NEGO_S5_REPLY:
		switch (peer_socks5_reply(in, &rep, &need, &used, &bound, &why)) {
		case PARSE_AGAIN:
			n->want = need;
			return CONN_AGAIN;
		case PARSE_OK:
			if (c->esc.udp && udp_relay(c, &bound) < 0)
				return CONN_WAIT;
			nego_done(c);
			return CONN_AGAIN;
		default:
			break;
		}
		break;
	case NEGO_HTTP_CONNECT:
		break;
	}
	nego_fail(c, why);
	return CONN_WAIT;
}

int escape_proxy_on_nego(struct conn *c)
{
	struct peer_nego *n = c->esc.nego;

	if (n == NULL || !(c->up.ready & EV_READ))
		return CONN_WAIT;
	return n->step == NEGO_HTTP_CONNECT ? http_step(c, n) : s5_step(c, n);
}

void escape_proxy_on_nego_timeout(struct conn *c)
{
	nego_fail(c, "peer negotiation timed out");
}
