/* The proxy chaining escapers (g3proxy §1.3): proxy_http, proxy_https,
 * proxy_socks5 and proxy_socks5s. proxy_addr is one upstream string or a
 * list of weighted ones ({addr, weight}); the pick set over them is built
 * here, in the config arena, so that workers pick without allocating. */
#include "proxyd/conf_int.h"

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd/dp/pick.h"

#define PO(f) offsetof(struct escaper_conf, proxy.f)

/* g3's default ports of proxy_addr */
#define PROXY_HTTP_PORT 3128
#define PROXY_SOCKS5_PORT 1080

/* proxy_addr fills proxy.peers and proxy.n_peers through this view (one
 * parser per default port). */
struct peer_list {
	struct proxy_peer *v;
	size_t n;
};
_Static_assert(offsetof(struct proxy_escaper_conf, n_peers) ==
		       offsetof(struct proxy_escaper_conf, peers) + offsetof(struct peer_list, n),
	       "proxy_addr writes peers and n_peers as a struct peer_list");

static int weight_value(struct conf_ctx *ctx, const struct conf_node *n, double *out)
{
	char *end = NULL;
	double w;

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	w = strtod(n->str, &end);
	if (n->len == 0 || end != n->str + n->len || !isfinite(w) || w < 0)
		return conf_error(ctx, n, "invalid weight '%s': a number >= 0", n->str);
	*out = w;
	return 0;
}

static int peer_parse(struct conf_ctx *ctx, const struct conf_node *n, uint16_t def_port,
		      struct proxy_peer *p)
{
	const struct conf_node *addr = n;
	struct conf_hostport hp;
	char id[300];

	p->weight = 1;
	if (n->kind == CONF_MAP) {
		addr = NULL;
		for (const struct conf_node *k = n->child; k != NULL; k = k->next) {
			if (conf_key_is(k, "addr")) {
				addr = k->value;
			} else if (conf_key_is(k, "weight")) {
				if (weight_value(ctx, k->value, &p->weight) < 0)
					return -EINVAL;
			} else {
				return conf_error(ctx, k, "unknown key '%s' in a weighted upstream",
						  k->str);
			}
		}
		if (addr == NULL)
			return conf_error(ctx, n, "weighted upstream without 'addr'");
	}
	if (pv_expect_scalar(ctx, addr) < 0)
		return -EINVAL;
	if (conf_get_hostport(ctx, addr, def_port, &hp) < 0)
		return -EINVAL;
	if (hp.port == 0)
		return conf_error(ctx, addr, "port 0 is not a proxy port");
	p->host = hp.host;
	p->port = hp.port;
	p->is_ip = hp.is_ip;
	p->addr = hp.addr;
	if (hp.is_ip && hp.addr.ss_family == AF_INET6)
		snprintf(id, sizeof(id), "[%s]:%u", hp.host, hp.port);
	else
		snprintf(id, sizeof(id), "%s:%u", hp.host, hp.port);
	p->id = conf_strndup(ctx, id, strlen(id));
	return 0;
}

static int peers_parse(struct conf_ctx *ctx, const struct conf_node *n, void *dst,
		       uint16_t def_port)
{
	struct peer_list *l = dst;
	size_t cnt = 0;
	int rc = 0;

	if (n->kind != CONF_SEQ) {
		l->v = conf_alloc(ctx, sizeof(*l->v));
		l->n = 1;
		return peer_parse(ctx, n, def_port, &l->v[0]);
	}
	if (n->nchild == 0)
		return conf_error(ctx, n, "proxy_addr is an empty list");
	if (n->nchild > PICK_MAX_NODES)
		return conf_error(ctx, n, "proxy_addr has %u entries (at most %u)", n->nchild,
				  PICK_MAX_NODES);
	l->v = conf_alloc(ctx, n->nchild * sizeof(*l->v));
	for (const struct conf_node *it = n->child; it != NULL; it = it->next) {
		size_t saved = conf_path_push_index(ctx, (unsigned)cnt);
		if (peer_parse(ctx, it, def_port, &l->v[cnt]) < 0)
			rc = -EINVAL;
		conf_path_pop(ctx, saved);
		cnt++;
	}
	l->n = cnt;
	return rc;
}

