/* Server objects (g3proxy §1.2): http_proxy (httpproxy) and socks_proxy
 * (socksproxy) with the common keys of §1.2.3 and their deprecated
 * aliases, plus the port servers plain_tcp_port and plain_tls_port that hand
 * accepted connections to another server. The other g3proxy server types
 * are recognised and reported as not supported yet. */
#include "proxyd/conf_int.h"

#include <errno.h>
#include <string.h>

#define SVO(f) offsetof(struct server_conf, f)
#define C(k, f, fn)                                                         \
	{                                                                   \
		.key = k, .type = CONF_T_CUSTOM, .off = SVO(f), .parse = fn \
	}

/* ---- nested maps: ftp_client, username_params, transmute_udp_echo_ip ------ */

#define FO(f) offsetof(struct ftp_client_conf, f)
static const struct conf_field ftp_control_fields[] = {
	{.key = "max_line_len",
	 .type = CONF_T_U32,
	 .off = FO(control_max_line_len),
	 .min = 1,
	 .max = UINT32_MAX},
	{.key = "max_multi_lines",
	 .type = CONF_T_U32,
	 .off = FO(control_max_multi_lines),
	 .min = 1,
	 .max = UINT32_MAX},
	{.key = "command_timeout",
	 .type = CONF_T_DURATION,
	 .off = FO(control_command_timeout_ms),
	 .min = 1},
	{0},
};
static const struct conf_field ftp_transfer_fields[] = {
	{.key = "list_max_line_len",
	 .type = CONF_T_U32,
	 .off = FO(transfer_list_max_line_len),
	 .min = 1,
	 .max = UINT32_MAX},
	{.key = "list_max_entries",
	 .type = CONF_T_U32,
	 .off = FO(transfer_list_max_entries),
	 .min = 1,
	 .max = UINT32_MAX},
	{.key = "list_all_timeout",
	 .type = CONF_T_DURATION,
	 .off = FO(transfer_list_all_timeout_ms),
	 .min = 1,
	 .max = 300000},
	{.key = "end_wait_timeout",
	 .type = CONF_T_DURATION,
	 .off = FO(transfer_end_wait_timeout_ms),
	 .min = 1},
	{0},
};
static const struct conf_schema ftp_control_schema = {.name = "ftp control",
						      .size = sizeof(struct ftp_client_conf),
						      .fields = ftp_control_fields};
static const struct conf_schema ftp_transfer_schema = {.name = "ftp transfer",
						       .size = sizeof(struct ftp_client_conf),
						       .fields = ftp_transfer_fields};

/* The control / transfer rows point at their first member; the sub-schemas
 * are relative to the whole ftp_client_conf. */
static int ftp_control(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct ftp_client_conf *f = container_of(dst, struct ftp_client_conf, control_max_line_len);

	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	return conf_parse_map(ctx, n, &ftp_control_schema, NULL, f);
}

static int ftp_transfer(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct ftp_client_conf *f =
		container_of(dst, struct ftp_client_conf, transfer_list_max_line_len);

	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	return conf_parse_map(ctx, n, &ftp_transfer_schema, NULL, f);
}

static const struct conf_field ftp_client_fields[] = {
	{.key = "control",
	 .type = CONF_T_CUSTOM,
	 .off = FO(control_max_line_len),
	 .parse = ftp_control},
	{.key = "transfer",
	 .type = CONF_T_CUSTOM,
	 .off = FO(transfer_list_max_line_len),
	 .parse = ftp_transfer},
	{.key = "connect_timeout",
	 .type = CONF_T_DURATION,
	 .off = FO(connect_timeout_ms),
	 .min = 1},
	{.key = "greeting_timeout",
	 .type = CONF_T_DURATION,
	 .off = FO(greeting_timeout_ms),
	 .min = 1},
	{.key = "always_try_epsv", .type = CONF_T_BOOL, .off = FO(always_try_epsv)},
	{0},
};
#undef FO
static const struct conf_schema ftp_client_schema = {
	.name = "ftp client", .size = sizeof(struct ftp_client_conf), .fields = ftp_client_fields};

