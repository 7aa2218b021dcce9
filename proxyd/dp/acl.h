/* ACL checks over the rules proxyd/config.h holds (pure functions, no
 * allocation). Network rules match the longest prefix; host sets try exact,
 * child, regex, then subnet records; the action of the first hit wins, an
 * unmatched value gets the rule's `missed` action (for a host set, the
 * strictest missed action of the rules present). An unset rule permits. */
#ifndef G3C_PROXYD_DP_ACL_H
#define G3C_PROXYD_DP_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "proxyd/config.h"

/* True for ACL_FORBID and ACL_FORBID_LOG. */
static inline bool acl_forbids(enum acl_action a)
{
	return a == ACL_FORBID || a == ACL_FORBID_LOG;
}

/* Action for an AF_INET / AF_INET6 address (IPv4-mapped IPv6 counts as
 * IPv4). Borrows both. */
enum acl_action acl_net_check(const struct acl_net_rule *r, const struct sockaddr *sa);

/* Action for a port. */
enum acl_action acl_port_check(const struct acl_port_rule *r, uint16_t port);

/* Action for a target host: a domain (host, hlen; compared ASCII
 * case-insensitively, a trailing dot ignored), or an IP literal when ip is
 * not NULL (then only exact IP records and subnet rules apply). Borrows
 * everything. */
enum acl_action acl_host_check(const struct acl_host_set *s, const char *host, size_t hlen,
			       const struct sockaddr *ip);

#endif
