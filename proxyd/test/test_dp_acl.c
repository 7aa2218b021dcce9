/* ACL checks of the data plane (proxyd/dp/acl.h) over rules loaded from
 * YAML, as a server or escaper would see them. */
#include "proxyd/test/proxyd_fixture.h"

#include <arpa/inet.h>

#include "common/sock.h"
#include "proxyd/dp/acl.h"

static struct sockaddr_storage ip(const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;

	assert_int_equal(sock_ip_parse(slice_from_cstr(s), 80, &ss, &len), 0);
	return ss;
}

static enum acl_action net(const struct acl_net_rule *r, const char *s)
{
	struct sockaddr_storage ss = ip(s);

	return acl_net_check(r, (const struct sockaddr *)&ss);
}

static enum acl_action host(const struct acl_host_set *h, const char *s)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (sock_ip_parse(slice_from_cstr(s), 0, &ss, &len) == 0)
		return acl_host_check(h, s, strlen(s), (const struct sockaddr *)&ss);
	return acl_host_check(h, s, strlen(s), NULL);
}

static const char *const BASE = "resolver: [{name: r, type: c_ares}]\n";

static void test_egress_default(void **state)
{
	struct fx_load l;
	char yaml[1024];
	const struct escaper_conf *e;

	(void)state;
	snprintf(yaml, sizeof(yaml), "%sescaper: [{name: d, type: direct_fixed, resolver: r}]\n",
		 BASE);
	FX_LOAD_OK(&l, yaml);
	e = proxyd_conf_escaper(l.conf, "d");
	/* g3's built-in forbids, everything else permitted */
	assert_true(acl_forbids(net(&e->egress_net_filter, "127.0.0.1")));
	assert_true(acl_forbids(net(&e->egress_net_filter, "127.255.0.9")));
	assert_true(acl_forbids(net(&e->egress_net_filter, "::1")));
	assert_true(acl_forbids(net(&e->egress_net_filter, "::ffff:127.0.0.1")));
	assert_true(acl_forbids(net(&e->egress_net_filter, "169.254.1.1")));
	assert_true(acl_forbids(net(&e->egress_net_filter, "fe80::1")));
	assert_true(acl_forbids(net(&e->egress_net_filter, "0.0.0.0")));
	assert_false(acl_forbids(net(&e->egress_net_filter, "192.0.2.1")));
	assert_false(acl_forbids(net(&e->egress_net_filter, "2001:db8::1")));
	fx_done(&l);
}

static void test_egress_longest_prefix(void **state)
{
	struct fx_load l;
	char yaml[1024];
	const struct escaper_conf *e;

	(void)state;
	/* allow 127.0.0.1 reopens one loopback address over the /8 forbid; an
	 * explicit rule without `default` forbids what it does not name */
	snprintf(
		yaml, sizeof(yaml),
		"%sescaper:\n"
		"  - {name: d, type: direct_fixed, resolver: r,\n"
		"     egress_network_filter: {allow: [127.0.0.1, 10.0.0.0/8], deny: 10.1.0.0/16}}\n"
		"  - {name: p, type: direct_fixed, resolver: r,\n"
		"     egress_network_filter: {default: allow, allow: 127.0.0.1}}\n",
		BASE);
	FX_LOAD_OK(&l, yaml);
	e = proxyd_conf_escaper(l.conf, "d");
	assert_int_equal(net(&e->egress_net_filter, "127.0.0.1"), ACL_PERMIT);
	assert_true(acl_forbids(net(&e->egress_net_filter, "127.0.0.2")));
	assert_int_equal(net(&e->egress_net_filter, "10.2.3.4"), ACL_PERMIT);
	assert_true(acl_forbids(net(&e->egress_net_filter, "10.1.3.4")));
	assert_true(acl_forbids(net(&e->egress_net_filter, "192.0.2.1"))); /* missed: forbid */
	e = proxyd_conf_escaper(l.conf, "p");
	assert_int_equal(net(&e->egress_net_filter, "127.0.0.1"), ACL_PERMIT);
	assert_true(acl_forbids(net(&e->egress_net_filter, "127.0.0.2")));
	assert_int_equal(net(&e->egress_net_filter, "192.0.2.1"), ACL_PERMIT);
	fx_done(&l);
}

