/* Unit tests for common/rpc over real nanomsg sockets: many calls in
 * flight, absent and restarted peers, garbage input, cancel and re-entrant
 * callbacks. ipc:// paths live in a mkdtemp() directory; servers run on the
 * test's loop or on a second thread. Deadlines are generous and only
 * completion is asserted, never timing. */
#include "common/rpc.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "common/test/rpc_harness.h"

/* ---- 1. many calls in flight -------------------------------------------- */

#define NCALLS 1000

static void test_thousand_in_flight(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct res *res = calloc(NCALLS, sizeof(*res));
	uint64_t *handles = calloc(NCALLS, sizeof(*handles));
	struct rpc_client_stats cs;
	struct srv_thread *t;
	struct rpc_client *c;
	unsigned completed = 0;
	char url[160], text[32];
	int err;

	url_for(url, sizeof(url), "many.rpc");
	t = srv_thread_start(url);
	c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(c);
	for (unsigned i = 0; i < NCALLS; i++) {
		snprintf(text, sizeof(text), "call-%u", i);
		res[i].counter = &completed;
		assert_int_equal(call_echo(c, text, 7ull * i + 3, 60000, &res[i], &handles[i]), 0);
		assert_true(handles[i] != 0);
		if (i)
			assert_true(handles[i] != handles[i - 1]);
	}
	/* Nothing ran the loop yet: all of them are outstanding at once. */
	assert_int_equal(rpc_client_pending(c), NCALLS);
	/* A client loop that stalls while replies arrive loses none. */
	run_for(loop, 0.05);
	usleep(300000);
	assert_true(run_until(loop, &completed, NCALLS, 120.0));
	for (unsigned i = 0; i < NCALLS; i++) {
		snprintf(text, sizeof(text), "call-%u", i);
		assert_int_equal(res[i].done, 1);
		assert_int_equal(res[i].err, 0);
		assert_int_equal(res[i].code, RPC_OK);
		assert_true(res[i].has_echo);
		assert_int_equal(res[i].seq, 7ull * i + 3);
		assert_string_equal(res[i].text, text);
	}
	assert_int_equal(rpc_client_pending(c), 0);
	rpc_client_get_stats(c, &cs);
	assert_int_equal(cs.calls, NCALLS);
	assert_int_equal(cs.replies, NCALLS);
	assert_int_equal(cs.late_replies, 0);
	rpc_client_free(c);
	srv_thread_stop(t);
	assert_int_equal(t->handled, NCALLS);
	assert_int_equal(t->stats.requests, NCALLS);
	assert_int_equal(t->stats.malformed, 0);
	free(t);
	free(res);
	free(handles);
	ev_loop_destroy(loop);
}

/* A request as seen by a hand-driven raw REP socket. */
struct raw_req {
	union {
		struct nn_cmsghdr h;
		uint8_t b[256];
	} ctrl;
	G3c__Rpctest__Request *req;
};

/* Pump `loop` until `sock` yields a request or `secs` pass. */
static bool raw_recv(struct ev_loop *loop, int sock, struct raw_req *r, double secs)
{
	uint64_t end = util_mono_ns() + (uint64_t)(secs * 1e9);

	for (;;) {
		void *body = NULL;
		struct nn_iovec iov = {.iov_base = &body, .iov_len = NN_MSG};
		struct nn_msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = &r->ctrl,
			.msg_controllen = sizeof(r->ctrl),
		};
		int n = nn_recvmsg(sock, &mh, NN_DONTWAIT);

		if (n >= 0) {
			r->req = g3c__rpctest__request__unpack(NULL, (size_t)n, body);
			nn_freemsg(body);
			assert_non_null(r->req);
			return true;
		}
		assert_int_equal(errno, EAGAIN);
		if (util_mono_ns() >= end)
			return false;
		run_for(loop, 0.02);
	}
}

