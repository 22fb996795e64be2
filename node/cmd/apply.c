/* SPDX-License-Identifier: Apache-2.0 */
/* apply.c: committed entries -> the applied state (apply.h). */
#include "node/cmd/apply.h"

#include <stdio.h>
#include <string.h>

#include "node/base/err.h"
#include "node/cmd/cmd.h"
#include "node/spec/spec.h"
#include "proto/spec_pb.h"
#include "store/clients.h"
#include "store/conf.h"
#include "store/state.h"

struct apply_args {
    uint64_t index;
    const Naos__V1__Command *c;
    struct apply_result *res;
    bool invalid; /* cmd_validate refused it (decided once, outside) */
    const struct store_conf *conf; /* a CONFIG entry's configuration */
};

/* Sets (failure non-NULL) or clears the failed mark of rec, a record
 * unpacked with the store's allocator. */
static int
set_failed(Naos__V1__DeploymentRecord *rec, const char *failure)
{
    char *copy = (char *)protobuf_c_empty_string;
    if (failure != NULL) {
        size_t len = strlen(failure) + 1;
        copy = spec_pb_allocator.alloc(spec_pb_allocator.allocator_data, len);
        if (copy == NULL)
            return NAOS_ENOMEM;
        memcpy(copy, failure, len);
    }
    if (rec->failure != NULL && rec->failure != protobuf_c_empty_string)
        spec_pb_allocator.free(spec_pb_allocator.allocator_data, rec->failure);
    rec->failure = copy;
    rec->failed = failure != NULL;
    return NAOS_OK;
}

/* clear_moves forgets rec's moves and the nodes that lacked its program
 * (the operator started it again: a fresh window), freeing them with the
 * store's allocator. */
static void
clear_moves(Naos__V1__DeploymentRecord *rec)
{
    if (rec->migrations_at_ms != NULL)
        spec_pb_allocator.free(spec_pb_allocator.allocator_data,
                               rec->migrations_at_ms);
    rec->migrations_at_ms = NULL;
    rec->n_migrations_at_ms = 0;
    if (rec->missing_on != NULL)
        spec_pb_allocator.free(spec_pb_allocator.allocator_data,
                               rec->missing_on);
    rec->missing_on = NULL;
    rec->n_missing_on = 0;
}

/* add_missing records that node lacks rec's program or directory. */
static int
add_missing(Naos__V1__DeploymentRecord *rec, uint64_t node)
{
    for (size_t i = 0; i < rec->n_missing_on; i++)
        if (rec->missing_on[i] == node)
            return NAOS_OK;
    if (node == 0 || rec->n_missing_on >= APPLY_MISSING_ON_MAX)
        return NAOS_OK;
    uint64_t *v = spec_pb_allocator.alloc(spec_pb_allocator.allocator_data,
                                          (rec->n_missing_on + 1) *
                                              sizeof *v);
    if (v == NULL)
        return NAOS_ENOMEM;
    for (size_t i = 0; i < rec->n_missing_on; i++)
        v[i] = rec->missing_on[i];
    v[rec->n_missing_on] = node;
    if (rec->missing_on != NULL)
        spec_pb_allocator.free(spec_pb_allocator.allocator_data,
                               rec->missing_on);
    rec->missing_on = v;
    rec->n_missing_on++;
    return NAOS_OK;
}

/* add_history appends a move to rec's history, dropping the oldest past
 * APPLY_HISTORY_MAX. The record's parts are the store allocator's. */
static int
add_history(Naos__V1__DeploymentRecord *rec, uint64_t from, uint64_t to,
            const char *reason, int64_t at_ms, uint64_t epoch)
{
    ProtobufCAllocator *al = &spec_pb_allocator;
    size_t n = rec->n_history,
           keep = n < APPLY_HISTORY_MAX ? n : APPLY_HISTORY_MAX - 1;
    Naos__V1__PlacementMove **v =
        al->alloc(al->allocator_data, (keep + 1) * sizeof *v);
    Naos__V1__PlacementMove *m = al->alloc(al->allocator_data, sizeof *m);
    char *why = al->alloc(al->allocator_data, strlen(reason) + 1);
    if (v == NULL || m == NULL || why == NULL) {
        if (v != NULL)
            al->free(al->allocator_data, v);
        if (m != NULL)
            al->free(al->allocator_data, m);
        if (why != NULL)
            al->free(al->allocator_data, why);
        return NAOS_ENOMEM;
    }
    naos__v1__placement_move__init(m);
    m->from_node = from;
    m->to_node = to;
    memcpy(why, reason, strlen(reason) + 1);
    m->reason = why;
    m->at_ms = at_ms;
    m->epoch = epoch;
    for (size_t i = 0; i < n - keep; i++)
        protobuf_c_message_free_unpacked(&rec->history[i]->base, al);
    for (size_t i = 0; i < keep; i++)
        v[i] = rec->history[n - keep + i];
    v[keep] = m;
    if (rec->history != NULL)
        al->free(al->allocator_data, rec->history);
    rec->history = v;
    rec->n_history = keep + 1;
    return NAOS_OK;
}

