/* The command tables g3ctl knows: the common one, then one per daemon.
 * A daemon's commands live in cmd_<daemon>.c; add its table here. */
#include "tools/g3ctl/g3ctl.h"

extern const struct g3ctl_cmd g3ctl_fcgend_cmds[];
extern const struct g3ctl_cmd g3ctl_iplocd_cmds[];
extern const struct g3ctl_cmd g3ctl_proxyd_cmds[];

const struct g3ctl_cmd *const g3ctl_cmd_tables[] = {
	g3ctl_cmds, g3ctl_fcgend_cmds, g3ctl_iplocd_cmds, g3ctl_proxyd_cmds, NULL,
};
