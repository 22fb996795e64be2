/* SPDX-License-Identifier: Apache-2.0 */
/* node.c: the composition root of naos-node. It binds the pure
 * supervision core (sup) to the process drivers (proc), the reactor, the
 * control endpoint (ctl) and the event ring. Only this file knows them all.
 *
 * Per worker it keeps a `wrun` (the core's io_data): the pidfd and log pipe
 * of the current run, and the worker's log file. A run ends when its pidfd
 * becomes readable (or a SIGCHLD sweep finds it first): the driver kills
 * what is left of the worker's process group while the zombie still holds
 * the group id, reaps it, drains its log pipe, sweeps orphans, and only
 * then tells the core. */
#include "node/node.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/idmap.h"
#include "node/base/log.h"
#include "node/ctl/ctl.h"
#include "node/events/events.h"
#include "node/proc/logfile.h"
#include "node/proc/notify.h"
#include "node/proc/orphans.h"
#include "node/proc/spawn.h"
#include "node/reactor/reactor.h"
#include "node/sup/sup.h"
#include "proto/spec_pb.h"

#define NODE_EVENTS_KEPT 10000
#define NODE_EVENTS_PER_REPLY 1000
#define NODE_LOGS_DEFAULT_CHUNK (64u * 1024u)
#define NODE_LOGS_MAX_CHUNK (1u << 20)

struct wrun {
    struct node *n;
    struct sup_node *w;
    int pid; /* 0 when no process */
    int pidfd;
    int log_rd;
    struct reactor_watch pid_watch, log_watch;
    struct proc_logfile *log;
    char *log_path;
    struct wrun *grave_next;
};

struct node {
    char name[256];
    char run_dir[PATH_MAX];
    char data_dir[PATH_MAX];
    char ctl_url[PATH_MAX + 16];
    char ctl_env[PATH_MAX + 32];
    char notify_path[PATH_MAX + 16];
    uint64_t log_max_bytes;
    unsigned log_keep;
    int lock_fd;
    struct reactor r;
    int sig_fd;
    struct reactor_watch sig_watch;
    int notify_fd;
    struct reactor_watch notify_watch;
    struct ctl ctl;
    struct events events;
    struct sup_tree *tree;
    struct idmap pids; /* pid -> wrun with a live run */
    struct wrun *grave; /* freed after the loop iteration that dropped them */
    int stopping;       /* signals received asking us to stop */
};

/* ---- helpers ---------------------------------------------------------- */

/* mkdir -p with mode for every directory created. */
static int
make_dirs(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ENAMETOOLONG;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, mode) < 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return errno;
    return 0;
}

/* Wall-clock time of a monotonic instant, for people. */
static int64_t
wall_of(naos_time at)
{
    naos_time now = naos_clock_now();
    return naos_clock_wall_ms() - (int64_t)(now > at ? now - at : 0);
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

/* ---- runs: spawn, exit, logs ------------------------------------------ */

static void on_pidfd(void *arg, uint32_t events);

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
    wr->pidfd = wr->log_rd = -1;
    size_t len = strlen(n->data_dir) + strlen(w->path) + 16;
    wr->log_path = naos_alloc(len);
    if (wr->log_path == NULL) {
        naos_free(wr);
        return NULL;
    }
    snprintf(wr->log_path, len, "%s/logs/%s.log", n->data_dir, w->path);
    if (proc_logfile_open(&wr->log, wr->log_path, n->log_max_bytes,
                          n->log_keep) != NAOS_OK)
        NAOS_WARN("proc", "%s: cannot open log file %s: %s; output dropped",
                  w->path, wr->log_path, strerror(errno));
    w->io_data = wr;
    return wr;
}

