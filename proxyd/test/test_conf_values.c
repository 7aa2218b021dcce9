/* proxyd value formats (g3proxy §1.12 and §1.5.4): each accepted form lands
 * in the typed model, each bad form is refused with a clear message. */
#include "proxyd/test/proxyd_fixture.h"

#include <arpa/inet.h>

#include "proxyd/conf_int.h"

/* A config with one http_proxy server "s" whose extra keys are `extra`
 * (indented by 4). */
static const struct server_conf *load_server(struct fx_load *l, const char *type, const char *extra)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml),
		 "escaper:\n  - {name: e, type: dummy_deny}\n"
		 "server:\n  - name: s\n    type: %s\n    escaper: e\n%s",
		 type, extra);
	FX_LOAD_OK(l, yaml);
	return proxyd_conf_server(l->conf, "s");
}

static const struct user_conf *load_user(struct fx_load *l, const char *extra)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml),
		 "user_group:\n  - name: g\n    static_users:\n      - name: u\n%s", extra);
	FX_LOAD_OK(l, yaml);
	return &proxyd_conf_user_group(l->conf, "g")->static_users[0];
}

static const struct escaper_conf *load_escaper(struct fx_load *l, const char *extra)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml),
		 "resolver:\n  - {name: r, type: deny_all}\n"
		 "escaper:\n  - name: e\n    type: direct_fixed\n    resolver: r\n%s",
		 extra);
	FX_LOAD_OK(l, yaml);
	return proxyd_conf_escaper(l->conf, "e");
}

static uint16_t sa_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* ---- listen ------------------------------------------------------------------------ */

static void test_listen(void **state)
{
	struct fx_load l;
	const struct server_conf *s;

	(void)state;
	s = load_server(&l, "http_proxy", "    listen: 3128\n");
	assert_true(s->listen.set);
	assert_int_equal(s->listen.addr.ss_family, AF_INET6); /* [::]:3128 */
	assert_int_equal(sa_port(&s->listen.addr), 3128);
	assert_int_equal(s->listen.backlog, 4096);
	assert_int_equal(s->listen.instance, 1);
	fx_done(&l);

	s = load_server(&l, "http_proxy", "    listen: \"[::1]:8080\"\n");
	assert_int_equal(s->listen.addr.ss_family, AF_INET6);
	assert_int_equal(sa_port(&s->listen.addr), 8080);
	fx_done(&l);

	s = load_server(&l, "socks_proxy",
			"    listen:\n"
			"      address: 127.0.0.1:1080\n"
			"      interface: lo\n"
			"      keepalive: 30s\n"
			"      mss: 1400\n"
			"      backlog: 4\n"
			"      netfilter_mark: 7\n"
			"      ipv6_only: false\n"
			"      instance: 2\n"
			"      scale: 50%\n"
			"      follow_cpu_affinity: true\n");
	assert_int_equal(s->listen.addr.ss_family, AF_INET);
	assert_int_equal(sa_port(&s->listen.addr), 1080);
	assert_string_equal(s->listen.interface, "lo");
	assert_true(s->listen.has_keepalive && s->listen.keepalive.enable);
	assert_int_equal(s->listen.keepalive.idle_time_ms, 30000);
	assert_true(s->listen.has_mss);
	assert_int_equal(s->listen.mss, 1400);
	assert_int_equal(s->listen.backlog, 4096); /* below 8 takes the default */
	assert_true(s->listen.has_mark);
	assert_int_equal(s->listen.netfilter_mark, 7);
	assert_int_equal(s->listen.instance, 2);
	assert_true(s->listen.scale == 0.5);
	assert_true(s->listen.follow_cpu_affinity);
	fx_done(&l);

	s = load_server(
		&l, "http_proxy",
		"    listen: {address: \"0.0.0.0:80\", scale: 1/4, max_segment_size: 1200}\n");
	assert_true(s->listen.scale == 0.25);
	assert_int_equal(s->listen.mss, 1200);
	fx_done(&l);
	s = load_server(&l, "http_proxy", "    listen: {address: \"0.0.0.0:80\", scale: 0.5}\n");
	assert_true(s->listen.scale == 0.5);
	fx_done(&l);

	setenv("PROXYD_TEST_LISTEN", "127.0.0.2:9090", 1);
	s = load_server(&l, "http_proxy", "    listen: $PROXYD_TEST_LISTEN\n");
	assert_int_equal(sa_port(&s->listen.addr), 9090);
	fx_done(&l);

	FX_LOAD_ERR_HAS("server:\n  - {name: s, type: http_proxy, escaper: e, listen: 0}\n",
			"server[0].listen: port 0 out of range (1..65535)");
	FX_LOAD_ERR_HAS("server:\n  - {name: s, type: http_proxy, escaper: e, listen: 1.2.3.4}\n",
			"invalid listen address '1.2.3.4': expected ip:port");
	FX_LOAD_ERR_HAS("server:\n  - {name: s, type: http_proxy, escaper: e, listen: 'host:80'}\n",
			"invalid listen address 'host:80': 'host' is not an IP address");
	FX_LOAD_ERR_HAS("server:\n  - {name: s, type: http_proxy, escaper: e, listen: [80]}\n",
			"expected a port, \"ip:port\" or a map, got a sequence");
	FX_LOAD_ERR_HAS(
		"server:\n  - {name: s, type: http_proxy, escaper: e, listen: {port: 80}}\n",
		"missing required key 'address'");
	FX_LOAD_ERR_HAS(
		"server:\n  - {name: s, type: http_proxy, escaper: e, listen: $PROXYD_NOPE}\n",
		"environment variable PROXYD_NOPE is not set");
}

