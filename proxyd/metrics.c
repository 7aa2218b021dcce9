/* StatsD metrics of servers and escapers (see metrics.h). */
#include "proxyd/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "proxyd/user_state.h"

#define METRICS_MAGIC 0x6d657472u /* "metr" */

struct metrics {
	uint32_t magic;
	struct metrics_srv *srvs;
	struct metrics_esc *escs;
};

struct metrics *metrics_new(void)
{
	struct metrics *m = xcalloc(1, sizeof(*m));

	m->magic = METRICS_MAGIC;
	return m;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	CHECK_OBJ(m, METRICS_MAGIC);
	while (m->srvs != NULL) {
		struct metrics_srv *s = m->srvs;
		m->srvs = s->next;
		free(s->name);
		POISON_OBJ(s);
		free(s);
	}
	while (m->escs != NULL) {
		struct metrics_esc *e = m->escs;
		m->escs = e->next;
		free(e->name);
		POISON_OBJ(e);
		free(e);
	}
	/* the per-user entries live as long as the metrics registry */
	user_state_registry_free();
	POISON_OBJ(m);
	free(m);
}

static void extra_tags(struct statsd_tags *t, const struct metrics_tags *mt)
{
	statsd_tags_init(t);
	for (size_t i = 0; i < mt->n; i++)
		statsd_tags_add(t, mt->v[i].name, mt->v[i].value);
}

static struct metrics_srv *srv_get(struct metrics *m, const char *name)
{
	struct metrics_srv *s;

	for (s = m->srvs; s != NULL; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	s = xcalloc(1, sizeof(*s));
	s->magic = METRICS_SRV_MAGIC;
	s->name = xstrdup(name);
	for (unsigned k = 0; k < MS__COUNT; k++)
		atomic_init(&s->c[k], 0);
	atomic_init(&s->task_alive, 0);
	statsd_tags_init(&s->extra);
	s->next = m->srvs;
	m->srvs = s;
	return s;
}

static struct metrics_esc *esc_get(struct metrics *m, const char *name)
{
	struct metrics_esc *e;

