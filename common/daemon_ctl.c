/* The control socket: naming, binding, and the handler for the requests every
 * daemon answers (version, status, reload, offline). Members of the request
 * oneof it does not know go to daemon_ops.control. */
#include "common/daemon_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "proto/control.pb-c.h"

#define CTL_MAX_COUNTERS 4096

const struct rpc_service daemon_ctl_service = {
	.name = "g3c.control",
	.req = &g3c__control__request__descriptor,
	.rep = &g3c__control__reply__descriptor,
};

/* <dir>/<name>[_<group>]<suffix>.ctl, suffix "" or "@<pid>". */
static int ctl_path(const char *control_dir, const char *name, const char *group,
		    const char *suffix, char *buf, size_t cap)
{
	size_t dlen;
	int n;

	if (!control_dir || !name || !name[0] || cap == 0)
		return -EINVAL;
	dlen = strlen(control_dir);
	while (dlen > 1 && control_dir[dlen - 1] == '/')
		dlen--; /* "dir/" and "dir" name the same socket */
	if (dlen == 0)
		return -EINVAL;
	if (dlen >= DAEMON_CTL_PATH_MAX)
		return -ENAMETOOLONG;
	n = snprintf(buf, cap, "%.*s%s%s%s%s%s.ctl", (int)dlen, control_dir,
		     control_dir[dlen - 1] == '/' ? "" : "/", name, group && group[0] ? "_" : "",
		     group ? group : "", suffix);
	if (n < 0 || (size_t)n >= cap || n >= DAEMON_CTL_PATH_MAX) {
		buf[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int daemon_control_path(const char *control_dir, const char *name, const char *group, char *buf,
			size_t cap)
{
	return ctl_path(control_dir, name, group, "", buf, cap);
}

int daemon_control_path_pid(const char *control_dir, const char *name, const char *group, long pid,
			    char *buf, size_t cap)
{
	char suffix[32];

	if (pid <= 0)
		return -EINVAL;
	snprintf(suffix, sizeof(suffix), "@%ld", pid);
	return ctl_path(control_dir, name, group, suffix, buf, cap);
}

/* ---- handler -------------------------------------------------------------------- */

struct counter_acc {
	struct rpc_arena *a;
	G3c__Control__Counter **v; /* malloc'd while collecting */
	size_t n, cap;
	bool truncated;
};

static void counter_add(void *arg, const char *name, uint64_t value)
{
	struct counter_acc *acc = arg;
	G3c__Control__Counter *c;

	if (acc->n >= CTL_MAX_COUNTERS) {
		acc->truncated = true;
		return;
	}
	if (acc->n == acc->cap) {
		acc->cap = acc->cap ? acc->cap * 2 : 32;
		acc->v = xrealloc(acc->v, acc->cap * sizeof(G3c__Control__Counter *));
	}
	c = rpc_arena_alloc(acc->a, sizeof(*c));
	g3c__control__counter__init(c);
	c->name = rpc_arena_strdup(acc->a, name ? name : "");
	c->value = value;
	acc->v[acc->n++] = c;
}

static enum rpc_code ctl_version(struct daemon *d, G3c__Control__Reply *rep, struct rpc_arena *a)
{
	G3c__Control__VersionRep *v = rpc_arena_alloc(a, sizeof(*v));

	g3c__control__version_rep__init(v);
	v->name = rpc_arena_strdup(a, d->ops->name);
	v->version = rpc_arena_strdup(a, G3C_VERSION);
	rep->body_case = G3C__CONTROL__REPLY__BODY_VERSION;
	rep->version = v;
	return RPC_OK;
}

static enum rpc_code ctl_status(struct daemon *d, G3c__Control__Reply *rep, struct rpc_arena *a)
{
	G3c__Control__StatusRep *s = rpc_arena_alloc(a, sizeof(*s));
	struct counter_acc acc = {.a = a};

	g3c__control__status_rep__init(s);
	s->name = rpc_arena_strdup(a, d->ops->name);
	s->version = rpc_arena_strdup(a, G3C_VERSION);
	s->group = rpc_arena_strdup(a, d->opts.group ? d->opts.group : "");
	s->pid = (uint32_t)d->pid;
	s->uptime_ms = (util_mono_ns() - d->start_mono_ns) / 1000000u;
	s->conf_path = rpc_arena_strdup(a, d->conf_abs ? d->conf_abs : "");
	s->start_time_us = d->start_wall_us;
	s->load_time_us = d->load_wall_us;
	s->reload_ok = d->reload_ok;
	s->reload_failed = d->reload_failed;
	s->online = d->online;
	s->stopping = d->phase != DAEMON_PH_RUNNING;
	s->alive_tasks = daemon_alive_tasks(d);
	if (d->started && d->ops->counters)
		d->ops->counters(d, counter_add, &acc);
	if (acc.truncated)
		log_warn("status: more than %u counters, the rest left out", CTL_MAX_COUNTERS);
	if (acc.n) {
		s->counters = rpc_arena_alloc(a, acc.n * sizeof(G3c__Control__Counter *));
		memcpy(s->counters, acc.v, acc.n * sizeof(G3c__Control__Counter *));
		s->n_counters = acc.n;
	}
	free(acc.v);
	rep->body_case = G3C__CONTROL__REPLY__BODY_STATUS_REP;
	rep->status_rep = s;
	return RPC_OK;
}

static enum rpc_code ctl_reload(struct daemon *d, G3c__Control__Reply *rep, struct rpc_arena *a)
{
	G3c__Control__ReloadRep *r;
	char *errs = NULL;
	int ret = daemon_reload(d, &errs);

	if (ret != 0) {
		/* Every config error, file:line:col first, one per line. */
		rpc_arena_set_error(a, "%s", errs ? errs : "reload failed");
		free(errs);
		return RPC_FAILED_PRECONDITION;
	}
	free(errs);
	r = rpc_arena_alloc(a, sizeof(*r));
	g3c__control__reload_rep__init(r);
	r->load_time_us = d->load_wall_us;
	r->reload_ok = d->reload_ok;
	rep->body_case = G3C__CONTROL__REPLY__BODY_RELOAD;
	rep->reload = r;
	return RPC_OK;
}

static enum rpc_code ctl_offline(struct daemon *d, G3c__Control__Reply *rep, struct rpc_arena *a)
{
	G3c__Control__OfflineRep *o = rpc_arena_alloc(a, sizeof(*o));

	g3c__control__offline_rep__init(o);
	o->offline_delay_ms = d->dc.offline_delay_ms;
	o->task_wait_timeout_ms = d->dc.task_wait_timeout_ms;
	/* The stop timer fires on a later loop turn, after this reply is sent. */
	o->already_stopping = !daemon_begin_stop(d, true);
	rep->body_case = G3C__CONTROL__REPLY__BODY_OFFLINE;
	rep->offline = o;
	return RPC_OK;
}

static enum rpc_code ctl_release(struct daemon *d, const G3c__Control__ReleaseControllerReq *q,
				 G3c__Control__Reply *rep, struct rpc_arena *a)
{
	G3c__Control__ReleaseControllerRep *o;
	const char *why = "";

	if (!daemon_upgrade_release(d, q ? (long)q->pid : 0, &why)) {
		rpc_arena_set_error(a, "cannot hand over the control socket: %s", why);
		return RPC_FAILED_PRECONDITION;
	}
	o = rpc_arena_alloc(a, sizeof(*o));
	g3c__control__release_controller_rep__init(o);
	o->pid = (uint32_t)d->pid;
	o->resume_after_ms = DAEMON_UPGRADE_RESUME_MS;
	rep->body_case = G3C__CONTROL__REPLY__BODY_RELEASE_CONTROLLER;
	rep->release_controller = o;
	return RPC_OK;
}

static enum rpc_code ctl_cancel_shutdown(struct daemon *d, G3c__Control__Reply *rep,
					 struct rpc_arena *a)
{
	G3c__Control__CancelShutdownRep *o;
	bool resumed = false, cancelled;

	if (d->phase != DAEMON_PH_RUNNING && d->phase != DAEMON_PH_OFFLINE_WAIT) {
		rpc_arena_set_error(a, "too late: servers are already offline");
		return RPC_FAILED_PRECONDITION;
	}
	cancelled = daemon_cancel_stop(d);
	if (d->released)
		resumed = daemon_upgrade_resume(d);
	o = rpc_arena_alloc(a, sizeof(*o));
	g3c__control__cancel_shutdown_rep__init(o);
	o->cancelled = cancelled;
	o->controller_resumed = resumed;
	rep->body_case = G3C__CONTROL__REPLY__BODY_CANCEL_SHUTDOWN;
	rep->cancel_shutdown = o;
	return RPC_OK;
}

enum rpc_code daemon_ctl_handle(void *ctx, const ProtobufCMessage *reqm, ProtobufCMessage *repm,
				struct rpc_arena *a)
{
	struct daemon *d = ctx;
	const G3c__Control__Request *req = (const G3c__Control__Request *)reqm;
	G3c__Control__Reply *rep = (G3c__Control__Reply *)repm;

	CHECK_OBJ(d, DAEMON_MAGIC);
	d->last_ctl_ns = util_mono_ns();
	ASSERT(reqm->descriptor == &g3c__control__request__descriptor);
	ASSERT(repm->descriptor == &g3c__control__reply__descriptor);

	switch (req->body_case) {
	case G3C__CONTROL__REQUEST__BODY_VERSION:
		return ctl_version(d, rep, a);
	case G3C__CONTROL__REQUEST__BODY_STATUS:
		return ctl_status(d, rep, a);
	case G3C__CONTROL__REQUEST__BODY_RELOAD:
		return ctl_reload(d, rep, a);
	case G3C__CONTROL__REQUEST__BODY_OFFLINE:
		if (d->released)
			daemon_upgrade_confirmed(d);
		return ctl_offline(d, rep, a);
	case G3C__CONTROL__REQUEST__BODY_RELEASE_CONTROLLER:
		return ctl_release(d, req->release_controller, rep, a);
	case G3C__CONTROL__REQUEST__BODY_CANCEL_SHUTDOWN:
		return ctl_cancel_shutdown(d, rep, a);
	case G3C__CONTROL__REQUEST__BODY__NOT_SET:
		if (req->base.n_unknown_fields) {
			/* A member from a newer control.proto than this build. */
			rpc_arena_set_error(a, "%s does not know this request (field %u)",
					    d->ops->name, req->base.unknown_fields[0].tag);
			return RPC_UNIMPLEMENTED;
		}
		rpc_arena_set_error(a, "empty request");
		return RPC_INVALID_ARGUMENT;
	default:
		break;
	}
	if (!d->ops->control) {
		rpc_arena_set_error(a, "%s does not implement request %d", d->ops->name,
				    (int)req->body_case);
		return RPC_UNIMPLEMENTED;
	}
	return d->ops->control(d, reqm, repm, a);
}

/* ---- socket --------------------------------------------------------------------- */

/* mkdir -p with mode 0755 for the parts that are missing. */
static int mkdir_p(const char *dir)
{
	char tmp[DAEMON_CTL_PATH_MAX * 4];
	size_t n = strlen(dir);
	struct stat st;

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		char c = tmp[i];
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -errno;
		tmp[i] = c;
	}
	if (stat(dir, &st) != 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Bind one control socket at path (url ipc://path); its inode into *ino. */
static struct rpc_server *ctl_bind(struct daemon *d, const char *path, ino_t *ino, char *err,
				   size_t errlen, int *retp)
{
	char url[DAEMON_CTL_PATH_MAX + 8];
	struct rpc_server *srv;
	struct stat st;
	int ret = 0;

	snprintf(url, sizeof(url), "ipc://%s", path);
	srv = rpc_server_new(d->loop, url, &daemon_ctl_service, daemon_ctl_handle, d, &ret);
	if (!srv) {
		ret = ret < 0 ? ret : -EIO;
		snprintf(err, errlen, "cannot bind control socket %s: %s", path,
			 ret == -EADDRINUSE ? "held by a running process" : strerror(-ret));
		*retp = ret;
		return NULL;
	}
	*ino = stat(path, &st) == 0 ? st.st_ino : 0;
	*retp = 0;
	return srv;
}

/* Close srv and remove path if the file is still the one we bound. */
static void ctl_unbind(struct rpc_server **srv, const char *path, ino_t *ino)
{
	struct stat st;

	if (!*srv)
		return;
	rpc_server_free(*srv);
	*srv = NULL;
	/* A successor may have bound the same path since: leave its file. */
	if (*ino && stat(path, &st) == 0 && st.st_ino == *ino)
		unlink(path);
	*ino = 0;
}

int daemon_ctl_bind_shared(struct daemon *d, char *err, size_t errlen)
{
	int ret;

	CHECK_OBJ(d, DAEMON_MAGIC);
	d->ctl = ctl_bind(d, d->ctl_path, &d->ctl_ino, err, errlen, &ret);
	if (d->ctl)
		log_info("control socket %s", d->ctl_path);
	return ret;
}

int daemon_ctl_open(struct daemon *d, char *err, size_t errlen)
{
	int ret;

	CHECK_OBJ(d, DAEMON_MAGIC);
	ret = daemon_control_path(d->opts.control_dir, d->ops->name, d->opts.group, d->ctl_path,
				  sizeof(d->ctl_path));
	if (ret == 0)
		ret = daemon_control_path_pid(d->opts.control_dir, d->ops->name, d->opts.group,
					      (long)d->pid, d->own_path, sizeof(d->own_path));
	if (ret != 0) {
		snprintf(err, errlen, "control socket path under %s is too long (max %d bytes)",
			 d->opts.control_dir, DAEMON_CTL_PATH_MAX - 1);
		d->ctl_path[0] = d->own_path[0] = '\0';
		return ret;
	}
	ret = mkdir_p(d->opts.control_dir);
	if (ret != 0) {
		snprintf(err, errlen, "cannot create control directory %s: %s", d->opts.control_dir,
			 strerror(-ret));
		return ret;
	}
	/* A file left by a process that died without cleaning up is reused by
	 * nanomsg; a live process with our pid cannot exist. */
	d->ctl_own = ctl_bind(d, d->own_path, &d->own_ino, err, errlen, &ret);
	if (!d->ctl_own)
		return ret;
	return daemon_ctl_bind_shared(d, err, errlen);
}

/* nanomsg drops queued replies on close: let the last one leave. */
static void ctl_flush_wait(struct daemon *d)
{
	if (d->last_ctl_ns) {
		uint64_t since = util_mono_ns() - d->last_ctl_ns;
		uint64_t flush = (uint64_t)DAEMON_CTL_FLUSH_MS * 1000000u;
		if (since < flush) {
			struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(flush - since)};
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		}
	}
}

void daemon_ctl_close_shared(struct daemon *d)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	ctl_unbind(&d->ctl, d->ctl_path, &d->ctl_ino);
}

void daemon_ctl_close(struct daemon *d)
{
	CHECK_OBJ(d, DAEMON_MAGIC);
	if (!d->ctl && !d->ctl_own)
		return;
	/* `g3ctl offline` with no delays ends the loop right after its reply
	 * was queued; closing at once would drop that reply. */
	ctl_flush_wait(d);
	ctl_unbind(&d->ctl, d->ctl_path, &d->ctl_ino);
	ctl_unbind(&d->ctl_own, d->own_path, &d->own_ino);
}
