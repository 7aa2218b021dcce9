/* Runtime-published peers of proxy_float escapers (see float_pub.h). JSON is
 * read with the config's YAML loader (JSON is YAML), so values get the same
 * checks and file:line:col messages as the config file. */
#include "proxyd/float_pub.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "proxyd/conf_int.h"

struct reg_entry {
	char *name;
	struct float_set *set;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg_entry *reg;
static size_t reg_n;

static char *dup_or_die(const char *s)
{
	char *d;

	if (s == NULL)
		return NULL;
	d = strdup(s);
	if (d == NULL) {
		log_err("out of memory publishing peers");
		abort();
	}
	return d;
}

static void set_free(struct float_set *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct float_peer *p = &s->v[i];
		free((char *)p->peer.host);
		free((char *)p->peer.id);
		free((char *)p->id);
		free((char *)p->username);
		free((char *)p->password);
		free((char *)p->tls_name);
		free((char *)p->isp);
		free((char *)p->eip);
		free((char *)p->area);
	}
	free(s->v);
	for (size_t i = 0; i < s->n4 + s->n6; i++) {
		struct float_bind *b = i < s->n4 ? &s->b4[i] : &s->b6[i - s->n4];
		free((char *)b->ip);
		free((char *)b->id);
		free((char *)b->isp);
		free((char *)b->eip);
		free((char *)b->area);
	}
	free(s->b4);
	free(s->b6);
	free(s);
}

void float_set_unref(struct float_set *s)
{
	if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
		set_free(s);
}

bool float_peer_usable(const struct float_peer *p, int64_t now, uint64_t guard_s)
{
	return p->expire == 0 || p->expire > now + (int64_t)guard_s;
}

/* ---- parsing ----------------------------------------------------------------- */

static int str_val(struct conf_ctx *ctx, const struct conf_node *v, const char **out)
{
	if (pv_expect_scalar(ctx, v) < 0)
		return -EINVAL;
	for (size_t i = 0; i < v->len; i++)
		if ((unsigned char)v->str[i] < 0x20 || v->str[i] == 0x7f)
			return conf_error(ctx, v, "control character in '%s'", v->str);
	if (v->len > 255)
		return conf_error(ctx, v, "value longer than 255 bytes");
	*out = v->str;
	return 0;
}

static int peer_parse(struct conf_ctx *ctx, const struct conf_node *m, struct float_peer *p)
{
	const struct conf_node *type = NULL, *addr = NULL;
	int rc = 0;

	if (pv_expect_map(ctx, m) < 0)
		return -EINVAL;
	p->rsp_max = 4096;
	for (const struct conf_node *k = m->child; k != NULL; k = k->next) {
		const struct conf_node *v = k->value;
		int r = 0;
		if (conf_key_is(k, "type")) {
			type = v;
		} else if (conf_key_is(k, "addr")) {
			addr = v;
		} else if (conf_key_is(k, "id")) {
			r = str_val(ctx, v, &p->id);
		} else if (conf_key_is(k, "username")) {
			r = str_val(ctx, v, &p->username);
			if (r == 0 && v->len == 0)
				r = conf_error(ctx, v, "empty username");
		} else if (conf_key_is(k, "password")) {
			r = str_val(ctx, v, &p->password);
		} else if (conf_key_is(k, "tls_name")) {
			r = str_val(ctx, v, &p->tls_name);
		} else if (conf_key_is(k, "isp")) {
			r = str_val(ctx, v, &p->isp);
		} else if (conf_key_is(k, "eip")) {
			struct sockaddr_storage ss;
			r = pv_ip_addr(ctx, v, &ss);
			if (r == 0)
				p->eip = v->str;
		} else if (conf_key_is(k, "area")) {
			r = str_val(ctx, v, &p->area);
		} else if (conf_key_is(k, "expire")) {
			r = pv_rfc3339(ctx, v, &p->expire);
		} else if (conf_key_is(k, "http_connect_rsp_header_max_size")) {
			r = conf_get_size(ctx, v, &p->rsp_max);
			if (r == 0 && (p->rsp_max < 256 || p->rsp_max > 65536))
				r = conf_error(ctx, v,
					       "http_connect_rsp_header_max_size out of range "
					       "(256..64KiB)");
		} else if (conf_key_is(k, "tcp_sock_speed_limit") ||
			   conf_key_is(k, "udp_sock_speed_limit") ||
			   conf_key_is(k, "extra_append_headers") ||
			   conf_key_is(k, "transmute_udp_peer_ip") ||
			   conf_key_is(k, "end_on_control_closed")) {
			/* g3 keys accepted; not applied yet (doc/proxyd.md) */
		} else {
			r = conf_error(ctx, k, "unknown peer key '%s'", k->str);
		}
		if (r < 0)
			rc = -EINVAL;
	}
	if (type == NULL)
		return conf_error(ctx, m, "peer without 'type'");
	if (addr == NULL)
		return conf_error(ctx, m, "peer without 'addr'");
	{
		static const struct conf_enum kinds[] = {
			{"http", ESCAPER_PROXY_HTTP},
			{"https", ESCAPER_PROXY_HTTPS},
			{"socks5", ESCAPER_PROXY_SOCKS5},
			{"socks5s", ESCAPER_PROXY_SOCKS5S},
			{NULL, 0},
		};
		if (conf_get_enum(ctx, type, kinds, &p->kind) < 0)
			rc = -EINVAL;
	}
	{
		struct conf_hostport hp;
		char id[80];
		if (pv_expect_scalar(ctx, addr) < 0 || conf_get_hostport(ctx, addr, 0, &hp) < 0)
			return -EINVAL;
		if (!hp.is_ip)
			return conf_error(ctx, addr,
					  "peer addr '%s' must be an IP address and port",
					  addr->str);
		p->peer.host = hp.host;
		p->peer.port = hp.port;
		p->peer.is_ip = true;
		p->peer.addr = hp.addr;
		p->peer.weight = 1;
		snprintf(id, sizeof(id), hp.addr.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
			 hp.host, hp.port);
		p->peer.id = conf_strndup(ctx, id, strlen(id));
	}
	if (p->password != NULL && p->username == NULL)
		rc = conf_error(ctx, m, "peer password without username");
	return rc;
}

