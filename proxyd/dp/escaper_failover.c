/* route_failover on the data path (see escaper.h).
 *
 * The primary escaper runs on the client's conn as any escaper does. A
 * struct route_failover (owned by the conn, esc.fo) holds the
 * fallback_delay timer; when it fires, or as soon as the primary fails,
 * the standby escaper starts on a shadow conn (conn_new_shadow: same
 * target, task id and generation, no client, not in the worker's list)
 * whose esc.fo_parent points back. Both attempts end in
 * conn_connect_done(), which hands the outcome here first:
 *   - the primary connected: the standby (if any) is closed, go on;
 *   - the standby connected: the primary's pending work is cancelled, its
 *     socket closed, and the standby's upstream socket moves into the
 *     client's conn with its task notes (escaper, peer, bound address);
 *   - a failure waits for the other attempt; both failed: the last error.
 * The shadow is refcounted: the failover holds one reference and drops it
 * with conn_close() + conn_release(), so a shadow whose callback is on the
 * stack goes when that callback returns. conn_free() of the client's conn
 * closes a pending standby (escape_failover_free).
 *
 * The standby reports success only once its escaper is done (a proxy
 * escaper's TLS handshake and negotiation included); its upstream socket
 * moves with its TLS session, if any. A route_failover reached again on
 * the primary path of the same conn just runs its primary. */
#include "proxyd/dp/escaper.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "proxyd/dp/conn.h"

struct route_failover {
	struct conn *parent;
	const struct escaper_conf *esc; /* the route_failover */
	ev_timer delay;
	struct conn *standby; /* shadow conn (one reference), NULL when none */
	bool standby_started, primary_failed, standby_failed;
	enum escape_err primary_err;
	const char *primary_msg;
};

static void drop_standby(struct route_failover *fo)
{
	struct conn *s = fo->standby;

	if (s == NULL)
		return;
	fo->standby = NULL;
	s->esc.fo_parent = NULL;
	conn_close(s);
	conn_release(s);
}

/* The failover is over: stop the timer, close the standby, forget it. */
static void finish(struct route_failover *fo)
{
	struct conn *p = fo->parent;

	ev_timer_stop(p->wk->loop, &fo->delay);
	drop_standby(fo);
	p->esc.fo = NULL;
	free(fo);
}

void escape_failover_free(struct conn *c)
{
	if (c->esc.fo != NULL)
		finish(c->esc.fo);
	c->esc.fo_parent = NULL;
}

/* Start the standby escaper on a shadow conn. fo may be gone when this
 * returns (the standby can finish at once). */
static void start_standby(struct route_failover *fo)
{
	struct conn *p = fo->parent;
	const struct escaper_conf *standby = fo->esc->route.standby;
	struct conn *s;

	fo->standby_started = true;
	ev_timer_stop(p->wk->loop, &fo->delay);
	s = conn_new_shadow(p);
	if (s == NULL) {
		log_warn("escaper '%s': no memory for the standby attempt", fo->esc->name);
		fo->standby_failed = true;
		if (fo->primary_failed) {
			enum escape_err err = fo->primary_err;
			p->esc.msg = fo->primary_msg;
			finish(fo);
			conn_connect_done(p, err);
		}
		return;
	}
	fo->standby = s;
	s->esc.fo_parent = p;
	s->esc.hops = p->esc.hops;
	s->task.escaper = standby != NULL ? standby->name : fo->esc->name;
	log_debug("escaper '%s': starting standby '%s' for %s", fo->esc->name,
		  standby != NULL ? standby->name : "?", p->host);
	conn_hold(s);
	escape_dispatch(s, standby);
	conn_kick(s);
	conn_release(s);
}

static void on_delay(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct route_failover *fo = container_of(w, struct route_failover, delay);
	struct conn *p = fo->parent;

	(void)loop;
	(void)revents;
	CHECK_OBJ(p, CONN_MAGIC);
	conn_hold(p);
	if (!p->closing && !fo->standby_started)
		start_standby(fo);
	conn_kick(p);
	conn_release(p);
}

