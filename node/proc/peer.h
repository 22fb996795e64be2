/* SPDX-License-Identifier: Apache-2.0 */
/* peer.h: which worker run a local process belongs to. The control
 * endpoints learn the pid of each caller from the kernel (SO_PEERCRED of
 * the connection) and ask here whether it is one of the node's workers or
 * something a worker started, so that an agent's requests are scoped to
 * itself and refused on the operator's socket.
 *
 * A process belongs to worker W when, for it or one of its ancestors
 * (parent, grandparent, ... at most PROC_PEER_MAX_DEPTH of them, read from
 * /proc/PID/stat), the pid, the process group or the session is W's pid:
 * every worker leads its own session and group (setsid at spawn), so this
 * catches the worker itself, the helpers it runs in its group, those that
 * made a group of their own (a shell with job control) and those that
 * made a session of their own but are still its descendants. Linux never
 * hands out a pid still in use as a group or session id, so a match
 * cannot come from an unrelated process.
 *
 * The walk stops at the node itself: a process whose ancestry reaches the
 * node without passing a live worker was started by a worker and left
 * behind (reparented to the node, a child subreaper) or is the escaped
 * part of a double fork; it is reported as such (PROC_PEER_ORPHAN) so the
 * node can refuse it too. It stops at pid 1 (or the walk's depth): an
 * unrelated process (PROC_PEER_OTHER).
 *
 * Limits: this identifies processes; it does not contain them. Workers
 * run as the node's user, and a process of that user can reach the node
 * by other means (its data directory, ptrace). The scoping is a guard
 * rail for agents that run the commands they are talked into, not a
 * sandbox.
 *
 * Thread: any (no state; reads /proc). The node calls it on the reactor. */
#ifndef NAOS_PROC_PEER_H
#define NAOS_PROC_PEER_H

#include <stdbool.h>

/* Ancestors examined above the caller itself. */
#define PROC_PEER_MAX_DEPTH 64

enum proc_peer_kind {
    PROC_PEER_OTHER = 0, /* not the node's: the operator, another program */
    PROC_PEER_WORKER,    /* belongs to worker *worker_pid */
    PROC_PEER_ORPHAN,    /* descends from the node, but from no live worker */
    PROC_PEER_GONE,      /* pid does not exist (any more), or its
                            ancestry changed under two walks: the caller
                            cannot be told, and is refused */
};

/* proc_peer_known_cb: is pid the main pid of one of the caller's live
 * worker runs? */
typedef bool (*proc_peer_known_cb)(void *ctx, int pid);

/* proc_peer_find classifies process pid (rule above). self is the node's
 * own pid (getpid()). On PROC_PEER_WORKER, *worker_pid is the worker's
 * pid; otherwise it is set to 0. Never fails: a /proc entry of pid that
 * cannot be read gives PROC_PEER_GONE; one of an ancestor (it exited
 * during the walk, its children reparented) makes it walk again once,
 * then gives PROC_PEER_GONE: never OTHER, which would make a worker's
 * process the operator. */
enum proc_peer_kind proc_peer_find(int pid, int self, proc_peer_known_cb known,
                                   void *ctx, int *worker_pid);

/* proc_peer_kind_name: "other", "worker", "orphan", "gone". */
const char *proc_peer_kind_name(enum proc_peer_kind k);

#ifdef NAOS_TESTING
/* proc__peer_fail_ancestor_reads (test builds only): that many reads of
 * an ancestor's entry fail, as if it exited during the walk. */
extern volatile int proc__peer_fail_ancestor_reads;
#endif

#endif
