/* Speed and rate limit value formats (g3proxy §1.5.4 "Rate-limit value
 * formats"): per-socket speed limits (humanize size per 1024 ms, or
 * {shift_millis, upload|north, download|south}), process-wide token buckets,
 * and rate limit quotas ("1000/s", "/m", "/h", int, or {rate |
 * replenish_interval, max_burst}). */
#include "proxyd/conf_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- per-socket speed limits ------------------------------------------- */

struct speed_raw {
	uint32_t shift;
	bool shift_seen;
	uint64_t up, down, up_pkts, down_pkts;
};

#define SR(f) offsetof(struct speed_raw, f)
/* Rows shared by the tcp and udp speed-limit maps: the slice and the bytes. */
#define SPEED_BYTE_ROWS                                                          \
	{.key = "shift_millis",                                                  \
	 .type = CONF_T_U32,                                                     \
	 .off = SR(shift),                                                       \
	 .max = 12,                                                              \
	 .flags = CONF_F_SEEN,                                                   \
	 .seen_off = SR(shift_seen)},                                            \
		{.key = "shift",                                                 \
		 .type = CONF_T_U32,                                             \
		 .off = SR(shift),                                               \
		 .max = 12,                                                      \
		 .flags = CONF_F_SEEN,                                           \
		 .seen_off = SR(shift_seen)},                                    \
		{.key = "upload", .type = CONF_T_SIZE, .off = SR(up)},           \
		{.key = "north", .type = CONF_T_SIZE, .off = SR(up)},            \
		{.key = "upload_bytes", .type = CONF_T_SIZE, .off = SR(up)},     \
		{.key = "north_bytes", .type = CONF_T_SIZE, .off = SR(up)},      \
		{.key = "download", .type = CONF_T_SIZE, .off = SR(down)},       \
		{.key = "south", .type = CONF_T_SIZE, .off = SR(down)},          \
		{.key = "download_bytes", .type = CONF_T_SIZE, .off = SR(down)}, \
	{                                                                        \
		.key = "south_bytes", .type = CONF_T_SIZE, .off = SR(down)       \
	}

static const struct conf_field tcp_speed_fields[] = {
	SPEED_BYTE_ROWS,
	{0},
};

static const struct conf_field udp_speed_fields[] = {
	SPEED_BYTE_ROWS,
	{.key = "upload_packets", .type = CONF_T_U64, .off = SR(up_pkts), .max = UINT64_MAX},
	{.key = "north_packets", .type = CONF_T_U64, .off = SR(up_pkts), .max = UINT64_MAX},
	{.key = "download_packets", .type = CONF_T_U64, .off = SR(down_pkts), .max = UINT64_MAX},
	{.key = "south_packets", .type = CONF_T_U64, .off = SR(down_pkts), .max = UINT64_MAX},
	{0},
};
#undef SR

static const struct conf_schema tcp_speed_schema = {
	.name = "tcp socket speed limit",
	.size = sizeof(struct speed_raw),
	.fields = tcp_speed_fields,
};
static const struct conf_schema udp_speed_schema = {
	.name = "udp socket speed limit",
	.size = sizeof(struct speed_raw),
	.fields = udp_speed_fields,
};

/* A bare humanize size: the same value both ways per 2^10 ms. */
static int speed_parse(struct conf_ctx *ctx, const struct conf_node *n, const struct conf_schema *s,
		       struct speed_raw *r)
{
	memset(r, 0, sizeof(*r));
	r->shift = 10;
	if (n->kind == CONF_MAP)
		return conf_parse_map(ctx, n, s, NULL, r);
	if (n->kind != CONF_SCALAR || conf_is_null(n))
		return conf_error(ctx, n, "expected a size (\"10M\") or a map, got %s",
				  pv_kind_name(n));
	if (conf_get_size(ctx, n, &r->up) < 0)
		return -EINVAL;
	r->down = r->up;
	return 0;
}

int pv_tcp_speed_limit(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct tcp_speed_limit *l = dst;
	struct speed_raw r;

	if (speed_parse(ctx, n, &tcp_speed_schema, &r) < 0)
		return -EINVAL;
	l->set = true;
	l->shift_millis = (uint8_t)r.shift;
	l->upload = r.up;
	l->download = r.down;
	return 0;
}

int pv_udp_speed_limit(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct udp_speed_limit *l = dst;
	struct speed_raw r;

	if (speed_parse(ctx, n, &udp_speed_schema, &r) < 0)
		return -EINVAL;
	l->set = true;
	l->shift_millis = (uint8_t)r.shift;
	l->upload_bytes = r.up;
	l->download_bytes = r.down;
	l->upload_packets = r.up_pkts;
	l->download_packets = r.down_pkts;
	return 0;
}

