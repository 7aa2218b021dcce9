#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* Blocks are mapped pages of their own rather than heap chunks: a block
 * given back beyond the pool returns its pages to the system at once, and
 * a burst of requests leaves no holes between the long-lived connection
 * structs of the heap (with heap blocks, 100 requests at a time left idle
 * HTTP keep-alive connections costing 5.3 KB of RSS each instead of 3.5).
 * Under AddressSanitizer they stay malloc'd so leak checks see them. */
#if defined(__SANITIZE_ADDRESS__)
#define BUF_BLOCK_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUF_BLOCK_MALLOC 1
#endif
#endif

static void *block_alloc(void)
{
#ifdef BUF_BLOCK_MALLOC
	return malloc(BUF_BLOCK_SIZE);
#else
	void *p = mmap(NULL, BUF_BLOCK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
#endif
}

static void block_free(void *p)
{
#ifdef BUF_BLOCK_MALLOC
	free(p);
#else
	(void)munmap(p, BUF_BLOCK_SIZE);
#endif
}

/* A cached block links to the next through its first bytes. */
struct buf_block {
	struct buf_block *next;
};

static _Thread_local struct buf_block *pool_head;
static _Thread_local size_t pool_cached;
static _Thread_local uint64_t pool_mallocs;
static _Thread_local uint64_t pool_reuses;

static bool buf_pooled(const struct buf *b)
{
	return b->cap <= BUF_BLOCK_SIZE;
}

static uint8_t *pool_get(void)
{
	struct buf_block *blk = pool_head;

	if (blk) {
		pool_head = blk->next;
		pool_cached--;
		pool_reuses++;
		return (uint8_t *)blk;
	}
	blk = block_alloc();
	if (blk)
		pool_mallocs++;
	return (uint8_t *)blk;
}

static void pool_put(uint8_t *p)
{
	struct buf_block *blk = (struct buf_block *)(void *)p;

	if (pool_cached >= BUF_POOL_MAX) {
		block_free(p);
		return;
	}
	blk->next = pool_head;
	pool_head = blk;
	pool_cached++;
}

void buf_pool_stats(struct buf_pool_stats *out)
{
	out->cached = pool_cached;
	out->mallocs = pool_mallocs;
	out->reuses = pool_reuses;
}

void buf_pool_trim_to(size_t keep)
{
	while (pool_head && pool_cached > keep) {
		struct buf_block *blk = pool_head;
		pool_head = blk->next;
		pool_cached--;
		block_free(blk);
	}
}

void buf_pool_trim(void)
{
	buf_pool_trim_to(0);
}

void buf_init(struct buf *b, size_t cap)
{
	ASSERT(cap > 0 && cap <= BUF_CAP_MAX);
	b->data = NULL;
	b->cap = cap;
	b->head = 0;
	b->tail = 0;
}

static void buf_drop_storage(struct buf *b)
{
	if (!b->data)
		return;
	if (buf_pooled(b))
		pool_put(b->data);
	else
		free(b->data);
	b->data = NULL;
	b->head = 0;
	b->tail = 0;
}

void buf_fini(struct buf *b)
{
	if (!b)
		return;
	buf_drop_storage(b);
}

static void buf_compact(struct buf *b)
{
	size_t n = buf_len(b);

	if (b->head == 0)
		return;
	if (n)
		memmove(b->data, b->data + b->head, n);
	b->head = 0;
	b->tail = n;
}

void buf_consume(struct buf *b, size_t n)
{
	ASSERT(n <= buf_len(b));
	b->head += n;
	if (b->head == b->tail) {
		b->head = 0;
		b->tail = 0;
	} else if (b->head >= b->cap / 2) {
		/* at most cap/2 bytes remain, so the move is bounded */
		buf_compact(b);
	}
}

void buf_reset(struct buf *b)
{
	b->head = 0;
	b->tail = 0;
}

int buf_reserve(struct buf *b, uint8_t **p, size_t *room)
{
	if (buf_full(b))
		return -ENOBUFS;
	if (!b->data) {
		b->data = buf_pooled(b) ? pool_get() : malloc(b->cap);
		if (!b->data)
			return -ENOMEM;
		b->head = 0;
		b->tail = 0;
	}
	if (b->tail == b->cap)
		buf_compact(b);
	*p = b->data + b->tail;
	*room = b->cap - b->tail;
	return 0;
}

void buf_commit(struct buf *b, size_t n)
{
	ASSERT(b->data != NULL && n <= b->cap - b->tail);
	b->tail += n;
}

/* Room for n contiguous bytes at the tail, or an error; nothing changes on
 * error except possibly allocation of the storage. */
static int buf_make_room(struct buf *b, size_t n, uint8_t **p)
{
	size_t room;
	int rc;

	if (n > buf_space(b))
		return -ENOBUFS;
	rc = buf_reserve(b, p, &room);
	if (rc < 0)
		return rc;
	if (room < n) {
		buf_compact(b);
		*p = b->data + b->tail;
	}
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	uint8_t *dst;
	int rc;

	if (n == 0)
		return 0;
	rc = buf_make_room(b, n, &dst);
	if (rc < 0)
		return rc;
	memcpy(dst, p, n);
	b->tail += n;
	return 0;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	uint8_t *dst;
	size_t room;
	int n, rc;

	rc = buf_reserve(b, &dst, &room);
	if (rc < 0)
		return rc;
	for (;;) {
		/* vsnprintf needs a byte for the NUL, which is not kept */
		va_start(ap, fmt);
		n = vsnprintf((char *)dst, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -EINVAL;
		if ((size_t)n < room)
			break;
		if (b->head == 0)
			return -ENOBUFS;
		/* retry once with all the free space at the tail */
		buf_compact(b);
		dst = b->data + b->tail;
		room = b->cap - b->tail;
	}
	b->tail += (size_t)n;
	return 0;
}

ssize_t buf_read_fd(struct buf *b, int fd)
{
	uint8_t *dst;
	size_t room;
	ssize_t n;
	int rc;

	rc = buf_reserve(b, &dst, &room);
	if (rc < 0)
		return rc;
	do {
		n = read(fd, dst, room);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	b->tail += (size_t)n;
	return n;
}

ssize_t buf_write_fd(struct buf *b, int fd)
{
	size_t len = buf_len(b);
	ssize_t n;

	if (len == 0)
		return 0;
	do {
		n = send(fd, b->data + b->head, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, b->data + b->head, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	buf_consume(b, (size_t)n);
	return n;
}

bool buf_release_if_empty(struct buf *b)
{
	if (!buf_empty(b))
		return false;
	buf_drop_storage(b);
	return true;
}
