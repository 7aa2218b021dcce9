/* Forged leaf certificates (see forge.h): the CA context, host and
 * upstream validation, validity windows. The certificate body itself is
 * built in forge_leaf.c. */
#include "fcgend/forge.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "fcgend/forge_int.h"

bool forge_usage_valid(int usage)
{
	return usage == FORGE_USAGE_TLS_SERVER || usage == FORGE_USAGE_TLS_SERVER_TONGSUO ||
	       usage == FORGE_USAGE_TLCP_SIGN || usage == FORGE_USAGE_TLCP_ENC;
}

const char *forge_usage_name(int usage)
{
	switch (usage) {
	case FORGE_USAGE_TLS_SERVER:
		return "tls_server";
	case FORGE_USAGE_TLS_SERVER_TONGSUO:
		return "tls_server_tongsuo";
	case FORGE_USAGE_TLCP_SIGN:
		return "tlcp_server_signature";
	case FORGE_USAGE_TLCP_ENC:
		return "tlcp_server_encryption";
	default:
		return "unknown";
	}
}

void forge_fmt_time(time_t t, char *buf, size_t cap)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, cap, "@%lld", (long long)t);
}

bool forge_asn1_time(const ASN1_TIME *a, time_t *out)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!a || !ASN1_TIME_to_tm(a, &tm))
		return false;
	*out = timegm(&tm);
	return true;
}

/* ---- CA ------------------------------------------------------------------------- */

void forge_ssl_err(char *err, size_t errlen, const char *what)
{
	/* The first error queued is the cause; later ones are context. */
	unsigned long e = ERR_peek_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	if (reason) {
		snprintf(err, errlen, "%s (%s)", what, reason);
	} else {
		snprintf(err, errlen, "%s", what);
	}
	ERR_clear_error();
}

/* SHA-256 for RSA and P-256 CAs, the curve's size beyond; none for EdDSA. */
static const EVP_MD *ca_digest(EVP_PKEY *key)
{
	int id = EVP_PKEY_get_base_id(key);

	if (id == EVP_PKEY_ED25519 || id == EVP_PKEY_ED448)
		return NULL;
	if (id == EVP_PKEY_EC) {
		int bits = EVP_PKEY_get_bits(key);
		if (bits > 384)
			return EVP_sha512();
		if (bits > 256)
			return EVP_sha384();
	}
	return EVP_sha256();
}

static X509_EXTENSION *make_akid(const X509 *ca)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id((X509 *)ca);
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	X509_EXTENSION *ext = NULL;
	unsigned char md[SHA_DIGEST_LENGTH];

	if (!akid)
		return NULL;
	akid->keyid = ASN1_OCTET_STRING_new();
	if (!akid->keyid)
		goto out;
	if (skid) {
		if (!ASN1_OCTET_STRING_set(akid->keyid, skid->data, skid->length))
			goto out;
	} else {
		/* A CA without SKID: the RFC 5280 method 1 key id of its key. */
		unsigned int n = 0;
		if (!X509_pubkey_digest(ca, EVP_sha1(), md, &n) ||
		    !ASN1_OCTET_STRING_set(akid->keyid, md, (int)n))
			goto out;
	}
	ext = X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid);
out:
	AUTHORITY_KEYID_free(akid);
	return ext;
}

static X509_EXTENSION *make_basic_constraints(void)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	X509_EXTENSION *ext;

	if (!bc)
		return NULL;
	bc->ca = 0;
	ext = X509V3_EXT_i2d(NID_basic_constraints, 1, bc);
	BASIC_CONSTRAINTS_free(bc);
	return ext;
}

int forge_ca_new(STACK_OF(X509) * certs, EVP_PKEY *key, const struct forge_opts *o, time_t now,
		 struct forge_ca **out, char *err, size_t errlen)
{
	struct forge_ca *ca = NULL;
	X509 *cert;
	char t1[32];
	int n;

