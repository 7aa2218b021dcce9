/* HttpForward on a client connection of an http_proxy (see http_forward.c):
 * entry points for http_server.c (a parsed absolute-form request), conn.c
 * (the connect outcome, the HTTP_FWD state handler, its timer and watcher
 * interest) and teardown. The forward state (struct http_fwd, buffers
 * included) is taken from a per-thread free list by each forwarded request
 * and given back when its exchange ends, so an idle keep-alive connection
 * holds none. */
#ifndef G3C_PROXYD_DP_HTTP_FORWARD_H
#define G3C_PROXYD_DP_HTTP_FORWARD_H

#include "proxyd/dp/escaper.h"
#include "proxyd/http/http_parse.h"

struct conn;

/* Start forwarding req (its head is at the start of c->in; consumed
 * here). Creates the HttpForward task, checks the server's rules, takes a
 * pooled upstream connection or starts the escaper. */
void http_fwd_start(struct conn *c, const struct http_request *req);

/* Rewrite the built request head for a next-hop HTTP proxy (before any of
 * it is sent): the origin-form target becomes absolute
 * ("http://host[:port]/path") and auth_line (a complete header line, may be
 * "") follows the request line. Returns 0, -ENOSPC or -ENOMEM. */
int http_fwd_absolute(struct conn *c, const char *auth_line) MUST_CHECK;

/* True when the forwarded request has an https:// target (TLS to the
 * origin: a next-hop HTTP proxy is asked for a CONNECT tunnel instead). */
bool http_fwd_is_https(const struct conn *c);

/* The escaper's outcome for a forwarded request. */
void http_fwd_connected(struct conn *c, enum escape_err err);

/* CONN_ST_HTTP_FWD handler, timer, watcher interest. */
int http_fwd_run(struct conn *c);
void http_fwd_timeout(struct conn *c);
void http_fwd_interest(const struct conn *c, int *cl, int *up);

/* Move the forward state's byte counts into the task (before its record
 * is written). No-op without forward state. */
void http_fwd_counts(struct conn *c);

/* Add the forward state's byte counts not yet moved into the task to
 * t's (a Periodic record's snapshot). No-op without forward state. */
void http_fwd_peek_counts(const struct conn *c, struct task_notes *t);

/* Release the forward state (conn_free, after the record). NULL state ok.
 * Forward states live in a per-thread free list between exchanges. */
void http_fwd_free(struct conn *c);

/* Free the calling thread's parked forward states (worker shutdown). */
void http_fwd_pool_trim(void);

/* Error reply then LINGER (http_server.c): status with "Connection:
 * close"; why goes to the process log when no task exists yet. */
void http_error_reply(struct conn *c, int status, const char *why);

#endif
