/* Internal to proxyd's config loader: value parsers shared by the object
 * schemas (CONF_T_CUSTOM parse functions), the per-kind schemas, and the
 * loader state. Not for the data plane: it reads proxyd/config.h. */
#ifndef G3C_PROXYD_CONF_INT_H
#define G3C_PROXYD_CONF_INT_H

#include "common/conf.h"
#include "proxyd/config.h"

/* The config being built by the current thread's load (regexes register on
 * it). Set by proxyd_conf_load*, NULL otherwise. */
extern _Thread_local struct proxyd_conf *pconf_loading;

/* Remember a compiled regex so proxyd_conf_unref() regfree()s it. */
void pconf_track_regex(regex_t *re);

/* Growable pointer vector (xrealloc; aborts on OOM). */
void obj_vec_push(struct obj_vec *v, void *p);
void obj_vec_free(struct obj_vec *v);

/* Walk map m calling fn(ctx, key, value, arg) per entry with ctx->path set
 * to "<path>.<key>"; errors from fn are collected. Returns 0 or -EINVAL. */
typedef int pv_kv_fn(struct conf_ctx *ctx, const struct conf_node *key, const struct conf_node *val,
		     void *arg);
int pv_foreach_kv(struct conf_ctx *ctx, const struct conf_node *m, pv_kv_fn *fn, void *arg);
/* Call fn(ctx, item, idx, arg) for a `list` value: a single value is a list
 * of one; ctx->path gets "[idx]" for sequence items. */
typedef int pv_item_fn(struct conf_ctx *ctx, const struct conf_node *item, unsigned idx, void *arg);
int pv_foreach_item(struct conf_ctx *ctx, const struct conf_node *n, pv_item_fn *fn, void *arg);
/* Number of items pv_foreach_item would visit. */
size_t pv_list_len(const struct conf_node *n);

/* "a map", "a sequence", "a scalar" or "null", for messages. */
const char *pv_kind_name(const struct conf_node *n);
/* A plain scalar spelling a YAML 1.1 boolean (true/false/yes/no/on/off). */
bool pv_is_bool_literal(const struct conf_node *n);
/* A domain (optionally "*."-prefixed) or an IP literal. */
bool pv_host_ok(const char *s, size_t len);

/* Require a map (records "expected a map, got ..." otherwise). */
int pv_expect_map(struct conf_ctx *ctx, const struct conf_node *n);
/* Require a scalar string (non-null). */
int pv_expect_scalar(struct conf_ctx *ctx, const struct conf_node *n);

/* ---- conf_values.c: CONF_T_CUSTOM parsers (dst type in brackets) ------ */

bool pv_metric_name_ok(const char *s, size_t len);
int pv_metric_name(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* const char * */
int pv_str_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst);	/* str_list */
int pv_host_list(struct conf_ctx *ctx, const struct conf_node *n,
		 void *dst); /* str_list of hosts */
