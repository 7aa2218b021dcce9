/* The redis user source in the config: the map form and the URL form with
 * credentials, database and key, their defaults, and clear errors. */
#include "proxyd/test/proxyd_fixture.h"

static const struct user_redis_conf *redis_of(struct fx_load *l, const char *source)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), "user_group:\n  - name: g\n    source: %s\n", source);
	fx_load_str(l, yaml);
	if (l->conf == NULL)
		fail_msg("load failed: %s", l->errs);
	return proxyd_conf_user_group(l->conf, "g")->redis;
}

static void test_map_form(void **state)
{
	struct fx_load l;
	const struct user_redis_conf *r;

	(void)state;
	r = redis_of(&l, "{type: redis, addr: '127.0.0.1:6380', db: 2, username: u, "
			 "password: p, key: users, connect_timeout: 1s}");
	assert_non_null(r);
	assert_string_equal(r->host, "127.0.0.1");
	assert_int_equal(r->port, 6380);
	assert_int_equal(r->db, 2);
	assert_string_equal(r->username, "u");
	assert_string_equal(r->password, "p");
	assert_string_equal(r->key, "users");
	assert_int_equal(r->connect_timeout_ms, 1000);
	assert_int_equal(r->response_timeout_ms, 5000);
	assert_null(proxyd_conf_user_group(l.conf, "g")->source_path);
	fx_done(&l);

	r = redis_of(&l, "{type: redis, addr: redis.example, key: k}");
	assert_string_equal(r->host, "redis.example");
	assert_int_equal(r->port, 6379);
	assert_int_equal(r->db, 0);
	assert_null(r->password);
	fx_done(&l);
}

static void test_url_form(void **state)
{
	struct fx_load l;
	const struct user_redis_conf *r;

	(void)state;
	r = redis_of(&l, "'redis://:pa%40ss@127.0.0.1:7000/5?key=proxy_users'");
	assert_string_equal(r->host, "127.0.0.1");
	assert_int_equal(r->port, 7000);
	assert_int_equal(r->db, 5);
	assert_null(r->username);
	assert_string_equal(r->password, "pa@ss");
	assert_string_equal(r->key, "proxy_users");
	fx_done(&l);

	r = redis_of(&l, "'redis://admin:pw@[::1]/0?key=k'");
	assert_string_equal(r->host, "::1");
	assert_int_equal(r->port, 6379);
	assert_string_equal(r->username, "admin");
	fx_done(&l);

	r = redis_of(&l, "redis://localhost?key=k");
	assert_string_equal(r->host, "localhost");
	assert_int_equal(r->db, 0);
	fx_done(&l);
}

static void test_errors(void **state)
{
	(void)state;
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    source: redis://127.0.0.1:6379/0\n",
			"add ?key=NAME");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    source: 'redis://127.0.0.1/x?key=k'\n",
			"the database must be 0 to 65535");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    source: 'redis://pw@127.0.0.1?key=k'\n",
			"[USER]:PASSWORD@");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    source: 'redis://:p%4@h?key=k'\n",
			"bad %-escape");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    source: 'redis://?key=k'\n", "missing host");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    source: {type: redis, key: k}\n", "addr");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    source: {type: redis, addr: 'h:1'}\n",
			"key");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    source: {type: redis, addr: 'h:1', key: k, "
			"db: 70000}\n",
			"db");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    source: {type: redis, addr: 'h:1', key: k, "
			"path: /x}\n",
			"unknown key 'path'");
	FX_LOAD_ERR_HAS("user_group:\n  - name: g\n    source: {type: redis, addr: 'h:99999', "
			"key: k}\n",
			"out of range");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_form),
		cmocka_unit_test(test_url_form),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
