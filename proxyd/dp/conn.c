/* Client connections: lifecycle, the state table, watchers, the timer
 * (see conn.h). */
#include "proxyd/dp/conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"
#include "proxyd/dp/acl.h"
#include "proxyd/dp/conn_user.h"
#include "proxyd/dp/http_forward.h"
#include "proxyd/dp/socks_udp.h"
#include "proxyd/dp/tls_ep.h"
#include "proxyd/dp/uparams.h"
#include "proxyd/metrics.h"

/* Client input buffer: SOCKS requests and HTTP heads up to this size are
 * parsed from one pooled block. */
#define CONN_IN_CAP BUF_BLOCK_SIZE
/* How long an error reply may take to leave and the client to hang up. */
#define CONN_LINGER_MS 2000
/* Bound on a success reply that the client does not read. */
#define CONN_REPLY_MS 10000
/* Handler calls per event before yielding (a guard against loops). */
#define CONN_MAX_STEPS 64

/* What the connection waits for in a state. */
enum conn_io {
	IO_CL_READ = 1 << 0,	/* read the client into c->in */
	IO_UP_CONNECT = 1 << 1, /* upstream connect in progress */
	IO_RELAY = 1 << 2,	/* relay_interest() decides */
	IO_CL_DRAIN = 1 << 3,	/* read and discard (linger) */
	IO_HTTP_FWD = 1 << 4,	/* http_fwd_interest() decides */
	IO_CL_WATCH = 1 << 5,	/* read the client to see it close */
	IO_UP_READ = 1 << 6,	/* read the upstream (peer proxy handshake) */
};

typedef int conn_handler_fn(struct conn *c);
typedef void conn_timeout_fn(struct conn *c);

struct conn_state_def {
	const char *name;
	conn_handler_fn *run;
	conn_timeout_fn *timeout;
	unsigned io;
	unsigned next; /* bit mask of the states this one may move to */
};

static int conn_on_replying(struct conn *c);
static int conn_on_relay(struct conn *c);
static int conn_on_linger(struct conn *c);
static void conn_relay_timeout(struct conn *c);
static void conn_linger_timeout(struct conn *c);
static void conn_reply_timeout(struct conn *c);
static void conn_standby_timeout(struct conn *c);

#define B(s) (1u << (s))
#define AFTER_REQUEST (B(CONN_ST_RESOLVING) | B(CONN_ST_CONNECTING) | B(CONN_ST_LINGER))
#define TO_CONNECT (B(CONN_ST_RESOLVING) | B(CONN_ST_CONNECTING))

