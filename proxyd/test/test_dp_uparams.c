/* Username params (proxyd/dp/uparams.h): the "base+k=v" split, the next
 * hop g3's rules build from it, and the sticky address order. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "proxyd/dp/uparams.h"

static struct slice S(const char *s) {
	return slice_from_cstr(s);
}

static enum parse_res
parse(const char *name, bool dup, struct uparams *p, const char **why)
{
	return uparams_parse(S(name), dup, p, why);
}

static void test_parse_plain(void **state)
{
	struct uparams p;
	const char *why = "x";

	(void)state;
	assert_int_equal(parse("alice", true, &p, &why), PARSE_OK);
	assert_null(why);
	assert_true(slice_eq_cstr(p.base, "alice"));
	assert_int_equal(p.n, 0);
	assert_int_equal(p.params.len, 0);
}

static void test_parse_pairs(void **state)
{
	struct uparams p;
	const char *why;

	(void)state;
	assert_int_equal(parse("alice+country=us+session=ab=c", true, &p, &why), PARSE_OK);
	assert_true(slice_eq_cstr(p.base, "alice"));
	assert_true(slice_eq_cstr(p.params, "country=us+session=ab=c"));
	assert_int_equal(p.n, 2);
	assert_true(slice_eq_cstr(uparams_get(&p, "country"), "us"));
	/* the value keeps every '=' after the first */
	assert_true(slice_eq_cstr(uparams_get(&p, "session"), "ab=c"));
	assert_null(uparams_get(&p, "city").p);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"+country=us",	  /* empty base */
		"",		  /* empty name */
		"alice+",	  /* empty token */
		"alice+country",  /* no '=' */
		"alice+=us",	  /* empty key */
		"alice+country=", /* empty value */
		"alice+a=1++b=2", /* empty token in the middle */
		"alice+a=1+a=2",  /* duplicate */
	};
	struct uparams p;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		assert_int_equal(parse(bad[i], true, &p, &why), PARSE_INVALID);
		assert_non_null(why);
	}
	/* duplicates allowed: the last value wins */
	assert_int_equal(parse("alice+a=1+a=2", false, &p, &why), PARSE_OK);
	assert_int_equal(p.n, 1);
	assert_true(slice_eq_cstr(uparams_get(&p, "a"), "2"));
}

static void test_parse_too_many(void **state)
{
	char name[512] = "u";
	struct uparams p;
	const char *why;

	(void)state;
	for (unsigned i = 0; i < UPARAMS_MAX_KV; i++) {
		char kv[16];
		snprintf(kv, sizeof(kv), "+k%u=v", i);
		strcat(name, kv);
	}
	assert_int_equal(parse(name, true, &p, &why), PARSE_OK);
	assert_int_equal(p.n, UPARAMS_MAX_KV);
	strcat(name, "+extra=1");
	assert_int_equal(parse(name, true, &p, &why), PARSE_TOO_BIG);
	assert_non_null(why);
}

static const char *keys4[] = {"country", "state", "city", "opt"};
static const char *floating[] = {"opt"};

static void conf_init(struct username_params_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->set = true;
	c->keys_for_host.v = keys4;
	c->keys_for_host.n = 3;
	c->require_hierarchy = true;
	c->reject_unknown_keys = true;
	c->reject_duplicate_keys = true;
	c->separator = "-";
	c->http_port = 10000;
	c->socks5_port = 10001;
	c->strip_suffix_for_auth = true;
}

static int hop(const struct username_params_conf *c, const char *name, bool socks,
	       struct uparams_hop *h, const char **why)
{
	struct uparams p;

	assert_int_equal(parse(name, c->reject_duplicate_keys, &p, why), PARSE_OK);
	return uparams_next_hop(c, &p, socks, h, why);
}

