/* SPDX-License-Identifier: Apache-2.0 */
/* conf.h: the cluster's Raft configuration as the applied state holds it
 * (table `cluster`, key "conf", proto/store.proto ClusterConfRecord):
 * which nodes vote and which only receive the log. Written by the applier
 * (node/cmd/apply.c) when it applies a CONFIG entry, in the entry's
 * transaction; carried in snapshots (store/snapshot.c); read at start to
 * restore the Raft core (node/cmd/cmdraft.c). Absent until the first
 * change: the founding voters (meta raft_voters, raftlog.h) are the
 * configuration until then. The store does not know raft.h: the ids are
 * plain node ids. Loop thread only (the store's rule). */
#ifndef NAOS_STORE_CONF_H
#define NAOS_STORE_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_CONF_MAX_VOTERS 9   /* RAFT_MAX_VOTERS */
#define STORE_CONF_MAX_LEARNERS 8 /* RAFT_MAX_LEARNERS */

struct store_conf {
    uint64_t voters[STORE_CONF_MAX_VOTERS];
    size_t nvoters;
    uint64_t learners[STORE_CONF_MAX_LEARNERS];
    size_t nlearners;
    uint64_t index; /* the CONFIG entry that set it */
};

/* store_conf_get_txn / store_conf_get read the configuration into *out.
 * NAOS_OK; NAOS_ENOTFOUND (none recorded: the founding voters are it);
 * NAOS_ESTORE (a record that breaks the bounds: corrupt); NAOS_ENOMEM. */
int store_conf_get_txn(struct store_txn *t, struct store_conf *out);
int store_conf_get(struct store *s, struct store_conf *out);

/* store_conf_set_txn records c (1..9 voters, 0..8 learners, ids distinct
 * and non-zero: NAOS_EINVAL otherwise). NAOS_OK or the store's error. */
int store_conf_set_txn(struct store_txn *t, const struct store_conf *c);

#endif
