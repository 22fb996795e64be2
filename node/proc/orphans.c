/* SPDX-License-Identifier: Apache-2.0 */
/* orphans.c: subreaper and orphan sweep. See orphans.h for the protocol.
 *
 * Pid safety: every pid we signal is our own unreaped child (read from the
 * children lists, or just peeked with WNOWAIT), so the kernel cannot have
 * recycled it for another process. A pid that we reap was peeked as exited
 * a moment before, and nobody else reaps (orphans.h). */
#include "node/proc/orphans.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"

int
proc_orphans_enable(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        return NAOS_ESYS;
    return NAOS_OK;
}

/* reap_if_exited reaps pid if it has exited. Returns true if reaped. */
static bool
reap_if_exited(int pid)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG) < 0)
        return false;
    return si.si_pid != 0;
}

/* peek_exited: step 1 of the sweep. */
static void
peek_exited(proc_orphans_known_cb is_known, void *ctx,
            struct proc_orphans_stats *st)
{
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
            return; /* ECHILD: no children at all */
        if (si.si_pid == 0)
            return; /* children, none exited */
        if (is_known(ctx, si.si_pid)) {
            /* The kernel would return the same one forever: stop here and
             * leave the rest to the /proc pass. */
            st->known_exited = si.si_pid;
            return;
        }
        if (!reap_if_exited(si.si_pid))
            return; /* cannot happen (we just peeked it); avoid a loop */
        st->reaped++;
    }
}

/* kill_unknown handles one direct child found in /proc. */
static void
kill_unknown(int pid, proc_orphans_known_cb is_known, void *ctx,
             struct proc_orphans_stats *st)
{
    if (pid <= 1 || is_known(ctx, pid))
        return;
    if (reap_if_exited(pid)) {
        st->reaped++;
        return;
    }
    /* A group leader that is not a worker escaped (setsid) or was a
     * worker's group leader helper: end what it leads as well. */
    if (getpgid(pid) == pid)
        (void)kill(-pid, SIGKILL);
    if (kill(pid, SIGKILL) == 0)
        st->killed++;
    /* It may already be gone by now (SIGKILL is quick); reap if so. */
    if (reap_if_exited(pid))
        st->reaped++;
}

/* feed parses one chunk of a children file: space-separated pids, a
 * number cut at the end carried in *cur to the next chunk. */
static void
feed(const char *buf, size_t n, long *cur, proc_orphans_known_cb is_known,
     void *ctx, struct proc_orphans_stats *st)
{
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c >= '0' && c <= '9') {
            *cur = (*cur < 0 ? 0 : *cur) * 10 + (c - '0');
            if (*cur > 0x7fffffffL)
                *cur = 0; /* garbage: skipped below */
        } else if (*cur >= 0) {
            kill_unknown((int)*cur, is_known, ctx, st);
            *cur = -1;
        }
    }
}

int
proc_orphans_reap_exited(proc_orphans_known_cb is_known, void *ctx,
                         struct proc_orphans_stats *stats)
{
    struct proc_orphans_stats st = PROC_ORPHANS_STATS_ZERO;
    peek_exited(is_known, ctx, &st);
    if (stats != NULL)
        *stats = st;
    return NAOS_OK;
}

void
proc_orphans_scan_request(struct proc_orphans_scan *s)
{
    s->wanted = true;
}

bool
proc_orphans_scan_busy(const struct proc_orphans_scan *s)
{
    return s->wanted || s->tasks != NULL;
}

void
proc_orphans_scan_fini(struct proc_orphans_scan *s)
{
    if (s->fd >= 0)
        close(s->fd);
    if (s->tasks != NULL)
        closedir(s->tasks);
    s->fd = -1;
    s->tasks = NULL;
    s->cur = -1;
}

/* end_file: the current children file is done (its last number too). */
static void
end_file(struct proc_orphans_scan *s, proc_orphans_known_cb is_known,
         void *ctx, struct proc_orphans_stats *st)
{
    if (s->cur >= 0)
        kill_unknown((int)s->cur, is_known, ctx, st);
    s->cur = -1;
    close(s->fd);
    s->fd = -1;
}

