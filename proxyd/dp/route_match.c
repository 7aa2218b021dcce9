/* Matchers of route_upstream / route_client / route_resolved (see
 * route_match.h). */
#include "proxyd/dp/route_match.h"

#include <ctype.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

/* The address as 4 (IPv4, also v4-mapped IPv6) or 16 bytes. */
static int addr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
	if (sa->sa_family == AF_INET) {
		memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		memcpy(out, a6->s6_addr + 12, 4);
		return AF_INET;
	}
	memcpy(out, a6->s6_addr, 16);
	return AF_INET6;
}

static bool net_has(const struct conf_net *n, int fam, const uint8_t a[16])
{
	unsigned full = n->prefix / 8u, rest = n->prefix % 8u;

	if (n->family != fam)
		return false;
	if (memcmp(n->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8u - rest));
	return (n->addr[full] & mask) == (a[full] & mask);
}

const struct escaper_conf *route_match_ip(const struct route_conf *r, const struct sockaddr *sa)
{
	const struct escaper_conf *best = NULL;
	int best_len = -1, fam;
	uint8_t a[16];

	fam = addr_bytes(sa, a);
	if (fam == 0)
		return NULL;
	for (size_t i = 0; i < r->n_exact_ips; i++)
		if (net_has(&r->exact_ips[i].net, fam, a))
			return r->exact_ips[i].next;
	for (size_t i = 0; i < r->n_subnets; i++) {
		const struct conf_net *n = &r->subnets[i].net;
		if ((int)n->prefix > best_len && net_has(n, fam, a)) {
			best = r->subnets[i].next;
			best_len = n->prefix;
		}
	}
	return best;
}

static int key_cmp(const void *k, const void *e)
{
	return strcmp(k, ((const struct route_host_rule *)e)->key);
}

static const struct route_host_rule *find_host(const struct route_host_rule *v, size_t n,
					       const char *key)
{
	if (n == 0)
		return NULL;
	return bsearch(key, v, n, sizeof(*v), key_cmp);
}

/* The most specific child_match parent: the host itself, then each parent
 * domain from the longest down. */
static const struct escaper_conf *match_child(const struct route_conf *r, const char *h)
{
	for (const char *p = h; p != NULL && *p != '\0';) {
		const struct route_host_rule *x = find_host(r->children, r->n_children, p);
		if (x != NULL)
			return x->next;
		p = strchr(p, '.');
		if (p != NULL)
			p++;
	}
	return NULL;
}

static const struct escaper_conf *match_suffix(const struct route_conf *r, const char *h,
					       size_t hlen)
{
	const struct escaper_conf *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < r->n_suffixes; i++) {
		const char *k = r->suffixes[i].key;
		size_t kl = strlen(k);
		if (kl <= hlen && kl > best_len && memcmp(h + hlen - kl, k, kl) == 0) {
			best = r->suffixes[i].next;
			best_len = kl;
		}
	}
	return best;
}

static const struct escaper_conf *match_regex(const struct route_conf *r, char *h, size_t hlen)
{
	for (size_t i = 0; i < r->n_regexes; i++) {
		const struct route_regex_rule *x = &r->regexes[i];
		size_t cut = hlen;
		char saved;
		int rc;

		if (x->re == NULL)
			continue;
		if (x->parent != NULL) {
			size_t pl = strlen(x->parent);
			/* "sub.parent": at least one character, then '.', then parent */
			if (hlen < pl + 2 || h[hlen - pl - 1] != '.' ||
			    memcmp(h + hlen - pl, x->parent, pl) != 0)
				continue;
			cut = hlen - pl - 1;
		}
		saved = h[cut];
		h[cut] = '\0';
		rc = regexec(x->re, h, 0, NULL, 0);
		h[cut] = saved;
		if (rc == 0)
			return x->next;
	}
	return NULL;
}

const struct escaper_conf *route_match_upstream(const struct route_conf *r, const char *host,
						const struct sockaddr *ip)
{
	const struct route_host_rule *x;
	const struct escaper_conf *e;
	char h[256];
	size_t n;

	if (ip != NULL)
		return route_match_ip(r, ip);
	n = strlen(host);
	if (n == 0 || n >= sizeof(h))
		return NULL;
	for (size_t i = 0; i < n; i++)
		h[i] = (char)tolower((unsigned char)host[i]);
	/* a fully qualified "name." is the same name */
	if (n > 1 && h[n - 1] == '.')
		n--;
	h[n] = '\0';
	x = find_host(r->exact_hosts, r->n_exact_hosts, h);
	if (x != NULL)
		return x->next;
	e = match_child(r, h);
	if (e == NULL)
		e = match_suffix(r, h, n);
	if (e == NULL)
		e = match_regex(r, h, n);
	return e;
}
