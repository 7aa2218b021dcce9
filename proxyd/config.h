/* proxyd's typed configuration model: what a g3proxy-shaped YAML file
 * loads into. Every object kind (resolver, escaper, user_group, auditor,
 * server) is a named struct; references between objects are resolved by
 * name after loading, with g3's fallbacks (missing escaper → an internal
 * dummy_deny, missing resolver → deny_all, missing user group → an empty
 * group, missing auditor → a default auditor).
 *
 * Memory: everything hangs off one struct proxyd_conf, which owns the conf
 * arena (all strings, arrays and objects) plus the compiled regexes. It is
 * immutable once loaded and reference counted: proxyd_conf_ref() /
 * proxyd_conf_unref(); the last unref frees it. Any thread may hold a ref. */
#ifndef G3C_PROXYD_CONFIG_H
#define G3C_PROXYD_CONFIG_H

#include <regex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/conf.h"
#include "common/daemon.h"
#include "common/hist.h"
#include "common/util.h"

#define PROXYD_CONF_MAGIC 0x70636f6eu /* "pcon" */

/* ---- shared value types (conf_values.c, conf_acl.c, conf_tls.c) ------- */

/* A list of names or strings: `list` values (single value or sequence). */
struct str_list {
	const char **v;
	size_t n;
};

/* A list of IP addresses, each stored as a full-prefix network. */
struct ip_list {
	struct conf_net *v;
	size_t n;
};

/* static metrics tags: name → value, both metric-safe. */
struct metrics_tag {
	const char *name, *value;
};
struct metrics_srv;
struct metrics_esc;
struct user_group_rt;
struct metrics_tags {
	struct metrics_tag *v;
	size_t n;
};

/* tcp keepalive: bool (enable), duration (idle_time, enabled) or map. */
struct tcp_keepalive_conf {
	bool enable;
	uint64_t idle_time_ms;	    /* 60s */
	uint64_t probe_interval_ms; /* 0 = OS default */
	uint32_t probe_count;	    /* 0 = OS default */
};

/* tcp misc sock opts; each option applies only when its has_ flag is set. */
struct tcp_misc_opts {
	bool has_no_delay, no_delay;
	bool has_mss, has_ttl, has_hop_limit, has_tos, has_traffic_class, has_mark;
	uint32_t mss, ttl, hop_limit, mark;
	uint8_t tos, traffic_class;
	const char *congestion_control; /* NULL = unset */
};

struct udp_misc_opts {
	bool has_ttl, has_hop_limit, has_tos, has_traffic_class, has_mark;
	uint32_t ttl, hop_limit, mark;
	uint8_t tos, traffic_class;
};

struct tcp_connect_conf {
	uint32_t max_retry;	  /* 2 ⇒ 3 tries */
	uint64_t each_timeout_ms; /* 30s */
};

struct happy_eyeballs_conf {
	uint64_t resolution_delay_ms;	       /* 50ms */
	uint64_t second_resolution_timeout_ms; /* 2s */
	uint32_t first_address_family_count;   /* 1 */
	uint64_t connection_attempt_delay_ms;  /* 250ms, 100ms..2s */
};

/* http keepalive: bool, duration (idle_expire, enabled) or map. */
struct http_keepalive_conf {
	bool enable;		 /* true */
	uint64_t idle_expire_ms; /* 60s */
};

/* socket buffer config: size for both or {recv, send}; 0 = not set. */
struct socket_buffer_conf {
	uint64_t recv, send;
};

struct port_range {
	uint16_t start, end;
};

/* tcp listen: int port, "ip:port" or a map. */
struct listen_conf {
	bool set;
	struct sockaddr_storage addr; /* [::]:port for a bare port */
	socklen_t addrlen;
	const char *interface; /* SO_BINDTODEVICE; NULL = unset */
	bool has_keepalive;
	struct tcp_keepalive_conf keepalive;
	bool has_mss, has_mark;
	uint32_t mss;
	uint32_t netfilter_mark;
	uint32_t backlog; /* 4096; values < 8 take the default */
	bool ipv6_only;
	uint32_t instance; /* 1 */
	double scale;	   /* 0 = not scaled */
	bool follow_cpu_affinity;
};

/* Per-socket speed limit: bytes per 2^shift_millis ms slice. */
struct tcp_speed_limit {
	bool set;
	uint8_t shift_millis;	   /* 10 when given as a bare size */
	uint64_t upload, download; /* 0 = delay forever (as g3) */
};

struct udp_speed_limit {
	bool set;
	uint8_t shift_millis;
	uint64_t upload_bytes, download_bytes; /* 0 = no limit */
	uint64_t upload_packets, download_packets;
};

/* Process-wide token buckets (user tcp_all_* / udp_all_*). */
struct global_stream_limit {
	bool set;
	uint64_t replenish_interval_ms; /* 1s */
	uint64_t replenish_bytes;
	uint64_t max_burst_bytes; /* = replenish_bytes */
};

