/* route_upstream, route_client, route_resolved and route_mapping on the
 * data path (see escaper.h): each picks the next escaper and continues
 * with escape_dispatch(). route_upstream and route_client decide at once
 * from the target / the client address (route_match.c). route_resolved
 * resolves the target with its resolver, waiting resolution_delay for the
 * preferred family once the other one answered, and matches the first
 * address (an IP literal needs no resolution); no answer at all goes to
 * default_next. route_mapping takes the task's path selection index
 * (1-based, wraps; egress_path_selection_header), else a random next.
 * route_select picks by next_pick_policy over the weighted next_nodes.
 * route_failover lives in escaper_failover.c. */
#include "proxyd/dp/escaper.h"

#include <string.h>

#include "common/log.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/pick.h"
#include "proxyd/dp/route_match.h"

static void go_next(struct conn *c, const struct escaper_conf *next)
{
	struct escape_op *op = &c->esc;

	escape_cancel(op);
	op->route = NULL;
	escape_dispatch(c, next);
}

/* ---- route_resolved ------------------------------------------------------- */

static bool prefer_v6(const struct escaper_conf *e)
{
	return e->resolve_strategy.query == RESOLVE_IPV6_FIRST ||
	       e->resolve_strategy.query == RESOLVE_IPV6_ONLY;
}

static void decide_addr(struct conn *c, const struct escaper_conf *e, const struct sockaddr *sa)
{
	const struct escaper_conf *next = route_match_ip(&e->route, sa);

	go_next(c, next != NULL ? next : e->route.default_next);
}

/* After an answer: the preferred family's address decides; the other
 * family's decides once the preferred one failed, or after
 * resolution_delay (escape_route_on_timeout). */
static void resolved_check(struct conn *c)
{
	struct escape_op *op = &c->esc;
	const struct escaper_conf *e = op->route;
	bool v6 = prefer_v6(e);
	bool pref_want = v6 ? op->rt_want6 : op->rt_want4;
	bool pref_got = v6 ? op->rt_got6 : op->rt_got4;
	bool oth_want = v6 ? op->rt_want4 : op->rt_want6;
	bool oth_got = v6 ? op->rt_got4 : op->rt_got6;
	const union dp_addr *pref = v6 ? &op->rt_a6 : &op->rt_a4;
	const union dp_addr *oth = v6 ? &op->rt_a4 : &op->rt_a6;

	if (pref_got) {
		decide_addr(c, e, &pref->sa);
		return;
	}
	if (!pref_want) {
		if (oth_got)
			decide_addr(c, e, &oth->sa);
		else if (!oth_want) {
			log_debug("escaper '%s': '%s' not resolved, using default_next", e->name,
				  c->host);
			go_next(c, e->route.default_next);
		}
		return;
	}
	if (oth_got) /* give the preferred family resolution_delay */
		conn_arm_timer(c, e->route.resolution_delay_ms, false);
}

static void take(struct escape_op *op, int family, const struct dp_resolve_result *res)
{
	bool got = false;
	union dp_addr *out = family == AF_INET ? &op->rt_a4 : &op->rt_a6;

	if (res->status == 0)
		for (unsigned i = 0; i < res->n && !got; i++)
			if (res->addrs[i].sa.sa_family == family) {
				*out = res->addrs[i];
				got = true;
			}
	if (family == AF_INET) {
		op->rt_want4 = false;
		op->rt_got4 = got;
	} else {
		op->rt_want6 = false;
		op->rt_got6 = got;
	}
}

