/* g3ctl option parsing, the call, and exit statuses. */
#include "tools/g3ctl/g3ctl.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/daemon.h"
#include "common/rpc.h"

static const struct rpc_service control_service = {
	.name = "g3c.control",
	.req = &g3c__control__request__descriptor,
	.rep = &g3c__control__reply__descriptor,
};

static const struct option long_opts[] = {
	{"daemon", required_argument, NULL, 'd'},
	{"group-name", required_argument, NULL, 'G'},
	{"control-dir", required_argument, NULL, 'C'},
	{"json", no_argument, NULL, 'j'},
	{"timeout", required_argument, NULL, 't'},
	{"help", no_argument, NULL, 'h'},
	{"pid", required_argument, NULL, 'p'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: g3ctl -d DAEMON [-G GROUP] [-p PID] [-C DIR] [--json] [--timeout MS] "
		"COMMAND [ARGS]\n"
		"  -d, --daemon NAME       daemon to talk to (proxyd, fcgend, iplocd, ...)\n"
		"  -G, --group-name GROUP  its group (-G it was started with)\n"
		"  -p, --pid PID           that process (its own socket), not the live one;\n"
		"                          during a hot upgrade both old and new answer\n"
		"  -C, --control-dir DIR   control socket directory (default "
		"$G3C_CONTROL_DIR or %s)\n"
		"      --json              print the answer as one JSON object\n"
		"      --timeout MS        give up after MS milliseconds (default %u)\n"
		"  -h, --help              this help;  -V, --version  g3ctl's version\n"
		"Commands:\n",
		DAEMON_DEFAULT_CONTROL_DIR, G3CTL_DEFAULT_TIMEOUT_MS);
	for (const struct g3ctl_cmd *const *t = g3ctl_cmd_tables; *t; t++) {
		for (const struct g3ctl_cmd *c = *t; c->name; c++) {
			char head[64];
			snprintf(head, sizeof(head), "%s%s%s%s%s", c->daemon ? "[" : "",
				 c->daemon ? c->daemon : "", c->daemon ? "] " : "", c->name,
				 c->args[0] ? " " : "");
			fprintf(f, "  %-30s%s  %s\n", head, c->args, c->help);
		}
	}
	fprintf(f, "Exit status: 0 ok, 1 the daemon answered with an error, 2 usage error,\n"
		   "3 daemon unreachable (no socket, not answering within the timeout).\n");
}

static int usage_error(const char *fmt, ...) PRINTF_FMT(1, 2);
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("g3ctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'g3ctl --help'.\n", stderr);
	return G3CTL_EXIT_USAGE;
}

static bool name_ok(const char *s)
{
	return s[0] && !strchr(s, '/') && strlen(s) <= 64;
}

