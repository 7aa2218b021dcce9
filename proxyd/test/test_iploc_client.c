/* proxyd's iplocd client against a fake iploc service on the same loop (a
 * handler over proto/iploc.proto, no iplocd code): cache hits for any
 * address of an answered network, the longest prefix, negative answers,
 * TTL clamping and expiry, stale answers when a re-query fails, batching
 * and sharing of queries, cancel, timeouts with the down backoff, the LRU
 * bound, and freeing the client with calls pending or from a callback. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/rpc.h"
#include "proto/iploc.pb-c.h"
#include "proxyd/iploc_client.h"

static const struct rpc_service svc = {
	.name = "g3c.iploc",
	.req = &g3c__iploc__request__descriptor,
	.rep = &g3c__iploc__reply__descriptor,
};

/* ---- the fake service -------------------------------------------------------------- */

struct fake_net {
	const char *net;
	unsigned prefix;
	const char *cc;
	uint32_t asn;
	uint32_t ttl;
};

static const struct fake_net nets[] = {
	{"10.1.0.0", 16, "CA", 64513, 300},	   {"10.0.0.0", 8, "US", 64512, 300},
	{"192.0.2.0", 24, "AU", 64497, 0},	   /* no TTL: default_expire_ttl */
	{"198.51.100.0", 24, "BR", 64498, 100000}, /* clamped */
	{"2001:db8::", 32, "JP", 64500, 300},
};

static unsigned requests, addresses;

static bool in_net(int fam, const uint8_t *a, const uint8_t *n, unsigned prefix)
{
	for (unsigned b = 0; b < prefix; b++)
		if (((a[b / 8] ^ n[b / 8]) >> (7 - b % 8)) & 1)
			return false;
	(void)fam;
	return true;
}

static enum rpc_code fake_handle(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *rep_,
				 struct rpc_arena *a)
{
	const G3c__Iploc__Request *req = (const G3c__Iploc__Request *)req_;
	G3c__Iploc__Reply *rep = (G3c__Iploc__Reply *)rep_;
	G3c__Iploc__LookupRep *lr;

	(void)ctx;
	requests++;
	if (req->body_case != G3C__IPLOC__REQUEST__BODY_LOOKUP)
		return RPC_INVALID_ARGUMENT;
	lr = rpc_arena_alloc(a, sizeof(*lr));
	g3c__iploc__lookup_rep__init(lr);
	/* the client asks in binary (LookupReq.addrs) */
	assert_int_equal(req->lookup->n_ips, 0);
	lr->answers = rpc_arena_alloc(a, req->lookup->n_addrs * sizeof(G3c__Iploc__Location *));
	lr->n_answers = req->lookup->n_addrs;
	for (size_t i = 0; i < req->lookup->n_addrs; i++) {
		G3c__Iploc__Location *l = rpc_arena_alloc(a, sizeof(*l));
		uint8_t addr[16] = {0}, net[16];
		size_t len = req->lookup->addrs[i].len;
		int fam = len == 4 ? AF_INET : AF_INET6;
		const struct fake_net *hit = NULL;

		addresses++;
		g3c__iploc__location__init(l);
		assert_true(len == 4 || len == 16);
		memcpy(addr, req->lookup->addrs[i].data, len);
		for (size_t k = 0; k < sizeof(nets) / sizeof(nets[0]) && !hit; k++) {
			int nf = strchr(nets[k].net, ':') ? AF_INET6 : AF_INET;
			assert_int_equal(inet_pton(nf, nets[k].net, net), 1);
			if (nf == fam && in_net(fam, addr, net, nets[k].prefix))
				hit = &nets[k];
		}
		l->network_addr.data = rpc_arena_alloc(a, len);
		l->network_addr.len = len;
		if (hit) {
			inet_pton(fam, hit->net, l->network_addr.data);
			l->network_prefix = hit->prefix;
			l->found = true;
			l->country = rpc_arena_strdup(a, hit->cc);
			l->continent = rpc_arena_strdup(a, "XX");
			l->asn = hit->asn;
			l->ttl = hit->ttl;
		} else {
			/* unknown: the /16 (or /32) around it */
			l->network_prefix = fam == AF_INET ? 16 : 32;
			memcpy(l->network_addr.data, addr, len);
			memset(l->network_addr.data + l->network_prefix / 8, 0,
			       len - l->network_prefix / 8);
			l->ttl = 60;
		}
		lr->answers[i] = l;
	}
	rep->body_case = G3C__IPLOC__REPLY__BODY_LOOKUP;
	rep->lookup = lr;
	return RPC_OK;
}

