/* Fuzz the config loader and schema engine: YAML bytes → node tree → a
 * sample schema covering every value type, typed objects from `server`,
 * and every value parser over every scalar. Includes are refused so the
 * input never reaches the file system. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fz_tls {
	const char *cert, *key;
};

struct fz_srv {
	const char *name, *path;
	struct conf_hostport listen;
	uint64_t timeout, size, big;
	uint32_t small;
	bool flag, tls_seen;
	int mode, custom;
	struct conf_array nets, ports, users, names;
	struct fz_tls tls;
};

struct fz_top {
	uint64_t timeout;
	const char *name;
	struct conf_array hosts;
	struct fz_tls tls;
};

static const struct conf_enum fz_modes[] = {{"random", 1}, {"round_robin", 2}, {"rr", 2}, {0}};

static const struct conf_field fz_tls_fields[] = {
	{.key = "certificate",
	 .type = CONF_T_STR,
	 .off = offsetof(struct fz_tls, cert),
	 .flags = CONF_F_REQUIRED},
	{.key = "private_key", .type = CONF_T_PATH, .off = offsetof(struct fz_tls, key)},
	{.key = "key", .type = CONF_T_PATH, .off = offsetof(struct fz_tls, key)},
	{0},
};
static const struct conf_schema fz_tls_schema = {"tls", sizeof(struct fz_tls), fz_tls_fields, NULL,
						 NULL};

static const struct conf_field fz_user_fields[] = {
	{.key = "name", .type = CONF_T_STR, .off = 0, .flags = CONF_F_REQUIRED},
	{0},
};
static const struct conf_schema fz_user_schema = {"user", sizeof(const char *), fz_user_fields,
						  NULL, NULL};

/* A custom value: a map of user data (keys kept as written). */
static int fz_custom(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	int count = 0;

	if (!n || n->kind != CONF_MAP)
		return conf_error(ctx, n, "expected a map");
	for (const struct conf_node *k = n->child; k; k = k->next) {
		struct conf_hostport hp;
		size_t saved = conf_path_push_key(ctx, k->str);
		if (conf_get_hostport(ctx, k->value, 80, &hp) == 0)
			count++;
		conf_path_pop(ctx, saved);
	}
	*(int *)dst = count;
	return 0;
}

static const struct conf_field fz_net = {.type = CONF_T_NETWORK};
static const struct conf_field fz_port = {.type = CONF_T_U32, .min = 1, .max = 65535};
static const struct conf_field fz_name = {.type = CONF_T_STR};
static const struct conf_field fz_hostport = {.type = CONF_T_HOSTPORT, .min = 443};

static int fz_check(struct conf_ctx *ctx, const struct conf_node *m, void *obj)
{
	struct fz_srv *s = obj;
	if (s->flag && !s->tls_seen)
		return conf_error(ctx, m, "'flag' needs 'tls'");
	return 0;
}

static void fz_defaults(void *obj)
{
	((struct fz_srv *)obj)->timeout = 1000;
}

static const struct conf_field fz_srv_fields[] = {
	{.key = "name",
	 .type = CONF_T_STR,
	 .off = offsetof(struct fz_srv, name),
	 .flags = CONF_F_REQUIRED},
	{.key = "path", .type = CONF_T_PATH, .off = offsetof(struct fz_srv, path)},
	{.key = "listen", .type = CONF_T_HOSTPORT, .off = offsetof(struct fz_srv, listen)},
	{.key = "listen_address", .type = CONF_T_HOSTPORT, .off = offsetof(struct fz_srv, listen)},
	{.key = "timeout",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct fz_srv, timeout),
	 .min = 1,
	 .max = 86400000},
	{.key = "size", .type = CONF_T_SIZE, .off = offsetof(struct fz_srv, size), .max = 1 << 30},
	{.key = "big", .type = CONF_T_U64, .off = offsetof(struct fz_srv, big)},
	{.key = "small", .type = CONF_T_U32, .off = offsetof(struct fz_srv, small), .max = 255},
	{.key = "flag", .type = CONF_T_BOOL, .off = offsetof(struct fz_srv, flag)},
	{.key = "mode",
	 .type = CONF_T_ENUM,
	 .off = offsetof(struct fz_srv, mode),
	 .enums = fz_modes},
	{.key = "nets", .type = CONF_T_LIST, .off = offsetof(struct fz_srv, nets), .elem = &fz_net},
	{.key = "ports",
	 .type = CONF_T_LIST,
	 .off = offsetof(struct fz_srv, ports),
	 .elem = &fz_port},
	{.key = "users",
	 .type = CONF_T_LIST,
	 .off = offsetof(struct fz_srv, users),
	 .sub = &fz_user_schema},
	{.key = "names",
	 .type = CONF_T_LIST,
	 .off = offsetof(struct fz_srv, names),
	 .elem = &fz_name},
	{.key = "tls",
	 .type = CONF_T_OBJ,
	 .off = offsetof(struct fz_srv, tls),
	 .sub = &fz_tls_schema,
	 .flags = CONF_F_SEEN,
	 .seen_off = offsetof(struct fz_srv, tls_seen)},
	{.key = "hosts",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct fz_srv, custom),
	 .parse = fz_custom},
	{.key = "legacy", .type = CONF_T_IGNORE},
	{0},
};
static const struct conf_schema fz_srv_schema = {"server", sizeof(struct fz_srv), fz_srv_fields,
						 fz_defaults, fz_check};

