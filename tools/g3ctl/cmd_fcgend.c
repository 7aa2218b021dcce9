/* fcgend's commands: forge HOST [--upstream FILE] [--out DIR] [--usage U]
 * [--service S] [--wildcard]. The daemon answers through the same code as
 * its Forge RPC; g3ctl prints a summary of the leaf and, with --out, writes
 * DIR/<host>.crt (the chain, PEM) and DIR/<host>.key (PKCS#8 PEM, 0600). */
#include "tools/g3ctl/g3ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "common/util.h"

#define UPSTREAM_FILE_MAX (1u << 20)

/* Options of the one forge command this process runs. */
static struct {
	const char *out_dir;
	G3c__Fcgen__ForgeReq req;
	uint8_t *upstream;
} forge_opts;

static const struct {
	const char *name;
	int value;
} usages[] =
	{
		{"tls_server", G3C__FCGEN__USAGE__TLS_SERVER},
		{"tls_server_tongsuo", G3C__FCGEN__USAGE__TLS_SERVER_TONGSUO},
		{"tlcp_server_signature", G3C__FCGEN__USAGE__TLCP_SERVER_SIGNATURE},
		{"tlcp_server_encryption", G3C__FCGEN__USAGE__TLCP_SERVER_ENCRYPTION},
		{"tlcp_server_sign", G3C__FCGEN__USAGE__TLCP_SERVER_SIGNATURE},
		{"tlcp_server_enc", G3C__FCGEN__USAGE__TLCP_SERVER_ENCRYPTION},
},
  services[] = {
	  {"http", G3C__FCGEN__SERVICE__HTTP},
	  {"smtp", G3C__FCGEN__SERVICE__SMTP},
	  {"imap", G3C__FCGEN__SERVICE__IMAP},
};

/* A name from the table (case-insensitive, '-' = '_') or a number; numbers
 * are passed through so the daemon's own validation can be exercised. */
static int pick(const char *s, const void *tab, size_t n, int *out)
{
	const struct {
		const char *name;
		int value;
	} *t = tab;
	char norm[64], *end;
	long v;
	size_t i;

	for (i = 0; s[i] && i + 1 < sizeof(norm); i++)
		norm[i] = s[i] == '-' ? '_' : (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
	norm[i] = '\0';
	for (i = 0; i < n; i++) {
		if (strcmp(norm, t[i].name) == 0) {
			*out = t[i].value;
			return 0;
		}
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 255)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* PEM (the first certificate) or raw bytes, sent as they are. */
static int read_upstream(const char *path, ProtobufCBinaryData *out)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	if (!f) {
		fprintf(stderr, "g3ctl: cannot open %s: %s\n", path, strerror(errno));
		return -EINVAL;
	}
	buf = xmalloc(UPSTREAM_FILE_MAX + 1);
	n = fread(buf, 1, UPSTREAM_FILE_MAX + 1, f);
	fclose(f);
	if (n > UPSTREAM_FILE_MAX) {
		fprintf(stderr, "g3ctl: %s is larger than %u bytes\n", path, UPSTREAM_FILE_MAX);
		free(buf);
		return -EINVAL;
	}
	buf[n] = '\0';
	if (memmem(buf, n, "-----BEGIN", 10)) {
		BIO *b = BIO_new_mem_buf(buf, (int)n);
		X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		unsigned char *der = NULL;
		int len = x ? i2d_X509(x, &der) : -1;
		BIO_free(b);
		X509_free(x);
		if (len <= 0) {
			ERR_clear_error();
			fprintf(stderr, "g3ctl: %s: no PEM certificate could be read\n", path);
			free(buf);
			return -EINVAL;
		}
		memcpy(buf, der, (size_t)len);
		n = (size_t)len;
		OPENSSL_free(der);
	}
	forge_opts.upstream = buf;
	out->data = buf;
	out->len = n;
	return 0;
}

static int forge_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	G3c__Fcgen__ForgeReq *f = &forge_opts.req;
	int v;

	(void)g;
	g3c__fcgen__forge_req__init(f);
	f->host = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;
		if (strcmp(a, "--wildcard") == 0) {
			f->wildcard = true;
		} else if (strcmp(a, "--upstream") == 0 || strcmp(a, "--out") == 0 ||
			   strcmp(a, "--usage") == 0 || strcmp(a, "--service") == 0) {
			if (!has_val) {
				fprintf(stderr, "g3ctl: forge: %s needs a value\n", a);
				return -EINVAL;
			}
			const char *val = argv[++i];
			if (strcmp(a, "--upstream") == 0) {
				if (read_upstream(val, &f->upstream))
					return -EINVAL;
			} else if (strcmp(a, "--out") == 0) {
				struct stat st;
				if (stat(val, &st) != 0 || !S_ISDIR(st.st_mode) ||
				    access(val, W_OK) != 0) {
					fprintf(stderr,
						"g3ctl: forge: --out %s is not a writable "
						"directory\n",
						val);
					return -EINVAL;
				}
				forge_opts.out_dir = val;
			} else if (strcmp(a, "--usage") == 0) {
				if (pick(val, usages, ARRAY_SIZE(usages), &v)) {
					fprintf(stderr, "g3ctl: forge: unknown usage '%s'\n", val);
					return -EINVAL;
				}
				f->usage = (G3c__Fcgen__Usage)v;
			} else {
				if (pick(val, services, ARRAY_SIZE(services), &v)) {
					fprintf(stderr, "g3ctl: forge: unknown service '%s'\n",
						val);
					return -EINVAL;
				}
				f->service = (G3c__Fcgen__Service)v;
			}
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, "g3ctl: forge: unknown option '%s'\n", a);
			return -EINVAL;
		} else if (f->host) {
			fprintf(stderr, "g3ctl: forge takes one host (got '%s' and '%s')\n",
				f->host, a);
			return -EINVAL;
		} else {
			f->host = (char *)a;
		}
	}
	if (!f->host) {
		fprintf(stderr, "g3ctl: forge: which host?\n");
		return -EINVAL;
	}
	req->body_case = G3C__CONTROL__REQUEST__BODY_FORGE;
	req->forge = f;
	return 0;
}

