/* The commands every daemon answers: version, status, reload, offline,
 * cancel-shutdown. */
#include "tools/g3ctl/g3ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int no_args(int argc, char **argv)
{
	if (argc > 1) {
		fprintf(stderr, "g3ctl: %s takes no arguments (got '%s')\n", argv[0], argv[1]);
		return -EINVAL;
	}
	return 0;
}

/* ---- version ------------------------------------------------------------- */

static int version_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Control__VersionReq body = G3C__CONTROL__VERSION_REQ__INIT;

	(void)g;
	if (no_args(argc, argv))
		return -EINVAL;
	req->body_case = G3C__CONTROL__REQUEST__BODY_VERSION;
	req->version = &body;
	return 0;
}

static int version_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	if (rep->body_case != G3C__CONTROL__REPLY__BODY_VERSION || !rep->version)
		return -EBADMSG;
	out_str(g->out, "name", rep->version->name);
	out_str(g->out, "version", rep->version->version);
	return 0;
}

/* ---- status -------------------------------------------------------------- */

static int status_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Control__StatusReq body = G3C__CONTROL__STATUS_REQ__INIT;

	(void)g;
	if (no_args(argc, argv))
		return -EINVAL;
	req->body_case = G3C__CONTROL__REQUEST__BODY_STATUS;
	req->status = &body;
	return 0;
}

static int status_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	const G3c__Control__StatusRep *s = rep->status_rep;
	struct out *o = g->out;

	if (rep->body_case != G3C__CONTROL__REPLY__BODY_STATUS_REP || !s)
		return -EBADMSG;
	out_str(o, "name", s->name);
	out_str(o, "version", s->version);
	out_str(o, "group", s->group);
	out_u64(o, "pid", s->pid);
	out_dur_ms(o, "uptime", s->uptime_ms);
	out_str(o, "config", s->conf_path);
	out_time_us(o, "started_at", s->start_time_us);
	out_time_us(o, "loaded_at", s->load_time_us);
	out_u64(o, "reloads_ok", s->reload_ok);
	out_u64(o, "reloads_failed", s->reload_failed);
	out_bool(o, "online", s->online);
	out_bool(o, "stopping", s->stopping);
	out_u64(o, "alive_tasks", s->alive_tasks);
	out_begin_object(o, "counters");
	for (size_t i = 0; i < s->n_counters; i++)
		if (s->counters[i])
			out_u64(o, s->counters[i]->name, s->counters[i]->value);
	out_end(o);
	return 0;
}

/* ---- reload -------------------------------------------------------------- */

static int reload_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Control__ReloadReq body = G3C__CONTROL__RELOAD_REQ__INIT;

	(void)g;
	if (no_args(argc, argv))
		return -EINVAL;
	req->body_case = G3C__CONTROL__REQUEST__BODY_RELOAD;
	req->reload = &body;
	return 0;
}

static int reload_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	if (rep->body_case != G3C__CONTROL__REPLY__BODY_RELOAD || !rep->reload)
		return -EBADMSG;
	out_bool(g->out, "reloaded", true);
	out_time_us(g->out, "loaded_at", rep->reload->load_time_us);
	out_u64(g->out, "reloads_ok", rep->reload->reload_ok);
	return 0;
}

/* ---- offline ------------------------------------------------------------- */

static int offline_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Control__OfflineReq body = G3C__CONTROL__OFFLINE_REQ__INIT;

	(void)g;
	if (no_args(argc, argv))
		return -EINVAL;
	req->body_case = G3C__CONTROL__REQUEST__BODY_OFFLINE;
	req->offline = &body;
	return 0;
}

static int offline_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	const G3c__Control__OfflineRep *r = rep->offline;

	if (rep->body_case != G3C__CONTROL__REPLY__BODY_OFFLINE || !r)
		return -EBADMSG;
	out_str(g->out, "offline", r->already_stopping ? "already stopping" : "stopping");
	out_dur_ms(g->out, "offline_delay", r->offline_delay_ms);
	out_dur_ms(g->out, "task_wait_timeout", r->task_wait_timeout_ms);
	return 0;
}

/* ---- cancel-shutdown ----------------------------------------------------- */

static int cancel_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Control__CancelShutdownReq body = G3C__CONTROL__CANCEL_SHUTDOWN_REQ__INIT;

	(void)g;
	if (no_args(argc, argv))
		return -EINVAL;
	req->body_case = G3C__CONTROL__REQUEST__BODY_CANCEL_SHUTDOWN;
	req->cancel_shutdown = &body;
	return 0;
}

static int cancel_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	const G3c__Control__CancelShutdownRep *r = rep->cancel_shutdown;

	if (rep->body_case != G3C__CONTROL__REPLY__BODY_CANCEL_SHUTDOWN || !r)
		return -EBADMSG;
	out_bool(g->out, "cancelled", r->cancelled);
	out_bool(g->out, "controller_resumed", r->controller_resumed);
	return 0;
}

/* ---- table --------------------------------------------------------------- */

const struct g3ctl_cmd g3ctl_cmds[] = {
	{NULL, "status", "", "pid, uptime, config, reloads, online flag, tasks, counters",
	 status_build, status_show},
	{NULL, "version", "", "daemon name and version", version_build, version_show},
	{NULL, "reload", "", "reload the configuration (like SIGHUP); errors are printed",
	 reload_build, reload_show},
	{NULL, "offline", "", "graceful stop: stop accepting, drain tasks, exit (like SIGTERM)",
	 offline_build, offline_show},
	{NULL, "cancel-shutdown", "",
	 "abort a graceful stop still in its server_offline_delay window", cancel_build,
	 cancel_show},
	{NULL, NULL, NULL, NULL, NULL, NULL},
};

/* A daemon's own row wins over the common one of the same name, so a daemon
 * can extend e.g. `status`. */
const struct g3ctl_cmd *g3ctl_find_cmd(const char *daemon, const char *name)
{
	const struct g3ctl_cmd *common = NULL;

	for (const struct g3ctl_cmd *const *t = g3ctl_cmd_tables; *t; t++)
		for (const struct g3ctl_cmd *c = *t; c->name; c++) {
			if (strcmp(c->name, name) != 0)
				continue;
			if (!c->daemon)
				common = common ? common : c;
			else if (strcmp(c->daemon, daemon) == 0)
				return c;
		}
	return common;
}
