/* SPDX-License-Identifier: Apache-2.0 */
/* inbox.h: a bounded, thread-safe queue whose readiness is an eventfd, so
 * NNG's threads can hand work to the reactor thread (STYLE §9: NNG HTTP
 * handlers never touch node state; they post here and the reactor, which
 * watches http_inbox_fd, takes the work).
 *
 * Items are intrusive (struct http_inbox_item embedded in the caller's job)
 * and are never allocated or freed here. Invariant, held under the mutex:
 * the list is non-empty => the eventfd counter is non-zero, so a reactor
 * that drains in batches never misses work. */
#ifndef NAOS_HTTP_INBOX_H
#define NAOS_HTTP_INBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* struct http_inbox_item: embed one in each job. */
struct http_inbox_item {
    struct http_inbox_item *next;
};

/* struct http_inbox: caller storage; see http_inbox_init. */
struct http_inbox {
    pthread_mutex_t mu;
    struct http_inbox_item *head, *tail;
    size_t len;     /* items queued */
    size_t cap;     /* bound: puts beyond it are refused */
    int efd;        /* eventfd, -1 when not open */
    bool closed;    /* puts refused after http_inbox_close */
    bool mu_ready;  /* mu was initialised (fini is safe on a zeroed inbox) */
};

#define HTTP_INBOX_ZERO {.efd = -1}

/* http_inbox_init prepares ib (caller storage) to hold at most cap items.
 * Returns NAOS_OK, NAOS_EINVAL (cap 0) or NAOS_ESYS (eventfd; errno
 * kept). Reactor thread, before any other thread can see ib. */
int http_inbox_init(struct http_inbox *ib, size_t cap);

/* http_inbox_fini closes the eventfd. Items still queued are not touched:
 * take them with http_inbox_close first. Safe on a zeroed inbox or one
 * whose init failed. */
void http_inbox_fini(struct http_inbox *ib);

/* http_inbox_fd returns the eventfd to watch for EPOLLIN. */
int http_inbox_fd(const struct http_inbox *ib);

/* http_inbox_put appends it (borrowed until taken). Returns NAOS_OK,
 * NAOS_EBUSY when cap items are already queued, or NAOS_ECLOSED after
 * http_inbox_close; on error the caller keeps it. Any thread. */
int http_inbox_put(struct http_inbox *ib, struct http_inbox_item *it);

/* http_inbox_take removes and returns at most max items (oldest first, a
 * NULL-terminated list through ->next), or NULL when empty. Clears the
 * eventfd unless items remain. Any thread (the reactor, in practice). */
struct http_inbox_item *http_inbox_take(struct http_inbox *ib, size_t max);

/* http_inbox_close refuses further puts and returns every queued item (as
 * http_inbox_take does) so the caller can fail them. Any thread. */
struct http_inbox_item *http_inbox_close(struct http_inbox *ib);

/* http_inbox_len returns the number of queued items (a snapshot). */
size_t http_inbox_len(struct http_inbox *ib);

#endif
