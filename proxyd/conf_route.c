/* The rule-based route escapers (g3proxy §1.3): route_upstream,
 * route_client, route_resolved, route_mapping and route_failover. Rule
 * lists take g3's two forms: a sequence of {next, <items>} maps or a map
 * next-name → items. A value routed to two different next escapers is an
 * error; the same value twice for one next is accepted. Next names are
 * resolved with the other references after loading (conf.c calls
 * pconf_route_foreach_ref). */
#include "proxyd/conf_int.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "proxyd/dp/pick.h"

/* ---- growable arena arrays ---------------------------------------------- */

/* Room for element n of *v (element size sz): the array doubles when n
 * reaches a power of two (>= 4), so no capacity is stored. */
static void *grow(struct conf_ctx *ctx, void *v, size_t n, size_t sz)
{
	void *nv;

	if (n != 0 && (n < 4 || (n & (n - 1)) != 0))
		return v;
	nv = conf_alloc(ctx, (n < 4 ? 4 : 2 * n) * sz);
	if (n > 0)
		memcpy(nv, v, n * sz);
	return nv;
}

#define PUSH(ctx, arr, n) ((arr) = grow((ctx), (arr), (n), sizeof(*(arr))), &(arr)[(n)++])

static char *lower_dup(struct conf_ctx *ctx, const char *s, size_t n)
{
	char *d = conf_strndup(ctx, s, n);

	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* A domain for matching: optional leading "." or "*." dropped, lower case. */
static int domain_value(struct conf_ctx *ctx, const struct conf_node *n, const char **out)
{
	const char *s;
	size_t len;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	s = n->str;
	len = n->len;
	if (len > 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		len -= 2;
	} else if (len > 1 && s[0] == '.') {
		s++;
		len--;
	}
	if (!pv_host_ok(s, len) || s[0] == '*' || pv_parse_ip(s, &ss, &sl))
		return conf_error(ctx, n, "invalid domain '%s'", n->str);
	*out = lower_dup(ctx, s, len);
	return 0;
}

/* ---- rule lists ------------------------------------------------------------ */

/* Called per item of a rule with the rule's next escaper name. */
typedef int rule_item_fn(struct conf_ctx *ctx, const struct conf_node *it, const char *next,
			 struct route_conf *r);

struct rule_walk {
	const char *const *keys; /* item list key and aliases */
	rule_item_fn *fn;
	struct route_conf *r;
	const char *next;
};

static int walk_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct rule_walk *w = arg;

	(void)idx;
	return w->fn(ctx, it, w->next, w->r);
}

static int walk_items(struct conf_ctx *ctx, const struct conf_node *items, struct rule_walk *w)
{
	if (items == NULL || conf_is_null(items))
		return 0;
	return pv_foreach_item(ctx, items, walk_item, w);
}

/* Seq form: {next: NAME, <key>: items}. */
static int walk_rule(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct rule_walk *w = arg;
	const struct conf_node *nn = NULL, *items = NULL;
	int rc = 0;

	(void)idx;
	if (pv_expect_map(ctx, it) < 0)
		return -EINVAL;
	for (const struct conf_node *k = it->child; k != NULL; k = k->next) {
		bool known = false;
		if (conf_key_is(k, "next")) {
			nn = k->value;
			continue;
		}
		for (unsigned i = 0; w->keys[i] != NULL; i++)
			known |= conf_key_is(k, w->keys[i]);
		if (!known) {
			rc = conf_error(ctx, k, "unknown key '%s' in a rule (next, %s)", k->str,
					w->keys[0]);
			continue;
		}
		if (items != NULL)
			rc = conf_error(ctx, k, "'%s' given twice in one rule", w->keys[0]);
		items = k->value;
	}
	if (nn == NULL)
		return conf_error(ctx, it, "a rule needs 'next'");
	if (pv_metric_name(ctx, nn, &w->next) < 0)
		return -EINVAL;
	if (rc < 0)
		return rc;
	return walk_items(ctx, items, w);
}

