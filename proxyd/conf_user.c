/* User groups and users (g3proxy §1.5): the `basic` group (the default when
 * `type` is absent; alias hashed_user) with static_users, anonymous_user, a
 * file source, cache and refresh_interval; every user field of §1.5.4; the
 * password token formats of §1.5.2 (crypt(5) $1$/$5$/$6$, fast_hash,
 * xcrypt_hash, null = any password, absent = cannot log in). */
#include "proxyd/conf_int.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

/* ---- tokens ---------------------------------------------------------------- */

static bool crypt_chars(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '.' && c != '/')
			return false;
	}
	return true;
}

/* "$id$[rounds=N$]salt$hash" with the hash length of each method. */
static int crypt_check(struct conf_ctx *ctx, const struct conf_node *n)
{
	const char *s = n->str;
	size_t hash_len, salt_max;
	const char *p, *salt, *dollar;

	if (strncmp(s, "$1$", 3) == 0) {
		hash_len = 22;
		salt_max = 8;
	} else if (strncmp(s, "$5$", 3) == 0) {
		hash_len = 43;
		salt_max = 16;
	} else if (strncmp(s, "$6$", 3) == 0) {
		hash_len = 86;
		salt_max = 16;
	} else {
		return conf_error(
			ctx, n,
			"unsupported token '%.8s...': use a crypt(5) string ($1$, $5$ or $6$) "
			"or a fast_hash / xcrypt_hash map",
			s);
	}
	p = s + 3;
	if (s[1] != '1' && strncmp(p, "rounds=", 7) == 0) {
		const char *q = p + 7;
		if (!isdigit((unsigned char)*q))
			return conf_error(ctx, n, "invalid crypt(5) token: bad rounds= value");
		while (isdigit((unsigned char)*q))
			q++;
		if (*q != '$')
			return conf_error(ctx, n, "invalid crypt(5) token: bad rounds= value");
		p = q + 1;
	}
	salt = p;
	dollar = strchr(salt, '$');
	if (dollar == NULL)
		return conf_error(ctx, n, "invalid crypt(5) token: missing hash");
	if (dollar == salt || (size_t)(dollar - salt) > salt_max ||
	    !crypt_chars(salt, (size_t)(dollar - salt)))
		return conf_error(ctx, n, "invalid crypt(5) token: bad salt");
	p = dollar + 1;
	if (strlen(p) != hash_len || !crypt_chars(p, hash_len))
		return conf_error(
			ctx, n,
			"invalid crypt(5) token: the hash must be %zu characters of [./0-9A-Za-z]",
			hash_len);
	return 0;
}

