/* Next-hop proxy protocols: builders and parsers (see peer_proto.h). */
#include "proxyd/dp/peer_proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "common/sock.h"

/* ---- PROXY protocol ------------------------------------------------------- */

static const uint8_t PP2_SIG[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
				    0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* addr (16 bytes, v4-mapped when v6) and port of a sockaddr */
static void to_v6(const struct sockaddr *sa, uint8_t out[16], uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, &s4->sin_addr, 4);
		*port = s4->sin_port;
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
		memcpy(out, &s6->sin6_addr, 16);
		*port = s6->sin6_port;
	}
}

int peer_pp_build(unsigned version, const struct sockaddr *src, const struct sockaddr *dst,
		  uint8_t *out, size_t cap)
{
	bool v4 = src->sa_family == AF_INET && dst->sa_family == AF_INET;
	uint8_t a[16], b[16];
	uint16_t pa, pb;

	if ((src->sa_family != AF_INET && src->sa_family != AF_INET6) ||
	    (dst->sa_family != AF_INET && dst->sa_family != AF_INET6))
		return -EINVAL;
	to_v6(src, a, &pa);
	to_v6(dst, b, &pb);
	if (version == 1) {
		char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
		int n;
		if (inet_ntop(v4 ? AF_INET : AF_INET6,
			      v4 ? (const void *)(a + 12) : (const void *)a, sa,
			      sizeof(sa)) == NULL ||
		    inet_ntop(v4 ? AF_INET : AF_INET6,
			      v4 ? (const void *)(b + 12) : (const void *)b, da,
			      sizeof(da)) == NULL)
			return -EINVAL;
		n = snprintf((char *)out, cap, "PROXY %s %s %s %u %u\r\n", v4 ? "TCP4" : "TCP6", sa,
			     da, ntohs(pa), ntohs(pb));
		if (n < 0 || (size_t)n >= cap)
			return -ENOSPC;
		return n;
	}
	if (version != 2)
		return -EINVAL;
	{
		size_t alen = v4 ? 12 : 36, n = 16 + alen;
		uint8_t *p = out + 16;
		if (cap < n)
			return -ENOSPC;
		memcpy(out, PP2_SIG, 12);
		out[12] = 0x21;		    /* version 2, PROXY */
		out[13] = v4 ? 0x11 : 0x21; /* INET / INET6, STREAM */
		out[14] = (uint8_t)(alen >> 8);
		out[15] = (uint8_t)alen;
		if (v4) {
			memcpy(p, a + 12, 4);
			memcpy(p + 4, b + 12, 4);
			p += 8;
		} else {
			memcpy(p, a, 16);
			memcpy(p + 16, b, 16);
			p += 32;
		}
		memcpy(p, &pa, 2);
		memcpy(p + 2, &pb, 2);
		return (int)n;
	}
}

/* ---- HTTP CONNECT ------------------------------------------------------------- */

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, i = 0;

	for (; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	return o;
}

int peer_basic_line(const char *user, const char *pass, char *out, size_t cap)
{
	uint8_t cred[512];
	size_t ul = strlen(user), pl = strlen(pass), n;
	static const char pre[] = "Proxy-Authorization: Basic ";

	if (ul + 1 + pl > sizeof(cred))
		return -ENOSPC;
	memcpy(cred, user, ul); // NOLINT(bugprone-not-null-terminated-result): bytes, not a string
	cred[ul] = ':';
	memcpy(cred + ul + 1, pass, pl); // NOLINT(bugprone-not-null-terminated-result)
	n = ul + 1 + pl;
	if (cap < sizeof(pre) - 1 + (n + 2) / 3 * 4 + 3)
		return -ENOSPC;
	memcpy(out, pre, sizeof(pre) - 1);
	n = sizeof(pre) - 1 + b64_encode(cred, n, out + sizeof(pre) - 1);
	out[n++] = '\r';
	out[n++] = '\n';
	out[n] = '\0';
	return (int)n;
}

