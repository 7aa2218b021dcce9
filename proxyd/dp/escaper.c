/* direct_fixed and dummy_deny on the data path (see escaper.h). */
#include "proxyd/dp/escaper.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/sock.h"
#include "proxyd/dp/acl.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/escaper_he.h"
#include "proxyd/dp/uparams.h"
#include "proxyd/dp/resolve_policy.h"
#include "proxyd/float_pub.h"
#include "proxyd/metrics.h"
#include "proxyd/iploc_client.h"

#define V6_BASE DP_RES_MAX_ADDRS /* AAAA answers start here in addrs[] */

/* ---- outcome mapping (g3: Socks5Reply::from / HttpProxyClientResponse) -- */

uint8_t escape_err_socks5(enum escape_err e)
{
	switch (e) {
	case ESCAPE_OK:
		return 0x00;
	case ESCAPE_FORBIDDEN:
		return 0x02;
	case ESCAPE_NET_UNREACH:
		return 0x03;
	case ESCAPE_RESOLVE_FAILED:
	case ESCAPE_NO_ADDRESS:
	case ESCAPE_HOST_UNREACH:
		return 0x04;
	case ESCAPE_REFUSED:
		return 0x05;
	case ESCAPE_TIMEOUT:
		return 0x09; /* g3's "connection timed out" (socks-6 draft) */
	case ESCAPE_NOT_USABLE:
	case ESCAPE_SETUP_FAILED:
	case ESCAPE_OTHER:
	case ESCAPE_PEER_FAILED:
		break;
	}
	return 0x01;
}

int escape_err_http(enum escape_err e)
{
	switch (e) {
	case ESCAPE_OK:
		return 200;
	case ESCAPE_FORBIDDEN:
		return 403;
	case ESCAPE_NOT_USABLE:
		return 503;
	case ESCAPE_RESOLVE_FAILED:
		return 530;
	case ESCAPE_NO_ADDRESS:
	case ESCAPE_OTHER:
	case ESCAPE_PEER_FAILED:
		return 502;
	case ESCAPE_REFUSED:
		return 521;
	case ESCAPE_TIMEOUT:
		return 522;
	case ESCAPE_NET_UNREACH:
	case ESCAPE_HOST_UNREACH:
		return 523;
	case ESCAPE_SETUP_FAILED:
		return 500;
	}
	return 500;
}

enum task_reason escape_err_reason(enum escape_err e)
{
	switch (e) {
	case ESCAPE_OK:
		return TASK_R_NONE;
	case ESCAPE_FORBIDDEN:
		return TASK_R_FORBIDDEN_BY_RULE;
	case ESCAPE_NOT_USABLE:
		return TASK_R_ESCAPER_NOT_USABLE;
	case ESCAPE_RESOLVE_FAILED:
		return TASK_R_UPSTREAM_NOT_RESOLVED;
	case ESCAPE_NO_ADDRESS:
		return TASK_R_UPSTREAM_NOT_AVAILABLE;
	case ESCAPE_SETUP_FAILED:
		return TASK_R_INTERNAL_SERVER_ERROR;
	case ESCAPE_PEER_FAILED:
		return TASK_R_UPSTREAM_NOT_NEGOTIATED;
	case ESCAPE_REFUSED:
	case ESCAPE_TIMEOUT:
	case ESCAPE_NET_UNREACH:
	case ESCAPE_HOST_UNREACH:
	case ESCAPE_OTHER:
		break;
	}
	return TASK_R_UPSTREAM_NOT_CONNECTED;
}

static enum escape_err errno_to_err(int err, const char **msg)
{
	switch (err) {
	case -ECONNREFUSED:
		*msg = "upstream not connected: connection refused";
		return ESCAPE_REFUSED;
	case -ECONNRESET:
		*msg = "upstream not connected: connection reset";
		return ESCAPE_REFUSED;
	case -ETIMEDOUT:
		*msg = "upstream not connected: connection timed out";
		return ESCAPE_TIMEOUT;
	case -ENETUNREACH:
		*msg = "upstream not connected: network unreachable";
		return ESCAPE_NET_UNREACH;
	case -EHOSTUNREACH:
	case -EHOSTDOWN:
		*msg = "upstream not connected: host unreachable";
		return ESCAPE_HOST_UNREACH;
	default:
		*msg = "upstream not connected: connect failed";
		return ESCAPE_OTHER;
	}
}

