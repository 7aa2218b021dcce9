/* iplocd client with a per-prefix LRU cache (iploc_client.h).
 *
 * Structures, all owned by the client:
 *  - cache: entries keyed by (family, prefix, network) in a chained hash
 *    table, on an LRU list; per family, a count of entries per prefix
 *    length, so a lookup probes only the lengths in use, longest first;
 *  - queries: one per address being asked (hash by address), each with its
 *    waiting callers; queued until the loop is about to block (ev_prepare),
 *    then sent in batches of up to conf.batch addresses per request;
 *  - waiters: also hashed by handle, for cancel.
 * A callback may call into the client, cancel other waiters or free the
 * client: delivery holds the client and re-checks after each callback. */
#include "proxyd/iploc_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rpc.h"
#include "proto/iploc.pb-c.h"

#define IPLOC_CLIENT_MAGIC 0x69706c63u /* "iplc" */

static const struct rpc_service iploc_service = {
	.name = "g3c.iploc",
	.req = &g3c__iploc__request__descriptor,
	.rep = &g3c__iploc__reply__descriptor,
};

void iploc_client_conf_defaults(struct iploc_client_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->query_wait_timeout_ms = 1000;
	c->default_expire_ttl = 10;
	c->maximum_expire_ttl = 300;
	c->cache_size = 65536;
	c->batch = 10;
	c->down_backoff_ms = 1000;
}

/* ---- types ------------------------------------------------------------------------ */

struct entry {
	struct entry *hnext;
	struct entry *lru_prev, *lru_next; /* head = most recent */
	uint64_t expire_ms;
	struct iploc_location loc; /* family, network, prefix are the key */
};

struct waiter {
	struct waiter *next, *prev; /* in the query's list */
	struct waiter *hnext;	    /* in the handle table */
	struct query *q;
	uint64_t handle;
	iploc_client_fn *cb;
	void *arg;
};

struct query {
	struct query *hnext; /* in the query table */
	struct query *qnext; /* in the send queue */
	int family;
	uint8_t addr[16];
	struct waiter *waiters, *wtail; /* called in the order they asked */
};

struct batch {
	struct iploc_client *c;
	struct batch *next, *prev; /* in flight, for iploc_client_free */
	size_t n;
	struct query *q[]; /* in request order */
};

struct iploc_client {
	uint32_t magic;
	struct ev_loop *loop;
	struct iploc_client_conf conf;
	char *url;
	struct rpc_client *rpc;
	ev_prepare flush;

	struct entry **etab;
	size_t emask, nentries;
	struct entry *lru_head, *lru_tail;
	uint32_t plen_count[2][129]; /* [v6][prefix] */

	struct query **qtab;
	size_t qmask, nqueries;
	struct query *send_head, **send_tail;
	struct batch *batches;

	struct waiter **wtab;
	size_t wmask, nwaiters;
	uint64_t next_handle;

	uint64_t down_until_ms;
	unsigned holds;
	bool closing;
	struct iploc_client_stats st;
};

/* ---- helpers -------------------------------------------------------------------------- */

static uint64_t now_ms(const struct iploc_client *c)
{
	return (uint64_t)(ev_now(c->loop) * 1000.0);
}

static size_t alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t key_hash(int family, unsigned prefix, const uint8_t *addr)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)family ^ ((uint64_t)prefix << 8);

	return hash_bytes(h * 0x100000001b3ull, addr, alen(family));
}

static void mask_addr(uint8_t *dst, const uint8_t *src, int family, unsigned prefix)
{
	size_t n = alen(family);

	for (size_t i = 0; i < n; i++) {
		unsigned bit = (unsigned)i * 8;
		if (bit >= prefix)
			dst[i] = 0;
		else if (bit + 8 > prefix)
			dst[i] = src[i] & (uint8_t)(0xffu << (8 - (prefix - bit)));
		else
			dst[i] = src[i];
	}
}

static size_t table_size(size_t want)
{
	size_t n = 64;

	while (n < want && n < ((size_t)1 << 30))
		n <<= 1;
	return n;
}

/* ---- cache -------------------------------------------------------------------------- */

static void lru_unlink(struct iploc_client *c, struct entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct iploc_client *c, struct entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (!c->lru_tail)
		c->lru_tail = e;
}

