/* SPDX-License-Identifier: Apache-2.0 */
/* node_cluster_status.c: `naos status` of a cluster from any node. The
 * deployments are the applied state's (the replicated records and
 * placements, the same on every node that has applied as far); their
 * live trees are what the nodes that run them report: this node's own
 * at once, each other owner's asked for (a Forward of `status --local`,
 * node_forward.c's types) and gathered, for at most STATUS_GATHER_MS. A
 * deployment whose node is not alive, or did not answer in time, shows
 * its record's state with "node_state": "unreachable", and the tree its
 * node last reported (kept per node: struct node_report), with
 * "reported_ms", how old that report is. Every deployment
 * names its node and its placement's epoch; the document names the
 * leader, term and commit index as this node sees them.
 *
 * Bounds: STATUS_GATHERS requests gathering at once (more are answered
 * BUSY); one owner's answer is one envelope (node_forward.c); what is
 * gathered is freed when the answer is sent or its client goes.
 * Reactor thread only. */
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/node_int.h"
#include "node/root/root.h"
#include "store/state.h"

/* The ids of the gathering's requests: apart from node_forward.c's. */
#define GATHER_ID_BIT (UINT64_C(1) << 63)

static struct node_gather *
gather_of_req(struct node *n, const struct ctl_req *req)
{
    for (size_t i = 0; i < STATUS_GATHERS; i++)
        if (n->gathers[i].req == req)
            return &n->gathers[i];
    return NULL;
}

static void
gather_free(struct node_gather *g)
{
    for (size_t i = 0; i < g->nask; i++)
        if (g->ask[i].reply)
            naos__v1__reply__free_unpacked(g->ask[i].reply, NULL);
    *g = (struct node_gather){0};
}

static void
gather_cancel(void *arg, struct ctl_req *req)
{
    struct node_gather *g = gather_of_req(arg, req);
    if (g != NULL)
        gather_free(g);
}

/* copy_dep: d deep-copied into rep's arena (NULL when out of memory). */
static Naos__V1__DeploymentStatus *
copy_dep(struct ctl_reply *rep, const Naos__V1__DeploymentStatus *d)
{
    size_t len = naos__v1__deployment_status__get_packed_size(d);
    uint8_t *buf = naos_alloc(len ? len : 1);
    if (buf == NULL)
        return NULL;
    naos__v1__deployment_status__pack(d, buf);
    ProtobufCAllocator a = ctl_reply_pb_allocator(rep);
    Naos__V1__DeploymentStatus *c =
        naos__v1__deployment_status__unpack(&a, len, buf);
    naos_free(buf);
    return c;
}

/* The owner's report of name, or NULL; *answered: the owner answered. */
static const Naos__V1__DeploymentStatus *
reported(const struct node_gather *g, uint64_t owner, const char *name,
         bool *answered)
{
    *answered = false;
    for (size_t i = 0; i < g->nask; i++) {
        const Naos__V1__Reply *r = g->ask[i].reply;
        if (g->ask[i].node != owner || r == NULL)
            continue;
        if (r->rep_case != NAOS__V1__REPLY__REP_STATUS || r->status == NULL)
            return NULL;
        *answered = true;
        for (size_t k = 0; k < r->status->n_deployments; k++)
            if (r->status->deployments[k]->name &&
                strcmp(r->status->deployments[k]->name, name) == 0)
                return r->status->deployments[k];
        return NULL;
    }
    return NULL;
}

/* report_keep: node's answer (a packed Reply) is its last report. Out of
 * memory: the older report stays. */
static void
report_keep(struct node *n, uint64_t node, const uint8_t *buf, size_t len)
{
    struct node_report *slot = NULL;
    for (size_t i = 0; i < NODE_MEMBERS_MAX && slot == NULL; i++)
        if (n->reports[i].node == node)
            slot = &n->reports[i];
    for (size_t i = 0; i < NODE_MEMBERS_MAX && slot == NULL; i++)
        if (n->reports[i].node == 0)
            slot = &n->reports[i];
    uint8_t *copy = naos_alloc(len ? len : 1);
    if (slot == NULL || copy == NULL) {
        naos_free(copy);
        return;
    }
    memcpy(copy, buf, len);
    naos_free(slot->buf);
    *slot = (struct node_report){node, n->r.now, copy, len};
}

/* last_report: name's tree as owner last reported it, copied into rep,
 * and *age_ms how old that report is; NULL when there is none. */
