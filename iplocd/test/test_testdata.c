/* MaxMind's published test databases (../shared/testdata/mmdb next to the
 * repository: present on the project's machines and in CI, not in a user's
 * clone; every test skips, saying so, when it is absent):
 *  - every deliberately corrupt file (everything under bad-data/, and the
 *    test-data files named Broken, Invalid or broken) is refused with a
 *    reason, and the file watcher
 *    keeps answering with the loaded database when one replaces it;
 *  - the GeoIP2/GeoLite2 location databases load, and answer what their
 *    source-data JSON says for a few addresses (the Python integration
 *    test compares many more). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>

#include "common/conf.h"
#include "iplocd/runtime.h"
#include "iplocd/test/iplocd_fixture.h"

static char data_dir[512];

static bool have_data(void)
{
	static int have = -1;
	struct stat st;

	if (have < 0) {
		snprintf(data_dir, sizeof(data_dir), "%s/../shared/testdata/mmdb", fx_srcdir());
		have = stat(data_dir, &st) == 0 && S_ISDIR(st.st_mode);
		if (!have)
			fprintf(stderr,
				"skipped: %s not found (MaxMind test data is not part of "
				"the repository)\n",
				data_dir);
	}
	return have == 1;
}

#define NEED_DATA()               \
	do {                      \
		if (!have_data()) \
			skip();   \
	} while (0)

/* ---- the corrupt files ------------------------------------------------------ */

static char *bad_files[128];
static size_t n_bad;

static int collect_bad(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	const char *base = p + f->base;

	(void)st;
	if (flag != FTW_F || !strstr(base, ".mmdb") || n_bad == ARRAY_SIZE(bad_files))
		return 0;
	if (strstr(p, "/bad-data/") || strstr(base, "Broken") || strstr(base, "Invalid") ||
	    strstr(base, "broken"))
		bad_files[n_bad++] = strdup(p);
	return 0;
}

static void find_bad(void)
{
	if (n_bad)
		return;
	assert_int_equal(nftw(data_dir, collect_bad, 16, FTW_PHYS), 0);
	/* 21 in bad-data/, 4 in test-data/ when this was written */
	assert_true(n_bad >= 20);
}

static void test_corrupt_files_refused(void **state)
{
	(void)state;
	NEED_DATA();
	find_bad();
	for (size_t i = 0; i < n_bad; i++) {
		struct iploc_db *db = NULL;
		char err[512] = "";
		int ret = iploc_db_open(bad_files[i], &db, err, sizeof(err));
		if (ret == 0)
			fail_msg("%s was accepted", bad_files[i]);
		assert_null(db);
		assert_true(err[0] != '\0');
		print_message("refused %s: %s\n", strrchr(bad_files[i], '/') + 1, err);
	}
}

static const char *const good[] = {
	"GeoIP2-City-Test.mmdb",
	"GeoIP2-Country-Test.mmdb",
	"GeoIP2-ISP-Test.mmdb",
	"GeoLite2-ASN-Test.mmdb",
	"GeoLite2-City-Test.mmdb",
	"GeoLite2-Country-Test.mmdb",
	"GeoIP2-Domain-Test.mmdb",
	"GeoIP2-Enterprise-Test.mmdb",
	"GeoIP2-Precision-Enterprise-Test.mmdb",
};

static struct iploc_db *open_test_db(const char *name)
{
	char path[700], err[512];
	struct iploc_db *db = NULL;

	snprintf(path, sizeof(path), "%s/test-data/%s", data_dir, name);
	if (iploc_db_open(path, &db, err, sizeof(err)) != 0)
		fail_msg("%s: %s", name, err);
	return db;
}

static void test_location_dbs_load(void **state)
{
	(void)state;
	NEED_DATA();
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct iploc_db *db = open_test_db(good[i]);
		assert_true(db->info.location_records > 0);
		iploc_db_unref(db);
	}
}

/* ---- answers ------------------------------------------------------------------ */

static const G3c__Iploc__Location *ask(const char *dbname, enum iploc_db_kind kind, const char *ip,
				       G3c__Iploc__Reply **rep, struct iploc_service *svc)
{
	struct iploc_db *db = open_test_db(dbname);

	iploc_service_init(svc);
	iploc_service_set_db(svc, kind, db);
	iploc_db_unref(db);
	return fx_lookup1(svc, ip, rep);
}

