/* Loading one .mmdb: copy into a sealed memfd, open the copy with
 * libmaxminddb, validate it (db_verify.c), and lookups. See db.h. */
#include "iplocd/db.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define COPY_CHUNK (1u << 20)
#define COPY_TRIES 3

static const char *const kind_names[IPLOC_DB__COUNT] = {
	[IPLOC_DB_COUNTRY] = "country",
	[IPLOC_DB_ASN] = "asn",
	[IPLOC_DB_CITY] = "city",
	[IPLOC_DB_ISP] = "isp",
};

const char *iploc_db_kind_name(enum iploc_db_kind kind)
{
	return (unsigned)kind < IPLOC_DB__COUNT ? kind_names[kind] : "?";
}

static void file_id_from_stat(const struct stat *st, struct iploc_file_id *id)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
}

int iploc_file_id_stat(const char *path, struct iploc_file_id *id)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -errno;
	file_id_from_stat(&st, id);
	return 0;
}

bool iploc_file_id_equal(const struct iploc_file_id *a, const struct iploc_file_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Copy the regular file `src` (its identity in *id) into a new sealed
 * memfd. Returns the memfd, or -errno (-EAGAIN: it changed while read). */
static int copy_to_memfd(int src, const struct iploc_file_id *id, char *err, size_t errlen)
{
	struct iploc_file_id after;
	struct stat st;
	uint8_t *buf = NULL;
	uint64_t total = 0;
	int mfd, ret;

	mfd = memfd_create("iplocd-db", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0) {
		ret = -errno;
		snprintf(err, errlen, "memfd_create: %s", strerror(errno));
		return ret;
	}
	buf = xmalloc(COPY_CHUNK);
	for (;;) {
		ssize_t n = read(src, buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			snprintf(err, errlen, "read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (total > IPLOC_DB_MAX_FILE) {
			ret = -EFBIG;
			snprintf(err, errlen, "larger than 4 GiB: not a MaxMind DB file");
			goto out;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(mfd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				ret = w < 0 ? -errno : -EIO;
				snprintf(err, errlen, "copying into memory: %s", strerror(-ret));
				goto out;
			}
			off += w;
		}
	}
	if (fstat(src, &st) != 0) {
		ret = -errno;
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		goto out;
	}
	file_id_from_stat(&st, &after);
	if (!iploc_file_id_equal(id, &after) || total != (uint64_t)id->size) {
		ret = -EAGAIN;
		snprintf(err, errlen, "the file changed while it was read");
		goto out;
	}
	/* Nothing may change the copy once validated. */
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) !=
	    0) {
		ret = -errno;
		snprintf(err, errlen, "sealing the copy: %s", strerror(errno));
		goto out;
	}
	free(buf);
	return mfd;
out:
	free(buf);
	close(mfd);
	return ret;
}

