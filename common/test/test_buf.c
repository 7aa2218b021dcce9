/* buf.h: capacity limits, compaction, fd I/O, lazy storage and the pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static void test_lazy_storage_and_release(void **state)
{
	(void)state;
	struct buf b;

	buf_init(&b, 64);
	assert_false(buf_allocated(&b));
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_space(&b), 64);
	assert_int_equal(buf_peek(&b).len, 0);
	/* nothing to release, nothing allocated by asking */
	assert_true(buf_release_if_empty(&b));
	assert_false(buf_allocated(&b));

	assert_int_equal(buf_append(&b, "hello", 5), 0);
	assert_true(buf_allocated(&b));
	assert_false(buf_release_if_empty(&b)); /* holds data: kept */
	assert_true(buf_allocated(&b));
	assert_true(slice_eq_cstr(buf_peek(&b), "hello"));

	buf_consume(&b, 5);
	assert_true(buf_empty(&b));
	assert_true(buf_allocated(&b)); /* drained but not released yet */
	assert_true(buf_release_if_empty(&b));
	assert_false(buf_allocated(&b));
	buf_fini(&b);
	buf_fini(NULL);
}

static void test_capacity_limit(void **state)
{
	(void)state;
	struct buf b;
	uint8_t data[100];

	fill_pattern(data, sizeof(data), 1);
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, data, 11), -ENOBUFS);
	assert_int_equal(buf_len(&b), 0);
	assert_int_equal(buf_append(&b, data, 6), 0);
	assert_int_equal(buf_append(&b, data + 6, 5), -ENOBUFS); /* all or nothing */
	assert_int_equal(buf_len(&b), 6);
	assert_int_equal(buf_append(&b, data + 6, 4), 0);
	assert_true(buf_full(&b));
	assert_int_equal(buf_space(&b), 0);
	assert_int_equal(buf_append(&b, data, 1), -ENOBUFS);
	assert_memory_equal(buf_peek(&b).p, data, 10);

	uint8_t *p;
	size_t room;
	assert_int_equal(buf_reserve(&b, &p, &room), -ENOBUFS);
	buf_fini(&b);
}

static void test_compaction(void **state)
{
	(void)state;
	struct buf b;
	uint8_t data[100];
	const uint8_t *base;

	fill_pattern(data, sizeof(data), 3);
	buf_init(&b, 100);
	assert_int_equal(buf_append(&b, data, 80), 0);
	base = buf_peek(&b).p;

	/* below half consumed: the data stays where it is */
	buf_consume(&b, 49);
	assert_ptr_equal(buf_peek(&b).p, base + 49);
	assert_int_equal(buf_space(&b), 69);

	/* half consumed: the remaining 30 bytes move to the front */
	buf_consume(&b, 1);
	assert_ptr_equal(buf_peek(&b).p, base);
	assert_int_equal(buf_len(&b), 30);
	assert_memory_equal(buf_peek(&b).p, data + 50, 30);

	/* every byte of free space is usable for one append */
	assert_int_equal(buf_space(&b), 70);
	assert_int_equal(buf_append(&b, data, 70), 0);
	assert_true(buf_full(&b));
	assert_memory_equal(buf_peek(&b).p, data + 50, 30);
	assert_memory_equal(buf_peek(&b).p + 30, data, 70);

	/* a tail short of room is compacted by an append that needs it */
	buf_consume(&b, 40); /* head 40 < 50: no compaction */
	assert_ptr_equal(buf_peek(&b).p, base + 40);
	assert_int_equal(buf_append(&b, "0123456789", 10), 0);
	assert_ptr_equal(buf_peek(&b).p, base);
	assert_int_equal(buf_len(&b), 70);
	assert_memory_equal(buf_peek(&b).p, data + 10, 60);
	assert_memory_equal(buf_peek(&b).p + 60, "0123456789", 10);

	/* reserve/commit writes straight into the tail */
	buf_reset(&b);
	uint8_t *p;
	size_t room;
	assert_int_equal(buf_reserve(&b, &p, &room), 0);
	assert_int_equal(room, 100);
	p[0] = 'a';
	p[1] = 'b';
	p[2] = 'c';
	buf_commit(&b, 3);
	assert_true(slice_eq_cstr(buf_peek(&b), "abc"));
	buf_fini(&b);
}

