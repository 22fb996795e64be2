/* SPDX-License-Identifier: Apache-2.0 */
/* sup.c: the supervision core (sup.h). Erlang/OTP's supervisor, made
 * asynchronous: ../shared/OTP-SEMANTICS.md B1-B6 is the contract.
 *
 * Workers (one OS process each):
 *
 *   state       event                      -> state / action
 *   STOPPED     parent starts it           -> spawn; exec: RUNNING,
 *                                             notify: STARTING (start timer)
 *                                             spawn error: STOPPED, start
 *                                             failed
 *   STARTING    READY=1                    -> RUNNING (watchdog armed), started
 *   STARTING    start timer                -> STOPPING (SIGTERM, reason
 *                                             start-timeout)
 *   STARTING    exit                       -> STOPPED, start failed
 *   RUNNING     watchdog / max_runtime     -> STOPPING (SIGABRT / SIGTERM)
 *   RUNNING     exit                       -> STOPPED, parent decides
 *   any live    stop requested             -> STOPPING (SIGTERM + kill timer,
 *                                             or SIGKILL for brutal kill)
 *   STOPPING    kill timer                 -> STOPPING (SIGKILL)
 *   STOPPING    exit                       -> STOPPED (stop done, or crash
 *                                             with the kill reason)
 *   STOPPED     restart decided            -> RESTARTING (backoff or retry
 *                                             wait), then as "starts it"
 *
 * Supervisors run one plan at a time (field plan; the constants are
 * SUP__PH_*, SUP__A_*, SUP__K_* in sup_int.h):
 *
 *   PH_NONE     idle: RUNNING drains its mailbox one entry at a time;
 *               STOPPED/FAILED do nothing.
 *   PH_STOP     stop the flagged children in reverse start order, one at a
 *               time (simple-one-for-one: all at once), then plan_after:
 *               A_RESTART -> PH_DELAY or PH_START; A_STOPPED -> STOPPED;
 *               A_GIVE_UP -> exit max-restarts (top: FAILED, escalate);
 *               A_START_FAILED -> start failed (top: FAILED, escalate);
 *               A_OP_START -> start afresh; A_REMOVE -> freed.
 *   PH_DELAY    backoff before the start phase (timer on plan_child).
 *   PH_START    start the flagged children in order, each start complete
 *               before the next. K_INIT done -> RUNNING and report started;
 *               K_INIT failure -> PH_STOP(A_START_FAILED) over the started
 *               ones; K_RESTART done -> RUNNING; K_RESTART failure -> the
 *               child waits (RESTARTING) and a retry is queued in the
 *               mailbox, counted again in intensity when processed.
 *
 * Children report to their supervisor through child_event() only: started,
 * start failed, exited (own exit, or a supervisor that gave up), and the
 * completion of a requested stop (flag F_STOP_REQ). When a supervisor starts
 * or stops a child supervisor, the child's plan may finish inside that call;
 * F_SYNC turns the report into a result flag so the parent's loop is not
 * re-entered. Nodes removed while events are being handled go to a
 * graveyard and are freed when the public entry point returns.
 *
 * Node bookkeeping (building, freeing, the deadline heap, mailboxes) lives
 * in sup_node.c behind sup_int.h. */
#include "node/sup/sup.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/log.h"
#include "node/sup/sup_int.h"

static const struct sup_reason reason_none = {SUP_REASON_NONE, 0};

static void advance(struct sup_tree *t, struct sup_node *s, naos_time now);

/* ---- names ------------------------------------------------------------ */

void
sup_reason_format(struct sup_reason r, char *buf, size_t len)
{
    const char *name;
    if (len == 0)
        return;
    switch (r.kind) {
    case SUP_REASON_NONE: snprintf(buf, len, "%s", ""); break;
    case SUP_REASON_EXIT: snprintf(buf, len, "exit:%d", r.code); break;
    case SUP_REASON_SIGNAL:
        name = sigabbrev_np(r.code);
        if (name)
            snprintf(buf, len, "signal:SIG%s", name);
        else
            snprintf(buf, len, "signal:%d", r.code);
        break;
    case SUP_REASON_SHUTDOWN: snprintf(buf, len, "shutdown"); break;
    case SUP_REASON_WATCHDOG: snprintf(buf, len, "watchdog"); break;
    case SUP_REASON_TIMEOUT: snprintf(buf, len, "timeout"); break;
    case SUP_REASON_START_TIMEOUT: snprintf(buf, len, "start-timeout"); break;
    case SUP_REASON_SPAWN_FAILED:
        name = strerrorname_np(r.code);
        if (name)
            snprintf(buf, len, "spawn-failed:%s", name);
        else
            snprintf(buf, len, "spawn-failed:%d", r.code);
        break;
    case SUP_REASON_CWD_FAILED:
        name = strerrorname_np(r.code);
        if (name)
            snprintf(buf, len, "cwd-failed:%s", name);
        else
            snprintf(buf, len, "cwd-failed:%d", r.code);
        break;
    case SUP_REASON_MAX_RESTARTS: snprintf(buf, len, "max-restarts"); break;
    case SUP_REASON_NODE_RESTART: snprintf(buf, len, "node-restart"); break;
    case SUP_REASON_MIGRATED: snprintf(buf, len, "migrated"); break;
    case SUP_REASON_NODE_LOST: snprintf(buf, len, "node-lost"); break;
    case SUP_REASON_KILLED: {
        char d[32];
        naos_duration_format(r.code, d, sizeof d);
        snprintf(buf, len, "killed after %s grace", d);
        break;
    }
    default: NAOS_ASSERT(0);
    }
}

bool
sup_reason_is_clean(struct sup_reason r)
{
    switch (r.kind) {
    case SUP_REASON_EXIT: return r.code == 0;
    case SUP_REASON_SHUTDOWN:
    case SUP_REASON_KILLED: /* naos stopped it, only harder */
    case SUP_REASON_MAX_RESTARTS: return true;
    default: return false;
    }
}

const char *
sup_state_name(enum sup_state s)
{
    switch (s) {
    case SUP_STOPPED: return "stopped";
    case SUP_STARTING: return "starting";
    case SUP_RUNNING: return "running";
    case SUP_RESTARTING: return "restarting";
    case SUP_STOPPING: return "stopping";
    case SUP_FAILED: return "failed";
    default: NAOS_ASSERT(0); return "";
    }
}

const char *
sup_event_kind_name(enum sup_event_kind k)
{
    switch (k) {
    case SUP_EV_DEPLOY: return "deploy";
    case SUP_EV_START: return "start";
    case SUP_EV_READY: return "ready";
    case SUP_EV_EXIT: return "exit";
    case SUP_EV_RESTART: return "restart";
    case SUP_EV_START_FAILED: return "start-failed";
    case SUP_EV_KILL: return "kill";
    case SUP_EV_GIVE_UP: return "give-up";
    case SUP_EV_ESCALATE: return "escalate";
    case SUP_EV_STOP: return "stop";
    case SUP_EV_REMOVE: return "remove";
    case SUP_EV_NODE_TROUBLE: return "node-trouble";
    default: NAOS_ASSERT(0); return "";
    }
}

/* ---- small helpers ---------------------------------------------------- */

static struct sup_node *
top_of(struct sup_node *n)
{
    while (n->parent)
        n = n->parent;
    return n;
}

/* changed: a call is changing what n's deployment shows (sup_node.version). */
static void
changed(struct sup_tree *t, struct sup_node *n)
{
    top_of(n)->version = ++t->version;
}

static void
set_state(struct sup_node *n, enum sup_state s)
{
    if (n->state != s)
        NAOS_DEBUG("sup", "%s: %s -> %s", n->path, sup_state_name(n->state),
                   sup_state_name(s));
    n->state = s;
}

static void
emit(struct sup_tree *t, enum sup_event_kind k, struct sup_node *n,
     struct sup_reason r, const char *detail, naos_time now)
{
    if (t->io.event == NULL)
        return;
    struct sup_event ev = {
        .kind = k,
        .deployment = top_of(n)->id,
        .path = n->path,
        .pid = n->pid,
        .reason = r,
        .restarts = n->restarts,
        .detail = detail,
        .at = now,
    };
    t->io.event(t->io.ctx, &ev);
}


static size_t
index_of(const struct sup_node *s, const struct sup_node *c)
{
    for (size_t i = 0; i < s->nchildren; i++)
        if (s->children[i] == c)
            return i;
    NAOS_ASSERT(0);
    return SIZE_MAX;
}

/* exit_event: OTP's child_terminated report, for every exit of a permanent
 * child and abnormal exits of the others (B1). */
static void
exit_event(struct sup_tree *t, struct sup_node *c, struct sup_reason r,
           naos_time now)
{
    if (c->spec->restart == SPEC_PERMANENT || !sup_reason_is_clean(r))
        emit(t, SUP_EV_EXIT, c, r, NULL, now);
}