int pv_ascii_str(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* const char * */
int pv_http_server_id(struct conf_ctx *ctx, const struct conf_node *n,
		      void *dst); /* const char * */
int pv_http_header_name(struct conf_ctx *ctx, const struct conf_node *n,
			void *dst);						 /* const char * */
int pv_metrics_tags(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* metrics_tags */
int pv_tcp_keepalive(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_tcp_misc_opts(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_udp_misc_opts(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_tcp_connect(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_happy_eyeballs(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_http_keepalive(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_socket_buffer(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_port_range(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_listen(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_tcp_speed_limit(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_udp_speed_limit(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_global_stream_limit(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_global_datagram_limit(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_rate_limit(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_random_ratio(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_scale(struct conf_ctx *ctx, const struct conf_node *n, void *dst);	/* double */
int pv_pick_policy(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* int */
int pv_resolve_strategy(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_resolve_redirection(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_proxy_protocol(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* uint8_t */
int pv_rfc3339(struct conf_ctx *ctx, const struct conf_node *n, void *dst);	   /* int64_t */
int pv_raw_map(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* const conf_node * */
int pv_raw_any(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* map or scalar */
int pv_ip_addr(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* sockaddr_storage */
int pv_ipv4_addr(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_ipv6_addr(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
/* Lists of IPs (struct ip_list); pv_net_list takes networks. */
int pv_net_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_ip_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* ip_list */
int pv_ipv4_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pv_ipv6_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst);

/* Parse one IP literal (no brackets, no port) into *out. */
bool pv_parse_ip(const char *s, struct sockaddr_storage *out, socklen_t *len);

/* Defaults of shared value types. */
void tcp_keepalive_defaults(struct tcp_keepalive_conf *k);
void tcp_connect_defaults(struct tcp_connect_conf *c);
void happy_eyeballs_defaults(struct happy_eyeballs_conf *h);
void http_keepalive_defaults(struct http_keepalive_conf *h);

/* ---- conf_acl.c ------------------------------------------------------- */

int pv_acl_action(struct conf_ctx *ctx, const struct conf_node *n, enum acl_action *out);
int pv_acl_egress(struct conf_ctx *ctx, const struct conf_node *n, void *dst);	 /* acl_net_rule */
int pv_acl_ingress(struct conf_ctx *ctx, const struct conf_node *n, void *dst);	 /* acl_net_rule */
int pv_acl_network(struct conf_ctx *ctx, const struct conf_node *n, void *dst);	 /* acl_net_rule */
int pv_acl_port(struct conf_ctx *ctx, const struct conf_node *n, void *dst);	 /* acl_port_rule */
int pv_acl_host_set(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* acl_host_set */
int pv_acl_user_agent(struct conf_ctx *ctx, const struct conf_node *n,
		      void *dst); /* acl_str_rule */
int pv_acl_proxy_request(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
/* The escaper default when egress_network_filter is absent: permit with the
 * built-in forbids. */
void acl_egress_default(struct conf_ctx *ctx, struct acl_net_rule *r);

/* ---- conf_tls.c ------------------------------------------------------- */

int pv_tls_server(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* tls_server_conf */
int pv_tls_client(struct conf_ctx *ctx, const struct conf_node *n, void *dst); /* tls_client_conf */
int pv_tls_ticketer(struct conf_ctx *ctx, const struct conf_node *n,
		    void *dst); /* tls_ticketer_conf */
void tls_client_defaults(struct tls_client_conf *t);

/* ---- per-kind object parsers (called for each hybrid-list object) ----- */

int pconf_resolver_parse(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx,
			 void *arg);
int pconf_escaper_parse(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx, void *arg);
int pconf_user_group_parse(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx,
			   void *arg);
int pconf_auditor_parse(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx, void *arg);
int pconf_server_parse(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx, void *arg);

/* Shared by the object parsers: check the `type` value against the types
 * g3proxy has but g3c does not implement yet. Returns true (error recorded)
 * when `type` names one of them. */
bool pconf_type_unsupported(struct conf_ctx *ctx, const struct conf_node *obj, const char *what,
			    const char *const *unsupported);

/* Register a parsed object of kind k in the config being loaded, checking
 * the name is unique (error names both locations). */
int pconf_register(struct conf_ctx *ctx, enum proxyd_kind k, void *obj, const char *name,
		   const struct conf_node *name_node);

/* Defaults of an auditor (also used for the internal default auditor). */
void auditor_defaults(void *obj);

/* Worker map (conf.c helpers). */
int pconf_worker_parse(struct conf_ctx *ctx, const struct conf_node *n, struct worker_conf *w);

/* User (conf_user.c): also used for anonymous_user. */
int pconf_user_parse(struct conf_ctx *ctx, const struct conf_node *m, struct user_conf *u);
/* Redis user source (conf_user_redis.c): the map form (type: redis) and
 * the URL form redis://[[USER]:PASS@]HOST[:PORT][/DB]?key=NAME. */
int pconf_user_redis_map(struct conf_ctx *ctx, const struct conf_node *n,
			 struct user_group_conf *g);
int pconf_user_redis_url(struct conf_ctx *ctx, const struct conf_node *n,
			 struct user_group_conf *g);

/* route_geoip escaper (conf_geoip.c). */
extern const struct conf_schema pconf_route_geoip_schema;
/* proxy_http / proxy_https / proxy_socks5 / proxy_socks5s (conf_escaper_proxy.c) */
extern const struct conf_schema pconf_proxy_http_schema;
extern const struct conf_schema pconf_proxy_https_schema;
extern const struct conf_schema pconf_proxy_socks5_schema;
extern const struct conf_schema pconf_proxy_socks5s_schema;
extern const struct conf_schema pconf_proxy_float_schema;
void pconf_geoip_defaults(struct route_geoip_conf *g);

/* The other route_* escapers (conf_route.c). */
extern const struct conf_schema pconf_route_upstream_schema;
extern const struct conf_schema pconf_route_client_schema;
extern const struct conf_schema pconf_route_resolved_schema;
extern const struct conf_schema pconf_route_mapping_schema;
extern const struct conf_schema pconf_route_failover_schema;
extern const struct conf_schema pconf_route_select_schema;
extern const struct conf_schema pconf_trick_float_schema;
extern const struct conf_schema pconf_route_query_schema; /* conf_query.c */
/* A list of next escaper names into route_conf.next_names (dst: &next_names)
 * and the check that none is listed twice (obj: the escaper). */
int pconf_route_next_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int pconf_route_unique_next(struct conf_ctx *ctx, const struct conf_node *map, void *obj);
/* Keep a pick table built during the load: freed with the config (freed at
 * once when no config is being loaded). */
struct pick_set;
void pconf_track_pick(struct pick_set *set);
/* Call fn(name, &slot, arg) for every next-escaper reference of a route
 * escaper (the loader resolves each name into its slot). */
typedef void pconf_ref_fn(const char *name, const struct escaper_conf **slot, void *arg);
void pconf_route_foreach_ref(struct escaper_conf *e, pconf_ref_fn *fn, void *arg);

/* Offsets in struct escaper_conf, and the rows every escaper type has
 * (conf_escaper*.c, conf_route.c, conf_geoip.c, conf_query.c). */
#define EO(f) offsetof(struct escaper_conf, f)
#define ESCAPER_COMMON_ROWS                                                                        \
	{.key = "name",                                                                            \
	 .type = CONF_T_CUSTOM,                                                                    \
	 .off = EO(name),                                                                          \
	 .parse = pv_metric_name,                                                                  \
	 .flags = CONF_F_REQUIRED},                                                                \
		{.key = "shared_logger",                                                           \
		 .type = CONF_T_CUSTOM,                                                            \
		 .off = EO(shared_logger),                                                         \
		 .parse = pv_ascii_str},                                                           \
	{                                                                                          \
		.key = "extra_metrics_tags", .type = CONF_T_CUSTOM, .off = EO(extra_metrics_tags), \
		.parse = pv_metrics_tags                                                           \
	}

/* TCP keys of the escapers that open their own connections (direct_*, proxy_*). */
#define ESCAPER_TCP_ROWS                                                                         \
	{.key = "tcp_connect",                                                                   \
	 .type = CONF_T_CUSTOM,                                                                  \
	 .off = EO(tcp_connect),                                                                 \
	 .parse = pv_tcp_connect},                                                               \
		{.key = "tcp_keepalive",                                                         \
		 .type = CONF_T_CUSTOM,                                                          \
		 .off = EO(tcp_keepalive),                                                       \
		 .parse = pv_tcp_keepalive},                                                     \
		{.key = "tcp_misc_opts",                                                         \
		 .type = CONF_T_CUSTOM,                                                          \
		 .off = EO(tcp_misc_opts),                                                       \
		 .parse = pv_tcp_misc_opts},                                                     \
		{.key = "tcp_sock_speed_limit",                                                  \
		 .type = CONF_T_CUSTOM,                                                          \
		 .off = EO(tcp_sock_speed_limit),                                                \
		 .parse = pv_tcp_speed_limit},                                                   \
		{.key = "tcp_conn_speed_limit",                                                  \
		 .type = CONF_T_CUSTOM,                                                          \
		 .off = EO(tcp_sock_speed_limit),                                                \
		 .parse = pv_tcp_speed_limit},                                                   \
	{                                                                                        \
		.key = "tcp_conn_limit", .type = CONF_T_CUSTOM, .off = EO(tcp_sock_speed_limit), \
		.parse = pv_tcp_speed_limit                                                      \
	}

#endif
