/* g3ctl user-group NAME list-users | publish-user FILE | status: the
 * control requests of the user group runtimes (main thread). */
#include "proxyd/ctl.h"

#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "proxyd/runtime.h"
#include "proxyd/user_int.h"

static struct user_group_rt *find_group(struct proxyd_runtime *rt, const char *name,
					struct rpc_arena *a)
{
	const struct user_group_conf *gc =
		name ? proxyd_conf_user_group(proxyd_runtime_conf(rt), name) : NULL;

	if (gc == NULL || gc->internal || gc->rt == NULL) {
		rpc_arena_set_error(a, "no user group of that name in the running config");
		return NULL;
	}
	return gc->rt;
}

static enum rpc_code list_users(struct user_group_rt *g, G3c__Control__Reply *rep,
				struct rpc_arena *a)
{
	struct user_table *t = user_group_current(g);
	size_t n = user_table_count(t);
	G3c__Control__ProxydUserGroupUsersRep *r = rpc_arena_alloc(a, sizeof(*r));

	g3c__control__proxyd_user_group_users_rep__init(r);
	r->users = rpc_arena_alloc(a, (n ? n : 1) * sizeof(G3c__Control__ProxydUser *));
	for (size_t i = 0; i < n; i++) {
		const struct user_conf *u = user_table_at(t, i);
		G3c__Control__ProxydUser *e = rpc_arena_alloc(a, sizeof(*e));
		g3c__control__proxyd_user__init(e);
		e->name = rpc_arena_strdup(a, u->name);
		e->dynamic = user_table_is_dynamic(t, i);
		e->blocked = u->has_block_and_delay;
		e->expire = u->has_expire ? u->expire_unix : 0;
		r->users[r->n_users++] = e;
	}
	user_table_unref(t);
	rep->body_case = G3C__CONTROL__REPLY__BODY_PROXYD_USER_GROUP_USERS;
	rep->proxyd_user_group_users = r;
	return RPC_OK;
}

static enum rpc_code publish(struct user_group_rt *g, const char *json, G3c__Control__Reply *rep,
			     struct rpc_arena *a)
{
	G3c__Control__ProxydUserGroupPublishRep *r;
	struct user_batch *b = NULL;
	char *errs = NULL;
	size_t n;

	if (user_batch_parse_list("publish-user", json ? json : "", json ? strlen(json) : 0, &b,
				  &errs) != 0) {
		rpc_arena_set_error(a, "%s", errs ? errs : "invalid users");
		free(errs);
		return RPC_INVALID_ARGUMENT;
	}
	n = b->n;
	log_notice("user group %s: %zu users published", g->name, n);
	user_group_publish(g, b);
	r = rpc_arena_alloc(a, sizeof(*r));
	g3c__control__proxyd_user_group_publish_rep__init(r);
	r->published = (uint32_t)n;
	rep->body_case = G3C__CONTROL__REPLY__BODY_PROXYD_USER_GROUP_PUBLISH;
	rep->proxyd_user_group_publish = r;
	return RPC_OK;
}

static enum rpc_code status(struct user_group_rt *g, G3c__Control__Reply *rep, struct rpc_arena *a)
{
	G3c__Control__ProxydUserGroupStatusRep *r = rpc_arena_alloc(a, sizeof(*r));
	struct user_table *t = user_group_current(g);
	uint64_t dyn = 0;

	g3c__control__proxyd_user_group_status_rep__init(r);
	r->name = rpc_arena_strdup(a, g->name);
	r->source = rpc_arena_strdup(a, g->source ? g->source->ops->type : "");
	r->users = user_table_count(t);
	for (size_t i = 0; i < r->users; i++)
		dyn += user_table_is_dynamic(t, i);
	user_table_unref(t);
	r->dynamic_users = dyn;
	r->source_loads = g->loads;
	r->source_errors = g->load_errors;
	r->skipped_users = g->skipped_users;
	rep->body_case = G3C__CONTROL__REPLY__BODY_PROXYD_USER_GROUP_STATUS;
	rep->proxyd_user_group_status = r;
	return RPC_OK;
}

enum rpc_code proxyd_ctl_user_group(struct proxyd_runtime *rt, const G3c__Control__Request *req,
				    G3c__Control__Reply *rep, struct rpc_arena *a)
{
	struct user_group_rt *g;

	switch (req->body_case) {
	case G3C__CONTROL__REQUEST__BODY_PROXYD_USER_GROUP_USERS:
		g = find_group(rt, req->proxyd_user_group_users->group, a);
		return g ? list_users(g, rep, a) : RPC_NOT_FOUND;
	case G3C__CONTROL__REQUEST__BODY_PROXYD_USER_GROUP_PUBLISH:
		g = find_group(rt, req->proxyd_user_group_publish->group, a);
		return g ? publish(g, req->proxyd_user_group_publish->json, rep, a) : RPC_NOT_FOUND;
	case G3C__CONTROL__REQUEST__BODY_PROXYD_USER_GROUP_STATUS:
		g = find_group(rt, req->proxyd_user_group_status->group, a);
		return g ? status(g, rep, a) : RPC_NOT_FOUND;
	default:
		rpc_arena_set_error(a, "not a user-group request");
		return RPC_INVALID_ARGUMENT;
	}
}
