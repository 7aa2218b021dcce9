/* proxyd's StatsD metrics (g3proxy names and tags, spec §3.12): per-server
 * and per-escaper counters that workers bump with relaxed atomics, and the
 * emitter the main thread runs every stat interval.
 *
 * Storage and reload: the registry (owned by the runtime) keeps one stats
 * entry per server name and one per escaper name, created on the main
 * thread when a config is bound and never freed before the registry. A
 * bound config points each server_conf / escaper_conf at the entry of its
 * name (the `stats` field), so a reload keeps the counters of every object
 * whose name stays, changed or not; connections of an old config keep
 * bumping the same entry. A name that leaves the config keeps its entry:
 * it is emitted with online:n while its counters still move (idle groups
 * are not emitted). Counters are monotonic; the emitter sends deltas. */
#ifndef G3C_PROXYD_METRICS_H
#define G3C_PROXYD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/statsd.h"
#include "proxyd/config.h"

#define METRICS_SRV_MAGIC 0x6d737276u /* "msrv" */
#define METRICS_ESC_MAGIC 0x6d657363u /* "mesc" */

enum metrics_srv_ctr {
	MS_LISTEN_ACCEPTED = 0,
	MS_LISTEN_DROPPED,
	MS_LISTEN_TIMEOUT,
	MS_LISTEN_FAILED,
	MS_CONN_TOTAL,
	MS_TASK_TOTAL,
	MS_FORBID_AUTH_FAILED,
	MS_FORBID_DEST_DENIED,
	MS_FORBID_USER_BLOCKED,
	MS_TCP_IN_BYTES,
	MS_TCP_OUT_BYTES,
	MS_UDP_IN_BYTES,
	MS_UDP_OUT_BYTES,
	MS_UDP_IN_PACKETS,
	MS_UDP_OUT_PACKETS,
	MS__COUNT,
};

enum metrics_esc_ctr {
	ME_TASK_TOTAL = 0,
	ME_CONN_ATTEMPT,
	ME_CONN_ESTABLISH,
	ME_TCP_CONNECT_ATTEMPT,
	ME_TCP_CONNECT_ESTABLISH,
	ME_TCP_CONNECT_SUCCESS,
	ME_TCP_CONNECT_ERROR,
	ME_TCP_CONNECT_TIMEOUT,
	ME_FORBID_IP_BLOCKED,
	ME_TCP_IN_BYTES,
	ME_TCP_OUT_BYTES,
	ME_UDP_IN_BYTES,
	ME_UDP_OUT_BYTES,
	ME_UDP_IN_PACKETS,
	ME_UDP_OUT_PACKETS,
	ME__COUNT,
};

struct metrics_srv {
	uint32_t magic;
	struct metrics_srv *next;
	char *name;			   /* owned */
	atomic_uint_fast64_t c[MS__COUNT]; /* monotonic counters */
	atomic_int_fast64_t task_alive;	   /* gauge */
	/* main thread only */
	struct statsd_counter last[MS__COUNT];
	struct statsd_tags extra; /* the server's extra_metrics_tags */
	bool online;		  /* in the current config and not offline */
};

struct metrics_esc {
	uint32_t magic;
	struct metrics_esc *next;
	char *name;
	atomic_uint_fast64_t c[ME__COUNT];
	struct statsd_counter last[ME__COUNT];
	struct statsd_tags extra;
};

struct metrics;

/* An empty registry (main thread); metrics_free after every worker is
 * joined. NULL is accepted by metrics_free. */
struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/* Point every server and escaper of conf at the entry of its name,
 * creating missing entries. Call before any worker sees conf. */
void metrics_bind(struct metrics *m, struct proxyd_conf *conf);

/* conf (bound) became the running config: its servers are online (unless
 * offline), every other entry offline; extra tags are taken from conf. */
void metrics_activate(struct metrics *m, const struct proxyd_conf *conf, bool offline);

/* Emit one cycle's lines (inside statsd_begin/statsd_end). */
void metrics_emit(struct metrics *m, struct statsd *s);

/* Lookup by name (main thread; NULL when never bound). */
const struct metrics_srv *metrics_server(const struct metrics *m, const char *name);

/* Data path helpers: relaxed increments; a NULL entry is ignored. */
static inline void metrics_srv_add(struct metrics_srv *s, enum metrics_srv_ctr k, uint64_t n)
{
	if (s != NULL && n != 0)
		atomic_fetch_add_explicit(&s->c[k], n, memory_order_relaxed);
}
static inline void metrics_esc_add(struct metrics_esc *e, enum metrics_esc_ctr k, uint64_t n)
{
	if (e != NULL && n != 0)
		atomic_fetch_add_explicit(&e->c[k], n, memory_order_relaxed);
}
static inline void metrics_srv_alive(struct metrics_srv *s, int d)
{
	if (s != NULL)
		atomic_fetch_add_explicit(&s->task_alive, d, memory_order_relaxed);
}

#endif
