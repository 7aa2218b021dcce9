/* Unit tests for deferred replies (rpc_defer): a handler that answers later
 * does not hold up the requests behind it; the later answer carries the
 * request's id, body and status; a server freed first sends nothing and
 * leaks nothing; rpc_dispatch_buffer cannot defer. */
#include "common/rpc.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/test/rpc_harness.h"

/* Echo requests whose text is "later" are deferred: the handler keeps the
 * handle and the reply to fill; everything else is rpctest_handle's. */
struct held {
	struct rpc_deferred *d;
	G3c__Rpctest__Reply *rep;
	uint64_t seq;
};

struct defer_ctx {
	struct held held[8];
	unsigned n;
	bool refused; /* rpc_defer returned NULL */
};

static enum rpc_code defer_handle(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *rep_,
				  struct rpc_arena *a)
{
	struct defer_ctx *dc = ctx;
	const G3c__Rpctest__Request *req = (const G3c__Rpctest__Request *)req_;
	struct rpc_deferred *d;

	if (req->body_case != G3C__RPCTEST__REQUEST__BODY_ECHO || !req->echo->text ||
	    strcmp(req->echo->text, "later") != 0)
		return rpctest_handle(NULL, req_, rep_, a);
	d = rpc_defer(a);
	if (!d) {
		dc->refused = true;
		rpc_arena_set_error(a, "cannot defer here");
		return RPC_UNAVAILABLE;
	}
	assert_ptr_equal(rpc_defer(a), d); /* the same handle twice */
	assert_true(dc->n < 8);
	dc->held[dc->n].d = d;
	dc->held[dc->n].rep = (G3c__Rpctest__Reply *)rep_;
	dc->held[dc->n].seq = req->echo->seq;
	dc->n++;
	return RPC_INTERNAL; /* ignored: the reply is deferred */
}

/* Fill held reply i with an echo of `text` from its own arena and send it. */
static void answer(struct held *h, const char *text, enum rpc_code code)
{
	struct rpc_arena *a = rpc_deferred_arena(h->d);
	G3c__Rpctest__Echo *e = rpc_arena_alloc(a, sizeof(*e));

	g3c__rpctest__echo__init(e);
	e->text = rpc_arena_strdup(a, text);
	e->seq = h->seq;
	h->rep->body_case = G3C__RPCTEST__REPLY__BODY_ECHO;
	h->rep->echo = e;
	if (code != RPC_OK)
		rpc_arena_set_error(a, "answered late with %s", text);
	rpc_deferred_finish(h->d, code);
	h->d = NULL;
}

static void test_later_does_not_block(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct defer_ctx dc = {0};
	struct res later = {0}, now = {0}, failed = {0};
	struct rpc_server_stats st;
	struct rpc_server *s;
	struct rpc_client *c;
	char url[160];
	int err;

	url_for(url, sizeof(url), "defer.rpc");
	s = rpc_server_new(loop, url, &rpctest_svc, defer_handle, &dc, &err);
	assert_non_null(s);
	c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(c);
	assert_int_equal(call_echo(c, "later", 11, 20000, &later, NULL), 0);
	assert_int_equal(call_echo(c, "later", 12, 20000, &failed, NULL), 0);
	assert_int_equal(call_echo(c, "now", 13, 20000, &now, NULL), 0);
	/* The request behind the deferred ones is answered first. */
	assert_true(run_until(loop, &now.done, 1, WAIT_S));
	assert_int_equal(now.code, RPC_OK);
	assert_int_equal(now.seq, 13);
	assert_int_equal(dc.n, 2);
	assert_int_equal(later.done, 0);
	assert_int_equal(failed.done, 0);
	/* Later, each deferred reply goes to its own caller: the body
	 * allocated in the handler's arena and after it, and the status. */
	answer(&dc.held[1], "second", RPC_FAILED_PRECONDITION);
	answer(&dc.held[0], "first", RPC_OK);
	assert_true(run_until(loop, &later.done, 1, WAIT_S));
	assert_true(run_until(loop, &failed.done, 1, WAIT_S));
	assert_int_equal(later.err, 0);
	assert_int_equal(later.code, RPC_OK);
	assert_int_equal(later.seq, 11);
	assert_string_equal(later.text, "first");
	assert_int_equal(failed.code, RPC_FAILED_PRECONDITION);
	assert_string_equal(failed.msg, "answered late with second");
	/* The server keeps serving from a fresh arena. */
	echo_ok(loop, c, 14);
	rpc_server_get_stats(s, &st);
	assert_int_equal(st.requests, 4);
	assert_int_equal(st.send_errors, 0);
	rpc_client_free(c);
	rpc_server_free(s);
	ev_loop_destroy(loop);
}

static void test_server_gone_first(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct defer_ctx dc = {0};
	struct res later = {0};
	struct rpc_server *s;
	struct rpc_client *c;
	char url[160];
	int err;

	url_for(url, sizeof(url), "gone.rpc");
	s = rpc_server_new(loop, url, &rpctest_svc, defer_handle, &dc, &err);
	assert_non_null(s);
	c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(c);
	assert_int_equal(call_echo(c, "later", 21, 300, &later, NULL), 0);
	while (dc.n == 0)
		ev_run(loop, EVRUN_ONCE);
	rpc_server_free(s);
	/* Finishing after the server is gone frees the reply and sends
	 * nothing: the caller sees its deadline pass. */
	answer(&dc.held[0], "too late", RPC_OK);
	assert_true(run_until(loop, &later.done, 1, WAIT_S));
	assert_int_equal(later.err, -ETIMEDOUT);
	rpc_client_free(c);
	ev_loop_destroy(loop);
}

static void test_dispatch_cannot_defer(void **state UNUSED)
{
	G3c__Rpctest__Request req = G3C__RPCTEST__REQUEST__INIT;
	G3c__Rpctest__Echo e = G3C__RPCTEST__ECHO__INIT;
	struct defer_ctx dc = {0};
	G3c__Rpctest__Reply *rep;
	uint8_t buf[128], *out = NULL;
	size_t len, outlen = 0;

	e.text = (char *)"later";
	e.seq = 31;
	req.id = 5;
	req.body_case = G3C__RPCTEST__REQUEST__BODY_ECHO;
	req.echo = &e;
	len = g3c__rpctest__request__pack(&req, buf);
	assert_int_equal(
		rpc_dispatch_buffer(&rpctest_svc, defer_handle, &dc, buf, len, &out, &outlen), 0);
	assert_true(dc.refused);
	assert_int_equal(dc.n, 0);
	rep = g3c__rpctest__reply__unpack(NULL, outlen, out);
	assert_non_null(rep);
	assert_int_equal(rep->id, 5);
	assert_int_equal(rep->status->code, RPC_UNAVAILABLE);
	assert_string_equal(rep->status->message, "cannot defer here");
	g3c__rpctest__reply__free_unpacked(rep, NULL);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_later_does_not_block),
		cmocka_unit_test(test_server_gone_first),
		cmocka_unit_test(test_dispatch_cannot_defer),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
