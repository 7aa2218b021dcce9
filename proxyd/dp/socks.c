/* socks_proxy: SOCKS4, SOCKS4a and SOCKS5 CONNECT on a connection
 * (RFC 1928; the SOCKS 4 and 4A protocol notes). The parsers are pure
 * (socks_parse.c); this file drives them and answers. */
#include "proxyd/dp/conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/sock.h"
#include "proxyd/dp/auth.h"
#include "proxyd/dp/conn_user.h"
#include "proxyd/dp/socks_parse.h"
#include "proxyd/dp/socks_udp.h"
#include "proxyd/dp/uparams.h"
#include "proxyd/metrics.h"

/* A failure before a task exists: g3 writes no task log for these, so the
 * reason goes to the process log (INFO) before the connection closes. A
 * failure after the task exists is in its record and not logged twice. */
static void socks_reject(struct conn *c, const char *why)
{
	if (!c->task.created)
		conn_reject_log(c, "socks", why);
}

static void reject_close(struct conn *c, const char *why)
{
	socks_reject(c, why);
	conn_close(c);
}

static void reject_reply(struct conn *c, const uint8_t *rep, size_t n, const char *why)
{
	socks_reject(c, why);
	if (conn_send(c, rep, n) < 0) {
		conn_close(c);
		return;
	}
	conn_linger(c);
}

static void reply_socks5(struct conn *c, uint8_t code, const char *why)
{
	uint8_t rep[22];
	size_t n = socks5_build_reply(code, NULL, rep);

	reject_reply(c, rep, n, why);
}

/* Read what the client sent; returns false when the handler must stop
 * (nothing new, or the connection closed). *eof tells a closed input. */
static bool fill(struct conn *c, bool *eof)
{
	ssize_t n = 0;

	*eof = c->cl.eof;
	if (!c->cl.eof && (c->cl.ready & EV_READ))
		n = conn_read_client(c);
	*eof = c->cl.eof;
	if (n < 0 && n != -EAGAIN && n != -ENOBUFS) {
		reject_close(c, "read from client failed");
		return false;
	}
	return true;
}

/* The request is valid: create the task, check the server's rules, go. */
static void socks_start_task(struct conn *c, const struct socks_request *rq)
{
	char host[256];
	size_t hlen;
	const char *msg;
	int rc;

	if (rq->atyp == SOCKS_ATYP_DOMAIN) {
		hlen = rq->host.len;
		memcpy(host, rq->host.p, hlen);
		host[hlen] = '\0';
	} else if (rq->atyp == SOCKS_ATYP_IPV4) {
		snprintf(host, sizeof(host), "%u.%u.%u.%u", rq->ip[0], rq->ip[1], rq->ip[2],
			 rq->ip[3]);
		hlen = strlen(host);
	} else {
		struct sockaddr_in6 in6;
		memset(&in6, 0, sizeof(in6));
		in6.sin6_family = AF_INET6;
		memcpy(&in6.sin6_addr, rq->ip, 16);
		if (sock_ip_format((struct sockaddr *)&in6, host, sizeof(host)) < 0)
			host[0] = '\0';
		hlen = strlen(host);
	}
	rc = conn_set_target(c, host, hlen, rq->port);
	if (rc < 0) {
		if (c->proto == CONN_P_SOCKS5)
			reply_socks5(c, SOCKS5_REP_GENERAL_FAILURE, "invalid domain name");
		else
			reject_close(c, "invalid socks4a host name");
		return;
	}
	conn_task_create(c);
	if (conn_target_forbidden(c)) {
		task_set_reason(&c->task, TASK_R_FORBIDDEN_BY_RULE,
				"forbidden by rule: destination denied");
		socks_reply_connect(c, ESCAPE_FORBIDDEN);
		return;
	}
	rc = conn_user_task_check(c, USER_REQ_SOCKS_TCP_CONNECT, NULL, 0, &msg);
	if (rc != 0) {
		task_set_reason(&c->task, TASK_R_FORBIDDEN_BY_RULE, msg);
		if (rc == 403) {
			socks_reply_connect(c, ESCAPE_FORBIDDEN);
		} else if (c->proto == CONN_P_SOCKS5) {
			socks_reply_code(c, SOCKS5_REP_GENERAL_FAILURE);
		} else {
			uint8_t rep[8];
			if (conn_send(c, rep, socks4_build_reply(SOCKS4_REP_REJECTED, rep)) < 0)
				conn_close(c);
			else
				conn_linger(c);
		}
		return;
	}
	escape_start(c);
}

