/* SPDX-License-Identifier: Apache-2.0 */
/* sup.h: the supervision core. Pure: no clock, no fork, no socket.
 *
 * A sup_tree holds the deployments of one node. Each deployment is a tree of
 * sup_node: supervisors (which only watch children) and workers (one OS
 * process each). The core follows Erlang/OTP's supervisor exactly
 * (../shared/OTP-SEMANTICS.md): strategies, restart types, intensity,
 * escalation, start order and reverse stop order.
 *
 * Drivers feed it events (a worker exited, a notify message arrived, time
 * advanced, an operator command) with the current monotonic time, and the
 * core acts through the sup_io vtable (spawn, signal, event). Every
 * function here runs on the reactor thread only.
 *
 * Asynchrony: starting a worker completes when it is ready (at once after a
 * successful spawn, or at READY=1 for ready=notify; a spawn the driver
 * carries out off the loop succeeds at sup_on_spawned); stopping one completes
 * when its exit is reported. A supervisor carries out a restart as a plan
 * (stop these children in reverse order, one at a time, then start these in
 * order); exits of other children that arrive meanwhile wait in its mailbox,
 * as in OTP where the supervisor process is busy. An operator stop preempts
 * a plan, and so does a parent's stop of a child supervisor (OTP would
 * finish the child's restart first, then stop what it started: a
 * deliberate deviation, docs/architecture.md).
 *
 * Slices: the core spawns and signals out of a budget (sup_set_slice),
 * refilled by sup_tick and by each operator command; exits and
 * notifications draw on what is left. A plan that runs out stops where it
 * is, in the order it would have gone on in, and the next sup_tick carries
 * it on (sup_next_deadline is due at once meanwhile). A driver that ticks
 * once per loop iteration thus does at most about two slices of spawns and
 * signals per iteration, and serves its other work in between while a
 * tree of 10,000 starts or stops: like an OTP supervisor descheduled
 * between two children.
 *
 * Node trouble: a spawn that fails for the node's own reasons (EMFILE,
 * ENFILE, ENOMEM, EAGAIN: sup_errno_is_node_trouble) is not the agent's
 * failure. The worker's start stays under way (its supervisor waits, as
 * for READY=1), it is retried after a growing delay, nothing counts
 * against max_restarts, and each attempt is reported as a node-trouble
 * event. */
#ifndef NAOS_SUP_SUP_H
#define NAOS_SUP_SUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/time.h"
#include "node/spec/spec.h"
#include "node/sup/intensity.h"

enum sup_state {
    SUP_STOPPED = 0, /* no process / no running children */
    SUP_STARTING,    /* being started (worker: spawned, awaiting READY=1) */
    SUP_RUNNING,
    SUP_RESTARTING,  /* worker: waiting to be started again (backoff or retry);
                        supervisor: carrying out a restart plan */
    SUP_STOPPING,    /* stop signal sent / children being stopped */
    SUP_FAILED,      /* gave up or failed to start; stays visible */
};

enum sup_reason_kind {
    SUP_REASON_NONE = 0,
    SUP_REASON_EXIT,          /* code = exit status; 0 is "normal" */
    SUP_REASON_SIGNAL,        /* code = signal number, not sent by naos */
    SUP_REASON_SHUTDOWN,      /* stopped by naos (clean) */
    SUP_REASON_WATCHDOG,      /* WATCHDOG=1 missing past the interval */
    SUP_REASON_TIMEOUT,       /* max_runtime reached */
    SUP_REASON_START_TIMEOUT, /* no READY=1 within start_timeout */
    SUP_REASON_SPAWN_FAILED,  /* code = errno of the failed spawn/exec */
    SUP_REASON_MAX_RESTARTS,  /* a supervisor gave up (exits "shutdown") */
    SUP_REASON_NODE_RESTART,  /* the node restarted (issue: store) */
    SUP_REASON_CWD_FAILED,    /* code = errno: the working directory could
                                 not be entered (missing on this node) */
    SUP_REASON_KILLED,        /* stopped by naos, but SIGKILLed once its
                                 shutdown grace (code, ms) ran out */
    SUP_REASON_MIGRATED,      /* the root supervisor moved the deployment
                                 here after it gave up on another node */
    SUP_REASON_NODE_LOST,     /* the root supervisor moved the deployment
                                 here after its node's lease ran out */
};