static int hex_decode(struct conf_ctx *ctx, const struct conf_node *n, const char *what,
		      uint8_t *out, size_t nbytes)
{
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (n->len != 2 * nbytes)
		return conf_error(ctx, n, "invalid %s '%s': expected %zu hex characters", what,
				  n->str, 2 * nbytes);
	for (size_t i = 0; i < nbytes; i++) {
		int v = 0;
		for (int j = 0; j < 2; j++) {
			char c = (char)tolower((unsigned char)n->str[2 * i + (size_t)j]);
			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return conf_error(ctx, n, "invalid %s '%s': not hex", what, n->str);
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int fast_hash_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
			void *arg)
{
	struct user_token *t = arg;

	if (conf_key_is(k, "type"))
		return 0;
	if (conf_key_is(k, "salt"))
		return hex_decode(ctx, v, "salt", t->salt, sizeof(t->salt));
	if (conf_key_is(k, "md5")) {
		t->has_md5 = true;
		return hex_decode(ctx, v, "md5 hash", t->md5, sizeof(t->md5));
	}
	if (conf_key_is(k, "sha1")) {
		t->has_sha1 = true;
		return hex_decode(ctx, v, "sha1 hash", t->sha1, sizeof(t->sha1));
	}
	if (conf_key_is(k, "blake3")) {
		/* a user who could never log in is worse than a clear error */
		return conf_error(ctx, k,
				  "blake3 hashes are not supported (OpenSSL has no BLAKE3): give "
				  "this user an md5 or sha1 hash of the same salt and password");
	}
	return conf_error(ctx, k, "unknown key '%s' in a fast_hash token", k->str);
}

static int token_parse(struct conf_ctx *ctx, const struct conf_node *n, struct user_token *t)
{
	memset(t, 0, sizeof(*t));
	if (conf_is_null(n)) {
		t->type = USER_TOKEN_SKIP;
		return 0;
	}
	if (n->kind == CONF_SCALAR) {
		if (crypt_check(ctx, n) < 0)
			return -EINVAL;
		t->type = USER_TOKEN_CRYPT;
		t->crypt = n->str;
		return 0;
	}
	if (n->kind != CONF_MAP)
		return conf_error(ctx, n, "expected null, a crypt(5) string or a map, got %s",
				  pv_kind_name(n));

	const struct conf_node *type = conf_map_get(n, "type");
	char tname[32] = "fast_hash";
	if (type != NULL) {
		if (pv_expect_scalar(ctx, type) < 0)
			return -EINVAL;
		conf_normalize(type->str, type->len, tname, sizeof(tname));
	}
	if (strcmp(tname, "xcrypt_hash") == 0 || strcmp(tname, "xcrypt") == 0) {
		const struct conf_node *val = NULL;
		for (const struct conf_node *k = n->child; k; k = k->next) {
			if (conf_key_is(k, "type"))
				continue;
			if (!conf_key_is(k, "value"))
				return conf_error(
					ctx, k, "unknown key '%s' in an xcrypt_hash token", k->str);
			val = k->value;
		}
		if (val == NULL)
			return conf_error(ctx, n, "an xcrypt_hash token needs 'value'");
		size_t saved = conf_path_push_key(ctx, "value");
		int rc = pv_expect_scalar(ctx, val);
		if (rc == 0)
			rc = crypt_check(ctx, val);
		conf_path_pop(ctx, saved);
		if (rc < 0)
			return -EINVAL;
		t->type = USER_TOKEN_CRYPT;
		t->crypt = val->str;
		return 0;
	}
	if (type != NULL && strcmp(tname, "fast_hash") != 0 && strcmp(tname, "fasthash") != 0)
		return conf_error(ctx, type,
				  "unknown token type '%s': use fast_hash or xcrypt_hash",
				  type->str);
	if (pv_foreach_kv(ctx, n, fast_hash_kv, t) < 0)
		return -EINVAL;
	if (conf_map_get(n, "salt") == NULL)
		return conf_error(ctx, n, "a fast_hash token needs 'salt'");
	if (!t->has_md5 && !t->has_sha1)
		return conf_error(ctx, n, "a fast_hash token needs md5 or sha1");
	t->type = USER_TOKEN_FAST_HASH;
	return 0;
}

/* ---- user fields ------------------------------------------------------------- */

static int username(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (n->len == 0 || n->len > 255)
		return conf_error(ctx, n, "a username must be 1 to 255 bytes");
	*(const char **)dst = n->str;
	return 0;
}

static int fact_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	static const char *const prefixes[] = {
		"ip:",		 "net:",	  "domain:",	   "exact-domain:",
		"exact_domain:", "child-domain:", "child_domain:", NULL};
	struct str_list *l = arg;

	if (pv_expect_scalar(ctx, it) < 0)
		return -EINVAL;
	for (unsigned i = 0; prefixes[i]; i++) {
		if (strncmp(it->str, prefixes[i], strlen(prefixes[i])) == 0 &&
		    it->len > strlen(prefixes[i])) {
			l->v[idx] = it->str;
			return 0;
		}
	}
	return conf_error(
		ctx, it,
		"invalid fact '%s': use ip:, net:, domain:, exact-domain: or child-domain:",
		it->str);
}

static int facts_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct str_list *l = dst;

	l->n = pv_list_len(n);
	l->v = conf_alloc(ctx, (l->n ? l->n : 1) * sizeof(*l->v));
	return pv_foreach_item(ctx, n, fact_item, l);
}

