/* SOCKS message parsers and reply builders (see socks_parse.h). */
#include "proxyd/dp/socks_parse.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

enum parse_res socks5_parse_greeting(struct slice in, struct socks5_greeting *out, size_t *used,
				     const char **why)
{
	*why = NULL;
	if (in.len < 1)
		return PARSE_AGAIN;
	if (in.p[0] != 5) {
		*why = "invalid socks version";
		return PARSE_INVALID;
	}
	if (in.len < 2)
		return PARSE_AGAIN;
	if (in.p[1] == 0) {
		*why = "no authentication method offered";
		return PARSE_INVALID;
	}
	if (in.len < 2u + in.p[1])
		return PARSE_AGAIN;
	out->nmethods = in.p[1];
	out->methods = in.p + 2;
	*used = 2u + in.p[1];
	return PARSE_OK;
}

bool socks5_greeting_has(const struct socks5_greeting *g, uint8_t m)
{
	return memchr(g->methods, m, g->nmethods) != NULL;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

enum parse_res socks5_parse_request(struct slice in, struct socks_request *out, size_t *used,
				    uint8_t *reply, const char **why)
{
	size_t need;

	*why = NULL;
	*reply = SOCKS5_REP_GENERAL_FAILURE;
	memset(out, 0, sizeof(*out));
	if (in.len >= 1 && in.p[0] != 5) {
		*why = "invalid socks version in request";
		return PARSE_INVALID;
	}
	if (in.len >= 3 && in.p[2] != 0) {
		*why = "non-zero reserved byte in request";
		return PARSE_INVALID;
	}
	if (in.len < 5) /* VER CMD RSV ATYP + first address byte */
		return PARSE_AGAIN;
	out->version = 5;
	out->cmd = in.p[1];
	switch (in.p[3]) {
	case SOCKS_ATYP_IPV4:
		need = 4 + 4 + 2;
		if (in.len < need)
			return PARSE_AGAIN;
		memcpy(out->ip, in.p + 4, 4);
		break;
	case SOCKS_ATYP_IPV6:
		need = 4 + 16 + 2;
		if (in.len < need)
			return PARSE_AGAIN;
		memcpy(out->ip, in.p + 4, 16);
		break;
	case SOCKS_ATYP_DOMAIN:
		if (in.p[4] == 0) {
			*why = "empty domain name";
			return PARSE_INVALID;
		}
		need = 4 + 1 + (size_t)in.p[4] + 2;
		if (in.len < need)
			return PARSE_AGAIN;
		out->host = slice_make(in.p + 5, in.p[4]);
		if (memchr(out->host.p, '\0', out->host.len) != NULL) {
			*why = "NUL byte in domain name";
			return PARSE_INVALID;
		}
		break;
	default:
		*reply = SOCKS5_REP_ATYP_UNSUPPORTED;
		*why = "unsupported address type";
		return PARSE_INVALID;
	}
	out->atyp = (enum socks_atyp)in.p[3];
	out->port = be16(in.p + need - 2);
	*used = need;
	if (out->cmd != SOCKS_CMD_CONNECT && out->cmd != SOCKS_CMD_BIND &&
	    out->cmd != SOCKS_CMD_UDP_ASSOCIATE) {
		*reply = SOCKS5_REP_CMD_UNSUPPORTED;
		*why = "unknown socks command";
		return PARSE_INVALID;
	}
	return PARSE_OK;
}

/* A NUL-terminated field starting at off: PARSE_OK with its length,
 * PARSE_AGAIN, or PARSE_TOO_BIG past SOCKS4_MAX_FIELD bytes. */
static enum parse_res nul_field(struct slice in, size_t off, size_t *len)
{
	size_t avail = in.len > off ? in.len - off : 0;
	size_t scan = MIN(avail, (size_t)SOCKS4_MAX_FIELD + 1);
	const uint8_t *z = scan ? memchr(in.p + off, 0, scan) : NULL;

	if (z != NULL) {
		*len = (size_t)(z - (in.p + off));
		return PARSE_OK;
	}
	return avail > SOCKS4_MAX_FIELD ? PARSE_TOO_BIG : PARSE_AGAIN;
}

enum parse_res socks4_parse_request(struct slice in, struct socks_request *out, size_t *used,
				    const char **why)
{
	size_t ulen, hlen, off;
	enum parse_res r;

	*why = NULL;
	memset(out, 0, sizeof(*out));
	if (in.len >= 1 && in.p[0] != 4) {
		*why = "invalid socks version";
		return PARSE_INVALID;
	}
	if (in.len >= 2 && in.p[1] != SOCKS_CMD_CONNECT && in.p[1] != SOCKS_CMD_BIND) {
		*why = "invalid socks4 command";
		return PARSE_INVALID;
	}
	if (in.len < 8)
		return PARSE_AGAIN;
	out->version = 4;
	out->cmd = in.p[1];
	out->port = be16(in.p + 2);
	r = nul_field(in, 8, &ulen);
	if (r != PARSE_OK) {
		if (r == PARSE_TOO_BIG)
			*why = "socks4 user id too long";
		return r;
	}
	out->user = slice_make(in.p + 8, ulen);
	off = 8 + ulen + 1;
	/* SOCKS4a: DSTIP 0.0.0.x with x != 0 announces a host name */
	if (in.p[4] == 0 && in.p[5] == 0 && in.p[6] == 0 && in.p[7] != 0) {
		r = nul_field(in, off, &hlen);
		if (r != PARSE_OK) {
			if (r == PARSE_TOO_BIG)
				*why = "socks4a host name too long";
			return r;
		}
		if (hlen == 0) {
			*why = "empty socks4a host name";
			return PARSE_INVALID;
		}
		out->atyp = SOCKS_ATYP_DOMAIN;
		out->host = slice_make(in.p + off, hlen);
		*used = off + hlen + 1;
		return PARSE_OK;
	}
	out->atyp = SOCKS_ATYP_IPV4;
	memcpy(out->ip, in.p + 4, 4);
	*used = off;
	return PARSE_OK;
}

size_t socks5_build_reply(uint8_t rep, const struct sockaddr *bound, uint8_t out[22])
{
	static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	out[0] = 5;
	out[1] = rep;
	out[2] = 0;
	if (bound != NULL && bound->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)bound;
		uint16_t port = ntohs(in6->sin6_port);

		if (memcmp(in6->sin6_addr.s6_addr, v4mapped, 12) == 0) {
			out[3] = SOCKS_ATYP_IPV4;
			memcpy(out + 4, in6->sin6_addr.s6_addr + 12, 4);
			out[8] = (uint8_t)(port >> 8);
			out[9] = (uint8_t)port;
			return 10;
		}
		out[3] = SOCKS_ATYP_IPV6;
		memcpy(out + 4, in6->sin6_addr.s6_addr, 16);
		out[20] = (uint8_t)(port >> 8);
		out[21] = (uint8_t)port;
		return 22;
	}
	out[3] = SOCKS_ATYP_IPV4;
	memset(out + 4, 0, 6);
	if (bound != NULL && bound->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)bound;
		uint16_t port = ntohs(in->sin_port);

		memcpy(out + 4, &in->sin_addr, 4);
		out[8] = (uint8_t)(port >> 8);
		out[9] = (uint8_t)port;
	}
	return 10;
}