/* ---- helpers -------------------------------------------------------------- */

static struct conn *op_conn(struct escape_op *op)
{
	return container_of(op, struct conn, esc);
}

/* g3's TcpConnectError brief for an outcome of direct_fixed. */
static const char *tcp_connect_brief(enum escape_err e, const char *msg)
{
	switch (e) {
	case ESCAPE_FORBIDDEN:
		return strstr(msg, "family") ? "ForbiddenAddressFamily" : "ForbiddenRemoteAddress";
	case ESCAPE_NOT_USABLE:
		return "EscaperNotUsable";
	case ESCAPE_RESOLVE_FAILED:
		return "ResolveFailed";
	case ESCAPE_NO_ADDRESS:
		return "NoAddressConnected";
	case ESCAPE_SETUP_FAILED:
		return "SetupSocketFailed";
	case ESCAPE_PEER_FAILED:
		return "NegotiationFailed";
	case ESCAPE_OK:
	case ESCAPE_REFUSED:
	case ESCAPE_TIMEOUT:
	case ESCAPE_NET_UNREACH:
	case ESCAPE_HOST_UNREACH:
	case ESCAPE_OTHER:
		break;
	}
	return "ConnectFailed";
}

/* The escape log (§3.8): one TcpConnect record per failed connect of a
 * direct_fixed escaper, g3's keys and order. */
static void escape_log(struct conn *c, enum escape_err e, const char *msg)
{
	struct logger *lg = c->wk->sh->escape_log;
	const struct escaper_conf *esc = c->esc.esc;
	struct log_rec r;
	char id[33], up[272];

	if (!logger_enabled(lg) || esc == NULL ||
	    (esc->type != ESCAPER_DIRECT_FIXED && esc->type != ESCAPER_DIRECT_FLOAT))
		return;
	task_id_format(c->task.id, id);
	if (c->host_is_ip && c->host_addr.sa.sa_family == AF_INET6)
		snprintf(up, sizeof(up), "[%s]:%u", c->host, c->port);
	else
		snprintf(up, sizeof(up), "%s:%u", c->host, c->port);
	log_rec_init(&r, lg);
	log_rec_str(&r, "escaper_type",
		    esc->type == ESCAPER_DIRECT_FLOAT ? "DirectFloat" : "DirectFixed");
	log_rec_str(&r, "escaper_name", esc->name);
	log_rec_str(&r, "escape_type", "TcpConnect");
	log_rec_str(&r, "task_id", id);
	log_rec_str(&r, "upstream", up);
	if (c->task.has_bound)
		log_rec_addr(&r, "next_bound_addr", &c->task.bound.sa);
	if (c->task.has_peer)
		log_rec_addr(&r, "next_peer_addr", &c->task.peer.sa);
	log_rec_u64(&r, "tcp_connect_tries", c->task.connect_tries);
	log_rec_dur(&r, "tcp_connect_spend", c->task.connect_spend_ns);
	log_rec_str(&r, "reason", tcp_connect_brief(e, msg));
	log_rec_emit(&r, msg);
}

void escape_fail(struct conn *c, enum escape_err e, const char *msg)
{
	const struct escaper_conf *standby = c->esc.udp_standby;

	if (c->esc.udp && standby != NULL) {
		/* SOCKS UDP through route_failover: the primary failed */
		c->esc.udp_standby = NULL;
		escape_cancel(&c->esc);
		conn_up_close(c);
		escape_log(c, e, msg);
		escape_dispatch(c, standby);
		return;
	}
	c->esc.err = e;
	c->esc.msg = msg;
	escape_cancel(&c->esc);
	conn_up_close(c);
	escape_log(c, e, msg);
	conn_connect_done(c, e);
}

/* The escaper's strategy with no_ipv4 / no_ipv6 folded in, adjusted to
 * the user's (op->user_rs, direct targets only) as g3 does. */
static struct resolve_strategy op_strategy(const struct escape_op *op)
{
	const struct escaper_conf *e = op->esc;
	struct resolve_strategy es = e->resolve_strategy;

