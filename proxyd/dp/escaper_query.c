/* route_query on the data path (see escaper.h): ask the agent
 * (proto/routeq.proto over common/rpc.h's asynchronous client) which next
 * escaper(s) the task should use, keep the answer per worker for its TTL,
 * and pick among the answered escapers that query_allowed_next lists with
 * cache_pick_policy (hash key: the client IP). No answer within
 * cache_request_timeout (capped by query_wait_timeout), an error, or no
 * usable node → fallback_node; failures are cached protective_cache_ttl.
 *
 * Each generation has one RPC client and one cache per route_query
 * escaper (struct dp_rq, built on first use, freed with the generation).
 * The call belongs to the conn (escape_op.rq_handle) and is cancelled in
 * escape_cancel(); the conn waits in RESOLVING meanwhile. The cache is
 * direct mapped (RQ_SLOTS entries): a colliding key replaces the old one,
 * which only costs a new query. */
#include "proxyd/dp/escaper.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rpc.h"
#include "common/sock.h"
#include "proto/routeq.pb-c.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/pick.h"

#define RQ_SLOTS 1024u

static const struct rpc_service routeq_service = {
	.name = "g3c.routeq",
	.req = &g3c__routeq__request__descriptor,
	.rep = &g3c__routeq__reply__descriptor,
};

struct rq_entry {
	char *key; /* NULL = empty slot */
	uint64_t hash;
	uint64_t expire_ns;
	const struct escaper_conf **next; /* allowed answered nodes; n = 0: fallback */
	struct pick_set *pick;		  /* over next (n > 1) */
	size_t n;
};

struct dp_rq {
	struct dp_rq *next;
	const struct escaper_conf *esc;
	struct rpc_client *client;
	struct rq_entry slots[RQ_SLOTS];
};

static void entry_clear(struct rq_entry *x)
{
	free(x->key);
	free(x->next);
	pick_set_free(x->pick);
	memset(x, 0, sizeof(*x));
}

void escape_query_free_clients(struct dp_gen *g)
{
	struct dp_rq *q = g->rqs, *nx;

	for (; q != NULL; q = nx) {
		nx = q->next;
		rpc_client_free(q->client);
		for (unsigned i = 0; i < RQ_SLOTS; i++)
			entry_clear(&q->slots[i]);
		free(q);
	}
	g->rqs = NULL;
}

/* The generation's state for e, created on first use (NULL on failure). */
static struct dp_rq *rq_get(struct dp_gen *g, const struct escaper_conf *e)
{
	struct dp_rq *q;
	int err = 0;

	for (q = g->rqs; q != NULL; q = q->next)
		if (q->esc == e)
			return q;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return NULL;
	q->client = rpc_client_new(g->wk->loop, e->route.query_url, &routeq_service, &err);
	if (q->client == NULL) {
		log_warn("escaper '%s': cannot open the query agent socket %s: %s", e->name,
			 e->route.query_url, strerror(-err));
		free(q);
		return NULL;
	}
	q->esc = e;
	q->next = g->rqs;
	g->rqs = q;
	return q;
}

/* ---- cache ---------------------------------------------------------------- */

/* "host" or "host client-ip" (query_pass_client_ip): what the agent sees. */
static void make_key(const struct conn *c, const struct escaper_conf *e, char *key, size_t cap,
		     char *ip, size_t ipcap)
{
	ip[0] = '\0';
	if (e->route.query_pass_client_ip && sock_ip_format(&c->client_addr.sa, ip, ipcap) < 0)
		ip[0] = '\0';
	snprintf(key, cap, "%s %s", c->host, ip);
}

static uint64_t key_hash(const char *k)
{
	return pick_hash_final(pick_hash_bytes(pick_hash_init(), k, strlen(k)));
}

static struct rq_entry *cache_find(struct dp_rq *q, const char *key, uint64_t h)
{
	struct rq_entry *x = &q->slots[h % RQ_SLOTS];

