/* SPDX-License-Identifier: Apache-2.0 */
/* node_cmd.c: the command path's glue in the composition root
 * (docs/architecture.md "The command path"). The doors (node_ctl.c,
 * node_path_ctl.c, node_http.c through node__handle_request, and the
 * supervision core's escalations in node.c) validate and build a Command;
 * this file proposes it (node/cmd/cmdraft.h), applies what is committed in
 * order (node/cmd/apply.h), has the reconciler (node/cmd/reconcile.h)
 * bring the local trees in line after each entry, and answers whoever
 * waits for that entry. It owns no policy: each stage is its module.
 *
 * Waiting. A control request whose command was proposed is deferred
 * (ctl_req_defer) and answered when its entry is applied and reconciled,
 * by node__cmd_step in the loop iteration it arrived in (a one-voter
 * log commits at once). A request that cannot be deferred (the endpoint's
 * deferral bound, or the HTTP API, whose answer is built while the
 * handler runs) drains the log at once instead, which on a one-voter
 * cluster applies its entry before the handler returns. Reactor thread
 * only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/cmd/apply.h"
#include "node/cmd/cmd.h"
#include "node/node_int.h"
#include "store/clients.h"
#include "store/state.h"

_Static_assert(CMD_MAX_ENTRY <= RAFT_MAX_ENTRY_SIZE,
               "a packed command must fit one Raft entry");

static struct node_waiter *
waiter_find(struct node *n, uint64_t index)
{
    for (size_t i = 0; i < NODE_WAITERS; i++)
        if (n->waiters[i].index == index && n->waiters[i].rep != NULL)
            return &n->waiters[i];
    return NULL;
}

static struct node_waiter *
waiter_free_slot(struct node *n)
{
    for (size_t i = 0; i < NODE_WAITERS; i++)
        if (n->waiters[i].rep == NULL)
            return &n->waiters[i];
    return NULL;
}

static void waiter_cancel(void *arg, struct ctl_req *req);
static void waiter_done(struct node *n, struct node_waiter *w);

struct node_waiter *
node__cmd_wait(struct node *n, struct ctl_req *req, struct ctl_reply *rep)
{
    struct node_waiter *w = waiter_free_slot(n);
    if (w == NULL)
        return NULL;
    if (req != NULL && ctl_req_defer(req, waiter_cancel, n) == NAOS_OK) {
        *w = (struct node_waiter){.req = req, .rep = rep,
                                  .proposed_us = naos_clock_now_us()};
        return w;
    }
    if (req == NULL && n->fwd_job != NULL && rep == &n->fwd_job->rep) {
        /* a forwarded request: answered to its node once applied */
        *w = (struct node_waiter){.rep = rep, .job = n->fwd_job,
                                  .proposed_us = naos_clock_now_us()};
        n->fwd_job_deferred = true;
        return w;
    }
    return NULL;
}

void
node__cmd_waiter_done(struct node *n, struct node_waiter *w)
{
    waiter_done(n, w);
}

static void
waiter_done(struct node *n, struct node_waiter *w)
{
    struct ctl_req *req = w->req;
    struct node_fwd_job *job = w->job;
    if (w->proposed_us != 0 && w->rep != NULL && !w->rep->failed &&
        w->rep->msg.code == NAOS__V1__ERROR_CODE__OK)
        node__stats_observe_command(n, naos_clock_now_us() - w->proposed_us);
    *w = (struct node_waiter){0};
    if (req != NULL)
        ctl_req_finish(req);
    if (job != NULL)
        node__forward_job_done(n, job);
}

/* w's entry lost its place: another entry was committed at its index, so
 * it can never be applied (Raft's log matching). Nothing changed. */
static void
waiter_replaced(struct node *n, struct node_waiter *w)
{
    ctl_reply_error(w->rep, NAOS__V1__ERROR_CODE__BUSY,
                    "the command was not carried out: the cluster's leader "
                    "changed before it was committed, and entry %llu holds "
                    "another one; nothing changed, run it again",
                    (unsigned long long)w->index);
    waiter_done(n, w);
}

/* This node stopped leading: whoever waits for an entry it has not seen
 * committed cannot be told yet whether the new leader will commit it
 * (RAFT-LITE: a deposed leader's entry may or may not survive). Said so
 * now rather than left to the client's timeout. */
void
node__cmd_leadership_lost(struct node *n)
{
    uint64_t commit = n->log ? cmdraft_commit_index(n->log) : 0;
    for (size_t i = 0; i < NODE_WAITERS; i++) {
        struct node_waiter *w = &n->waiters[i];
        if (w->rep == NULL || w->index <= commit)
            continue;
        ctl_reply_error(w->rep, NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME,
                        "outcome unknown: naos-node %s stopped leading the "
                        "cluster before the command (entry %llu) was "
                        "committed; it may or may not be carried out: check "
                        "with `naos status` before running it again",
                        n->name, (unsigned long long)w->index);
        waiter_done(n, w);
    }
}

/* The endpoint closes with the request still waiting: forget it. */
static void
waiter_cancel(void *arg, struct ctl_req *req)
{
    struct node *n = arg;
    for (size_t i = 0; i < NODE_WAITERS; i++)
        if (n->waiters[i].req == req)
            n->waiters[i] = (struct node_waiter){0};
}

/* Everyone waiting for an entry at or above index is told it will not be
 * applied by this node (stuck: an entry it cannot apply, or the store
 * failed). */