static void test_source_data_answers(void **state)
{
	struct iploc_service svc;
	G3c__Iploc__Reply *rep;
	const G3c__Iploc__Location *l;

	(void)state;
	NEED_DATA();
	/* GeoIP2-City-Test.json: "::81.2.69.160/123": country GB (registered US), EU */
	l = ask("GeoIP2-City-Test.mmdb", IPLOC_DB_CITY, "81.2.69.160", &rep, &svc);
	assert_string_equal(l->network, "81.2.69.160/27");
	assert_string_equal(l->country, "GB");
	assert_string_equal(l->continent, "EU");
	g3c__iploc__reply__free_unpacked(rep, NULL);
	iploc_service_fini(&svc);
	/* GeoIP2-Country-Test.json: "2a02:d280::/29": CZ, EU */
	l = ask("GeoIP2-Country-Test.mmdb", IPLOC_DB_COUNTRY, "2a02:d280::1", &rep, &svc);
	assert_string_equal(l->network, "2a02:d280::/29");
	assert_string_equal(l->country, "CZ");
	g3c__iploc__reply__free_unpacked(rep, NULL);
	iploc_service_fini(&svc);
	/* GeoIP2-ISP-Test.json: "::1.128.0.0/107": 1221, Telstra Pty Ltd, Telstra Internet */
	l = ask("GeoIP2-ISP-Test.mmdb", IPLOC_DB_ISP, "1.128.0.1", &rep, &svc);
	assert_string_equal(l->network, "1.128.0.0/11");
	assert_int_equal(l->asn, 1221);
	assert_string_equal(l->as_org, "Telstra Pty Ltd");
	assert_string_equal(l->isp_name, "Telstra Internet");
	g3c__iploc__reply__free_unpacked(rep, NULL);
	iploc_service_fini(&svc);
	/* GeoLite2-ASN-Test.json: "1.128.0.0/11": 1221; no ISP name: the AS's */
	l = ask("GeoLite2-ASN-Test.mmdb", IPLOC_DB_ASN, "1.159.255.255", &rep, &svc);
	assert_string_equal(l->network, "1.128.0.0/11");
	assert_int_equal(l->asn, 1221);
	assert_string_equal(l->isp_name, "Telstra Pty Ltd");
	g3c__iploc__reply__free_unpacked(rep, NULL);
	iploc_service_fini(&svc);
}

/* ---- the watcher meets every corrupt file ------------------------------------------ */

static void copy_file(const char *src, const char *dst)
{
	char tmp[600], buf[65536];
	int in, out;
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
	in = open(src, O_RDONLY);
	assert_true(in >= 0);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
	assert_int_equal(rename(tmp, dst), 0);
}

static void test_watcher_keeps_old_db(void **state)
{
	struct ev_loop *loop;
	struct iplocd ipl;
	struct iplocd_conf *c;
	struct conf_ctx ctx;
	char live[300], good_src[700], name[300], url[300], err[512];
	const char *text = "geoip_db:\n  city: live.mmdb\ndb_check_interval: 0\n";
	G3c__Iploc__Reply *rep;

	(void)state;
	NEED_DATA();
	find_bad();
	snprintf(live, sizeof(live), "%s/live.mmdb", fx_dir);
	snprintf(good_src, sizeof(good_src), "%s/test-data/GeoIP2-City-Test.mmdb", data_dir);
	copy_file(good_src, live);
	snprintf(name, sizeof(name), "%s/iplocd.yaml", fx_dir);
	conf_ctx_init(&ctx, name);
	c = iplocd_conf_load_buffer(&ctx, name, text, strlen(text));
	conf_ctx_fini(&ctx);
	assert_non_null(c);
	loop = ev_loop_new(EVFLAG_AUTO);
	snprintf(url, sizeof(url), "ipc://%s/iplocd.rpc", fx_dir);
	assert_int_equal(iplocd_start(&ipl, loop, c, url, err, sizeof(err)), 0);
	for (size_t i = 0; i < n_bad; i++) {
		const G3c__Iploc__Location *l;
		copy_file(bad_files[i], live);
		assert_int_equal(iplocd_check_files(&ipl), 0);
		assert_int_equal(ipl.watch[IPLOC_DB_CITY].failures, i + 1);
		l = fx_lookup1(&ipl.svc, "81.2.69.160", &rep);
		assert_string_equal(l->country, "GB");
		g3c__iploc__reply__free_unpacked(rep, NULL);
	}
	copy_file(good_src, live);
	assert_int_equal(iplocd_check_files(&ipl), 1);
	iplocd_stop(&ipl);
	ev_loop_destroy(loop);
}

static int teardown(void **state)
{
	for (size_t i = 0; i < n_bad; i++)
		free(bad_files[i]);
	n_bad = 0;
	return fx_teardown_dir(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_corrupt_files_refused),
		cmocka_unit_test(test_location_dbs_load),
		cmocka_unit_test(test_source_data_answers),
		cmocka_unit_test(test_watcher_keeps_old_db),
	};
	return cmocka_run_group_tests(tests, fx_setup_dir, teardown);
}
