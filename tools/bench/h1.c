/* HTTP/1.1 request runner: connect (directly or to the proxy), optional TLS
 * to the proxy, tunnel set-up (CONNECT or SOCKS5, RFC 1928/1929), optional
 * TLS to the target, then request/response rounds on the connection until
 * the budget ends or the connection cannot be reused. */
#include "tools/bench/bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Each step returns true when the state changed and the loop should go on,
 * false when the task waits for an event. */

static bool h1_after_tunnel(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;

	if (o->target.scheme == URL_SCHEME_HTTPS) {
		if (task_tls_start(t, false) < 0) {
			task_fail(t, BENCH_ERR_TLS, "cannot create a TLS session");
			return false;
		}
		t->st = TASK_ST_TLS;
	} else {
		t->st = TASK_ST_SEND;
		t->wpos = 0;
	}
	return true;
}

/* The next SOCKS5 message into t->hs. */
static void socks_build(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;
	uint8_t *p = t->hs;

	if (t->socks_step == 0) {
		*p++ = 5;
		*p++ = 1;
		*p++ = o->proxy.has_cred ? 2 : 0;
	} else if (t->socks_step == 1) {
		size_t ul = strlen(o->proxy.user), pl = strlen(o->proxy.pass);

		*p++ = 1;
		*p++ = (uint8_t)ul;
		memcpy(p, o->proxy.user, ul);
		p += ul;
		*p++ = (uint8_t)pl;
		memcpy(p, o->proxy.pass, pl);
		p += pl;
	} else {
		*p++ = 5;
		*p++ = 1;
		*p++ = 0;
		if (o->proxy.scheme == URL_SCHEME_SOCKS5H) {
			size_t hl = strlen(o->target.host);

			*p++ = 3;
			*p++ = (uint8_t)hl;
			memcpy(p, o->target.host, hl);
			p += hl;
		} else if (o->target_addr.ss_family == AF_INET6) {
			const struct sockaddr_in6 *a = (const void *)&o->target_addr;

			*p++ = 4;
			memcpy(p, &a->sin6_addr, 16);
			p += 16;
		} else {
			const struct sockaddr_in *a = (const void *)&o->target_addr;

			*p++ = 1;
			memcpy(p, &a->sin_addr, 4);
			p += 4;
		}
		*p++ = (uint8_t)(o->target.port >> 8);
		*p++ = (uint8_t)o->target.port;
	}
	t->hs_len = (size_t)(p - t->hs);
	t->wpos = 0;
}

static bool h1_start_tunnel(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;

	if (!o->tunnel)
		return h1_after_tunnel(t);
	t->socks_step = 0;
	t->wpos = 0;
	if (o->proxy.scheme == URL_SCHEME_SOCKS5 || o->proxy.scheme == URL_SCHEME_SOCKS5H)
		socks_build(t);
	t->st = TASK_ST_PROXY_SEND;
	return true;
}

static bool h1_connecting(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;

	if (task_connect_done(t) <= 0)
		return false;
	if (o->has_proxy && o->proxy.scheme == URL_SCHEME_HTTPS) {
		if (task_tls_start(t, true) < 0) {
			task_fail(t, BENCH_ERR_TLS, "cannot create a TLS session");
			return false;
		}
		t->st = TASK_ST_PROXY_TLS;
		return true;
	}
	return h1_start_tunnel(t);
}

static bool h1_tls(struct task *t, bool proxy)
{
	if (task_tls_handshake(t, proxy ? "TLS handshake with the proxy"
					: "TLS handshake with the target") <= 0)
		return false;
	return proxy ? h1_start_tunnel(t) : (t->st = TASK_ST_SEND, t->wpos = 0, true);
}

/* A reused connection that the server closed while idle (keep-alive
 * timeout, request limit without "Connection: close") fails the first
 * write or read of the next request before any response byte: reconnect
 * and send it again, once (the fresh connection has reqs_on_conn 0). */
static bool h1_stale(const struct task *t, ssize_t n)
{
	return t->reqs_on_conn > 0 && !t->in_body && t->rlen == 0 &&
	       (n == 0 || n == -ECONNRESET || n == -EPIPE);
}

