/* SPDX-License-Identifier: Apache-2.0 */
/* inbox.h: a bounded, thread-safe queue whose readiness is an eventfd, so
 * NNG's threads can hand work to the reactor thread (STYLE §9: NNG
 * threads never touch node state; they post here and the reactor, which
 * watches reactor_inbox_fd, takes the work). Users: node/http (API
 * requests) and node/net (pipe-closed notifications).
 *
 * Items are intrusive (struct reactor_inbox_item embedded in the caller's job)
 * and are never allocated or freed here. Invariant, held under the mutex:
 * the list is non-empty => the eventfd counter is non-zero, so a reactor
 * that drains in batches never misses work. */
#ifndef NAOS_REACTOR_INBOX_H
#define NAOS_REACTOR_INBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* struct reactor_inbox_item: embed one in each job. */
struct reactor_inbox_item {
    struct reactor_inbox_item *next;
};

/* struct reactor_inbox: caller storage; see reactor_inbox_init. */
struct reactor_inbox {
    pthread_mutex_t mu;
    struct reactor_inbox_item *head, *tail;
    size_t len;     /* items queued */
    size_t cap;     /* bound: puts beyond it are refused */
    int efd;        /* eventfd, -1 when not open */
    bool closed;    /* puts refused after reactor_inbox_close */
    bool mu_ready;  /* mu was initialised (fini is safe on a zeroed inbox) */
};

#define REACTOR_INBOX_ZERO {.efd = -1}

/* reactor_inbox_init prepares ib (caller storage) to hold at most cap items.
 * Returns NAOS_OK, NAOS_EINVAL (cap 0) or NAOS_ESYS (eventfd; errno
 * kept). Reactor thread, before any other thread can see ib. */
int reactor_inbox_init(struct reactor_inbox *ib, size_t cap);

/* reactor_inbox_fini closes the eventfd. Items still queued are not touched:
 * take them with reactor_inbox_close first. Safe on a zeroed inbox or one
 * whose init failed. */
void reactor_inbox_fini(struct reactor_inbox *ib);

/* reactor_inbox_fd returns the eventfd to watch for EPOLLIN. */
int reactor_inbox_fd(const struct reactor_inbox *ib);

/* reactor_inbox_put appends it (borrowed until taken). Returns NAOS_OK,
 * NAOS_EBUSY when cap items are already queued, or NAOS_ECLOSED after
 * reactor_inbox_close; on error the caller keeps it. Any thread. */
int reactor_inbox_put(struct reactor_inbox *ib, struct reactor_inbox_item *it);

/* reactor_inbox_take removes and returns at most max items (oldest first, a
 * NULL-terminated list through ->next), or NULL when empty. Clears the
 * eventfd unless items remain. Any thread (the reactor, in practice). */
struct reactor_inbox_item *reactor_inbox_take(struct reactor_inbox *ib, size_t max);

/* reactor_inbox_close refuses further puts and returns every queued item (as
 * reactor_inbox_take does) so the caller can fail them. Any thread. */
struct reactor_inbox_item *reactor_inbox_close(struct reactor_inbox *ib);

/* reactor_inbox_len returns the number of queued items (a snapshot). */
size_t reactor_inbox_len(struct reactor_inbox *ib);

#endif
