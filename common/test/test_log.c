/* Unit tests for structured records: value rendering, JSON lines and their
 * escaping and truncation, the field limit, and the process log. The drivers
 * are tested in test_log_sink.c. */
#include "common/test/log_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "common/log_int.h"

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
		cmocka_unit_test(test_field_overflow), cmocka_unit_test(test_process_log),
	};

	return cmocka_run_group_tests(tests, log_test_setup, NULL);
}