static void
waiters_fail(struct node *n, uint64_t index, const char *why)
{
    for (size_t i = 0; i < NODE_WAITERS; i++) {
        struct node_waiter *w = &n->waiters[i];
        if (w->rep == NULL || w->index < index)
            continue;
        ctl_reply_error(w->rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "the command was recorded (entry %llu) but "
                        "naos-node %s cannot apply it: %s",
                        (unsigned long long)w->index, n->name, why);
        waiter_done(n, w);
    }
}

/* A store commit failed (the store refuses any further write): nothing
 * may be acknowledged after it. node_run stops the node with exit 111;
 * whoever waits is told now. */
void
node__cmd_fatal(struct node *n, const char *what)
{
    if (n->fatal == 0)
        NAOS_ERROR("store", "%s: %s; stopping (exit 111): nothing more can "
                   "be acknowledged", what, store_errmsg(n->store));
    n->fatal = 111;
    /* Entries of the batch applied before the failure took effect, but
     * were not carried out here (the reconciler): their waiters cannot
     * be told "not applied". */
    for (size_t i = 0; i < NODE_WAITERS; i++) {
        struct node_waiter *w = &n->waiters[i];
        if (w->rep == NULL || w->index == 0 || w->index > n->applied)
            continue;
        ctl_reply_error(w->rep, NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME,
                        "outcome unknown: the command was applied (entry "
                        "%llu) but naos-node %s stopped before carrying it "
                        "out (its store failed): check with `naos status` "
                        "once the node is back", (unsigned long long)w->index,
                        n->name);
        waiter_done(n, w);
    }
    waiters_fail(n, 0, "its store failed");
}

/* The reconciler's part of an applied entry (reconcile.h); out->action
 * stays RECONCILE_NONE for entries that touch no tree. live: applied as
 * it came (not while catching up at start): path commands are one-shot
 * and run only then. */
static void
reconcile_entry(struct node *n, const Naos__V1__Command *c,
                const struct apply_result *ar, bool live,
                struct reconcile_outcome *out)
{
    *out = (struct reconcile_outcome){.action = RECONCILE_NONE};
    const char *target = cmd_target(c);
    switch (c->cmd_case) {
    case NAOS__V1__COMMAND__CMD_STOP:
    case NAOS__V1__COMMAND__CMD_START:
    case NAOS__V1__COMMAND__CMD_RESTART:
        if (strchr(target, '/') != NULL) {
            if (live && ar->status == NAOS_OK)
                reconcile_path(&n->rec, target,
                               c->cmd_case == NAOS__V1__COMMAND__CMD_STOP
                                   ? RECONCILE_VERB_STOP
                               : c->cmd_case == NAOS__V1__COMMAND__CMD_START
                                   ? RECONCILE_VERB_START
                                   : RECONCILE_VERB_RESTART,
                               n->r.now, out);
            return;
        }
        break;
    case NAOS__V1__COMMAND__CMD_DEPLOY:
    case NAOS__V1__COMMAND__CMD_REMOVE:
    case NAOS__V1__COMMAND__CMD_FAIL:
    case NAOS__V1__COMMAND__CMD_MIGRATE:
    case NAOS__V1__COMMAND__CMD_RELEASE: /* released: not run here */
        break;
    default:
        return;
    }
    if (ar->status == NAOS_EINVAL)
        return;
    if (reconcile_deployment(&n->rec, target, n->r.now, out) != NAOS_OK)
        NAOS_ERROR("node", "cannot reconcile %s after entry %llu: %s", target,
                   (unsigned long long)ar->index, out->err);
    if (out->action == RECONCILE_DEPLOY && out->rc != NAOS_OK &&
        !out->pending) {
        /* The tree would not go in (the record is applied): take the
         * record out again through the log, as an rm would. (A pending
         * one goes in once its earlier namesake's tree is gone.) */
        NAOS_WARN("node", "cannot run deployment %s: %s; removing its record",
                  target, out->err);
        Naos__V1__Command rm;
        cmd_init(&rm, 0, 0, naos_clock_wall_ms()); /* the node's own */
        Naos__V1__NameCommand nc = NAOS__V1__NAME_COMMAND__INIT;
        nc.name = (char *)target;
        rm.cmd_case = NAOS__V1__COMMAND__CMD_REMOVE;
        rm.remove = &nc;
        node__propose(n, &rm, NULL, NULL);
    }
}

/* The applier stops for good at entry index (RAFT-LITE: an entry this
 * node does not know stops it; it is never skipped). Returns false. */
static bool
stuck(struct node *n, uint64_t index, const char *why)
{
    n->apply_stuck = true;
    NAOS_ERROR("node", "stopped applying commands at entry %llu: %s",
               (unsigned long long)index, why);
    waiters_fail(n, index, why);
    return false;
}

/* A batch's byte bound, beside APPLY_BATCH_MAX entries: what one batch
 * holds in memory (an entry is up to 1 MiB). */
#define DRAIN_BATCH_BYTES (8u << 20)

/* struct drain_batch: the committed entries next in line, read and
 * unpacked, applied in one transaction (apply_entries). */
struct drain_batch {
    struct apply_item items[APPLY_BATCH_MAX];
    Naos__V1__Command *cmds[APPLY_BATCH_MAX]; /* owned; NULL: a no-op or
                                                 a configuration */
    struct store_conf confs[APPLY_BATCH_MAX]; /* a CONFIG entry's */
    uint64_t terms[APPLY_BATCH_MAX];          /* each entry's term */
    size_t n;
};

