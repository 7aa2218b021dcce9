/* fcgen-load: a small Forge client for integration tests and speed
 * measurements (not a unit test; built as $(BUILD)/bin/fcgen-load).
 *
 *   fcgen-load --url URL --once --host H [--upstream F] [--usage N]
 *              [--service N] [--wildcard] [--out DIR]
 *       one call; prints {"code","message",...}; exit 0 on OK, 1 on an error
 *       status, 3 on a timeout. --out writes DIR/leaf.crt (chain) and leaf.key.
 *   fcgen-load --url URL --count N [--concurrency C] [--host H | --unique]
 *              [--upstream F] [--deadline MS]
 *       N calls with at most C in flight; prints totals and the rate.
 *   fcgen-load --url URL --duration S [--concurrency C] [--deadline MS] ...
 *       calls for S seconds; prints per-second ok/timeout/error counts.
 *   fcgen-load --baseline N --ca-cert F --ca-key F
 *       in-process: N minimal P-256 leaves (fresh key, build, sign, encode)
 *       and N forges through fcgend's own code with an empty key pool; rates.
 * Every mode ends: a run is bounded by its count, duration or deadline. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ev.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/rpc.h"
#include "common/tls.h"
#include "fcgend/service.h"

struct opts {
	const char *url, *host, *upstream_file, *out_dir, *ca_cert, *ca_key;
	unsigned count, concurrency, deadline_ms, duration_s, baseline;
	int usage, service;
	bool once, unique, wildcard;
};

static struct opts o = {
	.host = "load.example.com", .count = 1, .concurrency = 64, .deadline_ms = 5000};
static ProtobufCBinaryData upstream;

/* ---- RPC load ------------------------------------------------------------------ */

#define MAX_SECONDS 600

struct load {
	struct ev_loop *loop;
	struct rpc_client *c;
	unsigned started, done, inflight;
	unsigned ok, timeouts, errors, cached;
	unsigned codes[16];
	uint64_t t0;
	bool stop;
	unsigned sec_ok[MAX_SECONDS], sec_to[MAX_SECONDS], sec_err[MAX_SECONDS];
	char last_err[256];
};

static void start_calls(struct load *l);

static unsigned second_of(const struct load *l)
{
	uint64_t s = (util_mono_ns() - l->t0) / 1000000000u;

	return s < MAX_SECONDS ? (unsigned)s : MAX_SECONDS - 1;
}

static void on_done(void *arg, int err, enum rpc_code code, const char *errmsg,
		    const ProtobufCMessage *repm)
{
	struct load *l = arg;
	const G3c__Fcgen__Reply *rep = (const G3c__Fcgen__Reply *)repm;
	unsigned s = second_of(l);

	l->done++;
	l->inflight--;
	if (err == -ETIMEDOUT) {
		l->timeouts++;
		l->sec_to[s]++;
	} else if (err == 0 && code == RPC_OK && rep && rep->forge && rep->forge->n_chain > 0) {
		l->ok++;
		l->sec_ok[s]++;
		l->cached += rep->forge->cached;
	} else {
		l->errors++;
		l->sec_err[s]++;
		if ((unsigned)code < ARRAY_SIZE(l->codes))
			l->codes[code]++;
		snprintf(l->last_err, sizeof(l->last_err), "%s", errmsg);
	}
	start_calls(l);
}

static bool more(const struct load *l)
{
	if (l->stop)
		return false;
	if (o.duration_s)
		return util_mono_ns() - l->t0 < (uint64_t)o.duration_s * 1000000000u;
	return l->started < o.count;
}

static void start_calls(struct load *l)
{
	while (l->inflight < o.concurrency && more(l)) {
		G3c__Fcgen__Request req = G3C__FCGEN__REQUEST__INIT;
		G3c__Fcgen__ForgeReq f = G3C__FCGEN__FORGE_REQ__INIT;
		char host[300];

		if (o.unique)
			snprintf(host, sizeof(host), "h%u-%llx.%s", l->started,
				 (unsigned long long)l->t0, o.host);
		else
			snprintf(host, sizeof(host), "%s", o.host);
		f.host = host;
		f.usage = (G3c__Fcgen__Usage)o.usage;
		f.service = (G3c__Fcgen__Service)o.service;
		f.wildcard = o.wildcard;
		f.upstream = upstream;
		req.body_case = G3C__FCGEN__REQUEST__BODY_FORGE;
		req.forge = &f;
		if (rpc_call(l->c, &req.base, o.deadline_ms, on_done, l, NULL) != 0) {
			fprintf(stderr, "fcgen-load: rpc_call failed\n");
			l->stop = true;
			return;
		}
		l->started++;
		l->inflight++;
	}
	if (!more(l) && l->inflight == 0)
		ev_break(l->loop, EVBREAK_ALL);
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct load *l = w->data;

	(void)revents;
	/* Duration mode: idle slots refill once the clock says so. */
	start_calls(l);
	if (!more(l) && l->inflight == 0)
		ev_break(loop, EVBREAK_ALL);
}

