/* Unit tests for the control handler over a fake ops table (status
 * contents, reload error propagation, offline, daemon-specific requests), the
 * graceful and immediate stop sequences, and the stat timer. */
#include "common/daemon_int.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/conf.h"
#include "common/rpc_int.h"
#include "proto/control.pb-c.h"
/* ---- fake daemon ------------------------------------------------------------ */

struct fake_conf {
	struct daemon_conf dc;
	struct conf_arena *arena;
};

static struct {
	int loads, reloads, offlines, stops, frees, control_calls, emits;
	int reload_ret;
	const char *reload_err;
	uint64_t alive;
	void *control_ctx;
} F;

/* Loader shaped like a daemon's: common keys, `name: x`, the rest unknown. */
static void *fake_load(struct conf_ctx *ctx, const char *path)
{
	const struct conf_node *root;
	struct fake_conf *c;

	F.loads++;
	if (conf_load_main(ctx, path, "testd", &root) != 0)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	daemon_conf_defaults(&c->dc, "testd");
	for (const struct conf_node *k = root->kind == CONF_MAP ? root->child : NULL; k;
	     k = k->next) {
		if (daemon_conf_parse_key(ctx, k, &c->dc))
			continue;
		if (conf_key_is(k, "name"))
			continue;
		conf_error(ctx, k, "unknown key '%s'", k->str);
	}
	if (ctx->nerr) {
		free(c);
		return NULL;
	}
	c->arena = conf_ctx_take_arena(ctx);
	return c;
}

static void fake_free(void *p)
{
	struct fake_conf *c = p;

	if (!c)
		return;
	F.frees++;
	conf_arena_free(c->arena);
	free(c);
}

static const struct daemon_conf *fake_common(const void *p)
{
	return &((const struct fake_conf *)p)->dc;
}

static int fake_reload(struct daemon *d, void *conf, char *err, size_t errlen)
{
	(void)d;
	if (F.reload_ret) {
		snprintf(err, errlen, "%s", F.reload_err ? F.reload_err : "");
		return F.reload_ret;
	}
	F.reloads++;
	fake_free(conf);
	return 0;
}

static void fake_offline(struct daemon *d)
{
	(void)d;
	F.offlines++;
}

static uint64_t fake_alive(struct daemon *d)
{
	(void)d;
	return F.alive;
}

static void fake_stop(struct daemon *d)
{
	(void)d;
	F.stops++;
}

static void fake_counters(struct daemon *d, void (*add)(void *, const char *, uint64_t), void *arg)
{
	(void)d;
	add(arg, "server.conn_total", 12);
	add(arg, "server.task_alive", F.alive);
}

static enum rpc_code fake_control(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *rep,
				  struct rpc_arena *a)
{
	(void)req;
	(void)rep;
	F.control_calls++;
	F.control_ctx = ctx;
	rpc_arena_set_error(a, "no such user group");
	return RPC_NOT_FOUND;
}

static void fake_emit(struct daemon *d, struct statsd *s)
{
	(void)d;
	F.emits++;
	statsd_count(s, "fake.count", 3, NULL);
}

static const struct daemon_ops fake_ops = {
	.name = "testd",
	.default_conf = "/etc/g3c/testd.yaml",
	.conf_load = fake_load,
	.conf_free = fake_free,
	.conf_common = fake_common,
	.reload = fake_reload,
	.offline = fake_offline,
	.alive = fake_alive,
	.stop = fake_stop,
	.counters = fake_counters,
};

