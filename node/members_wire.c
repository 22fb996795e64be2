/* SPDX-License-Identifier: Apache-2.0 */
/* members_wire.c: see members_wire.h. A SwimMsg's packed size is the sum
 * of its fields' (protobuf fields are independent), so the size of a part
 * is the size of m without updates plus the size each of its updates adds,
 * both measured with swim_pb_packed_size. */
#include "node/members_wire.h"

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "proto/swim_pb.h"

static bool
splittable(enum swim_msg_type t)
{
    return t == SWIM_MSG_SYNC_REPLY || t == SWIM_MSG_SYNC_FILL ||
           t == SWIM_MSG_GOSSIP;
}

int
members_wire_split(const struct swim_msg *m, size_t max,
                   members_wire_part_fn fn, void *arg)
{
    /* 0 is an empty message (or no memory, which the packing that follows
     * will meet again): it fits. */
    size_t whole = swim_pb_packed_size(m);
    if (whole <= max) {
        fn(arg, m);
        return NAOS_OK;
    }
    if (!splittable(m->type) || m->nupdates == 0)
        return NAOS_ETOOBIG;
    struct swim_msg t = *m;
    t.updates = NULL;
    t.nupdates = 0;
    size_t base_wants = swim_pb_packed_size(&t);
    t.wants = NULL;
    t.nwants = 0;
    size_t base = swim_pb_packed_size(&t);
    size_t *cost = naos_alloc(m->nupdates * sizeof *cost);
    if (cost == NULL) {
        naos_free(cost);
        return NAOS_ENOMEM;
    }
    /* An update costs what it adds to the message without wants (which
     * may pack to 0 bytes); an update never packs to nothing. */
    for (size_t i = 0; i < m->nupdates; i++) {
        t.updates = &m->updates[i];
        t.nupdates = 1;
        size_t one = swim_pb_packed_size(&t);
        if (one == 0) {
            naos_free(cost);
            return NAOS_ENOMEM;
        }
        cost[i] = one - base;
        if ((i == 0 ? base_wants : base) + cost[i] > max) {
            naos_free(cost);
            return NAOS_ETOOBIG;
        }
    }
    for (size_t i = 0; i < m->nupdates;) {
        struct swim_msg part = *m;
        size_t used = i == 0 ? base_wants : base;
        size_t j = i;
        while (j < m->nupdates && used + cost[j] <= max)
            used += cost[j++];
        if (j == i) { /* only when wants fill the first part */
            naos_free(cost);
            return NAOS_ETOOBIG;
        }
        part.updates = &m->updates[i];
        part.nupdates = j - i;
        if (i != 0) {
            part.wants = NULL;
            part.nwants = 0;
        }
        fn(arg, &part);
        i = j;
    }
    naos_free(cost);
    return NAOS_OK;
}
