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
 *             node-internal exit-to-restart latency.
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

#include "cli/client.h"
#include "node/base/time.h"
#include "proto/naos.pb-c.h"

static char url[512];
static char tmpdir[] = "/tmp/naos-bench-XXXXXX";
static pid_t node_pid;

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t
pct(uint64_t *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_u64);
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return v[i];
}

static Naos__V1__Reply *
call_quiet(Naos__V1__Request *req, int quiet)
{
    Naos__V1__Reply *rep = NULL;
    char err[256];
    if (naos_client_call(url, req, &rep, 30000, err, sizeof err) != 0) {
        fprintf(stderr, "bench: %s\n", err);
        return NULL;
    }
    if (rep->code != 0) {
        if (!quiet)
            fprintf(stderr, "bench: node said: %s\n", rep->error);
        naos_client_reply_free(rep);
        return NULL;
    }
    return rep;
}

static Naos__V1__Reply *
call(Naos__V1__Request *req)
{
    return call_quiet(req, 0);
}

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

static int
start_node(const char *node_bin)
{
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    char run[300], data[300];
    snprintf(run, sizeof run, "%s/run", tmpdir);
    snprintf(data, sizeof data, "%s/data", tmpdir);
    snprintf(url, sizeof url, "ipc://%s/ctl.sock", run);
    node_pid = fork();
    if (node_pid == 0) {
        execl(node_bin, node_bin, "start", "--run", run, "--data", data,
              "--log-level", "error", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
        Naos__V1__NameRequest ping = NAOS__V1__NAME_REQUEST__INIT;
        req.req_case = NAOS__V1__REQUEST__REQ_PING;
        req.ping = &ping;
        Naos__V1__Reply *rep = NULL;
        char err[256];
        if (naos_client_call(url, &req, &rep, 1000, err, sizeof err) == 0) {
            naos_client_reply_free(rep);
            return 0;
        }
        usleep(20000);
    }
    return -1;
}

static void
stop_node(void)
{
    if (node_pid > 0) {
        kill(node_pid, SIGTERM);
        int st;
        waitpid(node_pid, &st, 0);
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", tmpdir);
}

static int
deploy(const char *name, Naos__V1__Strategy strategy, uint32_t max_restarts,
       uint32_t window_s, uint32_t replicas, char **argv, size_t argc)
{
    Naos__V1__NodeSpec top = NAOS__V1__NODE_SPEC__INIT, w = NAOS__V1__NODE_SPEC__INIT;
    Naos__V1__NodeSpec *kids[] = {&w};
    top.id = (char *)name;
    top.is_supervisor = 1;
    top.shutdown_ms = -2;
    top.strategy = strategy;
    top.max_restarts = max_restarts;
    top.window_s = window_s;
    top.replicas = replicas;
    top.children = kids;
    top.n_children = 1;
    w.id = (char *)"w";
    w.argv = argv;
    w.n_argv = argc;
    w.shutdown_ms = 5000;
    w.start_timeout_ms = 30000;
    Naos__V1__DeployRequest d = NAOS__V1__DEPLOY_REQUEST__INIT;
    d.spec = &top;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_DEPLOY;
    req.deploy = &d;
    Naos__V1__Reply *rep = call(&req);
    if (rep == NULL)
        return -1;
    naos_client_reply_free(rep);
    return 0;
}

static int
name_cmd(Naos__V1__Request__ReqCase which, const char *name)
{
    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    nr.name = (char *)name;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = which;
    req.stop = &nr; /* all NameRequest members share the union */
    Naos__V1__Reply *rep = call(&req);
    if (rep == NULL)
        return -1;
    naos_client_reply_free(rep);
    return 0;
}

/* Collects start/exit timestamps of the crash loop until n cycles. */
static size_t
collect_cycles(size_t n, uint64_t *starts, uint64_t *exits, size_t *nexits)
{
    uint64_t since = 0;
    size_t ns = 0;
    *nexits = 0;
    uint64_t deadline = naos_clock_now_us() + 120 * 1000000ull;
    while (ns < n && naos_clock_now_us() < deadline) {
        Naos__V1__EventsRequest er = NAOS__V1__EVENTS_REQUEST__INIT;
        er.since = since;
        Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
        req.req_case = NAOS__V1__REQUEST__REQ_EVENTS;
        req.events = &er;
        Naos__V1__Reply *rep = call(&req);
        if (rep == NULL)
            break;
        if (rep->events->dropped)
            fprintf(stderr, "bench: %llu events dropped (poll faster)\n",
                    (unsigned long long)rep->events->dropped);
        for (size_t i = 0; i < rep->events->n_events; i++) {
            Naos__V1__Event *e = rep->events->events[i];
            if (strcmp(e->kind, "start") == 0 && ns < n)
                starts[ns++] = e->at_mono_us;
            else if (strcmp(e->kind, "exit") == 0 && *nexits < n)
                exits[(*nexits)++] = e->at_mono_us;
        }
        since = rep->events->next;
        naos_client_reply_free(rep);
        usleep(20000);
    }
    return ns;
}

static long
node_rss_kib(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)node_pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* Workers of deployment name in state running (0 once it is gone). */
static size_t
running_workers(const char *name)
{
    Naos__V1__StatusRequest sr = NAOS__V1__STATUS_REQUEST__INIT;
    sr.name = (char *)name;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_STATUS;
    req.status = &sr;
    Naos__V1__Reply *rep = call_quiet(&req, 1);
    size_t n = 0;
    if (rep && rep->status->n_deployments == 1) {
        Naos__V1__NodeStatus *top = rep->status->deployments[0]->tree;
        for (size_t i = 0; i < top->n_children; i++)
            n += strcmp(top->children[i]->state, "running") == 0;
    }
    naos_client_reply_free(rep);
    return n;
}

static int
measure_memory(size_t children)
{
    char name[32];
    snprintf(name, sizeof name, "mem%zu", children);
    long before = node_rss_kib();
    char *argv[] = {"sleep", "3600", NULL};
    uint64_t t0 = naos_clock_now_us();
    if (deploy(name, NAOS__V1__STRATEGY__SIMPLE_ONE_FOR_ONE, 1, 5,
               (uint32_t)children, argv, 2) != 0)
        return -1;
    while (running_workers(name) < children) {
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
    name_cmd(NAOS__V1__REQUEST__REQ_REMOVE, name);
    while (running_workers(name) > 0)
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
    uint64_t *floor_c = calloc(n, sizeof *floor_c);
    uint64_t *starts = calloc(n, sizeof *starts);
    uint64_t *exits = calloc(n, sizeof *exits);
    uint64_t *cycle = calloc(n, sizeof *cycle);
    uint64_t *lat = calloc(n, sizeof *lat);

    uint64_t t0 = naos_clock_now_us();
    measure_floor(argv[2], n, floor_c);
    double floor_rate = (double)n * 1e6 / (double)(naos_clock_now_us() - t0);

    if (start_node(argv[1]) != 0) {
        fprintf(stderr, "bench: naos-node did not start\n");
        stop_node();
        return 111;
    }
    char *wargv[] = {argv[2], NULL};
    if (deploy("crashloop", NAOS__V1__STRATEGY__ONE_FOR_ONE, 100000000, 1, 0,
               wargv, 1) != 0) {
        stop_node();
        return 111;
    }
    size_t nexits = 0;
    size_t ns = collect_cycles(n, starts, exits, &nexits);
    name_cmd(NAOS__V1__REQUEST__REQ_STOP, "crashloop");
    if (ns < n) {
        fprintf(stderr, "bench: only %zu restarts seen\n", ns);
        stop_node();
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
    uint64_t f50 = pct(floor_c, n, 0.50), f99 = pct(floor_c, n, 0.99);
    uint64_t c50 = pct(cycle, nc, 0.50), c99 = pct(cycle, nc, 0.99);
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
               (unsigned long long)pct(lat, nl, 0.50),
               (unsigned long long)pct(lat, nl, 0.99));

    int rc = 0;
    for (int i = 4; i < argc; i++)
        if (measure_memory(strtoul(argv[i], NULL, 10)) != 0)
            rc = 111;
    stop_node();
    return rc;
}
