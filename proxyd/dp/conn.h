/* One client connection of an http_proxy or socks_proxy server, and the
 * state machine that runs it (STYLE.md "Event loop and connections").
 *
 * Shape: one libev callback per event kind (conn_on_io for both sockets,
 * conn_on_timer), each bracketed by conn_hold()/conn_release() so that a
 * handler may call conn_close() and the memory goes only when the callback
 * returns. conn_run() calls the handler of the current state until it
 * reports CONN_WAIT; handlers never touch watchers: conn_sync_watchers()
 * derives the interest of both sockets from the state and the buffer
 * levels, in one place. One ev_timer per connection is re-armed per phase
 * (negotiation, connect, relay idle check, linger). Every pending
 * asynchronous operation (resolver requests) is stored here and cancelled
 * in conn_free().
 *
 * Memory: a connection costs the struct and nothing else while idle: the
 * input buffer takes a pooled 16 KiB block only while bytes are being
 * parsed (an empty one goes back after a read that found nothing), the
 * HttpForward state comes from a free list per exchange, and the relay's
 * pipes come from the worker's pool. */
#ifndef G3C_PROXYD_DP_CONN_H
#define G3C_PROXYD_DP_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <ev.h>

#include "common/buf.h"
#include "proxyd/config.h"
#include "proxyd/dp/dp.h"
#include "proxyd/dp/escaper.h"
#include "proxyd/dp/relay.h"
#include "proxyd/dp/speed.h"
#include "proxyd/dp/tasklog.h"

#define CONN_MAGIC 0x636f6e6eu /* "conn" */

enum conn_state {
	CONN_ST_SOCKS_GREETING = 0, /* version, SOCKS5 methods or a SOCKS4 request */
	CONN_ST_SOCKS5_REQUEST,	    /* RFC 1928 §4 request */
	CONN_ST_HTTP_HEAD,	    /* HTTP request head */
	CONN_ST_RESOLVING,	    /* waiting for the resolver */
	CONN_ST_CONNECTING,	    /* non-blocking connect to the upstream */
	CONN_ST_REPLYING,	    /* success reply going out, then relay */
	CONN_ST_HTTP_FWD,	    /* one forwarded HTTP request / response */
	CONN_ST_UDP,		    /* SOCKS5 UDP association (TCP watched) */
	CONN_ST_RELAY,		    /* bytes both ways */
	CONN_ST_LINGER,		    /* error reply going out, then drain and close */
	CONN_ST_STANDBY,	    /* route_failover's standby attempt: no client */
	CONN_ST_TLS_ACCEPT,	    /* TLS handshake with the client (tls_ep.h) */
	CONN_ST_TLS_CONNECT,	    /* TLS handshake with the upstream (tls_ep.h) */
	CONN_ST_PEER_NEGO,	    /* handshake with a next-hop proxy (escaper_proxy.c) */
	CONN_ST_SOCKS5_AUTH,	    /* RFC 1929 user/password sub-negotiation */
	CONN_ST_AUTH_DELAY,	    /* a blocked user waits block_and_delay, then refused */
	CONN_ST__COUNT,
};

enum conn_step {
	CONN_WAIT = 0, /* nothing more to do until an event */
	CONN_AGAIN,    /* state changed or progress made: run again */
};

enum conn_proto {
	CONN_P_NONE = 0,
	CONN_P_SOCKS4, /* SOCKS4 / SOCKS4a */
	CONN_P_SOCKS5,
	CONN_P_HTTP_CONNECT,
	CONN_P_HTTP_FORWARD,
};

struct conn;
struct conn_user;
struct http_fwd;
struct udp_assoc;
struct ssl_st;

struct conn_ep {
	int fd; /* owned; -1 when none */
	ev_io io;
	int events; /* interest the watcher has now */
	int ready;  /* readiness seen and not yet used up (EV_READ / EV_WRITE) */
	bool eof;   /* read side reached end of stream */
	bool shut;  /* our write side is shut */
	struct conn *c;
	struct ssl_st *ssl; /* owned; NULL = plain (tls_ep.h) */
	int tls_want;	    /* direction OpenSSL waits for besides ours */
};

#define CONN_REPLY_MAX 512

