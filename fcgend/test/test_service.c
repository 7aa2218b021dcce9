/* service.h through rpc_dispatch_buffer, as the RPC server runs it: the
 * reply of a good Forge, the cache (hits, TTL countdown and expiry, the
 * size bound, what is part of the key), the CA chain, reload, and every bad
 * request answered with its exact status and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "fcgend/test/fcgen_fixture.h"

struct clock_state {
	uint64_t mono_ms;
	time_t wall;
};

static uint64_t fake_mono(void *arg)
{
	return ((struct clock_state *)arg)->mono_ms;
}

static time_t fake_wall(void *arg)
{
	return ((struct clock_state *)arg)->wall;
}

struct env {
	EVP_PKEY *ca_key;
	X509 *ca;
	struct forge_ca *fca;
	struct keypool *pool;
	struct fcgen_service *svc;
	struct clock_state clk;
};

static struct env E;

static struct fcgen_service *new_service(const struct forge_ca *fca, size_t cache_size)
{
	struct fcgen_service *s = fcgen_service_new(fca, E.pool, cache_size, 3600 * 1000, NULL);
	struct fcgen_clock c = {fake_mono, fake_wall, &E.clk};

	fcgen_service_set_clock(s, &c);
	return s;
}

static int setup(void **state)
{
	uint32_t target[FCGEN_KEY__COUNT] = {0};
	char err[128];
	int rc;

	(void)state;
	E.ca_key = fx_key("ec256");
	E.ca = fx_ca(E.ca_key, "Service Test CA", -10, 3650, true);
	E.fca = fx_forge_ca(E.ca, E.ca_key, false, false, 7200);
	E.pool = keypool_new(target, 0, 0, &rc, err, sizeof(err));
	E.clk.mono_ms = 1000000;
	E.clk.wall = time(NULL);
	return E.pool ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	keypool_free(E.pool);
	forge_ca_free(E.fca);
	X509_free(E.ca);
	EVP_PKEY_free(E.ca_key);
	return 0;
}

static int each_setup(void **state)
{
	(void)state;
	E.svc = new_service(E.fca, 8);
	return 0;
}

static int each_teardown(void **state)
{
	(void)state;
	fcgen_service_free(E.svc);
	E.svc = NULL;
	return 0;
}

static struct fx_reply forge_host(const char *host)
{
	G3c__Fcgen__ForgeReq f = G3C__FCGEN__FORGE_REQ__INIT;

	f.host = (char *)host;
	return fx_call(E.svc, &f);
}

static void test_forge_reply(void **state)
{
	G3c__Fcgen__ForgeReq f = G3C__FCGEN__FORGE_REQ__INIT;
	struct fx_reply r;
	struct fcgen_stats st;
	unsigned char *ca_der = NULL;
	int ca_len;
	X509 *leaf;
	EVP_PKEY *k;

	(void)state;
	f.host = (char *)"Mail.Example.com";
	f.service = G3C__FCGEN__SERVICE__SMTP;
	f.usage = G3C__FCGEN__USAGE__TLS_SERVER_TONGSUO;
	r = fx_call(E.svc, &f);
	assert_int_equal(r.code, RPC_OK);
	assert_string_equal(r.msg, "");
	/* Echoes as requested, byte for byte. */
	assert_string_equal(r.rep->forge->host, "Mail.Example.com");
	assert_int_equal(r.rep->forge->service, G3C__FCGEN__SERVICE__SMTP);
	assert_int_equal(r.rep->forge->usage, G3C__FCGEN__USAGE__TLS_SERVER_TONGSUO);
	assert_false(r.rep->forge->cached);
	assert_int_equal(r.rep->forge->ttl, 7200);
	/* Leaf, then the CA. */
	assert_int_equal(r.rep->forge->n_chain, 2);
	ca_len = i2d_X509(E.ca, &ca_der);
	assert_int_equal(r.rep->forge->chain[1].len, (size_t)ca_len);
	assert_memory_equal(r.rep->forge->chain[1].data, ca_der, (size_t)ca_len);
	OPENSSL_free(ca_der);
	leaf = fx_reply_leaf(&r);
	k = fx_reply_key(&r);
	assert_int_equal(X509_check_private_key(leaf, k), 1);
	assert_int_equal(fx_verify(E.ca, leaf, "mail.example.com"), X509_V_OK);
	EVP_PKEY_free(k);
	X509_free(leaf);
	fx_reply_free(&r);
	fcgen_service_get_stats(E.svc, &st);
	assert_int_equal(st.requests, 1);
	assert_int_equal(st.ok, 1);
	assert_int_equal(st.forged, 1);
	assert_int_equal(st.keys_inline, 1); /* this pool has no refill threads */
	assert_int_equal(st.timed, 1);
}