/* Map form: NAME: items. */
static int walk_kv(struct conf_ctx *ctx, const struct conf_node *key, const struct conf_node *val,
		   void *arg)
{
	struct rule_walk *w = arg;

	if (pv_metric_name(ctx, key, &w->next) < 0)
		return -EINVAL;
	return walk_items(ctx, val, w);
}

static int rules(struct conf_ctx *ctx, const struct conf_node *n, struct route_conf *r,
		 const char *const *keys, rule_item_fn *fn)
{
	struct rule_walk w = {.keys = keys, .fn = fn, .r = r};

	if (conf_is_null(n))
		return 0;
	if (n->kind == CONF_MAP)
		return pv_foreach_kv(ctx, n, walk_kv, &w);
	if (n->kind != CONF_SEQ)
		return conf_error(ctx, n, "expected a sequence of rules or a map, got %s",
				  pv_kind_name(n));
	return pv_foreach_item(ctx, n, walk_rule, &w);
}

/* ---- items ------------------------------------------------------------------ */

static void add_net(struct conf_ctx *ctx, struct route_net_rule **v, size_t *n,
		    const struct conf_net *net, const char *next)
{
	struct route_net_rule *x = PUSH(ctx, *v, *n);

	x->net = *net;
	x->next_name = next;
	x->next = NULL;
}

static void add_host(struct conf_ctx *ctx, struct route_host_rule **v, size_t *n, const char *key,
		     const char *next)
{
	struct route_host_rule *x = PUSH(ctx, *v, *n);

	x->key = key;
	x->next_name = next;
	x->next = NULL;
}

static int ip_to_net(const struct sockaddr_storage *ss, struct conf_net *net)
{
	memset(net, 0, sizeof(*net));
	net->family = ss->ss_family;
	if (ss->ss_family == AF_INET) {
		memcpy(net->addr, &((const struct sockaddr_in *)(const void *)ss)->sin_addr, 4);
		net->prefix = 32;
	} else {
		memcpy(net->addr, &((const struct sockaddr_in6 *)(const void *)ss)->sin6_addr, 16);
		net->prefix = 128;
	}
	return 0;
}

/* route_upstream exact_match: a host is a domain or an IP. */
static int host_item(struct conf_ctx *ctx, const struct conf_node *it, const char *next,
		     struct route_conf *r)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct conf_net net;

	if (pv_expect_scalar(ctx, it) < 0)
		return -EINVAL;
	if (pv_parse_ip(it->str, &ss, &sl)) {
		ip_to_net(&ss, &net);
		add_net(ctx, &r->exact_ips, &r->n_exact_ips, &net, next);
		return 0;
	}
	if (!pv_host_ok(it->str, it->len) || it->str[0] == '*')
		return conf_error(ctx, it, "invalid host '%s'", it->str);
	add_host(ctx, &r->exact_hosts, &r->n_exact_hosts, lower_dup(ctx, it->str, it->len), next);
	return 0;
}

static int ip_item(struct conf_ctx *ctx, const struct conf_node *it, const char *next,
		   struct route_conf *r)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct conf_net net;

	if (pv_expect_scalar(ctx, it) < 0)
		return -EINVAL;
	if (!pv_parse_ip(it->str, &ss, &sl))
		return conf_error(ctx, it, "invalid IP address '%s'", it->str);
	ip_to_net(&ss, &net);
	add_net(ctx, &r->exact_ips, &r->n_exact_ips, &net, next);
	return 0;
}

static int net_item(struct conf_ctx *ctx, const struct conf_node *it, const char *next,
		    struct route_conf *r)
{
	struct conf_net net;

	if (conf_get_network(ctx, it, &net) < 0)
		return -EINVAL;
	add_net(ctx, &r->subnets, &r->n_subnets, &net, next);
	return 0;
}

static int child_item(struct conf_ctx *ctx, const struct conf_node *it, const char *next,
		      struct route_conf *r)
{
	const char *d = NULL;

	if (domain_value(ctx, it, &d) < 0 || d == NULL)
		return -EINVAL;
	add_host(ctx, &r->children, &r->n_children, d, next);
	return 0;
}

