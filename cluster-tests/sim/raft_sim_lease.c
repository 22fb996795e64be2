/* SPDX-License-Identifier: Apache-2.0 */
/* raft_sim_lease.c: leases and placements on the Raft simulator (issue
 * 12, "What it must show - Simulator"; raft_sim.h rsim_lease_run). The
 * simulator hosts Raft cores, not whole nodes: this is a model of
 * node/node_lease.c's protocol and node/node_root.c's lease moves around
 * the REAL accounting (node/root/lease.h) and the REAL ReadIndex
 * (raft_read_index), checked by the invariant
 *   LEASE no deployment runs on two nodes at overlapping times:
 *         every run's [start, end) in global simulated time, pairwise
 *         against the other nodes' runs of the same deployment, when it
 *         starts (ends only ever move earlier than "open").
 *
 * The protocol, as node_lease.c does it:
 *  - Every node holds a lease (lease_holder_*) on its own clock. When
 *    lease_holder_due, it asks the leader it knows (raft_leader) with a
 *    new request id, as a message through the simulated network (cuts,
 *    loss, duplication, delay, reordering, and a stalled connection now
 *    and then); the leader asks itself without a message. Without a
 *    known leader it looks again after 50 ms. Only the answer to its
 *    latest request from the node it asked counts (lease_holder_granted);
 *    a grant moves the guardian's deadline (lease_holder_guard_deadline)
 *    and the commit index the node must have applied before it runs.
 *  - The leader keeps the requests that arrived and grants them in
 *    rounds: one raft_read_index begun after they arrived, one round in
 *    flight; when it confirms, each of its requests is granted
 *    (lease_leader_grant at the leader's now) and answered with the
 *    leader's last log index (NOT the read index node_lease.c sends:
 *    grant_index below); a failed round grants nothing (answered "not
 *    granted"). A new term of leading starts the table afresh
 *    (lease_leader_start).
 *  - A node runs a deployment while its applied state places it there,
 *    its lease holds with FENCE_AHEAD_MS to spare before the guardian's
 *    kill, and it applied up to the commit index of its last grant. A
 *    node that cannot act (paused, syncing, crashed: the guardian is
 *    another process) keeps what runs until its guardian's deadline
 *    (power loss ends them at once: the machine went down).
 *  - Placements are part of the replicated state: a move is a log entry
 *    (a COMMAND of version 2: deployment, the node it leaves, that
 *    placement's epoch, the node it goes to) proposed by the root on the
 *    leader and effective on each node when applied there; one decided
 *    on a placement that changed since changes nothing (node_root.c's
 *    MigrateCommand). This is the simplest honest model: a move takes
 *    effect only once committed, and a new leader decides from its own
 *    applied state. The root acts, like node_root.c, only while it leads
 *    and has applied everything committed, its own term's no-op
 *    included; it moves a deployment off node X once
 *    lease_leader_expired(X) (never off itself), to a node whose lease
 *    has not run out for it, one move in flight per deployment.
 *  - Clocks: each node's runs at its own rate, within +-500 ppm of the
 *    global clock (so any two within lease.h's 1000 ppm drift bound), and
 *    from its own origin; a holder counts on its clock, a leader on its.
 *  - Certificates (node_lease.c recv_certificate, dead_leaders_cert,
 *    kept_cert_step, certified; node_certify.c). Every start of a node's
 *    process is a new instance (a counter: unique, never 0). A request
 *    names the holder's instance, a grant the granting leader's instance
 *    and term; a holder remembers the latest remote granter (node,
 *    instance, term; its own grants as leader do not count), and the
 *    leader the instance it last granted each node in its term. Most
 *    process crashes (3 in 4, and every crash of cert_race below) have
 *    the guardian kill every run within 50 ms and, after checking (up to
 *    1 s), send a LeaseCertificate{instance} to every other member in
 *    turn (each up to 2 s late a third of the time), through the
 *    simulated network like any lease message; the rest certify nothing
 *    and their runs go on until the guardian's deadline (a process that
 *    would not die: it outlives the next start's sweep too). A power
 *    loss certifies nothing. A leader
 *    takes a certificate of the instance it last granted (then none is
 *    recorded), or, having granted the node nothing in its term, one of
 *    the leader whose grant it holds if that led the term right before
 *    its own; a follower keeps such a certificate (one, 10 s) and takes
 *    it when it leads, on the same terms. Taken, the node's lease counts
 *    as run out (lease_leader_release) and the root moves its work.
 *  - Leftovers (node.c's start sweep, node_lease.c leftovers_alive): a
 *    certificate speaks for one run, its release for the whole node. A
 *    start that finds a process of an earlier run alive (one its guardian
 *    could not kill) asks for no lease until it is gone: the real start
 *    waits up to 1 s for it, then looks every 500 ms; this one sees it
 *    gone at the first such look after its run's end (the node itself
 *    starts at once: it votes, and may lead, as the real one does after
 *    its wait). Granted nothing, this run's certificate is not taken as
 *    that of the instance a leader granted; if it led, though, the next
 *    term's leader still takes it as the dead leader's while the earlier
 *    run's process may run (seed 3295 of the sweep past CI's 2000; open,
 *    docs/architecture.md "Leases in the simulator").
 *  - The dead leader's race (cert_race, one lease fault in six): the
 *    leader's process dies and starts again 20..1500 ms later, a new
 *    instance racing its certificate; half the time a trap is set: the
 *    first leader of a later term that grants the new instance dies (or
 *    is cut off) at once, so that a third node may lead the term after
 *    it while the certificate is still on its way, or kept (the case a
 *    leader of term T + 2 must not take: the intermediate leader may
 *    have granted the new instance a lease).
 *
 * Not modelled: the real node's code (node_lease.c, node_root.c, the
 * guardian, the reconciler), the envelope's replay window (a dead
 * instance's message may still arrive after its successor's: a
 * superset), the certify plan's check (a certificate is sent even once
 * the node restarted: a superset), the grant's wait for the root's look
 * (grant_index stands for it), membership changes (lease runs keep the
 * founding voters), failed deployments and their escalation (only
 * node-lost moves), and the boot-clock/monotonic-clock split.
 *
 * NAOS_SIM_LEFTOVERS=0 (replays only): the start sweep ends what an
 * earlier run left, at once (the model before leftovers; no start then
 * waits for them). By default they outlive it until that run's guardian
 * deadline (the lease's own assumption): that found (seeds 17, 551, 1167,
 * 1398 and 1917 of 2000) a later instance, granted and certified, ending
 * the node's lease while an earlier run's process ran, before the real
 * node waited for its leftovers (now LEASE_MUTATION_LEASE_BESIDE_LEFTOVERS).
 *
 * Planted bugs (built by CMakeLists.txt, each must be caught):
 *   LEASE_MUTATION_MOVE_EARLY              the root counts a lease as run
 *       out at last grant + length / 2;
 *   LEASE_MUTATION_GRANT_WITHOUT_ROUND     the leader grants at once, with
 *       no ReadIndex round (a deposed leader grants on);
 *   LEASE_MUTATION_HOLDER_COUNTS_FROM_REPLY  the holder counts its lease
 *       from when the answer came, not from when it asked;
 *   LEASE_MUTATION_RUN_BEFORE_APPLIED      a node runs without applying up
 *       to its grant's commit index (a thawed node runs what moved away
 *       while it was stopped);
 *   LEASE_MUTATION_GRANT_READ_INDEX        the grant carries the round's
 *       read index, as node_lease.c first did, not past the leader's
 *       last move off the holder (grant_index: a move proposed but not
 *       committed when the round began is missed by the node it moves
 *       off);
 *   LEASE_MUTATION_CERT_ANY_TERM           a dead leader's certificate is
 *       taken by a leader of any later term (not only the next one);
 *   LEASE_MUTATION_CERT_ANY_INSTANCE       a leader takes a certificate of
 *       any instance of a node it granted (not only the one it granted);
 *   LEASE_MUTATION_CERT_AFTER_GRANT        a dead leader's certificate is
 *       taken by the next term's leader even after it granted that node
 *       (its next instance) a lease;
 *   LEASE_MUTATION_LEASE_BESIDE_LEFTOVERS  a new run asks for a lease while
 *       a process of an earlier run lives (its certificate then releases
 *       the node while that process runs). */
