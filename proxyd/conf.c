/* proxyd's top-level config loader: the main file's keys (g3proxy §2.1),
 * the five object lists in dependency order (resolvers, escapers, user
 * groups, auditors, servers), name uniqueness, references resolved with
 * g3's fallbacks (§0), and the reference-counted result. */
#include "proxyd/conf_int.h"

#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "proxyd/dp/pick.h"

_Thread_local struct proxyd_conf *pconf_loading;

static atomic_uint_fast64_t conf_live;

static const char *const kind_names[PROXYD_KIND__COUNT] = {
	[PROXYD_KIND_RESOLVER] = "resolver",	 [PROXYD_KIND_ESCAPER] = "escaper",
	[PROXYD_KIND_USER_GROUP] = "user group", [PROXYD_KIND_AUDITOR] = "auditor",
	[PROXYD_KIND_SERVER] = "server",
};

const char *proxyd_kind_name(enum proxyd_kind k)
{
	return k < PROXYD_KIND__COUNT ? kind_names[k] : "object";
}

void obj_vec_push(struct obj_vec *v, void *p)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? 2 * v->cap : 8;
		v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
	}
	v->v[v->n++] = p;
}

void obj_vec_free(struct obj_vec *v)
{
	free(v->v);
	v->v = NULL;
	v->n = v->cap = 0;
}

/* Every object struct starts with the name, then the `name` node. */
struct obj_head {
	const char *name;
	const struct conf_node *node;
};

static_assert(offsetof(struct resolver_conf, node) == sizeof(void *), "layout");
static_assert(offsetof(struct escaper_conf, node) == sizeof(void *), "layout");
static_assert(offsetof(struct user_group_conf, node) == sizeof(void *), "layout");
static_assert(offsetof(struct auditor_conf, node) == sizeof(void *), "layout");
static_assert(offsetof(struct server_conf, node) == sizeof(void *), "layout");

static const struct obj_head *head_of(enum proxyd_kind k, const void *p)
{
	switch (k) {
	case PROXYD_KIND_RESOLVER:
		return (const struct obj_head *)(const void *)&((const struct resolver_conf *)p)
			->name;
	case PROXYD_KIND_ESCAPER:
		return (const struct obj_head *)(const void *)&((const struct escaper_conf *)p)
			->name;
	case PROXYD_KIND_USER_GROUP:
		return (const struct obj_head *)(const void *)&((const struct user_group_conf *)p)
			->name;
	case PROXYD_KIND_AUDITOR:
		return (const struct obj_head *)(const void *)&((const struct auditor_conf *)p)
			->name;
	default:
		return (const struct obj_head *)(const void *)&((const struct server_conf *)p)
			->name;
	}
}

static void *find(const struct proxyd_conf *c, enum proxyd_kind k, const char *name)
{
	const struct obj_vec *v = &c->objs[k];

	for (size_t i = 0; i < v->n; i++) {
		const struct obj_head *h = head_of(k, v->v[i]);
		if (h->name && strcmp(h->name, name) == 0)
			return v->v[i];
	}
	return NULL;
}

int pconf_register(struct conf_ctx *ctx, enum proxyd_kind k, void *obj, const char *name,
		   const struct conf_node *name_node)
{
	struct proxyd_conf *c = pconf_loading;
	const void *prev;

	ASSERT(c != NULL);
	if (name == NULL)
		return -EINVAL;
	prev = find(c, k, name);
	if (prev != NULL) {
		const struct conf_node *pn = head_of(k, prev)->node;
		return conf_error(ctx, name_node,
				  "duplicate %s name '%s' (first defined at %s:%u:%u)",
				  kind_names[k], name, pn->file, pn->line, pn->col);
	}
	obj_vec_push(&c->objs[k], obj);
	c->loaded[k]++;
	return 0;
}

bool pconf_type_unsupported(struct conf_ctx *ctx, const struct conf_node *obj, const char *what,
			    const char *const *unsupported)
{
	const struct conf_node *t = conf_map_get(obj, "type");
	char norm[64];

	if (t == NULL || t->kind != CONF_SCALAR || conf_is_null(t))
		return false;
	conf_normalize(t->str, t->len, norm, sizeof(norm));
	for (unsigned i = 0; unsupported[i]; i++) {
		if (strcmp(norm, unsupported[i]) == 0) {
			size_t saved = conf_path_push_key(ctx, "type");
			conf_error(ctx, t, "%s type '%s' is not supported yet", what, t->str);
			conf_path_pop(ctx, saved);
			return true;
		}
	}
	return false;
}

