/* Resolve strategy adjustment and resolve redirection (see
 * resolve_policy.h). */
#include "proxyd/dp/resolve_policy.h"

#include <string.h>
#include <strings.h>

struct resolve_strategy resolve_strategy_adjust(const struct resolve_strategy *esc,
						const struct resolve_strategy *user)
{
	struct resolve_strategy r = {
		.set = true, .query = RESOLVE_IPV4_FIRST, .pick = RESOLVE_PICK_RANDOM};

	if (esc != NULL && esc->set) {
		r.query = esc->query;
		r.pick = esc->pick;
	}
	if (user == NULL || !user->set)
		return r;
	r.pick = user->pick;
	if (r.query != RESOLVE_IPV4_ONLY && r.query != RESOLVE_IPV6_ONLY)
		r.query = user->query;
	return r;
}

/* host (hlen) equals dom or ends with "." dom: the length of the part
 * before dom (including its dot), else -1. */
static long under(const char *dom, const char *host, size_t hlen)
{
	size_t dlen = strlen(dom);

	if (hlen == dlen)
		return strncasecmp(dom, host, hlen) == 0 ? 0 : -1;
	if (hlen > dlen && host[hlen - dlen - 1] == '.' &&
	    strncasecmp(dom, host + (hlen - dlen), dlen) == 0)
		return (long)(hlen - dlen);
	return -1;
}

enum resolve_redirect_kind resolve_redirect_lookup(const struct resolve_redirection *rr,
						   const char *host, size_t len, char *out,
						   size_t cap, const struct ip_list **ips)
{
	const struct resolve_redirect_rule *best = NULL, *best_parent = NULL;
	long best_pre = 0;
	size_t best_dlen = 0;

	*ips = NULL;
	if (rr == NULL || rr->n == 0 || len == 0)
		return RESOLVE_REDIRECT_NONE;
	if (host[len - 1] == '.')
		len--;
	for (size_t i = 0; i < rr->n; i++) {
		const struct resolve_redirect_rule *r = &rr->v[i];
		if (!r->parent && strlen(r->domain) == len &&
		    strncasecmp(r->domain, host, len) == 0) {
			best = r;
			best_pre = 0;
			break;
		}
	}
	for (size_t i = 0; best == NULL && i < rr->n; i++) {
		const struct resolve_redirect_rule *r = &rr->v[i];
		long pre = r->parent ? under(r->domain, host, len) : -1;
		if (pre >= 0 && (best_parent == NULL || strlen(r->domain) > best_dlen)) {
			best_parent = r;
			best_pre = pre;
			best_dlen = strlen(r->domain);
		}
	}
	if (best == NULL)
		best = best_parent;
	if (best == NULL)
		return RESOLVE_REDIRECT_NONE;
	if (best->to_host == NULL) {
		if (best->to_ips.n == 0)
			return RESOLVE_REDIRECT_NONE;
		*ips = &best->to_ips;
		return RESOLVE_REDIRECT_IPS;
	}
	{
		size_t tlen = strlen(best->to_host), pre = (size_t)best_pre;
		if (tlen > 0 && best->to_host[tlen - 1] == '.')
			tlen--;
		if (tlen == 0 || pre + tlen + 1 > cap)
			return RESOLVE_REDIRECT_NONE;
		memcpy(out, host, pre); /* the labels below the parent, with their dot */
		memcpy(out + pre, best->to_host, tlen);
		out[pre + tlen] = '\0';
	}
	return RESOLVE_REDIRECT_HOST;
}