#include "cluster-tests/sim/raft_sim_int.h"

#include <stdlib.h>
#include <string.h>

#include "node/base/err.h"
#include "node/root/lease.h"

/* node_lease.c's */
#define FENCE_AHEAD_MS 250
#define NO_LEADER_RETRY_MS 50
/* each node's clock rate differs from the global one by at most this */
#define SKEW_PPM 500
/* node_lease.c's: a dead leader's certificate kept by a follower */
#define CERT_KEEP_MS 10000
/* certificates on their way out of dead nodes' guardians (one per member
 * of a dead run), at most */
#define CERTS_MAX 64
/* node.c's: a start waits this long for the leftovers it killed to be
 * gone; node_lease.c's: then it looks again this often */
#define LEFTOVERS_WAIT_MS 1000
#define LEFTOVERS_LOOK_MS 500

struct lrun {
    unsigned node;
    naos_time from, to; /* global; to NAOS_TIME_NEVER while it runs */
};

struct lreq {
    unsigned node;
    uint64_t id, round;
    uint64_t instance; /* the holder's run, as its request named it */
};

/* lgranter: node_lease.c's lease_granter and lease_cert_kept (node + 1,
 * 0: none). */
struct lgranter {
    unsigned node;
    uint64_t instance, term;
    naos_time at; /* kept: when, own clock */
};

/* lcert: a guardian's certificate, sent to dst at global time at (its
 * sends go in turn, each on a connection of its own). */
struct lcert {
    naos_time at;
    unsigned src, dst;
    uint64_t instance;
};

struct lnode {
    int64_t skew_ppm;
    naos_time origin;
    uint64_t instance;        /* this run of its process (non-zero) */
    naos_time restart_at;     /* global: a quick restart due (0: none) */
    /* the holder */
    struct lease_holder h;
    struct lgranter granter; /* the latest grant's leader */
    struct lgranter kept;    /* a dead leader's certificate, kept */
    unsigned asked_of;     /* the node asked + 1 (0: none) */
    uint64_t lease_commit; /* apply up to this before running */
    naos_time guard;       /* the guardian's deadline, own clock (0: none);
                              it outlives a crash of the node's process */
    naos_time retry_at;    /* global: no leader known, look again */
    naos_time leftovers_gone; /* global: from then this run sees no
                                 process of an earlier run alive and may
                                 ask for a lease (node.c leftovers_alive) */
    /* the leader */
    bool leading;
    uint64_t lead_term;
    struct lease_leader ll;
    struct lreq reqs[RSIM_MAX_NODES];
    size_t nreqs;
    uint64_t round;                          /* ctx in flight (0: none) */
    uint64_t move_index[RSIM_LEASE_DEPLOYS]; /* a move in flight */
    uint64_t moved_off[RSIM_MAX_NODES]; /* the last move off each node
                                           proposed in this term */
    uint64_t granted[RSIM_MAX_NODES];   /* the instance last granted each
                                           node in this term (0: none, or
                                           certified since) */
    /* runs: 1 + the index in runs[d] of its run (0: none) */
    size_t open[RSIM_LEASE_DEPLOYS];
};

struct rsim_lease {
    struct lease_config cfg;
    struct lnode nodes[RSIM_MAX_NODES];
    uint64_t read_seq;
    /* chaos: the next node that asks while it runs something is paused
     * this long right after its request left (0: none) */
    naos_duration pause_asker;
    struct lrun *runs[RSIM_LEASE_DEPLOYS];
    size_t nruns[RSIM_LEASE_DEPLOYS], capruns[RSIM_LEASE_DEPLOYS];
    uint64_t instances; /* the last instance given out */
    struct lcert certs[CERTS_MAX];
    size_t ncerts;
    /* chaos, the dead leader's race: once a leader of a term after
     * trap_term grants trap_node's next instance, that leader dies or is
     * cut off at once (trap_fire: it, + 1) */
    bool trap, force_cert;
    /* a crashed run's processes that outlived its guardian's kill also
     * outlive the next run's start sweep, until the old lease's deadline
     * (NAOS_SIM_LEFTOVERS=0: the sweep ends them) */
    bool leftovers;
    unsigned trap_node, trap_fire;
    uint64_t trap_instance, trap_term;
    struct rsim_lease_figures fig;
};

/* ---- clocks -------------------------------------------------------------- */

/* lclock: node i's clock at global time t (never goes back). */
static naos_time
lclock(const struct rsim_lease *l, unsigned i, naos_time t)
{
    const struct lnode *x = &l->nodes[i];
    int64_t adj = (int64_t)t * x->skew_ppm;
    int64_t q = adj / 1000000;
    if (adj % 1000000 < 0)
        q--;
    return x->origin + t + (naos_time)q;
}

