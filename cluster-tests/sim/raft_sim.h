/* SPDX-License-Identifier: Apache-2.0 */
/* raft_sim.h: the deterministic in-process cluster for the Raft-lite core
 * (RAFT-LITE §6.4.1, STYLE §18): N raft cores (3 or 5 founding voters,
 * and spare nodes that may join: "Membership" below), a virtual clock,
 * an event queue, an in-memory network (loss, duplication, delay,
 * reordering, one-way and two-way cuts, partitions), a disk per node that
 * tells written from synced state, crashes (a process crash keeps what was
 * written; a power loss keeps only what was synced), restarts that rebuild
 * the core from its disk, and pauses (a stopped process: nothing is
 * handled, timers fire late).
 *
 * The driver loop per node is the one raft.h prescribes, with the fsync
 * made asynchronous: raft_ready -> write to the disk (unsynced) -> an
 * fsync taking 1..3 ms, during which the node handles nothing -> synced ->
 * messages leave -> committed entries applied (the applied state is
 * durable with its index, as the store will do it) -> raft_advance.
 *
 * Compaction and snapshots, as the node's driver does them: after a batch
 * a node may compact below raft_compact_point (keeping keep_entries /
 * keep_bytes applied entries for a voter that lags; past that it needs a
 * snapshot). A leader sends each peer raft_peers_behind lists a snapshot
 * of its applied state (here the (term, hash) of every applied entry)
 * through the simulated network like any message (lost, duplicated,
 * delayed, reordered, cut), at most one in flight per peer, re-sent every
 * snap_resend while the peer stays listed. The follower asks
 * raft_snapshot_offer; on INSTALL its state machine and disk are replaced
 * (log = the one entry (index, snap_term), compacted there, commit =
 * index) in one synced write of 2..10 ms during which it handles nothing
 * (a crash before it completes keeps nothing of it), then
 * raft_snapshot_installed. The chaos also offers snapshots to peers the
 * core does not list (a driver acting on a stale listing, a late copy):
 * the core must see the log already agrees and keep it.
 *
 * Everything random comes from one seed, so a run is replayed exactly by
 * its seed. Invariants are checked after every event; the first violation
 * is kept in sim->failure (with the seed and time) and stops the run:
 *   S1 at most one leader per term, over the whole run;
 *   S2 a leader's log only grows during its term;
 *   S3 log matching: an (index, term) pair always names the same entry
 *      with the same predecessor term (checked as entries are written);
 *   S4 every entry any node counts as committed is in the log of every
 *      leader of a later term (at its election and whenever a commit is
 *      recorded);
 *   S5 nodes apply the same entry at each index, each index exactly once
 *      and in order; everything applied was committed. A snapshot install
 *      applies indices applied+1..index at once: the snapshot's state must
 *      hold, at every index up to its own, exactly the entry the cluster
 *      committed there (and its last entry's term is snap_term); a node's
 *      applied index never goes back;
 *   S6 per node, the synced term never decreases, the synced vote changes
 *      within a term only from none, the commit index never decreases
 *      while up and is never beyond the log;
 *   S7 every vote granted, vote requested and append acknowledged is
 *      backed by synced state when it leaves, and a leader's commit index
 *      never exceeds its own synced log;
 *   S9 compaction (raft_compact_point with the run's budgets; it no
 *      longer waits for every voter: a voter that lags further is sent a
 *      snapshot) drops only applied entries and never the last applied
 *      one; a node's compacted base never goes back while up nor passes
 *      its applied index; a compacted entry is never truncated;
 *   S10 within the term it was acknowledged in, an entry a node
 *      acknowledged to the leader (APPEND_RESP match index) stays in its
 *      log (or in its applied state): the leader counted it towards a
 *      commit's majority;
 *   L6 no message storm: at most RSIM_STORM_MSGS messages within 100 ms
 *      (a livelock, even one a later fault happens to end);
 *   P6 a leader moves its commit index only to an entry of its own term
 *      held on the synced disks of a majority (Figure 8's rule, checked
 *      directly: random runs rarely reach the overwrite it prevents, the
 *      scripted test_figure8 in node/raft/raft_test.c does; with
 *      membership: of the voters of the leader's configuration).
 *
 * Membership (raft.h "Membership"): a cluster is built of nvoters
 * founding voters and spare nodes (rsim_new_spares). A spare is a joiner
 * as node_join.c opens it: its core starts with an empty log and the
 * founding voters, outside the configuration, so it never stands and
 * nobody sends it anything until a leader adds it. rsim_change calls
 * raft_change at the leader (ADD_LEARNER, PROMOTE, REMOVE; NAOS_EBUSY is
 * the caller's to retry). The state machine keeps the configuration of
 * the last CONFIG entry it applied, with its applied index (as
 * store_conf_set_txn does): a restart hands it to raft_restore.conf and a
 * snapshot carries it to raft_snapshot_installed (cmdraft.c's
 * stored_conf). A removed node keeps running (and standing, if it never
 * heard of its removal): ids are never reused. Random runs of some seeds
 * (rsim_random_run) add spares and propose changes among the faults.
 * The membership invariants, also after every event:
 *   M1 one change at a time: no log holds more than one CONFIG entry
 *      above the highest index committed anywhere;
 *   M2 the 2015 fix: a leader appends a CONFIG entry only once it has
 *      committed an entry of its own term (its no-op);
 *   M3 every configuration differs from the one before it by one server
 *      (one learner added, one learner promoted, or one member removed):
 *      each one a leader appends, against the one it had, and the
 *      sequence of committed ones;
 *   M4 only voters stand and only voters' votes elect: a node becomes
 *      (pre-)candidate or leader only while a voter of its own
 *      configuration, and an elected leader holds granted votes (as sent,
 *      S7) of a majority of its configuration's voters (a learner may
 *      grant a vote, thesis §4.1: servers answer requests without
 *      consulting their configuration; it is counted only where it is a
 *      voter; such grants are counted in votes_nonvoter);
 *   M5 a leader removed from the voters steps down once that removal is
 *      committed (at the event that commits it), and does not count
 *      itself (P6, S7 use its configuration's voters);
 *   M6 the configuration in effect is the log's last CONFIG entry (at
 *      raft_conf_index), or, with none in the log, the applied state's
 *      (the founding voters if it never applied one). */