/* ---- speed and rate limits ----------------------------------------------------------- */

static void test_speed_limits(void **state)
{
	struct fx_load l;
	const struct server_conf *s;
	const struct user_conf *u;

	(void)state;
	s = load_server(&l, "socks_proxy",
			"    tcp_sock_speed_limit: 10M\n"
			"    udp_sock_speed_limit: {shift: 8, upload_bytes: 1KiB, "
			"download_packets: 100}\n");
	assert_true(s->tcp_sock_speed_limit.set);
	assert_int_equal(s->tcp_sock_speed_limit.shift_millis, 10);
	assert_int_equal(s->tcp_sock_speed_limit.upload, 10000000);
	assert_int_equal(s->tcp_sock_speed_limit.download, 10000000);
	assert_int_equal(s->udp_sock_speed_limit.shift_millis, 8);
	assert_int_equal(s->udp_sock_speed_limit.upload_bytes, 1024);
	assert_int_equal(s->udp_sock_speed_limit.download_packets, 100);
	fx_done(&l);

	/* deprecated aliases and north/south spellings */
	s = load_server(&l, "http_proxy",
			"    tcp_conn_limit: {shift_millis: 12, north: 1K, south: 2K}\n");
	assert_int_equal(s->tcp_sock_speed_limit.shift_millis, 12);
	assert_int_equal(s->tcp_sock_speed_limit.upload, 1000);
	assert_int_equal(s->tcp_sock_speed_limit.download, 2000);
	fx_done(&l);
	s = load_server(&l, "socks_proxy", "    relay_limit: 500K\n");
	assert_int_equal(s->udp_sock_speed_limit.upload_bytes, 500000);
	fx_done(&l);

	u = load_user(&l, "        tcp_all_upload_speed_limit: 1M\n"
			  "        udp_all_download_speed_limit: {replenish_interval: 100ms, "
			  "replenish_packets: 10}\n");
	assert_true(u->tcp_all_upload_speed_limit.set);
	assert_int_equal(u->tcp_all_upload_speed_limit.replenish_interval_ms, 1000);
	assert_int_equal(u->tcp_all_upload_speed_limit.replenish_bytes, 1000000);
	assert_int_equal(u->tcp_all_upload_speed_limit.max_burst_bytes, 1000000);
	assert_int_equal(u->udp_all_download_speed_limit.replenish_interval_ms, 100);
	assert_int_equal(u->udp_all_download_speed_limit.replenish_packets, 10);
	assert_int_equal(u->udp_all_download_speed_limit.max_burst_packets, 10);
	fx_done(&l);

	FX_LOAD_ERR_HAS("server:\n  - {name: s, type: http_proxy, escaper: e, "
			"tcp_sock_speed_limit: fast}\n",
			"server[0].tcp_sock_speed_limit:");
	FX_LOAD_ERR_HAS("server:\n  - {name: s, type: http_proxy, escaper: e, "
			"tcp_sock_speed_limit: {upload: 1M, sideways: 1}}\n",
			"unknown key 'sideways'");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - name: u\n"
			"        udp_all_upload_speed_limit: {replenish_interval: 1s}\n",
			"set replenish_bytes or replenish_packets (or both)");
}

