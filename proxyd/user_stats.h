/* The user metrics beyond user_state.c's per-server counters (spec §3.12):
 * user.upstream.traffic.* per (user, escaper) and the user.site.<id>.*
 * families per (user, server, site) with the site's task.ready.duration
 * histogram.
 *
 * Storage: the entries hang off a struct user_srv_stats (user_state.h),
 * created on first use under one mutex (a lookup per task at most, never
 * per packet; callers cache the pointer) and, like it, never freed before
 * user_state_registry_free(). Workers bump them with relaxed atomics at
 * the end of a task; the main thread emits deltas (idle entries are not
 * emitted). */
#ifndef G3C_PROXYD_USER_STATS_H
#define G3C_PROXYD_USER_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/statsd.h"
#include "proxyd/dur_hist.h"
#include "proxyd/metrics.h"
#include "proxyd/user_state.h"

/* user.upstream.traffic.{in,out}.{bytes,packets} by transport. */
enum user_up_ctr {
	UU_TCP_IN_BYTES = 0,
	UU_TCP_OUT_BYTES,
	UU_UDP_IN_BYTES,
	UU_UDP_OUT_BYTES,
	UU_UDP_IN_PACKETS,
	UU_UDP_OUT_PACKETS,
	UU__COUNT,
};

struct user_up_stats {
	struct user_up_stats *next;
	char *escaper;			/* owned */
	const struct metrics_esc *mesc; /* the escaper's extra tags (borrowed), may be NULL */
	atomic_uint_fast64_t c[UU__COUNT];
	uint64_t last[UU__COUNT]; /* emitter only */
};

struct user_site_stats {
	struct user_site_stats *next;
	char *id; /* owned */
	atomic_uint_fast64_t r[USER_REQ__COUNT][URC__COUNT];
	atomic_int_fast64_t req_alive[USER_REQ__COUNT];
	uint64_t rlast[USER_REQ__COUNT][URC__COUNT]; /* emitter only */
	struct user_up_stats *ups;		     /* user.site.<id>.upstream.traffic.* */
	struct dur_hist ready;			     /* task.ready.duration, ns */
	struct hist_conf dur_conf; /* the site's duration_stats (under the stats mutex) */
	/* emitter only: the rotate window the drained values go to */
	struct hist_window win;
	bool win_ok;
};

/* The upstream counters of escaper `escaper` in *head (s->ups or a site's
 * ups), created when absent; mesc is remembered for the extra tags. NULL
 * only when memory is short. Borrowed, valid for the process. */
struct user_up_stats *user_stats_up(struct user_up_stats **head, const char *escaper,
				    const struct metrics_esc *mesc);

/* The counters of site `id` of the user on s's server, created when
 * absent; dur is the site's duration_stats (the newest caller's is kept).
 * NULL when s is NULL or memory is short. */
struct user_site_stats *user_stats_site(struct user_srv_stats *s, const char *id,
					const struct hist_conf *dur);

static inline void user_up_add(struct user_up_stats *u, enum user_up_ctr k, uint64_t n)
{
	if (u != NULL && n != 0)
		atomic_fetch_add_explicit(&u->c[k], n, memory_order_relaxed);
}
static inline void user_site_req_add(struct user_site_stats *s, enum user_req q,
				     enum user_req_ctr k, uint64_t n)
{
	if (s != NULL && n != 0)
		atomic_fetch_add_explicit(&s->r[q][k], n, memory_order_relaxed);
}
static inline void user_site_req_alive(struct user_site_stats *s, enum user_req q, int d)
{
	if (s != NULL)
		atomic_fetch_add_explicit(&s->req_alive[q], d, memory_order_relaxed);
}

/* Emit the upstream and site lines of s (user_state_emit calls it for
 * every (user, server); main thread). */
void user_stats_emit(struct statsd *sd, const char *group, const char *user,
		     struct user_srv_stats *s);

/* Free what hangs off s (user_state_registry_free). */
void user_stats_free(struct user_srv_stats *s);

#endif
