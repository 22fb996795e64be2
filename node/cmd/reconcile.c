/* SPDX-License-Identifier: Apache-2.0 */
/* reconcile.c: the local reconciler (reconcile.h). */
#include "node/cmd/reconcile.h"

#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "proto/spec_pb.h"
#include "store/state.h"

void
reconcile_init(struct reconcile *r, struct sup_tree *tree,
               struct store *store, uint64_t node_id)
{
    *r = (struct reconcile)RECONCILE_ZERO;
    r->restore_upto = UINT64_MAX;
    r->tree = tree;
    r->store = store;
    r->node_id = node_id;
}

void
reconcile_fini(struct reconcile *r)
{
    naos_free(r->seen);
    *r = (struct reconcile)RECONCILE_ZERO;
}

const char *
reconcile_action_name(enum reconcile_action a)
{
    switch (a) {
    case RECONCILE_NONE: return "none";
    case RECONCILE_DEPLOY: return "deploy";
    case RECONCILE_STOP: return "stop";
    case RECONCILE_START: return "start";
    case RECONCILE_RESTART: return "restart";
    case RECONCILE_REMOVE: return "remove";
    case RECONCILE_PATH: return "path";
    }
    return "?";
}

/* ---- what was seen ----------------------------------------------------
 * One entry per deployment placed here; a linear table (deployments of
 * one node number in the hundreds, and each lookup is one per applied
 * entry). */

static struct reconcile_seen *
seen_get(struct reconcile *r, const char *name)
{
    for (size_t i = 0; i < r->nseen; i++)
        if (strcmp(r->seen[i].name, name) == 0)
            return &r->seen[i];
    return NULL;
}

uint64_t
reconcile_epoch(const struct reconcile *r, const char *name)
{
    for (size_t i = 0; i < r->nseen; i++)
        if (strcmp(r->seen[i].name, name) == 0)
            return r->seen[i].epoch;
    return 0;
}

static void
seen_forget(struct reconcile *r, const char *name)
{
    struct reconcile_seen *s = seen_get(r, name);
    if (s != NULL)
        *s = r->seen[--r->nseen];
}

/* Records rec as seen. Out of memory, the deployment is simply not
 * remembered: its next change is then taken as new (acted on as if first
 * seen), which at worst repeats a no-op. */
static void
seen_set(struct reconcile *r, const Naos__V1__DeploymentRecord *rec,
         uint64_t epoch)
{
    struct reconcile_seen *s = seen_get(r, rec->name);
    if (s == NULL) {
        if (strlen(rec->name) > SPEC_MAX_ID_LEN)
            return;
        if (r->nseen == r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 16;
            struct reconcile_seen *v = naos_realloc(r->seen, cap * sizeof *v);
            if (v == NULL)
                return;
            r->seen = v;
            r->cap = cap;
        }
        s = &r->seen[r->nseen++];
        snprintf(s->name, sizeof s->name, "%s", rec->name);
    }
    s->epoch = epoch;
    s->generation = rec->generation;
    s->restarts = rec->restarts;
    s->owed = 0;
    s->owe_start = false;
    s->owe_tree = false;
}

/* ---- one deployment ---------------------------------------------------- */

/* Whether name is placed here, and its placement's epoch (the index of
 * the entry that deployed it: unique per deployment, where the
 * generation starts at 1 again for each deployment of a name; 0 for a
 * record written before placements existed). */
static int
placed_here(struct reconcile *r, const char *name, bool *here,
            uint64_t *epoch)
{
    /* this node drained: nothing is here, stopped before it starts
     * elsewhere */
    Naos__V1__DrainRecord *d = NULL;
    int rc = store_drain_get(r->store, r->node_id, &d);
    store_drain_free(d);
    if (rc != NAOS_OK && rc != NAOS_ENOTFOUND)
        return rc;
    bool drained = rc == NAOS_OK;
    Naos__V1__PlacementRecord *p = NULL;
    rc = store_placement_get(r->store, name, &p);
    if (rc == NAOS_ENOTFOUND) {
        *here = !drained; /* written before placements existed */
        *epoch = 0;
        return NAOS_OK;
    }
    if (rc != NAOS_OK)
        return rc;
    *here = p->node_id == r->node_id && !p->released && !drained;
    *epoch = p->epoch;
    store_placement_free(p);
    return NAOS_OK;
}

