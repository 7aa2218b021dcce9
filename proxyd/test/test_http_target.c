/* http_parse_target() and http_parse_authority() on their own: hosts, IP
 * literals, ports, userinfo, and the small helpers around them. */
#include "proxyd/test/http_test.h"

static struct http_target t;

static enum parse_res target(enum http_method m, const char *s)
{
	ht_why = NULL;
	return http_parse_target(m, slice_from_cstr(s), &t, &ht_why);
}

struct auth_case {
	const char *in;
	const char *host; /* NULL: refused with why */
	uint16_t port;
	bool ip;
	const char *why;
};

static void test_authority(void **state)
{
	(void)state;
	static const struct auth_case cases[] = {
		{"example.com", "example.com", 0, false, NULL},
		{"Example.COM:8080", "Example.COM", 8080, false, NULL},
		{"example.com.", "example.com.", 0, false, NULL},
		{"under_score.example", "under_score.example", 0, false, NULL},
		{"xn--bcher-kva.example:1", "xn--bcher-kva.example", 1, false, NULL},
		{"1.2.3.4", "1.2.3.4", 0, true, NULL},
		{"255.255.255.255:65535", "255.255.255.255", 65535, true, NULL},
		{"0.0.0.0", "0.0.0.0", 0, true, NULL},
		{"10.0.0.1:00080", "10.0.0.1", 80, true, NULL},
		{"[::1]", "::1", 0, true, NULL},
		{"[::FFFF:1.2.3.4]:443", "::FFFF:1.2.3.4", 443, true, NULL},
		{"[2001:db8:0:0:0:0:0:1]:8", "2001:db8:0:0:0:0:0:1", 8, true, NULL},
		/* names that are not IPv4 although they look a bit like one */
		{"1.2.3.4.example", "1.2.3.4.example", 0, false, NULL},
		{"0x.example", "0x.example", 0, false, NULL},
		{"host-1", "host-1", 0, false, NULL},
		{"", NULL, 0, false, "empty host"},
		{":80", NULL, 0, false, "empty host"},
		{"a:", NULL, 0, false, "empty port"},
		{"a:0", NULL, 0, false, "port 0"},
		{"a:65536", NULL, 0, false, "port out of range (1..65535)"},
		{"a:-1", NULL, 0, false, "non-numeric port"},
		{"a:1:2", NULL, 0, false, "non-numeric port"},
		{"a: 80", NULL, 0, false, "non-numeric port"},
		{"u@a", NULL, 0, false, "userinfo not allowed here"},
		{"a b", NULL, 0, false, "invalid byte in host"},
		{"a%2eb", NULL, 0, false, "invalid byte in host"},
		{"a/b", NULL, 0, false, "invalid byte in host"},
		{"a\\b", NULL, 0, false, "invalid byte in host"},
		{"[::1", NULL, 0, false, "unterminated IPv6 literal"},
		{"[]", NULL, 0, false, "invalid IPv6 literal"},
		{"[::1%25eth0]", NULL, 0, false, "invalid IPv6 literal"},
		{"[v1.x]", NULL, 0, false, "invalid IPv6 literal"},
		{"[1:2:3:4:5:6:7:8:9]", NULL, 0, false, "invalid IPv6 literal"},
		{"[0000:0000:0000:0000:0000:0000:0000:0000:0000]", NULL, 0, false,
		 "invalid IPv6 literal"},
		{"[::1]:", NULL, 0, false, "empty port"},
		{"[::1]80", NULL, 0, false, "junk after IPv6 literal"},
		{"::1", NULL, 0, false, "empty host"},
		{"1.2.3.256", NULL, 0, false, "numeric host is not a dotted-quad IPv4 address"},
		{"1.2.3", NULL, 0, false, "numeric host is not a dotted-quad IPv4 address"},
		{"1.2.3.4.5", NULL, 0, false, "numeric host is not a dotted-quad IPv4 address"},
		{"1.2.3.4.", NULL, 0, false, "numeric host is not a dotted-quad IPv4 address"},
		{"01.2.3.4", NULL, 0, false, "numeric host is not a dotted-quad IPv4 address"},
		{"4294967295", NULL, 0, false, "numeric host is not a dotted-quad IPv4 address"},
		{"0x7f000001", NULL, 0, false, "numeric host is not a dotted-quad IPv4 address"},
		{"a.0X1F", NULL, 0, false, "numeric host is not a dotted-quad IPv4 address"},
		{"a.123", NULL, 0, false, "numeric host is not a dotted-quad IPv4 address"},
	};
	char longname[300];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct auth_case *c = &cases[i];
		struct slice host;
		uint16_t port = 99;
		bool ip = !c->ip;
		const char *why = NULL;
		enum parse_res r =
			http_parse_authority(slice_from_cstr(c->in), &host, &port, &ip, &why);
		if (!c->host) {
			if (r != PARSE_INVALID || !why || strcmp(why, c->why) != 0)
				fail_msg("'%s': %d (%s), want '%s'", c->in, r, why ? why : "-",
					 c->why);
			continue;
		}
		if (r != PARSE_OK || !slice_eq_cstr(host, c->host) || port != c->port ||
		    ip != c->ip)
			fail_msg("'%s': %d (%s) host '%.*s' port %u ip %d", c->in, r,
				 why ? why : "-", (int)host.len, (const char *)host.p, port, ip);
	}
	memset(longname, 'a', sizeof(longname));
	assert_int_equal(http_parse_authority(slice_make(longname, 255), &t.host, &t.port,
					      &t.host_is_ip, NULL),
			 PARSE_OK);
	assert_int_equal(http_parse_authority(slice_make(longname, 256), &t.host, &t.port,
					      &t.host_is_ip, &ht_why),
			 PARSE_INVALID);
	assert_string_equal(ht_why, "host name too long");
}

