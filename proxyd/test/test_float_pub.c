/* Published proxy_float peers (proxyd/float_pub.h): JSON forms, strict
 * checks (a bad publish changes nothing), references across a replace,
 * expiry, and show's JSON. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "common/log.h"
#include "proxyd/float_pub.h"

static void pub_ok(const char *esc, const char *json)
{
	char *err = NULL;
	int rc = float_pub_publish(esc, json, strlen(json), &err);

	if (rc != 0)
		fail_msg("publish %s failed: %s", json, err ? err : "?");
	assert_null(err);
}

static void pub_bad(const char *esc, const char *json, const char *want)
{
	char *err = NULL;

	assert_int_equal(float_pub_publish(esc, json, strlen(json), &err), -EINVAL);
	assert_non_null(err);
	if (strstr(err, want) == NULL)
		fail_msg("publish %s: got '%s', want '%s'", json, err, want);
	free(err);
}

static void test_forms(void **state)
{
	struct float_set *s;

	(void)state;
	assert_null(float_pub_get("f"));
	pub_ok("f",
	       "{\"type\": \"http\", \"addr\": \"127.0.0.1:3128\", \"id\": \"a\","
	       " \"username\": \"u\", \"password\": \"p\", \"isp\": \"x\", \"eip\": \"192.0.2.1\","
	       " \"area\": \"CN-BJ\", \"http_connect_rsp_header_max_size\": \"8KiB\"}");
	s = float_pub_get("f");
	assert_non_null(s);
	assert_int_equal(s->n, 1);
	assert_int_equal(s->v[0].kind, ESCAPER_PROXY_HTTP);
	assert_string_equal(s->v[0].peer.host, "127.0.0.1");
	assert_int_equal(s->v[0].peer.port, 3128);
	assert_string_equal(s->v[0].peer.id, "127.0.0.1:3128");
	assert_string_equal(s->v[0].id, "a");
	assert_string_equal(s->v[0].username, "u");
	assert_string_equal(s->v[0].password, "p");
	assert_int_equal(s->v[0].rsp_max, 8192);
	/* a multi-line array with a v6 peer replaces the set; the old one stays
	 * valid for whoever holds it */
	pub_ok("f", "[\n {\"type\": \"socks5\", \"addr\": \"[::1]:1080\"},\n"
		    " {\"type\": \"https\", \"addr\": \"10.0.0.1:443\", \"tls_name\": \"px\"}\n]");
	assert_string_equal(s->v[0].username, "u");
	float_set_unref(s);
	s = float_pub_get("f");
	assert_int_equal(s->n, 2);
	assert_int_equal(s->v[0].kind, ESCAPER_PROXY_SOCKS5);
	assert_string_equal(s->v[0].peer.id, "[::1]:1080");
	assert_null(s->v[0].username);
	assert_int_equal(s->v[1].kind, ESCAPER_PROXY_HTTPS);
	float_set_unref(s);
	/* another escaper is independent; [] clears */
	pub_ok("g", "[]");
	s = float_pub_get("g");
	assert_int_equal(s->n, 0);
	float_set_unref(s);
	s = float_pub_get("f");
	assert_int_equal(s->n, 2);
	float_set_unref(s);
}

static void test_errors(void **state)
{
	struct float_set *s;

	(void)state;
	pub_ok("e", "{\"type\": \"http\", \"addr\": \"127.0.0.1:1\"}");
	pub_bad("e", "", "nothing published");
	pub_bad("e", "{\"type\": \"http\", \"addr\": \"127.0.0.1:1\"", "");
	pub_bad("e", "{\"type\": \"gopher\", \"addr\": \"127.0.0.1:1\"}", "gopher");
	pub_bad("e", "{\"addr\": \"127.0.0.1:1\"}", "peer without 'type'");
	pub_bad("e", "{\"type\": \"http\"}", "peer without 'addr'");
	pub_bad("e", "{\"type\": \"http\", \"addr\": \"px.example:3128\"}", "must be an IP");
	pub_bad("e", "{\"type\": \"http\", \"addr\": \"127.0.0.1\"}", "port");
	pub_bad("e", "[{\"type\": \"http\", \"addr\": \"127.0.0.1:1\", \"x\": 1}]",
		"unknown peer key 'x'");
	pub_bad("e", "{\"type\": \"http\", \"addr\": \"127.0.0.1:1\", \"expire\": \"soon\"}",
		"RFC 3339");
	pub_bad("e", "{\"type\": \"http\", \"addr\": \"127.0.0.1:1\", \"password\": \"p\"}",
		"password without username");
	pub_bad("e", "{\"type\": \"http\", \"addr\": \"127.0.0.1:1\", \"eip\": \"x\"}",
		"invalid IP address");
	pub_bad("e", "\"just a string\"", "expected a map");
	/* nothing changed */
	s = float_pub_get("e");
	assert_int_equal(s->n, 1);
	assert_int_equal(s->v[0].peer.port, 1);
	float_set_unref(s);
}

static void test_expire_and_show(void **state)
{
	struct float_set *s;
	char *js;
	int64_t now = (int64_t)time(NULL);

	(void)state;
	pub_ok("x", "[{\"type\": \"http\", \"addr\": \"127.0.0.1:1\", \"expire\": "
		    "\"2001-01-01T00:00:00Z\", \"username\": \"u\", \"password\": \"secret\"},"
		    " {\"type\": \"socks5\", \"addr\": \"127.0.0.1:2\", \"expire\": "
		    "\"2999-01-01T00:00:00+08:00\", \"id\": \"q\\\"x\"}]");
	s = float_pub_get("x");
	assert_int_equal(s->v[0].expire, 978307200);
	assert_false(float_peer_usable(&s->v[0], now, 5));
	assert_true(float_peer_usable(&s->v[1], now, 5));
	/* the guard: usable only when not expiring within guard seconds */
	assert_false(float_peer_usable(&s->v[1], s->v[1].expire - 3, 5));
	assert_true(float_peer_usable(&s->v[1], s->v[1].expire - 10, 5));
	float_set_unref(s);
	js = float_pub_show("x");
	assert_non_null(js);
	assert_string_equal(js, "[{\"type\":\"http\",\"addr\":\"127.0.0.1:1\",\"username\":\"u\","
				"\"expire\":\"2001-01-01T00:00:00Z\",\"expired\":true},"
				"{\"type\":\"socks5\",\"addr\":\"127.0.0.1:2\",\"id\":\"q\\\"x\","
				"\"expire\":\"2998-12-31T16:00:00Z\",\"expired\":false}]");
	assert_null(strstr(js, "secret"));
	free(js);
	js = float_pub_show("never-published");
	assert_string_equal(js, "[]");
	free(js);
}

static int teardown(void **state)
{
	(void)state;
	float_pub_clear();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_expire_and_show),
	};

	log_init("float-test", "", LOG_SINK_STDERR, 0);
	log_threshold = LOG_LVL_ERR;
	return cmocka_run_group_tests(tests, NULL, teardown);
}
