/* proxy_http / proxy_https / proxy_socks5 / proxy_socks5s configuration:
 * g3 key names and defaults, weighted peer lists, the pick set built at
 * load, and the errors for bad values. */
#include "proxyd/test/proxyd_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "proxyd/dp/pick.h"

static const char *const SRV = "server: [{name: s, type: http_proxy, listen: 127.0.0.1:3999, "
			       "escaper: p}]\n";

static void load(struct fx_load *l, const char *escaper_yaml)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml), "resolver: [{name: r, type: c_ares}]\nescaper:\n%s%s",
		 escaper_yaml, SRV);
	FX_LOAD_OK(l, yaml);
}

static void test_http_defaults(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;

	(void)state;
	load(&l, "  - {name: p, type: proxy_http, proxy_addr: 192.0.2.1}\n");
	e = proxyd_conf_escaper(l.conf, "p");
	assert_non_null(e);
	assert_int_equal(e->type, ESCAPER_PROXY_HTTP);
	assert_int_equal(e->proxy.n_peers, 1);
	assert_string_equal(e->proxy.peers[0].host, "192.0.2.1");
	assert_int_equal(e->proxy.peers[0].port, 3128); /* g3's default port */
	assert_true(e->proxy.peers[0].is_ip);
	assert_string_equal(e->proxy.peers[0].id, "192.0.2.1:3128");
	assert_int_equal(e->proxy.pick_policy, PICK_RANDOM);
	assert_non_null(e->proxy.pick);
	assert_null(e->proxy.username);
	assert_false(e->proxy.pass_proxy_userid);
	assert_false(e->proxy.fwd_cap.forward_https);
	assert_int_equal(e->proxy.connect_rsp_header_max_size, 4096);
	assert_int_equal(e->proxy.peer_negotiation_timeout_ms, 10000);
	assert_int_equal(e->tcp_connect.max_retry, 2);
	assert_false(e->tcp_keepalive.enable);
	assert_int_equal(e->use_proxy_protocol, 0);
	assert_false(e->proxy.tls);
	fx_done(&l);
}

static void test_http_full(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;

	(void)state;
	load(&l, "  - name: p\n"
		 "    type: ProxyHttp\n"
		 "    proxy_addr: [\"peer.example:8080\", {addr: \"[2001:db8::1]\", weight: 3}]\n"
		 "    proxy_addr_pick_policy: rendezvous\n"
		 "    proxy_username: alice\n"
		 "    proxy_password: \"p@ss word\"\n"
		 "    resolver: r\n"
		 "    resolve_strategy: {query: Ipv6First}\n"
		 "    bind_ipv4: 127.0.0.2\n"
		 "    bind_ipv6: \"::1\"\n"
		 "    http_forward_capability: {forward_https: true, forward_ftp: true}\n"
		 "    http_connect_rsp_header_max_size: 8KiB\n"
		 "    peer_negotiation_timeout: 2s\n"
		 "    use_proxy_protocol: 2\n"
		 "    tcp_connect: {max_retry: 0, each_timeout: 1s}\n"
		 "    tcp_keepalive: 30s\n");
	e = proxyd_conf_escaper(l.conf, "p");
	assert_int_equal(e->proxy.n_peers, 2);
	assert_string_equal(e->proxy.peers[0].host, "peer.example");
	assert_int_equal(e->proxy.peers[0].port, 8080);
	assert_false(e->proxy.peers[0].is_ip);
	assert_true(e->proxy.peers[0].weight == 1.0);
	assert_string_equal(e->proxy.peers[1].id, "[2001:db8::1]:3128");
	assert_true(e->proxy.peers[1].weight == 3.0);
	assert_int_equal(e->proxy.pick_policy, PICK_RENDEZVOUS);
	assert_int_equal(pick_set_policy(e->proxy.pick), PICK_RENDEZVOUS);
	assert_int_equal(pick_set_size(e->proxy.pick), 2);
	assert_string_equal(e->proxy.username, "alice");
	assert_string_equal(e->proxy.password, "p@ss word");
	assert_non_null(e->resolver);
	assert_string_equal(e->resolver_name, "r");
	assert_int_equal(e->bind_ips.n, 2);
	assert_int_equal(e->bind_ips.v[0].family, AF_INET);
	assert_int_equal(e->bind_ips.v[1].family, AF_INET6);
	assert_true(e->proxy.fwd_cap.forward_https);
	assert_true(e->proxy.fwd_cap.forward_ftp_get && e->proxy.fwd_cap.forward_ftp_del);
	assert_int_equal(e->proxy.connect_rsp_header_max_size, 8192);
	assert_int_equal(e->proxy.peer_negotiation_timeout_ms, 2000);
	assert_int_equal(e->use_proxy_protocol, 2);
	assert_int_equal(e->tcp_connect.max_retry, 0);
	assert_true(e->tcp_keepalive.enable);
	fx_done(&l);
}