/* Brings rec's tree in (none runs): stopped, failed or started as it
 * says. Its workers' first runs say migrated on the placement a move
 * made, else node-restart when at_start. */
static void
bring_in(struct reconcile *r, const Naos__V1__DeploymentRecord *rec,
         uint64_t epoch, bool at_start, naos_time now,
         struct reconcile_outcome *out)
{
    struct spec_node spec = {0};
    /* the first runs of a placement the root supervisor made say so, also
     * when this node brings it in at its start (a node that catches up
     * meets the move there; one restarted since says migrated again:
     * the reconciler keeps no memory of what ran before) */
    bool moved = epoch != 0 && rec->moved_epoch == epoch;
    bool lost = rec->moved_reason != NULL &&
                strcmp(rec->moved_reason, "node-lost") == 0;
    struct sup_deploy_opts opts = {
        .stopped = rec->desired == NAOS__V1__DESIRED_STATE__DESIRED_STOPPED,
        .first_reason = {moved && lost ? SUP_REASON_NODE_LOST
                         : moved       ? SUP_REASON_MIGRATED
                         : at_start && epoch <= r->restore_upto
                             ? SUP_REASON_NODE_RESTART
                                    : SUP_REASON_NONE,
                         0},
        .failed = rec->failed ? (rec->failure && rec->failure[0]
                                     ? rec->failure
                                     : "failed before the node restarted")
                              : NULL,
    };
    out->action = RECONCILE_DEPLOY;
    /* Seen before the deploy: its first runs are spawned inside
     * sup_deploy_ex, and their NAOS_EPOCH is reconcile_epoch's (the
     * epoch of a replaced tree, or none, until now). What was seen before
     * comes back if the tree cannot be brought in. */
    struct reconcile_seen *prev = seen_get(r, rec->name);
    bool had = prev != NULL;
    struct reconcile_seen was = had ? *prev : (struct reconcile_seen){0};
    seen_set(r, rec, epoch);
    int rc = rec->spec ? spec_pb_to_spec(rec->spec, &spec, out->err,
                                         sizeof out->err)
                       : NAOS_EINVAL;
    if (rc == NAOS_OK)
        rc = sup_deploy_ex(r->tree, &spec, &opts, now, &out->dep, out->err,
                           sizeof out->err);
    out->rc = rc;
    if (rc != NAOS_OK) {
        struct reconcile_seen *s = seen_get(r, rec->name);
        if (had && s != NULL)
            *s = was;
        else if (!had)
            seen_forget(r, rec->name);
        spec_node_fini(&spec);
        out->dep = NULL;
        if (out->err[0] == '\0')
            snprintf(out->err, sizeof out->err, "%s", naos_strerror(rc));
        return;
    }
    out->at_rest = sup_is_at_rest(out->dep);
}

/* rec's tree is owed: the tree of that name here is an earlier
 * deployment's, being removed; reconcile_retry brings rec's in once it is
 * gone, as the record says then. */
static void
owe_tree(struct reconcile *r, const Naos__V1__DeploymentRecord *rec,
         uint64_t epoch, struct reconcile_outcome *out)
{
    seen_set(r, rec, epoch);
    struct reconcile_seen *s = seen_get(r, rec->name);
    if (s != NULL) {
        s->owe_tree = true;
        r->owing = true;
    }
    out->action = RECONCILE_DEPLOY;
    out->rc = NAOS_EBUSY;
    out->pending = true;
    out->dep = NULL;
}

/* d runs another deployment of rec's name than rec (removed, then
 * deployed again: its epoch differs, though its generation may not): it
 * is removed and rec's tree brought in, at once when d is at rest, or
 * once d is gone (owed). Whatever was owed to d is d's, not rec's. */
