/* The running daemon state without the process around it: start on a
 * private loop, the file watcher replacing a database that changed, keeping
 * the loaded one when the new file is broken or missing, config reloads
 * (TTLs, databases, RPC socket), and a swap while 1000 RPC lookups are in
 * flight: every lookup is answered, each from the old or the new database. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/conf.h"
#include "iplocd/runtime.h"
#include "iplocd/test/iplocd_fixture.h"

#define NEED_DB()                      \
	do {                           \
		if (!fx_have_writer()) \
			skip();        \
	} while (0)

static struct iplocd_conf *load_conf(const char *text)
{
	struct conf_ctx ctx;
	struct iplocd_conf *c;
	char name[256];

	snprintf(name, sizeof(name), "%s/iplocd.yaml", fx_dir);
	conf_ctx_init(&ctx, name);
	c = iplocd_conf_load_buffer(&ctx, name, text, strlen(text));
	if (!c) {
		char *e = conf_errors_join(&ctx);
		print_error("%s\n", e);
		free(e);
	}
	conf_ctx_fini(&ctx);
	assert_non_null(c);
	return c;
}

static const char *country_of(struct iplocd *ipl, const char *ip)
{
	static char cc[8];
	G3c__Iploc__Reply *rep;
	const G3c__Iploc__Location *l = fx_lookup1(&ipl->svc, ip, &rep);

	snprintf(cc, sizeof(cc), "%s", l->found ? l->country : "-");
	g3c__iploc__reply__free_unpacked(rep, NULL);
	return cc;
}

static void url_in_dir(char *buf, size_t cap, const char *name)
{
	snprintf(buf, cap, "ipc://%s/%s", fx_dir, name);
}

struct fixture {
	struct ev_loop *loop;
	struct iplocd ipl;
	char db[256];
};

static void start(struct fixture *f, const char *extra)
{
	char text[1024], url[300], err[512];
	struct iplocd_conf *c;

	assert_int_equal(fx_build_db("country.mmdb", "--kind country", f->db, sizeof(f->db)), 0);
	snprintf(text, sizeof(text), "geoip_db:\n  country: country.mmdb\ndb_check_interval: 0\n%s",
		 extra ? extra : "");
	c = load_conf(text);
	f->loop = ev_loop_new(EVFLAG_AUTO);
	url_in_dir(url, sizeof(url), "iplocd.rpc");
	if (iplocd_start(&f->ipl, f->loop, c, url, err, sizeof(err)) != 0)
		fail_msg("start: %s", err);
	/* the config's references moved into the service */
	assert_null(f->ipl.conf->db[IPLOC_DB_COUNTRY]);
	assert_non_null(f->ipl.svc.db[IPLOC_DB_COUNTRY]);
}

static void stop(struct fixture *f)
{
	iplocd_stop(&f->ipl);
	ev_loop_destroy(f->loop);
}

static void replace_file(const char *dst, const char *src_name, const char *args)
{
	char src[256];

	assert_int_equal(fx_build_db(src_name, args, src, sizeof(src)), 0);
	assert_int_equal(rename(src, dst), 0);
}

