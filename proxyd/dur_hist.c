/* Fixed-bucket duration histogram (see dur_hist.h). */
#include "proxyd/dur_hist.h"

#include <string.h>

void dur_hist_init(struct dur_hist *h)
{
	for (unsigned i = 0; i < DUR_HIST_BUCKETS; i++)
		atomic_init(&h->b[i], 0);
	atomic_init(&h->sum, 0);
	atomic_init(&h->min, UINT64_MAX);
	atomic_init(&h->max, 0);
}

unsigned dur_hist_bucket(uint64_t v)
{
	unsigned e, idx;

	if (v < DUR_HIST_SUB)
		return (unsigned)v;
	e = 63u - (unsigned)__builtin_clzll(v); /* v >= 4: e >= 2 */
	idx = DUR_HIST_SUB * (e - 1u) + (unsigned)((v >> (e - 2u)) & (DUR_HIST_SUB - 1u));
	return idx < DUR_HIST_BUCKETS ? idx : DUR_HIST_BUCKETS - 1u;
}

void dur_hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi)
{
	unsigned e, m;

	if (idx < DUR_HIST_SUB) {
		*lo = *hi = idx;
		return;
	}
	e = idx / DUR_HIST_SUB + 1u;
	m = idx % DUR_HIST_SUB;
	*lo = (uint64_t)(DUR_HIST_SUB + m) << (e - 2u);
	*hi = ((uint64_t)(DUR_HIST_SUB + m + 1u) << (e - 2u)) - 1u;
}

void dur_hist_record(struct dur_hist *h, uint64_t v)
{
	uint_fast64_t cur;

	atomic_fetch_add_explicit(&h->b[dur_hist_bucket(v)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
	cur = atomic_load_explicit(&h->min, memory_order_relaxed);
	while (v < cur && !atomic_compare_exchange_weak_explicit(&h->min, &cur, v,
								 memory_order_relaxed,
								 memory_order_relaxed))
		;
	cur = atomic_load_explicit(&h->max, memory_order_relaxed);
	while (v > cur && !atomic_compare_exchange_weak_explicit(&h->max, &cur, v,
								 memory_order_relaxed,
								 memory_order_relaxed))
		;
}

static const unsigned q_permille[DUR_Q__COUNT] = {
	[DUR_Q_50] = 500, [DUR_Q_80] = 800, [DUR_Q_90] = 900, [DUR_Q_95] = 950, [DUR_Q_99] = 990,
};

void dur_hist_take(struct dur_hist *h, struct dur_snapshot *out)
{
	uint64_t b[DUR_HIST_BUCKETS], n = 0, sum, mn, mx;

	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < DUR_HIST_BUCKETS; i++) {
		b[i] = atomic_exchange_explicit(&h->b[i], 0, memory_order_relaxed);
		n += b[i];
	}
	sum = atomic_exchange_explicit(&h->sum, 0, memory_order_relaxed);
	mn = atomic_exchange_explicit(&h->min, UINT64_MAX, memory_order_relaxed);
	mx = atomic_exchange_explicit(&h->max, 0, memory_order_relaxed);
	if (n == 0)
		return;
	if (mn > mx) /* a sample raced the take: its bounds come next time */
		mn = mx;
	out->n = n;
	out->v[DUR_Q_MIN] = mn;
	out->v[DUR_Q_MAX] = mx;
	out->v[DUR_Q_MEAN] = sum / n;
	for (unsigned q = DUR_Q_50; q < DUR_Q__COUNT; q++) {
		/* the smallest bucket whose cumulative count reaches rank */
		uint64_t rank = (n * q_permille[q] + 999u) / 1000u, acc = 0, lo, hi, v;
		unsigned i = 0;
		if (rank == 0)
			rank = 1;
		for (; i < DUR_HIST_BUCKETS - 1u; i++) {
			acc += b[i];
			if (acc >= rank)
				break;
		}
		dur_hist_bucket_range(i, &lo, &hi);
		v = lo + (hi - lo) / 2u;
		out->v[q] = v < mn ? mn : v > mx ? mx : v;
	}
}

const char *dur_q_name(enum dur_q q)
{
	static const char *const names[DUR_Q__COUNT] = {
		"min", "max", "mean", "0.50", "0.80", "0.90", "0.95", "0.99",
	};
	return (unsigned)q < DUR_Q__COUNT ? names[q] : "";
}
