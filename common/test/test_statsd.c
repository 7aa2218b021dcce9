/* Unit tests for the StatsD client: exact wire lines received on UDP and
 * unix datagram sockets, packing into segments, tag sanitising, counter
 * deltas, and the `stat:` config key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/statsd.h"

static char g_dir[64];

/* ---- receiving -------------------------------------------------------- */

static int udp_listener(struct statsd_conf *c)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	statsd_conf_defaults(c, "proxyd");
	c->enabled = true;
	memcpy(&c->addr, &sin, sizeof(sin));
	c->addrlen = sizeof(sin);
	return fd;
}

/* One datagram, NUL-terminated; 0 when none arrives within `ms`. */
static size_t recv_dgram(int fd, char *buf, size_t cap, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	n = recv(fd, buf, cap - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	return (size_t)n;
}

static struct statsd *new_client(const struct statsd_conf *c, const char *group)
{
	int err = 1;
	struct statsd *s = statsd_new(c, group, &err);

	assert_non_null(s);
	assert_int_equal(err, 0);
	return s;
}

/* ---- wire format ------------------------------------------------------ */

static void test_udp_lines(void **state)
{
	struct statsd_conf c;
	struct statsd_tags t;
	struct statsd_stats st;
	struct statsd *s;
	char d[2048], want[1024];
	uint64_t id;
	int fd;

	(void)state;
	fd = udp_listener(&c);
	s = new_client(&c, "test");
	id = statsd_client_stat_id(s);
	statsd_tags_init(&t);
	statsd_tags_add(&t, "server", "http");
	statsd_tags_add(&t, "online", "y");

	statsd_begin(s);
	statsd_count(s, "server.task.total", 3, &t);
	statsd_gauge(s, "server.task.alive", -1, &t);
	statsd_count(s, "listen.accepted", 0, NULL);
	statsd_end(s);
	recv_dgram(fd, d, sizeof(d), 2000);
	snprintf(want, sizeof(want),
		 "proxyd.server.task.total:3|c|#daemon_group:test,stat_id:%" PRIu64
		 ",server:http,online:y\n"
		 "proxyd.server.task.alive:-1|g|#daemon_group:test,stat_id:%" PRIu64
		 ",server:http,online:y\n"
		 "proxyd.listen.accepted:0|c|#daemon_group:test,stat_id:%" PRIu64,
		 id, id, id);
	assert_string_equal(d, want);

	/* an empty cycle sends nothing */
	statsd_begin(s);
	statsd_end(s);
	assert_int_equal(recv_dgram(fd, d, sizeof(d), 50), 0);

	statsd_stats_get(s, &st);
	assert_int_equal(st.lines, 3);
	assert_int_equal(st.datagrams, 1);
	assert_int_equal(st.bytes, strlen(want));
	assert_int_equal(st.lines_dropped, 0);
	assert_int_equal(st.send_errors, 0);
	statsd_free(s);
	statsd_free(NULL);

	/* no group: no daemon_group tag; an empty prefix: no leading dot */
	c.prefix[0] = '\0';
	s = new_client(&c, "");
	statsd_begin(s);
	statsd_gauge(s, "runtime.alive", 7, NULL);
	statsd_end(s);
	recv_dgram(fd, d, sizeof(d), 2000);
	snprintf(want, sizeof(want), "runtime.alive:7|g|#stat_id:%" PRIu64,
		 statsd_client_stat_id(s));
	assert_string_equal(d, want);
	statsd_free(s);

	/* the group is sanitised like any tag value */
	snprintf(c.prefix, sizeof(c.prefix), "g3proxy");
	s = new_client(&c, "my group#1");
	statsd_begin(s);
	statsd_count(s, "a", 18446744073709551615ull, NULL);
	statsd_end(s);
	recv_dgram(fd, d, sizeof(d), 2000);
	snprintf(want, sizeof(want),
		 "g3proxy.a:18446744073709551615|c|#daemon_group:my_group_1,stat_id:%" PRIu64,
		 statsd_client_stat_id(s));
	assert_string_equal(d, want);
	statsd_free(s);
	close(fd);
}

static void test_unix_lines(void **state)
{
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	struct statsd_conf c;
	struct statsd *s;
	char d[2048], want[256];
	int fd;

	(void)state;
	snprintf(su.sun_path, sizeof(su.sun_path), "%s/statsd.sock", g_dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&su, sizeof(su)), 0);
	statsd_conf_defaults(&c, "tilesd");
	c.is_unix = true;
	memcpy(&c.addr, &su, sizeof(su));
	c.addrlen = sizeof(su);
	c.max_segment_size = 4096;
	s = new_client(&c, "g1");

	statsd_begin(s);
	statsd_count(s, "escaper.task.total", 12, NULL);
	statsd_end(s);
	recv_dgram(fd, d, sizeof(d), 2000);
	snprintf(want, sizeof(want),
		 "tilesd.escaper.task.total:12|c|#daemon_group:g1,stat_id:%" PRIu64,
		 statsd_client_stat_id(s));
	assert_string_equal(d, want);
	statsd_free(s);
	close(fd);
	unlink(su.sun_path);
}

