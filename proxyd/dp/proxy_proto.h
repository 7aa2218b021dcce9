/* PROXY protocol header (haproxy's proxy-protocol.txt, versions 1 and 2) as
 * a client-side proxy or load balancer sends it before the real stream:
 * a pure incremental parser over bytes, no allocation, no I/O. The parser is
 * prefix-stable: a prefix of a header gives PARSE_AGAIN or the verdict of the
 * whole header, never a different one. */
#ifndef G3C_PROXYD_DP_PROXY_PROTO_H
#define G3C_PROXYD_DP_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/slice.h"
#include "common/util.h"

/* A v1 line is at most 107 bytes, CRLF included (spec §2.1). */
#define PROXY_PROTO_V1_MAX 107
/* v2: 16 fixed bytes then a length; we accept at most this many bytes of
 * addresses + TLVs (TLVs are skipped). */
#define PROXY_PROTO_V2_HDR 16
#define PROXY_PROTO_V2_MAX_LEN 2048
/* Longest header of either version this parser may need to see. */
#define PROXY_PROTO_MAX (PROXY_PROTO_V2_HDR + PROXY_PROTO_V2_MAX_LEN)

struct proxy_proto_hdr {
	uint8_t version; /* 1 or 2 */
	/* True for v2 LOCAL, v1 UNKNOWN, and v2 PROXY with family UNSPEC or
	 * UNIX: the connection's real peer stays the client; src/dst unset. */
	bool local;
	/* AF_INET or AF_INET6 addresses with ports (network order inside). */
	struct sockaddr_storage src;
	struct sockaddr_storage dst;
};

/* Parse a header at the start of in. version is 1 or 2 to require that
 * version, 0 to accept either. On PARSE_OK *out is filled and *used is the
 * header length (bytes after it belong to the proxied stream). On
 * PARSE_INVALID / PARSE_TOO_BIG *why is a static reason. */
enum parse_res proxy_proto_parse(struct slice in, unsigned version, struct proxy_proto_hdr *out,
				 size_t *used, const char **why) MUST_CHECK;

#endif
