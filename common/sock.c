#include "common/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" plus "%" and a name */
#define IP_TEXT_MAX (INET6_ADDRSTRLEN + 1 + IF_NAMESIZE)

static int parse_scope(struct slice s, uint32_t *out)
{
	char name[IF_NAMESIZE];
	uint64_t v;
	unsigned idx;

	if (s.len == 0)
		return -EINVAL;
	if (slice_parse_u64(s, UINT32_MAX, &v) == PARSE_OK) {
		*out = (uint32_t)v;
		return 0;
	}
	if (slice_to_cstr(s, name, sizeof(name)) < 0)
		return -EINVAL;
	idx = if_nametoindex(name);
	if (idx == 0)
		return -EINVAL;
	*out = idx;
	return 0;
}

/* v4 = true: IPv4 only; false: IPv6 only. */
static int parse_ip_family(struct slice s, bool v4, uint16_t port, struct sockaddr_storage *ss,
			   socklen_t *len)
{
	char text[IP_TEXT_MAX];
	struct slice ip = s, scope;
	bool has_scope;

	if (s.len == 0 || slice_find(s, '\0') != SLICE_NPOS)
		return -EINVAL;
	has_scope = !v4 && slice_split(s, '%', &ip, &scope);
	if (slice_to_cstr(ip, text, sizeof(text)) < 0)
		return -EINVAL;
	if (v4) {
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		if (inet_pton(AF_INET, text, &sin.sin_addr) != 1)
			return -EINVAL;
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &sin, sizeof(sin));
		*len = sizeof(sin);
	} else {
		struct sockaddr_in6 sin6;

		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		if (inet_pton(AF_INET6, text, &sin6.sin6_addr) != 1)
			return -EINVAL;
		if (has_scope && parse_scope(scope, &sin6.sin6_scope_id) < 0)
			return -EINVAL;
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &sin6, sizeof(sin6));
		*len = sizeof(sin6);
	}
	return 0;
}

int sock_ip_parse(struct slice s, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	bool v6 = slice_find(s, ':') != SLICE_NPOS;

	return parse_ip_family(s, !v6, port, ss, len);
}

int sock_addr_parse(struct slice s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct slice host, port_text;
	uint64_t port;
	bool v4;

	if (s.len == 0)
		return -EINVAL;
	if (s.p[0] == '[') {
		struct slice rest;

		if (!slice_split(slice_skip(s, 1), ']', &host, &rest))
			return -EINVAL; /* missing ']' */
		if (rest.len == 0 || rest.p[0] != ':')
			return -EINVAL; /* missing port or stray bytes after ']' */
		port_text = slice_skip(rest, 1);
		v4 = false;
	} else {
		size_t i = s.len;

		while (i > 0 && s.p[i - 1] != ':')
			i--;
		if (i == 0)
			return -EINVAL; /* no port */
		host = slice_make(s.p, i - 1);
		port_text = slice_skip(s, i);
		if (slice_find(host, ':') != SLICE_NPOS)
			return -EINVAL; /* a bare IPv6 address needs brackets */
		v4 = true;
	}
	switch (slice_parse_u64(port_text, 65535, &port)) {
	case PARSE_OK:
		break;
	case PARSE_TOO_BIG:
		return -ERANGE;
	default:
		return -EINVAL;
	}
	return parse_ip_family(host, v4, (uint16_t)port, ss, len);
}

int sock_addr_parse_str(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	return sock_addr_parse(slice_from_cstr(s), ss, len);
}

static int format_result(int n, char *buf, size_t cap)
{
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			buf[0] = '\0';
		return -ENOSPC;
	}
	return n;
}