static int
io_spawn(void *ctx, struct sup_node *w, const struct sup_spawn_info *info,
         int *pid)
{
    struct node *n = ctx;
    struct wrun *wr = wrun_get(n, w);
    if (wr == NULL)
        return ENOMEM;
    NAOS_ASSERT(wr->pid == 0);
    /* The child's end stays blocking (a non-blocking stdout breaks many
     * programs); only our read end is non-blocking. */
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return errno;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    struct proc_naos_env ne = {
        .agent = info->path,
        .node = n->name,
        .restart_count = info->restart_count,
        .restart_reason = info->restart_reason,
        .notify_socket = n->notify_path,
        .watchdog = info->spec->watchdog,
    };
    char *extra[] = {n->ctl_env, NULL};
    struct proc_spawn_opts opts = {
        .argv = info->spec->argv,
        .env = info->spec->env,
        .cwd = info->spec->cwd,
        .out_fd = p[1],
        .naos = &ne,
        .extra_env = extra,
    };
    struct proc_child child = PROC_CHILD_ZERO;
    int rc = proc_spawn(&opts, &child);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return rc;
    }
    wr->pid = child.pid;
    wr->pidfd = child.pidfd;
    wr->log_rd = p[0];
    if (reactor_add(&n->r, &wr->pid_watch, wr->pidfd, EPOLLIN, on_pidfd, wr) !=
            NAOS_OK ||
        idmap_put(&n->pids, (uint64_t)wr->pid, wr) != NAOS_OK)
        NAOS_ERROR("proc", "%s: cannot watch pid %d; its exit will be found "
                   "by the SIGCHLD sweep", w->path, wr->pid);
    if (reactor_add(&n->r, &wr->log_watch, wr->log_rd, EPOLLIN, on_log, wr) !=
        NAOS_OK)
        NAOS_WARN("proc", "%s: cannot watch its output", w->path);
    *pid = child.pid;
    return 0;
}

/* Ends the bookkeeping of wr's current run and reports the exit. */
static void
finish_run(struct wrun *wr, bool exited, int code)
{
    struct node *n = wr->n;
    reactor_del(&n->r, &wr->pid_watch);
    close(wr->pidfd);
    wr->pidfd = -1;
    idmap_del(&n->pids, (uint64_t)wr->pid);
    wr->pid = 0;
    if (wr->log_rd >= 0) {
        on_log(wr, EPOLLIN); /* keep what the run wrote last */
        if (wr->log_rd >= 0) {
            reactor_del(&n->r, &wr->log_watch);
            close(wr->log_rd);
            wr->log_rd = -1;
        }
    }
    sup_on_exit(n->tree, wr->w, exited, code, n->r.now);
}

static bool
is_known_pid(void *ctx, int pid)
{
    struct node *n = ctx;
    return idmap_get(&n->pids, (uint64_t)pid) != NULL;
}

/* Reaps wr's process if it has exited. The group is killed first, while
 * the zombie still pins the group id, so nothing of the worker outlives
 * it and no unrelated process can be hit. */
static void
reap_run(struct wrun *wr)
{
    bool reaped = false, exited = false;
    int code = 0;
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
    struct proc_orphans_stats st = PROC_ORPHANS_STATS_ZERO;
    struct node *n = wr->n;
    int pid = wr->pid;
    (void)pid;
    finish_run(wr, exited, code);
    proc_orphans_sweep(is_known_pid, n, &st);
    if (st.killed)
        NAOS_INFO("proc", "killed %u orphaned process(es)", st.killed);
}

static void
on_pidfd(void *arg, uint32_t events)
{
    (void)events;
    reap_run(arg);
}

static void
sweep_children(struct node *n)
{
    for (int i = 0; i < 100000; i++) {
        struct proc_orphans_stats st = PROC_ORPHANS_STATS_ZERO;
        proc_orphans_sweep(is_known_pid, n, &st);
        if (st.known_exited == 0)
            return;
        struct wrun *wr = idmap_get(&n->pids, (uint64_t)st.known_exited);
        if (wr == NULL)
            return;
        reap_run(wr);
    }
}

static void
io_signal(void *ctx, struct sup_node *w, int signo)
{
    (void)ctx;
    struct wrun *wr = w->io_data;
    if (wr && wr->pid > 0)
        proc_signal_group(wr->pid, signo);
}

static void
io_event(void *ctx, const struct sup_event *ev)
{
    struct node *n = ctx;
    char reason[64];
    sup_reason_format(ev->reason, reason, sizeof reason);
    const char *kind = sup_event_kind_name(ev->kind);
    events_push(&n->events, kind, ev->deployment, ev->path, ev->pid,
                reason[0] ? reason : NULL, ev->restarts, ev->detail,
                naos_clock_wall_ms(), naos_clock_now_us());
    enum naos_log_level lvl = NAOS_LOG_INFO;
    if (ev->kind == SUP_EV_START || ev->kind == SUP_EV_READY)
        lvl = NAOS_LOG_DEBUG;
    else if (ev->kind == SUP_EV_GIVE_UP || ev->kind == SUP_EV_ESCALATE)
        lvl = NAOS_LOG_WARN;
    naos_log(lvl, "sup", "%s %s%s%s%s%s", kind, ev->path, reason[0] ? " " : "",
             reason, ev->detail ? " " : "", ev->detail ? ev->detail : "");
}

