/* SPDX-License-Identifier: Apache-2.0 */
/* node_int.h: what node.c (lifecycle, drivers) and node_ctl.c (control
 * requests) share. Private to naos-node. */
#ifndef NAOS_NODE_NODE_INT_H
#define NAOS_NODE_NODE_INT_H

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>

#include "node/auth/keys.h"
#include "node/auth/seal.h"
#include "node/base/idmap.h"
#include "node/cmd/apply.h"
#include "node/cmd/cmdraft.h"
#include "node/cmd/reconcile.h"
#include "node/ctl/ctl.h"
#include "node/events/events.h"
#include "node/http/http.h"
#include "node/net/net.h"
#include "node/proc/guardian.h"
#include "node/proc/logfile.h"
#include "node/proc/sdnotify.h"
#include "node/proc/orphans.h"
#include "node/proc/spawner.h"
#include "node/reactor/reactor.h"
#include "node/root/lease.h"
#include "node/sup/sup.h"
#include "node/wire/wire.h"
#include "store/batch.h"
#include "store/snapshot.h"
#include "store/state.h"
#include "store/store.h"

#define NODE_EVENTS_KEPT 10000
#define NODE_EVENTS_PER_REPLY 1000
#define NODE_EVENTS_FLUSH_MS 250 /* events commits, at most one per this */
#define NODE_LOGS_DEFAULT_CHUNK (64u * 1024u)
#define NODE_LOGS_MAX_CHUNK (1u << 20)
/* Below DATA/logs: the last run's logs of each deployment that left this
 * node (moved, drained, fenced), for `naos logs --previous`. */
#define NODE_LOGS_PREVIOUS ".previous"
/* ... of an answer forwarded to another node (one sealed envelope) */
#define NODE_LOGS_FORWARD_CHUNK (512u * 1024u)

