/* SPDX-License-Identifier: Apache-2.0 */
/* node_lease.c: every member of a cluster holds a lease on its placements,
 * renewed through the leader (issue 12; docs/architecture.md "The root
 * supervisor"). node/root/lease.h keeps the accounting; this is the glue:
 * the messages, the leader's proof that it still leads, the guardian's
 * deadline, and the fence.
 *
 * The holder (every member whose log is a cluster's) asks the leader it
 * knows every renew_every (LeaseRequest, Sealed.type 104; the leader asks
 * itself without a message) and counts the lease from when it asked, on
 * CLOCK_BOOTTIME: the clock of its guardian, which keeps counting while
 * the machine sleeps. A grant (105) for its latest request moves the
 * lease, and the guardian's kill deadline with it (expiry - guard_margin).
 * The node runs its deployments only while the lease holds with
 * FENCE_AHEAD_MS to spare and it has applied up to the commit index the
 * grant carried (a thawed node first learns what moved while it was
 * away); otherwise it is fenced: the reconciler removes every tree and
 * brings none in (reconcile_fence), and a spawn is refused after a fresh
 * read of the clock. The guardian kills whatever is left at its deadline,
 * even when this process is stopped or starved and cannot fence itself.
 *
 * The leader grants in rounds: the requests that arrived wait for a
 * ReadIndex (cmdraft_read_index: a heartbeat round a majority answered,
 * begun after they arrived), and when it confirms, each is granted
 * (lease_leader_grant, on the leader's cached monotonic now: earlier than
 * the real send, so the leader's view of the lease only grows safer) and
 * answered with the confirmed index. A leader that cannot confirm grants
 * nothing. A new leader counts every node as granted when it began to
 * lead (lease_leader_start), so a leader change alone moves nothing.
 * Only members of the configuration are granted. Renewals are not log
 * entries. The root supervisor (node_root.c) moves the placements of a
 * node whose lease has run out for the leader.
 *
 * A node whose log becomes a cluster's while it runs (a lone voter that
 * takes its first learner) holds a lease from that moment: it is the one
 * voter then, so its own grant needs no round, and no other node can lead
 * before a later change it commits itself.
 *
 * Bounds: one pending request per member (LEASE_NODES_MAX), one round in
 * flight. Reactor thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/base/err.h"
#include "node/base/log.h"
#include "node/node_int.h"
#include "node/proc/guardian.h"
#include "node/proc/orphans.h"
#include "proto/forward.pb-c.h"
#include "store/state.h"

_Static_assert(NODE_LEASE_TYPE >= WIRE_TYPES_REQ_LO &&
                   NODE_LEASE_GRANT_TYPE <= WIRE_TYPES_REQ_HI,
               "lease messages use the requests range");

/* The node fences itself this long before its guardian would kill: its
 * own stop is the orderly one (the reconciler's removal, events, no
 * restarts counted); the guardian's is for when it cannot act. */
#define FENCE_AHEAD_MS 250
/* Without a known leader, the holder looks again this often. */
#define NO_LEADER_RETRY_MS 50
/* A previous run's process that outlived SIGKILL is looked for this
 * often (no lease is asked for meanwhile: a certificate of this run
 * would not cover it). */
#define LEFTOVERS_LOOK_MS 500

/* lease_config: LEASE_CONFIG_DEFAULT; tests only (NAOS_TESTING_LEASE_MS,
 * 1000..600000, the same on every node of the cluster): another length,
 * so a test whose node is cut off for a while on a loaded machine is
 * not fenced meanwhile. */
static const struct lease_config *
lease_config(void)
{
    static struct lease_config cfg = LEASE_CONFIG_DEFAULT;
    static bool read;
    if (!read) {
        read = true;
        const char *v = getenv("NAOS_TESTING_LEASE_MS");
        long ms = v != NULL ? strtol(v, NULL, 10) : 0;
        if (ms >= 1000 && ms <= 600000) {
            cfg.length = ms;
            NAOS_WARN("lease", "NAOS_TESTING_LEASE_MS=%ld (for tests only): "
                      "leases of %ld ms", ms, ms);
        }
    }
    return &cfg;
}

