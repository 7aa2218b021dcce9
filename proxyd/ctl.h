/* proxyd's control requests (proto/control.proto 50..99): the
 * daemon_ops.control handler; ctx is the struct daemon *. */
#ifndef G3C_PROXYD_CTL_H
#define G3C_PROXYD_CTL_H

#include "common/rpc.h"

enum rpc_code proxyd_ctl_handle(void *ctx, const ProtobufCMessage *req, ProtobufCMessage *rep,
				struct rpc_arena *a);

#endif
