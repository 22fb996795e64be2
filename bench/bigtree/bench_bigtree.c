/* SPDX-License-Identifier: Apache-2.0 */
/* bench_bigtree: what starting and stopping a big tree costs everything
 * else the node does (issue 9: target p99 <= 10 ms, no peer suspicion).
 *
 *   bench_bigtree NAOS_NODE_BIN [--peers NAOS_BIN] [N...]  (default 10000)
 *
 * For each N, on a fresh node: a thread pings the node's control socket
 * over one kept-open connection (one ping, then 1 ms, then the next),
 * while the main thread
 *   idle   waits 2 s: the anchor, measured in the same run;
 *   start  deploys a pool of N `sleep` workers with output discarded and
 *          waits until the node has N children;
 *   stop   removes it and waits until the node has none.
 * Printed per phase: pings, p50, p99 and max latency (ms), p99 against
 * the idle p99, the phase's length and the deploy / rm reply latency.
 * A node that starts the whole pool in one go shows one ping waiting for
 * all of it; one that works in slices shows the slice.
 *
 * --peers NAOS_BIN: the node is one of three cluster members (the two
 * others joined through it, lan profile, on loopback; NAOS_BIN makes the
 * cluster key); every 100 ms both peers are asked how they see it, and
 * the polls where it was not `alive` are counted (target: none).
 *
 * Each worker holds one node fd (its pidfd): RLIMIT_NOFILE (hard) bounds
 * N. Run it alone on the machine: it measures latency. */
#include <dirent.h>
#include <fcntl.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_node.h"
#include "cli/client.h"
#include "node/base/time.h"
#include "proto/naos.pb-c.h"

enum { PH_IDLE, PH_START, PH_STOP, PH_OTHER, PH__N };
static const char *const phase_name[PH__N] = {"idle", "start", "stop", ""};

#define MAX_SAMPLES (1u << 20)

static struct {
    uint64_t *lat[PH__N];
    size_t n[PH__N];
    atomic_int phase;
    atomic_bool stop;
    const char *url;
} P;

static struct {
    struct bench_node peer[2];
    size_t polls[PH__N], not_alive[PH__N];
    char name[32]; /* the measured node's name */
} C;
static bool with_peers;
static const char *cli_bin; /* naos, for keygen (--peers) */

static void *
pinger(void *arg)
{
    (void)arg;
    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_PING;
    req.ping = &nr;
    uint8_t msg[64];
    size_t len = naos__v1__request__pack(&req, msg);
    nng_socket s;
    if (nng_req0_open(&s) != 0)
        return NULL;
    nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 120000);
    if (nng_dial(s, P.url, NULL, 0) != 0) {
        nng_close(s);
        return NULL;
    }
    size_t k = 0;
    while (!atomic_load(&P.stop)) {
        int ph = atomic_load(&P.phase);
        uint64_t t0 = naos_clock_now_us();
        void *rep;
        size_t rlen;
        if (nng_send(s, msg, len, 0) == 0 &&
            nng_recv(s, &rep, &rlen, NNG_FLAG_ALLOC) == 0)
            nng_free(rep, rlen);
        uint64_t d = naos_clock_now_us() - t0;
        /* A ping belongs to the phase it started in. */
        if (ph != PH_OTHER && P.n[ph] < MAX_SAMPLES)
            P.lat[ph][P.n[ph]++] = d;
        k++;
        usleep(1000);
    }
    nng_close(s);
    return NULL;
}

/* children counts pid's direct children (every thread's), zombies too. */
static long
children(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *de;
    static char buf[1 << 16];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        char rel[300];
        snprintf(rel, sizeof rel, "%s/children", de->d_name);
        int fd = openat(dirfd(d), rel, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0)
            for (ssize_t i = 0; i < r; i++)
                n += buf[i] == ' ';
        close(fd);
    }
    closedir(d);
    return n;
}

/* peers_poll asks both peers how they see the measured node. */
static void
peers_poll(int ph)
{
    for (int i = 0; i < 2; i++) {
        Naos__V1__NodesRequest nq = NAOS__V1__NODES_REQUEST__INIT;
        Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
        req.req_case = NAOS__V1__REQUEST__REQ_NODES;
        req.nodes = &nq;
        Naos__V1__Reply *rep = bench_call(&C.peer[i], &req, true);
        C.polls[ph]++;
        bool alive = false;
        if (rep && rep->nodes)
            for (size_t j = 0; j < rep->nodes->n_nodes; j++) {
                const Naos__V1__Member *m = rep->nodes->nodes[j];
                if (m->name && strcmp(m->name, C.name) == 0)
                    alive = m->state && strcmp(m->state, "alive") == 0;
            }
        if (!alive)
            C.not_alive[ph]++;
        naos_client_reply_free(rep);
    }
}

