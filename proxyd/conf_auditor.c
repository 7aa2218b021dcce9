/* Auditor objects (g3proxy §1.6). Auditors have no `type`. Simple keys are
 * typed (task_audit_ratio, log_uri_max_chars, the per-protocol inspect
 * policies, tls_ticketer); the feature maps whose engines are not built yet
 * (protocol inspection, TLS interception, ICAP, stream dump/detour) are
 * accepted and kept as raw nodes. */
#include "proxyd/conf_int.h"

#include <errno.h>
#include <string.h>

#define AUO(f) offsetof(struct auditor_conf, f)

static int inspect_action(struct conf_ctx *ctx, const struct conf_node *n, enum inspect_action *out)
{
	static const char *const names[] = {"intercept", "bypass", "block", "detour"};
	char s[32];

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	conf_normalize(n->str, n->len, s, sizeof(s));
	for (unsigned i = 0; i < ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum inspect_action)i;
			return 0;
		}
	}
	return conf_error(ctx, n,
			  "invalid inspect action '%s': use intercept, bypass, block or detour",
			  n->str);
}

enum match_kind {
	MATCH_EXACT = 0,
	MATCH_CHILD,
	MATCH_SUBNET,
};

struct policy_arg {
	struct inspect_policy *p;
	enum match_kind kind;
	enum inspect_action act;
	size_t cap;
};

static int policy_rec(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct policy_arg *a = arg;
	struct inspect_policy_rec *r;

	(void)idx;
	if (a->p->n == a->cap) {
		struct inspect_policy_rec *nv;
		a->cap = a->cap ? 2 * a->cap : 8;
		nv = conf_alloc(ctx, a->cap * sizeof(*nv));
		if (a->p->n)
			memcpy(nv, a->p->v, a->p->n * sizeof(*nv));
		a->p->v = nv;
	}
	r = &a->p->v[a->p->n];
	memset(r, 0, sizeof(*r));
	r->action = a->act;
	if (a->kind == MATCH_SUBNET) {
		if (conf_get_network(ctx, it, &r->net) < 0)
			return -EINVAL;
		r->subnet = true;
	} else {
		if (pv_expect_scalar(ctx, it) < 0)
			return -EINVAL;
		if (!pv_host_ok(it->str, it->len))
			return conf_error(ctx, it, "invalid host '%s'", it->str);
		r->host = it->str;
		r->child = a->kind == MATCH_CHILD;
	}
	a->p->n++;
	return 0;
}

/* {intercept: record | list, bypass: ..., ...} */
static int policy_rule_kv(struct conf_ctx *ctx, const struct conf_node *k,
			  const struct conf_node *v, void *arg)
{
	struct policy_arg *a = arg;

	if (inspect_action(ctx, k, &a->act) < 0)
		return -EINVAL;
	if (conf_is_null(v))
		return 0;
	return pv_foreach_item(ctx, v, policy_rec, a);
}

static int policy_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		     void *arg)
{
	struct policy_arg *a = arg;

	if (conf_key_is(k, "default"))
		return inspect_action(ctx, v, &a->p->def);
	if (conf_key_is(k, "exact_match"))
		a->kind = MATCH_EXACT;
	else if (conf_key_is(k, "child_match"))
		a->kind = MATCH_CHILD;
	else if (conf_key_is(k, "subnet_match"))
		a->kind = MATCH_SUBNET;
	else
		return conf_error(ctx, k,
				  "unknown key '%s': use default, exact_match, child_match or "
				  "subnet_match",
				  k->str);
	if (pv_expect_map(ctx, v) < 0)
		return -EINVAL;
	return pv_foreach_kv(ctx, v, policy_rule_kv, a);
}

static int inspect_policy(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct inspect_policy *p = dst;
	struct policy_arg a = {.p = p};

	p->def = INSPECT_INTERCEPT;
	p->n = 0;
	if (n->kind == CONF_MAP)
		return pv_foreach_kv(ctx, n, policy_kv, &a);
	return inspect_action(ctx, n, &p->def);
}

