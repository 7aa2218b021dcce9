/* Relaying bytes both ways between the client and the upstream of one
 * connection: splice(2) through pooled pipes (common/pipebuf.h) with our own
 * byte counts, after any bytes the client sent ahead of the relay (kept in
 * the connection's input buffer) went out first. Half-close: when one side
 * ends its stream, the other side's write half is shut once the pipe has
 * drained; the relay finishes when both directions are done.
 *
 * When either side is TLS (tls_ep.h) bytes must pass through user space:
 * the buffered path (relay_buf.c) copies client → upstream through the
 * connection's input buffer and upstream → client through `ub`, a pooled
 * block taken on the first read and given back whenever it drains, with
 * the same counts, half-close (a close_notify before the TCP end on a TLS
 * side) and idle semantics. Plain/plain stays on splice. */
#ifndef G3C_PROXYD_DP_RELAY_H
#define G3C_PROXYD_DP_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/pipebuf.h"

struct conn;

struct relay_dir {
	struct pipebuf pb;
	bool done;    /* source ended and everything was delivered */
	bool full;    /* the pipe refused more: wait until it drained */
	uint64_t in;  /* bytes read from the source */
	uint64_t out; /* bytes written to the destination */
};

struct relay {
	struct relay_dir c2u, u2c;
	struct buf ub;	    /* buffered path: upstream → client bytes */
	uint64_t idle_mark; /* bytes moved at the last idle check */
	unsigned idle_count;
};

void relay_init(struct relay *r);
/* Release the pipes (bytes still inside are dropped). */
void relay_fini(struct relay *r);

/* Watcher interest the relay needs, OR'ed into *cl / *up (EV_READ,
 * EV_WRITE). */
void relay_interest(const struct conn *c, int *cl, int *up);

/* Move what can be moved now. Returns true while the relay goes on, false
 * once it ended (both directions done, or an error: the reason is set on
 * the task and the connection is closed). */
bool relay_step(struct conn *c);

/* Idle check tick: returns false (reason Idle set) when nothing moved for
 * task_idle_max_count consecutive checks. */
bool relay_idle_tick(struct conn *c);

/* relay_buf.c: the buffered path's interest and step (relay.c dispatches
 * to them when either endpoint has TLS). */
bool relay_is_buffered(const struct conn *c);
void relay_buf_interest(const struct conn *c, int *cl, int *up);
/* Returns 1 on progress, 0 on none, -1 when the connection failed. */
int relay_buf_dir_step(struct conn *c, bool c2u);

#endif
