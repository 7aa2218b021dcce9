/* The Forge service (see service.h). A request is validated completely
 * before anything is spent on it; the cache is consulted before the
 * upstream certificate is decoded (its SHA-256 is part of the key), and a
 * key is taken from the pool only once the validity window is known. */
#include "fcgend/service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/sha.h>

#include "common/log.h"

#define FCGEN_SERVICE_MAGIC 0x66637376u /* "fcsv" */

/* usage | flags | [upstream SHA-256] | host */
#define CACHE_KEY_MAX (2 + SHA256_DIGEST_LENGTH + FORGE_HOST_MAX + 1)
#define KEY_FLAG_WILDCARD 0x1u
#define KEY_FLAG_UPSTREAM 0x2u

const struct rpc_service fcgen_rpc_service = {
	.name = "g3c.fcgen",
	.req = &g3c__fcgen__request__descriptor,
	.rep = &g3c__fcgen__reply__descriptor,
};

struct fcgen_service {
	uint32_t magic;
	const struct forge_ca *ca;
	struct keypool *pool;
	struct cert_cache *cache;
	uint64_t cache_ttl_ms;
	struct fcgen_clock clk;
	struct fcgen_stats st;
	struct hist_conf hconf;
	struct hist_window hist;
};

static uint64_t default_mono_ms(void *arg)
{
	(void)arg;
	return util_mono_ns() / 1000000u;
}

static time_t default_wall(void *arg)
{
	(void)arg;
	return time(NULL);
}

struct fcgen_service *fcgen_service_new(const struct forge_ca *ca, struct keypool *pool,
					size_t cache_size, uint64_t cache_ttl_ms,
					const struct hist_conf *duration_stats)
{
	struct fcgen_service *s = xcalloc(1, sizeof(*s));
	int ret;

	ASSERT(ca != NULL && pool != NULL);
	s->magic = FCGEN_SERVICE_MAGIC;
	s->ca = ca;
	s->pool = pool;
	s->cache = cert_cache_new(cache_size);
	s->cache_ttl_ms = cache_ttl_ms;
	s->clk.mono_ms = default_mono_ms;
	s->clk.wall = default_wall;
	if (duration_stats)
		s->hconf = *duration_stats;
	else
		hist_conf_defaults(&s->hconf);
	ret = hist_window_init(&s->hist, default_mono_ms(NULL));
	ASSERT(ret == 0); /* control-plane allocation */
	return s;
}

void fcgen_service_free(struct fcgen_service *s)
{
	if (!s)
		return;
	CHECK_OBJ(s, FCGEN_SERVICE_MAGIC);
	cert_cache_free(s->cache);
	hist_window_fini(&s->hist);
	POISON_OBJ(s);
	free(s);
}

void fcgen_service_update(struct fcgen_service *s, const struct forge_ca *ca, size_t cache_size,
			  uint64_t cache_ttl_ms, const struct hist_conf *duration_stats)
{
	CHECK_OBJ(s, FCGEN_SERVICE_MAGIC);
	if (!forge_ca_same_signer(ca, s->ca))
		cert_cache_clear(s->cache);
	s->ca = ca;
	cert_cache_set_max(s->cache, cache_size);
	s->cache_ttl_ms = cache_ttl_ms;
	if (duration_stats)
		s->hconf = *duration_stats;
}

void fcgen_service_set_clock(struct fcgen_service *s, const struct fcgen_clock *clk)
{
	CHECK_OBJ(s, FCGEN_SERVICE_MAGIC);
	s->clk = *clk;
}

/* ---- one request ----------------------------------------------------------------- */

/* Fill rep's chain: the leaf, then the CA certificates. */
static void set_chain(const struct fcgen_service *s, G3c__Fcgen__ForgeRep *rep, const uint8_t *leaf,
		      size_t leaf_len, struct rpc_arena *a)
{
	const struct slice *tail;
	size_t ntail = forge_ca_tail(s->ca, &tail);

	rep->n_chain = 1 + ntail;
	rep->chain = rpc_arena_alloc(a, rep->n_chain * sizeof(*rep->chain));
	rep->chain[0].data = (uint8_t *)leaf;
	rep->chain[0].len = leaf_len;
	for (size_t i = 0; i < ntail; i++) {
		rep->chain[1 + i].data = (uint8_t *)tail[i].p;
		rep->chain[1 + i].len = tail[i].len;
	}
}

static uint32_t ttl_left(uint64_t until_ms, uint64_t now_ms)
{
	return until_ms > now_ms ? (uint32_t)((until_ms - now_ms) / 1000u) : 0;
}

