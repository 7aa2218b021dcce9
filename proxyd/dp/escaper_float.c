/* Float escapers on the data path (see escaper.h): direct_float's bind IP
 * for a connect attempt, the string id of egress path selection (g3proxy
 * §1.3.3) that direct_float and proxy_float honour, and trick_float's
 * weighted random pick. direct_float otherwise runs direct_fixed's code
 * (escaper.c): resolver, happy eyeballs, egress filter, tcp_connect. */
#include "proxyd/dp/escaper.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "proxyd/dp/conn.h"
#include "proxyd/dp/conn_user.h"
#include "proxyd/dp/pick.h"
#include "proxyd/float_bind.h"

const char *escape_float_path_id(const struct conn *c, const struct escaper_conf *e)
{
	/* a route_failover standby runs on a shadow conn: its client's user */
	const struct conn *cc = c->esc.fo_parent != NULL ? c->esc.fo_parent : c;
	const struct user_conf *uc = cc->user != NULL ? cc->user->uc : NULL;

	if (uc != NULL)
		for (size_t i = 0; i < uc->n_egress_path_id; i++)
			if (strcmp(uc->egress_path_id_map[i].escaper, e->name) == 0)
				return uc->egress_path_id_map[i].value;
	return c->path_sid[0] != '\0' ? c->path_sid : NULL;
}

int escape_float_bind(struct conn *c, int family, union dp_addr *out)
{
	struct sockaddr_storage ss;
	int rc;

	rc = float_bind_pick(c->esc.fset, family, escape_float_path_id(c, c->esc.esc),
			     (int64_t)time(NULL), dp_rand(c->wk), &ss);
	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	dp_addr_set(out, (const struct sockaddr *)&ss);
	return 0;
}

size_t escape_trick_pick(const struct escaper_conf *e, uint64_t rnd)
{
	const struct route_conf *r = &e->route;

	if (r->pick == NULL)
		return (size_t)(rnd % r->n_next);
	return pick_select(r->pick, rnd);
}
