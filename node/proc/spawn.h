/* SPDX-License-Identifier: Apache-2.0 */
/* spawn.h: start, signal and reap one worker process.
 *
 * proc_spawn starts a child with glibc's posix_spawn (CLONE_VFORK: cheap even
 * when the node's RSS is large, and a failed exec comes back synchronously as
 * the return value; no code of ours runs between fork and exec, which
 * matters because NNG and LMDB are not fork-safe). The child gets:
 *   - its own session and process group (setsid: pgid == sid == pid), so the
 *     node can signal the whole group with proc_signal_group;
 *   - an empty signal mask (the node blocks signals for signalfd and the mask
 *     would otherwise be inherited) and every catchable signal at its default
 *     disposition (an ignored SIGPIPE or SIGTERM is not inherited either);
 *   - stdin from /dev/null, stdout and stderr on one caller-given fd (the write
 *     end of the worker's log pipe);
 *   - no other fd: every fd >= 3 is closed in the child (closefrom), so even
 *     a node fd opened without O_CLOEXEC by a library does not leak;
 *   - the working directory cwd, when given;
 *   - the environment: the node's environ, then the spec's KEY=VALUE entries
 *     (replacing same keys), then the naos entries (replacing both).
 *
 * Everything here is a thin driver: no loop. Functions may be called from any
 * thread (spawns are made one at a time: the fast path's stack and fd slots
 * are shared). The node spawns on its spawner thread (proc/spawner.h) and
 * signals and reaps on its reactor thread only (practice 9): the reaping and
 * orphan sweeping of proc/orphans.h assume nobody else waits for children.
 *
 * Return convention: proc_spawn returns 0 or a positive errno (what the
 * supervision core records as "spawn-failed:ENOENT"); the other functions
 * return a naos_err (node/base/err.h). */
#ifndef NAOS_PROC_SPAWN_H
#define NAOS_PROC_SPAWN_H

#include <stdbool.h>
#include <stdint.h>

#include "node/base/time.h"

/* struct proc_naos_env: the naos entries of a worker's environment (the
 * agent's side of the contract, DESIGN.md). Every string is borrowed for the
 * duration of proc_spawn; a NULL string omits that variable.
 *
 * WATCHDOG_PID is deliberately never set: it must equal the child's pid,
 * which is unknown before the spawn (no code runs in the child before exec).
 * sd_watchdog_enabled() then accepts WATCHDOG_USEC for any process, and the
 * node accepts WATCHDOG=1 from any process of the worker's process group
 * (see proc_notify_sender_group in proc/notify.h). */
struct proc_naos_env {
    const char *agent;          /* NAOS_AGENT: the worker's path in the tree */
    const char *node;           /* NAOS_NODE: this node's name */
    uint32_t restart_count;     /* NAOS_RESTART_COUNT (always set) */
    const char *restart_reason; /* NAOS_RESTART_REASON ("" on first start) */
    const char *notify_socket;  /* NOTIFY_SOCKET: path of the notify socket */
    naos_duration watchdog;     /* > 0: WATCHDOG_USEC = watchdog * 1000 */
    uint64_t epoch;             /* NAOS_EPOCH (always set): the placement
                                   epoch of the worker's deployment, the
                                   index of the entry that placed it; 0 =
                                   none known (a record from before
                                   placements) */
};
#define PROC_NAOS_ENV_ZERO {NULL, NULL, 0, NULL, NULL, 0, 0}

/* struct proc_spawn_opts: what proc_spawn needs. All borrowed for the call. */
struct proc_spawn_opts {
    char *const *argv;   /* NULL-terminated, argv[0] non-empty; a name without
                            '/' is looked up in the node's PATH; a relative
                            path with '/' is resolved after the chdir to cwd */
    char *const *env;    /* spec entries "KEY=VALUE", NULL-terminated, or NULL.
                            Entries without '=' are ignored. */
    const char *cwd;     /* working directory, or NULL for the node's */
    int out_fd;          /* fd for stdout+stderr; -1 = /dev/null */
    const struct proc_naos_env *naos; /* may be NULL: no naos entries */
    char *const *extra_env; /* more "KEY=VALUE" entries applied last (e.g.
                               NAOS_CTL); NULL-terminated or NULL */
};
#define PROC_SPAWN_OPTS_ZERO {NULL, NULL, NULL, -1, NULL, NULL}

