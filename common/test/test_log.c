/* Unit tests for structured records: value rendering, JSON lines, the
 * stdout / syslog / journald drivers, and the process log. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/log_int.h"

/* ---- helpers ---------------------------------------------------------- */

static char g_pid[24];

static int setup(void **state)
{
	(void)state;
	log_init("proxyd", "grp", LOG_SINK_STDERR, 0);
	snprintf(g_pid, sizeof(g_pid), "%ld", (long)getpid());
	return 0;
}

/* expected = printf-style with %P standing for the pid */
static void expect_fmt(char *out, size_t cap, const char *tmpl)
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
static const char *json_string(const char *p)
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

static bool json_line_valid(const char *s, size_t len)
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

static struct logger *new_logger(const struct logger_conf *c, const char *type)
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
static void capture_start(struct capture *cap, int fd);
static size_t capture_end(struct capture *cap, int fd, char *buf, size_t cap_len);

/* ---- value rendering -------------------------------------------------- */

static void test_fmt_dur(void **state)
{
	static const struct {
		uint64_t ns;
		const char *want;
	} cases[] = {
		{16918000, "16.918ms"},
		{111667, "111.667\xc2\xb5s"},
		{1000000000, "1.000s"},
		{999, "999.000ns"},
		{1, "1.000ns"},
		{1500, "1.500\xc2\xb5s"},
		{15827300, "15.827ms"},
		{60551499, "60.551ms"},
		{60551500, "60.552ms"},
		{999999999, "1000.000ms"},
		{1234567890123ull, "1234.568s"},
		{86400000000000ull, "86400.000s"},
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n = log_fmt_dur(cases[i].ns, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].want);
		assert_int_equal(n, strlen(cases[i].want));
	}
	/* too small a buffer: nothing, but NUL-terminated */
	assert_int_equal(log_fmt_dur(16918000, buf, 5), 0);
	assert_string_equal(buf, "");
}