static void copy_strings(struct float_peer *p)
{
	p->peer.host = dup_or_die(p->peer.host);
	p->peer.id = dup_or_die(p->peer.id);
	p->id = dup_or_die(p->id);
	p->username = dup_or_die(p->username);
	p->password = dup_or_die(p->username != NULL && p->password == NULL ? "" : p->password);
	p->tls_name = dup_or_die(p->tls_name);
	p->isp = dup_or_die(p->isp);
	p->eip = dup_or_die(p->eip);
	p->area = dup_or_die(p->area);
}

static int parse_set(struct conf_ctx *ctx, const struct conf_node *root, struct float_set **out)
{
	struct float_set *s = NULL;
	size_t n;
	int rc = 0;

	if (root == NULL)
		return -EINVAL;
	n = root->kind == CONF_SEQ ? root->nchild : 1;
	if (n > FLOAT_PUB_MAX_PEERS)
		return conf_error(ctx, root, "%zu peers (at most %u)", n, FLOAT_PUB_MAX_PEERS);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->v = calloc(n ? n : 1, sizeof(*s->v));
	if (s->v == NULL) {
		free(s);
		return -ENOMEM;
	}
	if (root->kind == CONF_SEQ) {
		size_t i = 0;
		for (const struct conf_node *it = root->child; it != NULL; it = it->next, i++) {
			size_t saved = conf_path_push_index(ctx, (unsigned)i);
			if (peer_parse(ctx, it, &s->v[i]) < 0)
				rc = -EINVAL;
			conf_path_pop(ctx, saved);
		}
	} else if (peer_parse(ctx, root, &s->v[0]) < 0) {
		rc = -EINVAL;
	}
	if (rc < 0) {
		free(s->v);
		free(s);
		return rc;
	}
	s->n = n;
	for (size_t i = 0; i < n; i++)
		copy_strings(&s->v[i]);
	atomic_init(&s->refs, 1);
	s->published = (int64_t)time(NULL);
	*out = s;
	return 0;
}

static int wrap_doc(const char *json, size_t len, char **out)
{
	size_t extra = 16;
	char *d, *o;

	for (size_t i = 0; i < len; i++) {
		if (json[i] == '\0')
			return -EINVAL;
		extra += json[i] == '\n' ? 2 : 0;
	}
	d = malloc(len + extra);
	if (d == NULL)
		return -ENOMEM;
	o = d + sprintf(d, "peers: ");
	for (size_t i = 0; i < len; i++) {
		*o++ = json[i];
		if (json[i] == '\n') {
			*o++ = ' ';
			*o++ = ' ';
		}
	}
	*o++ = '\n';
	*o = '\0';
	*out = d;
	return 0;
}

int float_pub_doc_parse(struct conf_ctx *ctx, const char *json, size_t len,
			const struct conf_node **root)
{
	char *doc = NULL;
	int rc;

	*root = NULL;
	/* the loader reads a document as a map: hang the value under a key,
	 * continuation lines indented (flow JSON may span lines) */
	rc = wrap_doc(json, len, &doc);
	if (rc == 0)
		rc = conf_load_buffer(ctx, "publish", doc, strlen(doc), root);
	free(doc);
	if (rc == 0 && *root != NULL)
		*root = conf_map_get(*root, "peers");
	if (rc == 0 && (*root == NULL || conf_is_null(*root)))
		rc = conf_error(ctx, *root, "nothing published: give a peer object or an array");
	return rc;
}

