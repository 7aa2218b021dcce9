/* References by name and g3's fallbacks (spec §0): a missing escaper is an
 * internal dummy_deny, a missing resolver a deny_all, a missing user group
 * an empty group, a missing auditor a default auditor; none fails the load. */
#include "proxyd/test/proxyd_fixture.h"

static void test_fallbacks(void **state)
{
	struct fx_load l;
	const struct server_conf *a, *b;

	(void)state;
	FX_LOAD_OK(&l, "escaper:\n"
		       "  - {name: e, type: direct_fixed, resolver: nores}\n"
		       "server:\n"
		       "  - {name: a, type: http_proxy, escaper: noesc, user_group: nogroup, "
		       "auditor: noaud}\n"
		       "  - {name: b, type: socks_proxy, escaper: noesc}\n"
		       "  - {name: c, type: http_proxy, escaper: e}\n");
	a = proxyd_conf_server(l.conf, "a");
	b = proxyd_conf_server(l.conf, "b");

	assert_non_null(a->escaper);
	assert_string_equal(a->escaper->name, "noesc");
	assert_int_equal(a->escaper->type, ESCAPER_DUMMY_DENY);
	assert_true(a->escaper->internal);
	assert_ptr_equal(b->escaper, a->escaper); /* one fallback per missing name */

	assert_non_null(a->user_group);
	assert_string_equal(a->user_group->name, "nogroup");
	assert_true(a->user_group->internal);
	assert_int_equal(a->user_group->n_static_users, 0);
	assert_false(a->user_group->has_anonymous_user);
	assert_null(b->user_group); /* no user_group key: no auth */

	assert_non_null(a->auditor);
	assert_string_equal(a->auditor->name, "noaud");
	assert_true(a->auditor->internal);
	assert_true(a->auditor->task_audit_ratio.v == 1.0);
	assert_ptr_equal(b->auditor, l.conf->default_auditor);

	const struct escaper_conf *e = proxyd_conf_escaper(l.conf, "e");
	assert_non_null(e->resolver);
	assert_string_equal(e->resolver->name, "nores");
	assert_int_equal(e->resolver->type, RESOLVER_DENY_ALL);
	assert_true(e->resolver->internal);

	assert_int_equal(l.conf->fallbacks, 4);
	assert_int_equal(l.conf->loaded[PROXYD_KIND_ESCAPER], 1);
	assert_int_equal(l.conf->loaded[PROXYD_KIND_SERVER], 3);
	fx_done(&l);
}

static void test_references_found(void **state)
{
	struct fx_load l;

	(void)state;
	/* order in the file does not matter: servers first, objects later */
	FX_LOAD_OK(&l, "server:\n"
		       "  - {name: s, type: http_proxy, escaper: e, user_group: g, auditor: a}\n"
		       "  - {name: p, type: plain_tcp_port, listen: 9000, server: s}\n"
		       "auditor:\n  - {name: a}\n"
		       "user_group:\n  - {name: g}\n"
		       "escaper:\n  - {name: e, type: direct_fixed, resolver: r}\n"
		       "resolver:\n  - {name: r, type: cares}\n");
	const struct server_conf *s = proxyd_conf_server(l.conf, "s");
	assert_ptr_equal(s->escaper, proxyd_conf_escaper(l.conf, "e"));
	assert_ptr_equal(s->user_group, proxyd_conf_user_group(l.conf, "g"));
	assert_ptr_equal(s->auditor, proxyd_conf_auditor(l.conf, "a"));
	assert_ptr_equal(s->escaper->resolver, proxyd_conf_resolver(l.conf, "r"));
	assert_ptr_equal(proxyd_conf_server(l.conf, "p")->u.port.server, s);
	assert_int_equal(l.conf->fallbacks, 0);
	fx_done(&l);

	/* a port server whose target is missing loads (connections get closed) */
	FX_LOAD_OK(&l,
		   "server:\n  - {name: p, type: plain_tcp_port, listen: 9000, server: gone}\n");
	assert_null(proxyd_conf_server(l.conf, "p")->u.port.server);
	fx_done(&l);

	FX_LOAD_ERR(
		"server:\n"
		"  - {name: p, type: plain_tcp_port, listen: 9000, server: q}\n"
		"  - {name: q, type: plain_tcp_port, listen: 9001, server: p}\n",
		"t.yaml:2:59: error: server[0].server: port server 'p' cannot hand connections to "
		"port server 'q'\n"
		"t.yaml:3:59: error: server[1].server: port server 'q' cannot hand connections to "
		"port server 'p'");
}

/* Names: metric-safe characters, unique per kind, same name across kinds ok. */
static void test_names(void **state)
{
	struct fx_load l;

	(void)state;
	FX_LOAD_OK(&l, "resolver:\n  - {name: default, type: deny_all}\n"
		       "escaper:\n  - {name: default, type: dummy_deny}\n"
		       "  - {name: a-b_c.d/e, type: DummyDeny}\n"
		       "server:\n  - {name: default, type: HttpProxy, escaper: default}\n");
	assert_non_null(proxyd_conf_escaper(l.conf, "a-b_c.d/e"));
	fx_done(&l);

	FX_LOAD_ERR("server:\n"
		    "  - {name: s, type: http_proxy, escaper: e}\n"
		    "  - {name: s, type: socks_proxy, escaper: e}\n",
		    "t.yaml:3:12: error: server[1]: duplicate server name 's' (first defined at "
		    "t.yaml:2:12)");
	FX_LOAD_ERR("user_group:\n  - {type: basic}\n",
		    "t.yaml:2:5: error: user_group[0]: missing required key 'name'");
	FX_LOAD_ERR("escaper:\n  - {name: 'x:y', type: dummy_deny}\n",
		    "t.yaml:2:12: error: escaper[0].name: invalid name 'x:y': only letters, digits "
		    "and '-', '_', '.', '/' are allowed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fallbacks),
		cmocka_unit_test(test_references_found),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