void escape_failover_start(struct conn *c, const struct escaper_conf *e)
{
	struct escape_op *op = &c->esc;
	struct route_failover *fo;

	if (op->fo != NULL || op->fo_parent != NULL) {
		/* already racing on this conn: only the primary here */
		escape_dispatch(c, e->route.primary);
		return;
	}
	fo = calloc(1, sizeof(*fo));
	if (fo == NULL) {
		escape_dispatch(c, e->route.primary);
		return;
	}
	fo->parent = c;
	fo->esc = e;
	ev_timer_init(&fo->delay, on_delay, (ev_tstamp)e->route.fallback_delay_ms / 1000.0, 0.);
	ev_timer_start(c->wk->loop, &fo->delay);
	op->fo = fo;
	escape_dispatch(c, e->route.primary);
}

/* The standby connected: its socket and notes move into the client's conn,
 * which then reports success. */
static void standby_won(struct route_failover *fo, struct conn *s)
{
	struct conn *p = fo->parent;
	struct ssl_st *ssl = s->up.ssl;
	int fd;

	escape_cancel(&p->esc); /* the primary's resolver / iplocd work */
	conn_up_close(p);
	p->tls_done = NULL; /* a primary still in its TLS handshake */
	ev_timer_stop(p->wk->loop, &p->timer);
	/* the standby's TLS session (proxy_https / proxy_socks5s) goes along:
	 * it is bound to the fd number, which stays the same */
	s->up.ssl = NULL;
	s->up.tls_want = 0;
	fd = conn_up_detach(s);
	conn_up_attach(p, fd);
	p->up.ssl = ssl;
	p->esc.esc = s->esc.esc;
	p->esc.route = NULL;
	p->task.escaper = s->task.escaper;
	p->task.peer = s->task.peer;
	p->task.has_peer = s->task.has_peer;
	p->task.bound = s->task.bound;
	p->task.has_bound = s->task.has_bound;
	p->task.connect_tries += s->task.connect_tries;
	p->task.connect_spend_ns += s->task.connect_spend_ns;
	finish(fo);
	if (p->state == CONN_ST_RESOLVING)
		conn_set_state(p, CONN_ST_CONNECTING);
	conn_connect_done(p, ESCAPE_OK);
}

static bool standby_done(struct conn *s, enum escape_err err)
{
	struct conn *p = s->esc.fo_parent;
	struct route_failover *fo = p != NULL ? p->esc.fo : NULL;

	if (fo == NULL || fo->standby != s)
		return true; /* orphaned: its failover is over */
	conn_hold(p);
	if (err == ESCAPE_OK) {
		standby_won(fo, s);
	} else {
		fo->standby_failed = true;
		if (fo->primary_failed) {
			/* both failed: the standby's error is the last one */
			p->esc.err = err;
			p->esc.msg = s->esc.msg;
			finish(fo);
			conn_connect_done(p, err);
		} else {
			drop_standby(fo); /* wait for the primary */
		}
	}
	conn_kick(p);
	conn_release(p);
	return true;
}

static bool primary_done(struct conn *p, enum escape_err err)
{
	struct route_failover *fo = p->esc.fo;

	if (err == ESCAPE_OK) {
		finish(fo);
		return false;
	}
	fo->primary_failed = true;
	fo->primary_err = err;
	fo->primary_msg = p->esc.msg;
	ev_timer_stop(p->wk->loop, &p->timer);
	/* the primary may fail before it left the request state (dummy_deny):
	 * the client's conn waits in CONNECTING (no socket) for the standby */
	if (p->state != CONN_ST_RESOLVING && p->state != CONN_ST_CONNECTING)
		conn_set_state(p, CONN_ST_CONNECTING);
	if (!fo->standby_started) {
		start_standby(fo); /* fo may be gone now */
		return true;
	}
	if (!fo->standby_failed)
		return true; /* the standby decides */
	finish(fo);
	return false;
}

bool escape_failover_done(struct conn *c, enum escape_err err)
{
	if (c->esc.fo_parent != NULL)
		return standby_done(c, err);
	if (c->esc.fo != NULL)
		return primary_done(c, err);
	return false;
}