/* global_of: the first global time at which node i's clock reads lt. */
static naos_time
global_of(const struct rsim_lease *l, unsigned i, naos_time lt)
{
    if (lt == NAOS_TIME_NEVER)
        return NAOS_TIME_NEVER;
    if (lt <= lclock(l, i, 0))
        return 0;
    const struct lnode *x = &l->nodes[i];
    double g = (double)(lt - x->origin) * 1e6 / (1e6 + (double)x->skew_ppm);
    naos_time t = g > 0 ? (naos_time)g : 0;
    while (lclock(l, i, t) < lt)
        t++;
    while (t > 0 && lclock(l, i, t - 1) >= lt)
        t--;
    return t;
}

static naos_time
lnow(const struct rsim *sim, unsigned i)
{
    return lclock(sim->lease, i, sim->now);
}

/* ---- the leader's side --------------------------------------------------- */

static bool
leads(const struct rsim *sim, unsigned i)
{
    const struct rsim_node *nd = &sim->nodes[i];
    return nd->up && raft_role_get(nd->r) == RAFT_LEADER;
}

static bool grant_local(struct rsim *sim, unsigned i, uint64_t id,
                        uint64_t commit);

static void
reply(struct rsim *sim, unsigned i, unsigned to, uint64_t id, bool granted,
      uint64_t commit)
{
    if (to == i) {
        if (granted)
            grant_local(sim, i, id, commit);
        return;
    }
    const struct lnode *x = &sim->lease->nodes[i];
    struct rsim_lease_msg m = {.grant = true,
                               .id = id,
                               .granted = granted,
                               .commit = commit,
                               .instance = x->instance,
                               .term = x->lead_term};
    rsim__lease_send(sim, i, to, &m);
}

/* granted: leader i grants holder's instance (node_lease.c
 * record_granted); the chaos's trap watches for the dead leader's next
 * instance. */
static void
granted(struct rsim *sim, unsigned i, unsigned holder, uint64_t instance)
{
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
    x->granted[holder] = instance;
    if (l->trap && holder == l->trap_node && i != holder &&
        instance != l->trap_instance && x->lead_term > l->trap_term) {
        rsim__trace(sim, "lease: trap: leader %u (term %llu) granted the "
                    "dead leader %u's next instance", i,
                    (unsigned long long)x->lead_term, holder);
        l->trap = false;
        l->trap_fire = i + 1;
    }
}

/* take_request: holder asks leader i for id: it waits for the next round
 * (a newer request of the same holder replaces its older one). */
static void
take_request(struct rsim *sim, unsigned i, unsigned holder, uint64_t id,
             uint64_t instance)
{
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
    if (!leads(sim, i) || !x->leading) {
        reply(sim, i, holder, id, false, 0);
        return;
    }
#ifdef LEASE_MUTATION_GRANT_WITHOUT_ROUND
    /* planted: granted at once, on the word of a core that believes it
     * leads */
    if (lease_leader_grant(&x->ll, holder + 1, lnow(sim, i)) == NAOS_OK) {
        l->fig.grants++;
        granted(sim, i, holder, instance);
        reply(sim, i, holder, id, true, raft_commit(sim->nodes[i].r));
    }
    return;
#endif
    size_t k = 0;
    while (k < x->nreqs && x->reqs[k].node != holder)
        k++;
    if (k == x->nreqs)
        x->nreqs++;
    else if (x->reqs[k].round != 0 && x->reqs[k].instance == instance)
        return; /* its earlier request is in the round in flight */
    x->reqs[k] = (struct lreq){holder, id, 0, instance};
}

/* round_start: one ReadIndex for every request that waits, one round in
 * flight (node i runnable: not inside raft_ready). */
static void
round_start(struct rsim *sim, unsigned i)
{
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
    bool waiting = false;
    for (size_t k = 0; k < x->nreqs && !waiting; k++)
        waiting = x->reqs[k].round == 0;
    if (!waiting || x->round != 0 || !x->leading)
        return;
    uint64_t ctx = RSIM_LEASE_CTX | ++l->read_seq;
    x->round = ctx;
    for (size_t k = 0; k < x->nreqs; k++)
        if (x->reqs[k].round == 0)
            x->reqs[k].round = ctx;
    l->fig.rounds++;
    if (raft_read_index(sim->nodes[i].r, ctx, sim->now) != NAOS_OK) {
        /* the holders ask again */
        x->nreqs = 0;
        x->round = 0;
        l->fig.rounds_failed++;
        return;
    }
    rsim__pump(sim, &sim->nodes[i]);
}

/* grant_index: what holder must apply before it runs: the round's read
 * index, and at least the last move off the holder that this leader
 * proposed (in this term). node_lease.c sends the read index alone
 * (res->index: the commit index when the round began), and that is
 * unsafe (found by this simulator, seed 5077 of the sweep; replay it
 * with the mutation below): a node X is away past its lease; the root
 * moves X's deployment d to Y (entry k, proposed, not committed yet: it
 * needs X's acknowledgement, the third node being cut off); X comes back
 * and is granted with a read index below k; X applies up to it, still
 * finds d placed on itself and starts it; k commits, Y applies it and
 * starts d while X has not applied k yet: d runs twice. Moves proposed
 * by earlier leaders are below the read index (a round confirms only
 * after this leader's own entry committed); a move of this leader's that
 * a later leader truncates is replaced by whatever it commits there, so
 * the holder never waits for ever. (The leader's last index would do
 * too, but fences every holder briefly at every renewal while proposals
 * are in flight.) Planted back as LEASE_MUTATION_GRANT_READ_INDEX. */
static uint64_t
grant_index(const struct rsim *sim, unsigned i, unsigned holder,
            const struct raft_read_result *res)
{
#ifdef LEASE_MUTATION_GRANT_READ_INDEX
    (void)sim;
    (void)i;
    (void)holder;
    return res->index;
#else
    uint64_t k = sim->lease->nodes[i].moved_off[holder];
    return k > res->index ? k : res->index;
#endif
}

bool
rsim__lease_read_done(struct rsim *sim, unsigned i,
                      const struct raft_read_result *res)
{
    if (!(res->ctx & RSIM_LEASE_CTX))
        return false;
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
    if (res->ctx != x->round)
        return true;
    x->round = 0;
    if (!res->ok)
        l->fig.rounds_failed++;
    for (size_t k = 0; k < x->nreqs;) {
        struct lreq q = x->reqs[k];
        if (q.round != res->ctx) {
            k++;
            continue;
        }
        x->reqs[k] = x->reqs[--x->nreqs];
        if (!res->ok) {
            reply(sim, i, q.node, q.id, false, 0);
            continue;
        }
        if (lease_leader_grant(&x->ll, q.node + 1, lnow(sim, i)) != NAOS_OK)
            continue;
        l->fig.grants++;
        granted(sim, i, q.node, q.instance);
        reply(sim, i, q.node, q.id, true, grant_index(sim, i, q.node, res));
    }
    return true;
}

