/* Unit tests for mkcert's pure parts: the command line, time arguments,
 * host classification and the validity window. */
#include "tools/mkcert/mkcert.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_ARGS 32

/* Parse a NULL-terminated list of words after the program name. The words
 * are string literals, so they outlive the opts. */
static int parse_words(struct mkcert_opts *o, char *err, const char *first, ...)
{
	char *argv[MAX_ARGS];
	const char *w;
	va_list ap;
	int argc = 0;

	argv[argc++] = (char *)"mkcert";
	va_start(ap, first);
	for (w = first; w && argc < MAX_ARGS; w = va_arg(ap, const char *))
		argv[argc++] = (char *)w;
	va_end(ap);
	err[0] = '\0';
	return mkcert_opts_parse(argc, argv, o, err, MKCERT_ERR_MAX);
}

#define PARSE(o, err, ...) parse_words(o, err, __VA_ARGS__, (const char *)NULL)

/* Expect a usage error whose message contains what. */
#define ASSERT_USAGE_ERR(what, ...)                                     \
	do {                                                            \
		struct mkcert_opts o_;                                  \
		char e_[MKCERT_ERR_MAX];                                \
		assert_int_equal(PARSE(&o_, e_, __VA_ARGS__), -EINVAL); \
		if (!strstr(e_, what))                                  \
			fail_msg("error '%s' lacks '%s'", e_, what);    \
		mkcert_opts_fini(&o_);                                  \
	} while (0)

static void test_root_minimal(void **state)
{
	struct mkcert_opts o;
	char err[MKCERT_ERR_MAX];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--root", "--common-name", "My CA"), 0);
	assert_int_equal(o.action, MKCERT_ACT_MAKE);
	assert_int_equal(o.kind, MKCERT_KIND_ROOT);
	assert_int_equal(o.key.type, MKCERT_KEY_DEFAULT);
	assert_string_equal(o.common_name, "My CA");
	assert_null(o.ca_cert_path);
	assert_false(o.has_path_length);
	mkcert_opts_fini(&o);
}

static void test_server_full(void **state)
{
	struct mkcert_opts o;
	char err[MKCERT_ERR_MAX];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--tls-server", "--host", "www.example.com",
			       "--host=*.example.net", "--host", "127.0.0.1", "--ca-cert", "ca.pem",
			       "--ca-key=ca.key", "--org", "Example", "--organization-unit", "Ops",
			       "--country", "DE", "--output-cert", "s.crt", "--output-key", "s.key",
			       "--days", "30", "--ec384"),
			 0);
	assert_int_equal(o.kind, MKCERT_KIND_TLS_SERVER);
	assert_int_equal(o.n_hosts, 3);
	assert_string_equal(o.hosts[0], "www.example.com");
	assert_string_equal(o.hosts[1], "*.example.net");
	assert_string_equal(o.hosts[2], "127.0.0.1");
	assert_string_equal(o.ca_cert_path, "ca.pem");
	assert_string_equal(o.ca_key_path, "ca.key");
	assert_string_equal(o.organization, "Example");
	assert_string_equal(o.org_unit, "Ops");
	assert_string_equal(o.country, "DE");
	assert_string_equal(o.output_cert, "s.crt");
	assert_string_equal(o.output_key, "s.key");
	assert_true(o.has_days);
	assert_int_equal(o.days, 30);
	assert_int_equal(o.key.type, MKCERT_KEY_EC384);
	mkcert_opts_fini(&o);
}

static void test_rsa_bits(void **state)
{
	struct mkcert_opts o;
	char err[MKCERT_ERR_MAX];

	(void)state;
	/* no value: 2048, and the next option is not eaten */
	assert_int_equal(PARSE(&o, err, "--root", "--rsa", "--common-name", "X"), 0);
	assert_int_equal(o.key.type, MKCERT_KEY_RSA);
	assert_int_equal(o.key.rsa_bits, 2048);
	assert_string_equal(o.common_name, "X");
	mkcert_opts_fini(&o);
	assert_int_equal(PARSE(&o, err, "--root", "--rsa", "4096", "--common-name", "X"), 0);
	assert_int_equal(o.key.rsa_bits, 4096);
	mkcert_opts_fini(&o);
	assert_int_equal(PARSE(&o, err, "--rsa=3072", "--root", "--common-name", "X"), 0);
	assert_int_equal(o.key.rsa_bits, 3072);
	mkcert_opts_fini(&o);
	/* last word */
	assert_int_equal(PARSE(&o, err, "--root", "--common-name", "X", "--rsa"), 0);
	assert_int_equal(o.key.rsa_bits, 2048);
	mkcert_opts_fini(&o);
	ASSERT_USAGE_ERR("not a key size", "--root", "--common-name", "X", "--rsa", "512");
	ASSERT_USAGE_ERR("not a key size", "--root", "--common-name", "X", "--rsa", "99999");
	ASSERT_USAGE_ERR("not a key size", "--root", "--common-name", "X", "--rsa=2k");
}

