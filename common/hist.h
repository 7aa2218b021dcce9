/* Log-linear (HDR-style) histogram of unsigned values (durations, sizes),
 * shared by fcgend and iplocd metrics and by g3bench, plus g3's
 * `duration_stats` setting and a rotating window over it.
 *
 * Shape, fixed at init: values below 2^(sub_bits + 1) get a bucket each;
 * above, every power of two is split into 2^sub_bits equal buckets, so a
 * reported value (the midpoint of its bucket) is within 2^-(sub_bits + 1)
 * of the truth. Values above 2^value_bits - 1 are clamped to it. Recording
 * is an index computation and an increment: no allocation after init. Exact
 * count, min, max and sum are kept beside the buckets. One writer; merge
 * per-thread histograms with hist_merge. */
#ifndef G3C_COMMON_HIST_H
#define G3C_COMMON_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct conf_ctx;
struct conf_node;

struct hist {
	uint64_t count;
	uint64_t min; /* UINT64_MAX while empty */
	uint64_t max;
	long double sum;
	unsigned sub_bits;
	uint64_t max_value; /* 2^value_bits - 1 */
	size_t nbuckets;
	uint64_t *buckets; /* nbuckets, owned */
};

/* An empty histogram; 1 <= sub_bits <= 12, sub_bits + 2 <= value_bits <= 64.
 * Returns 0, -EINVAL or -ENOMEM; release with hist_fini. */
int hist_init(struct hist *h, unsigned sub_bits, unsigned value_bits) MUST_CHECK;
/* Frees the buckets; h may be zeroed or already finished. */
void hist_fini(struct hist *h);
/* Owned and allocated with hist_init (aborts when memory is exhausted or the
 * shape is invalid: for tools that make a few at start); hist_free accepts
 * NULL. */
struct hist *hist_new(unsigned sub_bits, unsigned value_bits);
void hist_free(struct hist *h);

/* Forget every value, keep the shape. */
void hist_reset(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
/* Add every value of src to dst; both must have the same shape (-EINVAL
 * and dst unchanged otherwise). */
int hist_merge(struct hist *dst, const struct hist *src) MUST_CHECK;

/* The value at quantile q (0..1): the smallest recorded value v such that
 * at least q of the values are <= v (nearest rank), reported as the
 * midpoint of its bucket clamped to [min, max]; q <= 0 is the min, q >= 1
 * the max, 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
/* Mean of the recorded values (exact); 0 when empty. */
double hist_mean(const struct hist *h);
/* Standard deviation computed from the buckets; 0 when empty. */
double hist_stddev(const struct hist *h);

/* g3's `duration_stats`: the quantiles to report and the rotate interval. */
#define HIST_MAX_QUANTILES 16

struct hist_conf {
	uint64_t rotate_ms; /* default 4s */
	unsigned nq;
	double q[HIST_MAX_QUANTILES]; /* default 0.5, 0.8, 0.9, 0.95, 0.99 */
};

void hist_conf_defaults(struct hist_conf *c);
/* A duration (the rotate interval) or a map {quantile: "0.5,0.99" (or a
 * list of numbers), rotate: 4s}. Errors go to ctx; returns 0 or -EINVAL. */
int hist_conf_parse(struct conf_ctx *ctx, const struct conf_node *n,
		    struct hist_conf *out) MUST_CHECK;

/* What one closed interval yields: reported until the next rotation. */
struct hist_snapshot {
	uint64_t count; /* values in the interval; 0: nothing to report */
	uint64_t min, max, mean;
	unsigned nq;
	double q[HIST_MAX_QUANTILES];
	uint64_t qv[HIST_MAX_QUANTILES];
};

/* Values collected over a rotate interval (one owner thread). */
struct hist_window {
	struct hist h;
	uint64_t window_start_ms;
	struct hist_snapshot last;
};

/* Values up to 2^40 - 1 within 0.4 %. Returns 0 or -ENOMEM; release with
 * hist_window_fini (which accepts a zeroed window). */
int hist_window_init(struct hist_window *w, uint64_t now_ms) MUST_CHECK;
void hist_window_fini(struct hist_window *w);
void hist_window_record(struct hist_window *w, uint64_t v);
/* Close the interval when c->rotate_ms has passed since it began: compute
 * the snapshot (kept in w->last) and start a new interval. Returns true
 * when it rotated. */
bool hist_window_rotate(struct hist_window *w, const struct hist_conf *c, uint64_t now_ms);

#endif