static void
result(struct apply_result *res, int status, const char *fmt, const char *arg)
{
    res->status = status;
    snprintf(res->msg, sizeof res->msg, fmt, arg);
}

/* The deployment a name or path belongs to: its first component. */
static void
deployment_of(const char *path, char *out, size_t len)
{
    size_t n = strcspn(path, "/");
    snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), path);
}

static int
deploy_txn(struct store_txn *t, struct apply_args *a)
{
    const Naos__V1__DeployCommand *d = a->c->deploy;
    const char *name = d->spec->id;
    Naos__V1__DeploymentRecord *old = NULL;
    int rc = store_deploy_get_txn(t, name, &old);
    if (rc == NAOS_OK) {
        store_deploy_free(old);
        result(a->res, NAOS_EEXIST, "deployment %.64s already exists", name);
        return NAOS_OK;
    }
    if (rc != NAOS_ENOTFOUND)
        return rc;
    Naos__V1__DeploymentRecord rec = NAOS__V1__DEPLOYMENT_RECORD__INIT;
    rec.name = (char *)name;
    rec.spec = d->spec;
    rec.desired = NAOS__V1__DESIRED_STATE__DESIRED_RUNNING;
    rec.generation = 1;
    rec.updated_at_ms = a->c->at_ms;
    Naos__V1__PlacementRecord pl = NAOS__V1__PLACEMENT_RECORD__INIT;
    pl.name = (char *)name;
    pl.node_id = d->node_id;
    pl.epoch = a->index;
    a->res->placed_on = d->node_id;
    if ((rc = store_deploy_put_txn(t, &rec)) != NAOS_OK ||
        (rc = store_placement_put_txn(t, &pl)) != NAOS_OK)
        return rc;
    a->res->changed_deployment = true;
    return NAOS_OK;
}

/* placed_on sets res->placed_on from name's placement (0: none) and,
 * unless NULL, *epoch (0: none). */
static int
placed_on(struct store_txn *t, const char *name, struct apply_result *res,
          uint64_t *epoch, bool *released)
{
    Naos__V1__PlacementRecord *pl = NULL;
    int rc = store_placement_get_txn(t, name, &pl);
    if (rc == NAOS_ENOTFOUND)
        return NAOS_OK;
    if (rc != NAOS_OK)
        return rc;
    res->placed_on = pl->node_id;
    if (epoch != NULL)
        *epoch = pl->epoch;
    if (released != NULL)
        *released = pl->released;
    store_placement_free(pl);
    return NAOS_OK;
}

/* `naos drain NODE` / `naos undrain NODE`: the node's drain record. */
static int
drain_txn(struct store_txn *t, struct apply_args *a)
{
    const Naos__V1__DrainCommand *d = a->c->drain;
    if (!d->drain) {
        int rc = store_drain_del_txn(t, d->node_id);
        return rc == NAOS_ENOTFOUND ? NAOS_OK : rc;
    }
    Naos__V1__DrainRecord *old = NULL;
    int rc = store_drain_get_txn(t, d->node_id, &old);
    if (rc == NAOS_OK) {
        store_drain_free(old); /* drained already: since stays */
        return NAOS_OK;
    }
    if (rc != NAOS_ENOTFOUND)
        return rc;
    Naos__V1__DrainRecord rec = NAOS__V1__DRAIN_RECORD__INIT;
    rec.node_id = d->node_id;
    rec.since_ms = a->c->at_ms;
    rec.index = a->index;
    return store_drain_put_txn(t, &rec);
}