static void test_printf(void **state)
{
	(void)state;
	struct buf b;

	buf_init(&b, 32);
	assert_int_equal(buf_printf(&b, "HTTP/1.1 %d %s\r\n", 200, "OK"), 0);
	assert_true(slice_eq_cstr(buf_peek(&b), "HTTP/1.1 200 OK\r\n"));
	/* 17 used, 15 free: 14 chars fit (one byte for the NUL), 15 do not */
	assert_int_equal(buf_printf(&b, "%s", "123456789012345"), -ENOBUFS);
	assert_int_equal(buf_len(&b), 17);
	assert_int_equal(buf_printf(&b, "%s", "12345678901234"), 0);
	assert_int_equal(buf_len(&b), 31);
	assert_memory_equal(buf_peek(&b).p + 17, "12345678901234", 14);

	/* consumed space at the front is reclaimed for printf too */
	buf_consume(&b, 15); /* head 15 < 16: stays */
	assert_int_equal(buf_printf(&b, "%08x", 0xabcdu), 0);
	assert_int_equal(buf_len(&b), 24);
	assert_memory_equal(buf_peek(&b).p + 16, "0000abcd", 8);
	buf_fini(&b);
}

static void test_fd_io(void **state)
{
	(void)state;
	int sv[2];
	struct buf in, out;
	uint8_t data[3000], got[3000];
	ssize_t n;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	fill_pattern(data, sizeof(data), 9);
	buf_init(&out, 4096);
	buf_init(&in, 1000);

	assert_int_equal(buf_write_fd(&out, sv[0]), 0); /* empty: nothing to do */
	assert_int_equal(buf_append(&out, data, sizeof(data)), 0);
	n = buf_write_fd(&out, sv[0]);
	assert_int_equal(n, 3000);
	assert_true(buf_empty(&out));

	/* the reader's capacity bounds each read */
	assert_int_equal(buf_read_fd(&in, sv[1]), 1000);
	assert_true(buf_full(&in));
	assert_int_equal(buf_read_fd(&in, sv[1]), -ENOBUFS);
	memcpy(got, buf_peek(&in).p, 1000);
	buf_consume(&in, 1000);
	assert_int_equal(buf_read_fd(&in, sv[1]), 1000);
	memcpy(got + 1000, buf_peek(&in).p, 1000);
	buf_consume(&in, 600);
	/* 400 left at head 600 (≥ half): compacted, 600 free */
	assert_int_equal(buf_read_fd(&in, sv[1]), 600);
	memcpy(got + 2000, buf_peek(&in).p + 400, 600);
	buf_consume(&in, 1000);
	assert_int_equal(buf_read_fd(&in, sv[1]), 400);
	memcpy(got + 2600, buf_peek(&in).p, 400);
	buf_consume(&in, 400);
	assert_memory_equal(got, data, sizeof(data));

	assert_int_equal(buf_read_fd(&in, sv[1]), -EAGAIN);
	close(sv[0]);
	assert_int_equal(buf_read_fd(&in, sv[1]), 0); /* EOF */

	/* writing to a closed peer reports -EPIPE instead of raising SIGPIPE */
	assert_int_equal(buf_append(&out, "x", 1), 0);
	assert_int_equal(buf_write_fd(&out, sv[1]), -EPIPE);
	assert_int_equal(buf_len(&out), 1);

	assert_int_equal(buf_read_fd(&in, -1), -EBADF);
	buf_fini(&in);
	buf_fini(&out);
	close(sv[1]);
}

static void test_write_fd_pipe_and_eagain(void **state)
{
	(void)state;
	int p[2];
	struct buf b;
	char got[8];
	ssize_t total = 0, n;

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	buf_init(&b, 16);
	/* write(2) fallback for non-sockets */
	assert_int_equal(buf_append(&b, "pipe", 4), 0);
	assert_int_equal(buf_write_fd(&b, p[1]), 4);
	assert_int_equal(read(p[0], got, sizeof(got)), 4);
	assert_memory_equal(got, "pipe", 4);

	/* fill the pipe until the kernel pushes back */
	assert_int_equal(buf_append(&b, "0123456789abcdef", 16), 0);
	for (;;) {
		n = buf_write_fd(&b, p[1]);
		if (n < 0)
			break;
		total += n;
		if (buf_empty(&b))
			assert_int_equal(buf_append(&b, "0123456789abcdef", 16), 0);
		assert_true(total < (64 << 20));
	}
	assert_int_equal(n, -EAGAIN);
	assert_true(total > 0);
	buf_fini(&b);
	close(p[0]);
	close(p[1]);
}

