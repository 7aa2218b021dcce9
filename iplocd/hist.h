/* A small latency histogram for metrics: log-linear buckets (8 per power of
 * two, so a quantile is off by at most 1/8 of its value), exact min, max and
 * mean. One writer, the loop thread; reset after each emit. */
#ifndef G3C_IPLOCD_HIST_H
#define G3C_IPLOCD_HIST_H

#include <stdint.h>

#define IPLOC_HIST_SUB 8
#define IPLOC_HIST_BUCKETS (64 * IPLOC_HIST_SUB)

struct iploc_hist {
	uint64_t count, sum, min, max;
	uint32_t bucket[IPLOC_HIST_BUCKETS];
};

void iploc_hist_reset(struct iploc_hist *h);
void iploc_hist_add(struct iploc_hist *h, uint64_t v);
/* Upper bound of the bucket holding quantile q (0..1), clamped to
 * [min, max]; 0 when empty. */
uint64_t iploc_hist_quantile(const struct iploc_hist *h, double q);
uint64_t iploc_hist_mean(const struct iploc_hist *h);

#endif