/* A suffix is matched on the string ("t.example.net" matches
 * "test.example.net", as g3's radix match): only lower-cased; a leading
 * "." keeps it to whole labels. */
static int suffix_item(struct conf_ctx *ctx, const struct conf_node *it, const char *next,
		       struct route_conf *r)
{
	if (pv_expect_scalar(ctx, it) < 0)
		return -EINVAL;
	size_t skip = it->len > 1 && it->str[0] == '.'; /* ".example.net": label boundary */

	if (it->len == 0 || it->len > 253 || !pv_host_ok(it->str + skip, it->len - skip) ||
	    it->str[skip] == '*')
		return conf_error(ctx, it, "invalid domain suffix '%s'", it->str);
	add_host(ctx, &r->suffixes, &r->n_suffixes, lower_dup(ctx, it->str, it->len), next);
	return 0;
}

static int regex_item(struct conf_ctx *ctx, const struct conf_node *it, const char *next,
		      struct route_conf *r)
{
	const struct conf_node *rx = it, *parent = NULL;
	const char *pd = NULL;
	regex_t *re;
	int rc;

	if (it->kind == CONF_MAP) {
		for (const struct conf_node *k = it->child; k != NULL; k = k->next) {
			if (conf_key_is(k, "parent"))
				parent = k->value;
			else if (!conf_key_is(k, "regex"))
				return conf_error(ctx, k, "unknown key '%s' (parent, regex)",
						  k->str);
		}
		rx = conf_map_get(it, "regex");
		if (rx == NULL)
			return conf_error(ctx, it, "a regex rule needs 'regex'");
		if (parent != NULL && domain_value(ctx, parent, &pd) < 0)
			return -EINVAL;
	}
	if (pv_expect_scalar(ctx, rx) < 0)
		return -EINVAL;
	re = xmalloc(sizeof(*re));
	rc = regcomp(re, rx->str, REG_EXTENDED | REG_NOSUB | REG_ICASE);
	if (rc != 0) {
		char msg[128];
		regerror(rc, re, msg, sizeof(msg));
		free(re);
		return conf_error(ctx, rx, "invalid regex '%s': %s", rx->str, msg);
	}
	struct route_regex_rule *x = PUSH(ctx, r->regexes, r->n_regexes);
	x->parent = pd;
	x->src = rx->str;
	x->re = pconf_loading ? re : NULL;
	x->next_name = next;
	x->next = NULL;
	pconf_track_regex(re);
	return 0;
}

/* ---- CONF_T_CUSTOM parsers --------------------------------------------------- */

static const char *const k_hosts[] = {"hosts", "host", NULL};
static const char *const k_ips[] = {"ips", "ip", NULL};
static const char *const k_subnets[] = {"subnets", "subnet", NULL};
static const char *const k_domains[] = {"domains", "domain", NULL};
static const char *const k_suffixes[] = {"suffixes", "suffix", NULL};
static const char *const k_rules[] = {"rules", "rule", NULL};
static const char *const k_networks[] = {"networks", "network", "net", "nets", NULL};

/* Each rule key has its own offset (the schema treats rows with one offset
 * as aliases of one key); the parsers get back to the route_conf. */
#define RC(dst, f) container_of((dst), struct route_conf, f)

static int pv_up_exact(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return rules(ctx, n, RC(dst, exact_hosts), k_hosts, host_item);
}

static int pv_client_exact(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return rules(ctx, n, RC(dst, exact_ips), k_ips, ip_item);
}

static int pv_subnets(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return rules(ctx, n, RC(dst, subnets), k_subnets, net_item);
}

static int pv_children(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return rules(ctx, n, RC(dst, children), k_domains, child_item);
}

static int pv_suffixes(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return rules(ctx, n, RC(dst, suffixes), k_suffixes, suffix_item);
}

static int pv_regexes(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return rules(ctx, n, RC(dst, regexes), k_rules, regex_item);
}

static int pv_lpm(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	return rules(ctx, n, RC(dst, subnets), k_networks, net_item);
}

static int next_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct route_conf *r = arg;

	return pv_metric_name(ctx, it, &r->next_names[idx]);
}

