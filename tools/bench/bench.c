/* g3bench entry: parse, prepare, run, report; exit status 0 for a completed
 * run, 1 for a usage or set-up error, 2 when no request succeeded. */
#include "tools/bench/bench.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct bench *the_bench;

static void on_signal(int sig)
{
	(void)sig;
	if (the_bench)
		atomic_store(&the_bench->stop, 1);
}

int bench_main(int argc, char **argv)
{
	struct bench *b = xcalloc(1, sizeof(*b));
	struct bench_stats total;
	struct sigaction sa;
	int rc = 1, r;

	memset(&total, 0, sizeof(total));
	r = bench_opts_parse(argc, argv, &b->o);
	if (r != 0) {
		rc = r > 0 ? 0 : 1;
		goto out;
	}
	if (bench_prepare(&b->o) < 0)
		goto out;
	atomic_init(&b->issued, 0);
	atomic_init(&b->stop, 0);
	atomic_init(&b->log_left, b->o.log_error);

	the_bench = b;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	total.lat = hist_new(BENCH_HIST_SUB_BITS, BENCH_HIST_VALUE_BITS);
	total.send_all = hist_new(BENCH_HIST_SUB_BITS, BENCH_HIST_VALUE_BITS);
	total.recv_hdr = hist_new(BENCH_HIST_SUB_BITS, BENCH_HIST_VALUE_BITS);
	if (bench_run(b, &total) < 0)
		goto out;
	bench_report(b, &total);
	rc = total.ok > 0 ? 0 : 2;
out:
	the_bench = NULL;
	hist_free(total.lat);
	hist_free(total.send_all);
	hist_free(total.recv_hdr);
	bench_opts_fini(&b->o);
	free(b);
	return rc;
}
