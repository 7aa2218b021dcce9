/* TLS value formats (g3proxy §1.12): certificate/key pairs given as a file
 * path (relative to the main file's directory) or inline PEM, the
 * rustls-style `tls_server` map, the openssl-style `tls_client` map (`{}` =
 * defaults with the system CAs), and the tls ticketer. Certificates and keys
 * are parsed once with OpenSSL at load time so a broken file is a config
 * error, not a runtime surprise; the PEM text is kept for the data plane. */
#include "proxyd/conf_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define PEM_FILE_MAX (1u << 20)

/* Read `path` (at most PEM_FILE_MAX bytes) into the arena. */
static int read_file(struct conf_ctx *ctx, const struct conf_node *n, const char *path,
		     const char **out)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	char *buf;
	size_t got;

	if (f == NULL)
		return conf_error(ctx, n, "cannot read '%s': %s", path, strerror(errno));
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return conf_error(ctx, n, "cannot read '%s': not a regular file", path);
	}
	if ((uint64_t)st.st_size > PEM_FILE_MAX) {
		fclose(f);
		return conf_error(ctx, n, "'%s' is too large (%lld bytes, max %u)", path,
				  (long long)st.st_size, PEM_FILE_MAX);
	}
	buf = conf_alloc(ctx, (size_t)st.st_size + 1);
	got = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	buf[got] = '\0';
	*out = buf;
	return 0;
}

/* Inline PEM or a file path → PEM text; *src names it for messages. */
static int pem_text(struct conf_ctx *ctx, const struct conf_node *n, const char **pem,
		    const char **src)
{
	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	if (strstr(n->str, "-----BEGIN ") != NULL) {
		*pem = n->str;
		*src = "<inline>";
		return 0;
	}
	if (ctx->no_includes)
		return conf_error(ctx, n, "file paths are not allowed here: give the PEM inline");
	*src = conf_resolve_path(ctx, n->str);
	return read_file(ctx, n, *src, pem);
}

static int count_certs(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x;
	int n = 0;

	if (bio == NULL)
		return -ENOMEM;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		X509_free(x);
		n++;
	}
	BIO_free(bio);
	ERR_clear_error();
	return n;
}

static EVP_PKEY *parse_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *k;

	if (bio == NULL)
		return NULL;
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	return k;
}

/* A `tls certificates` value: one file/PEM or a sequence; concatenated. */
struct certs_arg {
	const char *pem;
	const char *src;
};

static int cert_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	struct certs_arg *a = arg;
	const char *pem = NULL, *src = "";

	(void)idx;
	if (pem_text(ctx, it, &pem, &src) < 0 || pem == NULL)
		return -EINVAL;
	if (count_certs(pem) <= 0)
		return conf_error(ctx, it, "no PEM certificate found in %s", src);
	if (a->pem == NULL) {
		a->pem = pem;
		a->src = src;
	} else {
		size_t l1 = strlen(a->pem), l2 = strlen(pem);
		char *cat = conf_alloc(ctx, l1 + l2 + 2);
		memcpy(cat, a->pem, l1);
		cat[l1] = '\n';
		memcpy(cat + l1 + 1, pem, l2 + 1);
		a->pem = cat;
	}
	return 0;
}

static int certs_parse(struct conf_ctx *ctx, const struct conf_node *n, const char **pem,
		       const char **src)
{
	struct certs_arg a = {NULL, NULL};

	if (conf_is_null(n) || n->kind == CONF_MAP)
		return conf_error(ctx, n,
				  "expected a certificate file, PEM text or a list of them");
	if (pv_foreach_item(ctx, n, cert_item, &a) < 0)
		return -EINVAL;
	if (a.pem == NULL)
		return conf_error(ctx, n, "empty certificate list");
	*pem = a.pem;
	if (src)
		*src = a.src;
	return 0;
}

static int key_parse(struct conf_ctx *ctx, const struct conf_node *n, const char **pem)
{
	const char *src = "";
	EVP_PKEY *k;

	if (pem_text(ctx, n, pem, &src) < 0)
		return -EINVAL;
	k = parse_key(*pem);
	if (k == NULL)
		return conf_error(ctx, n, "no valid PEM private key found in %s", src);
	EVP_PKEY_free(k);
	return 0;
}

