/* SPDX-License-Identifier: Apache-2.0 */
/* start_bound.h: what `naos apply` and `naos deploy` print after a
 * deployment was accepted: the node's confirmation and the most starts one
 * failing worker can cause before the deployment fails
 * (node/spec/spec_bound.h), with a warning over SPEC_BOUND_WARN_STARTS
 * that names the supervisors to tighten. */
#ifndef NAOS_CLI_START_BOUND_H
#define NAOS_CLI_START_BOUND_H

#include "cli/cli.h"
#include "node/spec/spec.h"

/* cli_print_deployed prints the confirmation of reply r (fallback when it
 * has none) and the figure for spec (borrowed). Human output: the message,
 * then "NAME: one failing worker (PATH) can be started up to N times
 * before NAME fails (A 5+1 x B 5+1)", and "naos: warning: ..." on stderr
 * over the threshold. --json: one object {"message", "max_starts",
 * "max_starts_worker", "max_starts_limits": [{"supervisor",
 * "max_restarts"}...], "warning" (only over the threshold)}. */
void cli_print_deployed(const struct cli *c, const Naos__V1__Reply *r,
                        const char *fallback, const struct spec_node *spec);

#endif