/* expired: node's lease has run out for leader x at its time t. */
static bool
expired(const struct lnode *x, unsigned node, naos_time t)
{
#ifdef LEASE_MUTATION_MOVE_EARLY
    /* planted: half the lease, and no drift or margin */
    naos_time from = x->ll.since;
    for (size_t k = 0; k < x->ll.n; k++)
        if (x->ll.g[k].node == node + 1 && x->ll.g[k].granted > from)
            from = x->ll.g[k].granted;
    return t >= from + (naos_time)x->ll.cfg.length / 2;
#else
    return lease_leader_expired(&x->ll, node + 1, t);
#endif
}

/* expiry: when expired() becomes true (leader's clock). */
static naos_time
expiry(const struct lnode *x, unsigned node)
{
#ifdef LEASE_MUTATION_MOVE_EARLY
    naos_time from = x->ll.since;
    for (size_t k = 0; k < x->ll.n; k++)
        if (x->ll.g[k].node == node + 1 && x->ll.g[k].granted > from)
            from = x->ll.g[k].granted;
    return from + (naos_time)x->ll.cfg.length / 2;
#else
    return lease_leader_expiry(&x->ll, node + 1);
#endif
}

/* root_active: leads, and applied everything committed, an entry of its
 * own term included (node_root.c: not before it caught up). */
static bool
root_active(const struct rsim *sim, unsigned i)
{
    const struct rsim_node *nd = &sim->nodes[i];
    const struct lnode *x = &sim->lease->nodes[i];
    if (!x->leading || !rsim__runnable(sim, nd))
        return false;
    uint64_t c = raft_commit(nd->r);
    return c > 0 && nd->applied >= c &&
           raft_term_at(nd->r, c) == raft_term(nd->r);
}

/* root_step: the root on leader i moves every deployment placed on a node
 * whose lease ran out for it (node-lost). */
static void
root_step(struct rsim *sim, unsigned i)
{
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
    struct rsim_node *nd = &sim->nodes[i];
    if (!root_active(sim, i))
        return;
    naos_time t = lnow(sim, i);
    bool proposed = false;
    for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++) {
        unsigned on = nd->place[d];
        if (x->move_index[d] && x->move_index[d] > nd->applied)
            continue; /* in flight */
        x->move_index[d] = 0;
        if (on == i || !expired(x, on, t))
            continue;
        unsigned cand[RSIM_MAX_NODES], nc = 0;
        for (unsigned j = 0; j < sim->n; j++)
            if (j != on && (j == i || !expired(x, j, t)))
                cand[nc++] = j;
        if (nc == 0)
            continue;
        uint64_t mv[4] = {d, on, nd->place_epoch[d],
                          cand[rsim_rand(sim) % nc]};
        uint64_t idx;
        if (raft_propose(nd->r, RAFT_ENTRY_COMMAND, 2, mv, sizeof(mv),
                         sim->now, &idx) != NAOS_OK)
            continue;
        rsim__trace(sim, "lease: root %u moves %u from %u to %llu (entry "
                    "%llu)", i, d, on, (unsigned long long)mv[3],
                    (unsigned long long)idx);
        x->move_index[d] = idx;
        x->moved_off[on] = idx;
        l->fig.moves_proposed++;
        proposed = true;
    }
    if (proposed)
        rsim__pump(sim, nd);
}

/* ---- certificates ------------------------------------------------------- */

/* certified: node's lease ends now for leader i, on its guardian's proof
 * (node_lease.c certified): its root moves its placements at once. */
static void
certified(struct rsim *sim, unsigned i, unsigned node, bool dead_leader)
{
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
    if (lease_leader_release(&x->ll, node + 1, lnow(sim, i)) != NAOS_OK)
        return;
    rsim__trace(sim, "lease: leader %u (term %llu) takes node %u's "
                "certificate%s: its work moves now", i,
                (unsigned long long)x->lead_term, node,
                dead_leader ? " (a dead leader's)" : "");
    l->fig.certs_taken++;
    if (dead_leader)
        l->fig.certs_dead_leader++;
}

/* dead_leaders_cert: a certificate of instance from node is that of the
 * leader of the term right before term, as its grants to node i named it
 * (node_lease.c dead_leaders_cert). */
static bool
dead_leaders_cert(const struct lnode *x, unsigned node, uint64_t instance,
                  uint64_t term)
{
    const struct lgranter *g = &x->granter;
#ifdef LEASE_MUTATION_CERT_ANY_TERM
    /* planted: a leader of any later term takes it */
    return g->node == node + 1 && g->instance == instance && instance != 0 &&
           g->term < term;
#else
    return g->node == node + 1 && g->instance == instance && instance != 0 &&
           g->term + 1 == term;
#endif
}

/* recv_certificate: node i hears from src's guardian that nothing of its
 * run instance runs (node_lease.c recv_certificate): a leader takes it
 * for the instance it last granted src, or, having granted src nothing,
 * for the leader of the term right before its own; a follower keeps a
 * certificate of the leader whose grant it holds. */
static void
recv_certificate(struct rsim *sim, unsigned i, unsigned src,
                 uint64_t instance)
{
    struct lnode *x = &sim->lease->nodes[i];
    uint64_t slot = x->leading ? x->granted[src] : 0;
#ifdef LEASE_MUTATION_CERT_AFTER_GRANT
    /* planted: a dead leader's is taken even after granting its node */
    bool none = true;
#else
    bool none = slot == 0;
#endif
    if (x->leading && none &&
        dead_leaders_cert(x, src, instance, x->lead_term)) {
        certified(sim, i, src, true);
        return;
    }
    if (!x->leading && x->granter.node == src + 1 &&
        x->granter.instance == instance && instance != 0) {
        x->kept = (struct lgranter){src + 1, instance, x->granter.term,
                                    lnow(sim, i)};
        sim->lease->fig.certs_kept++;
        rsim__trace(sim, "lease: node %u keeps the dead leader %u's "
                    "certificate (term %llu)", i, src,
                    (unsigned long long)x->granter.term);
        return;
    }
#ifdef LEASE_MUTATION_CERT_ANY_INSTANCE
    /* planted: any instance of the node the leader granted */
    if (slot == 0)
        return;
#else
    if (slot == 0 || slot != instance)
        return;
#endif
    x->granted[src] = 0;
    certified(sim, i, src, false);
}