static void test_pool_reuse(void **state)
{
	(void)state;
	struct buf_pool_stats st0, st;
	struct buf a, b, big;

	buf_pool_trim();
	buf_pool_stats(&st0);
	assert_int_equal(st0.cached, 0);

	buf_init(&a, BUF_BLOCK_SIZE);
	assert_int_equal(buf_append(&a, "x", 1), 0);
	buf_pool_stats(&st);
	assert_int_equal(st.mallocs, st0.mallocs + 1);

	buf_consume(&a, 1);
	assert_true(buf_release_if_empty(&a));
	buf_pool_stats(&st);
	assert_int_equal(st.cached, 1);

	/* the next buffer gets the cached block: no malloc */
	buf_init(&b, 4096);
	assert_int_equal(buf_append(&b, "y", 1), 0);
	buf_pool_stats(&st);
	assert_int_equal(st.mallocs, st0.mallocs + 1);
	assert_int_equal(st.reuses, st0.reuses + 1);
	assert_int_equal(st.cached, 0);

	/* steady state: many fill/drain cycles never malloc again */
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(buf_append(&a, "z", 1), 0);
		buf_consume(&a, 1);
		assert_true(buf_release_if_empty(&a));
	}
	buf_pool_stats(&st);
	assert_int_equal(st.mallocs, st0.mallocs + 2);

	/* buffers above the block size are not pooled */
	buf_init(&big, BUF_BLOCK_SIZE + 1);
	assert_int_equal(buf_append(&big, "q", 1), 0);
	buf_fini(&big);
	buf_pool_stats(&st);
	assert_int_equal(st.mallocs, st0.mallocs + 2);
	assert_int_equal(st.cached, 1);

	buf_fini(&b);
	buf_fini(&a);
	buf_pool_stats(&st);
	assert_int_equal(st.cached, 2);
	buf_pool_trim();
	buf_pool_stats(&st);
	assert_int_equal(st.cached, 0);
}

static void test_pool_bounded(void **state)
{
	(void)state;
	struct buf bufs[BUF_POOL_MAX + 8];
	struct buf_pool_stats st;

	buf_pool_trim();
	for (size_t i = 0; i < ARRAY_SIZE(bufs); i++) {
		buf_init(&bufs[i], BUF_BLOCK_SIZE);
		assert_int_equal(buf_append(&bufs[i], "a", 1), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bufs); i++)
		buf_fini(&bufs[i]);
	buf_pool_stats(&st);
	assert_int_equal(st.cached, BUF_POOL_MAX);
	/* an idle thread keeps only a few; trimming to more changes nothing */
	buf_pool_trim_to(BUF_POOL_MAX + 1);
	buf_pool_stats(&st);
	assert_int_equal(st.cached, BUF_POOL_MAX);
	buf_pool_trim_to(16);
	buf_pool_stats(&st);
	assert_int_equal(st.cached, 16);
	/* the kept blocks are still handed out */
	buf_init(&bufs[0], BUF_BLOCK_SIZE);
	assert_int_equal(buf_append(&bufs[0], "b", 1), 0);
	buf_pool_stats(&st);
	assert_int_equal(st.cached, 15);
	buf_fini(&bufs[0]);
	buf_pool_trim();
	buf_pool_stats(&st);
	assert_int_equal(st.cached, 0);
}

static void *thread_pool_main(void *arg)
{
	struct buf_pool_stats *st = arg;
	struct buf b;

	buf_pool_stats(st); /* a fresh thread starts with an empty pool */
	buf_init(&b, 100);
	if (buf_append(&b, "t", 1) == 0)
		buf_fini(&b);
	buf_pool_stats(st + 1);
	buf_pool_trim();
	return NULL;
}

static void test_pool_per_thread(void **state)
{
	(void)state;
	struct buf_pool_stats th[2], mine0, mine;
	struct buf b;
	pthread_t t;

	buf_pool_trim();
	buf_init(&b, 100);
	assert_int_equal(buf_append(&b, "m", 1), 0);
	buf_fini(&b);
	buf_pool_stats(&mine0);
	assert_int_equal(mine0.cached, 1);

	assert_int_equal(pthread_create(&t, NULL, thread_pool_main, th), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(th[0].cached, 0);
	assert_int_equal(th[0].mallocs, 0);
	assert_int_equal(th[1].mallocs, 1);
	assert_int_equal(th[1].cached, 1);

	buf_pool_stats(&mine);
	assert_int_equal(mine.cached, 1); /* untouched by the other thread */
	buf_pool_trim();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy_storage_and_release),
		cmocka_unit_test(test_capacity_limit),
		cmocka_unit_test(test_compaction),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_fd_io),
		cmocka_unit_test(test_write_fd_pipe_and_eagain),
		cmocka_unit_test(test_pool_reuse),
		cmocka_unit_test(test_pool_bounded),
		cmocka_unit_test(test_pool_per_thread),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	buf_pool_trim();
	return rc;
}
