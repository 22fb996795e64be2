/* SPDX-License-Identifier: Apache-2.0 */
/* guardian.c: the node's handle on its guardian (top half) and the
 * guardian process itself (guardian_main, bottom half). See guardian.h for
 * the contract and the fail-safe rules.
 *
 * The guardian's state is two-valued: armed (the deadline minus the margin
 * lies ahead, or there is none) and expired (it has passed: every watched
 * group was killed, and each group watched from then on is killed on
 * receipt). An extension whose fire time lies ahead arms it again.
 *
 *   state    event                      action                 next
 *   armed    EXTEND (fire ahead)        re-arm the timerfd     armed
 *   armed    EXTEND (fire past), timer  kill all               expired
 *   armed    WATCH                      register               armed
 *   expired  WATCH                      register, kill it      expired
 *   expired  EXTEND (fire ahead)        re-arm the timerfd     armed
 *   any      UNWATCH                    forget                 same
 *   any      STOP                       exit 0, no kill        -
 *   any      EOF                        kill all, exit 1       -
 *   any      bad record                 kill all, exit 100     -
 *
 * Uses naos_base only (no reactor, no spec): it must stay small and run
 * with nothing but its channel, its timerfd and the pidfds it is given. */
#include "node/proc/guardian.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/idmap.h"
#include "node/base/log.h"
#include "node/proc/procstat.h"

/* Linux 6.9's pidfd_send_signal scope flag (uapi linux/pidfd.h); Debian
 * 12's headers predate it. */
#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP (1U << 2)
#endif

extern char **environ;

static int
sys_pidfd_open(int pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int
sys_pidfd_send_signal(int pidfd, int sig, unsigned flags)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}

uint64_t
guardian_clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the node's side --------------------------------------------------- */

/* One record waiting in the handle, with the dup of a watch's pidfd. */
struct guardian_rec {
    struct guardian_msg m;
    int fd; /* owned; -1 for none */
};

struct guardian {
    int sock;  /* the node's end: non-blocking, close-on-exec */
    int pid;   /* the guardian process */
    int pidfd; /* its pidfd */
    bool gone;          /* the channel failed or closed: nothing more goes */
    bool stopping;      /* guardian_stop was called */
    bool stop_sent;     /* ... and its record went out */
    bool deadline_due;  /* `deadline` waits to be sent */
    uint64_t deadline;
    struct guardian_rec *q; /* ring of waiting records, in order */
    size_t qcap, qhead, qlen;
};

/* send_rec sends one record (and fd when >= 0) without blocking.
 * Returns 0 (sent), EAGAIN (no room now) or another errno (the channel is
 * broken: EPIPE, ECONNRESET, ...). */
static int
send_rec(int sock, const struct guardian_msg *m, int fd)
{
    struct iovec iov = {(void *)m, sizeof *m};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr mh = {0};
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (fd >= 0) {
        memset(&ctl, 0, sizeof ctl);
        mh.msg_control = ctl.buf;
        mh.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof *m)
            return 0;
        if (n >= 0) /* SEQPACKET sends records whole: cannot happen */
            return EPROTO;
        if (errno == EINTR)
            continue;
        return errno == EWOULDBLOCK ? EAGAIN : errno;
    }
}

/* broken marks the channel dead and drops what waits (closing the dups). */
static void
broken(struct guardian *g)
{
    g->gone = true;
    g->deadline_due = false;
    while (g->qlen > 0) {
        struct guardian_rec *r = &g->q[g->qhead];
        if (r->fd >= 0)
            close(r->fd);
        g->qhead = (g->qhead + 1) % g->qcap;
        g->qlen--;
    }
}

/* queue_push appends a record (taking ownership of fd on success).
 * Returns NAOS_OK, NAOS_EBUSY (GUARDIAN_QUEUE_MAX) or NAOS_ENOMEM. */
