/* The authenticated user of a connection (see conn_user.h). */
#include "proxyd/dp/conn_user.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "common/util.h"
#include "proxyd/dp/acl.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/speed.h"
#include "proxyd/dp/tasklog.h"
#include "proxyd/dp/user_site.h"
#include "proxyd/metrics.h"
#include "proxyd/user_stats.h"
#include "proxyd/user_table.h"

/* A user of the group by name from the group's current table (static
 * users merged with the dynamic source's); *table is the reference that
 * keeps the user alive. Without a runtime (unit tests), the static users
 * of the config (borrowed from the connection's generation). */
static const struct user_conf *group_find(const struct user_group_conf *g, const char *name,
					  size_t len, struct user_table **table, bool *dynamic)
{
	const struct user_conf *u = NULL;

	*table = NULL;
	*dynamic = false;
	if (g->rt != NULL) {
		struct user_table *t = user_group_current(g->rt);
		u = user_table_find(t, name, len);
		if (u == NULL) {
			user_table_unref(t);
			return NULL;
		}
		*table = t;
		*dynamic = !(u >= g->static_users && u < g->static_users + g->n_static_users);
		return u;
	}
	for (size_t i = 0; i < g->n_static_users; i++) {
		u = &g->static_users[i];
		if (strlen(u->name) == len && memcmp(u->name, name, len) == 0)
			return u;
	}
	return NULL;
}

static void table_release(struct user_table *t)
{
	user_table_unref(t);
}

static struct conn_user *user_alloc(struct conn *c)
{
	if (c->user == NULL) {
		c->user = calloc(1, sizeof(*c->user));
		if (c->user != NULL)
			c->user->task_req = -1;
	}
	return c->user;
}

static void user_drop(struct conn_user *u)
{
	if (u->task_alive && u->st != NULL)
		user_state_alive_release(u->st);
	u->task_alive = false;
	table_release(u->table);
	u->table = NULL;
}

void conn_user_free(struct conn *c)
{
	if (c->user == NULL)
		return;
	conn_user_task_end(c, 0, 0);
	for (unsigned i = 0; i < 2; i++)
		if (c->user->bk[i] != NULL && c->user->pending[i] > 0)
			limit_bucket_refund(c->user->bk[i], c->user->pending[i]);
	user_drop(c->user);
	OPENSSL_cleanse(c->user, sizeof(*c->user));
	free(c->user);
	c->user = NULL;
}

static bool expired(const struct user_conf *uc)
{
	return uc->has_expire && (int64_t)time(NULL) >= uc->expire_unix;
}

/* Fill c->user for uc (taking over table). False when memory is short. */
static bool user_set(struct conn *c, const struct user_conf *uc, struct user_table *table,
		     bool dynamic, bool anonymous, const char *name, size_t nlen, bool socks)
{
	const struct user_group_conf *g = c->srv->user_group;
	struct conn_user *u = user_alloc(c);
	struct user_state *st;
	bool same;

	if (u == NULL) {
		table_release(table);
		return false;
	}
	st = user_state_get(g->name, anonymous ? "" : uc->name);
	if (st == NULL) {
		table_release(table);
		return false;
	}
	same = u->st == st;
	user_drop(u);
	u->uc = uc;
	u->table = table;
	u->st = st;
	u->anonymous = anonymous;
	u->dynamic = dynamic;
	nlen = MIN(nlen, sizeof(u->name) - 1);
	memcpy(u->name, name, nlen);
	u->name[nlen] = '\0';
	for (unsigned i = 0; i < 2; i++) {
		if (u->bk[i] != NULL && u->pending[i] > 0)
			limit_bucket_refund(u->bk[i], u->pending[i]);
		u->pending[i] = 0;
	}
	u->bk[0] = user_state_bucket(st, false, &uc->tcp_all_upload_speed_limit);
	u->bk[1] = user_state_bucket(st, true, &uc->tcp_all_download_speed_limit);
	if (!same) {
		u->conn_counted = false;
		u->up_esc = NULL; /* cached counters of the previous user */
		u->up = NULL;
		u->site_stats = NULL;
		u->stats = user_state_srv(st, c->srv->name, dynamic);
		user_stats_add(u->stats, socks ? UC_CONN_TOTAL_SOCKS : UC_CONN_TOTAL_HTTP, 1);
	}
	return true;
}

