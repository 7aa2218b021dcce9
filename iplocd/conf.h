/* iplocd's configuration, shaped like g3iploc's (spec siblings.md §2) with
 * MaxMind DB files instead of g3's CSV:
 *
 *   geoip_db:              # at least one; paths relative to this file
 *     country: GeoLite2-Country.mmdb
 *     asn: GeoLite2-ASN.mmdb
 *     city: GeoLite2-City.mmdb
 *     isp: GeoIP2-ISP.mmdb
 *   ttl: 300               # answer TTL for found addresses (g3iploc: fixed 300)
 *   miss_ttl: 60           # answer TTL for unknown addresses
 *   db_check_interval: 10s # poll the files for changes; 0 = only on reload
 *   rpc:
 *     listen: /run/g3c/iplocd.rpc   # or ipc:// / tcp:// URL
 *   runtime, worker, log, stat, controller: as every g3 daemon
 *
 * Loading opens and fully validates every database (db.h), so `-t` checks
 * them and a reload with a broken file fails as a whole, changing nothing.
 * A loaded config is immutable; it owns one reference to each database. */
#ifndef G3C_IPLOCD_CONF_H
#define G3C_IPLOCD_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/daemon.h"
#include "common/util.h"
#include "iplocd/db.h"

#define IPLOCD_CONF_MAGIC 0x69636f6eu /* "icon" */
#define IPLOCD_DEFAULT_CHECK_MS 10000u
#define IPLOCD_MAX_TTL (7u * 86400u)

struct iplocd_conf {
	uint32_t magic;
	struct daemon_conf common;
	const char *db_path[IPLOC_DB__COUNT]; /* absolute; NULL = not configured */
	struct iploc_db *db[IPLOC_DB__COUNT]; /* owned references, opened by the load */
	uint32_t ttl, miss_ttl;		      /* seconds */
	uint64_t check_interval_ms;	      /* 0 = no polling */
	/* nanomsg URL; NULL = ipc://<control_dir>/iplocd[_<group>].rpc */
	const char *rpc_listen;
	bool worker_given; /* a `worker` section was accepted (and is unused) */
	struct conf_arena *arena;
};

/* Load the main file at `path`: every error is recorded in ctx (file:line:
 * col). Returns an owned config (iplocd_conf_free) or NULL. */
struct iplocd_conf *iplocd_conf_load(struct conf_ctx *ctx, const char *path);
/* The same from a buffer (tests and fuzzers); relative paths resolve
 * against the directory of `name`. */
struct iplocd_conf *iplocd_conf_load_buffer(struct conf_ctx *ctx, const char *name,
					    const char *data, size_t len);
/* NULL is accepted. */
void iplocd_conf_free(struct iplocd_conf *c);

/* The RPC URL: rpc_listen, or the default under control_dir. Returns 0, or
 * -ENAMETOOLONG when it does not fit buf or a unix socket address. */
int iplocd_rpc_url(const struct iplocd_conf *c, const char *control_dir, const char *group,
		   char *buf, size_t cap) MUST_CHECK;

#endif
