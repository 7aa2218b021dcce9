/* Resolvers on a worker loop: c-ares (one channel per worker and config
 * generation, driven by libev: c-ares' socket-state callback becomes ev_io
 * watchers, ares_timeout() an ev_timer) with a per-worker cache honouring
 * positive_min_ttl / positive_max_ttl / negative_min_ttl; deny_all refuses
 * everything. Queries are A or AAAA, one family per request.
 *
 * A request (struct dp_resolve_req) lives inside its owner (a connection)
 * and is either idle or waiting on one cache entry; dp_resolve_cancel()
 * takes it off, after which its callback never runs. Not thread-safe: one
 * worker thread. */
#ifndef G3C_PROXYD_DP_RESOLVER_H
#define G3C_PROXYD_DP_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/util.h"
#include "proxyd/config.h"
#include "proxyd/dp/dp.h"

/* Most addresses kept per answer (the rest are dropped). */
#define DP_RES_MAX_ADDRS 16
/* Most cache entries per resolver and worker. */
#define DP_RES_CACHE_MAX 4096

struct dp_gen;
struct dp_resolver;
struct dp_rentry;

/* An answer: status 0 with n >= 1 addresses (port 0), or a negative errno:
 * -ENOENT (no such name or no record of that family), -ETIMEDOUT,
 * -ECONNREFUSED (servers refused), -EACCES (deny_all), -EIO (other). */
struct dp_resolve_result {
	int status;
	unsigned n;
	const union dp_addr *addrs;
	bool cached; /* answered from the cache */
};

struct dp_resolve_req;
typedef void dp_resolve_fn(struct dp_resolve_req *rq, const struct dp_resolve_result *res);

struct dp_resolve_req {
	struct dp_resolve_req *next, *prev; /* on the entry's waiter list */
	struct dp_rentry *e;		    /* NULL when idle */
	dp_resolve_fn *cb;
};

/* The resolver for rc in generation g, built on first use (borrowed; it
 * lives as long as g). Never NULL: a resolver that cannot be set up
 * answers -EIO. */
struct dp_resolver *dp_resolver_get(struct dp_gen *g, const struct resolver_conf *rc);

/* Look up host (NUL-terminated, a name, not an IP literal) for family
 * AF_INET or AF_INET6. Returns 1 with *res filled when the answer is known
 * now (cache or deny_all; res->addrs valid until control returns to the
 * loop), or 0 when rq now waits: cb(rq, res) runs later from the loop,
 * once. rq must be idle. */
int dp_resolve_start(struct dp_resolver *r, const char *host, int family, struct dp_resolve_req *rq,
		     dp_resolve_fn *cb, struct dp_resolve_result *res) MUST_CHECK;

/* Stop waiting; the callback will not run. No-op on an idle request. */
void dp_resolve_cancel(struct dp_resolve_req *rq);

static inline bool dp_resolve_pending(const struct dp_resolve_req *rq)
{
	return rq->e != NULL;
}

/* A reload keeps what the resolvers learned, as g3 keeps an unchanged
 * resolver: every resolver of `from` whose config is the same in `to`
 * (same name, resolver_conf_same) gets its resolver in `to` now, seeded
 * with the answers (positive and negative) that have not vanished, their
 * expiry times kept. Entries still being queried stay behind: their answer
 * goes to the old generation's askers. Worker thread. */
void dp_resolvers_carry(struct dp_gen *from, struct dp_gen *to);

/* Free every resolver of a generation (its channels are destroyed; no
 * request may still wait). Called when the generation dies. */
void dp_resolvers_free(struct dp_resolver *list);

/* Counters of one resolver (tests, status). */
struct dp_resolver_stats {
	uint64_t queries;  /* lookups asked */
	uint64_t cached;   /* answered from the cache */
	uint64_t sent;	   /* queries handed to c-ares */
	uint64_t failures; /* answers with an error */
	size_t entries;	   /* cache entries now */
};
void dp_resolver_stats(const struct dp_resolver *r, struct dp_resolver_stats *out);

/* Process-wide c-ares initialisation (main thread, before workers). */
int dp_resolver_library_init(void) MUST_CHECK;

#endif
