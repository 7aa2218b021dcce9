/* Escapers on the data path: how a connection reaches its target.
 * direct_fixed resolves the host with its resolver (A / AAAA per
 * resolve_strategy, no_ipv4 / no_ipv6), drops addresses its
 * egress_network_filter forbids, then connects to the addresses in turn
 * (tcp_connect.max_retry + 1 tries, each bounded by each_timeout), binding
 * to bind_ip when set. dummy_deny refuses everything.
 *
 * The operation state lives in the connection (struct escape_op) and uses
 * the connection's upstream endpoint and timer; resolver requests are
 * cancelled at teardown (escape_cancel). The outcome goes to
 * conn_connect_done() with an enum escape_err that each protocol maps to
 * its reply (escape_err_socks5(), escape_err_http()). */
#ifndef G3C_PROXYD_DP_ESCAPER_H
#define G3C_PROXYD_DP_ESCAPER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxyd/config.h"
#include "proxyd/dp/dp.h"
#include "proxyd/dp/resolver.h"
#include "proxyd/dp/tasklog.h"

#define ESCAPE_MAX_ADDRS (2 * DP_RES_MAX_ADDRS)

enum escape_err {
	ESCAPE_OK = 0,
	ESCAPE_FORBIDDEN,      /* dummy_deny, egress filter, address family */
	ESCAPE_NOT_USABLE,     /* escaper cannot serve this (internal fallback) */
	ESCAPE_RESOLVE_FAILED, /* the name did not resolve */
	ESCAPE_NO_ADDRESS,     /* nothing left to try */
	ESCAPE_REFUSED,	       /* connection refused or reset */
	ESCAPE_TIMEOUT,	       /* each_timeout elapsed */
	ESCAPE_NET_UNREACH,
	ESCAPE_HOST_UNREACH,
	ESCAPE_SETUP_FAILED, /* socket / bind failed locally */
	ESCAPE_OTHER,	     /* any other connect error */
	ESCAPE_PEER_FAILED,  /* the next-hop proxy refused or broke the negotiation */
};

struct he_race;
struct peer_nego;
struct float_set;
struct float_peer;

struct escape_op {
	const struct escaper_conf *esc;
	struct dp_resolve_req rq4, rq6;
	bool want4, want6; /* families still expected from the resolver */
	int st4, st6;	   /* resolver status per family (0 = addresses) */
	unsigned n4, n6;   /* answers per family: addrs[0..n4) and addrs[16..16+n6) */
	union dp_addr addrs[ESCAPE_MAX_ADDRS]; /* then ordered and filtered in place */
	unsigned naddrs, next;
	unsigned max_tries;
	bool forbidden_seen;  /* the egress filter dropped an address */
	uint64_t attempt_ns;  /* start of the current attempt */
	struct he_race *race; /* overtaken attempts still connecting (escaper_he.h) */
	enum escape_err err;  /* last failure */
	const char *msg;      /* static text for the task log */
	/* route escapers (escaper_geoip.c) in front of the final one */
	const struct escaper_conf *route; /* the route_geoip being decided, NULL otherwise */
	struct iploc_client *geo_client;  /* the generation's, while geo_handle is set */
	uint64_t geo_handle;		  /* pending iplocd lookup, 0 = none */
	bool geo_resolving;		  /* rq4 / rq6 belong to the route's resolution */
	unsigned hops;			  /* route escapers passed */
	/* route_resolved (escaper_route.c): first address per family */
	bool rt_want4, rt_want6, rt_got4, rt_got6;
	union dp_addr rt_a4, rt_a6;
	/* route_failover (escaper_failover.c) */
	struct route_failover *fo; /* a failover decided on this conn (owned) */
	struct conn *fo_parent;	   /* this conn is the standby attempt of fo_parent */
	/* route_query (escaper_query.c): the pending agent query */
	struct rpc_client *rq_client; /* the generation's, while rq_handle is set */
	uint64_t rq_handle;	      /* 0 = none */
	/* what is being connected: the target, or a proxy escaper's peer */
	const char *dst_host;
	uint16_t dst_port;
	/* proxy escapers (escaper_proxy.c) */
	const struct proxy_peer *peer; /* picked from proxy_addr */
	struct peer_nego *nego;	       /* owned while negotiating (CONN_ST_PEER_NEGO) */
	uint64_t nego_start_ns;	       /* peer connected: peer_negotiation_timeout runs */
	struct float_set *fset;	       /* proxy_float / direct_float: reference while used */
	const struct float_peer *fpeer;
	/* SOCKS UDP (escape_start_udp): the final escaper sets up UDP instead
	 * of a TCP connect. direct_fixed succeeds at once; proxy_socks5 opens
	 * the control connection and negotiates UDP ASSOCIATE; the others fail.
	 * route_failover runs primary, then standby once primary failed. */
	bool udp;
	const struct escaper_conf *udp_standby; /* route_failover's standby, not tried yet */
	union dp_addr udp_relay;		/* proxy_socks5: where the peer relays (port set) */
	/* username params' resolve_sticky_key: jump-hash pick among the peer's
	 * resolved addresses (uparams_sticky_order) */
	bool sticky;
	uint64_t sticky_key;
	/* an https:// forward went to a proxy_http peer in absolute form
	 * (http_forward_capability.forward_https): no TLS to the origin here */
	bool fwd_by_peer;
	/* direct targets (escaper_target.c): the user's or site's
	 * resolve_strategy (borrowed, NULL = none), the strategy in use and
	 * the name resolve_redirection gave */
	const struct resolve_strategy *user_rs;
	struct resolve_strategy rs;
	char redir[256];
	bool no_bind; /* direct_float: an address was skipped for want of a bind IP */
};