static uint32_t
io_random(void *ctx)
{
    (void)ctx;
    uint32_t v = 0;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) != sizeof v)
        v = (uint32_t)naos_clock_now_us() * 2654435761u;
    return v;
}

static void
io_forget(void *ctx, struct sup_node *node)
{
    struct node *n = ctx;
    struct wrun *wr = node->io_data;
    if (wr == NULL)
        return;
    if (wr->pid > 0) {
        /* Only when the whole tree is freed at exit with runs still live
         * (the core forgets stopped nodes otherwise): drop their fds. */
        reactor_del(&n->r, &wr->pid_watch);
        close(wr->pidfd);
        idmap_del(&n->pids, (uint64_t)wr->pid);
        wr->pid = 0;
    }
    if (wr->log_rd >= 0) {
        reactor_del(&n->r, &wr->log_watch);
        close(wr->log_rd);
    }
    proc_logfile_close(wr->log);
    naos_free(wr->log_path);
    node->io_data = NULL;
    /* A later event of this loop iteration may still name wr's watches. */
    grave_push(n, wr);
}

/* ---- notify socket ----------------------------------------------------- */

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
        struct wrun *wr = idmap_get(&n->pids, (uint64_t)m.pid);
        if (wr == NULL) {
            int pg = proc_notify_sender_group(m.pid);
            if (pg > 0)
                wr = idmap_get(&n->pids, (uint64_t)pg);
        }
        if (wr == NULL) {
            NAOS_DEBUG("notify", "message from pid %d, not a worker", m.pid);
            continue;
        }
        sup_on_notify(n->tree, wr->w, m.ready, m.watchdog,
                      m.has_status ? m.status : NULL, n->r.now);
    }
}

/* ---- signals ----------------------------------------------------------- */

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
            if (n->stopping++ == 0) {
                NAOS_INFO("node", "stopping every deployment (signal again "
                          "to kill at once)");
                sup_shutdown(n->tree, n->r.now);
            } else {
                NAOS_WARN("node", "second stop signal: killing every worker");
                kill_everything(n);
            }
            break;
        default:
            break;
        }
    }
    if (chld)
        sweep_children(n);
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

/* ---- control requests -------------------------------------------------- */

static Naos__V1__NodeStatus *
status_of(struct node *n, struct ctl_reply *rep, const struct sup_node *s)
{
    Naos__V1__NodeStatus *ns = ctl_reply_alloc(rep, sizeof *ns);
    if (ns == NULL)
        return NULL;
    naos__v1__node_status__init(ns);
    naos_time now = n->r.now;
    ns->id = ctl_reply_strdup(rep, s->id);
    ns->path = ctl_reply_strdup(rep, s->path);
    ns->is_supervisor = s->is_supervisor;
    ns->state = (char *)sup_state_name(s->state);
    ns->pid = s->pid;
    ns->restarts = s->restarts;
    ns->restart_type = (char *)spec_restart_name(s->spec->restart);
    ns->status_text = ctl_reply_strdup(rep, s->status_text);
    if (s->pid > 0 && now > s->started_at)
        ns->uptime_ms = (int64_t)(now - s->started_at);
    if (s->last_exit.kind != SUP_REASON_NONE) {
        Naos__V1__ExitReason *er = ctl_reply_alloc(rep, sizeof *er);
        if (er) {
            naos__v1__exit_reason__init(er);
            char buf[64];
            sup_reason_format(s->last_exit, buf, sizeof buf);
            er->reason = ctl_reply_strdup(rep, buf);
            er->at_wall_ms = wall_of(s->last_exit_at);
            ns->last_exit = er;
        }
    }
    if (!s->is_supervisor)
        return ns;
    ns->strategy = (char *)spec_strategy_name(s->spec->strategy);
    ns->max_restarts = s->spec->max_restarts;
    ns->window_s = s->spec->window_s;
    ns->restarts_in_window = sup_intensity_in_use(s, now);
    if (s->nchildren) {
        ns->children = ctl_reply_alloc(rep, s->nchildren * sizeof *ns->children);
        if (ns->children == NULL)
            return ns;
        for (size_t i = 0; i < s->nchildren; i++) {
            Naos__V1__NodeStatus *c = status_of(n, rep, s->children[i]);
            if (c)
                ns->children[ns->n_children++] = c;
        }
    }
    return ns;
}