static bool
holds_leases(const struct node *n)
{
    return n->log != NULL && n->replicated && !n->fatal;
}

static bool
leads(const struct node *n)
{
    return n->log != NULL && n->replicated && !n->fatal &&
           raft_role_get(cmdraft_core(n->log)) == RAFT_LEADER;
}

bool
node__lease_exempt(const struct sup_node *w)
{
    while (w->parent != NULL)
        w = w->parent;
    return w->spec != NULL && w->spec->on_partition_keep;
}

bool
node__lease_may_run(const struct node *n)
{
    if (!n->lease_on)
        return true;
    if (n->lease_released)
        return false; /* handed over: it runs nothing any more */
    uint64_t boot = guardian_clock_now(); /* afresh: acts on the lease */
    naos_time guard = lease_holder_guard_deadline(&n->lease);
    /* A fenced node runs again only once it has applied what the grant
     * said (what moved while it was away); a running one keeps running
     * while it lags behind in applying (only its lease's time counts). */
    return lease_holder_valid(&n->lease, boot) &&
           boot + FENCE_AHEAD_MS < guard &&
           (!n->rec.fenced || n->applied >= n->lease_commit);
}

/* ---- the leader's side --------------------------------------------------- */

static bool
is_member(const struct node *n, uint64_t id)
{
    uint64_t ids[NODE_MEMBERS_MAX];
    size_t k = node__conf_members(n, ids);
    for (size_t i = 0; i < k; i++)
        if (ids[i] == id)
            return true;
    return false;
}

static bool grant_local(struct node *n, uint64_t id, uint64_t commit);
static void record_granted(struct node *n, uint64_t node, uint64_t instance);
static void grant(struct node *n, uint64_t node, uint64_t id,
                  uint64_t instance, uint64_t commit);

static void
reply(struct node *n, uint64_t to, uint64_t id, bool granted, uint64_t commit,
      const char *error)
{
    if (to == n->node_id) {
        if (granted)
            grant_local(n, id, commit);
        return;
    }
    Naos__V1__LeaseGrant g = NAOS__V1__LEASE_GRANT__INIT;
    g.id = id;
    g.granted = granted;
    g.commit_index = commit;
    g.error = (char *)(error ? error : "");
    g.leader_instance = n->lease_instance;
    g.term = n->lease_lead_term;
    if (node__send_pb(n, to, NODE_LEASE_GRANT_TYPE, &g.base) != NAOS_OK)
        NAOS_DEBUG("lease", "cannot answer %s's renewal (it asks again)",
                   node__node_name(n, to));
}

/* take_request: holder asks for id; it waits for the next round (a newer
 * request of the same holder replaces its older one). */
static void
take_request(struct node *n, uint64_t holder, uint64_t id, uint64_t instance)
{
    char why[512];
    if (!leads(n)) {
        snprintf(why, sizeof why, "naos-node %s does not lead the cluster",
                 n->name);
        reply(n, holder, id, false, 0, why);
        return;
    }
    if (!is_member(n, holder)) {
        snprintf(why, sizeof why, "%s is not a member of the cluster's "
                 "configuration: no lease", node__node_name(n, holder));
        reply(n, holder, id, false, 0, why);
        return;
    }
    size_t i = 0;
    while (i < n->nlease_reqs && n->lease_reqs[i].node != holder)
        i++;
    if (i == n->nlease_reqs) {
        if (n->nlease_reqs == LEASE_NODES_MAX)
            return; /* unreachable: members are fewer; it asks again */
        n->nlease_reqs++;
    } else if (n->lease_reqs[i].round != 0 &&
               n->lease_reqs[i].instance == instance) {
        /* its earlier request is in the round in flight: that one is
         * answered (the holder counts it from when it sent it); this one
         * arrived after the round began and could not use it, and the
         * holder asks again if it must */
        return;
    }
    n->lease_reqs[i] = (struct node_lease_req){holder, id, instance, 0};
}