/* A draining node released a placement it stopped: only that placement,
 * still on that node (moved, removed or redeployed since: nothing), and
 * only under the drain it was made under (undrained since, the node may
 * run it again: nothing). */
static int
release_txn(struct store_txn *t, struct apply_args *a)
{
    const Naos__V1__ReleaseCommand *r = a->c->release;
    Naos__V1__DrainRecord *d = NULL;
    int rc = store_drain_get_txn(t, r->node_id, &d);
    if (rc != NAOS_OK && rc != NAOS_ENOTFOUND)
        return rc;
    bool same = rc == NAOS_OK && d->index == r->drain_index;
    store_drain_free(d);
    if (!same) {
        result(a->res, NAOS_EINVAL, "%.64s: its node was undrained since "
               "it released it", r->name);
        return NAOS_OK;
    }
    Naos__V1__PlacementRecord *pl = NULL;
    rc = store_placement_get_txn(t, r->name, &pl);
    if (rc == NAOS_ENOTFOUND) {
        result(a->res, NAOS_ENOTFOUND, "no placement of %.64s", r->name);
        return NAOS_OK;
    }
    if (rc != NAOS_OK)
        return rc;
    if (pl->epoch != r->epoch || pl->node_id != r->node_id) {
        store_placement_free(pl);
        result(a->res, NAOS_EINVAL, "%.64s moved or was deployed again "
               "since it was released", r->name);
        return NAOS_OK;
    }
    pl->released = true;
    rc = store_placement_put_txn(t, pl);
    a->res->placed_on = pl->node_id;
    store_placement_free(pl);
    return rc;
}

/* The root supervisor moves a deployment that gave up to another node:
 * only the placement it was decided on, and only while it is failed
 * (started, moved, removed or redeployed since: nothing changes); or,
 * reason "node-lost", a deployment whose node's lease ran out, failed or
 * not. The placement's epoch becomes this entry's index. */
static int
migrate_txn(struct store_txn *t, struct apply_args *a)
{
    const Naos__V1__MigrateCommand *m = a->c->migrate;
    Naos__V1__DeploymentRecord *rec = NULL;
    int rc = store_deploy_get_txn(t, m->name, &rec);
    if (rc == NAOS_ENOTFOUND) {
        result(a->res, NAOS_ENOTFOUND, "no deployment named %.64s",
               m->name);
        return NAOS_OK;
    }
    if (rc != NAOS_OK)
        return rc;
    /* A move off a lost node is of whatever ran there (and keeps a
     * failed deployment failed); one that gave up moves only while it
     * still is failed; a drained one only once its node released it. */
    bool drained = strcmp(m->reason, "drained") == 0;
    bool lost = drained || strcmp(m->reason, "node-lost") == 0;
    uint64_t epoch = 0;
    bool released = false;
    if ((rc = placed_on(t, m->name, a->res, &epoch, &released)) != NAOS_OK ||
        epoch != m->from_epoch || (!lost && !rec->failed) ||
        (drained && !released)) {
        store_deploy_free(rec);
        if (rc == NAOS_OK)
            result(a->res, NAOS_EINVAL, "%.64s moved, started or was "
                   "deployed again since the move was decided", m->name);
        return rc;
    }
    /* the moves: this one appended (unless it does not count), the
     * oldest dropped past the most a deployment may ask for */
    size_t n = rec->n_migrations_at_ms, keep = n < SPEC_MIGRATIONS_MAX
                                                   ? n
                                                   : SPEC_MIGRATIONS_MAX - 1;
    if (m->uncounted)
        keep = n; /* copied as it is, nothing appended */
    int64_t *moves = spec_pb_allocator.alloc(spec_pb_allocator.allocator_data,
                                             (keep + 1) * sizeof *moves);
    if (moves == NULL) {
        store_deploy_free(rec);
        return NAOS_ENOMEM;
    }
    for (size_t i = 0; i < keep; i++)
        moves[i] = rec->migrations_at_ms[n - keep + i];
    moves[keep] = a->c->at_ms;
    spec_pb_allocator.free(spec_pb_allocator.allocator_data,
                           rec->migrations_at_ms);
    rec->migrations_at_ms = moves;
    rec->n_migrations_at_ms = keep + !m->uncounted;
    char *reason = (char *)protobuf_c_empty_string;
    rc = add_history(rec, a->res->placed_on, m->to_node, m->reason,
                     a->c->at_ms, a->index);
    if (rc == NAOS_OK && !lost)
        rc = set_failed(rec, NULL); /* it runs again, there */
    if (rc == NAOS_OK) {
        /* the record's strings are the store allocator's: swapped for a
         * borrowed one only while it is written */
        reason = rec->moved_reason;
        rec->moved_reason = m->reason;
        rec->moved_epoch = a->index;
        rec->generation++;
        rec->updated_at_ms = a->c->at_ms;
        rc = store_deploy_put_txn(t, rec);
        rec->moved_reason = reason;
    }
    Naos__V1__PlacementRecord pl = NAOS__V1__PLACEMENT_RECORD__INIT;
    pl.name = m->name;
    pl.node_id = m->to_node;
    pl.epoch = a->index;
    if (rc == NAOS_OK)
        rc = store_placement_put_txn(t, &pl);
    store_deploy_free(rec);
    if (rc == NAOS_OK) {
        a->res->placed_on = m->to_node;
        a->res->changed_deployment = true;
    }
    return rc;
}

