/* SPDX-License-Identifier: Apache-2.0 */
/* spawn_test.c: proc_spawn, proc_signal_group, proc_reap_pidfd against real
 * processes. */
#include <signal.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/proc/proc_test_util.h"
#include "node/proc/spawn.h"

static void
test_exit_code(void)
{
    bool exited = false;
    int code = -1;
    struct proc_child c = tu_spawn_sh("exit 7", -1);
    NT_TRUE(c.pid > 0);
    NT_TRUE(c.pidfd >= 0);
    NT_TRUE((fcntl(c.pidfd, F_GETFD) & FD_CLOEXEC) != 0);
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_TRUE(exited);
    NT_EQ_INT(code, 7);
    NT_TRUE(tu_no_children());
}

static void
test_reap_running_then_signal(void)
{
    struct proc_child c = tu_spawn_sh("exec sleep 1000", -1);
    bool reaped = true, exited = true;
    int code = -1;
    NT_EQ_INT(proc_reap_pidfd(c.pidfd, c.pid, &reaped, &exited, &code),
              NAOS_OK);
    NT_FALSE(reaped);
    NT_EQ_INT(code, -1); /* untouched */
    NT_EQ_INT(proc_signal_group(c.pid, SIGKILL), NAOS_OK);
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_FALSE(exited);
    NT_EQ_INT(code, SIGKILL);
}

static void
test_killed_by_own_signal(void)
{
    bool exited = true;
    int code = -1;
    struct proc_child c = tu_spawn_sh("kill -USR1 $$; sleep 5", -1);
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_FALSE(exited);
    NT_EQ_INT(code, SIGUSR1);
}

static void
test_own_session_and_group(void)
{
    struct proc_child c = tu_spawn_sh("exec sleep 1000", -1);
    NT_EQ_INT(getpgid(c.pid), c.pid);
    NT_EQ_INT(getsid(c.pid), c.pid);
    NT_TRUE(getsid(c.pid) != getsid(0));
    tu_kill_and_reap(&c);
}

static void
test_env(void)
{
    int p[2];
    tu_pipe(p);
    setenv("NAOS_PROC_TEST_INHERIT", "yes", 1);
    setenv("FOO", "node", 1);
    setenv("NAOS_AGENT", "stale", 1);
    setenv("NAOS_EPOCH", "7", 1); /* the node's own: replaced */
    setenv("WATCHDOG_PID", "1", 1); /* must not leak through (see below) */
    char *argv[] = {"env", NULL};
    char *spec_env[] = {"FOO=spec", "SPEC_ONLY=a=b", "NOEQUALS", "=bad",
                        "EXTRA=spec", NULL};
    char *extra[] = {"EXTRA=extra", NULL};
    struct proc_naos_env ne = PROC_NAOS_ENV_ZERO;
    ne.agent = "dep/sup/w1";
    ne.node = "n1";
    ne.restart_count = 3;
    ne.restart_reason = "exit:1";
    ne.notify_socket = "/run/naos/notify";
    ne.watchdog = 1500;
    ne.epoch = 4294967301u; /* past 32 bits */
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    o.env = spec_env;
    o.out_fd = p[1];
    o.naos = &ne;
    o.extra_env = extra;
    struct proc_child c = tu_spawn_opts(&o);
    close(p[1]);
    static char out[65536];
    tu_read_until(p[0], out, sizeof out, NULL, 10000);
    close(p[0]);
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_TRUE(exited);
    NT_EQ_INT(code, 0);

    NT_CONTAINS(out, "\nNAOS_PROC_TEST_INHERIT=yes\n");
    NT_CONTAINS(out, "\nFOO=spec\n");
    NT_TRUE(strstr(out, "FOO=node") == NULL);
    NT_CONTAINS(out, "\nSPEC_ONLY=a=b\n");
    NT_TRUE(strstr(out, "NOEQUALS") == NULL);
    NT_CONTAINS(out, "\nEXTRA=extra\n");
    NT_TRUE(strstr(out, "EXTRA=spec") == NULL);
    NT_CONTAINS(out, "\nNAOS_EPOCH=4294967301\n");
    NT_TRUE(strstr(out, "NAOS_EPOCH=7") == NULL);
    NT_CONTAINS(out, "\nNAOS_AGENT=dep/sup/w1\n");
    NT_TRUE(strstr(out, "NAOS_AGENT=stale") == NULL);
    NT_CONTAINS(out, "\nNAOS_NODE=n1\n");
    NT_CONTAINS(out, "\nNAOS_RESTART_COUNT=3\n");
    NT_CONTAINS(out, "\nNAOS_RESTART_REASON=exit:1\n");
    NT_CONTAINS(out, "\nNOTIFY_SOCKET=/run/naos/notify\n");
    NT_CONTAINS(out, "\nWATCHDOG_USEC=1500000\n");
    /* The node's own (stale) WATCHDOG_PID is inherited as is: proc_spawn
     * never sets it; the lead's node should unsetenv it at start. */
    NT_CONTAINS(out, "WATCHDOG_PID=1");
}

