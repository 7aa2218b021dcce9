/* The user's resolve policy (proxyd/dp/resolve_policy.h): how a user's
 * resolve_strategy narrows an escaper's (g3's rule) and resolve_redirection
 * lookups over rules loaded from YAML (exact → IPs or a name, parent →
 * suffix rewrite, longest parent wins, case and trailing dots). */
#include "proxyd/test/proxyd_fixture.h"

#include "proxyd/dp/resolve_policy.h"

static struct resolve_strategy rs(enum resolve_query q, enum resolve_pick p)
{
	struct resolve_strategy r = {.set = true, .query = q, .pick = p};

	return r;
}

static void test_strategy_adjust(void **state)
{
	struct resolve_strategy e, u, r;

	(void)state;
	/* nothing set: g3's default Ipv4First, pick Random */
	r = resolve_strategy_adjust(NULL, NULL);
	assert_true(r.set);
	assert_int_equal(r.query, RESOLVE_IPV4_FIRST);
	assert_int_equal(r.pick, RESOLVE_PICK_RANDOM);
	/* the escaper alone */
	e = rs(RESOLVE_IPV6_FIRST, RESOLVE_PICK_FIRST);
	r = resolve_strategy_adjust(&e, NULL);
	assert_int_equal(r.query, RESOLVE_IPV6_FIRST);
	assert_int_equal(r.pick, RESOLVE_PICK_FIRST);
	/* a *First escaper takes the user's query and pick */
	u = rs(RESOLVE_IPV4_ONLY, RESOLVE_PICK_RANDOM);
	r = resolve_strategy_adjust(&e, &u);
	assert_int_equal(r.query, RESOLVE_IPV4_ONLY);
	assert_int_equal(r.pick, RESOLVE_PICK_RANDOM);
	/* a fixed family is never widened: Ipv4Only + user Ipv6First / Ipv6Only */
	e = rs(RESOLVE_IPV4_ONLY, RESOLVE_PICK_RANDOM);
	u = rs(RESOLVE_IPV6_FIRST, RESOLVE_PICK_FIRST);
	r = resolve_strategy_adjust(&e, &u);
	assert_int_equal(r.query, RESOLVE_IPV4_ONLY);
	assert_int_equal(r.pick, RESOLVE_PICK_FIRST);
	u = rs(RESOLVE_IPV6_ONLY, RESOLVE_PICK_RANDOM);
	assert_int_equal(resolve_strategy_adjust(&e, &u).query, RESOLVE_IPV4_ONLY);
	e = rs(RESOLVE_IPV6_ONLY, RESOLVE_PICK_RANDOM);
	u = rs(RESOLVE_IPV4_FIRST, RESOLVE_PICK_RANDOM);
	assert_int_equal(resolve_strategy_adjust(&e, &u).query, RESOLVE_IPV6_ONLY);
	/* an unset user strategy changes nothing */
	u.set = false;
	u.query = RESOLVE_IPV4_ONLY;
	e = rs(RESOLVE_IPV6_FIRST, RESOLVE_PICK_FIRST);
	r = resolve_strategy_adjust(&e, &u);
	assert_int_equal(r.query, RESOLVE_IPV6_FIRST);
	assert_int_equal(r.pick, RESOLVE_PICK_FIRST);
}

static const struct resolve_redirection *load(struct fx_load *l, const char *rules)
{
	char yaml[2048];

	snprintf(yaml, sizeof(yaml),
		 "resolver: [{name: r, type: c_ares}]\n"
		 "escaper:\n  - name: d\n    type: direct_fixed\n    resolver: r\n"
		 "    resolve_redirection:\n%s",
		 rules);
	FX_LOAD_OK(l, yaml);
	return &proxyd_conf_escaper(l->conf, "d")->resolve_redirection;
}

static enum resolve_redirect_kind look(const struct resolve_redirection *rr, const char *host,
				       char *out, size_t cap, const struct ip_list **ips)
{
	return resolve_redirect_lookup(rr, host, strlen(host), out, cap, ips);
}