static void ftp_client_defaults(struct ftp_client_conf *f)
{
	f->control_max_line_len = 2048;
	f->control_max_multi_lines = 128;
	f->control_command_timeout_ms = 10000;
	f->transfer_list_max_line_len = 2048;
	f->transfer_list_max_entries = 1024;
	f->transfer_list_all_timeout_ms = 120000;
	f->transfer_end_wait_timeout_ms = 10000;
	f->connect_timeout_ms = 30000;
	f->greeting_timeout_ms = 10000;
	f->always_try_epsv = true;
}

static int ftp_client(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	return conf_parse_map(ctx, n, &ftp_client_schema, NULL, dst);
}

#define UPO(f) offsetof(struct username_params_conf, f)
static const struct conf_field username_params_fields[] = {
	{.key = "keys_for_host",
	 .type = CONF_T_CUSTOM,
	 .off = UPO(keys_for_host),
	 .parse = pv_str_list},
	{.key = "require_hierarchy", .type = CONF_T_BOOL, .off = UPO(require_hierarchy)},
	{.key = "floating_keys",
	 .type = CONF_T_CUSTOM,
	 .off = UPO(floating_keys),
	 .parse = pv_str_list},
	{.key = "reject_unknown_keys", .type = CONF_T_BOOL, .off = UPO(reject_unknown_keys)},
	{.key = "reject_duplicate_keys", .type = CONF_T_BOOL, .off = UPO(reject_duplicate_keys)},
	{.key = "separator", .type = CONF_T_STR, .off = UPO(separator)},
	{.key = "domain_suffix", .type = CONF_T_STR, .off = UPO(domain_suffix)},
	{.key = "http_port", .type = CONF_T_U32, .off = 0, .min = 1, .max = 65535},
	{.key = "socks5_port", .type = CONF_T_U32, .off = sizeof(uint32_t), .min = 1, .max = 65535},
	{.key = "resolve_sticky_key", .type = CONF_T_STR, .off = UPO(resolve_sticky_key)},
	{.key = "strip_suffix_for_auth", .type = CONF_T_BOOL, .off = UPO(strip_suffix_for_auth)},
	{0},
};
#undef UPO

/* Ports are parsed as u32 into a scratch pair, then narrowed: the engine's
 * U32 rows write 4 bytes. The rest of the map goes to the struct itself. */
struct username_params_scratch {
	uint32_t http_port, socks5_port;
};

static int username_params(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct username_params_conf *u = dst;
	struct username_params_scratch ports = {10000, 10000};
	int rc = 0;

	memset(u, 0, sizeof(*u));
	u->require_hierarchy = true;
	u->reject_unknown_keys = true;
	u->reject_duplicate_keys = true;
	u->separator = "-";
	u->strip_suffix_for_auth = true;
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	for (const struct conf_node *k = n->child; k; k = k->next) {
		const struct conf_field *f = NULL;
		char key[64];
		conf_normalize(k->str, k->len, key, sizeof(key));
		for (unsigned i = 0; username_params_fields[i].key; i++)
			if (strcmp(username_params_fields[i].key, key) == 0)
				f = &username_params_fields[i];
		size_t saved = conf_path_push_key(ctx, k->str);
		if (f == NULL) {
			rc = conf_error(ctx, k, "unknown key '%s' in username_params", k->str);
		} else {
			bool is_port =
				strcmp(key, "http_port") == 0 || strcmp(key, "socks5_port") == 0;
			void *base = is_port ? (void *)&ports : (void *)u;
			if (conf_parse_value(ctx, k->value, f, (char *)base + f->off) < 0)
				rc = -EINVAL;
		}
		conf_path_pop(ctx, saved);
	}
	u->http_port = (uint16_t)ports.http_port;
	u->socks5_port = (uint16_t)ports.socks5_port;
	u->set = true;
	return rc;
}

