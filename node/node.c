/* SPDX-License-Identifier: Apache-2.0 */
/* node.c: the composition root of naos-node. It binds the pure
 * supervision core (sup) to the process drivers (proc), the reactor, the
 * control endpoint (ctl) and the event ring. Only this file knows them all.
 *
 * Per worker it keeps a `wrun` (the core's io_data): the pidfd and log pipe
 * of the current run, and the worker's log file. A run ends when its pidfd
 * becomes readable (or the SIGCHLD peek finds it first): the driver kills
 * what is left of the worker's process group while the zombie still holds
 * the group id, reaps it, drains its log pipe, asks for an orphan sweep,
 * and tells the core.
 *
 * Nothing here may cost the reactor O(workers) per event: the core works
 * in slices sized from what spawns and signals cost lately (size_slice),
 * a stop signals no more workers than may be dying at once (dying_push),
 * and the orphan sweep runs one bounded step per loop iteration, however
 * many exits asked for it (orphans_step). */
#include "node/node.h"
#include "node/node_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/random.h"
#include "node/base/idmap.h"
#include "node/base/log.h"
#include "node/base/safedir.h"
#include "node/base/safefile.h"
#include "node/ctl/ctl.h"
#include "node/events/events.h"
#include "store/eventlog.h"
#include "node/proc/logfile.h"
#include "node/proc/notify.h"
#include "node/proc/guardian.h"
#include "node/proc/orphans.h"
#include "node/proc/peer.h"
#include "node/proc/spawn.h"
#include "node/reactor/reactor.h"
#include "node/members_wire.h"
#include "node/sup/sup.h"
#include "node/wire/wire.h"
#include "proto/spec_pb.h"
#include "store/state.h"

/* ---- helpers ---------------------------------------------------------- */

/* Wall-clock time of a monotonic instant, for people: from the loop's
 * cached pair (now, wall_ms), so every instant of one iteration converts
 * the same way. */
int64_t
node__wall_of(const struct node *n, naos_time at)
{
    naos_time now = n->r.now;
    return n->r.wall_ms - (int64_t)(now > at ? now - at : 0);
}

static void
grave_push(struct node *n, struct wrun *wr)
{
    wr->grave_next = n->grave;
    n->grave = wr;
}

static void
grave_flush(struct node *n)
{
    while (n->grave) {
        struct wrun *wr = n->grave;
        n->grave = wr->grave_next;
        naos_free(wr);
    }
}

/* ---- dying runs ----------------------------------------------------------
 * Every signal the core sends asks a worker to end (a stop, or a kill of
 * its own). The signal costs the node a few microseconds; the exit it sets
 * off costs the machine far more (the worker's handler, then the kernel
 * tearing the process down), and it runs on the same CPUs as the reactor:
 * with a thousand workers signalled at once, the reactor waited hundreds
 * of milliseconds for a CPU behind them (bench_bigtree, issue 9). So a run
 * counts as dying from the core's first signal until it is reaped, or
 * until NODE_DYING_MS have passed (a worker that takes its time to stop
 * must not hold up the others' stops), and while dying_max runs are dying
 * the core gets no budget for more signals (size_slice) and is not ticked:
 * a big stop proceeds as fast as workers actually exit. */
#define NODE_DYING_MS 50
#define NODE_DYING_PER_CPU 2

static void
dying_push(struct node *n, struct wrun *wr)
{
    if (wr->dying)
        return;
    wr->dying = true;
    wr->dying_at = n->r.now;
    wr->dying_next = NULL;
    wr->dying_prev = n->dying_tail;
    if (n->dying_tail)
        n->dying_tail->dying_next = wr;
    else
        n->dying_head = wr;
    n->dying_tail = wr;
    n->ndying++;
}

static void
dying_drop(struct node *n, struct wrun *wr)
{
    if (!wr->dying)
        return;
    if (wr->dying_prev)
        wr->dying_prev->dying_next = wr->dying_next;
    else
        n->dying_head = wr->dying_next;
    if (wr->dying_next)
        wr->dying_next->dying_prev = wr->dying_prev;
    else
        n->dying_tail = wr->dying_prev;
    wr->dying = false;
    wr->dying_prev = wr->dying_next = NULL;
    n->ndying--;
}

/* dying_expire stops counting runs signalled NODE_DYING_MS ago or more. */
static void
dying_expire(struct node *n, naos_time now)
{
    while (n->dying_head && n->dying_head->dying_at + NODE_DYING_MS <= now)
        dying_drop(n, n->dying_head);
}

/* dying_full: no more signals now (see above). */
static bool
dying_full(const struct node *n)
{
    return n->ndying >= n->dying_max;
}

/* ---- runs: spawn, exit, logs ------------------------------------------ */

static void retire_logs(struct node *n, const char *name);
/* Worker exits are read from an epoll set of their own (n->exits_fd),
 * itself one fd of the reactor: a level-triggered fd goes to the back of
 * epoll's ready list each time it is reported, so when 10,000 workers exit
 * at once the control socket, HTTP and gossip still get their turn after
 * every NODE_EXITS_PER_ITERATION exits, instead of after all of them. */
#define NODE_EXITS_PER_ITERATION 32

static int
exits_watch(struct node *n, struct wrun *wr)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = wr};
    return epoll_ctl(n->exits_fd, EPOLL_CTL_ADD, wr->pidfd, &ev) == 0
               ? NAOS_OK
               : NAOS_ESYS;
}

static void
exits_unwatch(struct node *n, struct wrun *wr)
{
    epoll_ctl(n->exits_fd, EPOLL_CTL_DEL, wr->pidfd, NULL);
}

static void
on_log(void *arg, uint32_t events)
{
    struct wrun *wr = arg;
    (void)events;
    bool eof = false;
    if (wr->log)
        proc_logfile_pump(wr->log, wr->log_rd, &eof);
    else {
        char sink[4096];
        ssize_t k = read(wr->log_rd, sink, sizeof sink);
        eof = k == 0;
    }
    if (eof) {
        reactor_del(&wr->n->r, &wr->log_watch);
        close(wr->log_rd);
        wr->log_rd = -1;
    }
}

static struct wrun *
wrun_get(struct node *n, struct sup_node *w)
{
    if (w->io_data)
        return w->io_data;
    struct wrun *wr = naos_alloc(sizeof *wr);
    if (wr == NULL)
        return NULL;
    wr->n = n;
    wr->w = w;
    wr->pidfd = wr->log_rd = wr->log_rd_spawning = -1;
    if (w->spec->output == SPEC_OUTPUT_DISCARD) {
        w->io_data = wr; /* no log file, no path */
        return wr;
    }
    size_t len = strlen(n->data_dir) + strlen(w->path) + 16;
    wr->log_path = naos_alloc(len);
    if (wr->log_path == NULL) {
        naos_free(wr);
        return NULL;
    }
    snprintf(wr->log_path, len, "%s/logs/%s.log", n->data_dir, w->path);
    /* Below DATA/logs nothing is followed: the part of the path after
     * it is opened component by component (safefile.h). */
    char root[PATH_MAX + 8];
    int root_len = snprintf(root, sizeof root, "%s/logs", n->data_dir);
    if (proc_logfile_open(&wr->log, root, wr->log_path + root_len + 1,
                          n->log_max_bytes, n->log_keep) != NAOS_OK)
        NAOS_WARN("proc", "%s: cannot open log file %s: %s; output dropped",
                  w->path, wr->log_path, strerror(errno));
    /* Created now (so `naos logs` finds it), held open only while there
     * is output to write: a quiet worker costs the node no log fd. */
    proc_logfile_release(wr->log);
    w->io_data = wr;
    return wr;
}

/* avg_add folds sample into a moving average (1/8 weight). */
static void
avg_add(uint64_t *avg, uint64_t sample)
{
    *avg = *avg == 0 ? sample : (*avg * 7 + sample) / 8;
}

static bool cwd_failed(const char *cwd, int err);
static void run_begins(struct node *n, struct wrun *wr,
                       struct proc_child child, int log_rd);

/* A spawn is made on the loop itself while spawns have lately taken less
 * than this (a quiet machine: the wait is shorter than handing it to the
 * spawner thread and back), and on the spawner otherwise (a busy machine,
 * where a child waits milliseconds for a CPU before it execs). */
#define NODE_SPAWN_INLINE_US 500

/* quick: a measured spawn time under NODE_SPAWN_INLINE_US (0: none). */
static bool
quick(uint64_t us)
{
    return us != 0 && us < NODE_SPAWN_INLINE_US;
}

/* spawn_inline_ok: wr's next spawn may be made on the loop: spawns are
 * quick lately, so was wr's own last one (its program and directory
 * answered: an exec that hangs, on a dead NFS mount say, would hold the
 * loop; a run's first spawn, or one after a failure, goes to the
 * spawner), and the spawner has nothing under way. */
static bool
spawn_inline_ok(struct node *n, const struct wrun *wr)
{
    return quick(n->spawn_wall_avg_us) && quick(wr->last_spawn_us) &&
           !proc_spawner_busy(&n->spawner);
}

/* io_spawn starts one run of w: prepared here (its log pipe, its
 * environment); made here when spawns are quick and the spawner has
 * nothing under way, else carried out on the spawner thread, so the
 * reactor does not wait for a child that is slow to exec (on_spawned
 * reports the outcome to the core). Returns 0 with *pid, the errno of what
 * failed, or SUP_SPAWN_PENDING. */