#define AO(f) offsetof(struct user_audit_conf, f)
static const struct conf_field audit_fields[] = {
	{.key = "enable_protocol_inspection",
	 .type = CONF_T_BOOL,
	 .off = AO(enable_protocol_inspection)},
	{.key = "prohibit_unknown_protocol",
	 .type = CONF_T_BOOL,
	 .off = AO(prohibit_unknown_protocol)},
	{.key = "prohibit_timeout_protocol",
	 .type = CONF_T_BOOL,
	 .off = AO(prohibit_timeout_protocol)},
	{.key = "task_audit_ratio",
	 .type = CONF_T_CUSTOM,
	 .off = AO(task_audit_ratio),
	 .parse = pv_random_ratio},
	{.key = "application_audit_ratio",
	 .type = CONF_T_CUSTOM,
	 .off = AO(task_audit_ratio),
	 .parse = pv_random_ratio},
	{0},
};
#undef AO
static const struct conf_schema audit_schema = {
	.name = "user audit",
	.size = sizeof(struct user_audit_conf),
	.fields = audit_fields,
};

static int user_audit(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	return conf_parse_map(ctx, n, &audit_schema, NULL, dst);
}

#define SO(f) offsetof(struct user_site_conf, f)
static void site_defaults(void *obj)
{
	struct user_site_conf *s = obj;

	tls_client_defaults(&s->tls_client);
	hist_conf_defaults(&s->duration_stats);
}

static int site_duration_stats(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return hist_conf_parse(ctx, n, dst);
}

static int site_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct user_site_conf *s = obj;

	if (s->exact_match.n == 0 && s->child_match.n == 0 && s->subnet_match.n == 0)
		return conf_error(ctx, map,
				  "a site needs exact_match, child_match or subnet_match");
	return 0;
}

static const struct conf_field site_fields[] = {
	{.key = "id",
	 .type = CONF_T_CUSTOM,
	 .off = SO(id),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	{.key = "exact_match",
	 .type = CONF_T_CUSTOM,
	 .off = SO(exact_match),
	 .parse = pv_host_list},
	{.key = "child_match",
	 .type = CONF_T_CUSTOM,
	 .off = SO(child_match),
	 .parse = pv_host_list},
	{.key = "subnet_match",
	 .type = CONF_T_CUSTOM,
	 .off = SO(subnet_match),
	 .parse = pv_net_list},
	{.key = "emit_stats", .type = CONF_T_BOOL, .off = SO(emit_stats)},
	{.key = "duration_stats",
	 .type = CONF_T_CUSTOM,
	 .off = SO(duration_stats),
	 .parse = site_duration_stats},
	{.key = "resolve_strategy",
	 .type = CONF_T_CUSTOM,
	 .off = SO(resolve_strategy),
	 .parse = pv_resolve_strategy},
	{.key = "tls_client", .type = CONF_T_CUSTOM, .off = SO(tls_client), .parse = pv_tls_client},
	{.key = "http_rsp_header_recv_timeout",
	 .type = CONF_T_DURATION,
	 .off = SO(http_rsp_header_recv_timeout_ms),
	 .flags = CONF_F_SEEN,
	 .seen_off = SO(has_http_rsp_header_recv_timeout)},
	{0},
};
#undef SO
static const struct conf_schema site_schema = {
	.name = "user site",
	.size = sizeof(struct user_site_conf),
	.fields = site_fields,
	.defaults = site_defaults,
	.check = site_check,
};

struct sites_arg {
	struct user_site_conf *v;
};

static int site_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct sites_arg *a = arg;

	if (pv_expect_map(ctx, it) < 0)
		return -EINVAL;
	return conf_parse_map(ctx, it, &site_schema, NULL, &a->v[idx]);
}

static int explicit_sites(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct user_conf *u = container_of(dst, struct user_conf, explicit_sites);
	struct sites_arg a;

	if (n->kind != CONF_SEQ)
		return conf_error(ctx, n, "expected a sequence of sites, got %s", pv_kind_name(n));
	u->n_sites = n->nchild;
	u->explicit_sites =
		conf_alloc(ctx, (n->nchild ? n->nchild : 1) * sizeof(struct user_site_conf));
	a.v = u->explicit_sites;
	return pv_foreach_item(ctx, n, site_item, &a);
}

struct path_map_arg {
	struct egress_path_entry *v;
	size_t n;
	bool json;
};