static bool
wants_restart(const struct sup_node *c)
{
    switch (c->spec->restart) {
    case SPEC_PERMANENT: return true;
    case SPEC_TRANSIENT: return !sup_reason_is_clean(c->last_exit);
    case SPEC_TEMPORARY: return false;
    default: NAOS_ASSERT(0); return false;
    }
}

/* ---- slices ----------------------------------------------------------- */

/* slice_begin refills the budget (sup_set_slice): at each sup_tick and
 * each operator command. Exits and notifications draw on what is left,
 * so that a burst of them (64 exits in one epoll batch, each able to set a
 * plan going) costs at most one slice until the next tick. */
static void
slice_begin(struct sup_tree *t)
{
    t->left_spawns = t->slice_spawns;
    t->left_signals = t->slice_signals;
}

static void
took(uint32_t *left)
{
    if (*left != UINT32_MAX && *left > 0)
        (*left)--;
}

/* send_signal: every signal the core sends goes through here (budget). */
static void
send_signal(struct sup_tree *t, struct sup_node *w, int signo)
{
    took(&t->left_signals);
    t->io.signal(t->io.ctx, w, signo);
}

/* yield: s stops its plan here for want of budget; sup_tick carries it on
 * (sup_next_deadline is due at once while anything is queued). */
static void
yield(struct sup_tree *t, struct sup_node *s, naos_time now)
{
    if (t->resume_head == NULL)
        t->resume_at = now;
    sup__resume_push(t, s);
}

/* stopping_costs_signal: stopping c sends a signal right away. */
static bool
stopping_costs_signal(const struct sup_node *c)
{
    return !c->is_supervisor && c->pid != 0 &&
           !(c->flags & SUP__F_STOP_REQ) && c->state != SUP_STOPPING;
}

/* mark_restarting: c waits to be started again by its supervisor. A
 * supervisor child shows "stopped" then, since for supervisors RESTARTING
 * means carrying out a plan of their own. */
static void
mark_restarting(struct sup_node *c)
{
    set_state(c, c->is_supervisor ? SUP_STOPPED : SUP_RESTARTING);
}

/* ---- node trouble ------------------------------------------------------ */

bool
sup_errno_is_node_trouble(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOMEM || err == EAGAIN;
}

/* trouble_delay: how long w waits before its next attempt, doubling from
 * SUP_TROUBLE_RETRY_MIN_MS up to SUP_TROUBLE_RETRY_MAX_MS, with jitter in
 * [d/2, d] so that many waiting workers do not retry in step. */
static naos_duration
trouble_delay(struct sup_tree *t, struct sup_node *w)
{
    naos_duration d = SUP_TROUBLE_RETRY_MIN_MS;
    for (uint32_t i = 0; i < w->trouble_n && d < SUP_TROUBLE_RETRY_MAX_MS; i++)
        d *= 2;
    if (d > SUP_TROUBLE_RETRY_MAX_MS)
        d = SUP_TROUBLE_RETRY_MAX_MS;
    if (w->trouble_n < UINT32_MAX)
        w->trouble_n++;
    naos_duration half = d / 2;
    uint32_t r = t->io.random ? t->io.random(t->io.ctx) : 0;
    return half + (naos_duration)((uint64_t)r % ((uint64_t)(d - half) + 1));
}

/* trouble_wait: the spawn of w failed for the node's own reasons (err).
 * Not the agent's failure: its start stays under way (the parent waits as
 * for READY=1), nothing is counted in intensity, and a timer retries it. */
static void
trouble_wait(struct sup_tree *t, struct sup_node *w, int err, naos_time now)
{
    naos_duration d = trouble_delay(t, w);
    if (!(w->flags & SUP__F_TROUBLE)) {
        w->flags |= SUP__F_TROUBLE;
        t->ntrouble++;
    }
    w->flags |= SUP__F_STARTING;
    set_state(w, SUP_RESTARTING);
    sup__timer_set(t, w, SUP__T_RETRY, sup__after_ms(now, d));
    char detail[80];
    snprintf(detail, sizeof detail, "node trouble, not counted: retry in %lldms",
             (long long)d);
    emit(t, SUP_EV_NODE_TROUBLE, w,
         (struct sup_reason){SUP_REASON_SPAWN_FAILED, err}, detail, now);
}

/* trouble_cancel: w no longer waits (its supervisor stops it). */
static void
trouble_cancel(struct sup_tree *t, struct sup_node *w)
{
    if (!(w->flags & SUP__F_TROUBLE))
        return;
    w->flags &= ~(SUP__F_TROUBLE | SUP__F_STARTING);
    t->ntrouble--;
    w->trouble_n = 0;
    sup__timer_set(t, w, SUP__T_NONE, NAOS_TIME_NEVER);
}

/* ---- workers ---------------------------------------------------------- */

static int worker_spawned(struct sup_tree *t, struct sup_node *w, int err,
                          int pid, naos_time now, struct sup_reason *why);

/* worker_start spawns one run of w (B5: exec readiness completes the start
 * at once, notify readiness at READY=1). A spawn the driver leaves pending
 * keeps the start under way until sup_on_spawned. */
static int
worker_start(struct sup_tree *t, struct sup_node *w, naos_time now,
             struct sup_reason *why)
{
    char rbuf[64];
    sup_reason_format(w->last_exit, rbuf, sizeof rbuf);
    struct sup_spawn_info info = {
        .path = w->path,
        .deployment = top_of(w)->id,
        .spec = w->spec,
        .restart_count = w->restarts,
        .restart_reason = rbuf,
    };
    w->kill_reason = reason_none;
    w->flags &= ~(SUP__F_STOP_REQ | SUP__F_STARTING);
    int pid = 0;
    took(&t->left_spawns);
    int err = t->io.spawn(t->io.ctx, w, &info, &pid);
    if (err == SUP_SPAWN_PENDING) {
        w->flags |= SUP__F_SPAWNING | SUP__F_STARTING;
        t->nspawning++;
        set_state(w, SUP_STARTING);
        return SUP__R_PENDING;
    }
    return worker_spawned(t, w, err, pid, now, why);
}

/* worker_spawned: the spawn of w returned err and pid (at once, or at
 * sup_on_spawned). SUP__R_DONE, SUP__R_PENDING (node trouble retried, or
 * READY=1 awaited) or SUP__R_FAILED with *why. */
static int
worker_spawned(struct sup_tree *t, struct sup_node *w, int err, int pid,
               naos_time now, struct sup_reason *why)
{
    enum sup_reason_kind fk = SUP_REASON_SPAWN_FAILED;
    if (err > 0 && (err & SUP_SPAWN_CWD)) {
        fk = SUP_REASON_CWD_FAILED;
        err &= ~SUP_SPAWN_CWD;
    }
    if (err > 0 && sup_errno_is_node_trouble(err)) {
        trouble_wait(t, w, err, now);
        return SUP__R_PENDING;
    }
    if (err != 0 || pid <= 0) {
        w->flags &= ~SUP__F_STARTING;
        w->last_exit = (struct sup_reason){fk, err > 0 ? err : EIO};
        w->last_exit_at = now;
        set_state(w, SUP_STOPPED);
        *why = w->last_exit;
        return SUP__R_FAILED;
    }
    w->pid = pid;
    w->trouble_n = 0;
    t->nprocs++;
    w->started_at = now;
    naos_free(w->status_text);
    w->status_text = NULL;
    const struct spec_node *sp = w->spec;
    w->runtime_at = sp->max_runtime > 0 ? sup__after_ms(now, sp->max_runtime)
                                        : NAOS_TIME_NEVER;
    if (sp->ready == SPEC_READY_NOTIFY) {
        w->flags |= SUP__F_STARTING;
        set_state(w, SUP_STARTING);
        sup__timer_set(t, w, SUP__T_START,
                  sp->start_timeout > 0 ? sup__after_ms(now, sp->start_timeout)
                                        : NAOS_TIME_NEVER);
    } else {
        w->flags &= ~SUP__F_STARTING;
        set_state(w, SUP_RUNNING);
        w->watchdog_at = sp->watchdog > 0 ? sup__after_ms(now, sp->watchdog)
                                          : NAOS_TIME_NEVER;
        sup__timer_set(t, w, SUP__T_NONE, NAOS_TIME_NEVER);
    }
    emit(t, SUP_EV_START, w, reason_none, NULL, now);
    return (w->flags & SUP__F_STARTING) ? SUP__R_PENDING : SUP__R_DONE;
}

/* worker_kill ends a run on the core's own initiative (watchdog, max
 * runtime, start timeout); the exit then carries reason. */