static int pv_proxy_addr_http(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return peers_parse(ctx, n, dst, PROXY_HTTP_PORT);
}

static int pv_proxy_addr_socks5(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return peers_parse(ctx, n, dst, PROXY_SOCKS5_PORT);
}

/* username / password: at most 255 bytes (RFC 1929), printable, no ':' in
 * a Basic username (RFC 7617 §2). */
static int cred_check(struct conf_ctx *ctx, const struct conf_node *n, bool user)
{
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (n->len > 255)
		return conf_error(ctx, n, "%s longer than 255 bytes",
				  user ? "username" : "password");
	for (size_t i = 0; i < n->len; i++) {
		unsigned char ch = (unsigned char)n->str[i];
		if (ch < 0x20 || ch == 0x7f)
			return conf_error(ctx, n, "%s has a control character",
					  user ? "username" : "password");
	}
	return 0;
}

static int pv_username(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (cred_check(ctx, n, true) < 0)
		return -EINVAL;
	if (n->len == 0)
		return conf_error(ctx, n, "empty username");
	*(const char **)dst = n->str;
	return 0;
}

static int pv_password(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (cred_check(ctx, n, false) < 0)
		return -EINVAL;
	*(const char **)dst = n->str;
	return 0;
}

/* bind_ipv4 / bind_ipv6: one address each, joined into bind_ips by the check */
static int pv_bind_v4(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct conf_net *v = dst;
	struct sockaddr_storage ss;

	if (pv_ipv4_addr(ctx, n, &ss) < 0)
		return -EINVAL;
	v->family = AF_INET;
	memcpy(v->addr, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
	v->prefix = 32;
	return 0;
}

static int pv_bind_v6(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct conf_net *v = dst;
	struct sockaddr_storage ss;

	if (pv_ipv6_addr(ctx, n, &ss) < 0)
		return -EINVAL;
	v->family = AF_INET6;
	memcpy(v->addr, &((const struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	v->prefix = 128;
	return 0;
}

static int pv_fwd_cap(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct http_forward_capability *cap = dst;
	int rc = 0;

	memset(cap, 0, sizeof(*cap));
	if (conf_is_null(n))
		return 0;
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	for (const struct conf_node *k = n->child; k != NULL; k = k->next) {
		bool v;
		if (conf_get_bool(ctx, k->value, &v) < 0) {
			rc = -EINVAL;
			continue;
		}
		if (conf_key_is(k, "forward_https")) {
			cap->forward_https = v;
		} else if (conf_key_is(k, "forward_ftp")) {
			cap->forward_ftp_get = cap->forward_ftp_put = cap->forward_ftp_del = v;
		} else if (conf_key_is(k, "forward_ftp_get")) {
			cap->forward_ftp_get = v;
		} else if (conf_key_is(k, "forward_ftp_put")) {
			cap->forward_ftp_put = v;
		} else if (conf_key_is(k, "forward_ftp_del")) {
			cap->forward_ftp_del = v;
		} else {
			rc = conf_error(ctx, k,
					"unknown http_forward_capability key '%s': use "
					"forward_https, forward_ftp, forward_ftp_get, "
					"forward_ftp_put, forward_ftp_del",
					k->str);
		}
	}
	return rc;
}

/* transmute_udp_peer_ip: bool or a map of peer IP → IP to use instead */
static int pv_transmute(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct proxy_escaper_conf *p =
		(struct proxy_escaper_conf *)((char *)dst - offsetof(struct proxy_escaper_conf,
								     transmute_udp_peer_ip));

	if (n->kind == CONF_MAP) {
		for (const struct conf_node *k = n->child; k != NULL; k = k->next) {
			struct sockaddr_storage a, b;
			socklen_t la, lb;
			if (!pv_parse_ip(k->str, &a, &la))
				return conf_error(ctx, k, "invalid IP address '%s'", k->str);
			if (pv_expect_scalar(ctx, k->value) < 0)
				return -EINVAL;
			if (!pv_parse_ip(k->value->str, &b, &lb))
				return conf_error(ctx, k->value, "invalid IP address '%s'",
						  k->value->str);
		}
		p->transmute_udp_peer_ip = true;
		p->transmute_udp_peer_ip_map = n;
		return 0;
	}
	return conf_get_bool(ctx, n, &p->transmute_udp_peer_ip);
}

static void *arena_alloc(void *arg, size_t n)
{
	return conf_alloc(arg, n);
}

static void proxy_defaults(void *obj)
{
	struct escaper_conf *e = obj;

	tcp_connect_defaults(&e->tcp_connect);
	happy_eyeballs_defaults(&e->happy_eyeballs);
	tcp_keepalive_defaults(&e->tcp_keepalive);
	tls_client_defaults(&e->proxy.tls_client);
	e->resolve_strategy.query = RESOLVE_IPV4_FIRST;
	e->resolve_strategy.pick = RESOLVE_PICK_RANDOM;
	e->proxy.pick_policy = PICK_RANDOM;
	e->proxy.connect_rsp_header_max_size = 4096;
	e->proxy.peer_negotiation_timeout_ms = 10000;
}

static void socks5_defaults(void *obj)
{
	struct escaper_conf *e = obj;

	proxy_defaults(obj);
	e->tcp_keepalive.enable = true; /* g3: 60s for proxy_socks5 */
}

static int proxy_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct escaper_conf *e = obj;
	struct proxy_escaper_conf *p = &e->proxy;
	struct pick_node *nodes;
	bool domain = false;
	int rc;

	if (p->n_peers == 0)
		return conf_error(ctx, map, "proxy_addr is required");
	if (p->username != NULL && p->password == NULL)
		return conf_error(ctx, map, "proxy_password is required with proxy_username");
	if (p->password != NULL && p->username == NULL)
		return conf_error(ctx, map, "proxy_password without proxy_username");
	if (p->pass_proxy_userid && p->username != NULL)
		return conf_error(ctx, map, "pass_proxy_userid conflicts with proxy_username");
	if (p->username != NULL && strchr(p->username, ':') != NULL &&
	    (e->type == ESCAPER_PROXY_HTTP || e->type == ESCAPER_PROXY_HTTPS))
		return conf_error(ctx, map, "a Basic auth username cannot contain ':'");
	if (e->no_ipv4 && e->no_ipv6)
		return conf_error(ctx, map, "no_ipv4 and no_ipv6 cannot both be set");
	for (size_t i = 0; i < p->n_peers; i++) {
		const struct proxy_peer *pr = &p->peers[i];
		if (!pr->is_ip) {
			domain = true;
			continue;
		}
		if ((pr->addr.ss_family == AF_INET && e->no_ipv4) ||
		    (pr->addr.ss_family == AF_INET6 && e->no_ipv6))
			return conf_error(ctx, map, "proxy_addr %s is of a disabled family",
					  pr->id);
	}
	if (domain && e->resolver_name == NULL)
		return conf_error(ctx, map, "resolver is required when proxy_addr has a domain");
	e->bind_ips.v = conf_alloc(ctx, 2 * sizeof(*e->bind_ips.v));
	e->bind_ips.n = 0;
	if (p->bind_v4.family != 0)
		e->bind_ips.v[e->bind_ips.n++] = p->bind_v4;
	if (p->bind_v6.family != 0)
		e->bind_ips.v[e->bind_ips.n++] = p->bind_v6;
	/* proxy escapers have no egress filter: the peers are configured */
	memset(&e->egress_net_filter, 0, sizeof(e->egress_net_filter));
	nodes = conf_alloc(ctx, p->n_peers * sizeof(*nodes));
	for (size_t i = 0; i < p->n_peers; i++) {
		nodes[i].id = p->peers[i].id;
		nodes[i].weight = p->peers[i].weight;
	}
	rc = pick_set_new_with((enum pick_policy)p->pick_policy, nodes, p->n_peers, arena_alloc,
			       ctx, &p->pick);
	if (rc < 0)
		return conf_error(ctx, conf_map_get(map, "proxy_addr"),
				  "proxy_addr needs at least one peer with a weight above 0");
	return 0;
}

static int proxy_http_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct escaper_conf *e = obj;

	e->type = ESCAPER_PROXY_HTTP;
	return proxy_check(ctx, map, obj);
}

static int proxy_https_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct escaper_conf *e = obj;

	e->type = ESCAPER_PROXY_HTTPS;
	e->proxy.tls = true;
	if (!e->proxy.tls_client.set) {
		tls_client_defaults(&e->proxy.tls_client);
		e->proxy.tls_client.set = true;
	}
	return proxy_check(ctx, map, obj);
}

static int proxy_socks5_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct escaper_conf *e = obj;

	e->type = ESCAPER_PROXY_SOCKS5;
	return proxy_check(ctx, map, obj);
}

