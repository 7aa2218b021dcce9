/* fail_over resolver (g3proxy §1.4): each cache entry asks the primary
 * first; after fallback_delay, or at once when the primary fails, it asks
 * the standby too. The first answer with addresses wins; when both fail
 * the last error is the answer. A "no such record" answer of the primary
 * is final unless retry_empty_record. The entry itself is not cached
 * (primary and standby cache their own answers), so the next lookup asks
 * them again and gets their cached answer at once. */
#include <errno.h>
#include <string.h>

#include "common/util.h"
#include "proxyd/dp/resolver_int.h"
#include "proxyd/dp/dp.h"

static void fo_on_primary(struct dp_resolve_req *rq, const struct dp_resolve_result *res);
static void fo_on_standby(struct dp_resolve_req *rq, const struct dp_resolve_result *res);
static void fo_on_timer(struct ev_loop *loop, ev_timer *w, int revents);

/* Finish entry e with answer res (copied: res->addrs may be short-lived). */
static void fo_complete(struct dp_rentry *e, const struct dp_resolve_result *res)
{
	struct dp_resolver *r = e->r;
	uint64_t now = util_mono_ns();

	dp_resolve_cancel(&e->fo_p);
	dp_resolve_cancel(&e->fo_s);
	ev_timer_stop(r->loop, &e->fo_timer);
	e->status = res->status;
	e->ares_status = 0;
	e->n = res->status == 0 ? MIN(res->n, (unsigned)DP_RES_MAX_ADDRS) : 0;
	if (e->n > 0)
		memcpy(e->addrs, res->addrs, e->n * sizeof(e->addrs[0]));
	if (e->status != 0)
		r->st.failures++;
	e->querying = false;
	e->has_data = true;
	e->expire_ns = e->vanish_ns = now; /* primary / standby cache, not us */
	res_entry_deliver(e);
}

static struct dp_resolver *fo_sub(struct dp_resolver *r, bool standby)
{
	struct dp_resolver **p = standby ? &r->fo_standby : &r->fo_primary;

	if (*p == NULL)
		*p = dp_resolver_get(r->gen, standby ? r->rc->standby : r->rc->primary);
	return *p;
}

static void fo_standby_result(struct dp_rentry *e, const struct dp_resolve_result *res)
{
	e->fo_s_done = true;
	e->fo_s_status = res->status;
	if (res->status == 0 || e->fo_p_done)
		fo_complete(e, res); /* success, or the last error */
				     /* else the primary may still answer */
}

static void fo_start_standby(struct dp_rentry *e)
{
	struct dp_resolve_result res;

	if (e->fo_s_started)
		return;
	e->fo_s_started = true;
	ev_timer_stop(e->r->loop, &e->fo_timer);
	if (dp_resolve_start(fo_sub(e->r, true), e->name, e->family, &e->fo_s, fo_on_standby,
			     &res) == 1)
		fo_standby_result(e, &res);
}

static void fo_primary_result(struct dp_rentry *e, const struct dp_resolve_result *res)
{
	e->fo_p_done = true;
	if (res->status == 0 || (res->status == -ENOENT && !e->r->rc->retry_empty_record)) {
		fo_complete(e, res);
		return;
	}
	if (!e->fo_s_started) {
		fo_start_standby(e); /* a failed primary does not wait for the delay */
		return;
	}
	if (e->fo_s_done) {
		/* the standby failed earlier: this is the last error */
		fo_complete(e, res);
	}
}

void res_fo_query(struct dp_resolver *r, struct dp_rentry *e)
{
	const struct resolver_conf *rc = r->rc;
	struct dp_resolve_result res;

	e->querying = true;
	e->query_ns = util_mono_ns();
	e->fo_p_done = e->fo_s_started = e->fo_s_done = false;
	e->fo_s_status = 0;
	ev_init(&e->fo_timer, fo_on_timer);
	if (dp_resolve_start(fo_sub(r, false), e->name, e->family, &e->fo_p, fo_on_primary, &res) ==
	    1) {
		fo_primary_result(e, &res);
		return;
	}
	if (rc->fallback_delay_ms == 0) {
		fo_start_standby(e);
		return;
	}
	ev_timer_set(&e->fo_timer, (double)rc->fallback_delay_ms / 1000.0, 0.);
	ev_timer_start(r->loop, &e->fo_timer);
}

static void fo_on_primary(struct dp_resolve_req *rq, const struct dp_resolve_result *res)
{
	struct dp_rentry *e = container_of(rq, struct dp_rentry, fo_p);

	CHECK_OBJ(e->r, RESOLVER_MAGIC);
	e->busy++;
	fo_primary_result(e, res);
	e->busy--;
}

static void fo_on_standby(struct dp_resolve_req *rq, const struct dp_resolve_result *res)
{
	struct dp_rentry *e = container_of(rq, struct dp_rentry, fo_s);

	CHECK_OBJ(e->r, RESOLVER_MAGIC);
	e->busy++;
	fo_standby_result(e, res);
	e->busy--;
}

/* fallback_delay passed without an answer from the primary. */
static void fo_on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dp_rentry *e = container_of(w, struct dp_rentry, fo_timer);

	(void)loop;
	(void)revents;
	CHECK_OBJ(e->r, RESOLVER_MAGIC);
	e->busy++;
	e->r->wk->resolver_depth++;
	fo_start_standby(e);
	e->r->wk->resolver_depth--;
	e->busy--;
}

void res_fo_stop(struct dp_resolver *r)
{
	for (struct dp_rentry *e = r->oldest; e != NULL; e = e->newer) {
		dp_resolve_cancel(&e->fo_p);
		dp_resolve_cancel(&e->fo_s);
		ev_timer_stop(r->loop, &e->fo_timer);
	}
}
