/* ACL rules (g3proxy §1.5.4 "ACL semantics"): a rule is a bare record or
 * list of records (= only these are permitted) or a map {default: action,
 * <action>: record | list, ...} with actions forbid_log (deny_log,
 * reject_log), forbid (deny, reject), permit_log (allow_log, accept_log),
 * permit (allow, accept). Record types: networks (longest prefix), ports
 * ("22", "100-200", "80,443"), exact hosts, child domains, POSIX extended
 * regexes, user-agent products, proxy request types. */
#include "proxyd/conf_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Records collected in a malloc'd vector, copied into the arena at the end. */
struct acl_build {
	char *v;
	size_t n, cap, esz;
};

static void *build_add(struct acl_build *b)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 8;
		b->v = xrealloc(b->v, b->cap * b->esz);
	}
	void *slot = b->v + b->n * b->esz;
	memset(slot, 0, b->esz);
	b->n++;
	return slot;
}

static void *build_finish(struct conf_ctx *ctx, struct acl_build *b, size_t *n)
{
	void *out = conf_alloc(ctx, (b->n ? b->n : 1) * b->esz);

	if (b->n)
		memcpy(out, b->v, b->n * b->esz);
	*n = b->n;
	free(b->v);
	b->v = NULL;
	return out;
}

int pv_acl_action(struct conf_ctx *ctx, const struct conf_node *n, enum acl_action *out)
{
	static const struct {
		const char *name;
		enum acl_action a;
	} tab[] = {
		{"forbid_log", ACL_FORBID_LOG}, {"deny_log", ACL_FORBID_LOG},
		{"reject_log", ACL_FORBID_LOG}, {"forbid", ACL_FORBID},
		{"deny", ACL_FORBID},		{"reject", ACL_FORBID},
		{"permit_log", ACL_PERMIT_LOG}, {"allow_log", ACL_PERMIT_LOG},
		{"accept_log", ACL_PERMIT_LOG}, {"permit", ACL_PERMIT},
		{"allow", ACL_PERMIT},		{"accept", ACL_PERMIT},
	};
	char s[32];

	(void)ctx; /* the callers word the message */
	if (n->kind != CONF_SCALAR || conf_is_null(n))
		return -EINVAL;
	conf_normalize(n->str, n->len, s, sizeof(s));
	for (size_t i = 0; i < ARRAY_SIZE(tab); i++) {
		if (strcmp(s, tab[i].name) == 0) {
			*out = tab[i].a;
			return 0;
		}
	}
	return -EINVAL;
}

typedef int acl_rec_fn(struct conf_ctx *ctx, const struct conf_node *n, enum acl_action act,
		       struct acl_build *b);

struct acl_walk {
	acl_rec_fn *rec;
	struct acl_build *b;
	enum acl_action act;
	enum acl_action *missed;
};

static int acl_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct acl_walk *w = arg;

	(void)idx;
	if (it->kind != CONF_SCALAR || conf_is_null(it))
		return conf_error(ctx, it, "expected a record, got %s", pv_kind_name(it));
	return w->rec(ctx, it, w->act, w->b);
}

static int acl_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		  void *arg)
{
	struct acl_walk *w = arg;
	enum acl_action act;

	if (conf_key_is(k, "default")) {
		if (pv_acl_action(ctx, v, &act) < 0)
			return conf_error(
				ctx, v,
				"invalid acl action '%s': use forbid, forbid_log, permit or "
				"permit_log",
				v->kind == CONF_SCALAR ? v->str : "");
		*w->missed = act;
		return 0;
	}
	if (pv_acl_action(ctx, k, &act) < 0)
		return conf_error(
			ctx, k,
			"unknown acl action '%s': use default, forbid, forbid_log, permit or "
			"permit_log",
			k->str);
	if (conf_is_null(v))
		return 0;
	struct acl_walk sub = *w;
	sub.act = act;
	return pv_foreach_item(ctx, v, acl_item, &sub);
}

/* *missed holds the rule type's default on entry. */
static int acl_parse(struct conf_ctx *ctx, const struct conf_node *n, acl_rec_fn *rec,
		     enum acl_action bare, enum acl_action *missed, struct acl_build *b)
{
	struct acl_walk w = {rec, b, bare, missed};

