/* The command tables g3ctl knows: the common one, then one per daemon.
 * A daemon's commands live in cmd_<daemon>.c; add its table here. */
#include "tools/g3ctl/g3ctl.h"

const struct g3ctl_cmd *const g3ctl_cmd_tables[] = {
	g3ctl_cmds,
	NULL,
};
