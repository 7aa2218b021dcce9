/* mkcert main flow: parse, load the issuer and the certificate to mimic,
 * decide key, names, window and extensions, sign, write. */
#include "tools/mkcert/mkcert.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "common/daemon.h"
#include "common/tls.h"
#include "tools/mkcert/cert.h"

struct issuer {
	X509 *cert;
	EVP_PKEY *key;
	struct mkcert_window window;
	long pathlen; /* -1: no pathlen constraint */
};

/* Everything one run owns; released by job_fini(). */
struct job {
	struct mkcert_host *hosts;
	struct issuer ca;
	bool have_ca;
	struct mkcert_mimic mimic;
	bool have_mimic;
	X509_NAME *subject;
	GENERAL_NAMES *san;
	EXTENDED_KEY_USAGE *eku;
	EVP_PKEY *key;
	X509 *cert;
};

static void job_fini(struct job *j)
{
	free(j->hosts);
	X509_free(j->ca.cert);
	EVP_PKEY_free(j->ca.key);
	mkcert_mimic_fini(&j->mimic);
	X509_NAME_free(j->subject);
	GENERAL_NAMES_free(j->san);
	sk_ASN1_OBJECT_pop_free(j->eku, ASN1_OBJECT_free);
	EVP_PKEY_free(j->key);
	X509_free(j->cert);
}

static int failf(const char *fmt, ...) PRINTF_FMT(1, 2);

static int failf(const char *fmt, ...)
{
	va_list ap;

	fputs("mkcert: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return MKCERT_EXIT_FAIL;
}

static int load_issuer(const struct mkcert_opts *o, struct issuer *ca)
{
	STACK_OF(X509) *sk = NULL;
	char err[MKCERT_ERR_MAX];
	uint32_t flags;

	if (tls_load_certs(o->ca_cert_path, &sk, err, sizeof(err)) < 0)
		return failf("--ca-cert: %s", err);
	ca->cert = sk_X509_shift(sk);
	sk_X509_pop_free(sk, X509_free);
	if (tls_load_key(o->ca_key_path, &ca->key, err, sizeof(err)) < 0)
		return failf("--ca-key: %s", err);
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		ERR_clear_error();
		return failf("the key in %s does not match the certificate in %s", o->ca_key_path,
			     o->ca_cert_path);
	}
	flags = X509_get_extension_flags(ca->cert);
	if (!(flags & EXFLAG_CA) || X509_get_version(ca->cert) != X509_VERSION_3)
		return failf("%s is not a CA certificate (no basicConstraints CA:TRUE)",
			     o->ca_cert_path);
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(ca->cert) & KU_KEY_CERT_SIGN))
		return failf("%s is not allowed to sign certificates (keyUsage lacks keyCertSign)",
			     o->ca_cert_path);
	if (mkcert_time_of(X509_get0_notBefore(ca->cert), &ca->window.not_before) < 0 ||
	    mkcert_time_of(X509_get0_notAfter(ca->cert), &ca->window.not_after) < 0)
		return failf("%s has malformed validity times", o->ca_cert_path);
	ca->pathlen = X509_get_pathlen(ca->cert);
	return 0;
}

static int classify_hosts(const struct mkcert_opts *o, struct job *j)
{
	char err[MKCERT_ERR_MAX];
	size_t i;

	j->hosts = xcalloc(o->n_hosts ? o->n_hosts : 1, sizeof(*j->hosts));
	for (i = 0; i < o->n_hosts; i++)
		if (mkcert_host_classify(o->hosts[i], &j->hosts[i], err, sizeof(err)) ==
		    MKCERT_HOST_INVALID)
			return failf("invalid --host '%s': %s", o->hosts[i], err);
	return 0;
}

/* pathlen of a new CA: g3mkcert's rules, but refusing (not silently
 * raising) an explicit value the issuer cannot allow. */
static int decide_pathlen(const struct mkcert_opts *o, const struct job *j, int *out)
{
	long p = j->have_ca ? j->ca.pathlen : -1;

	if (o->kind == MKCERT_KIND_ROOT) {
		*out = o->has_path_length ? (int)o->path_length : -1;
		return 0;
	}
	if (p == 0)
		return failf("%s has pathlen 0: no intermediate CA may be made below it",
			     o->ca_cert_path);
	if (p > 0 && o->has_path_length && (long)o->path_length > p - 1)
		return failf("--path-length %u is more than %s allows below it (%ld)",
			     o->path_length, o->ca_cert_path, p - 1);
	if (o->has_path_length)
		*out = (int)o->path_length;
	else
		*out = p > 0 ? (int)(p - 1) : 0;
	return 0;
}

