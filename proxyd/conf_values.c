/* Value formats shared by proxyd's object schemas (g3proxy §1.12): names,
 * lists, listen, socket options, keepalives, speed and rate limits, ratios,
 * resolve strategy and redirection, IP addresses. Each pv_* function is a
 * conf_parse_fn: it records an error with file:line:col and returns -EINVAL
 * on bad input. */
#include "proxyd/conf_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- walking helpers --------------------------------------------------- */

int pv_foreach_kv(struct conf_ctx *ctx, const struct conf_node *m, pv_kv_fn *fn, void *arg)
{
	int rc = 0;

	for (const struct conf_node *k = m->child; k; k = k->next) {
		size_t saved = conf_path_push_key(ctx, k->str);
		if (fn(ctx, k, k->value, arg) < 0)
			rc = -EINVAL;
		conf_path_pop(ctx, saved);
	}
	return rc;
}

size_t pv_list_len(const struct conf_node *n)
{
	if (n == NULL || conf_is_null(n))
		return 0;
	return n->kind == CONF_SEQ ? n->nchild : 1;
}

int pv_foreach_item(struct conf_ctx *ctx, const struct conf_node *n, pv_item_fn *fn, void *arg)
{
	int rc = 0;
	unsigned i = 0;

	if (n->kind != CONF_SEQ)
		return fn(ctx, n, 0, arg) < 0 ? -EINVAL : 0;
	for (const struct conf_node *it = n->child; it; it = it->next, i++) {
		size_t saved = conf_path_push_index(ctx, i);
		if (fn(ctx, it, i, arg) < 0)
			rc = -EINVAL;
		conf_path_pop(ctx, saved);
	}
	return rc;
}

const char *pv_kind_name(const struct conf_node *n)
{
	if (conf_is_null(n))
		return "null";
	switch (n->kind) {
	case CONF_MAP:
		return "a map";
	case CONF_SEQ:
		return "a sequence";
	default:
		return "a scalar";
	}
}

int pv_expect_map(struct conf_ctx *ctx, const struct conf_node *n)
{
	if (n->kind != CONF_MAP)
		return conf_error(ctx, n, "expected a map, got %s", pv_kind_name(n));
	return 0;
}

int pv_expect_scalar(struct conf_ctx *ctx, const struct conf_node *n)
{
	if (n->kind != CONF_SCALAR || conf_is_null(n))
		return conf_error(ctx, n, "expected a string, got %s", pv_kind_name(n));
	return 0;
}

/* YAML 1.1 booleans as g3's yaml reader accepts them. */
bool pv_is_bool_literal(const struct conf_node *n)
{
	static const char *const words[] = {"true", "false", "yes", "no", "on", "off", NULL};

	if (n->kind != CONF_SCALAR || !n->plain)
		return false;
	for (unsigned i = 0; words[i]; i++)
		if (strcasecmp(n->str, words[i]) == 0)
			return true;
	return false;
}

/* ---- names and strings ------------------------------------------------- */

bool pv_metric_name_ok(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/' || c >= 0x80)
			continue;
		return false;
	}
	return true;
}

int pv_metric_name(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (!pv_metric_name_ok(n->str, n->len))
		return conf_error(ctx, n,
				  "invalid name '%s': only letters, digits and '-', '_', '.', '/' "
				  "are allowed",
				  n->str);
	*(const char **)dst = n->str;
	return 0;
}

int pv_ascii_str(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	for (size_t i = 0; i < n->len; i++)
		if ((unsigned char)n->str[i] >= 0x80 || n->str[i] == '\0')
			return conf_error(ctx, n, "'%s' is not an ASCII string", n->str);
	*(const char **)dst = n->str;
	return 0;
}

int pv_http_server_id(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	for (size_t i = 0; i < n->len; i++) {
		char c = n->str[i];
		if (c < 0x20 || c > 0x7e || c == ';' || c == ',')
			return conf_error(
				ctx, n,
				"invalid server id '%s': printable ASCII without ';' or ','",
				n->str);
	}
	*(const char **)dst = n->str;
	return 0;
}

