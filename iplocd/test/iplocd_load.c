/* iplocd-load: lookups against iplocd for the integration tests and for
 * measurements (not a test by itself).
 *
 *   iplocd-load rpc URL [-n TOTAL] [-c INFLIGHT] [-b BATCH] [-t TIMEOUT_MS] [-x] IP...
 *       TOTAL lookup requests (default 1000), at most INFLIGHT (default 64)
 *       unanswered at any time, each asking BATCH addresses (default 1) taken
 *       round robin from the IPs ("random4" stands for random IPv4
 *       addresses). Prints one JSON object: calls, answered, failed (by
 *       code), timeouts, countries seen per asked address, elapsed seconds,
 *       requests/s and lookups/s. Exit 0 when every call was answered OK.
 *       -x asks in binary (LookupReq.addrs, as proxyd does) instead of
 *       text; countries are not tracked then.
 *   iplocd-load local [-n TOTAL] [-b BATCH] [--raw] DB.mmdb... -- IP...
 *       the same lookups in process on the same files: through iplocd's
 *       handler (request decode, lookup, reply encode), or with --raw plain
 *       libmaxminddb (MMDB_lookup_sockaddr + the fields iplocd reads). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>

#include "common/log.h"
#include "common/rpc.h"
#include "iplocd/fields.h"
#include "iplocd/service.h"

#define MAX_IPS 4096
#define MAX_CC 32

struct load {
	struct ev_loop *loop;
	struct rpc_client *c;
	char **ips;
	size_t nips, next_ip;
	bool random4;
	bool binary;	 /* -x: LookupReq.addrs */
	char (*rnd)[16]; /* text of random addresses, one per batch slot */
	unsigned batch, inflight, timeout_ms;
	uint64_t total, started, done, ok, timeouts, failed[16];
	/* countries seen for each asked address (first MAX_IPS addresses) */
	struct {
		char cc[MAX_CC][4];
		uint64_t n[MAX_CC];
		unsigned k;
	} * seen;
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rand32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

static const char *next_ip(struct load *L, char *buf, size_t *idx)
{
	if (L->random4) {
		struct in_addr a = {.s_addr = rand32()};
		inet_ntop(AF_INET, &a, buf, 16);
		*idx = SIZE_MAX;
		return buf;
	}
	*idx = L->next_ip;
	L->next_ip = (L->next_ip + 1) % L->nips;
	return L->ips[*idx];
}

static void note_country(struct load *L, const G3c__Iploc__Location *loc)
{
	size_t i;

	if (!loc->ip || !loc->ip[0])
		return; /* a binary (-x) request's answer */
	for (i = 0; i < L->nips && strcmp(L->ips[i], loc->ip) != 0; i++)
		;
	if (i == L->nips || !L->seen)
		return;
	const char *cc = loc->country && loc->country[0] ? loc->country : "-";
	for (unsigned k = 0; k < L->seen[i].k; k++) {
		if (strcmp(L->seen[i].cc[k], cc) == 0) {
			L->seen[i].n[k]++;
			return;
		}
	}
	if (L->seen[i].k < MAX_CC) {
		snprintf(L->seen[i].cc[L->seen[i].k], 4, "%s", cc);
		L->seen[i].n[L->seen[i].k++] = 1;
	}
}

static void start_call(struct load *L);

static void on_done(void *arg, int err, enum rpc_code code, const char *errmsg,
		    const ProtobufCMessage *rep_)
{
	struct load *L = arg;
	const G3c__Iploc__Reply *rep = (const G3c__Iploc__Reply *)rep_;

	L->done++;
	if (err == -ETIMEDOUT) {
		L->timeouts++;
	} else if (err != 0 || code != RPC_OK) {
		L->failed[code < 16 ? code : 15]++;
		if (L->failed[code < 16 ? code : 15] == 1)
			fprintf(stderr, "iplocd-load: %s: %s\n", rpc_code_name(code), errmsg);
	} else if (rep->body_case == G3C__IPLOC__REPLY__BODY_LOOKUP && rep->lookup &&
		   rep->lookup->n_answers == L->batch) {
		L->ok++;
		for (size_t i = 0; i < rep->lookup->n_answers; i++)
			note_country(L, rep->lookup->answers[i]);
	} else {
		L->failed[RPC_MALFORMED]++;
	}
	if (L->started < L->total)
		start_call(L);
	if (L->done == L->total)
		ev_break(L->loop, EVBREAK_ALL);
}

