/* Linear byte buffers with a hard capacity, for the data plane.
 *
 * A `struct buf` holds up to `cap` bytes between `head` (first unread byte)
 * and `tail` (end of data). Storage is allocated lazily on the first write and
 * handed back with buf_release_if_empty() once an idle connection has drained
 * it, so thousands of idle connections cost no buffer memory. Consumed space
 * is reclaimed by moving the unread bytes to the front ("compaction") once
 * half of the capacity has been consumed, or when a write needs the room.
 *
 * Buffers whose capacity is at most BUF_BLOCK_SIZE take their storage from a
 * small per-thread free list of BUF_BLOCK_SIZE blocks (each mapped pages of
 * its own, so one given back beyond the list returns to the system), so
 * steady-state relaying allocates nothing. Larger buffers (up to BUF_CAP_MAX) use
 * malloc directly. A block freed on another thread simply joins that
 * thread's pool.
 *
 * Not thread-safe: one buffer belongs to one thread at a time. */
#ifndef G3C_COMMON_BUF_H
#define G3C_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/slice.h"
#include "common/util.h"

/* Size of a pooled block; the usual relay buffer capacity. */
#define BUF_BLOCK_SIZE 16384u
/* Hard maximum capacity of any buffer. */
#define BUF_CAP_MAX (1u << 20)
/* Most blocks a thread keeps cached; blocks released beyond that are freed. */
#define BUF_POOL_MAX 128u

struct buf {
	uint8_t *data; /* NULL until the first write; owned */
	size_t cap;    /* fixed capacity */
	size_t head;   /* offset of the first unread byte */
	size_t tail;   /* offset just past the last byte */
};

/* Prepare an empty buffer of capacity cap (1..BUF_CAP_MAX, asserted).
 * Allocates nothing. */
void buf_init(struct buf *b, size_t cap);

/* Drop any content and release the storage (to the thread's pool when
 * pooled). The buffer may be reused after buf_init(). Accepts NULL. */
void buf_fini(struct buf *b);

/* Number of unread bytes. */
static inline size_t buf_len(const struct buf *b)
{
	return b->tail - b->head;
}

/* Bytes that can still be added before the buffer is full. */
static inline size_t buf_space(const struct buf *b)
{
	return b->cap - buf_len(b);
}

static inline bool buf_empty(const struct buf *b)
{
	return b->head == b->tail;
}

static inline bool buf_full(const struct buf *b)
{
	return buf_len(b) == b->cap;
}

/* True while the buffer holds storage. */
static inline bool buf_allocated(const struct buf *b)
{
	return b->data != NULL;
}

/* The unread bytes, borrowed: valid until the next call that modifies b. */
static inline struct slice buf_peek(const struct buf *b)
{
	/* never NULL, so callers may hand p to memcpy even when empty */
	return slice_make(b->data ? b->data + b->head : (const uint8_t *)"", buf_len(b));
}

/* Mark the first n unread bytes as consumed (n <= buf_len, asserted).
 * Compacts when half the capacity has been consumed; an emptied buffer is
 * rewound but keeps its storage (see buf_release_if_empty). */
void buf_consume(struct buf *b, size_t n);

/* Drop all content, keeping the storage. */
void buf_reset(struct buf *b);

/* Writable room at the tail for a direct write (read(2), SSL_read):
 * allocates storage if needed and compacts when the tail has no room left.
 * Sets *p to the first free byte and *room to the number of free bytes, then
 * returns 0; follow with buf_commit(). Returns -ENOBUFS when the buffer is
 * full, -ENOMEM when storage cannot be allocated. */
int buf_reserve(struct buf *b, uint8_t **p, size_t *room) MUST_CHECK;

/* Account n bytes written at the pointer given by buf_reserve()
 * (n <= the room it reported, asserted). */
void buf_commit(struct buf *b, size_t n);

/* Append n bytes, all or nothing. Borrows p. Returns 0, -ENOBUFS when they do
 * not fit (buffer unchanged), or -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n) MUST_CHECK;

/* Append printf-formatted text (without NUL), all or nothing. The text must
 * leave one byte of space free (vsnprintf's NUL is written there, then
 * dropped). Returns 0, -ENOBUFS when it does not fit (buffer unchanged),
 * -ENOMEM or -EINVAL (formatting error). */
int buf_printf(struct buf *b, const char *fmt, ...) PRINTF_FMT(2, 3) MUST_CHECK;

/* One read(2) from fd into the free room. Returns the number of bytes read
 * (> 0), 0 at end of file, -ENOBUFS when the buffer is full (nothing read),
 * -EAGAIN when fd has no data, -ENOMEM, or another -errno from read.
 * EINTR is retried. */
ssize_t buf_read_fd(struct buf *b, int fd) MUST_CHECK;

/* One write of the unread bytes to fd (send(2) with MSG_NOSIGNAL on sockets,
 * write(2) otherwise); the bytes written are consumed. Returns the number of
 * bytes written (0 when the buffer is empty), -EAGAIN when fd cannot take
 * data, -EPIPE when the peer is gone, or another -errno. EINTR is retried. */
ssize_t buf_write_fd(struct buf *b, int fd) MUST_CHECK;

/* Give the storage back (to the pool) when the buffer is empty. Returns true
 * when the buffer now holds no storage, false when it still holds data. */
bool buf_release_if_empty(struct buf *b);

/* ---- per-thread block pool ------------------------------------------- */

struct buf_pool_stats {
	size_t cached;	  /* blocks on this thread's free list now */
	uint64_t mallocs; /* blocks this thread allocated with malloc, ever */
	uint64_t reuses;  /* blocks this thread took from its free list, ever */
};

/* Counters of the calling thread's pool. */
void buf_pool_stats(struct buf_pool_stats *out);

/* Free every block cached by the calling thread (call before a worker
 * thread exits, and at process shutdown). */
void buf_pool_trim(void);
/* Free cached blocks of the calling thread beyond `keep` (an idle thread
 * gives back what a burst left it). */
void buf_pool_trim_to(size_t keep);

#endif
