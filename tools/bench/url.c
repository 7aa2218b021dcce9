/* URL parser for targets and proxies (see url.h). */
#include "tools/bench/url.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum url_scheme scheme;
	uint16_t port;
} url_schemes[] = {
	{"http", URL_SCHEME_HTTP, 80},
	{"https", URL_SCHEME_HTTPS, 443},
	{"socks5", URL_SCHEME_SOCKS5, 1080},
	{"socks5h", URL_SCHEME_SOCKS5H, 1080},
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..len) into out (cap bytes, NUL-terminated). */
static int pct_decode(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -EINVAL;
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			if (c == '\0')
				return -EINVAL;
			i += 2;
		}
		if (o + 1 >= cap)
			return -E2BIG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

static int parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int parse_cred(const char *s, size_t len, struct url *u)
{
	const char *colon = memchr(s, ':', len);
	size_t ulen = colon ? (size_t)(colon - s) : len;
	int rc;

	rc = pct_decode(s, ulen, u->user, sizeof(u->user));
	if (rc < 0)
		return rc;
	u->pass[0] = '\0';
	if (colon) {
		rc = pct_decode(colon + 1, len - ulen - 1, u->pass, sizeof(u->pass));
		if (rc < 0)
			return rc;
	}
	u->has_cred = true;
	return 0;
}

static int parse_hostport(const char *s, size_t len, struct url *u)
{
	const char *port = NULL;
	size_t hlen;

	if (len > 0 && s[0] == '[') {
		const char *end = memchr(s, ']', len);
		struct in6_addr a6;

		if (!end)
			return -EINVAL;
		hlen = (size_t)(end - s - 1);
		if (hlen == 0)
			return -EINVAL;
		if (hlen >= sizeof(u->host))
			return -E2BIG;
		memcpy(u->host, s + 1, hlen);
		u->host[hlen] = '\0';
		if (inet_pton(AF_INET6, u->host, &a6) != 1)
			return -EINVAL;
		u->host_is_v6 = true;
		if ((size_t)(end - s) + 1 < len) {
			if (end[1] != ':')
				return -EINVAL;
			port = end + 2;
		}
	} else {
		const char *colon = memchr(s, ':', len);

		hlen = colon ? (size_t)(colon - s) : len;
		if (hlen == 0)
			return -EINVAL;
		if (hlen >= sizeof(u->host))
			return -E2BIG;
		for (size_t i = 0; i < hlen; i++) {
			char c = s[i];

			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
				return -EINVAL;
		}
		memcpy(u->host, s, hlen);
		u->host[hlen] = '\0';
		if (colon)
			port = colon + 1;
	}
	if (port)
		return parse_port(port, (size_t)(s + len - port), &u->port);
	return 0;
}

int url_parse(const char *s, struct url *u)
{
	const char *sep, *auth, *auth_end, *at;
	size_t i;
	int rc;

	memset(u, 0, sizeof(*u));
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f)
			return -EINVAL;
	sep = strstr(s, "://");
	if (!sep)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(url_schemes); i++)
		if (strlen(url_schemes[i].name) == (size_t)(sep - s) &&
		    strncasecmp(s, url_schemes[i].name, (size_t)(sep - s)) == 0)
			break;
	if (i == ARRAY_SIZE(url_schemes))
		return -EINVAL;
	u->scheme = url_schemes[i].scheme;
	u->port = url_schemes[i].port;

	auth = sep + 3;
	auth_end = auth + strcspn(auth, "/?#");
	/* The last '@' of the authority ends the credentials. */
	at = NULL;
	for (const char *c = auth; c < auth_end; c++)
		if (*c == '@')
			at = c;
	if (at) {
		rc = parse_cred(auth, (size_t)(at - auth), u);
		if (rc < 0)
			return rc;
		auth = at + 1;
	}
	rc = parse_hostport(auth, (size_t)(auth_end - auth), u);
	if (rc < 0)
		return rc;

	{
		size_t plen = strcspn(auth_end, "#");

		if (plen == 0 || auth_end[0] != '/') {
			/* "?q" without a path is "/?q". */
			if (plen + 2 > sizeof(u->path))
				return -E2BIG;
			u->path[0] = '/';
			memcpy(u->path + 1, auth_end, plen);
			u->path[plen + 1] = '\0';
		} else {
			if (plen + 1 > sizeof(u->path))
				return -E2BIG;
			memcpy(u->path, auth_end, plen);
			u->path[plen] = '\0';
		}
	}
	return 0;
}

int url_authority(const struct url *u, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, u->host_is_v6 ? "[%s]:%u" : "%s:%u", u->host, u->port);

	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

bool url_host_is_ip(const struct url *u)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET6, u->host, &a6) == 1 || inet_pton(AF_INET, u->host, &a4) == 1;
}