static void test_fmt_time(void **state)
{
	char buf[64];

	(void)state;
	assert_int_equal(log_fmt_time(1723731973124661ull, buf, sizeof(buf)), 27);
	assert_string_equal(buf, "2024-08-15T14:26:13.124661Z");
	log_fmt_time(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
	log_fmt_time(1796727600000001ull, buf, sizeof(buf));
	assert_string_equal(buf, "2026-12-08T11:00:00.000001Z");
	assert_int_equal(log_fmt_time(1723731973124661ull, buf, 27), 0);
}

static void test_fmt_addr(void **state)
{
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(62715)};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	char buf[80];

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	assert_int_equal(log_fmt_addr((struct sockaddr *)&s4, buf, sizeof(buf)), 15);
	assert_string_equal(buf, "127.0.0.1:62715");
	inet_pton(AF_INET6, "2001:db8::1", &s6.sin6_addr);
	log_fmt_addr((struct sockaddr *)&s6, buf, sizeof(buf));
	assert_string_equal(buf, "[2001:db8::1]:443");
	inet_pton(AF_INET6, "::ffff:1.2.3.4", &s6.sin6_addr);
	log_fmt_addr((struct sockaddr *)&s6, buf, sizeof(buf));
	assert_string_equal(buf, "[::ffff:1.2.3.4]:443");
	inet_pton(AF_INET6, "fe80::1", &s6.sin6_addr);
	s6.sin6_scope_id = 2;
	log_fmt_addr((struct sockaddr *)&s6, buf, sizeof(buf));
	assert_string_equal(buf, "[fe80::1%2]:443");
	assert_int_equal(log_fmt_addr((struct sockaddr *)&su, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(log_fmt_addr(NULL, buf, sizeof(buf)), 0);
	assert_int_equal(log_fmt_addr((struct sockaddr *)&s4, buf, 10), 0);
}

/* ---- JSON ------------------------------------------------------------- */

static void test_json_all_types(void **state)
{
	struct logger_conf c = {.driver = LOGGER_DISCARD};
	struct logger *lg = new_logger(&c, "Task");
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(4128)};
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	struct log_rec r;
	char buf[1024], want[1024];
	size_t n;

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	inet_pton(AF_INET6, "::1", &s6.sin6_addr);
	log_rec_init(&r, lg);
	log_rec_str(&r, "server_type", "HttpProxy");
	log_rec_str(&r, "user", NULL); /* omitted */
	log_rec_strn(&r, "uri", "/abcdef", 4);
	log_rec_u64(&r, "c_rd_bytes", 18446744073709551615ull);
	log_rec_i64(&r, "delta", -42);
	log_rec_bool(&r, "reuse_connection", true);
	log_rec_bool(&r, "tls", false);
	log_rec_time(&r, "start_at", 1723731973124661ull);
	log_rec_dur(&r, "ready_time", 16918000);
	log_rec_dur(&r, "wait_time", 0); /* omitted */
	log_rec_addr(&r, "server_addr", (struct sockaddr *)&s4);
	log_rec_addr(&r, "next_peer_addr", (struct sockaddr *)&s6);
	log_rec_addr(&r, "unix", (struct sockaddr *)&su); /* omitted */
	log_rec_addr(&r, "none", NULL);			  /* omitted */
	log_rec_strn(&r, "empty", "", 0);
	assert_int_equal(r.n, 11);

	n = log_rec_format_json(&r, "Upstream closed", buf, sizeof(buf));
	expect_fmt(want, sizeof(want),
		   "{\"daemon_name\":\"grp\",\"pid\":%P,\"log_type\":\"Task\","
		   "\"server_type\":\"HttpProxy\",\"uri\":\"/abc\","
		   "\"c_rd_bytes\":18446744073709551615,\"delta\":-42,"
		   "\"reuse_connection\":true,\"tls\":false,"
		   "\"start_at\":\"2024-08-15T14:26:13.124661Z\",\"ready_time\":\"16.918ms\","
		   "\"server_addr\":\"127.0.0.1:4128\",\"next_peer_addr\":\"[::1]:443\","
		   "\"empty\":\"\",\"message\":\"Upstream closed\"}\n");
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	assert_true(json_line_valid(buf, n));

	/* NULL message: no "message" key */
	log_rec_init(&r, lg);
	log_rec_u64(&r, "a", 1);
	log_rec_format_json(&r, NULL, buf, sizeof(buf));
	expect_fmt(want, sizeof(want),
		   "{\"daemon_name\":\"grp\",\"pid\":%P,\"log_type\":\"Task\",\"a\":1}\n");
	assert_string_equal(buf, want);

	/* a record without a logger has no log_type */
	log_rec_init(&r, NULL);
	log_rec_format_json(&r, "", buf, sizeof(buf));
	expect_fmt(want, sizeof(want), "{\"daemon_name\":\"grp\",\"pid\":%P,\"message\":\"\"}\n");
	assert_string_equal(buf, want);
	logger_free(lg);
}

static void test_json_escaping(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
		{"a\"b\\c", 5, "a\\\"b\\\\c"},
		{"\n\r\t\b\f", 5, "\\n\\r\\t\\b\\f"},
		{"\x01\x1f\x7f", 3, "\\u0001\\u001f\\u007f"},
		{"nul\0x", 5, "nul\\u0000x"},
		{"/slash", 6, "/slash"},
		{"\xc2\xb5s \xe6\x97\xb6\xe9\x97\xb4 \xf0\x9f\x98\x80", 15,
		 "\xc2\xb5s \xe6\x97\xb6\xe9\x97\xb4 \xf0\x9f\x98\x80"},
		{"\xff", 1, "\\u00ff"},
		{"\x80x", 2, "\\u0080x"},
		{"\xc0\xaf", 2, "\\u00c0\\u00af"},			 /* overlong '/' */
		{"\xed\xa0\x80", 3, "\\u00ed\\u00a0\\u0080"},		 /* surrogate */
		{"\xf4\x90\x80\x80", 4, "\\u00f4\\u0090\\u0080\\u0080"}, /* > U+10FFFF */
		{"ab\xe4\xb8", 4, "ab\\u00e4\\u00b8"},			 /* cut sequence */
	};
	struct log_rec r;
	char buf[512], want[512];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		size_t n;
		char tmpl[256];
		log_rec_init(&r, NULL);
		log_rec_strn(&r, "k", cases[i].in, cases[i].len);
		n = log_rec_format_json(&r, NULL, buf, sizeof(buf));
		snprintf(tmpl, sizeof(tmpl), "{\"daemon_name\":\"grp\",\"pid\":%%P,\"k\":\"%s\"}\n",
			 cases[i].want);
		expect_fmt(want, sizeof(want), tmpl);
		assert_string_equal(buf, want);
		assert_true(json_line_valid(buf, n));
	}
	/* keys and the message are escaped too */
	log_rec_init(&r, NULL);
	log_rec_u64(&r, "we\"ird", 1);
	log_rec_format_json(&r, "line1\nline2", buf, sizeof(buf));
	expect_fmt(want, sizeof(want),
		   "{\"daemon_name\":\"grp\",\"pid\":%P,\"we\\\"ird\":1,"
		   "\"message\":\"line1\\nline2\"}\n");
	assert_string_equal(buf, want);
}