static void test_socks5(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;

	(void)state;
	load(&l, "  - name: p\n"
		 "    type: proxy_socks5\n"
		 "    proxy_addr: 127.0.0.1\n"
		 "    proxy_username: bob\n"
		 "    proxy_password: pw\n"
		 "    transmute_udp_peer_ip: {\"192.0.2.1\": \"127.0.0.1\"}\n"
		 "    end_on_control_closed: true\n"
		 "    udp_sock_speed_limit: 10M\n"
		 "  - {name: q, type: proxy_socks5s, proxy_addr: 127.0.0.1:1443, tls_name: px}\n");
	e = proxyd_conf_escaper(l.conf, "p");
	assert_int_equal(e->type, ESCAPER_PROXY_SOCKS5);
	assert_int_equal(e->proxy.peers[0].port, 1080);
	assert_string_equal(e->proxy.username, "bob");
	assert_true(e->proxy.transmute_udp_peer_ip);
	assert_non_null(e->proxy.transmute_udp_peer_ip_map);
	assert_true(e->proxy.end_on_control_closed);
	assert_true(e->tcp_keepalive.enable); /* g3: 60s for proxy_socks5 */
	assert_int_equal(e->tcp_keepalive.idle_time_ms, 60000);
	e = proxyd_conf_escaper(l.conf, "q");
	assert_int_equal(e->type, ESCAPER_PROXY_SOCKS5S);
	assert_true(e->proxy.tls);
	assert_true(e->proxy.tls_client.set);
	assert_string_equal(e->proxy.tls_name, "px");
	fx_done(&l);
}

/* the pick set built at load is the one workers use */
static void test_pick_weights(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;
	unsigned cnt[3] = {0};

	(void)state;
	load(&l, "  - name: p\n"
		 "    type: proxy_http\n"
		 "    proxy_addr: [{addr: 127.0.0.1:1, weight: 1}, {addr: 127.0.0.1:2, weight: 0},"
		 " {addr: 127.0.0.1:3, weight: 3}]\n"
		 "    proxy_addr_pick_policy: rr\n");
	e = proxyd_conf_escaper(l.conf, "p");
	for (unsigned i = 0; i < 2000; i++)
		cnt[pick_select(e->proxy.pick, 0)]++;
	assert_int_equal(cnt[0], 500);
	assert_int_equal(cnt[1], 0);
	assert_int_equal(cnt[2], 1500);
	fx_done(&l);
}

