/* The Forge service (proto/fcgen.proto): request validation, the cache,
 * keys from the pool, forging, and the counters behind `g3ctl status` and
 * the metrics. fcgen_handle is the rpc handler; fcgen_forge answers one
 * ForgeReq and also serves the control socket's `forge`.
 *
 * Not thread-safe: one thread (the main loop) calls everything here. The
 * key pool it borrows is thread-safe on its own. */
#ifndef G3C_FCGEND_SERVICE_H
#define G3C_FCGEND_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/rpc.h"
#include "fcgend/cache.h"
#include "fcgend/forge.h"
#include "common/hist.h"
#include "fcgend/keypool.h"
#include "proto/fcgen.pb-c.h"

/* The service descriptor for rpc_server_new / rpc_dispatch_buffer. */
extern const struct rpc_service fcgen_rpc_service;

struct fcgen_stats {
	uint64_t requests;	  /* Forge requests answered (RPC and control) */
	uint64_t ok;		  /* answered with a certificate */
	uint64_t cache_hits;	  /* ... from the cache */
	uint64_t forged;	  /* ... freshly made */
	uint64_t errors;	  /* answered with an error status */
	uint64_t invalid;	  /* ... INVALID_ARGUMENT */
	uint64_t keys_inline;	  /* keys generated on the request path (empty pool) */
	uint64_t timed;		  /* RPC requests timed below */
	uint64_t latency_last_ns; /* the last RPC request, handler entry to exit */
	uint64_t latency_sum_ns;
	uint64_t latency_max_ns;
};

/* Clocks, replaceable in tests: monotonic milliseconds (cache) and wall
 * seconds (validity). */
struct fcgen_clock {
	uint64_t (*mono_ms)(void *arg);
	time_t (*wall)(void *arg);
	void *arg;
};

struct fcgen_service;

/* A service forging with ca (borrowed: must outlive the service or be
 * replaced first), keys from pool (borrowed), caching up to cache_size
 * certificates for at most cache_ttl_ms. Returns an owned service. */
struct fcgen_service *fcgen_service_new(const struct forge_ca *ca, struct keypool *pool,
					size_t cache_size, uint64_t cache_ttl_ms,
					const struct hist_conf *duration_stats);
void fcgen_service_free(struct fcgen_service *s); /* NULL is accepted */

/* Reload: a new CA (borrowed as above) empties the cache unless it signs
 * as the current one does (forge_ca_same_signer: a reload of an unchanged
 * CA keeps the cache); the cache bound, TTL and histogram settings are
 * applied in place. */
void fcgen_service_update(struct fcgen_service *s, const struct forge_ca *ca, size_t cache_size,
			  uint64_t cache_ttl_ms, const struct hist_conf *duration_stats);

void fcgen_service_set_clock(struct fcgen_service *s, const struct fcgen_clock *clk);

/* The rpc handler (rpc_handler_fn): ctx is a struct fcgen_service *. */
enum rpc_code fcgen_handle(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *rep,
			   struct rpc_arena *a);

/* Answer one ForgeReq into rep (initialised by the caller; on RPC_OK every
 * field is set, pointing into the arena, the cache or the CA, valid until
 * the next call into the service). Errors carry a reason set with
 * rpc_arena_set_error: RPC_INVALID_ARGUMENT for a bad request,
 * RPC_FAILED_PRECONDITION for an expired CA or upstream, RPC_INTERNAL when
 * key generation or signing fails. */
enum rpc_code fcgen_forge(struct fcgen_service *s, const G3c__Fcgen__ForgeReq *req,
			  G3c__Fcgen__ForgeRep *rep, struct rpc_arena *a);

void fcgen_service_get_stats(const struct fcgen_service *s, struct fcgen_stats *out);
void fcgen_service_cache_stats(const struct fcgen_service *s, struct cert_cache_stats *out);
/* The request-duration histogram (metrics rotate it). */
struct hist_window *fcgen_service_hist(struct fcgen_service *s);
const struct hist_conf *fcgen_service_hist_conf(const struct fcgen_service *s);

#endif