struct sup_reason {
    enum sup_reason_kind kind;
    int code;
};

/* sup_reason_format writes the reason as users see it: "exit:1",
 * "signal:SIGSEGV", "shutdown", "watchdog", "timeout", "start-timeout",
 * "spawn-failed:ENOENT", "cwd-failed:ENOENT", "max-restarts",
 * "node-restart", "migrated", "node-lost", "" for NONE. */
void sup_reason_format(struct sup_reason r, char *buf, size_t len);
/* sup_reason_is_clean: OTP's normal/shutdown (exit 0 or SHUTDOWN, and a
 * supervisor's MAX_RESTARTS which OTP reports as `shutdown`). */
bool sup_reason_is_clean(struct sup_reason r);
/* sup_state_name: "stopped", "starting", "running", "restarting",
 * "stopping", "failed". */
const char *sup_state_name(enum sup_state s);

struct sup_tree;

/* SUP_SPAWN_CWD: or'ed into the errno a spawn returns (sup_io.spawn) when
 * the working directory was what failed, not the program. */
#define SUP_SPAWN_CWD 0x1000000

/* SUP_SPAWN_PENDING: returned by sup_io.spawn when the result comes later
 * (sup_on_spawned). Meanwhile the worker is starting with no pid, and its
 * supervisor waits for it as for READY=1: starts stay one at a time and in
 * order (B5), so at most one spawn per supervisor is ever pending. */
#define SUP_SPAWN_PENDING (-1)

/* struct sup_node: public fields are read-only outside sup.c. */
struct sup_node {
    char *id;                  /* owned */
    char *path;                /* owned; "deployment/child/..." */
    struct sup_node *parent;   /* NULL for a deployment's top supervisor */
    struct sup_tree *tree;
    const struct spec_node *spec; /* borrowed from the deployment's spec
                                     (for pool workers: the template) */
    bool is_supervisor;
    enum sup_state state;

    /* workers */
    int pid;                   /* 0 when no process */
    naos_time started_at;      /* start of the current run (ms) */
    char *status_text;         /* owned; last STATUS= text, or NULL */

    uint32_t restarts;         /* times restarted by its parent */
    struct sup_reason last_exit;
    naos_time last_exit_at;

    /* supervisors */
    struct sup_node **children; /* start order; nchildren entries */
    size_t nchildren;
    struct sup_intensity intensity;

    void *io_data;             /* the driver's, per node; never touched here */

    /* tops: changes (to a value unique in the tree) whenever a call may
     * have changed anything above about this deployment, so a driver can
     * cache what it shows. Time alone changes only uptimes and intensity
     * use (see sup_intensity_changes_at). */
    uint64_t version;

