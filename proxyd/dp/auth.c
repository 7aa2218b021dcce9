/* Credentials decoding and token checks (see auth.h). */
#include "proxyd/dp/auth.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static int b64_value(uint8_t ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

ssize_t auth_base64_decode(struct slice in, uint8_t *out, size_t cap)
{
	size_t n = in.len, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	/* up to two '=' at the end; none elsewhere */
	while (n > 0 && in.p[n - 1] == '=' && in.len - n < 2)
		n--;
	if (in.len - n > 0 && (in.len % 4) != 0)
		return -EINVAL;
	if (n % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(in.p[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -ENOBUFS;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* the leftover bits of a short final group must be zero */
	if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
		return -EINVAL;
	return (ssize_t)o;
}

enum parse_res auth_basic_decode(struct slice v, struct auth_cred *out, const char **why)
{
	uint8_t dec[AUTH_USER_MAX + 1 + AUTH_PASS_MAX + 1];
	size_t i = 0, colon;
	ssize_t n;

	*why = NULL;
	memset(out, 0, sizeof(*out));
	if (v.len < 5 || strncasecmp((const char *)v.p, "basic", 5) != 0) {
		*why = "unsupported proxy authorization scheme (only Basic)";
		return PARSE_INVALID;
	}
	i = 5;
	if (i >= v.len || (v.p[i] != ' ' && v.p[i] != '\t')) {
		*why = "no credentials after 'Basic'";
		return PARSE_INVALID;
	}
	while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
		i++;
	if (i == v.len) {
		*why = "no credentials after 'Basic'";
		return PARSE_INVALID;
	}
	n = auth_base64_decode(slice_make(v.p + i, v.len - i), dec, sizeof(dec));
	if (n == -ENOBUFS) {
		*why = "credentials too long";
		return PARSE_TOO_BIG;
	}
	if (n < 0) {
		*why = "invalid base64 in Basic credentials";
		return PARSE_INVALID;
	}
	for (colon = 0; colon < (size_t)n && dec[colon] != ':'; colon++)
		;
	if (colon == (size_t)n) {
		*why = "no ':' in Basic credentials";
		return PARSE_INVALID;
	}
	if (colon == 0) {
		*why = "empty user name in Basic credentials";
		return PARSE_INVALID;
	}
	if (colon > AUTH_USER_MAX || (size_t)n - colon - 1 > AUTH_PASS_MAX) {
		*why = "user name or password too long";
		return PARSE_TOO_BIG;
	}
	for (size_t k = 0; k < (size_t)n; k++) {
		if (dec[k] == 0 || (k < colon && (dec[k] < 0x20 || dec[k] == 0x7f))) {
			*why = "control byte in Basic credentials";
			return PARSE_INVALID;
		}
	}
	memcpy(out->user, dec, colon);
	out->user_len = colon;
	out->user[colon] = '\0';
	out->pass_len = (size_t)n - colon - 1;
	memcpy(out->pass, dec + colon + 1, out->pass_len);
	out->pass[out->pass_len] = '\0';
	OPENSSL_cleanse(dec, sizeof(dec));
	return PARSE_OK;
}

enum parse_res auth_rfc1929_parse(struct slice in, struct auth_cred *out, size_t *used,
				  const char **why)
{
	size_t ulen, plen;

	*why = NULL;
	*used = 0;
	if (in.len < 1)
		return PARSE_AGAIN;
	if (in.p[0] != 0x01) {
		*why = "bad user/password sub-negotiation version (RFC 1929 wants 1)";
		return PARSE_INVALID;
	}
	if (in.len < 2)
		return PARSE_AGAIN;
	ulen = in.p[1];
	if (ulen == 0) {
		*why = "empty user name";
		return PARSE_INVALID;
	}
	if (in.len < 2 + ulen + 1)
		return PARSE_AGAIN;
	plen = in.p[2 + ulen];
	if (in.len < 3 + ulen + plen)
		return PARSE_AGAIN;
	if (memchr(in.p + 2, 0, ulen) != NULL || memchr(in.p + 3 + ulen, 0, plen) != NULL) {
		*why = "NUL byte in user name or password";
		return PARSE_INVALID;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->user, in.p + 2, ulen);
	out->user_len = ulen;
	memcpy(out->pass, in.p + 3 + ulen, plen);
	out->pass_len = plen;
	*used = 3 + ulen + plen;
	return PARSE_OK;
}

bool auth_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

static bool digest_of(const char *md, const char *pass, size_t pass_len, const uint8_t salt[8],
		      uint8_t *out, unsigned int want)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	bool ok;

	if (ctx == NULL)
		return false;
	ok = EVP_DigestInit_ex(ctx, EVP_get_digestbyname(md), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, pass, pass_len) == 1 && EVP_DigestUpdate(ctx, salt, 8) == 1 &&
	     EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == want;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static bool crypt_verify(const char *stored, const char *pass)
{
	struct crypt_data *cd = malloc(sizeof(*cd));
	const char *h;
	bool ok = false;
	size_t n = strlen(stored);

	if (cd == NULL)
		return false;
	cd->initialized = 0;
	h = crypt_r(pass, stored, cd);
	/* libxcrypt returns "*0" / "*1" (or NULL) on failure: never equal */
	if (h != NULL && h[0] != '*' && strlen(h) == n)
		ok = auth_equal(h, stored, n);
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return ok;
}

bool auth_token_verify(const struct user_token *t, const char *pass, size_t pass_len)
{
	uint8_t h[32];
	bool ok = true;

	switch (t->type) {
	case USER_TOKEN_SKIP:
		return true;
	case USER_TOKEN_FORBID:
		return false;
	case USER_TOKEN_CRYPT:
		if (t->crypt == NULL || memchr(pass, '\0', pass_len) != NULL)
			return false;
		return crypt_verify(t->crypt, pass);
	case USER_TOKEN_FAST_HASH:
		if (!t->has_md5 && !t->has_sha1)
			return false;
		if (t->has_md5)
			ok = digest_of("MD5", pass, pass_len, t->salt, h, 16) &&
			     auth_equal(h, t->md5, 16) && ok;
		if (t->has_sha1)
			ok = digest_of("SHA1", pass, pass_len, t->salt, h, 20) &&
			     auth_equal(h, t->sha1, 20) && ok;
		return ok;
	}
	return false;
}

static uint8_t digest_key[32];
static pthread_once_t digest_key_once = PTHREAD_ONCE_INIT;

static void digest_key_init(void)
{
	if (RAND_bytes(digest_key, sizeof(digest_key)) != 1)
		util_assert_fail(__FILE__, __LINE__, "RAND_bytes for the password cache key");
}

void auth_token_digest(const struct user_token *t, const char *pass, size_t pass_len,
		       uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	uint8_t type = (uint8_t)t->type;
	bool ok;

	pthread_once(&digest_key_once, digest_key_init);
	memset(out, 0, 32);
	if (ctx == NULL)
		return;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	     EVP_DigestUpdate(ctx, digest_key, sizeof(digest_key)) == 1 &&
	     EVP_DigestUpdate(ctx, &type, 1) == 1;
	if (ok && t->crypt != NULL)
		ok = EVP_DigestUpdate(ctx, t->crypt, strlen(t->crypt) + 1) == 1;
	if (ok)
		ok = EVP_DigestUpdate(ctx, t->salt, sizeof(t->salt)) == 1 &&
		     EVP_DigestUpdate(ctx, pass, pass_len) == 1 &&
		     EVP_DigestFinal_ex(ctx, out, &len) == 1;
	if (!ok)
		memset(out, 0xff, 32); /* never equal to a real digest in practice */
	EVP_MD_CTX_free(ctx);
}
