/* User tables: static users sorted and found by name, references that keep
 * a retired table (and its config) alive, the file source with its cache,
 * the JSON loader's errors, publish-user, and lock-free readers racing a
 * writer. */
#include "proxyd/test/proxyd_fixture.h"

#include <pthread.h>
#include <stdatomic.h>

#include "proxyd/user_int.h"
#include "proxyd/user_table.h"

static const char *const TOK = "$1$abcdefgh$SlTPvWmGWcJUymcx2btBn/";

static struct proxyd_conf *load_users(const char *group_extra)
{
	char yaml[2048];
	struct fx_load l;
	struct proxyd_conf *c;

	snprintf(yaml, sizeof(yaml),
		 "escaper:\n  - {name: d, type: dummy_deny}\n"
		 "user_group:\n"
		 "  - name: g\n"
		 "    static_users:\n"
		 "      - {name: zed, token: '%s'}\n"
		 "      - {name: alice, token: null}\n"
		 "      - {name: bob, block_and_delay: 1s}\n"
		 "%s",
		 TOK, group_extra ? group_extra : "");
	FX_LOAD_OK(&l, yaml);
	c = l.conf;
	l.conf = NULL;
	fx_done(&l);
	return c;
}

static struct user_group_rt *group_of(struct proxyd_conf *c)
{
	const struct user_group_conf *gc = proxyd_conf_user_group(c, "g");

	assert_non_null(gc);
	assert_non_null(gc->rt);
	return gc->rt;
}

static void test_static_sorted_and_found(void **state)
{
	uint64_t base = proxyd_conf_live();
	struct user_groups *ug = user_groups_new();
	struct proxyd_conf *c = load_users(NULL);
	struct user_table *t;

	(void)state;
	user_groups_bind(ug, c);
	t = user_group_current(group_of(c));
	assert_int_equal(user_table_count(t), 3);
	assert_string_equal(user_table_at(t, 0)->name, "alice");
	assert_string_equal(user_table_at(t, 1)->name, "bob");
	assert_string_equal(user_table_at(t, 2)->name, "zed");
	assert_null(user_table_at(t, 3));
	assert_false(user_table_is_dynamic(t, 0));
	assert_ptr_equal(user_table_find(t, "bob", 3), user_table_at(t, 1));
	assert_true(user_table_find(t, "bob", 3)->has_block_and_delay);
	/* the length counts, not a NUL */
	assert_ptr_equal(user_table_find(t, "bobby", 3), user_table_at(t, 1));
	assert_null(user_table_find(t, "bo", 2));
	assert_null(user_table_find(t, "carol", 5));
	assert_null(user_table_find(t, "", 0));
	/* the snapshot keeps the config after everything else let go */
	user_groups_free(ug);
	proxyd_conf_unref(c);
	assert_int_equal(proxyd_conf_live(), base + 1);
	assert_string_equal(user_table_find(t, "zed", 3)->token.crypt, TOK);
	user_table_unref(t);
	assert_int_equal(proxyd_conf_live(), base);
}

static void test_unknown_group_and_reload(void **state)
{
	uint64_t base = proxyd_conf_live();
	struct user_groups *ug = user_groups_new();
	struct proxyd_conf *a = load_users(NULL);
	struct proxyd_conf *b;
	struct user_table *old, *cur;
	struct fx_load l;

	(void)state;
	user_groups_bind(ug, a);
	old = user_group_current(group_of(a));
	/* a reload that drops bob: same runtime, new table */
	FX_LOAD_OK(&l, "escaper:\n  - {name: d, type: dummy_deny}\n"
		       "user_group:\n  - {name: g, static_users: [{name: carol}]}\n"
		       "  - {name: empty}\n");
	b = l.conf;
	l.conf = NULL;
	fx_done(&l);
	user_groups_bind(ug, b);
	assert_ptr_equal(group_of(b), group_of(a));
	cur = user_group_current(group_of(b));
	assert_int_equal(user_table_count(cur), 1);
	assert_non_null(user_table_find(cur, "carol", 5));
	assert_null(user_table_find(cur, "bob", 3));
	/* the old snapshot is unchanged */
	assert_int_equal(user_table_count(old), 3);
	user_table_unref(cur);
	/* a group without users has an empty table, never NULL */
	cur = user_group_current(proxyd_conf_user_group(b, "empty")->rt);
	assert_int_equal(user_table_count(cur), 0);
	assert_null(user_table_find(cur, "x", 1));
	user_table_unref(cur);
	proxyd_conf_unref(a);
	assert_int_equal(proxyd_conf_live(), base + 2); /* old holds a */
	user_table_unref(old);
	assert_int_equal(proxyd_conf_live(), base + 1);
	user_groups_free(ug);
	proxyd_conf_unref(b);
	assert_int_equal(proxyd_conf_live(), base);
}