int pv_http_header_name(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (n->len == 0)
		return conf_error(ctx, n, "empty HTTP header name");
	for (size_t i = 0; i < n->len; i++) {
		unsigned char c = (unsigned char)n->str[i];
		if (!isalnum(c) && (c == 0 || !strchr(tchar, c)))
			return conf_error(ctx, n, "invalid HTTP header name '%s'", n->str);
	}
	*(const char **)dst = n->str;
	return 0;
}

static int str_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct str_list *l = arg;

	if (pv_expect_scalar(ctx, it) < 0)
		return -EINVAL;
	l->v[idx] = it->str;
	return 0;
}

int pv_str_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct str_list *l = dst;

	l->n = pv_list_len(n);
	l->v = conf_alloc(ctx, (l->n ? l->n : 1) * sizeof(*l->v));
	return pv_foreach_item(ctx, n, str_item, l);
}

/* A domain (labels of letters, digits, '-', '_', optional leading "*.") or an
 * IP literal; stored lower-cased. */
bool pv_host_ok(const char *s, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	size_t label = 0;

	if (pv_parse_ip(s, &ss, &sl))
		return true;
	if (len == 0 || len > 253 || s[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-' || c == '_' || c >= 0x80 || (c == '*' && i == 0)))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static int host_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct str_list *l = arg;

	if (pv_expect_scalar(ctx, it) < 0)
		return -EINVAL;
	if (!pv_host_ok(it->str, it->len))
		return conf_error(ctx, it, "invalid host '%s'", it->str);
	char *low = conf_strndup(ctx, it->str, it->len);
	for (char *p = low; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	l->v[idx] = low;
	return 0;
}

int pv_host_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct str_list *l = dst;

	l->n = pv_list_len(n);
	l->v = conf_alloc(ctx, (l->n ? l->n : 1) * sizeof(*l->v));
	return pv_foreach_item(ctx, n, host_item, l);
}

static int tag_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		  void *arg)
{
	struct metrics_tags *t = arg;

	if (!pv_metric_name_ok(k->str, k->len))
		return conf_error(ctx, k, "invalid metrics tag name '%s'", k->str);
	if (pv_expect_scalar(ctx, v) < 0)
		return -EINVAL;
	if (!pv_metric_name_ok(v->str, v->len))
		return conf_error(ctx, v, "invalid metrics tag value '%s'", v->str);
	t->v[t->n].name = k->str;
	t->v[t->n].value = v->str;
	t->n++;
	return 0;
}

int pv_metrics_tags(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct metrics_tags *t = dst;

	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	t->n = 0;
	t->v = conf_alloc(ctx, (n->nchild ? n->nchild : 1) * sizeof(*t->v));
	return pv_foreach_kv(ctx, n, tag_kv, t);
}

int pv_raw_map(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	*(const struct conf_node **)dst = n;
	return 0;
}

int pv_raw_any(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (conf_is_null(n) || n->kind == CONF_SEQ)
		return conf_error(ctx, n, "expected a map or a string, got %s", pv_kind_name(n));
	*(const struct conf_node **)dst = n;
	return 0;
}

/* ---- IP addresses ------------------------------------------------------ */

bool pv_parse_ip(const char *s, struct sockaddr_storage *out, socklen_t *len)
{
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *v4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;

	if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		*len = sizeof(*v4);
		return true;
	}
	if (inet_pton(AF_INET6, s, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		*len = sizeof(*v6);
		return true;
	}
	return false;
}

static int ip_family(struct conf_ctx *ctx, const struct conf_node *n, int family,
		     struct sockaddr_storage *out)
{
	socklen_t sl;

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (!pv_parse_ip(n->str, out, &sl))
		return conf_error(ctx, n, "invalid IP address '%s'", n->str);
	if (family == AF_INET && out->ss_family != AF_INET)
		return conf_error(ctx, n, "'%s' is not an IPv4 address", n->str);
	if (family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)out;
		if (out->ss_family != AF_INET6)
			return conf_error(ctx, n, "'%s' is not an IPv6 address", n->str);
		if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr))
			return conf_error(ctx, n, "'%s' is an IPv4-mapped address, not an IPv6 one",
					  n->str);
	}
	return 0;
}