static size_t cache_key(uint8_t *key, const G3c__Fcgen__ForgeReq *req, const struct forge_host *h)
{
	size_t n = 0;

	key[n++] = (uint8_t)req->usage;
	key[n++] = (uint8_t)((req->wildcard ? KEY_FLAG_WILDCARD : 0) |
			     (req->upstream.len ? KEY_FLAG_UPSTREAM : 0));
	if (req->upstream.len) {
		SHA256(req->upstream.data, req->upstream.len, key + n);
		n += SHA256_DIGEST_LENGTH;
	}
	memcpy(key + n, h->name, h->len);
	return n + h->len;
}

static enum rpc_code invalid(struct rpc_arena *a, const char *msg)
{
	rpc_arena_set_error(a, "%s", msg);
	return RPC_INVALID_ARGUMENT;
}

/* Everything a request can get wrong, before any work is done. */
static enum rpc_code validate(const G3c__Fcgen__ForgeReq *req, struct forge_host *h,
			      struct rpc_arena *a)
{
	char err[256];

	if (!forge_usage_valid((int)req->usage)) {
		rpc_arena_set_error(a, "unknown usage %d", (int)req->usage);
		return RPC_INVALID_ARGUMENT;
	}
	if (req->service != G3C__FCGEN__SERVICE__HTTP &&
	    req->service != G3C__FCGEN__SERVICE__SMTP &&
	    req->service != G3C__FCGEN__SERVICE__IMAP) {
		rpc_arena_set_error(a, "unknown service %d", (int)req->service);
		return RPC_INVALID_ARGUMENT;
	}
	if (forge_host_parse(req->host, req->host ? strlen(req->host) : 0, req->wildcard, h, err,
			     sizeof(err)) != 0)
		return invalid(a, err);
	if (req->wildcard && req->upstream.len)
		return invalid(a, "wildcard applies only without an upstream certificate");
	if (req->upstream.len > FORGE_UPSTREAM_MAX) {
		rpc_arena_set_error(a, "upstream certificate too large (%zu bytes, at most %u)",
				    req->upstream.len, FORGE_UPSTREAM_MAX);
		return RPC_INVALID_ARGUMENT;
	}
	return RPC_OK;
}

static enum rpc_code forge_new(struct fcgen_service *s, const G3c__Fcgen__ForgeReq *req,
			       const struct forge_host *h, const uint8_t *key, size_t klen,
			       G3c__Fcgen__ForgeRep *rep, struct rpc_arena *a)
{
	enum fcgen_key_type kt = FCGEN_KEY_EC256;
	struct forge_req fr = {.host = h, .usage = (int)req->usage};
	struct pool_key *pk = NULL;
	X509 *up = NULL;
	uint8_t *leaf = NULL;
	size_t leaf_len = 0;
	bool was_inline = false;
	time_t now = s->clk.wall(s->clk.arg);
	uint64_t now_ms = s->clk.mono_ms(s->clk.arg);
	char err[512];
	enum rpc_code code;

	err[0] = '\0';
	if (req->upstream.len) {
		code = forge_upstream_parse(req->upstream.data, req->upstream.len, &up, &kt, err,
					    sizeof(err));
		if (code != RPC_OK)
			goto out;
		fr.upstream = up;
	}
	code = forge_validity(s->ca, up, now, &fr.not_before, &fr.not_after, err, sizeof(err));
	if (code != RPC_OK)
		goto out;
	pk = keypool_take(s->pool, kt, &was_inline);
	if (!pk) {
		snprintf(err, sizeof(err), "cannot generate a %s key", fcgen_key_type_name(kt));
		code = RPC_INTERNAL;
		goto out;
	}
	if (was_inline)
		s->st.keys_inline++;
	code = forge_leaf(s->ca, &fr, pk, &leaf, &leaf_len, err, sizeof(err));
	if (code != RPC_OK)
		goto out;

	uint32_t ttl = forge_ttl(s->ca, fr.not_after, now);
	struct cached_cert cc = {
		.leaf = leaf,
		.leaf_len = leaf_len,
		.key = pk->der,
		.key_len = pk->der_len,
		.ttl_until_ms = now_ms + (uint64_t)ttl * 1000u,
	};
	cert_cache_put(s->cache, key, klen, &cc,
		       now_ms + MIN((uint64_t)ttl * 1000u, s->cache_ttl_ms));

	uint8_t *leaf_copy = rpc_arena_alloc(a, leaf_len);
	uint8_t *key_copy = rpc_arena_alloc(a, pk->der_len);
	memcpy(leaf_copy, leaf, leaf_len);
	memcpy(key_copy, pk->der, pk->der_len);
	set_chain(s, rep, leaf_copy, leaf_len, a);
	rep->key.data = key_copy;
	rep->key.len = pk->der_len;
	rep->ttl = ttl;
	rep->cached = false;
	s->st.forged++;
out:
	if (code != RPC_OK)
		rpc_arena_set_error(a, "%s", err);
	OPENSSL_free(leaf);
	pool_key_free(pk);
	X509_free(up);
	return code;
}

