/* Bind IPs of direct_float escapers, published at runtime (g3proxy's
 * `escaper NAME publish '{"ipv4": ..., "ipv6": ...}'`; `show` reads them
 * back, which g3 lacks). The sets live in float_pub.c's registry (struct
 * float_set with b4 / b6), so they survive reloads like proxy_float peers.
 *
 * A publish is a JSON object whose keys are "ipv4" (or "v4") and "ipv6"
 * (or "v6"); any other key is an error. Each value is null (no bind IP of
 * that family), one record, or a list of records; a record is an IP string
 * or an object {"ip" (required), "id", "isp", "eip", "area", "expire"
 * (RFC 3339)}. As g3: a record already expired or of the other family is
 * dropped, an isp / eip / area of the wrong form is ignored, an unknown key
 * is an error. Only the families named change; the other keeps its IPs.
 * Any error changes nothing.
 *
 * With cache_ipv4 / cache_ipv6 set, a published family's records are also
 * written to that file (a JSON array, replaced atomically; a write error
 * fails the publish), and float_bind_load_caches() reads them when an
 * escaper has no set yet (start), so a restart keeps the last IPs. */
#ifndef G3C_PROXYD_FLOAT_BIND_H
#define G3C_PROXYD_FLOAT_BIND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/util.h"
#include "proxyd/config.h"
#include "proxyd/float_pub.h"

#define FLOAT_BIND_MAX 4096 /* records per family */

/* Publish json for direct_float escaper e. Returns 0 (*n4 / *n6: the IPs
 * each family now has), -EINVAL with every problem in *err (malloc'd, the
 * caller frees it), -EIO with *err when a cache file could not be
 * written, or -ENOMEM. */
int float_bind_publish(const struct escaper_conf *e, const char *json, size_t len, size_t *n4,
		       size_t *n6, char **err) MUST_CHECK;

/* For each direct_float escaper of c with no published set yet: read its
 * cache files (a missing or bad file is logged and leaves that family
 * empty). Main thread, before workers use the config. */
void float_bind_load_caches(const struct proxyd_conf *c);

/* {"ipv4": [...], "ipv6": [...]} with each record's fields and
 * "expired": true|false when it has an expire (malloc'd; NULL when memory
 * is short). */
char *float_bind_show(const char *escaper);

/* Pick a bind address of family (AF_INET / AF_INET6) from s (may be NULL)
 * at time now: the record whose id is id when id is not NULL, else a
 * random one (rnd) among the records not expired. 0 with *out set,
 * -ENOENT when the family has no usable record, -ESRCH when no usable
 * record has that id. Pure (no locks, no clock). */
int float_bind_pick(const struct float_set *s, int family, const char *id, int64_t now,
		    uint64_t rnd, struct sockaddr_storage *out) MUST_CHECK;

#endif
