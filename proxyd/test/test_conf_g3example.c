/* The g3proxy spec's minimal realistic config (§2.3), verbatim: it loads with
 * its certificate files next to it, or with the PEM inline, and every value
 * lands where the data plane will read it. */
#include "proxyd/test/proxyd_fixture.h"

#include <arpa/inet.h>

static const char example_head[] =
	"runtime:\n"
	"  thread_number: 2\n"
	"log: stdout                  # discard | stdout | syslog | journal | fluentd | {task: "
	"..., escape: ...}\n"
	"stat:\n"
	"  target:\n"
	"    udp: 127.0.0.1:8125\n"
	"  prefix: g3proxy            # default anyway\n"
	"controller:\n"
	"  local:\n"
	"    recv_timeout: 30\n"
	"    send_timeout: 1\n"
	"\n"
	"resolver:\n"
	"  - name: default\n"
	"    type: c-ares\n"
	"    server: 127.0.0.1        # omit to use /etc/resolv.conf\n"
	"\n"
	"escaper:\n"
	"  - name: default\n"
	"    type: direct_fixed\n"
	"    resolver: default\n"
	"    resolve_strategy: IPv4First\n"
	"    egress_network_filter:   # needed to reach loopback targets (default forbids 127/8, "
	"::1, link-local)\n"
	"      default: allow\n"
	"      allow: 127.0.0.1\n"
	"\n"
	"user_group:\n"
	"  - name: default\n"
	"    static_users:\n"
	"      - name: t1\n"
	"        token:               # fast hash of password \"toor\" with 8-byte salt (hex)\n"
	"          salt: 4e8f8a4e37f0fa1b\n"
	"          md5: d9d963915b9815d4cc39c196c2868900\n"
	"          sha1: c28640e7b1a3d9db98187632aeba99c0cff0ffd4\n"
	"        dst_port_filter:\n"
	"          default: allow\n"
	"          forbid: [22, \"100-200\"]\n"
	"    anonymous_user:          # optional: lets unauthenticated clients through with their "
	"own limits\n"
	"      name: anonymous\n"
	"      request_rate_limit: 500\n"
	"\n"
	"server:\n"
	"  - name: http\n"
	"    type: http_proxy\n"
	"    listen: 127.0.0.1:8080\n"
	"    escaper: default\n"
	"    user_group: default\n"
	"    tls_client: {}           # https forward with system CAs\n"
	"  - name: socks\n"
	"    type: socks_proxy\n"
	"    listen: 127.0.0.1:1080\n"
	"    escaper: default\n"
	"    user_group: default\n"
	"    use_udp_associate: true\n"
	"  - name: https_port         # same http_proxy reachable over TLS (\"HTTPS proxy\")\n"
	"    type: plain_tls_port\n"
	"    listen: 127.0.0.1:8443\n"
	"    server: http\n"
	"    tls_server:\n"
	"      cert_pairs:\n";

static const char example_files[] = "        certificate: g3proxy.local.pem\n"
				    "        private_key: g3proxy.local-key.pem\n";

static uint16_t port_of(const struct listen_conf *l)
{
	return ntohs(((const struct sockaddr_in *)&l->addr)->sin_port);
}

