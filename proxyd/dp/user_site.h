/* A user's explicit_sites (g3proxy §1.5.6): which site a task's target
 * belongs to. Pure, no allocation; everything is borrowed. */
#ifndef G3C_PROXYD_DP_USER_SITE_H
#define G3C_PROXYD_DP_USER_SITE_H

#include <stddef.h>
#include <sys/socket.h>

#include "proxyd/config.h"

/* The site of uc for a target: a domain (host, len; ASCII
 * case-insensitive, a trailing dot ignored) or, when ip is not NULL, an IP
 * literal. Domains try every site's exact_match first, then the
 * child_match with the longest domain (a domain matches itself and its
 * subdomains); IPs try exact_match (the literal as written) then the
 * subnet_match with the longest prefix. NULL when no site matches. */
const struct user_site_conf *user_site_match(const struct user_conf *uc, const char *host,
					     size_t len, const struct sockaddr *ip);

#endif
