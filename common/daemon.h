/* Daemon lifecycle shared by every g3c daemon: g3proxy-style command line,
 * config loading and -t, daemonising with a pidfile, systemd notification,
 * signals (SIGHUP reload, SIGTERM graceful stop, SIGINT/SIGQUIT immediate
 * stop), the control sockets (proto/control.proto) that g3ctl talks to:
 * version, status, reload, offline, cancel-shutdown, plus daemon-specific
 * requests; and hot upgrade: a second process of the same name and group
 * takes the shared control socket over and retires the first (see
 * daemon_upgrade.c). The main thread runs one libev loop that owns all of
 * this. */
#ifndef G3C_COMMON_DAEMON_H
#define G3C_COMMON_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "common/log.h"
#include "common/rpc.h"
#include "common/statsd.h"
#include "common/util.h"

#ifndef G3C_VERSION
#define G3C_VERSION "0.1.0"
#endif

#define DAEMON_DEFAULT_CONTROL_DIR "/run/g3c"

struct conf_ctx;
struct conf_node;

/* Command line: -c FILE|DIR, -t, -G group, -d, -p pidfile, -s, -m, -v
 * (repeat), -V, -C control_dir, -h. */
struct daemon_opts {
	const char *conf_path;
	const char *group;	 /* "" when not given */
	const char *control_dir; /* DAEMON_DEFAULT_CONTROL_DIR unless -C */
	const char *pidfile;	 /* NULL unless -p */
	bool test_config;
	bool daemonize;
	bool systemd;
	bool monitored; /* -m: foreground under a supervisor (hot upgrade as -d / -s) */
	int verbosity;
};

/* Settings of the main file every daemon shares; not reloadable (a reload
 * parses them again for validation but keeps the values from the start). */
struct daemon_conf {
	char stat_prefix[32]; /* default `stat.prefix` (g3 names: proxyd uses "g3proxy") */
	/* runtime: server_offline_delay (4s), task_wait_delay (2s),
	 * task_wait_timeout (10h), task_quit_timeout (30min); thread_number
	 * thread_name, thread_stack_size, max_io_events_per_tick are validated
	 * and otherwise ignored. task_quit_timeout is informational: ops->stop
	 * must end the remaining tasks itself. */
	uint64_t offline_delay_ms;
	uint64_t task_wait_delay_ms;
	uint64_t task_wait_timeout_ms;
	uint64_t task_quit_timeout_ms;
	struct log_conf log;
	struct statsd_conf stat;
	/* controller: {local: {recv_timeout (30s), send_timeout (1s)}}, for
	 * g3proxy compatibility; the control server answers each request at
	 * once, so only the client's deadline applies in practice. */
	uint64_t ctl_recv_timeout_ms;
	uint64_t ctl_send_timeout_ms;
};

/* Set the documented defaults; stat_prefix is the metric prefix used when
 * `stat.prefix` is not given (the G3 program name keeps g3 dashboards working). */
void daemon_conf_defaults(struct daemon_conf *dc, const char *stat_prefix);

/* Parse one top-level key of the main file if it is one of `runtime`, `log`,
 * `stat`, `controller`: returns 1 when handled (errors recorded in ctx), 0
 * when the key is not a common one. */
int daemon_conf_parse_key(struct conf_ctx *ctx, const struct conf_node *key,
			  struct daemon_conf *dc);

struct daemon;

struct daemon_ops {
	const char *name;	  /* "proxyd": socket names, logs, metrics prefix */
	const char *default_conf; /* "/etc/g3c/proxyd.yaml" */

	/* Parse and validate a config; must not touch running state (also used
	 * by -t and reload). Returns an owned config or NULL with every error
	 * recorded in ctx. */
	void *(*conf_load)(struct conf_ctx *ctx, const char *path);
	void (*conf_free)(void *conf);
	/* The shared part of a loaded config (borrowed from it). */
	const struct daemon_conf *(*conf_common)(const void *conf);

	/* Start serving with the first config (ownership passes on success).
	 * Returns 0 or -errno with a message in err.
	 * Signals: SIGHUP, SIGTERM, SIGINT and SIGQUIT are blocked in the
	 * calling thread before start runs, so every thread the daemon creates
	 * here (or later from the main thread) inherits a mask that keeps them
	 * out; only the main loop takes them. SIGPIPE is ignored process-wide.
	 * The control socket is already bound; requests are served once start
	 * returns and the main loop runs. */
	int (*start)(struct daemon *d, void *conf, char *err, size_t errlen);
	/* Swap in a new config. On success ownership passes and the old config
	 * is released when nothing uses it; on failure nothing changed and the
	 * caller frees conf. */
	int (*reload)(struct daemon *d, void *conf, char *err, size_t errlen);
	/* Stop accepting new work; running tasks go on. */
	void (*offline)(struct daemon *d);
	/* Tasks still running (graceful stop waits for 0, bounded). */
	uint64_t (*alive)(struct daemon *d);
	/* Tear down: workers joined, listeners closed, config released. */
	void (*stop)(struct daemon *d);
	/* Report counters for `status`: call add(arg, name, value) per counter.
	 * May be NULL. */
	void (*counters)(struct daemon *d, void (*add)(void *arg, const char *name, uint64_t v),
			 void *arg);
	/* Control requests the common layer does not handle (daemon-specific
	 * members of control.proto's oneof); NULL → UNIMPLEMENTED. Called with
	 * ctx = the struct daemon *, on the main loop. */
	rpc_handler_fn *control;
	/* Emit daemon metrics on each stat interval (may be NULL); the caller
	 * brackets it with statsd_begin/statsd_end. */
	void (*emit_metrics)(struct daemon *d, struct statsd *s);
};

/* Parse argv, load the config, and run until stopped. Returns the process
 * exit status (0 clean stop, -t success, -h, -V; 1 config error or
 * failure; 2 bad usage). With -d the starting process returns only once the
 * daemon serves (0) or has failed (1). */
int daemon_main(int argc, char **argv, const struct daemon_ops *ops);

/* Accessors for the daemon's callbacks. */
struct ev_loop *daemon_loop(struct daemon *d);
const struct daemon_opts *daemon_get_opts(const struct daemon *d);
void *daemon_user(struct daemon *d); /* daemon's own state pointer */
void daemon_set_user(struct daemon *d, void *p);

/* Control socket path: <control_dir>/<name>[_<group>].ctl into buf (group
 * NULL or "" → no suffix). Returns 0, -EINVAL (empty name or dir) or
 * -ENAMETOOLONG (does not fit cap or a unix socket address). */
int daemon_control_path(const char *control_dir, const char *name, const char *group, char *buf,
			size_t cap);
/* A process's own control socket: <control_dir>/<name>[_<group>]@<pid>.ctl
 * ('@' never appears in a group name, so no two paths collide). Same
 * returns. */
int daemon_control_path_pid(const char *control_dir, const char *name, const char *group, long pid,
			    char *buf, size_t cap);

#endif
