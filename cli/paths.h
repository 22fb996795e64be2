/* SPDX-License-Identifier: Apache-2.0 */
/* paths.h: where naos-node keeps its run directory and control socket.
 * The node and the CLI share this rule so they always meet:
 *
 *   $NAOS_RUN_DIR                      when set and not empty, else
 *   $XDG_RUNTIME_DIR/naos              when XDG_RUNTIME_DIR is set, else
 *   /run/naos                          for root (sudo, cron, systemd), else
 *   /tmp/naos-$UID
 *
 * The control socket is ipc://RUN_DIR/ctl.sock. Before the CLI sends a
 * byte there, naos_ctl_check makes sure the directory and the socket are
 * its own (or root's): the default /tmp/naos-$UID is anybody's to create
 * first (node/base/safedir.h). No dependencies beyond libc and node/base
 * (err.h, safedir.h). */
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

/* naos_ctl_check decides whether the CLI may send anything to the node at
 * url (borrowed; ipc://PATH or unix://PATH, as --node, NAOS_CTL or the run
 * directory give it). PATH's directory must pass safedir_check for our
 * effective uid or root (owned by one of them, not writable by group or
 * others), and PATH, if it exists, must be a unix socket of ours or root's
 * that others cannot write to. Otherwise another local user may have bound
 * it to read what we send (specs, --env secrets) and forge the replies.
 * A missing directory or socket (or a file that is not a socket) passes:
 * the dial then fails as "not running". A link is refused. Other
 * schemes (tcp://, abstract://) have no file to check and pass.
 * Returns NAOS_OK, or NAOS_EAUTH with errbuf (caller buffer + length)
 * saying what is wrong and what to do; errors examining the files are
 * NAOS_EAUTH too (nothing is sent to what cannot be checked). */
int naos_ctl_check(const char *url, char *errbuf, size_t errlen);

#endif
