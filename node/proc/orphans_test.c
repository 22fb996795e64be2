/* SPDX-License-Identifier: Apache-2.0 */
/* orphans_test.c: subreaper and orphan sweep against real processes. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>

#include "node/base/err.h"
#include "node/proc/orphans.h"
#include "node/proc/proc_test_util.h"
#include "node/proc/spawn.h"

/* The known set of these tests: up to 4 worker pids. */
struct known {
    int pids[4];
};

static bool
is_known(void *ctx, int pid)
{
    struct known *k = ctx;
    for (int i = 0; i < 4; i++)
        if (k->pids[i] == pid)
            return true;
    return false;
}

/* sweep_until sweeps until pred-like condition: gpid gone and reaped. */
static void
sweep_until_gone(struct known *k, int gpid, struct proc_orphans_stats *tot)
{
    naos_time end = naos_clock_now() + 10000;
    for (;;) {
        struct proc_orphans_stats st;
        NT_EQ_INT(proc_orphans_sweep(is_known, k, &st), NAOS_OK);
        tot->reaped += st.reaped;
        tot->killed += st.killed;
        if (tu_proc_state(gpid, NULL) == 0)
            return;
        if (naos_clock_now() > end)
            NT_FAIL("pid %d still there (state %c)", gpid,
                    tu_proc_state(gpid, NULL));
        tu_sleep_ms(10);
    }
}

/* end_by_sigterm ends c with our own SIGTERM (to its pid only) and checks
 * that this SIGTERM is what ended it: proof, without a pause, that nothing
 * SIGKILLed it before. A fatal signal fixes the exit status when it is
 * sent (the kernel marks the group as exiting with it and ignores later
 * signals), so a process the sweep had killed ends with SIGKILL, however
 * slowly it gets to die. */
static void
end_by_sigterm(struct proc_child *c)
{
    NT_EQ_INT(kill(c->pid, SIGTERM), 0);
    bool exited = true;
    int code = 0;
    tu_wait_exit(c, 10000, &exited, &code);
    NT_FALSE(exited);
    NT_EQ_INT(code, SIGTERM);
}

static void
test_enable(void)
{
    int v = 0;
    NT_EQ_INT(proc_orphans_enable(), NAOS_OK);
    NT_EQ_INT(prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0), 0);
    NT_EQ_INT(v, 1);
}

static void
test_sweep_no_children(void)
{
    struct known k = {{0}};
    struct proc_orphans_stats st = {9, 9, 9};
    NT_EQ_INT(proc_orphans_sweep(is_known, &k, &st), NAOS_OK);
    NT_EQ_INT(st.reaped, 0);
    NT_EQ_INT(st.killed, 0);
    NT_EQ_INT(st.known_exited, 0);
    NT_EQ_INT(proc_orphans_sweep(is_known, &k, NULL), NAOS_OK);
}

static void
test_setsid_grandchild_killed(void)
{
    NT_EQ_INT(proc_orphans_enable(), NAOS_OK);
    int p[2];
    tu_pipe(p);
    /* worker -> inner sh -> setsid sh (new session) that prints its pid and
     * becomes sleep; inner sh and the worker exit at once. */
    struct proc_child c = tu_spawn_sh(
        "sh -c 'setsid sh -c \"echo \\$\\$; exec sleep 1000\" "
        "</dev/null 2>/dev/null &'; exit 0",
        p[1]);
    close(p[1]);
    char out[256];
    tu_read_until(p[0], out, sizeof out, "\n", 10000);
    close(p[0]);
    int gpid = atoi(out);
    NT_TRUE(gpid > 1);
    tu_track(gpid);
    /* It escaped the worker's group and session. */
    NT_EQ_INT(getsid(gpid), gpid);

    struct known k = {{c.pid}};
    bool exited;
    int code;
    tu_wait_exit(&c, 10000, &exited, &code); /* the worker, via pidfd */
    NT_TRUE(exited);
    NT_EQ_INT(code, 0);
    k.pids[0] = 0;
    proc_signal_group(c.pid, SIGKILL); /* what node.c does; misses gpid */

    /* Reparented to us (the subreaper) once its parent died. */
    naos_time end = naos_clock_now() + 10000;
    for (;;) {
        int ppid = 0;
        NT_TRUE(tu_proc_state(gpid, &ppid) != 0);
        if (ppid == getpid())
            break;
        if (naos_clock_now() > end)
            NT_FAIL("grandchild %d never reparented (ppid %d)", gpid, ppid);
        tu_sleep_ms(10);
    }
    struct proc_orphans_stats tot = {0, 0, 0};
    sweep_until_gone(&k, gpid, &tot);
    NT_TRUE(tot.killed >= 1);
    NT_TRUE(tot.reaped >= 1);
    tu_untrack(gpid);
    NT_TRUE(tu_no_children());
}

