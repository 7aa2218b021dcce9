/* `g3ctl -d proxyd resolver NAME query HOST`: the control handler runs on
 * the main loop and defers its reply (rpc_defer): the query is handed to
 * worker 0 (proxyd_runtime_run_on_owned), whose resolver answers on that
 * worker's loop; the worker wakes the main loop through the job's ev_async
 * and the main loop sends the reply. A timer on the main loop answers
 * DEADLINE_EXCEEDED after CTL_RESOLVE_WAIT_MS if the worker does not. The
 * main loop never waits. The job is shared by both threads (refs = 2); the
 * worker holds a generation reference while its requests wait, so the
 * resolver outlives them. */
#include "proxyd/ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "proto/control.pb-c.h"
#include "proxyd/dp/dp.h"
#include "proxyd/dp/resolver.h"
#include "proxyd/runtime.h"

#define CTL_RESOLVE_WAIT_MS 5000
#define RQJOB_MAGIC 0x72716a62u /* "rqjb" */

struct rq_job {
	uint32_t magic;
	atomic_uint refs;
	char resolver[128];
	char host[256];
	enum resolve_query query;
	/* main side: the reply to give, how the worker wakes us, our timeout */
	struct ev_loop *main_loop;
	struct rpc_deferred *reply;
	G3c__Control__Reply *rep; /* in the deferred reply's arena */
	ev_async done_w;
	ev_timer timeout_w;
	/* worker side */
	struct dp_gen *gen;
	struct dp_resolve_req rq4, rq6;
	unsigned pending;
	/* results: written by the worker before it wakes the main loop */
	int st4, st6;
	unsigned n4, n6;
	char a4[DP_RES_MAX_ADDRS][INET6_ADDRSTRLEN];
	char a6[DP_RES_MAX_ADDRS][INET6_ADDRSTRLEN];
};

static void job_destroy(struct rq_job *j)
{
	POISON_OBJ(j);
	free(j);
}

static void job_unref(void *arg)
{
	struct rq_job *j = arg;

	CHECK_OBJ(j, RQJOB_MAGIC);
	if (atomic_fetch_sub(&j->refs, 1) == 1)
		job_destroy(j);
}

static void take(struct rq_job *j, int family, const struct dp_resolve_result *res)
{
	unsigned n = 0;
	char(*out)[INET6_ADDRSTRLEN] = family == AF_INET ? j->a4 : j->a6;

	if (res->status == 0)
		for (unsigned i = 0; i < res->n && n < DP_RES_MAX_ADDRS; i++) {
			const union dp_addr *a = &res->addrs[i];
			const void *p = family == AF_INET ? (const void *)&a->in.sin_addr
							  : (const void *)&a->in6.sin6_addr;
			if (inet_ntop(family, p, out[n], INET6_ADDRSTRLEN) != NULL)
				n++;
		}
	if (family == AF_INET) {
		j->st4 = res->status;
		j->n4 = n;
	} else {
		j->st6 = res->status;
		j->n6 = n;
	}
}

/* Worker side: the results are complete. ev_async_send is thread-safe and
 * harmless on a watcher the main loop already stopped (timed out). */
static void finish(struct rq_job *j)
{
	struct dp_gen *g = j->gen;

	ev_async_send(j->main_loop, &j->done_w);
	j->gen = NULL;
	if (g != NULL)
		dp_gen_unref(g);
	job_unref(j);
}

static void answered(struct rq_job *j, int family, const struct dp_resolve_result *res)
{
	CHECK_OBJ(j, RQJOB_MAGIC);
	take(j, family, res);
	if (--j->pending == 0)
		finish(j);
}

static void on_answer4(struct dp_resolve_req *rq, const struct dp_resolve_result *res)
{
	answered(container_of(rq, struct rq_job, rq4), AF_INET, res);
}

static void on_answer6(struct dp_resolve_req *rq, const struct dp_resolve_result *res)
{
	answered(container_of(rq, struct rq_job, rq6), AF_INET6, res);
}

