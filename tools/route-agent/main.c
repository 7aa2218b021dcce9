/* route-agent: a tiny example agent for proxyd's route_query escaper.
 *
 *   route-agent CONFIG    serve until SIGINT / SIGTERM
 *   route-agent -t CONFIG check the config and exit
 *
 * Each query is answered from the host table of CONFIG (agent.h); one
 * line per query goes to stderr with -v. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <ev.h>

#include "common/log.h"
#include "tools/route-agent/agent.h"

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static int usage(void)
{
	fprintf(stderr, "usage: route-agent [-t] CONFIG\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct conf_ctx ctx;
	const struct conf_node *root = NULL;
	struct agent a = {0};
	struct rpc_server *srv;
	struct ev_loop *loop;
	ev_signal sint, sterm;
	bool check = false;
	const char *path;
	int err = 0, rc;

	if (argc == 3 && strcmp(argv[1], "-t") == 0) {
		check = true;
		path = argv[2];
	} else if (argc == 2 && argv[1][0] != '-') {
		path = argv[1];
	} else {
		return usage();
	}
	signal(SIGPIPE, SIG_IGN);
	conf_ctx_init(&ctx, path);
	rc = conf_load_main(&ctx, path, "route-agent", &root);
	if (rc == 0)
		rc = agent_load(&ctx, root, &a);
	if (rc < 0) {
		conf_print_errors(&ctx);
		conf_ctx_fini(&ctx);
		return 1;
	}
	if (check) {
		printf("%s: configuration OK (%zu routes)\n", path, a.n_routes);
		conf_ctx_fini(&ctx);
		return 0;
	}
	loop = ev_default_loop(0);
	srv = rpc_server_new(loop, a.listen, &route_agent_service, agent_handle, &a, &err);
	if (srv == NULL) {
		fprintf(stderr, "route-agent: cannot listen on %s: %s\n", a.listen, strerror(-err));
		conf_ctx_fini(&ctx);
		return 1;
	}
	ev_signal_init(&sint, on_signal, SIGINT);
	ev_signal_init(&sterm, on_signal, SIGTERM);
	ev_signal_start(loop, &sint);
	ev_signal_start(loop, &sterm);
	fprintf(stderr, "route-agent: serving %zu routes on %s\n", a.n_routes, a.listen);
	ev_run(loop, 0);
	fprintf(stderr, "route-agent: %llu queries answered\n", (unsigned long long)a.queries);
	rpc_server_free(srv);
	ev_signal_stop(loop, &sint);
	ev_signal_stop(loop, &sterm);
	ev_loop_destroy(loop);
	conf_ctx_fini(&ctx);
	return 0;
}
