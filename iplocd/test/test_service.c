/* The iploc handler through rpc_dispatch_buffer, on databases built at test
 * time with deploy/mmdb/build-demo-db.pl: IPv4, IPv6, IPv4-mapped, unknown
 * and invalid addresses, batches, answers merged across database kinds,
 * and the network prefix each answer holds for. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>

#include "iplocd/test/iplocd_fixture.h"

static struct iploc_service svc;

/* country + asn + isp, as three files the way MaxMind ships them. */
static int setup_split(void **state)
{
	if (fx_setup_dir(state) != 0)
		return -1;
	iploc_service_init(&svc);
	if (!fx_have_writer())
		return 0;
	struct iploc_db *c = fx_open_db("country.mmdb", "--kind country");
	struct iploc_db *a = fx_open_db("asn.mmdb", "--kind asn");
	struct iploc_db *i = fx_open_db("isp.mmdb", "--kind isp");
	iploc_service_set_db(&svc, IPLOC_DB_COUNTRY, c);
	iploc_service_set_db(&svc, IPLOC_DB_ASN, a);
	iploc_service_set_db(&svc, IPLOC_DB_ISP, i);
	iploc_db_unref(c);
	iploc_db_unref(a);
	iploc_db_unref(i);
	return 0;
}

static int teardown(void **state)
{
	iploc_service_fini(&svc);
	return fx_teardown_dir(state);
}

#define NEED_DB()                      \
	do {                           \
		if (!fx_have_writer()) \
			skip();        \
	} while (0)

static void expect_loc(const char *ip, const char *network, const char *cc, const char *cont,
		       uint32_t asn, const char *isp, const char *domain, bool found)
{
	G3c__Iploc__Reply *rep;
	const G3c__Iploc__Location *l = fx_lookup1(&svc, ip, &rep);

	assert_string_equal(l->ip, ip);
	assert_string_equal(l->network, network);
	assert_string_equal(l->country, cc);
	assert_string_equal(l->continent, cont);
	assert_int_equal(l->asn, asn);
	assert_string_equal(l->isp_name, isp);
	assert_string_equal(l->isp_domain, domain);
	assert_int_equal(l->found, found);
	assert_int_equal(l->ttl, found ? svc.ttl : svc.miss_ttl);
	g3c__iploc__reply__free_unpacked(rep, NULL);
}

static void test_v4_merged(void **state)
{
	(void)state;
	NEED_DB();
	/* The country's /16 is more specific than the AS's /9. */
	expect_loc("10.1.2.3", "10.1.0.0/16", "CA", "NA", 64512, "Demo Private One", "one.example",
		   true);
	/* The AS's /9 is more specific than the country's /8. */
	expect_loc("10.200.0.1", "10.128.0.0/9", "US", "NA", 64513, "Demo Private Two",
		   "two.example", true);
	/* Inserting 10.1.0.0/16 split 10.0.0.0/8: 10.2.0.0/15 is one piece. */
	expect_loc("10.2.0.1", "10.2.0.0/15", "US", "NA", 64512, "Demo Private One", "one.example",
		   true);
	/* No AS covers 192.0.2.128/25: the empty AS answer narrows the network. */
	expect_loc("192.0.2.200", "192.0.2.128/25", "AU", "OC", 0, "", "", true);
	expect_loc("192.0.2.1", "192.0.2.0/25", "AU", "OC", 64497, "Demo Doc One", "doc1.example",
		   true);
	expect_loc("203.0.113.200", "203.0.113.128/25", "NZ", "OC", 64499, "Demo Doc Three",
		   "doc3.example", true);
	expect_loc("127.0.0.1", "127.0.0.0/8", "GB", "EU", 64496, "Demo Loopback",
		   "loopback.example", true);
}

static void test_v6(void **state)
{
	(void)state;
	NEED_DB();
	expect_loc("2001:db8:1::1", "2001:db8:1::/48", "KR", "AS", 64500, "Demo Doc6",
		   "doc6.example", true);
	expect_loc("2001:db8:8000::1", "2001:db8:8000::/33", "JP", "AS", 0, "", "", true);
	expect_loc("::1", "::1/128", "GB", "EU", 64496, "Demo Loopback", "loopback.example", true);
	expect_loc("fd12:3456::1", "fd00::/8", "FR", "EU", 64516, "Demo ULA Net", "ula.example",
		   true);
}