static void test_cache_hit_and_ttl(void **state)
{
	struct fx_reply a, b, c;
	struct fcgen_stats st;

	(void)state;
	a = forge_host("cache.example.com");
	E.clk.mono_ms += 100 * 1000;	      /* 100 s later */
	b = forge_host("CACHE.example.com."); /* the same name, normalised */
	assert_int_equal(b.code, RPC_OK);
	assert_true(b.rep->forge->cached);
	assert_string_equal(b.rep->forge->host, "CACHE.example.com.");
	assert_int_equal(b.rep->forge->chain[0].len, a.rep->forge->chain[0].len);
	assert_memory_equal(b.rep->forge->chain[0].data, a.rep->forge->chain[0].data,
			    a.rep->forge->chain[0].len);
	assert_memory_equal(b.rep->forge->key.data, a.rep->forge->key.data, a.rep->forge->key.len);
	assert_int_equal(b.rep->forge->n_chain, 2);
	/* The TTL counts down from 7200. */
	assert_int_equal(b.rep->forge->ttl, 7100);
	/* Past the TTL the entry is gone and a new certificate is made. */
	E.clk.mono_ms += 7100 * 1000;
	c = forge_host("cache.example.com");
	assert_false(c.rep->forge->cached);
	assert_int_equal(c.rep->forge->ttl, 7200);
	assert_false(c.rep->forge->chain[0].len == a.rep->forge->chain[0].len &&
		     memcmp(c.rep->forge->chain[0].data, a.rep->forge->chain[0].data,
			    a.rep->forge->chain[0].len) == 0);
	fcgen_service_get_stats(E.svc, &st);
	assert_int_equal(st.cache_hits, 1);
	assert_int_equal(st.forged, 2);
	fx_reply_free(&a);
	fx_reply_free(&b);
	fx_reply_free(&c);
}

static void test_cache_ttl_bound(void **state)
{
	struct fcgen_service *s = fcgen_service_new(E.fca, E.pool, 8, 60 * 1000, NULL);
	struct fcgen_clock clk = {fake_mono, fake_wall, &E.clk};
	G3c__Fcgen__ForgeReq f = G3C__FCGEN__FORGE_REQ__INIT;
	struct fx_reply a, b;

	(void)state;
	fcgen_service_set_clock(s, &clk);
	f.host = (char *)"short.example.com";
	a = fx_call(s, &f);
	E.clk.mono_ms += 59 * 1000;
	b = fx_call(s, &f);
	assert_true(b.rep->forge->cached);
	assert_int_equal(b.rep->forge->ttl, 7200 - 59);
	fx_reply_free(&b);
	/* cache_ttl (60 s) ends the entry long before its 7200 s TTL. */
	E.clk.mono_ms += 1000;
	b = fx_call(s, &f);
	assert_false(b.rep->forge->cached);
	fx_reply_free(&a);
	fx_reply_free(&b);
	fcgen_service_free(s);
}

