/* Unit tests for common/rpc's API edges: service status codes and
 * messages, size limits, rpc_call_sync (success, timeout, no socket), server
 * binding rules and rpc_dispatch_buffer without sockets. */
#include "common/rpc.h"

#include <errno.h>
#include <fcntl.h>
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

/* ---- status, limits -------------------------------------------- */

static void call_fail(struct rpc_client *c, enum rpc_code code, const char *msg, struct res *r)
{
	G3c__Rpctest__Request req = G3C__RPCTEST__REQUEST__INIT;
	G3c__Rpctest__Fail f = G3C__RPCTEST__FAIL__INIT;

	f.code = (G3c__Rpc__Code)code;
	f.message = (char *)msg;
	req.body_case = G3C__RPCTEST__REQUEST__BODY_FAIL;
	req.fail = &f;
	assert_int_equal(rpc_call(c, &req.base, 20000, res_cb, r, NULL), 0);
}

static void test_status_and_limits(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	G3c__Rpctest__Request req = G3C__RPCTEST__REQUEST__INIT;
	G3c__Rpctest__Big big = G3C__RPCTEST__BIG__INIT;
	G3c__Rpctest__Echo e = G3C__RPCTEST__ECHO__INIT;
	struct res r1 = {0}, r2 = {0}, r3 = {0}, r4 = {0};
	struct rpc_server *s;
	struct rpc_client *c;
	unsigned completed = 0;
	uint64_t h = 99;
	char url[160];
	int err;

	url_for(url, sizeof(url), "status.rpc");
	s = rpc_server_new(loop, url, &rpctest_svc, rpctest_handle, NULL, &err);
	assert_non_null(s);
	c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(c);
	r1.counter = r2.counter = r3.counter = r4.counter = &completed;
	call_fail(c, RPC_NOT_FOUND, "no such thing", &r1);
	call_fail(c, RPC_UNAVAILABLE, "", &r2);
	assert_int_equal(rpc_call(c, &req.base, 20000, res_cb, &r3, NULL), 0);
	big.size = RPC_MAX_MSG + 10;
	req.body_case = G3C__RPCTEST__REQUEST__BODY_BIG;
	req.big = &big;
	assert_int_equal(rpc_call(c, &req.base, 20000, res_cb, &r4, NULL), 0);
	assert_true(run_until(loop, &completed, 4, WAIT_S));
	assert_int_equal(r1.err, 0);
	assert_int_equal(r1.code, RPC_NOT_FOUND);
	assert_string_equal(r1.msg, "no such thing");
	assert_int_equal(r2.code, RPC_UNAVAILABLE);
	assert_string_equal(r2.msg, "");
	assert_int_equal(r3.code, RPC_INVALID_ARGUMENT);
	assert_string_equal(r3.msg, "empty request");
	assert_int_equal(r4.err, 0);
	assert_int_equal(r4.code, RPC_INTERNAL);
	assert_non_null(strstr(r4.msg, "reply too large"));
	assert_false(r4.has_echo);

	/* Requests over the limit and zero deadlines are refused up front. */
	e.data.len = RPC_MAX_MSG + 1;
	e.data.data = calloc(1, e.data.len);
	req.body_case = G3C__RPCTEST__REQUEST__BODY_ECHO;
	req.echo = &e;
	assert_int_equal(rpc_call(c, &req.base, 20000, res_cb, &r1, &h), -EMSGSIZE);
	assert_int_equal(h, 0);
	free(e.data.data);
	e.data.len = 0;
	e.data.data = NULL;
	assert_int_equal(rpc_call(c, &req.base, 0, res_cb, &r1, NULL), -EINVAL);
	assert_int_equal(rpc_client_pending(c), 0);

	/* A large but legal payload makes the round trip. */
	e.data.len = RPC_MAX_MSG - 64;
	e.data.data = calloc(1, e.data.len);
	memset(&r1, 0, sizeof(r1));
	assert_int_equal(rpc_call(c, &req.base, 20000, res_cb, &r1, NULL), 0);
	assert_true(run_until(loop, &r1.done, 1, WAIT_S));
	assert_int_equal(r1.err, 0);
	assert_int_equal(r1.code, RPC_OK);
	assert_int_equal(r1.datalen, RPC_MAX_MSG - 64);
	free(e.data.data);

	assert_string_equal(rpc_code_name(RPC_MALFORMED), "MALFORMED");
	assert_string_equal(rpc_code_name((enum rpc_code)99), "UNKNOWN");
	rpc_client_free(c);
	rpc_server_free(s);
	ev_loop_destroy(loop);
}

