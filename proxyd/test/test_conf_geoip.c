/* route_geoip escaper config: keys, aliases, defaults, the ip_locate_service
 * mapping to iplocd's RPC socket, references (missing next → internal
 * dummy_deny) and exact errors for bad values. */
#include "proxyd/test/proxyd_fixture.h"

#define BASE                                               \
	"resolver:\n  - {name: r, type: cares}\n"          \
	"escaper:\n"                                       \
	"  - {name: a, type: direct_fixed, resolver: r}\n" \
	"  - {name: b, type: direct_fixed, resolver: r}\n" \
	"  - {name: d, type: direct_fixed, resolver: r}\n"

static void test_full(void **state)
{
	struct fx_load l;
	const struct escaper_conf *g;

	(void)state;
	FX_LOAD_OK(&l, BASE "  - name: geo\n"
			    "    type: route_geoip\n"
			    "    resolver: r\n"
			    "    resolve_strategy: {query: Ipv6First}\n"
			    "    ip_locate_service:\n"
			    "      path: /tmp/iplocd.rpc\n"
			    "      query_wait_timeout: 250ms\n"
			    "      default_expire_ttl: 5\n"
			    "      maximum_expire_ttl: 60\n"
			    "      cache_size: 100\n"
			    "      cache_request_batch_count: 4\n"
			    "      down_backoff: 2s\n"
			    "    geo_rules:\n"
			    "      - {next: a, networks: [10.0.0.0/8, '2001:db8::/32'], "
			    "as_numbers: [64500, 64501]}\n"
			    "      - {next: b, countries: [de, FR], continents: [eu]}\n"
			    "    default_next: d\n");
	g = proxyd_conf_escaper(l.conf, "geo");
	assert_int_equal(g->type, ESCAPER_ROUTE_GEOIP);
	assert_ptr_equal(g->resolver, proxyd_conf_resolver(l.conf, "r"));
	assert_int_equal(g->resolve_strategy.query, RESOLVE_IPV6_FIRST);
	assert_string_equal(g->geoip.url, "ipc:///tmp/iplocd.rpc");
	assert_int_equal(g->geoip.query_wait_timeout_ms, 250);
	assert_int_equal(g->geoip.default_expire_ttl, 5);
	assert_int_equal(g->geoip.maximum_expire_ttl, 60);
	assert_int_equal(g->geoip.cache_size, 100);
	assert_int_equal(g->geoip.batch, 4);
	assert_int_equal(g->geoip.down_backoff_ms, 2000);
	assert_int_equal(g->geoip.n_rules, 2);
	assert_ptr_equal(g->geoip.rules[0].next, proxyd_conf_escaper(l.conf, "a"));
	assert_int_equal(g->geoip.rules[0].networks.n, 2);
	assert_int_equal(g->geoip.rules[0].networks.v[0].prefix, 8);
	assert_int_equal(g->geoip.rules[0].n_as_numbers, 2);
	assert_int_equal(g->geoip.rules[0].as_numbers[1], 64501);
	assert_ptr_equal(g->geoip.rules[1].next, proxyd_conf_escaper(l.conf, "b"));
	assert_int_equal(g->geoip.rules[1].countries.n, 2);
	assert_string_equal(g->geoip.rules[1].countries.v[0], "DE"); /* upper-cased */
	assert_string_equal(g->geoip.rules[1].countries.v[1], "FR");
	assert_string_equal(g->geoip.rules[1].continents.v[0], "EU");
	assert_ptr_equal(g->geoip.default_next, proxyd_conf_escaper(l.conf, "d"));
	assert_int_equal(l.conf->fallbacks, 0);
	fx_done(&l);
}

static void test_defaults_alias_and_fallback(void **state)
{
	struct fx_load l;
	const struct escaper_conf *g;

	(void)state;
	/* alias type, ip_locate_service as a bare URL, single values as lists,
	 * missing next escapers → internal dummy_deny */
	FX_LOAD_OK(&l, BASE "  - name: geo\n"
			    "    type: RouteGeoIp\n"
			    "    resolver: r\n"
			    "    ip_locate_service: tcp://127.0.0.1:7777\n"
			    "    geo_rules:\n"
			    "      - {next: gone, country: CN}\n"
			    "    default_next: missing\n");
	g = proxyd_conf_escaper(l.conf, "geo");
	assert_int_equal(g->type, ESCAPER_ROUTE_GEOIP);
	assert_string_equal(g->geoip.url, "tcp://127.0.0.1:7777");
	assert_int_equal(g->geoip.query_wait_timeout_ms, 1000);
	assert_int_equal(g->geoip.cache_size, 65536);
	assert_string_equal(g->geoip.rules[0].countries.v[0], "CN");
	assert_string_equal(g->geoip.rules[0].next->name, "gone");
	assert_int_equal(g->geoip.rules[0].next->type, ESCAPER_DUMMY_DENY);
	assert_true(g->geoip.rules[0].next->internal);
	assert_int_equal(g->geoip.default_next->type, ESCAPER_DUMMY_DENY);
	assert_true(g->geoip.default_next->internal);
	assert_int_equal(l.conf->fallbacks, 2);
	fx_done(&l);

	/* no ip_locate_service: iplocd's default socket */
	FX_LOAD_OK(&l, BASE "  - {name: geo, type: route_geoip, resolver: r, default_next: d}\n");
	g = proxyd_conf_escaper(l.conf, "geo");
	assert_string_equal(g->geoip.url, "ipc:///run/g3c/iplocd.rpc");
	assert_int_equal(g->geoip.n_rules, 0);
	fx_done(&l);

	/* a relative path resolves against the config's directory */
	FX_LOAD_OK(&l, BASE "  - {name: geo, type: route_geoip, resolver: r, default_next: d,\n"
			    "     ip_locate_service: {addr: run/iplocd.rpc}}\n");
	g = proxyd_conf_escaper(l.conf, "geo");
	assert_non_null(strstr(g->geoip.url, "run/iplocd.rpc"));
	assert_true(strncmp(g->geoip.url, "ipc://", 6) == 0);
	fx_done(&l);
}

