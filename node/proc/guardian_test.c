/* SPDX-License-Identifier: Apache-2.0 */
/* guardian_test.c: the lease guardian against real processes.
 *
 * This binary is also the guardian: guardian_start runs /proc/self/exe
 * (this test) as `guardian --margin MS`, and main hands that to
 * guardian_main, exactly as naos-node's main does.
 *
 * Timing: every kill is checked to come no earlier than the fire time
 * (deadline - margin) and within LATE_MS after it: loose, because the
 * machine running the tests may be loaded. Each case is a subreaper so a
 * guardian orphaned by its driver's death is reaped here. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/proc/guardian.h"
#include "node/proc/proc_test_util.h"

#define LATE_MS 1000 /* how late a kill may come on a loaded machine */

static struct proc_child
spawn_sleeper(void)
{
    char *argv[] = {"sleep", "1000", NULL};
    struct proc_spawn_opts o = PROC_SPAWN_OPTS_ZERO;
    o.argv = argv;
    return tu_spawn_opts(&o);
}

static struct guardian *
start_guardian(uint64_t deadline, uint32_t margin)
{
    struct guardian_opts o = GUARDIAN_OPTS_ZERO;
    o.deadline = deadline;
    o.margin = margin;
    struct guardian *g = NULL;
    NT_EQ_INT(guardian_start(&g, &o), NAOS_OK);
    NT_TRUE(g != NULL);
    tu_track(guardian_pid(g));
    return g;
}

/* free_guardian closes the channel and checks the guardian's exit code. */
static void
free_guardian(struct guardian *g, int want_code)
{
    int pid = guardian_pid(g), code = -2;
    guardian_free(g, &code);
    tu_untrack(pid);
    NT_EQ_INT(code, want_code);
}

/* wait_killed waits for c to die, reaps it, checks it was SIGKILLed, and
 * returns when (ms CLOCK_BOOTTIME) its exit was seen. */
static uint64_t
wait_killed(struct proc_child *c, long timeout_ms)
{
    struct pollfd p = {c->pidfd, POLLIN, 0};
    int r;
    do {
        r = poll(&p, 1, (int)timeout_ms);
    } while (r < 0 && errno == EINTR);
    uint64_t at = guardian_clock_now();
    if (r != 1)
        NT_FAIL("pid %d still alive after %ld ms", c->pid, timeout_ms);
    bool exited = true;
    int code = 0;
    tu_wait_exit(c, 1000, &exited, &code);
    NT_FALSE(exited);
    NT_EQ_INT(code, SIGKILL);
    return at;
}

static void
check_on_time(uint64_t killed_at, uint64_t fire)
{
    fprintf(stderr, "  killed %lld ms after the fire time\n",
            (long long)killed_at - (long long)fire);
    NT_TRUE(killed_at >= fire);
    NT_TRUE(killed_at <= fire + LATE_MS);
}

static bool
alive(const struct proc_child *c)
{
    return !proc_has_exited(c->pidfd, c->pid);
}

/* (a) Not extended: killed at the deadline minus the margin. */
static void
test_killed_at_deadline(void)
{
    struct guardian *g = start_guardian(GUARDIAN_NEVER, 200);
    struct proc_child c = spawn_sleeper();
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_OK);
    uint64_t deadline = guardian_clock_now() + 700;
    NT_EQ_INT(guardian_extend(g, deadline), NAOS_OK);
    check_on_time(wait_killed(&c, 700 + 5000), deadline - 200);
    /* Expired, the guardian still stops cleanly on request. */
    NT_EQ_INT(guardian_stop(g), NAOS_OK);
    NT_EQ_INT(guardian_extend(g, deadline), NAOS_ECLOSED);
    free_guardian(g, GUARDIAN_EXIT_STOPPED);
}

