/* proxyd's control requests (proto/control.proto 50..99): the
 * daemon_ops.control handler; ctx is the struct daemon *. */
#ifndef G3C_PROXYD_CTL_H
#define G3C_PROXYD_CTL_H

#include "common/rpc.h"
#include "proto/control.pb-c.h"

enum rpc_code proxyd_ctl_handle(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *rep,
				struct rpc_arena *a);

struct proxyd_runtime;
struct ev_loop;
/* resolver NAME query HOST (ctl_resolve.c): defers the reply (rpc_defer)
 * until worker 0 has resolved, at most 5s; main_loop is the daemon's. */
enum rpc_code proxyd_ctl_resolve(struct proxyd_runtime *rt, struct ev_loop *main_loop,
				 const G3c__Control__ProxydResolverQueryReq *q,
				 G3c__Control__Reply *rep, struct rpc_arena *a);

/* user-group NAME list-users | publish-user | status (user_ctl.c): main
 * thread; NOT_FOUND for a group absent from the running config. */
enum rpc_code proxyd_ctl_user_group(struct proxyd_runtime *rt, const G3c__Control__Request *req,
				    G3c__Control__Reply *rep, struct rpc_arena *a);

#endif
