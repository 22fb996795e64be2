/* SPDX-License-Identifier: Apache-2.0 */
/* state.h: the cluster state tables of the store, and the node identity.
 *
 *   deployments  name -> DeploymentRecord (spec tree, desired state, ...)
 *   placements   name -> PlacementRecord (node id, epoch)
 *   nodes        node id -> NodeRecord (name, addr, state, incarnation)
 *   checkpoints  agent path -> CheckpointRecord (<= 1 MiB of data)
 *   identity     "self" -> IdentityRecord (node id, cluster id)
 *   meta         "last_applied" -> 8-byte BE index
 *
 * Records are the protobuf-c structs of proto/store.proto, so a new field
 * needs no API change. Records passed in are borrowed (packed into the
 * store). Records returned are owned by the caller and freed with the
 * matching *_free (never with free()). List results are arrays owned by
 * the caller, freed with the matching *_list_free.
 *
 * Every write commits synchronously before returning NAOS_OK. The *_txn
 * forms do the same inside a caller's store_write, so a Raft apply can
 * write its effects and last_applied in one transaction (RAFT-LITE P7).
 * Names and paths are 1..STORE_MAX_KEY bytes; NAOS_EINVAL otherwise.
 * Getters return NAOS_ENOTFOUND when the key is absent; deletes return
 * NAOS_ENOTFOUND when there was nothing to delete. Details of any error
 * are in store_errmsg(s). Loop thread only. */
#ifndef NAOS_STORE_STATE_H
#define NAOS_STORE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/spec/spec.h"
#include "proto/store.pb-c.h"
#include "store/store.h"

/* ---- deployments ---- */

/* store_deploy_put writes rec under rec->name (replacing any). */
int store_deploy_put(struct store *s, const Naos__V1__DeploymentRecord *rec);
int store_deploy_put_txn(struct store_txn *t,
                         const Naos__V1__DeploymentRecord *rec);
/* store_deploy_put_spec builds the record from spec (borrowed; its root
 * id is the name) and writes it. NAOS_ENOMEM/NAOS_EINVAL from spec_pb. */
int store_deploy_put_spec(struct store *s, const struct spec_node *spec,
                          Naos__V1__DesiredState desired,
                          uint64_t generation, int64_t updated_at_ms);
/* store_deploy_get stores a new record in *out (caller frees with
 * store_deploy_free). */
int store_deploy_get(struct store *s, const char *name,
                     Naos__V1__DeploymentRecord **out);
int store_deploy_get_txn(struct store_txn *t, const char *name,
                         Naos__V1__DeploymentRecord **out);
/* store_deploy_del deletes the record of deployment name and, in the same
 * transaction, every checkpoint of it: the one saved under name itself
 * and every one under "name/" (not those of "name2" or "name-x/..."). */
int store_deploy_del(struct store *s, const char *name);
int store_deploy_del_txn(struct store_txn *t, const char *name);
/* store_deploy_list returns every record in name order: *out is an array
 * of *n records (NULL and 0 when none), freed with store_deploy_list_free. */
int store_deploy_list(struct store *s, Naos__V1__DeploymentRecord ***out,
                      size_t *n);
void store_deploy_free(Naos__V1__DeploymentRecord *rec);
void store_deploy_list_free(Naos__V1__DeploymentRecord **recs, size_t n);

/* ---- placements ---- */

int store_placement_put(struct store *s, const Naos__V1__PlacementRecord *rec);
int store_placement_put_txn(struct store_txn *t,
                            const Naos__V1__PlacementRecord *rec);
int store_placement_get(struct store *s, const char *name,
                        Naos__V1__PlacementRecord **out);
int store_placement_get_txn(struct store_txn *t, const char *name,
                            Naos__V1__PlacementRecord **out);
int store_placement_del(struct store *s, const char *name);
int store_placement_del_txn(struct store_txn *t, const char *name);
int store_placement_list(struct store *s, Naos__V1__PlacementRecord ***out,
                         size_t *n);
void store_placement_free(Naos__V1__PlacementRecord *rec);
void store_placement_list_free(Naos__V1__PlacementRecord **recs, size_t n);

/* ---- node registry (key: rec->id, never 0) ---- */

