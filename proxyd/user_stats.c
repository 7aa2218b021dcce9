/* user.upstream.traffic.* and user.site.<id>.* (see user_stats.h). */
#include "proxyd/user_stats.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* Guards the list heads in user_srv_stats (ups, sites) and site ups:
 * nodes are only prepended and never freed while running, so a head read
 * under the lock can be walked without it. */
static pthread_mutex_t xs_mu = PTHREAD_MUTEX_INITIALIZER;

struct user_up_stats *user_stats_up(struct user_up_stats **head, const char *escaper,
				    const struct metrics_esc *mesc)
{
	struct user_up_stats *u;

	pthread_mutex_lock(&xs_mu);
	for (u = *head; u != NULL; u = u->next)
		if (strcmp(u->escaper, escaper) == 0)
			goto out;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		goto out;
	u->escaper = strdup(escaper);
	if (u->escaper == NULL) {
		free(u);
		u = NULL;
		goto out;
	}
	u->next = *head;
	*head = u;
out:
	if (u != NULL && mesc != NULL)
		u->mesc = mesc; /* the escaper of this name in the newest config */
	pthread_mutex_unlock(&xs_mu);
	return u;
}

struct user_site_stats *user_stats_site(struct user_srv_stats *s, const char *id,
					const struct hist_conf *dur)
{
	struct user_site_stats *st;

	if (s == NULL)
		return NULL;
	pthread_mutex_lock(&xs_mu);
	for (st = s->sites; st != NULL; st = st->next)
		if (strcmp(st->id, id) == 0)
			goto out;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		goto out;
	st->id = strdup(id);
	if (st->id == NULL) {
		free(st);
		st = NULL;
		goto out;
	}
	dur_hist_init(&st->ready);
	st->next = s->sites;
	s->sites = st;
out:
	if (st != NULL)
		st->dur_conf = *dur;
	pthread_mutex_unlock(&xs_mu);
	return st;
}

/* ---- emit ------------------------------------------------------------------ */

static const char *const urc_names[URC__COUNT] = {
	[URC_TOTAL] = "request.total",
	[URC_IN_BYTES] = "traffic.in.bytes",
	[URC_OUT_BYTES] = "traffic.out.bytes",
};

static const char *const uu_names[UU__COUNT] = {
	[UU_TCP_IN_BYTES] = "upstream.traffic.in.bytes",
	[UU_TCP_OUT_BYTES] = "upstream.traffic.out.bytes",
	[UU_UDP_IN_BYTES] = "upstream.traffic.in.bytes",
	[UU_UDP_OUT_BYTES] = "upstream.traffic.out.bytes",
	[UU_UDP_IN_PACKETS] = "upstream.traffic.in.packets",
	[UU_UDP_OUT_PACKETS] = "upstream.traffic.out.packets",
};

static void append_tags(struct statsd_tags *t, const struct statsd_tags *extra)
{
	if (extra->len == 0 || t->len + 1 + extra->len >= sizeof(t->s)) {
		if (extra->len > 0)
			t->dropped++;
		return;
	}
	t->s[t->len++] = ',';
	memcpy(t->s + t->len, extra->s, extra->len);
	t->len += extra->len;
	t->s[t->len] = '\0';
}

/* prefix "user." or "user.site.<id>." + name into buf. */
static const char *mname(char *buf, size_t cap, const char *prefix, const char *name)
{
	snprintf(buf, cap, "%s%s", prefix, name);
	return buf;
}

static void emit_ups(struct statsd *sd, struct user_up_stats *head, const struct statsd_tags *base,
		     const char *prefix)
{
	char name[160];

	for (struct user_up_stats *u = head; u != NULL; u = u->next) {
		struct statsd_tags t[2];
		uint64_t d[UU__COUNT];
		bool moved[2] = {false, false};

		for (unsigned k = 0; k < UU__COUNT; k++) {
			d[k] = statsd_delta(&u->last[k],
					    atomic_load_explicit(&u->c[k], memory_order_relaxed));
			moved[k >= UU_UDP_IN_BYTES] |= d[k] != 0;
		}
		for (unsigned tr = 0; tr < 2; tr++) {
			if (!moved[tr])
				continue;
			t[tr] = *base;
			statsd_tags_add(&t[tr], "escaper", u->escaper);
			if (u->mesc != NULL)
				append_tags(&t[tr], &u->mesc->extra);
			statsd_tags_add(&t[tr], "transport", tr ? "udp" : "tcp");
		}
		for (unsigned k = 0; k < UU__COUNT; k++) {
			unsigned tr = k >= UU_UDP_IN_BYTES;
			if (d[k] != 0)
				statsd_count(sd, mname(name, sizeof(name), prefix, uu_names[k]),
					     d[k], &t[tr]);
		}
	}
}

/* Drain the workers' values into the site's window, rotate it every
 * duration_stats.rotate and send the last interval's quantiles (as g3,
 * until the next rotation). */
