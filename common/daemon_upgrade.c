/* Hot upgrade: a second process of the same daemon name and group replaces
 * the running one without closing its listeners (g3proxy's hand-over,
 * spec §6, over our control protocol instead of Cap'n Proto).
 *
 *   new process                          old process (holds <name>[_<group>].ctl)
 *   config loaded and valid
 *   own socket <name>[_<group>]@<pid>.ctl
 *   shared socket busy → ReleaseController ─▶ replies its pid, hands over its
 *                                             pid file, closes the shared socket
 *                                             after the reply left, arms a resume
 *                                             timer (DAEMON_UPGRADE_RESUME_MS)
 *   binds the shared socket (retrying until the old one let go)
 *   ops->start: listeners bound with SO_REUSEPORT next to the old ones
 *   ok     → Offline to <name>[_<group>]@<oldpid>.ctl ─▶ graceful stop: offline
 *                                             after server_offline_delay, drain
 *   failed → closes the shared socket,
 *            CancelShutdown to the old one ─▶ binds the shared socket again and
 *                                             serves on (also when the resume
 *                                             timer fires first)
 *
 * Daemons whose own sockets cannot be shared (fcgend's and iplocd's RPC
 * sockets) fail in ops->start and so fall back to the old process. */
#include "common/daemon_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto/control.pb-c.h"

#define UPGRADE_BIND_RETRY_MS 50

/* ---- old side -------------------------------------------------------------------- */

static void on_release_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, release_timer);

	(void)loop;
	(void)revents;
	CHECK_OBJ(d, DAEMON_MAGIC);
	if (!d->released || !d->ctl)
		return;
	daemon_ctl_close_shared(d);
	log_notice("hot upgrade: control socket %s handed to process %ld", d->ctl_path,
		   d->successor);
}

static void on_resume_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct daemon *d = container_of(w, struct daemon, resume_timer);

	(void)loop;
	(void)revents;
	CHECK_OBJ(d, DAEMON_MAGIC);
	log_warn("hot upgrade: process %ld neither retired nor released us within %d ms: taking "
		 "the control socket back",
		 d->successor, DAEMON_UPGRADE_RESUME_MS);
	(void)daemon_upgrade_resume(d);
}

bool daemon_upgrade_release(struct daemon *d, long successor, const char **why)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	if (d->released) {
		*why = "already handed over to another process";
		return false;
	}
	if (d->phase != DAEMON_PH_RUNNING && d->phase != DAEMON_PH_OFFLINE_WAIT) {
		*why = "this process is stopping";
		return false;
	}
	d->released = true;
	d->successor = successor;
	log_notice("hot upgrade: process %ld takes over; releasing the control socket", successor);
	/* The successor locks the pid file as soon as it may. */
	if (d->pid_fd >= 0) {
		daemon_pidfile_release(d->opts.pidfile, d->pid_fd);
		d->pid_fd = -1;
	}
	if (d->loop) {
		ev_timer_init(&d->release_timer, on_release_timer, DAEMON_CTL_FLUSH_MS / 1000.0,
			      0.);
		ev_timer_start(d->loop, &d->release_timer);
		ev_timer_init(&d->resume_timer, on_resume_timer, DAEMON_UPGRADE_RESUME_MS / 1000.0,
			      0.);
		ev_timer_start(d->loop, &d->resume_timer);
	}
	return true;
}

void daemon_upgrade_cleanup(struct daemon *d)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	if (!d->loop)
		return;
	ev_timer_stop(d->loop, &d->release_timer);
	ev_timer_stop(d->loop, &d->resume_timer);
}

bool daemon_upgrade_resume(struct daemon *d)
{
	char err[256];

	CHECK_OBJ(d, DAEMON_MAGIC);
	if (!d->released)
		return false;
	daemon_upgrade_cleanup(d);
	d->released = false;
	if (d->loop && !d->ctl && daemon_ctl_bind_shared(d, err, sizeof(err)) != 0) {
		/* the successor kept it: it is alive and in charge */
		log_warn("hot upgrade: cannot take the control socket back: %s", err);
		return false;
	}
	if (d->loop && d->opts.pidfile && d->pid_fd < 0 &&
	    daemon_pidfile_acquire(d->opts.pidfile, &d->pid_fd, err, sizeof(err)) != 0)
		log_warn("hot upgrade: %s", err);
	log_notice("hot upgrade abandoned by process %ld: serving on", d->successor);
	return true;
}

void daemon_upgrade_confirmed(struct daemon *d)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	if (d->loop)
		ev_timer_stop(d->loop, &d->resume_timer);
	log_notice("hot upgrade: process %ld serves now; retiring", d->successor);
}

/* ---- new side -------------------------------------------------------------------- */