static void
round_start(struct node *n)
{
    bool waiting = false;
    for (size_t i = 0; i < n->nlease_reqs && !waiting; i++)
        waiting = n->lease_reqs[i].round == 0;
    if (!waiting || n->lease_round != 0 || !leads(n))
        return;
    uint64_t ctx = ++n->read_seq; /* a read's ctx: node__read_done sorts */
    /* Set before asking: a lone voter's round is confirmed within the
     * call (node__lease_read_done runs inside it). */
    n->lease_round = ctx;
    for (size_t i = 0; i < n->nlease_reqs; i++)
        if (n->lease_reqs[i].round == 0)
            n->lease_reqs[i].round = ctx;
    int rc = cmdraft_read_index(n->log, ctx, n->r.now);
    if (rc == NAOS_ESTORE) {
        node__cmd_fatal(n, "cannot persist the replicated log");
        return;
    }
    if (rc != NAOS_OK) {
        /* the holders ask again; drop what waits so as not to spin */
        n->nlease_reqs = 0;
        n->lease_round = 0;
    }
}

bool
node__lease_read_done(struct node *n, const struct raft_read_result *res)
{
    if (res->ctx == 0 || res->ctx != n->lease_round)
        return false;
    n->lease_round = 0;
    for (size_t i = 0; i < n->nlease_reqs;) {
        struct node_lease_req q = n->lease_reqs[i];
        if (q.round != res->ctx) {
            i++;
            continue;
        }
        n->lease_reqs[i] = n->lease_reqs[--n->nlease_reqs];
        if (!res->ok) {
            reply(n, q.node, q.id, false, 0, "the leader stepped down "
                  "before it could confirm it leads");
            continue;
        }
        if (q.node != n->node_id &&
            lease_leader_expired(&n->lease_lead, q.node, n->r.now)) {
            /* Its lease ran out: the root may be moving its placements.
             * The grant waits until the root has looked (and proposed
             * its moves), and names an index past them, so that the node
             * learns they moved before it runs anything again. */
            if (n->nlease_late < LEASE_NODES_MAX) {
                n->lease_late[n->nlease_late++] = (struct node_lease_late){
                    q.node, q.id, q.instance, res->index, n->r.iterations};
                node__root_due(n);
            }
            continue;
        }
        grant(n, q.node, q.id, q.instance, res->index);
    }
    /* requests that came meanwhile go in the next round, which the next
     * lease step starts (not here: this runs inside the core's ready) */
    return true;
}

/* evict_departed: forgets the grants of nodes that left the
 * configuration and whose lease has run out (earlier, a forgotten node
 * would count from this leader's start: before its lease ends). */
static void
evict_departed(struct node *n)
{
    struct lease_leader *l = &n->lease_lead;
    for (size_t i = l->n; i-- > 0;) {
        uint64_t node = l->g[i].node;
        if (!is_member(n, node) &&
            lease_leader_expired(l, node, n->r.now)) {
            lease_leader_forget(l, node);
            for (size_t k = 0; k < n->nlease_granted; k++)
                if (n->lease_granted[k].node == node) {
                    n->lease_granted[k] =
                        n->lease_granted[--n->nlease_granted];
                    break;
                }
        }
    }
}

/* grant: records the grant to node (request id, its run) and answers it
 * with commit (the index it must apply before it runs anything new). */
static void
grant(struct node *n, uint64_t node, uint64_t id, uint64_t instance,
      uint64_t commit)
{
    /* Past every entry in this leader's log: a move proposed and not yet
     * committed (the root's, off this node) must be applied there before
     * it lifts its fence, or it could start what was moved meanwhile. A
     * running node is not held by it (node__lease_may_run). */
    uint64_t last = raft_last_index(cmdraft_core(n->log));
    if (last > commit)
        commit = last;
    int rc = lease_leader_grant(&n->lease_lead, node, n->r.now);
    if (rc == NAOS_ETOOBIG) {
        evict_departed(n);
        rc = lease_leader_grant(&n->lease_lead, node, n->r.now);
    }
    if (rc != NAOS_OK) {
        NAOS_WARN("lease", "no room to record %s's grant: not granted",
                  node__node_name(n, node));
        return;
    }
    n->lease_grants++;
    record_granted(n, node, instance);
    reply(n, node, id, true, commit, NULL);
}