/* struct wrun: per-worker driver state, the core's io_data. */
struct wrun {
    struct node *n;
    struct sup_node *w;
    int pid; /* 0 when no process */
    int pidfd;
    int log_rd;
    int log_rd_spawning; /* the log pipe's read end while a spawn is under
                            way on the spawner (log_rd once it succeeds) */
    uint64_t last_spawn_us; /* what its last spawn took (0: none yet, or
                               it failed): inline spawns need it quick */
    uint64_t epoch; /* its deployment's placement epoch as its latest
                       spawn was given it (NAOS_EPOCH): what the agent
                       endpoint stamps on its checkpoint saves */
    struct reactor_watch log_watch; /* the pidfd is in node.exits_fd */
    struct proc_logfile *log;
    char *log_path;
    struct wrun *grave_next;
    /* In node.dying (node.c) from the core's first signal to this run
     * until it is reaped or NODE_DYING_MS have passed. */
    bool dying;
    naos_time dying_at;
    struct wrun *dying_prev, *dying_next;
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
/* struct node_hist: a latency histogram over NODE_LAG_BUCKETS bounds
 * (node_http.c), the last bucket +Inf. */
struct node_hist {
    uint64_t buckets[NODE_LAG_BUCKETS + 1];
    uint64_t count, sum_us;
};
struct node_stats {
    struct node_restart_count *restarts; /* by (deployment, reason) */
    size_t nrestarts, restarts_cap;
    struct node_dep_count *deps;         /* by deployment */
    size_t ndeps, deps_cap;
    struct node_hist lag; /* reactor iterations' busy time */
    /* Commands proposed through this node, from the proposal to the
     * answer once applied here (its door's view of the commit latency),
     * and proposals this node made to the log as leader. */
    struct node_hist command;
    uint64_t proposals;
    /* Retried commands found carried out already: at the door (answered
     * from the client table, nothing proposed) and in the log (applied
     * as a duplicate, which changed nothing). */
    uint64_t retries_door, retries_log;
    uint64_t snap_builds, snap_build_us; /* status snapshots (node_status.c) */
    /* Raft snapshots (node_raft_snap.c): sent whole (installed or held),
     * dropped, their bytes, installed here, chunks refused as malformed */
    uint64_t snap_sent, snap_send_failed, snap_bytes_sent, snap_installed;
    uint64_t snap_chunks_bad;
    int64_t backup_saved_ms; /* the last `naos snapshot save` written here
                                (wall clock), 0: none since the start */
    uint64_t http_answer_us[HTTP_R__COUNT]; /* reactor time per API route */
    uint64_t node_trouble[4]; /* spawns failed for the node's own reasons:
                                 EMFILE, ENFILE, ENOMEM, EAGAIN */
    naos_time started_at;
};

/* struct status_snap: one deployment's status document as it read at
 * taken_at (node_status.c). Immutable once built, so the HTTP render thread
 * reads it while the reactor goes on; the last reference frees it. */
struct status_snap {
    atomic_uint refs;
    const struct sup_node *top; /* cache key: compared, never followed */
    uint64_t version;           /* top->version it was built from */
    naos_time taken_at;         /* reactor time its uptimes were read at */
    naos_time valid_until;      /* an intensity count it shows drops then */
    struct ctl_reply rep;       /* owns ds */
    Naos__V1__DeploymentStatus *ds;
};

/* struct node_peer_memo: what a control connection's caller was found to
 * be (node_ctl.c), so a kept connection pays for the /proc walk once. */
#define NODE_PEER_MEMO 64
struct node_peer_memo {
    uint32_t conn; /* ctl_peer.conn; 0 = empty */
    int pid;
    int kind;       /* enum proc_peer_kind */
    int worker_pid; /* for PROC_PEER_WORKER: revalidated on each use */
};

/* struct node_waiter: a request waiting for its command's entry to be
 * applied and reconciled (node_cmd.c). rep NULL = free slot. */
/* Commands forwarded to the leader and waiting on this follower, and
 * forwarded commands a leader runs at once (node_forward.c). */
#define NODE_FORWARD_MAX 32
#define NODE_FWD_JOBS_MAX 32

/* struct node_forward: a request of this node's control socket waiting
 * for the leader's answer. */
struct node_http_wait;

/* struct node_forward: one request forwarded, waiting for its answer,
 * for a control request (req, deferred) or an HTTP API request (http,
 * node_http.c); both NULL: a free slot. */
struct node_forward {
    uint64_t id;          /* of the Forward */
    uint64_t leader;      /* the node it went to */
    struct ctl_req *req;
    struct node_http_wait *http;
    naos_time deadline;
    bool to_owner;        /* to a deployment's node, not the leader */
    bool command;         /* it changes the cluster (is_command) */
};

/* Linearizable reads (node_read.c): loads waiting on this node, and
 * followers' read-index requests a leader confirms; Sealed.type 100/101. */
#define NODE_READS_MAX 32
#define NODE_READ_JOBS_MAX 32
#define NODE_READ_INDEX_TYPE 100u
#define NODE_READ_INDEX_REPLY_TYPE 101u

/* struct node_read: a deferred `checkpoint load` waiting for its read
 * index, then for this node to apply up to it. state 0: free. */
struct node_read {
    uint64_t id;          /* this node's; the core's ctx when it leads */
    struct ctl_req *req;  /* deferred, or NULL: */
    struct node_fwd_job *job; /* a load forwarded by another node */
    char *name;           /* what to load (naos_alloc) */
    int state;            /* node_read.c */
    uint64_t asked;       /* the node whose core confirms it */
    uint64_t index;       /* the read index, once confirmed */
    naos_time deadline;
    char why[512];        /* failed: what the client is told */
};

/* struct node_read_job: a follower's read-index request on the leader.
 * ctx 0: free. */
struct node_read_job {
    uint64_t ctx;         /* the core's */
    uint64_t origin, id;  /* the asker and its id */
    naos_time deadline;
};

/* struct node_fwd_job: a forwarded request the leader runs: its reply
 * goes back to origin once built (node__forward_job_done). */
struct node_fwd_job {
    uint64_t origin, id;
    struct ctl_reply rep;
};

/* The most voters a log has (STORE_MAX_VOTERS, SWIM_HEALTH_VOTERS_MAX). */
#define NODE_VOTERS_MAX 9
#define NODE_LEARNERS_MAX 8 /* RAFT_MAX_LEARNERS */
/* Members of the configuration: voters and learners (node__conf_members). */
#define NODE_MEMBERS_MAX (NODE_VOTERS_MAX + NODE_LEARNERS_MAX)

/* `naos status` of a cluster (node_cluster_status.c): requests gathering
 * their owners' reports at once, and how long they wait for them. */
#define STATUS_GATHERS 8
#define STATUS_GATHER_MS 2000

struct node_http_wait;
struct node_gather {
    struct ctl_req *req; /* deferred; NULL: free slot (unless http) */
    struct node_http_wait *http; /* or an HTTP API status (node_http.c) */
    naos_time deadline;
    size_t nask;
    struct {
        uint64_t node, id;
        bool answered;
        Naos__V1__Reply *reply; /* heap (protobuf-c); NULL: none */
    } ask[NODE_MEMBERS_MAX];
};

/* The last `status --local` each other member answered a gathering with
 * (packed Reply, one envelope at most: at most 16 x 1 MiB): the trees of
 * a node that stops answering are shown as it last reported them. */
struct node_report {
    uint64_t node;   /* 0: free slot */
    naos_time at;    /* when it came */
    uint8_t *buf;    /* packed Naos__V1__Reply */
    size_t len;
};

/* Moves the root supervisor has in flight at once (node_root.c). */
#define NODE_ROOT_MOVES_MAX 16
/* How long a start waits for the processes of a previous run it killed
 * to be gone (then the lease step looks every LEFTOVERS_LOOK_MS). */
#define NODE_LEFTOVERS_WAIT_MS 1000
/* Releases a drained node remembers having proposed (node_drain.c). */
#define NODE_RELEASES_MAX 16

/* Deploys a leader keeps count of between its pick and their apply. */
#define NODE_PICKS_MAX 64

/* struct node_founders: what the members say about founding the log
 * (their gossiped health; node__members_founders). */
struct node_founders {
    /* alive or suspect members forming with the same --bootstrap-expect,
     * this node among them; n may exceed what ids holds; how many of
     * them are suspect */
    uint64_t ids[64];
    size_t n, suspects;
    /* a member forming with another --bootstrap-expect (0: none) */
    uint64_t other_id;
    uint32_t other_expect;
    /* a member that founded the log, and its voters (nvoters 0: none) */
    uint64_t founded_by;
    uint64_t voters[NODE_VOTERS_MAX];
    size_t nvoters;
    uint64_t conflict_by; /* a member that founded another set (0: none) */
};

struct node_waiter {
    uint64_t index;        /* the entry; 0: relayed, the leader has not
                              said where it went yet */
    uint64_t term;         /* its term: (index, term) names one entry */
    struct ctl_req *req;   /* deferred control request, or NULL */
    struct ctl_reply *rep; /* where the answer goes */
    struct node_fwd_job *job; /* a forwarded request's, or NULL */
    /* A command relayed to the leader (node_relay.c): its id, the leader,
     * and when its client is told the outcome is unknown. */
    uint64_t relay_id, relay_to;
    naos_time deadline;
    uint64_t proposed_us; /* a measurement: when it was proposed here */
};
/* Every request that can be deferred on both endpoints, the forwarded
 * ones, and one answered at once (HTTP, or past the deferral bound). */
#define NODE_WAITERS (2 * CTL_MAX_DEFERRED + NODE_FWD_JOBS_MAX + 8)

/* struct node: one naos-node. Owned by the reactor thread. */
struct node {
    char name[256];
    struct spec_label labels[SPEC_LABELS_MAX]; /* --label, gossiped with
                                                  the health */
    size_t nlabels;
    char run_dir[PATH_MAX];
    char data_dir[PATH_MAX];
    char ctl_url[PATH_MAX + 16];
    char ctl_env[PATH_MAX + 32];   /* NAOS_CTL of workers granted control */
    char agent_url[PATH_MAX + 32];
    char agent_env[PATH_MAX + 48]; /* NAOS_CTL of every other worker */
    char id_env[64]; /* NAOS_NODE_ID=<hex>: also marks our workers */
    char run_env[64]; /* NAOS_NODE_RUN=<lease_instance>: marks this run's
                         workers for its guardian (proc/guardian.h) */
    char notify_path[PATH_MAX + 16];
    uint64_t log_max_bytes;
    unsigned log_keep;
    int lock_fd;
    struct reactor r;
    int sig_fd;
    struct reactor_watch sig_watch;
    int notify_fd;
    struct reactor_watch notify_watch;
    struct ctl ctl;   /* RUN/ctl.sock: the operator's */
    struct ctl agent; /* RUN/agent.sock: the workers', each for itself */
    struct node_peer_memo peer_memo[NODE_PEER_MEMO];
    struct events events; /* kept in the store too (node__events_flush) */
    bool events_unsaved;  /* the store refused them: no more tries */
    struct store_batch_writer events_writer; /* its part of the batch */
    uint64_t events_from, events_to; /* what this round writes; 0: none */
    naos_time events_flushed_at; /* last commit of events (loop clock) */
    bool events_timer_off; /* NAOS_TESTING_EVENTS_NO_TIMER=1: tests only */
    struct sup_tree *tree;
    struct idmap pids; /* pid -> wrun with a live run */
    struct wrun *grave; /* freed after the loop iteration that dropped them */
    int stopping;       /* signals received asking us to stop */
    struct store *store; /* DATA/store: deployments, checkpoints, identity */
    /* The before-sleep commit (store/batch.h): what one loop iteration
     * must persist, in one synced transaction before the loop sleeps. */
    struct store_batch batch;
    struct wire *wire; /* the transport between nodes (--listen), NULL
                          without (node/wire) */
    struct auth_keyring keyring; /* cluster keys (sealed envelopes) */
    uint64_t node_id;
    struct http http;        /* dashboard, JSON API, /metrics (optional) */
    char http_addr_path[PATH_MAX + 16]; /* RUN/http.addr while serving */
    char http_off[1024]; /* why the default --http could not be served
                           (`naos nodes`, `naos ping`); "" otherwise */
    struct node_stats stats;
    struct node_members *members; /* NULL without --listen (node_members.c) */
    bool leave_pending; /* stopping: leave the cluster, then shut down */
    struct proc_sdnotify service_manager; /* systemd's NOTIFY_SOCKET, or none */
    /* Exits and orphans (node.c): SIGCHLD seen and not yet looked at; the
     * orphan sweep, one bounded step per loop iteration. */
    bool chld_pending;
    struct proc_orphans_scan orphans;
    naos_time orphans_pass_at; /* when the last pass of the sweep began */
    int exits_fd; /* epoll set of the workers' pidfds (node.c) */
    struct reactor_watch exits_watch;
    /* Spawns run on their own thread (proc/spawner.h): the reactor submits
     * them and takes them back done (on_spawned). settled_iteration: the
     * loop iteration (+ 1) of the last wait for a spawn under way (at most
     * one such wait per iteration, node__spawns_settle). sweep_waits: the
     * orphan sweep waits for the child being made (its job wakes the
     * loop), so the loop does not spin on it meanwhile. */
    struct proc_spawner spawner;
    struct reactor_watch spawner_watch;
    uint64_t settled_iteration;
    bool sweep_waits;
    /* The lease guardian (node_guardian.c, proc/guardian.h): SIGKILLs
     * every worker group when the node dies (or, once fed, its lease runs
     * out). NULL only before node_open starts it, after node_close stops
     * it, or once it could not be replaced (the node then stops). */
    struct guardian *guardian;
    struct reactor_watch guardian_chan; /* its channel in the reactor */
    uint32_t guardian_ev;       /* what guardian_chan waits for now */
    uint64_t guardian_deadline; /* the last set (node__guardian_extend) */
    uint64_t guardian_restarts; /* replacements of a lost guardian */
    naos_time guardian_replaced_at; /* the last one's start (loop clock) */
    /* While a spawn's outcome is reported to the core: its pid (0: none)
     * and when the process was made, the stamp of its start event. */
    int made_pid;
    int64_t made_wall_ms;
    uint64_t made_mono_us;
    /* Slices (node.c): what a spawn and a signal cost the reactor lately
     * (moving averages, us), to size the supervision core's budget. */
    uint64_t spawn_avg_us, signal_avg_us;
    /* What making a process took lately, clone to exec, wherever it was
     * made (node.c io_spawn: made on the loop while under 500 us). */
    uint64_t spawn_wall_avg_us;
    /* Runs signalled lately and not yet reaped, oldest first (node.c):
     * a stop sends no more signals while dying_max of them are dying, so
     * that the exits it sets off leave the reactor a CPU. */
    struct wrun *dying_head, *dying_tail;
    uint32_t ndying, dying_max;
    struct {
        struct status_snap **v; /* one per deployment asked about */
        size_t len, cap;
    } snaps;
    /* The command path (node_cmd.c). */
    struct cmdraft *log;    /* propose, commit (Raft); NULL while forming */
    size_t nvoters;         /* of the open log: its configuration's */
    uint64_t voters[NODE_VOTERS_MAX]; /* ... which are (gossiped) */
    size_t nlearners;       /* members that only receive the log */
    uint64_t learners[NODE_LEARNERS_MAX];
    struct raft_conf conf_copy; /* the core's configuration copied above */
    bool conf_seen;
    /* the log is a cluster's: messages, timers, forwarding (a founded
     * cluster, or a lone voter that took a learner); once set, stays */
    bool replicated;
    /* The replicated log's glue (node_raft.c). */
    unsigned bootstrap_expect; /* --bootstrap-expect; 0: one voter */
    bool forming;           /* waiting for the founders to see each other */
    /* `naos-node join` with an empty data directory: no log until the
     * leader has taken this node in as a learner (node_join.c) */
    bool joining;
    bool no_voter;          /* --no-voter: never promoted (gossiped) */
    bool gossip_only;       /* `start --seeds` without --bootstrap-expect:
                               it gossips with a cluster but keeps a lone
                               log of its own, which takes no joiner */
    unsigned voters_opt;    /* --voters N, or 0 */
    naos_time join_next;    /* when to ask again */
    naos_time join_backoff;
    uint64_t join_hint;     /* who last said it leads (0: none) */
    size_t join_turn;       /* which member to ask next */
    uint64_t join_founding[NODE_VOTERS_MAX]; /* taken in: the log opens */
    size_t join_nfounding;  /* with these at the next step (0: not yet) */
    unsigned join_target;   /* and the cluster's voter target (0: none) */
    naos_time join_logged;
    naos_time promote_next; /* the leader looks again (node_promote.c) */
    naos_time root_next;    /* the root supervisor looks again (node_root.c) */
    struct {                /* its moves proposed, until applied */
        char name[SPEC_MAX_ID_LEN + 1];
        uint64_t index;
    } root_moves[NODE_ROOT_MOVES_MAX];
    uint64_t root_moved;    /* moves proposed (naos_root_moves_total) */
    uint64_t root_lost;     /* ... of them off a lost node */
    naos_time root_wait_logged; /* a move waiting for a lost node, logged */
    /* Drain (node_drain.c). */
    bool drain_dirty;       /* the drain record is to be read again */
    bool drain_self;        /* this node is drained ... */
    uint64_t drain_index;   /* ... by this entry (DrainRecord.index) */
    bool drain_idle;        /* nothing here left to release */
    naos_time drain_next;   /* look at the placements again */
    struct node_release {   /* releases proposed, for DRAIN_RETRY_MS */
        char name[SPEC_MAX_ID_LEN + 1];
        uint64_t epoch;     /* 0: a free entry */
        naos_time at;
    } releases[NODE_RELEASES_MAX];
    /* Leases (node_lease.c). The holder's side, on CLOCK_BOOTTIME: */
    bool lease_on;          /* this node holds a lease on its placements */
    bool leftovers_alive;   /* a previous run's process outlived SIGKILL:
                               no lease asked for until it is gone */
    naos_time leftovers_look; /* when to count them again */
    uint64_t lease_instance; /* this run of naos-node (random, non-zero) */
    struct lease_holder lease;
    uint64_t lease_commit;  /* the latest grant's commit index */
    naos_time lease_retry_at; /* no leader known: look again then */
    uint64_t lease_fences;  /* times it fenced itself */
    char fence_detail[512]; /* why, the last time (naos status) */
    /* ... and the leader's, on the loop's monotonic now: */
    bool lease_leading;
    uint64_t lease_lead_term;
    struct lease_leader lease_lead;
    struct node_lease_req {
        uint64_t node, id, instance;
        uint64_t round; /* the read-index ctx it waits for (0: next) */
    } lease_reqs[LEASE_NODES_MAX];
    size_t nlease_reqs;
    uint64_t lease_round;   /* the round in flight (0: none) */
    uint64_t lease_grants;  /* grants sent (naos_lease_grants_total) */
    struct node_lease_late { /* grants to nodes whose lease ran out:
                                sent once the root has looked */
        uint64_t node, id, instance, index;
        uint64_t iteration; /* the loop iteration it was confirmed in */
    } lease_late[LEASE_NODES_MAX];
    size_t nlease_late;
    struct {                /* the instance this leader last granted */
        uint64_t node, instance;
    } lease_granted[LEASE_NODES_MAX];
    size_t nlease_granted;
    uint64_t lease_certified; /* certificates taken (a lease ended early) */
    struct {                /* the leader of the latest grant taken */
        uint64_t node, instance, term;
    } lease_granter;
    struct {                /* its guardian's certificate, kept by a
                               follower for when it leads (0: none) */
        uint64_t node, instance, term;
        naos_time at;
    } lease_cert_kept;
    /* Stopping (node__lease_exit_ready): */
    int exit_phase;         /* 0, clearing, released, done */
    naos_time exit_since;   /* the phase began */
    bool lease_released;    /* handed over: asks for no renewal any more */
    /* The guardian's certify plan (node_certify.c). */
    char key_file[PATH_MAX]; /* the cluster key's absolute path ("": none) */
    naos_time certify_next;
    uint8_t *certify_plan;  /* as last written */
    size_t certify_plan_len;
    naos_time promote_logged;
    naos_time forming_logged;
    int forming_said;       /* what was logged then (node_raft.c) */
    /* the founders seen last, since when (they must stay the same for
     * FORM_SETTLE_MS before the log is founded) */
    uint64_t forming_set[NODE_VOTERS_MAX];
    naos_time forming_since;
    unsigned char *raft_buf; /* encoding buffer */
    size_t raft_cap;
    uint64_t raft_unsent;   /* messages not sent (no address, no room) */
    /* A node of several voters starts nothing until it has applied up to
     * the leader's commit index (its own, when it leads): what it applied
     * before may have moved since (node__raft_caught_up). */
    bool catching_up;
    bool leadership_lost; /* stopped leading: tell waiters (node_cmd.c) */
    bool leader_commit_seen;
    uint64_t leader_commit;  /* from the current leader's last append */
    uint64_t leader_seen, leader_seen_term; /* the last "leader" event */
    /* Commands from any node (node_forward.c). */
    struct node_forward fwd[NODE_FORWARD_MAX];
    uint64_t fwd_seq, fwd_sent, fwd_answered, fwd_timeouts, fwd_lost;
    size_t fwd_jobs;               /* forwarded requests being run here */
    struct node_fwd_job *fwd_job;  /* the one being dispatched now */
    bool fwd_job_deferred;         /* ... and it waits for its entry */
    /* This leader's picks of a new deployment's node, in flight
     * (node_place.c); index 0 or <= applied: not counted. */
    struct {
        uint64_t index, node_id;
    } picks[NODE_PICKS_MAX];
    /* Linearizable reads (node_read.c). */
    struct node_read reads[NODE_READS_MAX];
    struct node_read_job read_jobs[NODE_READ_JOBS_MAX];
    uint64_t read_seq, reads_served, reads_failed;
    struct reconcile rec;   /* the local trees vs the applied state */
    struct node_snap *snap; /* a `naos snapshot save` under way, or NULL
                               (node_snapshot.c) */
    struct node_raft_snap *rsnap; /* snapshots to and from peers, or NULL
                                     (node_raft_snap.c) */
    struct node_snapfile *snapfiles_abandoned; /* still being written,
                                                  nobody waits for them */
    uint64_t applied;       /* last entry applied */
    uint64_t proposed;      /* the index of the last one */
    uint64_t relay_seq, relayed; /* commands relayed to the leader */
    struct node_gather gathers[STATUS_GATHERS];
    uint64_t gather_seq;
    struct node_report reports[NODE_MEMBERS_MAX]; /* node_cluster_status.c */
    struct node_report http_status; /* the last cluster status answered over
                                       HTTP (node_http.c): reused for 1 s */
    char name_buf[24];      /* node__node_name of an unknown id */
    bool draining;          /* applying entries now (not reentrant) */
    bool apply_stuck;       /* met an entry it cannot apply: stopped */
    int fatal;              /* a store commit failed: node_run returns it */
    unsigned fail_apply_at; /* tests: NAOS_TESTING_FAIL_APPLY (node_cmd.c) */
    unsigned unknown_reply_at; /* tests: NAOS_TESTING_UNKNOWN_REPLY */
    struct node_waiter waiters[NODE_WAITERS];
};

/* ---- membership (node_members.c) ---- */

struct node_config;
struct swim_health;

/* struct node_members_stats: the counters behind /metrics. */
struct node_members_stats {
    uint64_t by_state[4]; /* enum swim_state: alive, suspect, dead, left */
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out, dropped_out;
    uint64_t conn_closed;
    uint64_t conn_retired; /* outbound connections lost (net.h) */
    uint64_t rejected[AUTH_R__COUNT]; /* enum auth_reason */
    /* inbound connections (node/net) */
    uint64_t in_open, in_unauth, in_accepted, accept_paused;
    uint64_t in_closed[NET_CLOSE__COUNT]; /* enum net_close_reason */
    uint64_t oversized;    /* frames over the bound, where net drops them */
    uint64_t mark_writes;  /* synced writes of replay marks */
    uint64_t undecodable, unassigned_refused;
    unsigned lhm;
};

/* node__members_open starts membership (cfg->listen_url set): needs a
 * cluster key in n->keyring; listens, starts the SWIM core and joins
 * through cfg->seeds. On error n->members may be half set up:
 * node__members_close cleans it. err gets a sentence. */
int node__members_open(struct node *n, const struct node_config *cfg,
                       char *err, size_t errlen);
/* node__members_close stops gossip at once (no leave); safe without. */
void node__members_close(struct node *n);
/* node__members_deadline: when node__members_tick has work next. */
naos_time node__members_deadline(struct node *n);
/* node__members_tick runs the core's timers and refreshes the health
 * blob (at most once a second). Every loop iteration. */
void node__members_tick(struct node *n);
/* node__members_leave starts a graceful leave (idempotent). false when
 * the node is not in a cluster. */
/* node__spawns_settle: a lookup found a process of the node's that is no
 * worker's. If spawns are under way, takes what is done and, with
 * may_wait, waits for the spawn being made (at most 100 ms, once per loop
 * iteration) and takes it, so that a worker the loop has not yet heard of
 * is found. True when it did anything (look again). */
bool node__spawns_settle(struct node *n, bool may_wait);
bool node__members_leave(struct node *n);
/* node__members_left: the leave is done (or timed out), or no cluster. */
bool node__members_left(struct node *n);
/* node__members_reply fills rep with a NodesReply: every member (self
 * first), or the local node alone without membership. Self's health is
 * tallied for this answer and its entry says where the dashboard is (or
 * why there is none); a dead or left member's is marked stale. */
void node__members_reply(struct node *n, struct ctl_reply *rep);
/* node__members_alive copies the ids of the members alive (self
 * included; suspects too) into ids[0..max) and returns how many there
 * are (may exceed max). 0 without membership. */
size_t node__members_alive(struct node *n, uint64_t *ids, size_t max);
/* node__members_is_up: member id is alive or suspect (self: always). */
bool node__members_is_up(struct node *n, uint64_t id);
/* node__members_health_now: gossip this node's health at the next loop
 * iteration (its founding state changed), not at the next period. */
void node__members_health_now(struct node *n);
/* node__place picks the node a new deployment goes to (node_place.c,
 * node/cmd/placement.h): on names a node or is NULL/""; require[0..nreq)
 * the labels it must have (borrowed). NAOS_OK with *node_id; else err
 * says why (NAOS_EINVAL: no node will do). */
int node__place(struct node *n, const char *on,
                const struct spec_label *require, size_t nreq,
                uint64_t *node_id, char *err, size_t errlen);
/* node__place_other is node__place never picking the nodes
 * exclude[0..nexclude) (the root supervisor moves a deployment off the
 * node it gave up on, and off those that lack its program). */
int node__place_other(struct node *n, const char *on,
                      const struct spec_label *require, size_t nreq,
                      const uint64_t *exclude, size_t nexclude,
                      uint64_t *node_id, char *err, size_t errlen);
/* node__place_note counts a pick proposed at index until it is applied. */
void node__place_note(struct node *n, uint64_t index, uint64_t node_id);
/* node__members_founders: what the members (this node included) say about
 * founding the log with --bootstrap-expect expect (struct node_founders). */
void node__members_founders(struct node *n, uint32_t expect,
                            struct node_founders *f);
/* node__node_name: this node's name, a member's, or the id in hex (valid
 * until the next call). */
const char *node__node_name(struct node *n, uint64_t id);
/* node__members_live_load: whether member id is alive (not suspect) to
 * this node, or is this node; *load_centi its last gossiped load. */
bool node__members_live_load(struct node *n, uint64_t id,
                             uint32_t *load_centi);
/* node__members_labels copies member id's labels, as its last gossiped
 * health says, into out (capacity SPEC_LABELS_MAX) and returns how many
 * (0: none, no health yet, or a health refused as malformed). */
size_t node__members_labels(struct node *n, uint64_t id,
                            struct spec_label *out);
/* node__conf_members copies the members of the configuration in effect
 * (voters, then learners) into ids (NODE_MEMBERS_MAX) and returns how
 * many: the nodes that hold the log, run deployments and report status. */
size_t node__conf_members(const struct node *n, uint64_t *ids);
/* node__members_no_voter: member id said --no-voter in its last gossiped
 * health, or membership has no health of it yet (this node: its own
 * option): node_promote.c promotes only who said it may be a voter. */
bool node__members_no_voter(struct node *n, uint64_t id);
/* node__members_addr / _name: a member's advertised address and name, or
 * NULL when membership does not know it. */
const char *node__members_addr(struct node *n, uint64_t id);
const char *node__members_name(struct node *n, uint64_t id);
/* node__members_stats fills st; false (zeroed) without membership. */
bool node__members_stats(struct node *n, struct node_members_stats *st);
/* node__health_tally: the local health (agents, deployments, load); what
 * each count means is written above its definition (node_members.c). */
void node__health_tally(struct node *n, struct swim_health *h);

/* ---- the lease guardian (node_guardian.c) ---- */

/* The guardian kills at its deadline minus this (guardian.h: it covers a
 * SIGKILL's delivery and the clock-rate difference with the leader). */
#define NODE_GUARDIAN_MARGIN_MS 500
/* node__guardian_open starts the node's guardian (deadline
 * GUARDIAN_NEVER: it kills only on the node's death) and adds its channel
 * to the reactor. err gets a sentence on error (NAOS_ESYS, errno kept;
 * NAOS_ENOMEM). Before any worker can start. */
int node__guardian_open(struct node *n, char *errbuf, size_t errlen);
/* node__guardian_close stops the guardian without a kill and reaps it
 * (bounded: about 2 s at worst), logging how it ended. Call only once
 * every worker is stopped or SIGKILLed. Safe when none was started. */
void node__guardian_close(struct node *n);
/* node__guardian_is: pid is the guardian's (the orphan sweep must never
 * kill or reap it; guardian_free reaps it). */
bool node__guardian_is(const struct node *n, int pid);
/* node__guardian_check: the guardian's pid has exited (the sweep saw it):
 * notices the closed channel and replaces it. */
void node__guardian_check(struct node *n);
/* node__guardian_watch tells the guardian about worker pid (its own
 * process group leader: pgid == pid) whose pidfd is pidfd (borrowed).
 * NAOS_OK, or the worker must not run (the caller SIGKILLs its group):
 * NAOS_EBUSY (queue full), NAOS_ESYS, NAOS_ENOMEM, NAOS_ECLOSED (the
 * guardian is gone and could not be replaced: the node stops). A lost
 * guardian is replaced here (see node__guardian_extend). */
int node__guardian_watch(struct node *n, int pid, int pidfd,
                         bool at_death_only);
/* node__guardian_unwatch: worker pid's group is killed and its leader
 * reaped (finish_run). Never fails: a lost unwatch costs the guardian a
 * slot until it finds the group empty. */
void node__guardian_unwatch(struct node *n, int pid);
/* node__guardian_extend sets the guardian's kill deadline: absolute
 * CLOCK_BOOTTIME ms (guardian_clock_now, never naos_clock_now: the
 * monotonic clock stops while the machine sleeps), or GUARDIAN_NEVER.
 * The guardian SIGKILLs every worker group at deadline -
 * NODE_GUARDIAN_MARGIN_MS unless extended before then (so extend well
 * ahead); an earlier deadline than the last one kills earlier. The value
 * is remembered: a guardian started to replace a lost one starts with it
 * (and is told every live worker again). Until the lease work calls this,
 * the deadline stays GUARDIAN_NEVER. Returns NAOS_OK (sent, or queued in
 * the handle) or NAOS_ECLOSED (no guardian: the node is stopping).
 * Reactor thread. */
int node__guardian_extend(struct node *n, uint64_t deadline_boot_ms);

/* ---- status documents (node_status.c) ---- */

/* node__deployment_status builds dep's status document into rep (NULL when
 * out of memory: rep->failed is set). */
Naos__V1__DeploymentStatus *node__deployment_status(struct node *n,
                                                    struct ctl_reply *rep,
                                                    const struct sup_node *dep);
/* node__status_snap returns a new reference to dep's cached snapshot,
 * rebuilt first if dep changed since (NULL when out of memory). */
struct status_snap *node__status_snap(struct node *n,
                                      const struct sup_node *dep);
/* status_snap_unref drops a reference; any thread; NULL is fine. */
void status_snap_unref(struct status_snap *s);
/* node__status_snaps_forget drops the cached snapshot of top, which the
 * core is about to free (renders in flight keep theirs). */
void node__status_snaps_forget(struct node *n, const struct sup_node *top);
/* node__status_snaps_fini drops every cached snapshot. */
void node__status_snaps_fini(struct node *n);

/* ---- the command path (node_cmd.c) ---- */

/* node__cmd_open, at start once the tree exists and every listener is
 * bound: applies the committed entries not yet applied, then has the
 * reconciler bring in every deployment placed here. errbuf gets a
 * sentence on error (the store failed). */
int node__cmd_open(struct node *n, char *errbuf, size_t errlen);
/* node__cmd_close forgets waiters and frees the stages; safe if never
 * opened (after the control endpoints are closed). */
void node__cmd_close(struct node *n);
/* node__propose proposes c (borrowed; validated by the door) and, when
 * rep is not NULL, answers it once the entry is applied and reconciled:
 * req (may be NULL) is deferred, or, when it cannot be (or for HTTP), the
 * log is drained at once so rep is filled on return. Errors (nothing
 * proposed) are answered in rep too. Returns NAOS_OK when proposed. Never
 * call with a waiter (rep) from inside a sup_io callback. */
int node__propose(struct node *n, const Naos__V1__Command *c,
                  struct ctl_req *req, struct ctl_reply *rep);
/* node__dep_recorded: the applied state has a deployment name (placed on
 * any node). */
bool node__dep_recorded(struct node *n, const char *name);
/* node__propose_failed: deployment name gave up (escalate): propose the
 * failed mark, so a node restart brings it back failed. From io_event. */
void node__propose_failed(struct node *n, const char *name,
                          const char *failure);
/* node__cmd_open_log opens the replicated log with voters ids[0..nv)
 * (this node among them) and applies what is committed. */
int node__cmd_open_log(struct node *n, const uint64_t *ids, size_t nv,
                       char *errbuf, size_t errlen);
/* node__cmd_wait reserves a waiter for req (deferred here; rep is its
 * reply), or for the forwarded request being run (req NULL, rep its
 * reply), whose entry is not known yet; NULL when it cannot wait.
 * node__cmd_waiter_done answers it with what rep holds and frees it. */
/* node__stats_observe_command: a command proposed through this node was
 * answered us after its proposal (node_http.c, /metrics). */
void node__stats_observe_command(struct node *n, uint64_t us);
struct node_waiter *node__cmd_wait(struct node *n, struct ctl_req *req,
                                   struct ctl_reply *rep);
void node__cmd_waiter_done(struct node *n, struct node_waiter *w);
/* `naos status` of the cluster (node_cluster_status.c): _try answers a
 * status request of the whole cluster (true), gathering the other nodes'
 * reports; _reply takes a report (false: id is not a gathering's). */
bool node__cluster_status_try(struct node *n, struct ctl_req *creq,
                              const Naos__V1__Request *req,
                              struct ctl_reply *rep);
/* node__recorded_status: deployment name as the applied state has it
 * (no tree unless it runs here; "pending" when placed elsewhere), with
 * its node and epoch; NULL without a record. */
Naos__V1__DeploymentStatus *node__recorded_status(struct node *n,
                                                  struct ctl_reply *rep,
                                                  const char *name);
bool node__cluster_status_reply(struct node *n, uint64_t from, uint64_t id,
                                const uint8_t *reply, size_t len);
void node__cluster_status_tick(struct node *n);
naos_time node__cluster_status_deadline(struct node *n);
void node__cluster_status_close(struct node *n);
/* node__send_pb packs m and seals it as type to member `to` (its
 * advertised address): NAOS_OK, NAOS_ENOTFOUND (no address, no
 * transport), NAOS_ENOMEM, or wire_send's error. */
int node__send_pb(struct node *n, uint64_t to, uint32_t type,
                  const ProtobufCMessage *m);
/* node__forward_status_local asks node `to` for its own trees (`status
 * --local`), the answer coming back with id (node_forward.c). */
int node__forward_status_local(struct node *n, uint64_t to, uint64_t id);
/* A follower's command relayed to the leader (node_relay.c):
 * node__relay_propose sends the packed command cmd[0..len) to leader; rep
 * NULL: nobody waits (fire and forget); else req is deferred and answered
 * once this node applies the entry (or with "outcome unknown" after
 * RELAY_TIMEOUT_MS). NAOS_OK: sent (req deferred); NAOS_ECLOSED: req
 * cannot wait here (the caller answers); else rep holds the error. */
int node__relay_propose(struct node *n, uint64_t leader, const uint8_t *cmd,
                        size_t len, struct ctl_req *req,
                        struct ctl_reply *rep);
bool node__relay_recv(struct node *n, const struct wire_msg *m);
void node__relay_tick(struct node *n);
naos_time node__relay_deadline(struct node *n);
/* node__cmd_leadership_lost answers whoever waits for an entry above the
 * commit index with "outcome unknown" (this node stopped leading). */
void node__cmd_leadership_lost(struct node *n);
/* node__cmd_fatal: a store commit failed (what: for the log); the node
 * stops with exit 111 and everyone waiting is told. */
void node__cmd_fatal(struct node *n, const char *what);
/* node__cmd_snapshot_installed: the store now holds a snapshot of the
 * state after entry index (from: the sender's name): waiters it covers
 * are told the outcome is unknown, and the trees are reconciled. */
void node__cmd_snapshot_installed(struct node *n, uint64_t index,
                                  const char *from);

/* The replicated log's glue (node_raft.c). */
/* node__raft_voters sets the voters to open the log with (n->voters,
 * n->nvoters): the founded configuration, or this node alone; none while
 * --bootstrap-expect waits for the founders (n->forming) or while `join`
 * (join) waits to be taken in (n->joining, node_join.c). Called before
 * the node joins the gossip (listening: it will), so that a data
 * directory that cannot found is refused before anyone sees the node.
 * err gets a sentence. */
int node__raft_voters(struct node *n, bool listening, bool join, char *err,
                      size_t errlen);
/* node__raft_step: founding, the core's timers, then a flush. */
void node__raft_step(struct node *n);
naos_time node__raft_deadline(struct node *n);
/* node__raft_flush persists and sends what the core has ready. */
void node__raft_flush(struct node *n);
/* node__raft_conf_sync copies the core's configuration in effect into
 * n->voters and n->learners when it changed (and sets n->replicated once
 * it has more than this node). */
void node__raft_conf_sync(struct node *n);
/* The transport's handler for 64..95, and cmdraft's callbacks. */
bool node__raft_recv(void *arg, const struct wire_msg *m);
void node__raft_send(void *ctx, const struct raft_msg *m);
void node__raft_event(void *ctx, const struct raft_event *ev);
void node__raft_close(struct node *n);
/* Commands from any node (node_forward.c). node__forward_try forwards an
 * operator's mutating request to the leader when this node follows one
 * (true: answered or deferred; false: handle it here). */
bool node__forward_try(struct node *n, struct ctl_req *creq,
                       const Naos__V1__Request *req, struct ctl_reply *rep);
/* node__forward_http: the same for an HTTP API command: FWD_SENT (hw
 * waits: node__http_wait_done answers it), FWD_ANSWERED (rep filled at
 * once: why not), FWD_NO (answer here). */
enum node_fwd_outcome { FWD_NO, FWD_ANSWERED, FWD_SENT };
enum node_fwd_outcome node__forward_http(struct node *n,
                                         const Naos__V1__Request *req,
                                         struct node_http_wait *hw,
                                         struct ctl_reply *rep);
/* node__http_close frees what node_http.c keeps (node_close). */
void node__http_close(struct node *n);
/* node__cluster_status_http starts gathering the cluster's status for an
 * HTTP API request (answered by node__http_wait_done): NAOS_OK, NAOS_EBUSY
 * (every gathering slot taken), NAOS_EINVAL (no cluster). */
int node__cluster_status_http(struct node *n, struct node_http_wait *hw);
/* node_http.c: the reply arena of hw, and its answer once the forward
 * came back (or timed out) with it filled; hw is freed. */
struct ctl_reply *node__http_wait_reply(struct node_http_wait *hw);
void node__http_wait_done(struct node *n, struct node_http_wait *hw);
/* node__http_wait_drop frees hw unanswered (the node closes). */
void node__http_wait_drop(struct node_http_wait *hw);
bool node__forward_recv(void *arg, const struct wire_msg *m);

/* ---- linearizable reads (node_read.c) ---- */

/* node__read_try: on a node of several voters, takes the operator's
 * `checkpoint load` (defers creq, or the forwarded job being dispatched,
 * n->fwd_job) and answers it once a read index is confirmed (ReadIndex)
 * and applied here; true when it took or answered the request. false:
 * answer locally (one voter, another request, nothing to defer: HTTP). */
bool node__read_try(struct node *n, struct ctl_req *creq,
                    const Naos__V1__Request *req, struct ctl_reply *rep);
/* node__read_done: cmdraft's read_done callback (cmdraft.h). */
void node__read_done(void *ctx, const struct raft_read_result *res);
/* node__read_recv: Sealed.type 98/99 (from node__forward_recv). */
bool node__read_recv(struct node *n, const struct wire_msg *m);
/* node__read_step answers reads that are ready or failed or timed out;
 * every loop iteration (from node__forward_tick). */
void node__read_step(struct node *n);
naos_time node__read_deadline(struct node *n);
void node__read_close(struct node *n);
/* node__checkpoint_load_now answers the operator's load of name's
 * checkpoint from this node's store, in rep (node_ctl.c). */
void node__checkpoint_load_now(struct node *n, const char *name,
                               struct ctl_reply *rep);
void node__forward_tick(struct node *n);
naos_time node__forward_deadline(struct node *n);
void node__forward_job_done(struct node *n, struct node_fwd_job *job);
void node__forward_close(struct node *n);

/* ---- node_conf.c: changes of the cluster's configuration ---- */

/* node__nodes_remove answers `naos nodes remove NAME` (creq: the request
 * to defer until the change is applied; NULL: answered at once). */
void node__nodes_remove(struct node *n, struct ctl_req *creq,
                        const Naos__V1__NodesRemoveRequest *req,
                        struct ctl_reply *rep);

/* ---- node_join.c: a new node joins the cluster's log as a learner ---- */

#define NODE_JOIN_TYPE 102u       /* JoinRequest (proto/forward.proto) */
#define NODE_JOIN_REPLY_TYPE 103u /* JoinReply */
/* node__join_recv takes a join request (any member: the leader answers,
 * the others say who leads) or its reply (the joiner). false: not one. */
bool node__join_recv(struct node *n, const struct wire_msg *m);
/* node__join_step: a joining node asks again when it is time (each loop
 * iteration). */
void node__join_step(struct node *n);
naos_time node__join_deadline(const struct node *n);

/* ---- node_root.c: the root supervisor on the leader (issue 12) ---- */

/* node__root_step (each loop iteration): the leader moves deployments
 * that gave up on their node to another one (node/root/root.h decides,
 * a MigrateCommand carries it out). */
void node__root_step(struct node *n);
naos_time node__root_deadline(const struct node *n);
/* node__root_due: something it acts on was applied: look now. */
void node__root_due(struct node *n);
/* node__drain_step (each loop iteration): a drained node releases each
 * placement whose tree is gone (node_drain.c). node__drain_dirty: a
 * drain command or a snapshot was applied, or the node starts: read the
 * drain record again. */
void node__drain_step(struct node *n);
naos_time node__drain_deadline(const struct node *n);
void node__drain_dirty(struct node *n);
/* node__drain_request answers `naos drain|undrain NAME` (an operator's):
 * proposed as a DrainCommand, answered once applied. */
void node__drain_request(struct node *n, struct ctl_req *creq,
                         const Naos__V1__DrainRequest *req,
                         struct ctl_reply *rep);
/* node__drain_annotate sets each member's drained mark and count of
 * placements in nr, from the applied state. */
void node__drain_annotate(struct node *n, Naos__V1__NodesReply *nr);
/* node__member_named: the member of the configuration named name (its
 * name as membership knows it, or its 16-hex-digit id), or 0. */
uint64_t node__member_named(struct node *n, const char *name);
/* node__root_limits: rec's migration limits as recorded (absent: the
 * defaults, for records written before they existed). */
void node__root_limits(const Naos__V1__DeploymentRecord *rec, uint32_t *max,
                       int64_t *window);

/* ---- node_lease.c: leases on placements (issue 12) ---- */

#define NODE_LEASE_TYPE 104u       /* LeaseRequest (proto/forward.proto) */
#define NODE_LEASE_GRANT_TYPE 105u /* LeaseGrant */
#define NODE_LEASE_CERT_TYPE 106u  /* LeaseCertificate */
/* node__lease_open: the log opened as a cluster's: the node holds a lease
 * from now on, and is fenced (runs nothing) until its first grant. Call
 * before the first reconcile_all. */
void node__lease_open(struct node *n);
/* node__lease_step (each loop iteration): renew when due, lead the
 * rounds of grants, fence or unfence. */
void node__lease_step(struct node *n);
naos_time node__lease_deadline(const struct node *n);
/* node__lease_recv takes a request (the leader) or a grant (the holder).
 * false: not one, or undecodable. */
bool node__lease_recv(struct node *n, const struct wire_msg *m);
/* node__lease_read_done: res is a round of grants' (true), or a read's. */
bool node__lease_read_done(struct node *n, const struct raft_read_result *res);
/* node__lease_may_run: this node may run its deployments now (it holds
 * no leases, or its lease holds, read afresh on the clock, and it has
 * applied what the grant said). */
bool node__lease_may_run(const struct node *n);
/* node__lease_exit_ready: the node stops (every worker stopped and
 * reaped): true when it may exit now; false: call again by *wake (loop
 * clock). A member first fences itself (nothing is brought in any more),
 * kills what still carries its run's mark (helpers that left their
 * group) until none is left (at most NODE_RELEASE_CLEAR_MS, else no
 * hand-over: its work moves when its lease runs out), then hands its
 * placements over: a follower sends the leader a certificate of its own
 * instance, as its guardian would after a crash, and gives it
 * NODE_RELEASE_WAIT_MS to leave; a leader has its own root move them and
 * waits (at most NODE_RELEASE_LEAD_MS) until nothing is placed on it,
 * then NODE_RELEASE_WAIT_MS for the followers to hear the commit. It
 * asks for no renewal from then on. A second stop signal skips all
 * this. */
bool node__lease_exit_ready(struct node *n, naos_time *wake);
#define NODE_RELEASE_CLEAR_MS 1000
#define NODE_RELEASE_WAIT_MS 100
#define NODE_RELEASE_LEAD_MS 3000
/* node__lease_exempt: worker w's deployment runs on without a lease
 * (`--on-partition keep`): never fenced, its guardian kills it only at
 * the node's death. */
bool node__lease_exempt(const struct sup_node *w);
/* node__lease_expired: on the leader, node's lease has run out for sure
 * (its placements may move); *at: when it runs out (NAOS_TIME_NEVER: not
 * this leader's to tell, or this node). */
bool node__lease_expired(const struct node *n, uint64_t node, naos_time *at);

/* ---- node_certify.c: a dead node's guardian tells the cluster ---- */

/* node__certify_plan_path: RUN/certify.plan (the guardian's argument). */
void node__certify_plan_path(const struct node *n, char *buf, size_t len);
/* node__certify_plan_step (each loop iteration): keeps the plan current
 * while the node holds leases (looked at every second). */
void node__certify_plan_step(struct node *n);
void node__certify_close(struct node *n);

/* ---- node_promote.c: learners become voters up to the target ---- */

/* node__promote_step (each loop iteration): the leader promotes a live,
 * caught-up learner when that brings the voters towards their target
 * without leaving them at an even count (node_promote.c). */
void node__promote_step(struct node *n);
naos_time node__promote_deadline(const struct node *n);

/* ---- node_raft_snap.c: snapshots for a voter behind the log ---- */

/* Sealed types in the Raft range (wire.h), above the core's (65..70). */
#define NODE_SNAP_CHUNK_TYPE 80u
#define NODE_SNAP_ACK_TYPE 81u
/* node__raft_snap_recv takes a chunk or an acknowledgement (m borrowed).
 * false: refused (counted by the transport). */
bool node__raft_snap_recv(struct node *n, const struct wire_msg *m);
/* node__raft_snap_step: start, re-send or drop transfers (each loop). */
void node__raft_snap_step(struct node *n);
naos_time node__raft_snap_deadline(const struct node *n);
void node__raft_snap_close(struct node *n);

/* ---- node_snapfile.c: the applied state in an unnamed file ---- */

struct node_snapfile;
/* node_snapfile_done_fn: the file is written (or failed: see
 * node__snapfile_result), on the loop. f stays the caller's to free. */
typedef void (*node_snapfile_done_fn)(struct node *n, struct node_snapfile *f,
                                      void *arg);
/* node__snapfile_open_unnamed: a new file of the data directory without a
 * name (read-write), in *out. NAOS_OK or NAOS_ESYS (errno kept). */
int node__snapfile_open_unnamed(struct node *n, int *out);
/* node__snapfile_save starts writing the applied state (store/snapshot.h)
 * into a new unnamed file, on a thread of its own; done is called on the
 * loop when it ends. NAOS_OK (*out set), else err says why. */
int node__snapfile_save(struct node *n, node_snapfile_done_fn done, void *arg,
                        struct node_snapfile **out, char *err, size_t errlen);
/* node__snapfile_free drops f and its file (waits for its thread if it
 * still writes: only when the node stops). NULL is fine. */
void node__snapfile_free(struct node_snapfile *f);
/* node__snapfile_abandon drops f without waiting for its thread: done is
 * not called, and f is freed when the thread ends (or at
 * node__snapfile_close_all, when the node stops). NULL is fine. */
void node__snapfile_abandon(struct node_snapfile *f);
void node__snapfile_close_all(struct node *n);
bool node__snapfile_running(const struct node_snapfile *f);
/* node__snapfile_result: the save's outcome, *err its message. */
int node__snapfile_result(const struct node_snapfile *f, const char **err);
const struct snap_info *node__snapfile_info(const struct node_snapfile *f);
uint64_t node__snapfile_write_ms(const struct node_snapfile *f);
/* node__snapfile_pread reads len bytes at offset of the written file.
 * NAOS_OK or NAOS_ESYS (errno kept; EIO when it is shorter). */
int node__snapfile_pread(const struct node_snapfile *f, void *buf, size_t len,
                         uint64_t offset);

/* ---- node_snapshot.c: `naos snapshot save` ---- */

/* node__snapshot_request answers a SnapshotRequest (begin, page,
 * release; see proto/naos.proto); a begin is deferred on creq (NULL:
 * refused, not a control request) until its file is written. Reactor
 * thread. */
void node__snapshot_request(struct node *n, struct ctl_req *creq,
                            const Naos__V1__SnapshotRequest *req,
                            struct ctl_reply *rep);
/* node__snapshot_close drops a save under way (its file goes with it). */
void node__snapshot_close(struct node *n);
/* node__raft_no_leader writes into buf (caller buffer + len) why a
 * command finds no leader: an election under way, or (membership sees
 * no majority of the voters alive) a lost majority, which lasts until
 * enough voters are back or the cluster is recovered. */
void node__raft_no_leader(struct node *n, char *buf, size_t len);

/* node__raft_caught_up: a catching-up node has applied up to the
 * leader's commit index. */
bool node__raft_caught_up(struct node *n);
/* node__raft_conn_closed: the transport saw the connection to member id
 * close (its process likely died): Raft's closed-leader fast path. */
void node__raft_conn_closed(struct node *n, uint64_t id);

/* node__cmd_step applies what is committed and answers the waiters; once
 * per loop iteration. */
void node__cmd_step(struct node *n);
/* node__cmd_pending: committed entries wait to be applied. */
bool node__cmd_pending(const struct node *n);
/* node__cmd_reply words the answer to command c once applied (ar) and
 * reconciled (ro), as the CLI has always shown it (node_ctl.c). */
void node__cmd_reply(struct node *n, const Naos__V1__Command *c,
                     const struct apply_result *ar,
                     const struct reconcile_outcome *ro,
                     struct ctl_reply *rep);
/* node__path_reply: the same for a path command (node_path_ctl.c). */
void node__path_reply(struct node *n, const char *path, const char *verb,
                      const struct reconcile_outcome *ro,
                      struct ctl_reply *rep);

/* node__handle_request answers one control request at once, with the
 * operator's rights (node_ctl.c): the HTTP API's way in. */
void node__handle_request(void *arg, const Naos__V1__Request *req,
                          struct ctl_reply *rep);
/* node__ctl_request: the ctl_handler of the control socket (node_ctl.c):
 * the operator's requests; refused when they come from a worker run not
 * granted control (or from what a worker left behind). */
void node__ctl_request(void *arg, struct ctl_req *req);
/* node__agent_request: the ctl_handler of the agent endpoint (node_ctl.c):
 * each worker run's requests about itself (its checkpoint, its status). */
void node__agent_request(void *arg, struct ctl_req *req);
/* struct node_client: a client's command id, from its request
 * (Request.client_id and .client_seq), carried into the Command it
 * proposes and deduplicated by apply; {0, 0}: none (the HTTP API, the
 * node's own commands). */
struct node_client {
    uint64_t id, seq;
};

/* node__handle_path_cmd takes `naos stop|start|restart PATH` (verb
 * "stop", "start" or "restart"; "rm" is refused) for a PATH below a
 * deployment's top (node_path_ctl.c): checked, then proposed as client
 * cl's command (req may be NULL: see node__propose). */
void node__handle_path_cmd(struct node *n, struct ctl_req *req,
                           const char *path, const char *verb,
                           struct node_client cl, struct ctl_reply *rep);

/* node__cmd_answer_retry answers a client's command that the state
 * machine has carried out already (node_cmd.c): when client cl's record
 * (store/clients.h) holds cl.seq or a later one, rep gets that first
 * attempt's outcome, as node__cmd_reply words it (or INVALID for an id
 * used by another command: cmd_case and target name what this request
 * asks), and it returns true; false: go on (not a retry, or its first
 * attempt is not applied here yet: proposing it again is safe, apply
 * deduplicates). */
bool node__cmd_answer_retry(struct node *n, struct node_client cl,
                            uint32_t cmd_case, const char *target,
                            struct ctl_reply *rep);
/* node__events_flush writes the events recorded since the last flush to
 * the store, in one synced commit of its own. The loop's before-sleep
 * commit (store/batch.h) writes them as part of the iteration's one
 * transaction at most every NODE_EVENTS_FLUSH_MS (or once half the ring
 * waits), so a crash loop does not pay a commit per restart; an events
 * reply calls node__events_flush first when its cursor (`next`) is past
 * what is written, so an event anyone saw, and every number up to a
 * cursor anyone holds, survives any crash (and is never given again);
 * close flushes the rest. At most NODE_EVENTS_KEPT are kept in the
 * store. A crash loses at most the unseen events of the last
 * NODE_EVENTS_FLUSH_MS. */
void node__events_flush(struct node *n);
/* node__events_deadline: when the before-sleep commit has events to write
 * (NEVER: none). */
naos_time node__events_deadline(const struct node *n);
/* node__stop begins a graceful stop (SIGTERM, `naos-node leave`): leave
 * the cluster first when in one, then stop every deployment; node_run
 * returns once all is quiet. Idempotent. */
void node__stop(struct node *n);
/* node__wall_of: the wall-clock time (ms since the epoch) of monotonic
 * instant at, for people, from the loop iteration's cached clock
 * (n->r.now and n->r.wall_ms) (node.c). Reactor thread. */
int64_t node__wall_of(const struct node *n, naos_time at);

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