static int proxy_socks5s_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct escaper_conf *e = obj;

	e->type = ESCAPER_PROXY_SOCKS5S;
	e->proxy.tls = true;
	if (!e->proxy.tls_client.set) {
		tls_client_defaults(&e->proxy.tls_client);
		e->proxy.tls_client.set = true;
	}
	return proxy_check(ctx, map, obj);
}

/* ---- schemas ---------------------------------------------------------------- */

#define PROXY_COMMON_ROWS                                                                      \
	ESCAPER_COMMON_ROWS,                                                                   \
		{.key = "proxy_addr_pick_policy",                                              \
		 .type = CONF_T_CUSTOM,                                                        \
		 .off = PO(pick_policy),                                                       \
		 .parse = pv_pick_policy},                                                     \
		{.key = "proxy_username",                                                      \
		 .type = CONF_T_CUSTOM,                                                        \
		 .off = PO(username),                                                          \
		 .parse = pv_username},                                                        \
		{.key = "proxy_password",                                                      \
		 .type = CONF_T_CUSTOM,                                                        \
		 .off = PO(password),                                                          \
		 .parse = pv_password},                                                        \
		{.key = "bind_ipv4",                                                           \
		 .type = CONF_T_CUSTOM,                                                        \
		 .off = PO(bind_v4),                                                           \
		 .parse = pv_bind_v4},                                                         \
		{.key = "bind_ipv6",                                                           \
		 .type = CONF_T_CUSTOM,                                                        \
		 .off = PO(bind_v6),                                                           \
		 .parse = pv_bind_v6},                                                         \
		{.key = "resolver",                                                            \
		 .type = CONF_T_CUSTOM,                                                        \
		 .off = EO(resolver_name),                                                     \
		 .parse = pv_metric_name},                                                     \
		{.key = "resolve_strategy",                                                    \
		 .type = CONF_T_CUSTOM,                                                        \
		 .off = EO(resolve_strategy),                                                  \
		 .parse = pv_resolve_strategy},                                                \
		{.key = "no_ipv4", .type = CONF_T_BOOL, .off = EO(no_ipv4)},                   \
		{.key = "no_ipv6", .type = CONF_T_BOOL, .off = EO(no_ipv6)}, ESCAPER_TCP_ROWS, \
		{.key = "peer_negotiation_timeout",                                            \
		 .type = CONF_T_DURATION,                                                      \
		 .off = PO(peer_negotiation_timeout_ms),                                       \
		 .min = 1},                                                                    \
		{.key = "use_proxy_protocol",                                                  \
		 .type = CONF_T_CUSTOM,                                                        \
		 .off = EO(use_proxy_protocol),                                                \
		 .parse = pv_proxy_protocol},                                                  \
	{                                                                                      \
		.key = "happy_eyeballs", .type = CONF_T_CUSTOM, .off = EO(happy_eyeballs),     \
		.parse = pv_happy_eyeballs                                                     \
	}

