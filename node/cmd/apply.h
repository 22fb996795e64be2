/* SPDX-License-Identifier: Apache-2.0 */
/* apply.h: the third stage of the command path (cmd.h): committed entries
 * become the applied state. Apply is the ONLY writer of deployments,
 * placements, checkpoints and last_applied (the node's identity, events
 * and replay marks are the node's own, not cluster state).
 *
 * Takes: one committed entry (its index and the decoded Command).
 * Emits: one synced store transaction holding the entry's effects and
 *        last_applied = index together (RAFT-LITE P7: a crash leaves both
 *        or neither), and a struct apply_result saying what the entry did
 *        (for the reply and for the reconciler, reconcile.h).
 *
 * Rules:
 *  - in order, exactly once: an entry is applied only at last_applied + 1
 *    (NAOS_EEXIST below or at it: nothing done, so a restart that runs
 *    the committed entries again changes nothing; NAOS_EINVAL above it);
 *  - deterministic: the result depends on the store and the entry only,
 *    never on the clock, this node or what runs (times, the placement's
 *    node and who saved a checkpoint travel in the entry);
 *  - an entry that cannot take effect (rm of a deployment that is gone,
 *    deploy of a name taken, an entry that fails cmd_validate) is still
 *    applied: last_applied moves, nothing else changes, and the result
 *    says why. Only a store failure leaves it unapplied.
 *
 * Effects per type (deployment = the DeploymentRecord named):
 *   deploy   record {spec, desired running, generation 1} and placement
 *            {node_id of the entry, epoch = index}; EEXIST if the name
 *            is taken
 *   stop     desired stopped; start: desired running; restart: desired
 *            running and restarts + 1 (the reconciler carries a restart
 *            out once per increment); all three clear the failed mark and
 *            bump generation. On a path below a deployment: nothing (held
 *            children are the owning node's, in memory) but the check
 *            that the deployment exists
 *   rm       record, its checkpoints and its placement deleted
 *   fail     failed mark and failure text set, generation bumped
 *   checkpoint save  store_ckpt_save_ex semantics (seq continues from the
 *            path and its aliases, aliases folded); the deployment must
 *            exist (a save racing an rm leaves nothing behind); a save
 *            with an epoch (not 0) is fenced: NAOS_ESTALE when the
 *            deployment's placement has another epoch (moved, or removed
 *            and deployed again since that epoch: the writer is an
 *            earlier instance), nothing saved. Epoch 0 (the operator's
 *            override), or a deployment with no placement record (from
 *            before placements), saves unfenced
 *   migrate  the placement moves to_node with epoch = index (appended to
 *            the record's history, APPLY_HISTORY_MAX kept), only from
 *            the placement named (from_epoch); "migrated" only while the
 *            deployment is failed (the move counts, the mark is cleared);
 *            "node-lost" of whatever ran there; "drained" only once the
 *            placement is released. Neither of the last two counts, and
 *            a failed deployment stays failed
 *   drain    the node's drain record written (kept, with its first since,
 *            when it is drained already); undrain: deleted
 *   release  the placement marked released, only while it is the one
 *            named (epoch and node) and the node's drain record is the
 *            one named (drain_index): EINVAL otherwise
 *   noop     nothing
 *   a CONFIG entry (apply_item.conf; not a Command): the configuration
 *            recorded (store/conf.h), nothing else
 * Every change sets updated_at_ms to the entry's at_ms.
 *
 * Deduplication (store/clients.h): an entry of version >= 2 with a
 * client id is a client's command (stop and start excepted: carried out
 * again, they change nothing more). If that client's record holds its seq
 * or a later one, the entry is a duplicate (a retry after an unknown
 * outcome): nothing changes but last_applied, and the result is the
 * first one's (dup_of names its entry). A duplicate id on a command of
 * another type or target is refused (EINVAL). Otherwise the entry is
 * applied and its outcome recorded as the client's, in the same
 * transaction.
 *
 * Loop thread only (the store's rule). */
#ifndef NAOS_NODE_CMD_APPLY_H
#define NAOS_NODE_CMD_APPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/command.pb-c.h"
#include "proto/store.pb-c.h"
#include "store/conf.h"
#include "store/store.h"