/* stop, start, restart (want), fail (failure; epoch: the placement that
 * gave up, 0 = unknown; missing: for lack of its program or directory
 * on that node). */
static int
change_txn(struct store_txn *t, struct apply_args *a, const char *name,
           Naos__V1__DesiredState want, bool restart, const char *failure,
           uint64_t epoch, bool missing)
{
    char dep[STORE_MAX_KEY + 1];
    deployment_of(name, dep, sizeof dep);
    Naos__V1__DeploymentRecord *rec = NULL;
    int rc = store_deploy_get_txn(t, dep, &rec);
    if (rc == NAOS_ENOTFOUND) {
        result(a->res, NAOS_ENOTFOUND, "no deployment named %.64s", dep);
        return NAOS_OK;
    }
    if (rc != NAOS_OK)
        return rc;
    if (strcmp(dep, name) != 0) {
        /* A path: held children live in memory on the owning node. */
        store_deploy_free(rec);
        return NAOS_OK;
    }
    uint64_t placed_epoch = 0;
    if ((rc = placed_on(t, name, a->res, &placed_epoch, NULL)) != NAOS_OK) {
        store_deploy_free(rec);
        return rc;
    }
    if (failure != NULL && epoch != 0 && epoch != placed_epoch) {
        /* an earlier placement's failure (moved since): not this one's */
        store_deploy_free(rec);
        return NAOS_OK;
    }
    if (failure != NULL) {
        rc = set_failed(rec, failure);
        rec->failed_node = a->res->placed_on;
        rec->failed_at_ms = a->c->at_ms;
        if (rc == NAOS_OK && missing)
            rc = add_missing(rec, a->res->placed_on);
    } else {
        rec->desired = want;
        rec->restarts += restart;
        /* Whatever the operator does next, the deployment no longer
         * stays failed across a node restart, and the root supervisor
         * may move it as many times again. */
        if (rec->failed)
            clear_moves(rec);
        rc = rec->failed ? set_failed(rec, NULL) : NAOS_OK;
    }
    if (rc == NAOS_OK) {
        rec->generation++;
        rec->updated_at_ms = a->c->at_ms;
        rc = store_deploy_put_txn(t, rec);
    }
    store_deploy_free(rec);
    if (rc == NAOS_OK)
        a->res->changed_deployment = true;
    return rc;
}

static int
remove_txn(struct store_txn *t, struct apply_args *a, const char *name)
{
    int rc = placed_on(t, name, a->res, NULL, NULL);
    if (rc == NAOS_OK)
        rc = store_deploy_del_txn(t, name);
    if (rc == NAOS_ENOTFOUND) {
        result(a->res, NAOS_ENOTFOUND, "no deployment named %.64s", name);
        return NAOS_OK;
    }
    if (rc != NAOS_OK)
        return rc;
    rc = store_placement_del_txn(t, name);
    if (rc != NAOS_OK && rc != NAOS_ENOTFOUND)
        return rc;
    a->res->changed_deployment = true;
    return NAOS_OK;
}

