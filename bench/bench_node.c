/* SPDX-License-Identifier: Apache-2.0 */
#include "bench/bench_node.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/client.h"

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t
bench_pct(uint64_t *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_u64);
    return v[(size_t)(p * (double)(n - 1) + 0.5)];
}

Naos__V1__Reply *
bench_call(const struct bench_node *b, Naos__V1__Request *req, bool quiet)
{
    Naos__V1__Reply *rep = NULL;
    char err[512];
    if (naos_client_call(b->url, req, &rep, 60000, err, sizeof err) != 0) {
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

static int
read_http_port(const struct bench_node *b)
{
    char path[160], line[128] = "";
    snprintf(path, sizeof path, "%s/http.addr", b->run);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    int port = 0;
    if (fgets(line, sizeof line, f) && strrchr(line, ':'))
        port = atoi(strrchr(line, ':') + 1);
    fclose(f);
    return port;
}

int
bench_node_start(struct bench_node *b, const char *bin, bool http)
{
    memset(b, 0, sizeof *b);
    snprintf(b->dir, sizeof b->dir, "/tmp/naos-bench-XXXXXX");
    if (mkdtemp(b->dir) == NULL) {
        b->dir[0] = '\0';
        perror("bench: mkdtemp");
        return -1;
    }
    char data[128];
    snprintf(b->run, sizeof b->run, "%s/run", b->dir);
    snprintf(data, sizeof data, "%s/data", b->dir);
    snprintf(b->url, sizeof b->url, "ipc://%s/ctl.sock", b->run);
    b->pid = fork();
    if (b->pid == 0) {
        execl(bin, bin, "start", "--run", b->run, "--data", data,
              "--log-level", "error", "--http", http ? "127.0.0.1:0" : "off",
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) {
        Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
        Naos__V1__NameRequest ping = NAOS__V1__NAME_REQUEST__INIT;
        req.req_case = NAOS__V1__REQUEST__REQ_PING;
        req.ping = &ping;
        Naos__V1__Reply *rep = NULL;
        char err[512];
        if (naos_client_call(b->url, &req, &rep, 1000, err, sizeof err) == 0) {
            naos_client_reply_free(rep);
            if (!http || (b->http_port = read_http_port(b)) > 0)
                return 0;
        }
        usleep(20000);
    }
    fprintf(stderr, "bench: naos-node at %s did not come up\n", b->url);
    return -1;
}

void
bench_node_stop(struct bench_node *b)
{
    if (b->pid > 0) {
        kill(b->pid, SIGTERM);
        int st;
        waitpid(b->pid, &st, 0);
        b->pid = 0;
    }
    if (b->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench: could not remove %s\n", b->dir);
        b->dir[0] = '\0';
    }
}

int
bench_deploy(const struct bench_node *b, const char *name,
             Naos__V1__Strategy strategy, uint32_t max_restarts,
             uint32_t window_s, uint32_t replicas, char **argv, size_t argc,
             Naos__V1__OutputMode output)
{
    Naos__V1__NodeSpec top = NAOS__V1__NODE_SPEC__INIT,
                       w = NAOS__V1__NODE_SPEC__INIT;
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
    w.output = output;
    Naos__V1__DeployRequest d = NAOS__V1__DEPLOY_REQUEST__INIT;
    d.spec = &top;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_DEPLOY;
    req.deploy = &d;
    Naos__V1__Reply *rep = bench_call(b, &req, false);
    naos_client_reply_free(rep);
    return rep ? 0 : -1;
}

int
bench_name_cmd(const struct bench_node *b, Naos__V1__Request__ReqCase which,
               const char *name)
{
    Naos__V1__NameRequest nr = NAOS__V1__NAME_REQUEST__INIT;
    nr.name = (char *)name;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = which;
    req.stop = &nr; /* every NameRequest member shares the union */
    Naos__V1__Reply *rep = bench_call(b, &req, false);
    naos_client_reply_free(rep);
    return rep ? 0 : -1;
}

Naos__V1__Reply *
bench_status(const struct bench_node *b, const char *name,
             Naos__V1__NodeStatus **top)
{
    Naos__V1__StatusRequest sr = NAOS__V1__STATUS_REQUEST__INIT;
    sr.name = (char *)name;
    Naos__V1__Request req = NAOS__V1__REQUEST__INIT;
    req.req_case = NAOS__V1__REQUEST__REQ_STATUS;
    req.status = &sr;
    Naos__V1__Reply *rep = bench_call(b, &req, true);
    *top = rep && rep->status->n_deployments == 1
               ? rep->status->deployments[0]->tree
               : NULL;
    return rep;
}

size_t
bench_running(const struct bench_node *b, const char *name)
{
    Naos__V1__NodeStatus *top;
    Naos__V1__Reply *rep = bench_status(b, name, &top);
    size_t n = 0;
    for (size_t i = 0; top != NULL && i < top->n_children; i++)
        n += strcmp(top->children[i]->state, "running") == 0;
    naos_client_reply_free(rep);
    return n;
}
