/* StatsD client: UDP or unix-datagram target, DogStatsD tags (`|#k:v,...`),
 * a global prefix, lines packed into datagrams up to max_segment_size.
 * Counters are emitted as deltas since the previous emit, gauges as absolute
 * values, as g3proxy does. Not thread-safe: the main thread emits; workers
 * only bump atomics that the emitter reads. */
#ifndef G3C_COMMON_STATSD_H
#define G3C_COMMON_STATSD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/util.h"

struct conf_ctx;
struct conf_node;

/* The `stat:` key (g3proxy shape): target_udp | target_unix | target {udp|unix},
 * prefix, cache_size, max_segment_size, emit_interval (emit_duration). */
struct statsd_conf {
	bool enabled; /* false when no `stat:` key was given */
	bool is_unix;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char prefix[64];              /* default: the daemon name, e.g. "proxyd"? g3: "g3proxy" */
	size_t max_segment_size;      /* 1400 UDP, 4096 unix */
	uint64_t emit_interval_ms;    /* 200 */
};

/* Parse `stat:`; *out gets defaults first (prefix = default_prefix). */
int statsd_conf_parse(struct conf_ctx *ctx, const struct conf_node *val, const char *default_prefix,
		      struct statsd_conf *out) MUST_CHECK;

/* A tag list "k:v,k:v" (no leading '#'); built once, reused per emit. */
struct statsd_tags {
	char s[256];
	size_t len;
};
void statsd_tags_init(struct statsd_tags *t);
void statsd_tags_add(struct statsd_tags *t, const char *key, const char *val);

struct statsd;
/* Owned client (statsd_free), or NULL with *err = -errno. Common tags
 * (daemon_group, stat_id) are added to every line when given. */
struct statsd *statsd_new(const struct statsd_conf *conf, const char *daemon_group, int *err);
void statsd_free(struct statsd *s);

/* One emit cycle: begin, any number of count/gauge lines, end (flushes the
 * last datagram). Names are appended to the prefix with a '.'. */
void statsd_begin(struct statsd *s);
void statsd_count(struct statsd *s, const char *name, uint64_t delta, const struct statsd_tags *t);
void statsd_gauge(struct statsd *s, const char *name, int64_t value, const struct statsd_tags *t);
void statsd_end(struct statsd *s);

/* Delta tracking for a monotonically increasing counter. */
struct statsd_counter {
	uint64_t last;
};
/* Returns cur - last and remembers cur. */
uint64_t statsd_counter_delta(struct statsd_counter *c, uint64_t cur);

#endif