int peer_http_connect_build(const char *host, bool host_v6, uint16_t port, const char *auth_line,
			    uint8_t *out, size_t cap)
{
	const char *lb = host_v6 ? "[" : "", *rb = host_v6 ? "]" : "";
	int n = snprintf((char *)out, cap,
			 "CONNECT %s%s%s:%u HTTP/1.1\r\nHost: %s%s%s:%u\r\n%s\r\n", lb, host, rb,
			 port, lb, host, rb, port, auth_line ? auth_line : "");

	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	return n;
}

size_t peer_http_head_end(struct slice in, size_t from)
{
	size_t i = from > 3 ? from - 3 : 0;

	for (; i + 4 <= in.len; i++)
		if (in.p[i] == '\r' && in.p[i + 1] == '\n' && in.p[i + 2] == '\r' &&
		    in.p[i + 3] == '\n')
			return i + 4;
	return 0;
}

static bool is_tchar(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

enum parse_res peer_http_connect_parse(struct slice head, int *status, const char **why)
{
	const uint8_t *p = head.p, *end = head.p + head.len;
	size_t i;

	*status = 0;
	if (head.len < 4 || memcmp(end - 4, "\r\n\r\n", 4) != 0) {
		*why = "response head does not end with an empty line";
		return PARSE_INVALID;
	}
	if (head.len < 13 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
	    p[8] != ' ') {
		*why = "not an HTTP/1.x status line";
		return PARSE_INVALID;
	}
	for (i = 9; i < 12; i++) {
		if (p[i] < '0' || p[i] > '9') {
			*why = "invalid status code";
			return PARSE_INVALID;
		}
	}
	*status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (*status < 100 || *status > 599) {
		*why = "invalid status code";
		return PARSE_INVALID;
	}
	if (p[12] != ' ' && p[12] != '\r') {
		*why = "invalid status line";
		return PARSE_INVALID;
	}
	/* the reason phrase: visible chars, SP, HTAB, obs-text */
	for (i = 12; p + i < end && p[i] != '\r'; i++) {
		if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
			*why = "control character in the status line";
			return PARSE_INVALID;
		}
	}
	/* header lines */
	for (;;) {
		size_t name;
		if (p + i + 1 >= end || p[i] != '\r' || p[i + 1] != '\n') {
			*why = "bare CR in the response head";
			return PARSE_INVALID;
		}
		i += 2;
		if (p + i + 2 == end) /* the empty line */
			break;
		for (name = i; p + i < end && is_tchar(p[i]); i++)
			;
		if (i == name) {
			*why = (p[i] == ' ' || p[i] == '\t')
				       ? "obsolete line folding in the response"
				       : "invalid header name";
			return PARSE_INVALID;
		}
		if (p + i >= end || p[i] != ':') {
			*why = "header line without a colon";
			return PARSE_INVALID;
		}
		for (i++; p + i < end && p[i] != '\r'; i++) {
			if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) {
				*why = "control character in a header value";
				return PARSE_INVALID;
			}
		}
	}
	return PARSE_OK;
}

/* ---- SOCKS5 ------------------------------------------------------------------- */

size_t peer_socks5_greeting(bool with_auth, uint8_t out[4])
{
	out[0] = 0x05;
	out[1] = with_auth ? 2 : 1;
	out[2] = 0x00;
	if (!with_auth)
		return 3;
	out[3] = 0x02;
	return 4;
}

enum parse_res peer_socks5_method(struct slice in, bool with_auth, uint8_t *method,
				  const char **why)
{
	if (in.len < 2)
		return PARSE_AGAIN;
	if (in.p[0] != 0x05) {
		*why = "socks5 peer: bad version in the method reply";
		return PARSE_INVALID;
	}
	*method = in.p[1];
	if (in.p[1] == 0x00 || (with_auth && in.p[1] == 0x02))
		return PARSE_OK;
	*why = in.p[1] == 0xff ? "socks5 peer: no acceptable authentication method"
			       : "socks5 peer: chose a method we did not offer";
	return PARSE_INVALID;
}

int peer_socks5_auth_build(const char *user, const char *pass, uint8_t *out, size_t cap)
{
	size_t ul = strlen(user), pl = strlen(pass);

	if (ul == 0 || ul > 255 || pl > 255 || cap < 3 + ul + pl)
		return -EINVAL;
	out[0] = 0x01;
	out[1] = (uint8_t)ul;
	memcpy(out + 2, user, ul); // NOLINT(bugprone-not-null-terminated-result): RFC 1929 bytes
	out[2 + ul] = (uint8_t)pl;
	memcpy(out + 3 + ul, pass, pl); // NOLINT(bugprone-not-null-terminated-result)
	return (int)(3 + ul + pl);
}

