/* Client credentials and password tokens (g3proxy §1.5.2): the pure part of
 * user authentication, shared by http_proxy (Proxy-Authorization: Basic,
 * RFC 7617) and socks_proxy (RFC 1929). No sockets, no shared state: the
 * verified-password cache lives in the per-user state (user_state.h).
 *
 * Secrets are compared in constant time (CRYPTO_memcmp) and never logged. */
#ifndef G3C_PROXYD_DP_AUTH_H
#define G3C_PROXYD_DP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/slice.h"
#include "common/util.h"
#include "proxyd/config.h"

/* Longest user name accepted (RFC 1929 has one length byte). */
#define AUTH_USER_MAX 255
/* Longest password accepted from HTTP Basic (RFC 1929: 255). */
#define AUTH_PASS_MAX 1023

/* Decoded credentials; both NUL-terminated (a NUL inside is rejected). */
struct auth_cred {
	char user[AUTH_USER_MAX + 1];
	char pass[AUTH_PASS_MAX + 1];
	size_t user_len, pass_len;
};

/* Decode a Proxy-Authorization value: "Basic" (any case), one or more
 * spaces, then base64 (RFC 4648, padding optional) of "user:password"
 * (the first ':' splits). Borrows v; fills *out.
 * PARSE_OK; PARSE_INVALID (another scheme, bad base64, no ':', empty user,
 * a NUL or control byte in the name) or PARSE_TOO_BIG (user or password
 * past the maxima), with *why a static reason. */
enum parse_res auth_basic_decode(struct slice v, struct auth_cred *out,
				 const char **why) MUST_CHECK;

/* RFC 1929 §2 username/password request: VER 0x01, ULEN (1..255), UNAME,
 * PLEN (0..255), PASSWD. Borrows in; *used = bytes of the message.
 * PARSE_OK, PARSE_AGAIN (a valid prefix), PARSE_INVALID (*why: bad
 * version, empty name, a NUL byte). */
enum parse_res auth_rfc1929_parse(struct slice in, struct auth_cred *out, size_t *used,
				  const char **why) MUST_CHECK;

/* Decode standard base64 from in into out[0..cap). Returns the decoded
 * length, or -EINVAL (bad character or padding) / -ENOBUFS (too long). */
ssize_t auth_base64_decode(struct slice in, uint8_t *out, size_t cap) MUST_CHECK;

/* Whether pass (pass_len bytes, NUL-terminated) matches the token:
 * SKIP always, FORBID never, CRYPT through crypt_r(3) ($1$/$5$/$6$),
 * FAST_HASH: md5/sha1 over password ‖ salt, every hash present must match
 * (a blake3 hash never matches: the loader rejects it). Slow for CRYPT
 * (milliseconds): callers cache the outcome (auth_token_digest). */
bool auth_token_verify(const struct user_token *t, const char *pass, size_t pass_len);

/* True for tokens whose check is slow enough to be worth caching. */
static inline bool auth_token_slow(const struct user_token *t)
{
	return t->type == USER_TOKEN_CRYPT;
}

/* A keyed digest (SHA-256 with a random per-process key) of the token's
 * identity and the password into out[32], for the last-verified cache: two
 * requests with the same password give the same digest, a changed token or
 * password a different one. */
void auth_token_digest(const struct user_token *t, const char *pass, size_t pass_len,
		       uint8_t out[32]);

/* Constant-time equality of n bytes. */
bool auth_equal(const void *a, const void *b, size_t n);

#endif