/* Lines are packed up to the segment size, never split, in order. */
static void test_packing(void **state)
{
	struct statsd_conf c;
	struct statsd_stats st;
	struct statsd *s;
	char d[2048], line[256];
	char all[8192] = "";
	size_t got = 0, nd = 0;
	int fd;

	(void)state;
	fd = udp_listener(&c);
	c.max_segment_size = 200;
	s = new_client(&c, NULL);
	statsd_begin(s);
	for (int i = 0; i < 20; i++) {
		char name[32];
		snprintf(name, sizeof(name), "m%02d", i);
		statsd_count(s, name, (uint64_t)i, NULL);
	}
	statsd_end(s);

	while ((got = recv_dgram(fd, d, sizeof(d), 200)) > 0) {
		assert_true(got <= 200);
		assert_true(d[0] != '\n' && d[got - 1] != '\n');
		/* each datagram holds whole lines: would the next line have fit? */
		strcat(all, d);
		strcat(all, "\n");
		nd++;
	}
	{
		/* every line, in order, exactly once */
		char *p = all;
		int i = 0;
		size_t llen;
		for (; i < 20; i++) {
			snprintf(line, sizeof(line), "proxyd.m%02d:%d|c|#stat_id:%" PRIu64 "\n", i,
				 i, statsd_client_stat_id(s));
			llen = strlen(line);
			assert_memory_equal(p, line, llen);
			p += llen;
		}
		assert_int_equal(*p, '\0');
		/* 20 lines of llen-1 bytes joined by '\n': k lines need k*llen-1 */
		{
			size_t per = (200 + 1) / llen;
			assert_int_equal(nd, (20 + per - 1) / per);
		}
	}
	statsd_stats_get(s, &st);
	assert_int_equal(st.datagrams, nd);
	assert_int_equal(st.lines, 20);
	statsd_free(s);
	close(fd);
}

/* A line longer than the segment is dropped and counted; one that fills
 * the segment exactly is sent alone. */
static void test_long_lines(void **state)
{
	struct statsd_conf c;
	struct statsd_stats st;
	struct statsd *s;
	char d[2048], name[400], want[512];
	size_t base, n;
	int fd;

	(void)state;
	fd = udp_listener(&c);
	c.max_segment_size = 100;
	s = new_client(&c, NULL);
	/* "proxyd." + name + ":1|c|#stat_id:" + id */
	snprintf(want, sizeof(want), "proxyd.:1|c|#stat_id:%" PRIu64, statsd_client_stat_id(s));
	base = strlen(want);

	memset(name, 'x', sizeof(name));
	name[300] = '\0';
	statsd_begin(s);
	statsd_count(s, "before", 1, NULL);
	statsd_count(s, name, 1, NULL); /* too long */
	name[100 - base] = '\0';	/* exactly 100 bytes */
	statsd_count(s, name, 1, NULL);
	statsd_count(s, "after", 1, NULL);
	statsd_end(s);

	recv_dgram(fd, d, sizeof(d), 2000);
	snprintf(want, sizeof(want), "proxyd.before:1|c|#stat_id:%" PRIu64,
		 statsd_client_stat_id(s));
	assert_string_equal(d, want);
	n = recv_dgram(fd, d, sizeof(d), 2000);
	assert_int_equal(n, 100);
	assert_memory_equal(d, "proxyd.xxx", 10);
	recv_dgram(fd, d, sizeof(d), 2000);
	assert_non_null(strstr(d, "proxyd.after:1|c|"));
	assert_int_equal(recv_dgram(fd, d, sizeof(d), 50), 0);

	statsd_stats_get(s, &st);
	assert_int_equal(st.lines_dropped, 1);
	assert_int_equal(st.lines, 3);
	assert_int_equal(st.datagrams, 3);
	statsd_free(s);
	close(fd);
}

