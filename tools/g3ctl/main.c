/* g3ctl: admin CLI for the control socket of every g3c daemon. */
#include "tools/g3ctl/g3ctl.h"

int main(int argc, char **argv)
{
	return g3ctl_main(argc, argv);
}
