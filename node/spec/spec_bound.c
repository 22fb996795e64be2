/* SPDX-License-Identifier: Apache-2.0 */
/* spec_bound.c: the product of nested intensities (spec_bound.h). */
#include "node/spec/spec_bound.h"

#include <stdio.h>
#include <string.h>

static uint64_t
mul_sat(uint64_t a, uint64_t b)
{
    if (a != 0 && b > UINT64_MAX / a)
        return UINT64_MAX;
    return a * b;
}

/* restarted_by_parent: will the parent start child c again after it
 * failed? Workers: permanent and transient (a crash is abnormal).
 * Supervisors give up with `shutdown`, which only permanent ones are
 * restarted after (B1, B3). */
static bool
restarted_by_parent(const struct spec_node *c)
{
    if (c->restart == SPEC_TEMPORARY)
        return false;
    return !c->is_supervisor || c->restart == SPEC_PERMANENT;
}

/* walk: cur holds the path to n (depth entries before n) and the product
 * of the factors above n. */
static void
walk(const struct spec_node *n, uint64_t above, struct spec_start_bound *cur,
     size_t depth, struct spec_start_bound *best)
{
    if (depth > SPEC_MAX_DEPTH)
        return; /* spec_validate refuses deeper trees */
    cur->nodes[depth] = n;
    if (!n->is_supervisor) {
        if (above > best->starts) {
            *best = *cur;
            best->starts = above;
            best->depth = depth + 1;
            best->factor[depth] = 1;
        }
        return;
    }
    /* A pool's children are replicas of children[0]: one walk does. */
    size_t nc = n->strategy == SPEC_SIMPLE_ONE_FOR_ONE && n->nchildren > 0
                    ? 1
                    : n->nchildren;
    for (size_t i = 0; i < nc; i++) {
        const struct spec_node *c = &n->children[i];
        uint64_t f = restarted_by_parent(c)
                         ? (uint64_t)n->max_restarts + 1
                         : 1;
        cur->factor[depth] = f;
        walk(c, mul_sat(above, f), cur, depth + 1, best);
    }
}

void
spec_start_bound(const struct spec_node *root, struct spec_start_bound *out)
{
    struct spec_start_bound cur;
    memset(out, 0, sizeof *out);
    memset(&cur, 0, sizeof cur);
    walk(root, 1, &cur, 0, out);
}

void
spec_start_bound_path(const struct spec_start_bound *b, size_t n, char *buf,
                      size_t len)
{
    if (len == 0)
        return;
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n && i < b->depth; i++) {
        int k = snprintf(buf + used, len - used, "%s%s", i ? "/" : "",
                         b->nodes[i]->id);
        if (k < 0 || (size_t)k >= len - used)
            return;
        used += (size_t)k;
    }
}