static void
test_env_minimal(void)
{
    int p[2];
    tu_pipe(p);
    char *argv[] = {"env", NULL};
    struct proc_naos_env ne = PROC_NAOS_ENV_ZERO;
    ne.restart_reason = "";
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    o.out_fd = p[1];
    o.naos = &ne;
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    struct proc_child c = tu_spawn_opts(&o);
    close(p[1]);
    static char out[65536];
    tu_read_until(p[0], out, sizeof out, NULL, 10000);
    close(p[0]);
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_CONTAINS(out, "NAOS_RESTART_COUNT=0\n");
    NT_CONTAINS(out, "NAOS_RESTART_REASON=\n");
    NT_CONTAINS(out, "NAOS_EPOCH=0\n"); /* always set: 0 = none known */
    NT_TRUE(strstr(out, "WATCHDOG_USEC") == NULL);
    NT_TRUE(strstr(out, "NOTIFY_SOCKET") == NULL);
}

static void
test_cwd(void)
{
    char dir[256], real[4096];
    tu_mkdtemp(dir, sizeof dir);
    NT_TRUE(realpath(dir, real) != NULL);
    int p[2];
    tu_pipe(p);
    char *argv[] = {"/bin/sh", "-c", "pwd -P", NULL};
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    o.out_fd = p[1];
    o.cwd = dir;
    struct proc_child c = tu_spawn_opts(&o);
    close(p[1]);
    char out[4096];
    tu_read_until(p[0], out, sizeof out, NULL, 10000);
    close(p[0]);
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code);
    strcat(real, "\n");
    NT_EQ_STR(out, real);
    tu_rmtree(dir);
}

static void
test_cwd_missing(void)
{
    char *argv[] = {"/bin/sh", "-c", "exit 0", NULL};
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    o.cwd = "/nonexistent/naos/dir";
    struct proc_child c = PROC_CHILD_ZERO;
    NT_EQ_INT(proc_spawn(&o, &c), ENOENT);
    NT_EQ_INT(c.pid, 0);
    NT_EQ_INT(c.pidfd, -1);
    NT_TRUE(tu_no_children());
}

static void
test_stdin_is_devnull(void)
{
    int p[2];
    tu_pipe(p);
    struct proc_child c = tu_spawn_sh(
        "readlink /proc/self/fd/0; if read x; then echo data; else echo eof; fi",
        p[1]);
    close(p[1]);
    char out[4096];
    tu_read_until(p[0], out, sizeof out, NULL, 10000);
    close(p[0]);
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_EQ_STR(out, "/dev/null\neof\n");
}

static void
test_no_fd_leak(void)
{
    /* A node fd without O_CLOEXEC, as a careless library would leave. */
    int leak = open("/dev/null", O_RDONLY);
    NT_TRUE(leak >= 0);
    int leak2 = dup2(leak, 77);
    NT_EQ_INT(leak2, 77);
    NT_EQ_INT(fcntl(leak2, F_GETFD) & FD_CLOEXEC, 0);
    int p[2];
    tu_pipe(p);
    char *argv[] = {PROC_TESTBIN, "fds", NULL};
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    o.out_fd = p[1];
    struct proc_child c = tu_spawn_opts(&o);
    close(p[1]);
    char out[4096];
    tu_read_until(p[0], out, sizeof out, NULL, 10000);
    close(p[0]);
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_TRUE(exited);
    NT_EQ_INT(code, 0);
    NT_EQ_STR(out, "0\n1\n2\n");
    close(leak);
    close(leak2);
}