/* wait_children waits (polling peers meanwhile) until the node has want
 * children; false after 20 minutes. */
static bool
wait_children(pid_t pid, long want, int ph)
{
    uint64_t t0 = naos_clock_now_us(), last_poll = 0;
    for (;;) {
        long c = children(pid);
        if (c == want)
            return true;
        uint64_t now = naos_clock_now_us();
        if (now - t0 > 1200ull * 1000000)
            return false;
        if (with_peers && now - last_poll >= 100000) {
            last_poll = now;
            peers_poll(ph);
        }
        usleep(10000);
    }
}

static void
report(const char *what, int ph, double phase_s, double reply_ms)
{
    size_t n = P.n[ph];
    if (n == 0) {
        printf("  %-5s no pings\n", what);
        return;
    }
    double p50 = bench_pct(P.lat[ph], n, 0.50) / 1000.0;
    double p99 = bench_pct(P.lat[ph], n, 0.99) / 1000.0;
    double max = bench_pct(P.lat[ph], n, 1.0) / 1000.0;
    double idle99 = P.n[PH_IDLE]
                        ? bench_pct(P.lat[PH_IDLE], P.n[PH_IDLE], 0.99) / 1000.0
                        : 0;
    printf("  %-5s %6zu pings  p50 %7.2f  p99 %7.2f  max %8.2f ms", what, n,
           p50, p99, max);
    if (ph != PH_IDLE)
        printf("  p99/idle %6.1fx  phase %6.2f s  reply %7.1f ms",
               idle99 > 0 ? p99 / idle99 : 0.0, phase_s, reply_ms);
    if (with_peers)
        printf("  peers: %zu of %zu polls not alive", C.not_alive[ph],
               C.polls[ph]);
    printf("\n");
}

/* start_member starts a cluster member: like bench_node_start, with
 * membership; seed NULL founds the cluster. Its gossip address goes to
 * addr. */
static int
start_member(struct bench_node *b, const char *bin, const char *name,
             const char *key, const char *seed, char *addr, size_t addrlen)
{
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "/tmp/naos-bench-XXXXXX");
    if (mkdtemp(b->dir) == NULL) {
        b->dir[0] = '\0';
        return -1;
    }
    char data[128];
    snprintf(b->run, sizeof b->run, "%s/run", b->dir);
    snprintf(data, sizeof data, "%s/data", b->dir);
    snprintf(b->url, sizeof b->url, "ipc://%s/ctl.sock", b->run);
    b->pid = fork();
    if (b->pid == 0) {
        if (seed)
            execl(bin, bin, "start", "--run", b->run, "--data", data, "--name",
                  name, "--log-level", "error", "--http", "off", "--listen",
                  "tcp://127.0.0.1:0", "--profile", "lan", "--key", key,
                  "--seeds", seed, (char *)NULL);
        else
            execl(bin, bin, "start", "--run", b->run, "--data", data, "--name",
                  name, "--log-level", "error", "--http", "off", "--listen",
                  "tcp://127.0.0.1:0", "--profile", "lan", "--key", key,
                  (char *)NULL);
        _exit(127);
    }
    char path[160];
    snprintf(path, sizeof path, "%s/gossip.addr", b->run);
    for (int i = 0; i < 500; i++) {
        FILE *f = fopen(path, "r");
        if (f) {
            bool ok = fgets(addr, (int)addrlen, f) != NULL;
            fclose(f);
            if (ok) {
                addr[strcspn(addr, "\n")] = '\0';
                return 0;
            }
        }
        usleep(20000);
    }
    fprintf(stderr, "bench: member %s did not come up\n", name);
    return -1;
}

