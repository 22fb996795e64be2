/* SPDX-License-Identifier: Apache-2.0 */
/* peer_test.c: proc_peer_find on real process trees. The test process
 * plays the node (a child subreaper); a forked child plays a worker
 * (setsid) with helpers that keep its group, make their own group, or
 * make their own session. */
#include "node/proc/peer.h"

#include <signal.h>

#include "node/proc/proc_test_util.h"

static bool
known_cb(void *ctx, int pid)
{
    return pid != 0 && pid == *(int *)ctx;
}

struct tree {
    int w, same_group, own_group, own_session;
};

/* Forks a worker W (its own session) that starts three helpers; returns
 * once each has done its setpgid/setsid and said so. */
static struct tree
start_tree(void)
{
    int p[2];
    NT_EQ_INT(pipe(p), 0);
    pid_t w = fork();
    NT_TRUE(w >= 0);
    if (w == 0) {
        close(p[0]);
        setsid();
        dprintf(p[1], "w %d\n", (int)getpid());
        if (fork() == 0) {
            dprintf(p[1], "g %d\n", (int)getpid());
            pause();
            _exit(0);
        }
        if (fork() == 0) {
            setpgid(0, 0);
            dprintf(p[1], "p %d\n", (int)getpid());
            pause();
            _exit(0);
        }
        if (fork() == 0) {
            setsid();
            dprintf(p[1], "s %d\n", (int)getpid());
            pause();
            _exit(0);
        }
        close(p[1]);
        pause();
        _exit(0);
    }
    close(p[1]);
    struct tree t = {0, 0, 0, 0};
    char buf[256];
    size_t off = 0;
    int lines = 0;
    while (lines < 4) {
        size_t got = tu_read_until(p[0], buf + off, sizeof buf - off, "\n",
                                   10000);
        NT_TRUE(got > 0);
        off += got;
        lines = 0;
        for (size_t i = 0; i < off; i++)
            lines += buf[i] == '\n';
    }
    close(p[0]);
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
        int pid = atoi(line + 2);
        tu_track(pid);
        switch (line[0]) {
        case 'w': t.w = pid; break;
        case 'g': t.same_group = pid; break;
        case 'p': t.own_group = pid; break;
        case 's': t.own_session = pid; break;
        }
    }
    NT_TRUE(t.w && t.same_group && t.own_group && t.own_session);
    return t;
}

static void
stop_tree(struct tree *t)
{
    int pids[4] = {t->w, t->same_group, t->own_group, t->own_session};
    for (int i = 0; i < 4; i++) {
        kill(pids[i], SIGKILL);
        NT_TRUE(tu_wait_gone(pids[i], 10000));
        tu_untrack(pids[i]);
    }
}

static void
expect(int pid, int known, enum proc_peer_kind want, int want_worker)
{
    int worker = -1;
    enum proc_peer_kind k = proc_peer_find(pid, getpid(), known_cb, &known,
                                           &worker);
    if (k != want)
        NT_FAIL("pid %d: %s, want %s", pid, proc_peer_kind_name(k),
                proc_peer_kind_name(want));
    NT_EQ_INT(worker, want_worker);
}

static void
test_worker_and_its_helpers(void)
{
    tu_subreaper();
    struct tree t = start_tree();
    expect(t.w, t.w, PROC_PEER_WORKER, t.w);
    expect(t.same_group, t.w, PROC_PEER_WORKER, t.w);  /* by group */
    expect(t.own_group, t.w, PROC_PEER_WORKER, t.w);   /* by session */
    expect(t.own_session, t.w, PROC_PEER_WORKER, t.w); /* by ancestry */
    stop_tree(&t);
}

static void
test_left_behind_is_an_orphan(void)
{
    tu_subreaper();
    struct tree t = start_tree();
    /* The worker run ends; its helpers are reparented to the "node". */
    kill(t.w, SIGKILL);
    NT_TRUE(tu_wait_gone(t.w, 10000));
    int ppid = 0;
    naos_time end = naos_clock_now() + 10000;
    while (tu_proc_state(t.own_session, &ppid) && ppid != getpid()) {
        NT_TRUE(naos_clock_now() < end);
        tu_sleep_ms(5);
    }
    /* The node no longer knows the worker. */
    expect(t.own_session, 0, PROC_PEER_ORPHAN, 0);
    expect(t.same_group, 0, PROC_PEER_ORPHAN, 0);
    stop_tree(&t);
}

static void
test_others_and_gone(void)
{
    int none = 0;
    /* The node itself, and its own parent (an unrelated process). */
    expect(getpid(), none, PROC_PEER_OTHER, 0);
    expect(getppid(), none, PROC_PEER_OTHER, 0);
    expect(0, none, PROC_PEER_GONE, 0);
    expect(-5, none, PROC_PEER_GONE, 0);
    pid_t c = fork();
    if (c == 0)
        _exit(0);
    NT_TRUE(c > 0);
    NT_EQ_INT(waitpid(c, NULL, 0), c);
    expect(c, none, PROC_PEER_GONE, 0);
    /* A child of the node that is no known worker (escaped, or started
     * by the node for another purpose) is not the operator either. */
    pid_t d = fork();
    if (d == 0) {
        setsid();
        pause();
        _exit(0);
    }
    tu_track(d);
    expect(d, none, PROC_PEER_ORPHAN, 0);
    int dk = d;
    expect(d, dk, PROC_PEER_WORKER, d);
    kill(d, SIGKILL);
    waitpid(d, NULL, 0);
    tu_untrack(d);
}

/* An ancestor that exits during the walk proves nothing: the walk goes
 * again (its children now have their new parents), and when that fails
 * too the caller is "gone" (refused), never "other", which the operator's
 * socket took for the operator (found by review). */
static void
test_vanished_ancestor_is_never_other(void)
{
    tu_subreaper();
    struct tree t = start_tree();
    /* own_session's walk reads its parent, the worker, at depth 1 */
    proc__peer_fail_ancestor_reads = 1;
    expect(t.own_session, t.w, PROC_PEER_WORKER, t.w);
    proc__peer_fail_ancestor_reads = 2;
    expect(t.own_session, t.w, PROC_PEER_GONE, 0);
    proc__peer_fail_ancestor_reads = 0;
    expect(t.own_session, t.w, PROC_PEER_WORKER, t.w);
    stop_tree(&t);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_worker_and_its_helpers),
        NT_CASE(test_left_behind_is_an_orphan),
        NT_CASE(test_others_and_gone),
        NT_CASE(test_vanished_ancestor_is_never_other),
        {0},
    };
    return nt_run(cases);
}
