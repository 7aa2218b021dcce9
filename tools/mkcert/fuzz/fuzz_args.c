/* Fuzz mkcert's command line: the input split at NUL bytes is argv (after
 * the program name); every --host value then goes through the classifier
 * and the time options through the validity computation, as mkcert_main
 * would do before touching any file. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tools/mkcert/mkcert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mkcert_window issuer = {-631152000LL, 253402300799LL}, w;
	char *argv[MAX_ARGS + 1], *buf, err[MKCERT_ERR_MAX];
	struct mkcert_opts o;
	struct mkcert_host h;
	size_t i, start = 0;
	int argc = 0;

	if (size > 4096)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = (char *)"mkcert";
	for (i = 0; i <= size && argc < MAX_ARGS; i++) {
		if (i == size || buf[i] == '\0') {
			argv[argc++] = buf + start;
			start = i + 1;
		}
	}
	argv[argc] = NULL;
	if (mkcert_opts_parse(argc, argv, &o, err, sizeof(err)) == 0 &&
	    o.action == MKCERT_ACT_MAKE) {
		for (i = 0; i < o.n_hosts; i++)
			(void)mkcert_host_classify(o.hosts[i], &h, err, sizeof(err));
		if (mkcert_validity_compute(&o, 1700000000, &issuer, NULL, &w, err, sizeof(err)) ==
			    0 &&
		    w.not_before > w.not_after)
			abort();
		if (mkcert_validity_compute(&o, 1700000000, NULL, NULL, &w, err, sizeof(err)) ==
			    0 &&
		    w.not_before > w.not_after)
			abort();
	}
	mkcert_opts_fini(&o);
	free(buf);
	return 0;
}