static Naos__V1__DeploymentStatus *
last_report(struct node *n, struct ctl_reply *rep, uint64_t owner,
            const char *name, int64_t *age_ms)
{
    for (size_t i = 0; i < NODE_MEMBERS_MAX; i++) {
        const struct node_report *r = &n->reports[i];
        if (r->node != owner || owner == 0)
            continue;
        Naos__V1__Reply *m = naos__v1__reply__unpack(NULL, r->len, r->buf);
        if (m == NULL)
            return NULL;
        Naos__V1__DeploymentStatus *ds = NULL;
        if (m->rep_case == NAOS__V1__REPLY__REP_STATUS && m->status)
            for (size_t k = 0; k < m->status->n_deployments && !ds; k++)
                if (m->status->deployments[k]->name &&
                    strcmp(m->status->deployments[k]->name, name) == 0)
                    ds = copy_dep(rep, m->status->deployments[k]);
        naos__v1__reply__free_unpacked(m, NULL);
        *age_ms = (int64_t)(n->r.now - r->at);
        return ds;
    }
    return NULL;
}

/* From the record alone: what its node is asked to do. */
static const char *
record_state(const Naos__V1__DeploymentRecord *rec)
{
    if (rec->failed)
        return "failed";
    return rec->desired == NAOS__V1__DESIRED_STATE__DESIRED_STOPPED
               ? "stopped"
               : "unknown";
}

/* one: rec's status, its tree as its owner reports it in g, or (use_last)
 * as it last reported it, or from the record. */
static void history(struct node *n, struct ctl_reply *rep,
                    const Naos__V1__DeploymentRecord *rec,
                    Naos__V1__DeploymentStatus *ds);

static Naos__V1__DeploymentStatus *
one(struct node *n, const struct node_gather *g, struct ctl_reply *rep,
    const Naos__V1__DeploymentRecord *rec, uint64_t owner, uint64_t epoch,
    bool use_last)
{
    Naos__V1__DeploymentStatus *ds = NULL;
    bool answered = owner == n->node_id;
    if (owner == n->node_id) {
        struct sup_node *d = sup_find(n->tree, rec->name);
        if (d != NULL)
            ds = node__deployment_status(n, rep, d);
    } else {
        const Naos__V1__DeploymentStatus *r =
            reported(g, owner, rec->name, &answered);
        if (r != NULL)
            ds = copy_dep(rep, r);
        int64_t age = 0;
        if (!answered && use_last && !rec->failed &&
            (ds = last_report(n, rep, owner, rec->name, &age)) != NULL) {
            /* as its node last told: maybe no longer so */
            ds->node_state = "unreachable";
            ds->reported_ms = age;
        }
    }
    if (ds == NULL) {
        ds = ctl_reply_alloc(rep, sizeof *ds);
        if (ds == NULL)
            return NULL;
        naos__v1__deployment_status__init(ds);
        ds->name = ctl_reply_strdup(rep, rec->name);
        /* answered without it: not started there yet */
        ds->state = (char *)(answered && !rec->failed ? "pending"
                                                      : record_state(rec));
        if (rec->failed)
            ds->failure = ctl_reply_strdup(rep, rec->failure);
        if (!answered)
            ds->node_state = "unreachable";
    }
    /* (no placement: a record not placed yet; no node to name) */
    ds->node = owner ? ctl_reply_strdup(rep, node__node_name(n, owner)) : "";
    ds->epoch = epoch;
    /* the root supervisor's moves, as it counts them now */
    node__root_limits(rec, &ds->max_migrations, &ds->migration_window_ms);
    ds->on_partition_keep = rec->spec && rec->spec->on_partition_keep;
    ds->migrations = root_moves_in_window(rec->migrations_at_ms,
                                          rec->n_migrations_at_ms,
                                          ds->migration_window_ms,
                                          (int64_t)n->r.wall_ms);
    history(n, rep, rec, ds);
    return ds;
}

/* history: rec's moves, with node names (in rep's arena; what does not
 * fit is left out). */
static void
history(struct node *n, struct ctl_reply *rep,
        const Naos__V1__DeploymentRecord *rec, Naos__V1__DeploymentStatus *ds)
{
    if (rec->n_history == 0 ||
        (ds->history = ctl_reply_alloc(rep, rec->n_history *
                                                sizeof *ds->history)) == NULL)
        return;
    for (size_t i = 0; i < rec->n_history; i++) {
        const Naos__V1__PlacementMove *m = rec->history[i];
        Naos__V1__MoveStatus *h = ctl_reply_alloc(rep, sizeof *h);
        if (h == NULL)
            return;
        naos__v1__move_status__init(h);
        h->from = ctl_reply_strdup(rep, node__node_name(n, m->from_node));
        h->to = ctl_reply_strdup(rep, node__node_name(n, m->to_node));
        h->reason = ctl_reply_strdup(rep, m->reason);
        h->at_wall_ms = m->at_ms;
        h->epoch = m->epoch;
        ds->history[ds->n_history++] = h;
    }
}