/* Count a refused login on the server and, when known, the user. */
static void count_refused(struct conn *c, const struct user_group_conf *g,
			  const struct user_conf *uc, bool anonymous, enum user_ctr k)
{
	metrics_srv_add(
		c->srv->stats,
		k == UC_FORBID_USER_BLOCKED ? MS_FORBID_USER_BLOCKED : MS_FORBID_AUTH_FAILED, 1);
	if (uc != NULL) {
		struct user_state *st = user_state_get(g->name, anonymous ? "" : uc->name);
		if (st != NULL)
			user_stats_add(user_state_srv(st, c->srv->name, false), k, 1);
	}
}

static bool password_ok(struct user_state *st, const struct user_conf *uc, const char *pass,
			size_t plen)
{
	uint8_t d[32];
	bool ok;

	if (!auth_token_slow(&uc->token))
		return auth_token_verify(&uc->token, pass, plen);
	auth_token_digest(&uc->token, pass, plen, d);
	if (st != NULL && user_state_pw_cached(st, d))
		return true;
	ok = auth_token_verify(&uc->token, pass, plen);
	if (ok && st != NULL)
		user_state_pw_remember(st, d);
	OPENSSL_cleanse(d, sizeof(d));
	return ok;
}

enum user_login conn_user_login(struct conn *c, const struct auth_cred *cred, bool socks,
				uint64_t *delay_ms, const char **why)
{
	const struct user_group_conf *g = c->srv->user_group;
	const struct user_conf *uc = NULL;
	struct user_table *table = NULL;
	struct user_state *st;
	bool dynamic = false, anonymous = false;

	*delay_ms = 0;
	*why = NULL;
	if (g == NULL)
		return USER_LOGIN_OK;
	if (cred != NULL)
		uc = group_find(g, cred->user, cred->user_len, &table, &dynamic);
	if (uc == NULL && g->has_anonymous_user) {
		uc = &g->anonymous_user;
		anonymous = true;
	}
	if (uc == NULL) {
		*why = cred == NULL ? "no credentials" : "no such user";
		count_refused(c, g, NULL, false, UC_FORBID_AUTH_FAILED);
		goto failed;
	}
	/* a known user whose own ingress filter rejects the client fails */
	if (uc->ingress_net_filter.set &&
	    acl_forbids(acl_net_check(&uc->ingress_net_filter, &c->client_addr.sa))) {
		*why = "client address not allowed for this user";
		count_refused(c, g, uc, anonymous, UC_FORBID_AUTH_FAILED);
		goto failed;
	}
	st = user_state_get(g->name, anonymous ? "" : uc->name);
	if (cred != NULL) {
		if (!password_ok(st, uc, cred->pass, cred->pass_len)) {
			*why = "wrong password";
			count_refused(c, g, uc, anonymous, UC_FORBID_AUTH_FAILED);
			goto failed;
		}
	} else if (!anonymous) {
		*why = "no credentials";
		goto failed;
	}
	if (expired(uc)) {
		*why = "user expired";
		count_refused(c, g, uc, anonymous, UC_FORBID_USER_EXPIRED);
		goto failed;
	}
	if (uc->has_block_and_delay) {
		*why = "user blocked";
		*delay_ms = uc->block_and_delay_ms;
		count_refused(c, g, uc, anonymous, UC_FORBID_USER_BLOCKED);
		table_release(table);
		return USER_LOGIN_BLOCKED;
	}
	if (!user_set(c, uc, table, dynamic, anonymous, cred ? cred->user : "",
		      cred ? cred->user_len : 0, socks)) {
		*why = "out of memory for the user";
		return USER_LOGIN_FAILED;
	}
	return USER_LOGIN_OK;
failed:
	table_release(table);
	return USER_LOGIN_FAILED;
}

bool conn_user_login_anonymous(struct conn *c, bool socks)
{
	const struct user_group_conf *g = c->srv->user_group;

	if (g == NULL || !g->has_anonymous_user)
		return false;
	if (g->anonymous_user.ingress_net_filter.set &&
	    acl_forbids(acl_net_check(&g->anonymous_user.ingress_net_filter, &c->client_addr.sa)))
		return false;
	return user_set(c, &g->anonymous_user, NULL, false, true, "", 0, socks);
}

static enum proxy_request_type req_type(enum user_req q)
{
	switch (q) {
	case USER_REQ_HTTP_FORWARD:
		return PROXY_REQ_HTTP_FORWARD;
	case USER_REQ_HTTP_CONNECT:
		return PROXY_REQ_HTTP_CONNECT;
	case USER_REQ_SOCKS_TCP_CONNECT:
		return PROXY_REQ_SOCKS_TCP_CONNECT;
	case USER_REQ_SOCKS_UDP_CONNECT:
	case USER_REQ_SOCKS_UDP_ASSOCIATE:
	case USER_REQ__COUNT:
		break;
	}
	return PROXY_REQ_SOCKS_UDP_ASSOCIATE;
}

