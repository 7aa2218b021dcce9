/* fcgend: forged certificates for TLS interception. Everything lives in
 * libfcgend; the lifecycle (command line, config, signals, control socket)
 * is common/daemon.h's. */
#include "fcgend/runtime.h"

int main(int argc, char **argv)
{
	return daemon_main(argc, argv, &fcgend_ops);
}
