/* route_upstream / route_client / route_resolved / route_mapping /
 * route_failover: config keys, both rule forms, aliases, errors, and the
 * matchers (route_match.c) on loaded configs — exact / child / suffix /
 * regex / subnet edge cases. */
#include "proxyd/test/proxyd_fixture.h"

#include <arpa/inet.h>

#include "proxyd/dp/route_match.h"

#define BASE                                               \
	"resolver:\n  - {name: r, type: cares}\n"          \
	"escaper:\n"                                       \
	"  - {name: a, type: direct_fixed, resolver: r}\n" \
	"  - {name: b, type: direct_fixed, resolver: r}\n" \
	"  - {name: c, type: direct_fixed, resolver: r}\n" \
	"  - {name: d, type: direct_fixed, resolver: r}\n"

/* An IP literal into ss (port 0); false for anything else. */
static bool parse_ip(const char *s, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		return true;
	}
	return false;
}

static const char *pick_host(const struct escaper_conf *e, const char *host)
{
	struct sockaddr_storage ss;
	const struct escaper_conf *n;

	if (parse_ip(host, &ss))
		n = route_match_upstream(&e->route, host, (struct sockaddr *)&ss);
	else
		n = route_match_upstream(&e->route, host, NULL);
	return n ? n->name : e->route.default_next->name;
}

static const char *pick_ip(const struct escaper_conf *e, const char *ip)
{
	struct sockaddr_storage ss;
	const struct escaper_conf *n;

	assert_true(parse_ip(ip, &ss));
	n = route_match_ip(&e->route, (struct sockaddr *)&ss);
	return n ? n->name : "-";
}

static void test_upstream_seq(void **state)
{
	struct fx_load l;
	const struct escaper_conf *u;

	(void)state;
	FX_LOAD_OK(&l,
		   BASE "  - name: up\n"
			"    type: route_upstream\n"
			"    default_next: d\n"
			"    exact_match:\n"
			"      - {next: a, hosts: [Exact.Example.NET, 192.0.2.7, '2001:db8::7']}\n"
			"    subnet_match:\n"
			"      - {next: b, subnets: [192.0.2.0/24, '2001:db8::/32']}\n"
			"      - {next: c, subnet: 192.0.2.128/25}\n"
			"    child_match:\n"
			"      - {next: b, domains: [example.net]}\n"
			"      - {next: c, domain: '*.deep.example.net'}\n"
			"    suffix_match:\n"
			"      - {next: a, suffixes: [ample.org]}\n"
			"      - {next: b, suffix: t.example.org}\n"
			"    regex_match:\n"
			"      - next: c\n"
			"        rules:\n"
			"          - {parent: example.com, regex: '^tes.+$'}\n"
			"          - '^img[0-9]+[.]cdn[.]'\n");
	u = proxyd_conf_escaper(l.conf, "up");
	assert_int_equal(u->type, ESCAPER_ROUTE_UPSTREAM);
	assert_ptr_equal(u->route.default_next, proxyd_conf_escaper(l.conf, "d"));
	/* exact: case-insensitive, a trailing dot is the same name */
	assert_string_equal(pick_host(u, "exact.example.net"), "a");
	assert_string_equal(pick_host(u, "EXACT.example.net."), "a");
	/* exact IPs win over subnets */
	assert_string_equal(pick_host(u, "192.0.2.7"), "a");
	assert_string_equal(pick_host(u, "2001:db8::7"), "a");
	/* subnets: the longest prefix */
	assert_string_equal(pick_host(u, "192.0.2.8"), "b");
	assert_string_equal(pick_host(u, "192.0.2.200"), "c");
	assert_string_equal(pick_host(u, "2001:db8::8"), "b");
	assert_string_equal(pick_host(u, "198.51.100.1"), "d");
	/* child: the domain itself and below, the most specific parent */
	assert_string_equal(pick_host(u, "example.net"), "b");
	assert_string_equal(pick_host(u, "www.example.net"), "b");
	assert_string_equal(pick_host(u, "deep.example.net"), "c");
	assert_string_equal(pick_host(u, "x.y.deep.example.net"), "c");
	assert_string_equal(pick_host(u, "badexample.net"), "d"); /* not a label boundary */
	/* suffix: on the string, the longest */
	assert_string_equal(pick_host(u, "example.org"), "a");
	assert_string_equal(pick_host(u, "sample.org"), "a");
	assert_string_equal(pick_host(u, "test.example.org"), "b");
	assert_string_equal(pick_host(u, "ample.org.evil"), "d");
	/* regex with parent: only the part before ".parent" */
	assert_string_equal(pick_host(u, "test1.example.com"), "c");
	assert_string_equal(pick_host(u, "TESTING.example.com"), "c");
	assert_string_equal(pick_host(u, "tes.example.com"), "d");	/* needs 1+ after "tes" */
	assert_string_equal(pick_host(u, "example.com"), "d");		/* no sub part */
	assert_string_equal(pick_host(u, "test.notexample.com"), "d");	/* no '.' boundary */
	assert_string_equal(pick_host(u, "img12.cdn.example.io"), "c"); /* full-name regex */
	assert_string_equal(pick_host(u, "img.cdn.example.io"), "d");
	fx_done(&l);
}

