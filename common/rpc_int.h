/* Internal to the rpc module (rpc_msg.c, rpc_server.c, rpc_client.c,
 * rpc_sync.c): envelope access, the per-request arena, the shared
 * decode/handle/encode step and nanomsg socket helpers. Not for callers
 * outside common/rpc*.c. */
#ifndef G3C_COMMON_RPC_INT_H
#define G3C_COMMON_RPC_INT_H

#include "common/rpc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* nanomsg may prepend a backtrace to our messages: allow that much on top of
 * RPC_MAX_MSG before the transport itself refuses a message, so that a body
 * slightly over the limit still reaches us and is counted and answered. */
#define RPC_HDR_SLACK 1024u
/* Messages handled per readiness callback before yielding to the loop. */
#define RPC_BATCH 128

/* A field of a generated message at a descriptor-given offset. */
#define RPC_FIELD(msg, off, type) ((type *)(void *)((char *)(msg) + (off)))

/* Offsets of the envelope fields, checked against proto/rpc.proto's shape. */
struct rpc_envelope {
	size_t req_id_off;
	size_t req_deadline_off;
	size_t rep_id_off;
	size_t rep_status_off;
};

/* Fill `env` from svc's descriptors; ASSERTs the envelope shape
 * (Request: 1 uint64 id, 2 uint32 deadline_ms; Reply: 1 uint64 id,
 * 2 g3c.rpc.Status status, all singular proto3 fields). */
void rpc_envelope_init(struct rpc_envelope *env, const struct rpc_service *svc);

/* Growable byte buffer (owned memory in p). */
struct rpc_buf {
	uint8_t *p;
	size_t len;
	size_t cap;
};
void rpc_buf_reserve(struct rpc_buf *b, size_t cap);
void rpc_buf_fini(struct rpc_buf *b);

/* Arena life cycle (the allocation functions are in rpc.h). */
struct rpc_arena *rpc_arena_new(void);
void rpc_arena_free(struct rpc_arena *a);
/* Forget every allocation and the error text; keeps the first chunk. */
void rpc_arena_reset(struct rpc_arena *a);
/* A protobuf-c allocator drawing from `a` (free is a no-op). Borrowed. */
ProtobufCAllocator *rpc_arena_allocator(struct rpc_arena *a);
/* The text set by rpc_arena_set_error, or NULL. */
const char *rpc_arena_error(const struct rpc_arena *a);

/* Scan the top level of a protobuf encoding for field 1 (varint) without
 * decoding the rest; stops at the first malformed tag. True when a non-zero
 * id was found (the last occurrence wins, as in protobuf). */
bool rpc_wire_find_id(const uint8_t *p, size_t len, uint64_t *id);

/* A reply the handler gave later (rpc_defer): it owns the request's arena,
 * which holds rep; the server that made it links it to send it and to
 * forget it when the server goes first. */
#define RPC_DEFERRED_MAGIC 0x72706466u /* "rpdf" */
/* Room for the SP header: pipe key + backtrace hops + request id. */
#define RPC_CTRL_MAX 256
struct rpc_server;
struct rpc_deferred {
	uint32_t magic;
	struct rpc_arena *arena; /* owned once the handler returned */
	ProtobufCMessage *rep;	 /* in arena */
	uint64_t id;
	struct rpc_server *server;	 /* NULL once the server is gone */
	struct rpc_deferred *next;	 /* the server's pending list */
	uint64_t ctrl[RPC_CTRL_MAX / 8]; /* the SP header routing the reply (aligned) */
	size_t ctrl_len;
};

/* Allow the next handler call on `a` to defer (servers only). */
void rpc_arena_allow_defer(struct rpc_arena *a);

/* Fill rep's envelope (id, code, the arena's error text for a non-OK code)
 * and encode it into `out`; a reply over RPC_MAX_MSG becomes INTERNAL. */
void rpc_pack_reply(const struct rpc_service *svc, const struct rpc_envelope *env,
		    struct rpc_arena *a, ProtobufCMessage *rep, uint64_t id, enum rpc_code code,
		    struct rpc_buf *out);

/* Decode one packed request, run the handler, encode the reply into `out`
 * (len set). *malformed tells whether the request was undecodable or too
 * large; such a request is answered with MALFORMED when its id can be read.
 * Resets `a` before returning. Returns 0 (reply in out), -EBADMSG (nothing
 * to answer: drop) or 1: the handler deferred its reply (rpc_defer), `a`
 * belongs to that rpc_deferred (id and rep set) and is not reset. */
int rpc_handle_packed(const struct rpc_service *svc, const struct rpc_envelope *env,
		      rpc_handler_fn *fn, void *ctx, struct rpc_arena *a, const uint8_t *req,
		      size_t len, struct rpc_buf *out, bool *malformed) MUST_CHECK;

/* For "ipc://PATH" urls: *path points into url and 1 is returned; other
 * urls return 0. */
int rpc_url_ipc_path(const char *url, const char **path);

/* Try a unix stream connect to `path`: 0 when something listens,
 * -ECONNREFUSED when the file is missing or nobody listens on it, -errno
 * otherwise (-ENAMETOOLONG, -EACCES, ...). */
int rpc_ipc_probe(const char *path) MUST_CHECK;

/* nanomsg socket helpers: set an int option / read an fd option; 0 or
 * -errno. */
int rpc_nn_setopt_int(int sock, int opt, int val) MUST_CHECK;
int rpc_nn_getfd(int sock, int opt, int *fd) MUST_CHECK;

/* rpc_call with reply ownership: on success, the decoded reply is unpacked
 * with the default allocator and stored in *keep after the callback ran
 * (free with protobuf_c_message_free_unpacked(*keep, NULL)). Used by
 * rpc_call_sync. */
int rpc_call_keep(struct rpc_client *c, ProtobufCMessage *req, uint32_t deadline_ms,
		  rpc_done_fn *cb, void *arg, uint64_t *handle, ProtobufCMessage **keep) MUST_CHECK;

#endif