#define APPLY_ERRMSG_LEN 512
/* The most nodes a record's missing_on names: a configuration's members
 * (the nodes that lacked its program, never moved to again). */
#define APPLY_MISSING_ON_MAX 17
/* The most moves a record's history keeps (the oldest dropped). */
#define APPLY_HISTORY_MAX 8

/* struct apply_result: what one applied entry did. */
struct apply_result {
    uint64_t index;
    /* NAOS_OK: took effect. NAOS_ENOTFOUND: no such deployment.
     * NAOS_EEXIST: deploy of a name taken. NAOS_EINVAL: the entry failed
     * cmd_validate (msg says why). NAOS_ESTALE: a checkpoint save fenced
     * by an epoch that is not the placement's (placed_on, placed_epoch:
     * where and at which epoch it runs now). Nothing changed but
     * last_applied. */
    int status;
    bool changed_deployment; /* the deployment's record or placement */
    uint64_t placed_on;      /* deploy, stop, start, restart, rm of a
                                deployment, a stale checkpoint save: the
                                node it is (was) on */
    uint64_t placed_epoch;   /* a stale checkpoint save: the placement's
                                epoch */
    uint64_t ckpt_seq;       /* checkpoint save: the seq it got */
    uint64_t ckpt_size;      /* checkpoint save: the bytes saved */
    int64_t at_ms;           /* the command's proposal time */
    uint64_t dup_of;         /* a duplicate: the entry that carried the
                                command out (status and the fields above
                                are that entry's); 0 otherwise */
    bool conf_changed;       /* a CONFIG entry recorded its configuration */
    char msg[APPLY_ERRMSG_LEN];
};

/* apply_result_of_client fills res as a duplicate of the command rec
 * records (its status and fields; dup_of = rec->index): what a retry of
 * that command is answered. */
void apply_result_of_client(const Naos__V1__ClientRecord *rec,
                            struct apply_result *res);

/* apply_entry applies c (borrowed), the committed entry at index, to s.
 * Returns NAOS_OK (applied: see res->status for what it did);
 * NAOS_EEXIST (index <= last_applied: already applied, nothing done);
 * NAOS_EINVAL (index > last_applied + 1: an entry would be skipped);
 * NAOS_ENOMEM (nothing applied: try again); NAOS_ESTORE (nothing applied;
 * store_is_failed(s) tells a failed commit, after which the node must
 * stop). res is caller storage, filled on NAOS_OK. */
int apply_entry(struct store *s, uint64_t index, const Naos__V1__Command *c,
                struct apply_result *res);

/* APPLY_BATCH_MAX: entries applied in one transaction at most
 * (apply_entries). */
#define APPLY_BATCH_MAX 64

/* struct apply_item: one committed entry of a batch. */
struct apply_item {
    uint64_t index;
    const Naos__V1__Command *c; /* borrowed */
    /* a CONFIG entry (c is then a noop): the configuration to record
     * (borrowed; its index is set to the entry's) */
    const struct store_conf *conf;
    bool invalid;               /* set by apply_entries: cmd_validate refused */
    bool already;               /* set: applied before, nothing done */
    struct apply_result res;    /* set unless already */
};

/* apply_entries applies items[0..n) (n <= APPLY_BATCH_MAX, consecutive
 * indices) in ONE transaction: all of them or none, each entry whole,
 * last_applied ending at the last. The log holds every entry durably
 * before it is applied, so one transaction (and one sync) per batch
 * instead of per entry loses nothing: a batch lost to a crash is applied
 * again from the log. Returns NAOS_OK (see each item's already and res),
 * NAOS_EINVAL (n out of range, indices not consecutive, or an entry would
 * be skipped: nothing applied), NAOS_ENOMEM, NAOS_ESTORE as apply_entry. */
int apply_entries(struct store *s, struct apply_item *items, size_t n);

/* apply_noop applies a log entry that holds no command (a new leader's
 * no-op): only last_applied moves. Returns as apply_entry. */
int apply_noop(struct store *s, uint64_t index, struct apply_result *res);

#endif