/* ---- worker ------------------------------------------------------------------ */

struct cpu_acc {
	struct worker_affinity *a;
};

static int cpu_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct cpu_acc *acc = arg;
	uint64_t v;

	if (conf_get_u64(ctx, it, 0, CPU_SETSIZE - 1, &v) < 0)
		return -EINVAL;
	acc->a->cpus[idx] = (uint16_t)v;
	return 0;
}

static int affinity_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		       void *arg)
{
	struct worker_conf *w = arg;
	struct worker_affinity *a = &w->affinity[w->n_affinity];
	struct cpu_acc acc = {a};
	uint64_t id;

	if (conf_get_u64(ctx, k, 0, PROXYD_MAX_WORKERS - 1, &id) < 0)
		return -EINVAL;
	a->thread = (unsigned)id;
	a->ncpu = (uint32_t)pv_list_len(v);
	if (a->ncpu == 0)
		return conf_error(ctx, v, "empty CPU set");
	a->cpus = conf_alloc(ctx, a->ncpu * sizeof(*a->cpus));
	if (pv_foreach_item(ctx, v, cpu_item, &acc) < 0)
		return -EINVAL;
	w->n_affinity++;
	return 0;
}

static int worker_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		     void *arg)
{
	struct worker_conf *w = arg;
	uint64_t u;

	if (conf_key_is(k, "thread_number") || conf_key_is(k, "thread_number_total") ||
	    conf_key_is(k, "threads_total")) {
		if (conf_get_u64(ctx, v, 1, PROXYD_MAX_WORKERS, &u) < 0)
			return -EINVAL;
		w->thread_number = (uint32_t)u;
		return 0;
	}
	if (conf_key_is(k, "thread_number_per_runtime") || conf_key_is(k, "threads_per_runtime")) {
		if (conf_get_u64(ctx, v, 1, PROXYD_MAX_WORKERS, &u) < 0)
			return -EINVAL;
		w->thread_number_per_runtime = (uint32_t)u;
		return 0;
	}
	if (conf_key_is(k, "thread_stack_size")) {
		if (conf_get_size(ctx, v, &u) < 0)
			return -EINVAL;
		if (u != 0 && u < 65536)
			return conf_error(ctx, v, "thread_stack_size %llu is below 64KiB",
					  (unsigned long long)u);
		w->thread_stack_size = u;
		return 0;
	}
	if (conf_key_is(k, "sched_affinity")) {
		if (v->kind == CONF_MAP) {
			w->affinity =
				conf_alloc(ctx, (v->nchild ? v->nchild : 1) * sizeof(*w->affinity));
			w->n_affinity = 0;
			return pv_foreach_kv(ctx, v, affinity_kv, w);
		}
		if (!pv_is_bool_literal(v))
			return conf_error(ctx, v,
					  "expected a bool or a map of thread id to CPU set");
		return conf_get_bool(ctx, v, &w->sched_affinity_auto);
	}
	if (conf_key_is(k, "max_io_events_per_tick")) {
		if (conf_get_u64(ctx, v, 1, UINT32_MAX, &u) < 0)
			return -EINVAL;
		w->max_io_events_per_tick = (uint32_t)u;
		return 0;
	}
	if (conf_key_is(k, "openssl_async_job_init_size") ||
	    conf_key_is(k, "openssl_async_job_max_size")) {
		if (conf_get_u64(ctx, v, 0, UINT32_MAX, &u) < 0)
			return -EINVAL;
		if (conf_key_is(k, "openssl_async_job_init_size"))
			w->openssl_async_job_init_size = (uint32_t)u;
		else
			w->openssl_async_job_max_size = (uint32_t)u;
		return 0;
	}
	return conf_error(ctx, k, "unknown key '%s' in worker", k->str);
}

int pconf_worker_parse(struct conf_ctx *ctx, const struct conf_node *n, struct worker_conf *w)
{
	w->present = true;
	w->thread_number_per_runtime = 1;
	w->max_io_events_per_tick = 1024;
	if (conf_is_null(n))
		return 0;
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	return pv_foreach_kv(ctx, n, worker_kv, w);
}

