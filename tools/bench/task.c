/* Connection plumbing shared by the h1 and ssl runners: non-blocking TCP
 * connect, the transport stack (socket, TLS to the proxy, TLS to the target
 * over it through a BIO that writes into the outer SSL), request claiming
 * with the rate limiter, failure accounting. */
#include "tools/bench/bench.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

static const char *const err_names[BENCH_ERR__N] = {
	[BENCH_ERR_CONNECT] = "connect", [BENCH_ERR_PROXY] = "proxy",
	[BENCH_ERR_TIMEOUT] = "timeout", [BENCH_ERR_TLS] = "tls",
	[BENCH_ERR_PROTO] = "proto",	 [BENCH_ERR_STATUS] = "status",
	[BENCH_ERR_IO] = "io",
};

const char *bench_err_name(enum bench_err e)
{
	return (unsigned)e < BENCH_ERR__N ? err_names[e] : "?";
}

void task_want(struct task *t, int events)
{
	if (t->io_events == events)
		return;
	if (t->io_events)
		ev_io_stop(t->w->loop, &t->io);
	t->io_events = events;
	if (events) {
		ev_io_set(&t->io, t->fd, events);
		ev_io_start(t->w->loop, &t->io);
	}
}

static void task_fail_errno(struct task *t, int err)
{
	char what[128];

	snprintf(what, sizeof(what), "connect: %s", strerror(err));
	task_fail(t, BENCH_ERR_CONNECT, what);
}

void task_connect(struct task *t)
{
	const struct bench_opts *o = &t->w->b->o;
	int fd, one = 1;

	t->w->st.conn_attempt++;
	fd = socket(o->peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		task_fail_errno(t, errno);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&o->peer, o->peer_len) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		task_fail_errno(t, e);
		return;
	}
	t->fd = fd;
	t->st = TASK_ST_CONNECTING;
	t->deadline_ns = util_mono_ns() + o->connect_timeout_ns;
	task_want(t, EV_WRITE);
}

int task_connect_done(struct task *t)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return 0;
	if (err) {
		task_fail_errno(t, err);
		return -1;
	}
	t->w->st.conn_ok++;
	return 1;
}

void task_close(struct task *t)
{
	struct bench_stats *st = &t->w->st;

	task_want(t, 0);
	/* OpenSSL marks the session of a connection freed without a
	 * shutdown as not resumable: send close_notify (best effort, the
	 * socket is non-blocking) after every completed handshake. */
	if (t->ssl_inner && SSL_is_init_finished(t->ssl_inner))
		(void)SSL_shutdown(t->ssl_inner);
	if (t->ssl_outer && SSL_is_init_finished(t->ssl_outer))
		(void)SSL_shutdown(t->ssl_outer);
	if (t->ssl_inner) {
		SSL_free(t->ssl_inner);
		t->ssl_inner = NULL;
	}
	if (t->ssl_outer) {
		BIO *r = SSL_get_rbio(t->ssl_outer), *w = SSL_get_wbio(t->ssl_outer);

		if (r)
			st->bytes_in += BIO_number_read(r);
		if (w)
			st->bytes_out += BIO_number_written(w);
		SSL_free(t->ssl_outer);
		t->ssl_outer = NULL;
	}
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	t->rlen = 0;
	t->in_body = false;
	t->reqs_on_conn = 0;
	t->socks_step = 0;
	t->got_ticket = false;
	t->deadline_ns = 0;
	ERR_clear_error();
}

static SSL *task_top_ssl(const struct task *t)
{
	return t->ssl_inner ? t->ssl_inner : t->ssl_outer;
}

static ssize_t task_ssl_result(SSL *ssl, int r)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		return TASK_IO_WANT_READ;
	case SSL_ERROR_WANT_WRITE:
		return TASK_IO_WANT_WRITE;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0)
			return errno ? -errno : 0; /* EOF without close_notify */
		return TASK_IO_TLS_ERR;
	default:
		return TASK_IO_TLS_ERR;
	}
}

