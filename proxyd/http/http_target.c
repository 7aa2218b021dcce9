/* Request-target and authority parsing (RFC 9112 §3.2, RFC 3986 §3.2).
 * Strict on purpose: whatever we accept is what the resolver, the ACLs and
 * the upstream will all read the same way. */
#include "proxyd/http/http_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "proxyd/http/http_int.h"

static const uint8_t slash[] = "/";

static bool is_alpha(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
static bool is_scheme_byte(uint8_t c, bool first)
{
	return is_alpha(c) || (!first && (is_digit(c) || c == '+' || c == '-' || c == '.'));
}

/* Letters, digits, '-', '.', '_': what DNS names (and IPv4) are made of. */
static bool is_host_byte(uint8_t c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

uint16_t http_scheme_default_port(struct slice scheme)
{
	if (slice_case_eq_cstr(scheme, "http"))
		return 80;
	if (slice_case_eq_cstr(scheme, "https"))
		return 443;
	if (slice_case_eq_cstr(scheme, "ftp"))
		return 21;
	return 0;
}

bool http_target_scheme_is(const struct http_target *t, const char *scheme)
{
	return slice_case_eq_cstr(t->scheme, scheme);
}

/* Strict dotted quad: four decimal parts 0..255 without leading zeros. */
static bool is_dotted_quad(struct slice s)
{
	unsigned parts = 0;
	size_t i = 0;

	while (i <= s.len) {
		size_t start = i;
		unsigned v = 0;

		while (i < s.len && is_digit(s.p[i])) {
			v = v * 10 + (unsigned)(s.p[i] - '0');
			if (v > 255)
				return false;
			i++;
		}
		if (i == start || (i - start > 1 && s.p[start] == '0'))
			return false;
		parts++;
		if (i == s.len)
			break;
		if (s.p[i] != '.' || parts == 4)
			return false;
		i++;
	}
	return parts == 4;
}

/* A name whose last label is all digits or 0x-hex is read as an IPv4
 * address by inet_aton() and many resolvers ("2130706433", "0x7f.1",
 * "127.1"): such hosts must be a strict dotted quad or are refused, so the
 * ACLs never see a name that secretly is an address. */
static bool ends_in_number(struct slice h)
{
	size_t end = h.len, start;
	bool digits = true;

	if (end && h.p[end - 1] == '.')
		end--;
	start = end;
	while (start && h.p[start - 1] != '.')
		start--;
	if (start == end)
		return false;
	for (size_t i = start; i < end; i++)
		digits = digits && is_digit(h.p[i]);
	if (digits)
		return true;
	if (end - start >= 2 && h.p[start] == '0' && slice_lower(h.p[start + 1]) == 'x') {
		for (size_t i = start + 2; i < end; i++)
			if (slice_hex_digit(h.p[i]) < 0)
				return false;
		return true;
	}
	return false;
}

static enum parse_res parse_port(struct slice s, uint16_t *port, const char **why)
{
	uint64_t v;

	if (s.len == 0) {
		*why = "empty port";
		return PARSE_INVALID;
	}
	switch (slice_parse_u64(s, 65535, &v)) {
	case PARSE_OK:
		break;
	case PARSE_TOO_BIG:
		*why = "port out of range (1..65535)";
		return PARSE_INVALID;
	default:
		*why = "non-numeric port";
		return PARSE_INVALID;
	}
	if (v == 0) {
		*why = "port 0";
		return PARSE_INVALID;
	}
	*port = (uint16_t)v;
	return PARSE_OK;
}

static enum parse_res parse_ipv6_literal(struct slice s, struct slice *host, size_t *end,
					 const char **why)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;
	size_t close = slice_find(s, ']');

	if (close == SLICE_NPOS) {
		*why = "unterminated IPv6 literal";
		return PARSE_INVALID;
	}
	*host = slice_sub(s, 1, close - 1);
	for (size_t i = 0; i < host->len; i++) {
		uint8_t c = host->p[i];
		if (slice_hex_digit(c) < 0 && c != ':' && c != '.') {
			*why = "invalid IPv6 literal";
			return PARSE_INVALID;
		}
	}
	if (slice_to_cstr(*host, buf, sizeof(buf)) != 0 || inet_pton(AF_INET6, buf, &a) != 1) {
		*why = "invalid IPv6 literal";
		return PARSE_INVALID;
	}
	*end = close + 1;
	return PARSE_OK;
}

enum parse_res http_parse_authority(struct slice s, struct slice *host, uint16_t *port, bool *is_ip,
				    const char **why)
{
	size_t end = 0;
	const char *dummy;

	if (!why)
		why = &dummy;
	*port = 0;
	*is_ip = false;
	*host = slice_make(s.p, 0);
	if (s.len == 0) {
		*why = "empty host";
		return PARSE_INVALID;
	}
	if (s.p[0] == '[') {
		if (parse_ipv6_literal(s, host, &end, why) != PARSE_OK)
			return PARSE_INVALID;
		*is_ip = true;
	} else {
		while (end < s.len && is_host_byte(s.p[end]))
			end++;
		*host = slice_make(s.p, end);
		if (end < s.len && s.p[end] != ':') {
			*why = s.p[end] == '@' ? "userinfo not allowed here"
					       : "invalid byte in host";
			return PARSE_INVALID;
		}
		if (end == 0) {
			*why = "empty host";
			return PARSE_INVALID;
		}
		if (end > HTTP_MAX_HOST_LEN) {
			*why = "host name too long";
			return PARSE_INVALID;
		}
		if (ends_in_number(*host)) {
			if (!is_dotted_quad(*host)) {
				*why = "numeric host is not a dotted-quad IPv4 address";
				return PARSE_INVALID;
			}
			*is_ip = true;
		}
	}
	if (end == s.len)
		return PARSE_OK;
	if (s.p[end] != ':') {
		*why = "junk after IPv6 literal";
		return PARSE_INVALID;
	}
	return parse_port(slice_skip(s, end + 1), port, why);
}

/* scheme "://" [userinfo "@"] host [":" port] [path-abempty] ["?" query] */
static enum parse_res parse_absolute(struct slice raw, struct http_target *t, const char **why)
{
	size_t i = 0, auth_end;
	struct slice auth;
	size_t at;

	while (i < raw.len && is_scheme_byte(raw.p[i], i == 0))
		i++;
	if (i == 0 || raw.len - i < 3 || memcmp(raw.p + i, "://", 3) != 0) {
		*why = "invalid request-target";
		return PARSE_INVALID;
	}
	t->form = HTTP_TGT_ABSOLUTE;
	t->scheme = slice_make(raw.p, i);
	auth_end = i + 3;
	while (auth_end < raw.len && raw.p[auth_end] != '/' && raw.p[auth_end] != '?')
		auth_end++;
	auth = slice_sub(raw, i + 3, auth_end - i - 3);
	for (size_t k = 0; k < auth.len; k++) {
		if (auth.p[k] == '\\') {
			*why = "backslash in URI authority";
			return PARSE_INVALID;
		}
	}
	at = slice_find(auth, '@');
	if (at != SLICE_NPOS) {
		t->userinfo = slice_make(auth.p, at);
		auth = slice_skip(auth, at + 1);
		if (slice_find(auth, '@') != SLICE_NPOS) {
			*why = "'@' in URI userinfo";
			return PARSE_INVALID;
		}
		if (slice_find(t->userinfo, '[') != SLICE_NPOS ||
		    slice_find(t->userinfo, ']') != SLICE_NPOS) {
			*why = "invalid byte in URI userinfo";
			return PARSE_INVALID;
		}
	}
	if (http_parse_authority(auth, &t->host, &t->port, &t->host_is_ip, why) != PARSE_OK)
		return PARSE_INVALID;
	if (t->port == 0)
		t->port = http_scheme_default_port(t->scheme);
	t->path = slice_skip(raw, auth_end);
	if (t->path.len == 0)
		t->path = slice_make(slash, 1);
	return PARSE_OK;
}

enum parse_res http_parse_target(enum http_method m, struct slice raw, struct http_target *t,
				 const char **why)
{
	const char *dummy;

	if (!why)
		why = &dummy;
	memset(t, 0, sizeof(*t));
	if (raw.len == 0) {
		*why = "empty request-target";
		return PARSE_INVALID;
	}
	for (size_t i = 0; i < raw.len; i++) {
		uint8_t c = raw.p[i];
		if (c <= 0x20 || c >= 0x7f) {
			*why = "invalid byte in request-target";
			return PARSE_INVALID;
		}
		if (c == '#') {
			*why = "fragment in request-target";
			return PARSE_INVALID;
		}
	}
	if (m == HTTP_M_CONNECT) {
		/* authority-form only (RFC 9112 §3.2.3); g3 defaults the port to 443 */
		if (slice_find(raw, '/') != SLICE_NPOS || slice_find(raw, '?') != SLICE_NPOS) {
			*why = "CONNECT target is not authority-form";
			return PARSE_INVALID;
		}
		t->form = HTTP_TGT_AUTHORITY;
		if (http_parse_authority(raw, &t->host, &t->port, &t->host_is_ip, why) != PARSE_OK)
			return PARSE_INVALID;
		if (t->port == 0)
			t->port = 443;
		return PARSE_OK;
	}
	if (raw.p[0] == '/') {
		t->form = HTTP_TGT_ORIGIN;
		t->path = raw;
		return PARSE_OK;
	}
	if (raw.len == 1 && raw.p[0] == '*') {
		if (m != HTTP_M_OPTIONS) {
			*why = "asterisk-form target without OPTIONS";
			return PARSE_INVALID;
		}
		t->form = HTTP_TGT_ASTERISK;
		return PARSE_OK;
	}
	return parse_absolute(raw, t, why);
}
