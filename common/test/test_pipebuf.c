/* pipebuf.h: splice socket → pipe → socket over loopback TCP, our byte
 * count against the kernel's, back-pressure, EOF and the pipe pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/pipebuf.h"

/* A connected loopback TCP pair, both ends non-blocking. */
static void tcp_pair(int fds[2])
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(lfd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fds[0] >= 0);
	assert_int_equal(connect(fds[0], (struct sockaddr *)&sin, sizeof(sin)), 0);
	fds[1] = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	assert_true(fds[1] >= 0);
	assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
	close(lfd);
}

static size_t pipe_bytes(const struct pipebuf *pb)
{
	int n = -1;

	assert_int_equal(ioctl(pb->rfd, FIONREAD, &n), 0);
	return (size_t)n;
}

static void wait_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 5000), 1);
}

/* Write all of data to a non-blocking fd, polling when it pushes back. */
static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			assert_int_equal(errno, EAGAIN);
			assert_int_equal(poll(&pf, 1, 5000), 1);
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void test_relay_exact_counts(void **state)
{
	(void)state;
	enum { TOTAL = 300000 };
	int a[2], b[2]; /* client a[0] → proxy a[1] ... proxy b[0] → origin b[1] */
	struct pipebuf pb;
	uint8_t *data = malloc(TOTAL), *got = malloc(TOTAL);
	size_t sent = 0, in = 0, out = 0, recvd = 0;

	assert_non_null(data);
	assert_non_null(got);
	for (size_t i = 0; i < TOTAL; i++)
		data[i] = (uint8_t)(i * 31 + (i >> 8));
	tcp_pair(a);
	tcp_pair(b);
	pipebuf_init(&pb);
	assert_false(pipebuf_has_pipe(&pb));

	/* nothing to read yet */
	assert_int_equal(pipebuf_splice_in(&pb, a[1], 0), -EAGAIN);
	assert_true(pipebuf_has_pipe(&pb)); /* acquired lazily */
	assert_true(pb.cap >= 4096);
	assert_int_equal(pipebuf_splice_out(&pb, b[0], 0), 0); /* empty */

	while (recvd < TOTAL) {
		ssize_t n;

		if (sent < TOTAL) {
			n = write(a[0], data + sent, MIN((size_t)8192, TOTAL - sent));
			if (n > 0)
				sent += (size_t)n;
		}
		n = pipebuf_splice_in(&pb, a[1], 0);
		if (n > 0) {
			in += (size_t)n;
			assert_int_equal(pipebuf_len(&pb), in - out);
			assert_int_equal(pipe_bytes(&pb), pipebuf_len(&pb));
			assert_true(pipebuf_len(&pb) <= pb.cap);
		} else {
			assert_true(n == -EAGAIN || n == -ENOBUFS);
		}
		n = pipebuf_splice_out(&pb, b[0], 0);
		if (n > 0) {
			out += (size_t)n;
			assert_int_equal(pipe_bytes(&pb), pipebuf_len(&pb));
		} else {
			assert_true(n == 0 || n == -EAGAIN);
		}
		n = read(b[1], got + recvd, TOTAL - recvd);
		if (n > 0)
			recvd += (size_t)n;
		else if (sent == TOTAL && pipebuf_empty(&pb))
			wait_readable(b[1]);
	}
	assert_int_equal(in, TOTAL);
	assert_int_equal(out, TOTAL);
	assert_true(pipebuf_empty(&pb));
	assert_memory_equal(got, data, TOTAL);

	/* end of stream from the client */
	close(a[0]);
	wait_readable(a[1]);
	assert_int_equal(pipebuf_splice_in(&pb, a[1], 0), 0);

	pipebuf_fini(&pb);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	free(data);
	free(got);
	pipebuf_pool_trim();
}

