/* Listening sockets: main-thread planning, worker-side accepting (see
 * listener.h). */
#include "proxyd/dp/listener.h"
#include "proxyd/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "common/log.h"
#include "common/sock.h"
#include "proxyd/dp/acl.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/port.h"

#define LISTENER_MAGIC 0x6c69736eu /* "lisn" */
/* Connections taken per readiness event before yielding to other work. */
#define ACCEPT_BATCH 64
/* Pause after EMFILE / ENFILE / ENOBUFS before accepting again. */
#define ACCEPT_PAUSE_S 0.5

struct dp_listener {
	uint32_t magic;
	struct dp_listener *next;
	struct dp_worker *wk;
	struct dp_lkey key;
	const struct server_conf *srv; /* in wk->gen->conf */
	int fd;
	bool wildcard; /* bound to 0.0.0.0 / :: : ask each socket for its address */
	bool nodelay;  /* TCP_NODELAY of the listening socket (accepted ones inherit it) */
	ev_io io;
	ev_timer pause;
};

/* ---- keys ------------------------------------------------------------------- */

static bool str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool lkey_eq(const struct dp_lkey *a, const struct dp_lkey *b)
{
	return strcmp(a->server, b->server) == 0 &&
	       sock_addr_equal((const struct sockaddr *)&a->addr,
			       (const struct sockaddr *)&b->addr) &&
	       str_eq(a->interface, b->interface) && a->ipv6_only == b->ipv6_only &&
	       a->backlog == b->backlog;
}

static void lkey_from(struct dp_lkey *k, const struct server_conf *s)
{
	k->server = xstrdup(s->name);
	memcpy(&k->addr, &s->listen.addr, sizeof(k->addr));
	k->addrlen = s->listen.addrlen;
	k->interface = s->listen.interface ? xstrdup(s->listen.interface) : NULL;
	k->ipv6_only = s->listen.ipv6_only;
	k->backlog = s->listen.backlog;
}

static void lkey_copy(struct dp_lkey *dst, const struct dp_lkey *src)
{
	*dst = *src;
	dst->server = xstrdup(src->server);
	dst->interface = src->interface ? xstrdup(src->interface) : NULL;
}

static void lkey_fini(struct dp_lkey *k)
{
	free(k->server);
	free(k->interface);
	k->server = k->interface = NULL;
}

static bool served(const struct server_conf *s)
{
	return (s->type == SERVER_HTTP_PROXY || s->type == SERVER_SOCKS_PROXY ||
		port_is_port_server(s)) &&
	       s->listen.set;
}

/* ---- main thread: planning ----------------------------------------------------- */

void dp_lset_free(struct dp_lset *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		lkey_fini(&s->v[i]);
	free(s->v);
	free(s);
}

void dp_update_free(void *update)
{
	struct dp_update *up = update;

	if (up == NULL)
		return;
	for (size_t i = 0; i < up->n; i++) {
		if (up->v[i].fd >= 0)
			close(up->v[i].fd);
		lkey_fini(&up->v[i].key);
	}
	free(up->v);
	proxyd_conf_unref(up->conf);
	free(up);
}

static bool in_set(const struct dp_lset *s, const struct dp_lkey *k)
{
	for (size_t i = 0; s != NULL && i < s->n; i++)
		if (lkey_eq(&s->v[i], k))
			return true;
	return false;
}

static int bind_one(const struct dp_lkey *k, const struct sockaddr_storage *addr, char *err,
		    size_t errlen)
{
	struct sock_listen_opts o = {
		.backlog = (int)k->backlog,
		.reuseport = true,
		.v6only = k->ipv6_only ? SOCK_V6ONLY_ON : SOCK_V6ONLY_OFF,
		.interface = k->interface,
	};
	char a[SOCK_ADDR_STRLEN];
	int fd = sock_listen((const struct sockaddr *)addr, k->addrlen, &o);

	if (fd < 0) {
		if (sock_addr_format((const struct sockaddr *)addr, a, sizeof(a)) < 0)
			snprintf(a, sizeof(a), "?");
		snprintf(err, errlen, "server %s: cannot listen on %s: %s", k->server, a,
			 strerror(-fd));
	}
	return fd;
}

