/* Username params: parse "base+k=v+...", build the next hop (uparams.h). */
#include "proxyd/dp/uparams.h"

#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd/dp/pick.h"

enum parse_res uparams_parse(struct slice name, bool reject_dup, struct uparams *out,
			     const char **why)
{
	struct slice rest, tok;
	bool more;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	more = slice_split(name, '+', &out->base, &rest);
	if (out->base.len == 0) {
		*why = "empty user name before the params";
		return PARSE_INVALID;
	}
	if (!more)
		return PARSE_OK;
	out->params = rest;
	for (;;) {
		struct slice k, v, after;
		bool last = !slice_split(rest, '+', &tok, &after);
		unsigned slot = out->n;

		if (last)
			tok = rest;
		if (!slice_split(tok, '=', &k, &v)) {
			*why = "username param without '='";
			return PARSE_INVALID;
		}
		if (k.len == 0 || v.len == 0) {
			*why = "empty key or value in the username params";
			return PARSE_INVALID;
		}
		for (unsigned i = 0; i < out->n; i++) {
			if (!slice_eq(out->kv[i].key, k))
				continue;
			if (reject_dup) {
				*why = "duplicate key in the username params";
				return PARSE_INVALID;
			}
			slot = i;
		}
		if (slot == out->n) {
			if (out->n == UPARAMS_MAX_KV) {
				*why = "too many username params";
				return PARSE_TOO_BIG;
			}
			out->n++;
		}
		out->kv[slot].key = k;
		out->kv[slot].value = v;
		if (last)
			break;
		rest = after;
	}
	return PARSE_OK;
}

struct slice uparams_get(const struct uparams *p, const char *key)
{
	for (unsigned i = 0; i < p->n; i++)
		if (slice_eq_cstr(p->kv[i].key, key))
			return p->kv[i].value;
	return slice_make(NULL, 0);
}

static bool str_in(const struct str_list *l, struct slice k)
{
	for (size_t i = 0; i < l->n; i++)
		if (slice_eq_cstr(k, l->v[i]))
			return true;
	return false;
}

/* Bytes a host name (or an IPv4 literal) may hold; ':' is left out so a
 * value cannot smuggle a port. */
static bool host_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_';
}

static int append(char *dst, size_t cap, size_t *len, const void *p, size_t n)
{
	if (*len + n >= cap)
		return -ENAMETOOLONG;
	memcpy(dst + *len, p, n);
	*len += n;
	dst[*len] = '\0';
	return 0;
}

static bool ends_with_localhost(const char *h, size_t n)
{
	static const char sfx[] = ".localhost";
	struct slice s = slice_make(h, n);

	if (slice_case_eq_cstr(s, "localhost"))
		return true;
	return n > sizeof(sfx) - 1 &&
	       slice_case_eq_cstr(slice_make(h + n - (sizeof(sfx) - 1), sizeof(sfx) - 1), sfx);
}

int uparams_next_hop(const struct username_params_conf *cfg, const struct uparams *p, bool socks,
		     struct uparams_hop *out, const char **why)
{
	const char *sep = cfg->separator != NULL ? cfg->separator : "-";
	const char *sticky = cfg->resolve_sticky_key;
	bool missing = false;
	size_t len = 0, parts = 0;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	for (unsigned i = 0; i < p->n; i++) {
		const struct slice k = p->kv[i].key;
		if (str_in(&cfg->keys_for_host, k) || (sticky != NULL && slice_eq_cstr(k, sticky)))
			continue;
		if (cfg->reject_unknown_keys) {
			*why = "unknown key in the username params";
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < cfg->keys_for_host.n; i++) {
		const char *k = cfg->keys_for_host.v[i];
		struct slice v = uparams_get(p, k);
		bool floating = str_in(&cfg->floating_keys, slice_from_cstr(k));

		if (v.p == NULL) {
			missing |= !floating;
			continue;
		}
		if (cfg->require_hierarchy && missing && !floating) {
			*why = "username param given without the keys before it";
			return -EINVAL;
		}
		for (size_t j = 0; j < v.len; j++) {
			if (!host_byte(v.p[j])) {
				*why = "username param value is not a host label";
				return -EINVAL;
			}
		}
		if ((parts++ > 0 &&
		     append(out->host, sizeof(out->host), &len, sep, strlen(sep)) < 0) ||
		    append(out->host, sizeof(out->host), &len, v.p, v.len) < 0) {
			*why = "next hop from the username params is too long";
			return -EINVAL;
		}
	}
	if (sticky != NULL) {
		struct slice v = uparams_get(p, sticky);
		if (v.p != NULL) {
			uint64_t h = pick_hash_bytes(pick_hash_init(), v.p, v.len);
			out->sticky = true;
			out->sticky_key = pick_hash_final(h);
		}
	}
	if (parts == 0)
		return 0;
	if (cfg->domain_suffix != NULL && cfg->domain_suffix[0] != '\0') {
		const char *sfx = cfg->domain_suffix;
		if ((sfx[0] != '.' && append(out->host, sizeof(out->host), &len, ".", 1) < 0) ||
		    append(out->host, sizeof(out->host), &len, sfx, strlen(sfx)) < 0) {
			*why = "next hop from the username params is too long";
			return -EINVAL;
		}
	}
	if (len > 253) {
		*why = "next hop from the username params is too long";
		return -EINVAL;
	}
	/* RFC 6761 §6.3: *.localhost is loopback, without asking a resolver */
	if (ends_with_localhost(out->host, len))
		memcpy(out->host, "127.0.0.1", sizeof("127.0.0.1"));
	out->port = socks ? cfg->socks5_port : cfg->http_port;
	out->set = true;
	return 0;
}

bool uparams_hop_ip(const struct uparams_hop *h, union dp_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, h->host, &out->in.sin_addr) == 1) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = htons(h->port);
		return true;
	}
	if (inet_pton(AF_INET6, h->host, &out->in6.sin6_addr) == 1) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(h->port);
		return true;
	}
	memset(out, 0, sizeof(*out));
	return false;
}

static int addr_cmp(const void *a, const void *b)
{
	const union dp_addr *x = a, *y = b;

	if (x->sa.sa_family != y->sa.sa_family)
		return x->sa.sa_family < y->sa.sa_family ? -1 : 1;
	if (x->sa.sa_family == AF_INET) {
		int r = memcmp(&x->in.sin_addr, &y->in.sin_addr, sizeof(x->in.sin_addr));
		return r != 0 ? r : (int)ntohs(x->in.sin_port) - (int)ntohs(y->in.sin_port);
	}
	if (x->sa.sa_family == AF_INET6) {
		int r = memcmp(&x->in6.sin6_addr, &y->in6.sin6_addr, sizeof(x->in6.sin6_addr));
		return r != 0 ? r : (int)ntohs(x->in6.sin6_port) - (int)ntohs(y->in6.sin6_port);
	}
	return 0;
}

void uparams_sticky_order(union dp_addr *v, unsigned n, uint64_t key)
{
	size_t j;
	union dp_addr t;

	if (n < 2)
		return;
	qsort(v, n, sizeof(*v), addr_cmp);
	j = pick_jump_hash(key, n);
	t = v[j];
	memmove(v + 1, v, j * sizeof(*v));
	v[0] = t;
}
