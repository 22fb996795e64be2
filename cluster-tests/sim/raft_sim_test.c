/* SPDX-License-Identifier: Apache-2.0 */
/* raft_sim_test.c: the Raft-lite core on the deterministic simulator
 * (raft_sim.h). Every case is seeded; a failure prints the seed, and
 * NAOS_SIM_SEED=n replays a case with that seed (NT_ONLY=test_name runs
 * one case). Figures are printed on stdout as "  report: ..." lines.
 *
 * Built twice more per planted bug of RAFT-LITE §6.4.5 with a
 * RAFT_MUTATION_* flag (CMakeLists.txt); there test_mutation_found passes
 * only if the chaos runs FIND a violation within its seed budget. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster-tests/sim/raft_sim.h"
#include "node/base/err.h"
#include "node/base/testing.h"

#define T 500 /* the default election timeout */

#define SIM_OK(sim, cond)                                                    \
    do {                                                                     \
        if ((sim)->failure[0])                                               \
            NT_FAIL("invariant: %s", (sim)->failure);                        \
        if (!(cond))                                                         \
            NT_FAIL("seed=%llu t=%llu: expected %s",                         \
                    (unsigned long long)(sim)->seed,                         \
                    (unsigned long long)(sim)->now, #cond);                  \
    } while (0)

static double
elapsed_s(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) +
           (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static unsigned long
env_ul(const char *name, unsigned long dflt)
{
    const char *e = getenv(name);
    return e && *e ? strtoul(e, NULL, 10) : dflt;
}

#ifndef RAFT_MUTATION

static struct rsim *
cluster(unsigned n, uint64_t seed)
{
    struct raft_config c;
    raft_config_default(&c);
    struct rsim *sim = rsim_new(n, seed, &c);
    NT_TRUE(sim != NULL);
    return sim;
}

static bool
pred_leader(struct rsim *sim, void *ctx)
{
    (void)ctx;
    return rsim_leader(sim) >= 0;
}

/* pred_new_leader: a running leader other than *ctx. */
static bool
pred_new_leader(struct rsim *sim, void *ctx)
{
    int l = rsim_leader(sim);
    return l >= 0 && l != *(int *)ctx;
}

static int
cmp_dur(const void *a, const void *b)
{
    naos_duration x = *(const naos_duration *)a, y = *(const naos_duration *)b;
    return x < y ? -1 : x > y;
}

/* write_commits: propose at the leader until one value is applied on
 * every running node. */
static bool
write_commits(struct rsim *sim, naos_time deadline)
{
    rsim_mark_progress(sim);
    sim->client_min = 5;
    sim->client_max = 10;
    sim->client_next = sim->now;
    bool ok = rsim_step_until(sim, rsim_progress, NULL, deadline);
    sim->client_min = sim->client_max = 0;
    return ok;
}

/* ---- elections and failover ------------------------------------------- */

/* L1: a leader within about 2 T of a cold start, 3 and 5 nodes. */
static void
test_first_leader(void)
{
    naos_duration worst = 0;
    for (uint64_t s = 1; s <= 50; s++) {
        unsigned n = s % 2 ? 3 : 5;
        struct rsim *sim = cluster(n, rsim_seed_from_env(s));
        naos_time t0 = sim->now;
        SIM_OK(sim, rsim_step_until(sim, pred_leader, NULL, t0 + 10 * T));
        naos_duration d = (naos_duration)(sim->now - t0);
        worst = d > worst ? d : worst;
        SIM_OK(sim, d <= 2 * T + 100);
        SIM_OK(sim, write_commits(sim, sim->now + 2 * T));
        rsim_free(sim);
    }
    printf("  report: first leader after a cold start: worst %lld ms over "
           "50 seeds (T = %d ms)\n", (long long)worst, T);
}

/* F1/L2: kill -9 the leader; measure until a new leader has committed a
 * write applied everywhere, with and without the closed-connection fast
 * path. */
static void
failover(bool fast, naos_duration *p50, naos_duration *max)
{
    enum { RUNS = 40 };
    naos_duration d[RUNS];
    for (uint64_t s = 1; s <= RUNS; s++) {
        struct rsim *sim = cluster(3, rsim_seed_from_env(100 + s));
        sim->fast_close = fast;
        sim->net.delay_min = 1;
        sim->net.delay_max = 2;
        SIM_OK(sim, rsim_step_until(sim, pred_leader, NULL, sim->now + 10 * T));
        SIM_OK(sim, write_commits(sim, sim->now + 2 * T));
        rsim_run_until(sim, sim->now + (naos_time)(rsim_rand(sim) % 100));
        int old = rsim_leader(sim);
        naos_time t0 = sim->now;
        rsim_crash(sim, (unsigned)old, false);
        SIM_OK(sim, rsim_step_until(sim, pred_new_leader, &old,
                                    t0 + 10 * T));
        SIM_OK(sim, write_commits(sim, sim->now + 2 * T));
        d[s - 1] = (naos_duration)(sim->now - t0);
        rsim_restart(sim, (unsigned)old);
        SIM_OK(sim, write_commits(sim, sim->now + 4 * T));
        rsim_free(sim);
    }
    qsort(d, RUNS, sizeof(d[0]), cmp_dur);
    *p50 = d[RUNS / 2];
    *max = d[RUNS - 1];
}

static void
test_leader_kill_failover(void)
{
    naos_duration fp50, fmax, sp50, smax;
    failover(true, &fp50, &fmax);
    failover(false, &sp50, &smax);
    printf("  report: leader kill -> next write applied on all survivors "
           "(3 nodes, T = %d ms, 40 kills): fast path p50 %lld ms, max %lld "
           "ms; timeouts only p50 %lld ms, max %lld ms\n", T,
           (long long)fp50, (long long)fmax, (long long)sp50,
           (long long)smax);
    /* the fast path beats the election timeout it would otherwise wait */
    NT_TRUE(fp50 < 150);
    NT_TRUE(fmax < T);
    NT_TRUE(sp50 >= T);
    /* L2: within ~2.5 T even without it */
    NT_TRUE(smax <= 5 * T / 2 + 200);
}

/* F3/L3: an isolated follower, healed after many election timeouts,
 * deposes nobody (pre-vote), and catches up. */
static void
test_minority_partition_sticky(void)
{
    for (uint64_t s = 1; s <= 20; s++) {
        unsigned n = s % 2 ? 3 : 5;
        struct rsim *sim = cluster(n, rsim_seed_from_env(200 + s));
        SIM_OK(sim, rsim_step_until(sim, pred_leader, NULL, sim->now + 10 * T));
        SIM_OK(sim, write_commits(sim, sim->now + 2 * T));
        int l = rsim_leader(sim);
        uint64_t changes = sim->leader_changes;
        unsigned f = ((unsigned)l + 1) % n;
        rsim_partition(sim, &f, 1);
        sim->client_min = 20;
        sim->client_max = 40;
        SIM_OK(sim, rsim_run_until(sim, sim->now + 10 * T));
        rsim_heal(sim);
        SIM_OK(sim, rsim_run_until(sim, sim->now + 6 * T));
        SIM_OK(sim, rsim_leader(sim) == l);
        SIM_OK(sim, sim->leader_changes == changes);
        SIM_OK(sim, write_commits(sim, sim->now + 2 * T));
        SIM_OK(sim, raft_commit(sim->nodes[f].r) ==
                        raft_commit(sim->nodes[l].r) ||
                    raft_last_index(sim->nodes[f].r) + 5 >=
                        raft_last_index(sim->nodes[l].r));
        rsim_free(sim);
    }
}

/* F2/L4: a leader cut off from the majority steps down within about one
 * election timeout (check-quorum); the majority elects and writes; on
 * healing the old leader's uncommitted entries are replaced. */
static void
test_leader_partition_stepdown(void)
{
    naos_duration worst = 0;
    for (uint64_t s = 1; s <= 20; s++) {
        unsigned n = s % 2 ? 3 : 5;
        struct rsim *sim = cluster(n, rsim_seed_from_env(300 + s));
        SIM_OK(sim, rsim_step_until(sim, pred_leader, NULL, sim->now + 10 * T));
        SIM_OK(sim, write_commits(sim, sim->now + 2 * T));
        unsigned l = (unsigned)rsim_leader(sim);
        rsim_partition(sim, &l, 1);
        /* the cut-off leader accepts a few writes it can never commit */
        for (int k = 0; k < 3; k++)
            rsim_propose(sim, l);
        naos_time t0 = sim->now;
        while (raft_role_get(sim->nodes[l].r) == RAFT_LEADER &&
               sim->now < t0 + 10 * T)
            SIM_OK(sim, rsim_run_until(sim, sim->now + 5));
        naos_duration d = (naos_duration)(sim->now - t0);
        worst = d > worst ? d : worst;
        SIM_OK(sim, d <= T + 60);
        int old = (int)l;
        SIM_OK(sim, rsim_step_until(sim, pred_new_leader, &old,
                                    sim->now + 10 * T));
        rsim_heal(sim);
        SIM_OK(sim, write_commits(sim, sim->now + 4 * T));
        rsim_free(sim);
    }
    printf("  report: isolated leader steps down after at most %lld ms "
           "(check-quorum, T = %d ms)\n", (long long)worst, T);
}

/* F9: a bridge node (sees both sides that do not see each other): the
 * cluster stays writable and the term churn stays bounded. */
static void
test_bridge_partition(void)
{
    uint64_t worst_terms = 0;
    for (uint64_t s = 1; s <= 20; s++) {
        unsigned n = s % 2 ? 3 : 5;
        struct rsim *sim = cluster(n, rsim_seed_from_env(400 + s));
        SIM_OK(sim, rsim_step_until(sim, pred_leader, NULL, sim->now + 10 * T));
        unsigned b = (unsigned)(s % n);
        for (unsigned x = 0; x < n; x++)
            for (unsigned y = 0; y < n; y++)
                if (x != b && y != b && x != y &&
                    ((x + n - b) % n <= n / 2) != ((y + n - b) % n <= n / 2))
                    rsim_cut(sim, x, y, true);
        uint64_t term0 = sim->max_term;
        /* a side cut off from the leader cannot apply: a majority must */
        sim->progress_quorum = n / 2 + 1;
        for (int k = 0; k < 10; k++)
            SIM_OK(sim, write_commits(sim, sim->now + 10 * T));
        uint64_t terms = sim->max_term - term0;
        worst_terms = terms > worst_terms ? terms : worst_terms;
        SIM_OK(sim, terms <= 10);
        rsim_free(sim);
    }
    printf("  report: bridge partition, 10 writes: at most %llu new terms\n",
           (unsigned long long)worst_terms);
}

/* L6: 20% loss with duplication and reordering: still progress within a
 * few election timeouts, every time. */
static void
test_lossy_network_progress(void)
{
    naos_duration worst = 0;
    for (uint64_t s = 1; s <= 10; s++) {
        unsigned n = s % 2 ? 3 : 5;
        struct rsim *sim = cluster(n, rsim_seed_from_env(500 + s));
        sim->net = (struct rsim_net){0.2, 0.1, 1, 10, 0.3, 50};
        for (int k = 0; k < 20; k++) {
            naos_time t0 = sim->now;
            SIM_OK(sim, write_commits(sim, sim->now + 6 * T));
            naos_duration d = (naos_duration)(sim->now - t0);
            worst = d > worst ? d : worst;
        }
        rsim_free(sim);
    }
    printf("  report: 20%% loss, 10%% dup, reordering: a write applied on "
           "every node within %lld ms at worst (200 writes)\n",
           (long long)worst);
}

/* F5: power loss right after acknowledgements, on every node in turn:
 * what was acknowledged stays (the checker's S4/S5/S7 hold). */
static void
test_power_loss_rounds(void)
{
    struct rsim *sim = cluster(3, rsim_seed_from_env(600));
    sim->client_min = 5;
    sim->client_max = 15;
    for (int round = 0; round < 30; round++) {
        SIM_OK(sim, rsim_run_until(sim, sim->now + 200 +
                                            rsim_rand(sim) % 300));
        unsigned v = (unsigned)(rsim_rand(sim) % 3);
        rsim_crash(sim, v, true);
        SIM_OK(sim, rsim_run_until(sim, sim->now + rsim_rand(sim) % 600));
        rsim_restart(sim, v);
    }
    SIM_OK(sim, write_commits(sim, sim->now + 6 * T));
    printf("  report: 30 power losses: %llu values applied, %llu leader "
           "changes\n", (unsigned long long)sim->commit_max,
           (unsigned long long)sim->leader_changes);
    rsim_free(sim);
}

/* ---- snapshots -------------------------------------------------------- */

struct snap_ctx {
    unsigned l, f;
    uint64_t f_last;   /* where f's log ended when healed */
    uint64_t installs; /* sim->snap_installs before the heal */
};

/* pred_compacted_past: the leader and the other follower compacted well
 * past the end of f's log (20 entries). */
static bool
pred_compacted_past(struct rsim *sim, void *ctx)
{
    const struct snap_ctx *c = ctx;
    unsigned o = 3 - c->l - c->f;
    uint64_t last = raft_last_index(sim->nodes[c->f].r);
    return raft_first_index(sim->nodes[c->l].r) > last + 20 &&
           raft_first_index(sim->nodes[o].r) > last + 20;
}

static bool
pred_installed(struct rsim *sim, void *ctx)
{
    const struct snap_ctx *c = ctx;
    return sim->snap_installs > c->installs;
}

/* pred_same_applied: every node applied the leader's commit index. */
static bool
pred_same_applied(struct rsim *sim, void *ctx)
{
    const struct snap_ctx *c = ctx;
    uint64_t commit = raft_commit(sim->nodes[c->l].r);
    for (unsigned i = 0; i < sim->n; i++)
        if (!sim->nodes[i].up || sim->nodes[i].applied != commit)
            return false;
    return true;
}

/* A follower that needs a snapshot: of 3 nodes, one is cut off while the
 * others commit and compact past its log (a budget of 4 entries); healed,
 * it is listed behind, sent a snapshot of the leader's applied state,
 * installs it (S5 checks it against what was committed), catches up with
 * the entries after it, and every node ends with the same applied
 * sequence. No leader change on the way (pre-vote). */
static void
test_follower_needs_snapshot(void)
{
    uint64_t worst_gap = 0;
    for (uint64_t s = 1; s <= 10; s++) {
        struct rsim *sim = cluster(3, rsim_seed_from_env(700 + s));
        sim->keep_entries = 4;
        sim->compact_rate = 1;
        SIM_OK(sim, rsim_step_until(sim, pred_leader, NULL, sim->now + 10 * T));
        SIM_OK(sim, write_commits(sim, sim->now + 2 * T));
        struct snap_ctx c;
        c.l = (unsigned)rsim_leader(sim);
        c.f = (c.l + 1 + (unsigned)(s % 2)) % 3;
        uint64_t changes = sim->leader_changes;
        rsim_partition(sim, &c.f, 1);
        sim->client_min = 5;
        sim->client_max = 10;
        sim->client_next = sim->now;
        SIM_OK(sim, rsim_step_until(sim, pred_compacted_past, &c,
                                    sim->now + 20 * T));
        c.f_last = raft_last_index(sim->nodes[c.f].r);
        c.installs = sim->snap_installs;
        rsim_heal(sim);
        SIM_OK(sim, rsim_step_until(sim, pred_installed, &c,
                                    sim->now + 4 * T));
        /* its log is now based at the snapshot, beyond where it ended */
        uint64_t base = raft_first_index(sim->nodes[c.f].r) - 1;
        SIM_OK(sim, base > c.f_last);
        SIM_OK(sim, sim->nodes[c.f].applied >= base);
        uint64_t gap = base - c.f_last;
        worst_gap = gap > worst_gap ? gap : worst_gap;
        /* entries after the snapshot reach it */
        SIM_OK(sim, write_commits(sim, sim->now + 4 * T));
        SIM_OK(sim, raft_last_index(sim->nodes[c.f].r) > base);
        sim->client_min = sim->client_max = 0;
        SIM_OK(sim, rsim_step_until(sim, pred_same_applied, &c,
                                    sim->now + 4 * T));
        const struct rsim_node *lead = &sim->nodes[c.l];
        for (unsigned i = 0; i < 3; i++)
            SIM_OK(sim, memcmp(sim->nodes[i].sm, lead->sm,
                               lead->applied * sizeof(*lead->sm)) == 0);
        SIM_OK(sim, rsim_leader(sim) == (int)c.l);
        SIM_OK(sim, sim->leader_changes == changes);
        rsim_free(sim);
    }
    printf("  report: a follower cut off while the others compacted past "
           "its log (keep 4 entries) installed a snapshot and caught up, "
           "10 seeds; the snapshot skipped up to %llu entries\n",
           (unsigned long long)worst_gap);
}

/* ---- membership ------------------------------------------------------- */

static struct rsim *
cluster_spares(unsigned nvoters, unsigned nspares, uint64_t seed)
{
    struct raft_config c;
    raft_config_default(&c);
    struct rsim *sim = rsim_new_spares(nvoters, nspares, seed, &c);
    NT_TRUE(sim != NULL);
    return sim;
}

/* pred_committed: the sim's record has index *ctx committed. */
static bool
pred_committed(struct rsim *sim, void *ctx)
{
    uint64_t k = *(uint64_t *)ctx;
    return sim->commit_max >= k && sim->commit_term[k] != 0;
}

/* change: ask the leader for a change until it takes it (EBUSY: a change
 * under way or no leader yet), then wait for it to commit; its index. */
static uint64_t
change(struct rsim *sim, enum raft_change_kind kind, unsigned i)
{
    uint64_t idx = 0;
    naos_time limit = sim->now + 20 * T;
    int rv;
    while ((rv = rsim_change(sim, kind, i, &idx)) == NAOS_EBUSY &&
           sim->now < limit)
        SIM_OK(sim, rsim_run_until(sim, sim->now + 10));
    SIM_OK(sim, rv == NAOS_OK);
    SIM_OK(sim, rsim_step_until(sim, pred_committed, &idx, sim->now + 10 * T));
    return idx;
}

/* pred_caught_up: node *ctx applied what the leader committed. */
static bool
pred_caught_up(struct rsim *sim, void *ctx)
{
    int l = rsim_leader(sim);
    unsigned i = *(unsigned *)ctx;
    return l >= 0 && sim->nodes[i].up &&
           sim->nodes[i].applied >= raft_commit(sim->nodes[l].r);
}

static bool
conf_equal(const struct raft_conf *a, const struct raft_conf *b)
{
    if (a->nvoters != b->nvoters || a->nlearners != b->nlearners)
        return false;
    for (size_t i = 0; i < a->nvoters; i++)
        if (!raft_conf_is_voter(b, a->voters[i]))
            return false;
    for (size_t i = 0; i < a->nlearners; i++)
        if (!raft_conf_is_learner(b, a->learners[i]))
            return false;
    return true;
}

/* pred_same_conf: every running node is in the leader's configuration,
 * which is committed, and applied the leader's commit index. */
static bool
pred_same_conf(struct rsim *sim, void *ctx)
{
    (void)ctx;
    int l = rsim_leader(sim);
    if (l < 0)
        return false;
    const struct raft *lr = sim->nodes[l].r;
    if (raft_conf_index(lr) > raft_commit(lr))
        return false;
    for (unsigned i = 0; i < sim->n; i++) {
        const struct rsim_node *nd = &sim->nodes[i];
        if (nd->up && (!conf_equal(raft_conf_current(nd->r),
                                   raft_conf_current(lr)) ||
                       nd->applied < raft_commit(lr)))
            return false;
    }
    return true;
}

/* has_entry: node i's log holds (index, term). */
static bool
has_entry(const struct rsim *sim, unsigned i, uint64_t index, uint64_t term)
{
    return sim->nodes[i].up && raft_term_at(sim->nodes[i].r, index) == term;
}

struct promo_ctx {
    unsigned l;
    uint64_t idx, term;
    unsigned holder; /* the node that must hold the entry */
};

static bool
pred_holder_has(struct rsim *sim, void *ctx)
{
    const struct promo_ctx *c = ctx;
    return has_entry(sim, c->holder, c->idx, c->term);
}

/* pred_committed_unapplied: the leader counts the entry committed and
 * has not applied it yet (its next batch is still syncing). */
static bool
pred_committed_unapplied(struct rsim *sim, void *ctx)
{
    const struct promo_ctx *c = ctx;
    const struct rsim_node *nd = &sim->nodes[c->l];
    return raft_commit(nd->r) >= c->idx && nd->applied < c->idx;
}

enum promo_case {
    PROMO_APPENDED,  /* (a) crash right after the leader appended it */
    PROMO_LEARNER,   /* (b) only the other learner got it */
    PROMO_PROMOTED,  /* (b) only the learner being promoted got it */
    PROMO_FOLLOWER,  /* (b) only one voter follower got it */
    PROMO_COMMITTED, /* (c) committed, not applied by the leader */
};

/* promotion_crash: 3 voters and 2 caught-up learners (nodes 3, 4); the
 * leader proposes PROMOTE 3 and crashes at the point the case names. A
 * new leader is elected, every node ends in the same configuration, and
 * node 3 is a voter iff the entry survived (the cluster committed it).
 * Returns whether it survived. */
static bool
promotion_crash(uint64_t seed, enum promo_case pc)
{
    struct rsim *sim = cluster_spares(3, 2, seed);
    SIM_OK(sim, rsim_step_until(sim, pred_leader, NULL, sim->now + 10 * T));
    SIM_OK(sim, write_commits(sim, sim->now + 2 * T));
    change(sim, RAFT_CHANGE_ADD_LEARNER, 3);
    change(sim, RAFT_CHANGE_ADD_LEARNER, 4);
    SIM_OK(sim, write_commits(sim, sim->now + 4 * T));
    for (unsigned i = 3; i < 5; i++)
        SIM_OK(sim, rsim_step_until(sim, pred_caught_up, &i,
                                    sim->now + 4 * T));
    /* the leader takes it between two batches (EBUSY while it syncs) */
    struct promo_ctx c;
    int rv;
    naos_time limit = sim->now + T;
    while ((rv = rsim_change(sim, RAFT_CHANGE_PROMOTE, 3, &c.idx)) ==
               NAOS_EBUSY &&
           sim->now < limit)
        SIM_OK(sim, rsim_run_until(sim, sim->now + 1));
    SIM_OK(sim, rv == NAOS_OK);
    c.l = (unsigned)rsim_leader(sim);
    c.term = raft_term(sim->nodes[c.l].r);
    /* (b) the leader's messages reach only the holder: it is still
     * syncing the entry, nothing has left */
    c.holder = pc == PROMO_LEARNER    ? 4
               : pc == PROMO_PROMOTED ? 3
                                      : (c.l + 1) % 3;
    if (pc == PROMO_LEARNER || pc == PROMO_PROMOTED || pc == PROMO_FOLLOWER)
        for (unsigned j = 0; j < 5; j++)
            if (j != c.l && j != c.holder)
                rsim_cut(sim, c.l, j, true);
    /* The promoted learner, a voter in its own log, may stand: without
     * the closed-connection fast path (where the voters of lowest id
     * stand at once and win first) it wins on some seeds, with the votes
     * of voters that never heard of its promotion. */
    if (pc == PROMO_PROMOTED)
        sim->fast_close = false;
    switch (pc) {
    case PROMO_APPENDED:
        break;
    case PROMO_LEARNER:
    case PROMO_PROMOTED:
    case PROMO_FOLLOWER:
        SIM_OK(sim, rsim_step_until(sim, pred_holder_has, &c,
                                    sim->now + 2 * T));
        break;
    case PROMO_COMMITTED:
        SIM_OK(sim, rsim_step_until(sim, pred_committed_unapplied, &c,
                                    sim->now + 2 * T));
        break;
    }
    /* who holds it when the leader dies */
    unsigned holders = 0;
    for (unsigned j = 0; j < 5; j++)
        holders += j != c.l && has_entry(sim, j, c.idx, c.term);
    if (pc == PROMO_APPENDED)
        SIM_OK(sim, holders == 0);
    else if (pc != PROMO_COMMITTED)
        SIM_OK(sim, holders == 1);
    rsim_crash(sim, c.l, false);
    rsim_heal(sim);
    int old = (int)c.l;
    SIM_OK(sim, rsim_step_until(sim, pred_new_leader, &old,
                                sim->now + 10 * T));
    SIM_OK(sim, write_commits(sim, sim->now + 4 * T));
    rsim_restart(sim, c.l);
    SIM_OK(sim, write_commits(sim, sim->now + 4 * T));
    SIM_OK(sim, rsim_step_until(sim, pred_same_conf, NULL, sim->now + 6 * T));
    bool survived = sim->commit_max >= c.idx &&
                    sim->commit_term[c.idx] == c.term;
    const struct raft_conf *fin =
        raft_conf_current(sim->nodes[rsim_leader(sim)].r);
    SIM_OK(sim, raft_conf_is_voter(fin, sim->ids[3]) == survived);
    SIM_OK(sim, raft_conf_is_learner(fin, sim->ids[3]) == !survived);
    SIM_OK(sim, raft_conf_is_learner(fin, sim->ids[4]));
    SIM_OK(sim, fin->nvoters == (survived ? 4u : 3u));
    for (unsigned j = 0; j < 3; j++)
        SIM_OK(sim, raft_conf_is_voter(fin, sim->ids[j]));
    switch (pc) {
    case PROMO_APPENDED:
    case PROMO_LEARNER:
        SIM_OK(sim, !survived); /* no voter that could lead had it */
        break;
    case PROMO_FOLLOWER:
    case PROMO_COMMITTED:
        SIM_OK(sim, survived); /* only a holder can be elected */
        break;
    case PROMO_PROMOTED:
        break; /* either: the learner, a voter in its own log, may win */
    }
    rsim_free(sim);
    return survived;
}

/* The scenario: a voter promotion while the leader crashes,
 * (a) right after appending it, (b) after a minority has it (the other
 * learner; the promoted learner itself, which then stands as a voter of
 * its own configuration; one voter follower), (c) committed but not yet
 * applied by the leader. 10 seeds each. */
static void
test_promotion_while_leader_crashes(void)
{
    static const char *names[] = {"appended", "other learner has it",
                                  "promoted learner has it",
                                  "one follower has it",
                                  "committed, unapplied"};
    for (int pc = PROMO_APPENDED; pc <= PROMO_COMMITTED; pc++) {
        unsigned kept = 0;
        for (uint64_t s = 1; s <= 10; s++)
            kept += promotion_crash(rsim_seed_from_env(800 + 10 * pc + s),
                                    (enum promo_case)pc);
        printf("  report: promotion, leader crashed (%s): the entry "
               "survived in %u of 10 seeds, the learner a voter exactly "
               "then\n", names[pc], kept);
    }
}

/* A joiner: a node outside the founding configuration is added as a
 * learner, catches up by appends (nothing compacted) or by a snapshot
 * (the leader compacted to 4 entries), is promoted and then counts (a
 * voter down of 4, the commit needs it); finally the leader removes
 * itself, leads until that commits (M5) and the others go on. */
static void
joiner(uint64_t seed, bool snapshot)
{
    struct rsim *sim = cluster_spares(3, 1, seed);
    sim->compact_rate = snapshot ? 1 : 0;
    sim->keep_entries = 4;
    SIM_OK(sim, rsim_step_until(sim, pred_leader, NULL, sim->now + 10 * T));
    for (int k = 0; k < 10; k++)
        SIM_OK(sim, write_commits(sim, sim->now + 2 * T));
    unsigned j = 3;
    uint64_t installs = sim->snap_installs;
    change(sim, RAFT_CHANGE_ADD_LEARNER, j);
    SIM_OK(sim, rsim_step_until(sim, pred_caught_up, &j, sim->now + 4 * T));
    if (snapshot) {
        SIM_OK(sim, sim->snap_installs > installs);
        SIM_OK(sim, raft_first_index(sim->nodes[j].r) > 1);
    } else {
        SIM_OK(sim, sim->snap_installs == installs);
        SIM_OK(sim, raft_first_index(sim->nodes[j].r) == 1);
    }
    change(sim, RAFT_CHANGE_PROMOTE, j);
    SIM_OK(sim, rsim_step_until(sim, pred_same_conf, NULL, sim->now + 4 * T));
    int l = rsim_leader(sim);
    SIM_OK(sim, raft_conf_current(sim->nodes[l].r)->nvoters == 4);
    /* one original voter down: 3 of 4 must commit, the joiner among them */
    unsigned down = ((unsigned)l + 1) % 3;
    rsim_crash(sim, down, false);
    SIM_OK(sim, write_commits(sim, sim->now + 6 * T));
    rsim_restart(sim, down);
    SIM_OK(sim, write_commits(sim, sim->now + 4 * T));
    /* the leader removes itself: leads until it commits, then steps
     * down (M5 checks at that event); a voter of the rest takes over */
    l = rsim_leader(sim);
    uint64_t stepdowns = sim->removed_stepdowns;
    change(sim, RAFT_CHANGE_REMOVE, (unsigned)l);
    SIM_OK(sim, rsim_step_until(sim, pred_new_leader, &l, sim->now + 10 * T));
    SIM_OK(sim, sim->removed_stepdowns > stepdowns);
    SIM_OK(sim, write_commits(sim, sim->now + 4 * T));
    const struct raft_conf *fin =
        raft_conf_current(sim->nodes[rsim_leader(sim)].r);
    SIM_OK(sim, fin->nvoters == 3 && raft_conf_is_voter(fin, sim->ids[j]) &&
                    !raft_conf_is_voter(fin, sim->ids[l]));
    rsim_free(sim);
}

static void
test_joiner_catches_up_and_is_promoted(void)
{
    for (uint64_t s = 1; s <= 10; s++) {
        joiner(rsim_seed_from_env(900 + s), false);
        joiner(rsim_seed_from_env(950 + s), true);
    }
    printf("  report: a joiner added as a learner caught up by appends "
           "(10 seeds) and by a snapshot (10 seeds), was promoted and "
           "counted; the leader then removed itself and stepped down\n");
}

/* A cluster founded by one node (the lone node it_raft_join grows): two
 * joiners are added and promoted, one is cut off and lags, and the
 * founder restarts. Compaction keeps 1000 entries for a voter that lags,
 * so nothing that voter lacks may go (raft_held stays below its log):
 * healed, it catches up by appends, no snapshot. (Before raft_alloc took
 * the lone-voter shortcut from the configuration in effect, the restarted
 * founder counted the founding voters, took its commit index for what
 * every voter holds and compacted past the lagging one.) */
static void
test_lone_founder_grows(void)
{
    for (uint64_t s = 1; s <= 10; s++) {
        struct rsim *sim = cluster_spares(1, 2, rsim_seed_from_env(980 + s));
        sim->keep_entries = 1000;
        sim->keep_bytes = 1 << 20;
        sim->compact_rate = 1;
        SIM_OK(sim, rsim_step_until(sim, pred_leader, NULL, sim->now + 4 * T));
        SIM_OK(sim, write_commits(sim, sim->now + 2 * T));
        change(sim, RAFT_CHANGE_ADD_LEARNER, 1);
        change(sim, RAFT_CHANGE_ADD_LEARNER, 2);
        change(sim, RAFT_CHANGE_PROMOTE, 1);
        change(sim, RAFT_CHANGE_PROMOTE, 2);
        SIM_OK(sim, rsim_step_until(sim, pred_same_conf, NULL,
                                    sim->now + 4 * T));
        SIM_OK(sim, raft_conf_current(sim->nodes[0].r)->nvoters == 3);
        unsigned lag = 2;
        rsim_partition(sim, &lag, 1);
        sim->progress_quorum = 2;
        for (int k = 0; k < 20; k++)
            SIM_OK(sim, write_commits(sim, sim->now + 2 * T));
        uint64_t past = sim->compactions_past, installs = sim->snap_installs;
        rsim_crash(sim, 0, false);
        rsim_restart(sim, 0);
        SIM_OK(sim, rsim_step_until(sim, pred_leader, NULL, sim->now + 10 * T));
        for (int k = 0; k < 5; k++)
            SIM_OK(sim, write_commits(sim, sim->now + 4 * T));
        rsim_heal(sim);
        SIM_OK(sim, rsim_step_until(sim, pred_caught_up, &lag,
                                    sim->now + 10 * T));
        sim->progress_quorum = 0;
        SIM_OK(sim, write_commits(sim, sim->now + 4 * T));
        SIM_OK(sim, sim->compactions_past == past);
        SIM_OK(sim, sim->snap_installs == installs);
        rsim_free(sim);
    }
}

/* ---- chaos runs ------------------------------------------------------- */

#endif /* !RAFT_MUTATION */

/* add_members: a run's membership figures into sum (membership counts
 * the seeds that changed members). */
static void
add_members(struct rsim_figures *sum, const struct rsim_figures *f)
{
    sum->membership += f->membership;
    sum->changes_ok += f->changes_ok;
    sum->changes_busy += f->changes_busy;
    sum->confs_committed += f->confs_committed;
    sum->removed_stepdowns += f->removed_stepdowns;
    sum->votes_nonvoter += f->votes_nonvoter;
}

static void
report_members(const struct rsim_figures *sum)
{
    printf("  report: membership on %llu of those runs: %llu changes "
           "taken by a leader (%llu more refused busy), %llu "
           "configurations committed (M1-M6 checked), %llu removed leaders "
           "stepped down, %llu votes "
           "granted by non-voters (counted nowhere: M4)\n",
           (unsigned long long)sum->membership,
           (unsigned long long)sum->changes_ok,
           (unsigned long long)sum->changes_busy,
           (unsigned long long)sum->confs_committed,
           (unsigned long long)sum->removed_stepdowns,
           (unsigned long long)sum->votes_nonvoter);
}

#ifndef RAFT_MUTATION

static void
random_runs(unsigned n, uint64_t first)
{
    unsigned long runs = env_ul("NAOS_SIM_RUNS", 200);
    uint64_t seed0 = rsim_seed_from_env(0);
    if (seed0)
        runs = 1;
    struct rsim_figures f, sum = {0};
    naos_duration worst = 0;
    for (unsigned long k = 0; k < runs; k++) {
        uint64_t seed = seed0 ? seed0 : first + k;
        char why[600];
        int rc = rsim_random_run(seed, n, 8000, false, why, sizeof(why), &f);
        if (rc)
            NT_FAIL("%s (replay: NAOS_SIM_SEED=%llu)", why,
                    (unsigned long long)seed);
        sum.leader_changes += f.leader_changes;
        sum.applied += f.applied;
        sum.events += f.events;
        sum.reads_ok += f.reads_ok;
        sum.reads_failed += f.reads_failed;
        sum.compactions += f.compactions;
        sum.compactions_past += f.compactions_past;
        sum.snap_sent += f.snap_sent;
        sum.snap_installs += f.snap_installs;
        sum.snap_had += f.snap_had;
        add_members(&sum, &f);
        worst = f.heal_to_progress > worst ? f.heal_to_progress : worst;
    }
    printf("  report: %lu chaos runs of %u nodes: %llu leader terms, %llu "
           "entries committed, %llu events, ReadIndex reads %llu confirmed "
           "(each checked to cover every entry committed before it was "
           "asked) and %llu failed; %llu compactions (S9-checked), %llu of "
           "them past a voter's log; snapshots: %llu sent, %llu installs "
           "(S5-checked), %llu offers already held; heal -> progress worst "
           "%lld ms\n", runs,
           n, (unsigned long long)sum.leader_changes,
           (unsigned long long)sum.applied, (unsigned long long)sum.events,
           (unsigned long long)sum.reads_ok,
           (unsigned long long)sum.reads_failed,
           (unsigned long long)sum.compactions,
           (unsigned long long)sum.compactions_past,
           (unsigned long long)sum.snap_sent,
           (unsigned long long)sum.snap_installs,
           (unsigned long long)sum.snap_had, (long long)worst);
    report_members(&sum);
}

static void
test_random_runs_3(void)
{
    random_runs(3, 1000000);
}

static void
test_random_runs_5(void)
{
    random_runs(5, 2000000);
}

#endif /* !RAFT_MUTATION */

/* The seed sweep (and, in mutation builds, the search for the planted
 * bug): seeds NAOS_SIM_SWEEP_FROM.. up to NAOS_SIM_SWEEP_COUNT seeds or
 * NAOS_SIM_SWEEP_SECONDS of CPU, whichever comes first, 3 and 5 nodes
 * alternating. Prints every failing seed (replay: NAOS_SIM_SEED=<seed>
 * NT_ONLY=test_replay). */
static unsigned long
sweep(unsigned long *found_seed, char *first_why, size_t whylen,
      unsigned long *ran, bool stop_at_first, bool lying,
      struct rsim_figures *sum)
{
    unsigned long from = env_ul("NAOS_SIM_SWEEP_FROM", 1);
    unsigned long count = env_ul("NAOS_SIM_SWEEP_COUNT", 2000);
    double secs = (double)env_ul("NAOS_SIM_SWEEP_SECONDS", 60);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long bad = 0;
    *ran = 0;
    for (unsigned long s = from; s < from + count; s++) {
        if (elapsed_s(&t0) > secs)
            break;
        char why[600];
        unsigned n = s % 2 ? 3 : 5;
        struct rsim_figures f = {0};
        int rc = rsim_random_run(s, n, 8000, lying, why, sizeof(why), &f);
        (*ran)++;
        sum->applied += f.applied;
        sum->compactions += f.compactions;
        sum->compactions_past += f.compactions_past;
        sum->snap_sent += f.snap_sent;
        sum->snap_installs += f.snap_installs;
        sum->snap_had += f.snap_had;
        sum->leader_changes += f.leader_changes;
        add_members(sum, &f);
        if (rc == 1 || (rc == 2 && !stop_at_first)) {
            if (bad == 0) {
                *found_seed = s;
                snprintf(first_why, whylen, "%s", why);
            }
            bad++;
            printf("  seed %lu: %s\n", s, why);
            if (stop_at_first && rc == 1)
                break;
        }
    }
    return bad;
}

#ifndef RAFT_MUTATION
static void
test_seed_sweep(void)
{
    unsigned long seed = 0, ran;
    char why[600] = "";
    struct rsim_figures sum = {0};
    unsigned long bad =
        sweep(&seed, why, sizeof(why), &ran, false, false, &sum);
    printf("  report: seed sweep: %lu seeds (3 and 5 nodes alternating), "
           "%lu failing; %llu leader terms, %llu entries committed, %llu "
           "compactions (%llu past a voter's log), %llu snapshot installs "
           "over %lu seeds (%llu sent, %llu offers already held)\n", ran,
           bad, (unsigned long long)sum.leader_changes,
           (unsigned long long)sum.applied,
           (unsigned long long)sum.compactions,
           (unsigned long long)sum.compactions_past,
           (unsigned long long)sum.snap_installs, ran,
           (unsigned long long)sum.snap_sent,
           (unsigned long long)sum.snap_had);
    report_members(&sum);
    if (bad)
        NT_FAIL("%lu of %lu seeds failed; first: %s (replay: "
                "NAOS_SIM_SEED=%lu NT_ONLY=test_replay)", bad, ran, why,
                seed);
    NT_TRUE(ran >= 50); /* the time bound must not hollow the sweep out */
}
#endif

/* test_replay: one chaos run of NAOS_SIM_SEED (3 nodes if odd, else 5,
 * as the sweep runs it; NAOS_SIM_NODES=n overrides, for the seeds of
 * test_random_runs_*). */
static void
test_replay(void)
{
    uint64_t s = rsim_seed_from_env(1);
    char why[600];
    struct rsim_figures f = {0};
#ifdef RAFT_MUTATION_SKIP_FSYNC
    bool lying = true;
#else
    bool lying = false;
#endif
    unsigned n = (unsigned)env_ul("NAOS_SIM_NODES", s % 2 ? 3 : 5);
    int rc = rsim_random_run(s, n, 8000, lying, why, sizeof(why), &f);
    printf("  report: seed %llu: rc %d, %llu leader terms, max term %llu, "
           "%llu committed, %llu events, %llu compactions, %llu snapshot "
           "installs (%llu sent, %llu offers already held)\n",
           (unsigned long long)s, rc, (unsigned long long)f.leader_changes,
           (unsigned long long)f.max_term, (unsigned long long)f.applied,
           (unsigned long long)f.events, (unsigned long long)f.compactions,
           (unsigned long long)f.snap_installs,
           (unsigned long long)f.snap_sent, (unsigned long long)f.snap_had);
    if (rc)
        NT_FAIL("%s", why);
}

#ifdef RAFT_MUTATION
/* test_mutation_found: the planted bug must be caught as an invariant
 * violation (not a liveness failure, not a crash) within the budget. */
static void
test_mutation_found(void)
{
    unsigned long seed = 0, ran;
    char why[600] = "";
#ifdef RAFT_MUTATION_SKIP_FSYNC
    bool lying = true;
#else
    bool lying = false;
#endif
    struct rsim_figures sum = {0};
    unsigned long bad = sweep(&seed, why, sizeof(why), &ran, true, lying, &sum);
    if (bad == 0)
        NT_FAIL("planted bug %s survived %lu seeds: the simulator misses "
                "a fault class", RAFT_MUTATION, ran);
    printf("  report: planted bug %s found at seed %lu (after %lu seeds): "
           "%s\n", RAFT_MUTATION, seed, ran, why);
    report_members(&sum);
}
#endif

int
main(void)
{
    static const struct nt_case cases[] = {
#ifndef RAFT_MUTATION
        NT_CASE(test_first_leader),
        NT_CASE(test_leader_kill_failover),
        NT_CASE(test_minority_partition_sticky),
        NT_CASE(test_leader_partition_stepdown),
        NT_CASE(test_bridge_partition),
        NT_CASE(test_lossy_network_progress),
        NT_CASE(test_power_loss_rounds),
        NT_CASE(test_follower_needs_snapshot),
        NT_CASE(test_promotion_while_leader_crashes),
        NT_CASE(test_joiner_catches_up_and_is_promoted),
        NT_CASE(test_lone_founder_grows),
        NT_CASE(test_random_runs_3),
        NT_CASE(test_random_runs_5),
        NT_CASE(test_seed_sweep),
#else
        NT_CASE(test_mutation_found),
#endif
        NT_CASE(test_replay),
        {0},
    };
    return nt_run(cases);
}