#ifndef NAOS_CLUSTER_TESTS_RAFT_SIM_H
#define NAOS_CLUSTER_TESTS_RAFT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "node/raft/raft.h"

#define RSIM_MAX_NODES 9
/* L6: more messages than this within 100 ms of simulated time is a storm
 * (two nodes answering each other at once, forever) */
#define RSIM_STORM_MSGS 5000
/* The lease model's deployments (raft_sim_lease.c) */
#define RSIM_LEASE_DEPLOYS 4

struct rsim_net {
    double loss;               /* drop probability per message */
    double dup;                /* duplicate probability */
    naos_duration delay_min;   /* one-way delay, uniform in range */
    naos_duration delay_max;
    double reorder;            /* probability of an extra delay */
    naos_duration reorder_max; /* extra delay, uniform up to this */
};

/* struct rsim_disk: a node's log and hard state as stored. Entry data
 * owned (malloc). */
struct rsim_disk {
    struct raft_hard hard;
    struct raft_entry *ents;
    size_t n, cap;
    uint64_t first; /* entries below are compacted away (0, 1: none);
                       ents still holds them, for the checker's indexing */
};

struct rsim;
struct rsim_lease; /* the lease model (raft_sim_lease.c), NULL: off */
struct rsim_snap; /* a snapshot in flight or being installed (raft_sim.c) */

/* struct rsim_applied: one applied entry, as the state machine keeps it
 * (the sim's "state" is the sequence of these; a snapshot copies it). */
struct rsim_applied {
    uint64_t term, hash;
};

