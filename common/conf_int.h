/* Internals shared by the conf_*.c files; not part of the public contract. */
#ifndef G3C_COMMON_CONF_INT_H
#define G3C_COMMON_CONF_INT_H

#include <stdarg.h>

#include "common/conf.h"

/* Limits against hostile input; each one produces a clear error. */
#define CONF_MAX_FILE_SIZE (16u * 1024 * 1024)
#define CONF_MAX_DEPTH 64
#define CONF_MAX_SCALAR (1024u * 1024)
/* Nodes per loaded file, counting every alias expansion. */
#define CONF_MAX_NODES 4000000u
#define CONF_MAX_INCLUDE_DEPTH 8

/* Record an error at an explicit position (file NULL = main file, line 0 =
 * no position). with_path selects whether ctx->path is printed. */
int conf_error_at(struct conf_ctx *ctx, const char *file, unsigned line, unsigned col,
		  bool with_path, const char *fmt, ...) PRINTF_FMT(6, 7);

int conf_verror_at(struct conf_ctx *ctx, const char *file, unsigned line, unsigned col,
		   bool with_path, const char *fmt, va_list ap) PRINTF_FMT(6, 0);

/* Replace main_file/base_dir (conf_load_main after `-c DIR`). */
void conf_ctx_set_main(struct conf_ctx *ctx, const char *main_file);

/* Load every YAML document of `data`. Main mode (include_base < 0) merges the
 * documents into one map stored in *root. Include mode returns a CONF_SEQ
 * node whose items are the non-null documents; while building, document k
 * is reported under path "[include_base + k]". `name` must live in the
 * arena. */
int conf_yaml_load(struct conf_ctx *ctx, const char *name, const char *data, size_t len,
		   long include_base, const struct conf_node **root) MUST_CHECK;

/* Read a whole regular file (at most CONF_MAX_FILE_SIZE) into a malloc'd
 * buffer. Errors are recorded against node `at` (or the file itself). */
int conf_read_file(struct conf_ctx *ctx, const struct conf_node *at, const char *path, char **data,
		   size_t *len) MUST_CHECK;

/* Quote a scalar for a message: at most 64 bytes, "..." appended when cut. */
#define CONF_QUOTE_MAX 64
#define CONF_QFMT "'%.*s%s'"
#define CONF_QARG(s, len)                                            \
	(int)((len) > CONF_QUOTE_MAX ? CONF_QUOTE_MAX : (len)), (s), \
		((len) > CONF_QUOTE_MAX ? "..." : "")

#endif