/* late_step: the grants that waited for the root's look (see
 * node__lease_read_done) go out once a root step ran after them. */
static void
late_step(struct node *n)
{
    for (size_t i = 0; i < n->nlease_late;) {
        struct node_lease_late q = n->lease_late[i];
        if (n->r.iterations <= q.iteration) {
            i++;
            continue;
        }
        n->lease_late[i] = n->lease_late[--n->nlease_late];
        grant(n, q.node, q.id, q.instance, q.index);
    }
}

/* granted_slot: where node's last granted instance is kept (a new slot
 * when absent: NULL when full). */
static uint64_t *
granted_slot(struct node *n, uint64_t node, bool add)
{
    for (size_t i = 0; i < n->nlease_granted; i++)
        if (n->lease_granted[i].node == node)
            return &n->lease_granted[i].instance;
    if (add && n->nlease_granted == LEASE_NODES_MAX)
        evict_departed(n);
    if (!add || n->nlease_granted == LEASE_NODES_MAX)
        return NULL;
    n->lease_granted[n->nlease_granted].node = node;
    return &n->lease_granted[n->nlease_granted++].instance;
}

static void
record_granted(struct node *n, uint64_t node, uint64_t instance)
{
    uint64_t *slot = granted_slot(n, node, true);
    if (slot != NULL && *slot != instance)
        NAOS_DEBUG("lease", "granted %s's instance %016" PRIx64,
                   node__node_name(n, node), instance);
    if (slot != NULL)
        *slot = instance;
}

/* A dead leader's certificate kept by a follower counts for this long
 * (its election is over well before). */
#define CERT_KEEP_MS 10000

/* certified: node's lease ends now, on its guardian's proof. */
static void
certified(struct node *n, uint64_t node)
{
    if (lease_leader_release(&n->lease_lead, node, n->r.now) != NAOS_OK)
        return;
    n->lease_certified++;
    char detail[256];
    snprintf(detail, sizeof detail, "%s died and its guardian killed every "
             "process of its agents", node__node_name(n, node));
    NAOS_INFO("lease", "%s: its work moves now", detail);
    events_push(&n->events, "fenced", NULL, NULL, 0, NULL, 0, detail,
                n->r.wall_ms, naos_clock_now_us());
    events_mark_log(&n->events, n->applied, n->lease_lead_term);
    node__root_due(n);
}

/* dead_leaders_cert: a certificate of instance from node is that of the
 * leader of the term right before term (the one this node leads in), as
 * its grants named it. No other instance of
 * that node can hold a lease then: the only leaders that could have
 * granted one since are that run and this node (each term has one
 * leader, and a leader grants only after a round its term's majority
 * answered), and this node granted it none. */
static bool
dead_leaders_cert(const struct node *n, uint64_t node, uint64_t instance,
                  uint64_t term)
{
    return n->lease_granter.node == node &&
           n->lease_granter.instance == instance && instance != 0 &&
           n->lease_granter.term + 1 == term;
}

/* recv_certificate: a dead node's guardian says nothing of that run
 * (instance) of the node runs any more (node_certify.c). Taken by the
 * leader for the instance it last granted: any later run of that node is
 * another instance, so an old or replayed certificate cannot end a live
 * run's lease. A dead leader's: a follower keeps it (it came before the
 * election) and takes it if it leads in the very next term, as does a
 * leader of that term that granted the node nothing yet. */
