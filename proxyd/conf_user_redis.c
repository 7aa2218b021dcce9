/* The redis user source of a basic user group (a g3c addition; g3 has
 * file and lua/python sources only):
 *   source: {type: redis, addr: HOST[:PORT], db: N, username: U,
 *            password: P, key: NAME, connect_timeout: 5s, response_timeout: 5s}
 *   source: redis://[[USER]:PASS@]HOST[:PORT][/DB]?key=NAME
 * Hash NAME maps each username to that user's JSON (user_redis.c). */
#include "proxyd/conf_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RO(f) offsetof(struct user_redis_conf, f)

static int redis_addr(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct user_redis_conf *r = container_of(dst, struct user_redis_conf, host);
	struct conf_hostport hp;

	if (conf_get_hostport(ctx, n, 6379, &hp) < 0)
		return -EINVAL;
	r->host = hp.host;
	r->port = hp.port;
	return 0;
}

static int redis_key(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (n->len == 0 || n->len > 1024)
		return conf_error(ctx, n, "a redis key must be 1 to 1024 bytes");
	*(const char **)dst = n->str;
	return 0;
}

static const struct conf_field redis_fields[] = {
	{.key = "addr",
	 .type = CONF_T_CUSTOM,
	 .off = RO(host),
	 .parse = redis_addr,
	 .flags = CONF_F_REQUIRED},
	{.key = "db", .type = CONF_T_U32, .off = RO(db), .max = 65535},
	{.key = "username", .type = CONF_T_STR, .off = RO(username)},
	{.key = "password", .type = CONF_T_STR, .off = RO(password)},
	{.key = "key",
	 .type = CONF_T_CUSTOM,
	 .off = RO(key),
	 .parse = redis_key,
	 .flags = CONF_F_REQUIRED},
	{.key = "connect_timeout",
	 .type = CONF_T_DURATION,
	 .off = RO(connect_timeout_ms),
	 .min = 1},
	{.key = "response_timeout",
	 .type = CONF_T_DURATION,
	 .off = RO(response_timeout_ms),
	 .min = 1},
	{0},
};

static void redis_defaults(void *obj)
{
	struct user_redis_conf *r = obj;

	r->port = 6379;
	r->connect_timeout_ms = 5000;
	r->response_timeout_ms = 5000;
}

static const struct conf_schema redis_schema = {
	.name = "redis user source",
	.size = sizeof(struct user_redis_conf),
	.fields = redis_fields,
	.defaults = redis_defaults,
};

static const char *const redis_skip[] = {"type", NULL};

int pconf_user_redis_map(struct conf_ctx *ctx, const struct conf_node *n, struct user_group_conf *g)
{
	struct user_redis_conf *r = conf_alloc(ctx, sizeof(*r));

	if (conf_parse_map(ctx, n, &redis_schema, redis_skip, r) < 0)
		return -EINVAL;
	g->redis = r;
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..len) into the arena; NULL on a bad escape. */
static const char *pct_decode(struct conf_ctx *ctx, const char *s, size_t len)
{
	char *out = conf_alloc(ctx, len + 1);
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		if (i + 2 >= len)
			return NULL;
		int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
		if (h < 0 || l < 0)
			return NULL;
		out[o++] = (char)(h * 16 + l);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

int pconf_user_redis_url(struct conf_ctx *ctx, const struct conf_node *n, struct user_group_conf *g)
{
	struct user_redis_conf *r = conf_alloc(ctx, sizeof(*r));
	const char *s = n->str + 8, *end = n->str + n->len;
	const char *q = memchr(s, '?', (size_t)(end - s));
	const char *auth_end, *hostp, *slash;
	const char *hp_end = q ? q : end;

	redis_defaults(r);
	/* [[USER]:PASS@] */
	auth_end = memchr(s, '@', (size_t)(hp_end - s));
	hostp = s;
	if (auth_end != NULL) {
		const char *colon = memchr(s, ':', (size_t)(auth_end - s));
		if (colon == NULL)
			return conf_error(ctx, n,
					  "redis URL: use [USER]:PASSWORD@ before the host");
		if (colon > s)
			r->username = pct_decode(ctx, s, (size_t)(colon - s));
		r->password = pct_decode(ctx, colon + 1, (size_t)(auth_end - colon - 1));
		if ((colon > s && r->username == NULL) || r->password == NULL)
			return conf_error(ctx, n, "redis URL: bad %%-escape in the credentials");
		hostp = auth_end + 1;
	}
	/* HOST[:PORT][/DB] */
	slash = memchr(hostp, '/', (size_t)(hp_end - hostp));
	{
		struct conf_node hn = *n;
		struct conf_hostport hp;
		size_t hlen = (size_t)((slash ? slash : hp_end) - hostp);
		if (hlen == 0)
			return conf_error(ctx, n, "redis URL: missing host");
		hn.str = conf_strndup(ctx, hostp, hlen);
		hn.len = hlen;
		if (conf_get_hostport(ctx, &hn, 6379, &hp) < 0)
			return -EINVAL;
		r->host = hp.host;
		r->port = hp.port;
	}
	if (slash != NULL && slash + 1 < hp_end) {
		char *e = NULL;
		unsigned long db = strtoul(slash + 1, &e, 10);
		if (!isdigit((unsigned char)slash[1]) || e != hp_end || db > 65535)
			return conf_error(ctx, n, "redis URL: the database must be 0 to 65535");
		r->db = (uint32_t)db;
	}
	/* ?key=NAME[&connect_timeout=..] — only key is read from the URL */
	if (q == NULL || strncmp(q + 1, "key=", 4) != 0 || q[5] == '\0' || strchr(q + 5, '&'))
		return conf_error(ctx, n, "redis URL: add ?key=NAME (the hash of the users)");
	r->key = pct_decode(ctx, q + 5, (size_t)(end - q - 5));
	if (r->key == NULL)
		return conf_error(ctx, n, "redis URL: bad %%-escape in the key");
	g->redis = r;
	return 0;
}
