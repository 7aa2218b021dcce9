/* iplocd's configuration: defaults, every key, g3iploc compatibility
 * (runtime, worker, stat), the RPC socket forms, and errors with
 * file:line:col for bad values, unknown keys and unusable databases. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/conf.h"
#include "iplocd/conf.h"
#include "iplocd/test/iplocd_fixture.h"

static char db_path[256];

static int setup(void **state)
{
	if (fx_setup_dir(state) != 0)
		return -1;
	if (fx_have_writer())
		return fx_build_db("c.mmdb", "--kind country", db_path, sizeof(db_path));
	return 0;
}

#define NEED_DB()                      \
	do {                           \
		if (!fx_have_writer()) \
			skip();        \
	} while (0)

/* Load text as fx_dir/iplocd.yaml; returns the config or NULL with the
 * joined errors in *errs (free()). */
static struct iplocd_conf *load(const char *text, char **errs)
{
	struct conf_ctx ctx;
	struct iplocd_conf *c;
	char name[256];

	snprintf(name, sizeof(name), "%s/iplocd.yaml", fx_dir);
	conf_ctx_init(&ctx, name);
	c = iplocd_conf_load_buffer(&ctx, name, text, strlen(text));
	*errs = ctx.nerr ? conf_errors_join(&ctx) : NULL;
	conf_ctx_fini(&ctx);
	return c;
}

static void expect_error(const char *text, const char *part)
{
	char *errs = NULL;
	struct iplocd_conf *c = load(text, &errs);

	assert_null(c);
	assert_non_null(errs);
	if (!errs || !strstr(errs, part))
		fail_msg("errors\n%s\ndo not mention '%s'", errs, part);
	free(errs);
}

static void test_defaults(void **state)
{
	char *errs = NULL;
	struct iplocd_conf *c;
	char url[256];

	(void)state;
	NEED_DB();
	c = load("geoip_db:\n  country: c.mmdb\n", &errs);
	assert_null(errs);
	assert_non_null(c);
	assert_string_equal(c->db_path[IPLOC_DB_COUNTRY], db_path);
	assert_non_null(c->db[IPLOC_DB_COUNTRY]);
	assert_null(c->db[IPLOC_DB_ASN]);
	assert_int_equal(c->ttl, 300);
	assert_int_equal(c->miss_ttl, 60);
	assert_int_equal(c->check_interval_ms, 10000);
	assert_null(c->rpc_listen);
	assert_string_equal(c->common.stat_prefix, "g3iploc");
	assert_int_equal(iplocd_rpc_url(c, "/run/g3c/", NULL, url, sizeof(url)), 0);
	assert_string_equal(url, "ipc:///run/g3c/iplocd.rpc");
	assert_int_equal(iplocd_rpc_url(c, "/run/g3c", "edge1", url, sizeof(url)), 0);
	assert_string_equal(url, "ipc:///run/g3c/iplocd_edge1.rpc");
	{
		char longdir[200];
		memset(longdir, 'd', sizeof(longdir) - 1);
		longdir[0] = '/';
		longdir[sizeof(longdir) - 1] = '\0';
		assert_int_equal(iplocd_rpc_url(c, longdir, NULL, url, sizeof(url)), -ENAMETOOLONG);
	}
	iplocd_conf_free(c);
}

static void test_all_keys(void **state)
{
	char *errs = NULL;
	struct iplocd_conf *c;
	char want[300];

	(void)state;
	NEED_DB();
	c = load("---\n"
		 "geoip_db:\n"
		 "  Country: c.mmdb\n"
		 "  asn: c.mmdb\n"
		 "  city: c.mmdb\n"
		 "  isp: c.mmdb\n"
		 "ttl: 1h\n"
		 "miss-ttl: 15\n"
		 "db_check_interval: 0\n"
		 "rpc:\n"
		 "  listen: sock/iploc.rpc\n"
		 "runtime:\n"
		 "  thread_number: 0\n"
		 "  task_wait_delay: 1s\n"
		 "worker:\n"
		 "  thread_number: 4\n"
		 "  sched_affinity: true\n"
		 "stat:\n"
		 "  target_udp: 127.0.0.1:8125\n"
		 "  emit_interval: 1s\n"
		 "log: discard\n"
		 "controller:\n"
		 "  local:\n"
		 "    recv_timeout: 5s\n",
		 &errs);
	if (errs)
		fail_msg("%s", errs);
	assert_non_null(c);
	for (int k = 0; k < IPLOC_DB__COUNT; k++)
		assert_non_null(c->db[k]);
	assert_int_equal(c->ttl, 3600);
	assert_int_equal(c->miss_ttl, 15);
	assert_int_equal(c->check_interval_ms, 0);
	snprintf(want, sizeof(want), "ipc://%s/sock/iploc.rpc", fx_dir);
	assert_string_equal(c->rpc_listen, want);
	assert_true(c->worker_given);
	assert_true(c->common.stat.enabled);
	assert_string_equal(c->common.stat.prefix, "g3iploc");
	assert_int_equal(c->common.task_wait_delay_ms, 1000);
	iplocd_conf_free(c);
}