static bool
recv_certificate(struct node *n, const struct wire_msg *m)
{
    Naos__V1__LeaseCertificate *c =
        naos__v1__lease_certificate__unpack(NULL, m->len, m->payload);
    if (c == NULL)
        return false;
    uint64_t instance = c->instance;
    naos__v1__lease_certificate__free_unpacked(c, NULL);
    uint64_t *slot = n->lease_leading ? granted_slot(n, m->sender, false)
                                      : NULL;
    if (n->lease_leading && (slot == NULL || *slot == 0) &&
        dead_leaders_cert(n, m->sender, instance, n->lease_lead_term)) {
        certified(n, m->sender);
        return true;
    }
    if (!n->lease_leading && n->lease_granter.node == m->sender &&
        n->lease_granter.instance == instance && instance != 0) {
        /* the term is checked when it leads (kept_cert_step) */
        n->lease_cert_kept.node = m->sender;
        n->lease_cert_kept.instance = instance;
        n->lease_cert_kept.term = n->lease_granter.term;
        n->lease_cert_kept.at = n->r.now;
        NAOS_INFO("lease", "the leader %s died and its guardian killed every "
                  "process of its agents: kept, for the next leader",
                  node__node_name(n, m->sender));
        return true;
    }
    if (slot == NULL || *slot == 0 || *slot != instance) {
        NAOS_DEBUG("lease", "a certificate from %s's guardian not taken (%s; "
                   "instance %016" PRIx64 ", granted %016" PRIx64 ")",
                   node__node_name(n, m->sender),
                   !n->lease_leading ? "not the leader"
                                     : "not the instance this leader granted",
                   instance, slot ? *slot : 0);
        return true;
    }
    *slot = 0;
    certified(n, m->sender);
    return true;
}

/* kept_cert_step: a new leader takes the dead leader's certificate it
 * kept as a follower, if it leads in the term right after that leader's
 * and the certificate is fresh. */
static void
kept_cert_step(struct node *n)
{
    if (n->lease_cert_kept.node == 0)
        return;
    bool fresh = n->r.now < n->lease_cert_kept.at + CERT_KEEP_MS;
    if (fresh && n->lease_cert_kept.term == n->lease_granter.term &&
        dead_leaders_cert(n, n->lease_cert_kept.node,
                          n->lease_cert_kept.instance, n->lease_lead_term))
        certified(n, n->lease_cert_kept.node);
    n->lease_cert_kept.node = 0;
}

/* lead_step: follow this node's leadership: a new term of leading starts
 * the leader's table afresh (every node granted now). */
static void
lead_step(struct node *n)
{
    if (!leads(n)) {
        n->lease_leading = false;
        n->nlease_reqs = 0;
        n->lease_round = 0;
        n->nlease_late = 0;
        return;
    }
    uint64_t term = raft_term(cmdraft_core(n->log));
    if (!n->lease_leading || n->lease_lead_term != term) {
        lease_leader_start(&n->lease_lead, lease_config(), n->r.now);
        n->lease_leading = true;
        n->lease_lead_term = term;
        n->nlease_reqs = 0;
        n->lease_round = 0;
        n->nlease_granted = 0;
        n->nlease_late = 0;
        NAOS_DEBUG("lease", "leading term %" PRIu64 ": every node's lease "
                   "counts from now", term);
        kept_cert_step(n);
    }
    late_step(n);
    round_start(n);
}

bool
node__lease_expired(const struct node *n, uint64_t node, naos_time *at)
{
    if (!n->lease_leading || node == n->node_id) {
        *at = NAOS_TIME_NEVER;
        /* a leader that stopped every worker to exit releases its own */
        return n->lease_leading && node == n->node_id && n->lease_released;
    }
    *at = lease_leader_expiry(&n->lease_lead, node);
    return lease_leader_expired(&n->lease_lead, node, n->r.now);
}

/* ---- the holder's side --------------------------------------------------- */

/* extend_guardian: the guardian's deadline is the lease's end; it kills
 * its own margin (NODE_GUARDIAN_MARGIN_MS, the lease's guard_margin)
 * before it, and the node fences itself FENCE_AHEAD_MS before that. */
