/* Unit tests for the `log:` key: driver names, per-type loggers, syslog
 * options, and every error with its file:line:col. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"
#include "common/log.h"

/* Parse `yaml` (a main file with a `log:` key) as /etc/g3c/main.yaml.
 * Returns the parse result; *errs gets the joined errors (free()). */
static int parse(const char *yaml, struct log_conf *lc, char **errs)
{
	struct conf_ctx ctx;
	const struct conf_node *root;
	int rc;

	conf_ctx_init(&ctx, "/etc/g3c/main.yaml");
	rc = conf_load_buffer(&ctx, "main.yaml", yaml, strlen(yaml), &root);
	if (rc == 0) {
		const struct conf_node *k = root->child;
		size_t saved;
		assert_non_null(k);
		assert_true(conf_key_is(k, "log"));
		saved = conf_path_push_key(&ctx, "log");
		rc = log_conf_parse(&ctx, k->value, lc);
		conf_path_pop(&ctx, saved);
	} else
		rc = -EINVAL; /* refused by the loader (e.g. a duplicate key) */
	*errs = conf_errors_join(&ctx);
	if (rc == 0)
		assert_string_equal(*errs, "");
	else
		assert_true(ctx.nerr > 0);
	conf_ctx_fini(&ctx);
	return rc;
}

static void expect_ok(const char *yaml, struct log_conf *lc)
{
	char *errs = NULL;
	int rc;

	memset(lc, 0, sizeof(*lc));
	rc = parse(yaml, lc, &errs);

	if (rc)
		fail_msg("unexpected errors: %s", errs);
	free(errs);
}

static void expect_err(const char *yaml, const char *want)
{
	struct log_conf lc;
	char *errs = NULL;

	assert_int_equal(parse(yaml, &lc, &errs), -EINVAL);
	assert_string_equal(errs, want);
	free(errs);
}

static void assert_all(const struct log_conf *lc, enum logger_driver d)
{
	assert_int_equal(lc->def.driver, d);
	assert_int_equal(lc->task.driver, d);
	assert_int_equal(lc->escape.driver, d);
	assert_int_equal(lc->resolve.driver, d);
	assert_int_equal(lc->audit.driver, d);
}

static void assert_addr(const struct sockaddr_storage *ss, socklen_t len, const char *ip,
			unsigned port)
{
	char buf[64];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		assert_int_equal(len, sizeof(*s4));
		inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(s4->sin_port), port);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		assert_int_equal(ss->ss_family, AF_INET6);
		assert_int_equal(len, sizeof(*s6));
		inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf));
		assert_int_equal(ntohs(s6->sin6_port), port);
	}
	assert_string_equal(buf, ip);
}

/* ---- accepted shapes -------------------------------------------------- */

static void test_driver_names(void **state)
{
	struct log_conf lc;

	(void)state;
	expect_ok("log: stdout\n", &lc);
	assert_all(&lc, LOGGER_STDOUT);
	expect_ok("log: journal\n", &lc);
	assert_all(&lc, LOGGER_JOURNAL);
	expect_ok("log: discard\n", &lc);
	assert_all(&lc, LOGGER_DISCARD);
	expect_ok("log:\n", &lc);
	assert_all(&lc, LOGGER_DISCARD);
	expect_ok("log: Syslog\n", &lc); /* names compare normalised */
	assert_all(&lc, LOGGER_SYSLOG);
	/* syslog defaults: /dev/log, facility daemon (0 = default), RFC 5424 */
	assert_string_equal(lc.task.syslog_unix, "");
	assert_false(lc.task.syslog_udp);
	assert_false(lc.task.syslog_cee);
	assert_int_equal(lc.task.async_channel_size, 4096);
	assert_int_equal(lc.task.async_thread_number, 1);
	assert_int_equal(lc.task.io_error_sampling_offset, 10);
}

