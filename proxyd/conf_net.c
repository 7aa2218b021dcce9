/* Network value formats (g3proxy §1.12): tcp listen, tcp keepalive, misc
 * socket options, tcp connect, happy eyeballs, http keepalive, socket
 * buffers, port ranges, PROXY protocol version. conf_parse_fn style: errors
 * are recorded with file:line:col and -EINVAL returned. */
#include "proxyd/conf_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- listen ------------------------------------------------------------ */

/* A decimal port 1..65535 from s[0..len). */
static int port_parse(struct conf_ctx *ctx, const struct conf_node *n, const char *s, size_t len,
		      uint16_t *out)
{
	unsigned long v = 0;

	if (len == 0)
		return conf_error(ctx, n, "missing port in '%s'", n->str);
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return conf_error(ctx, n, "invalid port '%.*s'", (int)len, s);
		if (v <= 1000000)
			v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return conf_error(ctx, n, "port %.*s out of range (1..65535)", (int)len, s);
	*out = (uint16_t)v;
	return 0;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* "ip:port", "[v6]:port" or "$ENV" naming one of them. */
static int listen_addr_str(struct conf_ctx *ctx, const struct conf_node *n, struct listen_conf *l)
{
	const char *s = n->str;
	char host[64];
	const char *port;
	size_t hlen;
	uint16_t p = 0;

	if (s[0] == '$') {
		const char *env = getenv(s + 1);
		if (env == NULL)
			return conf_error(ctx, n, "environment variable %s is not set", s + 1);
		s = env;
	}
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return conf_error(ctx, n,
					  "invalid listen address '%s': expected [ipv6]:port", s);
		hlen = (size_t)(rb - s - 1);
		if (hlen >= sizeof(host))
			return conf_error(ctx, n, "invalid listen address '%s'", s);
		memcpy(host, s + 1, hlen);
		port = rb + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (colon == NULL)
			return conf_error(ctx, n, "invalid listen address '%s': expected ip:port",
					  s);
		if (memchr(s, ':', (size_t)(colon - s)) != NULL)
			return conf_error(ctx, n,
					  "invalid listen address '%s': write IPv6 as [addr]:port",
					  s);
		hlen = (size_t)(colon - s);
		if (hlen >= sizeof(host))
			return conf_error(ctx, n, "invalid listen address '%s'", s);
		memcpy(host, s, hlen);
		port = colon + 1;
	}
	host[hlen] = '\0';
	if (!pv_parse_ip(host, &l->addr, &l->addrlen))
		return conf_error(ctx, n, "invalid listen address '%s': '%s' is not an IP address",
				  s, host);
	if (port_parse(ctx, n, port, strlen(port), &p) < 0)
		return -EINVAL;
	set_port(&l->addr, p);
	return 0;
}

static void listen_any(struct listen_conf *l, uint16_t port)
{
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&l->addr;

	memset(&l->addr, 0, sizeof(l->addr));
	v6->sin6_family = AF_INET6;
	v6->sin6_addr = in6addr_any;
	v6->sin6_port = htons(port);
	l->addrlen = sizeof(*v6);
}

static int listen_address_field(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	return listen_addr_str(ctx, n, dst);
}

static const struct conf_field listen_fields[] = {
	{.key = "address",
	 .type = CONF_T_CUSTOM,
	 .off = 0,
	 .parse = listen_address_field,
	 .flags = CONF_F_REQUIRED},
	{.key = "interface", .type = CONF_T_STR, .off = offsetof(struct listen_conf, interface)},
	{.key = "keepalive",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct listen_conf, keepalive),
	 .parse = pv_tcp_keepalive,
	 .flags = CONF_F_SEEN,
	 .seen_off = offsetof(struct listen_conf, has_keepalive)},
	{.key = "max_segment_size",
	 .type = CONF_T_U32,
	 .off = offsetof(struct listen_conf, mss),
	 .min = 0,
	 .max = UINT32_MAX,
	 .flags = CONF_F_SEEN,
	 .seen_off = offsetof(struct listen_conf, has_mss)},
	{.key = "mss",
	 .type = CONF_T_U32,
	 .off = offsetof(struct listen_conf, mss),
	 .min = 0,
	 .max = UINT32_MAX,
	 .flags = CONF_F_SEEN,
	 .seen_off = offsetof(struct listen_conf, has_mss)},
	{.key = "backlog",
	 .type = CONF_T_U32,
	 .off = offsetof(struct listen_conf, backlog),
	 .min = 0,
	 .max = UINT32_MAX},
	{.key = "netfilter_mark",
	 .type = CONF_T_U32,
	 .off = offsetof(struct listen_conf, netfilter_mark),
	 .min = 0,
	 .max = UINT32_MAX,
	 .flags = CONF_F_SEEN,
	 .seen_off = offsetof(struct listen_conf, has_mark)},
	{.key = "ipv6_only", .type = CONF_T_BOOL, .off = offsetof(struct listen_conf, ipv6_only)},
	{.key = "instance",
	 .type = CONF_T_U32,
	 .off = offsetof(struct listen_conf, instance),
	 .min = 1,
	 .max = 1024},
	{.key = "scale",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct listen_conf, scale),
	 .parse = pv_scale},
	{.key = "follow_cpu_affinity",
	 .type = CONF_T_BOOL,
	 .off = offsetof(struct listen_conf, follow_cpu_affinity)},
	{0},
};