static int
io_spawn(void *ctx, struct sup_node *w, const struct sup_spawn_info *info,
         int *pid)
{
    struct node *n = ctx;
    uint64_t t0 = naos_clock_now_us(); /* a measurement: the spawn's cost */
    struct wrun *wr = wrun_get(n, w);
    if (wr == NULL)
        return ENOMEM;
    NAOS_ASSERT(wr->pid == 0 && wr->log_rd_spawning < 0);
    if (n->lease_released ||
        (!node__lease_may_run(n) && !node__lease_exempt(w))) {
        /* Its lease is running out (the clock read afresh): the fence
         * (node_lease.c) removes the tree this loop iteration. */
        NAOS_WARN("lease", "%s not started: naos-node %s holds no lease",
                  w->path, n->name);
        return EAGAIN;
    }
    /* The child's end stays blocking (a non-blocking stdout breaks many
     * programs); only our read end is non-blocking. output: discard has
     * no pipe (the child's stdio is /dev/null). */
    int p[2] = {-1, -1};
    bool logged = info->spec->output == SPEC_OUTPUT_LOG;
    if (logged) {
        if (pipe2(p, O_CLOEXEC) < 0)
            return errno;
        fcntl(p[0], F_SETFL, O_NONBLOCK);
    }
    /* NAOS_EPOCH: the placement its deployment (the path's first
     * component) is run for, kept on the run for the agent endpoint. */
    char dep[SPEC_MAX_ID_LEN + 1];
    snprintf(dep, sizeof dep, "%.*s", (int)strcspn(info->path, "/"),
             info->path);
    wr->epoch = reconcile_epoch(&n->rec, dep);
    struct proc_naos_env ne = {
        .agent = info->path,
        .node = n->name,
        .restart_count = info->restart_count,
        .restart_reason = info->restart_reason,
        .notify_socket = n->notify_path,
        .watchdog = info->spec->watchdog,
        .epoch = wr->epoch,
    };
    /* NAOS_CTL: the agent endpoint, scoped to the run; the control
     * socket only when the operator granted this worker control. */
    char *extra[] = {info->spec->control == SPEC_CONTROL_FULL ? n->ctl_env
                                                              : n->agent_env,
                     n->id_env, n->run_env, NULL};
    struct proc_spawn_opts opts = {
        .argv = info->spec->argv,
        .env = info->spec->env,
        .cwd = info->spec->cwd,
        .out_fd = p[1],
        .naos = &ne,
        .extra_env = extra,
    };
    if (spawn_inline_ok(n, wr)) {
        struct proc_child child = PROC_CHILD_ZERO;
        uint64_t s0 = naos_clock_now_us();
        int rc = proc_spawn(&opts, &child);
        uint64_t took = naos_clock_now_us() - s0;
        avg_add(&n->spawn_wall_avg_us, took);
        wr->last_spawn_us = rc == 0 ? took : 0;
        if (logged)
            close(p[1]);
        if (rc != 0) {
            if (logged)
                close(p[0]);
            rc |= cwd_failed(info->spec->cwd, rc) ? SUP_SPAWN_CWD : 0;
        } else {
            run_begins(n, wr, child, p[0]);
            *pid = child.pid;
        }
        avg_add(&n->spawn_avg_us, naos_clock_now_us() - t0);
        return rc;
    }
    struct proc_spawn_job *job = proc_spawn_job_new(&opts, wr);
    if (job == NULL) {
        if (logged) {
            close(p[0]);
            close(p[1]);
        }
        return ENOMEM;
    }
    wr->log_rd_spawning = p[0];
    proc_spawner_submit(&n->spawner, job);
    avg_add(&n->spawn_avg_us, naos_clock_now_us() - t0);
    return SUP_SPAWN_PENDING;
}

/* cwd_failed tells whether a spawn that failed with err failed because
 * its working directory cannot be entered (proc_spawn gives the same
 * errno for a missing directory as for a missing program). */
static bool
cwd_failed(const char *cwd, int err)
{
    if (cwd == NULL || (err != ENOENT && err != ENOTDIR && err != EACCES))
        return false;
    struct stat st;
    return stat(cwd, &st) != 0 || !S_ISDIR(st.st_mode) ||
           access(cwd, X_OK) != 0;
}

/* run_begins: wr's new process (child, its output on log_rd or -1) is
 * watched: its exit, its output, its pid. */
static void
run_begins(struct node *n, struct wrun *wr, struct proc_child child,
           int log_rd)
{
    wr->pid = child.pid;
    wr->pidfd = child.pidfd;
    wr->log_rd = log_rd;
    /* First: a worker the guardian does not know of would outlive the
     * node's death (and its lease). One it cannot take must not run; its
     * exit is reported the usual way. */
    int grc = node__guardian_watch(n, wr->pid, wr->pidfd,
                                   node__lease_exempt(wr->w));
    if (grc != NAOS_OK) {
        NAOS_ERROR("proc", "%s: pid %d: the guardian cannot watch it (%s): "
                   "killed, a worker must not run unguarded", wr->w->path,
                   wr->pid, naos_strerror(grc));
        proc_signal_group(wr->pid, SIGKILL);
    }
    if (n->stopping > 1) /* every worker was killed: this one too */
        proc_signal_group(wr->pid, SIGKILL);
    if (exits_watch(n, wr) != NAOS_OK ||
        idmap_put(&n->pids, (uint64_t)wr->pid, wr) != NAOS_OK)
        NAOS_ERROR("proc", "%s: cannot watch pid %d; its exit will be found "
                   "by the SIGCHLD sweep", wr->w->path, wr->pid);
    if (log_rd >= 0 && reactor_add(&n->r, &wr->log_watch, wr->log_rd,
                                   EPOLLIN, on_log, wr) != NAOS_OK)
        NAOS_WARN("proc", "%s: cannot watch its output", wr->w->path);
}

/* spawn_done: the spawner is done with job, a spawn of wr's worker. Its
 * run begins (the pid known, its exit and output watched), or the spawn's
 * errno goes to the core. */
static void
spawn_done(struct node *n, struct proc_spawn_job *job)
{
    struct wrun *wr = job->tag;
    struct sup_node *w = wr->w;
    int rc = job->rc;
    avg_add(&n->spawn_wall_avg_us, job->spawn_us);
    wr->last_spawn_us = rc == 0 ? job->spawn_us : 0;
    int p0 = wr->log_rd_spawning;
    wr->log_rd_spawning = -1;
    if (rc != 0) {
        if (p0 >= 0)
            close(p0);
        rc |= cwd_failed(job->opts.cwd, rc) ? SUP_SPAWN_CWD : 0;
        sup_on_spawned(n->tree, w, rc, 0, n->r.now);
        return;
    }
    run_begins(n, wr, job->child, p0);
    /* Its start event tells when the process was made, not when the
     * loop heard of it. */
    n->made_pid = wr->pid;
    n->made_wall_ms = job->made_wall_ms;
    n->made_mono_us = job->made_mono_us;
    sup_on_spawned(n->tree, w, 0, wr->pid, n->r.now);
    n->made_pid = 0;
}

/* take_spawns reports every spawn the spawner has done. */
static void
take_spawns(struct node *n)
{
    n->sweep_waits = false;
    struct proc_spawn_job *job = proc_spawner_take(&n->spawner);
    while (job != NULL) {
        struct proc_spawn_job *next = job->next;
        spawn_done(n, job);
        proc_spawn_job_free(job);
        job = next;
    }
}

static void
on_spawned(void *arg, uint32_t events)
{
    (void)events;
    take_spawns(arg);
}

/* A lookup waits this long at most for a spawn under way (one that hangs
 * in exec, on a dead NFS mount say, must not hold the loop). */
#define NODE_SETTLE_MAX_MS 100

bool
node__spawns_settle(struct node *n, bool may_wait)
{
    if (!proc_spawner_busy(&n->spawner))
        return false;
    take_spawns(n); /* what is done costs nothing to take */
    if (!may_wait || !proc_spawner_busy(&n->spawner) ||
        n->settled_iteration == n->r.iterations + 1)
        return true;
    n->settled_iteration = n->r.iterations + 1;
    if (!proc_spawner_settle(&n->spawner, NODE_SETTLE_MAX_MS))
        NAOS_WARN("proc", "a spawn has taken over %d ms; a message from a "
                  "process of the node that is no worker's was not "
                  "matched to it", NODE_SETTLE_MAX_MS);
    take_spawns(n);
    return true;
}

/* Ends the bookkeeping of wr's current run and reports the exit. */
static void
finish_run(struct wrun *wr, bool exited, int code)
{
    struct node *n = wr->n;
    dying_drop(n, wr);
    exits_unwatch(n, wr);
    close(wr->pidfd);
    wr->pidfd = -1;
    idmap_del(&n->pids, (uint64_t)wr->pid);
    node__guardian_unwatch(n, wr->pid); /* its group is killed, it reaped */
    wr->pid = 0;
    if (wr->log_rd >= 0) {
        on_log(wr, EPOLLIN); /* keep what the run wrote last */
        if (wr->log_rd >= 0) {
            reactor_del(&n->r, &wr->log_watch);
            close(wr->log_rd);
            wr->log_rd = -1;
        }
    }
    proc_logfile_release(wr->log);
    sup_on_exit(n->tree, wr->w, exited, code, n->r.now);
}

