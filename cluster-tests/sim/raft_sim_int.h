/* SPDX-License-Identifier: Apache-2.0 */
/* raft_sim_int.h: what raft_sim.c and raft_sim_lease.c share inside the
 * Raft simulator (not for the tests). rsim__* are raft_sim.c's helpers
 * for the lease model; rsim__lease_* are the lease model's hooks, which
 * raft_sim.c calls only when sim->lease is set. */
#ifndef NAOS_CLUSTER_TESTS_RAFT_SIM_INT_H
#define NAOS_CLUSTER_TESTS_RAFT_SIM_INT_H

#include "cluster-tests/sim/raft_sim.h"

/* struct rsim_lease_msg: a LeaseRequest (grant false: id, the holder's
 * instance), a LeaseGrant (grant true: id, granted, commit, the granting
 * leader's instance and term) or a guardian's LeaseCertificate (cert
 * true: the dead run's instance), node_lease.c's 104/105/106. */
struct rsim_lease_msg {
    bool grant;
    uint64_t id;
    bool granted;
    uint64_t commit;
    uint64_t instance;
    uint64_t term;
    bool cert;
};

/* A lease round's ReadIndex ctx carries this bit (the client workload's
 * reads use the commit index as ctx, far below it). */
#define RSIM_LEASE_CTX (1ull << 63)

/* ---- raft_sim.c's, for the lease model ----------------------------------- */

void rsim__fail(struct rsim *sim, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rsim__trace(const struct rsim *sim, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
naos_duration rsim__urange(struct rsim *sim, naos_duration lo,
                           naos_duration hi);
/* rsim__runnable: up, not syncing a batch, not paused. */
bool rsim__runnable(const struct rsim *sim, const struct rsim_node *nd);
/* rsim__pump: hand the core's ready batch to the disk and network. */
void rsim__pump(struct rsim *sim, struct rsim_node *nd);
/* rsim__lease_send: m (copied) from src to dst through the simulated
 * network: cuts, loss, duplication, delay and reordering apply, and with
 * probability sim->lease_stall a stalled connection's extra delay of up
 * to sim->lease_stall_max. Delivered to rsim__lease_recv. */
void rsim__lease_send(struct rsim *sim, unsigned src, unsigned dst,
                      const struct rsim_lease_msg *m);
/* rsim__lease_mail_waiting: a lease message for node i is due and waits
 * (it was stopped or syncing): the real loop reads it before its next
 * lease step. */
bool rsim__lease_mail_waiting(const struct rsim *sim, unsigned i);
/* rsim__chaos_fault: one of the chaos run's random faults. */
void rsim__chaos_fault(struct rsim *sim);

/* ---- raft_sim_lease.c's hooks ------------------------------------------- */

/* rsim__lease_recv: node dst's driver handles m from src (runnable). */
void rsim__lease_recv(struct rsim *sim, unsigned dst, unsigned src,
                      const struct rsim_lease_msg *m);
/* rsim__lease_read_done: node i's core released a ReadIndex outcome; true
 * when it was a lease round's (it is inside raft_ready: no core calls). */
bool rsim__lease_read_done(struct rsim *sim, unsigned i,
                           const struct raft_read_result *res);
/* rsim__lease_after: after every event: each runnable node's lease step
 * (leadership, renewal, rounds, the root's moves), then the runs and the
 * invariant. */
void rsim__lease_after(struct rsim *sim);
/* rsim__lease_deadline: the next global time the lease model must look
 * (a renewal due, a fence, a guardian's kill, a lease running out for a
 * leader); always > sim->now. */
naos_time rsim__lease_deadline(struct rsim *sim);
/* rsim__lease_crash: node i stops (power_loss: its machine, guardian and
 * agents with it). rsim__lease_restart: its process starts again. */
void rsim__lease_crash(struct rsim *sim, unsigned i, bool power_loss);
void rsim__lease_restart(struct rsim *sim, unsigned i);
void rsim__lease_free(struct rsim_lease *l);

#endif