struct rsim_node {
    unsigned idx;
    struct raft_id id;
    struct raft *r;            /* NULL while down */
    bool up;
    bool busy;                 /* a batch is waiting for its fsync */
    naos_time busy_until;
    naos_time sync_at;         /* when the pending fsync event fires */
    naos_time pause_until;     /* paused while now < pause_until */
    unsigned life;             /* bumped by every crash */
    struct rsim_disk written;  /* what a process crash keeps */
    struct rsim_disk synced;   /* what a power loss keeps */
    struct raft_ready rd;      /* the batch being persisted */
    /* the state machine (durable with its index, as the store keeps
     * last_applied with the effects); S5 compares what it applies with
     * the committed record */
    uint64_t applied;
    uint64_t max_value;        /* highest client value applied */
    struct rsim_applied *sm;   /* sm[k-1]: the entry applied at index k */
    size_t smcap;
    /* the configuration as of `applied` (the last CONFIG entry applied,
     * or a snapshot's); has_conf false: none yet (the founding voters) */
    struct raft_conf conf;
    bool has_conf;
    /* the lease model's placements, part of the applied state: where
     * each deployment is placed and how often it moved (a move entry
     * names the placement it moves from: a stale one changes nothing) */
    uint8_t place[RSIM_LEASE_DEPLOYS];
    uint64_t place_epoch[RSIM_LEASE_DEPLOYS];
    struct rsim_snap *installing; /* a snapshot being written (busy) */
    /* as a leader's driver: when the snapshot in flight to each peer
     * left (0: none) and in which term */
    naos_time snap_at[RSIM_MAX_NODES];
    uint64_t snap_in[RSIM_MAX_NODES];
    uint64_t rng;
    /* checker state */
    uint64_t seen_commit;      /* highest commit seen in this life */
    uint64_t lead_term, lead_last, lead_last_term; /* S2 */
    uint64_t seen_base;        /* S9: the core's compacted base, this life */
    uint64_t ack_term, ack_index, ack_entry_term; /* S10 */
    uint64_t conf_seen_index;  /* M3: the configuration at the last check */
    struct raft_conf conf_seen;
    /* M6: the log as last checked (last entry, base) and its last
     * CONFIG entry (index, 0: none, and configuration) */
    uint64_t m6_last, m6_last_term, m6_first, m6_at;
    uint64_t m6_conf_index, m6_applied; /* ... and the core's index, the
                                           state's applied index */
    struct raft_conf m6_conf;
    unsigned restarts;
    uint64_t trace_term;       /* NAOS_SIM_TRACE: last printed term, role */
    int trace_role;
};

struct rsim {
    uint64_t seed;
    uint64_t rng;
    naos_time now;
    unsigned n;                /* nodes, founding voters and spares */
    unsigned nvoters;          /* founding voters: nodes 0..nvoters-1 */
    struct rsim_node nodes[RSIM_MAX_NODES];
    struct raft_id ids[RSIM_MAX_NODES];
    struct raft_config cfg;    /* template (id set per node) */
    struct rsim_net net;
    bool cut[RSIM_MAX_NODES][RSIM_MAX_NODES]; /* a -> b dropped */
    bool fast_close;           /* a crash closes its peers' connections */
    bool lying_fsync;          /* sync is a no-op (mutation check only) */

    struct rsim_event *heap;
    size_t nheap, capheap;
    uint64_t evseq;
    uint64_t events;

    /* client workload: a unique value every client_min..client_max ms to
     * whichever node leads (0: off) */
    naos_duration client_min, client_max;
    naos_time client_next;
    uint64_t next_value;
    uint64_t values_applied_everywhere_from; /* see rsim_progress */
    unsigned progress_quorum;  /* rsim_progress: nodes that must apply;
                                  0: every running node */

    /* checker */
    uint64_t *term_leader;     /* by term: id, 0 none */
    size_t term_cap;
    uint64_t *commit_term, *commit_hash; /* by index; term 0: unknown */
    /* the term in which the entry was committed: the lowest term of a
     * node seen counting it (its leader's, first); leader completeness
     * is owed to the leaders of later terms than this, not than the
     * entry's own term (a term-1 entry committed by the leader of term
     * 3 may be missing from a stale leader of term 2) */
    uint64_t *commit_in;
    size_t commit_cap;
    uint64_t commit_max;
    struct rsim_pair *pairs;   /* (index, term) -> entry, S3 */
    size_t npairs, cappairs;
    /* M4: votes[term * RSIM_MAX_NODES + i]: the node index + 1 that node
     * i granted its vote in term (as it left), 0 none */
    unsigned char *votes;
    size_t votes_cap;
    struct raft_conf founding; /* the founding voters' configuration */
    /* M3: the last committed configuration and its index (0: the
     * founding voters) */
    struct raft_conf conf_committed;
    uint64_t conf_committed_index;

