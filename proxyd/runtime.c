/* Worker threads and the daemon lifecycle ops (see runtime.h). */
#include "proxyd/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "common/log.h"
#include "proxyd/dp/dp.h"
#include "proxyd/dp/listener.h"
#include "proxyd/dp/resolver.h"
#include "proxyd/float_bind.h"
#include "proxyd/float_pub.h"
#include "proxyd/ctl.h"
#include "proxyd/metrics.h"
#include "proxyd/user_table.h"

#define RUNTIME_MAGIC 0x70727474u /* "prtt" */
#define WORKER_MAGIC 0x7077726bu  /* "pwrk" */

struct worker_call {
	struct worker_call *next;
	proxyd_worker_fn *fn;
	void (*free_arg)(void *arg); /* for a call dropped at stop; may be NULL */
	void *arg;
};

struct proxyd_worker {
	uint32_t magic;
	unsigned id;
	struct proxyd_runtime *rt;
	pthread_t tid;
	bool joinable;
	struct ev_loop *loop;
	ev_async wake;
	struct dp_worker *dp; /* the data plane of this thread (ev_userdata of loop) */
	/* main → worker */
	_Atomic(struct proxyd_conf *) pending; /* a reference for the worker to take */
	atomic_bool stop;
	pthread_mutex_t calls_lock;
	struct worker_call *calls, **calls_tail;
	/* worker-owned; published for observers */
	struct proxyd_conf *conf;
	_Atomic(const struct proxyd_conf *) active;
	atomic_uint_fast64_t swaps;
};

struct proxyd_runtime {
	uint32_t magic;
	struct proxyd_conf *conf; /* the runtime's reference */
	unsigned nworkers;
	struct proxyd_worker *workers;
	uint64_t reloads;
	bool offline;
	struct dp_shared sh;	   /* counters and the task logger, shared by workers */
	struct dp_lset *lset;	   /* listeners the workers have (main thread's view) */
	struct metrics *metrics;   /* StatsD counters by server / escaper name */
	struct user_groups *users; /* user group runtimes by name (user_table.h) */
};

/* ---- worker side --------------------------------------------------------------- */

static struct worker_call *take_calls(struct proxyd_worker *wk)
{
	struct worker_call *c;

	pthread_mutex_lock(&wk->calls_lock);
	c = wk->calls;
	wk->calls = NULL;
	wk->calls_tail = &wk->calls;
	pthread_mutex_unlock(&wk->calls_lock);
	return c;
}

static void run_calls(struct proxyd_worker *wk)
{
	struct worker_call *c = take_calls(wk);

	while (c != NULL) {
		struct worker_call *next = c->next;
		c->fn(wk->loop, wk->conf, c->arg);
		free(c);
		c = next;
	}
}

static void worker_on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
	struct proxyd_worker *wk = container_of(w, struct proxyd_worker, wake);
	struct proxyd_conf *next;

	(void)revents;
	CHECK_OBJ(wk, WORKER_MAGIC);
	run_calls(wk);
	next = atomic_exchange(&wk->pending, NULL);
	if (next != NULL) {
		struct proxyd_conf *old = wk->conf;
		wk->conf = next;
		atomic_store(&wk->active, next);
		atomic_fetch_add(&wk->swaps, 1);
		/* Tasks will hold their own refs; the worker's goes now. */
		proxyd_conf_unref(old);
		log_debug("worker %u: running with the new config", wk->id);
	}
	if (atomic_load(&wk->stop))
		ev_break(loop, EVBREAK_ALL);
}

static void apply_affinity(struct proxyd_worker *wk)
{
	const struct worker_conf *wc = &wk->conf->worker;
	cpu_set_t set;
	bool any = false;

	CPU_ZERO(&set);
	for (size_t i = 0; i < wc->n_affinity; i++) {
		if (wc->affinity[i].thread != wk->id)
			continue;
		for (uint32_t j = 0; j < wc->affinity[i].ncpu; j++)
			CPU_SET(wc->affinity[i].cpus[j], &set);
		any = true;
	}
	if (!any && wc->sched_affinity_auto) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		CPU_SET((int)(wk->id % (unsigned)(ncpu > 0 ? ncpu : 1)), &set);
		any = true;
	}
	if (!any)
		return;
	int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (rc != 0)
		log_warn("worker %u: cannot set CPU affinity: %s", wk->id, strerror(rc));
}

