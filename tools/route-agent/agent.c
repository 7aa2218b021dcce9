/* route-agent's table and handler (see agent.h). */
#include "tools/route-agent/agent.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/routeq.pb-c.h"

const struct rpc_service route_agent_service = {
	.name = "g3c.routeq",
	.req = &g3c__routeq__request__descriptor,
	.rep = &g3c__routeq__reply__descriptor,
};

static char *lower_dup(struct conf_ctx *ctx, const char *s, size_t n)
{
	char *d = conf_strndup(ctx, s, n);

	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

static int node_parse(struct conf_ctx *ctx, const struct conf_node *n, struct agent_node *out)
{
	uint64_t w = 1;

	out->weight = 1;
	if (n->kind == CONF_SCALAR && !conf_is_null(n)) {
		out->name = n->str;
		return 0;
	}
	if (n->kind != CONF_MAP)
		return conf_error(ctx, n, "a node is a name or {name, weight}");
	for (const struct conf_node *k = n->child; k != NULL; k = k->next) {
		if (conf_key_is(k, "name")) {
			if (conf_get_str(ctx, k->value, &out->name) < 0)
				return -EINVAL;
		} else if (conf_key_is(k, "weight")) {
			if (conf_get_u64(ctx, k->value, 0, UINT32_MAX, &w) < 0)
				return -EINVAL;
			out->weight = (uint32_t)w;
		} else {
			return conf_error(ctx, k, "unknown key '%s' (name, weight)", k->str);
		}
	}
	if (out->name == NULL)
		return conf_error(ctx, n, "a node needs a name");
	return 0;
}

static int route_parse(struct conf_ctx *ctx, const struct conf_node *k, struct agent_route *r)
{
	const struct conf_node *v = k->value;
	size_t i = 0;
	int rc = 0;

	r->key = lower_dup(ctx, k->str, k->len);
	if (conf_is_null(v))
		return 0;
	if (v->kind != CONF_SEQ) {
		r->nodes = conf_alloc(ctx, sizeof(*r->nodes));
		r->n = 1;
		return node_parse(ctx, v, &r->nodes[0]);
	}
	r->nodes = conf_alloc(ctx, (v->nchild ? v->nchild : 1) * sizeof(*r->nodes));
	for (const struct conf_node *it = v->child; it != NULL; it = it->next, i++)
		if (node_parse(ctx, it, &r->nodes[i]) < 0)
			rc = -EINVAL;
	r->n = i;
	return rc;
}

int agent_load(struct conf_ctx *ctx, const struct conf_node *root, struct agent *a)
{
	const struct conf_node *routes = NULL;
	uint64_t ttl = 60;
	int rc = 0;

	memset(a, 0, sizeof(*a));
	a->magic = ROUTE_AGENT_MAGIC;
	if (root == NULL || root->kind != CONF_MAP)
		return conf_error(ctx, root, "expected a map");
	for (const struct conf_node *k = root->child; k != NULL; k = k->next) {
		if (conf_key_is(k, "listen")) {
			if (conf_get_str(ctx, k->value, &a->listen) < 0)
				rc = -EINVAL;
		} else if (conf_key_is(k, "ttl")) {
			if (conf_get_u64(ctx, k->value, 0, 86400, &ttl) < 0)
				rc = -EINVAL;
		} else if (conf_key_is(k, "routes")) {
			routes = k->value;
		} else {
			rc = conf_error(ctx, k, "unknown key '%s' (listen, ttl, routes)", k->str);
		}
	}
	a->ttl = (uint32_t)ttl;
	if (a->listen == NULL)
		rc = conf_error(ctx, root, "missing required key 'listen'");
	if (routes != NULL && !conf_is_null(routes)) {
		if (routes->kind != CONF_MAP)
			return conf_error(ctx, routes, "routes: expected a map of host → nodes");
		a->routes =
			conf_alloc(ctx, (routes->nchild ? routes->nchild : 1) * sizeof(*a->routes));
		for (const struct conf_node *k = routes->child; k != NULL; k = k->next)
			if (route_parse(ctx, k, &a->routes[a->n_routes++]) < 0)
				rc = -EINVAL;
	}
	return rc < 0 ? -EINVAL : 0;
}

static const struct agent_route *find(const struct agent *a, const char *key)
{
	for (size_t i = 0; i < a->n_routes; i++)
		if (strcmp(a->routes[i].key, key) == 0)
			return &a->routes[i];
	return NULL;
}

const struct agent_route *agent_lookup(const struct agent *a, const char *host)
{
	char h[300];
	size_t n = strlen(host);
	const struct agent_route *r;

	if (n == 0 || n > 253)
		return find(a, "*");
	h[0] = '*';
	h[1] = '.';
	for (size_t i = 0; i < n; i++)
		h[2 + i] = (char)tolower((unsigned char)host[i]);
	h[2 + n] = '\0';
	r = find(a, h + 2);
	if (r != NULL)
		return r;
	/* "*.<host>", then "*.<parent>" for each parent */
	for (char *p = h + 2; p != NULL;) {
		p[-2] = '*';
		p[-1] = '.';
		r = find(a, p - 2);
		if (r != NULL)
			return r;
		p = strchr(p, '.');
		if (p != NULL)
			p++;
	}
	return find(a, "*");
}

enum rpc_code agent_handle(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *rep_,
			   struct rpc_arena *ar)
{
	struct agent *a = ctx;
	const G3c__Routeq__Request *req = (const G3c__Routeq__Request *)req_;
	G3c__Routeq__Reply *rep = (G3c__Routeq__Reply *)rep_;
	G3c__Routeq__QueryRsp *qr;
	const struct agent_route *r;

	CHECK_OBJ(a, ROUTE_AGENT_MAGIC);
	if (req->body_case != G3C__ROUTEQ__REQUEST__BODY_QUERY) {
		rpc_arena_set_error(ar, "expected a query");
		return RPC_INVALID_ARGUMENT;
	}
	a->queries++;
	qr = rpc_arena_alloc(ar, sizeof(*qr));
	g3c__routeq__query_rsp__init(qr);
	r = agent_lookup(a, req->query->host ? req->query->host : "");
	if (r != NULL && r->n > 0) {
		qr->nodes = rpc_arena_alloc(ar, r->n * sizeof(G3c__Routeq__Node *));
		for (size_t i = 0; i < r->n; i++) {
			G3c__Routeq__Node *nd = rpc_arena_alloc(ar, sizeof(*nd));
			g3c__routeq__node__init(nd);
			nd->name = (char *)r->nodes[i].name;
			nd->weight = r->nodes[i].weight;
			qr->nodes[i] = nd;
		}
		qr->n_nodes = r->n;
	}
	qr->ttl = a->ttl;
	rep->body_case = G3C__ROUTEQ__REPLY__BODY_QUERY;
	rep->query = qr;
	return RPC_OK;
}