/* One attempt: open path, copy it, open the copy with libmaxminddb. */
static int open_once(const char *path, struct iploc_file_id *id, MMDB_s *mmdb, char *err,
		     size_t errlen)
{
	char proc[64];
	struct stat st;
	int src = -1, mfd = -1, ret, st_mmdb;

	src = open(path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return ret;
	}
	if (fstat(src, &st) != 0) {
		ret = -errno;
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, errlen, "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > IPLOC_DB_MAX_FILE) {
		ret = -EFBIG;
		snprintf(err, errlen, "larger than 4 GiB: not a MaxMind DB file");
		goto out;
	}
	file_id_from_stat(&st, id);
	mfd = copy_to_memfd(src, id, err, errlen);
	if (mfd < 0) {
		ret = mfd;
		goto out;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", mfd);
	st_mmdb = MMDB_open(proc, MMDB_MODE_MMAP, mmdb);
	if (st_mmdb == MMDB_FILE_OPEN_ERROR && access("/proc/self/fd", F_OK) != 0) {
		/* No /proc: map the file itself (in-place rewrites are then unsafe). */
		log_warn("%s: /proc is not mounted: mapping the file directly", path);
		st_mmdb = MMDB_open(path, MMDB_MODE_MMAP, mmdb);
	}
	if (st_mmdb != MMDB_SUCCESS) {
		ret = st_mmdb == MMDB_OUT_OF_MEMORY_ERROR ? -ENOMEM : -EBADMSG;
		snprintf(err, errlen, "not a valid MaxMind DB file: %s", MMDB_strerror(st_mmdb));
		goto out;
	}
	ret = 0;
out:
	if (mfd >= 0)
		close(mfd); /* the mapping keeps the copy alive */
	if (src >= 0)
		close(src);
	return ret;
}

int iploc_db_open(const char *path, struct iploc_db **out, char *err, size_t errlen)
{
	struct iploc_db *db = NULL;
	uint64_t t0 = util_mono_ns();
	int ret = -EAGAIN;

	*out = NULL;
	db = xcalloc(1, sizeof(*db));
	for (int i = 0; i < COPY_TRIES && ret == -EAGAIN; i++)
		ret = open_once(path, &db->id, &db->mmdb, err, errlen);
	if (ret != 0) {
		free(db);
		return ret;
	}
	ret = iploc_db_verify(&db->mmdb, &db->info, err, errlen);
	if (ret == 0 && db->info.location_records == 0) {
		ret = -ENODATA;
		snprintf(err, errlen,
			 "no record has a field iplocd answers with (country, "
			 "continent, ASN, AS organisation, ISP, domain): not a location database");
	}
	if (ret != 0) {
		MMDB_close(&db->mmdb);
		free(db);
		return ret;
	}
	db->magic = IPLOC_DB_MAGIC;
	db->refs = 1;
	db->path = xstrdup(path);
	db->loaded_us = util_wall_us();
	db->load_ns = util_mono_ns() - t0;
	*out = db;
	return 0;
}

struct iploc_db *iploc_db_ref(struct iploc_db *db)
{
	CHECK_OBJ(db, IPLOC_DB_MAGIC);
	ASSERT(db->refs > 0);
	db->refs++;
	return db;
}

struct iploc_rec_slot {
	uint64_t key; /* data offset + 1; 0 = empty */
	bool has;
	struct iploc_fields f;
};

bool iploc_db_fields(struct iploc_db *db, MMDB_entry_s *entry, struct iploc_fields *out)
{
	struct iploc_rec_slot *slot;

	CHECK_OBJ(db, IPLOC_DB_MAGIC);
	if (!db->recs)
		db->recs = calloc(IPLOC_REC_SLOTS, sizeof(*db->recs));
	if (!db->recs) /* no memory: uncached */
		return iploc_fields_read(entry, out);
	/* Fibonacci hashing of the offset */
	slot = &db->recs[(entry->offset * 2654435761u) >> (32 - IPLOC_REC_BITS)];
	if (slot->key == (uint64_t)entry->offset + 1) {
		db->rec_hits++;
	} else {
		db->rec_misses++;
		slot->has = iploc_fields_read(entry, &slot->f);
		slot->key = (uint64_t)entry->offset + 1;
	}
	*out = slot->f;
	return slot->has;
}

void iploc_db_unref(struct iploc_db *db)
{
	if (!db)
		return;
	CHECK_OBJ(db, IPLOC_DB_MAGIC);
	ASSERT(db->refs > 0);
	if (--db->refs > 0)
		return;
	MMDB_close(&db->mmdb);
	free(db->recs);
	free(db->path);
	POISON_OBJ(db);
	free(db);
}

int iploc_db_lookup(const struct iploc_db *db, const struct sockaddr *sa, struct iploc_db_hit *hit)
{
	MMDB_lookup_result_s r;
	unsigned bits;
	int mmdb_err = MMDB_SUCCESS;

	CHECK_OBJ(db, IPLOC_DB_MAGIC);
	memset(hit, 0, sizeof(*hit));
	if (sa->sa_family == AF_INET6 && db->mmdb.metadata.ip_version == 4)
		return -EAFNOSUPPORT;
	r = MMDB_lookup_sockaddr(&db->mmdb, sa, &mmdb_err);
	if (mmdb_err == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR)
		return -EAFNOSUPPORT;
	if (mmdb_err != MMDB_SUCCESS)
		return -EBADMSG;
	bits = r.netmask;
	if (sa->sa_family == AF_INET) {
		/* An IPv6 tree counts the ::/96 bits in front of an IPv4 address;
		 * a record above them covers all of IPv4. */
		if (db->mmdb.metadata.ip_version == 6)
			bits = bits > 96 ? bits - 96 : 0;
		bits = MIN(bits, 32u);
	} else {
		bits = MIN(bits, 128u);
	}
	hit->prefix = (uint8_t)bits;
	hit->found = r.found_entry;
	if (r.found_entry)
		hit->entry = r.entry;
	return 0;
}