static void
extend_guardian(struct node *n)
{
    _Static_assert(NODE_GUARDIAN_MARGIN_MS == 500,
                   "the guardian's margin is the lease's guard_margin");
    if (node__guardian_extend(n, n->lease.expiry) != NAOS_OK)
        NAOS_ERROR("lease", "cannot move the guardian's deadline");
}

/* grant_local: request id was granted, naming index commit; false when
 * it does not count (not one of the recent requests unanswered). */
static bool
grant_local(struct node *n, uint64_t id, uint64_t commit)
{
    if (!n->lease_on || !lease_holder_granted(&n->lease, id))
        return false;
    if (commit > n->lease_commit)
        n->lease_commit = commit;
    extend_guardian(n);
    return true;
}

static void
fence_step(struct node *n)
{
    bool run = node__lease_may_run(n);
    if (run == !n->rec.fenced)
        return;
    char detail[512];
    if (!run) {
        uint64_t boot = guardian_clock_now();
        if (lease_holder_valid(&n->lease, boot) &&
            boot + FENCE_AHEAD_MS < lease_holder_guard_deadline(&n->lease))
            snprintf(detail, sizeof detail, "applying up to %" PRIu64
                     " before it runs anything (applied %" PRIu64 ")",
                     n->lease_commit, n->applied);
        else if (n->lease.expiry == 0)
            snprintf(detail, sizeof detail, "no lease yet");
        else
            snprintf(detail, sizeof detail, "its lease ran out: no leader "
                     "renewed it");
        NAOS_WARN("lease", "naos-node %s runs nothing: %s", n->name, detail);
        snprintf(n->fence_detail, sizeof n->fence_detail, "%s", detail);
        n->lease_fences++;
    } else {
        snprintf(detail, sizeof detail, "it holds its lease");
        NAOS_INFO("lease", "naos-node %s holds its lease: it runs what is "
                  "placed on it", n->name);
    }
    /* A fence of a node that ran something is an event; the first lift
     * at start is not. */
    if (!run || n->lease_fences > 0)
        events_push(&n->events, run ? "lease-held" : "fenced", NULL, NULL, 0,
                    NULL, 0, detail, n->r.wall_ms, naos_clock_now_us());
    if (reconcile_fence(&n->rec, !run, n->r.now) != NAOS_OK)
        NAOS_ERROR("store", "cannot read the deployments to %s: %s",
                   run ? "bring them in" : "fence them",
                   store_errmsg(n->store));
}

/* start_holding: the log became a cluster's (or opened as one). */
static void
start_holding(struct node *n, bool running)
{
    n->lease_on = true;
    lease_holder_init(&n->lease, lease_config());
    n->lease_commit = 0;
    if (running) {
        /* It was the one voter until now: its own grant is proven. */
        uint64_t id = lease_holder_request(&n->lease, guardian_clock_now());
        lease_holder_granted(&n->lease, id);
        extend_guardian(n);
    }
}

void
node__lease_open(struct node *n)
{
    start_holding(n, false);
    snprintf(n->fence_detail, sizeof n->fence_detail, "no lease yet");
    reconcile_fence(&n->rec, true, n->r.now); /* before reconcile_all */
}

void
node__lease_step(struct node *n)
{
    lead_step(n);
    if (!n->lease_on) {
        if (!holds_leases(n))
            return;
        start_holding(n, true);
    }
    if (n->leftovers_alive && n->r.now >= n->leftovers_look) {
        unsigned alive = 0;
        n->leftovers_look = n->r.now + LEFTOVERS_LOOK_MS;
        if (proc_orphans_count_marked(n->id_env, &alive) == NAOS_OK &&
            alive == 0) {
            n->leftovers_alive = false;
            NAOS_INFO("lease", "the previous run's processes are gone: "
                      "asking for a lease");
        }
    }
    uint64_t boot = guardian_clock_now();
    if (lease_holder_due(&n->lease, boot) && n->r.now >= n->lease_retry_at &&
        !n->lease_released && !n->leftovers_alive) {
        uint64_t leader = raft_leader(cmdraft_core(n->log)).v;
        if (leader == 0) {
            n->lease_retry_at = n->r.now + NO_LEADER_RETRY_MS;
        } else {
            uint64_t id = lease_holder_request(&n->lease, boot);
            if (leader == n->node_id) {
                take_request(n, n->node_id, id, n->lease_instance);
                round_start(n);
            } else {
                Naos__V1__LeaseRequest q = NAOS__V1__LEASE_REQUEST__INIT;
                q.id = id;
                q.instance = n->lease_instance;
                if (node__send_pb(n, leader, NODE_LEASE_TYPE, &q.base) !=
                    NAOS_OK)
                    NAOS_DEBUG("lease", "cannot reach the leader %s to renew "
                               "(it asks again)", node__node_name(n, leader));
            }
        }
    }
    fence_step(n);
}