static bool request_type_forbidden(const struct acl_proxy_request_rule *r, enum user_req q)
{
	enum acl_action a;

	if (!r->set)
		return false;
	a = r->action[req_type(q)];
	if (a == ACL_UNSET)
		a = r->missed;
	return acl_forbids(a);
}

/* The task's site (its target is c->host) and its request counters. */
static void site_begin(struct conn *c, struct conn_user *u, enum user_req q)
{
	struct user_site_stats *prev = u->site_stats;

	u->site = NULL;
	u->site_stats = NULL;
	if (u->uc->n_sites == 0 || c->host[0] == '\0')
		return;
	u->site = user_site_match(u->uc, c->host, strlen(c->host),
				  c->host_is_ip ? &c->host_addr.sa : NULL);
	if (u->site == NULL || !u->site->emit_stats)
		return;
	if (prev != NULL && strcmp(prev->id, u->site->id) == 0) /* dur_conf kept */
		u->site_stats = prev;
	else
		u->site_stats = user_stats_site(u->stats, u->site->id, &u->site->duration_stats);
	user_site_req_add(u->site_stats, q, URC_TOTAL, 1);
	user_site_req_alive(u->site_stats, q, 1);
}

enum user_deny conn_user_task_begin(struct conn *c, enum user_req q)
{
	struct conn_user *u = c->user;
	const struct user_conf *uc;

	if (u == NULL)
		return USER_DENY_NONE;
	uc = u->uc;
	user_stats_req_add(u->stats, q, URC_TOTAL, 1);
	if (request_type_forbidden(&uc->proxy_request_filter, q)) {
		user_stats_add(u->stats, UC_FORBID_PROTO_BANNED, 1);
		return USER_DENY_PROTO;
	}
	/* connection_rate_limit: one cell per client connection, taken by its
	 * first task (a keep-alive connection's later requests are free) */
	if (!u->conn_counted) {
		if (!user_state_rate_take(u->st, USER_RATE_CONN, &uc->connection_rate_limit,
					  util_mono_ns())) {
			user_stats_add(u->stats, UC_FORBID_RATE_LIMITED, 1);
			return USER_DENY_RATE;
		}
		u->conn_counted = true;
	}
	if (!user_state_rate_take(u->st, USER_RATE_REQUEST, &uc->request_rate_limit,
				  util_mono_ns())) {
		user_stats_add(u->stats, UC_FORBID_RATE_LIMITED, 1);
		return USER_DENY_RATE;
	}
	if (uc->has_request_max_alive && !u->task_alive) {
		if (!user_state_alive_acquire(u->st, uc->request_max_alive)) {
			user_stats_add(u->stats, UC_FORBID_FULLY_LOADED, 1);
			return USER_DENY_FULL;
		}
		u->task_alive = true;
	}
	u->task_req = (int)q;
	user_stats_req_alive(u->stats, q, 1);
	site_begin(c, u, q);
	return USER_DENY_NONE;
}

bool conn_user_target_forbidden(struct conn *c)
{
	struct conn_user *u = c->user;
	bool denied;

	if (u == NULL)
		return false;
	denied = acl_forbids(acl_port_check(&u->uc->dst_port_filter, c->port)) ||
		 acl_forbids(acl_host_check(&u->uc->dst_host_filter_set, c->host, strlen(c->host),
					    c->host_is_ip ? &c->host_addr.sa : NULL));
	if (denied)
		user_stats_add(u->stats, UC_FORBID_DEST_DENIED, 1);
	return denied;
}

/* The action for one product token (lower-cased compare). */
static bool ua_token_hit(const struct acl_str_rule *r, const char *p, size_t n, enum acl_action *a)
{
	for (size_t i = 0; i < r->n; i++) {
		const char *s = r->v[i].s;
		if (strlen(s) == n && strncasecmp(s, p, n) == 0) {
			*a = r->v[i].action;
			return true;
		}
	}
	return false;
}