static void
batch_free(struct drain_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->cmds[i] != NULL)
            cmd_free(b->cmds[i]);
    b->n = 0;
}

/* Reads the committed entries after n->applied into b, up to its bounds;
 * a new leader's no-op entries get noop as their command. Returns NAOS_OK
 * (b->n >= 1); NAOS_ENOMEM (nothing read: next iteration); NAOS_EINVAL
 * (the first entry cannot be applied, why says why). An entry after the
 * first that cannot be read ends the batch before it: it comes first in
 * the next one. */
static int
batch_read(struct node *n, struct drain_batch *b,
           const Naos__V1__Command *noop, char *why, size_t whylen)
{
    uint64_t commit = cmdraft_commit_index(n->log);
    size_t bytes = 0;
    b->n = 0;
    while (b->n < APPLY_BATCH_MAX && n->applied + b->n < commit &&
           bytes < DRAIN_BATCH_BYTES) {
        uint64_t index = n->applied + b->n + 1;
        struct store_log_entry *e = NULL;
        int rc = cmdraft_read(n->log, index, &e);
        if (rc != NAOS_OK) {
            if (b->n > 0 || rc == NAOS_ENOMEM)
                return b->n > 0 ? NAOS_OK : rc;
            snprintf(why, whylen, "entry %llu cannot be read: %s",
                     (unsigned long long)index, store_errmsg(n->store));
            return NAOS_EINVAL;
        }
        /* every waiter of another entry at this index: before anything
         * can fail below */
        for (size_t i = 0; i < NODE_WAITERS; i++)
            if (n->waiters[i].rep != NULL && n->waiters[i].index == index &&
                n->waiters[i].term != e->term)
                waiter_replaced(n, &n->waiters[i]);
        Naos__V1__Command *c = NULL;
        const struct store_conf *conf = NULL;
        if (e->type == RAFT_ENTRY_NOOP) {
            rc = NAOS_OK;
        } else if (e->type == RAFT_ENTRY_CONFIG) {
            struct raft_conf rcf;
            rc = raft_conf_decode(e->data, e->len, &rcf, why, whylen);
            if (rc == NAOS_OK) {
                struct store_conf *sc = &b->confs[b->n];
                memset(sc, 0, sizeof *sc);
                for (size_t k = 0; k < rcf.nvoters; k++)
                    sc->voters[k] = rcf.voters[k].v;
                sc->nvoters = rcf.nvoters;
                for (size_t k = 0; k < rcf.nlearners; k++)
                    sc->learners[k] = rcf.learners[k].v;
                sc->nlearners = rcf.nlearners;
                conf = sc;
            }
        } else if (e->type != 0 && e->type != RAFT_ENTRY_COMMAND) {
            snprintf(why, whylen, "entry %llu is of type %u, which this "
                     "naos-node does not know (upgrade it)",
                     (unsigned long long)index, (unsigned)e->type);
            rc = NAOS_EINVAL;
        } else {
            rc = cmd_unpack(e->data, e->len, &c, why, whylen);
        }
        bytes += e->len;
        uint64_t term = e->term;
        store_log_entries_free(e, 1);
        if (rc != NAOS_OK) {
            if (b->n > 0)
                return NAOS_OK;
            return rc;
        }
        b->items[b->n] = (struct apply_item){.index = index,
                                             .c = c != NULL ? c : noop,
                                             .conf = conf};
        b->terms[b->n] = term;
        b->cmds[b->n++] = c;
    }
    return NAOS_OK;
}

/* Tests only (NAOS_TESTING_FAIL_APPLY): the live command it counts down
 * to fails its commit, as if fsync had; the commands before it in the
 * batch are cut off into a batch of their own, so they are applied. */
static void
batch_fault(struct node *n, struct drain_batch *b)
{
    for (size_t i = 0; i < b->n && n->fail_apply_at != 0; i++) {
        if (b->cmds[i] == NULL || --n->fail_apply_at != 0)
            continue;
        if (i > 0) {
            n->fail_apply_at = 1; /* it comes first in the next batch */
            for (size_t j = i; j < b->n; j++)
                if (b->cmds[j] != NULL)
                    cmd_free(b->cmds[j]);
            b->n = i;
        } else {
            store_fault_fail_next_commit();
        }
        return;
    }
}

/* What follows an applied command on this node: the cluster event
 * (marked with the entry's index and term), the reconciler (live only)
 * and the answer to whoever waits for it. */
