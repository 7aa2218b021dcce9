/* Loading certificates and keys, peer names, and error text. The SSL_CTX
 * builders live in tls_ctx.c. */
#include "common/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/tls_int.h"

bool tls_is_inline_pem(const char *v)
{
	return v && strstr(v, "-----BEGIN") != NULL;
}

void tls_set_err(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (!err || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

static void clean_line(char *s)
{
	for (; *s; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
}

const char *tls_err_string(char *buf, size_t cap)
{
	size_t off = 0;
	bool any = false;
	unsigned long e;
	const char *data;
	int flags;

	if (cap == 0) {
		ERR_clear_error();
		return buf;
	}
	buf[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		char one[256];
		bool has_data = (flags & ERR_TXT_STRING) && data && *data;
		int n;

		ERR_error_string_n(e, one, sizeof(one));
		n = snprintf(buf + off, cap - off, "%s%s%s%s%s", any ? "; " : "", one,
			     has_data ? " (" : "", has_data ? data : "", has_data ? ")" : "");
		any = true;
		if (n < 0)
			break;
		off += (size_t)n;
		if (off >= cap - 1) {
			off = cap - 1; /* truncated; keep draining the queue */
		}
	}
	if (!any)
		snprintf(buf, cap, "no TLS error details");
	clean_line(buf);
	return buf;
}

void tls_log_errors(const char *what)
{
	char buf[TLS_ERR_MAX];

	/* drain even when the warning is filtered out */
	tls_err_string(buf, sizeof(buf));
	log_warn("%s: %s", what, buf);
}

const char *tls_verify_result_string(const SSL *ssl)
{
	return X509_verify_cert_error_string(SSL_get_verify_result(ssl));
}

/* Encrypted keys are refused rather than prompting on a terminal. */
static int no_password_cb(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Open src as a BIO; *desc names it in messages. */
static int open_src(const char *src, BIO **out, const char **desc, char *err, size_t errcap)
{
	BIO *bio;

	if (!src || !*src) {
		tls_set_err(err, errcap, "empty value");
		return -EINVAL;
	}
	if (tls_is_inline_pem(src)) {
		*desc = "inline PEM";
		bio = BIO_new_mem_buf(src, -1);
	} else {
		struct stat st;
		FILE *f;

		*desc = src;
		if (stat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
			tls_set_err(err, errcap, "cannot read %s: %s", src, strerror(EISDIR));
			return -EISDIR;
		}
		f = fopen(src, "re");
		if (!f) {
			int rc = -errno;
			tls_set_err(err, errcap, "cannot open %s: %s", src, strerror(-rc));
			return rc;
		}
		bio = BIO_new_fp(f, BIO_CLOSE);
		if (!bio)
			fclose(f);
	}
	if (!bio) {
		ERR_clear_error();
		tls_set_err(err, errcap, "out of memory");
		return -ENOMEM;
	}
	*out = bio;
	return 0;
}

/* After the PEM reader stopped: was it just the end of the input? */
static bool pem_at_end(void)
{
	unsigned long e = ERR_peek_last_error();

	return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

int tls_load_certs(const char *src, STACK_OF(X509) * *out, char *err, size_t errcap)
{
	STACK_OF(X509) *sk = NULL;
	const char *desc = "";
	BIO *bio = NULL;
	X509 *x;
	int rc;

	ERR_clear_error();
	rc = open_src(src, &bio, &desc, err, errcap);
	if (rc < 0)
		goto out;
	sk = sk_X509_new_null();
	if (!sk) {
		rc = -ENOMEM;
		tls_set_err(err, errcap, "out of memory");
		goto out;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, no_password_cb, NULL)) != NULL) {
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			rc = -ENOMEM;
			tls_set_err(err, errcap, "out of memory");
			goto out;
		}
	}
	if (!pem_at_end()) {
		char detail[TLS_ERR_MAX];
		rc = -EBADMSG;
		tls_set_err(err, errcap, "bad certificate PEM in %s: %s", desc,
			    tls_err_string(detail, sizeof(detail)));
		goto out;
	}
	if (sk_X509_num(sk) == 0) {
		rc = -EBADMSG;
		tls_set_err(err, errcap, "no certificate found in %s", desc);
		goto out;
	}
	*out = sk;
	sk = NULL;
	rc = 0;
out:
	ERR_clear_error();
	sk_X509_pop_free(sk, X509_free);
	BIO_free(bio);
	return rc;
}

/* DER of one PEM private key block → key; NULL with the queue set. */
static EVP_PKEY *decode_key(const char *name, const unsigned char *der, long len)
{
	const unsigned char *p = der;

	if (strcmp(name, PEM_STRING_RSA) == 0)
		return d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, len);
	if (strcmp(name, PEM_STRING_ECPRIVATEKEY) == 0)
		return d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, len);
	return d2i_AutoPrivateKey(NULL, &p, len); /* PKCS#8 "PRIVATE KEY" */
}

