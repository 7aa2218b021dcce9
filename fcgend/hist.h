/* Request-duration statistics as g3's `duration_stats` histograms: samples
 * are collected over a rotate interval; each rotation yields min, max,
 * mean and the configured quantiles of that interval, which the metrics
 * emitter reports until the next rotation. One owner thread. */
#ifndef G3C_FCGEND_HIST_H
#define G3C_FCGEND_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/util.h"

struct conf_ctx;
struct conf_node;

#define HIST_MAX_QUANTILES 16
#define HIST_SAMPLES 4096 /* per interval; beyond, a uniform reservoir */

struct hist_conf {
	uint64_t rotate_ms; /* default 4s */
	unsigned nq;
	double q[HIST_MAX_QUANTILES]; /* default 0.5, 0.8, 0.9, 0.95, 0.99 */
};

void hist_conf_defaults(struct hist_conf *c);

/* `duration_stats`: a duration (the rotate interval) or a map
 * {quantile: "0.5,0.99" (or a list of numbers), rotate: 4s}. Errors go to
 * ctx; returns 0 or -EINVAL. */
int hist_conf_parse(struct conf_ctx *ctx, const struct conf_node *n,
		    struct hist_conf *out) MUST_CHECK;

struct hist_snapshot {
	uint64_t count; /* samples in the interval; 0: nothing to report */
	uint64_t min, max, mean;
	unsigned nq;
	double q[HIST_MAX_QUANTILES];
	uint64_t qv[HIST_MAX_QUANTILES];
};

struct hist {
	uint64_t count, sum, min, max;
	uint64_t samples[HIST_SAMPLES];
	uint64_t rng;
	uint64_t window_start_ms;
	struct hist_snapshot last;
};

void hist_init(struct hist *h, uint64_t now_ms);
void hist_record(struct hist *h, uint64_t v);
/* Close the interval when rotate_ms has passed since it began: compute
 * the snapshot (kept in h->last) and start a new interval. Returns true
 * when it rotated. */
bool hist_rotate(struct hist *h, const struct hist_conf *c, uint64_t now_ms);

#endif