int store_node_put(struct store *s, const Naos__V1__NodeRecord *rec);
int store_node_put_txn(struct store_txn *t, const Naos__V1__NodeRecord *rec);
int store_node_get(struct store *s, uint64_t id, Naos__V1__NodeRecord **out);
int store_node_del(struct store *s, uint64_t id);
int store_node_del_txn(struct store_txn *t, uint64_t id);
/* store_node_list returns the records in id order. */
int store_node_list(struct store *s, Naos__V1__NodeRecord ***out, size_t *n);
void store_node_free(Naos__V1__NodeRecord *rec);
void store_node_list_free(Naos__V1__NodeRecord **recs, size_t n);

/* ---- drained nodes (replicated: written by apply only) ---- */

int store_drain_put_txn(struct store_txn *t, const Naos__V1__DrainRecord *rec);
int store_drain_del_txn(struct store_txn *t, uint64_t node_id);
/* store_drain_get: NAOS_ENOTFOUND when node_id is not drained. */
int store_drain_get(struct store *s, uint64_t node_id,
                    Naos__V1__DrainRecord **out);
int store_drain_get_txn(struct store_txn *t, uint64_t node_id,
                        Naos__V1__DrainRecord **out);
/* store_drain_list returns the records in node id order. */
int store_drain_list(struct store *s, Naos__V1__DrainRecord ***out,
                     size_t *n);
void store_drain_free(Naos__V1__DrainRecord *rec);
void store_drain_list_free(Naos__V1__DrainRecord **recs, size_t n);

/* ---- checkpoints ---- */

/* 1 MiB - 4 KiB of data per agent: a save is a log entry, which with its
 * command fits one sealed envelope (RAFT_MAX_ENTRY_SIZE) */
#define STORE_CKPT_MAX ((1u << 20) - 4096)

/* store_ckpt_save stores data (len bytes, borrowed; len 0 is fine) as the
 * checkpoint of agent path, with seq = previous seq + 1 (1 for the first)
 * and size = len; the new seq goes to *seq (may be NULL). Returns NAOS_OK;
 * NAOS_ETOOBIG when len > STORE_CKPT_MAX (nothing changed; the message
 * names the path, the size and the limit); NAOS_EINVAL; NAOS_ESTORE. */
int store_ckpt_save(struct store *s, const char *path, const void *data,
                    size_t len, int64_t saved_at_ms, uint64_t *seq);

/* struct store_ckpt_origin: who saves a checkpoint, stamped on its record
 * (saved_by_*). agent NULL or "" = the operator. */
struct store_ckpt_origin {
    const char *agent; /* borrowed: the saving run's agent path */
    int pid;           /* that run's pid */
    uint32_t restarts; /* that run's restart count */
};
#define STORE_CKPT_ORIGIN_ZERO {NULL, 0, 0}

/* store_ckpt_save_ex is store_ckpt_save with the saver's identity (origin,
 * borrowed; NULL = the operator) and the other keys the same checkpoint
 * may have been saved under by an older node (aliases: naliases borrowed
 * paths, e.g. a one-worker deployment's name for its worker's path). In
 * the same transaction the records under aliases are removed, and seq
 * continues from the highest seq of path and its aliases, so a reader of
 * either never sees seq go back. Same errors as store_ckpt_save. */
int store_ckpt_save_ex(struct store *s, const char *path,
                       const char *const *aliases, size_t naliases,
                       const void *data, size_t len, int64_t saved_at_ms,
                       const struct store_ckpt_origin *origin, uint64_t *seq);
/* store_ckpt_save_ex_txn: store_ckpt_save_ex inside a write transaction
 * of the caller's (the apply step of the command path writes a save and
 * last_applied in one commit). Same arguments and errors. */
int store_ckpt_save_ex_txn(struct store_txn *t, const char *path,
                           const char *const *aliases, size_t naliases,
                           const void *data, size_t len, int64_t saved_at_ms,
                           const struct store_ckpt_origin *origin,
                           uint64_t *seq);
/* store_ckpt_put_txn writes rec as given (a replicated checkpoint), with
 * the same size limit; rec->size must equal rec->data.len. */
int store_ckpt_put_txn(struct store_txn *t,
                       const Naos__V1__CheckpointRecord *rec);
int store_ckpt_get(struct store *s, const char *path,
                   Naos__V1__CheckpointRecord **out);
int store_ckpt_del(struct store *s, const char *path);
int store_ckpt_del_txn(struct store_txn *t, const char *path);
/* store_ckpt_list returns every checkpoint in path order WITHOUT its data
 * (data.len 0; size, seq, saved_at_ms filled), to list cheaply. */
int store_ckpt_list(struct store *s, Naos__V1__CheckpointRecord ***out,
                    size_t *n);
