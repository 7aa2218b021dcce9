/* The main-file keys every daemon shares: runtime, log, stat, controller. */
#include "common/daemon.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/conf.h"

/* runtime: the quit timers are kept; the thread settings of g3proxy's main
 * runtime are checked for type and range so a g3proxy file still loads. */
struct runtime_raw {
	uint64_t offline_delay_ms;
	uint64_t task_wait_delay_ms;
	uint64_t task_wait_timeout_ms;
	uint64_t task_quit_timeout_ms;
	uint32_t thread_number;
	const char *thread_name;
	uint64_t thread_stack_size;
	uint32_t max_io_events_per_tick;
};

static const struct conf_field runtime_fields[] = {
	{.key = "server_offline_delay",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct runtime_raw, offline_delay_ms)},
	{.key = "task_wait_delay",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct runtime_raw, task_wait_delay_ms)},
	{.key = "task_wait_timeout",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct runtime_raw, task_wait_timeout_ms)},
	{.key = "task_quit_timeout",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct runtime_raw, task_quit_timeout_ms)},
	{.key = "thread_number",
	 .type = CONF_T_U32,
	 .min = 0,
	 .max = 1024,
	 .off = offsetof(struct runtime_raw, thread_number)},
	{.key = "thread_name",
	 .type = CONF_T_STR,
	 .off = offsetof(struct runtime_raw, thread_name)},
	{.key = "thread_stack_size",
	 .type = CONF_T_SIZE,
	 .min = 0,
	 .max = 0,
	 .off = offsetof(struct runtime_raw, thread_stack_size)},
	{.key = "max_io_events_per_tick",
	 .type = CONF_T_U32,
	 .min = 1,
	 .max = 1u << 20,
	 .off = offsetof(struct runtime_raw, max_io_events_per_tick)},
	{.key = NULL},
};

static const struct conf_schema runtime_schema = {
	.name = "runtime",
	.size = sizeof(struct runtime_raw),
	.fields = runtime_fields,
};

struct ctl_local_raw {
	uint64_t recv_timeout_ms;
	uint64_t send_timeout_ms;
};

struct ctl_raw {
	struct ctl_local_raw local;
};

static const struct conf_field ctl_local_fields[] = {
	{.key = "recv_timeout",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct ctl_local_raw, recv_timeout_ms)},
	{.key = "send_timeout",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct ctl_local_raw, send_timeout_ms)},
	{.key = NULL},
};

static const struct conf_schema ctl_local_schema = {
	.name = "controller.local",
	.size = sizeof(struct ctl_local_raw),
	.fields = ctl_local_fields,
};

static const struct conf_field ctl_fields[] = {
	{.key = "local",
	 .type = CONF_T_OBJ,
	 .off = offsetof(struct ctl_raw, local),
	 .sub = &ctl_local_schema},
	{.key = NULL},
};

static const struct conf_schema ctl_schema = {
	.name = "controller",
	.size = sizeof(struct ctl_raw),
	.fields = ctl_fields,
};

void daemon_conf_defaults(struct daemon_conf *dc, const char *stat_prefix)
{
	memset(dc, 0, sizeof(*dc));
	snprintf(dc->stat_prefix, sizeof(dc->stat_prefix), "%s", stat_prefix ? stat_prefix : "");
	dc->offline_delay_ms = 4000;
	dc->task_wait_delay_ms = 2000;
	dc->task_wait_timeout_ms = 10ull * 3600 * 1000;
	dc->task_quit_timeout_ms = 30ull * 60 * 1000;
	dc->ctl_recv_timeout_ms = 30000;
	dc->ctl_send_timeout_ms = 1000;
	/* log: everything discards; stat: disabled until a `stat:` key. */
}

static int parse_runtime(struct conf_ctx *ctx, const struct conf_node *val, struct daemon_conf *dc)
{
	struct runtime_raw r = {
		.offline_delay_ms = dc->offline_delay_ms,
		.task_wait_delay_ms = dc->task_wait_delay_ms,
		.task_wait_timeout_ms = dc->task_wait_timeout_ms,
		.task_quit_timeout_ms = dc->task_quit_timeout_ms,
	};

	if (conf_parse_map(ctx, val, &runtime_schema, NULL, &r) != 0)
		return -EINVAL;
	dc->offline_delay_ms = r.offline_delay_ms;
	dc->task_wait_delay_ms = r.task_wait_delay_ms;
	dc->task_wait_timeout_ms = r.task_wait_timeout_ms;
	dc->task_quit_timeout_ms = r.task_quit_timeout_ms;
	return 0;
}

static int parse_controller(struct conf_ctx *ctx, const struct conf_node *val,
			    struct daemon_conf *dc)
{
	struct ctl_raw c = {
		.local =
			{
				.recv_timeout_ms = dc->ctl_recv_timeout_ms,
				.send_timeout_ms = dc->ctl_send_timeout_ms,
			},
	};

	if (conf_parse_map(ctx, val, &ctl_schema, NULL, &c) != 0)
		return -EINVAL;
	dc->ctl_recv_timeout_ms = c.local.recv_timeout_ms;
	dc->ctl_send_timeout_ms = c.local.send_timeout_ms;
	return 0;
}

int daemon_conf_parse_key(struct conf_ctx *ctx, const struct conf_node *key, struct daemon_conf *dc)
{
	const struct conf_node *val = key->value;
	size_t saved;
	int ret;

	if (conf_key_is(key, "runtime")) {
		saved = conf_path_push_key(ctx, "runtime");
		/* `runtime:` with no value keeps every default. */
		ret = !val || conf_is_null(val) ? 0 : parse_runtime(ctx, val, dc);
	} else if (conf_key_is(key, "controller")) {
		saved = conf_path_push_key(ctx, "controller");
		ret = !val || conf_is_null(val) ? 0 : parse_controller(ctx, val, dc);
	} else if (conf_key_is(key, "log")) {
		saved = conf_path_push_key(ctx, "log");
		ret = log_conf_parse(ctx, val, &dc->log);
	} else if (conf_key_is(key, "stat")) {
		saved = conf_path_push_key(ctx, "stat");
		ret = statsd_conf_parse(ctx, val, dc->stat_prefix, &dc->stat);
	} else {
		return 0;
	}
	(void)ret; /* errors are recorded in ctx */
	conf_path_pop(ctx, saved);
	return 1;
}
