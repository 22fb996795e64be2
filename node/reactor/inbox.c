/* SPDX-License-Identifier: Apache-2.0 */
/* inbox.c: see inbox.h. The eventfd is written only when the queue goes
 * from empty to non-empty, and re-armed by take when it leaves items
 * behind, so a burst of puts costs one wake-up of the reactor. */
#include "node/reactor/inbox.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "node/base/err.h"

int
reactor_inbox_init(struct reactor_inbox *ib, size_t cap)
{
    *ib = (struct reactor_inbox)REACTOR_INBOX_ZERO;
    if (cap == 0)
        return NAOS_EINVAL;
    ib->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ib->efd < 0)
        return NAOS_ESYS;
    pthread_mutex_init(&ib->mu, NULL);
    ib->mu_ready = true;
    ib->cap = cap;
    return NAOS_OK;
}

void
reactor_inbox_fini(struct reactor_inbox *ib)
{
    if (ib->efd >= 0)
        close(ib->efd);
    ib->efd = -1;
    if (ib->mu_ready)
        pthread_mutex_destroy(&ib->mu);
    ib->mu_ready = false;
}

int
reactor_inbox_fd(const struct reactor_inbox *ib)
{
    return ib->efd;
}

static void
wake(struct reactor_inbox *ib)
{
    uint64_t one = 1;
    /* EAGAIN means the counter is already non-zero: still awake. */
    while (write(ib->efd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

int
reactor_inbox_put(struct reactor_inbox *ib, struct reactor_inbox_item *it)
{
    int rc = NAOS_OK;
    pthread_mutex_lock(&ib->mu);
    if (ib->closed) {
        rc = NAOS_ECLOSED;
    } else if (ib->len >= ib->cap) {
        rc = NAOS_EBUSY;
    } else {
        it->next = NULL;
        if (ib->tail)
            ib->tail->next = it;
        else
            ib->head = it;
        ib->tail = it;
        if (ib->len++ == 0)
            wake(ib);
    }
    pthread_mutex_unlock(&ib->mu);
    return rc;
}

static struct reactor_inbox_item *
take_locked(struct reactor_inbox *ib, size_t max)
{
    uint64_t v;
    while (read(ib->efd, &v, sizeof v) < 0 && errno == EINTR) {
    }
    struct reactor_inbox_item *first = ib->head, *last = NULL;
    size_t n = 0;
    for (struct reactor_inbox_item *p = ib->head; p && n < max; p = p->next) {
        last = p;
        n++;
    }
    if (last == NULL)
        return NULL;
    ib->head = last->next;
    if (ib->head == NULL)
        ib->tail = NULL;
    last->next = NULL;
    ib->len -= n;
    if (ib->len)
        wake(ib);
    return first;
}

struct reactor_inbox_item *
reactor_inbox_take(struct reactor_inbox *ib, size_t max)
{
    pthread_mutex_lock(&ib->mu);
    struct reactor_inbox_item *l = take_locked(ib, max);
    pthread_mutex_unlock(&ib->mu);
    return l;
}

struct reactor_inbox_item *
reactor_inbox_close(struct reactor_inbox *ib)
{
    if (!ib->mu_ready)
        return NULL;
    pthread_mutex_lock(&ib->mu);
    ib->closed = true;
    struct reactor_inbox_item *l = take_locked(ib, SIZE_MAX);
    pthread_mutex_unlock(&ib->mu);
    return l;
}

size_t
reactor_inbox_len(struct reactor_inbox *ib)
{
    pthread_mutex_lock(&ib->mu);
    size_t n = ib->len;
    pthread_mutex_unlock(&ib->mu);
    return n;
}