static struct entry **entry_slot(struct iploc_client *c, int family, unsigned prefix,
				 const uint8_t *net)
{
	struct entry **pp = &c->etab[key_hash(family, prefix, net) & c->emask];

	for (; *pp; pp = &(*pp)->hnext) {
		const struct iploc_location *l = &(*pp)->loc;
		if (l->family == family && l->prefix == prefix &&
		    memcmp(l->network, net, alen(family)) == 0)
			break;
	}
	return pp;
}

static void entry_remove(struct iploc_client *c, struct entry *e)
{
	struct entry **pp = entry_slot(c, e->loc.family, e->loc.prefix, e->loc.network);

	ASSERT(*pp == e);
	*pp = e->hnext;
	lru_unlink(c, e);
	c->plen_count[e->loc.family == AF_INET6][e->loc.prefix]--;
	c->nentries--;
	free(e);
}

/* The longest cached network holding addr (expired ones too), or NULL. */
static struct entry *cache_find(struct iploc_client *c, int family, const uint8_t *addr)
{
	const uint32_t *counts = c->plen_count[family == AF_INET6];
	uint8_t net[16];

	for (int p = (int)alen(family) * 8; p >= 0; p--) {
		struct entry *e;
		if (!counts[p])
			continue;
		mask_addr(net, addr, family, (unsigned)p);
		e = *entry_slot(c, family, (unsigned)p, net);
		if (e)
			return e;
	}
	return NULL;
}

static void cache_put(struct iploc_client *c, const struct iploc_location *loc, uint32_t ttl)
{
	struct entry **pp = entry_slot(c, loc->family, loc->prefix, loc->network);
	struct entry *e = *pp;

	if (!e) {
		while (c->nentries >= c->conf.cache_size && c->lru_tail) {
			entry_remove(c, c->lru_tail);
			c->st.evictions++;
		}
		pp = entry_slot(c, loc->family, loc->prefix, loc->network);
		e = xcalloc(1, sizeof(*e));
		*pp = e;
		c->plen_count[loc->family == AF_INET6][loc->prefix]++;
		c->nentries++;
	} else {
		lru_unlink(c, e);
	}
	e->loc = *loc;
	e->loc.stale = false;
	e->expire_ms = now_ms(c) + (uint64_t)ttl * 1000u;
	lru_push(c, e);
}

/* ---- waiters and queries ----------------------------------------------------------- */

static struct waiter **waiter_slot(struct iploc_client *c, uint64_t handle)
{
	struct waiter **pp = &c->wtab[(handle * 0x9e3779b97f4a7c15ull) >> 40 & c->wmask];

	while (*pp && (*pp)->handle != handle)
		pp = &(*pp)->hnext;
	return pp;
}

static void waiter_grow(struct iploc_client *c)
{
	size_t n = (c->wmask + 1) * 2;
	struct waiter **old = c->wtab;
	size_t oldn = c->wmask + 1;

	c->wtab = xcalloc(n, sizeof(struct waiter *));
	c->wmask = n - 1;
	for (size_t i = 0; i < oldn; i++) {
		for (struct waiter *w = old[i], *next; w; w = next) {
			struct waiter **pp = waiter_slot(c, w->handle);
			next = w->hnext;
			w->hnext = *pp;
			*pp = w;
		}
	}
	free(old);
}

/* Take w out of its query's list and the handle table (not freed). */
static void waiter_detach(struct iploc_client *c, struct waiter *w)
{
	struct waiter **pp = waiter_slot(c, w->handle);

	ASSERT(*pp == w);
	*pp = w->hnext;
	c->nwaiters--;
	if (w->prev)
		w->prev->next = w->next;
	else
		w->q->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		w->q->wtail = w->prev;
}

static struct query **query_slot(struct iploc_client *c, int family, const uint8_t *addr)
{
	struct query **pp = &c->qtab[key_hash(family, 255, addr) & c->qmask];

	while (*pp && ((*pp)->family != family || memcmp((*pp)->addr, addr, alen(family)) != 0))
		pp = &(*pp)->hnext;
	return pp;
}

static void query_grow(struct iploc_client *c)
{
	size_t n = (c->qmask + 1) * 2, oldn = c->qmask + 1;
	struct query **old = c->qtab;

	c->qtab = xcalloc(n, sizeof(struct query *));
	c->qmask = n - 1;
	for (size_t i = 0; i < oldn; i++) {
		for (struct query *q = old[i], *next; q; q = next) {
			struct query **pp = query_slot(c, q->family, q->addr);
			next = q->hnext;
			q->hnext = *pp;
			*pp = q;
		}
	}
	free(old);
}