	if (!es.set) {
		es.set = true;
		es.query = RESOLVE_IPV4_FIRST;
		es.pick = RESOLVE_PICK_RANDOM;
	}
	if (e->no_ipv6)
		es.query = RESOLVE_IPV4_ONLY;
	else if (e->no_ipv4)
		es.query = RESOLVE_IPV6_ONLY;
	return resolve_strategy_adjust(&es, op->user_rs);
}

static bool family_allowed(const struct escaper_conf *e, int family)
{
	return family == AF_INET ? !e->no_ipv4 : !e->no_ipv6;
}

static void shuffle(struct dp_worker *wk, union dp_addr *v, unsigned n)
{
	for (unsigned i = n; i > 1; i--) {
		unsigned j = (unsigned)(dp_rand(wk) % i);
		union dp_addr t = v[i - 1];
		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* Order the answers as RFC 8305 §4 (shuffled first for pick Random):
 * happy_eyeballs.first_address_family_count addresses of the preferred
 * family, then the families alternate. Set the port, drop what the egress
 * filter forbids. */
static void build_list(struct conn *c)
{
	struct escape_op *op = &c->esc;
	const struct escaper_conf *e = op->esc;
	bool v6_first = op->rs.query == RESOLVE_IPV6_FIRST || op->rs.query == RESOLVE_IPV6_ONLY;
	bool random = op->rs.pick == RESOLVE_PICK_RANDOM;
	union dp_addr tmp[ESCAPE_MAX_ADDRS];
	const union dp_addr *pv = op->addrs + (v6_first ? V6_BASE : 0);
	const union dp_addr *ov = op->addrs + (v6_first ? 0 : V6_BASE);
	unsigned pn = v6_first ? op->n6 : op->n4, on = v6_first ? op->n4 : op->n6;
	unsigned first = e->happy_eyeballs.first_address_family_count, pi = 0, oi = 0, n = 0;

	if (random) {
		shuffle(c->wk, op->addrs, op->n4);
		shuffle(c->wk, op->addrs + V6_BASE, op->n6);
	}
	if (first == 0)
		first = 1;
	while (pi < pn && pi < first)
		tmp[n++] = pv[pi++];
	while (pi < pn || oi < on) {
		if (oi < on)
			tmp[n++] = ov[oi++];
		if (pi < pn)
			tmp[n++] = pv[pi++];
	}
	op->naddrs = 0;
	for (unsigned i = 0; i < n; i++) {
		sock_addr_set_port(&tmp[i].sa, op->dst_port);
		if (acl_forbids(acl_net_check(&e->egress_net_filter, &tmp[i].sa))) {
			op->forbidden_seen = true;
			continue;
		}
		op->addrs[op->naddrs++] = tmp[i];
	}
	if (op->sticky)
		uparams_sticky_order(op->addrs, op->naddrs, op->sticky_key);
	op->next = 0;
}

/* A bind address of the family, picked at random among bind_ip (for
 * direct_float: among the published bind IPs, escaper_float.c). 0 (*use
 * false: no bind_ip at all), -ENOENT when there is none of that family,
 * -ESRCH when no direct_float bind IP has the selected id. */
static int pick_bind(struct conn *c, int family, union dp_addr *out, bool *use)
{
	const struct ip_list *l = &c->esc.esc->bind_ips;
	unsigned cand = 0, pick;

	*use = false;
	if (c->esc.esc->type == ESCAPER_DIRECT_FLOAT) {
		int rc = escape_float_bind(c, family, out);
		*use = rc == 0;
		return rc;
	}
	if (l->n == 0)
		return 0;
	for (size_t i = 0; i < l->n; i++)
		cand += l->v[i].family == family;
	if (cand == 0)
		return -ENOENT;
	pick = (unsigned)(dp_rand(c->wk) % cand);
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].family != family)
			continue;
		if (pick-- == 0) {
			memset(out, 0, sizeof(*out));
			out->sa.sa_family = (sa_family_t)family;
			if (family == AF_INET)
				memcpy(&out->in.sin_addr, l->v[i].addr, 4);
			else
				memcpy(&out->in6.sin6_addr, l->v[i].addr, 16);
			*use = true;
			return 0;
		}
	}
	return -ENOENT;
}