struct global_datagram_limit {
	bool set;
	uint64_t replenish_interval_ms;
	uint64_t replenish_bytes, replenish_packets; /* 0 = not limited */
	uint64_t max_burst_bytes, max_burst_packets;
};

/* Rate limit quota: one cell every replenish_interval_ns, burst max_burst.
 * "1000/s" → 1ms interval, burst 1000. */
struct rate_limit_quota {
	bool set;
	uint64_t replenish_interval_ns;
	uint32_t max_burst;
};

/* random ratio in [0, 1]. */
struct random_ratio {
	bool set;
	double v;
};

enum pick_policy {
	PICK_RANDOM = 0,
	PICK_SERIAL,
	PICK_ROUND_ROBIN,
	PICK_KETAMA,
	PICK_RENDEZVOUS,
	PICK_JUMP_HASH,
};

enum resolve_query {
	RESOLVE_IPV4_FIRST = 0,
	RESOLVE_IPV6_FIRST,
	RESOLVE_IPV4_ONLY,
	RESOLVE_IPV6_ONLY,
};
enum resolve_pick {
	RESOLVE_PICK_RANDOM = 0,
	RESOLVE_PICK_FIRST,
};
struct resolve_strategy {
	bool set;
	enum resolve_query query;
	enum resolve_pick pick;
};

/* resolve redirection: exact host → IPs or a host; parent domain → domain. */
struct resolve_redirect_rule {
	bool parent;	     /* false: exact */
	const char *domain;  /* lower case */
	const char *to_host; /* replacement domain, or NULL when to_ips is used */
	struct ip_list to_ips;
};
struct resolve_redirection {
	struct resolve_redirect_rule *v;
	size_t n;
};

/* ---- ACL rules (conf_acl.c) ------------------------------------------- */

/* Ordered from the most permissive to the strictest; 0 = unset. */
enum acl_action {
	ACL_UNSET = 0,
	ACL_PERMIT,
	ACL_PERMIT_LOG,
	ACL_FORBID,
	ACL_FORBID_LOG,
};

struct acl_net_rec {
	struct conf_net net;
	enum acl_action action;
};
/* Network rule: longest prefix wins, else `missed`. Built-in records
 * (egress/dst-subnet forbids, ingress loopback permits) are included. */
struct acl_net_rule {
	bool set;
	enum acl_action missed;
	struct acl_net_rec *v;
	size_t n;
};

struct acl_port_rec {
	uint16_t lo, hi;
	enum acl_action action;
};
struct acl_port_rule {
	bool set;
	enum acl_action missed;
	struct acl_port_rec *v;
	size_t n;
};

/* exact host / child domain / user-agent product: strings (lower case). */
struct acl_str_rec {
	const char *s;
	bool is_ip;		      /* exact host rules: an IP literal */
	struct sockaddr_storage addr; /* valid when is_ip */
	enum acl_action action;
};
struct acl_str_rule {
	bool set;
	enum acl_action missed;
	struct acl_str_rec *v;
	size_t n;
};

struct acl_regex_rec {
	const char *pattern;
	regex_t *re; /* compiled (REG_EXTENDED|REG_NOSUB); freed with the conf */
	enum acl_action action;
};
struct acl_regex_rule {
	bool set;
	enum acl_action missed;
	struct acl_regex_rec *v;
	size_t n;
};

/* dst host filter set: checked exact → child → regex → subnet; first hit
 * wins, else the strictest `missed` of the rules present. */
struct acl_host_set {
	bool set;
	struct acl_str_rule exact;
	struct acl_str_rule child;
	struct acl_regex_rule regex;
	struct acl_net_rule subnet;
};

enum proxy_request_type {
	PROXY_REQ_HTTP_FORWARD = 0,
	PROXY_REQ_HTTPS_FORWARD,
	PROXY_REQ_FTP_OVER_HTTP,
	PROXY_REQ_HTTP_CONNECT,
	PROXY_REQ_SOCKS_TCP_CONNECT,
	PROXY_REQ_SOCKS_UDP_ASSOCIATE,
	PROXY_REQ__COUNT,
};
struct acl_proxy_request_rule {
	bool set;
	enum acl_action missed;
	enum acl_action action[PROXY_REQ__COUNT]; /* ACL_UNSET = not listed */
};

/* ---- TLS (conf_tls.c) ------------------------------------------------- */

/* A certificate chain and its key, as PEM text (read from a file or given
 * inline); both were parsed once with OpenSSL at load time. */
struct tls_cert_pair {
	const char *cert_pem;
	const char *key_pem;
	const char *cert_src; /* path, or "<inline>" */
};

struct tls_ticketer_conf {
	bool set;
	uint64_t check_interval_ms;	/* 5min */
	uint32_t local_lifetime;	/* 12h in seconds */
	const struct conf_node *source; /* remote source map, kept raw */
};

