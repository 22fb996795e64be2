/* SPDX-License-Identifier: Apache-2.0 */
/* root.h: the cluster's root supervisor, the decision part (issue 12).
 * Pure: no clock, store or socket; the node's glue (node/node_root.c)
 * hands it a deployment as the applied state records it and the wall
 * clock of the leader's loop, and acts on the verdict.
 *
 * Escalation moves work. A deployment whose top supervisor gave up on
 * its node (the FAIL entry recorded failed_node and failed_at_ms) is
 * moved to another node, at most max_migrations times within
 * migration_window (the moves the record keeps, migrations_at_ms); the
 * first move goes at once, each later one waits a backoff after the
 * failure that calls for it (1 s, doubling, at most ROOT_BACKOFF_MAX_MS:
 * a deployment that fails everywhere does not hop at the pace of its own
 * restarts). Past the limit it stays failed, with its history, until
 * `naos start NAME` clears both. A failure for lack of its program or
 * working directory on that node (missing) is not the agent's doing: it
 * is moved at once and the move does not count (the glue then never
 * picks a node it lacked them on, so this ends when every node has been
 * tried). Whether another node will take it
 * (placement constraints, liveness) is the glue's question, asked with
 * the node that gave up excluded: no other node, and it stays failed. */
#ifndef NAOS_ROOT_ROOT_H
#define NAOS_ROOT_ROOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROOT_BACKOFF_MIN_MS 1000
#define ROOT_BACKOFF_MAX_MS 60000

/* struct root_dep: one deployment as the applied state records it
 * (borrowed for the call). */
struct root_dep {
    bool failed;              /* gave up (and not started again since) */
    bool stopped;             /* its desired state is stopped */
    uint64_t failed_node;     /* the node it gave up on (0: unknown) */
    bool missing;             /* ... for lack of its program or directory
                                 there */
    int64_t failed_at_ms;     /* when (wall clock of the FAIL entry) */
    const int64_t *moves_at_ms; /* its moves, oldest first */
    size_t nmoves;
    uint32_t max_migrations;  /* within ... */
    int64_t window_ms;        /* ... this window */
};

enum root_verdict {
    ROOT_KEEP = 0,  /* nothing to do: it runs, is stopped, or no node
                       is known to have failed it */
    ROOT_MOVE,      /* move it now (to a node other than failed_node;
                       uncounted: a move for a missing program) */
    ROOT_WAIT,      /* move it at wait_until_ms (backoff) */
    ROOT_EXHAUSTED, /* max_migrations moves within the window: it stays
                       failed */
};

struct root_decision {
    enum root_verdict verdict;
    int64_t wait_until_ms;    /* ROOT_WAIT */
    uint32_t moves_in_window; /* the moves that count now */
    bool uncounted;           /* ROOT_MOVE: not one of max_migrations */
};

/* root_escalation decides what the root does about d at now_ms. */
void root_escalation(const struct root_dep *d, int64_t now_ms,
                     struct root_decision *out);

/* root_moves_in_window: how many of moves_at_ms[0..n) fall within
 * (now - window_ms, now] (or later: a clock that went back counts them). */
uint32_t root_moves_in_window(const int64_t *moves_at_ms, size_t n,
                              int64_t window_ms, int64_t now_ms);

/* root_backoff_ms: the wait before the move that follows k moves in the
 * window (0 for the first). */
int64_t root_backoff_ms(uint32_t k);

/* root_verdict_name: "keep", "move", "wait", "exhausted". */
const char *root_verdict_name(enum root_verdict v);

#endif