/* SAN of the new certificate: the --host values, else the mimicked one's,
 * else (mimic only) its CN when that is a host name. */
static int decide_san(const struct mkcert_opts *o, struct job *j)
{
	struct mkcert_host h;
	char err[MKCERT_ERR_MAX];

	if (o->n_hosts) {
		if (mkcert_san_build(j->hosts, o->n_hosts, &j->san) < 0)
			return failf("out of memory");
		return 0;
	}
	if (!j->have_mimic)
		return 0;
	if (j->mimic.san) {
		j->san = j->mimic.san;
		j->mimic.san = NULL;
		return 0;
	}
	if (j->mimic.cn[0] == '\0' ||
	    mkcert_host_classify(j->mimic.cn, &h, err, sizeof(err)) == MKCERT_HOST_INVALID)
		return failf("%s has no subjectAltName and its CN is not a host name: give --host",
			     o->mimic_path);
	if (mkcert_san_build(&h, 1, &j->san) < 0)
		return failf("out of memory");
	return 0;
}

/* Default output file name: g3mkcert's "<CN>.crt" with whitespace runs
 * turned into '_' (and '/' too, so a CN never names a directory). */
static char *default_path(const struct mkcert_opts *o, const struct job *j, const char *ext)
{
	const char *stem = "tls_mimic";
	const char *suffix = mkcert_kind_is_client(o->kind) ? "-client" : "";
	size_t i, n = 0;
	char *p;

	if (o->kind != MKCERT_KIND_MIMIC)
		stem = o->common_name ? o->common_name : j->hosts[0].name;
	p = xmalloc(strlen(stem) + strlen(suffix) + strlen(ext) + 1);
	for (i = 0; stem[i]; i++) {
		bool ws = stem[i] == ' ' || stem[i] == '\t' || stem[i] == '\n';

		if (ws && (n == 0 || p[n - 1] == '_'))
			continue;
		p[n++] = ws || stem[i] == '/' ? '_' : stem[i];
	}
	if (n == 0)
		p[n++] = '_';
	strcpy(p + n, suffix);
	strcat(p, ext);
	return p;
}

static int write_outputs(const struct mkcert_opts *o, struct job *j)
{
	char *cert_path = o->output_cert ? xstrdup(o->output_cert) : default_path(o, j, ".crt");
	char *key_path = o->output_key ? xstrdup(o->output_key) : default_path(o, j, ".key");
	char err[MKCERT_ERR_MAX];
	int rc = MKCERT_EXIT_OK;

	if (strcmp(cert_path, key_path) == 0) {
		rc = failf("the certificate and the key would both go to %s", cert_path);
		goto out;
	}
	if (mkcert_write_cert(cert_path, j->cert, err, sizeof(err)) < 0) {
		rc = failf("%s", err);
		goto out;
	}
	if (mkcert_write_key(key_path, j->key, err, sizeof(err)) < 0) {
		unlink(cert_path);
		rc = failf("%s", err);
		goto out;
	}
	printf("certificate saved to %s\nprivate key saved to %s\n", cert_path, key_path);
out:
	free(cert_path);
	free(key_path);
	return rc;
}

