/* SPDX-License-Identifier: Apache-2.0 */
/* swim_sim_test.c: the SWIM core on the deterministic simulator (sim.h).
 * Every case is seeded; a failure prints the seed, and NAOS_SIM_SEED=n
 * replays a case with that seed (NT_ONLY=test_name runs one case).
 * Figures (detection times, bytes per node per second, rounds) are printed
 * on stdout as "  report: ..." lines. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster-tests/sim/sim.h"
#include "node/base/testing.h"

#define SEC 1000

#define SIM_OK(sim, cond)                                                    \
    do {                                                                     \
        if ((sim)->failure[0])                                               \
            NT_FAIL("invariant: %s", (sim)->failure);                        \
        if (!(cond))                                                         \
            NT_FAIL("seed=%llu t=%llu: expected %s",                         \
                    (unsigned long long)(sim)->seed,                         \
                    (unsigned long long)(sim)->now, #cond);                  \
    } while (0)

static struct swim_config
lan(void)
{
    struct swim_config c;
    swim_config_profile(&c, "lan");
    return c;
}

static struct sim *
cluster(unsigned n, uint64_t seed, const struct swim_config *c)
{
    struct sim *sim = sim_new(n, seed, c);
    NT_TRUE(sim != NULL);
    if (!sim_start_cluster(sim, 60 * SEC))
        NT_FAIL("seed=%llu: %u nodes did not converge in 60 s: %s",
                (unsigned long long)seed, n, sim->failure);
    return sim;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* ---- detection -------------------------------------------------------- */

struct watch {
    unsigned subject;
    enum swim_state state;
    naos_time since;
    naos_time at[256]; /* per observer; NEVER until seen */
    naos_time sus[256]; /* per observer: first seen not alive */
    unsigned wrong;    /* observers that saw another non-alive state */
    enum swim_state wrong_state;
};

static void
watch_hook(void *ctx, struct sim *sim, unsigned obs,
           const struct swim_member *m, enum swim_change what)
{
    struct watch *w = ctx;
    if (what != SWIM_CHANGE_STATE ||
        m->id.v != sim->nodes[w->subject].id.v)
        return;
    if (m->state == w->state && w->at[obs] == NAOS_TIME_NEVER)
        w->at[obs] = sim->now;
    if (m->state != SWIM_ALIVE && w->sus[obs] == NAOS_TIME_NEVER)
        w->sus[obs] = sim->now;
    if (m->state != w->state && m->state != SWIM_ALIVE &&
        m->state != SWIM_SUSPECT) {
        w->wrong++;
        w->wrong_state = m->state;
    }
}

static void
watch_start(struct sim *sim, struct watch *w, unsigned subject,
            enum swim_state st)
{
    memset(w, 0, sizeof(*w));
    w->subject = subject;
    w->state = st;
    w->since = sim->now;
    for (unsigned i = 0; i < 256; i++)
        w->at[i] = w->sus[i] = NAOS_TIME_NEVER;
    sim->hook = watch_hook;
    sim->hook_ctx = w;
}

struct see_ctx {
    unsigned subject;
    enum swim_state st;
};

static bool
pred_all_see(struct sim *sim, void *ctx)
{
    struct see_ctx *c = ctx;
    return sim_all_see(sim, c->subject, c->st);
}

static bool
pred_converged(struct sim *sim, void *ctx)
{
    (void)ctx;
    return sim_converged(sim);
}

/* pred_none_alive: no up node other than the subject sees it alive. */
static bool
pred_none_alive(struct sim *sim, void *ctx)
{
    struct see_ctx *c = ctx;
    for (unsigned o = 0; o < sim->n; o++) {
        if (o == c->subject || !sim_is_up(sim, o))
            continue;
        const struct swim_member *m = sim_view(sim, o, c->subject);
        if (m && m->state == SWIM_ALIVE)
            return false;
    }
    return true;
}

/* detection times (ms) of every up observer: p50 and max */
static void
watch_stats(struct sim *sim, const struct watch *w, uint64_t *p50,
            uint64_t *max)
{
    uint64_t v[256];
    size_t n = 0;
    for (unsigned o = 0; o < sim->n; o++) {
        if (o == w->subject || !sim_is_up(sim, o))
            continue;
        if (w->at[o] == NAOS_TIME_NEVER)
            NT_FAIL("seed=%llu: observer %u never saw node %u %s",
                    (unsigned long long)sim->seed, o, w->subject,
                    swim_state_name(w->state));
        v[n++] = w->at[o] - w->since;
    }
    qsort(v, n, sizeof(v[0]), cmp_u64);
    *p50 = n ? v[n / 2] : 0;
    *max = n ? v[n - 1] : 0;
}

/* kill_and_detect: 50-node lan cluster, warm up (so probes have opened
 * connections between most pairs), kill one node, wait until every
 * survivor marks it dead. */