static void test_send_errors(void **state)
{
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	struct statsd_conf c;
	struct statsd_stats st;
	struct statsd *s;
	int err = 0;

	(void)state;
	/* nobody bound at the path: counted, never blocks */
	snprintf(su.sun_path, sizeof(su.sun_path), "%s/absent.sock", g_dir);
	statsd_conf_defaults(&c, "proxyd");
	c.is_unix = true;
	memcpy(&c.addr, &su, sizeof(su));
	c.addrlen = sizeof(su);
	s = new_client(&c, NULL);
	statsd_begin(s);
	statsd_count(s, "x", 1, NULL);
	statsd_end(s);
	statsd_stats_get(s, &st);
	assert_int_equal(st.send_errors, 1);
	assert_int_equal(st.datagrams, 0);
	statsd_free(s);

	/* a segment size no line can use */
	c.max_segment_size = 8;
	assert_null(statsd_new(&c, NULL, &err));
	assert_int_equal(err, -EINVAL);
}

/* ---- tags, ids, deltas ------------------------------------------------ */

static void test_tags(void **state)
{
	struct statsd_tags t;
	char big[300];

	(void)state;
	statsd_tags_init(&t);
	assert_int_equal(t.len, 0);
	assert_string_equal(t.s, "");
	statsd_tags_add(&t, "user", "bob smith@x.com:1,2#|");
	statsd_tags_add(&t, "user group", "A-z_0.9/");
	statsd_tags_add(&t, "empty", NULL);
	statsd_tags_add_u64(&t, "n", 42);
	statsd_tags_add(&t, "utf8", "\xc3\xa9t\xc3\xa9");
	assert_string_equal(t.s, "user:bob_smith_x.com_1_2__,user_group:A-z_0.9/,empty:,n:42,"
				 "utf8:__t__");
	assert_int_equal(t.len, strlen(t.s));
	assert_int_equal(t.dropped, 0);

	/* a tag that does not fit is left out whole */
	statsd_tags_init(&t);
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	statsd_tags_add(&t, "a", "1");
	statsd_tags_add(&t, "big", big);
	assert_string_equal(t.s, "a:1");
	assert_int_equal(t.len, 3);
	assert_int_equal(t.dropped, 1);
	big[240] = '\0';
	statsd_tags_add(&t, "b", big); /* 3 + 1 + 2 + 240 = 246 bytes: fits */
	assert_int_equal(t.len, 246);
	statsd_tags_add(&t, "c", "123456789"); /* 246 + 11 > 255 */
	assert_int_equal(t.len, 246);
	assert_int_equal(t.dropped, 2);
	assert_int_equal(t.s[246], '\0');
}

static void test_ids_and_deltas(void **state)
{
	struct statsd_counter ctr = {0};
	uint64_t a = statsd_stat_id_new(), b = statsd_stat_id_new();

	(void)state;
	assert_int_not_equal(a, b);
	assert_int_equal(a >> 32, (uint64_t)getpid());
	assert_int_equal(b >> 32, (uint64_t)getpid());

	assert_int_equal(statsd_counter_delta(&ctr, 0), 0);
	assert_int_equal(statsd_counter_delta(&ctr, 5), 5);
	assert_int_equal(statsd_counter_delta(&ctr, 5), 0);
	assert_int_equal(statsd_counter_delta(&ctr, 12), 7);
	assert_int_equal(statsd_counter_delta(&ctr, 3), 3); /* reset */
	assert_int_equal(statsd_counter_delta(&ctr, 4), 1);
}

/* ---- config ----------------------------------------------------------- */

