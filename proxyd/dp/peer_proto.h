/* What proxyd says to a next-hop proxy and how it reads the answers: pure
 * builders and incremental parsers over bytes, no allocation, no I/O
 * (escaper_proxy.c does the I/O; fuzz_peer.c feeds the parsers).
 *
 *   PROXY protocol v1 / v2 header (haproxy's proxy-protocol.txt) sent first
 *   HTTP CONNECT (RFC 9110 §9.3.6) with Basic Proxy-Authorization (RFC 7617)
 *   SOCKS5 client side (RFC 1928) with username/password (RFC 1929)
 *
 * Parsers return enum parse_res: PARSE_AGAIN (need more bytes; *need says
 * how many in all where it is known), PARSE_OK, PARSE_INVALID or
 * PARSE_TOO_BIG with *why a static reason. */
#ifndef G3C_PROXYD_DP_PEER_PROTO_H
#define G3C_PROXYD_DP_PEER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/slice.h"
#include "common/util.h"

/* Longest PROXY header peer_pp_build() writes (v2 with IPv6). */
#define PEER_PP_MAX 108
/* "Proxy-Authorization: Basic " + base64 of 255:255 bytes + CRLF */
#define PEER_BASIC_LINE_MAX 720
/* A CONNECT request: line + Host + auth line */
#define PEER_CONNECT_MAX (2 * 300 + PEER_BASIC_LINE_MAX + 64)
/* SOCKS5 request with a 255-byte domain */
#define PEER_SOCKS5_REQ_MAX 262
/* RFC 1929 request with 255-byte user and password */
#define PEER_SOCKS5_AUTH_MAX 513

/* PROXY v1 ("PROXY TCP4 ...\r\n") or v2 (binary, PROXY command, STREAM)
 * header for a stream from src to dst (AF_INET / AF_INET6; mixed families
 * are sent as IPv6 with v4-mapped addresses). Returns the length written
 * or -EINVAL (bad version or family) / -ENOSPC. */
int peer_pp_build(unsigned version, const struct sockaddr *src, const struct sockaddr *dst,
		  uint8_t *out, size_t cap) MUST_CHECK;

/* "Proxy-Authorization: Basic <base64(user:pass)>\r\n" into out (NUL
 * terminated). Returns the length without the NUL or -ENOSPC. */
int peer_basic_line(const char *user, const char *pass, char *out, size_t cap) MUST_CHECK;

/* "CONNECT host:port HTTP/1.1\r\nHost: host:port\r\n<auth_line>\r\n";
 * host_v6 puts the host in brackets; auth_line may be NULL. Returns the
 * length or -ENOSPC. */
int peer_http_connect_build(const char *host, bool host_v6, uint16_t port, const char *auth_line,
			    uint8_t *out, size_t cap) MUST_CHECK;

/* Where the head of a response in in[0..len) ends: the offset after the
 * empty line, or 0 while it has not arrived. from is where the previous
 * search stopped (search resumes a little before it). */
size_t peer_http_head_end(struct slice in, size_t from);

/* Strict parse of a complete CONNECT response head (as delimited by
 * peer_http_head_end): "HTTP/1.0|1.1 SP 3DIGIT SP reason CRLF", header
 * lines "token: value" (no obs-fold, no bare CR or LF, no NUL), CRLF.
 * PARSE_OK with *status (100..599); a 2xx's Content-Length and
 * Transfer-Encoding are ignored as RFC 9110 §9.3.6 says. */
enum parse_res peer_http_connect_parse(struct slice head, int *status, const char **why) MUST_CHECK;

/* SOCKS5 greeting: version 5 and the methods we offer: no-auth (0x00),
 * plus username/password (0x02) when with_auth. Returns the length (3 or 4). */
size_t peer_socks5_greeting(bool with_auth, uint8_t out[4]);

/* The method selection reply (2 bytes). PARSE_OK with *method one of the
 * offered ones; PARSE_INVALID for a wrong version, 0xFF (no acceptable
 * method) or a method we did not offer. */
enum parse_res peer_socks5_method(struct slice in, bool with_auth, uint8_t *method,
				  const char **why) MUST_CHECK;

/* RFC 1929 request: 0x01, ulen, user, plen, pass (each 1..255 / 0..255
 * bytes). Returns the length or -EINVAL. */
int peer_socks5_auth_build(const char *user, const char *pass, uint8_t *out, size_t cap) MUST_CHECK;

/* RFC 1929 reply (2 bytes): PARSE_OK when status 0, PARSE_INVALID
 * ("authentication rejected" or a bad version) otherwise. */
enum parse_res peer_socks5_auth_reply(struct slice in, const char **why) MUST_CHECK;

/* CONNECT (cmd 1) or UDP ASSOCIATE (cmd 3) request for host:port; an IP
 * literal host goes as ATYP 1 / 4, a name as ATYP 3. Returns the length or
 * -EINVAL (empty or over-long name). */
int peer_socks5_request_build(uint8_t cmd, const char *host, uint16_t port, uint8_t *out,
			      size_t cap) MUST_CHECK;

/* The reply to a request: PARSE_AGAIN with *need (total bytes the reply
 * has, once 5 bytes are known; 5 before); PARSE_OK with *rep (0 =
 * succeeded), *used and the bound address in *bound when it is an IP
 * (family 0 for a domain); PARSE_INVALID for a wrong version, reserved
 * byte or address type, and for rep != 0 (*why names the code). */
enum parse_res peer_socks5_reply(struct slice in, uint8_t *rep, size_t *need, size_t *used,
				 struct sockaddr_storage *bound, const char **why) MUST_CHECK;

#endif