unsigned proxyd_conf_worker_count(const struct proxyd_conf *c)
{
	long n = c->worker.thread_number;

	if (n == 0)
		n = c->runtime_thread_number;
	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > PROXYD_MAX_WORKERS)
		n = PROXYD_MAX_WORKERS;
	return (unsigned)n;
}

/* ---- references and fallbacks ----------------------------------------------- */

static void *fallback(struct conf_ctx *ctx, struct proxyd_conf *c, enum proxyd_kind k,
		      const char *name, size_t size)
{
	void *o = find(c, k, name);

	if (o != NULL)
		return o;
	o = conf_alloc(ctx, size);
	obj_vec_push(&c->objs[k], o);
	c->fallbacks++;
	return o;
}

static const struct resolver_conf *ref_resolver(struct conf_ctx *ctx, struct proxyd_conf *c,
						const char *name, const char *user)
{
	struct resolver_conf *r = find(c, PROXYD_KIND_RESOLVER, name);

	if (r != NULL)
		return r;
	log_warn("%s: resolver '%s' not found, using an internal deny_all resolver", user, name);
	r = fallback(ctx, c, PROXYD_KIND_RESOLVER, name, sizeof(*r));
	r->name = name;
	r->type = RESOLVER_DENY_ALL;
	r->internal = true;
	return r;
}

static const struct escaper_conf *ref_escaper(struct conf_ctx *ctx, struct proxyd_conf *c,
					      const char *name, const char *user)
{
	struct escaper_conf *e = find(c, PROXYD_KIND_ESCAPER, name);

	if (e != NULL)
		return e;
	log_warn("%s: escaper '%s' not found, using an internal dummy_deny escaper", user, name);
	e = fallback(ctx, c, PROXYD_KIND_ESCAPER, name, sizeof(*e));
	e->name = name;
	e->type = ESCAPER_DUMMY_DENY;
	e->internal = true;
	return e;
}

static const struct user_group_conf *ref_group(struct conf_ctx *ctx, struct proxyd_conf *c,
					       const char *name, const char *user)
{
	struct user_group_conf *g = find(c, PROXYD_KIND_USER_GROUP, name);

	if (g != NULL)
		return g;
	log_warn("%s: user group '%s' not found, using an empty group", user, name);
	g = fallback(ctx, c, PROXYD_KIND_USER_GROUP, name, sizeof(*g));
	g->name = name;
	g->type = USER_GROUP_BASIC;
	g->internal = true;
	g->refresh_interval_ms = 60000;
	return g;
}

static const struct auditor_conf *ref_auditor(struct conf_ctx *ctx, struct proxyd_conf *c,
					      const char *name, const char *user)
{
	struct auditor_conf *a = find(c, PROXYD_KIND_AUDITOR, name);

	if (a != NULL)
		return a;
	log_warn("%s: auditor '%s' not found, using a default auditor", user, name);
	a = fallback(ctx, c, PROXYD_KIND_AUDITOR, name, sizeof(*a));
	auditor_defaults(a);
	a->name = name;
	a->internal = true;
	return a;
}

static bool same_listen(const struct listen_conf *a, const struct listen_conf *b)
{
	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->addr, *y = (const void *)&b->addr;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)&a->addr, *y = (const void *)&b->addr;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* intelli_proxy's http_server / socks_server (key): a server of type want.
 * Missing: a warning (its connections will be closed); another type: an
 * error. */
static const struct server_conf *ref_intelli(struct conf_ctx *ctx, struct proxyd_conf *c,
					     const struct server_conf *s, size_t i, const char *key,
					     int want)
{
	const char *name = key[0] == 'h' ? s->u.port.http_server_name : s->u.port.socks_server_name;
	const struct server_conf *next = find(c, PROXYD_KIND_SERVER, name);

	if (next == NULL) {
		log_warn("server '%s': server '%s' not found, connections will be closed", s->name,
			 name);
		return NULL;
	}
	if (next->type != want) {
		size_t saved = conf_path_push_key(ctx, "server");
		conf_path_push_index(ctx, (unsigned)i);
		conf_path_push_key(ctx, key);
		conf_error(ctx, conf_map_get(s->map, key), "%s '%s' is not a%s server", key, name,
			   want == SERVER_HTTP_PROXY ? "n http_proxy" : " socks_proxy");
		conf_path_pop(ctx, saved);
		return NULL;
	}
	return next;
}

struct route_ref_arg {
	struct conf_ctx *ctx;
	struct proxyd_conf *c;
	const char *who;
};

