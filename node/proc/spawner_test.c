/* SPDX-License-Identifier: Apache-2.0 */
/* spawner_test.c: proc_spawn on its own thread (spawner.h). */
#include <poll.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/proc/proc_test_util.h"
#include "node/proc/spawner.h"

/* wait_done polls the spawner's fd and takes what is done, until n jobs
 * came back (fails after 10 s). Returns them oldest first. */
static struct proc_spawn_job *
wait_done(struct proc_spawner *s, int n)
{
    struct proc_spawn_job *list = NULL, **tail = &list;
    int got = 0;
    naos_time deadline = naos_clock_now() + 10000;
    while (got < n) {
        struct pollfd p = {.fd = proc_spawner_fd(s), .events = POLLIN};
        if (naos_clock_now() > deadline)
            NT_FAIL("%d of %d spawns came back within 10 s", got, n);
        if (poll(&p, 1, 100) != 1)
            continue;
        for (struct proc_spawn_job *j = proc_spawner_take(s); j != NULL;) {
            struct proc_spawn_job *next = j->next;
            j->next = NULL;
            *tail = j;
            tail = &j->next;
            got++;
            j = next;
        }
    }
    return list;
}

/* read_all reads fd until EOF into buf. */
static void
read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
}

/* The job is a copy: the caller's strings may be gone before the spawn
 * runs. Jobs come back in order, through the fd, with the child's pidfd;
 * a failed exec comes back as its errno. */
static void
test_jobs_run_in_order_from_copies(void)
{
    long base = naos_alloc_live();
    struct proc_spawner s;
    NT_EQ_INT(proc_spawner_start(&s), NAOS_OK);
    int p[2];
    NT_EQ_INT(pipe2(p, O_CLOEXEC), 0);
    char script[] = "echo \"$A $NAOS_AGENT $B $NAOS_EPOCH\"; pwd";
    char a[] = "A=first", b[] = "B=extra", cwd[] = "/tmp", agent[] = "d/w";
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    char *env[] = {a, NULL};
    char *extra[] = {b, NULL};
    struct proc_naos_env ne = {.agent = agent, .restart_reason = "",
                               .epoch = 12};
    struct proc_spawn_opts o = {.argv = argv, .env = env, .cwd = cwd,
                                .out_fd = p[1], .naos = &ne,
                                .extra_env = extra};
    struct proc_spawn_job *j1 = proc_spawn_job_new(&o, (void *)1);
    NT_TRUE(j1 != NULL);
    /* The caller's strings change before the spawn runs. */
    memset(script, 'x', sizeof script - 1);
    a[2] = b[2] = cwd[1] = agent[0] = 'X';
    ne.epoch = 13;
    char *bad[] = {"/nonexistent/naos-no-such-program", NULL};
    struct proc_spawn_opts o2 = {.argv = bad, .out_fd = -1};
    struct proc_spawn_job *j2 = proc_spawn_job_new(&o2, (void *)2);
    NT_TRUE(proc_spawner_hold(&s)); /* nothing runs while held */
    proc_spawner_submit(&s, j1);
    proc_spawner_submit(&s, j2);
    NT_TRUE(proc_spawner_busy(&s));
    /* The thread has taken j1 and waits for the hold: nothing is done. */
    naos_time until = naos_clock_now() + 10000;
    for (;;) {
        pthread_mutex_lock(&s.mu);
        bool took_j1 = s.todo == j2;
        pthread_mutex_unlock(&s.mu);
        if (took_j1)
            break;
        NT_TRUE(naos_clock_now() < until);
        tu_sleep_ms(1);
    }
    NT_TRUE(proc_spawner_take(&s) == NULL);
    proc_spawner_release(&s);
    struct proc_spawn_job *done = wait_done(&s, 2);
    NT_FALSE(proc_spawner_busy(&s));
    NT_TRUE(done->tag == (void *)1 && done->next->tag == (void *)2);
    NT_EQ_INT(done->rc, 0);
    NT_TRUE(done->child.pid > 0 && done->child.pidfd >= 0);
    tu_track(done->child.pid);
    NT_EQ_INT(done->next->rc, ENOENT);
    NT_EQ_INT(done->opts.out_fd, -1); /* closed by the spawner */
    char out[256];
    read_all(p[0], out, sizeof out); /* EOF: no write end is left */
    NT_EQ_STR(out, "first d/w extra 12\n/tmp\n");
    bool exited = false;
    int code = -1;
    tu_wait_exit(&done->child, 10000, &exited, &code);
    NT_TRUE(exited && code == 0);
    close(p[0]);
    proc_spawn_job_free(done->next);
    proc_spawn_job_free(done);
    NT_TRUE(proc_spawner_stop(&s) == NULL);
    NT_EQ_INT(naos_alloc_live(), base);
}

/* A done job's child is known to the spawner until taken (the orphan
 * sweep asks); stop hands back what was never taken or never run, and the
 * children of the ended thread die with it (PDEATHSIG). */
static void
test_owns_pid_and_stop(void)
{
    long base = naos_alloc_live();
    struct proc_spawner s;
    NT_EQ_INT(proc_spawner_start(&s), NAOS_OK);
    char *argv[] = {"sleep", "100", NULL};
    struct proc_spawn_opts o = {.argv = argv, .out_fd = -1};
    proc_spawner_submit(&s, proc_spawn_job_new(&o, NULL));
    naos_time deadline = naos_clock_now() + 10000;
    struct pollfd pf = {.fd = proc_spawner_fd(&s), .events = POLLIN};
    while (poll(&pf, 1, 100) != 1)
        NT_TRUE(naos_clock_now() < deadline);
    NT_TRUE(proc_spawner_settle(&s, 10000));
    /* Done, not taken: find its pid through the hold, as the sweep does. */
    NT_TRUE(proc_spawner_hold(&s));
    pthread_mutex_lock(&s.mu);
    int pid = s.done != NULL ? s.done->child.pid : 0;
    pthread_mutex_unlock(&s.mu);
    NT_TRUE(pid > 0);
    tu_track(pid);
    NT_TRUE(proc_spawner_owns_pid(&s, pid));
    NT_FALSE(proc_spawner_owns_pid(&s, getpid()));
    /* A second job, run or not by the time of the stop. */
    proc_spawner_submit(&s, proc_spawn_job_new(&o, (void *)7));
    proc_spawner_release(&s);
    struct proc_spawn_job *left = proc_spawner_stop(&s);
    NT_TRUE(left != NULL);
    NT_EQ_INT(left->child.pid, pid);
    struct proc_child c = left->child;
    /* The thread that made it ended: PDEATHSIG ended the child. */
    bool exited = true;
    int code = 0;
    tu_wait_exit(&c, 10000, &exited, &code);
    NT_FALSE(exited);
    NT_EQ_INT(code, SIGKILL);
    while (left != NULL) {
        struct proc_spawn_job *next = left->next;
        if (left->rc == 0 && left->child.pid != pid) {
            tu_track(left->child.pid);
            tu_kill_and_reap(&left->child);
        } else if (left->rc != 0) {
            NT_EQ_INT(left->rc, ECANCELED); /* never run */
        }
        proc_spawn_job_free(left);
        left = next;
    }
    NT_EQ_INT(naos_alloc_live(), base);
}

int
main(void)
{
    NT_TRUE(proc_spawn_reserve_fds() == NAOS_OK);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    static const struct nt_case cases[] = {
        NT_CASE(test_jobs_run_in_order_from_copies),
        NT_CASE(test_owns_pid_and_stop),
        {0},
    };
    return nt_run(cases);
}
