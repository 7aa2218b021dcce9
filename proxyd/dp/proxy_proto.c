/* PROXY protocol v1/v2 header parser; see proxy_proto.h. */
#include "proxyd/dp/proxy_proto.h"

#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

static const uint8_t v1_sig[] = "PROXY ";
#define V1_SIG_LEN 6
static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
				   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* in.len bytes of in against the first bytes of sig (n long): 1 when in
 * holds all of sig, 0 when it is a strict prefix, -1 on a mismatch. */
static int sig_match(struct slice in, const uint8_t *sig, size_t n)
{
	size_t k = MIN(in.len, n);

	if (memcmp(in.p, sig, k) != 0)
		return -1;
	return k == n ? 1 : 0;
}

/* Next space-separated token of line starting at *pos; exactly one space
 * separates tokens. last: the token ends the line. */
static bool v1_token(struct slice line, size_t *pos, bool last, struct slice *tok)
{
	size_t i = *pos;

	while (i < line.len && line.p[i] != ' ')
		i++;
	if (i == *pos)
		return false;
	if (last ? i != line.len : i == line.len)
		return false;
	*tok = slice_sub(line, *pos, i - *pos);
	*pos = last ? i : i + 1;
	return true;
}

static bool v1_addr(struct slice tok, int af, struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN];

	if (tok.len >= sizeof(buf))
		return false;
	memcpy(buf, tok.p, tok.len);
	buf[tok.len] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		return inet_pton(AF_INET, buf, &sin->sin_addr) == 1;
	}
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	sin6->sin6_family = AF_INET6;
	return inet_pton(AF_INET6, buf, &sin6->sin6_addr) == 1;
}