static int
queue_push(struct guardian *g, const struct guardian_msg *m, int fd)
{
    if (g->qlen == GUARDIAN_QUEUE_MAX)
        return NAOS_EBUSY;
    if (g->qlen == g->qcap) {
        size_t ncap = g->qcap ? g->qcap * 2 : 64;
        if (ncap > GUARDIAN_QUEUE_MAX)
            ncap = GUARDIAN_QUEUE_MAX;
        struct guardian_rec *nq = naos_alloc(ncap * sizeof *nq);
        if (nq == NULL)
            return NAOS_ENOMEM;
        for (size_t i = 0; i < g->qlen; i++)
            nq[i] = g->q[(g->qhead + i) % g->qcap];
        naos_free(g->q);
        g->q = nq;
        g->qcap = ncap;
        g->qhead = 0;
    }
    struct guardian_rec *r = &g->q[(g->qhead + g->qlen) % g->qcap];
    r->m = *m;
    r->fd = fd;
    g->qlen++;
    return NAOS_OK;
}

int
guardian_flush(struct guardian *g)
{
    if (g->gone)
        return NAOS_ECLOSED;
    /* The guardian never writes: a readable end means it has closed. */
    char b;
    ssize_t pn = recv(g->sock, &b, 1, MSG_DONTWAIT | MSG_PEEK);
    if (pn == 0 || (pn < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
                    errno != EINTR)) {
        broken(g);
        return NAOS_ECLOSED;
    }
    /* The newest deadline first: a backlog of watches must not hold back
     * an extension (a deadline moved ahead of older watches only lets
     * them live as long as the node now says they may). */
    if (g->deadline_due) {
        struct guardian_msg m = {GUARDIAN_MSG_EXTEND, 0, g->deadline};
        int e = send_rec(g->sock, &m, -1);
        if (e == EAGAIN)
            return NAOS_OK;
        if (e != 0) {
            broken(g);
            return NAOS_ECLOSED;
        }
        g->deadline_due = false;
    }
    while (g->qlen > 0) {
        struct guardian_rec *r = &g->q[g->qhead];
        int e = send_rec(g->sock, &r->m, r->fd);
        if (e == EAGAIN)
            return NAOS_OK;
        if (e != 0) {
            broken(g);
            return NAOS_ECLOSED;
        }
        if (r->fd >= 0)
            close(r->fd); /* the guardian has its own copy now */
        g->qhead = (g->qhead + 1) % g->qcap;
        g->qlen--;
    }
    if (g->stopping && !g->stop_sent) {
        struct guardian_msg m = {GUARDIAN_MSG_STOP, 0, 0};
        int e = send_rec(g->sock, &m, -1);
        if (e == EAGAIN)
            return NAOS_OK;
        if (e != 0) {
            broken(g);
            return NAOS_ECLOSED;
        }
        g->stop_sent = true;
    }
    return NAOS_OK;
}

int
guardian_fd(const struct guardian *g)
{
    return g->sock;
}

uint32_t
guardian_events(const struct guardian *g)
{
    uint32_t ev = EPOLLRDHUP;
    if (!g->gone && (g->deadline_due || g->qlen > 0 ||
                     (g->stopping && !g->stop_sent)))
        ev |= EPOLLOUT;
    return ev;
}

int
guardian_extend(struct guardian *g, uint64_t deadline)
{
    if (g->gone || g->stopping)
        return NAOS_ECLOSED;
    g->deadline = deadline;
    g->deadline_due = true;
    return guardian_flush(g);
}

/* queue_or_send sends m at once when nothing waits ahead of it, else
 * queues it (with a dup of fd, when fd >= 0). */
