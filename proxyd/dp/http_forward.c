/* HttpForward: absolute-form requests relayed to the origin (RFC 9112,
 * RFC 9110 §7.6 hop-by-hop handling by proxyd/http/http_build.c). One
 * exchange at a time per client connection: the request head and body go
 * up while the response comes back (1xx interim responses are passed on,
 * so Expect: 100-continue works end to end); bodies by Content-Length,
 * chunked (scanned, forwarded unchanged) or, for responses, until the
 * upstream closes. Then the client connection waits for its next request
 * (keep-alive, pipelined bytes already buffered are parsed at once) and the
 * upstream connection goes to the worker's pool when both sides keep it.
 * A 101 answer turns the connection into a tunnel (websocket). */
#include "proxyd/dp/http_forward.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proxyd/dp/conn.h"
#include "proxyd/dp/conn_user.h"
#include "proxyd/dp/tls_ep.h"
#include "proxyd/dp/uparams.h"
#include "proxyd/dp/uppool.h"

#define URI_MAX 1024

struct body_state {
	enum http_body kind;
	uint64_t left; /* LENGTH: bytes still to send */
	struct http_chunked ck;
	size_t ready;	/* CHUNKED: scanned body bytes at the head of the buffer */
	bool end_known; /* CHUNKED: the scanner found the end */
	bool done;
};

struct http_fwd {
	struct buf uout; /* forwarded request head; kept until a response starts */
	size_t uout_off; /* bytes of uout written */
	struct buf uin;	 /* upstream bytes: response heads, then the body */
	struct buf cout; /* response heads for the client */
	struct task_http th;
	char method[24];
	char uri[URI_MAX + 1];
	char ua[256];
	enum http_method method_e;
	bool client_ka; /* the client asked for keep-alive */
	bool up_ka;	/* we asked the upstream for keep-alive */
	bool https;	/* https:// target: TLS to the origin (tls_client) */
	bool rsp_head_done, rsp_keep, up_reusable, upgrade, retried;
	struct body_state req, rsp;
	uint64_t c_rd, c_wr, r_rd, r_wr;
	uint64_t idle_mark;
	unsigned idle_count;
};

/* ---- bodies --------------------------------------------------------------- */

static void body_init(struct body_state *b, enum http_body kind, uint64_t len, size_t max_line)
{
	memset(b, 0, sizeof(*b));
	b->kind = kind;
	b->left = len;
	if (kind == HTTP_BODY_CHUNKED)
		http_chunked_init(&b->ck, max_line);
	b->done = kind == HTTP_BODY_NONE || (kind == HTTP_BODY_LENGTH && len == 0);
}

/* Body bytes at the head of in that may go out now; -1 for a bad chunked
 * encoding. */
static ssize_t body_avail(struct body_state *b, struct slice in, const char **why)
{
	switch (b->kind) {
	case HTTP_BODY_NONE:
		return 0;
	case HTTP_BODY_LENGTH:
		return (ssize_t)MIN((uint64_t)in.len, b->left);
	case HTTP_BODY_EOF:
		return (ssize_t)in.len;
	case HTTP_BODY_CHUNKED:
		if (!b->end_known && in.len > b->ready) {
			size_t used = 0;
			enum parse_res r = http_chunked_scan(&b->ck, in.p + b->ready,
							     in.len - b->ready, &used, why);
			if (r == PARSE_OK) {
				b->ready += used;
				b->end_known = true;
			} else if (r == PARSE_AGAIN) {
				b->ready = in.len;
			} else {
				return -1;
			}
		}
		return (ssize_t)b->ready;
	}
	return 0;
}

static void body_sent(struct body_state *b, size_t n)
{
	if (b->kind == HTTP_BODY_LENGTH) {
		b->left -= n;
		b->done = b->left == 0;
	} else if (b->kind == HTTP_BODY_CHUNKED) {
		b->ready -= n;
		b->done = b->end_known && b->ready == 0;
	}
}

/* Write up to n bytes of b's buffer to fd; returns bytes written, 0 when
 * the socket is full (ready flag cleared), -1 on error. */
static ssize_t put(struct conn_ep *ep, const uint8_t *p, size_t n)
{
	ssize_t k = tls_ep_write(ep, p, n);

	if (k >= 0)
		return k;
	if (k == -EAGAIN) {
		ep->ready &= ~EV_WRITE;
		return 0;
	}
	return -1;
}

/* A response head and the body bytes after it in one sendmsg (a plain
 * socket): bytes written, 0 when the socket is full (ready flag cleared),
 * -1 on error. */
static ssize_t put_head_body(struct conn_ep *ep, struct slice head, struct slice body)
{
	struct iovec iov[2] = {{(void *)(uintptr_t)head.p, head.len},
			       {(void *)(uintptr_t)body.p, body.len}};
	struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
	ssize_t k;

	do {
		k = sendmsg(ep->fd, &m, MSG_NOSIGNAL);
	} while (k < 0 && errno == EINTR);
	if (k >= 0)
		return k;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		ep->ready &= ~EV_WRITE;
		return 0;
	}
	return -1;
}