static const struct conn_state_def conn_states[CONN_ST__COUNT] = {
	[CONN_ST_SOCKS_GREETING] = {"socks_greeting", socks_on_greeting, socks_on_timeout,
				    IO_CL_READ,
				    B(CONN_ST_SOCKS5_REQUEST) | B(CONN_ST_SOCKS5_AUTH) |
					    AFTER_REQUEST},
	[CONN_ST_SOCKS5_REQUEST] = {"socks5_request", socks_on_request, socks_on_timeout,
				    IO_CL_READ, AFTER_REQUEST | B(CONN_ST_UDP)},
	[CONN_ST_HTTP_HEAD] = {"http_head", http_on_head, http_on_timeout, IO_CL_READ,
			       AFTER_REQUEST | B(CONN_ST_HTTP_FWD) | B(CONN_ST_AUTH_DELAY)},
	[CONN_ST_RESOLVING] = {"resolving", NULL, escape_on_resolve_timeout, 0,
			       B(CONN_ST_CONNECTING) | B(CONN_ST_LINGER) | B(CONN_ST_UDP)},
	[CONN_ST_CONNECTING] = {"connecting", escape_on_connecting, escape_on_timeout,
				IO_UP_CONNECT,
				B(CONN_ST_CONNECTING) | B(CONN_ST_REPLYING) | B(CONN_ST_HTTP_FWD) |
					B(CONN_ST_LINGER) | B(CONN_ST_TLS_CONNECT) |
					B(CONN_ST_PEER_NEGO) | B(CONN_ST_UDP)},
	[CONN_ST_REPLYING] = {"replying", conn_on_replying, conn_reply_timeout, 0,
			      B(CONN_ST_RELAY) | B(CONN_ST_LINGER)},
	[CONN_ST_HTTP_FWD] = {"http_forward", http_fwd_run, http_fwd_timeout, IO_HTTP_FWD,
			      TO_CONNECT | B(CONN_ST_HTTP_HEAD) | B(CONN_ST_RELAY) |
				      B(CONN_ST_LINGER)},
	/* a route decides a UDP association on its first datagram */
	[CONN_ST_UDP] = {"udp", socks_udp_run, socks_udp_timeout, IO_CL_WATCH,
			 TO_CONNECT | B(CONN_ST_PEER_NEGO) | B(CONN_ST_UDP)},
	[CONN_ST_RELAY] = {"relay", conn_on_relay, conn_relay_timeout, IO_RELAY, 0},
	[CONN_ST_LINGER] = {"linger", conn_on_linger, conn_linger_timeout, IO_CL_DRAIN, 0},
	[CONN_ST_STANDBY] = {"standby", NULL, conn_standby_timeout, 0,
			     TO_CONNECT | B(CONN_ST_LINGER)},
	/* TLS handshakes: the interest is what OpenSSL asked for (tls_want) */
	[CONN_ST_TLS_ACCEPT] = {"tls_accept", tls_ep_on_accept, tls_ep_accept_timeout, 0,
				B(CONN_ST_SOCKS_GREETING) | B(CONN_ST_HTTP_HEAD)},
	[CONN_ST_TLS_CONNECT] = {"tls_connect", tls_ep_on_connect, tls_ep_connect_timeout, 0,
				 B(CONN_ST_CONNECTING) | B(CONN_ST_REPLYING) | B(CONN_ST_HTTP_FWD) |
					 B(CONN_ST_LINGER) | B(CONN_ST_PEER_NEGO)},
	[CONN_ST_PEER_NEGO] = {"peer_negotiation", escape_proxy_on_nego,
			       escape_proxy_on_nego_timeout, IO_UP_READ,
			       B(CONN_ST_REPLYING) | B(CONN_ST_HTTP_FWD) | B(CONN_ST_TLS_CONNECT) |
				       B(CONN_ST_LINGER) | B(CONN_ST_UDP) | TO_CONNECT},
	[CONN_ST_SOCKS5_AUTH] = {"socks5_auth", socks_on_auth, socks_on_timeout, IO_CL_READ,
				 B(CONN_ST_SOCKS5_REQUEST) | B(CONN_ST_AUTH_DELAY) |
					 B(CONN_ST_LINGER)},
	[CONN_ST_AUTH_DELAY] = {"auth_delay", NULL, conn_auth_delay_done, 0, B(CONN_ST_LINGER)},
};

static void conn_on_io(struct ev_loop *loop, ev_io *w, int revents);
static void conn_on_timer(struct ev_loop *loop, ev_timer *w, int revents);
static void conn_on_logtick(struct ev_loop *loop, ev_timer *w, int revents);
static void conn_free(struct conn *c);

static void ep_init(struct conn *c, struct conn_ep *ep, int fd)
{
	ep->fd = fd;
	ep->events = 0;
	ep->ready = 0;
	ep->eof = false;
	ep->shut = false;
	ep->c = c;
	ep->ssl = NULL;
	ep->tls_want = 0;
	ev_io_init(&ep->io, conn_on_io, fd < 0 ? 0 : fd, 0);
}

/* Point the endpoint's watcher at its fd with the given interest. */
static void ep_want(struct conn *c, struct conn_ep *ep, int events)
{
	if (ep->fd < 0)
		events = 0;
	if (events == ep->events && (events == 0 || ev_is_active(&ep->io)))
		return;
	ev_io_stop(c->wk->loop, &ep->io);
	ep->events = events;
	if (events != 0) {
		/* ev_io_set() tells libev the fd may be a new file, which costs
		 * an epoll_ctl(ADD) failing with EEXIST on every restart: only
		 * a new fd (ep_init) needs it */
		if (ep->io.fd == ep->fd)
			ev_io_modify(&ep->io, events);
		else
			ev_io_set(&ep->io, ep->fd, events);
		ev_io_start(c->wk->loop, &ep->io);
	}
}

static void ep_close(struct conn *c, struct conn_ep *ep)
{
	ev_io_stop(c->wk->loop, &ep->io);
	ep->events = 0;
	tls_ep_free(ep);
	if (ep->fd >= 0) {
		close(ep->fd);
		ep->fd = -1;
	}
}

struct conn *conn_new(struct dp_worker *wk, const struct server_conf *srv, int fd,
		      const struct sockaddr *peer, const struct sockaddr *local)
{
	bool tls = srv->type == SERVER_HTTP_PROXY && srv->tls_server.set;

	return conn_new_tls(wk, srv, fd, peer, local, tls ? srv : NULL);
}

