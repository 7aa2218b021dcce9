/* The `log:` key (g3proxy shape):
 *   log: stdout                       every logger uses one driver
 *   log:
 *     default: <logger>               default for every log type
 *     syslog: {<syslog options>}      same as default: {syslog: {...}}
 *     task|escape|resolve|audit: <logger>
 * where <logger> is a driver name (discard, stdout, syslog, journal) or a
 * map with one driver key (`syslog: {...}`, `journal: {}`, `stdout: {}`)
 * plus the async_* / io_error_sampling_offset keys g3 has (accepted,
 * range-checked, without effect). fluentd is refused with a clear error. */
#include "common/log.h"

#include <errno.h>
#include <string.h>

#include "common/conf.h"
#include "common/sink_conf.h"

#define SYSLOG_UDP_PORT 514

static int err_fluentd(struct conf_ctx *ctx, const struct conf_node *n)
{
	return conf_error(ctx, n, "fluentd is not supported (use syslog, journal or stdout)");
}

/* ---- syslog options ----------------------------------------------------- */

struct sl_parse {
	struct logger_conf c;
	struct sink_pick pick;
};

/* RFC 5424 MSGID: 1..32 printable US-ASCII characters. */
static int p_msgid(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	char *out = dst;
	const char *s;
	size_t len;

	if (conf_get_str(ctx, n, &s))
		return -EINVAL;
	len = strlen(s);
	if (len == 0 || len > 32)
		return conf_error(ctx, n, "message_id must be 1 to 32 characters long");
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 32 || s[i] >= 127)
			return conf_error(
				ctx, n,
				"message_id may hold printable ASCII characters only, no spaces");
	memcpy(out, s, len + 1);
	return 0;
}

static int p_enterprise_id(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	int64_t v;

	if (conf_get_i64(ctx, n, INT32_MIN, INT32_MAX, &v))
		return -EINVAL;
	*(int32_t *)dst = (int32_t)v;
	return 0;
}

static const struct conf_field rfc5424_fields[] = {
	{.key = "enterprise_id",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct logger_conf, syslog_enterprise_id),
	 .parse = p_enterprise_id},
	{.key = "message_id",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct logger_conf, syslog_msgid),
	 .parse = p_msgid},
	{.key = NULL},
};

static const struct conf_schema rfc5424_schema = {
	.name = "format_rfc5424",
	.size = sizeof(struct logger_conf),
	.fields = rfc5424_fields,
};

/* format_rfc5424: {enterprise_id, message_id} | enterprise id | message id.
 * Records are always RFC 5424; the key only carries these two values. */
static int p_rfc5424(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct logger_conf *c = container_of(dst, struct logger_conf, syslog_msgid);
	bool digits = n && n->kind == CONF_SCALAR && n->len > 0;

	if (!n || conf_is_null(n))
		return 0;
	if (n->kind == CONF_MAP)
		return conf_parse_map(ctx, n, &rfc5424_schema, NULL, c);
	if (n->kind != CONF_SCALAR)
		return conf_error(ctx, n, "expected a map, an enterprise id or a message id");
	for (size_t i = 0; i < n->len && digits; i++)
		digits = (n->str[i] >= '0' && n->str[i] <= '9') || (i == 0 && n->str[i] == '-');
	if (digits && n->plain)
		return p_enterprise_id(ctx, n, &c->syslog_enterprise_id);
	return p_msgid(ctx, n, c->syslog_msgid);
}

static int p_cee_flag(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	char *out = dst;
	const char *s;
	size_t len;

	if (conf_get_str(ctx, n, &s))
		return -EINVAL;
	len = strlen(s);
	if (len == 0 || len >= sizeof(((struct logger_conf *)0)->syslog_cee_flag))
		return conf_error(ctx, n, "cee_event_flag must be 1 to 31 characters long");
	for (size_t i = 0; i < len; i++)
		if (s[i] < 32 || s[i] >= 127)
			return conf_error(
				ctx, n, "cee_event_flag may hold printable ASCII characters only");
	memcpy(out, s, len + 1);
	return 0;
}

#define SL_OFF(m) offsetof(struct sl_parse, m)
#define SLC_OFF(m) (offsetof(struct sl_parse, c) + offsetof(struct logger_conf, m))

