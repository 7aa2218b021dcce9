/* RPC between g3c daemons: protobuf-c messages over nanomsg, hidden behind
 * this header (a move to NNG touches rpc.c only). Every service follows the
 * envelope of proto/rpc.proto: Request {uint64 id = 1; uint32 deadline_ms = 2;
 * oneof body}, Reply {uint64 id = 1; g3c.rpc.Status status = 2; oneof body}.
 *
 * Client: asynchronous inside a libev loop, many calls in flight, each with a
 * deadline and a cancel handle; a callback never runs after cancel or after
 * rpc_client_free(). A dead peer is noticed by the deadline; a restarted peer
 * is used again without restarting the client.
 * Server: pure handler functions over unpacked messages; malformed input is
 * answered with status MALFORMED when an id can be read, else counted and
 * dropped. Neither side is thread-safe: one client/server per loop thread. */
#ifndef G3C_COMMON_RPC_H
#define G3C_COMMON_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <protobuf-c/protobuf-c.h>

#include "common/util.h"

/* Mirrors g3c.rpc.Code in proto/rpc.proto. */
enum rpc_code {
	RPC_OK = 0,
	RPC_INVALID_ARGUMENT = 1,
	RPC_NOT_FOUND = 2,
	RPC_UNAVAILABLE = 3,
	RPC_INTERNAL = 4,
	RPC_UNIMPLEMENTED = 5,
	RPC_DEADLINE_EXCEEDED = 6,
	RPC_FAILED_PRECONDITION = 7,
	RPC_MALFORMED = 8,
};

const char *rpc_code_name(enum rpc_code code);

/* A service: its request and reply message descriptors (from protoc-c). */
struct rpc_service {
	const char *name;
	const ProtobufCMessageDescriptor *req;
	const ProtobufCMessageDescriptor *rep;
};

#define RPC_MAX_MSG (4u << 20) /* larger messages are refused */

/* ---- server ---------------------------------------------------------- */

/* Per-request scratch memory for building a reply: freed after the reply
 * is packed. Allocation aborts on OOM. */
struct rpc_arena;
void *rpc_arena_alloc(struct rpc_arena *a, size_t n); /* zeroed */
char *rpc_arena_strdup(struct rpc_arena *a, const char *s);
char *rpc_arena_printf(struct rpc_arena *a, const char *fmt, ...) PRINTF_FMT(2, 3);
/* Set the error text that goes with a non-OK code. */
void rpc_arena_set_error(struct rpc_arena *a, const char *fmt, ...) PRINTF_FMT(2, 3);

/* Fill `rep` (already initialised with the service's reply descriptor; id
 * and status are set by the caller) from `req`. Borrowed: req and rep are
 * owned by the rpc layer; anything rep points to must come from `a` or be
 * static. Returns RPC_OK or an error code (with rpc_arena_set_error). */
typedef enum rpc_code rpc_handler_fn(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *rep,
				     struct rpc_arena *a);

/* Deferred replies, for a handler that must wait for another thread or an
 * event: it calls rpc_defer(a) and returns (its return value is then
 * ignored and nothing is sent yet). The deferred reply owns the request's
 * arena, so `rep` and everything allocated from `a` stay valid; the owner
 * fills rep (allocating from rpc_deferred_arena) and calls
 * rpc_deferred_finish on the server's loop thread, exactly once, after the
 * handler has returned (never inside it). Returns
 * NULL when the caller cannot defer (rpc_dispatch_buffer): answer now.
 * Calling it twice in one handler returns the same handle. */
struct rpc_deferred;
struct rpc_deferred *rpc_defer(struct rpc_arena *a);
struct rpc_arena *rpc_deferred_arena(struct rpc_deferred *d);
/* Send the reply with `code` (and the arena's error text when not OK), then
 * free d and its arena. When the server was freed meanwhile nothing is
 * sent. */
void rpc_deferred_finish(struct rpc_deferred *d, enum rpc_code code);

struct rpc_server_stats {
	uint64_t requests;  /* decoded and handled */
	uint64_t malformed; /* undecodable messages (answered or dropped) */
	uint64_t send_errors;
};

/* Bind `url` ("ipc:///run/g3c/iplocd.rpc") and serve it from `loop`. A
 * stale ipc socket file is replaced. Returns an owned server (free with
 * rpc_server_free) or NULL with *err = -errno. */