/* The counters of the escaper running the connect (NULL: none). */
static struct metrics_esc *esc_stats(const struct conn *c)
{
	return c->esc.esc != NULL ? c->esc.esc->stats : NULL;
}

static void attempt_end(struct conn *c)
{
	uint64_t now = util_mono_ns();

	if (c->esc.attempt_ns != 0 && now > c->esc.attempt_ns)
		c->task.connect_spend_ns += now - c->esc.attempt_ns;
	c->esc.attempt_ns = 0;
}

static void connected(struct conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	attempt_end(c);
	metrics_esc_add(esc_stats(c), ME_TCP_CONNECT_ESTABLISH, 1);
	metrics_esc_add(esc_stats(c), ME_TCP_CONNECT_SUCCESS, 1);
	metrics_esc_add(esc_stats(c), ME_CONN_ESTABLISH, 1);
	if (getsockname(c->up.fd, (struct sockaddr *)&ss, &len) == 0) {
		dp_addr_set(&c->task.bound, (struct sockaddr *)&ss);
		c->task.has_bound = true;
	}
	if (sock_set_nodelay(c->up.fd, true) < 0)
		log_debug("upstream socket: TCP_NODELAY failed");
	if (escape_is_proxy(c->esc.esc)) {
		escape_proxy_connected(c);
		return;
	}
	conn_connect_done(c, ESCAPE_OK);
}

static bool more_to_try(const struct conn *c)
{
	return c->esc.next < c->esc.naddrs && c->task.connect_tries < c->esc.max_tries;
}

#define MS_NS 1000000ull

/* The connect timer fires at the earliest of: the current attempt's
 * each_timeout, the start of the next attempt (happy_eyeballs
 * connection_attempt_delay, RFC 8305 §5), a racing attempt's each_timeout. */
static void arm_connect_timer(struct conn *c)
{
	const struct escape_op *op = &c->esc;
	const struct escaper_conf *e = op->esc;
	uint64_t each = e->tcp_connect.each_timeout_ms * MS_NS;
	uint64_t delay = e->happy_eyeballs.connection_attempt_delay_ms * MS_NS;
	uint64_t now = util_mono_ns(), at = 0, oldest = he_oldest(c);

	if (c->up.fd >= 0 && op->attempt_ns != 0) {
		at = op->attempt_ns + each;
		if (delay > 0 && more_to_try(c) && op->attempt_ns + delay < at)
			at = op->attempt_ns + delay;
	}
	if (oldest != 0 && (at == 0 || oldest + each < at))
		at = oldest + each;
	if (at == 0)
		return;
	conn_arm_timer(c, at > now ? (at - now + MS_NS - 1) / MS_NS : 0, false);
}

/* Start attempts on the upstream endpoint until one connects or is
 * pending, or the list or the tries run out; then wait for the pending
 * ones (this one and the racing ones), or fail when none is left. */