/* kept_cert_step: node i, leading from now, takes the dead leader's
 * certificate it kept as a follower if it leads in the term right after
 * that leader's and it is fresh (node_lease.c kept_cert_step). */
static void
kept_cert_step(struct rsim *sim, unsigned i)
{
    struct lnode *x = &sim->lease->nodes[i];
    if (x->kept.node == 0)
        return;
    bool fresh = lnow(sim, i) < x->kept.at + CERT_KEEP_MS;
    if (fresh && x->kept.term == x->granter.term &&
        dead_leaders_cert(x, x->kept.node - 1, x->kept.instance,
                          x->lead_term))
        certified(sim, i, x->kept.node - 1, true);
    x->kept.node = 0;
}

/* lead_step: follow node i's leadership (node_lease.c lead_step). */
static void
lead_step(struct rsim *sim, unsigned i)
{
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
    if (!leads(sim, i)) {
        x->leading = false;
        x->nreqs = 0;
        x->round = 0;
        memset(x->move_index, 0, sizeof(x->move_index));
        memset(x->moved_off, 0, sizeof(x->moved_off));
        return;
    }
    uint64_t term = raft_term(sim->nodes[i].r);
    if (!x->leading || x->lead_term != term) {
        lease_leader_start(&x->ll, &l->cfg, lnow(sim, i));
        x->leading = true;
        x->lead_term = term;
        x->nreqs = 0;
        x->round = 0;
        memset(x->move_index, 0, sizeof(x->move_index));
        memset(x->moved_off, 0, sizeof(x->moved_off));
        memset(x->granted, 0, sizeof(x->granted));
        l->fig.leader_changes++;
        kept_cert_step(sim, i);
    }
    round_start(sim, i);
}

/* ---- the holder's side --------------------------------------------------- */

static bool
grant_local(struct rsim *sim, unsigned i, uint64_t id, uint64_t commit)
{
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
#ifdef LEASE_MUTATION_HOLDER_COUNTS_FROM_REPLY
    /* planted: the lease counts from now, when the answer came */
    if (id != 0 && x->h.asks[id % LEASE_HOLDER_ASKS].id == id)
        x->h.asks[id % LEASE_HOLDER_ASKS].at = lnow(sim, i);
#endif
    naos_time asked = id != 0 && x->h.asks[id % LEASE_HOLDER_ASKS].id == id
                          ? x->h.asks[id % LEASE_HOLDER_ASKS].at
                          : 0;
    if (!lease_holder_granted(&x->h, id))
        return false;
    rsim__trace(sim, "lease: node %u holds until %llu (asked %llu ms ago)",
                i, (unsigned long long)x->h.expiry,
                (unsigned long long)(lnow(sim, i) - asked));
    l->fig.grants_counted++;
    if (commit > x->lease_commit)
        x->lease_commit = commit;
    naos_time g = lease_holder_guard_deadline(&x->h);
    if (g > x->guard)
        x->guard = g;
    return true;
}

static void
holder_step(struct rsim *sim, unsigned i)
{
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
    naos_time t = lnow(sim, i);
    if (!lease_holder_due(&x->h, t) || sim->now < x->retry_at)
        return;
#ifndef LEASE_MUTATION_LEASE_BESIDE_LEFTOVERS
    /* node_lease.c: no request while an earlier run's process lives (a
     * certificate of this run would not speak for it) */
    if (sim->now < x->leftovers_gone)
        return;
#endif
    /* the answer to the request outstanding may be waiting to be read */
    if (x->h.asked_id != 0 && rsim__lease_mail_waiting(sim, i))
        return;
    uint64_t leader = raft_leader(sim->nodes[i].r).v;
    if (leader == 0 || leader > sim->n) {
        x->retry_at = sim->now + NO_LEADER_RETRY_MS;
        return;
    }
    uint64_t id = lease_holder_request(&x->h, t);
    x->asked_of = (unsigned)leader;
    l->fig.requests++;
    if (leader - 1 == i) {
        take_request(sim, i, i, id, x->instance);
    } else {
        struct rsim_lease_msg m = {.id = id, .instance = x->instance};
        rsim__lease_send(sim, i, (unsigned)leader - 1, &m);
    }
    bool runs = false;
    for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++)
        runs = runs || x->open[d];
    if (l->pause_asker && runs) {
        /* stopped with its renewal in flight: the answer waits */
        rsim__trace(sim, "lease: node %u stops for %lld ms, its request %llu "
                    "in flight", i, (long long)l->pause_asker,
                    (unsigned long long)id);
        rsim_pause(sim, i, l->pause_asker);
        l->pause_asker = 0;
    }
}

void
rsim__lease_recv(struct rsim *sim, unsigned dst, unsigned src,
                 const struct rsim_lease_msg *m)
{
    struct lnode *x = &sim->lease->nodes[dst];
    if (m->cert) {
        recv_certificate(sim, dst, src, m->instance);
        return;
    }
    if (!m->grant) {
        take_request(sim, dst, src, m->id, m->instance);
        return;
    }
    /* an answer counts for any of the holder's recent requests
     * unanswered, from when that one was sent (node_lease.c recv_grant) */
    if (m->granted && grant_local(sim, dst, m->id, m->commit))
        x->granter = (struct lgranter){src + 1, m->instance, m->term, 0};
}

/* ---- runs and the invariant ---------------------------------------------- */

/* may_run: node i runs deployment d now (node_lease.c
 * node__lease_may_run, and its applied placement). */
static bool
may_run(const struct rsim *sim, unsigned i, unsigned d)
{
    const struct rsim_node *nd = &sim->nodes[i];
    const struct lnode *x = &sim->lease->nodes[i];
    naos_time t = lnow(sim, i);
    if (nd->place[d] != i || !lease_holder_valid(&x->h, t) ||
        t + FENCE_AHEAD_MS >= lease_holder_guard_deadline(&x->h))
        return false;
#ifdef LEASE_MUTATION_RUN_BEFORE_APPLIED
    return true; /* planted: the grant's commit index is not waited for */
#else
    return nd->applied >= x->lease_commit;
#endif
}

static void
run_close(struct rsim *sim, unsigned i, unsigned d, naos_time at)
{
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
    if (!x->open[d])
        return;
    struct lrun *r = &l->runs[d][x->open[d] - 1];
    r->to = at > r->from ? at : r->from;
    x->open[d] = 0;
    rsim__trace(sim, "lease: node %u stops %u (ran %llu..%llu)", i, d,
                (unsigned long long)r->from, (unsigned long long)r->to);
}