void conn_start_server(struct conn *c)
{
	const struct server_conf *srv = c->srv;
	enum conn_state st =
		srv->type == SERVER_SOCKS_PROXY ? CONN_ST_SOCKS_GREETING : CONN_ST_HTTP_HEAD;

	if (c->state == CONN_ST_TLS_ACCEPT)
		conn_set_state(c, st);
	else
		c->state = st;
	conn_arm_timer(c,
		       srv->type == SERVER_SOCKS_PROXY ? srv->u.socks.negotiation_timeout_ms
						       : srv->u.http.req_header_recv_timeout_ms,
		       false);
}

struct conn *conn_new_tls(struct dp_worker *wk, const struct server_conf *srv, int fd,
			  const struct sockaddr *peer, const struct sockaddr *local,
			  const struct server_conf *tls_srv)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		close(fd);
		return NULL;
	}
	c->magic = CONN_MAGIC;
	c->wk = wk;
	c->gen = dp_gen_ref(wk->gen);
	c->srv = srv;
	ep_init(c, &c->cl, fd);
	ep_init(c, &c->up, -1);
	dp_addr_set(&c->client_addr, peer);
	dp_addr_set(&c->server_addr, local);
	buf_init(&c->in, CONN_IN_CAP);
	relay_init(&c->relay);
	speed_init(&c->speed);
	ev_init(&c->timer, conn_on_timer);
	ev_init(&c->logtick, conn_on_logtick);
	c->task.accept_ns = util_mono_ns();
	c->next = wk->conns;
	if (wk->conns)
		wk->conns->prev = c;
	wk->conns = c;
	atomic_fetch_add(&wk->sh->alive, 1);
	metrics_srv_add(srv->stats, MS_CONN_TOTAL, 1);

	if (tls_srv == NULL) {
		conn_start_server(c);
	} else if (tls_ep_server_begin(c, tls_srv) < 0) {
		conn_hold(c);
		conn_close(c);
		conn_release(c);
		return NULL;
	}
	/* interest of the first state: read the client (or its ClientHello) */
	ep_want(c, &c->cl, EV_READ);
	return c;
}

struct conn *conn_new_shadow(struct conn *p)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->magic = CONN_MAGIC;
	c->refs = 1;
	c->shadow = true;
	c->wk = p->wk;
	c->gen = dp_gen_ref(p->gen);
	c->srv = p->srv;
	ep_init(c, &c->cl, -1);
	ep_init(c, &c->up, -1);
	c->client_addr = p->client_addr;
	c->server_addr = p->server_addr;
	buf_init(&c->in, CONN_IN_CAP);
	relay_init(&c->relay);
	ev_init(&c->timer, conn_on_timer);
	memcpy(c->host, p->host, sizeof(c->host));
	c->port = p->port;
	c->host_is_ip = p->host_is_ip;
	c->host_addr = p->host_addr;
	c->path_id = p->path_id; /* egress path selection applies to the standby too */
	memcpy(c->path_sid, p->path_sid, sizeof(c->path_sid));
	c->task = p->task;
	c->task.created = false;
	c->task.http = NULL;
	c->task.udp = NULL;
	c->task.has_bound = c->task.has_peer = false;
	c->task.connect_tries = 0;
	c->task.connect_spend_ns = 0;
	c->state = CONN_ST_STANDBY;
	return c;
}

void conn_hold(struct conn *c)
{
	CHECK_OBJ(c, CONN_MAGIC);
	c->refs++;
}

void conn_release(struct conn *c)
{
	CHECK_OBJ(c, CONN_MAGIC);
	ASSERT(c->refs > 0);
	if (--c->refs == 0 && c->closing)
		conn_free(c);
}

void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	/* Nothing more happens on the sockets; the fds go in conn_free(). */
	ev_io_stop(c->wk->loop, &c->cl.io);
	ev_io_stop(c->wk->loop, &c->up.io);
	ev_timer_stop(c->wk->loop, &c->timer);
	ev_timer_stop(c->wk->loop, &c->logtick);
	speed_stop(c);
}

void conn_fail(struct conn *c, enum task_reason r, const char *msg)
{
	task_set_reason(&c->task, r, msg);
	conn_close(c);
}

static void format_upstream(const struct conn *c, char *out, size_t cap)
{
	if (c->host[0] == '\0') {
		out[0] = '\0';
		return;
	}
	if (c->host_is_ip && c->host_addr.sa.sa_family == AF_INET6)
		snprintf(out, cap, "[%s]:%u", c->host, c->port);
	else
		snprintf(out, cap, "%s:%u", c->host, c->port);
}

