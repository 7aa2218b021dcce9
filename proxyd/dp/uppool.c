/* Idle keep-alive upstream connections (see uppool.h). */
#include "proxyd/dp/uppool.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#define UPPOOL_MAGIC 0x7570706cu /* "uppl" */

struct uppool_ent {
	uint32_t magic;
	struct uppool_ent *older, *newer;
	struct dp_worker *wk;
	struct uppool_conn uc;
	uint16_t port;
	char escaper[64];
	char host[256];
	ev_io io;
	ev_timer expire;
};

static void ent_unlink(struct dp_worker *wk, struct uppool_ent *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		wk->idle_oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		wk->idle_newest = e->older;
	wk->idle_n--;
	ev_io_stop(wk->loop, &e->io);
	ev_timer_stop(wk->loop, &e->expire);
}

/* Entries between uses, per thread (a worker's pool only ever runs on its
 * thread): a kept-alive upstream goes in and out of the pool once per
 * request without malloc. Linked through `older`. */
#define ENT_SPARE_MAX 64u

static _Thread_local struct uppool_ent *ent_spare;
static _Thread_local unsigned ent_spare_n;

static struct uppool_ent *ent_new(void)
{
	struct uppool_ent *e = ent_spare;

	if (e == NULL)
		return calloc(1, sizeof(*e));
	ent_spare = e->older;
	ent_spare_n--;
	memset(e, 0, sizeof(*e));
	return e;
}

static void ent_free(struct uppool_ent *e)
{
	if (e->uc.fd >= 0)
		close(e->uc.fd);
	POISON_OBJ(e);
	if (ent_spare_n >= ENT_SPARE_MAX) {
		free(e);
		return;
	}
	e->older = ent_spare;
	ent_spare = e;
	ent_spare_n++;
}

static void ent_spare_trim(void)
{
	while (ent_spare != NULL) {
		struct uppool_ent *e = ent_spare;
		ent_spare = e->older;
		free(e);
	}
	ent_spare_n = 0;
}

static void uppool_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct uppool_ent *e = container_of(w, struct uppool_ent, io);

	(void)loop;
	(void)revents;
	CHECK_OBJ(e, UPPOOL_MAGIC);
	/* an idle connection became readable: closed by the peer, or junk */
	ent_unlink(e->wk, e);
	ent_free(e);
}

static void uppool_on_expire(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct uppool_ent *e = container_of(w, struct uppool_ent, expire);

	(void)loop;
	(void)revents;
	CHECK_OBJ(e, UPPOOL_MAGIC);
	ent_unlink(e->wk, e);
	ent_free(e);
}

void uppool_put(struct dp_worker *wk, const char *escaper, const char *host, uint16_t port,
		const struct uppool_conn *uc, uint64_t idle_ms)
{
	struct uppool_ent *e;

	if (strlen(escaper) >= sizeof(e->escaper) || strlen(host) >= sizeof(e->host) ||
	    idle_ms == 0 || wk->offline || wk->stopping) {
		close(uc->fd);
		return;
	}
	e = ent_new();
	if (e == NULL) {
		close(uc->fd);
		return;
	}
	if (wk->idle_n >= UPPOOL_MAX) {
		struct uppool_ent *old = wk->idle_oldest;
		ent_unlink(wk, old);
		ent_free(old);
	}
	e->magic = UPPOOL_MAGIC;
	e->wk = wk;
	e->uc = *uc;
	e->port = port;
	memcpy(e->escaper, escaper, strlen(escaper) + 1);
	memcpy(e->host, host, strlen(host) + 1);
	ev_io_init(&e->io, uppool_on_io, uc->fd, EV_READ);
	/* the same open socket the connection's watcher had registered:
	 * without the "new fd" flag libev changes the epoll registration only
	 * when the event mask differs (else an EEXIST epoll_ctl per put) */
	e->io.events &= ~EV__IOFDSET;
	ev_timer_init(&e->expire, uppool_on_expire, (double)idle_ms / 1000.0, 0.);
	ev_io_start(wk->loop, &e->io);
	ev_timer_start(wk->loop, &e->expire);
	e->older = wk->idle_newest;
	if (wk->idle_newest)
		wk->idle_newest->newer = e;
	else
		wk->idle_oldest = e;
	wk->idle_newest = e;
	wk->idle_n++;
}

bool uppool_take(struct dp_worker *wk, const char *escaper, const char *host, uint16_t port,
		 struct uppool_conn *uc)
{
	/* newest first: the connection most likely still open */
	for (struct uppool_ent *e = wk->idle_newest; e != NULL; e = e->older) {
		if (e->port != port || strcmp(e->host, host) != 0 ||
		    strcmp(e->escaper, escaper) != 0)
			continue;
		ent_unlink(wk, e);
		*uc = e->uc;
		e->uc.fd = -1;
		ent_free(e);
		return true;
	}
	return false;
}

void uppool_close_all(struct dp_worker *wk)
{
	for (struct uppool_ent *e = wk->idle_oldest, *nx; e != NULL; e = nx) {
		nx = e->newer;
		ev_io_stop(wk->loop, &e->io);
		ev_timer_stop(wk->loop, &e->expire);
		ent_free(e);
	}
	wk->idle_oldest = wk->idle_newest = NULL;
	wk->idle_n = 0;
	ent_spare_trim(); /* no more puts: offline or stopping */
}

size_t uppool_count(const struct dp_worker *wk)
{
	return wk->idle_n;
}