int pv_ip_addr(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return ip_family(ctx, n, AF_UNSPEC, dst);
}

int pv_ipv4_addr(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return ip_family(ctx, n, AF_INET, dst);
}

int pv_ipv6_addr(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return ip_family(ctx, n, AF_INET6, dst);
}

static void sockaddr_to_net(const struct sockaddr_storage *ss, struct conf_net *net)
{
	memset(net, 0, sizeof(*net));
	net->family = ss->ss_family;
	if (ss->ss_family == AF_INET) {
		memcpy(net->addr, &((const struct sockaddr_in *)ss)->sin_addr, 4);
		net->prefix = 32;
	} else {
		memcpy(net->addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
		net->prefix = 128;
	}
}

struct ip_list_arg {
	struct ip_list *l;
	int family; /* AF_UNSPEC, AF_INET, AF_INET6, or -1 for networks */
};

static int ip_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct ip_list_arg *a = arg;
	struct sockaddr_storage ss;

	if (a->family == -1)
		return conf_get_network(ctx, it, &a->l->v[idx]);
	if (ip_family(ctx, it, a->family, &ss) < 0)
		return -EINVAL;
	sockaddr_to_net(&ss, &a->l->v[idx]);
	return 0;
}

static int ip_list_parse(struct conf_ctx *ctx, const struct conf_node *n, struct ip_list *l,
			 int family)
{
	struct ip_list_arg a = {l, family};

	l->n = pv_list_len(n);
	l->v = conf_alloc(ctx, (l->n ? l->n : 1) * sizeof(*l->v));
	return pv_foreach_item(ctx, n, ip_item, &a);
}

int pv_ip_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return ip_list_parse(ctx, n, dst, AF_UNSPEC);
}

int pv_ipv4_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return ip_list_parse(ctx, n, dst, AF_INET);
}

int pv_ipv6_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return ip_list_parse(ctx, n, dst, AF_INET6);
}

int pv_net_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return ip_list_parse(ctx, n, dst, -1);
}

/* ---- numbers: scale and random ratio ------------------------------------ */

/* "n%", "n/d" or a float; *out >= 0. */
static bool ratio_parse(const char *s, double *out)
{
	char *end;
	double a, b;

	errno = 0;
	a = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(a) || a < 0)
		return false;
	if (*end == '\0') {
		*out = a;
		return true;
	}
	if (end[0] == '%' && end[1] == '\0') {
		*out = a / 100.0;
		return true;
	}
	if (*end == '/') {
		const char *d = end + 1;
		b = strtod(d, &end);
		if (end == d || *end != '\0' || !(b > 0) || !isfinite(b))
			return false;
		*out = a / b;
		return true;
	}
	return false;
}

int pv_scale(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	double v;

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (!ratio_parse(n->str, &v))
		return conf_error(ctx, n, "invalid scale '%s': use a float, \"n%%\" or \"n/d\"",
				  n->str);
	*(double *)dst = v;
	return 0;
}

int pv_random_ratio(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct random_ratio *r = dst;
	double v;

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (pv_is_bool_literal(n)) {
		bool b;
		if (conf_get_bool(ctx, n, &b) < 0)
			return -EINVAL;
		v = b ? 1.0 : 0.0;
	} else if (!ratio_parse(n->str, &v) || v > 1.0) {
		return conf_error(
			ctx, n,
			"invalid ratio '%s': use 0..1 as a float, \"n/d\", \"n%%\" or a bool",
			n->str);
	}
	r->set = true;
	r->v = v;
	return 0;
}

