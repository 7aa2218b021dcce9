/* conf typed value parsers: good and bad forms, exact error messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "common/conf.h"

struct fx {
	struct conf_ctx ctx;
	struct conf_node n;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	conf_ctx_init(&f->ctx, "v.yaml");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	conf_ctx_fini(&f->ctx);
	free(f);
	return 0;
}

/* A plain scalar at v.yaml:3:7 with path "k". */
static const struct conf_node *sc(struct fx *f, const char *s)
{
	for (unsigned i = 0; i < CONF_MAX_ERRORS; i++) {
		free(f->ctx.errs[i]);
		f->ctx.errs[i] = NULL;
	}
	f->ctx.nerr = 0;
	conf_path_pop(&f->ctx, 0);
	conf_path_push_key(&f->ctx, "k");
	memset(&f->n, 0, sizeof(f->n));
	f->n.kind = CONF_SCALAR;
	f->n.file = "v.yaml";
	f->n.line = 3;
	f->n.col = 7;
	f->n.str = s;
	f->n.len = strlen(s);
	f->n.plain = true;
	return &f->n;
}

static void expect_err(struct fx *f, const char *msg)
{
	char want[512];
	snprintf(want, sizeof(want), "v.yaml:3:7: error: k: %s", msg);
	assert_int_equal(f->ctx.nerr, 1);
	assert_string_equal(f->ctx.errs[0], want);
}

static uint64_t dur(struct fx *f, const char *s)
{
	uint64_t v = 12345;
	assert_int_equal(conf_get_duration_ms(&f->ctx, sc(f, s), &v), 0);
	assert_int_equal(f->ctx.nerr, 0);
	return v;
}

static void test_duration(void **state)
{
	struct fx *f = *state;
	uint64_t v;

	assert_int_equal(dur(f, "10"), 10000);
	assert_int_equal(dur(f, "0"), 0);
	assert_int_equal(dur(f, "1.5"), 1500);
	assert_int_equal(dur(f, "1.5s"), 1500);
	assert_int_equal(dur(f, "100ms"), 100);
	assert_int_equal(dur(f, "1h 30m 71s"), 5471000);
	assert_int_equal(dur(f, "1h30m"), 5400000);
	assert_int_equal(dur(f, "2d"), 172800000);
	assert_int_equal(dur(f, "1w"), 604800000);
	assert_int_equal(dur(f, "500 ms"), 500);
	assert_int_equal(dur(f, " 3s "), 3000);
	assert_int_equal(dur(f, "1500us"), 2); /* rounds up */
	assert_int_equal(dur(f, "100us"), 1);
	assert_int_equal(dur(f, "100\xc2\xb5s"), 1);
	assert_int_equal(dur(f, "1ns"), 1);
	assert_int_equal(dur(f, "2000000ns"), 2);
	assert_int_equal(dur(f, "0.5ms"), 1);
	assert_int_equal(dur(f, "1m 1s 1ms"), 61001);
	assert_int_equal(dur(f, "30 seconds"), 30000);
	assert_int_equal(dur(f, "2 hours"), 7200000);

	assert_int_equal(conf_get_duration_ms(&f->ctx, sc(f, "1x"), &v), -EINVAL);
	expect_err(f, "invalid duration '1x' (use e.g. 10, 1.5, 500ms, 1h 30m; units ns us ms s m "
		      "h d w)");
	static const char *const bad[] = {"abc", "-1s", "1.s",	  "10 20", "1h 30",
					  "s",	 "1H",	"1h,30m", ".",	   "1e3"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(conf_get_duration_ms(&f->ctx, sc(f, bad[i]), &v), -EINVAL);
		assert_int_equal(f->ctx.nerr, 1);
		assert_non_null(strstr(f->ctx.errs[0], "invalid duration"));
	}
	assert_int_equal(conf_get_duration_ms(&f->ctx, sc(f, "99999999999999999999999d"), &v),
			 -EINVAL);
	expect_err(f, "duration '99999999999999999999999d' too large");
	assert_int_equal(conf_get_duration_ms(&f->ctx, sc(f, "300000000000000d"), &v), -EINVAL);
	expect_err(f, "duration '300000000000000d' too large");
	/* just below the ms limit still works */
	assert_int_equal(dur(f, "18446744073709551s"), 18446744073709551000ull);
	/* null and kinds */
	assert_int_equal(conf_get_duration_ms(&f->ctx, sc(f, ""), &v), -EINVAL);
	expect_err(f, "expected a duration, got null");
}