static int
ckpt_txn(struct store_txn *t, struct apply_args *a)
{
    const Naos__V1__CheckpointSaveCommand *s = a->c->checkpoint_save;
    char dep[STORE_MAX_KEY + 1];
    deployment_of(s->path, dep, sizeof dep);
    Naos__V1__DeploymentRecord *rec = NULL;
    int rc = store_deploy_get_txn(t, dep, &rec);
    if (rc == NAOS_ENOTFOUND) {
        result(a->res, NAOS_ENOTFOUND, "no deployment named %.64s", dep);
        return NAOS_OK;
    }
    if (rc != NAOS_OK)
        return rc;
    store_deploy_free(rec);
    if (s->epoch != 0) {
        /* fenced: a paused instance of an earlier placement that wakes
         * up must not overwrite its successor's state */
        Naos__V1__PlacementRecord *pl = NULL;
        rc = store_placement_get_txn(t, dep, &pl);
        if (rc != NAOS_OK && rc != NAOS_ENOTFOUND)
            return rc;
        if (rc == NAOS_OK && pl->epoch != s->epoch) {
            struct apply_result *res = a->res;
            res->status = NAOS_ESTALE;
            res->placed_on = pl->node_id;
            res->placed_epoch = pl->epoch;
            /* the node's id: apply knows no names (the reply words it) */
            snprintf(res->msg, sizeof res->msg,
                     "stale epoch: this deployment now runs on %016llx at "
                     "epoch %llu", (unsigned long long)pl->node_id,
                     (unsigned long long)pl->epoch);
            store_placement_free(pl);
            return NAOS_OK;
        }
        if (rc == NAOS_OK)
            store_placement_free(pl);
    }
    a->res->ckpt_size = s->data.len;
    struct store_ckpt_origin origin = STORE_CKPT_ORIGIN_ZERO;
    origin.agent = s->saved_by_agent;
    origin.pid = s->saved_by_pid;
    origin.restarts = s->saved_by_restarts;
    return store_ckpt_save_ex_txn(t, s->path,
                                  (const char *const *)s->aliases,
                                  s->n_aliases, s->data.data, s->data.len,
                                  a->c->at_ms, &origin, &a->res->ckpt_seq);
}

/* ---- deduplication (apply.h, store/clients.h) --------------------------- */

/* A client's command that must not be carried out twice. Stop and start
 * (of a deployment or a path) are left out: they say where a deployment
 * should be, so a retry carried out again changes nothing more, and its
 * answer says what it finds now (a recorded outcome would say only that
 * the first was applied, not whether the tree could follow it). */
static bool
is_client_command(const Naos__V1__Command *c)
{
    return c->version >= COMMAND_VERSION_DEDUP && c->client_id != 0 &&
           c->cmd_case != NAOS__V1__COMMAND__CMD_NOOP &&
           c->cmd_case != NAOS__V1__COMMAND__CMD_STOP &&
           c->cmd_case != NAOS__V1__COMMAND__CMD_START;
}

static Naos__V1__ClientOutcome
outcome_of(int status)
{
    switch (status) {
    case NAOS_OK: return NAOS__V1__CLIENT_OUTCOME__CLIENT_OUTCOME_DONE;
    case NAOS_ENOTFOUND:
        return NAOS__V1__CLIENT_OUTCOME__CLIENT_OUTCOME_NOT_FOUND;
    case NAOS_EEXIST: return NAOS__V1__CLIENT_OUTCOME__CLIENT_OUTCOME_EXISTS;
    default: return NAOS__V1__CLIENT_OUTCOME__CLIENT_OUTCOME_INVALID;
    }
}

static int
status_of(Naos__V1__ClientOutcome o)
{
    switch (o) {
    case NAOS__V1__CLIENT_OUTCOME__CLIENT_OUTCOME_DONE: return NAOS_OK;
    case NAOS__V1__CLIENT_OUTCOME__CLIENT_OUTCOME_NOT_FOUND:
        return NAOS_ENOTFOUND;
    case NAOS__V1__CLIENT_OUTCOME__CLIENT_OUTCOME_EXISTS: return NAOS_EEXIST;
    default: return NAOS_EINVAL;
    }
}

void
apply_result_of_client(const Naos__V1__ClientRecord *rec,
                        struct apply_result *res)
{
    res->status = status_of(rec->outcome);
    res->dup_of = rec->index;
    res->placed_on = rec->placed_on;
    res->ckpt_seq = rec->ckpt_seq;
    res->ckpt_size = rec->ckpt_size;
    res->at_ms = rec->at_ms;
    snprintf(res->msg, sizeof res->msg, "%s", rec->msg ? rec->msg : "");
}

