/* Published bind IPs of direct_float escapers (see float_bind.h). The JSON
 * is read with the config's YAML loader through float_pub_doc_parse(), so
 * errors carry the same path and line:column as proxy_float publishes. */
#include "proxyd/float_bind.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "proxyd/conf_int.h"

#define CACHE_MAX (4u << 20) /* bytes read from a cache file */

static char *dup_or_null(const char *s, bool *ok)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL)
		*ok = false;
	return d;
}

static void binds_free(struct float_bind *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)v[i].ip);
		free((char *)v[i].id);
		free((char *)v[i].isp);
		free((char *)v[i].eip);
		free((char *)v[i].area);
	}
	free(v);
}

/* Deep copy of src[0..n) into *out (strings malloc'd). */
static int binds_copy(const struct float_bind *src, size_t n, struct float_bind **out)
{
	struct float_bind *v = calloc(n ? n : 1, sizeof(*v));
	bool ok = v != NULL;

	for (size_t i = 0; ok && i < n; i++) {
		v[i] = src[i];
		v[i].ip = dup_or_null(src[i].ip, &ok);
		v[i].id = dup_or_null(src[i].id, &ok);
		v[i].isp = dup_or_null(src[i].isp, &ok);
		v[i].eip = dup_or_null(src[i].eip, &ok);
		v[i].area = dup_or_null(src[i].area, &ok);
	}
	if (!ok) {
		if (v != NULL)
			binds_free(v, n);
		return -ENOMEM;
	}
	*out = v;
	return 0;
}

/* ---- parsing ----------------------------------------------------------------- */

static bool plain_text(const struct conf_node *v)
{
	if (v->kind != CONF_SCALAR || v->len == 0 || v->len > 255)
		return false;
	for (size_t i = 0; i < v->len; i++)
		if ((unsigned char)v->str[i] < 0x20 || v->str[i] == 0x7f)
			return false;
	return true;
}

/* One record into *b (strings borrowed from the document). Returns 1 when
 * kept, 0 when dropped (expired, other family), -EINVAL on error. */
static int record_parse(struct conf_ctx *ctx, const struct conf_node *r, int family, int64_t now,
			struct float_bind *b)
{
	const struct conf_node *ipn = NULL;
	int rc = 0;

	memset(b, 0, sizeof(*b));
	if (r->kind == CONF_SCALAR) {
		ipn = r;
	} else if (r->kind == CONF_MAP) {
		for (const struct conf_node *k = r->child; k != NULL; k = k->next) {
			const struct conf_node *v = k->value;
			if (conf_key_is(k, "ip")) {
				ipn = v;
			} else if (conf_key_is(k, "id")) {
				if (!plain_text(v))
					rc = conf_error(ctx, v,
							"id must be a string of 1..255 "
							"printable bytes");
				else
					b->id = v->str;
			} else if (conf_key_is(k, "expire")) {
				if (pv_rfc3339(ctx, v, &b->expire) < 0)
					rc = -EINVAL;
			} else if (conf_key_is(k, "isp")) {
				b->isp = plain_text(v) ? v->str : NULL; /* g3: bad form ignored */
			} else if (conf_key_is(k, "eip")) {
				struct in6_addr a;
				if (plain_text(v) && (inet_pton(AF_INET, v->str, &a) == 1 ||
						      inet_pton(AF_INET6, v->str, &a) == 1))
					b->eip = v->str;
			} else if (conf_key_is(k, "area")) {
				b->area = plain_text(v) ? v->str : NULL;
			} else {
				rc = conf_error(ctx, k,
						"invalid key '%s' (ip, id, isp, eip, area, "
						"expire)",
						k->str);
			}
		}
		if (ipn == NULL)
			return conf_error(ctx, r, "bind IP record without 'ip'");
	} else {
		return conf_error(ctx, r, "a bind IP is an IP string or an object with 'ip'");
	}
	if (pv_ip_addr(ctx, ipn, &b->addr) < 0 || rc < 0)
		return -EINVAL;
	if (b->expire != 0 && b->expire <= now)
		return 0;
	if (b->addr.ss_family != family)
		return 0;
	b->ip = ipn->str;
	return 1;
}

/* null, one record or a list of them: the kept records of family into
 * *out / *n (strings copied). */