static void h1_reconnect(struct task *t)
{
	task_close(t);
	task_connect(t);
}

/* Write data[wpos..len); true when all of it is out. */
static bool h1_write_all(struct task *t, const void *data, size_t len, bool *failed)
{
	*failed = false;
	while (t->wpos < len) {
		ssize_t n = task_write(t, (const uint8_t *)data + t->wpos, len - t->wpos);

		if (n > 0) {
			t->wpos += (size_t)n;
			continue;
		}
		if (n == TASK_IO_WANT_WRITE) {
			task_want(t, EV_WRITE);
			return false;
		}
		if (n == TASK_IO_WANT_READ) {
			task_want(t, EV_READ);
			return false;
		}
		*failed = true;
		if (h1_stale(t, n))
			h1_reconnect(t);
		else
			task_fail(t, n == TASK_IO_TLS_ERR ? BENCH_ERR_TLS : BENCH_ERR_IO,
				  "write failed");
		return false;
	}
	return true;
}

/* Make room in rbuf: allocated on first use at BENCH_RBUF_INIT (a task
 * costs little memory at high concurrency), grown once to BENCH_RBUF_SIZE
 * for a large head. False (request failed) when full at the maximum. */
static bool h1_rbuf_room(struct task *t, const char *too_big)
{
	size_t want;
	uint8_t *p;

	if (t->rbuf && t->rlen < t->rcap)
		return true;
	if (t->rcap >= BENCH_RBUF_SIZE) {
		task_fail(t, BENCH_ERR_PROTO, too_big);
		return false;
	}
	want = t->rbuf ? BENCH_RBUF_SIZE : BENCH_RBUF_INIT;
	p = realloc(t->rbuf, want);
	if (!p) {
		task_fail(t, BENCH_ERR_IO, "out of memory");
		return false;
	}
	t->rbuf = p;
	t->rcap = want;
	return true;
}

/* Read more into rbuf: > 0 bytes, 0 EOF, < 0 when waiting or failed
 * (already handled: *failed says which; too_big names a full buffer). */
static ssize_t h1_read_more(struct task *t, const char *too_big, bool *failed)
{
	ssize_t n;

	*failed = false;
	if (!h1_rbuf_room(t, too_big)) {
		*failed = true;
		return -1;
	}
	n = task_read(t, t->rbuf + t->rlen, t->rcap - t->rlen);
	if (n > 0) {
		t->rlen += (size_t)n;
		return n;
	}
	if (n == 0)
		return 0;
	if (n == TASK_IO_WANT_READ) {
		task_want(t, EV_READ);
		return -1;
	}
	if (n == TASK_IO_WANT_WRITE) {
		task_want(t, EV_WRITE);
		return -1;
	}
	*failed = true;
	if (h1_stale(t, n))
		h1_reconnect(t);
	else if (n == TASK_IO_TLS_ERR)
		task_fail(t, BENCH_ERR_TLS, "TLS read failed");
	else
		task_fail(t, BENCH_ERR_IO, strerror((int)-n));
	return -1;
}

static bool h1_proxy_send(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;
	bool failed, socks = o->proxy.scheme == URL_SCHEME_SOCKS5 ||
			     o->proxy.scheme == URL_SCHEME_SOCKS5H;

	if (!h1_write_all(t, socks ? (const void *)t->hs : o->proxy_hs,
			  socks ? t->hs_len : o->proxy_hs_len, &failed))
		return false;
	t->st = TASK_ST_PROXY_RECV;
	t->rlen = 0;
	return true;
}

