/* Per-user shared state: a mutex-protected registry of entries that are
 * never freed before the process ends (see user_state.h). */
#include "proxyd/user_state.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/util.h"
#include "proxyd/user_stats.h"

#define USER_STATE_BUCKETS 1024

/* A shared bucket and the limit it was made for (kept until the registry
 * is freed: connections may still point at a replaced one). */
struct user_bucket {
	struct user_bucket *next;
	struct global_stream_limit l;
	struct limit_bucket b;
};

struct user_dbucket {
	struct user_dbucket *next;
	struct global_datagram_limit l;
	struct user_dgram_buckets b;
};

struct user_state {
	struct user_state *next; /* registry bucket chain */
	struct user_state *all;	 /* every entry, for the emitter */
	char *group, *user;	 /* owned */
	pthread_mutex_t mu;
	/* under mu */
	bool pw_ok;
	uint8_t pw_digest[32];
	uint64_t tat_ns[USER_RATE__COUNT]; /* GCRA theoretical arrival times */
	struct user_srv_stats *srvs;
	struct user_bucket *bk[2];	    /* current upload / download buckets */
	struct user_bucket *old;	    /* replaced ones */
	struct user_dbucket *dbk[2], *dold; /* the same for udp_all_* */
	/* atomics */
	atomic_uint_fast64_t alive;
	_Atomic uint64_t log_tat_ns; /* log_rate_limit's GCRA (limit_gcra_take) */
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct user_state *reg[USER_STATE_BUCKETS];
static struct user_state *reg_all;

static uint32_t key_hash(const char *group, const char *user)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *p = group; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	h = (h ^ 0xffu) * 16777619u;
	for (const char *p = user; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h;
}

struct user_state *user_state_get(const char *group, const char *user)
{
	uint32_t b = key_hash(group, user) % USER_STATE_BUCKETS;
	struct user_state *st;

	pthread_mutex_lock(&reg_mu);
	for (st = reg[b]; st != NULL; st = st->next)
		if (strcmp(st->group, group) == 0 && strcmp(st->user, user) == 0)
			goto out;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		goto out;
	st->group = strdup(group);
	st->user = strdup(user);
	if (st->group == NULL || st->user == NULL) {
		free(st->group);
		free(st->user);
		free(st);
		st = NULL;
		goto out;
	}
	pthread_mutex_init(&st->mu, NULL);
	st->next = reg[b];
	reg[b] = st;
	st->all = reg_all;
	reg_all = st;
out:
	pthread_mutex_unlock(&reg_mu);
	return st;
}

struct user_srv_stats *user_state_srv(struct user_state *st, const char *server, bool dynamic)
{
	struct user_srv_stats *s;

