/* RFC 8305 happy eyeballs for direct_fixed: connection attempts that were
 * overtaken by a later one (connection_attempt_delay elapsed) keep going
 * here, each with its own socket and watcher, while the newest attempt
 * runs on the connection's upstream endpoint. The first socket that
 * connects wins; every other attempt is closed.
 *
 * The race is allocated only when a second attempt starts before the first
 * finished (a slow or blackholed address), so the common case costs
 * nothing. It belongs to the connection's escape_op and is freed by
 * he_free() (escape_cancel). */
#ifndef G3C_PROXYD_DP_ESCAPER_HE_H
#define G3C_PROXYD_DP_ESCAPER_HE_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "proxyd/dp/dp.h"

/* Most attempts racing besides the one on the upstream endpoint. */
#define HE_MAX 4

struct conn;

struct he_attempt {
	int fd; /* owned; -1 = slot free */
	ev_io io;
	union dp_addr addr;
	uint64_t start_ns;
	struct conn *c;
};

struct he_race {
	struct he_attempt a[HE_MAX];
	unsigned n; /* slots in use */
};

/* Move the connection's pending upstream attempt (c->up, addr, started at
 * start_ns) into the race. Returns 0, -ENOMEM or -ENOSPC (race full: the
 * caller keeps waiting on it instead). */
int he_push(struct conn *c, const union dp_addr *addr, uint64_t start_ns) MUST_CHECK;

/* Attempts still racing. */
unsigned he_pending(const struct conn *c);

/* Close the racing attempts started before now_ns - timeout_ns (they timed
 * out); returns how many. */
unsigned he_expire(struct conn *c, uint64_t now_ns, uint64_t timeout_ns);

/* Earliest start time among the racing attempts (0 = none). */
uint64_t he_oldest(const struct conn *c);

/* Close every racing attempt and free the race (NULL race ok). */
void he_free(struct conn *c);

/* Called by the race when attempt fd connected (winner: fd, addr, start)
 * or failed (fd -1, rc = -errno); implemented in escaper.c. */
void escape_he_result(struct conn *c, int fd, int rc, const union dp_addr *addr, uint64_t start_ns);

#endif
