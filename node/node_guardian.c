/* SPDX-License-Identifier: Apache-2.0 */
/* node_guardian.c: the node's lease guardian (node/proc/guardian.h), for
 * every node, lone or clustered: started at node_open, fed from the
 * reactor, told of every worker run (node.c run_begins, finish_run),
 * replaced when it goes away, stopped last at node_close.
 *
 * The promise it keeps: no worker process group outlives the node's
 * death, or (once the lease work feeds a finite deadline) the node's
 * lease. So a worker the guardian cannot be told about must not run
 * (run_begins kills it), and a guardian that goes away is replaced at
 * once and told about every live worker again; if that fails, the node
 * stops with exit 111 (n->fatal) and node_close kills every worker. */
#include "node/node_int.h"

#include <errno.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "node/base/err.h"
#include "node/base/idmap.h"
#include "node/base/log.h"
#include "node/proc/guardian.h"
#include "node/proc/spawn.h"

/* A replacement lost sooner than this after its start is not replaced
 * again: one that keeps dying (it cannot run, or someone kills each new
 * one) would otherwise cost a spawn per loop iteration; the node stops. */
#define NODE_GUARDIAN_MIN_LIFE_MS 1000
/* node_close waits this long at most for the stop record to go out. */
#define NODE_GUARDIAN_STOP_WAIT_MS 1000

static void on_guardian(void *arg, uint32_t events);

/* rearm: the reactor waits for what the handle needs now (EPOLLOUT only
 * while records wait). After every call that may queue. */
static void
rearm(struct node *n)
{
    if (n->guardian == NULL)
        return;
    uint32_t ev = guardian_events(n->guardian);
    if (ev == n->guardian_ev)
        return;
    if (reactor_mod(&n->r, &n->guardian_chan, ev) == NAOS_OK)
        n->guardian_ev = ev;
    else
        NAOS_ERROR("node", "cannot watch the guardian's channel: %s",
                   strerror(errno));
}

/* start: a new guardian with the last deadline set, in the reactor. */
static int
start(struct node *n)
{
    struct guardian_opts o = GUARDIAN_OPTS_ZERO;
    o.deadline = n->guardian_deadline;
    o.margin = NODE_GUARDIAN_MARGIN_MS;
    char plan[PATH_MAX + 32];
    node__certify_plan_path(n, plan, sizeof plan);
    o.certify_plan = plan; /* after this node's death (node_certify.c) */
    o.certify_instance = n->lease_instance;
    struct guardian *g;
    int rc = guardian_start(&g, &o);
    if (rc != NAOS_OK)
        return rc;
    uint32_t ev = guardian_events(g);
    if (reactor_add(&n->r, &n->guardian_chan, guardian_fd(g), ev,
                    on_guardian, n) != NAOS_OK) {
        int e = errno;
        guardian_stop(g); /* nothing is watched yet: exit without a kill */
        guardian_free(g, NULL);
        errno = e;
        return NAOS_ESYS;
    }
    n->guardian = g;
    n->guardian_ev = ev;
    return NAOS_OK;
}

/* rewatch_one: a live worker, told to a new guardian. One it cannot take
 * must not run (as in run_begins). */
static void
rewatch_one(void *arg, uint64_t pid, void *val)
{
    struct node *n = arg;
    struct wrun *wr = val;
    if (n->guardian == NULL || wr->pid <= 0)
        return;
    int rc = guardian_watch_ex(n->guardian, wr->pid, wr->pidfd,
                               node__lease_exempt(wr->w));
    if (rc == NAOS_OK || rc == NAOS_ECLOSED) /* closed: replaced again */
        return;
    NAOS_ERROR("proc", "%s: pid %d: the new guardian cannot watch it (%s): "
               "killed, it must not run unguarded", wr->w->path, (int)pid,
               naos_strerror(rc));
    proc_signal_group(wr->pid, SIGKILL);
}

/* replace: the guardian is gone (its channel closed): reap it, start a
 * new one and tell it every live worker. NAOS_OK, or the node is set to
 * stop (n->fatal) and n->guardian stays NULL. */
static int
replace(struct node *n)
{
    struct guardian *old = n->guardian;
    int old_pid = guardian_pid(old);
    bool young = n->guardian_restarts > 0 &&
                 n->r.now < n->guardian_replaced_at + NODE_GUARDIAN_MIN_LIFE_MS;
    reactor_del(&n->r, &n->guardian_chan);
    n->guardian = NULL;
    /* A guardian still running behind a broken channel would read its
     * close as this node's death: kill every worker and certify a live
     * node dead. It goes first (its pidfd: never a recycled pid). */
    struct pollfd exited = {.fd = guardian_pidfd(old), .events = POLLIN};
    if (poll(&exited, 1, 0) == 0 &&
        syscall(SYS_pidfd_send_signal, guardian_pidfd(old), SIGKILL, NULL,
                0) == 0)
        NAOS_WARN("node", "the guardian (pid %d) lived behind a broken "
                  "channel: killed it", old_pid);
    int code;
    guardian_free(old, &code); /* reaps it: a zombie blocks the sweep */
    /* Zombies of other children may have queued behind its exit. */
    n->chld_pending = true;
    char how[32];
    if (code >= 0)
        snprintf(how, sizeof how, "exit %d", code);
    else
        snprintf(how, sizeof how, "ended by a signal");
    int rc = NAOS_EINVAL;
    if (!young) {
        NAOS_ERROR("node", "the guardian (pid %d) is gone (%s): starting a "
                   "new one and watching the %zu live worker(s) again",
                   old_pid, how, n->pids.len);
        rc = start(n);
    }
    if (rc != NAOS_OK) {
        NAOS_ERROR("node", "fatal: the guardian (pid %d) is gone (%s) and "
                   "%s: every worker is stopped (exit 111), a worker must "
                   "not outlive the node unguarded", old_pid, how,
                   young ? "it had run under a second: not replaced again"
                         : "a new one cannot be started");
        if (rc != NAOS_EINVAL)
            NAOS_ERROR("node", "guardian start: %s",
                       rc == NAOS_ESYS ? strerror(errno)
                                       : naos_strerror(rc));
        n->fatal = 111;
        return rc;
    }
    n->guardian_restarts++;
    n->guardian_replaced_at = n->r.now;
    NAOS_INFO("node", "guardian pid %d started (replaces pid %d)",
              guardian_pid(n->guardian), old_pid);
    idmap_each(&n->pids, rewatch_one, n);
    rearm(n);
    return NAOS_OK;
}