/* One control request to the socket at path; returns the reply (owned) or
 * NULL with the reason in err. */
static G3c__Control__Reply *call(const char *path, G3c__Control__Request *req, char *err,
				 size_t errlen)
{
	char url[DAEMON_CTL_PATH_MAX + 8], msg[512];
	ProtobufCMessage *repm = NULL;
	enum rpc_code code = RPC_OK;
	int ret;

	snprintf(url, sizeof(url), "ipc://%s", path);
	msg[0] = '\0';
	ret = rpc_call_sync(url, &daemon_ctl_service, &req->base, DAEMON_UPGRADE_WAIT_MS, &repm,
			    &code, msg, sizeof(msg));
	if (ret != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		return NULL;
	}
	if (code != RPC_OK) {
		snprintf(err, errlen, "%s: %s", path, msg[0] ? msg : rpc_code_name(code));
		protobuf_c_message_free_unpacked(repm, NULL);
		return NULL;
	}
	return (G3c__Control__Reply *)repm;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int daemon_upgrade_takeover(struct daemon *d, char *err, size_t errlen)
{
	G3c__Control__Request req = G3C__CONTROL__REQUEST__INIT;
	G3c__Control__ReleaseControllerReq rq = G3C__CONTROL__RELEASE_CONTROLLER_REQ__INIT;
	G3c__Control__Reply *rep;
	char why[600];
	uint64_t until;
	int ret;

	CHECK_OBJ(d, DAEMON_MAGIC);
	rq.pid = (uint32_t)d->pid;
	req.body_case = G3C__CONTROL__REQUEST__BODY_RELEASE_CONTROLLER;
	req.release_controller = &rq;
	rep = call(d->ctl_path, &req, why, sizeof(why));
	if (!rep || rep->body_case != G3C__CONTROL__REPLY__BODY_RELEASE_CONTROLLER) {
		snprintf(err, errlen, "another %s%s%s is running and did not hand over: %s",
			 d->ops->name, d->opts.group[0] ? " of group " : "", d->opts.group,
			 rep ? "reply without a body" : why);
		if (rep)
			protobuf_c_message_free_unpacked(&rep->base, NULL);
		return -EADDRINUSE;
	}
	d->predecessor = (long)rep->release_controller->pid;
	protobuf_c_message_free_unpacked(&rep->base, NULL);
	/* It closes the socket once its reply has left. */
	until = util_mono_ns() + (uint64_t)DAEMON_UPGRADE_WAIT_MS * 1000000u;
	for (;;) {
		ret = daemon_ctl_bind_shared(d, err, errlen);
		if (ret != -EADDRINUSE || util_mono_ns() >= until)
			break;
		sleep_ms(UPGRADE_BIND_RETRY_MS);
	}
	if (ret != 0) {
		/* it takes the socket back by itself once its resume timer fires */
		d->predecessor = 0;
		return ret;
	}
	log_notice("hot upgrade: took the control socket over from process %ld", d->predecessor);
	return 0;
}

void daemon_upgrade_retire(struct daemon *d, bool started)
{
	G3c__Control__Request req = G3C__CONTROL__REQUEST__INIT;
	G3c__Control__OfflineReq off = G3C__CONTROL__OFFLINE_REQ__INIT;
	G3c__Control__CancelShutdownReq cancel = G3C__CONTROL__CANCEL_SHUTDOWN_REQ__INIT;
	G3c__Control__Reply *rep;
	char path[DAEMON_CTL_PATH_MAX], why[600];

	CHECK_OBJ(d, DAEMON_MAGIC);
	if (!d->predecessor)
		return;
	if (daemon_control_path_pid(d->opts.control_dir, d->ops->name, d->opts.group,
				    d->predecessor, path, sizeof(path)) != 0) {
		d->predecessor = 0;
		return;
	}
	if (started) {
		req.body_case = G3C__CONTROL__REQUEST__BODY_OFFLINE;
		req.offline = &off;
	} else {
		/* give the shared socket back before asking it to take it */
		daemon_ctl_close_shared(d);
		req.body_case = G3C__CONTROL__REQUEST__BODY_CANCEL_SHUTDOWN;
		req.cancel_shutdown = &cancel;
	}
	rep = call(path, &req, why, sizeof(why));
	if (!rep)
		log_warn("hot upgrade: process %ld was not told to %s: %s", d->predecessor,
			 started ? "retire" : "serve on", why);
	else if (started)
		log_notice("hot upgrade: process %ld retires (graceful stop)", d->predecessor);
	else
		log_notice("hot upgrade failed: process %ld serves on", d->predecessor);
	if (rep)
		protobuf_c_message_free_unpacked(&rep->base, NULL);
	d->predecessor = 0;
}