    /* Private to sup.c from here on. */
    struct sup_node *mbox_next;  /* link in the parent's mailbox */
    struct sup_node *dep_next;   /* deployments list (tops only) */
    size_t heap_idx;             /* position in the deadline heap, or SIZE_MAX */
    naos_time deadline;          /* NAOS_TIME_NEVER when none */
    naos_time watchdog_at, runtime_at; /* worker deadlines, NEVER if unset */
    struct sup_reason kill_reason;     /* why the core is killing it */
    uint32_t backoff_n;          /* consecutive quick failures, for backoff */
    uint32_t pool_seq;           /* simple-one-for-one: next replica number */
    unsigned flags;              /* SUP__F_* in sup.c */
    int plan;                    /* supervisor plan phase, in sup.c */
    size_t plan_cursor;
    struct sup_node *mbox_head, *mbox_tail; /* supervisor mailbox */
    struct spec_node *owned_spec; /* tops only: the deployment's spec */
    char *failure;               /* tops only: why it failed */
    naos_time timer_at;          /* phase timer: start timeout, shutdown
                                    kill or backoff; NEVER if unset */
    int timer_kind;              /* SUP__T_* in sup.c */
    int plan_kind;               /* initial start or restart, in sup.c */
    int plan_after;              /* what ends a stop phase, in sup.c */
    size_t plan_end;             /* start phase end (SIZE_MAX = all) */
    size_t plan_pending;         /* pool: stops still outstanding */
    size_t children_cap;         /* allocated entries of children */
    struct sup_node *plan_child; /* the child whose death started the plan */
    struct sup_node *resume_prev, *resume_next; /* the tree's resume queue */
    uint32_t trouble_n;          /* consecutive node-trouble spawn failures */
    char *fail_path;             /* owned: the node a start failure or
                                    give-up came from (for messages) */
    struct sup_reason plan_reason; /* why a start failed */
};

/* struct sup_spawn_info: what a driver needs to start one run of a worker.
 * All pointers are borrowed for the duration of the spawn call. */
struct sup_spawn_info {
    const char *path;            /* NAOS_AGENT */
    const char *deployment;      /* the deployment's name */
    const struct spec_node *spec;/* argv, env, cwd, watchdog, ready */
    uint32_t restart_count;      /* NAOS_RESTART_COUNT */
    const char *restart_reason;  /* NAOS_RESTART_REASON; "" on first start */
};

enum sup_event_kind {
    SUP_EV_DEPLOY,        /* a deployment was added */
    SUP_EV_START,         /* a worker process was spawned (pid) */
    SUP_EV_READY,         /* a ready=notify worker said READY=1 */
    SUP_EV_EXIT,          /* child_terminated: a child ended (reason) */
    SUP_EV_RESTART,       /* a restart decision (path = the dead child) */
    SUP_EV_START_FAILED,  /* a start failed (reason) */
    SUP_EV_KILL,          /* shutdown timeout ran out: SIGKILL sent */
    SUP_EV_GIVE_UP,       /* reached_max_restart_intensity (path = supervisor,
                             detail = offending child) */
    SUP_EV_ESCALATE,      /* a deployment's top gave up: deployment failed */
    SUP_EV_STOP,          /* a deployment, or a child (sup_child_stop),
                             was stopped by the operator */
    SUP_EV_REMOVE,        /* a deployment was removed */
    SUP_EV_NODE_TROUBLE,  /* a spawn failed for the node's own reasons
                             (reason spawn-failed:EMFILE...); retried later,
                             not counted (detail says when) */
};

/* sup_event_kind_name: "deploy", "start", "ready", "exit", "restart",
 * "start-failed", "kill", "give-up", "escalate", "stop", "remove",
 * "node-trouble". */
const char *sup_event_kind_name(enum sup_event_kind k);

struct sup_event {
    enum sup_event_kind kind;
    const char *deployment;  /* borrowed for the call */
    const char *path;
    int pid;
    struct sup_reason reason;
    uint32_t restarts;
    const char *detail;      /* may be NULL */
    naos_time at;
};

#define SUP_IO_VERSION 1

/* struct sup_io: how the core reaches the world. Versioned vtable. The
 * callbacks must not call back into the core (report an exit later, from
 * the loop, never from inside spawn or signal). */