/* The ending task's bytes go to the server's and escaper's traffic
 * counters (tcp: the client / upstream stream; udp: the relayed payloads)
 * and it leaves server.task.alive. */
static void task_metrics(struct conn *c)
{
	struct metrics_srv *ms = c->srv->stats;
	const struct escaper_conf *e = c->esc.esc ? c->esc.esc : c->srv->escaper;
	struct metrics_esc *me = e ? e->stats : NULL;
	const struct task_udp *u = c->task.udp;

	metrics_srv_alive(ms, -1);
	metrics_srv_add(ms, MS_TCP_IN_BYTES, c->task.c_rd);
	metrics_srv_add(ms, MS_TCP_OUT_BYTES, c->task.c_wr);
	metrics_esc_add(me, ME_TCP_IN_BYTES, c->task.r_rd);
	metrics_esc_add(me, ME_TCP_OUT_BYTES, c->task.r_wr);
	if (u != NULL) {
		metrics_srv_add(ms, MS_UDP_IN_BYTES, u->c_rd_bytes);
		metrics_srv_add(ms, MS_UDP_IN_PACKETS, u->c_rd_packets);
		metrics_srv_add(ms, MS_UDP_OUT_BYTES, u->c_wr_bytes);
		metrics_srv_add(ms, MS_UDP_OUT_PACKETS, u->c_wr_packets);
		metrics_esc_add(me, ME_UDP_IN_BYTES, u->r_rd_bytes);
		metrics_esc_add(me, ME_UDP_IN_PACKETS, u->r_rd_packets);
		metrics_esc_add(me, ME_UDP_OUT_BYTES, u->r_wr_bytes);
		metrics_esc_add(me, ME_UDP_OUT_PACKETS, u->r_wr_packets);
	}
}

void conn_task_log(struct conn *c)
{
	char upstream[272];
	struct task_server ts = {c->srv, &c->server_addr.sa, &c->client_addr.sa, upstream};

	c->task.c_rd += c->relay.c2u.in;
	c->task.r_wr += c->relay.c2u.out;
	c->task.r_rd += c->relay.u2c.in;
	c->task.c_wr += c->relay.u2c.out;
	if (c->reply_counts) /* the error reply went to the client */
		c->task.c_wr += c->reply_out;
	c->reply_out = 0;
	c->reply_counts = false;
	ev_timer_stop(c->wk->loop, &c->logtick);
	task_metrics(c);
	conn_user_task_stats(c);
	conn_user_task_end(c, c->task.c_rd, c->task.c_wr);
	upstream[0] = '\0';
	if (logger_enabled(c->wk->sh->task_log)) /* formatting costs a request's parse */
		format_upstream(c, upstream, sizeof(upstream));
	task_log_finished(c->wk->sh->task_log, &ts, &c->task);
	c->task.created = false;
}

/* A Created / Connected / Periodic record: the counts so far, nothing
 * moved or reset. */
static void conn_task_event(struct conn *c, enum task_event ev)
{
	char upstream[272];
	struct task_server ts = {c->srv, &c->server_addr.sa, &c->client_addr.sa, upstream};
	struct task_notes t = c->task;
	struct task_udp tu;

	if (!t.created || !logger_enabled(c->wk->sh->task_log))
		return;
	if (t.udp == NULL && c->proto == CONN_P_SOCKS5 && c->host[0] == '\0') {
		/* a SOCKS5 task without a target is a UDP association whose
		 * state does not exist yet (its Created record) */
		memset(&tu, 0, sizeof(tu));
		tu.full = c->srv->u.socks.use_udp_associate;
		t.udp = &tu;
	}
	t.c_rd += c->relay.c2u.in;
	t.r_wr += c->relay.c2u.out;
	t.r_rd += c->relay.u2c.in;
	t.c_wr += c->relay.u2c.out;
	http_fwd_peek_counts(c, &t);
	format_upstream(c, upstream, sizeof(upstream));
	task_log_event(c->wk->sh->task_log, &ts, &t, ev);
}

static void conn_on_logtick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, logtick);

	(void)loop;
	(void)revents;
	CHECK_OBJ(c, CONN_MAGIC);
	conn_task_event(c, TASK_EV_PERIODIC);
}

