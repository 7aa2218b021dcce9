/* g3bench internals: options, per-thread workers, statistics and the
 * connection tasks that h1.c and ssl.c drive. One struct bench per run,
 * one struct worker (libev loop, thread) per -j, one struct task per unit
 * of concurrency. Nothing here is shared between threads except the
 * atomics of struct bench. */
#ifndef G3C_TOOLS_BENCH_BENCH_H
#define G3C_TOOLS_BENCH_BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <ev.h>
#include <openssl/ssl.h>

#include "common/hist.h"
#include "common/util.h"
#include "tools/bench/h1_parse.h"

/* Latency histograms: ns up to 2^40 - 1 (18 minutes), within 1/2048. */
#define BENCH_HIST_SUB_BITS 10
#define BENCH_HIST_VALUE_BITS 40
#include "tools/bench/url.h"

enum bench_kind {
	BENCH_H1 = 0,
	BENCH_SSL,
};

/* Why a request failed; each failed request counts under exactly one. */
enum bench_err {
	BENCH_ERR_CONNECT = 0, /* TCP connect refused, unreachable, ... */
	BENCH_ERR_PROXY,       /* the proxy refused the tunnel or handshake */
	BENCH_ERR_TIMEOUT,     /* --connect-timeout or --timeout elapsed */
	BENCH_ERR_TLS,	       /* handshake or verification failure */
	BENCH_ERR_PROTO,       /* malformed or truncated response */
	BENCH_ERR_STATUS,      /* a well-formed response with status not 2xx/3xx */
	BENCH_ERR_IO,	       /* reset or close before any response byte */
	BENCH_ERR__N,
};

/* Name of an error kind as printed and in JSON ("connect", ...). */
const char *bench_err_name(enum bench_err e);

#define BENCH_MAX_HEADERS 64
#define BENCH_RBUF_SIZE 65536 /* also the largest response head accepted */
#define BENCH_RBUF_INIT 16384 /* first allocation */
#define BENCH_DEFAULT_TIME_NS (UINT64_C(10) * 1000000000) /* neither -n nor -t */
#define BENCH_TICKET_WAIT_NS (UINT64_C(1) * 1000000000)	  /* ssl: longest ticket wait */

struct bench_opts {
	enum bench_kind kind;
	unsigned concurrency; /* -c, >= 1 */
	unsigned threads;     /* -j, 1..concurrency */
	uint64_t requests;    /* -n; 0 = bounded by time only */
	uint64_t time_ns;     /* -t; 0 = bounded by count only */
	double rate;	      /* -r requests/s over all threads; 0 = unlimited */
	uint64_t latency_ns;  /* -l pause between a task's serial requests */
	uint64_t timeout_ns;  /* request (h1) or handshake (ssl) */
	uint64_t connect_timeout_ns;
	bool json;
	bool no_summary;
	unsigned log_error; /* print the first N failures to stderr */

	/* h1 */
	struct url target;
	const char *method;
	const char *headers[BENCH_MAX_HEADERS];
	unsigned n_headers;
	const char *body;
	int ok_status; /* --ok-status: the one status that succeeds; 0 = 2xx/3xx */
	bool keepalive;
	bool has_proxy;
	struct url proxy;
	bool proxy_tunnel; /* CONNECT (always for https targets over http proxies) */
	const char *proxy_cacert;
	bool proxy_insecure;
	const char *proxy_tls_name;

	/* TLS towards the target (h1 https:// and ssl) */
	const char *cacert;
	bool insecure;
	const char *tls_name; /* name to verify and send as SNI */
	bool no_sni;
	bool no_session_cache;

	/* ssl: HOST:PORT parsed into target (scheme https) */
	const char *resolve; /* --resolve host:port:ip */