static void test_rate_limits(void **state)
{
	struct fx_load l;
	const struct user_conf *u;

	(void)state;
	u = load_user(&l, "        request_rate_limit: 1000/s\n"
			  "        connection_rate_limit: 60/m\n"
			  "        log_rate_limit: 10\n");
	assert_int_equal(u->request_rate_limit.replenish_interval_ns, 1000000);
	assert_int_equal(u->request_rate_limit.max_burst, 1000);
	assert_int_equal(u->connection_rate_limit.replenish_interval_ns, 1000000000ull);
	assert_int_equal(u->connection_rate_limit.max_burst, 60);
	assert_int_equal(u->log_rate_limit.replenish_interval_ns, 100000000);
	fx_done(&l);

	u = load_user(&l, "        request_limit_quota: 2/h\n"
			  "        tcp_conn_rate_limit: {rate: 10/s, max_burst: 3}\n"
			  "        log_limit_quota: {replenish_interval: 2s}\n");
	assert_int_equal(u->request_rate_limit.replenish_interval_ns, 1800000000000ull);
	assert_int_equal(u->request_rate_limit.max_burst, 2);
	assert_int_equal(u->connection_rate_limit.replenish_interval_ns, 100000000);
	assert_int_equal(u->connection_rate_limit.max_burst, 3);
	assert_int_equal(u->log_rate_limit.replenish_interval_ns, 2000000000ull);
	assert_int_equal(u->log_rate_limit.max_burst, 1);
	fx_done(&l);

	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, "
			"request_rate_limit: 0}\n",
			"request_rate_limit: rate must not be 0");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, "
			"request_rate_limit: {max_burst: 3}}\n",
			"a rate limit quota needs 'rate' or 'replenish_interval'");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, "
			"request_rate_limit: {rate: 5/s, max_burst: 0}}\n",
			"request_rate_limit.max_burst:");
}

static void test_random_ratio(void **state)
{
	static const struct {
		const char *v;
		double want;
	} good[] = {{"0.25", 0.25}, {"1/4", 0.25}, {"25%", 0.25}, {"true", 1.0},
		    {"false", 0.0}, {"0", 0.0},	   {"1", 1.0}};
	struct fx_load l;
	char yaml[256];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		snprintf(yaml, sizeof(yaml), "auditor:\n  - {name: a, task_audit_ratio: %s}\n",
			 good[i].v);
		FX_LOAD_OK(&l, yaml);
		assert_true(proxyd_conf_auditor(l.conf, "a")->task_audit_ratio.v == good[i].want);
		fx_done(&l);
	}
	FX_LOAD_OK(&l, "auditor:\n  - {name: a, application_audit_ratio: 50%}\n");
	assert_true(proxyd_conf_auditor(l.conf, "a")->task_audit_ratio.v == 0.5);
	fx_done(&l);
	FX_LOAD_ERR_HAS("auditor:\n  - {name: a, task_audit_ratio: 2}\n", "invalid ratio '2'");
	FX_LOAD_ERR_HAS("auditor:\n  - {name: a, task_audit_ratio: 3/2}\n", "invalid ratio '3/2'");
	FX_LOAD_ERR_HAS("auditor:\n  - {name: a, task_audit_ratio: 1/0}\n", "invalid ratio '1/0'");
}

/* ---- ACL rules ------------------------------------------------------------------------ */

static void test_acl_network(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;
	const struct server_conf *s;

	(void)state;
	/* no filter: permit with g3's built-in forbids */
	e = load_escaper(&l, "");
	assert_true(e->egress_net_filter.set);
	assert_int_equal(e->egress_net_filter.missed, ACL_PERMIT);
	assert_int_equal(e->egress_net_filter.n, 7);
	fx_done(&l);

	/* a bare list: only these; the built-ins stay */
	e = load_escaper(&l, "    egress_net_filter: [10.0.0.0/8, \"2001:db8::/32\"]\n");
	assert_int_equal(e->egress_net_filter.missed, ACL_FORBID);
	assert_int_equal(e->egress_net_filter.n, 9);
	assert_int_equal(e->egress_net_filter.v[7].action, ACL_PERMIT);
	assert_int_equal(e->egress_net_filter.v[8].net.family, AF_INET6);
	fx_done(&l);

	/* aliases of every action; a user record replaces the built-in one */
	e = load_escaper(&l, "    egress_network_filter:\n"
			     "      default: reject\n"
			     "      accept: 127.0.0.0/8\n"
			     "      deny_log: 192.168.0.0/16\n"
			     "      allow_log: [1.1.1.1]\n");
	assert_int_equal(e->egress_net_filter.missed, ACL_FORBID);
	assert_int_equal(e->egress_net_filter.n, 9);
	assert_int_equal(e->egress_net_filter.v[1].net.addr[0], 127);
	assert_int_equal(e->egress_net_filter.v[1].action, ACL_PERMIT);
	assert_int_equal(e->egress_net_filter.v[7].action, ACL_FORBID_LOG);
	assert_int_equal(e->egress_net_filter.v[8].action, ACL_PERMIT_LOG);
	assert_int_equal(e->egress_net_filter.v[8].net.prefix, 32);
	fx_done(&l);

	/* ingress: loopback permitted by default */
	s = load_server(&l, "http_proxy",
			"    ingress_net_filter: {default: forbid, permit: 10.1.0.0/16}\n");
	assert_int_equal(s->ingress_net_filter.n, 3);
	assert_int_equal(s->ingress_net_filter.v[0].action, ACL_PERMIT);
	assert_int_equal(s->ingress_net_filter.v[0].net.prefix, 32);
	fx_done(&l);

	FX_LOAD_ERR_HAS(
		"server:\n  - {name: s, type: http_proxy, escaper: e, ingress_network_filter: "
		"{default: maybe}}\n",
		"invalid acl action 'maybe'");
	FX_LOAD_ERR_HAS(
		"server:\n  - {name: s, type: http_proxy, escaper: e, ingress_network_filter: "
		"[not-a-net]}\n",
		"ingress_network_filter[0]:");
}