static int family_parse(struct conf_ctx *ctx, const struct conf_node *v, int family, int64_t now,
			struct float_bind **out, size_t *n)
{
	struct float_bind *tmp;
	size_t cap = 0, kept = 0, i = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (conf_is_null(v))
		return 0;
	cap = v->kind == CONF_SEQ ? v->nchild : 1;
	if (cap > FLOAT_BIND_MAX)
		return conf_error(ctx, v, "%zu bind IPs (at most %u)", cap, FLOAT_BIND_MAX);
	tmp = calloc(cap ? cap : 1, sizeof(*tmp));
	if (tmp == NULL)
		return -ENOMEM;
	if (v->kind == CONF_SEQ) {
		for (const struct conf_node *it = v->child; it != NULL; it = it->next, i++) {
			size_t saved = conf_path_push_index(ctx, (unsigned)i);
			int r = record_parse(ctx, it, family, now, &tmp[kept]);
			conf_path_pop(ctx, saved);
			if (r < 0)
				rc = -EINVAL;
			else
				kept += (size_t)r;
		}
	} else {
		int r = record_parse(ctx, v, family, now, &tmp[0]);
		if (r < 0)
			rc = -EINVAL;
		else
			kept = (size_t)r;
	}
	if (rc == 0) {
		rc = binds_copy(tmp, kept, out);
		if (rc == 0)
			*n = kept;
	}
	free(tmp);
	return rc;
}

/* ---- cache files ------------------------------------------------------------- */

static void bind_json(struct buf *b, const struct float_bind *r, int64_t now, bool show, bool *ok)
{
	if (buf_printf(b, "{\"ip\":\"%s\"", r->ip) < 0)
		*ok = false;
	float_pub_json_str(b, "id", r->id, ok);
	float_pub_json_str(b, "isp", r->isp, ok);
	float_pub_json_str(b, "eip", r->eip, ok);
	float_pub_json_str(b, "area", r->area, ok);
	if (r->expire != 0) {
		char ts[32];
		time_t t = (time_t)r->expire;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		float_pub_json_str(b, "expire", ts, ok);
		if (show &&
		    buf_printf(b, ",\"expired\":%s", r->expire <= now ? "true" : "false") < 0)
			*ok = false;
	}
	if (buf_printf(b, "}") < 0)
		*ok = false;
}

static void binds_json(struct buf *b, const struct float_bind *v, size_t n, int64_t now, bool show,
		       bool *ok)
{
	if (buf_printf(b, "[") < 0)
		*ok = false;
	for (size_t i = 0; i < n && *ok; i++) {
		if (i > 0 && buf_printf(b, ",") < 0)
			*ok = false;
		bind_json(b, &v[i], now, show, ok);
	}
	if (buf_printf(b, "]") < 0)
		*ok = false;
}

/* Replace path with the records (temporary file, fsync, rename). */
static int cache_write(const char *path, const struct float_bind *v, size_t n)
{
	struct buf b;
	bool ok = true;
	char tmp[4096];
	int fd, rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	buf_init(&b, BUF_CAP_MAX);
	binds_json(&b, v, n, 0, false, &ok);
	if (ok && buf_printf(&b, "\n") < 0)
		ok = false;
	if (!ok) {
		buf_fini(&b);
		return -ENOMEM;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
	} else {
		struct slice s = buf_peek(&b);
		size_t off = 0;
		while (off < s.len && rc == 0) {
			ssize_t k = write(fd, (const char *)s.p + off, s.len - off);
			if (k < 0 && errno != EINTR)
				rc = -errno;
			else if (k > 0)
				off += (size_t)k;
		}
		if (rc == 0 && fsync(fd) < 0)
			rc = -errno;
		close(fd);
		if (rc == 0 && rename(tmp, path) < 0)
			rc = -errno;
		if (rc < 0)
			(void)unlink(tmp);
	}
	buf_fini(&b);
	return rc;
}

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *d;
	size_t n;

	if (f == NULL)
		return -errno;
	d = malloc(CACHE_MAX + 1);
	if (d == NULL) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(d, 1, CACHE_MAX + 1, f);
	fclose(f);
	if (n > CACHE_MAX) {
		free(d);
		return -EFBIG;
	}
	d[n] = '\0';
	*out = d;
	*len = n;
	return 0;
}

/* ---- publish ----------------------------------------------------------------- */

static int family_of_key(const struct conf_node *k)
{
	if (conf_key_is(k, "ipv4") || conf_key_is(k, "v4"))
		return AF_INET;
	if (conf_key_is(k, "ipv6") || conf_key_is(k, "v6"))
		return AF_INET6;
	return 0;
}