struct rpc_server *rpc_server_new(struct ev_loop *loop, const char *url,
				  const struct rpc_service *svc, rpc_handler_fn *fn, void *ctx,
				  int *err);
void rpc_server_free(struct rpc_server *s);
void rpc_server_get_stats(const struct rpc_server *s, struct rpc_server_stats *out);

/* Run a handler on a packed request without sockets (tests, fuzzers):
 * unpack, call fn, pack the reply into *out (malloc'd, free()). Returns 0,
 * or -EBADMSG when the request could not be decoded at all. A request that
 * does not decode (or exceeds RPC_MAX_MSG) but whose id can be read returns
 * 0 with a reply carrying status MALFORMED, exactly as the server answers. */
int rpc_dispatch_buffer(const struct rpc_service *svc, rpc_handler_fn *fn, void *ctx,
			const uint8_t *req, size_t len, uint8_t **out, size_t *outlen);

/* ---- client ---------------------------------------------------------- */

/* Completion. err: 0 (rep is the decoded reply, borrowed for the duration of
 * the callback; check code/errmsg for the service status), -ETIMEDOUT (the
 * deadline passed), -EBADMSG (undecodable reply), -ECANCELED is never
 * delivered (cancel suppresses the callback). errmsg is never NULL ("" when
 * the service sent none); on -ETIMEDOUT / -EBADMSG rep is NULL and code is
 * RPC_DEADLINE_EXCEEDED / RPC_MALFORMED. */
typedef void rpc_done_fn(void *arg, int err, enum rpc_code code, const char *errmsg,
			 const ProtobufCMessage *rep);

/* Connect to `url` (the peer may be absent; nanomsg reconnects). Returns an
 * owned client (free with rpc_client_free, which drops pending calls without
 * calling back) or NULL with *err = -errno. */
struct rpc_client *rpc_client_new(struct ev_loop *loop, const char *url,
				  const struct rpc_service *svc, int *err);
void rpc_client_free(struct rpc_client *c);

/* Start a call. req is borrowed (packed before return); its id and
 * deadline_ms fields are overwritten. On success *handle (never 0) can be
 * passed to rpc_cancel; handle may be NULL. The deadline counts from the
 * loop's ev_now(). Returns 0 or -errno (-EMSGSIZE, -ENOMEM, -EINVAL for a
 * zero deadline). */
int rpc_call(struct rpc_client *c, ProtobufCMessage *req, uint32_t deadline_ms, rpc_done_fn *cb,
	     void *arg, uint64_t *handle) MUST_CHECK;

/* Cancel a pending call: its callback will not run. Returns true if it was
 * still pending, false if it already completed (or never existed). */
bool rpc_cancel(struct rpc_client *c, uint64_t handle);

/* Calls started and not yet completed or cancelled. */
unsigned rpc_client_pending(const struct rpc_client *c);

/* At most `max_sent` requests (default 64, minimum 1) are on the wire
 * without a reply; further calls wait inside the client, deadlines running,
 * and go out as earlier ones complete. nanomsg's REP side silently drops a
 * reply when the socket buffer towards its client is full, so this bounds
 * the replies one client can have queued at a server. */
void rpc_client_set_window(struct rpc_client *c, unsigned max_sent);

struct rpc_client_stats {
	uint64_t calls;	       /* started by rpc_call */
	uint64_t sent;	       /* handed to nanomsg */
	uint64_t replies;      /* decoded replies delivered to a callback */
	uint64_t timeouts;     /* calls completed with -ETIMEDOUT */
	uint64_t cancelled;    /* rpc_cancel that found a pending call */
	uint64_t late_replies; /* replies matching no pending call: dropped */
	uint64_t malformed;    /* undecodable replies */
	uint64_t send_errors;  /* nanomsg refused a request (not EAGAIN) */
};

void rpc_client_get_stats(const struct rpc_client *c, struct rpc_client_stats *out);

/* Blocking call for command-line tools (never on a serving loop). On 0,
 * *rep is owned (free with protobuf_c_message_free_unpacked(*rep, NULL)),
 * *code the service status and errbuf its message. Returns -ETIMEDOUT,
 * -ECONNREFUSED (no socket at url), -EBADMSG, ... otherwise. */
int rpc_call_sync(const char *url, const struct rpc_service *svc, ProtobufCMessage *req,
		  uint32_t deadline_ms, ProtobufCMessage **rep, enum rpc_code *code, char *errbuf,
		  size_t errlen) MUST_CHECK;

#endif
