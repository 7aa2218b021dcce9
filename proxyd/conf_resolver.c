/* Resolver objects (g3proxy §1.4): c_ares (aliases c-ares, cares) with the
 * common cache keys, fail_over (failover: primary, standby, fallback_delay,
 * retry_empty_record) and deny_all (denyall). hickory is recognised and
 * reported as not supported yet. */
#include "proxyd/conf_int.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#define RO(f) offsetof(struct resolver_conf, f)

static void resolver_defaults(void *obj)
{
	struct resolver_conf *r = obj;

	r->graceful_stop_wait_ms = 30000;
	r->protective_query_timeout_ms = 60000;
	r->positive_min_ttl = 30;
	r->positive_max_ttl = 3600;
	r->negative_min_ttl = 30;
	r->each_timeout_ms = 2000;
	r->each_tries = 3;
	r->fallback_delay_ms = 100;
}

/* One nameserver: "ip[:port]" or "[v6]:port", port 53 by default. */
static int server_one(struct conf_ctx *ctx, const struct conf_node *at, const char *s, size_t len,
		      struct conf_hostport *out)
{
	struct conf_node tmp = *at;

	tmp.str = conf_strndup(ctx, s, len);
	tmp.len = len;
	if (conf_get_hostport(ctx, &tmp, 53, out) < 0)
		return -EINVAL;
	if (!out->is_ip)
		return conf_error(ctx, at, "nameserver '%s' is not an IP address", tmp.str);
	return 0;
}

struct servers_acc {
	struct conf_hostport *v;
	size_t n, cap;
};

static int server_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct servers_acc *a = arg;
	const char *s;

	(void)idx;
	if (pv_expect_scalar(ctx, it) < 0)
		return -EINVAL;
	/* a string may hold several addresses separated by whitespace */
	s = it->str;
	for (;;) {
		while (*s && isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		size_t len = 0;
		while (s[len] && !isspace((unsigned char)s[len]))
			len++;
		if (a->n == a->cap) {
			struct conf_hostport *nv;
			a->cap = a->cap ? 2 * a->cap : 4;
			nv = conf_alloc(ctx, a->cap * sizeof(*nv));
			if (a->n)
				memcpy(nv, a->v, a->n * sizeof(*nv));
			a->v = nv;
		}
		if (server_one(ctx, it, s, len, &a->v[a->n]) < 0)
			return -EINVAL;
		a->n++;
		s += len;
	}
	return 0;
}

static int servers_parse(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct resolver_conf *r = container_of(dst, struct resolver_conf, servers);
	struct servers_acc a = {NULL, 0, 0};

	if (pv_foreach_item(ctx, n, server_item, &a) < 0)
		return -EINVAL;
	if (a.n == 0)
		return conf_error(ctx, n,
				  "empty nameserver list (omit 'server' to use /etc/resolv.conf)");
	r->servers = a.v;
	r->n_servers = a.n;
	return 0;
}

static int resolver_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct resolver_conf *r = obj;

	if (r->positive_max_ttl < r->positive_min_ttl)
		return conf_error(ctx, map, "positive_max_ttl (%u) is below positive_min_ttl (%u)",
				  r->positive_max_ttl, r->positive_min_ttl);
	return 0;
}

#define RESOLVER_NAME_ROW                                                                       \
	{                                                                                       \
		.key = "name", .type = CONF_T_CUSTOM, .off = RO(name), .parse = pv_metric_name, \
		.flags = CONF_F_REQUIRED                                                        \
	}

