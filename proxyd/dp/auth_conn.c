/* Authentication on the wire: http_proxy's Proxy-Authorization check
 * (407 / 403 after block_and_delay / silent close with
 * no_early_error_reply, as g3) and the end of a blocked user's delay for
 * both protocols. SOCKS5's RFC 1929 exchange is in socks.c. */
#include "proxyd/dp/conn_user.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/util.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/http_forward.h"
#include "proxyd/metrics.h"
#include "proxyd/dp/socks_parse.h"
#include "proxyd/dp/uparams.h"
#include "proxyd/http/http_parse.h"

/* 407 with the realm. As g3, a request without a body on a kept-alive
 * connection leaves the connection open for the retry with credentials
 * (curl --proxy-anyauth): the head is consumed and the next request is
 * read. A request with a body (whose bytes may already be on their way)
 * or a client that does not keep the connection alive gets
 * "Connection: close" and the connection lingers and closes, so body
 * bytes are never parsed as a request. */
static void reply_407(struct conn *c, const struct http_request *req, const char *why)
{
	const struct http_proxy_conf *hc = &c->srv->u.http;
	char hdr[320];
	uint8_t out[CONN_REPLY_MAX];
	bool keep = req != NULL && req->keep_alive &&
		    (req->body == HTTP_BODY_NONE ||
		     (req->body == HTTP_BODY_LENGTH && req->content_length == 0));
	int n;

	conn_reject_log(c, "http", why);
	snprintf(hdr, sizeof(hdr), "Proxy-Authenticate: Basic realm=\"%s\"\r\n",
		 hc->auth_realm ? hc->auth_realm : "proxy");
	n = http_build_error(407, !keep, hdr, out, sizeof(out));
	if (n < 0 || conn_send(c, out, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	if (!keep || conn_reply_pending(c)) {
		/* not kept (or the client is not reading): out, then close */
		conn_linger(c);
		return;
	}
	buf_consume(&c->in, req->head_len);
	c->head_started = false;
	c->task.accept_ns = util_mono_ns();
	(void)buf_release_if_empty(&c->in);
	conn_arm_timer(c,
		       buf_empty(&c->in) ? hc->pipeline_read_idle_timeout_ms
					 : hc->req_header_recv_timeout_ms,
		       false);
}

/* username params refused (g3: 400 Bad Request); the connection closes */
static void reply_400(struct conn *c, const char *why)
{
	uint8_t out[CONN_REPLY_MAX];
	int n;

	conn_reject_log(c, "http", why);
	n = http_build_error(400, true, NULL, out, sizeof(out));
	if (n < 0 || conn_send(c, out, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	conn_linger(c);
}

bool http_auth_check(struct conn *c, const struct http_request *req)
{
	struct auth_cred cred, base;
	const struct auth_cred *cp = NULL;
	const char *why = NULL;
	uint64_t delay = 0;
	enum user_login r;

	if (c->srv->user_group == NULL)
		return true;
	if (req->proxy_authorization.len > 0) {
		if (auth_basic_decode(req->proxy_authorization, &cred, &why) != PARSE_OK) {
			metrics_srv_add(c->srv->stats, MS_FORBID_AUTH_FAILED, 1);
			r = USER_LOGIN_FAILED;
			goto refused;
		}
		cp = &cred;
	}
	if (conn_uparams_login(c, cp, &base, &cp, &why) < 0) {
		OPENSSL_cleanse(&cred, sizeof(cred));
		OPENSSL_cleanse(&base, sizeof(base));
		conn_user_free(c);
		reply_400(c, why);
		return false;
	}
	r = conn_user_login(c, cp, false, &delay, &why);
	OPENSSL_cleanse(&cred, sizeof(cred));
	OPENSSL_cleanse(&base, sizeof(base));
	if (r == USER_LOGIN_OK)
		return true;
refused:
	conn_user_free(c);
	if (r == USER_LOGIN_BLOCKED) {
		conn_reject_log(c, "http", why);
		conn_set_state(c, CONN_ST_AUTH_DELAY);
		conn_arm_timer(c, delay > 0 ? delay : 1, false);
		return false;
	}
	if (c->srv->u.http.no_early_error_reply) {
		conn_reject_log(c, "http", why);
		conn_close(c);
		return false;
	}
	reply_407(c, req, why);
	return false;
}

void conn_auth_delay_done(struct conn *c)
{
	uint8_t out[CONN_REPLY_MAX];
	int n;

	if (c->srv->type == SERVER_SOCKS_PROXY) {
		/* g3: the delay, then a SOCKS5 "not allowed by ruleset" reply */
		n = (int)socks5_build_reply(SOCKS5_REP_NOT_ALLOWED, NULL, out);
	} else if (c->srv->u.http.no_early_error_reply) {
		conn_close(c);
		return;
	} else {
		n = http_build_error(403, true, NULL, out, sizeof(out));
	}
	if (n < 0 || conn_send(c, out, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	conn_linger(c);
}