static int path_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		   void *arg)
{
	struct path_map_arg *a = arg;
	struct egress_path_entry *e = &a->v[a->n];

	if (!pv_metric_name_ok(k->str, k->len))
		return conf_error(ctx, k, "invalid escaper name '%s'", k->str);
	e->escaper = k->str;
	if (a->json) {
		if (conf_is_null(v))
			return conf_error(ctx, v, "expected a value, got null");
		e->json = v;
	} else {
		if (pv_expect_scalar(ctx, v) < 0)
			return -EINVAL;
		e->value = v->str;
	}
	a->n++;
	return 0;
}

static int path_map(struct conf_ctx *ctx, const struct conf_node *n, struct egress_path_entry **v,
		    size_t *cnt, bool json)
{
	struct path_map_arg a;

	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	a.v = conf_alloc(ctx, (n->nchild ? n->nchild : 1) * sizeof(*a.v));
	a.n = 0;
	a.json = json;
	int rc = pv_foreach_kv(ctx, n, path_kv, &a);
	*v = a.v;
	*cnt = a.n;
	return rc;
}

static int egress_id_map(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct user_conf *u = container_of(dst, struct user_conf, egress_path_id_map);

	return path_map(ctx, n, &u->egress_path_id_map, &u->n_egress_path_id, false);
}

static int egress_value_map(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct user_conf *u = container_of(dst, struct user_conf, egress_path_value_map);

	return path_map(ctx, n, &u->egress_path_value_map, &u->n_egress_path_value, true);
}

#define UO(f) offsetof(struct user_conf, f)
#define CUSTOM(k, f, fn)                                                   \
	{                                                                  \
		.key = k, .type = CONF_T_CUSTOM, .off = UO(f), .parse = fn \
	}
#define CUSTOM_SEEN(k, f, fn, s)                                                                  \
	{                                                                                         \
		.key = k, .type = CONF_T_CUSTOM, .off = UO(f), .parse = fn, .flags = CONF_F_SEEN, \
		.seen_off = UO(s)                                                                 \
	}