static void
worker_kill(struct sup_tree *t, struct sup_node *w, int signo,
            enum sup_reason_kind reason, naos_time now)
{
    if (w->pid == 0)
        return;
    naos_duration sh = w->spec->shutdown;
    if (signo == SIGTERM && sh == SPEC_SHUTDOWN_KILL)
        signo = SIGKILL;
    w->kill_reason = (struct sup_reason){reason, 0};
    w->watchdog_at = w->runtime_at = NAOS_TIME_NEVER;
    set_state(w, SUP_STOPPING);
    send_signal(t, w, signo);
    if (signo == SIGKILL || sh == SPEC_SHUTDOWN_INFINITY)
        sup__timer_set(t, w, SUP__T_KILL, NAOS_TIME_NEVER);
    else if (sh == SPEC_SHUTDOWN_KILL)
        sup__timer_set(t, w, SUP__T_KILL, now);
    else
        sup__timer_set(t, w, SUP__T_KILL, sup__after_ms(now, sh));
}

/* worker_stop: B6. brutal kill = SIGKILL now; otherwise SIGTERM and SIGKILL
 * after the shutdown time unless infinity. Done when the exit arrives. */
static int
worker_stop(struct sup_tree *t, struct sup_node *w, naos_time now)
{
    if (w->flags & SUP__F_SPAWNING) {
        /* No pid yet: the stop is carried out when the spawn reports
         * (sup_on_spawned signals a process that came of it). */
        w->flags = (w->flags & ~SUP__F_STARTING) | SUP__F_STOP_REQ;
        set_state(w, SUP_STOPPING);
        return SUP__R_PENDING;
    }
    if (w->pid == 0) {
        trouble_cancel(t, w);
        return SUP__R_DONE;
    }
    if (w->flags & SUP__F_STOP_REQ)
        return SUP__R_PENDING;
    w->flags |= SUP__F_STOP_REQ;
    w->flags &= ~SUP__F_STARTING;
    if (w->state == SUP_STOPPING)
        return SUP__R_PENDING; /* a kill of its own is already under way */
    w->watchdog_at = w->runtime_at = NAOS_TIME_NEVER;
    set_state(w, SUP_STOPPING);
    naos_duration sh = w->spec->shutdown;
    if (sh == SPEC_SHUTDOWN_KILL) {
        send_signal(t, w, SIGKILL);
        sup__timer_set(t, w, SUP__T_KILL, NAOS_TIME_NEVER);
    } else {
        send_signal(t, w, SIGTERM);
        sup__timer_set(t, w, SUP__T_KILL,
                  sh == SPEC_SHUTDOWN_INFINITY ? NAOS_TIME_NEVER
                                               : sup__after_ms(now, sh));
    }
    return SUP__R_PENDING;
}

static naos_duration
backoff_delay(struct sup_tree *t, struct sup_node *c)
{
    naos_duration lo = c->spec->backoff_min, hi = c->spec->backoff_max;
    if (lo <= 0 && hi <= 0)
        return 0;
    if (lo <= 0)
        lo = 1;
    if (hi < lo)
        hi = lo;
    naos_duration d = lo;
    for (uint32_t i = 0; i < c->backoff_n && d < hi; i++)
        d = d > hi / 2 ? hi : d * 2;
    if (d > hi)
        d = hi;
    if (c->backoff_n < UINT32_MAX)
        c->backoff_n++;
    /* Jitter spreads restarts of many children, but never below min: min
     * is also the floor between two runs (s6's one-second rule, opt-in). */
    naos_duration floor = d / 2 > lo ? d / 2 : lo, span = d - floor;
    uint32_t r = t->io.random ? t->io.random(t->io.ctx) : 0;
    return floor + (naos_duration)((uint64_t)r % ((uint64_t)span + 1));
}

/* ---- supervisor plans ------------------------------------------------- */

/* begin_stop preempts whatever s is doing and stops all its children in
 * reverse start order (B3 step 2, B6, operator commands). */
static void
begin_stop(struct sup_tree *t, struct sup_node *s, int after)
{
    sup__mbox_clear(s);
    s->plan = SUP__PH_STOP;
    s->plan_after = after;
    s->plan_cursor = s->nchildren;
    s->plan_pending = 0;
    s->flags &= ~SUP__F_FANNED;
    /* An operator restart under way (SUP__F_OP_RESTART) stays: its stop
     * completes in this stop, and held_stopped then lifts the hold without
     * queueing a start (s is going down), so the next start of s starts
     * that child rather than leaving it stopped for good. */
    for (size_t i = 0; i < s->nchildren; i++) {
        struct sup_node *c = s->children[i];
        c->flags = (c->flags & ~(SUP__F_PLAN_START | SUP__F_FAN_PENDING)) |
                   SUP__F_PLAN_STOP;
        if (c->flags & SUP__F_BACKOFF) {
            c->flags &= ~SUP__F_BACKOFF;
            sup__timer_set(t, c, SUP__T_NONE, NAOS_TIME_NEVER);
        }
        trouble_cancel(t, c);
    }
    set_state(s, SUP_STOPPING);
}

/* ---- operator commands on one child (sup_child_stop/start/restart) ---- */

/* clear_holds: a start by the operator starts everything under n. */
static void
clear_holds(struct sup_node *n)
{
    n->flags &= ~(SUP__F_HELD | SUP__F_OP_RESTART);
    for (size_t i = 0; i < n->nchildren; i++)
        clear_holds(n->children[i]);
}

/* going_down: s is stopping (not for a restart) or at rest: it starts
 * nothing until the operator or its own parent starts it again. */
static bool
going_down(const struct sup_node *s)
{
    if (s->plan == SUP__PH_STOP)
        return s->plan_after != SUP__A_RESTART;
    return s->plan == SUP__PH_NONE && s->state != SUP_RUNNING;
}

/* held_stopped: the operator's stop of c (child of s) completed. A
 * restart then queues its start, run when s is idle (OTP: a restart_child
 * call waits in the supervisor's queue). */
static void
held_stopped(struct sup_tree *t, struct sup_node *s, struct sup_node *c,
             naos_time now)
{
    set_state(c, SUP_STOPPED);
    emit(t, SUP_EV_STOP, c, (struct sup_reason){SUP_REASON_SHUTDOWN, 0},
         NULL, now);
    if (!(c->flags & SUP__F_OP_RESTART))
        return;
    c->flags &= ~(SUP__F_OP_RESTART | SUP__F_HELD);
    if (!going_down(s))
        sup__mbox_push(s, c, SUP__F_MB_START);
}

/* sup_init prepares a fresh start of s: intensity forgotten, full child
 * list, all children to start in order (B5). */
static int
sup_init(struct sup_tree *t, struct sup_node *s, naos_time now)
{
    int rv = sup__revive(t, s);
    if (rv != NAOS_OK)
        return rv;
    sup_intensity_reset(&s->intensity);
    sup__mbox_clear(s);
    for (size_t i = 0; i < s->nchildren; i++) {
        struct sup_node *c = s->children[i];
        c->flags &= ~(SUP__F_PLAN_STOP | SUP__F_PLAN_START);
        if (!(c->flags & SUP__F_HELD)) /* the operator stopped it */
            c->flags |= SUP__F_PLAN_START;
    }
    s->plan = SUP__PH_START;
    s->plan_kind = SUP__K_INIT;
    s->plan_cursor = 0;
    s->plan_end = SIZE_MAX;
    s->plan_child = NULL;
    naos_free(s->fail_path);
    s->fail_path = NULL;
    s->plan_reason = reason_none;
    s->started_at = now;
    set_state(s, SUP_STARTING);
    return NAOS_OK;
}

/* child_start starts child c of s: SUP__R_DONE, SUP__R_PENDING (completion
 * comes as a child_event) or SUP__R_FAILED with *why. */
static int
child_start(struct sup_tree *t, struct sup_node *s, struct sup_node *c,
            naos_time now, struct sup_reason *why)
{
    /* A queued notice belongs to the old run: drop it. */
    sup__mbox_remove(s, c);
    c->flags &= ~(SUP__F_BACKOFF | SUP__F_STOP_REQ);
    if (!c->is_supervisor)
        return worker_start(t, c, now, why);
    if (sup_init(t, c, now) != NAOS_OK) {
        c->last_exit = (struct sup_reason){SUP_REASON_SPAWN_FAILED, ENOMEM};
        *why = c->last_exit;
        return SUP__R_FAILED;
    }
    c->flags = (c->flags & ~(SUP__F_RES | SUP__F_STARTING)) | SUP__F_SYNC;
    advance(t, c, now);
    unsigned res = c->flags & SUP__F_RES;
    c->flags &= ~(SUP__F_SYNC | SUP__F_RES);
    if (res & SUP__F_RES_OK)
        return SUP__R_DONE;
    if (res & SUP__F_RES_FAIL) {
        *why = c->plan_reason;
        return SUP__R_FAILED;
    }
    c->flags |= SUP__F_STARTING;
    return SUP__R_PENDING;
}

