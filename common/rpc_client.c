/* rpc client: a raw nanomsg REQ socket (a cooked one allows one request in
 * flight) driven by a libev loop. Calls are correlated by the envelope id;
 * the SP request id is filled from it only to satisfy the REP side's
 * backtrace format. Each call owns an ev_timer for its deadline.
 *
 * Calls wait in a FIFO while nanomsg cannot take them (no peer, full pipe:
 * retried when NN_SNDFD signals) or while `window` requests are already on
 * the wire unanswered (sent when one completes). The window exists because a
 * nanomsg REP socket silently drops a reply when the kernel buffer towards
 * its client is full, which a burst of hundreds of small replies to a busy
 * client loop is enough for.
 *
 * Callbacks run with the client held, so a callback may call rpc_call,
 * rpc_cancel or rpc_client_free; the free is completed on release. */
#include "common/rpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "common/rpc_int.h"
#include "proto/rpc.pb-c.h"

#define RPC_CLIENT_MAGIC 0x72706363u
#define RPC_CALL_MAGIC 0x7270636cu
#define RPC_SPARE_CALLS 64
#define RPC_BUCKETS_MIN 64u
#define RPC_RECONNECT_IVL_MS 100
#define RPC_RECONNECT_IVL_MAX_MS 1000
#define RPC_WINDOW_DEFAULT 64

struct rpc_call {
	uint32_t magic;
	struct rpc_client *c;
	uint64_t id;
	struct rpc_call *hnext;		/* hash chain */
	struct rpc_call *qprev, *qnext; /* send queue, while queued */
	bool queued;
	bool sent;    /* on the wire, counted in inflight */
	uint8_t *pkt; /* packed request while queued */
	size_t pktlen;
	ev_timer timer;
	rpc_done_fn *cb;
	void *arg;
	ProtobufCMessage **keep;
};

struct rpc_client {
	uint32_t magic;
	struct ev_loop *loop;
	const struct rpc_service *svc;
	struct rpc_envelope env;
	int sock;
	ev_io rio, wio;
	uint64_t next_id;
	struct rpc_call **buckets;
	unsigned nbuckets;
	unsigned npending;
	struct rpc_call *qhead, *qtail;
	unsigned inflight; /* sent, not completed */
	unsigned window;
	struct rpc_call *spare;
	unsigned nspare;
	struct rpc_arena *arena; /* replies are decoded into it */
	struct rpc_buf pack;
	unsigned holds;
	bool dead; /* rpc_client_free ran while held */
	struct rpc_client_stats stats;
};

/* ---- call table --------------------------------------------------------- */

static struct rpc_call **rpc_bucket(struct rpc_client *c, uint64_t id)
{
	return &c->buckets[id & (c->nbuckets - 1)];
}

static void rpc_table_grow(struct rpc_client *c)
{
	unsigned old = c->nbuckets;
	struct rpc_call **ob = c->buckets;

	c->nbuckets = old * 2;
	c->buckets = xcalloc(c->nbuckets, sizeof(struct rpc_call *));
	for (unsigned i = 0; i < old; i++) {
		struct rpc_call *k = ob[i], *next;
		for (; k; k = next) {
			struct rpc_call **b = rpc_bucket(c, k->id);
			next = k->hnext;
			k->hnext = *b;
			*b = k;
		}
	}
	free(ob);
}

static void rpc_table_add(struct rpc_client *c, struct rpc_call *k)
{
	struct rpc_call **b;

	if (c->npending >= c->nbuckets * 2)
		rpc_table_grow(c);
	b = rpc_bucket(c, k->id);
	k->hnext = *b;
	*b = k;
	c->npending++;
}

static struct rpc_call *rpc_table_find(struct rpc_client *c, uint64_t id)
{
	struct rpc_call *k = *rpc_bucket(c, id);

	while (k && k->id != id)
		k = k->hnext;
	return k;
}

