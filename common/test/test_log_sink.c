/* Unit tests for the structured-log drivers: stdout (captured through a
 * pipe), discard, many threads at once, syslog to a unix datagram socket and
 * to UDP loopback, and the journald field builder. */
#include "common/test/log_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/log_int.h"

/* ---- stdout driver ---------------------------------------------------- */

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stdout_driver),  cmocka_unit_test(test_discard_driver),
		cmocka_unit_test(test_stdout_threads), cmocka_unit_test(test_syslog_unix),
		cmocka_unit_test(test_syslog_options), cmocka_unit_test(test_syslog_udp),
		cmocka_unit_test(test_syslog_errors),  cmocka_unit_test(test_journal_build),
	};
	int rc;

	snprintf(g_dir, sizeof(g_dir), "/tmp/g3c-test-log-XXXXXX");
	if (!mkdtemp(g_dir))
		return 1;
	rc = cmocka_run_group_tests(tests, log_test_setup, NULL);
	rmdir(g_dir);
	return rc;
}