/* ---- fixture ------------------------------------------------------------------------------ */

static char dir[64], url[128];
static struct ev_loop *loop;
static struct rpc_server *server;

struct result {
	unsigned done;
	int err;
	struct iploc_location loc;
};

static void on_done(void *arg, int err, const struct iploc_location *loc)
{
	struct result *r = arg;

	r->done++;
	r->err = err;
	if (loc)
		r->loc = *loc;
	else
		memset(&r->loc, 0, sizeof(r->loc));
}

static void tick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

/* Run the loop until *n >= want or secs pass. */
static bool run_until(const unsigned *n, unsigned want, double secs)
{
	ev_timer t;
	double end = ev_time() + secs;

	ev_timer_init(&t, tick, 0.01, 0.01);
	ev_timer_start(loop, &t);
	while (*n < want && ev_time() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
	return *n >= want;
}

static int setup(void **state)
{
	int err = 0;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/iploc-client-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(url, sizeof(url), "ipc://%s/iplocd.rpc", dir);
	loop = ev_loop_new(EVFLAG_AUTO);
	server = rpc_server_new(loop, url, &svc, fake_handle, NULL, &err);
	requests = addresses = 0;
	return server ? 0 : -1;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	rpc_server_free(server);
	server = NULL;
	ev_loop_destroy(loop);
	snprintf(path, sizeof(path), "%s/iplocd.rpc", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

static struct iploc_client *client(uint32_t timeout_ms, uint32_t cache, uint32_t batch)
{
	struct iploc_client_conf conf;
	struct iploc_client *c;
	int err = 0;

	iploc_client_conf_defaults(&conf);
	conf.url = url;
	conf.query_wait_timeout_ms = timeout_ms;
	conf.cache_size = cache;
	conf.batch = batch;
	conf.down_backoff_ms = 200;
	c = iploc_client_new(loop, &conf, &err);
	assert_non_null(c);
	return c;
}

static struct sockaddr_storage sa_of(const char *ip)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		ss.ss_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr),
				 1);
	} else {
		ss.ss_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr), 1);
	}
	return ss;
}

/* Look ip up and wait for the answer; returns it (hit or callback). */
static struct result ask(struct iploc_client *c, const char *ip, bool *from_cache)
{
	struct sockaddr_storage ss = sa_of(ip);
	struct result r = {0};
	int ret = iploc_client_lookup(c, (struct sockaddr *)&ss, &r.loc, on_done, &r, NULL);

