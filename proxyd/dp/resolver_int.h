/* Internals shared by the resolver implementations (resolver.c: cache and
 * c-ares; resolver_fo.c: fail_over). Not for other modules. */
#ifndef G3C_PROXYD_DP_RESOLVER_INT_H
#define G3C_PROXYD_DP_RESOLVER_INT_H

#include <ares.h>
#include <ev.h>

#include "proxyd/dp/resolver.h"

#define RESOLVER_MAGIC 0x72736c76u /* "rslv" */
#define RES_BUCKETS 1024u	   /* power of two */
#define MAX_SERVERS 16

struct dp_rentry {
	struct dp_rentry *hnext;	 /* hash chain */
	struct dp_rentry *older, *newer; /* insertion order, for eviction */
	struct dp_resolver *r;
	struct dp_resolve_req *waiters;
	char name[256]; /* lower case */
	int family;
	bool querying, has_data;
	unsigned busy; /* in use by the code on the stack: never evicted */
	int status;
	int ares_status; /* for the resolve log */
	unsigned n;
	uint64_t query_ns; /* the query went out */
	uint64_t expire_ns, vanish_ns;
	union dp_addr addrs[DP_RES_MAX_ADDRS];
	/* fail_over: the lookups behind this entry (resolver_fo.c) */
	struct dp_resolve_req fo_p, fo_s;
	ev_timer fo_timer;
	bool fo_p_done, fo_s_started, fo_s_done;
	int fo_s_status;
};

struct ares_watch {
	struct ares_watch *next;
	struct dp_resolver *r;
	int fd;
	ev_io io;
};

struct dp_resolver {
	uint32_t magic;
	struct dp_resolver *next; /* the generation's list */
	const struct resolver_conf *rc;
	struct ev_loop *loop;
	struct dp_worker *wk;
	bool usable;
	ares_channel ch;
	ev_timer timer;
	struct ares_watch *watches;
	struct dp_rentry *buckets[RES_BUCKETS];
	struct dp_rentry *oldest, *newest;
	size_t count;
	struct dp_resolver_stats st;
	/* fail_over */
	struct dp_gen *gen;
	struct dp_resolver *fo_primary, *fo_standby; /* built on first use */
};

/* Hand the entry's answer to every waiter (e->querying already false,
 * e->has_data set). */
void res_entry_deliver(struct dp_rentry *e);

/* fail_over (resolver_fo.c): start the lookups of entry e; stop every
 * lookup of resolver r (before the generation's resolvers are freed). */
void res_fo_query(struct dp_resolver *r, struct dp_rentry *e);
void res_fo_stop(struct dp_resolver *r);

#endif