/* Both halves present and matching. */
static int pair_check(struct conf_ctx *ctx, const struct conf_node *at, struct tls_cert_pair *p)
{
	BIO *bio;
	X509 *x;
	EVP_PKEY *k;
	int ok;

	if (p->cert_pem == NULL || p->key_pem == NULL)
		return conf_error(ctx, at,
				  "a certificate pair needs both certificate and private_key");
	bio = BIO_new_mem_buf(p->cert_pem, -1);
	x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	k = parse_key(p->key_pem);
	ok = x && k && X509_check_private_key(x, k) == 1;
	X509_free(x);
	EVP_PKEY_free(k);
	ERR_clear_error();
	if (!ok)
		return conf_error(ctx, at, "the private key does not match the certificate in %s",
				  p->cert_src);
	return 0;
}

static int pair_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		   void *arg)
{
	struct tls_cert_pair *p = arg;

	if (conf_key_is(k, "certificate"))
		return certs_parse(ctx, v, &p->cert_pem, &p->cert_src);
	if (conf_key_is(k, "private_key"))
		return key_parse(ctx, v, &p->key_pem);
	return conf_error(ctx, k, "unknown key '%s' in a certificate pair", k->str);
}

static int pair_parse(struct conf_ctx *ctx, const struct conf_node *n, struct tls_cert_pair *p)
{
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	if (pv_foreach_kv(ctx, n, pair_kv, p) < 0)
		return -EINVAL;
	return pair_check(ctx, n, p);
}

static int pair_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	return pair_parse(ctx, it, &((struct tls_cert_pair *)arg)[idx]);
}

/* ---- tls_server (rustls shape) -------------------------------------------- */

struct server_raw {
	struct tls_server_conf *t;
	struct tls_cert_pair single; /* certificate + private_key at top level */
};

static int server_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		     void *arg)
{
	struct server_raw *r = arg;
	struct tls_server_conf *t = r->t;

	if (conf_key_is(k, "cert_pairs")) {
		if (conf_is_null(v) || v->kind == CONF_SCALAR)
			return conf_error(ctx, v, "expected a certificate pair or a list of them");
		t->n_pairs = pv_list_len(v);
		t->pairs = conf_alloc(ctx, t->n_pairs * sizeof(*t->pairs));
		return pv_foreach_item(ctx, v, pair_item, t->pairs);
	}
	if (conf_key_is(k, "certificate"))
		return certs_parse(ctx, v, &r->single.cert_pem, &r->single.cert_src);
	if (conf_key_is(k, "private_key"))
		return key_parse(ctx, v, &r->single.key_pem);
	if (conf_key_is(k, "enable_client_auth"))
		return conf_get_bool(ctx, v, &t->enable_client_auth);
	if (conf_key_is(k, "no_session_ticket"))
		return conf_get_bool(ctx, v, &t->no_session_ticket);
	if (conf_key_is(k, "no_session_cache"))
		return conf_get_bool(ctx, v, &t->no_session_cache);
	if (conf_key_is(k, "ca_certificate") || conf_key_is(k, "client_auth_certificate"))
		return certs_parse(ctx, v, &t->ca_pem, NULL);
	if (conf_key_is(k, "handshake_timeout"))
		return conf_get_duration_ms(ctx, v, &t->handshake_timeout_ms);
	return conf_error(ctx, k, "unknown key '%s' in tls_server", k->str);
}

int pv_tls_server(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct tls_server_conf *t = dst;
	struct server_raw r = {.t = t};

	memset(t, 0, sizeof(*t));
	t->handshake_timeout_ms = 10000;
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	if (pv_foreach_kv(ctx, n, server_kv, &r) < 0)
		return -EINVAL;
	if (r.single.cert_pem || r.single.key_pem) {
		if (pair_check(ctx, n, &r.single) < 0)
			return -EINVAL;
		struct tls_cert_pair *all = conf_alloc(ctx, (t->n_pairs + 1) * sizeof(*all));
		if (t->n_pairs)
			memcpy(all, t->pairs, t->n_pairs * sizeof(*all));
		all[t->n_pairs++] = r.single;
		t->pairs = all;
	}
	if (t->n_pairs == 0)
		return conf_error(ctx, n,
				  "tls_server needs cert_pairs or certificate + private_key");
	t->set = true;
	return 0;
}