	if (x->key == NULL || x->hash != h || strcmp(x->key, key) != 0)
		return NULL;
	if (util_mono_ns() >= x->expire_ns) {
		entry_clear(x);
		return NULL;
	}
	return x;
}

/* Store an answer: nodes already filtered (n may be 0). Takes next. */
static struct rq_entry *cache_put(struct dp_rq *q, const char *key, uint64_t h,
				  const struct escaper_conf **next, const double *w, size_t n,
				  uint32_t ttl)
{
	struct rq_entry *x = &q->slots[h % RQ_SLOTS];
	const struct route_conf *r = &q->esc->route;

	entry_clear(x);
	x->key = strdup(key);
	if (x->key == NULL) {
		free(next);
		return NULL;
	}
	x->hash = h;
	if (ttl == 0)
		ttl = r->protective_cache_ttl;
	if (ttl > r->maximum_cache_ttl)
		ttl = r->maximum_cache_ttl;
	x->expire_ns = util_mono_ns() + (uint64_t)ttl * 1000000000ull;
	x->next = next;
	x->n = n;
	if (n > 1) {
		struct pick_node nodes[64];
		for (size_t i = 0; i < n; i++) {
			nodes[i].id = next[i]->name;
			nodes[i].weight = w[i];
		}
		if (pick_set_new((enum pick_policy)r->cache_pick_policy, nodes, n, &x->pick) < 0)
			x->pick = NULL; /* random then */
	}
	return x;
}

static const struct escaper_conf *entry_pick(struct conn *c, const struct escaper_conf *e,
					     const struct rq_entry *x)
{
	uint64_t key;

	if (x == NULL || x->n == 0)
		return e->route.fallback;
	if (x->n == 1)
		return x->next[0];
	if (x->pick == NULL)
		return x->next[dp_rand(c->wk) % x->n];
	key = pick_policy_is_hash(pick_set_policy(x->pick))
		      ? pick_key_client_user_host(&c->client_addr.sa, NULL, "")
		      : dp_rand(c->wk);
	return x->next[pick_select(x->pick, key)];
}

/* ---- the query ---------------------------------------------------------------- */

static void go_next(struct conn *c, const struct escaper_conf *next)
{
	struct escape_op *op = &c->esc;

	op->route = NULL;
	op->rq_client = NULL;
	escape_dispatch(c, next);
}

/* The allowed escapers of an answer, in answer order, no repeats. */
static size_t filter_nodes(const struct escaper_conf *e, const G3c__Routeq__QueryRsp *qr,
			   const struct escaper_conf **out, double *w, size_t cap)
{
	const struct route_conf *r = &e->route;
	size_t n = 0;

	for (size_t i = 0; i < qr->n_nodes && n < cap; i++) {
		const char *name = qr->nodes[i]->name;
		const struct escaper_conf *hit = NULL;
		bool dup = false;
		for (size_t k = 0; name != NULL && k < r->n_next; k++)
			if (strcmp(r->next_names[k], name) == 0)
				hit = r->next[k];
		if (hit == NULL) {
			log_debug("escaper '%s': agent answered '%s', not in query_allowed_next",
				  e->name, name ? name : "");
			continue;
		}
		for (size_t k = 0; k < n; k++)
			dup |= out[k] == hit;
		if (dup)
			continue;
		out[n] = hit;
		w[n] = qr->nodes[i]->weight ? qr->nodes[i]->weight : 1;
		n++;
	}
	return n;
}

