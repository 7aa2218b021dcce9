/* Username params (g3proxy 1.13 `username_params`, spec §1.5.5; g3 issue
 * #247, PR #915): a client user name "base+k1=v1+k2=v2" authenticates as
 * "base" (strip_suffix_for_auth) and its params choose the next hop of the
 * proxy_* escapers the task reaches:
 *
 *   host = values of keys_for_host present, in config order, joined with
 *          separator (`-`), plus domain_suffix ("*.localhost" → 127.0.0.1)
 *   port = http_port (http_proxy clients) or socks5_port (socks_proxy)
 *   resolve_sticky_key: that param's value hashes (jump hash) to one of the
 *          host's resolved addresses, so one session keeps one exit.
 *
 * Unknown keys (neither in keys_for_host nor the sticky key) are refused
 * while reject_unknown_keys; with require_hierarchy a key may appear only
 * when every earlier non-floating key of keys_for_host is present. No
 * host key at all ⇒ no override: the escaper's own proxy_addr is used.
 *
 * Pure functions: no allocation, no sockets; slices borrow the name. */
#ifndef G3C_PROXYD_DP_UPARAMS_H
#define G3C_PROXYD_DP_UPARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"
#include "common/util.h"
#include "proxyd/config.h"
#include "proxyd/dp/dp.h"

/* Most params one name may carry. */
#define UPARAMS_MAX_KV 16

struct uparams_kv {
	struct slice key, value;
};

struct uparams {
	struct slice base;   /* the part before the first '+' */
	struct slice params; /* the part after it ("" when none) */
	struct uparams_kv kv[UPARAMS_MAX_KV];
	unsigned n;
};

/* Split name as "base[+key=value]*" (no escaping; a value may hold '=').
 * Borrows name; fills *out. PARSE_OK; PARSE_INVALID (empty base, a token
 * without '=', an empty key or value, a duplicate key when reject_dup —
 * otherwise the last value wins) or PARSE_TOO_BIG (more than
 * UPARAMS_MAX_KV pairs), with *why a static reason. */
enum parse_res uparams_parse(struct slice name, bool reject_dup, struct uparams *out,
			     const char **why) MUST_CHECK;

/* The value of key in p (NULL slice .p when absent). */
struct slice uparams_get(const struct uparams *p, const char *key);

/* The next hop chosen by a name's params. */
struct uparams_hop {
	bool set;	     /* false: no host key, the escaper's proxy_addr is used */
	char host[256];	     /* domain or IP literal, NUL-terminated */
	uint16_t port;	     /* http_port or socks5_port */
	bool sticky;	     /* resolve_sticky_key present */
	uint64_t sticky_key; /* hash of its value */
};

/* Apply cfg to parsed params for an http (socks = false) or socks client.
 * Returns 0 (*out filled; out->set false when no host key is present) or
 * -EINVAL with *why (unknown key, hierarchy broken, a value with a byte no
 * host name has, the host too long). */
int uparams_next_hop(const struct username_params_conf *cfg, const struct uparams *p, bool socks,
		     struct uparams_hop *out, const char **why) MUST_CHECK;

/* Whether the hop's host is an IP literal: true with *out = host:port. */
bool uparams_hop_ip(const struct uparams_hop *h, union dp_addr *out);

/* Sticky order of resolved addresses: sort v[0..n) (family, address,
 * port) so the order does not depend on the resolver's, then move the one
 * key jump-hashes to to the front (the rest stay as fallbacks). */
void uparams_sticky_order(union dp_addr *v, unsigned n, uint64_t key);

/* ---- on the connection (conn_uparams.c) ---------------------------- */

struct conn;
struct auth_cred;

/* The params of the client's user name, kept for its tasks: conn->uparams
 * (owned by the connection, NULL when the name had none or the server
 * has no username_params). A route_failover standby attempt reads its
 * parent's (conn_uparams_of). */
struct conn_uparams {
	char params[256];	/* "k1=v1+k2=v2" as sent (after the first '+'):
				 * for escapers that select by params */
	struct uparams_hop hop; /* the next hop of the proxy_* escapers */
};

/* Before logging in on c with cred (NULL = none): when the server has
 * username_params, split the name, keep the params on c (replacing the
 * previous ones) and point *use at the credentials to log in with (the
 * base name when strip_suffix_for_auth; scratch is their storage);
 * otherwise *use = cred. 0, or -EINVAL with *why when the params are
 * refused (HTTP 400 / SOCKS5 authentication failure). */
int conn_uparams_login(struct conn *c, const struct auth_cred *cred, struct auth_cred *scratch,
		       const struct auth_cred **use, const char **why) MUST_CHECK;

/* The params a task of c runs with (the parent's for a standby attempt);
 * NULL when none. */
const struct conn_uparams *conn_uparams_of(const struct conn *c);

/* The authenticated user's name for pass_proxy_userid ("" when none). */
const char *conn_uparams_userid(const struct conn *c);

/* True when c's params chose a next hop (the proxy_* escapers use it
 * instead of proxy_addr; such upstream connections are never pooled). */
bool conn_uparams_hop_set(const struct conn *c);

/* Free c->uparams (NULL accepted). */
void conn_uparams_free(struct conn *c);

#endif