static void test_actions(void **state)
{
	struct mkcert_opts o;
	char err[MKCERT_ERR_MAX];

	(void)state;
	assert_int_equal(PARSE(&o, err, "--version"), 0);
	assert_int_equal(o.action, MKCERT_ACT_VERSION);
	mkcert_opts_fini(&o);
	assert_int_equal(PARSE(&o, err, "--help"), 0);
	assert_int_equal(o.action, MKCERT_ACT_HELP);
	mkcert_opts_fini(&o);
	/* help wins even over an incomplete command line */
	assert_int_equal(PARSE(&o, err, "--tls-server", "-h"), 0);
	assert_int_equal(o.action, MKCERT_ACT_HELP);
	mkcert_opts_fini(&o);
	assert_int_equal(PARSE(&o, err, "--completion", "bash"), 0);
	assert_int_equal(o.action, MKCERT_ACT_COMPLETION);
	assert_string_equal(o.completion_shell, "bash");
	mkcert_opts_fini(&o);
	ASSERT_USAGE_ERR("cannot be used with --root", "--root", "--version");
	assert_non_null(strstr(mkcert_usage(), "--tls-server"));
	assert_non_null(strstr(mkcert_usage(), "--mimic FILE"));
}

static void test_conflicts(void **state)
{
	(void)state;
	ASSERT_USAGE_ERR("--tls-client cannot be used with --tls-server", "--tls-server",
			 "--tls-client", "--host", "a", "--ca-cert", "c", "--ca-key", "k");
	ASSERT_USAGE_ERR("--ed25519 cannot be used with --ec256", "--root", "--cn", "X", "--ec256",
			 "--ed25519");
	ASSERT_USAGE_ERR("--mimic cannot be used with --tls-server", "--tls-server", "--mimic",
			 "up.pem", "--ca-cert", "c", "--ca-key", "k");
	ASSERT_USAGE_ERR("--common-name given more than once", "--root", "--cn", "A",
			 "--common-name", "B");
	ASSERT_USAGE_ERR("--ca-cert given more than once", "--tls-server", "--host", "a",
			 "--ca-cert", "c", "--ca-cert", "d", "--ca-key", "k");
	ASSERT_USAGE_ERR("--days cannot be used with --not-after", "--root", "--cn", "X", "--days",
			 "3", "--not-after", "+1d");
	ASSERT_USAGE_ERR("same file", "--root", "--cn", "X", "--output-cert", "a", "--output-key",
			 "a");
}

static void test_required(void **state)
{
	(void)state;
	ASSERT_USAGE_ERR("is required", "--cn", "X");
	ASSERT_USAGE_ERR("is required", "--rsa");
	ASSERT_USAGE_ERR("--root needs --common-name", "--root");
	ASSERT_USAGE_ERR("--intermediate needs --common-name", "--intermediate", "--ca-cert", "c",
			 "--ca-key", "k");
	ASSERT_USAGE_ERR("--intermediate needs --ca-key", "--intermediate", "--cn", "I",
			 "--ca-cert", "c");
	ASSERT_USAGE_ERR("--tls-server needs --ca-cert", "--tls-server", "--host", "a");
	ASSERT_USAGE_ERR("--tls-server needs at least one --host", "--tls-server", "--ca-cert", "c",
			 "--ca-key", "k", "--cn", "x");
	ASSERT_USAGE_ERR("--tls-client needs --host or --common-name", "--tls-client", "--ca-cert",
			 "c", "--ca-key", "k");
	ASSERT_USAGE_ERR("--mimic needs --ca-cert", "--mimic", "x.pem");
	ASSERT_USAGE_ERR("--root makes a self-signed", "--root", "--cn", "X", "--ca-cert", "c");
}