/* (b) Extended every 50 ms for 1 s: alive; then killed once they stop. */
static void
test_extended_survives_then_killed(void)
{
    struct guardian *g = start_guardian(guardian_clock_now() + 600, 0);
    struct proc_child c = spawn_sleeper();
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_OK);
    uint64_t end = guardian_clock_now() + 1000, deadline = 0;
    while (guardian_clock_now() < end) {
        deadline = guardian_clock_now() + 600;
        NT_EQ_INT(guardian_extend(g, deadline), NAOS_OK);
        NT_TRUE(alive(&c));
        tu_sleep_ms(50);
    }
    NT_TRUE(alive(&c));
    check_on_time(wait_killed(&c, 600 + 5000), deadline);
    NT_EQ_INT(guardian_stop(g), NAOS_OK);
    free_guardian(g, GUARDIAN_EXIT_STOPPED);
}

/* A driver: a forked "node" that starts a guardian, has it watch c with
 * the given deadline, reports the guardian's pid, then idles. */
struct driver {
    pid_t pid;
    int gpid;
};

/* A run of a test "node" whose guardian certifies (the plan need not
 * exist: the test binary's `certify` only says it was run). */
#define TEST_INSTANCE 0x1234u
#define TEST_CERTIFIED 42 /* the exit of this binary's `certify` */

static struct driver
start_driver_opts(const struct proc_child *c, uint64_t deadline,
                  bool certify)
{
    int p[2];
    NT_EQ_INT(pipe2(p, O_CLOEXEC), 0);
    pid_t d = fork();
    NT_TRUE(d >= 0);
    if (d == 0) {
        close(p[0]);
        struct guardian_opts o = GUARDIAN_OPTS_ZERO;
        if (certify) {
            o.certify_plan = "/nonexistent/certify.plan";
            o.certify_instance = TEST_INSTANCE;
        }
        struct guardian *g = NULL;
        int gp = -1;
        if (guardian_start(&g, &o) == NAOS_OK &&
            guardian_watch(g, c->pid, c->pidfd) == NAOS_OK &&
            guardian_extend(g, deadline) == NAOS_OK)
            gp = guardian_pid(g);
        if (write(p[1], &gp, sizeof gp) != sizeof gp)
            _exit(1);
        for (;;)
            pause();
    }
    tu_track(d);
    close(p[1]);
    struct driver dr = {d, -1};
    struct pollfd pf = {p[0], POLLIN, 0};
    NT_EQ_INT(poll(&pf, 1, 10000), 1);
    NT_EQ_INT(read(p[0], &dr.gpid, sizeof dr.gpid), sizeof dr.gpid);
    close(p[0]);
    NT_TRUE(dr.gpid > 1);
    return dr;
}

static struct driver
start_driver(const struct proc_child *c, uint64_t deadline)
{
    return start_driver_opts(c, deadline, false);
}

/* reap_pid waits (bounded) for our child or orphan pid; returns its
 * wait status. */
static int
reap_pid(int pid)
{
    naos_time end = naos_clock_now() + 10000;
    for (;;) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            tu_untrack(pid);
            return st;
        }
        if (r < 0)
            NT_FAIL("waitpid %d: %s", pid, strerror(errno));
        if (naos_clock_now() >= end)
            NT_FAIL("pid %d did not exit", pid);
        tu_sleep_ms(10);
    }
}

/* (c) The channel closes without a stop (the node died): killed at once,
 * with no deadline at all. Both ways: the handle freed (the node exiting
 * without a stop), and the driving process killed with SIGKILL. */
static void
test_node_death_kills_at_once(void)
{
    tu_subreaper();
    struct guardian *g = start_guardian(GUARDIAN_NEVER, 0);
    struct proc_child c = spawn_sleeper();
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_OK);
    tu_sleep_ms(100);
    NT_TRUE(alive(&c));
    uint64_t t0 = guardian_clock_now();
    free_guardian(g, GUARDIAN_EXIT_NODE_GONE);
    check_on_time(wait_killed(&c, 5000), t0);

    c = spawn_sleeper();
    struct driver d = start_driver(&c, GUARDIAN_NEVER);
    tu_sleep_ms(100);
    NT_TRUE(alive(&c));
    t0 = guardian_clock_now();
    NT_EQ_INT(kill(d.pid, SIGKILL), 0);
    check_on_time(wait_killed(&c, 5000), t0);
    int st = reap_pid(d.pid);
    NT_TRUE(WIFSIGNALED(st));
    st = reap_pid(d.gpid); /* orphaned to us, the subreaper */
    NT_TRUE(WIFEXITED(st));
    NT_EQ_INT(WEXITSTATUS(st), GUARDIAN_EXIT_NODE_GONE);
}

