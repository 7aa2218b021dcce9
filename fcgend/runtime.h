/* fcgend's runtime: the key pool with its refill threads, the Forge
 * service and its RPC socket on the main loop, reload, the control
 * socket's `forge`, status counters and StatsD metrics; all plugged into
 * common/daemon.h through fcgend_ops. */
#ifndef G3C_FCGEND_RUNTIME_H
#define G3C_FCGEND_RUNTIME_H

#include "common/daemon.h"

/* The lifecycle callbacks for daemon_main(). */
extern const struct daemon_ops fcgend_ops;

#endif