static void
kill_and_detect(bool fast, unsigned kills, uint64_t bound_p50,
                uint64_t bound_max)
{
    uint64_t seed = sim_seed_from_env(fast ? 101 : 202);
    struct swim_config c = lan();
    uint64_t all[64];
    size_t nall = 0;
    uint64_t worst = 0;
    for (unsigned k = 0; k < kills; k++) {
        struct sim *sim = cluster(50, seed + k, &c);
        sim->fast_kill = fast;
        SIM_OK(sim, sim_run_until(sim, sim->now + 60 * SEC));
        unsigned victim = 1 + (unsigned)(sim_rand(sim) % 49);
        struct watch w;
        watch_start(sim, &w, victim, SWIM_DEAD);
        sim_kill(sim, victim);
        struct see_ctx sc = {victim, SWIM_DEAD};
        bool ok = sim_step_until(sim, pred_all_see, &sc,
                                 sim->now + (naos_time)bound_max + 1);
        SIM_OK(sim, ok);
        SIM_OK(sim, sim->false_dead == 0);
        uint64_t p50, max;
        watch_stats(sim, &w, &p50, &max);
        all[nall++] = p50;
        if (max > worst)
            worst = max;
        printf("  report: %s kill seed=%llu victim=%u: every survivor "
               "marked it dead: p50 %llu ms, max %llu ms\n",
               fast ? "fast-path" : "silent",
               (unsigned long long)(seed + k), victim,
               (unsigned long long)p50, (unsigned long long)max);
        sim_free(sim);
    }
    qsort(all, nall, sizeof(all[0]), cmp_u64);
    printf("  report: %s detection N=50 lan over %u kills: median of p50 "
           "%llu ms, worst max %llu ms (bounds %llu / %llu)\n",
           fast ? "fast-path" : "silent", kills,
           (unsigned long long)all[nall / 2], (unsigned long long)worst,
           (unsigned long long)bound_p50, (unsigned long long)bound_max);
    if (all[nall / 2] > bound_p50)
        NT_FAIL("median detection %llu ms > %llu ms (seed %llu..)",
                (unsigned long long)all[nall / 2],
                (unsigned long long)bound_p50, (unsigned long long)seed);
}

static void
test_kill_fast_path_50(void)
{
    /* Target: median <= 1 s at every survivor (issue 4). */
    kill_and_detect(true, 5, 1000, 2000);
}

static void
test_kill_silent_50(void)
{
    /* Expected for N=50 lan: ~1 s until probed + 1 s probe round +
     * suspicion min 4 * log10(50) * 1 s = 6.8 s once 2 confirmations
     * arrive (max 6x with a lone suspector) + gossip: ~9-10 s. */
    kill_and_detect(false, 5, 12 * SEC, 20 * SEC);
}

/* A node killed before it ever talked to most peers: only a few have a
 * connection to lose; the rest learn by gossip. */
static void
test_kill_fresh_cluster_fast(void)
{
    uint64_t seed = sim_seed_from_env(303);
    struct swim_config c = lan();
    struct sim *sim = cluster(50, seed, &c);
    unsigned victim = 17;
    struct watch w;
    watch_start(sim, &w, victim, SWIM_DEAD);
    sim_kill(sim, victim);
    struct see_ctx sc = {victim, SWIM_DEAD};
    SIM_OK(sim, sim_step_until(sim, pred_all_see, &sc, sim->now + 20 * SEC));
    uint64_t p50, max;
    watch_stats(sim, &w, &p50, &max);
    printf("  report: fresh-cluster kill: p50 %llu ms, max %llu ms\n",
           (unsigned long long)p50, (unsigned long long)max);
    SIM_OK(sim, sim->false_dead == 0);
    sim_free(sim);
}

/* The detection figures swim.h documents (its file comment; keep the two
 * in step): per profile and cluster size, the median time until a
 * survivor marks a killed node dead, fast path and silent, with the worst
 * case where swim.h gives one, and the median time until every survivor
 * suspects a silent (frozen) node. 0 = not documented. */
static const struct documented {
    const char *profile;
    unsigned n;
    double fast, silent, silent_max, frozen;
} documented[] = {
    {"lan", 5, 0.41, 7.1, 10.2, 2.3},   {"lan", 50, 0.41, 10.1, 14.1, 0},
    {"wan", 5, 2.4, 41, 0, 7.8},        {"wan", 50, 2.4, 60, 67, 0},
    {"local", 5, 0.17, 4.0, 0, 1.7},    {"local", 50, 0.17, 6.2, 0, 0},
};

/* check_figure fails unless a measured figure (ms) is within 20 % of the
 * documented one (s): these runs are seeded, so the figures only move
 * when the protocol does, and then swim.h must move with them. */
static void
check_figure(const char *what, const struct documented *d, uint64_t ms,
             double doc)
{
    if (doc == 0)
        return;
    double got = (double)ms / 1000.0;
    if (got > doc * 1.2 || got < doc * 0.8)
        NT_FAIL("profile %s N=%u %s: measured %.2f s, swim.h documents "
                "%.2f s (more than 20 %% apart: update swim.h or fix the "
                "protocol)",
                d->profile, d->n, what, got, doc);
}

/* frozen_figure: a silent node (frozen host) until every survivor
 * suspects it, median over 100 kills: one survivor's probe has to come
 * round to it first, so single runs spread from under 1 s to several. */
static void
frozen_figure(const struct documented *d, uint64_t seed)
{
    uint64_t v[100];
    size_t nv = 0;
    for (uint64_t r = 0; r < 100; r++) {
        struct swim_config c;
        swim_config_profile(&c, d->profile);
        struct sim *sim = cluster(d->n, seed + 1000 + r, &c);
        sim->fast_kill = false;
        SIM_OK(sim, sim_run_until(sim, sim->now + 60 * SEC));
        unsigned victim = 1 + (unsigned)(sim_rand(sim) % (d->n - 1));
        struct watch w;
        watch_start(sim, &w, victim, SWIM_SUSPECT);
        sim_kill(sim, victim);
        struct see_ctx sc = {victim, SWIM_ALIVE};
        SIM_OK(sim, sim_step_until(sim, pred_none_alive, &sc,
                                   sim->now + 300 * SEC));
        uint64_t last = 0;
        for (unsigned o = 0; o < sim->n; o++)
            if (o != victim && w.sus[o] - w.since > last)
                last = w.sus[o] - w.since;
        v[nv++] = last;
        sim_free(sim);
    }
    qsort(v, nv, sizeof(v[0]), cmp_u64);
    printf("  report: profile %-5s N=%-2u frozen node suspected by every "
           "survivor: p50 %6llu ms, p90 %6llu ms, max %6llu ms (100 "
           "kills)\n",
           d->profile, d->n, (unsigned long long)v[nv / 2],
           (unsigned long long)v[nv * 9 / 10], (unsigned long long)v[nv - 1]);
    check_figure("frozen node suspected by every survivor", d, v[nv / 2],
                 d->frozen);
}

