/* SPDX-License-Identifier: Apache-2.0 */
/* proc_test_util.h: fixtures shared by the proc tests (test builds only).
 *
 * Every process a test starts is tracked; an atexit hook SIGKILLs the
 * tracked process groups, so a failing case (NT_FAIL exits) leaves nothing
 * behind. Temp dirs come from mkdtemp (tests run in parallel) and are
 * removed with tu_rmtree. All helpers poll against a deadline. */
#ifndef NAOS_PROC_TEST_UTIL_H
#define NAOS_PROC_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node/base/testing.h"
#include "node/base/time.h"
#include "node/proc/spawn.h"

#define TU_MAX_TRACKED 256
static int tu_tracked[TU_MAX_TRACKED];
static bool tu_hook_set;

static void
tu_kill_tracked(void)
{
    for (int i = 0; i < TU_MAX_TRACKED; i++) {
        if (tu_tracked[i] > 1) {
            kill(-tu_tracked[i], SIGKILL);
            kill(tu_tracked[i], SIGKILL);
            tu_tracked[i] = 0;
        }
    }
}

/* tu_track remembers pid (and its group) for the atexit cleanup. */
static inline void
tu_track(int pid)
{
    if (!tu_hook_set) {
        atexit(tu_kill_tracked);
        tu_hook_set = true;
    }
    for (int i = 0; i < TU_MAX_TRACKED; i++) {
        if (tu_tracked[i] == 0) {
            tu_tracked[i] = pid;
            return;
        }
    }
}

/* tu_untrack forgets pid once the test has cleaned it up itself. */
static inline void
tu_untrack(int pid)
{
    for (int i = 0; i < TU_MAX_TRACKED; i++)
        if (tu_tracked[i] == pid)
            tu_tracked[i] = 0;
}

static inline void
tu_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* tu_mkdtemp makes a fresh temp dir into buf (>= 64 bytes). */
static inline void
tu_mkdtemp(char *buf, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(buf, len, "%s/naos-proc-XXXXXX", base && *base ? base : "/tmp");
    if (mkdtemp(buf) == NULL)
        NT_FAIL("mkdtemp: %s", strerror(errno));
}

static int
tu_rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

/* tu_rmtree removes dir and everything under it. */
static inline void
tu_rmtree(const char *dir)
{
    nftw(dir, tu_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* tu_spawn starts argv with output to out_fd; fails the test on error. */
static inline struct proc_child
tu_spawn_opts(const struct proc_spawn_opts *o)
{
    struct proc_child c = PROC_CHILD_ZERO;
    int rc = proc_spawn(o, &c);
    if (rc != 0)
        NT_FAIL("proc_spawn %s: %s", o->argv[0], strerror(rc));
    tu_track(c.pid);
    return c;
}

static inline struct proc_child
tu_spawn_sh(const char *script, int out_fd)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    o.out_fd = out_fd;
    return tu_spawn_opts(&o);
}

/* tu_wait_exit polls the pidfd until readable, reaps, and closes it.
 * Fails the test after timeout_ms. */
static inline void
tu_wait_exit(struct proc_child *c, long timeout_ms, bool *exited, int *code)
{
    struct pollfd p = {.fd = c->pidfd, .events = POLLIN};
    int r;
    do {
        r = poll(&p, 1, (int)timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r != 1)
        NT_FAIL("pid %d did not exit within %ld ms", c->pid, timeout_ms);
    bool reaped = false;
    int rc = proc_reap_pidfd(c->pidfd, c->pid, &reaped, exited, code);
    if (rc != 0 || !reaped)
        NT_FAIL("reap pid %d: rc %d reaped %d", c->pid, rc, (int)reaped);
    close(c->pidfd);
    c->pidfd = -1;
    tu_untrack(c->pid);
}

/* tu_kill_and_reap ends a child started by a test (group SIGKILL). */
static inline void
tu_kill_and_reap(struct proc_child *c)
{
    bool exited;
    int code;
    proc_signal_group(c->pid, SIGKILL);
    kill(c->pid, SIGKILL);
    tu_wait_exit(c, 10000, &exited, &code);
}

/* tu_proc_state returns the state letter of pid from /proc (e.g. 'S', 'Z',
 * 'T'), or 0 when the process no longer exists. *ppid gets its parent. */
static inline char
tu_proc_state(int pid, int *ppid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    if (rp == NULL || rp[1] == '\0')
        return 0;
    char st = rp[2];
    if (ppid != NULL)
        *ppid = atoi(rp + 4);
    return st;
}

/* tu_wait_gone waits until pid no longer exists (or is a zombie that is not
 * ours to reap; one that is ours is reaped). Returns true if it went away in
 * time. Call tu_subreaper first to make orphans ours. */
static inline bool
tu_wait_gone(int pid, long timeout_ms)
{
    naos_time end = naos_clock_now() + (naos_time)timeout_ms;
    for (;;) {
        int ppid = 0;
        char st = tu_proc_state(pid, &ppid);
        if (st == 0 || ((st == 'Z' || st == 'X') && ppid != getpid()))
            return true;
        if (st == 'Z' && waitpid(pid, NULL, WNOHANG) == pid)
            return true; /* our zombie (we are a subreaper): reaped */
        if (naos_clock_now() >= end)
            return false;
        tu_sleep_ms(10);
    }
}

/* tu_subreaper makes this test process a child subreaper, so orphaned
 * grandchildren are reparented to it and can be reaped (the environment's
 * own reaper may leave zombies around for a while). */
static inline void
tu_subreaper(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
        NT_FAIL("prctl: %s", strerror(errno));
}

/* tu_read_until reads fd into buf (cap, NUL-terminated) until EOF, or
 * until `until` (may be NULL) appears, or timeout. Returns bytes read. */
static inline size_t
tu_read_until(int fd, char *buf, size_t cap, const char *until,
              long timeout_ms)
{
    size_t got = 0;
    naos_time end = naos_clock_now() + (naos_time)timeout_ms;
    buf[0] = '\0';
    while (got + 1 < cap) {
        naos_time now = naos_clock_now();
        if (now >= end)
            NT_FAIL("read timed out; got \"%s\"", buf);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)(end - now)) <= 0)
            continue;
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        buf[got] = '\0';
        if (until != NULL && strstr(buf, until) != NULL)
            break;
    }
    return got;
}

/* tu_pipe makes a CLOEXEC pipe; the read end is non-blocking. */
static inline void
tu_pipe(int fds[2])
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        NT_FAIL("pipe2: %s", strerror(errno));
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
}

/* tu_count_fds counts the fds open in this process. */
static inline int
tu_count_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            n++;
    return n;
}

/* tu_no_children: true when this process has no child at all. */
static inline bool
tu_no_children(void)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 &&
           errno == ECHILD;
}

#endif
