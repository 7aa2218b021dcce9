/* g3bench: HTTP/1.1 and TLS-handshake load generator (doc/g3bench.md). */
#include "tools/bench/bench.h"

int main(int argc, char **argv)
{
	return bench_main(argc, argv);
}
