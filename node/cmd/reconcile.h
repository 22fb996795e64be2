/* SPDX-License-Identifier: Apache-2.0 */
/* reconcile.h: the last stage of the command path (cmd.h): the local
 * reconciler. It owns this node's supervision trees: it compares what the
 * applied state (the store's deployments and placements, written only by
 * apply.h) places on this node with what runs in the sup core, and drives
 * the core to match: sup_deploy_ex, sup_stop, sup_start, sup_restart,
 * sup_remove, and the path commands (sup_child_*). Nothing above it
 * touches the core's deployments; nothing in it writes the store.
 *
 * Takes: the name of a deployment an applied entry changed
 *        (reconcile_deployment), or everything at node start
 *        (reconcile_all, once the committed entries are applied: a node
 *        reconciles on the state at the end of what it applied, never on
 *        intermediate entries) or once a snapshot replaced the applied
 *        state of a live node (reconcile_resync); a path command of an
 *        entry applied live (reconcile_path).
 * Emits: calls into the sup core, and a struct reconcile_outcome saying
 *        what it did, from which the node words the reply.
 *
 * What "match" means for a deployment placed here (record R, tree T):
 *   no R (or placed elsewhere), T exists    -> sup_remove
 *   R, no T                                 -> sup_deploy_ex: stopped if
 *        R wants it stopped, failed (not started) if R is marked failed
 *   R, T being removed (an earlier deployment of that name: on a cluster
 *        the leader places R here not seeing this node's trees)
 *                                           -> nothing yet: R's tree is
 *        owed (out->pending) and brought in, as R says then, once T is
 *        gone (reconcile_retry)
 *   R and T, T runs another deployment of that name (removed and
 *        deployed again, in one batch or while the node was behind: R's
 *        placement epoch, the index of the entry that deployed it, is not
 *        the one T was brought in for; the generation starts at 1 again
 *        for each deployment, so it cannot tell)
 *                                           -> sup_remove T, then R's
 *        tree: at once when T went at once, else owed as above
 *   R and T, R changed since last seen (its generation):
 *     R wants stopped, T not at rest        -> sup_stop
 *     R.restarts above what was carried out -> sup_restart (one-shot
 *                                              intents are counters)
 *     R wants running, not failed, T at rest or stopping -> sup_start
 *     otherwise nothing (already so).
 * A stop after a restart not yet carried out settles it: the record says
 * the tree should end stopped (as systemd's stop job cancels a queued
 * restart), whether the two came in one batch or the restart was owed.
 * Only a change of R makes it act on an existing T: a tree that stopped or
 * gave up on its own is the supervisor's business, not a difference to
 * undo (and a "failed" mark may still be on its way through the log).
 *
 * A refused restart or start is owed, not lost. sup_restart refuses
 * (NAOS_EBUSY, nothing done) while T is still stopping for an earlier
 * restart. The restart counter is then not recorded
 * as carried out: out->pending says so, and the restart is carried out as
 * soon as T can take it, by reconcile_retry (the node calls it once per
 * loop iteration) or by the next reconcile of that deployment, whichever
 * comes first. Every restart owed up to then is carried out by that one
 * restart, as the restarts of one batch are. Likewise sup_start refuses
 * while T still stops (a stop within its workers' grace, or a restart's
 * stop): R says running, so the start is owed (out->pending) and
 * reconcile_retry starts T once its stop is done; when that stop ends in
 * a start of its own (a restart's) nothing more is owed, and when T gave
 * up meanwhile it is left failed (its failed mark is on its way). What
 * is owed is what the record asked last: the next change of R settles it
 * afresh, so a stop after a start still owed cancels it (systemd's stop
 * job replaces a queued start). A refused sup_stop (T already stops) is
 * not owed: there is nothing left to do.
 *
 * Placement: a record with no placement (written before placements
 * existed) counts as placed here, with epoch 0. A placement that was
 * released, or any placement while this node is drained (`naos drain`),
 * does not: its tree is removed (stopped as its shutdown says), and the
 * node then releases it (node_drain.c).
 *
 * A whole pass (reconcile_all, reconcile_resync) reconciles every name
 * the store, the trees or the `seen` table know, so that the trees follow
 * the applied state as a node restarted on it would, except that what is
 * unchanged keeps running: what `seen` remembers counts only for a tree
 * of the same deployment (same epoch); what it remembers of a name with
 * no record is forgotten, and every tree with no record placed here is
 * removed. What is owed stays owed only while the record is the one it
 * was owed for, unchanged (the rules above). Path commands leave no
 * record: held children (sup_child_stop) are kept in memory only, so a
 * pass, like a node restart, starts every held child of a tree whose
 * record wants it running, and a path command whose entry a snapshot
 * covered is not carried out (its waiter, if on this node, is told the
 * outcome is unknown).
 *
 * Loop thread only; never from inside a sup_io callback (it calls into
 * the core). */