static void *worker_main(void *arg)
{
	struct proxyd_worker *wk = arg;
	char name[16];

	CHECK_OBJ(wk, WORKER_MAGIC);
	snprintf(name, sizeof(name), "proxyd-w%u", wk->id);
	pthread_setname_np(pthread_self(), name);
	apply_affinity(wk);
	log_debug("worker %u: started", wk->id);
	/* A stop or config sent before ev_run() is seen: ev_async_send()
	 * latches the pending flag and the loop checks it first. */
	ev_run(wk->loop, 0);
	/* connections, listeners and the thread's pools go on this thread */
	dp_worker_shutdown(wk->dp);
	log_debug("worker %u: stopped", wk->id);
	return NULL;
}

/* ---- main side ------------------------------------------------------------------- */

static void worker_fini(struct proxyd_worker *wk)
{
	struct proxyd_conf *p;

	if (wk->loop != NULL) {
		ev_async_stop(wk->loop, &wk->wake);
		ev_loop_destroy(wk->loop);
		wk->loop = NULL;
	}
	p = atomic_exchange(&wk->pending, NULL);
	proxyd_conf_unref(p);
	for (struct worker_call *c = take_calls(wk), *next; c != NULL; c = next) {
		next = c->next;
		if (c->free_arg)
			c->free_arg(c->arg);
		free(c);
	}
	dp_worker_free(wk->dp);
	wk->dp = NULL;
	pthread_mutex_destroy(&wk->calls_lock);
	proxyd_conf_unref(wk->conf);
	wk->conf = NULL;
	atomic_store(&wk->active, NULL);
	POISON_OBJ(wk);
}

static void workers_stop(struct proxyd_runtime *rt)
{
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct proxyd_worker *wk = &rt->workers[i];
		if (!wk->joinable)
			continue;
		atomic_store(&wk->stop, true);
		ev_async_send(wk->loop, &wk->wake);
	}
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct proxyd_worker *wk = &rt->workers[i];
		if (wk->joinable) {
			pthread_join(wk->tid, NULL);
			wk->joinable = false;
		}
		if (wk->magic == WORKER_MAGIC)
			worker_fini(wk);
	}
}

static int worker_start(struct proxyd_runtime *rt, unsigned id, char *err, size_t errlen)
{
	struct proxyd_worker *wk = &rt->workers[id];
	const struct worker_conf *wc = &rt->conf->worker;
	pthread_attr_t attr;
	sigset_t all, old;
	int rc;

	wk->magic = WORKER_MAGIC;
	wk->id = id;
	wk->rt = rt;
	atomic_init(&wk->pending, NULL);
	atomic_init(&wk->stop, false);
	atomic_init(&wk->swaps, 0);
	pthread_mutex_init(&wk->calls_lock, NULL);
	wk->calls = NULL;
	wk->calls_tail = &wk->calls;
	wk->loop = ev_loop_new(EVFLAG_AUTO);
	if (wk->loop == NULL) {
		snprintf(err, errlen, "worker %u: cannot create an event loop", id);
		return -ENOMEM;
	}
	ev_async_init(&wk->wake, worker_on_wake);
	ev_async_start(wk->loop, &wk->wake);
	wk->dp = dp_worker_new(wk->loop, id, &rt->sh);
	ev_set_userdata(wk->loop, wk->dp);
	wk->conf = proxyd_conf_ref(rt->conf);
	atomic_init(&wk->active, wk->conf);

	pthread_attr_init(&attr);
	if (wc->thread_stack_size != 0) {
		rc = pthread_attr_setstacksize(&attr, (size_t)wc->thread_stack_size);
		if (rc != 0) {
			pthread_attr_destroy(&attr);
			snprintf(err, errlen, "worker %u: stack size %llu: %s", id,
				 (unsigned long long)wc->thread_stack_size, strerror(rc));
			return -rc;
		}
	}
	/* Workers never take process signals: only the main loop does. */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGFPE);
	sigdelset(&all, SIGILL);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&wk->tid, &attr, worker_main, wk);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		snprintf(err, errlen, "worker %u: cannot create a thread: %s", id, strerror(rc));
		return -rc;
	}
	wk->joinable = true;
	return 0;
}

/* ---- data plane hand-over ------------------------------------------------------ */

static void dp_apply_call(struct ev_loop *loop, struct proxyd_conf *conf, void *arg)
{
	(void)conf;
	dp_update_apply(ev_userdata(loop), arg);
}

static void dp_offline_call(struct ev_loop *loop, struct proxyd_conf *conf, void *arg)
{
	(void)conf;
	(void)arg;
	dp_worker_offline(ev_userdata(loop));
}

