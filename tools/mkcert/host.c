/* mkcert --host values: IP literal or DNS name (optionally a leftmost
 * wildcard), judged before anything is generated so a typo never ends up
 * in a certificate. */
#include "tools/mkcert/mkcert.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static enum mkcert_host_kind bad(char *err, size_t errcap, const char *fmt, ...) PRINTF_FMT(3, 4);

static enum mkcert_host_kind bad(char *err, size_t errcap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errcap, fmt, ap);
	va_end(ap);
	return MKCERT_HOST_INVALID;
}

static bool ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Check a DNS name of at least min_labels labels; returns NULL or why not. */
static const char *dns_name_problem(const char *s, size_t len, unsigned min_labels)
{
	size_t i, start = 0;
	unsigned labels = 0;
	bool last_digits = true;

	if (len == 0)
		return "empty name";
	for (i = 0; i <= len; i++) {
		size_t llen;

		if (i < len && s[i] != '.') {
			if (!ldh(s[i])) {
				if (s[i] == '*')
					return "'*' is only allowed as the whole leftmost label";
				if ((unsigned char)s[i] >= 0x80)
					return "non-ASCII character (use the punycode xn-- form)";
				return "character not allowed in a DNS name";
			}
			continue;
		}
		llen = i - start;
		if (llen == 0)
			return i == len ? "trailing dot" : "empty label";
		if (llen > 63)
			return "label longer than 63 bytes";
		if (s[start] == '-' || s[i - 1] == '-')
			return "label starts or ends with '-'";
		last_digits = strspn(s + start, "0123456789") >= llen;
		labels++;
		start = i + 1;
	}
	if (last_digits)
		return "last label is all digits (not an IP address either)";
	if (labels < min_labels)
		return "a wildcard needs at least two labels after '*.'";
	return NULL;
}

enum mkcert_host_kind mkcert_host_classify(const char *s, struct mkcert_host *h, char *err,
					   size_t errcap)
{
	size_t len = strlen(s);
	char tmp[INET6_ADDRSTRLEN + 2];
	const char *why;

	memset(h, 0, sizeof(*h));
	if (len == 0)
		return bad(err, errcap, "empty host");
	if (len > MKCERT_HOST_MAX)
		return bad(err, errcap, "longer than %d bytes", MKCERT_HOST_MAX);
	/* "[::1]" is how IPv6 appears in URLs; accept it without brackets */
	if (s[0] == '[') {
		if (s[len - 1] != ']' || len - 2 >= sizeof(tmp))
			return bad(err, errcap, "unbalanced '[' or not an IPv6 address");
		memcpy(tmp, s + 1, len - 2);
		tmp[len - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, h->ip) != 1)
			return bad(err, errcap, "not an IPv6 address inside [ ]");
		h->ip_len = 16;
		inet_ntop(AF_INET6, h->ip, h->name, sizeof(h->name));
		return h->kind = MKCERT_HOST_IPV6;
	}
	if (inet_pton(AF_INET, s, h->ip) == 1) {
		h->ip_len = 4;
		inet_ntop(AF_INET, h->ip, h->name, sizeof(h->name));
		return h->kind = MKCERT_HOST_IPV4;
	}
	if (strchr(s, ':')) {
		if (strchr(s, '%'))
			return bad(err, errcap, "IPv6 zone ids cannot go in a certificate");
		if (inet_pton(AF_INET6, s, h->ip) != 1)
			return bad(err, errcap,
				   "not an IPv6 address (and ':' is not allowed in a "
				   "DNS name)");
		h->ip_len = 16;
		inet_ntop(AF_INET6, h->ip, h->name, sizeof(h->name));
		return h->kind = MKCERT_HOST_IPV6;
	}
	if (s[0] == '*') {
		if (len < 2 || s[1] != '.')
			return bad(err, errcap,
				   "a wildcard must be the whole leftmost label: "
				   "'*.example.net'");
		why = dns_name_problem(s + 2, len - 2, 2);
		if (why)
			return bad(err, errcap, "%s", why);
		memcpy(h->name, s, len + 1);
		return h->kind = MKCERT_HOST_WILDCARD;
	}
	why = dns_name_problem(s, len, 1);
	if (why)
		return bad(err, errcap, "%s", why);
	memcpy(h->name, s, len + 1);
	return h->kind = MKCERT_HOST_DNS;
}
