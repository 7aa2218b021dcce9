/* Per-connection speed limits (g3 tcp_sock_speed_limit): the server's
 * limit on the client socket (upload = reading the client, download =
 * writing to it) and the escaper's on the upstream socket (upload =
 * writing to it, download = reading it), each a g3 slice limiter
 * (limit.h).
 *
 * Copy paths ask speed_grant() how much may move now before each read or
 * write and report what moved with speed_used(). A direction with nothing
 * granted is "blocked": the interest functions drop its watcher event and a
 * timer on the connection wakes it at the next slice (no busy loop). */
#ifndef G3C_PROXYD_DP_SPEED_H
#define G3C_PROXYD_DP_SPEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "proxyd/dp/limit.h"

enum speed_dir {
	SPEED_CL_RD = 1 << 0, /* reading the client (server upload) */
	SPEED_CL_WR = 1 << 1, /* writing to the client (server download) */
	SPEED_UP_RD = 1 << 2, /* reading the upstream (escaper download) */
	SPEED_UP_WR = 1 << 3, /* writing to the upstream (escaper upload) */
};

#define SPEED_NDIR 4

struct speed {
	struct limit_slice lim[SPEED_NDIR];
	unsigned on;	  /* SPEED_* bits with a limit */
	unsigned blocked; /* SPEED_* bits waiting for the wake timer */
	ev_timer wake;	  /* stopped unless something is blocked */
};

struct conn;

/* Prepare (no limits, timer idle). */
void speed_init(struct speed *sp);

/* Load the limits of the connection's server and of its escaper (when it
 * has reached one: c->esc.esc). Called when bytes start to flow; counts
 * restart. */
void speed_setup(struct conn *c);

/* Stop the wake timer (close / free). */
void speed_stop(struct conn *c);

/* How many of want bytes may move now through every direction in dirs
 * (bits): want when none is limited. 0 blocks the directions that have
 * nothing left and arms the wake timer. */
size_t speed_grant(struct conn *c, unsigned dirs, size_t want);

/* n bytes moved through every direction in dirs. */
void speed_used(struct conn *c, unsigned dirs, size_t n);

/* True while any direction in dirs waits for the wake timer. */
static inline bool speed_blocked(const struct speed *sp, unsigned dirs)
{
	return (sp->blocked & dirs) != 0;
}

#endif