static void query_unhash(struct iploc_client *c, struct query *q)
{
	struct query **pp = query_slot(c, q->family, q->addr);

	ASSERT(*pp == q);
	*pp = q->hnext;
	c->nqueries--;
}

/* ---- delivery ---------------------------------------------------------------------------- */

static void client_destroy(struct iploc_client *c);

static void release(struct iploc_client *c)
{
	ASSERT(c->holds > 0);
	if (--c->holds == 0 && c->closing)
		client_destroy(c);
}

/* Complete every waiter of q (already out of the query table) with err/loc,
 * then free q. Returns false when a callback freed the client (c is gone). */
static bool deliver(struct iploc_client *c, struct query *q, int err,
		    const struct iploc_location *loc)
{
	c->holds++;
	/* q->waiters is read again after each callback: one may have cancelled
	 * (detached and freed) a later waiter. The hold keeps c allocated even
	 * when a callback frees the client (the analyzer cannot see that). */
	while (q->waiters && !c->closing) {
		struct waiter *w = q->waiters;
		waiter_detach(c, w); // NOLINT(clang-analyzer-unix.Malloc)
		if (err)
			c->st.failures++;
		else if (loc->stale)
			c->st.stale++;
		w->cb(w->arg, err, err ? NULL : loc);
		free(w);
	}
	/* whatever is left was dropped by a free inside a callback */
	for (struct waiter *w = q->waiters, *next; w; w = next) {
		next = w->next;	     // NOLINT(clang-analyzer-unix.Malloc)
		waiter_detach(c, w); // NOLINT(clang-analyzer-unix.Malloc)
		free(w);
	}
	free(q);
	if (c->holds == 1 && c->closing) {
		release(c);
		return false;
	}
	release(c);
	return true;
}

/* The query failed: a stale entry if there is one, else err. */
static bool fail_query(struct iploc_client *c, struct query *q, int err)
{
	struct entry *e = cache_find(c, q->family, q->addr);
	struct iploc_location stale;

	if (e) {
		stale = e->loc;
		stale.stale = true;
		return deliver(c, q, 0, &stale);
	}
	return deliver(c, q, err, NULL);
}

/* An answer from iplocd into a cache entry for q. Returns false when it
 * does not fit the asked address (then the query fails). */
static bool location_from(const struct query *q, const G3c__Iploc__Location *a,
			  struct iploc_location *loc, uint32_t *ttl)
{
	size_t n = alen(q->family);
	uint8_t masked[16];

	memset(loc, 0, sizeof(*loc));
	if (!a || a->network_addr.len != n || a->network_prefix > n * 8)
		return false;
	loc->family = q->family;
	loc->prefix = (uint8_t)a->network_prefix;
	memcpy(loc->network, a->network_addr.data, n);
	/* the network must hold the asked address */
	mask_addr(masked, q->addr, q->family, loc->prefix);
	if (memcmp(masked, loc->network, n) != 0)
		return false;
	mask_addr(loc->network, loc->network, q->family, loc->prefix);
	loc->found = a->found;
	if (a->country && strlen(a->country) < sizeof(loc->country))
		memcpy(loc->country, a->country, strlen(a->country) + 1);
	if (a->continent && strlen(a->continent) < sizeof(loc->continent))
		memcpy(loc->continent, a->continent, strlen(a->continent) + 1);
	loc->asn = a->asn;
	*ttl = a->ttl;
	return true;
}

static void batch_unlink(struct iploc_client *c, struct batch *b);