static void test_redirect_rules(void **state)
{
	struct fx_load l;
	const struct resolve_redirection *rr;
	const struct ip_list *ips;
	char out[256];

	(void)state;
	rr = load(&l, "      - {exact: a.example, to: [192.0.2.1, '2001:db8::1']}\n"
		      "      - {exact: b.example, to: c.example.net}\n"
		      "      - {parent: example.org, to: example.net}\n"
		      "      - {parent: deep.example.org, to: d.test}\n"
		      "      - {exact: x.example.org, to: 192.0.2.7}\n");
	assert_int_equal(look(rr, "a.example", out, sizeof(out), &ips), RESOLVE_REDIRECT_IPS);
	assert_int_equal(ips->n, 2);
	assert_int_equal(ips->v[0].family, AF_INET);
	assert_int_equal(ips->v[0].addr[3], 1);
	assert_int_equal(ips->v[1].family, AF_INET6);
	/* case and a trailing dot do not matter */
	assert_int_equal(look(rr, "A.Example.", out, sizeof(out), &ips), RESOLVE_REDIRECT_IPS);
	assert_int_equal(look(rr, "b.example", out, sizeof(out), &ips), RESOLVE_REDIRECT_HOST);
	assert_string_equal(out, "c.example.net");
	assert_null(ips);
	/* parent: the labels below the parent are kept */
	assert_int_equal(look(rr, "www.example.org", out, sizeof(out), &ips),
			 RESOLVE_REDIRECT_HOST);
	assert_string_equal(out, "www.example.net");
	assert_int_equal(look(rr, "example.org", out, sizeof(out), &ips), RESOLVE_REDIRECT_HOST);
	assert_string_equal(out, "example.net");
	/* the longest parent wins, wherever it is in the list */
	assert_int_equal(look(rr, "a.b.deep.example.org", out, sizeof(out), &ips),
			 RESOLVE_REDIRECT_HOST);
	assert_string_equal(out, "a.b.d.test");
	/* an exact rule beats a parent one */
	assert_int_equal(look(rr, "x.example.org", out, sizeof(out), &ips), RESOLVE_REDIRECT_IPS);
	/* no match: not a label boundary, other names, empty */
	assert_int_equal(look(rr, "badexample.org", out, sizeof(out), &ips), RESOLVE_REDIRECT_NONE);
	assert_int_equal(look(rr, "example.com", out, sizeof(out), &ips), RESOLVE_REDIRECT_NONE);
	assert_int_equal(look(rr, "aa.example", out, sizeof(out), &ips), RESOLVE_REDIRECT_NONE);
	assert_int_equal(resolve_redirect_lookup(rr, "", 0, out, sizeof(out), &ips),
			 RESOLVE_REDIRECT_NONE);
	/* a result that does not fit the buffer is no redirection */
	assert_int_equal(look(rr, "www.example.org", out, 11, &ips), RESOLVE_REDIRECT_NONE);
	assert_int_equal(look(rr, "www.example.org", out, 16, &ips), RESOLVE_REDIRECT_HOST);
	assert_string_equal(out, "www.example.net");
	assert_int_equal(resolve_redirect_lookup(NULL, "a.example", 9, out, sizeof(out), &ips),
			 RESOLVE_REDIRECT_NONE);
	fx_done(&l);
}

static void test_redirect_map_form(void **state)
{
	struct fx_load l;
	const struct resolve_redirection *rr;
	const struct ip_list *ips;
	char out[64];

	(void)state;
	rr = load(&l, "      a.example: 192.0.2.9\n      b.example: c.example\n");
	assert_int_equal(look(rr, "a.example", out, sizeof(out), &ips), RESOLVE_REDIRECT_IPS);
	assert_int_equal(ips->n, 1);
	assert_int_equal(look(rr, "b.example", out, sizeof(out), &ips), RESOLVE_REDIRECT_HOST);
	assert_string_equal(out, "c.example");
	/* map keys are exact names, not parents */
	assert_int_equal(look(rr, "x.b.example", out, sizeof(out), &ips), RESOLVE_REDIRECT_NONE);
	fx_done(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strategy_adjust),
		cmocka_unit_test(test_redirect_rules),
		cmocka_unit_test(test_redirect_map_form),
	};
	log_init("test", "", LOG_SINK_STDERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
