/* proxyd config errors: each bad config yields exactly the compiler-style
 * message a user sees from `proxyd -t` (file:line:col: error: path: message). */
#include "proxyd/test/proxyd_fixture.h"

struct bad_case {
	const char *what;
	const char *yaml;
	const char *errors; /* every error, joined with '\n' */
};

static const struct bad_case bad_cases[] = {
	{
		"unknown key",
		"server:\n"
		"  - name: s\n"
		"    type: http_proxy\n"
		"    escaper: e\n"
		"    listn: 8080\n",
		"t.yaml:5:5: error: server[0]: unknown key 'listn'",
	},
	{
		"bad listen port",
		"server:\n"
		"  - name: s\n"
		"    type: http_proxy\n"
		"    escaper: e\n"
		"    listen: 127.0.0.1:70000\n",
		"t.yaml:5:13: error: server[0].listen: port 70000 out of range (1..65535)",
	},
	{
		"network with host bits",
		"escaper:\n"
		"  - name: e\n"
		"    type: direct_fixed\n"
		"    resolver: r\n"
		"    egress_network_filter:\n"
		"      allow: 10.0.0.1/8\n",
		"t.yaml:6:14: error: escaper[0].egress_network_filter.allow: 10.0.0.1/8 has host "
		"bits set",
	},
	{
		"bad crypt hash length",
		"user_group:\n"
		"  - name: g\n"
		"    static_users:\n"
		"      - name: u\n"
		"        token: \"$6$salt$short\"\n",
		"t.yaml:5:16: error: user_group[0].static_users[0].token: invalid crypt(5) token: "
		"the hash must be 86 characters of [./0-9A-Za-z]",
	},
	{
		"unsupported escaper type",
		"escaper:\n"
		"  - name: e\n"
		"    type: comply-audit\n",
		"t.yaml:3:11: error: escaper[0].type: escaper type 'comply-audit' is not "
		"supported yet",
	},
	{
		"unknown server type",
		"server:\n"
		"  - name: s\n"
		"    type: foo_proxy\n",
		"t.yaml:3:11: error: server[0].type: unknown server type 'foo_proxy'",
	},
	{
		"duplicate name",
		"escaper:\n"
		"  - name: e\n"
		"    type: dummy_deny\n"
		"  - name: e\n"
		"    type: DummyDeny\n",
		"t.yaml:4:11: error: escaper[1]: duplicate escaper name 'e' (first defined at "
		"t.yaml:2:11)",
	},
	{
		"bad regex",
		"user_group:\n"
		"  - name: g\n"
		"    static_users:\n"
		"      - name: u\n"
		"        dst_host_filter_set:\n"
		"          regex_match:\n"
		"            forbid: \"*.example.com\"\n",
		"t.yaml:7:21: error: "
		"user_group[0].static_users[0].dst_host_filter_set.regex_match.forbid: invalid "
		"regex '*.example.com': Invalid preceding regular expression",
	},
	{
		"bad speed limit shift",
		"server:\n"
		"  - name: s\n"
		"    type: socks_proxy\n"
		"    escaper: e\n"
		"    tcp_sock_speed_limit:\n"
		"      shift_millis: 13\n"
		"      upload: 1M\n",
		"t.yaml:6:21: error: server[0].tcp_sock_speed_limit.shift_millis: value 13 out of "
		"range (0..12)",
	},
	{
		"missing required escaper",
		"server:\n"
		"  - name: s\n"
		"    type: socks_proxy\n"
		"    listen: 1080\n",
		"t.yaml:2:5: error: server[0]: missing required key 'escaper'",
	},
	{
		"bad rate unit",
		"user_group:\n"
		"  - name: g\n"
		"    anonymous_user:\n"
		"      name: anon\n"
		"      request_rate_limit: 10/d\n",
		"t.yaml:5:27: error: user_group[0].anonymous_user.request_rate_limit: invalid rate "
		"'10/d': use N, \"N/s\", \"N/m\" or \"N/h\"",
	},
	{
		"bad port range",
		"server:\n"
		"  - name: s\n"
		"    type: http_proxy\n"
		"    escaper: e\n"
		"    dst_port_filter: [\"80\", \"200-100\"]\n",
		"t.yaml:5:29: error: server[0].dst_port_filter[1]: invalid port range '200-100': "
		"end must be greater than start",
	},
	{
		"bad fast_hash length",
		"user_group:\n"
		"  - name: g\n"
		"    static_users:\n"
		"      - name: u\n"
		"        token:\n"
		"          salt: 4e8f8a4e37f0fa1b\n"
		"          sha1: c28640e7b1a3d9db\n",
		"t.yaml:7:17: error: user_group[0].static_users[0].token.sha1: invalid sha1 hash "
		"'c28640e7b1a3d9db': expected 40 hex characters",
	},
	{
		"ratio above 1",
		"auditor:\n"
		"  - name: a\n"
		"    task_audit_ratio: 1.5\n",
		"t.yaml:3:23: error: auditor[0].task_audit_ratio: invalid ratio '1.5': use 0..1 as "
		"a float, \"n/d\", \"n%\" or a bool",
	},
	{
		"bad resolve strategy",
		"escaper:\n"
		"  - name: e\n"
		"    type: direct_fixed\n"
		"    resolver: r\n"
		"    resolve_strategy: Ipv5First\n",
		"t.yaml:5:23: error: escaper[0].resolve_strategy: invalid resolve query strategy "
		"'Ipv5First': use Ipv4First, Ipv6First, Ipv4Only or Ipv6Only",
	},
	{
		"bad name chars",
		"resolver:\n"
		"  - name: \"my resolver\"\n"
		"    type: deny_all\n",
		"t.yaml:2:11: error: resolver[0].name: invalid name 'my resolver': only letters, "
		"digits and '-', '_', '.', '/' are allowed",
	},
	{
		"unsupported user source",
		"user_group:\n"
		"  - name: g\n"
		"    source: {type: python, script: a.py}\n",
		"t.yaml:3:20: error: user_group[0].source: user source type 'python' is not "
		"supported yet",
	},
	{
		"IPv6 listen without brackets",
		"server:\n"
		"  - name: s\n"
		"    type: http_proxy\n"
		"    escaper: e\n"
		"    listen: \"::1:8080\"\n",
		"t.yaml:5:13: error: server[0].listen: invalid listen address '::1:8080': write "
		"IPv6 as [addr]:port",
	},
	{
		"zero workers",
		"worker:\n"
		"  thread_number: 0\n",
		"t.yaml:2:18: error: worker.thread_number: value 0 out of range (1..256)",
	},
	{
		"duplicate listen address",
		"server:\n"
		"  - {name: a, type: http_proxy, escaper: e, listen: \"127.0.0.1:3128\"}\n"
		"  - {name: b, type: socks_proxy, escaper: e, listen: \"127.0.0.1:3128\"}\n",
		"t.yaml:3:54: error: server[1].listen: address already used by server 'a'",
	},
	{
		"unsupported user group type",
		"user_group:\n"
		"  - name: g\n"
		"    type: ldap\n",
		"t.yaml:3:11: error: user_group[0].type: user group type 'ldap' is not supported "
		"yet",
	},
	{
		"user and user-group together",
		"user: []\n"
		"user-group: []\n",
		"t.yaml:2:1: error: user-group: 'user-group' repeats 'user' (both name the user "
		"group list)",
	},
	{
		"tls_server without certificates",
		"server:\n"
		"  - name: tls\n"
		"    type: plain_tls_port\n"
		"    listen: 8443\n"
		"    server: http\n"
		"    tls_server:\n"
		"      no_session_ticket: true\n",
		"t.yaml:7:7: error: server[0].tls_server: tls_server needs cert_pairs or "
		"certificate + private_key",
	},
	{
		"unknown acl action",
		"server:\n"
		"  - name: s\n"
		"    type: http_proxy\n"
		"    escaper: e\n"
		"    ingress_network_filter:\n"
		"      default: allow\n"
		"      maybe: 10.0.0.0/8\n",
		"t.yaml:7:7: error: server[0].ingress_network_filter.maybe: unknown acl action "
		"'maybe': use default, forbid, forbid_log, permit or permit_log",
	},
	{
		"duration below minimum",
		"escaper:\n"
		"  - name: e\n"
		"    type: direct_fixed\n"
		"    resolver: r\n"
		"    happy_eyeballs:\n"
		"      connection_attempt_delay: 50ms\n",
		"t.yaml:6:33: error: escaper[0].happy_eyeballs.connection_attempt_delay: duration "
		"'50ms' out of range (100ms..2s)",
	},
	{
		"bad listen scale",
		"server:\n"
		"  - name: s\n"
		"    type: http_proxy\n"
		"    escaper: e\n"
		"    listen:\n"
		"      address: 127.0.0.1:8080\n"
		"      scale: half\n",
		"t.yaml:7:14: error: server[0].listen.scale: invalid scale 'half': use a float, "
		"\"n%\" or \"n/d\"",
	},
	{
		"missing certificate files",
		"server:\n"
		"  - name: s\n"
		"    type: http_proxy\n"
		"    escaper: e\n"
		"    tls_server:\n"
		"      certificate: /nonexistent/cert.pem\n"
		"      private_key: /nonexistent/key.pem\n",
		"t.yaml:6:20: error: server[0].tls_server.certificate: cannot read "
		"'/nonexistent/cert.pem': No such file or directory\n"
		"t.yaml:7:20: error: server[0].tls_server.private_key: cannot read "
		"'/nonexistent/key.pem': No such file or directory",
	},
	{
		"xcrypt_hash without value",
		"user_group:\n"
		"  - name: g\n"
		"    static_users:\n"
		"      - name: u\n"
		"        token: {type: xcrypt_hash}\n",
		"t.yaml:5:16: error: user_group[0].static_users[0].token: an xcrypt_hash token "
		"needs 'value'",
	},
	{
		"ttl bounds crossed",
		"resolver:\n"
		"  - name: r\n"
		"    type: cares\n"
		"    positive_min_ttl: 100\n"
		"    positive_max_ttl: 50\n",
		"t.yaml:2:5: error: resolver[0]: positive_max_ttl (50) is below positive_min_ttl "
		"(100)",
	},
	{
		"reversed udp port range",
		"server:\n"
		"  - name: s\n"
		"    type: socks_proxy\n"
		"    escaper: e\n"
		"    udp_bind_port_range: 2000-1000\n",
		"t.yaml:5:26: error: server[0].udp_bind_port_range: invalid port range 2000-1000: "
		"end must be greater than start",
	},
};