/* child_stop asks child c to stop: SUP__R_DONE (already stopped) or
 * SUP__R_PENDING (completion comes as a child_event with SUP__F_STOP_REQ). */
static int
child_stop(struct sup_tree *t, struct sup_node *c, naos_time now)
{
    if (!sup__live(c)) {
        /* A spawn reported after the stop began may have left it waiting
         * out node trouble: that retry must not start it again. */
        if (!c->is_supervisor)
            trouble_cancel(t, c);
        return SUP__R_DONE;
    }
    if (!c->is_supervisor)
        return worker_stop(t, c, now);
    if (c->flags & SUP__F_STOP_REQ)
        return SUP__R_PENDING;
    c->flags &= ~(SUP__F_STARTING | SUP__F_RES);
    c->flags |= SUP__F_STOP_REQ | SUP__F_SYNC;
    if (c->plan != SUP__PH_STOP || c->plan_after == SUP__A_RESTART)
        begin_stop(t, c, SUP__A_STOPPED);
    advance(t, c, now);
    unsigned res = c->flags & SUP__F_RES;
    c->flags &= ~(SUP__F_SYNC | SUP__F_RES);
    return (res & SUP__F_RES_DONE) ? SUP__R_DONE : SUP__R_PENDING;
}

/* enter_start begins the start phase at cursor, after the backoff delay of
 * the dead child when it has one. */
static void
enter_start(struct sup_tree *t, struct sup_node *s, size_t cursor,
            naos_time now)
{
    struct sup_node *d = s->plan_child;
    s->plan_kind = SUP__K_RESTART;
    s->plan_cursor = cursor;
    naos_duration delay = d ? backoff_delay(t, d) : 0;
    if (delay > 0) {
        s->plan = SUP__PH_DELAY;
        d->flags |= SUP__F_BACKOFF;
        mark_restarting(d);
        sup__timer_set(t, d, SUP__T_BACKOFF, sup__after_ms(now, delay));
    } else {
        s->plan = SUP__PH_START;
    }
}

/* give_up: B3. Not restarting c; stop the rest; then exit max-restarts. */
static void
give_up(struct sup_tree *t, struct sup_node *s, struct sup_node *c,
        naos_time now)
{
    emit(t, SUP_EV_GIVE_UP, s, c->last_exit, c->path, now);
    naos_free(s->fail_path);
    s->fail_path = naos_strdup(c->path); /* NULL on ENOMEM: message only */
    s->plan_reason = c->last_exit;
    begin_stop(t, s, SUP__A_GIVE_UP);
}

/* restart_decision: one restart decision of idle s for its child c (an exit
 * or a retry). The intensity check comes first and counts once whatever the
 * strategy (B2); then the plan (B4). */
static void
restart_decision(struct sup_tree *t, struct sup_node *s, struct sup_node *c,
                 bool retry, naos_time now)
{
    if (!sup_intensity_add(&s->intensity, now / 1000)) {
        give_up(t, s, c, now);
        return;
    }
    emit(t, SUP_EV_RESTART, c, c->last_exit, NULL, now);
    s->plan_child = c;
    s->plan_kind = SUP__K_RESTART;
    set_state(s, SUP_RESTARTING);
    mark_restarting(c);
    size_t idx = index_of(s, c);
    enum spec_strategy st = s->spec->strategy;
    bool single = st == SPEC_ONE_FOR_ONE || st == SPEC_SIMPLE_ONE_FOR_ONE;
    s->plan_end = single ? idx + 1 : SIZE_MAX;
    if (retry && st != SPEC_ONE_FOR_ALL) {
        /* B4, OTP's try_again_restart: rest_for_one (and the single-child
         * strategies) start again from c; its later siblings still carry
         * their start flags and the earlier ones were never stopped. */
        c->flags |= SUP__F_PLAN_START;
        enter_start(t, s, idx, now);
        return;
    }
    /* A one_for_all retry is a whole new one_for_all restart, as OTP's
     * try_again_restart calls restart/2 again: the siblings the failed
     * attempt started are stopped (reverse order) and all start afresh. */
    c->flags |= SUP__F_PLAN_START;
    if (single) {
        enter_start(t, s, idx, now);
        return;
    }
    size_t from = st == SPEC_ONE_FOR_ALL ? 0 : idx;
    for (size_t i = from; i < s->nchildren; i++) {
        struct sup_node *x = s->children[i];
        if (x == c)
            continue;
        x->flags |= SUP__F_PLAN_STOP;
        if (x->spec->restart != SPEC_TEMPORARY && !(x->flags & SUP__F_HELD))
            x->flags |= SUP__F_PLAN_START;
    }
    s->plan = SUP__PH_STOP;
    s->plan_after = SUP__A_RESTART;
    s->plan_cursor = s->nchildren;
    s->plan_pending = 0;
    s->flags &= ~SUP__F_FANNED;
}

/* op_start: the operator starts child c of idle s (sup_child_start), as
 * OTP's restart_child: one start, not counted in the intensity; a failed
 * start leaves c stopped (held) with no retry. */
static void
op_start(struct sup_node *s, struct sup_node *c)
{
    clear_holds(c); /* everything under it starts */
    c->flags = (c->flags & ~SUP__F_PLAN_STOP) | SUP__F_PLAN_START;
    s->plan = SUP__PH_START;
    s->plan_kind = SUP__K_OPSTART;
    s->plan_cursor = index_of(s, c);
    s->plan_end = s->plan_cursor + 1;
    s->plan_child = NULL;
    set_state(s, SUP_RESTARTING);
}

/* start_left: the child whose retry idle s was to run is held since. The
 * siblings that restart still had to start after it (rest_for_one,
 * one_for_all) start now, not counted: no new decision was made. */
static void
start_left(struct sup_node *s)
{
    for (size_t i = 0; i < s->nchildren; i++) {
        if (!(s->children[i]->flags & SUP__F_PLAN_START))
            continue;
        s->plan = SUP__PH_START;
        s->plan_kind = SUP__K_RESTART;
        s->plan_cursor = i;
        s->plan_end = SIZE_MAX;
        s->plan_child = NULL;
        set_state(s, SUP_RESTARTING);
        return;
    }
}

/* mbox_process_one handles the oldest mailbox entry of idle s. */
static void
mbox_process_one(struct sup_tree *t, struct sup_node *s, naos_time now)
{
    struct sup_node *c = s->mbox_head;
    unsigned kind = c->flags & SUP__F_MB;
    sup__mbox_remove(s, c);
    if (sup__live(c))
        return; /* stale: c was started again since */
    if (kind & SUP__F_MB_START) {
        op_start(s, c);
        return;
    }
    if (kind & SUP__F_MB_RETRY) {
        if (c->flags & SUP__F_PLAN_START)
            restart_decision(t, s, c, true, now);
        else
            start_left(s); /* c is held since */
        return;
    }
    if (wants_restart(c)) {
        restart_decision(t, s, c, false, now);
        return;
    }
    c->flags &= ~(SUP__F_PLAN_START | SUP__F_PLAN_STOP);
    if (c->spec->restart == SPEC_TEMPORARY)
        sup__child_remove(t, s, index_of(s, c));
}

/* plan_start_failed: the start of c (the start phase's current child)
 * failed. Initial start: stop the started ones and fail (B5). Restart:
 * c waits, a retry is queued and counted when processed (B2). */
static void
plan_start_failed(struct sup_tree *t, struct sup_node *s, struct sup_node *c,
                  struct sup_reason why, naos_time now)
{
    c->flags &= ~SUP__F_STARTING;
    emit(t, SUP_EV_START_FAILED, c, why, NULL, now);
    if (s->plan_kind == SUP__K_INIT) {
        naos_free(s->fail_path);
        if (c->is_supervisor && c->fail_path) {
            s->fail_path = c->fail_path; /* the deepest failure, moved up */
            c->fail_path = NULL;
        } else {
            s->fail_path = naos_strdup(c->path);
        }
        s->plan_reason = why;
        size_t started = s->plan_cursor;
        begin_stop(t, s, SUP__A_START_FAILED);
        for (size_t i = started; i < s->nchildren; i++)
            s->children[i]->flags &= ~SUP__F_PLAN_STOP;
        return;
    }
    if (s->plan_kind == SUP__K_OPSTART) {
        /* restart_child answers {error, Reason}: no retry, not counted. */
        c->flags = (c->flags & ~SUP__F_PLAN_START) | SUP__F_HELD;
        set_state(c, SUP_STOPPED);
        s->plan = SUP__PH_NONE;
        set_state(s, SUP_RUNNING);
        return;
    }
    mark_restarting(c);
    sup__mbox_push(s, c, SUP__F_MB_RETRY);
    s->plan = SUP__PH_NONE;
    set_state(s, SUP_RUNNING);
}