static void
replace(struct reconcile *r, const Naos__V1__DeploymentRecord *rec,
        uint64_t epoch, uint64_t was_epoch, struct sup_node *d,
        bool at_start, naos_time now, struct reconcile_outcome *out)
{
    NAOS_INFO("node", "replacing the tree of %s (deployed at entry %llu) "
              "by the deployment its record now is (entry %llu): the "
              "first was removed meanwhile", rec->name,
              (unsigned long long)was_epoch, (unsigned long long)epoch);
    /* d is not being removed (reconcile_one), so sup_remove takes it;
     * were it refused, d would be going already, which owe_tree waits
     * out all the same. */
    (void)sup_remove(r->tree, d, now);
    if (sup_find(r->tree, rec->name) != NULL) {
        owe_tree(r, rec, epoch, out);
        return;
    }
    bring_in(r, rec, epoch, at_start, now, out);
}

/* The decision for a tree that runs, once rec changed (reconcile.h). A
 * stop comes first: a restart that a later stop follows (in one batch, or
 * owed while the tree was busy) is settled by it. */
static void
drive(struct reconcile *r, const Naos__V1__DeploymentRecord *rec,
      const struct reconcile_seen *prev, struct sup_node *d, naos_time now,
      struct reconcile_outcome *out)
{
    uint64_t restarts = prev ? prev->restarts : rec->restarts;
    bool rest = sup_is_at_rest(d);
    if (rec->desired == NAOS__V1__DESIRED_STATE__DESIRED_STOPPED) {
        if (!rest) {
            out->action = RECONCILE_STOP;
            out->rc = sup_stop(r->tree, d, now);
        }
    } else if (rec->restarts > restarts) {
        out->action = RECONCILE_RESTART;
        out->rc = sup_restart(r->tree, d, now);
        out->pending = out->rc == NAOS_EBUSY;
    } else if (!rec->failed && (rest || d->state == SUP_STOPPING)) {
        /* Still stopping (a stop within its workers' grace, or a
         * restart's stop): the core refuses, the start is owed. */
        out->action = RECONCILE_START;
        out->rc = sup_start(r->tree, d, now);
        out->pending = out->rc == NAOS_EBUSY;
    }
    out->dep = d;
    out->at_rest = sup_is_at_rest(d);
}

static int
reconcile_one(struct reconcile *r, const char *name, bool at_start,
              naos_time now, struct reconcile_outcome *out)
{
    *out = (struct reconcile_outcome){.action = RECONCILE_NONE};
    struct sup_node *d = sup_find(r->tree, name);
    if (d != NULL) {
        out->existed = true;
        out->before = d->state;
        out->was_at_rest = sup_is_at_rest(d);
        out->dep = d;
        out->at_rest = out->was_at_rest;
    }
    Naos__V1__DeploymentRecord *rec = NULL;
    int rc = store_deploy_get(r->store, name, &rec);
    bool here = false;
    uint64_t epoch = 0;
    if (rc == NAOS_OK &&
        (rc = placed_here(r, name, &here, &epoch)) != NAOS_OK)
        store_deploy_free(rec);
    /* No lease: nothing may run here but what runs on without one. */
    if (rc == NAOS_OK && r->fenced &&
        (r->closing || !(rec->spec && rec->spec->on_partition_keep)))
        here = false;
    if (rc != NAOS_OK && rc != NAOS_ENOTFOUND) {
        snprintf(out->err, sizeof out->err, "%s", store_errmsg(r->store));
        return rc;
    }
    if (rc == NAOS_ENOTFOUND || !here) {
        if (rec != NULL)
            store_deploy_free(rec);
        seen_forget(r, name);
        if (d != NULL) {
            out->action = RECONCILE_REMOVE;
            out->rc = sup_remove(r->tree, d, now);
            out->dep = NULL; /* may be freed already */
        }
        return NAOS_OK;
    }
    struct reconcile_seen *prev = seen_get(r, name);
    if (d != NULL && sup_is_removing(d)) {
        /* The tree of an earlier deployment of this name, still being
         * removed (a cluster's leader placed this one here meanwhile, not
         * seeing this node's trees): not the record's to drive. Its own
         * tree is owed, brought in once the old one is gone. */
        owe_tree(r, rec, epoch, out);
    } else if (d != NULL && prev != NULL && prev->epoch != epoch) {
        replace(r, rec, epoch, prev->epoch, d, at_start, now, out);
    } else if (d == NULL) {
        bring_in(r, rec, epoch, at_start, now, out);
    } else if (prev == NULL || prev->generation != rec->generation ||
               prev->restarts != rec->restarts) {
        struct reconcile_seen was = prev ? *prev : (struct reconcile_seen){0};
        seen_set(r, rec, epoch);
        drive(r, rec, prev ? &was : NULL, d, now, out);
        struct reconcile_seen *s = seen_get(r, name);
        if (out->pending && s != NULL) {
            /* Not carried out: owed until the tree can take it. */
            if (out->action == RECONCILE_RESTART) {
                s->restarts = was.restarts;
                s->owed = rec->restarts;
            } else {
                s->owe_start = true;
            }
            r->owing = true;
        }
    }
    store_deploy_free(rec);
    return NAOS_OK;
}