static const struct conf_field syslog_fields[] = {
	SINK_PICK_FIELDS(struct sl_parse, pick),
	{.key = "format_rfc5424",
	 .type = CONF_T_CUSTOM,
	 .off = SLC_OFF(syslog_msgid),
	 .parse = p_rfc5424},
	{.key = "use_cee_log_syntax", .type = CONF_T_BOOL, .off = SLC_OFF(syslog_cee)},
	{.key = "use_cls", .type = CONF_T_BOOL, .off = SLC_OFF(syslog_cee)},
	{.key = "cee_event_flag",
	 .type = CONF_T_CUSTOM,
	 .off = SLC_OFF(syslog_cee_flag),
	 .parse = p_cee_flag},
	{.key = "cee_cookie",
	 .type = CONF_T_CUSTOM,
	 .off = SLC_OFF(syslog_cee_flag),
	 .parse = p_cee_flag},
	{.key = "emit_hostname", .type = CONF_T_BOOL, .off = SLC_OFF(syslog_emit_hostname)},
	{.key = "append_report_ts", .type = CONF_T_BOOL, .off = SLC_OFF(syslog_report_ts)},
	{.key = NULL},
};

static const struct conf_schema syslog_schema = {
	.name = "syslog",
	.size = sizeof(struct sl_parse),
	.fields = syslog_fields,
};

/* `syslog:` options (null: the defaults) into *c, which becomes a syslog
 * logger: unix datagrams to /dev/log unless a target is given. */
static int parse_syslog(struct conf_ctx *ctx, const struct conf_node *n, struct logger_conf *c)
{
	struct sl_parse p;

	memset(&p, 0, sizeof(p));
	p.pick.default_port = SYSLOG_UDP_PORT;
	p.c = *c;
	p.c.driver = LOGGER_SYSLOG;
	if (n && !conf_is_null(n) && conf_parse_map(ctx, n, &syslog_schema, NULL, &p))
		return -EINVAL;
	if (p.pick.set) {
		if (p.pick.tgt.is_unix) {
			memcpy(p.c.syslog_unix, p.pick.tgt.path, sizeof(p.c.syslog_unix));
		} else {
			p.c.syslog_udp = true;
			p.c.syslog_addr = p.pick.tgt.addr;
			p.c.syslog_addrlen = p.pick.tgt.addrlen;
			p.c.syslog_bind = p.pick.tgt.bind;
			p.c.syslog_bindlen = p.pick.tgt.bindlen;
		}
	}
	*c = p.c;
	return 0;
}

/* ---- one logger ---------------------------------------------------------- */

struct lg_parse {
	struct logger_conf c;
	bool drv_set;	   /* a driver key was given ... */
	unsigned drv_line; /* ... at this line */
	bool d_syslog, d_journal, d_stdout, d_fluentd;
};

static int take_driver(struct conf_ctx *ctx, const struct conf_node *n, struct lg_parse *p)
{
	if (p->drv_set)
		return conf_error(ctx, n, "only one log driver may be given (first at line %u)",
				  p->drv_line);
	p->drv_set = true;
	p->drv_line = n ? n->line : 0;
	return 0;
}

static int no_options(struct conf_ctx *ctx, const struct conf_node *n, const char *drv)
{
	if (!n || conf_is_null(n) || (n->kind == CONF_MAP && !n->child))
		return 0;
	return conf_error(ctx, n, "the %s driver takes no options (use {} or nothing)", drv);
}

static int p_lg_syslog(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct lg_parse *p = container_of(dst, struct lg_parse, d_syslog);

	if (take_driver(ctx, n, p))
		return -EINVAL;
	return parse_syslog(ctx, n, &p->c);
}

static int p_lg_journal(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct lg_parse *p = container_of(dst, struct lg_parse, d_journal);

	if (take_driver(ctx, n, p))
		return -EINVAL;
	p->c.driver = LOGGER_JOURNAL;
	return no_options(ctx, n, "journal");
}

static int p_lg_stdout(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct lg_parse *p = container_of(dst, struct lg_parse, d_stdout);

	if (take_driver(ctx, n, p))
		return -EINVAL;
	p->c.driver = LOGGER_STDOUT;
	return no_options(ctx, n, "stdout");
}