	assert_true(ret == 0 || ret == 1);
	if (from_cache)
		*from_cache = ret == 1;
	if (ret == 1)
		return r;
	assert_true(run_until(&r.done, 1, 10));
	return r;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_prefix_cache(void **state)
{
	struct iploc_client *c = client(2000, 100, 10);
	struct iploc_client_stats st;
	bool cached;
	struct result r;

	(void)state;
	r = ask(c, "10.1.2.3", &cached);
	assert_false(cached);
	assert_int_equal(r.err, 0);
	assert_string_equal(r.loc.country, "CA");
	assert_int_equal(r.loc.prefix, 16);
	assert_int_equal(r.loc.asn, 64513);
	/* any address of 10.1.0.0/16 now hits, without a query */
	r = ask(c, "10.1.255.254", &cached);
	assert_true(cached);
	assert_string_equal(r.loc.country, "CA");
	assert_int_equal(requests, 1);
	/* 10.2.x is outside the /16: a query, answered with the /8 */
	r = ask(c, "10.2.0.1", &cached);
	assert_false(cached);
	assert_string_equal(r.loc.country, "US");
	/* with /8 and /16 cached, the longest prefix wins */
	r = ask(c, "10.1.0.9", &cached);
	assert_true(cached);
	assert_string_equal(r.loc.country, "CA");
	r = ask(c, "10.200.0.9", &cached);
	assert_true(cached);
	assert_string_equal(r.loc.country, "US");
	/* IPv4-mapped IPv6 is IPv4 */
	r = ask(c, "::ffff:10.9.9.9", &cached);
	assert_true(cached);
	assert_int_equal(r.loc.family, AF_INET);
	/* IPv6 */
	r = ask(c, "2001:db8:5::1", &cached);
	assert_false(cached);
	assert_string_equal(r.loc.country, "JP");
	r = ask(c, "2001:db8:ffff::1", &cached);
	assert_true(cached);
	assert_string_equal(r.loc.country, "JP");
	iploc_client_get_stats(c, &st);
	assert_int_equal(st.queries, 3);
	assert_int_equal(st.hits, 5);
	assert_int_equal(st.entries, 3);
	iploc_client_free(c);
}

static void test_negative_answers_cached(void **state)
{
	struct iploc_client *c = client(2000, 100, 10);
	bool cached;
	struct result r;

	(void)state;
	r = ask(c, "8.8.8.8", &cached);
	assert_false(cached);
	assert_int_equal(r.err, 0);
	assert_false(r.loc.found);
	assert_string_equal(r.loc.country, "");
	r = ask(c, "8.8.4.4", &cached); /* same /16 */
	assert_true(cached);
	assert_false(r.loc.found);
	assert_int_equal(requests, 1);
	iploc_client_free(c);
}

static void test_batching_and_sharing(void **state)
{
	struct iploc_client *c = client(2000, 100, 4);
	struct result r[10];
	static const char *const ips[] = {"10.1.0.1",	 "10.1.0.1",   "10.1.0.1",   "172.16.0.1",
					  "172.17.0.1",	 "172.18.0.1", "172.19.0.1", "172.20.0.1",
					  "2001:db8::1", "10.1.0.1"};
	unsigned done = 0;

	(void)state;
	memset(r, 0, sizeof(r));
	for (size_t i = 0; i < 10; i++) {
		struct sockaddr_storage ss = sa_of(ips[i]);
		struct iploc_location out;
		assert_int_equal(
			iploc_client_lookup(c, (struct sockaddr *)&ss, &out, on_done, &r[i], NULL),
			0);
	}
	/* nothing is sent before the loop runs */
	assert_int_equal(requests, 0);
	for (int t = 0; t < 1000 && done < 10; t++) {
		ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
		done = 0;
		for (size_t i = 0; i < 10; i++)
			done += r[i].done;
		if (done < 10)
			usleep(1000);
	}
	assert_int_equal(done, 10);
	/* 7 distinct addresses, 4 per request */
	assert_int_equal(addresses, 7);
	assert_int_equal(requests, 2);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(r[i].done, 1);
	assert_string_equal(r[2].loc.country, "CA");
	assert_string_equal(r[9].loc.country, "CA");
	assert_string_equal(r[8].loc.country, "JP");
	iploc_client_free(c);
}

static void test_cancel(void **state)
{
	struct iploc_client *c = client(2000, 100, 10);
	struct sockaddr_storage ss = sa_of("192.0.2.7");
	struct iploc_location out;
	struct result a = {0}, b = {0};
	uint64_t ha = 0, hb = 0;

	(void)state;
	assert_int_equal(iploc_client_lookup(c, (struct sockaddr *)&ss, &out, on_done, &a, &ha), 0);
	assert_int_equal(iploc_client_lookup(c, (struct sockaddr *)&ss, &out, on_done, &b, &hb), 0);
	assert_true(ha != 0 && hb != 0 && ha != hb);
	assert_true(iploc_client_cancel(c, ha));
	assert_false(iploc_client_cancel(c, ha));
	assert_true(run_until(&b.done, 1, 10));
	ev_run(loop, EVRUN_NOWAIT);
	assert_int_equal(a.done, 0);
	assert_int_equal(b.done, 1);
	assert_false(iploc_client_cancel(c, hb)); /* already ran */
	assert_false(iploc_client_cancel(c, 0));
	iploc_client_free(c);
}

static void test_ttl_clamp_and_stale(void **state)
{
	struct iploc_client_conf conf;
	struct iploc_client *c;
	bool cached;
	struct result r;
	int err = 0;

	(void)state;
	iploc_client_conf_defaults(&conf);
	conf.url = url;
	conf.query_wait_timeout_ms = 150;
	conf.maximum_expire_ttl = 1; /* every answer lives one second */
	conf.down_backoff_ms = 50;
	c = iploc_client_new(loop, &conf, &err);
	assert_non_null(c);
	r = ask(c, "198.51.100.1", &cached);
	assert_false(cached);
	assert_string_equal(r.loc.country, "BR");
	r = ask(c, "198.51.100.2", &cached);
	assert_true(cached);
	assert_int_equal(r.loc.asn, 64498);
	usleep(1100000);
	ev_now_update(loop);
	/* expired: asked again */
	r = ask(c, "198.51.100.3", &cached);
	assert_false(cached);
	assert_int_equal(requests, 2);
	assert_false(r.loc.stale);
	/* expired and iplocd gone: the stale answer, flagged */
	usleep(1100000);
	ev_now_update(loop);
	rpc_server_free(server);
	server = NULL;
	r = ask(c, "198.51.100.4", &cached);
	assert_false(cached);
	assert_int_equal(r.err, 0);
	assert_true(r.loc.stale);
	assert_string_equal(r.loc.country, "BR");
	iploc_client_free(c);
}

static void test_timeout_and_backoff(void **state)
{
	struct iploc_client *c;
	struct sockaddr_storage ss;
	struct iploc_location out;
	struct result r = {0};
	double t0;
	int ret;

	(void)state;
	rpc_server_free(server);
	server = NULL;
	c = client(100, 100, 10);
	t0 = ev_time();
	r = ask(c, "10.1.2.3", NULL);
	assert_int_equal(r.err, -ETIMEDOUT);
	assert_true(ev_time() - t0 >= 0.09);
	/* down: a miss fails at once, without a callback */
	ss = sa_of("10.1.2.4");
	ret = iploc_client_lookup(c, (struct sockaddr *)&ss, &out, on_done, &r, NULL);
	assert_int_equal(ret, -EHOSTUNREACH);
	/* after the backoff, a query goes out again */
	usleep(250000);
	ev_now_update(loop);
	ret = iploc_client_lookup(c, (struct sockaddr *)&ss, &out, on_done, &r, NULL);
	assert_int_equal(ret, 0);
	iploc_client_free(c); /* pending: no callback */
	assert_int_equal(r.done, 1);
}

static void test_lru_bound(void **state)
{
	struct iploc_client *c = client(2000, 3, 10);
	struct iploc_client_stats st;
	bool cached;

	(void)state;
	(void)ask(c, "1.1.0.1", &cached); /* unknown: /16 entries */
	(void)ask(c, "1.2.0.1", &cached);
	(void)ask(c, "1.3.0.1", &cached);
	(void)ask(c, "1.1.0.2", &cached); /* refresh 1.1/16 */
	assert_true(cached);
	(void)ask(c, "1.4.0.1", &cached); /* evicts 1.2/16, the least recent */
	iploc_client_get_stats(c, &st);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.evictions, 1);
	(void)ask(c, "1.1.0.3", &cached);
	assert_true(cached);
	(void)ask(c, "1.2.0.3", &cached);
	assert_false(cached);
	iploc_client_free(c);
}

