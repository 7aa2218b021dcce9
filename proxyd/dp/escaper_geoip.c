/* route_geoip on the data path (see escaper.h): resolve the target with
 * the route's resolver (an IP literal needs none), pick the next escaper by
 * the rules' networks (longest prefix, no iplocd query), else ask iplocd
 * through the generation's iploc_client and match AS number, then country,
 * then continent; anything else, and any failure (no address, iplocd slow or
 * down), goes to default_next. The conn waits in RESOLVING; its pending
 * lookup is cancelled by escape_cancel(). */
#include "proxyd/dp/escaper.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "proxyd/dp/conn.h"
#include "proxyd/iploc_client.h"

/* One iplocd client per route_geoip escaper of a generation (owned). */
struct dp_geo {
	struct dp_geo *next;
	const struct escaper_conf *esc;
	struct iploc_client *client;
};

void escape_geoip_free_clients(struct dp_gen *g)
{
	struct dp_geo *x = g->geos, *nx;

	for (; x != NULL; x = nx) {
		nx = x->next;
		iploc_client_free(x->client);
		free(x);
	}
	g->geos = NULL;
}

/* The generation's client for e, created on first use (NULL on failure). */
static struct iploc_client *geo_client(struct dp_gen *g, const struct escaper_conf *e)
{
	const struct route_geoip_conf *gc = &e->geoip;
	struct iploc_client_conf cc;
	struct iploc_client *cl;
	struct dp_geo *x;
	int err = 0;

	for (x = g->geos; x != NULL; x = x->next)
		if (x->esc == e)
			return x->client;
	iploc_client_conf_defaults(&cc);
	cc.url = gc->url;
	cc.query_wait_timeout_ms = (uint32_t)gc->query_wait_timeout_ms;
	cc.default_expire_ttl = gc->default_expire_ttl;
	cc.maximum_expire_ttl = gc->maximum_expire_ttl;
	cc.cache_size = gc->cache_size;
	cc.batch = gc->batch;
	cc.down_backoff_ms = (uint32_t)gc->down_backoff_ms;
	cl = iploc_client_new(g->wk->loop, &cc, &err);
	if (cl == NULL) {
		log_warn("escaper '%s': cannot open ip_locate_service %s: %s", e->name, gc->url,
			 strerror(-err));
		return NULL;
	}
	x = xcalloc(1, sizeof(*x));
	x->esc = e;
	x->client = cl;
	x->next = g->geos;
	g->geos = x;
	return cl;
}

static void go_next(struct conn *c, const struct escaper_conf *next)
{
	struct escape_op *op = &c->esc;

	op->route = NULL;
	op->geo_resolving = false;
	op->geo_client = NULL;
	escape_dispatch(c, next);
}

/* ---- matching ------------------------------------------------------------- */

/* The address as 4 (IPv4, also v4-mapped IPv6) or 16 bytes. */
static int addr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return AF_INET;
	}
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		memcpy(out, a6->s6_addr + 12, 4);
		return AF_INET;
	}
	memcpy(out, a6->s6_addr, 16);
	return AF_INET6;
}

static bool net_has(const struct conf_net *n, int fam, const uint8_t a[16])
{
	unsigned full = n->prefix / 8u, rest = n->prefix % 8u;

	if (n->family != fam)
		return false;
	if (memcmp(n->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8u - rest));
	return (n->addr[full] & mask) == (a[full] & mask);
}

/* The next escaper of the longest network containing sa, or NULL. */
static const struct escaper_conf *match_networks(const struct route_geoip_conf *g,
						 const struct sockaddr *sa)
{
	const struct escaper_conf *best = NULL;
	int best_len = -1, fam;
	uint8_t a[16];

	fam = addr_bytes(sa, a);
	for (size_t i = 0; i < g->n_rules; i++) {
		const struct geo_rule *r = &g->rules[i];
		for (size_t k = 0; k < r->networks.n; k++) {
			const struct conf_net *n = &r->networks.v[k];
			if ((int)n->prefix > best_len && net_has(n, fam, a)) {
				best = r->next;
				best_len = n->prefix;
			}
		}
	}
	return best;
}

static bool needs_lookup(const struct route_geoip_conf *g)
{
	for (size_t i = 0; i < g->n_rules; i++)
		if (g->rules[i].n_as_numbers + g->rules[i].countries.n + g->rules[i].continents.n)
			return true;
	return false;
}

static bool in_list(const struct str_list *l, const char *code)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], code) == 0)
			return true;
	return false;
}

/* AS number, then country, then continent; default_next otherwise. */
static const struct escaper_conf *match_location(const struct route_geoip_conf *g,
						 const struct iploc_location *loc)
{
	if (!loc->found)
		return g->default_next;
	if (loc->asn != 0)
		for (size_t i = 0; i < g->n_rules; i++)
			for (size_t k = 0; k < g->rules[i].n_as_numbers; k++)
				if (g->rules[i].as_numbers[k] == loc->asn)
					return g->rules[i].next;
	if (loc->country[0] != '\0')
		for (size_t i = 0; i < g->n_rules; i++)
			if (in_list(&g->rules[i].countries, loc->country))
				return g->rules[i].next;
	if (loc->continent[0] != '\0')
		for (size_t i = 0; i < g->n_rules; i++)
			if (in_list(&g->rules[i].continents, loc->continent))
				return g->rules[i].next;
	return g->default_next;
}

static void decide(struct conn *c, const struct escaper_conf *e, const struct iploc_location *loc)
{
	struct task_notes *t = &c->task;

	t->geo_set = true;
	memcpy(t->geo_country, loc->country, sizeof(t->geo_country));
	memcpy(t->geo_continent, loc->continent, sizeof(t->geo_continent));
	t->geo_country[sizeof(t->geo_country) - 1] = '\0';
	t->geo_continent[sizeof(t->geo_continent) - 1] = '\0';
	t->geo_asn = loc->asn;
	go_next(c, match_location(&e->geoip, loc));
}