/* Every cap from 0 to the full length gives valid JSON (or nothing), a
 * prefix-consistent cut, never a split UTF-8 sequence or escape. */
static void test_json_truncation(void **state)
{
	struct log_rec r;
	char full[8192], buf[8192], big[3 * 700 + 1];
	size_t flen, prev = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(big) - 1; i += 3)
		memcpy(big + i, (i / 3) % 5 == 0 ? "\"\x01\n" : "\xe6\x97\xb6", 3);
	big[sizeof(big) - 1] = '\0';
	log_rec_init(&r, NULL);
	log_rec_u64(&r, "before", 12345);
	log_rec_str(&r, "uri", big);
	log_rec_u64(&r, "after", 7);
	flen = log_rec_format_json(&r, "msg", full, sizeof(full));
	assert_true(flen > 3000);
	assert_true(json_line_valid(full, flen));
	assert_non_null(strstr(full, ",\"after\":7,\"message\":\"msg\"}\n"));

	for (size_t cap = 0; cap <= flen + 1; cap++) {
		size_t n;
		memset(buf, 'Z', sizeof(buf));
		n = log_rec_format_json(&r, "msg", buf, cap);
		if (cap < 4) {
			assert_int_equal(n, 0);
			if (cap)
				assert_int_equal(buf[0], '\0');
			continue;
		}
		assert_true(n < cap);
		assert_int_equal(buf[n], '\0');
		if (cap < sizeof(buf))
			assert_int_equal(buf[cap], 'Z'); /* nothing written past cap */
		if (!json_line_valid(buf, n))
			fail_msg("invalid JSON at cap %zu: %s", cap, buf);
		assert_true(n >= prev); /* output only grows with cap */
		prev = n;
		/* no UTF-8 sequence is split: the cut never leaves a lead byte
		 * without its continuation bytes */
		for (size_t i = 0; i < n; i++) {
			size_t l = log_utf8_len((const uint8_t *)buf + i, n - i);
			assert_true(l > 0);
			i += l - 1;
		}
		if (cap > flen) {
			assert_int_equal(n, flen);
			assert_memory_equal(buf, full, flen);
		} else if (n > 40 && cap < flen - 30) {
			/* cut inside uri: "after" and the message are left out */
			assert_null(strstr(buf, "\"after\""));
			assert_null(strstr(buf, "\"message\""));
			assert_non_null(strstr(buf, "\"before\":12345"));
		}
	}
}

static void test_field_overflow(void **state)
{
	struct logger_conf c = {.driver = LOGGER_DISCARD};
	struct logger *lg = new_logger(&c, "Task");
	struct log_rec r;
	char key[LOG_REC_MAX_FIELDS + 2][8];
	char buf[4096];

	(void)state;
	log_rec_init(&r, lg);
	for (unsigned i = 0; i < LOG_REC_MAX_FIELDS + 2; i++) {
		snprintf(key[i], sizeof(key[i]), "k%u", i);
		log_rec_u64(&r, key[i], i);
	}
	assert_int_equal(r.n, LOG_REC_MAX_FIELDS);
	assert_int_equal(r.dropped, 2);
	log_rec_format_json(&r, NULL, buf, sizeof(buf));
	assert_non_null(strstr(buf, "\"k47\":47}"));
	assert_null(strstr(buf, "\"k48\""));
	logger_free(lg);

	/* an emitting logger counts the dropped fields */
	{
		struct logger_conf oc = {.driver = LOGGER_STDOUT};
		struct logger_stats st;
		struct capture cap;
		lg = new_logger(&oc, "Task");
		r.lg = lg;
		capture_start(&cap, STDOUT_FILENO);
		log_rec_emit(&r, NULL);
		capture_end(&cap, STDOUT_FILENO, buf, sizeof(buf));
		assert_non_null(strstr(buf, "\"k47\":47}\n"));
		logger_stats_get(lg, &st);
		assert_int_equal(st.fields_dropped, 2);
		assert_int_equal(st.msg_pass, 1);
		logger_free(lg);
	}
}