/* rustls-style server config (tls_server of servers). */
struct tls_server_conf {
	bool set;
	struct tls_cert_pair *pairs;
	size_t n_pairs;
	bool enable_client_auth;
	bool no_session_ticket;
	bool no_session_cache;
	const char *ca_pem;	       /* client auth CAs (PEM, concatenated) or NULL */
	uint64_t handshake_timeout_ms; /* 10s */
};

enum tls_version {
	TLS_VER_UNSET = 0,
	TLS_VER_1_0,
	TLS_VER_1_1,
	TLS_VER_1_2,
	TLS_VER_1_3,
	TLS_VER_TLCP, /* accepted by the parser, rejected by the checker */
};

/* openssl-style client config; `{}` = defaults with system CAs. */
struct tls_client_conf {
	bool set;
	enum tls_version protocol;
	enum tls_version min_version, max_version;
	const char *ciphers; /* ':'-joined, or NULL */
	bool disable_sni;
	bool has_cert_pair;
	struct tls_cert_pair cert_pair;
	const char *ca_pem; /* NULL = system CAs (unless no_default_ca) */
	bool no_default_ca_certificate;
	uint64_t handshake_timeout_ms; /* 10s */
	bool no_session_cache;
	bool use_builtin_session_cache;
	uint32_t session_cache_lru_max_sites; /* 128 */
	uint32_t session_cache_each_capacity; /* 16 */
	const char *supported_groups;
	bool has_ocsp_stapling, use_ocsp_stapling;
	bool has_sct, enable_sct;
	bool has_grease, enable_grease;
	bool has_permute, permute_extensions;
	bool insecure;
};

/* ---- worker ----------------------------------------------------------- */

#define PROXYD_MAX_WORKERS 256

struct worker_affinity {
	unsigned thread; /* worker index */
	uint32_t ncpu;
	uint16_t *cpus;
};

struct worker_conf {
	bool present;			    /* the `worker` key was given */
	uint32_t thread_number;		    /* 0 = CPU count */
	uint32_t thread_number_per_runtime; /* 1 */
	uint64_t thread_stack_size;	    /* 0 = system default */
	bool sched_affinity_auto;	    /* sched_affinity: true */
	struct worker_affinity *affinity;
	size_t n_affinity;
	uint32_t max_io_events_per_tick; /* 1024 */
	uint32_t openssl_async_job_init_size, openssl_async_job_max_size;
};

/* ---- resolvers (conf_resolver.c) -------------------------------------- */

enum resolver_type {
	RESOLVER_C_ARES = 1,
	RESOLVER_DENY_ALL,
	RESOLVER_FAIL_OVER,
};

struct resolver_conf {
	const char *name;
	const struct conf_node *node; /* the `name` value, for messages */
	int type;		      /* enum resolver_type */
	bool internal;		      /* a fallback made for a missing name */
	/* cache runtime (common keys) */
	uint64_t graceful_stop_wait_ms;	      /* 30s */
	uint64_t protective_query_timeout_ms; /* 60s */
	uint32_t positive_min_ttl;	      /* 30 */
	uint32_t positive_max_ttl;	      /* 3600 */
	uint32_t negative_min_ttl;	      /* 30 */
	/* c_ares */
	struct conf_hostport *servers; /* empty = /etc/resolv.conf */
	size_t n_servers;
	uint32_t each_timeout_ms; /* 2000 */
	uint32_t each_tries;	  /* 3 */
	uint32_t max_timeout_ms;  /* 0 = not set */
	uint32_t udp_max_queries; /* 0 = unlimited */
	bool round_robin;
	uint32_t socket_send_buffer_size, socket_recv_buffer_size; /* 0 = unset */
	bool has_bind_ipv4, has_bind_ipv6;
	struct sockaddr_storage bind_ipv4, bind_ipv6;
	/* fail_over: primary first, standby after fallback_delay (or at once
	 * when the primary fails); the first answer with addresses wins */
	const char *primary_name, *standby_name;
	const struct resolver_conf *primary, *standby; /* resolved after loading */
	uint64_t fallback_delay_ms;		       /* 100ms */
	bool retry_empty_record; /* "no such record" from the primary → standby */
};

/* ---- escapers (conf_escaper.c) ---------------------------------------- */

enum escaper_type {
	ESCAPER_DIRECT_FIXED = 1,
	ESCAPER_DUMMY_DENY,
	ESCAPER_ROUTE_GEOIP,
	ESCAPER_ROUTE_UPSTREAM,
	ESCAPER_ROUTE_CLIENT,
	ESCAPER_ROUTE_RESOLVED,
	ESCAPER_ROUTE_MAPPING,
	ESCAPER_ROUTE_FAILOVER,
	ESCAPER_ROUTE_SELECT,
	ESCAPER_ROUTE_QUERY,
	ESCAPER_PROXY_HTTP, /* proxy escapers: conf_escaper_proxy.c */
	ESCAPER_PROXY_HTTPS,
	ESCAPER_PROXY_SOCKS5,
	ESCAPER_PROXY_SOCKS5S,
	ESCAPER_PROXY_FLOAT,  /* peers published at runtime (proxyd/float_pub.h) */
	ESCAPER_DIRECT_FLOAT, /* direct_fixed with bind IPs published at runtime (float_bind.h) */
	ESCAPER_TRICK_FLOAT,  /* weighted random over `next` (route fields, conf_route.c) */
};

