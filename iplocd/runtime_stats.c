/* iplocd's status counters (g3ctl status) and StatsD metrics. Metric names
 * follow g3iploc's (spec siblings.md §2.4) under the `g3iploc` prefix, plus
 * lookup and database metrics of our own:
 *   frontend.request_total, frontend.request_invalid (counters)
 *   frontend.response_total, frontend.response_fail (counters)
 *   frontend.request_duration (gauges, ns, tag quantile: min max mean 0.50 0.99)
 *   lookup.total, lookup.found, lookup.miss, lookup.db_error (counters: addresses)
 *   db.node_count, db.build_epoch, db.age (gauges; tag db:<kind>)
 *   db.reload_total, db.reload_failed (counters; tag db:<kind>) */
#include "iplocd/runtime.h"

#include <stdio.h>

void iplocd_counters(struct iplocd *ipl, void (*add)(void *arg, const char *name, uint64_t v),
		     void *arg)
{
	const struct iploc_stats *st = &ipl->svc.stats;
	struct rpc_server_stats rs = {0};
	uint64_t reloads = 0, failures = 0, loaded = 0;

	CHECK_OBJ(ipl, IPLOCD_MAGIC);
	if (ipl->rpc)
		rpc_server_get_stats(ipl->rpc, &rs);
	for (int k = 0; k < IPLOC_DB__COUNT; k++) {
		reloads += ipl->watch[k].reloads;
		failures += ipl->watch[k].failures;
		loaded += ipl->svc.db[k] ? 1u : 0u;
	}
	add(arg, "requests", st->requests);
	add(arg, "answers", st->answers);
	add(arg, "found", st->found);
	add(arg, "misses", st->misses);
	add(arg, "errors", st->invalid + st->db_errors + rs.malformed);
	add(arg, "invalid_requests", st->invalid);
	add(arg, "malformed_requests", rs.malformed);
	add(arg, "latency_avg_us", st->requests ? st->latency_ns / st->requests / 1000u : 0);
	add(arg, "latency_max_us", st->latency_max / 1000u);
	add(arg, "databases", loaded);
	add(arg, "db_reloads", reloads);
	add(arg, "db_reload_failures", failures);
	for (int k = 0; k < IPLOC_DB__COUNT; k++) {
		const struct iploc_db *db = ipl->svc.db[k];
		char name[64];
		if (!db)
			continue;
		snprintf(name, sizeof(name), "db_%s_nodes",
			 iploc_db_kind_name((enum iploc_db_kind)k));
		add(arg, name, db->mmdb.metadata.node_count);
		snprintf(name, sizeof(name), "db_%s_build_epoch",
			 iploc_db_kind_name((enum iploc_db_kind)k));
		add(arg, name, db->mmdb.metadata.build_epoch);
	}
}

void iplocd_emit_metrics(struct iplocd *ipl, struct statsd *s)
{
	struct iplocd_metrics *m = &ipl->metrics;
	const struct iploc_stats *st = &ipl->svc.stats;
	const struct hist *h = &ipl->svc.latency;
	struct rpc_server_stats rs = {0};
	static const struct {
		const char *tag;
		double q;
	} qs[] = {{"min", 0.0}, {"max", 1.0}, {"0.50", 0.5}, {"0.99", 0.99}};
	struct statsd_tags t;
	uint64_t now_s = util_wall_us() / 1000000u, d_found, d_miss;

	CHECK_OBJ(ipl, IPLOCD_MAGIC);
	d_found = statsd_counter_delta(&m->found, st->found);
	d_miss = statsd_counter_delta(&m->misses, st->misses);
	if (ipl->rpc)
		rpc_server_get_stats(ipl->rpc, &rs);
	statsd_count(s, "frontend.request_total",
		     statsd_counter_delta(&m->requests, st->requests + rs.malformed), NULL);
	statsd_count(s, "frontend.request_invalid",
		     statsd_counter_delta(&m->invalid, st->invalid) +
			     statsd_counter_delta(&m->malformed, rs.malformed),
		     NULL);
	statsd_count(s, "frontend.response_total",
		     statsd_counter_delta(&m->responses, st->requests), NULL);
	statsd_count(s, "frontend.response_fail",
		     statsd_counter_delta(&m->send_errors, rs.send_errors), NULL);
	statsd_count(s, "lookup.total", d_found + d_miss, NULL);
	statsd_count(s, "lookup.found", d_found, NULL);
	statsd_count(s, "lookup.miss", d_miss, NULL);
	statsd_count(s, "lookup.db_error", statsd_counter_delta(&m->db_errors, st->db_errors),
		     NULL);
	if (h->count) {
		for (size_t i = 0; i < ARRAY_SIZE(qs); i++) {
			statsd_tags_init(&t);
			statsd_tags_add(&t, "quantile", qs[i].tag);
			statsd_gauge(s, "frontend.request_duration",
				     (int64_t)hist_quantile(h, qs[i].q), &t);
		}
		statsd_tags_init(&t);
		statsd_tags_add(&t, "quantile", "mean");
		statsd_gauge(s, "frontend.request_duration", (int64_t)hist_mean(h), &t);
	}
	hist_reset(&ipl->svc.latency);
	for (int k = 0; k < IPLOC_DB__COUNT; k++) {
		const struct iploc_db *db = ipl->svc.db[k];
		uint64_t epoch;
		if (!db)
			continue;
		epoch = db->mmdb.metadata.build_epoch;
		statsd_tags_init(&t);
		statsd_tags_add(&t, "db", iploc_db_kind_name((enum iploc_db_kind)k));
		statsd_gauge(s, "db.node_count", db->mmdb.metadata.node_count, &t);
		statsd_gauge(s, "db.build_epoch", (int64_t)epoch, &t);
		statsd_gauge(s, "db.age", now_s > epoch ? (int64_t)(now_s - epoch) : 0, &t);
		statsd_count(s, "db.reload_total",
			     statsd_counter_delta(&m->reloads[k], ipl->watch[k].reloads), &t);
		statsd_count(s, "db.reload_failed",
			     statsd_counter_delta(&m->failures[k], ipl->watch[k].failures), &t);
	}
}
