/* Port servers: PROXY protocol header, then hand-over to the target server
 * (see port.h). */
#include "proxyd/dp/port.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"
#include "proxyd/dp/acl.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/proxy_proto.h"

#define PORT_CONN_MAGIC 0x706f7274u /* "port" */

struct port_conn {
	uint32_t magic;
	struct dp_worker *wk;
	struct dp_gen *gen;	       /* reference: srv lives in its conf */
	const struct server_conf *srv; /* the port server */
	struct port_conn *next, *prev; /* worker's list */
	int fd;			       /* owned until handed over */
	ev_io io;
	ev_timer timer;
	struct sockaddr_storage client, server; /* real or from the PROXY header */
	size_t have;				/* header bytes consumed */
	bool pp_done;				/* header read (or none expected) */
	uint8_t buf[PROXY_PROTO_MAX];
};

bool port_is_port_server(const struct server_conf *s)
{
	return s->type == SERVER_PLAIN_TCP_PORT || s->type == SERVER_PLAIN_TLS_PORT ||
	       s->type == SERVER_INTELLI_PROXY;
}

static void pc_unlink(struct port_conn *pc)
{
	struct dp_worker *wk = pc->wk;

	ev_io_stop(wk->loop, &pc->io);
	ev_timer_stop(wk->loop, &pc->timer);
	if (pc->prev)
		pc->prev->next = pc->next;
	else
		wk->port_conns = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
}

/* Close and free; fd closed unless handed over (-1). */
static void pc_free(struct port_conn *pc)
{
	pc_unlink(pc);
	if (pc->fd >= 0)
		close(pc->fd);
	dp_gen_unref(pc->gen);
	POISON_OBJ(pc);
	free(pc);
}

static void pc_reject(struct port_conn *pc, const char *why)
{
	char addr[SOCK_ADDR_STRLEN];

	atomic_fetch_add(&pc->wk->sh->pp_rejected, 1);
	if (log_threshold >= LOG_LVL_INFO) {
		if (sock_addr_format((const struct sockaddr *)&pc->client, addr, sizeof(addr)) < 0)
			snprintf(addr, sizeof(addr), "?");
		log_info("server %s: PROXY protocol header from %s rejected: %s", pc->srv->name,
			 addr, why);
	}
	pc_free(pc);
}

/* Give the socket to the target server t (of port server srv). */
static void handoff(struct dp_worker *wk, const struct server_conf *srv,
		    const struct server_conf *t, int fd, const struct sockaddr *client,
		    const struct sockaddr *server)
{
	if (t == NULL || (t->type != SERVER_HTTP_PROXY && t->type != SERVER_SOCKS_PROXY)) {
		log_debug("server %s: no http_proxy / socks_proxy server to hand to", srv->name);
		close(fd);
		return;
	}
	if (t->ingress_net_filter.set &&
	    acl_forbids(acl_net_check(&t->ingress_net_filter, client))) {
		atomic_fetch_add(&wk->sh->dropped, 1);
		close(fd);
		return;
	}
	/* plain_tls_port: its own TLS, the target then sees the plain stream;
	 * other ports hand over as accepted (an HTTPS proxy does its TLS) */
	const struct server_conf *tls = NULL;

	if (srv->type == SERVER_PLAIN_TLS_PORT)
		tls = srv;
	else if (t->type == SERVER_HTTP_PROXY && t->tls_server.set)
		tls = t;
	if (conn_new_tls(wk, t, fd, client, server, tls) == NULL)
		log_warn("server %s: connection dropped (out of memory or no TLS context)",
			 srv->name);
}

/* Read what there is of the header. Returns 1 when it is complete (the
 * client / server addresses updated), 0 to wait for more, -1 when it was
 * rejected (pc freed). */
static int pc_read(struct port_conn *pc)
{
	struct proxy_proto_hdr h;
	const char *why = NULL;
	size_t used = 0;
	ssize_t n = recv(pc->fd, pc->buf + pc->have, sizeof(pc->buf) - pc->have, MSG_PEEK);

	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return 0;
		pc_reject(pc, strerror(errno));
		return -1;
	}
	if (n == 0) {
		pc_reject(pc, "connection closed before the header");
		return -1;
	}

	enum parse_res r = proxy_proto_parse(slice_make(pc->buf, pc->have + (size_t)n),
					     pc->srv->u.port.proxy_protocol, &h, &used, &why);
	size_t take;

	switch (r) {
	case PARSE_OK:
		take = used - pc->have;
		break;
	case PARSE_AGAIN:
		take = (size_t)n; /* every byte seen belongs to the header */
		break;
	default:
		pc_reject(pc, why ? why : "invalid header");
		return -1;
	}
	/* consume exactly the header bytes we peeked */
	if (recv(pc->fd, pc->buf + pc->have, take, 0) != (ssize_t)take) {
		pc_reject(pc, "short read of a peeked header");
		return -1;
	}
	pc->have += take;
	if (r == PARSE_AGAIN)
		return 0;
	if (!h.local) {
		memcpy(&pc->client, &h.src, sizeof(pc->client));
		memcpy(&pc->server, &h.dst, sizeof(pc->server));
	}
	pc->pp_done = true;
	return 1;
}

