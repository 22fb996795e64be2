/* SPDX-License-Identifier: Apache-2.0 */
/* paths.h: where naos-node keeps its run directory and control socket.
 * The node and the CLI share this rule so they always meet:
 *
 *   $NAOS_RUN_DIR                      when set and not empty, else
 *   $XDG_RUNTIME_DIR/naos              when XDG_RUNTIME_DIR is set, else
 *   /tmp/naos-$UID
 *
 * The control socket is ipc://RUN_DIR/ctl.sock. No dependencies beyond libc
 * and node/base/err.h. */
#ifndef NAOS_CLI_PATHS_H
#define NAOS_CLI_PATHS_H

#include <stddef.h>

#define NAOS_CTL_SOCK_NAME "ctl.sock"

/* naos_default_run_dir writes the default run directory (rule above) into
 * buf (caller buffer + length). Reads the environment; thread-safe only if
 * nobody changes it meanwhile. Returns NAOS_OK, or NAOS_ETOOBIG when it
 * does not fit (buf then holds ""). */
int naos_default_run_dir(char *buf, size_t len);

/* naos_ctl_url writes "ipc://RUN_DIR/ctl.sock" for run_dir (borrowed) into
 * buf (caller buffer + length). Returns NAOS_OK, or NAOS_ETOOBIG (buf then
 * holds ""). */
int naos_ctl_url(const char *run_dir, char *buf, size_t len);

#endif