static void test_acl_ports_hosts(void **state)
{
	struct fx_load l;
	const struct user_conf *u;

	(void)state;
	u = load_user(&l,
		      "        dst_port_filter: [80, \"443\", \"8000-8100\", \"1,2,3-5\"]\n"
		      "        dst_host_filter_set:\n"
		      "          exact_match: {default: forbid, permit: [Example.COM, 192.0.2.1]}\n"
		      "          child_match: {forbid_log: bad.org}\n"
		      "          regex_match: {permit: ['^api[0-9]+\\.example\\.net$']}\n"
		      "          subnet_match: {permit: 10.0.0.0/8}\n"
		      "        proxy_request_filter: [HttpForward, http_connect, SocksTcpConnect]\n"
		      "        http_user_agent_filter: [curl, Wget]\n");
	assert_int_equal(u->dst_port_filter.missed, ACL_FORBID);
	assert_int_equal(u->dst_port_filter.n, 6);
	assert_int_equal(u->dst_port_filter.v[2].lo, 8000);
	assert_int_equal(u->dst_port_filter.v[2].hi, 8100);
	assert_int_equal(u->dst_port_filter.v[5].lo, 3);
	assert_int_equal(u->dst_port_filter.v[5].hi, 5);

	const struct acl_host_set *h = &u->dst_host_filter_set;
	assert_true(h->set);
	assert_int_equal(h->exact.n, 2);
	assert_string_equal(h->exact.v[0].s, "example.com");
	assert_false(h->exact.v[0].is_ip);
	assert_true(h->exact.v[1].is_ip);
	assert_int_equal(h->child.missed, ACL_FORBID);
	assert_int_equal(h->child.v[0].action, ACL_FORBID_LOG);
	assert_int_equal(h->regex.n, 1);
	assert_non_null(h->regex.v[0].re);
	assert_int_equal(regexec(h->regex.v[0].re, "api12.example.net", 0, NULL, 0), 0);
	assert_int_not_equal(regexec(h->regex.v[0].re, "www.example.net", 0, NULL, 0), 0);
	assert_int_equal(h->subnet.v[h->subnet.n - 1].action, ACL_PERMIT);

	assert_int_equal(u->proxy_request_filter.action[PROXY_REQ_HTTP_FORWARD], ACL_PERMIT);
	assert_int_equal(u->proxy_request_filter.action[PROXY_REQ_HTTP_CONNECT], ACL_PERMIT);
	assert_int_equal(u->proxy_request_filter.action[PROXY_REQ_SOCKS_UDP_ASSOCIATE], ACL_UNSET);
	assert_int_equal(u->proxy_request_filter.missed, ACL_FORBID);
	/* user agents: inverted defaults */
	assert_int_equal(u->http_user_agent_filter.missed, ACL_PERMIT);
	assert_int_equal(u->http_user_agent_filter.v[1].action, ACL_FORBID);
	assert_string_equal(u->http_user_agent_filter.v[1].s, "wget");
	fx_done(&l);

	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, "
			"dst_port_filter: 70000}\n",
			"invalid port '70000'");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, "
			"dst_host_filter_set: {child_match: .example.com}}\n",
			"a leading '.' is not allowed");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, "
			"dst_host_filter_set: {fuzzy_match: x}}\n",
			"unknown key 'fuzzy_match'");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, "
			"proxy_request_filter: [Teleport]}\n",
			"invalid proxy request type 'Teleport'");
}

/* ---- tokens ------------------------------------------------------------------------- */

