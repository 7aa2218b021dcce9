/* Internal to tls.c / tls_ctx.c. */
#ifndef G3C_COMMON_TLS_INT_H
#define G3C_COMMON_TLS_INT_H

#include <stddef.h>

#include "common/util.h"

/* snprintf into err when err is not NULL. */
void tls_set_err(char *err, size_t cap, const char *fmt, ...) PRINTF_FMT(3, 4);

#endif
