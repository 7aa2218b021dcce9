/* Speed limiters (see limit.h). */
#include "proxyd/dp/limit.h"

#include <math.h>

#define LIMIT_SHIFT_MAX 12

void limit_slice_init(struct limit_slice *l, uint8_t shift, uint64_t max)
{
	l->max = max;
	l->used = 0;
	l->slice = 0;
	l->shift = shift > LIMIT_SHIFT_MAX ? LIMIT_SHIFT_MAX : shift;
}

/* Move to the slice of now_ms: each slice that began since pays max bytes
 * of what is owed. */
static void slice_advance(struct limit_slice *l, uint64_t now_ms)
{
	uint64_t s = now_ms >> l->shift;
	uint64_t paid;

	if (s <= l->slice)
		return;
	if (s - l->slice >= l->used / l->max + 1)
		paid = l->used;
	else
		paid = (s - l->slice) * l->max;
	l->used -= paid;
	l->slice = s;
}

uint64_t limit_slice_avail(struct limit_slice *l, uint64_t now_ms)
{
	if (l->max == 0)
		return LIMIT_UNLIMITED;
	slice_advance(l, now_ms);
	return l->used >= l->max ? 0 : l->max - l->used;
}

void limit_slice_use(struct limit_slice *l, uint64_t now_ms, uint64_t n)
{
	if (l->max == 0)
		return;
	slice_advance(l, now_ms);
	l->used = l->used > UINT64_MAX - n ? UINT64_MAX : l->used + n;
}

uint64_t limit_slice_wait_ms(struct limit_slice *l, uint64_t now_ms)
{
	uint64_t ahead, next;

	if (l->max == 0)
		return 0;
	slice_advance(l, now_ms);
	if (l->used < l->max)
		return 0;
	/* the slice in which the debt is paid down below max */
	ahead = (l->used - l->max) / l->max + 1;
	next = (l->slice + ahead) << l->shift;
	return next > now_ms ? next - now_ms : 1;
}

void limit_bucket_init(struct limit_bucket *b, uint64_t interval_ms, uint64_t replenish,
		       uint64_t burst)
{
	atomic_init(&b->tat_ns, 0);
	if (interval_ms == 0 || replenish == 0) {
		b->ns_per_byte = 0;
		b->burst_ns = 0;
		return;
	}
	if (burst == 0)
		burst = replenish;
	b->ns_per_byte = (double)interval_ms * 1e6 / (double)replenish;
	b->burst_ns = (uint64_t)ceil((double)burst * b->ns_per_byte);
}

uint64_t limit_bucket_take(struct limit_bucket *b, uint64_t now_ns, uint64_t want,
			   uint64_t *wait_ns)
{
	uint64_t tat = atomic_load_explicit(&b->tat_ns, memory_order_relaxed);

	if (b->ns_per_byte <= 0 || want == 0)
		return want;
	for (;;) {
		/* a full bucket is "tat <= now": spending moves tat forward;
		 * no more than burst_ns ahead of now may be spent */
		uint64_t base = tat > now_ns ? tat : now_ns;
		uint64_t limit = now_ns + b->burst_ns;
		uint64_t grant, cost;

		if (base >= limit) {
			if (wait_ns)
				*wait_ns = base - limit + (uint64_t)ceil(b->ns_per_byte);
			return 0;
		}
		grant = (uint64_t)((double)(limit - base) / b->ns_per_byte);
		if (grant == 0) {
			if (wait_ns)
				*wait_ns = (uint64_t)ceil(b->ns_per_byte) - (limit - base);
			return 0;
		}
		if (grant > want)
			grant = want;
		cost = (uint64_t)ceil((double)grant * b->ns_per_byte);
		if (atomic_compare_exchange_weak_explicit(&b->tat_ns, &tat, base + cost,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return grant;
	}
}

void limit_bucket_refund(struct limit_bucket *b, uint64_t n)
{
	uint64_t tat = atomic_load_explicit(&b->tat_ns, memory_order_relaxed);
	uint64_t cost, next;

	if (b->ns_per_byte <= 0 || n == 0)
		return;
	cost = (uint64_t)((double)n * b->ns_per_byte);
	do {
		next = tat > cost ? tat - cost : 0;
	} while (!atomic_compare_exchange_weak_explicit(
		&b->tat_ns, &tat, next, memory_order_relaxed, memory_order_relaxed));
}

bool limit_gcra_take(_Atomic uint64_t *tat, uint64_t interval_ns, uint32_t burst, uint64_t now_ns)
{
	uint64_t cur = atomic_load_explicit(tat, memory_order_relaxed);
	uint64_t tau;

	if (interval_ns == 0 || burst == 0)
		return true;
	tau = interval_ns * (uint64_t)burst; /* the burst tolerance */
	for (;;) {
		uint64_t base = cur > now_ns ? cur : now_ns;
		if (base + interval_ns - now_ns > tau)
			return false;
		if (atomic_compare_exchange_weak_explicit(tat, &cur, base + interval_ns,
							  memory_order_relaxed,
							  memory_order_relaxed))
			return true;
	}
}
