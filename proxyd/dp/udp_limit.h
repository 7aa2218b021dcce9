/* UDP speed limits of one SOCKS5 UDP association (g3proxy §1.5.4):
 * udp_sock_speed_limit of the server and of the user (per socket: bytes and
 * packets per 2^shift_millis ms slice, each direction; both apply, so the
 * slower wins) and the user's udp_all_upload_speed_limit /
 * udp_all_download_speed_limit (token buckets of bytes and packets shared
 * by every worker). A datagram over a limit is dropped and counted.
 *
 * Ownership: struct udp_limit lives inside the association (one thread);
 * the shared buckets are borrowed from user_state (valid for the process). */
#ifndef G3C_PROXYD_DP_UDP_LIMIT_H
#define G3C_PROXYD_DP_UDP_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxyd/config.h"
#include "proxyd/dp/limit.h"
#include "proxyd/user_state.h"

enum udp_limit_dir {
	UDP_LIMIT_UP = 0, /* client → remote (upload, north) */
	UDP_LIMIT_DOWN,	  /* remote → client (download, south) */
};

/* One per-socket limit for one direction: a byte and a packet slice. */
struct udp_slice {
	struct limit_slice bytes, packets;
};

struct udp_limit {
	struct udp_slice srv[2], user[2];  /* [enum udp_limit_dir] */
	struct user_dgram_buckets *all[2]; /* user's udp_all_*, NULL = none */
	bool on;			   /* any limit set */
};

/* Set up from the server's udp_sock_speed_limit (srv_l, may be NULL) and
 * the user's conf (uc, may be NULL) and shared state (st, may be NULL). */
void udp_limit_init(struct udp_limit *l, const struct udp_speed_limit *srv_l,
		    const struct user_conf *uc, struct user_state *st);

/* Whether a datagram of n payload bytes may go in direction dir at
 * now_ns (monotonic); when true it is accounted to every limit. False: the
 * caller drops it. */
bool udp_limit_pass(struct udp_limit *l, enum udp_limit_dir dir, size_t n, uint64_t now_ns);

#endif