static void conn_free(struct conn *c)
{
	struct dp_worker *wk = c->wk;

	escape_cancel(&c->esc);
	escape_failover_free(c);
	escape_proxy_fini(&c->esc);
	if (c->task.created) {
		if (c->task.reason == TASK_R_NONE)
			task_set_reason(&c->task, TASK_R_INTERNAL_SERVER_ERROR,
					"task ended without a reason");
		http_fwd_counts(c); /* its byte counts go to the task */
		conn_task_log(c);
	}
	http_fwd_free(c);
	socks_udp_free(c);
	conn_user_free(c);
	conn_uparams_free(c);
	ev_timer_stop(wk->loop, &c->timer);
	ev_timer_stop(wk->loop, &c->logtick);
	speed_stop(c);
	ep_close(c, &c->cl);
	ep_close(c, &c->up);
	relay_fini(&c->relay);
	buf_fini(&c->in);
	if (!c->shadow) {
		if (c->prev)
			c->prev->next = c->next;
		else
			wk->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		atomic_fetch_sub(&wk->sh->alive, 1);
	}
	dp_gen_unref(c->gen);
	POISON_OBJ(c);
	free(c);
}

void conn_set_state(struct conn *c, enum conn_state st)
{
	ASSERT((unsigned)st < CONN_ST__COUNT);
	ASSERT(conn_states[c->state].next & B(st));
	c->state = st;
	switch (st) {
	case CONN_ST_RESOLVING:
		/* c-ares bounds each query; this only guards against a lost one */
		conn_arm_timer(c, 60000, false);
		break;
	case CONN_ST_REPLYING:
		c->task.stage = TASK_STAGE_REPLYING;
		conn_arm_timer(c, CONN_REPLY_MS, false);
		break;
	case CONN_ST_RELAY:
		conn_arm_timer(c, c->srv->task_idle_check_interval_ms, true);
		break;
	case CONN_ST_LINGER:
		conn_arm_timer(c, CONN_LINGER_MS, false);
		break;
	case CONN_ST_CONNECTING:     /* the escaper arms each attempt */
	case CONN_ST_SOCKS5_REQUEST: /* one negotiation timeout from accept */
	default:
		break;
	}
}

void conn_arm_timer(struct conn *c, uint64_t ms, bool repeat)
{
	c->timer_repeat = repeat;
	c->timer.repeat = (ev_tstamp)ms / 1000.0;
	if (c->timer.repeat <= 0)
		c->timer.repeat = 0.001;
	ev_timer_again(c->wk->loop, &c->timer);
}

/* Derive both watchers' interest from the state and the buffers. */
static void conn_sync_watchers(struct conn *c)
{
	const struct conn_state_def *def = &conn_states[c->state];
	int cl = 0, up = 0;

	if (c->closing)
		return;
	if ((def->io & IO_CL_READ) && !c->cl.eof && !buf_full(&c->in))
		cl |= EV_READ;
	if ((def->io & IO_CL_DRAIN) && !c->cl.eof && !conn_reply_pending(c))
		cl |= EV_READ;
	if ((def->io & IO_CL_WATCH) && !c->cl.eof)
		cl |= EV_READ;
	if (conn_reply_pending(c))
		cl |= EV_WRITE;
	if (def->io & IO_UP_CONNECT)
		up |= EV_WRITE;
	if (def->io & IO_UP_READ)
		up |= EV_READ;
	if (def->io & IO_RELAY)
		relay_interest(c, &cl, &up);
	if (def->io & IO_HTTP_FWD)
		http_fwd_interest(c, &cl, &up);
	cl |= c->cl.tls_want;
	up |= c->up.tls_want;
	ep_want(c, &c->cl, cl);
	ep_want(c, &c->up, up);
	/* decrypted bytes OpenSSL holds make no socket event: come back for
	 * them on the next loop turn (unless a speed limit holds the reads
	 * back: its timer brings us back, feeding now would spin) */
	if ((cl & EV_READ) && tls_ep_pending(&c->cl) > 0 && !speed_blocked(&c->speed, SPEED_CL_RD))
		ev_feed_event(c->wk->loop, &c->cl.io, EV_READ);
	if ((up & EV_READ) && tls_ep_pending(&c->up) > 0 && !speed_blocked(&c->speed, SPEED_UP_RD))
		ev_feed_event(c->wk->loop, &c->up.io, EV_READ);
}

static void conn_run(struct conn *c)
{
	for (int i = 0; i < CONN_MAX_STEPS && !c->closing; i++) {
		conn_handler_fn *run = conn_states[c->state].run;
		if (run == NULL || run(c) == CONN_WAIT)
			break;
	}
}