static void test_per_type(void **state)
{
	struct log_conf lc;

	(void)state;
	expect_ok("log:\n"
		  "  default:\n"
		  "    syslog:\n"
		  "      target_udp:\n"
		  "        address: 127.0.0.1:5514\n"
		  "        bind_ip: 127.0.0.2\n"
		  "  task: stdout\n"
		  "  escape: {journal: {}}\n"
		  "  resolve: discard\n",
		  &lc);
	assert_int_equal(lc.def.driver, LOGGER_SYSLOG);
	assert_true(lc.def.syslog_udp);
	assert_addr(&lc.def.syslog_addr, lc.def.syslog_addrlen, "127.0.0.1", 5514);
	assert_addr(&lc.def.syslog_bind, lc.def.syslog_bindlen, "127.0.0.2", 0);
	assert_int_equal(lc.task.driver, LOGGER_STDOUT);
	assert_int_equal(lc.escape.driver, LOGGER_JOURNAL);
	assert_int_equal(lc.resolve.driver, LOGGER_DISCARD);
	/* not named: the default, whatever the key order */
	assert_int_equal(lc.audit.driver, LOGGER_SYSLOG);
	assert_true(lc.audit.syslog_udp);
	assert_addr(&lc.audit.syslog_addr, lc.audit.syslog_addrlen, "127.0.0.1", 5514);

	expect_ok("log:\n"
		  "  audit: {stdout: ~}\n"
		  "  default: journal\n",
		  &lc);
	assert_int_equal(lc.audit.driver, LOGGER_STDOUT);
	assert_int_equal(lc.task.driver, LOGGER_JOURNAL);

	/* only per-type keys: the rest discard */
	expect_ok("log:\n  task: stdout\n", &lc);
	assert_int_equal(lc.task.driver, LOGGER_STDOUT);
	assert_int_equal(lc.def.driver, LOGGER_DISCARD);
	assert_int_equal(lc.escape.driver, LOGGER_DISCARD);

	/* the compat keys are accepted (and have no effect) */
	expect_ok("log:\n"
		  "  task:\n"
		  "    stdout: {}\n"
		  "    async_channel_size: 100\n"
		  "    async_thread_number: 2\n"
		  "    io_error_sampling_offset: 16\n"
		  "  escape:\n"
		  "    channel_size: 5\n"
		  "    thread_number: 3\n",
		  &lc);
	assert_int_equal(lc.task.driver, LOGGER_STDOUT);
	assert_int_equal(lc.task.async_channel_size, 100);
	assert_int_equal(lc.task.async_thread_number, 2);
	assert_int_equal(lc.task.io_error_sampling_offset, 16);
	assert_int_equal(lc.escape.driver, LOGGER_DISCARD); /* no driver key */
	assert_int_equal(lc.escape.async_channel_size, 5);
	assert_int_equal(lc.escape.async_thread_number, 3);
}

static void test_syslog_options(void **state)
{
	struct log_conf lc;

	(void)state;
	/* top-level `syslog:` sets the default for every type */
	expect_ok("log:\n"
		  "  syslog:\n"
		  "    target_unix: /run/syslog.sock\n"
		  "    emit_hostname: true\n"
		  "    append_report_ts: yes\n"
		  "    format_rfc5424:\n"
		  "      enterprise_id: 3247\n"
		  "      message_id: G3C\n"
		  "    use_cee_log_syntax: true\n"
		  "    cee_event_flag: '@cee: '\n",
		  &lc);
	assert_all(&lc, LOGGER_SYSLOG);
	assert_string_equal(lc.resolve.syslog_unix, "/run/syslog.sock");
	assert_false(lc.resolve.syslog_udp);
	assert_true(lc.resolve.syslog_emit_hostname);
	assert_true(lc.resolve.syslog_report_ts);
	assert_int_equal(lc.resolve.syslog_enterprise_id, 3247);
	assert_string_equal(lc.resolve.syslog_msgid, "G3C");
	assert_true(lc.resolve.syslog_cee);
	assert_string_equal(lc.resolve.syslog_cee_flag, "@cee: ");

	expect_ok("log:\n  syslog:\n", &lc);
	assert_all(&lc, LOGGER_SYSLOG);
	assert_string_equal(lc.def.syslog_unix, "");

	/* aliases, the {path} form, relative paths, scalar rfc5424 forms */
	expect_ok("log:\n"
		  "  task:\n"
		  "    syslog:\n"
		  "      backend_unix: {path: log/syslog.sock}\n"
		  "      format_rfc5424: 42\n"
		  "      use_cls: true\n"
		  "      cee_cookie: '@json:'\n"
		  "  escape:\n"
		  "    syslog:\n"
		  "      target: {udp: '[::1]'}\n"
		  "      format_rfc5424: ESC\n"
		  "  resolve:\n"
		  "    syslog:\n"
		  "      backend: {unix: /dev/log}\n"
		  "  audit:\n"
		  "    syslog:\n"
		  "      backend_udp: '[2001:db8::1]:1514'\n",
		  &lc);
	assert_string_equal(lc.task.syslog_unix, "/etc/g3c/log/syslog.sock");
	assert_int_equal(lc.task.syslog_enterprise_id, 42);
	assert_string_equal(lc.task.syslog_msgid, "");
	assert_true(lc.task.syslog_cee);
	assert_string_equal(lc.task.syslog_cee_flag, "@json:");
	assert_true(lc.escape.syslog_udp);
	assert_addr(&lc.escape.syslog_addr, lc.escape.syslog_addrlen, "::1", 514);
	assert_int_equal(lc.escape.syslog_bindlen, 0);
	assert_string_equal(lc.escape.syslog_msgid, "ESC");
	assert_string_equal(lc.resolve.syslog_unix, "/dev/log");
	assert_addr(&lc.audit.syslog_addr, lc.audit.syslog_addrlen, "2001:db8::1", 1514);
}