/* ---- output ---------------------------------------------------------------- */

static void out_name(struct out *o, const char *key, const X509_NAME *nm)
{
	char buf[1024];
	BIO *b = BIO_new(BIO_s_mem());
	int n;

	if (!b)
		return;
	X509_NAME_print_ex(b, nm, 0, XN_FLAG_RFC2253);
	n = BIO_read(b, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	BIO_free(b);
	out_str(o, key, buf);
}

static void out_time(struct out *o, const char *key, const ASN1_TIME *t)
{
	struct tm tm;
	char buf[32];

	memset(&tm, 0, sizeof(tm));
	if (!ASN1_TIME_to_tm(t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, sizeof(buf), "?");
	out_str(o, key, buf);
}

static const char *key_type(const X509 *x)
{
	EVP_PKEY *k = X509_get0_pubkey(x);

	switch (k ? EVP_PKEY_get_base_id(k) : 0) {
	case EVP_PKEY_RSA:
		return EVP_PKEY_get_bits(k) == 2048 ? "rsa2048" : "rsa";
	case EVP_PKEY_EC:
		return EVP_PKEY_get_bits(k) == 256 ? "ec256" : "ec";
	case EVP_PKEY_ED25519:
		return "ed25519";
	case EVP_PKEY_ED448:
		return "ed448";
	default:
		return "unknown";
	}
}

static void out_names(struct out *o, const X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	char buf[300];

	out_begin_list(o, "names");
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s;
		if (gn->type == GEN_DNS) {
			s = gn->d.dNSName;
			snprintf(buf, sizeof(buf), "DNS:%.*s", ASN1_STRING_length(s),
				 (const char *)ASN1_STRING_get0_data(s));
		} else if (gn->type == GEN_IPADD) {
			char ip[64] = "?";
			s = gn->d.iPAddress;
			if (ASN1_STRING_length(s) == 4 || ASN1_STRING_length(s) == 16)
				inet_ntop(ASN1_STRING_length(s) == 4 ? AF_INET : AF_INET6,
					  ASN1_STRING_get0_data(s), ip, sizeof(ip));
			snprintf(buf, sizeof(buf), "IP:%s", ip);
		} else {
			snprintf(buf, sizeof(buf), "other:%d", gn->type);
		}
		out_str(o, NULL, buf);
	}
	out_end(o);
	GENERAL_NAMES_free(gens);
}

/* <host>.crt / <host>.key; '*' of a wildcard host becomes '_'. */
static void file_path(char *buf, size_t cap, const char *dir, const char *host, const char *ext)
{
	size_t n = (size_t)snprintf(buf, cap, "%s/", dir);

	for (const char *p = host; *p && n + 1 < cap; p++)
		buf[n++] = *p == '*' || *p == '/' ? '_' : *p;
	buf[n < cap ? n : cap - 1] = '\0';
	snprintf(buf + strlen(buf), cap - strlen(buf), "%s", ext);
}

static int write_pem(const char *path, const char *type, const ProtobufCBinaryData *items, size_t n,
		     mode_t mode)
{
	char tmp[PATH_MAX + 8];
	BIO *b;
	int fd, ok = 1;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	b = BIO_new_fd(fd, BIO_CLOSE);
	if (!b) {
		close(fd);
		goto fail;
	}
	for (size_t i = 0; i < n && ok; i++)
		ok = PEM_write_bio(b, type, "", items[i].data, (long)items[i].len) > 0;
	ok = ok && BIO_flush(b) == 1;
	BIO_free(b);
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "g3ctl: cannot write %s: %s\n", path, strerror(errno ? errno : EIO));
	ERR_clear_error();
	return -EIO;
}