static void rpc_table_del(struct rpc_client *c, struct rpc_call *k)
{
	struct rpc_call **pp = rpc_bucket(c, k->id);

	while (*pp != k) {
		ASSERT(*pp != NULL);
		pp = &(*pp)->hnext;
	}
	*pp = k->hnext;
	k->hnext = NULL;
	c->npending--;
}

/* ---- send queue --------------------------------------------------------- */

static void rpc_queue_push(struct rpc_client *c, struct rpc_call *k, const uint8_t *p, size_t len)
{
	k->pkt = xmalloc(len ? len : 1);
	memcpy(k->pkt, p, len);
	k->pktlen = len;
	k->qnext = NULL;
	k->qprev = c->qtail;
	if (c->qtail)
		c->qtail->qnext = k;
	else
		c->qhead = k;
	c->qtail = k;
	k->queued = true;
}

static void rpc_queue_del(struct rpc_client *c, struct rpc_call *k)
{
	if (!k->queued)
		return;
	if (k->qprev)
		k->qprev->qnext = k->qnext;
	else
		c->qhead = k->qnext;
	if (k->qnext)
		k->qnext->qprev = k->qprev;
	else
		c->qtail = k->qprev;
	k->qprev = k->qnext = NULL;
	k->queued = false;
	free(k->pkt);
	k->pkt = NULL;
	if (!c->qhead)
		ev_io_stop(c->loop, &c->wio);
}

/* ---- calls -------------------------------------------------------------- */

static void rpc_client_on_timeout(struct ev_loop *loop, ev_timer *w, int revents);

static struct rpc_call *rpc_call_get(struct rpc_client *c)
{
	struct rpc_call *k = c->spare;

	if (k) {
		c->spare = k->hnext;
		c->nspare--;
	} else {
		k = xmalloc(sizeof(*k));
	}
	memset(k, 0, sizeof(*k));
	k->magic = RPC_CALL_MAGIC;
	k->c = c;
	ev_init(&k->timer, rpc_client_on_timeout);
	return k;
}

/* The call must be out of the table, the queue and the loop. */
static void rpc_call_put(struct rpc_client *c, struct rpc_call *k)
{
	CHECK_OBJ(k, RPC_CALL_MAGIC);
	ASSERT(!k->queued && !ev_is_active(&k->timer) && !ev_is_pending(&k->timer));
	POISON_OBJ(k);
	if (c->dead || c->nspare >= RPC_SPARE_CALLS) {
		free(k);
		return;
	}
	k->hnext = c->spare;
	c->spare = k;
	c->nspare++;
}

/* Take a call out of every structure (no callback). */
static void rpc_call_detach(struct rpc_client *c, struct rpc_call *k)
{
	rpc_table_del(c, k);
	rpc_queue_del(c, k);
	ev_timer_stop(c->loop, &k->timer);
	if (k->sent) {
		k->sent = false;
		c->inflight--;
	}
}

static void rpc_client_hold(struct rpc_client *c)
{
	c->holds++;
}

static void rpc_client_destroy(struct rpc_client *c)
{
	while (c->spare) {
		struct rpc_call *k = c->spare;
		c->spare = k->hnext;
		free(k);
	}
	free(c->buckets);
	rpc_arena_free(c->arena);
	rpc_buf_fini(&c->pack);
	POISON_OBJ(c);
	free(c);
}

static void rpc_client_release(struct rpc_client *c)
{
	ASSERT(c->holds > 0);
	if (--c->holds == 0 && c->dead)
		rpc_client_destroy(c);
}

/* ---- sending ------------------------------------------------------------ */

/* One request: SP header (31-bit request id with the end-of-backtrace bit)
 * as control data, the packed envelope as body. 0, -EAGAIN or -errno. */
