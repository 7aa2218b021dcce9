/* libFuzzer target: packed iploc requests through the rpc layer into the
 * lookup handler (rpc_dispatch_buffer, what every request from the socket
 * goes through), over real databases built once at start with
 * deploy/mmdb/build-demo-db.pl (without perl the handler runs with no
 * database: every address is an empty answer, the parsing paths still run).
 * Checks what a caller relies on: the reply decodes and carries the
 * request's id; a request of valid addresses is answered OK with one
 * location per address, in order, whose network holds the address; invalid
 * ones get INVALID_ARGUMENT, never silence. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/rpc.h"
#include "iplocd/service.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct iploc_service svc;
static char dir[64];

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

static void cleanup(void)
{
	if (dir[0])
		nftw(dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
	iploc_service_fini(&svc);
}

static void add_db(enum iploc_db_kind kind, const char *args)
{
	char path[128], cmd[512], err[512];
	struct iploc_db *db = NULL;
	const char *src = getenv("G3C_SRCDIR");

#ifdef G3C_SRCDIR
	if (!src)
		src = G3C_SRCDIR;
#endif
	if (!src)
		src = ".";
	snprintf(path, sizeof(path), "%s/%s.mmdb", dir, iploc_db_kind_name(kind));
	snprintf(cmd, sizeof(cmd), "perl '%s/deploy/mmdb/build-demo-db.pl' %s '%s' 2>/dev/null",
		 src, args, path);
	if (system(cmd) != 0 || iploc_db_open(path, &db, err, sizeof(err)) != 0) {
		fprintf(stderr,
			"fuzz_lookup: no %s database (perl with MaxMind::DB::Writer "
			"missing?): running without it\n",
			iploc_db_kind_name(kind));
		return;
	}
	iploc_service_set_db(&svc, kind, db);
	iploc_db_unref(db);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_lookup", "", LOG_SINK_STDERR, 0);
	iploc_service_init(&svc);
	snprintf(dir, sizeof(dir), "/tmp/fuzz-iploc-XXXXXX");
	if (!mkdtemp(dir)) {
		dir[0] = '\0';
		return 0;
	}
	atexit(cleanup);
	add_db(IPLOC_DB_COUNTRY, "--kind country");
	add_db(IPLOC_DB_ASN, "--kind asn --ip-version 4 --record-size 28");
	add_db(IPLOC_DB_ISP, "--kind isp --record-size 32");
	return 0;
}

/* The answer's network holds the asked address. */
static void check_location(const char *ip, const G3c__Iploc__Location *l)
{
	struct sockaddr_storage ss;
	const uint8_t *a;
	size_t len;

	ASSERT(l != NULL && l->ip != NULL && strcmp(l->ip, ip) == 0);
	ASSERT(iploc_parse_ip(ip, &ss) == 0);
	len = ss.ss_family == AF_INET ? 4 : 16;
	a = ss.ss_family == AF_INET ? (const uint8_t *)&((struct sockaddr_in *)&ss)->sin_addr
				    : (const uint8_t *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
	ASSERT(l->network_addr.len == len && l->network_prefix <= len * 8);
	for (unsigned b = 0; b < l->network_prefix; b++)
		ASSERT(((a[b / 8] ^ l->network_addr.data[b / 8]) & (0x80u >> (b % 8))) == 0);
	ASSERT(l->ttl == (l->found ? svc.ttl : svc.miss_ttl));
	ASSERT(l->network != NULL && strchr(l->network, '/') != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	G3c__Iploc__Request *req;
	G3c__Iploc__Reply *rep;
	uint8_t *out = NULL;
	size_t outlen = 0;
	int r;

	r = rpc_dispatch_buffer(&iploc_rpc_service, iploc_handle, &svc, data, size, &out, &outlen);
	req = size <= RPC_MAX_MSG ? g3c__iploc__request__unpack(NULL, size, data) : NULL;
	if (r != 0) {
		ASSERT(r == -EBADMSG && out == NULL && req == NULL);
		return 0;
	}
	ASSERT(out != NULL && outlen <= RPC_MAX_MSG);
	rep = g3c__iploc__reply__unpack(NULL, outlen, out);
	ASSERT(rep != NULL && rep->status != NULL);
	if (!req) {
		ASSERT(rep->status->code == G3C__RPC__CODE__MALFORMED);
		goto out;
	}
	ASSERT(rep->id == req->id);
	if (req->body_case == G3C__IPLOC__REQUEST__BODY_LOOKUP) {
		bool all_valid = req->lookup->n_ips > 0 && req->lookup->n_ips <= IPLOC_MAX_BATCH;
		for (size_t i = 0; all_valid && i < req->lookup->n_ips; i++) {
			struct sockaddr_storage ss;
			all_valid = iploc_parse_ip(req->lookup->ips[i], &ss) == 0;
		}
		if (!all_valid) {
			ASSERT(rep->status->code == G3C__RPC__CODE__INVALID_ARGUMENT);
			ASSERT(rep->body_case == G3C__IPLOC__REPLY__BODY__NOT_SET);
			goto out;
		}
		ASSERT(rep->status->code == G3C__RPC__CODE__OK);
		ASSERT(rep->body_case == G3C__IPLOC__REPLY__BODY_LOOKUP);
		ASSERT(rep->lookup->n_answers == req->lookup->n_ips);
		for (size_t i = 0; i < req->lookup->n_ips; i++)
			check_location(req->lookup->ips[i], rep->lookup->answers[i]);
	} else {
		ASSERT(rep->status->code == G3C__RPC__CODE__INVALID_ARGUMENT ||
		       rep->status->code == G3C__RPC__CODE__UNIMPLEMENTED);
	}
out:
	g3c__iploc__reply__free_unpacked(rep, NULL);
	if (req)
		g3c__iploc__request__free_unpacked(req, NULL);
	free(out);
	return 0;
}
