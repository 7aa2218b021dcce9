/* fcgend's configuration, shaped like g3fcgen's (siblings spec §1.3):
 *
 *   runtime/log/stat/controller   as every daemon (common/daemon.h)
 *   worker: {thread_number: 1}    key-generation threads (g3 worker keys)
 *   backend:
 *     ca_certificate: ca.crt      file, inline PEM, or a list; the first signs
 *     ca_private_key: ca.key      file or inline PEM
 *     no_append_ca_cert: false    send the leaf without the CA chain
 *     keep_serial: false          mimic: copy the upstream serial
 *     max_ttl: 86400              seconds (or "1d"); below 300 → 300
 *     duration_stats: 4s          request-duration histogram
 *     cache_size: 4096            g3c: cached certificates (0: no cache)
 *     cache_ttl: 1h               g3c: how long one stays cached at most
 *     key_pool: {ec256: 256, rsa2048: 16, ed25519: 64, ed448: 8}
 *                                 g3c: keys kept ready per type (or one number)
 *   rpc: {listen: PATH}           g3c: the Forge RPC socket (ipc:// path or
 *                                 URL); default <control_dir>/fcgend[_group].rpc
 *
 * Paths are relative to the main file's directory. Unknown keys are errors.
 * A loaded config is immutable; the CA is loaded and checked at load time,
 * so -t catches a key that does not match its certificate. */
#ifndef G3C_FCGEND_CONF_H
#define G3C_FCGEND_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/conf.h"
#include "common/daemon.h"
#include "fcgend/forge.h"
#include "common/hist.h"
#include "fcgend/keypool.h"

#define FCGEND_CONF_MAGIC 0x66636366u /* "fccf" */
#define FCGEND_MAX_WORKERS 64
#define FCGEND_MAX_POOL 100000u

struct fcgend_conf {
	uint32_t magic;
	struct daemon_conf common;
	/* backend */
	struct forge_ca *ca; /* owned */
	struct forge_opts forge;
	struct hist_conf duration_stats;
	uint32_t cache_size;
	uint64_t cache_ttl_ms;
	uint32_t key_pool[FCGEN_KEY__COUNT];
	/* worker */
	unsigned keygen_threads;
	uint64_t thread_stack_size; /* 0: default */
	/* rpc */
	const char *rpc_listen; /* nanomsg URL, NULL: the default path */
	struct conf_arena *arena;
};

/* Load and validate path (a file or a directory holding fcgend.yaml /
 * main.yaml). Returns an owned config (fcgend_conf_free) or NULL with every
 * error recorded in ctx. */
struct fcgend_conf *fcgend_conf_load(struct conf_ctx *ctx, const char *path);
/* The same from a buffer (tests, fuzzers); relative paths resolve against
 * the directory of `name`. */
struct fcgend_conf *fcgend_conf_load_buffer(struct conf_ctx *ctx, const char *name,
					    const char *data, size_t len);
void fcgend_conf_free(struct fcgend_conf *c); /* NULL is accepted */

/* The RPC URL: c->rpc_listen, else ipc://<control_dir>/fcgend[_<group>].rpc.
 * Returns 0 or -ENAMETOOLONG (the path does not fit a unix socket). */
int fcgend_rpc_url(const struct fcgend_conf *c, const char *control_dir, const char *group,
		   char *buf, size_t cap) MUST_CHECK;

#endif
