/* SPDX-License-Identifier: Apache-2.0 */
/* bench_node.h: a throwaway naos-node for benchmarks: started in its own
 * temp dirs, driven through the control socket, stopped and removed. Shared
 * by bench/restart and bench/http so each bench holds only what it
 * measures. Single-threaded use, except bench_call (any thread). */
#ifndef NAOS_BENCH_BENCH_NODE_H
#define NAOS_BENCH_BENCH_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/naos.pb-c.h"

struct bench_node {
    pid_t pid;
    char dir[64];    /* /tmp/naos-bench-XXXXXX, removed by stop */
    char run[128];
    char url[256];   /* ipc://RUN/ctl.sock */
    int http_port;   /* when started with http */
};

/* bench_node_start starts `bin start` with --log-level error and either
 * --http 127.0.0.1:0 (http true; the port is read back) or --http off, and
 * waits until it answers a ping (and its HTTP port is known). Returns 0, or
 * -1 with a message on stderr (call bench_node_stop anyway). */
int bench_node_start(struct bench_node *b, const char *bin, bool http);
/* bench_node_stop sends SIGTERM, reaps the node and removes its dirs. */
void bench_node_stop(struct bench_node *b);

/* bench_call sends req (borrowed) and returns the reply (free it with
 * naos_client_reply_free), or NULL on a transport error or an error reply
 * (printed unless quiet). */
Naos__V1__Reply *bench_call(const struct bench_node *b,
                            Naos__V1__Request *req, bool quiet);
/* bench_deploy deploys `name`: a supervisor (strategy, max_restarts,
 * window_s, replicas) over one worker running argv (argc entries), its
 * output logged or discarded. */
int bench_deploy(const struct bench_node *b, const char *name,
                 Naos__V1__Strategy strategy, uint32_t max_restarts,
                 uint32_t window_s, uint32_t replicas, char **argv,
                 size_t argc, Naos__V1__OutputMode output);
/* bench_name_cmd sends a NameRequest (stop, remove, ...) for name. */
int bench_name_cmd(const struct bench_node *b, Naos__V1__Request__ReqCase which,
                   const char *name);
/* bench_status asks for deployment name's status: the reply (free it with
 * naos_client_reply_free; NULL on failure) and in *top its tree, or NULL
 * when the node has no such deployment. */
Naos__V1__Reply *bench_status(const struct bench_node *b, const char *name,
                              Naos__V1__NodeStatus **top);
/* bench_running counts the running workers directly under deployment name
 * (0 once it is gone). */
size_t bench_running(const struct bench_node *b, const char *name);

/* bench_pct sorts v (n > 0 entries) and returns its p-quantile. */
uint64_t bench_pct(uint64_t *v, size_t n, double p);

#endif