/* proxy_http / proxy_https / proxy_socks5 / proxy_socks5s (conf_escaper_proxy.c):
 * one next-hop proxy of proxy_addr. */
struct proxy_peer {
	const char *host; /* domain or IP literal (no brackets), arena */
	uint16_t port;
	bool is_ip;
	struct sockaddr_storage addr; /* when is_ip (port set) */
	double weight;		      /* 1 by default, 0 = never picked */
	const char *id;		      /* "host:port" ("[v6]:port"): pick identity, logs */
};

/* http_forward_capability: what the next HTTP proxy forwards itself
 * (absolute-form); plain http is always forwarded that way. */
struct http_forward_capability {
	bool forward_https;
	bool forward_ftp_get, forward_ftp_put, forward_ftp_del;
};

struct pick_set;
struct proxy_escaper_conf {
	struct proxy_peer *peers;
	size_t n_peers;
	int pick_policy;       /* enum pick_policy: proxy_addr_pick_policy, random */
	struct pick_set *pick; /* over peers, built at load in the arena (dp/pick.h) */
	const char *username;  /* proxy_username, NULL = none */
	const char *password;  /* proxy_password */
	bool pass_proxy_userid;
	struct http_forward_capability fwd_cap;
	uint64_t connect_rsp_header_max_size; /* http_connect_rsp_header_max_size, 4KiB */
	uint64_t peer_negotiation_timeout_ms; /* 10s */
	bool tls;			      /* proxy_https / proxy_socks5s */
	struct tls_client_conf tls_client;
	const char *tls_name; /* NULL = the peer's host */
	bool transmute_udp_peer_ip;
	const struct conf_node *transmute_udp_peer_ip_map; /* raw map form */
	bool end_on_control_closed;
	/* proxy_float: source passive only; published peers in float_pub.h */
	bool source_passive;		  /* source: passive (the only one so far) */
	const char *cache_path;		  /* cache (not used yet) */
	uint64_t refresh_interval_ms;	  /* 1s */
	uint64_t expire_guard_ms;	  /* expire_guard_duration, 5s */
	struct conf_net bind_v4, bind_v6; /* bind_ipv4 / bind_ipv6 (family 0 = unset),
					   * copied into bind_ips */
};

/* route_geoip (conf_geoip.c): one rule of geo_rules. */
struct geo_rule {
	const char *next_name;
	const struct escaper_conf *next; /* resolved after loading (never NULL) */
	struct ip_list networks;
	uint32_t *as_numbers;
	size_t n_as_numbers;
	struct str_list countries;  /* ISO 3166 alpha-2, upper case */
	struct str_list continents; /* AF AN AS EU NA OC SA */
};

struct route_geoip_conf {
	/* ip_locate_service: iplocd's RPC socket and iploc_client's options */
	const char *url; /* nanomsg URL: ipc:// or tcp:// */
	uint64_t query_wait_timeout_ms;
	uint32_t default_expire_ttl, maximum_expire_ttl; /* seconds */
	uint32_t cache_size, batch;
	uint64_t down_backoff_ms;
	struct geo_rule *rules;
	size_t n_rules;
	const char *default_next_name;
	const struct escaper_conf *default_next; /* resolved after loading */
};

/* route_upstream / route_client / route_resolved / route_mapping /
 * route_failover (conf_route.c). Every rule names its next escaper;
 * the names are resolved after loading (pconf_route_foreach_ref). */
struct pick_set;

struct route_host_rule {
	const char *key; /* lower case domain (exact / child / suffix) */
	const char *next_name;
	const struct escaper_conf *next;
};

struct route_net_rule {
	struct conf_net net; /* exact IPs are full-prefix networks */
	const char *next_name;
	const struct escaper_conf *next;
};

struct route_regex_rule {
	const char *parent; /* lower case domain stripped first, or NULL */
	const char *src;    /* the expression as written */
	regex_t *re;	    /* REG_EXTENDED | REG_NOSUB | REG_ICASE, freed with the conf */
	const char *next_name;
	const struct escaper_conf *next;
};