/* ---- failures ---------------------------------------------------------------- */

/* Before the client saw a response: an error reply; after: just close. */
static void fwd_fail(struct conn *c, int status, enum task_reason r, const char *msg)
{
	struct http_fwd *f = c->fwd;
	uint8_t out[CONN_REPLY_MAX];
	int n;

	task_set_reason(&c->task, r, msg);
	if (f->th.rsp_status != 0 || status == 0) {
		conn_close(c);
		return;
	}
	f->th.rsp_status = (uint16_t)status;
	n = http_build_error(status, true, NULL, out, sizeof(out));
	if (n < 0 || conn_send(c, out, (size_t)n) < 0) {
		conn_close(c);
		return;
	}
	conn_linger(c);
}

/* ---- the exchange --------------------------------------------------------------- */

static void uri_copy(struct http_fwd *f, const struct http_request *req, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	struct slice raw = req->target_raw, ui = req->target.userinfo;
	size_t o = 0, i = 0;

	if (max > URI_MAX)
		max = URI_MAX;
	while (i < raw.len && o < max) {
		uint8_t ch = raw.p[i];
		/* mask the password of user:password@ */
		if (ui.len && raw.p + i == ui.p) {
			size_t colon = slice_find(ui, ':');
			size_t keep = colon == SLICE_NPOS ? ui.len : colon;
			for (size_t j = 0; j < keep && o < max; j++)
				f->uri[o++] = (char)ui.p[j];
			if (colon != SLICE_NPOS)
				for (const char *m = ":***"; *m && o < max; m++)
					f->uri[o++] = *m;
			i += ui.len;
			continue;
		}
		if (ch < 0x20 || ch >= 0x7f || ch == '\\') {
			if (o + 4 > max)
				break;
			f->uri[o++] = '\\';
			f->uri[o++] = 'x';
			f->uri[o++] = hex[ch >> 4];
			f->uri[o++] = hex[ch & 15];
		} else {
			f->uri[o++] = (char)ch;
		}
		i++;
	}
	f->uri[o] = '\0';
}

/* ---- forward state free list ------------------------------------------------ */

/* Forward states between exchanges, per thread (a worker's connections
 * only ever run on its thread): an idle keep-alive connection holds none,
 * and a request takes one without malloc. Linked through uin.data (a
 * parked state holds no storage). */
#define FWD_POOL_MAX 64u

static _Thread_local struct http_fwd *fwd_pool;
static _Thread_local unsigned fwd_pool_n;

static struct http_fwd *fwd_take(void)
{
	struct http_fwd *f = fwd_pool;

	if (f != NULL) {
		fwd_pool = (struct http_fwd *)(void *)f->uin.data;
		fwd_pool_n--;
		memset(f, 0, sizeof(*f));
	} else {
		f = calloc(1, sizeof(*f));
		if (f == NULL)
			return NULL;
	}
	buf_init(&f->uout, BUF_BLOCK_SIZE);
	buf_init(&f->uin, BUF_BLOCK_SIZE);
	buf_init(&f->cout, BUF_BLOCK_SIZE);
	return f;
}

/* Give c's forward state back (its buffers to the block pool). */
static void fwd_put(struct conn *c)
{
	struct http_fwd *f = c->fwd;

	if (f == NULL)
		return;
	c->fwd = NULL;
	if (c->task.http == &f->th)
		c->task.http = NULL;
	buf_fini(&f->uout);
	buf_fini(&f->uin);
	buf_fini(&f->cout);
	if (fwd_pool_n >= FWD_POOL_MAX) {
		free(f);
		return;
	}
	f->uin.data = (uint8_t *)(void *)fwd_pool;
	fwd_pool = f;
	fwd_pool_n++;
}

void http_fwd_pool_trim(void)
{
	while (fwd_pool != NULL) {
		struct http_fwd *f = fwd_pool;
		fwd_pool = (struct http_fwd *)(void *)f->uin.data;
		free(f);
	}
	fwd_pool_n = 0;
}