static void check_model(const struct proxyd_conf *c)
{
	const struct resolver_conf *r = proxyd_conf_resolver(c, "default");
	const struct escaper_conf *e = proxyd_conf_escaper(c, "default");
	const struct user_group_conf *g = proxyd_conf_user_group(c, "default");
	const struct server_conf *http = proxyd_conf_server(c, "http");
	const struct server_conf *socks = proxyd_conf_server(c, "socks");
	const struct server_conf *tls = proxyd_conf_server(c, "https_port");
	static const uint8_t salt[8] = {0x4e, 0x8f, 0x8a, 0x4e, 0x37, 0xf0, 0xfa, 0x1b};

	/* shared part */
	assert_int_equal(c->runtime_thread_number, 2);
	assert_int_equal(proxyd_conf_worker_count(c), 2);
	assert_true(c->common.stat.enabled);
	assert_int_equal(c->common.ctl_recv_timeout_ms, 30000);

	assert_int_equal(c->loaded[PROXYD_KIND_RESOLVER], 1);
	assert_int_equal(c->loaded[PROXYD_KIND_ESCAPER], 1);
	assert_int_equal(c->loaded[PROXYD_KIND_USER_GROUP], 1);
	assert_int_equal(c->loaded[PROXYD_KIND_SERVER], 3);
	assert_int_equal(c->fallbacks, 0);

	assert_non_null(r);
	assert_int_equal(r->type, RESOLVER_C_ARES);
	assert_int_equal(r->n_servers, 1);
	assert_string_equal(r->servers[0].host, "127.0.0.1");
	assert_int_equal(r->servers[0].port, 53);
	assert_int_equal(r->each_timeout_ms, 2000);

	assert_non_null(e);
	assert_int_equal(e->type, ESCAPER_DIRECT_FIXED);
	assert_ptr_equal(e->resolver, r);
	assert_true(e->resolve_strategy.set);
	assert_int_equal(e->resolve_strategy.query, RESOLVE_IPV4_FIRST);
	assert_int_equal(e->egress_net_filter.missed, ACL_PERMIT);
	/* built-ins plus the user's 127.0.0.1/32 permit */
	bool found = false;
	for (size_t i = 0; i < e->egress_net_filter.n; i++) {
		const struct acl_net_rec *rec = &e->egress_net_filter.v[i];
		if (rec->net.family == AF_INET && rec->net.prefix == 32 &&
		    rec->net.addr[0] == 127 && rec->net.addr[3] == 1) {
			assert_int_equal(rec->action, ACL_PERMIT);
			found = true;
		}
		if (rec->net.family == AF_INET && rec->net.prefix == 8 && rec->net.addr[0] == 127)
			assert_int_equal(rec->action, ACL_FORBID);
	}
	assert_true(found);
	assert_int_equal(e->tcp_connect.max_retry, 2);
	assert_int_equal(e->happy_eyeballs.connection_attempt_delay_ms, 250);

	assert_non_null(g);
	assert_int_equal(g->type, USER_GROUP_BASIC);
	assert_int_equal(g->n_static_users, 1);
	const struct user_conf *t1 = &g->static_users[0];
	assert_string_equal(t1->name, "t1");
	assert_int_equal(t1->token.type, USER_TOKEN_FAST_HASH);
	assert_memory_equal(t1->token.salt, salt, 8);
	assert_true(t1->token.has_md5 && t1->token.has_sha1);
	assert_int_equal(t1->token.md5[0], 0xd9);
	assert_int_equal(t1->token.sha1[19], 0xd4);
	assert_true(t1->dst_port_filter.set);
	assert_int_equal(t1->dst_port_filter.missed, ACL_PERMIT);
	assert_int_equal(t1->dst_port_filter.n, 2);
	assert_int_equal(t1->dst_port_filter.v[0].lo, 22);
	assert_int_equal(t1->dst_port_filter.v[0].hi, 22);
	assert_int_equal(t1->dst_port_filter.v[1].lo, 100);
	assert_int_equal(t1->dst_port_filter.v[1].hi, 200);
	assert_int_equal(t1->dst_port_filter.v[1].action, ACL_FORBID);
	assert_true(g->has_anonymous_user);
	assert_string_equal(g->anonymous_user.name, "anonymous");
	assert_int_equal(g->anonymous_user.token.type, USER_TOKEN_FORBID);
	assert_true(g->anonymous_user.request_rate_limit.set);
	assert_int_equal(g->anonymous_user.request_rate_limit.max_burst, 500);
	assert_int_equal(g->anonymous_user.request_rate_limit.replenish_interval_ns, 2000000);

	assert_non_null(http);
	assert_int_equal(http->type, SERVER_HTTP_PROXY);
	assert_int_equal(port_of(&http->listen), 8080);
	assert_ptr_equal(http->escaper, e);
	assert_ptr_equal(http->user_group, g);
	assert_ptr_equal(http->auditor, c->default_auditor);
	assert_true(http->u.http.tls_client.set);
	assert_null(http->u.http.tls_client.ca_pem);
	assert_string_equal(http->u.http.auth_realm, "proxy");

	assert_non_null(socks);
	assert_int_equal(socks->type, SERVER_SOCKS_PROXY);
	assert_int_equal(port_of(&socks->listen), 1080);
	assert_true(socks->u.socks.use_udp_associate);
	assert_int_equal(socks->u.socks.negotiation_timeout_ms, 4000);

	assert_non_null(tls);
	assert_int_equal(tls->type, SERVER_PLAIN_TLS_PORT);
	assert_int_equal(port_of(&tls->listen), 8443);
	assert_ptr_equal(tls->u.port.server, http);
	assert_true(tls->tls_server.set);
	assert_int_equal(tls->tls_server.n_pairs, 1);
	assert_non_null(strstr(tls->tls_server.pairs[0].cert_pem, "BEGIN CERTIFICATE"));
	assert_non_null(strstr(tls->tls_server.pairs[0].key_pem, "PRIVATE KEY"));
	assert_int_equal(tls->tls_server.handshake_timeout_ms, 10000);
}

