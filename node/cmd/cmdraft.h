/* SPDX-License-Identifier: Apache-2.0 */
/* cmdraft.h: the command log, replicated: the second stage of the command
 * path (cmd.h) over the Raft-lite core (node/raft/raft.h) and the store's
 * log (store/raftlog.h). It is the core's driver: it restores the core
 * from the store, persists each ready batch in one synced transaction
 * before any of the batch's messages leave (RAFT-LITE P1), hands the
 * messages to the node's transport (a callback), and tells the node how
 * far the log is committed. A single node is a one-voter cluster on the
 * same path: it stands at open and wins alone.
 *
 * What the node does with it (node_cmd.c): propose on the leader; after
 * every event (proposal, message, tick) call cmdraft_flush; apply entries
 * up to cmdraft_commit_index, reading them with cmdraft_read (the store is
 * the one copy the applier reads; the core's own copy only serves the
 * peers). NOOP entries (a new leader's) are skipped by the applier.
 *
 * Compaction: each flush that writes the log also deletes, in its
 * transaction, the entries below raft_compact_point (what every voter
 * holds, and beyond that all but the last keep_entries / keep_bytes
 * applied entries), keeping the one at that index (so indexes continue
 * and its term is known at restore); the core then forgets them
 * (raft_compact). One voter: everything applied. A voter that lags past
 * the budget is sent a snapshot (node_raft_snap.c), which it installs
 * with cmdraft_snapshot_offer and cmdraft_snapshot_install.
 *
 * Loop thread only (the store's rule). A failed commit is fatal (the
 * store is failed; the node stops with exit 111, store.h). */
#ifndef NAOS_NODE_CMD_CMDRAFT_H
#define NAOS_NODE_CMD_CMDRAFT_H

#include <stddef.h>
#include <stdint.h>

#include "node/base/time.h"
#include "node/raft/raft.h"
#include "store/raftlog.h"
#include "store/snapshot.h"
#include "store/store.h"

/* The budget of applied entries kept for a voter that lags (cmdraft.h
 * "Compaction"): etcd keeps 5,000 entries after a snapshot; their data is
 * bounded too, since an entry may be a 1 MiB checkpoint. */
#define CMDRAFT_KEEP_ENTRIES 5000
#define CMDRAFT_KEEP_BYTES ((size_t)64 << 20)

/* struct cmdraft_config: who we are and how messages leave. */
struct cmdraft_config {
    uint64_t node_id;        /* non-zero */
    uint64_t cluster_id;     /* non-zero */
    const uint64_t *voters;  /* borrowed; NULL: this node alone */
    size_t nvoters;          /* 0 with voters NULL; else 1..RAFT_MAX_VOTERS */
    /* send: m (borrowed for the call) to m->to, best effort. Called only
     * after what m promises is synced. May be NULL (one voter). */
    void (*send)(void *ctx, const struct raft_msg *m);
    /* event: role changes and dropped messages (raft.h). May be NULL. */
    void (*event)(void *ctx, const struct raft_event *ev);
    /* read_done: the outcome of a cmdraft_read_index (raft.h struct
     * raft_read_result, borrowed for the call), inside cmdraft_flush after
     * the batch's messages left. Must not call into the handle. May be
     * NULL (then reads are not asked for). */
    void (*read_done)(void *ctx, const struct raft_read_result *res);
    void *ctx;
    /* the compaction budget: 0 takes CMDRAFT_KEEP_ENTRIES / _BYTES */
    size_t keep_entries;
    size_t keep_bytes;
};

struct cmdraft;

/* cmdraft_open restores the core from store s (borrowed; must outlive the
 * handle): hard state, the log from its first entry, last_applied. One
 * voter: it campaigns at once. Returns NAOS_OK (*out set); NAOS_EINVAL
 * (the stored log or the config is malformed: errbuf says); NAOS_ENOMEM;
 * NAOS_ESTORE (store_errmsg). */
int cmdraft_open(struct cmdraft **out, struct store *s,
                 const struct cmdraft_config *cfg, naos_time now,
                 char *errbuf, size_t errlen);

/* cmdraft_close frees the handle (NULL is fine); nothing is written. */
void cmdraft_close(struct cmdraft *c);