bool conn_user_agent_forbidden(struct conn *c, const char *ua, size_t len)
{
	struct conn_user *u = c->user;
	const struct acl_str_rule *r;
	enum acl_action a = ACL_UNSET;
	size_t i = 0;

	if (u == NULL || !u->uc->http_user_agent_filter.set)
		return false;
	r = &u->uc->http_user_agent_filter;
	/* User-Agent: product[/version] *( RWS ( product / comment ) ) */
	while (i < len && a == ACL_UNSET) {
		size_t start;
		if (ua[i] == ' ' || ua[i] == '\t') {
			i++;
			continue;
		}
		if (ua[i] == '(') { /* a comment, nesting allowed */
			int depth = 0;
			for (; i < len; i++) {
				if (ua[i] == '(')
					depth++;
				else if (ua[i] == ')' && --depth == 0) {
					i++;
					break;
				}
			}
			continue;
		}
		start = i;
		while (i < len && ua[i] != '/' && ua[i] != ' ' && ua[i] != '\t' && ua[i] != '(')
			i++;
		if (!ua_token_hit(r, ua + start, i - start, &a))
			a = ACL_UNSET;
		while (i < len && ua[i] != ' ' && ua[i] != '\t' && ua[i] != '(')
			i++;
	}
	if (a == ACL_UNSET)
		a = r->missed;
	if (acl_forbids(a)) {
		user_stats_add(u->stats, UC_FORBID_UA_BLOCKED, 1);
		return true;
	}
	return false;
}

void conn_user_task_end(struct conn *c, uint64_t c_rd, uint64_t c_wr)
{
	struct conn_user *u = c->user;

	if (u == NULL || u->task_req < 0)
		return;
	user_stats_req_add(u->stats, (enum user_req)u->task_req, URC_IN_BYTES, c_rd);
	user_stats_req_add(u->stats, (enum user_req)u->task_req, URC_OUT_BYTES, c_wr);
	user_stats_req_alive(u->stats, (enum user_req)u->task_req, -1);
	if (u->site != NULL && u->site_stats != NULL) {
		user_site_req_add(u->site_stats, (enum user_req)u->task_req, URC_IN_BYTES, c_rd);
		user_site_req_add(u->site_stats, (enum user_req)u->task_req, URC_OUT_BYTES, c_wr);
		user_site_req_alive(u->site_stats, (enum user_req)u->task_req, -1);
	}
	u->site = NULL;
	u->task_req = -1;
	if (u->task_alive)
		user_state_alive_release(u->st);
	u->task_alive = false;
}

uint32_t conn_user_idle_max(const struct conn *c)
{
	if (c->user != NULL && c->user->uc->has_task_idle_max_count)
		return c->user->uc->task_idle_max_count;
	return c->srv->task_idle_max_count;
}

int conn_user_task_check(struct conn *c, enum user_req q, const uint8_t *ua, size_t ua_len,
			 const char **msg)
{
	*msg = NULL;
	if (c->user == NULL)
		return 0;
	switch (conn_user_task_begin(c, q)) {
	case USER_DENY_NONE:
		break;
	case USER_DENY_PROTO:
		*msg = "forbidden by rule: request type not allowed for the user";
		return 403;
	case USER_DENY_RATE:
		*msg = "forbidden by rule: user request rate limited";
		return 429;
	case USER_DENY_FULL:
		*msg = "forbidden by rule: user has too many alive requests";
		return 429;
	case USER_DENY_DEST:
	case USER_DENY_UA:
		break;
	}
	if (conn_user_target_forbidden(c)) {
		*msg = "forbidden by rule: destination denied for the user";
		return 403;
	}
	if (ua_len > 0 && conn_user_agent_forbidden(c, (const char *)ua, ua_len)) {
		*msg = "forbidden by rule: user agent blocked for the user";
		return 403;
	}
	return 0;
}

const struct resolve_strategy *conn_user_resolve_strategy(const struct conn *c)
{
	const struct conn_user *u = c->user;

	if (u == NULL)
		return NULL;
	if (u->site != NULL && u->site->resolve_strategy.set)
		return &u->site->resolve_strategy;
	return u->uc->resolve_strategy.set ? &u->uc->resolve_strategy : NULL;
}

const struct resolve_redirection *conn_user_resolve_redirection(const struct conn *c)
{
	if (c->user == NULL || c->user->uc->resolve_redirection.n == 0)
		return NULL;
	return &c->user->uc->resolve_redirection;
}

/* Add the task's upstream counts to up. */
static void up_add(struct user_up_stats *up, const struct task_notes *t)
{
	user_up_add(up, UU_TCP_IN_BYTES, t->r_rd);
	user_up_add(up, UU_TCP_OUT_BYTES, t->r_wr);
	if (t->udp != NULL) {
		user_up_add(up, UU_UDP_IN_BYTES, t->udp->r_rd_bytes);
		user_up_add(up, UU_UDP_IN_PACKETS, t->udp->r_rd_packets);
		user_up_add(up, UU_UDP_OUT_BYTES, t->udp->r_wr_bytes);
		user_up_add(up, UU_UDP_OUT_PACKETS, t->udp->r_wr_packets);
	}
}

