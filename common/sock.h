/* Socket helpers: address text ⇄ sockaddr, listening and connecting
 * non-blocking TCP sockets, socket options, and IP network matching for ACLs.
 * Every fd made here is non-blocking and close-on-exec. Functions that can
 * fail return 0 (or an fd) or a negative errno; none allocates memory. */
#ifndef G3C_COMMON_SOCK_H
#define G3C_COMMON_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/slice.h"
#include "common/util.h"

/* Room for any text sock_addr_format() produces, NUL included:
 * "[" v6 "%" scope "]:" port, or a unix socket path. */
#define SOCK_ADDR_STRLEN 112

/* ---- addresses ------------------------------------------------------- */

/* Parse "a.b.c.d:port" or "[v6]:port" (v6 may carry "%scope", an interface
 * name or number) into *ss / *len. The port must be 0..65535 in decimal.
 * Returns 0, -EINVAL for malformed text (bad IP, missing or empty port, a
 * bare v6 address without brackets, missing ']', stray bytes) or -ERANGE
 * for a port above 65535. *ss and *len are written only on success. */
int sock_addr_parse(struct slice s, struct sockaddr_storage *ss, socklen_t *len) MUST_CHECK;

/* Same for a NUL-terminated string. */
int sock_addr_parse_str(const char *s, struct sockaddr_storage *ss, socklen_t *len) MUST_CHECK;

/* Parse a bare IP address ("10.0.0.1", "::1", "fe80::1%eth0"; no brackets,
 * no port) and set the port. Returns 0 or -EINVAL. */
int sock_ip_parse(struct slice s, uint16_t port, struct sockaddr_storage *ss,
		  socklen_t *len) MUST_CHECK;

/* Format sa as "127.0.0.1:80", "[::1]:80", "[fe80::1%2]:80" (scope as a
 * number) or, for AF_UNIX, the socket path ("@name" for an abstract socket).
 * Writes a NUL-terminated string into buf. Returns its length, -ENOSPC when
 * cap is too small (buf then holds "" when cap > 0), or -EAFNOSUPPORT. */
int sock_addr_format(const struct sockaddr *sa, char *buf, size_t cap) MUST_CHECK;

/* Only the IP part ("127.0.0.1", "::1"), same returns. */
int sock_ip_format(const struct sockaddr *sa, char *buf, size_t cap) MUST_CHECK;

/* Length of the address structure for sa's family (0 if unknown). */
socklen_t sock_addr_len(const struct sockaddr *sa);

/* Port in host order (0 for families without ports). */
uint16_t sock_addr_port(const struct sockaddr *sa);

/* Set the port of an AF_INET / AF_INET6 address (no-op otherwise). */
void sock_addr_set_port(struct sockaddr *sa, uint16_t port);

/* Same family, IP (and scope) and port. */
bool sock_addr_equal(const struct sockaddr *a, const struct sockaddr *b);

/* Address of a connected or bound socket. Return 0 or -errno. */
int sock_local_addr(int fd, struct sockaddr_storage *ss, socklen_t *len) MUST_CHECK;
int sock_peer_addr(int fd, struct sockaddr_storage *ss, socklen_t *len) MUST_CHECK;

/* True when sa (AF_INET or AF_INET6) lies in the network addr/prefix of the
 * given family (AF_INET: addr[0..3], prefix 0..32; AF_INET6: addr[0..15],
 * prefix 0..128; larger prefixes never match). An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is treated as the IPv4 address a.b.c.d, and an IPv4
 * address matches an IPv6 network covering ::ffff:a.b.c.d, so ACLs written
 * for either form see the same client. Borrows everything. */
bool sock_addr_in_net(const struct sockaddr *sa, int family, const uint8_t addr[16],
		      unsigned prefix);

/* True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
bool sock_addr_is_loopback(const struct sockaddr *sa);

/* ---- sockets --------------------------------------------------------- */

/* A new non-blocking, close-on-exec socket. Returns the fd or -errno. */
int sock_socket(int family, int type) MUST_CHECK;

enum sock_v6only {
	SOCK_V6ONLY_DEFAULT = 0, /* leave the system setting */
	SOCK_V6ONLY_ON,
	SOCK_V6ONLY_OFF,
};

struct sock_listen_opts {
	int backlog;		 /* <= 0 → 4096 */
	bool reuseport;		 /* SO_REUSEPORT (hot upgrade, several workers) */
	enum sock_v6only v6only; /* for AF_INET6 listeners */
	const char *interface;	 /* SO_BINDTODEVICE, NULL = none */
	bool transparent;	 /* IP_TRANSPARENT (needs CAP_NET_ADMIN) */
};

/* Bind and listen a TCP socket on sa with SO_REUSEADDR (and the options in
 * o, which may be NULL for defaults). Returns the listening fd (owned by the
 * caller, close(2) it) or -errno (-EADDRINUSE, -EACCES, -EPERM, ...). */
int sock_listen(const struct sockaddr *sa, socklen_t len,
		const struct sock_listen_opts *o) MUST_CHECK;

/* Accept one connection with accept4 (non-blocking, close-on-exec); peer
 * and len may be NULL. Returns the owned fd, -EAGAIN when none is pending,
 * or another -errno (-ECONNABORTED, -EMFILE, ...). EINTR is retried. */
int sock_accept(int lfd, struct sockaddr_storage *peer, socklen_t *len) MUST_CHECK;

/* Bind fd to a local address (e.g. bind_ip with port 0). Returns 0/-errno. */
int sock_bind(int fd, const struct sockaddr *sa, socklen_t len) MUST_CHECK;

/* Start a non-blocking connect. Returns 0 when already connected,
 * -EINPROGRESS when the result comes later (wait for writability, then
 * call sock_connect_result), or another -errno (-ECONNREFUSED,
 * -ENETUNREACH, ...). */
int sock_connect(int fd, const struct sockaddr *sa, socklen_t len) MUST_CHECK;

/* Outcome of a connect that returned -EINPROGRESS, from SO_ERROR: 0 when
 * connected, -EINPROGRESS if still pending, or -errno (-ECONNREFUSED, ...). */
int sock_connect_result(int fd) MUST_CHECK;

/* ---- options: each returns 0 or -errno ------------------------------- */

int sock_set_nodelay(int fd, bool on) MUST_CHECK;

struct sock_keepalive {
	bool enable;
	unsigned idle_s;     /* TCP_KEEPIDLE, 0 = system default */
	unsigned interval_s; /* TCP_KEEPINTVL, 0 = system default */
	unsigned count;	     /* TCP_KEEPCNT, 0 = system default */
};

/* SO_KEEPALIVE plus the timing options that are non-zero. */
int sock_set_keepalive(int fd, const struct sock_keepalive *ka) MUST_CHECK;

/* SO_MARK (fwmark for policy routing). Best effort for callers: needs
 * CAP_NET_ADMIN, so -EPERM is the expected result when unprivileged. */
int sock_set_mark(int fd, uint32_t mark) MUST_CHECK;

/* IP_TOS for IPv4 sockets, IPV6_TCLASS for IPv6 sockets (both for a dual-
 * stack v6 socket). */
int sock_set_tos(int fd, uint8_t tos) MUST_CHECK;

/* SO_BINDTODEVICE; -ENODEV for an unknown interface, -EPERM without
 * privilege on older kernels, -EINVAL when ifname is too long. */
int sock_bind_interface(int fd, const char *ifname) MUST_CHECK;

#endif