/* Detection time by profile and cluster size (the figures swim.h
 * documents, checked against them): kill one node after a warm-up,
 * median over survivors and NAOS_SIM_TABLE_KILLS seeds (default 10) of
 * the time until a survivor marks it dead (fewer seeds make the silent
 * figures swing by seconds: they hinge on when the victim's turn in the
 * probe order comes), and for the silent kill, the median over kills of
 * the time until every survivor suspects it (a frozen node). */
static void
test_profile_detection_table(void)
{
    uint64_t seed = sim_seed_from_env(3030);
    const char *e = getenv("NAOS_SIM_TABLE_KILLS");
    uint64_t kills = e && *e ? strtoull(e, NULL, 10) : 10;
    if (kills < 1 || kills > 10)
        kills = 10; /* all[] holds 10 kills of N=50 */
    size_t ndoc = sizeof(documented) / sizeof(documented[0]);
    for (size_t p = 0; p < ndoc; p++) {
        const struct documented *d = &documented[p];
        for (int fast = 1; fast >= 0; fast--) {
            uint64_t all[512];
            size_t nall = 0;
            for (uint64_t r = 0; r < kills; r++) {
                struct swim_config c;
                swim_config_profile(&c, d->profile);
                struct sim *sim = cluster(d->n, seed + r, &c);
                sim->fast_kill = fast;
                SIM_OK(sim, sim_run_until(sim, sim->now + 120 * SEC));
                unsigned victim = 1 + (unsigned)(sim_rand(sim) % (d->n - 1));
                struct watch w;
                watch_start(sim, &w, victim, SWIM_DEAD);
                sim_kill(sim, victim);
                struct see_ctx sc = {victim, SWIM_DEAD};
                SIM_OK(sim, sim_step_until(sim, pred_all_see, &sc,
                                           sim->now + 300 * SEC));
                SIM_OK(sim, sim->false_dead == 0);
                for (unsigned o = 0; o < sim->n; o++)
                    if (o != victim && nall < 512)
                        all[nall++] = w.at[o] - w.since;
                sim_free(sim);
            }
            qsort(all, nall, sizeof(all[0]), cmp_u64);
            printf("  report: profile %-5s N=%-2u %-6s detection: p50 "
                   "%6llu ms, max %6llu ms\n",
                   d->profile, d->n, fast ? "fast" : "silent",
                   (unsigned long long)all[nall / 2],
                   (unsigned long long)all[nall - 1]);
            if (fast) {
                check_figure("fast-path detection", d, all[nall / 2],
                             d->fast);
            } else {
                check_figure("silent detection", d, all[nall / 2],
                             d->silent);
                check_figure("silent detection, worst", d, all[nall - 1],
                             d->silent_max);
            }
        }
        if (d->frozen)
            frozen_figure(d, seed);
    }
}

/* ---- false positives -------------------------------------------------- */

/* loss_run: the no-false-positive scenario (50 lan nodes, 5 % loss, 1-20
 * ms links with 2 % reordered by up to 100 ms, 10 simulated minutes) with
 * seed. Returns how many times a running node was declared dead (*first:
 * when it first happened); an invariant failure fails the case. */
static uint64_t
loss_run(uint64_t seed, naos_time *first, uint64_t *suspicions)
{
    struct swim_config c = lan();
    struct sim *sim = cluster(50, seed, &c);
    sim->net.loss = 0.05;
    sim->net.delay_min = 1;
    sim->net.delay_max = 20;
    sim->net.reorder = 0.02;
    sim->net.reorder_max = 100;
    naos_time end = sim->now + 600 * SEC;
    SIM_OK(sim, sim_run_until(sim, end));
    /* Suspicions come and go under loss; every one is refuted, so the
     * views agree again soon (not necessarily at this very instant). */
    if (sim->false_dead == 0)
        SIM_OK(sim, sim_step_until(sim, pred_converged, NULL,
                                   sim->now + 60 * SEC));
    uint64_t fd = sim->false_dead;
    *first = sim->first_false_dead;
    if (suspicions)
        *suspicions = sim->suspicions_of_live;
    sim_free(sim);
    return fd;
}

static void
test_no_false_positive_5pct_loss(void)
{
    uint64_t seed = sim_seed_from_env(404);
    naos_time first;
    uint64_t sus;
    if (loss_run(seed, &first, &sus))
        NT_FAIL("seed=%llu: a live node was declared dead at t=%llu",
                (unsigned long long)seed, (unsigned long long)first);
    printf("  report: 50 nodes, 5%% loss, 10 simulated minutes: 0 false "
           "dead, %llu transient suspicions (all refuted)\n",
           (unsigned long long)sus);
}

/* A CPU-starved node (every message it receives waits 1-3 s before it is
 * processed; its timers fire on time) must not get healthy nodes declared
 * dead. Lifeguard's LHM (missing nacks, refutations) makes it stretch its
 * own probe period and timeout instead of accusing its peers; without
 * Lifeguard it suspects nearly every peer it probes. */
static uint64_t
slow_run(bool lifeguard, uint64_t seed, uint64_t *false_dead,
         uint64_t *lhm_max)
{
    struct swim_config c = lan();
    c.lifeguard = lifeguard;
    struct sim *sim = cluster(20, seed, &c);
    unsigned slow = 5;
    sim_set_slow_proc(sim, slow, 1000, 3000);
    uint64_t sus = 0;
    *lhm_max = 0;
    naos_time end = sim->now + 300 * SEC;
    uint64_t before = swim_stats_get(sim->nodes[slow].s)->suspicions;
    while (sim->now < end) {
        SIM_OK(sim, sim_run_until(sim, sim->now + 500));
        unsigned l = swim_lhm(sim->nodes[slow].s);
        if (l > *lhm_max)
            *lhm_max = l;
    }
    sus = swim_stats_get(sim->nodes[slow].s)->suspicions - before;
    *false_dead = sim->false_dead;
    sim_free(sim);
    return sus;
}