static int
queue_or_send(struct guardian *g, const struct guardian_msg *m, int fd)
{
    if (g->gone || g->stopping)
        return NAOS_ECLOSED;
    if (!g->deadline_due && g->qlen == 0) {
        int e = send_rec(g->sock, m, fd);
        if (e == 0)
            return NAOS_OK;
        if (e != EAGAIN) {
            broken(g);
            return NAOS_ECLOSED;
        }
    }
    int dup = -1;
    if (fd >= 0 && (dup = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
        return NAOS_ESYS;
    int rc = queue_push(g, m, dup);
    if (rc != NAOS_OK) {
        if (dup >= 0)
            close(dup);
        return rc;
    }
    return guardian_flush(g);
}

int
guardian_watch_ex(struct guardian *g, int pgid, int pidfd,
                  bool at_death_only)
{
    if (pgid <= 1 || pidfd < 0)
        return NAOS_EINVAL;
    struct guardian_msg m = {GUARDIAN_MSG_WATCH, (uint32_t)pgid,
                             at_death_only ? 1 : 0};
    return queue_or_send(g, &m, pidfd);
}

int
guardian_watch(struct guardian *g, int pgid, int pidfd)
{
    return guardian_watch_ex(g, pgid, pidfd, false);
}

int
guardian_unwatch(struct guardian *g, int pgid)
{
    if (pgid <= 1)
        return NAOS_EINVAL;
    struct guardian_msg m = {GUARDIAN_MSG_UNWATCH, (uint32_t)pgid, 0};
    return queue_or_send(g, &m, -1);
}

int
guardian_stop(struct guardian *g)
{
    if (g->gone || g->stopping)
        return NAOS_ECLOSED;
    g->stopping = true;
    return guardian_flush(g);
}

int
guardian_pid(const struct guardian *g)
{
    return g->pid;
}

int
guardian_pidfd(const struct guardian *g)
{
    return g->pidfd;
}

int
guardian_start(struct guardian **out, const struct guardian_opts *opts)
{
    if (opts->margin > 3600u * 1000u)
        return NAOS_EINVAL;
    int rc = NAOS_ESYS, saved = 0;
    struct guardian *g = naos_alloc(sizeof *g);
    if (g == NULL)
        return NAOS_ENOMEM;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        goto err_after_alloc;
    if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0)
        goto err_after_pair;

    posix_spawnattr_t attr;
    if ((saved = posix_spawnattr_init(&attr)) != 0)
        goto err_after_pair_saved;
    /* Its own session: a SIGINT from the node's terminal or a kill of
     * the node's process group must not take the guardian with it.
     * Every signal blocked from the exec on (guardian_main blocks them
     * again); dispositions reset, as proc_spawn does for workers. */
    sigset_t all;
    memset(&all, 0xff, sizeof all);
    if ((saved = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
                                                     POSIX_SPAWN_SETSIGMASK |
                                                     POSIX_SPAWN_SETSIGDEF)) !=
            0 ||
        (saved = posix_spawnattr_setsigmask(&attr, &all)) != 0 ||
        (saved = posix_spawnattr_setsigdefault(&attr, &all)) != 0)
        goto err_after_attr;
    posix_spawn_file_actions_t fa;
    if ((saved = posix_spawn_file_actions_init(&fa)) != 0)
        goto err_after_attr;
    /* adddup2(fd, fd) clears FD_CLOEXEC too (glibc 2.29+). */
    if ((saved = posix_spawn_file_actions_adddup2(&fa, sv[1],
                                                  GUARDIAN_FD)) != 0 ||
        (saved = posix_spawn_file_actions_addclosefrom_np(
             &fa, GUARDIAN_FD + 1)) != 0)
        goto err_after_fa;

    char margin[16];
    snprintf(margin, sizeof margin, "%u", (unsigned)opts->margin);
    char instance[24];
    snprintf(instance, sizeof instance, "%016llx",
             (unsigned long long)opts->certify_instance);
    bool certify = opts->certify_plan != NULL && opts->certify_instance != 0;
    char *argv[] = {"naos-node", "guardian", "--margin", margin,
                    certify ? "--certify" : NULL,
                    (char *)opts->certify_plan, "--instance", instance,
                    NULL};
    const char *exe = opts->exe ? opts->exe : "/proc/self/exe";
    pid_t pid;
    /* The node's environment, but no run's mark: a node started by a
     * worker of another node's run must not have its guardian killed as
     * one of that run's processes (and certify inherits this). */
    size_t nenv = 0;
    while (environ[nenv] != NULL)
        nenv++;
    char **envp = naos_alloc((nenv + 1) * sizeof *envp);
    if (envp == NULL) {
        saved = ENOMEM;
        goto err_after_fa;
    }
    size_t ke = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], GUARDIAN_RUN_ENV "=",
                    sizeof GUARDIAN_RUN_ENV) != 0)
            envp[ke++] = environ[i];
    envp[ke] = NULL;
    saved = posix_spawn(&pid, exe, &fa, &attr, argv, envp);
    naos_free(envp);
    if (saved != 0)
        goto err_after_fa;
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(sv[1]);
    sv[1] = -1;

    int pidfd = sys_pidfd_open(pid);
    if (pidfd < 0) {
        saved = errno;
        /* It has not read anything yet: nothing to kill but itself. */
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        goto err_after_pair_saved;
    }
    g->sock = sv[0];
    g->pid = pid;
    g->pidfd = pidfd;
    g->deadline = opts->deadline;
    g->deadline_due = true;
    guardian_flush(g); /* a full or failed send shows up later */
    *out = g;
    return NAOS_OK;

