/* fcgend's daemon ops (see runtime.h). Everything but key generation runs
 * on the main loop: the RPC server answers each Forge synchronously, so the
 * cache and the service need no locking; the key pool's refill threads
 * keep generation (the expensive part) off this loop. */
#include "fcgend/runtime.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "fcgend/conf.h"
#include "fcgend/service.h"
#include "proto/control.pb-c.h"

#define FCGEND_RT_MAGIC 0x66637274u /* "fcrt" */

struct emit_state {
	struct statsd_counter req, invalid, resp, fail, backend, backend_ok, refresh, refresh_ok;
	struct statsd_counter hit, miss, evicted;
	struct statsd_counter key_inline[FCGEN_KEY__COUNT];
};

struct fcgend_rt {
	uint32_t magic;
	struct daemon *d;
	struct fcgend_conf *conf; /* owned */
	struct keypool *pool;
	struct fcgen_service *svc;
	struct rpc_server *rpc;
	char url[PATH_MAX + 8];
	ino_t ipc_ino;		       /* to unlink only our own socket file */
	uint64_t rpc_malformed_before; /* from servers replaced by reloads */
	struct emit_state em;
};

static struct fcgend_rt *rt_of(struct daemon *d)
{
	struct fcgend_rt *rt = daemon_user(d);

	CHECK_OBJ(rt, FCGEND_RT_MAGIC);
	return rt;
}

/* ---- the RPC socket ---------------------------------------------------------------- */

static const char *ipc_path(const char *url)
{
	return strncmp(url, "ipc://", 6) == 0 ? url + 6 : NULL;
}

static int rpc_open(struct fcgend_rt *rt, const char *url, struct rpc_server **out, ino_t *ino,
		    char *err, size_t errlen)
{
	const char *path = ipc_path(url);
	struct stat st;
	int rc = 0;

	*out = rpc_server_new(daemon_loop(rt->d), url, &fcgen_rpc_service, fcgen_handle, rt->svc,
			      &rc);
	if (!*out) {
		snprintf(err, errlen, "cannot listen on %s: %s", url,
			 rc == -EADDRINUSE ? "another fcgend serves it" : strerror(rc ? -rc : EIO));
		return rc ? rc : -EIO;
	}
	*ino = path && stat(path, &st) == 0 ? st.st_ino : 0;
	return 0;
}

static uint64_t rpc_malformed(const struct fcgend_rt *rt)
{
	struct rpc_server_stats st = {0};

	if (rt->rpc)
		rpc_server_get_stats(rt->rpc, &st);
	return rt->rpc_malformed_before + st.malformed;
}

static void rpc_close(struct fcgend_rt *rt)
{
	const char *path = ipc_path(rt->url);
	struct stat st;

	if (!rt->rpc)
		return;
	rt->rpc_malformed_before = rpc_malformed(rt);
	rpc_server_free(rt->rpc);
	rt->rpc = NULL;
	/* A successor may have bound the same path since: leave its file. */
	if (path && rt->ipc_ino && stat(path, &st) == 0 && st.st_ino == rt->ipc_ino)
		unlink(path);
	rt->ipc_ino = 0;
}

/* ---- daemon_ops ------------------------------------------------------------------ */

static void *ops_conf_load(struct conf_ctx *ctx, const char *path)
{
	return fcgend_conf_load(ctx, path);
}

static void ops_conf_free(void *conf)
{
	fcgend_conf_free(conf);
}

static const struct daemon_conf *ops_conf_common(const void *conf)
{
	return &((const struct fcgend_conf *)conf)->common;
}

static void rt_free(struct fcgend_rt *rt)
{
	rpc_close(rt);
	fcgen_service_free(rt->svc);
	keypool_free(rt->pool);
	fcgend_conf_free(rt->conf);
	POISON_OBJ(rt);
	free(rt);
}

static int ops_start(struct daemon *d, void *confp, char *err, size_t errlen)
{
	const struct daemon_opts *o = daemon_get_opts(d);
	struct fcgend_conf *conf = confp;
	struct fcgend_rt *rt = xcalloc(1, sizeof(*rt));
	int rc;

	rt->magic = FCGEND_RT_MAGIC;
	rt->d = d;
	if (fcgend_rpc_url(conf, o->control_dir, o->group, rt->url, sizeof(rt->url)) != 0) {
		snprintf(err, errlen, "the RPC socket path under %s is too long", o->control_dir);
		rc = -ENAMETOOLONG;
		goto fail;
	}
	rt->pool = keypool_new(conf->key_pool, conf->keygen_threads,
			       (size_t)conf->thread_stack_size, &rc, err, errlen);
	if (!rt->pool)
		goto fail;
	rt->svc = fcgen_service_new(conf->ca, rt->pool, conf->cache_size, conf->cache_ttl_ms,
				    &conf->duration_stats);
	rc = rpc_open(rt, rt->url, &rt->rpc, &rt->ipc_ino, err, errlen);
	if (rc)
		goto fail;
	rt->conf = conf; /* ours from here on */
	daemon_set_user(d, rt);
	log_notice("fcgend: forging on %s with %u key generation thread%s", rt->url,
		   conf->keygen_threads, conf->keygen_threads == 1 ? "" : "s");
	return 0;
fail:
	rt_free(rt);
	return rc;
}