void pconf_track_pick(struct pick_set *set)
{
	struct proxyd_conf *c = pconf_loading;

	if (c == NULL) {
		pick_set_free(set);
		return;
	}
	if (c->n_picks == c->cap_picks) {
		c->cap_picks = c->cap_picks ? 2 * c->cap_picks : 8;
		c->picks = xrealloc(c->picks, c->cap_picks * sizeof(struct pick_set *));
	}
	c->picks[c->n_picks++] = set;
}

static void route_ref(const char *name, const struct escaper_conf **slot, void *arg)
{
	struct route_ref_arg *a = arg;

	*slot = ref_escaper(a->ctx, a->c, name, a->who);
}

/* fail_over resolvers under r, r included: more than a few levels means
 * they refer to each other in a loop. */
static unsigned fail_over_depth(const struct resolver_conf *r, unsigned depth)
{
	unsigned a, b;

	if (r == NULL || r->type != RESOLVER_FAIL_OVER || depth > 8)
		return depth;
	a = fail_over_depth(r->primary, depth + 1);
	b = fail_over_depth(r->standby, depth + 1);
	return a > b ? a : b;
}

static void resolve_resolver_refs(struct conf_ctx *ctx, struct proxyd_conf *c)
{
	char who[160];
	struct obj_vec *rv = &c->objs[PROXYD_KIND_RESOLVER];
	size_t n_res = rv->n;

	for (size_t i = 0; i < n_res; i++) {
		struct resolver_conf *r = rv->v[i];
		if (r->type != RESOLVER_FAIL_OVER)
			continue;
		snprintf(who, sizeof(who), "resolver '%s'", r->name);
		r->primary = ref_resolver(ctx, c, r->primary_name, who);
		r->standby = ref_resolver(ctx, c, r->standby_name, who);
	}
	for (size_t i = 0; i < n_res; i++) {
		struct resolver_conf *r = rv->v[i];
		if (r->type == RESOLVER_FAIL_OVER && fail_over_depth(r, 0) > 8)
			(void)conf_error(ctx, r->node,
					 "fail_over resolver '%s': primary / standby form a loop",
					 r->name);
	}
}

static void resolve_refs(struct conf_ctx *ctx, struct proxyd_conf *c)
{
	char who[160];
	struct obj_vec *ev = &c->objs[PROXYD_KIND_ESCAPER];
	struct obj_vec *sv = &c->objs[PROXYD_KIND_SERVER];
	size_t n_esc = ev->n, n_srv = sv->n;

	resolve_resolver_refs(ctx, c);

	for (size_t i = 0; i < n_esc; i++) {
		struct escaper_conf *e = ev->v[i];
		snprintf(who, sizeof(who), "escaper '%s'", e->name);
		struct route_ref_arg ra = {ctx, c, who};
		pconf_route_foreach_ref(e, route_ref, &ra);
		if (e->resolver_name == NULL) /* direct_fixed, route_geoip, proxy_* */
			continue;
		e->resolver = ref_resolver(ctx, c, e->resolver_name, who);
		if (e->type != ESCAPER_ROUTE_GEOIP)
			continue;
		for (size_t k = 0; k < e->geoip.n_rules; k++)
			e->geoip.rules[k].next =
				ref_escaper(ctx, c, e->geoip.rules[k].next_name, who);
		e->geoip.default_next = ref_escaper(ctx, c, e->geoip.default_next_name, who);
	}

	struct auditor_conf *def = conf_alloc(ctx, sizeof(*def));
	auditor_defaults(def);
	def->name = "default";
	def->internal = true;
	c->default_auditor = def;

	for (size_t i = 0; i < n_srv; i++) {
		struct server_conf *s = sv->v[i];
		snprintf(who, sizeof(who), "server '%s'", s->name);
		if (s->type == SERVER_PLAIN_TCP_PORT || s->type == SERVER_PLAIN_TLS_PORT) {
			const struct server_conf *next =
				find(c, PROXYD_KIND_SERVER, s->u.port.server_name);
			if (next == NULL) {
				log_warn("%s: server '%s' not found, connections will be closed",
					 who, s->u.port.server_name);
			} else if (next == s || next->type == SERVER_PLAIN_TCP_PORT ||
				   next->type == SERVER_INTELLI_PROXY ||
				   next->type == SERVER_PLAIN_TLS_PORT) {
				size_t saved = conf_path_push_key(ctx, "server");
				conf_path_push_index(ctx, (unsigned)i);
				conf_path_push_key(ctx, "server");
				conf_error(ctx, conf_map_get(s->map, "server"),
					   "port server '%s' cannot hand connections to port "
					   "server '%s'",
					   s->name, next->name);
				conf_path_pop(ctx, saved);
			}
			s->u.port.server = next;
		} else if (s->type == SERVER_INTELLI_PROXY) {
			s->u.port.http_server =
				ref_intelli(ctx, c, s, i, "http_server", SERVER_HTTP_PROXY);
			s->u.port.socks_server =
				ref_intelli(ctx, c, s, i, "socks_server", SERVER_SOCKS_PROXY);
		} else {
			if (s->escaper_name)
				s->escaper = ref_escaper(ctx, c, s->escaper_name, who);
			if (s->user_group_name)
				s->user_group = ref_group(ctx, c, s->user_group_name, who);
			s->auditor = s->auditor_name ? ref_auditor(ctx, c, s->auditor_name, who)
						     : c->default_auditor;
		}
		if (!s->listen.set)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct server_conf *o = sv->v[j];
			if (o->listen.set && same_listen(&o->listen, &s->listen)) {
				size_t saved = conf_path_push_key(ctx, "server");
				conf_path_push_index(ctx, (unsigned)i);
				conf_path_push_key(ctx, "listen");
				conf_error(ctx, conf_map_get(s->map, "listen"),
					   "address already used by server '%s'", o->name);
				conf_path_pop(ctx, saved);
				break;
			}
		}
	}
}

