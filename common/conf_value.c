/* Typed scalar values: strings, booleans, integers, durations, sizes,
 * host:port addresses, networks, enums. Every parser records an error at the
 * node and returns -EINVAL on bad input. */
#include "common/conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/conf_int.h"

typedef unsigned __int128 u128;

static const char *kind_name(const struct conf_node *n)
{
	if (conf_is_null(n))
		return "null";
	return n->kind == CONF_MAP ? "a map" : n->kind == CONF_SEQ ? "a sequence" : "a scalar";
}

/* The node must be a non-null scalar. */
static int want_scalar(struct conf_ctx *ctx, const struct conf_node *n, const char *what)
{
	if (n && n->kind == CONF_SCALAR && !conf_is_null(n))
		return 0;
	if (!n)
		return conf_error(ctx, NULL, "expected %s", what);
	return conf_error(ctx, n, "expected %s, got %s", what, kind_name(n));
}

#define Q(n) CONF_QARG((n)->str, (n)->len)

int conf_get_str(struct conf_ctx *ctx, const struct conf_node *n, const char **out)
{
	if (want_scalar(ctx, n, "a string"))
		return -EINVAL;
	if (strlen(n->str) != n->len) {
		conf_error(ctx, n, "string contains a NUL byte");
		return -EINVAL;
	}
	*out = n->str;
	return 0;
}