static void on_reply(void *arg, int err, enum rpc_code code, const char *errmsg,
		     const ProtobufCMessage *rep_)
{
	struct batch *b = arg;
	struct iploc_client *c = b->c;
	const G3c__Iploc__Reply *rep = (const G3c__Iploc__Reply *)rep_;
	const G3c__Iploc__LookupRep *lr = NULL;
	int qerr = 0;

	CHECK_OBJ(c, IPLOC_CLIENT_MAGIC);
	batch_unlink(c, b);
	if (err == -ETIMEDOUT) {
		qerr = -ETIMEDOUT;
		c->down_until_ms = now_ms(c) + c->conf.down_backoff_ms;
		log_warn("iplocd at %s: no answer within %u ms; route_geoip uses default_next "
			 "for %u ms",
			 c->url, c->conf.query_wait_timeout_ms, c->conf.down_backoff_ms);
	} else if (err != 0 || code != RPC_OK || rep->body_case != G3C__IPLOC__REPLY__BODY_LOOKUP ||
		   !rep->lookup || rep->lookup->n_answers != b->n) {
		qerr = -EPROTO;
		log_warn("iplocd at %s refused a lookup: %s %s", c->url, rpc_code_name(code),
			 errmsg ? errmsg : "");
	} else {
		lr = rep->lookup;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct query *q = b->q[i];
		struct iploc_location loc;
		uint32_t ttl = 0;

		if (!q)
			continue;
		b->q[i] = NULL;
		query_unhash(c, q);
		if (qerr || !location_from(q, lr->answers[i], &loc, &ttl)) {
			if (!fail_query(c, q, qerr ? qerr : -EPROTO))
				goto out; /* the client is gone */
			continue;
		}
		c->st.answers++;
		if (ttl == 0)
			ttl = c->conf.default_expire_ttl;
		ttl = MIN(ttl, c->conf.maximum_expire_ttl);
		cache_put(c, &loc, ttl);
		if (!deliver(c, q, 0, &loc))
			goto out;
	}
out:
	free(b);
}

/* ---- sending ------------------------------------------------------------------------------ */

static void batch_unlink(struct iploc_client *c, struct batch *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		c->batches = b->next;
	if (b->next)
		b->next->prev = b->prev;
	b->next = b->prev = NULL;
}

static void send_batch(struct iploc_client *c)
{
	G3c__Iploc__Request req = G3C__IPLOC__REQUEST__INIT;
	G3c__Iploc__LookupReq lk = G3C__IPLOC__LOOKUP_REQ__INIT;
	struct batch *b = xcalloc(1, sizeof(*b) + c->conf.batch * sizeof(struct query *));
	ProtobufCBinaryData *addrs = xcalloc(c->conf.batch, sizeof(*addrs));
	int ret;

	b->c = c;
	while (c->send_head && b->n < c->conf.batch) {
		struct query *q = c->send_head;
		c->send_head = q->qnext;
		q->qnext = NULL;
		addrs[b->n].data = q->addr;
		addrs[b->n].len = alen(q->family);
		b->q[b->n++] = q;
	}
	if (!c->send_head)
		c->send_tail = &c->send_head;
	lk.addrs = addrs; /* binary: iplocd skips parsing and the text fields */
	lk.n_addrs = b->n;
	req.body_case = G3C__IPLOC__REQUEST__BODY_LOOKUP;
	req.lookup = &lk;
	ret = rpc_call(c->rpc, &req.base, c->conf.query_wait_timeout_ms, on_reply, b, NULL);
	free(addrs);
	if (ret == 0) {
		c->st.requests++;
		c->st.queries += b->n;
		b->next = c->batches;
		if (c->batches)
			c->batches->prev = b;
		c->batches = b;
		return;
	}
	log_warn("iplocd at %s: cannot send a lookup: %s", c->url, strerror(-ret));
	for (size_t i = 0; i < b->n; i++) {
		struct query *q = b->q[i];
		query_unhash(c, q);
		if (!fail_query(c, q, -EPROTO))
			break;
	}
	free(b);
}

static void iploc_client_on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct iploc_client *c = container_of(w, struct iploc_client, flush);

	(void)revents;
	CHECK_OBJ(c, IPLOC_CLIENT_MAGIC);
	ev_prepare_stop(loop, w);
	c->holds++;
	while (c->send_head && !c->closing)
		send_batch(c);
	release(c);
}

/* ---- API ---------------------------------------------------------------------------------- */