static void test_cache_key_parts(void **state)
{
	static const struct fx_leaf spec1 = {
		.key = "ec256", .subject = "/CN=k.example", .san = "DNS:k.example", .na_days = 30};
	G3c__Fcgen__ForgeReq f = G3C__FCGEN__FORGE_REQ__INIT;
	struct fx_reply r;
	X509 *up1 = fx_leaf(&spec1, NULL), *up2 = fx_leaf(&spec1, NULL);
	uint8_t *d1, *d2;
	size_t n1 = fx_der(up1, &d1), n2 = fx_der(up2, &d2);
	struct fcgen_stats st;

	(void)state;
	f.host = (char *)"k.example";
	r = fx_call(E.svc, &f);
	fx_reply_free(&r);
	/* Another usage, the wildcard flag, an upstream: each its own entry. */
	f.usage = G3C__FCGEN__USAGE__TLCP_SERVER_SIGNATURE;
	r = fx_call(E.svc, &f);
	assert_false(r.rep->forge->cached);
	fx_reply_free(&r);
	f.usage = G3C__FCGEN__USAGE__TLS_SERVER;
	f.upstream.data = d1;
	f.upstream.len = n1;
	r = fx_call(E.svc, &f);
	assert_false(r.rep->forge->cached);
	fx_reply_free(&r);
	r = fx_call(E.svc, &f);
	assert_true(r.rep->forge->cached);
	fx_reply_free(&r);
	f.upstream.data = d2;
	f.upstream.len = n2;
	r = fx_call(E.svc, &f);
	assert_false(r.rep->forge->cached);
	fx_reply_free(&r);
	/* The service is only echoed: same certificate for smtp. */
	f.service = G3C__FCGEN__SERVICE__SMTP;
	r = fx_call(E.svc, &f);
	assert_true(r.rep->forge->cached);
	assert_int_equal(r.rep->forge->service, G3C__FCGEN__SERVICE__SMTP);
	fx_reply_free(&r);
	f.upstream.len = 0;
	f.upstream.data = NULL;
	f.service = G3C__FCGEN__SERVICE__HTTP;
	f.host = (char *)"w.k.example";
	f.wildcard = true;
	r = fx_call(E.svc, &f);
	assert_false(r.rep->forge->cached);
	fx_reply_free(&r);
	f.wildcard = false;
	r = fx_call(E.svc, &f);
	assert_false(r.rep->forge->cached);
	fx_reply_free(&r);
	fcgen_service_get_stats(E.svc, &st);
	assert_int_equal(st.forged, 6);
	assert_int_equal(st.cache_hits, 2);
	OPENSSL_free(d1);
	OPENSSL_free(d2);
	X509_free(up1);
	X509_free(up2);
}

static void test_cache_bound(void **state)
{
	struct fcgen_service *s = new_service(E.fca, 2);
	G3c__Fcgen__ForgeReq f = G3C__FCGEN__FORGE_REQ__INIT;
	const char *hosts[] = {"a.example", "b.example", "c.example", "a.example"};
	const bool cached[] = {false, false, false, false};
	struct cert_cache_stats cs;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(hosts); i++) {
		f.host = (char *)hosts[i];
		struct fx_reply r = fx_call(s, &f);
		assert_int_equal(r.rep->forge->cached, cached[i]);
		fx_reply_free(&r);
	}
	fcgen_service_cache_stats(s, &cs);
	assert_int_equal(cs.entries, 2);
	assert_int_equal(cs.evicted, 2);
	fcgen_service_free(s);

	/* cache_size 0: nothing is kept. */
	s = new_service(E.fca, 0);
	f.host = (char *)"none.example";
	for (int i = 0; i < 2; i++) {
		struct fx_reply r = fx_call(s, &f);
		assert_false(r.rep->forge->cached);
		fx_reply_free(&r);
	}
	fcgen_service_free(s);
}

static void test_chain_and_reload(void **state)
{
	struct forge_ca *alone = fx_forge_ca(E.ca, E.ca_key, true, false, 600);
	EVP_PKEY *k2 = fx_key("ec256");
	X509 *ca2 = fx_ca(k2, "Second CA", -1, 100, true);
	struct forge_ca *fca2 = fx_forge_ca(ca2, k2, false, false, 86400);
	struct fx_reply r;
	X509 *leaf;

	(void)state;
	r = forge_host("chain.example");
	fx_reply_free(&r);
	/* Same CA, other settings: the cache survives. */
	fcgen_service_update(E.svc, E.fca, 8, 3600 * 1000, NULL);
	r = forge_host("chain.example");
	assert_true(r.rep->forge->cached);
	fx_reply_free(&r);
	/* The same CA loaded again (a reload): the cache survives, and the
	 * reply takes the new chain setting (no_append_ca_cert). */
	fcgen_service_update(E.svc, alone, 8, 3600 * 1000, NULL);
	r = forge_host("chain.example");
	assert_true(r.rep->forge->cached);
	assert_int_equal(r.rep->forge->n_chain, 1);
	fx_reply_free(&r);
	/* Another CA empties the cache. */
	fcgen_service_update(E.svc, fca2, 8, 3600 * 1000, NULL);
	r = forge_host("chain.example");
	assert_false(r.rep->forge->cached);
	leaf = fx_reply_leaf(&r);
	assert_int_equal(fx_verify(ca2, leaf, "chain.example"), X509_V_OK);
	X509_free(leaf);
	fx_reply_free(&r);
	fcgen_service_update(E.svc, alone, 8, 3600 * 1000, NULL);
	r = forge_host("chain.example");
	assert_false(r.rep->forge->cached); /* made by Second CA: dropped */
	fx_reply_free(&r);
	r = forge_host("alone.example");
	assert_int_equal(r.rep->forge->n_chain, 1);
	assert_int_equal(r.rep->forge->ttl, 600);
	fx_reply_free(&r);
	fcgen_service_update(E.svc, E.fca, 8, 3600 * 1000, NULL);
	forge_ca_free(alone);
	forge_ca_free(fca2);
	X509_free(ca2);
	EVP_PKEY_free(k2);
}