static uint64_t size(struct fx *f, const char *s)
{
	uint64_t v = 12345;
	assert_int_equal(conf_get_size(&f->ctx, sc(f, s), &v), 0);
	assert_int_equal(f->ctx.nerr, 0);
	return v;
}

static void test_size(void **state)
{
	struct fx *f = *state;
	uint64_t v;

	assert_int_equal(size(f, "0"), 0);
	assert_int_equal(size(f, "1234"), 1234);
	assert_int_equal(size(f, "1K"), 1000);
	assert_int_equal(size(f, "1k"), 1000);
	assert_int_equal(size(f, "1KB"), 1000);
	assert_int_equal(size(f, "1KiB"), 1024);
	assert_int_equal(size(f, "1Ki"), 1024);
	assert_int_equal(size(f, "500K"), 500000);
	assert_int_equal(size(f, "10M"), 10000000);
	assert_int_equal(size(f, "1MiB"), 1048576);
	assert_int_equal(size(f, "1.5M"), 1500000);
	assert_int_equal(size(f, "1.5KiB"), 1536);
	assert_int_equal(size(f, "2G"), 2000000000ull);
	assert_int_equal(size(f, "1GiB"), 1073741824ull);
	assert_int_equal(size(f, "3T"), 3000000000000ull);
	assert_int_equal(size(f, "1TiB"), 1099511627776ull);
	assert_int_equal(size(f, "10 MB"), 10000000);
	assert_int_equal(size(f, "64B"), 64);
	assert_int_equal(size(f, "18446744073709551615"), UINT64_MAX);

	assert_int_equal(conf_get_size(&f->ctx, sc(f, "10X"), &v), -EINVAL);
	expect_err(f, "invalid size '10X' (use bytes or e.g. 1K = 1000, 1KiB = 1024, 1.5M)");
	static const char *const bad[] = {"K",	   "-1K", "1.5", "1.5B", "1KK",
					  "1 K B", "ten", "1.K", "10M/s"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(conf_get_size(&f->ctx, sc(f, bad[i]), &v), -EINVAL);
		assert_int_equal(f->ctx.nerr, 1);
		assert_non_null(strstr(f->ctx.errs[0], "invalid size"));
	}
	assert_int_equal(conf_get_size(&f->ctx, sc(f, "18446744073709551616"), &v), -EINVAL);
	expect_err(f, "size '18446744073709551616' too large");
	assert_int_equal(conf_get_size(&f->ctx, sc(f, "20000000T"), &v), -EINVAL);
	expect_err(f, "size '20000000T' too large");
}

static void test_bool(void **state)
{
	struct fx *f = *state;
	static const char *const t[] = {"true", "TRUE", "yes", "Yes", "on", "ON", "1"};
	static const char *const fl[] = {"false", "False", "no", "NO", "off", "Off", "0"};
	bool b;

	for (unsigned i = 0; i < 7; i++) {
		b = false;
		assert_int_equal(conf_get_bool(&f->ctx, sc(f, t[i]), &b), 0);
		assert_true(b);
		assert_int_equal(conf_get_bool(&f->ctx, sc(f, fl[i]), &b), 0);
		assert_false(b);
	}
	assert_int_equal(conf_get_bool(&f->ctx, sc(f, "maybe"), &b), -EINVAL);
	expect_err(f, "invalid boolean 'maybe' (expected true/false, yes/no, on/off, 1/0)");
	assert_int_equal(conf_get_bool(&f->ctx, sc(f, "2"), &b), -EINVAL);
	assert_int_equal(conf_get_bool(&f->ctx, sc(f, "~"), &b), -EINVAL);
	expect_err(f, "expected a boolean, got null");
}

