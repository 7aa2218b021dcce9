/* Parsing of log / metric destinations (see sink_conf.h). */
#include "common/sink_conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "common/conf.h"

static int parse_ip(struct conf_ctx *ctx, const struct conf_node *n, struct sink_target *out)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&out->bind;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->bind;
	const char *s;

	if (conf_get_str(ctx, n, &s))
		return -EINVAL;
	memset(&out->bind, 0, sizeof(out->bind));
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		out->bindlen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		out->bindlen = sizeof(*s6);
	} else {
		return conf_error(ctx, n, "invalid IP address '%.64s'", s);
	}
	return 0;
}

static int parse_addr(struct conf_ctx *ctx, const struct conf_node *n, uint16_t default_port,
		      struct sink_target *out)
{
	struct conf_hostport hp;

	if (conf_get_hostport(ctx, n, default_port, &hp))
		return -EINVAL;
	if (!hp.is_ip)
		return conf_error(ctx, n,
				  "'%.64s' is not an IP address (host names are not resolved here)",
				  hp.host);
	if (hp.port == 0)
		return conf_error(ctx, n, "port 0 is not a valid target");
	memcpy(&out->addr, &hp.addr, hp.addrlen);
	out->addrlen = hp.addrlen;
	return 0;
}

int sink_conf_udp(struct conf_ctx *ctx, const struct conf_node *n, uint16_t default_port,
		  struct sink_target *out)
{
	const struct conf_node *addr = NULL, *bind = NULL;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (n && n->kind == CONF_SCALAR && !conf_is_null(n))
		return parse_addr(ctx, n, default_port, out);
	if (!n || n->kind != CONF_MAP)
		return conf_error(ctx, n, "expected an address string or a map with 'address'");
	for (const struct conf_node *k = n->child; k; k = k->next) {
		size_t saved = conf_path_push_key(ctx, k->str);
		if (conf_key_is(k, "address") || conf_key_is(k, "addr")) {
			if (addr)
				ret = conf_error(ctx, k, "address given twice");
			else if (parse_addr(ctx, k->value, default_port, out))
				ret = -EINVAL;
			addr = k;
		} else if (conf_key_is(k, "bind_ip") || conf_key_is(k, "bind")) {
			if (bind)
				ret = conf_error(ctx, k, "bind_ip given twice");
			else if (parse_ip(ctx, k->value, out))
				ret = -EINVAL;
			bind = k;
		} else {
			ret = conf_error(ctx, k, "unknown key '%.64s'", k->str);
		}
		conf_path_pop(ctx, saved);
	}
	if (ret)
		return ret;
	if (!addr)
		return conf_error(ctx, n, "missing required key 'address'");
	if (bind && out->bind.ss_family != out->addr.ss_family)
		return conf_error(ctx, bind->value,
				  "bind_ip and address are of different IP families");
	return 0;
}

int sink_conf_unix(struct conf_ctx *ctx, const struct conf_node *n, struct sink_target *out)
{
	const struct conf_node *pn = n;
	struct sockaddr_un *su = (struct sockaddr_un *)&out->addr;
	const char *path;
	size_t len = 0, saved = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if (n && n->kind == CONF_MAP) {
		for (const struct conf_node *k = n->child; k; k = k->next)
			if (!conf_key_is(k, "path")) {
				saved = conf_path_push_key(ctx, k->str);
				conf_error(ctx, k, "unknown key '%.64s'", k->str);
				conf_path_pop(ctx, saved);
				return -EINVAL;
			}
		pn = conf_map_get(n, "path");
		if (!pn)
			return conf_error(ctx, n, "missing required key 'path'");
		saved = conf_path_push_key(ctx, "path");
	}
	ret = conf_get_str(ctx, pn, &path);
	if (!ret && !*path)
		ret = conf_error(ctx, pn, "empty socket path");
	if (!ret) {
		path = conf_resolve_path(ctx, path);
		len = strlen(path);
		if (len >= sizeof(su->sun_path))
			ret = conf_error(ctx, pn, "socket path is %zu bytes long, the limit is %zu",
					 len, sizeof(su->sun_path) - 1);
	}
	if (n && n->kind == CONF_MAP)
		conf_path_pop(ctx, saved);
	if (ret)
		return -EINVAL;
	out->is_unix = true;
	su->sun_family = AF_UNIX;
	memcpy(su->sun_path, path, len + 1);
	memcpy(out->path, path, len + 1);
	out->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return 0;
}

int sink_conf_target(struct conf_ctx *ctx, const struct conf_node *n, uint16_t default_port,
		     struct sink_target *out)
{
	const struct conf_node *k;
	size_t saved;
	int ret;

	if (!n || n->kind != CONF_MAP || !n->child)
		return conf_error(ctx, n, "expected a map with one key, 'udp' or 'unix'");
	k = n->child;
	if (k->next)
		return conf_error(ctx, k->next, "only one of 'udp' and 'unix' may be given");
	saved = conf_path_push_key(ctx, k->str);
	if (conf_key_is(k, "udp"))
		ret = sink_conf_udp(ctx, k->value, default_port, out);
	else if (conf_key_is(k, "unix"))
		ret = sink_conf_unix(ctx, k->value, out);
	else
		ret = conf_error(ctx, k, "unknown target '%.64s' (expected 'udp' or 'unix')",
				 k->str);
	conf_path_pop(ctx, saved);
	return ret;
}

/* The first target key wins the slot; any later one is an error. */
static int pick_take(struct conf_ctx *ctx, const struct conf_node *n, struct sink_pick *p)
{
	if (p->set)
		return conf_error(ctx, n,
				  "only one of target_unix, target_udp and target may be given "
				  "(first at line %u)",
				  p->line);
	p->set = true;
	p->line = n ? n->line : 0;
	return 0;
}

int sink_pick_unix(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct sink_pick *p = container_of(dst, struct sink_pick, t_unix);

	if (pick_take(ctx, n, p))
		return -EINVAL;
	return sink_conf_unix(ctx, n, &p->tgt);
}

int sink_pick_udp(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct sink_pick *p = container_of(dst, struct sink_pick, t_udp);

	if (pick_take(ctx, n, p))
		return -EINVAL;
	return sink_conf_udp(ctx, n, p->default_port, &p->tgt);
}

int sink_pick_target(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct sink_pick *p = container_of(dst, struct sink_pick, t_target);

	if (pick_take(ctx, n, p))
		return -EINVAL;
	return sink_conf_target(ctx, n, p->default_port, &p->tgt);
}