/* is_known_pid: pid is a worker's, or a spawn's the reactor has not
 * taken yet (asked by the orphan sweep, which holds the spawner), or the
 * guardian's (never killed by the sweep; reaped by guardian_free). */
static bool
is_known_pid(void *ctx, int pid)
{
    struct node *n = ctx;
    return idmap_get(&n->pids, (uint64_t)pid) != NULL ||
           proc_spawner_owns_pid(&n->spawner, pid) ||
           node__guardian_is(n, pid);
}

/* Reaps wr's process if it has exited. The group is killed first, while
 * the zombie still pins the group id, so nothing of the worker outlives
 * it and no unrelated process can be hit. */
static void
reap_run(struct wrun *wr)
{
    bool reaped = false, exited = false;
    int code = 0;
    /* The event may be stale: from a run already reaped in this loop
     * iteration, with a new run now on the same fd. */
    if (!proc_has_exited(wr->pidfd, wr->pid))
        return;
    proc_signal_group(wr->pid, SIGKILL);
    int rc = proc_reap_pidfd(wr->pidfd, wr->pid, &reaped, &exited, &code);
    if (rc == NAOS_ENOTFOUND) {
        NAOS_WARN("proc", "%s: pid %d was reaped elsewhere; exit status lost",
                  wr->w->path, wr->pid);
        reaped = true;
        exited = false;
        code = SIGKILL;
    } else if (rc != NAOS_OK || !reaped) {
        return;
    }
    struct node *n = wr->n;
    /* Its helpers that left its group may now be ours: sweep (later, in
     * steps, once for any number of exits). */
    proc_orphans_scan_request(&n->orphans);
    finish_run(wr, exited, code);
}

/* on_exits: some worker pidfds are readable; reap a bounded number. A
 * reap may free other runs (the core forgets nodes), but a wrun lives
 * until the iteration ends (grave_flush), and reap_run checks that the
 * event is still about the current run. */
static void
on_exits(void *arg, uint32_t events)
{
    struct node *n = arg;
    (void)events;
    struct epoll_event evs[NODE_EXITS_PER_ITERATION];
    int k = epoll_wait(n->exits_fd, evs, NODE_EXITS_PER_ITERATION, 0);
    for (int i = 0; i < k; i++)
        reap_run(evs[i].data.ptr);
}

/* Exited children looked at per loop iteration (each O(1)). */
#define NODE_PEEK_PER_ITERATION 16

/* A pass of the orphan sweep starts at most this often. Each read of the
 * kernel's children file walks the list from its head to where the last
 * read stopped, so one pass over n children costs O(n^2 / chunk): for a
 * stop of 3,000 workers, passes asked for by every reap and run back to
 * back were a third of the reactor's CPU (perf). An orphan of an exited
 * worker is now killed within this much (and a pass) of its exit. */
#define NODE_ORPHANS_PASS_MS 250

/* orphans_due: orphans_step may take a step of the sweep now. */
static bool
orphans_due(const struct node *n, naos_time now)
{
    if (!proc_orphans_scan_busy(&n->orphans))
        return false;
    return n->orphans.tasks != NULL || /* a pass is under way */
           now >= n->orphans_pass_at + NODE_ORPHANS_PASS_MS;
}

static void orphans_sweep(struct node *n);

/* orphans_step: once per loop iteration. After SIGCHLD, reaps exited
 * children that are not workers, and workers whose pidfd event has not
 * come yet; then one bounded step of the orphan sweep if one is wanted. */
static void
orphans_step(struct node *n)
{
    if (!n->chld_pending && !orphans_due(n, n->r.now)) {
        proc_spawner_unwant(&n->spawner); /* a hold asked for, not needed */
        return;
    }
    /* A child being made right now is nobody's yet: sweep once it is
     * made. The spawner pauses after it, and its job coming back wakes
     * the loop (sweep_waits: nothing to do until then). */
    if (!proc_spawner_hold(&n->spawner)) {
        n->sweep_waits = true;
        return;
    }
    orphans_sweep(n);
    proc_spawner_release(&n->spawner);
}

static void
orphans_sweep(struct node *n)
{
    if (n->chld_pending) {
        n->chld_pending = false;
        int last = 0;
        for (int i = 0;; i++) {
            struct proc_orphans_stats st = PROC_ORPHANS_STATS_ZERO;
            proc_orphans_reap_exited(is_known_pid, n, &st);
            if (st.reaped) /* its own children are reparented to us */
                proc_orphans_scan_request(&n->orphans);
            if (st.known_exited == 0 || st.known_exited == last)
                break; /* none, or one reap_run could not take: its pidfd */
            if (i == NODE_PEEK_PER_ITERATION) {
                n->chld_pending = true; /* the rest next iteration */
                break;
            }
            last = st.known_exited;
            if (node__guardian_is(n, st.known_exited)) {
                /* Its zombie is first in line: replaced and reaped. */
                node__guardian_check(n);
                continue;
            }
            struct wrun *wr = idmap_get(&n->pids, (uint64_t)st.known_exited);
            if (wr == NULL)
                break;
            reap_run(wr);
        }
    }
    if (orphans_due(n, n->r.now)) {
        struct proc_orphans_stats st = PROC_ORPHANS_STATS_ZERO;
        if (n->orphans.tasks == NULL)
            n->orphans_pass_at = n->r.now; /* this step starts a pass */
        proc_orphans_scan_step(&n->orphans, is_known_pid, n, &st);
        if (st.killed)
            NAOS_INFO("proc", "killed %u orphaned process(es)", st.killed);
    }
}

/* One slice of the supervision core should keep the reactor about this
 * long, so a ping waits at most that for a big tree's start or stop. */
#define NODE_SLICE_SPAWN_US 4000
#define NODE_SLICE_SIGNAL_US 2000

/* Until measured, assume costs on the slow side: the first slice of the
 * node's life is then small rather than long (a spawn is 0.1-1 ms on an
 * idle machine, tens of ms on a loaded one; a group signal a few us). */
#define NODE_SPAWN_US_GUESS 1000
#define NODE_SIGNAL_US_GUESS 50

static uint32_t
slice_for(uint64_t target_us, uint64_t avg_us, uint64_t guess_us, uint32_t lo,
          uint32_t hi)
{
    uint64_t k = target_us / (avg_us ? avg_us : guess_us);
    return k < lo ? lo : k > hi ? hi : (uint32_t)k;
}

/* size_slice sets the core's budget from what spawns and signals cost
 * lately: a loaded machine gets smaller slices, not longer freezes. */
static void
size_slice(struct node *n)
{
    uint32_t signals = slice_for(NODE_SLICE_SIGNAL_US, n->signal_avg_us,
                                 NODE_SIGNAL_US_GUESS, 4, 1024);
    /* No more signals than runs may still start dying (the core is not
     * ticked when none may; a command still gets its one). */
    uint32_t room = dying_full(n) ? 1 : n->dying_max - n->ndying;
    sup_set_slice(n->tree,
                  slice_for(NODE_SLICE_SPAWN_US, n->spawn_avg_us,
                            NODE_SPAWN_US_GUESS, 1, 64),
                  signals < room ? signals : room);
}

static void
io_signal(void *ctx, struct sup_node *w, int signo)
{
    struct node *n = ctx;
    struct wrun *wr = w->io_data;
    if (wr && wr->pid > 0) {
        dying_push(n, wr);
        uint64_t t0 = naos_clock_now_us(); /* a measurement */
        proc_signal_group(wr->pid, signo);
        avg_add(&n->signal_avg_us, naos_clock_now_us() - t0);
    }
}

static void
io_event(void *ctx, const struct sup_event *ev)
{
    struct node *n = ctx;
    char reason[64];
    sup_reason_format(ev->reason, reason, sizeof reason);
    const char *kind = sup_event_kind_name(ev->kind);
    /* The event's stamps are records' data: read from the clock here on
     * purpose (decisions use the loop's cached n->r.now). */
    /* (a sibling the same call starts gets its own stamp) */
    bool made = ev->kind == SUP_EV_START && n->made_pid != 0 &&
                ev->pid == n->made_pid;
    events_push(&n->events, kind, ev->deployment, ev->path, ev->pid,
                reason[0] ? reason : NULL, ev->restarts, ev->detail,
                made ? n->made_wall_ms : naos_clock_wall_ms(),
                made ? n->made_mono_us : naos_clock_now_us());
    enum naos_log_level lvl = NAOS_LOG_INFO;
    if (ev->kind == SUP_EV_START || ev->kind == SUP_EV_READY)
        lvl = NAOS_LOG_DEBUG;
    else if (ev->kind == SUP_EV_GIVE_UP || ev->kind == SUP_EV_ESCALATE ||
             ev->kind == SUP_EV_NODE_TROUBLE)
        lvl = NAOS_LOG_WARN;
    node__stats_on_event(n, ev);
    if (ev->kind == SUP_EV_REMOVE)
        retire_logs(n, ev->deployment); /* every worker has exited */
    if (ev->kind == SUP_EV_ESCALATE)
        node__propose_failed(n, ev->deployment, ev->detail);
    naos_log(lvl, "sup", "%s %s%s%s%s%s", kind, ev->path, reason[0] ? " " : "",
             reason, ev->detail ? " " : "", ev->detail ? ev->detail : "");
}