static int ops_reload(struct daemon *d, void *confp, char *err, size_t errlen)
{
	const struct daemon_opts *o = daemon_get_opts(d);
	struct fcgend_rt *rt = rt_of(d);
	struct fcgend_conf *conf = confp, *old = rt->conf;
	struct rpc_server *srv = NULL;
	char url[sizeof(rt->url)];
	ino_t ino = 0;
	int rc;

	if (fcgend_rpc_url(conf, o->control_dir, o->group, url, sizeof(url)) != 0) {
		snprintf(err, errlen, "the RPC socket path is too long");
		return -ENAMETOOLONG;
	}
	/* A new address is bound before anything changes, so a failure
	 * leaves the running config in place. */
	if (rt->rpc && strcmp(url, rt->url) != 0) {
		rc = rpc_open(rt, url, &srv, &ino, err, errlen);
		if (rc)
			return rc;
	}
	if (conf->keygen_threads != old->keygen_threads)
		log_notice("fcgend: worker.thread_number (%u → %u) changes on restart, not on "
			   "reload",
			   old->keygen_threads, conf->keygen_threads);
	fcgen_service_update(rt->svc, conf->ca, conf->cache_size, conf->cache_ttl_ms,
			     &conf->duration_stats);
	keypool_set_targets(rt->pool, conf->key_pool);
	if (srv) {
		rpc_close(rt);
		rt->rpc = srv;
		rt->ipc_ino = ino;
		snprintf(rt->url, sizeof(rt->url), "%s", url);
		log_notice("fcgend: forging on %s", rt->url);
	}
	rt->conf = conf;
	fcgend_conf_free(old); /* the service no longer points into it */
	return 0;
}

static void ops_offline(struct daemon *d)
{
	struct fcgend_rt *rt = rt_of(d);

	/* Callers' pending calls time out; proxyd treats that as "fcgend down". */
	rpc_close(rt);
}

static uint64_t ops_alive(struct daemon *d)
{
	(void)rt_of(d);
	return 0; /* every request is answered before the loop turns */
}

static void ops_stop(struct daemon *d)
{
	rt_free(rt_of(d));
	daemon_set_user(d, NULL);
}

static void ops_counters(struct daemon *d, void (*add)(void *arg, const char *name, uint64_t v),
			 void *arg)
{
	struct fcgend_rt *rt = rt_of(d);
	struct fcgen_stats st;
	struct cert_cache_stats cs;
	struct keypool_stats ks;
	char name[48];
	uint64_t refilled = 0;

	fcgen_service_get_stats(rt->svc, &st);
	fcgen_service_cache_stats(rt->svc, &cs);
	keypool_get_stats(rt->pool, &ks);
	add(arg, "requests", st.requests);
	add(arg, "ok", st.ok);
	add(arg, "cache_hits", st.cache_hits);
	add(arg, "generated", st.forged);
	add(arg, "errors", st.errors);
	add(arg, "invalid", st.invalid);
	add(arg, "rpc_malformed", rpc_malformed(rt));
	add(arg, "cache_entries", cs.entries);
	add(arg, "cache_evicted", cs.evicted);
	add(arg, "cache_expired", cs.expired);
	for (int t = 0; t < FCGEN_KEY__COUNT; t++) {
		snprintf(name, sizeof(name), "key_pool_%s", fcgen_key_type_name(t));
		add(arg, name, ks.level[t]);
		refilled += ks.refilled[t];
	}
	add(arg, "keys_refilled", refilled);
	add(arg, "keys_inline", st.keys_inline);
	add(arg, "latency_last_us", st.latency_last_ns / 1000u);
	add(arg, "latency_avg_us", st.timed ? st.latency_sum_ns / st.timed / 1000u : 0);
	add(arg, "latency_max_us", st.latency_max_ns / 1000u);
	add(arg, "serving", rt->rpc ? 1 : 0);
}

static enum rpc_code ops_control(void *ctx, const ProtobufCMessage *reqm, ProtobufCMessage *repm,
				 struct rpc_arena *a)
{
	struct fcgend_rt *rt = rt_of(ctx);
	const G3c__Control__Request *req = (const G3c__Control__Request *)reqm;
	G3c__Control__Reply *rep = (G3c__Control__Reply *)repm;
	G3c__Fcgen__ForgeRep *fr;
	enum rpc_code code;

