/* mkcert: g3mkcert-compatible maker of CA, intermediate, TLS server and
 * client certificates (and look-alikes with --mimic). */
#include "tools/mkcert/mkcert.h"

int main(int argc, char **argv)
{
	return mkcert_main(argc, argv);
}