static int rpc_client_send(struct rpc_client *c, uint64_t id, const uint8_t *p, size_t len)
{
	union {
		struct nn_cmsghdr h;
		uint8_t b[NN_CMSG_SPACE(sizeof(size_t) + 4)];
	} ctrl;
	uint32_t rid = (uint32_t)(id & 0x7fffffffu) | 0x80000000u;
	size_t hlen = 4;
	uint8_t *d;
	struct nn_iovec iov = {.iov_base = (void *)(uintptr_t)p, .iov_len = len};
	struct nn_msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = &ctrl,
		.msg_controllen = sizeof(ctrl),
	};

	memset(&ctrl, 0, sizeof(ctrl));
	ctrl.h.cmsg_len = NN_CMSG_LEN(sizeof(size_t) + hlen);
	ctrl.h.cmsg_level = PROTO_SP;
	ctrl.h.cmsg_type = SP_HDR;
	d = NN_CMSG_DATA(&ctrl.h);
	memcpy(d, &hlen, sizeof(hlen));
	d[sizeof(size_t) + 0] = (uint8_t)(rid >> 24);
	d[sizeof(size_t) + 1] = (uint8_t)(rid >> 16);
	d[sizeof(size_t) + 2] = (uint8_t)(rid >> 8);
	d[sizeof(size_t) + 3] = (uint8_t)rid;
	for (;;) {
		if (nn_sendmsg(c->sock, &mh, NN_DONTWAIT) >= 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

static void rpc_client_mark_sent(struct rpc_client *c, struct rpc_call *k)
{
	k->sent = true;
	c->inflight++;
	c->stats.sent++;
}

/* Send queued calls while the window allows. NN_SNDFD is watched only while
 * nanomsg itself pushes back: it stays readable otherwise. */
static void rpc_client_flush(struct rpc_client *c)
{
	bool blocked = false;

	while (c->qhead && c->inflight < c->window) {
		struct rpc_call *k = c->qhead;
		int r = rpc_client_send(c, k->id, k->pkt, k->pktlen);

		if (r == -EAGAIN) {
			blocked = true;
			break;
		}
		rpc_queue_del(c, k);
		if (r == 0)
			rpc_client_mark_sent(c, k);
		else
			c->stats.send_errors++; /* the deadline will report it */
	}
	if (blocked)
		ev_io_start(c->loop, &c->wio);
	else
		ev_io_stop(c->loop, &c->wio);
}

static void rpc_client_on_write(struct ev_loop *loop UNUSED, ev_io *w, int revents UNUSED)
{
	struct rpc_client *c = container_of(w, struct rpc_client, wio);

	CHECK_OBJ(c, RPC_CLIENT_MAGIC);
	rpc_client_flush(c);
}

int rpc_call_keep(struct rpc_client *c, ProtobufCMessage *req, uint32_t deadline_ms,
		  rpc_done_fn *cb, void *arg, uint64_t *handle, ProtobufCMessage **keep)
{
	struct rpc_call *k;
	size_t size;
	int r;

	CHECK_OBJ(c, RPC_CLIENT_MAGIC);
	ASSERT(!c->dead);
	ASSERT(req != NULL && req->descriptor == c->svc->req && cb != NULL);
	if (handle)
		*handle = 0;
	if (deadline_ms == 0)
		return -EINVAL;
	if (c->next_id == 0)
		c->next_id = 1;
	*RPC_FIELD(req, c->env.req_id_off, uint64_t) = c->next_id;
	*RPC_FIELD(req, c->env.req_deadline_off, uint32_t) = deadline_ms;
	size = protobuf_c_message_get_packed_size(req);
	if (size > RPC_MAX_MSG)
		return -EMSGSIZE;
	rpc_buf_reserve(&c->pack, size ? size : 1);
	c->pack.len = protobuf_c_message_pack(req, c->pack.p);
	ASSERT(c->pack.len == size);

	k = rpc_call_get(c);
	k->id = c->next_id++;
	k->cb = cb;
	k->arg = arg;
	k->keep = keep;
	/* Keep FIFO order: while older calls wait, new ones queue behind. */
	if (c->qhead || c->inflight >= c->window) {
		rpc_queue_push(c, k, c->pack.p, c->pack.len);
	} else {
		r = rpc_client_send(c, k->id, c->pack.p, c->pack.len);
		if (r == -EAGAIN) {
			rpc_queue_push(c, k, c->pack.p, c->pack.len);
			ev_io_start(c->loop, &c->wio);
		} else if (r != 0) {
			c->stats.send_errors++;
			rpc_call_put(c, k);
			return r;
		} else {
			rpc_client_mark_sent(c, k);
		}
	}
	rpc_table_add(c, k);
	ev_timer_set(&k->timer, deadline_ms / 1000.0, 0.);
	ev_timer_start(c->loop, &k->timer);
	c->stats.calls++;
	if (handle)
		*handle = k->id;
	return 0;
}

int rpc_call(struct rpc_client *c, ProtobufCMessage *req, uint32_t deadline_ms, rpc_done_fn *cb,
	     void *arg, uint64_t *handle)
{
	return rpc_call_keep(c, req, deadline_ms, cb, arg, handle, NULL);
}

bool rpc_cancel(struct rpc_client *c, uint64_t handle)
{
	struct rpc_call *k;

	CHECK_OBJ(c, RPC_CLIENT_MAGIC);
	if (handle == 0 || c->dead)
		return false;
	k = rpc_table_find(c, handle);
	if (!k)
		return false;
	rpc_call_detach(c, k);
	rpc_call_put(c, k);
	c->stats.cancelled++;
	if (c->qhead)
		rpc_client_flush(c);
	return true;
}

void rpc_client_set_window(struct rpc_client *c, unsigned max_sent)
{
	CHECK_OBJ(c, RPC_CLIENT_MAGIC);
	c->window = max_sent ? max_sent : 1;
	if (c->qhead)
		rpc_client_flush(c);
}

unsigned rpc_client_pending(const struct rpc_client *c)
{
	CHECK_OBJ(c, RPC_CLIENT_MAGIC);
	return c->npending;
}

void rpc_client_get_stats(const struct rpc_client *c, struct rpc_client_stats *out)
{
	CHECK_OBJ(c, RPC_CLIENT_MAGIC);
	*out = c->stats;
}

/* ---- completion --------------------------------------------------------- */

static void rpc_client_on_timeout(struct ev_loop *loop UNUSED, ev_timer *w, int revents UNUSED)
{
	struct rpc_call *k = container_of(w, struct rpc_call, timer);
	struct rpc_client *c = k->c;

	CHECK_OBJ(k, RPC_CALL_MAGIC);
	CHECK_OBJ(c, RPC_CLIENT_MAGIC);
	rpc_client_hold(c);
	rpc_call_detach(c, k);
	c->stats.timeouts++;
	k->cb(k->arg, -ETIMEDOUT, RPC_DEADLINE_EXCEEDED, "deadline exceeded", NULL);
	rpc_call_put(c, k);
	if (!c->dead && c->qhead)
		rpc_client_flush(c);
	rpc_client_release(c);
}

static void rpc_client_complete(struct rpc_client *c, const uint8_t *p, size_t len)
{
	ProtobufCAllocator *alloc;
	const G3c__Rpc__Status *st;
	ProtobufCMessage *rep = NULL;
	struct rpc_call *k;
	uint64_t id;

	if (!rpc_wire_find_id(p, len, &id)) {
		c->stats.malformed++;
		return;
	}
	k = rpc_table_find(c, id);
	if (!k) {
		c->stats.late_replies++; /* timed out, cancelled, or never ours */
		return;
	}
	rpc_call_detach(c, k);
	alloc = k->keep ? NULL : rpc_arena_allocator(c->arena);
	if (len <= RPC_MAX_MSG)
		rep = protobuf_c_message_unpack(c->svc->rep, alloc, len, p);
	if (!rep) {
		c->stats.malformed++;
		k->cb(k->arg, -EBADMSG, RPC_MALFORMED, "undecodable reply", NULL);
		goto out;
	}
	st = *RPC_FIELD(rep, c->env.rep_status_off, G3c__Rpc__Status *);
	c->stats.replies++;
	k->cb(k->arg, 0, st ? (enum rpc_code)st->code : RPC_OK,
	      st && st->message ? st->message : "", rep);
	if (k->keep)
		*k->keep = rep;
out:
	rpc_arena_reset(c->arena);
	rpc_call_put(c, k);
}

static void rpc_client_on_read(struct ev_loop *loop UNUSED, ev_io *w, int revents UNUSED)
{
	struct rpc_client *c = container_of(w, struct rpc_client, rio);

	CHECK_OBJ(c, RPC_CLIENT_MAGIC);
	rpc_client_hold(c);
	for (int i = 0; i < RPC_BATCH && !c->dead; i++) {
		void *body = NULL;
		int n = nn_recv(c->sock, &body, NN_MSG, NN_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		rpc_client_complete(c, body, (size_t)n);
		nn_freemsg(body);
	}
	if (!c->dead && c->qhead)
		rpc_client_flush(c);
	rpc_client_release(c);
}

/* ---- life cycle --------------------------------------------------------- */

struct rpc_client *rpc_client_new(struct ev_loop *loop, const char *url,
				  const struct rpc_service *svc, int *err)
{
	struct rpc_client *c = NULL;
	struct rpc_envelope env;
	int sock, rfd, wfd, r;

	ASSERT(loop != NULL && url != NULL && err != NULL);
	rpc_envelope_init(&env, svc);
	sock = nn_socket(AF_SP_RAW, NN_REQ);
	if (sock < 0) {
		r = -errno;
		goto out;
	}
	if ((r = rpc_nn_setopt_int(sock, NN_RECONNECT_IVL, RPC_RECONNECT_IVL_MS)) ||
	    (r = rpc_nn_setopt_int(sock, NN_RECONNECT_IVL_MAX, RPC_RECONNECT_IVL_MAX_MS)) ||
	    (r = rpc_nn_setopt_int(sock, NN_RCVMAXSIZE, (int)(RPC_MAX_MSG + RPC_HDR_SLACK))))
		goto out;
	if (nn_connect(sock, url) < 0) {
		r = -errno;
		goto out;
	}
	if ((r = rpc_nn_getfd(sock, NN_RCVFD, &rfd)) || (r = rpc_nn_getfd(sock, NN_SNDFD, &wfd)))
		goto out;

	c = xcalloc(1, sizeof(*c));
	c->magic = RPC_CLIENT_MAGIC;
	c->loop = loop;
	c->svc = svc;
	c->env = env;
	c->sock = sock;
	c->next_id = 1;
	c->window = RPC_WINDOW_DEFAULT;
	c->nbuckets = RPC_BUCKETS_MIN;
	c->buckets = xcalloc(c->nbuckets, sizeof(struct rpc_call *));
	c->arena = rpc_arena_new();
	ev_io_init(&c->rio, rpc_client_on_read, rfd, EV_READ);
	ev_io_init(&c->wio, rpc_client_on_write, wfd, EV_READ);
	ev_io_start(loop, &c->rio);
	sock = -1;
out:
	if (sock >= 0)
		nn_close(sock);
	*err = c ? 0 : r;
	return c;
}

void rpc_client_free(struct rpc_client *c)
{
	if (!c)
		return;
	CHECK_OBJ(c, RPC_CLIENT_MAGIC);
	ASSERT(!c->dead);
	c->dead = true;
	for (unsigned i = 0; i < c->nbuckets; i++) {
		struct rpc_call *k = c->buckets[i], *next;

		for (; k; k = next) {
			next = k->hnext;
			rpc_queue_del(c, k);
			ev_timer_stop(c->loop, &k->timer);
			k->sent = false;
			rpc_call_put(c, k);
		}
		c->buckets[i] = NULL;
	}
	c->npending = 0;
	c->inflight = 0;
	ev_io_stop(c->loop, &c->rio);
	ev_io_stop(c->loop, &c->wio);
	nn_close(c->sock);
	c->sock = -1;
	if (c->holds == 0)
		rpc_client_destroy(c);
}