static void
test_slow_node_lifeguard(void)
{
    uint64_t seed = sim_seed_from_env(505);
    uint64_t fd_on, fd_off, lhm_on, lhm_off;
    uint64_t sus_on = slow_run(true, seed, &fd_on, &lhm_on);
    uint64_t sus_off = slow_run(false, seed, &fd_off, &lhm_off);
    printf("  report: slow node, 20 nodes, 300 s: Lifeguard on: %llu "
           "suspicions raised by the slow node, %llu false dead, max LHM "
           "%llu; off: %llu suspicions, %llu false dead\n",
           (unsigned long long)sus_on, (unsigned long long)fd_on,
           (unsigned long long)lhm_on, (unsigned long long)sus_off,
           (unsigned long long)fd_off);
    if (fd_on != 0)
        NT_FAIL("seed=%llu: %llu false dead with Lifeguard",
                (unsigned long long)seed, (unsigned long long)fd_on);
    if (sus_on >= sus_off)
        NT_FAIL("seed=%llu: Lifeguard did not reduce suspicions (%llu vs "
                "%llu)",
                (unsigned long long)seed, (unsigned long long)sus_on,
                (unsigned long long)sus_off);
    NT_TRUE(lhm_on > 0);
}

/* The seed sweep: seeds NAOS_SIM_SWEEP_FROM..NAOS_SIM_SWEEP_TO (default
 * 1..1000) of both false-positive scenarios above, the loss scenario and
 * the slow node with Lifeguard on, each unchanged. Fails naming every
 * seed that declared a live node dead (replay one with NAOS_SIM_SEED=n
 * NT_ONLY=test_no_false_positive_5pct_loss or test_slow_node_lifeguard).
 * Every seed always runs: the ctest timeout is sized for the build, it
 * never trims the range. */
static void
test_seed_sweep(void)
{
    const char *e = getenv("NAOS_SIM_SWEEP_FROM");
    uint64_t from = e && *e ? strtoull(e, NULL, 10) : 1;
    e = getenv("NAOS_SIM_SWEEP_TO");
    uint64_t to = e && *e ? strtoull(e, NULL, 10) : 1000;
    NT_TRUE(from >= 1 && from <= to);
    char bad_loss[4096] = "", bad_slow[4096] = "";
    size_t nloss = 0, nslow = 0;
    for (uint64_t seed = from; seed <= to; seed++) {
        naos_time first;
        uint64_t fd = loss_run(seed, &first, NULL);
        if (fd) {
            size_t l = strlen(bad_loss);
            snprintf(bad_loss + l, sizeof(bad_loss) - l, " %llu(t=%llu)",
                     (unsigned long long)seed, (unsigned long long)first);
            nloss++;
        }
        uint64_t lhm;
        slow_run(true, seed, &fd, &lhm);
        if (fd) {
            size_t l = strlen(bad_slow);
            snprintf(bad_slow + l, sizeof(bad_slow) - l, " %llu",
                     (unsigned long long)seed);
            nslow++;
        }
    }
    printf("  report: seed sweep %llu..%llu: 5%% loss: %zu seeds declared a "
           "live node dead; slow node: %zu\n",
           (unsigned long long)from, (unsigned long long)to, nloss, nslow);
    if (nloss || nslow)
        NT_FAIL("live nodes declared dead: 5%% loss seeds:%s; slow node "
                "seeds:%s",
                nloss ? bad_loss : " none", nslow ? bad_slow : " none");
}

/* ---- dissemination ---------------------------------------------------- */

struct health_ctx {
    unsigned origin;
    uint64_t ver;
};

static bool
pred_health(struct sim *sim, void *ctx)
{
    struct health_ctx *h = ctx;
    for (unsigned o = 0; o < sim->n; o++) {
        if (o == h->origin || !sim_is_up(sim, o))
            continue;
        const struct swim_member *m = sim_view(sim, o, h->origin);
        if (m == NULL || m->health_ver < h->ver)
            return false;
    }
    return true;
}

static unsigned
dissemination_rounds(unsigned n, naos_duration gossip_interval,
                     uint64_t seed)
{
    struct swim_config c = lan();
    c.gossip_interval = gossip_interval;
    struct sim *sim = cluster(n, seed, &c);
    SIM_OK(sim, sim_run_until(sim, sim->now + 40 * SEC));
    unsigned origin = n / 3;
    const char blob[] = "{\"agents\":{\"running\":12,\"failed\":1}}";
    naos_time t0 = sim->now;
    sim_set_health(sim, origin, blob, sizeof(blob), false);
    struct health_ctx h = {origin,
                           swim_self(sim->nodes[origin].s)->health_ver};
    SIM_OK(sim, sim_step_until(sim, pred_health, &h, t0 + 60 * SEC));
    naos_duration t = (naos_duration)(sim->now - t0);
    unsigned rounds =
        (unsigned)((t + c.probe_interval - 1) / c.probe_interval);
    sim_free(sim);
    return rounds ? rounds : 1;
}