/* SOCKS5 reply in rbuf: 1 done with this step, 0 need more, -1 failed. */
static int socks_reply(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;
	const uint8_t *r = t->rbuf;
	size_t need;

	if (t->socks_step == 0 || t->socks_step == 1) {
		if (t->rlen < 2)
			return 0;
		if (t->socks_step == 0) {
			if (r[0] != 5 || r[1] != (o->proxy.has_cred ? 2 : 0)) {
				task_fail(t, BENCH_ERR_PROXY, "SOCKS5 method refused");
				return -1;
			}
			t->socks_step = o->proxy.has_cred ? 1 : 2;
		} else {
			if (r[0] != 1 || r[1] != 0) {
				task_fail(t, BENCH_ERR_PROXY, "SOCKS5 authentication refused");
				return -1;
			}
			t->socks_step = 2;
		}
		need = 2;
	} else {
		if (t->rlen < 5)
			return 0;
		if (r[0] != 5 || r[2] != 0) {
			task_fail(t, BENCH_ERR_PROTO, "malformed SOCKS5 reply");
			return -1;
		}
		if (r[1] != 0) {
			char what[64];

			snprintf(what, sizeof(what), "SOCKS5 connect refused (reply %u)", r[1]);
			task_fail(t, BENCH_ERR_PROXY, what);
			return -1;
		}
		need = r[3] == 1 ? 10 : r[3] == 4 ? 22 : r[3] == 3 ? 7u + r[4] : 0;
		if (need == 0) {
			task_fail(t, BENCH_ERR_PROTO, "malformed SOCKS5 reply");
			return -1;
		}
		if (t->rlen < need)
			return 0;
		t->socks_step = 3;
	}
	if (t->rlen != need) {
		task_fail(t, BENCH_ERR_PROTO, "unexpected bytes after a SOCKS5 reply");
		return -1;
	}
	t->rlen = 0;
	return 1;
}

static int connect_reply(struct task *t)
{
	struct h1_head h;
	enum parse_res pr = h1_head_parse(slice_make(t->rbuf, t->rlen), true, BENCH_RBUF_SIZE, &h);

	if (pr == PARSE_AGAIN)
		return 0;
	if (pr != PARSE_OK) {
		task_fail(t, BENCH_ERR_PROTO, "malformed CONNECT reply");
		return -1;
	}
	if (h.status < 200 || h.status > 299) {
		char what[64];

		snprintf(what, sizeof(what), "CONNECT refused with status %d", h.status);
		task_fail(t, BENCH_ERR_PROXY, what);
		return -1;
	}
	if (t->rlen != h.head_len) {
		task_fail(t, BENCH_ERR_PROTO, "unexpected bytes after the CONNECT reply");
		return -1;
	}
	t->rlen = 0;
	return 1;
}

static bool h1_proxy_recv(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;
	bool socks = o->proxy.scheme == URL_SCHEME_SOCKS5 || o->proxy.scheme == URL_SCHEME_SOCKS5H;

	for (;;) {
		bool failed;
		ssize_t n;
		int r;

		n = h1_read_more(t, "proxy reply too big", &failed);
		if (n < 0)
			return false;
		if (n == 0) {
			task_fail(t, BENCH_ERR_PROXY, "the proxy closed the connection");
			return false;
		}
		r = socks ? socks_reply(t) : connect_reply(t);
		if (r < 0)
			return false;
		if (r == 0)
			continue;
		if (socks && t->socks_step < 3) {
			socks_build(t);
			t->st = TASK_ST_PROXY_SEND;
			return true;
		}
		return h1_after_tunnel(t);
	}
}

static bool h1_send(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;
	bool failed;

	if (t->wpos == 0)
		t->deadline_ns = util_mono_ns() + o->timeout_ns;
	if (!h1_write_all(t, o->request, o->request_len, &failed))
		return false;
	hist_record(t->w->st.send_all, util_mono_ns() - t->req_start_ns);
	t->st = TASK_ST_RECV;
	t->rlen = 0;
	t->in_body = false;
	/* The answer cannot be there yet: wait instead of a read that
	 * would say EAGAIN (one syscall per request saved). */
	task_want(t, EV_READ);
	return false;
}

static bool h1_complete(struct task *t, bool must_close)
{
	const struct bench_opts *o = &t->w->b->o;
	struct bench_stats *st = &t->w->st;
	int cls = t->head.status / 100;

	t->last_end_ns = util_mono_ns();
	hist_record(st->lat, t->last_end_ns - t->req_start_ns);
	st->status_class[cls]++;
	t->in_request = false;
	t->deadline_ns = 0;
	t->reqs_on_conn++;
	if (o->ok_status ? t->head.status == o->ok_status : cls == 2 || cls == 3) {
		st->ok++;
	} else {
		char what[64];

		snprintf(what, sizeof(what), "status %d", t->head.status);
		task_count_fail(t, BENCH_ERR_STATUS, what);
	}
	if (must_close || t->head.conn_close || !o->keepalive)
		task_close(t);
	t->st = TASK_ST_IDLE;
	return true;
}