static int format_ip(const struct sockaddr *sa, char *buf, size_t cap, bool with_port)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		if (with_port)
			n = snprintf(buf, cap, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
		else
			n = snprintf(buf, cap, "%s", ip);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)sa;
		char scope[16] = "";

		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		if (sin6->sin6_scope_id)
			snprintf(scope, sizeof(scope), "%%%u", (unsigned)sin6->sin6_scope_id);
		if (with_port)
			n = snprintf(buf, cap, "[%s%s]:%u", ip, scope,
				     (unsigned)ntohs(sin6->sin6_port));
		else
			n = snprintf(buf, cap, "%s%s", ip, scope);
	} else if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)(const void *)sa;
		size_t max = sizeof(sun->sun_path) - 1;

		if (sun->sun_path[0] == '\0')
			n = snprintf(buf, cap, "@%.*s", (int)strnlen(sun->sun_path + 1, max),
				     sun->sun_path + 1);
		else
			n = snprintf(buf, cap, "%.*s", (int)strnlen(sun->sun_path, max + 1),
				     sun->sun_path);
	} else {
		if (cap)
			buf[0] = '\0';
		return -EAFNOSUPPORT;
	}
	return format_result(n, buf, cap);
}

int sock_addr_format(const struct sockaddr *sa, char *buf, size_t cap)
{
	return format_ip(sa, buf, cap, true);
}

int sock_ip_format(const struct sockaddr *sa, char *buf, size_t cap)
{
	return format_ip(sa, buf, cap, false);
}

socklen_t sock_addr_len(const struct sockaddr *sa)
{
	switch (sa->sa_family) {
	case AF_INET:
		return sizeof(struct sockaddr_in);
	case AF_INET6:
		return sizeof(struct sockaddr_in6);
	case AF_UNIX:
		return sizeof(struct sockaddr_un);
	default:
		return 0;
	}
}

uint16_t sock_addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
	return 0;
}

void sock_addr_set_port(struct sockaddr *sa, uint16_t port)
{
	if (sa->sa_family == AF_INET)
		((struct sockaddr_in *)(void *)sa)->sin_port = htons(port);
	else if (sa->sa_family == AF_INET6)
		((struct sockaddr_in6 *)(void *)sa)->sin6_port = htons(port);
}

bool sock_addr_equal(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port && x->sin6_scope_id == y->sin6_scope_id &&
		       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	if (a->sa_family == AF_UNIX) {
		const struct sockaddr_un *x = (const void *)a, *y = (const void *)b;
		return memcmp(x->sun_path, y->sun_path, sizeof(x->sun_path)) == 0;
	}
	return false;
}

int sock_local_addr(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	return getsockname(fd, (struct sockaddr *)ss, len) < 0 ? -errno : 0;
}

int sock_peer_addr(int fd, struct sockaddr_storage *ss, socklen_t *len)
{
	*len = sizeof(*ss);
	return getpeername(fd, (struct sockaddr *)ss, len) < 0 ? -errno : 0;
}

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (bytes && memcmp(a, b, bytes) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xffu << (8 - rest));
		return (a[bytes] & mask) == (b[bytes] & mask);
	}
	return true;
}

