/* Pure matchers of the route_* escapers (no connection, no I/O): what
 * route_upstream, route_client and route_resolved decide for a target host
 * or an address. The rules come from struct route_conf (config.h), which
 * the config loader sorted and de-duplicated. Every function returns a
 * borrowed escaper from the config, or NULL when no rule matched (the
 * caller then uses default_next). */
#ifndef G3C_PROXYD_DP_ROUTE_MATCH_H
#define G3C_PROXYD_DP_ROUTE_MATCH_H

#include <stddef.h>
#include <sys/socket.h>

#include "proxyd/config.h"

/* route_upstream for a target host (a domain, case-insensitive, or an IP
 * literal given as ip): IP → exact_match IPs, then the longest subnet;
 * domain → exact_match hosts, then child_match (the most specific parent,
 * the domain itself included), then suffix_match (the longest string
 * suffix), then the first regex_match rule in order (with `parent`: the
 * host must end in ".parent" and the regex sees only the part before). */
const struct escaper_conf *route_match_upstream(const struct route_conf *r, const char *host,
						const struct sockaddr *ip);

/* Exact IPs, then the longest subnet containing sa (IPv4-mapped IPv6
 * addresses count as IPv4): route_client, route_resolved. */
const struct escaper_conf *route_match_ip(const struct route_conf *r, const struct sockaddr *sa);

#endif
