/* direct_float bind IPs (proxyd/float_bind.h) and trick_float: the config
 * keys, every publish shape, partial publishes keeping the other family,
 * strict errors that change nothing, the pick (random, by id, expiry),
 * cache files written on publish and read at start, and trick_float's
 * weighted random pick over 2000 draws. */
#include "proxyd/test/proxyd_fixture.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include "proxyd/dp/escaper.h"
#include "proxyd/float_bind.h"
#include "proxyd/float_pub.h"

#define BASE                                    \
	"resolver: [{name: r, type: c_ares}]\n" \
	"escaper:\n"

struct ctx {
	struct fx_load l;
	const struct escaper_conf *e;
};

static const struct escaper_conf *load_esc(struct fx_load *l, const char *escapers,
					   const char *name)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml), BASE "%s", escapers);
	if (fx_load_str(l, yaml) == NULL)
		fail_msg("load failed: %s", l->errs);
	return proxyd_conf_escaper(l->conf, name);
}

static void pub_ok(const struct escaper_conf *e, const char *json, size_t want4, size_t want6)
{
	size_t n4 = 99, n6 = 99;
	char *err = NULL;
	int rc = float_bind_publish(e, json, strlen(json), &n4, &n6, &err);

	if (rc != 0)
		fail_msg("publish %s failed: %s", json, err ? err : "?");
	assert_null(err);
	assert_int_equal(n4, want4);
	assert_int_equal(n6, want6);
}

static void pub_bad(const struct escaper_conf *e, const char *json, const char *want)
{
	size_t n4, n6;
	char *err = NULL;

	assert_int_equal(float_bind_publish(e, json, strlen(json), &n4, &n6, &err), -EINVAL);
	assert_non_null(err);
	if (strstr(err, want) == NULL)
		fail_msg("publish %s: got '%s', want '%s'", json, err, want);
	free(err);
}

static const char *pick_text(const struct float_set *s, int fam, const char *id, int64_t now,
			     uint64_t rnd, char *buf)
{
	struct sockaddr_storage ss;
	int rc = float_bind_pick(s, fam, id, now, rnd, &ss);

	if (rc == -ENOENT)
		return "ENOENT";
	if (rc == -ESRCH)
		return "ESRCH";
	assert_int_equal(rc, 0);
	assert_int_equal(ss.ss_family, fam);
	if (fam == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf, 64);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, buf, 64);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_port, 0);
	return buf;
}

static void test_config(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;

	(void)state;
	e = load_esc(&l,
		     "  - {name: d, type: direct_dynamic, resolver: r, cache_ipv4: /tmp/a.json,\n"
		     "     no_ipv6: true, tcp_sock_speed_limit: 1M}\n",
		     "d");
	assert_non_null(e);
	assert_int_equal(e->type, ESCAPER_DIRECT_FLOAT);
	assert_string_equal(e->cache_ipv4, "/tmp/a.json");
	assert_null(e->cache_ipv6);
	assert_true(e->no_ipv6);
	assert_true(e->egress_net_filter.set); /* g3's default filter */
	fx_done(&l);
	/* bind_ip is direct_fixed's: published IPs replace it */
	FX_LOAD_ERR_HAS(BASE "  - {name: d, type: direct_float, resolver: r, bind_ip: 1.2.3.4}\n",
			"bind_ip");
	FX_LOAD_ERR_HAS(BASE "  - {name: d, type: direct_float}\n", "resolver");
	FX_LOAD_ERR_HAS(BASE "  - {name: t, type: trick_float, next: []}\n",
			"needs at least one escaper");
	FX_LOAD_ERR_HAS(BASE "  - {name: t, type: trick_float, next: [a, {name: b, weight: -1}]}\n",
			"invalid weight");
}

