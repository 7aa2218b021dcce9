/* Unit tests for common/util: allocation helpers, clocks, ASSERT. */
#include "common/util.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

struct holder {
	int a;
	double b;
	char tail[3];
};

static void test_container_of(void **state)
{
	(void)state;
	struct holder h;
	char *tail = h.tail;
	assert_ptr_equal(container_of(tail, struct holder, tail), &h);
	assert_int_equal(ARRAY_SIZE(h.tail), 3);
}

static void test_xstrdup(void **state)
{
	(void)state;
	char *s = xstrdup("proxyd");
	assert_string_equal(s, "proxyd");
	free(s);
	void *z = xcalloc(4, 8);
	for (int i = 0; i < 32; i++)
		assert_int_equal(((unsigned char *)z)[i], 0);
	z = xrealloc(z, 64);
	free(z);
}

static void test_clocks_move_forward(void **state)
{
	(void)state;
	uint64_t m1 = util_mono_ns();
	uint64_t w1 = util_wall_us();
	usleep(2000);
	uint64_t m2 = util_mono_ns();
	uint64_t w2 = util_wall_us();
	assert_true(m2 - m1 >= 2000000u);
	assert_true(w2 >= w1);
	/* Wall clock is after 2020-01-01. */
	assert_true(w1 > 1577836800ull * 1000000u);
}

static void test_assert_aborts_with_location(void **state)
{
	(void)state;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		int x = 1;
		ASSERT(x == 2);
		_exit(0);
	}
	close(fds[1]);
	char buf[256] = {0};
	ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	assert_true(n > 0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(buf, "test_util.c:"));
	assert_non_null(strstr(buf, "assertion failed: x == 2"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_container_of),
		cmocka_unit_test(test_xstrdup),
		cmocka_unit_test(test_clocks_move_forward),
		cmocka_unit_test(test_assert_aborts_with_location),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
