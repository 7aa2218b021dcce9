/* fcgend's config loader (see conf.h). */
#include "fcgend/conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include <openssl/err.h>

#include "common/log.h"
#include "common/tls.h"

#define MAX_CA_SOURCES 16
#define UNIX_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

static const uint32_t default_pool[FCGEN_KEY__COUNT] = {
	[FCGEN_KEY_EC256] = 256,
	[FCGEN_KEY_RSA2048] = 16,
	[FCGEN_KEY_ED25519] = 64,
	[FCGEN_KEY_ED448] = 8,
};

/* ---- backend --------------------------------------------------------------------- */

struct pem_srcs {
	const struct conf_node *node;
	const char *src[MAX_CA_SOURCES]; /* inline PEM or a resolved path */
	unsigned n;
};

struct backend_raw {
	struct pem_srcs certs;
	struct pem_srcs key;
	bool no_append_ca_cert;
	bool keep_serial;
	uint32_t max_ttl_s;
	struct hist_conf duration_stats;
	uint32_t cache_size;
	uint64_t cache_ttl_ms;
	uint32_t key_pool[FCGEN_KEY__COUNT];
	struct forge_ca *ca; /* built by backend_check */
};

static int pem_item(struct conf_ctx *ctx, const struct conf_node *n, struct pem_srcs *p)
{
	const char *s;

	if (conf_get_str(ctx, n, &s))
		return -EINVAL;
	if (!s[0])
		return conf_error(ctx, n, "empty value: give a file path or inline PEM");
	if (p->n == MAX_CA_SOURCES)
		return conf_error(ctx, n, "at most %d certificate sources", MAX_CA_SOURCES);
	p->src[p->n++] = tls_is_inline_pem(s) ? s : conf_resolve_path(ctx, s);
	return 0;
}

static int parse_ca_certificate(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct pem_srcs *p = dst;
	int ret = 0;

	p->node = n;
	if (n->kind != CONF_SEQ)
		return pem_item(ctx, n, p);
	if (n->nchild == 0)
		return conf_error(ctx, n, "empty certificate list");
	for (const struct conf_node *it = n->child; it; it = it->next)
		if (pem_item(ctx, it, p))
			ret = -EINVAL;
	return ret;
}

static int parse_ca_private_key(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct pem_srcs *p = dst;

	p->node = n;
	if (n->kind != CONF_SCALAR)
		return conf_error(ctx, n, "expected a file path or inline PEM");
	return pem_item(ctx, n, p);
}

/* Seconds as an integer, or a duration ("1d"); below FORGE_MIN_TTL is raised. */
static int parse_max_ttl(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	uint64_t ms;

	if (conf_get_duration_ms(ctx, n, &ms))
		return -EINVAL;
	if (ms / 1000 > UINT32_MAX)
		return conf_error(ctx, n, "max_ttl is too large (at most %u seconds)", UINT32_MAX);
	*(uint32_t *)dst = (uint32_t)MAX(ms / 1000, (uint64_t)FORGE_MIN_TTL);
	return 0;
}

static int parse_duration_stats(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return hist_conf_parse(ctx, n, dst);
}

