/* Workers: one thread and one libev loop each, owning a share of the tasks;
 * a sweep timer enforces deadlines and the stop flag, an end timer the time
 * limit. Statistics stay per worker until the threads are joined. */
#include "tools/bench/bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#define SWEEP_INTERVAL 0.02 /* seconds */

static void task_on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct task *t = container_of(w, struct task, io);

	(void)loop;
	(void)revents;
	CHECK_OBJ(t, TASK_MAGIC);
	task_run(t);
}

static void task_on_wait(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct task *t = container_of(w, struct task, wait);

	(void)loop;
	(void)revents;
	CHECK_OBJ(t, TASK_MAGIC);
	if (t->st == TASK_ST_RATE_WAIT)
		t->st = TASK_ST_IDLE;
	task_run(t);
}

static void task_finish(struct task *t)
{
	struct worker *w = t->w;

	task_close(t);
	ev_timer_stop(w->loop, &t->wait);
	t->in_request = false;
	if (t->st != TASK_ST_DONE) {
		t->st = TASK_ST_DONE;
		if (--w->alive == 0)
			ev_break(w->loop, EVBREAK_ALL);
	}
}

int task_begin(struct task *t)
{
	struct worker *w = t->w;
	uint64_t now;

	if (!t->in_request) {
		if (!task_claim(t)) {
			task_finish(t);
			return -1;
		}
		t->in_request = true;
		if (w->rate > 0 || (w->b->o.latency_ns && t->last_end_ns)) {
			uint64_t slot;

			now = util_mono_ns();
			slot = now;
			if (w->rate > 0) {
				slot = MAX(now, w->next_slot_ns);
				w->next_slot_ns = slot + (uint64_t)(1e9 / w->rate);
			}
			/* -l: a pause between this task's serial requests */
			if (w->b->o.latency_ns && t->last_end_ns)
				slot = MAX(slot, t->last_end_ns + w->b->o.latency_ns);
			if (slot > now + 100000) {
				t->st = TASK_ST_RATE_WAIT;
				ev_timer_set(&t->wait, (double)(slot - now) / 1e9, 0.);
				ev_timer_start(w->loop, &t->wait);
				return 0;
			}
		}
	}
	t->req_start_ns = util_mono_ns();
	return 1;
}

void task_defer(struct task *t)
{
	ev_timer_stop(t->w->loop, &t->wait);
	ev_timer_set(&t->wait, 0., 0.);
	ev_timer_start(t->w->loop, &t->wait);
}

void task_fail(struct task *t, enum bench_err e, const char *what)
{
	task_count_fail(t, e, what);
	task_close(t);
	t->in_request = false;
	t->last_end_ns = util_mono_ns();
	t->st = TASK_ST_IDLE;
	task_defer(t);
}

/* Stop every task now; requests in flight are abandoned, not counted. */
static void worker_end(struct worker *w)
{
	for (unsigned i = 0; i < w->n_tasks; i++)
		task_finish(&w->tasks[i]);
	ev_break(w->loop, EVBREAK_ALL);
}

static void worker_on_end(struct ev_loop *loop, ev_timer *timer, int revents)
{
	struct worker *w = container_of(timer, struct worker, end);

	(void)loop;
	(void)revents;
	CHECK_OBJ(w, WORKER_MAGIC);
	worker_end(w);
}