/* (d) A clean stop: the guardian leaves, the child lives past the
 * deadline. */
static void
test_clean_stop_spares(void)
{
    struct guardian *g = start_guardian(guardian_clock_now() + 300, 0);
    struct proc_child c = spawn_sleeper();
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_OK);
    NT_EQ_INT(guardian_stop(g), NAOS_OK);
    NT_EQ_INT(guardian_events(g) & EPOLLOUT, 0);
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_ECLOSED);
    free_guardian(g, GUARDIAN_EXIT_STOPPED);
    tu_sleep_ms(600);
    NT_TRUE(alive(&c));
    tu_kill_and_reap(&c);
}

/* (e) The driving process is SIGSTOPped: the guardian, a process of its
 * own, still kills at the deadline. */
static void
test_stopped_node_still_fenced(void)
{
    tu_subreaper();
    struct proc_child c = spawn_sleeper();
    uint64_t deadline = guardian_clock_now() + 800;
    struct driver d = start_driver(&c, deadline);
    NT_EQ_INT(kill(d.pid, SIGSTOP), 0);
    int st = 0;
    NT_EQ_INT(waitpid(d.pid, &st, WUNTRACED), d.pid);
    NT_TRUE(WIFSTOPPED(st));
    NT_TRUE(alive(&c));
    check_on_time(wait_killed(&c, 800 + 5000), deadline);
    char state = tu_proc_state(d.pid, NULL);
    NT_EQ_INT(state, 'T'); /* still stopped all along */
    NT_EQ_INT(kill(d.pid, SIGKILL), 0);
    st = reap_pid(d.pid);
    NT_TRUE(WIFSIGNALED(st));
    st = reap_pid(d.gpid);
    NT_TRUE(WIFEXITED(st));
    NT_EQ_INT(WEXITSTATUS(st), GUARDIAN_EXIT_NODE_GONE);
}

/* (f) An unwatched group is never touched: not at the deadline, not when
 * the channel closes; nor one that was unwatched. */
static void
test_unwatched_untouched(void)
{
    struct guardian *g = start_guardian(GUARDIAN_NEVER, 0);
    struct proc_child w = spawn_sleeper(), u = spawn_sleeper(),
                      gone = spawn_sleeper();
    NT_EQ_INT(guardian_watch(g, w.pid, w.pidfd), NAOS_OK);
    NT_EQ_INT(guardian_watch(g, gone.pid, gone.pidfd), NAOS_OK);
    NT_EQ_INT(guardian_unwatch(g, gone.pid), NAOS_OK);
    uint64_t deadline = guardian_clock_now() + 300;
    NT_EQ_INT(guardian_extend(g, deadline), NAOS_OK);
    check_on_time(wait_killed(&w, 300 + 5000), deadline);
    tu_sleep_ms(300);
    NT_TRUE(alive(&u));
    NT_TRUE(alive(&gone));
    free_guardian(g, GUARDIAN_EXIT_NODE_GONE); /* EOF: kills what it has */
    tu_sleep_ms(200);
    NT_TRUE(alive(&u));
    NT_TRUE(alive(&gone));
    tu_kill_and_reap(&u);
    tu_kill_and_reap(&gone);
}

/* A group whose leader has exited and been reaped, with a member left:
 * the member is killed (the leader's pidfd names the group, whatever
 * happened to the number). */