static int pool_size(struct conf_ctx *ctx, const struct conf_node *n, uint32_t *out)
{
	uint64_t v;

	if (conf_get_u64(ctx, n, 0, FCGEND_MAX_POOL, &v))
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int parse_key_pool(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	uint32_t *pool = dst;
	uint32_t v;
	int ret = 0;

	if (n->kind == CONF_SCALAR) {
		if (pool_size(ctx, n, &v))
			return -EINVAL;
		for (int t = 0; t < FCGEN_KEY__COUNT; t++)
			pool[t] = v;
		return 0;
	}
	if (n->kind != CONF_MAP)
		return conf_error(ctx, n, "expected a number or a map of key type to pool size");
	for (const struct conf_node *k = n->child; k; k = k->next) {
		int t;
		for (t = 0; t < FCGEN_KEY__COUNT; t++)
			if (conf_key_is(k, fcgen_key_type_name((enum fcgen_key_type)t)))
				break;
		size_t saved = conf_path_push_key(ctx, k->str);
		if (t == FCGEN_KEY__COUNT)
			ret = conf_error(ctx, k,
					 "unknown key type '%s' (expected ec256, rsa2048, ed25519 "
					 "or ed448)",
					 k->str);
		else if (pool_size(ctx, k->value, &pool[t]))
			ret = -EINVAL;
		conf_path_pop(ctx, saved);
	}
	return ret;
}

static void backend_defaults(void *obj)
{
	struct backend_raw *b = obj;

	b->max_ttl_s = FORGE_DEFAULT_TTL;
	hist_conf_defaults(&b->duration_stats);
	b->cache_size = 4096;
	b->cache_ttl_ms = 3600 * 1000;
	memcpy(b->key_pool, default_pool, sizeof(default_pool));
}

static int load_ca(struct conf_ctx *ctx, struct backend_raw *b, STACK_OF(X509) * all,
		   EVP_PKEY **key)
{
	char err[512];
	int ret = 0;

	for (unsigned i = 0; i < b->certs.n; i++) {
		STACK_OF(X509) *sk = NULL;
		if (tls_load_certs(b->certs.src[i], &sk, err, sizeof(err)) != 0) {
			ret = conf_error(ctx, b->certs.node, "%s", err);
			continue;
		}
		while (sk_X509_num(sk) > 0) {
			X509 *x = sk_X509_shift(sk);
			if (!sk_X509_push(all, x)) {
				X509_free(x);
				ret = conf_error(ctx, b->certs.node, "out of memory");
				break;
			}
		}
		sk_X509_pop_free(sk, X509_free);
	}
	if (tls_load_key(b->key.src[0], key, err, sizeof(err)) != 0)
		ret = conf_error(ctx, b->key.node, "%s", err);
	return ret;
}

static int backend_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct backend_raw *b = obj;
	STACK_OF(X509) *all = sk_X509_new_null();
	EVP_PKEY *key = NULL;
	struct forge_opts o = {
		.no_append_ca_cert = b->no_append_ca_cert,
		.keep_serial = b->keep_serial,
		.max_ttl_s = b->max_ttl_s,
	};
	char err[512];
	size_t saved;
	int ret;

	(void)map;
	if (!all)
		return conf_error(ctx, b->certs.node, "out of memory");
	saved = conf_path_push_key(ctx, "ca_certificate");
	ret = load_ca(ctx, b, all, &key);
	if (!ret && forge_ca_new(all, key, &o, time(NULL), &b->ca, err, sizeof(err)) != 0)
		ret = conf_error(ctx, b->certs.node, "%s", err);
	conf_path_pop(ctx, saved);
	EVP_PKEY_free(key);
	sk_X509_pop_free(all, X509_free);
	ERR_clear_error();
	return ret;
}

static const struct conf_field backend_fields[] = {
	{.key = "ca_certificate",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct backend_raw, certs),
	 .flags = CONF_F_REQUIRED,
	 .parse = parse_ca_certificate},
	{.key = "ca_private_key",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct backend_raw, key),
	 .flags = CONF_F_REQUIRED,
	 .parse = parse_ca_private_key},
	{.key = "no_append_ca_cert",
	 .type = CONF_T_BOOL,
	 .off = offsetof(struct backend_raw, no_append_ca_cert)},
	{.key = "keep_serial",
	 .type = CONF_T_BOOL,
	 .off = offsetof(struct backend_raw, keep_serial)},
	{.key = "max_ttl",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct backend_raw, max_ttl_s),
	 .parse = parse_max_ttl},
	{.key = "duration_stats",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct backend_raw, duration_stats),
	 .parse = parse_duration_stats},
	{.key = "cache_size",
	 .type = CONF_T_U32,
	 .off = offsetof(struct backend_raw, cache_size),
	 .max = 10000000},
	{.key = "cache_ttl",
	 .type = CONF_T_DURATION,
	 .off = offsetof(struct backend_raw, cache_ttl_ms),
	 .min = 1000,
	 .max = 30ull * 86400 * 1000},
	{.key = "key_pool",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct backend_raw, key_pool),
	 .parse = parse_key_pool},
	{0},
};

static const struct conf_schema backend_schema = {
	.name = "backend",
	.size = sizeof(struct backend_raw),
	.fields = backend_fields,
	.defaults = backend_defaults,
	.check = backend_check,
};

