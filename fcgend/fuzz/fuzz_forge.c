/* Fuzz the Forge service as the RPC server runs it: rpc_dispatch_buffer
 * with fcgen_handle. Checks what a caller relies on: every decodable
 * request is answered with its id; an OK answer carries a leaf that
 * chains to the CA under strict verification (and names the host when no
 * upstream was mimicked) with the matching private key; an error always
 * says why. Work per input is bounded: inputs beyond 64 KiB are skipped
 * (the service refuses bigger upstream certificates anyway) and keys are
 * reused from the pool once it holds one of the type (keypool_set_reuse),
 * so no input waits for an RSA key generation after the first. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/rpc.h"
#include "fcgend/service.h"

#define FUZZ_MAX_INPUT (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
	EVP_PKEY *key;
	X509 *ca;
	struct forge_ca *fca;
	struct keypool *pool;
	struct fcgen_service *svc;
} F;

static void add_ext(X509 *x, int nid, const char *v)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, v);
	ASSERT(e != NULL);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

/* Stop the refill thread before OpenSSL's own atexit cleanup runs (atexit
 * handlers run in reverse order, and OpenSSL registered its handler when it
 * was first used, before this one). */
static void fini(void)
{
	fcgen_service_free(F.svc);
	keypool_free(F.pool);
	forge_ca_free(F.fca);
	X509_free(F.ca);
	EVP_PKEY_free(F.key);
	memset(&F, 0, sizeof(F));
}

static void init(void)
{
	static const uint32_t targets[FCGEN_KEY__COUNT] = {[FCGEN_KEY_EC256] = 64,
							   [FCGEN_KEY_RSA2048] = 2,
							   [FCGEN_KEY_ED25519] = 8,
							   [FCGEN_KEY_ED448] = 4};
	STACK_OF(X509) *sk = sk_X509_new_null();
	struct forge_opts o = {false, false, 86400};
	char err[256];
	int rc;

	F.key = EVP_EC_gen("P-256");
	F.ca = X509_new();
	ASSERT(F.key && F.ca);
	X509_set_version(F.ca, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(F.ca), 1);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(F.ca), "CN", MBSTRING_UTF8,
				   (const unsigned char *)"Fuzz CA", -1, -1, 0);
	X509_set_issuer_name(F.ca, X509_get_subject_name(F.ca));
	/* Wide enough that any upstream window overlaps it. */
	ASN1_TIME_set_string(X509_getm_notBefore(F.ca), "19700101000000Z");
	ASN1_TIME_set_string(X509_getm_notAfter(F.ca), "99991231235959Z");
	X509_set_pubkey(F.ca, F.key);
	add_ext(F.ca, NID_basic_constraints, "critical,CA:TRUE");
	add_ext(F.ca, NID_key_usage, "critical,keyCertSign");
	add_ext(F.ca, NID_subject_key_identifier, "hash");
	ASSERT(X509_sign(F.ca, F.key, EVP_sha256()) > 0);
	sk_X509_push(sk, F.ca);
	ASSERT(forge_ca_new(sk, F.key, &o, time(NULL), &F.fca, err, sizeof(err)) == 0);
	sk_X509_free(sk);
	F.pool = keypool_new(targets, 1, 0, &rc, err, sizeof(err));
	ASSERT(F.pool != NULL);
	keypool_set_reuse(F.pool, true);
	F.svc = fcgen_service_new(F.fca, F.pool, 16, 60000, NULL);
	atexit(fini);
}

static void check_ok(const G3c__Fcgen__ForgeReq *req, const G3c__Fcgen__ForgeRep *rep)
{
	const unsigned char *p = rep->chain[0].data;
	X509 *leaf = d2i_X509(NULL, &p, (long)rep->chain[0].len);
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *vp;
	EVP_PKEY *k;

	ASSERT(leaf != NULL && p == rep->chain[0].data + rep->chain[0].len);
	ASSERT(rep->n_chain == 2); /* the leaf and the CA */
	ASSERT(rep->ttl > 0 && rep->ttl <= 86400);
	ASSERT(rep->host && req->host && strcmp(rep->host, req->host) == 0);
	p = rep->key.data;
	k = d2i_AutoPrivateKey(NULL, &p, (long)rep->key.len);
	ASSERT(k != NULL);
	ASSERT(X509_check_private_key(leaf, k) == 1);
	X509_STORE_add_cert(st, F.ca);
	X509_STORE_CTX_init(ctx, st, leaf, NULL);
	vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
	if (req->upstream.len == 0 && req->host[0] != '*') {
		struct forge_host h;
		char err[256];
		ASSERT(forge_host_parse(req->host, strlen(req->host), false, &h, err,
					sizeof(err)) == 0);
		if (h.is_ip)
			X509_VERIFY_PARAM_set1_ip_asc(vp, h.name);
		else
			X509_VERIFY_PARAM_set1_host(vp, h.name, 0);
	}
	/* A mimicked upstream may carry names strict verification refuses. */
	int ok = X509_verify_cert(ctx);
	ASSERT(ok == 1 || req->upstream.len > 0);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	EVP_PKEY_free(k);
	X509_free(leaf);
	ERR_clear_error();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	G3c__Fcgen__Request *req;
	G3c__Fcgen__Reply *rep;
	uint8_t *out = NULL;
	size_t outlen = 0;
	int r;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	if (!F.svc)
		init();
	r = rpc_dispatch_buffer(&fcgen_rpc_service, fcgen_handle, F.svc, data, size, &out, &outlen);
	req = g3c__fcgen__request__unpack(NULL, size, data);
	if (r != 0) {
		ASSERT(r == -EBADMSG && out == NULL && req == NULL);
		return 0;
	}
	rep = g3c__fcgen__reply__unpack(NULL, outlen, out);
	ASSERT(rep != NULL && rep->status != NULL);
	if (req) {
		ASSERT(rep->id == req->id);
		if (rep->status->code == G3C__RPC__CODE__OK) {
			ASSERT(rep->body_case == G3C__FCGEN__REPLY__BODY_FORGE && rep->forge);
			ASSERT(req->body_case == G3C__FCGEN__REQUEST__BODY_FORGE);
			check_ok(req->forge, rep->forge);
		} else {
			/* Every refusal says why. */
			ASSERT(rep->status->message && rep->status->message[0]);
			ASSERT(rep->body_case == G3C__FCGEN__REPLY__BODY__NOT_SET);
		}
		g3c__fcgen__request__free_unpacked(req, NULL);
	} else {
		ASSERT(rep->status->code == G3C__RPC__CODE__MALFORMED);
	}
	g3c__fcgen__reply__free_unpacked(rep, NULL);
	free(out);
	return 0;
}