static int write_out(const G3c__Fcgen__ForgeRep *f)
{
	char path[4096];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/leaf.crt", o.out_dir);
	fp = fopen(path, "w");
	if (!fp)
		return -errno;
	for (size_t i = 0; i < f->n_chain; i++)
		PEM_write(fp, "CERTIFICATE", "", f->chain[i].data, (long)f->chain[i].len);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/leaf.key", o.out_dir);
	fp = fopen(path, "w");
	if (!fp)
		return -errno;
	PEM_write(fp, "PRIVATE KEY", "", f->key.data, (long)f->key.len);
	fclose(fp);
	return 0;
}

static void print_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int run_once(void)
{
	G3c__Fcgen__Request req = G3C__FCGEN__REQUEST__INIT;
	G3c__Fcgen__ForgeReq f = G3C__FCGEN__FORGE_REQ__INIT;
	ProtobufCMessage *repm = NULL;
	enum rpc_code code = RPC_OK;
	char msg[1024] = "";
	int r;

	f.host = (char *)o.host;
	f.usage = (G3c__Fcgen__Usage)o.usage;
	f.service = (G3c__Fcgen__Service)o.service;
	f.wildcard = o.wildcard;
	f.upstream = upstream;
	req.body_case = G3C__FCGEN__REQUEST__BODY_FORGE;
	req.forge = &f;
	r = rpc_call_sync(o.url, &fcgen_rpc_service, &req.base, o.deadline_ms, &repm, &code, msg,
			  sizeof(msg));
	if (r != 0) {
		printf("{\"error\":");
		print_json_str(strerror(-r));
		printf("}\n");
		return r == -ETIMEDOUT ? 3 : 2;
	}
	const G3c__Fcgen__Reply *rep = (const G3c__Fcgen__Reply *)repm;
	printf("{\"code\":");
	print_json_str(rpc_code_name(code));
	printf(",\"message\":");
	print_json_str(msg);
	if (code == RPC_OK && rep->forge) {
		printf(",\"host\":");
		print_json_str(rep->forge->host);
		printf(",\"chain\":%zu,\"ttl\":%u,\"cached\":%s,\"usage\":%d,\"service\":%d",
		       rep->forge->n_chain, rep->forge->ttl, rep->forge->cached ? "true" : "false",
		       (int)rep->forge->usage, (int)rep->forge->service);
		if (o.out_dir && write_out(rep->forge) != 0)
			code = RPC_INTERNAL;
	}
	printf("}\n");
	protobuf_c_message_free_unpacked(repm, NULL);
	return code == RPC_OK ? 0 : 1;
}

static int run_load(void)
{
	struct load *l = calloc(1, sizeof(*l));
	ev_timer tick;
	double secs;
	int err = 0;

	if (!l)
		return 2;
	l->loop = ev_loop_new(EVFLAG_AUTO);
	l->c = rpc_client_new(l->loop, o.url, &fcgen_rpc_service, &err);
	if (!l->c) {
		fprintf(stderr, "fcgen-load: %s: %s\n", o.url, strerror(-err));
		ev_loop_destroy(l->loop);
		free(l);
		return 2;
	}
	l->t0 = util_mono_ns();
	ev_timer_init(&tick, on_tick, 0.05, 0.05);
	tick.data = l;
	ev_timer_start(l->loop, &tick);
	start_calls(l);
	ev_run(l->loop, 0);
	secs = (double)(util_mono_ns() - l->t0) / 1e9;
	printf("{\"calls\":%u,\"ok\":%u,\"cached\":%u,\"timeouts\":%u,\"errors\":%u,"
	       "\"elapsed_s\":%.3f,\"rate\":%.1f,\"codes\":{",
	       l->done, l->ok, l->cached, l->timeouts, l->errors, secs,
	       secs > 0 ? l->ok / secs : 0.0);
	bool first = true;
	for (unsigned i = 0; i < ARRAY_SIZE(l->codes); i++) {
		if (!l->codes[i])
			continue;
		printf("%s\"%s\":%u", first ? "" : ",", rpc_code_name((enum rpc_code)i),
		       l->codes[i]);
		first = false;
	}
	printf("},\"last_error\":");
	print_json_str(l->last_err);
	if (o.duration_s) {
		printf(",\"seconds\":[");
		for (unsigned s = 0; s <= second_of(l) && s < MAX_SECONDS; s++)
			printf("%s{\"ok\":%u,\"timeouts\":%u,\"errors\":%u}", s ? "," : "",
			       l->sec_ok[s], l->sec_to[s], l->sec_err[s]);
		printf("]");
	}
	printf("}\n");
	ev_timer_stop(l->loop, &tick);
	rpc_client_free(l->c);
	ev_loop_destroy(l->loop);
	int status = l->done == l->ok ? 0 : 1;
	free(l);
	return status;
}