#define PROXY_HTTP_ROWS                                                                          \
	{.key = "proxy_addr",                                                                    \
	 .type = CONF_T_CUSTOM,                                                                  \
	 .off = PO(peers),                                                                       \
	 .parse = pv_proxy_addr_http,                                                            \
	 .flags = CONF_F_REQUIRED},                                                              \
		{.key = "pass_proxy_userid", .type = CONF_T_BOOL, .off = PO(pass_proxy_userid)}, \
		{.key = "http_forward_capability",                                               \
		 .type = CONF_T_CUSTOM,                                                          \
		 .off = PO(fwd_cap),                                                             \
		 .parse = pv_fwd_cap},                                                           \
	{                                                                                        \
		.key = "http_connect_rsp_header_max_size", .type = CONF_T_SIZE,                  \
		.off = PO(connect_rsp_header_max_size), .min = 256, .max = 65536                 \
	}

#define PROXY_SOCKS5_ROWS                                            \
	{.key = "proxy_addr",                                        \
	 .type = CONF_T_CUSTOM,                                      \
	 .off = PO(peers),                                           \
	 .parse = pv_proxy_addr_socks5,                              \
	 .flags = CONF_F_REQUIRED},                                  \
		{.key = "udp_sock_speed_limit",                      \
		 .type = CONF_T_CUSTOM,                              \
		 .off = EO(udp_sock_speed_limit),                    \
		 .parse = pv_udp_speed_limit},                       \
		{.key = "udp_relay_speed_limit",                     \
		 .type = CONF_T_CUSTOM,                              \
		 .off = EO(udp_sock_speed_limit),                    \
		 .parse = pv_udp_speed_limit},                       \
		{.key = "udp_misc_opts",                             \
		 .type = CONF_T_CUSTOM,                              \
		 .off = EO(udp_misc_opts),                           \
		 .parse = pv_udp_misc_opts},                         \
		{.key = "transmute_udp_peer_ip",                     \
		 .type = CONF_T_CUSTOM,                              \
		 .off = PO(transmute_udp_peer_ip),                   \
		 .parse = pv_transmute},                             \
	{                                                            \
		.key = "end_on_control_closed", .type = CONF_T_BOOL, \
		.off = PO(end_on_control_closed)                     \
	}