static int forge_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	const G3c__Fcgen__ForgeRep *f = rep->forge;
	struct out *o = g->out;
	const unsigned char *p;
	char crt[PATH_MAX], key[PATH_MAX];
	X509 *x;

	if (rep->body_case != G3C__CONTROL__REPLY__BODY_FORGE || !f || f->n_chain == 0)
		return -EBADMSG;
	p = f->chain[0].data;
	x = d2i_X509(NULL, &p, (long)f->chain[0].len);
	if (!x) {
		ERR_clear_error();
		return -EBADMSG;
	}
	out_str(o, "host", f->host);
	out_bool(o, "cached", f->cached);
	out_u64(o, "ttl_s", f->ttl);
	out_name(o, "subject", X509_get_subject_name(x));
	out_name(o, "issuer", X509_get_issuer_name(x));
	{
		BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
		char *hex = bn ? BN_bn2hex(bn) : NULL;
		out_str(o, "serial", hex ? hex : "?");
		OPENSSL_free(hex);
		BN_free(bn);
	}
	out_time(o, "not_before", X509_get0_notBefore(x));
	out_time(o, "not_after", X509_get0_notAfter(x));
	out_str(o, "key_type", key_type(x));
	out_names(o, x);
	out_u64(o, "chain_length", f->n_chain);
	X509_free(x);
	if (forge_opts.out_dir) {
		ProtobufCBinaryData k = f->key;
		file_path(crt, sizeof(crt), forge_opts.out_dir, f->host, ".crt");
		file_path(key, sizeof(key), forge_opts.out_dir, f->host, ".key");
		if (write_pem(crt, "CERTIFICATE", f->chain, f->n_chain, 0644) ||
		    write_pem(key, "PRIVATE KEY", &k, 1, 0600))
			return -EIO;
		out_str(o, "certificate_file", crt);
		out_str(o, "key_file", key);
	}
	free(forge_opts.upstream);
	forge_opts.upstream = NULL;
	return 0;
}

const struct g3ctl_cmd g3ctl_fcgend_cmds[] = {
	{"fcgend", "forge",
	 "HOST [--upstream FILE] [--out DIR] [--usage U] [--service S] [--wildcard]",
	 "forge a certificate for HOST (mimic FILE); --out writes DIR/HOST.crt and .key",
	 forge_build, forge_show},
	{NULL, NULL, NULL, NULL, NULL, NULL},
};