static void test_absolute_targets(void **state)
{
	(void)state;

	assert_int_equal(target(HTTP_M_GET, "http://user:pw@h.example:8080/p?q=@x"), PARSE_OK);
	assert_int_equal(t.form, HTTP_TGT_ABSOLUTE);
	assert_slice(t.scheme, "http");
	assert_slice(t.userinfo, "user:pw");
	assert_slice(t.host, "h.example");
	assert_int_equal(t.port, 8080);
	assert_slice(t.path, "/p?q=@x");
	/* the classic '@' trick: the host is what follows the '@' */
	assert_int_equal(target(HTTP_M_GET, "http://trusted.example@evil.example/"), PARSE_OK);
	assert_slice(t.userinfo, "trusted.example");
	assert_slice(t.host, "evil.example");
	assert_int_equal(target(HTTP_M_GET, "http://evil.example/@trusted.example"), PARSE_OK);
	assert_slice(t.host, "evil.example");
	assert_slice(t.path, "/@trusted.example");
	assert_int_equal(target(HTTP_M_GET, "http://evil.example?@trusted.example/"), PARSE_OK);
	assert_slice(t.host, "evil.example");
	assert_slice(t.path, "?@trusted.example/");
	assert_int_equal(target(HTTP_M_GET, "http://@h/"), PARSE_OK);
	assert_int_equal(t.userinfo.len, 0);
	assert_slice(t.host, "h");
	assert_int_equal(target(HTTP_M_GET, "http://a@b@c/"), PARSE_INVALID);
	assert_string_equal(ht_why, "'@' in URI userinfo");
	assert_int_equal(target(HTTP_M_GET, "http://a[@c/"), PARSE_INVALID);
	assert_string_equal(ht_why, "invalid byte in URI userinfo");
	assert_int_equal(target(HTTP_M_GET, "http://a\\@c/"), PARSE_INVALID);
	assert_string_equal(ht_why, "backslash in URI authority");
	/* IPv6 with userinfo and port */
	assert_int_equal(target(HTTP_M_PUT, "ftp://u@[fe80::1]:2121/f"), PARSE_OK);
	assert_slice(t.host, "fe80::1");
	assert_true(t.host_is_ip);
	assert_int_equal(t.port, 2121);
	/* scheme syntax */
	assert_int_equal(target(HTTP_M_GET, "svn+ssh.x-1://h/"), PARSE_OK);
	assert_slice(t.scheme, "svn+ssh.x-1");
	assert_int_equal(t.port, 0);
	assert_int_equal(target(HTTP_M_GET, "+http://h/"), PARSE_INVALID);
	assert_int_equal(target(HTTP_M_GET, "http//h/"), PARSE_INVALID);
	assert_int_equal(target(HTTP_M_GET, "http:"), PARSE_INVALID);
	assert_int_equal(target(HTTP_M_GET, ""), PARSE_INVALID);
	assert_string_equal(ht_why, "empty request-target");
}

