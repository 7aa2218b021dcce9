/* Speed limiters of the data plane. Pure arithmetic over a caller-given
 * clock; nothing here allocates, sleeps or touches a socket.
 *
 * struct limit_slice: g3's per-socket limit (tcp_sock_speed_limit and
 *   friends). Time is cut into slices of 2^shift ms aligned on the clock;
 *   at most `max` bytes go in one slice, then the direction waits for the
 *   next slice. Owned by one connection, one thread: no atomics.
 *
 * struct limit_bucket: a token bucket shareable between worker threads
 *   (per-user tcp_all_* limits): `replenish` bytes every `interval`, at most
 *   `burst` saved up. Kept as one atomic "theoretical arrival time" (GCRA),
 *   so taking tokens is one compare-and-swap, lock free.
 *
 * Both grant part of a request: the caller moves at most what was granted,
 * then reports what it really moved (slice) or took it up front (bucket). */
#ifndef G3C_PROXYD_DP_LIMIT_H
#define G3C_PROXYD_DP_LIMIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

#define LIMIT_UNLIMITED UINT64_MAX

struct limit_slice {
	uint64_t max;	/* bytes per slice; 0 = no limit */
	uint64_t used;	/* bytes used in the current slice */
	uint64_t slice; /* index of the current slice (now_ms >> shift) */
	uint8_t shift;	/* slice length is 2^shift ms (0..12) */
};

/* Set up a slice limiter: max bytes per 2^shift ms (max 0 = unlimited;
 * shift is clamped to 0..12 as g3 does). */
void limit_slice_init(struct limit_slice *l, uint8_t shift, uint64_t max);

static inline bool limit_slice_on(const struct limit_slice *l)
{
	return l->max != 0;
}

/* Bytes that may move now (LIMIT_UNLIMITED when there is no limit; 0 when
 * this slice is used up). */
uint64_t limit_slice_avail(struct limit_slice *l, uint64_t now_ms);

/* Account n bytes moved at now_ms (may exceed what avail granted, e.g. a
 * reply head: the excess is owed and delays the next slices). */
void limit_slice_use(struct limit_slice *l, uint64_t now_ms, uint64_t n);

/* Milliseconds from now_ms until bytes may move again (>= 1; 0 when bytes
 * may move now or there is no limit). */
uint64_t limit_slice_wait_ms(struct limit_slice *l, uint64_t now_ms);

struct limit_bucket {
	_Atomic uint64_t tat_ns; /* time when the bucket is full again */
	double ns_per_byte;	 /* 0 = no limit */
	uint64_t burst_ns;	 /* burst bytes as time */
};

/* Set up a bucket: replenish bytes per interval_ms, at most burst bytes
 * saved (burst 0 = replenish). replenish 0 or interval_ms 0 = unlimited.
 * The bucket starts full. Not thread-safe itself: initialise before the
 * bucket is shared. */
void limit_bucket_init(struct limit_bucket *b, uint64_t interval_ms, uint64_t replenish,
		       uint64_t burst);

static inline bool limit_bucket_on(const struct limit_bucket *b)
{
	return b->ns_per_byte > 0;
}

/* Take up to want bytes at now_ns (any thread). Returns the bytes granted
 * (0..want; want when unlimited). When 0, *wait_ns (if not NULL) is the time
 * until at least one byte is available. Unused granted bytes may be given
 * back with limit_bucket_refund(). */
uint64_t limit_bucket_take(struct limit_bucket *b, uint64_t now_ns, uint64_t want,
			   uint64_t *wait_ns);

/* Give back n bytes taken but not moved. */
void limit_bucket_refund(struct limit_bucket *b, uint64_t n);

/* A lock-free GCRA over whole cells (log_rate_limit: one cell per task
 * record): one cell every interval_ns, at most burst cells at once. *tat
 * is the shared "theoretical arrival time" (starts at 0 = full); any
 * thread may call this. True when a cell was taken; false when over the
 * rate (nothing taken). burst 0 or interval_ns 0 = unlimited. */
bool limit_gcra_take(_Atomic uint64_t *tat, uint64_t interval_ns, uint32_t burst, uint64_t now_ns);

#endif
