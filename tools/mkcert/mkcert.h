/* mkcert: the g3mkcert-compatible certificate maker. This header holds the
 * pure pieces (command line, host classification, validity window, key
 * choice) that main flow in mkcert.c strings together; the certificate
 * builder and the mimic reader are in cert.h.
 *
 * Strings in struct mkcert_opts point into argv (borrowed); the hosts array
 * is owned by the opts and released by mkcert_opts_fini(). */
#ifndef G3C_TOOLS_MKCERT_MKCERT_H
#define G3C_TOOLS_MKCERT_MKCERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/util.h"

/* Exit statuses scripts can rely on. */
enum mkcert_exit {
	MKCERT_EXIT_OK = 0,
	MKCERT_EXIT_FAIL = 1,  /* bad input file, bad host, OpenSSL failure, write error */
	MKCERT_EXIT_USAGE = 2, /* bad command line */
};

/* Error buffers passed to the functions below. */
#define MKCERT_ERR_MAX 512

enum mkcert_kind {
	MKCERT_KIND_NONE = 0,
	MKCERT_KIND_ROOT,
	MKCERT_KIND_INTERMEDIATE,
	MKCERT_KIND_TLS_SERVER,
	MKCERT_KIND_TLS_CLIENT,
	MKCERT_KIND_TLCP_SERVER_SIGN,
	MKCERT_KIND_TLCP_SERVER_ENC,
	MKCERT_KIND_TLCP_CLIENT_SIGN,
	MKCERT_KIND_TLCP_CLIENT_ENC,
	MKCERT_KIND_MIMIC,
};

enum mkcert_key_type {
	MKCERT_KEY_DEFAULT = 0, /* not chosen: P-256 (SM2 for TLCP; the upstream's for mimic) */
	MKCERT_KEY_RSA,
	MKCERT_KEY_EC224,
	MKCERT_KEY_EC256,
	MKCERT_KEY_EC384,
	MKCERT_KEY_EC521,
	MKCERT_KEY_SM2,
	MKCERT_KEY_ED25519,
	MKCERT_KEY_ED448,
	MKCERT_KEY_X25519,
	MKCERT_KEY_X448,
};

#define MKCERT_RSA_DEFAULT_BITS 2048u
#define MKCERT_RSA_MIN_BITS 1024u
#define MKCERT_RSA_MAX_BITS 16384u

struct mkcert_key_spec {
	enum mkcert_key_type type;
	unsigned rsa_bits; /* MKCERT_KEY_RSA only */
};

/* A point in time from the command line: absolute (seconds since the epoch,
 * UTC) or relative to the moment the certificate is made. */
struct mkcert_time_arg {
	bool set;
	bool relative;
	int64_t value;
};

enum mkcert_action {
	MKCERT_ACT_MAKE = 0,
	MKCERT_ACT_HELP,
	MKCERT_ACT_VERSION,
	MKCERT_ACT_COMPLETION,
};

struct mkcert_opts {
	enum mkcert_action action;
	enum mkcert_kind kind;
	struct mkcert_key_spec key;
	const char *mimic_path;
	const char *ca_cert_path;
	const char *ca_key_path;
	const char *country;
	const char *organization;
	const char *org_unit;
	const char *common_name;
	const char **hosts; /* owned array of borrowed strings, in command-line order */
	size_t n_hosts;
	bool has_path_length;
	unsigned path_length;
	bool has_days;
	unsigned days;
	struct mkcert_time_arg not_before;
	struct mkcert_time_arg not_after;
	bool keep_serial;
	const char *output_cert;
	const char *output_key;
	const char *completion_shell;
};

/* Parse argv (argv[0] is the program name) into o, which is zeroed first.
 * Every combination rule that the command line alone decides is checked
 * here (one kind, at most one key type, X25519/X448 not for CAs, TLCP only
 * with RSA or SM2, required options per kind, ...). Host values are only
 * collected: mkcert_host_classify() judges them. Returns 0, or -EINVAL
 * with the reason in err (exit MKCERT_EXIT_USAGE). Call mkcert_opts_fini()
 * either way. */
int mkcert_opts_parse(int argc, char **argv, struct mkcert_opts *o, char *err,
		      size_t errcap) MUST_CHECK;

/* Release what mkcert_opts_parse() allocated. Accepts a zeroed opts. */
void mkcert_opts_fini(struct mkcert_opts *o);

/* The --help text (static). */
const char *mkcert_usage(void);

/* Write a completion script for shell ("bash") to stdout. Returns 0 or
 * -EINVAL for a shell we have no script for. */
int mkcert_print_completion(const char *shell) MUST_CHECK;

/* "root", "tls-server", ... (static). */
const char *mkcert_kind_name(enum mkcert_kind k);

/* True for the kinds whose certificate is a CA. */
bool mkcert_kind_is_ca(enum mkcert_kind k);

