/* The authenticated user of a client connection (g3proxy §1.5): login
 * with credentials or as the anonymous user, and the per-user checks of
 * each task (proxy_request_filter, destination filters, user-agent filter,
 * request_rate_limit, request_max_alive) with their user.* counters.
 *
 * Ownership: struct conn_user is owned by its connection (conn->user,
 * NULL when the server has no user group or before login) and freed with
 * conn_user_free(). The user_conf it points at is borrowed from the
 * connection's config generation (static users) or from the user table
 * reference it holds (dynamic users). */
#ifndef G3C_PROXYD_DP_CONN_USER_H
#define G3C_PROXYD_DP_CONN_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxyd/config.h"
#include "proxyd/dp/auth.h"
#include "proxyd/user_state.h"

struct conn;

struct conn_user {
	const struct user_conf *uc;
	struct user_table *table; /* reference held while uc is used; may be NULL */
	struct user_state *st;
	struct user_srv_stats *stats;
	bool anonymous;	   /* the group's anonymous_user */
	bool dynamic;	   /* from the dynamic source */
	bool task_alive;   /* the current task holds a request_max_alive slot */
	bool conn_counted; /* connection_rate_limit taken for this connection */
	int task_req;	   /* enum user_req of the current task, -1 = none */
	/* tcp_all_{upload,download}_speed_limit buckets (shared, borrowed)
	 * and what the last grant took from each and was not reported yet */
	struct limit_bucket *bk[2];
	uint64_t pending[2];
	char name[AUTH_USER_MAX + 1]; /* as sent by the client; "" = none */
	/* explicit_sites: the current task's site (borrowed from uc, NULL =
	 * none) and, when it emits stats, its counters (user_stats.h) */
	const struct user_site_conf *site;
	struct user_site_stats *site_stats;
	/* user.upstream.traffic.* counters of the escaper last used */
	const struct escaper_conf *up_esc;
	struct user_up_stats *up;
};

enum user_login {
	USER_LOGIN_OK = 0,
	USER_LOGIN_FAILED,  /* no such user, wrong password, expired, no credentials */
	USER_LOGIN_BLOCKED, /* block_and_delay: refuse after *delay_ms */
};

/* Log in on c (whose server has a user group): cred NULL = the client sent
 * none. Unknown names and missing credentials fall back to the group's
 * anonymous_user when it has one (its token is checked: null accepts any
 * password). On success c->user is set (replacing a previous login);
 * `connection` counts user.connection.total (http or socks) once. On
 * failure *why is a static reason for the process log and the server's
 * and user's forbidden counters are bumped. */
enum user_login conn_user_login(struct conn *c, const struct auth_cred *cred, bool socks,
				uint64_t *delay_ms, const char **why);

struct http_request;
/* http_proxy: authenticate one request (Proxy-Authorization: Basic) when
 * the server has a user group. True: go on (c->user set, or no group).
 * False: the connection was answered as g3 does: 407 (the head consumed
 * and the connection kept for the next request when the request had no
 * body and the client keeps alive; else closing), or 403 after
 * block_and_delay, or a silent close with no_early_error_reply.
 * Each request of a kept-alive connection is checked again. */
bool http_auth_check(struct conn *c, const struct http_request *req);

/* The anonymous user of the server's group, for SOCKS clients that do
 * not offer user/password: true when there is one (c->user set). */
bool conn_user_login_anonymous(struct conn *c, bool socks);

/* What a task of the user may not do. */
enum user_deny {
	USER_DENY_NONE = 0,
	USER_DENY_PROTO, /* proxy_request_filter → ForbiddenByRule */
	USER_DENY_RATE,	 /* request_rate_limit → 429 / general failure */
	USER_DENY_FULL,	 /* request_max_alive → 429 / general failure */
	USER_DENY_DEST,	 /* dst_host_filter_set / dst_port_filter */
	USER_DENY_UA,	 /* http_user_agent_filter */
};

/* A task of kind q starts (c->user may be NULL: no checks). Checks the
 * request type, the rate limit and takes an alive slot; counts
 * user.request.total. USER_DENY_NONE or the reason (nothing held then). */
enum user_deny conn_user_task_begin(struct conn *c, enum user_req q);

/* Every per-task check of c's user (none when c->user is NULL): the
 * request type, rate limit and alive slot (conn_user_task_begin), the
 * destination filters for c->host / c->port and, for HTTP, the user-agent
 * filter (ua may be NULL). Returns 0, or the HTTP status of the refusal
 * (403 forbidden by rule, 429 over a limit) with *msg the task message. */
int conn_user_task_check(struct conn *c, enum user_req q, const uint8_t *ua, size_t ua_len,
			 const char **msg);

/* The user's destination filters for c->host / c->port. */
bool conn_user_target_forbidden(struct conn *c);

/* The user's http_user_agent_filter for a User-Agent value (len 0 = none). */
bool conn_user_agent_forbidden(struct conn *c, const char *ua, size_t len);

/* The task ends with these byte counts (client side): releases its slot
 * and counts traffic. */
void conn_user_task_end(struct conn *c, uint64_t c_rd, uint64_t c_wr);

/* The resolve_strategy of c's current task: its site's when the site
 * sets one, else the user's; NULL when neither (or no user). Borrowed. */
const struct resolve_strategy *conn_user_resolve_strategy(const struct conn *c);

/* The user's resolve_redirection, NULL when none (or no user). */
const struct resolve_redirection *conn_user_resolve_redirection(const struct conn *c);

/* The task is being logged (before conn_user_task_end): count the
 * upstream bytes of c->task (tcp r_rd / r_wr, udp payloads and packets) in
 * user.upstream.traffic.* of the escaper used, and for a site with
 * emit_stats its upstream traffic and task.ready.duration. */
void conn_user_task_stats(struct conn *c);

/* The user's per-connection tcp_sock_speed_limit (NULL when none). */
const struct tcp_speed_limit *conn_user_sock_limit(const struct conn *c);

/* Whether a shared user bucket limits a direction in dirs (SPEED_CL_RD:
 * upload, SPEED_CL_WR: download). */
bool conn_user_speed_on(const struct conn *c, unsigned dirs);

/* Take up to want bytes from the user's bucket of dirs: the bytes
 * granted (want when none applies); 0 sets *wait_ms (>= 1). What is
 * granted and not reported by conn_user_speed_used() is given back at the
 * next grant. */
size_t conn_user_speed_grant(struct conn *c, unsigned dirs, size_t want, uint64_t *wait_ms);

/* n bytes moved through dirs: settle the grant (refund the unused part,
 * or take what moved beyond it). */
void conn_user_speed_used(struct conn *c, unsigned dirs, size_t n);

/* log_rate_limit of c's user for a new task: true when its task records
 * are written; false when the user is over the rate (the task's records
 * are skipped and user.forbidden.log_skipped counts it). True without a
 * user or a limit. */
bool conn_user_log_take(struct conn *c);

/* The task idle check (g3: a blocked user's tasks end on the next tick):
 * true when c's user may no longer run tasks: its entry in the group's
 * current user table (refreshed from the file or redis source, published,
 * or reloaded) is gone or blocked (block_and_delay), or the user expired.
 * *why is a static message for the task log. False without a user, for
 * the anonymous user, or without a group runtime (unit tests: only the
 * expiry is checked then). */
bool conn_user_revoked(const struct conn *c, const char **why);

/* Free c->user (NULL accepted; releases a slot still held). */
void conn_user_free(struct conn *c);

/* task_idle_max_count for c: the user's when set, else the server's. */
uint32_t conn_user_idle_max(const struct conn *c);

#endif
