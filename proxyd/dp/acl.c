/* ACL checks (see acl.h). */
#include "proxyd/dp/acl.h"

#include <regex.h>
#include <string.h>
#include <strings.h>

#include "common/sock.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Prefix length in the address's own family, so that ::ffff:10.0.0.0/104
 * and 10.0.0.0/8 rank the same for an IPv4 client. */
static unsigned effective_prefix(const struct conf_net *n)
{
	if (n->family == AF_INET6 && n->prefix >= 96 && memcmp(n->addr, v4mapped, 12) == 0)
		return n->prefix - 96u;
	return n->prefix;
}

/* Longest-prefix lookup: true and *out set when a record matches. */
static bool net_lookup(const struct acl_net_rule *r, const struct sockaddr *sa,
		       enum acl_action *out)
{
	enum acl_action best = ACL_UNSET;
	int best_len = -1;

	for (size_t i = 0; i < r->n; i++) {
		const struct acl_net_rec *rec = &r->v[i];
		int len = (int)effective_prefix(&rec->net);

		if (len <= best_len)
			continue;
		if (sock_addr_in_net(sa, rec->net.family, rec->net.addr, rec->net.prefix)) {
			best = rec->action;
			best_len = len;
		}
	}
	if (best_len < 0)
		return false;
	*out = best;
	return true;
}

enum acl_action acl_net_check(const struct acl_net_rule *r, const struct sockaddr *sa)
{
	enum acl_action a;

	if (!r->set)
		return ACL_PERMIT;
	return net_lookup(r, sa, &a) ? a : r->missed;
}

enum acl_action acl_port_check(const struct acl_port_rule *r, uint16_t port)
{
	if (!r->set)
		return ACL_PERMIT;
	for (size_t i = 0; i < r->n; i++)
		if (port >= r->v[i].lo && port <= r->v[i].hi)
			return r->v[i].action;
	return r->missed;
}

static bool host_eq(const char *a, const char *b, size_t blen)
{
	return strlen(a) == blen && strncasecmp(a, b, blen) == 0;
}

/* host equals child or is a subdomain of it ("a.example.net" under
 * "example.net"). */
static bool host_under(const char *child, const char *host, size_t hlen)
{
	size_t clen = strlen(child);

	if (clen > 2 && child[0] == '*' && child[1] == '.') {
		child += 2;
		clen -= 2;
	} else if (clen > 1 && child[0] == '.') {
		child++;
		clen--;
	}
	if (hlen == clen)
		return strncasecmp(child, host, hlen) == 0;
	if (hlen > clen && host[hlen - clen - 1] == '.')
		return strncasecmp(child, host + (hlen - clen), clen) == 0;
	return false;
}

static bool addr_ip_eq(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	struct sockaddr_storage x, y;

	/* compare IPs only: copy both with port 0 */
	memcpy(&x, a, sizeof(x));
	memset(&y, 0, sizeof(y));
	memcpy(&y, b, sock_addr_len(b));
	sock_addr_set_port((struct sockaddr *)&x, 0);
	sock_addr_set_port((struct sockaddr *)&y, 0);
	return sock_addr_equal((struct sockaddr *)&x, (struct sockaddr *)&y);
}

static enum acl_action stricter(enum acl_action a, enum acl_action b)
{
	return a > b ? a : b;
}

enum acl_action acl_host_check(const struct acl_host_set *s, const char *host, size_t hlen,
			       const struct sockaddr *ip)
{
	enum acl_action missed = ACL_UNSET;
	char name[256];

	if (!s->set)
		return ACL_PERMIT;
	if (ip != NULL) {
		for (size_t i = 0; s->exact.set && i < s->exact.n; i++)
			if (s->exact.v[i].is_ip && addr_ip_eq(&s->exact.v[i].addr, ip))
				return s->exact.v[i].action;
		enum acl_action a;
		if (s->subnet.set && net_lookup(&s->subnet, ip, &a))
			return a;
	} else {
		if (hlen > 0 && host[hlen - 1] == '.')
			hlen--;
		for (size_t i = 0; s->exact.set && i < s->exact.n; i++)
			if (!s->exact.v[i].is_ip && host_eq(s->exact.v[i].s, host, hlen))
				return s->exact.v[i].action;
		for (size_t i = 0; s->child.set && i < s->child.n; i++)
			if (host_under(s->child.v[i].s, host, hlen))
				return s->child.v[i].action;
		if (s->regex.set && s->regex.n > 0 && hlen < sizeof(name)) {
			for (size_t i = 0; i < hlen; i++)
				name[i] = (char)((host[i] >= 'A' && host[i] <= 'Z') ? host[i] + 32
										    : host[i]);
			name[hlen] = '\0';
			for (size_t i = 0; i < s->regex.n; i++)
				if (s->regex.v[i].re &&
				    regexec(s->regex.v[i].re, name, 0, NULL, 0) == 0)
					return s->regex.v[i].action;
		}
	}
	if (s->exact.set)
		missed = stricter(missed, s->exact.missed);
	if (s->child.set)
		missed = stricter(missed, s->child.missed);
	if (s->regex.set)
		missed = stricter(missed, s->regex.missed);
	if (s->subnet.set)
		missed = stricter(missed, s->subnet.missed);
	return missed == ACL_UNSET ? ACL_PERMIT : missed;
}