static void
after_apply(struct node *n, const Naos__V1__Command *c,
            const struct apply_result *ar, uint64_t term, bool live)
{
    if (ar->status != NAOS_OK)
        NAOS_DEBUG("node", "entry %llu (%s %s): %s",
                   (unsigned long long)ar->index, cmd_type_name(c),
                   cmd_target(c), ar->msg);
    if (n->replicated && ar->status == NAOS_OK && ar->dup_of == 0 &&
        c->cmd_case == NAOS__V1__COMMAND__CMD_DEPLOY) {
        /* a cluster event: where the leader placed it */
        char where[128];
        snprintf(where, sizeof where, "on %s (epoch %llu)",
                 node__node_name(n, ar->placed_on),
                 (unsigned long long)ar->index);
        events_push(&n->events, "placed", cmd_target(c), NULL, 0, NULL, 0,
                    where, c->at_ms, naos_clock_now_us());
        events_mark_log(&n->events, ar->index, term);
    }
    if (n->replicated && ar->status == NAOS_OK && ar->dup_of == 0 &&
        c->cmd_case == NAOS__V1__COMMAND__CMD_FAIL &&
        ar->changed_deployment) {
        /* a cluster event: it gave up on its node; the root decides */
        char where[320];
        snprintf(where, sizeof where, "on %s (epoch %llu): %s",
                 node__node_name(n, ar->placed_on),
                 (unsigned long long)c->fail->epoch,
                 c->fail->failure && c->fail->failure[0] ? c->fail->failure
                                                         : "failed");
        events_push(&n->events, "gave-up", cmd_target(c), NULL, 0, NULL, 0,
                    where, c->at_ms, naos_clock_now_us());
        events_mark_log(&n->events, ar->index, term);
    }
    if (ar->status == NAOS_OK &&
        c->cmd_case == NAOS__V1__COMMAND__CMD_MIGRATE) {
        /* a cluster event: the root supervisor moved it */
        char where[160];
        bool lost = strcmp(c->migrate->reason, "node-lost") == 0;
        bool drained = strcmp(c->migrate->reason, "drained") == 0;
        snprintf(where, sizeof where, "to %s (epoch %llu): %s",
                 node__node_name(n, ar->placed_on),
                 (unsigned long long)ar->index,
                 lost      ? "the lease of its node ran out"
                 : drained ? "its node is drained and stopped it first"
                           : "it gave up on its node");
        events_push(&n->events, lost ? "node-lost" : "migrated",
                    cmd_target(c), NULL, 0, NULL, 0, where, c->at_ms,
                    naos_clock_now_us());
        events_mark_log(&n->events, ar->index, term);
    }
    if (c->cmd_case == NAOS__V1__COMMAND__CMD_DRAIN ||
        (n->drain_self && ar->placed_on == n->node_id))
        node__drain_dirty(n); /* this node's, or placed here while drained */
    if (c->cmd_case == NAOS__V1__COMMAND__CMD_FAIL ||
        c->cmd_case == NAOS__V1__COMMAND__CMD_MIGRATE ||
        c->cmd_case == NAOS__V1__COMMAND__CMD_START ||
        c->cmd_case == NAOS__V1__COMMAND__CMD_DRAIN ||
        c->cmd_case == NAOS__V1__COMMAND__CMD_RELEASE)
        node__root_due(n); /* the root supervisor looks again */
    if (ar->dup_of != 0)
        n->stats.retries_log++;
    struct reconcile_outcome ro = {.action = RECONCILE_NONE};
    if (live && ar->dup_of == 0) /* a duplicate changed nothing */
        reconcile_entry(n, c, ar, live, &ro);
    struct node_waiter *w = waiter_find(n, ar->index);
    if (w != NULL) {
        if (n->unknown_reply_at != 0 && --n->unknown_reply_at == 0)
            ctl_reply_error(w->rep, NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME,
                            "outcome unknown: the answer to entry %llu was "
                            "replaced (NAOS_TESTING_UNKNOWN_REPLY)",
                            (unsigned long long)ar->index);
        else
            node__cmd_reply(n, c, ar, &ro, w->rep);
        if (w->rep->msg.code != NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME)
            w->rep->msg.outcome_final = true;
        waiter_done(n, w);
    }
}

/* A configuration is committed and applied: a cluster event naming its
 * members by role. */
static void
conf_applied(struct node *n, const struct store_conf *c, uint64_t index)
{
    char what[512];
    size_t off = (size_t)snprintf(what, sizeof what, "entry %llu: voters",
                                  (unsigned long long)index);
    for (size_t i = 0; i < c->nvoters + c->nlearners && off < sizeof what;
         i++) {
        bool voter = i < c->nvoters;
        uint64_t id = voter ? c->voters[i] : c->learners[i - c->nvoters];
        off += (size_t)snprintf(what + off, sizeof what - off, "%s %s",
                                i == c->nvoters ? "; learners" : "",
                                node__node_name(n, id));
    }
    events_push(&n->events, "config", NULL, NULL, 0, NULL, 0, what,
                naos_clock_wall_ms(), naos_clock_now_us());
    NAOS_INFO("raft", "configuration committed at %s", what);
    struct node_waiter *w = waiter_find(n, index);
    if (w != NULL) { /* `naos nodes remove`'s answer */
        ctl_reply_message(w->rep, "the cluster's configuration is now "
                          "(%s)", what);
        w->rep->msg.outcome_final = true;
        waiter_done(n, w);
    }
}

/* Applies the next batch of committed entries in one transaction, then
 * carries out each applied command in order. The reconciler, acting
 * after the batch, sees the state at its end: it is level-triggered
 * (reconcile.h), so an intermediate state is never acted on. Returns
 * true to go on with the next batch. */
