/* SPDX-License-Identifier: Apache-2.0 */
/* store_crash_test.c: kill -9 a writer at random moments, many times, and
 * check after each kill that the store opens cleanly and holds every
 * record the writer acknowledged (issue #3, RAFT-LITE §6.4 item 4).
 *
 * The writer (a forked child, which opens the store itself) writes record
 * k = next, next+1, ... one synced commit each, and writes k to a pipe
 * after store_* returned NAOS_OK: that is the acknowledgement. Record k is
 * fully determined by k, so the parent knows what every acked record must
 * look like:
 *   k % 3 == 0  raft log entry at index k/3 + 1, term 1 + k/900,
 *               data "k=<k>"
 *   k % 3 == 1  deployment "d<(k/3)%16>", generation k
 *   k % 3 == 2  checkpoint "agent/<(k/3)%8>", saved_at_ms k, data
 *               pattern(k) of a k-dependent length (0..~200 KB)
 * Commits are sequential, so the store holds a prefix 0..C of records with
 * A <= C <= A+1, where A is the last acknowledged k. The writer resumes
 * from what it finds in the store. This is a process crash: the page cache
 * survives, so it proves commit atomicity and ordering, not power-loss
 * durability (that is the simulator's job, RAFT-LITE §5).
 *
 * NAOS_SEED=N replays a run (the seed is printed); NAOS_CRASH_ROUNDS=N
 * changes the number of random rounds (default 60). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>

#include "node/base/err.h"
#include "node/base/time.h"
#include "store/raftlog.h"
#include "store/state.h"
#include "store/store_testutil.h"

#define ROUNDS 60
#define NDEPLOY 16
#define NCKPT 8

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
    /* xorshift64*: seeded, printed, replayable. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static void
rng_seed(void)
{
    const char *env = getenv("NAOS_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 0)
                        : (uint64_t)naos_clock_now_us() ^ (uint64_t)getpid();
    if (seed == 0)
        seed = 1;
    printf("  seed %llu (NAOS_SEED=%llu to replay)\n",
           (unsigned long long)seed, (unsigned long long)seed);
    fflush(stdout);
    rng_state = seed;
}

static size_t
ckpt_len(int64_t k)
{
    uint64_t h = (uint64_t)k * 0x9e3779b97f4a7c15ull;
    /* Mostly small, one in eight around 100-200 KB (overflow pages). */
    return (h >> 61) == 0 ? 100000 + (size_t)((h >> 20) % 100000)
                          : (size_t)((h >> 20) % 3000);
}

static unsigned char
pattern(int64_t k, size_t i)
{
    return (unsigned char)((uint64_t)k * 131 + i * 7);
}

/* ---- the writer --------------------------------------------------------- */

static int64_t
resume_point(struct store *s)
{
    int64_t max = -1;
    uint64_t last = 0;
    if (store_log_bounds(s, NULL, &last) != NAOS_OK)
        _exit(3);
    if (last > 0)
        max = (int64_t)(last - 1) * 3;
    Naos__V1__DeploymentRecord **d;
    size_t n;
    if (store_deploy_list(s, &d, &n) != NAOS_OK)
        _exit(3);
    for (size_t i = 0; i < n; i++)
        if ((int64_t)d[i]->generation > max)
            max = (int64_t)d[i]->generation;
    store_deploy_list_free(d, n);
    Naos__V1__CheckpointRecord **c;
    if (store_ckpt_list(s, &c, &n) != NAOS_OK)
        _exit(3);
    for (size_t i = 0; i < n; i++)
        if (c[i]->saved_at_ms > max)
            max = c[i]->saved_at_ms;
    store_ckpt_list_free(c, n);
    return max + 1;
}