#define PROXY_TLS_ROWS                                                         \
	{.key = "tls_client",                                                  \
	 .type = CONF_T_CUSTOM,                                                \
	 .off = PO(tls_client),                                                \
	 .parse = pv_tls_client},                                              \
	{                                                                      \
		.key = "tls_name", .type = CONF_T_CUSTOM, .off = PO(tls_name), \
		.parse = pv_ascii_str                                          \
	}

static const struct conf_field proxy_http_fields[] = {PROXY_COMMON_ROWS, PROXY_HTTP_ROWS, {0}};
static const struct conf_field proxy_https_fields[] = {
	PROXY_COMMON_ROWS, PROXY_HTTP_ROWS, PROXY_TLS_ROWS, {0}};
static const struct conf_field proxy_socks5_fields[] = {PROXY_COMMON_ROWS, PROXY_SOCKS5_ROWS, {0}};
static const struct conf_field proxy_socks5s_fields[] = {
	PROXY_COMMON_ROWS, PROXY_SOCKS5_ROWS, PROXY_TLS_ROWS, {0}};

const struct conf_schema pconf_proxy_http_schema = {
	.name = "proxy_http escaper",
	.size = sizeof(struct escaper_conf),
	.fields = proxy_http_fields,
	.defaults = proxy_defaults,
	.check = proxy_http_check,
};

const struct conf_schema pconf_proxy_https_schema = {
	.name = "proxy_https escaper",
	.size = sizeof(struct escaper_conf),
	.fields = proxy_https_fields,
	.defaults = proxy_defaults,
	.check = proxy_https_check,
};

const struct conf_schema pconf_proxy_socks5_schema = {
	.name = "proxy_socks5 escaper",
	.size = sizeof(struct escaper_conf),
	.fields = proxy_socks5_fields,
	.defaults = socks5_defaults,
	.check = proxy_socks5_check,
};

const struct conf_schema pconf_proxy_socks5s_schema = {
	.name = "proxy_socks5s escaper",
	.size = sizeof(struct escaper_conf),
	.fields = proxy_socks5s_fields,
	.defaults = socks5_defaults,
	.check = proxy_socks5s_check,
};

/* ---- proxy_float ----------------------------------------------------------------- */