static bool
apply_batch(struct node *n, bool live)
{
    Naos__V1__Command noop;
    cmd_init(&noop, 0, 0, 0);
    noop.cmd_case = NAOS__V1__COMMAND__CMD_NOOP;
    struct drain_batch b;
    char why[512] = "";
    int rc = batch_read(n, &b, &noop, why, sizeof why);
    if (rc == NAOS_ENOMEM)
        return false; /* next iteration */
    if (rc != NAOS_OK)
        return stuck(n, n->applied + 1, why);
    if (live && n->fail_apply_at != 0)
        batch_fault(n, &b);
    uint64_t first = b.items[0].index, last = b.items[b.n - 1].index;
    rc = apply_entries(n->store, b.items, b.n);
    if (rc != NAOS_OK) {
        batch_free(&b);
        if (rc == NAOS_ENOMEM)
            return false;
        if (store_is_failed(n->store) || rc == NAOS_ESTORE) {
            node__cmd_fatal(n, "cannot apply a committed entry");
            return false;
        }
        snprintf(why, sizeof why, "entries %llu to %llu: %s",
                 (unsigned long long)first, (unsigned long long)last,
                 store_errmsg(n->store));
        return stuck(n, first, why);
    }
    n->applied = last;
    /* Time went by in the synced commits (propose, apply): what the core
     * arms now must count from now, not from this iteration's start (a
     * 500 ms start timeout would otherwise run short by both fsyncs). */
    if (live)
        reactor_refresh_clock(&n->r);
    for (size_t i = 0; i < b.n && !n->fatal; i++) {
        if (b.items[i].already)
            continue;
        if (b.cmds[i] != NULL)
            after_apply(n, b.cmds[i], &b.items[i].res, b.terms[i], live);
        else if (b.items[i].res.conf_changed)
            conf_applied(n, &b.confs[i], b.items[i].index);
    }
    batch_free(&b);
    return true;
}

static void
drain(struct node *n, bool live)
{
    if (n->log == NULL || n->draining || n->apply_stuck || n->fatal)
        return;
    n->draining = true;
    /* The commit index may grow while we go (an escalation inside a
     * reconcile proposes): each batch is read when its turn comes. */
    while (n->applied < cmdraft_commit_index(n->log) && !n->fatal &&
           apply_batch(n, live))
        ;
    n->draining = false;
}

void
node__cmd_step(struct node *n)
{
    /* While catching up, entries are applied but the trees are left
     * alone: the reconciler acts once, on where the log ends. */
    drain(n, !n->catching_up);
    /* Restarts a busy tree refused, once it can take them (reconcile.h:
     * no timer, so nothing here wakes the loop by itself). */
    if (!n->catching_up && !n->fatal)
        reconcile_retry(&n->rec, n->r.now);
    if (n->leadership_lost) {
        n->leadership_lost = false;
        node__cmd_leadership_lost(n);
    }
    if (n->catching_up && !n->fatal && node__raft_caught_up(n)) {
        n->catching_up = false;
        NAOS_INFO("node", "caught up with the cluster's log at entry %llu: "
                  "starting what it places here",
                  (unsigned long long)n->applied);
        /* A whole pass (reconcile.h), as reconcile_resync but with the
         * node-restart reason: it trusts nothing remembered either, so a
         * snapshot installed while catching up is followed exactly. */
        if (reconcile_all(&n->rec, n->r.now) != NAOS_OK)
            NAOS_ERROR("store", "cannot list deployments: %s",
                       store_errmsg(n->store));
        drain(n, true);
    }
}

void
node__cmd_snapshot_installed(struct node *n, uint64_t index,
                             const char *from)
{
    n->applied = index;
    /* Whoever waits for an entry the snapshot covers cannot be told its
     * fate from here (the entries are gone): their client's retry is
     * answered from the client table, which came with the snapshot. */
    for (size_t i = 0; i < NODE_WAITERS; i++) {
        struct node_waiter *w = &n->waiters[i];
        if (w->rep == NULL || w->index == 0 || w->index > index)
            continue; /* (0: a relay its leader has not placed yet) */
        ctl_reply_error(w->rep, NAOS__V1__ERROR_CODE__UNKNOWN_OUTCOME,
                        "outcome unknown: naos-node %s installed a snapshot "
                        "of the cluster's state past the command (entry "
                        "%llu) instead of applying it; retry it (the same "
                        "command is carried out once) or check with `naos "
                        "status`", n->name, (unsigned long long)w->index);
        waiter_done(n, w);
    }
    char what[160];
    snprintf(what, sizeof what, "the state after entry %llu, from %s",
             (unsigned long long)index, from);
    events_push(&n->events, "snapshot", NULL, n->name, 0, NULL, 0, what,
                naos_clock_wall_ms(), naos_clock_now_us());
    /* Level-triggered: the trees are brought to the installed state,
     * which replaced wholesale what the reconciler last saw (removals,
     * redeployments and path commands it skipped): a whole pass that
     * trusts nothing remembered (reconcile_resync). A node still catching
     * up does it once, at the end: reconcile_all is the same pass. */
    node__drain_dirty(n);
    if (!n->catching_up && reconcile_resync(&n->rec, n->r.now) != NAOS_OK)
        NAOS_ERROR("store", "cannot list deployments: %s",
                   store_errmsg(n->store));
    drain(n, !n->catching_up);
}

bool
node__cmd_pending(const struct node *n)
{
    return n->log != NULL && !n->apply_stuck && !n->fatal &&
           n->applied < cmdraft_commit_index(n->log);
}

