/* SPDX-License-Identifier: Apache-2.0 */
/* spawner.h: proc_spawn on a thread of its own, so that the reactor never
 * waits for a new child to be scheduled and exec. A spawn costs the caller
 * 0.3-0.5 ms of CPU, but its wall time is the child's wait for a CPU: on a
 * machine busy starting thousands of agents, 5.8 ms median and ~31 ms p99
 * (issue 9's big-tree bench), all of it a frozen reactor before this.
 *
 * The reactor submits a job (a deep copy of the spawn's options: the
 * spawn runs after the caller's strings are gone) and goes on; the thread
 * runs the jobs in order and hands each back, done, through an eventfd the
 * reactor watches (proc_spawner_fd, proc_spawner_take).
 *
 * Children the reactor does not know yet. Between the thread's clone and
 * the reactor taking the job, a child exists whose pid the node has not
 * recorded. Whatever looks at the node's children in that time must not
 * take it for a stray: the orphan sweep runs only while it holds the
 * spawner (proc_spawner_hold: no child is being made meanwhile) and asks
 * proc_spawner_owns_pid about pids it does not know; a lookup that finds
 * a child of the node but no worker for it (a notify message, an agent's
 * request) takes what is done and, if a spawn is under way, waits for it
 * (proc_spawner_settle, bounded). A hold or a settle that finds a child
 * being made asks the thread to pause after that spawn (hold_wanted), so
 * the reactor gets its turn after one spawn, not after the whole queue;
 * the thread goes on once the reactor releases it (or gives up asking).
 *
 * Bounds: the supervision core starts one child at a time per supervisor
 * (SUP_SPAWN_PENDING), so the queue holds at most one job per worker (one
 * per supervisor unless an operator stopped a worker whose spawn waits);
 * each job is one allocation of its strings.
 *
 * The thread is the parent of every child it makes, and a child's
 * PR_SET_PDEATHSIG fires when the thread that made it ends (prctl(2)): the
 * thread therefore lives until proc_spawner_stop, which the node calls
 * only when its workers are to die anyway (node_close). */
#ifndef NAOS_PROC_SPAWNER_H
#define NAOS_PROC_SPAWNER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/proc/spawn.h"

/* struct proc_spawn_job: one spawn, owned by whoever holds it (the caller,
 * then the spawner, then the caller again). */
struct proc_spawn_job {
    struct proc_spawn_job *next;
    void *tag;                  /* the caller's, untouched */
    struct proc_spawn_opts opts; /* every string owned by the job */
    struct proc_naos_env naos;
    int rc;                     /* proc_spawn's result, once done */
    int64_t made_wall_ms;       /* when proc_spawn returned (a record's */
    uint64_t made_mono_us;      /* stamp: the run's start event) */
    uint64_t spawn_us;          /* what proc_spawn took (a measurement) */
    struct proc_child child;    /* the child, when rc == 0 (the caller
                                   owns its pidfd from then on) */
};

/* proc_spawn_job_new copies o (strings and vectors, all of them) into a new
 * job for tag. o->out_fd passes to the job: the spawner closes it once the
 * spawn is done (or proc_spawn_job_free does, if it never runs). Returns
 * NULL when out of memory (o->out_fd is then still the caller's). */
struct proc_spawn_job *proc_spawn_job_new(const struct proc_spawn_opts *o,
                                          void *tag);
/* proc_spawn_job_free frees job (and closes its out_fd if still open; not
 * the child's pidfd). NULL is fine. */
void proc_spawn_job_free(struct proc_spawn_job *job);

struct proc_spawner {
    pthread_t thread;
    pthread_mutex_t mu;        /* the queues and flags below */
    pthread_cond_t cv;
    struct proc_spawn_job *todo, *todo_tail, *done, *done_tail;
    size_t in_flight;          /* submitted and not yet taken */
    bool stop, started;
    int efd;                   /* readable while done is non-empty */
    /* Held by the thread from before a clone until its job is on the done
     * list; by the reactor while it sweeps for orphans. */
    pthread_mutex_t making;
    bool hold_wanted; /* (mu) the reactor waits for `making`: the thread
                         takes no next job until it is cleared */
};

/* proc_spawner_start starts the thread (s is caller storage). Returns
 * NAOS_OK or NAOS_ESYS (errno kept). */
int proc_spawner_start(struct proc_spawner *s);
/* proc_spawner_fd: the eventfd to watch for EPOLLIN. */
int proc_spawner_fd(const struct proc_spawner *s);
/* proc_spawner_submit queues job (owned by the spawner until taken). */
void proc_spawner_submit(struct proc_spawner *s, struct proc_spawn_job *job);
/* proc_spawner_take returns the jobs done (a list through ->next, oldest
 * first; NULL when none), now the caller's. */
struct proc_spawn_job *proc_spawner_take(struct proc_spawner *s);
/* proc_spawner_busy: a job was submitted and not taken yet. */
bool proc_spawner_busy(struct proc_spawner *s);
/* proc_spawner_settle waits, at most timeout_ms, until no child is being
 * made (the spawn under way: the thread makes no other meanwhile), so
 * that every child made so far is on the done list. False when the wait
 * timed out (a spawn that hangs, in exec on a dead NFS mount say). */
bool proc_spawner_settle(struct proc_spawner *s, int timeout_ms);
/* proc_spawner_hold keeps the thread from making a child until
 * proc_spawner_release; false (nothing held) when a child is being made
 * right now: the thread then pauses after it, and the job coming back
 * wakes the caller to try again. proc_spawner_unwant withdraws that ask
 * (the caller no longer needs the hold). Reactor thread. */
bool proc_spawner_hold(struct proc_spawner *s);
void proc_spawner_release(struct proc_spawner *s);
void proc_spawner_unwant(struct proc_spawner *s);
/* proc_spawner_owns_pid: pid is the child of a job done and not taken. */
bool proc_spawner_owns_pid(struct proc_spawner *s, int pid);
/* proc_spawner_stop ends the thread once its current spawn is done (the
 * children it made get their PDEATHSIG) and returns every job not taken,
 * done or not (rc ECANCELED for those never run), as a list. */
struct proc_spawn_job *proc_spawner_stop(struct proc_spawner *s);

#endif