int
reconcile_deployment(struct reconcile *r, const char *name, naos_time now,
                     struct reconcile_outcome *out)
{
    return reconcile_one(r, name, false, now, out);
}

/* ---- the whole state ----------------------------------------------------
 * At node start no tree runs and nothing is remembered; after a snapshot
 * is installed on a live node both describe a state the store no longer
 * holds (entries it skipped: removals, redeployments, path commands).
 * Either way every name the store, the trees or the `seen` table know is
 * reconciled afresh. What `seen` remembers is trusted only where it still
 * describes the tree that runs: same name and same epoch (reconcile_one). */

static bool
listed(Naos__V1__DeploymentRecord *const *recs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(recs[i]->name, name) == 0)
            return true;
    return false;
}

struct held {
    char **paths; /* owned, each owned */
    size_t n, cap;
    bool short_of_memory;
};

/* The topmost held nodes under s (a held supervisor's start starts what
 * is under it, its holds forgotten). */
static void
held_collect(const struct sup_node *s, struct held *h)
{
    for (size_t i = 0; i < s->nchildren; i++) {
        const struct sup_node *c = s->children[i];
        if (!sup_is_held(c)) {
            if (c->is_supervisor)
                held_collect(c, h);
            continue;
        }
        if (h->n == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 8;
            char **v = naos_realloc(h->paths, cap * sizeof *v);
            if (v == NULL) {
                h->short_of_memory = true;
                return;
            }
            h->paths = v;
            h->cap = cap;
        }
        if ((h->paths[h->n] = naos_strdup(c->path)) == NULL) {
            h->short_of_memory = true;
            return;
        }
        h->n++;
    }
}

/* Starts every held node of dep (a running tree its record wants
 * running): holds are kept in memory only, a snapshot carries none, so an
 * install, like a node restart, leaves every child of a running
 * deployment started. The paths are taken first: a start may change the
 * tree under the walk. */
static void
release_holds(struct reconcile *r, struct sup_node *dep, naos_time now)
{
    struct held h = {0};
    held_collect(dep, &h);
    if (h.short_of_memory)
        NAOS_ERROR("node", "out of memory: some held parts of %s stay "
                   "stopped (`naos start` them)", dep->id);
    for (size_t i = 0; i < h.n; i++) {
        struct sup_node *c = sup_find_path(r->tree, h.paths[i]);
        if (c != NULL && sup_is_held(c) &&
            sup_child_start(r->tree, c, now) == NAOS_OK)
            NAOS_INFO("node", "starting %s, held here: the installed state "
                      "records no holds (a node restart would start it "
                      "too)", h.paths[i]);
        naos_free(h.paths[i]);
    }
    naos_free(h.paths);
}

/* Logs what reconcile_one did to name (rec: its record, NULL when none)
 * as part of a whole pass. */