/* release: hands the placements over (node__lease_exit_ready). false
 * when it cannot (no leader known, the certificate not sent). */
static bool
release(struct node *n)
{
    n->lease_released = true; /* no renewal from now on */
    uint64_t leader = raft_leader(cmdraft_core(n->log)).v;
    if (leader == n->node_id) {
        /* It leads: its own root moves its placements (its lease counts
         * as run out, node__lease_expired), before it goes. */
        NAOS_INFO("lease", "nothing of naos-node %s runs: moving its "
                  "deployments before it stops leading", n->name);
        node__root_due(n);
        return true;
    }
    if (leader == 0)
        return false;
    Naos__V1__LeaseCertificate c = NAOS__V1__LEASE_CERTIFICATE__INIT;
    c.instance = n->lease_instance;
    if (node__send_pb(n, leader, NODE_LEASE_CERT_TYPE, &c.base) != NAOS_OK)
        return false;
    NAOS_INFO("lease", "told the leader %s that nothing of naos-node %s "
              "runs: its deployments move now", node__node_name(n, leader),
              n->name);
    return true;
}

/* placed_here_any: something is still placed on this node. */
static bool
placed_here_any(struct node *n)
{
    Naos__V1__PlacementRecord **pl = NULL;
    size_t npl = 0;
    if (store_placement_list(n->store, &pl, &npl) != NAOS_OK)
        return false;
    bool mine = false;
    for (size_t i = 0; i < npl && !mine; i++)
        mine = pl[i]->node_id == n->node_id;
    store_placement_list_free(pl, npl);
    return mine;
}

enum { EXIT_START = 0, EXIT_CLEARING, EXIT_RELEASED, EXIT_SETTLING };

/* The exit's steps look again this often. */
#define EXIT_POLL_MS 20

bool
node__lease_exit_ready(struct node *n, naos_time *wake)
{
    naos_time now = n->r.now;
    *wake = now + EXIT_POLL_MS;
    if (!n->lease_on || n->log == NULL || n->stopping > 1)
        return true; /* nothing to hand over, or told to go at once */
    switch (n->exit_phase) {
    case EXIT_START:
        /* Fenced first: nothing placed here from now on is brought in
         * (the leader may still place or move work here until it hears
         * of the hand-over). */
        n->lease_released = true;
        n->rec.closing = true;
        n->rec.fenced = false; /* so that the fence below is a pass */
        if (reconcile_fence(&n->rec, true, now) != NAOS_OK)
            NAOS_ERROR("store", "cannot read the deployments to fence "
                       "them: %s", store_errmsg(n->store));
        n->exit_phase = EXIT_CLEARING;
        n->exit_since = now;
        /* fall through */
    case EXIT_CLEARING: {
        if (!sup_is_quiet(n->tree))
            return false; /* what the fence stopped (keep deployments) */
        unsigned left = 0;
        proc_orphans_kill_marked(n->run_env, &left);
        if (left > 0) {
            if (now < n->exit_since + NODE_RELEASE_CLEAR_MS)
                return false;
            NAOS_WARN("lease", "%u process(es) of naos-node %s's agents "
                      "still run after %d ms: its deployments move when its "
                      "lease runs out", left, n->name, NODE_RELEASE_CLEAR_MS);
            return true;
        }
        if (!release(n))
            return true; /* its lease runs out as it would have */
        n->exit_phase = EXIT_RELEASED;
        n->exit_since = now;
        return false;
    }
    case EXIT_RELEASED:
        if (!n->lease_leading)
            break; /* the certificate had its moment to leave */
        if (placed_here_any(n) && leads(n) &&
            now < n->exit_since + NODE_RELEASE_LEAD_MS)
            return false;
        /* then the followers hear the moves' commit */
        n->exit_phase = EXIT_SETTLING;
        n->exit_since = now;
        return false;
    case EXIT_SETTLING:
        break;
    }
    if (now < n->exit_since + NODE_RELEASE_WAIT_MS) {
        *wake = n->exit_since + NODE_RELEASE_WAIT_MS;
        return false;
    }
    return true;
}