static void test_call_sync(void **state UNUSED)
{
	G3c__Rpctest__Request req = G3C__RPCTEST__REQUEST__INIT;
	G3c__Rpctest__Echo e = G3C__RPCTEST__ECHO__INIT;
	G3c__Rpctest__Fail f = G3C__RPCTEST__FAIL__INIT;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	G3c__Rpctest__Reply *rep;
	ProtobufCMessage *m = NULL;
	struct srv_thread *t;
	enum rpc_code code;
	char url[160], errbuf[128];
	int mute, fd;

	/* Success against a server on another thread. */
	url_for(url, sizeof(url), "sync.rpc");
	t = srv_thread_start(url);
	e.text = (char *)"sync";
	e.seq = 5;
	req.body_case = G3C__RPCTEST__REQUEST__BODY_ECHO;
	req.echo = &e;
	assert_int_equal(rpc_call_sync(url, &rpctest_svc, &req.base, 20000, &m, &code, errbuf,
				       sizeof(errbuf)),
			 0);
	assert_int_equal(code, RPC_OK);
	rep = (G3c__Rpctest__Reply *)m;
	assert_non_null(rep);
	assert_int_equal(rep->body_case, G3C__RPCTEST__REPLY__BODY_ECHO);
	assert_string_equal(rep->echo->text, "sync");
	assert_int_equal(rep->echo->seq, 5);
	protobuf_c_message_free_unpacked(m, NULL);

	/* A service error is a completed call with a status. */
	f.code = G3C__RPC__CODE__FAILED_PRECONDITION;
	f.message = (char *)"not ready";
	req.body_case = G3C__RPCTEST__REQUEST__BODY_FAIL;
	req.fail = &f;
	assert_int_equal(rpc_call_sync(url, &rpctest_svc, &req.base, 20000, &m, &code, errbuf,
				       sizeof(errbuf)),
			 0);
	assert_int_equal(code, RPC_FAILED_PRECONDITION);
	assert_string_equal(errbuf, "not ready");
	protobuf_c_message_free_unpacked(m, NULL);
	srv_thread_stop(t);
	free(t);

	/* Something listens but never answers: the deadline ends it. */
	url_for(url, sizeof(url), "mute.rpc");
	mute = nn_socket(AF_SP, NN_REP);
	assert_true(mute >= 0);
	assert_true(nn_bind(mute, url) >= 0);
	assert_int_equal(
		rpc_call_sync(url, &rpctest_svc, &req.base, 300, &m, &code, errbuf, sizeof(errbuf)),
		-ETIMEDOUT);
	assert_null(m);
	assert_int_equal(code, RPC_DEADLINE_EXCEEDED);
	nn_close(mute);

	/* No socket file at all, and a stale one nobody listens on. */
	url_for(url, sizeof(url), "nosuch.rpc");
	assert_int_equal(rpc_call_sync(url, &rpctest_svc, &req.base, 60000, &m, &code, errbuf,
				       sizeof(errbuf)),
			 -ECONNREFUSED);
	assert_null(m);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/stale.rpc", tmpdir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	url_for(url, sizeof(url), "stale.rpc");
	assert_int_equal(rpc_call_sync(url, &rpctest_svc, &req.base, 60000, &m, &code, errbuf,
				       sizeof(errbuf)),
			 -ECONNREFUSED);
	assert_true(errbuf[0] != '\0');
}

/* ---- server binding ----------------------------------------------------- */