enum rpc_code fcgen_forge(struct fcgen_service *s, const G3c__Fcgen__ForgeReq *req,
			  G3c__Fcgen__ForgeRep *rep, struct rpc_arena *a)
{
	struct forge_host h;
	struct cached_cert cc;
	uint8_t key[CACHE_KEY_MAX];
	size_t klen;
	enum rpc_code code;

	CHECK_OBJ(s, FCGEN_SERVICE_MAGIC);
	s->st.requests++;
	code = validate(req, &h, a);
	if (code != RPC_OK)
		goto out;
	rep->host = rpc_arena_strdup(a, req->host);
	rep->service = req->service;
	rep->usage = req->usage;
	klen = cache_key(key, req, &h);
	uint64_t now_ms = s->clk.mono_ms(s->clk.arg);
	if (cert_cache_get(s->cache, key, klen, now_ms, &cc)) {
		/* Borrowed from the cache: the reply is packed before the cache
		 * changes again (one thread). */
		set_chain(s, rep, cc.leaf, cc.leaf_len, a);
		rep->key.data = (uint8_t *)cc.key;
		rep->key.len = cc.key_len;
		rep->ttl = ttl_left(cc.ttl_until_ms, now_ms);
		rep->cached = true;
		s->st.cache_hits++;
		goto out;
	}
	code = forge_new(s, req, &h, key, klen, rep, a);
out:
	if (code == RPC_OK) {
		s->st.ok++;
	} else {
		s->st.errors++;
		if (code == RPC_INVALID_ARGUMENT)
			s->st.invalid++;
		if (code == RPC_INTERNAL)
			log_err("fcgend: forging for '%s' failed", req->host ? req->host : "");
	}
	return code;
}

enum rpc_code fcgen_handle(void *ctx, const ProtobufCMessage *reqm, ProtobufCMessage *repm,
			   struct rpc_arena *a)
{
	struct fcgen_service *s = ctx;
	const G3c__Fcgen__Request *req = (const G3c__Fcgen__Request *)reqm;
	G3c__Fcgen__Reply *rep = (G3c__Fcgen__Reply *)repm;
	uint64_t t0 = util_mono_ns(), dt;
	enum rpc_code code;

	CHECK_OBJ(s, FCGEN_SERVICE_MAGIC);
	ASSERT(reqm->descriptor == &g3c__fcgen__request__descriptor);
	if (req->body_case != G3C__FCGEN__REQUEST__BODY_FORGE || !req->forge) {
		s->st.requests++;
		s->st.errors++;
		if (req->base.n_unknown_fields) {
			rpc_arena_set_error(a, "fcgend does not know this request (field %u)",
					    req->base.unknown_fields[0].tag);
			return RPC_UNIMPLEMENTED;
		}
		s->st.invalid++;
		rpc_arena_set_error(a, "empty request: no forge body");
		return RPC_INVALID_ARGUMENT;
	}
	G3c__Fcgen__ForgeRep *fr = rpc_arena_alloc(a, sizeof(*fr));
	g3c__fcgen__forge_rep__init(fr);
	code = fcgen_forge(s, req->forge, fr, a);
	if (code == RPC_OK) {
		rep->body_case = G3C__FCGEN__REPLY__BODY_FORGE;
		rep->forge = fr;
	}
	dt = util_mono_ns() - t0;
	s->st.timed++;
	s->st.latency_last_ns = dt;
	s->st.latency_sum_ns += dt;
	if (dt > s->st.latency_max_ns)
		s->st.latency_max_ns = dt;
	hist_window_record(&s->hist, dt);
	return code;
}

void fcgen_service_get_stats(const struct fcgen_service *s, struct fcgen_stats *out)
{
	CHECK_OBJ(s, FCGEN_SERVICE_MAGIC);
	*out = s->st;
}

void fcgen_service_cache_stats(const struct fcgen_service *s, struct cert_cache_stats *out)
{
	CHECK_OBJ(s, FCGEN_SERVICE_MAGIC);
	cert_cache_get_stats(s->cache, out);
}

struct hist_window *fcgen_service_hist(struct fcgen_service *s)
{
	CHECK_OBJ(s, FCGEN_SERVICE_MAGIC);
	return &s->hist;
}

const struct hist_conf *fcgen_service_hist_conf(const struct fcgen_service *s)
{
	CHECK_OBJ(s, FCGEN_SERVICE_MAGIC);
	return &s->hconf;
}
