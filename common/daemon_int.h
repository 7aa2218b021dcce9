/* Internals of the daemon lifecycle shared by common/daemon*.c, their unit
 * tests and the control fuzzer. Daemons use common/daemon.h only.
 *
 * The control handler (daemon_ctl_handle) is a pure function over a struct
 * daemon and a request: with d->loop == NULL every action it triggers only
 * changes fields of the struct (no timers, no signals, no sockets), so tests
 * and the fuzzer drive it with a fake ops table. */
#ifndef G3C_COMMON_DAEMON_INT_H
#define G3C_COMMON_DAEMON_INT_H

#include "common/daemon.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <ev.h>

#define DAEMON_MAGIC 0x6733646du
#define DAEMON_CTL_PATH_MAX 108 /* sizeof(sun_path) */
#define DAEMON_DRAIN_POLL_MS 200
/* nanomsg drops queued messages on close: give a reply this long to leave. */
#define DAEMON_CTL_FLUSH_MS 200

enum daemon_phase {
	DAEMON_PH_RUNNING = 0,
	DAEMON_PH_OFFLINE_WAIT, /* graceful: waiting server_offline_delay */
	DAEMON_PH_TASK_WAIT,	/* offline done; waiting task_wait_delay */
	DAEMON_PH_DRAIN,	/* polling ops->alive until 0 or timeout */
	DAEMON_PH_DONE,		/* loop told to return; ops->stop follows */
};

struct daemon {
	uint32_t magic;
	const struct daemon_ops *ops;
	struct daemon_opts opts;
	struct daemon_conf dc; /* common part of the first config (not reloadable) */
	struct ev_loop *loop;  /* NULL: fake state for tests and the fuzzer */
	void *user;

	char *conf_abs;			    /* owned: absolute config path used for reloads */
	char ctl_path[DAEMON_CTL_PATH_MAX]; /* shared: <name>[_<group>].ctl */
	ino_t ctl_ino;			    /* inode of our socket file: unlink only our own */
	char own_path[DAEMON_CTL_PATH_MAX]; /* this process's <name>[_<group>]@<pid>.ctl */
	ino_t own_ino;
	pid_t pid;

	uint64_t start_wall_us, start_mono_ns;
	uint64_t load_wall_us; /* last successful load */
	uint64_t reload_ok, reload_failed;
	bool online;
	bool started; /* ops->start succeeded: ops->stop is owed */
	enum daemon_phase phase;
	uint64_t drain_start_ns;

	struct rpc_server *ctl;	    /* shared socket; NULL while released */
	struct rpc_server *ctl_own; /* own socket, for the whole life */
	uint64_t last_ctl_ns;	    /* when the last control request was handled */
	/* hot upgrade, old side: the shared socket went to a successor */
	bool released;
	long successor;
	ev_timer release_timer; /* closes the shared socket once the reply left */
	ev_timer resume_timer;	/* takes it back if the successor goes silent */
	/* new side: the process we took the shared socket from (0 = none) */
	long predecessor;
	struct statsd *statsd;
	int pid_fd;   /* locked pid file, -1 without -p */
	int ready_fd; /* -d: pipe to the waiting parent, -1 otherwise */

	ev_signal sig_hup, sig_term, sig_int, sig_quit;
	ev_timer stop_timer;
	ev_timer stat_timer;
};

/* Zero d and set the fields every state needs (magic, pid, clocks, fds -1).
 * ops and opts are borrowed and copied by pointer/value; loop may be NULL. */
void daemon_state_init(struct daemon *d, const struct daemon_ops *ops,
		       const struct daemon_opts *opts, struct ev_loop *loop);

/* ---- daemon.c: command line -------------------------------------------- */

enum daemon_cmd {
	DAEMON_CMD_RUN = 0,
	DAEMON_CMD_HELP,    /* -h: usage on stdout, exit 0 */
	DAEMON_CMD_VERSION, /* -V: "<name> <version>", exit 0 */
};

/* Parse argv into opts (defaults first). Returns 0 with *cmd, or -EINVAL
 * after writing "<name>: <problem>" to errbuf (exit status 2). argv is
 * borrowed: opts point into it. Resets getopt's state itself. */
int daemon_parse_args(int argc, char **argv, const struct daemon_ops *ops, struct daemon_opts *opts,
		      enum daemon_cmd *cmd, char *errbuf, size_t errlen) MUST_CHECK;

/* A group name may only use [A-Za-z0-9._-] (1..64 chars): it becomes part of
 * a socket file name. */
bool daemon_group_valid(const char *group);

/* ---- daemon_run.c: the running daemon ----------------------------------- */

