/* SPDX-License-Identifier: Apache-2.0 */
/* node_place.c: the leader's pick of a new deployment's node, glue for
 * node/cmd/placement.h: the candidates are the log's voters (the nodes
 * that apply it), alive as membership sees them and holding a lease
 * this leader would not count as run out (node_lease.c: a member that has
 * not renewed could run nothing placed on it), with the deployments the
 * applied state places on each plus this leader's picks still in flight
 * (proposed, not yet applied: without them a burst of deploys would all
 * go to the same node), and the labels each gossips with its health (this
 * node's own: its options). Reactor thread only. */
#include <stdio.h>
#include <string.h>

#include "node/base/err.h"
#include "node/base/log.h"
#include "node/cmd/placement.h"
#include "node/node_int.h"
#include "store/state.h"

int
node__place(struct node *n, const char *on, const struct spec_label *require,
            size_t nreq, uint64_t *node_id, char *err, size_t errlen)
{
    return node__place_other(n, on, require, nreq, NULL, 0, node_id, err,
                             errlen);
}

int
node__place_other(struct node *n, const char *on,
                  const struct spec_label *require, size_t nreq,
                  const uint64_t *exclude, size_t nexclude,
                  uint64_t *node_id, char *err, size_t errlen)
{
    struct placement_candidate c[NODE_MEMBERS_MAX];
    /* the others' labels, from their last health (static: 34 KiB, 17 x
     * 16 x 128; reactor thread only) */
    static struct spec_label labels[NODE_MEMBERS_MAX][SPEC_LABELS_MAX];
    uint64_t ids[NODE_MEMBERS_MAX];
    size_t nc = node__conf_members(n, ids); /* voters and learners alike */
    if (nc == 0) {
        snprintf(err, errlen, "the cluster is forming; nothing changed");
        return NAOS_EBUSY;
    }
    for (size_t i = 0; i < nc; i++) {
        uint64_t id = ids[i];
        c[i] = (struct placement_candidate){.id = id};
        if (id == n->node_id) {
            c[i].name = n->name;
            c[i].alive = !n->lease_released; /* not when it is leaving */
            (void)node__members_live_load(n, id, &c[i].load_centi);
            c[i].labels = n->labels; /* its options, not last gossiped */
            c[i].nlabels = n->nlabels;
        } else {
            c[i].name = node__members_name(n, id);
            c[i].alive = node__members_live_load(n, id, &c[i].load_centi);
            naos_time at;
            if (node__lease_expired(n, id, &at))
                c[i].alive = false; /* it could run nothing placed there */
            c[i].labels = labels[i];
            c[i].nlabels = node__members_labels(n, id, labels[i]);
        }
    }
    for (size_t i = 0; i < nc; i++)
        for (size_t k = 0; k < nexclude; k++)
            if (c[i].id == exclude[k])
                c[i].alive = false; /* it gave up there: somewhere else */
    Naos__V1__DrainRecord **dr = NULL;
    size_t ndr = 0;
    if (store_drain_list(n->store, &dr, &ndr) != NAOS_OK) {
        snprintf(err, errlen, "cannot read the drained nodes: %s",
                 store_errmsg(n->store));
        return NAOS_ESTORE;
    }
    for (size_t k = 0; k < ndr; k++)
        for (size_t i = 0; i < nc; i++)
            if (dr[k]->node_id == c[i].id)
                c[i].drained = true; /* `naos drain`: takes nothing new */
    store_drain_list_free(dr, ndr);
    Naos__V1__PlacementRecord **pl = NULL;
    size_t npl = 0;
    if (store_placement_list(n->store, &pl, &npl) != NAOS_OK) {
        snprintf(err, errlen, "cannot read the placements: %s",
                 store_errmsg(n->store));
        return NAOS_ESTORE;
    }
    for (size_t k = 0; k < npl; k++)
        for (size_t i = 0; i < nc; i++)
            if (pl[k]->node_id == c[i].id)
                c[i].deployments++;
    store_placement_list_free(pl, npl);
    for (size_t k = 0; k < NODE_PICKS_MAX; k++) {
        if (n->picks[k].index <= n->applied)
            continue; /* applied (counted above) or never will be */
        for (size_t i = 0; i < nc; i++)
            if (n->picks[k].node_id == c[i].id)
                c[i].deployments++;
    }
    int at = placement_pick(c, nc, on, require, nreq, err, errlen);
    if (at < 0)
        return NAOS_EINVAL;
    *node_id = c[at].id;
    return NAOS_OK;
}

void
node__place_note(struct node *n, uint64_t index, uint64_t node_id)
{
    /* the oldest slot (lowest index) goes: by then it is applied */
    size_t at = 0;
    for (size_t k = 1; k < NODE_PICKS_MAX; k++)
        if (n->picks[k].index < n->picks[at].index)
            at = k;
    n->picks[at].index = index;
    n->picks[at].node_id = node_id;
}