/* SOCKS4 / SOCKS4a request (the whole message follows the version). */
static int socks4_request(struct conn *c, bool eof)
{
	struct socks_request rq;
	size_t used = 0;
	const char *why;
	enum parse_res r = socks4_parse_request(buf_peek(&c->in), &rq, &used, &why);

	if (r == PARSE_AGAIN) {
		if (eof || buf_full(&c->in))
			reject_close(c, "socks4 request truncated");
		return CONN_WAIT;
	}
	if (r != PARSE_OK) {
		uint8_t rep[8];
		reject_reply(c, rep, socks4_build_reply(SOCKS4_REP_REJECTED, rep), why);
		return CONN_WAIT;
	}
	buf_consume(&c->in, used);
	c->proto = CONN_P_SOCKS4;
	if (c->srv->user_group != NULL && !conn_user_login_anonymous(c, true)) {
		/* g3: socks4 has no auth; only a group's anonymous user may use it */
		reject_close(c, "socks4 does not support authentication (server has a user_group)");
		return CONN_WAIT;
	}
	if (rq.cmd != SOCKS_CMD_CONNECT) {
		uint8_t rep[8];
		reject_reply(c, rep, socks4_build_reply(SOCKS4_REP_REJECTED, rep),
			     "socks4 bind is not supported");
		return CONN_WAIT;
	}
	socks_start_task(c, &rq);
	return CONN_AGAIN;
}

/* First bytes: the version, then a SOCKS5 greeting (RFC 1928 §3) or a
 * whole SOCKS4 request. */
int socks_on_greeting(struct conn *c)
{
	struct socks5_greeting g;
	struct slice in;
	size_t used = 0;
	const char *why;
	enum parse_res r;
	uint8_t rep[2] = {5, SOCKS5_METHOD_NONE};
	bool eof;

	if (!fill(c, &eof))
		return CONN_WAIT;
	in = buf_peek(&c->in);
	if (in.len == 0) {
		if (eof)
			conn_close(c); /* connected and left without a byte */
		return CONN_WAIT;
	}
	if (in.p[0] == 4)
		return socks4_request(c, eof);
	r = socks5_parse_greeting(in, &g, &used, &why);
	if (r == PARSE_AGAIN) {
		if (eof)
			reject_close(c, "socks5 greeting truncated");
		return CONN_WAIT;
	}
	if (r != PARSE_OK) {
		if (in.p[0] == 5) { /* no method offered: none acceptable */
			rep[1] = SOCKS5_METHOD_NO_ACCEPTABLE;
			reject_reply(c, rep, sizeof(rep), why);
		} else {
			reject_close(c, why);
		}
		return CONN_WAIT;
	}
	buf_consume(&c->in, used);
	c->proto = CONN_P_SOCKS5;
	if (c->srv->user_group != NULL) {
		/* g3: user/password when offered, else "none" for the group's
		 * anonymous user, else nothing acceptable */
		if (socks5_greeting_has(&g, SOCKS5_METHOD_USER)) {
			rep[1] = SOCKS5_METHOD_USER;
			if (conn_send(c, rep, sizeof(rep)) < 0) {
				reject_close(c, "write to client failed");
				return CONN_WAIT;
			}
			conn_set_state(c, CONN_ST_SOCKS5_AUTH);
			return CONN_AGAIN;
		}
		if (!socks5_greeting_has(&g, SOCKS5_METHOD_NONE) ||
		    !conn_user_login_anonymous(c, true)) {
			metrics_srv_add(c->srv->stats, MS_FORBID_AUTH_FAILED, 1);
			rep[1] = SOCKS5_METHOD_NO_ACCEPTABLE;
			reject_reply(c, rep, sizeof(rep),
				     "client does not offer user/password authentication");
			return CONN_WAIT;
		}
	}
	if (!socks5_greeting_has(&g, SOCKS5_METHOD_NONE)) {
		rep[1] = SOCKS5_METHOD_NO_ACCEPTABLE;
		reject_reply(c, rep, sizeof(rep), "client does not offer 'no authentication'");
		return CONN_WAIT;
	}
	if (conn_send(c, rep, sizeof(rep)) < 0) {
		reject_close(c, "write to client failed");
		return CONN_WAIT;
	}
	conn_set_state(c, CONN_ST_SOCKS5_REQUEST);
	return CONN_AGAIN;
}

/* RFC 1929 §2: the user/password request, then the status (0 = success;
 * 1 = failure, then close). A blocked user waits block_and_delay and gets
 * a "not allowed" SOCKS5 reply, as g3. */
