/* Idle keep-alive upstream connections of HTTP forwarding, per worker
 * (http_forward_upstream_keepalive). A connection whose response ended
 * cleanly and that both sides agreed to keep open waits here, keyed by the
 * escaper name and the target host:port, until a later request to the same
 * target takes it, its idle_expire passes, or the peer closes it (any
 * readability of an idle connection closes it: it can only be an end of
 * stream or bytes nobody asked for). Not thread-safe: one worker. */
#ifndef G3C_PROXYD_DP_UPPOOL_H
#define G3C_PROXYD_DP_UPPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxyd/dp/dp.h"

/* Most idle upstream connections a worker keeps (the oldest goes first). */
#define UPPOOL_MAX 1024

struct uppool_conn {
	int fd;
	union dp_addr bound, peer;
};

/* Put fd (taken) in the pool for idle_ms. */
void uppool_put(struct dp_worker *wk, const char *escaper, const char *host, uint16_t port,
		const struct uppool_conn *uc, uint64_t idle_ms);

/* Take an idle connection for the target: true with *uc filled (the fd is
 * the caller's), false when none. */
bool uppool_take(struct dp_worker *wk, const char *escaper, const char *host, uint16_t port,
		 struct uppool_conn *uc);

/* Close every idle connection (offline, shutdown). */
void uppool_close_all(struct dp_worker *wk);

/* Idle connections pooled now. */
size_t uppool_count(const struct dp_worker *wk);

#endif
