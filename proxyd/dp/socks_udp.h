/* SOCKS5 UDP ASSOCIATE for socks_proxy (see socks_udp.c): g3's "udp
 * connect" mode by default, full UDP ASSOCIATE with use_udp_associate.
 * The association state (sockets, watchers, a datagram waiting for DNS)
 * belongs to the connection and goes in socks_udp_free(). */
#ifndef G3C_PROXYD_DP_SOCKS_UDP_H
#define G3C_PROXYD_DP_SOCKS_UDP_H

#include <stdint.h>

#include "proxyd/dp/escaper.h"
#include "proxyd/dp/socks_parse.h"

struct conn;

/* A UDP ASSOCIATE request was read: create the task, bind the client-side
 * UDP socket, reply with its address and move to CONN_ST_UDP (or reply
 * with an error code and linger). */
void socks_udp_start(struct conn *c, const struct socks_request *rq);

/* CONN_ST_UDP: watch the TCP connection (its end ends the association). */
int socks_udp_run(struct conn *c);
/* Timer: udp_client_initial_timeout, then the idle check. */
void socks_udp_timeout(struct conn *c);
/* The escaper's outcome for the association (conn_connect_done): the
 * success reply, or a failure reply; for a route deciding on the first
 * datagram, that datagram goes on, or the association ends. */
void socks_udp_escaped(struct conn *c, enum escape_err err);
/* Release the association (conn_free, after the task record). */
void socks_udp_free(struct conn *c);

/* Reply a SOCKS5 code without address and linger (socks.c). */
void socks_reply_code(struct conn *c, uint8_t code);

#endif
