/* libFuzzer target: arbitrary bytes as a .mmdb file through iplocd's
 * loader (copy, libmaxminddb open, full validation). A file the loader
 * accepts is then looked up at addresses across IPv4 and IPv6 and every
 * field iplocd reads is read: a validated database must never make a
 * lookup fail or crash. Inputs go through one memfd (no files on disk). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/log.h"
#include "iplocd/db.h"
#include "iplocd/fields.h"
#include "iplocd/service.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* libmaxminddb before 1.12 (Debian bookworm ships 1.7.1) leaks a 4.6 KB
 * decoding pool when MMDB_open fails on a bad metadata description
 * (maxmind/libmaxminddb#356). Only allocations made inside the library are
 * suppressed; iplocd's own MMDB_close pairing is checked by the unit tests,
 * which run without suppressions. */
const char *__lsan_default_suppressions(void)
{
	return "leak:libmaxminddb.so\n";
}

static int mfd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_mmdb", "", LOG_SINK_STDERR, 0);
	mfd = memfd_create("fuzz-mmdb", MFD_CLOEXEC);
	ASSERT(mfd >= 0);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", mfd);
	return 0;
}

static const char *const probes[] = {
	"0.0.0.0",   "1.1.1.1",		"10.1.2.3", "81.2.69.160", "127.0.0.1",
	"192.0.2.1", "255.255.255.255", "::",	    "::1",	   "2001:db8:1::1",
	"2001::1",   "2002:a01:203::",	"fd00::1",  "ffff:ffff::",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iploc_db *db = NULL;
	char err[512];
	int ret;

	ASSERT(ftruncate(mfd, 0) == 0);
	if (size && pwrite(mfd, data, size, 0) != (ssize_t)size)
		return 0;
	ret = iploc_db_open(path, &db, err, sizeof(err));
	if (ret != 0) {
		ASSERT(db == NULL && err[0] != '\0');
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(probes); i++) {
		struct sockaddr_storage ss;
		struct iploc_db_hit hit;
		struct iploc_fields f;

		ASSERT(iploc_parse_ip(probes[i], &ss) == 0);
		ret = iploc_db_lookup(db, (struct sockaddr *)&ss, &hit);
		ASSERT(ret == 0 || ret == -EAFNOSUPPORT);
		ASSERT(hit.prefix <= (ss.ss_family == AF_INET ? 32 : 128));
		if (ret == 0 && hit.found)
			(void)iploc_fields_read(&hit.entry, &f);
	}
	iploc_db_unref(db);
	return 0;
}
