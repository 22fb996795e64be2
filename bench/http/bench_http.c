/* SPDX-License-Identifier: Apache-2.0 */
/* bench_http: what the HTTP status API costs, beside anchors measured in
 * the same run, at N sleeping children (a simple-one-for-one pool).
 *
 *   bench_http NAOS_NODE_BIN [REQUESTS] [CHILDREN[:discard]...]
 *       (default 50 1000 9000 10000:discard)
 *
 * For each N:
 *   ctl     the status document through the control socket, as `naos
 *           status` gets it (NNG req/rep + protobuf): the anchor
 *   http    GET /api/v1/status over one kept-alive connection, body read
 *   floor   GET /nope over the same kind of connection: answered 404 on
 *           NNG's thread, the HTTP stack alone
 *   reactor the reactor's own latency seen by a control ping, idle and
 *           while a client polls /api/v1/status once a second (what the
 *           dashboard does) and back-to-back (worst case)
 *   reactor time spent on the reactor per status request, from the
 *           node's own counters (naos_http_reactor_seconds_total): with
 *           the tree unchanged (a cached snapshot), beside a trivial
 *           request; and the snapshot rebuild that follows a change
 *           (naos_status_snapshot_build_seconds_total)
 * Latencies are p50 and p99 in ms; ratios are http/ctl.
 *
 * Each worker holds two node fds (pidfd, output pipe), or one with
 * output: discard (":discard"): RLIMIT_NOFILE (hard) bounds N. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "bench/bench_node.h"
#include "cli/client.h"
#include "node/base/time.h"
#include "proto/naos.pb-c.h"

static struct bench_node node;

static double
pct_ms(uint64_t *v, size_t n, double p)
{
    return (double)bench_pct(v, n, p) / 1000.0;
}

static Naos__V1__Reply *
ctl_status(const char *only)
{
    Naos__V1__StatusRequest sr = NAOS__V1__STATUS_REQUEST__INIT;
    sr.name = (char *)only;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_STATUS;
    req.status = &sr;
    return bench_call(&node, &req, false);
}

/* One control connection kept open for pings, so a ping measures the
 * reactor's turnaround and not a dial. */
static nng_socket ping_sock;
static uint8_t ping_msg[64];
static size_t ping_len;

static int
ping_open(void)
{
    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_PING;
    req.ping = &nr;
    ping_len = naos__v1__request__pack(&req, ping_msg);
    if (nng_req0_open(&ping_sock) != 0)
        return -1;
    nng_socket_set_ms(ping_sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
    nng_socket_set_ms(ping_sock, NNG_OPT_RECVTIMEO, 60000);
    return nng_dial(ping_sock, node.url, NULL, 0) == 0 ? 0 : -1;
}

static uint64_t
ping_us(void)
{
    uint64_t t0 = naos_clock_now_us();
    void *rep;
    size_t len;
    if (nng_send(ping_sock, ping_msg, ping_len, 0) == 0 &&
        nng_recv(ping_sock, &rep, &len, NNG_FLAG_ALLOC) == 0)
        nng_free(rep, len);
    return naos_clock_now_us() - t0;
}

/* ---- a minimal keep-alive HTTP/1.1 client ---- */

static int
http_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)node.http_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* GETs path on fd; returns the status (and the body length in *len), or
 * -1 when the connection failed. */
static char *buf; /* the last response read by http_get */
static size_t cap;

static int
http_get(int fd, const char *path, size_t *len)
{
    char req[256];
    /* Host: a name the node answers (others get 421: DNS rebinding) */
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n)
        return -1;
    size_t got = 0, need = 0, head = 0;
    for (;;) {
        if (cap - got < 65536) {
            cap = cap ? cap * 2 : 1 << 20;
            buf = realloc(buf, cap);
        }
        ssize_t k = read(fd, buf + got, cap - got - 1);
        if (k <= 0)
            return -1;
        got += (size_t)k;
        buf[got] = '\0';
        if (!head) {
            char *e = strstr(buf, "\r\n\r\n");
            if (e == NULL)
                continue;
            head = (size_t)(e + 4 - buf);
            char *cl = strcasestr(buf, "Content-Length:");
            need = cl ? strtoul(cl + 15, NULL, 10) : 0;
        }
        if (got >= head + need)
            break;
    }
    *len = need;
    return atoi(buf + 9);
}

/* The value of the sample line starting with `name ` in /metrics. */
static double
metric(int fd, const char *name)
{
    size_t len;
    if (http_get(fd, "/metrics", &len) != 200)
        return -1;
    size_t nl = strlen(name);
    for (char *p = strstr(buf, "\r\n\r\n"); p != NULL; p = strchr(p, '\n')) {
        p++;
        if (strncmp(p, name, nl) == 0 && p[nl] == ' ')
            return strtod(p + nl + 1, NULL);
    }
    return -1;
}