static int parse(const char *yaml, struct statsd_conf *sc, char **errs)
{
	struct conf_ctx ctx;
	const struct conf_node *root;
	int rc;

	conf_ctx_init(&ctx, "/etc/g3c/main.yaml");
	rc = conf_load_buffer(&ctx, "main.yaml", yaml, strlen(yaml), &root);
	if (rc == 0) {
		size_t saved = conf_path_push_key(&ctx, "stat");
		assert_true(conf_key_is(root->child, "stat"));
		rc = statsd_conf_parse(&ctx, root->child->value, "proxyd", sc);
		conf_path_pop(&ctx, saved);
	} else {
		rc = -EINVAL;
	}
	*errs = conf_errors_join(&ctx);
	conf_ctx_fini(&ctx);
	return rc;
}

static void expect_ok(const char *yaml, struct statsd_conf *sc)
{
	char *errs = NULL;

	if (parse(yaml, sc, &errs))
		fail_msg("unexpected errors: %s", errs);
	assert_string_equal(errs, "");
	free(errs);
}

static void expect_err(const char *yaml, const char *want)
{
	struct statsd_conf sc;
	char *errs = NULL;

	assert_int_equal(parse(yaml, &sc, &errs), -EINVAL);
	assert_string_equal(errs, want);
	free(errs);
}

static void assert_inet(const struct statsd_conf *c, const char *ip, unsigned port)
{
	char buf[64];

	if (c->addr.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&c->addr;
		inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(s4->sin_port), port);
		assert_int_equal(c->addrlen, sizeof(*s4));
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&c->addr;
		inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(s6->sin6_port), port);
		assert_int_equal(c->addrlen, sizeof(*s6));
	}
	assert_string_equal(buf, ip);
	assert_false(c->is_unix);
}

static void test_conf_good(void **state)
{
	struct statsd_conf sc;

	(void)state;
	statsd_conf_defaults(&sc, "proxyd");
	assert_false(sc.enabled);

	expect_ok("stat: {}\n", &sc);
	assert_true(sc.enabled);
	assert_inet(&sc, "127.0.0.1", 8125);
	assert_string_equal(sc.prefix, "proxyd");
	assert_int_equal(sc.max_segment_size, 1400);
	assert_int_equal(sc.emit_interval_ms, 200);
	assert_int_equal(sc.cache_size, 256 * 1024);
	assert_int_equal(sc.bindlen, 0);

	expect_ok("stat:\n", &sc);
	assert_true(sc.enabled);
	assert_inet(&sc, "127.0.0.1", 8125);

	expect_ok("stat:\n"
		  "  target_udp: 192.0.2.10\n"
		  "  prefix: g3proxy\n"
		  "  emit_interval: 1s\n"
		  "  cache_size: 1MiB\n"
		  "  max_segment_size: 1K\n",
		  &sc);
	assert_inet(&sc, "192.0.2.10", 8125);
	assert_string_equal(sc.prefix, "g3proxy");
	assert_int_equal(sc.emit_interval_ms, 1000);
	assert_int_equal(sc.cache_size, 1048576);
	assert_int_equal(sc.max_segment_size, 1000);

	expect_ok("stat:\n"
		  "  target:\n"
		  "    udp: {address: '[::1]:9125', bind_ip: '::1'}\n"
		  "  emit_duration: 500ms\n"
		  "  prefix: a-b_c.d/e\n",
		  &sc);
	assert_inet(&sc, "::1", 9125);
	assert_int_equal(sc.bindlen, sizeof(struct sockaddr_in6));
	assert_int_equal(sc.emit_interval_ms, 500);
	assert_string_equal(sc.prefix, "a-b_c.d/e");

	expect_ok("stat:\n  target_unix: /run/statsd.sock\n", &sc);
	assert_true(sc.is_unix);
	assert_string_equal(((struct sockaddr_un *)&sc.addr)->sun_path, "/run/statsd.sock");
	assert_int_equal(sc.max_segment_size, 4096);

	expect_ok("stat:\n  backend: {unix: {path: run/s.sock}}\n  max_segment_size: 9000\n", &sc);
	assert_true(sc.is_unix);
	assert_string_equal(((struct sockaddr_un *)&sc.addr)->sun_path, "/etc/g3c/run/s.sock");
	assert_int_equal(sc.max_segment_size, 9000);
}