int pconf_route_next_list(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct route_conf *r = RC(dst, next_names);

	r->n_next = pv_list_len(n);
	if (r->n_next == 0)
		return conf_error(ctx, n, "'next' needs at least one escaper");
	r->next_names = conf_alloc(ctx, r->n_next * sizeof(*r->next_names));
	r->next = conf_alloc(ctx, r->n_next * sizeof(const struct escaper_conf *));
	return pv_foreach_item(ctx, n, next_item, r);
}

/* route_select next_nodes: a name, or a list of names / {name, weight}
 * maps / "name weight"-less weighted names as g3 writes them. */
static int weighted_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct route_conf *r = arg;
	const struct conf_node *nn = it, *wn = NULL;
	double w = 1.0;

	if (it->kind == CONF_MAP) {
		nn = NULL;
		for (const struct conf_node *k = it->child; k != NULL; k = k->next) {
			if (conf_key_is(k, "name"))
				nn = k->value;
			else if (conf_key_is(k, "weight"))
				wn = k->value;
			else
				return conf_error(ctx, k, "unknown key '%s' (name, weight)",
						  k->str);
		}
		if (nn == NULL)
			return conf_error(ctx, it, "a weighted name needs 'name'");
	}
	if (wn != NULL) {
		char *end = NULL;
		if (pv_expect_scalar(ctx, wn) < 0)
			return -EINVAL;
		w = strtod(wn->str, &end);
		if (end == wn->str || *end != '\0' || !isfinite(w) || w < 0)
			return conf_error(ctx, wn, "invalid weight '%s': a number >= 0", wn->str);
	}
	r->next_weights[idx] = w;
	return pv_metric_name(ctx, nn, &r->next_names[idx]);
}

static int pv_next_nodes(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct route_conf *r = RC(dst, next_weights);

	r->n_next = pv_list_len(n);
	if (r->n_next == 0)
		return conf_error(ctx, n, "'next_nodes' needs at least one escaper");
	r->next_names = conf_alloc(ctx, r->n_next * sizeof(*r->next_names));
	r->next = conf_alloc(ctx, r->n_next * sizeof(const struct escaper_conf *));
	r->next_weights = conf_alloc(ctx, r->n_next * sizeof(*r->next_weights));
	return pv_foreach_item(ctx, n, weighted_item, r);
}

/* trick_float next: the same weighted names (g3 lists names; a weight is
 * ours, 1 by default). */
static int pv_trick_next(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	if (pv_list_len(n) == 0)
		return conf_error(ctx, n, "'next' needs at least one escaper");
	return pv_next_nodes(ctx, n, dst);
}

/* ---- checks -------------------------------------------------------------------- */

static int host_cmp(const void *a, const void *b)
{
	return strcmp(((const struct route_host_rule *)a)->key,
		      ((const struct route_host_rule *)b)->key);
}

/* Sort by key (stable for equal keys is not needed: equal keys must name
 * the same next) and drop the repeats. */
static int host_finish(struct conf_ctx *ctx, const struct conf_node *map, const char *what,
		       struct route_host_rule *v, size_t *n, bool sort)
{
	size_t out = 0;
	int rc = 0;

	if (sort && *n > 1)
		qsort(v, *n, sizeof(*v), host_cmp);
	for (size_t i = 0; i < *n; i++) {
		bool dup = false;
		for (size_t j = sort ? (out ? out - 1 : 0) : 0; j < out; j++) {
			if (strcmp(v[j].key, v[i].key) != 0)
				continue;
			dup = true;
			if (strcmp(v[j].next_name, v[i].next_name) != 0)
				rc = conf_error(ctx, map, "%s '%s' is routed to both '%s' and '%s'",
						what, v[i].key, v[j].next_name, v[i].next_name);
		}
		if (!dup)
			v[out++] = v[i];
	}
	*n = out;
	return rc;
}

