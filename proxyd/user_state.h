/* Per-user runtime state shared by every worker thread (g3proxy §1.5.4):
 * the last verified password, rate limiters (request_rate_limit,
 * connection_rate_limit), the alive-request count (request_max_alive) and
 * the user.* metric counters.
 *
 * Keying and lifetime: one entry per (user group name, user name), created
 * on first use and kept until user_state_registry_free() (process end), so
 * it survives config reloads and dynamic-user table refreshes, as g3 keeps
 * a user's limiters across a reload. Entries are never freed while workers
 * run: a pointer from user_state_get() stays valid for the process.
 *
 * Threads: every function may be called from any thread. Limiters and the
 * password cache take the entry's mutex for a few instructions; counters
 * are relaxed atomics. */
#ifndef G3C_PROXYD_USER_STATE_H
#define G3C_PROXYD_USER_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/statsd.h"
#include "proxyd/config.h"
#include "proxyd/dp/limit.h"

enum user_rate {
	USER_RATE_REQUEST = 0, /* request_rate_limit: one cell per task */
	USER_RATE_CONN,	       /* connection_rate_limit: one cell per connection */
	USER_RATE__COUNT,
};

/* The `request` tag of user.request.* and user.traffic.*. */
enum user_req {
	USER_REQ_HTTP_FORWARD = 0,
	USER_REQ_HTTP_CONNECT,
	USER_REQ_SOCKS_TCP_CONNECT,
	USER_REQ_SOCKS_UDP_CONNECT,
	USER_REQ_SOCKS_UDP_ASSOCIATE,
	USER_REQ__COUNT,
};
/* The tag value ("http_forward", "socks_udp_associate", ...). */
const char *user_req_tag(enum user_req q);

/* user.* counters per (user, server), g3's names (spec §3.12). */
enum user_ctr {
	UC_CONN_TOTAL_HTTP = 0, /* user.connection.total connection:http */
	UC_CONN_TOTAL_SOCKS,	/* user.connection.total connection:socks */
	UC_FORBID_AUTH_FAILED,
	UC_FORBID_USER_EXPIRED,
	UC_FORBID_USER_BLOCKED,
	UC_FORBID_FULLY_LOADED,
	UC_FORBID_RATE_LIMITED,
	UC_FORBID_PROTO_BANNED,
	UC_FORBID_DEST_DENIED,
	UC_FORBID_UA_BLOCKED,
	UC_FORBID_LOG_SKIPPED, /* a task record skipped by log_rate_limit */
	UC__COUNT,
};

/* Per request kind: user.request.total, user.traffic.{in,out}.bytes. */
enum user_req_ctr {
	URC_TOTAL = 0,
	URC_IN_BYTES,
	URC_OUT_BYTES,
	URC__COUNT,
};

struct user_up_stats;
struct user_site_stats;

/* The counters of one user on one server. */
struct user_srv_stats {
	struct user_srv_stats *next;
	char *server; /* owned */
	atomic_uint_fast64_t c[UC__COUNT];
	atomic_uint_fast64_t r[USER_REQ__COUNT][URC__COUNT];
	atomic_int_fast64_t req_alive[USER_REQ__COUNT]; /* user.request.alive gauge */
	/* emitter only (main thread) */
	uint64_t last[UC__COUNT];
	uint64_t rlast[USER_REQ__COUNT][URC__COUNT];
	bool dynamic; /* user_type tag: Dynamic, else Static */
	/* user.upstream.traffic.* per escaper and user.site.<id>.* per site
	 * (user_stats.h; its mutex guards these heads) */
	struct user_up_stats *ups;
	struct user_site_stats *sites;
};

struct user_state;

/* The entry of (group, user) (borrowed, valid until the registry is
 * freed), created when absent. NULL only when memory is short. */
struct user_state *user_state_get(const char *group, const char *user);

/* The counters of the user on server `server` (created when absent;
 * borrowed like the entry). NULL only when memory is short. */
struct user_srv_stats *user_state_srv(struct user_state *st, const char *server, bool dynamic);

static inline void user_stats_add(struct user_srv_stats *s, enum user_ctr k, uint64_t n)
{
	if (s != NULL && n != 0)
		atomic_fetch_add_explicit(&s->c[k], n, memory_order_relaxed);
}
static inline void user_stats_req_add(struct user_srv_stats *s, enum user_req q,
				      enum user_req_ctr k, uint64_t n)
{
	if (s != NULL && n != 0)
		atomic_fetch_add_explicit(&s->r[q][k], n, memory_order_relaxed);
}
static inline void user_stats_req_alive(struct user_srv_stats *s, enum user_req q, int d)
{
	if (s != NULL)
		atomic_fetch_add_explicit(&s->req_alive[q], d, memory_order_relaxed);
}

/* The password cache: true when digest (auth_token_digest) is the one
 * last verified for this user. remember() stores it after a successful
 * slow check; forget() drops it (a failed check). */
bool user_state_pw_cached(struct user_state *st, const uint8_t digest[32]);
void user_state_pw_remember(struct user_state *st, const uint8_t digest[32]);
void user_state_pw_forget(struct user_state *st);

/* Take one cell of the rate limit k with quota q (a GCRA: max_burst cells
 * at once, then one per replenish_interval). True when allowed (or q is not
 * set); false when over the limit (nothing is taken). now_ns: monotonic. */
bool user_state_rate_take(struct user_state *st, enum user_rate k, const struct rate_limit_quota *q,
			  uint64_t now_ns);

/* log_rate_limit with quota q: true when one more task may be logged now
 * (or q is not set). Lock free (one compare-and-swap on the entry's
 * log_rate_limit state, shared by every worker). now_ns: monotonic. */
bool user_state_log_take(struct user_state *st, const struct rate_limit_quota *q, uint64_t now_ns);

/* The user's shared token bucket for tcp_all_download_speed_limit
 * (download) or tcp_all_upload_speed_limit, NULL when l is not set. One
 * bucket per distinct limit: a reload with the same values keeps the
 * bucket (and its state), new values get a new bucket. Borrowed like the
 * entry. */
struct limit_bucket *user_state_bucket(struct user_state *st, bool download,
				       const struct global_stream_limit *l);

/* The user's shared buckets of udp_all_download_speed_limit (download) or
 * udp_all_upload_speed_limit: bytes and packets (either may be unlimited),
 * NULL when l is not set. Kept like user_state_bucket()'s. */
struct user_dgram_buckets {
	struct limit_bucket bytes, packets;
};
struct user_dgram_buckets *user_state_dgram_buckets(struct user_state *st, bool download,
						    const struct global_datagram_limit *l);

/* request_max_alive: take a slot when fewer than max are taken (true), else
 * false. Each successful acquire needs one release. */
bool user_state_alive_acquire(struct user_state *st, uint64_t max);
void user_state_alive_release(struct user_state *st);
uint64_t user_state_alive(struct user_state *st);

/* Emit the user.* lines of every (user, server) whose counters moved since
 * the previous call (inside statsd_begin/statsd_end; main thread). */
void user_state_emit(struct statsd *sd);

/* Free every entry (after all workers are joined). */
void user_state_registry_free(void);

#endif
