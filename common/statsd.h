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
	struct sockaddr_storage addr; /* UDP peer (default 127.0.0.1:8125) or sockaddr_un */
	socklen_t addrlen;
	struct sockaddr_storage bind; /* UDP source address when bindlen != 0 */
	socklen_t bindlen;
	char prefix[64];	   /* default passed in by the daemon ("proxyd") */
	size_t max_segment_size;   /* 1400 UDP, 4096 unix unless set */
	uint64_t emit_interval_ms; /* 200 */
	uint64_t cache_size;	   /* accepted (256KiB); lines are sent per segment */
};

/* Defaults: disabled, UDP 127.0.0.1:8125, prefix = default_prefix (cut to
 * fit), segment 1400, interval 200ms. */
void statsd_conf_defaults(struct statsd_conf *c, const char *default_prefix);

/* Parse `stat:` (a map, or null for all defaults); *out gets the defaults
 * first (prefix = default_prefix) and enabled = true. Errors go to ctx
 * with file:line:col; returns 0 or -EINVAL. */
int statsd_conf_parse(struct conf_ctx *ctx, const struct conf_node *val, const char *default_prefix,
		      struct statsd_conf *out) MUST_CHECK;

/* A tag list "k:v,k:v" (no leading '#'); built once, reused per emit. */
struct statsd_tags {
	char s[256];
	size_t len;
	unsigned dropped; /* tags that did not fit */
};
void statsd_tags_init(struct statsd_tags *t);
/* Append key:val; characters outside [A-Za-z0-9-_./] become '_' in both.
 * A tag that does not fit whole is left out and counted. NULL val → "". */
void statsd_tags_add(struct statsd_tags *t, const char *key, const char *val);
void statsd_tags_add_u64(struct statsd_tags *t, const char *key, uint64_t val);

/* A process-unique id ((pid << 32) | sequence, as g3's StatId). */
uint64_t statsd_stat_id_new(void);

struct statsd;
/* Owned client (statsd_free), or NULL with *err = -errno. Every line gets
 * the common tags daemon_group:<group> (left out when group is NULL or "")
 * and stat_id:<id>, a statsd_stat_id_new() taken once per client, so an
 * aggregator can tell an old and a new process apart during hot upgrade;
 * callers must not add their own stat_id tag. */
struct statsd *statsd_new(const struct statsd_conf *conf, const char *daemon_group, int *err);
void statsd_free(struct statsd *s);

/* The stat_id this client puts on every line. */
uint64_t statsd_client_stat_id(const struct statsd *s);

struct statsd_stats {
	uint64_t lines;		/* lines queued into datagrams */
	uint64_t datagrams;	/* datagrams sent */
	uint64_t bytes;		/* bytes sent */
	uint64_t lines_dropped; /* a line longer than max_segment_size */
	uint64_t send_errors;	/* datagrams lost to a send error (EAGAIN, ...) */
};
void statsd_stats_get(const struct statsd *s, struct statsd_stats *out);

/* One emit cycle: begin, any number of count/gauge lines, end (flushes the
 * last datagram). Names are appended to the prefix with a '.'. Wire format:
 * `prefix.name:VALUE|c|#daemon_group:g,stat_id:N,tag:v` (`|g|` for gauges);
 * lines are joined with '\n' into datagrams of at most max_segment_size
 * bytes and never split; a datagram is sent when the next line would not
 * fit. Sends never block; failures are counted. t may be NULL. */
void statsd_begin(struct statsd *s);
void statsd_count(struct statsd *s, const char *name, uint64_t delta, const struct statsd_tags *t);
void statsd_gauge(struct statsd *s, const char *name, int64_t value, const struct statsd_tags *t);
void statsd_end(struct statsd *s);

/* Delta tracking for a monotonically increasing counter. */
struct statsd_counter {
	uint64_t last;
};
/* Returns cur - last (cur itself when cur < last: a reset) and remembers cur. */
uint64_t statsd_counter_delta(struct statsd_counter *c, uint64_t cur);
/* The same over a bare remembered value (arrays of counters). */
uint64_t statsd_delta(uint64_t *last, uint64_t cur);

#endif