/* Full reload: load the config from d->conf_abs and hand it to ops->reload.
 * Returns 0, -EINVAL with *errs (owned, free()) holding every config error
 * joined by '\n', -EBUSY (stopping) or the error of ops->reload with its
 * message in *errs. Counts reload_ok/reload_failed; notifies systemd. */
int daemon_reload(struct daemon *d, char **errs);

/* Begin a stop. Graceful: offline after offline_delay, drain, stop.
 * Immediate: offline and stop now. Returns false if a graceful stop was
 * already under way (a second graceful request changes nothing). */
bool daemon_begin_stop(struct daemon *d, bool graceful);
/* Abort a graceful stop still in its server_offline_delay window. Returns
 * true when one was aborted (servers never went offline). */
bool daemon_cancel_stop(struct daemon *d);

/* Run the stop sequence one step (timer callback body; exposed for tests
 * with loop == NULL, where it returns the delay in ms it would arm, or -1
 * when it reached DAEMON_PH_DONE). */
int64_t daemon_stop_step(struct daemon *d);

/* Tasks still running according to ops->alive (0 when it is NULL). */
uint64_t daemon_alive_tasks(struct daemon *d);

/* Send a state line to systemd when -s was given (no-op otherwise). */
void daemon_notify(struct daemon *d, const char *state);

/* Install the signal watchers and the stat timer on d->loop. Returns 0 or
 * -errno (logged). */
int daemon_run_prepare(struct daemon *d) MUST_CHECK;
/* Tell systemd READY=1 and run the loop until a stop reaches
 * DAEMON_PH_DONE. */
void daemon_run_loop(struct daemon *d);
/* Stop the watchers and free the statsd client (safe on any state). */
void daemon_run_cleanup(struct daemon *d);

/* ---- daemon_ctl.c: control socket --------------------------------------- */

extern const struct rpc_service daemon_ctl_service;

/* The control service handler; ctx is the struct daemon. */
enum rpc_code daemon_ctl_handle(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *rep,
				struct rpc_arena *a);

/* Create d->control_dir if missing, bind this process's own socket, then
 * the shared one. Returns 0, -EADDRINUSE (the shared socket is held by a
 * live process: see daemon_upgrade_takeover) or -errno, with a message in
 * err. */
int daemon_ctl_open(struct daemon *d, char *err, size_t errlen) MUST_CHECK;
/* Bind the shared socket only (d->ctl). Same returns. */
int daemon_ctl_bind_shared(struct daemon *d, char *err, size_t errlen) MUST_CHECK;
/* Close the shared socket and remove its file if it is still ours. */
void daemon_ctl_close_shared(struct daemon *d);
/* Close both sockets (shared, own), removing the files that are ours. */
void daemon_ctl_close(struct daemon *d);

/* ---- daemon_upgrade.c: hot upgrade --------------------------------------- */

/* Old side may wait this long for the successor's Offline or
 * CancelShutdown after a release before taking the shared socket back. */
#define DAEMON_UPGRADE_RESUME_MS 30000
/* New side: how long the old process may take to answer and let go. */
#define DAEMON_UPGRADE_WAIT_MS 5000

/* New side, at start when the shared socket is held: ask its holder to
 * release it (ReleaseController) and bind it. Sets d->predecessor. Returns
 * 0 or -errno with a message in err (nothing changed for the old process
 * unless it released: then it takes the socket back by itself). */
int daemon_upgrade_takeover(struct daemon *d, char *err, size_t errlen) MUST_CHECK;
/* New side, once start succeeded (started) or failed: Offline, or
 * CancelShutdown after closing our shared socket, to the predecessor's own
 * socket. No-op without a predecessor. */
void daemon_upgrade_retire(struct daemon *d, bool started);
/* Old side handlers (control requests; with d->loop == NULL they only set
 * fields). Release: returns false when a release cannot happen now
 * (stopping or already released) with the reason in *why. */
bool daemon_upgrade_release(struct daemon *d, long successor, const char **why);
/* Take the shared socket back after a release (CancelShutdown, the resume
 * timer). Returns true when it is ours again. */
bool daemon_upgrade_resume(struct daemon *d);
/* An Offline arrived after a release: the successor took over for good. */
void daemon_upgrade_confirmed(struct daemon *d);
/* Stop the upgrade timers (teardown). */
void daemon_upgrade_cleanup(struct daemon *d);

/* ---- daemon.c: pid file (shared with the upgrade hand-over) -------------- */

int daemon_pidfile_acquire(const char *path, int *fdp, char *err, size_t errlen) MUST_CHECK;
void daemon_pidfile_release(const char *path, int fd);

#endif