static void
test_known_running_left_alone(void)
{
    NT_EQ_INT(proc_orphans_enable(), NAOS_OK);
    struct proc_child c = tu_spawn_sh("exec sleep 1000", -1);
    struct known k = {{c.pid}};
    struct proc_orphans_stats st;
    NT_EQ_INT(proc_orphans_sweep(is_known, &k, &st), NAOS_OK);
    NT_EQ_INT(st.killed, 0);
    NT_EQ_INT(st.reaped, 0);
    NT_EQ_INT(st.known_exited, 0);
    end_by_sigterm(&c); /* not killed by the sweep */
}

static void
test_known_exited_left_for_pidfd(void)
{
    struct proc_child c = tu_spawn_sh("exit 5", -1);
    struct known k = {{c.pid}};
    struct pollfd pf = {.fd = c.pidfd, .events = POLLIN};
    NT_EQ_INT(poll(&pf, 1, 10000), 1);
    struct proc_orphans_stats st;
    NT_EQ_INT(proc_orphans_sweep(is_known, &k, &st), NAOS_OK);
    NT_EQ_INT(st.known_exited, c.pid);
    NT_EQ_INT(st.reaped, 0);
    NT_EQ_INT(st.killed, 0);
    NT_EQ_INT(tu_proc_state(c.pid, NULL), 'Z'); /* still ours to reap */
    bool exited;
    int code;
    tu_wait_exit(&c, 1000, &exited, &code);
    NT_TRUE(exited);
    NT_EQ_INT(code, 5);
}

static void
test_unknown_zombie_behind_known(void)
{
    /* A known zombie first in the kernel's list blocks the P_ALL peek: the
     * /proc pass must still reap the unknown zombie after it. */
    struct proc_child c = tu_spawn_sh("exit 5", -1);
    struct pollfd pf = {.fd = c.pidfd, .events = POLLIN};
    NT_EQ_INT(poll(&pf, 1, 10000), 1);
    pid_t u;
    char *argv[] = {"/bin/true", NULL};
    NT_EQ_INT(posix_spawn(&u, "/bin/true", NULL, NULL, argv, NULL), 0);
    tu_track(u);
    naos_time end = naos_clock_now() + 10000;
    while (tu_proc_state(u, NULL) != 'Z') {
        if (naos_clock_now() > end)
            NT_FAIL("unknown child never exited");
        tu_sleep_ms(5);
    }
    struct known k = {{c.pid}};
    struct proc_orphans_stats st;
    NT_EQ_INT(proc_orphans_sweep(is_known, &k, &st), NAOS_OK);
    NT_EQ_INT(st.known_exited, c.pid);
    NT_EQ_INT(st.reaped, 1);
    NT_EQ_INT(tu_proc_state(u, NULL), 0);
    tu_untrack(u);
    bool exited;
    int code;
    tu_wait_exit(&c, 1000, &exited, &code);
    NT_EQ_INT(code, 5);
    NT_TRUE(tu_no_children());
}

