/* SPDX-License-Identifier: Apache-2.0 */
/* recover.c: a store rebuilt as a one-voter cluster (recover.h). */
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "store/conf.h"
#include "store/raftlog.h"
#include "store/recover.h"
#include "store/state.h"
#include "store/store_pb.h"

/* The deployments' names, copied out of the scan (a put inside it would
 * invalidate the cursor's pages). */
struct names {
    char **v;
    size_t n, cap;
};

static void
names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        naos_free(ns->v[i]);
    naos_free(ns->v);
    *ns = (struct names){0};
}

static int
name_one(const void *key, size_t klen, const void *val, size_t vlen,
         void *arg)
{
    (void)val;
    (void)vlen;
    struct names *ns = arg;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? 2 * ns->cap : 64;
        char **v = naos_realloc(ns->v, cap * sizeof *v);
        if (v == NULL)
            return NAOS_ENOMEM;
        ns->v = v;
        ns->cap = cap;
    }
    char *s = naos_alloc(klen + 1);
    if (s == NULL)
        return NAOS_ENOMEM;
    memcpy(s, key, klen);
    s[klen] = '\0';
    ns->v[ns->n++] = s;
    return NAOS_OK;
}

int
store_recover_txn(struct store_txn *t, const struct store_recover *r,
                  struct store_recover_result *res)
{
    *res = (struct store_recover_result){0};
    if (r->node_id == 0 || r->cluster_id == 0)
        return store_txn_fail(t, NAOS_EINVAL, "recover: zero node or "
                              "cluster id");
    uint64_t applied = 0, last = 0, lastterm = 0;
    struct store_hard h = STORE_HARD_ZERO;
    int rc = store_applied_get_txn(t, &applied);
    if (rc == NAOS_OK)
        rc = store_log_last_txn(t, &last, &lastterm);
    if (rc == NAOS_OK)
        rc = store_hard_get_txn(t, &h);
    if (rc != NAOS_OK)
        return rc;
    if (r->keep_log && h.commit > applied)
        return store_txn_fail(t, NAOS_EBUSY, "this voter's log holds "
                              "committed entries %llu..%llu that it has not "
                              "applied yet, which recovering now would drop: "
                              "start it once with `naos-node start` (it "
                              "applies them without a leader), stop it, and "
                              "recover again",
                              (unsigned long long)applied + 1,
                              (unsigned long long)h.commit);
    res->applied = applied;
    res->index = applied + 1;
    res->term = (h.term > lastterm ? h.term : lastterm) + 1;
    res->dropped = last > applied ? last - applied : 0;

    struct names ns = {0};
    if ((rc = store_txn_scan(t, STORE_DEPLOYMENTS, NULL, 0, name_one,
                             &ns)) != NAOS_OK)
        goto out;
    for (size_t i = 0; i < ns.n; i++) {
        Naos__V1__PlacementRecord *old = NULL;
        rc = store_placement_get_txn(t, ns.v[i], &old);
        if (rc != NAOS_OK && rc != NAOS_ENOTFOUND)
            goto out;
        if (old == NULL || old->node_id != r->node_id)
            res->moved++;
        store_placement_free(old);
    }
    /* a placement whose deployment is gone places nothing: dropped */
    if ((rc = store_txn_del_from(t, STORE_PLACEMENTS, "", 1, NULL)) !=
        NAOS_OK)
        goto out;
    for (size_t i = 0; i < ns.n; i++) {
        Naos__V1__PlacementRecord p = NAOS__V1__PLACEMENT_RECORD__INIT;
        p.name = ns.v[i];
        p.node_id = r->node_id;
        p.epoch = res->index;
        if ((rc = store_placement_put_txn(t, &p)) != NAOS_OK)
            goto out;
        res->placed++;
    }
    uint64_t self = r->node_id;
    struct store_identity id = {r->node_id, r->cluster_id, r->created_at_ms,
                                true};
    /* the replicated configuration too (store/conf.h): the one the old
     * cluster applied would be restored over the founding voters */
    struct store_conf one = {.voters = {self}, .nvoters = 1,
                             .index = res->index};
    if ((rc = store_log_reset_txn(t, res->index, res->term)) != NAOS_OK ||
        (rc = store_applied_set_txn(t, res->index)) != NAOS_OK ||
        (rc = store_voters_reset_txn(t, &self, 1)) != NAOS_OK ||
        (rc = store_conf_set_txn(t, &one)) != NAOS_OK ||
        (rc = store_identity_put_txn(t, &id)) != NAOS_OK)
        goto out;
out:
    names_free(&ns);
    return rc;
}
