/* proxyd's commands: list KIND, server NAME status, resolver NAME query,
 * user-group NAME list-users|publish-user FILE|status,
 * escaper NAME publish|show. */
#include "tools/g3ctl/g3ctl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- user-group NAME list-users | publish-user FILE | status ------------------- */

/* The publish-user file (read once; g3ctl exits after one request). */
static char *publish_text;

static int read_all(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL)
		return -errno;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = (len + 4096 + 1) * 2;
			char *nb = realloc(buf, cap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return -ENOMEM;
			}
			buf = nb;
		}
		size_t r = fread(buf + len, 1, cap - len - 1, f);
		len += r;
		if (r == 0)
			break;
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		return -EIO;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

static int user_group_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Control__ProxydUserGroupUsersReq users =
		G3C__CONTROL__PROXYD_USER_GROUP_USERS_REQ__INIT;
	static G3c__Control__ProxydUserGroupPublishReq pub =
		G3C__CONTROL__PROXYD_USER_GROUP_PUBLISH_REQ__INIT;
	static G3c__Control__ProxydUserGroupStatusReq st =
		G3C__CONTROL__PROXYD_USER_GROUP_STATUS_REQ__INIT;

	(void)g;
	if (argc == 3 && strcmp(argv[2], "list-users") == 0) {
		users.group = argv[1];
		req->body_case = G3C__CONTROL__REQUEST__BODY_PROXYD_USER_GROUP_USERS;
		req->proxyd_user_group_users = &users;
		return 0;
	}
	if (argc == 3 && strcmp(argv[2], "status") == 0) {
		st.group = argv[1];
		req->body_case = G3C__CONTROL__REQUEST__BODY_PROXYD_USER_GROUP_STATUS;
		req->proxyd_user_group_status = &st;
		return 0;
	}
	if (argc == 4 && strcmp(argv[2], "publish-user") == 0) {
		int rc;
		free(publish_text);
		publish_text = NULL;
		rc = read_all(argv[3], &publish_text);
		if (rc != 0) {
			fprintf(stderr, "g3ctl: publish-user: %s: %s\n", argv[3], strerror(-rc));
			return rc;
		}
		pub.group = argv[1];
		pub.json = publish_text;
		req->body_case = G3C__CONTROL__REQUEST__BODY_PROXYD_USER_GROUP_PUBLISH;
		req->proxyd_user_group_publish = &pub;
		return 0;
	}
	fprintf(stderr, "g3ctl: usage: user-group NAME list-users|publish-user FILE|status\n");
	return -EINVAL;
}

static int user_group_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	switch (rep->body_case) {
	case G3C__CONTROL__REPLY__BODY_PROXYD_USER_GROUP_USERS: {
		const G3c__Control__ProxydUserGroupUsersRep *r = rep->proxyd_user_group_users;
		if (r == NULL)
			return -EBADMSG;
		out_begin_list(g->out, "users");
		for (size_t i = 0; i < r->n_users; i++) {
			const G3c__Control__ProxydUser *u = r->users[i];
			out_begin_object(g->out, NULL);
			out_str(g->out, "name", u->name ? u->name : "");
			out_bool(g->out, "dynamic", u->dynamic);
			out_bool(g->out, "blocked", u->blocked);
			if (u->expire != 0)
				out_time_us(g->out, "expire", (uint64_t)u->expire * 1000000u);
			out_end(g->out);
		}
		out_end(g->out);
		return 0;
	}
	case G3C__CONTROL__REPLY__BODY_PROXYD_USER_GROUP_PUBLISH:
		if (rep->proxyd_user_group_publish == NULL)
			return -EBADMSG;
		out_u64(g->out, "published", rep->proxyd_user_group_publish->published);
		return 0;
	case G3C__CONTROL__REPLY__BODY_PROXYD_USER_GROUP_STATUS: {
		const G3c__Control__ProxydUserGroupStatusRep *r = rep->proxyd_user_group_status;
		if (r == NULL)
			return -EBADMSG;
		out_str(g->out, "name", r->name ? r->name : "");
		out_str(g->out, "source", r->source && r->source[0] ? r->source : "none");
		out_u64(g->out, "users", r->users);
		out_u64(g->out, "dynamic_users", r->dynamic_users);
		out_u64(g->out, "source_loads", r->source_loads);
		out_u64(g->out, "source_errors", r->source_errors);
		out_u64(g->out, "skipped_users", r->skipped_users);
		return 0;
	}
	default:
		return -EBADMSG;
	}
}

/* ---- escaper NAME publish JSON | escaper NAME show ---------------------------------- */

static int escaper_build(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req)
{
	static G3c__Control__ProxydEscaperPublishReq pub =
		G3C__CONTROL__PROXYD_ESCAPER_PUBLISH_REQ__INIT;
	static G3c__Control__ProxydEscaperShowReq show =
		G3C__CONTROL__PROXYD_ESCAPER_SHOW_REQ__INIT;

	(void)g;
	if (argc == 4 && strcmp(argv[2], "publish") == 0) {
		pub.escaper = argv[1];
		pub.data = argv[3];
		req->body_case = G3C__CONTROL__REQUEST__BODY_PROXYD_ESCAPER_PUBLISH;
		req->proxyd_escaper_publish = &pub;
		return 0;
	}
	if (argc == 3 && strcmp(argv[2], "show") == 0) {
		show.escaper = argv[1];
		req->body_case = G3C__CONTROL__REQUEST__BODY_PROXYD_ESCAPER_SHOW;
		req->proxyd_escaper_show = &show;
		return 0;
	}
	fprintf(stderr, "g3ctl: usage: escaper NAME publish JSON | escaper NAME show\n");
	return -EINVAL;
}

static int escaper_show(struct g3ctl *g, const G3c__Control__Reply *rep)
{
	if (rep->body_case == G3C__CONTROL__REPLY__BODY_PROXYD_ESCAPER_PUBLISH &&
	    rep->proxyd_escaper_publish) {
		out_u64(g->out, "peers", rep->proxyd_escaper_publish->peers);
		return 0;
	}
	if (rep->body_case == G3C__CONTROL__REPLY__BODY_PROXYD_ESCAPER_SHOW &&
	    rep->proxyd_escaper_show) {
		out_str(g->out, "peers", rep->proxyd_escaper_show->data);
		return 0;
	}
	return -EBADMSG;
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
	{"proxyd", "user-group", "NAME list-users|publish-user FILE|status",
	 "a user group's users (sorted), publish dynamic users from a JSON file until the "
	 "next source refresh, or the source's load and error counts",
	 user_group_build, user_group_show},
	{"proxyd", "escaper", "NAME publish JSON | NAME show",
	 "replace a proxy_float escaper's peers (a JSON peer or array), or show them as "
	 "JSON",
	 escaper_build, escaper_show},
	{NULL, NULL, NULL, NULL, NULL, NULL},
};