#define RAW_MAP(k, f)                                                               \
	{                                                                           \
		.key = k, .type = CONF_T_CUSTOM, .off = AUO(f), .parse = pv_raw_map \
	}
#define RAW_ANY(k, f)                                                               \
	{                                                                           \
		.key = k, .type = CONF_T_CUSTOM, .off = AUO(f), .parse = pv_raw_any \
	}
#define POLICY(k, f)                                                                    \
	{                                                                               \
		.key = k, .type = CONF_T_CUSTOM, .off = AUO(f), .parse = inspect_policy \
	}

static const struct conf_field auditor_fields[] = {
	{.key = "name",
	 .type = CONF_T_CUSTOM,
	 .off = AUO(name),
	 .parse = pv_metric_name,
	 .flags = CONF_F_REQUIRED},
	RAW_MAP("protocol_inspection", protocol_inspection),
	RAW_MAP("server_tcp_portmap", server_tcp_portmap),
	RAW_MAP("client_tcp_portmap", client_tcp_portmap),
	RAW_ANY("tls_cert_agent", tls_cert_agent),
	RAW_ANY("tls_cert_generator", tls_cert_agent),
	{.key = "tls_ticketer",
	 .type = CONF_T_CUSTOM,
	 .off = AUO(tls_ticketer),
	 .parse = pv_tls_ticketer},
	RAW_MAP("tls_interception_client", tls_interception_client),
	RAW_MAP("tls_interception_server", tls_interception_server),
	RAW_ANY("tls_stream_dump", tls_stream_dump),
	{.key = "log_uri_max_chars",
	 .type = CONF_T_U32,
	 .off = AUO(log_uri_max_chars),
	 .min = 1,
	 .max = UINT32_MAX},
	RAW_MAP("h1_interception", h1_interception),
	POLICY("h2_inspect_policy", h2_inspect_policy),
	RAW_MAP("h2_interception", h2_interception),
	POLICY("websocket_inspect_policy", websocket_inspect_policy),
	POLICY("smtp_inspect_policy", smtp_inspect_policy),
	RAW_MAP("smtp_interception", smtp_interception),
	POLICY("imap_inspect_policy", imap_inspect_policy),
	RAW_MAP("imap_interception", imap_interception),
	RAW_ANY("icap_reqmod_service", icap_reqmod_service),
	RAW_ANY("icap_respmod_service", icap_respmod_service),
	RAW_ANY("stream_detour_service", stream_detour_service),
	{.key = "task_audit_ratio",
	 .type = CONF_T_CUSTOM,
	 .off = AUO(task_audit_ratio),
	 .parse = pv_random_ratio},
	{.key = "application_audit_ratio",
	 .type = CONF_T_CUSTOM,
	 .off = AUO(task_audit_ratio),
	 .parse = pv_random_ratio},
	{0},
};

void auditor_defaults(void *obj)
{
	struct auditor_conf *a = obj;

	a->task_audit_ratio.set = true;
	a->task_audit_ratio.v = 1.0;
	a->log_uri_max_chars = 1024;
	a->h2_inspect_policy.def = INSPECT_INTERCEPT;
	a->websocket_inspect_policy.def = INSPECT_INTERCEPT;
	a->smtp_inspect_policy.def = INSPECT_INTERCEPT;
	a->imap_inspect_policy.def = INSPECT_INTERCEPT;
}

static const struct conf_schema auditor_schema = {
	.name = "auditor",
	.size = sizeof(struct auditor_conf),
	.fields = auditor_fields,
	.defaults = auditor_defaults,
};

int pconf_auditor_parse(struct conf_ctx *ctx, const struct conf_node *obj, unsigned idx, void *arg)
{
	struct auditor_conf *a;

	(void)idx;
	(void)arg;
	if (pv_expect_map(ctx, obj) < 0)
		return -EINVAL;
	a = conf_alloc(ctx, sizeof(*a));
	if (conf_parse_map(ctx, obj, &auditor_schema, NULL, a) < 0)
		return -EINVAL;
	a->node = conf_map_get(obj, "name");
	return pconf_register(ctx, PROXYD_KIND_AUDITOR, a, a->name, a->node);
}