static void test_client_with_cn_only(void **state)
{
	struct mkcert_opts o;
	char err[MKCERT_ERR_MAX];

	(void)state;
	assert_int_equal(
		PARSE(&o, err, "--tls-client", "--cn", "alice", "--ca-cert", "c", "--ca-key", "k"),
		0);
	assert_int_equal(o.kind, MKCERT_KIND_TLS_CLIENT);
	assert_true(mkcert_kind_is_client(o.kind));
	assert_int_equal(o.n_hosts, 0);
	mkcert_opts_fini(&o);
}

static void test_kind_rules(void **state)
{
	struct mkcert_opts o;
	char err[MKCERT_ERR_MAX];

	(void)state;
	ASSERT_USAGE_ERR("certification authority", "--root", "--cn", "X", "--x25519");
	ASSERT_USAGE_ERR("certification authority", "--intermediate", "--cn", "X", "--x448",
			 "--ca-cert", "c", "--ca-key", "k");
	ASSERT_USAGE_ERR("--rsa or --sm2 keys only, not --ec256", "--tlcp-server-sign", "--ec256",
			 "--host", "a", "--ca-cert", "c", "--ca-key", "k");
	ASSERT_USAGE_ERR("--host is for end-entity", "--root", "--cn", "X", "--host", "a.b");
	ASSERT_USAGE_ERR("--path-length is for --root and --intermediate", "--tls-server", "--host",
			 "a", "--ca-cert", "c", "--ca-key", "k", "--path-length", "1");
	ASSERT_USAGE_ERR("--mimic copies the subject", "--mimic", "u.pem", "--ca-cert", "c",
			 "--ca-key", "k", "--org", "O");
	ASSERT_USAGE_ERR("--keep-serial is for --mimic", "--root", "--cn", "X", "--keep-serial");

	assert_int_equal(PARSE(&o, err, "--tlcp-server-enc", "--host", "a.test", "--ca-cert", "c",
			       "--ca-key", "k"),
			 0);
	assert_int_equal(o.kind, MKCERT_KIND_TLCP_SERVER_ENC);
	assert_int_equal(o.key.type, MKCERT_KEY_DEFAULT);
	mkcert_opts_fini(&o);
	assert_int_equal(PARSE(&o, err, "--tls-client", "--x25519", "--host", "a.test", "--ca-cert",
			       "c", "--ca-key", "k"),
			 0);
	assert_int_equal(o.key.type, MKCERT_KEY_X25519);
	mkcert_opts_fini(&o);
	assert_int_equal(PARSE(&o, err, "--mimic", "u.der", "--ca-cert", "c", "--ca-key", "k",
			       "--host", "other.test", "--keep-serial"),
			 0);
	assert_int_equal(o.kind, MKCERT_KIND_MIMIC);
	assert_string_equal(o.mimic_path, "u.der");
	assert_true(o.keep_serial);
	mkcert_opts_fini(&o);
	assert_int_equal(PARSE(&o, err, "--intermediate", "--cn", "I", "--ca-cert", "c", "--ca-key",
			       "k", "--path-length", "3"),
			 0);
	assert_true(o.has_path_length);
	assert_int_equal(o.path_length, 3);
	mkcert_opts_fini(&o);
}

static void test_bad_values(void **state)
{
	(void)state;
	ASSERT_USAGE_ERR("unknown option '--bogus'", "--root", "--bogus");
	ASSERT_USAGE_ERR("unknown option '--cnn'", "--cnn=x");
	ASSERT_USAGE_ERR("unexpected argument 'extra'", "--root", "--cn", "X", "extra");
	ASSERT_USAGE_ERR("unexpected argument '-x'", "-x");
	ASSERT_USAGE_ERR("--root takes no value", "--root=yes", "--cn", "X");
	ASSERT_USAGE_ERR("--common-name needs a value", "--root", "--common-name");
	ASSERT_USAGE_ERR("non-empty", "--root", "--common-name", "");
	ASSERT_USAGE_ERR("--host needs a non-empty", "--tls-server", "--host", "");
	ASSERT_USAGE_ERR("not a number in 0..", "--intermediate", "--cn", "I", "--path-length",
			 "-1");
	ASSERT_USAGE_ERR("not a number in 1..", "--root", "--cn", "X", "--days", "0");
	ASSERT_USAGE_ERR("not a number in 1..", "--root", "--cn", "X", "--days", "1e3");
	ASSERT_USAGE_ERR("not a two-letter country", "--root", "--cn", "X", "--country", "USA");
	ASSERT_USAGE_ERR("not a two-letter country", "--root", "--cn", "X", "--country", "1A");
	ASSERT_USAGE_ERR("--not-before: 'yesterday' is not a time", "--root", "--cn", "X",
			 "--not-before", "yesterday");
}