void conn_kick(struct conn *c)
{
	conn_hold(c);
	conn_run(c);
	conn_sync_watchers(c);
	conn_release(c);
}

static void conn_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn_ep *ep = container_of(w, struct conn_ep, io);
	struct conn *c = ep->c;

	(void)loop;
	CHECK_OBJ(c, CONN_MAGIC);
	conn_hold(c);
	ep->ready |= revents & (EV_READ | EV_WRITE);
	if (ep->tls_want & revents) {
		/* what OpenSSL waited for came: retry both directions */
		ep->tls_want = 0;
		ep->ready |= EV_READ | EV_WRITE;
	}
	conn_run(c);
	conn_sync_watchers(c);
	conn_release(c);
}

/* The task idle check of a running task (relay, HttpForward, UDP
 * association) also ends the tasks of a user blocked, deleted or expired
 * since the login, as g3 does: the task message, else NULL. */
static const char *task_tick_revoked(const struct conn *c)
{
	const char *why;

	if (c->user == NULL || !c->task.created ||
	    (c->state != CONN_ST_RELAY && c->state != CONN_ST_HTTP_FWD && c->state != CONN_ST_UDP))
		return NULL;
	return conn_user_revoked(c, &why) ? why : NULL;
}

static void conn_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, timer);
	const char *why;

	(void)revents;
	CHECK_OBJ(c, CONN_MAGIC);
	conn_hold(c);
	if (!c->timer_repeat)
		ev_timer_stop(loop, w);
	why = task_tick_revoked(c);
	if (why != NULL)
		conn_fail(c, TASK_R_CANCELED_AS_USER_BLOCKED, why);
	else
		conn_states[c->state].timeout(c);
	conn_run(c);
	conn_sync_watchers(c);
	conn_release(c);
}

ssize_t conn_read_client(struct conn *c)
{
	size_t room;
	ssize_t n;

	if (c->cl.eof)
		return 0;
	room = buf_space(&c->in);
	n = tls_ep_buf_read(&c->cl, &c->in);
	conn_ep_read_done(&c->cl, n, room);
	if (n == 0)
		c->cl.eof = true;
	else if (n == -EAGAIN)
		c->cl.ready &= ~EV_READ;
	/* a read that found nothing must not leave an idle connection holding
	 * the block buf_reserve() took for it */
	if (n <= 0)
		(void)buf_release_if_empty(&c->in);
	return n;
}

static int conn_flush(struct conn *c)
{
	while (conn_reply_pending(c)) {
		ssize_t n = tls_ep_write(&c->cl, c->reply + c->reply_off,
					 (size_t)(c->reply_len - c->reply_off));
		if (n < 0) {
			if (n == -EAGAIN)
				c->cl.ready &= ~EV_WRITE;
			return (int)n;
		}
		c->reply_off += (uint16_t)n;
		c->reply_out += (uint32_t)n;
	}
	c->reply_off = c->reply_len = 0;
	return 0;
}

int conn_send(struct conn *c, const void *p, size_t n)
{
	int rc;

	ASSERT(n <= (size_t)(CONN_REPLY_MAX - c->reply_len));
	memcpy(c->reply + c->reply_len, p, n);
	c->reply_len += (uint16_t)n;
	rc = conn_flush(c);
	return rc == -EAGAIN ? 0 : rc;
}

void conn_task_create(struct conn *c)
{
	struct task_notes *t = &c->task;

	t->created = true;
	t->type = TASK_TYPE_TCP_CONNECT;
	t->stage = TASK_STAGE_CREATED;
	dp_uuid(c->wk, t->id);
	t->start_wall_us = util_wall_us();
	t->created_ns = util_mono_ns();
	t->escaper = c->srv->escaper ? c->srv->escaper->name : c->srv->escaper_name;
	t->user = c->user != NULL && c->user->name[0] != '\0' ? c->user->name : NULL;
	t->log_skip = !conn_user_log_take(c);
	atomic_fetch_add(&c->wk->sh->tasks, 1);
	metrics_srv_add(c->srv->stats, MS_TASK_TOTAL, 1);
	metrics_srv_alive(c->srv->stats, 1);
	if (c->srv->escaper != NULL)
		metrics_esc_add(c->srv->escaper->stats, ME_TASK_TOTAL, 1);
	c->reply_out = 0;
	c->reply_counts = false;
	if (c->srv->task_log_flush_interval_ms > 0) {
		c->logtick.repeat = (ev_tstamp)c->srv->task_log_flush_interval_ms / 1000.0;
		ev_timer_again(c->wk->loop, &c->logtick);
	}
	if (c->srv->flush_task_log_on_created)
		conn_task_event(c, TASK_EV_CREATED);
}

