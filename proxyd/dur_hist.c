/* Atomic front end of common/hist (see dur_hist.h). */
#include "proxyd/dur_hist.h"

#include <errno.h>

void dur_hist_init(struct dur_hist *h)
{
	for (size_t i = 0; i < DUR_HIST_BUCKETS; i++)
		atomic_init(&h->b[i], 0);
	atomic_init(&h->sum, 0);
	atomic_init(&h->min, UINT64_MAX);
	atomic_init(&h->max, 0);
}

size_t dur_hist_index(uint64_t v)
{
	const uint64_t sub = UINT64_C(1) << DUR_HIST_SUB_BITS;
	const uint64_t max = (UINT64_C(1) << DUR_HIST_VALUE_BITS) - 1u;
	unsigned msb, e;

	if (v > max)
		v = max;
	if (v < 2u * sub)
		return (size_t)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	e = msb - DUR_HIST_SUB_BITS;
	return (size_t)(e + 1u) * (size_t)sub + (size_t)((v >> e) - sub);
}

void dur_hist_record(struct dur_hist *h, uint64_t v)
{
	const uint64_t max = (UINT64_C(1) << DUR_HIST_VALUE_BITS) - 1u;
	uint_fast64_t cur;

	if (v > max)
		v = max;
	atomic_fetch_add_explicit(&h->b[dur_hist_index(v)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
	cur = atomic_load_explicit(&h->min, memory_order_relaxed);
	while (v < cur && !atomic_compare_exchange_weak_explicit(
				  &h->min, &cur, v, memory_order_relaxed, memory_order_relaxed))
		;
	cur = atomic_load_explicit(&h->max, memory_order_relaxed);
	while (v > cur && !atomic_compare_exchange_weak_explicit(
				  &h->max, &cur, v, memory_order_relaxed, memory_order_relaxed))
		;
}

/* The lowest value of bucket i. */
static uint64_t bucket_lo(size_t i)
{
	const size_t sub = (size_t)1 << DUR_HIST_SUB_BITS;

	if (i < 2u * sub)
		return i;
	return (uint64_t)((i & (sub - 1u)) + sub) << ((i >> DUR_HIST_SUB_BITS) - 1u);
}

int dur_hist_drain(struct dur_hist *h, struct hist *out)
{
	uint64_t n = 0, mn, mx;
	size_t first = DUR_HIST_BUCKETS, last = 0;

	if (out->sub_bits != DUR_HIST_SUB_BITS || out->nbuckets != DUR_HIST_BUCKETS)
		return -EINVAL;
	for (size_t i = 0; i < DUR_HIST_BUCKETS; i++) {
		uint64_t k = atomic_exchange_explicit(&h->b[i], 0, memory_order_relaxed);
		out->buckets[i] += k;
		n += k;
		if (k != 0) {
			first = first < i ? first : i;
			last = i;
		}
	}
	out->sum += (long double)atomic_exchange_explicit(&h->sum, 0, memory_order_relaxed);
	mn = atomic_exchange_explicit(&h->min, UINT64_MAX, memory_order_relaxed);
	mx = atomic_exchange_explicit(&h->max, 0, memory_order_relaxed);
	if (n == 0)
		return 0;
	/* a value racing the drain may leave its bucket here and its bounds
	 * for the next drain: then the bounds come from the buckets */
	if (mn > mx) {
		mn = bucket_lo(first);
		mx = bucket_lo(last);
	}
	out->count += n;
	if (mn < out->min)
		out->min = mn;
	if (mx > out->max)
		out->max = mx;
	return 0;
}
