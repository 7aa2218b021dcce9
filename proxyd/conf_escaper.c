/* Escaper objects (g3proxy §1.3): direct_fixed with the common escaper keys
 * of §1.3.1, and dummy_deny. The other g3proxy escaper types are recognised
 * and reported as not supported yet. */
#include "proxyd/conf_int.h"

#include <errno.h>
#include <string.h>

static void escaper_defaults(void *obj)
{
	struct escaper_conf *e = obj;

	tcp_connect_defaults(&e->tcp_connect);
	happy_eyeballs_defaults(&e->happy_eyeballs);
	tcp_keepalive_defaults(&e->tcp_keepalive);
	e->resolve_strategy.query = RESOLVE_IPV4_FIRST;
	e->resolve_strategy.pick = RESOLVE_PICK_RANDOM;
}

static int direct_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct escaper_conf *e = obj;

	if (e->no_ipv4 && e->no_ipv6)
		return conf_error(ctx, map, "no_ipv4 and no_ipv6 cannot both be set");
	if (e->resolve_strategy.set) {
		enum resolve_query q = e->resolve_strategy.query;
		if (e->no_ipv4 && q == RESOLVE_IPV4_ONLY)
			return conf_error(ctx, map,
					  "resolve_strategy Ipv4Only conflicts with no_ipv4");
		if (e->no_ipv6 && q == RESOLVE_IPV6_ONLY)
			return conf_error(ctx, map,
					  "resolve_strategy Ipv6Only conflicts with no_ipv6");
	}
	for (size_t i = 0; i < e->bind_ips.n; i++) {
		int fam = e->bind_ips.v[i].family;
		if ((fam == AF_INET && e->no_ipv4) || (fam == AF_INET6 && e->no_ipv6))
			return conf_error(ctx, map, "bind_ip has an address of a disabled family");
	}
	if (!e->egress_net_filter.set)
		acl_egress_default(ctx, &e->egress_net_filter);
	return 0;
}

/* Keys of direct_fixed that direct_float shares (g3: the same direct escaper). */
#define DIRECT_ROWS                                                          \
	{.key = "resolver",                                                  \
	 .type = CONF_T_CUSTOM,                                              \
	 .off = EO(resolver_name),                                           \
	 .parse = pv_metric_name,                                            \
	 .flags = CONF_F_REQUIRED},                                          \
		{.key = "resolve_strategy",                                  \
		 .type = CONF_T_CUSTOM,                                      \
		 .off = EO(resolve_strategy),                                \
		 .parse = pv_resolve_strategy},                              \
		{.key = "resolve_redirection",                               \
		 .type = CONF_T_CUSTOM,                                      \
		 .off = EO(resolve_redirection),                             \
		 .parse = pv_resolve_redirection},                           \
		{.key = "egress_network_filter",                             \
		 .type = CONF_T_CUSTOM,                                      \
		 .off = EO(egress_net_filter),                               \
		 .parse = pv_acl_egress},                                    \
		{.key = "egress_net_filter",                                 \
		 .type = CONF_T_CUSTOM,                                      \
		 .off = EO(egress_net_filter),                               \
		 .parse = pv_acl_egress},                                    \
		ESCAPER_TCP_ROWS,                                            \
		{.key = "happy_eyeballs",                                    \
		 .type = CONF_T_CUSTOM,                                      \
		 .off = EO(happy_eyeballs),                                  \
		 .parse = pv_happy_eyeballs},                                \
		{.key = "udp_misc_opts",                                     \
		 .type = CONF_T_CUSTOM,                                      \
		 .off = EO(udp_misc_opts),                                   \
		 .parse = pv_udp_misc_opts},                                 \
		{.key = "udp_sock_speed_limit",                              \
		 .type = CONF_T_CUSTOM,                                      \
		 .off = EO(udp_sock_speed_limit),                            \
		 .parse = pv_udp_speed_limit},                               \
		{.key = "udp_relay_speed_limit",                             \
		 .type = CONF_T_CUSTOM,                                      \
		 .off = EO(udp_sock_speed_limit),                            \
		 .parse = pv_udp_speed_limit},                               \
		{.key = "udp_relay_limit",                                   \
		 .type = CONF_T_CUSTOM,                                      \
		 .off = EO(udp_sock_speed_limit),                            \
		 .parse = pv_udp_speed_limit},                               \
		{.key = "no_ipv4", .type = CONF_T_BOOL, .off = EO(no_ipv4)}, \
		{.key = "no_ipv6", .type = CONF_T_BOOL, .off = EO(no_ipv6)}, \
		{.key = "enable_path_selection",                             \
		 .type = CONF_T_BOOL,                                        \
		 .off = EO(enable_path_selection)},                          \
		{.key = "use_proxy_protocol",                                \
		 .type = CONF_T_CUSTOM,                                      \
		 .off = EO(use_proxy_protocol),                              \
		 .parse = pv_proxy_protocol},

