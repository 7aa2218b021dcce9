/* Fuzz proxyd's config loader: YAML bytes → the whole typed model (every
 * object kind, value format, ACL, token and reference pass). File includes
 * and certificate files are refused so the input never reaches the file
 * system; a successful load is released again, so leaks show up. */
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/log.h"
#include "proxyd/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	struct conf_ctx ctx;
	struct proxyd_conf *c;

	if (!once) {
		/* fallback warnings would flood the output */
		log_init("fuzz", "", LOG_SINK_STDERR, 0);
		log_threshold = LOG_LVL_ERR;
		once = 1;
	}
	if (size > 64 * 1024)
		return 0;
	conf_ctx_init(&ctx, "fuzz.yaml");
	ctx.no_includes = true;
	c = proxyd_conf_load_buffer(&ctx, "fuzz.yaml", (const char *)data, size);
	if (c != NULL) {
		(void)proxyd_conf_worker_count(c);
		proxyd_conf_unref(c);
	}
	conf_ctx_fini(&ctx);
	return 0;
}