/* ---- in-process baselines ---------------------------------------------------------- */

/* The reference loop: fresh P-256 key, CN + SAN + serial, signed
 * by the CA with SHA-256, DER-encoded. */
static bool minimal_leaf(X509 *ca, EVP_PKEY *cakey, unsigned i)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	unsigned char *der = NULL, sn[16];
	char name[64];
	bool ok = false;

	if (!k || !x)
		goto out;
	snprintf(name, sizeof(name), "b%u.example.com", i);
	RAND_bytes(sn, sizeof(sn));
	X509_set_version(x, X509_VERSION_3);
	ASN1_STRING_set(X509_get_serialNumber(x), sn, sizeof(sn));
	X509_set_issuer_name(x, X509_get_subject_name(ca));
	X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName, MBSTRING_UTF8,
				   (unsigned char *)name, -1, -1, 0);
	X509_gmtime_adj(X509_getm_notBefore(x), -86400);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
	X509_set_pubkey(x, k);
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *s = ASN1_IA5STRING_new();
	ASN1_STRING_set(s, name, -1);
	GENERAL_NAME_set0_value(gn, GEN_DNS, s);
	sk_GENERAL_NAME_push(gens, gn);
	X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT);
	GENERAL_NAMES_free(gens);
	ok = X509_sign(x, cakey, EVP_sha256()) > 0 && i2d_X509(x, &der) > 0;
out:
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
	return ok;
}

static int run_baseline(void)
{
	STACK_OF(X509) *certs = NULL;
	EVP_PKEY *key = NULL;
	struct forge_ca *ca = NULL;
	struct forge_opts fo = {.max_ttl_s = 86400};
	uint32_t targets[FCGEN_KEY__COUNT] = {0};
	char err[512];
	int rc = 0;
	uint64_t t0;
	double minimal, direct[2];

	if (!o.ca_cert || !o.ca_key || tls_load_certs(o.ca_cert, &certs, err, sizeof(err)) ||
	    tls_load_key(o.ca_key, &key, err, sizeof(err)) ||
	    forge_ca_new(certs, key, &fo, time(NULL), &ca, err, sizeof(err))) {
		fprintf(stderr, "fcgen-load: baseline needs --ca-cert and --ca-key: %s\n",
			o.ca_cert && o.ca_key ? err : "missing");
		return 2;
	}
	t0 = util_mono_ns();
	for (unsigned i = 0; i < o.baseline; i++)
		if (!minimal_leaf(sk_X509_value(certs, 0), key, i))
			rc = 1;
	minimal = o.baseline / ((double)(util_mono_ns() - t0) / 1e9);

	/* fcgend's own request path (validation, cache miss, key, forge, cache
	 * put, reply packing) with keys generated inline, then from a full pool
	 * as the daemon runs (the pool is filled before the clock starts). */
	for (int pass = 0; pass < 2; pass++) {
		targets[FCGEN_KEY_EC256] = pass ? o.baseline : 0;
		struct keypool *pool = keypool_new(targets, pass ? 1 : 0, 0, &rc, err, sizeof(err));
		if (pass && !keypool_wait_full(pool, 600000))
			rc = 1;
		struct fcgen_service *svc =
			fcgen_service_new(ca, pool, o.baseline + 1, 3600000, NULL);
		t0 = util_mono_ns();
		for (unsigned i = 0; i < o.baseline; i++) {
			G3c__Fcgen__ForgeReq f = G3C__FCGEN__FORGE_REQ__INIT;
			G3c__Fcgen__ForgeRep rep = G3C__FCGEN__FORGE_REP__INIT;
			char host[64];
			uint8_t *out = NULL;
			size_t outlen = 0;
			G3c__Fcgen__Request req = G3C__FCGEN__REQUEST__INIT;
			uint8_t buf[256];
			size_t n;

			(void)rep;
			snprintf(host, sizeof(host), "d%u.example.com", i);
			f.host = host;
			req.id = i + 1;
			req.body_case = G3C__FCGEN__REQUEST__BODY_FORGE;
			req.forge = &f;
			n = g3c__fcgen__request__pack(&req, buf);
			if (rpc_dispatch_buffer(&fcgen_rpc_service, fcgen_handle, svc, buf, n, &out,
						&outlen) != 0)
				rc = 1;
			free(out);
		}
		direct[pass] = o.baseline / ((double)(util_mono_ns() - t0) / 1e9);
		fcgen_service_free(svc);
		keypool_free(pool);
	}
	printf("{\"baseline_minimal_per_s\":%.1f,\"fcgend_code_inline_keys_per_s\":%.1f,"
	       "\"fcgend_code_pooled_keys_per_s\":%.1f,\"n\":%u}\n",
	       minimal, direct[0], direct[1], o.baseline);
	forge_ca_free(ca);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	return rc ? 1 : 0;
}