	*out = NULL;
	n = certs ? sk_X509_num(certs) : 0;
	if (n <= 0) {
		snprintf(err, errlen, "no CA certificate");
		return -EINVAL;
	}
	cert = sk_X509_value(certs, 0);
	if (!key || X509_check_private_key(cert, key) != 1) {
		ERR_clear_error();
		snprintf(err, errlen,
			 "the private key does not match the first certificate (the signing CA)");
		return -EINVAL;
	}
	if (X509_check_ca(cert) < 1) {
		snprintf(err, errlen,
			 "the first certificate is not a CA certificate (it needs basicConstraints "
			 "CA:TRUE and, with keyUsage, keyCertSign)");
		return -EINVAL;
	}
	ca = xcalloc(1, sizeof(*ca));
	ca->magic = FORGE_CA_MAGIC;
	ca->opts = *o;
	if (ca->opts.max_ttl_s < FORGE_MIN_TTL)
		ca->opts.max_ttl_s = FORGE_MIN_TTL;
	X509_up_ref(cert);
	ca->cert = cert;
	EVP_PKEY_up_ref(key);
	ca->key = key;
	ca->md = ca_digest(key);
	if (!forge_asn1_time(X509_get0_notBefore(cert), &ca->not_before) ||
	    !forge_asn1_time(X509_get0_notAfter(cert), &ca->not_after)) {
		snprintf(err, errlen, "the CA certificate has an unreadable validity period");
		goto fail;
	}
	if (ca->not_after <= now) {
		forge_fmt_time(ca->not_after, t1, sizeof(t1));
		snprintf(err, errlen, "the CA certificate expired at %s", t1);
		goto fail;
	}
	/* Fetching the digest and signature algorithms costs about a tenth of
	 * a signature: do it once and copy the initialised context. */
	ca->sign_tmpl = EVP_MD_CTX_new();
	if (!ca->sign_tmpl || EVP_DigestSignInit(ca->sign_tmpl, NULL, ca->md, NULL, ca->key) != 1) {
		EVP_MD_CTX_free(ca->sign_tmpl);
		ca->sign_tmpl = NULL;
		ERR_clear_error();
	}
	ca->akid = make_akid(cert);
	ca->basic = make_basic_constraints();
	if (!ca->akid || !ca->basic) {
		forge_ssl_err(err, errlen, "cannot prepare the CA extensions");
		goto fail;
	}
	if (!o->no_append_ca_cert) {
		ca->tail = xcalloc((size_t)n, sizeof(*ca->tail));
		for (int i = 0; i < n; i++) {
			unsigned char *der = NULL;
			int len = i2d_X509(sk_X509_value(certs, i), &der);
			if (len <= 0) {
				forge_ssl_err(err, errlen, "cannot encode a CA certificate");
				goto fail;
			}
			ca->tail[i] = slice_make(der, (size_t)len);
			ca->ntail++;
		}
	}
	*out = ca;
	return 0;
fail:
	forge_ca_free(ca);
	return -EINVAL;
}

void forge_ca_free(struct forge_ca *ca)
{
	if (!ca)
		return;
	CHECK_OBJ(ca, FORGE_CA_MAGIC);
	for (size_t i = 0; i < ca->ntail; i++)
		OPENSSL_free((void *)ca->tail[i].p);
	free(ca->tail);
	EVP_MD_CTX_free(ca->sign_tmpl);
	X509_EXTENSION_free(ca->akid);
	X509_EXTENSION_free(ca->basic);
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	POISON_OBJ(ca);
	free(ca);
}

size_t forge_ca_tail(const struct forge_ca *ca, const struct slice **out)
{
	CHECK_OBJ(ca, FORGE_CA_MAGIC);
	*out = ca->tail;
	return ca->ntail;
}

const struct forge_opts *forge_ca_opts(const struct forge_ca *ca)
{
	CHECK_OBJ(ca, FORGE_CA_MAGIC);
	return &ca->opts;
}

const X509 *forge_ca_cert(const struct forge_ca *ca)
{
	CHECK_OBJ(ca, FORGE_CA_MAGIC);
	return ca->cert;
}

bool forge_ca_same_signer(const struct forge_ca *a, const struct forge_ca *b)
{
	CHECK_OBJ(a, FORGE_CA_MAGIC);
	CHECK_OBJ(b, FORGE_CA_MAGIC);
	return a == b || (X509_cmp(a->cert, b->cert) == 0 && EVP_PKEY_eq(a->key, b->key) == 1 &&
			  a->opts.keep_serial == b->opts.keep_serial);
}

/* ---- host ----------------------------------------------------------------------- */

static bool parse_ip(const char *s, struct forge_host *h)
{
	char buf[INET6_ADDRSTRLEN];
	struct in_addr a4;
	struct in6_addr a6;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(h->ip, &a4, 4);
		h->iplen = 4;
		inet_ntop(AF_INET, &a4, buf, sizeof(buf));
	} else if (inet_pton(AF_INET6, s, &a6) == 1) {
		memcpy(h->ip, &a6, 16);
		h->iplen = 16;
		inet_ntop(AF_INET6, &a6, buf, sizeof(buf));
	} else {
		return false;
	}
	h->is_ip = true;
	h->len = strlen(buf);
	memcpy(h->name, buf, h->len + 1);
	return true;
}

