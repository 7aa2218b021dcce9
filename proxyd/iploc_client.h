/* The client side of iplocd (proto/iploc.proto) for route_geoip: an
 * asynchronous lookup with a per-prefix cache, one per worker loop (not
 * thread-safe). It follows g3proxy's `ip_locate_service` cache (spec
 * siblings.md §2.3) and fixes its gaps:
 *  - an answer is cached for its whole network (iplocd says which): any
 *    address inside it hits the entry; the longest cached prefix wins;
 *  - answers for unknown addresses (found = false) are cached the same way,
 *    so an unknown address costs one round trip per TTL, not a stall;
 *  - TTLs: the answer's, clamped to maximum_expire_ttl; default_expire_ttl
 *    when the answer has none;
 *  - an expired entry is asked again; when that query fails the stale
 *    answer is used (g3's behaviour);
 *  - the cache is bounded (LRU eviction);
 *  - lookups queued in one loop iteration go out together, up to `batch`
 *    addresses per request, and callers asking for the same address share
 *    one query;
 *  - a query that fails or exceeds query_wait_timeout completes its callers
 *    with an error (route_geoip then takes default_next); after a timeout the
 *    service counts as down for down_backoff, and lookups that miss the
 *    cache fail at once instead of each waiting again.
 * Callbacks run on the loop, never from inside iploc_client_lookup(), and
 * never after iploc_client_cancel() or iploc_client_free(). */
#ifndef G3C_PROXYD_IPLOC_CLIENT_H
#define G3C_PROXYD_IPLOC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>

#include "common/util.h"

/* g3proxy's ip_locate_service keys, plus ours. */
struct iploc_client_conf {
	const char *url;		/* iplocd's RPC socket (query_peer_addr); borrowed */
	uint32_t query_wait_timeout_ms; /* one query's deadline: 1000 */
	uint32_t default_expire_ttl;	/* seconds, for an answer with ttl 0: 10 */
	uint32_t maximum_expire_ttl;	/* seconds, answers are clamped to it: 300 */
	uint32_t cache_size;		/* entries kept (LRU): 65536 */
	uint32_t batch;			/* addresses per request (cache_request_batch_count): 10 */
	uint32_t down_backoff_ms; /* after a timeout, fail misses at once for this long: 1000 */
};

/* Fill the defaults above (url NULL). */
void iploc_client_conf_defaults(struct iploc_client_conf *c);

/* One answer, copied out of the cache. */
struct iploc_location {
	bool found;	     /* iplocd had a record for the address */
	bool stale;	     /* expired; the re-query failed */
	int family;	     /* AF_INET or AF_INET6: of `network` */
	uint8_t network[16]; /* the network the answer holds for */
	uint8_t prefix;
	char country[4];   /* ISO code, "" when unknown */
	char continent[4]; /* AF AN AS EU NA OC SA, "" when unknown */
	uint32_t asn;	   /* 0 when unknown */
};

struct iploc_client;

/* Owned client (iploc_client_free) on `loop`, or NULL with *err = -errno.
 * conf is copied (url too). */
struct iploc_client *iploc_client_new(struct ev_loop *loop, const struct iploc_client_conf *conf,
				      int *err);
/* Pending callers are dropped without callbacks. NULL is accepted. */
void iploc_client_free(struct iploc_client *c);

/* Completion: err 0 with loc (borrowed for the call), or -ETIMEDOUT (no
 * answer in time), -EHOSTUNREACH (the service is down: backoff), -EPROTO
 * (iplocd refused the query), with loc NULL. */
typedef void iploc_client_fn(void *arg, int err, const struct iploc_location *loc);

/* Locate `sa` (AF_INET/AF_INET6; an IPv4-mapped IPv6 address is treated as
 * IPv4). Returns 1 with *out filled from a fresh cache entry (no callback),
 * 0 when cb will be called (*handle, never 0, cancels it; handle may be
 * NULL), or -EHOSTUNREACH (service down and no cache entry: no callback),
 * -EAFNOSUPPORT (other families). */
int iploc_client_lookup(struct iploc_client *c, const struct sockaddr *sa,
			struct iploc_location *out, iploc_client_fn *cb, void *arg,
			uint64_t *handle) MUST_CHECK;

/* The callback of `handle` will not run. Returns false when it already ran
 * or never existed. */
bool iploc_client_cancel(struct iploc_client *c, uint64_t handle);

struct iploc_client_stats {
	uint64_t lookups;   /* iploc_client_lookup calls */
	uint64_t hits;	    /* answered from a fresh entry */
	uint64_t misses;    /* needed a query */
	uint64_t queries;   /* addresses sent to iplocd */
	uint64_t requests;  /* RPC requests (batches) */
	uint64_t answers;   /* addresses answered by iplocd */
	uint64_t failures;  /* callers completed with an error */
	uint64_t stale;	    /* callers given a stale entry after a failed re-query */
	uint64_t evictions; /* entries dropped for room */
	uint64_t entries;   /* entries now */
};
void iploc_client_get_stats(const struct iploc_client *c, struct iploc_client_stats *out);

#endif