struct route_conf {
	const char *default_next_name;
	const struct escaper_conf *default_next;
	/* route_upstream (exact_hosts / children sorted by key for bsearch);
	 * route_client uses exact_ips and subnets; route_resolved subnets */
	struct route_host_rule *exact_hosts, *children, *suffixes;
	size_t n_exact_hosts, n_children, n_suffixes;
	struct route_net_rule *exact_ips, *subnets;
	size_t n_exact_ips, n_subnets;
	struct route_regex_rule *regexes;
	size_t n_regexes;
	uint64_t resolution_delay_ms; /* route_resolved: 50ms */
	/* route_mapping: next (in order); route_failover: primary, standby */
	const char **next_names;
	const struct escaper_conf **next;
	size_t n_next;
	double *next_weights;  /* route_select: weight per next (1 when not given) */
	int pick_policy;       /* route_select: enum pick_policy, rendezvous */
	struct pick_set *pick; /* route_select: built at load, freed with the config */
	const char *primary_name, *standby_name;
	const struct escaper_conf *primary, *standby;
	uint64_t fallback_delay_ms; /* 100ms */
	/* route_query (conf_query.c): query_allowed_next in next_names / next */
	const char *fallback_name;
	const struct escaper_conf *fallback;
	const char *query_url; /* the agent's nanomsg URL */
	bool query_pass_client_ip;
	uint64_t cache_request_timeout_ms;  /* 100ms: then fallback_node */
	uint64_t query_wait_timeout_ms;	    /* 10s: caps the above */
	uint64_t cache_vanish_wait_ms;	    /* 30s (accepted) */
	uint32_t protective_cache_ttl;	    /* 10 s: failures, ttl 0 */
	uint32_t maximum_cache_ttl;	    /* 1800 s */
	uint32_t cache_request_batch_count; /* 10 (accepted) */
	int cache_pick_policy;		    /* rendezvous, keyed on the client IP */
};

struct escaper_conf {
	const char *name;
	const struct conf_node *node;
	int type; /* enum escaper_type */
	bool internal;
	const char *shared_logger;
	struct metrics_tags extra_metrics_tags;
	/* direct_fixed */
	const char *resolver_name;
	const struct resolver_conf *resolver; /* resolved after loading */
	struct resolve_strategy resolve_strategy;
	struct resolve_redirection resolve_redirection;
	struct ip_list bind_ips;
	const char *bind_interface;
	bool bind_foreign;
	bool bind_foreign_port;
	struct acl_net_rule egress_net_filter; /* always set (g3 defaults) */
	struct tcp_connect_conf tcp_connect;
	struct happy_eyeballs_conf happy_eyeballs;
	struct tcp_keepalive_conf tcp_keepalive;
	struct tcp_misc_opts tcp_misc_opts;
	struct udp_misc_opts udp_misc_opts;
	struct tcp_speed_limit tcp_sock_speed_limit;
	struct udp_speed_limit udp_sock_speed_limit;
	bool no_ipv4, no_ipv6;
	bool enable_path_selection;
	uint8_t use_proxy_protocol; /* 0 = off, 1 or 2 */
	/* direct_float: bind IP cache files (NULL = none), proxyd/float_bind.h */
	const char *cache_ipv4, *cache_ipv6;
	/* set by the runtime (metrics_bind, main thread) before workers see
	 * the config; the counters live in the runtime's registry */
	struct metrics_esc *stats;
	/* route_geoip (resolver_name / resolver / resolve_strategy above too) */
	struct route_geoip_conf geoip;
	/* the other route_* escapers (conf_route.c) */
	struct route_conf route;
	/* proxy_* escapers (resolver, resolve_strategy, no_ipv4/6, bind_ips from
	 * bind_ipv4 / bind_ipv6, tcp_connect, tcp_keepalive, use_proxy_protocol
	 * above too) */
	struct proxy_escaper_conf proxy;
};

/* ---- user groups (conf_user.c) ---------------------------------------- */

enum user_token_type {
	USER_TOKEN_FORBID = 0, /* token absent: the user cannot log in */
	USER_TOKEN_SKIP,       /* token: null — any password */
	USER_TOKEN_CRYPT,      /* crypt(5): $1$ / $5$ / $6$ */
	USER_TOKEN_FAST_HASH,
};

struct user_token {
	enum user_token_type type;
	const char *crypt;
	uint8_t salt[8];
	bool has_md5, has_sha1; /* g3's blake3 is refused at load (no BLAKE3 in OpenSSL) */
	uint8_t md5[16], sha1[20];
};

struct user_audit_conf {
	bool enable_protocol_inspection;
	bool prohibit_unknown_protocol;
	bool prohibit_timeout_protocol; /* true */
	struct random_ratio task_audit_ratio;
};

struct user_site_conf {
	const char *id;
	struct str_list exact_match; /* hosts */
	struct str_list child_match; /* domains */
	struct ip_list subnet_match; /* networks */
	bool emit_stats;
	struct hist_conf duration_stats; /* task.ready.duration quantiles and rotate */
	struct resolve_strategy resolve_strategy;
	struct tls_client_conf tls_client;
	bool has_http_rsp_header_recv_timeout;
	uint64_t http_rsp_header_recv_timeout_ms;
};

struct egress_path_entry {
	const char *escaper;
	const char *value;	      /* id map: string id */
	const struct conf_node *json; /* value map: raw value */
};