struct iploc_client *iploc_client_new(struct ev_loop *loop, const struct iploc_client_conf *conf,
				      int *err)
{
	struct iploc_client *c;

	if (!conf->url || conf->batch == 0 || conf->cache_size == 0 ||
	    conf->query_wait_timeout_ms == 0) {
		*err = -EINVAL;
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->magic = IPLOC_CLIENT_MAGIC;
	c->loop = loop;
	c->conf = *conf;
	c->conf.batch = MIN(conf->batch, 1024u);
	c->url = xstrdup(conf->url);
	c->conf.url = c->url;
	c->rpc = rpc_client_new(loop, c->url, &iploc_service, err);
	if (!c->rpc) {
		free(c->url);
		free(c);
		return NULL;
	}
	c->etab = xcalloc(table_size(conf->cache_size), sizeof(struct entry *));
	c->emask = table_size(conf->cache_size) - 1;
	c->qtab = xcalloc(64, sizeof(struct query *));
	c->qmask = 63;
	c->wtab = xcalloc(64, sizeof(struct waiter *));
	c->wmask = 63;
	c->send_tail = &c->send_head;
	ev_prepare_init(&c->flush, iploc_client_on_prepare);
	return c;
}

static void client_destroy(struct iploc_client *c)
{
	for (size_t i = 0; i <= c->qmask; i++) {
		for (struct query *q = c->qtab[i], *next; q; q = next) {
			next = q->hnext;
			for (struct waiter *w = q->waiters, *wn; w; w = wn) {
				wn = w->next;
				waiter_detach(c, w);
				free(w);
			}
			free(q);
		}
	}
	while (c->batches) {
		struct batch *b = c->batches;
		c->batches = b->next;
		free(b);
	}
	while (c->lru_head)
		entry_remove(c, c->lru_head);
	free(c->etab);
	free(c->qtab);
	free(c->wtab);
	free(c->url);
	POISON_OBJ(c);
	free(c);
}

void iploc_client_free(struct iploc_client *c)
{
	if (!c)
		return;
	CHECK_OBJ(c, IPLOC_CLIENT_MAGIC);
	ASSERT(!c->closing);
	c->closing = true;
	ev_prepare_stop(c->loop, &c->flush);
	/* Calls in flight end without callbacks; client_destroy frees their
	 * batches and queries. */
	rpc_client_free(c->rpc);
	c->rpc = NULL;
	if (c->holds == 0)
		client_destroy(c);
}

int iploc_client_lookup(struct iploc_client *c, const struct sockaddr *sa,
			struct iploc_location *out, iploc_client_fn *cb, void *arg,
			uint64_t *handle)
{
	uint8_t addr[16];
	int family;
	struct entry *e;
	struct query **qp, *q;
	struct waiter *w, **wp;

	CHECK_OBJ(c, IPLOC_CLIENT_MAGIC);
	ASSERT(!c->closing && cb != NULL);
	c->st.lookups++;
	if (sa->sa_family == AF_INET) {
		family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
			&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET;
			memcpy(addr, &a6->s6_addr[12], 4);
		} else {
			family = AF_INET6;
			memcpy(addr, a6->s6_addr, 16);
		}
	} else {
		return -EAFNOSUPPORT;
	}
	e = cache_find(c, family, addr);
	if (e && e->expire_ms > now_ms(c)) {
		lru_unlink(c, e);
		lru_push(c, e);
		*out = e->loc;
		c->st.hits++;
		return 1;
	}
	c->st.misses++;
	if (now_ms(c) < c->down_until_ms) {
		if (!e) {
			c->st.failures++;
			return -EHOSTUNREACH;
		}
		*out = e->loc;
		out->stale = true;
		c->st.stale++;
		return 1;
	}
	qp = query_slot(c, family, addr);
	q = *qp;
	if (!q) {
		q = xcalloc(1, sizeof(*q));
		q->family = family;
		memcpy(q->addr, addr, alen(family));
		*qp = q;
		c->nqueries++;
		*c->send_tail = q;
		c->send_tail = &q->qnext;
		ev_prepare_start(c->loop, &c->flush);
		if (c->nqueries > (c->qmask + 1) * 2)
			query_grow(c);
	}
	w = xcalloc(1, sizeof(*w));
	w->q = q;
	w->cb = cb;
	w->arg = arg;
	w->handle = ++c->next_handle;
	w->prev = q->wtail;
	if (q->wtail)
		q->wtail->next = w;
	else
		q->waiters = w;
	q->wtail = w;
	wp = waiter_slot(c, w->handle);
	w->hnext = *wp;
	*wp = w;
	if (++c->nwaiters > (c->wmask + 1) * 2)
		waiter_grow(c);
	if (handle)
		*handle = w->handle;
	return 0;
}

bool iploc_client_cancel(struct iploc_client *c, uint64_t handle)
{
	struct waiter *w;

	CHECK_OBJ(c, IPLOC_CLIENT_MAGIC);
	if (handle == 0 || c->closing)
		return false;
	w = *waiter_slot(c, handle);
	if (!w)
		return false;
	/* The query still completes and fills the cache for later callers. */
	waiter_detach(c, w);
	free(w);
	return true;
}

void iploc_client_get_stats(const struct iploc_client *c, struct iploc_client_stats *out)
{
	*out = c->st;
	out->entries = c->nentries;
}