static void test_float(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;

	(void)state;
	load(&l, "  - {name: p, type: proxy_float}\n"
		 "  - name: q\n"
		 "    type: proxy_dynamic\n"
		 "    source: {type: passive}\n"
		 "    cache: /tmp/q.json\n"
		 "    expire_guard_duration: 10s\n"
		 "    tcp_connect_timeout: 3s\n"
		 "    bind_ipv4: 127.0.0.1\n");
	e = proxyd_conf_escaper(l.conf, "p");
	assert_int_equal(e->type, ESCAPER_PROXY_FLOAT);
	assert_true(e->proxy.source_passive);
	assert_int_equal(e->proxy.expire_guard_ms, 5000);
	assert_int_equal(e->tcp_connect.each_timeout_ms, 30000);
	assert_int_equal(e->tcp_connect.max_retry, 0);
	assert_int_equal(e->proxy.peer_negotiation_timeout_ms, 10000);
	e = proxyd_conf_escaper(l.conf, "q");
	assert_int_equal(e->type, ESCAPER_PROXY_FLOAT);
	assert_string_equal(e->proxy.cache_path, "/tmp/q.json");
	assert_int_equal(e->proxy.expire_guard_ms, 10000);
	assert_int_equal(e->tcp_connect.each_timeout_ms, 3000);
	assert_int_equal(e->bind_ips.n, 1);
	fx_done(&l);
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_float, source: "
			"\"redis://127.0.0.1/0?sets_key=p\"}]\n",
			"source 'redis' is not supported yet");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_float, source: {type: redis, addr: x}}]\n",
			"unknown key 'addr' for a passive source");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_float, proxy_addr: 1.2.3.4}]\n",
			"unknown key");
}

static void test_errors(void **state)
{
	(void)state;
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_http}]\n",
			"missing required key 'proxy_addr'");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_http, proxy_addr: peer.example}]\n",
			"resolver is required when proxy_addr has a domain");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_http, proxy_addr: 1.2.3.4, "
			"proxy_username: u}]\n",
			"proxy_password is required with proxy_username");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_http, proxy_addr: 1.2.3.4, "
			"proxy_username: \"a:b\", proxy_password: x}]\n",
			"Basic auth username cannot contain ':'");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_http, proxy_addr: 1.2.3.4, "
			"proxy_username: u, proxy_password: x, pass_proxy_userid: true}]\n",
			"pass_proxy_userid conflicts with proxy_username");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_socks5, proxy_addr: "
			"[{addr: 1.2.3.4, weight: -2}]}]\n",
			"invalid weight '-2'");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_socks5, proxy_addr: "
			"[{addr: 1.2.3.4, weight: 0}]}]\n",
			"at least one peer with a weight above 0");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_socks5, proxy_addr: [{weight: 1}]}]\n",
			"weighted upstream without 'addr'");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_socks5, proxy_addr: []}]\n",
			"proxy_addr is an empty list");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_http, proxy_addr: 1.2.3.4, "
			"http_forward_capability: {forward_gopher: true}}]\n",
			"unknown http_forward_capability key 'forward_gopher'");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_http, proxy_addr: 1.2.3.4, "
			"proxy_addr_pick_policy: fastest}]\n",
			"invalid pick policy 'fastest'");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_http, proxy_addr: 1.2.3.4, "
			"bind_ipv4: \"::1\"}]\n",
			"is not an IPv4 address");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_http, proxy_addr: 1.2.3.4, "
			"use_proxy_protocol: 3}]\n",
			"invalid PROXY protocol version 3");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_http, proxy_addr: 1.2.3.4, "
			"egress_network_filter: {default: allow}}]\n",
			"unknown key");
	FX_LOAD_ERR_HAS("escaper: [{name: p, type: proxy_socks5, proxy_addr: 1.2.3.4, "
			"http_forward_capability: {}}]\n",
			"unknown key");
	FX_LOAD_ERR_HAS(
		"escaper: [{name: p, type: proxy_http, proxy_addr: 1.2.3.4, no_ipv4: true}]\n",
		"proxy_addr 1.2.3.4:3128 is of a disabled family");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_defaults), cmocka_unit_test(test_http_full),
		cmocka_unit_test(test_socks5),	      cmocka_unit_test(test_pick_weights),
		cmocka_unit_test(test_float),	      cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