static void start_call(struct load *L)
{
	G3c__Iploc__Request req = G3C__IPLOC__REQUEST__INIT;
	G3c__Iploc__LookupReq lk = G3C__IPLOC__LOOKUP_REQ__INIT;
	char *ips[1024];
	ProtobufCBinaryData bins[1024];
	uint8_t raw[1024][16];
	size_t idx;

	for (unsigned i = 0; i < L->batch; i++)
		ips[i] = (char *)next_ip(L, L->rnd[i], &idx);
	if (L->binary) {
		for (unsigned i = 0; i < L->batch; i++) {
			bins[i].data = raw[i];
			bins[i].len = inet_pton(AF_INET, ips[i], raw[i]) == 1 ? 4 : 16;
			if (bins[i].len == 16 && inet_pton(AF_INET6, ips[i], raw[i]) != 1)
				bins[i].len = 0; /* iplocd refuses it, as the text form */
		}
		lk.addrs = bins;
		lk.n_addrs = L->batch;
	} else {
		lk.ips = ips;
		lk.n_ips = L->batch;
	}
	req.body_case = G3C__IPLOC__REQUEST__BODY_LOOKUP;
	req.lookup = &lk;
	L->started++;
	if (rpc_call(L->c, &req.base, L->timeout_ms, on_done, L, NULL) != 0) {
		L->done++;
		L->failed[RPC_INTERNAL]++;
	}
}

static void print_json(const struct load *L, double secs)
{
	printf("{\"calls\":%" PRIu64 ",\"answered\":%" PRIu64 ",\"timeouts\":%" PRIu64, L->done,
	       L->ok, L->timeouts);
	printf(",\"failed\":{");
	for (int c = 0, first = 1; c < 16; c++) {
		if (!L->failed[c])
			continue;
		printf("%s\"%s\":%" PRIu64, first ? "" : ",", rpc_code_name((enum rpc_code)c),
		       L->failed[c]);
		first = 0;
	}
	printf("},\"countries\":{");
	for (size_t i = 0; L->seen && i < L->nips && i < MAX_IPS; i++) {
		printf("%s\"%s\":{", i ? "," : "", L->ips[i]);
		for (unsigned k = 0; k < L->seen[i].k; k++)
			printf("%s\"%s\":%" PRIu64, k ? "," : "", L->seen[i].cc[k],
			       L->seen[i].n[k]);
		printf("}");
	}
	printf("},\"batch\":%u,\"inflight\":%u,\"elapsed_s\":%.6f,\"requests_per_s\":%.1f,"
	       "\"lookups_per_s\":%.1f}\n",
	       L->batch, L->inflight, secs, secs > 0 ? (double)L->ok / secs : 0.0,
	       secs > 0 ? (double)L->ok * L->batch / secs : 0.0);
}

static int parse_u(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!s[0] || *end || v == 0 || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: iplocd-load rpc URL [-n TOTAL] [-c INFLIGHT] [-b BATCH] "
			"[-t TIMEOUT_MS] [-x] IP...|random4\n"
			"       iplocd-load local [-n TOTAL] [-b BATCH] [--raw] DB.mmdb... -- "
			"IP...|random4\n");
	return 2;
}

static int run_rpc(int argc, char **argv)
{
	struct load L = {.batch = 1, .inflight = 64, .timeout_ms = 10000, .total = 1000};
	unsigned total = 1000;
	uint64_t t0;
	int c, err = 0;

	if (argc < 2)
		return usage();
	const char *url = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "n:c:b:t:x")) != -1) {
		if (c == 'x') {
			L.binary = true;
			continue;
		}
		unsigned *dst = c == 'n'   ? &total
				: c == 'c' ? &L.inflight
				: c == 'b' ? &L.batch
				: c == 't' ? &L.timeout_ms
					   : NULL;
		unsigned max = c == 'b' ? 1024u : 100000000u;
		if (!dst || parse_u(optarg, max, dst) != 0)
			return usage();
	}
	L.total = total;
	L.ips = argv + optind;
	L.nips = (size_t)(argc - optind);
	if (L.nips == 0 || L.nips > MAX_IPS)
		return usage();
	L.random4 = L.nips == 1 && strcmp(L.ips[0], "random4") == 0;
	L.rnd = xcalloc(L.batch, sizeof(*L.rnd));
	if (!L.random4)
		L.seen = xcalloc(L.nips, sizeof(*L.seen));
	L.loop = ev_loop_new(EVFLAG_AUTO);
	L.c = rpc_client_new(L.loop, url, &iploc_rpc_service, &err);
	if (!L.c) {
		fprintf(stderr, "iplocd-load: %s: %s\n", url, strerror(-err));
		return 1;
	}
	rpc_client_set_window(L.c, L.inflight);
	t0 = util_mono_ns();
	for (unsigned i = 0; i < L.inflight && L.started < L.total; i++)
		start_call(&L);
	if (L.done < L.total)
		ev_run(L.loop, 0);
	print_json(&L, (double)(util_mono_ns() - t0) / 1e9);
	rpc_client_free(L.c);
	ev_loop_destroy(L.loop);
	free(L.rnd);
	free(L.seen);
	return L.ok == L.total ? 0 : 1;
}