struct conn {
	uint32_t magic;
	unsigned refs;
	bool closing;
	bool shadow; /* a standby attempt (conn_new_shadow): not in the worker's list */
	enum conn_state state;
	enum conn_proto proto;
	uint8_t http_minor;	/* HTTP/1.<minor> of the client's request */
	bool head_started;	/* bytes of the current request head arrived */
	uint32_t http_requests; /* requests read on this connection */
	struct dp_worker *wk;
	struct dp_gen *gen; /* reference: the config this connection runs with */
	const struct server_conf *srv;
	struct conn *next, *prev; /* worker's list */
	struct conn_ep cl, up;
	ev_timer timer;
	bool timer_repeat;
	union dp_addr client_addr, server_addr;
	struct buf in; /* client bytes not consumed yet (pooled block, lazily) */
	uint8_t reply[CONN_REPLY_MAX];
	uint16_t reply_len, reply_off;
	/* the target */
	char host[256];
	uint16_t port;
	bool host_is_ip;
	union dp_addr host_addr; /* when host_is_ip (port set) */
	uint32_t path_id;	 /* egress path selection number id (1-based), 0 = none */
	char path_sid[64];	 /* egress path selection string id (float escapers), "" = none */
	struct escape_op esc;
	struct relay relay;
	struct speed speed;	/* tcp_sock_speed_limit of the server and escaper */
	ev_timer logtick;	/* task_log_flush_interval: Periodic records */
	uint32_t reply_out;	/* reply bytes sent for the current task */
	bool reply_counts;	/* an error reply: reply_out counts as c_wr_bytes */
	struct http_fwd *fwd;	/* HttpForward state, from the first forwarded request */
	struct udp_assoc *udp;	/* SOCKS5 UDP association */
	struct conn_user *user; /* authenticated user (conn_user.h), NULL = none */
	struct task_notes task;
	/* username params of the login (uparams.h): owned, NULL = none */
	struct conn_uparams *uparams;
	/* an upstream TLS handshake's continuation (tls_ep_client_begin) */
	void (*tls_done)(struct conn *c, int rc);
};

/* Accept-side constructor: a connection for fd (taken) accepted on srv of
 * the worker's current generation. Returns NULL (fd closed) when memory is
 * short. The connection starts in the server's first state. */
struct conn *conn_new(struct dp_worker *wk, const struct server_conf *srv, int fd,
		      const struct sockaddr *peer, const struct sockaddr *local);
/* As conn_new, with TLS towards the client: tls_srv's tls_server (srv
 * itself or a plain_tls_port in front of it; NULL = plain). conn_new()
 * passes srv when srv is an http_proxy with tls_server. NULL when memory
 * is short or no TLS context could be built (fd closed, logged). */
struct conn *conn_new_tls(struct dp_worker *wk, const struct server_conf *srv, int fd,
			  const struct sockaddr *peer, const struct sockaddr *local,
			  const struct server_conf *tls_srv);

/* Move to the server's first state (SOCKS greeting or HTTP head) with its
 * negotiation / header timer: after accept, or after the TLS handshake. */
void conn_start_server(struct conn *c);

/* A connection without a client that runs only an escaper for parent's
 * target (route_failover's standby attempt): same worker, generation,
 * server, client address, target and task id; no task record of its own.
 * Not in the worker's list: the caller owns it (refs = 1) and ends it with
 * conn_close() + conn_release(). NULL when memory is short. */
struct conn *conn_new_shadow(struct conn *parent);

void conn_hold(struct conn *c);
/* Drop a hold; frees the connection when it was closed and this was the
 * last hold. */
void conn_release(struct conn *c);

/* Mark for closing (idempotent); the memory goes with the last hold. */
void conn_close(struct conn *c);
/* Record the reason on the task (first one wins) and close. */
void conn_fail(struct conn *c, enum task_reason r, const char *msg);

/* Move to state st (legality asserted) and arm the timer for its phase. */
void conn_set_state(struct conn *c, enum conn_state st);

/* (Re)arm the connection timer: ms from now, repeating when repeat. */
void conn_arm_timer(struct conn *c, uint64_t ms, bool repeat);

