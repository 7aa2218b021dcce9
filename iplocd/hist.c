/* Log-linear latency histogram (hist.h). */
#include "iplocd/hist.h"

#include <string.h>

#include "common/util.h"

void iploc_hist_reset(struct iploc_hist *h)
{
	memset(h, 0, sizeof(*h));
}

/* Values below IPLOC_HIST_SUB get a bucket each; above, the top bit picks
 * the octave and the next 3 bits the sub-bucket. */
static unsigned bucket_of(uint64_t v)
{
	unsigned top, sub;

	if (v < IPLOC_HIST_SUB)
		return (unsigned)v;
	top = 63u - (unsigned)__builtin_clzll(v);
	sub = (unsigned)(v >> (top - 3)) & (IPLOC_HIST_SUB - 1);
	return MIN((top - 2) * IPLOC_HIST_SUB + sub, (unsigned)IPLOC_HIST_BUCKETS - 1);
}

static uint64_t bucket_upper(unsigned b)
{
	unsigned top, sub;

	if (b < IPLOC_HIST_SUB)
		return b;
	top = b / IPLOC_HIST_SUB + 2;
	sub = b % IPLOC_HIST_SUB;
	if (top >= 63)
		return UINT64_MAX;
	return ((uint64_t)(IPLOC_HIST_SUB + sub + 1) << (top - 3)) - 1;
}

void iploc_hist_add(struct iploc_hist *h, uint64_t v)
{
	if (h->count == 0 || v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
	h->bucket[bucket_of(v)]++;
}

uint64_t iploc_hist_quantile(const struct iploc_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (h->count == 0)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	want = (uint64_t)(q * (double)h->count);
	if (want == 0)
		want = 1;
	for (unsigned b = 0; b < IPLOC_HIST_BUCKETS; b++) {
		seen += h->bucket[b];
		if (seen >= want)
			return MAX(h->min, MIN(bucket_upper(b), h->max));
	}
	return h->max;
}

uint64_t iploc_hist_mean(const struct iploc_hist *h)
{
	return h->count ? h->sum / h->count : 0;
}