static const struct conf_field c_ares_fields[] = {
	RESOLVER_NAME_ROW,
	{.key = "graceful_stop_wait", .type = CONF_T_DURATION, .off = RO(graceful_stop_wait_ms)},
	{.key = "protective_query_timeout",
	 .type = CONF_T_DURATION,
	 .off = RO(protective_query_timeout_ms),
	 .min = 1},
	{.key = "positive_min_ttl",
	 .type = CONF_T_U32,
	 .off = RO(positive_min_ttl),
	 .max = UINT32_MAX},
	{.key = "positive_max_ttl",
	 .type = CONF_T_U32,
	 .off = RO(positive_max_ttl),
	 .max = UINT32_MAX},
	{.key = "negative_min_ttl",
	 .type = CONF_T_U32,
	 .off = RO(negative_min_ttl),
	 .max = UINT32_MAX},
	{.key = "negative_ttl", .type = CONF_T_U32, .off = RO(negative_min_ttl), .max = UINT32_MAX},
	{.key = "server", .type = CONF_T_CUSTOM, .off = RO(servers), .parse = servers_parse},
	{.key = "each_timeout",
	 .type = CONF_T_U32,
	 .off = RO(each_timeout_ms),
	 .min = 1,
	 .max = UINT32_MAX},
	{.key = "each_tries", .type = CONF_T_U32, .off = RO(each_tries), .min = 1, .max = 64},
	{.key = "max_timeout", .type = CONF_T_U32, .off = RO(max_timeout_ms), .max = UINT32_MAX},
	/* g3 spells it "quires"; accept the corrected spelling too */
	{.key = "udp_max_quires",
	 .type = CONF_T_U32,
	 .off = RO(udp_max_queries),
	 .max = UINT32_MAX},
	{.key = "udp_max_queries",
	 .type = CONF_T_U32,
	 .off = RO(udp_max_queries),
	 .max = UINT32_MAX},
	{.key = "round_robin", .type = CONF_T_BOOL, .off = RO(round_robin)},
	{.key = "socket_send_buffer_size",
	 .type = CONF_T_U32,
	 .off = RO(socket_send_buffer_size),
	 .max = UINT32_MAX},
	{.key = "socket_recv_buffer_size",
	 .type = CONF_T_U32,
	 .off = RO(socket_recv_buffer_size),
	 .max = UINT32_MAX},
	{.key = "bind_ipv4",
	 .type = CONF_T_CUSTOM,
	 .off = RO(bind_ipv4),
	 .parse = pv_ipv4_addr,
	 .flags = CONF_F_SEEN,
	 .seen_off = RO(has_bind_ipv4)},
	{.key = "bind_ipv6",
	 .type = CONF_T_CUSTOM,
	 .off = RO(bind_ipv6),
	 .parse = pv_ipv6_addr,
	 .flags = CONF_F_SEEN,
	 .seen_off = RO(has_bind_ipv6)},
	{0},
};

static const struct conf_field deny_all_fields[] = {
	RESOLVER_NAME_ROW,
	{0},
};

