/* SPDX-License-Identifier: Apache-2.0 */
/* reactor.h: the node's single event loop (epoll). Every piece of node
 * state is touched only from the thread that runs reactor_run_once.
 *
 * Watches are caller-allocated (struct reactor_watch embedded in the
 * owner) and must stay at a stable address while added. Time is one
 * deadline: the loop wakes when it passes (ms granularity), and `now` is
 * read once per iteration. */
#ifndef NAOS_REACTOR_REACTOR_H
#define NAOS_REACTOR_REACTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "node/base/time.h"

/* reactor_cb: fd became ready; events is the epoll mask. */
typedef void (*reactor_cb)(void *arg, uint32_t events);

struct reactor_watch {
    int fd;
    reactor_cb cb;
    void *arg;
    bool added;
};

struct reactor {
    int epfd;
    /* The loop's clock, read once at each wake-up (STYLE §10, uv_now):
     * every core and driver of one iteration uses these values, never a
     * fresh clock read (node.c "The loop"). wall_ms is the wall clock
     * (ms since the epoch) read at the same moment, for what must be
     * compared across hosts (sealed envelopes' staleness). */
    naos_time now;
    int64_t wall_ms;
    naos_time deadline;  /* NAOS_TIME_NEVER when none */
    uint64_t iterations;
    uint64_t max_lag_us; /* worst dispatch time seen (loop latency) */
    uint64_t last_lag_us; /* dispatch time of the last iteration */
};

/* reactor_init opens the epoll instance. Returns NAOS_OK or NAOS_ESYS. */
int reactor_init(struct reactor *r);
/* reactor_fini closes it; safe on a zeroed reactor. Watched fds are not
 * closed (their owners close them). */
void reactor_fini(struct reactor *r);
/* reactor_add watches fd for events (EPOLLIN etc.) and calls cb(arg, ev)
 * when ready. w is borrowed until reactor_del. Returns NAOS_OK or
 * NAOS_ESYS. */
int reactor_add(struct reactor *r, struct reactor_watch *w, int fd,
                uint32_t events, reactor_cb cb, void *arg);
/* reactor_mod changes the events w is watched for. Returns NAOS_OK or
 * NAOS_ESYS. */
int reactor_mod(struct reactor *r, struct reactor_watch *w, uint32_t events);
/* reactor_del stops watching w (no-op when not added). Call it before
 * closing w's fd. */
void reactor_del(struct reactor *r, struct reactor_watch *w);
/* reactor_set_deadline: reactor_run_once returns no later than deadline
 * (absolute monotonic ms; NAOS_TIME_NEVER = no timer). */
void reactor_set_deadline(struct reactor *r, naos_time deadline);
/* reactor_run_once waits for readiness or the deadline (at most max_wait_ms
 * when >= 0), dispatches every ready watch, updates r->now and returns.
 * Returns NAOS_OK, or NAOS_ESYS on an epoll failure other than EINTR. */
int reactor_run_once(struct reactor *r, int max_wait_ms);

/* reactor_refresh_clock reads the loop's clock pair (now, wall_ms) again,
 * both at the same moment. Only after blocking work inside an iteration
 * (a synced store commit), so that what the cores arm afterwards counts
 * from when it was armed; everything else keeps the wake-up's values. */
void reactor_refresh_clock(struct reactor *r);

#endif