static void
run_open(struct rsim *sim, unsigned i, unsigned d)
{
    struct rsim_lease *l = sim->lease;
    for (size_t k = 0; k < l->nruns[d]; k++) {
        const struct lrun *r = &l->runs[d][k];
        if (r->node != i && r->to > sim->now) {
            char to[32];
            if (r->to == NAOS_TIME_NEVER)
                snprintf(to, sizeof(to), "now");
            else
                snprintf(to, sizeof(to), "%llu", (unsigned long long)r->to);
            rsim__fail(sim, "LEASE deployment %u runs on node %u from %llu "
                       "until %s, and node %u starts it at %llu", d, r->node,
                       (unsigned long long)r->from, to, i,
                       (unsigned long long)sim->now);
            return;
        }
    }
    if (l->nruns[d] == l->capruns[d]) {
        l->capruns[d] = l->capruns[d] ? 2 * l->capruns[d] : 64;
        l->runs[d] = realloc(l->runs[d], l->capruns[d] * sizeof(struct lrun));
        if (l->runs[d] == NULL)
            abort();
    }
    l->runs[d][l->nruns[d]++] = (struct lrun){i, sim->now, NAOS_TIME_NEVER};
    l->nodes[i].open[d] = l->nruns[d];
    l->fig.runs++;
    rsim__trace(sim, "lease: node %u runs %u", i, d);
}

/* runs_step: what ran and stops (the guardian's kill, a fence), then what
 * starts (checked against every other node's run of it). */
static void
runs_step(struct rsim *sim)
{
    struct rsim_lease *l = sim->lease;
    for (unsigned i = 0; i < sim->n; i++) {
        const struct lnode *x = &l->nodes[i];
        bool act = rsim__runnable(sim, &sim->nodes[i]);
        for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++) {
            if (!x->open[d])
                continue;
            naos_time g = global_of(l, i, x->guard);
            if (sim->now >= g) {
                run_close(sim, i, d, g); /* its guardian killed it */
                l->fig.guardian_kills++;
            } else if (act && !may_run(sim, i, d)) {
                run_close(sim, i, d, sim->now);
                l->fig.fences++;
            }
        }
    }
    for (unsigned i = 0; i < sim->n && !sim->failure[0]; i++) {
        if (!rsim__runnable(sim, &sim->nodes[i]))
            continue;
        for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS && !sim->failure[0]; d++)
            if (!l->nodes[i].open[d] && may_run(sim, i, d))
                run_open(sim, i, d);
    }
}

/* chaos_step: the lease model's own scheduled chaos: certificates that
 * leave dead nodes' guardians, quick restarts, and the trap's kill. */
static void
chaos_step(struct rsim *sim)
{
    struct rsim_lease *l = sim->lease;
    for (size_t k = 0; k < l->ncerts;) {
        struct lcert c = l->certs[k];
        if (c.at > sim->now) {
            k++;
            continue;
        }
        l->certs[k] = l->certs[--l->ncerts];
        struct rsim_lease_msg m = {.cert = true, .instance = c.instance};
        rsim__lease_send(sim, c.src, c.dst, &m);
        l->fig.certs_sent++;
    }
    for (unsigned i = 0; i < sim->n; i++) {
        struct lnode *x = &l->nodes[i];
        if (x->restart_at && sim->now >= x->restart_at) {
            x->restart_at = 0;
            rsim_restart(sim, i);
        }
    }
    if (l->trap_fire) {
        unsigned j = l->trap_fire - 1;
        l->trap_fire = 0;
        l->fig.traps++;
        if (rsim_rand(sim) % 3 == 0) {
            rsim_partition(sim, &j, 1);
        } else {
            rsim_crash(sim, j, false);
        }
    }
}

void
rsim__lease_after(struct rsim *sim)
{
    chaos_step(sim);
    for (unsigned i = 0; i < sim->n && !sim->failure[0]; i++) {
        const struct rsim_node *nd = &sim->nodes[i];
        /* A node resumed at this instant first reads what waited for it
         * (the real loop handles its sockets, then steps the lease):
         * its lease step comes a millisecond later. */
        if (!rsim__runnable(sim, nd) || sim->now == nd->pause_until)
            continue;
        lead_step(sim, i);
        if (rsim__runnable(sim, &sim->nodes[i]))
            holder_step(sim, i);
        if (rsim__runnable(sim, &sim->nodes[i]))
            round_start(sim, i);
        root_step(sim, i);
    }
    if (!sim->failure[0])
        runs_step(sim);
}

static void
at_least(naos_time *best, naos_time t)
{
    if (t < *best)
        *best = t;
}

naos_time
rsim__lease_deadline(struct rsim *sim)
{
    struct rsim_lease *l = sim->lease;
    naos_time best = NAOS_TIME_NEVER;
    for (size_t k = 0; k < l->ncerts; k++)
        at_least(&best, l->certs[k].at);
    for (unsigned i = 0; i < sim->n; i++) {
        const struct rsim_node *nd = &sim->nodes[i];
        const struct lnode *x = &l->nodes[i];
        if (x->restart_at)
            at_least(&best, x->restart_at);
        for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++)
            if (x->open[d])
                at_least(&best, global_of(l, i, x->guard));
        if (!nd->up || nd->busy)
            continue; /* its sync event comes first */
        if (sim->now < nd->pause_until) {
            at_least(&best, nd->pause_until);
            continue;
        }
        naos_time t = lnow(sim, i);
        naos_time due = global_of(l, i, lease_holder_next(&x->h, t));
        if (due < x->retry_at)
            due = x->retry_at;
#ifndef LEASE_MUTATION_LEASE_BESIDE_LEFTOVERS
        if (due < x->leftovers_gone)
            due = x->leftovers_gone;
#endif
        at_least(&best, due);
        naos_time gd = lease_holder_guard_deadline(&x->h);
        if (gd > FENCE_AHEAD_MS)
            for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++)
                if (x->open[d])
                    at_least(&best, global_of(l, i, gd - FENCE_AHEAD_MS));
        if (!root_active(sim, i))
            continue;
        for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++) {
            unsigned on = nd->place[d];
            if (on == i || (x->move_index[d] && x->move_index[d] > nd->applied))
                continue;
            at_least(&best, global_of(l, i, expiry(x, on)));
        }
    }
    return best <= sim->now ? sim->now + 1 : best;
}