static bool same_net(const struct conf_net *a, const struct conf_net *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

static int net_finish(struct conf_ctx *ctx, const struct conf_node *map, const char *what,
		      struct route_net_rule *v, size_t *n)
{
	size_t out = 0;
	int rc = 0;

	for (size_t i = 0; i < *n; i++) {
		bool dup = false;
		for (size_t j = 0; j < out; j++) {
			if (!same_net(&v[j].net, &v[i].net))
				continue;
			dup = true;
			if (strcmp(v[j].next_name, v[i].next_name) != 0)
				rc = conf_error(ctx, map, "%s is routed to both '%s' and '%s'",
						what, v[j].next_name, v[i].next_name);
		}
		if (!dup)
			v[out++] = v[i];
	}
	*n = out;
	return rc;
}

static int regex_finish(struct conf_ctx *ctx, const struct conf_node *map,
			const struct route_conf *r)
{
	int rc = 0;

	for (size_t i = 0; i < r->n_regexes; i++)
		for (size_t j = 0; j < i; j++) {
			const struct route_regex_rule *a = &r->regexes[i], *b = &r->regexes[j];
			bool same_parent =
				(a->parent == NULL && b->parent == NULL) ||
				(a->parent && b->parent && !strcmp(a->parent, b->parent));
			if (same_parent && strcmp(a->src, b->src) == 0 &&
			    strcmp(a->next_name, b->next_name) != 0)
				rc = conf_error(ctx, map,
						"regex rule '%s' is routed to both '%s' and '%s'",
						a->src, b->next_name, a->next_name);
		}
	return rc;
}

static int rules_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct route_conf *r = &((struct escaper_conf *)obj)->route;
	int rc = 0;

	rc |= host_finish(ctx, map, "host", r->exact_hosts, &r->n_exact_hosts, true);
	rc |= host_finish(ctx, map, "domain", r->children, &r->n_children, true);
	rc |= host_finish(ctx, map, "suffix", r->suffixes, &r->n_suffixes, false);
	rc |= net_finish(ctx, map, "an IP address", r->exact_ips, &r->n_exact_ips);
	rc |= net_finish(ctx, map, "a network", r->subnets, &r->n_subnets);
	rc |= regex_finish(ctx, map, r);
	return rc < 0 ? -EINVAL : 0;
}

int pconf_route_unique_next(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct route_conf *r = &((struct escaper_conf *)obj)->route;

	for (size_t i = 0; i < r->n_next; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(r->next_names[i], r->next_names[j]) == 0)
				return conf_error(ctx, map, "next escaper '%s' is listed twice",
						  r->next_names[i]);
	return 0;
}

/* The pick table is built now (the names are the node ids) and freed with
 * the config. */
static int select_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct route_conf *r = &((struct escaper_conf *)obj)->route;
	struct pick_node *nodes;
	struct pick_set *set = NULL;
	int rc;

	if (pconf_route_unique_next(ctx, map, obj) < 0)
		return -EINVAL;
	nodes = conf_alloc(ctx, r->n_next * sizeof(*nodes));
	for (size_t i = 0; i < r->n_next; i++) {
		nodes[i].id = r->next_names[i];
		nodes[i].weight = r->next_weights[i];
	}
	rc = pick_set_new((enum pick_policy)r->pick_policy, nodes, r->n_next, &set);
	if (rc == -EINVAL)
		return conf_error(ctx, map,
				  "next_nodes: no escaper has a weight above 0 "
				  "(or more than %u escapers)",
				  PICK_MAX_NODES);
	if (rc < 0)
		return conf_error(ctx, map, "next_nodes: cannot build the pick table: %s",
				  strerror(-rc));
	pconf_track_pick(set);
	r->pick = pconf_loading ? set : NULL;
	return 0;
}

/* trick_float: weighted random, whatever next_pick_policy says elsewhere */
static int trick_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	((struct escaper_conf *)obj)->route.pick_policy = PICK_RANDOM;
	return select_check(ctx, map, obj);
}

static int failover_check(struct conf_ctx *ctx, const struct conf_node *map, void *obj)
{
	struct route_conf *r = &((struct escaper_conf *)obj)->route;

	if (r->primary_name == NULL)
		return conf_error(ctx, map, "missing required key 'primary_next'");
	if (r->standby_name == NULL)
		return conf_error(ctx, map, "missing required key 'standby_next'");
	return 0;
}

