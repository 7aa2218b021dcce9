/* Forged-certificate cache: opaque key bytes (host, usage, flags, upstream
 * fingerprint) → leaf DER + private key DER, with a per-entry expiry and a
 * bound on the number of entries (least recently used goes first).
 * Not thread-safe: one owner thread. Times are caller-supplied
 * milliseconds on any monotonic clock. */
#ifndef G3C_FCGEND_CACHE_H
#define G3C_FCGEND_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

#define CERT_CACHE_MAX_ENTRIES 10000000u

/* A cached answer. From cert_cache_get it is a borrowed view into the
 * cache, valid until the next put, clear, set_max or free. */
struct cached_cert {
	const uint8_t *leaf;
	size_t leaf_len;
	const uint8_t *key;
	size_t key_len;
	uint64_t ttl_until_ms; /* the TTL callers are told counts down to this */
};

struct cert_cache_stats {
	uint64_t hits, misses;
	uint64_t expired;  /* found expired on lookup and dropped */
	uint64_t evicted;  /* dropped to respect the size bound */
	uint64_t inserted; /* puts (a replaced key counts once) */
	size_t entries, max_entries;
};

struct cert_cache;

/* An empty cache for at most max_entries (0 disables it: every get misses,
 * puts are dropped). Returns an owned cache (cert_cache_free). */
struct cert_cache *cert_cache_new(size_t max_entries);
void cert_cache_free(struct cert_cache *c); /* NULL is accepted */

/* Look key up at now_ms. A hit refreshes its LRU position. An entry past
 * its expiry is dropped and counts as a miss. */
bool cert_cache_get(struct cert_cache *c, const void *key, size_t klen, uint64_t now_ms,
		    struct cached_cert *out);

/* Store a copy of val under key until expire_ms (replacing an entry with
 * the same key), evicting the least recently used entry when full. */
void cert_cache_put(struct cert_cache *c, const void *key, size_t klen,
		    const struct cached_cert *val, uint64_t expire_ms);

/* Drop every entry (a new CA makes them all wrong). */
void cert_cache_clear(struct cert_cache *c);

/* Change the bound (evicting the least recently used entries as needed). */
void cert_cache_set_max(struct cert_cache *c, size_t max_entries);

void cert_cache_get_stats(const struct cert_cache *c, struct cert_cache_stats *out);

#endif