/* ---- in process ------------------------------------------------------- */

static int run_local(int argc, char **argv)
{
	struct iploc_service svc;
	struct iploc_db *dbs[IPLOC_DB__COUNT] = {NULL};
	unsigned total = 100000, batch = 1, ndb = 0;
	bool raw = false;
	char **ips;
	size_t nips;
	char rnd[1024][16];
	uint64_t t0, ok = 0, sink = 0;
	int i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--raw") == 0) {
			raw = true;
		} else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			if (parse_u(argv[++i], 1000000000u, &total))
				return usage();
		} else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc) {
			if (parse_u(argv[++i], 1024u, &batch))
				return usage();
		} else {
			char err[512];
			if (ndb == IPLOC_DB__COUNT)
				return usage();
			if (iploc_db_open(argv[i], &dbs[ndb], err, sizeof(err)) != 0) {
				fprintf(stderr, "iplocd-load: %s: %s\n", argv[i], err);
				return 1;
			}
			ndb++;
		}
	}
	if (ndb == 0 || i >= argc - 1)
		return usage();
	ips = argv + i + 1;
	nips = (size_t)(argc - i - 1);
	bool random4 = nips == 1 && strcmp(ips[0], "random4") == 0;
	iploc_service_init(&svc);
	for (unsigned k = 0; k < ndb; k++)
		iploc_service_set_db(&svc, (enum iploc_db_kind)k, dbs[k]);
	t0 = util_mono_ns();
	for (unsigned n = 0, next = 0; n < total; n++) {
		char *batch_ips[1024];
		for (unsigned b = 0; b < batch; b++) {
			if (random4) {
				struct in_addr a = {.s_addr = rand32()};
				inet_ntop(AF_INET, &a, rnd[b], 16);
				batch_ips[b] = rnd[b];
			} else {
				batch_ips[b] = ips[next++ % nips];
			}
		}
		if (raw) {
			for (unsigned b = 0; b < batch; b++) {
				struct sockaddr_storage ss;
				if (iploc_parse_ip(batch_ips[b], &ss) != 0)
					continue;
				for (unsigned k = 0; k < ndb; k++) {
					int e;
					MMDB_lookup_result_s r = MMDB_lookup_sockaddr(
						&dbs[k]->mmdb, (struct sockaddr *)&ss, &e);
					struct iploc_fields f;
					if (e == MMDB_SUCCESS && r.found_entry &&
					    iploc_fields_read(&r.entry, &f))
						sink += f.asn + f.country.len;
					sink += r.netmask;
				}
			}
			ok++;
			continue;
		}
		G3c__Iploc__Request req = G3C__IPLOC__REQUEST__INIT;
		G3c__Iploc__LookupReq lk = G3C__IPLOC__LOOKUP_REQ__INIT;
		uint8_t buf[65536], *out = NULL;
		size_t len, outlen = 0;
		lk.ips = batch_ips;
		lk.n_ips = batch;
		req.id = n + 1;
		req.body_case = G3C__IPLOC__REQUEST__BODY_LOOKUP;
		req.lookup = &lk;
		len = g3c__iploc__request__pack(&req, buf);
		if (rpc_dispatch_buffer(&iploc_rpc_service, iploc_handle, &svc, buf, len, &out,
					&outlen) == 0)
			ok++;
		sink += outlen;
		free(out);
	}
	double secs = (double)(util_mono_ns() - t0) / 1e9;
	printf("{\"mode\":\"%s\",\"requests\":%" PRIu64 ",\"batch\":%u,\"elapsed_s\":%.6f,"
	       "\"requests_per_s\":%.1f,\"lookups_per_s\":%.1f,\"sink\":%" PRIu64 "}\n",
	       raw ? "libmaxminddb" : "handler", ok, batch, secs, (double)ok / secs,
	       (double)ok * batch / secs, sink);
	iploc_service_fini(&svc);
	for (unsigned k = 0; k < ndb; k++)
		iploc_db_unref(dbs[k]);
	return ok == total ? 0 : 1;
}

int main(int argc, char **argv)
{
	log_init("iplocd-load", "", LOG_SINK_STDERR, 0);
	if (argc >= 2 && strcmp(argv[1], "rpc") == 0)
		return run_rpc(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "local") == 0)
		return run_local(argc - 1, argv + 1);
	return usage();
}