static bool host_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-' || ch == '.' || ch == '_';
}

int conn_set_target(struct conn *c, const char *host, size_t hlen, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (hlen == 0 || hlen >= sizeof(c->host))
		return -EINVAL;
	if (sock_ip_parse(slice_make(host, hlen), port, &ss, &len) == 0) {
		c->host_is_ip = true;
		dp_addr_set(&c->host_addr, (struct sockaddr *)&ss);
	} else {
		/* a domain: RFC 1035 length, letters, digits, '-', '.', '_' */
		if (hlen > 253)
			return -EINVAL;
		for (size_t i = 0; i < hlen; i++)
			if (!host_char_ok(host[i]))
				return -EINVAL;
		c->host_is_ip = false;
	}
	memcpy(c->host, host, hlen);
	c->host[hlen] = '\0';
	c->port = port;
	return 0;
}

bool conn_target_forbidden(const struct conn *c)
{
	const struct server_conf *s = c->srv;

	bool denied = acl_forbids(acl_port_check(&s->dst_port_filter, c->port)) ||
		      acl_forbids(acl_host_check(&s->dst_host_filter_set, c->host, strlen(c->host),
						 c->host_is_ip ? &c->host_addr.sa : NULL));

	if (denied)
		metrics_srv_add(s->stats, MS_FORBID_DEST_DENIED, 1);
	return denied;
}

void conn_connect_done(struct conn *c, enum escape_err err)
{
	if ((c->esc.fo != NULL || c->esc.fo_parent != NULL) && escape_failover_done(c, err))
		return; /* route_failover: the other attempt decides */
	if (err == ESCAPE_OK) {
		c->task.stage = TASK_STAGE_CONNECTED;
		if (c->srv->flush_task_log_on_connected)
			conn_task_event(c, TASK_EV_CONNECTED);
	} else
		task_set_reason(&c->task, escape_err_reason(err), c->esc.msg);
	switch (c->proto) {
	case CONN_P_SOCKS4:
	case CONN_P_SOCKS5:
		if (c->udp != NULL)
			socks_udp_escaped(c, err);
		else
			socks_reply_connect(c, err);
		break;
	case CONN_P_HTTP_CONNECT:
		http_reply_connect(c, err);
		break;
	case CONN_P_HTTP_FORWARD:
		http_fwd_connected(c, err);
		break;
	case CONN_P_NONE:
		conn_close(c);
		break;
	}
}

int conn_grow_in(struct conn *c, size_t cap)
{
	struct buf nb;
	struct slice old = buf_peek(&c->in);

	buf_init(&nb, cap);
	if (old.len > 0 && buf_append(&nb, old.p, old.len) < 0) {
		buf_fini(&nb);
		return -ENOMEM;
	}
	buf_fini(&c->in);
	c->in = nb;
	return 0;
}

void conn_reject_log(const struct conn *c, const char *what, const char *why)
{
	char addr[SOCK_ADDR_STRLEN];

	if (log_threshold < LOG_LVL_INFO)
		return;
	if (sock_addr_format(&c->client_addr.sa, addr, sizeof(addr)) < 0)
		snprintf(addr, sizeof(addr), "?");
	log_info("server %s: %s client %s: %s", c->srv->name, what, addr, why);
}

void conn_up_attach(struct conn *c, int fd)
{
	ep_close(c, &c->up);
	ep_init(c, &c->up, fd);
}

void conn_up_attach_pooled(struct conn *c, int fd)
{
	conn_up_attach(c, fd);
	/* registered with epoll by the pool's watcher and never closed since:
	 * no "new fd" flag, so an unchanged event mask costs no epoll_ctl */
	c->up.io.events &= ~EV__IOFDSET;
}

void conn_up_close(struct conn *c)
{
	ep_close(c, &c->up);
}

int conn_up_detach(struct conn *c)
{
	int fd = c->up.fd;

	ev_io_stop(c->wk->loop, &c->up.io);
	tls_ep_free(&c->up); /* callers pool plain upstreams only */
	ep_init(c, &c->up, -1);
	return fd;
}