static int fwd_setup(struct conn *c, const struct http_request *req)
{
	const struct http_proxy_conf *hc = &c->srv->u.http;
	struct http_fwd *f = c->fwd;
	uint8_t *p;
	size_t room, cap = MAX((size_t)BUF_BLOCK_SIZE, req->head_len + 1024);
	int n;

	if (f == NULL) {
		f = fwd_take();
		if (f == NULL)
			return -ENOMEM;
		c->fwd = f;
	}
	if (cap > f->uout.cap) {
		buf_fini(&f->uout);
		buf_init(&f->uout, MIN(cap, (size_t)BUF_CAP_MAX));
	}
	buf_reset(&f->uout);
	f->uout_off = 0;
	buf_reset(&f->uin);
	buf_reset(&f->cout);
	memset(&f->th, 0, sizeof(f->th));
	f->rsp_head_done = f->rsp_keep = f->up_reusable = f->upgrade = f->retried = false;
	f->c_rd = f->c_wr = f->r_rd = f->r_wr = 0;
	f->idle_mark = 0;
	f->idle_count = 0;
	f->method_e = req->method;
	f->client_ka = req->keep_alive;
	f->up_ka = hc->http_forward_upstream_keepalive.enable;
	f->https = http_target_scheme_is(&req->target, "https");
	if (buf_reserve(&f->uout, &p, &room) < 0)
		return -ENOMEM;
	n = http_build_forward_request(req, false, f->up_ka, p, room);
	if (n < 0)
		return n;
	buf_commit(&f->uout, (size_t)n);
	if (slice_to_cstr(req->method_str, f->method, sizeof(f->method)) < 0)
		snprintf(f->method, sizeof(f->method), "%.*s", (int)(sizeof(f->method) - 1),
			 (const char *)req->method_str.p);
	/* log_uri_max_chars: the user's when set, else the server's */
	uri_copy(f, req,
		 c->user != NULL && c->user->uc->has_log_uri_max_chars
			 ? c->user->uc->log_uri_max_chars
			 : hc->log_uri_max_chars);
	n = (int)MIN(req->user_agent.len, sizeof(f->ua) - 1);
	if (n > 0)
		memcpy(f->ua, req->user_agent.p, (size_t)n);
	f->ua[n] = '\0';
	f->th.method = f->method;
	f->th.uri = f->uri;
	f->th.user_agent = f->ua[0] ? f->ua : NULL;
	body_init(&f->req, req->body, req->content_length, hc->body_line_max_length);
	memset(&f->rsp, 0, sizeof(f->rsp)); /* set up by the response head */
	f->c_rd = req->head_len;
	return 0;
}

/* The upstream is connected (fresh or from the pool): start the exchange. */
static void fwd_go(struct conn *c)
{
	/* the request goes out at once; the response is read on readiness
	 * (a read before it would only fail with EAGAIN) */
	c->up.ready |= EV_WRITE;
	/* the head was consumed (and nothing refers to it any more): a
	 * request without a body holds no input block while it waits for
	 * its response */
	(void)buf_release_if_empty(&c->in);
	c->task.stage = TASK_STAGE_CONNECTED;
	speed_setup(c);
	conn_set_state(c, CONN_ST_HTTP_FWD);
	conn_arm_timer(c, c->srv->u.http.rsp_header_recv_timeout_ms, false);
}

void http_fwd_start(struct conn *c, const struct http_request *req)
{
	const struct http_target *t = &req->target;
	struct uppool_conn uc;
	const char *msg;
	int rc;

	if (conn_set_target(c, (const char *)t->host.p, t->host.len, t->port) < 0) {
		http_error_reply(c, 400, "invalid request target host");
		return;
	}
	rc = fwd_setup(c, req);
	buf_consume(&c->in, req->head_len);
	if (rc < 0) {
		http_error_reply(c, rc == -ENOMEM ? 500 : 400,
				 "cannot build the forwarded request");
		return;
	}
	c->proto = CONN_P_HTTP_FORWARD;
	c->task.http = &c->fwd->th; /* before the Created record */
	conn_task_create(c);
	c->fwd->th.pipeline_wait_ns = 0; /* the head is handled as soon as it is read */
	if (conn_target_forbidden(c)) {
		fwd_fail(c, 403, TASK_R_FORBIDDEN_BY_RULE, "forbidden by rule: destination denied");
		return;
	}
	rc = conn_user_task_check(c, USER_REQ_HTTP_FORWARD, req->user_agent.p, req->user_agent.len,
				  &msg);
	if (rc != 0) {
		fwd_fail(c, rc, TASK_R_FORBIDDEN_BY_RULE, msg);
		return;
	}
	/* TLS upstreams are not pooled: https targets always connect anew */
	if (c->fwd->up_ka && escape_poolable(c->srv->escaper) && !c->fwd->https &&
	    !conn_uparams_hop_set(c) &&
	    uppool_take(c->wk, c->srv->escaper->name, c->host, c->port, &uc)) {
		conn_up_attach_pooled(c, uc.fd);
		if (escape_proxy_fwd_prepare(c, c->srv->escaper) < 0) {
			fwd_fail(c, 500, TASK_R_INTERNAL_SERVER_ERROR,
				 "cannot build the request for the next proxy");
			return;
		}
		c->task.bound = uc.bound;
		c->task.peer = uc.peer;
		c->task.has_bound = c->task.has_peer = true;
		c->fwd->th.reuse_connection = true;
		fwd_go(c);
		return;
	}
	escape_start(c);
}

/* https forward: the TLS handshake with the origin ended. */
static void fwd_tls_done(struct conn *c, int rc)
{
	if (rc < 0) {
		fwd_fail(c, 502, TASK_R_UPSTREAM_TLS_HANDSHAKE_FAILED, c->esc.msg);
		return;
	}
	fwd_go(c);
}

