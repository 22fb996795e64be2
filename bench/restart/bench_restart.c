/* SPDX-License-Identifier: Apache-2.0 */
/* bench_restart: how fast naos restarts a child that exits at once, beside
 * the raw fork+exec+wait floor measured in the same run, and how much node
 * memory each sleeping child costs.
 *
 *   bench_restart NAOS_NODE_BIN EXIT0_BIN [CYCLES] [CHILDREN...]
 *
 * Figures:
 *   floor     fork+execve+waitpid of EXIT0_BIN, one after another
 *   naos      a permanent worker running EXIT0_BIN under a one-for-one
 *             supervisor: start-to-start cycle (spawn, child runs, exit seen,
 *             decision, spawn) from the node's own event timestamps, and the
 *             node-internal exit-to-restart latency. The loop is watched
 *             through its status while it runs, and its events are read
 *             once it is stopped (CYCLES at most 4,000).
 *   memory    node VmRSS growth per child with N `sleep` workers in a
 *             simple-one-for-one pool. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_node.h"
#include "cli/client.h"
#include "node/base/time.h"
#include "node/spec/spec.h"
#include "proto/naos.pb-c.h"

static struct bench_node node;

static void
measure_floor(const char *exe, size_t n, uint64_t *cycle)
{
    char *argv[] = {(char *)exe, NULL};
    extern char **environ;
    for (size_t i = 0; i < n; i++) {
        uint64_t t0 = naos_clock_now_us();
        pid_t p = fork();
        if (p == 0) {
            execve(exe, argv, environ);
            _exit(127);
        }
        int st;
        waitpid(p, &st, 0);
        cycle[i] = naos_clock_now_us() - t0;
    }
}

/* restarts_of: the restart count of deployment name's first child, from
 * its status (-1 when it cannot be read). A status costs the node a
 * snapshot at most; an events read of events not yet in the store would
 * make it commit them, synced, at once (so that numbers a reader saw
 * survive a crash): polled while the loop runs, that commit, not the
 * restart, was what the p99 measured. */
static long
restarts_of(const char *name)
{
    Naos__V1__NodeStatus *top;
    Naos__V1__Reply *rep = bench_status(&node, name, &top);
    long r = top != NULL && top->n_children > 0
                 ? (long)top->children[0]->restarts
                 : -1;
    naos_client_reply_free(rep);
    return r;
}

/* Lets the crash loop run n cycles, watching only its status, stops it,
 * then reads the start/exit timestamps of its events (the node keeps the
 * last NODE_EVENTS_KEPT, 10,000). */
static size_t
collect_cycles(size_t n, uint64_t *starts, uint64_t *exits, size_t *nexits)
{
    uint64_t deadline = naos_clock_now_us() + 120 * 1000000ull;
    while (restarts_of("crashloop") < (long)n + 1 &&
           naos_clock_now_us() < deadline)
        usleep(50000);
    bench_name_cmd(&node, NAOS__V1__REQUEST__REQ_STOP, "crashloop");
    uint64_t since = 0;
    size_t ns = 0;
    *nexits = 0;
    while (ns < n) {
        Naos__V1__EventsRequest er = NAOS__V1__EVENTS_REQUEST__INIT;
        er.since = since;
        Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
        req.req_case = NAOS__V1__REQUEST__REQ_EVENTS;
        req.events = &er;
        Naos__V1__Reply *rep = bench_call(&node, &req, false);
        if (rep == NULL)
            break;
        if (rep->events->dropped)
            fprintf(stderr, "bench: %llu events dropped (fewer cycles)\n",
                    (unsigned long long)rep->events->dropped);
        size_t got = rep->events->n_events;
        for (size_t i = 0; i < got; i++) {
            Naos__V1__Event *e = rep->events->events[i];
            if (strcmp(e->kind, "start") == 0 && ns < n)
                starts[ns++] = e->at_mono_us;
            else if (strcmp(e->kind, "exit") == 0 && *nexits < n)
                exits[(*nexits)++] = e->at_mono_us;
        }
        since = rep->events->next;
        naos_client_reply_free(rep);
        if (got == 0)
            break; /* all read */
    }
    return ns;
}