static void test_v4_mapped(void **state)
{
	G3c__Iploc__Reply *rep;
	const G3c__Iploc__Location *l;

	(void)state;
	NEED_DB();
	l = fx_lookup1(&svc, "::ffff:10.1.2.3", &rep);
	/* Answered as the IPv4 address it maps, asked-for text echoed. */
	assert_string_equal(l->ip, "::ffff:10.1.2.3");
	assert_string_equal(l->network, "10.1.0.0/16");
	assert_int_equal(l->network_addr.len, 4);
	assert_memory_equal(l->network_addr.data, "\x0a\x01\x00\x00", 4);
	assert_int_equal(l->network_prefix, 16);
	assert_string_equal(l->country, "CA");
	g3c__iploc__reply__free_unpacked(rep, NULL);
}

static void test_unknown(void **state)
{
	G3c__Iploc__Reply *rep;
	const G3c__Iploc__Location *l;

	(void)state;
	NEED_DB();
	/* 8.0.0.0/7 is the largest empty block around 8.8.8.8 (10/8 is next). */
	expect_loc("8.8.8.8", "8.0.0.0/7", "", "", 0, "", "", false);
	expect_loc("2001:db9::1", "2001:db9::/32", "", "", 0, "", "", false);
	l = fx_lookup1(&svc, "100.64.0.1", &rep);
	assert_false(l->found);
	assert_int_equal(l->ttl, IPLOC_DEFAULT_MISS_TTL);
	assert_true(l->network_prefix < 32);
	g3c__iploc__reply__free_unpacked(rep, NULL);
}

static void expect_invalid(const char *const *ips, size_t n, enum rpc_code code,
			   const char *msg_part)
{
	G3c__Iploc__Reply *rep = fx_lookup(&svc, ips, n);

	assert_int_equal(rep->status->code, code);
	if (!strstr(rep->status->message, msg_part))
		fail_msg("'%s' does not mention '%s'", rep->status->message, msg_part);
	assert_int_equal(rep->body_case, G3C__IPLOC__REPLY__BODY__NOT_SET);
	g3c__iploc__reply__free_unpacked(rep, NULL);
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {"1.2.3",
					  "",
					  "foo",
					  "1.2.3.4/24",
					  "fe80::1%eth0",
					  " 1.2.3.4",
					  "::ffff:1.2.3.4.5",
					  "1.2.3.256",
					  "example.com"};
	const char *batch[] = {"10.1.2.3", "::1", "10.0.0.300", "8.8.8.8"};
	char longip[300];
	const char *lp = longip;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		expect_invalid(&bad[i], 1, RPC_INVALID_ARGUMENT, "ips[0]");
	expect_invalid(&bad[0], 1, RPC_INVALID_ARGUMENT, "'1.2.3' is not an IP address");
	/* One bad address fails the request and is named by index. */
	expect_invalid(batch, ARRAY_SIZE(batch), RPC_INVALID_ARGUMENT, "ips[2]: '10.0.0.300'");
	memset(longip, '1', sizeof(longip) - 1);
	longip[sizeof(longip) - 1] = '\0';
	expect_invalid(&lp, 1, RPC_INVALID_ARGUMENT, "is not an IP address");
	expect_invalid(NULL, 0, RPC_INVALID_ARGUMENT, "no address");
}

static void test_batch_limits(void **state)
{
	const char **ips = calloc(IPLOC_MAX_BATCH + 1, sizeof(*ips));
	G3c__Iploc__Reply *rep;

	(void)state;
	for (size_t i = 0; i <= IPLOC_MAX_BATCH; i++)
		ips[i] = "192.0.2.1";
	expect_invalid(ips, IPLOC_MAX_BATCH + 1, RPC_INVALID_ARGUMENT, "at most 1024");
	rep = fx_lookup(&svc, ips, IPLOC_MAX_BATCH);
	assert_int_equal(rep->status->code, RPC_OK);
	assert_int_equal(rep->lookup->n_answers, IPLOC_MAX_BATCH);
	g3c__iploc__reply__free_unpacked(rep, NULL);
	free(ips);
}