ssize_t task_read(struct task *t, void *buf, size_t n)
{
	SSL *ssl = task_top_ssl(t);
	ssize_t r;

	if (ssl) {
		int k;

		errno = 0;
		k = SSL_read(ssl, buf, (int)MIN(n, (size_t)INT32_MAX));
		return k > 0 ? k : task_ssl_result(ssl, k);
	}
	r = read(t->fd, buf, n);
	if (r > 0) {
		t->w->st.bytes_in += (uint64_t)r;
		return r;
	}
	if (r == 0)
		return 0;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return TASK_IO_WANT_READ;
	return -errno;
}

ssize_t task_write(struct task *t, const void *buf, size_t n)
{
	SSL *ssl = task_top_ssl(t);
	ssize_t r;

	if (ssl) {
		int k;

		errno = 0;
		k = SSL_write(ssl, buf, (int)MIN(n, (size_t)INT32_MAX));
		if (k > 0)
			return k;
		r = task_ssl_result(ssl, k);
		return r == 0 ? -EPIPE : r;
	}
	r = send(t->fd, buf, n, MSG_NOSIGNAL);
	if (r >= 0) {
		t->w->st.bytes_out += (uint64_t)r;
		return r;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return TASK_IO_WANT_WRITE;
	return -errno;
}

/* ---- TLS inside TLS: a BIO whose reads and writes go through an SSL ---- */

static BIO_METHOD *tls_over_tls_meth;
static pthread_once_t tls_over_tls_once = PTHREAD_ONCE_INIT;

static int tot_write(BIO *bio, const char *buf, int len)
{
	SSL *outer = BIO_get_data(bio);
	int r;

	BIO_clear_retry_flags(bio);
	r = SSL_write(outer, buf, len);
	if (r > 0)
		return r;
	switch (SSL_get_error(outer, r)) {
	case SSL_ERROR_WANT_READ:
		BIO_set_retry_read(bio);
		break;
	case SSL_ERROR_WANT_WRITE:
		BIO_set_retry_write(bio);
		break;
	default:
		break;
	}
	return -1;
}

static int tot_read(BIO *bio, char *buf, int len)
{
	SSL *outer = BIO_get_data(bio);
	int r;

	BIO_clear_retry_flags(bio);
	r = SSL_read(outer, buf, len);
	if (r > 0)
		return r;
	switch (SSL_get_error(outer, r)) {
	case SSL_ERROR_WANT_READ:
		BIO_set_retry_read(bio);
		return -1;
	case SSL_ERROR_WANT_WRITE:
		BIO_set_retry_write(bio);
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		return -1;
	}
}

static long tot_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
	(void)bio;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int tot_create(BIO *bio)
{
	BIO_set_init(bio, 1);
	return 1;
}

static void tot_meth_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tls-over-tls");

	ASSERT(m != NULL);
	BIO_meth_set_write(m, tot_write);
	BIO_meth_set_read(m, tot_read);
	BIO_meth_set_ctrl(m, tot_ctrl);
	BIO_meth_set_create(m, tot_create);
	tls_over_tls_meth = m;
}

/* ---- sessions ---- */

static int task_on_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct task *t = SSL_get_app_data(ssl);
	SSL_SESSION **slot;

	if (!t || t->magic != TASK_MAGIC || t->w->b->o.no_session_cache)
		return 0;
	slot = (ssl == t->ssl_outer && t->ssl_outer && t->w->b->o.has_proxy &&
		t->w->b->o.proxy.scheme == URL_SCHEME_HTTPS)
		       ? &t->proxy_sess
		       : &t->sess;
	if (*slot)
		SSL_SESSION_free(*slot);
	*slot = sess;
	if (slot == &t->sess)
		t->got_ticket = true;
	return 1; /* we keep the reference */
}

void task_tls_ctx_setup(SSL_CTX *ctx)
{
	SSL_CTX_set_session_cache_mode(ctx,
				       SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, task_on_new_session);
}