void store_ckpt_free(Naos__V1__CheckpointRecord *rec);
void store_ckpt_list_free(Naos__V1__CheckpointRecord **recs, size_t n);

/* ---- identity ---- */

/* struct store_identity: who this node is; written once per data dir. */
struct store_identity {
    uint64_t node_id;    /* never 0 */
    uint64_t cluster_id; /* never 0 */
    int64_t created_at_ms;
    bool cluster_fixed;  /* cluster_id founded or adopted (membership) */
};
#define STORE_IDENTITY_ZERO {0, 0, 0, false}

/* store_identity_get_or_create returns the stored identity in *out, or, on
 * the first open, creates it from want (borrowed; NULL or zero fields =
 * random ids from getrandom, created_at now) and stores it (synced).
 * *created (may be NULL) tells which happened. An existing identity is
 * never changed: want is then ignored. */
int store_identity_get_or_create(struct store *s,
                                 const struct store_identity *want,
                                 struct store_identity *out, bool *created);
/* store_identity_get: NAOS_ENOTFOUND before the first get_or_create. */
int store_identity_get(struct store *s, struct store_identity *out);
/* store_identity_set_cluster fixes the cluster id (non-zero) of the
 * existing identity and sets cluster_fixed: a node that founds a cluster
 * fixes its own id, a node that joins adopts the id of the cluster it
 * joined (learned from the first authenticated answer). The node id is
 * never changed. Returns NAOS_OK, NAOS_EINVAL (0), NAOS_ENOTFOUND (no
 * identity yet) or NAOS_ESTORE. */
int store_identity_set_cluster(struct store *s, uint64_t cluster_id);
/* store_identity_put_txn writes *id (borrowed; node_id and cluster_id
 * non-zero) as the identity, replacing any: for store/recover.h only,
 * which gives a rebuilt node a new cluster. NAOS_OK, NAOS_EINVAL,
 * NAOS_ESTORE. */
int store_identity_put_txn(struct store_txn *t,
                           const struct store_identity *id);
/* store_identity_get_txn: store_identity_get inside a transaction. */
int store_identity_get_txn(struct store_txn *t, struct store_identity *out);

/* ---- last applied (RAFT-LITE P7) ---- */

/* store_applied_set_txn records index as applied, inside the transaction
 * that writes the effects of the entries. NAOS_EINVAL if it would go
 * back. store_applied_get reads it (0 on a new store). */
int store_applied_set_txn(struct store_txn *t, uint64_t index);
int store_applied_get(struct store *s, uint64_t *index);
int store_applied_get_txn(struct store_txn *t, uint64_t *index);
/* store_applied_force_txn sets last_applied to index even below what is
 * stored: for a store whose log is rebuilt in the same transaction
 * (store/recover.h) only. */
int store_applied_force_txn(struct store_txn *t, uint64_t index);

/* ---- replay marks (node/auth/seal.h "Across restarts") ----
 * Per sender of sealed envelopes, the highest counter accepted and when
 * (our wall clock), so a restarted node refuses envelopes it acted on
 * before. Kept in the meta table under "replay/" + the 8-byte big-endian
 * sender id, as 16 bytes: top, last_ms (big-endian). At most
 * AUTH_REPLAY_MAX_SENDERS are written (the caller evicts and deletes). */

/* struct store_replay_mark: one sender's mark, or (gone) its deletion. */
struct store_replay_mark {
    uint64_t sender; /* never 0 */
    uint64_t top;
    int64_t last_ms;
    bool gone;
};

/* store_replay_marks_write writes marks[0..n) (borrowed) in one synced
 * transaction: gone entries are deleted (absent is fine), the others
 * replace what was stored. Returns NAOS_OK once durable; NAOS_EINVAL
 * (sender 0: nothing written); NAOS_ESTORE. */
int store_replay_marks_write(struct store *s,
                             const struct store_replay_mark *marks, size_t n);

/* store_replay_marks_put is store_replay_marks_write inside the caller's
 * write transaction t (the node's before-sleep batch, store/batch.h):
 * durable when t's store_write returns NAOS_OK. Same errors. */
int store_replay_marks_put(struct store_txn *t,
                           const struct store_replay_mark *marks, size_t n);

/* store_replay_marks_list returns every stored mark, in sender order, in
 * *out (naos_alloc'd, free with naos_free; NULL when none) and *n. A
 * malformed entry (not 16 bytes) is skipped. */
int store_replay_marks_list(struct store *s, struct store_replay_mark **out,
                            size_t *n);

#endif
