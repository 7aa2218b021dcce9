/* Log-linear (HDR-style) histogram of durations in nanoseconds: exact below
 * 2048, then 1024 linear sub-buckets per power of two, so every recorded
 * value is known to within 0.1 %. Recording is one index computation and an
 * increment (no allocation after hist_new); values above HIST_MAX_NS are
 * clamped to it. Exact min, max and sum are kept beside the buckets. */
#ifndef G3C_TOOLS_BENCH_HIST_H
#define G3C_TOOLS_BENCH_HIST_H

#include <stdint.h>

#include "common/util.h"

#define HIST_SUB_BITS 10
#define HIST_MAX_NS ((UINT64_C(1) << 40) - 1) /* about 18 minutes */

struct hist {
	uint64_t count;
	uint64_t min; /* UINT64_MAX while empty */
	uint64_t max;
	long double sum;
	uint64_t *buckets; /* HIST_NBUCKETS, owned */
};

/* An empty histogram, owned: release with hist_free (NULL accepted).
 * Aborts when memory is exhausted (it is made once per thread). */
struct hist *hist_new(void);
void hist_free(struct hist *h);

/* Record one value. */
void hist_record(struct hist *h, uint64_t ns);

/* Add every value recorded in src to dst. */
void hist_merge(struct hist *dst, const struct hist *src);

/* The value at percentile pct (0..100): the smallest recorded value v such
 * that at least pct % of the values are <= v, reported as the midpoint of
 * its bucket (clamped to [min, max]); 0 when empty. pct 100 is the max. */
uint64_t hist_percentile(const struct hist *h, double pct);

/* Mean of the recorded values; 0 when empty. */
double hist_mean(const struct hist *h);

/* Standard deviation computed from the buckets; 0 when empty. */
double hist_stddev(const struct hist *h);

#endif