struct sup_io {
    int version; /* SUP_IO_VERSION */
    void *ctx;
    /* spawn starts one run of worker w (borrowed; stays valid at least until
     * its exit is reported). On success stores the pid in *pid and returns 0;
     * the driver then owes exactly one sup_on_exit for that run. On failure
     * (fork, exec, cwd) returns a positive errno and no exit will follow:
     * the errno decides whose fault it was (sup_errno_is_node_trouble), so
     * a driver returns the errno of what failed (EMFILE from pipe2, ENOMEM
     * from its own allocation, ENOENT from exec), never a made-up one,
     * with SUP_SPAWN_CWD or'ed in when it was the working directory that
     * could not be entered (reason cwd-failed instead of spawn-failed).
     * Or returns SUP_SPAWN_PENDING: the spawn goes on outside the loop and
     * the driver owes exactly one sup_on_spawned for it, with what this
     * call would have returned (info is then copied, not borrowed). */
    int (*spawn)(void *ctx, struct sup_node *w,
                 const struct sup_spawn_info *info, int *pid);
    /* signal sends signo to w's process group (the driver adds SIGCONT after
     * a stop signal). Only called while w has a process. */
    void (*signal)(void *ctx, struct sup_node *w, int signo);
    /* event reports a supervision event (borrowed for the call). */
    void (*event)(void *ctx, const struct sup_event *ev);
    /* random returns a uniform random 32-bit number (backoff jitter). */
    uint32_t (*random)(void *ctx);
    /* forget is called just before the core frees node n (any node), so the
     * driver can release n->io_data. May be NULL. */
    void (*forget)(void *ctx, struct sup_node *n);
};

/* sup_tree_alloc creates an empty tree using io (copied), with the default
 * slice. *out is set on success. Returns NAOS_OK or NAOS_ENOMEM. */
int sup_tree_alloc(struct sup_tree **out, const struct sup_io *io);

/* Default slice: what one call may do when the driver says nothing. */
#define SUP_SLICE_DEFAULT_SPAWNS 64
#define SUP_SLICE_DEFAULT_SIGNALS 1024

/* sup_set_slice sets the size of a slice: at most spawns io->spawn calls
 * and signals io->signal calls (0 = unlimited) between two refills (each
 * sup_tick and operator command refills; see the top of this file). Work
 * past it waits, in order, for the next sup_tick. A smaller size applies
 * at once. A driver sizes it so that one slice takes a few milliseconds. */
void sup_set_slice(struct sup_tree *t, uint32_t spawns, uint32_t signals);

/* Node trouble (see the top of this file). The first retry comes after
 * SUP_TROUBLE_RETRY_MIN_MS, doubling per failed attempt up to
 * SUP_TROUBLE_RETRY_MAX_MS, each jittered down to half. */
#define SUP_TROUBLE_RETRY_MIN_MS 100
#define SUP_TROUBLE_RETRY_MAX_MS 5000
/* sup_errno_is_node_trouble: EMFILE, ENFILE, ENOMEM, EAGAIN (out of
 * descriptors, memory or processes: the node's resources). Anything else
 * (ENOENT, EACCES, ENOTDIR, ...) is the agent's spawn failure. */
bool sup_errno_is_node_trouble(int err);
/* sup_count_node_trouble: workers whose start now waits out node trouble. */
size_t sup_count_node_trouble(const struct sup_tree *t);
/* sup_is_in_node_trouble: worker n's start waits out node trouble (false
 * for supervisors). */
bool sup_is_in_node_trouble(const struct sup_node *n);
/* sup_tree_free frees every node without signalling anything (the driver
 * must have stopped the processes: see sup_shutdown). NULL is fine. */
void sup_tree_free(struct sup_tree *t);

/* sup_deploy adds a deployment from spec (validated with spec_validate;
 * takes ownership on success: the tree *spec holds is moved into the core
 * and *spec is left zeroed, so spec may be caller storage such as the one
 * spec_yaml_parse fills) and starts it. *out (may be NULL) gets its
 * top node. Errors: NAOS_EEXIST (name taken), NAOS_EINVAL (invalid spec;
 * message in errbuf), NAOS_ENOMEM. On error nothing changed and the caller
 * keeps spec. */
int sup_deploy(struct sup_tree *t, struct spec_node *spec, naos_time now,
               struct sup_node **out, char *errbuf, size_t errlen);