static void report_up(struct sup_tree *t, struct sup_node *s, int up,
                      struct sup_reason r, naos_time now);

/* top_start starts deployment top afresh. */
static void
top_start(struct sup_tree *t, struct sup_node *top, naos_time now)
{
    naos_free(top->failure);
    top->failure = NULL;
    clear_holds(top); /* the operator starts everything under it */
    if (sup_init(t, top, now) != NAOS_OK) {
        top->plan = SUP__PH_NONE;
        set_state(top, SUP_FAILED);
        top->failure = sup__fmt_alloc("failed to start: out of memory");
        emit(t, SUP_EV_ESCALATE, top, reason_none, top->failure, now);
    }
}

static void
top_failed(struct sup_tree *t, struct sup_node *top, naos_time now)
{
    char rbuf[64];
    const char *f = top->fail_path ? top->fail_path : top->path;
    sup_reason_format(top->plan_reason, rbuf, sizeof rbuf);
    naos_free(top->failure);
    if (top->plan_after == SUP__A_GIVE_UP)
        top->failure = sup__fmt_alloc(
            "reached max restart intensity (%u in %us): %s %s",
            top->spec->max_restarts, top->spec->window_s, f, rbuf);
    else
        top->failure = sup__fmt_alloc("failed to start: %s %s", f, rbuf);
    naos_free(top->fail_path);
    top->fail_path = NULL;
    set_state(top, SUP_FAILED);
    emit(t, SUP_EV_ESCALATE, top, top->last_exit, top->failure, now);
}

static void
dep_unlink(struct sup_tree *t, struct sup_node *top)
{
    struct sup_node **pp = &t->deps;
    while (*pp && *pp != top)
        pp = &(*pp)->dep_next;
    if (*pp)
        *pp = top->dep_next;
    top->dep_next = NULL;
}

/* stop_done: the stop phase of s finished; continue per plan_after. */
static void
stop_done(struct sup_tree *t, struct sup_node *s, naos_time now)
{
    int after = s->plan_after;
    s->plan = SUP__PH_NONE;
    switch (after) {
    case SUP__A_RESTART: enter_start(t, s, 0, now); return;
    case SUP__A_STOPPED:
        s->last_exit = (struct sup_reason){SUP_REASON_SHUTDOWN, 0};
        s->last_exit_at = now;
        set_state(s, SUP_STOPPED);
        if (s->parent)
            report_up(t, s, SUP__UP_EXIT, s->last_exit, now);
        else
            emit(t, SUP_EV_STOP, s, s->last_exit, NULL, now);
        return;
    case SUP__A_GIVE_UP:
        s->last_exit = (struct sup_reason){SUP_REASON_MAX_RESTARTS, 0};
        s->last_exit_at = now;
        if (s->parent) {
            set_state(s, SUP_STOPPED);
            report_up(t, s, SUP__UP_EXIT, s->last_exit, now);
        } else {
            top_failed(t, s, now);
        }
        return;
    case SUP__A_START_FAILED:
        s->last_exit = s->plan_reason;
        s->last_exit_at = now;
        if (s->parent) {
            set_state(s, SUP_STOPPED);
            report_up(t, s, SUP__UP_START_FAILED, s->plan_reason, now);
        } else {
            top_failed(t, s, now);
        }
        return;
    case SUP__A_OP_START:
        set_state(s, SUP_STOPPED);
        top_start(t, s, now);
        return;
    case SUP__A_REMOVE:
        set_state(s, SUP_STOPPED);
        emit(t, SUP_EV_REMOVE, s, reason_none, NULL, now);
        dep_unlink(t, s);
        sup__graveyard(t, s);
        return;
    default: NAOS_ASSERT(0);
    }
}

/* stop_step advances the stop phase; true when it finished. */
static bool
stop_step(struct sup_tree *t, struct sup_node *s, naos_time now)
{
    if (sup__is_pool(s)) {
        /* B4: all at once, without waiting for one before the next. The
         * signals go out in slices (oldest first: plan_cursor counts the
         * children not yet signalled), each worker's kill timer running
         * from its own signal; stop order is undefined in OTP anyway. */
        while (!(s->flags & SUP__F_FANNED)) {
            if (s->plan_cursor == 0) {
                s->flags |= SUP__F_FANNED;
                break;
            }
            struct sup_node *c = s->children[s->nchildren - s->plan_cursor];
            if (c->flags & SUP__F_PLAN_STOP) {
                if (stopping_costs_signal(c) && t->left_signals == 0) {
                    yield(t, s, now);
                    return false;
                }
                if (child_stop(t, c, now) == SUP__R_PENDING) {
                    c->flags |= SUP__F_FAN_PENDING;
                    s->plan_pending++;
                }
            }
            s->plan_cursor--;
        }
        if (s->plan_pending > 0)
            return false;
        size_t j = 0;
        for (size_t i = 0; i < s->nchildren; i++) {
            struct sup_node *c = s->children[i];
            c->flags &= ~SUP__F_PLAN_STOP;
            if (c->state == SUP_RESTARTING)
                set_state(c, SUP_STOPPED);
            if (c->spec->restart == SPEC_TEMPORARY && !sup__live(c)) {
                sup__mbox_remove(s, c);
                sup__graveyard(t, c);
            } else {
                s->children[j++] = c;
            }
        }
        s->nchildren = j;
        s->flags &= ~SUP__F_FANNED;
        stop_done(t, s, now);
        return true;
    }
    while (s->plan_cursor > 0) {
        size_t i = s->plan_cursor - 1;
        struct sup_node *c = s->children[i];
        if (!(c->flags & SUP__F_PLAN_STOP)) {
            s->plan_cursor--;
            continue;
        }
        if (stopping_costs_signal(c) && t->left_signals == 0) {
            yield(t, s, now);
            return false;
        }
        if (child_stop(t, c, now) == SUP__R_PENDING)
            return false;
        c->flags &= ~SUP__F_PLAN_STOP;
        if (c->state == SUP_RESTARTING)
            set_state(c, SUP_STOPPED);
        if (c->spec->restart == SPEC_TEMPORARY)
            sup__child_remove(t, s, i);
        s->plan_cursor--;
    }
    stop_done(t, s, now);
    return true;
}

/* start_step advances the start phase; true when the phase ended (done or
 * failed). */
static bool
start_step(struct sup_tree *t, struct sup_node *s, naos_time now)
{
    for (;;) {
        size_t end = s->plan_end < s->nchildren ? s->plan_end : s->nchildren;
        if (s->plan_cursor >= end)
            break;
        struct sup_node *c = s->children[s->plan_cursor];
        if (!(c->flags & SUP__F_PLAN_START)) {
            s->plan_cursor++;
            continue;
        }
        if (c->flags & SUP__F_STARTING)
            return false; /* its start is under way */
        if (!c->is_supervisor && t->left_spawns == 0) {
            yield(t, s, now); /* this slice is spent: go on in sup_tick */
            return false;
        }
        if (s->plan_kind == SUP__K_RESTART)
            c->restarts++;
        struct sup_reason why = reason_none;
        int r = child_start(t, s, c, now, &why);
        if (r == SUP__R_PENDING)
            return false;
        if (r == SUP__R_FAILED) {
            plan_start_failed(t, s, c, why, now);
            return true;
        }
        c->flags &= ~SUP__F_PLAN_START;
        s->plan_cursor++;
    }
    s->plan = SUP__PH_NONE;
    s->plan_child = NULL;
    set_state(s, SUP_RUNNING);
    if (s->plan_kind == SUP__K_INIT && s->parent)
        report_up(t, s, SUP__UP_STARTED, reason_none, now);
    return true;
}

/* advance runs s's plan as far as it can go without waiting, then drains
 * its mailbox while idle. The only loop over a supervisor's work. */
static void
advance(struct sup_tree *t, struct sup_node *s, naos_time now)
{
    for (;;) {
        if (s->flags & SUP__F_DEAD)
            return;
        switch (s->plan) {
        case SUP__PH_NONE:
            if (s->state != SUP_RUNNING || s->mbox_head == NULL)
                return;
            mbox_process_one(t, s, now);
            break;
        case SUP__PH_DELAY: return;
        case SUP__PH_STOP:
            if (!stop_step(t, s, now))
                return;
            break;
        case SUP__PH_START:
            if (!start_step(t, s, now))
                return;
            break;
        default: NAOS_ASSERT(0);
        }
    }
}

