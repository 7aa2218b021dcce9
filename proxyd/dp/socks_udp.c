/* SOCKS5 UDP ASSOCIATE (RFC 1928 §7) in g3's two modes: "udp connect"
 * (default: the first datagram's target becomes the only peer, reached
 * through one connected socket) and full UDP ASSOCIATE (use_udp_associate:
 * every datagram names its target; one unconnected socket per family).
 * The client's datagrams come to a UDP socket bound on the IP the TCP
 * connection reached (or udp_bind_ipv4/6); the association lives as long
 * as the TCP connection. Fragments (FRAG != 0) are dropped, as in g3. */
#include "proxyd/dp/socks_udp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sock.h"
#include "proxyd/dp/acl.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/socks_parse.h"

#define UDP_BATCH 32	    /* datagrams per readiness event */
#define UDP_MAX_DGRAM 65536 /* read buffer (on the stack) */
#define PORT_RANGE_TRIES 16 /* random ports tried in udp_bind_port_range */

struct udp_assoc {
	struct conn *c;
	bool full;
	int cfd;    /* client side, bound on the server IP */
	int rfd[2]; /* remote side: [0] IPv4, [1] IPv6 (connect mode: [0] only) */
	ev_io cio, rio[2];
	union dp_addr listen, client, expect, peer;
	bool have_client, have_peer;
	char peer_txt[272]; /* initial_peer / upstream */
	/* a datagram waiting for its target's name to resolve */
	struct dp_resolve_req rq4;
	uint8_t *pend;
	size_t pend_len;
	uint16_t pend_port;
	struct task_udp tu;
	uint64_t idle_mark;
	unsigned idle_count;
};