	if (req->body_case != G3C__CONTROL__REQUEST__BODY_FORGE || !req->forge) {
		rpc_arena_set_error(a, "fcgend does not implement request %d", (int)req->body_case);
		return RPC_UNIMPLEMENTED;
	}
	fr = rpc_arena_alloc(a, sizeof(*fr));
	g3c__fcgen__forge_rep__init(fr);
	code = fcgen_forge(rt->svc, req->forge, fr, a);
	if (code == RPC_OK) {
		rep->body_case = G3C__CONTROL__REPLY__BODY_FORGE;
		rep->forge = fr;
	}
	return code;
}

/* g3fcgen's metric names (siblings spec §1.7), then g3c's cache and pool. */
static void ops_emit_metrics(struct daemon *d, struct statsd *s)
{
	struct fcgend_rt *rt = rt_of(d);
	struct emit_state *em = &rt->em;
	struct fcgen_stats st;
	struct cert_cache_stats cs;
	struct keypool_stats ks;
	struct statsd_tags tags;
	struct hist_window *h = fcgen_service_hist(rt->svc);
	uint64_t mal = rpc_malformed(rt), refilled = 0;
	char q[16];

	fcgen_service_get_stats(rt->svc, &st);
	fcgen_service_cache_stats(rt->svc, &cs);
	keypool_get_stats(rt->pool, &ks);
	for (int t = 0; t < FCGEN_KEY__COUNT; t++)
		refilled += ks.refilled[t];

	statsd_count(s, "frontend.request_total", statsd_counter_delta(&em->req, st.requests + mal),
		     NULL);
	statsd_count(s, "frontend.request_invalid",
		     statsd_counter_delta(&em->invalid, st.invalid + mal), NULL);
	statsd_count(s, "frontend.response_total", statsd_counter_delta(&em->resp, st.requests),
		     NULL);
	statsd_count(s, "frontend.response_fail", statsd_counter_delta(&em->fail, st.errors), NULL);
	statsd_count(s, "backend.request_total",
		     statsd_counter_delta(&em->backend, st.requests - st.cache_hits - st.invalid),
		     NULL);
	statsd_count(s, "backend.request_ok", statsd_counter_delta(&em->backend_ok, st.forged),
		     NULL);
	statsd_count(s, "backend.refresh_total",
		     statsd_counter_delta(&em->refresh, refilled + ks.failures), NULL);
	statsd_count(s, "backend.refresh_ok", statsd_counter_delta(&em->refresh_ok, refilled),
		     NULL);

	hist_window_rotate(h, fcgen_service_hist_conf(rt->svc), util_mono_ns() / 1000000u);
	if (h->last.count) {
		static const char *const fixed[] = {"min", "max", "mean"};
		const uint64_t fv[] = {h->last.min, h->last.max, h->last.mean};
		for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
			statsd_tags_init(&tags);
			statsd_tags_add(&tags, "quantile", fixed[i]);
			statsd_gauge(s, "backend.request_duration", (int64_t)fv[i], &tags);
		}
		for (unsigned i = 0; i < h->last.nq; i++) {
			snprintf(q, sizeof(q), "%.2f", h->last.q[i]);
			statsd_tags_init(&tags);
			statsd_tags_add(&tags, "quantile", q);
			statsd_gauge(s, "backend.request_duration", (int64_t)h->last.qv[i], &tags);
		}
	}

	statsd_count(s, "cache.hit", statsd_counter_delta(&em->hit, st.cache_hits), NULL);
	statsd_count(s, "cache.miss",
		     statsd_counter_delta(&em->miss, st.requests - st.cache_hits - st.invalid),
		     NULL);
	statsd_count(s, "cache.evicted", statsd_counter_delta(&em->evicted, cs.evicted), NULL);
	statsd_gauge(s, "cache.entries", (int64_t)cs.entries, NULL);
	for (int t = 0; t < FCGEN_KEY__COUNT; t++) {
		statsd_tags_init(&tags);
		statsd_tags_add(&tags, "key_type", fcgen_key_type_name(t));
		statsd_gauge(s, "key_pool.level", ks.level[t], &tags);
		statsd_count(s, "key_pool.inline",
			     statsd_counter_delta(&em->key_inline[t], ks.generated_inline[t]),
			     &tags);
	}
}

const struct daemon_ops fcgend_ops = {
	.name = "fcgend",
	.default_conf = "/etc/g3c/fcgend.yaml",
	.conf_load = ops_conf_load,
	.conf_free = ops_conf_free,
	.conf_common = ops_conf_common,
	.start = ops_start,
	.reload = ops_reload,
	.offline = ops_offline,
	.alive = ops_alive,
	.stop = ops_stop,
	.counters = ops_counters,
	.control = ops_control,
	.emit_metrics = ops_emit_metrics,
};