static const struct conf_schema listen_schema = {
	.name = "tcp listen",
	.size = sizeof(struct listen_conf),
	.fields = listen_fields,
};

int pv_listen(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct listen_conf *l = dst;

	memset(l, 0, sizeof(*l));
	l->backlog = 4096;
	l->instance = 1;
	tcp_keepalive_defaults(&l->keepalive);
	if (n->kind == CONF_MAP) {
		if (conf_parse_map(ctx, n, &listen_schema, NULL, l) < 0)
			return -EINVAL;
		if (l->backlog < 8)
			l->backlog = 4096;
	} else if (n->kind == CONF_SCALAR && !conf_is_null(n)) {
		bool digits = n->len > 0;
		for (size_t i = 0; i < n->len; i++)
			digits = digits && isdigit((unsigned char)n->str[i]);
		if (digits) {
			uint16_t p = 0;
			if (port_parse(ctx, n, n->str, n->len, &p) < 0)
				return -EINVAL;
			listen_any(l, p);
		} else if (listen_addr_str(ctx, n, l) < 0) {
			return -EINVAL;
		}
	} else {
		return conf_error(ctx, n, "expected a port, \"ip:port\" or a map, got %s",
				  pv_kind_name(n));
	}
	l->set = true;
	return 0;
}

/* ---- keepalives, connect, socket options -------------------------------- */

void tcp_keepalive_defaults(struct tcp_keepalive_conf *k)
{
	memset(k, 0, sizeof(*k));
	k->idle_time_ms = 60000;
}

void tcp_connect_defaults(struct tcp_connect_conf *c)
{
	c->max_retry = 2;
	c->each_timeout_ms = 30000;
}

void happy_eyeballs_defaults(struct happy_eyeballs_conf *h)
{
	h->resolution_delay_ms = 50;
	h->second_resolution_timeout_ms = 2000;
	h->first_address_family_count = 1;
	h->connection_attempt_delay_ms = 250;
}

void http_keepalive_defaults(struct http_keepalive_conf *h)
{
	h->enable = true;
	h->idle_expire_ms = 60000;
}

static const struct conf_field tcp_keepalive_fields[] = {
	{.key = "enable", .type = CONF_T_BOOL, .off = offsetof(struct tcp_keepalive_conf, enable)},
	{.key = "idle_time",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct tcp_keepalive_conf, idle_time_ms)},
	{.key = "probe_interval",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct tcp_keepalive_conf, probe_interval_ms)},
	{.key = "probe_count",
	 .type = CONF_T_U32,
	 .off = offsetof(struct tcp_keepalive_conf, probe_count),
	 .min = 0,
	 .max = UINT32_MAX},
	{0},
};
static const struct conf_schema tcp_keepalive_schema = {
	.name = "tcp keepalive",
	.size = sizeof(struct tcp_keepalive_conf),
	.fields = tcp_keepalive_fields,
};

int pv_tcp_keepalive(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct tcp_keepalive_conf *k = dst;

	if (n->kind == CONF_MAP)
		return conf_parse_map(ctx, n, &tcp_keepalive_schema, NULL, k);
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (pv_is_bool_literal(n))
		return conf_get_bool(ctx, n, &k->enable);
	k->enable = true;
	return conf_get_duration_ms(ctx, n, &k->idle_time_ms);
}

