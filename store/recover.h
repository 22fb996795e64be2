/* SPDX-License-Identifier: Apache-2.0 */
/* recover.h: turning a store into the data of a new ONE-VOTER cluster
 * (`naos-node recover`, docs/architecture.md "Snapshots and recovery"),
 * once the voter majority is lost for good (etcd's --force-new-cluster and
 * `snapshot restore`). Inside one write transaction of the caller's, so a
 * snapshot load and the rebuild land together or not at all.
 *
 * Given a store whose state tables and last_applied A hold the state to
 * run (loaded from a snapshot, or a survivor's own), store_recover_txn:
 *  - makes the recovery an entry of its own, B = A + 1, in a term above
 *    every term the store knows: the log becomes that one no-op entry
 *    (a compacted log based at B), the hard state {term, no vote,
 *    commit B}, last_applied B;
 *  - places EVERY deployment on this node with epoch B (above every
 *    epoch the old cluster gave: fencing), rewriting the placements: the
 *    nodes they were on are gone, and a deployment placed elsewhere would
 *    never run again;
 *  - makes the configuration this node alone (meta raft_voters);
 *  - gives the node the identity {node_id, cluster_id (new), fixed}: a new
 *    cluster id, so members of the old cluster that come back (same key)
 *    are refused by this node's envelope checks and cannot disturb its
 *    log (they must still not be restarted on their old data: two of
 *    them are a majority of the old configuration).
 * Not done here: the events, replay marks and node registry stay.
 *
 * Loop thread / one thread, not on a running node (the store's lock
 * keeps a running node out). */
#ifndef NAOS_STORE_RECOVER_H
#define NAOS_STORE_RECOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* struct store_recover: what to rebuild around. */
struct store_recover {
    uint64_t node_id;      /* the only voter; non-zero */
    uint64_t cluster_id;   /* the new cluster's id; non-zero */
    int64_t created_at_ms; /* the identity's (kept from the old one) */
    /* keep_log: the store is a survivor's own (recover --data): refuse
     * when its log holds committed entries it has not applied yet, which
     * the rebuild would drop (start it once to apply them) */
    bool keep_log;
};

/* struct store_recover_result: what the rebuild did. */
struct store_recover_result {
    uint64_t applied; /* A: the state's applied index */
    uint64_t index;   /* B = A + 1: the recovery's entry */
    uint64_t term;    /* its term */
    uint64_t placed;  /* deployments now placed on node_id */
    uint64_t moved;   /* of which were placed on another node before */
    uint64_t dropped; /* log entries above A that were dropped (uncommitted
                         as far as this voter knew) */
};

/* store_recover_txn rebuilds as above inside write transaction t; *res
 * (caller storage) says what it did. Returns NAOS_OK; NAOS_EINVAL (zero
 * ids); NAOS_EBUSY (keep_log and committed entries not applied yet:
 * nothing should be written: the caller aborts); NAOS_ENOMEM;
 * NAOS_ESTORE. Messages through store_errmsg. */
int store_recover_txn(struct store_txn *t, const struct store_recover *r,
                      struct store_recover_result *res);

#endif
