/* proxyd's runtime: N worker threads, each with its own libev loop and an
 * ev_async through which the main thread hands it a new config or asks it
 * to stop; plus the daemon_ops that plug proxyd into common/daemon.h.
 *
 * Config ownership: the runtime holds one reference to the current config
 * and each worker holds one to the config it runs with. A reload swaps the
 * runtime's config and queues a reference for every worker; a worker drops
 * its old reference when it takes the new one, so an old config is freed
 * only after the last worker (and anything else holding a ref) let it go.
 * All functions here are called from the main thread. */
#ifndef G3C_PROXYD_RUNTIME_H
#define G3C_PROXYD_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/daemon.h"
#include "common/util.h"
#include "proxyd/config.h"

struct proxyd_runtime;

/* Start proxyd_conf_worker_count(conf) workers, the task logger, and one
 * listening socket per worker for each http_proxy / socks_proxy server
 * with a `listen` address. Takes the caller's reference to conf on
 * success; on failure (a bind error, say) nothing is started, conf is
 * untouched (still the caller's) and err holds a message. */
int proxyd_runtime_start(struct proxyd_conf *conf, struct proxyd_runtime **out, char *err,
			 size_t errlen) MUST_CHECK;

/* Swap in conf and notify every worker: listeners of new listen addresses
 * are bound first (a bind error fails the reload and changes nothing: the
 * caller keeps conf), unchanged ones are kept, removed ones close. On
 * success takes the caller's reference. The worker count is fixed at
 * start; a different count is logged. _err puts the reason in err; the
 * plain form logs it. */
int proxyd_runtime_reload_err(struct proxyd_runtime *rt, struct proxyd_conf *conf, char *err,
			      size_t errlen) MUST_CHECK;
int proxyd_runtime_reload(struct proxyd_runtime *rt, struct proxyd_conf *conf) MUST_CHECK;

/* Stop accepting new work: every worker closes its listeners; open
 * connections go on. Idempotent; later reloads bind nothing. */
void proxyd_runtime_offline(struct proxyd_runtime *rt);
bool proxyd_runtime_is_offline(const struct proxyd_runtime *rt);

/* Client connections open across workers (what a graceful stop drains). */
uint64_t proxyd_runtime_alive(const struct proxyd_runtime *rt);

/* Stop and join every worker, drop every config reference, free rt.
 * NULL is accepted. */
void proxyd_runtime_stop(struct proxyd_runtime *rt);

/* The current config (borrowed; valid until the next reload or stop). */
struct proxyd_conf *proxyd_runtime_conf(const struct proxyd_runtime *rt);
/* The StatsD counter registry (proxyd/metrics.h; main thread). */
struct metrics;
const struct metrics *proxyd_runtime_metrics(const struct proxyd_runtime *rt);
/* The user group runtimes (proxyd/user_table.h; main thread). */
struct user_groups;
struct user_groups *proxyd_runtime_users(const struct proxyd_runtime *rt);
unsigned proxyd_runtime_workers(const struct proxyd_runtime *rt);
uint64_t proxyd_runtime_reloads(const struct proxyd_runtime *rt);
/* True when every worker runs with the current config. */
bool proxyd_runtime_synced(const struct proxyd_runtime *rt);
/* Wait up to timeout_ms for proxyd_runtime_synced(); returns it. */
bool proxyd_runtime_wait_synced(const struct proxyd_runtime *rt, unsigned timeout_ms);

/* Run fn(loop, conf, arg) on worker `idx`'s thread, with that worker's
 * loop and the config it runs with (borrowed for the call). Calls run in
 * order; ones still queued at stop are dropped without running. Returns 0,
 * or -EINVAL for a bad index. ev_userdata(loop) is the worker's struct
 * dp_worker (proxyd/dp/dp.h). */
typedef void proxyd_worker_fn(struct ev_loop *loop, struct proxyd_conf *conf, void *arg);
int proxyd_runtime_run_on(struct proxyd_runtime *rt, unsigned idx, proxyd_worker_fn *fn,
			  void *arg) MUST_CHECK;

/* Same, with free_arg(arg) called instead when the call is dropped at
 * stop without running (arg owns resources). */
int proxyd_runtime_run_on_owned(struct proxyd_runtime *rt, unsigned idx, proxyd_worker_fn *fn,
				void (*free_arg)(void *arg), void *arg) MUST_CHECK;

/* Report counters (the daemon `status` request). */
void proxyd_runtime_counters(const struct proxyd_runtime *rt,
			     void (*add)(void *arg, const char *name, uint64_t v), void *arg);

/* The lifecycle callbacks for daemon_main(). */
extern const struct daemon_ops proxyd_ops;

#endif