static char tmp_conf[64];

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup_file(void **state)
{
	int fd;

	(void)state;
	memset(&F, 0, sizeof(F));
	snprintf(tmp_conf, sizeof(tmp_conf), "/tmp/test_daemon_XXXXXX.yaml");
	fd = mkstemps(tmp_conf, 5);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int teardown_file(void **state)
{
	(void)state;
	unlink(tmp_conf);
	return 0;
}

/* A fake started daemon: no loop, so actions only change fields. */
static void fake_daemon(struct daemon *d, const struct daemon_ops *ops)
{
	struct daemon_opts opts = {
		.conf_path = tmp_conf,
		.group = "g1",
		.control_dir = "/tmp",
	};

	daemon_state_init(d, ops, &opts, NULL);
	d->conf_abs = tmp_conf;
	d->started = true;
	d->online = true;
}

/* Pack req, run the control handler through the rpc layer, unpack. */
static G3c__Control__Reply *ctl_call(struct daemon *d, G3c__Control__Request *req)
{
	size_t len = g3c__control__request__get_packed_size(req);
	uint8_t *buf = xmalloc(len + 1);
	uint8_t *out = NULL;
	size_t outlen = 0;
	G3c__Control__Reply *rep;

	g3c__control__request__pack(req, buf);
	assert_int_equal(rpc_dispatch_buffer(&daemon_ctl_service, daemon_ctl_handle, d, buf, len,
					     &out, &outlen),
			 0);
	rep = g3c__control__reply__unpack(NULL, outlen, out);
	assert_non_null(rep);
	free(buf);
	free(out);
	return rep;
}

static int rep_code(const G3c__Control__Reply *rep)
{
	return rep->status ? (int)rep->status->code : 0;
}

static const char *rep_msg(const G3c__Control__Reply *rep)
{
	return rep->status && rep->status->message ? rep->status->message : "";
}

/* Load text as main.yaml and feed every top-level key to the common parser;
 * returns the number of keys that were not common ones. */
static unsigned parse_conf(struct conf_ctx *ctx, const char *text, struct daemon_conf *dc)
{
	const struct conf_node *root;
	unsigned other = 0;

	conf_ctx_init(ctx, "main.yaml");
	daemon_conf_defaults(dc, "testd");
	assert_int_equal(conf_load_buffer(ctx, "main.yaml", text, strlen(text), &root), 0);
	for (const struct conf_node *k = root->kind == CONF_MAP ? root->child : NULL; k;
	     k = k->next)
		if (!daemon_conf_parse_key(ctx, k, dc))
			other++;
	return other;
}

/* ---- control handler ---------------------------------------------------------- */

static void test_ctl_version(void **state)
{
	struct daemon d;
	G3c__Control__Request req = G3C__CONTROL__REQUEST__INIT;
	G3c__Control__VersionReq body = G3C__CONTROL__VERSION_REQ__INIT;
	G3c__Control__Reply *rep;

	(void)state;
	fake_daemon(&d, &fake_ops);
	req.id = 7;
	req.body_case = G3C__CONTROL__REQUEST__BODY_VERSION;
	req.version = &body;
	rep = ctl_call(&d, &req);
	assert_int_equal(rep_code(rep), RPC_OK);
	assert_int_equal(rep->id, 7);
	assert_int_equal(rep->body_case, G3C__CONTROL__REPLY__BODY_VERSION);
	assert_string_equal(rep->version->name, "testd");
	assert_string_equal(rep->version->version, G3C_VERSION);
	g3c__control__reply__free_unpacked(rep, NULL);
}

static void test_ctl_status(void **state)
{
	struct daemon d;
	G3c__Control__Request req = G3C__CONTROL__REQUEST__INIT;
	G3c__Control__StatusReq body = G3C__CONTROL__STATUS_REQ__INIT;
	G3c__Control__Reply *rep;
	G3c__Control__StatusRep *s;

	(void)state;
	fake_daemon(&d, &fake_ops);
	d.reload_ok = 3;
	d.reload_failed = 2;
	d.load_wall_us = 1234567;
	F.alive = 5;
	req.body_case = G3C__CONTROL__REQUEST__BODY_STATUS;
	req.status = &body;
	rep = ctl_call(&d, &req);
	assert_int_equal(rep_code(rep), RPC_OK);
	assert_int_equal(rep->body_case, G3C__CONTROL__REPLY__BODY_STATUS_REP);
	s = rep->status_rep;
	assert_string_equal(s->name, "testd");
	assert_string_equal(s->version, G3C_VERSION);
	assert_string_equal(s->group, "g1");
	assert_int_equal(s->pid, getpid());
	assert_string_equal(s->conf_path, tmp_conf);
	assert_int_equal(s->load_time_us, 1234567);
	assert_int_equal(s->start_time_us, d.start_wall_us);
	assert_true(s->uptime_ms < 10000);
	assert_int_equal(s->reload_ok, 3);
	assert_int_equal(s->reload_failed, 2);
	assert_true(s->online);
	assert_false(s->stopping);
	assert_int_equal(s->alive_tasks, 5);
	assert_int_equal(s->n_counters, 2);
	assert_string_equal(s->counters[0]->name, "server.conn_total");
	assert_int_equal(s->counters[0]->value, 12);
	assert_string_equal(s->counters[1]->name, "server.task_alive");
	assert_int_equal(s->counters[1]->value, 5);
	g3c__control__reply__free_unpacked(rep, NULL);

	/* Not started yet: no task count, no counters asked for. */
	d.started = false;
	rep = ctl_call(&d, &req);
	assert_int_equal(rep->status_rep->alive_tasks, 0);
	assert_int_equal(rep->status_rep->n_counters, 0);
	g3c__control__reply__free_unpacked(rep, NULL);
}

static G3c__Control__Reply *reload_call(struct daemon *d)
{
	static G3c__Control__ReloadReq body = G3C__CONTROL__RELOAD_REQ__INIT;
	G3c__Control__Request req = G3C__CONTROL__REQUEST__INIT;

	req.body_case = G3C__CONTROL__REQUEST__BODY_RELOAD;
	req.reload = &body;
	return ctl_call(d, &req);
}

static void test_ctl_reload_ok(void **state)
{
	struct daemon d;
	G3c__Control__Reply *rep;

	(void)state;
	fake_daemon(&d, &fake_ops);
	d.load_wall_us = 1;
	write_file(tmp_conf, "name: x\nruntime: {server_offline_delay: 0}\n");
	rep = reload_call(&d);
	assert_int_equal(rep_code(rep), RPC_OK);
	assert_int_equal(rep->body_case, G3C__CONTROL__REPLY__BODY_RELOAD);
	assert_int_equal(rep->reload->reload_ok, 1);
	assert_true(rep->reload->load_time_us > 1);
	assert_int_equal(rep->reload->load_time_us, d.load_wall_us);
	assert_int_equal(F.reloads, 1);
	assert_int_equal(d.reload_ok, 1);
	assert_int_equal(d.reload_failed, 0);
	/* Non-reloadable settings keep the values the daemon started with. */
	assert_int_equal(d.dc.offline_delay_ms, 4000);
	g3c__control__reply__free_unpacked(rep, NULL);
}

static void test_ctl_reload_config_errors(void **state)
{
	struct daemon d;
	G3c__Control__Reply *rep;
	char want[512];

	(void)state;
	fake_daemon(&d, &fake_ops);
	d.load_wall_us = 1;
	write_file(tmp_conf, "runtime:\n  bogus: 1\nother: 2\n");
	rep = reload_call(&d);
	assert_int_equal(rep_code(rep), RPC_FAILED_PRECONDITION);
	assert_int_equal(rep->body_case, G3C__CONTROL__REPLY__BODY__NOT_SET);
	snprintf(want, sizeof(want),
		 "%s:2:3: error: runtime: unknown key 'bogus'\n"
		 "%s:3:1: error: unknown key 'other'",
		 tmp_conf, tmp_conf);
	assert_string_equal(rep_msg(rep), want);
	assert_int_equal(F.reloads, 0);
	assert_int_equal(d.reload_failed, 1);
	assert_int_equal(d.reload_ok, 0);
	assert_int_equal(d.load_wall_us, 1);
	g3c__control__reply__free_unpacked(rep, NULL);

	/* A missing file is an error too, with the path. */
	unlink(tmp_conf);
	rep = reload_call(&d);
	assert_int_equal(rep_code(rep), RPC_FAILED_PRECONDITION);
	assert_non_null(strstr(rep_msg(rep), tmp_conf));
	assert_int_equal(d.reload_failed, 2);
	g3c__control__reply__free_unpacked(rep, NULL);
}

static void test_ctl_reload_apply_fails(void **state)
{
	struct daemon d;
	G3c__Control__Reply *rep;

	(void)state;
	fake_daemon(&d, &fake_ops);
	write_file(tmp_conf, "name: x\n");
	F.reload_ret = -EADDRINUSE;
	F.reload_err = "server[0]: cannot listen on 127.0.0.1:1080: Address already in use";
	rep = reload_call(&d);
	assert_int_equal(rep_code(rep), RPC_FAILED_PRECONDITION);
	assert_string_equal(rep_msg(rep), F.reload_err);
	assert_int_equal(F.frees, 1); /* the rejected config is released */
	assert_int_equal(d.reload_failed, 1);
	g3c__control__reply__free_unpacked(rep, NULL);

	/* Without a message the errno text is used. */
	F.reload_err = NULL;
	rep = reload_call(&d);
	assert_string_equal(rep_msg(rep), strerror(EADDRINUSE));
	g3c__control__reply__free_unpacked(rep, NULL);
}

static G3c__Control__Reply *offline_call(struct daemon *d)
{
	static G3c__Control__OfflineReq body = G3C__CONTROL__OFFLINE_REQ__INIT;
	G3c__Control__Request req = G3C__CONTROL__REQUEST__INIT;

	req.body_case = G3C__CONTROL__REQUEST__BODY_OFFLINE;
	req.offline = &body;
	return ctl_call(d, &req);
}

static void test_ctl_offline_and_drain(void **state)
{
	struct daemon d;
	G3c__Control__Reply *rep;

	(void)state;
	fake_daemon(&d, &fake_ops);
	d.dc.offline_delay_ms = 1500;
	d.dc.task_wait_delay_ms = 700;
	rep = offline_call(&d);
	assert_int_equal(rep_code(rep), RPC_OK);
	assert_false(rep->offline->already_stopping);
	assert_int_equal(rep->offline->offline_delay_ms, 1500);
	assert_int_equal(rep->offline->task_wait_timeout_ms, 10ull * 3600 * 1000);
	g3c__control__reply__free_unpacked(rep, NULL);
	/* Servers stay online through the offline delay. */
	assert_int_equal(d.phase, DAEMON_PH_OFFLINE_WAIT);
	assert_int_equal(F.offlines, 0);
	assert_true(d.online);

	rep = offline_call(&d);
	assert_true(rep->offline->already_stopping);
	g3c__control__reply__free_unpacked(rep, NULL);

	/* Reload is refused while stopping. */
	write_file(tmp_conf, "name: x\n");
	rep = reload_call(&d);
	assert_int_equal(rep_code(rep), RPC_FAILED_PRECONDITION);
	assert_string_equal(rep_msg(rep), "the daemon is stopping: reload refused");
	g3c__control__reply__free_unpacked(rep, NULL);

	F.alive = 2;
	assert_int_equal(daemon_stop_step(&d), 700); /* offline, then task_wait_delay */
	assert_int_equal(F.offlines, 1);
	assert_false(d.online);
	assert_int_equal(d.phase, DAEMON_PH_TASK_WAIT);
	assert_int_equal(daemon_stop_step(&d), DAEMON_DRAIN_POLL_MS);
	assert_int_equal(d.phase, DAEMON_PH_DRAIN);
	assert_int_equal(daemon_stop_step(&d), DAEMON_DRAIN_POLL_MS);
	F.alive = 0;
	assert_int_equal(daemon_stop_step(&d), -1);
	assert_int_equal(d.phase, DAEMON_PH_DONE);
	assert_int_equal(F.offlines, 1);
	assert_false(daemon_begin_stop(&d, false)); /* nothing left to stop */
}

static G3c__Control__Reply *release_call(struct daemon *d, uint32_t pid)
{
	G3c__Control__ReleaseControllerReq body = G3C__CONTROL__RELEASE_CONTROLLER_REQ__INIT;
	G3c__Control__Request req = G3C__CONTROL__REQUEST__INIT;

	body.pid = pid;
	req.body_case = G3C__CONTROL__REQUEST__BODY_RELEASE_CONTROLLER;
	req.release_controller = &body;
	return ctl_call(d, &req);
}

static G3c__Control__Reply *cancel_call(struct daemon *d)
{
	static G3c__Control__CancelShutdownReq body = G3C__CONTROL__CANCEL_SHUTDOWN_REQ__INIT;
	G3c__Control__Request req = G3C__CONTROL__REQUEST__INIT;

	req.body_case = G3C__CONTROL__REQUEST__BODY_CANCEL_SHUTDOWN;
	req.cancel_shutdown = &body;
	return ctl_call(d, &req);
}

/* Hot upgrade, old side: release once, refused twice; the successor's
 * Offline retires us, its CancelShutdown takes the socket back. */
static void test_ctl_release_controller(void **state)
{
	struct daemon d;
	G3c__Control__Reply *rep;

	(void)state;
	fake_daemon(&d, &fake_ops);
	d.pid = 4242;
	rep = release_call(&d, 5151);
	assert_int_equal(rep_code(rep), RPC_OK);
	assert_int_equal(rep->body_case, G3C__CONTROL__REPLY__BODY_RELEASE_CONTROLLER);
	assert_int_equal(rep->release_controller->pid, 4242);
	assert_int_equal(rep->release_controller->resume_after_ms, DAEMON_UPGRADE_RESUME_MS);
	g3c__control__reply__free_unpacked(rep, NULL);
	assert_true(d.released);
	assert_int_equal(d.successor, 5151);
	/* serving goes on until the successor says so */
	assert_int_equal(d.phase, DAEMON_PH_RUNNING);
	assert_true(d.online);

	rep = release_call(&d, 6161);
	assert_int_equal(rep_code(rep), RPC_FAILED_PRECONDITION);
	assert_non_null(strstr(rep_msg(rep), "already handed over"));
	g3c__control__reply__free_unpacked(rep, NULL);
	assert_int_equal(d.successor, 5151);

	/* the successor failed to start: serve on */
	rep = cancel_call(&d);
	assert_int_equal(rep_code(rep), RPC_OK);
	assert_false(rep->cancel_shutdown->cancelled);
	assert_true(rep->cancel_shutdown->controller_resumed);
	g3c__control__reply__free_unpacked(rep, NULL);
	assert_false(d.released);
	assert_int_equal(d.phase, DAEMON_PH_RUNNING);

	/* a second attempt that succeeds: Offline starts the graceful stop */
	rep = release_call(&d, 7171);
	assert_int_equal(rep_code(rep), RPC_OK);
	g3c__control__reply__free_unpacked(rep, NULL);
	rep = offline_call(&d);
	assert_int_equal(rep_code(rep), RPC_OK);
	g3c__control__reply__free_unpacked(rep, NULL);
	assert_int_equal(d.phase, DAEMON_PH_OFFLINE_WAIT);

	/* a stopping daemon does not hand over again */
	d.released = false;
	assert_int_equal(daemon_stop_step(&d), (int64_t)d.dc.task_wait_delay_ms);
	rep = release_call(&d, 8181);
	assert_int_equal(rep_code(rep), RPC_FAILED_PRECONDITION);
	assert_non_null(strstr(rep_msg(rep), "stopping"));
	g3c__control__reply__free_unpacked(rep, NULL);
}

/* cancel-shutdown: only inside the offline delay window. */
static void test_ctl_cancel_shutdown(void **state)
{
	struct daemon d;
	G3c__Control__Reply *rep;

	(void)state;
	fake_daemon(&d, &fake_ops);
	rep = cancel_call(&d); /* nothing to cancel */
	assert_int_equal(rep_code(rep), RPC_OK);
	assert_false(rep->cancel_shutdown->cancelled);
	assert_false(rep->cancel_shutdown->controller_resumed);
	g3c__control__reply__free_unpacked(rep, NULL);

	rep = offline_call(&d);
	g3c__control__reply__free_unpacked(rep, NULL);
	assert_int_equal(d.phase, DAEMON_PH_OFFLINE_WAIT);
	rep = cancel_call(&d);
	assert_int_equal(rep_code(rep), RPC_OK);
	assert_true(rep->cancel_shutdown->cancelled);
	g3c__control__reply__free_unpacked(rep, NULL);
	assert_int_equal(d.phase, DAEMON_PH_RUNNING);
	assert_true(d.online);
	assert_int_equal(F.offlines, 0);

	/* once servers went offline it is too late */
	rep = offline_call(&d);
	g3c__control__reply__free_unpacked(rep, NULL);
	(void)daemon_stop_step(&d);
	assert_false(d.online);
	rep = cancel_call(&d);
	assert_int_equal(rep_code(rep), RPC_FAILED_PRECONDITION);
	assert_non_null(strstr(rep_msg(rep), "already offline"));
	g3c__control__reply__free_unpacked(rep, NULL);
}

static void test_stop_drain_timeout(void **state)
{
	struct daemon d;

	(void)state;
	fake_daemon(&d, &fake_ops);
	d.dc.task_wait_timeout_ms = 0;
	F.alive = 9;
	assert_true(daemon_begin_stop(&d, true));
	assert_int_equal(daemon_stop_step(&d), 2000);
	assert_int_equal(daemon_stop_step(&d), -1); /* the bound is reached at once */
	assert_int_equal(d.phase, DAEMON_PH_DONE);

	/* The poll never sleeps past the bound. */
	fake_daemon(&d, &fake_ops);
	d.dc.task_wait_timeout_ms = 50;
	assert_true(daemon_begin_stop(&d, true));
	daemon_stop_step(&d);
	int64_t next = daemon_stop_step(&d);
	assert_true(next > 0 && next <= 50);
}

static void test_stop_immediate(void **state)
{
	struct daemon d;

	(void)state;
	fake_daemon(&d, &fake_ops);
	F.alive = 4;
	assert_true(daemon_begin_stop(&d, false));
	assert_int_equal(F.offlines, 1);
	assert_int_equal(d.phase, DAEMON_PH_DONE);
	assert_false(d.online);

	/* During a graceful wait an immediate stop still goes offline once. */
	fake_daemon(&d, &fake_ops);
	F.offlines = 0;
	assert_true(daemon_begin_stop(&d, true));
	assert_false(daemon_begin_stop(&d, true));
	assert_true(daemon_begin_stop(&d, false));
	assert_int_equal(F.offlines, 1);
	assert_int_equal(d.phase, DAEMON_PH_DONE);
}

static void test_ctl_bad_requests(void **state)
{
	struct daemon d;
	G3c__Control__Request req = G3C__CONTROL__REQUEST__INIT;
	G3c__Control__Reply *rep;
	/* id = 9, then field 99 (length-delimited, empty; no member has that
	 * number yet): a member from a newer control.proto. */
	static const uint8_t newer[] = {0x08, 0x09, 0x9a, 0x06, 0x00};
	uint8_t *out = NULL;
	size_t outlen = 0;

	(void)state;
	fake_daemon(&d, &fake_ops);
	rep = ctl_call(&d, &req);
	assert_int_equal(rep_code(rep), RPC_INVALID_ARGUMENT);
	assert_string_equal(rep_msg(rep), "empty request");
	g3c__control__reply__free_unpacked(rep, NULL);

	assert_int_equal(rpc_dispatch_buffer(&daemon_ctl_service, daemon_ctl_handle, &d, newer,
					     sizeof(newer), &out, &outlen),
			 0);
	rep = g3c__control__reply__unpack(NULL, outlen, out);
	assert_non_null(rep);
	assert_int_equal(rep->id, 9);
	assert_int_equal(rep_code(rep), RPC_UNIMPLEMENTED);
	assert_string_equal(rep_msg(rep), "testd does not know this request (field 99)");
	g3c__control__reply__free_unpacked(rep, NULL);
	free(out);
}

/* Daemon-specific members go to ops->control, with the daemon as ctx. No
 * such member exists in control.proto yet, so the request is built by hand
 * and the handler called directly. */
static void test_ctl_daemon_specific(void **state)
{
	struct daemon d;
	struct daemon_ops ops = fake_ops;
	G3c__Control__Request req = G3C__CONTROL__REQUEST__INIT;
	G3c__Control__Reply rep = G3C__CONTROL__REPLY__INIT;
	struct rpc_arena *a = rpc_arena_new();

	(void)state;
	req.body_case = (G3c__Control__Request__BodyCase)50;
	fake_daemon(&d, &ops);
	assert_int_equal(daemon_ctl_handle(&d, &req.base, &rep.base, a), RPC_UNIMPLEMENTED);
	assert_string_equal(rpc_arena_error(a), "testd does not implement request 50");
	rpc_arena_reset(a);

	ops.control = fake_control;
	assert_int_equal(daemon_ctl_handle(&d, &req.base, &rep.base, a), RPC_NOT_FOUND);
	assert_int_equal(F.control_calls, 1);
	assert_ptr_equal(F.control_ctx, &d);
	assert_string_equal(rpc_arena_error(a), "no such user group");
	rpc_arena_free(a);
}

static void on_break(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

/* With `stat:` the main loop calls ops->emit_metrics every emit_interval,
 * between statsd_begin and statsd_end, so its lines reach the target. */
static void test_stat_timer(void **state)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t slen = sizeof(sin);
	struct daemon_ops ops = fake_ops;
	struct conf_ctx ctx;
	struct daemon_conf dc;
	struct daemon d;
	ev_timer brk;
	char text[128], buf[2048];
	ssize_t n;
	int fd;

	(void)state;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(text, sizeof(text), "stat: {target_udp: '127.0.0.1:%u', emit_interval: 20ms}\n",
		 ntohs(sin.sin_port));
	parse_conf(&ctx, text, &dc);
	assert_int_equal(ctx.nerr, 0);
	conf_ctx_fini(&ctx);

	ops.emit_metrics = fake_emit;
	fake_daemon(&d, &ops);
	d.dc.stat = dc.stat;
	d.loop = ev_loop_new(0);
	assert_int_equal(daemon_run_prepare(&d), 0);
	ev_timer_init(&brk, on_break, 0.2, 0.);
	ev_timer_start(d.loop, &brk);
	ev_run(d.loop, 0);
	assert_true(F.emits >= 2);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_memory_equal(buf, "testd.fake.count:3|c", strlen("testd.fake.count:3|c"));
	daemon_run_cleanup(&d);
	ev_loop_destroy(d.loop);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ctl_version, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_ctl_status, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_ctl_reload_ok, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_ctl_reload_config_errors, setup_file,
						teardown_file),
		cmocka_unit_test_setup_teardown(test_ctl_reload_apply_fails, setup_file,
						teardown_file),
		cmocka_unit_test_setup_teardown(test_ctl_offline_and_drain, setup_file,
						teardown_file),
		cmocka_unit_test_setup_teardown(test_stop_drain_timeout, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_ctl_release_controller, setup_file,
						teardown_file),
		cmocka_unit_test_setup_teardown(test_ctl_cancel_shutdown, setup_file,
						teardown_file),
		cmocka_unit_test_setup_teardown(test_stop_immediate, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_ctl_bad_requests, setup_file, teardown_file),
		cmocka_unit_test_setup_teardown(test_ctl_daemon_specific, setup_file,
						teardown_file),
		cmocka_unit_test_setup_teardown(test_stat_timer, setup_file, teardown_file),
	};

	/* Keep the process log quiet unless something is wrong. */
	log_init("test_daemon_ctl", NULL, LOG_SINK_STDERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