/* ---- tls_client (openssl shape) --------------------------------------------- */

void tls_client_defaults(struct tls_client_conf *t)
{
	memset(t, 0, sizeof(*t));
	t->handshake_timeout_ms = 10000;
	t->session_cache_lru_max_sites = 128;
	t->session_cache_each_capacity = 16;
}

static int tls_version(struct conf_ctx *ctx, const struct conf_node *n, bool allow_tlcp,
		       enum tls_version *out)
{
	static const struct {
		const char *s;
		enum tls_version v;
	} tab[] = {
		{"tls1.0", TLS_VER_1_0},   {"1.0", TLS_VER_1_0},      {"tls1.1", TLS_VER_1_1},
		{"1.1", TLS_VER_1_1},	   {"tls1.2", TLS_VER_1_2},   {"1.2", TLS_VER_1_2},
		{"tls1.3", TLS_VER_1_3},   {"1.3", TLS_VER_1_3},      {"tlcp", TLS_VER_TLCP},
		{"tls_v1.0", TLS_VER_1_0}, {"tls_v1.1", TLS_VER_1_1}, {"tls_v1.2", TLS_VER_1_2},
		{"tls_v1.3", TLS_VER_1_3},
	};
	char s[32];

	if (pv_expect_scalar(ctx, n) < 0)
		return -EINVAL;
	conf_normalize(n->str, n->len, s, sizeof(s));
	for (size_t i = 0; i < ARRAY_SIZE(tab); i++) {
		if (strcmp(s, tab[i].s) != 0)
			continue;
		if (tab[i].v == TLS_VER_TLCP && !allow_tlcp)
			break;
		if (tab[i].v == TLS_VER_TLCP)
			return conf_error(ctx, n,
					  "protocol 'tlcp' is not supported (needs Tongsuo)");
		*out = tab[i].v;
		return 0;
	}
	return conf_error(ctx, n, "invalid TLS version '%s': use tls1.0, tls1.1, tls1.2 or tls1.3",
			  n->str);
}

static int cipher_item(struct conf_ctx *ctx, const struct conf_node *it, unsigned idx, void *arg)
{
	const char **acc = arg;

	if (pv_expect_scalar(ctx, it) < 0)
		return -EINVAL;
	if (idx == 0 || *acc == NULL) {
		*acc = it->str;
	} else {
		size_t l1 = strlen(*acc);
		char *cat = conf_alloc(ctx, l1 + it->len + 2);
		memcpy(cat, *acc, l1);
		cat[l1] = ':';
		memcpy(cat + l1 + 1, it->str, it->len + 1);
		*acc = cat;
	}
	return 0;
}

static int opt_bool(struct conf_ctx *ctx, const struct conf_node *v, bool *has, bool *val)
{
	*has = true;
	return conf_get_bool(ctx, v, val);
}