static void test_tokens(void **state)
{
	struct fx_load l;
	const struct user_group_conf *g;

	(void)state;
	FX_LOAD_OK(
		&l,
		"user_group:\n"
		"  - name: g\n"
		"    static_users:\n"
		"      - {name: absent}\n"
		"      - {name: nulltok, token: null}\n"
		"      - {name: tilde, token: ~}\n"
		"      - {name: md5crypt, token: '$1$abcdefgh$pK0Bp1VYQIo78LEcSA7zK0'}\n"
		"      - {name: sha256, token: '$5$rounds=5000$saltsalt$"
		"KS2O/frx9VfZSuO8w8TmD12pwbGJ87yjt.0fQrwSHU5'}\n"
		"      - {name: sha512, token: '$6$saltsalt$"
		"imNpoTToxg0uElWe0jkumPeYaSbMjdfpMltx4ujhl6fBM0Kbfp4goTvuYuH/9J.53A/DGQiRrlELi.Z/"
		"L.rQo/'}\n"
		"      - name: xcrypt\n"
		"        token: {type: xcrypt_hash, value: '$1$abcdefgh$pK0Bp1VYQIo78LEcSA7zK0'}\n"
		"      - name: fast\n"
		"        token:\n"
		"          type: fast_hash\n"
		"          salt: 0011223344556677\n"
		"          sha1: "
		"00112233445566778899aabbccddeeff001122FF\n");
	g = proxyd_conf_user_group(l.conf, "g");
	assert_int_equal(g->n_static_users, 8);
	assert_int_equal(g->static_users[0].token.type, USER_TOKEN_FORBID);
	assert_int_equal(g->static_users[1].token.type, USER_TOKEN_SKIP);
	assert_int_equal(g->static_users[2].token.type, USER_TOKEN_SKIP);
	assert_int_equal(g->static_users[3].token.type, USER_TOKEN_CRYPT);
	assert_int_equal(g->static_users[4].token.type, USER_TOKEN_CRYPT);
	assert_int_equal(g->static_users[5].token.type, USER_TOKEN_CRYPT);
	assert_string_equal(g->static_users[6].token.crypt, "$1$abcdefgh$pK0Bp1VYQIo78LEcSA7zK0");
	assert_int_equal(g->static_users[7].token.type, USER_TOKEN_FAST_HASH);
	assert_true(g->static_users[7].token.has_sha1);
	assert_int_equal(g->static_users[7].token.sha1[19], 0xff);
	assert_int_equal(g->static_users[7].token.salt[7], 0x77);
	fx_done(&l);

	FX_LOAD_ERR_HAS(
		"user_group:\n  - name: g\n    static_users:\n      - {name: u, token: plain}\n",
		"unsupported token 'plain...'");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, token: "
			"'$1$toolongsalt$pK0Bp1VYQIo78LEcSA7zK0'}\n",
			"invalid crypt(5) token: bad salt");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, token: "
			"{salt: 0011223344556677}}\n",
			"a fast_hash token needs md5 or sha1");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, token: "
			"{salt: 0011223344556677, md5: d9d963915b9815d4cc39c196c2868900, blake3: "
			"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff}}\n",
			"blake3 hashes are not supported");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, token: "
			"{md5: d9d963915b9815d4cc39c196c2868900}}\n",
			"a fast_hash token needs 'salt'");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, token: "
			"{salt: 001122334455667g, md5: d9d963915b9815d4cc39c196c2868900}}\n",
			"invalid salt '001122334455667g': not hex");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u, token: "
			"{type: scrypt, value: x}}\n",
			"unknown token type 'scrypt'");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    static_users:\n      - {name: u}\n      - "
			"{name: u}\n",
			"static_users[1]: duplicate user 'u' (first defined at t.yaml:4:16)");
}

/* ---- TLS --------------------------------------------------------------------------- */