static void
test_dissemination_log_rounds(void)
{
    uint64_t seed = sim_seed_from_env(606);
    static const unsigned ns[] = {10, 25, 50, 100};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        unsigned n = ns[i];
        double lg = log2((double)n);
        /* Piggyback on probes only (pure SWIM): c = 2. */
        unsigned worst_pig = 0, worst_gos = 0;
        for (uint64_t k = 0; k < 3; k++) {
            unsigned r = dissemination_rounds(n, 0, seed + k);
            if (r > worst_pig)
                worst_pig = r;
            r = dissemination_rounds(n, 200, seed + k);
            if (r > worst_gos)
                worst_gos = r;
        }
        unsigned bound_pig = (unsigned)ceil(2.0 * lg);
        unsigned bound_gos = (unsigned)ceil(1.0 * lg);
        printf("  report: health update to all %u nodes: piggyback-only "
               "%u rounds (bound ceil(2 log2 N) = %u), with gossip %u "
               "rounds (bound ceil(log2 N) = %u); round = 1 probe "
               "interval\n",
               n, worst_pig, bound_pig, worst_gos, bound_gos);
        if (worst_pig > bound_pig || worst_gos > bound_gos)
            NT_FAIL("seed=%llu N=%u: dissemination too slow",
                    (unsigned long long)seed, n);
    }
}

/* ---- partitions ------------------------------------------------------- */

static bool
pred_split_dead(struct sim *sim, void *ctx)
{
    unsigned cut = *(unsigned *)ctx; /* nodes < cut vs >= cut */
    for (unsigned o = 0; o < sim->n; o++)
        for (unsigned s = 0; s < sim->n; s++) {
            if ((o < cut) == (s < cut))
                continue;
            const struct swim_member *m = sim_view(sim, o, s);
            if (m == NULL || m->state != SWIM_DEAD)
                return false;
        }
    return true;
}

static void
test_partition_30_20_heal(void)
{
    uint64_t seed = sim_seed_from_env(707);
    struct swim_config c = lan();
    struct sim *sim = cluster(50, seed, &c);
    sim->net.loss = 0.01;
    SIM_OK(sim, sim_run_until(sim, sim->now + 30 * SEC));
    unsigned side[30];
    for (unsigned i = 0; i < 30; i++)
        side[i] = i;
    naos_time t0 = sim->now;
    sim_partition(sim, side, 30);
    unsigned cut = 30;
    if (!sim_step_until(sim, pred_split_dead, &cut, t0 + 90 * SEC)) {
        for (unsigned o = 0; o < sim->n; o++)
            for (unsigned s = 0; s < sim->n; s++) {
                if ((o < cut) == (s < cut))
                    continue;
                const struct swim_member *m = sim_view(sim, o, s);
                if (m == NULL || m->state != SWIM_DEAD)
                    printf("  %u sees %u %s inc %llu\n", o, s,
                           m ? swim_state_name(m->state) : "none",
                           m ? (unsigned long long)m->incarnation : 0ull);
            }
        SIM_OK(sim, false);
    }
    printf("  report: 30/20 partition: each side marked the other dead "
           "after %llu ms\n",
           (unsigned long long)(sim->now - t0));
    /* Stay apart a while, then heal. */
    SIM_OK(sim, sim_run_until(sim, sim->now + 60 * SEC));
    naos_time t1 = sim->now;
    sim_heal(sim);
    SIM_OK(sim, sim_step_until(sim, pred_converged, NULL, t1 + 240 * SEC));
    printf("  report: healed: everyone alive again after %llu ms\n",
           (unsigned long long)(sim->now - t1));
    /* And they stay alive. */
    uint64_t fd = sim->false_dead;
    SIM_OK(sim, sim_run_until(sim, sim->now + 60 * SEC));
    SIM_OK(sim, sim_converged(sim));
    SIM_OK(sim, sim->false_dead == fd);
    sim_free(sim);
}

/* ---- leave and revive ------------------------------------------------- */

static bool
pred_leave_done(struct sim *sim, void *ctx)
{
    return swim_leave_done(sim->nodes[*(unsigned *)ctx].s);
}

static void
test_graceful_leave(void)
{
    uint64_t seed = sim_seed_from_env(808);
    struct swim_config c = lan();
    struct sim *sim = cluster(20, seed, &c);
    SIM_OK(sim, sim_run_until(sim, sim->now + 30 * SEC));
    unsigned who = 3;
    struct watch w;
    watch_start(sim, &w, who, SWIM_LEFT);
    sim_leave(sim, who);
    struct see_ctx sc = {who, SWIM_LEFT};
    SIM_OK(sim, sim_step_until(sim, pred_all_see, &sc, sim->now + 5 * SEC));
    uint64_t p50, max;
    watch_stats(sim, &w, &p50, &max);
    unsigned leaver = who;
    SIM_OK(sim, sim_step_until(sim, pred_leave_done, &leaver,
                               sim->now + 3 * SEC));
    /* The process exits: connections close. Still `left`, never dead. */
    sim_kill(sim, who);
    SIM_OK(sim, sim_run_until(sim, sim->now + 60 * SEC));
    SIM_OK(sim, sim_all_see(sim, who, SWIM_LEFT));
    if (w.wrong)
        NT_FAIL("seed=%llu: %u observers saw the leaver %s",
                (unsigned long long)seed, w.wrong,
                swim_state_name(w.wrong_state));
    printf("  report: graceful leave: all 19 peers show left: p50 %llu ms, "
           "max %llu ms\n",
           (unsigned long long)p50, (unsigned long long)max);
    sim_free(sim);
}