static void expect_error(G3c__Fcgen__ForgeReq *f, enum rpc_code code, const char *msg)
{
	struct fx_reply r = fx_call(E.svc, f);

	assert_int_equal(r.code, code);
	assert_string_equal(r.msg, msg);
	assert_int_equal(r.rep->body_case, G3C__FCGEN__REPLY__BODY__NOT_SET);
	fx_reply_free(&r);
}

static void test_bad_requests(void **state)
{
	G3c__Fcgen__ForgeReq f = G3C__FCGEN__FORGE_REQ__INIT;
	static const struct fx_leaf old = {
		.key = "ec256", .subject = "/CN=old.example", .nb_days = -90, .na_days = -2};
	X509 *up = fx_leaf(&old, NULL);
	uint8_t *der, *big = calloc(1, 70000), junk[] = {0x30, 0x82, 0x01};
	size_t n = fx_der(up, &der);
	char host[400], want[160], t[32];
	struct fcgen_stats st;

	(void)state;
	f.host = (char *)"";
	expect_error(&f, RPC_INVALID_ARGUMENT, "empty host");
	f.host = NULL;
	expect_error(&f, RPC_INVALID_ARGUMENT, "empty host");
	memset(host, 'a', 300);
	host[300] = '\0';
	f.host = host;
	expect_error(&f, RPC_INVALID_ARGUMENT, "host too long (300 bytes, at most 253)");
	f.host = (char *)"bad host";
	expect_error(&f, RPC_INVALID_ARGUMENT,
		     "invalid character 0x20 at offset 3 (DNS names use letters, digits, '-', "
		     "'_' and A-labels for IDNs)");
	f.host = (char *)"ok.example";
	f.usage = 5;
	expect_error(&f, RPC_INVALID_ARGUMENT, "unknown usage 5");
	f.usage = 0;
	f.service = 9;
	expect_error(&f, RPC_INVALID_ARGUMENT, "unknown service 9");
	f.service = 0;
	f.upstream.data = junk;
	f.upstream.len = sizeof(junk);
	expect_error(&f, RPC_INVALID_ARGUMENT,
		     "invalid upstream certificate: not DER X.509 (header too long)");
	f.upstream.data = big;
	f.upstream.len = 70000;
	expect_error(&f, RPC_INVALID_ARGUMENT,
		     "upstream certificate too large (70000 bytes, at most 65536)");
	f.upstream.data = der;
	f.upstream.len = n;
	f.wildcard = true;
	f.host = (char *)"w.ok.example";
	expect_error(&f, RPC_INVALID_ARGUMENT,
		     "wildcard applies only without an upstream certificate");
	f.wildcard = false;
	forge_fmt_time(fx_time(X509_get0_notAfter(up)), t, sizeof(t));
	snprintf(want, sizeof(want), "the upstream certificate expired at %s", t);
	expect_error(&f, RPC_FAILED_PRECONDITION, want);
	f.upstream.data = NULL;
	f.upstream.len = 0;
	f.host = (char *)"10.1.2.3";
	f.wildcard = true;
	expect_error(&f, RPC_INVALID_ARGUMENT, "a wildcard needs a DNS name, not an IP address");

	/* A request without a body, and one from a newer proto. */
	struct fx_reply r = fx_call(E.svc, NULL);
	assert_int_equal(r.code, RPC_INVALID_ARGUMENT);
	assert_string_equal(r.msg, "empty request: no forge body");
	fx_reply_free(&r);
	uint8_t future[] = {0x08, 0x07, 0x52, 0x00}; /* id 7, field 10 (empty message) */
	uint8_t *out = NULL;
	size_t outlen = 0;
	assert_int_equal(rpc_dispatch_buffer(&fcgen_rpc_service, fcgen_handle, E.svc, future,
					     sizeof(future), &out, &outlen),
			 0);
	G3c__Fcgen__Reply *rep = g3c__fcgen__reply__unpack(NULL, outlen, out);
	assert_non_null(rep);
	assert_int_equal(rep->id, 7);
	assert_int_equal(rep->status->code, RPC_UNIMPLEMENTED);
	assert_string_equal(rep->status->message, "fcgend does not know this request (field 10)");
	g3c__fcgen__reply__free_unpacked(rep, NULL);
	free(out);
	/* Undecodable: MALFORMED with the id that could be read. */
	uint8_t broken[] = {0x08, 0x05, 0x1a, 0x09, 0x0a, 0x50};
	out = NULL;
	assert_int_equal(rpc_dispatch_buffer(&fcgen_rpc_service, fcgen_handle, E.svc, broken,
					     sizeof(broken), &out, &outlen),
			 0);
	rep = g3c__fcgen__reply__unpack(NULL, outlen, out);
	assert_non_null(rep);
	assert_int_equal(rep->id, 5);
	assert_int_equal(rep->status->code, RPC_MALFORMED);
	g3c__fcgen__reply__free_unpacked(rep, NULL);
	free(out);

	fcgen_service_get_stats(E.svc, &st);
	assert_int_equal(st.requests, 13);
	assert_int_equal(st.errors, 13);
	assert_int_equal(st.invalid, 11);
	assert_int_equal(st.ok, 0);
	assert_int_equal(st.forged, 0);
	free(big);
	OPENSSL_free(der);
	X509_free(up);
}