static int transmute_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
			void *arg)
{
	struct socks_proxy_conf *s = arg;
	socklen_t sl;

	if (!pv_parse_ip(k->str, &s->transmute_map[s->n_transmute].from, &sl))
		return conf_error(ctx, k, "invalid IP address '%s'", k->str);
	if (pv_ip_addr(ctx, v, &s->transmute_map[s->n_transmute].to) < 0)
		return -EINVAL;
	s->n_transmute++;
	return 0;
}

static int transmute_udp_echo_ip(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct socks_proxy_conf *s =
		container_of(dst, struct socks_proxy_conf, transmute_udp_echo_ip);

	s->n_transmute = 0;
	if (n->kind == CONF_MAP) {
		s->transmute_map =
			conf_alloc(ctx, (n->nchild ? n->nchild : 1) * sizeof(*s->transmute_map));
		s->transmute_udp_echo_ip = true;
		return pv_foreach_kv(ctx, n, transmute_kv, s);
	}
	if (!pv_is_bool_literal(n))
		return conf_error(ctx, n, "expected a bool or a map of local IP to public IP");
	return conf_get_bool(ctx, n, &s->transmute_udp_echo_ip);
}

/* ---- schemas ------------------------------------------------------------------ */

#define NAME_ROW                                                                                 \
	{                                                                                        \
		.key = "name", .type = CONF_T_CUSTOM, .off = SVO(name), .parse = pv_metric_name, \
		.flags = CONF_F_REQUIRED                                                         \
	}

/* Keys every proxy server (http_proxy, socks_proxy) takes. */
#define PROXY_COMMON_ROWS                                                                       \
	NAME_ROW,                                                                               \
		{.key = "escaper",                                                              \
		 .type = CONF_T_CUSTOM,                                                         \
		 .off = SVO(escaper_name),                                                      \
		 .parse = pv_metric_name,                                                       \
		 .flags = CONF_F_REQUIRED},                                                     \
		C("auditor", auditor_name, pv_metric_name),                                     \
		C("user_group", user_group_name, pv_metric_name),                               \
		C("shared_logger", shared_logger, pv_ascii_str),                                \
		{.key = "listen_in_worker", .type = CONF_T_BOOL, .off = SVO(listen_in_worker)}, \
		C("listen", listen, pv_listen),                                                 \
		C("ingress_network_filter", ingress_net_filter, pv_acl_ingress),                \
		C("ingress_net_filter", ingress_net_filter, pv_acl_ingress),                    \
		C("dst_host_filter_set", dst_host_filter_set, pv_acl_host_set),                 \
		C("dst_port_filter", dst_port_filter, pv_acl_port),                             \
		C("tcp_sock_speed_limit", tcp_sock_speed_limit, pv_tcp_speed_limit),            \
		C("tcp_conn_speed_limit", tcp_sock_speed_limit, pv_tcp_speed_limit),            \
		C("tcp_conn_limit", tcp_sock_speed_limit, pv_tcp_speed_limit),                  \
		C("conn_limit", tcp_sock_speed_limit, pv_tcp_speed_limit),                      \
		{.key = "tcp_copy_buffer_size",                                                 \
		 .type = CONF_T_SIZE,                                                           \
		 .off = SVO(tcp_copy_buffer_size),                                              \
		 .min = 4096},                                                                  \
		{.key = "tcp_copy_yield_size",                                                  \
		 .type = CONF_T_SIZE,                                                           \
		 .off = SVO(tcp_copy_yield_size),                                               \
		 .min = 262144},                                                                \
		C("tcp_misc_opts", tcp_misc_opts, pv_tcp_misc_opts),                            \
		{.key = "task_idle_check_interval",                                             \
		 .type = CONF_T_DURATION,                                                       \
		 .off = SVO(task_idle_check_interval_ms),                                       \
		 .min = 2000,                                                                   \
		 .max = 1800000},                                                               \
		{.key = "task_idle_check_duration",                                             \
		 .type = CONF_T_DURATION,                                                       \
		 .off = SVO(task_idle_check_interval_ms),                                       \
		 .min = 2000,                                                                   \
		 .max = 1800000},                                                               \
		{.key = "task_idle_max_count",                                                  \
		 .type = CONF_T_U32,                                                            \
		 .off = SVO(task_idle_max_count),                                               \
		 .min = 1,                                                                      \
		 .max = UINT32_MAX},                                                            \
		{.key = "flush_task_log_on_created",                                            \
		 .type = CONF_T_BOOL,                                                           \
		 .off = SVO(flush_task_log_on_created)},                                        \
		{.key = "flush_task_log_on_connected",                                          \
		 .type = CONF_T_BOOL,                                                           \
		 .off = SVO(flush_task_log_on_connected)},                                      \
		{.key = "task_log_flush_interval",                                              \
		 .type = CONF_T_DURATION,                                                       \
		 .off = SVO(task_log_flush_interval_ms),                                        \
		 .min = 1},                                                                     \
		C("extra_metrics_tags", extra_metrics_tags, pv_metrics_tags),                   \
		C("username_params", username_params, username_params),                         \
		C("username_params_to_escaper_addr", username_params, username_params)