/* Answer a raw request with an echo of its seq. */
static void raw_reply(int sock, struct raw_req *r)
{
	G3c__Rpctest__Reply rep = G3C__RPCTEST__REPLY__INIT;
	G3c__Rpctest__Echo e = G3C__RPCTEST__ECHO__INIT;
	uint8_t buf[128];
	struct nn_iovec iov = {.iov_base = buf};
	struct nn_msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &r->ctrl,
		.msg_controllen = r->ctrl.h.cmsg_len,
	};

	rep.id = r->req->id;
	e.seq = r->req->echo->seq;
	e.text = (char *)"raw";
	rep.body_case = G3C__RPCTEST__REPLY__BODY_ECHO;
	rep.echo = &e;
	iov.iov_len = g3c__rpctest__reply__pack(&rep, buf);
	assert_int_equal(nn_sendmsg(sock, &mh, 0), (int)iov.iov_len);
	g3c__rpctest__request__free_unpacked(r->req, NULL);
	r->req = NULL;
}

/* With a window of 2, a server sees only 2 unanswered requests at a time. */
static void test_small_window(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct raw_req got[5];
	struct res res[5] = {0};
	struct rpc_client *c;
	char url[160];
	int rep, err;

	url_for(url, sizeof(url), "window.rpc");
	rep = nn_socket(AF_SP_RAW, NN_REP);
	assert_true(rep >= 0);
	assert_true(nn_bind(rep, url) >= 0);
	c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(c);
	rpc_client_set_window(c, 2);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(call_echo(c, "w", 100 + i, 60000, &res[i], NULL), 0);

	assert_true(raw_recv(loop, rep, &got[0], WAIT_S));
	assert_true(raw_recv(loop, rep, &got[1], WAIT_S));
	assert_false(raw_recv(loop, rep, &got[2], 0.3));
	assert_int_equal(got[0].req->echo->seq, 100);
	assert_int_equal(got[1].req->echo->seq, 101);

	raw_reply(rep, &got[1]); /* out of order is fine */
	assert_true(run_until(loop, &res[1].done, 1, WAIT_S));
	assert_int_equal(res[1].err, 0);
	assert_int_equal(res[1].seq, 101);
	assert_string_equal(res[1].text, "raw");
	assert_true(raw_recv(loop, rep, &got[2], WAIT_S));
	assert_int_equal(got[2].req->echo->seq, 102);
	assert_false(raw_recv(loop, rep, &got[3], 0.3));
	assert_int_equal(res[0].done + res[2].done + res[3].done + res[4].done, 0);

	/* Widening the window sends the rest at once. */
	rpc_client_set_window(c, 64);
	assert_true(raw_recv(loop, rep, &got[3], WAIT_S));
	assert_true(raw_recv(loop, rep, &got[4], WAIT_S));
	assert_int_equal(got[4].req->echo->seq, 104);
	for (unsigned i = 0; i < 5; i++) {
		if (i != 1)
			raw_reply(rep, &got[i]);
	}
	for (unsigned i = 0; i < 5; i++) {
		assert_true(run_until(loop, &res[i].done, 1, WAIT_S));
		assert_int_equal(res[i].err, 0);
		assert_int_equal(res[i].seq, 100 + i);
	}
	rpc_client_free(c);
	nn_close(rep);
	ev_loop_destroy(loop);
}

/* ---- 2. peer absent ----------------------------------------------------- */

static void test_peer_absent_times_out(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct res res[20] = {0};
	struct rpc_client *c;
	unsigned completed = 0;
	char url[160];
	int err;

	url_for(url, sizeof(url), "absent.rpc");
	c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(c);
	for (unsigned i = 0; i < ARRAY_SIZE(res); i++) {
		res[i].counter = &completed;
		assert_int_equal(call_echo(c, "x", i, 200, &res[i], NULL), 0);
	}
	assert_true(run_until(loop, &completed, ARRAY_SIZE(res), WAIT_S));
	for (unsigned i = 0; i < ARRAY_SIZE(res); i++) {
		assert_int_equal(res[i].done, 1);
		assert_int_equal(res[i].err, -ETIMEDOUT);
		assert_int_equal(res[i].code, RPC_DEADLINE_EXCEEDED);
		assert_true(res[i].rep_null);
	}
	assert_int_equal(rpc_client_pending(c), 0);
	rpc_client_free(c);
	ev_loop_destroy(loop);
}