struct conn;
struct rpc_client;

/* Start reaching c->host:c->port with the server's escaper. Moves c to
 * RESOLVING or CONNECTING, or reports the outcome at once. */
void escape_start(struct conn *c);
/* The same for a SOCKS UDP association (op->udp): routes decide on
 * c->host:c->port (the first datagram's target, or empty), then the
 * outcome goes to conn_connect_done() with c->esc.esc the escaper that
 * carries the datagrams and, for proxy_socks5, c->up the control
 * connection and c->esc.udp_relay the peer's relay address. */
void escape_start_udp(struct conn *c);

/* State handlers and timer (conn.c's table calls them). */
int escape_on_connecting(struct conn *c);
void escape_on_timeout(struct conn *c);
void escape_on_resolve_timeout(struct conn *c);

/* Cancel pending resolver requests and iplocd lookups (teardown). */
void escape_cancel(struct escape_op *op);

/* Continue with escaper e (a route escaper's pick; escaper.c). */
void escape_dispatch(struct conn *c, const struct escaper_conf *e);
/* Fail the operation (escaper.c). */
void escape_fail(struct conn *c, enum escape_err e, const char *msg);

/* Resolve (unless is_ip: then ip, port set) and connect host:port with
 * op->esc's resolver, bind addresses, egress filter and tcp_connect
 * (escaper.c; direct_fixed's target, a proxy escaper's peer). host is
 * borrowed until the connect ends. */
void escape_connect(struct conn *c, const char *host, uint16_t port, bool is_ip,
		    const union dp_addr *ip);

/* Connect to one of ips (a resolve redirection's) at port, as
 * escape_connect() does with resolved addresses (escaper.c). ips is
 * borrowed from the config. */
void escape_connect_ips(struct conn *c, const struct ip_list *ips, uint16_t port);

/* direct_fixed's target c->host:c->port (escaper_target.c): the user's
 * (or site's) resolve_strategy and the user's then the escaper's
 * resolve_redirection applied, then escape_connect() or
 * escape_connect_ips(). */
void escape_direct(struct conn *c);

/* Proxy escapers (escaper_proxy.c): proxy_http, proxy_https, proxy_socks5,
 * proxy_socks5s. start picks a peer and connects to it; connected runs
 * after the TCP connect (PROXY header, TLS in CONN_ST_TLS_CONNECT for
 * proxy_https / proxy_socks5s, then the peer's handshake in
 * CONN_ST_PEER_NEGO, then conn_connect_done()). */