static int p_lg_fluentd(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	(void)dst;
	return err_fluentd(ctx, n);
}

#define LG_OFF(m) offsetof(struct lg_parse, m)
#define LGC_OFF(m) (offsetof(struct lg_parse, c) + offsetof(struct logger_conf, m))

static const struct conf_field logger_fields[] = {
	{.key = "syslog", .type = CONF_T_CUSTOM, .off = LG_OFF(d_syslog), .parse = p_lg_syslog},
	{.key = "journal", .type = CONF_T_CUSTOM, .off = LG_OFF(d_journal), .parse = p_lg_journal},
	{.key = "stdout", .type = CONF_T_CUSTOM, .off = LG_OFF(d_stdout), .parse = p_lg_stdout},
	{.key = "fluentd", .type = CONF_T_CUSTOM, .off = LG_OFF(d_fluentd), .parse = p_lg_fluentd},
	{.key = "async_channel_size",
	 .type = CONF_T_U64,
	 .off = LGC_OFF(async_channel_size),
	 .min = 1,
	 .max = 1u << 24},
	{.key = "channel_size",
	 .type = CONF_T_U64,
	 .off = LGC_OFF(async_channel_size),
	 .min = 1,
	 .max = 1u << 24},
	{.key = "async_thread_number",
	 .type = CONF_T_U64,
	 .off = LGC_OFF(async_thread_number),
	 .min = 1,
	 .max = 1024},
	{.key = "thread_number",
	 .type = CONF_T_U64,
	 .off = LGC_OFF(async_thread_number),
	 .min = 1,
	 .max = 1024},
	{.key = "io_error_sampling_offset",
	 .type = CONF_T_U64,
	 .off = LGC_OFF(io_error_sampling_offset),
	 .min = 0,
	 .max = 16},
	{.key = NULL},
};

static const struct conf_schema logger_schema = {
	.name = "logger",
	.size = sizeof(struct lg_parse),
	.fields = logger_fields,
};

static void logger_conf_defaults(struct logger_conf *c, enum logger_driver d)
{
	memset(c, 0, sizeof(*c));
	c->driver = d;
	c->async_channel_size = 4096;
	c->async_thread_number = 1;
	c->io_error_sampling_offset = 10;
}

static const struct conf_enum driver_names[] = {
	{"discard", LOGGER_DISCARD},
	{"stdout", LOGGER_STDOUT},
	{"syslog", LOGGER_SYSLOG},
	{"journal", LOGGER_JOURNAL},
	{NULL, 0},
};

static int parse_driver_name(struct conf_ctx *ctx, const struct conf_node *n,
			     struct logger_conf *out)
{
	char norm[16];
	int d;

	if (n->len < sizeof(norm)) {
		conf_normalize(n->str, n->len, norm, sizeof(norm));
		if (strcmp(norm, "fluentd") == 0)
			return err_fluentd(ctx, n);
		for (const struct conf_enum *e = driver_names; e->name; e++)
			if (strcmp(norm, e->name) == 0) {
				d = e->value;
				logger_conf_defaults(out, (enum logger_driver)d);
				return 0;
			}
	}
	return conf_error(
		ctx, n, "unknown log driver '%.64s' (expected discard, stdout, syslog or journal)",
		n->str);
}

int logger_conf_parse(struct conf_ctx *ctx, const struct conf_node *val, struct logger_conf *out)
{
	struct lg_parse p;

	if (val && val->kind == CONF_SCALAR && !conf_is_null(val))
		return parse_driver_name(ctx, val, out);
	if (!val || val->kind != CONF_MAP)
		return conf_error(ctx, val, "expected a driver name or a map, got %s",
				  !val || conf_is_null(val) ? "null" : "a sequence");
	memset(&p, 0, sizeof(p));
	logger_conf_defaults(&p.c, LOGGER_DISCARD);
	if (conf_parse_map(ctx, val, &logger_schema, NULL, &p))
		return -EINVAL;
	*out = p.c;
	return 0;
}

/* ---- the `log:` key --------------------------------------------------------- */

struct lc_parse {
	struct log_conf lc;
	bool def_set;	   /* `default` or `syslog` was given ... */
	unsigned def_line; /* ... at this line */
	bool def_syslog;   /* slot of the top-level `syslog` key */
	bool fluentd;
	bool seen_task, seen_escape, seen_resolve, seen_audit;
};

