/* SPDX-License-Identifier: Apache-2.0 */
/* sim.h: the deterministic in-process cluster for the SWIM core (STYLE
 * §18): N swim cores, a virtual clock, an event queue and an in-memory
 * network with per-link loss, delay, duplication, reordering, one-way and
 * two-way cuts, partitions and heals, kill (silent, or with the closed-
 * connection fast path) and revive (a restart with a higher incarnation
 * floor), plus "slow" nodes whose processing stalls (a CPU-starved host).
 *
 * Everything random comes from one seed: a run is replayed exactly by
 * giving the same seed. Invariants are checked on every member change and
 * after every call into a core; the first violation is kept in
 * sim->failure and makes sim_run_until return false:
 *   - a member's incarnation, as any observer sees it, never decreases;
 *   - a member never goes from dead/left back to alive or suspect without a
 *     higher incarnation;
 *   - a node never considers itself anything but alive unless it left;
 *   - a message other than a sync stays within the piggyback budget
 *     (count, and bytes plus 64 for its own fields).
 * Declaring a running node dead is not an invariant (partitions make it
 * right); it is counted in sim->false_dead for tests to assert on. */
#ifndef NAOS_CLUSTER_TESTS_SIM_H
#define NAOS_CLUSTER_TESTS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/swim/swim.h"

/* What the sealed envelope (node/auth/seal.h) adds to each payload, as
 * typically encoded: version, key_id, sender, counter, sent_at, nonce (24),
 * Sealed{type, payload} framing, AEAD tag (16), cluster_id. */
#define SIM_ENVELOPE_BYTES 84
/* What carrying one message costs on top of that over the node's TCP
 * connections: IPv4 + TCP headers with timestamps (52), NNG's 8-byte
 * length prefix, and the receiver's bare ACK (52; its socket never sends
 * data back on that connection). bench/gossip measures the real thing. */
#define SIM_TCP_BYTES 112

struct sim_net {
    double loss;                   /* drop probability per message */
    double dup;                    /* duplicate probability */
    naos_duration delay_min;       /* one-way delay, uniform in range */
    naos_duration delay_max;
    double reorder;                /* probability of an extra delay */
    naos_duration reorder_max;     /* extra delay, uniform up to this */
};

struct sim;

struct sim_node {
    unsigned idx;
    struct swim_id id;
    char addr[32];
    char name[32];
    struct swim *s;       /* NULL until started / after a kill */
    bool running;
    bool left;            /* called swim_leave */
    uint64_t inc_floor;   /* highest incarnation reported (persisted) */
    naos_time deadline;   /* cached swim_next_deadline */
    uint64_t rng;
    struct sim *sim;
    /* slow node: alternates running and stalled */
    bool slow;
    naos_duration run_min, run_max, stall_min, stall_max;
    naos_time stall_from, stall_until;
    /* slow receiver: each message waits proc_min..proc_max in a FIFO */
    naos_duration proc_min, proc_max;
    naos_time proc_last;
    /* traffic */
    uint64_t bytes_sent, msgs_sent; /* payload (swim_msg_wire_size) */
    unsigned join_attempts;
    naos_time joined_at;
    unsigned lives;       /* starts, including revivals */
};

/* sim_member_hook: called for every member change any core reports
 * (observer = index of the core that reports it). */
typedef void (*sim_member_hook)(void *ctx, struct sim *sim, unsigned observer,
                                const struct swim_member *m,
                                enum swim_change what);

struct sim {
    uint64_t seed;
    uint64_t rng;
    naos_time now;
    unsigned n;
    struct sim_node *nodes;
    struct swim_config cfg; /* template for every core */
    struct sim_net net;
    double *link_loss;      /* n*n extra loss a->b, 0 by default */
    uint8_t *cut;           /* n*n: messages a->b dropped */
    uint8_t *conn;          /* n*n: a "TCP connection" exists */
    bool fast_kill;         /* sim_kill emits conn-closed to peers */
    bool allow_foreign;     /* members with ids of no sim node are fine
                               (hostile-input tests inject them) */