static void test_tls_client(void **state)
{
	struct fx_load l;
	const struct server_conf *s;

	(void)state;
	/* absent: defaults, enabled (https forward on, as g3 1.13) */
	s = load_server(&l, "http_proxy", "");
	assert_true(s->u.http.tls_client.set);
	assert_int_equal(s->u.http.tls_client.handshake_timeout_ms, 10000);
	assert_int_equal(s->u.http.tls_client.session_cache_lru_max_sites, 128);
	fx_done(&l);

	s = load_server(
		&l, "http_proxy",
		"    tls_client:\n"
		"      min_tls_version: tls1.2\n"
		"      max_tls_version: 1.3\n"
		"      ciphers: [ECDHE-ECDSA-AES128-GCM-SHA256, ECDHE-RSA-AES128-GCM-SHA256]\n"
		"      disable_sni: true\n"
		"      no_default_ca_certificate: true\n"
		"      handshake_timeout: 3s\n"
		"      session_cache_each_capacity: 4\n"
		"      enable_grease: true\n"
		"      insecure: true\n");
	const struct tls_client_conf *t = &s->u.http.tls_client;
	assert_int_equal(t->min_version, TLS_VER_1_2);
	assert_int_equal(t->max_version, TLS_VER_1_3);
	assert_string_equal(t->ciphers,
			    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256");
	assert_true(t->disable_sni && t->no_default_ca_certificate && t->insecure);
	assert_int_equal(t->handshake_timeout_ms, 3000);
	assert_int_equal(t->session_cache_each_capacity, 4);
	assert_true(t->has_grease && t->enable_grease);
	assert_false(t->has_sct);
	fx_done(&l);

	FX_LOAD_ERR_HAS("server:\n  - {name: s, type: http_proxy, escaper: e, tls_client: "
			"{min_tls_version: tls1.4}}\n",
			"invalid TLS version 'tls1.4'");
	FX_LOAD_ERR_HAS("server:\n  - {name: s, type: http_proxy, escaper: e, tls_client: "
			"{protocol: tlcp}}\n",
			"protocol 'tlcp' is not supported");
	FX_LOAD_ERR_HAS("server:\n  - {name: s, type: http_proxy, escaper: e, tls_client: "
			"{min_tls_version: tls1.3, max_tls_version: tls1.2}}\n",
			"min_tls_version is above max_tls_version");
	FX_LOAD_ERR_HAS("server:\n  - {name: s, type: http_proxy, escaper: e, tls_client: "
			"{ca_certificate: '-----BEGIN CERTIFICATE-----\\nnope\\n'}}\n",
			"no PEM certificate found in <inline>");
}

/* ---- misc: names, strategies, keepalive, sources, worker, auditor policies ---------------- */

static void test_misc_values(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;
	const struct server_conf *s;

	(void)state;
	e = load_escaper(
		&l, "    resolve_strategy: {query: Ipv6Only, pick: First}\n"
		    "    tcp_keepalive: 75s\n"
		    "    tcp_connect: {max_retry: 0, each_timeout: 5s}\n"
		    "    tcp_misc_opts: {no_delay: false, mss: 1300, tos: 16, netfilter_mark: 3}\n"
		    "    bind_ip: [192.0.2.10, \"2001:db8::10\"]\n"
		    "    use_proxy_protocol: 2\n"
		    "    extra_metrics_tags: {idc: bj-1, rack: r/7}\n"
		    "    resolve_redirection:\n"
		    "      - {exact: a.example.com, to: [192.0.2.1, 192.0.2.2]}\n"
		    "      - {parent: example.net, to: example.org}\n");
	assert_int_equal(e->resolve_strategy.query, RESOLVE_IPV6_ONLY);
	assert_int_equal(e->resolve_strategy.pick, RESOLVE_PICK_FIRST);
	assert_true(e->tcp_keepalive.enable);
	assert_int_equal(e->tcp_keepalive.idle_time_ms, 75000);
	assert_int_equal(e->tcp_connect.max_retry, 0);
	assert_int_equal(e->tcp_connect.each_timeout_ms, 5000);
	assert_true(e->tcp_misc_opts.has_no_delay && !e->tcp_misc_opts.no_delay);
	assert_int_equal(e->tcp_misc_opts.tos, 16);
	assert_int_equal(e->tcp_misc_opts.mark, 3);
	assert_int_equal(e->bind_ips.n, 2);
	assert_int_equal(e->use_proxy_protocol, 2);
	assert_int_equal(e->extra_metrics_tags.n, 2);
	assert_string_equal(e->extra_metrics_tags.v[1].value, "r/7");
	assert_int_equal(e->resolve_redirection.n, 2);
	assert_int_equal(e->resolve_redirection.v[0].to_ips.n, 2);
	assert_true(e->resolve_redirection.v[1].parent);
	assert_string_equal(e->resolve_redirection.v[1].to_host, "example.org");
	fx_done(&l);

	e = load_escaper(&l, "    resolve_redirection: {a.example.com: 192.0.2.9}\n"
			     "    tcp_keepalive: {enable: true, idle_time: 10s, probe_count: 3}\n");
	assert_int_equal(e->resolve_redirection.n, 1);
	assert_int_equal(e->tcp_keepalive.probe_count, 3);
	fx_done(&l);

	s = load_server(&l, "socks_proxy",
			"    transmute_udp_echo_ip: {192.168.1.2: 203.0.113.2}\n"
			"    udp_bind_ipv4: 192.168.1.2\n"
			"    udp_bind_port_range: {start: 20000, end: 20100}\n"
			"    udp_socket_buffer: 1M\n"
			"    task_idle_check_duration: 2min\n");
	assert_true(s->u.socks.transmute_udp_echo_ip);
	assert_int_equal(s->u.socks.n_transmute, 1);
	assert_int_equal(s->u.socks.udp_bind_ipv4.n, 1);
	assert_int_equal(s->u.socks.udp_bind_port_range.end, 20100);
	assert_int_equal(s->u.socks.udp_socket_buffer.send, 1000000);
	assert_int_equal(s->task_idle_check_interval_ms, 120000);
	fx_done(&l);

	FX_LOAD_ERR_HAS("resolver:\n  - {name: r, type: deny_all}\nescaper:\n  - {name: e, type: "
			"direct_fixed, resolver: r, use_proxy_protocol: 3}\n",
			"invalid PROXY protocol version 3: use 1 or 2");
	FX_LOAD_ERR_HAS(
		"resolver:\n  - {name: r, type: deny_all}\nescaper:\n  - {name: e, type: "
		"direct_fixed, resolver: r, resolve_strategy: {query: Ipv4Only, pick: Last}}\n",
		"invalid resolve pick strategy 'Last'");
	FX_LOAD_ERR_HAS("resolver:\n  - {name: r, type: deny_all}\nescaper:\n  - {name: e, type: "
			"direct_fixed, resolver: r, udp_sock_speed_limit: 1M, extra_metrics_tags: "
			"{a: 'b c'}}\n",
			"invalid metrics tag value 'b c'");
	FX_LOAD_ERR_HAS("resolver:\n  - {name: r, type: deny_all}\nescaper:\n  - {name: e, type: "
			"direct_fixed, resolver: r, bind_ip: \"2001:db8::1\", no_ipv6: true}\n",
			"bind_ip has an address of a disabled family");
	FX_LOAD_ERR_HAS("server:\n  - {name: s, type: socks_proxy, escaper: e, udp_bind_ipv6: "
			"\"::ffff:1.2.3.4\"}\n",
			"is an IPv4-mapped address");
}

static void test_pick_policy(void **state)
{
	static const struct {
		const char *s;
		int v;
	} good[] = {{"random", PICK_RANDOM},	     {"Serial", PICK_SERIAL},
		    {"sequence", PICK_SERIAL},	     {"round_robin", PICK_ROUND_ROBIN},
		    {"rr", PICK_ROUND_ROBIN},	     {"ketama", PICK_KETAMA},
		    {"rendezvous", PICK_RENDEZVOUS}, {"jump-hash", PICK_JUMP_HASH}};
	struct conf_ctx ctx;
	const struct conf_node *root;
	int v = -1;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		char doc[64];
		snprintf(doc, sizeof(doc), "k: %s\n", good[i].s);
		conf_ctx_init(&ctx, "p.yaml");
		assert_int_equal(conf_load_buffer(&ctx, "p.yaml", doc, strlen(doc), &root), 0);
		assert_int_equal(pv_pick_policy(&ctx, conf_map_get(root, "k"), &v), 0);
		assert_int_equal(v, good[i].v);
		conf_ctx_fini(&ctx);
	}
	conf_ctx_init(&ctx, "p.yaml");
	assert_int_equal(conf_load_buffer(&ctx, "p.yaml", "k: fastest\n", 11, &root), 0);
	assert_int_equal(pv_pick_policy(&ctx, conf_map_get(root, "k"), &v), -EINVAL);
	assert_int_equal(ctx.nerr, 1);
	assert_non_null(strstr(ctx.errs[0], "invalid pick policy 'fastest'"));
	conf_ctx_fini(&ctx);
}