static uint32_t
io_random(void *ctx)
{
    (void)ctx;
    return naos_random32();
}

static void
io_forget(void *ctx, struct sup_node *node)
{
    struct node *n = ctx;
    if (node->parent == NULL)
        node__status_snaps_forget(n, node);
    struct wrun *wr = node->io_data;
    if (wr == NULL)
        return;
    dying_drop(n, wr);
    if (wr->pid > 0) {
        /* Only when the whole tree is freed at exit with runs still live
         * (the core forgets stopped nodes otherwise): drop their fds. */
        exits_unwatch(n, wr);
        close(wr->pidfd);
        idmap_del(&n->pids, (uint64_t)wr->pid);
        wr->pid = 0;
    }
    if (wr->log_rd >= 0) {
        reactor_del(&n->r, &wr->log_watch);
        close(wr->log_rd);
    }
    if (wr->log_rd_spawning >= 0)
        close(wr->log_rd_spawning);
    proc_logfile_close(wr->log);
    naos_free(wr->log_path);
    node->io_data = NULL;
    /* A later event of this loop iteration may still name wr's watches. */
    grave_push(n, wr);
}

/* ---- notify socket ----------------------------------------------------- */

/* notify_run: the run whose worker is pid or leads pid's group. */
static struct wrun *
notify_run(struct node *n, int pid)
{
    struct wrun *wr = idmap_get(&n->pids, (uint64_t)pid);
    if (wr == NULL) {
        int pg = proc_notify_sender_group(pid);
        if (pg > 0)
            wr = idmap_get(&n->pids, (uint64_t)pg);
    }
    return wr;
}

/* notify_worker_late: the run of a message from pid that no known run
 * matched, when it is a worker whose spawn the loop has yet to take (or
 * its helper): what is done is taken; for a process of the node's that is
 * still no worker's, the spawn under way is waited for. */
static struct wrun *
notify_worker_late(struct node *n, int pid)
{
    if (!node__spawns_settle(n, false))
        return NULL; /* no spawn under way: it is nobody's */
    struct wrun *wr = notify_run(n, pid);
    if (wr != NULL)
        return wr;
    /* A process of the node's that is no worker's, or one whose job the
     * spawner finished after the take above (a worker by its pid, not
     * yet a run): wait for the spawn under way, take it, look again. */
    int wpid = 0;
    enum proc_peer_kind k =
        proc_peer_find(pid, (int)getpid(), is_known_pid, n, &wpid);
    if ((k != PROC_PEER_ORPHAN && k != PROC_PEER_WORKER) ||
        !node__spawns_settle(n, true))
        return NULL;
    return notify_run(n, pid);
}

static void
on_notify(void *arg, uint32_t events)
{
    struct node *n = arg;
    (void)events;
    for (int i = 0; i < 1024; i++) {
        struct proc_notify_msg m;
        int rc = proc_notify_recv(n->notify_fd, &m);
        if (rc == PROC_NOTIFY_EMPTY || rc == NAOS_ESYS)
            return;
        if (rc != NAOS_OK)
            continue;
        struct wrun *wr = notify_run(n, m.pid);
        if (wr == NULL)
            wr = notify_worker_late(n, m.pid);
        if (wr == NULL) {
            NAOS_DEBUG("notify", "message from pid %d, not a worker", m.pid);
            continue;
        }
        sup_on_notify(n->tree, wr->w, m.ready, m.watchdog,
                      m.has_status ? m.status : NULL, n->r.now);
    }
}

/* ---- signals ----------------------------------------------------------- */

/* Tells a service manager (systemd Type=notify) what the node does; it
 * only logs when that fails: the node runs the same without one. */
static void
tell_service_manager(struct node *n, const char *msg)
{
    int e = proc_sdnotify_send(&n->service_manager, msg);
    if (e != 0)
        NAOS_WARN("node", "cannot notify the service manager: %s",
                  strerror(e));
}

void
node__stop(struct node *n)
{
    if (n->stopping++ != 0)
        return;
    tell_service_manager(n, "STOPPING=1");
    if (node__members_leave(n)) {
        NAOS_INFO("node", "leaving the cluster, then stopping every "
                  "deployment (signal again to kill at once)");
        n->leave_pending = true;
        return;
    }
    NAOS_INFO("node", "stopping every deployment (signal again to kill at "
              "once)");
    sup_shutdown(n->tree, n->r.now);
}


static void
kill_everything(struct node *n)
{
    for (size_t i = 0; i < n->pids.cap; i++) {
        struct wrun *wr = n->pids.slots[i].val;
        if (wr && wr->pid > 0)
            proc_signal_group(wr->pid, SIGKILL);
    }
}

static void
on_signal(void *arg, uint32_t events)
{
    struct node *n = arg;
    (void)events;
    struct signalfd_siginfo si;
    bool chld = false;
    while (read(n->sig_fd, &si, sizeof si) == sizeof si) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            chld = true;
            break;
        case SIGTERM:
        case SIGINT:
            if (n->stopping == 0) {
                node__stop(n);
            } else {
                n->stopping++;
                NAOS_WARN("node", "second stop signal: killing every worker");
                if (n->leave_pending) {
                    n->leave_pending = false;
                    sup_shutdown(n->tree, n->r.now);
                }
                kill_everything(n);
            }
            break;
        default:
            break;
        }
    }
    if (chld)
        n->chld_pending = true; /* orphans_step, after this batch */
}

void
node_block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* ---- lifecycle ---------------------------------------------------------- */

/* The directories a node trusts (safedir.h), as errors name them. */
static const struct safedir_names run_names = {
    "run directory", "choose another --run DIR"};
static const struct safedir_names data_names = {
    "data directory", "choose another --data DIR"};

/* refusal says why safefile refused a file, from its errno. */
static const char *
refusal(int e)
{
    switch (e) {
    case ELOOP: return "it is a symbolic link";
    case EMLINK: return "it has other hard links";
    case EPERM: return "it is not a regular file of ours";
    default: return strerror(e);
    }
}

/* prepare_dirs creates (0700) or checks RUN, DATA, DATA/store and
 * DATA/logs: each must be ours and closed to group and others before
 * anything is opened in it (issue 9: a run directory another user made
 * first let them plant links and bind our sockets). */
static int
prepare_dirs(struct node *n, char *errbuf, size_t errlen)
{
    uid_t me = geteuid();
    int rc;
    if ((rc = safedir_make(n->run_dir, me, &run_names, errbuf, errlen)) !=
            NAOS_OK ||
        (rc = safedir_make(n->data_dir, me, &data_names, errbuf, errlen)) !=
            NAOS_OK)
        return rc;
    static const struct safedir_names subs[] = {
        {"store directory", "choose another --data DIR"},
        {"log directory", "choose another --data DIR"},
    };
    static const char *const sub_names[] = {"store", "logs"};
    for (size_t i = 0; i < 2; i++) {
        char sub[PATH_MAX + 16];
        snprintf(sub, sizeof sub, "%s/%s", n->data_dir, sub_names[i]);
        if ((rc = safedir_make(sub, me, &subs[i], errbuf, errlen)) != NAOS_OK)
            return rc;
    }
    /* LMDB opens its files by name, following links: whatever is there
     * must be a plain file of ours (planted before the directory was
     * fixed, a link would have the store write elsewhere). */
    static const char *const store_files[] = {"store.lock", "data.mdb",
                                              "lock.mdb"};
    char store_dir[PATH_MAX + 16];
    snprintf(store_dir, sizeof store_dir, "%s/store", n->data_dir);
    int dfd;
    if ((rc = safefile_open_dir(store_dir, "", false, &dfd)) != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot open %s: %s", store_dir,
                 strerror(errno));
        return NAOS_ESYS;
    }
    for (size_t i = 0; i < 3; i++) {
        int fd;
        rc = safefile_openat(dfd, store_files[i], O_RDONLY, 0, &fd);
        if (rc == NAOS_OK)
            close(fd);
        else if (rc == NAOS_ENOTFOUND)
            rc = NAOS_OK;
        else {
            snprintf(errbuf, errlen, "refusing %s/%s: %s: move it aside, or "
                     "choose another --data DIR", store_dir, store_files[i],
                     refusal(errno));
            rc = rc == NAOS_EINVAL ? NAOS_EINVAL : NAOS_ESYS;
            break;
        }
    }
    close(dfd);
    return rc;
}

