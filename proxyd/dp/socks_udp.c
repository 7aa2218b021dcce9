/* SOCKS5 UDP ASSOCIATE (RFC 1928 §7) in g3's two modes: "udp connect"
 * (default: the first datagram's target becomes the only peer, reached
 * through one connected socket) and full UDP ASSOCIATE (use_udp_associate:
 * every datagram names its target; one unconnected socket per family).
 * The client's datagrams come to a UDP socket bound on the IP the TCP
 * connection reached (or udp_bind_ipv4/6); the association lives as long
 * as the TCP connection. Fragments (FRAG != 0) are dropped, as in g3.
 *
 * The escaper (escape_start_udp): a route escaper decides per association
 * on the first datagram's target (g3's initial_peer / upstream), which is
 * held until then; any other escaper is set up before the reply, so a
 * refusal is a SOCKS failure reply. direct_fixed sends from here; through
 * proxy_socks5 the peer's control connection is kept (its end ends the
 * association) and each client datagram goes to the peer's relay address
 * whole, SOCKS header included; the relay's datagrams come back whole. */
#include "proxyd/dp/socks_udp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sock.h"
#include "proxyd/dp/acl.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/conn_user.h"
#include "proxyd/dp/socks_parse.h"
#include "proxyd/dp/udp_limit.h"

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
	/* the escaper that carries the datagrams (NULL: a route decides on
	 * the first datagram, held in first while it does) */
	const struct escaper_conf *esc;
	bool replied;  /* the success reply went out */
	bool deciding; /* escape_start_udp() runs for the first datagram */
	uint8_t *first;
	size_t first_len;
	union dp_addr first_from;
	/* through a SOCKS5 peer: its relay, the control connection (owned),
	 * and in udp connect mode the address bytes of the one target */
	bool via_peer;
	union dp_addr relay;
	int ctl_fd;
	ev_io ctl_io;
	uint8_t tgt[262];
	size_t tgt_len;
	struct udp_limit lim; /* udp_sock_speed_limit, user udp_all_* */
};