static bool ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Check the labels of a lower-cased name; "*" is allowed as the first label. */
static int check_labels(const char *name, size_t len, bool *wild, char *err, size_t errlen)
{
	size_t start = 0, nlabels = 0;

	*wild = false;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && name[i] != '.')
			continue;
		size_t l = i - start;
		const char *lab = name + start;
		if (l == 0) {
			snprintf(err, errlen, "empty label at offset %zu", start);
			return -EINVAL;
		}
		if (l > 63) {
			snprintf(err, errlen, "label at offset %zu is %zu bytes long (at most 63)",
				 start, l);
			return -EINVAL;
		}
		if (l == 1 && lab[0] == '*' && nlabels == 0) {
			*wild = true;
		} else {
			for (size_t j = 0; j < l; j++) {
				if (ldh(lab[j]))
					continue;
				snprintf(err, errlen,
					 lab[j] == '*'
						 ? "'*' is only allowed as the whole first label"
						 : "invalid character 0x%02x at offset %zu "
						   "(DNS names use letters, digits, '-', "
						   "'_' and A-labels for IDNs)",
					 (unsigned char)lab[j], start + j);
				return -EINVAL;
			}
			if (lab[0] == '-' || lab[l - 1] == '-') {
				snprintf(err, errlen, "label at offset %zu starts or ends with '-'",
					 start);
				return -EINVAL;
			}
		}
		nlabels++;
		start = i + 1;
	}
	if (*wild && nlabels < 3) {
		snprintf(err, errlen, "a wildcard needs at least two labels after '*'");
		return -EINVAL;
	}
	return 0;
}

int forge_host_parse(const char *s, size_t len, bool wildcard, struct forge_host *out, char *err,
		     size_t errlen)
{
	char tmp[FORGE_HOST_MAX + 3];

	memset(out, 0, sizeof(*out));
	if (!s || len == 0) {
		snprintf(err, errlen, "empty host");
		return -EINVAL;
	}
	if (len > FORGE_HOST_MAX + 2) {
		snprintf(err, errlen, "host too long (%zu bytes, at most %u)", len, FORGE_HOST_MAX);
		return -EINVAL;
	}
	if (memchr(s, '\0', len)) {
		snprintf(err, errlen, "host contains a NUL byte");
		return -EINVAL;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	/* "[2001:db8::1]" as in a URL authority. */
	if (len > 2 && tmp[0] == '[' && tmp[len - 1] == ']') {
		tmp[len - 1] = '\0';
		if (!parse_ip(tmp + 1, out) || out->iplen != 16) {
			snprintf(err, errlen, "invalid IPv6 literal '%s'", tmp);
			return -EINVAL;
		}
	} else if (!parse_ip(tmp, out)) {
		if (len > 1 && tmp[len - 1] == '.')
			tmp[--len] = '\0';
		if (len > FORGE_HOST_MAX) {
			snprintf(err, errlen, "host too long (%zu bytes, at most %u)", len,
				 FORGE_HOST_MAX);
			return -EINVAL;
		}
		for (size_t i = 0; i < len; i++)
			if (tmp[i] >= 'A' && tmp[i] <= 'Z')
				tmp[i] = (char)(tmp[i] - 'A' + 'a');
		if (check_labels(tmp, len, &out->is_wildcard, err, errlen))
			return -EINVAL;
		memcpy(out->name, tmp, len + 1);
		out->len = len;
	}
	if (!wildcard || out->is_wildcard)
		return 0;
	if (out->is_ip) {
		snprintf(err, errlen, "a wildcard needs a DNS name, not an IP address");
		return -EINVAL;
	}
	const char *dot = strchr(out->name, '.');
	if (!dot || !strchr(dot + 1, '.')) {
		snprintf(
			err, errlen,
			"a wildcard for '%s' would cover a top-level domain: it needs three labels",
			out->name);
		return -EINVAL;
	}
	snprintf(out->wild, sizeof(out->wild), "*%s", dot);
	return 0;
}

/* ---- upstream -------------------------------------------------------------------- */

/* d2i of a copied extension: present and decodable, absent, or broken. */
static bool ext_ok(const X509 *x, int nid, const char *what, char *err, size_t errlen)
{
	int crit = -1;
	void *v = X509_get_ext_d2i(x, nid, &crit, NULL);

	if (v) {
		if (nid == NID_subject_alt_name)
			GENERAL_NAMES_free(v);
		else if (nid == NID_ext_key_usage)
			EXTENDED_KEY_USAGE_free(v);
		else
			ASN1_BIT_STRING_free(v);
		return true;
	}
	if (crit == -1)
		return true;
	snprintf(err, errlen, "invalid upstream certificate: %s %s", what,
		 crit == -2 ? "appears twice" : "does not decode");
	return false;
}

enum rpc_code forge_upstream_parse(const uint8_t *der, size_t len, X509 **out,
				   enum fcgen_key_type *kt, char *err, size_t errlen)
{
	const unsigned char *p = der;
	X509 *x = NULL;
	EVP_PKEY *pk;
	enum rpc_code code = RPC_INVALID_ARGUMENT;

	*out = NULL;
	if (len == 0) {
		snprintf(err, errlen, "empty upstream certificate");
		return code;
	}
	if (len > FORGE_UPSTREAM_MAX) {
		snprintf(err, errlen, "upstream certificate too large (%zu bytes, at most %u)", len,
			 FORGE_UPSTREAM_MAX);
		return code;
	}
	x = d2i_X509(NULL, &p, (long)len);
	if (!x) {
		forge_ssl_err(err, errlen, "invalid upstream certificate: not DER X.509");
		return code;
	}
	if ((size_t)(p - der) != len) {
		snprintf(err, errlen,
			 "invalid upstream certificate: %zu bytes of trailing data after the DER "
			 "certificate",
			 len - (size_t)(p - der));
		goto out;
	}
	if (!ext_ok(x, NID_subject_alt_name, "subjectAltName", err, errlen) ||
	    !ext_ok(x, NID_ext_key_usage, "extKeyUsage", err, errlen) ||
	    !ext_ok(x, NID_key_usage, "keyUsage", err, errlen))
		goto out;
	pk = X509_get0_pubkey(x);
	if (!pk) {
		forge_ssl_err(err, errlen, "invalid upstream certificate: unreadable public key");
		goto out;
	}
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		*kt = FCGEN_KEY_RSA2048;
		break;
	case EVP_PKEY_EC:
		*kt = FCGEN_KEY_EC256;
		break;
	case EVP_PKEY_ED25519:
		*kt = FCGEN_KEY_ED25519;
		break;
	case EVP_PKEY_ED448:
		*kt = FCGEN_KEY_ED448;
		break;
	default: {
		const char *name = OBJ_nid2sn(EVP_PKEY_get_base_id(pk));
		snprintf(err, errlen, "unsupported upstream key type %s",
			 name ? name : "(unknown)");
		goto out;
	}
	}
	*out = x;
	x = NULL;
	code = RPC_OK;
out:
	ERR_clear_error();
	X509_free(x);
	return code;
}