static int
lock_run_dir(struct node *n, char *errbuf, size_t errlen)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/node.lock", n->run_dir);
    /* Never through a link or into someone else's file: the node once
     * truncated a root-owned file planted here as a link (issue 9). */
    int dfd, rc;
    if ((rc = safefile_open_dir(n->run_dir, "", false, &dfd)) == NAOS_OK) {
        rc = safefile_openat(dfd, "node.lock", O_RDWR | O_CREAT, 0600,
                             &n->lock_fd);
        int e = errno;
        close(dfd);
        errno = e;
    }
    if (rc == NAOS_EINVAL) {
        snprintf(errbuf, errlen, "refusing %s: %s; remove it (`rm %s`), or "
                 "choose another --run DIR", path, refusal(errno), path);
        return NAOS_EINVAL;
    }
    if (rc != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot open %s: %s", path, strerror(errno));
        return NAOS_ESYS;
    }
    if (flock(n->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        char pid[32] = "?";
        ssize_t k = pread(n->lock_fd, pid, sizeof pid - 1, 0);
        if (k > 0)
            pid[strcspn(pid, "\n")] = '\0';
        snprintf(errbuf, errlen,
                 "another naos-node (pid %s) is using run directory %s: stop "
                 "it, or give this one its own --run DIR",
                 k > 0 ? pid : "?", n->run_dir);
        return NAOS_EBUSY;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
    if (ftruncate(n->lock_fd, 0) < 0 || pwrite(n->lock_fd, pid, len, 0) < 0)
        NAOS_WARN("node", "cannot record our pid in %s", path);
    return NAOS_OK;
}

/* remove_logs removes DATA/logs/[SUB/]NAME, the logs of a deployment
 * that is gone, so a new deployment of the same name starts with none
 * (issue 10); sub "" or NODE_LOGS_PREVIOUS. Nothing below DATA/logs is
 * followed (safefile_remove_tree). */
static void
remove_logs(struct node *n, const char *sub, const char *name)
{
    char root[PATH_MAX + 8];
    snprintf(root, sizeof root, "%s/logs", n->data_dir);
    int dfd;
    int rc = safefile_open_dir(root, sub, false, &dfd);
    if (rc == NAOS_OK) {
        rc = safefile_remove_tree(dfd, name);
        int e = errno;
        close(dfd);
        errno = e;
    }
    if (rc != NAOS_OK && rc != NAOS_ENOTFOUND)
        NAOS_WARN("node", "cannot remove the logs of %s in %s: %s", name,
                  root, rc == NAOS_ESYS ? strerror(errno)
                                        : naos_strerror(rc));
}

/* retire_logs: the tree of deployment name is gone. Removed for good
 * (no record): its logs go, the last run's kept below too. Still
 * recorded (it moved to another node, was drained or fenced): they are
 * kept as DATA/logs/.previous/NAME, replacing an older copy, for `naos
 * logs --previous` (a deployment name never starts with a dot, and the
 * sweep passes dot names over). */
static void
retire_logs(struct node *n, const char *name)
{
    char keep[SPEC_MAX_ID_LEN + 16];
    snprintf(keep, sizeof keep, NODE_LOGS_PREVIOUS "/%s", name);
    remove_logs(n, NODE_LOGS_PREVIOUS, name);
    if (!node__dep_recorded(n, name)) {
        remove_logs(n, "", name);
        return;
    }
    char root[PATH_MAX + 8];
    snprintf(root, sizeof root, "%s/logs", n->data_dir);
    int dfd;
    if (safefile_open_dir(root, "", false, &dfd) != NAOS_OK)
        return; /* no logs at all */
    if ((mkdirat(dfd, NODE_LOGS_PREVIOUS, 0700) != 0 && errno != EEXIST) ||
        (renameat(dfd, name, dfd, keep) != 0 && errno != ENOENT)) {
        NAOS_WARN("node", "cannot keep the logs of %s's last run in %s/%s: "
                  "%s", name, root, keep, strerror(errno));
        remove_logs(n, "", name);
    }
    close(dfd);
}

/* sweep_logs removes the log directories of deployments the store no
 * longer holds: their rm was acknowledged (and persisted) but the node
 * stopped before the workers had, which is when remove_logs runs. Only
 * directories are touched; anything else in DATA/logs is not ours. */
static void
sweep_logs(struct node *n, Naos__V1__DeploymentRecord **recs, size_t nrecs)
{
    char root[PATH_MAX + 8];
    snprintf(root, sizeof root, "%s/logs", n->data_dir);
    int dfd;
    if (safefile_open_dir(root, "", false, &dfd) != NAOS_OK)
        return;
    int lfd = dup(dfd);
    DIR *d = lfd >= 0 ? fdopendir(lfd) : NULL;
    if (d == NULL) {
        if (lfd >= 0)
            close(lfd);
        close(dfd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", and never a deployment name */
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode))
            continue;
        bool known = false;
        for (size_t i = 0; i < nrecs && !known; i++)
            known = recs[i]->name && strcmp(recs[i]->name, e->d_name) == 0;
        if (known)
            continue;
        if (safefile_remove_tree(dfd, e->d_name) == NAOS_OK)
            NAOS_INFO("node", "removed the logs of %s, a deployment removed "
                      "before the last stop", e->d_name);
        else
            NAOS_WARN("node", "cannot remove %s/%s: %s", root, e->d_name,
                      strerror(errno));
    }
    closedir(d);
    close(dfd);
}

