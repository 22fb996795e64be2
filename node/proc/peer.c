/* SPDX-License-Identifier: Apache-2.0 */
/* peer.c: see peer.h. */
#include "node/proc/peer.h"

#include "node/proc/procstat.h"

#ifdef NAOS_TESTING
volatile int proc__peer_fail_ancestor_reads;
#endif

/* walk: one walk up from pid (proc_peer_find's rule). *vanished: an
 * ancestor's entry could not be read, so the walk proved nothing. */
static enum proc_peer_kind
walk(int pid, int self, proc_peer_known_cb known, void *ctx,
     int *worker_pid, bool *vanished)
{
    int p = pid;
    for (int depth = 0; depth <= PROC_PEER_MAX_DEPTH; depth++) {
        if (p == self) /* the node itself asking is the node's business */
            return depth == 0 ? PROC_PEER_OTHER : PROC_PEER_ORPHAN;
        struct proc_stat ids;
        bool ok = proc_stat_read(p, &ids);
#ifdef NAOS_TESTING
        if (depth > 0 && ok && proc__peer_fail_ancestor_reads > 0) {
            proc__peer_fail_ancestor_reads--;
            ok = false;
        }
#endif
        if (!ok) {
            *vanished = depth > 0;
            return PROC_PEER_GONE;
        }
        const int cand[3] = {p, ids.pgrp, ids.session};
        for (int i = 0; i < 3; i++) {
            if (cand[i] > 1 && cand[i] != self && known(ctx, cand[i])) {
                *worker_pid = cand[i];
                return PROC_PEER_WORKER;
            }
        }
        if (ids.ppid <= 1)
            return PROC_PEER_OTHER;
        p = ids.ppid;
    }
    return PROC_PEER_OTHER;
}

enum proc_peer_kind
proc_peer_find(int pid, int self, proc_peer_known_cb known, void *ctx,
               int *worker_pid)
{
    *worker_pid = 0;
    if (pid <= 0)
        return PROC_PEER_GONE;
    /* An ancestor that exits during the walk leaves it unproven (its
     * child was reparented since we read its parent's pid): walk again,
     * from the new parents. Twice unproven is "cannot tell" (GONE), never
     * "unrelated" (OTHER), which the operator's socket takes for the
     * operator. */
    for (int attempt = 0; attempt < 2; attempt++) {
        bool vanished = false;
        enum proc_peer_kind k = walk(pid, self, known, ctx, worker_pid,
                                     &vanished);
        if (!vanished)
            return k;
        *worker_pid = 0;
    }
    return PROC_PEER_GONE;
}

const char *
proc_peer_kind_name(enum proc_peer_kind k)
{
    switch (k) {
    case PROC_PEER_WORKER:
        return "worker";
    case PROC_PEER_ORPHAN:
        return "orphan";
    case PROC_PEER_GONE:
        return "gone";
    default:
        return "other";
    }
}