#define BUILDS "naos_status_snapshot_builds_total"
#define BUILD_S "naos_status_snapshot_build_seconds_total"
#define ANSWER_S "naos_http_reactor_seconds_total{route=\"%s\"}"

/* The pids of the workers of the deployment, from one status reply. */
static size_t
worker_pids(int *pids, size_t max)
{
    Naos__V1__Reply *rep = ctl_status(NULL);
    size_t n = 0;
    if (rep && rep->status && rep->status->n_deployments == 1) {
        Naos__V1__NodeStatus *t = rep->status->deployments[0]->tree;
        for (size_t i = 0; t && i < t->n_children && n < max; i++)
            if (t->children[i]->pid > 0)
                pids[n++] = t->children[i]->pid;
    }
    naos_client_reply_free(rep);
    return n;
}

/* Reactor microseconds spent answering each GET of path (route is its
 * label in naos_http_reactor_seconds_total), k back-to-back. */
static double
reactor_us_per_get(int fd, const char *path, const char *route, size_t k,
                   double *builds)
{
    char name[128];
    snprintf(name, sizeof name, ANSWER_S, route);
    size_t len;
    http_get(fd, path, &len); /* the route's counter exists from now on */
    double a0 = metric(fd, name), n0 = metric(fd, BUILDS);
    for (size_t i = 0; i < k; i++)
        http_get(fd, path, &len);
    double a1 = metric(fd, name), n1 = metric(fd, BUILDS);
    *builds = n1 - n0;
    return (a1 - a0) / (double)k * 1e6;
}

/* Reactor time per status request, from the node's own counters: k
 * requests against an unchanged tree, beside the anchor of a request that
 * reaches the reactor for almost nothing (the one-member nodes list); then
 * the snapshot rebuild that follows a change (a worker killed and
 * restarted before each request). */
static void
reactor_busy(size_t k)
{
    int fd = http_connect();
    if (fd < 0)
        return;
    double builds, nb;
    double st = reactor_us_per_get(fd, "/api/v1/status", "status", k, &builds);
    double an = reactor_us_per_get(fd, "/api/v1/nodes", "nodes", k, &nb);
    printf("  reactor  per GET /api/v1/status, tree unchanged %8.1f us  "
           "(%.0f rebuilds)  = %.2fx\n", st, builds, an > 0 ? st / an : 0.0);
    printf("  reactor  per GET /api/v1/nodes (anchor)         %8.1f us\n", an);

    int *pids = calloc(k, sizeof *pids);
    size_t np = worker_pids(pids, k);
    double s0 = metric(fd, BUILD_S), c0 = metric(fd, BUILDS);
    for (size_t i = 0; i < np; i++) {
        kill(pids[i], SIGKILL);
        usleep(30000); /* restarted by then (about 1 ms) */
        size_t len;
        http_get(fd, "/api/v1/status", &len);
    }
    double s1 = metric(fd, BUILD_S), c1 = metric(fd, BUILDS);
    if (c1 > c0)
        printf("  reactor  rebuild after a restart (once per change) %7.1f "
               "us  (%.0f rebuilds)\n", (s1 - s0) / (c1 - c0) * 1e6,
               c1 - c0);
    free(pids);
    close(fd);
}

static atomic_int load_mode; /* 0 off, 1 once a second, 2 back-to-back */
static atomic_int load_stop;

static void *
loader(void *arg)
{
    (void)arg;
    int fd = http_connect();
    while (!atomic_load(&load_stop)) {
        int m = atomic_load(&load_mode);
        if (m == 0) {
            usleep(10000);
            continue;
        }
        size_t len;
        if (http_get(fd, "/api/v1/status", &len) != 200) {
            close(fd);
            fd = http_connect();
        }
        if (m == 1)
            for (int i = 0; i < 100 && atomic_load(&load_mode) == 1; i++)
                usleep(10000);
    }
    close(fd);
    return NULL;
}

static void
reactor_under(int mode, const char *what, size_t pings)
{
    uint64_t *v = calloc(pings, sizeof *v);
    atomic_store(&load_mode, mode);
    usleep(200000);
    for (size_t i = 0; i < pings; i++) {
        v[i] = ping_us();
        usleep(5000);
    }
    atomic_store(&load_mode, 0);
    printf("  reactor  ping %-34s p50 %7.3f ms  p99 %7.3f ms\n", what,
           pct_ms(v, pings, 0.5), pct_ms(v, pings, 0.99));
    free(v);
}

