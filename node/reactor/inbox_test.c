/* SPDX-License-Identifier: Apache-2.0 */
/* inbox_test.c: the bounded queue + eventfd that carries HTTP requests
 * from NNG's threads to the reactor. */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>

#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/reactor/inbox.h"

struct item {
    struct reactor_inbox_item link;
    int v;
};

static bool
readable(struct reactor_inbox *ib)
{
    struct pollfd p = {.fd = reactor_inbox_fd(ib), .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

static void
test_fifo_and_readiness(void)
{
    struct reactor_inbox ib;
    NT_EQ_INT(reactor_inbox_init(&ib, 8), NAOS_OK);
    NT_FALSE(readable(&ib));
    NT_TRUE(reactor_inbox_take(&ib, 10) == NULL);
    struct item it[3] = {{.v = 0}, {.v = 1}, {.v = 2}};
    for (int i = 0; i < 3; i++)
        NT_EQ_INT(reactor_inbox_put(&ib, &it[i].link), NAOS_OK);
    NT_TRUE(readable(&ib));
    NT_EQ_INT(reactor_inbox_len(&ib), 3);
    /* a partial take leaves the fd readable */
    struct reactor_inbox_item *l = reactor_inbox_take(&ib, 2);
    NT_EQ_INT(((struct item *)l)->v, 0);
    NT_EQ_INT(((struct item *)l->next)->v, 1);
    NT_TRUE(l->next->next == NULL);
    NT_TRUE(readable(&ib));
    l = reactor_inbox_take(&ib, 2);
    NT_EQ_INT(((struct item *)l)->v, 2);
    NT_TRUE(l->next == NULL);
    NT_FALSE(readable(&ib));
    reactor_inbox_fini(&ib);
}

static void
test_bound_and_close(void)
{
    struct reactor_inbox ib;
    NT_EQ_INT(reactor_inbox_init(&ib, 2), NAOS_OK);
    struct item it[4];
    NT_EQ_INT(reactor_inbox_put(&ib, &it[0].link), NAOS_OK);
    NT_EQ_INT(reactor_inbox_put(&ib, &it[1].link), NAOS_OK);
    NT_EQ_INT(reactor_inbox_put(&ib, &it[2].link), NAOS_EBUSY);
    struct reactor_inbox_item *l = reactor_inbox_close(&ib);
    NT_TRUE(l == &it[0].link && l->next == &it[1].link && !l->next->next);
    NT_EQ_INT(reactor_inbox_put(&ib, &it[3].link), NAOS_ECLOSED);
    NT_EQ_INT(reactor_inbox_len(&ib), 0);
    reactor_inbox_fini(&ib);
    reactor_inbox_fini(&ib); /* twice is fine */
}

static void
test_zeroed(void)
{
    struct reactor_inbox ib = REACTOR_INBOX_ZERO;
    reactor_inbox_fini(&ib);
    NT_TRUE(reactor_inbox_close(&ib) == NULL);
    NT_EQ_INT(reactor_inbox_init(&ib, 0), NAOS_EINVAL);
    reactor_inbox_fini(&ib);
}

#define PRODUCERS 4
#define PER_PRODUCER 20000

static struct reactor_inbox shared;
static struct item items[PRODUCERS][PER_PRODUCER];

static void *
producer(void *arg)
{
    int p = (int)(intptr_t)arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        items[p][i].v = p * PER_PRODUCER + i;
        while (reactor_inbox_put(&shared, &items[p][i].link) == NAOS_EBUSY)
            sched_yield();
    }
    return NULL;
}

/* Many threads put, one takes by polling the fd as the reactor does:
 * nothing is lost or duplicated, and each producer's order is kept. */
static void
test_threads(void)
{
    NT_EQ_INT(reactor_inbox_init(&shared, 64), NAOS_OK);
    pthread_t t[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++)
        pthread_create(&t[p], NULL, producer, (void *)(intptr_t)p);
    int next[PRODUCERS] = {0};
    long got = 0;
    while (got < PRODUCERS * PER_PRODUCER) {
        struct pollfd pf = {.fd = reactor_inbox_fd(&shared), .events = POLLIN};
        if (poll(&pf, 1, 5000) != 1)
            NT_FAIL("no wake-up with %ld of %d taken", got,
                    PRODUCERS * PER_PRODUCER);
        for (struct reactor_inbox_item *l = reactor_inbox_take(&shared, 16); l;
             l = l->next) {
            int v = ((struct item *)l)->v;
            int p = v / PER_PRODUCER;
            NT_EQ_INT(v % PER_PRODUCER, next[p]);
            next[p]++;
            got++;
        }
    }
    for (int p = 0; p < PRODUCERS; p++)
        pthread_join(t[p], NULL);
    NT_FALSE(readable(&shared));
    reactor_inbox_fini(&shared);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_fifo_and_readiness), NT_CASE(test_bound_and_close),
        NT_CASE(test_zeroed), NT_CASE(test_threads), {0},
    };
    return nt_run(cases);
}
