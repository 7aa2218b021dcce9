/* Per-connection speed limits (see speed.h). */
#include "proxyd/dp/speed.h"

#include "common/util.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/conn_user.h"

static void speed_on_wake(struct ev_loop *loop, ev_timer *w, int revents);

void speed_init(struct speed *sp)
{
	for (unsigned i = 0; i < SPEED_NDIR; i++)
		limit_slice_init(&sp->lim[i], 10, 0);
	sp->on = 0;
	sp->blocked = 0;
	ev_init(&sp->wake, speed_on_wake);
}

static void set_dir(struct speed *sp, unsigned i, uint8_t shift, uint64_t max)
{
	limit_slice_init(&sp->lim[i], shift, max);
	if (max != 0)
		sp->on |= 1u << i;
}

static void set_pair(struct speed *sp, unsigned rd, unsigned wr, const struct tcp_speed_limit *l,
		     bool client)
{
	if (!l->set)
		return;
	/* the client socket reads upload and writes download; the upstream
	 * socket writes upload and reads download */
	set_dir(sp, rd, l->shift_millis, client ? l->upload : l->download);
	set_dir(sp, wr, l->shift_millis, client ? l->download : l->upload);
}

/* The user's tcp_sock_speed_limit on the client socket: per direction the
 * slower of it and the server's (g3 keeps the smaller limit). */
static void user_sock_limit(struct speed *sp, const struct tcp_speed_limit *l)
{
	if (l == NULL)
		return;
	for (unsigned i = 0; i < 2; i++) {
		uint64_t max = i == 0 ? l->upload : l->download;
		struct limit_slice *cur = &sp->lim[i];
		/* bytes per ms as max / 2^shift: compare max_a << shift_b */
		if (!(sp->on & (1u << i)) || (max << cur->shift) < (cur->max << l->shift_millis))
			set_dir(sp, i, l->shift_millis, max);
	}
}

void speed_setup(struct conn *c)
{
	struct speed *sp = &c->speed;
	const struct escaper_conf *e = c->esc.esc;

	speed_stop(c);
	for (unsigned i = 0; i < SPEED_NDIR; i++)
		limit_slice_init(&sp->lim[i], 10, 0);
	sp->on = 0;
	set_pair(sp, 0, 1, &c->srv->tcp_sock_speed_limit, true);
	user_sock_limit(sp, conn_user_sock_limit(c));
	if (e != NULL && (e->type == ESCAPER_DIRECT_FIXED || e->type == ESCAPER_DIRECT_FLOAT))
		set_pair(sp, 2, 3, &e->tcp_sock_speed_limit, false);
}

void speed_stop(struct conn *c)
{
	c->speed.blocked = 0;
	ev_timer_stop(c->wk->loop, &c->speed.wake);
}

static uint64_t now_ms(void)
{
	return util_mono_ns() / 1000000u;
}

size_t speed_grant(struct conn *c, unsigned dirs, size_t want)
{
	struct speed *sp = &c->speed;
	unsigned lim = dirs & sp->on;
	uint64_t now, grant = want, wait = 0;

	if (lim == 0 && !conn_user_speed_on(c, dirs))
		return want;
	now = now_ms();
	for (unsigned i = 0; i < SPEED_NDIR; i++) {
		uint64_t a;
		if (!(lim & (1u << i)))
			continue;
		a = limit_slice_avail(&sp->lim[i], now);
		if (a == 0) {
			uint64_t w = limit_slice_wait_ms(&sp->lim[i], now);
			sp->blocked |= 1u << i;
			if (wait == 0 || w < wait)
				wait = w;
		}
		if (a < grant)
			grant = a;
	}
	if (grant > 0) { /* the user's shared tcp_all_* bucket */
		uint64_t uw = 0;
		grant = conn_user_speed_grant(c, dirs, (size_t)grant, &uw);
		if (grant == 0) {
			sp->blocked |= dirs & (SPEED_CL_RD | SPEED_CL_WR);
			wait = uw;
		}
	}
	if (grant == 0) {
		ev_tstamp after = (ev_tstamp)wait / 1000.0;
		struct ev_loop *loop = c->wk->loop;
		if (!ev_is_active(&sp->wake) || ev_timer_remaining(loop, &sp->wake) > after) {
			ev_timer_stop(loop, &sp->wake);
			ev_timer_set(&sp->wake, after, 0.);
			ev_timer_start(loop, &sp->wake);
		}
	}
	return (size_t)grant;
}

void speed_used(struct conn *c, unsigned dirs, size_t n)
{
	struct speed *sp = &c->speed;
	unsigned lim = dirs & sp->on;
	uint64_t now;

	conn_user_speed_used(c, dirs, n);
	if (lim == 0 || n == 0)
		return;
	now = now_ms();
	for (unsigned i = 0; i < SPEED_NDIR; i++)
		if (lim & (1u << i))
			limit_slice_use(&sp->lim[i], now, n);
}

/* The next slice began: unblock and let the state handlers move bytes
 * (their readiness flags were kept while blocked). */
static void speed_on_wake(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = container_of(w, struct conn, speed.wake);

	(void)loop;
	(void)revents;
	CHECK_OBJ(c, CONN_MAGIC);
	c->speed.blocked = 0;
	conn_kick(c);
}