    /* figures */
    uint64_t leader_changes;   /* new (term, leader) pairs */
    uint64_t max_term;
    uint64_t proposals, proposals_refused;
    /* ReadIndex: reads asked of every node that believes it leads (a
     * stale one too), confirmed and failed; each confirmed read index
     * must cover every entry committed before the read was asked */
    uint64_t reads_asked, reads_ok, reads_failed;
    /* compaction: after each finished batch, with this probability, from
     * its own stream (so the rest of a seed's run is unchanged) */
    double compact_rate;
    uint64_t compact_rng;
    size_t keep_entries, keep_bytes; /* raft_compact_point's budget */
    uint64_t compactions;
    uint64_t compactions_past; /* ... past a voter's synced log */
    /* snapshots: a transfer unanswered after snap_resend is sent again */
    naos_duration snap_resend;
    uint64_t snap_sent, snap_installs, snap_had, snap_refused;
    uint64_t msgs_sent, msgs_dropped;
    /* membership: changes asked, accepted, refused busy; CONFIG entries
     * committed; removed leaders that stepped down; votes granted by a
     * node that is no voter in its own configuration */
    uint64_t changes_asked, changes_ok, changes_busy, confs_committed;
    uint64_t removed_stepdowns, votes_nonvoter;
    bool retired[RSIM_MAX_NODES]; /* removal proposed: never re-added */
    /* leases (raft_sim_lease.c): the model, NULL when off; a lease
     * message stalls (a connection's backlog) with probability
     * lease_stall, for up to lease_stall_max more */
    struct rsim_lease *lease;
    double lease_stall;
    naos_duration lease_stall_max;
    uint64_t moves_applied;    /* placement moves that took effect */
    naos_time storm_from;      /* L6: the current 100 ms window */
    unsigned storm_msgs;       /* ... and the messages sent in it */
    char failure[512];         /* first violation, "" if none */
};

/* rsim_new builds n (1..RSIM_MAX_NODES) started nodes with ids 1..n, the
 * config template tmpl (identity and voters are filled in) and seed.
 * Returns NULL on failure. */
struct rsim *rsim_new(unsigned n, uint64_t seed,
                      const struct raft_config *tmpl);
void rsim_free(struct rsim *sim);
/* rsim_new_spares: nvoters founding voters (ids 1..nvoters) and nspares
 * joiners (the next ids), all started; a joiner's core opens with an empty
 * log and the founding voters, as node_join.c's does. */
struct rsim *rsim_new_spares(unsigned nvoters, unsigned nspares,
                             uint64_t seed, const struct raft_config *tmpl);

/* rsim_rand / rsim_uniform: the sim's seeded stream (for scenarios). */
uint64_t rsim_rand(struct rsim *sim);
double rsim_uniform(struct rsim *sim);

/* rsim_run_until advances to time t. False once an invariant broke. */
bool rsim_run_until(struct rsim *sim, naos_time t);
/* rsim_step_until runs until pred holds (checked after every event) or
 * the absolute deadline; true if pred held (and no invariant broke). */
bool rsim_step_until(struct rsim *sim, bool (*pred)(struct rsim *, void *),
                     void *ctx, naos_time deadline);

/* Faults. */
/* rsim_crash stops node i: power_loss drops what was written but not
 * synced. Peers see the connection close (fast_close). */
void rsim_crash(struct rsim *sim, unsigned i, bool power_loss);
/* rsim_restart rebuilds node i's core from its disk and applied state. */
void rsim_restart(struct rsim *sim, unsigned i);
/* rsim_pause stops node i until now + d (messages wait, timers late). */
void rsim_pause(struct rsim *sim, unsigned i, naos_duration d);
void rsim_cut(struct rsim *sim, unsigned from, unsigned to, bool cut);
/* rsim_partition cuts both ways between side[0..nside) and the rest. */
void rsim_partition(struct rsim *sim, const unsigned *side, size_t nside);
void rsim_heal(struct rsim *sim);
/* rsim_conn_closed tells node i its connection to node peer closed (a
 * flaky connection when peer is alive). */
void rsim_conn_closed(struct rsim *sim, unsigned i, unsigned peer);

/* rsim_send_snapshot: node i's driver sends node peer a snapshot of its
 * applied state now (as it does by itself for each peer the core lists
 * behind; this one need not be listed). Nothing if i does not lead or
 * cannot run. */
void rsim_send_snapshot(struct rsim *sim, unsigned i, unsigned peer);

/* rsim_change: the driver asks the running leader (rsim_leader) for one
 * change of node i (raft_change, between two of its batches, as raft.h
 * requires) and stores the CONFIG entry's index in *index (may be NULL).
 * Returns raft_change's code; NAOS_EBUSY also when no leader runs or it
 * is syncing a batch or paused: try again later. A REMOVE retires i for
 * good (ids are never reused). */
int rsim_change(struct rsim *sim, enum raft_change_kind kind, unsigned i,
                uint64_t *index);
/* rsim_is_member: node i is in the last committed configuration. */
bool rsim_is_member(const struct rsim *sim, unsigned i);

/* Observation. */
/* rsim_leader: the running leader of the highest term, or -1. */
int rsim_leader(const struct rsim *sim);
/* rsim_propose proposes a fresh unique value at node i; true if
 * accepted. */
