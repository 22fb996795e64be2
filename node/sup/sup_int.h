/* SPDX-License-Identifier: Apache-2.0 */
/* sup_int.h: private to the sup module (sup.c, sup_node.c). The tree,
 * node flags and plan constants, and the node/heap/mailbox helpers of
 * sup_node.c. Nothing here is part of the contract in sup.h. */
#ifndef NAOS_SUP_SUP_INT_H
#define NAOS_SUP_SUP_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "node/sup/sup.h"

struct sup_tree {
    struct sup_io io;
    struct sup_node *deps;  /* oldest first, linked by dep_next */
    struct sup_node **heap; /* deadline min-heap */
    size_t heap_len, heap_cap;
    size_t nnodes, nworkers, nprocs;
    struct sup_node *grave; /* removed nodes, linked by mbox_next */
    uint64_t version;       /* last version handed to a deployment */
    /* Slices (sup_set_slice): the budget of one call, and what is left of
     * it in the current call; UINT32_MAX = unlimited. */
    uint32_t slice_spawns, slice_signals;
    uint32_t left_spawns, left_signals;
    /* Supervisors whose plan ran out of budget, oldest first (resume_prev/
     * resume_next, flag SUP__F_RESUME); sup_tick carries them on. */
    struct sup_node *resume_head, *resume_tail;
    naos_time resume_at; /* the time of the call that queued the last one */
    size_t ntrouble;     /* workers waiting out node trouble (SUP__F_TROUBLE) */
    size_t nspawning;    /* workers whose spawn the driver has yet to report
                            (SUP__F_SPAWNING) */
};

/* Node flags. */
enum {
    SUP__F_STOP_REQ = 1u << 0,   /* its supervisor (or the operator) stops it */
    SUP__F_STARTING = 1u << 1,   /* a start under way, awaited by the parent */
    SUP__F_PLAN_STOP = 1u << 2,  /* in the parent's current stop set */
    SUP__F_PLAN_START = 1u << 3, /* in the parent's current start set */
    SUP__F_MB_EXIT = 1u << 4,    /* queued in the parent's mailbox: it ended */
    SUP__F_MB_RETRY = 1u << 5,   /* queued: retry its failed restart */
    SUP__F_SYNC = 1u << 6,       /* the parent awaits this supervisor in-call */
    SUP__F_RES_OK = 1u << 7,     /* in-call result: started */
    SUP__F_RES_FAIL = 1u << 8,   /* in-call result: start failed */
    SUP__F_RES_DONE = 1u << 9,   /* in-call result: stopped */
    SUP__F_BACKOFF = 1u << 10,   /* waiting for its backoff delay */
    SUP__F_FANNED = 1u << 11,    /* pool stop: stop signals sent to all */
    SUP__F_DEAD = 1u << 12,      /* in the graveyard */
    SUP__F_COUNTED = 1u << 13,   /* counted in the tree's totals */
    SUP__F_RESUME = 1u << 14,    /* queued to resume its plan (slices) */
    SUP__F_TROUBLE = 1u << 15,   /* worker: its start waits out node trouble */
    SUP__F_HELD = 1u << 16,      /* stopped by the operator (sup_child_stop):
                                    no plan of its supervisor starts it */
    SUP__F_MB_START = 1u << 17,  /* queued: the operator starts it */
    SUP__F_OP_RESTART = 1u << 18, /* held for an operator restart: start it
                                     once its stop completed */
    SUP__F_FAN_PENDING = 1u << 19, /* its stop is counted in the pool
                                      parent's plan_pending */
    SUP__F_SPAWNING = 1u << 20,  /* worker: its spawn is under way in the
                                    driver (SUP_SPAWN_PENDING); a process may
                                    exist that the core has no pid for */
};
#define SUP__F_MB (SUP__F_MB_EXIT | SUP__F_MB_RETRY | SUP__F_MB_START)
#define SUP__F_RES (SUP__F_RES_OK | SUP__F_RES_FAIL | SUP__F_RES_DONE)

enum { SUP__T_NONE, SUP__T_START, SUP__T_KILL, SUP__T_BACKOFF, SUP__T_RETRY };
enum { SUP__PH_NONE, SUP__PH_STOP, SUP__PH_DELAY, SUP__PH_START };
/* Plan kinds: a fresh start, a restart decision, an operator's start of
 * one child (sup_child_start: not counted, no retry). */