/* The client's record, if it holds this command's seq or a later one:
 * NAOS_OK with res filled as the first attempt's (or refused, for an id
 * reused by another command); NAOS_ENOTFOUND: not a duplicate. */
static int
find_duplicate(struct store_txn *t, const Naos__V1__Command *c,
               struct apply_result *res)
{
    Naos__V1__ClientRecord *rec = NULL;
    int rc = store_client_get_txn(t, c->client_id, &rec);
    if (rc != NAOS_OK)
        return rc;
    if (c->seq > rec->seq) {
        store_client_free(rec);
        return NAOS_ENOTFOUND;
    }
    char target[STORE_CLIENT_TARGET_MAX + 1];
    snprintf(target, sizeof target, "%s", cmd_target(c));
    if (rec->cmd != (uint32_t)c->cmd_case || strcmp(rec->target, target)) {
        res->status = NAOS_EINVAL;
        snprintf(res->msg, sizeof res->msg,
                 "client id %016llx seq %llu was already used by another "
                 "command (entry %llu)", (unsigned long long)c->client_id,
                 (unsigned long long)c->seq, (unsigned long long)rec->index);
    } else {
        uint64_t index = res->index;
        apply_result_of_client(rec, res);
        res->index = index;
    }
    store_client_free(rec);
    return NAOS_OK;
}

/* Records what the client's command did, for its retries. */
static int
record_client(struct store_txn *t, const Naos__V1__Command *c,
              const struct apply_result *res)
{
    char target[STORE_CLIENT_TARGET_MAX + 1];
    snprintf(target, sizeof target, "%s", cmd_target(c));
    Naos__V1__ClientRecord rec = NAOS__V1__CLIENT_RECORD__INIT;
    rec.client_id = c->client_id;
    rec.seq = c->seq;
    rec.index = res->index;
    rec.cmd = (uint32_t)c->cmd_case;
    rec.target = target;
    rec.outcome = outcome_of(res->status);
    rec.msg = rec.outcome == NAOS__V1__CLIENT_OUTCOME__CLIENT_OUTCOME_INVALID
                  ? (char *)res->msg
                  : (char *)"";
    rec.placed_on = res->placed_on;
    rec.ckpt_seq = res->ckpt_seq;
    rec.ckpt_size = res->ckpt_size;
    rec.at_ms = res->at_ms;
    return store_client_put_txn(t, &rec);
}

/* The whole entry, inside transaction t; may run more than once (map
 * growth): every output is reset first. NAOS_EEXIST: applied before,
 * nothing written. */