	for (e = m->escs; e != NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	e = xcalloc(1, sizeof(*e));
	e->magic = METRICS_ESC_MAGIC;
	e->name = xstrdup(name);
	for (unsigned k = 0; k < ME__COUNT; k++)
		atomic_init(&e->c[k], 0);
	statsd_tags_init(&e->extra);
	e->next = m->escs;
	m->escs = e;
	return e;
}

void metrics_bind(struct metrics *m, struct proxyd_conf *conf)
{
	const struct obj_vec *sv = &conf->objs[PROXYD_KIND_SERVER];
	const struct obj_vec *ev = &conf->objs[PROXYD_KIND_ESCAPER];

	CHECK_OBJ(m, METRICS_MAGIC);
	for (size_t i = 0; i < sv->n; i++) {
		struct server_conf *sc = sv->v[i];
		sc->stats = srv_get(m, sc->name);
	}
	for (size_t i = 0; i < ev->n; i++) {
		struct escaper_conf *ec = ev->v[i];
		ec->stats = esc_get(m, ec->name);
	}
}

void metrics_activate(struct metrics *m, const struct proxyd_conf *conf, bool offline)
{
	const struct obj_vec *sv = &conf->objs[PROXYD_KIND_SERVER];
	const struct obj_vec *ev = &conf->objs[PROXYD_KIND_ESCAPER];

	CHECK_OBJ(m, METRICS_MAGIC);
	for (struct metrics_srv *s = m->srvs; s != NULL; s = s->next)
		s->online = false;
	for (size_t i = 0; i < sv->n; i++) {
		const struct server_conf *sc = sv->v[i];
		struct metrics_srv *s = sc->stats;
		CHECK_OBJ(s, METRICS_SRV_MAGIC);
		s->online = !offline;
		extra_tags(&s->extra, &sc->extra_metrics_tags);
	}
	for (size_t i = 0; i < ev->n; i++) {
		const struct escaper_conf *ec = ev->v[i];
		struct metrics_esc *e = ec->stats;
		CHECK_OBJ(e, METRICS_ESC_MAGIC);
		extra_tags(&e->extra, &ec->extra_metrics_tags);
	}
}

const struct metrics_srv *metrics_server(const struct metrics *m, const char *name)
{
	CHECK_OBJ(m, METRICS_MAGIC);
	for (const struct metrics_srv *s = m->srvs; s != NULL; s = s->next)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* t = base + ",extra" (+ ",transport:tr" when tr != NULL). */
static void tags_join(struct statsd_tags *t, const struct statsd_tags *base,
		      const struct statsd_tags *extra, const char *tr)
{
	*t = *base;
	if (extra->len > 0) {
		if (t->len + 1 + extra->len < sizeof(t->s)) {
			t->s[t->len++] = ',';
			memcpy(t->s + t->len, extra->s, extra->len);
			t->len += extra->len;
			t->s[t->len] = '\0';
		} else {
			t->dropped++;
		}
	}
	if (tr != NULL)
		statsd_tags_add(t, "transport", tr);
}

static const char *const srv_names[MS__COUNT] = {
	[MS_LISTEN_ACCEPTED] = "listen.accepted",
	[MS_LISTEN_DROPPED] = "listen.dropped",
	[MS_LISTEN_TIMEOUT] = "listen.timeout",
	[MS_LISTEN_FAILED] = "listen.failed",
	[MS_CONN_TOTAL] = "server.connection.total",
	[MS_TASK_TOTAL] = "server.task.total",
	[MS_FORBID_AUTH_FAILED] = "server.forbidden.auth_failed",
	[MS_FORBID_DEST_DENIED] = "server.forbidden.dest_denied",
	[MS_FORBID_USER_BLOCKED] = "server.forbidden.user_blocked",
	[MS_TCP_IN_BYTES] = "server.traffic.in.bytes",
	[MS_TCP_OUT_BYTES] = "server.traffic.out.bytes",
	[MS_UDP_IN_BYTES] = "server.traffic.in.bytes",
	[MS_UDP_OUT_BYTES] = "server.traffic.out.bytes",
	[MS_UDP_IN_PACKETS] = "server.traffic.in.packets",
	[MS_UDP_OUT_PACKETS] = "server.traffic.out.packets",
};

static const char *const esc_names[ME__COUNT] = {
	[ME_TASK_TOTAL] = "escaper.task.total",
	[ME_CONN_ATTEMPT] = "escaper.connection.attempt",
	[ME_CONN_ESTABLISH] = "escaper.connection.establish",
	[ME_TCP_CONNECT_ATTEMPT] = "escaper.tcp.connect.attempt",
	[ME_TCP_CONNECT_ESTABLISH] = "escaper.tcp.connect.establish",
	[ME_TCP_CONNECT_SUCCESS] = "escaper.tcp.connect.success",
	[ME_TCP_CONNECT_ERROR] = "escaper.tcp.connect.error",
	[ME_TCP_CONNECT_TIMEOUT] = "escaper.tcp.connect.timeout",
	[ME_FORBID_IP_BLOCKED] = "escaper.forbidden.ip_blocked",
	[ME_TCP_IN_BYTES] = "escaper.traffic.in.bytes",
	[ME_TCP_OUT_BYTES] = "escaper.traffic.out.bytes",
	[ME_UDP_IN_BYTES] = "escaper.traffic.in.bytes",
	[ME_UDP_OUT_BYTES] = "escaper.traffic.out.bytes",
	[ME_UDP_IN_PACKETS] = "escaper.traffic.in.packets",
	[ME_UDP_OUT_PACKETS] = "escaper.traffic.out.packets",
};

static const char *transport_of(unsigned k, unsigned tcp_first, unsigned udp_first)
{
	if (k >= udp_first)
		return "udp";
	if (k >= tcp_first)
		return "tcp";
	return NULL;
}

static void emit_srv(struct metrics_srv *s, struct statsd *sd)
{
	struct statsd_tags base, t;
	uint64_t d[MS__COUNT];
	int64_t alive = atomic_load_explicit(&s->task_alive, memory_order_relaxed);
	bool moved = alive != 0;

	for (unsigned k = 0; k < MS__COUNT; k++) {
		d[k] = statsd_counter_delta(&s->last[k],
					    atomic_load_explicit(&s->c[k], memory_order_relaxed));
		moved |= d[k] != 0;
	}
	/* an idle offline server is not emitted; an online one always has
	 * its gauges */
	if (!moved && !s->online)
		return;
	statsd_tags_init(&base);
	statsd_tags_add(&base, "server", s->name);
	statsd_tags_add(&base, "online", s->online ? "y" : "n");
	tags_join(&t, &base, &s->extra, NULL);
	statsd_gauge(sd, "server.task.alive", alive, &t);
	for (unsigned k = 0; k < MS__COUNT; k++) {
		const char *tr = transport_of(k, MS_TCP_IN_BYTES, MS_UDP_IN_BYTES);
		struct statsd_tags tt;

		if (d[k] == 0)
			continue;
		if (k <= MS_LISTEN_FAILED) { /* listen.*: server and online only */
			statsd_count(sd, srv_names[k], d[k], &base);
			continue;
		}
		tags_join(&tt, &base, &s->extra, tr);
		statsd_count(sd, srv_names[k], d[k], &tt);
	}
}

static void emit_esc(struct metrics_esc *e, struct statsd *sd)
{
	struct statsd_tags base, t;

	statsd_tags_init(&base);
	statsd_tags_add(&base, "escaper", e->name);
	for (unsigned k = 0; k < ME__COUNT; k++) {
		uint64_t d = statsd_counter_delta(
			&e->last[k], atomic_load_explicit(&e->c[k], memory_order_relaxed));
		if (d == 0)
			continue;
		tags_join(&t, &base, &e->extra, transport_of(k, ME_TCP_IN_BYTES, ME_UDP_IN_BYTES));
		statsd_count(sd, esc_names[k], d, &t);
	}
}

void metrics_emit(struct metrics *m, struct statsd *s)
{
	CHECK_OBJ(m, METRICS_MAGIC);
	for (struct metrics_srv *v = m->srvs; v != NULL; v = v->next)
		emit_srv(v, s);
	for (struct metrics_esc *e = m->escs; e != NULL; e = e->next)
		emit_esc(e, s);
	user_state_emit(s);
}