struct user_conf {
	const char *name;
	const struct conf_node *node;
	struct user_token token;
	struct str_list match_by_facts;
	bool has_expire;
	int64_t expire_unix; /* seconds since the epoch */
	bool has_block_and_delay;
	uint64_t block_and_delay_ms;
	struct acl_net_rule ingress_net_filter;
	struct acl_proxy_request_rule proxy_request_filter;
	struct acl_host_set dst_host_filter_set;
	struct acl_port_rule dst_port_filter;
	struct acl_str_rule http_user_agent_filter;
	bool has_tcp_connect;
	struct tcp_connect_conf tcp_connect;
	struct tcp_speed_limit tcp_sock_speed_limit;
	struct udp_speed_limit udp_sock_speed_limit;
	struct global_stream_limit tcp_all_upload_speed_limit, tcp_all_download_speed_limit;
	struct global_datagram_limit udp_all_upload_speed_limit, udp_all_download_speed_limit;
	bool has_tcp_remote_keepalive;
	struct tcp_keepalive_conf tcp_remote_keepalive;
	struct tcp_misc_opts tcp_remote_misc_opts, tcp_client_misc_opts;
	struct udp_misc_opts udp_remote_misc_opts, udp_client_misc_opts;
	struct http_keepalive_conf http_upstream_keepalive;
	bool has_http_rsp_header_recv_timeout;
	uint64_t http_rsp_header_recv_timeout_ms;
	struct rate_limit_quota connection_rate_limit;
	struct rate_limit_quota request_rate_limit;
	bool has_request_max_alive;
	uint64_t request_max_alive;
	struct resolve_strategy resolve_strategy;
	struct resolve_redirection resolve_redirection;
	struct rate_limit_quota log_rate_limit;
	bool has_log_uri_max_chars;
	uint32_t log_uri_max_chars;
	bool has_task_idle_max_count;
	uint32_t task_idle_max_count;
	bool socks_use_udp_associate;
	struct user_audit_conf audit;
	struct user_site_conf *explicit_sites;
	size_t n_sites;
	struct egress_path_entry *egress_path_id_map;
	size_t n_egress_path_id;
	struct egress_path_entry *egress_path_value_map;
	size_t n_egress_path_value;
};

enum user_group_type {
	USER_GROUP_BASIC = 1,
};

enum user_source_format {
	USER_SOURCE_FMT_AUTO = 0, /* by extension, else yaml */
	USER_SOURCE_FMT_JSON,
	USER_SOURCE_FMT_YAML,
};

/* The redis user source (g3c addition): hash `key` maps usernames to user
 * JSON. */
struct user_redis_conf {
	const char *host;		 /* IP literal or name */
	uint16_t port;			 /* 6379 */
	uint32_t db;			 /* SELECT when non-zero */
	const char *username, *password; /* NULL = no AUTH */
	const char *key;
	uint64_t connect_timeout_ms;  /* 5s */
	uint64_t response_timeout_ms; /* 5s */
};

struct user_group_conf {
	const char *name;
	const struct conf_node *node;
	int type; /* enum user_group_type */
	bool internal;
	struct user_conf *static_users;
	size_t n_static_users;
	bool has_anonymous_user;
	struct user_conf anonymous_user;
	const char *source_path; /* file source, resolved; NULL = no source */
	enum user_source_format source_format;
	const char *cache_path;
	uint64_t refresh_interval_ms;	     /* 60s */
	const struct user_redis_conf *redis; /* redis source; NULL = none */
	/* set by the runtime (user_groups_bind, main thread) before workers see
	 * the config: the group's users (proxyd/user_table.h) */
	struct user_group_rt *rt;
};

/* ---- auditors (conf_auditor.c) ---------------------------------------- */

enum inspect_action {
	INSPECT_INTERCEPT = 0,
	INSPECT_BYPASS,
	INSPECT_BLOCK,
	INSPECT_DETOUR,
};

struct inspect_policy_rec {
	const char *host; /* exact / child: lower case */
	bool child;
	bool subnet;
	struct conf_net net; /* subnet */
	enum inspect_action action;
};
struct inspect_policy {
	enum inspect_action def; /* intercept */
	struct inspect_policy_rec *v;
	size_t n;
};

struct auditor_conf {
	const char *name;
	const struct conf_node *node;
	bool internal;
	struct random_ratio task_audit_ratio; /* 1.0 */
	uint32_t log_uri_max_chars;	      /* 1024 */
	struct inspect_policy h2_inspect_policy, websocket_inspect_policy;
	struct inspect_policy smtp_inspect_policy, imap_inspect_policy;
	/* Accepted and kept raw until their features land (maps, or a string
	 * where g3 allows one). NULL = not set. */
	const struct conf_node *protocol_inspection;
	const struct conf_node *server_tcp_portmap;
	const struct conf_node *client_tcp_portmap;
	const struct conf_node *tls_cert_agent;
	const struct conf_node *tls_interception_client;
	const struct conf_node *tls_interception_server;
	const struct conf_node *tls_stream_dump;
	const struct conf_node *h1_interception;
	const struct conf_node *h2_interception;
	const struct conf_node *smtp_interception;
	const struct conf_node *imap_interception;
	const struct conf_node *icap_reqmod_service;
	const struct conf_node *icap_respmod_service;
	const struct conf_node *stream_detour_service;
	struct tls_ticketer_conf tls_ticketer;
};

