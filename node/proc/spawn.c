/* SPDX-License-Identifier: Apache-2.0 */
/* spawn.c: posix_spawn-based child start, group signals, pidfd reaping.
 *
 * Why posix_spawn and not fork+exec: glibc's posix_spawn uses
 * clone(CLONE_VM|CLONE_VFORK), so it does not copy the page tables of a big
 * node, and it reports an exec (or chdir, or open) failure in the child as
 * its return value, which gives the core "spawn-failed:ENOENT" at once
 * instead of a mysterious exit 127. It also reaps the failed child itself. */
#include "node/proc/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

/* Number of naos variables struct proc_naos_env can produce. */
#define SPAWN_NAOS_VARS 6

/* env_key_len: length of the key of a "KEY=VALUE" entry, or 0 when the
 * entry has no '=' (or an empty key) and must be skipped. */
static size_t
env_key_len(const char *e)
{
    const char *eq = strchr(e, '=');
    if (eq == NULL || eq == e)
        return 0;
    return (size_t)(eq - e);
}

/* env_put replaces the entry with the same key in vec[0..*n) or appends e.
 * vec has room for every entry by construction. */
static void
env_put(char **vec, size_t *n, char *e)
{
    size_t kl = env_key_len(e);
    if (kl == 0)
        return;
    for (size_t i = 0; i < *n; i++) {
        if (strncmp(vec[i], e, kl + 1) == 0) { /* key and '=' match */
            vec[i] = e;
            return;
        }
    }
    vec[(*n)++] = e;
}

static size_t
vec_count(char *const *v)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    return n;
}

/* env_fmt returns a new "key=value" string (naos_alloc), or NULL. */
static char *
env_fmt(const char *key, const char *val)
{
    size_t len = strlen(key) + 1 + strlen(val) + 1;
    char *s = naos_alloc(len);
    if (s != NULL)
        snprintf(s, len, "%s=%s", key, val);
    return s;
}

/* naos_env_fill formats the naos variables into strs (SPAWN_NAOS_VARS
 * slots, NULL where unused). Returns false on allocation failure; whatever
 * was formatted is still in strs for the caller to free. */
static bool
naos_env_fill(const struct proc_naos_env *ne, char **strs)
{
    char num[32];
    size_t k = 0;

    if (ne->agent != NULL && (strs[k++] = env_fmt("NAOS_AGENT", ne->agent)) == NULL)
        return false;
    if (ne->node != NULL && (strs[k++] = env_fmt("NAOS_NODE", ne->node)) == NULL)
        return false;
    snprintf(num, sizeof num, "%" PRIu32, ne->restart_count);
    if ((strs[k++] = env_fmt("NAOS_RESTART_COUNT", num)) == NULL)
        return false;
    if (ne->restart_reason != NULL &&
        (strs[k++] = env_fmt("NAOS_RESTART_REASON", ne->restart_reason)) == NULL)
        return false;
    if (ne->notify_socket != NULL &&
        (strs[k++] = env_fmt("NOTIFY_SOCKET", ne->notify_socket)) == NULL)
        return false;
    if (ne->watchdog > 0) {
        snprintf(num, sizeof num, "%" PRIu64, (uint64_t)ne->watchdog * 1000u);
        if ((strs[k++] = env_fmt("WATCHDOG_USEC", num)) == NULL)
            return false;
    }
    return true;
}