/* ---- stdout driver ---------------------------------------------------- */

static void capture_start(struct capture *cap, int fd)
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
static size_t capture_end(struct capture *cap, int fd, char *buf, size_t cap_len)
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

static void test_stdout_driver(void **state)
{
	struct logger_conf c = {.driver = LOGGER_STDOUT};
	struct logger *lg = new_logger(&c, "Escape");
	struct logger_stats st;
	struct capture cap;
	struct log_rec r;
	char out[1024], want[1024];
	size_t n;

	(void)state;
	assert_true(logger_enabled(lg));
	capture_start(&cap, STDOUT_FILENO);
	log_rec_init(&r, lg);
	log_rec_str(&r, "escaper_type", "DirectFixed");
	log_rec_u64(&r, "tcp_connect_tries", 3);
	log_rec_emit(&r, "connect refused");
	log_rec_init(&r, lg);
	log_rec_str(&r, "escape_type", "TlsHandshake");
	log_rec_emit(&r, NULL);
	n = capture_end(&cap, STDOUT_FILENO, out, sizeof(out));

	expect_fmt(want, sizeof(want),
		   "{\"daemon_name\":\"grp\",\"pid\":%P,\"log_type\":\"Escape\","
		   "\"escaper_type\":\"DirectFixed\",\"tcp_connect_tries\":3,"
		   "\"message\":\"connect refused\"}\n"
		   "{\"daemon_name\":\"grp\",\"pid\":%P,\"log_type\":\"Escape\","
		   "\"escape_type\":\"TlsHandshake\"}\n");
	assert_string_equal(out, want);
	logger_stats_get(lg, &st);
	assert_int_equal(st.msg_total, 2);
	assert_int_equal(st.msg_pass, 2);
	assert_int_equal(st.msg_drop, 0);
	assert_int_equal(st.bytes_pass, n);
	logger_free(lg);
}

static void test_discard_driver(void **state)
{
	struct logger_conf c = {.driver = LOGGER_DISCARD};
	struct logger *lg = new_logger(&c, "Task");
	struct logger_stats st;
	struct capture cap;
	struct log_rec r;
	char out[256];

	(void)state;
	assert_false(logger_enabled(lg));
	assert_false(logger_enabled(NULL));
	capture_start(&cap, STDOUT_FILENO);
	log_rec_init(&r, lg);
	log_rec_u64(&r, "a", 1);
	log_rec_emit(&r, "x");
	log_rec_init(&r, NULL);
	log_rec_emit(&r, "y");
	assert_int_equal(capture_end(&cap, STDOUT_FILENO, out, sizeof(out)), 0);
	logger_stats_get(lg, &st);
	assert_int_equal(st.msg_total, 0);
	logger_free(lg);
	logger_free(NULL);
}

/* Records from many threads, each longer than PIPE_BUF, come out whole. */
struct th_arg {
	struct logger *lg;
	unsigned id;
};

#define TH_N 4
#define TH_RECS 100