static const struct conf_field user_fields[] = {
	{.key = "name",
	 .type = CONF_T_CUSTOM,
	 .off = UO(name),
	 .parse = username,
	 .flags = CONF_F_REQUIRED},
	CUSTOM("match_by_facts", match_by_facts, facts_list),
	CUSTOM_SEEN("expire", expire_unix, pv_rfc3339, has_expire),
	{.key = "block_and_delay",
	 .type = CONF_T_DURATION,
	 .off = UO(block_and_delay_ms),
	 .flags = CONF_F_SEEN,
	 .seen_off = UO(has_block_and_delay)},
	CUSTOM("ingress_network_filter", ingress_net_filter, pv_acl_ingress),
	CUSTOM("ingress_net_filter", ingress_net_filter, pv_acl_ingress),
	CUSTOM("proxy_request_filter", proxy_request_filter, pv_acl_proxy_request),
	CUSTOM("dst_host_filter_set", dst_host_filter_set, pv_acl_host_set),
	CUSTOM("dst_port_filter", dst_port_filter, pv_acl_port),
	CUSTOM("http_user_agent_filter", http_user_agent_filter, pv_acl_user_agent),
	CUSTOM_SEEN("tcp_connect", tcp_connect, pv_tcp_connect, has_tcp_connect),
	CUSTOM("tcp_sock_speed_limit", tcp_sock_speed_limit, pv_tcp_speed_limit),
	CUSTOM("tcp_conn_speed_limit", tcp_sock_speed_limit, pv_tcp_speed_limit),
	CUSTOM("tcp_conn_limit", tcp_sock_speed_limit, pv_tcp_speed_limit),
	CUSTOM("udp_sock_speed_limit", udp_sock_speed_limit, pv_udp_speed_limit),
	CUSTOM("udp_relay_speed_limit", udp_sock_speed_limit, pv_udp_speed_limit),
	CUSTOM("udp_relay_limit", udp_sock_speed_limit, pv_udp_speed_limit),
	CUSTOM("tcp_all_upload_speed_limit", tcp_all_upload_speed_limit, pv_global_stream_limit),
	CUSTOM("tcp_all_download_speed_limit", tcp_all_download_speed_limit,
	       pv_global_stream_limit),
	CUSTOM("udp_all_upload_speed_limit", udp_all_upload_speed_limit, pv_global_datagram_limit),
	CUSTOM("udp_all_download_speed_limit", udp_all_download_speed_limit,
	       pv_global_datagram_limit),
	CUSTOM_SEEN("tcp_remote_keepalive", tcp_remote_keepalive, pv_tcp_keepalive,
		    has_tcp_remote_keepalive),
	CUSTOM("tcp_remote_misc_opts", tcp_remote_misc_opts, pv_tcp_misc_opts),
	CUSTOM("udp_remote_misc_opts", udp_remote_misc_opts, pv_udp_misc_opts),
	CUSTOM("tcp_client_misc_opts", tcp_client_misc_opts, pv_tcp_misc_opts),
	CUSTOM("udp_client_misc_opts", udp_client_misc_opts, pv_udp_misc_opts),
	CUSTOM("http_upstream_keepalive", http_upstream_keepalive, pv_http_keepalive),
	{.key = "http_rsp_header_recv_timeout",
	 .type = CONF_T_DURATION,
	 .off = UO(http_rsp_header_recv_timeout_ms),
	 .flags = CONF_F_SEEN,
	 .seen_off = UO(has_http_rsp_header_recv_timeout)},
	CUSTOM("connection_rate_limit", connection_rate_limit, pv_rate_limit),
	CUSTOM("tcp_conn_rate_limit", connection_rate_limit, pv_rate_limit),
	CUSTOM("tcp_conn_limit_quota", connection_rate_limit, pv_rate_limit),
	CUSTOM("request_rate_limit", request_rate_limit, pv_rate_limit),
	CUSTOM("request_limit_quota", request_rate_limit, pv_rate_limit),
	{.key = "request_max_alive",
	 .type = CONF_T_U64,
	 .off = UO(request_max_alive),
	 .max = UINT64_MAX,
	 .flags = CONF_F_SEEN,
	 .seen_off = UO(has_request_max_alive)},
	{.key = "request_alive_max",
	 .type = CONF_T_U64,
	 .off = UO(request_max_alive),
	 .max = UINT64_MAX,
	 .flags = CONF_F_SEEN,
	 .seen_off = UO(has_request_max_alive)},
	CUSTOM("resolve_strategy", resolve_strategy, pv_resolve_strategy),
	CUSTOM("resolve_redirection", resolve_redirection, pv_resolve_redirection),
	CUSTOM("log_rate_limit", log_rate_limit, pv_rate_limit),
	CUSTOM("log_limit_quota", log_rate_limit, pv_rate_limit),
	{.key = "log_uri_max_chars",
	 .type = CONF_T_U32,
	 .off = UO(log_uri_max_chars),
	 .max = UINT32_MAX,
	 .flags = CONF_F_SEEN,
	 .seen_off = UO(has_log_uri_max_chars)},
	{.key = "task_idle_max_count",
	 .type = CONF_T_U32,
	 .off = UO(task_idle_max_count),
	 .min = 1,
	 .max = UINT32_MAX,
	 .flags = CONF_F_SEEN,
	 .seen_off = UO(has_task_idle_max_count)},
	{.key = "socks_use_udp_associate", .type = CONF_T_BOOL, .off = UO(socks_use_udp_associate)},
	CUSTOM("audit", audit, user_audit),
	CUSTOM("explicit_sites", explicit_sites, explicit_sites),
	CUSTOM("egress_path_id_map", egress_path_id_map, egress_id_map),
	CUSTOM("egress_path_value_map", egress_path_value_map, egress_value_map),
	{0},
};

static void user_defaults(void *obj)
{
	struct user_conf *u = obj;

	tcp_connect_defaults(&u->tcp_connect);
	tcp_keepalive_defaults(&u->tcp_remote_keepalive);
	http_keepalive_defaults(&u->http_upstream_keepalive);
	u->audit.prohibit_timeout_protocol = true;
}

static const struct conf_schema user_schema = {
	.name = "user",
	.size = sizeof(struct user_conf),
	.fields = user_fields,
	.defaults = user_defaults,
};

static const char *const user_skip[] = {"token", NULL};

