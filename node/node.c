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
#include "node/node_int.h"

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
#include "store/state.h"

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
int64_t
node__wall_of(naos_time at)
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
    if (proc_logfile_open(&wr->log, wr->log_path, n->log_max_bytes,
                          n->log_keep) != NAOS_OK)
        NAOS_WARN("proc", "%s: cannot open log file %s: %s; output dropped",
                  w->path, wr->log_path, strerror(errno));
    /* Created now (so `naos logs` finds it), held open only while there
     * is output to write: a quiet worker costs the node no log fd. */
    proc_logfile_release(wr->log);
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
     * programs); only our read end is non-blocking. output: discard has
     * no pipe (the child's stdio is /dev/null). */
    int p[2] = {-1, -1};
    bool logged = info->spec->output == SPEC_OUTPUT_LOG;
    if (logged) {
        if (pipe2(p, O_CLOEXEC) < 0)
            return errno;
        fcntl(p[0], F_SETFL, O_NONBLOCK);
    }
    struct proc_naos_env ne = {
        .agent = info->path,
        .node = n->name,
        .restart_count = info->restart_count,
        .restart_reason = info->restart_reason,
        .notify_socket = n->notify_path,
        .watchdog = info->spec->watchdog,
    };
    char *extra[] = {n->ctl_env, n->id_env, NULL};
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
    if (logged)
        close(p[1]);
    if (rc != 0) {
        if (logged)
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
    if (logged && reactor_add(&n->r, &wr->log_watch, wr->log_rd, EPOLLIN,
                              on_log, wr) != NAOS_OK)
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
    proc_logfile_release(wr->log);
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
    struct proc_orphans_stats st = PROC_ORPHANS_STATS_ZERO;
    struct node *n = wr->n;
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
    node__stats_on_event(n, ev);
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
    if (node->parent == NULL)
        node__status_snaps_forget(n, node);
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

void
node__stop(struct node *n)
{
    if (n->stopping++ != 0)
        return;
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

/* Brings back every deployment the store holds, as they were wanted: a
 * running one starts again and its workers learn NAOS_RESTART_REASON
 * node-restart. A record that no longer converts is reported and left in
 * the store for the operator. */
static void
restore_deployments(struct node *n)
{
    Naos__V1__DeploymentRecord **recs = NULL;
    size_t nrecs = 0;
    if (store_deploy_list(n->store, &recs, &nrecs) != NAOS_OK) {
        NAOS_ERROR("store", "cannot list deployments: %s",
                   store_errmsg(n->store));
        return;
    }
    for (size_t i = 0; i < nrecs; i++) {
        char err[512] = "";
        struct spec_node spec = {0};
        struct sup_deploy_opts opts = {
            .stopped = recs[i]->desired == NAOS__V1__DESIRED_STATE__DESIRED_STOPPED,
            .first_reason = {SUP_REASON_NODE_RESTART, 0},
        };
        int rc = recs[i]->spec
                     ? spec_pb_to_spec(recs[i]->spec, &spec, err, sizeof err)
                     : NAOS_EINVAL;
        if (rc == NAOS_OK)
            rc = sup_deploy_ex(n->tree, &spec, &opts, n->r.now, NULL, err,
                               sizeof err);
        if (rc != NAOS_OK) {
            spec_node_fini(&spec);
            NAOS_ERROR("store", "cannot restore deployment %s: %s",
                       recs[i]->name, err[0] ? err : naos_strerror(rc));
            continue;
        }
        NAOS_INFO("node", "restored deployment %s (%s)", recs[i]->name,
                  opts.stopped ? "stopped" : "started");
    }
    store_deploy_list_free(recs, nrecs);
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
        NAOS_WARN("http", "%s: dashboard and API disabled (give --http ADDR "
                  "to choose another address)", err);
        return NAOS_OK;
    }
    char tmp[PATH_MAX + 24];
    snprintf(n->http_addr_path, sizeof n->http_addr_path, "%s/http.addr",
             n->run_dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", n->http_addr_path);
    FILE *f = fopen(tmp, "we");
    if (f == NULL || fprintf(f, "%s\n", http_url(&n->http)) < 0 ||
        fclose(f) != 0 || rename(tmp, n->http_addr_path) != 0) {
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

static naos_time
next_deadline(struct node *n)
{
    naos_time a = sup_next_deadline(n->tree);
    naos_time b = node__members_deadline(n);
    return a < b ? a : b;
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
    n->stats.started_at = n->r.now;
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
    char store_dir[PATH_MAX + 16];
    snprintf(store_dir, sizeof store_dir, "%s/store", n->data_dir);
    if ((rc = store_open(&n->store, store_dir, NULL, errbuf, errlen)) !=
        NAOS_OK)
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
    if (leftovers)
        NAOS_WARN("node", "killed %u process(es) left by a previous run of "
                  "this node", leftovers);
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
    if ((rc = ctl_open(&n->ctl, &n->r, n->ctl_url, node__handle_request, n, errbuf,
                       errlen)) != NAOS_OK)
        goto err;
    restore_deployments(n);
    if (cfg->http_url && (rc = open_http(n, cfg, errbuf, errlen)) != NAOS_OK)
        goto err;
    if (cfg->listen_url &&
        (rc = node__members_open(n, cfg, errbuf, errlen)) != NAOS_OK)
        goto err;
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
    NAOS_INFO("node", "naos-node %s %s ready: control %s", n->name,
              NAOS_VERSION, n->ctl_url);
    for (;;) {
        if (reactor_run_once(&n->r, -1) != NAOS_OK) {
            NAOS_ERROR("node", "event loop failed: %s", strerror(errno));
            return 111;
        }
        uint64_t t0 = naos_clock_now_us();
        naos_time now = n->r.now;
        if (sup_next_deadline(n->tree) <= now)
            sup_tick(n->tree, now);
        node__members_tick(n);
        if (n->leave_pending && node__members_left(n)) {
            n->leave_pending = false;
            NAOS_INFO("node", "left the cluster; stopping every deployment");
            sup_shutdown(n->tree, n->r.now);
        }
        reactor_set_deadline(&n->r, next_deadline(n));
        grave_flush(n);
        node__stats_observe_loop(n, n->r.last_lag_us +
                                        (naos_clock_now_us() - t0));
        if (n->stopping && !n->leave_pending && sup_is_quiet(n->tree)) {
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
    http_close(&n->http, &n->r);
    if (n->http_addr_path[0])
        unlink(n->http_addr_path);
    ctl_close(&n->ctl, &n->r);
    if (n->tree) {
        kill_everything(n);
        sup_tree_free(n->tree);
    }
    grave_flush(n);
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
    reactor_fini(&n->r);
    if (n->lock_fd >= 0)
        close(n->lock_fd);
    naos_free(n);
}