/* A parsed config builds working loggers. */
static void test_conf_to_logger(void **state)
{
	struct log_conf lc;
	struct logger *lg;
	int err = 1;

	(void)state;
	expect_ok("log:\n  default: {syslog: {target_udp: 127.0.0.1:5514}}\n  task: journal\n",
		  &lc);
	lg = logger_new(&lc.escape, "Escape", &err);
	assert_non_null(lg);
	assert_int_equal(err, 0);
	assert_true(logger_enabled(lg));
	logger_free(lg);
	lg = logger_new(&lc.task, "Task", &err);
	assert_non_null(lg);
	logger_free(lg);
}

/* ---- errors ----------------------------------------------------------- */

static void test_errors_drivers(void **state)
{
	(void)state;
	expect_err("log: fluentd\n", "main.yaml:1:6: error: log: fluentd is not supported (use "
				     "syslog, journal or stdout)");
	expect_err("log:\n  fluentd:\n    address: 127.0.0.1:24224\n",
		   "main.yaml:3:5: error: log.fluentd: fluentd is not supported (use syslog, "
		   "journal or stdout)");
	expect_err("log:\n  task: {fluentd: {}}\n",
		   "main.yaml:2:19: error: log.task.fluentd: fluentd is not supported (use syslog, "
		   "journal or stdout)");
	expect_err("log: file\n", "main.yaml:1:6: error: log: unknown log driver 'file' (expected "
				  "discard, stdout, syslog or journal)");
	expect_err("log:\n  escape: console\n",
		   "main.yaml:2:11: error: log.escape: unknown log driver 'console' (expected "
		   "discard, stdout, syslog or journal)");
	expect_err("log: [stdout]\n",
		   "main.yaml:1:6: error: log: expected a driver name or a map, got a sequence");
	expect_err("log:\n  task:\n",
		   "main.yaml:2:8: error: log.task: expected a driver name or a map, got null");
	expect_err("log:\n  task: {syslog: {}, journal: {}}\n",
		   "main.yaml:2:31: error: log.task.journal: only one log driver may be given "
		   "(first at line 2)");
	expect_err("log:\n  default: stdout\n  syslog: {}\n",
		   "main.yaml:3:11: error: log.syslog: the default logger is given twice, by "
		   "'default' and 'syslog' (first at line 2)");
	expect_err("log:\n  task: stdout\n  task: journal\n",
		   "main.yaml:3:3: error: log: duplicate key 'task' (first at line 2)");
	expect_err("log:\n  tasks: stdout\n", "main.yaml:2:3: error: log: unknown key 'tasks'");
	expect_err("log:\n  task:\n    journal: {x: 1}\n",
		   "main.yaml:3:14: error: log.task.journal: the journal driver takes no options "
		   "(use {} or nothing)");
	expect_err("log:\n  task:\n    stdout: yes\n",
		   "main.yaml:3:13: error: log.task.stdout: the stdout driver takes no options "
		   "(use {} or nothing)");
	expect_err("log:\n  task:\n    io_error_sampling_offset: 17\n",
		   "main.yaml:3:31: error: log.task.io_error_sampling_offset: value 17 out of "
		   "range (0..16)");
	expect_err("log:\n  task:\n    async_thread_number: 0\n",
		   "main.yaml:3:26: error: log.task.async_thread_number: value 0 out of range "
		   "(1..1024)");
}