static void start_family(struct rq_job *j, struct dp_resolver *r, int family)
{
	struct dp_resolve_req *rq = family == AF_INET ? &j->rq4 : &j->rq6;
	struct dp_resolve_result res;

	j->pending++;
	if (dp_resolve_start(r, j->host, family, rq, family == AF_INET ? on_answer4 : on_answer6,
			     &res) == 1) {
		take(j, family, &res);
		j->pending--;
	}
}

static void job_run(struct ev_loop *loop, struct proxyd_conf *conf, void *arg)
{
	struct rq_job *j = arg;
	struct dp_worker *wk = ev_userdata(loop);
	const struct resolver_conf *rc = proxyd_conf_resolver(conf, j->resolver);
	struct dp_resolver *r;

	CHECK_OBJ(j, RQJOB_MAGIC);
	if (rc == NULL || wk->gen == NULL) {
		j->st4 = j->st6 = -ENXIO;
		finish(j);
		return;
	}
	j->gen = dp_gen_ref(wk->gen);
	r = dp_resolver_get(j->gen, rc);
	/* one extra pending count while both are started, so an answer
	 * from the first cannot finish the job before the second starts */
	j->pending = 1;
	if (j->query != RESOLVE_IPV6_ONLY)
		start_family(j, r, AF_INET);
	if (j->query != RESOLVE_IPV4_ONLY)
		start_family(j, r, AF_INET6);
	if (--j->pending == 0)
		finish(j);
}

static const char *status_text(int st)
{
	switch (st) {
	case -ENOENT:
		return "no such name or no record";
	case -ETIMEDOUT:
		return "timed out";
	case -ECONNREFUSED:
		return "refused by the servers";
	case -EACCES:
		return "denied by the resolver (deny_all)";
	case -ENXIO:
		return "no resolver of that name in the worker's config";
	case -ESRCH:
		return "no worker to run the query on";
	default:
		return "resolution failed";
	}
}

static bool parse_query(const char *s, enum resolve_query *q)
{
	static const struct {
		const char *name;
		enum resolve_query q;
	} t[] = {{"ipv4first", RESOLVE_IPV4_FIRST},
		 {"ipv6first", RESOLVE_IPV6_FIRST},
		 {"ipv4only", RESOLVE_IPV4_ONLY},
		 {"ipv6only", RESOLVE_IPV6_ONLY}};

	if (s == NULL || s[0] == '\0') {
		*q = RESOLVE_IPV4_FIRST;
		return true;
	}
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(s, t[i].name) == 0) {
			*q = t[i].q;
			return true;
		}
	return false;
}

/* Main side: fill the deferred reply from the results; the code to send. */
static enum rpc_code build_reply(struct rq_job *j, struct rpc_arena *a)
{
	G3c__Control__ProxydResolverQueryRep *r = rpc_arena_alloc(a, sizeof(*r));

	g3c__control__proxyd_resolver_query_rep__init(r);
	r->addrs = rpc_arena_alloc(a, 2 * DP_RES_MAX_ADDRS * sizeof(char *));
	for (int pass = 0; pass < 2; pass++) {
		bool v6 = (pass == 0) ==
			  (j->query == RESOLVE_IPV6_FIRST || j->query == RESOLVE_IPV6_ONLY);
		unsigned n = v6 ? j->n6 : j->n4;
		for (unsigned i = 0; i < n; i++)
			r->addrs[r->n_addrs++] = rpc_arena_strdup(a, v6 ? j->a6[i] : j->a4[i]);
	}
	if (r->n_addrs == 0) {
		int st = j->st4 <= 0 ? j->st4 : j->st6;
		if (j->st4 == -ENOENT && j->st6 < 0)
			st = j->st6; /* the more telling of the two */
		rpc_arena_set_error(a, "%s", status_text(st));
		if (st == -ESRCH)
			return RPC_UNAVAILABLE;
		return st == -ENXIO ? RPC_NOT_FOUND : RPC_FAILED_PRECONDITION;
	}
	j->rep->body_case = G3C__CONTROL__REPLY__BODY_PROXYD_RESOLVER_QUERY;
	j->rep->proxyd_resolver_query = r;
	return RPC_OK;
}

