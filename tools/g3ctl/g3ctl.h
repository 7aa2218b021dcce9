/* g3ctl: the admin CLI for every daemon's control socket. A command is a
 * row in g3ctl_cmds: it fills the request body from its arguments and
 * renders a successful reply through struct out. Later commands (server
 * lists, user groups, lookups...) add rows and request members without
 * touching main.c. */
#ifndef G3C_TOOLS_G3CTL_G3CTL_H
#define G3C_TOOLS_G3CTL_G3CTL_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/control.pb-c.h"
#include "tools/g3ctl/out.h"

/* Exit statuses scripts can rely on. */
enum g3ctl_exit {
	G3CTL_EXIT_OK = 0,
	G3CTL_EXIT_DAEMON_ERROR = 1, /* the daemon answered with an error */
	G3CTL_EXIT_USAGE = 2,
	G3CTL_EXIT_UNREACHABLE = 3, /* no socket, nobody listening, deadline passed */
};

#define G3CTL_DEFAULT_TIMEOUT_MS 10000u

struct g3ctl {
	const char *daemon;	 /* -d: "proxyd" */
	const char *group;	 /* -G: "" when not given */
	const char *control_dir; /* -C, else $G3C_CONTROL_DIR, else /run/g3c */
	long pid;		 /* -p: that process's own socket; 0 = the shared one */
	bool json;
	uint32_t timeout_ms;
	struct out *out;
};

/* Fill req (initialised, body unset) from the command's arguments; argv[0]
 * is the command name. Sub-messages may be static or point into argv (they
 * are packed before the process exits). Returns 0, or -EINVAL after printing
 * what is wrong to stderr (exit 2). */
typedef int g3ctl_build_fn(struct g3ctl *g, int argc, char **argv, G3c__Control__Request *req);

/* Render a successful reply into g->out. Returns 0, or -EBADMSG when the
 * reply has the wrong body (printed as a daemon error). */
typedef int g3ctl_show_fn(struct g3ctl *g, const G3c__Control__Reply *rep);

struct g3ctl_cmd {
	const char *daemon; /* only for this daemon ("iplocd"); NULL: every daemon */
	const char *name;   /* first word on the command line */
	const char *args;   /* argument synopsis for --help, "" when none */
	const char *help;   /* one line */
	g3ctl_build_fn *build;
	g3ctl_show_fn *show;
};

/* The commands every daemon answers, ended by a row with name == NULL. */
extern const struct g3ctl_cmd g3ctl_cmds[];

/* Every command table (g3ctl_cmds first, then one per daemon, each in its
 * own cmd_<daemon>.c), ended by NULL. Listed in tables.c. */
extern const struct g3ctl_cmd *const g3ctl_cmd_tables[];

/* Command row for `daemon` by name, or NULL. */
const struct g3ctl_cmd *g3ctl_find_cmd(const char *daemon, const char *name);

/* Entry point with the exit status (main.c calls it; tests may too). */
int g3ctl_main(int argc, char **argv);

#endif
