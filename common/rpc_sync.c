/* rpc_call_sync: one call on a private libev loop and client, for
 * command-line tools. An ipc url whose socket file is missing or stale is
 * refused before any nanomsg socket exists, so a tool reports "not running"
 * at once instead of waiting for its deadline. */
#include "common/rpc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/rpc_int.h"

struct rpc_sync {
	bool done;
	int err;
	enum rpc_code code;
	char *errbuf;
	size_t errlen;
};

static void rpc_sync_done(void *arg, int err, enum rpc_code code, const char *errmsg,
			  const ProtobufCMessage *rep UNUSED)
{
	struct rpc_sync *st = arg;

	st->done = true;
	st->err = err;
	st->code = code;
	if (st->errlen)
		snprintf(st->errbuf, st->errlen, "%s", errmsg ? errmsg : "");
}

int rpc_call_sync(const char *url, const struct rpc_service *svc, ProtobufCMessage *req,
		  uint32_t deadline_ms, ProtobufCMessage **rep, enum rpc_code *code, char *errbuf,
		  size_t errlen)
{
	struct rpc_sync st = {.errbuf = errbuf, .errlen = errbuf ? errlen : 0};
	struct ev_loop *loop = NULL;
	struct rpc_client *c = NULL;
	ProtobufCMessage *kept = NULL;
	const char *path;
	int r;

	ASSERT(url != NULL && rep != NULL && code != NULL);
	*rep = NULL;
	*code = RPC_OK;
	if (st.errlen)
		st.errbuf[0] = '\0';
	if (rpc_url_ipc_path(url, &path)) {
		r = rpc_ipc_probe(path);
		if (r)
			goto out;
	}
	loop = ev_loop_new(EVFLAG_AUTO);
	if (!loop) {
		r = -ENOMEM;
		goto out;
	}
	c = rpc_client_new(loop, url, svc, &r);
	if (!c)
		goto out;
	r = rpc_call_keep(c, req, deadline_ms, rpc_sync_done, &st, NULL, &kept);
	if (r)
		goto out;
	/* The call's own deadline timer bounds this loop. */
	while (!st.done)
		ev_run(loop, EVRUN_ONCE);
	r = st.err;
	*code = st.code;
	if (r == 0) {
		*rep = kept;
		kept = NULL;
	}
out:
	if (kept)
		protobuf_c_message_free_unpacked(kept, NULL);
	rpc_client_free(c);
	if (loop)
		ev_loop_destroy(loop);
	if (r && st.errlen && !st.errbuf[0])
		snprintf(st.errbuf, st.errlen, "%s", strerror(-r));
	return r;
}
