/* SPDX-License-Identifier: Apache-2.0 */
/* node_status.c: a deployment's status document (naos.v1.DeploymentStatus),
 * built for control replies, and cached per deployment for the HTTP API.
 * Runs on the reactor thread, except status_snap_unref (any thread).
 *
 * Why a cache: at 10,000 children building the document costs the reactor
 * milliseconds, and the dashboard asks for it every second. A snapshot is
 * rebuilt only when its deployment's sup_node.version moved or an
 * intensity count it shows has since expired; otherwise the request takes
 * one more reference. Uptimes are the one thing that changes with time
 * alone: a snapshot records when it was taken, and the renderer adds the
 * time since (status_json_status_at). */
#include <stdatomic.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/time.h"
#include "node/node_int.h"

static Naos__V1__NodeStatus *
status_of(struct node *n, struct ctl_reply *rep, const struct sup_node *s,
          naos_time *changes_at)
{
    Naos__V1__NodeStatus *ns = ctl_reply_alloc(rep, sizeof *ns);
    if (ns == NULL)
        return NULL;
    naos__v1__node_status__init(ns);
    naos_time now = n->r.now;
    ns->id = ctl_reply_strdup(rep, s->id);
    ns->path = ctl_reply_strdup(rep, s->path);
    ns->is_supervisor = s->is_supervisor;
    ns->state = (char *)sup_state_name(s->state);
    ns->pid = s->pid;
    ns->restarts = s->restarts;
    ns->restart_type = (char *)spec_restart_name(s->spec->restart);
    ns->status_text = ctl_reply_strdup(rep, s->status_text);
    if (s->pid > 0 && now > s->started_at)
        ns->uptime_ms = (int64_t)(now - s->started_at);
    if (s->last_exit.kind != SUP_REASON_NONE) {
        Naos__V1__ExitReason *er = ctl_reply_alloc(rep, sizeof *er);
        if (er) {
            naos__v1__exit_reason__init(er);
            char buf[64];
            sup_reason_format(s->last_exit, buf, sizeof buf);
            er->reason = ctl_reply_strdup(rep, buf);
            er->at_wall_ms = node__wall_of(n, s->last_exit_at);
            ns->last_exit = er;
        }
    }
    if (!s->is_supervisor)
        return ns;
    ns->strategy = (char *)spec_strategy_name(s->spec->strategy);
    ns->max_restarts = s->spec->max_restarts;
    ns->window_s = s->spec->window_s;
    ns->restarts_in_window = sup_intensity_in_use(s, now);
    naos_time until = sup_intensity_changes_at(s, now);
    if (until < *changes_at)
        *changes_at = until;
    if (s->nchildren) {
        ns->children = ctl_reply_alloc(rep, s->nchildren * sizeof *ns->children);
        if (ns->children == NULL)
            return ns;
        for (size_t i = 0; i < s->nchildren; i++) {
            Naos__V1__NodeStatus *c =
                status_of(n, rep, s->children[i], changes_at);
            if (c)
                ns->children[ns->n_children++] = c;
        }
    }
    return ns;
}

/* Builds dep's document into rep; *changes_at gets the first time it would
 * read differently with no call into the core (uptimes aside). */
static Naos__V1__DeploymentStatus *
build(struct node *n, struct ctl_reply *rep, const struct sup_node *dep,
      naos_time *changes_at)
{
    Naos__V1__DeploymentStatus *ds = ctl_reply_alloc(rep, sizeof *ds);
    if (ds == NULL)
        return NULL;
    naos__v1__deployment_status__init(ds);
    ds->name = ctl_reply_strdup(rep, dep->id);
    ds->state = (char *)sup_state_name(dep->state);
    ds->failure = ctl_reply_strdup(rep, dep->failure);
    *changes_at = NAOS_TIME_NEVER;
    ds->tree = status_of(n, rep, dep, changes_at);
    return ds;
}

Naos__V1__DeploymentStatus *
node__deployment_status(struct node *n, struct ctl_reply *rep,
                        const struct sup_node *dep)
{
    naos_time unused;
    return build(n, rep, dep, &unused);
}

/* ---- snapshots ----------------------------------------------------------- */

void
status_snap_unref(struct status_snap *s)
{
    if (s == NULL)
        return;
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    ctl_reply_fini(&s->rep);
    naos_free(s);
}

static struct status_snap *
ref(struct status_snap *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

static bool
fresh(const struct node *n, const struct status_snap *s,
      const struct sup_node *dep)
{
    return s->version == dep->version && n->r.now < s->valid_until;
}

static struct status_snap *
snap_build(struct node *n, const struct sup_node *dep)
{
    uint64_t t0 = naos_clock_now_us();
    struct status_snap *s = naos_alloc(sizeof *s);
    if (s == NULL)
        return NULL;
    atomic_init(&s->refs, 1);
    s->top = dep;
    s->version = dep->version;
    s->taken_at = n->r.now;
    s->ds = build(n, &s->rep, dep, &s->valid_until);
    if (s->ds == NULL || s->rep.failed) {
        status_snap_unref(s);
        return NULL;
    }
    n->stats.snap_builds++;
    n->stats.snap_build_us += naos_clock_now_us() - t0;
    return s;
}

/* The cache slot of dep, or NULL. */
static struct status_snap **
slot_of(struct node *n, const struct sup_node *dep)
{
    for (size_t i = 0; i < n->snaps.len; i++)
        if (n->snaps.v[i]->top == dep)
            return &n->snaps.v[i];
    return NULL;
}

struct status_snap *
node__status_snap(struct node *n, const struct sup_node *dep)
{
    struct status_snap **slot = slot_of(n, dep);
    if (slot != NULL && fresh(n, *slot, dep))
        return ref(*slot);
    struct status_snap *s = snap_build(n, dep);
    if (s == NULL)
        return NULL;
    if (slot != NULL) {
        status_snap_unref(*slot);
        *slot = s;
        return ref(s);
    }
    if (n->snaps.len == n->snaps.cap) {
        size_t cap = n->snaps.cap ? n->snaps.cap * 2 : 8;
        struct status_snap **v = naos_realloc(n->snaps.v, cap * sizeof *v);
        if (v == NULL)
            return s; /* served, just not cached */
        n->snaps.v = v;
        n->snaps.cap = cap;
    }
    n->snaps.v[n->snaps.len++] = s;
    return ref(s);
}

void
node__status_snaps_forget(struct node *n, const struct sup_node *top)
{
    struct status_snap **slot = slot_of(n, top);
    if (slot == NULL)
        return;
    status_snap_unref(*slot);
    *slot = n->snaps.v[--n->snaps.len];
}

void
node__status_snaps_fini(struct node *n)
{
    for (size_t i = 0; i < n->snaps.len; i++)
        status_snap_unref(n->snaps.v[i]);
    naos_free(n->snaps.v);
    memset(&n->snaps, 0, sizeof n->snaps);
}