/* certify: node i's guardian, its runs all ended by killed_at (global),
 * certifies its run: after checking they are gone (up to 1 s), it sends
 * a LeaseCertificate of the run's instance to every other member in turn
 * (node_certify.c: 2 s in all, so a later member may hear up to 2 s
 * later), through the simulated network. The real certify sends nothing
 * once a restart rewrote its plan; this one always does (a superset: a
 * certificate in flight when the node restarts is the same race). */
static void
certify(struct rsim *sim, unsigned i, naos_time killed_at)
{
    struct rsim_lease *l = sim->lease;
    naos_time start = killed_at + (naos_time)rsim__urange(sim, 0, 1000);
    for (unsigned j = 0; j < sim->n; j++) {
        if (j == i || l->ncerts == CERTS_MAX)
            continue;
        naos_duration late = rsim_rand(sim) % 3 == 0
                                 ? rsim__urange(sim, 0, 2000)
                                 : rsim__urange(sim, 0, 20);
        l->certs[l->ncerts++] = (struct lcert){start + (naos_time)late, i, j,
                                               l->nodes[i].instance};
    }
    rsim__trace(sim, "lease: node %u's guardian killed its runs at %llu and "
                "certifies instance %llu from %llu", i,
                (unsigned long long)killed_at,
                (unsigned long long)l->nodes[i].instance,
                (unsigned long long)start);
}

void
rsim__lease_crash(struct rsim *sim, unsigned i, bool power_loss)
{
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
    /* What runs ends with the machine (power loss), or is left to the
     * guardian (a process crash): most often it kills every process at
     * once (the node's end of its channel closed) and certifies; else
     * (a process it could not see die within its 1 s) it certifies
     * nothing and they end at its deadline. */
    naos_time g = global_of(l, i, x->guard);
    bool cert = !power_loss && (l->force_cert || rsim_rand(sim) % 4 != 0);
    naos_time end = power_loss || g < sim->now ? sim->now : g;
    if (cert) {
        naos_time k = sim->now + (naos_time)rsim__urange(sim, 1, 50);
        if (k < end)
            end = k;
    }
    for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++)
        run_close(sim, i, d, end);
    if (cert)
        certify(sim, i, end);
    if (power_loss)
        x->guard = 0;
    x->leading = false;
    x->nreqs = 0;
    x->round = 0;
    memset(x->move_index, 0, sizeof(x->move_index));
    memset(x->moved_off, 0, sizeof(x->moved_off));
}

void
rsim__lease_restart(struct rsim *sim, unsigned i)
{
    struct rsim_lease *l = sim->lease;
    struct lnode *x = &l->nodes[i];
    /* node.c's start sweep SIGKILLs what a previous run left (its
     * NAOS_NODE_ID mark). What outlived its guardian's kill outlives
     * this one too (stuck in the kernel: until its guardian's deadline,
     * the lease's own assumption); with NAOS_SIM_LEFTOVERS=0 it ends
     * here. */
    naos_time gone = 0;
    for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++)
        for (size_t k = 0; k < l->nruns[d]; k++) {
            struct lrun *r = &l->runs[d][k];
            if (r->node != i || r->to <= sim->now)
                continue;
            if (l->leftovers) {
                if (r->to > gone)
                    gone = r->to;
                continue;
            }
            rsim__trace(sim, "lease: node %u's start sweep ends its run of "
                        "%u left by an earlier run (%llu..%llu)", i, d,
                        (unsigned long long)r->from,
                        (unsigned long long)r->to);
            r->to = sim->now > r->from ? sim->now : r->from;
        }
    /* node.c waits up to 1 s for them to be gone, then node_lease.c
     * looks every 500 ms and asks for no lease meanwhile (the model's
     * node does not wait to start: it may vote and lead, as the real one
     * does once it stopped waiting) */
    x->leftovers_gone = 0;
    if (gone) {
        naos_time seen = gone;
        naos_time first = sim->now + LEFTOVERS_WAIT_MS;
        if (seen > first)
            seen = first + (seen - first + LEFTOVERS_LOOK_MS - 1) /
                               LEFTOVERS_LOOK_MS * LEFTOVERS_LOOK_MS;
        x->leftovers_gone = seen;
        l->fig.leftover_waits++;
        rsim__trace(sim, "lease: node %u's earlier run left a process "
                    "alive until %llu: no lease asked for before %llu", i,
                    (unsigned long long)gone, (unsigned long long)seen);
    }
    /* node__lease_open: a fresh holder, fenced until its first grant; a
     * new instance, which remembers no granter and keeps nothing */
    lease_holder_init(&x->h, &l->cfg);
    x->instance = ++l->instances;
    x->granter = (struct lgranter){0};
    x->kept = (struct lgranter){0};
    x->restart_at = 0;
    x->asked_of = 0;
    x->lease_commit = 0;
    x->retry_at = 0;
}

void
rsim__lease_free(struct rsim_lease *l)
{
    if (l == NULL)
        return;
    for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++)
        free(l->runs[d]);
    free(l);
}

/* ---- the chaos run ------------------------------------------------------- */

/* a node that runs something (else any running node), or -1 */
static int
pick_running(struct rsim *sim)
{
    unsigned c[RSIM_MAX_NODES], n = 0, all[RSIM_MAX_NODES], na = 0;
    for (unsigned i = 0; i < sim->n; i++) {
        if (!sim->nodes[i].up)
            continue;
        all[na++] = i;
        for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++)
            if (sim->lease->nodes[i].open[d]) {
                c[n++] = i;
                break;
            }
    }
    if (n)
        return (int)c[rsim_rand(sim) % n];
    return na ? (int)all[rsim_rand(sim) % na] : -1;
}

/* cert_race: the leader's process dies (its guardian certifies) and it
 * starts again soon, a new instance racing its certificate; half the
 * time the trap is set: the first leader of a later term that grants
 * the new instance dies or is cut off at once, so that a third node
 * leads the term after it while the dead leader's certificate is still
 * on its way or kept (what a leader of term T + 2 must not take). */
static void
cert_race(struct rsim *sim)
{
    struct rsim_lease *l = sim->lease;
    int ld = rsim_leader(sim);
    if (ld < 0)
        return;
    unsigned a = (unsigned)ld;
    struct lnode *x = &l->nodes[a];
    bool was_leading = x->leading;
    uint64_t term = x->lead_term, inst = x->instance;
    l->force_cert = true;
    rsim_crash(sim, a, false);
    l->force_cert = false;
    x->restart_at = sim->now + (naos_time)rsim__urange(sim, 20, 1500);
    l->fig.cert_races++;
    if (was_leading && rsim_rand(sim) % 2) {
        l->trap = true;
        l->trap_node = a;
        l->trap_instance = inst;
        l->trap_term = term;
        l->trap_fire = 0;
    }
}