	if (conf_is_null(n))
		return conf_error(ctx, n, "expected an acl rule, got null");
	if (n->kind == CONF_MAP)
		return pv_foreach_kv(ctx, n, acl_kv, &w);
	return pv_foreach_item(ctx, n, acl_item, &w);
}

/* ---- networks ------------------------------------------------------------ */

static bool net_eq(const struct conf_net *a, const struct conf_net *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

static void net_put(struct acl_build *b, const struct conf_net *net, enum acl_action act)
{
	struct acl_net_rec *v = (struct acl_net_rec *)(void *)b->v;

	/* A later record for the same network overrides (user over built-in). */
	for (size_t i = 0; i < b->n; i++) {
		if (net_eq(&v[i].net, net)) {
			v[i].action = act;
			return;
		}
	}
	struct acl_net_rec *r = build_add(b);
	r->net = *net;
	r->action = act;
}

static int net_rec(struct conf_ctx *ctx, const struct conf_node *n, enum acl_action act,
		   struct acl_build *b)
{
	struct conf_net net;

	if (conf_get_network(ctx, n, &net) < 0)
		return -EINVAL;
	net_put(b, &net, act);
	return 0;
}

static void add_builtin(struct acl_build *b, const char *ip, uint8_t prefix, enum acl_action act)
{
	struct conf_net net;

	memset(&net, 0, sizeof(net));
	if (inet_pton(AF_INET, ip, net.addr) == 1)
		net.family = AF_INET;
	else if (inet_pton(AF_INET6, ip, net.addr) == 1)
		net.family = AF_INET6;
	ASSERT(net.family != 0);
	net.prefix = prefix;
	net_put(b, &net, act);
}

/* g3's egress / dst-subnet built-ins: unspecified, loopback, link-local and
 * the discard-only prefix. */
static void add_egress_builtins(struct acl_build *b, bool discard_only)
{
	add_builtin(b, "0.0.0.0", 32, ACL_FORBID);
	add_builtin(b, "127.0.0.0", 8, ACL_FORBID);
	add_builtin(b, "169.254.0.0", 16, ACL_FORBID);
	add_builtin(b, "::", 128, ACL_FORBID);
	add_builtin(b, "::1", 128, ACL_FORBID);
	add_builtin(b, "fe80::", 10, ACL_FORBID);
	if (discard_only)
		add_builtin(b, "100::", 64, ACL_FORBID);
}

enum net_kind {
	NET_PLAIN = 0,
	NET_EGRESS,
	NET_INGRESS,
	NET_DST_SUBNET,
};

static int net_rule(struct conf_ctx *ctx, const struct conf_node *n, struct acl_net_rule *r,
		    enum net_kind kind)
{
	struct acl_build b = {.esz = sizeof(struct acl_net_rec)};
	int rc;

	r->missed = ACL_FORBID;
	if (kind == NET_EGRESS)
		add_egress_builtins(&b, true);
	else if (kind == NET_DST_SUBNET)
		add_egress_builtins(&b, false);
	else if (kind == NET_INGRESS) {
		add_builtin(&b, "127.0.0.1", 32, ACL_PERMIT);
		add_builtin(&b, "::1", 128, ACL_PERMIT);
	}
	rc = acl_parse(ctx, n, net_rec, ACL_PERMIT, &r->missed, &b);
	r->v = build_finish(ctx, &b, &r->n);
	r->set = true;
	return rc;
}

int pv_acl_egress(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return net_rule(ctx, n, dst, NET_EGRESS);
}

int pv_acl_ingress(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return net_rule(ctx, n, dst, NET_INGRESS);
}

int pv_acl_network(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return net_rule(ctx, n, dst, NET_PLAIN);
}

void acl_egress_default(struct conf_ctx *ctx, struct acl_net_rule *r)
{
	struct acl_build b = {.esz = sizeof(struct acl_net_rec)};

	add_egress_builtins(&b, true);
	r->v = build_finish(ctx, &b, &r->n);
	r->missed = ACL_PERMIT;
	r->set = true;
}

/* ---- ports ----------------------------------------------------------------- */

static int port_num(const char *s, size_t len, uint16_t *out)
{
	unsigned long v = 0;

	while (len && s[0] == ' ')
		s++, len--;
	while (len && s[len - 1] == ' ')
		len--;
	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

static int port_rec(struct conf_ctx *ctx, const struct conf_node *n, enum acl_action act,
		    struct acl_build *b)
{
	const char *s = n->str;

	/* "80", "100-200", or a comma separated mix of them */
	while (*s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *dash = memchr(s, '-', len);
		uint16_t lo, hi;

		if (dash) {
			if (port_num(s, (size_t)(dash - s), &lo) < 0 ||
			    port_num(dash + 1, len - (size_t)(dash - s) - 1, &hi) < 0)
				return conf_error(ctx, n, "invalid port range '%s'", n->str);
			if (hi <= lo)
				return conf_error(
					ctx, n,
					"invalid port range '%s': end must be greater than start",
					n->str);
		} else {
			if (port_num(s, len, &lo) < 0)
				return conf_error(ctx, n, "invalid port '%s'", n->str);
			hi = lo;
		}
		struct acl_port_rec *r = build_add(b);
		r->lo = lo;
		r->hi = hi;
		r->action = act;
		s += len;
		if (*s == ',')
			s++;
	}
	return 0;
}

int pv_acl_port(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct acl_port_rule *r = dst;
	struct acl_build b = {.esz = sizeof(struct acl_port_rec)};
	int rc;

	r->missed = ACL_FORBID;
	rc = acl_parse(ctx, n, port_rec, ACL_PERMIT, &r->missed, &b);
	r->v = build_finish(ctx, &b, &r->n);
	r->set = true;
	return rc;
}

/* ---- hosts, domains, regexes ------------------------------------------------- */

static char *lower_dup(struct conf_ctx *ctx, const struct conf_node *n)
{
	char *s = conf_strndup(ctx, n->str, n->len);

	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

static int exact_rec(struct conf_ctx *ctx, const struct conf_node *n, enum acl_action act,
		     struct acl_build *b)
{
	socklen_t sl;

	if (!pv_host_ok(n->str, n->len) || n->str[0] == '*')
		return conf_error(ctx, n, "invalid host '%s'", n->str);
	struct acl_str_rec *r = build_add(b);
	r->s = lower_dup(ctx, n);
	r->is_ip = pv_parse_ip(n->str, &r->addr, &sl);
	r->action = act;
	return 0;
}

static int child_rec(struct conf_ctx *ctx, const struct conf_node *n, enum acl_action act,
		     struct acl_build *b)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (n->len && n->str[0] == '.')
		return conf_error(ctx, n, "invalid domain '%s': a leading '.' is not allowed",
				  n->str);
	if (!pv_host_ok(n->str, n->len) || n->str[0] == '*' || pv_parse_ip(n->str, &ss, &sl))
		return conf_error(ctx, n, "invalid domain '%s'", n->str);
	struct acl_str_rec *r = build_add(b);
	r->s = lower_dup(ctx, n);
	r->action = act;
	return 0;
}

void pconf_track_regex(regex_t *re)
{
	struct proxyd_conf *c = pconf_loading;

	if (c == NULL) {
		regfree(re);
		free(re);
		return;
	}
	if (c->n_regexes == c->cap_regexes) {
		c->cap_regexes = c->cap_regexes ? 2 * c->cap_regexes : 8;
		c->regexes = xrealloc(c->regexes, c->cap_regexes * sizeof(regex_t *));
	}
	c->regexes[c->n_regexes++] = re;
}

static int regex_rec(struct conf_ctx *ctx, const struct conf_node *n, enum acl_action act,
		     struct acl_build *b)
{
	regex_t *re = xmalloc(sizeof(*re));
	int rc = regcomp(re, n->str, REG_EXTENDED | REG_NOSUB | REG_ICASE);

	if (rc != 0) {
		char msg[128];
		regerror(rc, re, msg, sizeof(msg));
		free(re);
		return conf_error(ctx, n, "invalid regex '%s': %s", n->str, msg);
	}
	struct acl_regex_rec *r = build_add(b);
	r->pattern = n->str;
	r->re = pconf_loading ? re : NULL;
	r->action = act;
	pconf_track_regex(re);
	return 0;
}

static int str_rule(struct conf_ctx *ctx, const struct conf_node *n, struct acl_str_rule *r,
		    acl_rec_fn *rec, enum acl_action bare, enum acl_action missed)
{
	struct acl_build b = {.esz = sizeof(struct acl_str_rec)};
	int rc;

	r->missed = missed;
	rc = acl_parse(ctx, n, rec, bare, &r->missed, &b);
	r->v = build_finish(ctx, &b, &r->n);
	r->set = true;
	return rc;
}

static int regex_rule(struct conf_ctx *ctx, const struct conf_node *n, struct acl_regex_rule *r)
{
	struct acl_build b = {.esz = sizeof(struct acl_regex_rec)};
	int rc;

	r->missed = ACL_FORBID;
	rc = acl_parse(ctx, n, regex_rec, ACL_PERMIT, &r->missed, &b);
	r->v = build_finish(ctx, &b, &r->n);
	r->set = true;
	return rc;
}

static int host_set_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		       void *arg)
{
	struct acl_host_set *h = arg;

	if (conf_key_is(k, "exact_match") || conf_key_is(k, "exact"))
		return str_rule(ctx, v, &h->exact, exact_rec, ACL_PERMIT, ACL_FORBID);
	if (conf_key_is(k, "child_match") || conf_key_is(k, "child"))
		return str_rule(ctx, v, &h->child, child_rec, ACL_PERMIT, ACL_FORBID);
	if (conf_key_is(k, "regex_match") || conf_key_is(k, "regex"))
		return regex_rule(ctx, v, &h->regex);
	if (conf_key_is(k, "subnet_match") || conf_key_is(k, "subnet"))
		return net_rule(ctx, v, &h->subnet, NET_DST_SUBNET);
	return conf_error(ctx, k,
			  "unknown key '%s': use exact_match, child_match, regex_match or "
			  "subnet_match",
			  k->str);
}

int pv_acl_host_set(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct acl_host_set *h = dst;

	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	h->set = true;
	return pv_foreach_kv(ctx, n, host_set_kv, h);
}

/* ---- user agents, proxy request types ------------------------------------- */

static int ua_rec(struct conf_ctx *ctx, const struct conf_node *n, enum acl_action act,
		  struct acl_build *b)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";

	if (n->len == 0)
		return conf_error(ctx, n, "empty user-agent product");
	for (size_t i = 0; i < n->len; i++) {
		unsigned char c = (unsigned char)n->str[i];
		if (!isalnum(c) && (c == 0 || !strchr(tchar, c)))
			return conf_error(ctx, n, "invalid user-agent product '%s'", n->str);
	}
	struct acl_str_rec *r = build_add(b);
	r->s = lower_dup(ctx, n);
	r->action = act;
	return 0;
}