naos_time
node__lease_deadline(const struct node *n)
{
    if (n->nlease_late > 0)
        return n->r.now; /* late_step, next iteration */
    if (n->lease_leading && n->lease_round == 0)
        for (size_t i = 0; i < n->nlease_reqs; i++)
            if (n->lease_reqs[i].round == 0)
                return n->r.now; /* round_start, next iteration */
    if (!n->lease_on || n->log == NULL || n->lease_released)
        return NAOS_TIME_NEVER;
    uint64_t boot = guardian_clock_now();
    naos_time due = lease_holder_next(&n->lease, boot);
    naos_time at = n->r.now + (due > boot ? due - boot : 0);
    if (at < n->lease_retry_at)
        at = n->lease_retry_at;
    if (n->leftovers_alive && at < n->leftovers_look)
        at = n->leftovers_look; /* no request before they are gone */
    /* the fence, FENCE_AHEAD_MS before the guardian's deadline */
    naos_time guard = lease_holder_guard_deadline(&n->lease);
    if (!n->rec.fenced && guard > FENCE_AHEAD_MS) {
        naos_time f = guard - FENCE_AHEAD_MS;
        naos_time fat = n->r.now + (f > boot ? f - boot : 0);
        if (fat < at)
            at = fat;
    }
    return at;
}

/* ---- messages ------------------------------------------------------------ */

static bool
recv_request(struct node *n, const struct wire_msg *m)
{
    Naos__V1__LeaseRequest *q =
        naos__v1__lease_request__unpack(NULL, m->len, m->payload);
    if (q == NULL)
        return false;
    uint64_t id = q->id, instance = q->instance;
    naos__v1__lease_request__free_unpacked(q, NULL);
    take_request(n, m->sender, id, instance);
    round_start(n);
    return true;
}

static bool
recv_grant(struct node *n, const struct wire_msg *m)
{
    Naos__V1__LeaseGrant *g =
        naos__v1__lease_grant__unpack(NULL, m->len, m->payload);
    if (g == NULL)
        return false;
    if (!g->granted) {
        NAOS_DEBUG("lease", "%s did not renew: %s",
                   node__node_name(n, m->sender), g->error);
    } else if (!grant_local(n, g->id, g->commit_index)) {
        /* not one of its recent requests unanswered: nothing */
        NAOS_DEBUG("lease", "an answer from %s to request %" PRIu64 " does "
                   "not count", node__node_name(n, m->sender), g->id);
    } else {
        n->lease_granter.node = m->sender;
        n->lease_granter.instance = g->leader_instance;
        n->lease_granter.term = g->term;
    }
    naos__v1__lease_grant__free_unpacked(g, NULL);
    return true;
}

bool
node__lease_recv(struct node *n, const struct wire_msg *m)
{
    if (m->type == NODE_LEASE_TYPE)
        return recv_request(n, m);
    if (m->type == NODE_LEASE_GRANT_TYPE)
        return recv_grant(n, m);
    if (m->type == NODE_LEASE_CERT_TYPE)
        return recv_certificate(n, m);
    return false;
}