static void on_reply(void *arg, int err, enum rpc_code code, const char *errmsg,
		     const ProtobufCMessage *rep_)
{
	struct conn *c = arg;
	struct dp_worker *wk = c->wk;
	struct escape_op *op = &c->esc;
	const struct escaper_conf *e = op->route;
	const G3c__Routeq__Reply *rep = (const G3c__Routeq__Reply *)rep_;
	const struct escaper_conf *picked[64];
	double w[64];
	size_t n = 0;
	uint32_t ttl = 0;
	struct dp_rq *q;
	char key[300], ip[SOCK_ADDR_STRLEN];

	CHECK_OBJ(c, CONN_MAGIC);
	op->rq_handle = 0;
	wk->resolver_depth++; /* a generation released here is reaped later */
	conn_hold(c);
	if (!c->closing && e != NULL && e->type == ESCAPER_ROUTE_QUERY) {
		if (err == 0 && code == RPC_OK && rep != NULL &&
		    rep->body_case == G3C__ROUTEQ__REPLY__BODY_QUERY) {
			n = filter_nodes(e, rep->query, picked, w, 64);
			ttl = rep->query->ttl;
		} else {
			log_debug("escaper '%s': query for '%s' failed (%s), using fallback_node",
				  e->name, c->host,
				  err != 0 ? strerror(-err)
					   : (errmsg[0] ? errmsg : rpc_code_name(code)));
		}
		q = rq_get(c->gen, e);
		make_key(c, e, key, sizeof(key), ip, sizeof(ip));
		const struct rq_entry *x = NULL;
		const struct escaper_conf **v =
			n ? malloc(n * sizeof(const struct escaper_conf *)) : NULL;
		if (q != NULL && (n == 0 || v != NULL)) {
			if (n)
				memcpy(v, picked, n * sizeof(const struct escaper_conf *));
			x = cache_put(q, key, key_hash(key), v, w, n, n ? ttl : 0);
		} else {
			free(v);
		}
		if (x != NULL)
			go_next(c, entry_pick(c, e, x));
		else
			go_next(c, n ? picked[0] : e->route.fallback);
	}
	conn_kick(c);
	conn_release(c);
	wk->resolver_depth--;
}

static void query_start(struct conn *c, const struct escaper_conf *e)
{
	struct escape_op *op = &c->esc;
	const struct route_conf *r = &e->route;
	struct dp_rq *q = rq_get(c->gen, e);
	G3c__Routeq__Request req = G3C__ROUTEQ__REQUEST__INIT;
	G3c__Routeq__QueryReq qr = G3C__ROUTEQ__QUERY_REQ__INIT;
	char key[300], ip[SOCK_ADDR_STRLEN];
	uint64_t h;
	uint32_t deadline;
	int rc;

	if (q == NULL) {
		go_next(c, r->fallback);
		return;
	}
	make_key(c, e, key, sizeof(key), ip, sizeof(ip));
	h = key_hash(key);
	const struct rq_entry *x = cache_find(q, key, h);
	if (x != NULL) {
		go_next(c, entry_pick(c, e, x));
		return;
	}
	qr.escaper = (char *)e->name;
	qr.user = (char *)"";
	qr.host = c->host;
	qr.port = c->port;
	qr.client_ip = ip;
	req.body_case = G3C__ROUTEQ__REQUEST__BODY_QUERY;
	req.query = &qr;
	deadline = (uint32_t)(r->cache_request_timeout_ms < r->query_wait_timeout_ms
				      ? r->cache_request_timeout_ms
				      : r->query_wait_timeout_ms);
	op->route = e;
	rc = rpc_call(q->client, &req.base, deadline, on_reply, c, &op->rq_handle);
	if (rc < 0) {
		op->rq_handle = 0;
		log_debug("escaper '%s': cannot send the query (%s), using fallback_node", e->name,
			  strerror(-rc));
		go_next(c, r->fallback);
		return;
	}
	op->rq_client = q->client;
	if (c->state != CONN_ST_RESOLVING)
		conn_set_state(c, CONN_ST_RESOLVING);
	/* the call has its own deadline; this only guards against a lost one */
	conn_arm_timer(c, deadline + 1000, false);
}

void escape_query_start(struct conn *c, const struct escaper_conf *e)
{
	query_start(c, e);
}

void escape_query_on_timeout(struct conn *c)
{
	const struct escaper_conf *e = c->esc.route;

	escape_query_cancel(&c->esc);
	go_next(c, e->route.fallback);
}

void escape_query_cancel(struct escape_op *op)
{
	if (op->rq_handle != 0 && op->rq_client != NULL)
		(void)rpc_cancel(op->rq_client, op->rq_handle);
	op->rq_handle = 0;
}