static int
write_record(struct store *s, int64_t k, unsigned char *buf)
{
    char name[64];
    switch (k % 3) {
    case 0: {
        char data[32];
        int len = snprintf(data, sizeof data, "k=%lld", (long long)k);
        struct store_log_entry e = {(uint64_t)k / 3 + 1,
                                    1 + (uint64_t)k / 900, data,
                                    (size_t)len, 0};
        return store_log_append(s, &e, 1);
    }
    case 1: {
        snprintf(name, sizeof name, "d%lld", (long long)((k / 3) % NDEPLOY));
        Naos__V1__DeploymentRecord r = NAOS__V1__DEPLOYMENT_RECORD__INIT;
        r.name = name;
        r.generation = (uint64_t)k;
        r.desired = NAOS__V1__DESIRED_STATE__DESIRED_RUNNING;
        r.updated_at_ms = k;
        return store_deploy_put(s, &r);
    }
    default: {
        snprintf(name, sizeof name, "agent/%lld",
                 (long long)((k / 3) % NCKPT));
        size_t len = ckpt_len(k);
        for (size_t i = 0; i < len; i++)
            buf[i] = pattern(k, i);
        return store_ckpt_save(s, name, buf, len, k, NULL);
    }
    }
}

/* writer runs in the child: never returns. With growfd >= 0 it arms
 * store_fault_pause_in_grow after arm_after records (0: before opening). */
static void
writer(const char *dir, const struct store_options *o, int ackfd,
       int growfd, int64_t arm_after, int64_t max_records)
{
    struct store *s = NULL;
    char err[512];
    if (growfd >= 0 && arm_after == 0)
        store_fault_pause_in_grow(growfd);
    int rc = store_open(&s, dir, o, err, sizeof err);
    if (rc != NAOS_OK) {
        fprintf(stderr, "writer: %s\n", err);
        _exit(2);
    }
    static unsigned char buf[STORE_CKPT_MAX];
    int64_t k = resume_point(s);
    for (int64_t i = 0; i < max_records; i++, k++) {
        if (growfd >= 0 && arm_after > 0 && i == arm_after)
            store_fault_pause_in_grow(growfd);
        rc = write_record(s, k, buf);
        if (rc != NAOS_OK) {
            fprintf(stderr, "writer: record %lld: %s\n", (long long)k,
                    store_errmsg(s));
            _exit(4);
        }
        if (write(ackfd, &k, sizeof k) != (ssize_t)sizeof k)
            _exit(5);
    }
    store_close(s);
    _exit(0);
}

/* ---- the checker -------------------------------------------------------- */

/* check verifies the store in dir against the last acked record acked
 * (-1: none) and returns the highest record found committed. */
static int64_t
check(const char *dir, const struct store_options *o, int64_t acked)
{
    struct store *s = st_open(dir, o);
    int64_t top = -1;
    uint64_t first = 0, last = 0;
    ST_OK(s, store_log_bounds(s, &first, &last));
    if (last > 0) {
        NT_EQ_INT(first, 1);
        struct store_log_entry *e;
        size_t n;
        ST_OK(s, store_log_read(s, 1, last, 0, &e, &n));
        NT_EQ_INT(n, last); /* contiguous: every index 1..last */
        for (size_t i = 0; i < n; i++) {
            int64_t k = (int64_t)i * 3;
            char want[32];
            int len = snprintf(want, sizeof want, "k=%lld", (long long)k);
            NT_EQ_INT(e[i].index, i + 1);
            NT_EQ_INT(e[i].term, 1 + k / 900);
            NT_EQ_INT(e[i].len, len);
            NT_TRUE(memcmp(e[i].data, want, (size_t)len) == 0);
        }
        store_log_entries_free(e, n);
        top = (int64_t)(last - 1) * 3;
    }
    /* Every acked log record is there. */
    if (acked >= 0)
        NT_TRUE((int64_t)last >= acked / 3 + 1);

    for (int j = 0; j < NDEPLOY; j++) {
        /* newest acked k with k%3 == 1 and (k/3)%16 == j */
        int64_t want = -1;
        for (int64_t k = acked; k >= 0 && k > acked - 3 * NDEPLOY - 3; k--)
            if (k % 3 == 1 && (k / 3) % NDEPLOY == j) {
                want = k;
                break;
            }
        char name[16];
        snprintf(name, sizeof name, "d%d", j);
        Naos__V1__DeploymentRecord *r = NULL;
        int rc = store_deploy_get(s, name, &r);
        if (want >= 0 && rc != NAOS_OK)
            NT_FAIL("acked deployment %s (k=%lld) missing: %s", name,
                    (long long)want, store_errmsg(s));
        if (rc == NAOS_OK) {
            int64_t g = (int64_t)r->generation;
            NT_TRUE(g >= want);
            NT_EQ_INT(g % 3, 1);
            NT_EQ_INT((g / 3) % NDEPLOY, j);
            NT_EQ_INT(r->updated_at_ms, g);
            if (g > top)
                top = g;
            store_deploy_free(r);
        }
    }
    for (int j = 0; j < NCKPT; j++) {
        int64_t want = -1;
        for (int64_t k = acked; k >= 0 && k > acked - 3 * NCKPT - 3; k--)
            if (k % 3 == 2 && (k / 3) % NCKPT == j) {
                want = k;
                break;
            }
        char path[32];
        snprintf(path, sizeof path, "agent/%d", j);
        Naos__V1__CheckpointRecord *r = NULL;
        int rc = store_ckpt_get(s, path, &r);
        if (want >= 0 && rc != NAOS_OK)
            NT_FAIL("acked checkpoint %s (k=%lld) missing: %s", path,
                    (long long)want, store_errmsg(s));
        if (rc == NAOS_OK) {
            int64_t k = r->saved_at_ms;
            NT_TRUE(k >= want);
            NT_EQ_INT(k % 3, 2);
            NT_EQ_INT(r->data.len, ckpt_len(k));
            NT_EQ_INT(r->size, r->data.len);
            for (size_t i = 0; i < r->data.len; i++)
                if (r->data.data[i] != pattern(k, i))
                    NT_FAIL("checkpoint %s byte %zu corrupt", path, i);
            if (k > top)
                top = k;
            store_ckpt_free(r);
        }
    }
    /* At most one committed record was not yet acknowledged. */
    NT_TRUE(top >= acked);
    NT_TRUE(top <= acked + 1);
    store_close(s);
    return top;
}