static const struct conf_field fail_over_fields[] = {
	RESOLVER_NAME_ROW,
	{.key = "primary",
	 .type = CONF_T_CUSTOM,
	 .off = RO(primary_name),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	{.key = "standby",
	 .type = CONF_T_CUSTOM,
	 .off = RO(standby_name),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	{.key = "fallback_delay", .type = CONF_T_DURATION, .off = RO(fallback_delay_ms)},
	{.key = "retry_empty_record", .type = CONF_T_BOOL, .off = RO(retry_empty_record)},
	{.key = "graceful_stop_wait", .type = CONF_T_DURATION, .off = RO(graceful_stop_wait_ms)},
	{.key = "protective_query_timeout",
	 .type = CONF_T_DURATION,
	 .off = RO(protective_query_timeout_ms),
	 .min = 1},
	{.key = "negative_min_ttl",
	 .type = CONF_T_U32,
	 .off = RO(negative_min_ttl),
	 .max = UINT32_MAX},
	{.key = "negative_ttl", .type = CONF_T_U32, .off = RO(negative_min_ttl), .max = UINT32_MAX},
	{0},
};

static int fail_over_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct resolver_conf *r = obj;

	if (r->primary_name != NULL && r->standby_name != NULL &&
	    strcmp(r->primary_name, r->standby_name) == 0)
		return conf_error(ctx, map, "primary and standby are the same resolver '%s'",
				  r->primary_name);
	return 0;
}

static const struct conf_schema fail_over_schema = {
	.name = "fail_over resolver",
	.size = sizeof(struct resolver_conf),
	.fields = fail_over_fields,
	.defaults = resolver_defaults,
	.check = fail_over_check,
};

static const struct conf_schema c_ares_schema = {
	.name = "c_ares resolver",
	.size = sizeof(struct resolver_conf),
	.fields = c_ares_fields,
	.defaults = resolver_defaults,
	.check = resolver_check,
};

static const struct conf_schema deny_all_schema = {
	.name = "deny_all resolver",
	.size = sizeof(struct resolver_conf),
	.fields = deny_all_fields,
	.defaults = resolver_defaults,
};

static const char *const c_ares_aliases[] = {"c_ares", "cares", NULL};
static const char *const deny_all_aliases[] = {"denyall", NULL};
static const char *const fail_over_aliases[] = {"failover", NULL};

static const struct conf_objtype resolver_types[] = {
	{.name = "c_ares",
	 .aliases = c_ares_aliases,
	 .schema = &c_ares_schema,
	 .tag = RESOLVER_C_ARES},
	{.name = "deny_all",
	 .aliases = deny_all_aliases,
	 .schema = &deny_all_schema,
	 .tag = RESOLVER_DENY_ALL},
	{.name = "fail_over",
	 .aliases = fail_over_aliases,
	 .schema = &fail_over_schema,
	 .tag = RESOLVER_FAIL_OVER},
	{0},
};

static const char *const resolver_unsupported[] = {
	"hickory", "hickory_dns", "trust_dns", "trustdns", NULL,
};

int pconf_resolver_parse(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx, void *arg)
{
	void *p = NULL;
	int tag = 0;

	(void)idx;
	(void)arg;
	if (pv_expect_map(ctx, obj) < 0)
		return -EINVAL;
	if (pconf_type_unsupported(ctx, obj, "resolver", resolver_unsupported))
		return -EINVAL;
	if (conf_parse_typed(ctx, obj, "resolver", resolver_types, &p, &tag) < 0)
		return -EINVAL;
	struct resolver_conf *r = p;
	r->type = tag;
	r->node = conf_map_get(obj, "name");
	return pconf_register(ctx, PROXYD_KIND_RESOLVER, r, r->name, r->node);
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)(const void *)a)->sin_addr,
			      &((const struct sockaddr_in *)(const void *)b)->sin_addr,
			      sizeof(struct in_addr)) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
			      &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return true;
}

bool resolver_conf_same(const struct resolver_conf *a, const struct resolver_conf *b)
{
	if (!str_same(a->name, b->name) || a->type != b->type || a->internal != b->internal ||
	    a->graceful_stop_wait_ms != b->graceful_stop_wait_ms ||
	    a->protective_query_timeout_ms != b->protective_query_timeout_ms ||
	    a->positive_min_ttl != b->positive_min_ttl ||
	    a->positive_max_ttl != b->positive_max_ttl ||
	    a->negative_min_ttl != b->negative_min_ttl || a->n_servers != b->n_servers ||
	    a->each_timeout_ms != b->each_timeout_ms || a->each_tries != b->each_tries ||
	    a->max_timeout_ms != b->max_timeout_ms || a->udp_max_queries != b->udp_max_queries ||
	    a->round_robin != b->round_robin ||
	    a->socket_send_buffer_size != b->socket_send_buffer_size ||
	    a->socket_recv_buffer_size != b->socket_recv_buffer_size ||
	    a->has_bind_ipv4 != b->has_bind_ipv4 || a->has_bind_ipv6 != b->has_bind_ipv6 ||
	    !str_same(a->primary_name, b->primary_name) ||
	    !str_same(a->standby_name, b->standby_name) ||
	    a->fallback_delay_ms != b->fallback_delay_ms ||
	    a->retry_empty_record != b->retry_empty_record)
		return false;
	if ((a->has_bind_ipv4 && !addr_same(&a->bind_ipv4, &b->bind_ipv4)) ||
	    (a->has_bind_ipv6 && !addr_same(&a->bind_ipv6, &b->bind_ipv6)))
		return false;
	for (size_t i = 0; i < a->n_servers; i++) {
		const struct conf_hostport *x = &a->servers[i], *y = &b->servers[i];

		if (x->port != y->port || x->is_ip != y->is_ip || !str_same(x->host, y->host))
			return false;
	}
	return true;
}