/* ---- pick policy, resolve strategy, redirection --------------------------- */

/* Normalised and without '_' so "IPv4First", "ipv4_first", "ipv4-first" match. */
static void squash(const char *in, size_t len, char *out, size_t cap)
{
	char tmp[64];
	size_t j = 0;

	conf_normalize(in, len, tmp, sizeof(tmp));
	for (size_t i = 0; tmp[i] && j + 1 < cap; i++)
		if (tmp[i] != '_')
			out[j++] = tmp[i];
	out[j] = '\0';
}

int pv_pick_policy(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	static const struct {
		const char *name;
		int v;
	} tab[] = {
		{"random", PICK_RANDOM},	 {"serial", PICK_SERIAL},
		{"sequence", PICK_SERIAL},	 {"roundrobin", PICK_ROUND_ROBIN},
		{"rr", PICK_ROUND_ROBIN},	 {"ketama", PICK_KETAMA},
		{"rendezvous", PICK_RENDEZVOUS}, {"jumphash", PICK_JUMP_HASH},
	};
	char s[64];

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	squash(n->str, n->len, s, sizeof(s));
	for (size_t i = 0; i < ARRAY_SIZE(tab); i++) {
		if (strcmp(s, tab[i].name) == 0) {
			*(int *)dst = tab[i].v;
			return 0;
		}
	}
	return conf_error(ctx, n,
			  "invalid pick policy '%s': use random, serial, round_robin, ketama, "
			  "rendezvous or jump_hash",
			  n->str);
}

static int resolve_query(struct conf_ctx *ctx, const struct conf_node *n, enum resolve_query *q)
{
	static const char *const names[] = {"ipv4first", "ipv6first", "ipv4only", "ipv6only"};
	char s[64];

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	squash(n->str, n->len, s, sizeof(s));
	for (unsigned i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*q = (enum resolve_query)i;
			return 0;
		}
	}
	return conf_error(ctx, n,
			  "invalid resolve query strategy '%s': use Ipv4First, Ipv6First, Ipv4Only "
			  "or Ipv6Only",
			  n->str);
}

static int rs_query_field(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return resolve_query(ctx, n, dst);
}

static int rs_pick_field(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	enum resolve_pick *pick = dst;
	char s[64];

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	squash(n->str, n->len, s, sizeof(s));
	if (strcmp(s, "random") == 0)
		*pick = RESOLVE_PICK_RANDOM;
	else if (strcmp(s, "first") == 0)
		*pick = RESOLVE_PICK_FIRST;
	else
		return conf_error(ctx, n, "invalid resolve pick strategy '%s': use Random or First",
				  n->str);
	return 0;
}

static const struct conf_field resolve_strategy_fields[] = {
	{.key = "query",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct resolve_strategy, query),
	 .parse = rs_query_field},
	{.key = "pick",
	 .type = CONF_T_CUSTOM,
	 .off = offsetof(struct resolve_strategy, pick),
	 .parse = rs_pick_field},
	{0},
};
static const struct conf_schema resolve_strategy_schema = {
	.name = "resolve strategy",
	.size = sizeof(struct resolve_strategy),
	.fields = resolve_strategy_fields,
};

int pv_resolve_strategy(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct resolve_strategy *r = dst;

	r->query = RESOLVE_IPV4_FIRST;
	r->pick = RESOLVE_PICK_RANDOM;
	if (n->kind == CONF_MAP) {
		if (conf_parse_map(ctx, n, &resolve_strategy_schema, NULL, r) < 0)
			return -EINVAL;
	} else if (resolve_query(ctx, n, &r->query) < 0) {
		return -EINVAL;
	}
	r->set = true;
	return 0;
}

/* `to`: a domain, an IP, or a list of IPs. */
static int redirect_target(struct conf_ctx *ctx, const struct conf_node *n,
			   struct resolve_redirect_rule *r, bool domain_only)
{
	struct sockaddr_storage ss;
	socklen_t sl;

