/* Unit tests for the daemon lifecycle's pure parts: command line, control
 * socket naming, and the runtime/controller/log/stat keys of the main file.
 * The control handler and the stop sequence are in test_daemon_ctl.c. */
#include "common/daemon_int.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/conf.h"

static const struct daemon_ops fake_ops = {
	.name = "testd",
	.default_conf = "/etc/g3c/testd.yaml",
};

/* ---- command line ------------------------------------------------------------- */

static int parse(struct daemon_opts *o, enum daemon_cmd *cmd, char *err, int argc, ...)
{
	char *argv[32];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	return daemon_parse_args(argc, argv, &fake_ops, o, cmd, err, 256);
}

static void test_args_defaults(void **state)
{
	struct daemon_opts o;
	enum daemon_cmd cmd;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, &cmd, err, 1, "testd"), 0);
	assert_int_equal(cmd, DAEMON_CMD_RUN);
	assert_string_equal(o.conf_path, "/etc/g3c/testd.yaml");
	assert_string_equal(o.group, "");
	assert_string_equal(o.control_dir, DAEMON_DEFAULT_CONTROL_DIR);
	assert_null(o.pidfile);
	assert_false(o.test_config || o.daemonize || o.systemd);
	assert_int_equal(o.verbosity, 0);
}

static void test_args_short(void **state)
{
	struct daemon_opts o;
	enum daemon_cmd cmd;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, &cmd, err, 14, "testd", "-c", "/x.yaml", "-t", "-G", "g-1.a_b",
			       "-d", "-p", "/run/t.pid", "-s", "-m", "-vvv", "-C", "/c"),
			 0);
	assert_int_equal(cmd, DAEMON_CMD_RUN);
	assert_string_equal(o.conf_path, "/x.yaml");
	assert_string_equal(o.group, "g-1.a_b");
	assert_string_equal(o.pidfile, "/run/t.pid");
	assert_string_equal(o.control_dir, "/c");
	assert_true(o.test_config && o.daemonize && o.systemd && o.monitored);
	assert_int_equal(o.verbosity, 3);
}

static void test_args_long(void **state)
{
	struct daemon_opts o;
	enum daemon_cmd cmd;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, &cmd, err, 13, "testd", "--config-file=/y", "--group-name", "g",
			       "--control-dir", "/c", "--pid-file", "/p", "--daemon", "--systemd",
			       "--verbose", "--test-config", "--monitored"),
			 0);
	assert_string_equal(o.conf_path, "/y");
	assert_string_equal(o.group, "g");
	assert_string_equal(o.control_dir, "/c");
	assert_string_equal(o.pidfile, "/p");
	assert_true(o.daemonize && o.systemd && o.test_config && o.monitored);
	assert_int_equal(o.verbosity, 1);

	assert_int_equal(parse(&o, &cmd, err, 2, "testd", "-V"), 0);
	assert_int_equal(cmd, DAEMON_CMD_VERSION);
	assert_int_equal(parse(&o, &cmd, err, 2, "testd", "--version"), 0);
	assert_int_equal(cmd, DAEMON_CMD_VERSION);
	assert_int_equal(parse(&o, &cmd, err, 4, "testd", "-c", "/z", "--help"), 0);
	assert_int_equal(cmd, DAEMON_CMD_HELP);
}

static void test_args_errors(void **state)
{
	struct daemon_opts o;
	enum daemon_cmd cmd;
	char err[256];

	(void)state;
	assert_int_equal(parse(&o, &cmd, err, 2, "testd", "-x"), -EINVAL);
	assert_string_equal(err, "testd: unknown option '-x'");
	assert_int_equal(parse(&o, &cmd, err, 2, "testd", "--nope"), -EINVAL);
	assert_string_equal(err, "testd: unknown option '--nope'");
	assert_int_equal(parse(&o, &cmd, err, 2, "testd", "-c"), -EINVAL);
	assert_string_equal(err, "testd: option '-c' needs a value");
	assert_int_equal(parse(&o, &cmd, err, 2, "testd", "--pid-file"), -EINVAL);
	assert_string_equal(err, "testd: option '--pid-file' needs a value");
	assert_int_equal(parse(&o, &cmd, err, 3, "testd", "-t", "extra"), -EINVAL);
	assert_string_equal(err, "testd: unexpected argument 'extra'");
	assert_int_equal(parse(&o, &cmd, err, 3, "testd", "-G", "a/b"), -EINVAL);
	assert_string_equal(err, "testd: invalid group name 'a/b' (1..64 of A-Z a-z 0-9 . _ -)");
	assert_int_equal(parse(&o, &cmd, err, 3, "testd", "-G", ".."), -EINVAL);
	assert_int_equal(parse(&o, &cmd, err, 3, "testd", "-G", ""), -EINVAL);
	assert_int_equal(parse(&o, &cmd, err, 3, "testd", "-C", ""), -EINVAL);
	assert_string_equal(err, "testd: empty control directory (-C)");
	assert_int_equal(parse(&o, &cmd, err, 3, "testd", "-c", ""), -EINVAL);
	assert_string_equal(err, "testd: no config file given (-c)");
	/* A failed parse leaves getopt ready for the next one. */
	assert_int_equal(parse(&o, &cmd, err, 3, "testd", "-G", "ok"), 0);
	assert_string_equal(o.group, "ok");
}