#ifndef NAOS_NODE_CMD_RECONCILE_H
#define NAOS_NODE_CMD_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/time.h"
#include "node/sup/sup.h"
#include "store/store.h"

enum reconcile_action {
    RECONCILE_NONE = 0, /* already as wanted */
    RECONCILE_DEPLOY,
    RECONCILE_STOP,
    RECONCILE_START,
    RECONCILE_RESTART,
    RECONCILE_REMOVE,
    RECONCILE_PATH, /* reconcile_path */
};

enum reconcile_verb { RECONCILE_VERB_STOP, RECONCILE_VERB_START,
                      RECONCILE_VERB_RESTART };

/* struct reconcile_outcome: what one reconcile call did. Pointers into
 * the core are valid until the next call into it (the reply is worded
 * right after). */
struct reconcile_outcome {
    enum reconcile_action action;
    int rc;               /* of the sup call: NAOS_OK, NAOS_EBUSY, ... */
    bool existed;         /* the tree was there before */
    enum sup_state before; /* its state then (when existed) */
    bool was_at_rest;
    bool at_rest;         /* after (not for RECONCILE_REMOVE) */
    struct sup_node *dep; /* the tree after; NULL when none or removed */
    /* reconcile_path: the node acted on (NULL: no such path) and what it
     * was before. */
    struct sup_node *child;
    bool was_live, was_held;
    /* RECONCILE_RESTART or RECONCILE_START refused for now, or
     * RECONCILE_DEPLOY waiting for an earlier namesake's tree to go (rc
     * NAOS_EBUSY, dep NULL): it is owed and carried out once the tree can
     * take it (reconcile_retry). */
    bool pending;
    char err[512];        /* sup_deploy's message, or the store's */
};

/* struct reconcile_seen: a deployment's record as last reconciled. */
struct reconcile_seen {
    char name[SPEC_MAX_ID_LEN + 1];
    uint64_t epoch;      /* its placement's: which deployment of name */
    uint64_t generation;
    uint64_t restarts; /* the record's restarts carried out */
    uint64_t owed;     /* 0, or the record's restarts a refused restart
                        * owes (above restarts) */
    bool owe_start;    /* a start refused while the tree was stopping */
    bool owe_tree;     /* the record's tree, once the tree of an earlier
                        * deployment of that name, being removed, is gone */
};

/* struct reconcile: caller storage. */
struct reconcile {
    struct sup_tree *tree; /* borrowed */
    struct store *store;   /* borrowed: read only */
    uint64_t node_id;      /* this node */
    struct reconcile_seen *seen; /* owned; one per deployment placed here */
    size_t nseen, cap;
    bool owing; /* some seen entry may owe a restart (reconcile_retry) */
    bool fenced; /* nothing counts as placed here (reconcile_fence) */
    bool closing; /* ... not even what runs on without a lease: the node
                     handed its placements over to stop */
    bool restore_owed; /* reconcile_all ran fenced: the first pass after
                          the fence lifts restores (node-restart) ... */
    uint64_t restore_upto; /* ... what was placed up to this index then */
};
#define RECONCILE_ZERO {NULL, NULL, 0, NULL, 0, 0, false, false, false, \
                        false, 0}