static void *emit_thread(void *p)
{
	struct th_arg *a = p;
	char pad[6000];

	memset(pad, 'a' + (int)a->id, sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (unsigned i = 0; i < TH_RECS; i++) {
		struct log_rec r;
		log_rec_init(&r, a->lg);
		log_rec_u64(&r, "thread", a->id);
		log_rec_u64(&r, "seq", i);
		log_rec_str(&r, "pad", pad);
		log_rec_emit(&r, NULL);
	}
	return NULL;
}

struct drain_arg {
	int fd;
	char *buf;
	size_t cap, len;
};

static void *drain_thread(void *p)
{
	struct drain_arg *d = p;
	ssize_t r;

	while (d->len < d->cap && (r = read(d->fd, d->buf + d->len, d->cap - d->len)) > 0)
		d->len += (size_t)r;
	return NULL;
}

static void test_stdout_threads(void **state)
{
	struct logger_conf c = {.driver = LOGGER_STDOUT};
	struct logger *lg = new_logger(&c, "Task");
	struct th_arg args[TH_N];
	pthread_t th[TH_N], dr;
	struct drain_arg d = {0};
	unsigned seen[TH_N] = {0};
	struct capture cap;
	size_t lines = 0;
	char tail[16];

	(void)state;
	d.cap = (size_t)TH_N * TH_RECS * 6200;
	d.buf = malloc(d.cap + 1);
	assert_non_null(d.buf);
	capture_start(&cap, STDOUT_FILENO);
	d.fd = cap.rd;
	assert_int_equal(pthread_create(&dr, NULL, drain_thread, &d), 0);
	for (unsigned i = 0; i < TH_N; i++) {
		args[i].lg = lg;
		args[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, emit_thread, &args[i]), 0);
	}
	for (unsigned i = 0; i < TH_N; i++)
		pthread_join(th[i], NULL);
	/* restoring stdout closes the pipe's last write end: the drainer ends */
	assert_true(dup2(cap.saved, STDOUT_FILENO) >= 0);
	close(cap.saved);
	pthread_join(dr, NULL);
	close(cap.rd);
	d.buf[d.len] = '\0';

	for (char *line = d.buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		unsigned t, s;
		char *p;
		size_t len = (size_t)(nl - line) + 1;
		char saved = nl[1];
		nl[1] = '\0';
		assert_true(json_line_valid(line, len));
		nl[1] = saved;
		p = strstr(line, "\"thread\":");
		assert_non_null(p);
		assert_int_equal(sscanf(p, "\"thread\":%u,\"seq\":%u", &t, &s), 2);
		assert_true(t < TH_N);
		assert_int_equal(s, seen[t]); /* in order per thread */
		seen[t]++;
		/* the pad is all one letter: no interleaving inside a line */
		snprintf(tail, sizeof(tail), "%c\"}", 'a' + t);
		assert_non_null(strstr(line, tail));
		lines++;
	}
	assert_int_equal(lines, TH_N * TH_RECS);
	free(d.buf);
	logger_free(lg);
}

/* ---- syslog driver ---------------------------------------------------- */

static char g_dir[64];

static int bind_unix_dgram(const char *path)
{
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	snprintf(su.sun_path, sizeof(su.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&su, sizeof(su)), 0);
	return fd;
}

static size_t recv_dgram(int fd, char *buf, size_t cap)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	assert_int_equal(poll(&pfd, 1, 2000), 1);
	n = recv(fd, buf, cap - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	return (size_t)n;
}

/* Check "<PRI>1 TIMESTAMP " and return what follows the timestamp. */
static const char *check_syslog_head(const char *d, const char *pri)
{
	size_t pl = strlen(pri);
	const char *ts;

	assert_memory_equal(d, pri, pl);
	assert_memory_equal(d + pl, "1 ", 2);
	ts = d + pl + 2;
	/* 2026-11-27T11:00:00.123456Z */
	for (int i = 0; i < 27; i++) {
		const char *shape = "dddd-dd-ddTdd:dd:dd.ddddddZ";
		if (shape[i] == 'd')
			assert_true(ts[i] >= '0' && ts[i] <= '9');
		else
			assert_int_equal(ts[i], shape[i]);
	}
	assert_int_equal(ts[27], ' ');
	return ts + 28;
}