/* ---- the main file ------------------------------------------------------------- */

static const char *const list_keys[PROXYD_KIND__COUNT] = {
	[PROXYD_KIND_RESOLVER] = "resolver",	 [PROXYD_KIND_ESCAPER] = "escaper",
	[PROXYD_KIND_USER_GROUP] = "user_group", [PROXYD_KIND_AUDITOR] = "auditor",
	[PROXYD_KIND_SERVER] = "server",
};

static conf_object_fn *const parsers[PROXYD_KIND__COUNT] = {
	[PROXYD_KIND_RESOLVER] = pconf_resolver_parse,
	[PROXYD_KIND_ESCAPER] = pconf_escaper_parse,
	[PROXYD_KIND_USER_GROUP] = pconf_user_group_parse,
	[PROXYD_KIND_AUDITOR] = pconf_auditor_parse,
	[PROXYD_KIND_SERVER] = pconf_server_parse,
};

static int kind_of_key(const struct conf_node *k)
{
	for (int i = 0; i < PROXYD_KIND__COUNT; i++)
		if (conf_key_is(k, list_keys[i]))
			return i;
	if (conf_key_is(k, "user"))
		return PROXYD_KIND_USER_GROUP;
	return -1;
}

/* runtime.thread_number sizes the worker pool when `worker` does not. */
static void peek_runtime_threads(struct proxyd_conf *c, const struct conf_node *runtime)
{
	const struct conf_node *t;
	char *end;
	unsigned long v;

	if (runtime == NULL || runtime->kind != CONF_MAP)
		return;
	t = conf_map_get(runtime, "thread_number");
	if (t == NULL || t->kind != CONF_SCALAR || conf_is_null(t))
		return;
	v = strtoul(t->str, &end, 10);
	if (*end == '\0' && end != t->str && v <= PROXYD_MAX_WORKERS)
		c->runtime_thread_number = (uint32_t)v;
}

static void conf_free(struct proxyd_conf *c)
{
	for (size_t i = 0; i < c->n_regexes; i++) {
		regfree(c->regexes[i]);
		free(c->regexes[i]);
	}
	free(c->regexes);
	for (size_t i = 0; i < c->n_picks; i++)
		pick_set_free(c->picks[i]);
	free(c->picks);
	for (int k = 0; k < PROXYD_KIND__COUNT; k++)
		obj_vec_free(&c->objs[k]);
	conf_arena_free(c->arena);
	POISON_OBJ(c);
	free(c);
	atomic_fetch_sub(&conf_live, 1);
}

static struct proxyd_conf *build(struct conf_ctx *ctx, const struct conf_node *root)
{
	struct proxyd_conf *c = xcalloc(1, sizeof(*c));
	const struct conf_node *lists[PROXYD_KIND__COUNT] = {0};
	const struct conf_node *list_key[PROXYD_KIND__COUNT] = {0};