static void test_group_valid(void **state)
{
	char long_name[70];

	(void)state;
	assert_true(daemon_group_valid("default"));
	assert_true(daemon_group_valid("A-b_c.9"));
	assert_false(daemon_group_valid(""));
	assert_false(daemon_group_valid("."));
	assert_false(daemon_group_valid("a b"));
	assert_false(daemon_group_valid("a\nb"));
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_false(daemon_group_valid(long_name));
	long_name[64] = '\0';
	assert_true(daemon_group_valid(long_name));
}

/* ---- control path ------------------------------------------------------------- */

static void test_control_path(void **state)
{
	char buf[DAEMON_CTL_PATH_MAX], dir[120];

	(void)state;
	assert_int_equal(daemon_control_path("/run/g3c", "proxyd", "", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/g3c/proxyd.ctl");
	assert_int_equal(daemon_control_path("/run/g3c", "proxyd", NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/g3c/proxyd.ctl");
	assert_int_equal(daemon_control_path("/run/g3c", "proxyd", "test", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/g3c/proxyd_test.ctl");
	assert_int_equal(daemon_control_path("/tmp/x//", "iplocd", "a", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/x/iplocd_a.ctl");
	assert_int_equal(daemon_control_path("/", "fcgend", "", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/fcgend.ctl");
	assert_int_equal(daemon_control_path("rel", "fcgend", "", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "rel/fcgend.ctl");

	assert_int_equal(daemon_control_path_pid("/run/g3c", "proxyd", "", 77, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "/run/g3c/proxyd@77.ctl");
	assert_int_equal(
		daemon_control_path_pid("/run/g3c/", "proxyd", "a_5", 123, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/g3c/proxyd_a_5@123.ctl");
	assert_int_equal(daemon_control_path_pid("/run/g3c", "proxyd", "", 0, buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(daemon_control_path("/run/g3c", "", "", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(daemon_control_path("", "proxyd", "", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(daemon_control_path("/run/g3c", "proxyd", "", buf, 10), -ENAMETOOLONG);
	/* A unix socket address holds 107 bytes of path. */
	memset(dir, 'd', sizeof(dir));
	dir[0] = '/';
	dir[96] = '\0'; /* 96 + "/proxyd.ctl" = 107 */
	char big[256];
	assert_int_equal(daemon_control_path(dir, "proxyd", "", big, sizeof(big)), 0);
	assert_int_equal(strlen(big), 107);
	dir[96] = 'd';
	dir[97] = '\0';
	assert_int_equal(daemon_control_path(dir, "proxyd", "", big, sizeof(big)), -ENAMETOOLONG);
}

/* ---- config keys ---------------------------------------------------------------- */

/* Load text as main.yaml and feed every top-level key to the common parser;
 * returns the number of keys that were not common ones. */
static unsigned parse_conf(struct conf_ctx *ctx, const char *text, struct daemon_conf *dc)
{
	const struct conf_node *root;
	unsigned other = 0;

	conf_ctx_init(ctx, "main.yaml");
	daemon_conf_defaults(dc, "testd");
	assert_int_equal(conf_load_buffer(ctx, "main.yaml", text, strlen(text), &root), 0);
	for (const struct conf_node *k = root->kind == CONF_MAP ? root->child : NULL; k;
	     k = k->next)
		if (!daemon_conf_parse_key(ctx, k, dc))
			other++;
	return other;
}

static void test_conf_defaults(void **state)
{
	struct daemon_conf dc;

	(void)state;
	daemon_conf_defaults(&dc, "g3proxy");
	assert_string_equal(dc.stat_prefix, "g3proxy");
	assert_int_equal(dc.offline_delay_ms, 4000);
	assert_int_equal(dc.task_wait_delay_ms, 2000);
	assert_int_equal(dc.task_wait_timeout_ms, 10ull * 3600 * 1000);
	assert_int_equal(dc.task_quit_timeout_ms, 30ull * 60 * 1000);
	assert_int_equal(dc.ctl_recv_timeout_ms, 30000);
	assert_int_equal(dc.ctl_send_timeout_ms, 1000);
	assert_false(dc.stat.enabled);
}

static void test_conf_runtime_controller(void **state)
{
	struct conf_ctx ctx;
	struct daemon_conf dc;

	(void)state;
	assert_int_equal(parse_conf(&ctx,
				    "runtime:\n"
				    "  server_offline_delay: 1\n"
				    "  task-wait-delay: 500ms\n"
				    "  task_wait_timeout: 1h\n"
				    "  task_quit_timeout: 90s\n"
				    "  thread_number: 2\n"
				    "  thread_name: main\n"
				    "  thread_stack_size: 1MiB\n"
				    "  max_io_events_per_tick: 512\n"
				    "controller:\n"
				    "  local:\n"
				    "    recv_timeout: 5\n"
				    "    send_timeout: 2s\n"
				    "server: []\n",
				    &dc),
			 1);
	assert_int_equal(ctx.nerr, 0);
	assert_int_equal(dc.offline_delay_ms, 1000);
	assert_int_equal(dc.task_wait_delay_ms, 500);
	assert_int_equal(dc.task_wait_timeout_ms, 3600000);
	assert_int_equal(dc.task_quit_timeout_ms, 90000);
	assert_int_equal(dc.ctl_recv_timeout_ms, 5000);
	assert_int_equal(dc.ctl_send_timeout_ms, 2000);
	conf_ctx_fini(&ctx);

	/* Empty values keep the defaults; a partial map changes only its keys. */
	assert_int_equal(parse_conf(&ctx, "runtime:\ncontroller: {local: {}}\n", &dc), 0);
	assert_int_equal(ctx.nerr, 0);
	assert_int_equal(dc.offline_delay_ms, 4000);
	assert_int_equal(dc.ctl_recv_timeout_ms, 30000);
	conf_ctx_fini(&ctx);
	assert_int_equal(parse_conf(&ctx, "runtime: {task_wait_delay: 0}\n", &dc), 0);
	assert_int_equal(ctx.nerr, 0);
	assert_int_equal(dc.task_wait_delay_ms, 0);
	assert_int_equal(dc.offline_delay_ms, 4000);
	conf_ctx_fini(&ctx);
}

static void test_conf_errors(void **state)
{
	struct conf_ctx ctx;
	struct daemon_conf dc;
	const char *e2 =
		"main.yaml:2:25: error: runtime.server_offline_delay: invalid duration '1x'";

	(void)state;
	parse_conf(&ctx,
		   "runtime:\n"
		   "  server_offline_delay: 1x\n"
		   "  bogus: 1\n"
		   "  thread_number: 5000\n"
		   "controller:\n"
		   "  local:\n"
		   "    recv_timeout: [1]\n"
		   "  remote: {}\n",
		   &dc);
	assert_int_equal(ctx.nerr, 5);
	assert_memory_equal(ctx.errs[0], e2, strlen(e2));
	assert_string_equal(ctx.errs[1], "main.yaml:3:3: error: runtime: unknown key 'bogus'");
	assert_string_equal(ctx.errs[2], "main.yaml:4:18: error: runtime.thread_number: value "
					 "5000 out of range (0..1024)");
	assert_non_null(
		strstr(ctx.errs[3], "main.yaml:7:19: error: controller.local.recv_timeout: "));
	assert_string_equal(ctx.errs[4], "main.yaml:8:3: error: controller: unknown key 'remote'");
	/* The defaults survive a failed key. */
	assert_int_equal(dc.offline_delay_ms, 4000);
	conf_ctx_fini(&ctx);

	parse_conf(&ctx, "runtime: 5\n", &dc);
	assert_int_equal(ctx.nerr, 1);
	assert_string_equal(ctx.errs[0],
			    "main.yaml:1:10: error: runtime: expected a map, got a scalar");
	conf_ctx_fini(&ctx);
}

static void test_conf_log_stat(void **state)
{
	struct conf_ctx ctx;
	struct daemon_conf dc;

	(void)state;
	assert_int_equal(
		parse_conf(&ctx, "log: discard\nstat:\n  target_udp: 127.0.0.1:8125\n", &dc), 0);
	assert_int_equal(ctx.nerr, 0);
	assert_true(dc.stat.enabled);
	assert_string_equal(dc.stat.prefix, "testd");
	conf_ctx_fini(&ctx);

	/* Errors of the log parser carry the `log` key path. */
	parse_conf(&ctx, "log: [1, 2]\n", &dc);
	assert_true(ctx.nerr >= 1);
	assert_non_null(strstr(ctx.errs[0], "main.yaml:1:6: error: log"));
	conf_ctx_fini(&ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_defaults),
		cmocka_unit_test(test_args_short),
		cmocka_unit_test(test_args_long),
		cmocka_unit_test(test_args_errors),
		cmocka_unit_test(test_group_valid),
		cmocka_unit_test(test_control_path),
		cmocka_unit_test(test_conf_defaults),
		cmocka_unit_test(test_conf_runtime_controller),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_conf_log_stat),
	};

	log_init("test_daemon", NULL, LOG_SINK_STDERR, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
