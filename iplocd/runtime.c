/* iplocd's lifecycle: start, reload, the database file watcher, offline,
 * stop, and the daemon_ops table (runtime.h). */
#include "iplocd/runtime.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

static void log_db(const char *what, enum iploc_db_kind kind, const struct iploc_db *db)
{
	char date[32] = "?";
	time_t t = (time_t)db->mmdb.metadata.build_epoch;
	struct tm tm;

	if (gmtime_r(&t, &tm))
		strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	log_notice("%s %s database %s: %s built %s, %" PRIu32 " nodes, %" PRIu64
		   " records, IPv%u (%" PRIu64 " ms)",
		   what, iploc_db_kind_name(kind), db->path,
		   db->mmdb.metadata.database_type ? db->mmdb.metadata.database_type : "?", date,
		   db->mmdb.metadata.node_count, db->info.data_records,
		   db->mmdb.metadata.ip_version, db->load_ns / 1000000u);
}

/* Move the config's database references into the service. */
static void adopt_dbs(struct iplocd *ipl, struct iplocd_conf *conf)
{
	for (int k = 0; k < IPLOC_DB__COUNT; k++) {
		iploc_service_set_db(&ipl->svc, (enum iploc_db_kind)k, conf->db[k]);
		if (conf->db[k])
			log_db("using", (enum iploc_db_kind)k, conf->db[k]);
		iploc_db_unref(conf->db[k]);
		conf->db[k] = NULL;
		/* A new load starts from the file as it is now. */
		ipl->watch[k].failed = false;
		ipl->watch[k].stat_failed = false;
	}
	ipl->svc.ttl = conf->ttl;
	ipl->svc.miss_ttl = conf->miss_ttl;
}

static void iplocd_on_watch(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct iplocd *ipl = container_of(w, struct iplocd, watch_timer);

	(void)loop;
	(void)revents;
	CHECK_OBJ(ipl, IPLOCD_MAGIC);
	(void)iplocd_check_files(ipl);
}

static void arm_watch(struct iplocd *ipl)
{
	ev_timer_stop(ipl->loop, &ipl->watch_timer);
	if (ipl->conf->check_interval_ms == 0)
		return;
	ev_timer_set(&ipl->watch_timer, 0., (double)ipl->conf->check_interval_ms / 1000.0);
	ev_timer_again(ipl->loop, &ipl->watch_timer);
}

static struct rpc_server *open_rpc(struct iplocd *ipl, const char *url, char *err, size_t errlen)
{
	struct rpc_server *s;
	int e = 0;

	s = rpc_server_new(ipl->loop, url, &iploc_rpc_service, iploc_handle, &ipl->svc, &e);
	if (!s)
		snprintf(err, errlen, "cannot serve RPC at %s: %s", url,
			 e == -EADDRINUSE ? "another iplocd serves it" : strerror(-e));
	return s;
}

int iplocd_start(struct iplocd *ipl, struct ev_loop *loop, struct iplocd_conf *conf,
		 const char *url, char *err, size_t errlen)
{
	CHECK_OBJ(conf, IPLOCD_CONF_MAGIC);
	memset(ipl, 0, sizeof(*ipl));
	ipl->magic = IPLOCD_MAGIC;
	ipl->loop = loop;
	iploc_service_init(&ipl->svc);
	snprintf(ipl->rpc_url, sizeof(ipl->rpc_url), "%s", url);
	ipl->rpc = open_rpc(ipl, url, err, errlen);
	if (!ipl->rpc) {
		iploc_service_fini(&ipl->svc);
		POISON_OBJ(ipl);
		return -EADDRNOTAVAIL;
	}
	ipl->conf = conf;
	adopt_dbs(ipl, conf);
	if (conf->worker_given)
		log_notice("worker: iplocd answers on its main loop; the worker section is "
			   "accepted for g3 compatibility and not used");
	ev_init(&ipl->watch_timer, iplocd_on_watch);
	arm_watch(ipl);
	log_notice("serving IP locations at %s", url);
	return 0;
}

int iplocd_reload(struct iplocd *ipl, struct iplocd_conf *conf, const char *url, char *err,
		  size_t errlen)
{
	CHECK_OBJ(ipl, IPLOCD_MAGIC);
	CHECK_OBJ(conf, IPLOCD_CONF_MAGIC);
	/* The new socket first: if it cannot be had, nothing changes. */
	if (ipl->rpc && strcmp(url, ipl->rpc_url) != 0) {
		struct rpc_server *s = open_rpc(ipl, url, err, errlen);
		if (!s)
			return -EADDRNOTAVAIL;
		rpc_server_free(ipl->rpc);
		ipl->rpc = s;
		log_notice("serving IP locations at %s (was %s)", url, ipl->rpc_url);
		snprintf(ipl->rpc_url, sizeof(ipl->rpc_url), "%s", url);
	}
	adopt_dbs(ipl, conf);
	iplocd_conf_free(ipl->conf);
	ipl->conf = conf;
	arm_watch(ipl);
	return 0;
}

