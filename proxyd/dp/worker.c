/* Per-worker data-plane state and config generations (see dp.h). */
#include "proxyd/dp/dp.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/pipebuf.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/listener.h"
#include "proxyd/dp/port.h"
#include "proxyd/dp/escaper.h"
#include "proxyd/dp/resolver.h"
#include "proxyd/dp/tls_ep.h"
#include "proxyd/dp/http_forward.h"
#include "proxyd/dp/uppool.h"

/* A generation whose last reference goes while resolver code is on the
 * stack (a resolver callback released the last connection of an old
 * generation) is freed from an ev_prepare watcher instead: the resolver
 * must outlive its own callback. Otherwise it goes at once. */
struct dp_reaper {
	ev_prepare w;
	struct dp_gen **dead;
	size_t n, cap;
};

/* A worker whose buffer pool saw no use for a whole tick gives back the
 * blocks a burst left cached beyond BUF_POOL_IDLE_KEEP: idle connections
 * then cost their own memory only. */
#define BUF_POOL_TRIM_TICK 0.25 /* seconds */
#define BUF_POOL_IDLE_KEEP 16u

struct dp_worker_priv {
	struct dp_worker pub;
	struct dp_reaper reaper;
	ev_timer pool_trim;
	uint64_t pool_gets; /* buffer blocks taken, at the last tick */
};

static struct dp_worker_priv *priv(struct dp_worker *wk)
{
	return container_of(wk, struct dp_worker_priv, pub);
}

void dp_addr_set(union dp_addr *out, const struct sockaddr *sa)
{
	memset(out, 0, sizeof(*out));
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		memcpy(&out->in, sa, sizeof(out->in));
	else if (sa->sa_family == AF_INET6)
		memcpy(&out->in6, sa, sizeof(out->in6));
}

static void gen_free(struct dp_gen *g)
{
	escape_geoip_free_clients(g);
	tls_ep_gen_fini(g);
	escape_query_free_clients(g);
	dp_resolvers_free(g->resolvers);
	proxyd_conf_unref(g->conf);
	POISON_OBJ(g);
	free(g);
}

static void reaper_on_prepare(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct dp_reaper *r = container_of(w, struct dp_reaper, w);

	(void)revents;
	while (r->n > 0)
		gen_free(r->dead[--r->n]);
	ev_prepare_stop(loop, w);
}

struct dp_gen *dp_gen_ref(struct dp_gen *g)
{
	CHECK_OBJ(g, DP_GEN_MAGIC);
	g->refs++;
	return g;
}

void dp_gen_unref(struct dp_gen *g)
{
	struct dp_reaper *r;

	if (g == NULL)
		return;
	CHECK_OBJ(g, DP_GEN_MAGIC);
	ASSERT(g->refs > 0);
	if (--g->refs > 0)
		return;
	if (g->wk->resolver_depth == 0) {
		gen_free(g);
		return;
	}
	log_debug("worker %u: a config generation was released in a resolver callback: "
		  "freed on the next loop turn",
		  g->wk->id);
	r = &priv(g->wk)->reaper;
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 4;
		r->dead = xrealloc(r->dead, r->cap * sizeof(struct dp_gen *));
	}
	r->dead[r->n++] = g;
	ev_prepare_start(g->wk->loop, &r->w);
}

static void worker_on_pool_trim(struct ev_loop *loop UNUSED, ev_timer *w, int revents UNUSED)
{
	struct dp_worker_priv *p = container_of(w, struct dp_worker_priv, pool_trim);
	struct buf_pool_stats st;
	uint64_t gets;

	buf_pool_stats(&st);
	gets = st.mallocs + st.reuses;
	if (gets == p->pool_gets && st.cached > BUF_POOL_IDLE_KEEP)
		buf_pool_trim_to(BUF_POOL_IDLE_KEEP);
	p->pool_gets = gets;
}

struct dp_worker *dp_worker_new(struct ev_loop *loop, unsigned id, struct dp_shared *sh)
{
	struct dp_worker_priv *p = xcalloc(1, sizeof(*p));
	struct dp_worker *wk = &p->pub;
	uint8_t seed[8 + 6 + 2];