static void test_syslog_unix(void **state)
{
	struct logger_conf c = {.driver = LOGGER_SYSLOG};
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(62715)};
	struct logger *lg;
	struct logger_stats st;
	struct log_rec r;
	char path[100], d[4096], want[1024];
	const char *rest;
	int fd;

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	snprintf(path, sizeof(path), "%s/syslog.sock", g_dir);
	fd = bind_unix_dgram(path);
	snprintf(c.syslog_unix, sizeof(c.syslog_unix), "%s", path);
	lg = new_logger(&c, "Task");

	log_rec_init(&r, lg);
	log_rec_str(&r, "server_name", "http 1");
	log_rec_u64(&r, "c_rd_bytes", 670);
	log_rec_bool(&r, "reuse", false);
	log_rec_addr(&r, "client_addr", (struct sockaddr *)&s4);
	log_rec_dur(&r, "wait_time", 111667);
	log_rec_str(&r, "uri", "/a\"b\\c\td]\x01\xff");
	log_rec_emit(&r, NULL);
	recv_dgram(fd, d, sizeof(d));
	rest = check_syslog_head(d, "<30>");
	expect_fmt(want, sizeof(want),
		   "- proxyd %P - - daemon_name=\"grp\", pid=%P, log_type=\"Task\", "
		   "server_name=\"http 1\", c_rd_bytes=670, reuse=false, "
		   "client_addr=\"127.0.0.1:62715\", wait_time=\"111.667\xc2\xb5s\", "
		   "uri=\"/a\\\"b\\\\c\\td]\\u{1}\\xff\"");
	assert_string_equal(rest, want);

	/* the message goes first */
	log_rec_init(&r, lg);
	log_rec_u64(&r, "n", 1);
	log_rec_emit(&r, "it's\nbroken");
	recv_dgram(fd, d, sizeof(d));
	rest = check_syslog_head(d, "<30>");
	expect_fmt(want, sizeof(want),
		   "- proxyd %P - - it\\'s\\nbroken, daemon_name=\"grp\", pid=%P, "
		   "log_type=\"Task\", n=1");
	assert_string_equal(rest, want);

	logger_stats_get(lg, &st);
	assert_int_equal(st.msg_pass, 2);
	logger_free(lg);
	close(fd);
	unlink(path);
}

static void test_syslog_options(void **state)
{
	struct logger_conf c = {.driver = LOGGER_SYSLOG,
				.syslog_facility = 16,
				.syslog_emit_hostname = true,
				.syslog_report_ts = true};
	struct logger *lg;
	struct log_rec r;
	char path[100], d[4096], want[1024], host[256] = "";
	const char *rest;
	unsigned long long ts;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/opt.sock", g_dir);
	fd = bind_unix_dgram(path);
	snprintf(c.syslog_unix, sizeof(c.syslog_unix), "%s", path);
	snprintf(c.syslog_msgid, sizeof(c.syslog_msgid), "TASK");
	lg = new_logger(&c, "Task");
	gethostname(host, sizeof(host) - 1);

	log_rec_init(&r, lg);
	log_rec_str(&r, "k", "v");
	log_rec_emit(&r, NULL);
	recv_dgram(fd, d, sizeof(d));
	rest = check_syslog_head(d, "<134>"); /* local0.info */
	expect_fmt(want, sizeof(want), " proxyd %P TASK - daemon_name=\"grp\", pid=%P, ");
	assert_memory_equal(rest, host, strlen(host));
	rest += strlen(host);
	assert_memory_equal(rest, want, strlen(want));
	rest += strlen(want);
	assert_int_equal(sscanf(rest, "log_type=\"Task\", k=\"v\", report_ts=%llu", &ts), 1);
	assert_true(ts > 1700000000ull);
	logger_free(lg);

	/* CEE: a JSON body with "msg" after the flag */
	memset(&c, 0, sizeof(c));
	c.driver = LOGGER_SYSLOG;
	c.syslog_cee = true;
	snprintf(c.syslog_unix, sizeof(c.syslog_unix), "%s", path);
	lg = new_logger(&c, "Resolve");
	log_rec_init(&r, lg);
	log_rec_str(&r, "domain", "example.com");
	log_rec_emit(&r, "timeout");
	recv_dgram(fd, d, sizeof(d));
	rest = check_syslog_head(d, "<30>");
	expect_fmt(want, sizeof(want),
		   "- proxyd %P - - @cee:{\"daemon_name\":\"grp\",\"pid\":%P,"
		   "\"log_type\":\"Resolve\",\"domain\":\"example.com\",\"msg\":\"timeout\"}");
	assert_string_equal(rest, want);
	logger_free(lg);
	close(fd);
	unlink(path);
}

