/* SPDX-License-Identifier: Apache-2.0 */
/* placement.h: where the leader places a new deployment (issue 11, "What
 * users see"). Pure: the node hands it the candidates as it knows them
 * (the voters of the log, whether membership sees each alive, how many
 * deployments the applied state and the leader's own picks in flight put
 * on each, its gossiped load) and the deployment's constraint; it names
 * the node, or says why none will do. Replicas never pick: the leader's
 * pick is committed in the deploy entry.
 *
 * Rule: a deployment that requires labels (`--require KEY=VALUE`,
 * `placement: {require: {KEY: VALUE}}`) is eligible only for a node that
 * has every one of them with the same value (node/spec/label.h); a
 * deployment pinned with `on` goes to the live node of that name, which
 * must have them too, or is refused naming the label it lacks. Otherwise
 * among the eligible nodes the live candidate with the fewest deployments
 * (applied + picked since), then the lowest load, then the lowest id (so
 * equal candidates are picked the same way every time). Counting
 * deployments rather than gossiped agent counts: the count is exact and
 * current on the leader, where health lags a second behind every pick. */
#ifndef NAOS_CMD_PLACEMENT_H
#define NAOS_CMD_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/spec/label.h"

struct placement_candidate {
    uint64_t id;
    const char *name;     /* as membership knows it; NULL: unknown */
    bool alive;           /* this node, or alive (not suspect) to it */
    uint32_t deployments; /* placed on it, applied or picked in flight */
    uint32_t load_centi;  /* 1-minute load * 100, gossiped */
    const struct spec_label *labels; /* its --label KEY=VALUE (this node:
                                      * its options; others: their last
                                      * health), nlabels of them */
    size_t nlabels;
    bool drained;         /* `naos drain`: it takes no placement */
};

/* placement_pick returns the index in c[0..n) of the node to place a
 * deployment on (on: a node name, or NULL/"" for any; require[0..nreq):
 * labels the node must have, NULL/0 for none), or -1 with a sentence in
 * err (caller buffer + length; truncated to fit) naming the constraint,
 * the live nodes (with their labels when labels are required) and that
 * nothing changed. Everything is borrowed for the call. */
int placement_pick(const struct placement_candidate *c, size_t n,
                   const char *on, const struct spec_label *require,
                   size_t nreq, char *err, size_t errlen);

#endif