/* ---- 3. peer restarted -------------------------------------------------- */

static void test_peer_restarted(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct rpc_server *s;
	struct rpc_client *c;
	struct res r = {0};
	char url[160];
	int err;

	url_for(url, sizeof(url), "restart.rpc");
	s = rpc_server_new(loop, url, &rpctest_svc, rpctest_handle, NULL, &err);
	assert_non_null(s);
	c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(c);
	echo_ok(loop, c, 1);

	rpc_server_free(s);
	assert_int_equal(call_echo(c, "gone", 2, 300, &r, NULL), 0);
	assert_true(run_until(loop, &r.done, 1, WAIT_S));
	assert_int_equal(r.err, -ETIMEDOUT);

	s = rpc_server_new(loop, url, &rpctest_svc, rpctest_handle, NULL, &err);
	assert_non_null(s);
	for (uint64_t i = 3; i < 8; i++)
		echo_ok(loop, c, i);
	rpc_client_free(c);
	rpc_server_free(s);
	ev_loop_destroy(loop);
}

/* ---- 4. garbage --------------------------------------------------------- */

static unsigned srv_malformed(const struct rpc_server *s)
{
	struct rpc_server_stats st;
	rpc_server_get_stats(s, &st);
	return (unsigned)st.malformed;
}

/* Pump the server's loop until its malformed count reaches `want`. */
static void wait_malformed(struct ev_loop *loop, struct rpc_server *s, unsigned want)
{
	uint64_t end = util_mono_ns() + (uint64_t)(WAIT_S * 1e9);

	while (srv_malformed(s) < want && util_mono_ns() < end)
		run_for(loop, 0.02);
	assert_int_equal(srv_malformed(s), want);
}

/* Pump the loop until the cooked REQ socket has a reply; decode it. */
static G3c__Rpctest__Reply *junk_reply(struct ev_loop *loop, int sock)
{
	uint64_t end = util_mono_ns() + (uint64_t)(WAIT_S * 1e9);
	G3c__Rpctest__Reply *rep = NULL;

	while (util_mono_ns() < end) {
		void *buf = NULL;
		int n = nn_recv(sock, &buf, NN_MSG, NN_DONTWAIT);
		if (n >= 0) {
			rep = g3c__rpctest__reply__unpack(NULL, (size_t)n, buf);
			nn_freemsg(buf);
			break;
		}
		assert_int_equal(errno, EAGAIN);
		run_for(loop, 0.02);
	}
	assert_non_null(rep);
	return rep;
}