static int fam_idx(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

static void udp_on_client(struct ev_loop *loop, ev_io *w, int revents);
static void udp_on_remote(struct ev_loop *loop, ev_io *w, int revents);
static void udp_on_peer(struct ev_loop *loop, ev_io *w, int revents);
static void udp_on_ctl(struct ev_loop *loop, ev_io *w, int revents);
static void client_datagram(struct conn *c, struct udp_assoc *u, const union dp_addr *from,
			    const uint8_t *p, size_t n);

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

static bool is_route(const struct escaper_conf *e);
static void reply_ok(struct conn *c, struct udp_assoc *u);

void socks_udp_start(struct conn *c, const struct socks_request *rq)
{
	const struct escaper_conf *e = c->srv->escaper;
	struct udp_assoc *u;
	int fd;

	conn_task_create(c);
	if (rq->atyp == SOCKS_ATYP_DOMAIN && !(rq->host.len == 1 && rq->host.p[0] == '0')) {
		/* pysocks sends "0" for "any"; other names cannot be a client address */
		task_set_reason(&c->task, TASK_R_INVALID_CLIENT_PROTOCOL,
				"invalid client udp address");
		socks_reply_code(c, SOCKS5_REP_ATYP_UNSUPPORTED);
		return;
	}
	if (e == NULL || e->type == ESCAPER_DUMMY_DENY) {
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
	u->cfd = u->rfd[0] = u->rfd[1] = u->ctl_fd = -1;
	u->tu.full = u->full;
	udp_limit_init(&u->lim, &c->srv->udp_sock_speed_limit, c->user ? c->user->uc : NULL,
		       c->user ? c->user->st : NULL);
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
	if (is_route(e)) {
		reply_ok(c, u);
		return;
	}
	escape_start_udp(c); /* socks_udp_escaped() replies */
}

static bool is_route(const struct escaper_conf *e)
{
	switch (e->type) {
	case ESCAPER_ROUTE_GEOIP:
	case ESCAPER_ROUTE_UPSTREAM:
	case ESCAPER_ROUTE_CLIENT:
	case ESCAPER_ROUTE_RESOLVED:
	case ESCAPER_ROUTE_MAPPING:
	case ESCAPER_ROUTE_FAILOVER:
	case ESCAPER_ROUTE_SELECT:
	case ESCAPER_ROUTE_QUERY:
		return true;
	default:
		return false;
	}
}

/* The success reply with the client-side UDP address; the association
 * starts (the first datagram within udp_client_initial_timeout). */
static void reply_ok(struct conn *c, struct udp_assoc *u)
{
	uint8_t rep[22];
	size_t n;

	u->replied = true;
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
	const struct ip_list *l = &u->esc->bind_ips;
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
	const struct escaper_conf *e = u->esc;
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
	struct dp_resolver *r = dp_resolver_get(c->gen, u->esc->resolver);
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

/* The target of a datagram header: 0 for an IP (in *to, and as text in
 * host), 1 for a name (in host), -1 when it does not fit. */
static int udp_target(const struct socks5_udp *h, union dp_addr *to, char *host, size_t cap)
{
	memset(to, 0, sizeof(*to));
	if (h->atyp == SOCKS_ATYP_DOMAIN)
		return slice_to_cstr(h->host, host, cap) < 0 ? -1 : 1;
	if (h->atyp == SOCKS_ATYP_IPV4) {
		to->in.sin_family = AF_INET;
		memcpy(&to->in.sin_addr, h->ip, 4);
		to->in.sin_port = htons(h->port);
	} else {
		to->in6.sin6_family = AF_INET6;
		memcpy(&to->in6.sin6_addr, h->ip, 16);
		to->in6.sin6_port = htons(h->port);
	}
	return sock_ip_format(&to->sa, host, cap) < 0 ? -1 : 0;
}

/* A route decides the escaper on the first datagram's target: hold it
 * (reading pauses) and start the escaper; socks_udp_escaped() goes on. */
static void hold_first(struct conn *c, struct udp_assoc *u, const union dp_addr *from,
		       const uint8_t *p, size_t n, const struct socks5_udp *h)
{
	char host[256];
	union dp_addr to;

	if (udp_target(h, &to, host, sizeof(host)) < 0 ||
	    conn_set_target(c, host, strlen(host), h->port) < 0)
		return; /* dropped, as a datagram for no valid target */
	u->first = malloc(n);
	if (u->first == NULL)
		return;
	memcpy(u->first, p, n);
	u->first_len = n;
	u->first_from = *from;
	u->deciding = true;
	ev_io_stop(c->wk->loop, &u->cio);
	escape_start_udp(c);
	conn_kick(c); /* the escaper's state wants its watchers (we are outside conn.c) */
}

/* ---- through a SOCKS5 peer ------------------------------------------------------ */

/* The socket connected to the peer's relay (made on first use). */
static int peer_socket(struct conn *c, struct udp_assoc *u)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, rc;

	if (u->rfd[0] >= 0)
		return u->rfd[0];
	fd = sock_socket(u->relay.sa.sa_family, SOCK_DGRAM);
	if (fd < 0)
		return fd;
	rc = sock_connect(fd, &u->relay.sa, sock_addr_len(&u->relay.sa));
	if (rc < 0 && rc != -EINPROGRESS) {
		close(fd);
		return rc;
	}
	if (sock_local_addr(fd, &ss, &len) == 0) {
		dp_addr_set(&c->task.bound, (struct sockaddr *)&ss);
		c->task.has_bound = true;
	}
	dp_addr_set(&c->task.peer, &u->relay.sa);
	c->task.has_peer = true;
	u->rfd[0] = fd;
	ev_io_init(&u->rio[0], udp_on_peer, fd, EV_READ);
	u->rio[0].data = c;
	ev_io_start(c->wk->loop, &u->rio[0]);
	return fd;
}

/* The client's datagram goes to the relay whole: its SOCKS header names
 * the target (udp connect mode: the first target only). */
static void peer_datagram(struct conn *c, struct udp_assoc *u, const uint8_t *p, size_t n,
			  const struct socks5_udp *h)
{
	size_t alen = (size_t)(h->payload.p - p) - 3; /* ATYP, address, port */
	ssize_t k;
	int fd;

	if (!u->full) {
		if (u->tgt_len == 0) {
			memcpy(u->tgt, p + 3, alen);
			u->tgt_len = alen;
		} else if (alen != u->tgt_len || memcmp(u->tgt, p + 3, alen) != 0) {
			return; /* udp connect: one peer per association */
		}
	}
	fd = peer_socket(c, u);
	if (fd < 0)
		return;
	do
		k = send(fd, p, n, 0);
	while (k < 0 && errno == EINTR);
	if (k >= 0) {
		u->tu.r_wr_bytes += h->payload.len;
		u->tu.r_wr_packets++;
	}
}

/* The relay's datagrams carry the SOCKS header naming their sender: they
 * go to the client whole once they parse. */
static void udp_on_peer(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	struct udp_assoc *u;
	uint8_t d[UDP_MAX_DGRAM];

	(void)loop;
	(void)revents;
	CHECK_OBJ(c, CONN_MAGIC);
	conn_hold(c);
	u = c->udp;
	for (int i = 0; i < UDP_BATCH && !c->closing; i++) {
		struct socks5_udp h;
		const char *why;
		ssize_t n = recv(w->fd, d, sizeof(d), 0), k;
		if (n < 0)
			break;
		if (socks5_parse_udp(slice_make(d, (size_t)n), &h, &why) != PARSE_OK || h.frag != 0)
			continue;
		u->tu.r_rd_bytes += h.payload.len;
		u->tu.r_rd_packets++;
		if (!u->have_client)
			continue;
		if (!udp_limit_pass(&u->lim, UDP_LIMIT_DOWN, h.payload.len, util_mono_ns())) {
			u->tu.r_rd_dropped++;
			continue;
		}
		do
			k = sendto(u->cfd, d, (size_t)n, 0, &u->client.sa,
				   sock_addr_len(&u->client.sa));
		while (k < 0 && errno == EINTR);
		if (k >= 0) {
			u->tu.c_wr_bytes += h.payload.len;
			u->tu.c_wr_packets++;
		}
	}
	conn_release(c);
}

/* The peer's control connection: anything read is ignored; an error ends
 * the association, and so does its end once a datagram came back from the
 * relay (always with end_on_control_closed), as in g3. */
static void udp_on_ctl(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	struct udp_assoc *u = c->udp;
	uint8_t d[512];

	(void)loop;
	(void)revents;
	CHECK_OBJ(c, CONN_MAGIC);
	conn_hold(c);
	for (int i = 0; i < UDP_BATCH && !c->closing; i++) {
		ssize_t n = recv(w->fd, d, sizeof(d), 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == 0 && !u->esc->proxy.end_on_control_closed && u->tu.r_rd_packets == 0) {
			/* g3: a clean close before any datagram came back from
			 * the relay is ignored unless end_on_control_closed */
			ev_io_stop(c->wk->loop, &u->ctl_io);
			break;
		}
		if (n == 0)
			conn_fail(c, TASK_R_CLOSED_BY_UPSTREAM,
				  "peer closed the udp control connection");
		else
			conn_fail(c, TASK_R_UPSTREAM_READ_FAILED,
				  "read from the peer's udp control connection failed");
	}
	conn_release(c);
}

/* The peer's control connection moves from the conn's upstream endpoint
 * to the association (which closes it). */
static void take_control(struct conn *c, struct udp_assoc *u)
{
	ev_io_stop(c->wk->loop, &c->up.io);
	u->ctl_fd = c->up.fd;
	c->up.fd = -1;
	c->up.events = 0;
	c->up.ready = 0;
	u->via_peer = true;
	u->relay = c->esc.udp_relay;
	ev_io_init(&u->ctl_io, udp_on_ctl, u->ctl_fd, EV_READ);
	u->ctl_io.data = c;
	ev_io_start(c->wk->loop, &u->ctl_io);
}

void socks_udp_escaped(struct conn *c, enum escape_err err)
{
	struct udp_assoc *u = c->udp;
	uint8_t *p;

	u->deciding = false;
	if (err != ESCAPE_OK) {
		/* before the reply: a failure reply; after it (a route decided on
		 * the first datagram): the association ends, reason on the task */
		if (!u->replied)
			socks_reply_code(c, escape_err_socks5(err));
		else
			conn_close(c);
		return;
	}
	u->esc = c->esc.esc;
	if (escape_is_proxy(u->esc) && c->up.fd >= 0)
		take_control(c, u);
	if (!u->replied) {
		reply_ok(c, u);
		return;
	}
	c->task.stage = TASK_STAGE_RELAYING;
	conn_set_state(c, CONN_ST_UDP);
	conn_arm_timer(c, c->srv->task_idle_check_interval_ms, true);
	p = u->first;
	u->first = NULL;
	if (p != NULL)
		client_datagram(c, u, &u->first_from, p, u->first_len);
	free(p);
	if (!c->closing && u->pend == NULL)
		ev_io_start(c->wk->loop, &u->cio);
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
	if (u->esc == NULL) {
		hold_first(c, u, from, p, n, &h);
		return;
	}
	if (!u->have_client) {
		u->client = *from;
		u->have_client = true;
		u->tu.client = &u->client.sa;
		conn_arm_timer(c, c->srv->task_idle_check_interval_ms, true);
	}
	u->tu.c_rd_bytes += h.payload.len;
	u->tu.c_rd_packets++;
	if (!udp_limit_pass(&u->lim, UDP_LIMIT_UP, h.payload.len, util_mono_ns())) {
		u->tu.c_rd_dropped++; /* over a speed limit: dropped, as g3 */
		return;
	}
	switch (udp_target(&h, &to, host, sizeof(host))) {
	case 0:
		note_peer(u, host, h.port, to.sa.sa_family == AF_INET6);
		break;
	case 1:
		note_peer(u, host, h.port, false);
		break;
	default:
		return;
	}
	if (u->via_peer)
		peer_datagram(c, u, p, n, &h);
	else if (h.atyp == SOCKS_ATYP_DOMAIN && u->esc->resolver != NULL)
		send_to_name(c, u, host, h.port, h.payload.p, h.payload.len);
	else if (h.atyp != SOCKS_ATYP_DOMAIN)
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
	for (int i = 0; i < UDP_BATCH && !c->closing && u->pend == NULL && !u->deciding; i++) {
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
		if (!udp_limit_pass(&u->lim, UDP_LIMIT_DOWN, (size_t)n, util_mono_ns())) {
			u->tu.r_rd_dropped++;
			continue;
		}
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
	free(u->first);
	ev_io_stop(c->wk->loop, &u->cio);
	ev_io_stop(c->wk->loop, &u->ctl_io);
	if (u->ctl_fd >= 0)
		close(u->ctl_fd);
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
