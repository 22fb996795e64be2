/* SPDX-License-Identifier: Apache-2.0 */
/* spec.h: the child spec tree of a deployment, as plain C data.
 *
 * A deployment is a tree of spec_node. The root is the deployment's top
 * supervisor (its id is the deployment name). Supervisors have children;
 * workers have a command. This module owns defaults, validation and freeing;
 * spec_yaml.c parses YAML into it; proto/spec_pb.c converts it to and from
 * the wire. It has no dependency on any library. */
#ifndef NAOS_SPEC_SPEC_H
#define NAOS_SPEC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/base/time.h"
#include "node/spec/label.h"

enum spec_strategy {
    SPEC_ONE_FOR_ONE = 0,
    SPEC_ONE_FOR_ALL,
    SPEC_REST_FOR_ONE,
    SPEC_SIMPLE_ONE_FOR_ONE,
};

enum spec_restart {
    SPEC_PERMANENT = 0, /* always restarted, even after a clean exit */
    SPEC_TRANSIENT,     /* restarted only after an abnormal exit */
    SPEC_TEMPORARY,     /* never restarted; dropped when it ends */
};

enum spec_ready {
    SPEC_READY_EXEC = 0, /* started as soon as exec succeeded */
    SPEC_READY_NOTIFY,   /* started when it sends READY=1 on NOTIFY_SOCKET */
};

enum spec_output {
    SPEC_OUTPUT_LOG = 0, /* stdout+stderr to the worker's rotated log */
    SPEC_OUTPUT_DISCARD, /* to /dev/null: no log, one node fd fewer */
};

/* What a worker may ask of its node through the control endpoint. */
enum spec_control {
    SPEC_CONTROL_NONE = 0, /* its own checkpoint and status only: NAOS_CTL
                              is the agent endpoint (default) */
    SPEC_CONTROL_FULL,     /* what the operator may: NAOS_CTL is the full
                              control socket (deploy, rm, ... any
                              deployment) */
};

/* Shutdown: SPEC_SHUTDOWN_KILL = SIGKILL at once (OTP brutal_kill);
 * SPEC_SHUTDOWN_INFINITY = stop signal, wait forever (default and only
 * value for supervisors); otherwise ms to wait after SIGTERM before SIGKILL. */
#define SPEC_SHUTDOWN_KILL ((naos_duration)-1)
#define SPEC_SHUTDOWN_INFINITY ((naos_duration)-2)

/* Limits that keep one spec from exhausting the node (docs/architecture.md,
 * "Limits"). A deployment's workers cost the node processes and a
 * descriptor each, and every node of the tree memory and time to build:
 * 10,000 workers is what bench/http and bench/bigtree run on one node. */
#define SPEC_MAX_DEPTH 32
#define SPEC_MAX_ID_LEN 63
#define SPEC_MAX_CHILDREN 10000 /* children of one supervisor (pool: replicas) */
#define SPEC_MAX_REPLICAS SPEC_MAX_CHILDREN
#define SPEC_MAX_WORKERS 10000  /* workers of one deployment, replicas counted */
#define SPEC_MAX_NODES 20000    /* supervisors + workers, replicas counted */
/* Intensity: "more than max_restarts within window" is kept in memory that
 * grows with the restarts actually in the window (sup/intensity.h), at most
 * min(max_restarts, window) + 1 entries of 16 bytes: 1.4 MB. */
#define SPEC_LIMIT_MAX_RESTARTS 1000000
#define SPEC_LIMIT_WINDOW_S 86400 /* 24 hours */

/* Defaults. Intensity: 5 restarts in 300 s, for tree files and `naos
 * deploy` alike (OTP's 1 in 5 s gives up on an agent that fails twice
 * while a model API hiccups). Worker shutdown 5000 ms as in OTP. */
#define SPEC_DEFAULT_MAX_RESTARTS 5
#define SPEC_DEFAULT_WINDOW_S 300
#define SPEC_DEFAULT_SHUTDOWN_MS 5000
#define SPEC_DEFAULT_START_TIMEOUT_MS 30000

struct spec_node {
    char *id; /* [A-Za-z0-9_.-]{1,63}; the deployment name at the root */
    bool is_supervisor;
    enum spec_restart restart; /* how the parent treats this child's exits */
    naos_duration shutdown;    /* ms, or SPEC_SHUTDOWN_KILL/INFINITY */
    /* Optional restart backoff before this child is started again: 0/0 =
     * none (restart at once). Exponential from min to max, with jitter. */
    naos_duration backoff_min;
    naos_duration backoff_max;

    /* worker only */
    char **argv; /* NULL-terminated; argv[0] is looked up in PATH */
    size_t argc;
    char **env; /* NULL-terminated "KEY=VALUE" strings added to the child's */
    size_t envc;
    char *cwd;                   /* NULL = the node's working directory */
    enum spec_ready ready;
    naos_duration start_timeout; /* READY=1 must arrive within this */
    naos_duration watchdog;      /* 0 = off; else WATCHDOG=1 at least this often */
    naos_duration max_runtime;   /* 0 = unlimited; else the run is ended (reason timeout) */
    enum spec_output output;
    enum spec_control control; /* granted by the operator, per worker */