/* lease_fault: faults aimed at the lease: a node that runs something, or
 * the leader, is stopped (a pause up to twice the lease, so leases run out
 * while it cannot act; or the next such node to ask for a renewal, just
 * after it asked, so that the answer waits for it), killed, or cut off
 * alone. */
static void
lease_fault(struct rsim *sim)
{
    int i = rsim_rand(sim) % 3 == 0 ? rsim_leader(sim) : pick_running(sim);
    if (i < 0)
        return;
    naos_duration p = rsim__urange(sim, 300, 6000);
    switch (rsim_rand(sim) % 6) {
    case 5:
        cert_race(sim);
        break;
    case 0:
    case 1:
        if (p > sim->lease->fig.longest_pause)
            sim->lease->fig.longest_pause = p;
        rsim_pause(sim, (unsigned)i, p);
        break;
    case 4:
        /* the next node that asks while it runs something stops with
         * its request in flight */
        if (p > sim->lease->fig.longest_pause)
            sim->lease->fig.longest_pause = p;
        sim->lease->pause_asker = p;
        break;
    case 2:
        rsim_crash(sim, (unsigned)i, rsim_rand(sim) % 4 == 0);
        break;
    default: {
        unsigned s = (unsigned)i;
        rsim_partition(sim, &s, 1);
        break;
    }
    }
}

static bool
all_run(struct rsim *sim, void *unused)
{
    (void)unused;
    for (unsigned d = 0; d < RSIM_LEASE_DEPLOYS; d++) {
        bool on = false;
        for (unsigned i = 0; i < sim->n && !on; i++)
            on = sim->lease->nodes[i].open[d] != 0;
        if (!on)
            return false;
    }
    return true;
}

int
rsim_lease_run(uint64_t seed, unsigned n, naos_duration chaos_ms, char *why,
               size_t whylen, struct rsim_lease_figures *fig)
{
    struct raft_config c;
    raft_config_default(&c);
    struct rsim *sim = rsim_new(n, seed, &c);
    struct rsim_lease *l = calloc(1, sizeof(*l));
    if (sim == NULL || l == NULL) {
        free(l);
        rsim_free(sim);
        snprintf(why, whylen, "seed=%llu: rsim_new failed",
                 (unsigned long long)seed);
        return 1;
    }
    sim->lease = l;
    l->cfg = (struct lease_config)LEASE_CONFIG_DEFAULT;
    const char *lo = getenv("NAOS_SIM_LEFTOVERS");
    l->leftovers = lo == NULL || strcmp(lo, "0") != 0;
    for (unsigned i = 0; i < n; i++) {
        struct lnode *x = &l->nodes[i];
        x->skew_ppm = (int64_t)(rsim_rand(sim) % (2 * SKEW_PPM + 1)) -
                      SKEW_PPM;
        x->origin = rsim_rand(sim) % 1000000;
        lease_holder_init(&x->h, &l->cfg);
        x->instance = ++l->instances;
    }
    sim->net.loss = rsim_uniform(sim) * 0.1;
    sim->net.dup = rsim_uniform(sim) * 0.1;
    sim->net.delay_min = 1;
    sim->net.delay_max = rsim__urange(sim, 2, 20);
    sim->net.reorder = 0.2;
    sim->net.reorder_max = 50;
    sim->lease_stall = 0.02;
    sim->lease_stall_max = 1500;
    sim->client_min = 10;
    sim->client_max = 50;
    sim->client_next = sim->now + 500;
    int rc = 0;
    /* the cluster settles and every deployment runs first */
    naos_time settle = sim->now + 10 * (naos_time)c.election_timeout;
    if (!rsim_step_until(sim, all_run, NULL, settle) && !sim->failure[0]) {
        snprintf(why, whylen, "seed=%llu n=%u: not every deployment runs "
                 "%lld ms after the start", (unsigned long long)seed, n,
                 (long long)(settle - 1000));
        rc = 2;
    }
    naos_time end = sim->now + (naos_time)chaos_ms;
    while (rc == 0 && sim->now < end && !sim->failure[0]) {
        naos_time next = sim->now + (naos_time)rsim__urange(sim, 100, 800);
        rsim_run_until(sim, next < end ? next : end);
        if (sim->now >= end || sim->failure[0])
            break;
        /* a node that is down comes back half the time (the generic
         * faults crash more often than they restart) */
        unsigned down[RSIM_MAX_NODES], nd = 0;
        for (unsigned i = 0; i < n; i++)
            if (!sim->nodes[i].up)
                down[nd++] = i;
        if (nd && rsim_rand(sim) % 2)
            rsim_restart(sim, down[rsim_rand(sim) % nd]);
        else if (rsim_rand(sim) % 2)
            lease_fault(sim);
        else
            rsim__chaos_fault(sim);
    }
    if (rc == 0 && !sim->failure[0]) {
        /* heal, restart every node, and wait: within a quiet period every
         * deployment runs somewhere again (and never twice meanwhile) */
        rsim_heal(sim);
        sim->net.loss = sim->net.dup = 0;
        sim->lease_stall = 0;
        l->pause_asker = 0;
        l->trap = false;
        l->trap_fire = 0;
        for (unsigned i = 0; i < n; i++) {
            sim->nodes[i].pause_until = 0;
            rsim_restart(sim, i);
        }
        naos_time quiet = sim->now + 20 * (naos_time)c.election_timeout +
                          2 * (naos_time)l->cfg.length;
        naos_time heal = sim->now;
        if (!rsim_step_until(sim, all_run, NULL, quiet) && !sim->failure[0]) {
            snprintf(why, whylen, "seed=%llu n=%u: a deployment runs "
                     "nowhere %lld ms after healing (leader %d)",
                     (unsigned long long)seed, n, (long long)(quiet - heal),
                     rsim_leader(sim));
            rc = 2;
        }
        /* and still, a while later (nothing moves back and forth) */
        if (rc == 0)
            rsim_run_until(sim, sim->now + 2 * (naos_time)l->cfg.length);
    }
    if (sim->failure[0]) {
        snprintf(why, whylen, "%s", sim->failure);
        rc = 1;
    }
    if (fig) {
        *fig = l->fig;
        fig->moves_applied = sim->moves_applied;
    }
    rsim_free(sim);
    return rc;
}