/* Bind what conf needs (nothing is changed on failure), then queue each
 * worker's update. */
static int dp_plan_and_send(struct proxyd_runtime *rt, struct proxyd_conf *conf, char *err,
			    size_t errlen)
{
	struct dp_update **ups = NULL;
	struct dp_lset *next = NULL;
	int rc = dp_lset_plan(conf, rt->lset, rt->nworkers, rt->offline, &ups, &next, err, errlen);

	if (rc != 0)
		return rc;
	for (unsigned i = 0; i < rt->nworkers; i++)
		if (proxyd_runtime_run_on_owned(rt, i, dp_apply_call, dp_update_free, ups[i]) != 0)
			dp_update_free(ups[i]);
	free(ups);
	dp_lset_free(rt->lset);
	rt->lset = next;
	return 0;
}

static void dp_shared_fini(struct dp_shared *sh)
{
	logger_free(sh->task_log);
	logger_free(sh->escape_log);
	logger_free(sh->resolve_log);
	sh->task_log = sh->escape_log = sh->resolve_log = NULL;
}

int proxyd_runtime_start(struct proxyd_conf *conf, struct proxyd_runtime **out, char *err,
			 size_t errlen)
{
	struct proxyd_runtime *rt;
	int rc = 0, lerr = 0;

	CHECK_OBJ(conf, PROXYD_CONF_MAGIC);
	rt = xcalloc(1, sizeof(*rt));
	rt->magic = RUNTIME_MAGIC;
	rt->conf = conf;
	rt->nworkers = proxyd_conf_worker_count(conf);
	rt->workers = xcalloc(rt->nworkers, sizeof(*rt->workers));
	atomic_init(&rt->sh.alive, 0);
	atomic_init(&rt->sh.accepted, 0);
	atomic_init(&rt->sh.dropped, 0);
	atomic_init(&rt->sh.tasks, 0);
	rt->metrics = metrics_new();
	metrics_bind(rt->metrics, conf);
	float_bind_load_caches(conf); /* direct_float: the last published bind IPs */
	rt->users = user_groups_new();
	user_groups_bind(rt->users, conf);
	if (dp_resolver_library_init() != 0) {
		snprintf(err, errlen, "c-ares initialisation failed");
		rc = -ENOMEM;
		goto fail_early;
	}
	rt->sh.task_log = logger_new(&conf->common.log.task, "Task", &lerr);
	if (rt->sh.task_log != NULL)
		rt->sh.escape_log = logger_new(&conf->common.log.escape, "Escape", &lerr);
	if (rt->sh.escape_log != NULL)
		rt->sh.resolve_log = logger_new(&conf->common.log.resolve, "Resolve", &lerr);
	if (rt->sh.resolve_log == NULL) {
		snprintf(err, errlen, "structured loggers: %s", strerror(-lerr));
		rc = lerr ? lerr : -EINVAL;
		goto fail_early;
	}
	for (unsigned i = 0; i < rt->nworkers; i++) {
		rc = worker_start(rt, i, err, errlen);
		if (rc != 0) {
			rt->nworkers = i + 1; /* this one may hold a loop and a ref */
			goto fail;
		}
	}
	rc = dp_plan_and_send(rt, conf, err, errlen);
	if (rc != 0)
		goto fail;
	metrics_activate(rt->metrics, conf, false);
	log_info("proxyd: %u worker thread%s started", rt->nworkers, rt->nworkers == 1 ? "" : "s");
	*out = rt;
	return 0;
fail:
	workers_stop(rt);
fail_early:
	dp_shared_fini(&rt->sh);
	metrics_free(rt->metrics);
	user_groups_free(rt->users);
	free(rt->workers);
	POISON_OBJ(rt);
	free(rt);
	return rc;
}

