#include "common/pipebuf.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

struct pipe_pair {
	int rfd, wfd;
	size_t cap;
};

static _Thread_local struct pipe_pair pool[PIPEBUF_POOL_MAX];
static _Thread_local size_t pool_cached;
static _Thread_local uint64_t pool_created;
static _Thread_local uint64_t pool_reuses;
static _Thread_local uint64_t pool_closed_nonempty;

void pipebuf_pool_stats(struct pipebuf_pool_stats *out)
{
	out->cached = pool_cached;
	out->created = pool_created;
	out->reuses = pool_reuses;
	out->closed_nonempty = pool_closed_nonempty;
}

void pipebuf_pool_trim(void)
{
	while (pool_cached) {
		struct pipe_pair *pp = &pool[--pool_cached];
		close(pp->rfd);
		close(pp->wfd);
	}
}

void pipebuf_init(struct pipebuf *pb)
{
	pb->rfd = -1;
	pb->wfd = -1;
	pb->len = 0;
	pb->cap = 0;
}

int pipebuf_acquire(struct pipebuf *pb)
{
	int fds[2];
	int sz;

	if (pb->rfd >= 0)
		return 0;
	if (pool_cached) {
		struct pipe_pair *pp = &pool[--pool_cached];
		pb->rfd = pp->rfd;
		pb->wfd = pp->wfd;
		pb->cap = pp->cap;
		pb->len = 0;
		pool_reuses++;
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	/* best effort: unprivileged users may be capped by pipe-max-size or
	 * pipe-user-pages-soft; the pipe keeps its default size then */
	(void)fcntl(fds[1], F_SETPIPE_SZ, (int)PIPEBUF_SIZE);
	sz = fcntl(fds[1], F_GETPIPE_SZ);
	pb->rfd = fds[0];
	pb->wfd = fds[1];
	pb->cap = sz > 0 ? (size_t)sz : 4096u;
	pb->len = 0;
	pool_created++;
	return 0;
}

static void pipebuf_drop(struct pipebuf *pb)
{
	if (pb->rfd < 0)
		return;
	if (pb->len == 0 && pool_cached < PIPEBUF_POOL_MAX) {
		struct pipe_pair *pp = &pool[pool_cached++];
		pp->rfd = pb->rfd;
		pp->wfd = pb->wfd;
		pp->cap = pb->cap;
	} else {
		if (pb->len)
			pool_closed_nonempty++;
		close(pb->rfd);
		close(pb->wfd);
	}
	pipebuf_init(pb);
}

void pipebuf_fini(struct pipebuf *pb)
{
	if (pb)
		pipebuf_drop(pb);
}

bool pipebuf_release_if_empty(struct pipebuf *pb)
{
	if (pb->len)
		return false;
	pipebuf_drop(pb);
	return true;
}

ssize_t pipebuf_splice_in(struct pipebuf *pb, int fd, size_t max)
{
	size_t room;
	ssize_t n;
	int rc;

	rc = pipebuf_acquire(pb);
	if (rc < 0)
		return rc;
	if (pb->len >= pb->cap)
		return -ENOBUFS;
	room = pb->cap - pb->len;
	if (max == 0 || max > room)
		max = room;
	do {
		n = splice(fd, NULL, pb->wfd, NULL, max, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return pb->len ? -ENOBUFS : -EAGAIN;
		return -errno;
	}
	pb->len += (size_t)n;
	return n;
}

ssize_t pipebuf_splice_out(struct pipebuf *pb, int fd, size_t max)
{
	ssize_t n;

	if (pb->len == 0)
		return 0;
	if (max == 0 || max > pb->len)
		max = pb->len;
	do {
		n = splice(pb->rfd, NULL, fd, NULL, max, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	ASSERT((size_t)n <= pb->len);
	pb->len -= (size_t)n;
	return n;
}