static void test_example_with_files(void **state)
{
	char *dir = fx_tmpdir(), *cert, *key, path[4200];
	char text[sizeof(example_head) + sizeof(example_files)];
	struct fx_load l;

	(void)state;
	fx_make_cert("g3proxy.local", &cert, &key);
	fx_write(dir, "g3proxy.local.pem", cert);
	fx_write(dir, "g3proxy.local-key.pem", key);
	snprintf(text, sizeof(text), "%s%s", example_head, example_files);
	fx_write(dir, "main.yaml", text);

	snprintf(path, sizeof(path), "%s/main.yaml", dir);
	if (fx_load_path(&l, path) == NULL)
		fail_msg("the spec example did not load:\n%s", l.errs);
	assert_string_equal(l.errs, "");
	check_model(l.conf);
	/* the PEM text is kept: the files can go */
	assert_string_equal(proxyd_conf_server(l.conf, "https_port")->tls_server.pairs[0].cert_pem,
			    cert);
	fx_done(&l);

	/* -c DIR picks main.yaml */
	if (fx_load_path(&l, dir) == NULL)
		fail_msg("the spec example did not load from its directory:\n%s", l.errs);
	fx_done(&l);

	/* a key that does not belong to the certificate is an error */
	char *cert2, *key2;
	fx_make_cert("other", &cert2, &key2);
	fx_write(dir, "g3proxy.local-key.pem", key2);
	assert_null(fx_load_path(&l, path));
	assert_non_null(strstr(l.errs, "server[2].tls_server.cert_pairs: the private key does not "
				       "match the certificate in "));
	fx_done(&l);

	fx_rmtree(dir);
	free(dir);
	free(cert);
	free(key);
	free(cert2);
	free(key2);
}

static void test_example_with_inline_pem(void **state)
{
	char *cert, *key, *icert, *ikey, *text;
	struct fx_load l;
	size_t cap;

	(void)state;
	fx_make_cert("g3proxy.local", &cert, &key);
	icert = fx_indent(cert, 10);
	ikey = fx_indent(key, 10);
	cap = sizeof(example_head) + strlen(icert) + strlen(ikey) + 128;
	text = malloc(cap);
	snprintf(text, cap, "%s        certificate: |\n%s        private_key: |\n%s", example_head,
		 icert, ikey);
	if (fx_load_str(&l, text) == NULL)
		fail_msg("the spec example with inline PEM did not load:\n%s", l.errs);
	check_model(l.conf);
	assert_string_equal(proxyd_conf_server(l.conf, "https_port")->tls_server.pairs[0].cert_src,
			    "<inline>");
	fx_done(&l);
	free(text);
	free(icert);
	free(ikey);
	free(cert);
	free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_with_files),
		cmocka_unit_test(test_example_with_inline_pem),
	};
	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
