/* SPDX-License-Identifier: Apache-2.0 */
/* orphans.h: the node as a child subreaper, and the sweep that kills and
 * reaps every process that is its child but not one of its workers.
 *
 * Why: a worker may fork helpers that outlive it, sometimes deliberately
 * (a daemon that double-forks and calls setsid, escaping the worker's process
 * group). With PR_SET_CHILD_SUBREAPER those orphans are reparented to the node
 * instead of init, so the node sees them as direct children and can end them.
 *
 * Division of labour with the caller (node.c):
 *   - Each worker has a pidfd (proc/spawn.h). Its exit is noticed through
 *     the pidfd becoming readable and reaped with proc_reap_pidfd. The sweep
 *     never reaps a known worker: its status belongs to the pidfd path.
 *   - When a worker exits, the caller kills the worker's own process group
 *     with SIGKILL (proc_signal_group(pid, SIGKILL)): helpers still in the
 *     group die at once; helpers that left the group are caught here.
 *   - On every SIGCHLD (signalfd) the caller runs proc_orphans_sweep. The
 *     sweep SIGKILLs every live direct child that is not a known worker and
 *     reaps every exited one. A killed orphan dies asynchronously: its death
 *     raises another SIGCHLD and the next sweep reaps it. Nothing ever blocks.
 *   - Orphans of orphans are reparented to the node when their parent dies,
 *     and are caught by a later sweep in turn.
 *
 * Practice 13 says to drain waitpid(-1) on SIGCHLD: here that drain is the
 * sweep, restricted to unknown pids, because reaping a worker through
 * waitpid(-1) would steal the status from its pidfd. The node must therefore
 * never call waitpid(-1) or wait() anywhere else, and any other process it
 * starts on purpose (none today) must be reported as known by is_known, or
 * the sweep will kill it.
 *
 * Cost: the /proc pass reads one line per direct child, so a whole sweep
 * costs O(workers) (about 1 us per child, 10 ms and more at 10,000 under
 * load), and one per worker exit made a pool stop O(n^2). A node therefore
 * runs the two steps separately and in pieces (struct proc_orphans_scan):
 * the cheap peek (proc_orphans_reap_exited) on SIGCHLD, and the /proc pass
 * when something may have been reparented (a worker exited, an orphan was
 * reaped), one bounded read per loop iteration, coalescing every request
 * that arrives while a pass runs into one more pass after it.
 *
 * Thread: the reactor thread only (the same one that spawns workers, so a
 * worker is always known before the first sweep can see it). No global
 * state. */
#ifndef NAOS_PROC_ORPHANS_H
#define NAOS_PROC_ORPHANS_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>

/* proc_orphans_known_cb tells whether pid is one of the caller's live
 * workers (spawned and not yet reaped through its pidfd). It must not spawn,
 * reap or free anything. */
typedef bool (*proc_orphans_known_cb)(void *ctx, int pid);

/* struct proc_orphans_stats: what one sweep did. */
struct proc_orphans_stats {
    unsigned reaped;   /* unknown children reaped (they had exited) */
    unsigned killed;   /* unknown live children sent SIGKILL */
    int known_exited;  /* a known worker that has exited and awaits reaping
                          through its pidfd, or 0. Its pidfd is readable too,
                          so the caller may also just wait for epoll. */
};
#define PROC_ORPHANS_STATS_ZERO {0, 0, 0}

/* proc_orphans_enable makes the calling process a child subreaper
 * (prctl PR_SET_CHILD_SUBREAPER). Call once at node start, before spawning.
 * The attribute is per process and is not inherited by the children
 * posix_spawn creates. Returns NAOS_OK or NAOS_ESYS. */
int proc_orphans_enable(void);

