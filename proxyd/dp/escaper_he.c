/* Happy eyeballs racing attempts (see escaper_he.h). */
#include "proxyd/dp/escaper_he.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/sock.h"
#include "proxyd/dp/conn.h"

static void he_on_io(struct ev_loop *loop, ev_io *w, int revents);

static void slot_close(struct conn *c, struct he_attempt *a)
{
	ev_io_stop(c->wk->loop, &a->io);
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	c->esc.race->n--;
}

int he_push(struct conn *c, const union dp_addr *addr, uint64_t start_ns)
{
	struct he_race *r = c->esc.race;
	struct he_attempt *a = NULL;

	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return -ENOMEM;
		for (unsigned i = 0; i < HE_MAX; i++)
			r->a[i].fd = -1;
		c->esc.race = r;
	}
	for (unsigned i = 0; i < HE_MAX && a == NULL; i++)
		if (r->a[i].fd < 0)
			a = &r->a[i];
	if (a == NULL)
		return -ENOSPC;
	a->fd = conn_up_detach(c);
	a->addr = *addr;
	a->start_ns = start_ns;
	a->c = c;
	r->n++;
	ev_io_init(&a->io, he_on_io, a->fd, EV_WRITE);
	ev_io_start(c->wk->loop, &a->io);
	return 0;
}

unsigned he_pending(const struct conn *c)
{
	return c->esc.race != NULL ? c->esc.race->n : 0;
}

unsigned he_expire(struct conn *c, uint64_t now_ns, uint64_t timeout_ns)
{
	struct he_race *r = c->esc.race;
	unsigned n = 0;

	if (r == NULL)
		return 0;
	for (unsigned i = 0; i < HE_MAX; i++) {
		if (r->a[i].fd >= 0 && now_ns >= r->a[i].start_ns + timeout_ns) {
			slot_close(c, &r->a[i]);
			n++;
		}
	}
	return n;
}

uint64_t he_oldest(const struct conn *c)
{
	const struct he_race *r = c->esc.race;
	uint64_t t = 0;

	if (r == NULL)
		return 0;
	for (unsigned i = 0; i < HE_MAX; i++)
		if (r->a[i].fd >= 0 && (t == 0 || r->a[i].start_ns < t))
			t = r->a[i].start_ns;
	return t;
}

void he_free(struct conn *c)
{
	struct he_race *r = c->esc.race;

	if (r == NULL)
		return;
	for (unsigned i = 0; i < HE_MAX; i++)
		if (r->a[i].fd >= 0)
			slot_close(c, &r->a[i]);
	free(r);
	c->esc.race = NULL;
}

/* A racing socket is writable: connected (it wins) or failed. */
static void he_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct he_attempt *a = container_of(w, struct he_attempt, io);
	struct conn *c = a->c;
	union dp_addr addr = a->addr;
	uint64_t start = a->start_ns;
	int rc;

	(void)loop;
	(void)revents;
	CHECK_OBJ(c, CONN_MAGIC);
	if (c->closing) {
		slot_close(c, a);
		return;
	}
	rc = sock_connect_result(a->fd);
	if (rc == -EINPROGRESS)
		return;
	conn_hold(c);
	if (rc == 0) {
		int fd = a->fd;
		ev_io_stop(c->wk->loop, &a->io);
		a->fd = -1; /* handed over */
		c->esc.race->n--;
		escape_he_result(c, fd, 0, &addr, start);
	} else {
		slot_close(c, a);
		escape_he_result(c, -1, rc, &addr, start);
	}
	conn_kick(c);
	conn_release(c);
}