int conf_get_bool(struct conf_ctx *ctx, const struct conf_node *n, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	if (want_scalar(ctx, n, "a boolean"))
		return -EINVAL;
	for (unsigned i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(n->str, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(n->str, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return conf_error(
		ctx, n, "invalid boolean " CONF_QFMT " (expected true/false, yes/no, on/off, 1/0)",
		Q(n));
}

/* Decimal or 0x hex, optional sign. Returns 0, -EINVAL (syntax) or -ERANGE
 * (magnitude beyond 64 bits). */
static int parse_int(const char *s, size_t len, bool *neg, uint64_t *mag)
{
	size_t i = 0;
	unsigned base = 10;
	uint64_t v = 0;

	*neg = false;
	if (i < len && (s[i] == '+' || s[i] == '-'))
		*neg = s[i++] == '-';
	if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		base = 16;
		i += 2;
	}
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		unsigned d;
		char c = s[i];
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*mag = v;
	return 0;
}

int conf_get_u64(struct conf_ctx *ctx, const struct conf_node *n, uint64_t min, uint64_t max,
		 uint64_t *out)
{
	bool neg;
	uint64_t v;
	int r;

	if (want_scalar(ctx, n, "an integer"))
		return -EINVAL;
	r = parse_int(n->str, n->len, &neg, &v);
	if (r == -EINVAL)
		return conf_error(ctx, n, "invalid integer " CONF_QFMT, Q(n));
	if (r || (neg && v) || v < min || v > max)
		return conf_error(ctx, n, "value %.*s%s out of range (%llu..%llu)", Q(n),
				  (unsigned long long)min, (unsigned long long)max);
	*out = v;
	return 0;
}

int conf_get_i64(struct conf_ctx *ctx, const struct conf_node *n, int64_t min, int64_t max,
		 int64_t *out)
{
	bool neg;
	uint64_t mag;
	int64_t v;
	int r;

	if (want_scalar(ctx, n, "an integer"))
		return -EINVAL;
	r = parse_int(n->str, n->len, &neg, &mag);
	if (r == -EINVAL)
		return conf_error(ctx, n, "invalid integer " CONF_QFMT, Q(n));
	if (r || (!neg && mag > (uint64_t)INT64_MAX) || (neg && mag > (uint64_t)INT64_MAX + 1))
		goto range;
	v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
range:
	return conf_error(ctx, n, "value %.*s%s out of range (%lld..%lld)", Q(n), (long long)min,
			  (long long)max);
}

/* ---- durations ------------------------------------------------------------ */

#define NS_MS 1000000ull
#define NS_S (1000ull * NS_MS)

struct unit {
	const char *name;
	uint64_t mult;
};

static const struct unit duration_units[] = {
	{"ns", 1},
	{"nsec", 1},
	{"nanosecond", 1},
	{"nanoseconds", 1},
	{"us", 1000},
	{"\xc2\xb5s", 1000},
	{"\xce\xbcs", 1000},
	{"usec", 1000},
	{"microsecond", 1000},
	{"microseconds", 1000},
	{"ms", NS_MS},
	{"msec", NS_MS},
	{"millisecond", NS_MS},
	{"milliseconds", NS_MS},
	{"s", NS_S},
	{"sec", NS_S},
	{"secs", NS_S},
	{"second", NS_S},
	{"seconds", NS_S},
	{"m", 60 * NS_S},
	{"min", 60 * NS_S},
	{"mins", 60 * NS_S},
	{"minute", 60 * NS_S},
	{"minutes", 60 * NS_S},
	{"h", 3600 * NS_S},
	{"hr", 3600 * NS_S},
	{"hrs", 3600 * NS_S},
	{"hour", 3600 * NS_S},
	{"hours", 3600 * NS_S},
	{"d", 86400 * NS_S},
	{"day", 86400 * NS_S},
	{"days", 86400 * NS_S},
	{"w", 604800 * NS_S},
	{"week", 604800 * NS_S},
	{"weeks", 604800 * NS_S},
	{NULL, 0},
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* "12", "1.5", ".5": integer part and up to 18 fraction digits. Returns the
 * index after the number, or 0 when there is none. */
static size_t parse_decimal(const char *s, size_t len, size_t i, u128 *ip, uint64_t *frac,
			    uint64_t *scale, bool *overflow)
{
	size_t start = i;
	bool digits = false;

	*ip = 0;
	*frac = 0;
	*scale = 1;
	*overflow = false;
	for (; i < len && is_digit(s[i]); i++) {
		digits = true;
		*ip = *ip * 10 + (unsigned)(s[i] - '0');
		if (*ip > UINT64_MAX) {
			*overflow = true;
			*ip = UINT64_MAX;
		}
	}
	if (i < len && s[i] == '.') {
		size_t j = i + 1;
		for (; j < len && is_digit(s[j]); j++) {
			digits = true;
			if (*scale < 1000000000000000000ull) {
				*frac = *frac * 10 + (unsigned)(s[j] - '0');
				*scale *= 10;
			}
		}
		if (j == i + 1)
			return 0; /* "1." */
		i = j;
	}
	return digits && i > start ? i : 0;
}

/* → nanoseconds capped so the millisecond result fits 64 bits. */
static int parse_duration(const char *s, size_t len, u128 *ns)
{
	const u128 limit = (u128)UINT64_MAX * NS_MS - NS_MS;
	size_t i = 0;
	bool any = false;

	*ns = 0;
	while (i < len && is_space(s[i]))
		i++;
	while (len && is_space(s[len - 1]))
		len--;
	while (i < len) {
		u128 ip;
		uint64_t frac, scale, mult = 0;
		bool ovf;
		size_t j = parse_decimal(s, len, i, &ip, &frac, &scale, &ovf), k;
		if (!j)
			return -EINVAL;
		k = j;
		while (k < len && is_space(s[k]))
			k++;
		if (k == len && !any) {
			mult = NS_S; /* a bare number is seconds */
		} else {
			size_t u = k;
			while (u < len && !is_space(s[u]) && !is_digit(s[u]) && s[u] != '.')
				u++;
			for (const struct unit *un = duration_units; un->name; un++)
				if (strlen(un->name) == u - k &&
				    memcmp(un->name, s + k, u - k) == 0)
					mult = un->mult;
			if (!mult)
				return -EINVAL;
			k = u;
		}
		if (ovf)
			return -ERANGE;
		*ns += ip * mult + (u128)frac * mult / scale;
		if (*ns > limit)
			return -ERANGE;
		any = true;
		i = k;
		while (i < len && is_space(s[i]))
			i++;
	}
	return any ? 0 : -EINVAL;
}

int conf_get_duration_ms(struct conf_ctx *ctx, const struct conf_node *n, uint64_t *out)
{
	u128 ns;
	int r;

	if (want_scalar(ctx, n, "a duration"))
		return -EINVAL;
	r = parse_duration(n->str, n->len, &ns);
	if (r == -ERANGE)
		return conf_error(ctx, n, "duration " CONF_QFMT " too large", Q(n));
	if (r)
		return conf_error(ctx, n,
				  "invalid duration " CONF_QFMT
				  " (use e.g. 10, 1.5, 500ms, 1h 30m; units ns us ms s m h d w)",
				  Q(n));
	/* Sub-millisecond remainders round up: "100us" must not become 0. */
	*out = (uint64_t)((ns + NS_MS - 1) / NS_MS);
	return 0;
}

/* ---- sizes ------------------------------------------------------------------ */

static const struct unit size_units[] = {
	{"", 1},
	{"b", 1},
	{"k", 1000ull},
	{"kb", 1000ull},
	{"ki", 1ull << 10},
	{"kib", 1ull << 10},
	{"m", 1000000ull},
	{"mb", 1000000ull},
	{"mi", 1ull << 20},
	{"mib", 1ull << 20},
	{"g", 1000000000ull},
	{"gb", 1000000000ull},
	{"gi", 1ull << 30},
	{"gib", 1ull << 30},
	{"t", 1000000000000ull},
	{"tb", 1000000000000ull},
	{"ti", 1ull << 40},
	{"tib", 1ull << 40},
	{"p", 1000000000000000ull},
	{"pb", 1000000000000000ull},
	{"pi", 1ull << 50},
	{"pib", 1ull << 50},
	{NULL, 0},
};

static int parse_size(const char *s, size_t len, uint64_t *out)
{
	u128 ip, v;
	uint64_t frac, scale, mult = 0;
	bool ovf;
	size_t i = 0, j;

	while (i < len && is_space(s[i]))
		i++;
	while (len && is_space(s[len - 1]))
		len--;
	j = parse_decimal(s, len, i, &ip, &frac, &scale, &ovf);
	if (!j)
		return -EINVAL;
	while (j < len && is_space(s[j]))
		j++;
	for (const struct unit *u = size_units; u->name; u++)
		if (strlen(u->name) == len - j && strncasecmp(u->name, s + j, len - j) == 0)
			mult = u->mult;
	if (!mult || (scale > 1 && mult == 1))
		return -EINVAL; /* unknown unit, or a fraction of a byte */
	if (ovf)
		return -ERANGE;
	v = ip * mult + (u128)frac * mult / scale;
	if (v > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

int conf_get_size(struct conf_ctx *ctx, const struct conf_node *n, uint64_t *out)
{
	int r;

	if (want_scalar(ctx, n, "a size"))
		return -EINVAL;
	r = parse_size(n->str, n->len, out);
	if (r == -ERANGE)
		return conf_error(ctx, n, "size " CONF_QFMT " too large", Q(n));
	if (r)
		return conf_error(ctx, n,
				  "invalid size " CONF_QFMT
				  " (use bytes or e.g. 1K = 1000, 1KiB = 1024, 1.5M)",
				  Q(n));
	return 0;
}

/* ---- host:port --------------------------------------------------------------- */

/* RFC 1123 labels; '_' is tolerated (container and service names use it). */
static bool valid_hostname(const char *s, size_t len)
{
	size_t label = 0;
	bool all_digits = true;

	if (len && s[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return false;
			if (i == len && all_digits)
				return false; /* a numeric TLD: a mistyped IPv4 address */
			label = 0;
			all_digits = true;
			continue;
		}
		char c = s[i];
		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
		      c == '_'))
			return false;
		if (!is_digit(c))
			all_digits = false;
		label++;
	}
	return true;
}

static int parse_port(struct conf_ctx *ctx, const struct conf_node *n, const char *p, size_t len,
		      uint16_t *port)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(p[i]))
			goto bad;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v < 1 || v > 65535)
		return conf_error(ctx, n, "port %llu out of range (1..65535)",
				  (unsigned long long)v);
	*port = (uint16_t)v;
	return 0;
bad:
	return conf_error(ctx, n, "invalid port '%.*s' in " CONF_QFMT, (int)MIN(len, 16), p, Q(n));
}