static void connect_next(struct conn *c)
{
	struct escape_op *op = &c->esc;

	while (c->up.fd < 0 && more_to_try(c)) {
		union dp_addr *a = &op->addrs[op->next++];
		union dp_addr bind;
		bool use_bind;
		int fd, rc;

		rc = pick_bind(c, a->sa.sa_family, &bind, &use_bind);
		if (rc == -ESRCH) {
			escape_fail(c, ESCAPE_NOT_USABLE,
				    "escaper not usable: no bind IP with the selected ID");
			return;
		}
		if (rc < 0) {
			/* no bind_ip of this family */
			op->no_bind |= op->esc->type == ESCAPER_DIRECT_FLOAT;
			continue;
		}
		fd = sock_socket(a->sa.sa_family, SOCK_STREAM);
		if (fd < 0) {
			escape_fail(c, ESCAPE_SETUP_FAILED,
				    "cannot create a socket for the upstream");
			return;
		}
		if (use_bind && sock_bind(fd, &bind.sa, sock_addr_len(&bind.sa)) < 0) {
			close(fd);
			escape_fail(c, ESCAPE_SETUP_FAILED,
				    "cannot bind the upstream socket to bind_ip");
			return;
		}
		conn_up_attach(c, fd);
		c->task.connect_tries++;
		if (c->task.connect_tries == 1)
			metrics_esc_add(esc_stats(c), ME_CONN_ATTEMPT, 1);
		metrics_esc_add(esc_stats(c), ME_TCP_CONNECT_ATTEMPT, 1);
		dp_addr_set(&c->task.peer, &a->sa);
		c->task.has_peer = true;
		op->attempt_ns = util_mono_ns();
		rc = sock_connect(fd, &a->sa, sock_addr_len(&a->sa));
		if (c->state != CONN_ST_CONNECTING)
			conn_set_state(c, CONN_ST_CONNECTING);
		if (rc == 0) {
			he_free(c);
			connected(c);
			return;
		}
		if (rc == -EINPROGRESS) {
			c->up.ready = 0;
			break;
		}
		attempt_end(c);
		metrics_esc_add(esc_stats(c), ME_TCP_CONNECT_ERROR, 1);
		op->err = errno_to_err(rc, &op->msg);
		conn_up_close(c);
	}
	if (c->up.fd >= 0 || he_pending(c) > 0) {
		arm_connect_timer(c);
		return;
	}
	if (c->task.connect_tries == 0 && op->no_bind)
		escape_fail(c, ESCAPE_NOT_USABLE,
			    "escaper not usable: no bind IP of the address family published");
	else if (c->task.connect_tries == 0)
		escape_fail(c, ESCAPE_NO_ADDRESS, "no address to connect to");
	else
		escape_fail(c, op->err, op->msg);
}

/* ---- resolution --------------------------------------------------------- */

static const char *resolve_msg(int status)
{
	switch (status) {
	case -ENOENT:
		return "upstream not resolved: no address found";
	case -ETIMEDOUT:
		return "upstream not resolved: resolver timed out";
	case -ECONNREFUSED:
		return "upstream not resolved: refused by the DNS server";
	case -EACCES:
		return "upstream not resolved: denied by the resolver";
	default:
		return "upstream not resolved: resolver failure";
	}
}

/* Both wanted families answered (or the wait for the second ended). */
static void resolve_done(struct conn *c)
{
	struct escape_op *op = &c->esc;

	escape_cancel(op);
	if (op->n4 + op->n6 == 0) {
		int st = op->st4 != 0 ? op->st4 : op->st6;
		escape_fail(c, ESCAPE_RESOLVE_FAILED, resolve_msg(st != 0 ? st : -ENOENT));
		return;
	}
	build_list(c);
	if (op->naddrs == 0) {
		metrics_esc_add(esc_stats(c), ME_FORBID_IP_BLOCKED, 1);
		escape_fail(c, ESCAPE_FORBIDDEN, "forbidden by rule: egress network filter");
		return;
	}
	connect_next(c);
}

static void take_answer(struct escape_op *op, int family, const struct dp_resolve_result *res)
{
	unsigned base = family == AF_INET ? 0 : V6_BASE, n = 0;

	if (res->status == 0)
		for (unsigned i = 0; i < res->n && n < DP_RES_MAX_ADDRS; i++)
			if (res->addrs[i].sa.sa_family == family)
				op->addrs[base + n++] = res->addrs[i];
	if (family == AF_INET) {
		op->want4 = false;
		op->st4 = res->status;
		op->n4 = n;
	} else {
		op->want6 = false;
		op->st6 = res->status;
		op->n6 = n;
	}
}

/* Decide after an answer: go on, or wait (a little) for the other family. */
static void resolve_check(struct conn *c)
{
	struct escape_op *op = &c->esc;

	if (!op->want4 && !op->want6) {
		resolve_done(c);
		return;
	}
	/* One family has addresses: give the other one
	 * happy_eyeballs.resolution_delay, then go without it (RFC 8305 §3:
	 * a late or lost answer of either family never holds the connection
	 * up for the resolver's whole timeout). */
	if ((!op->want4 && op->n4 > 0) || (!op->want6 && op->n6 > 0))
		conn_arm_timer(c, op->esc->happy_eyeballs.resolution_delay_ms, false);
}