/* ---- schemas ---------------------------------------------------------------------- */

#define DEFAULT_NEXT_ROW                                                                          \
	{                                                                                         \
		.key = "default_next", .type = CONF_T_CUSTOM, .off = EO(route.default_next_name), \
		.parse = pv_metric_name, .flags = CONF_F_REQUIRED                                 \
	}

#define RULES(k, f, fn)                                                              \
	{                                                                            \
		.key = (k), .type = CONF_T_CUSTOM, .off = EO(route.f), .parse = (fn) \
	}

static const struct conf_field upstream_fields[] = {
	ESCAPER_COMMON_ROWS,
	DEFAULT_NEXT_ROW,
	RULES("exact_match", exact_hosts, pv_up_exact),
	RULES("exact_rules", exact_hosts, pv_up_exact),
	RULES("subnet_match", subnets, pv_subnets),
	RULES("subnet_rules", subnets, pv_subnets),
	RULES("child_match", children, pv_children),
	RULES("child_rules", children, pv_children),
	RULES("suffix_match", suffixes, pv_suffixes),
	RULES("radix_match", suffixes, pv_suffixes),
	RULES("suffix_rules", suffixes, pv_suffixes),
	RULES("radix_rules", suffixes, pv_suffixes),
	RULES("regex_match", regexes, pv_regexes),
	RULES("regex_rules", regexes, pv_regexes),
	{0},
};

static const struct conf_field client_fields[] = {
	ESCAPER_COMMON_ROWS,
	DEFAULT_NEXT_ROW,
	RULES("exact_match", exact_ips, pv_client_exact),
	RULES("exact_rules", exact_ips, pv_client_exact),
	RULES("subnet_match", subnets, pv_subnets),
	RULES("subnet_rules", subnets, pv_subnets),
	{0},
};

static const struct conf_field resolved_fields[] = {
	ESCAPER_COMMON_ROWS,
	DEFAULT_NEXT_ROW,
	{.key = "resolver",
	 .type = CONF_T_CUSTOM,
	 .off = EO(resolver_name),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	{.key = "resolve_strategy",
	 .type = CONF_T_CUSTOM,
	 .off = EO(resolve_strategy),
	 .parse = pv_resolve_strategy},
	RULES("lpm_match", subnets, pv_lpm),
	RULES("lpm_rules", subnets, pv_lpm),
	{.key = "resolution_delay",
	 .type = CONF_T_DURATION,
	 .off = EO(route.resolution_delay_ms),
	 .max = 60000},
	{0},
};

static const struct conf_field mapping_fields[] = {
	ESCAPER_COMMON_ROWS,
	{.key = "next",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.next_names),
	 .parse = pconf_route_next_list,
	 .flags = CONF_F_REQUIRED},
	{0},
};

static const struct conf_field select_fields[] = {
	ESCAPER_COMMON_ROWS,
	{.key = "next_nodes",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.next_weights),
	 .parse = pv_next_nodes,
	 .flags = CONF_F_REQUIRED},
	{.key = "next_pick_policy",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.pick_policy),
	 .parse = pv_pick_policy},
	{0},
};

static const struct conf_field trick_fields[] = {
	ESCAPER_COMMON_ROWS,
	{.key = "next",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.next_weights),
	 .parse = pv_trick_next,
	 .flags = CONF_F_REQUIRED},
	{0},
};

static const struct conf_field failover_fields[] = {
	ESCAPER_COMMON_ROWS,
	{.key = "primary_next",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.primary_name),
	 .parse = pv_metric_name},
	{.key = "primary",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.primary_name),
	 .parse = pv_metric_name},
	{.key = "standby_next",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.standby_name),
	 .parse = pv_metric_name},
	{.key = "standby",
	 .type = CONF_T_CUSTOM,
	 .off = EO(route.standby_name),
	 .parse = pv_metric_name},
	{.key = "fallback_delay",
	 .type = CONF_T_DURATION,
	 .off = EO(route.fallback_delay_ms),
	 .max = 3600000},
	{.key = "delay",
	 .type = CONF_T_DURATION,
	 .off = EO(route.fallback_delay_ms),
	 .max = 3600000},
	{.key = "timeout",
	 .type = CONF_T_DURATION,
	 .off = EO(route.fallback_delay_ms),
	 .max = 3600000},
	{0},
};

