/* direct_fixed's target with the user's resolve policy (g3proxy §1.3.2,
 * §1.5.4): the user's then the escaper's resolve_redirection, the user's
 * (or the user site's) resolve_strategy. See escaper.h. */
#include "proxyd/dp/escaper.h"

#include <string.h>

#include "proxyd/dp/conn.h"
#include "proxyd/dp/conn_user.h"
#include "proxyd/dp/resolve_policy.h"

/* One redirection level: host → op->redir (HOST) or *ips (IPS). */
static enum resolve_redirect_kind redirect(struct escape_op *op,
					   const struct resolve_redirection *rr, const char *host,
					   const struct ip_list **ips)
{
	char tmp[sizeof(op->redir)];
	enum resolve_redirect_kind k =
		resolve_redirect_lookup(rr, host, strlen(host), tmp, sizeof(tmp), ips);

	if (k == RESOLVE_REDIRECT_HOST)
		memcpy(op->redir, tmp, strlen(tmp) + 1);
	return k;
}

void escape_direct(struct conn *c)
{
	struct escape_op *op = &c->esc;
	/* a route_failover standby runs on a shadow conn: its client's user */
	const struct conn *uc = op->fo_parent != NULL ? op->fo_parent : c;
	const struct ip_list *ips = NULL;
	const char *host = c->host;
	enum resolve_redirect_kind k;

	op->user_rs = conn_user_resolve_strategy(uc);
	if (c->host_is_ip) {
		escape_connect(c, c->host, c->port, true, &c->host_addr);
		return;
	}
	k = redirect(op, conn_user_resolve_redirection(uc), host, &ips);
	if (k == RESOLVE_REDIRECT_HOST)
		host = op->redir;
	if (k != RESOLVE_REDIRECT_IPS) {
		k = redirect(op, &op->esc->resolve_redirection, host, &ips);
		if (k == RESOLVE_REDIRECT_HOST)
			host = op->redir;
	}
	if (k == RESOLVE_REDIRECT_IPS) {
		escape_connect_ips(c, ips, c->port);
		return;
	}
	escape_connect(c, host, c->port, false, NULL);
}
