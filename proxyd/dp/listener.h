/* Listening sockets: every worker has its own SO_REUSEPORT socket for each
 * server with a `listen` address (http_proxy, socks_proxy), so the kernel
 * spreads new connections over the workers and a connection stays on the
 * thread that accepted it.
 *
 * The main thread plans (dp_lset_plan): it compares the servers of a new
 * config with the set it handed out before, binds the sockets of new
 * addresses for every worker (so a bind error fails the start or the
 * reload before anything changes), and builds one struct dp_update per
 * worker. The worker applies its update on its loop (dp_update_apply):
 * sockets of unchanged addresses are kept and point at the new server
 * object, removed ones close, new ones start accepting. */
#ifndef G3C_PROXYD_DP_LISTENER_H
#define G3C_PROXYD_DP_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "common/util.h"
#include "proxyd/config.h"
#include "proxyd/dp/dp.h"

/* What makes two listeners the same socket: the server name and the
 * listen settings that are fixed once bound. */
struct dp_lkey {
	char *server; /* owned */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char *interface; /* owned, NULL = none */
	bool ipv6_only;
	uint32_t backlog;
};

/* The keys every worker listens on (main thread's view). */
struct dp_lset {
	struct dp_lkey *v;
	size_t n;
};

struct dp_update_ent {
	struct dp_lkey key;	       /* owned copy */
	const struct server_conf *srv; /* in conf */
	int fd;			       /* a new socket (owned), or -1: keep the worker's */
};

/* One worker's part of a start, reload or offline. */
struct dp_update {
	struct proxyd_conf *conf; /* an owned reference */
	struct dp_update_ent *v;
	size_t n;
};

/* Plan the listeners of conf for nworkers workers against cur (NULL =
 * none). offline: plan no listener at all (only the config changes).
 * On success returns 0, ups[i] (an array of nworkers owned updates) and
 * *next (the owned new set). On failure returns -errno with a message in
 * err and nothing bound. Main thread. */
int dp_lset_plan(struct proxyd_conf *conf, const struct dp_lset *cur, unsigned nworkers,
		 bool offline, struct dp_update ***ups, struct dp_lset **next, char *err,
		 size_t errlen) MUST_CHECK;

void dp_lset_free(struct dp_lset *s);

/* Free an update that was not applied (its new sockets are closed, the
 * config reference dropped). NULL ok. */
void dp_update_free(void *update);

/* On the worker thread: switch to the update's config and listeners.
 * Takes the update (freed here). */
void dp_update_apply(struct dp_worker *wk, struct dp_update *up);

/* Close every listener of the worker (offline, shutdown). */
void dp_listeners_close(struct dp_worker *wk);

/* Listeners of a worker (tests, status). */
size_t dp_listeners_count(const struct dp_worker *wk);

#endif