	c->magic = PROXYD_CONF_MAGIC;
	atomic_init(&c->refs, 1);
	atomic_fetch_add(&conf_live, 1);
	daemon_conf_defaults(&c->common, "g3proxy");
	pconf_loading = c;

	if (root != NULL && !conf_is_null(root) && root->kind != CONF_MAP) {
		conf_error(ctx, root, "the main file must be a map of top-level keys");
		goto fail;
	}
	for (const struct conf_node *k = root ? root->child : NULL; k; k = k->next) {
		int kind = kind_of_key(k);
		size_t saved;

		if (conf_key_is(k, "runtime"))
			peek_runtime_threads(c, k->value);
		if (daemon_conf_parse_key(ctx, k, &c->common) == 1)
			continue;
		saved = conf_path_push_key(ctx, k->str);
		if (conf_key_is(k, "worker")) {
			if (pconf_worker_parse(ctx, k->value, &c->worker) < 0)
				log_debug("worker: invalid"); /* errors are in ctx */
		} else if (kind < 0) {
			conf_error(
				ctx, k,
				"unknown top-level key '%s' (expected runtime, worker, log, stat, "
				"controller, resolver, escaper, server, user_group or auditor)",
				k->str);
		} else if (lists[kind] != NULL) {
			conf_error(ctx, k, "'%s' repeats '%s' (both name the %s list)", k->str,
				   list_key[kind]->str, kind_names[kind]);
		} else {
			lists[kind] = k->value;
			list_key[kind] = k;
		}
		conf_path_pop(ctx, saved);
	}

	for (int kind = 0; kind < PROXYD_KIND__COUNT; kind++) {
		char key[64];
		if (lists[kind] == NULL || conf_is_null(lists[kind]))
			continue;
		conf_normalize(list_key[kind]->str, list_key[kind]->len, key, sizeof(key));
		if (conf_foreach_object(ctx, key, lists[kind], parsers[kind], NULL) < 0)
			continue; /* errors are in ctx */
	}
	if (ctx->nerr == 0)
		resolve_refs(ctx, c);
	if (ctx->nerr != 0)
		goto fail;

	c->arena = conf_ctx_take_arena(ctx);
	pconf_loading = NULL;
	return c;
fail:
	pconf_loading = NULL;
	conf_free(c); /* the arena stays with ctx */
	return NULL;
}

struct proxyd_conf *proxyd_conf_load(struct conf_ctx *ctx, const char *path)
{
	const struct conf_node *root = NULL;

	if (conf_load_main(ctx, path, "proxyd", &root) < 0)
		return NULL;
	return build(ctx, root);
}

struct proxyd_conf *proxyd_conf_load_buffer(struct conf_ctx *ctx, const char *name,
					    const char *data, size_t len)
{
	const struct conf_node *root = NULL;

	if (conf_load_buffer(ctx, name, data, len, &root) < 0)
		return NULL;
	return build(ctx, root);
}

struct proxyd_conf *proxyd_conf_ref(struct proxyd_conf *c)
{
	CHECK_OBJ(c, PROXYD_CONF_MAGIC);
	atomic_fetch_add(&c->refs, 1);
	return c;
}

void proxyd_conf_unref(struct proxyd_conf *c)
{
	if (c == NULL)
		return;
	CHECK_OBJ(c, PROXYD_CONF_MAGIC);
	if (atomic_fetch_sub(&c->refs, 1) == 1)
		conf_free(c);
}

uint64_t proxyd_conf_live(void)
{
	return atomic_load(&conf_live);
}

const struct server_conf *proxyd_conf_server(const struct proxyd_conf *c, const char *name)
{
	return find(c, PROXYD_KIND_SERVER, name);
}

const struct escaper_conf *proxyd_conf_escaper(const struct proxyd_conf *c, const char *name)
{
	return find(c, PROXYD_KIND_ESCAPER, name);
}

const struct resolver_conf *proxyd_conf_resolver(const struct proxyd_conf *c, const char *name)
{
	return find(c, PROXYD_KIND_RESOLVER, name);
}

const struct user_group_conf *proxyd_conf_user_group(const struct proxyd_conf *c, const char *name)
{
	return find(c, PROXYD_KIND_USER_GROUP, name);
}

const struct auditor_conf *proxyd_conf_auditor(const struct proxyd_conf *c, const char *name)
{
	return find(c, PROXYD_KIND_AUDITOR, name);
}