static void on_answer(struct dp_resolve_req *rq, const struct dp_resolve_result *res, int family)
{
	struct escape_op *op = family == AF_INET ? container_of(rq, struct escape_op, rq4)
						 : container_of(rq, struct escape_op, rq6);
	struct conn *c = op_conn(op);

	CHECK_OBJ(c, CONN_MAGIC);
	conn_hold(c);
	take_answer(op, family, res);
	if (!c->closing)
		resolve_check(c);
	conn_kick(c);
	conn_release(c);
}

static void on_answer4(struct dp_resolve_req *rq, const struct dp_resolve_result *res)
{
	on_answer(rq, res, AF_INET);
}

static void on_answer6(struct dp_resolve_req *rq, const struct dp_resolve_result *res)
{
	on_answer(rq, res, AF_INET6);
}

void escape_on_resolve_timeout(struct conn *c)
{
	struct escape_op *op = &c->esc;

	if (op->route != NULL) {
		if (op->route->type == ESCAPER_ROUTE_GEOIP)
			escape_geoip_on_timeout(c);
		else
			escape_route_on_timeout(c);
		return;
	}
	if (op->n4 + op->n6 > 0) {
		/* the other family took longer than resolution_delay */
		op->want4 = op->want6 = false;
		resolve_done(c);
		return;
	}
	escape_fail(c, ESCAPE_RESOLVE_FAILED, resolve_msg(-ETIMEDOUT));
}

static void start_resolve(struct conn *c)
{
	struct escape_op *op = &c->esc;
	enum resolve_query q = op->rs.query;
	struct dp_resolver *r = dp_resolver_get(c->gen, op->esc->resolver);
	struct dp_resolve_result res;

	op->want4 = q != RESOLVE_IPV6_ONLY;
	op->want6 = q != RESOLVE_IPV4_ONLY;
	if (c->state == CONN_ST_RESOLVING) /* after a route escaper's resolution */
		conn_arm_timer(c, 60000, false);
	else
		conn_set_state(c, CONN_ST_RESOLVING);
	if (op->want4 &&
	    dp_resolve_start(r, op->dst_host, AF_INET, &op->rq4, on_answer4, &res) == 1)
		take_answer(op, AF_INET, &res);
	if (op->want6 &&
	    dp_resolve_start(r, op->dst_host, AF_INET6, &op->rq6, on_answer6, &res) == 1)
		take_answer(op, AF_INET6, &res);
	resolve_check(c);
}

/* ---- entry points --------------------------------------------------------- */

void escape_start(struct conn *c)
{
	escape_failover_free(c);
	escape_proxy_fini(&c->esc);
	memset(&c->esc, 0, sizeof(c->esc));
	c->task.stage = TASK_STAGE_CONNECTING;
	escape_dispatch(c, c->srv->escaper);
}

void escape_start_udp(struct conn *c)
{
	escape_failover_free(c);
	escape_proxy_fini(&c->esc);
	memset(&c->esc, 0, sizeof(c->esc));
	c->esc.udp = true;
	escape_dispatch(c, c->srv->escaper);
}

/* Route escapers in a row (a route_geoip whose next is another route). */
#define ESCAPE_MAX_HOPS 8

