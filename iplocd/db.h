/* One MaxMind DB (.mmdb) file opened with libmaxminddb, fully validated.
 *
 * Loading copies the file into a sealed memfd and maps that copy, so the
 * bytes that were validated are exactly the bytes lookups read: a file
 * rewritten in place (`cp new.mmdb GeoLite2-City.mmdb`) or truncated later
 * can neither crash the daemon (SIGBUS on a shrunk mapping) nor change
 * answers under a lookup; the file watcher notices the change and loads it
 * as a new db. Validation walks every search-tree node, checks every record,
 * the section separator and the tree depth (no cycles, no path longer than
 * the address), and decodes every data record the tree points to; a file
 * that fails any check is refused.
 *
 * A db is reference counted (loop thread only: no atomics) so a config, the
 * live service and the file watcher can share it; the last unref closes it.
 */
#ifndef G3C_IPLOCD_DB_H
#define G3C_IPLOCD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include <maxminddb.h>

#include "common/util.h"
#include "iplocd/fields.h"

#define IPLOC_DB_MAGIC 0x69706462u /* "ipdb" */

/* The `geoip_db` keys: which file a db was configured as. Every kind is
 * searched for every field (see service.h); the kind orders precedence. */
enum iploc_db_kind {
	IPLOC_DB_COUNTRY = 0,
	IPLOC_DB_ASN,
	IPLOC_DB_CITY,
	IPLOC_DB_ISP,
	IPLOC_DB__COUNT,
};

/* "country", "asn", "city", "isp". */
const char *iploc_db_kind_name(enum iploc_db_kind kind);

/* What identifies a version of a file on disk: a replaced file (rename)
 * changes dev/ino, a rewritten one size or mtime. */
struct iploc_file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* stat(path) into *id. Returns 0 or -errno. */
int iploc_file_id_stat(const char *path, struct iploc_file_id *id) MUST_CHECK;
bool iploc_file_id_equal(const struct iploc_file_id *a, const struct iploc_file_id *b);

/* What validation found (also shown by `g3ctl -d iplocd databases`). */
struct iploc_db_info {
	uint64_t data_records;	   /* distinct data records the tree points to */
	uint64_t location_records; /* those with a field iplocd answers with */
	uint64_t empty_records;
	uint32_t max_depth; /* longest node chain from the root */
};

struct iploc_db {
	uint32_t magic;
	unsigned refs;
	char *path;		 /* owned: the path it was loaded from */
	struct iploc_file_id id; /* the file version the copy was taken from */
	MMDB_s mmdb;
	uint64_t loaded_us; /* wall clock */
	uint64_t load_ns;   /* time spent copying and validating */
	struct iploc_db_info info;
	/* Decoded records by their data-section offset, direct-mapped (the
	 * networks of a database share few records: a country file has a few
	 * hundred). Filled by iploc_db_fields on the one thread that looks up
	 * (iplocd's main loop); allocated on first use. */
	struct iploc_rec_slot *recs;
	uint64_t rec_hits, rec_misses;
};

/* Largest file accepted: the format addresses its sections with 32 bits. */
#define IPLOC_DB_MAX_FILE (4ull << 30)

/* Slots of the decoded-record cache (a power of two). */
#define IPLOC_REC_BITS 12
#define IPLOC_REC_SLOTS (1u << IPLOC_REC_BITS)

/* Open, copy and validate `path` (borrowed). Returns 0 with *out (owned, one
 * reference: iploc_db_unref), or -errno with a one-line reason in err:
 * -ENOENT/-EACCES/... (cannot read), -EFBIG (too large), -EBADMSG (not a
 * valid MaxMind DB: libmaxminddb's or the validator's words), -ENODATA (valid,
 * but no record has a field iplocd answers with: not a location database),
 * -EAGAIN (the file kept changing while it was read). Blocks for the copy and the
 * validation: call it where a pause is acceptable (config load, reload). */
int iploc_db_open(const char *path, struct iploc_db **out, char *err, size_t errlen) MUST_CHECK;

struct iploc_db *iploc_db_ref(struct iploc_db *db);
/* Drop a reference; the last one closes the db. NULL is accepted. */
void iploc_db_unref(struct iploc_db *db);

/* Validate an opened MMDB_s (db_verify.c; used by iploc_db_open, exposed
 * for tests). Returns 0 with *info filled, or -EBADMSG with the reason. */
int iploc_db_verify(const MMDB_s *mmdb, struct iploc_db_info *info, char *err,
		    size_t errlen) MUST_CHECK;

/* One lookup in one db. */
struct iploc_db_hit {
	bool found;	    /* a data record covers the address */
	uint8_t prefix;	    /* the record's network length, in the address's family */
	MMDB_entry_s entry; /* valid when found */
};

/* Look `sa` (AF_INET or AF_INET6, borrowed) up. The prefix is the length of
 * the network the answer (found or empty) holds for, translated to the
 * address family (an IPv4 address in an IPv6 tree: bits below ::/96 only).
 * Returns 0, -EAFNOSUPPORT (IPv6 address, IPv4-only db: the db says nothing
 * about it, *hit is a miss with prefix 0), or -EBADMSG (libmaxminddb
 * reported corruption; impossible after validation, handled anyway). */
int iploc_db_lookup(const struct iploc_db *db, const struct sockaddr *sa,
		    struct iploc_db_hit *hit) MUST_CHECK;

/* The fields of a record found by iploc_db_lookup (hit.entry), as
 * iploc_fields_read but from the decoded-record cache when the record was
 * read before. Not thread-safe: one thread looks up in a db. */
bool iploc_db_fields(struct iploc_db *db, MMDB_entry_s *entry, struct iploc_fields *out);

#endif
