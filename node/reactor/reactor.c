/* SPDX-License-Identifier: Apache-2.0 */
#include "node/reactor/reactor.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "node/base/err.h"

#define REACTOR_BATCH 64

int
reactor_init(struct reactor *r)
{
    *r = (struct reactor){.epfd = -1, .deadline = NAOS_TIME_NEVER};
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0)
        return NAOS_ESYS;
    r->now = naos_clock_now();
    r->wall_ms = naos_clock_wall_ms();
    return NAOS_OK;
}

void
reactor_fini(struct reactor *r)
{
    if (r->epfd >= 0)
        close(r->epfd);
    r->epfd = -1;
}

int
reactor_add(struct reactor *r, struct reactor_watch *w, int fd,
            uint32_t events, reactor_cb cb, void *arg)
{
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return NAOS_ESYS;
    w->added = true;
    return NAOS_OK;
}

int
reactor_mod(struct reactor *r, struct reactor_watch *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (!w->added || epoll_ctl(r->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
        return NAOS_ESYS;
    return NAOS_OK;
}

void
reactor_del(struct reactor *r, struct reactor_watch *w)
{
    if (!w->added)
        return;
    epoll_ctl(r->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->added = false;
}

void
reactor_set_deadline(struct reactor *r, naos_time deadline)
{
    r->deadline = deadline;
}

int
reactor_run_once(struct reactor *r, int max_wait_ms)
{
    int timeout = max_wait_ms;
    naos_time now = naos_clock_now();
    if (r->deadline != NAOS_TIME_NEVER) {
        naos_time wait = r->deadline > now ? r->deadline - now : 0;
        if (timeout < 0 || wait < (naos_time)timeout)
            timeout = (int)(wait > 60000 ? 60000 : wait);
    }
    struct epoll_event evs[REACTOR_BATCH];
    int n = epoll_wait(r->epfd, evs, REACTOR_BATCH, timeout);
    if (n < 0 && errno != EINTR)
        return NAOS_ESYS;
    uint64_t t0 = naos_clock_now_us();
    r->now = t0 / 1000;
    r->wall_ms = naos_clock_wall_ms();
    for (int i = 0; i < n; i++) {
        struct reactor_watch *w = evs[i].data.ptr;
        /* A callback earlier in this batch may have removed w's owner's
         * interest; the owner keeps w alive until the iteration ends. */
        if (w->added)
            w->cb(w->arg, evs[i].events);
    }
    uint64_t lag = naos_clock_now_us() - t0;
    r->last_lag_us = lag;
    if (lag > r->max_lag_us)
        r->max_lag_us = lag;
    r->iterations++;
    return NAOS_OK;
}

void
reactor_refresh_clock(struct reactor *r)
{
    r->now = naos_clock_now();
    r->wall_ms = naos_clock_wall_ms();
}