/* struct proc_child: a started child. */
struct proc_child {
    int pid;   /* also its process group id and session id */
    int pidfd; /* O_CLOEXEC pidfd, owned by the caller: readable (POLLIN) once
                  the child has exited; close it after reaping */
};
#define PROC_CHILD_ZERO {0, -1}

/* proc_spawn starts one child as described at the top of this file and
 * stores it in *out (caller storage; untouched on failure).
 *
 * Returns 0 or a positive errno:
 *   ENOENT / EACCES / ENOEXEC / ... : exec failed (also a program not found
 *     through PATH gives ENOENT) or cwd could not be entered (ENOENT,
 *     ENOTDIR, EACCES); no process is left behind;
 *   EINVAL: argv NULL or empty;
 *   ENOMEM: building the environment failed;
 *   EMFILE / ENFILE / ENOSYS: pidfd_open failed; the child was killed and
 *     reaped before returning.
 * The child starts running before proc_spawn returns; its exit makes the
 * pidfd readable: reap it with proc_reap_pidfd. */
int proc_spawn(const struct proc_spawn_opts *opts, struct proc_child *out);

/* proc_spawn_reserve_fds keeps three /dev/null fds open for the life of the
 * process, two of them as fixed low slots through which proc_spawn hands a
 * child its stdio. Call it first thing in main, while fd numbers are low:
 * spawning then costs the same however many fds the node holds. Without it
 * (or on kernels before 5.9) proc_spawn uses posix_spawn, whose cost grows
 * with the number of open fds. Not thread-safe; call once. Returns NAOS_OK
 * or NAOS_ESYS. */
int proc_spawn_reserve_fds(void);

#ifdef NAOS_TESTING
/* proc__spawn_fault_parent_dies (test builds only): when set, the next
 * child of the fast path SIGKILLs its parent (the caller of proc_spawn)
 * just before it asks for PR_SET_PDEATHSIG, and waits until it has been
 * reparented: the race that otherwise needs a node to die in that very
 * instant. */
extern volatile int proc__spawn_fault_parent_dies;
#endif

/* proc_signal_group sends signo to the process group pgid (a worker's pid).
 * For the stop signals SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGABRT it then
 * sends SIGCONT to the group too, so a stopped (SIGSTOP'd, traced) process
 * receives the signal and dies (systemd's and s6's practice).
 * Refuses pgid <= 1 (kill(-1) would signal every process of the user).
 * Returns NAOS_OK, NAOS_EINVAL, NAOS_ENOTFOUND (no process left in the group),
 * or NAOS_ESYS (errno kept, e.g. EPERM). */
int proc_signal_group(int pgid, int signo);

/* proc_has_exited tells, without reaping or blocking, whether the child
 * behind pidfd (pid as in proc_reap_pidfd) has exited. A readiness event
 * may be stale (the run it was for already reaped and a new one started on
 * the same fd number), so check this before acting on one. */
bool proc_has_exited(int pidfd, int pid);

/* proc_reap_pidfd reaps the child behind pidfd (pid is used only when the
 * kernel lacks waitid(P_PIDFD), before Linux 5.4) without blocking.
 * On NAOS_OK: *reaped tells whether the child had exited and is now reaped;
 * if so, *exited = true with *code = its exit status, or *exited = false
 * with *code = the terminating signal. When not reaped, *exited and *code
 * are untouched. The caller still closes pidfd.
 * Returns NAOS_OK, NAOS_ENOTFOUND (not our child, or already reaped by
 * someone else: its status is lost) or NAOS_ESYS. */
int proc_reap_pidfd(int pidfd, int pid, bool *reaped, bool *exited,
                    int *code);

#endif