#define GEO "  - name: geo\n    type: route_geoip\n    resolver: r\n"

static void test_bad(void **state)
{
	(void)state;
	FX_LOAD_ERR(BASE GEO, "t.yaml:7:5: error: escaper[3]: missing required key 'default_next'");
	FX_LOAD_ERR(BASE GEO "    default_next: d\n"
			     "    ip_locate_service: 127.0.0.1:2888\n",
		    "t.yaml:11:24: error: escaper[3].ip_locate_service: '127.0.0.1:2888' looks "
		    "like g3iploc's UDP peer; iplocd speaks the g3c RPC: give its rpc.listen (a "
		    "path, an ipc:// or a tcp:// URL)");
	FX_LOAD_ERR(BASE GEO "    default_next: d\n"
			     "    ip_locate_service: udp://127.0.0.1:2888\n",
		    "t.yaml:11:24: error: escaper[3].ip_locate_service: 'udp://127.0.0.1:2888': "
		    "only ipc:// and tcp:// URLs are supported");
	FX_LOAD_ERR(
		BASE GEO "    default_next: d\n"
			 "    ip_locate_service: {query_wait_timeout: 0, cache_size: -1}\n",
		"t.yaml:11:45: error: escaper[3].ip_locate_service.query_wait_timeout: duration "
		"'0' out of range (1ms..1m)\nt.yaml:11:60: error: "
		"escaper[3].ip_locate_service.cache_size: value -1 out of range (1..4294967295)");
	FX_LOAD_ERR(BASE GEO "    default_next: d\n"
			     "    ip_locate_service: {default_expire_ttl: 600}\n",
		    "t.yaml:11:24: error: escaper[3].ip_locate_service: default_expire_ttl (600) "
		    "exceeds maximum_expire_ttl (300)");
	FX_LOAD_ERR(BASE GEO "    default_next: d\n"
			     "    geo_rules:\n"
			     "      - {countries: [DE]}\n"
			     "      - {next: a}\n"
			     "      - {next: a, countries: [DEU, '1x'], continents: [XX]}\n"
			     "      - {next: a, as_numbers: [0, abc], networks: [10.0.0.1/8]}\n",
		    "t.yaml:12:9: error: escaper[3].geo_rules[0]: missing required key "
		    "'next'\nt.yaml:13:9: error: escaper[3].geo_rules[1]: a geo rule needs "
		    "networks, as_numbers, countries or continents\nt.yaml:14:30: error: "
		    "escaper[3].geo_rules[2].countries: 'DEU' is not a two-letter ISO 3166 country "
		    "code\nt.yaml:14:30: error: escaper[3].geo_rules[2].countries: '1x' is not a "
		    "two-letter ISO 3166 country code\nt.yaml:14:55: error: "
		    "escaper[3].geo_rules[2].continents: unknown continent code 'XX' (AF AN AS EU "
		    "NA OC SA)\nt.yaml:15:32: error: escaper[3].geo_rules[3].as_numbers[0]: value "
		    "0 out of range (1..4294967295)\nt.yaml:15:35: error: "
		    "escaper[3].geo_rules[3].as_numbers[1]: invalid integer 'abc'\nt.yaml:15:52: "
		    "error: escaper[3].geo_rules[3].networks[0]: 10.0.0.1/8 has host bits set");
	FX_LOAD_ERR(BASE GEO
		    "    default_next: d\n"
		    "    geo_rules:\n"
		    "      - {next: a, countries: [DE], as_numbers: [1], networks: [10.0.0.0/8], "
		    "continents: [EU]}\n"
		    "      - {next: b, countries: [de], as_numbers: [1], networks: [10.0.0.0/8], "
		    "continents: [eu]}\n",
		    "t.yaml:7:5: error: escaper[3]: geo_rules[1]: a network is already routed by "
		    "geo_rules[0]\nt.yaml:7:5: error: escaper[3]: geo_rules[1]: AS number 1 is "
		    "already routed by geo_rules[0]\nt.yaml:7:5: error: escaper[3]: geo_rules[1]: "
		    "country 'DE' is already routed by geo_rules[0]\nt.yaml:7:5: error: "
		    "escaper[3]: geo_rules[1]: continent 'EU' is already routed by geo_rules[0]");
	FX_LOAD_ERR(BASE GEO "    default_next: d\n    geo_rules: {next: a}\n",
		    "t.yaml:11:16: error: escaper[3].geo_rules: a geo rule needs networks, "
		    "as_numbers, countries or continents");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_defaults_alias_and_fallback),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
