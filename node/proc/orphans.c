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