int http_fwd_absolute(struct conn *c, const char *auth_line)
{
	struct http_fwd *f = c->fwd;
	struct slice h = buf_peek(&f->uout);
	const uint8_t *sp = memchr(h.p, ' ', h.len), *eol;
	size_t alen = strlen(auth_line), cap, off;
	char authority[300];
	struct buf nb;
	int n;

	if (sp == NULL || f->uout_off != 0)
		return -EINVAL;
	eol = memchr(sp, '\n', h.len - (size_t)(sp - h.p));
	if (eol == NULL)
		return -EINVAL;
	if (c->host_is_ip && c->host_addr.sa.sa_family == AF_INET6)
		n = snprintf(authority, sizeof(authority), "%s://[%s]", f->https ? "https" : "http",
			     c->host);
	else
		n = snprintf(authority, sizeof(authority), "%s://%s", f->https ? "https" : "http",
			     c->host);
	if (c->port != (f->https ? 443 : 80))
		n += snprintf(authority + n, sizeof(authority) - (size_t)n, ":%u", c->port);
	cap = MAX(f->uout.cap, h.len + (size_t)n + alen);
	if (cap > BUF_CAP_MAX)
		return -ENOSPC;
	buf_init(&nb, cap);
	off = (size_t)(sp - h.p) + 1;
	/* the method and its space, the authority unless the target is already
	 * absolute or '*', the rest of the request line, the auth line, the rest */
	if (buf_append(&nb, h.p, off) < 0 ||
	    (h.p[off] == '/' && buf_append(&nb, authority, (size_t)n) < 0) ||
	    buf_append(&nb, h.p + off, (size_t)(eol + 1 - h.p) - off) < 0 ||
	    buf_append(&nb, auth_line, alen) < 0 ||
	    buf_append(&nb, eol + 1, h.len - (size_t)(eol + 1 - h.p)) < 0) {
		buf_fini(&nb);
		return -ENOMEM;
	}
	buf_fini(&f->uout);
	f->uout = nb;
	return 0;
}

bool http_fwd_is_https(const struct conn *c)
{
	return c->fwd != NULL && c->fwd->https;
}

void http_fwd_connected(struct conn *c, enum escape_err err)
{
	const struct tls_client_conf *tc = &c->srv->u.http.tls_client;
	const char *why = NULL;
	SSL_CTX *ctx;

	if (err != ESCAPE_OK) {
		fwd_fail(c, escape_err_http(err), escape_err_reason(err), c->esc.msg);
		return;
	}
	/* plain http, or https the next proxy forwards itself (forward_https) */
	if (!c->fwd->https || c->esc.fwd_by_peer) {
		fwd_go(c);
		return;
	}
	/* https forward: TLS to the origin with the server's tls_client, the
	 * target host as the verified name and SNI */
	ctx = tls_ep_client_ctx(c->gen, tc, &why);
	if (ctx == NULL || tls_ep_client_begin(c, ctx, tc, c->host, fwd_tls_done) < 0)
		fwd_fail(c, 500, TASK_R_INTERNAL_SERVER_ERROR,
			 ctx == NULL ? "tls_client context unavailable" : "cannot start TLS");
}

/* A pooled connection the origin had closed meanwhile: the request had no
 * body and nothing came back, so it is sent again on a new connection. */
static bool fwd_retry(struct conn *c)
{
	struct http_fwd *f = c->fwd;

	if (!f->th.reuse_connection || f->retried || f->r_rd != 0 || f->req.kind != HTTP_BODY_NONE)
		return false;
	f->retried = true;
	f->th.reuse_connection = false;
	f->uout_off = 0;
	conn_up_close(c);
	c->task.has_bound = c->task.has_peer = false;
	escape_start(c);
	return true;
}