static void test_watch_replaces_and_keeps(void **state)
{
	struct fixture f;
	char tmp[300];
	FILE *fp;

	(void)state;
	NEED_DB();
	start(&f, NULL);
	assert_string_equal(country_of(&f.ipl, "192.0.2.1"), "AU");
	assert_int_equal(iplocd_check_files(&f.ipl), 0); /* nothing changed */

	/* A new version (atomic rename) is picked up. */
	replace_file(f.db, "v2.mmdb", "--kind country --variant 2");
	assert_int_equal(iplocd_check_files(&f.ipl), 1);
	assert_string_equal(country_of(&f.ipl, "192.0.2.1"), "FR");
	assert_int_equal(f.ipl.watch[IPLOC_DB_COUNTRY].reloads, 1);

	/* A broken one is refused once, with the reason kept; the old answers stay. */
	snprintf(tmp, sizeof(tmp), "%s.new", f.db);
	fp = fopen(tmp, "wb");
	assert_non_null(fp);
	fputs("this is not a MaxMind DB file", fp);
	fclose(fp);
	assert_int_equal(rename(tmp, f.db), 0);
	assert_int_equal(iplocd_check_files(&f.ipl), 0);
	assert_string_equal(country_of(&f.ipl, "192.0.2.1"), "FR");
	assert_int_equal(f.ipl.watch[IPLOC_DB_COUNTRY].failures, 1);
	assert_non_null(strstr(f.ipl.watch[IPLOC_DB_COUNTRY].last_error, "not a valid MaxMind DB"));
	assert_int_equal(iplocd_check_files(&f.ipl), 0);
	assert_int_equal(f.ipl.watch[IPLOC_DB_COUNTRY].failures, 1); /* not retried */

	/* A file that is gone leaves the loaded db answering. */
	assert_int_equal(unlink(f.db), 0);
	assert_int_equal(iplocd_check_files(&f.ipl), 0);
	assert_true(f.ipl.watch[IPLOC_DB_COUNTRY].stat_failed);
	assert_string_equal(country_of(&f.ipl, "192.0.2.1"), "FR");

	/* And a good file again is loaded. */
	replace_file(f.db, "v1.mmdb", "--kind country");
	assert_int_equal(iplocd_check_files(&f.ipl), 1);
	assert_string_equal(country_of(&f.ipl, "192.0.2.1"), "AU");
	assert_int_equal(f.ipl.watch[IPLOC_DB_COUNTRY].reloads, 2);
	assert_false(f.ipl.watch[IPLOC_DB_COUNTRY].failed);
	stop(&f);
}

static void test_watch_timer(void **state)
{
	struct fixture f;
	uint64_t end;
	char text[512];

	(void)state;
	NEED_DB();
	start(&f, NULL);
	/* Reload the config with polling on: the timer notices the change. */
	snprintf(text, sizeof(text),
		 "geoip_db:\n  country: country.mmdb\ndb_check_interval: 20ms\n");
	{
		char url[300], err[512];
		struct iplocd_conf *c = load_conf(text);
		url_in_dir(url, sizeof(url), "iplocd.rpc");
		assert_int_equal(iplocd_reload(&f.ipl, c, url, err, sizeof(err)), 0);
	}
	replace_file(f.db, "v2.mmdb", "--kind country --variant 2");
	end = util_mono_ns() + 5000000000ull;
	while (f.ipl.watch[IPLOC_DB_COUNTRY].reloads == 0 && util_mono_ns() < end)
		ev_run(f.loop, EVRUN_ONCE);
	assert_int_equal(f.ipl.watch[IPLOC_DB_COUNTRY].reloads, 1);
	assert_string_equal(country_of(&f.ipl, "192.0.2.1"), "FR");
	stop(&f);
}

static void test_config_reload(void **state)
{
	struct fixture f;
	struct iplocd_conf *c;
	char asn[256], url[300], err[512];
	G3c__Iploc__Reply *rep;
	const G3c__Iploc__Location *l;

	(void)state;
	NEED_DB();
	start(&f, "ttl: 10m\n");
	assert_int_equal(f.ipl.svc.ttl, 600);
	assert_int_equal(fx_build_db("asn.mmdb", "--kind asn", asn, sizeof(asn)), 0);
	c = load_conf("geoip_db:\n  country: country.mmdb\n  asn: asn.mmdb\nttl: 77\n"
		      "miss_ttl: 3\nrpc:\n  listen: other.rpc\n");
	url_in_dir(url, sizeof(url), "other.rpc");
	assert_string_equal(c->rpc_listen, url);
	assert_int_equal(iplocd_reload(&f.ipl, c, url, err, sizeof(err)), 0);
	assert_string_equal(f.ipl.rpc_url, url);
	l = fx_lookup1(&f.ipl.svc, "10.1.2.3", &rep);
	assert_int_equal(l->ttl, 77);
	assert_int_equal(l->asn, 64512);
	assert_string_equal(l->country, "CA");
	g3c__iploc__reply__free_unpacked(rep, NULL);
	l = fx_lookup1(&f.ipl.svc, "8.8.8.8", &rep);
	assert_int_equal(l->ttl, 3);
	g3c__iploc__reply__free_unpacked(rep, NULL);
	stop(&f);
}