static void test_upstream_map_form(void **state)
{
	struct fx_load l;
	const struct escaper_conf *u;

	(void)state;
	FX_LOAD_OK(&l, BASE "  - name: up\n"
			    "    type: RouteUpstream\n"
			    "    default_next: d\n"
			    "    exact_match: {a: [one.test], b: two.test}\n"
			    "    radix_match: {c: [.three.test]}\n"
			    "    regex_match: {b: [{regex: 'fo+'}]}\n"
			    "    subnet_match: {a: [10.0.0.0/8]}\n");
	u = proxyd_conf_escaper(l.conf, "up");
	assert_string_equal(pick_host(u, "one.test"), "a");
	assert_string_equal(pick_host(u, "two.test"), "b");
	assert_string_equal(pick_host(u, "x.three.test"), "c");
	assert_string_equal(pick_host(u, "three.test"), "d"); /* ".three.test" is a suffix */
	assert_string_equal(pick_host(u, "xfooy.io"), "b");   /* unanchored regex */
	assert_string_equal(pick_host(u, "10.1.2.3"), "a");
	assert_string_equal(pick_host(u, "11.1.2.3"), "d");
	fx_done(&l);
}

static void test_client(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;

	(void)state;
	FX_LOAD_OK(&l, BASE "  - name: cl\n"
			    "    type: route_client\n"
			    "    default_next: d\n"
			    "    exact_match: [{next: a, ips: [127.0.0.5, '::1']}]\n"
			    "    subnet_rules:\n"
			    "      - {next: b, subnets: [127.0.0.0/8]}\n"
			    "      - {next: c, subnets: [127.0.0.0/24, 'fd00::/8']}\n");
	e = proxyd_conf_escaper(l.conf, "cl");
	assert_int_equal(e->type, ESCAPER_ROUTE_CLIENT);
	assert_string_equal(pick_ip(e, "127.0.0.5"), "a");
	assert_string_equal(pick_ip(e, "::ffff:127.0.0.5"), "a"); /* v4-mapped = IPv4 */
	assert_string_equal(pick_ip(e, "::1"), "a");
	assert_string_equal(pick_ip(e, "127.0.0.9"), "c");
	assert_string_equal(pick_ip(e, "127.1.0.9"), "b");
	assert_string_equal(pick_ip(e, "fd12::1"), "c");
	assert_string_equal(pick_ip(e, "10.0.0.1"), "-");
	fx_done(&l);
}