static void
raise_fd_limit(void)
{
    /* Each worker run holds a pidfd and a log pipe. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    struct rlimit want = {1048576, 1048576};
    if (setrlimit(RLIMIT_NOFILE, &want) == 0)
        return;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

/* Removes the logs of deployments the store no longer holds (see
 * sweep_logs). The deployments themselves are brought back by the
 * reconciler (node__cmd_open). */
static void
sweep_removed_logs(struct node *n)
{
    Naos__V1__DeploymentRecord **recs = NULL;
    size_t nrecs = 0;
    if (store_deploy_list(n->store, &recs, &nrecs) != NAOS_OK) {
        NAOS_ERROR("store", "cannot list deployments: %s",
                   store_errmsg(n->store));
        return;
    }
    sweep_logs(n, recs, nrecs);
    store_deploy_list_free(recs, nrecs);
}

/* ---- events in the store ------------------------------------------------
 * The ring (node/events) is what readers see; the store's `events` table
 * (store/eventlog.h) is its copy across restarts, bounded like the ring to
 * the newest NODE_EVENTS_KEPT. Numbers go on from the last kept one, so a
 * reader's cursor stays valid and one past the end means "nothing yet". */

static bool
fill_event(uint64_t seq, Naos__V1__Event *out, void *arg)
{
    const struct events_entry *e = events_get(arg, seq);
    if (e == NULL)
        return false; /* overwritten before it was written: lost */
    out->at_wall_ms = e->at_wall_ms;
    out->at_mono_us = e->at_mono_us;
    out->kind = (char *)e->kind;
    out->deployment = e->deployment;
    out->path = e->path;
    out->pid = e->pid;
    out->reason = e->reason;
    out->restarts = e->restarts;
    out->detail = e->detail;
    out->log_index = e->log_index;
    out->log_term = e->log_term;
    return true;
}

void
node__events_flush(struct node *n)
{
    struct events *ev = &n->events;
    uint64_t last = events_last(ev);
    if (ev->persisted >= last || n->events_unsaved || n->store == NULL)
        return;
    uint64_t from = ev->persisted + 1, oldest = events_oldest(ev);
    if (from < oldest) /* one iteration recorded more than the ring holds */
        from = oldest;
    if (store_events_append(n->store, from, last, fill_event, ev,
                            NODE_EVENTS_KEPT) != NAOS_OK) {
        NAOS_ERROR("store", "cannot keep events %llu..%llu: %s; events are "
                   "no longer kept across restarts of this node",
                   (unsigned long long)from, (unsigned long long)last,
                   store_errmsg(n->store));
        n->events_unsaved = true;
        return; /* persisted stays what the store holds */
    }
    ev->persisted = last;
    n->events_flushed_at = n->r.now;
}

/* The events' part of the before-sleep commit (store/batch.h): a batch
 * when one is due (node__events_deadline passed, or half the ring waits),
 * in the loop iteration's one transaction. */
static bool
events_prepare(void *arg)
{
    struct node *n = arg;
    n->events_from = n->events_to = 0;
    struct events *ev = &n->events;
    uint64_t last = events_last(ev);
    uint64_t pending = last - ev->persisted;
    if (pending == 0 || n->events_unsaved)
        return false;
    if ((n->events_timer_off || n->r.now < node__events_deadline(n)) &&
        pending < NODE_EVENTS_KEPT / 2) /* before the ring overwrites */
        return false;
    uint64_t from = ev->persisted + 1, oldest = events_oldest(ev);
    if (from < oldest) /* one iteration recorded more than the ring holds */
        from = oldest;
    n->events_from = from;
    n->events_to = last;
    return true;
}

static int
events_write(struct store_txn *t, void *arg)
{
    struct node *n = arg;
    return store_events_append_txn(t, n->events_from, n->events_to,
                                   fill_event, &n->events, NODE_EVENTS_KEPT);
}

static void
events_done(void *arg, bool ok)
{
    struct node *n = arg;
    if (n->events_to == 0)
        return;
    if (ok) {
        n->events.persisted = n->events_to;
        n->events_flushed_at = n->r.now;
    } else {
        NAOS_ERROR("store", "cannot keep events %llu..%llu: %s; events are "
                   "no longer kept across restarts of this node",
                   (unsigned long long)n->events_from,
                   (unsigned long long)n->events_to, n->batch.errmsg);
        n->events_unsaved = true;
    }
    n->events_from = n->events_to = 0;
}

naos_time
node__events_deadline(const struct node *n)
{
    if (n->events.persisted >= events_last(&n->events) || n->events_unsaved ||
        n->events_timer_off)
        return NAOS_TIME_NEVER;
    return n->events_flushed_at + NODE_EVENTS_FLUSH_MS;
}

static int
restore_event(const Naos__V1__Event *pe, void *arg)
{
    struct events_entry e = {
        .seq = pe->seq,
        .at_wall_ms = pe->at_wall_ms,
        .deployment = pe->deployment,
        .path = pe->path,
        .reason = pe->reason,
        .detail = pe->detail,
        .pid = pe->pid,
        .restarts = pe->restarts,
        .log_index = pe->log_index,
        .log_term = pe->log_term,
    }; /* at_mono_us 0: another run's clock */
    snprintf(e.kind, sizeof e.kind, "%s", pe->kind ? pe->kind : "");
    events_restore(arg, &e);
    return NAOS_OK;
}

/* Numbers go on after the highest stored key, not only after the last
 * event that decoded: a number in the store was given (and perhaps shown)
 * once. When even that key cannot be read, nothing is written this run:
 * a write could land beneath kept events, and trimming would then delete
 * the newest. */
static void
restore_events(struct node *n)
{
    uint64_t last = 0, skipped = 0;
    if (store_events_load(n->store, NODE_EVENTS_KEPT, restore_event,
                          &n->events, &last, &skipped) != NAOS_OK) {
        if (last == 0) {
            n->events_unsaved = true;
            NAOS_ERROR("store", "cannot read the kept events: %s; this run's "
                       "events are NOT kept across restarts (their numbers "
                       "could fall beneath kept ones) and start again at "
                       "%llu", store_errmsg(n->store),
                       (unsigned long long)(events_last(&n->events) + 1));
        } else {
            NAOS_ERROR("store", "cannot read all the kept events: %s; "
                       "numbering goes on after the highest kept, %llu",
                       store_errmsg(n->store), (unsigned long long)last);
        }
    }
    if (skipped)
        NAOS_WARN("store", "%llu kept events did not decode; skipped",
                  (unsigned long long)skipped);
    events_skip_to(&n->events, last);
    n->events.persisted = events_last(&n->events);
    if (last)
        NAOS_INFO("node", "%llu events kept from before; numbering goes on "
                  "from %llu", (unsigned long long)(events_last(&n->events) -
                                                    events_oldest(&n->events) +
                                                    1),
                  (unsigned long long)(events_last(&n->events) + 1));
}

/* Starts the HTTP endpoint and records where it listens in RUN/http.addr
 * (written whole, then renamed: a reader never sees half an address). A
 * default address that is taken only costs the dashboard; one given with
 * --http is fatal. */
static int
open_http(struct node *n, const struct node_config *cfg, char *errbuf,
          size_t errlen)
{
    struct http_config hc = {.url = cfg->http_url, .token = cfg->http_token,
                             .limits = cfg->http_limits};
    char err[512] = "";
    int rc = http_open(&n->http, &n->r, &hc, node__http_answer, n, err,
                       sizeof err);
    if (rc != NAOS_OK) {
        if (cfg->http_required || rc == NAOS_ENOMEM) {
            snprintf(errbuf, errlen, "%s (give another --http ADDR, or "
                     "--http off)", err);
            return rc;
        }
        /* The default address, taken: most often by the first naos-node
         * of this machine, whose dashboard the user would then be reading
         * instead of ours. Said on stderr now, again on the ready line, and
         * by `naos nodes` and `naos ping` for as long as the node runs. */
        const char *addr = cfg->http_url;
        if (strncmp(addr, "http://", 7) == 0)
            addr += 7;
        snprintf(n->http_off, sizeof n->http_off,
                 "the default address %s could not be served (%s: another "
                 "naos-node on this machine?); restart this node with "
                 "--http 127.0.0.1:0 (any free port, written to "
                 "RUN/http.addr) or --http ADDR", addr, err);
        NAOS_WARN("http", "NO DASHBOARD, JSON API or /metrics for this node: "
                  "%s", n->http_off);
        return NAOS_OK;
    }
    char line[512];
    int len = snprintf(line, sizeof line, "%s\n", http_url(&n->http));
    snprintf(n->http_addr_path, sizeof n->http_addr_path, "%s/http.addr",
             n->run_dir);
    if (len < 0 || (size_t)len >= sizeof line ||
        safefile_write_atomic(n->run_dir, "http.addr", line, (size_t)len,
                              0644) != NAOS_OK) {
        NAOS_WARN("http", "cannot write %s: %s", n->http_addr_path,
                  strerror(errno));
        n->http_addr_path[0] = '\0';
    }
    NAOS_INFO("http", "dashboard %s/supervisors, API %s/api/v1/, metrics "
              "%s/metrics%s", http_url(&n->http), http_url(&n->http),
              http_url(&n->http),
              cfg->http_token ? "" : " (no API token: read-only)");
    return NAOS_OK;
}

/* on_store_fatal (store_fatal_fn): a commit failed (RAFT-LITE P8). The
 * node stops here, inside the store call that failed, with exit 111
 * (temporary failure: a service manager starts it again, from what is on
 * disk): nothing is acknowledged after a failed commit, not even the
 * reply of the request whose write failed (its client sees the connection
 * close: outcome unknown). Every worker is killed first (they would be
 * anyway: PR_SET_PDEATHSIG), so none runs without its supervisor. */
static void
on_store_fatal(void *arg, const char *why)
{
    struct node *n = arg;
    kill_everything(n);
    naos_log(NAOS_LOG_ERROR, "node", "fatal: unable to write the store (%s): "
             "stopping with exit 111, nothing acknowledged after it", why);
    _exit(111);
}

/* open_wire opens the node's transport between nodes (--listen; needs a
 * cluster key), registers Raft's range (node_raft.c) and node-to-node
 * requests' (commands forwarded to the leader, node_forward.c).
 * Membership registers its own range when it opens (node_members.c).
 * Frames up to one sealed envelope: a Raft append carries an entry of up
 * to 1 MiB - 2 KiB (a checkpoint). */
static int
open_wire(struct node *n, const struct node_config *cfg, char *errbuf,
          size_t errlen)
{
    if (auth_keyring_primary(&n->keyring, &(uint32_t){0}) != NAOS_OK) {
        snprintf(errbuf, errlen, "--listen needs --key FILE: membership is "
                 "never run unauthenticated (create one with `naos keygen`)");
        return NAOS_EINVAL;
    }
    struct wire_config wc = {
        .listen_url = cfg->listen_url,
        .recv_max = AUTH_MAX_ENVELOPE,
        .keyring = &n->keyring,
        .node_id = n->node_id,
        .store = n->store,
    };
    int rc = wire_open(&n->wire, &n->r, &wc, &n->batch, errbuf, errlen);
    if (rc != NAOS_OK)
        return rc;
    if ((rc = wire_register(n->wire, "raft", WIRE_TYPES_RAFT_LO,
                            WIRE_TYPES_RAFT_HI, node__raft_recv, n)) !=
            NAOS_OK ||
        (rc = wire_register(n->wire, "requests", WIRE_TYPES_REQ_LO,
                            WIRE_TYPES_REQ_HI, node__forward_recv, n)) !=
            NAOS_OK)
        snprintf(errbuf, errlen, "cannot reserve message types: %s",
                 naos_strerror(rc));
    return rc;
}

/* before_sleep: the last step of a loop iteration (Redis' beforeSleep):
 * what the iteration must persist (the senders' replay marks, a due batch
 * of events; later Raft's hard state and entries) is written in ONE synced
 * transaction (store/batch.h), and only then is what waited on it
 * released: the messages the marks gate reach their modules (node/wire),
 * whose replies go out after the commit. A failed commit does not return
 * (on_store_fatal). A writer that refused its part (a bug) costs that
 * round: logged, its messages dropped, the node goes on. */
static void
before_sleep(struct node *n)
{
    if (store_batch_commit(&n->batch) != NAOS_OK)
        NAOS_ERROR("store", "before-sleep commit refused: %s",
                   n->batch.errmsg);
}

static naos_time
next_deadline(struct node *n)
{
    if (((n->chld_pending || orphans_due(n, n->r.now)) && !n->sweep_waits) ||
        node__cmd_pending(n))
        return n->r.now; /* orphans_step or node__cmd_step has more to do */
    naos_time a = sup_next_deadline(n->tree);
    /* The core waits while dying_max runs are dying: until the oldest
     * stops counting, or (sooner) an exit wakes the loop. */
    if (dying_full(n) && a < n->dying_head->dying_at + NODE_DYING_MS)
        a = n->dying_head->dying_at + NODE_DYING_MS;
    naos_time b = node__members_deadline(n);
    naos_time r = node__raft_deadline(n);
    b = b < r ? b : r;
    r = node__forward_deadline(n);
    b = b < r ? b : r;
    r = node__relay_deadline(n);
    b = b < r ? b : r;
    r = node__join_deadline(n);
    b = b < r ? b : r;
    r = node__promote_deadline(n);
    b = b < r ? b : r;
    r = node__root_deadline(n);
    b = b < r ? b : r;
    r = node__drain_deadline(n);
    b = b < r ? b : r;
    r = node__lease_deadline(n);
    b = b < r ? b : r;
    r = node__cluster_status_deadline(n);
    b = b < r ? b : r;
    naos_time c = node__events_deadline(n);
    naos_time d = proc_orphans_scan_busy(&n->orphans)
                      ? n->orphans_pass_at + NODE_ORPHANS_PASS_MS /* next pass */
                      : NAOS_TIME_NEVER;
    a = a < b ? a : b;
    a = a < c ? a : c;
    return a < d ? a : d;
}

int
node_open(struct node **out, const struct node_config *cfg, char *errbuf,
          size_t errlen)
{
    int rc = NAOS_ENOMEM;
    struct node *n = naos_alloc(sizeof *n);
    if (n == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NAOS_ENOMEM;
    }
    n->lock_fd = n->sig_fd = n->notify_fd = n->exits_fd = -1;
    n->r.epfd = -1;
    n->orphans = (struct proc_orphans_scan)PROC_ORPHANS_SCAN_ZERO;
    snprintf(n->name, sizeof n->name, "%s", cfg->name);
    n->bootstrap_expect = cfg->bootstrap_expect;
    n->no_voter = cfg->no_voter;
    n->gossip_only = cfg->nseeds > 0 && !cfg->join &&
                     cfg->bootstrap_expect == 0;
    n->voters_opt = cfg->voters;
    n->service_manager = cfg->service_manager ? *cfg->service_manager
                                              : PROC_SDNOTIFY_ZERO;
    if (cfg->nlabels > 0 &&
        (cfg->labels == NULL ||
         spec_labels_check(cfg->labels, cfg->nlabels, errbuf, errlen) !=
             NAOS_OK)) {
        if (cfg->labels == NULL)
            snprintf(errbuf, errlen, "labels: missing");
        rc = NAOS_EINVAL;
        goto err;
    }
    if (cfg->nlabels > 0)
        memcpy(n->labels, cfg->labels, cfg->nlabels * sizeof *n->labels);
    n->nlabels = cfg->nlabels;
    if (snprintf(n->run_dir, sizeof n->run_dir, "%s", cfg->run_dir) >=
            (int)sizeof n->run_dir ||
        snprintf(n->data_dir, sizeof n->data_dir, "%s", cfg->data_dir) >=
            (int)sizeof n->data_dir) {
        snprintf(errbuf, errlen, "--run or --data path too long");
        rc = NAOS_EINVAL;
        goto err;
    }
    /* Unix socket paths are limited to 108 bytes (sun_path). */
    if (strlen(n->run_dir) > 80) {
        snprintf(errbuf, errlen, "run directory %s is too long for a unix "
                 "socket path (at most 80 bytes): choose a shorter --run DIR",
                 n->run_dir);
        rc = NAOS_EINVAL;
        goto err;
    }
    n->log_max_bytes = cfg->log_max_bytes;
    n->log_keep = cfg->log_keep ? cfg->log_keep : PROC_LOGFILE_DEFAULT_KEEP;
    if ((rc = prepare_dirs(n, errbuf, errlen)) != NAOS_OK ||
        (rc = lock_run_dir(n, errbuf, errlen)) != NAOS_OK)
        goto err;
    raise_fd_limit();
    if (proc_orphans_enable() != NAOS_OK)
        NAOS_WARN("node", "cannot become a child subreaper: orphaned "
                  "grandchildren will escape cleanup");
    if ((rc = reactor_init(&n->r)) != NAOS_OK) {
        snprintf(errbuf, errlen, "epoll: %s", strerror(errno));
        goto err;
    }
    n->stats.started_at = n->r.now;
    n->exits_fd = epoll_create1(EPOLL_CLOEXEC);
    if (n->exits_fd < 0 || reactor_add(&n->r, &n->exits_watch, n->exits_fd,
                                       EPOLLIN, on_exits, n) != NAOS_OK) {
        snprintf(errbuf, errlen, "epoll: %s", strerror(errno));
        rc = NAOS_ESYS;
        goto err;
    }
    if (proc_spawner_start(&n->spawner) != NAOS_OK ||
        reactor_add(&n->r, &n->spawner_watch, proc_spawner_fd(&n->spawner),
                    EPOLLIN, on_spawned, n) != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot start the spawner thread: %s",
                 strerror(errno));
        rc = NAOS_ESYS;
        goto err;
    }
    sigset_t set;
    pthread_sigmask(SIG_BLOCK, NULL, &set);
    n->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (n->sig_fd < 0 ||
        reactor_add(&n->r, &n->sig_watch, n->sig_fd, EPOLLIN, on_signal, n)) {
        snprintf(errbuf, errlen, "signalfd: %s", strerror(errno));
        rc = NAOS_ESYS;
        goto err;
    }
    snprintf(n->notify_path, sizeof n->notify_path, "%s/notify.sock",
             n->run_dir);
    if (proc_notify_open(n->notify_path, &n->notify_fd) != NAOS_OK ||
        reactor_add(&n->r, &n->notify_watch, n->notify_fd, EPOLLIN, on_notify,
                    n) != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot open the notify socket %s: %s",
                 n->notify_path, strerror(errno));
        rc = NAOS_ESYS;
        goto err;
    }
    /* This run's lease instance (node_lease.c), which its guardian's
     * certificate names; a plan a run before this one left is stale. */
    while (n->lease_instance == 0)
        if (getrandom(&n->lease_instance, sizeof n->lease_instance, 0) !=
                sizeof n->lease_instance && errno != EINTR) {
            snprintf(errbuf, errlen, "getrandom: %s", strerror(errno));
            rc = NAOS_ESYS;
            goto err;
        }
    snprintf(n->run_env, sizeof n->run_env, "%s=%016llx", GUARDIAN_RUN_ENV,
             (unsigned long long)n->lease_instance);
    char plan[PATH_MAX + 32];
    node__certify_plan_path(n, plan, sizeof plan);
    unlink(plan);
    if (cfg->key_file && realpath(cfg->key_file, n->key_file) == NULL)
        n->key_file[0] = '\0'; /* refused below, with the reason */
    /* Before any worker can start (node__cmd_open brings them in). */
    if ((rc = node__guardian_open(n, errbuf, errlen)) != NAOS_OK)
        goto err;
    if ((rc = events_init(&n->events, NODE_EVENTS_KEPT)) != NAOS_OK)
        goto err;
    char store_dir[PATH_MAX + 16];
    snprintf(store_dir, sizeof store_dir, "%s/store", n->data_dir);
    if ((rc = store_open(&n->store, store_dir, NULL, errbuf, errlen)) !=
        NAOS_OK)
        goto err;
    store_on_fatal(n->store, on_store_fatal, n);
    store_batch_init(&n->batch, n->store);
    n->events_writer = (struct store_batch_writer){
        .name = "events",
        .prepare = events_prepare,
        .write = events_write,
        .done = events_done,
        .arg = n,
    };
    if ((rc = store_batch_add(&n->batch, &n->events_writer)) != NAOS_OK)
        goto err;
    struct store_identity id = STORE_IDENTITY_ZERO;
    bool created = false;
    if ((rc = store_identity_get_or_create(n->store, NULL, &id, &created)) !=
        NAOS_OK) {
        snprintf(errbuf, errlen, "cannot read the node identity: %s",
                 store_errmsg(n->store));
        goto err;
    }
    n->node_id = id.node_id;
    /* Tests only (cluster-tests/it/test_ops.py): without the timed commit,
     * only a reply (or half a ring, or close) writes events, so a test can
     * tell that a reply kept what it showed before a kill -9. */
    const char *no_timer = getenv("NAOS_TESTING_EVENTS_NO_TIMER");
    if (no_timer && strcmp(no_timer, "1") == 0) {
        n->events_timer_off = true;
        NAOS_WARN("node", "NAOS_TESTING_EVENTS_NO_TIMER=1 (for tests only): "
                  "events are written only when shown, and at close");
    }
    restore_events(n);
    if ((rc = auth_keyring_init(&n->keyring, id.cluster_id)) != NAOS_OK) {
        snprintf(errbuf, errlen, "cannot set up the keyring: %s",
                 naos_strerror(rc));
        goto err;
    }
    if (cfg->key_file) {
        /* Refused when others can read it: a leaked cluster key lets anyone
         * speak for the cluster. */
        struct auth_key key = {0};
        if ((rc = auth_keyfile_load(cfg->key_file, &key, errbuf, errlen)) !=
            NAOS_OK) {
            rc = NAOS_EINVAL;
            goto err;
        }
        rc = auth_keyring_install(&n->keyring, &key);
        NAOS_INFO("node", "cluster key %08x from %s", key.id, cfg->key_file);
        auth_key_fini(&key);
        if (rc != NAOS_OK) {
            snprintf(errbuf, errlen, "cannot install the cluster key: %s",
                     naos_strerror(rc));
            goto err;
        }
    }
    if (created)
        NAOS_INFO("node", "new node identity %016llx in %s",
                  (unsigned long long)id.node_id, store_dir);
    snprintf(n->id_env, sizeof n->id_env, "NAOS_NODE_ID=%016llx",
             (unsigned long long)id.node_id);
    /* Workers of a previous run of this node that outlived it (it was
     * killed with -9) would run beside the ones we are about to restore. */
    unsigned leftovers = 0;
    proc_orphans_kill_marked(n->id_env, &leftovers);
    if (leftovers) {
        NAOS_WARN("node", "killed %u process(es) left by a previous run of "
                  "this node", leftovers);
        /* A lease says nothing of this node runs elsewhere's work: none
         * is asked for while one of them lives (node__lease_step looks
         * again). Most are gone within milliseconds. */
        for (int i = 0; i < NODE_LEFTOVERS_WAIT_MS / 10 && leftovers; i++) {
            usleep(10 * 1000);
            if (proc_orphans_count_marked(n->id_env, &leftovers) != NAOS_OK)
                leftovers = 0;
        }
        n->leftovers_alive = leftovers != 0;
        if (n->leftovers_alive)
            NAOS_ERROR("node", "%u process(es) left by a previous run of "
                       "this node outlive SIGKILL (stuck in the kernel?): "
                       "it holds no lease, so runs nothing in a cluster, "
                       "until they are gone", leftovers);
    }
    struct sup_io io = {
        .version = SUP_IO_VERSION,
        .ctx = n,
        .spawn = io_spawn,
        .signal = io_signal,
        .event = io_event,
        .random = io_random,
        .forget = io_forget,
    };
    if ((rc = sup_tree_alloc(&n->tree, &io)) != NAOS_OK) {
        snprintf(errbuf, errlen, "out of memory");
        goto err;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    cpus = cpus < 1 ? 1 : cpus > 16 ? 16 : cpus;
    n->dying_max = (uint32_t)cpus * NODE_DYING_PER_CPU;
    /* Tests only (cluster-tests/it/test_big_tree.py): a cap that does not
     * depend on the machine's CPUs. */
    const char *dmax = getenv("NAOS_TESTING_DYING_MAX");
    if (dmax && atoi(dmax) > 0 && atoi(dmax) <= 1024) {
        n->dying_max = (uint32_t)atoi(dmax);
        NAOS_WARN("node", "NAOS_TESTING_DYING_MAX=%u (for tests only): at "
                  "most that many workers are asked to stop at a time",
                  n->dying_max);
    }
    size_slice(n);
    snprintf(n->ctl_url, sizeof n->ctl_url, "ipc://%s/ctl.sock", n->run_dir);
    snprintf(n->ctl_env, sizeof n->ctl_env, "NAOS_CTL=%s", n->ctl_url);
    if ((rc = ctl_open(&n->ctl, &n->r, n->ctl_url, node__ctl_request, n, errbuf,
                       errlen)) != NAOS_OK)
        goto err;
    snprintf(n->agent_url, sizeof n->agent_url, "ipc://%s/agent.sock",
             n->run_dir);
    snprintf(n->agent_env, sizeof n->agent_env, "NAOS_CTL=%s", n->agent_url);
    if ((rc = ctl_open(&n->agent, &n->r, n->agent_url, node__agent_request, n,
                       errbuf, errlen)) != NAOS_OK)
        goto err;
    if (cfg->http_url && (rc = open_http(n, cfg, errbuf, errlen)) != NAOS_OK)
        goto err;
    /* Which log this data directory can open, before the node joins the
     * gossip: one that cannot found is refused before anyone sees it. */
    if ((rc = node__raft_voters(n, cfg->listen_url != NULL, cfg->join,
                                errbuf, errlen)) != NAOS_OK)
        goto err;
    if (cfg->listen_url &&
        ((rc = open_wire(n, cfg, errbuf, errlen)) != NAOS_OK ||
         (rc = node__members_open(n, cfg, errbuf, errlen)) != NAOS_OK))
        goto err;
    /* Last, once every listener is bound: a node that cannot start (a busy
     * --http or --listen port) must not start and then kill every agent
     * on each attempt (issue 9). Committed commands are applied first,
     * then the reconciler brings in what the applied state places here. */
    if ((rc = node__cmd_open(n, errbuf, errlen)) != NAOS_OK)
        goto err;
    sweep_removed_logs(n);
    reactor_set_deadline(&n->r, next_deadline(n));
    *out = n;
    return NAOS_OK;
err:
    node_close(n);
    return rc;
}

