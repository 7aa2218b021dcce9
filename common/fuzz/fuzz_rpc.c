/* Fuzz the rpc server's decode -> handle -> encode step (the code every
 * request from a socket goes through) with the rpctest service. Checks what
 * a client relies on: a reply always decodes, never exceeds RPC_MAX_MSG, and
 * carries the id the request had (or, for undecodable input, the id that
 * could be read from it); -EBADMSG only when no id was readable. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/rpc.h"
#include "common/test/rpctest_svc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	G3c__Rpctest__Request *req;
	G3c__Rpctest__Reply *rep;
	uint8_t *out = NULL;
	size_t outlen = 0;
	int r;

	r = rpc_dispatch_buffer(&rpctest_svc, rpctest_handle, NULL, data, size, &out, &outlen);
	/* What the request decodes to on its own (the rpc layer refuses more
	 * than RPC_MAX_MSG before decoding). */
	req = size <= RPC_MAX_MSG ? g3c__rpctest__request__unpack(NULL, size, data) : NULL;
	if (r != 0) {
		ASSERT(r == -EBADMSG);
		ASSERT(out == NULL && req == NULL);
		return 0;
	}
	ASSERT(out != NULL && outlen <= RPC_MAX_MSG);
	rep = g3c__rpctest__reply__unpack(NULL, outlen, out);
	ASSERT(rep != NULL && rep->status != NULL);
	if (req) {
		/* Only a Fail body chooses its status; MALFORMED is ours. */
		ASSERT(rep->id == req->id);
		if (req->body_case == G3C__RPCTEST__REQUEST__BODY_FAIL)
			ASSERT(rep->status->code == req->fail->code);
		else
			ASSERT(rep->status->code != G3C__RPC__CODE__MALFORMED);
	} else {
		ASSERT(rep->id != 0);
		ASSERT(rep->status->code == G3C__RPC__CODE__MALFORMED);
	}
	if (req && req->body_case == G3C__RPCTEST__REQUEST__BODY_ECHO &&
	    rep->status->code == G3C__RPC__CODE__OK) {
		ASSERT(rep->body_case == G3C__RPCTEST__REPLY__BODY_ECHO);
		ASSERT(rep->echo->seq == req->echo->seq);
		ASSERT(rep->echo->data.len == req->echo->data.len);
	}
	g3c__rpctest__reply__free_unpacked(rep, NULL);
	if (req)
		g3c__rpctest__request__free_unpacked(req, NULL);
	free(out);
	return 0;
}