static void test_listen_forms(void **state)
{
	char *errs = NULL;
	struct iplocd_conf *c;

	(void)state;
	NEED_DB();
	c = load("geoip_db: {country: c.mmdb}\nrpc: {listen: 'ipc:///tmp/x/iplocd.rpc'}\n", &errs);
	assert_non_null(c);
	assert_string_equal(c->rpc_listen, "ipc:///tmp/x/iplocd.rpc");
	iplocd_conf_free(c);
	c = load("geoip_db: {country: c.mmdb}\nrpc: {listen: 'tcp://127.0.0.1:2888'}\n", &errs);
	assert_non_null(c);
	assert_string_equal(c->rpc_listen, "tcp://127.0.0.1:2888");
	iplocd_conf_free(c);
	c = load("geoip_db: {country: c.mmdb}\nrpc: {listen: /abs/iplocd.rpc}\n", &errs);
	assert_non_null(c);
	assert_string_equal(c->rpc_listen, "ipc:///abs/iplocd.rpc");
	iplocd_conf_free(c);
	expect_error("geoip_db: {country: c.mmdb}\nrpc: {listen: 'ipc://'}\n",
		     "iplocd.yaml:2:15: error: rpc.listen: empty socket path");
	{
		char text[512], longp[200];
		memset(longp, 'p', sizeof(longp) - 1);
		longp[sizeof(longp) - 1] = '\0';
		snprintf(text, sizeof(text), "geoip_db: {country: c.mmdb}\nrpc: {listen: /%s}\n",
			 longp);
		expect_error(text, "too long for a unix socket");
	}
	expect_error("geoip_db: {country: c.mmdb}\nrpc: {port: 1}\n", "port");
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("ttl: 300\n", "geoip_db: at least one database");
	expect_error("geoip_db: {}\n", "at least one database");
	expect_error("geoip_db:\n", "expected a map of database kinds");
	expect_error("geoip_db: [a.mmdb]\n", "expected a map of database kinds");
	expect_error("geoip_db:\n  country: missing.mmdb\n",
		     "iplocd.yaml:2:12: error: geoip_db.country: ");
	expect_error("geoip_db:\n  country: missing.mmdb\n", "missing.mmdb: cannot open: No such "
							     "file or directory");
	expect_error("geoip_db:\n  country: ''\n", "empty file path");
	expect_error("geoip_db:\n  region: x.mmdb\n",
		     "iplocd.yaml:2:3: error: geoip_db.region: unknown database kind 'region'");
	expect_error("geoip_db:\n  country: [a, b]\n", "geoip_db.country");
	expect_error("listen: 1\n", "unknown top-level key 'listen'");
	expect_error("server: []\n", "unknown top-level key 'server'");
	expect_error("ttl: 0\n", "ttl: TTL out of range (1s..7d)");
	expect_error("ttl: 8d\n", "TTL out of range");
	expect_error("miss_ttl: -1\n", "miss_ttl");
	expect_error("db_check_interval: 5ms\n", "below 10ms");
	expect_error("worker:\n  threads: 4\n", "threads");
	expect_error("- a\n- b\n", "expected a map");
	expect_error("stat:\n  prefix: [x]\n", "stat");
}

static void test_refuses_bad_database(void **state)
{
	char path[256], text[512];
	FILE *f;

	(void)state;
	NEED_DB();
	snprintf(path, sizeof(path), "%s/broken.mmdb", fx_dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("\xab\xcd\xefMaxMind.com", f); /* a metadata marker and nothing else */
	fclose(f);
	snprintf(text, sizeof(text), "geoip_db:\n  country: c.mmdb\n  asn: broken.mmdb\n");
	expect_error(text, "iplocd.yaml:3:8: error: geoip_db.asn: ");
	expect_error(text, "broken.mmdb: not a valid MaxMind DB file");
	assert_int_equal(fx_build_db("conn.mmdb", "--kind connection", path, sizeof(path)), 0);
	expect_error("geoip_db:\n  isp: conn.mmdb\n", "not a location database");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_all_keys),
		cmocka_unit_test(test_listen_forms),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_refuses_bad_database),
	};
	return cmocka_run_group_tests(tests, setup, fx_teardown_dir);
}
