/* The relay's buffered path, used when either side is TLS (see relay.h). */
#include "proxyd/dp/relay.h"

#include <errno.h>

#include <ev.h>

#include "proxyd/dp/conn.h"
#include "proxyd/dp/speed.h"
#include "proxyd/dp/tls_ep.h"

bool relay_is_buffered(const struct conn *c)
{
	return c->cl.ssl != NULL || c->up.ssl != NULL;
}

/* As the splice path: a direction blocked by a speed limit wants no
 * event, the speed timer wakes it. */
static void dir_interest(const struct conn *c, const struct relay_dir *d, const struct buf *b,
			 const struct conn_ep *src, unsigned rd, unsigned wr, int *src_ev,
			 int *dst_ev)
{
	if (d->done)
		return;
	if (!src->eof && !buf_full(b) && !speed_blocked(&c->speed, rd))
		*src_ev |= EV_READ;
	if (!buf_empty(b) && !speed_blocked(&c->speed, wr))
		*dst_ev |= EV_WRITE;
}

void relay_buf_interest(const struct conn *c, int *cl, int *up)
{
	dir_interest(c, &c->relay.c2u, &c->in, &c->cl, SPEED_CL_RD, SPEED_UP_WR, cl, up);
	dir_interest(c, &c->relay.u2c, &c->relay.ub, &c->up, SPEED_UP_RD, SPEED_CL_WR, up, cl);
}

/* Write at most max of b's bytes to ep (consumed). */
static ssize_t put_some(struct conn_ep *ep, struct buf *b, size_t max)
{
	struct slice s = buf_peek(b);
	ssize_t n;

	if (max >= s.len)
		return tls_ep_buf_write(ep, b);
	n = tls_ep_write(ep, s.p, max);
	if (n > 0)
		buf_consume(b, (size_t)n);
	return n;
}

/* Read at most max bytes from ep into b. */
static ssize_t get_some(struct conn_ep *ep, struct buf *b, size_t max)
{
	uint8_t *p;
	size_t room;
	ssize_t n;
	int rc = buf_reserve(b, &p, &room);

	if (rc < 0)
		return rc;
	n = tls_ep_read(ep, p, MIN(room, max));
	if (n > 0)
		buf_commit(b, (size_t)n);
	return n;
}

static void dir_fail(struct conn *c, bool c2u, bool reading)
{
	if (reading == c2u)
		conn_fail(c, c2u ? TASK_R_CLIENT_TCP_READ_FAILED : TASK_R_UPSTREAM_READ_FAILED,
			  c2u ? "read from client failed" : "read from upstream failed");
	else
		conn_fail(c, c2u ? TASK_R_UPSTREAM_WRITE_FAILED : TASK_R_CLIENT_TCP_WRITE_FAILED,
			  c2u ? "write to upstream failed" : "write to client failed");
}

int relay_buf_dir_step(struct conn *c, bool c2u)
{
	struct relay_dir *d = c2u ? &c->relay.c2u : &c->relay.u2c;
	struct buf *b = c2u ? &c->in : &c->relay.ub;
	struct conn_ep *src = c2u ? &c->cl : &c->up;
	struct conn_ep *dst = c2u ? &c->up : &c->cl;
	unsigned rd = c2u ? SPEED_CL_RD : SPEED_UP_RD, wr = c2u ? SPEED_UP_WR : SPEED_CL_WR;
	int progress = 0;
	size_t max;
	ssize_t n;

	if (d->done)
		return 0;
	if (!buf_empty(b) && (dst->ready & EV_WRITE) &&
	    (max = speed_grant(c, wr, buf_len(b))) > 0) {
		n = put_some(dst, b, max);
		if (n > 0) {
			speed_used(c, wr, (size_t)n);
			d->out += (uint64_t)n;
			progress = 1;
		} else if (n == -EAGAIN) {
			dst->ready &= ~EV_WRITE;
		} else if (n < 0) {
			dir_fail(c, c2u, false);
			return -1;
		}
	}
	if (!src->eof && !buf_full(b) && (src->ready & EV_READ) &&
	    (max = speed_grant(c, rd, buf_space(b))) > 0) {
		n = get_some(src, b, max);
		if (n > 0) {
			speed_used(c, rd, (size_t)n);
			d->in += (uint64_t)n;
			progress = 1;
		} else if (n == 0) {
			src->eof = true;
			progress = 1;
		} else if (n == -EAGAIN) {
			src->ready &= ~EV_READ;
		} else if (n != -ENOBUFS) {
			dir_fail(c, c2u, true);
			return -1;
		}
	}
	if (src->eof && buf_empty(b)) {
		/* the source ended and everything went out: pass the end on */
		d->done = true;
		dst->shut = true;
		(void)tls_ep_shut_write(dst); /* fails only when dst is gone too */
		if (c2u)
			task_set_reason(&c->task, TASK_R_CLOSED_BY_CLIENT, "closed by client");
		else
			task_set_reason(&c->task, TASK_R_CLOSED_BY_UPSTREAM, "closed by upstream");
		progress = 1;
	}
	/* an idle direction holds no block */
	if (buf_empty(b) && !(src->ready & EV_READ))
		(void)buf_release_if_empty(b);
	return progress;
}
