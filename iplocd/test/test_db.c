/* Loading databases: refusal of missing, empty, truncated, corrupted and
 * non-location files with a reason; lookups on whatever a corruption lets
 * through never crash; an opened database keeps answering when its file is
 * rewritten or truncated in place; file identity; the UTF-8 check. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>

#include "iplocd/fields.h"
#include "iplocd/test/iplocd_fixture.h"

#define NEED_DB()                      \
	do {                           \
		if (!fx_have_writer()) \
			skip();        \
	} while (0)

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	if (len)
		assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int open_err(const char *path, char *err, size_t cap)
{
	struct iploc_db *db = NULL;
	int ret = iploc_db_open(path, &db, err, cap);

	if (ret == 0)
		iploc_db_unref(db);
	else
		assert_null(db);
	return ret;
}

static void test_open_errors(void **state)
{
	char path[256], err[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.mmdb", fx_dir);
	assert_int_equal(open_err(path, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open"));
	assert_int_equal(open_err(fx_dir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	snprintf(path, sizeof(path), "%s/empty.mmdb", fx_dir);
	write_file(path, "", 0);
	assert_int_equal(open_err(path, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "not a valid MaxMind DB file"));
	snprintf(path, sizeof(path), "%s/text.mmdb", fx_dir);
	write_file(path, "country,GB\n10.0.0.0/8,US\n", 25);
	assert_int_equal(open_err(path, err, sizeof(err)), -EBADMSG);
}

static void test_not_location_db(void **state)
{
	char path[256], err[512];

	(void)state;
	NEED_DB();
	assert_int_equal(fx_build_db("conn.mmdb", "--kind connection", path, sizeof(path)), 0);
	assert_int_equal(open_err(path, err, sizeof(err)), -ENODATA);
	assert_non_null(strstr(err, "not a location database"));
}

/* Every prefix of a database file is refused. */
static void test_truncated(void **state)
{
	char path[256], cut[256], err[512];
	uint8_t *data;
	size_t len, refused = 0, tried = 0;

	(void)state;
	NEED_DB();
	assert_int_equal(fx_build_db("full.mmdb", "--kind all", path, sizeof(path)), 0);
	data = read_file(path, &len);
	snprintf(cut, sizeof(cut), "%s/cut.mmdb", fx_dir);
	for (size_t n = 0; n < len; n += (n < 64 || n > len - 300) ? 1 : 37) {
		write_file(cut, data, n);
		tried++;
		if (open_err(cut, err, sizeof(err)) != 0)
			refused++;
		else
			fail_msg("the first %zu of %zu bytes were accepted", n, len);
	}
	assert_int_equal(refused, tried);
	free(data);
}

/* Lookups over a range of addresses; they may find nothing, never crash. */
static void probe_lookups(const struct iploc_db *db)
{
	static const char *const ips[] = {
		"10.1.2.3", "10.200.0.1",    "192.0.2.1",	"8.8.8.8", "127.0.0.1",
		"::1",	    "2001:db8:1::1", "255.255.255.255", "::",	   "ffff::"};
	for (size_t i = 0; i < ARRAY_SIZE(ips); i++) {
		struct sockaddr_storage ss;
		struct iploc_db_hit hit;
		struct iploc_fields f;
		int ret;

		assert_int_equal(iploc_parse_ip(ips[i], &ss), 0);
		ret = iploc_db_lookup(db, (struct sockaddr *)&ss, &hit);
		assert_true(ret == 0 || ret == -EAFNOSUPPORT || ret == -EBADMSG);
		if (ret == 0 && hit.found)
			(void)iploc_fields_read(&hit.entry, &f);
	}
}

/* Single-byte corruptions all over the file: each is refused, or (when the
 * byte did not matter, e.g. inside a string) answers without crashing. */
static void test_corrupted(void **state)
{
	char path[256], bad[256], err[512];
	uint8_t *data;
	size_t len, refused = 0, accepted = 0;
	unsigned seed = 12345;

	(void)state;
	NEED_DB();
	assert_int_equal(fx_build_db("full.mmdb", "--kind all", path, sizeof(path)), 0);
	data = read_file(path, &len);
	snprintf(bad, sizeof(bad), "%s/bad.mmdb", fx_dir);
	for (int i = 0; i < 600; i++) {
		uint8_t *copy = malloc(len);
		struct iploc_db *db = NULL;
		size_t at;

		memcpy(copy, data, len);
		seed = seed * 1103515245u + 12345u;
		at = (seed >> 8) % len;
		copy[at] ^= (uint8_t)(1u << ((seed >> 4) & 7));
		if (i % 3 == 0) /* and sometimes a whole byte */
			copy[(at * 7 + 1) % len] = (uint8_t)(seed >> 16);
		write_file(bad, copy, len);
		if (iploc_db_open(bad, &db, err, sizeof(err)) == 0) {
			accepted++;
			probe_lookups(db);
			iploc_db_unref(db);
		} else {
			assert_true(err[0] != '\0');
			refused++;
		}
		free(copy);
	}
	print_message("corruptions: %zu refused, %zu harmless\n", refused, accepted);
	assert_true(refused > 0);
	free(data);
}