static void test_backpressure_and_max(void **state)
{
	(void)state;
	int a[2], b[2];
	struct pipebuf pb;
	static uint8_t data[256 * 1024];
	ssize_t n;
	size_t in = 0;

	memset(data, 'p', sizeof(data));
	tcp_pair(a);
	tcp_pair(b);
	pipebuf_init(&pb);

	/* max bounds one splice */
	write_all(a[0], data, 100);
	wait_readable(a[1]);
	assert_int_equal(pipebuf_splice_in(&pb, a[1], 10), 10);
	assert_int_equal(pipebuf_len(&pb), 10);
	assert_int_equal(pipebuf_splice_in(&pb, a[1], 0), 90);
	assert_int_equal(pipebuf_len(&pb), 100);
	in = 100;

	/* keep feeding without draining: the pipe fills and says so */
	size_t fed = 100;
	for (;;) {
		if (fed < sizeof(data)) {
			n = write(a[0], data, sizeof(data) - fed);
			if (n > 0)
				fed += (size_t)n;
		}
		n = pipebuf_splice_in(&pb, a[1], 0);
		if (n == -ENOBUFS)
			break;
		if (n == -EAGAIN) {
			/* only possible while the pipe is empty */
			assert_true(pipebuf_empty(&pb));
			continue;
		}
		assert_true(n > 0);
		in += (size_t)n;
		assert_true(in < sizeof(data) + 1);
	}
	assert_int_equal(pipebuf_len(&pb), in);
	assert_int_equal(pipe_bytes(&pb), in);
	assert_true(in > 4096);

	/* max bounds one splice out */
	n = pipebuf_splice_out(&pb, b[0], 1000);
	assert_int_equal(n, 1000);
	assert_int_equal(pipebuf_len(&pb), in - 1000);
	assert_int_equal(pipe_bytes(&pb), pipebuf_len(&pb));

	/* draining everything makes room again */
	size_t drained = 1000;
	while (!pipebuf_empty(&pb)) {
		uint8_t sink[65536];
		n = pipebuf_splice_out(&pb, b[0], 0);
		if (n > 0)
			drained += (size_t)n;
		else
			assert_int_equal(n, -EAGAIN);
		while (read(b[1], sink, sizeof(sink)) > 0)
			;
	}
	assert_int_equal(drained, in);
	assert_int_equal(pipe_bytes(&pb), 0);
	n = pipebuf_splice_in(&pb, a[1], 0);
	assert_true(n > 0);
	assert_int_equal(pipebuf_len(&pb), (size_t)n);
	assert_int_equal(pipe_bytes(&pb), (size_t)n);

	pipebuf_fini(&pb); /* still holds data: closed, not pooled */
	struct pipebuf_pool_stats st;
	pipebuf_pool_stats(&st);
	assert_int_equal(st.cached, 0);
	assert_true(st.closed_nonempty >= 1);

	assert_int_equal(pipebuf_splice_in(&pb, -1, 0), -EBADF);
	pipebuf_fini(&pb);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	pipebuf_pool_trim();
}

static void test_pool_reuse(void **state)
{
	(void)state;
	struct pipebuf p1, p2, p3;
	struct pipebuf_pool_stats st0, st;
	int rfd;

	pipebuf_pool_trim();
	pipebuf_pool_stats(&st0);
	assert_int_equal(st0.cached, 0);

	pipebuf_init(&p1);
	assert_int_equal(pipebuf_acquire(&p1), 0);
	assert_int_equal(pipebuf_acquire(&p1), 0); /* no-op when held */
	rfd = p1.rfd;
	pipebuf_pool_stats(&st);
	assert_int_equal(st.created, st0.created + 1);

	assert_true(pipebuf_release_if_empty(&p1));
	assert_false(pipebuf_has_pipe(&p1));
	pipebuf_pool_stats(&st);
	assert_int_equal(st.cached, 1);

	pipebuf_init(&p2);
	assert_int_equal(pipebuf_acquire(&p2), 0);
	assert_int_equal(p2.rfd, rfd); /* the same pipe came back */
	pipebuf_pool_stats(&st);
	assert_int_equal(st.created, st0.created + 1);
	assert_int_equal(st.reuses, st0.reuses + 1);
	assert_int_equal(st.cached, 0);

	/* a pipe holding data stays with its owner */
	int sv[2];
	tcp_pair(sv);
	assert_int_equal(write(sv[0], "abc", 3), 3);
	wait_readable(sv[1]);
	assert_int_equal(pipebuf_splice_in(&p2, sv[1], 0), 3);
	assert_false(pipebuf_release_if_empty(&p2));
	assert_true(pipebuf_has_pipe(&p2));
	assert_int_equal(pipebuf_splice_out(&p2, sv[1], 0), 3);
	assert_true(pipebuf_release_if_empty(&p2));
	char back[3];
	wait_readable(sv[0]);
	assert_int_equal(read(sv[0], back, 3), 3);
	assert_memory_equal(back, "abc", 3);

	/* the pool is bounded */
	struct pipebuf many[PIPEBUF_POOL_MAX + 4];
	for (size_t i = 0; i < ARRAY_SIZE(many); i++) {
		pipebuf_init(&many[i]);
		assert_int_equal(pipebuf_acquire(&many[i]), 0);
	}
	for (size_t i = 0; i < ARRAY_SIZE(many); i++)
		pipebuf_fini(&many[i]);
	pipebuf_pool_stats(&st);
	assert_int_equal(st.cached, PIPEBUF_POOL_MAX);

	pipebuf_init(&p3);
	pipebuf_fini(&p3); /* holding nothing is fine */
	pipebuf_fini(NULL);
	pipebuf_pool_trim();
	pipebuf_pool_stats(&st);
	assert_int_equal(st.cached, 0);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_exact_counts),
		cmocka_unit_test(test_backpressure_and_max),
		cmocka_unit_test(test_pool_reuse),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
