/* The user.site.<id>.task.ready.duration histogram shared by worker
 * threads (spec §3.12): an atomic front end of common/hist.h. Workers
 * record with a few relaxed atomic adds (no lock, no allocation); the
 * metrics emitter (main thread) drains the buckets into a struct hist of
 * the same shape (DUR_HIST_SUB_BITS / DUR_HIST_VALUE_BITS) and reads the
 * quantiles there with hist_quantile / hist_window_rotate.
 *
 * The bucket layout is common/hist.c's for that shape: values below 16
 * exact, then 8 buckets per power of two (the reported midpoint within
 * 1/16), values above 2^40 - 1 ns (18 minutes) clamped. */
#ifndef G3C_PROXYD_DUR_HIST_H
#define G3C_PROXYD_DUR_HIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hist.h"

#define DUR_HIST_SUB_BITS 3u
#define DUR_HIST_VALUE_BITS 40u
#define DUR_HIST_BUCKETS ((DUR_HIST_VALUE_BITS - DUR_HIST_SUB_BITS + 1u) << DUR_HIST_SUB_BITS)

/* Embedded in its owner; dur_hist_init before use. */
struct dur_hist {
	atomic_uint_fast64_t b[DUR_HIST_BUCKETS];
	atomic_uint_fast64_t sum;
	atomic_uint_fast64_t min, max;
};

void dur_hist_init(struct dur_hist *h);

/* The bucket of v (clamped as common/hist does). */
size_t dur_hist_index(uint64_t v);

/* Record one value (any thread). */
void dur_hist_record(struct dur_hist *h, uint64_t v);

/* Move every value recorded since the previous drain into out (shape
 * DUR_HIST_SUB_BITS, DUR_HIST_VALUE_BITS: 0 or -EINVAL, h untouched, when
 * it differs); h starts empty again. One drainer at a time. */
int dur_hist_drain(struct dur_hist *h, struct hist *out) MUST_CHECK;

#endif