/* Hand the socket to t and free pc. */
static void pc_handoff(struct port_conn *pc, const struct server_conf *t)
{
	int fd = pc->fd;

	if (pc->gen != pc->wk->gen) {
		/* reloaded meanwhile: the target server object is gone */
		log_debug("server %s: config reloaded before the hand-over", pc->srv->name);
		pc_free(pc);
		return;
	}
	pc->fd = -1;
	handoff(pc->wk, pc->srv, t, fd, (const struct sockaddr *)&pc->client,
		(const struct sockaddr *)&pc->server);
	pc_free(pc);
}

/* intelli_proxy: the first byte picks the server (SOCKS versions 4 and 5,
 * anything else is HTTP); it stays in the socket for that server. Returns
 * 1 when done (pc gone), 0 to wait. End of stream or an error before a
 * byte: closed silently. */
static int pc_detect(struct port_conn *pc)
{
	uint8_t b;
	ssize_t n = recv(pc->fd, &b, 1, MSG_PEEK);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n <= 0) {
		pc_free(pc);
		return 1;
	}
	pc_handoff(pc, b == 0x04 || b == 0x05 ? pc->srv->u.port.socks_server
					      : pc->srv->u.port.http_server);
	return 1;
}

/* After the header (or at once without one): go on to the target. */
static void pc_next(struct port_conn *pc)
{
	if (pc->srv->type != SERVER_INTELLI_PROXY) {
		pc_handoff(pc, pc->srv->u.port.server);
		return;
	}
	ev_timer_stop(pc->wk->loop, &pc->timer);
	ev_timer_set(&pc->timer, (double)pc->srv->u.port.protocol_detection_timeout_ms / 1000., 0.);
	ev_timer_start(pc->wk->loop, &pc->timer);
	(void)pc_detect(pc);
}

static void port_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct port_conn *pc = container_of(w, struct port_conn, io);

	(void)loop;
	(void)revents;
	CHECK_OBJ(pc, PORT_CONN_MAGIC);
	if (pc->pp_done) {
		(void)pc_detect(pc);
		return;
	}
	if (pc_read(pc) > 0)
		pc_next(pc);
}

static void port_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct port_conn *pc = container_of(w, struct port_conn, timer);

	(void)loop;
	(void)revents;
	CHECK_OBJ(pc, PORT_CONN_MAGIC);
	if (pc->pp_done)
		pc_free(pc); /* protocol detection: a silent close */
	else
		pc_reject(pc, "timed out");
}

void port_accept(struct dp_worker *wk, const struct server_conf *srv, int fd,
		 const struct sockaddr *peer, const struct sockaddr *local)
{
	struct port_conn *pc;

	if (srv->u.port.proxy_protocol == 0 && srv->type != SERVER_INTELLI_PROXY) {
		handoff(wk, srv, srv->u.port.server, fd, peer, local);
		return;
	}
	pc = calloc(1, sizeof(*pc));
	if (pc == NULL) {
		log_warn("server %s: out of memory: connection dropped", srv->name);
		close(fd);
		return;
	}
	pc->magic = PORT_CONN_MAGIC;
	pc->wk = wk;
	pc->gen = dp_gen_ref(wk->gen);
	pc->srv = srv;
	pc->fd = fd;
	memcpy(&pc->client, peer,
	       peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in));
	memcpy(&pc->server, local,
	       local->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					    : sizeof(struct sockaddr_in));
	pc->next = wk->port_conns;
	if (wk->port_conns)
		wk->port_conns->prev = pc;
	wk->port_conns = pc;
	ev_io_init(&pc->io, port_on_io, fd, EV_READ);
	pc->pp_done = srv->u.port.proxy_protocol == 0;
	ev_timer_init(&pc->timer, port_on_timer,
		      (double)(pc->pp_done ? srv->u.port.protocol_detection_timeout_ms
					   : srv->u.port.proxy_protocol_read_timeout_ms) /
			      1000.,
		      0.);
	ev_io_start(wk->loop, &pc->io);
	ev_timer_start(wk->loop, &pc->timer);
}

void port_close_all(struct dp_worker *wk)
{
	struct port_conn *pc = wk->port_conns;

	while (pc != NULL) {
		struct port_conn *next = pc->next;

		pc_free(pc);
		pc = next;
	}
}