static int make(const struct mkcert_opts *o)
{
	struct job j;
	struct mkcert_tbs t;
	struct mkcert_key_spec ks;
	char err[MKCERT_ERR_MAX], ksbuf[32];
	int64_t now = (int64_t)time(NULL);
	int rc;

	memset(&j, 0, sizeof(j));
	memset(&t, 0, sizeof(t));
	rc = classify_hosts(o, &j);
	if (rc)
		goto out;
	if (o->kind != MKCERT_KIND_ROOT) {
		rc = load_issuer(o, &j.ca);
		if (rc)
			goto out;
		j.have_ca = true;
		t.issuer = j.ca.cert;
		t.issuer_key = j.ca.key;
	}
	if (o->kind == MKCERT_KIND_MIMIC) {
		X509 *up = NULL;

		if (mkcert_read_cert(o->mimic_path, &up, err, sizeof(err)) < 0) {
			rc = failf("--mimic: %s", err);
			goto out;
		}
		j.have_mimic = true;
		rc = mkcert_mimic_read(up, &j.mimic, err, sizeof(err)) < 0;
		X509_free(up);
		if (rc) {
			rc = failf("--mimic %s: %s", o->mimic_path, err);
			goto out;
		}
	}

	ks = o->key.type != MKCERT_KEY_DEFAULT
		     ? o->key
		     : mkcert_key_default(o->kind, j.have_mimic ? &j.mimic.key : NULL);
	if (j.have_mimic) {
		t.subject = j.mimic.subject;
	} else {
		if (mkcert_subject_build(o, o->n_hosts ? j.hosts[0].name : NULL, &j.subject, err,
					 sizeof(err)) < 0) {
			rc = failf("%s", err);
			goto out;
		}
		t.subject = j.subject;
	}
	rc = decide_san(o, &j);
	if (rc)
		goto out;
	t.san = j.san;
	if (mkcert_validity_compute(o, now, j.have_ca ? &j.ca.window : NULL,
				    j.have_mimic ? &j.mimic.validity : NULL, &t.validity, err,
				    sizeof(err)) < 0) {
		rc = failf("%s", err);
		goto out;
	}
	t.ca = mkcert_kind_is_ca(o->kind);
	t.path_length = -1;
	if (t.ca) {
		rc = decide_pathlen(o, &j, &t.path_length);
		if (rc)
			goto out;
	}
	if (j.have_mimic) {
		t.has_ku = j.mimic.has_ku;
		t.ku_critical = j.mimic.ku_critical;
		t.ku = j.mimic.ku;
		t.eku = j.mimic.eku;
		t.eku_critical = j.mimic.eku_critical;
		if (o->keep_serial)
			t.serial = j.mimic.serial;
	} else {
		int nid = mkcert_eku_nid_for(o->kind);

		t.has_ku = true;
		t.ku_critical = true;
		t.ku = mkcert_ku_for(o->kind, ks.type);
		if (nid != NID_undef) {
			j.eku = sk_ASN1_OBJECT_new_null();
			if (!j.eku || !sk_ASN1_OBJECT_push(j.eku, OBJ_nid2obj(nid))) {
				rc = failf("out of memory");
				goto out;
			}
			t.eku = j.eku;
		}
	}

	rc = mkcert_key_generate(&ks, &j.key, err, sizeof(err));
	if (rc < 0) {
		rc = failf("%s", err);
		goto out;
	}
	t.key = j.key;
	if (mkcert_cert_sign(&t, &j.cert, err, sizeof(err)) < 0) {
		rc = failf("%s (%s key)", err, mkcert_key_spec_str(&ks, ksbuf, sizeof(ksbuf)));
		goto out;
	}
	if (now < t.validity.not_before || now > t.validity.not_after)
		fprintf(stderr, "mkcert: warning: the certificate is not valid now\n");
	rc = write_outputs(o, &j);
out:
	job_fini(&j);
	return rc;
}

int mkcert_main(int argc, char **argv)
{
	struct mkcert_opts o;
	char err[MKCERT_ERR_MAX];
	int rc;

	if (mkcert_opts_parse(argc, argv, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "mkcert: %s\nTry 'mkcert --help' for more information.\n", err);
		mkcert_opts_fini(&o);
		return MKCERT_EXIT_USAGE;
	}
	switch (o.action) {
	case MKCERT_ACT_HELP:
		fputs(mkcert_usage(), stdout);
		rc = MKCERT_EXIT_OK;
		break;
	case MKCERT_ACT_VERSION:
		printf("mkcert %s (g3c, %s)\n", G3C_VERSION, OpenSSL_version(OPENSSL_VERSION));
		rc = MKCERT_EXIT_OK;
		break;
	case MKCERT_ACT_COMPLETION:
		rc = MKCERT_EXIT_OK;
		if (mkcert_print_completion(o.completion_shell) < 0) {
			fprintf(stderr,
				"mkcert: --completion: no script for shell '%s' (bash "
				"only)\n",
				o.completion_shell);
			rc = MKCERT_EXIT_USAGE;
		}
		break;
	case MKCERT_ACT_MAKE:
	default:
		rc = make(&o);
		break;
	}
	mkcert_opts_fini(&o);
	if (fflush(stdout) != 0 && rc == MKCERT_EXIT_OK)
		rc = MKCERT_EXIT_FAIL;
	return rc;
}