static const struct conf_field http_keepalive_fields[] = {
	{.key = "enable", .type = CONF_T_BOOL, .off = offsetof(struct http_keepalive_conf, enable)},
	{.key = "idle_expire",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct http_keepalive_conf, idle_expire_ms)},
	{0},
};
static const struct conf_schema http_keepalive_schema = {
	.name = "http keepalive",
	.size = sizeof(struct http_keepalive_conf),
	.fields = http_keepalive_fields,
};

int pv_http_keepalive(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct http_keepalive_conf *h = dst;

	if (n->kind == CONF_MAP)
		return conf_parse_map(ctx, n, &http_keepalive_schema, NULL, h);
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (pv_is_bool_literal(n))
		return conf_get_bool(ctx, n, &h->enable);
	h->enable = true;
	return conf_get_duration_ms(ctx, n, &h->idle_expire_ms);
}

static int u8_value(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	uint64_t v;

	if (conf_get_u64(ctx, n, 0, 255, &v) < 0)
		return -EINVAL;
	*(uint8_t *)dst = (uint8_t)v;
	return 0;
}

/* The IP-level rows shared by tcp_misc_opts and udp_misc_opts (T), each
 * with a has_<field> flag set when present. */
#define IP_MISC_ROW(T, k, t, f, mx)                                                          \
	{                                                                                    \
		.key = k, .type = t, .off = offsetof(T, f), .max = mx, .flags = CONF_F_SEEN, \
		.seen_off = offsetof(T, has_##f)                                             \
	}
#define IP_MISC_U8_ROW(T, k, f)                                                            \
	{                                                                                  \
		.key = k, .type = CONF_T_CUSTOM, .parse = u8_value, .off = offsetof(T, f), \
		.flags = CONF_F_SEEN, .seen_off = offsetof(T, has_##f)                     \
	}
#define IP_MISC_ROWS(T)                                                                   \
	IP_MISC_ROW(T, "ttl", CONF_T_U32, ttl, 255),                                      \
		IP_MISC_ROW(T, "time_to_live", CONF_T_U32, ttl, 255),                     \
		IP_MISC_ROW(T, "hop_limit", CONF_T_U32, hop_limit, 255),                  \
		IP_MISC_U8_ROW(T, "tos", tos), IP_MISC_U8_ROW(T, "type_of_service", tos), \
		IP_MISC_U8_ROW(T, "traffic_class", traffic_class),                        \
		IP_MISC_ROW(T, "mark", CONF_T_U32, mark, UINT32_MAX),                     \
		IP_MISC_ROW(T, "netfilter_mark", CONF_T_U32, mark, UINT32_MAX)

static const struct conf_field tcp_misc_fields[] = {
	IP_MISC_ROW(struct tcp_misc_opts, "no_delay", CONF_T_BOOL, no_delay, 0),
	IP_MISC_ROW(struct tcp_misc_opts, "mss", CONF_T_U32, mss, UINT32_MAX),
	IP_MISC_ROW(struct tcp_misc_opts, "max_segment_size", CONF_T_U32, mss, UINT32_MAX),
	IP_MISC_ROWS(struct tcp_misc_opts),
	{.key = "congestion_control",
	 .type = CONF_T_STR,
	 .off = offsetof(struct tcp_misc_opts, congestion_control)},
	{0},
};

static const struct conf_field udp_misc_fields[] = {
	IP_MISC_ROWS(struct udp_misc_opts),
	{0},
};

static const struct conf_schema tcp_misc_schema = {
	.name = "tcp misc opts",
	.size = sizeof(struct tcp_misc_opts),
	.fields = tcp_misc_fields,
};
static const struct conf_schema udp_misc_schema = {
	.name = "udp misc opts",
	.size = sizeof(struct udp_misc_opts),
	.fields = udp_misc_fields,
};

int pv_tcp_misc_opts(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	return conf_parse_map(ctx, n, &tcp_misc_schema, NULL, dst);
}

int pv_udp_misc_opts(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	return conf_parse_map(ctx, n, &udp_misc_schema, NULL, dst);
}

static const struct conf_field tcp_connect_fields[] = {
	{.key = "max_retry",
	 .type = CONF_T_U32,
	 .off = offsetof(struct tcp_connect_conf, max_retry),
	 .max = 16},
	{.key = "each_timeout",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct tcp_connect_conf, each_timeout_ms),
	 .min = 1},
	{0},
};
static const struct conf_schema tcp_connect_schema = {
	.name = "tcp connect",
	.size = sizeof(struct tcp_connect_conf),
	.fields = tcp_connect_fields,
};

int pv_tcp_connect(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	return conf_parse_map(ctx, n, &tcp_connect_schema, NULL, dst);
}

#define HEO(f) offsetof(struct happy_eyeballs_conf, f)
static const struct conf_field happy_eyeballs_fields[] = {
	{.key = "resolution_delay", .type = CONF_T_DURATION, .off = HEO(resolution_delay_ms)},
	{.key = "second_resolution_timeout",
	 .type = CONF_T_DURATION,
	 .off = HEO(second_resolution_timeout_ms)},
	{.key = "first_address_family_count",
	 .type = CONF_T_U32,
	 .off = HEO(first_address_family_count),
	 .min = 1,
	 .max = 64},
	{.key = "connection_attempt_delay",
	 .type = CONF_T_DURATION,
	 .off = HEO(connection_attempt_delay_ms),
	 .min = 100,
	 .max = 2000},
	{0},
};
#undef HEO
static const struct conf_schema happy_eyeballs_schema = {
	.name = "happy eyeballs",
	.size = sizeof(struct happy_eyeballs_conf),
	.fields = happy_eyeballs_fields,
};

int pv_happy_eyeballs(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	return conf_parse_map(ctx, n, &happy_eyeballs_schema, NULL, dst);
}

static const struct conf_field socket_buffer_fields[] = {
	{.key = "recv", .type = CONF_T_SIZE, .off = offsetof(struct socket_buffer_conf, recv)},
	{.key = "send", .type = CONF_T_SIZE, .off = offsetof(struct socket_buffer_conf, send)},
	{0},
};
static const struct conf_schema socket_buffer_schema = {
	.name = "socket buffer",
	.size = sizeof(struct socket_buffer_conf),
	.fields = socket_buffer_fields,
};

int pv_socket_buffer(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct socket_buffer_conf *b = dst;

	if (n->kind == CONF_MAP)
		return conf_parse_map(ctx, n, &socket_buffer_schema, NULL, b);
	if (conf_get_size(ctx, n, &b->recv) < 0)
		return -EINVAL;
	b->send = b->recv;
	return 0;
}

static const struct conf_field port_range_fields[] = {
	{.key = "start",
	 .type = CONF_T_U32,
	 .off = 0,
	 .min = 1,
	 .max = 65535,
	 .flags = CONF_F_REQUIRED},
	{.key = "end",
	 .type = CONF_T_U32,
	 .off = sizeof(uint32_t),
	 .min = 1,
	 .max = 65535,
	 .flags = CONF_F_REQUIRED},
	{0},
};
static const struct conf_schema port_range_schema = {
	.name = "port range",
	.size = 2 * sizeof(uint32_t),
	.fields = port_range_fields,
};

int pv_port_range(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct port_range *r = dst;
	uint32_t se[2] = {0, 0};

	if (n->kind == CONF_MAP) {
		if (conf_parse_map(ctx, n, &port_range_schema, NULL, se) < 0)
			return -EINVAL;
	} else {
		unsigned a, b;
		int used = 0;
		if (pv_expect_scalar(ctx, n) < 0)
			return -EINVAL;
		if (sscanf(n->str, " %u - %u %n", &a, &b, &used) != 2 || (size_t)used != n->len ||
		    a == 0 || a > 65535 || b > 65535)
			return conf_error(ctx, n, "invalid port range '%s': expected start-end",
					  n->str);
		se[0] = a;
		se[1] = b;
	}
	if (se[1] <= se[0])
		return conf_error(ctx, n,
				  "invalid port range %u-%u: end must be greater than start", se[0],
				  se[1]);
	r->start = (uint16_t)se[0];
	r->end = (uint16_t)se[1];
	return 0;
}

int pv_proxy_protocol(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	uint64_t v;

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (conf_get_u64(ctx, n, 0, UINT64_MAX, &v) < 0)
		return -EINVAL;
	if (v != 1 && v != 2)
		return conf_error(ctx, n, "invalid PROXY protocol version %s: use 1 or 2", n->str);
	*(uint8_t *)dst = (uint8_t)v;
	return 0;
}