	if (n->kind == CONF_SEQ) {
		if (domain_only)
			return conf_error(ctx, n,
					  "a parent rule redirects to a domain, not to IPs");
		return pv_ip_list(ctx, n, &r->to_ips);
	}
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (pv_parse_ip(n->str, &ss, &sl)) {
		if (domain_only)
			return conf_error(ctx, n,
					  "a parent rule redirects to a domain, not to IPs");
		return pv_ip_list(ctx, n, &r->to_ips);
	}
	if (!pv_host_ok(n->str, n->len))
		return conf_error(ctx, n, "invalid redirect target '%s'", n->str);
	r->to_host = n->str;
	return 0;
}

static int redirect_domain(struct conf_ctx *ctx, const struct conf_node *n, const char **out)
{
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (!pv_host_ok(n->str, n->len))
		return conf_error(ctx, n, "invalid domain '%s'", n->str);
	char *low = conf_strndup(ctx, n->str, n->len);
	for (char *p = low; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	*out = low;
	return 0;
}

static int redirect_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct resolve_redirection *rr = arg;
	struct resolve_redirect_rule *r = &rr->v[idx];
	const struct conf_node *exact, *parent, *to;

	if (pv_expect_map(ctx, it) < 0)
		return -EINVAL;
	exact = conf_map_get(it, "exact");
	parent = conf_map_get(it, "parent");
	to = conf_map_get(it, "to");
	for (const struct conf_node *k = it->child; k; k = k->next)
		if (!conf_key_is(k, "exact") && !conf_key_is(k, "parent") && !conf_key_is(k, "to"))
			return conf_error(ctx, k, "unknown key '%s' in a redirection rule", k->str);
	if ((exact == NULL) == (parent == NULL))
		return conf_error(ctx, it,
				  "a redirection rule needs exactly one of 'exact' or 'parent'");
	if (to == NULL)
		return conf_error(ctx, it, "a redirection rule needs 'to'");
	r->parent = parent != NULL;
	if (redirect_domain(ctx, parent ? parent : exact, &r->domain) < 0)
		return -EINVAL;
	return redirect_target(ctx, to, r, r->parent);
}

static int redirect_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		       void *arg)
{
	struct resolve_redirection *rr = arg;
	struct resolve_redirect_rule *r = &rr->v[rr->n++];

	if (redirect_domain(ctx, k, &r->domain) < 0)
		return -EINVAL;
	return redirect_target(ctx, v, r, false);
}

int pv_resolve_redirection(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct resolve_redirection *rr = dst;

	if (n->kind == CONF_MAP) {
		rr->n = 0;
		rr->v = conf_alloc(ctx, (n->nchild ? n->nchild : 1) * sizeof(*rr->v));
		return pv_foreach_kv(ctx, n, redirect_kv, rr);
	}
	if (n->kind != CONF_SEQ)
		return conf_error(ctx, n, "expected a sequence of rules or a map, got %s",
				  pv_kind_name(n));
	rr->n = n->nchild;
	rr->v = conf_alloc(ctx, (rr->n ? rr->n : 1) * sizeof(*rr->v));
	return pv_foreach_item(ctx, n, redirect_item, rr);
}

/* ---- RFC 3339 ------------------------------------------------------------- */

int pv_rfc3339(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct tm tm;
	int y, mo, d, h, mi, s, used = 0;
	const char *p;
	long off = 0;

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (sscanf(n->str, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) !=
		    6 ||
	    used != 19)
		goto bad;
	p = n->str + used;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, u2 = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &u2) != 2 || u2 != 5 || oh > 23 || om > 59)
			goto bad;
		off = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		goto bad;
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
		goto bad;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*(int64_t *)dst = (int64_t)timegm(&tm) - off;
	return 0;
bad:
	return conf_error(ctx, n, "invalid RFC 3339 datetime '%s'", n->str);
}