static const char *const fz_http_aliases[] = {"httpproxy", NULL};
static const struct conf_objtype fz_types[] = {
	{"http_proxy", fz_http_aliases, &fz_srv_schema, 1},
	{"socks_proxy", NULL, &fz_srv_schema, 2},
	{0},
};

static const struct conf_field fz_top_fields[] = {
	{.key = "timeout", .type = CONF_T_DURATION, .off = offsetof(struct fz_top, timeout)},
	{.key = "name", .type = CONF_T_STR, .off = offsetof(struct fz_top, name)},
	{.key = "hosts",
	 .type = CONF_T_LIST,
	 .off = offsetof(struct fz_top, hosts),
	 .elem = &fz_hostport},
	{.key = "tls",
	 .type = CONF_T_OBJ,
	 .off = offsetof(struct fz_top, tls),
	 .sub = &fz_tls_schema},
	{0},
};
static const struct conf_schema fz_top_schema = {"top", sizeof(struct fz_top), fz_top_fields, NULL,
						 NULL};

static int fz_on_server(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx, void *arg)
{
	void *o = NULL;
	int tag = 0;

	(void)idx;
	(void)arg;
	return conf_parse_typed(ctx, obj, "server", fz_types, &o, &tag);
}

/* Every value parser over every scalar, bounded so alias fan-out stays cheap. */
static void fz_walk(struct conf_ctx *ctx, const struct conf_node *n, unsigned *budget)
{
	static const struct conf_enum tab[] = {{"a", 1}, {"ipv4_first", 2}, {0}};
	union {
		const char *s;
		bool b;
		uint64_t u;
		int64_t i;
		int e;
		struct conf_hostport hp;
		struct conf_net net;
	} v;

	for (; n && *budget; n = n->next) {
		(*budget)--;
		if (n->kind == CONF_SCALAR) {
			(void)!conf_get_str(ctx, n, &v.s);
			(void)!conf_get_bool(ctx, n, &v.b);
			(void)!conf_get_u64(ctx, n, 0, UINT64_MAX, &v.u);
			(void)!conf_get_i64(ctx, n, INT64_MIN, INT64_MAX, &v.i);
			(void)!conf_get_duration_ms(ctx, n, &v.u);
			(void)!conf_get_size(ctx, n, &v.u);
			(void)!conf_get_hostport(ctx, n, 0, &v.hp);
			(void)!conf_get_hostport(ctx, n, 1, &v.hp);
			(void)!conf_get_network(ctx, n, &v.net);
			(void)!conf_get_enum(ctx, n, tab, &v.e);
			if (n->value)
				fz_walk(ctx, n->value, budget);
		} else {
			fz_walk(ctx, n->child, budget);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const skip[] = {"server", "other", NULL};
	struct conf_ctx ctx;
	const struct conf_node *root = NULL;
	struct fz_top top;
	unsigned budget = 2000;

	conf_ctx_init(&ctx, "fuzz.yaml");
	ctx.no_includes = true;
	if (conf_load_buffer(&ctx, "fuzz.yaml", (const char *)data, size, &root) == 0) {
		memset(&top, 0, sizeof(top));
		(void)!conf_parse_map(&ctx, root, &fz_top_schema, skip, &top);
		(void)!conf_foreach_object(&ctx, "server", conf_map_get(root, "server"),
					   fz_on_server, NULL);
		fz_walk(&ctx, root, &budget);
	}
	free(conf_errors_join(&ctx));
	conf_ctx_fini(&ctx);
	return 0;
}