int proxyd_runtime_reload_err(struct proxyd_runtime *rt, struct proxyd_conf *conf, char *err,
			      size_t errlen)
{
	struct proxyd_conf *old;
	unsigned want;
	int rc;

	CHECK_OBJ(rt, RUNTIME_MAGIC);
	CHECK_OBJ(conf, PROXYD_CONF_MAGIC);
	want = proxyd_conf_worker_count(conf);
	if (want != rt->nworkers)
		log_notice("proxyd: the worker count (%u → %u) changes on restart, not on reload",
			   rt->nworkers, want);
	metrics_bind(rt->metrics, conf);
	float_bind_load_caches(conf); /* a direct_float new in this config */
	user_groups_bind(rt->users, conf);
	rc = dp_plan_and_send(rt, conf, err, errlen);
	if (rc != 0) {
		user_groups_bind(rt->users, rt->conf); /* back to the running users */
		return rc;
	}
	metrics_activate(rt->metrics, conf, rt->offline);
	old = rt->conf;
	rt->conf = conf;
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct proxyd_worker *wk = &rt->workers[i];
		struct proxyd_conf *prev = atomic_exchange(&wk->pending, proxyd_conf_ref(conf));
		/* a config queued but never taken goes straight away */
		proxyd_conf_unref(prev);
		ev_async_send(wk->loop, &wk->wake);
	}
	proxyd_conf_unref(old);
	rt->reloads++;
	return 0;
}

int proxyd_runtime_reload(struct proxyd_runtime *rt, struct proxyd_conf *conf)
{
	char err[256];
	int rc = proxyd_runtime_reload_err(rt, conf, err, sizeof(err));

	if (rc != 0)
		log_err("reload failed: %s", err);
	return rc;
}

int proxyd_runtime_run_on(struct proxyd_runtime *rt, unsigned idx, proxyd_worker_fn *fn, void *arg)
{
	return proxyd_runtime_run_on_owned(rt, idx, fn, NULL, arg);
}

int proxyd_runtime_run_on_owned(struct proxyd_runtime *rt, unsigned idx, proxyd_worker_fn *fn,
				void (*free_arg)(void *arg), void *arg)
{
	struct proxyd_worker *wk;
	struct worker_call *c;

	CHECK_OBJ(rt, RUNTIME_MAGIC);
	if (idx >= rt->nworkers || fn == NULL)
		return -EINVAL;
	wk = &rt->workers[idx];
	c = xmalloc(sizeof(*c));
	c->next = NULL;
	c->fn = fn;
	c->free_arg = free_arg;
	c->arg = arg;
	pthread_mutex_lock(&wk->calls_lock);
	*wk->calls_tail = c;
	wk->calls_tail = &c->next;
	pthread_mutex_unlock(&wk->calls_lock);
	ev_async_send(wk->loop, &wk->wake);
	return 0;
}

void proxyd_runtime_offline(struct proxyd_runtime *rt)
{
	CHECK_OBJ(rt, RUNTIME_MAGIC);
	if (rt->offline)
		return;
	rt->offline = true;
	metrics_activate(rt->metrics, rt->conf, true);
	for (unsigned i = 0; i < rt->nworkers; i++)
		if (proxyd_runtime_run_on(rt, i, dp_offline_call, NULL) != 0)
			log_err("worker %u: cannot queue the offline call", i);
	dp_lset_free(rt->lset);
	rt->lset = NULL;
}

bool proxyd_runtime_is_offline(const struct proxyd_runtime *rt)
{
	return rt->offline;
}

uint64_t proxyd_runtime_alive(const struct proxyd_runtime *rt)
{
	CHECK_OBJ(rt, RUNTIME_MAGIC);
	return atomic_load(&rt->sh.alive);
}

void proxyd_runtime_stop(struct proxyd_runtime *rt)
{
	if (rt == NULL)
		return;
	CHECK_OBJ(rt, RUNTIME_MAGIC);
	workers_stop(rt);
	dp_lset_free(rt->lset);
	dp_shared_fini(&rt->sh);
	metrics_free(rt->metrics);
	user_groups_free(rt->users);
	proxyd_conf_unref(rt->conf);
	free(rt->workers);
	POISON_OBJ(rt);
	free(rt);
}

const struct metrics *proxyd_runtime_metrics(const struct proxyd_runtime *rt)
{
	return rt->metrics;
}

struct user_groups *proxyd_runtime_users(const struct proxyd_runtime *rt)
{
	return rt->users;
}

struct proxyd_conf *proxyd_runtime_conf(const struct proxyd_runtime *rt)
{
	return rt->conf;
}

unsigned proxyd_runtime_workers(const struct proxyd_runtime *rt)
{
	return rt->nworkers;
}

uint64_t proxyd_runtime_reloads(const struct proxyd_runtime *rt)
{
	return rt->reloads;
}

bool proxyd_runtime_synced(const struct proxyd_runtime *rt)
{
	for (unsigned i = 0; i < rt->nworkers; i++)
		if (atomic_load(&rt->workers[i].active) != rt->conf)
			return false;
	return true;
}