int float_pub_store(const char *escaper, struct float_set *s)
{
	struct float_set *old = NULL;

	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < reg_n; i++) {
		if (strcmp(reg[i].name, escaper) == 0) {
			old = reg[i].set;
			reg[i].set = s;
			s = NULL;
			break;
		}
	}
	if (s != NULL) {
		struct reg_entry *nv = realloc(reg, (reg_n + 1) * sizeof(*reg));
		if (nv == NULL) {
			pthread_mutex_unlock(&reg_lock);
			set_free(s);
			return -ENOMEM;
		}
		reg = nv;
		reg[reg_n].name = dup_or_die(escaper);
		reg[reg_n].set = s;
		reg_n++;
	}
	pthread_mutex_unlock(&reg_lock);
	float_set_unref(old);
	return 0;
}

bool float_pub_known(const char *escaper)
{
	bool found = false;

	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < reg_n && !found; i++)
		found = strcmp(reg[i].name, escaper) == 0;
	pthread_mutex_unlock(&reg_lock);
	return found;
}

int float_pub_publish(const char *escaper, const char *json, size_t len, char **err)
{
	struct conf_ctx ctx;
	const struct conf_node *root = NULL;
	struct float_set *s = NULL;
	int rc;

	*err = NULL;
	conf_ctx_init(&ctx, "publish");
	ctx.no_includes = true;
	rc = float_pub_doc_parse(&ctx, json, len, &root);
	if (rc == 0)
		rc = parse_set(&ctx, root, &s);
	if (rc < 0) {
		*err = conf_errors_join(&ctx);
		conf_ctx_fini(&ctx);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	conf_ctx_fini(&ctx);
	return float_pub_store(escaper, s);
}

struct float_set *float_pub_get(const char *escaper)
{
	struct float_set *s = NULL;

	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < reg_n; i++) {
		if (strcmp(reg[i].name, escaper) == 0) {
			s = reg[i].set;
			if (s != NULL)
				atomic_fetch_add(&s->refs, 1);
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return s;
}

void float_pub_clear(void)
{
	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < reg_n; i++) {
		float_set_unref(reg[i].set);
		free(reg[i].name);
	}
	free(reg);
	reg = NULL;
	reg_n = 0;
	pthread_mutex_unlock(&reg_lock);
}

/* ---- show ------------------------------------------------------------------------ */

void float_pub_json_str(struct buf *b, const char *key, const char *v, bool *ok)
{
	if (v == NULL)
		return;
	if (buf_printf(b, ",\"%s\":\"", key) < 0)
		*ok = false;
	for (const char *p = v; *p; p++) {
		int r = (*p == '"' || *p == '\\') ? buf_printf(b, "\\%c", *p)
						  : buf_printf(b, "%c", *p);
		if (r < 0)
			*ok = false;
	}
	if (buf_printf(b, "\"") < 0)
		*ok = false;
}

static const char *kind_name(int k)
{
	switch (k) {
	case ESCAPER_PROXY_HTTP:
		return "http";
	case ESCAPER_PROXY_HTTPS:
		return "https";
	case ESCAPER_PROXY_SOCKS5:
		return "socks5";
	default:
		return "socks5s";
	}
}

char *float_pub_show(const char *escaper)
{
	struct float_set *s = float_pub_get(escaper);
	struct buf b;
	bool ok = true;
	int64_t now = (int64_t)time(NULL);
	char *out = NULL;

	buf_init(&b, BUF_CAP_MAX);
	if (buf_printf(&b, "[") < 0)
		ok = false;
	for (size_t i = 0; s != NULL && i < s->n && ok; i++) {
		const struct float_peer *p = &s->v[i];
		if (buf_printf(&b, "%s{\"type\":\"%s\"", i ? "," : "", kind_name(p->kind)) < 0)
			ok = false;
		float_pub_json_str(&b, "addr", p->peer.id, &ok);
		float_pub_json_str(&b, "id", p->id, &ok);
		float_pub_json_str(&b, "username", p->username, &ok);
		float_pub_json_str(&b, "tls_name", p->tls_name, &ok);
		float_pub_json_str(&b, "isp", p->isp, &ok);
		float_pub_json_str(&b, "eip", p->eip, &ok);
		float_pub_json_str(&b, "area", p->area, &ok);
		if (p->expire != 0) {
			char ts[32];
			time_t t = (time_t)p->expire;
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
			float_pub_json_str(&b, "expire", ts, &ok);
			if (buf_printf(&b, ",\"expired\":%s", p->expire <= now ? "true" : "false") <
			    0)
				ok = false;
		}
		if (buf_printf(&b, "}") < 0)
			ok = false;
	}
	if (buf_printf(&b, "]") < 0)
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