static void
sync_log(const char *name, bool at_start,
         const Naos__V1__DeploymentRecord *rec,
         const struct reconcile_outcome *out)
{
    const char *as = at_start ? "as its record says"
                              : "as the installed state says";
    switch (out->action) {
    case RECONCILE_NONE:
    case RECONCILE_PATH:
        return;
    case RECONCILE_DEPLOY:
        if (out->pending) {
            NAOS_INFO("node", "deployment %s waits for the tree of an "
                      "earlier deployment of that name to go", name);
        } else if (out->rc != NAOS_OK) {
            NAOS_ERROR("store", "cannot %s deployment %s: %s",
                       at_start ? "restore" : "bring in", name, out->err);
        } else if (rec != NULL) {
            NAOS_INFO("node", "%s deployment %s (%s)",
                      at_start ? "restored" : "brought in", name,
                      rec->failed
                          ? "failed: `naos start` starts it again"
                      : rec->desired ==
                              NAOS__V1__DESIRED_STATE__DESIRED_STOPPED
                          ? "stopped"
                          : "started");
        }
        return;
    case RECONCILE_STOP:
    case RECONCILE_START:
    case RECONCILE_RESTART:
    case RECONCILE_REMOVE:
        if (out->rc == NAOS_OK || out->pending)
            NAOS_INFO("node", "%s %s %s%s",
                      out->action == RECONCILE_STOP    ? "stopping"
                      : out->action == RECONCILE_START ? "starting"
                      : out->action == RECONCILE_RESTART ? "restarting"
                                                         : "removing",
                      name, as, out->pending ? " (once its stop is done)"
                                             : "");
        return;
    }
}

static int
sync_all(struct reconcile *r, bool at_start, naos_time now)
{
    Naos__V1__DeploymentRecord **recs = NULL;
    size_t nrecs = 0;
    int rc = store_deploy_list(r->store, &recs, &nrecs);
    if (rc != NAOS_OK)
        return rc;
    for (size_t i = 0; i < nrecs; i++) {
        const Naos__V1__DeploymentRecord *rec = recs[i];
        struct reconcile_outcome out;
        if (reconcile_one(r, rec->name, at_start, now, &out) != NAOS_OK) {
            NAOS_ERROR("store", "cannot read deployment %s: %s", rec->name,
                       out.err);
            continue;
        }
        sync_log(rec->name, at_start, rec, &out);
        if (out.dep != NULL && out.action != RECONCILE_DEPLOY &&
            !rec->failed &&
            rec->desired != NAOS__V1__DESIRED_STATE__DESIRED_STOPPED &&
            !sup_is_at_rest(out.dep) && !sup_is_removing(out.dep))
            release_holds(r, out.dep, now);
    }
    /* What is remembered of a deployment with no record at all is of an
     * earlier state (its tree, if any, goes below). */
    for (size_t i = 0; i < r->nseen;) {
        if (listed(recs, nrecs, r->seen[i].name))
            i++;
        else
            r->seen[i] = r->seen[--r->nseen];
    }
    /* Trees with no record: none at start; after an install, those
     * removed while this node was behind. */
    for (struct sup_node *d = sup_first(r->tree); d;) {
        struct sup_node *next = sup_next(d);
        if (!listed(recs, nrecs, d->id)) {
            char name[SPEC_MAX_ID_LEN + 1];
            snprintf(name, sizeof name, "%s", d->id);
            struct reconcile_outcome out;
            if (reconcile_one(r, name, at_start, now, &out) != NAOS_OK)
                NAOS_ERROR("store", "cannot read deployment %s: %s", name,
                           out.err);
            else
                sync_log(name, at_start, NULL, &out);
        }
        d = next;
    }
    store_deploy_list_free(recs, nrecs);
    return NAOS_OK;
}

int
reconcile_all(struct reconcile *r, naos_time now)
{
    r->restore_owed = r->fenced;
    /* A restore owed is of what was placed by then: a deployment placed
     * while the fence holds is a deploy, not a node restart. */
    r->restore_upto = UINT64_MAX;
    if (r->fenced && store_applied_get(r->store, &r->restore_upto) != NAOS_OK)
        r->restore_upto = 0;
    return sync_all(r, true, now);
}

int
reconcile_fence(struct reconcile *r, bool fenced, naos_time now)
{
    if (r->fenced == fenced)
        return NAOS_OK;
    r->fenced = fenced;
    bool at_start = !fenced && r->restore_owed;
    if (!fenced)
        r->restore_owed = false;
    return sync_all(r, at_start, now);
}

int
reconcile_resync(struct reconcile *r, naos_time now)
{
    return sync_all(r, false, now);
}