static void test_resolved_mapping_failover(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;

	(void)state;
	FX_LOAD_OK(&l, BASE "  - name: res\n"
			    "    type: route_resolved\n"
			    "    resolver: r\n"
			    "    resolve_strategy: {query: Ipv6First}\n"
			    "    resolution_delay: 20ms\n"
			    "    default_next: d\n"
			    "    lpm_match:\n"
			    "      - {next: a, networks: [10.0.0.0/8]}\n"
			    "      - {next: b, net: [10.1.0.0/16, '2001:db8::/32']}\n"
			    "  - {name: map, type: route_mapping, next: [a, b, c]}\n"
			    "  - {name: fo, type: route_failover, primary_next: a, standby_next: b,"
			    " fallback_delay: 250ms}\n"
			    "  - {name: fo2, type: route_failover, primary: a, standby: c}\n");
	e = proxyd_conf_escaper(l.conf, "res");
	assert_int_equal(e->type, ESCAPER_ROUTE_RESOLVED);
	assert_ptr_equal(e->resolver, proxyd_conf_resolver(l.conf, "r"));
	assert_int_equal(e->resolve_strategy.query, RESOLVE_IPV6_FIRST);
	assert_int_equal(e->route.resolution_delay_ms, 20);
	assert_string_equal(pick_ip(e, "10.2.0.1"), "a");
	assert_string_equal(pick_ip(e, "10.1.0.1"), "b");
	assert_string_equal(pick_ip(e, "2001:db8::1"), "b");
	assert_string_equal(pick_ip(e, "11.0.0.1"), "-");
	e = proxyd_conf_escaper(l.conf, "map");
	assert_int_equal(e->route.n_next, 3);
	assert_ptr_equal(e->route.next[2], proxyd_conf_escaper(l.conf, "c"));
	e = proxyd_conf_escaper(l.conf, "fo");
	assert_ptr_equal(e->route.primary, proxyd_conf_escaper(l.conf, "a"));
	assert_ptr_equal(e->route.standby, proxyd_conf_escaper(l.conf, "b"));
	assert_int_equal(e->route.fallback_delay_ms, 250);
	e = proxyd_conf_escaper(l.conf, "fo2");
	assert_ptr_equal(e->route.standby, proxyd_conf_escaper(l.conf, "c"));
	assert_int_equal(e->route.fallback_delay_ms, 100); /* g3's default */
	assert_int_equal(l.conf->fallbacks, 0);
	fx_done(&l);
}

static void test_missing_next_is_dummy_deny(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;

	(void)state;
	FX_LOAD_OK(&l, BASE "  - {name: up, type: route_upstream, default_next: nope,"
			    " exact_match: [{next: gone, hosts: [x.test]}]}\n");
	e = proxyd_conf_escaper(l.conf, "up");
	assert_int_equal(e->route.default_next->type, ESCAPER_DUMMY_DENY);
	assert_true(e->route.default_next->internal);
	assert_string_equal(pick_host(e, "x.test"), "gone");
	assert_int_equal(l.conf->fallbacks, 2);
	fx_done(&l);
}

