/* Relay with splice (see relay.h). */
#include "proxyd/dp/relay.h"

#include <errno.h>
#include <sys/socket.h>

#include <ev.h>

#include "proxyd/dp/conn.h"
#include "proxyd/dp/conn_user.h"

/* Rounds of moving bytes per event before going back to the loop, so one
 * busy tunnel cannot starve the others (level-triggered watchers bring us
 * back while data is waiting). */
#define RELAY_ROUNDS 16

void relay_init(struct relay *r)
{
	pipebuf_init(&r->c2u.pb);
	pipebuf_init(&r->u2c.pb);
	r->c2u.done = r->u2c.done = false;
	r->c2u.full = r->u2c.full = false;
	r->c2u.in = r->c2u.out = r->u2c.in = r->u2c.out = 0;
	r->idle_mark = 0;
	r->idle_count = 0;
	buf_init(&r->ub, BUF_BLOCK_SIZE);
}

void relay_fini(struct relay *r)
{
	pipebuf_fini(&r->c2u.pb);
	pipebuf_fini(&r->u2c.pb);
	buf_fini(&r->ub);
}

/* A direction blocked by a speed limit wants no event: the speed timer
 * wakes it. */
static void dir_interest(const struct conn *c, const struct relay_dir *d, const struct conn_ep *src,
			 bool pre, unsigned rd, unsigned wr, int *src_ev, int *dst_ev)
{
	if (d->done)
		return;
	if (!src->eof && !pre && !d->full && !speed_blocked(&c->speed, rd))
		*src_ev |= EV_READ;
	if ((pre || !pipebuf_empty(&d->pb)) && !speed_blocked(&c->speed, wr))
		*dst_ev |= EV_WRITE;
}

void relay_interest(const struct conn *c, int *cl, int *up)
{
	if (relay_is_buffered(c)) {
		relay_buf_interest(c, cl, up);
		return;
	}
	dir_interest(c, &c->relay.c2u, &c->cl, !buf_empty(&c->in), SPEED_CL_RD, SPEED_UP_WR, cl,
		     up);
	dir_interest(c, &c->relay.u2c, &c->up, false, SPEED_UP_RD, SPEED_CL_WR, up, cl);
}

/* One direction: src → pipe → dst (plus, client → upstream, the bytes the
 * client sent before the relay). Returns 1 on progress, 0 on none, -1
 * when the connection failed. */
static int dir_step(struct conn *c, struct relay_dir *d, struct conn_ep *src, struct conn_ep *dst,
		    bool c2u)
{
	bool pre = c2u && !buf_empty(&c->in);
	unsigned rd = c2u ? SPEED_CL_RD : SPEED_UP_RD, wr = c2u ? SPEED_UP_WR : SPEED_CL_WR;
	int progress = 0;
	size_t max;
	ssize_t n;

	if (d->done)
		return 0;
	if (pre && (dst->ready & EV_WRITE)) {
		n = buf_write_fd(&c->in, dst->fd);
		if (n > 0) {
			/* already read: owed to the upstream's limit */
			speed_used(c, wr, (size_t)n);
			d->out += (uint64_t)n;
			progress = 1;
		} else if (n == -EAGAIN) {
			dst->ready &= ~EV_WRITE;
		} else if (n < 0) {
			conn_fail(c, TASK_R_UPSTREAM_WRITE_FAILED, "write to upstream failed");
			return -1;
		}
		pre = !buf_empty(&c->in);
		if (!pre)
			(void)buf_release_if_empty(&c->in);
	}
	if (!pipebuf_empty(&d->pb) && (dst->ready & EV_WRITE) &&
	    (max = speed_grant(c, wr, pipebuf_len(&d->pb))) > 0) {
		n = pipebuf_splice_out(&d->pb, dst->fd, max);
		if (n > 0) {
			speed_used(c, wr, (size_t)n);
			d->out += (uint64_t)n;
			d->full = false;
			progress = 1;
		} else if (n == -EAGAIN) {
			dst->ready &= ~EV_WRITE;
		} else if (n < 0) {
			if (c2u)
				conn_fail(c, TASK_R_UPSTREAM_WRITE_FAILED,
					  "write to upstream failed");
			else
				conn_fail(c, TASK_R_CLIENT_TCP_WRITE_FAILED,
					  "write to client failed");
			return -1;
		}
	}
	if (!src->eof && !pre && !d->full && (src->ready & EV_READ) &&
	    (max = speed_grant(c, rd, PIPEBUF_SIZE)) > 0) {
		/* max == PIPEBUF_SIZE when unlimited: as many as fit */
		n = pipebuf_splice_in(&d->pb, src->fd, max == PIPEBUF_SIZE ? 0 : max);
		if (n > 0) {
			speed_used(c, rd, (size_t)n);
			d->in += (uint64_t)n;
			progress = 1;
		} else if (n == 0) {
			src->eof = true;
			progress = 1;
		} else if (n == -EAGAIN) {
			src->ready &= ~EV_READ;
		} else if (n == -ENOBUFS) {
			d->full = true;
		} else {
			if (c2u)
				conn_fail(c, TASK_R_CLIENT_TCP_READ_FAILED,
					  "read from client failed");
			else
				conn_fail(c, TASK_R_UPSTREAM_READ_FAILED,
					  "read from upstream failed");
			return -1;
		}
	}
	if (src->eof && !pre && pipebuf_empty(&d->pb)) {
		/* the source ended and everything went out: pass the end on */
		d->done = true;
		dst->shut = true;
		(void)shutdown(dst->fd, SHUT_WR); /* fails only when dst is gone too */
		(void)pipebuf_release_if_empty(&d->pb);
		if (c2u)
			task_set_reason(&c->task, TASK_R_CLOSED_BY_CLIENT, "closed by client");
		else
			task_set_reason(&c->task, TASK_R_CLOSED_BY_UPSTREAM, "closed by upstream");
		progress = 1;
	}
	return progress;
}

bool relay_step(struct conn *c)
{
	struct relay *r = &c->relay;

	bool buffered = relay_is_buffered(c);

	for (int i = 0; i < RELAY_ROUNDS; i++) {
		int a = buffered ? relay_buf_dir_step(c, true)
				 : dir_step(c, &r->c2u, &c->cl, &c->up, true);
		int b = a < 0	   ? -1
			: buffered ? relay_buf_dir_step(c, false)
				   : dir_step(c, &r->u2c, &c->up, &c->cl, false);
		if (a < 0 || b < 0)
			return false;
		if (r->c2u.done && r->u2c.done) {
			conn_close(c);
			return false;
		}
		if (a == 0 && b == 0)
			break;
	}
	return true;
}

bool relay_idle_tick(struct conn *c)
{
	struct relay *r = &c->relay;
	uint64_t moved = r->c2u.in + r->c2u.out + r->u2c.in + r->u2c.out;

	if (moved != r->idle_mark) {
		r->idle_mark = moved;
		r->idle_count = 0;
		return true;
	}
	if (++r->idle_count < conn_user_idle_max(c))
		return true;
	conn_fail(c, TASK_R_IDLE, "idle");
	return false;
}