bool
node__cmd_answer_retry(struct node *n, struct node_client cl,
                       uint32_t cmd_case, const char *target,
                       struct ctl_reply *rep)
{
    if (cl.id == 0 || cmd_case == NAOS__V1__COMMAND__CMD_STOP ||
        cmd_case == NAOS__V1__COMMAND__CMD_START)
        return false; /* carried out again (apply.c is_client_command) */
    Naos__V1__ClientRecord *rec = NULL;
    int rc = store_client_get(n->store, cl.id, &rec);
    if (rc != NAOS_OK) {
        if (rc != NAOS_ENOTFOUND)
            NAOS_WARN("store", "cannot read client %016llx's record: %s",
                      (unsigned long long)cl.id, store_errmsg(n->store));
        return false; /* proposed: apply deduplicates */
    }
    if (cl.seq > rec->seq) {
        store_client_free(rec);
        return false;
    }
    if (rec->cmd != cmd_case || strcmp(rec->target, target) != 0) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "client id %016llx seq %llu was already used by "
                        "another command (entry %llu): nothing changed; "
                        "give each command its own id",
                        (unsigned long long)cl.id,
                        (unsigned long long)cl.seq,
                        (unsigned long long)rec->index);
        store_client_free(rec);
        return true;
    }
    /* The command as the record names it, for the reply's words. */
    Naos__V1__Command c;
    cmd_init(&c, rec->client_id, rec->seq, rec->at_ms);
    Naos__V1__NameCommand nc = NAOS__V1__NAME_COMMAND__INIT;
    Naos__V1__NodeSpec spec = NAOS__V1__NODE_SPEC__INIT;
    Naos__V1__DeployCommand d = NAOS__V1__DEPLOY_COMMAND__INIT;
    Naos__V1__CheckpointSaveCommand s =
        NAOS__V1__CHECKPOINT_SAVE_COMMAND__INIT;
    nc.name = spec.id = s.path = rec->target;
    d.spec = &spec;
    d.node_id = rec->placed_on;
    c.cmd_case = (Naos__V1__Command__CmdCase)rec->cmd;
    switch (c.cmd_case) {
    case NAOS__V1__COMMAND__CMD_DEPLOY: c.deploy = &d; break;
    case NAOS__V1__COMMAND__CMD_STOP: c.stop = &nc; break;
    case NAOS__V1__COMMAND__CMD_START: c.start = &nc; break;
    case NAOS__V1__COMMAND__CMD_RESTART: c.restart = &nc; break;
    case NAOS__V1__COMMAND__CMD_REMOVE: c.remove = &nc; break;
    case NAOS__V1__COMMAND__CMD_CHECKPOINT_SAVE: c.checkpoint_save = &s; break;
    default:
        store_client_free(rec);
        return false; /* not a door's command: let it be proposed */
    }
    n->stats.retries_door++;
    struct apply_result ar = {0};
    apply_result_of_client(rec, &ar);
    ar.index = rec->index;
    struct reconcile_outcome ro = {.action = RECONCILE_NONE};
    node__cmd_reply(n, &c, &ar, &ro, rep);
    rep->msg.outcome_final = true;
    store_client_free(rec);
    return true;
}

bool
node__dep_recorded(struct node *n, const char *name)
{
    Naos__V1__DeploymentRecord *rec = NULL;
    if (store_deploy_get(n->store, name, &rec) != NAOS_OK)
        return false;
    store_deploy_free(rec);
    return true;
}

