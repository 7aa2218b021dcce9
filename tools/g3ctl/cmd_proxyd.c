/* proxyd's commands: list KIND, server NAME status. */
#include "tools/g3ctl/g3ctl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- list ------------------------------------------------------------------ */

static const char *const list_kinds[][2] = {
	/* accepted word, kind sent */
	{"servers", "servers"},		{"server", "servers"},	       {"escapers", "escapers"},
	{"escaper", "escapers"},	{"resolvers", "resolvers"},    {"resolver", "resolvers"},
	{"user-groups", "user-groups"}, {"user-group", "user-groups"}, {"auditors", "auditors"},
	{"auditor", "auditors"},
};

static int list_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Control__ProxydListReq body = G3C__CONTROL__PROXYD_LIST_REQ__INIT;

	(void)g;
	if (argc != 2) {
		fprintf(stderr,
			"g3ctl: usage: list servers|escapers|resolvers|user-groups|auditors\n");
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(list_kinds) / sizeof(list_kinds[0]); i++)
		if (strcmp(argv[1], list_kinds[i][0]) == 0) {
			body.kind = (char *)list_kinds[i][1];
			req->body_case = G3C__CONTROL__REQUEST__BODY_PROXYD_LIST;
			req->proxyd_list = &body;
			return 0;
		}
	fprintf(stderr,
		"g3ctl: list: unknown kind '%s' (servers, escapers, resolvers, user-groups, "
		"auditors)\n",
		argv[1]);
	return -EINVAL;
}

static int list_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	const G3c__Control__ProxydListRep *r = rep->proxyd_list;

	if (rep->body_case != G3C__CONTROL__REPLY__BODY_PROXYD_LIST || !r)
		return -EBADMSG;
	out_begin_list(g->out, "names");
	for (size_t i = 0; i < r->n_names; i++)
		out_str(g->out, NULL, r->names[i] ? r->names[i] : "");
	out_end(g->out);
	return 0;
}

/* ---- server NAME status ----------------------------------------------------- */

static int server_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Control__ProxydServerStatusReq body =
		G3C__CONTROL__PROXYD_SERVER_STATUS_REQ__INIT;

	(void)g;
	if (argc != 3 || strcmp(argv[2], "status") != 0) {
		fprintf(stderr, "g3ctl: usage: server NAME status\n");
		return -EINVAL;
	}
	body.name = argv[1];
	req->body_case = G3C__CONTROL__REQUEST__BODY_PROXYD_SERVER_STATUS;
	req->proxyd_server_status = &body;
	return 0;
}

static int server_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	const G3c__Control__ProxydServerStatusRep *r = rep->proxyd_server_status;

	if (rep->body_case != G3C__CONTROL__REPLY__BODY_PROXYD_SERVER_STATUS || !r)
		return -EBADMSG;
	out_str(g->out, "name", r->name);
	out_bool(g->out, "online", r->online);
	out_u64(g->out, "alive_tasks", r->alive_tasks);
	out_u64(g->out, "total_connections", r->total_connections);
	out_u64(g->out, "total_tasks", r->total_tasks);
	return 0;
}

/* ---- resolver NAME query HOST [--strategy S] ------------------------------------ */

static int resolver_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Control__ProxydResolverQueryReq body =
		G3C__CONTROL__PROXYD_RESOLVER_QUERY_REQ__INIT;

	(void)g;
	if (argc == 6 && (strcmp(argv[4], "--strategy") == 0 || strcmp(argv[4], "-s") == 0)) {
		if (strcmp(argv[5], "ipv4first") != 0 && strcmp(argv[5], "ipv6first") != 0 &&
		    strcmp(argv[5], "ipv4only") != 0 && strcmp(argv[5], "ipv6only") != 0) {
			fprintf(stderr,
				"g3ctl: resolver: unknown strategy '%s' (ipv4first, "
				"ipv6first, ipv4only, ipv6only)\n",
				argv[5]);
			return -EINVAL;
		}
		body.strategy = argv[5];
	} else if (argc != 4)
		goto usage;
	if (strcmp(argv[2], "query") != 0 || argv[3][0] == '\0')
		goto usage;
	body.resolver = argv[1];
	body.host = argv[3];
	req->body_case = G3C__CONTROL__REQUEST__BODY_PROXYD_RESOLVER_QUERY;
	req->proxyd_resolver_query = &body;
	return 0;
usage:
	fprintf(stderr, "g3ctl: usage: resolver NAME query HOST "
			"[--strategy ipv4first|ipv6first|ipv4only|ipv6only]\n");
	return -EINVAL;
}

static int resolver_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	const G3c__Control__ProxydResolverQueryRep *r = rep->proxyd_resolver_query;

	if (rep->body_case != G3C__CONTROL__REPLY__BODY_PROXYD_RESOLVER_QUERY || !r)
		return -EBADMSG;
	out_begin_list(g->out, "addrs");
	for (size_t i = 0; i < r->n_addrs; i++)
		out_str(g->out, NULL, r->addrs[i] ? r->addrs[i] : "");
	out_end(g->out);
	return 0;
}

const struct g3ctl_cmd g3ctl_proxyd_cmds[] = {
	{"proxyd", "list", "servers|escapers|resolvers|user-groups|auditors",
	 "names of the configured objects of a kind, in load order", list_build, list_show},
	{"proxyd", "server", "NAME status",
	 "a server's online flag, alive tasks, total connections and tasks", server_build,
	 server_show},
	{"proxyd", "resolver", "NAME query HOST [--strategy ipv4first|ipv6first|ipv4only|ipv6only]",
	 "resolve HOST through that resolver on a worker (addresses in preference order)",
	 resolver_build, resolver_show},
	{NULL, NULL, NULL, NULL, NULL, NULL},
};
