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
};

/* node__handle_request dispatches one control request (node_ctl.c). */
void node__handle_request(void *arg, const Naos__V1__Request *req,
                          struct ctl_reply *rep);
/* node__wall_of: the wall-clock time (ms since the epoch) of monotonic
 * instant at, for people (node.c). */
int64_t node__wall_of(naos_time at);

#endif