static void test_batch_matches_single(void **state)
{
	static const char *const ips[] = {"10.1.2.3", "2001:db8:1::1", "::ffff:192.0.2.9",
					  "8.8.8.8",  "10.1.2.3",      "203.0.113.5"};
	G3c__Iploc__Reply *rep;

	(void)state;
	NEED_DB();
	rep = fx_lookup(&svc, ips, ARRAY_SIZE(ips));
	assert_int_equal(rep->status->code, RPC_OK);
	assert_int_equal(rep->lookup->n_answers, ARRAY_SIZE(ips));
	for (size_t i = 0; i < ARRAY_SIZE(ips); i++) {
		G3c__Iploc__Reply *one;
		const G3c__Iploc__Location *a = rep->lookup->answers[i];
		const G3c__Iploc__Location *b = fx_lookup1(&svc, ips[i], &one);
		/* In request order, each as if asked alone. */
		assert_string_equal(a->ip, ips[i]);
		assert_string_equal(a->network, b->network);
		assert_string_equal(a->country, b->country);
		assert_int_equal(a->asn, b->asn);
		assert_string_equal(a->isp_name, b->isp_name);
		assert_int_equal(a->found, b->found);
		g3c__iploc__reply__free_unpacked(one, NULL);
	}
	g3c__iploc__reply__free_unpacked(rep, NULL);
}

/* LookupReq.addrs: binary addresses, answered after `ips` in order, the
 * same as text apart from the text fields; bad lengths and the shared
 * batch limit refused. */
static G3c__Iploc__Reply *lookup_mixed(const char *const *ips, size_t nips,
				       const ProtobufCBinaryData *addrs, size_t naddrs)
{
	G3c__Iploc__Request req = G3C__IPLOC__REQUEST__INIT;
	G3c__Iploc__LookupReq lk = G3C__IPLOC__LOOKUP_REQ__INIT;
	G3c__Iploc__Reply *rep;
	uint8_t *buf, *out = NULL;
	size_t len, outlen = 0;

	lk.ips = (char **)ips;
	lk.n_ips = nips;
	lk.addrs = (ProtobufCBinaryData *)addrs;
	lk.n_addrs = naddrs;
	req.id = 7;
	req.body_case = G3C__IPLOC__REQUEST__BODY_LOOKUP;
	req.lookup = &lk;
	len = g3c__iploc__request__get_packed_size(&req);
	buf = malloc(len);
	assert_non_null(buf);
	g3c__iploc__request__pack(&req, buf);
	assert_int_equal(rpc_dispatch_buffer(&iploc_rpc_service, iploc_handle, &svc, buf, len, &out,
					     &outlen),
			 0);
	free(buf);
	rep = g3c__iploc__reply__unpack(NULL, outlen, out);
	free(out);
	assert_non_null(rep);
	return rep;
}

