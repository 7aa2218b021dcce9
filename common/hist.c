/* Log-linear histogram (see hist.h). Index layout, SUB = 2^sub_bits: values
 * below 2 * SUB map to themselves; above, e = msb - sub_bits selects a band
 * of SUB buckets each 2^e wide, starting at index (e + 1) * SUB. */
#include "common/hist.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static size_t hist_index(const struct hist *h, uint64_t v)
{
	uint64_t sub = UINT64_C(1) << h->sub_bits;
	unsigned msb, e;

	if (v < 2 * sub)
		return (size_t)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	e = msb - h->sub_bits;
	return (size_t)(e + 1) * (size_t)sub + (size_t)((v >> e) - sub);
}

/* Lowest value and width of bucket i. */
static void hist_bucket_range(const struct hist *h, size_t i, uint64_t *lo, uint64_t *width)
{
	uint64_t sub = UINT64_C(1) << h->sub_bits;
	size_t band = i >> h->sub_bits;
	unsigned e;

	if (band < 2) {
		*lo = i;
		*width = 1;
		return;
	}
	e = (unsigned)band - 1;
	*lo = ((uint64_t)(i & (sub - 1)) + sub) << e;
	*width = UINT64_C(1) << e;
}

int hist_init(struct hist *h, unsigned sub_bits, unsigned value_bits)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
	if (sub_bits < 1 || sub_bits > 12 || value_bits < sub_bits + 2 || value_bits > 64)
		return -EINVAL;
	h->sub_bits = sub_bits;
	h->max_value = value_bits == 64 ? UINT64_MAX : (UINT64_C(1) << value_bits) - 1;
	h->nbuckets = (size_t)(value_bits - sub_bits + 1) << sub_bits;
	h->buckets = calloc(h->nbuckets, sizeof(h->buckets[0]));
	if (!h->buckets) {
		h->nbuckets = 0;
		return -ENOMEM;
	}
	return 0;
}

void hist_fini(struct hist *h)
{
	free(h->buckets);
	h->buckets = NULL;
	h->nbuckets = 0;
}

struct hist *hist_new(unsigned sub_bits, unsigned value_bits)
{
	struct hist *h = xcalloc(1, sizeof(*h));
	int ret = hist_init(h, sub_bits, value_bits);

	ASSERT(ret == 0); /* a bad shape is a programming error; ENOMEM a dead tool */
	return h;
}

void hist_free(struct hist *h)
{
	if (!h)
		return;
	hist_fini(h);
	free(h);
}

void hist_reset(struct hist *h)
{
	if (h->buckets)
		memset(h->buckets, 0, h->nbuckets * sizeof(h->buckets[0]));
	h->count = 0;
	h->min = UINT64_MAX;
	h->max = 0;
	h->sum = 0;
}

void hist_record(struct hist *h, uint64_t v)
{
	if (v > h->max_value)
		v = h->max_value;
	h->buckets[hist_index(h, v)]++;
	h->count++;
	h->sum += (long double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

int hist_merge(struct hist *dst, const struct hist *src)
{
	if (dst->sub_bits != src->sub_bits || dst->nbuckets != src->nbuckets)
		return -EINVAL;
	if (src->count == 0)
		return 0;
	for (size_t i = 0; i < dst->nbuckets; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	return 0;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t want, seen = 0;

	if (h->count == 0)
		return 0;
	if (q >= 1.0)
		return h->max;
	if (q <= 0.0)
		return h->min;
	/* The epsilon keeps 0.999 of 1000 at rank 999, not 1000. */
	want = (uint64_t)ceil(q * (double)h->count - 1e-9);
	if (want == 0)
		want = 1;
	for (size_t i = 0; i < h->nbuckets; i++) {
		seen += h->buckets[i];
		if (seen >= want) {
			uint64_t lo, width, v;

			hist_bucket_range(h, i, &lo, &width);
			v = lo + width / 2;
			return MAX(h->min, MIN(v, h->max));
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
	for (size_t i = 0; i < h->nbuckets; i++) {
		uint64_t lo, width;
		double d;

		if (!h->buckets[i])
			continue;
		hist_bucket_range(h, i, &lo, &width);
		d = (double)lo + (double)width / 2 - mean;
		acc += d * d * (double)h->buckets[i];
	}
	return sqrt(acc / (double)h->count);
}