size_t
reconcile_retry(struct reconcile *r, naos_time now)
{
    if (!r->owing)
        return 0;
    r->owing = false;
    size_t done = 0;
    for (size_t i = 0; i < r->nseen; i++) {
        struct reconcile_seen *s = &r->seen[i];
        if (s->owed == 0 && !s->owe_start && !s->owe_tree)
            continue;
        struct sup_node *d = sup_find(r->tree, s->name);
        if (d == NULL) {
            /* Its tree went (a removal ended): the record says what now.
             * That changes the table, so the scan starts over; each pass
             * clears one owed entry, or ends at a store error. */
            char name[sizeof s->name];
            memcpy(name, s->name, sizeof name);
            struct reconcile_seen owed = *s;
            s->owed = 0;
            s->owe_start = false;
            s->owe_tree = false;
            struct reconcile_outcome out;
            if (reconcile_one(r, name, false, now, &out) != NAOS_OK) {
                /* nothing done, the table untouched: owed still */
                NAOS_ERROR("store", "cannot reconcile %s: %s", name,
                           out.err);
                *s = owed;
                r->owing = true;
                break;
            }
            if (out.action == RECONCILE_DEPLOY && out.rc == NAOS_OK) {
                NAOS_INFO("node", "brought in deployment %s as its record "
                          "says: the tree of its earlier namesake is gone",
                          name);
                done++;
            } else if (out.action == RECONCILE_DEPLOY) {
                /* Its record stays (the reconciler writes no store): the
                 * operator sees it in `naos status` and can rm it. */
                NAOS_ERROR("node", "cannot run deployment %s: %s", name,
                           out.err);
            }
            i = (size_t)-1;
            continue;
        }
        if (sup_is_removing(d)) {
            r->owing = true; /* an earlier namesake's tree, still going */
            continue;
        }
        if (s->owe_tree) {
            /* Cannot happen: only this reconciler adds trees, and what
             * was owed is cleared when it does (seen_set). */
            s->owe_tree = false;
            continue;
        }
        if (s->owe_start) {
            if (d->state == SUP_STOPPING) {
                r->owing = true; /* still stopping */
                continue;
            }
            s->owe_start = false;
            if (d->state == SUP_STOPPED && sup_is_at_rest(d) &&
                sup_start(r->tree, d, now) == NAOS_OK) {
                NAOS_INFO("node", "starting %s: the start it was still "
                          "stopping for earlier is carried out now",
                          s->name);
                done++;
            } else if (d->state == SUP_FAILED) {
                /* It gave up on its own while it stopped: not undone
                 * (its failed mark is on its way through the log). */
                NAOS_WARN("node", "not starting %s: it gave up while it "
                          "was stopping (`naos start %s` starts it)",
                          s->name, s->name);
            }
            /* Otherwise running again on its own (a restart's stop ended
             * in its start): nothing is owed any more. */
            continue;
        }
        if (sup_restart(r->tree, d, now) != NAOS_OK) {
            r->owing = true; /* still busy */
            continue;
        }
        NAOS_INFO("node", "restarting %s: the restart it was too busy to "
                  "take earlier is carried out now", s->name);
        s->restarts = s->owed;
        s->owed = 0;
        done++;
    }
    return done;
}

/* ---- paths ------------------------------------------------------------- */

static bool
is_live(const struct sup_node *c)
{
    return c->is_supervisor ? c->state != SUP_STOPPED && c->state != SUP_FAILED
                            : c->pid != 0;
}

void
reconcile_path(struct reconcile *r, const char *path,
               enum reconcile_verb verb, naos_time now,
               struct reconcile_outcome *out)
{
    *out = (struct reconcile_outcome){.action = RECONCILE_PATH};
    struct sup_node *c = sup_find_path(r->tree, path);
    if (c == NULL) {
        out->rc = NAOS_ENOTFOUND;
        return;
    }
    out->child = c;
    out->was_live = is_live(c);
    out->was_held = sup_is_held(c);
    switch (verb) {
    case RECONCILE_VERB_STOP:
        out->rc = sup_child_stop(r->tree, c, now);
        break;
    case RECONCILE_VERB_START:
        out->rc = sup_child_start(r->tree, c, now);
        break;
    case RECONCILE_VERB_RESTART:
        out->rc = sup_child_restart(r->tree, c, now);
        break;
    }
}