static void
test_unknown_live_child_killed(void)
{
    /* A direct child that is not a worker (and leads its own group). */
    struct proc_child c = tu_spawn_sh("sleep 1000 & wait", -1);
    int gpid = 0;
    naos_time end = naos_clock_now() + 10000;
    while (gpid == 0) { /* find the sleep in the child's group */
        char path[64], buf[256];
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", c.pid, c.pid);
        FILE *f = fopen(path, "re");
        if (f != NULL) {
            if (fgets(buf, sizeof buf, f) != NULL)
                gpid = atoi(buf);
            fclose(f);
        }
        if (naos_clock_now() > end)
            NT_FAIL("no grandchild");
        if (gpid == 0)
            tu_sleep_ms(5);
    }
    struct known none = {{0}};
    struct proc_orphans_stats tot = {0, 0, 0};
    /* The worker is "unknown" here: the sweep kills it and its group. */
    naos_time end2 = naos_clock_now() + 10000;
    while (tu_proc_state(c.pid, NULL) != 0) {
        struct proc_orphans_stats st;
        NT_EQ_INT(proc_orphans_sweep(is_known, &none, &st), NAOS_OK);
        tot.killed += st.killed;
        tot.reaped += st.reaped;
        if (naos_clock_now() > end2)
            NT_FAIL("unknown child survived");
        tu_sleep_ms(5);
    }
    NT_TRUE(tot.killed >= 1);
    NT_EQ_INT(tot.reaped, 1);
    NT_TRUE(tu_wait_gone(gpid, 10000));
    close(c.pidfd);
    tu_untrack(c.pid);
}

/* Live processes (not zombies) whose environment holds marker. */
static int
count_marked(const char *marker)
{
    int n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char path[300], buf[65536];
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t k = read(fd, buf, sizeof buf - 1);
        close(fd);
        for (ssize_t i = 0; i < k; i += (ssize_t)strlen(buf + i) + 1) {
            buf[k] = '\0';
            if (strcmp(buf + i, marker) == 0 &&
                tu_proc_state(atoi(e->d_name), NULL) != 'Z') {
                n++;
                break;
            }
        }
    }
    if (d)
        closedir(d);
    return n;
}

/* wait_marked polls count_marked until it is want, for up to 10 s. */
static void
wait_marked(const char *marker, int want)
{
    naos_time end = naos_clock_now() + 10000;
    int n;
    while ((n = count_marked(marker)) != want) {
        if (naos_clock_now() > end)
            NT_FAIL("%d processes carry %s, want %d", n, marker, want);
        tu_sleep_ms(10);
    }
}

/* What a killed node left behind is found by its marker in the
 * environment, grandchildren included; others are left alone. */
static void
test_kill_marked(void)
{
    char marker[64];
    snprintf(marker, sizeof marker, "NAOS_NODE_ID=test%d", (int)getpid());
    char *extra[] = {marker, NULL};
    char *argv[] = {"/bin/sh", "-c", "sleep 1000 & exec sleep 1000", NULL};
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    o.extra_env = extra;
    struct proc_child marked = tu_spawn_opts(&o);
    struct proc_child other = tu_spawn_sh("exec sleep 1000", -1);
    wait_marked(marker, 2); /* the worker and its grandchild are up */
    unsigned killed = 0;
    NT_EQ_INT(proc_orphans_kill_marked(marker, &killed), NAOS_OK);
    NT_TRUE(killed >= 1); /* the group kill may take the grandchild first */
    wait_marked(marker, 0);
    bool exited = true;
    int code = 0;
    tu_wait_exit(&marked, 10000, &exited, &code);
    NT_FALSE(exited);
    NT_EQ_INT(code, SIGKILL);
    /* A prefix of the marker is not the marker. */
    marker[strlen(marker) - 1] = '\0';
    NT_EQ_INT(proc_orphans_kill_marked(marker, &killed), NAOS_OK);
    NT_EQ_INT(killed, 0);
    /* The unmarked one was never killed, by either call. */
    end_by_sigterm(&other);
}

/* ---- the sweep in steps ---------------------------------------------- */

#define MANY 1500

static struct {
    int pids[MANY];
    int n;
} many;

static bool
is_known_many(void *ctx, int pid)
{
    (void)ctx;
    for (int i = 0; i < many.n; i++)
        if (many.pids[i] == pid)
            return true;
    return false;
}

/* spawn_sleeper starts `sleep 1000` as our child, dying with self. vfork
 * + exec: a fork per child is slow in a sanitizer build. On its own so
 * that vfork clobbers no caller's locals. */