int
proc_orphans_scan_step(struct proc_orphans_scan *s,
                       proc_orphans_known_cb is_known, void *ctx,
                       struct proc_orphans_stats *stats)
{
    struct proc_orphans_stats st = PROC_ORPHANS_STATS_ZERO;
    int rc = NAOS_OK;
    if (s->tasks == NULL) {
        if (!s->wanted)
            goto out;
        s->wanted = false;
        s->tasks = opendir("/proc/self/task");
        if (s->tasks == NULL) {
            rc = NAOS_ESYS;
            goto out;
        }
    }
    /* Threads without children cost an open and an empty read: go on
     * until one chunk of pids was read or the pass is over. */
    for (;;) {
        if (s->fd < 0) {
            struct dirent *de = readdir(s->tasks);
            if (de == NULL) {
                proc_orphans_scan_fini(s); /* pass over */
                break;
            }
            if (de->d_name[0] < '0' || de->d_name[0] > '9')
                continue;
            char rel[300]; /* a d_name is at most 255 bytes */
            snprintf(rel, sizeof rel, "%s/children", de->d_name);
            s->fd = openat(dirfd(s->tasks), rel, O_RDONLY | O_CLOEXEC);
            if (s->fd < 0) {
                if (errno != ENOENT) /* ENOENT: the thread just ended */
                    rc = NAOS_ESYS;
                continue;
            }
            s->cur = -1;
        }
        char buf[PROC_ORPHANS_SCAN_CHUNK];
        ssize_t n = read(s->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                rc = NAOS_ESYS;
            end_file(s, is_known, ctx, &st);
            continue;
        }
        feed(buf, (size_t)n, &s->cur, is_known, ctx, &st);
        break;
    }
    /* A child this step reaped may have left orphans of its own, and its
     * leaving the list shifts the file under a pass in progress: once
     * more. (Not for a kill: that child's death comes as SIGCHLD, and the
     * caller asks again when it reaps it. Asking here would spin while an
     * unkillable orphan lingers.) */
    if (st.reaped)
        s->wanted = true;
out:
    if (stats != NULL)
        *stats = st;
    return rc;
}

int
proc_orphans_sweep(proc_orphans_known_cb is_known, void *ctx,
                   struct proc_orphans_stats *stats)
{
    struct proc_orphans_stats st = PROC_ORPHANS_STATS_ZERO;
    int rc = NAOS_OK;

    peek_exited(is_known, ctx, &st);

    /* One whole pass, in steps; what it would ask for afterwards is left
     * to the next call (the caller sweeps again on SIGCHLD). */
    struct proc_orphans_scan sc = PROC_ORPHANS_SCAN_ZERO;
    proc_orphans_scan_request(&sc);
    do {
        struct proc_orphans_stats one = PROC_ORPHANS_STATS_ZERO;
        if (proc_orphans_scan_step(&sc, is_known, ctx, &one) != NAOS_OK)
            rc = NAOS_ESYS;
        st.reaped += one.reaped;
        st.killed += one.killed;
    } while (sc.tasks != NULL);
    proc_orphans_scan_fini(&sc);

    if (stats != NULL)
        *stats = st;
    return rc;
}

/* Does /proc/<pid>/environ hold exactly the entry `marker`? Reads it
 * whole (environments are small; 8 MiB is a generous bound). */
static bool
environ_has(int dirfd, const char *pid, const char *marker)
{
    char path[300]; /* a d_name is at most 255 bytes */
    snprintf(path, sizeof path, "%s/environ", pid);
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t cap = 16384, len = 0;
    char *buf = naos_alloc(cap);
    bool found = false;
    while (buf != NULL) {
        if (len == cap) {
            char *nb = cap < (8u << 20) ? naos_realloc(buf, cap * 2) : NULL;
            if (nb == NULL)
                break;
            buf = nb;
            cap *= 2;
        }
        ssize_t k = read(fd, buf + len, cap - len);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    size_t mlen = strlen(marker) + 1; /* with its NUL */
    for (size_t i = 0; buf != NULL && i < len;) {
        char *nul = memchr(buf + i, '\0', len - i);
        size_t elen = nul ? (size_t)(nul - (buf + i)) + 1 : len - i;
        if (elen == mlen && memcmp(buf + i, marker, mlen) == 0) {
            found = true;
            break;
        }
        i += elen;
    }
    naos_free(buf);
    close(fd);
    return found;
}

/* marked: SIGKILL (kill) or count the processes whose environment holds
 * marker, as proc_orphans_kill_marked says. */
static int
marked(const char *marker, bool kill_them, unsigned *count)
{
    *count = 0;
    DIR *d = opendir("/proc");
    if (d == NULL)
        return NAOS_ESYS;
    int self = (int)getpid();
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end != '\0' || pid <= 1 || pid == self)
            continue;
        if (!environ_has(dirfd(d), e->d_name, marker))
            continue;
        if (!kill_them) {
            (*count)++;
            continue;
        }
        /* Its group too: a worker leads one, and helpers share it. */
        if (getpgid((pid_t)pid) == (pid_t)pid)
            kill(-(pid_t)pid, SIGKILL);
        if (kill((pid_t)pid, SIGKILL) == 0)
            (*count)++;
    }
    closedir(d);
    return NAOS_OK;
}

int
proc_orphans_kill_marked(const char *marker, unsigned *killed)
{
    return marked(marker, true, killed);
}

int
proc_orphans_count_marked(const char *marker, unsigned *alive)
{
    return marked(marker, false, alive);
}