static void test_user_group_sources(void **state)
{
	struct fx_load l;
	const struct user_group_conf *g;

	(void)state;
	FX_LOAD_OK(&l,
		   "user_group:\n"
		   "  - {name: a, source: 'file:///etc/g3c/users.json?format=json', cache: c.json, "
		   "refresh_interval: 30s}\n"
		   "  - {name: b, type: basic, source: {type: file, path: /tmp/u.yaml, format: "
		   "yaml}}\n"
		   "  - {name: c, type: hashed_user, source: users.json}\n");
	g = proxyd_conf_user_group(l.conf, "a");
	assert_string_equal(g->source_path, "/etc/g3c/users.json");
	assert_int_equal(g->source_format, USER_SOURCE_FMT_JSON);
	assert_int_equal(g->refresh_interval_ms, 30000);
	assert_non_null(g->cache_path);
	g = proxyd_conf_user_group(l.conf, "b");
	assert_string_equal(g->source_path, "/tmp/u.yaml");
	assert_int_equal(g->source_format, USER_SOURCE_FMT_YAML);
	g = proxyd_conf_user_group(l.conf, "c");
	assert_non_null(strstr(g->source_path, "users.json"));
	assert_int_equal(g->source_format, USER_SOURCE_FMT_AUTO);
	fx_done(&l);

	FX_LOAD_ERR_HAS("user_group:\n  - {name: a, source: 'lua:///etc/users.lua'}\n",
			"user source type 'lua' is not supported yet");
	FX_LOAD_ERR_HAS("user_group:\n  - {name: a, source: 'redis://127.0.0.1/users'}\n",
			"redis URL: the database must be 0 to 65535");
	FX_LOAD_ERR_HAS("user_group:\n  - {name: a, source: {type: file}}\n",
			"a file user source needs 'path'");
	FX_LOAD_ERR_HAS("user_group:\n  - {name: a, source: 'file:///x?format=toml'}\n",
			"invalid user source format 'toml'");
}

