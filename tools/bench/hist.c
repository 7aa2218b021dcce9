/* Log-linear histogram (see hist.h). Index layout: values below 2^(SUB+1)
 * map to themselves; above, exponent e = msb - SUB selects a band of
 * 2^SUB buckets each 2^e wide. */
#include "tools/bench/hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HIST_SUB (UINT64_C(1) << HIST_SUB_BITS)
/* Bands: value msb goes up to 39, e up to 39 - SUB. */
#define HIST_NBUCKETS ((size_t)((40 - HIST_SUB_BITS) + 1) * HIST_SUB)

static size_t hist_index(uint64_t v)
{
	unsigned msb, e;

	if (v < 2 * HIST_SUB)
		return (size_t)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	e = msb - HIST_SUB_BITS;
	return (size_t)(e + 1) * HIST_SUB + (size_t)((v >> e) - HIST_SUB);
}

/* Lowest value and width of bucket i. */
static void hist_bucket_range(size_t i, uint64_t *lo, uint64_t *width)
{
	size_t band = i / HIST_SUB;

	if (band < 2) {
		*lo = i;
		*width = 1;
		return;
	}
	{
		unsigned e = (unsigned)band - 1;

		*lo = ((uint64_t)(i % HIST_SUB) + HIST_SUB) << e;
		*width = UINT64_C(1) << e;
	}
}

struct hist *hist_new(void)
{
	struct hist *h = xcalloc(1, sizeof(*h));

	h->buckets = xcalloc(HIST_NBUCKETS, sizeof(uint64_t));
	h->min = UINT64_MAX;
	return h;
}

void hist_free(struct hist *h)
{
	if (!h)
		return;
	free(h->buckets);
	free(h);
}

void hist_record(struct hist *h, uint64_t ns)
{
	if (ns > HIST_MAX_NS)
		ns = HIST_MAX_NS;
	h->buckets[hist_index(ns)]++;
	h->count++;
	h->sum += (long double)ns;
	if (ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	if (src->count == 0)
		return;
	for (size_t i = 0; i < HIST_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t hist_percentile(const struct hist *h, double pct)
{
	uint64_t want, seen = 0;

	if (h->count == 0)
		return 0;
	if (pct >= 100.0)
		return h->max;
	if (pct <= 0.0)
		return h->min;
	/* The epsilon keeps 99.9 % of 1000 at rank 999, not 1000. */
	want = (uint64_t)ceil(pct / 100.0 * (double)h->count - 1e-9);
	if (want == 0)
		want = 1;
	for (size_t i = 0; i < HIST_NBUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= want) {
			uint64_t lo, width, v;

			hist_bucket_range(i, &lo, &width);
			v = lo + width / 2;
			if (v < h->min)
				v = h->min;
			if (v > h->max)
				v = h->max;
			return v;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)(h->sum / (long double)h->count) : 0.0;
}

double hist_stddev(const struct hist *h)
{
	double mean = hist_mean(h), acc = 0;

	if (h->count == 0)
		return 0;
	for (size_t i = 0; i < HIST_NBUCKETS; i++) {
		uint64_t lo, width;
		double d;

		if (!h->buckets[i])
			continue;
		hist_bucket_range(i, &lo, &width);
		d = (double)lo + (double)width / 2 - mean;
		acc += d * d * (double)h->buckets[i];
	}
	return sqrt(acc / (double)h->count);
}