/* proc_orphans_sweep, without blocking:
 *   1. peeks at exited children with waitid(P_ALL, WEXITED|WNOHANG|WNOWAIT)
 *      and reaps each unknown one, until none is left or a known one is
 *      first in line (its pid goes to stats->known_exited);
 *   2. lists the direct children of every thread of the process
 *      (/proc/self/task/<tid>/children: threads of NNG and others included)
 *      and, for each unknown one, sends SIGKILL (and to its process group
 *      too when it leads its own group, e.g. after setsid) and reaps it if
 *      it has already exited.
 * is_known (borrowed; called with ctx) decides what is a worker. stats
 * (caller storage, may be NULL) receives the counts.
 * Returns NAOS_OK, or NAOS_ESYS when /proc could not be read (step 1 still
 * ran: exited orphans are reaped, live ones are killed on a later call).
 * Call it until stats->known_exited == 0 after reaping that worker, or
 * simply on every SIGCHLD: progress is guaranteed either way. */
int proc_orphans_sweep(proc_orphans_known_cb is_known, void *ctx,
                       struct proc_orphans_stats *stats);

/* proc_orphans_reap_exited is step 1 of proc_orphans_sweep alone: reaps
 * exited unknown children until none is left or a known one is first in
 * line (its pid goes to stats->known_exited). O(1) per child reaped.
 * stats (caller storage, may be NULL) gets the counts. Returns NAOS_OK. */
int proc_orphans_reap_exited(proc_orphans_known_cb is_known, void *ctx,
                             struct proc_orphans_stats *stats);

/* struct proc_orphans_scan: step 2 of the sweep (the /proc pass over every
 * thread's children) carried out in bounded steps. Caller storage; start
 * from PROC_ORPHANS_SCAN_ZERO, end with proc_orphans_scan_fini.
 *
 * Why a pass spread over time still finds every orphan: the kernel keeps
 * our position in the children file as an index, and a process reparented
 * to us is appended at the end of the list, ahead of the index. Children
 * leaving the list (reaped) before the index can make it skip entries;
 * every reap is followed by a request (the caller's, or the scan's own
 * when it reaped or killed), and a pass that saw a request while it ran is
 * followed by another, so the last pass runs with nothing reaped. */
struct proc_orphans_scan {
    DIR *tasks;    /* /proc/self/task while a pass runs, else NULL */
    int fd;        /* the children file being read, or -1 */
    long cur;      /* a number cut by a read boundary, or -1 */
    bool wanted;   /* a pass was asked for and has not started */
};
#define PROC_ORPHANS_SCAN_ZERO {NULL, -1, -1, false}

/* proc_orphans_scan_request asks for a pass (after a worker exited: its
 * escaped helpers may have been reparented to us). Several requests before
 * the pass starts make one pass. */
void proc_orphans_scan_request(struct proc_orphans_scan *s);
/* proc_orphans_scan_busy: a pass runs or was asked for. */
bool proc_orphans_scan_busy(const struct proc_orphans_scan *s);
/* proc_orphans_scan_step does one bounded piece of the pass: at most one
 * read of PROC_ORPHANS_SCAN_CHUNK bytes of a non-empty children file (so
 * at most a few hundred children), killing and reaping unknown ones as the
 * sweep does. Starts a pass if one was asked for; no-op when not busy.
 * stats (may be NULL) gets what this step did. Returns NAOS_OK, or
 * NAOS_ESYS when /proc could not be read (the pass ends; ask again). */
#define PROC_ORPHANS_SCAN_CHUNK 4096
int proc_orphans_scan_step(struct proc_orphans_scan *s,
                           proc_orphans_known_cb is_known, void *ctx,
                           struct proc_orphans_stats *stats);
/* proc_orphans_scan_fini closes what a pass holds open; idempotent. */
void proc_orphans_scan_fini(struct proc_orphans_scan *s);

/* proc_orphans_kill_marked sends SIGKILL to every process (and the group
 * of every group leader) whose environment holds the entry marker exactly
 * ("NAOS_NODE_ID=..."), except the caller: what a previous run of this node
 * left behind when it was killed without stopping its workers. Only
 * processes whose environ we may read (our own user's) are seen. *killed
 * gets the count. Returns NAOS_OK or NAOS_ESYS (no /proc). */
int proc_orphans_kill_marked(const char *marker, unsigned *killed);
/* proc_orphans_count_marked counts those processes (a zombie, its
 * environment gone, is not one) without signalling them. */
int proc_orphans_count_marked(const char *marker, unsigned *alive);

#endif