/* mark_released: a placement its drained node released runs nowhere
 * until the root places it elsewhere: "moving". */
static void
mark_released(Naos__V1__DeploymentStatus *ds,
              const Naos__V1__PlacementRecord *pl)
{
    if (!pl->released)
        return;
    ds->released = true;
    ds->state = "moving";
    ds->node_state = "";
}

Naos__V1__DeploymentStatus *
node__recorded_status(struct node *n, struct ctl_reply *rep, const char *name)
{
    Naos__V1__DeploymentRecord *rec = NULL;
    Naos__V1__PlacementRecord *pl = NULL;
    if (store_deploy_get(n->store, name, &rec) != NAOS_OK)
        return NULL;
    Naos__V1__DeploymentStatus *ds = NULL;
    if (store_placement_get(n->store, name, &pl) == NAOS_OK) {
        /* asked here: its node did not run it yet (or did not answer
         * for it): pending */
        struct node_gather none = {0};
        uint32_t load;
        bool live = pl->node_id == n->node_id ||
                    node__members_live_load(n, pl->node_id, &load);
        ds = one(n, &none, rep, rec, pl->node_id, pl->epoch, !live);
        if (ds != NULL && live && ds->tree == NULL && !rec->failed &&
            rec->desired != NAOS__V1__DESIRED_STATE__DESIRED_STOPPED) {
            ds->state = "pending";
            ds->node_state = "";
        }
        if (ds != NULL)
            mark_released(ds, pl);
        store_placement_free(pl);
    }
    store_deploy_free(rec);
    return ds;
}

/* Answers g's client: every deployment of the applied state. */
static void
compose(struct node *n, struct node_gather *g)
{
    struct ctl_req *req = g->req;
    struct node_http_wait *hw = g->http;
    struct ctl_reply *rep = req ? ctl_req_reply(req)
                                : node__http_wait_reply(hw);
    Naos__V1__DeploymentRecord **recs = NULL;
    Naos__V1__PlacementRecord **pl = NULL;
    size_t nrec = 0, npl = 0;
    if (store_deploy_list(n->store, &recs, &nrec) != NAOS_OK ||
        store_placement_list(n->store, &pl, &npl) != NAOS_OK) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot read the deployments: %s",
                        store_errmsg(n->store));
        goto done;
    }
    Naos__V1__Status *st = ctl_reply_alloc(rep, sizeof *st);
    Naos__V1__ClusterInfo *ci = ctl_reply_alloc(rep, sizeof *ci);
    if (st == NULL || ci == NULL)
        goto done;
    naos__v1__status__init(st);
    naos__v1__cluster_info__init(ci);
    st->node = n->name;
    const struct raft *core = cmdraft_core(n->log);
    uint64_t leader = raft_leader(core).v;
    ci->leader = leader ? ctl_reply_strdup(rep, node__node_name(n, leader))
                        : "";
    ci->term = raft_term(core);
    ci->commit = cmdraft_commit_index(n->log);
    ci->voters = (uint32_t)n->nvoters;
    ci->fenced = n->lease_on && n->rec.fenced;
    ci->fenced_why = ci->fenced ? ctl_reply_strdup(rep, n->fence_detail) : "";
    st->cluster = ci;
    if (nrec > 0 &&
        (st->deployments = ctl_reply_alloc(rep, nrec * sizeof(void *))) ==
            NULL)
        goto done;
    /* both lists come in name order (the store's keys): one walk */
    size_t k = 0;
    for (size_t i = 0; i < nrec; i++) {
        uint64_t owner = 0, epoch = 0;
        while (k < npl && strcmp(pl[k]->name, recs[i]->name) < 0)
            k++;
        if (k < npl && strcmp(pl[k]->name, recs[i]->name) == 0) {
            owner = pl[k]->node_id;
            epoch = pl[k]->epoch;
        }
        Naos__V1__DeploymentStatus *ds =
            one(n, g, rep, recs[i], owner, epoch, true);
        if (ds != NULL && owner != 0)
            mark_released(ds, pl[k]);
        if (ds != NULL)
            st->deployments[st->n_deployments++] = ds;
    }
    rep->msg.rep_case = NAOS__V1__REPLY__REP_STATUS;
    rep->msg.status = st;
done:
    store_deploy_list_free(recs, nrec);
    store_placement_list_free(pl, npl);
    gather_free(g);
    if (req != NULL)
        ctl_req_finish(req);
    else
        node__http_wait_done(n, hw);
}

static bool
gather_busy(const struct node_gather *g)
{
    return g->req != NULL || g->http != NULL;
}

/* gather_start: asks every other live member for its report; composes
 * at once when there is nobody to ask. */
