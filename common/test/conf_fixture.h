/* Shared fixture for the conf unit tests: a sample server schema covering
 * every value type, a temp directory, and load/assert helpers. Included by
 * test_conf.c and test_conf_include.c only. */
#ifndef G3C_TEST_CONF_FIXTURE_H
#define G3C_TEST_CONF_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/conf.h"
/* ---- sample schema (shaped like a proxyd server) -------------------------- */

struct tls {
	const char *cert, *key;
};

struct user {
	const char *name;
	uint64_t limit;
};

struct srv {
	const char *name;
	struct conf_hostport listen;
	uint64_t timeout, buf;
	bool enable;
	uint32_t ttl;
	int mode;
	struct conf_array allow, ports, users;
	struct tls tls;
	bool tls_seen;
	const char *path;
	int commas;
};

static const struct conf_field tls_fields[] = {
	{.key = "certificate",
	 .type = CONF_T_STR,
	 .off = offsetof(struct tls, cert),
	 .flags = CONF_F_REQUIRED},
	{.key = "private_key",
	 .type = CONF_T_STR,
	 .off = offsetof(struct tls, key),
	 .flags = CONF_F_REQUIRED},
	{.key = "key", .type = CONF_T_STR, .off = offsetof(struct tls, key)},
	{0},
};
static const struct conf_schema tls_schema = {"tls", sizeof(struct tls), tls_fields, NULL, NULL};

static const struct conf_field user_fields[] = {
	{.key = "name",
	 .type = CONF_T_STR,
	 .off = offsetof(struct user, name),
	 .flags = CONF_F_REQUIRED},
	{.key = "limit", .type = CONF_T_U64, .off = offsetof(struct user, limit), .max = 1000},
	{0},
};
static const struct conf_schema user_schema = {"user", sizeof(struct user), user_fields, NULL,
					       NULL};

static const struct conf_enum modes[] = {{"random", 1}, {"round_robin", 2}, {"rr", 2}, {0}};
static const struct conf_field net_elem = {.type = CONF_T_NETWORK};
static const struct conf_field port_elem = {.type = CONF_T_U32, .min = 1, .max = 65535};

UNUSED static int parse_commas(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	const char *s;
	int c = 1;

	if (conf_get_str(ctx, n, &s))
		return -EINVAL;
	for (; *s; s++)
		c += *s == ',';
	*(int *)dst = c;
	return 0;
}

UNUSED static void srv_defaults(void *obj)
{
	struct srv *s = obj;
	s->timeout = 30000;
	s->ttl = 64;
}

UNUSED static int srv_check(struct conf_ctx *ctx, const struct conf_node *m, void *obj)
{
	struct srv *s = obj;
	if (s->enable && !s->tls_seen)
		return conf_error(ctx, m, "'enable' needs 'tls'");
	return 0;
}

static const struct conf_field srv_fields[] = {
	{.key = "name",
	 .type = CONF_T_STR,
	 .off = offsetof(struct srv, name),
	 .flags = CONF_F_REQUIRED},
	{.key = "listen",
	 .type = CONF_T_HOSTPORT,
	 .off = offsetof(struct srv, listen),
	 .min = 3128},
	{.key = "listen_address",
	 .type = CONF_T_HOSTPORT,
	 .off = offsetof(struct srv, listen),
	 .min = 3128},
	{.key = "timeout",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct srv, timeout),
	 .min = 1000,
	 .max = 3600000},
	{.key = "buf", .type = CONF_T_SIZE, .off = offsetof(struct srv, buf), .max = 1000000},
	{.key = "enable", .type = CONF_T_BOOL, .off = offsetof(struct srv, enable)},
	{.key = "ttl", .type = CONF_T_U32, .off = offsetof(struct srv, ttl), .max = 255},
	{.key = "mode", .type = CONF_T_ENUM, .off = offsetof(struct srv, mode), .enums = modes},
	{.key = "allow",
	 .type = CONF_T_LIST,
	 .off = offsetof(struct srv, allow),
	 .elem = &net_elem},
	{.key = "ports",
	 .type = CONF_T_LIST,
	 .off = offsetof(struct srv, ports),
	 .elem = &port_elem},
	{.key = "users",
	 .type = CONF_T_LIST,
	 .off = offsetof(struct srv, users),
	 .sub = &user_schema},
	{.key = "tls",
	 .type = CONF_T_OBJ,
	 .off = offsetof(struct srv, tls),
	 .sub = &tls_schema,
	 .flags = CONF_F_SEEN,
	 .seen_off = offsetof(struct srv, tls_seen)},
	{.key = "path", .type = CONF_T_PATH, .off = offsetof(struct srv, path)},
	{.key = "commas",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct srv, commas),
	 .parse = parse_commas},
	{.key = "legacy", .type = CONF_T_IGNORE},
	{0},
};
static const struct conf_schema srv_schema = {"server", sizeof(struct srv), srv_fields,
					      srv_defaults, srv_check};

static const char *const http_aliases[] = {"httpproxy", NULL};
static const struct conf_objtype srv_types[] = {
	{"http_proxy", http_aliases, &srv_schema, 1},
	{"socks_proxy", NULL, &srv_schema, 2},
	{0},
};

/* ---- helpers ---------------------------------------------------------------- */

/* srv[] holds the objects that parsed, in list order. */
struct fx {
	struct conf_ctx ctx;
	char dir[64];
	const struct conf_node *root;
	struct srv *srv[32];
	int tag[32];
	unsigned nsrv;
};

UNUSED static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_conf.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	conf_ctx_init(&f->ctx, "t.yaml");
	*state = f;
	return 0;
}

UNUSED static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	conf_ctx_fini(&f->ctx);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

UNUSED static void write_file(struct fx *f, const char *name, const char *text)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

UNUSED static void mkdir_in(struct fx *f, const char *name)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", f->dir, name);
	assert_int_equal(mkdir(p, 0700), 0);
}

UNUSED static int load(struct fx *f, const char *yaml)
{
	return conf_load_buffer(&f->ctx, "t.yaml", yaml, strlen(yaml), &f->root);
}

UNUSED static int on_server(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx,
			    void *arg)
{
	struct fx *f = arg;
	void *o = NULL;
	int tag = 0;
	assert_true(idx < 32 && idx >= f->nsrv);
	int r = conf_parse_typed(ctx, obj, "server", srv_types, &o, &tag);
	if (r == 0) {
		f->srv[f->nsrv] = o;
		f->tag[f->nsrv++] = tag;
	}
	return r;
}

/* Load text and parse its `server` list; returns the combined result. */
UNUSED static int load_servers(struct fx *f, const char *yaml)
{
	int r = load(f, yaml);
	if (r)
		return r;
	return conf_foreach_object(&f->ctx, "server", conf_map_get(f->root, "server"), on_server,
				   f);
}

UNUSED static void assert_errors(struct fx *f, const char *want)
{
	char *got = conf_errors_join(&f->ctx);
	assert_string_equal(got, want);
	free(got);
}

#endif
