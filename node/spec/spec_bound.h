/* SPDX-License-Identifier: Apache-2.0 */
/* spec_bound.h: how many times one failing worker can be started before
 * its deployment fails: nested intensities multiply (issue 14).
 *
 * OTP's arithmetic (../shared/OTP-SEMANTICS.md B2, B3): a supervisor with
 * max_restarts R runs a child that dies at once R + 1 times (the start and
 * R restarts; the (R+1)th exit is one too many) and then gives up. Its
 * parent, with max_restarts P, restarts it P times, each a fresh
 * supervisor with its intensity reset: the worker runs (R + 1) * (P + 1)
 * times, and so on up to the deployment's top, whose giving up fails the
 * deployment. A level multiplies only when the child is restarted there:
 * a temporary worker or supervisor is never restarted, and a transient
 * supervisor that gives up exits `shutdown` (clean), so its parent does
 * not restart it either; those levels count 1. Inner 5 and top 5 thus
 * give 36 starts: what issue 14 measured.
 *
 * The figure is an upper bound for one worker failing alone, with every
 * failure inside each window: siblings' failures share the intensity and
 * give up sooner, a ready=notify worker that fails before READY=1 fails
 * the (re)start of its supervisor rather than a run, and a window that
 * expires between failures forgets restarts. Pure: no I/O. */
#ifndef NAOS_SPEC_SPEC_BOUND_H
#define NAOS_SPEC_SPEC_BOUND_H

#include <stddef.h>
#include <stdint.h>

#include "node/spec/spec.h"

/* The warning threshold of `naos apply` and `naos deploy`. */
#define SPEC_BOUND_WARN_STARTS 20

/* struct spec_start_bound: the worst worker of a tree. */
struct spec_start_bound {
    /* Most starts of the worker (the first included), saturating at
     * UINT64_MAX. 0 when the tree has no worker. */
    uint64_t starts;
    /* The path from the root to the worker: nodes[0] is the root,
     * nodes[depth - 1] the worker. Borrowed from the spec tree: valid
     * while it is. */
    const struct spec_node *nodes[SPEC_MAX_DEPTH + 1];
    size_t depth;
    /* factor[i]: what supervisor nodes[i] multiplies the figure by
     * (its max_restarts + 1, or 1 where nodes[i + 1] is not restarted
     * there). The supervisors with a factor over 1 are the ones whose
     * max_restarts to lower. */
    uint64_t factor[SPEC_MAX_DEPTH + 1];
};

/* spec_start_bound computes the bound for the tree at root (borrowed;
 * depth within SPEC_MAX_DEPTH, as spec_validate checks) into *out (caller
 * storage). Among workers with the same figure the first in start order
 * wins. */
void spec_start_bound(const struct spec_node *root,
                      struct spec_start_bound *out);

/* spec_start_bound_path writes the '/'-joined ids of nodes[0..n-1] of b
 * into buf (caller buffer + length; truncated, always terminated). */
void spec_start_bound_path(const struct spec_start_bound *b, size_t n,
                           char *buf, size_t len);

#endif