int
node_run(struct node *n)
{
    if (n->http.open)
        NAOS_INFO("node", "naos-node %s %s ready: control %s, dashboard "
                  "%s/supervisors", n->name, NAOS_VERSION, n->ctl_url,
                  http_url(&n->http));
    else if (n->http_off[0])
        NAOS_WARN("node", "naos-node %s %s ready: control %s, NO dashboard: "
                  "%s", n->name, NAOS_VERSION, n->ctl_url, n->http_off);
    else
        NAOS_INFO("node", "naos-node %s %s ready: control %s (--http off)",
                  n->name, NAOS_VERSION, n->ctl_url);
    /* Every listener is bound and the deployments are restored: a unit
     * ordered after naos-node.service can use the node now. */
    char ready[PATH_MAX + 64];
    snprintf(ready, sizeof ready, "READY=1\nSTATUS=serving on %s",
             n->ctl_url);
    tell_service_manager(n, ready);
    /* The loop. Each iteration: wait (epoll, until the cores' next
     * deadline), read the clock ONCE (n->r.now, n->r.wall_ms: every core
     * and handler of the iteration uses these, never a fresh read; only
     * records' stamps and cost measurements read the clock themselves),
     * dispatch what is ready (control, HTTP, exits, notify, transport:
     * envelopes are opened and held), the supervision core's timers, the
     * before-sleep commit and what it releases, membership's timers, then
     * sleep again (docs/architecture.md "The loop"). */
    for (;;) {
        if (reactor_run_once(&n->r, -1) != NAOS_OK) {
            NAOS_ERROR("node", "event loop failed: %s", strerror(errno));
            return 111;
        }
        uint64_t t0 = naos_clock_now_us(); /* a measurement (loop cost) */
        naos_time now = n->r.now;
        orphans_step(n);
        dying_expire(n, now);
        size_slice(n);
        if (sup_next_deadline(n->tree) <= now && !dying_full(n))
            sup_tick(n->tree, now);
        before_sleep(n);
        /* Membership's timers after its messages (released just above),
         * as before the transport was the node's: an ack that arrived is
         * seen before its probe times out. They only send probes, which
         * depend on nothing persisted; what they record is written by the
         * next iteration's commit (the events' timer wakes the loop). */
        node__members_tick(n);
        node__raft_step(n);
        node__join_step(n);
        node__promote_step(n);
        node__lease_step(n);
        node__certify_plan_step(n);
        node__root_step(n);
        node__drain_step(n);
        node__cmd_step(n);
        node__forward_tick(n);
        node__relay_tick(n);
        node__cluster_status_tick(n);
        if (n->fatal)
            return n->fatal; /* a store commit failed */
        if (n->leave_pending && node__members_left(n)) {
            n->leave_pending = false;
            NAOS_INFO("node", "left the cluster; stopping every deployment");
            sup_shutdown(n->tree, now);
        }
        reactor_set_deadline(&n->r, next_deadline(n));
        grave_flush(n);
        node__stats_observe_loop(n, n->r.last_lag_us +
                                        (naos_clock_now_us() - t0));
        if (n->stopping && !n->leave_pending && sup_is_quiet(n->tree)) {
            /* A member hands its placements over first (node_lease.c),
             * so they move now rather than at its lease's end. */
            naos_time wait_until = 0;
            if (!node__lease_exit_ready(n, &wait_until)) {
                naos_time next = next_deadline(n);
                reactor_set_deadline(&n->r,
                                     next < wait_until ? next : wait_until);
                continue;
            }
            NAOS_INFO("node", "every worker stopped; exiting");
            return 0;
        }
    }
}