static void
test_revive_higher_incarnation(void)
{
    uint64_t seed = sim_seed_from_env(909);
    struct swim_config c = lan();
    struct sim *sim = cluster(20, seed, &c);
    SIM_OK(sim, sim_run_until(sim, sim->now + 30 * SEC));
    unsigned who = 4;
    uint64_t old = sim_view(sim, 0, who)->incarnation;
    sim_kill(sim, who);
    struct see_ctx sc = {who, SWIM_DEAD};
    SIM_OK(sim, sim_step_until(sim, pred_all_see, &sc, sim->now + 5 * SEC));
    unsigned seeds[] = {0, 1};
    naos_time t0 = sim->now;
    sim_revive(sim, who, seeds, 2);
    uint64_t now_inc = swim_self(sim->nodes[who].s)->incarnation;
    NT_TRUE(now_inc > old);
    sc.st = SWIM_ALIVE;
    SIM_OK(sim, sim_step_until(sim, pred_all_see, &sc, t0 + 10 * SEC));
    for (unsigned o = 0; o < sim->n; o++)
        if (o != who)
            NT_TRUE(sim_view(sim, o, who)->incarnation > old);
    SIM_OK(sim, sim_step_until(sim, pred_converged, NULL, t0 + 30 * SEC));
    printf("  report: revived node rejoined with incarnation %llu > %llu "
           "in %llu ms\n",
           (unsigned long long)now_inc, (unsigned long long)old,
           (unsigned long long)(sim->now - t0));
    /* A quick restart (before anyone declared it dead) also works. */
    sim_kill(sim, who);
    SIM_OK(sim, sim_run_until(sim, sim->now + 100));
    sim_revive(sim, who, seeds, 2);
    SIM_OK(sim, sim_step_until(sim, pred_converged, NULL, sim->now + 30 * SEC));
    sim_free(sim);
}

/* ---- join ------------------------------------------------------------- */

static void
test_join_retries_with_backoff(void)
{
    uint64_t seed = sim_seed_from_env(1010);
    struct swim_config c = lan();
    struct sim *sim = sim_new(3, seed, &c);
    unsigned seeds[] = {0};
    sim_start_node(sim, 1, seeds, 1); /* node 0 is not up yet */
    SIM_OK(sim, sim_run_until(sim, 20 * SEC));
    unsigned a = sim->nodes[1].join_attempts;
    /* 1, 2, 4, 8 s (+ up to 25 % jitter): 4 or 5 attempts in 20 s. */
    if (a < 4 || a > 5)
        NT_FAIL("seed=%llu: %u join attempts in 20 s", (unsigned long long)seed,
                a);
    NT_FALSE(swim_is_joined(sim->nodes[1].s));
    sim_start_node(sim, 0, NULL, 0);
    SIM_OK(sim, sim_step_until(sim, pred_converged, NULL, 60 * SEC));
    NT_TRUE(swim_is_joined(sim->nodes[1].s));
    /* Several seeds, one dead: joins through the other at once. */
    unsigned seeds2[] = {2, 0};
    sim_start_node(sim, 2, NULL, 0);
    sim_kill(sim, 2);
    struct sim_node *n2 = &sim->nodes[2];
    (void)n2;
    sim_revive(sim, 2, seeds2 + 1, 1);
    SIM_OK(sim, sim_step_until(sim, pred_converged, NULL, sim->now + 10 * SEC));
    printf("  report: join retried %u times while no seed answered, then "
           "joined\n",
           a);
    sim_free(sim);
}

/* ---- traffic ---------------------------------------------------------- */

/* run_with_load_drift runs sim for span while every node's health drifts
 * the way a load figure does: a quiet change every 30 s per node (phases
 * spread), as node_members.c makes when the load moves. */
static bool
run_with_load_drift(struct sim *sim, naos_duration span)
{
    naos_time end = sim->now + (naos_time)span;
    for (unsigned sec = 0; sim->now < end; sec++) {
        for (unsigned i = 0; i < sim->n; i++) {
            if ((sec + i * 7) % 30 != 0)
                continue;
            uint8_t blob[12];
            for (size_t k = 0; k < sizeof(blob); k++)
                blob[k] = (uint8_t)sim_rand(sim);
            sim_set_health(sim, i, blob, sizeof(blob), true);
        }
        if (!sim_run_until(sim, sim->now + SEC))
            return false;
    }
    return true;
}

/* Idle traffic per node must stay under Serf's and must not grow with N:
 * health drifting on every node and the periodic syncs are the costs that
 * could (each node's drift relayed by all, a digest per member). */
static void
test_idle_bytes(void)
{
    uint64_t seed = sim_seed_from_env(1111);
    static const unsigned ns[] = {5, 20, 50};
    double sealed[3];
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        struct swim_config c = lan();
        struct sim *sim = cluster(ns[i], seed, &c);
        uint8_t blob[12] = {1};
        for (unsigned k = 0; k < ns[i]; k++)
            sim_set_health(sim, k, blob, sizeof(blob), false);
        /* Settle: the join's gossip and first syncs. */
        SIM_OK(sim, sim_run_until(sim, sim->now + 120 * SEC));
        uint64_t b0, m0, b1, m1;
        sim_traffic(sim, &b0, &m0);
        naos_duration span = 600 * SEC;
        SIM_OK(sim, run_with_load_drift(sim, span));
        sim_traffic(sim, &b1, &m1);
        double secs = (double)span / 1000.0;
        double pay = (double)(b1 - b0) / ns[i] / secs;
        double msgs = (double)(m1 - m0) / ns[i] / secs;
        sealed[i] = pay + msgs * SIM_ENVELOPE_BYTES;
        double wire = sealed[i] + msgs * SIM_TCP_BYTES;
        printf("  report: idle N=%u lan, load drifting: %.2f msg/s, payload "
               "%.1f B/s, sealed (+%d B envelope each) %.1f B/s, on TCP "
               "(+%d B each) %.1f B/s per node (Serf: 220-280 B/s)\n",
               ns[i], msgs, pay, SIM_ENVELOPE_BYTES, sealed[i],
               SIM_TCP_BYTES, wire);
        if (wire > 280.0)
            NT_FAIL("seed=%llu N=%u: idle %.1f B/s per node > 280",
                    (unsigned long long)seed, ns[i], wire);
        sim_free(sim);
    }
    /* What may grow: each quiet change reaches every peer once, riding on
     * messages sent anyway, so at most ~one health update (~25 B) per
     * message, ~1 message/s. Relaying it, or digests of every member,
     * would grow with N without that bound. */
    if (sealed[2] > sealed[0] + 30.0)
        NT_FAIL("seed=%llu: idle bytes per node grow with N: %.1f B/s at "
                "N=5, %.1f at N=50", (unsigned long long)seed, sealed[0],
                sealed[2]);
}

