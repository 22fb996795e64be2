/* SPDX-License-Identifier: Apache-2.0 */
/* cmdlog.h: the command log of a one-voter cluster. The second stage of
 * the command path (cmd.h): an entry proposed here is appended to the
 * store's Raft log (store/raftlog.h) and, this node being the only
 * voter, committed in the same synced transaction (the hard state's
 * commit index moves to it). The node then reads committed entries in
 * order (cmdlog_read) and hands each to apply (apply.h).
 *
 * The interface is the one the Raft core will take over
 * (TODO(#11) node/raft): propose returns the index the entry got, commit
 * happens when the policy says (here: at once; with Raft: on a quorum),
 * and the caller learns it from cmdlog_commit_index, never from propose.
 * A caller that waits for its entry waits for "committed and applied up
 * to its index", whichever policy commits it.
 *
 * Compaction: a one-voter log keeps no entry that is applied, except the
 * last (so indexes continue): each propose deletes the entries below the
 * store's last_applied, in the same transaction. A checkpoint's data is
 * thus held twice only until the next command.
 *
 * Terms: a one-voter cluster is in term 1 from its first entry on (the
 * stored term if higher).
 *
 * Loop thread only (the store's rule). Errors are naos_err codes with
 * details in store_errmsg(store); NAOS_ESTORE with store_is_failed()
 * true means a commit failed: the node must stop (exit 111) and
 * acknowledge nothing more. */
#ifndef NAOS_NODE_CMD_CMDLOG_H
#define NAOS_NODE_CMD_CMDLOG_H

#include <stddef.h>
#include <stdint.h>

#include "store/raftlog.h"
#include "store/store.h"

/* struct cmdlog: caller storage; fields are read-only outside cmdlog.c. */
struct cmdlog {
    struct store *store; /* borrowed: valid until cmdlog_fini */
    uint64_t term;       /* term of new entries */
    uint64_t last;       /* last index in the log (0: empty) */
    uint64_t commit;     /* highest committed index */
    uint64_t proposed;   /* entries proposed through this handle */
};
#define CMDLOG_ZERO {NULL, 0, 0, 0, 0}

/* cmdlog_init reads the log's bounds and the hard state of s (borrowed;
 * must outlive l) into l (caller storage). The commit index is the
 * stored one, capped at the last entry. Returns NAOS_OK or a store error. */
int cmdlog_init(struct cmdlog *l, struct store *s);

/* cmdlog_fini forgets the store; safe on a zeroed cmdlog. */
void cmdlog_fini(struct cmdlog *l);

/* cmdlog_propose appends data (len bytes, borrowed: copied into the
 * store) as the next entry and commits it (one voter), with the
 * compaction above, in one synced transaction. *index gets its index.
 * Returns NAOS_OK once durable; NAOS_ESTORE (nothing was appended; see
 * store_is_failed); NAOS_ENOMEM. */
int cmdlog_propose(struct cmdlog *l, const void *data, size_t len,
                   uint64_t *index);

/* cmdlog_commit_index: the highest committed index (0: none). Entries
 * applied..commit are waiting for apply. */
uint64_t cmdlog_commit_index(const struct cmdlog *l);

/* cmdlog_read copies entry index into *out (caller frees with
 * store_log_entries_free(*out, 1)). Returns NAOS_OK; NAOS_ENOTFOUND (not
 * in the log: compacted, or never written); NAOS_EINVAL (index above the
 * commit index: not readable yet); NAOS_ENOMEM; NAOS_ESTORE. */
int cmdlog_read(struct cmdlog *l, uint64_t index,
                struct store_log_entry **out);

#endif
