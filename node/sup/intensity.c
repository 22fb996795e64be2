/* SPDX-License-Identifier: Apache-2.0 */
/* intensity.c: OTP restart intensity (OTP-SEMANTICS B2) as a ring of
 * per-second buckets.
 *
 * Why the ring never overflows: after pruning, live buckets hold distinct
 * seconds within [now - window, now], so at most window_s + 1 of them; and
 * while the limit is not exceeded each bucket counts at least one restart,
 * so at most max_restarts of them before the new one. Capacity
 * min(max_restarts, window_s) + 1 is therefore enough until the supervisor
 * gives up; past that (a caller that keeps adding without a reset) the two
 * oldest buckets are merged, which can only make the answer stricter. */
#include "node/sup/intensity.h"

#include "node/base/alloc.h"
#include "node/base/err.h"

int
sup_intensity_init(struct sup_intensity *si, uint32_t max_restarts,
                   uint32_t window_s)
{
    uint32_t m = max_restarts < window_s ? max_restarts : window_s;
    uint32_t cap = m + 1;
    if (cap == 0) /* max_restarts and window_s both UINT32_MAX */
        cap = UINT32_MAX;
    struct sup_intensity_bucket *b = naos_alloc((size_t)cap * sizeof *b);
    if (b == NULL)
        return NAOS_ENOMEM;
    si->max_restarts = max_restarts;
    si->window_s = window_s;
    si->buckets = b;
    si->cap = cap;
    si->head = 0;
    si->len = 0;
    return NAOS_OK;
}

void
sup_intensity_fini(struct sup_intensity *si)
{
    naos_free(si->buckets);
    si->buckets = NULL;
    si->cap = si->head = si->len = 0;
}

void
sup_intensity_reset(struct sup_intensity *si)
{
    si->head = 0;
    si->len = 0;
}

static struct sup_intensity_bucket *
bucket_at(const struct sup_intensity *si, uint32_t i)
{
    return &si->buckets[(si->head + i) % si->cap];
}

/* horizon is the oldest second still inside the window at now_s. */
static uint64_t
horizon(const struct sup_intensity *si, uint64_t now_s)
{
    return now_s > si->window_s ? now_s - si->window_s : 0;
}

bool
sup_intensity_add(struct sup_intensity *si, uint64_t now_s)
{
    if (si->cap == 0)
        return false; /* never initialised: refuse rather than crash */
    uint64_t h = horizon(si, now_s);
    while (si->len > 0 && bucket_at(si, 0)->sec < h) {
        si->head = (si->head + 1) % si->cap;
        si->len--;
    }
    struct sup_intensity_bucket *last =
        si->len > 0 ? bucket_at(si, si->len - 1) : NULL;
    if (last != NULL && last->sec >= now_s) {
        /* Same second (or a clock that went back): share the bucket. */
        last->count++;
    } else {
        if (si->len == si->cap) {
            /* Only reachable past the limit: merge the two oldest. */
            struct sup_intensity_bucket *o = bucket_at(si, 0);
            if (si->cap > 1) {
                bucket_at(si, 1)->count += o->count;
                si->head = (si->head + 1) % si->cap;
                si->len--;
            } else {
                o->sec = now_s;
                o->count++;
                goto count;
            }
        }
        struct sup_intensity_bucket *nb = bucket_at(si, si->len);
        nb->sec = now_s;
        nb->count = 1;
        si->len++;
    }
count:;
    uint64_t total = 0;
    for (uint32_t i = 0; i < si->len; i++)
        total += bucket_at(si, i)->count;
    return total <= si->max_restarts;
}

uint32_t
sup_intensity_used(const struct sup_intensity *si, uint64_t now_s)
{
    uint64_t h = horizon(si, now_s);
    uint64_t total = 0;
    for (uint32_t i = 0; i < si->len; i++) {
        const struct sup_intensity_bucket *b = bucket_at(si, i);
        if (b->sec >= h)
            total += b->count;
    }
    return total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
}

uint64_t
sup_intensity_expiry(const struct sup_intensity *si, uint64_t now_s)
{
    uint64_t h = horizon(si, now_s);
    for (uint32_t i = 0; i < si->len; i++) {
        const struct sup_intensity_bucket *b = bucket_at(si, i);
        /* b counts until horizon() passes it: while now - window <= sec */
        if (b->sec >= h)
            return b->sec > UINT64_MAX - si->window_s - 1
                       ? UINT64_MAX
                       : b->sec + si->window_s + 1;
    }
    return UINT64_MAX;
}
