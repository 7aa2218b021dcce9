/* The g3c.rpctest service (proto/rpctest.proto) and its handler, shared by
 * common/test/test_rpc.c and common/fuzz/fuzz_rpc.c. Header-only: every
 * definition is static. */
#ifndef G3C_COMMON_TEST_RPCTEST_SVC_H
#define G3C_COMMON_TEST_RPCTEST_SVC_H

#include <string.h>

#include "common/rpc.h"
#include "proto/rpctest.pb-c.h"

static const struct rpc_service rpctest_svc = {
	.name = "rpctest",
	.req = &g3c__rpctest__request__descriptor,
	.rep = &g3c__rpctest__reply__descriptor,
};

/* Echo: copies text, data and seq back. Fail: answers with its code and
 * message. Big: answers with `size` (<= 2 * RPC_MAX_MSG) bytes of data. Nothing: INVALID_ARGUMENT. */
static enum rpc_code rpctest_handle(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *rep_,
				    struct rpc_arena *a)
{
	const G3c__Rpctest__Request *req = (const G3c__Rpctest__Request *)req_;
	G3c__Rpctest__Reply *rep = (G3c__Rpctest__Reply *)rep_;
	G3c__Rpctest__Echo *e;
	unsigned *count = ctx;

	if (count)
		(*count)++;
	switch (req->body_case) {
	case G3C__RPCTEST__REQUEST__BODY_ECHO:
		e = rpc_arena_alloc(a, sizeof(*e));
		g3c__rpctest__echo__init(e);
		e->text = rpc_arena_strdup(a, req->echo->text ? req->echo->text : "");
		e->seq = req->echo->seq;
		e->data.len = req->echo->data.len;
		if (e->data.len) {
			e->data.data = rpc_arena_alloc(a, e->data.len);
			memcpy(e->data.data, req->echo->data.data, e->data.len);
		}
		rep->body_case = G3C__RPCTEST__REPLY__BODY_ECHO;
		rep->echo = e;
		return RPC_OK;
	case G3C__RPCTEST__REQUEST__BODY_FAIL:
		rpc_arena_set_error(a, "%s", req->fail->message ? req->fail->message : "");
		return (enum rpc_code)req->fail->code;
	case G3C__RPCTEST__REQUEST__BODY_BIG:
		if (req->big->size > 2 * RPC_MAX_MSG) {
			rpc_arena_set_error(a, "size %u over %u", req->big->size, 2 * RPC_MAX_MSG);
			return RPC_INVALID_ARGUMENT;
		}
		e = rpc_arena_alloc(a, sizeof(*e));
		g3c__rpctest__echo__init(e);
		e->data.len = req->big->size;
		e->data.data = rpc_arena_alloc(a, e->data.len);
		rep->body_case = G3C__RPCTEST__REPLY__BODY_ECHO;
		rep->echo = e;
		return RPC_OK;
	default:
		rpc_arena_set_error(a, "empty request");
		return RPC_INVALID_ARGUMENT;
	}
}

#endif
