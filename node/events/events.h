/* SPDX-License-Identifier: Apache-2.0 */
/* events.h: the node's recent supervision events, a bounded ring with a
 * cursor. Readers ask for "everything after seq N" and learn how many they
 * missed when the ring overwrote them. Reactor thread only. */
#ifndef NAOS_EVENTS_EVENTS_H
#define NAOS_EVENTS_EVENTS_H

#include <stddef.h>
#include <stdint.h>

/* One recorded event. Strings are owned by the ring and valid until the
 * entry is overwritten (i.e. until events_push is called capacity times). */
struct events_entry {
    uint64_t seq;          /* 1, 2, 3, ... */
    int64_t at_wall_ms;    /* ms since the epoch */
    uint64_t at_mono_us;   /* monotonic, for benchmarks */
    const char *kind;      /* static string from the core */
    char *deployment;
    char *path;
    char *reason;
    char *detail;
    int pid;
    uint32_t restarts;
};

struct events {
    struct events_entry *ring;
    size_t cap;
    uint64_t next_seq;     /* seq of the next push */
};

/* events_init allocates a ring of cap entries in ev (caller storage).
 * Returns NAOS_OK or NAOS_ENOMEM. */
int events_init(struct events *ev, size_t cap);
/* events_fini frees everything; safe on a zeroed ev. */
void events_fini(struct events *ev);
/* events_push records one event; strings are copied (NULL allowed). On
 * allocation failure the event is recorded without its strings. */
void events_push(struct events *ev, const char *kind, const char *deployment,
                 const char *path, int pid, const char *reason,
                 uint32_t restarts, const char *detail, int64_t at_wall_ms,
                 uint64_t at_mono_us);
/* events_oldest returns the seq of the oldest entry kept (0 if empty). */
uint64_t events_oldest(const struct events *ev);
/* events_last returns the seq of the newest entry (0 if empty). */
uint64_t events_last(const struct events *ev);
/* events_get returns the entry with sequence number seq, or NULL when it is
 * not kept (never pushed, or overwritten). Valid until the next push. */
const struct events_entry *events_get(const struct events *ev, uint64_t seq);

#endif