/* ---- randomized runs -------------------------------------------------- */

static void
dump_views(struct sim *sim)
{
    for (unsigned o = 0; o < sim->n; o++) {
        struct sim_node *nd = &sim->nodes[o];
        fprintf(stderr, "  node %u %s%s inc %llu lhm %u joined %d:", o,
                nd->running ? "up" : "down", nd->left ? " left" : "",
                nd->s ? (unsigned long long)swim_self(nd->s)->incarnation
                      : 0ull,
                nd->s ? swim_lhm(nd->s) : 0, nd->s ? swim_is_joined(nd->s) : 0);
        for (unsigned s = 0; nd->running && s < sim->n; s++) {
            const struct swim_member *m = sim_view(sim, o, s);
            if (s != o)
                fprintf(stderr, " %u:%c%llu", s,
                        m ? swim_state_name(m->state)[0] : '-',
                        m ? (unsigned long long)m->incarnation : 0ull);
        }
        fprintf(stderr, "\n");
    }
}

static void
random_run(uint64_t seed)
{
    struct swim_config c;
    uint64_t r = seed * 0x9E3779B97F4A7C15ull;
    r ^= r >> 29;
    r *= 0xBF58476D1CE4E5B9ull;
    r ^= r >> 32;
    swim_config_profile(&c, (r & 3) == 0 ? "local" : "lan");
    c.lifeguard = (r >> 2) & 1 ? true : (r >> 3) & 1;
    c.reap_timeout = ((r >> 4) & 1) ? 20 * SEC : 3600 * SEC;
    c.push_pull_interval = ((r >> 5) & 1) ? 5 * SEC : 30 * SEC;
    unsigned n = 3 + (unsigned)((r >> 8) % 8);
    struct sim *sim = sim_new(n, seed, &c);
    sim->net.loss = (double)((r >> 16) % 15) / 100.0;
    sim->net.dup = (double)((r >> 24) % 5) / 100.0;
    sim->net.delay_min = 1;
    sim->net.delay_max = 1 + (naos_duration)((r >> 32) % 50);
    sim->net.reorder = 0.05;
    sim->net.reorder_max = 300;
    sim->fast_kill = (r >> 40) & 1;
    sim_start_cluster(sim, 10 * SEC);
    naos_time end = sim->now + 60 * SEC;
    while (sim->now < end && !sim->failure[0]) {
        unsigned who = (unsigned)(sim_rand(sim) % n);
        switch (sim_rand(sim) % 10) {
        case 0:
            sim->fast_kill = sim_rand(sim) & 1;
            sim_kill(sim, who);
            break;
        case 1:
        case 2: {
            unsigned s[2];
            for (int j = 0; j < 2; j++)
                s[j] = (who + 1 + (unsigned)(sim_rand(sim) % (n - 1))) % n;
            sim_revive(sim, who, s, 2);
            break;
        }
        case 3: {
            unsigned side[16], k = 0;
            for (unsigned i = 0; i < n; i++)
                if (sim_rand(sim) & 1)
                    side[k++] = i;
            sim_partition(sim, side, k);
            break;
        }
        case 4:
            sim_heal(sim);
            break;
        case 5:
            sim_cut(sim, who, (unsigned)(sim_rand(sim) % n), true);
            break;
        case 6:
            if (sim_rand(sim) % 4 == 0)
                sim_leave(sim, who);
            break;
        case 7: {
            uint8_t blob[40];
            for (size_t i = 0; i < sizeof(blob); i++)
                blob[i] = (uint8_t)sim_rand(sim);
            sim_set_health(sim, who, blob, sim_rand(sim) % sizeof(blob),
                           sim_rand(sim) % 2);
            break;
        }
        case 8:
            if (sim_rand(sim) % 4 == 0)
                sim_set_slow(sim, who, 100, 800, 100, 1200);
            else if (sim_rand(sim) % 3 == 0)
                sim_set_slow_proc(sim, who, 0, 1500);
            break;
        default:
            break;
        }
        sim_run_until(sim, sim->now + (naos_time)(sim_rand(sim) % (8 * SEC)));
    }
    /* Heal everything and check the cluster comes back together. */
    sim_heal(sim);
    sim->net.loss = 0;
    sim->net.dup = 0;
    for (unsigned i = 0; i < n; i++) {
        sim->nodes[i].slow = false;
        sim_set_slow_proc(sim, i, 0, 0);
    }
    /* A node whose seeds all stayed down never joined: give it every up
     * node as a seed, as an operator would. */
    for (unsigned i = 0; i < n; i++) {
        struct sim_node *nd = &sim->nodes[i];
        if (!sim_is_up(sim, i) || swim_is_joined(nd->s))
            continue;
        const char *addrs[16];
        size_t k = 0;
        for (unsigned j = 0; j < n; j++)
            if (j != i && sim_is_up(sim, j))
                addrs[k++] = sim->nodes[j].addr;
        if (k)
            swim_join(nd->s, addrs, k, sim->now);
        nd->deadline = swim_next_deadline(nd->s);
    }
    /* With members kept long enough to reconnect to, the survivors come
     * back together by themselves (push-pull, reconnect, refutation). */
    bool ok = true;
    if (c.reap_timeout > 300 * SEC)
        ok = sim_step_until(sim, pred_converged, NULL, sim->now + 300 * SEC);
    else
        sim_run_until(sim, sim->now + 2 * SEC);
    if (sim->failure[0])
        NT_FAIL("invariant: %s (replay: NAOS_SIM_SEED=%llu)", sim->failure,
                (unsigned long long)seed);
    if (!ok) {
        dump_views(sim);
        NT_FAIL("seed=%llu: no convergence 300 s after healing (replay: "
                "NAOS_SIM_SEED=%llu)",
                (unsigned long long)seed, (unsigned long long)seed);
    }
    sim_free(sim);
}