static void emit_ready(struct statsd *sd, struct user_site_stats *st,
		       const struct statsd_tags *base, const char *prefix)
{
	const struct hist_snapshot *last = &st->win.last;
	uint64_t now_ms = util_mono_ns() / 1000000u;
	struct hist_conf conf;
	char name[160], q[24];

	pthread_mutex_lock(&xs_mu);
	conf = st->dur_conf;
	pthread_mutex_unlock(&xs_mu);
	if (!st->win_ok) {
		memset(&st->win, 0, sizeof(st->win));
		st->win.window_start_ms = now_ms;
		if (hist_init(&st->win.h, DUR_HIST_SUB_BITS, DUR_HIST_VALUE_BITS) < 0)
			return; /* no memory: try again at the next emit */
		st->win_ok = true;
	}
	if (dur_hist_drain(&st->ready, &st->win.h) < 0)
		return;
	hist_window_rotate(&st->win, &conf, now_ms);
	if (last->count == 0)
		return;
	mname(name, sizeof(name), prefix, "task.ready.duration");
	{
		static const char *const fixed[] = {"min", "max", "mean"};
		const uint64_t fv[] = {last->min, last->max, last->mean};
		for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
			struct statsd_tags t = *base;
			statsd_tags_add(&t, "quantile", fixed[i]);
			statsd_gauge(sd, name, (int64_t)fv[i], &t);
		}
	}
	for (unsigned i = 0; i < last->nq; i++) {
		struct statsd_tags t = *base;
		snprintf(q, sizeof(q), "%.2f", last->q[i]);
		if (strtod(q, NULL) != last->q[i]) /* 0.999 keeps its digits */
			snprintf(q, sizeof(q), "%g", last->q[i]);
		statsd_tags_add(&t, "quantile", q);
		statsd_gauge(sd, name, (int64_t)last->qv[i], &t);
	}
}

static void emit_site(struct statsd *sd, struct user_site_stats *st, const struct statsd_tags *base,
		      const struct statsd_tags *ubase)
{
	char prefix[96], name[160];

	snprintf(prefix, sizeof(prefix), "user.site.%s.", st->id);
	for (unsigned q = 0; q < USER_REQ__COUNT; q++) {
		int64_t alive = atomic_load_explicit(&st->req_alive[q], memory_order_relaxed);
		bool moved = alive != 0;
		uint64_t d[URC__COUNT];
		struct statsd_tags t;

		for (unsigned k = 0; k < URC__COUNT; k++) {
			d[k] = statsd_delta(
				&st->rlast[q][k],
				atomic_load_explicit(&st->r[q][k], memory_order_relaxed));
			moved |= d[k] != 0;
		}
		if (!moved)
			continue;
		t = *base;
		statsd_tags_add(&t, "request", user_req_tag(q));
		statsd_gauge(sd, mname(name, sizeof(name), prefix, "request.alive"), alive, &t);
		for (unsigned k = 0; k < URC__COUNT; k++)
			if (d[k] != 0)
				statsd_count(sd, mname(name, sizeof(name), prefix, urc_names[k]),
					     d[k], &t);
	}
	emit_ups(sd, st->ups, ubase, prefix);
	emit_ready(sd, st, base, prefix);
}

void user_stats_emit(struct statsd *sd, const char *group, const char *user,
		     struct user_srv_stats *s)
{
	struct statsd_tags ubase, base;
	struct user_up_stats *ups;
	struct user_site_stats *sites;

	pthread_mutex_lock(&xs_mu);
	ups = s->ups;
	sites = s->sites;
	pthread_mutex_unlock(&xs_mu);
	if (ups == NULL && sites == NULL)
		return;
	statsd_tags_init(&ubase);
	statsd_tags_add(&ubase, "user_group", group);
	statsd_tags_add(&ubase, "user", user);
	statsd_tags_add(&ubase, "user_type", s->dynamic ? "Dynamic" : "Static");
	base = ubase;
	statsd_tags_add(&base, "server", s->server);
	emit_ups(sd, ups, &ubase, "user.");
	for (struct user_site_stats *st = sites; st != NULL; st = st->next)
		emit_site(sd, st, &base, &ubase);
}

static void free_ups(struct user_up_stats *u)
{
	while (u != NULL) {
		struct user_up_stats *n = u->next;
		free(u->escaper);
		free(u);
		u = n;
	}
}

void user_stats_free(struct user_srv_stats *s)
{
	pthread_mutex_lock(&xs_mu);
	free_ups(s->ups);
	s->ups = NULL;
	for (struct user_site_stats *st = s->sites, *n; st != NULL; st = n) {
		n = st->next;
		free_ups(st->ups);
		hist_window_fini(&st->win);
		free(st->id);
		free(st);
	}
	s->sites = NULL;
	pthread_mutex_unlock(&xs_mu);
}