static char *group_with_source(const char *dir, const char *extra)
{
	char *s = NULL;

	assert_true(asprintf(&s,
			     "    source: {type: file, path: %s/users.json}\n"
			     "    cache: %s/cache.json\n%s",
			     dir, dir, extra ? extra : "") > 0);
	return s;
}

static void test_file_source_and_cache(void **state)
{
	char *dir = fx_tmpdir();
	char *extra = group_with_source(dir, NULL);
	struct user_groups *ug = user_groups_new();
	struct proxyd_conf *c;
	struct user_table *t;
	char *cache = NULL;
	size_t clen = 0;

	(void)state;
	fx_write(dir, "users.json",
		 "[{\"name\": \"bob\", \"token\": null},\n"
		 " {\"name\": \"dyn\", \"token\": {\"type\": \"xcrypt_hash\", \"value\": \""
		 "$1$abcdefgh$SlTPvWmGWcJUymcx2btBn/\"},\n"
		 "  \"dst_host_filter_set\": {\"regex\": [\"^a.*\\\\.example$\"]}}]\n");
	c = load_users(extra);
	user_groups_bind(ug, c);
	t = user_group_current(group_of(c));
	assert_int_equal(user_table_count(t), 4);
	/* dynamic wins over the static bob */
	assert_false(user_table_find(t, "bob", 3)->has_block_and_delay);
	assert_true(user_table_is_dynamic(t, 1));
	assert_false(user_table_is_dynamic(t, 0)); /* alice */
	assert_non_null(user_table_find(t, "dyn", 3));
	user_table_unref(t);
	char path[512];
	snprintf(path, sizeof(path), "%s/cache.json", dir);
	assert_int_equal(user_read_file(path, &cache, &clen), 0);
	assert_non_null(strstr(cache, "\"dyn\""));
	free(cache);

	/* a bad file keeps the last good users; the error is counted */
	fx_write(dir, "users.json", "[{\"name\": \"bob\", \"token\": \"$9$nope\"}]");
	user_groups_bind(ug, c);
	t = user_group_current(group_of(c));
	assert_int_equal(user_table_count(t), 4);
	assert_int_equal(group_of(c)->load_errors, 1);
	user_table_unref(t);
	user_groups_free(ug);

	/* a fresh start without the source file reads the cache */
	fx_write(dir, "users.json", "");
	snprintf(path, sizeof(path), "%s/users.json", dir);
	assert_int_equal(unlink(path), 0);
	ug = user_groups_new();
	user_groups_bind(ug, c);
	t = user_group_current(group_of(c));
	assert_int_equal(user_table_count(t), 4);
	assert_non_null(user_table_find(t, "dyn", 3));
	user_table_unref(t);
	user_groups_free(ug);
	proxyd_conf_unref(c);
	free(extra);
	fx_rmtree(dir);
	free(dir);
}

static void expect_list_error(const char *text, const char *part)
{
	struct user_batch *b = NULL;
	char *errs = NULL;

	assert_int_not_equal(user_batch_parse_list("u.json", text, strlen(text), &b, &errs), 0);
	assert_null(b);
	assert_non_null(errs);
	if (strstr(errs, part) == NULL)
		fail_msg("expected '%s' in: %s", part, errs);
	free(errs);
}

static void test_json_list_errors(void **state)
{
	(void)state;
	expect_list_error("[{\"name\": \"a\"", "u.json:2:1: error: did not find expected");
	expect_list_error("[{\"name\": \"a\", \"nope\": 1}]", "u.json:1:16: error");
	expect_list_error("[{\"name\": \"a\"}, {\"name\": \"a\"}]", "duplicate user 'a'");
	expect_list_error("[\n {\"token\": null}]", "u.json:2:");
	expect_list_error("[1, 2]", "expected a map");
	expect_list_error("[{\"name\": \"a\", \"expire\": \"yesterday\"}]", "expire");
	expect_list_error("[{\"name\": \"a\", \"dst_host_filter_set\": {\"regex\": [\"(\"]}}]",
			  "invalid regex");
	expect_list_error("\xff\xfe[", "u.json");

	struct user_batch *b = NULL;
	char *errs = NULL;
	assert_int_equal(user_batch_parse_list("u.json", "[]", 2, &b, &errs), 0);
	assert_int_equal(b->n, 0);
	user_batch_unref(b);
	/* YAML: a user per document */
	const char *y = "name: a\n---\nname: b\ntoken: null\n";
	assert_int_equal(user_batch_parse_list("u.yaml", y, strlen(y), &b, &errs), 0);
	assert_int_equal(b->n, 2);
	user_batch_unref(b);
}