/* ---- process-wide token buckets ------------------------------------------ */

struct bucket_raw {
	uint64_t interval_ms;
	uint64_t bytes, pkts, burst_bytes, burst_pkts;
	bool bytes_seen, pkts_seen, burst_bytes_seen, burst_pkts_seen;
};

#define BR(f) offsetof(struct bucket_raw, f)
static const struct conf_field stream_bucket_fields[] = {
	{.key = "replenish_interval", .type = CONF_T_DURATION, .off = BR(interval_ms), .min = 1},
	{.key = "replenish_bytes",
	 .type = CONF_T_SIZE,
	 .off = BR(bytes),
	 .min = 1,
	 .flags = CONF_F_REQUIRED | CONF_F_SEEN,
	 .seen_off = BR(bytes_seen)},
	{.key = "max_burst_bytes",
	 .type = CONF_T_SIZE,
	 .off = BR(burst_bytes),
	 .min = 1,
	 .flags = CONF_F_SEEN,
	 .seen_off = BR(burst_bytes_seen)},
	{0},
};
static const struct conf_field datagram_bucket_fields[] = {
	{.key = "replenish_interval", .type = CONF_T_DURATION, .off = BR(interval_ms), .min = 1},
	{.key = "replenish_bytes",
	 .type = CONF_T_SIZE,
	 .off = BR(bytes),
	 .min = 1,
	 .flags = CONF_F_SEEN,
	 .seen_off = BR(bytes_seen)},
	{.key = "replenish_packets",
	 .type = CONF_T_SIZE,
	 .off = BR(pkts),
	 .min = 1,
	 .flags = CONF_F_SEEN,
	 .seen_off = BR(pkts_seen)},
	{.key = "max_burst_bytes",
	 .type = CONF_T_SIZE,
	 .off = BR(burst_bytes),
	 .min = 1,
	 .flags = CONF_F_SEEN,
	 .seen_off = BR(burst_bytes_seen)},
	{.key = "max_burst_packets",
	 .type = CONF_T_SIZE,
	 .off = BR(burst_pkts),
	 .min = 1,
	 .flags = CONF_F_SEEN,
	 .seen_off = BR(burst_pkts_seen)},
	{0},
};
#undef BR
static const struct conf_schema stream_bucket_schema = {
	.name = "global stream speed limit",
	.size = sizeof(struct bucket_raw),
	.fields = stream_bucket_fields,
};
static const struct conf_schema datagram_bucket_schema = {
	.name = "global datagram speed limit",
	.size = sizeof(struct bucket_raw),
	.fields = datagram_bucket_fields,
};

static int bucket_parse(struct conf_ctx *ctx, const struct conf_node *n,
			const struct conf_schema *s, struct bucket_raw *r)
{
	memset(r, 0, sizeof(*r));
	r->interval_ms = 1000;
	if (n->kind == CONF_MAP)
		return conf_parse_map(ctx, n, s, NULL, r);
	if (n->kind != CONF_SCALAR || conf_is_null(n))
		return conf_error(ctx, n, "expected a size or a map, got %s", pv_kind_name(n));
	if (conf_get_size(ctx, n, &r->bytes) < 0)
		return -EINVAL;
	if (r->bytes == 0)
		return conf_error(ctx, n, "the replenish size must not be 0");
	r->bytes_seen = true;
	return 0;
}

int pv_global_stream_limit(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct global_stream_limit *l = dst;
	struct bucket_raw r;

	if (bucket_parse(ctx, n, &stream_bucket_schema, &r) < 0)
		return -EINVAL;
	l->set = true;
	l->replenish_interval_ms = r.interval_ms;
	l->replenish_bytes = r.bytes;
	l->max_burst_bytes = r.burst_bytes_seen ? r.burst_bytes : r.bytes;
	return 0;
}

int pv_global_datagram_limit(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct global_datagram_limit *l = dst;
	struct bucket_raw r;

	if (bucket_parse(ctx, n, &datagram_bucket_schema, &r) < 0)
		return -EINVAL;
	if (!r.bytes_seen && !r.pkts_seen)
		return conf_error(ctx, n, "set replenish_bytes or replenish_packets (or both)");
	l->set = true;
	l->replenish_interval_ms = r.interval_ms;
	l->replenish_bytes = r.bytes;
	l->replenish_packets = r.pkts;
	l->max_burst_bytes = r.burst_bytes_seen ? r.burst_bytes : r.bytes;
	l->max_burst_packets = r.burst_pkts_seen ? r.burst_pkts : r.pkts;
	return 0;
}

/* ---- rate limit quota ------------------------------------------------------ */

#define NS_PER_S 1000000000ull