/* cmdraft_propose appends data (len bytes, copied) as a command entry at
 * the leader and flushes (a lone voter commits it before returning).
 * *index gets its index. Returns NAOS_OK; NAOS_EBUSY (not the leader, or
 * too many entries wait: cmdraft_errmsg says; cmdraft_leader hints);
 * NAOS_ETOOBIG; NAOS_ENOMEM; NAOS_ESTORE (the flush's commit failed). */
int cmdraft_propose(struct cmdraft *c, const void *data, size_t len,
                    naos_time now, uint64_t *index);

/* cmdraft_change proposes one change of the configuration at the leader
 * (raft_change) and flushes; *index gets its entry. Returns NAOS_OK;
 * NAOS_EBUSY, NAOS_EINVAL (cmdraft_errmsg says); NAOS_ESTORE. */
int cmdraft_change(struct cmdraft *c, enum raft_change_kind kind, uint64_t id,
                   naos_time now, uint64_t *index);

/* cmdraft_read_index asks the core for a linearizable read index
 * (raft_read_index, ReadIndex) named ctx, and flushes; the outcome comes
 * through cfg.read_done (with one voter within this call). Returns NAOS_OK;
 * NAOS_EBUSY (not the leader, or too many reads wait: cmdraft_errmsg);
 * NAOS_ESTORE (the flush's commit failed). */
int cmdraft_read_index(struct cmdraft *c, uint64_t ctx, naos_time now);

/* cmdraft_on_message hands m (untrusted; m->from set from the
 * authenticated envelope) to the core. cmdraft_tick runs what is due.
 * Both leave work for cmdraft_flush. */
void cmdraft_on_message(struct cmdraft *c, const struct raft_msg *m,
                        naos_time now);
void cmdraft_tick(struct cmdraft *c, naos_time now);
/* cmdraft_on_conn_closed: the transport's connection to node id closed
 * (raft_on_conn_closed: the closed-leader fast path). */
void cmdraft_on_conn_closed(struct cmdraft *c, uint64_t id, naos_time now);
naos_time cmdraft_next_deadline(const struct cmdraft *c);

/* cmdraft_flush persists every ready batch (one synced transaction each),
 * then sends its messages. Returns NAOS_OK or NAOS_ESTORE (fatal: the
 * store is failed; nothing of the batch left). */
int cmdraft_flush(struct cmdraft *c, naos_time now);

/* cmdraft_commit_index: the highest index committed and durable here. */
uint64_t cmdraft_commit_index(const struct cmdraft *c);

/* cmdraft_read copies committed entry index from the store into *out
 * (caller frees with store_log_entries_free(*out, 1)). Returns NAOS_OK;
 * NAOS_EINVAL (above the commit index); NAOS_ENOTFOUND (compacted);
 * NAOS_ENOMEM; NAOS_ESTORE. */
int cmdraft_read(struct cmdraft *c, uint64_t index,
                 struct store_log_entry **out);

/* cmdraft_snapshot_offer: the leader `from` (an authenticated sender)
 * offers the snapshot of the state after (index, snap_term) in its term
 * (raft_snapshot_offer: INSTALL, HAVE, REFUSE). HAVE leaves an answer
 * for cmdraft_flush. On INSTALL, call cmdraft_snapshot_install next, with
 * no other call in between. */
enum raft_snap_verdict cmdraft_snapshot_offer(struct cmdraft *c,
                                              uint64_t from, uint64_t term,
                                              uint64_t index,
                                              uint64_t snap_term,
                                              naos_time now);

/* cmdraft_snapshot_install loads the snapshot stream of rd (borrowed; a
 * store/snapshot.h stream, checked whole) into the store in ONE synced
 * transaction with the log reduced to (index, snap_term) and the commit
 * index there (store_log_install_txn), then tells the core and flushes
 * (its answer to the leader leaves). The stream must be of this cluster
 * and hold exactly the state after (index, snap_term). Returns NAOS_OK;
 * NAOS_EINVAL or NAOS_ETOOBIG (the stream is refused: err says why;
 * nothing changed, and the core still waits: offer again); the reader's
 * error; NAOS_ENOMEM; NAOS_ESTORE (fatal: the store is failed). */
int cmdraft_snapshot_install(struct cmdraft *c, const struct snap_reader *rd,
                             uint64_t index, uint64_t snap_term,
                             naos_time now, char *err, size_t errlen);

/* Inspection. */
const struct raft *cmdraft_core(const struct cmdraft *c);
uint64_t cmdraft_cluster_id(const struct cmdraft *c);
const char *cmdraft_errmsg(const struct cmdraft *c);

#endif