/* One configured database: reload it when its file changed. */
static bool check_one(struct iplocd *ipl, enum iploc_db_kind k)
{
	struct iplocd_watch *w = &ipl->watch[k];
	const char *path = ipl->conf->db_path[k];
	const struct iploc_db *cur = ipl->svc.db[k];
	struct iploc_file_id id;
	struct iploc_db *db = NULL;
	char err[512];
	int ret;

	if (!path || !cur)
		return false;
	ret = iploc_file_id_stat(path, &id);
	if (ret != 0) {
		if (!w->stat_failed)
			log_warn("%s database %s: %s; still answering with the loaded one",
				 iploc_db_kind_name(k), path, strerror(-ret));
		w->stat_failed = true;
		return false;
	}
	w->stat_failed = false;
	if (iploc_file_id_equal(&id, &cur->id))
		return false;
	if (w->failed && iploc_file_id_equal(&id, &w->failed_id))
		return false; /* this version was refused already */
	ret = iploc_db_open(path, &db, err, sizeof(err));
	if (ret == -EAGAIN)
		return false; /* still being written: next tick */
	if (ret != 0) {
		w->failed = true;
		w->failed_id = id;
		w->failures++;
		snprintf(w->last_error, sizeof(w->last_error), "%s", err);
		log_err("%s database %s changed but was refused, keeping the loaded one: %s",
			iploc_db_kind_name(k), path, err);
		return false;
	}
	iploc_service_set_db(&ipl->svc, k, db);
	iploc_db_unref(db);
	w->failed = false;
	w->reloads++;
	log_db("reloaded", k, ipl->svc.db[k]);
	return true;
}

unsigned iplocd_check_files(struct iplocd *ipl)
{
	unsigned n = 0;

	CHECK_OBJ(ipl, IPLOCD_MAGIC);
	for (int k = 0; k < IPLOC_DB__COUNT; k++)
		n += check_one(ipl, (enum iploc_db_kind)k) ? 1u : 0u;
	return n;
}

void iplocd_offline(struct iplocd *ipl)
{
	CHECK_OBJ(ipl, IPLOCD_MAGIC);
	if (!ipl->rpc)
		return;
	rpc_server_free(ipl->rpc);
	ipl->rpc = NULL;
	log_notice("stopped serving IP locations at %s", ipl->rpc_url);
}

void iplocd_stop(struct iplocd *ipl)
{
	if (!ipl)
		return;
	CHECK_OBJ(ipl, IPLOCD_MAGIC);
	ev_timer_stop(ipl->loop, &ipl->watch_timer);
	rpc_server_free(ipl->rpc);
	ipl->rpc = NULL;
	iploc_service_fini(&ipl->svc);
	iplocd_conf_free(ipl->conf);
	ipl->conf = NULL;
	POISON_OBJ(ipl);
}

/* ---- daemon_ops ------------------------------------------------------------------ */

static void *ops_conf_load(struct conf_ctx *ctx, const char *path)
{
	return iplocd_conf_load(ctx, path);
}

static void ops_conf_free(void *conf)
{
	iplocd_conf_free(conf);
}

static const struct daemon_conf *ops_conf_common(const void *conf)
{
	return &((const struct iplocd_conf *)conf)->common;
}

static struct iplocd *ipl_of(struct daemon *d)
{
	struct iplocd *ipl = daemon_user(d);

	CHECK_OBJ(ipl, IPLOCD_MAGIC);
	return ipl;
}

static int url_for(struct daemon *d, const struct iplocd_conf *conf, char *url, size_t cap,
		   char *err, size_t errlen)
{
	const struct daemon_opts *o = daemon_get_opts(d);
	int ret = iplocd_rpc_url(conf, o->control_dir, o->group, url, cap);

	if (ret != 0)
		snprintf(err, errlen, "the RPC socket path under %s is too long", o->control_dir);
	return ret;
}

static int ops_start(struct daemon *d, void *conf, char *err, size_t errlen)
{
	struct iplocd *ipl = xmalloc(sizeof(*ipl));
	char url[sizeof(ipl->rpc_url)];
	int ret;

	ret = url_for(d, conf, url, sizeof(url), err, errlen);
	if (ret == 0)
		ret = iplocd_start(ipl, daemon_loop(d), conf, url, err, errlen);
	if (ret != 0) {
		free(ipl);
		return ret;
	}
	daemon_set_user(d, ipl);
	return 0;
}

static int ops_reload(struct daemon *d, void *conf, char *err, size_t errlen)
{
	char url[PATH_MAX + 8];
	int ret = url_for(d, conf, url, sizeof(url), err, errlen);

	return ret ? ret : iplocd_reload(ipl_of(d), conf, url, err, errlen);
}

static void ops_offline(struct daemon *d)
{
	iplocd_offline(ipl_of(d));
}

static uint64_t ops_alive(struct daemon *d)
{
	(void)d;
	return 0; /* every request is answered before the loop turns */
}

static void ops_stop(struct daemon *d)
{
	struct iplocd *ipl = ipl_of(d);

	iplocd_stop(ipl);
	free(ipl);
	daemon_set_user(d, NULL);
}

static void ops_counters(struct daemon *d, void (*add)(void *arg, const char *name, uint64_t v),
			 void *arg)
{
	iplocd_counters(ipl_of(d), add, arg);
}

static void ops_emit_metrics(struct daemon *d, struct statsd *s)
{
	iplocd_emit_metrics(ipl_of(d), s);
}

const struct daemon_ops iplocd_ops = {
	.name = "iplocd",
	.default_conf = "/etc/g3c/iplocd.yaml",
	.conf_load = ops_conf_load,
	.conf_free = ops_conf_free,
	.conf_common = ops_conf_common,
	.start = ops_start,
	.reload = ops_reload,
	.offline = ops_offline,
	.alive = ops_alive,
	.stop = ops_stop,
	.counters = ops_counters,
	.control = iplocd_ctl_handle,
	.emit_metrics = ops_emit_metrics,
};
