/* iplocd: IP locations from MaxMind DB files over RPC. Everything lives in
 * libiplocd; the lifecycle (command line, config, signals, control socket)
 * is common/daemon.h's. */
#include "iplocd/runtime.h"

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, &iplocd_ops);
}