enum { SUP__K_INIT, SUP__K_RESTART, SUP__K_OPSTART };
/* What ends a stop phase (plan_after). */
enum {
    SUP__A_RESTART,
    SUP__A_STOPPED,
    SUP__A_GIVE_UP,
    SUP__A_START_FAILED,
    SUP__A_OP_START,
    SUP__A_REMOVE,
};
enum { SUP__R_DONE, SUP__R_PENDING, SUP__R_FAILED };
enum { SUP__UP_STARTED, SUP__UP_START_FAILED, SUP__UP_EXIT };

/* sup__live: a worker with a process, or a supervisor that is not at rest. */
static inline bool
sup__live(const struct sup_node *c)
{
    if (c->is_supervisor)
        return c->plan != SUP__PH_NONE || c->state == SUP_RUNNING;
    return c->pid != 0 || (c->flags & SUP__F_SPAWNING);
}

static inline bool
sup__is_pool(const struct sup_node *s)
{
    return s->spec->strategy == SPEC_SIMPLE_ONE_FOR_ONE;
}

/* sup__after_ms: now + d, saturating below NAOS_TIME_NEVER. */
static inline naos_time
sup__after_ms(naos_time now, naos_duration d)
{
    if (d <= 0)
        return now;
    if ((uint64_t)d >= NAOS_TIME_NEVER - now)
        return NAOS_TIME_NEVER - 1;
    return now + (uint64_t)d;
}

/* sup__fmt_alloc returns a naos_alloc'ed formatted string, or NULL. */
char *sup__fmt_alloc(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Deadline heap (sup_node.c). A node's one effective deadline is the
 * earliest of timer_at, watchdog_at and runtime_at. */
/* sup__heap_reserve makes room for n nodes; arming never allocates. */
int sup__heap_reserve(struct sup_tree *t, size_t n);
/* sup__heap_remove takes n out of the heap (no-op when not in it). */
void sup__heap_remove(struct sup_tree *t, struct sup_node *n);
/* sup__deadline_update recomputes n's deadline and heap place: O(log n). */
void sup__deadline_update(struct sup_tree *t, struct sup_node *n);
/* sup__timer_set arms n's phase timer (kind SUP__T_*), NEVER disarms. */
void sup__timer_set(struct sup_tree *t, struct sup_node *n, int kind,
                    naos_time at);

/* Mailbox of supervisor s: intrusive FIFO of children (sup_node.c). */
/* sup__mbox_push queues c with kind SUP__F_MB_*; a queued c keeps its
 * place and takes the new kind, except that SUP__F_MB_START never
 * replaces a queued SUP__F_MB_EXIT (the caller removes an exit that needs
 * no decision first). */
void sup__mbox_push(struct sup_node *s, struct sup_node *c, unsigned kind);
void sup__mbox_remove(struct sup_node *s, struct sup_node *c);
void sup__mbox_clear(struct sup_node *s);

/* Resume queue of the tree (sup_node.c): supervisors whose plan stopped
 * for want of budget. sup__resume_push queues s at the tail (no-op when
 * queued); sup__resume_remove unlinks it (no-op when not queued). */
void sup__resume_push(struct sup_tree *t, struct sup_node *s);
void sup__resume_remove(struct sup_tree *t, struct sup_node *s);

/* Node lifetime (sup_node.c). */
/* sup__node_new builds the node for spec (borrowed; must outlive it) and
 * its whole subtree. NAOS_OK or NAOS_ENOMEM (nothing left allocated). */
int sup__node_new(struct sup_tree *t, struct sup_node *parent,
                  const struct spec_node *spec, const char *id,
                  struct sup_node **out);
/* sup__node_free frees n's subtree now (forget: call io->forget). */
void sup__node_free(struct sup_tree *t, struct sup_node *n, bool forget);
/* sup__graveyard retires detached subtree n (no timers, SUP__F_DEAD) and
 * queues it to be freed by sup__reap when the public call returns. */
void sup__graveyard(struct sup_tree *t, struct sup_node *n);
void sup__reap(struct sup_tree *t);
/* sup__child_remove drops child i of s (not live) into the graveyard. */
void sup__child_remove(struct sup_tree *t, struct sup_node *s, size_t i);
/* sup__revive re-creates the children s lost (temporary ones that ended)
 * so a fresh start has its full child list. All or nothing. */
int sup__revive(struct sup_tree *t, struct sup_node *s);

#endif