static Naos__V1__DeploymentStatus *
deployment_status(struct node *n, struct ctl_reply *rep,
                  const struct sup_node *dep)
{
    Naos__V1__DeploymentStatus *ds = ctl_reply_alloc(rep, sizeof *ds);
    if (ds == NULL)
        return NULL;
    naos__v1__deployment_status__init(ds);
    ds->name = ctl_reply_strdup(rep, dep->id);
    ds->state = (char *)sup_state_name(dep->state);
    ds->failure = ctl_reply_strdup(rep, dep->failure);
    ds->tree = status_of(n, rep, dep);
    return ds;
}

static void
handle_status(struct node *n, const Naos__V1__StatusRequest *req,
              struct ctl_reply *rep)
{
    Naos__V1__Status *st = ctl_reply_alloc(rep, sizeof *st);
    if (st == NULL)
        return;
    naos__v1__status__init(st);
    st->node = n->name;
    const char *only = req && req->name && req->name[0] ? req->name : NULL;
    size_t count = 0;
    for (struct sup_node *d = sup_first(n->tree); d; d = sup_next(d))
        count++;
    if (only) {
        struct sup_node *d = sup_find(n->tree, only);
        if (d == NULL) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                            "no deployment named %s (see `naos status`)",
                            only);
            return;
        }
        count = 1;
    }
    if (count) {
        st->deployments = ctl_reply_alloc(rep, count * sizeof *st->deployments);
        if (st->deployments == NULL)
            return;
    }
    for (struct sup_node *d = sup_first(n->tree); d; d = sup_next(d)) {
        if (only && strcmp(d->id, only) != 0)
            continue;
        Naos__V1__DeploymentStatus *ds = deployment_status(n, rep, d);
        if (ds)
            st->deployments[st->n_deployments++] = ds;
    }
    rep->msg.rep_case = NAOS__V1__REPLY__REP_STATUS;
    rep->msg.status = st;
}

static void
handle_deploy(struct node *n, const Naos__V1__DeployRequest *req,
              struct ctl_reply *rep)
{
    char err[512] = "";
    if (req->spec == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "deploy request carries no spec");
        return;
    }
    if (n->stopping) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "naos-node is shutting down; deploy refused");
        return;
    }
    /* sup_deploy moves the tree out of spec on success; on failure the
     * caller still owns it. */
    struct spec_node spec = {0};
    int rc = spec_pb_to_spec(req->spec, &spec, err, sizeof err);
    if (rc == NAOS_OK)
        rc = sup_deploy(n->tree, &spec, n->r.now, NULL, err, sizeof err);
    if (rc == NAOS_OK) {
        ctl_reply_message(rep, "deployed %s", req->spec->id);
        return;
    }
    spec_node_fini(&spec);
    switch (rc) {
    case NAOS_EEXIST:
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__EXISTS,
                        "deployment %s already exists: run `naos rm %s` "
                        "first", req->spec->id, req->spec->id);
        break;
    case NAOS_ENOMEM:
        rep->failed = 1;
        break;
    default:
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID, "invalid spec: %s",
                        err[0] ? err : naos_strerror(rc));
    }
}

typedef int (*dep_cmd)(struct sup_tree *, struct sup_node *, naos_time);

static void
handle_dep_cmd(struct node *n, const Naos__V1__NameRequest *req, dep_cmd fn,
               const char *verb, struct ctl_reply *rep)
{
    const char *name = req && req->name ? req->name : "";
    struct sup_node *d = sup_find(n->tree, name);
    if (d == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "no deployment named %s (see `naos status`)", name);
        return;
    }
    const char *was = sup_state_name(d->state);
    int rc = fn(n->tree, d, n->r.now);
    if (rc == NAOS_OK)
        ctl_reply_message(rep, "%s %s", verb, name);
    else
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__BUSY,
                        "cannot %s %s while it is %s", verb, name, was);
}