/* ---- servers (conf_server.c) ------------------------------------------ */

enum server_type {
	SERVER_HTTP_PROXY = 1,
	SERVER_SOCKS_PROXY,
	SERVER_PLAIN_TCP_PORT,
	SERVER_PLAIN_TLS_PORT,
	SERVER_INTELLI_PROXY,
};

struct username_params_conf {
	bool set;
	struct str_list keys_for_host;
	bool require_hierarchy; /* true */
	struct str_list floating_keys;
	bool reject_unknown_keys;   /* true */
	bool reject_duplicate_keys; /* true */
	const char *separator;	    /* "-" */
	const char *domain_suffix;
	uint16_t http_port;   /* 10000 */
	uint16_t socks5_port; /* 10000 */
	const char *resolve_sticky_key;
	bool strip_suffix_for_auth; /* true */
};

struct ftp_client_conf {
	uint32_t control_max_line_len;	       /* 2048 */
	uint32_t control_max_multi_lines;      /* 128 */
	uint64_t control_command_timeout_ms;   /* 10s */
	uint32_t transfer_list_max_line_len;   /* 2048 */
	uint32_t transfer_list_max_entries;    /* 1024 */
	uint64_t transfer_list_all_timeout_ms; /* 120s, max 300s */
	uint64_t transfer_end_wait_timeout_ms; /* 10s */
	uint64_t connect_timeout_ms;	       /* 30s */
	uint64_t greeting_timeout_ms;	       /* 10s */
	bool always_try_epsv;		       /* true */
};

struct http_proxy_conf {
	struct str_list local_server_name;
	const char *server_id;
	const char *auth_realm;		   /* "proxy" */
	struct tls_client_conf tls_client; /* always set (defaults) */
	struct ftp_client_conf ftp_client;
	uint64_t req_header_recv_timeout_ms;	/* 30s */
	uint64_t rsp_header_recv_timeout_ms;	/* 60s */
	uint64_t req_header_max_size;		/* 64KiB */
	uint64_t rsp_header_max_size;		/* 64KiB */
	uint32_t log_uri_max_chars;		/* 1024 */
	uint32_t pipeline_size;			/* 10 */
	uint64_t pipeline_read_idle_timeout_ms; /* 5min */
	bool no_early_error_reply;
	bool allow_custom_host; /* true */
	bool drop_default_port_in_host;
	uint32_t body_line_max_length; /* 8192 */
	struct http_keepalive_conf http_forward_upstream_keepalive;
	bool http_forward_mark_upstream;
	bool echo_chained_info;
	struct tcp_speed_limit untrusted_read_speed_limit;
	const char *egress_path_selection_header;
	bool steal_forwarded_for;
};

struct socks_proxy_conf {
	bool use_udp_associate;
	uint64_t negotiation_timeout_ms;	/* 4s */
	uint64_t udp_client_initial_timeout_ms; /* 30s */
	struct ip_list udp_bind_ipv4, udp_bind_ipv6;
	bool has_udp_bind_port_range;
	struct port_range udp_bind_port_range;
	struct socket_buffer_conf udp_socket_buffer;
	bool transmute_udp_echo_ip; /* enabled (bool true or a map) */
	struct {
		struct sockaddr_storage from, to;
	} * transmute_map;
	size_t n_transmute;
};

struct port_server_conf {
	const char *server_name;		 /* next server */
	const struct server_conf *server;	 /* resolved; NULL if missing */
	uint8_t proxy_protocol;			 /* 0, 1, 2 */
	uint64_t proxy_protocol_read_timeout_ms; /* 5s */
	/* intelli_proxy: SOCKS (first byte 4 or 5) or HTTP by the first byte */
	const char *http_server_name, *socks_server_name;
	const struct server_conf *http_server, *socks_server; /* resolved; NULL if missing */
	uint64_t protocol_detection_timeout_ms;		      /* 4s */
};