/* Parse the publish document; the families it names into b[0] (v4) and
 * b[1] (v6), given[i] set for each. */
static int publish_parse(struct conf_ctx *ctx, const char *json, size_t len,
			 struct float_bind *b[2], size_t n[2], bool given[2])
{
	const struct conf_node *root = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc;

	rc = float_pub_doc_parse(ctx, json, len, &root);
	if (rc < 0)
		return rc;
	if (root->kind != CONF_MAP)
		return conf_error(ctx, root,
				  "publish a JSON object: {\"ipv4\": ..., \"ipv6\": ...}");
	for (const struct conf_node *k = root->child; k != NULL; k = k->next) {
		int fam = family_of_key(k);
		int i = fam == AF_INET ? 0 : 1;
		if (fam == 0) {
			rc = conf_error(ctx, k, "no action defined for key '%s' (ipv4, ipv6)",
					k->str);
			continue;
		}
		if (given[i]) {
			rc = conf_error(ctx, k, "%s given twice", i == 0 ? "ipv4" : "ipv6");
			continue;
		}
		size_t saved = conf_path_push_key(ctx, i == 0 ? "ipv4" : "ipv6");
		int r = family_parse(ctx, k->value, fam, now, &b[i], &n[i]);
		conf_path_pop(ctx, saved);
		given[i] = true;
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			rc = -EINVAL;
	}
	return rc;
}

static int set_new(const struct float_set *old, struct float_bind *b[2], size_t n[2], bool given[2],
		   struct float_set **out)
{
	struct float_set *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	atomic_init(&s->refs, 1);
	for (int i = 0; i < 2; i++) {
		struct float_bind **dst = i == 0 ? &s->b4 : &s->b6;
		size_t *dn = i == 0 ? &s->n4 : &s->n6;
		if (given[i]) {
			*dst = b[i];
			*dn = n[i];
			b[i] = NULL;
		} else if (old != NULL && (i == 0 ? old->n4 : old->n6) > 0) {
			size_t on = i == 0 ? old->n4 : old->n6;
			if (binds_copy(i == 0 ? old->b4 : old->b6, on, dst) < 0) {
				float_set_unref(s);
				return -ENOMEM;
			}
			*dn = on;
		}
	}
	s->published = (int64_t)time(NULL);
	*out = s;
	return 0;
}

static char *cache_error(const char *path, int e)
{
	char *m = NULL;

	if (asprintf(&m, "cannot write the cache file %s: %s", path, strerror(e)) < 0)
		return NULL;
	return m;
}

int float_bind_publish(const struct escaper_conf *e, const char *json, size_t len, size_t *n4,
		       size_t *n6, char **err)
{
	struct conf_ctx ctx;
	struct float_bind *b[2] = {NULL, NULL};
	size_t n[2] = {0, 0};
	bool given[2] = {false, false};
	const char *cache[2] = {e->cache_ipv4, e->cache_ipv6};
	struct float_set *old, *s = NULL;
	int rc;

	*err = NULL;
	conf_ctx_init(&ctx, "publish");
	ctx.no_includes = true;
	rc = publish_parse(&ctx, json, len, b, n, given);
	if (rc < 0) {
		*err = conf_errors_join(&ctx);
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		int w;
		if (!given[i] || cache[i] == NULL)
			continue;
		w = cache_write(cache[i], b[i], n[i]);
		if (w < 0) {
			*err = cache_error(cache[i], -w);
			rc = -EIO;
			goto out;
		}
	}
	old = float_pub_get(e->name);
	rc = set_new(old, b, n, given, &s);
	float_set_unref(old);
	if (rc == 0)
		rc = float_pub_store(e->name, s);
	if (rc == 0) {
		s = float_pub_get(e->name);
		*n4 = s != NULL ? s->n4 : 0;
		*n6 = s != NULL ? s->n6 : 0;
		float_set_unref(s);
	}
out:
	conf_ctx_fini(&ctx);
	for (int i = 0; i < 2; i++)
		if (b[i] != NULL)
			binds_free(b[i], n[i]);
	return rc;
}