#define HO(f) SVO(u.http.f)
static const struct conf_field http_proxy_fields[] = {
	PROXY_COMMON_ROWS,
	C("tls_server", tls_server, pv_tls_server),
	C("tls_ticketer", tls_ticketer, pv_tls_ticketer),
	C("local_server_name", u.http.local_server_name, pv_host_list),
	C("server_id", u.http.server_id, pv_http_server_id),
	C("auth_realm", u.http.auth_realm, pv_ascii_str),
	C("tls_client", u.http.tls_client, pv_tls_client),
	C("ftp_client", u.http.ftp_client, ftp_client),
	{.key = "req_header_recv_timeout",
	 .type = CONF_T_DURATION,
	 .off = HO(req_header_recv_timeout_ms),
	 .min = 1},
	{.key = "rsp_header_recv_timeout",
	 .type = CONF_T_DURATION,
	 .off = HO(rsp_header_recv_timeout_ms),
	 .min = 1},
	{.key = "req_header_max_size",
	 .type = CONF_T_SIZE,
	 .off = HO(req_header_max_size),
	 .min = 1},
	{.key = "rsp_header_max_size",
	 .type = CONF_T_SIZE,
	 .off = HO(rsp_header_max_size),
	 .min = 1},
	{.key = "log_uri_max_chars",
	 .type = CONF_T_U32,
	 .off = HO(log_uri_max_chars),
	 .min = 1,
	 .max = UINT32_MAX},
	{.key = "pipeline_size",
	 .type = CONF_T_U32,
	 .off = HO(pipeline_size),
	 .min = 1,
	 .max = UINT32_MAX},
	{.key = "pipeline_read_idle_timeout",
	 .type = CONF_T_DURATION,
	 .off = HO(pipeline_read_idle_timeout_ms),
	 .min = 1},
	{.key = "no_early_error_reply", .type = CONF_T_BOOL, .off = HO(no_early_error_reply)},
	{.key = "allow_custom_host", .type = CONF_T_BOOL, .off = HO(allow_custom_host)},
	{.key = "drop_default_port_in_host",
	 .type = CONF_T_BOOL,
	 .off = HO(drop_default_port_in_host)},
	{.key = "body_line_max_length",
	 .type = CONF_T_U32,
	 .off = HO(body_line_max_length),
	 .min = 1,
	 .max = UINT32_MAX},
	C("http_forward_upstream_keepalive", u.http.http_forward_upstream_keepalive,
	  pv_http_keepalive),
	{.key = "http_forward_mark_upstream",
	 .type = CONF_T_BOOL,
	 .off = HO(http_forward_mark_upstream)},
	{.key = "echo_chained_info", .type = CONF_T_BOOL, .off = HO(echo_chained_info)},
	C("untrusted_read_speed_limit", u.http.untrusted_read_speed_limit, pv_tcp_speed_limit),
	C("untrusted_read_limit", u.http.untrusted_read_speed_limit, pv_tcp_speed_limit),
	C("egress_path_selection_header", u.http.egress_path_selection_header, pv_http_header_name),
	C("path_selection_header", u.http.egress_path_selection_header, pv_http_header_name),
	{.key = "steal_forwarded_for", .type = CONF_T_BOOL, .off = HO(steal_forwarded_for)},
	{0},
};
#undef HO

