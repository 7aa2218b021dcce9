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

#endif
