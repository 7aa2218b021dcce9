/* Resolve policy of a task's target (g3proxy §1.3.2, §1.5.4): how the
 * user's (or the user site's) resolve_strategy narrows the escaper's, and
 * the resolve_redirection rules of an escaper or a user. Pure functions,
 * no allocation; everything is borrowed. */
#ifndef G3C_PROXYD_DP_RESOLVE_POLICY_H
#define G3C_PROXYD_DP_RESOLVE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "proxyd/config.h"

/* The strategy a task uses: the escaper's (esc, with its no_ipv4 /
 * no_ipv6 folded in by the caller) adjusted to the user's (user; NULL or
 * not set = none), as g3: an escaper fixed to one family (Ipv4Only /
 * Ipv6Only) keeps it, otherwise the user's query wins; the user's pick
 * wins when the user sets a strategy. The result is always `set`. */
struct resolve_strategy resolve_strategy_adjust(const struct resolve_strategy *esc,
						const struct resolve_strategy *user);

enum resolve_redirect_kind {
	RESOLVE_REDIRECT_NONE = 0, /* no rule matched */
	RESOLVE_REDIRECT_HOST,	   /* resolve out (NUL-terminated) instead */
	RESOLVE_REDIRECT_IPS,	   /* use *ips instead of resolving */
};

/* Look host (len bytes, ASCII case-insensitive, a trailing dot ignored) up
 * in rr: an exact rule for host first, else the parent rule with the
 * longest domain that equals host or is a parent of it (its suffix is
 * replaced: parent a.example → b.example maps x.a.example to
 * x.b.example). HOST writes the new name to out (cap bytes; a result that
 * does not fit, or an empty one, counts as NONE); IPS points *ips at the
 * rule's list (borrowed from rr). rr NULL or empty: NONE. */
enum resolve_redirect_kind resolve_redirect_lookup(const struct resolve_redirection *rr,
						   const char *host, size_t len, char *out,
						   size_t cap, const struct ip_list **ips);

#endif