#define SO(f) SVO(u.socks.f)
static const struct conf_field socks_proxy_fields[] = {
	PROXY_COMMON_ROWS,
	C("udp_sock_speed_limit", udp_sock_speed_limit, pv_udp_speed_limit),
	C("udp_relay_speed_limit", udp_sock_speed_limit, pv_udp_speed_limit),
	C("udp_relay_limit", udp_sock_speed_limit, pv_udp_speed_limit),
	C("relay_limit", udp_sock_speed_limit, pv_udp_speed_limit),
	{.key = "udp_relay_packet_size",
	 .type = CONF_T_SIZE,
	 .off = SVO(udp_relay_packet_size),
	 .min = 1,
	 .max = 16384},
	{.key = "udp_relay_yield_size",
	 .type = CONF_T_SIZE,
	 .off = SVO(udp_relay_yield_size),
	 .min = 1},
	{.key = "udp_relay_batch_size",
	 .type = CONF_T_U32,
	 .off = SVO(udp_relay_batch_size),
	 .min = 1,
	 .max = 1024},
	C("udp_misc_opts", udp_misc_opts, pv_udp_misc_opts),
	{.key = "use_udp_associate", .type = CONF_T_BOOL, .off = SO(use_udp_associate)},
	{.key = "enable_udp_associate", .type = CONF_T_BOOL, .off = SO(use_udp_associate)},
	{.key = "negotiation_timeout",
	 .type = CONF_T_DURATION,
	 .off = SO(negotiation_timeout_ms),
	 .min = 1},
	{.key = "udp_client_initial_timeout",
	 .type = CONF_T_DURATION,
	 .off = SO(udp_client_initial_timeout_ms),
	 .min = 1},
	C("udp_bind_ipv4", u.socks.udp_bind_ipv4, pv_ipv4_list),
	C("udp_bind_ipv6", u.socks.udp_bind_ipv6, pv_ipv6_list),
	{.key = "udp_bind_port_range",
	 .type = CONF_T_CUSTOM,
	 .off = SO(udp_bind_port_range),
	 .parse = pv_port_range,
	 .flags = CONF_F_SEEN,
	 .seen_off = SO(has_udp_bind_port_range)},
	C("udp_socket_buffer", u.socks.udp_socket_buffer, pv_socket_buffer),
	C("transmute_udp_echo_ip", u.socks.transmute_udp_echo_ip, transmute_udp_echo_ip),
	C("auto_reply_local_ip_map", u.socks.transmute_udp_echo_ip, transmute_udp_echo_ip),
	{0},
};
#undef SO

#define PO(f) SVO(u.port.f)
#define PORT_COMMON_ROWS                                                                        \
	NAME_ROW,                                                                               \
		{.key = "listen",                                                               \
		 .type = CONF_T_CUSTOM,                                                         \
		 .off = SVO(listen),                                                            \
		 .parse = pv_listen,                                                            \
		 .flags = CONF_F_REQUIRED},                                                     \
		{.key = "server",                                                               \
		 .type = CONF_T_CUSTOM,                                                         \
		 .off = PO(server_name),                                                        \
		 .parse = pv_metric_name,                                                       \
		 .flags = CONF_F_REQUIRED},                                                     \
		{.key = "listen_in_worker", .type = CONF_T_BOOL, .off = SVO(listen_in_worker)}, \
		C("proxy_protocol", u.port.proxy_protocol, pv_proxy_protocol),                  \
		{.key = "proxy_protocol_read_timeout",                                          \
		 .type = CONF_T_DURATION,                                                       \
		 .off = PO(proxy_protocol_read_timeout_ms),                                     \
		 .min = 1},                                                                     \
		C("ingress_network_filter", ingress_net_filter, pv_acl_ingress),                \
		C("ingress_net_filter", ingress_net_filter, pv_acl_ingress),                    \
		C("tcp_misc_opts", tcp_misc_opts, pv_tcp_misc_opts),                            \
		C("extra_metrics_tags", extra_metrics_tags, pv_metrics_tags)