int pconf_user_parse(struct conf_ctx *ctx, const struct conf_node *m, struct user_conf *u)
{
	const struct conf_node *tok;
	int rc;

	if (pv_expect_map(ctx, m) < 0)
		return -EINVAL;
	rc = conf_parse_map(ctx, m, &user_schema, user_skip, u);
	u->node = conf_map_get(m, "name");
	tok = conf_map_get(m, "token");
	if (tok == NULL) {
		u->token.type = USER_TOKEN_FORBID;
	} else {
		size_t saved = conf_path_push_key(ctx, "token");
		if (token_parse(ctx, tok, &u->token) < 0)
			rc = -EINVAL;
		conf_path_pop(ctx, saved);
	}
	return rc < 0 ? -EINVAL : 0;
}

/* ---- the group --------------------------------------------------------------- */

#define GO(f) offsetof(struct user_group_conf, f)

static int user_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct user_group_conf *g = arg;
	struct user_conf *u = &g->static_users[idx];

	if (pconf_user_parse(ctx, it, u) < 0)
		return -EINVAL;
	for (unsigned i = 0; i < idx; i++) {
		const struct user_conf *o = &g->static_users[i];
		if (o->name && u->name && strcmp(o->name, u->name) == 0)
			return conf_error(ctx, u->node,
					  "duplicate user '%s' (first defined at %s:%u:%u)",
					  u->name, o->node->file, o->node->line, o->node->col);
	}
	return 0;
}

static int static_users(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct user_group_conf *g = container_of(dst, struct user_group_conf, static_users);

	if (conf_is_null(n))
		return 0;
	g->n_static_users = pv_list_len(n);
	g->static_users = conf_alloc(ctx, (g->n_static_users ? g->n_static_users : 1) *
						  sizeof(struct user_conf));
	return pv_foreach_item(ctx, n, user_item, g);
}

static int anonymous_user(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return pconf_user_parse(ctx, n, dst);
}

static int source_format(struct conf_ctx *ctx, const struct conf_node *n, const char *s, size_t len,
			 enum user_source_format *out)
{
	char f[16];

	conf_normalize(s, len, f, sizeof(f));
	if (strcmp(f, "json") == 0)
		*out = USER_SOURCE_FMT_JSON;
	else if (strcmp(f, "yaml") == 0 || strcmp(f, "yml") == 0)
		*out = USER_SOURCE_FMT_YAML;
	else
		return conf_error(ctx, n, "invalid user source format '%.*s': use json or yaml",
				  (int)len, s);
	return 0;
}

/* "file:///abs/path[?format=json]", a bare path, or {type: file, path, format}. */
static int source_str(struct conf_ctx *ctx, const struct conf_node *n, struct user_group_conf *g)
{
	const char *s = n->str;
	const char *colon = strstr(s, "://");

	if (colon != NULL && strncmp(s, "redis://", 8) == 0)
		return pconf_user_redis_url(ctx, n, g);
	if (colon != NULL) {
		size_t slen = (size_t)(colon - s);
		if (slen != 4 || strncmp(s, "file", 4) != 0)
			return conf_error(ctx, n, "user source type '%.*s' is not supported yet",
					  (int)slen, s);
		const char *path = colon + 3;
		const char *q = strchr(path, '?');
		if (path[0] != '/')
			return conf_error(ctx, n, "a file:// user source needs an absolute path");
		if (q != NULL) {
			if (strncmp(q + 1, "format=", 7) != 0)
				return conf_error(ctx, n, "unknown user source parameter in '%s'",
						  s);
			if (source_format(ctx, n, q + 8, strlen(q + 8), &g->source_format) < 0)
				return -EINVAL;
		}
		g->source_path = conf_strndup(ctx, path, q ? (size_t)(q - path) : strlen(path));
		return 0;
	}
	if (n->len == 0)
		return conf_error(ctx, n, "empty user source path");
	g->source_path = conf_resolve_path(ctx, s);
	return 0;
}