static void test_errors_syslog(void **state)
{
	char yaml[512], want[512], path[200];

	(void)state;
	expect_err("log:\n  syslog:\n    target_udp: 127.0.0.1\n    target_unix: /dev/log\n",
		   "main.yaml:4:18: error: log.syslog.target_unix: only one of target_unix, "
		   "target_udp and target may be given (first at line 3)");
	expect_err("log:\n  syslog:\n    targetudp: 1.2.3.4\n",
		   "main.yaml:3:5: error: log.syslog: unknown key 'targetudp'");
	expect_err("log:\n  syslog:\n    target_udp: logs.example.com:514\n",
		   "main.yaml:3:17: error: log.syslog.target_udp: 'logs.example.com' is not an IP "
		   "address (host names are not resolved here)");
	expect_err("log:\n  syslog:\n    target_udp: {bind_ip: 127.0.0.1}\n",
		   "main.yaml:3:17: error: log.syslog.target_udp: missing required key 'address'");
	expect_err("log:\n  syslog:\n    target_udp: {address: '[::1]:514', bind_ip: 127.0.0.1}\n",
		   "main.yaml:3:49: error: log.syslog.target_udp: bind_ip and address are of "
		   "different IP families");
	expect_err("log:\n  syslog:\n    target_udp: {address: 127.0.0.1:514, bind_ip: nowhere}\n",
		   "main.yaml:3:51: error: log.syslog.target_udp.bind_ip: invalid IP address "
		   "'nowhere'");
	expect_err("log:\n  syslog:\n    target_udp: {address: 127.0.0.1:514, port: 1}\n",
		   "main.yaml:3:42: error: log.syslog.target_udp.port: unknown key 'port'");
	expect_err("log:\n  syslog:\n    target: {tcp: 127.0.0.1:514}\n",
		   "main.yaml:3:14: error: log.syslog.target.tcp: unknown target 'tcp' (expected "
		   "'udp' or 'unix')");
	expect_err("log:\n  syslog:\n    target: {udp: 127.0.0.1:514, unix: /dev/log}\n",
		   "main.yaml:3:34: error: log.syslog.target: only one of 'udp' and 'unix' may be "
		   "given");
	expect_err("log:\n  syslog:\n    target: /dev/log\n",
		   "main.yaml:3:13: error: log.syslog.target: expected a map with one key, 'udp' "
		   "or 'unix'");
	expect_err("log:\n  syslog:\n    target_unix: {file: /dev/log}\n",
		   "main.yaml:3:19: error: log.syslog.target_unix.file: unknown key 'file'");
	expect_err("log:\n  syslog:\n    format_rfc5424: {message_id: 'has space'}\n",
		   "main.yaml:3:34: error: log.syslog.format_rfc5424.message_id: message_id may "
		   "hold printable ASCII characters only, no spaces");
	expect_err("log:\n  syslog:\n    format_rfc5424: abcdefghijabcdefghijabcdefghijabc\n",
		   "main.yaml:3:21: error: log.syslog.format_rfc5424: message_id must be 1 to 32 "
		   "characters long");
	expect_err("log:\n  syslog:\n    format_rfc5424: {enterprise_id: 4294967296}\n",
		   "main.yaml:3:37: error: log.syslog.format_rfc5424.enterprise_id: value "
		   "4294967296 out of range (-2147483648..2147483647)");
	expect_err("log:\n  syslog:\n    emit_hostname: maybe\n",
		   "main.yaml:3:20: error: log.syslog.emit_hostname: invalid boolean 'maybe' "
		   "(expected true/false, yes/no, on/off, 1/0)");

	memset(path, 'p', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	snprintf(yaml, sizeof(yaml), "log:\n  syslog:\n    target_unix: /%s\n", path);
	snprintf(want, sizeof(want),
		 "main.yaml:3:18: error: log.syslog.target_unix: socket path is %zu bytes long, "
		 "the limit is 107",
		 strlen(path) + 1);
	expect_err(yaml, want);
}

/* Errors are all collected, not just the first. */
static void test_errors_collected(void **state)
{
	(void)state;
	expect_err("log:\n"
		   "  task: fluentd\n"
		   "  escape:\n"
		   "    syslog:\n"
		   "      target_udp: nope\n"
		   "  resolve: [x]\n",
		   "main.yaml:2:9: error: log.task: fluentd is not supported (use syslog, journal "
		   "or stdout)\n"
		   "main.yaml:5:19: error: log.escape.syslog.target_udp: 'nope' is not an IP "
		   "address (host names are not resolved here)\n"
		   "main.yaml:6:12: error: log.resolve: expected a driver name or a map, got a "
		   "sequence");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_driver_names),	 cmocka_unit_test(test_per_type),
		cmocka_unit_test(test_syslog_options),	 cmocka_unit_test(test_conf_to_logger),
		cmocka_unit_test(test_errors_drivers),	 cmocka_unit_test(test_errors_syslog),
		cmocka_unit_test(test_errors_collected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
