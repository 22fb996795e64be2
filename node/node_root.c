/* SPDX-License-Identifier: Apache-2.0 */
/* node_root.c: the cluster's root supervisor on the leader (issue 12;
 * docs/architecture.md "The root supervisor"). What it acts on is the
 * applied state only, so any leader takes over where the last one
 * stopped: a deployment whose FAIL entry recorded the node it gave up on
 * is, as node/root/root.h decides, moved to another node that its
 * placement constraints allow (never the one that failed it; none: it
 * stays failed) by a MigrateCommand naming the placement it moves from,
 * so that a move decided on a state that changed since (started again,
 * removed, moved by an earlier leader) changes nothing when applied. The
 * node it left removes its failed tree; the node it goes to starts it,
 * its workers told NAOS_RESTART_REASON=migrated, and `naos checkpoint
 * load` gives them the last checkpoint (checkpoints are replicated).
 *
 * A placement its drained node released (node_drain.c: its tree there
 * is gone) is moved the same way with reason "drained", uncounted; it
 * may go back to that node once undrained, and waits (logged) while no
 * node takes it. One that gave up there is an escalation's to move
 * (counted, after its backoff, so it runs again); only past its limit
 * is it moved as drained, failed.
 *
 * A deployment placed on a node whose lease has run out for this leader
 * (node_lease.c: last grant + L(1 + drift) + margin, or this leader's
 * start when it granted none) is moved the same way with reason
 * "node-lost": at once, failed or not, and the move counts against
 * nothing. By then the lost node's guardian has killed its processes, or
 * the node fenced itself; a node that is merely slow to renew has
 * stopped them too. A deployment no other node takes (pinned with --on)
 * waits for its node, logged.
 *
 * When it looks: after a FAIL, MIGRATE or START is applied here, when a
 * backoff or a lease with placements runs out, at most every ROOT_LOOK_MS
 * otherwise (a node that
 * comes alive may be the place a failed deployment waited for), and
 * never while this node is not the leader or has not caught up. Bounds:
 * NODE_ROOT_MOVES_MAX moves in flight, one per deployment; a scan reads
 * the deployments and the placements once each. Reactor thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "node/base/err.h"
#include "node/base/log.h"
#include "node/cmd/apply.h"
#include "node/cmd/cmd.h"
#include "node/node_int.h"
#include "node/root/root.h"
#include "node/spec/spec.h"
#include "proto/spec_pb.h"
#include "store/state.h"

/* Looked at this often when nothing calls for it. */
#define ROOT_LOOK_MS 2000
/* A deployment that waits for its lost node is logged at most this often
 * (the root looks every ROOT_LOOK_MS). */
#define ROOT_WAIT_LOG_MS 30000

void
node__root_due(struct node *n)
{
    n->root_next = n->r.now;
}

/* root_active: the step has work to look at (the deadline and the step
 * agree on it, or the loop would spin on a deadline in the past). */
static bool
root_active(const struct node *n)
{
    return n->log != NULL && n->replicated && !n->catching_up &&
           !n->fatal && !n->apply_stuck &&
           raft_role_get(cmdraft_core(n->log)) == RAFT_LEADER;
}

naos_time
node__root_deadline(const struct node *n)
{
    return root_active(n) ? n->root_next : NAOS_TIME_NEVER;
}

/* in_flight: a move of name proposed and not applied yet. Slots of
 * applied (or lost: below applied) moves are freed on the way. */
static bool
in_flight(struct node *n, const char *name, size_t *free_slot)
{
    bool found = false;
    *free_slot = NODE_ROOT_MOVES_MAX;
    for (size_t i = 0; i < NODE_ROOT_MOVES_MAX; i++) {
        if (n->root_moves[i].index != 0 &&
            n->root_moves[i].index <= n->applied)
            n->root_moves[i].index = 0;
        if (n->root_moves[i].index == 0) {
            if (*free_slot == NODE_ROOT_MOVES_MAX)
                *free_slot = i;
        } else if (strcmp(n->root_moves[i].name, name) == 0) {
            found = true;
        }
    }
    return found;
}

void
node__root_limits(const Naos__V1__DeploymentRecord *rec, uint32_t *max,
                  int64_t *window)
{
    *max = SPEC_MIGRATIONS_DEFAULT;
    *window = SPEC_MIGRATION_WINDOW_DEFAULT;
    const Naos__V1__Migration *m = rec->spec ? rec->spec->migration : NULL;
    if (m != NULL) {
        *max = m->max;
        *window = m->window_ms;
    }
}