static void test_select(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;

	(void)state;
	FX_LOAD_OK(&l, BASE "  - name: sel\n"
			    "    type: route_select\n"
			    "    next_nodes:\n"
			    "      - a\n"
			    "      - {name: b, weight: 2.5}\n"
			    "      - {name: c, weight: 0}\n"
			    "    next_pick_policy: round_robin\n"
			    "  - {name: one, type: RouteSelect, next_nodes: d}\n");
	e = proxyd_conf_escaper(l.conf, "sel");
	assert_int_equal(e->type, ESCAPER_ROUTE_SELECT);
	assert_int_equal(e->route.n_next, 3);
	assert_ptr_equal(e->route.next[1], proxyd_conf_escaper(l.conf, "b"));
	assert_true(e->route.next_weights[0] == 1.0);
	assert_true(e->route.next_weights[1] == 2.5);
	assert_int_equal(e->route.pick_policy, PICK_ROUND_ROBIN);
	assert_non_null(e->route.pick);
	e = proxyd_conf_escaper(l.conf, "one");
	assert_int_equal(e->route.n_next, 1);
	assert_int_equal(e->route.pick_policy, PICK_RENDEZVOUS); /* g3's default */
	fx_done(&l);
	FX_LOAD_ERR_HAS(BASE
			"  - {name: s, type: route_select, next_nodes: [{name: a, weight: 0}]}\n",
			"no escaper has a weight above 0");
	FX_LOAD_ERR_HAS(BASE
			"  - {name: s, type: route_select, next_nodes: [{name: a, weight: -1}]}\n",
			"invalid weight '-1'");
	FX_LOAD_ERR_HAS(BASE "  - {name: s, type: route_select, next_nodes: [a, a]}\n",
			"next escaper 'a' is listed twice");
	FX_LOAD_ERR_HAS(BASE "  - {name: s, type: route_select, next_nodes: [a],"
			     " next_pick_policy: fastest}\n",
			"invalid pick policy 'fastest'");
	FX_LOAD_ERR_HAS(BASE "  - {name: s, type: route_select}\n",
			"missing required key 'next_nodes'");
}

static void test_query(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;

	(void)state;
	FX_LOAD_OK(&l,
		   BASE "  - name: q\n"
			"    type: route_query\n"
			"    fallback_node: d\n"
			"    query_allowed_next: [a, b]\n"
			"    query_pass_client_ip: true\n"
			"    query_peer_addr: /tmp/agent.rpc\n"
			"    query_socket_buffer: {recv: 1M}\n"
			"    query_wait_timeout: 2s\n"
			"    cache_request_timeout: 250ms\n"
			"    cache_request_batch_count: 4\n"
			"    cache_pick_policy: jump_hash\n"
			"    protective_cache_ttl: 5\n"
			"    maximum_cache_ttl: 600\n"
			"    vanish_after_expire: 1m\n"
			"  - {name: q2, type: RouteQuery, fallback_node: d, query_allowed_next: c,"
			" query_peer_addr: 'tcp://127.0.0.1:7000'}\n");
	e = proxyd_conf_escaper(l.conf, "q");
	assert_int_equal(e->type, ESCAPER_ROUTE_QUERY);
	assert_ptr_equal(e->route.fallback, proxyd_conf_escaper(l.conf, "d"));
	assert_int_equal(e->route.n_next, 2);
	assert_ptr_equal(e->route.next[1], proxyd_conf_escaper(l.conf, "b"));
	assert_true(e->route.query_pass_client_ip);
	assert_string_equal(e->route.query_url, "ipc:///tmp/agent.rpc");
	assert_int_equal(e->route.query_wait_timeout_ms, 2000);
	assert_int_equal(e->route.cache_request_timeout_ms, 250);
	assert_int_equal(e->route.cache_request_batch_count, 4);
	assert_int_equal(e->route.cache_pick_policy, PICK_JUMP_HASH);
	assert_int_equal(e->route.protective_cache_ttl, 5);
	assert_int_equal(e->route.maximum_cache_ttl, 600);
	assert_int_equal(e->route.cache_vanish_wait_ms, 60000);
	e = proxyd_conf_escaper(l.conf, "q2");
	assert_string_equal(e->route.query_url, "tcp://127.0.0.1:7000");
	assert_int_equal(e->route.cache_request_timeout_ms, 100); /* g3's defaults */
	assert_int_equal(e->route.query_wait_timeout_ms, 10000);
	assert_int_equal(e->route.protective_cache_ttl, 10);
	assert_int_equal(e->route.maximum_cache_ttl, 1800);
	assert_int_equal(e->route.cache_pick_policy, PICK_RENDEZVOUS);
	assert_false(e->route.query_pass_client_ip);
	fx_done(&l);
	FX_LOAD_ERR_HAS(BASE "  - {name: q, type: route_query, query_allowed_next: [a]}\n",
			"missing required key 'fallback_node'");
	FX_LOAD_ERR_HAS(BASE "  - {name: q, type: route_query, fallback_node: d}\n",
			"missing required key 'query_allowed_next'");
	FX_LOAD_ERR_HAS(BASE "  - {name: q, type: route_query, fallback_node: d,"
			     " query_allowed_next: [a], query_peer_addr: '127.0.0.1:1053'}\n",
			"looks like g3's UDP query peer");
	FX_LOAD_ERR_HAS(BASE "  - {name: q, type: route_query, fallback_node: d,"
			     " query_allowed_next: [a], query_peer_addr: 'udp://x'}\n",
			"only ipc:// and tcp:// URLs are supported");
}

