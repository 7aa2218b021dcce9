/* TLS handshake runner: each request is a new TCP connection and a full or
 * resumed handshake (RFC 8446 / 5246); its latency covers connect and
 * handshake. With TLS 1.3 the session ticket arrives after the handshake,
 * so the connection stays open (not counted in the latency) until one
 * comes, within --timeout and at most 1 s, so that the next handshake can
 * resume; a task that waited in vain does not wait again. */
#include "tools/bench/bench.h"

static void ssl_conn_done(struct task *t)
{
	task_close(t); /* sends close_notify */
	t->st = TASK_ST_IDLE;
}

static bool ssl_wait_ticket(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;

	for (;;) {
		uint8_t buf[256];
		ssize_t n;

		if (o->no_session_cache || t->got_ticket || t->no_ticket_wait ||
		    SSL_version(t->ssl_outer) < TLS1_3_VERSION) {
			ssl_conn_done(t);
			return true;
		}
		n = task_read(t, buf, sizeof(buf));
		if (n == TASK_IO_WANT_READ) {
			task_want(t, EV_READ);
			return false;
		}
		if (n == TASK_IO_WANT_WRITE) {
			task_want(t, EV_WRITE);
			return false;
		}
		if (n <= 0) {
			ssl_conn_done(t);
			return true;
		}
		/* Application data from a TLS server: ignore it. */
	}
}

static bool ssl_step(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;

	switch (t->st) {
	case TASK_ST_IDLE:
		if (task_begin(t) <= 0)
			return false;
		task_connect(t);
		return false;
	case TASK_ST_CONNECTING:
		if (task_connect_done(t) <= 0)
			return false;
		if (task_tls_start(t, false) < 0) {
			task_fail(t, BENCH_ERR_TLS, "cannot create a TLS session");
			return false;
		}
		t->deadline_ns = util_mono_ns() + o->timeout_ns;
		t->st = TASK_ST_TLS;
		return true;
	case TASK_ST_TLS:
		if (task_tls_handshake(t, "TLS handshake") <= 0)
			return false;
		t->last_end_ns = util_mono_ns();
		hist_record(t->w->st.lat, t->last_end_ns - t->req_start_ns);
		t->w->st.ok++;
		t->in_request = false;
		t->st = TASK_ST_TICKET;
		t->deadline_ns = util_mono_ns() + MIN(o->timeout_ns, BENCH_TICKET_WAIT_NS);
		return ssl_wait_ticket(t);
	case TASK_ST_TICKET:
		return ssl_wait_ticket(t);
	default:
		return false;
	}
}

void ssl_task_run(struct task *t)
{
	while (ssl_step(t))
		;
}