/* reconcile_epoch: the placement epoch of the tree of name this node
 * runs, as last reconciled (0: none, or placed before epochs). */
uint64_t reconcile_epoch(const struct reconcile *r, const char *name);

/* reconcile_init sets r up for tree and store (both borrowed, must
 * outlive r) on node node_id. Cannot fail. */
void reconcile_init(struct reconcile *r, struct sup_tree *tree,
                    struct store *store, uint64_t node_id);
/* reconcile_fini frees what r holds; safe on a zeroed struct. */
void reconcile_fini(struct reconcile *r);

/* reconcile_all makes every deployment placed here run as its record
 * says, at node start (a whole pass, above): each worker's first run gets
 * NAOS_RESTART_REASON=node-restart. Logs each deployment restored, and
 * each one that cannot be (a record that no longer converts: left in the
 * store for the operator). Returns NAOS_OK or the store's error (nothing
 * done). */
int reconcile_all(struct reconcile *r, naos_time now);

/* reconcile_resync is reconcile_all on a live node whose applied state
 * was replaced wholesale (an installed snapshot): what it remembers of
 * the state before counts only where it still describes the tree that
 * runs (a whole pass, above). Trees with no record placed here are
 * removed, a tree of another deployment than its record's is replaced, a
 * changed record drives its tree, what is placed here and not running is
 * brought in (no NAOS_RESTART_REASON: a deploy), held children of running
 * trees are started; an unchanged tree is left as it is. Each action is
 * logged. Returns NAOS_OK or the store's error (nothing done). */
int reconcile_resync(struct reconcile *r, naos_time now);

/* reconcile_deployment brings deployment name (borrowed) in line with its
 * record after an applied entry changed it (rules above), into *out
 * (caller storage). Returns NAOS_OK (see out->rc for the core's answer) or
 * a store error (out->err; nothing done). */
int reconcile_deployment(struct reconcile *r, const char *name, naos_time now,
                         struct reconcile_outcome *out);

/* reconcile_retry carries out the restarts and starts owed (refused
 * while their tree was busy: out->pending) whose trees can take them now,
 * in one sup_restart or sup_start each; a deployment whose tree is gone
 * (an owed tree's earlier namesake was removed, or a removal ended) is
 * reconciled afresh, bringing its tree in. Cheap when nothing is owed
 * (one flag), and otherwise one refused sup_restart, or one look at the
 * tree's state, per owed deployment: it arms no timer and never asks the
 * loop to wake, so an owed command costs nothing until the event that
 * ends its tree's stop (a worker's exit, a kill timer) wakes the loop.
 * Returns how many restarts, starts and trees brought in it carried out
 * (each logged). */
size_t reconcile_retry(struct reconcile *r, naos_time now);

/* reconcile_fence fences the node (fenced: it holds no lease on its
 * placements, issue 12) or lifts the fence. While fenced nothing counts
 * as placed here (but a deployment whose spec says on_partition_keep): a whole pass removes every tree (each worker stopped
 * as a removal stops it; the node's guardian kills what is left at the
 * lease's end), and applied entries bring nothing in. Lifting it runs a
 * whole pass that brings in what the applied state places here (as at
 * node start when reconcile_all ran fenced). A change to the state it
 * already has does nothing. Returns NAOS_OK or the store's error (the
 * fence is set anyway: the next pass acts on it). */
int reconcile_fence(struct reconcile *r, bool fenced, naos_time now);

/* reconcile_path carries out an operator's one-shot command on the agent
 * or subtree at path (borrowed), below a deployment's top, as the entry
 * that asked for it is applied: sup_child_stop/start/restart. Held
 * children are kept in memory only (a node restart, or an installed
 * snapshot, starts every child of a running deployment), so it is never
 * replayed at start. out->child is NULL when the path is not in the tree
 * (out->rc NAOS_ENOTFOUND). */
void reconcile_path(struct reconcile *r, const char *path,
                    enum reconcile_verb verb, naos_time now,
                    struct reconcile_outcome *out);

/* reconcile_action_name: "none", "deploy", ... (static storage). */
const char *reconcile_action_name(enum reconcile_action a);

#endif