void
node_close(struct node *n)
{
    if (n == NULL)
        return;
    /* First: NNG's threads may be handing us requests and pipe events. */
    node__members_close(n);
    wire_close(n->wire);
    n->wire = NULL;
    http_close(&n->http, &n->r);
    if (n->http_addr_path[0])
        unlink(n->http_addr_path);
    ctl_close(&n->ctl, &n->r);
    ctl_close(&n->agent, &n->r);
    /* The spawner's children die with its thread (PDEATHSIG); what it
     * made and the loop did not take yet is killed and its fds closed. */
    for (struct proc_spawn_job *job = proc_spawner_stop(&n->spawner);
         job != NULL;) {
        struct proc_spawn_job *next = job->next;
        if (job->rc == 0) {
            proc_signal_group(job->child.pid, SIGKILL);
            close(job->child.pidfd);
        }
        proc_spawn_job_free(job);
        job = next;
    }
    if (n->tree) {
        kill_everything(n);
        sup_tree_free(n->tree);
    }
    /* Every worker is stopped or SIGKILLed: the guardian goes last. */
    node__guardian_close(n);
    node__cmd_close(n);
    node__certify_close(n);
    node__raft_close(n);
    node__forward_close(n);
    node__snapshot_close(n);
    node__cluster_status_close(n);
    node__http_close(n);
    grave_flush(n);
    node__events_flush(n);
    proc_orphans_scan_fini(&n->orphans);
    node__status_snaps_fini(n);
    events_fini(&n->events);
    node__stats_fini(&n->stats);
    idmap_fini(&n->pids);
    auth_keyring_fini(&n->keyring);
    store_close(n->store);
    if (n->notify_fd >= 0)
        proc_notify_close(n->notify_fd, n->notify_path);
    if (n->sig_fd >= 0)
        close(n->sig_fd);
    if (n->exits_fd >= 0)
        close(n->exits_fd);
    reactor_fini(&n->r);
    if (n->lock_fd >= 0)
        close(n->lock_fd);
    naos_free(n);
}