/* source: null / "passive" / {type: passive}; redis is not supported yet */
static int pv_float_source(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	const struct conf_node *t = n;

	*(bool *)dst = true;
	if (conf_is_null(n))
		return 0;
	if (n->kind == CONF_MAP) {
		t = conf_map_get(n, "type");
		if (t == NULL)
			return conf_error(ctx, n, "source map without 'type'");
		for (const struct conf_node *k = n->child; k != NULL; k = k->next)
			if (!conf_key_is(k, "type"))
				return conf_error(ctx, k, "unknown key '%s' for a passive source",
						  k->str);
	}
	if (pv_expect_scalar(ctx, t) < 0)
		return -EINVAL;
	if (strcmp(t->str, "passive") == 0)
		return 0;
	if (strcmp(t->str, "redis") == 0 || strncmp(t->str, "redis://", 8) == 0)
		return conf_error(ctx, t,
				  "proxy_float source 'redis' is not supported yet "
				  "(use passive and publish)");
	return conf_error(ctx, t, "unknown proxy_float source '%s'", t->str);
}

static void float_defaults(void *obj)
{
	struct escaper_conf *e = obj;

	proxy_defaults(obj);
	e->tcp_keepalive.enable = true; /* g3: 60s */
	e->tcp_connect.max_retry = 0;
	e->proxy.refresh_interval_ms = 1000;
	e->proxy.expire_guard_ms = 5000;
	e->proxy.source_passive = true;
}

static int float_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct escaper_conf *e = obj;

	(void)map;
	e->type = ESCAPER_PROXY_FLOAT;
	e->bind_ips.v = conf_alloc(ctx, 2 * sizeof(*e->bind_ips.v));
	e->bind_ips.n = 0;
	if (e->proxy.bind_v4.family != 0)
		e->bind_ips.v[e->bind_ips.n++] = e->proxy.bind_v4;
	if (e->proxy.bind_v6.family != 0)
		e->bind_ips.v[e->bind_ips.n++] = e->proxy.bind_v6;
	memset(&e->egress_net_filter, 0, sizeof(e->egress_net_filter));
	return 0;
}

static const struct conf_field proxy_float_fields[] = {
	ESCAPER_COMMON_ROWS,
	{.key = "source",
	 .type = CONF_T_CUSTOM,
	 .off = PO(source_passive),
	 .parse = pv_float_source},
	{.key = "cache", .type = CONF_T_PATH, .off = PO(cache_path)},
	{.key = "refresh_interval", .type = CONF_T_DURATION, .off = PO(refresh_interval_ms)},
	{.key = "bind_ipv4", .type = CONF_T_CUSTOM, .off = PO(bind_v4), .parse = pv_bind_v4},
	{.key = "bind_ipv6", .type = CONF_T_CUSTOM, .off = PO(bind_v6), .parse = pv_bind_v6},
	{.key = "bind_interface", .type = CONF_T_STR, .off = EO(bind_interface)},
	{.key = "tls_client", .type = CONF_T_CUSTOM, .off = PO(tls_client), .parse = pv_tls_client},
	{.key = "tcp_connect_timeout",
	 .type = CONF_T_DURATION,
	 .off = EO(tcp_connect.each_timeout_ms),
	 .min = 1},
	{.key = "tcp_keepalive",
	 .type = CONF_T_CUSTOM,
	 .off = EO(tcp_keepalive),
	 .parse = pv_tcp_keepalive},
	{.key = "expire_guard_duration", .type = CONF_T_DURATION, .off = PO(expire_guard_ms)},
	{.key = "tcp_sock_speed_limit",
	 .type = CONF_T_CUSTOM,
	 .off = EO(tcp_sock_speed_limit),
	 .parse = pv_tcp_speed_limit},
	{.key = "tcp_misc_opts",
	 .type = CONF_T_CUSTOM,
	 .off = EO(tcp_misc_opts),
	 .parse = pv_tcp_misc_opts},
	{.key = "peer_negotiation_timeout",
	 .type = CONF_T_DURATION,
	 .off = PO(peer_negotiation_timeout_ms),
	 .min = 1},
	{0},
};

const struct conf_schema pconf_proxy_float_schema = {
	.name = "proxy_float escaper",
	.size = sizeof(struct escaper_conf),
	.fields = proxy_float_fields,
	.defaults = float_defaults,
	.check = float_check,
};