static pid_t
spawn_sleeper(pid_t self)
{
    pid_t pid = vfork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != self)
            _exit(0);
        execl("/bin/sleep", "sleep", "1000", (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void
test_scan_in_steps(void)
{
    /* MANY known children and one unknown one in their midst. */
    int unknown = 0;
    many.n = 0;
    pid_t self = getpid();
    for (int i = 0; i <= MANY; i++) {
        pid_t pid = spawn_sleeper(self);
        NT_TRUE(pid > 0);
        if (i == MANY / 2) {
            unknown = pid;
            tu_track(pid);
        } else {
            many.pids[many.n++] = pid;
        }
    }
    struct proc_orphans_scan sc = PROC_ORPHANS_SCAN_ZERO;
    struct proc_orphans_stats st;
    NT_FALSE(proc_orphans_scan_busy(&sc));
    NT_EQ_INT(proc_orphans_scan_step(&sc, is_known_many, NULL, &st), NAOS_OK);
    NT_EQ_INT(st.killed, 0); /* nothing asked: nothing done */
    /* Two requests before it starts make one pass. */
    proc_orphans_scan_request(&sc);
    proc_orphans_scan_request(&sc);
    NT_TRUE(proc_orphans_scan_busy(&sc));
    int steps = 0, killed = 0, first_pass = 0;
    while (proc_orphans_scan_busy(&sc)) {
        NT_TRUE(steps < 1000);
        NT_EQ_INT(proc_orphans_scan_step(&sc, is_known_many, NULL, &st),
                  NAOS_OK);
        steps++;
        killed += st.killed;
        if (first_pass == 0 && sc.tasks == NULL)
            first_pass = steps;
    }
    /* The pass read MANY pids in pieces of at most one chunk each (a pid
     * and its space take at least 4 bytes here). */
    NT_TRUE(first_pass >= MANY * 4 / PROC_ORPHANS_SCAN_CHUNK);
    NT_EQ_INT(killed, 1);
    /* A request while a pass runs makes one more pass after it. */
    proc_orphans_scan_request(&sc);
    NT_EQ_INT(proc_orphans_scan_step(&sc, is_known_many, NULL, &st), NAOS_OK);
    NT_TRUE(sc.tasks != NULL);
    proc_orphans_scan_request(&sc);
    int passes = 0;
    while (proc_orphans_scan_busy(&sc)) {
        NT_TRUE(passes < 10);
        NT_EQ_INT(proc_orphans_scan_step(&sc, is_known_many, NULL, &st),
                  NAOS_OK);
        if (sc.tasks == NULL)
            passes++;
    }
    NT_TRUE(passes >= 2);
    naos_time end = naos_clock_now() + 10000;
    for (;;) {
        struct proc_orphans_stats r;
        NT_EQ_INT(proc_orphans_reap_exited(is_known_many, NULL, &r), NAOS_OK);
        NT_EQ_INT(r.known_exited, 0);
        if (tu_proc_state(unknown, NULL) == 0)
            break;
        if (naos_clock_now() > end)
            NT_FAIL("unknown child %d still there", unknown);
        tu_sleep_ms(5);
    }
    tu_untrack(unknown);
    proc_orphans_scan_fini(&sc);
    proc_orphans_scan_fini(&sc); /* idempotent */
    /* Only the unknown one was killed (killed == 1 above): each known one
     * ends by our SIGTERM, not by an earlier SIGKILL (end_by_sigterm). */
    for (int i = 0; i < many.n; i++)
        kill(many.pids[i], SIGTERM);
    int not_ours = 0, first_bad = 0, first_status = 0;
    for (int i = 0; i < many.n; i++) {
        int status = 0;
        NT_EQ_INT(waitpid(many.pids[i], &status, 0), many.pids[i]);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM) {
            if (not_ours++ == 0) {
                first_bad = many.pids[i];
                first_status = status;
            }
        }
    }
    if (not_ours)
        NT_FAIL("%d known children did not end by our SIGTERM (pid %d: "
                "status 0x%x)", not_ours, first_bad, first_status);
    NT_TRUE(tu_no_children());
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_enable),
        NT_CASE(test_sweep_no_children),
        NT_CASE(test_setsid_grandchild_killed),
        NT_CASE(test_known_running_left_alone),
        NT_CASE(test_known_exited_left_for_pidfd),
        NT_CASE(test_unknown_zombie_behind_known),
        NT_CASE(test_unknown_live_child_killed),
        NT_CASE(test_kill_marked),
        NT_CASE(test_scan_in_steps),
        {0},
    };
    return nt_run(cases);
}