size_t socks4_build_reply(uint8_t rep, uint8_t out[8])
{
	memset(out, 0, 8);
	out[1] = rep;
	return 8;
}

enum parse_res socks5_parse_udp(struct slice d, struct socks5_udp *out, const char **why)
{
	size_t need;

	*why = NULL;
	memset(out, 0, sizeof(*out));
	if (d.len < 4 + 1) {
		*why = "truncated udp header";
		return PARSE_INVALID;
	}
	out->frag = d.p[2];
	switch (d.p[3]) {
	case SOCKS_ATYP_IPV4:
		need = 4 + 4 + 2;
		if (d.len < need)
			break;
		memcpy(out->ip, d.p + 4, 4);
		goto ok;
	case SOCKS_ATYP_IPV6:
		need = 4 + 16 + 2;
		if (d.len < need)
			break;
		memcpy(out->ip, d.p + 4, 16);
		goto ok;
	case SOCKS_ATYP_DOMAIN:
		need = 4 + 1 + (size_t)d.p[4] + 2;
		if (d.p[4] == 0) {
			*why = "empty domain name in udp header";
			return PARSE_INVALID;
		}
		if (d.len < need)
			break;
		out->host = slice_make(d.p + 5, d.p[4]);
		goto ok;
	default:
		*why = "unsupported address type in udp header";
		return PARSE_INVALID;
	}
	*why = "truncated udp header";
	return PARSE_INVALID;
ok:
	out->atyp = (enum socks_atyp)d.p[3];
	out->port = be16(d.p + need - 2);
	out->payload = slice_skip(d, need);
	return PARSE_OK;
}

size_t socks5_build_udp_header(const struct sockaddr *sa, uint8_t out[22])
{
	/* the same address encoding as a reply, after RSV RSV FRAG */
	uint8_t rep[22];
	size_t n = socks5_build_reply(0, sa, rep);

	out[0] = out[1] = out[2] = 0;
	memcpy(out + 3, rep + 3, n - 3);
	return n;
}
