/* proxyd's data plane: the per-worker state every data-path module shares.
 *
 * Threads: each worker thread owns one struct dp_worker (its listeners, its
 * connections, its resolvers) and touches nothing of another worker's. The
 * main thread only builds listener updates (listener.h) and hands them over
 * with proxyd_runtime_run_on_owned(); counters shared with it are atomics in
 * struct dp_shared.
 *
 * Config generations: a worker serves with one struct dp_gen per config it
 * received (a reference to the config plus the objects built from it on
 * this thread, such as c-ares channels). Every connection holds a reference
 * to the generation it was accepted under, so a reload never changes a
 * running task; an old generation is freed when its last connection ends. */
#ifndef G3C_PROXYD_DP_DP_H
#define G3C_PROXYD_DP_DP_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "common/log.h"
#include "common/util.h"
#include "proxyd/config.h"

#define DP_WORKER_MAGIC 0x64707772u /* "dpwr" */
#define DP_GEN_MAGIC 0x64706765u    /* "dpge" */

/* Process-wide, owned by the runtime; workers only bump the atomics. */
struct dp_shared {
	atomic_uint_fast64_t alive;    /* client connections open, all workers */
	atomic_uint_fast64_t accepted; /* connections accepted, ever */
	atomic_uint_fast64_t dropped;  /* refused by ingress_network_filter */
	atomic_uint_fast64_t tasks;    /* tasks created, ever */
	/* port servers: PROXY headers rejected (bad, missing, late) */
	atomic_uint_fast64_t pp_rejected;
	struct logger *task_log;    /* thread-safe; NULL discards */
	struct logger *escape_log;  /* escaper errors (g3 escape log) */
	struct logger *resolve_log; /* resolver errors (g3 resolve log) */
};

/* An IPv4 or IPv6 socket address in 28 bytes (sockaddr_storage is 128):
 * connections keep several. */
union dp_addr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/* Copy an AF_INET / AF_INET6 address into *out (zeroed for others). */
void dp_addr_set(union dp_addr *out, const struct sockaddr *sa);

struct dp_resolver;
struct dp_geo;
struct dp_rq;
struct dp_listener;
struct uppool_ent;
struct conn;
struct port_conn;
struct tls_ep_ctx;

struct dp_gen {
	uint32_t magic;
	unsigned refs; /* the worker's current pointer + one per connection */
	struct dp_worker *wk;
	struct proxyd_conf *conf;      /* an owned reference */
	struct dp_resolver *resolvers; /* built lazily, one per resolver_conf used */
	struct dp_geo *geos;	       /* iplocd clients, one per route_geoip used (lazily) */
	struct tls_ep_ctx *tls_ctxs;   /* SSL_CTXs built from conf (tls_ep.h), lazily */
	struct dp_rq *rqs;	       /* query agent clients + caches, one per route_query used */
};

struct dp_worker {
	uint32_t magic;
	unsigned id;
	struct ev_loop *loop;
	struct dp_shared *sh;
	struct dp_gen *gen; /* the current generation (NULL before the first update) */
	struct dp_listener *listeners;
	struct conn *conns; /* every open connection (shutdown closes them) */
	/* port servers' sockets before their hand-over (port.h) */
	struct port_conn *port_conns;
	struct uppool_ent *idle_oldest, *idle_newest; /* uppool.h */
	size_t idle_n;
	bool offline;
	bool stopping;
	/* > 0 while resolver code is on the stack: a generation (and its
	 * resolvers) released then is freed later, from an ev_prepare */
	unsigned resolver_depth;
	/* task ids: v1-style UUIDs from the clock, a per-worker clock sequence
	 * and a random node id */
	uint64_t uuid_last_ticks;
	uint16_t uuid_seq;
	uint8_t uuid_node[6];
	uint64_t rng; /* xorshift state, seeded from getrandom */
};

/* A new worker state for a loop (borrowed; the loop must outlive it).
 * Call on any thread before the loop runs; everything else on the loop's
 * thread. */
struct dp_worker *dp_worker_new(struct ev_loop *loop, unsigned id, struct dp_shared *sh);

/* On the worker thread, before its loop ends for good: close every
 * listener and connection (tasks end with CanceledAsServerQuit), drop the
 * generations, trim the thread's buffer and pipe pools. */
void dp_worker_shutdown(struct dp_worker *wk);

/* Free what dp_worker_shutdown() left (any thread, after it). NULL ok. */
void dp_worker_free(struct dp_worker *wk);

/* Make conf (borrowed; a reference is taken) the current generation, unless
 * it already is. The old one goes when its last connection ends. */
void dp_worker_set_conf(struct dp_worker *wk, struct proxyd_conf *conf);

/* Close every listener; open connections go on. */
void dp_worker_offline(struct dp_worker *wk);

struct dp_gen *dp_gen_ref(struct dp_gen *g);
void dp_gen_unref(struct dp_gen *g);

/* 32-bit / 64-bit pseudo random numbers (not for secrets). */
uint64_t dp_rand(struct dp_worker *wk);

/* A fresh v1-style UUID (time, clock sequence, node) into out[16]. */
void dp_uuid(struct dp_worker *wk, uint8_t out[16]);

#endif
