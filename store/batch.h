/* SPDX-License-Identifier: Apache-2.0 */
/* batch.h: the node's before-sleep commit. Everything one loop iteration
 * must persist (the senders' replay marks, a due batch of events, later
 * Raft's hard state and entries) is written in ONE synced LMDB write
 * transaction right before the loop sleeps, and what depends on it (the
 * messages those marks gate, later Raft's replies) is released only once
 * that commit is durable (RAFT-LITE P1 and §5; Redis' beforeSleep).
 *
 * Modules take part through a writer they register (caller storage, kept
 * at a stable address while registered). Each commit round:
 *   1. prepare(arg), in registration order: copy out of the module what
 *      this round writes (e.g. take the replay marks) and say whether
 *      there is anything; it runs once per round, never inside the
 *      transaction;
 *   2. if any writer has something, one store_write whose body calls
 *      write(t, arg) of each such writer. The body may run MORE THAN ONCE
 *      (map growth: store.h), so write must only write what prepare took,
 *      with no other side effect;
 *   3. done(arg, ok), every writer, in registration order: ok is true when
 *      the commit is durable, or when nothing needed writing; false, for
 *      every writer, when the round's write failed (nothing of this
 *      round was written). Release
 *      what waited on the commit here (deliver the held messages, send
 *      the queued replies), or drop it when !ok.
 * A failed commit turns the store failed (store.h, P8); the node's
 * store_on_fatal hook stops the process there, so in the node done(false)
 * is only seen for a write a writer itself refused.
 *
 * Loop thread only (as every store call). */
#ifndef NAOS_STORE_BATCH_H
#define NAOS_STORE_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* struct store_batch_writer: one module's part of the before-sleep commit.
 * Fill name, the three functions and arg; the rest is the batch's. */
struct store_batch_writer {
    const char *name; /* for messages: "replay marks", "events" */
    /* prepare: true when this round has something for write. */
    bool (*prepare)(void *arg);
    /* write: inside the transaction; NAOS_OK or a naos_err (aborts the
     * whole round: every writer gets done(false)). */
    int (*write)(struct store_txn *t, void *arg);
    /* done: after the round (see above); must not add or remove writers.
     * May be NULL. */
    void (*done)(void *arg, bool ok);
    void *arg;
    /* the batch's own */
    struct store_batch_writer *next;
    bool registered, active;
};

/* struct store_batch: the registered writers of one store. Caller storage;
 * STORE_BATCH_ZERO or store_batch_init. */
struct store_batch {
    struct store *store; /* borrowed */
    struct store_batch_writer *first;
    uint64_t rounds;   /* store_batch_commit calls */
    uint64_t commits;  /* ... that wrote (one synced transaction each) */
    uint64_t failures; /* ... whose write was refused or failed */
    char errmsg[STORE_ERRMSG_LEN + 64]; /* the last failure: "WRITER:
                                           message", or the store's */
    struct store_batch_writer *refused_by; /* in the last round */
};
#define STORE_BATCH_ZERO {NULL, NULL, 0, 0, 0, "", NULL}

/* store_batch_init prepares b (caller storage) for store s (borrowed until
 * the batch is no longer used). Cannot fail. */
void store_batch_init(struct store_batch *b, struct store *s);

/* store_batch_add registers w (borrowed until store_batch_del; its own
 * fields are set here): it takes part in every later round, after the
 * writers registered before it. Returns NAOS_OK; NAOS_EINVAL (prepare or
 * write missing); NAOS_EEXIST (w is registered already). */
int store_batch_add(struct store_batch *b, struct store_batch_writer *w);

/* store_batch_del unregisters w (no-op when it is not). */
void store_batch_del(struct store_batch *b, struct store_batch_writer *w);

/* store_batch_commit runs one round (above). Returns NAOS_OK (written and
 * durable, or nothing to write); a writer's error, or NAOS_ESTORE (the
 * commit failed: the store has turned failed); the message is in
 * b->errmsg. */
int store_batch_commit(struct store_batch *b);

#endif