static void test_mimic_through_rpc(void **state)
{
	static const struct fx_leaf spec = {
		.key = "rsa2048",
		.subject = "/O=Mimic Inc/CN=m.example",
		.san = "DNS:m.example,DNS:*.m.example,IP:203.0.113.5",
		.ku = "critical,digitalSignature,keyEncipherment",
		.eku = "serverAuth",
		.nb_days = -2,
		.na_secs = 3600,
	};
	G3c__Fcgen__ForgeReq f = G3C__FCGEN__FORGE_REQ__INIT;
	X509 *up = fx_leaf(&spec, NULL), *leaf;
	uint8_t *der;
	size_t n = fx_der(up, &der);
	struct fx_reply r;
	char a[256], b[256];
	EVP_PKEY *k;

	(void)state;
	E.clk.wall = time(NULL);
	f.host = (char *)"m.example";
	f.upstream.data = der;
	f.upstream.len = n;
	r = fx_call(E.svc, &f);
	leaf = fx_reply_leaf(&r);
	k = fx_reply_key(&r);
	assert_int_equal(EVP_PKEY_get_base_id(k), EVP_PKEY_RSA);
	assert_int_equal(X509_check_private_key(leaf, k), 1);
	fx_sans(leaf, a, sizeof(a), NULL);
	fx_sans(up, b, sizeof(b), NULL);
	assert_string_equal(a, b);
	/* The upstream ends in an hour, before max_ttl (2h): the TTL follows it. */
	if (!(r.rep->forge->ttl <= 3600 && r.rep->forge->ttl > 3600 - 60))
		fail_msg("ttl %u", r.rep->forge->ttl);
	assert_int_equal(fx_verify(E.ca, leaf, "x.m.example"), X509_V_OK);
	EVP_PKEY_free(k);
	X509_free(leaf);
	fx_reply_free(&r);
	OPENSSL_free(der);
	X509_free(up);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forge_reply, each_setup, each_teardown),
		cmocka_unit_test_setup_teardown(test_cache_hit_and_ttl, each_setup, each_teardown),
		cmocka_unit_test_setup_teardown(test_cache_ttl_bound, each_setup, each_teardown),
		cmocka_unit_test_setup_teardown(test_cache_key_parts, each_setup, each_teardown),
		cmocka_unit_test_setup_teardown(test_cache_bound, each_setup, each_teardown),
		cmocka_unit_test_setup_teardown(test_chain_and_reload, each_setup, each_teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, each_setup, each_teardown),
		cmocka_unit_test_setup_teardown(test_mimic_through_rpc, each_setup, each_teardown),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