/* ---- rounds -------------------------------------------------------------*/

struct round {
    int64_t acked; /* last acked k over all rounds so far, -1 = none */
    int acks;      /* acks read in this round */
};

static void
drain(int fd, struct round *r, bool block)
{
    int64_t k;
    for (;;) {
        if (!block) {
            struct pollfd p = {fd, POLLIN, 0};
            if (poll(&p, 1, 0) <= 0)
                return;
        }
        ssize_t n = read(fd, &k, sizeof k);
        if (n == 0)
            return;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            NT_FAIL("read acks: %s", strerror(errno));
        }
        NT_EQ_INT(n, sizeof k);
        NT_EQ_INT(k, r->acked + 1); /* acks are in order, none skipped */
        r->acked = k;
        r->acks++;
    }
}

/* run_round_acks forks a writer on dir, kills it -9 once delay_us have
 * passed and at least min_acks acks were read (min_acks waits at most 60 s:
 * on a loaded machine the writer may need longer than the random delay to
 * open the store), reaps it, and checks the store. */
static void
run_round_acks(const char *dir, const struct store_options *o,
               struct round *r, uint64_t delay_us, int min_acks)
{
    int p[2];
    NT_EQ_INT(pipe(p), 0);
    fflush(NULL);
    pid_t pid = fork();
    NT_TRUE(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        writer(dir, o, p[1], -1, 0, 1000000);
    }
    close(p[1]);
    r->acks = 0;
    uint64_t start = naos_clock_now_us();
    uint64_t end = start + delay_us;
    for (;;) {
        uint64_t now = naos_clock_now_us();
        if (now >= end && r->acks >= min_acks)
            break;
        if (now >= start + 60000000u)
            NT_FAIL("the writer acknowledged %d of %d records in 60 s",
                    r->acks, min_acks);
        if (now >= end)
            end = now + 1000; /* keep reading acks until min_acks */
        struct pollfd pf = {p[0], POLLIN, 0};
        int ms = (int)((end - now + 999) / 1000);
        if (poll(&pf, 1, ms) > 0)
            drain(p[0], r, false);
    }
    NT_EQ_INT(kill(pid, SIGKILL), 0); /* by pid, never by name */
    int st = 0;
    NT_EQ_INT(waitpid(pid, &st, 0), pid);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
        NT_FAIL("writer ended on its own (status 0x%x) before the kill", st);
    drain(p[0], r, true); /* the rest, up to EOF */
    close(p[0]);
    int64_t top = check(dir, o, r->acked);
    /* The unacked commit, if any, becomes the base of the next round. */
    r->acked = top;
}