	wk->magic = DP_WORKER_MAGIC;
	wk->id = id;
	wk->loop = loop;
	wk->sh = sh;
	ev_prepare_init(&p->reaper.w, reaper_on_prepare);
	ev_timer_init(&p->pool_trim, worker_on_pool_trim, BUF_POOL_TRIM_TICK, BUF_POOL_TRIM_TICK);
	ev_timer_start(loop, &p->pool_trim);
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		uint64_t t = util_mono_ns() ^ ((uint64_t)id << 48) ^ (uint64_t)(uintptr_t)wk;
		for (size_t i = 0; i < sizeof(seed); i++)
			seed[i] = (uint8_t)(t >> ((i % 8) * 8));
	}
	memcpy(&wk->rng, seed, 8);
	if (wk->rng == 0)
		wk->rng = 0x9e3779b97f4a7c15ull;
	memcpy(wk->uuid_node, seed + 8, 6);
	wk->uuid_node[0] |= 0x01; /* multicast bit: a random node id (RFC 4122 §4.5) */
	wk->uuid_seq = (uint16_t)((seed[14] << 8) | seed[15]);
	return wk;
}

void dp_worker_set_conf(struct dp_worker *wk, struct proxyd_conf *conf)
{
	struct dp_gen *g;

	CHECK_OBJ(wk, DP_WORKER_MAGIC);
	if (wk->gen != NULL && wk->gen->conf == conf)
		return;
	g = xcalloc(1, sizeof(*g));
	g->magic = DP_GEN_MAGIC;
	g->refs = 1;
	g->wk = wk;
	g->conf = proxyd_conf_ref(conf);
	if (wk->gen != NULL)
		dp_resolvers_carry(wk->gen, g);
	dp_gen_unref(wk->gen);
	wk->gen = g;
}

void dp_worker_offline(struct dp_worker *wk)
{
	CHECK_OBJ(wk, DP_WORKER_MAGIC);
	wk->offline = true;
	dp_listeners_close(wk);
	uppool_close_all(wk);
	conn_close_idle(wk);
}

void dp_worker_shutdown(struct dp_worker *wk)
{
	struct dp_reaper *r;

	if (wk == NULL)
		return;
	CHECK_OBJ(wk, DP_WORKER_MAGIC);
	r = &priv(wk)->reaper;
	ev_timer_stop(wk->loop, &priv(wk)->pool_trim);
	wk->stopping = true;
	dp_listeners_close(wk);
	uppool_close_all(wk);
	port_close_all(wk);
	conn_close_all(wk, TASK_R_CANCELED_AS_SERVER_QUIT);
	dp_gen_unref(wk->gen);
	wk->gen = NULL;
	reaper_on_prepare(wk->loop, &r->w, 0);
	buf_pool_trim();
	pipebuf_pool_trim();
	http_fwd_pool_trim();
}

void dp_worker_free(struct dp_worker *wk)
{
	struct dp_worker_priv *p;

	if (wk == NULL)
		return;
	CHECK_OBJ(wk, DP_WORKER_MAGIC);
	p = priv(wk);
	ASSERT(wk->conns == NULL && wk->listeners == NULL && p->reaper.n == 0);
	free(p->reaper.dead);
	POISON_OBJ(wk);
	free(p);
}

uint64_t dp_rand(struct dp_worker *wk)
{
	/* xorshift64* */
	uint64_t x = wk->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	wk->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

void dp_uuid(struct dp_worker *wk, uint8_t out[16])
{
	/* 100 ns ticks since 1582-10-15 (RFC 4122 §4.1.4) */
	uint64_t ticks = util_wall_us() * 10u + 0x01b21dd213814000ull;

	if (ticks <= wk->uuid_last_ticks)
		wk->uuid_seq++; /* same or earlier tick: the sequence keeps ids unique */
	wk->uuid_last_ticks = ticks;
	out[0] = (uint8_t)(ticks >> 24);
	out[1] = (uint8_t)(ticks >> 16);
	out[2] = (uint8_t)(ticks >> 8);
	out[3] = (uint8_t)ticks;
	out[4] = (uint8_t)(ticks >> 40);
	out[5] = (uint8_t)(ticks >> 32);
	out[6] = (uint8_t)(((ticks >> 56) & 0x0f) | 0x10); /* version 1 */
	out[7] = (uint8_t)(ticks >> 48);
	out[8] = (uint8_t)(((wk->uuid_seq >> 8) & 0x3f) | 0x80); /* RFC 4122 variant */
	out[9] = (uint8_t)wk->uuid_seq;
	memcpy(out + 10, wk->uuid_node, 6);
}