/* child_event: the one way a child c tells its supervisor s about itself. */
static void
child_event(struct sup_tree *t, struct sup_node *s, struct sup_node *c,
            int up, struct sup_reason r, naos_time now)
{
    if ((c->flags & SUP__F_STOP_REQ) && up != SUP__UP_STARTED) {
        /* A requested stop completed (whatever the exit said). */
        c->flags &= ~(SUP__F_STOP_REQ | SUP__F_STARTING);
        /* Only a stop the pool's fan counted (an operator's stop of c may
         * have come first, and end before the fan gets to c). */
        if (c->flags & SUP__F_FAN_PENDING) {
            c->flags &= ~SUP__F_FAN_PENDING;
            if (s->plan == SUP__PH_STOP && sup__is_pool(s) &&
                s->plan_pending > 0)
                s->plan_pending--;
        }
        if (c->flags & SUP__F_HELD)
            held_stopped(t, s, c, now);
        advance(t, s, now);
        return;
    }
    bool target = s->plan == SUP__PH_START && s->plan_cursor < s->nchildren &&
                  s->children[s->plan_cursor] == c;
    switch (up) {
    case SUP__UP_STARTED:
        c->flags &= ~SUP__F_STARTING;
        if (target) {
            c->flags &= ~SUP__F_PLAN_START;
            s->plan_cursor++;
            advance(t, s, now);
        }
        return;
    case SUP__UP_START_FAILED:
        if (target) {
            plan_start_failed(t, s, c, r, now);
            advance(t, s, now);
            return;
        }
        c->flags &= ~SUP__F_STARTING;
        /* Not awaited any more: handle it as an exit. */
        /* fall through */
    case SUP__UP_EXIT:
        exit_event(t, c, r, now);
        if (s->plan == SUP__PH_STOP && (c->flags & SUP__F_PLAN_STOP)) {
            advance(t, s, now); /* pre-completes that stop */
            return;
        }
        if (s->plan == SUP__PH_NONE && s->state != SUP_RUNNING)
            return; /* at rest: nothing to decide */
        sup__mbox_push(s, c, SUP__F_MB_EXIT);
        advance(t, s, now);
        return;
    default: NAOS_ASSERT(0);
    }
}

/* report_up: supervisor s (not a top) reports to its parent; in-call when
 * the parent is waiting for it synchronously (SUP__F_SYNC). */
static void
report_up(struct sup_tree *t, struct sup_node *s, int up, struct sup_reason r,
          naos_time now)
{
    if (s->flags & SUP__F_SYNC) {
        if (up == SUP__UP_STARTED)
            s->flags |= SUP__F_RES_OK;
        else if (s->flags & SUP__F_STOP_REQ)
            s->flags = (s->flags & ~SUP__F_STOP_REQ) | SUP__F_RES_DONE;
        else
            s->flags |= SUP__F_RES_FAIL;
        return;
    }
    child_event(t, s->parent, s, up, r, now);
}

/* ---- timers ----------------------------------------------------------- */

/* trouble_retry: w's wait for node trouble is over; its parent still
 * awaits its start (the wait is cancelled otherwise). */
static void
trouble_retry(struct sup_tree *t, struct sup_node *w, naos_time now)
{
    if (w->flags & SUP__F_TROUBLE) {
        w->flags &= ~SUP__F_TROUBLE;
        t->ntrouble--;
    }
    struct sup_reason why = reason_none;
    int r = worker_start(t, w, now, &why);
    if (r == SUP__R_PENDING)
        return; /* trouble again, or READY=1 awaited */
    child_event(t, w->parent, w,
                r == SUP__R_DONE ? SUP__UP_STARTED : SUP__UP_START_FAILED,
                why, now);
}

static void
fire(struct sup_tree *t, struct sup_node *n, naos_time now)
{
    if (n->timer_at <= now) {
        int kind = n->timer_kind;
        sup__timer_set(t, n, SUP__T_NONE, NAOS_TIME_NEVER);
        switch (kind) {
        case SUP__T_START:
            worker_kill(t, n, SIGTERM, SUP_REASON_START_TIMEOUT, now);
            break;
        case SUP__T_KILL:
            if (n->pid != 0) {
                /* A stop whose grace ran out: its exit says so rather
                 * than a plain "shutdown". Kills of the core's own
                 * (watchdog, timeouts) keep their reason. */
                if (n->kill_reason.kind == SUP_REASON_NONE &&
                    n->spec->shutdown > 0 && n->spec->shutdown <= INT_MAX)
                    n->kill_reason = (struct sup_reason){
                        SUP_REASON_KILLED, (int)n->spec->shutdown};
                send_signal(t, n, SIGKILL);
                emit(t, SUP_EV_KILL, n, n->kill_reason, NULL, now);
            }
            break;
        case SUP__T_RETRY: trouble_retry(t, n, now); break;
        case SUP__T_BACKOFF: {
            n->flags &= ~SUP__F_BACKOFF;
            struct sup_node *s = n->parent;
            if (s && s->plan == SUP__PH_DELAY && s->plan_child == n) {
                s->plan = SUP__PH_START;
                advance(t, s, now);
            }
            break;
        }
        default: NAOS_ASSERT(0);
        }
        return;
    }
    if (n->watchdog_at <= now) {
        n->watchdog_at = NAOS_TIME_NEVER;
        sup__deadline_update(t, n);
        worker_kill(t, n, SIGABRT, SUP_REASON_WATCHDOG, now);
        return;
    }
    if (n->runtime_at <= now) {
        n->runtime_at = NAOS_TIME_NEVER;
        sup__deadline_update(t, n);
        worker_kill(t, n, SIGTERM, SUP_REASON_TIMEOUT, now);
        return;
    }
    NAOS_ASSERT(0);
}

/* ---- public API ------------------------------------------------------- */

int
sup_tree_alloc(struct sup_tree **out, const struct sup_io *io)
{
    if (io == NULL || io->version != SUP_IO_VERSION || io->spawn == NULL ||
        io->signal == NULL)
        return NAOS_EINVAL;
    struct sup_tree *t = naos_alloc(sizeof *t);
    if (t == NULL)
        return NAOS_ENOMEM;
    t->io = *io;
    sup_set_slice(t, SUP_SLICE_DEFAULT_SPAWNS, SUP_SLICE_DEFAULT_SIGNALS);
    slice_begin(t);
    *out = t;
    return NAOS_OK;
}

void
sup_set_slice(struct sup_tree *t, uint32_t spawns, uint32_t signals)
{
    t->slice_spawns = spawns ? spawns : UINT32_MAX;
    t->slice_signals = signals ? signals : UINT32_MAX;
    /* A smaller slice applies at once; a larger one from the next refill. */
    if (t->left_spawns > t->slice_spawns)
        t->left_spawns = t->slice_spawns;
    if (t->left_signals > t->slice_signals)
        t->left_signals = t->slice_signals;
}

size_t
sup_count_node_trouble(const struct sup_tree *t)
{
    return t->ntrouble;
}

bool
sup_is_in_node_trouble(const struct sup_node *n)
{
    return (n->flags & SUP__F_TROUBLE) != 0;
}

void
sup_tree_free(struct sup_tree *t)
{
    if (t == NULL)
        return;
    sup__reap(t);
    while (t->deps) {
        struct sup_node *d = t->deps;
        t->deps = d->dep_next;
        sup__node_free(t, d, true);
    }
    naos_free(t->heap);
    naos_free(t);
}

int
sup_deploy(struct sup_tree *t, struct spec_node *spec, naos_time now,
           struct sup_node **out, char *errbuf, size_t errlen)
{
    return sup_deploy_ex(t, spec, NULL, now, out, errbuf, errlen);
}

/* Gives every worker under n the reason its first run is told about. */
static void
set_first_reason(struct sup_node *n, struct sup_reason r, naos_time now)
{
    if (!n->is_supervisor) {
        n->last_exit = r;
        n->last_exit_at = now;
        return;
    }
    for (size_t i = 0; i < n->nchildren; i++)
        set_first_reason(n->children[i], r, now);
}

