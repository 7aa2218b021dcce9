/* Helpers shared by the log unit tests (header-only, static inline). */
#ifndef G3C_COMMON_TEST_LOG_TEST_H
#define G3C_COMMON_TEST_LOG_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

static char g_pid[24]; /* one per test binary */

static inline int log_test_setup(void **state)
{
	(void)state;
	log_init("proxyd", "grp", LOG_SINK_STDERR, 0);
	snprintf(g_pid, sizeof(g_pid), "%ld", (long)getpid());
	return 0;
}

/* expected = printf-style with %P standing for the pid */
static inline void expect_fmt(char *out, size_t cap, const char *tmpl)
{
	size_t o = 0;

	for (const char *p = tmpl; *p && o + 1 < cap; p++) {
		if (p[0] == '%' && p[1] == 'P') {
			size_t n = strlen(g_pid);
			memcpy(out + o, g_pid, n);
			o += n;
			p++;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

/* Minimal validator for the JSON we emit: one object whose values are
 * strings, integers or booleans, followed by "\n". */
static inline const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 5;
				continue;
			}
			if (!strchr("\"\\/bfnrt", *p) || !*p)
				return NULL;
		}
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

static inline bool json_line_valid(const char *s, size_t len)
{
	const char *p = s;

	if (len < 3 || s[len - 1] != '\n' || strlen(s) != len)
		return false;
	if (*p++ != '{')
		return false;
	if (*p == '}')
		return p + 2 == s + len;
	for (;;) {
		p = json_string(p);
		if (!p || *p++ != ':')
			return false;
		if (*p == '"') {
			p = json_string(p);
			if (!p)
				return false;
		} else if (!strncmp(p, "true", 4)) {
			p += 4;
		} else if (!strncmp(p, "false", 5)) {
			p += 5;
		} else {
			if (*p == '-')
				p++;
			if (*p < '0' || *p > '9')
				return false;
			while (*p >= '0' && *p <= '9')
				p++;
		}
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p != '}')
			return false;
		return p + 2 == s + len;
	}
}

static inline struct logger *new_logger(const struct logger_conf *c, const char *type)
{
	int err = -1;
	struct logger *lg = logger_new(c, type, &err);

	assert_non_null(lg);
	assert_int_equal(err, 0);
	return lg;
}

struct capture {
	int saved;
	int rd;
};

static inline void capture_start(struct capture *cap, int fd)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	cap->saved = dup(fd);
	assert_true(cap->saved >= 0);
	assert_true(dup2(p[1], fd) >= 0);
	close(p[1]);
	cap->rd = p[0];
}

/* Restore fd and read everything written meanwhile. */
static inline size_t capture_end(struct capture *cap, int fd, char *buf, size_t cap_len)
{
	size_t n = 0;
	ssize_t r;

	assert_true(dup2(cap->saved, fd) >= 0);
	close(cap->saved);
	while (n + 1 < cap_len && (r = read(cap->rd, buf + n, cap_len - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	close(cap->rd);
	return n;
}

#endif
