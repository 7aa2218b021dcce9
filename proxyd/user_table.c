/* User tables and user group runtimes (see user_table.h). */
#include "proxyd/user_table.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "proxyd/user_int.h"

#define USER_TABLE_MAGIC 0x75746162u  /* "utab" */
#define USER_GROUPS_MAGIC 0x75677270u /* "ugrp" */

struct user_ent {
	const struct user_conf *u;
	bool dynamic;
};

struct user_table {
	uint32_t magic;
	atomic_uint refs;
	struct proxyd_conf *conf; /* static users live here (ref, may be NULL) */
	struct user_batch *src, *published;
	struct user_ent *v; /* sorted by name, unique */
	size_t n;
};

struct user_groups {
	uint32_t magic;
	struct user_group_rt *head;
	struct ev_loop *loop;
};

/* ---- tables ---------------------------------------------------------------- */

struct user_table *user_table_ref(struct user_table *t)
{
	CHECK_OBJ(t, USER_TABLE_MAGIC);
	atomic_fetch_add(&t->refs, 1);
	return t;
}

void user_table_unref(struct user_table *t)
{
	if (t == NULL)
		return;
	CHECK_OBJ(t, USER_TABLE_MAGIC);
	if (atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	proxyd_conf_unref(t->conf);
	user_batch_unref(t->src);
	user_batch_unref(t->published);
	free(t->v);
	POISON_OBJ(t);
	free(t);
}

static int name_cmp(const char *a, const char *b, size_t blen)
{
	size_t alen = strlen(a);
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

const struct user_conf *user_table_find(const struct user_table *t, const char *name, size_t len)
{
	size_t lo = 0, hi;

	CHECK_OBJ(t, USER_TABLE_MAGIC);
	hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(t->v[mid].u->name, name, len);
		if (c == 0)
			return t->v[mid].u;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t user_table_count(const struct user_table *t)
{
	CHECK_OBJ(t, USER_TABLE_MAGIC);
	return t->n;
}

const struct user_conf *user_table_at(const struct user_table *t, size_t i)
{
	CHECK_OBJ(t, USER_TABLE_MAGIC);
	return i < t->n ? t->v[i].u : NULL;
}

bool user_table_is_dynamic(const struct user_table *t, size_t i)
{
	CHECK_OBJ(t, USER_TABLE_MAGIC);
	return i < t->n && t->v[i].dynamic;
}

struct build_ent {
	const struct user_conf *u;
	int prio; /* static 0 < source 1 < published 2 */
};

static int build_cmp(const void *a, const void *b)
{
	const struct build_ent *x = a, *y = b;
	int c = strcmp(x->u->name, y->u->name);

	if (c != 0)
		return c;
	return y->prio - x->prio; /* highest priority first */
}

/* A table of conf's static users for gc (both may be NULL) merged with the
 * batches; takes new references to everything it points into. */
static struct user_table *table_build(struct proxyd_conf *conf, const struct user_group_conf *gc,
				      struct user_batch *src, struct user_batch *pub)
{
	struct user_table *t = xcalloc(1, sizeof(*t));
	size_t nst = gc ? gc->n_static_users : 0;
	size_t total = nst + (src ? src->n : 0) + (pub ? pub->n : 0), k = 0;
	struct build_ent *b = xcalloc(total ? total : 1, sizeof(*b));

	t->magic = USER_TABLE_MAGIC;
	atomic_init(&t->refs, 1);
	if (conf != NULL && nst != 0)
		t->conf = proxyd_conf_ref(conf);
	for (size_t i = 0; i < nst; i++)
		b[k++] = (struct build_ent){&gc->static_users[i], 0};
	if (src != NULL && src->n != 0) {
		t->src = user_batch_ref(src);
		for (size_t i = 0; i < src->n; i++)
			b[k++] = (struct build_ent){&src->users[i], 1};
	}
	if (pub != NULL && pub->n != 0) {
		t->published = user_batch_ref(pub);
		for (size_t i = 0; i < pub->n; i++)
			b[k++] = (struct build_ent){&pub->users[i], 2};
	}
	qsort(b, k, sizeof(*b), build_cmp);
	t->v = xcalloc(k ? k : 1, sizeof(*t->v));
	for (size_t i = 0; i < k; i++) {
		if (t->n > 0 && strcmp(t->v[t->n - 1].u->name, b[i].u->name) == 0)
			continue; /* a lower priority duplicate */
		t->v[t->n].u = b[i].u;
		t->v[t->n].dynamic = b[i].prio > 0;
		t->n++;
	}
	free(b);
	return t;
}

/* ---- group runtime: lock-free readers ----------------------------------------- */

struct user_table *user_group_current(struct user_group_rt *g)
{
	struct user_table *t;
	unsigned e;

	CHECK_OBJ(g, USER_GROUP_RT_MAGIC);
	/* Enter the slot of the current epoch; re-check so a writer that
	 * flipped meanwhile cannot miss us. */
	for (;;) {
		e = atomic_load(&g->epoch);
		atomic_fetch_add(&g->readers[e & 1], 1);
		if (atomic_load(&g->epoch) == e)
			break;
		atomic_fetch_sub(&g->readers[e & 1], 1);
	}
	t = atomic_load(&g->cur);
	atomic_fetch_add(&t->refs, 1);
	atomic_fetch_sub(&g->readers[e & 1], 1);
	return t;
}

/* Main thread: make t (taken) current and drop the group's reference to the
 * previous table once no reader can still be about to take one. */
static void group_publish_table(struct user_group_rt *g, struct user_table *t)
{
	struct user_table *old = atomic_exchange(&g->cur, t);
	unsigned e = atomic_fetch_add(&g->epoch, 1);

	while (atomic_load(&g->readers[e & 1]) != 0)
		sched_yield();
	user_table_unref(old);
}

void user_group_republish(struct user_group_rt *g)
{
	CHECK_OBJ(g, USER_GROUP_RT_MAGIC);
	group_publish_table(g, table_build(g->conf, g->gc, g->src, g->published));
}

void user_group_source_loaded(struct user_group_rt *g, struct user_batch *b, const char *cache,
			      size_t cache_len)
{
	CHECK_OBJ(g, USER_GROUP_RT_MAGIC);
	user_batch_unref(g->src);
	g->src = b;
	user_batch_unref(g->published);
	g->published = NULL;
	g->loads++;
	g->loaded = true;
	user_group_republish(g);
	if (cache != NULL && g->gc != NULL && g->gc->cache_path != NULL) {
		int rc = user_write_file(g->gc->cache_path, cache, cache_len);
		if (rc != 0)
			log_warn("user group %s: cannot write the cache %s: %s", g->name,
				 g->gc->cache_path, strerror(-rc));
	}
}

void user_group_source_failed(struct user_group_rt *g)
{
	CHECK_OBJ(g, USER_GROUP_RT_MAGIC);
	g->load_errors++;
}

void user_group_publish(struct user_group_rt *g, struct user_batch *b)
{
	CHECK_OBJ(g, USER_GROUP_RT_MAGIC);
	if (g->published == NULL) {
		g->published = b;
	} else {
		/* merge: the newer batch wins */
		struct user_batch *m = user_batch_new();
		user_batch_merge(m, g->published);
		user_batch_merge(m, b);
		user_batch_unref(b);
		user_batch_unref(g->published);
		g->published = m;
	}
	user_group_republish(g);
}

static struct user_group_rt *group_new(const char *name)
{
	struct user_group_rt *g = xcalloc(1, sizeof(*g));

	g->magic = USER_GROUP_RT_MAGIC;
	g->name = xstrdup(name);
	atomic_init(&g->epoch, 0);
	atomic_init(&g->readers[0], 0);
	atomic_init(&g->readers[1], 0);
	atomic_init(&g->cur, table_build(NULL, NULL, NULL, NULL));
	return g;
}

static void group_stop_source(struct user_group_rt *g)
{
	if (g->source != NULL) {
		g->source->ops->free(g->source);
		g->source = NULL;
	}
}

static void group_free(struct user_group_rt *g)
{
	group_stop_source(g);
	user_table_unref(atomic_load(&g->cur));
	user_batch_unref(g->src);
	user_batch_unref(g->published);
	proxyd_conf_unref(g->conf);
	free(g->name);
	POISON_OBJ(g);
	free(g);
}

/* ---- registry ------------------------------------------------------------------- */

struct user_groups *user_groups_new(void)
{
	struct user_groups *ug = xcalloc(1, sizeof(*ug));

	ug->magic = USER_GROUPS_MAGIC;
	return ug;
}

void user_groups_free(struct user_groups *ug)
{
	if (ug == NULL)
		return;
	CHECK_OBJ(ug, USER_GROUPS_MAGIC);
	for (struct user_group_rt *g = ug->head, *next; g != NULL; g = next) {
		next = g->next;
		group_free(g);
	}
	POISON_OBJ(ug);
	free(ug);
}

struct user_group_rt *user_groups_find(struct user_groups *ug, const char *name)
{
	CHECK_OBJ(ug, USER_GROUPS_MAGIC);
	for (struct user_group_rt *g = ug->head; g != NULL; g = g->next)
		if (strcmp(g->name, name) == 0)
			return g;
	return NULL;
}

static void group_start_source(struct user_groups *ug, struct user_group_rt *g)
{
	const struct user_group_conf *gc = g->gc;

	if (gc->redis != NULL)
		g->source = user_redis_source_new(g);
	else if (gc->source_path != NULL)
		g->source = user_file_source_new(g);
	if (g->source != NULL && ug->loop != NULL) {
		int rc = g->source->ops->start(g->source, ug->loop);
		if (rc != 0)
			log_err("user group %s: cannot start the %s source: %s", g->name,
				g->source->ops->type, strerror(-rc));
	}
}

/* Read the cache once, when the group has no source users yet. */
static void group_load_cache(struct user_group_rt *g)
{
	const char *path = g->gc->cache_path;
	struct user_batch *b = NULL;
	char *data = NULL, *errs = NULL;
	size_t len = 0;
	int rc;

	if (g->loaded || path == NULL || (g->gc->source_path == NULL && g->gc->redis == NULL))
		return;
	rc = user_read_file(path, &data, &len);
	if (rc == -ENOENT)
		return;
	if (rc == 0)
		rc = user_batch_parse_list(path, data, len, &b, &errs);
	if (rc != 0) {
		log_warn("user group %s: cache %s unusable: %s", g->name, path,
			 errs ? errs : strerror(-rc));
	} else {
		log_info("user group %s: %zu users from the cache %s", g->name, b->n, path);
		user_batch_unref(g->src);
		g->src = b;
		g->loaded = true;
	}
	free(errs);
	free(data);
}

void user_groups_bind(struct user_groups *ug, struct proxyd_conf *conf)
{
	const struct obj_vec *v;

	CHECK_OBJ(ug, USER_GROUPS_MAGIC);
	CHECK_OBJ(conf, PROXYD_CONF_MAGIC);
	for (struct user_group_rt *g = ug->head; g != NULL; g = g->next)
		g->gc = NULL;
	v = &conf->objs[PROXYD_KIND_USER_GROUP];
	for (size_t i = 0; i < v->n; i++) {
		struct user_group_conf *gc = v->v[i];
		struct user_group_rt *g = user_groups_find(ug, gc->name);
		if (g == NULL) {
			g = group_new(gc->name);
			g->next = ug->head;
			ug->head = g;
		}
		gc->rt = g;
		g->gc = gc;
		if (g->conf != conf) {
			proxyd_conf_unref(g->conf);
			g->conf = proxyd_conf_ref(conf);
		}
	}
	for (struct user_group_rt *g = ug->head; g != NULL; g = g->next) {
		group_stop_source(g);
		if (g->gc == NULL) {
			/* left the config: old configs may still use its table */
			proxyd_conf_unref(g->conf);
			g->conf = NULL;
			continue;
		}
		group_load_cache(g);
		group_start_source(ug, g);
		user_group_republish(g);
	}
}

void user_groups_set_loop(struct user_groups *ug, struct ev_loop *loop)
{
	CHECK_OBJ(ug, USER_GROUPS_MAGIC);
	ug->loop = loop;
	for (struct user_group_rt *g = ug->head; g != NULL; g = g->next) {
		if (g->source == NULL)
			continue;
		int rc = g->source->ops->start(g->source, loop);
		if (rc != 0)
			log_err("user group %s: cannot start the %s source: %s", g->name,
				g->source->ops->type, strerror(-rc));
	}
}

void user_groups_counters(const struct user_groups *ug,
			  void (*add)(void *arg, const char *name, uint64_t v), void *arg)
{
	uint64_t loads = 0, errors = 0, skipped = 0;

	CHECK_OBJ(ug, USER_GROUPS_MAGIC);
	for (const struct user_group_rt *g = ug->head; g != NULL; g = g->next) {
		loads += g->loads;
		errors += g->load_errors;
		skipped += g->skipped_users;
	}
	add(arg, "user_source_loads", loads);
	add(arg, "user_source_errors", errors);
	add(arg, "user_source_skipped_users", skipped);
}

void user_groups_emit(struct user_groups *ug, struct statsd *s)
{
	CHECK_OBJ(ug, USER_GROUPS_MAGIC);
	for (struct user_group_rt *g = ug->head; g != NULL; g = g->next) {
		struct statsd_tags tags;
		struct user_table *t;
		if (g->gc == NULL || g->gc->internal)
			continue;
		statsd_tags_init(&tags);
		statsd_tags_add(&tags, "user_group", g->name);
		if (g->source != NULL) {
			statsd_count(s, "user_group.source.loads",
				     statsd_counter_delta(&g->last_loads, g->loads), &tags);
			statsd_count(s, "user_group.source.errors",
				     statsd_counter_delta(&g->last_errors, g->load_errors), &tags);
			statsd_count(s, "user_group.source.skipped_users",
				     statsd_counter_delta(&g->last_skipped, g->skipped_users),
				     &tags);
		}
		t = user_group_current(g);
		statsd_gauge(s, "user_group.users", (int64_t)user_table_count(t), &tags);
		user_table_unref(t);
	}
}