static int take_default(struct conf_ctx *ctx, const struct conf_node *n, struct lc_parse *p)
{
	if (p->def_set)
		return conf_error(ctx, n,
				  "the default logger is given twice, by 'default' and 'syslog' "
				  "(first at line %u)",
				  p->def_line);
	p->def_set = true;
	p->def_line = n ? n->line : 0;
	return 0;
}

static int p_lc_default(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct lc_parse *p = container_of(dst, struct lc_parse, lc.def);

	if (take_default(ctx, n, p))
		return -EINVAL;
	return logger_conf_parse(ctx, n, &p->lc.def);
}

static int p_lc_syslog(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct lc_parse *p = container_of(dst, struct lc_parse, def_syslog);

	if (take_default(ctx, n, p))
		return -EINVAL;
	logger_conf_defaults(&p->lc.def, LOGGER_SYSLOG);
	return parse_syslog(ctx, n, &p->lc.def);
}

static int p_lc_fluentd(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	(void)dst;
	return err_fluentd(ctx, n);
}

static int p_lc_one(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return logger_conf_parse(ctx, n, dst);
}

#define LC_OFF(m) offsetof(struct lc_parse, m)

static const struct conf_field log_fields[] = {
	{.key = "default", .type = CONF_T_CUSTOM, .off = LC_OFF(lc.def), .parse = p_lc_default},
	{.key = "syslog", .type = CONF_T_CUSTOM, .off = LC_OFF(def_syslog), .parse = p_lc_syslog},
	{.key = "fluentd", .type = CONF_T_CUSTOM, .off = LC_OFF(fluentd), .parse = p_lc_fluentd},
	{.key = "task",
	 .type = CONF_T_CUSTOM,
	 .off = LC_OFF(lc.task),
	 .parse = p_lc_one,
	 .flags = CONF_F_SEEN,
	 .seen_off = LC_OFF(seen_task)},
	{.key = "escape",
	 .type = CONF_T_CUSTOM,
	 .off = LC_OFF(lc.escape),
	 .parse = p_lc_one,
	 .flags = CONF_F_SEEN,
	 .seen_off = LC_OFF(seen_escape)},
	{.key = "resolve",
	 .type = CONF_T_CUSTOM,
	 .off = LC_OFF(lc.resolve),
	 .parse = p_lc_one,
	 .flags = CONF_F_SEEN,
	 .seen_off = LC_OFF(seen_resolve)},
	{.key = "audit",
	 .type = CONF_T_CUSTOM,
	 .off = LC_OFF(lc.audit),
	 .parse = p_lc_one,
	 .flags = CONF_F_SEEN,
	 .seen_off = LC_OFF(seen_audit)},
	{.key = NULL},
};

static const struct conf_schema log_schema = {
	.name = "log",
	.size = sizeof(struct lc_parse),
	.fields = log_fields,
};

int log_conf_parse(struct conf_ctx *ctx, const struct conf_node *val, struct log_conf *out)
{
	struct lc_parse p;

	memset(out, 0, sizeof(*out));
	memset(&p, 0, sizeof(p));
	logger_conf_defaults(&p.lc.def, LOGGER_DISCARD);
	if (!val || conf_is_null(val)) {
		p.lc.task = p.lc.escape = p.lc.resolve = p.lc.audit = p.lc.def;
		*out = p.lc;
		return 0;
	}
	if (val->kind == CONF_SCALAR) {
		if (parse_driver_name(ctx, val, &p.lc.def))
			return -EINVAL;
		p.lc.task = p.lc.escape = p.lc.resolve = p.lc.audit = p.lc.def;
		*out = p.lc;
		return 0;
	}
	if (val->kind != CONF_MAP)
		return conf_error(ctx, val, "expected a driver name or a map, got a sequence");
	if (conf_parse_map(ctx, val, &log_schema, NULL, &p))
		return -EINVAL;
	if (!p.seen_task)
		p.lc.task = p.lc.def;
	if (!p.seen_escape)
		p.lc.escape = p.lc.def;
	if (!p.seen_resolve)
		p.lc.resolve = p.lc.def;
	if (!p.seen_audit)
		p.lc.audit = p.lc.def;
	*out = p.lc;
	return 0;
}
