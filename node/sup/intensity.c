/* SPDX-License-Identifier: Apache-2.0 */
/* intensity.c: OTP restart intensity (OTP-SEMANTICS B2) as a ring of
 * per-second buckets that grows with use.
 *
 * Why min(max_restarts, window_s) + 1 buckets are the most ever needed:
 * after pruning, live buckets hold distinct seconds within [now - window,
 * now], so at most window_s + 1 of them; and while the limit is not
 * exceeded each bucket counts at least one restart, so at most
 * max_restarts of them before the new one. A ring at that size is full
 * only past the limit (the supervisor gave up; a caller that keeps adding
 * without a reset) or when it could not grow for want of memory. Then the
 * two oldest buckets merge into the older second: the total stays exact,
 * and those restarts leave the window a little early, never late. */
#include "node/sup/intensity.h"

#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"

/* Smallest heap ring (the first step after the inline bucket). */
#define RING_MIN 8

int
sup_intensity_init(struct sup_intensity *si, uint32_t max_restarts,
                   uint32_t window_s)
{
    uint32_t m = max_restarts < window_s ? max_restarts : window_s;
    memset(si, 0, sizeof *si);
    si->max_restarts = max_restarts;
    si->window_s = window_s;
    si->limit = m == UINT32_MAX ? UINT32_MAX : m + 1;
    si->cap = 1; /* si->one */
    return NAOS_OK;
}

void
sup_intensity_fini(struct sup_intensity *si)
{
    naos_free(si->buckets);
    si->buckets = NULL;
    si->cap = si->head = si->len = si->limit = 0;
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
    struct sup_intensity_bucket *b =
        si->buckets ? si->buckets : (struct sup_intensity_bucket *)&si->one;
    return &b[(si->head + i) % si->cap];
}

/* horizon is the oldest second still inside the window at now_s. */
static uint64_t
horizon(const struct sup_intensity *si, uint64_t now_s)
{
    return now_s > si->window_s ? now_s - si->window_s : 0;
}

/* grow doubles the ring (up to limit), oldest first at 0. false when it
 * is at its limit or there is no memory. */
static bool
grow(struct sup_intensity *si)
{
    if (si->cap >= si->limit)
        return false;
    uint64_t want = si->cap < RING_MIN ? RING_MIN : (uint64_t)si->cap * 2;
    uint32_t cap = want > si->limit ? si->limit : (uint32_t)want;
    struct sup_intensity_bucket *b = naos_alloc((size_t)cap * sizeof *b);
    if (b == NULL)
        return false;
    for (uint32_t i = 0; i < si->len; i++)
        b[i] = *bucket_at(si, i);
    naos_free(si->buckets);
    si->buckets = b;
    si->cap = cap;
    si->head = 0;
    return true;
}

bool
sup_intensity_add(struct sup_intensity *si, uint64_t now_s)
{
    if (si->limit == 0)
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
        if (si->len == si->cap && !grow(si)) {
            struct sup_intensity_bucket *o = bucket_at(si, 0);
            if (si->cap == 1) {
                o->count++; /* one bucket: it takes the new restart */
                goto count;
            }
            struct sup_intensity_bucket *b1 = bucket_at(si, 1);
            b1->count += o->count;
            b1->sec = o->sec;
            si->head = (si->head + 1) % si->cap;
            si->len--;
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
