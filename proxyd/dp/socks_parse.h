/* SOCKS4 / SOCKS4a (the SOCKS 4 protocol note and its 4A extension) and
 * SOCKS5 (RFC 1928) client messages, parsed from bytes: pure functions, no
 * allocation, no I/O. Every parser is prefix-stable: a prefix of a valid
 * message gives PARSE_AGAIN, never a different verdict. */
#ifndef G3C_PROXYD_DP_SOCKS_PARSE_H
#define G3C_PROXYD_DP_SOCKS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/slice.h"
#include "common/util.h"

#define SOCKS5_METHOD_NONE 0x00
#define SOCKS5_METHOD_USER 0x02
#define SOCKS5_METHOD_NO_ACCEPTABLE 0xff

#define SOCKS_CMD_CONNECT 0x01
#define SOCKS_CMD_BIND 0x02
#define SOCKS_CMD_UDP_ASSOCIATE 0x03

/* SOCKS5 reply codes (RFC 1928 §6, plus 0x09 as g3 sends on timeouts). */
#define SOCKS5_REP_SUCCEEDED 0x00
#define SOCKS5_REP_GENERAL_FAILURE 0x01
#define SOCKS5_REP_NOT_ALLOWED 0x02
#define SOCKS5_REP_NET_UNREACH 0x03
#define SOCKS5_REP_HOST_UNREACH 0x04
#define SOCKS5_REP_REFUSED 0x05
#define SOCKS5_REP_TTL_EXPIRED 0x06
#define SOCKS5_REP_CMD_UNSUPPORTED 0x07
#define SOCKS5_REP_ATYP_UNSUPPORTED 0x08
#define SOCKS5_REP_TIMED_OUT 0x09

#define SOCKS4_REP_GRANTED 0x5a
#define SOCKS4_REP_REJECTED 0x5b

/* Longest SOCKS4 USERID / SOCKS4a host name accepted. */
#define SOCKS4_MAX_FIELD 255

struct socks5_greeting {
	uint8_t nmethods;
	const uint8_t *methods; /* borrows the input */
};

enum socks_atyp {
	SOCKS_ATYP_IPV4 = 1,
	SOCKS_ATYP_DOMAIN = 3,
	SOCKS_ATYP_IPV6 = 4,
};

struct socks_request {
	uint8_t version; /* 4 or 5 */
	uint8_t cmd;	 /* SOCKS_CMD_* */
	enum socks_atyp atyp;
	uint8_t ip[16];	   /* IPV4: ip[0..3], IPV6: ip[0..15] */
	struct slice host; /* DOMAIN: the name, borrowing the input */
	uint16_t port;
	struct slice user; /* SOCKS4 USERID (may be empty) */
};

/* Version byte, methods (RFC 1928 §3). PARSE_INVALID when the version is
 * not 5 or there are no methods (*why says which). *used = bytes taken. */
enum parse_res socks5_parse_greeting(struct slice in, struct socks5_greeting *out, size_t *used,
				     const char **why) MUST_CHECK;

/* True when the greeting offers method m. */
bool socks5_greeting_has(const struct socks5_greeting *g, uint8_t m);

/* A request (RFC 1928 §4). On PARSE_INVALID *reply is the reply code a
 * server sends before closing (CMD_UNSUPPORTED for an unknown command,
 * ATYP_UNSUPPORTED for an unknown address type, GENERAL_FAILURE for an
 * empty domain, a bad version or a non-zero reserved byte) and *why a
 * static reason. Unknown commands are reported after the whole request
 * was read, so *used is valid then too. */
enum parse_res socks5_parse_request(struct slice in, struct socks_request *out, size_t *used,
				    uint8_t *reply, const char **why) MUST_CHECK;

/* A SOCKS4 / SOCKS4a request: VN=4, CD, DSTPORT, DSTIP, USERID NUL, and
 * for DSTIP 0.0.0.x (x != 0) a host name NUL. PARSE_TOO_BIG when USERID
 * or the host name exceeds SOCKS4_MAX_FIELD bytes. */
enum parse_res socks4_parse_request(struct slice in, struct socks_request *out, size_t *used,
				    const char **why) MUST_CHECK;

/* A SOCKS5 UDP datagram header (RFC 1928 §7): RSV RSV FRAG ATYP DST.ADDR
 * DST.PORT, then the payload. */
struct socks5_udp {
	uint8_t frag;
	enum socks_atyp atyp;
	uint8_t ip[16];
	struct slice host; /* DOMAIN, borrowing the datagram */
	uint16_t port;
	struct slice payload;
};

/* Parse one whole datagram: PARSE_OK, or PARSE_INVALID (truncated, bad
 * address type, empty domain) with *why set. A non-zero FRAG parses (the
 * caller drops fragments). */
enum parse_res socks5_parse_udp(struct slice dgram, struct socks5_udp *out,
				const char **why) MUST_CHECK;

/* The header for a datagram from sa (AF_INET / AF_INET6; a v4-mapped
 * address is written as IPv4) into out; returns its length (10 or 22). */
size_t socks5_build_udp_header(const struct sockaddr *sa, uint8_t out[22]);

/* Build the replies into out (returns the length). */
size_t socks5_build_reply(uint8_t rep, const struct sockaddr *bound, uint8_t out[22]);
size_t socks4_build_reply(uint8_t rep, uint8_t out[8]);

#endif