int dp_lset_plan(struct proxyd_conf *conf, const struct dp_lset *cur, unsigned nworkers,
		 bool offline, struct dp_update ***ups_out, struct dp_lset **next_out, char *err,
		 size_t errlen)
{
	const struct obj_vec *servers = &conf->objs[PROXYD_KIND_SERVER];
	struct dp_update **ups = xcalloc(nworkers, sizeof(struct dp_update *));
	struct dp_lset *next = xcalloc(1, sizeof(*next));
	int rc = 0;

	for (unsigned w = 0; w < nworkers; w++) {
		ups[w] = xcalloc(1, sizeof(**ups));
		ups[w]->conf = proxyd_conf_ref(conf);
	}
	if (!offline) {
		next->v = xcalloc(servers->n ? servers->n : 1, sizeof(*next->v));
		for (unsigned w = 0; w < nworkers; w++)
			ups[w]->v = xcalloc(servers->n ? servers->n : 1, sizeof(*ups[w]->v));
	}
	for (size_t i = 0; !offline && i < servers->n; i++) {
		const struct server_conf *s = servers->v[i];
		struct dp_lkey *k;
		struct sockaddr_storage addr;
		bool keep;

		if (!served(s))
			continue;
		k = &next->v[next->n++];
		lkey_from(k, s);
		keep = in_set(cur, k);
		memcpy(&addr, &k->addr, sizeof(addr));
		for (unsigned w = 0; w < nworkers; w++) {
			struct dp_update_ent *e = &ups[w]->v[ups[w]->n++];
			lkey_copy(&e->key, k);
			e->srv = s;
			e->fd = -1;
			if (keep)
				continue;
			e->fd = bind_one(k, &addr, err, errlen);
			if (e->fd < 0) {
				rc = e->fd;
				goto fail;
			}
			/* port 0: every worker's socket takes the port the first got */
			if (w == 0 && sock_addr_port((struct sockaddr *)&addr) == 0) {
				socklen_t len;
				if (sock_local_addr(e->fd, &addr, &len) < 0) {
					snprintf(err, errlen, "server %s: getsockname failed",
						 k->server);
					rc = -EIO;
					goto fail;
				}
			}
		}
	}
	*ups_out = ups;
	*next_out = next;
	return 0;
fail:
	for (unsigned w = 0; w < nworkers; w++)
		dp_update_free(ups[w]);
	free(ups);
	dp_lset_free(next);
	return rc;
}

/* ---- worker side --------------------------------------------------------------- */

static void listener_on_accept(struct ev_loop *loop, ev_io *w, int revents);

static void listener_on_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dp_listener *l = container_of(w, struct dp_listener, pause);

	(void)revents;
	CHECK_OBJ(l, LISTENER_MAGIC);
	ev_io_start(loop, &l->io);
}

static void listener_free(struct dp_listener *l)
{
	ev_io_stop(l->wk->loop, &l->io);
	ev_timer_stop(l->wk->loop, &l->pause);
	close(l->fd);
	lkey_fini(&l->key);
	POISON_OBJ(l);
	free(l);
}

