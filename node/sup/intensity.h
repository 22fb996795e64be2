/* SPDX-License-Identifier: Apache-2.0 */
/* intensity.h: OTP restart intensity, "at most max_restarts restarts within
 * window_s seconds" (OTP-SEMANTICS B2), for one supervisor. Pure.
 *
 * The clock is whole seconds. Restarts in the same second share a bucket.
 * Memory follows the restarts actually in the window, not the limits: the
 * ring starts as one bucket inside the struct and grows (doubling) only
 * when a restart needs a bucket more, up to min(max_restarts, window_s) + 1
 * buckets, the most it can ever hold. A limit of a million restarts costs
 * nothing until they happen (spec.h bounds both limits). */
#ifndef NAOS_SUP_INTENSITY_H
#define NAOS_SUP_INTENSITY_H

#include <stdbool.h>
#include <stdint.h>

struct sup_intensity_bucket {
    uint64_t sec;
    uint32_t count;
};

struct sup_intensity {
    uint32_t max_restarts;
    uint32_t window_s;
    struct sup_intensity_bucket *buckets; /* heap ring, or NULL: `one` */
    struct sup_intensity_bucket one;      /* the ring while cap is 1 */
    uint32_t cap, head, len;              /* oldest at head */
    uint32_t limit; /* most buckets ever needed; 0: not initialised */
};

/* sup_intensity_init prepares si (caller storage) for the given limits.
 * Allocates nothing (the ring grows in sup_intensity_add). Returns NAOS_OK. */
int sup_intensity_init(struct sup_intensity *si, uint32_t max_restarts,
                       uint32_t window_s);
/* sup_intensity_fini frees si's memory; safe on a zeroed si. */
void sup_intensity_fini(struct sup_intensity *si);
/* sup_intensity_reset forgets every recorded restart (keeps the memory). */
void sup_intensity_reset(struct sup_intensity *si);
/* sup_intensity_add records one restart decision at now_s (seconds) and
 * says whether it is allowed: entries older than now_s - window_s are
 * dropped first (an entry exactly window_s old still counts), the new one
 * is added, and the result is false when the count is greater than
 * max_restarts ("more than N in T": give up). May allocate (the ring
 * grows); without memory the two oldest buckets share the older second,
 * so their restarts leave the window early: the node's lack of memory
 * never makes an agent give up sooner. A zeroed si refuses (false). */
bool sup_intensity_add(struct sup_intensity *si, uint64_t now_s);
/* sup_intensity_used counts the restarts within the window at now_s. */
uint32_t sup_intensity_used(const struct sup_intensity *si, uint64_t now_s);
/* sup_intensity_expiry: the first second after now_s at which
 * sup_intensity_used will be lower (its oldest restart in the window
 * leaves it), or UINT64_MAX when none is in the window. */
uint64_t sup_intensity_expiry(const struct sup_intensity *si, uint64_t now_s);

#endif