static const struct conf_field plain_tcp_port_fields[] = {
	PORT_COMMON_ROWS,
	{0},
};

/* intelli_proxy: the port keys without `server`, plus the two servers it
 * dispatches to and the detection timeout. */
static const struct conf_field intelli_proxy_fields[] = {
	NAME_ROW,
	{.key = "listen",
	 .type = CONF_T_CUSTOM,
	 .off = SVO(listen),
	 .parse = pv_listen,
	 .flags = CONF_F_REQUIRED},
	{.key = "http_server",
	 .type = CONF_T_CUSTOM,
	 .off = PO(http_server_name),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	{.key = "socks_server",
	 .type = CONF_T_CUSTOM,
	 .off = PO(socks_server_name),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	{.key = "protocol_detection_timeout",
	 .type = CONF_T_DURATION,
	 .off = PO(protocol_detection_timeout_ms),
	 .min = 1},
	{.key = "listen_in_worker", .type = CONF_T_BOOL, .off = SVO(listen_in_worker)},
	C("proxy_protocol", u.port.proxy_protocol, pv_proxy_protocol),
	{.key = "proxy_protocol_read_timeout",
	 .type = CONF_T_DURATION,
	 .off = PO(proxy_protocol_read_timeout_ms),
	 .min = 1},
	C("ingress_network_filter", ingress_net_filter, pv_acl_ingress),
	C("ingress_net_filter", ingress_net_filter, pv_acl_ingress),
	C("tcp_misc_opts", tcp_misc_opts, pv_tcp_misc_opts),
	C("extra_metrics_tags", extra_metrics_tags, pv_metrics_tags),
	{0},
};

static const struct conf_field plain_tls_port_fields[] = {
	PORT_COMMON_ROWS,
	{.key = "tls_server",
	 .type = CONF_T_CUSTOM,
	 .off = SVO(tls_server),
	 .parse = pv_tls_server,
	 .flags = CONF_F_REQUIRED},
	C("tls_ticketer", tls_ticketer, pv_tls_ticketer),
	{0},
};
#undef PO

static void server_common_defaults(struct server_conf *s)
{
	s->tcp_copy_buffer_size = 16 * 1024;
	s->tcp_copy_yield_size = 1024 * 1024;
	s->udp_relay_packet_size = 4 * 1024;
	s->udp_relay_yield_size = 1024 * 1024;
	s->udp_relay_batch_size = 8;
	s->task_idle_check_interval_ms = 60000;
	s->task_idle_max_count = 5;
	s->tcp_misc_opts.has_no_delay = true;
	s->tcp_misc_opts.no_delay = true;
}

static void http_defaults(void *obj)
{
	struct server_conf *s = obj;
	struct http_proxy_conf *h = &s->u.http;

	server_common_defaults(s);
	h->auth_realm = "proxy";
	tls_client_defaults(&h->tls_client);
	h->tls_client.set = true; /* https forward is on with defaults (g3 1.13) */
	ftp_client_defaults(&h->ftp_client);
	h->req_header_recv_timeout_ms = 30000;
	h->rsp_header_recv_timeout_ms = 60000;
	h->req_header_max_size = 65536;
	h->rsp_header_max_size = 65536;
	h->log_uri_max_chars = 1024;
	h->pipeline_size = 10;
	h->pipeline_read_idle_timeout_ms = 300000;
	h->allow_custom_host = true;
	h->body_line_max_length = 8192;
	http_keepalive_defaults(&h->http_forward_upstream_keepalive);
}

static void socks_defaults(void *obj)
{
	struct server_conf *s = obj;

	server_common_defaults(s);
	s->u.socks.negotiation_timeout_ms = 4000;
	s->u.socks.udp_client_initial_timeout_ms = 30000;
}

static void port_defaults(void *obj)
{
	struct server_conf *s = obj;

	server_common_defaults(s);
	s->u.port.proxy_protocol_read_timeout_ms = 5000;
}

static void intelli_defaults(void *obj)
{
	struct server_conf *s = obj;

	port_defaults(s);
	s->u.port.protocol_detection_timeout_ms = 4000;
}

static const struct conf_schema http_proxy_schema = {
	.name = "http_proxy server",
	.size = sizeof(struct server_conf),
	.fields = http_proxy_fields,
	.defaults = http_defaults,
};
static const struct conf_schema socks_proxy_schema = {
	.name = "socks_proxy server",
	.size = sizeof(struct server_conf),
	.fields = socks_proxy_fields,
	.defaults = socks_defaults,
};
static const struct conf_schema plain_tcp_port_schema = {
	.name = "plain_tcp_port server",
	.size = sizeof(struct server_conf),
	.fields = plain_tcp_port_fields,
	.defaults = port_defaults,
};
static const struct conf_schema plain_tls_port_schema = {
	.name = "plain_tls_port server",
	.size = sizeof(struct server_conf),
	.fields = plain_tls_port_fields,
	.defaults = port_defaults,
};

static const struct conf_schema intelli_proxy_schema = {
	.name = "intelli_proxy server",
	.size = sizeof(struct server_conf),
	.fields = intelli_proxy_fields,
	.defaults = intelli_defaults,
};

static const char *const http_aliases[] = {"httpproxy", NULL};
static const char *const intelli_aliases[] = {"ppdp_tcp_port", NULL};
static const char *const socks_aliases[] = {"socksproxy", NULL};
static const char *const tcp_port_aliases[] = {"plain_tcp", NULL};
static const char *const tls_port_aliases[] = {"plain_tls", NULL};
static const char *const native_tls_aliases[] = {"native_tls", NULL};

static const struct conf_objtype server_types[] = {
	{.name = "http_proxy",
	 .aliases = http_aliases,
	 .schema = &http_proxy_schema,
	 .tag = SERVER_HTTP_PROXY},
	{.name = "socks_proxy",
	 .aliases = socks_aliases,
	 .schema = &socks_proxy_schema,
	 .tag = SERVER_SOCKS_PROXY},
	{.name = "plain_tcp_port",
	 .aliases = tcp_port_aliases,
	 .schema = &plain_tcp_port_schema,
	 .tag = SERVER_PLAIN_TCP_PORT},
	{.name = "plain_tls_port",
	 .aliases = tls_port_aliases,
	 .schema = &plain_tls_port_schema,
	 .tag = SERVER_PLAIN_TLS_PORT},
	/* OpenSSL serves both TLS ports here: native_tls_port is plain_tls_port
	 * (TLCP, its only extra, needs Tongsuo and is not supported) */
	{.name = "native_tls_port",
	 .aliases = native_tls_aliases,
	 .schema = &plain_tls_port_schema,
	 .tag = SERVER_PLAIN_TLS_PORT},
	{.name = "intelli_proxy",
	 .aliases = intelli_aliases,
	 .schema = &intelli_proxy_schema,
	 .tag = SERVER_INTELLI_PROXY},
	{0},
};

static const char *const server_unsupported[] = {
	"plain_quic_port", "tcp_stream",	 "tcpstream",	"tls_stream", "tlsstream",
	"sni_proxy",	   "sniproxy",		 "tcp_tproxy",	"tcptproxy",  "http_rproxy",
	"http_gateway",	   "http_reverse_proxy", "dummy_close", NULL,
};

int pconf_server_parse(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx, void *arg)
{
	void *p = NULL;
	int tag = 0;

	(void)idx;
	(void)arg;
	if (pv_expect_map(ctx, obj) < 0)
		return -EINVAL;
	if (pconf_type_unsupported(ctx, obj, "server", server_unsupported))
		return -EINVAL;
	if (conf_parse_typed(ctx, obj, "server", server_types, &p, &tag) < 0)
		return -EINVAL;
	struct server_conf *s = p;
	s->type = tag;
	s->node = conf_map_get(obj, "name");
	s->map = obj;
	return pconf_register(ctx, PROXYD_KIND_SERVER, s, s->name, s->node);
}
