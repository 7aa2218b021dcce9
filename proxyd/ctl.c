/* proxyd's members of the control socket (proto/control.proto 50..99):
 * object lists for `g3ctl -d proxyd list KIND` and `server NAME status`.
 * Runs on the main loop (daemon_ops.control); reads the runtime's current
 * config and the metrics registry, both main-thread state. */
#include "proxyd/ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/control.pb-c.h"
#include "common/log.h"
#include "proxyd/float_bind.h"
#include "proxyd/float_pub.h"
#include "proxyd/metrics.h"
#include "proxyd/runtime.h"

static const struct {
	const char *kind;
	enum proxyd_kind k;
} list_kinds[] = {
	{"servers", PROXYD_KIND_SERVER},     {"escapers", PROXYD_KIND_ESCAPER},
	{"resolvers", PROXYD_KIND_RESOLVER}, {"user-groups", PROXYD_KIND_USER_GROUP},
	{"auditors", PROXYD_KIND_AUDITOR},
};

/* Internal fallbacks are not configured objects: left out of lists. */
static bool obj_internal(enum proxyd_kind k, const void *o)
{
	switch (k) {
	case PROXYD_KIND_RESOLVER:
		return ((const struct resolver_conf *)o)->internal;
	case PROXYD_KIND_ESCAPER:
		return ((const struct escaper_conf *)o)->internal;
	case PROXYD_KIND_USER_GROUP:
		return ((const struct user_group_conf *)o)->internal;
	case PROXYD_KIND_AUDITOR:
		return ((const struct auditor_conf *)o)->internal;
	default:
		return false;
	}
}

static const char *obj_name(enum proxyd_kind k, const void *o)
{
	switch (k) {
	case PROXYD_KIND_RESOLVER:
		return ((const struct resolver_conf *)o)->name;
	case PROXYD_KIND_ESCAPER:
		return ((const struct escaper_conf *)o)->name;
	case PROXYD_KIND_USER_GROUP:
		return ((const struct user_group_conf *)o)->name;
	case PROXYD_KIND_AUDITOR:
		return ((const struct auditor_conf *)o)->name;
	default:
		return ((const struct server_conf *)o)->name;
	}
}

static enum rpc_code ctl_list(const struct proxyd_conf *conf, const G3c__Control__ProxydListReq *q,
			      G3c__Control__Reply *rep, struct rpc_arena *a)
{
	G3c__Control__ProxydListRep *r;
	const struct obj_vec *v = NULL;
	enum proxyd_kind k = PROXYD_KIND_SERVER;

	for (size_t i = 0; i < sizeof(list_kinds) / sizeof(list_kinds[0]); i++)
		if (q->kind && strcmp(q->kind, list_kinds[i].kind) == 0) {
			k = list_kinds[i].k;
			v = &conf->objs[k];
		}
	if (v == NULL) {
		rpc_arena_set_error(a, "unknown object kind (servers, escapers, resolvers, "
				       "user-groups or auditors)");
		return RPC_INVALID_ARGUMENT;
	}
	r = rpc_arena_alloc(a, sizeof(*r));
	g3c__control__proxyd_list_rep__init(r);
	r->names = rpc_arena_alloc(a, (v->n ? v->n : 1) * sizeof(char *));
	for (size_t i = 0; i < v->n; i++)
		if (!obj_internal(k, v->v[i]))
			r->names[r->n_names++] = rpc_arena_strdup(a, obj_name(k, v->v[i]));
	rep->body_case = G3C__CONTROL__REPLY__BODY_PROXYD_LIST;
	rep->proxyd_list = r;
	return RPC_OK;
}

