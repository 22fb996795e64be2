/* SPDX-License-Identifier: Apache-2.0 */
/* node_int.h: what node.c (lifecycle, drivers) and node_ctl.c (control
 * requests) share. Private to naos-node. */
#ifndef NAOS_NODE_NODE_INT_H
#define NAOS_NODE_NODE_INT_H

#include <limits.h>
#include <stdint.h>

#include "node/auth/keys.h"
#include "node/base/idmap.h"
#include "node/ctl/ctl.h"
#include "node/events/events.h"
#include "node/http/http.h"
#include "node/proc/logfile.h"
#include "node/reactor/reactor.h"
#include "node/sup/sup.h"
#include "store/state.h"
#include "store/store.h"

#define NODE_EVENTS_KEPT 10000
#define NODE_EVENTS_PER_REPLY 1000
#define NODE_LOGS_DEFAULT_CHUNK (64u * 1024u)
#define NODE_LOGS_MAX_CHUNK (1u << 20)

/* struct wrun: per-worker driver state, the core's io_data. */
struct wrun {
    struct node *n;
    struct sup_node *w;
    int pid; /* 0 when no process */
    int pidfd;
    int log_rd;
    struct reactor_watch pid_watch, log_watch;
    struct proc_logfile *log;
    char *log_path;
    struct wrun *grave_next;
};

/* Reactor loop latency histogram bounds (seconds), for /metrics. */
#define NODE_LAG_BUCKETS 12

/* struct node_stats: counters behind /metrics that the rest of the node
 * does not keep (node_http.c). Reactor thread. */
struct node_restart_count {
    char *deployment; /* owned */
    char *reason;     /* owned: "exit:1", "signal:SIGKILL", ... */
    uint64_t n;
};
struct node_dep_count {
    char *deployment; /* owned */
    uint64_t escalations, give_ups;
};
struct node_stats {
    struct node_restart_count *restarts; /* by (deployment, reason) */
    size_t nrestarts, restarts_cap;
    struct node_dep_count *deps;         /* by deployment */
    size_t ndeps, deps_cap;
    uint64_t lag_buckets[NODE_LAG_BUCKETS + 1]; /* per bucket; last = +Inf */
    uint64_t lag_count, lag_sum_us;
    naos_time started_at;
};

/* struct node: one naos-node. Owned by the reactor thread. */
struct node {
    char name[256];
    char run_dir[PATH_MAX];
    char data_dir[PATH_MAX];
    char ctl_url[PATH_MAX + 16];
    char ctl_env[PATH_MAX + 32];
    char id_env[64]; /* NAOS_NODE_ID=<hex>: also marks our workers */
    char notify_path[PATH_MAX + 16];
    uint64_t log_max_bytes;
    unsigned log_keep;
    int lock_fd;
    struct reactor r;
    int sig_fd;
    struct reactor_watch sig_watch;
    int notify_fd;
    struct reactor_watch notify_watch;
    struct ctl ctl;
    struct events events;
    struct sup_tree *tree;
    struct idmap pids; /* pid -> wrun with a live run */
    struct wrun *grave; /* freed after the loop iteration that dropped them */
    int stopping;       /* signals received asking us to stop */
    struct store *store; /* DATA/store: deployments, checkpoints, identity */
    struct auth_keyring keyring; /* cluster keys (sealed envelopes) */
    uint64_t node_id;
    struct http http;        /* dashboard, JSON API, /metrics (optional) */
    char http_addr_path[PATH_MAX + 16]; /* RUN/http.addr while serving */
    struct node_stats stats;
};

/* node__handle_request dispatches one control request (node_ctl.c). */
void node__handle_request(void *arg, const Naos__V1__Request *req,
                          struct ctl_reply *rep);
/* node__wall_of: the wall-clock time (ms since the epoch) of monotonic
 * instant at, for people (node.c). */
int64_t node__wall_of(naos_time at);

/* node__http_answer answers one HTTP API request (node_http.c); the
 * http_answer_fn of n->http. */
void node__http_answer(void *arg, const struct http_route *rt,
                       struct http_response *res);
/* node__stats_on_event counts ev (borrowed) for /metrics (node_http.c). */
void node__stats_on_event(struct node *n, const struct sup_event *ev);
/* node__stats_observe_loop records one reactor iteration that kept the
 * loop busy for us microseconds (node_http.c). */
void node__stats_observe_loop(struct node *n, uint64_t us);
/* node__stats_fini frees the counters; safe on a zeroed struct. */
void node__stats_fini(struct node_stats *s);

#endif
