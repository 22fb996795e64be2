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

/* sweep_task reads one /proc/self/task/<tid>/children file: space-separated
 * pids. Returns false when it could not be read. */
static bool
sweep_task(int taskdir, const char *tid, proc_orphans_known_cb is_known,
           void *ctx, struct proc_orphans_stats *st)
{
    char rel[64];
    snprintf(rel, sizeof rel, "%s/children", tid);
    int fd = openat(taskdir, rel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT; /* the thread just ended */
    /* The file is generated per read and may be long with many children:
     * parse it in chunks, carrying a partial number across reads. */
    char buf[4096];
    long cur = -1;
    bool ok = true;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ok = false;
            break;
        }
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            char c = buf[i];
            if (c >= '0' && c <= '9') {
                cur = (cur < 0 ? 0 : cur) * 10 + (c - '0');
                if (cur > 0x7fffffffL)
                    cur = 0; /* garbage: skipped below */
            } else if (cur >= 0) {
                kill_unknown((int)cur, is_known, ctx, st);
                cur = -1;
            }
        }
    }
    if (cur >= 0)
        kill_unknown((int)cur, is_known, ctx, st);
    close(fd);
    return ok;
}

int
proc_orphans_sweep(proc_orphans_known_cb is_known, void *ctx,
                   struct proc_orphans_stats *stats)
{
    struct proc_orphans_stats st = PROC_ORPHANS_STATS_ZERO;
    int rc = NAOS_OK;

    peek_exited(is_known, ctx, &st);

    int taskdir = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (taskdir < 0) {
        rc = NAOS_ESYS;
        goto out;
    }
    DIR *d = fdopendir(taskdir);
    if (d == NULL) {
        int e = errno;
        close(taskdir);
        errno = e;
        rc = NAOS_ESYS;
        goto out;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        if (!sweep_task(dirfd(d), de->d_name, is_known, ctx, &st))
            rc = NAOS_ESYS;
    }
    closedir(d);

out:
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

int
proc_orphans_kill_marked(const char *marker, unsigned *killed)
{
    *killed = 0;
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
        /* Its group too: a worker leads one, and helpers share it. */
        if (getpgid((pid_t)pid) == (pid_t)pid)
            kill(-(pid_t)pid, SIGKILL);
        if (kill((pid_t)pid, SIGKILL) == 0)
            (*killed)++;
    }
    closedir(d);
    return NAOS_OK;
}