bool escape_is_proxy(const struct escaper_conf *e);
void escape_proxy_start(struct conn *c, const struct escaper_conf *e);
void escape_proxy_connected(struct conn *c);
int escape_proxy_on_nego(struct conn *c);
void escape_proxy_on_nego_timeout(struct conn *c);
/* HTTP forward through e when it is proxy_http(s): the request head goes
 * in absolute form with the escaper's Proxy-Authorization (fresh and
 * pooled upstream connections alike). 0 (also for other escapers) or
 * -ENOSPC / -ENOMEM. */
int escape_proxy_fwd_prepare(struct conn *c, const struct escaper_conf *e) MUST_CHECK;
/* Free the negotiation state (escape_cancel). */
void escape_proxy_cancel(struct escape_op *op);
/* Release everything the operation holds (conn teardown, next request). */
void escape_proxy_fini(struct escape_op *op);
/* May the upstream connection of a finished forward go to the keep-alive
 * pool (keyed by the server's escaper)? reused: it came from the pool. */
bool escape_proxy_poolable(const struct conn *c, bool reused);

/* Float escapers (escaper_float.c). The string id egress path selection
 * gives escaper e for c: the user's egress_path_id_map entry for e, else
 * the egress_path_selection_header's string id; NULL = none. */
const char *escape_float_path_id(const struct conn *c, const struct escaper_conf *e);
/* direct_float: a bind address of family for the connect (op->fset);
 * 0, -ENOENT (no usable bind IP of the family) or -ESRCH (no usable bind
 * IP has the selected id). */
int escape_float_bind(struct conn *c, int family, union dp_addr *out) MUST_CHECK;
/* trick_float: the index of the next escaper for random number rnd
 * (weighted random over `next`). */
size_t escape_trick_pick(const struct escaper_conf *e, uint64_t rnd);

/* route_geoip (escaper_geoip.c): pick the next escaper for c's target and
 * call escape_dispatch() with it, now or from a callback. */
void escape_geoip_start(struct conn *c, const struct escaper_conf *e);
/* The RESOLVING guard timer fired while route_geoip was deciding. */
void escape_geoip_on_timeout(struct conn *c);
/* Free the iplocd clients of a generation (worker.c at gen_free). */
void escape_geoip_free_clients(struct dp_gen *g);

/* route_upstream / route_client / route_resolved / route_mapping /
 * route_failover (escaper_route.c): pick the next escaper and call
 * escape_dispatch(), now or from a callback. */
void escape_route_start(struct conn *c, const struct escaper_conf *e);
/* Whether upstream connections made through e may be kept alive in the
 * pool (keyed by e's name and the target): false when e's choice depends
 * on more than the target (route_client, route_mapping, route_failover,
 * route_select, route_query, trick_float, direct_float anywhere behind
 * it), so a pooled connection never bypasses a rule or a bind IP pick. */
bool escape_poolable(const struct escaper_conf *e);
/* The RESOLVING timer fired while route_resolved was deciding. */
void escape_route_on_timeout(struct conn *c);

/* route_query (escaper_query.c): ask the agent (cached), then
 * escape_dispatch() the answer or fallback_node. */
void escape_query_start(struct conn *c, const struct escaper_conf *e);
void escape_query_on_timeout(struct conn *c);
void escape_query_cancel(struct escape_op *op);
/* Free the agent clients and caches of a generation (worker.c). */
void escape_query_free_clients(struct dp_gen *g);

/* route_failover (escaper_failover.c): run primary now and standby after
 * fallback_delay (or as soon as primary fails) on a shadow connection;
 * the first success wins, the other attempt is closed. */
void escape_failover_start(struct conn *c, const struct escaper_conf *e);
/* conn_connect_done() of a conn in a failover: true when the outcome was
 * taken (the other attempt decides), false to go on with it. */
bool escape_failover_done(struct conn *c, enum escape_err err);
/* Drop the failover state of c (teardown; the standby is closed). */
void escape_failover_free(struct conn *c);

/* Reply codes and task reason of an outcome. */
uint8_t escape_err_socks5(enum escape_err e);
int escape_err_http(enum escape_err e);
enum task_reason escape_err_reason(enum escape_err e);

#endif