int socks_on_auth(struct conn *c)
{
	struct auth_cred cred, base;
	const struct auth_cred *cp = NULL;
	size_t used = 0;
	const char *why = NULL;
	uint64_t delay = 0;
	enum parse_res r;
	enum user_login lr;
	uint8_t rep[2] = {1, 0};
	bool eof;

	if (!fill(c, &eof))
		return CONN_WAIT;
	r = auth_rfc1929_parse(buf_peek(&c->in), &cred, &used, &why);
	if (r == PARSE_AGAIN) {
		if (eof)
			reject_close(c, "socks5 user/password request truncated");
		return CONN_WAIT;
	}
	if (r != PARSE_OK) {
		metrics_srv_add(c->srv->stats, MS_FORBID_AUTH_FAILED, 1);
		rep[1] = 1;
		reject_reply(c, rep, sizeof(rep), why);
		return CONN_WAIT;
	}
	buf_consume(&c->in, used);
	if (conn_uparams_login(c, &cred, &base, &cp, &why) < 0) {
		OPENSSL_cleanse(&cred, sizeof(cred));
		OPENSSL_cleanse(&base, sizeof(base));
		metrics_srv_add(c->srv->stats, MS_FORBID_AUTH_FAILED, 1);
		rep[1] = 1;
		reject_reply(c, rep, sizeof(rep), why);
		return CONN_WAIT;
	}
	lr = conn_user_login(c, cp, true, &delay, &why);
	OPENSSL_cleanse(&cred, sizeof(cred));
	OPENSSL_cleanse(&base, sizeof(base));
	if (lr == USER_LOGIN_BLOCKED) {
		socks_reject(c, why);
		conn_set_state(c, CONN_ST_AUTH_DELAY);
		conn_arm_timer(c, delay > 0 ? delay : 1, false);
		return CONN_WAIT;
	}
	if (lr != USER_LOGIN_OK) {
		rep[1] = 1;
		reject_reply(c, rep, sizeof(rep), why);
		return CONN_WAIT;
	}
	if (conn_send(c, rep, sizeof(rep)) < 0) {
		reject_close(c, "write to client failed");
		return CONN_WAIT;
	}
	conn_set_state(c, CONN_ST_SOCKS5_REQUEST);
	return CONN_AGAIN;
}

/* SOCKS5 request (RFC 1928 §4). */
int socks_on_request(struct conn *c)
{
	struct socks_request rq;
	size_t used = 0;
	uint8_t code;
	const char *why;
	enum parse_res r;
	bool eof;

	if (!fill(c, &eof))
		return CONN_WAIT;
	r = socks5_parse_request(buf_peek(&c->in), &rq, &used, &code, &why);
	if (r == PARSE_AGAIN) {
		if (eof)
			reject_close(c, "socks5 request truncated");
		return CONN_WAIT;
	}
	if (r != PARSE_OK) {
		reply_socks5(c, code, why);
		return CONN_WAIT;
	}
	buf_consume(&c->in, used);
	if (rq.cmd == SOCKS_CMD_UDP_ASSOCIATE) {
		bool full = c->srv->u.socks.use_udp_associate ||
			    (c->user != NULL && c->user->uc->socks_use_udp_associate);
		enum user_deny d = conn_user_task_begin(c, full ? USER_REQ_SOCKS_UDP_ASSOCIATE
								: USER_REQ_SOCKS_UDP_CONNECT);
		if (d != USER_DENY_NONE) {
			reply_socks5(c,
				     d == USER_DENY_PROTO ? SOCKS5_REP_NOT_ALLOWED
							  : SOCKS5_REP_GENERAL_FAILURE,
				     d == USER_DENY_PROTO ? "udp not allowed for the user"
							  : "user over a request limit");
			return CONN_WAIT;
		}
		socks_udp_start(c, &rq);
		return CONN_AGAIN;
	}
	if (rq.cmd == SOCKS_CMD_BIND) {
		reply_socks5(c, SOCKS5_REP_CMD_UNSUPPORTED, "bind is not supported");
		return CONN_WAIT;
	}
	socks_start_task(c, &rq);
	return CONN_AGAIN;
}

void socks_on_timeout(struct conn *c)
{
	reject_close(c, "negotiation timeout");
}

void socks_reply_code(struct conn *c, uint8_t code)
{
	uint8_t rep[22];
	size_t n = socks5_build_reply(code, NULL, rep);

	if (conn_send(c, rep, n) < 0) {
		conn_fail(c, TASK_R_CLIENT_TCP_WRITE_FAILED, "write to client failed");
		return;
	}
	conn_linger(c);
}

/* The escaper's outcome: the reply (RFC 1928 §6, SOCKS4 CD 90/91). */
void socks_reply_connect(struct conn *c, enum escape_err err)
{
	uint8_t rep[22];
	size_t n;

	if (c->proto == CONN_P_SOCKS4)
		n = socks4_build_reply(err == ESCAPE_OK ? SOCKS4_REP_GRANTED : SOCKS4_REP_REJECTED,
				       rep);
	else
		n = socks5_build_reply(
			escape_err_socks5(err),
			err == ESCAPE_OK && c->task.has_bound ? &c->task.bound.sa : NULL, rep);
	if (conn_send(c, rep, n) < 0) {
		conn_fail(c, TASK_R_CLIENT_TCP_WRITE_FAILED, "write to client failed");
		return;
	}
	if (err != ESCAPE_OK) {
		conn_linger(c);
		return;
	}
	conn_set_state(c, CONN_ST_REPLYING);
}
