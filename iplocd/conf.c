/* Loading iplocd's configuration (conf.h). */
#include "iplocd/conf.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/log.h"
#include "iplocd/service.h"

/* ---- worker: g3's unaided-runtime keys, accepted for compatibility -------- */

struct worker_raw {
	uint32_t thread_number, per_runtime, events, job_init, job_max;
	uint64_t stack;
};

static const struct conf_field worker_fields[] = {
	{.key = "thread_number",
	 .type = CONF_T_U32,
	 .max = 1024,
	 .off = offsetof(struct worker_raw, thread_number)},
	{.key = "thread_number_total",
	 .type = CONF_T_U32,
	 .max = 1024,
	 .off = offsetof(struct worker_raw, thread_number)},
	{.key = "thread_number_per_runtime",
	 .type = CONF_T_U32,
	 .max = 1024,
	 .off = offsetof(struct worker_raw, per_runtime)},
	{.key = "thread_stack_size",
	 .type = CONF_T_SIZE,
	 .off = offsetof(struct worker_raw, stack)},
	{.key = "sched_affinity", .type = CONF_T_IGNORE},
	{.key = "max_io_events_per_tick",
	 .type = CONF_T_U32,
	 .min = 1,
	 .max = 1u << 20,
	 .off = offsetof(struct worker_raw, events)},
	{.key = "openssl_async_job_init_size",
	 .type = CONF_T_U32,
	 .off = offsetof(struct worker_raw, job_init)},
	{.key = "openssl_async_job_max_size",
	 .type = CONF_T_U32,
	 .off = offsetof(struct worker_raw, job_max)},
	{.key = NULL},
};

static const struct conf_schema worker_schema = {
	.name = "worker",
	.size = sizeof(struct worker_raw),
	.fields = worker_fields,
};

/* ---- rpc ------------------------------------------------------------------ */

struct rpc_raw {
	const char *listen;
};

static const struct conf_field rpc_fields[] = {
	{.key = "listen", .type = CONF_T_STR, .off = offsetof(struct rpc_raw, listen)},
	{.key = NULL},
};

static const struct conf_schema rpc_schema = {
	.name = "rpc",
	.size = sizeof(struct rpc_raw),
	.fields = rpc_fields,
};

/* ---- helpers --------------------------------------------------------------- */

/* A path made absolute against the working directory (not resolving links:
 * the watcher must follow a symlink that is switched to a new file). */