/* Main side, once: send the reply, stop both watchers, drop our share. */
static void answer(struct rq_job *j, bool timed_out)
{
	struct rpc_arena *a = rpc_deferred_arena(j->reply);
	enum rpc_code code;

	ev_async_stop(j->main_loop, &j->done_w);
	ev_timer_stop(j->main_loop, &j->timeout_w);
	if (timed_out) {
		rpc_arena_set_error(a, "no answer from the worker within %ds",
				    CTL_RESOLVE_WAIT_MS / 1000);
		code = RPC_DEADLINE_EXCEEDED;
	} else {
		code = build_reply(j, a);
	}
	rpc_deferred_finish(j->reply, code);
	j->reply = NULL;
	job_unref(j);
}

static void ctl_resolve_on_done(struct ev_loop *loop UNUSED, ev_async *w, int revents UNUSED)
{
	struct rq_job *j = container_of(w, struct rq_job, done_w);

	CHECK_OBJ(j, RQJOB_MAGIC);
	answer(j, false);
}

static void ctl_resolve_on_timeout(struct ev_loop *loop UNUSED, ev_timer *w, int revents UNUSED)
{
	struct rq_job *j = container_of(w, struct rq_job, timeout_w);

	CHECK_OBJ(j, RQJOB_MAGIC);
	answer(j, true);
}

enum rpc_code proxyd_ctl_resolve(struct proxyd_runtime *rt, struct ev_loop *main_loop,
				 const G3c__Control__ProxydResolverQueryReq *q,
				 G3c__Control__Reply *rep, struct rpc_arena *a)
{
	struct rpc_deferred *reply;
	enum resolve_query query;
	struct rq_job *j;

	if (!q->resolver || !proxyd_conf_resolver(proxyd_runtime_conf(rt), q->resolver)) {
		rpc_arena_set_error(a, "no resolver of that name in the running config");
		return RPC_NOT_FOUND;
	}
	if (!q->host || q->host[0] == '\0' || strlen(q->host) >= sizeof(j->host) ||
	    strlen(q->resolver) >= sizeof(j->resolver)) {
		rpc_arena_set_error(a, "the host name is empty or too long");
		return RPC_INVALID_ARGUMENT;
	}
	if (!parse_query(q->strategy, &query)) {
		rpc_arena_set_error(a,
				    "unknown strategy (ipv4first, ipv6first, ipv4only, ipv6only)");
		return RPC_INVALID_ARGUMENT;
	}
	reply = rpc_defer(a);
	if (!reply) {
		rpc_arena_set_error(a, "a resolver query needs the control socket");
		return RPC_UNAVAILABLE;
	}
	j = xcalloc(1, sizeof(*j));
	j->magic = RQJOB_MAGIC;
	atomic_init(&j->refs, 2);
	snprintf(j->resolver, sizeof(j->resolver), "%s", q->resolver);
	snprintf(j->host, sizeof(j->host), "%s", q->host);
	j->query = query;
	j->st4 = j->st6 = 1; /* not asked */
	j->main_loop = main_loop;
	j->reply = reply;
	j->rep = rep;
	ev_async_init(&j->done_w, ctl_resolve_on_done);
	ev_async_start(main_loop, &j->done_w);
	ev_timer_init(&j->timeout_w, ctl_resolve_on_timeout, CTL_RESOLVE_WAIT_MS / 1000.0, 0.);
	ev_timer_start(main_loop, &j->timeout_w);
	if (proxyd_runtime_run_on_owned(rt, 0, job_run, job_unref, j) != 0) {
		/* Never queued: answer from the main loop's next turn (a
		 * deferred reply is never finished inside its handler). */
		j->st4 = j->st6 = -ESRCH;
		ev_async_send(main_loop, &j->done_w);
		job_unref(j); /* the worker's share */
	}
	return RPC_OK; /* ignored: the reply is deferred */
}