void escape_dispatch(struct conn *c, const struct escaper_conf *e)
{
	struct escape_op *op = &c->esc;

	op->esc = e;
	op->route = NULL;
	op->user_rs = NULL;	       /* the user's strategy applies to direct targets only */
	if (op->hops > 0 && e != NULL) /* g3: the task's escaper is the one used */
		c->task.escaper = e->name;
	if (op->udp && e != NULL && e->type == ESCAPER_ROUTE_FAILOVER) {
		/* UDP has no connect to race: primary, standby if it fails */
		if (++op->hops > ESCAPE_MAX_HOPS) {
			escape_fail(c, ESCAPE_NOT_USABLE,
				    "escaper not usable: route escapers form a loop");
			return;
		}
		op->udp_standby = e->route.standby;
		escape_dispatch(c, e->route.primary);
		return;
	}
	if (e != NULL && (e->type == ESCAPER_ROUTE_GEOIP || e->type == ESCAPER_ROUTE_UPSTREAM ||
			  e->type == ESCAPER_ROUTE_CLIENT || e->type == ESCAPER_ROUTE_RESOLVED ||
			  e->type == ESCAPER_ROUTE_MAPPING || e->type == ESCAPER_ROUTE_FAILOVER ||
			  e->type == ESCAPER_ROUTE_SELECT || e->type == ESCAPER_ROUTE_QUERY ||
			  e->type == ESCAPER_TRICK_FLOAT)) {
		if (++op->hops > ESCAPE_MAX_HOPS) {
			escape_fail(c, ESCAPE_NOT_USABLE,
				    "escaper not usable: route escapers form a loop");
			return;
		}
		if (e->type == ESCAPER_ROUTE_GEOIP)
			escape_geoip_start(c, e);
		else
			escape_route_start(c, e);
		return;
	}
	if (e != NULL && escape_is_proxy(e)) {
		if (op->udp && (e->type == ESCAPER_PROXY_HTTP || e->type == ESCAPER_PROXY_HTTPS)) {
			escape_fail(c, ESCAPE_NOT_USABLE,
				    "escaper not usable: an http proxy cannot relay udp");
			return;
		}
		escape_proxy_start(c, e);
		return;
	}
	if (e == NULL || (e->type != ESCAPER_DIRECT_FIXED && e->type != ESCAPER_DIRECT_FLOAT)) {
		escape_fail(c, ESCAPE_FORBIDDEN,
			    "forbidden by rule: the escaper denies every request");
		return;
	}
	if (op->udp && e->type == ESCAPER_DIRECT_FLOAT) {
		escape_fail(c, ESCAPE_NOT_USABLE,
			    "escaper not usable: udp through direct_float is not supported yet");
		return;
	}
	if (op->udp) { /* direct_fixed: socks_udp.c sends from here */
		conn_connect_done(c, ESCAPE_OK);
		return;
	}
	if (e->type == ESCAPER_DIRECT_FLOAT) {
		float_set_unref(op->fset); /* a route's earlier pick */
		op->fset = float_pub_get(e->name);
	}
	escape_direct(c);
}

void escape_connect(struct conn *c, const char *host, uint16_t port, bool is_ip,
		    const union dp_addr *ip)
{
	struct escape_op *op = &c->esc;
	const struct escaper_conf *e = op->esc;

	op->max_tries = e->tcp_connect.max_retry + 1;
	op->dst_host = host;
	op->dst_port = port;
	op->rs = op_strategy(op);
	if (!is_ip) {
		if (e->resolver == NULL) {
			escape_fail(c, ESCAPE_NOT_USABLE, "escaper not usable: no resolver");
			return;
		}
		start_resolve(c);
		return;
	}
	if (!family_allowed(e, ip->sa.sa_family)) {
		escape_fail(c, ESCAPE_FORBIDDEN, "forbidden by rule: address family disabled");
		return;
	}
	if (ip->sa.sa_family == AF_INET) {
		op->addrs[0] = *ip;
		op->n4 = 1;
	} else {
		op->addrs[V6_BASE] = *ip;
		op->n6 = 1;
	}
	build_list(c);
	if (op->naddrs == 0) {
		metrics_esc_add(esc_stats(c), ME_FORBID_IP_BLOCKED, 1);
		escape_fail(c, ESCAPE_FORBIDDEN, "forbidden by rule: egress network filter");
		return;
	}
	connect_next(c);
}

void escape_connect_ips(struct conn *c, const struct ip_list *ips, uint16_t port)
{
	struct escape_op *op = &c->esc;
	const struct escaper_conf *e = op->esc;

	op->max_tries = e->tcp_connect.max_retry + 1;
	op->dst_host = c->host;
	op->dst_port = port;
	op->rs = op_strategy(op);
	for (size_t i = 0; i < ips->n; i++) {
		const struct conf_net *n = &ips->v[i];
		bool v4 = n->family == AF_INET;
		union dp_addr a;
		if ((v4 && (op->rs.query == RESOLVE_IPV6_ONLY || op->n4 >= DP_RES_MAX_ADDRS)) ||
		    (!v4 && (op->rs.query == RESOLVE_IPV4_ONLY || op->n6 >= DP_RES_MAX_ADDRS)) ||
		    !family_allowed(e, n->family))
			continue;
		memset(&a, 0, sizeof(a));
		a.sa.sa_family = (sa_family_t)n->family;
		if (v4) {
			memcpy(&a.in.sin_addr, n->addr, 4);
			op->addrs[op->n4++] = a;
		} else {
			memcpy(&a.in6.sin6_addr, n->addr, 16);
			op->addrs[V6_BASE + op->n6++] = a;
		}
	}
	if (op->n4 + op->n6 == 0) {
		escape_fail(c, ESCAPE_NO_ADDRESS,
			    "resolve redirection: no address of an allowed family");
		return;
	}
	build_list(c);
	if (op->naddrs == 0) {
		metrics_esc_add(esc_stats(c), ME_FORBID_IP_BLOCKED, 1);
		escape_fail(c, ESCAPE_FORBIDDEN, "forbidden by rule: egress network filter");
		return;
	}
	connect_next(c);
}