static void route_defaults(void *obj)
{
	struct escaper_conf *e = obj;

	e->resolve_strategy.query = RESOLVE_IPV4_FIRST;
	e->resolve_strategy.pick = RESOLVE_PICK_RANDOM;
	e->route.resolution_delay_ms = 50;
	e->route.fallback_delay_ms = 100;
	e->route.pick_policy = PICK_RENDEZVOUS; /* g3's default for route_select */
}

const struct conf_schema pconf_route_upstream_schema = {
	.name = "route_upstream escaper",
	.size = sizeof(struct escaper_conf),
	.fields = upstream_fields,
	.defaults = route_defaults,
	.check = rules_check,
};

const struct conf_schema pconf_route_client_schema = {
	.name = "route_client escaper",
	.size = sizeof(struct escaper_conf),
	.fields = client_fields,
	.defaults = route_defaults,
	.check = rules_check,
};

const struct conf_schema pconf_route_resolved_schema = {
	.name = "route_resolved escaper",
	.size = sizeof(struct escaper_conf),
	.fields = resolved_fields,
	.defaults = route_defaults,
	.check = rules_check,
};

const struct conf_schema pconf_route_mapping_schema = {
	.name = "route_mapping escaper",
	.size = sizeof(struct escaper_conf),
	.fields = mapping_fields,
	.defaults = route_defaults,
	.check = pconf_route_unique_next,
};

const struct conf_schema pconf_route_select_schema = {
	.name = "route_select escaper",
	.size = sizeof(struct escaper_conf),
	.fields = select_fields,
	.defaults = route_defaults,
	.check = select_check,
};

const struct conf_schema pconf_trick_float_schema = {
	.name = "trick_float escaper",
	.size = sizeof(struct escaper_conf),
	.fields = trick_fields,
	.defaults = route_defaults,
	.check = trick_check,
};

const struct conf_schema pconf_route_failover_schema = {
	.name = "route_failover escaper",
	.size = sizeof(struct escaper_conf),
	.fields = failover_fields,
	.defaults = route_defaults,
	.check = failover_check,
};

/* ---- references ------------------------------------------------------------------ */

void pconf_route_foreach_ref(struct escaper_conf *e, pconf_ref_fn *fn, void *arg)
{
	struct route_conf *r = &e->route;

	if (r->default_next_name != NULL)
		fn(r->default_next_name, &r->default_next, arg);
	for (size_t i = 0; i < r->n_exact_hosts; i++)
		fn(r->exact_hosts[i].next_name, &r->exact_hosts[i].next, arg);
	for (size_t i = 0; i < r->n_children; i++)
		fn(r->children[i].next_name, &r->children[i].next, arg);
	for (size_t i = 0; i < r->n_suffixes; i++)
		fn(r->suffixes[i].next_name, &r->suffixes[i].next, arg);
	for (size_t i = 0; i < r->n_exact_ips; i++)
		fn(r->exact_ips[i].next_name, &r->exact_ips[i].next, arg);
	for (size_t i = 0; i < r->n_subnets; i++)
		fn(r->subnets[i].next_name, &r->subnets[i].next, arg);
	for (size_t i = 0; i < r->n_regexes; i++)
		fn(r->regexes[i].next_name, &r->regexes[i].next, arg);
	for (size_t i = 0; i < r->n_next; i++)
		fn(r->next_names[i], &r->next[i], arg);
	if (r->primary_name != NULL)
		fn(r->primary_name, &r->primary, arg);
	if (r->standby_name != NULL)
		fn(r->standby_name, &r->standby, arg);
	if (r->fallback_name != NULL)
		fn(r->fallback_name, &r->fallback, arg);
}
