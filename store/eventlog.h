/* SPDX-License-Identifier: Apache-2.0 */
/* eventlog.h: the node's supervision events in the store, so that they
 * survive a restart of the node and their numbers keep growing across
 * restarts (node/events keeps them in memory; this is its copy on disk).
 * Table `events`: key = the event's seq as 8 bytes big-endian, value = a
 * packed naos.v1.Event. Bounded: each append deletes what is older than
 * the newest `keep`. Loop thread only, as every store call. */
#ifndef NAOS_STORE_EVENTLOG_H
#define NAOS_STORE_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/naos.pb-c.h"
#include "store/store.h"

/* store_event_fill_fn fills *out (initialised by the caller) with event
 * seq, its strings borrowed until the next call; returns false when there
 * is no such event (it is skipped). */
typedef bool (*store_event_fill_fn)(uint64_t seq, Naos__V1__Event *out,
                                    void *arg);

/* store_events_append writes the events from..to (each filled by fill, so
 * the caller needs no buffer for a batch) in one synced transaction, and
 * in the same transaction deletes every stored event whose seq is not
 * among the newest keep (keep >= 1). So a batch costs one commit however
 * many events it holds. from must be above every stored seq, so they
 * come back in order and a kept number is never written again. Returns
 * NAOS_OK once durable; NAOS_EINVAL (from 0, to < from, keep 0, from not
 * above the highest stored seq: nothing written); NAOS_ESTORE. */
int store_events_append(struct store *s, uint64_t from, uint64_t to,
                        store_event_fill_fn fill, void *arg, uint64_t keep);

/* store_events_append_txn is store_events_append inside the caller's write
 * transaction t (durable when t's store_write returns NAOS_OK), for the
 * node's before-sleep batch (store/batch.h). Same checks and errors; it
 * may run again when the transaction is re-run (map growth). */
int store_events_append_txn(struct store_txn *t, uint64_t from, uint64_t to,
                            store_event_fill_fn fill, void *arg,
                            uint64_t keep);

/* store_event_fn gets one stored event (borrowed: valid during the call).
 * Return NAOS_OK to go on; anything else stops the walk and is returned. */
typedef int (*store_event_fn)(const Naos__V1__Event *ev, void *arg);

/* store_events_load calls fn for the newest max stored events (all when
 * fewer), oldest first, in one read transaction, and sets *last to the
 * highest stored seq (0: none; may be NULL). A record that does not decode
 * is skipped (counted in *skipped, may be NULL). Returns NAOS_OK, fn's
 * error, NAOS_ENOMEM or NAOS_ESTORE. */
int store_events_load(struct store *s, uint64_t max, store_event_fn fn,
                      void *arg, uint64_t *last, uint64_t *skipped);

#endif
