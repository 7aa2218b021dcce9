/* Config values naming where logs and metrics are sent, shared by the
 * `log:` syslog options and `stat:` (g3 shapes):
 *   udp:  "ip:port" or {address|addr: "ip:port", bind_ip|bind: ip}
 *   unix: "/path"  or {path: "/path"}   (relative paths: against the main
 *         file's directory)
 *   target map: {udp: <udp>} or {unix: <unix>}
 * Errors go to ctx with file:line:col. */
#ifndef G3C_COMMON_SINK_CONF_H
#define G3C_COMMON_SINK_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/util.h"

struct conf_ctx;
struct conf_node;

struct sink_target {
	bool is_unix;
	struct sockaddr_storage addr; /* sockaddr_in / sockaddr_in6 / sockaddr_un */
	socklen_t addrlen;
	struct sockaddr_storage bind; /* UDP source address when bindlen != 0 */
	socklen_t bindlen;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix only */
};

/* A missing port takes default_port. Returns 0 or -EINVAL. */
int sink_conf_udp(struct conf_ctx *ctx, const struct conf_node *n, uint16_t default_port,
		  struct sink_target *out) MUST_CHECK;
int sink_conf_unix(struct conf_ctx *ctx, const struct conf_node *n,
		   struct sink_target *out) MUST_CHECK;
int sink_conf_target(struct conf_ctx *ctx, const struct conf_node *n, uint16_t default_port,
		     struct sink_target *out) MUST_CHECK;

/* The mutually exclusive target keys of a `log:` syslog map and of `stat:`
 * (target_unix, target_udp, target, and their backend_* aliases). Embed one
 * in the struct a schema parses into, set default_port before parsing, and
 * list SINK_PICK_FIELDS(struct_type, member) among the schema rows; after
 * parsing, `set` tells whether a target was given and `tgt` holds it. */
struct sink_pick {
	uint16_t default_port;
	bool set;
	unsigned line; /* where the first target key was */
	struct sink_target tgt;
	bool t_unix, t_udp, t_target; /* slots the schema rows point at */
};

int sink_pick_unix(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int sink_pick_udp(struct conf_ctx *ctx, const struct conf_node *n, void *dst);
int sink_pick_target(struct conf_ctx *ctx, const struct conf_node *n, void *dst);

#define SINK_PICK_ROW(K, T, M, SLOT, FN)                                                 \
	{                                                                                \
		.key = K, .type = CONF_T_CUSTOM, .off = offsetof(T, M.SLOT), .parse = FN \
	}
#define SINK_PICK_FIELDS(T, M)                                               \
	SINK_PICK_ROW("target_unix", T, M, t_unix, sink_pick_unix),          \
		SINK_PICK_ROW("backend_unix", T, M, t_unix, sink_pick_unix), \
		SINK_PICK_ROW("target_udp", T, M, t_udp, sink_pick_udp),     \
		SINK_PICK_ROW("backend_udp", T, M, t_udp, sink_pick_udp),    \
		SINK_PICK_ROW("target", T, M, t_target, sink_pick_target),   \
		SINK_PICK_ROW("backend", T, M, t_target, sink_pick_target)

#endif