bool proxyd_runtime_wait_synced(const struct proxyd_runtime *rt, unsigned timeout_ms)
{
	struct timespec ts = {0, 1000000};

	for (unsigned waited = 0; waited <= timeout_ms; waited++) {
		if (proxyd_runtime_synced(rt))
			return true;
		nanosleep(&ts, NULL);
	}
	return proxyd_runtime_synced(rt);
}

void proxyd_runtime_counters(const struct proxyd_runtime *rt,
			     void (*add)(void *arg, const char *name, uint64_t v), void *arg)
{
	static const char *const names[PROXYD_KIND__COUNT] = {
		[PROXYD_KIND_RESOLVER] = "resolvers",	  [PROXYD_KIND_ESCAPER] = "escapers",
		[PROXYD_KIND_USER_GROUP] = "user_groups", [PROXYD_KIND_AUDITOR] = "auditors",
		[PROXYD_KIND_SERVER] = "servers",
	};
	uint64_t swaps = 0;

	add(arg, "workers", rt->nworkers);
	add(arg, "reloads", rt->reloads);
	for (int k = 0; k < PROXYD_KIND__COUNT; k++)
		add(arg, names[k], rt->conf->loaded[k]);
	add(arg, "fallback_objects", rt->conf->fallbacks);
	add(arg, "configs_live", proxyd_conf_live());
	for (unsigned i = 0; i < rt->nworkers; i++)
		swaps += atomic_load(&rt->workers[i].swaps);
	add(arg, "worker_config_swaps", swaps);
	add(arg, "offline", rt->offline ? 1 : 0);
	add(arg, "alive_tasks", proxyd_runtime_alive(rt));
	add(arg, "accepted", atomic_load(&rt->sh.accepted));
	add(arg, "ingress_dropped", atomic_load(&rt->sh.dropped));
	add(arg, "proxy_protocol_rejected", atomic_load(&rt->sh.pp_rejected));
	add(arg, "tasks", atomic_load(&rt->sh.tasks));
	user_groups_counters(rt->users, add, arg);
}

/* ---- daemon_ops ------------------------------------------------------------------ */

static void *ops_conf_load(struct conf_ctx *ctx, const char *path)
{
	return proxyd_conf_load(ctx, path);
}

static void ops_conf_free(void *conf)
{
	proxyd_conf_unref(conf);
}

static const struct daemon_conf *ops_conf_common(const void *conf)
{
	return &((const struct proxyd_conf *)conf)->common;
}

static struct proxyd_runtime *rt_of(struct daemon *d)
{
	struct proxyd_runtime *rt = daemon_user(d);

	CHECK_OBJ(rt, RUNTIME_MAGIC);
	return rt;
}

static int ops_start(struct daemon *d, void *conf, char *err, size_t errlen)
{
	struct proxyd_runtime *rt = NULL;
	int rc = proxyd_runtime_start(conf, &rt, err, errlen);

	if (rc != 0)
		return rc;
	daemon_set_user(d, rt);
	user_groups_set_loop(rt->users, daemon_loop(d));
	return 0;
}

static int ops_reload(struct daemon *d, void *conf, char *err, size_t errlen)
{
	return proxyd_runtime_reload_err(rt_of(d), conf, err, errlen);
}

static void ops_offline(struct daemon *d)
{
	proxyd_runtime_offline(rt_of(d));
}

static uint64_t ops_alive(struct daemon *d)
{
	return proxyd_runtime_alive(rt_of(d));
}

static void ops_stop(struct daemon *d)
{
	proxyd_runtime_stop(rt_of(d));
	daemon_set_user(d, NULL);
	float_pub_clear(); /* published peers (no worker uses them any more) */
}

static void ops_counters(struct daemon *d, void (*add)(void *arg, const char *name, uint64_t v),
			 void *arg)
{
	proxyd_runtime_counters(rt_of(d), add, arg);
}

static void ops_emit_metrics(struct daemon *d, struct statsd *s)
{
	metrics_emit(rt_of(d)->metrics, s);
	user_groups_emit(rt_of(d)->users, s);
}

const struct daemon_ops proxyd_ops = {
	.name = "proxyd",
	.default_conf = "/etc/g3c/proxyd.yaml",
	.conf_load = ops_conf_load,
	.conf_free = ops_conf_free,
	.conf_common = ops_conf_common,
	.start = ops_start,
	.reload = ops_reload,
	.offline = ops_offline,
	.alive = ops_alive,
	.stop = ops_stop,
	.counters = ops_counters,
	.emit_metrics = ops_emit_metrics,
	.control = proxyd_ctl_handle,
};