err_after_fa:
    posix_spawn_file_actions_destroy(&fa);
err_after_attr:
    posix_spawnattr_destroy(&attr);
err_after_pair_saved:
    errno = saved;
err_after_pair:
    saved = errno;
    close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    errno = saved;
err_after_alloc:
    naos_free(g);
    return rc;
}

void
guardian_free(struct guardian *g, int *exit_code)
{
    if (exit_code != NULL)
        *exit_code = -1;
    if (g == NULL)
        return;
    broken(g);
    close(g->sock);
    naos_free(g->q);
    /* Closing the channel is the guardian's cue to exit (killing first
     * unless the stop went out): wait for it, bounded. */
    struct pollfd p = {g->pidfd, POLLIN, 0};
    uint64_t end = guardian_clock_now() + 1000;
    for (;;) {
        uint64_t now = guardian_clock_now();
        if (now >= end)
            break;
        int r = poll(&p, 1, (int)(end - now));
        if (r > 0 || (r < 0 && errno != EINTR))
            break;
    }
    int st = 0;
    if (waitpid(g->pid, &st, WNOHANG) == g->pid && exit_code != NULL &&
        WIFEXITED(st))
        *exit_code = WEXITSTATUS(st);
    close(g->pidfd);
    naos_free(g);
}

/* ---- the guardian process ---------------------------------------------- */

struct gentry {
    int pgid;
    int pidfd; /* the group leader's, received with the watch */
    bool at_death_only; /* never killed at the deadline (guardian.h) */
};

struct gstate {
    int sock, tfd;
    uint32_t margin;
    const char *certify_plan; /* --certify: exec'd after the node's death */
    const char *instance;     /* --instance: the node's run (16 hex) */
    char run_mark[64];        /* "NAOS_NODE_RUN=<instance>" */
    int parent_pidfd;         /* the node's: readable once it is gone */
    uint64_t deadline; /* GUARDIAN_NEVER: none */
    bool expired;
    bool pgrp_signal; /* PIDFD_SIGNAL_PROCESS_GROUP works (Linux 6.9) */
    struct gentry *e; /* dense */
    size_t n, cap, max;
    struct idmap idx; /* pgid -> index + 1 into e */
};

/* fire_at: when the guardian kills (ms BOOTTIME), or GUARDIAN_NEVER. */
static uint64_t
fire_at(const struct gstate *s)
{
    if (s->deadline == GUARDIAN_NEVER)
        return GUARDIAN_NEVER;
    return s->deadline > s->margin ? s->deadline - s->margin : 0;
}

/* group_alive: the watched group still has a process (never signals). */
static bool
group_alive(const struct gstate *s, const struct gentry *en)
{
    int r = sys_pidfd_send_signal(en->pidfd, 0,
                                  s->pgrp_signal ? PIDFD_SIGNAL_PROCESS_GROUP
                                                 : 0);
    return r == 0 || errno != ESRCH;
}

/* kill_group SIGKILLs one watched group. Returns true if a process was
 * signalled. Never by a number that may have been recycled (guardian.h). */
static bool
kill_group(const struct gstate *s, const struct gentry *en)
{
    if (s->pgrp_signal)
        return sys_pidfd_send_signal(en->pidfd, SIGKILL,
                                     PIDFD_SIGNAL_PROCESS_GROUP) == 0;
    /* Fallback: the leader alive or a zombie pins the number, so -pgid
     * is still this group. */
    if (sys_pidfd_send_signal(en->pidfd, 0, 0) != 0)
        return false;
    return kill(-en->pgid, SIGKILL) == 0;
}

#define GUARDIAN_LOG_GROUPS 32 /* groups named one by one per event */

/* kill_all kills every watched group; at the deadline (deadline) not
 * those watched for the node's death only. */
static void
kill_all_of(const struct gstate *s, const char *why, bool deadline)
{
    size_t killed = 0;
    for (size_t i = 0; i < s->n; i++) {
        if ((deadline && s->e[i].at_death_only) || !kill_group(s, &s->e[i]))
            continue;
        if (++killed <= GUARDIAN_LOG_GROUPS)
            NAOS_WARN("guardian", "SIGKILL process group %d: %s",
                      s->e[i].pgid, why);
    }
    NAOS_WARN("guardian", "%s: killed %zu of %zu watched process groups%s",
              why, killed, s->n,
              killed > GUARDIAN_LOG_GROUPS ? " (the first ones named)" : "");
}