bool rsim_propose(struct rsim *sim, unsigned i);
/* rsim_mark_progress starts a progress window: rsim_progress becomes true
 * once a value proposed after this call is applied on every running
 * member of the last committed configuration (or on progress_quorum
 * nodes, if set, and fewer run). */
void rsim_mark_progress(struct rsim *sim);
bool rsim_progress(struct rsim *sim, void *unused);

/* rsim_dump prints every node's role, term, log, commit and applied
 * index to f (debugging a failing seed). */
void rsim_dump(const struct rsim *sim, FILE *f);

/* rsim_seed_from_env: NAOS_SIM_SEED if set, else dflt. */
uint64_t rsim_seed_from_env(uint64_t dflt);

/* rsim_random_run: one seeded chaos run (the sweep's unit): n nodes,
 * chaos_ms of random faults (crashes with and without power loss,
 * restarts, partitions of the leader, a minority or around a bridge node,
 * one-way cuts, pauses, spurious closed connections, snapshots offered
 * to peers that are not behind) under random loss, duplication, delay
 * and reordering with a client workload, compaction keeping 4..16
 * applied entries (16..248 bytes) for a voter that lags, then the
 * network heals and every node restarts, and progress (a new value applied
 * on every member) must follow within 20 election timeouts. On 3 seeds in
 * 10 (by the seed alone, so the others run as they always did) two
 * spares are added (one in four of those seeds starts from a lone
 * founder instead, the other nodes spares, as it_raft_join grows a
 * cluster) and half of the faults are membership changes instead
 * (chaos_change: add a spare as a learner, promote, remove a voter
 * keeping 3, sometimes the leader, or a learner). Returns 0 on
 * success, 1 on an invariant violation, 2 on a liveness failure; the
 * reason goes to why (caller buffer + length). figures may be NULL. */
struct rsim_figures {
    uint64_t leader_changes, max_term, proposals, applied, events;
    uint64_t reads_ok, reads_failed; /* ReadIndex outcomes */
    uint64_t compactions;            /* S9-checked compactions */
    uint64_t compactions_past;       /* ... past a voter's synced log */
    uint64_t snap_sent, snap_installs, snap_had; /* snapshot transfers,
                                                    installs, offers the
                                                    log already held */
    uint64_t changes_ok, changes_busy, confs_committed; /* membership */
    uint64_t removed_stepdowns, votes_nonvoter;
    uint64_t membership;             /* 1: this seed changed members
                                        (in a sum: how many did) */
    naos_duration heal_to_progress;
};
int rsim_random_run(uint64_t seed, unsigned n, naos_duration chaos_ms,
                    bool lying_fsync, char *why, size_t whylen,
                    struct rsim_figures *figures);

/* ---- leases (raft_sim_lease.c) -------------------------------------------
 * rsim_lease_run: one seeded chaos run of the lease model on n founding
 * voters (no membership changes): every node holds a lease through the
 * leader it knows, with node/root/lease.h's accounting and node_lease.c's
 * protocol over the simulated network; the leader grants in rounds after
 * a raft_read_index; RSIM_LEASE_DEPLOYS deployments are placed on nodes
 * by move entries through the Raft log, and the root on the leader moves
 * those of a node whose lease ran out for it (lease_leader_expired). The
 * invariant after every event: no deployment runs on two nodes at once
 * (each run's [start, end) in global time, pairwise). After the chaos
 * the network heals, every node restarts, and within quiet_ms every
 * deployment must run somewhere. Returns 0, 1 on an invariant violation,
 * 2 on a liveness failure; the reason in why. figures may be NULL. */
struct rsim_lease_figures {
    uint64_t requests, rounds, rounds_failed, grants, grants_counted;
    uint64_t moves_proposed, moves_applied, runs, fences, guardian_kills;
    uint64_t leader_changes;
    naos_duration longest_pause;
    /* certificates: sent by dead nodes' guardians (one per member),
     * taken by a leader (of them a dead leader's), kept by a follower;
     * the chaos's leader crashes racing a restart, and its traps fired */
    uint64_t certs_sent, certs_taken, certs_dead_leader, certs_kept;
    uint64_t cert_races, traps;
    /* starts that found an earlier run's process alive (no lease asked
     * for until it was gone) */
    uint64_t leftover_waits;
};
int rsim_lease_run(uint64_t seed, unsigned n, naos_duration chaos_ms,
                   char *why, size_t whylen, struct rsim_lease_figures *fig);

#endif