/* Decimal 0..65535, no sign, no leading zero (except "0" itself). */
static bool v1_port(struct slice tok, uint16_t *port)
{
	uint32_t v = 0;

	if (tok.len == 0 || tok.len > 5 || (tok.len > 1 && tok.p[0] == '0'))
		return false;
	for (size_t i = 0; i < tok.len; i++) {
		if (tok.p[i] < '0' || tok.p[i] > '9')
			return false;
		v = v * 10 + (uint32_t)(tok.p[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static enum parse_res parse_v1(struct slice in, struct proxy_proto_hdr *out, size_t *used,
			       const char **why)
{
	size_t lim = MIN(in.len, (size_t)PROXY_PROTO_V1_MAX);
	size_t nl = SLICE_NPOS;
	int m = sig_match(in, v1_sig, V1_SIG_LEN);

	if (m < 0) {
		*why = "bad v1 signature";
		return PARSE_INVALID;
	}
	for (size_t i = 0; i < lim; i++) {
		if (in.p[i] == '\n') {
			nl = i;
			break;
		}
	}
	if (nl == SLICE_NPOS) {
		if (in.len >= PROXY_PROTO_V1_MAX) {
			*why = "v1 line longer than 107 bytes";
			return PARSE_TOO_BIG;
		}
		return PARSE_AGAIN;
	}
	if (nl < V1_SIG_LEN || in.p[nl - 1] != '\r') {
		*why = "v1 line not ended by CRLF";
		return PARSE_INVALID;
	}
	struct slice line = slice_sub(in, V1_SIG_LEN, nl - 1 - V1_SIG_LEN);
	struct slice proto, s_ip, d_ip, s_port, d_port;
	uint16_t sp, dp;
	size_t pos = 0;
	int af;

	memset(out, 0, sizeof(*out));
	out->version = 1;
	*used = nl + 1;
	if (line.len >= 7 && memcmp(line.p, "UNKNOWN", 7) == 0 &&
	    (line.len == 7 || line.p[7] == ' ')) {
		/* The rest of an UNKNOWN line is ignored (spec §2.1). */
		out->local = true;
		return PARSE_OK;
	}
	if (!v1_token(line, &pos, false, &proto)) {
		*why = "v1 protocol missing";
		return PARSE_INVALID;
	}
	if (slice_eq_cstr(proto, "TCP4")) {
		af = AF_INET;
	} else if (slice_eq_cstr(proto, "TCP6")) {
		af = AF_INET6;
	} else {
		*why = "v1 protocol not TCP4, TCP6 or UNKNOWN";
		return PARSE_INVALID;
	}
	if (!v1_token(line, &pos, false, &s_ip) || !v1_token(line, &pos, false, &d_ip) ||
	    !v1_token(line, &pos, false, &s_port) || !v1_token(line, &pos, true, &d_port)) {
		*why = "v1 line does not have 4 single-space separated fields";
		return PARSE_INVALID;
	}
	if (!v1_addr(s_ip, af, &out->src) || !v1_addr(d_ip, af, &out->dst)) {
		*why = "v1 address does not match its protocol";
		return PARSE_INVALID;
	}
	if (!v1_port(s_port, &sp) || !v1_port(d_port, &dp)) {
		*why = "v1 port not a decimal in 0..65535";
		return PARSE_INVALID;
	}
	set_port(&out->src, sp);
	set_port(&out->dst, dp);
	return PARSE_OK;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static enum parse_res parse_v2(struct slice in, struct proxy_proto_hdr *out, size_t *used,
			       const char **why)
{
	int m = sig_match(in, v2_sig, sizeof(v2_sig));

	if (m < 0) {
		*why = "bad v2 signature";
		return PARSE_INVALID;
	}
	if (in.len > 12 && (in.p[12] >> 4) != 2) {
		*why = "v2 version nibble is not 2";
		return PARSE_INVALID;
	}
	if (in.len > 12 && (in.p[12] & 0x0f) > 1) {
		*why = "v2 command is neither LOCAL nor PROXY";
		return PARSE_INVALID;
	}
	if (in.len > 13 && ((in.p[13] >> 4) > 3 || (in.p[13] & 0x0f) > 2)) {
		*why = "v2 unknown address family or transport";
		return PARSE_INVALID;
	}
	if (in.len < PROXY_PROTO_V2_HDR)
		return PARSE_AGAIN;

	uint16_t len = be16(in.p + 14);
	bool proxy = (in.p[12] & 0x0f) == 1;
	uint8_t fam = in.p[13] >> 4;
	uint8_t trans = in.p[13] & 0x0f;
	const uint8_t *a = in.p + PROXY_PROTO_V2_HDR;

	if (len > PROXY_PROTO_V2_MAX_LEN) {
		*why = "v2 length over our maximum";
		return PARSE_TOO_BIG;
	}
	if (in.len < (size_t)PROXY_PROTO_V2_HDR + len)
		return PARSE_AGAIN;
	memset(out, 0, sizeof(*out));
	out->version = 2;
	*used = (size_t)PROXY_PROTO_V2_HDR + len;
	if (!proxy || fam == 0 || fam == 3) {
		/* LOCAL, or an address we cannot use as a client address:
		 * keep the real peer (spec §2.2: the receiver must accept it
		 * and ignore the address block). */
		out->local = true;
		return PARSE_OK;
	}
	if (trans != 1) {
		*why = "v2 PROXY over a transport other than STREAM";
		return PARSE_INVALID;
	}
	if (fam == 1) {
		struct sockaddr_in *s = (struct sockaddr_in *)&out->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&out->dst;

		if (len < 12) {
			*why = "v2 length too short for INET addresses";
			return PARSE_INVALID;
		}
		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);
		memcpy(&d->sin_port, a + 10, 2);
		return PARSE_OK;
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->src;
	struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&out->dst;

	if (len < 36) {
		*why = "v2 length too short for INET6 addresses";
		return PARSE_INVALID;
	}
	s6->sin6_family = d6->sin6_family = AF_INET6;
	memcpy(&s6->sin6_addr, a, 16);
	memcpy(&d6->sin6_addr, a + 16, 16);
	memcpy(&s6->sin6_port, a + 32, 2);
	memcpy(&d6->sin6_port, a + 34, 2);
	return PARSE_OK;
}

enum parse_res proxy_proto_parse(struct slice in, unsigned version, struct proxy_proto_hdr *out,
				 size_t *used, const char **why)
{
	*why = NULL;
	if (in.len == 0)
		return PARSE_AGAIN;
	if (version == 1 || (version == 0 && in.p[0] == 'P'))
		return parse_v1(in, out, used, why);
	if (version == 2 || (version == 0 && in.p[0] == v2_sig[0]))
		return parse_v2(in, out, used, why);
	*why = "not a PROXY protocol header";
	return PARSE_INVALID;
}