static void
test_group_outlives_leader(void)
{
    tu_subreaper();
    int p[2];
    tu_pipe(p);
    struct proc_child c = tu_spawn_sh("sleep 1000 & echo $!", p[1]);
    close(p[1]);
    char buf[64];
    tu_read_until(p[0], buf, sizeof buf, "\n", 5000);
    close(p[0]);
    int member = atoi(buf);
    NT_TRUE(member > 1);
    tu_track(member);
    /* The node's pidfd of the leader, held from before its reaping. */
    int lead = fcntl(c.pidfd, F_DUPFD_CLOEXEC, 3);
    NT_TRUE(lead >= 0);
    bool exited = false;
    int code = -1;
    tu_wait_exit(&c, 5000, &exited, &code); /* the leader, reaped */
    NT_TRUE(exited);
    NT_EQ_INT(getpgid(member), c.pid); /* the group lives on */
    struct guardian *g = start_guardian(GUARDIAN_NEVER, 0);
    NT_EQ_INT(guardian_watch(g, c.pid, lead), NAOS_OK);
    close(lead);
    uint64_t deadline = guardian_clock_now() + 300;
    NT_EQ_INT(guardian_extend(g, deadline), NAOS_OK);
    tu_sleep_ms(100);
    NT_TRUE(tu_proc_state(member, NULL) != 0);
    NT_TRUE(tu_wait_gone(member, 300 + 5000)); /* ours: reaped */
    uint64_t at = guardian_clock_now();
    tu_untrack(member);
    NT_TRUE(at >= deadline);
    NT_TRUE(at <= deadline + LATE_MS);
    NT_EQ_INT(guardian_stop(g), NAOS_OK);
    free_guardian(g, GUARDIAN_EXIT_STOPPED);
}

/* A group watched after the deadline is killed on receipt; a new future
 * deadline arms the guardian again. */
static void
test_watch_after_deadline(void)
{
    struct guardian *g = start_guardian(guardian_clock_now() + 100, 0);
    tu_sleep_ms(300);
    struct proc_child c = spawn_sleeper();
    uint64_t t0 = guardian_clock_now();
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_OK);
    check_on_time(wait_killed(&c, 5000), t0);
    uint64_t deadline = guardian_clock_now() + 400;
    NT_EQ_INT(guardian_extend(g, deadline), NAOS_OK);
    c = spawn_sleeper();
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_OK);
    tu_sleep_ms(200);
    NT_TRUE(alive(&c));
    check_on_time(wait_killed(&c, 400 + 5000), deadline);
    NT_EQ_INT(guardian_stop(g), NAOS_OK);
    free_guardian(g, GUARDIAN_EXIT_STOPPED);
}

/* An extension and a watch read in one batch by an expired guardian
 * (it was stopped while both were sent): the watch belongs to the new
 * lease and lives (CI once saw it killed when the re-arming waited for
 * the end of the batch). */
static void
test_extend_then_watch_in_one_batch(void)
{
    struct guardian *g = start_guardian(guardian_clock_now() + 50, 0);
    tu_sleep_ms(250); /* expired */
    NT_EQ_INT(kill(guardian_pid(g), SIGSTOP), 0);
    struct proc_child c = spawn_sleeper();
    NT_EQ_INT(guardian_extend(g, guardian_clock_now() + 5000), NAOS_OK);
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_OK);
    NT_EQ_INT(kill(guardian_pid(g), SIGCONT), 0);
    tu_sleep_ms(300);
    NT_TRUE(alive(&c));
    NT_EQ_INT(guardian_stop(g), NAOS_OK);
    free_guardian(g, GUARDIAN_EXIT_STOPPED);
    tu_kill_and_reap(&c);
}

/* A record of an unknown type: everything is killed, exit 100. */
static void
test_bad_record_kills_all(void)
{
    struct guardian *g = start_guardian(GUARDIAN_NEVER, 0);
    struct proc_child c = spawn_sleeper();
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_OK);
    struct guardian_msg m = {99, 0, 0};
    NT_EQ_INT(send(guardian_fd(g), &m, sizeof m, MSG_DONTWAIT),
              (ssize_t)sizeof m);
    uint64_t t0 = guardian_clock_now();
    check_on_time(wait_killed(&c, 5000), t0);
    struct pollfd p = {guardian_pidfd(g), POLLIN, 0};
    NT_EQ_INT(poll(&p, 1, 5000), 1);
    NT_EQ_INT(guardian_extend(g, GUARDIAN_NEVER), NAOS_ECLOSED);
    free_guardian(g, GUARDIAN_EXIT_PROTOCOL);
}

/* The guardian stopped (SIGSTOP) while the node sends: the socket fills,
 * records wait in the handle (EPOLLOUT wanted), nothing blocks; once it
 * runs again the flushes deliver them in order, the newest deadline
 * first, and the watched child dies at that deadline. */