/* True for the client kinds (output file names get "-client"). */
bool mkcert_kind_is_client(enum mkcert_kind k);

/* Parse a time argument: "now", "+N<unit>" / "-N<unit>" (unit s, m, h, d;
 * relative to the moment of signing), "@EPOCH", "YYYY-MM-DD" or
 * "YYYY-MM-DDTHH:MM:SS[Z]" (UTC). Absolute times must lie in
 * 1950-01-01..9999-12-31. Returns 0 or -EINVAL. */
int mkcert_time_parse(const char *s, struct mkcert_time_arg *out) MUST_CHECK;

/* ---- hosts (host.c) ---- */

enum mkcert_host_kind {
	MKCERT_HOST_INVALID = 0,
	MKCERT_HOST_DNS,
	MKCERT_HOST_WILDCARD, /* "*.example.net": a DNS SAN too */
	MKCERT_HOST_IPV4,
	MKCERT_HOST_IPV6,
};

#define MKCERT_HOST_MAX 253

struct mkcert_host {
	enum mkcert_host_kind kind;
	char name[MKCERT_HOST_MAX + 1]; /* DNS name as given, or the canonical IP text */
	uint8_t ip[16];
	size_t ip_len; /* 4 or 16 for IPs, else 0 */
};

/* Classify one --host value: an IPv4 or IPv6 literal (brackets allowed
 * around IPv6, no zone), a DNS name of LDH labels (underscores allowed,
 * 1..63 bytes each, 253 total, no leading or trailing hyphen, last label
 * not all digits), or "*." followed by such a name of two or more labels.
 * Fills h and returns its kind; MKCERT_HOST_INVALID with the reason in err. */
enum mkcert_host_kind mkcert_host_classify(const char *s, struct mkcert_host *h, char *err,
					   size_t errcap);

/* ---- validity window (validity.c) ---- */

struct mkcert_window {
	int64_t not_before; /* seconds since the epoch, UTC */
	int64_t not_after;
};

#define MKCERT_DAY 86400
#define MKCERT_CA_DAYS 3650u
#define MKCERT_LEAF_DAYS 365u

/* Compute the window of the certificate being made at time now.
 * Defaults: notBefore = now - 1 day; notAfter = now + 3650 days for CAs,
 * now + 365 days otherwise; mimic (when given): the upstream window.
 * Then --days N (notAfter = now + N days), --not-before and --not-after
 * override, and the result is clamped into the issuer's window (when
 * issuer is not NULL). Returns 0, or -EINVAL when the window is empty
 * (notBefore after notAfter) with the reason in err. */
int mkcert_validity_compute(const struct mkcert_opts *o, int64_t now,
			    const struct mkcert_window *issuer, const struct mkcert_window *mimic,
			    struct mkcert_window *out, char *err, size_t errcap) MUST_CHECK;

/* Format t as "2024-05-06 07:08:09 UTC" into buf (at least 32 bytes). */
const char *mkcert_time_str(int64_t t, char *buf, size_t cap);

/* ---- keys (key.c) ---- */

/* "rsa2048", "ec256", "ed25519", ... into buf; returns buf. */
const char *mkcert_key_spec_str(const struct mkcert_key_spec *ks, char *buf, size_t cap);

/* The key a certificate of kind k gets when no key flag is given:
 * the upstream's (mimic, passed in), SM2 for TLCP, P-256 otherwise. */
struct mkcert_key_spec mkcert_key_default(enum mkcert_kind k, const struct mkcert_key_spec *mimic);

/* Generate a fresh private key. *out is owned (EVP_PKEY_free). Returns 0,
 * -ENOTSUP when this OpenSSL cannot make that type (SM2 on some builds),
 * or -EIO with the OpenSSL reason in err. */
int mkcert_key_generate(const struct mkcert_key_spec *ks, EVP_PKEY **out, char *err,
			size_t errcap) MUST_CHECK;

/* Describe an existing (public) key as a spec: RSA with its size, EC by
 * named curve (P-224..P-521, SM2), Ed25519/Ed448, X25519/X448. Returns 0,
 * or -ENOTSUP for anything else (DSA, brainpool, ...) with err set. */
int mkcert_key_spec_of(const EVP_PKEY *pkey, struct mkcert_key_spec *out, char *err,
		       size_t errcap) MUST_CHECK;

/* Message digest to sign with key: SM3 for SM2, NULL (none) for
 * Ed25519/Ed448, SHA-256 for everything else. */
const EVP_MD *mkcert_sign_md(const EVP_PKEY *key);

/* True when the key type can sign (X25519/X448 cannot). */
bool mkcert_key_can_sign(enum mkcert_key_type t);

/* Whole program with its exit status (main.c calls it; tests may too). */
int mkcert_main(int argc, char **argv);

#endif