/* lacked: the deployment failed on node for lack of its program or
 * directory (since the operator last started it). */
static bool
lacked(const Naos__V1__DeploymentRecord *rec, uint64_t node)
{
    for (size_t i = 0; i < rec->n_missing_on; i++)
        if (rec->missing_on[i] == node)
            return true;
    return false;
}

/* Why a move that is not an escalation's goes (o NULL in move). */
enum root_why { ROOT_WHY_LOST, ROOT_WHY_DRAINED };

/* move: pick a node other than the one it leaves (and than those that
 * lack its program) and propose the move: it gave up on `from`, or
 * (o NULL) the lease of `from` ran out or `from` released it for a drain
 * (why). A released placement may go back to `from` once it is no
 * longer drained (node__place_other never picks a drained node). Returns
 * true when proposed. */
static bool
move(struct node *n, const Naos__V1__DeploymentRecord *rec, uint64_t from,
     uint64_t epoch, size_t slot, const struct root_decision *o, uint32_t max,
     enum root_why why)
{
    struct spec_node spec = {0};
    char err[512] = "";
    uint64_t to = 0;
    uint64_t exclude[1 + APPLY_MISSING_ON_MAX];
    size_t nex = 0;
    bool drained = o == NULL && why == ROOT_WHY_DRAINED;
    if (!drained)
        exclude[nex++] = from;
    for (size_t i = 0; i < rec->n_missing_on && nex < 1 + APPLY_MISSING_ON_MAX;
         i++)
        exclude[nex++] = rec->missing_on[i];
    int rc = rec->spec ? spec_pb_to_spec(rec->spec, &spec, err, sizeof err)
                       : NAOS_EINVAL;
    if (rc == NAOS_OK)
        rc = node__place_other(n, spec.place_on, spec.require, spec.nrequire,
                               exclude, nex, &to, err, sizeof err);
    spec_node_fini(&spec);
    if (rc != NAOS_OK) {
        if (o != NULL)
            NAOS_DEBUG("root", "%s stays failed: no other node takes it: %s",
                       rec->name, err);
        else if (n->r.now >= n->root_wait_logged + ROOT_WAIT_LOG_MS &&
                 (n->root_wait_logged = n->r.now, true))
            NAOS_WARN("root", "%s waits for %s, %s: no other node takes it: "
                      "%s", rec->name, node__node_name(n, from),
                      drained ? "which drained it" : "whose lease ran out",
                      err);
        return false;
    }
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, n->r.wall_ms); /* the root's own */
    Naos__V1__MigrateCommand m = NAOS__V1__MIGRATE_COMMAND__INIT;
    m.name = rec->name;
    m.from_epoch = epoch;
    m.to_node = to;
    m.reason = o ? "migrated" : drained ? "drained" : "node-lost";
    m.uncounted = o ? o->uncounted : true;
    c.cmd_case = NAOS__V1__COMMAND__CMD_MIGRATE;
    c.migrate = &m;
    if (node__propose(n, &c, NULL, NULL) != NAOS_OK)
        return false;
    snprintf(n->root_moves[slot].name, sizeof n->root_moves[slot].name, "%s",
             rec->name);
    n->root_moves[slot].index = n->proposed;
    n->root_moved++;
    if (drained) {
        NAOS_INFO("root", "moving %s from %s to %s (entry %" PRIu64 "): %s "
                  "is drained and stopped it there (a move that does not "
                  "count)", rec->name, node__node_name(n, from),
                  node__node_name(n, to), n->proposed,
                  node__node_name(n, from));
    } else if (o == NULL) {
        n->root_lost++;
        NAOS_INFO("root", "moving %s from %s to %s (entry %" PRIu64 "): the "
                  "lease of %s ran out, so none of its processes runs (a "
                  "move that does not count)", rec->name,
                  node__node_name(n, from), node__node_name(n, to),
                  n->proposed, node__node_name(n, from));
    } else if (o->uncounted)
        NAOS_INFO("root", "moving %s from %s to %s (entry %" PRIu64 "): its "
                  "program or directory is missing there (a move that does "
                  "not count)", rec->name,
                  node__node_name(n, from),
                  node__node_name(n, to), n->proposed);
    else
        NAOS_INFO("root", "moving %s from %s to %s (entry %" PRIu64 "): it "
                  "gave up there; move %u of at most %u in its window",
                  rec->name, node__node_name(n, from),
                  node__node_name(n, to), n->proposed,
                  o->moves_in_window + 1, max);
    return true;
}