static void
test_backlog_waits_in_handle(void)
{
    struct guardian *g = start_guardian(GUARDIAN_NEVER, 0);
    int gpid = guardian_pid(g);
    NT_EQ_INT(kill(gpid, SIGSTOP), 0);
    int n = 0;
    while ((guardian_events(g) & EPOLLOUT) == 0) {
        NT_EQ_INT(guardian_unwatch(g, 1000000 + n), NAOS_OK);
        NT_TRUE(++n < 1000000);
    }
    fprintf(stderr, "  the socket took %d records\n", n - 1);
    struct proc_child c = spawn_sleeper();
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_OK);
    for (int i = 0; i < 100; i++)
        NT_EQ_INT(guardian_unwatch(g, 2000000 + i), NAOS_OK);
    NT_EQ_INT(guardian_extend(g, 1), NAOS_OK); /* replaced below */
    uint64_t deadline = guardian_clock_now() + 600;
    NT_EQ_INT(guardian_extend(g, deadline), NAOS_OK);
    NT_TRUE((guardian_events(g) & EPOLLOUT) != 0);
    NT_EQ_INT(kill(gpid, SIGCONT), 0);
    naos_time end = naos_clock_now() + 10000;
    while (guardian_events(g) & EPOLLOUT) {
        struct pollfd p = {guardian_fd(g), POLLOUT, 0};
        poll(&p, 1, 100);
        NT_EQ_INT(guardian_flush(g), NAOS_OK);
        NT_TRUE(naos_clock_now() < end);
    }
    NT_TRUE(alive(&c)); /* the deadline of 1 never went out */
    check_on_time(wait_killed(&c, 600 + 5000), deadline);
    NT_EQ_INT(guardian_stop(g), NAOS_OK);
    free_guardian(g, GUARDIAN_EXIT_STOPPED);
}

/* The handle's queue is bounded: past GUARDIAN_QUEUE_MAX waiting records
 * a watch is refused (the caller must not run that worker) and so is an
 * unwatch (dropping it is safe); an extension still replaces the unsent
 * deadline. Everything drains once the guardian runs again. */
static void
test_queue_bound(void)
{
    struct guardian *g = start_guardian(GUARDIAN_NEVER, 0);
    int gpid = guardian_pid(g);
    NT_EQ_INT(kill(gpid, SIGSTOP), 0);
    int rc, n = 0;
    while ((rc = guardian_unwatch(g, 1000000 + n)) == NAOS_OK)
        NT_TRUE(++n < 4 * GUARDIAN_QUEUE_MAX);
    NT_EQ_INT(rc, NAOS_EBUSY);
    fprintf(stderr, "  %d records sent or queued before the bound\n", n);
    NT_TRUE(n >= GUARDIAN_QUEUE_MAX);
    struct proc_child c = spawn_sleeper();
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_EBUSY);
    NT_EQ_INT(guardian_extend(g, GUARDIAN_NEVER), NAOS_OK);
    NT_EQ_INT(kill(gpid, SIGCONT), 0);
    naos_time end = naos_clock_now() + 20000;
    while (guardian_events(g) & EPOLLOUT) {
        struct pollfd p = {guardian_fd(g), POLLOUT, 0};
        poll(&p, 1, 100);
        NT_EQ_INT(guardian_flush(g), NAOS_OK);
        NT_TRUE(naos_clock_now() < end);
    }
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_OK);
    NT_EQ_INT(guardian_stop(g), NAOS_OK);
    free_guardian(g, GUARDIAN_EXIT_STOPPED);
    NT_TRUE(alive(&c));
    tu_kill_and_reap(&c);
}

/* (n) A group watched for the node's death only (a deployment that runs
 * on without a lease) outlives the deadline, and dies with the node. */