static void
kill_all(const struct gstate *s, const char *why)
{
    kill_all_of(s, why, false);
}

static void
forget_at(struct gstate *s, size_t i)
{
    idmap_del(&s->idx, (uint64_t)s->e[i].pgid);
    close(s->e[i].pidfd);
    s->n--;
    if (i != s->n) {
        s->e[i] = s->e[s->n];
        idmap_put(&s->idx, (uint64_t)s->e[i].pgid, (void *)(uintptr_t)(i + 1));
    }
}

/* threads_of: how many tasks pid has (a zombie leader whose other
 * threads still finish a system call is not gone). */
static size_t
threads_of(const char *pid)
{
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/task", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    size_t k = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        k += de->d_name[0] != '.';
    closedir(d);
    return k;
}

/* marked: pid's environment holds the run's mark as one whole entry
 * (entries are NUL-separated; read in pieces, matched as it streams). */
static bool
marked(const struct gstate *s, const char *pid)
{
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/environ", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    const char *mark = s->run_mark;
    size_t mlen = strlen(mark), pos = 0; /* pos: bytes into this entry */
    bool match = true, found = false;
    char buf[4096];
    ssize_t k;
    while (!found && (k = read(fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < k && !found; i++) {
            if (buf[i] == '\0') {
                found = match && pos == mlen;
                match = true;
                pos = 0;
                continue;
            }
            match = match && pos < mlen && buf[i] == mark[pos];
            pos++;
        }
    }
    close(fd);
    return found || (match && pos == mlen); /* the last entry, unended */
}

/* any_left: some process of a watched group, or marked with the run,
 * runs (zombies do not, unless a thread of theirs lives on: they run
 * nothing and wait for whoever reaps them, the dead node's workers for
 * init). Every marked process met is SIGKILLed (a helper that left its
 * worker's group, a child made before its worker was watched). A number
 * recycled by an unrelated group counts as left: that only costs the
 * certificate. */
static bool
any_left(const struct gstate *s)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return true;
    bool left = false;
    pid_t self = getpid();
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        int pid = atoi(de->d_name);
        struct proc_stat st;
        if (!proc_stat_read(pid, &st) || st.state == 'X' ||
            (st.state == 'Z' && threads_of(de->d_name) <= 1))
            continue;
        bool ours = st.pgrp > 0 &&
                    idmap_get(&s->idx, (uint64_t)st.pgrp) != NULL;
        if (!ours && pid != self) {
            /* the pidfd first: the environment read and the kill are then
             * of one process, whatever became of the number */
            int fd = sys_pidfd_open(pid);
            if (fd >= 0 && marked(s, de->d_name)) {
                ours = true;
                sys_pidfd_send_signal(fd, SIGKILL, 0);
            }
            if (fd >= 0)
                close(fd);
        }
        left = left || ours;
    }
    closedir(d);
    return left;
}

/* node_gone: the node that started us has exited (not merely closed the
 * channel: a live node does that when it replaces a guardian it thinks
 * broken). It may take a moment after the channel's EOF. */
static bool
node_gone(const struct gstate *s)
{
    struct pollfd p = {.fd = s->parent_pidfd, .events = POLLIN};
    if (poll(&p, 1, 200) == 1)
        return true;
    NAOS_WARN("guardian", "the channel closed but the node lives: no "
              "certificate");
    return false;
}

/* verify_empty: after the kill of every group, wait (at most
 * GUARDIAN_VERIFY_MS) until none has a process left. */