void
node__root_step(struct node *n)
{
    if (!root_active(n) || n->r.now < n->root_next)
        return;
    n->root_next = n->r.now + ROOT_LOOK_MS;
    Naos__V1__DeploymentRecord **recs = NULL;
    size_t nrec = 0;
    if (store_deploy_list(n->store, &recs, &nrec) != NAOS_OK) {
        NAOS_ERROR("root", "cannot list deployments: %s",
                   store_errmsg(n->store));
        return;
    }
    Naos__V1__PlacementRecord **pl = NULL;
    size_t npl = 0;
    if (store_placement_list(n->store, &pl, &npl) != NAOS_OK) {
        NAOS_ERROR("root", "cannot list placements: %s",
                   store_errmsg(n->store));
        store_deploy_list_free(recs, nrec);
        return;
    }
    /* both lists come in name order (the store's keys): one walk */
    size_t k = 0;
    for (size_t i = 0; i < nrec; i++) {
        const Naos__V1__DeploymentRecord *rec = recs[i];
        while (k < npl && strcmp(pl[k]->name, rec->name) < 0)
            k++;
        if (k == npl || strcmp(pl[k]->name, rec->name) != 0)
            continue; /* none: placed before placements existed */
        uint64_t epoch = pl[k]->epoch, on = pl[k]->node_id;
        size_t slot;
        naos_time at;
        bool released = pl[k]->released;
        bool failed_here = rec->failed && on == rec->failed_node;
        if (released && !failed_here) {
            /* Its drained node stopped it: nothing of it runs anywhere. */
            if (!in_flight(n, rec->name, &slot) && slot < NODE_ROOT_MOVES_MAX)
                move(n, rec, on, epoch, slot, NULL, 0, ROOT_WHY_DRAINED);
            continue;
        }
        if (node__lease_expired(n, on, &at)) {
            /* Its node's lease ran out: nothing of it runs there. */
            if (!in_flight(n, rec->name, &slot) && slot < NODE_ROOT_MOVES_MAX)
                move(n, rec, on, epoch, slot, NULL, 0, ROOT_WHY_LOST);
            continue;
        }
        if (at < n->root_next)
            n->root_next = at; /* look again when it runs out */
        if (!rec->failed || on != rec->failed_node)
            continue; /* running, or a fail of an earlier placement */
        uint32_t max;
        int64_t window;
        node__root_limits(rec, &max, &window);
        struct root_dep d = {
            .failed = true,
            .stopped = rec->desired == NAOS__V1__DESIRED_STATE__DESIRED_STOPPED,
            .failed_node = rec->failed_node,
            .missing = lacked(rec, rec->failed_node),
            .failed_at_ms = rec->failed_at_ms,
            .moves_at_ms = rec->migrations_at_ms,
            .nmoves = rec->n_migrations_at_ms,
            .max_migrations = max,
            .window_ms = window,
        };
        struct root_decision o;
        root_escalation(&d, n->r.wall_ms, &o);
        if (released && o.verdict != ROOT_MOVE && o.verdict != ROOT_WAIT) {
            /* failed, and no escalation will move it (exhausted): off
             * its drained node all the same, failed */
            if (!in_flight(n, rec->name, &slot) && slot < NODE_ROOT_MOVES_MAX)
                move(n, rec, on, epoch, slot, NULL, 0, ROOT_WHY_DRAINED);
            continue;
        }
        if (o.verdict == ROOT_WAIT) {
            naos_time w = n->r.now + (o.wait_until_ms - n->r.wall_ms);
            if (w < n->root_next)
                n->root_next = w;
            continue;
        }
        if (o.verdict != ROOT_MOVE || in_flight(n, rec->name, &slot) ||
            slot == NODE_ROOT_MOVES_MAX)
            continue;
        move(n, rec, on, epoch, slot, &o, max, ROOT_WHY_LOST);
    }
    store_placement_list_free(pl, npl);
    store_deploy_list_free(recs, nrec);
}