static void test_garbage_is_counted_and_survived(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	G3c__Rpctest__Request req = G3C__RPCTEST__REQUEST__INIT;
	G3c__Rpctest__Echo e = G3C__RPCTEST__ECHO__INIT;
	static const uint8_t junk[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t raw_junk[12] = {0x80, 0,	 0,    1,    0xff, 0xff,
					     0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	G3c__Rpctest__Reply *rep;
	struct rpc_server_stats st;
	struct rpc_server *s;
	struct rpc_client *c;
	uint8_t packed[256], *big;
	char url[160], text[101];
	size_t len;
	int js, rs, fd, err;

	url_for(url, sizeof(url), "junk.rpc");
	s = rpc_server_new(loop, url, &rpctest_svc, rpctest_handle, NULL, &err);
	assert_non_null(s);
	c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(c);
	js = nn_socket(AF_SP, NN_REQ);
	assert_true(js >= 0);
	assert_true(nn_connect(js, url) >= 0);

	/* Junk without a readable id: counted and dropped. */
	assert_int_equal(nn_send(js, junk, sizeof(junk), NN_DONTWAIT), (int)sizeof(junk));
	wait_malformed(loop, s, 1);

	/* A truncated request whose id is readable: answered MALFORMED. */
	memset(text, 'a', 100);
	text[100] = '\0';
	e.text = text;
	req.id = 77;
	req.body_case = G3C__RPCTEST__REQUEST__BODY_ECHO;
	req.echo = &e;
	len = g3c__rpctest__request__pack(&req, packed);
	assert_true(len > 100 && len < sizeof(packed));
	assert_int_equal(nn_send(js, packed, len - 10, NN_DONTWAIT), (int)(len - 10));
	wait_malformed(loop, s, 2);
	rep = junk_reply(loop, js);
	assert_int_equal(rep->id, 77);
	assert_non_null(rep->status);
	assert_int_equal(rep->status->code, RPC_MALFORMED);
	assert_string_equal(rep->status->message, "cannot decode request");
	g3c__rpctest__reply__free_unpacked(rep, NULL);

	/* Slightly over RPC_MAX_MSG, id first: refused with MALFORMED. */
	big = calloc(1, 2 * RPC_MAX_MSG + 100);
	assert_non_null(big);
	big[0] = 0x08; /* field 1, varint */
	big[1] = 88;
	assert_int_equal(nn_send(js, big, RPC_MAX_MSG + 100, NN_DONTWAIT), (int)RPC_MAX_MSG + 100);
	wait_malformed(loop, s, 3);
	rep = junk_reply(loop, js);
	assert_int_equal(rep->id, 88);
	assert_int_equal(rep->status->code, RPC_MALFORMED);
	assert_string_equal(rep->status->message, "request too large");
	g3c__rpctest__reply__free_unpacked(rep, NULL);

	/* Far over the limit: nanomsg drops that connection; still serving. */
	assert_int_equal(nn_send(js, big, 2 * RPC_MAX_MSG + 100, NN_DONTWAIT),
			 (int)(2 * RPC_MAX_MSG + 100));
	run_for(loop, 0.2);
	echo_ok(loop, c, 1);
	free(big);

	/* A raw REQ socket supplies its own backtrace; the rest is junk. */
	rs = nn_socket(AF_SP_RAW, NN_REQ);
	assert_true(rs >= 0);
	assert_true(nn_connect(rs, url) >= 0);
	run_for(loop, 0.1);
	assert_int_equal(nn_send(rs, raw_junk, sizeof(raw_junk), 0), (int)sizeof(raw_junk));
	wait_malformed(loop, s, 4);

	/* Not even the SP handshake: bytes on a plain unix connection. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/junk.rpc", tmpdir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	run_for(loop, 0.1);
	close(fd);

	echo_ok(loop, c, 2);
	rpc_server_get_stats(s, &st);
	assert_int_equal(st.malformed, 4);
	assert_int_equal(st.requests, 2);
	nn_close(rs);
	nn_close(js);
	rpc_client_free(c);
	rpc_server_free(s);
	ev_loop_destroy(loop);
}

/* ---- 5. cancel ---------------------------------------------------------- */

static void test_cancel_suppresses_late_reply(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct rpc_client_stats cs;
	struct rpc_server *s;
	struct rpc_client *c;
	struct res a = {0}, b = {0};
	uint64_t ha, hb;
	char url[160];
	int err;

	url_for(url, sizeof(url), "cancel.rpc");
	s = rpc_server_new(loop, url, &rpctest_svc, rpctest_handle, NULL, &err);
	assert_non_null(s);
	c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(c);
	echo_ok(loop, c, 1); /* connected: the next request goes out at once */

	assert_int_equal(call_echo(c, "a", 2, 20000, &a, &ha), 0);
	assert_true(rpc_cancel(c, ha));
	assert_false(rpc_cancel(c, ha));
	assert_int_equal(call_echo(c, "b", 3, 20000, &b, &hb), 0);
	/* Same pipe, in order: a's reply arrives before b's. */
	assert_true(run_until(loop, &b.done, 1, WAIT_S));
	run_for(loop, 0.1);
	assert_int_equal(a.done, 0);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.seq, 3);
	assert_false(rpc_cancel(c, hb)); /* already completed */
	assert_false(rpc_cancel(c, 0));
	rpc_client_get_stats(c, &cs);
	assert_int_equal(cs.late_replies, 1);
	assert_int_equal(cs.cancelled, 1);
	assert_int_equal(rpc_client_pending(c), 0);
	rpc_client_free(c);
	rpc_server_free(s);
	ev_loop_destroy(loop);
}

static void test_free_with_pending_calls_no_callbacks(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct res res[10] = {0};
	struct rpc_server *s;
	struct rpc_client *c, *absent;
	char url[160], url2[160];
	int err;

	url_for(url, sizeof(url), "freepending.rpc");
	url_for(url2, sizeof(url2), "freepending-absent.rpc");
	s = rpc_server_new(loop, url, &rpctest_svc, rpctest_handle, NULL, &err);
	assert_non_null(s);
	c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(c);
	absent = rpc_client_new(loop, url2, &rpctest_svc, &err);
	assert_non_null(absent);
	echo_ok(loop, c, 1);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(call_echo(c, "x", i, 100, &res[i], NULL), 0);
		assert_int_equal(call_echo(absent, "y", i, 100, &res[5 + i], NULL), 0);
	}
	assert_int_equal(rpc_client_pending(c), 5);
	assert_int_equal(rpc_client_pending(absent), 5);
	rpc_client_free(c);
	rpc_client_free(absent);
	run_for(loop, 0.5); /* past every deadline, replies processed */
	for (unsigned i = 0; i < ARRAY_SIZE(res); i++)
		assert_int_equal(res[i].done, 0);
	rpc_server_free(s);
	ev_loop_destroy(loop);
}

struct reentrant {
	struct rpc_client *c;
	uint64_t victim;
	bool cancel_result;
	bool free_client;
	struct res first;
};

static void reentrant_cb(void *arg, int err, enum rpc_code code, const char *errmsg,
			 const ProtobufCMessage *rep)
{
	struct reentrant *re = arg;

	res_cb(&re->first, err, code, errmsg, rep);
	if (re->victim)
		re->cancel_result = rpc_cancel(re->c, re->victim);
	if (re->free_client)
		rpc_client_free(re->c);
}

static void test_cancel_and_free_inside_callback(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	G3c__Rpctest__Request req = G3C__RPCTEST__REQUEST__INIT;
	struct reentrant re = {0};
	struct res y = {0}, z = {0};
	char url[160];
	int err;

	/* Peer absent: the 100 ms call times out first, its callback cancels
	 * the long one. */
	url_for(url, sizeof(url), "reentrant.rpc");
	re.c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(re.c);
	assert_int_equal(call_echo(re.c, "y", 1, 20000, &y, &re.victim), 0);
	assert_int_equal(rpc_call(re.c, &req.base, 100, reentrant_cb, &re, NULL), 0);
	assert_true(run_until(loop, &re.first.done, 1, WAIT_S));
	assert_int_equal(re.first.err, -ETIMEDOUT);
	assert_true(re.cancel_result);
	run_for(loop, 0.2);
	assert_int_equal(y.done, 0);
	assert_int_equal(rpc_client_pending(re.c), 0);
	rpc_client_free(re.c);

	/* rpc_client_free from inside a callback: the others never call back. */
	memset(&re, 0, sizeof(re));
	memset(&y, 0, sizeof(y));
	re.c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(re.c);
	re.free_client = true;
	assert_int_equal(call_echo(re.c, "y", 1, 20000, &y, NULL), 0);
	assert_int_equal(rpc_call(re.c, &req.base, 100, reentrant_cb, &re, NULL), 0);
	assert_int_equal(call_echo(re.c, "z", 2, 150, &z, NULL), 0);
	assert_true(run_until(loop, &re.first.done, 1, WAIT_S));
	run_for(loop, 0.3);
	assert_int_equal(y.done, 0);
	assert_int_equal(z.done, 0);
	ev_loop_destroy(loop);
}

/* The first reply's callback frees the client while the replies to the
 * other calls are arriving in the same batch: none of those call back. */
static void test_free_inside_reply_callback(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	G3c__Rpctest__Request req = G3C__RPCTEST__REQUEST__INIT;
	struct reentrant re = {0};
	struct res rest[20] = {0};
	struct rpc_server *s;
	char url[160];
	int err;

	url_for(url, sizeof(url), "freereply.rpc");
	s = rpc_server_new(loop, url, &rpctest_svc, rpctest_handle, NULL, &err);
	assert_non_null(s);
	re.c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(re.c);
	echo_ok(loop, re.c, 1);
	re.free_client = true;
	assert_int_equal(rpc_call(re.c, &req.base, 20000, reentrant_cb, &re, NULL), 0);
	for (unsigned i = 0; i < ARRAY_SIZE(rest); i++)
		assert_int_equal(call_echo(re.c, "r", i, 20000, &rest[i], NULL), 0);
	assert_true(run_until(loop, &re.first.done, 1, WAIT_S));
	assert_int_equal(re.first.err, 0);
	assert_int_equal(re.first.code, RPC_INVALID_ARGUMENT);
	run_for(loop, 0.3);
	for (unsigned i = 0; i < ARRAY_SIZE(rest); i++)
		assert_int_equal(rest[i].done, 0);
	rpc_server_free(s);
	ev_loop_destroy(loop);
}

struct chain {
	struct rpc_client *c;
	struct res first, second;
	int second_rc;
};

static void chain_cb(void *arg, int err, enum rpc_code code, const char *errmsg,
		     const ProtobufCMessage *rep)
{
	struct chain *ch = arg;

	res_cb(&ch->first, err, code, errmsg, rep);
	ch->second_rc = call_echo(ch->c, "second", 42, 20000, &ch->second, NULL);
}

static void test_call_from_callback(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	G3c__Rpctest__Request req = G3C__RPCTEST__REQUEST__INIT;
	G3c__Rpctest__Echo e = G3C__RPCTEST__ECHO__INIT;
	struct chain ch = {0};
	struct rpc_server *s;
	char url[160];
	int err;

	url_for(url, sizeof(url), "chain.rpc");
	s = rpc_server_new(loop, url, &rpctest_svc, rpctest_handle, NULL, &err);
	assert_non_null(s);
	ch.c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(ch.c);
	e.text = (char *)"first";
	req.body_case = G3C__RPCTEST__REQUEST__BODY_ECHO;
	req.echo = &e;
	assert_int_equal(rpc_call(ch.c, &req.base, 20000, chain_cb, &ch, NULL), 0);
	assert_true(run_until(loop, &ch.second.done, 1, WAIT_S));
	assert_int_equal(ch.first.err, 0);
	assert_string_equal(ch.first.text, "first");
	assert_int_equal(ch.second_rc, 0);
	assert_int_equal(ch.second.err, 0);
	assert_int_equal(ch.second.seq, 42);
	assert_string_equal(ch.second.text, "second");
	rpc_client_free(ch.c);
	rpc_server_free(s);
	ev_loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thousand_in_flight),
		cmocka_unit_test(test_small_window),
		cmocka_unit_test(test_peer_absent_times_out),
		cmocka_unit_test(test_peer_restarted),
		cmocka_unit_test(test_garbage_is_counted_and_survived),
		cmocka_unit_test(test_cancel_suppresses_late_reply),
		cmocka_unit_test(test_free_with_pending_calls_no_callbacks),
		cmocka_unit_test(test_cancel_and_free_inside_callback),
		cmocka_unit_test(test_free_inside_reply_callback),
		cmocka_unit_test(test_call_from_callback),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