static int step_req(struct conn *c, struct http_fwd *f)
{
	int progress = 0;
	const char *why = NULL;

	if (f->uout_off < buf_len(&f->uout) && (c->up.ready & EV_WRITE)) {
		struct slice s = buf_peek(&f->uout);
		ssize_t k = put(&c->up, s.p + f->uout_off, s.len - f->uout_off);
		if (k < 0) {
			if (!fwd_retry(c))
				fwd_fail(c, 502, TASK_R_UPSTREAM_WRITE_FAILED,
					 "write to upstream failed");
			return -1;
		}
		f->uout_off += (size_t)k;
		f->r_wr += (uint64_t)k;
		progress = k > 0;
		if (f->uout_off == buf_len(&f->uout) && f->th.req_hdr_ns == 0)
			f->th.req_hdr_ns = util_mono_ns();
	}
	if (f->req.done && (c->cl.ready & EV_READ) && !c->cl.eof && !buf_full(&c->in)) {
		/* a pipelined request (or the client's close) waits in c->in
		 * for HTTP_HEAD: watching the client all along spares an
		 * epoll_ctl per request */
		ssize_t n = conn_read_client(c);
		if (n < 0 && n != -EAGAIN && n != -ENOBUFS) {
			task_set_reason(&c->task, TASK_R_CLIENT_TCP_READ_FAILED,
					"read from client failed");
			conn_close(c);
			return -1;
		}
		progress |= n > 0;
	}
	if (f->uout_off < buf_len(&f->uout) || f->req.done)
		return progress;
	{
		ssize_t avail = body_avail(&f->req, buf_peek(&c->in), &why);
		if (avail < 0) {
			fwd_fail(c, 400, TASK_R_INVALID_CLIENT_PROTOCOL,
				 why ? why : "invalid chunked request body");
			return -1;
		}
		if (avail > 0 && (c->up.ready & EV_WRITE) &&
		    (avail = (ssize_t)speed_grant(c, SPEED_CL_RD | SPEED_UP_WR, (size_t)avail)) >
			    0) {
			ssize_t k = put(&c->up, buf_peek(&c->in).p, (size_t)avail);
			if (k < 0) {
				fwd_fail(c, 502, TASK_R_UPSTREAM_WRITE_FAILED,
					 "write to upstream failed");
				return -1;
			}
			speed_used(c, SPEED_CL_RD | SPEED_UP_WR, (size_t)k);
			buf_consume(&c->in, (size_t)k);
			body_sent(&f->req, (size_t)k);
			f->c_rd += (uint64_t)k;
			f->r_wr += (uint64_t)k;
			progress |= k > 0;
		} else if (avail == 0 && (c->cl.ready & EV_READ)) {
			ssize_t n = conn_read_client(c);
			if (n == 0) {
				task_set_reason(&c->task, TASK_R_CLOSED_EARLY_BY_CLIENT,
						"client closed in the middle of the request body");
				conn_close(c);
				return -1;
			}
			if (n < 0 && n != -EAGAIN && n != -ENOBUFS) {
				task_set_reason(&c->task, TASK_R_CLIENT_TCP_READ_FAILED,
						"read from client failed");
				conn_close(c);
				return -1;
			}
			progress |= n > 0;
		}
	}
	if (f->req.done && f->th.req_all_ns == 0)
		f->th.req_all_ns = util_mono_ns();
	return progress;
}

/* A complete response head in uin: 1xx goes on to the client as it is,
 * the final one decides the framing and both connections' fate. */
static int rsp_head(struct conn *c, struct http_fwd *f)
{
	const struct http_proxy_conf *hc = &c->srv->u.http;
	struct http_response rsp;
	struct slice in = buf_peek(&f->uin);
	const char *why = NULL;
	uint8_t *p;
	size_t room;
	int n;
	enum parse_res r = http_parse_response(in.p, in.len, (size_t)hc->rsp_header_max_size,
					       f->method_e, &rsp, &why);

	if (r == PARSE_AGAIN) {
		if (c->up.eof) {
			if (in.len == 0 && fwd_retry(c))
				return -1;
			fwd_fail(c, 502,
				 in.len ? TASK_R_INVALID_UPSTREAM_PROTOCOL
					: TASK_R_CLOSED_BY_UPSTREAM,
				 "upstream closed before a complete response head");
			return -1;
		}
		if (buf_full(&f->uin)) {
			size_t cap = MIN((size_t)hc->rsp_header_max_size + 4, (size_t)BUF_CAP_MAX);
			struct buf nb;
			if (cap <= f->uin.cap) {
				fwd_fail(c, 502, TASK_R_INVALID_UPSTREAM_PROTOCOL,
					 "response head too large");
				return -1;
			}
			buf_init(&nb, cap);
			if (buf_append(&nb, in.p, in.len) < 0) {
				buf_fini(&nb);
				fwd_fail(c, 500, TASK_R_INTERNAL_SERVER_ERROR, "out of memory");
				return -1;
			}
			buf_fini(&f->uin);
			f->uin = nb;
			return 1;
		}
		return 0;
	}
	if (r != PARSE_OK) {
		fwd_fail(c, 502, TASK_R_INVALID_UPSTREAM_PROTOCOL,
			 why ? why : "invalid response head from upstream");
		return -1;
	}
	if (rsp.status >= 100 && rsp.status < 200 && rsp.status != 101) {
		if (buf_reserve(&f->cout, &p, &room) < 0 ||
		    (n = http_build_forward_response(&rsp, false, p, room)) < 0) {
			fwd_fail(c, 502, TASK_R_INVALID_UPSTREAM_PROTOCOL,
				 "interim response too large");
			return -1;
		}
		buf_commit(&f->cout, (size_t)n);
		buf_consume(&f->uin, rsp.head_len);
		c->cl.ready |= EV_WRITE;
		return 1;
	}
	f->upgrade = rsp.status == 101;
	f->th.origin_status = rsp.status;
	f->th.rsp_status = rsp.status;
	f->th.rsp_hdr_ns = util_mono_ns();
	f->rsp_keep = f->client_ka && rsp.body != HTTP_BODY_EOF && !c->wk->offline && !f->upgrade;
	f->up_reusable = f->up_ka && rsp.keep_alive && !f->upgrade;
	if (buf_reserve(&f->cout, &p, &room) < 0 ||
	    (n = http_build_forward_response(&rsp, f->rsp_keep, p, room)) < 0) {
		f->th.rsp_status = 0;
		fwd_fail(c, 502, TASK_R_INVALID_UPSTREAM_PROTOCOL, "response head too large");
		return -1;
	}
	buf_commit(&f->cout, (size_t)n);
	buf_consume(&f->uin, rsp.head_len);
	body_init(&f->rsp, f->upgrade ? HTTP_BODY_EOF : rsp.body, rsp.content_length,
		  hc->body_line_max_length);
	f->rsp_head_done = true;
	buf_reset(&f->uout); /* no retry from here on */
	f->uout_off = 0;
	c->cl.ready |= EV_WRITE;
	c->task.stage = TASK_STAGE_RELAYING;
	c->task.ready_ns = util_mono_ns();
	conn_arm_timer(c, c->srv->task_idle_check_interval_ms, true);
	return 1;
}

