/* rpc server: a raw nanomsg REP socket (so nanomsg neither serialises
 * requests nor keeps per-request state) served from a libev loop. Each
 * request is handled synchronously by the pure handler and answered through
 * the SP backtrace header it arrived with. */
#include "common/rpc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

#include "common/rpc_int.h"

#define RPC_SERVER_MAGIC 0x72707373u
#define RPC_SERVER_SNDBUF (1 << 20)

struct rpc_server {
	uint32_t magic;
	struct ev_loop *loop;
	int sock;
	ev_io rio;
	const struct rpc_service *svc;
	struct rpc_envelope env;
	rpc_handler_fn *fn;
	void *ctx;
	struct rpc_arena *arena;
	struct rpc_buf out;
	struct rpc_server_stats stats;
	struct rpc_deferred *deferred; /* replies handlers will give later */
};

union rpc_ctrl {
	struct nn_cmsghdr h;
	uint8_t b[RPC_CTRL_MAX];
};

int rpc_url_ipc_path(const char *url, const char **path)
{
	if (strncmp(url, "ipc://", 6) != 0)
		return 0;
	*path = url + 6;
	return 1;
}

int rpc_ipc_probe(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	int fd, ret = 0;

	if (n == 0 || n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	memcpy(sun.sun_path, path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		ret = (errno == ENOENT || errno == ECONNREFUSED) ? -ECONNREFUSED : -errno;
	close(fd);
	return ret;
}

int rpc_nn_setopt_int(int sock, int opt, int val)
{
	if (nn_setsockopt(sock, NN_SOL_SOCKET, opt, &val, sizeof(val)) != 0)
		return -errno;
	return 0;
}

int rpc_nn_getfd(int sock, int opt, int *fd)
{
	size_t sz = sizeof(*fd);

	if (nn_getsockopt(sock, NN_SOL_SOCKET, opt, fd, &sz) != 0)
		return -errno;
	return 0;
}

/* Replace a stale socket file (nobody listening) at an ipc path; refuse to
 * touch a live server's socket or a file that is not a socket. */
static int rpc_server_clear_ipc(const char *path)
{
	struct stat st;
	int r;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	r = rpc_ipc_probe(path);
	if (r == 0)
		return -EADDRINUSE;
	if (r != -ECONNREFUSED)
		return r;
	if (unlink(path) != 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static void rpc_server_reply(struct rpc_server *s, union rpc_ctrl *ctrl)
{
	struct nn_iovec iov = {.iov_base = s->out.p, .iov_len = s->out.len};
	struct nn_msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctrl,
		.msg_controllen = ctrl->h.cmsg_len,
	};

	/* A raw REP socket drops (and reports success for) replies to peers
	 * that went away or cannot take more: only hard errors show here. */
	if (nn_sendmsg(s->sock, &mh, NN_DONTWAIT) < 0)
		s->stats.send_errors++;
}

static bool rpc_ctrl_valid(const union rpc_ctrl *ctrl)
{
	return ctrl->h.cmsg_level == PROTO_SP && ctrl->h.cmsg_type == SP_HDR &&
	       ctrl->h.cmsg_len <= sizeof(*ctrl);
}

/* The handler deferred: keep the route back and the arena with the
 * deferred reply, and serve the next requests from a fresh arena. */
static void rpc_server_keep_deferred(struct rpc_server *s, const union rpc_ctrl *ctrl)
{
	struct rpc_deferred *d = rpc_defer(s->arena);

	ASSERT(d != NULL);
	if (rpc_ctrl_valid(ctrl)) {
		memcpy(d->ctrl, ctrl, ctrl->h.cmsg_len);
		d->ctrl_len = ctrl->h.cmsg_len;
	}
	d->server = s;
	d->next = s->deferred;
	s->deferred = d;
	s->arena = rpc_arena_new();
}

static void rpc_server_serve(struct rpc_server *s, const uint8_t *body, size_t len,
			     union rpc_ctrl *ctrl)
{
	bool malformed;
	int r;

	rpc_arena_allow_defer(s->arena);
	r = rpc_handle_packed(s->svc, &s->env, s->fn, s->ctx, s->arena, body, len, &s->out,
			      &malformed);
	if (malformed)
		s->stats.malformed++;
	else
		s->stats.requests++;
	if (r == 1) {
		rpc_server_keep_deferred(s, ctrl);
		return;
	}
	if (r != 0)
		return;
	/* Without the SP header there is no route back to the caller. */
	if (!rpc_ctrl_valid(ctrl)) {
		s->stats.send_errors++;
		return;
	}
	rpc_server_reply(s, ctrl);
}

void rpc_deferred_finish(struct rpc_deferred *d, enum rpc_code code)
{
	struct rpc_server *s;

	CHECK_OBJ(d, RPC_DEFERRED_MAGIC);
	s = d->server;
	if (s) {
		CHECK_OBJ(s, RPC_SERVER_MAGIC);
		for (struct rpc_deferred **pp = &s->deferred; *pp; pp = &(*pp)->next)
			if (*pp == d) {
				*pp = d->next;
				break;
			}
		rpc_pack_reply(s->svc, &s->env, d->arena, d->rep, d->id, code, &s->out);
		if (d->ctrl_len == 0)
			s->stats.send_errors++;
		else
			rpc_server_reply(s, (union rpc_ctrl *)(void *)d->ctrl);
	}
	rpc_arena_free(d->arena);
	POISON_OBJ(d);
	free(d);
}

static void rpc_server_on_read(struct ev_loop *loop UNUSED, ev_io *w, int revents UNUSED)
{
	struct rpc_server *s = container_of(w, struct rpc_server, rio);

	CHECK_OBJ(s, RPC_SERVER_MAGIC);
	/* RCVFD stays readable until a receive fails with EAGAIN, so stopping
	 * after a batch just lets other watchers run first. */
	for (int i = 0; i < RPC_BATCH; i++) {
		union rpc_ctrl ctrl;
		void *body = NULL;
		struct nn_iovec iov = {.iov_base = &body, .iov_len = NN_MSG};
		struct nn_msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = &ctrl,
			.msg_controllen = sizeof(ctrl),
		};
		int n;

		memset(&ctrl.h, 0, sizeof(ctrl.h));
		n = nn_recvmsg(s->sock, &mh, NN_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		rpc_server_serve(s, body, (size_t)n, &ctrl);
		nn_freemsg(body);
	}
}

struct rpc_server *rpc_server_new(struct ev_loop *loop, const char *url,
				  const struct rpc_service *svc, rpc_handler_fn *fn, void *ctx,
				  int *err)
{
	struct rpc_server *s = NULL;
	struct rpc_envelope env;
	const char *path;
	int sock = -1, fd, r;

	ASSERT(loop != NULL && url != NULL && fn != NULL && err != NULL);
	rpc_envelope_init(&env, svc);
	if (rpc_url_ipc_path(url, &path)) {
		r = rpc_server_clear_ipc(path);
		if (r)
			goto out;
	}
	sock = nn_socket(AF_SP_RAW, NN_REP);
	if (sock < 0) {
		r = -errno;
		goto out;
	}
	r = rpc_nn_setopt_int(sock, NN_RCVMAXSIZE, (int)(RPC_MAX_MSG + RPC_HDR_SLACK));
	if (r)
		goto out;
	/* Replies that find the socket buffer full are dropped by nanomsg:
	 * ask for more room than its 128 KiB default (the kernel caps it). */
	r = rpc_nn_setopt_int(sock, NN_SNDBUF, RPC_SERVER_SNDBUF);
	if (r)
		goto out;
	if (nn_bind(sock, url) < 0) {
		r = -errno;
		goto out;
	}
	r = rpc_nn_getfd(sock, NN_RCVFD, &fd);
	if (r)
		goto out;

	s = xcalloc(1, sizeof(*s));
	s->magic = RPC_SERVER_MAGIC;
	s->loop = loop;
	s->sock = sock;
	s->svc = svc;
	s->env = env;
	s->fn = fn;
	s->ctx = ctx;
	s->arena = rpc_arena_new();
	ev_io_init(&s->rio, rpc_server_on_read, fd, EV_READ);
	ev_io_start(loop, &s->rio);
	sock = -1;
out:
	if (sock >= 0)
		nn_close(sock);
	*err = s ? 0 : r;
	return s;
}

void rpc_server_free(struct rpc_server *s)
{
	if (!s)
		return;
	CHECK_OBJ(s, RPC_SERVER_MAGIC);
	ev_io_stop(s->loop, &s->rio);
	nn_close(s->sock);
	/* Pending deferred replies stay with their owners, who free them
	 * with rpc_deferred_finish: nothing is sent any more. */
	for (struct rpc_deferred *d = s->deferred, *next; d; d = next) {
		next = d->next;
		d->server = NULL;
		d->next = NULL;
	}
	rpc_arena_free(s->arena);
	rpc_buf_fini(&s->out);
	POISON_OBJ(s);
	free(s);
}

void rpc_server_get_stats(const struct rpc_server *s, struct rpc_server_stats *out)
{
	CHECK_OBJ(s, RPC_SERVER_MAGIC);
	*out = s->stats;
}