    struct sim_event *heap;
    size_t nheap, capheap;
    uint64_t evseq;
    uint64_t events;

    sim_member_hook hook;
    void *hook_ctx;

    uint64_t *seen_inc;     /* n*n, observer x subject; UINT64_MAX unknown */
    uint8_t *seen_state;
    uint64_t false_dead;    /* running, non-left nodes declared dead */
    naos_time first_false_dead;
    uint64_t suspicions_of_live; /* suspect transitions about running nodes */
    char failure[512];      /* first invariant violation, "" if none */
};

/* sim_new builds n nodes (not started) with config template tmpl (identity
 * fields are filled per node) and seed. Returns NULL on failure. */
struct sim *sim_new(unsigned n, uint64_t seed, const struct swim_config *tmpl);
void sim_free(struct sim *sim);

/* sim_rand / sim_uniform: the sim's own seeded stream (for tests). */
uint64_t sim_rand(struct sim *sim);
double sim_uniform(struct sim *sim);

/* sim_start_node starts node i and, if nseeds > 0, joins it through the
 * given seed nodes. */
void sim_start_node(struct sim *sim, unsigned i, const unsigned *seeds,
                    size_t nseeds);
/* sim_start_cluster starts node 0, then every other node joining through
 * nodes 0 and 1, 20 ms apart, and runs until every node sees every other
 * alive (or deadline, relative to now). Returns true when converged. */
bool sim_start_cluster(struct sim *sim, naos_duration deadline);

/* sim_run_until advances to time t. False if an invariant broke. */
bool sim_run_until(struct sim *sim, naos_time t);
/* sim_step_until runs until pred holds (checked after every event) or
 * the absolute deadline; true if pred held. */
bool sim_step_until(struct sim *sim, bool (*pred)(struct sim *, void *),
                    void *ctx, naos_time deadline);

/* Faults. */
void sim_kill(struct sim *sim, unsigned i);     /* fast path per fast_kill */
void sim_revive(struct sim *sim, unsigned i, const unsigned *seeds,
                size_t nseeds);
void sim_leave(struct sim *sim, unsigned i);
void sim_cut(struct sim *sim, unsigned from, unsigned to, bool cut);
/* sim_partition cuts both ways between the nodes in side[0..nside) and
 * all others. */
void sim_partition(struct sim *sim, const unsigned *side, size_t nside);
void sim_heal(struct sim *sim);
void sim_set_slow(struct sim *sim, unsigned i, naos_duration run_min,
                  naos_duration run_max, naos_duration stall_min,
                  naos_duration stall_max);
/* sim_set_slow_proc delays every message node i receives by a random
 * min..max ms, in arrival order (a CPU-starved host whose receive path
 * lags); its timers still fire on time. max = 0 turns it off. */
void sim_set_slow_proc(struct sim *sim, unsigned i, naos_duration min,
                       naos_duration max);
/* sim_set_health: swim_set_health on node i (quiet: see swim.h). */
void sim_set_health(struct sim *sim, unsigned i, const void *blob,
                    size_t len, bool quiet);

/* Observation. */
const struct swim_member *sim_view(const struct sim *sim, unsigned observer,
                                   unsigned subject);
/* sim_is_up: running and not left. */
bool sim_is_up(const struct sim *sim, unsigned i);
/* sim_all_see: every up node other than subject sees it in state st. */
bool sim_all_see(const struct sim *sim, unsigned subject, enum swim_state st);
/* sim_converged: every up node sees every other up node alive. */
bool sim_converged(const struct sim *sim);
/* sim_traffic: total payload bytes and messages sent by all nodes (add
 * SIM_ENVELOPE_BYTES per message for the sealed size). */
void sim_traffic(const struct sim *sim, uint64_t *bytes, uint64_t *msgs);

/* sim_seed_from_env: NAOS_SIM_SEED if set, else dflt. */
uint64_t sim_seed_from_env(uint64_t dflt);

#endif
