/* Building forged leaf certificates: request host validation, upstream
 * certificate vetting, the validity window and TTL, and the certificate
 * itself (v3, SAN always, SKID/AKID, serverAuth EKU, random 128-bit serial
 * unless keep_serial), signed by the configured CA.
 *
 * Everything here is pure apart from OpenSSL calls: no sockets, no clocks
 * (callers pass `now`), no shared state. A struct forge_ca is immutable once
 * built and may be read from any thread. */
#ifndef G3C_FCGEND_FORGE_H
#define G3C_FCGEND_FORGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/rpc.h"
#include "common/slice.h"
#include "common/util.h"
#include "fcgend/keypool.h"

#define FORGE_HOST_MAX 253u		   /* longest DNS name (RFC 1035 2.3.4) */
#define FORGE_CN_MAX 64			   /* ub-common-name (RFC 5280 A.1) */
#define FORGE_UPSTREAM_MAX (64u << 10)	   /* an upstream leaf bigger than this is refused */
#define FORGE_MIN_TTL 300u		   /* max_ttl below this is raised to it (g3fcgen) */
#define FORGE_DEFAULT_TTL 86400u	   /* max_ttl default: one day */
#define FORGE_PLAIN_BACKDATE 86400	   /* without upstream: valid from now - 1 day */
#define FORGE_PLAIN_LIFETIME (365 * 86400) /* ... until now + 365 days */

/* Mirrors g3c.fcgen.Usage. */
enum forge_usage {
	FORGE_USAGE_TLS_SERVER = 0,
	FORGE_USAGE_TLS_SERVER_TONGSUO = 1,
	FORGE_USAGE_TLCP_SIGN = 11,
	FORGE_USAGE_TLCP_ENC = 12,
};

bool forge_usage_valid(int usage);
/* "tls_server", ...; "unknown" for other values. */
const char *forge_usage_name(int usage);

/* backend: settings that shape every certificate. */
struct forge_opts {
	bool no_append_ca_cert; /* send the leaf alone */
	bool keep_serial;	/* mimic: copy the upstream serial */
	uint32_t max_ttl_s;	/* >= FORGE_MIN_TTL */
};

struct forge_ca;

/* Build a signing context from the CA chain (certs[0] signs; every cert is
 * appended to replies unless o->no_append_ca_cert) and certs[0]'s private
 * key. Checks that the key matches, that certs[0] is a CA and has not
 * expired at `now`. Borrowed: certs and key are up-referenced, the caller
 * keeps its own references. Returns 0 with an owned *out (forge_ca_free),
 * or -EINVAL with a reason in err. */
int forge_ca_new(STACK_OF(X509) * certs, EVP_PKEY *key, const struct forge_opts *o, time_t now,
		 struct forge_ca **out, char *err, size_t errlen) MUST_CHECK;
void forge_ca_free(struct forge_ca *ca); /* NULL is accepted */

/* The DER certificates appended after the leaf (none with
 * no_append_ca_cert); borrowed from ca. Returns their number. */
size_t forge_ca_tail(const struct forge_ca *ca, const struct slice **out);
const struct forge_opts *forge_ca_opts(const struct forge_ca *ca);
/* The signing CA certificate (borrowed). */
const X509 *forge_ca_cert(const struct forge_ca *ca);
/* True when a and b sign the same way: same CA certificate and key, same
 * keep_serial (a reload that keeps them can keep cached certificates). */
bool forge_ca_same_signer(const struct forge_ca *a, const struct forge_ca *b);

/* A validated request host with the names its certificate covers. */
struct forge_host {
	char name[FORGE_HOST_MAX + 1]; /* lower case, no trailing dot, IPv6 without brackets */
	size_t len;
	bool is_ip;
	bool is_wildcard; /* the host itself is "*.parent" */
	uint8_t ip[16];
	size_t iplen; /* 4 or 16 when is_ip */
	/* The wildcard flag: "*.<parent>" covered too (NUL-terminated, "" when not). */
	char wild[FORGE_HOST_MAX + 1];
};

/* Validate and normalise a request host: a DNS name (LDH labels of 1..63
 * bytes, '_' allowed, A-labels only, a leading "*" label only when two more
 * labels follow) or an IPv4/IPv6 literal ("[v6]" accepted). `wildcard`
 * adds "*.<parent>" (a DNS name with at least three labels). Returns 0, or
 * -EINVAL with the reason in err ("empty host", "host too long ...", ...). */
int forge_host_parse(const char *s, size_t len, bool wildcard, struct forge_host *out, char *err,
		     size_t errlen) MUST_CHECK;

/* Decode the upstream leaf (exactly one DER certificate filling the
 * buffer), vet the extensions the forgery copies, and map its key type
 * (RSA and RSA-PSS → rsa2048, EC → ec256, Ed25519, Ed448). Returns RPC_OK
 * with an owned *out (X509_free) or RPC_INVALID_ARGUMENT with a reason. */
enum rpc_code forge_upstream_parse(const uint8_t *der, size_t len, X509 **out,
				   enum fcgen_key_type *kt, char *err, size_t errlen) MUST_CHECK;

/* The validity window at `now`: with an upstream, its window clamped to
 * the CA's; without, now - 1 day .. now + 365 days clamped to the CA's.
 * Returns RPC_OK, or RPC_FAILED_PRECONDITION when the CA or the upstream
 * has expired or the windows do not overlap (reason in err). */
enum rpc_code forge_validity(const struct forge_ca *ca, const X509 *upstream, time_t now,
			     time_t *not_before, time_t *not_after, char *err,
			     size_t errlen) MUST_CHECK;

/* Seconds a caller may cache a certificate valid until not_after:
 * min(max_ttl, not_after - now), 0 once expired. */
uint32_t forge_ttl(const struct forge_ca *ca, time_t not_after, time_t now);

struct forge_req {
	const struct forge_host *host;
	int usage;		      /* a valid enum forge_usage */
	const X509 *upstream;	      /* NULL: no mimic */
	time_t not_before, not_after; /* from forge_validity */
};

/* Build and sign the leaf for r with key k (borrowed). Returns RPC_OK with
 * *der (OPENSSL_free) of *len bytes, or RPC_INTERNAL when OpenSSL fails
 * (reason in err). */
enum rpc_code forge_leaf(const struct forge_ca *ca, const struct forge_req *r,
			 const struct pool_key *k, uint8_t **der, size_t *len, char *err,
			 size_t errlen) MUST_CHECK;

/* "2026-01-31T12:00:00Z" into buf (at least 21 bytes). */
void forge_fmt_time(time_t t, char *buf, size_t cap);
/* ASN1_TIME → time_t; false when it does not convert. */
bool forge_asn1_time(const ASN1_TIME *a, time_t *out);

#endif