static void test_hop_join_and_ports(void **state)
{
	struct username_params_conf c;
	struct uparams_hop h;
	const char *why;

	(void)state;
	conf_init(&c);
	assert_int_equal(hop(&c, "alice+country=us+state=ca", false, &h, &why), 0);
	assert_true(h.set);
	assert_string_equal(h.host, "us-ca");
	assert_int_equal(h.port, 10000);
	assert_false(h.sticky);
	/* the config's order, not the name's */
	assert_int_equal(hop(&c, "alice+state=ca+country=us", true, &h, &why), 0);
	assert_string_equal(h.host, "us-ca");
	assert_int_equal(h.port, 10001);
	c.separator = "_x_";
	c.domain_suffix = "exits.example";
	assert_int_equal(hop(&c, "alice+country=us+state=ca+city=sf", false, &h, &why), 0);
	assert_string_equal(h.host, "us_x_ca_x_sf.exits.example");
	c.domain_suffix = ".svc";
	assert_int_equal(hop(&c, "alice+country=de", false, &h, &why), 0);
	assert_string_equal(h.host, "de.svc");
}

static void test_hop_none(void **state)
{
	struct username_params_conf c;
	struct uparams_hop h;
	const char *why;

	(void)state;
	conf_init(&c);
	/* no params: the escaper's proxy_addr */
	assert_int_equal(hop(&c, "alice", false, &h, &why), 0);
	assert_false(h.set);
	/* only unknown keys, allowed */
	c.reject_unknown_keys = false;
	assert_int_equal(hop(&c, "alice+colour=red", false, &h, &why), 0);
	assert_false(h.set);
}

static void test_hop_refusals(void **state)
{
	struct username_params_conf c;
	struct uparams_hop h;
	const char *why;

	(void)state;
	conf_init(&c);
	why = NULL;
	assert_int_equal(hop(&c, "alice+colour=red", false, &h, &why), -EINVAL);
	assert_string_equal(why, "unknown key in the username params");
	/* state without country */
	assert_int_equal(hop(&c, "alice+state=ca", false, &h, &why), -EINVAL);
	assert_string_equal(why, "username param given without the keys before it");
	assert_int_equal(hop(&c, "alice+country=us+city=sf", false, &h, &why), -EINVAL);
	c.require_hierarchy = false;
	assert_int_equal(hop(&c, "alice+country=us+city=sf", false, &h, &why), 0);
	assert_string_equal(h.host, "us-sf");
	/* bytes no host has: ':' (a port), '/', '@', space */
	assert_int_equal(hop(&c, "alice+country=us:80", false, &h, &why), -EINVAL);
	assert_string_equal(why, "username param value is not a host label");
	assert_int_equal(hop(&c, "alice+country=a/b", false, &h, &why), -EINVAL);
	assert_int_equal(hop(&c, "alice+country=a b", false, &h, &why), -EINVAL);
	assert_int_equal(hop(&c, "alice+country=a@b", false, &h, &why), -EINVAL);
}

static void test_hop_floating(void **state)
{
	struct username_params_conf c;
	struct uparams_hop h;
	const char *why;

	(void)state;
	conf_init(&c);
	c.keys_for_host.n = 4;
	c.floating_keys.v = floating;
	c.floating_keys.n = 1;
	assert_int_equal(hop(&c, "alice+opt=o1", false, &h, &why), 0);
	assert_string_equal(h.host, "o1");
	assert_int_equal(hop(&c, "alice+country=us+opt=o1", false, &h, &why), 0);
	assert_string_equal(h.host, "us-o1");
	assert_int_equal(hop(&c, "alice+opt=o1+city=sf+state=ca+country=us", false, &h, &why), 0);
	assert_string_equal(h.host, "us-ca-sf-o1");
	/* a floating key does not excuse a missing ancestor */
	assert_int_equal(hop(&c, "alice+state=ca+opt=o1", false, &h, &why), -EINVAL);
}