int
node__propose(struct node *n, const Naos__V1__Command *c,
              struct ctl_req *req, struct ctl_reply *rep)
{
    char err[512] = "";
    if (n->log == NULL) {
        struct node_founders f;
        if (rep && n->forming)
            node__members_founders(n, n->bootstrap_expect, &f);
        if (rep && n->forming && f.n > n->bootstrap_expect)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                            "the cluster is forming but cannot be founded: "
                            "%zu nodes were started with --bootstrap-expect "
                            "%u (naos-node %s among them), exactly %u must "
                            "be; stop the extra ones (nothing changed)",
                            f.n, n->bootstrap_expect, n->name,
                            n->bootstrap_expect);
        else if (rep && n->forming)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                            "the cluster is forming: %zu of %u founders of "
                            "naos-node %s see each other; nothing changed, "
                            "try again once they do",
                            f.n, n->bootstrap_expect, n->name);
        else if (rep && n->joining)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                            "naos-node %s is joining the cluster: its "
                            "leader has not taken it in yet (see its log); "
                            "nothing changed, try again once `naos nodes` "
                            "shows it as a learner or voter", n->name);
        else if (rep)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                            "naos-node %s is not taking commands yet",
                            n->name);
        return NAOS_ECLOSED;
    }
    if (n->catching_up) {
        if (rep)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                            "naos-node %s is catching up with the cluster's "
                            "log (entry %llu applied): nothing changed, try "
                            "again in a second", n->name,
                            (unsigned long long)n->applied);
        return NAOS_EBUSY;
    }
    if (n->fatal || n->apply_stuck) {
        if (rep)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                            "naos-node %s no longer takes commands (%s; see "
                            "its log); nothing changed", n->name,
                            n->fatal ? "its store failed"
                                     : "it stopped applying them");
        return NAOS_ESTORE;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = cmd_pack(c, &buf, &len, err, sizeof err);
    if (rc != NAOS_OK) {
        if (rc == NAOS_ENOMEM && rep)
            rep->failed = 1;
        else if (rep)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID, "%s", err);
        return rc;
    }
    uint64_t index = 0;
    rc = cmdraft_propose(n->log, buf, len, n->r.now, &index);
    if (rc == NAOS_EBUSY && n->replicated &&
        raft_role_get(cmdraft_core(n->log)) != RAFT_LEADER &&
        raft_leader(cmdraft_core(n->log)).v != 0) {
        /* a follower's own command: the leader proposes it */
        rc = node__relay_propose(n, raft_leader(cmdraft_core(n->log)).v,
                                 buf, len, req, rep);
        if (rc != NAOS_ECLOSED) {
            naos_free(buf);
            return rc;
        }
        rc = NAOS_EBUSY; /* cannot wait here: say who leads */
    }
    naos_free(buf);
    if (rc == NAOS_EBUSY || rc == NAOS_ETOOBIG) {
        const struct raft *core = cmdraft_core(n->log);
        uint64_t leader = raft_leader(core).v;
        const char *lname = leader ? node__members_name(n, leader) : NULL;
        if (rep == NULL)
            NAOS_WARN("node", "cannot propose the %s: %s", cmd_type_name(c),
                      cmdraft_errmsg(n->log));
        else if (rc == NAOS_ETOOBIG)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                            "cannot propose the %s, nothing changed: %s",
                            cmd_type_name(c), cmdraft_errmsg(n->log));
        else if (raft_role_get(core) != RAFT_LEADER && leader && lname)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                            "naos-node %s is not the cluster's leader; %s "
                            "is: run the command there (nothing changed)",
                            n->name, lname);
        else if (raft_role_get(core) != RAFT_LEADER) {
            char why[400];
            node__raft_no_leader(n, why, sizeof why);
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__UNAVAILABLE, "%s",
                            why);
        } else
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                            "cannot propose the %s, nothing changed: %s",
                            cmd_type_name(c), cmdraft_errmsg(n->log));
        return rc;
    }
    if (rc != NAOS_OK) {
        /* the core is mid-batch (cmdraft_flush): it takes nothing more */
        if (store_is_failed(n->store) || rc == NAOS_ESTORE)
            node__cmd_fatal(n, "cannot record a command");
        else
            NAOS_ERROR("store", "cannot record a %s command: %s",
                       cmd_type_name(c), store_errmsg(n->store));
        if (rep)
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                            "cannot persist the %s, nothing changed: %s (see "
                            "the naos-node log)", cmd_type_name(c),
                            store_errmsg(n->store));
        return rc;
    }
    n->proposed = index;
    n->stats.proposals++;
    if (rep == NULL)
        return NAOS_OK; /* nobody waits: applied at the next step */
    struct node_waiter *w = waiter_free_slot(n);
    NAOS_ASSERT(w != NULL); /* more slots than deferrable requests + 1 */
    /* a leader appends at its own term */
    *w = (struct node_waiter){.index = index,
                              .term = raft_term(cmdraft_core(n->log)),
                              .rep = rep,
                              .proposed_us = naos_clock_now_us()};
    if (req != NULL && ctl_req_defer(req, waiter_cancel, n) == NAOS_OK) {
        w->req = req;
        return NAOS_OK;
    }
    if (n->fwd_job != NULL && rep == &n->fwd_job->rep) {
        /* a forwarded request: answered to its node once applied */
        w->job = n->fwd_job;
        n->fwd_job_deferred = true;
        return NAOS_OK;
    }
    /* Answered before the handler returns. */
    drain(n, true);
    if (w->rep == rep && w->index == index) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "the command was recorded (entry %llu) but is not "
                        "applied yet; see `naos status`",
                        (unsigned long long)index);
        *w = (struct node_waiter){0};
    }
    return NAOS_OK;
}

int
node__cmd_open(struct node *n, char *errbuf, size_t errlen)
{
    int rc = store_applied_get(n->store, &n->applied);
    if (rc != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot read the command log: %s",
                 store_errmsg(n->store));
        return rc;
    }
    reconcile_init(&n->rec, n->tree, n->store, n->node_id);
    if (n->nvoters == 0)
        return NAOS_OK; /* forming: the log opens once the founders meet */
    uint64_t ids[NODE_VOTERS_MAX];
    memcpy(ids, n->voters, n->nvoters * sizeof *ids);
    return node__cmd_open_log(n, ids, n->nvoters, errbuf, errlen);
}

