/* SPDX-License-Identifier: Apache-2.0 */
/* node_drain.c: a drained node hands its placements over, each stopped
 * here before it starts elsewhere (issue 12, `naos drain NODE`; docs/
 * architecture.md "The root supervisor").
 *
 * The drain record (store `drains`, written by apply only) is the whole
 * of the state: while this node has one, the reconciler counts nothing
 * as placed here (reconcile.h), so every tree is removed, stopped as its
 * shutdown settings say. This step then proposes a ReleaseCommand for
 * each placement on this node whose tree is gone, once the orphan sweep
 * that its workers' exits asked for has run (a helper that left their
 * group is dead too); once applied, the root supervisor (node_root.c)
 * moves the released placement to another node. Nothing is released
 * while its tree still stops, so no deployment runs in two places. A
 * release names the drain it was made under (DrainRecord.index): one
 * applied after an undrain changes nothing, though the node may already
 * run that deployment again. A drained node that dies has its placements
 * moved when its lease runs out, as any lost node's.
 *
 * When it looks: once a drain command, a snapshot, the node's start or a
 * placement here made the record worth reading again (drain_dirty), then
 * every DRAIN_LOOK_MS while this node is drained and something placed
 * here is not released yet. Bounds: one store read of the placements per
 * look; a release is proposed again only after DRAIN_RETRY_MS (a
 * follower's is relayed, unanswered); at most NODE_RELEASES_MAX in
 * flight, the rest at a later look. Reactor thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/err.h"
#include "node/base/log.h"
#include "node/base/time.h"
#include "node/cmd/cmd.h"
#include "node/node_int.h"
#include "node/proc/orphans.h"
#include "store/state.h"

/* Looked at this often while drained. */
#define DRAIN_LOOK_MS 200
/* A release not applied by then is proposed again. */
#define DRAIN_RETRY_MS 2000

void
node__drain_dirty(struct node *n)
{
    n->drain_dirty = true;
}

/* drain_active: the step may act: the applied state is current. */
static bool
drain_active(const struct node *n)
{
    return n->log != NULL && n->replicated && !n->catching_up && !n->fatal &&
           !n->apply_stuck;
}

naos_time
node__drain_deadline(const struct node *n)
{
    if (!drain_active(n))
        return NAOS_TIME_NEVER;
    if (n->drain_dirty)
        return n->r.now;
    return n->drain_self && !n->drain_idle ? n->drain_next : NAOS_TIME_NEVER;
}

/* released_lately: a release of this placement was proposed within
 * DRAIN_RETRY_MS; otherwise *slot is where to remember one (a free
 * entry; NODE_RELEASES_MAX when none is: no release now). */
static bool
released_lately(struct node *n, const char *name, uint64_t epoch,
                size_t *slot)
{
    *slot = NODE_RELEASES_MAX;
    for (size_t i = 0; i < NODE_RELEASES_MAX; i++) {
        struct node_release *r = &n->releases[i];
        if (r->epoch != 0 && n->r.now >= r->at + DRAIN_RETRY_MS)
            r->epoch = 0; /* not applied in time: may go again */
        if (r->epoch == epoch && strcmp(r->name, name) == 0)
            return true;
        if (r->epoch == 0 && *slot == NODE_RELEASES_MAX)
            *slot = i;
    }
    return false;
}

/* release proposes that the placement epoch of name runs nothing here
 * (false: none proposed, for want of a slot or of a leader). */
static bool
release(struct node *n, const char *name, uint64_t epoch)
{
    size_t slot;
    if (released_lately(n, name, epoch, &slot))
        return true;
    if (slot == NODE_RELEASES_MAX)
        return false; /* NODE_RELEASES_MAX in flight: a later look */
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, n->r.wall_ms); /* the node's own */
    Naos__V1__ReleaseCommand r = NAOS__V1__RELEASE_COMMAND__INIT;
    r.name = (char *)name;
    r.epoch = epoch;
    r.node_id = n->node_id;
    r.drain_index = n->drain_index;
    c.cmd_case = NAOS__V1__COMMAND__CMD_RELEASE;
    c.release = &r;
    if (node__propose(n, &c, NULL, NULL) != NAOS_OK)
        return false; /* logged there; tried again at the next look */
    struct node_release *m = &n->releases[slot];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->epoch = epoch;
    m->at = n->r.now;
    NAOS_INFO("drain", "%s stopped here (epoch %" PRIu64 "): released, for "
              "the root supervisor to place elsewhere", name, epoch);
    return true;
}