static int fam_idx(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

static void udp_on_client(struct ev_loop *loop, ev_io *w, int revents);
static void udp_on_remote(struct ev_loop *loop, ev_io *w, int revents);

/* ---- setup ------------------------------------------------------------------- */

static int bind_client_socket(struct conn *c, struct udp_assoc *u)
{
	const struct socks_proxy_conf *sc = &c->srv->u.socks;
	int family = c->server_addr.sa.sa_family;
	const struct ip_list *l = family == AF_INET ? &sc->udp_bind_ipv4 : &sc->udp_bind_ipv6;
	union dp_addr a = c->server_addr;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, rc = -EADDRINUSE;

	if (l->n > 0) {
		const struct conf_net *n = &l->v[dp_rand(c->wk) % l->n];
		memset(&a, 0, sizeof(a));
		a.sa.sa_family = (sa_family_t)family;
		if (family == AF_INET)
			memcpy(&a.in.sin_addr, n->addr, 4);
		else
			memcpy(&a.in6.sin6_addr, n->addr, 16);
	}
	fd = sock_socket(family, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	for (int i = 0; i < (sc->has_udp_bind_port_range ? PORT_RANGE_TRIES : 1); i++) {
		uint16_t port = 0;
		if (sc->has_udp_bind_port_range) {
			uint32_t span = (uint32_t)sc->udp_bind_port_range.end -
					sc->udp_bind_port_range.start + 1u;
			port = (uint16_t)(sc->udp_bind_port_range.start + dp_rand(c->wk) % span);
		}
		sock_addr_set_port(&a.sa, port);
		rc = sock_bind(fd, &a.sa, sock_addr_len(&a.sa));
		if (rc == 0)
			break;
	}
	if (rc < 0 || sock_local_addr(fd, &ss, &len) < 0) {
		close(fd);
		return rc < 0 ? rc : -EIO;
	}
	dp_addr_set(&u->listen, (struct sockaddr *)&ss);
	return fd;
}

void socks_udp_start(struct conn *c, const struct socks_request *rq)
{
	const struct escaper_conf *e = c->srv->escaper;
	struct udp_assoc *u;
	uint8_t rep[22];
	size_t n;
	int fd;

	conn_task_create(c);
	if (rq->atyp == SOCKS_ATYP_DOMAIN && !(rq->host.len == 1 && rq->host.p[0] == '0')) {
		/* pysocks sends "0" for "any"; other names cannot be a client address */
		task_set_reason(&c->task, TASK_R_INVALID_CLIENT_PROTOCOL,
				"invalid client udp address");
		socks_reply_code(c, SOCKS5_REP_ATYP_UNSUPPORTED);
		return;
	}
	if (e == NULL || e->type != ESCAPER_DIRECT_FIXED) {
		task_set_reason(&c->task, TASK_R_FORBIDDEN_BY_RULE,
				"forbidden by rule: the escaper denies every request");
		socks_reply_code(c, SOCKS5_REP_NOT_ALLOWED);
		return;
	}
	u = calloc(1, sizeof(*u));
	if (u == NULL) {
		task_set_reason(&c->task, TASK_R_INTERNAL_SERVER_ERROR, "out of memory");
		socks_reply_code(c, SOCKS5_REP_GENERAL_FAILURE);
		return;
	}
	u->c = c;
	u->full = c->srv->u.socks.use_udp_associate;
	u->cfd = u->rfd[0] = u->rfd[1] = -1;
	u->tu.full = u->full;
	c->udp = u;
	c->task.udp = &u->tu;
	if (rq->atyp == SOCKS_ATYP_IPV4) {
		u->expect.in.sin_family = AF_INET;
		memcpy(&u->expect.in.sin_addr, rq->ip, 4);
		u->expect.in.sin_port = htons(rq->port);
	} else if (rq->atyp == SOCKS_ATYP_IPV6) {
		u->expect.in6.sin6_family = AF_INET6;
		memcpy(&u->expect.in6.sin6_addr, rq->ip, 16);
		u->expect.in6.sin6_port = htons(rq->port);
	}
	fd = bind_client_socket(c, u);
	if (fd < 0) {
		task_set_reason(&c->task, TASK_R_INTERNAL_SERVER_ERROR,
				"cannot bind the udp socket for the client");
		socks_reply_code(c, SOCKS5_REP_GENERAL_FAILURE);
		return;
	}
	u->cfd = fd;
	u->tu.listen = &u->listen.sa;
	ev_io_init(&u->cio, udp_on_client, fd, EV_READ);
	u->cio.data = c;
	ev_io_start(c->wk->loop, &u->cio);
	n = socks5_build_reply(SOCKS5_REP_SUCCEEDED, &u->listen.sa, rep);
	if (conn_send(c, rep, n) < 0) {
		conn_fail(c, TASK_R_CLIENT_TCP_WRITE_FAILED, "write to client failed");
		return;
	}
	c->task.stage = TASK_STAGE_RELAYING;
	c->task.ready_ns = util_mono_ns();
	conn_set_state(c, CONN_ST_UDP);
	conn_arm_timer(c, c->srv->u.socks.udp_client_initial_timeout_ms, false);
}

/* ---- datagrams ------------------------------------------------------------------ */

static bool same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
	union dp_addr x, y;

	dp_addr_set(&x, a);
	dp_addr_set(&y, b);
	sock_addr_set_port(&x.sa, 0);
	sock_addr_set_port(&y.sa, 0);
	return sock_addr_equal(&x.sa, &y.sa);
}

/* The socket towards the target's family (made on first use). */
static int remote_socket(struct conn *c, struct udp_assoc *u, const struct sockaddr *to)
{
	const struct ip_list *l = &c->srv->escaper->bind_ips;
	int i = u->full ? fam_idx(to->sa_family) : 0, fd;

	if (u->rfd[i] >= 0)
		return u->rfd[i];
	fd = sock_socket(to->sa_family, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	for (size_t k = 0, cand = 0; k < l->n; k++) {
		if (l->v[k].family != to->sa_family || cand++ > 0)
			continue;
		union dp_addr b;
		memset(&b, 0, sizeof(b));
		b.sa.sa_family = to->sa_family;
		if (to->sa_family == AF_INET)
			memcpy(&b.in.sin_addr, l->v[k].addr, 4);
		else
			memcpy(&b.in6.sin6_addr, l->v[k].addr, 16);
		if (sock_bind(fd, &b.sa, sock_addr_len(&b.sa)) < 0) {
			close(fd);
			return -EADDRNOTAVAIL;
		}
	}
	if (!u->full) {
		int rc = sock_connect(fd, to, sock_addr_len(to));
		struct sockaddr_storage ss;
		socklen_t len;
		if (rc < 0 && rc != -EINPROGRESS) {
			close(fd);
			return rc;
		}
		if (sock_local_addr(fd, &ss, &len) == 0) {
			dp_addr_set(&c->task.bound, (struct sockaddr *)&ss);
			c->task.has_bound = true;
		}
		dp_addr_set(&c->task.peer, to);
		c->task.has_peer = true;
	}
	u->rfd[i] = fd;
	ev_io_init(&u->rio[i], udp_on_remote, fd, EV_READ);
	u->rio[i].data = c;
	ev_io_start(c->wk->loop, &u->rio[i]);
	return fd;
}

/* Send one payload to an IP target (port set), if the rules allow it. */
static void send_to(struct conn *c, struct udp_assoc *u, const union dp_addr *to, const uint8_t *p,
		    size_t n)
{
	const struct escaper_conf *e = c->srv->escaper;
	ssize_t k;
	int fd;

	if ((to->sa.sa_family == AF_INET && e->no_ipv4) ||
	    (to->sa.sa_family == AF_INET6 && e->no_ipv6) ||
	    acl_forbids(acl_net_check(&e->egress_net_filter, &to->sa)))
		return; /* g3: ForbiddenTargetIpAddress, the datagram is dropped */
	if (!u->full) {
		if (u->have_peer && !sock_addr_equal(&u->peer.sa, &to->sa))
			return; /* udp connect: one peer per association */
		u->peer = *to;
		u->have_peer = true;
	}
	fd = remote_socket(c, u, &to->sa);
	if (fd < 0)
		return;
	do
		k = u->full ? sendto(fd, p, n, 0, &to->sa, sock_addr_len(&to->sa))
			    : send(fd, p, n, 0);
	while (k < 0 && errno == EINTR);
	if (k >= 0) {
		u->tu.r_wr_bytes += (uint64_t)k;
		u->tu.r_wr_packets++;
	}
}

static void note_peer(struct udp_assoc *u, const char *host, uint16_t port, bool v6)
{
	if (u->tu.peer != NULL)
		return;
	snprintf(u->peer_txt, sizeof(u->peer_txt), v6 ? "[%s]:%u" : "%s:%u", host, port);
	u->tu.peer = u->peer_txt;
}

static void on_resolved(struct dp_resolve_req *rq, const struct dp_resolve_result *res);

/* A datagram for a name: the answer from the cache, or hold this one
 * datagram (reading pauses) until the resolver answers. */
static void send_to_name(struct conn *c, struct udp_assoc *u, const char *host, uint16_t port,
			 const uint8_t *p, size_t n)
{
	struct dp_resolver *r = dp_resolver_get(c->gen, c->srv->escaper->resolver);
	struct dp_resolve_result res;
	union dp_addr to;

	if (dp_resolve_start(r, host, AF_INET, &u->rq4, on_resolved, &res) == 1) {
		if (res.status == 0 && res.n > 0) {
			to = res.addrs[0];
			sock_addr_set_port(&to.sa, port);
			send_to(c, u, &to, p, n);
		}
		return;
	}
	u->pend = malloc(n ? n : 1);
	if (u->pend == NULL) {
		dp_resolve_cancel(&u->rq4);
		return;
	}
	memcpy(u->pend, p, n);
	u->pend_len = n;
	u->pend_port = port;
	ev_io_stop(c->wk->loop, &u->cio);
}

static void on_resolved(struct dp_resolve_req *rq, const struct dp_resolve_result *res)
{
	struct udp_assoc *u = container_of(rq, struct udp_assoc, rq4);
	struct conn *c = u->c;
	union dp_addr to;

	CHECK_OBJ(c, CONN_MAGIC);
	conn_hold(c);
	if (res->status == 0 && res->n > 0) {
		to = res->addrs[0];
		sock_addr_set_port(&to.sa, u->pend_port);
		send_to(c, u, &to, u->pend, u->pend_len);
	}
	free(u->pend);
	u->pend = NULL;
	if (!c->closing)
		ev_io_start(c->wk->loop, &u->cio);
	conn_release(c);
}

static void client_datagram(struct conn *c, struct udp_assoc *u, const union dp_addr *from,
			    const uint8_t *p, size_t n)
{
	struct socks5_udp h;
	const char *why;
	char host[256];
	union dp_addr to;

	/* only the TCP client's host may use the association (and the port it
	 * announced, when it did) */
	if (!same_ip(&from->sa, &c->client_addr.sa))
		return;
	if (sock_addr_port(&u->expect.sa) != 0 &&
	    sock_addr_port(&u->expect.sa) != sock_addr_port(&from->sa))
		return;
	if (u->have_client && !sock_addr_equal(&u->client.sa, &from->sa))
		return;
	if (socks5_parse_udp(slice_make(p, n), &h, &why) != PARSE_OK || h.frag != 0)
		return;
	if (!u->have_client) {
		u->client = *from;
		u->have_client = true;
		u->tu.client = &u->client.sa;
		conn_arm_timer(c, c->srv->task_idle_check_interval_ms, true);
	}
	u->tu.c_rd_bytes += h.payload.len;
	u->tu.c_rd_packets++;
	memset(&to, 0, sizeof(to));
	if (h.atyp == SOCKS_ATYP_IPV4) {
		to.in.sin_family = AF_INET;
		memcpy(&to.in.sin_addr, h.ip, 4);
		to.in.sin_port = htons(h.port);
	} else if (h.atyp == SOCKS_ATYP_IPV6) {
		to.in6.sin6_family = AF_INET6;
		memcpy(&to.in6.sin6_addr, h.ip, 16);
		to.in6.sin6_port = htons(h.port);
	} else {
		if (slice_to_cstr(h.host, host, sizeof(host)) < 0 ||
		    c->srv->escaper->resolver == NULL)
			return;
		note_peer(u, host, h.port, false);
		send_to_name(c, u, host, h.port, h.payload.p, h.payload.len);
		return;
	}
	if (sock_ip_format(&to.sa, host, sizeof(host)) >= 0)
		note_peer(u, host, h.port, to.sa.sa_family == AF_INET6);
	send_to(c, u, &to, h.payload.p, h.payload.len);
}

static void udp_on_client(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	struct udp_assoc *u;
	uint8_t d[UDP_MAX_DGRAM];

	(void)loop;
	(void)revents;
	CHECK_OBJ(c, CONN_MAGIC);
	conn_hold(c);
	u = c->udp;
	for (int i = 0; i < UDP_BATCH && !c->closing && u->pend == NULL; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		union dp_addr from;
		ssize_t n = recvfrom(u->cfd, d, sizeof(d), 0, (struct sockaddr *)&ss, &len);
		if (n < 0)
			break;
		dp_addr_set(&from, (struct sockaddr *)&ss);
		client_datagram(c, u, &from, d, (size_t)n);
	}
	conn_release(c);
}

static void udp_on_remote(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	struct udp_assoc *u;
	uint8_t d[22 + UDP_MAX_DGRAM];

	(void)loop;
	(void)revents;
	CHECK_OBJ(c, CONN_MAGIC);
	conn_hold(c);
	u = c->udp;
	for (int i = 0; i < UDP_BATCH && !c->closing; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		ssize_t n = recvfrom(w->fd, d + 22, UDP_MAX_DGRAM, 0, (struct sockaddr *)&ss, &len);
		size_t h;
		ssize_t k;
		if (n < 0)
			break;
		u->tu.r_rd_bytes += (uint64_t)n;
		u->tu.r_rd_packets++;
		if (!u->have_client)
			continue;
		/* prefix the SOCKS header naming the sender, just before the payload */
		{
			uint8_t hdr[22];
			h = socks5_build_udp_header((struct sockaddr *)&ss, hdr);
			memcpy(d + 22 - h, hdr, h);
		}
		do
			k = sendto(u->cfd, d + 22 - h, h + (size_t)n, 0, &u->client.sa,
				   sock_addr_len(&u->client.sa));
		while (k < 0 && errno == EINTR);
		if (k >= 0) {
			u->tu.c_wr_bytes += (uint64_t)n;
			u->tu.c_wr_packets++;
		}
	}
	conn_release(c);
}

/* ---- the TCP connection and teardown ---------------------------------------------------- */

int socks_udp_run(struct conn *c)
{
	/* the control connection: anything read is ignored, its end ends us */
	for (;;) {
		ssize_t n;
		if (!(c->cl.ready & EV_READ))
			return CONN_WAIT;
		buf_reset(&c->in);
		n = conn_read_client(c);
		if (n == -EAGAIN)
			return CONN_WAIT;
		if (n == 0) {
			conn_fail(c, TASK_R_CLOSED_BY_CLIENT, "closed by client");
			return CONN_WAIT;
		}
		if (n < 0) {
			conn_fail(c, TASK_R_CLIENT_TCP_READ_FAILED, "read from client failed");
			return CONN_WAIT;
		}
	}
}

void socks_udp_timeout(struct conn *c)
{
	struct udp_assoc *u = c->udp;
	uint64_t moved;

	if (!u->have_client) {
		conn_fail(c, TASK_R_CLIENT_APP_TIMEOUT, "no udp packet from the client in time");
		return;
	}
	moved = u->tu.c_rd_packets + u->tu.r_rd_packets;
	if (moved != u->idle_mark) {
		u->idle_mark = moved;
		u->idle_count = 0;
		return;
	}
	if (++u->idle_count >= c->srv->task_idle_max_count)
		conn_fail(c, TASK_R_IDLE, "idle");
}

void socks_udp_free(struct conn *c)
{
	struct udp_assoc *u = c->udp;

	if (u == NULL)
		return;
	dp_resolve_cancel(&u->rq4);
	free(u->pend);
	ev_io_stop(c->wk->loop, &u->cio);
	if (u->cfd >= 0)
		close(u->cfd);
	for (int i = 0; i < 2; i++) {
		ev_io_stop(c->wk->loop, &u->rio[i]);
		if (u->rfd[i] >= 0)
			close(u->rfd[i]);
	}
	free(u);
	c->udp = NULL;
}