/* A cache file's records (a list or one record) for family into *b / *n. */
static int cache_load(const char *path, int family, struct float_bind **b, size_t *n)
{
	struct conf_ctx ctx;
	const struct conf_node *root = NULL;
	char *data = NULL;
	size_t len = 0;
	int rc;

	*b = NULL;
	*n = 0;
	rc = read_file(path, &data, &len);
	if (rc == -ENOENT)
		return 0; /* nothing published yet */
	if (rc < 0) {
		log_warn("direct_float cache %s: %s", path, strerror(-rc));
		return rc;
	}
	if (len == 0) {
		free(data);
		return 0;
	}
	conf_ctx_init(&ctx, path);
	ctx.no_includes = true;
	rc = float_pub_doc_parse(&ctx, data, len, &root);
	if (rc == 0)
		rc = family_parse(&ctx, root, family, (int64_t)time(NULL), b, n);
	if (rc < 0) {
		char *why = conf_errors_join(&ctx);
		log_warn("direct_float cache %s ignored: %s", path, why ? why : "out of memory");
		free(why);
	}
	conf_ctx_fini(&ctx);
	free(data);
	return rc;
}

void float_bind_load_caches(const struct proxyd_conf *c)
{
	const struct obj_vec *ev = &c->objs[PROXYD_KIND_ESCAPER];

	for (size_t i = 0; i < ev->n; i++) {
		const struct escaper_conf *e = ev->v[i];
		struct float_bind *b[2] = {NULL, NULL};
		size_t n[2] = {0, 0};
		bool given[2] = {false, false};
		struct float_set *s = NULL;

		if (e->type != ESCAPER_DIRECT_FLOAT || float_pub_known(e->name))
			continue;
		if (e->cache_ipv4 != NULL && cache_load(e->cache_ipv4, AF_INET, &b[0], &n[0]) == 0)
			given[0] = true;
		if (e->cache_ipv6 != NULL && cache_load(e->cache_ipv6, AF_INET6, &b[1], &n[1]) == 0)
			given[1] = true;
		if (set_new(NULL, b, n, given, &s) == 0 && float_pub_store(e->name, s) == 0)
			log_info("escaper %s: %zu IPv4 and %zu IPv6 bind IP(s) from the cache",
				 e->name, n[0], n[1]);
		for (int k = 0; k < 2; k++)
			if (b[k] != NULL)
				binds_free(b[k], n[k]);
	}
}

/* ---- show / pick ------------------------------------------------------------- */

char *float_bind_show(const char *escaper)
{
	struct float_set *s = float_pub_get(escaper);
	int64_t now = (int64_t)time(NULL);
	struct buf b;
	bool ok = true;
	char *out = NULL;

	buf_init(&b, BUF_CAP_MAX);
	if (buf_printf(&b, "{\"ipv4\":") < 0)
		ok = false;
	binds_json(&b, s ? s->b4 : NULL, s ? s->n4 : 0, now, true, &ok);
	if (buf_printf(&b, ",\"ipv6\":") < 0)
		ok = false;
	binds_json(&b, s ? s->b6 : NULL, s ? s->n6 : 0, now, true, &ok);
	if (buf_printf(&b, "}") < 0)
		ok = false;
	float_set_unref(s);
	if (ok) {
		struct slice v = buf_peek(&b);
		out = malloc(v.len + 1);
		if (out != NULL) {
			memcpy(out, v.p, v.len);
			out[v.len] = '\0';
		}
	}
	buf_fini(&b);
	return out;
}

static bool usable(const struct float_bind *b, int64_t now)
{
	return b->expire == 0 || b->expire > now;
}

int float_bind_pick(const struct float_set *s, int family, const char *id, int64_t now,
		    uint64_t rnd, struct sockaddr_storage *out)
{
	const struct float_bind *v = NULL;
	size_t n = 0, cand = 0;

	if (s != NULL) {
		v = family == AF_INET ? s->b4 : s->b6;
		n = family == AF_INET ? s->n4 : s->n6;
	}
	if (id != NULL) {
		/* the last record with the id wins (g3 keeps named binds in a map) */
		for (size_t i = n; i-- > 0;) {
			if (v[i].id == NULL || strcmp(v[i].id, id) != 0)
				continue;
			if (!usable(&v[i], now))
				break;
			*out = v[i].addr;
			return 0;
		}
		return -ESRCH;
	}
	for (size_t i = 0; i < n; i++)
		cand += usable(&v[i], now);
	if (cand == 0)
		return -ENOENT;
	rnd %= cand;
	for (size_t i = 0; i < n; i++) {
		if (!usable(&v[i], now) || rnd-- != 0)
			continue;
		*out = v[i].addr;
		return 0;
	}
	return -ENOENT;
}
