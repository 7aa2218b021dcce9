/* The run summary: ab/g3bench-like text, or one JSON object (--json). */
#include "tools/bench/bench.h"

#include <stdio.h>
#include <sys/resource.h>

static const double pcts[] = {50, 66, 75, 80, 90, 95, 98, 99, 99.9, 100};

static double us(uint64_t ns)
{
	return (double)ns / 1e3;
}

/* CPU seconds (user + system) this process used so far. */
static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void json_hist(const char *name, const struct hist *h)
{
	printf("\"%s\":{\"count\":%llu,\"min\":%.1f,\"mean\":%.1f,\"stddev\":%.1f,"
	       "\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p99.9\":%.1f,\"max\":%.1f}",
	       name, (unsigned long long)h->count, h->count ? us(h->min) : 0.0, hist_mean(h) / 1e3,
	       hist_stddev(h) / 1e3, us(hist_quantile(h, 0.5)), us(hist_quantile(h, 0.9)),
	       us(hist_quantile(h, 0.99)), us(hist_quantile(h, 0.999)), us(h->max));
}

static void report_json(const struct bench *b, const struct bench_stats *s, double secs)
{
	const struct bench_opts *o = &b->o;
	uint64_t done = s->ok + s->failed;
	uint64_t left = o->requests > done ? o->requests - done : 0;

	printf("{\"target\":\"%s\",\"kind\":\"%s\",\"concurrency\":%u,\"threads\":%u,"
	       "\"duration_s\":%.6f,\"requests\":%llu,\"ok\":%llu,\"failed\":%llu,\"left\":%llu,"
	       "\"rps\":%.3f,\"ok_rps\":%.3f,\"cpu_s\":%.3f,",
	       o->target_label, o->kind == BENCH_SSL ? "ssl" : "h1", o->concurrency, o->threads,
	       secs, (unsigned long long)done, (unsigned long long)s->ok,
	       (unsigned long long)s->failed, (unsigned long long)(o->requests ? left : 0),
	       secs > 0 ? (double)done / secs : 0.0, secs > 0 ? (double)s->ok / secs : 0.0,
	       cpu_seconds());
	json_hist("latency_us", s->lat);
	if (o->kind == BENCH_H1) {
		printf(",\"phases_us\":{");
		json_hist("send_all", s->send_all);
		printf(",");
		json_hist("recv_hdr", s->recv_hdr);
		printf("}");
	}
	printf(",");
	printf("\"connections\":{\"attempt\":%llu,\"success\":%llu},\"errors\":{",
	       (unsigned long long)s->conn_attempt, (unsigned long long)s->conn_ok);
	for (int e = 0; e < BENCH_ERR__N; e++)
		printf("%s\"%s\":%llu", e ? "," : "", bench_err_name((enum bench_err)e),
		       (unsigned long long)s->err[e]);
	printf("},\"status\":{");
	for (int c = 1; c <= 5; c++)
		printf("%s\"%dxx\":%llu", c > 1 ? "," : "", c,
		       (unsigned long long)s->status_class[c]);
	printf("},\"traffic\":{\"sent\":%llu,\"recv\":%llu},"
	       "\"tls\":{\"handshakes\":%llu,\"resumed\":%llu}}\n",
	       (unsigned long long)s->bytes_out, (unsigned long long)s->bytes_in,
	       (unsigned long long)s->tls_handshakes, (unsigned long long)s->tls_resumed);
}

static void text_hist(const char *name, const struct hist *h)
{
	printf("%-9s%10.1f %8.1f %8.1f %8.1f %8.1f\n", name, h->count ? us(h->min) : 0.0,
	       hist_mean(h) / 1e3, hist_stddev(h) / 1e3, us(hist_quantile(h, 0.9)), us(h->max));
}

static void report_text(const struct bench *b, const struct bench_stats *s, double secs)
{
	const struct bench_opts *o = &b->o;
	uint64_t done = s->ok + s->failed;
	const struct hist *h = s->lat;

	printf("Target:                 %s (%s)\n", o->target_label,
	       o->kind == BENCH_SSL ? "ssl" : "h1");
	printf("Concurrency Level:      %u (%u thread%s)\n", o->concurrency, o->threads,
	       o->threads > 1 ? "s" : "");
	printf("Time taken for tests:   %.3fs\n", secs);
	printf("Complete requests:      %llu\n", (unsigned long long)done);
	if (s->failed)
		printf("Failed requests:        %llu\n", (unsigned long long)s->failed);
	if (o->requests && o->requests > done)
		printf("Left requests:          %llu\n", (unsigned long long)(o->requests - done));
	printf("Requests per second:    %.3f [#/sec] (mean)\n", secs > 0 ? (double)done / secs : 0);
	printf("# Connections\n");
	printf("Attempt count:          %llu\n", (unsigned long long)s->conn_attempt);
	printf("Success count:          %llu\n", (unsigned long long)s->conn_ok);
	printf("Success ratio:          %.2f%%\n",
	       s->conn_attempt ? 100.0 * (double)s->conn_ok / (double)s->conn_attempt : 0.0);
	printf("Success rate:           %.3f/s\n", secs > 0 ? (double)s->conn_ok / secs : 0.0);
	if (s->failed) {
		printf("# Errors\n");
		for (int e = 0; e < BENCH_ERR__N; e++)
			if (s->err[e])
				printf("%-24s%llu\n", bench_err_name((enum bench_err)e),
				       (unsigned long long)s->err[e]);
	}
	if (o->kind == BENCH_H1) {
		printf("# Status\n");
		for (int c = 1; c <= 5; c++)
			if (s->status_class[c])
				printf("%dxx:                    %llu\n", c,
				       (unsigned long long)s->status_class[c]);
	}
	printf("# Traffic\n");
	printf("Send bytes:             %llu\n", (unsigned long long)s->bytes_out);
	printf("Send rate:              %.0f B/s\n", secs > 0 ? (double)s->bytes_out / secs : 0);
	printf("Recv bytes:             %llu\n", (unsigned long long)s->bytes_in);
	printf("Recv rate:              %.0f B/s\n", secs > 0 ? (double)s->bytes_in / secs : 0);
	if (s->tls_handshakes) {
		printf("# TLS Session\n");
		printf("Handshakes:             %llu\n", (unsigned long long)s->tls_handshakes);
		printf("Reused Count:           %llu\n", (unsigned long long)s->tls_resumed);
		printf("Reuse ratio:            %.2f%%\n",
		       100.0 * (double)s->tls_resumed / (double)s->tls_handshakes);
	}
	if (h->count) {
		printf("# Duration Times (us)\n");
		printf("                min     mean  [+/-sd]    pct90      max\n");
		if (o->kind == BENCH_H1) {
			text_hist("SendAll:", s->send_all);
			text_hist("RecvHdr:", s->recv_hdr);
		}
		text_hist("Total:", h);
		printf("Percentage of the requests served within a certain time (us)\n");
		for (size_t i = 0; i < ARRAY_SIZE(pcts); i++)
			printf("  %5g%%  %10.1f\n", pcts[i], us(hist_quantile(h, pcts[i] / 100.0)));
	}
}

void bench_report(const struct bench *b, const struct bench_stats *s)
{
	double secs = (double)(b->end_ns - b->start_ns) / 1e9;

	if (b->o.no_summary)
		return;
	if (b->o.json)
		report_json(b, s, secs);
	else
		report_text(b, s, secs);
	fflush(stdout);
}