/* IPv6 literal with an optional %scope (name or number). -EINVAL: not an
 * address (nothing recorded); -ENODEV: unknown scope (error recorded). */
static int parse_ip6(struct conf_ctx *ctx, const struct conf_node *n, const char *s,
		     struct sockaddr_in6 *sin6)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	char *pct;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	pct = strchr(buf, '%');
	if (pct)
		*pct++ = '\0';
	if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
		return -EINVAL;
	sin6->sin6_family = AF_INET6;
	if (pct) {
		bool num = *pct != '\0';
		unsigned long id = 0;
		for (const char *c = pct; *c; c++) {
			if (!is_digit(*c) || id > 0xffffffffUL / 10) {
				num = false;
				break;
			}
			id = id * 10 + (unsigned long)(*c - '0');
		}
		if (!num)
			id = if_nametoindex(pct);
		if (!id || id > UINT32_MAX) {
			conf_error(ctx, n, "unknown interface '%.16s' in " CONF_QFMT, pct, Q(n));
			return -ENODEV;
		}
		sin6->sin6_scope_id = (uint32_t)id;
	}
	return 0;
}

int conf_get_hostport(struct conf_ctx *ctx, const struct conf_node *n, uint16_t default_port,
		      struct conf_hostport *out)
{
	const char *s = NULL, *host, *port = NULL;
	size_t hlen, plen = 0;
	struct conf_hostport hp;
	int r;