	/* Derived by bench_prepare(). */
	struct sockaddr_storage peer; /* where TCP connects: proxy or target */
	socklen_t peer_len;
	struct sockaddr_storage target_addr; /* socks5 (not socks5h): resolved target */
	socklen_t target_addr_len;
	bool tunnel;   /* the proxy is asked for a tunnel (CONNECT or SOCKS) */
	char *request; /* the request bytes, owned */
	size_t request_len;
	bool head_request;
	char *proxy_hs; /* CONNECT request, owned (HTTP proxies with tunnel) */
	size_t proxy_hs_len;
	SSL_CTX *tls_ctx;	/* target TLS, owned */
	SSL_CTX *proxy_tls_ctx; /* https proxy, owned */
	char target_label[URL_HOST_MAX + 16];
};

struct bench_stats {
	struct hist *lat;      /* Total: request start to last byte; owned */
	struct hist *send_all; /* h1 SendAll: request start to request written */
	struct hist *recv_hdr; /* h1 RecvHdr: request start to response head */
	uint64_t ok;
	uint64_t failed;
	uint64_t err[BENCH_ERR__N];
	uint64_t status_class[6]; /* [1]..[5]: 1xx..5xx responses */
	uint64_t conn_attempt;
	uint64_t conn_ok;
	uint64_t bytes_out;
	uint64_t bytes_in;
	uint64_t tls_handshakes;
	uint64_t tls_resumed;
};

struct bench {
	struct bench_opts o;
	atomic_uint_fast64_t issued; /* requests claimed so far (for -n) */
	atomic_int stop;	     /* SIGINT or SIGTERM */
	atomic_uint log_left;	     /* --log-error budget */
	uint64_t start_ns;
	uint64_t end_ns;
};

enum task_state {
	TASK_ST_IDLE = 0,   /* no request in progress */
	TASK_ST_RATE_WAIT,  /* waiting for the rate limiter's slot */
	TASK_ST_CONNECTING, /* non-blocking connect */
	TASK_ST_PROXY_TLS,  /* TLS handshake with an https proxy */
	TASK_ST_PROXY_SEND, /* CONNECT request or SOCKS5 message out */
	TASK_ST_PROXY_RECV, /* its reply in */
	TASK_ST_TLS,	    /* TLS handshake with the target */
	TASK_ST_TICKET,	    /* ssl: waiting for a TLS 1.3 session ticket */
	TASK_ST_SEND,	    /* request out */
	TASK_ST_RECV,	    /* response in */
	TASK_ST_DONE,	    /* budget exhausted: this task ends */
};

#define TASK_MAGIC 0x7a5b3e11u
#define WORKER_MAGIC 0x3c9d0a7eu

struct worker;

struct task {
	uint32_t magic;
	struct worker *w;
	enum task_state st;
	int fd;
	ev_io io;
	ev_timer wait;		 /* rate limiter slot */
	int io_events;		 /* events io is started with, 0 = stopped */
	SSL *ssl_outer;		 /* TLS to the proxy (https proxy) or to the target */
	SSL *ssl_inner;		 /* TLS to the target inside TLS to the proxy */
	SSL_SESSION *sess;	 /* last target session, for resumption */
	SSL_SESSION *proxy_sess; /* last proxy session */
	bool got_ticket;	 /* a session arrived on this connection */
	bool no_ticket_wait;	 /* a wait for a ticket expired: the server sends none */
	uint64_t deadline_ns;	 /* 0 = none */
	uint64_t req_start_ns;
	uint64_t last_end_ns; /* when the task's last request ended (-l) */
	bool in_request;      /* a claimed request is in progress */
	unsigned reqs_on_conn;
	int socks_step;
	size_t wpos; /* bytes of the current output already written */
	size_t hs_len;
	uint8_t hs[600]; /* SOCKS5 message being sent */
	uint8_t *rbuf;	 /* rcap bytes, owned; NULL until the first read */
	size_t rcap;
	size_t rlen;
	bool in_body;
	struct h1_head head;
	struct h1_body body;
};

struct worker {
	uint32_t magic;
	struct bench *b;
	struct ev_loop *loop;
	pthread_t tid;
	struct task *tasks;
	unsigned n_tasks;
	unsigned alive;
	ev_timer sweep; /* timeouts, stop flag */
	ev_timer end;	/* time limit */
	double rate;	/* this thread's share of -r */
	uint64_t next_slot_ns;
	struct bench_stats st;
};

/* --- opts.c --- */