static bool
verify_empty(const struct gstate *s)
{
    uint64_t until = guardian_clock_now() + GUARDIAN_VERIFY_MS;
    for (;;) {
        if (!any_left(s)) {
            NAOS_INFO("guardian", "every process of the %zu watched groups "
                      "is gone: certifying the node's death", s->n);
            return true;
        }
        if (guardian_clock_now() >= until)
            break;
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    NAOS_WARN("guardian", "a process of a killed group is still running "
              "after %d ms: no certificate (the cluster waits for the "
              "lease)", GUARDIAN_VERIFY_MS);
    return false;
}

/* prune forgets entries whose group is empty (a lost unwatch). */
static void
prune(struct gstate *s)
{
    for (size_t i = s->n; i-- > 0;)
        if (!group_alive(s, &s->e[i]))
            forget_at(s, i);
}

/* on_watch registers pgid with its leader's pidfd (taken). Returns 0, or
 * a GUARDIAN_EXIT_* code to kill all and leave with. */
static int
on_watch(struct gstate *s, int pgid, int pidfd, bool at_death_only)
{
    /* A pidfd (alive or not) answers signal 0 with 0 or ESRCH. */
    if (sys_pidfd_send_signal(pidfd, 0, 0) != 0 && errno != ESRCH) {
        NAOS_ERROR("guardian", "watch %d: not a pidfd (%s)", pgid,
                   strerror(errno));
        close(pidfd);
        return GUARDIAN_EXIT_PROTOCOL;
    }
    struct gentry en = {pgid, pidfd, at_death_only};
    uintptr_t at = (uintptr_t)idmap_get(&s->idx, (uint64_t)pgid);
    if (at != 0) {
        /* The number came back: the old group is empty (guardian.h). */
        close(s->e[at - 1].pidfd);
        s->e[at - 1] = en;
    } else {
        if (s->n == s->max)
            prune(s);
        if (s->n == s->max) {
            /* It cannot be watched, so it must not live on unwatched. */
            NAOS_ERROR("guardian", "watch %d: %zu groups watched already: "
                       "killing it now", pgid, s->n);
            kill_group(s, &en);
            close(pidfd);
            return 0;
        }
        if (s->n == s->cap) {
            size_t ncap = s->cap ? s->cap * 2 : 256;
            struct gentry *ne = naos_realloc(s->e, ncap * sizeof *ne);
            if (ne == NULL) {
                close(pidfd);
                return GUARDIAN_EXIT_SYSTEM;
            }
            s->e = ne;
            s->cap = ncap;
        }
        if (idmap_put(&s->idx, (uint64_t)pgid,
                      (void *)(uintptr_t)(s->n + 1)) != NAOS_OK) {
            close(pidfd);
            return GUARDIAN_EXIT_SYSTEM;
        }
        s->e[s->n++] = en;
        at = s->n;
    }
    if (s->expired && !at_death_only && kill_group(s, &s->e[at - 1]))
        NAOS_WARN("guardian", "SIGKILL process group %d: watched after the "
                  "deadline", pgid);
    return 0;
}

#define GUARDIAN_BATCH 256 /* records read per loop iteration */

/* read_records handles the records waiting on the channel (a batch). Returns -1
 * while the guardian runs on, else the exit code (after killing all,
 * unless it is a clean stop). */
static int
read_records(struct gstate *s)
{
    /* A bounded batch, so a flood of records cannot hold back the
     * deadline check between batches. */
    for (int batch = 0; batch < GUARDIAN_BATCH; batch++) {
        struct guardian_msg m;
        char extra[8]; /* a longer record lands here and is refused */
        struct iovec iov[2] = {{&m, sizeof m}, {extra, sizeof extra}};
        union {
            char buf[CMSG_SPACE(4 * sizeof(int))];
            struct cmsghdr align;
        } ctl;
        struct msghdr mh = {0};
        mh.msg_iov = iov;
        mh.msg_iovlen = 2;
        mh.msg_control = ctl.buf;
        mh.msg_controllen = sizeof ctl.buf;
        ssize_t n = recvmsg(s->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return -1;
            NAOS_ERROR("guardian", "recvmsg: %s", strerror(errno));
            kill_all(s, "the channel failed");
            return GUARDIAN_EXIT_SYSTEM;
        }
        if (n == 0) {
            kill_all(s, "the node closed the channel without a stop");
            return GUARDIAN_EXIT_NODE_GONE;
        }
        int fds[4], nfds = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL;
             c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t j = 0; j < k && nfds < 4; j++)
                memcpy(&fds[nfds++], CMSG_DATA(c) + j * sizeof(int),
                       sizeof(int));
        }
        bool bad = n != (ssize_t)sizeof m ||
                   (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
        bool wants_fd = !bad && m.type == GUARDIAN_MSG_WATCH;
        if (nfds != (wants_fd ? 1 : 0))
            bad = true;
        if (bad) {
            for (int j = 0; j < nfds; j++)
                close(fds[j]);
            NAOS_ERROR("guardian", "bad record (%zd bytes, %d fds, flags "
                       "%#x)", n, nfds, (unsigned)mh.msg_flags);
            kill_all(s, "a bad record on the channel");
            return GUARDIAN_EXIT_PROTOCOL;
        }
        int rc = 0;
        switch (m.type) {
        case GUARDIAN_MSG_EXTEND:
            s->deadline = m.arg;
            /* armed again at once, not at the next check: a watch read
             * in the same batch after it belongs to the new lease (CI
             * saw the worker of a re-armed guardian killed as "watched
             * after the deadline") */
            if (s->expired && fire_at(s) > guardian_clock_now()) {
                s->expired = false;
                NAOS_INFO("guardian", "deadline extended after it had "
                          "passed: armed again");
            }
            break;
        case GUARDIAN_MSG_WATCH:
            if (m.id <= 1 || m.id > INT32_MAX) {
                close(fds[0]);
                rc = GUARDIAN_EXIT_PROTOCOL;
                break;
            }
            rc = on_watch(s, (int)m.id, fds[0], m.arg == 1);
            break;
        case GUARDIAN_MSG_UNWATCH: {
            uintptr_t at = (uintptr_t)idmap_get(&s->idx, (uint64_t)m.id);
            if (at != 0)
                forget_at(s, at - 1);
            break;
        }
        case GUARDIAN_MSG_STOP:
            NAOS_INFO("guardian", "stopped by the node: leaving without "
                      "a kill (%zu groups watched)", s->n);
            return GUARDIAN_EXIT_STOPPED;
        default:
            NAOS_ERROR("guardian", "unknown record type %u", m.type);
            rc = GUARDIAN_EXIT_PROTOCOL;
            break;
        }
        if (rc != 0) {
            kill_all(s, "a bad record on the channel");
            return rc;
        }
    }
    return -1;
}