int
node__cmd_open_log(struct node *n, const uint64_t *ids, size_t nv,
                   char *errbuf, size_t errlen)
{
    struct store_identity id;
    uint64_t last_before = 0; /* entries above it are this start's no-op */
    int rc = store_identity_get(n->store, &id);
    if (rc == NAOS_OK)
        rc = store_log_bounds(n->store, NULL, &last_before);
    if (rc != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot read the command log: %s",
                 store_errmsg(n->store));
        return rc;
    }
    /* One voter: it stands and commits alone. More: the founded
     * configuration; messages go through the transport (node_raft.c). */
    struct cmdraft_config rcfg = {.node_id = n->node_id,
                                  .cluster_id = id.cluster_id,
                                  .voters = ids,
                                  .nvoters = nv,
                                  .send = node__raft_send,
                                  .event = node__raft_event,
                                  .read_done = node__read_done,
                                  .ctx = n};
    /* Tests only (cluster-tests/it/test_raft_snapshot.py): a small
     * compaction budget, so that a voter falls behind the compacted log
     * after a few commands. */
    const char *keep = getenv("NAOS_TESTING_RAFT_KEEP");
    if (keep && *keep) {
        rcfg.keep_entries = (size_t)strtoul(keep, NULL, 10);
        if (rcfg.keep_entries == 0)
            rcfg.keep_entries = 1;
        NAOS_WARN("node", "NAOS_TESTING_RAFT_KEEP=%zu (for tests only): the "
                  "log keeps that many applied entries for a voter that "
                  "lags", rcfg.keep_entries);
    }
    char why[256];
    if ((rc = cmdraft_open(&n->log, n->store, &rcfg, n->r.now, why,
                           sizeof why)) != NAOS_OK) {
        if (store_is_failed(n->store))
            n->fatal = 111;
        snprintf(errbuf, errlen, "cannot open the command log: %s", why);
        return rc;
    }
    n->nvoters = nv;
    if (ids != n->voters)
        memcpy(n->voters, ids, nv * sizeof *ids);
    n->replicated = nv > 1;
    node__raft_conf_sync(n); /* a configuration the store recorded */
    /* Tests only (cluster-tests/it/test_persist.py): the commit of the
     * Nth entry this run applies fails as a failed fsync would, after the
     * entry itself was committed. */
    const char *fail = getenv("NAOS_TESTING_FAIL_APPLY");
    if (fail && *fail) {
        n->fail_apply_at = (unsigned)strtoul(fail, NULL, 10);
        NAOS_WARN("node", "NAOS_TESTING_FAIL_APPLY=%u (for tests only): that "
                  "command's apply fails as if fsync had", n->fail_apply_at);
    }
    /* Tests only (cluster-tests/it/test_dedup.py): the Nth answer to a
     * command applied here says its outcome is unknown, as a leader
     * change would, though the command was carried out. */
    const char *unknown = getenv("NAOS_TESTING_UNKNOWN_REPLY");
    if (unknown && *unknown) {
        n->unknown_reply_at = (unsigned)strtoul(unknown, NULL, 10);
        NAOS_WARN("node", "NAOS_TESTING_UNKNOWN_REPLY=%u (for tests only): "
                  "that answer says the outcome is unknown",
                  n->unknown_reply_at);
    }
    node__drain_dirty(n); /* whether this node is drained: read once */
    /* Catch up first, then reconcile once on where that ends: a node
     * never acts on intermediate entries. */
    uint64_t from = n->applied;
    drain(n, false);
    if (n->fatal) {
        snprintf(errbuf, errlen, "cannot apply the committed commands: %s",
                 store_errmsg(n->store));
        return NAOS_ESTORE;
    }
    uint64_t caught_up = n->applied < last_before ? n->applied : last_before;
    if (caught_up > from)
        NAOS_INFO("node", "applied commands %llu..%llu, committed before the "
                  "last stop", (unsigned long long)(from + 1),
                  (unsigned long long)caught_up);
    if (n->replicated) {
        /* What this node applied may be behind what the cluster decided
         * since (a cluster's member, a joiner's empty log): start nothing
         * before the leader's commit index. */
        n->catching_up = true;
        n->leader_commit_seen = false;
        node__lease_open(n); /* and nothing before it holds a lease */
        return NAOS_OK;
    }
    reactor_refresh_clock(&n->r);
    if ((rc = reconcile_all(&n->rec, n->r.now)) != NAOS_OK)
        NAOS_ERROR("store", "cannot list deployments: %s",
                   store_errmsg(n->store));
    /* Entries proposed during that (a deployment failing at once) */
    drain(n, true);
    return NAOS_OK;
}

void
node__cmd_close(struct node *n)
{
    for (size_t i = 0; i < NODE_WAITERS; i++) {
        struct node_fwd_job *job = n->waiters[i].job;
        if (n->waiters[i].rep != NULL && n->waiters[i].req == NULL)
            n->waiters[i] = (struct node_waiter){0};
        if (job != NULL) { /* its node's client times out */
            ctl_reply_fini(&job->rep);
            naos_free(job);
            n->fwd_jobs--;
        }
    }
    reconcile_fini(&n->rec);
    cmdraft_close(n->log);
    n->log = NULL;
}

/* failure_is_missing: a top supervisor's failure (sup.c top_failed:
 * "... PATH REASON") that ends in a program or working directory missing
 * on this node (sup_reason_format's spawn-failed:ENOENT,
 * cwd-failed:ENOENT): not the agent's doing, somewhere else may have it. */
static bool
failure_is_missing(const char *failure)
{
    static const char *const ends[] = {" spawn-failed:ENOENT",
                                       " cwd-failed:ENOENT"};
    size_t len = failure ? strlen(failure) : 0;
    for (size_t i = 0; i < sizeof ends / sizeof *ends; i++) {
        size_t k = strlen(ends[i]);
        if (len >= k && strcmp(failure + len - k, ends[i]) == 0)
            return true;
    }
    return false;
}

void
node__propose_failed(struct node *n, const char *name, const char *failure)
{
    struct sup_node *top = sup_find(n->tree, name);
    if (!node__lease_may_run(n) && !(top && node__lease_exempt(top))) {
        /* its workers were killed for lack of a lease, not by their own
         * doing: where it runs next is the root supervisor's business */
        NAOS_INFO("node", "%s gave up while naos-node %s holds no lease: "
                  "not recorded as failed", name, n->name);
        return;
    }
    Naos__V1__Command c;
    cmd_init(&c, 0, 0, naos_clock_wall_ms()); /* the node's own */
    Naos__V1__FailCommand f = NAOS__V1__FAIL_COMMAND__INIT;
    f.name = (char *)name;
    f.failure = (char *)(failure && failure[0] ? failure : "failed");
    f.epoch = reconcile_epoch(&n->rec, name); /* the placement that failed */
    f.missing = failure_is_missing(failure);
    c.cmd_case = NAOS__V1__COMMAND__CMD_FAIL;
    c.fail = &f;
    if (node__propose(n, &c, NULL, NULL) != NAOS_OK)
        NAOS_ERROR("store", "cannot record that %s failed (a node restart "
                   "will start it again)", name);
}