static void test_hop_localhost_and_length(void **state)
{
	struct username_params_conf c;
	struct uparams_hop h;
	const char *why;
	char name[400] = "alice+country=";

	(void)state;
	conf_init(&c);
	c.domain_suffix = "localhost";
	assert_int_equal(hop(&c, "alice+country=us", false, &h, &why), 0);
	assert_string_equal(h.host, "127.0.0.1");
	c.domain_suffix = NULL;
	assert_int_equal(hop(&c, "alice+country=LOCALHOST", false, &h, &why), 0);
	assert_string_equal(h.host, "127.0.0.1");
	assert_int_equal(hop(&c, "alice+country=notlocalhost", false, &h, &why), 0);
	assert_string_equal(h.host, "notlocalhost");
	memset(name + strlen(name), 'a', 254);
	assert_int_equal(hop(&c, name, false, &h, &why), -EINVAL);
	assert_string_equal(why, "next hop from the username params is too long");
}

static void test_hop_sticky(void **state)
{
	struct username_params_conf c;
	struct uparams_hop a, b, d;
	const char *why;

	(void)state;
	conf_init(&c);
	c.resolve_sticky_key = "session";
	/* the sticky key is accepted though not a host key */
	assert_int_equal(hop(&c, "alice+country=us+session=s1", false, &a, &why), 0);
	assert_true(a.sticky);
	assert_string_equal(a.host, "us");
	assert_int_equal(hop(&c, "bob+session=s1+country=us", false, &b, &why), 0);
	assert_int_equal(hop(&c, "alice+country=us+session=s2", false, &d, &why), 0);
	assert_true(a.sticky_key == b.sticky_key);
	assert_true(a.sticky_key != d.sticky_key);
	/* sticky alone: no host, proxy_addr stays */
	assert_int_equal(hop(&c, "alice+session=s1", false, &a, &why), 0);
	assert_false(a.set);
	assert_true(a.sticky);
}

static void v4(union dp_addr *a, const char *ip)
{
	memset(a, 0, sizeof(*a));
	a->in.sin_family = AF_INET;
	a->in.sin_port = htons(10000);
	assert_int_equal(inet_pton(AF_INET, ip, &a->in.sin_addr), 1);
}

static void test_sticky_order(void **state)
{
	static const char *const ips[] = {"127.0.0.4", "127.0.0.2", "127.0.0.3", "127.0.0.5"};
	union dp_addr x[4], y[4];
	unsigned seen[4] = {0};

	(void)state;
	for (uint64_t key = 1; key <= 400; key++) {
		char s[INET_ADDRSTRLEN];
		unsigned idx;
		for (unsigned i = 0; i < 4; i++) {
			v4(&x[i], ips[i]);
			v4(&y[i], ips[3 - i]);
		}
		uint64_t k = key * 0x9e3779b97f4a7c15ull;
		uparams_sticky_order(x, 4, k);
		uparams_sticky_order(y, 4, k);
		/* the same first pick whatever order the resolver gave */
		assert_memory_equal(&x[0], &y[0], sizeof(x[0]));
		inet_ntop(AF_INET, &x[0].in.sin_addr, s, sizeof(s));
		idx = (unsigned)(s[8] - '2');
		assert_true(idx < 4);
		seen[idx]++;
		/* the others follow in sorted order: a permutation of all four */
		for (unsigned i = 1; i + 1 < 4; i++)
			assert_true(ntohl(x[i].in.sin_addr.s_addr) <
				    ntohl(x[i + 1].in.sin_addr.s_addr));
	}
	/* every address gets keys (about 100 each) */
	for (unsigned i = 0; i < 4; i++)
		assert_in_range(seen[i], 50, 150);
	/* one address: nothing to do */
	v4(&x[0], "127.0.0.9");
	uparams_sticky_order(x, 1, 7);
	assert_int_equal(ntohl(x[0].in.sin_addr.s_addr), 0x7f000009);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_plain),
		cmocka_unit_test(test_parse_pairs),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_too_many),
		cmocka_unit_test(test_hop_join_and_ports),
		cmocka_unit_test(test_hop_none),
		cmocka_unit_test(test_hop_refusals),
		cmocka_unit_test(test_hop_floating),
		cmocka_unit_test(test_hop_localhost_and_length),
		cmocka_unit_test(test_hop_sticky),
		cmocka_unit_test(test_sticky_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