static void
run_round(const char *dir, const struct store_options *o, struct round *r,
          uint64_t delay_us)
{
    run_round_acks(dir, o, r, delay_us, 0);
}

static void
test_kill9_random(void)
{
    rng_seed();
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct round r = {-1, 0};
    int total = 0;
    const char *env = getenv("NAOS_CRASH_ROUNDS");
    int rounds = env ? atoi(env) : ROUNDS;
    for (int i = 0; i < rounds; i++) {
        uint64_t delay = rng_next() % 50001; /* 0-50 ms */
        run_round(dir, NULL, &r, delay);
        total += r.acks;
    }
    /* Random delays may all fall before the first commit on a loaded
     * machine; one last round is killed only after acknowledgements, so
     * the test always checks that acknowledged records survive. */
    run_round_acks(dir, NULL, &r, 0, 5);
    total += r.acks;
    printf("  %d rounds, %d acknowledged records, %lld records in store\n",
           rounds, total, (long long)r.acked + 1);
    NT_TRUE(total > 0);
    st_rmdir(dir);
}

static void
test_kill9_random_tiny_map(void)
{
    /* Fresh stores with a 64 KiB map: the first writes grow it again and
     * again, so many kills land around a growth. */
    rng_seed();
    struct store_options o = {.map_size = 64 << 10};
    int total = 0;
    for (int i = 0; i < 10; i++) {
        char dir[256];
        st_tmpdir(dir, sizeof dir);
        struct round r = {-1, 0};
        run_round(dir, &o, &r, rng_next() % 20001);
        total += r.acks;
        st_rmdir(dir);
    }
    printf("  10 tiny-map rounds, %d acknowledged records\n", total);
}

static void
test_kill9_inside_growth(void)
{
    /* Deterministic: the writer stops inside a map growth (transaction
     * aborted, map resized, write not yet rerun) and is killed there. */
    char dir[256];
    st_tmpdir(dir, sizeof dir);
    struct store_options o = {.map_size = 64 << 10};
    struct round r = {-1, 0};
    for (int i = 0; i < 3; i++) {
        int ack[2], grow[2];
        NT_EQ_INT(pipe(ack), 0);
        NT_EQ_INT(pipe(grow), 0);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            close(ack[0]);
            close(grow[0]);
            writer(dir, &o, ack[1], grow[1], i * 40, 1000000);
        }
        close(ack[1]);
        close(grow[1]);
        /* Keep reading acks until the writer reports it is in growth. */
        char g = 0;
        for (;;) {
            struct pollfd pf[2] = {{ack[0], POLLIN, 0}, {grow[0], POLLIN, 0}};
            NT_TRUE(poll(pf, 2, 10000) > 0);
            if (pf[1].revents & POLLIN) {
                NT_EQ_INT(read(grow[0], &g, 1), 1);
                break;
            }
            if (pf[0].revents & (POLLIN | POLLHUP))
                drain(ack[0], &r, false);
            if (pf[1].revents & POLLHUP)
                NT_FAIL("writer exited without growing the map");
        }
        NT_EQ_INT(g, 'G');
        NT_EQ_INT(kill(pid, SIGKILL), 0);
        int st = 0;
        NT_EQ_INT(waitpid(pid, &st, 0), pid);
        NT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        drain(ack[0], &r, true);
        close(ack[0]);
        close(grow[0]);
        r.acked = check(dir, &o, r.acked);
        printf("  killed inside growth %d after record %lld\n", i + 1,
               (long long)r.acked);
    }
    /* And the store goes on growing and writing after all that. */
    rng_seed();
    run_round(dir, &o, &r, 20000);
    st_rmdir(dir);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_kill9_random),
        NT_CASE(test_kill9_random_tiny_map),
        NT_CASE(test_kill9_inside_growth),
        {0},
    };
    return nt_run(cases);
}
