/* SPDX-License-Identifier: Apache-2.0 */
/* node.h: the naos-node composition root. It owns every module of one node
 * (reactor, control endpoint, notify socket, supervision core, process
 * drivers, event ring) and is the only place that knows them all. */
#ifndef NAOS_NODE_NODE_H
#define NAOS_NODE_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "node/spec/label.h"

struct http_limits;

struct node_config {
    const char *name;     /* node name (NAOS_NODE); default: hostname */
    const char *run_dir;  /* sockets, lock file */
    const char *data_dir; /* the store and worker logs */
    uint64_t log_max_bytes; /* per worker log file; 0 = default */
    unsigned log_keep;      /* rotated files kept; 0 = default */
    const char *key_file;   /* cluster key file, or NULL (single node) */
    const char *http_url;   /* "http://127.0.0.1:4200" (port 0: any free
                               port); NULL = no HTTP endpoint */
    int http_required;      /* failing to listen on http_url is fatal (the
                               address was given); else a warning */
    const char *http_token; /* bearer token for mutating API calls, or
                               NULL (they answer 403) */
    const struct http_limits *http_limits; /* --http-* limits (borrowed
                               for node_open); NULL = defaults */
    const char *listen_url; /* gossip tcp://HOST:PORT, or NULL: no
                               membership (a single node, as before) */
    const char *advertise_url; /* what peers dial; NULL = the bound
                                  listen address */
    const char *profile;    /* lan (default), wan, local */
    const char *const *seeds; /* join through any of these addresses */
    size_t nseeds;
    unsigned bootstrap_expect; /* 0: one voter alone; 3 or 5: found a
                                  cluster with that many voters once they
                                  see each other (needs listen_url) */
    bool join;              /* `naos-node join`: with an empty data
                               directory, ask the cluster's leader to
                               take this node in as a learner */
    bool no_voter;          /* --no-voter: stay a learner */
    unsigned voters;        /* --voters N (1, 3, 5): the voter target
                               recorded when the cluster is founded;
                               0: not given */
    const struct spec_label *labels; /* --label KEY=VALUE, nlabels of them
                               (copied; spec_labels_check'd by node_open:
                               NAOS_EINVAL otherwise) */
    size_t nlabels;
    const struct proc_sdnotify *service_manager; /* told READY=1 once the
                               node serves, STOPPING=1 at a graceful stop;
                               NULL or empty: none */
};

struct node;
struct proc_sdnotify;

/* node_open prepares a node: creates (0700) or checks the run and data
 * directories (an existing one another user owns or group/others can
 * write is refused: NAOS_EINVAL, see node/base/safedir.h), locks the run
 * directory (a second node on the same run dir is refused), opens the
 * control and notify sockets, the HTTP endpoint (dashboard, API, metrics;
 * its bound address is written to RUN/http.addr) and the gossip listener,
 * becomes a child subreaper, and only then restores the stored
 * deployments, so a start that fails starts no agent. Signals must
 * already be blocked in every thread (see node_block_signals). On failure
 * returns an error and writes what went wrong and what to do into
 * errbuf. */
int node_open(struct node **out, const struct node_config *cfg, char *errbuf,
              size_t errlen);
/* node_run runs the reactor until SIGTERM/SIGINT has stopped every
 * deployment. Returns the process exit code (0 on a clean stop). */
int node_run(struct node *n);
/* node_close releases everything; NULL is fine. */
void node_close(struct node *n);

/* node_block_signals blocks the signals the reactor reads through a
 * signalfd. Call first thing in main, before any thread exists. */
void node_block_signals(void);

/* node_recover_main runs `naos-node recover` (node_recover.c) on argv
 * (argv[0] "recover") and returns the exit code. */
int node_recover_main(int argc, char **argv);

/* certify_main: `naos-node certify --plan FILE --instance HEX`
 * (node_certify.c), exec'd
 * by a dead node's guardian once every process of that node's workers is
 * gone, to tell the cluster (argv from "certify"). Exit 0 when a member
 * was told (or there was no plan), 1 when none could be. */
int certify_main(int argc, char **argv);

#endif