/* A reload whose RPC socket cannot be had changes nothing. */
static void test_reload_refused_socket(void **state)
{
	struct fixture f;
	struct iplocd_conf *c;
	char url[300], err[512] = "";
	struct rpc_server *squatter;
	int e = 0;

	(void)state;
	NEED_DB();
	start(&f, NULL);
	url_in_dir(url, sizeof(url), "taken.rpc");
	squatter = rpc_server_new(f.loop, url, &iploc_rpc_service, iploc_handle, &f.ipl.svc, &e);
	assert_non_null(squatter);
	c = load_conf("geoip_db:\n  country: country.mmdb\nttl: 42\n");
	assert_int_not_equal(iplocd_reload(&f.ipl, c, url, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "another iplocd serves it"));
	iplocd_conf_free(c);
	assert_int_equal(f.ipl.svc.ttl, IPLOC_DEFAULT_TTL);
	assert_null(strstr(f.ipl.rpc_url, "taken"));
	rpc_server_free(squatter);
	stop(&f);
}

/* ---- 1000 lookups over RPC while the database is swapped ---------------------- */

struct flight {
	unsigned done, ok, au, fr, other;
};

static void flight_cb(void *arg, int err, enum rpc_code code, const char *errmsg,
		      const ProtobufCMessage *rep_)
{
	struct flight *fl = arg;
	const G3c__Iploc__Reply *rep = (const G3c__Iploc__Reply *)rep_;

	(void)errmsg;
	fl->done++;
	if (err || code != RPC_OK || rep->body_case != G3C__IPLOC__REPLY__BODY_LOOKUP)
		return;
	fl->ok++;
	if (strcmp(rep->lookup->answers[0]->country, "AU") == 0)
		fl->au++;
	else if (strcmp(rep->lookup->answers[0]->country, "FR") == 0)
		fl->fr++;
	else
		fl->other++;
}

static void test_swap_under_load(void **state)
{
	struct fixture f;
	struct flight fl = {0};
	struct rpc_client *cl;
	char *ip = (char *)"192.0.2.1";
	uint64_t end;
	bool swapped = false;
	int e = 0;

	(void)state;
	NEED_DB();
	start(&f, NULL);
	cl = rpc_client_new(f.loop, f.ipl.rpc_url, &iploc_rpc_service, &e);
	assert_non_null(cl);
	rpc_client_set_window(cl, 64);
	for (int i = 0; i < 1000; i++) {
		G3c__Iploc__Request req = G3C__IPLOC__REQUEST__INIT;
		G3c__Iploc__LookupReq lk = G3C__IPLOC__LOOKUP_REQ__INIT;
		lk.ips = &ip;
		lk.n_ips = 1;
		req.body_case = G3C__IPLOC__REQUEST__BODY_LOOKUP;
		req.lookup = &lk;
		assert_int_equal(rpc_call(cl, &req.base, 20000, flight_cb, &fl, NULL), 0);
	}
	replace_file(f.db, "v2.mmdb", "--kind country --variant 2");
	end = util_mono_ns() + 30000000000ull;
	while (fl.done < 1000 && util_mono_ns() < end) {
		ev_run(f.loop, EVRUN_ONCE);
		if (!swapped && fl.done >= 300) {
			assert_int_equal(iplocd_check_files(&f.ipl), 1);
			swapped = true;
		}
	}
	print_message("answered %u/1000: %u before the swap, %u after\n", fl.ok, fl.au, fl.fr);
	assert_int_equal(fl.done, 1000);
	assert_int_equal(fl.ok, 1000);
	assert_int_equal(fl.other, 0);
	assert_true(fl.au >= 300);
	assert_true(fl.fr > 0);
	rpc_client_free(cl);
	stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_watch_replaces_and_keeps, fx_setup_dir,
						fx_teardown_dir),
		cmocka_unit_test_setup_teardown(test_watch_timer, fx_setup_dir, fx_teardown_dir),
		cmocka_unit_test_setup_teardown(test_config_reload, fx_setup_dir, fx_teardown_dir),
		cmocka_unit_test_setup_teardown(test_reload_refused_socket, fx_setup_dir,
						fx_teardown_dir),
		cmocka_unit_test_setup_teardown(test_swap_under_load, fx_setup_dir,
						fx_teardown_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