	memset(&hp, 0, sizeof(hp));
	if (want_scalar(ctx, n, "a host:port address"))
		return -EINVAL;
	if (conf_get_str(ctx, n, &s))
		return -EINVAL;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || (end[1] && end[1] != ':'))
			goto bad;
		host = s + 1;
		hlen = (size_t)(end - host);
		if (end[1]) {
			port = end + 2;
			plen = strlen(port);
		}
	} else {
		const char *c1 = strchr(s, ':');
		host = s;
		hlen = strlen(s);
		if (c1 && !strchr(c1 + 1, ':')) {
			hlen = (size_t)(c1 - s);
			port = c1 + 1;
			plen = strlen(port);
		}
		/* two or more colons: a bare IPv6 address without port */
	}
	if (hlen == 0)
		goto bad;
	hp.host = conf_strndup(ctx, host, hlen);

	struct sockaddr_in *sin = (struct sockaddr_in *)&hp.addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&hp.addr;
	if (memchr(host, ':', hlen)) {
		r = parse_ip6(ctx, n, hp.host, sin6);
		if (r == -ENODEV)
			return -EINVAL;
		if (r)
			goto bad;
		hp.addrlen = sizeof(*sin6);
		hp.is_ip = true;
	} else if (s[0] == '[') {
		goto bad; /* brackets hold IPv6 only */
	} else if (inet_pton(AF_INET, hp.host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		hp.addrlen = sizeof(*sin);
		hp.is_ip = true;
	}
	/* A missing port is the likelier mistake behind `8080` than a bad name. */
	if (port) {
		if (parse_port(ctx, n, port, plen, &hp.port))
			return -EINVAL;
	} else if (default_port) {
		hp.port = default_port;
	} else {
		return conf_error(ctx, n, "missing port in " CONF_QFMT, Q(n));
	}
	if (!hp.is_ip && !valid_hostname(host, hlen))
		return conf_error(ctx, n, "invalid host name '%.*s'", (int)MIN(hlen, 64), host);
	if (hp.addr.ss_family == AF_INET6)
		sin6->sin6_port = htons(hp.port);
	else if (hp.is_ip)
		sin->sin_port = htons(hp.port);
	*out = hp;
	return 0;
bad:
	return conf_error(ctx, n, "invalid address " CONF_QFMT, Q(n));
}

/* ---- networks ------------------------------------------------------------------ */

int conf_get_network(struct conf_ctx *ctx, const struct conf_node *n, struct conf_net *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *s = NULL, *slash;
	struct conf_net net;
	unsigned maxp, prefix;

	memset(&net, 0, sizeof(net));
	if (want_scalar(ctx, n, "a network") || conf_get_str(ctx, n, &s))
		return -EINVAL;
	if (n->len >= sizeof(buf))
		goto bad;
	slash = strchr(s, '/');
	memcpy(buf, s, slash ? (size_t)(slash - s) : n->len);
	buf[slash ? (size_t)(slash - s) : n->len] = '\0';
	if (inet_pton(AF_INET, buf, net.addr) == 1) {
		net.family = AF_INET;
		maxp = 32;
	} else if (inet_pton(AF_INET6, buf, net.addr) == 1) {
		net.family = AF_INET6;
		maxp = 128;
	} else {
		goto bad;
	}
	prefix = maxp;
	if (slash) {
		const char *p = slash + 1;
		if (!*p || strlen(p) > 3)
			goto bad;
		prefix = 0;
		for (; *p; p++) {
			if (!is_digit(*p))
				goto bad;
			prefix = prefix * 10 + (unsigned)(*p - '0');
		}
		if (prefix > maxp)
			return conf_error(ctx, n,
					  "prefix length %u out of range (0..%u) in " CONF_QFMT,
					  prefix, maxp, Q(n));
	}
	net.prefix = (uint8_t)prefix;
	for (unsigned bit = prefix; bit < maxp; bit++)
		if (net.addr[bit / 8] & (0x80u >> (bit % 8)))
			return conf_error(ctx, n, "%s has host bits set", s);
	*out = net;
	return 0;
bad:
	return conf_error(ctx, n,
			  "invalid network " CONF_QFMT " (use e.g. 10.0.0.0/8, ::1/128 or an IP)",
			  Q(n));
}

/* ---- enums ------------------------------------------------------------------------ */

int conf_get_enum(struct conf_ctx *ctx, const struct conf_node *n, const struct conf_enum *tab,
		  int *out)
{
	char norm[128], list[512];
	size_t off = 0;

	if (want_scalar(ctx, n, "a string"))
		return -EINVAL;
	if (n->len < sizeof(norm)) {
		conf_normalize(n->str, n->len, norm, sizeof(norm));
		for (const struct conf_enum *e = tab; e->name; e++) {
			if (strcmp(norm, e->name) == 0) {
				*out = e->value;
				return 0;
			}
		}
	}
	list[0] = '\0';
	for (const struct conf_enum *e = tab; e->name && off < sizeof(list); e++) {
		int w = snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "", e->name);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	return conf_error(ctx, n, "invalid value " CONF_QFMT " (expected one of: %s)", Q(n), list);
}