/* ---- main ----------------------------------------------------------------------- */

static int read_upstream(const char *path)
{
	FILE *f = fopen(path, "rb");
	static uint8_t buf[1 << 20];
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (memmem(buf, n, "-----BEGIN", 10)) {
		BIO *b = BIO_new_mem_buf(buf, (int)n);
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		unsigned char *der = NULL;
		int len = x ? i2d_X509(x, &der) : -1;
		BIO_free(b);
		X509_free(x);
		if (len <= 0)
			return -EBADMSG;
		memcpy(buf, der, (size_t)len);
		OPENSSL_free(der);
		n = (size_t)len;
	}
	upstream.data = buf;
	upstream.len = n;
	return 0;
}

static unsigned num(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end || end == s || v > 100000000ul) {
		fprintf(stderr, "fcgen-load: bad number '%s'\n", s);
		exit(2);
	}
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"url", 1, NULL, 'u'},	    {"host", 1, NULL, 'H'},
		{"upstream", 1, NULL, 'U'}, {"out", 1, NULL, 'o'},
		{"count", 1, NULL, 'n'},    {"concurrency", 1, NULL, 'c'},
		{"deadline", 1, NULL, 'd'}, {"duration", 1, NULL, 'D'},
		{"usage", 1, NULL, 'g'},    {"service", 1, NULL, 's'},
		{"once", 0, NULL, '1'},	    {"unique", 0, NULL, 'q'},
		{"wildcard", 0, NULL, 'w'}, {"baseline", 1, NULL, 'b'},
		{"ca-cert", 1, NULL, 'C'},  {"ca-key", 1, NULL, 'K'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'u':
			o.url = optarg;
			break;
		case 'H':
			o.host = optarg;
			break;
		case 'U':
			o.upstream_file = optarg;
			break;
		case 'o':
			o.out_dir = optarg;
			break;
		case 'n':
			o.count = num(optarg);
			break;
		case 'c':
			o.concurrency = num(optarg) ? num(optarg) : 1;
			break;
		case 'd':
			o.deadline_ms = num(optarg) ? num(optarg) : 1;
			break;
		case 'D':
			o.duration_s = MIN(num(optarg), MAX_SECONDS - 1u);
			break;
		case 'g':
			o.usage = (int)num(optarg);
			break;
		case 's':
			o.service = (int)num(optarg);
			break;
		case '1':
			o.once = true;
			break;
		case 'q':
			o.unique = true;
			break;
		case 'w':
			o.wildcard = true;
			break;
		case 'b':
			o.baseline = num(optarg);
			break;
		case 'C':
			o.ca_cert = optarg;
			break;
		case 'K':
			o.ca_key = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: see the comment at the top of fcgend/test/fcgen_load.c\n");
			return 2;
		}
	}
	if (o.baseline)
		return run_baseline();
	if (!o.url) {
		fprintf(stderr, "fcgen-load: --url is required\n");
		return 2;
	}
	if (o.upstream_file && read_upstream(o.upstream_file) != 0) {
		fprintf(stderr, "fcgen-load: cannot read %s\n", o.upstream_file);
		return 2;
	}
	return o.once ? run_once() : run_load();
}