static void test_worker_and_auditor(void **state)
{
	struct fx_load l;
	const struct auditor_conf *a;

	(void)state;
	FX_LOAD_OK(&l, "worker: {}\n");
	assert_true(l.conf->worker.present);
	assert_int_equal(l.conf->worker.thread_number, 0);
	assert_true(proxyd_conf_worker_count(l.conf) >= 1);
	fx_done(&l);

	FX_LOAD_OK(&l, "runtime: {thread_number: 3}\nworker:\n  threads_total: 4\n"
		       "  thread_number_per_runtime: 1\n  thread_stack_size: 1MiB\n"
		       "  sched_affinity: {0: [0, 1], 1: 1}\n  max_io_events_per_tick: 256\n");
	assert_int_equal(proxyd_conf_worker_count(l.conf), 4); /* worker wins over runtime */
	assert_int_equal(l.conf->worker.thread_stack_size, 1048576);
	assert_int_equal(l.conf->worker.n_affinity, 2);
	assert_int_equal(l.conf->worker.affinity[0].ncpu, 2);
	assert_int_equal(l.conf->worker.affinity[1].cpus[0], 1);
	fx_done(&l);

	FX_LOAD_OK(&l, "runtime: {thread_number: 3}\n");
	assert_int_equal(proxyd_conf_worker_count(l.conf), 3);
	fx_done(&l);

	FX_LOAD_OK(&l, "auditor:\n"
		       "  - name: a\n"
		       "    h2_inspect_policy: bypass\n"
		       "    smtp_inspect_policy:\n"
		       "      default: block\n"
		       "      exact_match: {intercept: mail.example.com}\n"
		       "      subnet_match: {bypass: [10.0.0.0/8]}\n"
		       "    tls_cert_agent: {query_peer_addr: 127.0.0.1:2999}\n"
		       "    icap_reqmod_service: icap://127.0.0.1:1344/reqmod\n"
		       "    log_uri_max_chars: 256\n");
	a = proxyd_conf_auditor(l.conf, "a");
	assert_int_equal(a->h2_inspect_policy.def, INSPECT_BYPASS);
	assert_int_equal(a->websocket_inspect_policy.def, INSPECT_INTERCEPT);
	assert_int_equal(a->smtp_inspect_policy.def, INSPECT_BLOCK);
	assert_int_equal(a->smtp_inspect_policy.n, 2);
	assert_true(a->smtp_inspect_policy.v[1].subnet);
	assert_non_null(a->tls_cert_agent);
	assert_int_equal(a->tls_cert_agent->kind, CONF_MAP);
	assert_string_equal(a->icap_reqmod_service->str, "icap://127.0.0.1:1344/reqmod");
	assert_int_equal(a->log_uri_max_chars, 256);
	assert_true(a->task_audit_ratio.v == 1.0);
	fx_done(&l);

	FX_LOAD_ERR_HAS("worker: {sched_affinity: {0: 5000}}\n", "worker.sched_affinity.0:");
	FX_LOAD_ERR_HAS("worker: {threads: 2}\n", "unknown key 'threads' in worker");
	FX_LOAD_ERR_HAS("auditor:\n  - {name: a, h2_inspect_policy: inspect}\n",
			"invalid inspect action 'inspect'");
	FX_LOAD_ERR_HAS("auditor:\n  - {name: a, type: default}\n", "unknown key 'type'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen),
		cmocka_unit_test(test_speed_limits),
		cmocka_unit_test(test_rate_limits),
		cmocka_unit_test(test_random_ratio),
		cmocka_unit_test(test_acl_network),
		cmocka_unit_test(test_acl_ports_hosts),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_tls_client),
		cmocka_unit_test(test_misc_values),
		cmocka_unit_test(test_pick_policy),
		cmocka_unit_test(test_user_group_sources),
		cmocka_unit_test(test_worker_and_auditor),
	};
	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