static void on_answer(struct dp_resolve_req *rq, const struct dp_resolve_result *res, int family)
{
	struct escape_op *op = family == AF_INET ? container_of(rq, struct escape_op, rq4)
						 : container_of(rq, struct escape_op, rq6);
	struct conn *c = container_of(op, struct conn, esc);

	CHECK_OBJ(c, CONN_MAGIC);
	conn_hold(c);
	if (!c->closing && op->route != NULL && op->route->type == ESCAPER_ROUTE_RESOLVED) {
		take(op, family, res);
		resolved_check(c);
	}
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

static void resolved_start(struct conn *c, const struct escaper_conf *e)
{
	struct escape_op *op = &c->esc;
	enum resolve_query q = e->resolve_strategy.query;
	struct dp_resolver *r;
	struct dp_resolve_result res;

	if (c->host_is_ip) {
		decide_addr(c, e, &c->host_addr.sa);
		return;
	}
	if (e->resolver == NULL) {
		escape_fail(c, ESCAPE_NOT_USABLE, "escaper not usable: no resolver");
		return;
	}
	r = dp_resolver_get(c->gen, e->resolver);
	op->route = e;
	op->rt_want4 = q != RESOLVE_IPV6_ONLY;
	op->rt_want6 = q != RESOLVE_IPV4_ONLY;
	op->rt_got4 = op->rt_got6 = false;
	if (c->state != CONN_ST_RESOLVING)
		conn_set_state(c, CONN_ST_RESOLVING);
	else
		conn_arm_timer(c, 60000, false);
	/* the answers may come at once (cache): both requests are started
	 * before deciding, so a decision never races a request being set up */
	bool sync4 = false, sync6 = false;
	struct dp_resolve_result res6;
	if (op->rt_want4 && dp_resolve_start(r, c->host, AF_INET, &op->rq4, on_answer4, &res) == 1)
		sync4 = true;
	if (op->rt_want6 &&
	    dp_resolve_start(r, c->host, AF_INET6, &op->rq6, on_answer6, &res6) == 1)
		sync6 = true;
	if (sync4)
		take(op, AF_INET, &res);
	if (sync6)
		take(op, AF_INET6, &res6);
	resolved_check(c);
}

void escape_route_on_timeout(struct conn *c)
{
	struct escape_op *op = &c->esc;
	const struct escaper_conf *e = op->route;
	bool v6 = prefer_v6(e);

	if (e->type == ESCAPER_ROUTE_QUERY) {
		escape_query_on_timeout(c);
		return;
	}

	if (v6 ? op->rt_got4 : op->rt_got6) {
		decide_addr(c, e, v6 ? &op->rt_a4.sa : &op->rt_a6.sa);
		return;
	}
	log_debug("escaper '%s': no answer in time for '%s', using default_next", e->name, c->host);
	go_next(c, e->route.default_next);
}

/* ---- route_mapping ------------------------------------------------------------- */

static void mapping_start(struct conn *c, const struct escaper_conf *e)
{
	const struct route_conf *r = &e->route;
	size_t i;

	if (c->path_id != 0)
		i = (size_t)((c->path_id - 1) % r->n_next);
	else
		i = (size_t)(dp_rand(c->wk) % r->n_next);
	go_next(c, r->next[i]);
}

/* ---- route_select ------------------------------------------------------------- */

/* next_pick_policy over next_nodes; the hash policies key on the client
 * IP and the target host (g3: client-ip[-user]-host). */
static void select_start(struct conn *c, const struct escaper_conf *e)
{
	const struct route_conf *r = &e->route;
	size_t i;

	if (r->pick == NULL) {
		i = (size_t)(dp_rand(c->wk) % r->n_next);
	} else {
		uint64_t key =
			pick_policy_is_hash(pick_set_policy(r->pick))
				? pick_key_client_user_host(&c->client_addr.sa, NULL, c->host)
				: dp_rand(c->wk);
		i = pick_select(r->pick, key);
	}
	go_next(c, r->next[i]);
}

/* ---- keep-alive pooling ---------------------------------------------------------- */

static bool det(const struct escaper_conf *e, unsigned depth);

static bool det_hosts(const struct route_host_rule *v, size_t n, unsigned depth)
{
	for (size_t i = 0; i < n; i++)
		if (!det(v[i].next, depth))
			return false;
	return true;
}

static bool det_nets(const struct route_net_rule *v, size_t n, unsigned depth)
{
	for (size_t i = 0; i < n; i++)
		if (!det(v[i].next, depth))
			return false;
	return true;
}

/* The escaper's choice depends on the target only (at most 8 hops). */
static bool det(const struct escaper_conf *e, unsigned depth)
{
	const struct route_conf *r;

	if (e == NULL || depth > 8)
		return e == NULL;
	r = &e->route;
	switch (e->type) {
	case ESCAPER_ROUTE_CLIENT:
	case ESCAPER_ROUTE_MAPPING:
	case ESCAPER_ROUTE_FAILOVER:
	case ESCAPER_ROUTE_SELECT:
	case ESCAPER_ROUTE_QUERY:
	case ESCAPER_TRICK_FLOAT:
	case ESCAPER_DIRECT_FLOAT: /* the bind IP is chosen per connection */
		return false;
	case ESCAPER_ROUTE_GEOIP:
		for (size_t i = 0; i < e->geoip.n_rules; i++)
			if (!det(e->geoip.rules[i].next, depth + 1))
				return false;
		return det(e->geoip.default_next, depth + 1);
	case ESCAPER_ROUTE_UPSTREAM:
	case ESCAPER_ROUTE_RESOLVED:
		for (size_t i = 0; i < r->n_regexes; i++)
			if (!det(r->regexes[i].next, depth + 1))
				return false;
		return det_hosts(r->exact_hosts, r->n_exact_hosts, depth + 1) &&
		       det_hosts(r->children, r->n_children, depth + 1) &&
		       det_hosts(r->suffixes, r->n_suffixes, depth + 1) &&
		       det_nets(r->exact_ips, r->n_exact_ips, depth + 1) &&
		       det_nets(r->subnets, r->n_subnets, depth + 1) &&
		       det(r->default_next, depth + 1);
	default: /* the non-route escapers */
		return true;
	}
}

bool escape_poolable(const struct escaper_conf *e)
{
	return e != NULL && det(e, 0);
}

/* ---- entry point ------------------------------------------------------------------ */

void escape_route_start(struct conn *c, const struct escaper_conf *e)
{
	const struct escaper_conf *next;

	switch (e->type) {
	case ESCAPER_ROUTE_UPSTREAM:
		next = route_match_upstream(&e->route, c->host,
					    c->host_is_ip ? &c->host_addr.sa : NULL);
		go_next(c, next != NULL ? next : e->route.default_next);
		return;
	case ESCAPER_ROUTE_CLIENT:
		next = route_match_ip(&e->route, &c->client_addr.sa);
		go_next(c, next != NULL ? next : e->route.default_next);
		return;
	case ESCAPER_ROUTE_RESOLVED:
		resolved_start(c, e);
		return;
	case ESCAPER_ROUTE_MAPPING:
		mapping_start(c, e);
		return;
	case ESCAPER_ROUTE_FAILOVER:
		escape_failover_start(c, e);
		return;
	case ESCAPER_ROUTE_SELECT:
		select_start(c, e);
		return;
	case ESCAPER_ROUTE_QUERY:
		escape_query_start(c, e);
		return;
	case ESCAPER_TRICK_FLOAT:
		go_next(c, e->route.next[escape_trick_pick(e, dp_rand(c->wk))]);
		return;
	default:
		break;
	}
	escape_fail(c, ESCAPE_NOT_USABLE, "escaper not usable: unknown route escaper");
}
