/* The `stat:` key (g3proxy shape): target_udp | target_unix | target
 * {udp|unix}, prefix, cache_size, max_segment_size, emit_interval (and the
 * deprecated emit_duration). */
#include "common/statsd.h"

#include <errno.h>
#include <string.h>

#include "common/conf.h"
#include "common/sink_conf.h"

#define STATSD_UDP_PORT 8125
#define STATSD_SEG_MIN 64
#define STATSD_SEG_MAX 65507 /* largest UDP payload over IPv4 */

struct st_parse {
	struct statsd_conf c;
	struct sink_pick pick;
	bool seg_set;
};

/* A metric name: [A-Za-z0-9-_./], 1..63 characters. */
static int p_prefix(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	char *out = dst;
	const char *s;
	size_t len;

	if (conf_get_str(ctx, n, &s))
		return -EINVAL;
	len = strlen(s);
	if (len == 0 || len >= sizeof(((struct statsd_conf *)0)->prefix))
		return conf_error(ctx, n, "prefix must be 1 to %zu characters long",
				  sizeof(((struct statsd_conf *)0)->prefix) - 1);
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '/'))
			return conf_error(
				ctx, n,
				"invalid metric name '%.64s': only A-Z a-z 0-9 - _ . / are allowed",
				s);
	}
	memcpy(out, s, len + 1);
	return 0;
}

static int p_segment(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct st_parse *p = container_of(dst, struct st_parse, c.max_segment_size);
	uint64_t v;

	if (conf_get_size(ctx, n, &v))
		return -EINVAL;
	if (v < STATSD_SEG_MIN || v > STATSD_SEG_MAX)
		return conf_error(ctx, n, "max_segment_size %llu out of range (%u..%u)",
				  (unsigned long long)v, STATSD_SEG_MIN, STATSD_SEG_MAX);
	p->c.max_segment_size = (size_t)v;
	p->seg_set = true;
	return 0;
}

#define ST_OFF(m) offsetof(struct st_parse, m)

static const struct conf_field stat_fields[] = {
	SINK_PICK_FIELDS(struct st_parse, pick),
	{.key = "prefix", .type = CONF_T_CUSTOM, .off = ST_OFF(c.prefix), .parse = p_prefix},
	{.key = "cache_size",
	 .type = CONF_T_SIZE,
	 .off = ST_OFF(c.cache_size),
	 .min = 0,
	 .max = 1ull << 32},
	{.key = "max_segment_size",
	 .type = CONF_T_CUSTOM,
	 .off = ST_OFF(c.max_segment_size),
	 .parse = p_segment},
	{.key = "emit_interval",
	 .type = CONF_T_DURATION,
	 .off = ST_OFF(c.emit_interval_ms),
	 .min = 1,
	 .max = 3600000},
	{.key = "emit_duration",
	 .type = CONF_T_DURATION,
	 .off = ST_OFF(c.emit_interval_ms),
	 .min = 1,
	 .max = 3600000},
	{.key = NULL},
};

static const struct conf_schema stat_schema = {
	.name = "stat",
	.size = sizeof(struct st_parse),
	.fields = stat_fields,
};

int statsd_conf_parse(struct conf_ctx *ctx, const struct conf_node *val, const char *default_prefix,
		      struct statsd_conf *out)
{
	struct st_parse p;

	memset(&p, 0, sizeof(p));
	p.pick.default_port = STATSD_UDP_PORT;
	statsd_conf_defaults(&p.c, default_prefix);
	p.c.enabled = true;
	if (val && !conf_is_null(val) && conf_parse_map(ctx, val, &stat_schema, NULL, &p))
		return -EINVAL;
	if (p.pick.set) {
		p.c.is_unix = p.pick.tgt.is_unix;
		p.c.addr = p.pick.tgt.addr;
		p.c.addrlen = p.pick.tgt.addrlen;
		p.c.bind = p.pick.tgt.bind;
		p.c.bindlen = p.pick.tgt.bindlen;
	}
	if (!p.seg_set)
		p.c.max_segment_size = p.c.is_unix ? 4096 : 1400;
	*out = p.c;
	return 0;
}