void conn_user_task_stats(struct conn *c)
{
	struct conn_user *u = c->user;
	const struct escaper_conf *e;
	const struct task_notes *t = &c->task;
	bool moved;

	if (u == NULL || u->task_req < 0 || u->stats == NULL)
		return;
	e = c->esc.esc ? c->esc.esc : c->srv->escaper;
	moved = t->r_rd != 0 || t->r_wr != 0 ||
		(t->udp != NULL && (t->udp->r_rd_packets != 0 || t->udp->r_wr_packets != 0));
	if (e != NULL && moved) {
		if (u->up_esc != e) {
			u->up = user_stats_up(&u->stats->ups, e->name, e->stats);
			u->up_esc = u->up != NULL ? e : NULL;
		}
		up_add(u->up, t);
	}
	if (u->site == NULL || u->site_stats == NULL)
		return;
	if (e != NULL && moved)
		up_add(user_stats_up(&u->site_stats->ups, e->name, e->stats), t);
	if (t->ready_ns != 0 && t->ready_ns >= t->created_ns)
		dur_hist_record(&u->site_stats->ready, t->ready_ns - t->created_ns);
}

const struct tcp_speed_limit *conn_user_sock_limit(const struct conn *c)
{
	if (c->user == NULL || !c->user->uc->tcp_sock_speed_limit.set)
		return NULL;
	return &c->user->uc->tcp_sock_speed_limit;
}

/* The bucket index for dirs: 0 upload (reading the client), 1 download
 * (writing to it), -1 none. */
static int bucket_of(const struct conn *c, unsigned dirs)
{
	int i = (dirs & SPEED_CL_RD) ? 0 : (dirs & SPEED_CL_WR) ? 1 : -1;

	if (i < 0 || c->user == NULL || c->user->bk[i] == NULL)
		return -1;
	return i;
}

bool conn_user_speed_on(const struct conn *c, unsigned dirs)
{
	return bucket_of(c, dirs) >= 0;
}

size_t conn_user_speed_grant(struct conn *c, unsigned dirs, size_t want, uint64_t *wait_ms)
{
	int i = bucket_of(c, dirs);
	struct conn_user *u = c->user;
	uint64_t got, wait_ns = 0;

	*wait_ms = 0;
	if (i < 0 || want == 0)
		return want;
	if (u->pending[i] > 0) { /* a grant that moved nothing (EAGAIN) */
		limit_bucket_refund(u->bk[i], u->pending[i]);
		u->pending[i] = 0;
	}
	got = limit_bucket_take(u->bk[i], util_mono_ns(), want, &wait_ns);
	u->pending[i] = got;
	if (got == 0)
		*wait_ms = wait_ns / 1000000u + 1;
	return (size_t)got;
}

void conn_user_speed_used(struct conn *c, unsigned dirs, size_t n)
{
	int i = bucket_of(c, dirs);
	struct conn_user *u = c->user;

	if (i < 0)
		return;
	if (u->pending[i] >= n) {
		if (u->pending[i] > n)
			limit_bucket_refund(u->bk[i], u->pending[i] - n);
	} else {
		/* bytes that moved without a grant (already read): owed */
		(void)limit_bucket_take(u->bk[i], util_mono_ns(), n - u->pending[i], NULL);
	}
	u->pending[i] = 0;
}

bool conn_user_log_take(struct conn *c)
{
	struct conn_user *u = c->user;

	if (u == NULL || u->st == NULL || !u->uc->log_rate_limit.set)
		return true;
	if (user_state_log_take(u->st, &u->uc->log_rate_limit, util_mono_ns()))
		return true;
	user_stats_add(u->stats, UC_FORBID_LOG_SKIPPED, 1);
	return false;
}

bool conn_user_revoked(const struct conn *c, const char **why)
{
	const struct conn_user *u = c->user;
	const struct user_group_conf *g = c->srv->user_group;
	const struct user_conf *now;
	struct user_table *t;
	bool gone = false;

	*why = NULL;
	if (u == NULL || u->anonymous || g == NULL)
		return false;
	if (expired(u->uc)) {
		*why = "canceled: user expired";
		return true;
	}
	if (g->rt == NULL)
		return false;
	t = user_group_current(g->rt);
	if (t != u->table) { /* a refresh, publish or reload since the login */
		now = user_table_find(t, u->uc->name, strlen(u->uc->name));
		if (now == NULL)
			*why = "canceled: user deleted";
		else if (now->has_block_and_delay)
			*why = "canceled: user blocked";
		else if (expired(now))
			*why = "canceled: user expired";
		gone = *why != NULL;
	}
	user_table_unref(t);
	return gone;
}