/* Run the state handlers, then sync the watchers (for callbacks from
 * outside conn.c, such as the resolver); holds around both. */
void conn_kick(struct conn *c);

/* Read from the client into c->in. Returns bytes read (> 0), 0 at end of
 * stream (cl.eof set), -EAGAIN (nothing now), -ENOBUFS (buffer full) or
 * another -errno. */
ssize_t conn_read_client(struct conn *c);

/* Queue a reply to the client (n <= CONN_REPLY_MAX - queued) and try to
 * send it now. Returns 0 (sent or queued) or -errno (the write failed). */
int conn_send(struct conn *c, const void *p, size_t n) MUST_CHECK;

/* After a read of n bytes when room were free: a plain socket that gave
 * less than asked has nothing more now (epoll is level-triggered and
 * reports it again when it has), so the next read waits for readiness
 * rather than failing with EAGAIN. */
static inline void conn_ep_read_done(struct conn_ep *ep, ssize_t n, size_t room)
{
	if (n > 0 && (size_t)n < room && ep->ssl == NULL)
		ep->ready &= ~EV_READ;
}

/* True while queued reply bytes remain. */
static inline bool conn_reply_pending(const struct conn *c)
{
	return c->reply_off < c->reply_len;
}

/* Create the task (after a valid request): id, start time, counters. */
void conn_task_create(struct conn *c);

/* Set c->host / c->port / c->task.upstream from a host (domain or IP
 * literal, no brackets) and port. Returns 0 or -EINVAL (empty, too long,
 * or characters no host name has). */
int conn_set_target(struct conn *c, const char *host, size_t hlen, uint16_t port) MUST_CHECK;

/* Server-level dst_host_filter_set and dst_port_filter for the target:
 * true when forbidden. */
bool conn_target_forbidden(const struct conn *c);

/* The escaper finished: err = ESCAPE_OK with c->up connected, or why
 * not. Dispatches to the protocol's reply. */
void conn_connect_done(struct conn *c, enum escape_err err);

/* Replace the input buffer with one of capacity cap (> the current one,
 * <= BUF_CAP_MAX), keeping its bytes. Returns 0 or -ENOMEM. */
int conn_grow_in(struct conn *c, size_t cap) MUST_CHECK;

/* Log why a connection is refused before a task exists (g3 writes no task
 * log then): process log, INFO, with the server name and client address. */
void conn_reject_log(const struct conn *c, const char *what, const char *why);

/* Give the connection its upstream socket (taken) / close it. */
void conn_up_attach(struct conn *c, int fd);
void conn_up_close(struct conn *c);
/* conn_up_attach() for a socket this worker's loop already watches (from
 * the upstream pool, not closed since). */
void conn_up_attach_pooled(struct conn *c, int fd);
/* Take the upstream socket out of the connection (returned, owned by the
 * caller), e.g. into the keep-alive pool. */
int conn_up_detach(struct conn *c);

/* Write the task's Finished record now and forget the task (a forwarded
 * request ends while its connection goes on). */
void conn_task_log(struct conn *c);

/* After a kept-alive response: wait for the client's next request
 * (pipelined bytes already in c->in are parsed at once). */
void conn_http_next(struct conn *c);

/* Close the worker's idle client connections (keep-alive between
 * requests): offline. */
void conn_close_idle(struct dp_worker *wk);

/* Finish an error path: the queued reply goes out, then the connection
 * drains the client briefly and closes (LINGER). */
void conn_linger(struct conn *c);

/* Close every connection of the worker (shutdown). */
void conn_close_all(struct dp_worker *wk, enum task_reason r);

/* Protocol entry points (socks.c, http_connect.c). */
int socks_on_greeting(struct conn *c);
int socks_on_request(struct conn *c);
void socks_on_timeout(struct conn *c);
void socks_reply_connect(struct conn *c, enum escape_err err);
int http_on_head(struct conn *c);
void http_on_timeout(struct conn *c);
void http_reply_connect(struct conn *c, enum escape_err err);
int socks_on_auth(struct conn *c);
/* AUTH_DELAY timer: the blocked user's refusal (socks or http). */
void conn_auth_delay_done(struct conn *c);

#endif