static void test_server_bind_rules(void **state UNUSED)
{
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct rpc_server *s, *s2;
	struct rpc_client *c;
	char url[160], path[160];
	int fd, err;

	/* A stale socket file is replaced. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/bind.rpc", tmpdir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	url_for(url, sizeof(url), "bind.rpc");
	s = rpc_server_new(loop, url, &rpctest_svc, rpctest_handle, NULL, &err);
	assert_non_null(s);
	assert_int_equal(err, 0);

	/* A live server's socket is not stolen. */
	s2 = rpc_server_new(loop, url, &rpctest_svc, rpctest_handle, NULL, &err);
	assert_null(s2);
	assert_int_equal(err, -EADDRINUSE);
	c = rpc_client_new(loop, url, &rpctest_svc, &err);
	assert_non_null(c);
	echo_ok(loop, c, 1);
	rpc_client_free(c);
	rpc_server_free(s);

	/* Neither is a file that is not a socket. */
	snprintf(path, sizeof(path), "%s/regular.rpc", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	url_for(url, sizeof(url), "regular.rpc");
	assert_null(rpc_server_new(loop, url, &rpctest_svc, rpctest_handle, NULL, &err));
	assert_int_equal(err, -EEXIST);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);

	/* Bad urls fail cleanly on both sides. */
	assert_null(rpc_server_new(loop, "nope://x", &rpctest_svc, rpctest_handle, NULL, &err));
	assert_true(err < 0);
	assert_null(rpc_client_new(loop, "nope", &rpctest_svc, &err));
	assert_true(err < 0);
	ev_loop_destroy(loop);
}

/* ---- dispatch without sockets ------------------------------------------- */

static G3c__Rpctest__Reply *dispatch(const uint8_t *p, size_t len, int want)
{
	G3c__Rpctest__Reply *rep = NULL;
	uint8_t *out = NULL;
	size_t outlen = 0;

	assert_int_equal(
		rpc_dispatch_buffer(&rpctest_svc, rpctest_handle, NULL, p, len, &out, &outlen),
		want);
	if (want == 0) {
		rep = g3c__rpctest__reply__unpack(NULL, outlen, out);
		assert_non_null(rep);
	} else {
		assert_null(out);
	}
	free(out);
	return rep;
}

static void test_dispatch_buffer(void **state UNUSED)
{
	G3c__Rpctest__Request req = G3C__RPCTEST__REQUEST__INIT;
	G3c__Rpctest__Echo e = G3C__RPCTEST__ECHO__INIT;
	static const uint8_t junk[] = {0x0f, 0xff, 0x07};
	G3c__Rpctest__Reply *rep;
	uint8_t packed[128], *big;
	size_t len;

	e.text = (char *)"direct";
	e.seq = 12;
	req.id = 1234;
	req.deadline_ms = 1000;
	req.body_case = G3C__RPCTEST__REQUEST__BODY_ECHO;
	req.echo = &e;
	len = g3c__rpctest__request__pack(&req, packed);
	rep = dispatch(packed, len, 0);
	assert_int_equal(rep->id, 1234);
	assert_int_equal(rep->status->code, RPC_OK);
	assert_string_equal(rep->echo->text, "direct");
	assert_int_equal(rep->echo->seq, 12);
	g3c__rpctest__reply__free_unpacked(rep, NULL);

	assert_null(dispatch(junk, sizeof(junk), -EBADMSG));
	rep = dispatch(packed, 0, 0); /* empty is a valid message without a body */
	assert_int_equal(rep->id, 0);
	assert_int_equal(rep->status->code, RPC_INVALID_ARGUMENT);
	assert_string_equal(rep->status->message, "empty request");
	g3c__rpctest__reply__free_unpacked(rep, NULL);

	rep = dispatch(packed, len - 3, 0); /* truncated, id first */
	assert_int_equal(rep->id, 1234);
	assert_int_equal(rep->status->code, RPC_MALFORMED);
	g3c__rpctest__reply__free_unpacked(rep, NULL);

	big = calloc(1, RPC_MAX_MSG + 1);
	big[0] = 0x08;
	big[1] = 0x05;
	rep = dispatch(big, RPC_MAX_MSG + 1, 0);
	assert_int_equal(rep->id, 5);
	assert_int_equal(rep->status->code, RPC_MALFORMED);
	assert_string_equal(rep->status->message, "request too large");
	g3c__rpctest__reply__free_unpacked(rep, NULL);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_and_limits),
		cmocka_unit_test(test_call_sync),
		cmocka_unit_test(test_server_bind_rules),
		cmocka_unit_test(test_dispatch_buffer),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