static const struct conf_field direct_fixed_fields[] = {
	ESCAPER_COMMON_ROWS,
	DIRECT_ROWS{
		.key = "bind_ip", .type = CONF_T_CUSTOM, .off = EO(bind_ips), .parse = pv_ip_list},
	{.key = "bind_interface", .type = CONF_T_STR, .off = EO(bind_interface)},
	{.key = "bind_foreign", .type = CONF_T_BOOL, .off = EO(bind_foreign)},
	{.key = "bind_foreign_port", .type = CONF_T_BOOL, .off = EO(bind_foreign_port)},
	{0},
};

static const struct conf_field direct_float_fields[] = {
	ESCAPER_COMMON_ROWS,
	DIRECT_ROWS{.key = "bind_interface", .type = CONF_T_STR, .off = EO(bind_interface)},
	{.key = "cache_ipv4", .type = CONF_T_PATH, .off = EO(cache_ipv4)},
	{.key = "cache_ipv6", .type = CONF_T_PATH, .off = EO(cache_ipv6)},
	{0},
};

static const struct conf_field dummy_deny_fields[] = {
	ESCAPER_COMMON_ROWS,
	{0},
};

static const struct conf_schema direct_fixed_schema = {
	.name = "direct_fixed escaper",
	.size = sizeof(struct escaper_conf),
	.fields = direct_fixed_fields,
	.defaults = escaper_defaults,
	.check = direct_check,
};

static const struct conf_schema direct_float_schema = {
	.name = "direct_float escaper",
	.size = sizeof(struct escaper_conf),
	.fields = direct_float_fields,
	.defaults = escaper_defaults,
	.check = direct_check,
};

static const struct conf_schema dummy_deny_schema = {
	.name = "dummy_deny escaper",
	.size = sizeof(struct escaper_conf),
	.fields = dummy_deny_fields,
	.defaults = escaper_defaults,
};

static const char *const direct_fixed_aliases[] = {"directfixed", NULL};
static const char *const dummy_deny_aliases[] = {"dummydeny", NULL};
static const char *const direct_float_aliases[] = {"directfloat", "direct_dynamic", "directdynamic",
						   NULL};
static const char *const trick_float_aliases[] = {"trickfloat", NULL};
static const char *const route_geoip_aliases[] = {"routegeoip", NULL};
static const char *const route_upstream_aliases[] = {"routeupstream", NULL};
static const char *const route_client_aliases[] = {"routeclient", NULL};
static const char *const route_resolved_aliases[] = {"routeresolved", NULL};
static const char *const route_mapping_aliases[] = {"routemapping", NULL};
static const char *const route_failover_aliases[] = {"routefailover", NULL};
static const char *const route_select_aliases[] = {"routeselect", NULL};
static const char *const route_query_aliases[] = {"routequery", NULL};
static const char *const proxy_http_aliases[] = {"proxyhttp", NULL};
static const char *const proxy_https_aliases[] = {"proxyhttps", NULL};
static const char *const proxy_socks5_aliases[] = {"proxysocks5", NULL};
static const char *const proxy_socks5s_aliases[] = {"proxysocks5s", NULL};
static const char *const proxy_float_aliases[] = {"proxyfloat", "proxy_dynamic", "proxydynamic",
						  NULL};