bool sock_addr_in_net(const struct sockaddr *sa, int family, const uint8_t addr[16],
		      unsigned prefix)
{
	const uint8_t *ip;
	int ip_family;

	if (sa->sa_family == AF_INET) {
		ip = (const uint8_t *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		ip_family = AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		ip = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
		ip_family = AF_INET6;
		if (memcmp(ip, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
			ip += 12;
			ip_family = AF_INET;
		}
	} else {
		return false;
	}
	/* an IPv6 network inside ::ffff:0:0/96 is an IPv4 network */
	if (family == AF_INET6 && prefix >= 96 && prefix <= 128 &&
	    memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
		addr += 12;
		prefix -= 96;
		family = AF_INET;
	}
	if (family != ip_family)
		return false;
	if (prefix > (family == AF_INET ? 32u : 128u))
		return false;
	return prefix_match(ip, addr, prefix);
}

bool sock_addr_is_loopback(const struct sockaddr *sa)
{
	static const uint8_t lo4[16] = {127};
	static const uint8_t lo6[16] = {[15] = 1};

	return sock_addr_in_net(sa, AF_INET, lo4, 8) || sock_addr_in_net(sa, AF_INET6, lo6, 128);
}

int sock_socket(int family, int type)
{
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
}

static int setopt_int(int fd, int level, int name, int v)
{
	return setsockopt(fd, level, name, &v, sizeof(v)) < 0 ? -errno : 0;
}

int sock_listen(const struct sockaddr *sa, socklen_t len, const struct sock_listen_opts *o)
{
	static const struct sock_listen_opts defaults;
	int fd = -1, rc;

	if (!o)
		o = &defaults;
	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
		return -EAFNOSUPPORT;
	fd = sock_socket(sa->sa_family, SOCK_STREAM);
	if (fd < 0)
		return fd;
	rc = setopt_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (rc == 0 && o->reuseport)
		rc = setopt_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (rc == 0 && sa->sa_family == AF_INET6 && o->v6only != SOCK_V6ONLY_DEFAULT)
		rc = setopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, o->v6only == SOCK_V6ONLY_ON);
	if (rc == 0 && o->interface)
		rc = sock_bind_interface(fd, o->interface);
	if (rc == 0 && o->transparent) {
		if (sa->sa_family == AF_INET)
			rc = setopt_int(fd, IPPROTO_IP, IP_TRANSPARENT, 1);
		else
			rc = setopt_int(fd, IPPROTO_IPV6, IPV6_TRANSPARENT, 1);
	}
	if (rc == 0 && bind(fd, sa, len) < 0)
		rc = -errno;
	if (rc == 0 && listen(fd, o->backlog > 0 ? o->backlog : 4096) < 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

int sock_accept(int lfd, struct sockaddr_storage *peer, socklen_t *len)
{
	struct sockaddr_storage tmp;
	socklen_t tmplen = sizeof(tmp);
	int fd;

	if (!peer)
		peer = &tmp;
	if (!len)
		len = &tmplen;
	*len = sizeof(*peer);
	do {
		fd = accept4(lfd, (struct sockaddr *)peer, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
	} while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	return fd;
}

int sock_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	return bind(fd, sa, len) < 0 ? -errno : 0;
}

int sock_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	/* an interrupted non-blocking connect carries on asynchronously */
	if (errno == EINPROGRESS || errno == EINTR)
		return -EINPROGRESS;
	return -errno;
}

int sock_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err)
		return -err;
	/* SO_ERROR is 0 both when connected and while still connecting */
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
			return errno == ENOTCONN ? -EINPROGRESS : -errno;
	}
	return 0;
}

int sock_set_nodelay(int fd, bool on)
{
	return setopt_int(fd, IPPROTO_TCP, TCP_NODELAY, on);
}

int sock_set_keepalive(int fd, const struct sock_keepalive *ka)
{
	int rc = setopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, ka->enable);

	if (rc < 0 || !ka->enable)
		return rc;
	if (ka->idle_s && (rc = setopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, (int)ka->idle_s)) < 0)
		return rc;
	if (ka->interval_s &&
	    (rc = setopt_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, (int)ka->interval_s)) < 0)
		return rc;
	if (ka->count && (rc = setopt_int(fd, IPPROTO_TCP, TCP_KEEPCNT, (int)ka->count)) < 0)
		return rc;
	return 0;
}

int sock_set_mark(int fd, uint32_t mark)
{
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ? -errno : 0;
}

int sock_set_tos(int fd, uint8_t tos)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0)
		return -errno;
	if (domain == AF_INET)
		return setopt_int(fd, IPPROTO_IP, IP_TOS, tos);
	if (domain == AF_INET6) {
		int rc = setopt_int(fd, IPPROTO_IPV6, IPV6_TCLASS, tos);
		/* v4-mapped traffic of a dual-stack socket uses IP_TOS; a
		 * v6-only socket refuses it, which is fine */
		if (rc == 0)
			(void)setopt_int(fd, IPPROTO_IP, IP_TOS, tos);
		return rc;
	}
	return -EAFNOSUPPORT;
}

int sock_bind_interface(int fd, const char *ifname)
{
	size_t n = strlen(ifname);

	if (n == 0 || n >= IF_NAMESIZE)
		return -EINVAL;
	return setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)(n + 1)) < 0 ? -errno
											   : 0;
}
