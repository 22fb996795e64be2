/* SPDX-License-Identifier: Apache-2.0 */
/* deploy_wait.h: after `naos deploy` or `naos apply`, wait for the first
 * start of every worker, and roll back a deployment whose first start
 * failed.
 *
 * A worker's first run has started when it is running and, for ready:
 * exec, has stayed up DEPLOY_WAIT_SETTLE_MS (supervisord's startsecs: a
 * program that exec'd but ends at once, such as `python3 missing.py`,
 * has not started); for ready: notify, once READY=1 came. It has failed
 * when its start failed (missing program, missing directory, no READY=1
 * in time), or its first run ended before it was seen started (a
 * transient worker ending cleanly, or a temporary one, has simply
 * finished), or the deployment failed. A worker seen started is not
 * failed by a later end: restarting it is the supervisor's business, and
 * the wait goes on for the others. A worker stopped because a sibling
 * failed (one-for-all, rest-for-one: reason "shutdown" or "killed after
 * ...") is not the one blamed. */
#ifndef NAOS_CLI_DEPLOY_WAIT_H
#define NAOS_CLI_DEPLOY_WAIT_H

#include "cli/cli.h"
#include "node/spec/spec.h"

#define DEPLOY_WAIT_SETTLE_MS 1000
/* Progress goes to stderr every this long while waiting. */
#define DEPLOY_WAIT_PROGRESS_MS 3000

/* deploy_wait polls the status of deployment spec->id (spec borrowed: the
 * tree that was sent) until every worker's first run has started or one
 * has failed, within a bound (60 s, or twice the longest start_timeout of
 * a ready: notify worker plus 10 s when that is longer) counted from the
 * last time another worker was seen started, so a big pool that keeps
 * starting is waited for (at most 10,000 workers per deployment).
 * Returns 0 when all started. On a failed first start prints why (which
 * worker; a missing program told from a missing working directory, on
 * which node; a missing #! interpreter or script where the CLI can see
 * the files; the worker's last output), removes the deployment and waits
 * until it is gone, and returns 100. A deployment that failed after the
 * worker it names was seen started (its supervisor gave up on later runs)
 * stays deployed as failed: 100. Past the bound, or interrupted, leaves
 * the deployment as it is and returns 111. Messages go through cli_fatal,
 * cli_fatal_output and cli_info (JSON objects with --json). */
int deploy_wait(struct cli *c, const struct spec_node *spec);

#endif