int
sup_deploy_ex(struct sup_tree *t, struct spec_node *spec,
              const struct sup_deploy_opts *opts, naos_time now,
              struct sup_node **out, char *errbuf, size_t errlen)
{
    static const struct sup_deploy_opts defaults = {0};
    if (opts == NULL)
        opts = &defaults;
    slice_begin(t);
    int rv = spec_validate(spec, errbuf, errlen);
    if (rv != NAOS_OK)
        return NAOS_EINVAL;
    if (!spec->is_supervisor) {
        if (errlen)
            snprintf(errbuf, errlen, "%s: the root must be a supervisor",
                     spec->id);
        return NAOS_EINVAL;
    }
    if (sup_find(t, spec->id) != NULL) {
        if (errlen)
            snprintf(errbuf, errlen, "%s: deployment exists", spec->id);
        return NAOS_EEXIST;
    }
    struct spec_node *owned = naos_alloc(sizeof *owned);
    if (owned == NULL)
        return NAOS_ENOMEM;
    *owned = *spec; /* moved; the caller's copy is zeroed on success */
    struct sup_node *top = NULL;
    rv = sup__node_new(t, NULL, owned, owned->id, &top);
    if (rv != NAOS_OK)
        goto err_after_owned;
    rv = sup__heap_reserve(t, t->nnodes);
    if (rv != NAOS_OK)
        goto err_after_top;
    memset(spec, 0, sizeof *spec);
    top->owned_spec = owned;
    struct sup_node **pp = &t->deps;
    while (*pp)
        pp = &(*pp)->dep_next;
    *pp = top;
    if (out)
        *out = top;
    changed(t, top);
    emit(t, SUP_EV_DEPLOY, top, reason_none, NULL, now);
    if (opts->first_reason.kind != SUP_REASON_NONE)
        set_first_reason(top, opts->first_reason, now);
    if (opts->failed != NULL) {
        top->failure = sup__fmt_alloc("%s", opts->failed);
        set_state(top, SUP_FAILED);
    } else if (!opts->stopped) {
        top_start(t, top, now);
        advance(t, top, now);
    }
    sup__reap(t);
    return NAOS_OK;

err_after_top:
    sup__node_free(t, top, false);
err_after_owned:
    naos_free(owned);
    if (errlen)
        snprintf(errbuf, errlen, "%s", naos_strerror(rv));
    return rv;
}

struct sup_node *
sup_find(struct sup_tree *t, const char *name)
{
    for (struct sup_node *d = t->deps; d; d = d->dep_next)
        if (strcmp(d->id, name) == 0)
            return d;
    return NULL;
}

struct sup_node *
sup_find_path(struct sup_tree *t, const char *path)
{
    const char *seg = path, *slash = strchr(seg, '/');
    struct sup_node *n = NULL;
    for (struct sup_node *d = t->deps; d; d = d->dep_next) {
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        if (strncmp(d->id, seg, len) == 0 && d->id[len] == '\0') {
            n = d;
            break;
        }
    }
    while (n && slash) {
        seg = slash + 1;
        slash = strchr(seg, '/');
        size_t len = slash ? (size_t)(slash - seg) : strlen(seg);
        struct sup_node *found = NULL;
        for (size_t i = 0; i < n->nchildren; i++) {
            struct sup_node *c = n->children[i];
            if (strncmp(c->id, seg, len) == 0 && c->id[len] == '\0') {
                found = c;
                break;
            }
        }
        n = found;
    }
    return n;
}

struct sup_node *
sup_first(struct sup_tree *t)
{
    return t->deps;
}

struct sup_node *
sup_next(struct sup_node *dep)
{
    return dep->dep_next;
}

size_t
sup_count_workers(const struct sup_tree *t)
{
    return t->nworkers;
}

static bool
at_rest(const struct sup_node *top)
{
    return top->plan == SUP__PH_NONE &&
           (top->state == SUP_STOPPED || top->state == SUP_FAILED);
}

bool
sup_is_at_rest(const struct sup_node *dep)
{
    return at_rest(dep);
}

bool
sup_is_removing(const struct sup_node *dep)
{
    return dep->plan == SUP__PH_STOP && dep->plan_after == SUP__A_REMOVE;
}

int
sup_stop(struct sup_tree *t, struct sup_node *dep, naos_time now)
{
    if (at_rest(dep) ||
        (dep->plan == SUP__PH_STOP && (dep->plan_after == SUP__A_STOPPED ||
                                       dep->plan_after == SUP__A_REMOVE)))
        return NAOS_EBUSY;
    slice_begin(t);
    changed(t, dep);
    begin_stop(t, dep, SUP__A_STOPPED);
    advance(t, dep, now);
    sup__reap(t);
    return NAOS_OK;
}

int
sup_start(struct sup_tree *t, struct sup_node *dep, naos_time now)
{
    if (!at_rest(dep))
        return NAOS_EBUSY;
    slice_begin(t);
    changed(t, dep);
    top_start(t, dep, now);
    advance(t, dep, now);
    sup__reap(t);
    return NAOS_OK;
}

int
sup_restart(struct sup_tree *t, struct sup_node *dep, naos_time now)
{
    if (at_rest(dep))
        return sup_start(t, dep, now);
    if (dep->plan == SUP__PH_STOP &&
        (dep->plan_after == SUP__A_OP_START ||
         dep->plan_after == SUP__A_REMOVE))
        return NAOS_EBUSY;
    slice_begin(t);
    changed(t, dep);
    begin_stop(t, dep, SUP__A_OP_START);
    advance(t, dep, now);
    sup__reap(t);
    return NAOS_OK;
}

int
sup_remove(struct sup_tree *t, struct sup_node *dep, naos_time now)
{
    if (dep->plan == SUP__PH_STOP && dep->plan_after == SUP__A_REMOVE)
        return NAOS_EBUSY;
    slice_begin(t);
    changed(t, dep);
    begin_stop(t, dep, SUP__A_REMOVE);
    advance(t, dep, now);
    sup__reap(t);
    return NAOS_OK;
}

bool
sup_is_held(const struct sup_node *n)
{
    return (n->flags & SUP__F_HELD) != 0;
}

/* hold_and_stop: c (not a top) is held and, when live, stopped by its
 * supervisor s, whatever s is doing: out of s's current plan (no start of
 * it is left to come), its backoff, node-trouble wait and queued notices
 * dropped. The stop completes in child_event (held_stopped). */
static void
hold_and_stop(struct sup_tree *t, struct sup_node *c, naos_time now)
{
    struct sup_node *s = c->parent;
    c->flags = (c->flags & ~SUP__F_PLAN_START) | SUP__F_HELD;
    /* A queued retry stays: the siblings its restart was still to start
     * hang on it (start_left). Other notices are dropped. */
    if (!(c->flags & SUP__F_MB_RETRY))
        sup__mbox_remove(s, c);
    trouble_cancel(t, c);
    if (c->flags & SUP__F_BACKOFF) {
        c->flags &= ~SUP__F_BACKOFF;
        sup__timer_set(t, c, SUP__T_NONE, NAOS_TIME_NEVER);
        if (s->plan == SUP__PH_DELAY && s->plan_child == c)
            s->plan = SUP__PH_START; /* the rest of the plan goes on */
    }
    /* No backoff for a child that is not restarted: a plan still stopping
     * its siblings starts them at once when that ends (enter_start). */
    if (s->plan_child == c)
        s->plan_child = NULL;
    if (sup__live(c)) {
        if (child_stop(t, c, now) == SUP__R_PENDING)
            return;
        c->flags &= ~SUP__F_STOP_REQ;
    }
    held_stopped(t, s, c, now);
}

int
sup_child_stop(struct sup_tree *t, struct sup_node *n, naos_time now)
{
    if (n->parent == NULL)
        return NAOS_EINVAL;
    if ((n->flags & SUP__F_HELD) && !(n->flags & SUP__F_OP_RESTART))
        return NAOS_OK; /* already stopped, or stopping, by the operator */
    /* A restart under way (even while its supervisor goes down) becomes a
     * stop: the later command wins. */
    if (going_down(n->parent) && !(n->flags & SUP__F_OP_RESTART))
        return NAOS_EBUSY;
    slice_begin(t);
    changed(t, n);
    if (n->flags & SUP__F_OP_RESTART) {
        n->flags &= ~SUP__F_OP_RESTART; /* a restart under way: stop only */
    } else {
        hold_and_stop(t, n, now);
    }
    advance(t, n->parent, now);
    sup__reap(t);
    return NAOS_OK;
}

/* on_its_way_back: stopped n will be started again by its supervisor s
 * without the operator: it is in s's restart plan, waits out its backoff
 * or node trouble, or a restart decision for it is queued (a retry, or a
 * crash s has not got to yet: an operator start must not take the place
 * of that decision, which counts in the intensity, B2). */
static bool
on_its_way_back(const struct sup_node *n)
{
    if (n->flags & (SUP__F_PLAN_START | SUP__F_MB_RETRY | SUP__F_BACKOFF |
                    SUP__F_TROUBLE))
        return true;
    return (n->flags & SUP__F_MB_EXIT) && wants_restart(n);
}