static void test_errors(void **state)
{
	(void)state;
	FX_LOAD_ERR_HAS(BASE "  - {name: up, type: route_upstream}\n",
			"missing required key 'default_next'");
	FX_LOAD_ERR_HAS(BASE
			"  - {name: up, type: route_upstream, default_next: d,"
			" exact_match: [{next: a, hosts: [x.test]}, {next: b, hosts: [X.test]}]}\n",
			"host 'x.test' is routed to both 'a' and 'b'");
	FX_LOAD_ERR_HAS(BASE "  - {name: up, type: route_upstream, default_next: d,"
			     " subnet_match: {a: [10.0.0.0/8], b: [10.0.0.0/8]}}\n",
			"a network is routed to both 'a' and 'b'");
	FX_LOAD_ERR_HAS(BASE "  - {name: up, type: route_upstream, default_next: d,"
			     " regex_match: [{next: a, rules: ['([a-z']}]}\n",
			"invalid regex '([a-z'");
	FX_LOAD_ERR_HAS(BASE "  - {name: up, type: route_upstream, default_next: d,"
			     " child_match: [{next: a, hosts: [x.test]}]}\n",
			"unknown key 'hosts' in a rule (next, domains)");
	FX_LOAD_ERR_HAS(BASE "  - {name: up, type: route_upstream, default_next: d,"
			     " child_match: [{domains: [x.test]}]}\n",
			"a rule needs 'next'");
	FX_LOAD_ERR_HAS(BASE "  - {name: up, type: route_upstream, default_next: d,"
			     " child_match: [{next: a, domains: ['bad domain']}]}\n",
			"invalid domain 'bad domain'");
	FX_LOAD_ERR_HAS(BASE "  - {name: up, type: route_upstream, default_next: d,"
			     " subnet_match: [{next: a, subnets: [10.0.0.1/8]}]}\n",
			"10.0.0.1/8");
	FX_LOAD_ERR_HAS(BASE "  - {name: cl, type: route_client, default_next: d,"
			     " exact_match: [{next: a, ips: [not-an-ip]}]}\n",
			"invalid IP address 'not-an-ip'");
	FX_LOAD_ERR_HAS(BASE "  - {name: res, type: route_resolved, default_next: d}\n",
			"missing required key 'resolver'");
	FX_LOAD_ERR_HAS(BASE "  - {name: m, type: route_mapping, next: [a, b, a]}\n",
			"next escaper 'a' is listed twice");
	FX_LOAD_ERR_HAS(BASE "  - {name: m, type: route_mapping, next: []}\n",
			"'next' needs at least one escaper");
	FX_LOAD_ERR_HAS(BASE "  - {name: f, type: route_failover, primary_next: a}\n",
			"missing required key 'standby_next'");
	FX_LOAD_ERR_HAS(BASE "  - {name: f, type: route_failover, standby_next: a}\n",
			"missing required key 'primary_next'");
	FX_LOAD_ERR_HAS(BASE "  - {name: f, type: route_failover, primary: a, standby: b,"
			     " fallback_delay: soon}\n",
			"fallback_delay");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upstream_seq),
		cmocka_unit_test(test_upstream_map_form),
		cmocka_unit_test(test_client),
		cmocka_unit_test(test_resolved_mapping_failover),
		cmocka_unit_test(test_missing_next_is_dummy_deny),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