static void
handle_events(struct node *n, const Naos__V1__EventsRequest *req,
              struct ctl_reply *rep)
{
    Naos__V1__EventsReply *er = ctl_reply_alloc(rep, sizeof *er);
    if (er == NULL)
        return;
    naos__v1__events_reply__init(er);
    uint64_t since = req ? req->since : 0;
    uint64_t last = events_last(&n->events), oldest = events_oldest(&n->events);
    if (since > last) /* a cursor from an earlier run of the node */
        since = 0;
    if (oldest && since + 1 < oldest) {
        er->dropped = oldest - since - 1;
        since = oldest - 1;
    }
    uint32_t max = req && req->max ? req->max : NODE_EVENTS_PER_REPLY;
    if (max > NODE_EVENTS_PER_REPLY)
        max = NODE_EVENTS_PER_REPLY;
    size_t avail = (size_t)(last - since);
    size_t count = avail < max ? avail : max;
    if (count) {
        er->events = ctl_reply_alloc(rep, count * sizeof *er->events);
        if (er->events == NULL)
            return;
    }
    for (size_t i = 0; i < count; i++) {
        const struct events_entry *e = events_get(&n->events, since + 1 + i);
        Naos__V1__Event *ev = ctl_reply_alloc(rep, sizeof *ev);
        if (e == NULL || ev == NULL)
            break;
        naos__v1__event__init(ev);
        ev->seq = e->seq;
        ev->at_wall_ms = e->at_wall_ms;
        ev->at_mono_us = e->at_mono_us;
        ev->kind = (char *)e->kind;
        ev->deployment = ctl_reply_strdup(rep, e->deployment);
        ev->path = ctl_reply_strdup(rep, e->path);
        ev->pid = e->pid;
        ev->reason = ctl_reply_strdup(rep, e->reason);
        ev->restarts = e->restarts;
        ev->detail = ctl_reply_strdup(rep, e->detail);
        er->events[er->n_events++] = ev;
    }
    er->next = since + er->n_events;
    rep->msg.rep_case = NAOS__V1__REPLY__REP_EVENTS;
    rep->msg.events = er;
}

/* Finds the only worker under s, or returns NULL and counts them. */
static const struct sup_node *
only_worker(const struct sup_node *s, size_t *count)
{
    if (!s->is_supervisor) {
        (*count)++;
        return s;
    }
    const struct sup_node *found = NULL;
    for (size_t i = 0; i < s->nchildren; i++) {
        const struct sup_node *w = only_worker(s->children[i], count);
        if (w && found == NULL)
            found = w;
    }
    return *count == 1 ? found : NULL;
}

static void
handle_logs(struct node *n, const Naos__V1__LogsRequest *req,
            struct ctl_reply *rep)
{
    const char *name = req->name ? req->name : "";
    const struct sup_node *w = sup_find_path(n->tree, name);
    if (w == NULL) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__NOT_FOUND,
                        "no deployment or worker named %s (see `naos status`)",
                        name);
        return;
    }
    if (w->is_supervisor) {
        size_t count = 0;
        const struct sup_node *only = only_worker(w, &count);
        if (only == NULL) {
            ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                            "%s has %zu workers: name one by its path, e.g. "
                            "`naos logs %s/<child>` (see `naos status %s`)",
                            name, count, w->path, w->path);
            return;
        }
        w = only;
    }
    char path[2 * PATH_MAX];
    snprintf(path, sizeof path, "%s/logs/%s.log", n->data_dir, w->path);
    size_t cap = req->max_bytes ? req->max_bytes : NODE_LOGS_DEFAULT_CHUNK;
    if (cap > NODE_LOGS_MAX_CHUNK)
        cap = NODE_LOGS_MAX_CHUNK;
    Naos__V1__LogsReply *lr = ctl_reply_alloc(rep, sizeof *lr);
    char *buf = ctl_reply_alloc(rep, cap);
    if (lr == NULL || buf == NULL)
        return;
    naos__v1__logs_reply__init(lr);
    size_t len = 0;
    int64_t next = req->offset < 0 ? 0 : req->offset;
    bool rotated = false;
    int rc = proc_logfile_read(path, req->offset, req->tail_lines, buf, cap,
                               &len, &next, &rotated);
    if (rc != NAOS_OK && rc != NAOS_ENOTFOUND) {
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INTERNAL,
                        "cannot read %s: %s", path, strerror(errno));
        return;
    }
    lr->data.data = (uint8_t *)buf;
    lr->data.len = len;
    lr->next_offset = next;
    lr->rotated = rotated;
    lr->path = ctl_reply_strdup(rep, w->path);
    rep->msg.rep_case = NAOS__V1__REPLY__REP_LOGS;
    rep->msg.logs = lr;
}

