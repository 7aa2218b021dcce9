/* iplocd's members of the control socket (proto/control.proto 120..139):
 * lookups for `g3ctl -d iplocd lookup` and the loaded databases for
 * `g3ctl -d iplocd databases`. */
#include "iplocd/runtime.h"

#include <string.h>

#include "proto/control.pb-c.h"

static const char *description_of(const MMDB_metadata_s *md)
{
	for (size_t i = 0; i < md->description.count; i++) {
		const MMDB_description_s *d = md->description.descriptions[i];
		if (d && d->language && strcmp(d->language, "en") == 0 && d->description)
			return d->description;
	}
	if (md->description.count && md->description.descriptions[0] &&
	    md->description.descriptions[0]->description)
		return md->description.descriptions[0]->description;
	return "";
}

static G3c__Iploc__Database *db_entry(struct iplocd *ipl, enum iploc_db_kind k, struct rpc_arena *a)
{
	const struct iploc_db *db = ipl->svc.db[k];
	const MMDB_metadata_s *md = &db->mmdb.metadata;
	G3c__Iploc__Database *e = rpc_arena_alloc(a, sizeof(*e));

	g3c__iploc__database__init(e);
	e->kind = rpc_arena_strdup(a, iploc_db_kind_name(k));
	e->path = rpc_arena_strdup(a, db->path);
	e->database_type = rpc_arena_strdup(a, md->database_type ? md->database_type : "");
	e->build_epoch = md->build_epoch;
	e->node_count = md->node_count;
	e->data_records = db->info.data_records;
	e->ip_version = md->ip_version;
	e->record_size = md->record_size;
	e->file_size = (uint64_t)db->id.size;
	e->loaded_us = db->loaded_us;
	e->load_ms = db->load_ns / 1000000u;
	e->description = rpc_arena_strdup(a, description_of(md));
	e->reloads = ipl->watch[k].reloads;
	e->reload_failures = ipl->watch[k].failures;
	e->last_error = rpc_arena_strdup(a, ipl->watch[k].last_error);
	return e;
}

static enum rpc_code ctl_databases(struct iplocd *ipl, G3c__Control__Reply *rep,
				   struct rpc_arena *a)
{
	G3c__Iploc__DatabasesRep *r = rpc_arena_alloc(a, sizeof(*r));
	size_t n = 0;

	g3c__iploc__databases_rep__init(r);
	r->databases = rpc_arena_alloc(a, IPLOC_DB__COUNT * sizeof(G3c__Iploc__Database *));
	for (int k = 0; k < IPLOC_DB__COUNT; k++)
		if (ipl->svc.db[k])
			r->databases[n++] = db_entry(ipl, (enum iploc_db_kind)k, a);
	r->n_databases = n;
	r->ttl = ipl->svc.ttl;
	r->miss_ttl = ipl->svc.miss_ttl;
	r->check_interval_ms = ipl->conf->check_interval_ms;
	r->rpc_listen = rpc_arena_strdup(a, ipl->rpc ? ipl->rpc_url : "");
	rep->body_case = G3C__CONTROL__REPLY__BODY_IPLOC_DATABASES;
	rep->iploc_databases = r;
	return RPC_OK;
}

enum rpc_code iplocd_ctl_handle(void *ctx, const ProtobufCMessage *req_, ProtobufCMessage *rep_,
				struct rpc_arena *a)
{
	const G3c__Control__Request *req = (const G3c__Control__Request *)req_;
	G3c__Control__Reply *rep = (G3c__Control__Reply *)rep_;
	struct iplocd *ipl = daemon_user(ctx);
	G3c__Iploc__LookupRep *lr;
	enum rpc_code code;

	if (!ipl) {
		rpc_arena_set_error(a, "iplocd is not serving yet");
		return RPC_UNAVAILABLE;
	}
	CHECK_OBJ(ipl, IPLOCD_MAGIC);
	switch (req->body_case) {
	case G3C__CONTROL__REQUEST__BODY_IPLOC_LOOKUP:
		lr = rpc_arena_alloc(a, sizeof(*lr));
		g3c__iploc__lookup_rep__init(lr);
		code = iploc_service_lookup(&ipl->svc, req->iploc_lookup, lr, a, NULL, NULL);
		if (code == RPC_OK) {
			rep->body_case = G3C__CONTROL__REPLY__BODY_IPLOC_LOOKUP;
			rep->iploc_lookup = lr;
		}
		return code;
	case G3C__CONTROL__REQUEST__BODY_IPLOC_DATABASES:
		return ctl_databases(ipl, rep, a);
	default:
		rpc_arena_set_error(a, "iplocd does not answer this request");
		return RPC_UNIMPLEMENTED;
	}
}