static const struct conf_objtype escaper_types[] = {
	{.name = "direct_fixed",
	 .aliases = direct_fixed_aliases,
	 .schema = &direct_fixed_schema,
	 .tag = ESCAPER_DIRECT_FIXED},
	{.name = "direct_float",
	 .aliases = direct_float_aliases,
	 .schema = &direct_float_schema,
	 .tag = ESCAPER_DIRECT_FLOAT},
	{.name = "trick_float",
	 .aliases = trick_float_aliases,
	 .schema = &pconf_trick_float_schema,
	 .tag = ESCAPER_TRICK_FLOAT},
	{.name = "dummy_deny",
	 .aliases = dummy_deny_aliases,
	 .schema = &dummy_deny_schema,
	 .tag = ESCAPER_DUMMY_DENY},
	{.name = "route_geoip",
	 .aliases = route_geoip_aliases,
	 .schema = &pconf_route_geoip_schema,
	 .tag = ESCAPER_ROUTE_GEOIP},
	{.name = "route_upstream",
	 .aliases = route_upstream_aliases,
	 .schema = &pconf_route_upstream_schema,
	 .tag = ESCAPER_ROUTE_UPSTREAM},
	{.name = "route_client",
	 .aliases = route_client_aliases,
	 .schema = &pconf_route_client_schema,
	 .tag = ESCAPER_ROUTE_CLIENT},
	{.name = "route_resolved",
	 .aliases = route_resolved_aliases,
	 .schema = &pconf_route_resolved_schema,
	 .tag = ESCAPER_ROUTE_RESOLVED},
	{.name = "route_mapping",
	 .aliases = route_mapping_aliases,
	 .schema = &pconf_route_mapping_schema,
	 .tag = ESCAPER_ROUTE_MAPPING},
	{.name = "route_failover",
	 .aliases = route_failover_aliases,
	 .schema = &pconf_route_failover_schema,
	 .tag = ESCAPER_ROUTE_FAILOVER},
	{.name = "route_select",
	 .aliases = route_select_aliases,
	 .schema = &pconf_route_select_schema,
	 .tag = ESCAPER_ROUTE_SELECT},
	{.name = "route_query",
	 .aliases = route_query_aliases,
	 .schema = &pconf_route_query_schema,
	 .tag = ESCAPER_ROUTE_QUERY},
	{.name = "proxy_http",
	 .aliases = proxy_http_aliases,
	 .schema = &pconf_proxy_http_schema,
	 .tag = ESCAPER_PROXY_HTTP},
	{.name = "proxy_https",
	 .aliases = proxy_https_aliases,
	 .schema = &pconf_proxy_https_schema,
	 .tag = ESCAPER_PROXY_HTTPS},
	{.name = "proxy_socks5",
	 .aliases = proxy_socks5_aliases,
	 .schema = &pconf_proxy_socks5_schema,
	 .tag = ESCAPER_PROXY_SOCKS5},
	{.name = "proxy_socks5s",
	 .aliases = proxy_socks5s_aliases,
	 .schema = &pconf_proxy_socks5s_schema,
	 .tag = ESCAPER_PROXY_SOCKS5S},
	{.name = "proxy_float",
	 .aliases = proxy_float_aliases,
	 .schema = &pconf_proxy_float_schema,
	 .tag = ESCAPER_PROXY_FLOAT},
	{0},
};

/* One type per line: implementing one is a one-line change. */
/* clang-format off */
static const char *const escaper_unsupported[] = {
	"divert_tcp",
	"comply_audit",
	NULL,
};
/* clang-format on */

int pconf_escaper_parse(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx, void *arg)
{
	void *p = NULL;
	int tag = 0;

	(void)idx;
	(void)arg;
	if (pv_expect_map(ctx, obj) < 0)
		return -EINVAL;
	if (pconf_type_unsupported(ctx, obj, "escaper", escaper_unsupported))
		return -EINVAL;
	if (conf_parse_typed(ctx, obj, "escaper", escaper_types, &p, &tag) < 0)
		return -EINVAL;
	struct escaper_conf *e = p;
	e->type = tag;
	e->node = conf_map_get(obj, "name");
	return pconf_register(ctx, PROXYD_KIND_ESCAPER, e, e->name, e->node);
}