static void test_json_one_user(void **state)
{
	struct user_batch *b = user_batch_new();
	char *errs = NULL;
	const char *j;

	(void)state;
	/* the field name supplies a missing name */
	j = "{\"token\": null, \"block_and_delay\": \"2s\"}";
	assert_int_equal(user_batch_add_json(b, "redis:k/u1", "u1", j, strlen(j), &errs), 0);
	assert_non_null(user_batch_find(b, "u1"));
	assert_int_equal(user_batch_find(b, "u1")->block_and_delay_ms, 2000);
	/* replaced in place */
	j = "{\"name\": \"u1\"}";
	assert_int_equal(user_batch_add_json(b, "redis:k/u1", "u1", j, strlen(j), &errs), 0);
	assert_int_equal(b->n, 1);
	assert_false(user_batch_find(b, "u1")->has_block_and_delay);
	/* a mismatching name, bad JSON, a list, trailing garbage */
	j = "{\"name\": \"other\"}";
	assert_int_equal(user_batch_add_json(b, "redis:k/u2", "u2", j, strlen(j), &errs), -EINVAL);
	assert_non_null(strstr(errs, "differs"));
	free(errs);
	j = "{\"token\": ";
	assert_int_equal(user_batch_add_json(b, "redis:k/u2", "u2", j, strlen(j), &errs), -EINVAL);
	assert_non_null(strstr(errs, "redis:k/u2:"));
	free(errs);
	j = "[{\"name\": \"u2\"}]";
	assert_int_equal(user_batch_add_json(b, "redis:k/u2", "u2", j, strlen(j), &errs), -EINVAL);
	assert_non_null(strstr(errs, "expected one JSON object"));
	free(errs);
	assert_int_equal(user_batch_add_json(b, "x", "u2", "", 0, &errs), -EINVAL);
	free(errs);
	assert_int_equal(b->n, 1);
	user_batch_unref(b);
}

static void test_publish(void **state)
{
	struct user_groups *ug = user_groups_new();
	struct proxyd_conf *c = load_users(NULL);
	struct user_group_rt *g;
	struct user_batch *p1 = user_batch_new(), *p2 = user_batch_new();
	struct user_table *t;
	char *errs = NULL;
	const char *j1 = "{\"name\": \"zed\", \"block_and_delay\": 3}";
	const char *j2 = "{\"name\": \"new\"}";

	(void)state;
	user_groups_bind(ug, c);
	g = group_of(c);
	assert_int_equal(user_batch_add_json(p1, "p", NULL, j1, strlen(j1), &errs), 0);
	assert_int_equal(user_batch_add_json(p2, "p", NULL, j2, strlen(j2), &errs), 0);
	user_group_publish(g, p1);
	user_group_publish(g, p2);
	t = user_group_current(g);
	assert_int_equal(user_table_count(t), 4);
	assert_true(user_table_find(t, "zed", 3)->has_block_and_delay);
	assert_non_null(user_table_find(t, "new", 3));
	user_table_unref(t);
	/* a source load drops the published users */
	user_group_source_loaded(g, user_batch_new(), NULL, 0);
	t = user_group_current(g);
	assert_int_equal(user_table_count(t), 3);
	assert_false(user_table_find(t, "zed", 3)->has_block_and_delay);
	user_table_unref(t);
	user_groups_free(ug);
	proxyd_conf_unref(c);
}

/* Readers on threads take and drop snapshots while the main thread swaps
 * tables: every snapshot a reader holds stays intact (ASAN would see a
 * use after free). */
struct race {
	struct user_group_rt *g;
	atomic_bool stop;
	atomic_uint_fast64_t reads;
};

static void *race_reader(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		struct user_table *t = user_group_current(r->g);
		size_t n = user_table_count(t);
		for (size_t i = 0; i < n; i++)
			ASSERT(user_table_find(t, user_table_at(t, i)->name,
					       strlen(user_table_at(t, i)->name)) != NULL);
		user_table_unref(t);
		atomic_fetch_add(&r->reads, 1);
	}
	return NULL;
}

static void test_readers_race_writer(void **state)
{
	struct user_groups *ug = user_groups_new();
	struct proxyd_conf *c = load_users(NULL);
	struct race r;
	pthread_t th[3];

	(void)state;
	user_groups_bind(ug, c);
	r.g = group_of(c);
	atomic_init(&r.stop, false);
	atomic_init(&r.reads, 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race_reader, &r), 0);
	for (int i = 0; i < 2000; i++) {
		struct user_batch *b = user_batch_new();
		char *errs = NULL;
		char j[64];
		snprintf(j, sizeof(j), "{\"name\": \"u%d\"}", i % 7);
		assert_int_equal(user_batch_add_json(b, "r", NULL, j, strlen(j), &errs), 0);
		user_group_source_loaded(r.g, b, NULL, 0);
	}
	atomic_store(&r.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_true(atomic_load(&r.reads) > 0);
	user_groups_free(ug);
	proxyd_conf_unref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_sorted_and_found),
		cmocka_unit_test(test_unknown_group_and_reload),
		cmocka_unit_test(test_file_source_and_cache),
		cmocka_unit_test(test_json_list_errors),
		cmocka_unit_test(test_json_one_user),
		cmocka_unit_test(test_publish),
		cmocka_unit_test(test_readers_race_writer),
	};

	return cmocka_run_group_tests(tests, fx_quiet_log, NULL);
}