void
node__drain_step(struct node *n)
{
    if (!drain_active(n))
        return;
    if (n->drain_dirty) {
        Naos__V1__DrainRecord *d = NULL;
        int rc = store_drain_get(n->store, n->node_id, &d);
        if (rc != NAOS_OK && rc != NAOS_ENOTFOUND) {
            NAOS_ERROR("store", "cannot read whether this node is drained: "
                       "%s", store_errmsg(n->store));
            n->drain_next = n->r.now + DRAIN_LOOK_MS; /* and again then */
            return;
        }
        n->drain_dirty = false;
        n->drain_idle = false;
        bool drained = rc == NAOS_OK;
        n->drain_index = drained ? d->index : 0;
        store_drain_free(d);
        if (drained != n->drain_self) {
            n->drain_self = drained;
            NAOS_INFO("drain", drained ? "naos-node %s is drained: stopping "
                      "what is placed here, each released once stopped"
                      : "naos-node %s is no longer drained: it runs what is "
                      "placed here and takes new placements", n->name);
            /* the reconciler reads the record: a whole pass */
            if (reconcile_resync(&n->rec, n->r.now) != NAOS_OK)
                NAOS_ERROR("store", "cannot list deployments: %s",
                           store_errmsg(n->store));
        }
        n->drain_next = n->r.now;
    }
    if (!n->drain_self || n->drain_idle || n->r.now < n->drain_next)
        return;
    n->drain_next = n->r.now + DRAIN_LOOK_MS;
    /* an orphan sweep asked for by the last exits has not run yet */
    if (n->chld_pending || proc_orphans_scan_busy(&n->orphans))
        return;
    Naos__V1__PlacementRecord **pl = NULL;
    size_t npl = 0;
    if (store_placement_list(n->store, &pl, &npl) != NAOS_OK) {
        NAOS_ERROR("store", "cannot list placements: %s",
                   store_errmsg(n->store));
        return;
    }
    bool left = false; /* something placed here not released yet */
    for (size_t i = 0; i < npl; i++) {
        if (pl[i]->node_id != n->node_id || pl[i]->released)
            continue;
        left = true;
        if (sup_find(n->tree, pl[i]->name) == NULL &&
            !release(n, pl[i]->name, pl[i]->epoch))
            break; /* no slot or no leader: the next look */
    }
    store_placement_list_free(pl, npl);
    n->drain_idle = !left; /* until something is placed here again */
}

void
node__drain_request(struct node *n, struct ctl_req *creq,
                    const Naos__V1__DrainRequest *req, struct ctl_reply *rep)
{
    const char *verb = req->undrain ? "undrain" : "drain";
    const char *name = req->name ? req->name : "";
    if (name[0] == '\0' || strlen(name) > 255) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "naos %s needs a member's name or id (see `naos "
                        "nodes`)", verb);
        return;
    }
    if (n->log == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "naos-node %s is not taking commands yet (the "
                        "cluster is forming, or it is joining); nothing "
                        "changed, try again once `naos nodes` shows it as "
                        "a member", n->name);
        return;
    }
    if (!n->replicated) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "naos-node %s runs alone (no cluster's log): there "
                        "is no other node to move its deployments to; "
                        "nothing changed (stop them with `naos stop`)",
                        n->name);
        return;
    }
    uint64_t id = node__member_named(n, name);
    if (id == 0) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "no member named %s in the cluster's configuration "
                        "(`naos nodes` lists the voters and learners); "
                        "nothing changed", name);
        return;
    }
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, naos_clock_wall_ms()); /* idempotent: no client id */
    Naos__V1__DrainCommand d = NAOS__V1__DRAIN_COMMAND__INIT;
    d.node_id = id;
    d.drain = !req->undrain;
    c.cmd_case = NAOS__V1__COMMAND__CMD_DRAIN;
    c.drain = &d;
    node__propose(n, &c, creq, rep); /* answered once applied, or now */
}

void
node__drain_annotate(struct node *n, Naos__V1__NodesReply *nr)
{
    if (n->log == NULL)
        return; /* forming: no applied state yet */
    Naos__V1__DrainRecord **dr = NULL;
    size_t ndr = 0;
    Naos__V1__PlacementRecord **pl = NULL;
    size_t npl = 0;
    if (store_drain_list(n->store, &dr, &ndr) != NAOS_OK ||
        store_placement_list(n->store, &pl, &npl) != NAOS_OK) {
        NAOS_ERROR("store", "cannot read the drains or placements: %s",
                   store_errmsg(n->store));
        store_drain_list_free(dr, ndr);
        return;
    }
    for (size_t i = 0; i < nr->n_nodes; i++) {
        uint64_t id = strtoull(nr->nodes[i]->id, NULL, 16);
        for (size_t k = 0; k < ndr; k++)
            if (dr[k]->node_id == id)
                nr->nodes[i]->drained = true;
        for (size_t k = 0; k < npl; k++)
            if (pl[k]->node_id == id)
                nr->nodes[i]->placed++;
    }
    store_drain_list_free(dr, ndr);
    store_placement_list_free(pl, npl);
}