int
proc_spawn(const struct proc_spawn_opts *o, struct proc_child *out)
{
    if (o == NULL || out == NULL || o->argv == NULL || o->argv[0] == NULL ||
        o->argv[0][0] == '\0')
        return EINVAL;

    int rc;
    char *naos_strs[SPAWN_NAOS_VARS] = {0};
    size_t cap = vec_count(environ) + vec_count(o->env) +
                 vec_count(o->extra_env) + SPAWN_NAOS_VARS + 1;
    char **envp = naos_alloc(cap * sizeof *envp);
    if (envp == NULL)
        return ENOMEM;
    if (o->naos != NULL && !naos_env_fill(o->naos, naos_strs)) {
        rc = ENOMEM;
        goto err_after_env;
    }
    size_t n = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++)
        envp[n++] = *e; /* kept as is, duplicates included */
    for (size_t i = 0; o->env != NULL && o->env[i] != NULL; i++)
        env_put(envp, &n, o->env[i]);
    for (size_t i = 0; i < SPAWN_NAOS_VARS && naos_strs[i] != NULL; i++)
        env_put(envp, &n, naos_strs[i]);
    for (size_t i = 0; o->extra_env != NULL && o->extra_env[i] != NULL; i++)
        env_put(envp, &n, o->extra_env[i]);
    envp[n] = NULL;

    posix_spawnattr_t attr;
    if ((rc = posix_spawnattr_init(&attr)) != 0)
        goto err_after_env;
    sigset_t none, all;
    sigemptyset(&none);
    /* Not sigfillset: it leaves out glibc's internal signals 32 and 33
     * (SIGCANCEL, SIGSETXID), and glibc's posix_spawn then sets them to
     * SIG_IGN in the child, an ignored disposition that survives exec.
     * All bits set resets them to SIG_DFL too; glibc skips the uncatchable
     * SIGKILL/SIGSTOP itself. */
    memset(&all, 0xff, sizeof all);
    if ((rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
                                                  POSIX_SPAWN_SETSIGMASK |
                                                  POSIX_SPAWN_SETSIGDEF)) != 0 ||
        (rc = posix_spawnattr_setsigmask(&attr, &none)) != 0 ||
        (rc = posix_spawnattr_setsigdefault(&attr, &all)) != 0)
        goto err_after_attr;

    posix_spawn_file_actions_t fa;
    if ((rc = posix_spawn_file_actions_init(&fa)) != 0)
        goto err_after_attr;
    /* Output first, so that an out_fd of 0 is copied before fd 0 is
     * replaced by /dev/null. adddup2(fd, fd) clears FD_CLOEXEC (glibc 2.29+),
     * so out_fd 1 or 2 (the node's own stderr) works too. */
    if (o->out_fd >= 0) {
        if ((rc = posix_spawn_file_actions_adddup2(&fa, o->out_fd, 1)) != 0 ||
            (rc = posix_spawn_file_actions_adddup2(&fa, o->out_fd, 2)) != 0)
            goto err_after_fa;
    } else {
        if ((rc = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null",
                                                   O_WRONLY, 0)) != 0 ||
            (rc = posix_spawn_file_actions_adddup2(&fa, 1, 2)) != 0)
            goto err_after_fa;
    }
    if ((rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
                                               0)) != 0)
        goto err_after_fa;
    if (o->cwd != NULL &&
        (rc = posix_spawn_file_actions_addchdir_np(&fa, o->cwd)) != 0)
        goto err_after_fa;
    if ((rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3)) != 0)
        goto err_after_fa;

    pid_t pid;
    rc = posix_spawnp(&pid, o->argv[0], &fa, &attr, o->argv, envp);
    if (rc != 0)
        goto err_after_fa; /* glibc has already reaped the failed child */

    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* always O_CLOEXEC */
    if (pidfd < 0) {
        /* Without a pidfd the node cannot supervise it: undo the spawn. The
         * child is ours and unreaped, so pid cannot have been reused. */
        rc = errno;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
        goto err_after_fa;
    }
    out->pid = pid;
    out->pidfd = pidfd;
    rc = 0;

err_after_fa:
    posix_spawn_file_actions_destroy(&fa);
err_after_attr:
    posix_spawnattr_destroy(&attr);
err_after_env:
    for (size_t i = 0; i < SPAWN_NAOS_VARS; i++)
        naos_free(naos_strs[i]);
    naos_free(envp);
    return rc;
}

int
proc_signal_group(int pgid, int signo)
{
    if (pgid <= 1 || signo < 0)
        return NAOS_EINVAL;
    if (kill(-pgid, signo) < 0)
        return errno == ESRCH ? NAOS_ENOTFOUND : NAOS_ESYS;
    switch (signo) {
    case SIGTERM:
    case SIGINT:
    case SIGHUP:
    case SIGQUIT:
    case SIGABRT:
        /* A stopped process would keep the stop signal pending forever. The
         * group may have just emptied: ignore errors. */
        (void)kill(-pgid, SIGCONT);
        break;
    default:
        break;
    }
    return NAOS_OK;
}

int
proc_reap_pidfd(int pidfd, int pid, bool *reaped, bool *exited, int *code)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG);
    if (r < 0 && errno == EINVAL && pid > 0) /* Linux < 5.4: no P_PIDFD */
        r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG);
    if (r < 0)
        return errno == ECHILD ? NAOS_ENOTFOUND : NAOS_ESYS;
    if (si.si_pid == 0) { /* still running */
        *reaped = false;
        return NAOS_OK;
    }
    *reaped = true;
    *exited = si.si_code == CLD_EXITED;
    *code = si.si_status;
    return NAOS_OK;
}