/* Parse the command line into o (zeroed by the caller). Returns 0, or -1
 * after printing the reason and usage to stderr; 1 when --help printed the
 * usage to stdout. */
int bench_opts_parse(int argc, char **argv, struct bench_opts *o) MUST_CHECK;

/* Resolve addresses, build the request bytes and TLS contexts. Returns 0
 * or -1 with the reason printed to stderr. */
int bench_prepare(struct bench_opts *o) MUST_CHECK;

/* Release what bench_prepare() made. */
void bench_opts_fini(struct bench_opts *o);

/* --- run.c --- */

/* Run the workers to completion and merge their statistics into *total
 * (whose histograms the caller has made). Returns 0 or -1 when a thread could not
 * start. */
int bench_run(struct bench *b, struct bench_stats *total) MUST_CHECK;

/* --- task.c: connection plumbing shared by h1 and ssl --- */

/* Arm the connection's io watcher for events (EV_READ / EV_WRITE / 0). */
void task_want(struct task *t, int events);

/* Start a new TCP connection to o->peer; sets the connect deadline and
 * waits for writability. When it cannot even start, the task fails
 * (BENCH_ERR_CONNECT with the reason). */
void task_connect(struct task *t);

/* Once a connecting socket is writable: 1 connected (counted in conn_ok),
 * 0 still in progress, -1 refused / unreachable (the task failed with
 * BENCH_ERR_CONNECT and the reason). */
int task_connect_done(struct task *t);

/* Close the connection (if any): SSL objects, watcher, fd; counts the
 * wire bytes of TLS connections. */
void task_close(struct task *t);

/* Results of task_read / task_write beside byte counts. */
#define TASK_IO_WANT_READ (-100001)
#define TASK_IO_WANT_WRITE (-100002)
#define TASK_IO_TLS_ERR (-100003)

/* Read or write through the top transport layer. Returns bytes (> 0),
 * 0 for EOF (read only), TASK_IO_WANT_*, TASK_IO_TLS_ERR or -errno. */
ssize_t task_read(struct task *t, void *buf, size_t n);
ssize_t task_write(struct task *t, const void *buf, size_t n);

/* Begin a TLS layer on the connection: to the proxy (proxy true) or to the
 * target (inside the proxy's TLS when there is one). Returns 0 or -ENOMEM. */
int task_tls_start(struct task *t, bool proxy) MUST_CHECK;

/* Drive the handshake of the top layer: 1 done, 0 waiting (the watcher is
 * armed for what OpenSSL wants), -1 failed (the task failed with
 * BENCH_ERR_TLS and `what`). */
int task_tls_handshake(struct task *t, const char *what);

/* Register the session callbacks on a context made by bench_prepare. */
void task_tls_ctx_setup(SSL_CTX *ctx);

/* Claim the next request: false when the run is over for this task
 * (count reached, time up, stop requested). */
bool task_claim(struct task *t);

/* Count a failure of kind e (and log it while --log-error allows). */
void task_count_fail(struct task *t, enum bench_err e, const char *what);

/* --- run.c: scheduling --- */

/* Begin the next request: claim it (task_claim) and wait for the rate
 * limiter. Returns 1 when it starts now (req_start_ns set), 0 while the
 * task waits for its slot (it runs again then), -1 when the task has
 * finished (state DONE, connection closed). */
int task_begin(struct task *t);

/* Run the task again from the next loop iteration, so that a burst of
 * immediate failures never starves timers and other tasks. */
void task_defer(struct task *t);

/* Count the failure, close the connection, end the request and defer. */
void task_fail(struct task *t, enum bench_err e, const char *what);

/* --- h1.c / ssl.c --- */

/* Drive the task after an event or a state change. */
void h1_task_run(struct task *t);
void ssl_task_run(struct task *t);

/* The task's kind-specific runner. */
void task_run(struct task *t);

/* --- report.c --- */

/* Print the summary (text) or one JSON object to stdout. */
void bench_report(const struct bench *b, const struct bench_stats *s);

/* --- bench.c --- */
int bench_main(int argc, char **argv);

#endif