/* The rest of a response body (Content-Length or until the upstream
 * closes) moves socket -> pipe -> socket with splice(2), never through
 * user space, once the bytes read with the head went out and neither side
 * is TLS. Chunked bodies keep the scanned path. */
static bool rsp_splicing(const struct conn *c, const struct http_fwd *f)
{
	return f->rsp_head_done && !f->rsp.done && !f->upgrade &&
	       (f->rsp.kind == HTTP_BODY_LENGTH || f->rsp.kind == HTTP_BODY_EOF) &&
	       buf_empty(&f->uin) && buf_empty(&f->cout) && c->up.ssl == NULL && c->cl.ssl == NULL;
}

static int rsp_splice(struct conn *c, struct http_fwd *f)
{
	struct relay_dir *d = &c->relay.u2c;
	int progress = 0;
	size_t max, want;
	ssize_t n;

	if (!pipebuf_empty(&d->pb) && (c->cl.ready & EV_WRITE) &&
	    (max = speed_grant(c, SPEED_CL_WR, pipebuf_len(&d->pb))) > 0) {
		n = pipebuf_splice_out(&d->pb, c->cl.fd, max);
		if (n > 0) {
			speed_used(c, SPEED_CL_WR, (size_t)n);
			body_sent(&f->rsp, (size_t)n);
			f->c_wr += (uint64_t)n;
			d->full = false;
			progress = 1;
		} else if (n == -EAGAIN) {
			c->cl.ready &= ~EV_WRITE;
		} else if (n < 0) {
			task_set_reason(&c->task, TASK_R_CLIENT_TCP_WRITE_FAILED,
					"write to client failed");
			conn_close(c);
			return -1;
		}
	}
	/* Content-Length: never read past the body (the connection may be
	 * reused); until the end of stream: as much as the pipe takes */
	want = PIPEBUF_SIZE;
	if (f->rsp.kind == HTTP_BODY_LENGTH)
		want = (size_t)MIN((uint64_t)PIPEBUF_SIZE, f->rsp.left - pipebuf_len(&d->pb));
	if (want > 0 && !c->up.eof && !d->full && (c->up.ready & EV_READ) &&
	    (max = speed_grant(c, SPEED_UP_RD, want)) > 0) {
		n = pipebuf_splice_in(&d->pb, c->up.fd,
				      max == PIPEBUF_SIZE && f->rsp.kind == HTTP_BODY_EOF ? 0
											  : max);
		if (n > 0) {
			speed_used(c, SPEED_UP_RD, (size_t)n);
			f->r_rd += (uint64_t)n;
			progress = 1;
		} else if (n == 0) {
			c->up.eof = true;
			progress = 1;
		} else if (n == -EAGAIN) {
			c->up.ready &= ~EV_READ;
		} else if (n == -ENOBUFS) {
			d->full = true;
		} else {
			fwd_fail(c, 502, TASK_R_UPSTREAM_READ_FAILED, "read from upstream failed");
			return -1;
		}
	}
	return progress;
}