	pthread_mutex_lock(&st->mu);
	for (s = st->srvs; s != NULL; s = s->next)
		if (strcmp(s->server, server) == 0)
			break;
	if (s == NULL) {
		s = calloc(1, sizeof(*s));
		if (s != NULL) {
			s->server = strdup(server);
			if (s->server == NULL) {
				free(s);
				s = NULL;
			} else {
				s->next = st->srvs;
				st->srvs = s;
			}
		}
	}
	if (s != NULL)
		s->dynamic = dynamic;
	pthread_mutex_unlock(&st->mu);
	return s;
}

bool user_state_pw_cached(struct user_state *st, const uint8_t digest[32])
{
	uint8_t d[32];
	bool ok;

	pthread_mutex_lock(&st->mu);
	ok = st->pw_ok;
	memcpy(d, st->pw_digest, sizeof(d));
	pthread_mutex_unlock(&st->mu);
	return ok && CRYPTO_memcmp(d, digest, sizeof(d)) == 0;
}

void user_state_pw_remember(struct user_state *st, const uint8_t digest[32])
{
	pthread_mutex_lock(&st->mu);
	memcpy(st->pw_digest, digest, sizeof(st->pw_digest));
	st->pw_ok = true;
	pthread_mutex_unlock(&st->mu);
}

void user_state_pw_forget(struct user_state *st)
{
	pthread_mutex_lock(&st->mu);
	st->pw_ok = false;
	pthread_mutex_unlock(&st->mu);
}

bool user_state_rate_take(struct user_state *st, enum user_rate k, const struct rate_limit_quota *q,
			  uint64_t now_ns)
{
	uint64_t t, tau, tat;
	bool ok;

	if (q == NULL || !q->set || q->max_burst == 0)
		return true;
	t = q->replenish_interval_ns ? q->replenish_interval_ns : 1;
	tau = t * (uint64_t)q->max_burst; /* the burst tolerance */
	pthread_mutex_lock(&st->mu);
	tat = st->tat_ns[k] > now_ns ? st->tat_ns[k] : now_ns;
	ok = tat + t - now_ns <= tau;
	if (ok)
		st->tat_ns[k] = tat + t;
	pthread_mutex_unlock(&st->mu);
	return ok;
}

bool user_state_log_take(struct user_state *st, const struct rate_limit_quota *q, uint64_t now_ns)
{
	if (q == NULL || !q->set)
		return true;
	return limit_gcra_take(&st->log_tat_ns, q->replenish_interval_ns, q->max_burst, now_ns);
}

static bool same_limit(const struct global_stream_limit *a, const struct global_stream_limit *b)
{
	return a->replenish_interval_ms == b->replenish_interval_ms &&
	       a->replenish_bytes == b->replenish_bytes && a->max_burst_bytes == b->max_burst_bytes;
}

struct limit_bucket *user_state_bucket(struct user_state *st, bool download,
				       const struct global_stream_limit *l)
{
	struct user_bucket *ub;
	unsigned i = download ? 1 : 0;

	if (l == NULL || !l->set || l->replenish_bytes == 0)
		return NULL;
	pthread_mutex_lock(&st->mu);
	ub = st->bk[i];
	if (ub == NULL || !same_limit(&ub->l, l)) {
		struct user_bucket *nb = calloc(1, sizeof(*nb));
		if (nb != NULL) {
			nb->l = *l;
			limit_bucket_init(&nb->b, l->replenish_interval_ms, l->replenish_bytes,
					  l->max_burst_bytes);
			if (ub != NULL) {
				ub->next = st->old;
				st->old = ub;
			}
			st->bk[i] = nb;
		}
		ub = st->bk[i];
	}
	pthread_mutex_unlock(&st->mu);
	return ub != NULL ? &ub->b : NULL;
}

static bool same_dlimit(const struct global_datagram_limit *a,
			const struct global_datagram_limit *b)
{
	return a->replenish_interval_ms == b->replenish_interval_ms &&
	       a->replenish_bytes == b->replenish_bytes &&
	       a->replenish_packets == b->replenish_packets &&
	       a->max_burst_bytes == b->max_burst_bytes &&
	       a->max_burst_packets == b->max_burst_packets;
}

struct user_dgram_buckets *user_state_dgram_buckets(struct user_state *st, bool download,
						    const struct global_datagram_limit *l)
{
	struct user_dbucket *ub;
	unsigned i = download ? 1 : 0;

	if (l == NULL || !l->set || (l->replenish_bytes == 0 && l->replenish_packets == 0))
		return NULL;
	pthread_mutex_lock(&st->mu);
	ub = st->dbk[i];
	if (ub == NULL || !same_dlimit(&ub->l, l)) {
		struct user_dbucket *nb = calloc(1, sizeof(*nb));
		if (nb != NULL) {
			nb->l = *l;
			limit_bucket_init(&nb->b.bytes, l->replenish_interval_ms,
					  l->replenish_bytes, l->max_burst_bytes);
			limit_bucket_init(&nb->b.packets, l->replenish_interval_ms,
					  l->replenish_packets, l->max_burst_packets);
			if (ub != NULL) {
				ub->next = st->dold;
				st->dold = ub;
			}
			st->dbk[i] = nb;
		}
		ub = st->dbk[i];
	}
	pthread_mutex_unlock(&st->mu);
	return ub != NULL ? &ub->b : NULL;
}

bool user_state_alive_acquire(struct user_state *st, uint64_t max)
{
	uint_fast64_t cur = atomic_load_explicit(&st->alive, memory_order_relaxed);

	do {
		if (cur >= max)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		&st->alive, &cur, cur + 1, memory_order_relaxed, memory_order_relaxed));
	return true;
}

void user_state_alive_release(struct user_state *st)
{
	atomic_fetch_sub_explicit(&st->alive, 1, memory_order_relaxed);
}

uint64_t user_state_alive(struct user_state *st)
{
	return atomic_load_explicit(&st->alive, memory_order_relaxed);
}

void user_state_registry_free(void)
{
	struct user_state *st, *next;

	pthread_mutex_lock(&reg_mu);
	for (st = reg_all; st != NULL; st = next) {
		next = st->all;
		for (struct user_srv_stats *s = st->srvs, *sn; s != NULL; s = sn) {
			sn = s->next;
			user_stats_free(s);
			free(s->server);
			free(s);
		}
		free(st->bk[0]);
		free(st->bk[1]);
		for (struct user_bucket *b = st->old, *bn; b != NULL; b = bn) {
			bn = b->next;
			free(b);
		}
		free(st->dbk[0]);
		free(st->dbk[1]);
		for (struct user_dbucket *b = st->dold, *bn; b != NULL; b = bn) {
			bn = b->next;
			free(b);
		}
		pthread_mutex_destroy(&st->mu);
		free(st->group);
		free(st->user);
		free(st);
	}
	reg_all = NULL;
	memset(reg, 0, sizeof(reg));
	pthread_mutex_unlock(&reg_mu);
}