/* "N", "N/s", "N/m", "N/h" (also "/sec", "/min", "/hour"): *rate per *unit_ns. */
static int rate_str(struct conf_ctx *ctx, const struct conf_node *n, uint64_t *rate,
		    uint64_t *unit_ns)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} units[] = {
		{"s", NS_PER_S},	{"sec", NS_PER_S},	   {"second", NS_PER_S},
		{"m", 60 * NS_PER_S},	{"min", 60 * NS_PER_S},	   {"minute", 60 * NS_PER_S},
		{"h", 3600 * NS_PER_S}, {"hour", 3600 * NS_PER_S},
	};
	const char *s = n->str;
	uint64_t v = 0;
	size_t i = 0;

	if (n->kind != CONF_SCALAR || conf_is_null(n))
		goto bad;
	while (s[i] == ' ')
		i++;
	if (!isdigit((unsigned char)s[i]))
		goto bad;
	for (; isdigit((unsigned char)s[i]); i++) {
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return conf_error(ctx, n, "rate %s is too large (max %u)", s, UINT32_MAX);
	}
	while (s[i] == ' ')
		i++;
	*unit_ns = NS_PER_S;
	if (s[i] == '/') {
		const char *u = s + i + 1;
		size_t k;
		while (*u == ' ')
			u++;
		for (k = 0; k < ARRAY_SIZE(units); k++)
			if (strcmp(u, units[k].s) == 0)
				break;
		if (k == ARRAY_SIZE(units))
			goto bad;
		*unit_ns = units[k].ns;
	} else if (s[i] != '\0') {
		goto bad;
	}
	if (v == 0)
		return conf_error(ctx, n, "rate must not be 0");
	*rate = v;
	return 0;
bad:
	return conf_error(ctx, n, "invalid rate '%s': use N, \"N/s\", \"N/m\" or \"N/h\"",
			  n->kind == CONF_SCALAR ? n->str : "");
}

static void quota_from_rate(struct rate_limit_quota *q, uint64_t rate, uint64_t unit_ns)
{
	q->replenish_interval_ns = rate ? unit_ns / rate : unit_ns;
	if (q->replenish_interval_ns == 0)
		q->replenish_interval_ns = 1;
	q->max_burst = (uint32_t)rate;
}

static int quota_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		    void *arg)
{
	struct rate_limit_quota *q = arg;

	/* rate and replenish_interval conflict: the later one wins, as in g3. */
	if (conf_key_is(k, "rate")) {
		uint64_t rate = 0, unit = 0;
		if (rate_str(ctx, v, &rate, &unit) < 0)
			return -EINVAL;
		quota_from_rate(q, rate, unit);
		return 0;
	}
	if (conf_key_is(k, "replenish_interval")) {
		uint64_t ms;
		if (conf_get_duration_ms(ctx, v, &ms) < 0)
			return -EINVAL;
		if (ms == 0)
			return conf_error(ctx, v, "replenish_interval must not be 0");
		q->replenish_interval_ns = ms * 1000000ull;
		q->max_burst = 1;
		return 0;
	}
	return conf_error(ctx, k, "unknown key '%s' in a rate limit quota", k->str);
}

int pv_rate_limit(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct rate_limit_quota *q = dst;

	memset(q, 0, sizeof(*q));
	if (n->kind == CONF_MAP) {
		const struct conf_node *burst = conf_map_get(n, "max_burst");

		/* max_burst applies after rate/replenish_interval whatever the order. */
		for (const struct conf_node *k = n->child; k; k = k->next) {
			char key[64];
			size_t saved;
			int rc;

			if (conf_key_is(k, "max_burst"))
				continue;
			conf_normalize(k->str, k->len, key, sizeof(key));
			saved = conf_path_push_key(ctx, key);
			rc = quota_kv(ctx, k, k->value, q);
			conf_path_pop(ctx, saved);
			if (rc < 0)
				return -EINVAL;
		}
		if (q->replenish_interval_ns == 0)
			return conf_error(
				ctx, n, "a rate limit quota needs 'rate' or 'replenish_interval'");
		if (burst != NULL) {
			uint64_t b;
			size_t saved = conf_path_push_key(ctx, "max_burst");
			int rc = conf_get_u64(ctx, burst, 1, UINT32_MAX, &b);
			conf_path_pop(ctx, saved);
			if (rc < 0)
				return -EINVAL;
			q->max_burst = (uint32_t)b;
		}
	} else {
		uint64_t rate = 0, unit = 0;
		if (rate_str(ctx, n, &rate, &unit) < 0)
			return -EINVAL;
		quota_from_rate(q, rate, unit);
	}
	q->set = true;
	return 0;
}