static void test_syslog_udp(void **state)
{
	struct logger_conf c = {.driver = LOGGER_SYSLOG, .syslog_udp = true};
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	struct logger *lg;
	struct log_rec r;
	char d[LOG_REC_BUF_SIZE + 64], want[512], big[20000];
	const char *rest;
	size_t n;
	int fd;

	(void)state;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	memcpy(&c.syslog_addr, &sin, sizeof(sin));
	c.syslog_addrlen = sizeof(sin);
	lg = new_logger(&c, "Task");

	log_rec_init(&r, lg);
	log_rec_i64(&r, "x", -1);
	log_rec_emit(&r, NULL);
	recv_dgram(fd, d, sizeof(d));
	rest = check_syslog_head(d, "<30>");
	expect_fmt(want, sizeof(want),
		   "- proxyd %P - - daemon_name=\"grp\", pid=%P, log_type=\"Task\", x=-1");
	assert_string_equal(rest, want);

	/* an oversized record is cut to one 16 KiB datagram, still quoted */
	memset(big, 'u', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_rec_init(&r, lg);
	log_rec_str(&r, "uri", big);
	log_rec_u64(&r, "after", 1);
	log_rec_emit(&r, NULL);
	n = recv_dgram(fd, d, sizeof(d));
	assert_int_equal(n, LOG_REC_BUF_SIZE);
	assert_int_equal(d[n - 1], '"');
	assert_int_equal(d[n - 2], 'u');
	assert_null(strstr(d, "after="));
	{
		struct logger_stats st;
		logger_stats_get(lg, &st);
		assert_int_equal(st.truncated, 1);
		assert_int_equal(st.msg_pass, 2);
	}
	logger_free(lg);
	close(fd);
}

static void test_syslog_errors(void **state)
{
	struct logger_conf c = {.driver = LOGGER_SYSLOG};
	struct logger_stats st;
	struct logger *lg;
	struct log_rec r;
	int err = 0;

	(void)state;
	/* nobody listens: the record is dropped and counted, nothing blocks */
	snprintf(c.syslog_unix, sizeof(c.syslog_unix), "%s/absent.sock", g_dir);
	lg = new_logger(&c, "Task");
	log_rec_init(&r, lg);
	log_rec_emit(&r, "lost");
	logger_stats_get(lg, &st);
	assert_int_equal(st.msg_total, 1);
	assert_int_equal(st.msg_drop, 1);
	assert_int_equal(st.msg_pass, 0);
	logger_free(lg);

	/* a path without room for its NUL in sun_path */
	memset(c.syslog_unix, 'p', sizeof(c.syslog_unix));
	assert_null(logger_new(&c, "Task", &err));
	assert_int_equal(err, -ENAMETOOLONG);

	/* UDP without an address */
	memset(&c, 0, sizeof(c));
	c.driver = LOGGER_SYSLOG;
	c.syslog_udp = true;
	assert_null(logger_new(&c, "Task", &err));
	assert_int_equal(err, -EINVAL);
}

/* ---- journald fields -------------------------------------------------- */

static void test_journal_build(void **state)
{
	struct logger_conf c = {.driver = LOGGER_DISCARD};
	struct logger *lg = new_logger(&c, "Task");
	struct iovec iov[LOG_JOURNAL_MAX_IOV];
	struct log_rec r;
	char buf[1024], want[64];
	bool trunc = true;
	size_t n;
	static const char *const fixed[] = {
		"MESSAGE=bad\nthing",
		"PRIORITY=6",
		"SYSLOG_IDENTIFIER=proxyd",
		"DAEMON_NAME=grp",
	};

	(void)state;
	log_rec_init(&r, lg);
	log_rec_str(&r, "task_id", "537cc6ff");
	log_rec_u64(&r, "c_rd_bytes", 670);
	log_rec_dur(&r, "total_time", 60551000);
	log_rec_str(&r, "x-odd.key", "v");
	log_rec_str(&r, "9lives", "w");
	n = log_journal_build(&r, "bad\nthing", "proxyd", buf, sizeof(buf), iov, ARRAY_SIZE(iov),
			      &trunc);
	assert_int_equal(n, 11);
	assert_false(trunc);
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
		assert_int_equal(iov[i].iov_len, strlen(fixed[i]));
		assert_memory_equal(iov[i].iov_base, fixed[i], iov[i].iov_len);
	}
	snprintf(want, sizeof(want), "PID=%s", g_pid);
	assert_int_equal(iov[4].iov_len, strlen(want));
	assert_memory_equal(iov[4].iov_base, want, strlen(want));
#define IOV_IS(i, s)                                                \
	do {                                                        \
		assert_int_equal(iov[i].iov_len, strlen(s));        \
		assert_memory_equal(iov[i].iov_base, s, strlen(s)); \
	} while (0)
	IOV_IS(5, "LOG_TYPE=Task");
	IOV_IS(6, "TASK_ID=537cc6ff");
	IOV_IS(7, "C_RD_BYTES=670");
	IOV_IS(8, "TOTAL_TIME=60.551ms");
	IOV_IS(9, "X_ODD_KEY=v");
	IOV_IS(10, "F_9LIVES=w");

	/* NULL message → empty MESSAGE; a small buffer cuts and stops */
	n = log_journal_build(&r, NULL, "proxyd", buf, 60, iov, ARRAY_SIZE(iov), &trunc);
	IOV_IS(0, "MESSAGE=");
	assert_true(trunc);
	assert_true(n < 11);
	{
		size_t total = 0;
		for (size_t i = 0; i < n; i++)
			total += iov[i].iov_len;
		assert_true(total <= 60);
	}
	/* fewer iovecs than fields: cut there and report it */
	n = log_journal_build(&r, NULL, "proxyd", buf, sizeof(buf), iov, 7, &trunc);
	assert_int_equal(n, 7);
	assert_true(trunc);
#undef IOV_IS
	logger_free(lg);
}

