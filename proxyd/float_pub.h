/* Peers published at runtime for proxy_float escapers (g3proxy's
 * `escaper NAME publish JSON`; `show` reads them back, which g3 lacks).
 *
 * A publish replaces the escaper's whole set: a JSON object (one peer) or an
 * array of them, each {"type": "http"|"https"|"socks5"|"socks5s",
 * "addr": "IP:port" (no domain), "id", "username", "password", "expire"
 * (RFC 3339), "isp", "eip", "area", "tls_name",
 * "http_connect_rsp_header_max_size", "tcp_sock_speed_limit",
 * "extra_append_headers", "udp_sock_speed_limit", "transmute_udp_peer_ip",
 * "end_on_control_closed"}. Unknown keys, bad values, domains in addr are
 * errors and change nothing. "[]" clears the set.
 *
 * Sets live in a process-wide registry keyed by escaper name, so they
 * survive reloads. A set is immutable and reference counted: the control
 * thread swaps in a new one; a connection takes a reference with
 * float_pub_get() for as long as it uses one of its peers. */
#ifndef G3C_PROXYD_FLOAT_PUB_H
#define G3C_PROXYD_FLOAT_PUB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/util.h"
#include "proxyd/config.h"

#define FLOAT_PUB_MAX_PEERS 4096

struct float_peer {
	int kind;			 /* ESCAPER_PROXY_HTTP / _HTTPS / _SOCKS5 / _SOCKS5S */
	struct proxy_peer peer;		 /* host is the IP text, id "IP:port" */
	const char *id;			 /* published "id", or NULL (strings owned by the set) */
	const char *username, *password; /* NULL = no auth */
	const char *tls_name;
	const char *isp, *eip, *area;
	int64_t expire;	  /* seconds since the epoch, 0 = never */
	uint64_t rsp_max; /* http_connect_rsp_header_max_size, 4KiB */
};

/* A bind IP of a direct_float escaper (proxyd/float_bind.h). */
struct float_bind {
	struct sockaddr_storage addr; /* port 0 */
	const char *ip;		      /* the address as text */
	const char *id;		      /* published "id", or NULL */
	const char *isp, *eip, *area;
	int64_t expire; /* seconds since the epoch, 0 = never */
};

/* proxy_float: peers v[0..n); direct_float: bind IPs per family. */
struct float_set {
	atomic_uint refs;
	size_t n;
	struct float_peer *v;
	size_t n4, n6;
	struct float_bind *b4, *b6;
	int64_t published; /* seconds since the epoch */
};

/* Parse json and make it escaper's set. Returns 0, or -EINVAL with every
 * problem in *err (malloc'd, one per line; the caller frees it), or
 * -ENOMEM. */
int float_pub_publish(const char *escaper, const char *json, size_t len, char **err) MUST_CHECK;

/* Shared with float_bind.c: parse the published text into the root node
 * (errors in ctx); make s (owned, refs 1) escaper's set (-ENOMEM: s is
 * freed); whether anything was ever stored for escaper; a ,"key":"v" JSON
 * member (escaped) appended to b (*ok false when it did not fit). */
struct conf_ctx;
struct conf_node;
struct buf;
int float_pub_doc_parse(struct conf_ctx *ctx, const char *json, size_t len,
			const struct conf_node **root) MUST_CHECK;
int float_pub_store(const char *escaper, struct float_set *s) MUST_CHECK;
bool float_pub_known(const char *escaper);
void float_pub_json_str(struct buf *b, const char *key, const char *v, bool *ok);

/* The escaper's current set with a reference taken (release it with
 * float_set_unref), or NULL when nothing was published. Any thread. */
struct float_set *float_pub_get(const char *escaper);
void float_set_unref(struct float_set *s);

/* The escaper's peers as a JSON array (malloc'd, caller frees; "[]" when
 * none), each with its fields and "expired": true when past expire. NULL
 * when memory is short. */
char *float_pub_show(const char *escaper);

/* Usable now: not expired within guard_s seconds. */
bool float_peer_usable(const struct float_peer *p, int64_t now, uint64_t guard_s);

/* Drop every set (process exit, so leak checks stay clean). */
void float_pub_clear(void);

#endif
