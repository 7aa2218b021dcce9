/* The g3c.iploc RPC service (proto/iploc.proto): a pure handler over the
 * currently loaded databases, called by the rpc server on the loop thread,
 * and directly by tests and the fuzzer through rpc_dispatch_buffer().
 *
 * Answers merge every loaded database. Country and continent come from the
 * first of country, city, isp, asn that has them; ASN, AS organisation, ISP
 * and domain from the first of isp, asn, city, country. The network is the
 * most specific of the networks each database's answer (found or not) holds
 * for, so a caller may reuse the answer for every address in it.
 *
 * Databases are swapped between requests only (everything runs on one
 * thread), so a request sees one consistent set from start to end. */
#ifndef G3C_IPLOCD_SERVICE_H
#define G3C_IPLOCD_SERVICE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/rpc.h"
#include "iplocd/db.h"
#include "common/hist.h"
#include "proto/iploc.pb-c.h"

#define IPLOC_SERVICE_MAGIC 0x6970737au /* "ipsz" */
#define IPLOC_MAX_BATCH 1024u		/* addresses per request */
#define IPLOC_DEFAULT_TTL 300u		/* g3iploc's fixed TTL */
#define IPLOC_DEFAULT_MISS_TTL 60u

extern const struct rpc_service iploc_rpc_service;

/* Counters since start (loop thread only). */
struct iploc_stats {
	uint64_t requests;    /* lookup requests handled */
	uint64_t invalid;     /* answered INVALID_ARGUMENT / UNIMPLEMENTED */
	uint64_t answers;     /* addresses answered */
	uint64_t found;	      /* ... with a record in some database */
	uint64_t misses;      /* ... with none */
	uint64_t db_errors;   /* lookups libmaxminddb reported corrupt (0 after validation) */
	uint64_t latency_ns;  /* total handler time */
	uint64_t latency_max; /* longest handler time, ns */
};

struct iploc_service {
	uint32_t magic;
	struct iploc_db *db[IPLOC_DB__COUNT]; /* owned references, NULL = not configured */
	uint32_t ttl, miss_ttl;		      /* seconds */
	struct iploc_stats stats;
	struct hist latency; /* per metrics interval, reset by the emitter */
};

/* Initialise with no database and the default TTLs. */
void iploc_service_init(struct iploc_service *s);
/* Drop every database reference. */
void iploc_service_fini(struct iploc_service *s);
/* Replace the database of `kind` (db may be NULL; a reference is taken). */
void iploc_service_set_db(struct iploc_service *s, enum iploc_db_kind kind, struct iploc_db *db);

/* The handler: ctx is the struct iploc_service. */
enum rpc_code iploc_handle(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *rep,
			   struct rpc_arena *a);

/* Answer every address of req into rep (initialised by the caller), with
 * memory from a. Shared by the handler and the control socket's lookup.
 * Returns RPC_OK, or RPC_INVALID_ARGUMENT with the reason set in a (no
 * address, more than IPLOC_MAX_BATCH, one that is not an IP literal). *found
 * and *misses count the answers (may be NULL). */
enum rpc_code iploc_service_lookup(struct iploc_service *s, const G3c__Iploc__LookupReq *req,
				   G3c__Iploc__LookupRep *rep, struct rpc_arena *a, uint64_t *found,
				   uint64_t *misses);

/* Parse an IP literal; an IPv4-mapped IPv6 address becomes the IPv4
 * address. Returns 0 or -EINVAL. */
int iploc_parse_ip(const char *text, struct sockaddr_storage *ss) MUST_CHECK;
/* The same from 4 or 16 bytes in network order (LookupReq.addrs). Returns 0
 * or -EINVAL for any other length. */
int iploc_addr_from_bytes(const uint8_t *p, size_t len, struct sockaddr_storage *ss) MUST_CHECK;

#endif
