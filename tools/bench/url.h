/* URL parsing for g3bench: target URLs (http, https) and proxy URLs (http,
 * https, socks5, socks5h) of the form scheme://[user[:pass]@]host[:port][/path].
 * A parsed url owns nothing but its fixed-size fields; no allocation. */
#ifndef G3C_TOOLS_BENCH_URL_H
#define G3C_TOOLS_BENCH_URL_H

#include <stdbool.h>
#include <stdint.h>

#include "common/util.h"

#define URL_HOST_MAX 256
#define URL_CRED_MAX 256
#define URL_PATH_MAX 4096

enum url_scheme {
	URL_SCHEME_HTTP = 0,
	URL_SCHEME_HTTPS,
	URL_SCHEME_SOCKS5,  /* the client resolves the target */
	URL_SCHEME_SOCKS5H, /* the proxy resolves the target */
};

struct url {
	enum url_scheme scheme;
	char host[URL_HOST_MAX]; /* without the brackets of an IPv6 literal */
	bool host_is_v6;	 /* host was written as [v6] */
	uint16_t port;		 /* explicit or the scheme's default */
	bool has_cred;
	char user[URL_CRED_MAX]; /* percent-decoded */
	char pass[URL_CRED_MAX]; /* percent-decoded */
	char path[URL_PATH_MAX]; /* "/..." with query; "/" when absent */
};

/* Parse s (NUL-terminated) into *u. Schemes are case-insensitive; the
 * default ports are 80, 443 and 1080. A fragment ("#...") is dropped.
 * Returns 0, or -EINVAL (unknown scheme, empty or malformed host, port
 * not in 1..65535, bad percent escape, control characters or spaces) or
 * -E2BIG (a part longer than its field). */
int url_parse(const char *s, struct url *u) MUST_CHECK;

/* "host:port" with brackets around an IPv6 literal, into buf (cap bytes).
 * Returns the length written, or -ENOSPC. */
int url_authority(const struct url *u, char *buf, size_t cap) MUST_CHECK;

/* True when the host is an IPv4 or IPv6 literal (no SNI is sent then). */
bool url_host_is_ip(const struct url *u);

#endif