static void listener_add(struct dp_worker *wk, struct dp_update_ent *e)
{
	struct dp_listener *l = xcalloc(1, sizeof(*l));
	const struct sockaddr_storage *ss = &e->key.addr;

	l->magic = LISTENER_MAGIC;
	l->wk = wk;
	l->key = e->key; /* taken */
	e->key.server = e->key.interface = NULL;
	l->srv = e->srv;
	l->fd = e->fd;
	e->fd = -1;
	if (ss->ss_family == AF_INET)
		l->wildcard = ((const struct sockaddr_in *)(const void *)ss)->sin_addr.s_addr ==
			      htonl(INADDR_ANY);
	else
		l->wildcard = IN6_IS_ADDR_UNSPECIFIED(
			&((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr);
	ev_io_init(&l->io, listener_on_accept, l->fd, EV_READ);
	ev_init(&l->pause, listener_on_pause);
	l->pause.repeat = 0;
	ev_io_start(wk->loop, &l->io);
	l->next = wk->listeners;
	wk->listeners = l;
}

void dp_update_apply(struct dp_worker *wk, struct dp_update *up)
{
	struct dp_listener **pp = &wk->listeners;

	CHECK_OBJ(wk, DP_WORKER_MAGIC);
	dp_worker_set_conf(wk, up->conf);
	/* keep or close the current listeners */
	while (*pp != NULL) {
		struct dp_listener *l = *pp;
		struct dp_update_ent *match = NULL;

		for (size_t i = 0; i < up->n && !match; i++)
			if (up->v[i].fd < 0 && up->v[i].srv && lkey_eq(&up->v[i].key, &l->key))
				match = &up->v[i];
		if (match) {
			l->srv = match->srv;
			match->srv = NULL; /* used */
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		listener_free(l);
	}
	for (size_t i = 0; i < up->n; i++) {
		struct dp_update_ent *e = &up->v[i];
		if (e->fd >= 0)
			listener_add(wk, e);
		else if (e->srv != NULL)
			log_warn("worker %u: server %s: no listener to keep", wk->id,
				 e->key.server);
	}
	if (!wk->offline && wk->listeners == NULL && up->n > 0)
		log_warn("worker %u: no listener", wk->id);
	dp_update_free(up);
}

void dp_listeners_close(struct dp_worker *wk)
{
	while (wk->listeners != NULL) {
		struct dp_listener *l = wk->listeners;
		wk->listeners = l->next;
		listener_free(l);
	}
}

size_t dp_listeners_count(const struct dp_worker *wk)
{
	size_t n = 0;

	for (const struct dp_listener *l = wk->listeners; l != NULL; l = l->next)
		n++;
	return n;
}

static void accept_one(struct dp_listener *l, int fd, const struct sockaddr_storage *peer)
{
	struct dp_worker *wk = l->wk;
	const struct server_conf *s = l->srv;
	struct sockaddr_storage local;
	socklen_t len;
	bool want_nodelay;

	atomic_fetch_add(&wk->sh->accepted, 1);
	metrics_srv_add(s->stats, MS_LISTEN_ACCEPTED, 1);
	if (s->ingress_net_filter.set &&
	    acl_forbids(acl_net_check(&s->ingress_net_filter, (const struct sockaddr *)peer))) {
		atomic_fetch_add(&wk->sh->dropped, 1);
		metrics_srv_add(s->stats, MS_LISTEN_DROPPED, 1);
		close(fd);
		return;
	}
	if (l->wildcard) {
		if (sock_local_addr(fd, &local, &len) < 0)
			memcpy(&local, &l->key.addr, sizeof(local));
	} else {
		memcpy(&local, &l->key.addr, sizeof(local));
		if (sock_addr_port((struct sockaddr *)&local) == 0 &&
		    sock_local_addr(fd, &local, &len) < 0)
			memcpy(&local, &l->key.addr, sizeof(local));
	}
	want_nodelay = !s->tcp_misc_opts.has_no_delay || s->tcp_misc_opts.no_delay;
	if (want_nodelay != l->nodelay) {
		/* set once on the listening socket: later accepted sockets
		 * inherit it (no setsockopt per connection) */
		if (sock_set_nodelay(l->fd, want_nodelay) == 0)
			l->nodelay = want_nodelay;
		if (sock_set_nodelay(fd, want_nodelay) < 0)
			log_debug("server %s: TCP_NODELAY failed", s->name);
	}
	if (port_is_port_server(s)) {
		port_accept(wk, s, fd, (const struct sockaddr *)peer,
			    (const struct sockaddr *)&local);
		return;
	}
	if (conn_new(wk, s, fd, (const struct sockaddr *)peer, (const struct sockaddr *)&local) ==
	    NULL)
		log_warn("server %s: out of memory: connection dropped", s->name);
}

static void listener_on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	struct dp_listener *l = container_of(w, struct dp_listener, io);

	(void)revents;
	CHECK_OBJ(l, LISTENER_MAGIC);
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof(peer);
		int fd = sock_accept(l->fd, &peer, &len);

		if (fd >= 0) {
			accept_one(l, fd, &peer);
			continue;
		}
		if (fd == -EAGAIN || fd == -ECONNABORTED)
			return;
		metrics_srv_add(l->srv->stats, MS_LISTEN_FAILED, 1);
		if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
			log_warn("server %s: accept: %s: pausing for %.1fs", l->srv->name,
				 strerror(-fd), ACCEPT_PAUSE_S);
			ev_io_stop(loop, &l->io);
			ev_timer_set(&l->pause, ACCEPT_PAUSE_S, 0.);
			ev_timer_start(loop, &l->pause);
			return;
		}
		log_warn("server %s: accept: %s", l->srv->name, strerror(-fd));
		return;
	}
}