struct server_conf {
	const char *name;
	const struct conf_node *node;
	const struct conf_node *map; /* the object's map, for messages */
	int type;		     /* enum server_type */
	/* references (names as written, objects resolved after loading) */
	const char *escaper_name;
	const char *user_group_name;
	const char *auditor_name;
	const struct escaper_conf *escaper;	  /* never NULL after loading (proxy servers) */
	const struct user_group_conf *user_group; /* NULL = no auth */
	const struct auditor_conf *auditor;	  /* never NULL after loading (proxy servers) */
	/* common keys */
	struct listen_conf listen;
	bool listen_in_worker;
	const char *shared_logger;
	struct tls_server_conf tls_server;
	struct tls_ticketer_conf tls_ticketer;
	struct acl_net_rule ingress_net_filter;
	struct acl_host_set dst_host_filter_set;
	struct acl_port_rule dst_port_filter;
	struct tcp_speed_limit tcp_sock_speed_limit;
	struct udp_speed_limit udp_sock_speed_limit;
	uint64_t tcp_copy_buffer_size;	/* 16K, min 4K */
	uint64_t tcp_copy_yield_size;	/* 1M, min 256K */
	uint64_t udp_relay_packet_size; /* 4K, max 16K */
	uint64_t udp_relay_yield_size;	/* 1M */
	uint32_t udp_relay_batch_size;	/* 8 */
	struct tcp_misc_opts tcp_misc_opts;
	struct udp_misc_opts udp_misc_opts;
	uint64_t task_idle_check_interval_ms; /* 60s, 2s..30min */
	uint32_t task_idle_max_count;	      /* 5 */
	bool flush_task_log_on_created;
	bool flush_task_log_on_connected;
	uint64_t task_log_flush_interval_ms; /* 0 = not set */
	struct metrics_tags extra_metrics_tags;
	struct username_params_conf username_params;
	struct metrics_srv *stats; /* see escaper_conf.stats */
	union {
		struct http_proxy_conf http;
		struct socks_proxy_conf socks;
		struct port_server_conf port;
	} u;
};

/* ---- the whole configuration ------------------------------------------ */

enum proxyd_kind {
	PROXYD_KIND_RESOLVER = 0,
	PROXYD_KIND_ESCAPER,
	PROXYD_KIND_USER_GROUP,
	PROXYD_KIND_AUDITOR,
	PROXYD_KIND_SERVER,
	PROXYD_KIND__COUNT,
};

/* Growable pointer array (malloc'd; the objects live in the arena). */
struct obj_vec {
	void **v;
	size_t n, cap;
};

struct proxyd_conf {
	uint32_t magic;
	atomic_uint refs;
	struct conf_arena *arena;
	struct daemon_conf common;
	struct worker_conf worker;
	/* Objects by kind, in load order; internal fallbacks are appended. */
	struct obj_vec objs[PROXYD_KIND__COUNT];
	/* Regexes compiled during the load (regfree'd on free). */
	regex_t **regexes;
	size_t n_regexes, cap_regexes;
	/* Pick tables built during the load (route_select; freed on free). */
	struct pick_set **picks;
	size_t n_picks, cap_picks;
	/* The auditor of servers without an `auditor` key (internal). */
	const struct auditor_conf *default_auditor;
	uint32_t runtime_thread_number;	     /* runtime.thread_number, 0 = unset */
	unsigned loaded[PROXYD_KIND__COUNT]; /* objects from the file(s) */
	unsigned fallbacks;		     /* internal objects made for missing names */
};

/* Load and validate `path` (file or directory) with ctx (initialised by the
 * caller). Returns an owned config (refs = 1; takes ctx's arena) or NULL with
 * every error recorded in ctx. Does not touch running state. */
struct proxyd_conf *proxyd_conf_load(struct conf_ctx *ctx, const char *path) MUST_CHECK;
/* Same from a YAML buffer (tests, fuzzers); `name` is the file name shown in
 * messages and relative paths resolve against the current directory. */
struct proxyd_conf *proxyd_conf_load_buffer(struct conf_ctx *ctx, const char *name,
					    const char *data, size_t len) MUST_CHECK;

struct proxyd_conf *proxyd_conf_ref(struct proxyd_conf *c);
/* Drop a reference; the last one frees everything. NULL is accepted. */
void proxyd_conf_unref(struct proxyd_conf *c);
/* Configs loaded and not yet freed in this process (tests, status). */
uint64_t proxyd_conf_live(void);

/* Lookup by name (borrowed; NULL when absent). */
const struct server_conf *proxyd_conf_server(const struct proxyd_conf *c, const char *name);
const struct escaper_conf *proxyd_conf_escaper(const struct proxyd_conf *c, const char *name);
const struct resolver_conf *proxyd_conf_resolver(const struct proxyd_conf *c, const char *name);
/* Two resolver configs that resolve alike (every key equal; a fail_over's
 * primary / standby compared by name): a reload keeps the cache of such a
 * resolver (conf_resolver.c). */
bool resolver_conf_same(const struct resolver_conf *a, const struct resolver_conf *b);
const struct user_group_conf *proxyd_conf_user_group(const struct proxyd_conf *c, const char *name);
const struct auditor_conf *proxyd_conf_auditor(const struct proxyd_conf *c, const char *name);

/* Names used in messages: "server", "escaper", "resolver", "user group", "auditor". */
const char *proxyd_kind_name(enum proxyd_kind k);

/* Worker thread count this config asks for (worker.thread_number, else
 * runtime.thread_number, else the CPU count), clamped to 1..PROXYD_MAX_WORKERS. */
unsigned proxyd_conf_worker_count(const struct proxyd_conf *c);

#endif