static void test_server_filters(void **state)
{
	struct fx_load l;
	char yaml[2048];
	const struct server_conf *s;

	(void)state;
	snprintf(yaml, sizeof(yaml),
		 "%sescaper: [{name: d, type: direct_fixed, resolver: r}]\n"
		 "server:\n"
		 "  - name: s\n"
		 "    type: socks_proxy\n"
		 "    escaper: d\n"
		 "    ingress_network_filter: {allow: 192.0.2.0/24}\n"
		 "    dst_port_filter: {allow: [80, 443, 8000-8099]}\n"
		 "    dst_host_filter_set:\n"
		 "      exact_match: {default: allow, deny: [bad.example.net, 192.0.2.66]}\n"
		 "      child_match: {default: allow, deny: evil.example}\n"
		 "      regex_match: {default: allow, deny: '^ads[0-9]+\\.'}\n"
		 "  - name: strict\n"
		 "    type: socks_proxy\n"
		 "    escaper: d\n"
		 "    dst_host_filter_set:\n"
		 "      exact_match: {default: allow, deny: a.example}\n"
		 "      child_match: {deny: b.example}\n"
		 "  - {name: open, type: http_proxy, escaper: d}\n",
		 BASE);
	FX_LOAD_OK(&l, yaml);
	s = proxyd_conf_server(l.conf, "s");
	/* ingress: loopback is always permitted, plus the rule; else forbid */
	assert_int_equal(net(&s->ingress_net_filter, "127.0.0.1"), ACL_PERMIT);
	assert_int_equal(net(&s->ingress_net_filter, "192.0.2.9"), ACL_PERMIT);
	assert_true(acl_forbids(net(&s->ingress_net_filter, "198.51.100.1")));
	/* ports */
	assert_int_equal(acl_port_check(&s->dst_port_filter, 443), ACL_PERMIT);
	assert_int_equal(acl_port_check(&s->dst_port_filter, 8050), ACL_PERMIT);
	assert_true(acl_forbids(acl_port_check(&s->dst_port_filter, 22)));
	/* hosts */
	assert_true(acl_forbids(host(&s->dst_host_filter_set, "bad.example.net")));
	assert_true(acl_forbids(host(&s->dst_host_filter_set, "BAD.Example.NET.")));
	assert_true(acl_forbids(host(&s->dst_host_filter_set, "192.0.2.66")));
	assert_true(acl_forbids(host(&s->dst_host_filter_set, "evil.example")));
	assert_true(acl_forbids(host(&s->dst_host_filter_set, "www.evil.example")));
	assert_false(acl_forbids(host(&s->dst_host_filter_set, "notevil.example")));
	assert_true(acl_forbids(host(&s->dst_host_filter_set, "ads12.example.org")));
	assert_false(acl_forbids(host(&s->dst_host_filter_set, "good.example.org")));
	assert_false(acl_forbids(host(&s->dst_host_filter_set, "192.0.2.67")));
	/* unmatched: the strictest `default` of the rules present wins (g3) */
	s = proxyd_conf_server(l.conf, "strict");
	assert_true(acl_forbids(host(&s->dst_host_filter_set, "c.example")));
	assert_true(acl_forbids(host(&s->dst_host_filter_set, "a.example")));
	/* a server without rules permits everything */
	s = proxyd_conf_server(l.conf, "open");
	assert_int_equal(net(&s->ingress_net_filter, "198.51.100.1"), ACL_PERMIT);
	assert_int_equal(acl_port_check(&s->dst_port_filter, 22), ACL_PERMIT);
	assert_int_equal(host(&s->dst_host_filter_set, "bad.example.net"), ACL_PERMIT);
	fx_done(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_egress_default),
		cmocka_unit_test(test_egress_longest_prefix),
		cmocka_unit_test(test_server_filters),
	};
	log_init("test", "", LOG_SINK_STDERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
