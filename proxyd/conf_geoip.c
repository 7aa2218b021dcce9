/* The route_geoip escaper (g3proxy §1.3): resolver, resolve_strategy,
 * ip_locate_service (iplocd's RPC socket and the client cache options),
 * geo_rules and default_next. The next escapers are resolved with the other
 * references after loading (conf.c). */
#include "proxyd/conf_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/daemon.h"

#define GO(f) offsetof(struct route_geoip_conf, f)
#define RO(f) offsetof(struct geo_rule, f)

void pconf_geoip_defaults(struct route_geoip_conf *g)
{
	/* the same values as iploc_client_conf_defaults() */
	g->url = "ipc://" DAEMON_DEFAULT_CONTROL_DIR "/iplocd.rpc";
	g->query_wait_timeout_ms = 1000;
	g->default_expire_ttl = 10;
	g->maximum_expire_ttl = 300;
	g->cache_size = 65536;
	g->batch = 10;
	g->down_backoff_ms = 1000;
}

/* ---- ip_locate_service ---------------------------------------------------- */

static const char *path_url(struct conf_ctx *ctx, const char *path)
{
	const char *abs = conf_resolve_path(ctx, path);
	size_t n = strlen(abs) + sizeof("ipc://");
	char *u = conf_alloc(ctx, n);

	snprintf(u, n, "ipc://%s", abs);
	return u;
}

/* An ipc:// or tcp:// URL, or a path of a unix socket (ipc). g3's
 * `host:port` UDP peer has no meaning here: iplocd speaks the g3c RPC. */
static int pv_iploc_addr(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
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
				  "'%s' looks like g3iploc's UDP peer; iplocd speaks the g3c RPC: "
				  "give its rpc.listen (a path, an ipc:// or a tcp:// URL)",
				  s);
	*out = path_url(ctx, s);
	return 0;
}

static int pv_iploc_path(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	const char **out = dst;

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	*out = path_url(ctx, n->str);
	return 0;
}

static int iploc_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct route_geoip_conf *g = obj;

	if (g->default_expire_ttl > g->maximum_expire_ttl)
		return conf_error(ctx, map,
				  "default_expire_ttl (%u) exceeds maximum_expire_ttl (%u)",
				  g->default_expire_ttl, g->maximum_expire_ttl);
	return 0;
}

static const struct conf_field iploc_fields[] = {
	{.key = "query_peer_addr", .type = CONF_T_CUSTOM, .off = GO(url), .parse = pv_iploc_addr},
	{.key = "addr", .type = CONF_T_CUSTOM, .off = GO(url), .parse = pv_iploc_addr},
	{.key = "path", .type = CONF_T_CUSTOM, .off = GO(url), .parse = pv_iploc_path},
	{.key = "query_wait_timeout",
	 .type = CONF_T_DURATION,
	 .off = GO(query_wait_timeout_ms),
	 .min = 1,
	 .max = 60000},
	{.key = "default_expire_ttl", .type = CONF_T_U32, .off = GO(default_expire_ttl), .min = 1},
	{.key = "maximum_expire_ttl", .type = CONF_T_U32, .off = GO(maximum_expire_ttl), .min = 1},
	{.key = "cache_size", .type = CONF_T_U32, .off = GO(cache_size), .min = 1},
	{.key = "cache_request_batch_count",
	 .type = CONF_T_U32,
	 .off = GO(batch),
	 .min = 1,
	 .max = 1024},
	{.key = "batch", .type = CONF_T_U32, .off = GO(batch), .min = 1, .max = 1024},
	{.key = "down_backoff",
	 .type = CONF_T_DURATION,
	 .off = GO(down_backoff_ms),
	 .max = 3600000},
	{0},
};

static const struct conf_schema iploc_schema = {
	.name = "ip_locate_service",
	.size = sizeof(struct route_geoip_conf),
	.fields = iploc_fields,
	.check = iploc_check,
};

/* A map of the options above, or just the address. */
static int pv_ip_locate_service(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct route_geoip_conf *g = container_of(dst, struct route_geoip_conf, url);

	if (n->kind == CONF_SCALAR && !conf_is_null(n))
		return pv_iploc_addr(ctx, n, &g->url);
	if (n->kind != CONF_MAP)
		return conf_error(ctx, n, "expected a map or an address, got %s", pv_kind_name(n));
	return conf_parse_map(ctx, n, &iploc_schema, NULL, g);
}