static enum rpc_code ctl_server_status(struct proxyd_runtime *rt,
				       const G3c__Control__ProxydServerStatusReq *q,
				       G3c__Control__Reply *rep, struct rpc_arena *a)
{
	const struct server_conf *sc =
		q->name ? proxyd_conf_server(proxyd_runtime_conf(rt), q->name) : NULL;
	const struct metrics_srv *m;
	G3c__Control__ProxydServerStatusRep *r;
	int64_t alive;

	if (sc == NULL) {
		rpc_arena_set_error(a, "no server of that name in the running config");
		return RPC_NOT_FOUND;
	}
	m = sc->stats;
	CHECK_OBJ(m, METRICS_SRV_MAGIC);
	r = rpc_arena_alloc(a, sizeof(*r));
	g3c__control__proxyd_server_status_rep__init(r);
	r->name = rpc_arena_strdup(a, sc->name);
	r->online = m->online;
	alive = atomic_load_explicit(&m->task_alive, memory_order_relaxed);
	r->alive_tasks = alive > 0 ? (uint64_t)alive : 0;
	r->total_connections = atomic_load_explicit(&m->c[MS_CONN_TOTAL], memory_order_relaxed);
	r->total_tasks = atomic_load_explicit(&m->c[MS_TASK_TOTAL], memory_order_relaxed);
	rep->body_case = G3C__CONTROL__REPLY__BODY_PROXYD_SERVER_STATUS;
	rep->proxyd_server_status = r;
	return RPC_OK;
}

/* escaper NAME publish JSON / show (float escapers, proxyd/float_pub.h) */
static const struct escaper_conf *float_escaper(struct proxyd_runtime *rt, const char *name,
						struct rpc_arena *a, enum rpc_code *code)
{
	const struct escaper_conf *e =
		name ? proxyd_conf_escaper(proxyd_runtime_conf(rt), name) : NULL;

	if (e == NULL || e->internal) {
		rpc_arena_set_error(a, "no escaper of that name in the running config");
		*code = RPC_NOT_FOUND;
		return NULL;
	}
	if (e->type != ESCAPER_PROXY_FLOAT && e->type != ESCAPER_DIRECT_FLOAT) {
		rpc_arena_set_error(a,
				    "escaper %s is not a float escaper (proxy_float, direct_float)",
				    e->name);
		*code = RPC_FAILED_PRECONDITION;
		return NULL;
	}
	return e;
}

/* direct_float: bind IPs (proxyd/float_bind.h); peers = IPs of both families */
static enum rpc_code ctl_publish_binds(const struct escaper_conf *e,
				       const G3c__Control__ProxydEscaperPublishReq *q,
				       G3c__Control__Reply *rep, struct rpc_arena *a)
{
	G3c__Control__ProxydEscaperPublishRep *r;
	size_t n4 = 0, n6 = 0;
	char *err = NULL;
	int rc;

	rc = float_bind_publish(e, q->data ? q->data : "", q->data ? strlen(q->data) : 0, &n4, &n6,
				&err);
	if (rc < 0) {
		rpc_arena_set_error(a, "%s", err ? err : "out of memory");
		free(err);
		return rc == -EINVAL ? RPC_INVALID_ARGUMENT : RPC_INTERNAL;
	}
	r = rpc_arena_alloc(a, sizeof(*r));
	g3c__control__proxyd_escaper_publish_rep__init(r);
	r->peers = (uint32_t)(n4 + n6);
	log_info("escaper %s: %zu IPv4 and %zu IPv6 bind IP(s) published", e->name, n4, n6);
	rep->body_case = G3C__CONTROL__REPLY__BODY_PROXYD_ESCAPER_PUBLISH;
	rep->proxyd_escaper_publish = r;
	return RPC_OK;
}