static void test_forms_by_method(void **state)
{
	(void)state;

	assert_int_equal(target(HTTP_M_CONNECT, "h:8443"), PARSE_OK);
	assert_int_equal(t.form, HTTP_TGT_AUTHORITY);
	assert_int_equal(t.port, 8443);
	assert_int_equal(t.scheme.len, 0);
	assert_int_equal(target(HTTP_M_CONNECT, "h"), PARSE_OK);
	assert_int_equal(t.port, 443);
	assert_int_equal(target(HTTP_M_CONNECT, "http://h/"), PARSE_INVALID);
	assert_string_equal(ht_why, "CONNECT target is not authority-form");
	assert_int_equal(target(HTTP_M_OPTIONS, "*"), PARSE_OK);
	assert_int_equal(t.form, HTTP_TGT_ASTERISK);
	assert_int_equal(target(HTTP_M_OTHER, "*"), PARSE_INVALID);
	assert_int_equal(target(HTTP_M_OPTIONS, "**"), PARSE_INVALID);
	assert_int_equal(target(HTTP_M_DELETE, "/a/b"), PARSE_OK);
	assert_int_equal(t.form, HTTP_TGT_ORIGIN);
	assert_int_equal(t.host.len, 0);
	assert_int_equal(t.port, 0);
	/* authority form is CONNECT's alone */
	assert_int_equal(target(HTTP_M_GET, "h:80"), PARSE_INVALID);
	assert_string_equal(ht_why, "invalid request-target");
}

static void test_helpers(void **state)
{
	(void)state;

	assert_int_equal(http_method_from(S("CONNECT")), HTTP_M_CONNECT);
	assert_int_equal(http_method_from(S("CONNECTX")), HTTP_M_OTHER);
	assert_int_equal(http_method_from(S("")), HTTP_M_OTHER);
	assert_int_equal(http_scheme_default_port(S("HTTP")), 80);
	assert_int_equal(http_scheme_default_port(S("https")), 443);
	assert_int_equal(http_scheme_default_port(S("Ftp")), 21);
	assert_int_equal(http_scheme_default_port(S("ws")), 0);
	assert_true(http_list_has_token(S("a, Keep-Alive ,b"), "keep-alive"));
	assert_true(http_list_has_token(S(",,close"), "close"));
	assert_false(http_list_has_token(S("keep-alive2"), "keep-alive"));
	assert_false(http_list_has_token(S(""), "close"));
	assert_false(http_list_has_token(slice_make(NULL, 0), "close"));
	assert_int_equal(target(HTTP_M_GET, "HtTp://h/"), PARSE_OK);
	assert_true(http_target_scheme_is(&t, "http"));
	assert_false(http_target_scheme_is(&t, "https"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_authority),
		cmocka_unit_test(test_absolute_targets),
		cmocka_unit_test(test_forms_by_method),
		cmocka_unit_test(test_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, ht_teardown);
}