/* ---- geo_rules -------------------------------------------------------------- */

static int asn_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct geo_rule *r = arg;
	uint64_t v;

	if (conf_get_u64(ctx, it, 1, UINT32_MAX, &v) < 0)
		return -EINVAL;
	r->as_numbers[idx] = (uint32_t)v;
	return 0;
}

static int pv_as_numbers(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct geo_rule *r = container_of(dst, struct geo_rule, as_numbers);

	r->n_as_numbers = pv_list_len(n);
	r->as_numbers = conf_alloc(ctx, (r->n_as_numbers ? r->n_as_numbers : 1) * sizeof(uint32_t));
	return pv_foreach_item(ctx, n, asn_item, r);
}

/* Two ASCII letters, stored upper case; continents must be one of g3's. */
static int code_list(struct conf_ctx *ctx, const struct conf_node *n, struct str_list *l,
		     bool continent)
{
	static const char *const conts[] = {"AF", "AN", "AS", "EU", "NA", "OC", "SA", NULL};
	int rc = 0;

	if (pv_str_list(ctx, n, l) < 0)
		return -EINVAL;
	for (size_t i = 0; i < l->n; i++) {
		const char *s = l->v[i];
		char *u;
		bool ok = false;

		if (strlen(s) != 2 || !isalpha((unsigned char)s[0]) ||
		    !isalpha((unsigned char)s[1])) {
			rc = conf_error(ctx, n, "'%s' is not a two-letter %s code", s,
					continent ? "continent" : "ISO 3166 country");
			continue;
		}
		u = conf_strndup(ctx, s, 2);
		u[0] = (char)toupper((unsigned char)u[0]);
		u[1] = (char)toupper((unsigned char)u[1]);
		for (unsigned k = 0; continent && conts[k]; k++)
			ok |= strcmp(conts[k], u) == 0;
		if (continent && !ok) {
			rc = conf_error(ctx, n,
					"unknown continent code '%s' (AF AN AS EU NA OC SA)", s);
			continue;
		}
		l->v[i] = u;
	}
	return rc < 0 ? -EINVAL : 0;
}

static int pv_countries(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return code_list(ctx, n, dst, false);
}

static int pv_continents(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return code_list(ctx, n, dst, true);
}

static int rule_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct geo_rule *r = obj;

	if (r->networks.n + r->n_as_numbers + r->countries.n + r->continents.n == 0)
		return conf_error(ctx, map,
				  "a geo rule needs networks, as_numbers, countries or continents");
	return 0;
}

static const struct conf_field rule_fields[] = {
	{.key = "next",
	 .type = CONF_T_CUSTOM,
	 .off = RO(next_name),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	{.key = "networks", .type = CONF_T_CUSTOM, .off = RO(networks), .parse = pv_net_list},
	{.key = "network", .type = CONF_T_CUSTOM, .off = RO(networks), .parse = pv_net_list},
	{.key = "as_numbers", .type = CONF_T_CUSTOM, .off = RO(as_numbers), .parse = pv_as_numbers},
	{.key = "as_number", .type = CONF_T_CUSTOM, .off = RO(as_numbers), .parse = pv_as_numbers},
	{.key = "asn", .type = CONF_T_CUSTOM, .off = RO(as_numbers), .parse = pv_as_numbers},
	{.key = "countries", .type = CONF_T_CUSTOM, .off = RO(countries), .parse = pv_countries},
	{.key = "country", .type = CONF_T_CUSTOM, .off = RO(countries), .parse = pv_countries},
	{.key = "continents", .type = CONF_T_CUSTOM, .off = RO(continents), .parse = pv_continents},
	{.key = "continent", .type = CONF_T_CUSTOM, .off = RO(continents), .parse = pv_continents},
	{0},
};

static const struct conf_schema rule_schema = {
	.name = "geo rule",
	.size = sizeof(struct geo_rule),
	.fields = rule_fields,
	.check = rule_check,
};

static int rule_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct route_geoip_conf *g = arg;

	if (pv_expect_map(ctx, it) < 0)
		return -EINVAL;
	return conf_parse_map(ctx, it, &rule_schema, NULL, &g->rules[idx]);
}