int pv_acl_user_agent(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	/* inverted: listed products are forbidden, everything else permitted */
	return str_rule(ctx, n, dst, ua_rec, ACL_FORBID, ACL_PERMIT);
}

static int req_rec(struct conf_ctx *ctx, const struct conf_node *n, enum acl_action act,
		   struct acl_build *b)
{
	static const char *const names[PROXY_REQ__COUNT] = {
		"httpforward", "httpsforward",	  "ftpoverhttp",
		"httpconnect", "sockstcpconnect", "socksudpassociate",
	};
	char tmp[64], s[64];
	size_t j = 0;

	conf_normalize(n->str, n->len, tmp, sizeof(tmp));
	for (size_t i = 0; tmp[i] && j + 1 < sizeof(s); i++)
		if (tmp[i] != '_')
			s[j++] = tmp[i];
	s[j] = '\0';
	for (unsigned i = 0; i < PROXY_REQ__COUNT; i++) {
		if (strcmp(s, names[i]) == 0) {
			enum acl_action *slot = build_add(b);
			slot[0] = (enum acl_action)i;
			slot[1] = act;
			return 0;
		}
	}
	return conf_error(ctx, n,
			  "invalid proxy request type '%s': use HttpForward, HttpsForward, "
			  "FtpOverHttp, HttpConnect, SocksTcpConnect or SocksUdpAssociate",
			  n->str);
}

int pv_acl_proxy_request(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct acl_proxy_request_rule *r = dst;
	struct acl_build b = {.esz = 2 * sizeof(enum acl_action)};
	int rc;

	r->missed = ACL_FORBID;
	rc = acl_parse(ctx, n, req_rec, ACL_PERMIT, &r->missed, &b);
	for (size_t i = 0; i < b.n; i++) {
		enum acl_action *slot = (enum acl_action *)(void *)(b.v + i * b.esz);
		r->action[slot[0]] = slot[1];
	}
	free(b.v);
	r->set = true;
	return rc;
}