/* struct sup_deploy_opts: how sup_deploy_ex brings a deployment in. */
struct sup_deploy_opts {
    bool stopped; /* add it without starting it (state stopped) */
    /* The reason every worker's first run is given as NAOS_RESTART_REASON
     * (SUP_REASON_NONE: ""). A node restoring its deployments after a
     * restart passes SUP_REASON_NODE_RESTART. */
    struct sup_reason first_reason;
    /* Non-NULL (copied): add it failed with this failure text, not
     * started, as it was when the node went down (a deployment that gave
     * up stays failed across node restarts until sup_start). */
    const char *failed;
};

/* sup_deploy_ex is sup_deploy with options (opts borrowed; NULL = the
 * defaults: started, no first reason). Same ownership and errors. */
int sup_deploy_ex(struct sup_tree *t, struct spec_node *spec,
                  const struct sup_deploy_opts *opts, naos_time now,
                  struct sup_node **out, char *errbuf, size_t errlen);

/* sup_find returns the deployment named name, or NULL. */
struct sup_node *sup_find(struct sup_tree *t, const char *name);
/* sup_find_path returns the node at path ("dep/child/grandchild"), or NULL. */
struct sup_node *sup_find_path(struct sup_tree *t, const char *path);
/* sup_first / sup_next iterate deployments in the order they were added. */
struct sup_node *sup_first(struct sup_tree *t);
struct sup_node *sup_next(struct sup_node *dep);
/* sup_count_workers: workers in the whole tree (all deployments). */
size_t sup_count_workers(const struct sup_tree *t);

/* Operator commands on a deployment (dep from sup_find). None of them count
 * towards intensity. All return NAOS_OK or NAOS_EBUSY with nothing done.
 * sup_stop: stop the whole tree in reverse start order; state stopped.
 * sup_start: start a stopped or failed deployment afresh (intensity reset).
 * sup_restart: stop then start again.
 * sup_remove: stop, then free the deployment once everything has exited
 * (the io forget hook runs for each node; dep is invalid afterwards). */
int sup_stop(struct sup_tree *t, struct sup_node *dep, naos_time now);
int sup_start(struct sup_tree *t, struct sup_node *dep, naos_time now);
int sup_restart(struct sup_tree *t, struct sup_node *dep, naos_time now);
int sup_remove(struct sup_tree *t, struct sup_node *dep, naos_time now);
/* sup_is_at_rest: dep has nothing running and nothing under way (stopped
 * or failed): what sup_start needs and what makes sup_stop a no-op. */
bool sup_is_at_rest(const struct sup_node *dep);
/* sup_is_removing: dep is being removed (sup_remove taken, its stop not
 * done yet): nothing brings it back, and it goes once stopped (sup_find
 * no longer finds it). sup_stop, sup_start, sup_restart and sup_remove of
 * it answer NAOS_EBUSY. */
bool sup_is_removing(const struct sup_node *dep);

/* Operator commands on one node n below a deployment's top (a worker or a
 * supervisor, from sup_find_path), as OTP's terminate_child and
 * restart_child (OTP-SEMANTICS B8). Neither counts towards the intensity
 * of n's supervisor (B2: OTP calls add_restart only for exits); a crash
 * after a start counts as any other.
 * sup_child_stop: n's supervisor stops n (reverse start order inside it)
 *   and n stays stopped ("held"): no restart plan of its supervisor starts
 *   it again, whatever the strategy (OTP's one_for_all and rest_for_one
 *   would restart a terminated child along with a crashed sibling; naos
 *   keeps an operator's stop), until the operator starts or restarts n,
 *   starts a stopped ancestor of n, or restarts one (sup_start,
 *   sup_restart, sup_child_start of a stopped ancestor, sup_child_restart
 *   of any): that starts everything under it. A start of an ancestor
 *   that is running changes nothing below it. A temporary n stays in
 *   place, held (OTP would drop its spec), until its supervisor stops
 *   its siblings (which drops it, as any temporary child it stops). Stops n even while its
 *   supervisor is in a restart plan (taking n out of it; siblings that
 *   plan still has to start are started, without a backoff for n).
 *   NAOS_OK also when n is already held.
 * sup_child_start: n's supervisor starts n once idle (a start in a plan
 *   under way waits in its mailbox, as a restart_child call in OTP's
 *   queue); a supervisor n starts afresh, holds under it forgotten. A
 *   failed start leaves n stopped and held, not retried and not counted
 *   (OTP: {error, Reason}). NAOS_OK also when n runs, or is on its way
 *   back already (in a restart plan, a backoff or a node-trouble wait, or
 *   a crash or failed restart of it waits in the mailbox: that restart is
 *   decided and counted as usual, the start does not take its place); a
 *   held n still stopping starts once stopped. Pool replicas (simple-one-
 *   for-one) can be started by path too (OTP refuses restart_child
 *   there).
 * sup_child_restart: sup_child_stop then sup_child_start; when n's
 *   supervisor is stopped before n's stop completes, n is not held and
 *   starts with that supervisor's next start.
 * Errors: NAOS_EINVAL (n is a top: use sup_stop etc.), NAOS_EBUSY (n's
 * supervisor is stopped or stopping: start it first; a sup_child_stop of
 * an n whose restart is under way is still taken), nothing done. */
