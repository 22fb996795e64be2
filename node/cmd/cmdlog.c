/* SPDX-License-Identifier: Apache-2.0 */
/* cmdlog.c: the one-voter command log (cmdlog.h). */
#include "node/cmd/cmdlog.h"

#include "node/base/err.h"
#include "store/state.h"

int
cmdlog_init(struct cmdlog *l, struct store *s)
{
    struct cmdlog tmp = CMDLOG_ZERO;
    tmp.store = s;
    struct store_hard h = STORE_HARD_ZERO;
    uint64_t lastterm = 0;
    int rc = store_hard_get(s, &h);
    if (rc == NAOS_OK)
        rc = store_log_last(s, &tmp.last, &lastterm);
    if (rc != NAOS_OK)
        return rc;
    tmp.term = h.term > lastterm ? h.term : lastterm;
    if (tmp.term == 0)
        tmp.term = 1;
    tmp.commit = h.commit < tmp.last ? h.commit : tmp.last;
    *l = tmp;
    return NAOS_OK;
}

void
cmdlog_fini(struct cmdlog *l)
{
    l->store = NULL;
}

struct propose_args {
    struct cmdlog *l;
    const void *data;
    size_t len;
    uint64_t index; /* out */
};

/* Runs again from the start when the map grows: computes everything from
 * the transaction, keeps nothing across calls. */
static int
propose_fn(struct store_txn *t, void *arg)
{
    struct propose_args *a = arg;
    struct cmdlog *l = a->l;
    uint64_t last = 0, lastterm = 0;
    struct store_hard h = STORE_HARD_ZERO;
    int rc = store_log_last_txn(t, &last, &lastterm);
    if (rc == NAOS_OK)
        rc = store_hard_get_txn(t, &h);
    if (rc != NAOS_OK)
        return rc;
    uint64_t term = l->term;
    if (h.term > term)
        term = h.term;
    if (lastterm > term)
        term = lastterm;
    struct store_log_entry e = {last + 1, term, a->data, a->len};
    if ((rc = store_log_append_txn(t, &e, 1)) != NAOS_OK)
        return rc;
    h.term = term;
    h.commit = e.index; /* the only voter: a quorum of one */
    if ((rc = store_hard_set_txn(t, &h)) != NAOS_OK)
        return rc;
    /* Nobody needs applied entries: no follower, and the state they built
     * is in the tables. The entry at the applied index itself stays, in
     * case it is the last. */
    uint64_t applied = 0;
    if ((rc = store_applied_get_txn(t, &applied)) != NAOS_OK)
        return rc;
    if (applied > 1 &&
        (rc = store_log_compact_txn(t, applied, NULL)) != NAOS_OK)
        return rc;
    a->index = e.index;
    return NAOS_OK;
}

int
cmdlog_propose(struct cmdlog *l, const void *data, size_t len,
               uint64_t *index)
{
    struct propose_args a = {l, data, len, 0};
    int rc = store_write(l->store, propose_fn, &a);
    if (rc != NAOS_OK)
        return rc;
    l->last = a.index;
    l->commit = a.index;
    l->proposed++;
    *index = a.index;
    return NAOS_OK;
}

uint64_t
cmdlog_commit_index(const struct cmdlog *l)
{
    return l->commit;
}

int
cmdlog_read(struct cmdlog *l, uint64_t index, struct store_log_entry **out)
{
    if (index == 0 || index > l->commit)
        return NAOS_EINVAL;
    size_t n = 0;
    return store_log_read(l->store, index, index, 0, out, &n);
}