/* ---- validity -------------------------------------------------------------------- */

enum rpc_code forge_validity(const struct forge_ca *ca, const X509 *upstream, time_t now,
			     time_t *not_before, time_t *not_after, char *err, size_t errlen)
{
	char t1[32], t2[32];
	time_t nb, na;

	CHECK_OBJ(ca, FORGE_CA_MAGIC);
	if (ca->not_after <= now) {
		forge_fmt_time(ca->not_after, t1, sizeof(t1));
		snprintf(err, errlen, "the CA certificate expired at %s", t1);
		return RPC_FAILED_PRECONDITION;
	}
	if (upstream) {
		if (!forge_asn1_time(X509_get0_notBefore(upstream), &nb) ||
		    !forge_asn1_time(X509_get0_notAfter(upstream), &na)) {
			snprintf(err, errlen, "invalid upstream certificate: unreadable validity");
			return RPC_INVALID_ARGUMENT;
		}
		if (na <= now) {
			forge_fmt_time(na, t1, sizeof(t1));
			snprintf(err, errlen, "the upstream certificate expired at %s", t1);
			return RPC_FAILED_PRECONDITION;
		}
	} else {
		nb = now - FORGE_PLAIN_BACKDATE;
		na = now + FORGE_PLAIN_LIFETIME;
	}
	nb = MAX(nb, ca->not_before);
	na = MIN(na, ca->not_after);
	if (nb >= na) {
		forge_fmt_time(nb, t1, sizeof(t1));
		forge_fmt_time(na, t2, sizeof(t2));
		snprintf(
			err, errlen,
			"the upstream validity does not overlap the CA's (%s .. %s after clamping)",
			t1, t2);
		return RPC_FAILED_PRECONDITION;
	}
	*not_before = nb;
	*not_after = na;
	return RPC_OK;
}

uint32_t forge_ttl(const struct forge_ca *ca, time_t not_after, time_t now)
{
	CHECK_OBJ(ca, FORGE_CA_MAGIC);
	if (not_after <= now)
		return 0;
	if ((uint64_t)(not_after - now) >= ca->opts.max_ttl_s)
		return ca->opts.max_ttl_s;
	return (uint32_t)(not_after - now);
}