static const char *absolute(struct conf_ctx *ctx, const char *p)
{
	char cwd[PATH_MAX];
	size_t cl, pl;
	char *out;

	if (p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return p;
	cl = strlen(cwd);
	pl = strlen(p);
	out = conf_alloc(ctx, cl + pl + 2);
	memcpy(out, cwd, cl);
	out[cl] = '/';
	memcpy(out + cl + 1, p, pl + 1);
	return out;
}

static int parse_ttl(struct conf_ctx *ctx, const struct conf_node *n, uint32_t *out)
{
	uint64_t ms;

	if (conf_get_duration_ms(ctx, n, &ms))
		return -EINVAL;
	if (ms < 1000 || ms > (uint64_t)IPLOCD_MAX_TTL * 1000)
		return conf_error(ctx, n, "TTL out of range (1s..7d)");
	*out = (uint32_t)(ms / 1000);
	return 0;
}

static int parse_listen(struct conf_ctx *ctx, const struct conf_node *n, const char *v,
			const char **out)
{
	const char *path;
	size_t len;
	char *url;

	if (strncmp(v, "tcp://", 6) == 0) {
		*out = v;
		return 0;
	}
	path = strncmp(v, "ipc://", 6) == 0 ? v + 6 : v;
	if (!path[0])
		return conf_error(ctx, n, "empty socket path");
	path = absolute(ctx, conf_resolve_path(ctx, path));
	if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return conf_error(ctx, n, "socket path '%s' is too long for a unix socket", path);
	len = strlen(path) + 7;
	url = conf_alloc(ctx, len);
	snprintf(url, len, "ipc://%s", path);
	*out = url;
	return 0;
}

/* geoip_db: {country|asn|city|isp: FILE}; each file is opened and validated
 * here so errors point at the line naming it. */
static void parse_geoip_db(struct conf_ctx *ctx, const struct conf_node *m, struct iplocd_conf *c)
{
	if (conf_is_null(m) || m->kind != CONF_MAP) {
		conf_error(ctx, m,
			   "expected a map of database kinds (country, asn, city, isp) to "
			   ".mmdb files");
		return;
	}
	for (const struct conf_node *k = m->child; k; k = k->next) {
		size_t saved = conf_path_push_key(ctx, k->str);
		int kind = -1;
		const char *rel, *path;
		char err[512];
		int ret;

		for (int i = 0; i < IPLOC_DB__COUNT; i++)
			if (conf_key_is(k, iploc_db_kind_name((enum iploc_db_kind)i)))
				kind = i;
		if (kind < 0) {
			conf_error(ctx, k,
				   "unknown database kind '%s' (expected country, asn, city "
				   "or isp)",
				   k->str);
			goto next;
		}
		if (conf_get_str(ctx, k->value, &rel))
			goto next;
		if (!rel[0]) {
			conf_error(ctx, k->value, "empty file path");
			goto next;
		}
		path = absolute(ctx, conf_resolve_path(ctx, rel));
		c->db_path[kind] = path;
		ret = iploc_db_open(path, &c->db[kind], err, sizeof(err));
		if (ret != 0)
			conf_error(ctx, k->value, "%s: %s", path, err);
	next:
		conf_path_pop(ctx, saved);
	}
}

/* ---- main file ------------------------------------------------------------ */

static const char *const top_keys = "geoip_db, ttl, miss_ttl, db_check_interval, rpc, runtime, "
				    "worker, log, stat or controller";

static void parse_key(struct conf_ctx *ctx, const struct conf_node *k, struct iplocd_conf *c,
		      bool *seen_db)
{
	const struct conf_node *v = k->value;
	size_t saved = conf_path_push_key(ctx, k->str);

	if (conf_key_is(k, "geoip_db")) {
		*seen_db = true;
		parse_geoip_db(ctx, v, c);
	} else if (conf_key_is(k, "ttl")) {
		(void)parse_ttl(ctx, v, &c->ttl);
	} else if (conf_key_is(k, "miss_ttl")) {
		(void)parse_ttl(ctx, v, &c->miss_ttl);
	} else if (conf_key_is(k, "db_check_interval")) {
		uint64_t ms;
		if (conf_get_duration_ms(ctx, v, &ms) == 0) {
			if (ms != 0 && ms < 10)
				conf_error(ctx, v, "interval below 10ms (0 turns polling off)");
			else
				c->check_interval_ms = ms;
		}
	} else if (conf_key_is(k, "rpc")) {
		struct rpc_raw r = {NULL};
		if (conf_parse_map(ctx, v, &rpc_schema, NULL, &r) == 0 && r.listen) {
			size_t at = conf_path_push_key(ctx, "listen");
			(void)parse_listen(ctx, conf_map_get(v, "listen"), r.listen,
					   &c->rpc_listen);
			conf_path_pop(ctx, at);
		}
	} else if (conf_key_is(k, "worker")) {
		struct worker_raw w;
		memset(&w, 0, sizeof(w));
		if (conf_parse_map(ctx, v, &worker_schema, NULL, &w) == 0)
			c->worker_given = true;
	} else {
		conf_error(ctx, k, "unknown top-level key '%s' (expected %s)", k->str, top_keys);
	}
	conf_path_pop(ctx, saved);
}

static struct iplocd_conf *build(struct conf_ctx *ctx, const struct conf_node *root)
{
	struct iplocd_conf *c = xcalloc(1, sizeof(*c));
	bool seen_db = false;

	c->magic = IPLOCD_CONF_MAGIC;
	c->ttl = IPLOC_DEFAULT_TTL;
	c->miss_ttl = IPLOC_DEFAULT_MISS_TTL;
	c->check_interval_ms = IPLOCD_DEFAULT_CHECK_MS;
	daemon_conf_defaults(&c->common, "g3iploc");

	if (root && !conf_is_null(root) && root->kind != CONF_MAP) {
		conf_error(ctx, root, "the main file must be a map of top-level keys");
		goto fail;
	}
	for (const struct conf_node *k = root ? root->child : NULL; k; k = k->next) {
		if (daemon_conf_parse_key(ctx, k, &c->common) == 1)
			continue;
		parse_key(ctx, k, c, &seen_db);
	}
	if (ctx->nerr == 0) {
		bool any = false;
		for (int i = 0; i < IPLOC_DB__COUNT; i++)
			any = any || c->db[i];
		if (!any)
			conf_error(ctx, seen_db ? conf_map_get(root, "geoip_db") : NULL,
				   "geoip_db: at least one database (country, asn, city or isp) "
				   "is required");
	}
	if (ctx->nerr != 0)
		goto fail;
	c->arena = conf_ctx_take_arena(ctx);
	return c;
fail:
	iplocd_conf_free(c); /* the arena stays with ctx */
	return NULL;
}

struct iplocd_conf *iplocd_conf_load(struct conf_ctx *ctx, const char *path)
{
	const struct conf_node *root = NULL;

	if (conf_load_main(ctx, path, "iplocd", &root) < 0)
		return NULL;
	return build(ctx, root);
}

struct iplocd_conf *iplocd_conf_load_buffer(struct conf_ctx *ctx, const char *name,
					    const char *data, size_t len)
{
	const struct conf_node *root = NULL;

	if (conf_load_buffer(ctx, name, data, len, &root) < 0)
		return NULL;
	return build(ctx, root);
}

void iplocd_conf_free(struct iplocd_conf *c)
{
	if (!c)
		return;
	CHECK_OBJ(c, IPLOCD_CONF_MAGIC);
	for (int i = 0; i < IPLOC_DB__COUNT; i++)
		iploc_db_unref(c->db[i]);
	if (c->arena)
		conf_arena_free(c->arena);
	POISON_OBJ(c);
	free(c);
}

int iplocd_rpc_url(const struct iplocd_conf *c, const char *control_dir, const char *group,
		   char *buf, size_t cap)
{
	size_t dl;
	int n;

	if (c->rpc_listen) {
		n = snprintf(buf, cap, "%s", c->rpc_listen);
		return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
	}
	dl = strlen(control_dir);
	while (dl > 1 && control_dir[dl - 1] == '/')
		dl--;
	if (group && group[0])
		n = snprintf(buf, cap, "ipc://%.*s/iplocd_%s.rpc", (int)dl, control_dir, group);
	else
		n = snprintf(buf, cap, "ipc://%.*s/iplocd.rpc", (int)dl, control_dir);
	if (n < 0 || (size_t)n >= cap ||
	    (size_t)n - 6 >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
		return -ENAMETOOLONG;
	return 0;
}