/* A parsed unix target works end to end. */
static void test_conf_client(void **state)
{
	char yaml[256], d[512], want[256];
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	struct statsd_conf sc;
	struct statsd *s;
	int fd;

	(void)state;
	snprintf(su.sun_path, sizeof(su.sun_path), "%s/conf.sock", g_dir);
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&su, sizeof(su)), 0);
	snprintf(yaml, sizeof(yaml), "stat:\n  target_unix: %s\n  prefix: g3c\n", su.sun_path);
	expect_ok(yaml, &sc);
	s = new_client(&sc, "grp");
	statsd_begin(s);
	statsd_gauge(s, "resolver.memory.cache.length", 10, NULL);
	statsd_end(s);
	recv_dgram(fd, d, sizeof(d), 2000);
	snprintf(want, sizeof(want),
		 "g3c.resolver.memory.cache.length:10|g|#daemon_group:grp,stat_id:%" PRIu64,
		 statsd_client_stat_id(s));
	assert_string_equal(d, want);
	statsd_free(s);
	close(fd);
	unlink(su.sun_path);
}

static void test_conf_bad(void **state)
{
	(void)state;
	expect_err("stat: 5\n", "main.yaml:1:7: error: stat: expected a map, got a scalar");
	expect_err("stat:\n  prefix: 'g3 proxy'\n",
		   "main.yaml:2:11: error: stat.prefix: invalid metric name 'g3 proxy': only A-Z "
		   "a-z 0-9 - _ . / are allowed");
	expect_err("stat:\n  prefix: ''\n",
		   "main.yaml:2:11: error: stat.prefix: prefix must be 1 to 63 characters long");
	expect_err("stat:\n  max_segment_size: 10\n",
		   "main.yaml:2:21: error: stat.max_segment_size: max_segment_size 10 out of range "
		   "(64..65507)");
	expect_err("stat:\n  max_segment_size: 1M\n",
		   "main.yaml:2:21: error: stat.max_segment_size: max_segment_size 1000000 out of "
		   "range (64..65507)");
	expect_err("stat:\n  emit_interval: 1s\n  emit_duration: 2s\n",
		   "main.yaml:3:3: error: stat: duplicate key 'emit_duration' (first at line 2 as "
		   "'emit_interval')");
	expect_err(
		"stat:\n  emit_interval: 0\n",
		"main.yaml:2:18: error: stat.emit_interval: duration '0' out of range (1ms..1h)");
	expect_err("stat:\n  interval: 1s\n", "main.yaml:2:3: error: stat: unknown key 'interval'");
	expect_err("stat:\n  target_udp: 127.0.0.1:8125\n  target_unix: /run/s.sock\n",
		   "main.yaml:3:16: error: stat.target_unix: only one of target_unix, target_udp "
		   "and target may be given (first at line 2)");
	expect_err("stat:\n  target_udp: statsd.local:8125\n",
		   "main.yaml:2:15: error: stat.target_udp: 'statsd.local' is not an IP address "
		   "(host names are not resolved here)");
	expect_err("stat:\n  target_udp: 127.0.0.1:99999\n",
		   "main.yaml:2:15: error: stat.target_udp: port 99999 out of range (1..65535)");
	expect_err("stat:\n  target: {udp: {bind_ip: 127.0.0.1}}\n",
		   "main.yaml:2:17: error: stat.target.udp: missing required key 'address'");
	expect_err("stat:\n  target_unix: ''\n",
		   "main.yaml:2:16: error: stat.target_unix: empty socket path");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_lines),      cmocka_unit_test(test_unix_lines),
		cmocka_unit_test(test_packing),	       cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_send_errors),    cmocka_unit_test(test_tags),
		cmocka_unit_test(test_ids_and_deltas), cmocka_unit_test(test_conf_good),
		cmocka_unit_test(test_conf_client),    cmocka_unit_test(test_conf_bad),
	};
	int rc;

	snprintf(g_dir, sizeof(g_dir), "/tmp/g3c-test-statsd-XXXXXX");
	if (!mkdtemp(g_dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(g_dir);
	return rc;
}
