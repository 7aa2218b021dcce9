/* A fixed-bucket duration histogram shared by worker threads (the
 * user.site.<id>.task.ready.duration quantiles, spec §3.12): recording is
 * a few relaxed atomic adds (no lock, no allocation); the metrics emitter
 * takes and resets the interval's samples and reads the quantiles.
 *
 * Buckets are log-linear: values below 4 exactly, then 4 buckets per
 * power of two (a relative error below 12.5%), up to 2^44 (values above
 * are counted in the last bucket). min, max and mean are exact. */
#ifndef G3C_PROXYD_DUR_HIST_H
#define G3C_PROXYD_DUR_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define DUR_HIST_SUB 4u
#define DUR_HIST_MAX_EXP 44u
#define DUR_HIST_BUCKETS (DUR_HIST_SUB * DUR_HIST_MAX_EXP)

/* Embedded in its owner, zeroed by dur_hist_init. */
struct dur_hist {
	atomic_uint_fast64_t b[DUR_HIST_BUCKETS];
	atomic_uint_fast64_t sum;
	atomic_uint_fast64_t min, max;
};

/* The g3 quantiles, in emit order (names: min max mean 0.50 ... 0.99). */
enum dur_q {
	DUR_Q_MIN = 0,
	DUR_Q_MAX,
	DUR_Q_MEAN,
	DUR_Q_50,
	DUR_Q_80,
	DUR_Q_90,
	DUR_Q_95,
	DUR_Q_99,
	DUR_Q__COUNT,
};

/* One interval's result: n samples; v[] is meaningful when n > 0. */
struct dur_snapshot {
	uint64_t n;
	uint64_t v[DUR_Q__COUNT];
};

void dur_hist_init(struct dur_hist *h);

/* The bucket of a value and the range a bucket covers (pure). */
unsigned dur_hist_bucket(uint64_t v);
void dur_hist_bucket_range(unsigned idx, uint64_t *lo, uint64_t *hi);

/* Record one sample (any thread). */
void dur_hist_record(struct dur_hist *h, uint64_t v);

/* Take every sample recorded since the previous take (or init) and
 * compute the quantiles (a bucket's value is its midpoint, clamped to
 * [min, max]); the histogram starts empty again. One taker at a time. */
void dur_hist_take(struct dur_hist *h, struct dur_snapshot *out);

/* "min", "max", "mean", "0.50", "0.80", "0.90", "0.95", "0.99". */
const char *dur_q_name(enum dur_q q);

#endif