static void
gather_start(struct node *n, struct node_gather *g)
{
    g->deadline = n->r.now + STATUS_GATHER_MS;
    /* ask every other member that is alive (its placements or not: a
     * deploy being applied there may have started) */
    uint64_t ids[NODE_MEMBERS_MAX];
    size_t nm = node__conf_members(n, ids);
    for (size_t i = 0; i < nm; i++) {
        uint64_t id = ids[i];
        uint32_t load;
        if (id == n->node_id || !node__members_live_load(n, id, &load))
            continue;
        uint64_t ask = GATHER_ID_BIT | ++n->gather_seq;
        if (node__forward_status_local(n, id, ask) != NAOS_OK)
            continue;
        g->ask[g->nask].node = id;
        g->ask[g->nask].id = ask;
        g->nask++;
    }
    if (g->nask == 0)
        compose(n, g);
}

static struct node_gather *
gather_slot(struct node *n)
{
    for (size_t i = 0; i < STATUS_GATHERS; i++)
        if (!gather_busy(&n->gathers[i]))
            return &n->gathers[i];
    return NULL;
}

bool
node__cluster_status_try(struct node *n, struct ctl_req *creq,
                         const Naos__V1__Request *req, struct ctl_reply *rep)
{
    if (creq == NULL || req->req_case != NAOS__V1__REQUEST__REQ_STATUS ||
        n->log == NULL || !n->replicated ||
        (req->status && (req->status->local ||
                         (req->status->name && req->status->name[0]))))
        return false;
    struct node_gather *g = gather_slot(n);
    if (g == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "%d cluster status requests are being answered: try "
                        "again in a moment (or `naos status --local`)",
                        STATUS_GATHERS);
        return true;
    }
    if (ctl_req_defer(creq, gather_cancel, n) != NAOS_OK)
        return false; /* this node's trees, as without a cluster */
    *g = (struct node_gather){.req = creq};
    gather_start(n, g);
    return true;
}

int
node__cluster_status_http(struct node *n, struct node_http_wait *hw)
{
    if (n->log == NULL || !n->replicated)
        return NAOS_EINVAL;
    /* at most half the slots: `naos status` keeps the rest */
    size_t http = 0;
    for (size_t i = 0; i < STATUS_GATHERS; i++)
        http += n->gathers[i].http != NULL;
    struct node_gather *g = http < STATUS_GATHERS / 2 ? gather_slot(n) : NULL;
    if (g == NULL)
        return NAOS_EBUSY;
    *g = (struct node_gather){.http = hw};
    gather_start(n, g);
    return NAOS_OK;
}

bool
node__cluster_status_reply(struct node *n, uint64_t from, uint64_t id,
                           const uint8_t *reply, size_t len)
{
    if (!(id & GATHER_ID_BIT))
        return false;
    for (size_t i = 0; i < STATUS_GATHERS; i++) {
        struct node_gather *g = &n->gathers[i];
        if (!gather_busy(g))
            continue;
        size_t pending = 0;
        bool mine = false;
        for (size_t k = 0; k < g->nask; k++) {
            if (g->ask[k].id == id && g->ask[k].node == from &&
                g->ask[k].reply == NULL) {
                g->ask[k].reply = naos__v1__reply__unpack(NULL, len, reply);
                g->ask[k].answered = true;
                mine = true;
                if (g->ask[k].reply != NULL &&
                    g->ask[k].reply->rep_case == NAOS__V1__REPLY__REP_STATUS)
                    report_keep(n, from, reply, len);
            }
            pending += !g->ask[k].answered;
        }
        if (mine) {
            if (pending == 0)
                compose(n, g);
            return true;
        }
    }
    return true; /* late: its gathering is over */
}

void
node__cluster_status_tick(struct node *n)
{
    for (size_t i = 0; i < STATUS_GATHERS; i++)
        if (gather_busy(&n->gathers[i]) &&
            n->r.now >= n->gathers[i].deadline)
            compose(n, &n->gathers[i]);
}

naos_time
node__cluster_status_deadline(struct node *n)
{
    naos_time d = NAOS_TIME_NEVER;
    for (size_t i = 0; i < STATUS_GATHERS; i++)
        if (gather_busy(&n->gathers[i]) && n->gathers[i].deadline < d)
            d = n->gathers[i].deadline;
    return d;
}

void
node__cluster_status_close(struct node *n)
{
    for (size_t i = 0; i < STATUS_GATHERS; i++) {
        if (n->gathers[i].http != NULL)
            node__http_wait_drop(n->gathers[i].http);
        if (gather_busy(&n->gathers[i]))
            gather_free(&n->gathers[i]);
    }
    for (size_t i = 0; i < NODE_MEMBERS_MAX; i++) {
        naos_free(n->reports[i].buf);
        n->reports[i] = (struct node_report){0};
    }
}