static int parse_backend(struct conf_ctx *ctx, const struct conf_node *v, struct fcgend_conf *c)
{
	struct backend_raw b;

	memset(&b, 0, sizeof(b));
	if (!v || conf_is_null(v) || v->kind != CONF_MAP)
		return conf_error(ctx, v, "expected a map with ca_certificate and ca_private_key");
	if (conf_parse_map(ctx, v, &backend_schema, NULL, &b) != 0) {
		forge_ca_free(b.ca);
		return -EINVAL;
	}
	c->ca = b.ca;
	c->forge = *forge_ca_opts(b.ca);
	c->duration_stats = b.duration_stats;
	c->cache_size = b.cache_size;
	c->cache_ttl_ms = b.cache_ttl_ms;
	memcpy(c->key_pool, b.key_pool, sizeof(c->key_pool));
	return 0;
}

/* ---- worker ---------------------------------------------------------------------- */

static bool is_bool_literal(const struct conf_node *n)
{
	static const char *const words[] = {"true", "false", "yes", "no", "on", "off"};
	char norm[8];

	if (n->kind != CONF_SCALAR || n->len >= sizeof(norm))
		return false;
	conf_normalize(n->str, n->len, norm, sizeof(norm));
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcmp(norm, words[i]) == 0)
			return true;
	return false;
}

static int worker_key(struct conf_ctx *ctx, const struct conf_node *k, struct fcgend_conf *c)
{
	const struct conf_node *v = k->value;
	uint64_t u;
	bool b;

	if (conf_key_is(k, "thread_number") || conf_key_is(k, "thread_number_total") ||
	    conf_key_is(k, "threads_total")) {
		if (conf_get_u64(ctx, v, 1, FCGEND_MAX_WORKERS, &u))
			return -EINVAL;
		c->keygen_threads = (unsigned)u;
		return 0;
	}
	if (conf_key_is(k, "thread_number_per_runtime") || conf_key_is(k, "threads_per_runtime"))
		return conf_get_u64(ctx, v, 1, FCGEND_MAX_WORKERS, &u);
	if (conf_key_is(k, "thread_stack_size")) {
		if (conf_get_size(ctx, v, &u))
			return -EINVAL;
		if (u != 0 && u < 65536)
			return conf_error(ctx, v, "thread_stack_size %llu is below 64KiB",
					  (unsigned long long)u);
		c->thread_stack_size = u;
		return 0;
	}
	if (conf_key_is(k, "sched_affinity")) {
		/* Validated for g3 compatibility; key generation is not pinned. */
		if (v->kind == CONF_MAP)
			return 0;
		if (!is_bool_literal(v))
			return conf_error(ctx, v,
					  "expected a bool or a map of thread id to CPU set");
		return conf_get_bool(ctx, v, &b);
	}
	if (conf_key_is(k, "max_io_events_per_tick") ||
	    conf_key_is(k, "openssl_async_job_init_size") ||
	    conf_key_is(k, "openssl_async_job_max_size"))
		return conf_get_u64(ctx, v, 0, UINT32_MAX, &u);
	return conf_error(ctx, k, "unknown key '%s' in worker", k->str);
}

static int parse_worker(struct conf_ctx *ctx, const struct conf_node *v, struct fcgend_conf *c)
{
	int ret = 0;

	if (!v || conf_is_null(v))
		return 0;
	if (v->kind != CONF_MAP)
		return conf_error(ctx, v, "expected a map");
	for (const struct conf_node *k = v->child; k; k = k->next) {
		size_t saved = conf_path_push_key(ctx, k->str);
		if (worker_key(ctx, k, c))
			ret = -EINVAL;
		conf_path_pop(ctx, saved);
	}
	return ret;
}

/* ---- rpc ------------------------------------------------------------------------- */

static int parse_listen(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	const char *s, *path;
	char *url;
	size_t len;

	if (conf_get_str(ctx, n, &s))
		return -EINVAL;
	if (!s[0])
		return conf_error(ctx, n, "empty listen address");
	if (strncmp(s, "tcp://", 6) == 0) {
		*(const char **)dst = s;
		return 0;
	}
	if (strstr(s, "://") && strncmp(s, "ipc://", 6) != 0)
		return conf_error(ctx, n, "unsupported transport in '%s' (use ipc:// or tcp://)",
				  s);
	path = strncmp(s, "ipc://", 6) == 0 ? s + 6 : conf_resolve_path(ctx, s);
	len = strlen(path);
	if (len == 0)
		return conf_error(ctx, n, "empty socket path");
	if (len > UNIX_PATH_MAX)
		return conf_error(ctx, n, "socket path is %zu bytes long (at most %zu)", len,
				  UNIX_PATH_MAX);
	url = conf_alloc(ctx, len + 7);
	snprintf(url, len + 7, "ipc://%s", path);
	*(const char **)dst = url;
	return 0;
}