static void test_shapes_and_pick(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;
	struct float_set *s;
	int64_t now = (int64_t)time(NULL);
	char buf[64];

	(void)state;
	e = load_esc(&l, "  - {name: s1, type: direct_float, resolver: r}\n", "s1");
	assert_null(float_pub_get("s1"));
	/* a string */
	pub_ok(e, "{\"ipv4\": \"192.0.2.1\"}", 1, 0);
	s = float_pub_get("s1");
	assert_string_equal(pick_text(s, AF_INET, NULL, now, 7, buf), "192.0.2.1");
	assert_string_equal(pick_text(s, AF_INET6, NULL, now, 7, buf), "ENOENT");
	float_set_unref(s);
	/* an object, and a list; v4 / v6 spellings; ipv4 kept when not named */
	pub_ok(e, "{\"v6\": {\"ip\": \"2001:db8::1\", \"id\": \"a\", \"isp\": \"x\"}}", 1, 1);
	pub_ok(e,
	       "{\"ipv6\": [\"2001:db8::2\", {\"ip\": \"2001:db8::3\", \"id\": \"b\"},\n"
	       "  \"192.0.2.9\"]}",
	       1, 2);
	s = float_pub_get("s1");
	assert_string_equal(pick_text(s, AF_INET6, "b", now, 0, buf), "2001:db8::3");
	assert_string_equal(pick_text(s, AF_INET6, "a", now, 0, buf), "ESRCH");
	assert_string_equal(pick_text(s, AF_INET, NULL, now, 3, buf), "192.0.2.1");
	{
		bool seen2 = false, seen3 = false;
		for (uint64_t r = 0; r < 8; r++) {
			const char *t = pick_text(s, AF_INET6, NULL, now, r, buf);
			seen2 |= strcmp(t, "2001:db8::2") == 0;
			seen3 |= strcmp(t, "2001:db8::3") == 0;
		}
		assert_true(seen2 && seen3);
	}
	float_set_unref(s);
	/* show */
	{
		char *js = float_bind_show("s1");
		assert_string_equal(js, "{\"ipv4\":[{\"ip\":\"192.0.2.1\"}],\"ipv6\":[{\"ip\":"
					"\"2001:db8::2\"},{\"ip\":\"2001:db8::3\",\"id\":\"b\"}]}");
		free(js);
	}
	/* null clears one family */
	pub_ok(e, "{\"ipv4\": null}", 0, 2);
	/* errors change nothing */
	pub_bad(e, "[\"192.0.2.1\"]", "JSON object");
	pub_bad(e, "{\"ipv4\": \"192.0.2.1\", \"foo\": 1}", "no action defined for key 'foo'");
	pub_bad(e, "{\"ipv4\": {\"ip\": \"192.0.2.300\"}}", "192.0.2.300");
	pub_bad(e, "{\"ipv4\": {\"ip\": \"192.0.2.3\", \"bad\": 1}}", "invalid key 'bad'");
	pub_bad(e, "{\"ipv4\": [{\"id\": \"z\"}]}", "without 'ip'");
	pub_bad(e, "{\"ipv4\": [[1]]}", "IP string or an object");
	pub_bad(e, "{\"ipv4\": {\"ip\": \"192.0.2.3\", \"expire\": \"soon\"}}", "RFC 3339");
	pub_bad(e, "", "nothing published");
	s = float_pub_get("s1");
	assert_int_equal(s->n4, 0);
	assert_int_equal(s->n6, 2);
	float_set_unref(s);
	fx_done(&l);
	float_pub_clear();
}

static void test_expire(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;
	struct float_set *s;
	int64_t now = (int64_t)time(NULL);
	char json[512], buf[64];

	(void)state;
	e = load_esc(&l, "  - {name: s2, type: direct_float, resolver: r}\n", "s2");
	/* already expired: dropped at publish; bad isp / eip ignored (g3) */
	pub_ok(e,
	       "{\"ipv4\": [{\"ip\": \"192.0.2.1\", \"expire\": \"2001-01-01T00:00:00Z\"},\n"
	       "  {\"ip\": \"192.0.2.2\", \"id\": \"k\", \"eip\": \"nope\", \"isp\": [1],\n"
	       "   \"expire\": \"2999-01-01T00:00:00Z\"}]}",
	       1, 0);
	s = float_pub_get("s2");
	assert_null(s->b4[0].eip);
	assert_null(s->b4[0].isp);
	assert_string_equal(pick_text(s, AF_INET, "k", now, 0, buf), "192.0.2.2");
	/* at the expiry it is skipped, by id and at random */
	assert_string_equal(pick_text(s, AF_INET, "k", s->b4[0].expire, 0, buf), "ESRCH");
	assert_string_equal(pick_text(s, AF_INET, NULL, s->b4[0].expire, 0, buf), "ENOENT");
	float_set_unref(s);
	snprintf(json, sizeof(json), "{\"ipv4\": [\"192.0.2.5\"]}");
	pub_ok(e, json, 1, 0);
	assert_string_equal(pick_text(NULL, AF_INET, NULL, now, 0, buf), "ENOENT");
	assert_string_equal(pick_text(NULL, AF_INET, "x", now, 0, buf), "ESRCH");
	fx_done(&l);
	float_pub_clear();
}