/* ---- user.* metrics ------------------------------------------------------ */

static const char *const uc_names[UC__COUNT] = {
	[UC_CONN_TOTAL_HTTP] = "user.connection.total",
	[UC_CONN_TOTAL_SOCKS] = "user.connection.total",
	[UC_FORBID_AUTH_FAILED] = "user.forbidden.auth_failed",
	[UC_FORBID_USER_EXPIRED] = "user.forbidden.user_expired",
	[UC_FORBID_USER_BLOCKED] = "user.forbidden.user_blocked",
	[UC_FORBID_FULLY_LOADED] = "user.forbidden.fully_loaded",
	[UC_FORBID_RATE_LIMITED] = "user.forbidden.rate_limited",
	[UC_FORBID_PROTO_BANNED] = "user.forbidden.proto_banned",
	[UC_FORBID_DEST_DENIED] = "user.forbidden.dest_denied",
	[UC_FORBID_UA_BLOCKED] = "user.forbidden.ua_blocked",
	[UC_FORBID_LOG_SKIPPED] = "user.forbidden.log_skipped",
};

static const char *const urc_names[URC__COUNT] = {
	[URC_TOTAL] = "user.request.total",
	[URC_IN_BYTES] = "user.traffic.in.bytes",
	[URC_OUT_BYTES] = "user.traffic.out.bytes",
};

static const char *const req_tags[USER_REQ__COUNT] = {
	[USER_REQ_HTTP_FORWARD] = "http_forward",
	[USER_REQ_HTTP_CONNECT] = "http_connect",
	[USER_REQ_SOCKS_TCP_CONNECT] = "socks_tcp_connect",
	[USER_REQ_SOCKS_UDP_CONNECT] = "socks_udp_connect",
	[USER_REQ_SOCKS_UDP_ASSOCIATE] = "socks_udp_associate",
};

const char *user_req_tag(enum user_req q)
{
	return req_tags[q];
}

static void emit_one(const struct user_state *st, struct user_srv_stats *s, struct statsd *sd)
{
	struct statsd_tags base, t;

	statsd_tags_init(&base);
	statsd_tags_add(&base, "user_group", st->group);
	statsd_tags_add(&base, "user", st->user);
	statsd_tags_add(&base, "user_type", s->dynamic ? "Dynamic" : "Static");
	statsd_tags_add(&base, "server", s->server);
	for (unsigned k = 0; k < UC__COUNT; k++) {
		uint64_t d = statsd_delta(&s->last[k],
					  atomic_load_explicit(&s->c[k], memory_order_relaxed));
		if (d == 0)
			continue;
		t = base;
		if (k == UC_CONN_TOTAL_HTTP)
			statsd_tags_add(&t, "connection", "http");
		else if (k == UC_CONN_TOTAL_SOCKS)
			statsd_tags_add(&t, "connection", "socks");
		statsd_count(sd, uc_names[k], d, &t);
	}
	for (unsigned q = 0; q < USER_REQ__COUNT; q++) {
		int64_t alive = atomic_load_explicit(&s->req_alive[q], memory_order_relaxed);
		bool moved = alive != 0;
		uint64_t d[URC__COUNT];

		for (unsigned k = 0; k < URC__COUNT; k++) {
			d[k] = statsd_delta(
				&s->rlast[q][k],
				atomic_load_explicit(&s->r[q][k], memory_order_relaxed));
			moved |= d[k] != 0;
		}
		if (!moved)
			continue;
		t = base;
		statsd_tags_add(&t, "request", req_tags[q]);
		statsd_gauge(sd, "user.request.alive", alive, &t);
		for (unsigned k = 0; k < URC__COUNT; k++)
			if (d[k] != 0)
				statsd_count(sd, urc_names[k], d[k], &t);
	}
}

void user_state_emit(struct statsd *sd)
{
	struct user_state *head;

	pthread_mutex_lock(&reg_mu);
	head = reg_all;
	pthread_mutex_unlock(&reg_mu);
	/* entries are only ever prepended and never freed while running */
	for (struct user_state *st = head; st != NULL; st = st->all) {
		pthread_mutex_lock(&st->mu);
		struct user_srv_stats *srvs = st->srvs;
		pthread_mutex_unlock(&st->mu);
		for (struct user_srv_stats *s = srvs; s != NULL; s = s->next) {
			emit_one(st, s, sd);
			user_stats_emit(sd, st->group, st->user, s);
		}
	}
}
