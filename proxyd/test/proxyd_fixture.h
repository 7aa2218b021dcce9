/* Shared helpers for proxyd's config tests: load a YAML string or file and
 * keep the joined error text, find the source tree, write temp files, mint a
 * throwaway self-signed certificate. Header-only; each test binary includes
 * it once. */
#ifndef G3C_PROXYD_TEST_FIXTURE_H
#define G3C_PROXYD_TEST_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/conf.h"
#include "common/log.h"
#include "proxyd/config.h"

/* The source tree: -DG3C_SRCDIR from proxyd/module.mk, else derived from
 * this file's path (proxyd/test/proxyd_fixture.h). */
static inline const char *fx_srcdir(void)
{
#ifdef G3C_SRCDIR
	return G3C_SRCDIR;
#else
	static char dir[4096];
	const char *f = __FILE__;
	const char *p = strstr(f, "proxyd/test/");
	size_t n = p ? (size_t)(p - f) : 0;
	if (n == 0)
		return ".";
	snprintf(dir, sizeof(dir), "%.*s", (int)(n - 1), f);
	return dir;
#endif
}

struct fx_load {
	struct conf_ctx ctx;
	struct proxyd_conf *conf;
	char *errs; /* joined errors ("" when none) */
};

static inline void fx_done(struct fx_load *l)
{
	proxyd_conf_unref(l->conf);
	l->conf = NULL;
	free(l->errs);
	l->errs = NULL;
	conf_ctx_fini(&l->ctx);
}

static inline void fx_finish(struct fx_load *l)
{
	char *e = conf_errors_join(&l->ctx);
	l->errs = e ? e : strdup("");
	if (l->conf == NULL && l->errs[0] == '\0') {
		free(l->errs);
		l->errs = strdup("(load failed without an error)");
	}
}

/* Load YAML text named "t.yaml"; relative paths resolve against the cwd. */
static inline struct proxyd_conf *fx_load_str(struct fx_load *l, const char *yaml)
{
	memset(l, 0, sizeof(*l));
	conf_ctx_init(&l->ctx, "t.yaml");
	l->conf = proxyd_conf_load_buffer(&l->ctx, "t.yaml", yaml, strlen(yaml));
	fx_finish(l);
	return l->conf;
}

static inline struct proxyd_conf *fx_load_path(struct fx_load *l, const char *path)
{
	memset(l, 0, sizeof(*l));
	conf_ctx_init(&l->ctx, path);
	l->conf = proxyd_conf_load(&l->ctx, path);
	fx_finish(l);
	return l->conf;
}

/* Assert a YAML text loads without any error; prints the errors if not. */
#define FX_LOAD_OK(l, yaml)                                                     \
	do {                                                                    \
		if (fx_load_str((l), (yaml)) == NULL || (l)->errs[0] != '\0')   \
			fail_msg("expected a clean load, got:\n%s", (l)->errs); \
	} while (0)

/* Assert a YAML text fails with exactly this joined error text. */
#define FX_LOAD_ERR(yaml, expected)                       \
	do {                                              \
		struct fx_load l_;                        \
		assert_null(fx_load_str(&l_, (yaml)));    \
		assert_string_equal(l_.errs, (expected)); \
		fx_done(&l_);                             \
	} while (0)

/* Assert a YAML text fails and the first error contains `part`. */
#define FX_LOAD_ERR_HAS(yaml, part)                                                           \
	do {                                                                                  \
		struct fx_load l_;                                                            \
		assert_null(fx_load_str(&l_, (yaml)));                                        \
		if (strstr(l_.errs, (part)) == NULL)                                          \
			fail_msg("expected an error with \"%s\", got:\n%s", (part), l_.errs); \
		fx_done(&l_);                                                                 \
	} while (0)

/* ---- temp files ------------------------------------------------------------------ */

static inline char *fx_tmpdir(void)
{
	char tmpl[] = "/tmp/proxyd-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

static inline void fx_write(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static inline void fx_rmtree(const char *dir)
{
	char cmd[4200];

	/* only our own mkdtemp directories */
	assert_int_equal(strncmp(dir, "/tmp/proxyd-test-", 17), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A throwaway EC P-256 self-signed certificate and key as PEM (owned). */
static inline void fx_make_cert(const char *cn, char **cert_pem, char **key_pem)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIO *b;
	char *p;
	long n;

	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);

	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	n = BIO_get_mem_data(b, &p);
	*cert_pem = strndup(p, (size_t)n);
	BIO_free(b);
	b = BIO_new(BIO_s_mem());
	assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	n = BIO_get_mem_data(b, &p);
	*key_pem = strndup(p, (size_t)n);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* Indent every line of text by `spaces` (owned), for inline PEM in YAML. */
static inline char *fx_indent(const char *text, int spaces)
{
	size_t n = strlen(text), lines = 1;
	char *out, *o;

	for (size_t i = 0; i < n; i++)
		lines += text[i] == '\n';
	out = malloc(n + lines * (size_t)spaces + 1);
	o = out;
	for (const char *s = text; *s;) {
		memset(o, ' ', (size_t)spaces);
		o += spaces;
		while (*s && *s != '\n')
			*o++ = *s++;
		if (*s == '\n')
			*o++ = *s++;
	}
	*o = '\0';
	return out;
}

/* Quiet the process log below errors (fallback warnings are expected). */
static inline int fx_quiet_log(void **state)
{
	(void)state;
	log_init("proxyd-test", "", LOG_SINK_STDERR, 0);
	log_threshold = LOG_LVL_ERR;
	return 0;
}

#endif