static enum rpc_code ctl_publish(struct proxyd_runtime *rt,
				 const G3c__Control__ProxydEscaperPublishReq *q,
				 G3c__Control__Reply *rep, struct rpc_arena *a)
{
	enum rpc_code code = RPC_OK;
	const struct escaper_conf *e = float_escaper(rt, q->escaper, a, &code);
	G3c__Control__ProxydEscaperPublishRep *r;
	struct float_set *s;
	char *err = NULL;
	int rc;

	if (e == NULL)
		return code;
	if (e->type == ESCAPER_DIRECT_FLOAT)
		return ctl_publish_binds(e, q, rep, a);
	rc = float_pub_publish(e->name, q->data ? q->data : "", q->data ? strlen(q->data) : 0,
			       &err);
	if (rc < 0) {
		rpc_arena_set_error(a, "%s", err ? err : "out of memory");
		free(err);
		return rc == -ENOMEM ? RPC_INTERNAL : RPC_INVALID_ARGUMENT;
	}
	s = float_pub_get(e->name);
	r = rpc_arena_alloc(a, sizeof(*r));
	g3c__control__proxyd_escaper_publish_rep__init(r);
	r->peers = s ? (uint32_t)s->n : 0;
	float_set_unref(s);
	log_info("escaper %s: %u peer(s) published", e->name, r->peers);
	rep->body_case = G3C__CONTROL__REPLY__BODY_PROXYD_ESCAPER_PUBLISH;
	rep->proxyd_escaper_publish = r;
	return RPC_OK;
}

static enum rpc_code ctl_show(struct proxyd_runtime *rt,
			      const G3c__Control__ProxydEscaperShowReq *q, G3c__Control__Reply *rep,
			      struct rpc_arena *a)
{
	enum rpc_code code = RPC_OK;
	const struct escaper_conf *e = float_escaper(rt, q->escaper, a, &code);
	G3c__Control__ProxydEscaperShowRep *r;
	char *json;

	if (e == NULL)
		return code;
	json = e->type == ESCAPER_DIRECT_FLOAT ? float_bind_show(e->name) : float_pub_show(e->name);
	if (json == NULL) {
		rpc_arena_set_error(a, "out of memory");
		return RPC_INTERNAL;
	}
	r = rpc_arena_alloc(a, sizeof(*r));
	g3c__control__proxyd_escaper_show_rep__init(r);
	r->data = rpc_arena_strdup(a, json);
	free(json);
	rep->body_case = G3C__CONTROL__REPLY__BODY_PROXYD_ESCAPER_SHOW;
	rep->proxyd_escaper_show = r;
	return RPC_OK;
}

enum rpc_code proxyd_ctl_handle(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *rep_,
				struct rpc_arena *a)
{
	const G3c__Control__Request *req = (const G3c__Control__Request *)req_;
	G3c__Control__Reply *rep = (G3c__Control__Reply *)rep_;
	struct proxyd_runtime *rt = daemon_user(ctx);

	if (rt == NULL) {
		rpc_arena_set_error(a, "proxyd is not serving yet");
		return RPC_UNAVAILABLE;
	}
	switch (req->body_case) {
	case G3C__CONTROL__REQUEST__BODY_PROXYD_LIST:
		return ctl_list(proxyd_runtime_conf(rt), req->proxyd_list, rep, a);
	case G3C__CONTROL__REQUEST__BODY_PROXYD_SERVER_STATUS:
		return ctl_server_status(rt, req->proxyd_server_status, rep, a);
	case G3C__CONTROL__REQUEST__BODY_PROXYD_RESOLVER_QUERY:
		return proxyd_ctl_resolve(rt, daemon_loop(ctx), req->proxyd_resolver_query, rep, a);
	case G3C__CONTROL__REQUEST__BODY_PROXYD_USER_GROUP_USERS:
	case G3C__CONTROL__REQUEST__BODY_PROXYD_USER_GROUP_PUBLISH:
	case G3C__CONTROL__REQUEST__BODY_PROXYD_USER_GROUP_STATUS:
		return proxyd_ctl_user_group(rt, req, rep, a);
	case G3C__CONTROL__REQUEST__BODY_PROXYD_ESCAPER_PUBLISH:
		return ctl_publish(rt, req->proxyd_escaper_publish, rep, a);
	case G3C__CONTROL__REQUEST__BODY_PROXYD_ESCAPER_SHOW:
		return ctl_show(rt, req->proxyd_escaper_show, rep, a);
	default:
		rpc_arena_set_error(a, "proxyd does not answer this request");
		return RPC_UNIMPLEMENTED;
	}
}
