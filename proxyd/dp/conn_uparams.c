/* Username params on a connection: split at login, kept for the tasks
 * (uparams.h). */
#include "proxyd/dp/uparams.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd/dp/auth.h"
#include "proxyd/dp/conn.h"
#include "proxyd/dp/conn_user.h"

void conn_uparams_free(struct conn *c)
{
	free(c->uparams);
	c->uparams = NULL;
}

int conn_uparams_login(struct conn *c, const struct auth_cred *cred, struct auth_cred *scratch,
		       const struct auth_cred **use, const char **why)
{
	const struct username_params_conf *cfg = &c->srv->username_params;
	struct uparams p;
	struct uparams_hop hop;

	*use = cred;
	*why = NULL;
	if (!cfg->set)
		return 0;
	conn_uparams_free(c);
	if (cred == NULL)
		return 0;
	if (uparams_parse(slice_make(cred->user, cred->user_len), cfg->reject_duplicate_keys, &p,
			  why) != PARSE_OK)
		return -EINVAL;
	if (uparams_next_hop(cfg, &p, c->srv->type == SERVER_SOCKS_PROXY, &hop, why) < 0)
		return -EINVAL;
	if (p.n > 0) {
		c->uparams = calloc(1, sizeof(*c->uparams));
		if (c->uparams == NULL) {
			*why = "out of memory for the username params";
			return -EINVAL;
		}
		/* p.params is at most AUTH_USER_MAX - 2 bytes long */
		memcpy(c->uparams->params, p.params.p, p.params.len);
		c->uparams->hop = hop;
	}
	if (cfg->strip_suffix_for_auth && p.base.len != cred->user_len) {
		memcpy(scratch->user, p.base.p, p.base.len);
		scratch->user[p.base.len] = '\0';
		scratch->user_len = p.base.len;
		memcpy(scratch->pass, cred->pass, cred->pass_len + 1);
		scratch->pass_len = cred->pass_len;
		*use = scratch;
	}
	return 0;
}

const struct conn_uparams *conn_uparams_of(const struct conn *c)
{
	if (c->esc.fo_parent != NULL)
		c = c->esc.fo_parent;
	return c->uparams;
}

bool conn_uparams_hop_set(const struct conn *c)
{
	const struct conn_uparams *u = conn_uparams_of(c);

	return u != NULL && u->hop.set;
}

const char *conn_uparams_userid(const struct conn *c)
{
	if (c->esc.fo_parent != NULL)
		c = c->esc.fo_parent;
	return c->user != NULL ? c->user->name : "";
}
