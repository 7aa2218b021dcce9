/* explicit_sites matching (proxyd/dp/user_site.h) over sites loaded from
 * YAML: exact before child, the longest child and the longest subnet win,
 * IP literals match exact IPs and subnets only, case and trailing dots. */
#include "proxyd/test/proxyd_fixture.h"

#include "common/sock.h"
#include "proxyd/dp/user_site.h"

static const char *site(const struct user_conf *uc, const char *host)
{
	struct sockaddr_storage ss;
	socklen_t len;
	const struct user_site_conf *s;

	if (sock_ip_parse(slice_from_cstr(host), 0, &ss, &len) == 0)
		s = user_site_match(uc, host, strlen(host), (const struct sockaddr *)&ss);
	else
		s = user_site_match(uc, host, strlen(host), NULL);
	return s != NULL ? s->id : "-";
}

static const struct user_conf *load(struct fx_load *l, const char *sites)
{
	char yaml[2048];

	snprintf(yaml, sizeof(yaml),
		 "escaper: [{name: d, type: dummy_deny}]\n"
		 "user_group:\n  - name: g\n    static_users:\n"
		 "      - name: u\n        token: null\n        explicit_sites:\n%s"
		 "      - name: none\n        token: null\n",
		 sites);
	FX_LOAD_OK(l, yaml);
	return &proxyd_conf_user_group(l->conf, "g")->static_users[0];
}

static void test_match_order(void **state)
{
	struct fx_load l;
	const struct user_conf *uc, *none;

	(void)state;
	uc = load(&l, "          - {id: exact, exact_match: [www.example.com, 192.0.2.10]}\n"
		      "          - {id: wide, child_match: [example.com]}\n"
		      "          - {id: narrow, child_match: [sub.example.com, other.test]}\n"
		      "          - {id: net8, subnet_match: [10.0.0.0/8, '2001:db8::/32']}\n"
		      "          - {id: net24, subnet_match: [10.1.2.0/24]}\n");
	none = &proxyd_conf_user_group(l.conf, "g")->static_users[1];
	if (strcmp(uc->name, "u") != 0) { /* static users may be stored sorted */
		const struct user_conf *t = uc;
		uc = none;
		none = t;
	}
	assert_int_equal(uc->n_sites, 5);
	/* exact beats a child rule that also covers the name */
	assert_string_equal(site(uc, "www.example.com"), "exact");
	assert_string_equal(site(uc, "WWW.Example.COM."), "exact");
	/* child: the domain itself and below, the longest wins */
	assert_string_equal(site(uc, "example.com"), "wide");
	assert_string_equal(site(uc, "a.example.com"), "wide");
	assert_string_equal(site(uc, "sub.example.com"), "narrow");
	assert_string_equal(site(uc, "x.y.sub.example.com"), "narrow");
	assert_string_equal(site(uc, "x.other.test"), "narrow");
	/* not on a label boundary, or another name */
	assert_string_equal(site(uc, "badexample.com"), "-");
	assert_string_equal(site(uc, "example.com.evil"), "-");
	assert_string_equal(site(uc, "test"), "-");
	/* IPs: the exact literal, else the longest subnet */
	assert_string_equal(site(uc, "192.0.2.10"), "exact");
	assert_string_equal(site(uc, "192.0.2.11"), "-");
	assert_string_equal(site(uc, "10.9.9.9"), "net8");
	assert_string_equal(site(uc, "10.1.2.200"), "net24");
	assert_string_equal(site(uc, "10.1.3.1"), "net8");
	assert_string_equal(site(uc, "::ffff:10.1.2.3"), "net24"); /* IPv4-mapped */
	assert_string_equal(site(uc, "2001:db8:1::5"), "net8");
	assert_string_equal(site(uc, "2001:db9::5"), "-");
	assert_string_equal(site(uc, "11.0.0.1"), "-");
	/* a user without sites never matches */
	assert_int_equal(none->n_sites, 0);
	assert_null(user_site_match(none, "www.example.com", 15, NULL));
	assert_null(user_site_match(NULL, "www.example.com", 15, NULL));
	assert_null(user_site_match(uc, "", 0, NULL));
	fx_done(&l);
}

static void test_site_fields(void **state)
{
	struct fx_load l;
	const struct user_conf *uc;
	const struct user_site_conf *s;

	(void)state;
	uc = load(&l, "          - id: s1\n            exact_match: [a.test]\n"
		      "            emit_stats: true\n"
		      "            resolve_strategy: {query: Ipv6Only, pick: First}\n"
		      "          - {id: s2, child_match: [b.test]}\n");
	if (strcmp(uc->name, "u") != 0)
		uc = &proxyd_conf_user_group(l.conf, "g")->static_users[1];
	s = user_site_match(uc, "a.test", 6, NULL);
	assert_non_null(s);
	assert_true(s->emit_stats);
	assert_true(s->resolve_strategy.set);
	assert_int_equal(s->resolve_strategy.query, RESOLVE_IPV6_ONLY);
	s = user_site_match(uc, "c.b.test", 8, NULL);
	assert_non_null(s);
	assert_string_equal(s->id, "s2");
	assert_false(s->emit_stats); /* g3's default */
	assert_false(s->resolve_strategy.set);
	fx_done(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_order),
		cmocka_unit_test(test_site_fields),
	};
	log_init("test", "", LOG_SINK_STDERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
