/* SPDX-License-Identifier: Apache-2.0 */
/* raftlog.h: the Raft log and hard state in the store.
 *
 * The log is the `raft_log` table: key = 8-byte big-endian index, value =
 * LogEntryRecord {term, data}. It is always contiguous: appends must start
 * right after the last entry (MDB_APPEND), and a suffix is replaced only
 * by store_log_truncate_append, in one transaction, so a crash never
 * leaves a half-truncated log (RAFT-LITE §5). Terms never decrease along
 * the log. An empty log starts at index 1; a log compacted by
 * store_log_compact_txn keeps its last entry, so it never empties again
 * (TODO(#3) snapshots would record the log start).
 *
 * The hard state (term, vote, commit) is one HardStateRecord in
 * `raft_hard`. Every function here that writes commits synchronously
 * before returning NAOS_OK (RAFT-LITE P1): only then may the messages that
 * depend on it leave. To persist entries and hard state together (one
 * Raft step, one fsync), call the *_txn forms inside one store_write.
 *
 * All functions: loop thread only; errors are naos_err codes with details
 * in store_errmsg(s); NAOS_ESTORE once the store has failed. */
#ifndef NAOS_STORE_RAFTLOG_H
#define NAOS_STORE_RAFTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* struct store_log_entry: one log entry. In appends, data is borrowed
 * (copied into the store). In results of store_log_read, data is owned by
 * the result array (freed by store_log_entries_free). len may be 0. type
 * is the Raft core's enum raft_entry_type, kept as it is (0 is read back
 * as 0: the entries of the one-voter log before the core, all commands). */
struct store_log_entry {
    uint64_t index;
    uint64_t term;
    const void *data;
    size_t len;
    uint32_t type;
};
#define STORE_LOG_ENTRY_ZERO {0, 0, NULL, 0, 0}

/* struct store_hard: Raft's persistent state. vote 0 = none. */
struct store_hard {
    uint64_t term;
    uint64_t vote;
    uint64_t commit;
};
#define STORE_HARD_ZERO {0, 0, 0}

/* store_log_append appends ents[0..n) (borrowed) in one synced
 * transaction. They must be contiguous, start at last+1 (or 1 on an empty
 * log) and have terms >= the last entry's term. Returns NAOS_OK (n == 0 is
 * a no-op); NAOS_EINVAL for a gap, an overlap or a term going back
 * (nothing written); NAOS_ESTORE. */
int store_log_append(struct store *s, const struct store_log_entry *ents,
                     size_t n);

/* store_log_truncate_append deletes every entry with index >= from, then
 * appends ents[0..n) (borrowed; n may be 0 for a pure truncation; if n > 0
 * ents[0].index must equal from), all in one synced transaction. from must
 * be > the stored commit index (committed entries are never removed) and
 * <= last+1. Returns NAOS_OK, NAOS_EINVAL (nothing changed), NAOS_ESTORE. */
int store_log_truncate_append(struct store *s, uint64_t from,
                              const struct store_log_entry *ents, size_t n);

/* store_log_append_txn / store_log_truncate_append_txn: the same inside a
 * write transaction of the caller's (see store_write), to group log and
 * hard-state writes into one commit. */
int store_log_append_txn(struct store_txn *t,
                         const struct store_log_entry *ents, size_t n);
int store_log_truncate_append_txn(struct store_txn *t, uint64_t from,
                                  const struct store_log_entry *ents,
                                  size_t n);

/* store_log_bounds stores the first and last index in *first and *last
 * (either may be NULL); both 0 when the log is empty. */
int store_log_bounds(struct store *s, uint64_t *first, uint64_t *last);

/* store_log_last stores the last entry's index and term (0, 0 when
 * empty), what an election compares (Raft §5.4.1). */
int store_log_last(struct store *s, uint64_t *index, uint64_t *term);

/* store_log_last_txn: store_log_last inside a caller's transaction. */
int store_log_last_txn(struct store_txn *t, uint64_t *index, uint64_t *term);

/* store_log_compact_txn deletes the entries with index < below, except
 * the last entry of the log, which always stays so that the next append
 * continues its index (a log compacted this way starts above 1;
 * store_log_bounds reports where). For a log whose entries below `below`
 * are applied and needed by nobody (node/cmd/cmdraft.h: what every voter
 * holds, and beyond that all but a budget; a voter further behind is
 * sent a snapshot).
 * *count (may be NULL) gets the number deleted. */
int store_log_compact_txn(struct store_txn *t, uint64_t below,
                          uint64_t *count);

/* store_log_term_at stores the term of entry index in *term. Returns
 * NAOS_OK or NAOS_ENOTFOUND (not in the log). */
int store_log_term_at(struct store *s, uint64_t index, uint64_t *term);

