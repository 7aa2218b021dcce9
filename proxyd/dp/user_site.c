/* User site matching (see user_site.h). */
#include "proxyd/dp/user_site.h"

#include <netinet/in.h>
#include <string.h>
#include <strings.h>

static bool str_is(const char *s, const char *host, size_t len)
{
	return strlen(s) == len && strncasecmp(s, host, len) == 0;
}

/* The length of dom when host equals it or is a subdomain of it ("*." or
 * "." in front of dom is ignored), else 0. */
static size_t child_len(const char *dom, const char *host, size_t len)
{
	size_t dlen;

	if (dom[0] == '*' && dom[1] == '.')
		dom += 2;
	else if (dom[0] == '.')
		dom++;
	dlen = strlen(dom);
	if (dlen == 0)
		return 0;
	if (len == dlen)
		return strncasecmp(dom, host, len) == 0 ? dlen : 0;
	if (len > dlen && host[len - dlen - 1] == '.' &&
	    strncasecmp(dom, host + (len - dlen), dlen) == 0)
		return dlen;
	return 0;
}

/* The address bytes of ip (IPv4-mapped IPv6 as IPv4). */
static int ip_bytes(const struct sockaddr *ip, const uint8_t **p)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (ip->sa_family == AF_INET) {
		*p = (const uint8_t *)&((const struct sockaddr_in *)(const void *)ip)->sin_addr;
		return AF_INET;
	}
	if (ip->sa_family != AF_INET6)
		return 0;
	*p = ((const struct sockaddr_in6 *)(const void *)ip)->sin6_addr.s6_addr;
	if (memcmp(*p, mapped, sizeof(mapped)) == 0) {
		*p += 12;
		return AF_INET;
	}
	return AF_INET6;
}

static bool net_has(const struct conf_net *n, int family, const uint8_t *a)
{
	unsigned full = n->prefix / 8u, rest = n->prefix % 8u;

	if (n->family != family)
		return false;
	if (memcmp(n->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((n->addr[full] ^ a[full]) & (uint8_t)(0xffu << (8u - rest))) == 0;
}

static const struct user_site_conf *match_ip(const struct user_conf *uc, const char *host,
					     size_t len, const struct sockaddr *ip)
{
	const struct user_site_conf *best = NULL;
	const uint8_t *a = NULL;
	int family = ip_bytes(ip, &a), best_prefix = -1;

	for (size_t i = 0; i < uc->n_sites; i++)
		for (size_t j = 0; j < uc->explicit_sites[i].exact_match.n; j++)
			if (str_is(uc->explicit_sites[i].exact_match.v[j], host, len))
				return &uc->explicit_sites[i];
	if (family == 0)
		return NULL;
	for (size_t i = 0; i < uc->n_sites; i++) {
		const struct ip_list *l = &uc->explicit_sites[i].subnet_match;
		for (size_t j = 0; j < l->n; j++)
			if ((int)l->v[j].prefix > best_prefix && net_has(&l->v[j], family, a)) {
				best = &uc->explicit_sites[i];
				best_prefix = l->v[j].prefix;
			}
	}
	return best;
}

const struct user_site_conf *user_site_match(const struct user_conf *uc, const char *host,
					     size_t len, const struct sockaddr *ip)
{
	const struct user_site_conf *best = NULL;
	size_t best_len = 0;

	if (uc == NULL || uc->n_sites == 0 || len == 0)
		return NULL;
	if (host[len - 1] == '.')
		len--;
	if (ip != NULL)
		return match_ip(uc, host, len, ip);
	for (size_t i = 0; i < uc->n_sites; i++)
		for (size_t j = 0; j < uc->explicit_sites[i].exact_match.n; j++)
			if (str_is(uc->explicit_sites[i].exact_match.v[j], host, len))
				return &uc->explicit_sites[i];
	for (size_t i = 0; i < uc->n_sites; i++) {
		const struct str_list *l = &uc->explicit_sites[i].child_match;
		for (size_t j = 0; j < l->n; j++) {
			size_t n = child_len(l->v[j], host, len);
			if (n > best_len) {
				best = &uc->explicit_sites[i];
				best_len = n;
			}
		}
	}
	return best;
}