static int
run(const char *bin, size_t n)
{
    struct bench_node node;
    char key[128] = "", addr[256] = "";
    int rc = -1;
    memset(&C, 0, sizeof C);
    memset(&node, 0, sizeof node);
    if (with_peers) {
        snprintf(C.name, sizeof C.name, "measured");
        char cmd[512];
        snprintf(key, sizeof key, "/tmp/naos-bench-key-%d", (int)getpid());
        snprintf(cmd, sizeof cmd, "'%s' keygen '%s' >/dev/null", cli_bin,
                 key);
        if (system(cmd) != 0) {
            fprintf(stderr, "bench: naos keygen failed\n");
            return -1;
        }
        char paddr[256];
        if (start_member(&node, bin, C.name, key, NULL, addr, sizeof addr) ||
            start_member(&C.peer[0], bin, "peer1", key, addr, paddr,
                         sizeof paddr) ||
            start_member(&C.peer[1], bin, "peer2", key, addr, paddr,
                         sizeof paddr))
            goto out;
        /* Until both peers see it alive. */
        for (int i = 0; i < 500; i++) {
            size_t before = C.not_alive[PH_OTHER];
            peers_poll(PH_OTHER);
            if (C.not_alive[PH_OTHER] == before)
                break;
            usleep(20000);
        }
        C.polls[PH_OTHER] = C.not_alive[PH_OTHER] = 0;
    } else if (bench_node_start(&node, bin, false) != 0) {
        goto out;
    }
    P.url = node.url;
    for (int i = 0; i < PH__N; i++)
        P.n[i] = 0;
    atomic_store(&P.phase, PH_IDLE);
    atomic_store(&P.stop, false);
    pthread_t th;
    if (pthread_create(&th, NULL, pinger, NULL) != 0)
        goto out;
    uint64_t t0 = naos_clock_now_us();
    while (naos_clock_now_us() - t0 < 2000000) {
        if (with_peers)
            peers_poll(PH_IDLE);
        usleep(100000);
    }

    char *wargv[] = {"sleep", "100000", NULL};
    char name[32];
    snprintf(name, sizeof name, "big%zu", n);
    atomic_store(&P.phase, PH_START);
    t0 = naos_clock_now_us();
    int drc = bench_deploy(&node, name, NAOS__V1__STRATEGY__SIMPLE_ONE_FOR_ONE,
                           5, 60, (uint32_t)n, wargv, 2,
                           NAOS__V1__OUTPUT_MODE__OUTPUT_DISCARD);
    double deploy_ms = (naos_clock_now_us() - t0) / 1000.0;
    bool ok = drc == 0 && wait_children(node.pid, (long)n, PH_START);
    double start_s = (naos_clock_now_us() - t0) / 1e6;
    atomic_store(&P.phase, PH_OTHER);
    if (ok) {
        atomic_store(&P.phase, PH_STOP);
        t0 = naos_clock_now_us();
        int rrc = bench_name_cmd(&node, NAOS__V1__REQUEST__REQ_REMOVE, name);
        double rm_ms = (naos_clock_now_us() - t0) / 1000.0;
        ok = rrc == 0 && wait_children(node.pid, 0, PH_STOP);
        double stop_s = (naos_clock_now_us() - t0) / 1e6;
        atomic_store(&P.phase, PH_OTHER);
        atomic_store(&P.stop, true);
        pthread_join(th, NULL);
        printf("%zu workers%s\n", n, with_peers ? " (one of 3 members)" : "");
        report(phase_name[PH_IDLE], PH_IDLE, 2.0, 0);
        report(phase_name[PH_START], PH_START, start_s, deploy_ms);
        report(phase_name[PH_STOP], PH_STOP, stop_s, rm_ms);
        rc = ok ? 0 : -1;
    } else {
        atomic_store(&P.stop, true);
        pthread_join(th, NULL);
        fprintf(stderr, "bench: %zu workers did not all start\n", n);
    }
out:
    bench_node_stop(&node);
    if (with_peers) {
        bench_node_stop(&C.peer[0]);
        bench_node_stop(&C.peer[1]);
        unlink(key);
    }
    return rc;
}

int
main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fprintf(stderr, "usage: bench_bigtree NAOS_NODE_BIN [--peers "
                        "NAOS_BIN] [N...]   (default 10000)\n");
        return argc < 2 ? 100 : 0;
    }
    signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < PH__N; i++) {
        P.lat[i] = malloc(MAX_SAMPLES * sizeof *P.lat[i]);
        if (P.lat[i] == NULL)
            return 111;
    }
    int first = 2;
    if (argc > 3 && strcmp(argv[2], "--peers") == 0) {
        with_peers = true;
        cli_bin = argv[3];
        first = 4;
    }
    static const char *const defaults[] = {"10000"};
    const char *const *sizes = first < argc ? (const char *const *)&argv[first]
                                            : defaults;
    int nsizes = first < argc ? argc - first : 1;
    int rc = 0;
    for (int i = 0; i < nsizes; i++)
        if (run(argv[1], strtoul(sizes[i], NULL, 10)) != 0)
            rc = 111;
    return rc;
}