    /* supervisor only */
    enum spec_strategy strategy;
    uint32_t max_restarts; /* intensity: more than this many in window = give up */
    uint32_t window_s;     /* period, whole seconds, >= 1 */
    uint32_t replicas;     /* simple-one-for-one: workers made from children[0] */
    struct spec_node *children; /* array of nchildren, start order */
    size_t nchildren;

    /* root only: the node (by name) the cluster's leader must place the
     * deployment on; NULL = the least loaded (placement.h) */
    char *place_on;
    /* root only: labels the node must have, each with the same value
     * (label.h bounds: at most SPEC_LABELS_MAX); NULL/0 = any node */
    struct spec_label *require;
    size_t nrequire;
    /* root only: when the deployment gives up on its node, the cluster's
     * root supervisor moves it to another node, at most max_migrations
     * times within migration_window (ms); past that it stays failed
     * (`naos deploy --max-migrations N --migration-window T`, a tree's
     * `migration: {max: N, window: T}`). Defaults SPEC_MIGRATIONS_DEFAULT
     * in SPEC_MIGRATION_WINDOW_DEFAULT; 0 moves: never moved. */
    uint32_t max_migrations;
    naos_duration migration_window;
    /* root only: when its node holds no lease (cut off from the voter
     * majority), the deployment keeps running instead of being stopped
     * (`--on-partition keep`, `on_partition: keep`): for idempotent
     * agents that may run twice (the root supervisor may start it
     * elsewhere meanwhile). false: stopped at the lease's end. */
    bool on_partition_keep;
};

#define SPEC_MIGRATIONS_DEFAULT 3u
#define SPEC_MIGRATIONS_MAX 100u
#define SPEC_MIGRATION_WINDOW_DEFAULT (3600 * 1000)       /* 1 h */
#define SPEC_MIGRATION_WINDOW_MIN 1000                   /* 1 s */
#define SPEC_MIGRATION_WINDOW_MAX (7 * 24 * 3600 * 1000LL) /* 7 days */

/* spec_node_init sets n to the defaults of a worker (permanent, 5 s
 * shutdown, ready on exec, no watchdog) with no id and no command. Both
 * inits set the migration limits to their defaults, the only values a
 * node below the root may have. */
void spec_node_init(struct spec_node *n);
/* spec_node_init_supervisor sets n to the defaults of a supervisor
 * (one-for-one, 5 restarts in 300 s, shutdown infinity, permanent). */
void spec_node_init_supervisor(struct spec_node *n);
/* spec_node_fini frees everything n owns (recursively) and zeroes it; safe
 * on a zeroed or half-built node. Does not free n itself. */
void spec_node_fini(struct spec_node *n);
/* spec_node_copy deep-copies src into *dst (caller storage). Returns
 * NAOS_OK or NAOS_ENOMEM (dst then holds nothing to free). */
int spec_node_copy(struct spec_node *dst, const struct spec_node *src);

/* spec_validate checks a whole deployment tree rooted at root: ids valid and
 * unique among siblings, workers have a command and no children, supervisors
 * have no command, window_s >= 1, simple-one-for-one has exactly one child
 * (the template) which is a worker, depth and sizes within the limits
 * above (children per supervisor, workers and nodes per deployment, pool
 * replicas counted), max_restarts and window within theirs, backoff
 * min <= max, supervisors not given a finite shutdown, placement (on,
 * require) only at the root and within label.h's bounds, migration limits
 * other than the defaults only at the root, max_migrations at most
 * SPEC_MIGRATIONS_MAX and migration_window within SPEC_MIGRATION_WINDOW_MIN
 * and _MAX. On failure returns NAOS_EINVAL and writes a message naming the
 * offending path and field (e.g. "research/tools/scraper: command: must not
 * be empty") into errbuf (caller buffer + length). Borrows root. */
int spec_validate(const struct spec_node *root, char *errbuf, size_t errlen);

/* spec_strategy_name / spec_restart_name / spec_ready_name return the
 * canonical spelling ("one-for-one", "permanent", "notify"). */
const char *spec_strategy_name(enum spec_strategy s);
const char *spec_restart_name(enum spec_restart r);
const char *spec_ready_name(enum spec_ready r);
/* spec_output_name: "log", "discard". */
const char *spec_output_name(enum spec_output o);
/* spec_control_name: "none", "full". */
const char *spec_control_name(enum spec_control c);
/* spec_strategy_parse etc. accept the canonical spelling and the OTP one
 * with underscores ("one_for_one"). Return false on anything else. */
bool spec_strategy_parse(const char *s, enum spec_strategy *out);
bool spec_restart_parse(const char *s, enum spec_restart *out);
bool spec_ready_parse(const char *s, enum spec_ready *out);
bool spec_output_parse(const char *s, enum spec_output *out);
bool spec_control_parse(const char *s, enum spec_control *out);
/* spec_shutdown_parse accepts "kill"/"brutal_kill", "infinity" or a
 * duration ("5s", "500ms"). */
bool spec_shutdown_parse(const char *s, naos_duration *out);

/* spec_id_is_valid: 1..63 chars of [A-Za-z0-9_.-], not "." or "..". */
bool spec_id_is_valid(const char *id);

#endif