/* after: the result of a call on the guardian; a closed channel means it
 * is gone: replaced. Returns NAOS_OK when replaced (or rc was OK). */
static int
after(struct node *n, int rc)
{
    if (rc == NAOS_ECLOSED && n->guardian != NULL)
        rc = replace(n);
    rearm(n);
    return rc;
}

static void
on_guardian(void *arg, uint32_t events)
{
    struct node *n = arg;
    (void)events; /* writable, or its end closed: flush tells which */
    if (n->guardian != NULL)
        after(n, guardian_flush(n->guardian));
}

int
node__guardian_open(struct node *n, char *errbuf, size_t errlen)
{
    n->guardian_deadline = GUARDIAN_NEVER;
    int rc = start(n);
    if (rc != NAOS_OK)
        snprintf(errbuf, errlen, "cannot start the lease guardian (`naos-node "
                 "guardian` through /proc/self/exe): %s; the node runs no "
                 "worker without one",
                 rc == NAOS_ESYS ? strerror(errno) : naos_strerror(rc));
    else
        NAOS_DEBUG("node", "guardian pid %d started",
                   guardian_pid(n->guardian));
    return rc;
}

bool
node__guardian_is(const struct node *n, int pid)
{
    return n->guardian != NULL && guardian_pid(n->guardian) == pid;
}

void
node__guardian_check(struct node *n)
{
    if (n->guardian != NULL)
        after(n, guardian_flush(n->guardian));
}

int
node__guardian_watch(struct node *n, int pid, int pidfd, bool at_death_only)
{
    if (n->guardian == NULL)
        return NAOS_ECLOSED; /* could not be replaced: the node stops */
    int rc = guardian_watch_ex(n->guardian, pid, pidfd, at_death_only);
    /* Gone: the new one watches the workers in n->pids, and this one. */
    if (rc == NAOS_ECLOSED && replace(n) == NAOS_OK)
        rc = guardian_watch_ex(n->guardian, pid, pidfd, at_death_only);
    rearm(n);
    return rc;
}

void
node__guardian_unwatch(struct node *n, int pid)
{
    /* A lost unwatch (queue full) costs the guardian a slot until it
     * finds the group empty, never a wrong kill (guardian.h). */
    if (n->guardian != NULL)
        after(n, guardian_unwatch(n->guardian, pid));
}

int
node__guardian_extend(struct node *n, uint64_t deadline_boot_ms)
{
    n->guardian_deadline = deadline_boot_ms; /* a new guardian starts so */
    if (n->guardian == NULL)
        return NAOS_ECLOSED;
    /* A replacement starts with the deadline set just above. */
    return after(n, guardian_extend(n->guardian, deadline_boot_ms));
}

/* stop_flush sends the stop record (and what waits ahead of it), waiting
 * at most NODE_GUARDIAN_STOP_WAIT_MS for room. true: it went out. */
static bool
stop_flush(struct guardian *g)
{
    if (guardian_stop(g) != NAOS_OK)
        return false;
    uint64_t end = guardian_clock_now() + NODE_GUARDIAN_STOP_WAIT_MS;
    while (guardian_events(g) & EPOLLOUT) {
        uint64_t now = guardian_clock_now();
        if (now >= end)
            return false;
        struct pollfd p = {guardian_fd(g), POLLOUT, 0};
        poll(&p, 1, (int)(end - now));
        if (guardian_flush(g) != NAOS_OK)
            return false;
    }
    return true;
}

void
node__guardian_close(struct node *n)
{
    struct guardian *g = n->guardian;
    if (g == NULL)
        return;
    reactor_del(&n->r, &n->guardian_chan);
    n->guardian = NULL;
    int pid = guardian_pid(g);
    /* Every worker is stopped or SIGKILLed by now: the guardian may go
     * without a kill. If the stop does not go out, closing the channel
     * makes it kill what it still watches (fail safe). */
    bool sent = stop_flush(g);
    int code;
    guardian_free(g, &code);
    if (code == GUARDIAN_EXIT_STOPPED)
        NAOS_INFO("node", "guardian pid %d stopped (exit 0: it killed "
                  "nothing)", pid);
    else
        NAOS_WARN("node", "guardian pid %d ended with %s%d%s", pid,
                  code >= 0 ? "exit " : "status ", code,
                  sent ? "" : " (the stop did not reach it: it killed "
                              "what it still watched)");
}
