/* Pre-generated private keys for forged certificates, one pool per key
 * type, refilled by background threads so a request only pops a ready key.
 * When a pool is empty the caller generates the key itself (counted as an
 * inline generation). Every key is used for one certificate only.
 *
 * Threads: keypool_take, keypool_set_targets and keypool_get_stats may be
 * called from any thread; the refill threads never touch anything else. */
#ifndef G3C_FCGEND_KEYPOOL_H
#define G3C_FCGEND_KEYPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/util.h"

/* Key types a forged certificate can have (RSA upstreams get RSA 2048 and
 * EC upstreams P-256 whatever their size or curve, as g3fcgen does). */
enum fcgen_key_type {
	FCGEN_KEY_EC256 = 0,
	FCGEN_KEY_RSA2048,
	FCGEN_KEY_ED25519,
	FCGEN_KEY_ED448,
	FCGEN_KEY__COUNT,
};

/* "ec256", "rsa2048", "ed25519", "ed448" (config keys and metric tags). */
const char *fcgen_key_type_name(enum fcgen_key_type t);

/* A private key ready for one certificate, with everything a certificate
 * and a reply need already encoded: OpenSSL 3's generic key encoders cost
 * several times a signature, so none of them runs on the request path. */
struct pool_key {
	enum fcgen_key_type type;
	EVP_PKEY *pkey;	  /* owned */
	uint8_t *der;	  /* PKCS#8 DER of the private key, malloc'd */
	size_t der_len;	  /* bytes at der */
	uint8_t skid[20]; /* SHA-1 of the public key bits (RFC 5280 4.2.1.2 method 1) */
	/* SubjectPublicKeyInfo pieces for X509_PUBKEY_set0_param(): */
	int spki_alg_nid;    /* rsaEncryption, id-ecPublicKey, ED25519, ED448 */
	int spki_param_type; /* V_ASN1_OBJECT (the curve), V_ASN1_NULL or V_ASN1_UNDEF */
	int spki_param_nid;  /* the curve with V_ASN1_OBJECT */
	uint8_t *spki_bits;  /* subjectPublicKey contents, malloc'd */
	size_t spki_bits_len;
};

/* Generate one key with everything precomputed. Any thread. Returns an
 * owned key (pool_key_free) or NULL when OpenSSL fails. */
struct pool_key *pool_key_generate(enum fcgen_key_type t);
/* NULL is accepted. */
void pool_key_free(struct pool_key *k);
/* A copy sharing k's EVP_PKEY (up-referenced). Owned (pool_key_free). */
struct pool_key *pool_key_dup(const struct pool_key *k);

struct keypool;

/* Start `threads` refill threads (0: none, every take generates inline)
 * that keep target[t] keys of each type ready. stack_size 0 keeps the
 * default. Returns an owned pool (keypool_free) or NULL with a message in
 * err and *rc = -errno. */
struct keypool *keypool_new(const uint32_t target[FCGEN_KEY__COUNT], unsigned threads,
			    size_t stack_size, int *rc, char *err, size_t errlen);

/* Stop and join the refill threads, free every key. NULL is accepted. */
void keypool_free(struct keypool *p);

/* A key of type t: from the pool, or generated here when the pool is empty
 * (*generated_inline set when given). Returns an owned key (pool_key_free)
 * or NULL when generation failed. */
struct pool_key *keypool_take(struct keypool *p, enum fcgen_key_type t, bool *generated_inline);

/* Testing aid for fuzzers, never used by the daemon: once a pool holds a
 * key, takes hand out copies of it instead of consuming it, so a fuzzer
 * does not wait for RSA key generation on every input. */
void keypool_set_reuse(struct keypool *p, bool reuse);

/* New pool sizes (reload). Keys beyond a smaller target are freed. */
void keypool_set_targets(struct keypool *p, const uint32_t target[FCGEN_KEY__COUNT]);

struct keypool_stats {
	uint32_t level[FCGEN_KEY__COUNT];	     /* keys ready now */
	uint32_t target[FCGEN_KEY__COUNT];	     /* configured pool size */
	uint64_t refilled[FCGEN_KEY__COUNT];	     /* made by refill threads */
	uint64_t taken[FCGEN_KEY__COUNT];	     /* handed out from the pool */
	uint64_t generated_inline[FCGEN_KEY__COUNT]; /* made by a caller: the pool was empty */
	uint64_t failures;			     /* generations OpenSSL refused */
	unsigned threads;
};

void keypool_get_stats(struct keypool *p, struct keypool_stats *out);

/* Wait until every pool holds its target (startup, tests). Returns true
 * when full, false after timeout_ms. Never call it with 0 threads and a
 * non-zero target. */
bool keypool_wait_full(struct keypool *p, unsigned timeout_ms);

#endif