/* ---- process log ------------------------------------------------------ */

static void test_process_log(void **state)
{
	struct capture cap;
	char out[1024];
	const char *p;
	int line;

	(void)state;
	log_init("proxyd", "grp", LOG_SINK_STDERR, 0);
	assert_int_equal(log_threshold, LOG_LVL_WARN);
	assert_string_equal(log_ident(), "proxyd");
	assert_string_equal(log_group(), "grp");
	capture_start(&cap, STDERR_FILENO);
	log_info("dropped %d", 1);
	line = __LINE__ + 1;
	log_warn("hello %d", 42);
	errno = EPIPE;
	log_err("e");
	assert_int_equal(errno, EPIPE); /* logging keeps errno */
	capture_end(&cap, STDERR_FILENO, out, sizeof(out));

	/* "2026-11-27T11:00:00.123456Z WARN common/test/test_log.c:123: hello 42\n" */
	p = strchr(out, ' ');
	assert_non_null(p);
	assert_int_equal(p - out, 27);
	assert_int_equal(out[26], 'Z');
	{
		char want[256];
		snprintf(want, sizeof(want), " WARN %s:%d: hello 42\n", __FILE__, line);
		assert_memory_equal(p, want, strlen(want));
		p = strchr(p, '\n') + 1;
		snprintf(want, sizeof(want), " ERROR %s:%d: e\n", __FILE__, line + 2);
		assert_non_null(strstr(p, want));
	}
	assert_null(strstr(out, "dropped"));

	log_init("proxyd", "grp", LOG_SINK_STDERR, 1);
	assert_int_equal(log_threshold, LOG_LVL_NOTICE);
	log_init("proxyd", "grp", LOG_SINK_STDERR, 2);
	assert_int_equal(log_threshold, LOG_LVL_INFO);
	log_init("proxyd", "grp", LOG_SINK_STDERR, 7);
	assert_int_equal(log_threshold, LOG_LVL_DEBUG);
	capture_start(&cap, STDERR_FILENO);
	log_debug("now shown");
	capture_end(&cap, STDERR_FILENO, out, sizeof(out));
	assert_non_null(strstr(out, " DEBUG "));
	assert_non_null(strstr(out, ": now shown\n"));
	log_init("proxyd", "grp", LOG_SINK_STDERR, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_dur),	       cmocka_unit_test(test_fmt_time),
		cmocka_unit_test(test_fmt_addr),       cmocka_unit_test(test_json_all_types),
		cmocka_unit_test(test_json_escaping),  cmocka_unit_test(test_json_truncation),
		cmocka_unit_test(test_field_overflow), cmocka_unit_test(test_stdout_driver),
		cmocka_unit_test(test_discard_driver), cmocka_unit_test(test_stdout_threads),
		cmocka_unit_test(test_syslog_unix),    cmocka_unit_test(test_syslog_options),
		cmocka_unit_test(test_syslog_udp),     cmocka_unit_test(test_syslog_errors),
		cmocka_unit_test(test_journal_build),  cmocka_unit_test(test_process_log),
	};
	int rc;

	snprintf(g_dir, sizeof(g_dir), "/tmp/g3c-test-log-XXXXXX");
	if (!mkdtemp(g_dir))
		return 1;
	rc = cmocka_run_group_tests(tests, setup, NULL);
	rmdir(g_dir);
	return rc;
}