static int step_rsp(struct conn *c, struct http_fwd *f)
{
	int progress = 0, rc;
	const char *why = NULL;

	if (rsp_splicing(c, f)) {
		progress = rsp_splice(c, f);
		if (progress < 0)
			return -1;
	} else if (!f->rsp.done && !c->up.eof && !buf_full(&f->uin) && (c->up.ready & EV_READ) &&
		   speed_grant(c, SPEED_UP_RD, 1) > 0) {
		size_t room = buf_space(&f->uin);
		ssize_t n = tls_ep_buf_read(&c->up, &f->uin);

		conn_ep_read_done(&c->up, n, room);
		if (n > 0) {
			/* a read may overdraw its slice: the debt delays the next */
			speed_used(c, SPEED_UP_RD, (size_t)n);
			f->r_rd += (uint64_t)n;
			progress = 1;
		} else if (n == 0) {
			c->up.eof = true;
			progress = 1;
		} else if (n == -EAGAIN) {
			c->up.ready &= ~EV_READ;
		} else if (n != -ENOBUFS) {
			if (!f->rsp_head_done && f->r_rd == 0 && fwd_retry(c))
				return -1;
			fwd_fail(c, 502, TASK_R_UPSTREAM_READ_FAILED, "read from upstream failed");
			return -1;
		}
	}
	while (!f->rsp_head_done) {
		rc = rsp_head(c, f);
		if (rc < 0)
			return -1;
		if (rc == 0)
			break;
		progress = 1;
	}
	/* heads for the client: interim ones (100 Continue) go out at once,
	 * the final one with the body bytes that came with it */
	if (!buf_empty(&f->cout) && (c->cl.ready & EV_WRITE) && f->rsp_head_done &&
	    c->cl.ssl == NULL) {
		ssize_t avail = body_avail(&f->rsp, buf_peek(&f->uin), &why);
		if (avail > 0 &&
		    (avail = (ssize_t)speed_grant(c, SPEED_CL_WR, (size_t)avail)) > 0) {
			struct slice h = buf_peek(&f->cout), b = buf_peek(&f->uin);
			size_t nh, nb;
			ssize_t k;

			b.len = (size_t)avail;
			k = put_head_body(&c->cl, h, b);
			if (k < 0) {
				task_set_reason(&c->task, TASK_R_CLIENT_TCP_WRITE_FAILED,
						"write to client failed");
				conn_close(c);
				return -1;
			}
			nh = MIN((size_t)k, h.len);
			nb = (size_t)k - nh;
			buf_consume(&f->cout, nh);
			speed_used(c, SPEED_CL_WR, nb);
			buf_consume(&f->uin, nb);
			body_sent(&f->rsp, nb);
			f->c_wr += (uint64_t)k;
			progress |= k > 0;
		}
	}
	if (!buf_empty(&f->cout) && (c->cl.ready & EV_WRITE)) {
		ssize_t n = tls_ep_buf_write(&c->cl, &f->cout);
		if (n > 0) {
			f->c_wr += (uint64_t)n;
			progress = 1;
		} else if (n == -EAGAIN) {
			c->cl.ready &= ~EV_WRITE;
		} else if (n < 0) {
			task_set_reason(&c->task, TASK_R_CLIENT_TCP_WRITE_FAILED,
					"write to client failed");
			conn_close(c);
			return -1;
		}
	}
	if (!f->rsp_head_done)
		return progress;
	if (!buf_empty(&f->cout))
		return progress;
	if (!f->rsp.done) {
		ssize_t avail = body_avail(&f->rsp, buf_peek(&f->uin), &why);
		if (avail < 0) {
			task_set_reason(&c->task, TASK_R_INVALID_UPSTREAM_PROTOCOL,
					why ? why : "invalid chunked response body");
			conn_close(c);
			return -1;
		}
		if (avail > 0 && (c->cl.ready & EV_WRITE) &&
		    (avail = (ssize_t)speed_grant(c, SPEED_CL_WR, (size_t)avail)) > 0) {
			ssize_t k = put(&c->cl, buf_peek(&f->uin).p, (size_t)avail);
			if (k < 0) {
				task_set_reason(&c->task, TASK_R_CLIENT_TCP_WRITE_FAILED,
						"write to client failed");
				conn_close(c);
				return -1;
			}
			speed_used(c, SPEED_CL_WR, (size_t)k);
			buf_consume(&f->uin, (size_t)k);
			body_sent(&f->rsp, (size_t)k);
			f->c_wr += (uint64_t)k;
			progress |= k > 0;
		}
	}
	if (f->rsp.kind == HTTP_BODY_EOF && c->up.eof && buf_empty(&f->uin) &&
	    pipebuf_empty(&c->relay.u2c.pb))
		f->rsp.done = true;
	if (!f->rsp.done && c->up.eof && buf_empty(&f->uin) && pipebuf_empty(&c->relay.u2c.pb)) {
		task_set_reason(&c->task, TASK_R_CLOSED_BY_UPSTREAM,
				"upstream closed in the middle of the response body");
		conn_close(c);
		return -1;
	}
	if (f->rsp.done && f->th.rsp_all_ns == 0) {
		f->th.rsp_all_ns = util_mono_ns();
		if (!buf_empty(&f->uin))
			f->up_reusable = false; /* bytes nobody asked for */
	}
	return progress;
}

void http_fwd_counts(struct conn *c)
{
	struct http_fwd *f = c->fwd;

	if (f == NULL)
		return;
	c->task.c_rd += f->c_rd;
	c->task.c_wr += f->c_wr;
	c->task.r_rd += f->r_rd;
	c->task.r_wr += f->r_wr;
	f->c_rd = f->c_wr = f->r_rd = f->r_wr = 0;
}

void http_fwd_peek_counts(const struct conn *c, struct task_notes *t)
{
	const struct http_fwd *f = c->fwd;

	if (f == NULL)
		return;
	t->c_rd += f->c_rd;
	t->c_wr += f->c_wr;
	t->r_rd += f->r_rd;
	t->r_wr += f->r_wr;
}

/* Both directions are complete: log, park or close the upstream, and
 * wait for the next request or close. */