static void test_ints(void **state)
{
	struct fx *f = *state;
	uint64_t u;
	int64_t i;

	assert_int_equal(conf_get_u64(&f->ctx, sc(f, "255"), 0, 255, &u), 0);
	assert_int_equal(u, 255);
	assert_int_equal(conf_get_u64(&f->ctx, sc(f, "0x10"), 0, 255, &u), 0);
	assert_int_equal(u, 16);
	assert_int_equal(conf_get_u64(&f->ctx, sc(f, "+7"), 0, 255, &u), 0);
	assert_int_equal(u, 7);
	assert_int_equal(conf_get_u64(&f->ctx, sc(f, "18446744073709551615"), 0, UINT64_MAX, &u),
			 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(conf_get_u64(&f->ctx, sc(f, "300"), 0, 255, &u), -EINVAL);
	expect_err(f, "value 300 out of range (0..255)");
	assert_int_equal(conf_get_u64(&f->ctx, sc(f, "-1"), 0, 255, &u), -EINVAL);
	expect_err(f, "value -1 out of range (0..255)");
	assert_int_equal(conf_get_u64(&f->ctx, sc(f, "0"), 1, 10, &u), -EINVAL);
	expect_err(f, "value 0 out of range (1..10)");
	assert_int_equal(conf_get_u64(&f->ctx, sc(f, "18446744073709551616"), 0, UINT64_MAX, &u),
			 -EINVAL);
	expect_err(f, "value 18446744073709551616 out of range (0..18446744073709551615)");
	assert_int_equal(conf_get_u64(&f->ctx, sc(f, "12abc"), 0, 255, &u), -EINVAL);
	expect_err(f, "invalid integer '12abc'");
	assert_int_equal(conf_get_u64(&f->ctx, sc(f, "1.5"), 0, 255, &u), -EINVAL);
	expect_err(f, "invalid integer '1.5'");
	assert_int_equal(conf_get_u64(&f->ctx, sc(f, "-"), 0, 255, &u), -EINVAL);
	expect_err(f, "invalid integer '-'");

	assert_int_equal(conf_get_i64(&f->ctx, sc(f, "-5"), -10, 10, &i), 0);
	assert_int_equal(i, -5);
	assert_int_equal(conf_get_i64(&f->ctx, sc(f, "-9223372036854775808"), INT64_MIN, 0, &i), 0);
	assert_true(i == INT64_MIN);
	assert_int_equal(conf_get_i64(&f->ctx, sc(f, "-11"), -10, 10, &i), -EINVAL);
	expect_err(f, "value -11 out of range (-10..10)");
	assert_int_equal(
		conf_get_i64(&f->ctx, sc(f, "9223372036854775808"), INT64_MIN, INT64_MAX, &i),
		-EINVAL);
	expect_err(f, "value 9223372036854775808 out of range "
		      "(-9223372036854775808..9223372036854775807)");
}

static void test_str(void **state)
{
	struct fx *f = *state;
	const char *s = NULL;
	struct conf_node *n;

	assert_int_equal(conf_get_str(&f->ctx, sc(f, "hello"), &s), 0);
	assert_string_equal(s, "hello");
	/* quoted empty string is a value; plain empty is null */
	n = (struct conf_node *)sc(f, "");
	n->plain = false;
	assert_int_equal(conf_get_str(&f->ctx, n, &s), 0);
	assert_string_equal(s, "");
	assert_int_equal(conf_get_str(&f->ctx, sc(f, "null"), &s), -EINVAL);
	expect_err(f, "expected a string, got null");
	n = (struct conf_node *)sc(f, "a\0b");
	n->len = 3;
	assert_int_equal(conf_get_str(&f->ctx, n, &s), -EINVAL);
	expect_err(f, "string contains a NUL byte");
	n = (struct conf_node *)sc(f, "");
	n->kind = CONF_MAP;
	assert_int_equal(conf_get_str(&f->ctx, n, &s), -EINVAL);
	expect_err(f, "expected a string, got a map");
}

static void hp_ok(struct fx *f, const char *s, uint16_t def, const char *host, uint16_t port,
		  int family)
{
	struct conf_hostport hp;
	memset(&hp, 0, sizeof(hp));
	assert_int_equal(conf_get_hostport(&f->ctx, sc(f, s), def, &hp), 0);
	assert_string_equal(hp.host, host);
	assert_int_equal(hp.port, port);
	assert_int_equal(hp.is_ip, family != 0);
	if (family) {
		assert_int_equal(hp.addr.ss_family, family);
		if (family == AF_INET) {
			assert_int_equal(hp.addrlen, sizeof(struct sockaddr_in));
			assert_int_equal(ntohs(((struct sockaddr_in *)&hp.addr)->sin_port), port);
		} else {
			assert_int_equal(hp.addrlen, sizeof(struct sockaddr_in6));
			assert_int_equal(ntohs(((struct sockaddr_in6 *)&hp.addr)->sin6_port), port);
		}
	}
}

static void hp_bad(struct fx *f, const char *s, uint16_t def, const char *msg)
{
	struct conf_hostport hp;
	assert_int_equal(conf_get_hostport(&f->ctx, sc(f, s), def, &hp), -EINVAL);
	expect_err(f, msg);
}

static void test_hostport(void **state)
{
	struct fx *f = *state;

	hp_ok(f, "127.0.0.1:8080", 0, "127.0.0.1", 8080, AF_INET);
	hp_ok(f, "127.0.0.1", 3128, "127.0.0.1", 3128, AF_INET);
	hp_ok(f, "example.com:443", 0, "example.com", 443, 0);
	hp_ok(f, "example.com", 80, "example.com", 80, 0);
	hp_ok(f, "example.com.", 80, "example.com.", 80, 0);
	hp_ok(f, "my-host_1.internal:1", 0, "my-host_1.internal", 1, 0);
	hp_ok(f, "localhost:65535", 0, "localhost", 65535, 0);
	hp_ok(f, "[::1]:8080", 0, "::1", 8080, AF_INET6);
	hp_ok(f, "[2001:db8::1]", 53, "2001:db8::1", 53, AF_INET6);
	hp_ok(f, "::1", 53, "::1", 53, AF_INET6);
	hp_ok(f, "2001:db8::2", 1, "2001:db8::2", 1, AF_INET6);
	hp_ok(f, "[fe80::1%1]:80", 0, "fe80::1%1", 80, AF_INET6);

	hp_bad(f, "127.0.0.1:70000", 0, "port 70000 out of range (1..65535)");
	hp_bad(f, "127.0.0.1:0", 0, "port 0 out of range (1..65535)");
	hp_bad(f, "host:http", 0, "invalid port 'http' in 'host:http'");
	hp_bad(f, "host:", 0, "invalid port '' in 'host:'");
	hp_bad(f, "127.0.0.1", 0, "missing port in '127.0.0.1'");
	hp_bad(f, "::1", 0, "missing port in '::1'");
	hp_bad(f, ":80", 0, "invalid address ':80'");
	hp_bad(f, "[::1", 0, "invalid address '[::1'");
	hp_bad(f, "[::1]x", 0, "invalid address '[::1]x'");
	hp_bad(f, "[1.2.3.4]:80", 0, "invalid address '[1.2.3.4]:80'");
	hp_bad(f, "[]:80", 0, "invalid address '[]:80'");
	hp_bad(f, "1:2:3:zz", 0, "invalid address '1:2:3:zz'");
	hp_bad(f, "bad host:80", 0, "invalid host name 'bad host'");
	hp_bad(f, "-bad.com:80", 0, "invalid host name '-bad.com'");
	hp_bad(f, "bad-.com:80", 0, "invalid host name 'bad-.com'");
	hp_bad(f, "a..b:80", 0, "invalid host name 'a..b'");
	hp_bad(f, "1.2.3.999:80", 0, "invalid host name '1.2.3.999'");
	hp_bad(f, "8080", 0, "missing port in '8080'");
	hp_bad(f, "8080", 1, "invalid host name '8080'");
	hp_bad(f, "[fe80::1%nosuchif0]:80", 0,
	       "unknown interface 'nosuchif0' in '[fe80::1%nosuchif0]:80'");
	char label[80];
	memset(label, 'a', 64);
	strcpy(label + 64, ".com:1");
	assert_int_equal(conf_get_hostport(&f->ctx, sc(f, label), 0, &(struct conf_hostport){0}),
			 -EINVAL);
	assert_non_null(strstr(f->ctx.errs[0], "invalid host name"));
}

static void net_ok(struct fx *f, const char *s, int family, uint8_t prefix, const char *addr)
{
	struct conf_net net;
	uint8_t want[16];
	assert_int_equal(conf_get_network(&f->ctx, sc(f, s), &net), 0);
	assert_int_equal(net.family, family);
	assert_int_equal(net.prefix, prefix);
	assert_int_equal(inet_pton(family, addr, want), 1);
	assert_memory_equal(net.addr, want, family == AF_INET ? 4 : 16);
}

static void net_bad(struct fx *f, const char *s, const char *msg)
{
	struct conf_net net;
	assert_int_equal(conf_get_network(&f->ctx, sc(f, s), &net), -EINVAL);
	expect_err(f, msg);
}

static void test_network(void **state)
{
	struct fx *f = *state;

	net_ok(f, "10.0.0.0/8", AF_INET, 8, "10.0.0.0");
	net_ok(f, "127.0.0.1", AF_INET, 32, "127.0.0.1");
	net_ok(f, "0.0.0.0/0", AF_INET, 0, "0.0.0.0");
	net_ok(f, "192.168.1.128/25", AF_INET, 25, "192.168.1.128");
	net_ok(f, "::1", AF_INET6, 128, "::1");
	net_ok(f, "::1/128", AF_INET6, 128, "::1");
	net_ok(f, "fe80::/10", AF_INET6, 10, "fe80::");
	net_ok(f, "2001:db8::/32", AF_INET6, 32, "2001:db8::");

	net_bad(f, "10.0.0.1/8", "10.0.0.1/8 has host bits set");
	net_bad(f, "192.168.1.129/25", "192.168.1.129/25 has host bits set");
	net_bad(f, "fe80::1/64", "fe80::1/64 has host bits set");
	net_bad(f, "10.0.0.0/33", "prefix length 33 out of range (0..32) in '10.0.0.0/33'");
	net_bad(f, "::/129", "prefix length 129 out of range (0..128) in '::/129'");
	static const char *const bad[] = {"10.0.0.0/",	 "10.0.0.0/x",	 "10.0.0/8",
					  "host.com/8",	 "10.0.0.0/8/8", "/8",
					  "10.0.0.0/-1", "10.0.0.0/0008"};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char msg[128];
		snprintf(msg, sizeof(msg),
			 "invalid network '%s' (use e.g. 10.0.0.0/8, ::1/128 or an IP)", bad[i]);
		net_bad(f, bad[i], msg);
	}
}