/* ---- iplocd ----------------------------------------------------------------- */

static void on_location(void *arg, int err, const struct iploc_location *loc)
{
	struct conn *c = arg;
	struct dp_worker *wk = c->wk;
	const struct escaper_conf *e = c->esc.route;

	CHECK_OBJ(c, CONN_MAGIC);
	c->esc.geo_handle = 0;
	wk->resolver_depth++; /* a generation released here is reaped later */
	conn_hold(c);
	if (!c->closing && e != NULL) {
		if (err != 0 || loc == NULL) {
			log_debug("escaper '%s': iplocd lookup failed (%s), using default_next",
				  e->name, strerror(-err));
			go_next(c, e->geoip.default_next);
		} else {
			decide(c, e, loc);
		}
	}
	conn_kick(c);
	conn_release(c);
	wk->resolver_depth--;
}

static void locate(struct conn *c, const struct escaper_conf *e, const struct sockaddr *sa)
{
	struct escape_op *op = &c->esc;
	const struct route_geoip_conf *g = &e->geoip;
	const struct escaper_conf *next = match_networks(g, sa);
	struct iploc_client *cl;
	struct iploc_location loc;
	int rc;

	if (next != NULL) {
		go_next(c, next);
		return;
	}
	if (!needs_lookup(g)) {
		go_next(c, g->default_next);
		return;
	}
	cl = geo_client(c->gen, e);
	if (cl == NULL) {
		go_next(c, g->default_next);
		return;
	}
	rc = iploc_client_lookup(cl, sa, &loc, on_location, c, &op->geo_handle);
	if (rc == 1) {
		decide(c, e, &loc);
		return;
	}
	if (rc < 0) {
		op->geo_handle = 0;
		go_next(c, g->default_next);
		return;
	}
	op->geo_client = cl;
	if (c->state != CONN_ST_RESOLVING)
		conn_set_state(c, CONN_ST_RESOLVING);
	/* the client has its own deadline; this only guards against a lost one */
	conn_arm_timer(c, g->query_wait_timeout_ms + 1000, false);
}

/* ---- resolution -------------------------------------------------------------- */

static bool first_v6(const struct escaper_conf *e)
{
	return e->resolve_strategy.query == RESOLVE_IPV6_FIRST ||
	       e->resolve_strategy.query == RESOLVE_IPV6_ONLY;
}

static bool single_family(const struct escaper_conf *e)
{
	return e->resolve_strategy.query == RESOLVE_IPV4_ONLY ||
	       e->resolve_strategy.query == RESOLVE_IPV6_ONLY;
}

static void resolve_family(struct conn *c, int family);

/* An answer for family: locate its first address, or try the other family,
 * or give up to default_next. */
static void on_resolved(struct conn *c, int family, const struct dp_resolve_result *res)
{
	const struct escaper_conf *e = c->esc.route;

	if (res->status == 0)
		for (unsigned i = 0; i < res->n; i++)
			if (res->addrs[i].sa.sa_family == family) {
				c->esc.geo_resolving = false;
				locate(c, e, &res->addrs[i].sa);
				return;
			}
	if (!single_family(e) && (family == AF_INET6) != first_v6(e)) {
		/* that was the preferred family: try the other one */
		resolve_family(c, family == AF_INET ? AF_INET6 : AF_INET);
		return;
	}
	log_debug("escaper '%s': '%s' not resolved, using default_next", e->name, c->host);
	go_next(c, e->geoip.default_next);
}

static void on_answer(struct dp_resolve_req *rq, const struct dp_resolve_result *res, int family)
{
	struct escape_op *op = family == AF_INET ? container_of(rq, struct escape_op, rq4)
						 : container_of(rq, struct escape_op, rq6);
	struct conn *c = container_of(op, struct conn, esc);

	CHECK_OBJ(c, CONN_MAGIC);
	conn_hold(c);
	if (!c->closing && op->route != NULL)
		on_resolved(c, family, res);
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

static void resolve_family(struct conn *c, int family)
{
	struct escape_op *op = &c->esc;
	struct dp_resolver *r = dp_resolver_get(c->gen, op->route->resolver);
	struct dp_resolve_result res;
	struct dp_resolve_req *rq = family == AF_INET ? &op->rq4 : &op->rq6;

	op->geo_resolving = true;
	if (c->state != CONN_ST_RESOLVING)
		conn_set_state(c, CONN_ST_RESOLVING);
	if (dp_resolve_start(r, c->host, family, rq, family == AF_INET ? on_answer4 : on_answer6,
			     &res) == 1)
		on_resolved(c, family, &res);
}

/* ---- entry points ------------------------------------------------------------- */

void escape_geoip_start(struct conn *c, const struct escaper_conf *e)
{
	struct escape_op *op = &c->esc;

	op->route = e;
	if (c->host_is_ip) {
		locate(c, e, &c->host_addr.sa);
		return;
	}
	if (e->resolver == NULL) {
		escape_fail(c, ESCAPE_NOT_USABLE, "escaper not usable: no resolver");
		return;
	}
	resolve_family(c, first_v6(e) ? AF_INET6 : AF_INET);
}

void escape_geoip_on_timeout(struct conn *c)
{
	struct escape_op *op = &c->esc;
	const struct escaper_conf *e = op->route;

	escape_cancel(op);
	log_debug("escaper '%s': no answer in time (%s), using default_next", e->name,
		  op->geo_resolving ? "resolver" : "iplocd");
	go_next(c, e->geoip.default_next);
}