static int source_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		     void *arg)
{
	struct user_group_conf *g = arg;

	if (conf_key_is(k, "type"))
		return 0;
	if (conf_key_is(k, "path")) {
		if (pv_expect_scalar(ctx, v) < 0)
			return -EINVAL;
		g->source_path = conf_resolve_path(ctx, v->str);
		return 0;
	}
	if (conf_key_is(k, "format")) {
		if (pv_expect_scalar(ctx, v) < 0)
			return -EINVAL;
		return source_format(ctx, v, v->str, v->len, &g->source_format);
	}
	return conf_error(ctx, k, "unknown key '%s' in a file user source", k->str);
}

static int source_parse(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct user_group_conf *g = container_of(dst, struct user_group_conf, source_path);
	const struct conf_node *type;
	char t[32];

	if (n->kind == CONF_SCALAR && !conf_is_null(n))
		return source_str(ctx, n, g);
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	type = conf_map_get(n, "type");
	if (type == NULL)
		return conf_error(ctx, n, "a user source map needs 'type'");
	if (pv_expect_scalar(ctx, type) < 0)
		return -EINVAL;
	conf_normalize(type->str, type->len, t, sizeof(t));
	if (strcmp(t, "redis") == 0)
		return pconf_user_redis_map(ctx, n, g);
	if (strcmp(t, "file") != 0)
		return conf_error(ctx, type, "user source type '%s' is not supported yet",
				  type->str);
	if (pv_foreach_kv(ctx, n, source_kv, g) < 0)
		return -EINVAL;
	if (g->source_path == NULL)
		return conf_error(ctx, n, "a file user source needs 'path'");
	return 0;
}

static int cache_path(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	*(const char **)dst = conf_resolve_path(ctx, n->str);
	return 0;
}

static const struct conf_field basic_fields[] = {
	{.key = "name",
	 .type = CONF_T_CUSTOM,
	 .off = GO(name),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	{.key = "static_users",
	 .type = CONF_T_CUSTOM,
	 .off = GO(static_users),
	 .parse = static_users},
	{.key = "anonymous_user",
	 .type = CONF_T_CUSTOM,
	 .off = GO(anonymous_user),
	 .parse = anonymous_user,
	 .flags = CONF_F_SEEN,
	 .seen_off = GO(has_anonymous_user)},
	{.key = "source", .type = CONF_T_CUSTOM, .off = GO(source_path), .parse = source_parse},
	{.key = "cache", .type = CONF_T_CUSTOM, .off = GO(cache_path), .parse = cache_path},
	{.key = "refresh_interval",
	 .type = CONF_T_DURATION,
	 .off = GO(refresh_interval_ms),
	 .min = 1},
	{0},
};

static void group_defaults(void *obj)
{
	struct user_group_conf *g = obj;

	g->refresh_interval_ms = 60000;
}

static const struct conf_schema basic_schema = {
	.name = "basic user group",
	.size = sizeof(struct user_group_conf),
	.fields = basic_fields,
	.defaults = group_defaults,
};

static const char *const basic_aliases[] = {"hashed_user", NULL};

static const struct conf_objtype group_types[] = {
	{.name = "basic",
	 .aliases = basic_aliases,
	 .schema = &basic_schema,
	 .tag = USER_GROUP_BASIC},
	{0},
};

static const char *const group_unsupported[] = {"ldap", "facts", NULL};
static const char *const type_skip[] = {"type", NULL};

int pconf_user_group_parse(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx,
			   void *arg)
{
	struct user_group_conf *g;
	void *p = NULL;
	int tag = USER_GROUP_BASIC;

	(void)idx;
	(void)arg;
	if (pv_expect_map(ctx, obj) < 0)
		return -EINVAL;
	if (conf_map_get(obj, "type") == NULL) {
		/* g3proxy 1.13: `type` defaults to basic */
		p = conf_alloc(ctx, sizeof(struct user_group_conf));
		if (conf_parse_map(ctx, obj, &basic_schema, type_skip, p) < 0)
			return -EINVAL;
	} else {
		if (pconf_type_unsupported(ctx, obj, "user group", group_unsupported))
			return -EINVAL;
		if (conf_parse_typed(ctx, obj, "user group", group_types, &p, &tag) < 0)
			return -EINVAL;
	}
	g = p;
	g->type = tag;
	g->node = conf_map_get(obj, "name");
	return pconf_register(ctx, PROXYD_KIND_USER_GROUP, g, g->name, g->node);
}