/* store_log_read copies entries lo..hi (inclusive) into a new array
 * *out of *n entries, owned by the caller (store_log_entries_free). It
 * stops early once the data read reaches max_bytes (0 = no limit), but
 * always returns at least entry lo. Returns NAOS_OK; NAOS_ENOTFOUND (lo is
 * not in the log); NAOS_EINVAL (lo > hi or lo == 0); NAOS_ENOMEM;
 * NAOS_ESTORE. On error *out and *n are untouched. */
int store_log_read(struct store *s, uint64_t lo, uint64_t hi,
                   size_t max_bytes, struct store_log_entry **out,
                   size_t *n);

/* store_log_entries_free frees an array from store_log_read; NULL is
 * fine. */
void store_log_entries_free(struct store_log_entry *ents, size_t n);

/* store_hard_get reads the hard state into *out (all zero on a new
 * store). */
int store_hard_get(struct store *s, struct store_hard *out);

/* store_hard_set writes *h (borrowed) and returns once it is synced. A
 * term lower than the stored one is refused with NAOS_EINVAL (RAFT-LITE
 * S6: the persisted term never decreases). */
int store_hard_set(struct store *s, const struct store_hard *h);

/* store_hard_set_txn / store_hard_get_txn: the same inside a
 * transaction of the caller's. */
int store_hard_set_txn(struct store_txn *t, const struct store_hard *h);
int store_hard_get_txn(struct store_txn *t, struct store_hard *out);

/* The voters of the cluster's first configuration, founded once
 * (node --bootstrap-expect) and kept in the meta table under
 * "raft_voters" as big-endian node ids. They are the configuration until
 * the first change; from then on the log's CONFIG entries are, and the
 * applied one is kept in table `cluster` (store/conf.h). */
#define STORE_MAX_VOTERS 9

/* store_voters_get copies the stored voters into ids[0..max) and their
 * count into *n (0 when none were founded). NAOS_OK; NAOS_ESTORE (a
 * malformed record, or more than max). */
int store_voters_get(struct store *s, uint64_t *ids, size_t max, size_t *n);

/* store_voters_set founds the configuration: ids[0..n) (1..
 * STORE_MAX_VOTERS distinct non-zero ids), synced before it returns.
 * NAOS_OK (also when the same set is stored already); NAOS_EEXIST (another
 * set is stored: nothing changed); NAOS_EINVAL; NAOS_ESTORE. */
int store_voters_set(struct store *s, const uint64_t *ids, size_t n);

/* The cluster's voter target (`naos-node start --voters N`, recorded at
 * founding and copied by a node that joins: node/node_promote.c promotes
 * learners up to it), in the meta table under "raft_voter_target".
 * store_voter_target_get: *target 0 when none is recorded; NAOS_ESTORE
 * (malformed). store_voter_target_set: synced; NAOS_OK (also when the
 * same is recorded), NAOS_EEXIST (another is: nothing changed),
 * NAOS_EINVAL (not 1..STORE_MAX_VOTERS), NAOS_ESTORE. */
int store_voter_target_get(struct store *s, unsigned *target);
int store_voter_target_set(struct store *s, unsigned target);

/* The join mark ("raft_joining" in the meta table): `naos-node join`
 * began on this data directory, whose log is the cluster's once the
 * leader takes the node in (the founding voters recorded then), never a
 * log of its own: a later `start` on it is refused. Set once, never
 * cleared (the recorded voters decide from then on). Synced. */
int store_joining_get(struct store *s, bool *joining);
int store_joining_set(struct store *s);

/* store_log_install_txn: a snapshot of the state after entry (index,
 * term) is installed in the same transaction (node/cmd/cmdraft.h): the
 * whole log becomes that one entry (a no-op standing for it: the compacted
 * base), the hard state keeps its term and vote and commits index. term
 * <= the stored term, index > the stored commit index: NAOS_EINVAL
 * otherwise. NAOS_OK, NAOS_EINVAL, NAOS_ESTORE. */
int store_log_install_txn(struct store_txn *t, uint64_t index, uint64_t term);

/* ---- rebuilding (store/recover.h only; never on a running node) ---- */

/* store_log_reset_txn replaces the whole log by one entry at index (term
 * term, a no-op: type 1, RAFT_ENTRY_NOOP, no data) and the hard state by
 * {term, no vote, commit index}, without the checks that keep a live log
 * monotonic: the log of a node rebuilt from a state at index - 1, which
 * restarts as a compacted log whose base is that entry (cmdraft.h).
 * index and term > 0. NAOS_OK, NAOS_EINVAL, NAOS_ESTORE. */
int store_log_reset_txn(struct store_txn *t, uint64_t index, uint64_t term);

/* store_voters_reset_txn replaces the configuration by ids[0..n) (1..
 * STORE_MAX_VOTERS distinct non-zero ids), whatever was founded: a
 * cluster rebuilt around its survivor. NAOS_OK, NAOS_EINVAL,
 * NAOS_ESTORE. */
int store_voters_reset_txn(struct store_txn *t, const uint64_t *ids,
                           size_t n);

#endif