/* Parse what rbuf holds: 1 response complete, 0 need more, -1 failed. */
static int h1_consume(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;
	size_t off = 0, used;
	enum parse_res pr;

	while (!t->in_body) {
		pr = h1_head_parse(slice_make(t->rbuf, t->rlen), o->head_request, BENCH_RBUF_SIZE,
				   &t->head);
		if (pr == PARSE_AGAIN)
			return 0;
		if (pr != PARSE_OK) {
			task_fail(t, BENCH_ERR_PROTO,
				  pr == PARSE_TOO_BIG ? "response head too big"
						      : "malformed response head");
			return -1;
		}
		if (t->head.status >= 200 || t->head.status == 101) {
			hist_record(t->w->st.recv_hdr, util_mono_ns() - t->req_start_ns);
			h1_body_init(&t->body, &t->head);
			t->in_body = true;
			off = t->head.head_len;
			break;
		}
		/* Interim 1xx: drop it, the final response follows. */
		memmove(t->rbuf, t->rbuf + t->head.head_len, t->rlen - t->head.head_len);
		t->rlen -= t->head.head_len;
	}
	pr = h1_body_feed(&t->body, slice_make(t->rbuf + off, t->rlen - off), &used);
	if (pr == PARSE_AGAIN) {
		t->rlen = 0;
		return 0;
	}
	if (pr != PARSE_OK) {
		task_fail(t, BENCH_ERR_PROTO, "malformed chunked body");
		return -1;
	}
	if (off + used != t->rlen) {
		task_fail(t, BENCH_ERR_PROTO, "unexpected bytes after the response");
		return -1;
	}
	t->rlen = 0;
	return 1;
}

static bool h1_recv(struct task *t)
{
	for (;;) {
		bool failed;
		ssize_t n;
		int r;

		n = h1_read_more(t, "response head too big", &failed);
		if (n < 0)
			return false;
		if (n == 0) {
			if (t->in_body && t->body.kind == H1_BODY_EOF)
				return h1_complete(t, true);
			if (h1_stale(t, 0))
				h1_reconnect(t);
			else if (!t->in_body && t->rlen == 0)
				task_fail(t, BENCH_ERR_IO, "connection closed before a response");
			else
				task_fail(t, BENCH_ERR_PROTO, "connection closed mid-response");
			return false;
		}
		r = h1_consume(t);
		if (r < 0)
			return false;
		if (r > 0)
			return h1_complete(t, false);
	}
}

static bool h1_idle(struct task *t)
{
	int r = task_begin(t);

	if (r <= 0)
		return false;
	if (t->fd >= 0) {
		t->st = TASK_ST_SEND;
		t->wpos = 0;
		return true;
	}
	task_connect(t);
	return false; /* wait for writability (or the task failed) */
}

void h1_task_run(struct task *t)
{
	bool more = true;

	while (more) {
		switch (t->st) {
		case TASK_ST_IDLE:
			more = h1_idle(t);
			break;
		case TASK_ST_CONNECTING:
			more = h1_connecting(t);
			break;
		case TASK_ST_PROXY_TLS:
			more = h1_tls(t, true);
			break;
		case TASK_ST_PROXY_SEND:
			more = h1_proxy_send(t);
			break;
		case TASK_ST_PROXY_RECV:
			more = h1_proxy_recv(t);
			break;
		case TASK_ST_TLS:
			more = h1_tls(t, false);
			break;
		case TASK_ST_SEND:
			more = h1_send(t);
			break;
		case TASK_ST_RECV:
			more = h1_recv(t);
			break;
		case TASK_ST_RATE_WAIT:
		case TASK_ST_TICKET:
		case TASK_ST_DONE:
			more = false;
			break;
		}
	}
}