/* check_deadline expires the guardian when its fire time has come, and
 * arms the timerfd for the next one. Returns 0 or GUARDIAN_EXIT_SYSTEM. */
static int
check_deadline(struct gstate *s)
{
    uint64_t fire = fire_at(s), now = guardian_clock_now();
    if (s->expired && fire > now) {
        s->expired = false;
        NAOS_INFO("guardian", "deadline extended after it had passed: "
                  "armed again");
    } else if (!s->expired && fire <= now) {
        kill_all_of(s, "the deadline passed", true);
        s->expired = true;
    }
    struct itimerspec its = {{0, 0}, {0, 0}};
    if (!s->expired && fire != GUARDIAN_NEVER) {
        its.it_value.tv_sec = (time_t)(fire / 1000);
        its.it_value.tv_nsec = (long)(fire % 1000) * 1000000L;
    }
    if (timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0) {
        NAOS_ERROR("guardian", "timerfd_settime: %s", strerror(errno));
        kill_all(s, "the timer failed");
        return GUARDIAN_EXIT_SYSTEM;
    }
    return 0;
}

/* run is the loop; returns the exit code. */
static int
run(struct gstate *s)
{
    int rc = check_deadline(s);
    while (rc == 0) {
        struct pollfd p[2] = {{s->sock, POLLIN, 0}, {s->tfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            NAOS_ERROR("guardian", "poll: %s", strerror(errno));
            kill_all(s, "poll failed");
            return GUARDIAN_EXIT_SYSTEM;
        }
        /* The deadline first: an extension counts only if it is read
         * before the fire time (a guardian that was starved past it
         * kills, even if the node's extension waits in the channel). */
        if ((rc = check_deadline(s)) != 0)
            return rc;
        if (p[0].revents != 0 && (rc = read_records(s)) >= 0)
            return rc;
        if (p[1].revents != 0) {
            uint64_t ticks;
            if (read(s->tfd, &ticks, sizeof ticks) < 0) {
                /* EAGAIN: re-armed since; check_deadline decides */
            }
        }
        rc = check_deadline(s);
    }
    return rc;
}

int
guardian_main(int argc, char **argv)
{
    /* Nothing but SIGKILL (and SIGSTOP) ends or stops it: a stray SIGTERM
     * or the terminal's SIGINT must not cost the node its fence. */
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);

    struct gstate s = {0};
    s.sock = GUARDIAN_FD;
    s.tfd = -1;
    s.deadline = GUARDIAN_NEVER;
    if ((argc != 3 && argc != 7) || strcmp(argv[0], "guardian") != 0 ||
        strcmp(argv[1], "--margin") != 0 ||
        (argc == 7 && (strcmp(argv[3], "--certify") != 0 ||
                       argv[4][0] == '\0' ||
                       strcmp(argv[5], "--instance") != 0 ||
                       strlen(argv[6]) != 16 ||
                       strspn(argv[6], "0123456789abcdef") != 16))) {
        fprintf(stderr, "naos-node: fatal: guardian: internal command, "
                "started by the node itself\n");
        return GUARDIAN_EXIT_PROTOCOL;
    }
    char *end;
    unsigned long margin = strtoul(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || margin > 3600ul * 1000ul) {
        fprintf(stderr, "naos-node: fatal: guardian: bad --margin\n");
        return GUARDIAN_EXIT_PROTOCOL;
    }
    s.margin = (uint32_t)margin;
    s.certify_plan = argc == 7 ? argv[4] : NULL;
    s.instance = argc == 7 ? argv[6] : NULL;
    s.parent_pidfd = -1;
    if (s.certify_plan != NULL) {
        snprintf(s.run_mark, sizeof s.run_mark, "%s=%s", GUARDIAN_RUN_ENV,
                 s.instance);
        /* The node that started us: only its death is certified (a live
         * node that closed the channel is not dead). */
        s.parent_pidfd = sys_pidfd_open(getppid());
        if (s.parent_pidfd < 0)
            s.certify_plan = NULL; /* cannot tell: never certify */
    }
    int type = 0;
    socklen_t tl = sizeof type;
    if (getsockopt(s.sock, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
        type != SOCK_SEQPACKET) {
        fprintf(stderr, "naos-node: fatal: guardian: fd %d is not the "
                "node's channel\n", GUARDIAN_FD);
        return GUARDIAN_EXIT_PROTOCOL;
    }
    fcntl(s.sock, F_SETFD, FD_CLOEXEC);

    /* One pidfd per group: take every fd the hard limit allows, and keep
     * the bound under it (so a watch's fd is never cut off in transit). */
    struct rlimit rl;
    s.max = GUARDIAN_MAX_WATCH;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < s.max + 32)
            s.max = rl.rlim_cur > 64 ? (size_t)rl.rlim_cur - 32 : 32;
    }
    /* Does this kernel take PIDFD_SIGNAL_PROCESS_GROUP? Ask about our own
     * group (signal 0: nothing is sent). */
    int self = sys_pidfd_open(getpid());
    s.pgrp_signal = self >= 0 &&
                    sys_pidfd_send_signal(self, 0,
                                          PIDFD_SIGNAL_PROCESS_GROUP) == 0;
    if (self >= 0)
        close(self);
    if (!s.pgrp_signal)
        NAOS_WARN("guardian", "no PIDFD_SIGNAL_PROCESS_GROUP (Linux < 6.9): "
                  "a group whose leader was reaped is not killed");

    int rc;
    s.tfd = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC | TFD_NONBLOCK);
    if (s.tfd < 0) {
        NAOS_ERROR("guardian", "timerfd_create: %s", strerror(errno));
        rc = GUARDIAN_EXIT_SYSTEM;
    } else {
        rc = run(&s);
        close(s.tfd);
    }
    bool certify = rc == GUARDIAN_EXIT_NODE_GONE && s.certify_plan != NULL &&
                   node_gone(&s) && verify_empty(&s);
    if (s.parent_pidfd >= 0)
        close(s.parent_pidfd);
    for (size_t i = 0; i < s.n; i++)
        close(s.e[i].pidfd);
    naos_free(s.e);
    idmap_fini(&s.idx);
    close(s.sock);
    if (certify) {
        /* Every process of the dead node's workers is gone: the same
         * binary tells the cluster (it may then move their work at once
         * rather than after the lease). */
        char *cargv[] = {"naos-node", "certify", "--plan",
                         (char *)s.certify_plan, "--instance",
                         (char *)s.instance, NULL};
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        execv("/proc/self/exe", cargv);
        NAOS_ERROR("guardian", "cannot run naos-node certify: %s",
                   strerror(errno));
    }
    return rc;
}
