/* iplocd's commands: lookup (one or more addresses) and databases. */
#include "tools/g3ctl/g3ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define LOOKUP_MAX 1024 /* iplocd's batch limit */

/* ---- lookup -------------------------------------------------------------- */

static int lookup_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Iploc__LookupReq body = G3C__IPLOC__LOOKUP_REQ__INIT;

	(void)g;
	if (argc < 2) {
		fprintf(stderr, "g3ctl: lookup needs at least one IP address\n");
		return -EINVAL;
	}
	if (argc - 1 > LOOKUP_MAX) {
		fprintf(stderr, "g3ctl: lookup takes at most %d addresses\n", LOOKUP_MAX);
		return -EINVAL;
	}
	body.n_ips = (size_t)(argc - 1);
	body.ips = argv + 1;
	req->body_case = G3C__CONTROL__REQUEST__BODY_IPLOC_LOOKUP;
	req->iploc_lookup = &body;
	return 0;
}

/* Humans see the fields an answer has; JSON always has every key. */
static void opt_str(struct g3ctl *g, const char *key, const char *v)
{
	if (g->json || (v && v[0]))
		out_str(g->out, key, v);
}

static void show_location(struct g3ctl *g, const G3c__Iploc__Location *l)
{
	out_str(g->out, "ip", l->ip);
	out_str(g->out, "network", l->network);
	out_bool(g->out, "found", l->found);
	opt_str(g, "country", l->country);
	opt_str(g, "continent", l->continent);
	if (g->json || l->asn)
		out_u64(g->out, "asn", l->asn);
	opt_str(g, "as_org", l->as_org);
	opt_str(g, "isp_name", l->isp_name);
	opt_str(g, "isp_domain", l->isp_domain);
	out_u64(g->out, "ttl", l->ttl);
}

static int lookup_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	const G3c__Iploc__LookupRep *r = rep->iploc_lookup;

	if (rep->body_case != G3C__CONTROL__REPLY__BODY_IPLOC_LOOKUP || !r || r->n_answers == 0)
		return -EBADMSG;
	for (size_t i = 0; i < r->n_answers; i++)
		if (!r->answers[i])
			return -EBADMSG;
	/* One address: its fields at the top; several: a list in request order. */
	if (r->n_answers == 1) {
		show_location(g, r->answers[0]);
		return 0;
	}
	out_begin_list(g->out, "answers");
	for (size_t i = 0; i < r->n_answers; i++) {
		out_begin_object(g->out, NULL);
		show_location(g, r->answers[i]);
		out_end(g->out);
	}
	out_end(g->out);
	return 0;
}

/* ---- databases ----------------------------------------------------------- */

static int databases_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Iploc__DatabasesReq body = G3C__IPLOC__DATABASES_REQ__INIT;

	(void)g;
	if (argc > 1) {
		fprintf(stderr, "g3ctl: %s takes no arguments (got '%s')\n", argv[0], argv[1]);
		return -EINVAL;
	}
	req->body_case = G3C__CONTROL__REQUEST__BODY_IPLOC_DATABASES;
	req->iploc_databases = &body;
	return 0;
}

static void show_db(struct g3ctl *g, const G3c__Iploc__Database *d)
{
	out_str(g->out, "kind", d->kind);
	out_str(g->out, "path", d->path);
	out_str(g->out, "type", d->database_type);
	out_time_us(g->out, "built_at", d->build_epoch * 1000000u);
	out_u64(g->out, "nodes", d->node_count);
	out_u64(g->out, "records", d->data_records);
	out_u64(g->out, "ip_version", d->ip_version);
	out_u64(g->out, "record_size", d->record_size);
	out_u64(g->out, "file_size", d->file_size);
	out_time_us(g->out, "loaded_at", d->loaded_us);
	out_dur_ms(g->out, "load_time", d->load_ms);
	opt_str(g, "description", d->description);
	out_u64(g->out, "reloads", d->reloads);
	out_u64(g->out, "reload_failures", d->reload_failures);
	opt_str(g, "last_error", d->last_error);
}

static int databases_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	const G3c__Iploc__DatabasesRep *r = rep->iploc_databases;

	if (rep->body_case != G3C__CONTROL__REPLY__BODY_IPLOC_DATABASES || !r)
		return -EBADMSG;
	out_str(g->out, "rpc_listen", r->rpc_listen);
	out_u64(g->out, "ttl", r->ttl);
	out_u64(g->out, "miss_ttl", r->miss_ttl);
	out_dur_ms(g->out, "check_interval", r->check_interval_ms);
	out_begin_list(g->out, "databases");
	for (size_t i = 0; i < r->n_databases; i++) {
		if (!r->databases[i])
			continue;
		out_begin_object(g->out, NULL);
		show_db(g, r->databases[i]);
		out_end(g->out);
	}
	out_end(g->out);
	return 0;
}

const struct g3ctl_cmd g3ctl_iplocd_cmds[] = {
	{"iplocd", "lookup", "IP [IP...]",
	 "network, country, continent, ASN and ISP of addresses (--json for scripts)", lookup_build,
	 lookup_show},
	{"iplocd", "databases", "",
	 "loaded .mmdb files: type, build date, node and record counts, reloads", databases_build,
	 databases_show},
	{NULL, NULL, NULL, NULL, NULL, NULL},
};