int sup_child_stop(struct sup_tree *t, struct sup_node *n, naos_time now);
int sup_child_start(struct sup_tree *t, struct sup_node *n, naos_time now);
int sup_child_restart(struct sup_tree *t, struct sup_node *n, naos_time now);
/* sup_is_held: n was stopped by sup_child_stop and not started since. */
bool sup_is_held(const struct sup_node *n);

/* sup_shutdown stops every deployment (node shutdown, newest first).
 * sup_is_quiet tells when no worker has a process, or a spawn pending,
 * any more. */
void sup_shutdown(struct sup_tree *t, naos_time now);
bool sup_is_quiet(const struct sup_tree *t);

/* Driver events. */
/* sup_on_spawned: the spawn of w that io->spawn left pending ended: err and
 * pid as io->spawn would have returned them (0 and the pid, or a positive
 * errno, SUP_SPAWN_CWD or'ed in as there). A worker stopped meanwhile is
 * stopped now (its new process signalled as for any stop). Ignored for a
 * worker with no spawn pending. Until this call no exit or notify of the
 * run may be reported. */
void sup_on_spawned(struct sup_tree *t, struct sup_node *w, int err, int pid,
                    naos_time now);
/* sup_on_exit: the current run of worker w ended. exited=true: code is the
 * exit status; exited=false: code is the terminating signal. */
void sup_on_exit(struct sup_tree *t, struct sup_node *w, bool exited,
                 int code, naos_time now);
/* sup_on_notify: worker w sent a notify datagram. ready = READY=1 seen,
 * watchdog = WATCHDOG=1 seen, status = STATUS= text or NULL (copied). */
void sup_on_notify(struct sup_tree *t, struct sup_node *w, bool ready,
                   bool watchdog, const char *status, naos_time now);
/* sup_next_deadline: the earliest time sup_tick has work, or
 * NAOS_TIME_NEVER. While a plan waits for its next slice this is a time
 * already past (the call that left it), so the driver ticks at once after
 * serving whatever else is ready. */
naos_time sup_next_deadline(const struct sup_tree *t);
/* sup_tick runs what is due at or before now (start timeouts, watchdogs,
 * max runtimes, shutdown kills, backoff restarts, node-trouble retries),
 * then carries on plans that ran out of budget, oldest first, all within
 * one slice. */
void sup_tick(struct sup_tree *t, naos_time now);

/* sup_intensity_in_use: restarts of supervisor s within its window now. */
uint32_t sup_intensity_in_use(const struct sup_node *s, naos_time now);
/* sup_intensity_changes_at: the first time after now at which
 * sup_intensity_in_use(s, ...) will be lower, with no restart in between;
 * NAOS_TIME_NEVER when nothing is in use (or s is a worker). */
naos_time sup_intensity_changes_at(const struct sup_node *s, naos_time now);

#endif
