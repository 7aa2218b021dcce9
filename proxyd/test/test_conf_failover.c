/* fail_over resolver config: keys, defaults, references resolved to the
 * primary / standby objects, and the errors a user sees. */
#include "proxyd/test/proxyd_fixture.h"

static const struct resolver_conf *res_named(const struct proxyd_conf *c, const char *name)
{
	const struct resolver_conf *r = proxyd_conf_resolver(c, name);

	assert_non_null(r);
	return r;
}

static void test_fail_over_ok(void **state)
{
	struct fx_load l;
	const struct resolver_conf *fo, *fo2;

	(void)state;
	FX_LOAD_OK(&l, "resolver:\n"
		       "  - {name: a, type: c_ares}\n"
		       "  - {name: b, type: deny_all}\n"
		       "  - name: fo\n"
		       "    type: fail_over\n"
		       "    primary: a\n"
		       "    standby: b\n"
		       "    fallback_delay: 250ms\n"
		       "    retry_empty_record: true\n"
		       "  - {name: fo2, type: failover, primary: fo, standby: a}\n");
	fo = res_named(l.conf, "fo");
	assert_int_equal(fo->type, RESOLVER_FAIL_OVER);
	assert_ptr_equal(fo->primary, res_named(l.conf, "a"));
	assert_ptr_equal(fo->standby, res_named(l.conf, "b"));
	assert_int_equal(fo->fallback_delay_ms, 250);
	assert_true(fo->retry_empty_record);
	fo2 = res_named(l.conf, "fo2");
	assert_ptr_equal(fo2->primary, fo);
	assert_int_equal(fo2->fallback_delay_ms, 100); /* g3's default */
	assert_false(fo2->retry_empty_record);
	fx_done(&l);
}

static void test_fail_over_missing_ref(void **state)
{
	struct fx_load l;
	const struct resolver_conf *fo;

	(void)state;
	/* as for escapers: a missing resolver becomes an internal deny_all */
	FX_LOAD_OK(&l, "resolver:\n"
		       "  - {name: a, type: c_ares}\n"
		       "  - {name: fo, type: fail_over, primary: a, standby: nosuch}\n");
	fo = res_named(l.conf, "fo");
	assert_non_null(fo->standby);
	assert_int_equal(fo->standby->type, RESOLVER_DENY_ALL);
	assert_string_equal(fo->standby->name, "nosuch");
	fx_done(&l);
}

static void test_fail_over_errors(void **state)
{
	(void)state;
	FX_LOAD_ERR_HAS("resolver:\n"
			"  - {name: a, type: c_ares}\n"
			"  - {name: fo, type: fail_over, primary: a}\n",
			"standby");
	FX_LOAD_ERR_HAS("resolver:\n"
			"  - {name: a, type: c_ares}\n"
			"  - {name: fo, type: fail_over, primary: a, standby: a}\n",
			"primary and standby are the same resolver 'a'");
	FX_LOAD_ERR_HAS("resolver:\n"
			"  - {name: a, type: c_ares}\n"
			"  - {name: x, type: fail_over, primary: y, standby: a}\n"
			"  - {name: y, type: fail_over, primary: x, standby: a}\n",
			"primary / standby form a loop");
	FX_LOAD_ERR_HAS(
		"resolver:\n"
		"  - {name: a, type: c_ares}\n"
		"  - {name: fo, type: fail_over, primary: a, standby: a, server: 1.1.1.1}\n",
		"unknown key 'server'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fail_over_ok),
		cmocka_unit_test(test_fail_over_missing_ref),
		cmocka_unit_test(test_fail_over_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