static void test_bad_configs(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		struct fx_load l;
		const struct bad_case *c = &bad_cases[i];

		fx_load_str(&l, c->yaml);
		if (l.conf != NULL)
			fail_msg("%s: loaded although it should not", c->what);
		if (strcmp(l.errs, c->errors) != 0)
			fail_msg("%s:\n expected: %s\n      got: %s", c->what, c->errors, l.errs);
		fx_done(&l);
	}
	assert_true(ARRAY_SIZE(bad_cases) >= 15);
}

/* Errors are collected across objects and kinds, not just the first. */
static void test_errors_collected(void **state)
{
	(void)state;
	FX_LOAD_ERR(
		"resolver:\n"
		"  - {name: r, type: c_ares, each_tries: 0}\n"
		"escaper:\n"
		"  - {name: e, type: direct_fixed, resolver: r, bind_ip: 300.1.1.1}\n"
		"server:\n"
		"  - {name: s, type: http_proxy, escaper: e, pipeline_size: 0}\n"
		"  - {name: s2, type: socks_proxy, escaper: e, listen: nowhere}\n",
		"t.yaml:2:41: error: resolver[0].each_tries: value 0 out of range (1..64)\n"
		"t.yaml:4:57: error: escaper[0].bind_ip: invalid IP address '300.1.1.1'\n"
		"t.yaml:6:60: error: server[0].pipeline_size: value 0 out of range "
		"(1..4294967295)\n"
		"t.yaml:7:55: error: server[1].listen: invalid listen address 'nowhere': expected "
		"ip:port");
}

/* A bad config never leaves a config behind: nothing leaks, nothing is live. */
static void test_failed_load_frees_everything(void **state)
{
	uint64_t live = proxyd_conf_live();

	(void)state;
	FX_LOAD_ERR_HAS("server:\n"
			"  - name: s\n"
			"    type: http_proxy\n"
			"    escaper: e\n"
			"    dst_host_filter_set:\n"
			"      regex_match: ['^ok$', '(bad']\n",
			"invalid regex '(bad'");
	assert_int_equal(proxyd_conf_live(), live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_configs),
		cmocka_unit_test(test_errors_collected),
		cmocka_unit_test(test_failed_load_frees_everything),
	};
	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
