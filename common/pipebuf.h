/* Pipe pairs for zero-copy relaying with splice(2).
 *
 * A `struct pipebuf` moves bytes socket → pipe → socket without copying them
 * to user space. The kernel does not say how much a pipe holds, so we keep
 * our own count (`len`) of the bytes spliced in and not yet spliced out.
 *
 * Pipes come from a per-thread pool (at most PIPEBUF_POOL_MAX cached pairs)
 * and are acquired lazily by the first splice_in. A pipe goes back to the
 * pool only when it is empty; a pipe that still holds data is closed (its
 * bytes are lost), so a pooled pipe is always empty.
 *
 * splice to a socket whose peer has gone raises SIGPIPE: daemons ignore
 * SIGPIPE. Not thread-safe: one pipebuf belongs to one thread at a time. */
#ifndef G3C_COMMON_PIPEBUF_H
#define G3C_COMMON_PIPEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/util.h"

/* Capacity requested for each new pipe with F_SETPIPE_SZ (best effort). */
#define PIPEBUF_SIZE (64u * 1024u)
/* Most empty pipe pairs a thread keeps cached. */
#define PIPEBUF_POOL_MAX 32u

struct pipebuf {
	int rfd;    /* read end, -1 when no pipe is held; owned */
	int wfd;    /* write end, -1 when no pipe is held; owned */
	size_t len; /* bytes inside the pipe, by our count */
	size_t cap; /* pipe capacity reported by F_GETPIPE_SZ */
};

/* Prepare a pipebuf holding no pipe. Allocates nothing. */
void pipebuf_init(struct pipebuf *pb);

/* Give the pipe back: to the pool when empty, otherwise closed (pending
 * bytes are discarded). The pipebuf holds no pipe afterwards and may be
 * reused. Accepts NULL. */
void pipebuf_fini(struct pipebuf *pb);

/* Bytes waiting in the pipe. */
static inline size_t pipebuf_len(const struct pipebuf *pb)
{
	return pb->len;
}

static inline bool pipebuf_empty(const struct pipebuf *pb)
{
	return pb->len == 0;
}

/* True while a pipe pair is held. */
static inline bool pipebuf_has_pipe(const struct pipebuf *pb)
{
	return pb->rfd >= 0;
}

/* Take a pipe from the pool, or create one (non-blocking, close-on-exec,
 * resized to PIPEBUF_SIZE when the system allows). No-op when a pipe is
 * already held. Returns 0 or -errno from pipe2 (-EMFILE, -ENFILE). */
int pipebuf_acquire(struct pipebuf *pb) MUST_CHECK;

/* Splice up to max bytes (0 = as many as fit) from socket fd into the pipe,
 * acquiring a pipe first if needed. Returns the number of bytes moved (> 0),
 * 0 at end of stream, -EAGAIN when fd has no data, -ENOBUFS when the pipe is
 * full (stop reading until pipebuf_splice_out() drained it; also reported
 * when the kernel refuses more data while the pipe is not empty, since
 * splice cannot tell "pipe full" from "socket empty"), or another -errno
 * (-EINVAL when fd cannot be spliced). EINTR is retried. */
ssize_t pipebuf_splice_in(struct pipebuf *pb, int fd, size_t max) MUST_CHECK;

/* Splice up to max (0 = all) of the bytes in the pipe to socket fd (a max
 * serves speed limits). Returns the number of bytes moved (0 when the pipe
 * is empty), -EAGAIN when fd cannot take data, -EPIPE
 * or -ECONNRESET when the peer is gone, or another -errno. EINTR is
 * retried. The pipe is kept (see pipebuf_release_if_empty). */
ssize_t pipebuf_splice_out(struct pipebuf *pb, int fd, size_t max) MUST_CHECK;

/* Return the pipe to the pool when empty. Returns true when the pipebuf now
 * holds no pipe, false when it still holds data. */
bool pipebuf_release_if_empty(struct pipebuf *pb);

/* ---- per-thread pool ------------------------------------------------- */

struct pipebuf_pool_stats {
	size_t cached;		  /* empty pipes on this thread's free list now */
	uint64_t created;	  /* pipes this thread created with pipe2, ever */
	uint64_t reuses;	  /* pipes this thread took from its free list, ever */
	uint64_t closed_nonempty; /* pipes closed because they still held data */
};

/* Counters of the calling thread's pool. */
void pipebuf_pool_stats(struct pipebuf_pool_stats *out);

/* Close every pipe cached by the calling thread (before a worker thread
 * exits, and at process shutdown). */
void pipebuf_pool_trim(void);

#endif