static void fwd_finish(struct conn *c)
{
	struct http_fwd *f = c->fwd;
	bool keep_client = f->rsp_keep && f->req.done && !c->wk->offline;
	bool req_done = f->req.done;

	task_set_reason(&c->task, TASK_R_FINISHED, "");
	c->task.message = NULL;
	http_fwd_counts(c);
	conn_task_log(c);
	if (f->up_reusable && f->req.done && !c->up.eof && escape_poolable(c->srv->escaper) &&
	    c->up.ssl == NULL && escape_proxy_poolable(c, f->th.reuse_connection)) {
		struct uppool_conn uc = {conn_up_detach(c), c->task.bound, c->task.peer};
		uppool_put(c->wk, c->srv->escaper->name, c->host, c->port, &uc,
			   c->srv->u.http.http_forward_upstream_keepalive.idle_expire_ms);
	} else {
		conn_up_close(c);
	}
	/* the exchange is over: its state (and buffers) go back to the pools */
	fwd_put(c);
	if (!keep_client) {
		/* lingering (shut, drain, close) keeps an RST from cutting the
		 * response short while the client may still be sending; a
		 * complete request with nothing after it (the client is watched
		 * all along) closes at once, as nginx does */
		if (req_done && buf_empty(&c->in) && !(c->cl.ready & EV_READ) &&
		    c->cl.ssl == NULL && !conn_reply_pending(c))
			conn_close(c);
		else
			conn_linger(c);
		return;
	}
	conn_http_next(c);
}

int http_fwd_run(struct conn *c)
{
	struct http_fwd *f = c->fwd;

	for (int round = 0; round < 16; round++) {
		int a = step_req(c, f), b;

		if (a < 0 || c->closing || c->state != CONN_ST_HTTP_FWD)
			return c->closing ? CONN_WAIT : CONN_AGAIN;
		b = step_rsp(c, f);
		if (b < 0 || c->closing || c->state != CONN_ST_HTTP_FWD)
			return c->closing ? CONN_WAIT : CONN_AGAIN;
		if (f->rsp.done && buf_empty(&f->cout)) {
			if (f->upgrade) {
				/* 101: the bytes both ways are the new protocol's */
				http_fwd_counts(c);
				c->relay.c2u.in += buf_len(&c->in);
				c->task.ready_ns = util_mono_ns();
				c->cl.ready |= EV_READ | EV_WRITE;
				c->up.ready |= EV_READ | EV_WRITE;
				conn_set_state(c, CONN_ST_RELAY);
				return CONN_AGAIN;
			}
			if (f->req.done) {
				fwd_finish(c);
				return CONN_AGAIN;
			}
			/* answered before the request body ended: neither side
			 * can be reused (the rest of the body is unaccounted) */
			f->rsp_keep = false;
			f->up_reusable = false;
			fwd_finish(c);
			return CONN_AGAIN;
		}
		if (f->upgrade && f->rsp_head_done && buf_empty(&f->cout) && buf_empty(&f->uin) &&
		    !c->up.eof) {
			f->rsp.done = true; /* switch now; later bytes go through the relay */
			continue;
		}
		if (a == 0 && b == 0)
			break;
	}
	return CONN_WAIT;
}

void http_fwd_interest(const struct conn *c, int *cl, int *up)
{
	const struct http_fwd *f = c->fwd;

	if (f->uout_off < buf_len(&f->uout))
		*up |= EV_WRITE;
	if (f->uout_off >= buf_len(&f->uout) && !f->req.done) {
		if (!buf_empty(&c->in)) {
			if (!speed_blocked(&c->speed, SPEED_CL_RD | SPEED_UP_WR))
				*up |= EV_WRITE;
		} else if (!c->cl.eof) {
			*cl |= EV_READ;
		}
	} else if (f->req.done && !c->cl.eof && !buf_full(&c->in)) {
		*cl |= EV_READ; /* step_req() buffers what comes */
	}
	if (!f->rsp.done && !c->up.eof && !buf_full(&f->uin) && !c->relay.u2c.full &&
	    !(f->rsp_head_done && f->rsp.kind == HTTP_BODY_LENGTH &&
	      pipebuf_len(&c->relay.u2c.pb) >= f->rsp.left) &&
	    !speed_blocked(&c->speed, SPEED_UP_RD))
		*up |= EV_READ;
	if (!buf_empty(&f->cout) ||
	    (f->rsp_head_done && (!buf_empty(&f->uin) || !pipebuf_empty(&c->relay.u2c.pb)) &&
	     !speed_blocked(&c->speed, SPEED_CL_WR)))
		*cl |= EV_WRITE;
}

void http_fwd_timeout(struct conn *c)
{
	struct http_fwd *f = c->fwd;
	uint64_t moved;

	if (!f->rsp_head_done) {
		fwd_fail(c, 504, TASK_R_UPSTREAM_APP_TIMEOUT, "response head timeout");
		return;
	}
	moved = f->c_rd + f->c_wr + f->r_rd + f->r_wr;
	if (moved != f->idle_mark) {
		f->idle_mark = moved;
		f->idle_count = 0;
		return;
	}
	if (++f->idle_count >= conn_user_idle_max(c)) {
		task_set_reason(&c->task, TASK_R_IDLE, "idle");
		conn_close(c);
	}
}

void http_fwd_free(struct conn *c)
{
	struct http_fwd *f = c->fwd;

	if (f == NULL)
		return;
	fwd_put(c);
}
