/* iplocd's running state and the daemon_ops that plug it into
 * common/daemon.h. Everything runs on the main loop: the RPC server, the
 * control socket, the database file watcher and the metrics timer.
 *
 * Database ownership: a loaded config owns a reference to each database it
 * opened; start and reload move them into the service, which answers with
 * them until a reload or the watcher (a file whose identity changed and
 * that validates) replaces one. A swap happens between two requests, so a
 * request never sees a half-changed set. */
#ifndef G3C_IPLOCD_RUNTIME_H
#define G3C_IPLOCD_RUNTIME_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "common/daemon.h"
#include "common/statsd.h"
#include "iplocd/conf.h"
#include "iplocd/service.h"

#define IPLOCD_MAGIC 0x69706c64u /* "ipld" */

/* Per configured database: what the watcher saw. */
struct iplocd_watch {
	bool failed;	  /* the file at failed_id was refused */
	bool stat_failed; /* the path could not be stat'ed (logged once) */
	struct iploc_file_id failed_id;
	uint64_t reloads;  /* changed files loaded */
	uint64_t failures; /* changed files refused */
	char last_error[512];
};

struct iplocd_metrics {
	struct statsd_counter requests, invalid, responses, found, misses, db_errors, malformed,
		send_errors;
	struct statsd_counter reloads[IPLOC_DB__COUNT], failures[IPLOC_DB__COUNT];
};

struct iplocd {
	uint32_t magic;
	struct ev_loop *loop;
	struct iplocd_conf *conf; /* current config (its db slots are moved out) */
	struct iploc_service svc;
	struct rpc_server *rpc; /* NULL once offline */
	char rpc_url[PATH_MAX + 8];
	ev_timer watch_timer;
	struct iplocd_watch watch[IPLOC_DB__COUNT];
	struct iplocd_metrics metrics;
};

extern const struct daemon_ops iplocd_ops;

/* Start serving with conf (ownership passes on success) on loop; the RPC
 * socket is bound at url. Returns 0, or -errno with err set. */
int iplocd_start(struct iplocd *ipl, struct ev_loop *loop, struct iplocd_conf *conf,
		 const char *url, char *err, size_t errlen) MUST_CHECK;
/* Swap in a new config (ownership passes on success; on failure nothing
 * changed and the caller keeps conf). url: the RPC URL it asks for. */
int iplocd_reload(struct iplocd *ipl, struct iplocd_conf *conf, const char *url, char *err,
		  size_t errlen) MUST_CHECK;
/* Check every database file now (what the timer does). Returns how many
 * databases were replaced. */
unsigned iplocd_check_files(struct iplocd *ipl);
/* Stop serving RPC (offline). */
void iplocd_offline(struct iplocd *ipl);
/* Release everything. */
void iplocd_stop(struct iplocd *ipl);

/* Status counters and metrics (runtime_stats.c). */
void iplocd_counters(struct iplocd *ipl, void (*add)(void *arg, const char *name, uint64_t v),
		     void *arg);
void iplocd_emit_metrics(struct iplocd *ipl, struct statsd *s);

/* The control handler for members 120..139 (ctl.c); ctx is the daemon. */
enum rpc_code iplocd_ctl_handle(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *rep,
				struct rpc_arena *a);

#endif