int escape_on_connecting(struct conn *c)
{
	int rc;

	if (!(c->up.ready & EV_WRITE) || c->up.fd < 0)
		return CONN_WAIT;
	rc = sock_connect_result(c->up.fd);
	if (rc == -EINPROGRESS) {
		c->up.ready &= ~EV_WRITE;
		return CONN_WAIT;
	}
	if (rc == 0) {
		he_free(c); /* the attempts it overtook lose */
		connected(c);
		return CONN_AGAIN;
	}
	attempt_end(c);
	metrics_esc_add(esc_stats(c), ME_TCP_CONNECT_ERROR, 1);
	c->esc.err = errno_to_err(rc, &c->esc.msg);
	conn_up_close(c);
	connect_next(c); /* a failed attempt starts the next one at once */
	return CONN_AGAIN;
}

void escape_on_timeout(struct conn *c)
{
	struct escape_op *op = &c->esc;
	const struct escaper_conf *e = op->esc;
	uint64_t each = e->tcp_connect.each_timeout_ms * MS_NS;
	uint64_t delay = e->happy_eyeballs.connection_attempt_delay_ms * MS_NS;
	uint64_t now = util_mono_ns();
	unsigned expired = he_expire(c, now, each);

	if (expired > 0) {
		metrics_esc_add(esc_stats(c), ME_TCP_CONNECT_TIMEOUT, expired);
		op->err = errno_to_err(-ETIMEDOUT, &op->msg);
	}
	if (c->up.fd >= 0 && op->attempt_ns != 0 && now >= op->attempt_ns + each) {
		attempt_end(c);
		metrics_esc_add(esc_stats(c), ME_TCP_CONNECT_TIMEOUT, 1);
		op->err = errno_to_err(-ETIMEDOUT, &op->msg);
		conn_up_close(c);
	} else if (c->up.fd >= 0 && op->attempt_ns != 0 && delay > 0 && more_to_try(c) &&
		   now >= op->attempt_ns + delay) {
		/* RFC 8305 §5: the attempt is slow; the next one starts and
		 * both race */
		union dp_addr a = c->task.peer;
		uint64_t start = op->attempt_ns;
		attempt_end(c);
		if (he_push(c, &a, start) < 0)
			op->attempt_ns = start; /* no room: keep waiting on it */
	}
	connect_next(c);
}

void escape_he_result(struct conn *c, int fd, int rc, const union dp_addr *addr, uint64_t start_ns)
{
	struct escape_op *op = &c->esc;

	if (fd >= 0) {
		/* an overtaken attempt connected first: it wins */
		uint64_t now = util_mono_ns();
		attempt_end(c);
		conn_up_close(c);
		he_free(c);
		conn_up_attach(c, fd);
		dp_addr_set(&c->task.peer, &addr->sa);
		if (now > start_ns)
			c->task.connect_spend_ns += now - start_ns;
		connected(c);
		return;
	}
	metrics_esc_add(esc_stats(c), ME_TCP_CONNECT_ERROR, 1);
	op->err = errno_to_err(rc, &op->msg);
	if (c->up.fd < 0)
		connect_next(c);
}

void escape_cancel(struct escape_op *op)
{
	he_free(op_conn(op));
	escape_proxy_cancel(op);
	dp_resolve_cancel(&op->rq4);
	dp_resolve_cancel(&op->rq6);
	if (op->geo_handle != 0 && op->geo_client != NULL)
		(void)iploc_client_cancel(op->geo_client, op->geo_handle);
	op->geo_handle = 0;
	escape_query_cancel(op);
}