static int parse_timeout(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > 3600u * 1000u)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* The daemon's error: one line when it is one line, else a header and the
 * message (a reload's file:line:col errors, one per line). */
static void print_daemon_error(const struct g3ctl *g, const char *cmd, enum rpc_code code,
			       const char *msg)
{
	if (!msg || !msg[0])
		fprintf(stderr, "g3ctl: %s %s: %s\n", g->daemon, cmd, rpc_code_name(code));
	else if (!strchr(msg, '\n'))
		fprintf(stderr, "g3ctl: %s %s: %s (%s)\n", g->daemon, cmd, msg,
			rpc_code_name(code));
	else
		fprintf(stderr, "g3ctl: %s %s failed (%s):\n%s\n", g->daemon, cmd,
			rpc_code_name(code), msg);
	if (g->json) {
		printf("{\"error\":{\"code\":");
		out_json_string(stdout, rpc_code_name(code));
		printf(",\"message\":");
		out_json_string(stdout, msg ? msg : "");
		printf("}}\n");
		fflush(stdout);
	}
}

static int call(struct g3ctl *g, const struct g3ctl_cmd *cmd, G3c__Control__Request *req)
{
	char path[PATH_MAX], url[PATH_MAX + 8], errbuf[8192];
	ProtobufCMessage *repm = NULL;
	enum rpc_code code = RPC_OK;
	struct stat st;
	int ret, status;

	ret = g->pid ? daemon_control_path_pid(g->control_dir, g->daemon, g->group, g->pid, path,
					       sizeof(path))
		     : daemon_control_path(g->control_dir, g->daemon, g->group, path, sizeof(path));
	if (ret != 0) {
		fprintf(stderr, "g3ctl: control socket path for %s under %s is %s\n", g->daemon,
			g->control_dir, ret == -ENAMETOOLONG ? "too long" : "invalid");
		return G3CTL_EXIT_USAGE;
	}
	/* nanomsg would wait for a missing socket until the deadline. */
	if (stat(path, &st) != 0) {
		fprintf(stderr, "g3ctl: %s is not running: no control socket %s (%s)\n", g->daemon,
			path, strerror(errno));
		return G3CTL_EXIT_UNREACHABLE;
	}
	snprintf(url, sizeof(url), "ipc://%s", path);
	errbuf[0] = '\0';
	ret = rpc_call_sync(url, &control_service, &req->base, g->timeout_ms, &repm, &code, errbuf,
			    sizeof(errbuf));
	if (ret == -ETIMEDOUT) {
		fprintf(stderr, "g3ctl: %s did not answer within %u ms (%s)\n", g->daemon,
			g->timeout_ms, path);
		return G3CTL_EXIT_UNREACHABLE;
	}
	if (ret == -ECONNREFUSED || ret == -ENOENT) {
		fprintf(stderr, "g3ctl: %s is not running: nobody listens on %s\n", g->daemon,
			path);
		return G3CTL_EXIT_UNREACHABLE;
	}
	if (ret != 0) {
		fprintf(stderr, "g3ctl: cannot reach %s at %s: %s\n", g->daemon, path,
			strerror(-ret));
		return G3CTL_EXIT_UNREACHABLE;
	}
	if (code != RPC_OK) {
		print_daemon_error(g, cmd->name, code, errbuf);
		status = G3CTL_EXIT_DAEMON_ERROR;
		goto out;
	}
	if (cmd->show(g, (const G3c__Control__Reply *)repm) != 0) {
		print_daemon_error(g, cmd->name, RPC_MALFORMED, "reply without the expected body");
		status = G3CTL_EXIT_DAEMON_ERROR;
		goto out;
	}
	out_flush(g->out, stdout);
	status = G3CTL_EXIT_OK;
out:
	protobuf_c_message_free_unpacked(repm, NULL);
	return status;
}

int g3ctl_main(int argc, char **argv)
{
	struct g3ctl g = {
		.group = "",
		.timeout_ms = G3CTL_DEFAULT_TIMEOUT_MS,
	};
	G3c__Control__Request req = G3C__CONTROL__REQUEST__INIT;
	const struct g3ctl_cmd *cmd;
	const char *env = getenv("G3C_CONTROL_DIR");
	int c, status;

	g.control_dir = env && env[0] ? env : DAEMON_DEFAULT_CONTROL_DIR;
	optind = 0;
	opterr = 0;
	/* '+': stop at the command, its arguments may start with '-'. */
	while ((c = getopt_long(argc, argv, "+:d:G:C:p:hV", long_opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			g.daemon = optarg;
			break;
		case 'G':
			g.group = optarg;
			break;
		case 'C':
			g.control_dir = optarg;
			break;
		case 'p': {
			char *end;
			errno = 0;
			g.pid = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || g.pid <= 0)
				return usage_error("bad --pid '%s'", optarg);
			break;
		}
		case 'j':
			g.json = true;
			break;
		case 't':
			if (parse_timeout(optarg, &g.timeout_ms) != 0)
				return usage_error("bad --timeout '%s' (milliseconds, 1..3600000)",
						   optarg);
			break;
		case 'h':
			usage(stdout);
			return G3CTL_EXIT_OK;
		case 'V':
			printf("g3ctl %s\n", G3C_VERSION);
			return G3CTL_EXIT_OK;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (!g.daemon)
		return usage_error("%s", "which daemon? (-d NAME)");
	if (!name_ok(g.daemon))
		return usage_error("bad daemon name '%s'", g.daemon);
	if (g.group[0] && !name_ok(g.group))
		return usage_error("bad group name '%s'", g.group);
	if (!g.control_dir[0])
		return usage_error("%s", "empty control directory (-C)");
	if (optind >= argc)
		return usage_error("%s", "no command (try status, version, reload, offline)");
	cmd = g3ctl_find_cmd(g.daemon, argv[optind]);
	if (!cmd)
		return usage_error("unknown command '%s' for %s", argv[optind], g.daemon);
	if (cmd->build(&g, argc - optind, argv + optind, &req) != 0) {
		fputs("Try 'g3ctl --help'.\n", stderr);
		return G3CTL_EXIT_USAGE;
	}
	g.out = out_new(g.json);
	status = call(&g, cmd, &req);
	out_free(g.out);
	return status;
}
