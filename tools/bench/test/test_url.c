/* Unit tests for g3bench's URL parser: targets, proxies with credentials,
 * IPv6 literals, default ports, and every malformed form refused. */
#include "tools/bench/url.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void test_http_defaults(void **state)
{
	struct url u;

	(void)state;
	assert_int_equal(url_parse("http://example.com", &u), 0);
	assert_int_equal(u.scheme, URL_SCHEME_HTTP);
	assert_string_equal(u.host, "example.com");
	assert_int_equal(u.port, 80);
	assert_string_equal(u.path, "/");
	assert_false(u.has_cred);
	assert_false(u.host_is_v6);

	assert_int_equal(url_parse("HTTPS://Example.com/a/b?x=1&y=2#frag", &u), 0);
	assert_int_equal(u.scheme, URL_SCHEME_HTTPS);
	assert_int_equal(u.port, 443);
	assert_string_equal(u.path, "/a/b?x=1&y=2");

	assert_int_equal(url_parse("http://h?q=1", &u), 0);
	assert_string_equal(u.path, "/?q=1");
}

static void test_ports_and_v6(void **state)
{
	struct url u;
	char buf[64];

	(void)state;
	assert_int_equal(url_parse("http://127.0.0.1:8080/x", &u), 0);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 8080);
	assert_true(url_host_is_ip(&u));
	assert_int_equal(url_authority(&u, buf, sizeof(buf)), 14);
	assert_string_equal(buf, "127.0.0.1:8080");

	assert_int_equal(url_parse("https://[::1]:8443/", &u), 0);
	assert_string_equal(u.host, "::1");
	assert_true(u.host_is_v6);
	assert_int_equal(u.port, 8443);
	assert_true(url_host_is_ip(&u));
	assert_true(url_authority(&u, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "[::1]:8443");
	assert_int_equal(url_authority(&u, buf, 5), -ENOSPC);

	assert_int_equal(url_parse("http://[2001:db8::1]", &u), 0);
	assert_int_equal(u.port, 80);
	assert_int_equal(url_parse("http://h:65535", &u), 0);
	assert_int_equal(u.port, 65535);
	assert_false(url_host_is_ip(&u));
}

static void test_proxies(void **state)
{
	struct url u;

	(void)state;
	assert_int_equal(url_parse("socks5://user:p%40ss@127.0.0.1:1080", &u), 0);
	assert_int_equal(u.scheme, URL_SCHEME_SOCKS5);
	assert_true(u.has_cred);
	assert_string_equal(u.user, "user");
	assert_string_equal(u.pass, "p@ss");
	assert_int_equal(u.port, 1080);

	assert_int_equal(url_parse("socks5h://proxy", &u), 0);
	assert_int_equal(u.scheme, URL_SCHEME_SOCKS5H);
	assert_int_equal(u.port, 1080);

	/* The last '@' ends the credentials; a user without a password. */
	assert_int_equal(url_parse("http://a@b@proxy:3128", &u), 0);
	assert_string_equal(u.user, "a@b");
	assert_string_equal(u.pass, "");
	assert_string_equal(u.host, "proxy");
	assert_int_equal(u.port, 3128);
}

static void test_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"example.com",
		"ftp://example.com/",
		"http://",
		"http:///path",
		"http://:80/",
		"http://h:0/",
		"http://h:65536/",
		"http://h:12a/",
		"http://h:/",
		"http://[::1/",
		"http://[]/",
		"http://[zz::1]/",
		"http://[::1]x/",
		"http://h h/",
		"http://h/a b",
		"http://h/\r\n",
		"http://ex%41mple/",
		"socks5://u:%zz@h",
		"socks5://u:%4@h",
		"socks5://u:%00@h",
	};
	struct url u;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = url_parse(bad[i], &u);

		if (rc != -EINVAL)
			fail_msg("'%s' gave %d, want -EINVAL", bad[i], rc);
	}
}

static void test_too_long(void **state)
{
	char s[5000], host[300];
	struct url u;

	(void)state;
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	snprintf(s, sizeof(s), "http://%s/", host);
	assert_int_equal(url_parse(s, &u), -E2BIG);

	memcpy(s, "http://h/", 9);
	memset(s + 9, 'p', sizeof(s) - 10);
	s[sizeof(s) - 1] = '\0';
	assert_int_equal(url_parse(s, &u), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_defaults), cmocka_unit_test(test_ports_and_v6),
		cmocka_unit_test(test_proxies),	      cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