static void test_binary_addrs(void **state)
{
	static const char *const text[] = {"10.1.2.3", "2001:db8:1::1", "::ffff:192.0.2.9",
					   "8.8.8.8"};
	uint8_t raw[4][16];
	ProtobufCBinaryData bin[4];
	const char *first = "203.0.113.5";
	G3c__Iploc__Reply *rep;

	(void)state;
	NEED_DB();
	for (size_t i = 0; i < ARRAY_SIZE(text); i++) {
		bin[i].data = raw[i];
		bin[i].len = inet_pton(AF_INET, text[i], raw[i]) == 1 ? 4 : 16;
		if (bin[i].len == 16)
			assert_int_equal(inet_pton(AF_INET6, text[i], raw[i]), 1);
	}
	rep = lookup_mixed(&first, 1, bin, ARRAY_SIZE(bin));
	assert_int_equal(rep->status->code, RPC_OK);
	assert_int_equal(rep->lookup->n_answers, 1 + ARRAY_SIZE(bin));
	assert_string_equal(rep->lookup->answers[0]->ip, first);
	for (size_t i = 0; i < ARRAY_SIZE(text); i++) {
		G3c__Iploc__Reply *one;
		const G3c__Iploc__Location *a = rep->lookup->answers[1 + i];
		const G3c__Iploc__Location *b = fx_lookup1(&svc, text[i], &one);
		assert_string_equal(a->ip, "");
		assert_string_equal(a->network, "");
		assert_int_equal(a->network_addr.len, b->network_addr.len);
		assert_memory_equal(a->network_addr.data, b->network_addr.data,
				    a->network_addr.len);
		assert_int_equal(a->network_prefix, b->network_prefix);
		assert_string_equal(a->country, b->country);
		assert_string_equal(a->continent, b->continent);
		assert_int_equal(a->asn, b->asn);
		assert_string_equal(a->isp_name, b->isp_name);
		assert_int_equal(a->found, b->found);
		assert_int_equal(a->ttl, b->ttl);
		g3c__iploc__reply__free_unpacked(one, NULL);
	}
	/* the mapped address is answered as IPv4, as in text */
	assert_int_equal(rep->lookup->answers[3]->network_addr.len, 4);
	g3c__iploc__reply__free_unpacked(rep, NULL);

	bin[1].len = 5;
	rep = lookup_mixed(NULL, 0, bin, 2);
	assert_int_equal(rep->status->code, RPC_INVALID_ARGUMENT);
	assert_non_null(strstr(rep->status->message, "addrs[1]: 5 bytes"));
	g3c__iploc__reply__free_unpacked(rep, NULL);
	bin[1].len = 0;
	rep = lookup_mixed(NULL, 0, bin, 2);
	assert_int_equal(rep->status->code, RPC_INVALID_ARGUMENT);
	g3c__iploc__reply__free_unpacked(rep, NULL);
}

static void test_binary_batch_limit(void **state)
{
	const char **ips = calloc(IPLOC_MAX_BATCH, sizeof(*ips));
	ProtobufCBinaryData one = {.len = 4, .data = (uint8_t[]){192, 0, 2, 1}};
	G3c__Iploc__Reply *rep;

	(void)state;
	for (size_t i = 0; i < IPLOC_MAX_BATCH; i++)
		ips[i] = "192.0.2.1";
	/* the limit counts both forms together */
	rep = lookup_mixed(ips, IPLOC_MAX_BATCH, &one, 1);
	assert_int_equal(rep->status->code, RPC_INVALID_ARGUMENT);
	assert_non_null(strstr(rep->status->message, "at most 1024"));
	g3c__iploc__reply__free_unpacked(rep, NULL);
	rep = lookup_mixed(ips, IPLOC_MAX_BATCH - 1, &one, 1);
	assert_int_equal(rep->status->code, RPC_OK);
	assert_int_equal(rep->lookup->n_answers, IPLOC_MAX_BATCH);
	g3c__iploc__reply__free_unpacked(rep, NULL);
	free(ips);
}

static void test_no_body_and_unknown_body(void **state)
{
	G3c__Iploc__Request req = G3C__IPLOC__REQUEST__INIT;
	uint8_t buf[64], *out = NULL;
	size_t len, outlen = 0;
	G3c__Iploc__Reply *rep;

	(void)state;
	req.id = 7;
	len = g3c__iploc__request__pack(&req, buf);
	assert_int_equal(rpc_dispatch_buffer(&iploc_rpc_service, iploc_handle, &svc, buf, len, &out,
					     &outlen),
			 0);
	rep = g3c__iploc__reply__unpack(NULL, outlen, out);
	assert_int_equal(rep->id, 7);
	assert_int_equal(rep->status->code, RPC_INVALID_ARGUMENT);
	g3c__iploc__reply__free_unpacked(rep, NULL);
	free(out);
	/* A oneof member from a newer client (field 9, a string). */
	buf[len++] = (9 << 3) | 2;
	buf[len++] = 1;
	buf[len++] = 'x';
	out = NULL;
	assert_int_equal(rpc_dispatch_buffer(&iploc_rpc_service, iploc_handle, &svc, buf, len, &out,
					     &outlen),
			 0);
	rep = g3c__iploc__reply__unpack(NULL, outlen, out);
	assert_int_equal(rep->status->code, RPC_UNIMPLEMENTED);
	g3c__iploc__reply__free_unpacked(rep, NULL);
	free(out);
}

/* Every address of an answer's network gets the same answer: first, last
 * and a few inside, for answers around every network the data names. */