static int
apply_one_txn(struct store_txn *t, struct apply_args *a)
{
    struct apply_result *res = a->res;
    char keep[APPLY_ERRMSG_LEN];
    memcpy(keep, res->msg, sizeof keep);
    *res = (struct apply_result){.index = a->index};
    uint64_t applied = 0;
    int rc = store_applied_get_txn(t, &applied);
    if (rc != NAOS_OK)
        return rc;
    if (a->index <= applied)
        return NAOS_EEXIST;
    if (a->index != applied + 1)
        return store_txn_fail(t, NAOS_EINVAL,
                              "apply: entry %llu would skip entries after "
                              "%llu", (unsigned long long)a->index,
                              (unsigned long long)applied);
    if (a->conf != NULL) {
        /* a CONFIG entry: the configuration the state is at from here
         * on (it took effect in the Raft core when it was appended) */
        struct store_conf conf = *a->conf;
        conf.index = a->index;
        if ((rc = store_conf_set_txn(t, &conf)) != NAOS_OK)
            return rc;
        res->conf_changed = true;
        return store_applied_set_txn(t, a->index);
    }
    const Naos__V1__Command *c = a->c;
    bool client = is_client_command(c);
    res->at_ms = c->at_ms;
    if (client && (rc = find_duplicate(t, c, res)) != NAOS_ENOTFOUND)
        return rc != NAOS_OK ? rc : store_applied_set_txn(t, a->index);
    if (a->invalid) {
        res->status = NAOS_EINVAL;
        memcpy(res->msg, keep, sizeof keep);
    } else {
        switch (c->cmd_case) {
        case NAOS__V1__COMMAND__CMD_DEPLOY:
            rc = deploy_txn(t, a);
            break;
        case NAOS__V1__COMMAND__CMD_STOP:
            rc = change_txn(t, a, c->stop->name,
                            NAOS__V1__DESIRED_STATE__DESIRED_STOPPED, false,
                            NULL, 0, false);
            break;
        case NAOS__V1__COMMAND__CMD_START:
            rc = change_txn(t, a, c->start->name,
                            NAOS__V1__DESIRED_STATE__DESIRED_RUNNING, false,
                            NULL, 0, false);
            break;
        case NAOS__V1__COMMAND__CMD_RESTART:
            rc = change_txn(t, a, c->restart->name,
                            NAOS__V1__DESIRED_STATE__DESIRED_RUNNING, true,
                            NULL, 0, false);
            break;
        case NAOS__V1__COMMAND__CMD_REMOVE:
            rc = remove_txn(t, a, c->remove->name);
            break;
        case NAOS__V1__COMMAND__CMD_FAIL:
            rc = change_txn(t, a, c->fail->name,
                            NAOS__V1__DESIRED_STATE__DESIRED_STATE_UNSPECIFIED,
                            false,
                            c->fail->failure && c->fail->failure[0]
                                ? c->fail->failure
                                : "failed",
                            c->fail->epoch, c->fail->missing);
            break;
        case NAOS__V1__COMMAND__CMD_MIGRATE:
            rc = migrate_txn(t, a);
            break;
        case NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE:
            rc = ckpt_txn(t, a);
            break;
        case NAOS__V1__COMMAND__CMD_DRAIN:
            rc = drain_txn(t, a);
            break;
        case NAOS__V1__COMMAND__CMD_RELEASE:
            rc = release_txn(t, a);
            break;
        case NAOS__V1__COMMAND__CMD_NOOP:
            break;
        default:
            /* cmd_validate refuses every other type */
            res->status = NAOS_EINVAL;
            break;
        }
        if (rc != NAOS_OK)
            return rc;
    }
    if (client && (rc = record_client(t, c, res)) != NAOS_OK)
        return rc;
    return store_applied_set_txn(t, a->index);
}

struct batch_args {
    struct apply_item *items;
    size_t n;
};

/* Every entry of the batch in order, in one transaction: an entry
 * applied before is passed over (the batch may begin below
 * last_applied after a restart). */
static int
apply_batch_fn(struct store_txn *t, void *arg)
{
    struct batch_args *b = arg;
    for (size_t i = 0; i < b->n; i++) {
        struct apply_item *it = &b->items[i];
        struct apply_args a = {it->index, it->c, &it->res, it->invalid,
                               it->conf};
        int rc = apply_one_txn(t, &a);
        it->already = rc == NAOS_EEXIST;
        if (rc != NAOS_OK && rc != NAOS_EEXIST)
            return rc;
    }
    return NAOS_OK;
}

int
apply_entries(struct store *s, struct apply_item *items, size_t n)
{
    if (n == 0 || n > APPLY_BATCH_MAX)
        return NAOS_EINVAL;
    for (size_t i = 0; i < n; i++) {
        struct apply_item *it = &items[i];
        if (i > 0 && it->index != items[i - 1].index + 1)
            return NAOS_EINVAL;
        it->res = (struct apply_result){.index = it->index};
        it->already = false;
        if (it->conf != NULL) {
            it->invalid = false; /* checked when it was decoded */
            continue;
        }
        /* Validation is deterministic too: the same entry is refused on
         * every node, and the refusal is applied (last_applied moves). */
        int rc = cmd_validate(it->c, it->res.msg, sizeof it->res.msg);
        if (rc == NAOS_ENOMEM)
            return rc;
        it->invalid = rc != NAOS_OK;
    }
    struct batch_args b = {items, n};
    return store_write(s, apply_batch_fn, &b);
}

int
apply_entry(struct store *s, uint64_t index, const Naos__V1__Command *c,
            struct apply_result *res)
{
    struct apply_item it = {.index = index, .c = c};
    int rc = apply_entries(s, &it, 1);
    if (rc != NAOS_OK)
        return rc;
    if (it.already)
        return NAOS_EEXIST;
    *res = it.res;
    return NAOS_OK;
}

int
apply_noop(struct store *s, uint64_t index, struct apply_result *res)
{
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, 0);
    c.cmd_case = NAOS__V1__COMMAND__CMD_NOOP;
    return apply_entry(s, index, &c, res);
}