static void expect_country(const struct iploc_db *db, const char *ip, const char *cc)
{
	struct sockaddr_storage ss;
	struct iploc_db_hit hit;
	struct iploc_fields f;

	assert_int_equal(iploc_parse_ip(ip, &ss), 0);
	assert_int_equal(iploc_db_lookup(db, (struct sockaddr *)&ss, &hit), 0);
	assert_true(hit.found);
	assert_true(iploc_fields_read(&hit.entry, &f));
	assert_int_equal(f.country.len, strlen(cc));
	assert_memory_equal(f.country.p, cc, f.country.len);
}

/* The loaded copy is private: rewriting or truncating the file in place
 * (what `cp new.mmdb db.mmdb` does) changes nothing until it is reloaded. */
static void test_in_place_rewrite(void **state)
{
	char path[256], err[512];
	struct iploc_db *db = NULL;
	struct iploc_file_id id;
	int fd;

	(void)state;
	NEED_DB();
	assert_int_equal(fx_build_db("live.mmdb", "--kind country", path, sizeof(path)), 0);
	assert_int_equal(iploc_db_open(path, &db, err, sizeof(err)), 0);
	assert_int_equal(iploc_file_id_stat(path, &id), 0);
	assert_true(iploc_file_id_equal(&id, &db->id));
	expect_country(db, "10.1.2.3", "CA");

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "garbage", 7), 7);
	close(fd);
	expect_country(db, "10.1.2.3", "CA");
	expect_country(db, "2001:db8:1::1", "KR");
	assert_int_equal(truncate(path, 0), 0);
	expect_country(db, "192.0.2.1", "AU");
	assert_int_equal(iploc_file_id_stat(path, &id), 0);
	assert_false(iploc_file_id_equal(&id, &db->id));
	iploc_db_unref(db);
}

static void test_refs_and_info(void **state)
{
	struct iploc_db *db;

	(void)state;
	NEED_DB();
	db = fx_open_db("info.mmdb", "--kind all");
	assert_int_equal(db->refs, 1);
	assert_ptr_equal(iploc_db_ref(db), db);
	assert_int_equal(db->refs, 2);
	iploc_db_unref(db);
	assert_int_equal(db->refs, 1);
	assert_true(db->info.data_records > 0);
	assert_true(db->info.location_records > 0);
	assert_true(db->info.max_depth > 96 && db->info.max_depth <= 128);
	assert_int_equal(db->mmdb.metadata.ip_version, 6);
	assert_string_equal(db->mmdb.metadata.database_type, "g3c-Demo-All");
	assert_non_null(strstr(db->path, "info.mmdb"));
	iploc_db_unref(db);
	iploc_db_unref(NULL);
}

/* The decoded-record cache answers exactly what reading the record does,
 * for every address of a sweep (hits, misses and slot collisions). */
static void test_record_cache(void **state)
{
	struct iploc_db *db;
	uint64_t found = 0;

	(void)state;
	NEED_DB();
	db = fx_open_db("cache.mmdb", "--kind all");
	for (unsigned round = 0; round < 2; round++) {
		for (uint32_t i = 0; i < 20000; i++) {
			struct sockaddr_in sin = {.sin_family = AF_INET};
			struct iploc_db_hit hit;
			struct iploc_fields a, b;
			bool ha, hb;

			/* spread over the demo networks and beyond them */
			sin.sin_addr.s_addr = htonl(i * 2654435761u);
			if (i % 4 == 0)
				sin.sin_addr.s_addr =
					htonl(0xcb007100u + (i & 0xff)); /* 203.0.113.x */
			assert_int_equal(iploc_db_lookup(db, (struct sockaddr *)&sin, &hit), 0);
			if (!hit.found)
				continue;
			found++;
			ha = iploc_db_fields(db, &hit.entry, &a);
			hb = iploc_fields_read(&hit.entry, &b);
			assert_int_equal(ha, hb);
			assert_memory_equal(&a, &b, sizeof(a));
		}
	}
	assert_true(found > 0);
	assert_int_equal(db->rec_hits + db->rec_misses, found);
	assert_true(db->rec_hits > db->rec_misses); /* few records, many networks */
	iploc_db_unref(db);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(iploc_utf8_valid((const uint8_t *)"", 0));
	assert_true(iploc_utf8_valid((const uint8_t *)"abc", 3));
	assert_true(iploc_utf8_valid((const uint8_t *)"\xc3\xa9", 2));		       /* é */
	assert_true(iploc_utf8_valid((const uint8_t *)"\xe6\x97\xa5\xe6\x9c\xac", 6)); /* 日本 */
	assert_true(iploc_utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80", 4));	       /* U+1F600 */
	assert_false(iploc_utf8_valid((const uint8_t *)"\xc3", 1));		/* truncated */
	assert_false(iploc_utf8_valid((const uint8_t *)"\xc0\xaf", 2));		/* overlong */
	assert_false(iploc_utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3));	/* overlong */
	assert_false(iploc_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));	/* surrogate */
	assert_false(iploc_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(iploc_utf8_valid((const uint8_t *)"\xff", 1));
	assert_false(iploc_utf8_valid((const uint8_t *)"a\x80", 2));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_not_location_db),
		cmocka_unit_test(test_refs_and_info),
		cmocka_unit_test(test_record_cache),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupted),
		cmocka_unit_test(test_in_place_rewrite),
	};
	return cmocka_run_group_tests(tests, fx_setup_dir, fx_teardown_dir);
}
