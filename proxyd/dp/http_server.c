/* http_proxy on a connection: the request head (proxyd/http/http_parse.h),
 * CONNECT tunnels (RFC 9110 §9.3.6) and the dispatch of absolute-form
 * requests to http_forward.c, with g3's status codes. */
#include "proxyd/dp/conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proxyd/dp/conn_user.h"
#include "proxyd/dp/http_forward.h"
#include "proxyd/http/http_parse.h"

void http_error_reply(struct conn *c, int status, const char *why)
{
	uint8_t out[CONN_REPLY_MAX];
	int n;

	if (!c->task.created)
		conn_reject_log(c, "http", why);
	n = http_build_error(status, true, NULL, out, sizeof(out));
	if (n < 0 || conn_send(c, out, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	conn_linger(c);
}

/* Read what the client sent; false when the handler must stop. */
static bool fill(struct conn *c)
{
	ssize_t n = 0;

	if (!c->cl.eof && (c->cl.ready & EV_READ))
		n = conn_read_client(c);
	if (n < 0 && n != -EAGAIN && n != -ENOBUFS) {
		conn_reject_log(c, "http", "read from client failed");
		conn_close(c);
		return false;
	}
	return true;
}

/* egress_path_selection_header: a number id (1-based) for route_mapping;
 * any other value of at most 63 printable bytes is a string id for the
 * float escapers (direct_float bind IP id, proxy_float peer id; our
 * extension: g3 takes number ids only). Absent or zero: none. */
static void path_selection(struct conn *c, const struct http_proxy_conf *hc,
			   const struct http_request *req)
{
	struct slice v;
	uint64_t id = 0;
	bool digits = true;

	c->path_id = 0;
	c->path_sid[0] = '\0';
	if (hc->egress_path_selection_header == NULL ||
	    !http_request_header(req, hc->egress_path_selection_header, &v))
		return;
	while (v.len > 0 && (v.p[0] == ' ' || v.p[0] == '\t')) {
		v.p++;
		v.len--;
	}
	while (v.len > 0 && (v.p[v.len - 1] == ' ' || v.p[v.len - 1] == '\t'))
		v.len--;
	if (v.len == 0)
		return;
	for (size_t i = 0; i < v.len; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			digits = false;
		else if (digits && id <= UINT32_MAX)
			id = id * 10 + (uint64_t)(v.p[i] - '0');
	}
	if (digits) {
		c->path_id = id > UINT32_MAX ? 0 : (uint32_t)id;
		return;
	}
	if (v.len >= sizeof(c->path_sid))
		return;
	for (size_t i = 0; i < v.len; i++)
		if ((unsigned char)v.p[i] < 0x21 || (unsigned char)v.p[i] > 0x7e)
			return;
	memcpy(c->path_sid, v.p, v.len);
	c->path_sid[v.len] = '\0';
}

static void http_connect(struct conn *c, const struct http_request *req)
{
	const struct http_target *t = &req->target;
	const char *msg;
	int rc;

	if (conn_set_target(c, (const char *)t->host.p, t->host.len, t->port) < 0) {
		http_error_reply(c, 400, "invalid CONNECT target");
		return;
	}
	buf_consume(&c->in, req->head_len); /* what follows is tunnel data */
	c->proto = CONN_P_HTTP_CONNECT;
	conn_task_create(c);
	if (conn_target_forbidden(c)) {
		task_set_reason(&c->task, TASK_R_FORBIDDEN_BY_RULE,
				"forbidden by rule: destination denied");
		http_reply_connect(c, ESCAPE_FORBIDDEN);
		return;
	}
	rc = conn_user_task_check(c, USER_REQ_HTTP_CONNECT, NULL, 0, &msg);
	if (rc != 0) {
		task_set_reason(&c->task, TASK_R_FORBIDDEN_BY_RULE, msg);
		http_error_reply(c, rc, msg);
		return;
	}
	escape_start(c);
}

/* HTTP_HEAD: read and parse one request head (RFC 9112 §2–3). */
int http_on_head(struct conn *c)
{
	const struct http_proxy_conf *hc = &c->srv->u.http;
	struct http_request req;
	struct slice in;
	const char *why = NULL;
	enum parse_res r;

	if (!fill(c))
		return CONN_WAIT;
	in = buf_peek(&c->in);
	if (in.len == 0) {
		if (c->cl.eof)
			conn_close(c); /* closed before sending anything */
		return CONN_WAIT;
	}
	if (!c->head_started && c->http_requests > 0) {
		/* a kept-alive connection: the next head has begun */
		c->head_started = true;
		conn_arm_timer(c, hc->req_header_recv_timeout_ms, false);
	}
	r = http_parse_request(in.p, in.len, (size_t)hc->req_header_max_size, &req, &why);
	if (r == PARSE_AGAIN) {
		if (c->cl.eof) {
			conn_reject_log(c, "http", "closed in the middle of the request head");
			conn_close(c);
			return CONN_WAIT;
		}
		if (buf_full(&c->in)) {
			/* room for a head up to req_header_max_size (plus the CRLF
			 * lookahead), within the buffer maximum */
			size_t cap = MIN((size_t)hc->req_header_max_size + 4, (size_t)BUF_CAP_MAX);
			if (cap <= c->in.cap) {
				http_error_reply(c, 431, "request head too large");
				return CONN_WAIT;
			}
			if (conn_grow_in(c, cap) < 0) {
				http_error_reply(c, 500, "out of memory for the request head");
				return CONN_WAIT;
			}
			c->cl.ready |= EV_READ;
			return CONN_AGAIN;
		}
		return CONN_WAIT;
	}
	if (r == PARSE_TOO_BIG) {
		http_error_reply(c, 431, why ? why : "request head too large");
		return CONN_WAIT;
	}
	if (r != PARSE_OK) {
		http_error_reply(c, 400, why ? why : "invalid request");
		return CONN_WAIT;
	}
	c->http_minor = req.minor;
	c->http_requests++;
	path_selection(c, hc, &req);
	if (!http_auth_check(c, &req)) /* a 407 that keeps the connection: next request */
		return !c->closing && c->state == CONN_ST_HTTP_HEAD ? CONN_AGAIN : CONN_WAIT;
	if (req.method == HTTP_M_CONNECT) {
		http_connect(c, &req);
		return CONN_AGAIN;
	}
	if (req.target.form != HTTP_TGT_ABSOLUTE) {
		/* g3 treats these as requests to the proxy itself (easy-proxy and
		 * masque well-known paths), which proxyd does not serve yet */
		http_error_reply(c, 400, "request to the proxy itself (not absolute-form)");
		return CONN_WAIT;
	}
	if (!http_target_scheme_is(&req.target, "http") &&
	    !http_target_scheme_is(&req.target, "https")) {
		http_error_reply(c, 501, "only http:// and https:// targets are forwarded");
		return CONN_WAIT;
	}
	http_fwd_start(c, &req);
	return CONN_AGAIN;
}

/* req_header_recv_timeout: 408 (g3: ClientAppTimeout); a kept-alive
 * connection idle past pipeline_read_idle_timeout just closes. */
void http_on_timeout(struct conn *c)
{
	if (c->http_requests > 0 && buf_empty(&c->in)) {
		conn_close(c);
		return;
	}
	http_error_reply(c, 408, "request head timeout");
}

/* The escaper's outcome: 200, or g3's status for the failure. */
void http_reply_connect(struct conn *c, enum escape_err err)
{
	char ok[32];
	int n;

	if (err != ESCAPE_OK) {
		http_error_reply(c, escape_err_http(err), "connect failed");
		return;
	}
	n = snprintf(ok, sizeof(ok), "HTTP/1.%u 200 OK\r\n\r\n", c->http_minor);
	if (conn_send(c, ok, (size_t)n) < 0) {
		conn_fail(c, TASK_R_CLIENT_TCP_WRITE_FAILED, "write to client failed");
		return;
	}
	conn_set_state(c, CONN_ST_REPLYING);
}