static int pv_geo_rules(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct route_geoip_conf *g = container_of(dst, struct route_geoip_conf, rules);

	g->n_rules = pv_list_len(n);
	g->rules = conf_alloc(ctx, (g->n_rules ? g->n_rules : 1) * sizeof(*g->rules));
	if (g->n_rules == 0)
		return 0;
	return pv_foreach_item(ctx, n, rule_item, g);
}

/* ---- the escaper ---------------------------------------------------------- */

static bool same_net(const struct conf_net *a, const struct conf_net *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

/* A network, ASN, country or continent routed by two rules is an error
 * (which one would win is not obvious). */
static int dup_check(struct conf_ctx *ctx, const struct conf_node *map,
		     const struct route_geoip_conf *g)
{
	int rc = 0;

	for (size_t i = 0; i < g->n_rules; i++) {
		const struct geo_rule *r = &g->rules[i];
		for (size_t j = 0; j < i; j++) {
			const struct geo_rule *p = &g->rules[j];
			for (size_t a = 0; a < r->networks.n; a++)
				for (size_t b = 0; b < p->networks.n; b++)
					if (same_net(&r->networks.v[a], &p->networks.v[b]))
						rc = conf_error(ctx, map,
								"geo_rules[%zu]: a network is "
								"already routed by geo_rules[%zu]",
								i, j);
			for (size_t a = 0; a < r->n_as_numbers; a++)
				for (size_t b = 0; b < p->n_as_numbers; b++)
					if (r->as_numbers[a] == p->as_numbers[b])
						rc = conf_error(ctx, map,
								"geo_rules[%zu]: AS number %u is "
								"already routed by geo_rules[%zu]",
								i, r->as_numbers[a], j);
			for (size_t a = 0; a < r->countries.n; a++)
				for (size_t b = 0; b < p->countries.n; b++)
					if (strcmp(r->countries.v[a], p->countries.v[b]) == 0)
						rc = conf_error(ctx, map,
								"geo_rules[%zu]: country '%s' is "
								"already routed by geo_rules[%zu]",
								i, r->countries.v[a], j);
			for (size_t a = 0; a < r->continents.n; a++)
				for (size_t b = 0; b < p->continents.n; b++)
					if (strcmp(r->continents.v[a], p->continents.v[b]) == 0)
						rc = conf_error(ctx, map,
								"geo_rules[%zu]: continent '%s' is "
								"already routed by geo_rules[%zu]",
								i, r->continents.v[a], j);
		}
	}
	return rc;
}

static int geoip_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct escaper_conf *e = obj;

	return dup_check(ctx, map, &e->geoip) < 0 ? -EINVAL : 0;
}

static const struct conf_field route_geoip_fields[] = {
	ESCAPER_COMMON_ROWS,
	{.key = "resolver",
	 .type = CONF_T_CUSTOM,
	 .off = EO(resolver_name),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	{.key = "resolve_strategy",
	 .type = CONF_T_CUSTOM,
	 .off = EO(resolve_strategy),
	 .parse = pv_resolve_strategy},
	{.key = "ip_locate_service",
	 .type = CONF_T_CUSTOM,
	 .off = EO(geoip.url),
	 .parse = pv_ip_locate_service},
	{.key = "geo_rules", .type = CONF_T_CUSTOM, .off = EO(geoip.rules), .parse = pv_geo_rules},
	{.key = "default_next",
	 .type = CONF_T_CUSTOM,
	 .off = EO(geoip.default_next_name),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	{0},
};

static void route_geoip_defaults(void *obj)
{
	struct escaper_conf *e = obj;

	e->resolve_strategy.query = RESOLVE_IPV4_FIRST;
	e->resolve_strategy.pick = RESOLVE_PICK_RANDOM;
	pconf_geoip_defaults(&e->geoip);
}

const struct conf_schema pconf_route_geoip_schema = {
	.name = "route_geoip escaper",
	.size = sizeof(struct escaper_conf),
	.fields = route_geoip_fields,
	.defaults = route_geoip_defaults,
	.check = geoip_check,
};