void conn_http_next(struct conn *c)
{
	const struct http_proxy_conf *hc = &c->srv->u.http;

	c->proto = CONN_P_NONE;
	c->host[0] = '\0';
	c->port = 0;
	c->host_is_ip = false;
	c->head_started = false;
	memset(&c->task, 0, sizeof(c->task));
	c->task.accept_ns = util_mono_ns();
	relay_fini(&c->relay);
	relay_init(&c->relay);
	conn_set_state(c, CONN_ST_HTTP_HEAD);
	(void)buf_release_if_empty(&c->in);
	conn_arm_timer(c,
		       buf_empty(&c->in) ? hc->pipeline_read_idle_timeout_ms
					 : hc->req_header_recv_timeout_ms,
		       false);
}

void conn_close_idle(struct dp_worker *wk)
{
	for (struct conn *c = wk->conns, *next; c != NULL; c = next) {
		next = c->next;
		if (c->state != CONN_ST_HTTP_HEAD || !buf_empty(&c->in) || c->http_requests == 0)
			continue;
		conn_hold(c);
		conn_close(c);
		next = c->next; /* c is still linked until the release */
		conn_release(c);
	}
}

void conn_linger(struct conn *c)
{
	/* an HTTP error reply is part of the task's output (g3 counts it);
	 * a SOCKS failure reply is not, as before the relay nothing is */
	c->reply_counts = c->proto == CONN_P_HTTP_CONNECT || c->proto == CONN_P_HTTP_FORWARD;
	ep_close(c, &c->up);
	conn_set_state(c, CONN_ST_LINGER);
}

/* ---- generic states ---------------------------------------------------- */

/* REPLYING: the success reply leaves, then the relay starts. */
static int conn_on_replying(struct conn *c)
{
	int rc = conn_flush(c);

	if (rc == -EAGAIN)
		return CONN_WAIT;
	if (rc < 0) {
		conn_fail(c, TASK_R_CLIENT_TCP_WRITE_FAILED, "write to client failed");
		return CONN_WAIT;
	}
	c->task.stage = TASK_STAGE_RELAYING;
	c->task.ready_ns = util_mono_ns();
	/* bytes the client sent after its request go to the upstream first */
	c->relay.c2u.in += buf_len(&c->in);
	(void)buf_release_if_empty(&c->in);
	/* try both sockets at once rather than waiting for a first event */
	c->cl.ready |= EV_READ | EV_WRITE;
	c->up.ready |= EV_READ | EV_WRITE;
	speed_setup(c);
	conn_set_state(c, CONN_ST_RELAY);
	return CONN_AGAIN;
}

static int conn_on_relay(struct conn *c)
{
	relay_step(c);
	return CONN_WAIT;
}

static void conn_relay_timeout(struct conn *c)
{
	relay_idle_tick(c);
}

/* LINGER: flush the error reply, shut our side, read until the client
 * closes (so that closing with unread input does not reset the reply
 * away), bounded by the timer. */
static int conn_on_linger(struct conn *c)
{
	int rc = conn_flush(c);

	if (rc == -EAGAIN)
		return CONN_WAIT;
	if (rc < 0) {
		conn_close(c);
		return CONN_WAIT;
	}
	if (!c->cl.shut) {
		c->cl.shut = true;
		if (tls_ep_shut_write(&c->cl) < 0) {
			conn_close(c);
			return CONN_WAIT;
		}
	}
	for (;;) {
		ssize_t n;
		if (!(c->cl.ready & EV_READ) && tls_ep_pending(&c->cl) == 0)
			return CONN_WAIT; /* drained: the client's next bytes or close wake us */
		buf_reset(&c->in);
		n = conn_read_client(c);
		if (n == -EAGAIN)
			return CONN_WAIT;
		if (n <= 0) {
			conn_close(c);
			return CONN_WAIT;
		}
	}
}

static void conn_linger_timeout(struct conn *c)
{
	conn_close(c);
}

/* A standby conn arms its timer only in RESOLVING / CONNECTING. */
static void conn_standby_timeout(struct conn *c)
{
	(void)c;
}

static void conn_reply_timeout(struct conn *c)
{
	conn_fail(c, TASK_R_CLIENT_APP_TIMEOUT, "client did not read the reply");
}

void conn_close_all(struct dp_worker *wk, enum task_reason r)
{
	for (struct conn *c = wk->conns, *next; c != NULL; c = next) {
		next = c->next; /* freeing c leaves the others linked */
		ASSERT(c->refs == 0);
		conn_hold(c);
		conn_fail(c, r, "server quit");
		conn_release(c);
	}
	ASSERT(wk->conns == NULL);
}