static void check_network_consistent(const char *ip)
{
	G3c__Iploc__Reply *rep, *other;
	const G3c__Iploc__Location *l = fx_lookup1(&svc, ip, &rep), *o;
	uint8_t addr[16], probe[16];
	size_t len = l->network_addr.len;
	unsigned prefix = l->network_prefix;
	char text[64];

	assert_true(len == 4 || len == 16);
	memcpy(addr, l->network_addr.data, len);
	/* the asked address lies in the network */
	{
		struct sockaddr_storage ss;
		const uint8_t *a;
		assert_int_equal(iploc_parse_ip(ip, &ss), 0);
		a = ss.ss_family == AF_INET
			    ? (const uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr
			    : (const uint8_t *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
		for (unsigned b = 0; b < prefix; b++)
			assert_int_equal((a[b / 8] >> (7 - b % 8)) & 1,
					 (addr[b / 8] >> (7 - b % 8)) & 1);
	}
	for (int k = 0; k < 4; k++) {
		memcpy(probe, addr, len);
		for (unsigned b = prefix; b < len * 8; b++) {
			bool one = k == 1 || (k >= 2 && (rand() & 1));
			if (one)
				probe[b / 8] |= (uint8_t)(0x80u >> (b % 8));
		}
		inet_ntop(len == 4 ? AF_INET : AF_INET6, probe, text, sizeof(text));
		o = fx_lookup1(&svc, text, &other);
		if (strcmp(o->network, l->network) != 0)
			fail_msg("%s is in %s (from %s) but answers %s", text, l->network, ip,
				 o->network);
		assert_string_equal(o->country, l->country);
		assert_int_equal(o->asn, l->asn);
		assert_string_equal(o->isp_name, l->isp_name);
		assert_int_equal(o->found, l->found);
		g3c__iploc__reply__free_unpacked(other, NULL);
	}
	g3c__iploc__reply__free_unpacked(rep, NULL);
}

static void test_prefix_consistency(void **state)
{
	static const char *const edges[] = {
		"127.0.0.0",
		"127.255.255.255",
		"10.0.0.0",
		"10.127.255.255",
		"10.128.0.0",
		"10.255.255.255",
		"10.1.0.0",
		"10.1.255.255",
		"172.16.0.0",
		"172.31.255.255",
		"192.168.0.0",
		"192.168.255.255",
		"192.0.2.0",
		"192.0.2.127",
		"192.0.2.128",
		"192.0.2.255",
		"198.51.100.0",
		"203.0.113.127",
		"203.0.113.128",
		"9.255.255.255",
		"11.0.0.0",
		"0.0.0.0",
		"255.255.255.255",
		"::",
		"::2",
		"fd00::",
		"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"2001:db8::",
		"2001:db8:0:ffff::",
		"2001:db8:1::",
		"2001:db8:1:ffff::",
		"2001:db8:ffff::",
		"2001:db7:ffff::",
		"ffff::1",
	};

	(void)state;
	NEED_DB();
	srand(1);
	for (size_t i = 0; i < ARRAY_SIZE(edges); i++)
		check_network_consistent(edges[i]);
	for (int i = 0; i < 300; i++) {
		char ip[64];
		uint32_t v = (uint32_t)rand() * 2654435761u;
		/* bias towards the populated ranges */
		if (i % 3 == 0)
			v = (10u << 24) | (v & 0xffffffu);
		else if (i % 3 == 1)
			v = (192u << 24) | (v & 0xffffffu);
		snprintf(ip, sizeof(ip), "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255,
			 v & 255);
		check_network_consistent(ip);
	}
}

/* The same data written as IPv4-only trees with each record size answers
 * IPv4 the same; IPv6 addresses get an empty answer for all of IPv6. */
static void test_tree_layouts(void **state)
{
	static const char *const ips[] = {"10.1.2.3", "10.200.0.1", "192.0.2.200", "8.8.8.8",
					  "203.0.113.130"};
	static const char *const layouts[] = {
		"--ip-version 4 --record-size 24", "--ip-version 4 --record-size 28",
		"--ip-version 4 --record-size 32", "--ip-version 6 --record-size 32"};
	struct iploc_service ref;

	(void)state;
	NEED_DB();
	/* the reference: one "all" file, IPv6 24-bit */
	ref = svc;
	for (size_t n = 0; n < ARRAY_SIZE(layouts); n++) {
		struct iploc_service alt;
		char args[128], name[32];
		struct iploc_db *db;

		snprintf(args, sizeof(args), "--kind all %s", layouts[n]);
		snprintf(name, sizeof(name), "layout%zu.mmdb", n);
		db = fx_open_db(name, args);
		iploc_service_init(&alt);
		iploc_service_set_db(&alt, IPLOC_DB_COUNTRY, db);
		iploc_db_unref(db);
		for (size_t i = 0; i < ARRAY_SIZE(ips); i++) {
			G3c__Iploc__Reply *ra, *rb;
			const G3c__Iploc__Location *a = fx_lookup1(&alt, ips[i], &ra);
			const G3c__Iploc__Location *b = fx_lookup1(&ref, ips[i], &rb);
			assert_string_equal(a->country, b->country);
			assert_int_equal(a->asn, b->asn);
			assert_string_equal(a->isp_domain, b->isp_domain);
			assert_string_equal(a->network, b->network);
			g3c__iploc__reply__free_unpacked(ra, NULL);
			g3c__iploc__reply__free_unpacked(rb, NULL);
		}
		if (strstr(layouts[n], "--ip-version 4")) {
			G3c__Iploc__Reply *r;
			const G3c__Iploc__Location *l = fx_lookup1(&alt, "2001:db8:1::1", &r);
			assert_false(l->found);
			assert_string_equal(l->network, "::/0");
			g3c__iploc__reply__free_unpacked(r, NULL);
		}
		iploc_service_fini(&alt);
	}
}

static void test_ttl_and_stats(void **state)
{
	static const char *const two[] = {"10.1.2.3", "8.8.8.8"};
	static const char *const bad = "nope";
	struct iploc_stats before = svc.stats;
	G3c__Iploc__Reply *rep;

	(void)state;
	NEED_DB();
	svc.ttl = 1234;
	svc.miss_ttl = 5;
	rep = fx_lookup(&svc, two, 2);
	assert_int_equal(rep->lookup->answers[0]->ttl, 1234);
	assert_int_equal(rep->lookup->answers[1]->ttl, 5);
	g3c__iploc__reply__free_unpacked(rep, NULL);
	rep = fx_lookup(&svc, &bad, 1);
	g3c__iploc__reply__free_unpacked(rep, NULL);
	svc.ttl = IPLOC_DEFAULT_TTL;
	svc.miss_ttl = IPLOC_DEFAULT_MISS_TTL;
	assert_int_equal(svc.stats.requests - before.requests, 2);
	assert_int_equal(svc.stats.answers - before.answers, 2);
	assert_int_equal(svc.stats.found - before.found, 1);
	assert_int_equal(svc.stats.misses - before.misses, 1);
	assert_int_equal(svc.stats.invalid - before.invalid, 1);
	assert_true(svc.latency.count >= 2);
}

static void test_parse_ip(void **state)
{
	struct sockaddr_storage ss;

	(void)state;
	assert_int_equal(iploc_parse_ip("1.2.3.4", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(iploc_parse_ip("::ffff:1.2.3.4", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, htonl(0x01020304));
	/* IPv4-compatible (deprecated) stays IPv6 */
	assert_int_equal(iploc_parse_ip("::1.2.3.4", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(iploc_parse_ip("2001:db8::1", &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(iploc_parse_ip(NULL, &ss), -EINVAL);
	assert_int_equal(iploc_parse_ip("", &ss), -EINVAL);
	assert_int_equal(iploc_parse_ip("01.2.3.4", &ss), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ip),
		cmocka_unit_test(test_v4_merged),
		cmocka_unit_test(test_v6),
		cmocka_unit_test(test_v4_mapped),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_batch_limits),
		cmocka_unit_test(test_batch_matches_single),
		cmocka_unit_test(test_binary_addrs),
		cmocka_unit_test(test_binary_batch_limit),
		cmocka_unit_test(test_no_body_and_unknown_body),
		cmocka_unit_test(test_prefix_consistency),
		cmocka_unit_test(test_tree_layouts),
		cmocka_unit_test(test_ttl_and_stats),
	};
	return cmocka_run_group_tests(tests, setup_split, teardown);
}
