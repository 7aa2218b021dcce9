/* The route_query escaper (g3proxy §1.3): fallback_node,
 * query_allowed_next, the agent's address and the cache knobs. g3 asks its
 * agent over UDP + MessagePack (default 127.0.0.1:1053); g3c asks over
 * the RPC envelope (proto/routeq.proto) on a nanomsg socket, so
 * query_peer_addr is a path or an ipc:// / tcp:// URL and a bare
 * host:port is refused with a message saying so. */
#include "proxyd/conf_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/daemon.h"

static int pv_agent_addr(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	const char **out = dst;
	const char *s;

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	s = n->str;
	if (strncmp(s, "ipc://", 6) == 0 || strncmp(s, "tcp://", 6) == 0) {
		if (s[6] == '\0')
			return conf_error(ctx, n, "'%s' has no address after the scheme", s);
		*out = s;
		return 0;
	}
	if (strstr(s, "://") != NULL)
		return conf_error(ctx, n, "'%s': only ipc:// and tcp:// URLs are supported", s);
	if (strchr(s, '/') == NULL && strchr(s, ':') != NULL)
		return conf_error(ctx, n,
				  "'%s' looks like g3's UDP query peer; the route query agent "
				  "speaks the g3c RPC: give its socket (a path, an ipc:// or a "
				  "tcp:// URL)",
				  s);
	const char *abs = conf_resolve_path(ctx, s);
	size_t len = strlen(abs) + sizeof("ipc://");
	char *u = conf_alloc(ctx, len);
	snprintf(u, len, "ipc://%s", abs);
	*out = u;
	return 0;
}

static int query_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct escaper_conf *e = obj;

	if (e->route.n_next == 0)
		return conf_error(ctx, map, "missing required key 'query_allowed_next'");
	return pconf_route_unique_next(ctx, map, obj);
}

static void query_defaults(void *obj)
{
	struct route_conf *r = &((struct escaper_conf *)obj)->route;

	r->query_url = "ipc://" DAEMON_DEFAULT_CONTROL_DIR "/route-agent.rpc";
	r->cache_request_timeout_ms = 100;
	r->query_wait_timeout_ms = 10000;
	r->cache_vanish_wait_ms = 30000;
	r->protective_cache_ttl = 10;
	r->maximum_cache_ttl = 1800;
	r->cache_request_batch_count = 10;
	r->cache_pick_policy = PICK_RENDEZVOUS;
}

static const struct conf_field query_fields[] = {
	ESCAPER_COMMON_ROWS,
	{.key = "fallback_node",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.fallback_name),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	{.key = "query_allowed_next",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.next_names),
	 .parse = pconf_route_next_list},
	{.key = "query_pass_client_ip", .type = CONF_T_BOOL, .off = EO(route.query_pass_client_ip)},
	{.key = "query_peer_addr",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.query_url),
	 .parse = pv_agent_addr},
	{.key = "query_socket_buffer", .type = CONF_T_IGNORE},
	{.key = "query_wait_timeout",
	 .type = CONF_T_DURATION,
	 .off = EO(route.query_wait_timeout_ms),
	 .min = 1,
	 .max = 600000},
	{.key = "cache_request_timeout",
	 .type = CONF_T_DURATION,
	 .off = EO(route.cache_request_timeout_ms),
	 .min = 1,
	 .max = 600000},
	{.key = "cache_request_batch_count",
	 .type = CONF_T_U32,
	 .off = EO(route.cache_request_batch_count),
	 .min = 1},
	{.key = "cache_pick_policy",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.cache_pick_policy),
	 .parse = pv_pick_policy},
	{.key = "protective_cache_ttl",
	 .type = CONF_T_U32,
	 .off = EO(route.protective_cache_ttl),
	 .min = 1},
	{.key = "maximum_cache_ttl",
	 .type = CONF_T_U32,
	 .off = EO(route.maximum_cache_ttl),
	 .min = 1},
	{.key = "cache_vanish_wait",
	 .type = CONF_T_DURATION,
	 .off = EO(route.cache_vanish_wait_ms)},
	{.key = "vanish_after_expire",
	 .type = CONF_T_DURATION,
	 .off = EO(route.cache_vanish_wait_ms)},
	{0},
};

const struct conf_schema pconf_route_query_schema = {
	.name = "route_query escaper",
	.size = sizeof(struct escaper_conf),
	.fields = query_fields,
	.defaults = query_defaults,
	.check = query_check,
};