int
sup_child_start(struct sup_tree *t, struct sup_node *n, naos_time now)
{
    struct sup_node *s = n->parent;
    if (s == NULL)
        return NAOS_EINVAL;
    if (going_down(s))
        return NAOS_EBUSY;
    slice_begin(t);
    changed(t, n);
    if (sup__live(n)) {
        /* Running, or still stopping for the operator: start it after. */
        if (n->flags & SUP__F_HELD)
            n->flags |= SUP__F_OP_RESTART;
    } else if ((n->flags & (SUP__F_MB_RETRY | SUP__F_HELD)) ==
               (SUP__F_MB_RETRY | SUP__F_HELD)) {
        /* Held while its failed restart waited to be retried: the retry
         * goes on as it would have (counted, B2), starting the siblings
         * after it too. */
        clear_holds(n);
        n->flags |= SUP__F_PLAN_START;
    } else if (!on_its_way_back(n)) {
        clear_holds(n);
        /* A queued exit that needs no restart decision (a clean or
         * temporary exit) gives way to the start; one that does stays
         * (on_its_way_back). */
        if (n->flags & SUP__F_MB_EXIT)
            sup__mbox_remove(s, n);
        sup__mbox_push(s, n, SUP__F_MB_START);
    }
    advance(t, s, now);
    sup__reap(t);
    return NAOS_OK;
}

int
sup_child_restart(struct sup_tree *t, struct sup_node *n, naos_time now)
{
    struct sup_node *s = n->parent;
    if (s == NULL)
        return NAOS_EINVAL;
    if (going_down(s))
        return NAOS_EBUSY;
    if (!sup__live(n) || (n->flags & SUP__F_OP_RESTART))
        return sup_child_start(t, n, now);
    slice_begin(t);
    changed(t, n);
    if (n->flags & SUP__F_HELD) {
        n->flags |= SUP__F_OP_RESTART; /* already stopping: start after */
    } else {
        n->flags |= SUP__F_OP_RESTART;
        hold_and_stop(t, n, now);
    }
    advance(t, s, now);
    sup__reap(t);
    return NAOS_OK;
}

void
sup_shutdown(struct sup_tree *t, naos_time now)
{
    size_t n = 0;
    slice_begin(t);
    for (struct sup_node *d = t->deps; d; d = d->dep_next)
        n++;
    /* Newest first. Removal only happens below for deployments at rest,
     * which are skipped, so positions stay put. */
    for (size_t k = n; k-- > 0;) {
        struct sup_node *d = t->deps;
        for (size_t i = 0; i < k && d; i++)
            d = d->dep_next;
        if (d == NULL || at_rest(d))
            continue;
        if (d->plan == SUP__PH_STOP &&
            (d->plan_after == SUP__A_STOPPED || d->plan_after == SUP__A_REMOVE))
            continue;
        changed(t, d);
        begin_stop(t, d, SUP__A_STOPPED);
        advance(t, d, now);
    }
    sup__reap(t);
}

bool
sup_is_quiet(const struct sup_tree *t)
{
    return t->nprocs == 0 && t->nspawning == 0;
}

void
sup_on_spawned(struct sup_tree *t, struct sup_node *w, int err, int pid,
               naos_time now)
{
    if (w == NULL || w->is_supervisor || !(w->flags & SUP__F_SPAWNING))
        return;
    w->flags &= ~SUP__F_SPAWNING;
    t->nspawning--;
    changed(t, w);
    if (w->flags & SUP__F_STOP_REQ) {
        /* Stopped while its spawn was under way. A process that came of it
         * is stopped as any other (its exit completes the stop); with none,
         * the stop is complete now. */
        w->flags &= ~SUP__F_STOP_REQ;
        struct sup_reason why = reason_none;
        if (err == 0 && pid > 0 &&
            worker_spawned(t, w, 0, pid, now, &why) != SUP__R_FAILED) {
            worker_stop(t, w, now);
        } else {
            w->flags |= SUP__F_STOP_REQ;
            set_state(w, SUP_STOPPED);
            child_event(t, w->parent, w, SUP__UP_EXIT,
                        (struct sup_reason){SUP_REASON_SHUTDOWN, 0}, now);
        }
        sup__reap(t);
        return;
    }
    struct sup_reason why = reason_none;
    int r = worker_spawned(t, w, err, pid, now, &why);
    if (r != SUP__R_PENDING)
        child_event(t, w->parent, w,
                    r == SUP__R_DONE ? SUP__UP_STARTED : SUP__UP_START_FAILED,
                    why, now);
    sup__reap(t);
}

void
sup_on_exit(struct sup_tree *t, struct sup_node *w, bool exited, int code,
            naos_time now)
{
    if (w == NULL || w->is_supervisor || w->pid == 0 ||
        (w->flags & SUP__F_DEAD))
        return;
    changed(t, w);
    struct sup_reason r;
    if (w->kill_reason.kind != SUP_REASON_NONE)
        r = w->kill_reason;
    else if (w->flags & SUP__F_STOP_REQ)
        r = (struct sup_reason){SUP_REASON_SHUTDOWN, 0};
    else if (exited)
        r = (struct sup_reason){SUP_REASON_EXIT, code};
    else
        r = (struct sup_reason){SUP_REASON_SIGNAL, code};
    w->pid = 0;
    t->nprocs--;
    w->last_exit = r;
    w->last_exit_at = now;
    naos_duration bmax = w->spec->backoff_max;
    if (bmax > 0 && now - w->started_at > (uint64_t)bmax)
        w->backoff_n = 0;
    w->kill_reason = reason_none;
    w->watchdog_at = w->runtime_at = NAOS_TIME_NEVER;
    sup__timer_set(t, w, SUP__T_NONE, NAOS_TIME_NEVER);
    bool starting = (w->flags & SUP__F_STARTING) != 0;
    set_state(w, SUP_STOPPED);
    child_event(t, w->parent, w,
                starting ? SUP__UP_START_FAILED : SUP__UP_EXIT, r, now);
    sup__reap(t);
}

void
sup_on_notify(struct sup_tree *t, struct sup_node *w, bool ready,
              bool watchdog, const char *status, naos_time now)
{
    if (w == NULL || w->is_supervisor || w->pid == 0 ||
        (w->flags & SUP__F_DEAD))
        return;
    if (status || ready)
        changed(t, w);
    if (status) {
        char *s = naos_strdup(status);
        if (s) {
            naos_free(w->status_text);
            w->status_text = s;
        }
    }
    if (watchdog && w->state == SUP_RUNNING && w->spec->watchdog > 0) {
        w->watchdog_at = sup__after_ms(now, w->spec->watchdog);
        sup__deadline_update(t, w);
    }
    if (ready && w->state == SUP_STARTING && (w->flags & SUP__F_STARTING)) {
        set_state(w, SUP_RUNNING);
        w->watchdog_at = w->spec->watchdog > 0
                             ? sup__after_ms(now, w->spec->watchdog)
                             : NAOS_TIME_NEVER;
        sup__timer_set(t, w, SUP__T_NONE, NAOS_TIME_NEVER);
        emit(t, SUP_EV_READY, w, reason_none, NULL, now);
        child_event(t, w->parent, w, SUP__UP_STARTED, reason_none, now);
    }
    sup__reap(t);
}

naos_time
sup_next_deadline(const struct sup_tree *t)
{
    naos_time d = t->heap_len ? t->heap[0]->deadline : NAOS_TIME_NEVER;
    if (t->resume_head != NULL && t->resume_at < d)
        d = t->resume_at;
    return d;
}

/* budget_left: this call may still spawn and signal. Each timer firing
 * spends at most one of either directly; what it sets off checks again. */
static bool
budget_left(const struct sup_tree *t)
{
    return t->left_spawns > 0 && t->left_signals > 0;
}

void
sup_tick(struct sup_tree *t, naos_time now)
{
    slice_begin(t);
    /* Timers first, then plans that ran out of budget, oldest first. What
     * this slice cannot do stays due, so the next tick comes at once. */
    while (t->heap_len > 0 && t->heap[0]->deadline <= now && budget_left(t)) {
        changed(t, t->heap[0]);
        fire(t, t->heap[0], now);
    }
    /* Ends: each turn either empties one entry or spends the budget (a
     * plan only queues itself again when the budget is spent). */
    while (t->resume_head != NULL && budget_left(t)) {
        struct sup_node *s = t->resume_head;
        sup__resume_remove(t, s);
        changed(t, s);
        advance(t, s, now);
    }
    sup__reap(t);
}

uint32_t
sup_intensity_in_use(const struct sup_node *s, naos_time now)
{
    if (!s->is_supervisor)
        return 0;
    return sup_intensity_used(&s->intensity, now / 1000);
}

naos_time
sup_intensity_changes_at(const struct sup_node *s, naos_time now)
{
    if (!s->is_supervisor)
        return NAOS_TIME_NEVER;
    uint64_t sec = sup_intensity_expiry(&s->intensity, now / 1000);
    if (sec == UINT64_MAX || sec > NAOS_TIME_NEVER / 1000)
        return NAOS_TIME_NEVER;
    return (naos_time)sec * 1000;
}