int task_tls_start(struct task *t, bool proxy)
{
	const struct bench_opts *o = &t->w->b->o;
	SSL *ssl = SSL_new(proxy ? o->proxy_tls_ctx : o->tls_ctx);
	const char *name;
	bool insecure, is_ip;
	SSL_SESSION *sess;

	if (!ssl)
		return -ENOMEM;
	SSL_set_app_data(ssl, t);
	if (t->ssl_outer) {
		BIO *bio;

		pthread_once(&tls_over_tls_once, tot_meth_init);
		bio = BIO_new(tls_over_tls_meth);
		if (!bio) {
			SSL_free(ssl);
			return -ENOMEM;
		}
		BIO_set_data(bio, t->ssl_outer);
		SSL_set_bio(ssl, bio, bio);
	} else if (SSL_set_fd(ssl, t->fd) != 1) {
		SSL_free(ssl);
		return -ENOMEM;
	}
	if (proxy) {
		name = o->proxy_tls_name ? o->proxy_tls_name : o->proxy.host;
		insecure = o->proxy_insecure;
		sess = t->proxy_sess;
	} else {
		name = o->tls_name ? o->tls_name : o->target.host;
		insecure = o->insecure;
		sess = t->sess;
	}
	{
		struct url tmp;

		snprintf(tmp.host, sizeof(tmp.host), "%s", name);
		is_ip = url_host_is_ip(&tmp);
	}
	if (!insecure) {
		if (is_ip)
			(void)X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name);
		else
			(void)SSL_set1_host(ssl, name);
	}
	if (!is_ip && !(!proxy && o->no_sni))
		(void)SSL_set_tlsext_host_name(ssl, name);
	if (sess && !o->no_session_cache)
		(void)SSL_set_session(ssl, sess);
	SSL_set_connect_state(ssl);
	if (t->ssl_outer)
		t->ssl_inner = ssl;
	else
		t->ssl_outer = ssl;
	return 0;
}

static int task_tls_step(struct task *t)
{
	SSL *ssl = task_top_ssl(t);
	int r;
	ssize_t e;

	errno = 0;
	r = SSL_do_handshake(ssl);
	if (r == 1) {
		bool target = t->ssl_inner || !(t->w->b->o.has_proxy &&
						t->w->b->o.proxy.scheme == URL_SCHEME_HTTPS);

		if (target) {
			t->w->st.tls_handshakes++;
			if (SSL_session_reused(ssl))
				t->w->st.tls_resumed++;
		}
		return 0;
	}
	e = task_ssl_result(ssl, r);
	if (e == 0)
		return -ECONNRESET;
	return (int)e;
}

int task_tls_handshake(struct task *t, const char *what)
{
	int r = task_tls_step(t);

	if (r == TASK_IO_WANT_READ || r == TASK_IO_WANT_WRITE) {
		task_want(t, r == TASK_IO_WANT_READ ? EV_READ : EV_WRITE);
		return 0;
	}
	if (r < 0) {
		task_fail(t, BENCH_ERR_TLS, what);
		return -1;
	}
	return 1;
}

/* ---- requests ---- */

bool task_claim(struct task *t)
{
	struct bench *b = t->w->b;

	if (atomic_load_explicit(&b->stop, memory_order_relaxed))
		return false;
	if (b->o.requests) {
		uint64_t n = atomic_fetch_add_explicit(&b->issued, 1, memory_order_relaxed);

		if (n >= b->o.requests)
			return false;
	}
	return true;
}

void task_count_fail(struct task *t, enum bench_err e, const char *what)
{
	struct bench *b = t->w->b;
	unsigned left;

	t->w->st.failed++;
	t->w->st.err[e]++;
	left = atomic_load_explicit(&b->log_left, memory_order_relaxed);
	while (left > 0) {
		if (atomic_compare_exchange_weak(&b->log_left, &left, left - 1)) {
			unsigned long ossl = ERR_peek_error();
			char ebuf[256] = "";

			if (ossl)
				ERR_error_string_n(ossl, ebuf, sizeof(ebuf));
			fprintf(stderr, "g3bench: request failed (%s): %s%s%s\n", bench_err_name(e),
				what, ossl ? ": " : "", ebuf);
			break;
		}
	}
}

void task_run(struct task *t)
{
	if (t->w->b->o.kind == BENCH_SSL)
		ssl_task_run(t);
	else
		h1_task_run(t);
}