static void worker_on_sweep(struct ev_loop *loop, ev_timer *timer, int revents)
{
	struct worker *w = container_of(timer, struct worker, sweep);
	uint64_t now = util_mono_ns();

	(void)loop;
	(void)revents;
	CHECK_OBJ(w, WORKER_MAGIC);
	if (atomic_load_explicit(&w->b->stop, memory_order_relaxed)) {
		worker_end(w);
		return;
	}
	for (unsigned i = 0; i < w->n_tasks; i++) {
		struct task *t = &w->tasks[i];

		if (!t->deadline_ns || now < t->deadline_ns)
			continue;
		if (t->st == TASK_ST_TICKET) {
			/* No ticket came: not an error, resumption just
			 * will not happen; do not wait again. */
			t->no_ticket_wait = true;
			task_close(t);
			t->st = TASK_ST_IDLE;
			task_run(t);
			continue;
		}
		if (t->st >= TASK_ST_CONNECTING && t->st <= TASK_ST_RECV)
			task_fail(t, BENCH_ERR_TIMEOUT,
				  t->st == TASK_ST_CONNECTING ? "connect timed out"
				  : t->st >= TASK_ST_SEND     ? "response timed out"
							      : "handshake timed out");
		else
			t->deadline_ns = 0;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (unsigned i = 0; i < w->n_tasks; i++) {
		struct task *t = &w->tasks[i];

		t->magic = TASK_MAGIC;
		t->w = w;
		t->fd = -1;
		ev_init(&t->io, task_on_io);
		ev_init(&t->wait, task_on_wait);
	}
	ev_timer_init(&w->sweep, worker_on_sweep, SWEEP_INTERVAL, SWEEP_INTERVAL);
	ev_timer_start(w->loop, &w->sweep);
	if (w->b->o.time_ns) {
		ev_timer_init(&w->end, worker_on_end, (double)w->b->o.time_ns / 1e9, 0.);
		ev_timer_start(w->loop, &w->end);
	}
	w->alive = w->n_tasks;
	for (unsigned i = 0; i < w->n_tasks; i++)
		if (w->tasks[i].st != TASK_ST_DONE)
			task_run(&w->tasks[i]);
	if (w->alive)
		ev_run(w->loop, 0);
	ev_timer_stop(w->loop, &w->sweep);
	ev_timer_stop(w->loop, &w->end);
	for (unsigned i = 0; i < w->n_tasks; i++) {
		struct task *t = &w->tasks[i];

		task_finish(t);
		SSL_SESSION_free(t->sess);
		SSL_SESSION_free(t->proxy_sess);
		free(t->rbuf);
		POISON_OBJ(t);
	}
	OPENSSL_thread_stop();
	return NULL;
}

int bench_run(struct bench *b, struct bench_stats *total)
{
	const struct bench_opts *o = &b->o;
	unsigned nt = o->threads, started = 0;
	struct worker *ws = xcalloc(nt, sizeof(*ws));
	int rc = 0;

	for (unsigned i = 0; i < nt; i++) {
		struct worker *w = &ws[i];

		w->magic = WORKER_MAGIC;
		w->b = b;
		w->n_tasks = o->concurrency / nt + (i < o->concurrency % nt ? 1 : 0);
		w->tasks = xcalloc(w->n_tasks, sizeof(*w->tasks));
		w->rate = o->rate / nt;
		w->st.lat = hist_new(BENCH_HIST_SUB_BITS, BENCH_HIST_VALUE_BITS);
		w->st.send_all = hist_new(BENCH_HIST_SUB_BITS, BENCH_HIST_VALUE_BITS);
		w->st.recv_hdr = hist_new(BENCH_HIST_SUB_BITS, BENCH_HIST_VALUE_BITS);
		w->loop = ev_loop_new(EVFLAG_AUTO);
		if (!w->loop) {
			fprintf(stderr, "g3bench: cannot create an event loop\n");
			rc = -1;
			goto out;
		}
	}
	b->start_ns = util_mono_ns();
	for (unsigned i = 0; i < nt; i++) {
		int e;

		if (nt == 1) {
			worker_main(&ws[0]);
			started = 0;
			break;
		}
		e = pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]);
		if (e) {
			fprintf(stderr, "g3bench: cannot start a thread: %s\n", strerror(e));
			atomic_store(&b->stop, 1);
			rc = -1;
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(ws[i].tid, NULL);
	b->end_ns = util_mono_ns();
	for (unsigned i = 0; i < nt; i++) {
		const struct bench_stats *s = &ws[i].st;

		/* Same shape everywhere: a merge cannot fail. */
		ASSERT(hist_merge(total->lat, s->lat) == 0);
		ASSERT(hist_merge(total->send_all, s->send_all) == 0);
		ASSERT(hist_merge(total->recv_hdr, s->recv_hdr) == 0);
		total->ok += s->ok;
		total->failed += s->failed;
		for (int e = 0; e < BENCH_ERR__N; e++)
			total->err[e] += s->err[e];
		for (int c = 0; c < 6; c++)
			total->status_class[c] += s->status_class[c];
		total->conn_attempt += s->conn_attempt;
		total->conn_ok += s->conn_ok;
		total->bytes_out += s->bytes_out;
		total->bytes_in += s->bytes_in;
		total->tls_handshakes += s->tls_handshakes;
		total->tls_resumed += s->tls_resumed;
	}
out:
	for (unsigned i = 0; i < nt; i++) {
		hist_free(ws[i].st.lat);
		hist_free(ws[i].st.send_all);
		hist_free(ws[i].st.recv_hdr);
		free(ws[i].tasks);
		if (ws[i].loop)
			ev_loop_destroy(ws[i].loop);
	}
	free(ws);
	return rc;
}