enum parse_res peer_socks5_auth_reply(struct slice in, const char **why)
{
	if (in.len < 2)
		return PARSE_AGAIN;
	if (in.p[0] != 0x01) {
		*why = "socks5 peer: bad version in the authentication reply";
		return PARSE_INVALID;
	}
	if (in.p[1] != 0x00) {
		*why = "socks5 peer: authentication rejected";
		return PARSE_INVALID;
	}
	return PARSE_OK;
}

int peer_socks5_request_build(uint8_t cmd, const char *host, uint16_t port, uint8_t *out,
			      size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	size_t hl = strlen(host), n;

	if (hl == 0 || cap < 10)
		return -EINVAL;
	out[0] = 0x05;
	out[1] = cmd;
	out[2] = 0x00;
	if (sock_ip_parse(slice_make(host, hl), port, &ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			out[3] = 0x01;
			memcpy(out + 4, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
			n = 8;
		} else {
			if (cap < 22)
				return -EINVAL;
			out[3] = 0x04;
			memcpy(out + 4, &((const struct sockaddr_in6 *)&ss)->sin6_addr, 16);
			n = 20;
		}
	} else {
		if (hl > 255 || cap < 7 + hl)
			return -EINVAL;
		out[3] = 0x03;
		out[4] = (uint8_t)hl;
		memcpy(out + 5, host, hl);
		n = 5 + hl;
	}
	out[n++] = (uint8_t)(port >> 8);
	out[n++] = (uint8_t)port;
	return (int)n;
}

static const char *socks5_rep_text(uint8_t rep)
{
	switch (rep) {
	case 0x01:
		return "socks5 peer: general failure";
	case 0x02:
		return "socks5 peer: connection not allowed by ruleset";
	case 0x03:
		return "socks5 peer: network unreachable";
	case 0x04:
		return "socks5 peer: host unreachable";
	case 0x05:
		return "socks5 peer: connection refused";
	case 0x06:
		return "socks5 peer: TTL expired";
	case 0x07:
		return "socks5 peer: command not supported";
	case 0x08:
		return "socks5 peer: address type not supported";
	default:
		return "socks5 peer: unknown failure code";
	}
}

enum parse_res peer_socks5_reply(struct slice in, uint8_t *rep, size_t *need, size_t *used,
				 struct sockaddr_storage *bound, const char **why)
{
	size_t total;

	*need = 5;
	if (in.len < 5)
		return PARSE_AGAIN;
	if (in.p[0] != 0x05) {
		*why = "socks5 peer: bad version in the reply";
		return PARSE_INVALID;
	}
	if (in.p[2] != 0x00) {
		*why = "socks5 peer: reserved byte not zero in the reply";
		return PARSE_INVALID;
	}
	switch (in.p[3]) {
	case 0x01:
		total = 10;
		break;
	case 0x04:
		total = 22;
		break;
	case 0x03:
		if (in.p[4] == 0) {
			*why = "socks5 peer: empty domain in the reply";
			return PARSE_INVALID;
		}
		total = 7 + (size_t)in.p[4];
		break;
	default:
		*why = "socks5 peer: bad address type in the reply";
		return PARSE_INVALID;
	}
	*rep = in.p[1];
	if (in.p[1] != 0x00) {
		/* a failure: no need to wait for the address */
		*why = socks5_rep_text(in.p[1]);
		return PARSE_INVALID;
	}
	*need = total;
	if (in.len < total)
		return PARSE_AGAIN;
	memset(bound, 0, sizeof(*bound));
	if (in.p[3] == 0x01) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)bound;
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, in.p + 4, 4);
		memcpy(&s4->sin_port, in.p + 8, 2);
	} else if (in.p[3] == 0x04) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)bound;
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, in.p + 4, 16);
		memcpy(&s6->sin6_port, in.p + 20, 2);
	}
	*used = total;
	return PARSE_OK;
}