static bool is_key_block(const char *name)
{
	size_t n = strlen(name), k = strlen("PRIVATE KEY");

	return n >= k && strcmp(name + n - k, "PRIVATE KEY") == 0;
}

int tls_load_key(const char *src, EVP_PKEY **out, char *err, size_t errcap)
{
	char detail[TLS_ERR_MAX];
	const char *desc = "";
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	int rc;

	ERR_clear_error();
	rc = open_src(src, &bio, &desc, err, errcap);
	if (rc < 0)
		goto out;
	/* walk the PEM blocks ourselves: OpenSSL 3's decoder-based reader
	 * reports "unsupported" for everything, which tells the user nothing */
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long len = 0;
		bool encrypted;

		if (PEM_read_bio(bio, &name, &header, &data, &len) != 1) {
			rc = -EBADMSG;
			if (pem_at_end())
				tls_set_err(err, errcap, "no private key found in %s", desc);
			else
				tls_set_err(err, errcap, "bad private key PEM in %s: %s", desc,
					    tls_err_string(detail, sizeof(detail)));
			goto out;
		}
		if (!is_key_block(name)) {
			OPENSSL_free(name);
			OPENSSL_free(header);
			OPENSSL_free(data);
			continue;
		}
		encrypted = strcmp(name, PEM_STRING_PKCS8) == 0 ||
			    (header && strstr(header, "ENCRYPTED"));
		if (!encrypted)
			key = decode_key(name, data, len);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		if (encrypted) {
			rc = -EBADMSG;
			tls_set_err(err, errcap,
				    "encrypted private key in %s: encrypted keys are "
				    "not supported",
				    desc);
			goto out;
		}
		if (!key) {
			rc = -EBADMSG;
			tls_set_err(err, errcap, "bad private key in %s: %s", desc,
				    tls_err_string(detail, sizeof(detail)));
			goto out;
		}
		break;
	}
	*out = key;
	rc = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	return rc;
}

int tls_version_parse(const char *s, int *out)
{
	static const struct {
		const char *name;
		int v;
	} tab[] = {
		{"1.0", TLS1_VERSION},
		{"1.1", TLS1_1_VERSION},
		{"1.2", TLS1_2_VERSION},
		{"1.3", TLS1_3_VERSION},
	};
	char norm[8];
	size_t n = 0;

	if (!s)
		return -EINVAL;
	if (strncasecmp(s, "tls", 3) == 0) {
		s += 3;
		if (*s == 'v' || *s == 'V')
			s++;
	}
	for (; *s; s++) {
		if (n + 1 >= sizeof(norm))
			return -EINVAL;
		norm[n++] = (*s == '_') ? '.' : *s;
	}
	norm[n] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(tab); i++) {
		if (strcmp(norm, tab[i].name) == 0) {
			*out = tab[i].v;
			return 0;
		}
	}
	return -EINVAL;
}

int tls_client_set_name(SSL *ssl, const char *name, bool send_sni)
{
	unsigned char tmp[16];
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	bool is_ip;

	if (!name || !*name || strlen(name) > 255)
		return -EINVAL;
	is_ip = inet_pton(AF_INET, name, tmp) == 1 || inet_pton(AF_INET6, name, tmp) == 1;
	if (is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, name) != 1)
			goto fail;
		return 0;
	}
	X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (SSL_set1_host(ssl, name) != 1)
		goto fail;
	if (send_sni && SSL_set_tlsext_host_name(ssl, name) != 1)
		goto fail;
	return 0;
fail:
	ERR_clear_error();
	return -ENOMEM;
}