static void test_enum(void **state)
{
	struct fx *f = *state;
	static const struct conf_enum tab[] = {
		{"random", 1}, {"round_robin", 2}, {"rr", 2}, {"ipv4_first", 3}, {NULL, 0}};
	int v = 0;

	assert_int_equal(conf_get_enum(&f->ctx, sc(f, "random"), tab, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(conf_get_enum(&f->ctx, sc(f, "Round-Robin"), tab, &v), 0);
	assert_int_equal(v, 2);
	assert_int_equal(conf_get_enum(&f->ctx, sc(f, "IPv4First"), tab, &v), -EINVAL);
	assert_int_equal(conf_get_enum(&f->ctx, sc(f, "IPv4-First"), tab, &v), 0);
	assert_int_equal(v, 3);
	assert_int_equal(conf_get_enum(&f->ctx, sc(f, "ketama"), tab, &v), -EINVAL);
	expect_err(f,
		   "invalid value 'ketama' (expected one of: random, round_robin, rr, ipv4_first)");
}

static void test_normalize(void **state)
{
	(void)state;
	char out[16];
	conf_normalize("User-Group", 10, out, sizeof(out));
	assert_string_equal(out, "user_group");
	conf_normalize("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26, out, sizeof(out));
	assert_string_equal(out, "abcdefghijklmno");
	struct conf_node k = {.kind = CONF_SCALAR, .str = "C-Ares", .len = 6};
	assert_true(conf_key_is(&k, "c_ares"));
	assert_false(conf_key_is(&k, "c_are"));
	assert_false(conf_key_is(&k, "c_aress"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_duration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bool, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_str, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostport, setup, teardown),
		cmocka_unit_test_setup_teardown(test_network, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enum, setup, teardown),
		cmocka_unit_test(test_normalize),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
