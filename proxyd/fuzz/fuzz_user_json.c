/* Fuzz the dynamic user loaders: bytes → a whole user list (file source,
 * cache, publish-user) and → one user's JSON under a Redis field name (the
 * redis source). Every batch built is released again, so leaks show up;
 * includes and certificate files are refused by the loader itself. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/log.h"
#include "proxyd/user_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once;
	struct user_batch *b = NULL;
	char *errs = NULL;

	if (!once) {
		log_init("fuzz", "", LOG_SINK_STDERR, 0);
		log_threshold = LOG_LVL_ERR;
		once = 1;
	}
	if (size > 64 * 1024)
		return 0;
	if (user_batch_parse_list("fuzz.json", (const char *)data, size, &b, &errs) == 0) {
		for (size_t i = 0; i < b->n; i++)
			(void)user_batch_find(b, b->users[i].name);
		user_batch_unref(b);
	}
	free(errs);
	errs = NULL;
	b = user_batch_new();
	if (user_batch_add_json(b, "redis:k/fuzz", "fuzz", (const char *)data, size, &errs) == 0 &&
	    user_batch_find(b, "fuzz") == NULL)
		abort(); /* the field name must be the user's */
	free(errs);
	user_batch_unref(b);
	return 0;
}