static void test_cache(void **state)
{
	char *dir = fx_tmpdir();
	char yaml[1024], path[512], text[512];
	struct fx_load l;
	const struct escaper_conf *e;
	struct float_set *s;
	FILE *f;
	size_t n;

	(void)state;
	snprintf(yaml, sizeof(yaml),
		 "  - {name: c1, type: direct_float, resolver: r, cache_ipv4: %s/v4.json,\n"
		 "     cache_ipv6: %s/v6.json}\n",
		 dir, dir);
	e = load_esc(&l, yaml, "c1");
	pub_ok(e, "{\"ipv4\": [{\"ip\": \"192.0.2.7\", \"id\": \"q\", \"area\": \"a\"}]}", 1, 0);
	snprintf(path, sizeof(path), "%s/v4.json", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_string_equal(text, "[{\"ip\":\"192.0.2.7\",\"id\":\"q\",\"area\":\"a\"}]\n");
	snprintf(path, sizeof(path), "%s/v6.json", dir);
	assert_int_equal(access(path, F_OK), -1); /* ipv6 not published */
	/* a new process: the set is read from the cache; the v6 file is bad
	 * and is ignored (logged) */
	fx_write(dir, "v6.json", "[\"not an ip\"]");
	float_pub_clear();
	float_bind_load_caches(l.conf);
	s = float_pub_get("c1");
	assert_non_null(s);
	assert_int_equal(s->n4, 1);
	assert_string_equal(s->b4[0].id, "q");
	assert_int_equal(s->n6, 0);
	float_set_unref(s);
	/* an escaper with a set already is left alone (reloads) */
	fx_write(dir, "v4.json", "[]");
	float_bind_load_caches(l.conf);
	s = float_pub_get("c1");
	assert_int_equal(s->n4, 1);
	float_set_unref(s);
	fx_done(&l);
	float_pub_clear();
	fx_rmtree(dir);
	free(dir);
}

/* trick_float: weighted random over next, within ±10% of the weights */
static void test_trick_pick(void **state)
{
	struct fx_load l;
	const struct escaper_conf *e;
	size_t count[3] = {0, 0, 0};
	uint64_t x = 0x9e3779b97f4a7c15ull;
	const double want[3] = {1.0 / 6, 2.0 / 6, 3.0 / 6};

	(void)state;
	e = load_esc(&l,
		     "  - {name: a, type: direct_float, resolver: r}\n"
		     "  - {name: b, type: direct_float, resolver: r}\n"
		     "  - {name: c, type: proxy_float}\n"
		     "  - {name: t, type: trickfloat, next: [a, {name: b, weight: 2},\n"
		     "     {name: c, weight: 3}]}\n",
		     "t");
	assert_int_equal(e->type, ESCAPER_TRICK_FLOAT);
	assert_int_equal(e->route.n_next, 3);
	assert_string_equal(e->route.next[2]->name, "c");
	for (int i = 0; i < 2000; i++) {
		/* xorshift64*: independent draws, as dp_rand gives */
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		size_t k = escape_trick_pick(e, x * 0x2545f4914f6cdd1dull);
		assert_true(k < 3);
		count[k]++;
	}
	for (int k = 0; k < 3; k++) {
		double got = (double)count[k] / 2000;
		if (got < want[k] * 0.9 || got > want[k] * 1.1)
			fail_msg("next %d picked %zu / 2000 times, want %.0f ±10%%", k, count[k],
				 want[k] * 2000);
	}
	fx_done(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),	   cmocka_unit_test(test_shapes_and_pick),
		cmocka_unit_test(test_expire),	   cmocka_unit_test(test_cache),
		cmocka_unit_test(test_trick_pick),
	};

	log_init("float-bind-test", "", LOG_SINK_STDERR, 0);
	log_threshold = LOG_LVL_ERR;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
