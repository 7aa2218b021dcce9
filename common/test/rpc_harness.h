/* Test harness shared by common/test/test_rpc*.c: a mkdtemp() directory
 * for ipc:// paths, loop runners bounded by wall time, a completion record,
 * and an rpctest server on its own thread and loop. Header-only (static
 * inline so each test uses what it needs); include after <cmocka.h>. */
#ifndef G3C_COMMON_TEST_RPC_HARNESS_H
#define G3C_COMMON_TEST_RPC_HARNESS_H

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/rpc.h"
#include "common/test/rpctest_svc.h"

#define WAIT_S 30.0 /* upper bound for anything that should happen */

static char tmpdir[64];

static inline void url_for(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "ipc://%s/%s", tmpdir, name);
}

/* ---- loop helpers ------------------------------------------------------- */

static inline void tick_cb(struct ev_loop *loop UNUSED, ev_timer *w UNUSED, int revents UNUSED)
{
}

/* Run `loop` until *counter >= target or `secs` pass; true if reached. */
static inline bool run_until(struct ev_loop *loop, const unsigned *counter, unsigned target,
			     double secs)
{
	ev_timer tick;
	uint64_t end = util_mono_ns() + (uint64_t)(secs * 1e9);

	ev_timer_init(&tick, tick_cb, 0.02, 0.02);
	ev_timer_start(loop, &tick);
	while (*counter < target && util_mono_ns() < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	return *counter >= target;
}

/* Run `loop` for `secs` (lets late replies and timers fire). */
static inline void run_for(struct ev_loop *loop, double secs)
{
	unsigned never = 0;
	(void)run_until(loop, &never, 1, secs);
}

/* ---- results ------------------------------------------------------------ */

struct res {
	unsigned done;
	int err;
	enum rpc_code code;
	char msg[128];
	bool has_echo;
	uint64_t seq;
	char text[64];
	size_t datalen;
	bool rep_null;
	unsigned *counter; /* bumped on completion when set */
};

static inline void res_cb(void *arg, int err, enum rpc_code code, const char *errmsg,
			  const ProtobufCMessage *rep_)
{
	struct res *r = arg;
	const G3c__Rpctest__Reply *rep = (const G3c__Rpctest__Reply *)rep_;

	r->done++;
	r->err = err;
	r->code = code;
	assert_non_null(errmsg);
	snprintf(r->msg, sizeof(r->msg), "%s", errmsg);
	r->rep_null = rep == NULL;
	if (rep && rep->body_case == G3C__RPCTEST__REPLY__BODY_ECHO) {
		r->has_echo = true;
		r->seq = rep->echo->seq;
		snprintf(r->text, sizeof(r->text), "%s", rep->echo->text ? rep->echo->text : "");
		r->datalen = rep->echo->data.len;
	}
	if (r->counter)
		(*r->counter)++;
}

static inline int call_echo(struct rpc_client *c, const char *text, uint64_t seq,
			    uint32_t deadline_ms, struct res *r, uint64_t *handle)
{
	G3c__Rpctest__Request req = G3C__RPCTEST__REQUEST__INIT;
	G3c__Rpctest__Echo e = G3C__RPCTEST__ECHO__INIT;

	e.text = (char *)text;
	e.seq = seq;
	req.body_case = G3C__RPCTEST__REQUEST__BODY_ECHO;
	req.echo = &e;
	return rpc_call(c, &req.base, deadline_ms, res_cb, r, handle);
}

/* One echo call, run to completion; asserts success. */
static inline void echo_ok(struct ev_loop *loop, struct rpc_client *c, uint64_t seq)
{
	struct res r = {0};

	assert_int_equal(call_echo(c, "ping", seq, 20000, &r, NULL), 0);
	assert_true(run_until(loop, &r.done, 1, WAIT_S));
	assert_int_equal(r.err, 0);
	assert_int_equal(r.code, RPC_OK);
	assert_true(r.has_echo);
	assert_int_equal(r.seq, seq);
	assert_string_equal(r.text, "ping");
}

/* ---- server on its own thread and loop ---------------------------------- */

struct srv_thread {
	pthread_t th;
	char url[160];
	struct ev_loop *loop;
	ev_async stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool ready;
	int err;
	unsigned handled;
	struct rpc_server_stats stats;
};

static inline void srv_on_stop(struct ev_loop *loop, ev_async *w UNUSED, int revents UNUSED)
{
	ev_break(loop, EVBREAK_ALL);
}

static inline void *srv_main(void *arg)
{
	struct srv_thread *t = arg;
	struct rpc_server *s;
	int err;

	t->loop = ev_loop_new(EVFLAG_AUTO);
	s = rpc_server_new(t->loop, t->url, &rpctest_svc, rpctest_handle, &t->handled, &err);
	ev_async_init(&t->stop, srv_on_stop);
	ev_async_start(t->loop, &t->stop);
	pthread_mutex_lock(&t->mu);
	t->err = err;
	t->ready = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	if (s) {
		ev_run(t->loop, 0);
		rpc_server_get_stats(s, &t->stats);
		rpc_server_free(s);
	}
	ev_async_stop(t->loop, &t->stop);
	ev_loop_destroy(t->loop);
	return NULL;
}

static inline struct srv_thread *srv_thread_start(const char *url)
{
	struct srv_thread *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	snprintf(t->url, sizeof(t->url), "%s", url);
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	assert_int_equal(pthread_create(&t->th, NULL, srv_main, t), 0);
	pthread_mutex_lock(&t->mu);
	while (!t->ready)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
	assert_int_equal(t->err, 0);
	return t;
}

/* Stops the thread; its final stats stay readable in t until free(t). */
static inline void srv_thread_stop(struct srv_thread *t)
{
	ev_async_send(t->loop, &t->stop);
	assert_int_equal(pthread_join(t->th, NULL), 0);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
}

/* ---- group setup: the socket directory ---------------------------------- */

static inline int group_setup(void **state UNUSED)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/g3c-rpc-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static inline int rm_entry(const char *path, const struct stat *sb UNUSED, int flag UNUSED,
			   struct FTW *ftw UNUSED)
{
	return remove(path);
}

static inline int group_teardown(void **state UNUSED)
{
	return nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