/* A callback that frees the client: the other waiters are not called. */
static struct iploc_client *victim;
static unsigned freeing_calls;

static void free_in_cb(void *arg, int err, const struct iploc_location *loc)
{
	(void)arg;
	(void)err;
	(void)loc;
	freeing_calls++;
	iploc_client_free(victim);
	victim = NULL;
}

static void test_free_from_callback(void **state)
{
	struct sockaddr_storage a = sa_of("10.1.0.5"), b = sa_of("192.0.2.5");
	struct iploc_location out;
	struct result other = {0};

	(void)state;
	victim = client(2000, 100, 10);
	assert_int_equal(
		iploc_client_lookup(victim, (struct sockaddr *)&a, &out, free_in_cb, NULL, NULL),
		0);
	assert_int_equal(
		iploc_client_lookup(victim, (struct sockaddr *)&a, &out, on_done, &other, NULL), 0);
	assert_int_equal(
		iploc_client_lookup(victim, (struct sockaddr *)&b, &out, on_done, &other, NULL), 0);
	assert_true(run_until(&freeing_calls, 1, 10));
	run_until(&other.done, 1, 0.2);
	assert_null(victim);
	assert_int_equal(freeing_calls, 1);
	assert_int_equal(other.done, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_prefix_cache, setup, teardown),
		cmocka_unit_test_setup_teardown(test_negative_answers_cached, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batching_and_sharing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_clamp_and_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_and_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lru_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_from_callback, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