static void test_time_parse(void **state)
{
	struct mkcert_time_arg t;

	(void)state;
	assert_int_equal(mkcert_time_parse("now", &t), 0);
	assert_true(t.set && t.relative);
	assert_int_equal(t.value, 0);
	assert_int_equal(mkcert_time_parse("-1d", &t), 0);
	assert_true(t.relative);
	assert_int_equal(t.value, -86400);
	assert_int_equal(mkcert_time_parse("+12h", &t), 0);
	assert_int_equal(t.value, 12 * 3600);
	assert_int_equal(mkcert_time_parse("+90m", &t), 0);
	assert_int_equal(t.value, 5400);
	assert_int_equal(mkcert_time_parse("-30s", &t), 0);
	assert_int_equal(t.value, -30);
	assert_int_equal(mkcert_time_parse("@1700000000", &t), 0);
	assert_false(t.relative);
	assert_int_equal(t.value, 1700000000);
	assert_int_equal(mkcert_time_parse("2024-01-02T03:04:05Z", &t), 0);
	assert_false(t.relative);
	assert_int_equal(t.value, 1704164645);
	assert_int_equal(mkcert_time_parse("2024-01-02 03:04:05", &t), 0);
	assert_int_equal(t.value, 1704164645);
	assert_int_equal(mkcert_time_parse("2024-02-29", &t), 0);
	assert_int_equal(t.value, 1709164800);
	assert_int_equal(mkcert_time_parse("1950-01-01", &t), 0);
	assert_int_equal(t.value, -631152000);
	assert_int_equal(mkcert_time_parse("9999-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t.value, 253402300799LL);

	assert_int_equal(mkcert_time_parse("2023-02-29", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("2100-02-29", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("1949-12-31", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("2024-13-01", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("2024-01-02T24:00:00Z", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("2024-01-02T03:04:05+01", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("2024-1-2", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("+5x", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("+d", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("-1dd", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("+999999999999d", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("@", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("@99999999999999", &t), -EINVAL);
	assert_int_equal(mkcert_time_parse("", &t), -EINVAL);
	assert_false(t.set);
}

static void expect_host(const char *in, enum mkcert_host_kind kind, const char *name, size_t ip_len)
{
	struct mkcert_host h;
	char err[MKCERT_ERR_MAX] = "";

	if (mkcert_host_classify(in, &h, err, sizeof(err)) != kind)
		fail_msg("'%s': kind %d, want %d (%s)", in, h.kind, kind, err);
	assert_string_equal(h.name, name);
	assert_int_equal(h.ip_len, ip_len);
}

static void expect_bad_host(const char *in, const char *why)
{
	struct mkcert_host h;
	char err[MKCERT_ERR_MAX] = "";

	if (mkcert_host_classify(in, &h, err, sizeof(err)) != MKCERT_HOST_INVALID)
		fail_msg("'%s' was accepted as kind %d", in, h.kind);
	if (!strstr(err, why))
		fail_msg("'%s': error '%s' lacks '%s'", in, err, why);
}

static void test_host_classify(void **state)
{
	struct mkcert_host h;
	char err[MKCERT_ERR_MAX];
	char label64[80], long_name[300];

	(void)state;
	expect_host("www.example.com", MKCERT_HOST_DNS, "www.example.com", 0);
	expect_host("localhost", MKCERT_HOST_DNS, "localhost", 0);
	expect_host("Mixed-Case.Example", MKCERT_HOST_DNS, "Mixed-Case.Example", 0);
	expect_host("_srv.a_b.example", MKCERT_HOST_DNS, "_srv.a_b.example", 0);
	expect_host("xn--bcher-kva.example", MKCERT_HOST_DNS, "xn--bcher-kva.example", 0);
	expect_host("3com.example", MKCERT_HOST_DNS, "3com.example", 0);
	expect_host("*.example.net", MKCERT_HOST_WILDCARD, "*.example.net", 0);
	expect_host("127.0.0.1", MKCERT_HOST_IPV4, "127.0.0.1", 4);
	expect_host("::1", MKCERT_HOST_IPV6, "::1", 16);
	expect_host("[::1]", MKCERT_HOST_IPV6, "::1", 16);
	expect_host("2001:DB8:0:0::0:1", MKCERT_HOST_IPV6, "2001:db8::1", 16);
	expect_host("::ffff:10.0.0.1", MKCERT_HOST_IPV6, "::ffff:10.0.0.1", 16);

	assert_int_equal(mkcert_host_classify("10.1.2.3", &h, err, sizeof(err)), MKCERT_HOST_IPV4);
	assert_memory_equal(h.ip, "\x0a\x01\x02\x03", 4);

	expect_bad_host("", "empty");
	expect_bad_host("a..b", "empty label");
	expect_bad_host("example.com.", "trailing dot");
	expect_bad_host(".example.com", "empty label");
	expect_bad_host("-a.example", "starts or ends with '-'");
	expect_bad_host("a-.example", "starts or ends with '-'");
	expect_bad_host("a b.example", "not allowed");
	expect_bad_host("a/b", "not allowed");
	expect_bad_host("b\xc3\xbc"
			"cher.example",
			"punycode");
	expect_bad_host("1.2.3", "all digits");
	expect_bad_host("999.1.1.1", "all digits");
	expect_bad_host("01.2.3.4", "all digits");
	expect_bad_host("*.com", "at least two labels");
	expect_bad_host("*example.com", "whole leftmost label");
	expect_bad_host("a.*.example.com", "only allowed as the whole leftmost");
	expect_bad_host("*.*.example.com", "only allowed as the whole leftmost");
	expect_bad_host("fe80::1%eth0", "zone");
	expect_bad_host("1:2:3", "not an IPv6");
	expect_bad_host("[::1", "unbalanced");
	expect_bad_host("[a.b]", "not an IPv6");
	expect_bad_host("host:443", "not an IPv6");

	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".example");
	expect_bad_host(label64, "longer than 63");
	strcpy(label64 + 63, ".example");
	expect_host(label64, MKCERT_HOST_DNS, label64, 0);
	memset(long_name, 'a', sizeof(long_name));
	for (size_t i = 50; i < 254; i += 51)
		long_name[i] = '.';
	long_name[254] = '\0';
	expect_bad_host(long_name, "longer than 253");
	long_name[253] = '\0';
	expect_host(long_name, MKCERT_HOST_DNS, long_name, 0);
}

/* opts for a kind with nothing else set. */
static struct mkcert_opts kind_opts(enum mkcert_kind k)
{
	struct mkcert_opts o;

	memset(&o, 0, sizeof(o));
	o.kind = k;
	return o;
}

#define NOW 1700000000LL
#define DAY 86400LL

static void test_validity_defaults(void **state)
{
	struct mkcert_opts o = kind_opts(MKCERT_KIND_ROOT);
	struct mkcert_window w, issuer = {NOW - 10 * DAY, NOW + 100 * DAY};
	char err[MKCERT_ERR_MAX];

	(void)state;
	assert_int_equal(mkcert_validity_compute(&o, NOW, NULL, NULL, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_before, NOW - DAY);
	assert_int_equal(w.not_after, NOW + 3650 * DAY);

	o = kind_opts(MKCERT_KIND_TLS_SERVER);
	assert_int_equal(mkcert_validity_compute(&o, NOW, NULL, NULL, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_before, NOW - DAY);
	assert_int_equal(w.not_after, NOW + 365 * DAY);
	/* the issuer ends after 100 days: so does the leaf */
	assert_int_equal(mkcert_validity_compute(&o, NOW, &issuer, NULL, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_before, NOW - DAY);
	assert_int_equal(w.not_after, NOW + 100 * DAY);

	/* an issuer that starts now moves notBefore up */
	o = kind_opts(MKCERT_KIND_INTERMEDIATE);
	issuer.not_before = NOW;
	issuer.not_after = NOW + 5000 * DAY;
	assert_int_equal(mkcert_validity_compute(&o, NOW, &issuer, NULL, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_before, NOW);
	assert_int_equal(w.not_after, NOW + 3650 * DAY);
}

static void test_validity_options(void **state)
{
	struct mkcert_opts o = kind_opts(MKCERT_KIND_TLS_CLIENT);
	struct mkcert_window w, issuer = {NOW - 1000 * DAY, NOW + 1000 * DAY};
	char err[MKCERT_ERR_MAX];

	(void)state;
	o.has_days = true;
	o.days = 7;
	assert_int_equal(mkcert_validity_compute(&o, NOW, &issuer, NULL, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_before, NOW - DAY);
	assert_int_equal(w.not_after, NOW + 7 * DAY);

	/* an already expired certificate, for testing clients */
	o = kind_opts(MKCERT_KIND_TLS_SERVER);
	assert_int_equal(mkcert_time_parse("-10d", &o.not_before), 0);
	assert_int_equal(mkcert_time_parse("-1d", &o.not_after), 0);
	assert_int_equal(mkcert_validity_compute(&o, NOW, &issuer, NULL, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_before, NOW - 10 * DAY);
	assert_int_equal(w.not_after, NOW - DAY);

	/* absolute times, clamped into the issuer */
	assert_int_equal(mkcert_time_parse("2000-01-01", &o.not_before), 0);
	assert_int_equal(mkcert_time_parse("2100-01-01", &o.not_after), 0);
	assert_int_equal(mkcert_validity_compute(&o, NOW, &issuer, NULL, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_before, issuer.not_before);
	assert_int_equal(w.not_after, issuer.not_after);
	assert_int_equal(mkcert_validity_compute(&o, NOW, NULL, NULL, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_before, 946684800);
	assert_int_equal(w.not_after, 4102444800LL);

	/* empty windows are refused with both times in the message */
	assert_int_equal(mkcert_time_parse("+2d", &o.not_before), 0);
	assert_int_equal(mkcert_time_parse("+1d", &o.not_after), 0);
	assert_int_equal(mkcert_validity_compute(&o, NOW, NULL, NULL, &w, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "empty validity window"));
	assert_non_null(strstr(err, "2023-11-16 22:13:20 UTC"));
	o = kind_opts(MKCERT_KIND_TLS_SERVER);
	assert_int_equal(mkcert_time_parse("2030-01-01", &o.not_before), 0);
	assert_int_equal(mkcert_validity_compute(&o, NOW, &issuer, NULL, &w, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "clamping to the issuer"));
}

static void test_validity_mimic(void **state)
{
	struct mkcert_opts o = kind_opts(MKCERT_KIND_MIMIC);
	struct mkcert_window w, up = {NOW - 50 * DAY, NOW + 40 * DAY};
	struct mkcert_window issuer = {NOW - 10 * DAY, NOW + 1000 * DAY};
	char err[MKCERT_ERR_MAX];

	(void)state;
	assert_int_equal(mkcert_validity_compute(&o, NOW, NULL, &up, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_before, up.not_before);
	assert_int_equal(w.not_after, up.not_after);
	/* clamped into the CA's window */
	assert_int_equal(mkcert_validity_compute(&o, NOW, &issuer, &up, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_before, NOW - 10 * DAY);
	assert_int_equal(w.not_after, NOW + 40 * DAY);
	issuer.not_after = NOW + 20 * DAY;
	assert_int_equal(mkcert_validity_compute(&o, NOW, &issuer, &up, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_after, NOW + 20 * DAY);
	/* explicit options still win over the mimicked window */
	o.has_days = true;
	o.days = 2;
	assert_int_equal(mkcert_validity_compute(&o, NOW, &issuer, &up, &w, err, sizeof(err)), 0);
	assert_int_equal(w.not_after, NOW + 2 * DAY);
}

static void test_kind_helpers(void **state)
{
	(void)state;
	assert_true(mkcert_kind_is_ca(MKCERT_KIND_ROOT));
	assert_true(mkcert_kind_is_ca(MKCERT_KIND_INTERMEDIATE));
	assert_false(mkcert_kind_is_ca(MKCERT_KIND_TLS_SERVER));
	assert_false(mkcert_kind_is_ca(MKCERT_KIND_MIMIC));
	assert_true(mkcert_kind_is_client(MKCERT_KIND_TLCP_CLIENT_ENC));
	assert_false(mkcert_kind_is_client(MKCERT_KIND_TLS_SERVER));
	assert_string_equal(mkcert_kind_name(MKCERT_KIND_TLS_CLIENT), "tls-client");
	assert_string_equal(mkcert_kind_name(MKCERT_KIND_MIMIC), "mimic");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_minimal),
		cmocka_unit_test(test_server_full),
		cmocka_unit_test(test_rsa_bits),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_client_with_cn_only),
		cmocka_unit_test(test_kind_rules),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_host_classify),
		cmocka_unit_test(test_validity_defaults),
		cmocka_unit_test(test_validity_options),
		cmocka_unit_test(test_validity_mimic),
		cmocka_unit_test(test_kind_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
