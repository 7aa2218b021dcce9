/* Test helpers for iplocd's unit tests: a private temp directory, building
 * test databases with the project's Perl writer (deploy/mmdb/
 * build-demo-db.pl, Debian's libmaxmind-db-writer-perl), and packing and
 * unpacking iploc requests through rpc_dispatch_buffer. Header-only (static
 * functions); include after <cmocka.h>.
 *
 * Tests that need a database call fx_have_writer() first and skip() when it
 * returns false: perl or MaxMind::DB::Writer is missing on this machine (the
 * reason is printed once). */
#ifndef G3C_IPLOCD_TEST_FIXTURE_H
#define G3C_IPLOCD_TEST_FIXTURE_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/rpc.h"
#include "iplocd/service.h"

static char fx_dir[128];

static inline const char *fx_srcdir(void)
{
#ifdef G3C_SRCDIR
	return G3C_SRCDIR;
#else
	return ".";
#endif
}

static inline int fx_rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static inline int fx_setup_dir(void **state)
{
	(void)state;
	snprintf(fx_dir, sizeof(fx_dir), "/tmp/iplocd-test-XXXXXX");
	return mkdtemp(fx_dir) ? 0 : -1;
}

static inline int fx_teardown_dir(void **state)
{
	(void)state;
	if (fx_dir[0])
		nftw(fx_dir, fx_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	fx_dir[0] = '\0';
	return 0;
}

/* True when the Perl writer works here (checked once). */
static inline bool fx_have_writer(void)
{
	static int have = -1;

	if (have < 0) {
		have = system("perl -MMaxMind::DB::Writer::Tree -e 1 >/dev/null 2>&1") == 0;
		if (!have)
			fprintf(stderr,
				"skipped: database tests need perl with MaxMind::DB::Writer "
				"(Debian: libmaxmind-db-writer-perl)\n");
	}
	return have == 1;
}

/* Build fx_dir/name with build-demo-db.pl and `args` (e.g. "--kind asn");
 * the path goes to out. Returns 0 or -EIO. */
static inline int fx_build_db(const char *name, const char *args, char *out, size_t cap)
{
	char cmd[1024];

	snprintf(out, cap, "%s/%s", fx_dir, name);
	snprintf(cmd, sizeof(cmd), "perl '%s/deploy/mmdb/build-demo-db.pl' %s '%s'", fx_srcdir(),
		 args ? args : "", out);
	return system(cmd) == 0 ? 0 : -EIO;
}

/* Build a db and open it; fails the test on error. */
static inline struct iploc_db *fx_open_db(const char *name, const char *args)
{
	char path[256], err[512];
	struct iploc_db *db = NULL;
	int ret;

	assert_int_equal(fx_build_db(name, args, path, sizeof(path)), 0);
	ret = iploc_db_open(path, &db, err, sizeof(err));
	if (ret != 0)
		fail_msg("%s: %s", path, err);
	return db;
}

/* Send a LookupReq for ips through the handler; returns the unpacked reply
 * (free with g3c__iploc__reply__free_unpacked). */
static inline G3c__Iploc__Reply *fx_lookup(struct iploc_service *svc, const char *const *ips,
					   size_t n)
{
	G3c__Iploc__Request req = G3C__IPLOC__REQUEST__INIT;
	G3c__Iploc__LookupReq lk = G3C__IPLOC__LOOKUP_REQ__INIT;
	G3c__Iploc__Reply *rep;
	uint8_t *buf, *out = NULL;
	size_t len, outlen = 0;

	lk.ips = (char **)ips;
	lk.n_ips = n;
	req.id = 42;
	req.body_case = G3C__IPLOC__REQUEST__BODY_LOOKUP;
	req.lookup = &lk;
	len = g3c__iploc__request__get_packed_size(&req);
	buf = malloc(len ? len : 1);
	assert_non_null(buf);
	g3c__iploc__request__pack(&req, buf);
	assert_int_equal(
		rpc_dispatch_buffer(&iploc_rpc_service, iploc_handle, svc, buf, len, &out, &outlen),
		0);
	free(buf);
	rep = g3c__iploc__reply__unpack(NULL, outlen, out);
	free(out);
	assert_non_null(rep);
	assert_int_equal(rep->id, 42);
	assert_non_null(rep->status);
	return rep;
}

/* One address; asserts an OK answer and returns it in *rep (free it). */
static inline const G3c__Iploc__Location *fx_lookup1(struct iploc_service *svc, const char *ip,
						     G3c__Iploc__Reply **rep)
{
	*rep = fx_lookup(svc, &ip, 1);
	if ((*rep)->status->code != G3C__RPC__CODE__OK)
		fail_msg("%s: %s", ip, (*rep)->status->message);
	assert_int_equal((*rep)->body_case, G3C__IPLOC__REPLY__BODY_LOOKUP);
	assert_int_equal((*rep)->lookup->n_answers, 1);
	return (*rep)->lookup->answers[0];
}

#endif