static int
measure(const char *arg, size_t k)
{
    size_t children = strtoul(arg, NULL, 10);
    bool discard = strstr(arg, ":discard") != NULL;
    char name[32];
    snprintf(name, sizeof name, "pool%zu", children);
    uint64_t t0 = naos_clock_now_us();
    char *wargv[] = {"sleep", "100000", NULL};
    /* intensity room for the kills of reactor_busy (every 30 ms) */
    if (bench_deploy(&node, name, NAOS__V1__STRATEGY__SIMPLE_ONE_FOR_ONE, 100, 1,
                     (uint32_t)children, wargv, 2,
                     discard ? NAOS__V1__OUTPUT_MODE__OUTPUT_DISCARD
                             : NAOS__V1__OUTPUT_MODE__OUTPUT_LOG) != 0)
        return -1;
    while (bench_running(&node, name) < children) {
        if (naos_clock_now_us() - t0 > 600 * 1000000ull) {
            fprintf(stderr, "bench: %zu children did not all start\n",
                    children);
            return -1;
        }
        usleep(200000);
    }
    uint64_t *ctl = calloc(k, sizeof *ctl), *http = calloc(k, sizeof *http),
             *flo = calloc(k, sizeof *flo);
    size_t bytes = 0, pbbytes = 0;
    int fd = http_connect();
    if (fd < 0)
        return -1;
    for (size_t i = 0; i < k; i++) {
        uint64_t a = naos_clock_now_us();
        Naos__V1__Reply *rep = ctl_status(NULL);
        ctl[i] = naos_clock_now_us() - a;
        if (rep)
            pbbytes = naos__v1__reply__get_packed_size(rep);
        naos_client_reply_free(rep);
        a = naos_clock_now_us();
        int code = http_get(fd, "/api/v1/status", &bytes);
        if (code != 200) {
            fprintf(stderr, "bench: GET /api/v1/status answered %d\n", code);
            return -1;
        }
        http[i] = naos_clock_now_us() - a;
        size_t l;
        a = naos_clock_now_us();
        code = http_get(fd, "/nope", &l);
        if (code != 404) {
            fprintf(stderr, "bench: GET /nope answered %d\n", code);
            return -1;
        }
        flo[i] = naos_clock_now_us() - a;
    }
    close(fd);
    double c50 = pct_ms(ctl, k, .5), c99 = pct_ms(ctl, k, .99);
    double h50 = pct_ms(http, k, .5), h99 = pct_ms(http, k, .99);
    double f50 = pct_ms(flo, k, .5), f99 = pct_ms(flo, k, .99);
    printf("%zu children%s (%zu requests each)\n", children,
           discard ? ", output discarded" : "", k);
    printf("  ctl      status via control socket    p50 %7.3f ms  p99 %7.3f "
           "ms  (%zu B protobuf)\n", c50, c99, pbbytes);
    printf("  http     GET /api/v1/status           p50 %7.3f ms  p99 %7.3f "
           "ms  (%zu B JSON)  = %.2fx / %.2fx ctl\n", h50, h99, bytes,
           h50 / c50, h99 / c99);
    printf("  floor    GET /nope (HTTP stack only)  p50 %7.3f ms  p99 %7.3f "
           "ms\n", f50, f99);
    reactor_under(0, "idle", 200);
    reactor_under(1, "while status polled 1/s", 200);
    reactor_under(2, "while status polled back-to-back", 200);
    reactor_busy(k);
    free(ctl);
    free(http);
    free(flo);
    bench_name_cmd(&node, NAOS__V1__REQUEST__REQ_REMOVE, name);
    while (bench_running(&node, name) > 0)
        usleep(200000);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_http NAOS_NODE_BIN [REQUESTS] "
                "[CHILDREN[:discard]...]\n");
        return 100;
    }
    signal(SIGPIPE, SIG_IGN);
    size_t k = argc > 2 ? strtoul(argv[2], NULL, 10) : 50;
    if (k < 5)
        k = 5;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("RLIMIT_NOFILE hard %llu: at most ~%llu workers (2 node fds "
           "each), ~%llu with output discarded (1 each)\n",
           (unsigned long long)rl.rlim_max,
           (unsigned long long)(rl.rlim_max / 2),
           (unsigned long long)rl.rlim_max);
    if (bench_node_start(&node, argv[1], true) != 0) {
        bench_node_stop(&node);
        return 111;
    }
    if (ping_open() != 0) {
        fprintf(stderr, "bench: cannot open the control socket\n");
        bench_node_stop(&node);
        return 111;
    }
    pthread_t t;
    pthread_create(&t, NULL, loader, NULL);
    int rc = 0;
    static const char *const defaults[] = {"1000", "9000", "10000:discard"};
    if (argc > 3) {
        for (int i = 3; i < argc && rc == 0; i++)
            rc = measure(argv[i], k);
    } else {
        for (size_t i = 0; i < 3 && rc == 0; i++)
            rc = measure(defaults[i], k);
    }
    atomic_store(&load_stop, 1);
    pthread_join(t, NULL);
    nng_close(ping_sock);
    bench_node_stop(&node);
    return rc == 0 ? 0 : 111;
}
