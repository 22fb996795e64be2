/* SPDX-License-Identifier: Apache-2.0 */
#include "store/conf.h"

#include <string.h>

#include "node/base/err.h"
#include "store/store_pb.h"

#define CONF_KEY "conf"

/* valid: the bounds every configuration keeps (raft_conf_validate's). */
static bool
valid(const uint64_t *v, size_t nv, const uint64_t *l, size_t nl)
{
    if (nv < 1 || nv > STORE_CONF_MAX_VOTERS || nl > STORE_CONF_MAX_LEARNERS)
        return false;
    for (size_t i = 0; i < nv + nl; i++) {
        uint64_t id = i < nv ? v[i] : l[i - nv];
        if (id == 0)
            return false;
        for (size_t j = 0; j < i; j++)
            if ((j < nv ? v[j] : l[j - nv]) == id)
                return false;
    }
    return true;
}

int
store_conf_get_txn(struct store_txn *t, struct store_conf *out)
{
    Naos__V1__ClusterConfRecord *r = NULL;
    int err = store_pb_get(t, STORE_CLUSTER, CONF_KEY, strlen(CONF_KEY),
                           &naos__v1__cluster_conf_record__descriptor,
                           (ProtobufCMessage **)&r);
    if (err != NAOS_OK)
        return err;
    if (!valid(r->voters, r->n_voters, r->learners, r->n_learners)) {
        size_t nv = r->n_voters, nl = r->n_learners;
        store_pb_free(&r->base);
        return store_txn_fail(t, NAOS_ESTORE, "corrupt record in cluster: "
                              "a configuration of %zu voters and %zu "
                              "learners", nv, nl);
    }
    memset(out, 0, sizeof *out);
    /* (an empty repeated field is NULL: never handed to memcpy) */
    for (size_t i = 0; i < r->n_voters; i++)
        out->voters[i] = r->voters[i];
    out->nvoters = r->n_voters;
    for (size_t i = 0; i < r->n_learners; i++)
        out->learners[i] = r->learners[i];
    out->nlearners = r->n_learners;
    out->index = r->index;
    store_pb_free(&r->base);
    return NAOS_OK;
}

static int
get_fn(struct store_txn *t, void *arg)
{
    return store_conf_get_txn(t, arg);
}

int
store_conf_get(struct store *s, struct store_conf *out)
{
    return store_read(s, get_fn, out);
}

int
store_conf_set_txn(struct store_txn *t, const struct store_conf *c)
{
    if (!valid(c->voters, c->nvoters, c->learners, c->nlearners))
        return store_txn_fail(t, NAOS_EINVAL, "cluster: a configuration of "
                              "%zu voters and %zu learners (1..%d voters, "
                              "0..%d learners, distinct non-zero ids)",
                              c->nvoters, c->nlearners,
                              STORE_CONF_MAX_VOTERS, STORE_CONF_MAX_LEARNERS);
    Naos__V1__ClusterConfRecord r = NAOS__V1__CLUSTER_CONF_RECORD__INIT;
    uint64_t v[STORE_CONF_MAX_VOTERS], l[STORE_CONF_MAX_LEARNERS];
    memcpy(v, c->voters, c->nvoters * sizeof *v);
    memcpy(l, c->learners, c->nlearners * sizeof *l);
    r.voters = v;
    r.n_voters = c->nvoters;
    r.learners = l;
    r.n_learners = c->nlearners;
    r.index = c->index;
    return store_pb_put(t, STORE_CLUSTER, CONF_KEY, strlen(CONF_KEY),
                        &r.base, 0);
}