static void
random_runs(uint64_t base, unsigned count)
{
    const char *e = getenv("NAOS_SIM_RUNS");
    if (e && *e)
        count = (unsigned)strtoul(e, NULL, 10);
    uint64_t one = sim_seed_from_env(0);
    if (one) {
        random_run(one);
        return;
    }
    for (unsigned i = 0; i < count; i++)
        random_run(base + i);
    printf("  report: %u seeded random runs (seeds %llu..%llu) kept every "
           "invariant\n",
           count, (unsigned long long)base,
           (unsigned long long)(base + count - 1));
}

static void
test_random_runs_a(void)
{
    random_runs(100000, 2500);
}

static void
test_random_runs_b(void)
{
    random_runs(200000, 2500);
}

static void
test_random_runs_c(void)
{
    random_runs(300000, 2500);
}

static void
test_random_runs_d(void)
{
    random_runs(400000, 2500);
}

/* ---- hostile input ---------------------------------------------------- */

static void
test_garbage_messages(void)
{
    uint64_t seed = sim_seed_from_env(1212);
    struct swim_config c = lan();
    struct sim *sim = cluster(5, seed, &c);
    sim->allow_foreign = true;
    static char longstr[400];
    memset(longstr, 'x', sizeof(longstr) - 1);
    static uint8_t blob[600];
    for (unsigned it = 0; it < 20000; it++) {
        struct swim_update ups[80];
        struct swim_id wants[8];
        unsigned to = (unsigned)(sim_rand(sim) % sim->n);
        struct sim_node *nd = &sim->nodes[to];
        if (!nd->running)
            continue;
        size_t nu = sim_rand(sim) % 80;
        for (size_t i = 0; i < nu; i++) {
            struct swim_update *u = &ups[i];
            memset(u, 0, sizeof(*u));
            u->kind = (enum swim_upd_kind)(sim_rand(sim) % 8);
            unsigned subj = (unsigned)(sim_rand(sim) % (sim->n + 2));
            u->id.v = subj < sim->n ? sim->nodes[subj].id.v : sim_rand(sim);
            u->incarnation = sim_rand(sim) % 4 ? sim_rand(sim) % 10
                                               : sim_rand(sim);
            u->from.v = sim_rand(sim) & 1 ? sim->nodes[0].id.v : 0;
            u->name = sim_rand(sim) % 3 ? "x" : longstr;
            u->addr = sim_rand(sim) % 3   ? "sim:99"
                      : sim_rand(sim) & 1 ? longstr
                                          : NULL;
            u->health_len = sim_rand(sim) % 300;
            u->health = sim_rand(sim) % 10 ? blob : NULL;
            u->health_inc = sim_rand(sim) % 5;
            u->health_ver = sim_rand(sim);
            u->full = sim_rand(sim) & 1;
        }
        for (size_t i = 0; i < 8; i++)
            wants[i].v = sim->nodes[sim_rand(sim) % sim->n].id.v;
        struct swim_msg m = {
            .type = (enum swim_msg_type)(sim_rand(sim) % 11),
            .from = sim->nodes[sim_rand(sim) % sim->n].id,
            .seq = (uint32_t)sim_rand(sim),
            .target = sim->nodes[sim_rand(sim) % sim->n].id,
            .target_addr = sim_rand(sim) % 4 ? "sim:1" : longstr,
            .updates = sim_rand(sim) % 20 ? ups : NULL,
            .nupdates = nu,
            .wants = sim_rand(sim) % 5 ? wants : NULL,
            .nwants = sim_rand(sim) % 9,
        };
        swim_on_message(nd->s, sim_rand(sim) % 3 ? NULL : longstr, &m,
                        sim->now);
        swim_on_conn_closed(nd->s, m.target, sim->now);
        nd->deadline = swim_next_deadline(nd->s);
        if (swim_self(nd->s)->state != SWIM_ALIVE)
            NT_FAIL("seed=%llu: garbage made node %u %s",
                    (unsigned long long)seed, to,
                    swim_state_name(swim_self(nd->s)->state));
        if (it % 50 == 0)
            SIM_OK(sim, sim_run_until(sim, sim->now + 100));
    }
    /* Garbage can legitimately raise incarnations (it is "authenticated"
     * here); the cluster must still work afterwards. */
    SIM_OK(sim,
           sim_step_until(sim, pred_converged, NULL, sim->now + 120 * SEC));
    sim_free(sim);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_kill_fast_path_50),
        NT_CASE(test_kill_silent_50),
        NT_CASE(test_kill_fresh_cluster_fast),
        NT_CASE(test_profile_detection_table),
        NT_CASE(test_no_false_positive_5pct_loss),
        NT_CASE(test_slow_node_lifeguard),
        NT_CASE(test_seed_sweep),
        NT_CASE(test_dissemination_log_rounds),
        NT_CASE(test_partition_30_20_heal),
        NT_CASE(test_graceful_leave),
        NT_CASE(test_revive_higher_incarnation),
        NT_CASE(test_join_retries_with_backoff),
        NT_CASE(test_idle_bytes),
        NT_CASE(test_random_runs_a),
        NT_CASE(test_random_runs_b),
        NT_CASE(test_random_runs_c),
        NT_CASE(test_random_runs_d),
        NT_CASE(test_garbage_messages),
        {0},
    };
    return nt_run(cases);
}