static long
node_rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)node.pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static int
measure_memory(size_t children)
{
    char name[32];
    snprintf(name, sizeof name, "mem%zu", children);
    long before = node_rss_kib();
    char *argv[] = {"sleep", "3600", NULL};
    uint64_t t0 = naos_clock_now_us();
    if (bench_deploy(&node, name, NAOS__V1__STRATEGY__SIMPLE_ONE_FOR_ONE, 1,
                     5, (uint32_t)children, argv, 2,
                     NAOS__V1__OUTPUT_MODE__OUTPUT_LOG) != 0)
        return -1;
    while (bench_running(&node, name) < children) {
        if (naos_clock_now_us() - t0 > 300 * 1000000ull) {
            fprintf(stderr, "bench: %zu children did not all start\n", children);
            return -1;
        }
        usleep(100000);
    }
    double secs = (double)(naos_clock_now_us() - t0) / 1e6;
    long after = node_rss_kib();
    printf("memory  %6zu sleeping children: node RSS %ld KiB -> %ld KiB, "
           "%.0f B per child (target <= 2048 B: %s); all started in %.1f s\n",
           children, before, after,
           (double)(after - before) * 1024.0 / (double)children,
           (after - before) * 1024.0 / (double)children <= 2048 ? "met" : "NOT met",
           secs);
    bench_name_cmd(&node, NAOS__V1__REQUEST__REQ_REMOVE, name);
    while (bench_running(&node, name) > 0)
        usleep(100000);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_restart NAOS_NODE_BIN EXIT0_BIN [CYCLES] "
                "[CHILDREN...]\n");
        return 100;
    }
    size_t n = argc > 3 ? strtoul(argv[3], NULL, 10) : 3000;
    if (n < 10)
        n = 10;
    if (n > 4000) { /* two events a cycle: the node keeps 10,000 */
        fprintf(stderr, "bench_restart: at most 4000 cycles\n");
        return 100;
    }
    uint64_t *floor_c = calloc(n, sizeof *floor_c);
    uint64_t *starts = calloc(n, sizeof *starts);
    uint64_t *exits = calloc(n, sizeof *exits);
    uint64_t *cycle = calloc(n, sizeof *cycle);
    uint64_t *lat = calloc(n, sizeof *lat);

    uint64_t t0 = naos_clock_now_us();
    measure_floor(argv[2], n, floor_c);
    double floor_rate = (double)n * 1e6 / (double)(naos_clock_now_us() - t0);

    if (bench_node_start(&node, argv[1], false) != 0) {
        bench_node_stop(&node);
        return 111;
    }
    char *wargv[] = {argv[2], NULL};
    /* Never gives up: the most restarts a spec may allow, in 1 s. */
    if (bench_deploy(&node, "crashloop", NAOS__V1__STRATEGY__ONE_FOR_ONE,
                     SPEC_LIMIT_MAX_RESTARTS, 1, 0, wargv, 1,
                     NAOS__V1__OUTPUT_MODE__OUTPUT_LOG) != 0) {
        bench_node_stop(&node);
        return 111;
    }
    size_t nexits = 0;
    size_t ns = collect_cycles(n, starts, exits, &nexits);
    if (ns < n) {
        fprintf(stderr, "bench: only %zu restarts seen\n", ns);
        bench_node_stop(&node);
        return 111;
    }
    /* start[i] -> start[i+1] is one full cycle; exit[i] -> start[i+1] is
     * the node's reaction to the crash. */
    size_t nc = ns - 1, nl = 0;
    for (size_t i = 0; i < nc; i++)
        cycle[i] = starts[i + 1] - starts[i];
    for (size_t i = 0; i < nexits && i + 1 < ns; i++)
        if (starts[i + 1] >= exits[i])
            lat[nl++] = starts[i + 1] - exits[i];
    double naos_rate = (double)nc * 1e6 / (double)(starts[ns - 1] - starts[0]);
    uint64_t f50 = bench_pct(floor_c, n, 0.50), f99 = bench_pct(floor_c, n, 0.99);
    uint64_t c50 = bench_pct(cycle, nc, 0.50), c99 = bench_pct(cycle, nc, 0.99);
    printf("restart %zu cycles of a child that exits at once\n", n);
    printf("  floor fork+exec+wait   p50 %6llu us  p99 %6llu us  %7.0f/s\n",
           (unsigned long long)f50, (unsigned long long)f99, floor_rate);
    printf("  naos crash->restart    p50 %6llu us  p99 %6llu us  %7.0f/s\n",
           (unsigned long long)c50, (unsigned long long)c99, naos_rate);
    printf("  ratio naos/floor       p50 %.2fx  p99 %.2fx  rate %.2fx "
           "(target p50 <= 1.5x: %s)\n",
           (double)c50 / (double)f50, (double)c99 / (double)f99,
           floor_rate / naos_rate,
           (double)c50 / (double)f50 <= 1.5 ? "met" : "NOT met");
    if (nl)
        printf("  node exit-seen->respawned  p50 %llu us  p99 %llu us\n",
               (unsigned long long)bench_pct(lat, nl, 0.50),
               (unsigned long long)bench_pct(lat, nl, 0.99));

    int rc = 0;
    for (int i = 4; i < argc; i++)
        if (measure_memory(strtoul(argv[i], NULL, 10)) != 0)
            rc = 111;
    bench_node_stop(&node);
    return rc;
}
