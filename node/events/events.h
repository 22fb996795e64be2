/* SPDX-License-Identifier: Apache-2.0 */
/* events.h: the node's recent supervision events, a bounded ring with a
 * cursor. Readers ask for "everything after seq N" and learn how many they
 * missed when the ring overwrote them. Numbers only grow: a node restored
 * from its store (events_restore) goes on after the last one it kept, so a
 * cursor stays meaningful across restarts. The ring also remembers how far
 * its owner has persisted it (`persisted`), so the owner can write what is
 * new in one batch. Reactor thread only. */
#ifndef NAOS_EVENTS_EVENTS_H
#define NAOS_EVENTS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#define EVENTS_KIND_MAX 24 /* longest kind name + NUL ("node-trouble") */

/* One recorded event. Strings are owned by the ring and valid until the
 * entry is overwritten (i.e. until events_push is called capacity times). */
struct events_entry {
    uint64_t seq;          /* 1, 2, 3, ... ; 0 = empty slot */
    int64_t at_wall_ms;    /* ms since the epoch */
    uint64_t at_mono_us;   /* monotonic, for benchmarks (0 once restored:
                              another run's clock) */
    char kind[EVENTS_KIND_MAX]; /* copied, cut to fit */
    char *deployment;
    char *path;
    char *reason;
    char *detail;
    int pid;
    uint32_t restarts;
    /* a cluster event (events_mark_log): the log entry behind it and its
     * term; 0, 0 for a node's own */
    uint64_t log_index, log_term;
};

struct events {
    struct events_entry *ring;
    size_t cap;
    uint64_t next_seq;     /* seq of the next push */
    uint64_t first;        /* seq of the first entry ever recorded (a
                              restored ring starts after 1) */
    uint64_t persisted;    /* the owner's: last seq written to its store */
};

/* events_init allocates a ring of cap entries in ev (caller storage).
 * Returns NAOS_OK or NAOS_ENOMEM. */
int events_init(struct events *ev, size_t cap);
/* events_fini frees everything; safe on a zeroed ev. */
void events_fini(struct events *ev);
/* events_push records one event under the next seq; strings are copied
 * (NULL allowed). On allocation failure the event is recorded without its
 * strings. */
void events_push(struct events *ev, const char *kind, const char *deployment,
                 const char *path, int pid, const char *reason,
                 uint32_t restarts, const char *detail, int64_t at_wall_ms,
                 uint64_t at_mono_us);
/* events_mark_log sets the log entry (index, term) of the event pushed
 * last: a cluster event (placed, migrated, node-lost, gave-up, fenced)
 * says where in the cluster's history it stands. */
void events_mark_log(struct events *ev, uint64_t index, uint64_t term);
/* events_restore records an event read back from the store under its own
 * seq, which must be >= events_last() + 1 (a gap is fine); the next push
 * follows it. Strings in e are copied. Returns NAOS_OK or NAOS_EINVAL
 * (seq out of order: nothing recorded). */
int events_restore(struct events *ev, const struct events_entry *e);
/* events_skip_to makes the next push follow seq last at the earliest
 * (its number is max(events_last() + 1, last + 1)); nothing is recorded,
 * what lies between is a gap. A ring restored from a store whose newest
 * record did not decode still numbers on after it. */
void events_skip_to(struct events *ev, uint64_t last);
/* events_oldest returns the seq of the oldest entry kept (0 if empty). */
uint64_t events_oldest(const struct events *ev);
/* events_last returns the seq of the newest entry (0 if empty). */
uint64_t events_last(const struct events *ev);
/* events_get returns the entry with sequence number seq, or NULL when it is
 * not kept (never pushed, overwritten, or a gap of a restored ring). Valid
 * until the next push. */
const struct events_entry *events_get(const struct events *ev, uint64_t seq);

#endif