static void
test_out_fd_devnull(void)
{
    bool exited;
    int code;
    struct proc_child c = tu_spawn_sh("echo hi; echo err >&2; exit 3", -1);
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_TRUE(exited);
    NT_EQ_INT(code, 3);
}

static void
test_missing_program(void)
{
    int before = tu_count_fds();
    long live = naos_alloc_live();
    char *argv1[] = {"naos-no-such-program-x9", "arg", NULL};
    char *argv2[] = {"/nonexistent/naos-prog", NULL};
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    struct proc_child c = PROC_CHILD_ZERO;
    o.argv = argv1;
    NT_EQ_INT(proc_spawn(&o, &c), ENOENT);
    o.argv = argv2;
    NT_EQ_INT(proc_spawn(&o, &c), ENOENT);
    NT_EQ_INT(c.pid, 0);
    NT_TRUE(tu_no_children());
    NT_EQ_INT(tu_count_fds(), before);
    NT_EQ_INT(naos_alloc_live(), live);
}

static void
test_not_executable(void)
{
    char dir[256], path[512];
    tu_mkdtemp(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/prog", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    NT_TRUE(fd >= 0);
    close(fd);
    char *argv[] = {path, NULL};
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    struct proc_child c = PROC_CHILD_ZERO;
    NT_EQ_INT(proc_spawn(&o, &c), EACCES);
    NT_TRUE(tu_no_children());
    tu_rmtree(dir);
}

static void
test_bad_args(void)
{
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    struct proc_child c = PROC_CHILD_ZERO;
    NT_EQ_INT(proc_spawn(&o, &c), EINVAL);
    char *argv[] = {"", NULL};
    o.argv = argv;
    NT_EQ_INT(proc_spawn(&o, &c), EINVAL);
    NT_EQ_INT(proc_signal_group(1, SIGTERM), NAOS_EINVAL);
    NT_EQ_INT(proc_signal_group(0, SIGTERM), NAOS_EINVAL);
    NT_EQ_INT(proc_signal_group(-5, SIGTERM), NAOS_EINVAL);
}

static void
test_enomem(void)
{
    char *argv[] = {"/bin/true", NULL};
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    struct proc_naos_env ne = PROC_NAOS_ENV_ZERO;
    ne.agent = "a";
    ne.node = "n";
    o.naos = &ne;
    long live = naos_alloc_live();
    for (long k = 0; k < 4; k++) {
        struct proc_child c = PROC_CHILD_ZERO;
        naos_alloc_fail_after(k);
        NT_EQ_INT(proc_spawn(&o, &c), ENOMEM);
        naos_alloc_fail_after(-1);
        NT_EQ_INT(naos_alloc_live(), live);
        NT_TRUE(tu_no_children());
    }
}

static void
test_group_kill_grandchild(void)
{
    tu_subreaper();
    int p[2];
    tu_pipe(p);
    struct proc_child c = tu_spawn_sh("sleep 1000 & echo $!; wait", p[1]);
    close(p[1]);
    char out[256];
    tu_read_until(p[0], out, sizeof out, "\n", 10000);
    int gpid = atoi(out);
    NT_TRUE(gpid > 1);
    NT_EQ_INT(getpgid(gpid), c.pid);
    NT_EQ_INT(proc_signal_group(c.pid, SIGTERM), NAOS_OK);
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_FALSE(exited);
    NT_EQ_INT(code, SIGTERM);
    NT_TRUE(tu_wait_gone(gpid, 10000));
    close(p[0]);
    NT_EQ_INT(proc_signal_group(c.pid, SIGTERM), NAOS_ENOTFOUND);
}

/* first_child_state: state of the first child of pid, or 0. */
static char
first_child_state(int pid)
{
    char path[64], buf[256];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", pid, pid);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return 0;
    int child = 0;
    if (fgets(buf, sizeof buf, f) != NULL)
        child = atoi(buf);
    fclose(f);
    return child > 0 ? tu_proc_state(child, NULL) : 0;
}

static void
test_group_term_wakes_stopped(void)
{
    /* A worker with a TERM handler that has been stopped: without the
     * SIGCONT that follows SIGTERM it would never run the handler. */
    int p[2];
    tu_pipe(p);
    struct proc_child c = tu_spawn_sh(
        "trap 'exit 3' TERM; echo ready; while :; do sleep 0.05; done", p[1]);
    close(p[1]);
    char out[256];
    tu_read_until(p[0], out, sizeof out, "ready\n", 10000);
    NT_EQ_INT(proc_signal_group(c.pid, SIGSTOP), NAOS_OK);
    naos_time end = naos_clock_now() + 10000;
    /* dash vforks its commands: the shell may sit in 'D' (vfork wait)
     * while its stopped child holds it; either way the group is stopped. */
    char st;
    while ((st = tu_proc_state(c.pid, NULL)) != 'T' &&
           !(st == 'D' && first_child_state(c.pid) == 'T')) {
        if (naos_clock_now() > end)
            NT_FAIL("child never stopped (state %c)", st ? st : '0');
        tu_sleep_ms(5);
    }
    NT_EQ_INT(proc_signal_group(c.pid, SIGTERM), NAOS_OK);
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_TRUE(exited);
    NT_EQ_INT(code, 3);
    close(p[0]);
}

static void
test_signals_reset(void)
{
    /* The node blocks signals (signalfd) and may ignore some: the child
     * must start with an empty mask and default dispositions. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    int p[2];
    tu_pipe(p);
    char *argv[] = {"grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status", NULL};
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    o.out_fd = p[1];
    struct proc_child c = tu_spawn_opts(&o);
    close(p[1]);
    char out[1024];
    tu_read_until(p[0], out, sizeof out, NULL, 10000);
    close(p[0]);
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_EQ_STR(out, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

static void
test_many_spawns_no_leak(void)
{
    int fds = tu_count_fds();
    long live = naos_alloc_live();
    struct proc_child cs[40];
    for (int i = 0; i < 40; i++)
        cs[i] = tu_spawn_sh("exit 0", -1);
    for (int i = 0; i < 40; i++) {
        bool exited;
        int code;
        tu_wait_exit(&cs[i], 10000, &exited, &code);
        NT_TRUE(exited);
        NT_EQ_INT(code, 0);
    }
    NT_EQ_INT(tu_count_fds(), fds);
    NT_EQ_INT(naos_alloc_live(), live);
    NT_TRUE(tu_no_children());
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_exit_code),
        NT_CASE(test_reap_running_then_signal),
        NT_CASE(test_killed_by_own_signal),
        NT_CASE(test_own_session_and_group),
        NT_CASE(test_env),
        NT_CASE(test_env_minimal),
        NT_CASE(test_cwd),
        NT_CASE(test_cwd_missing),
        NT_CASE(test_stdin_is_devnull),
        NT_CASE(test_no_fd_leak),
        NT_CASE(test_out_fd_devnull),
        NT_CASE(test_missing_program),
        NT_CASE(test_not_executable),
        NT_CASE(test_bad_args),
        NT_CASE(test_enomem),
        NT_CASE(test_group_kill_grandchild),
        NT_CASE(test_group_term_wakes_stopped),
        NT_CASE(test_signals_reset),
        NT_CASE(test_many_spawns_no_leak),
        {0},
    };
    /* Every case twice: through posix_spawn (no reserved fds), then through
     * the clone fast path. */
    printf("# posix_spawn path\n");
    int rc = nt_run(cases);
    if (proc_spawn_reserve_fds() != NAOS_OK) {
        printf("cannot reserve fds\n");
        return 1;
    }
    printf("# clone fast path\n");
    return nt_run(cases) | rc;
}