struct rpc_raw {
	const char *listen;
};

static const struct conf_field rpc_fields[] = {
	{.key = "listen",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct rpc_raw, listen),
	 .parse = parse_listen},
	{0},
};

static const struct conf_schema rpc_schema = {
	.name = "rpc",
	.size = sizeof(struct rpc_raw),
	.fields = rpc_fields,
};

/* ---- main file ------------------------------------------------------------------- */

void fcgend_conf_free(struct fcgend_conf *c)
{
	if (!c)
		return;
	CHECK_OBJ(c, FCGEND_CONF_MAGIC);
	forge_ca_free(c->ca);
	conf_arena_free(c->arena);
	POISON_OBJ(c);
	free(c);
}

static struct fcgend_conf *build(struct conf_ctx *ctx, const struct conf_node *root)
{
	struct fcgend_conf *c = xcalloc(1, sizeof(*c));
	const struct conf_node *backend = NULL;

	c->magic = FCGEND_CONF_MAGIC;
	daemon_conf_defaults(&c->common, "g3fcgen");
	c->keygen_threads = 1;
	if (root && !conf_is_null(root) && root->kind != CONF_MAP) {
		conf_error(ctx, root, "the main file must be a map of top-level keys");
		goto fail;
	}
	for (const struct conf_node *k = root ? root->child : NULL; k; k = k->next) {
		size_t saved;

		if (daemon_conf_parse_key(ctx, k, &c->common) == 1)
			continue;
		saved = conf_path_push_key(ctx, k->str);
		if (conf_key_is(k, "worker")) {
			(void)parse_worker(ctx, k->value, c); /* errors are in ctx */
		} else if (conf_key_is(k, "backend")) {
			backend = k;
			(void)parse_backend(ctx, k->value, c);
		} else if (conf_key_is(k, "rpc")) {
			struct rpc_raw r = {NULL};
			if (conf_parse_map(ctx, k->value, &rpc_schema, NULL, &r) == 0)
				c->rpc_listen = r.listen;
		} else {
			conf_error(
				ctx, k,
				"unknown top-level key '%s' (expected runtime, worker, log, stat, "
				"controller, backend or rpc)",
				k->str);
		}
		conf_path_pop(ctx, saved);
	}
	if (!backend)
		conf_error(ctx, root && !conf_is_null(root) ? root : NULL,
			   "missing required key 'backend'");
	if (ctx->nerr)
		goto fail;
	c->arena = conf_ctx_take_arena(ctx);
	return c;
fail:
	fcgend_conf_free(c); /* the arena stays with ctx */
	return NULL;
}

struct fcgend_conf *fcgend_conf_load(struct conf_ctx *ctx, const char *path)
{
	const struct conf_node *root = NULL;

	if (conf_load_main(ctx, path, "fcgend", &root) < 0)
		return NULL;
	return build(ctx, root);
}

struct fcgend_conf *fcgend_conf_load_buffer(struct conf_ctx *ctx, const char *name,
					    const char *data, size_t len)
{
	const struct conf_node *root = NULL;

	if (conf_load_buffer(ctx, name, data, len, &root) < 0)
		return NULL;
	return build(ctx, root);
}

int fcgend_rpc_url(const struct fcgend_conf *c, const char *control_dir, const char *group,
		   char *buf, size_t cap)
{
	int n;

	if (c->rpc_listen)
		n = snprintf(buf, cap, "%s", c->rpc_listen);
	else if (group && group[0])
		n = snprintf(buf, cap, "ipc://%s/fcgend_%s.rpc", control_dir, group);
	else
		n = snprintf(buf, cap, "ipc://%s/fcgend.rpc", control_dir);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	if (strncmp(buf, "ipc://", 6) == 0 && strlen(buf + 6) > UNIX_PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}