static int client_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		     void *arg)
{
	struct tls_client_conf *t = arg;
	uint64_t u;

	if (conf_key_is(k, "protocol"))
		return tls_version(ctx, v, true, &t->protocol);
	if (conf_key_is(k, "min_tls_version"))
		return tls_version(ctx, v, false, &t->min_version);
	if (conf_key_is(k, "max_tls_version"))
		return tls_version(ctx, v, false, &t->max_version);
	if (conf_key_is(k, "ciphers"))
		return pv_foreach_item(ctx, v, cipher_item, &t->ciphers);
	if (conf_key_is(k, "disable_sni"))
		return conf_get_bool(ctx, v, &t->disable_sni);
	if (conf_key_is(k, "cert_pair")) {
		t->has_cert_pair = true;
		return pair_parse(ctx, v, &t->cert_pair);
	}
	if (conf_key_is(k, "tlcp_cert_pair"))
		return conf_error(ctx, k, "tlcp_cert_pair is not supported (needs Tongsuo)");
	if (conf_key_is(k, "certificate")) {
		t->has_cert_pair = true;
		return certs_parse(ctx, v, &t->cert_pair.cert_pem, &t->cert_pair.cert_src);
	}
	if (conf_key_is(k, "private_key")) {
		t->has_cert_pair = true;
		return key_parse(ctx, v, &t->cert_pair.key_pem);
	}
	if (conf_key_is(k, "ca_certificate") || conf_key_is(k, "server_auth_certificate"))
		return certs_parse(ctx, v, &t->ca_pem, NULL);
	if (conf_key_is(k, "no_default_ca_certificate"))
		return conf_get_bool(ctx, v, &t->no_default_ca_certificate);
	if (conf_key_is(k, "handshake_timeout"))
		return conf_get_duration_ms(ctx, v, &t->handshake_timeout_ms);
	if (conf_key_is(k, "no_session_cache"))
		return conf_get_bool(ctx, v, &t->no_session_cache);
	if (conf_key_is(k, "use_builtin_session_cache"))
		return conf_get_bool(ctx, v, &t->use_builtin_session_cache);
	if (conf_key_is(k, "session_cache_lru_max_sites")) {
		if (conf_get_u64(ctx, v, 1, UINT32_MAX, &u) < 0)
			return -EINVAL;
		t->session_cache_lru_max_sites = (uint32_t)u;
		return 0;
	}
	if (conf_key_is(k, "session_cache_each_capacity")) {
		if (conf_get_u64(ctx, v, 1, UINT32_MAX, &u) < 0)
			return -EINVAL;
		t->session_cache_each_capacity = (uint32_t)u;
		return 0;
	}
	if (conf_key_is(k, "supported_groups"))
		return conf_get_str(ctx, v, &t->supported_groups);
	if (conf_key_is(k, "use_ocsp_stapling"))
		return opt_bool(ctx, v, &t->has_ocsp_stapling, &t->use_ocsp_stapling);
	if (conf_key_is(k, "enable_sct"))
		return opt_bool(ctx, v, &t->has_sct, &t->enable_sct);
	if (conf_key_is(k, "enable_grease"))
		return opt_bool(ctx, v, &t->has_grease, &t->enable_grease);
	if (conf_key_is(k, "permute_extensions"))
		return opt_bool(ctx, v, &t->has_permute, &t->permute_extensions);
	if (conf_key_is(k, "insecure"))
		return conf_get_bool(ctx, v, &t->insecure);
	return conf_error(ctx, k, "unknown key '%s' in tls_client", k->str);
}

int pv_tls_client(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct tls_client_conf *t = dst;

	tls_client_defaults(t);
	t->set = true;
	/* `tls_client:` with no value reads as null: the same as {} */
	if (conf_is_null(n))
		return 0;
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	if (pv_foreach_kv(ctx, n, client_kv, t) < 0)
		return -EINVAL;
	if (t->has_cert_pair && pair_check(ctx, n, &t->cert_pair) < 0)
		return -EINVAL;
	if (t->min_version && t->max_version && t->min_version > t->max_version)
		return conf_error(ctx, n, "min_tls_version is above max_tls_version");
	return 0;
}

/* ---- tls ticketer ---------------------------------------------------------- */

static int ticketer_kv(struct conf_ctx *ctx, const struct conf_node *k, const struct conf_node *v,
		       void *arg)
{
	struct tls_ticketer_conf *t = arg;
	uint64_t u;

	if (conf_key_is(k, "check_interval"))
		return conf_get_duration_ms(ctx, v, &t->check_interval_ms);
	if (conf_key_is(k, "local_lifetime")) {
		if (conf_get_u64(ctx, v, 1, UINT32_MAX, &u) < 0)
			return -EINVAL;
		t->local_lifetime = (uint32_t)u;
		return 0;
	}
	if (conf_key_is(k, "source"))
		return pv_raw_map(ctx, v, &t->source);
	return conf_error(ctx, k, "unknown key '%s' in tls_ticketer", k->str);
}

int pv_tls_ticketer(struct conf_ctx *ctx, const struct conf_node *n, void *dst)
{
	struct tls_ticketer_conf *t = dst;

	memset(t, 0, sizeof(*t));
	t->check_interval_ms = 300000;
	t->local_lifetime = 12 * 3600;
	if (pv_expect_map(ctx, n) < 0)
		return -EINVAL;
	t->set = true;
	return pv_foreach_kv(ctx, n, ticketer_kv, t);
}
