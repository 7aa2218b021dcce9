/* Authentication on the wire: http_proxy's Proxy-Authorization check
 * (407 / 403 after block_and_delay / silent close with
 * no_early_error_reply, as g3) and the end of a blocked user's delay for
 * both protocols. SOCKS5's RFC 1929 exchange is in socks.c. */
#include "proxyd/dp/conn_user.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "proxyd/dp/conn.h"
#include "proxyd/dp/http_forward.h"
#include "proxyd/metrics.h"
#include "proxyd/dp/socks_parse.h"
#include "proxyd/http/http_parse.h"

/* 407 with the realm; the connection closes after it. */
static void reply_407(struct conn *c, const char *why)
{
	char hdr[320];
	uint8_t out[CONN_REPLY_MAX];
	int n;

	conn_reject_log(c, "http", why);
	snprintf(hdr, sizeof(hdr), "Proxy-Authenticate: Basic realm=\"%s\"\r\n",
		 c->srv->u.http.auth_realm ? c->srv->u.http.auth_realm : "proxy");
	n = http_build_error(407, true, hdr, out, sizeof(out));
	if (n < 0 || conn_send(c, out, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	conn_linger(c);
}

bool http_auth_check(struct conn *c, const struct http_request *req)
{
	struct auth_cred cred;
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
	r = conn_user_login(c, cp, false, &delay, &why);
	OPENSSL_cleanse(&cred, sizeof(cred));
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
	reply_407(c, why);
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