static void
test_death_only_outlives_the_deadline(void)
{
    struct guardian *g = start_guardian(GUARDIAN_NEVER, 0);
    struct proc_child keep = spawn_sleeper(), stop = spawn_sleeper();
    NT_EQ_INT(guardian_watch_ex(g, keep.pid, keep.pidfd, true), NAOS_OK);
    NT_EQ_INT(guardian_watch(g, stop.pid, stop.pidfd), NAOS_OK);
    NT_EQ_INT(guardian_extend(g, guardian_clock_now() + 100), NAOS_OK);
    wait_killed(&stop, 5000);
    tu_sleep_ms(100);
    NT_TRUE(alive(&keep));
    /* watched after the deadline: still spared */
    struct proc_child late = spawn_sleeper();
    NT_EQ_INT(guardian_watch_ex(g, late.pid, late.pidfd, true), NAOS_OK);
    NT_EQ_INT(guardian_flush(g), NAOS_OK);
    tu_sleep_ms(100);
    NT_TRUE(alive(&late));
    free_guardian(g, GUARDIAN_EXIT_NODE_GONE); /* the node's death */
    wait_killed(&keep, 5000);
    wait_killed(&late, 5000);
}

/* (m) Certificates (issue 12): only a node that is gone is certified
 * dead, after its groups and every process carrying its run's mark (one
 * that left its group, unwatched) are killed; a live node that closes
 * the channel (it replaces a guardian it thinks broken) is not. */
static void
test_certifies_only_a_dead_node(void)
{
    tu_subreaper();
    /* a live "node" closes the channel: kills, but certifies nothing */
    struct guardian_opts o = GUARDIAN_OPTS_ZERO;
    o.certify_plan = "/nonexistent/certify.plan";
    o.certify_instance = TEST_INSTANCE;
    struct guardian *g = NULL;
    NT_EQ_INT(guardian_start(&g, &o), NAOS_OK);
    tu_track(guardian_pid(g));
    struct proc_child c = spawn_sleeper();
    NT_EQ_INT(guardian_watch(g, c.pid, c.pidfd), NAOS_OK);
    tu_sleep_ms(50);
    free_guardian(g, GUARDIAN_EXIT_NODE_GONE);
    wait_killed(&c, 5000);

    /* a dead one: its watched worker and an unwatched marked process
     * are killed, then it is certified */
    c = spawn_sleeper();
    char mark[64];
    snprintf(mark, sizeof mark, "%s=%016x", GUARDIAN_RUN_ENV, TEST_INSTANCE);
    char *extra[] = {mark, NULL};
    char *argv[] = {"sleep", "1000", NULL};
    struct proc_spawn_opts so = PROC_SPAWN_OPTS_ZERO;
    so.argv = argv;
    so.extra_env = extra;
    struct proc_child escapee = tu_spawn_opts(&so);
    struct driver d = start_driver_opts(&c, GUARDIAN_NEVER, true);
    tu_sleep_ms(100);
    NT_TRUE(alive(&c) && alive(&escapee));
    NT_EQ_INT(kill(d.pid, SIGKILL), 0);
    wait_killed(&c, 5000);
    wait_killed(&escapee, 5000);
    NT_TRUE(WIFSIGNALED(reap_pid(d.pid)));
    int st = reap_pid(d.gpid);
    NT_TRUE(WIFEXITED(st));
    NT_EQ_INT(WEXITSTATUS(st), TEST_CERTIFIED);
}

int
main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "guardian") == 0)
        return guardian_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "certify") == 0)
        return TEST_CERTIFIED; /* the guardian exec'd it */
    static const struct nt_case cases[] = {
        NT_CASE(test_killed_at_deadline),
        NT_CASE(test_extended_survives_then_killed),
        NT_CASE(test_node_death_kills_at_once),
        NT_CASE(test_clean_stop_spares),
        NT_CASE(test_stopped_node_still_fenced),
        NT_CASE(test_unwatched_untouched),
        NT_CASE(test_group_outlives_leader),
        NT_CASE(test_watch_after_deadline),
        NT_CASE(test_extend_then_watch_in_one_batch),
        NT_CASE(test_bad_record_kills_all),
        NT_CASE(test_backlog_waits_in_handle),
        NT_CASE(test_queue_bound),
        NT_CASE(test_certifies_only_a_dead_node),
        NT_CASE(test_death_only_outlives_the_deadline),
        {0},
    };
    return nt_run(cases);
}