static void
handle_request(void *arg, const Naos__V1__Request *req, struct ctl_reply *rep)
{
    struct node *n = arg;
    switch (req->req_case) {
    case NAOS__V1__REQUEST__REQ_DEPLOY:
        handle_deploy(n, req->deploy, rep);
        break;
    case NAOS__V1__REQUEST__REQ_STATUS:
        handle_status(n, req->status, rep);
        break;
    case NAOS__V1__REQUEST__REQ_STOP:
        handle_dep_cmd(n, req->stop, sup_stop, "stopped", rep);
        break;
    case NAOS__V1__REQUEST__REQ_START:
        handle_dep_cmd(n, req->start, sup_start, "started", rep);
        break;
    case NAOS__V1__REQUEST__REQ_RESTART:
        handle_dep_cmd(n, req->restart, sup_restart, "restarted", rep);
        break;
    case NAOS__V1__REQUEST__REQ_REMOVE:
        handle_dep_cmd(n, req->remove, sup_remove, "removed", rep);
        break;
    case NAOS__V1__REQUEST__REQ_EVENTS:
        handle_events(n, req->events, rep);
        break;
    case NAOS__V1__REQUEST__REQ_LOGS:
        handle_logs(n, req->logs, rep);
        break;
    case NAOS__V1__REQUEST__REQ_PING:
        ctl_reply_message(rep, "naos-node %s %s, %zu workers", n->name,
                          NAOS_VERSION, sup_count_workers(n->tree));
        break;
    default:
        ctl_reply_error(rep, NAOS__V1__ERROR_CODE__INVALID,
                        "unknown request: upgrade naos-node");
    }
}

/* ---- lifecycle ---------------------------------------------------------- */

static int
lock_run_dir(struct node *n, char *errbuf, size_t errlen)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/node.lock", n->run_dir);
    n->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (n->lock_fd < 0) {
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
    n->lock_fd = n->sig_fd = n->notify_fd = -1;
    n->r.epfd = -1;
    snprintf(n->name, sizeof n->name, "%s", cfg->name);
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
    int e;
    if ((e = make_dirs(n->run_dir, 0700)) != 0 ||
        (e = make_dirs(n->data_dir, 0700)) != 0) {
        snprintf(errbuf, errlen, "cannot create %s or %s: %s", n->run_dir,
                 n->data_dir, strerror(e));
        rc = NAOS_ESYS;
        goto err;
    }
    if ((rc = lock_run_dir(n, errbuf, errlen)) != NAOS_OK)
        goto err;
    raise_fd_limit();
    if (proc_orphans_enable() != NAOS_OK)
        NAOS_WARN("node", "cannot become a child subreaper: orphaned "
                  "grandchildren will escape cleanup");
    if ((rc = reactor_init(&n->r)) != NAOS_OK) {
        snprintf(errbuf, errlen, "epoll: %s", strerror(errno));
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
    if ((rc = events_init(&n->events, NODE_EVENTS_KEPT)) != NAOS_OK)
        goto err;
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
    snprintf(n->ctl_url, sizeof n->ctl_url, "ipc://%s/ctl.sock", n->run_dir);
    snprintf(n->ctl_env, sizeof n->ctl_env, "NAOS_CTL=%s", n->ctl_url);
    if ((rc = ctl_open(&n->ctl, &n->r, n->ctl_url, handle_request, n, errbuf,
                       errlen)) != NAOS_OK)
        goto err;
    *out = n;
    return NAOS_OK;
err:
    node_close(n);
    return rc;
}

int
node_run(struct node *n)
{
    NAOS_INFO("node", "naos-node %s %s ready: control %s", n->name,
              NAOS_VERSION, n->ctl_url);
    for (;;) {
        if (reactor_run_once(&n->r, -1) != NAOS_OK) {
            NAOS_ERROR("node", "event loop failed: %s", strerror(errno));
            return 111;
        }
        naos_time now = n->r.now;
        if (sup_next_deadline(n->tree) <= now)
            sup_tick(n->tree, now);
        reactor_set_deadline(&n->r, sup_next_deadline(n->tree));
        grave_flush(n);
        if (n->stopping && sup_is_quiet(n->tree)) {
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
    ctl_close(&n->ctl, &n->r);
    if (n->tree) {
        kill_everything(n);
        sup_tree_free(n->tree);
    }
    grave_flush(n);
    events_fini(&n->events);
    idmap_fini(&n->pids);
    if (n->notify_fd >= 0)
        proc_notify_close(n->notify_fd, n->notify_path);
    if (n->sig_fd >= 0)
        close(n->sig_fd);
    reactor_fini(&n->r);
    if (n->lock_fd >= 0)
        close(n->lock_fd);
    naos_free(n);
}
