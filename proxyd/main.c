/* proxyd: g3c's forward proxy. Everything lives in libproxyd; the lifecycle
 * (command line, config, signals, control socket) is common/daemon.h's. */
#include "proxyd/runtime.h"

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, &proxyd_ops);
}
