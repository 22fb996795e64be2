/* SPDX-License-Identifier: Apache-2.0 */
/* net_test.c: two transports on loopback: messages both ways, counters,
 * a far-end close reported once, our own closes never, bad addresses,
 * dialling without a message, pruning unwanted peers, a peer that comes
 * back at its address (frames intact and in order, the queue bounded),
 * redials with backoff to a peer that keeps dropping us, and the SP/TCP
 * mapping spoken with NNG's own push0 and pull0 sockets.
 *
 * Absence ("our own close is not reported") is checked behind a barrier,
 * not after a pause: everything NNG hands back to the reactor goes
 * through one FIFO inbox (net.c), so once a connection made *after* the
 * close is reported, a close report, had there been one, was handled
 * before it. The closed connection was up, so a wrong report would have
 * a watch to come from. */
#include "node/net/net.h"

#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/base/time.h"

struct side {
    struct net *net;
    int got;
    char last[64];
    int closed;
    char closed_addr[NET_ADDR_MAX];
    int connected;          /* connections reported established */
    char watch[NET_ADDR_MAX]; /* ... and of those, to this address */
    int watched;
    /* frames made by frame_fill: the next index expected, and the first
       frame that was not it (or not intact); -1: none */
    bool frames; /* check what arrives with frame_check */
    int next_frame;
    int bad_frame;
};

/* frame_fill writes frame i of a test stream into buf: its index, then
 * bytes derived from it; returns its length (0..3999, the lengths vary so
 * frames end anywhere in a TCP segment). */
static size_t
frame_fill(uint8_t *buf, int i)
{
    size_t len = 4 + (size_t)(i * 397) % 3996;
    buf[0] = (uint8_t)(i >> 24);
    buf[1] = (uint8_t)(i >> 16);
    buf[2] = (uint8_t)(i >> 8);
    buf[3] = (uint8_t)i;
    for (size_t k = 4; k < len; k++)
        buf[k] = (uint8_t)(i * 31 + k * 7);
    return len;
}

/* frame_check: data is frame s->next_frame, intact. */
static void
frame_check(struct side *s, const uint8_t *data, size_t len)
{
    uint8_t want[4000];
    size_t wlen = frame_fill(want, s->next_frame);
    if (s->bad_frame < 0 && (len != wlen || memcmp(data, want, len) != 0))
        s->bad_frame = s->next_frame;
    s->next_frame++;
}

static void
on_recv(void *arg, const uint8_t *data, size_t len)
{
    struct side *s = arg;
    s->got++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)data);
    if (s->frames)
        frame_check(s, data, len);
}

static void
on_closed(void *arg, const char *addr)
{
    struct side *s = arg;
    s->closed++;
    snprintf(s->closed_addr, sizeof s->closed_addr, "%s", addr);
}

static void
on_connected(void *arg, const char *addr)
{
    struct side *s = arg;
    s->connected++;
    if (strcmp(addr, s->watch) == 0)
        s->watched++;
}

static void
open_side_at(struct reactor *r, struct side *s, const char *url)
{
    memset(s, 0, sizeof *s);
    s->bad_frame = -1;
    struct net_config c = {url, 4096, on_recv, on_closed, s};
    struct net_options o = NET_OPTIONS_ZERO;
    o.connected = on_connected;
    char err[256];
    NT_EQ_INT(net_open_opts(&s->net, r, &c, &o, err, sizeof err), NAOS_OK);
    NT_TRUE(strncmp(net_listen_url(s->net), "tcp://127.0.0.1:", 16) == 0);
    NT_TRUE(strcmp(net_listen_url(s->net), "tcp://127.0.0.1:0") != 0);
}

static void
open_side(struct reactor *r, struct side *s)
{
    open_side_at(r, s, "tcp://127.0.0.1:0");
}

/* Runs the loop until pred or 10 s (a deadline for slow builds, not a
 * bound on the behaviour). */
static bool
run_until(struct reactor *r, bool (*pred)(void *), void *arg)
{
    naos_time end = naos_clock_now() + 10000;
    while (!pred(arg) && naos_clock_now() < end)
        reactor_run_once(r, 20);
    return pred(arg);
}

static bool
got_one(void *arg)
{
    return ((struct side *)arg)->got >= 1;
}

static bool
closed_one(void *arg)
{
    return ((struct side *)arg)->closed >= 1;
}

struct count_wait {
    const int *count;
    int want;
};

static bool
count_reached(void *arg)
{
    struct count_wait *w = arg;
    return *w->count >= w->want;
}

/* wait_connected runs the loop until s has heard of one more established
 * connection than `before`. */
static void
wait_connected(struct reactor *r, struct side *s, int before)
{
    struct count_wait w = {&s->connected, before + 1};
    NT_TRUE(run_until(r, count_reached, &w));
}

/* barrier dials addr afresh from s (no socket to addr is open) and
 * waits until that connection to addr is reported: every pipe event
 * posted before the dial has been handled. */
static void
barrier(struct reactor *r, struct side *s, const char *addr)
{
    if (strcmp(s->watch, addr) != 0) {
        snprintf(s->watch, sizeof s->watch, "%s", addr);
        s->watched = 0;
    }
    struct count_wait w = {&s->watched, s->watched + 1};
    NT_EQ_INT(net_dial(s->net, addr), NAOS_OK);
    NT_TRUE(run_until(r, count_reached, &w));
}

static void
test_send_recv_close(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side a, b;
    open_side(&r, &a);
    open_side(&r, &b);
    /* Queued while the connection is being made, then delivered. */
    NT_EQ_INT(net_send(a.net, net_listen_url(b.net), (const uint8_t *)"hi", 2),
              NAOS_OK);
    NT_TRUE(run_until(&r, got_one, &b));
    NT_EQ_STR(b.last, "hi");
    NT_EQ_INT(net_stats_get(a.net)->msgs_out, 1);
    NT_EQ_INT(net_stats_get(a.net)->bytes_out, 2);
    NT_EQ_INT(net_stats_get(b.net)->msgs_in, 1);
    NT_EQ_INT(net_stats_get(b.net)->bytes_in, 2);
    /* Through the vtable. */
    struct net_transport t;
    net_transport_nng(b.net, &t);
    NT_EQ_INT(t.version, NET_TRANSPORT_VERSION);
    NT_EQ_INT(t.send(t.impl, net_listen_url(a.net), (const uint8_t *)"yo", 2),
              NAOS_OK);
    NT_TRUE(run_until(&r, got_one, &a));
    NT_EQ_STR(a.last, "yo");
    /* b goes away: a, which holds a connection to b, hears of it. */
    char baddr[NET_ADDR_MAX];
    snprintf(baddr, sizeof baddr, "%s", net_listen_url(b.net));
    net_close(b.net);
    NT_TRUE(run_until(&r, closed_one, &a));
    NT_EQ_STR(a.closed_addr, baddr);
    NT_EQ_INT(net_stats_get(a.net)->peers_closed, 1);
    net_forget(a.net, baddr);
    NT_EQ_INT(net_stats_get(a.net)->peers_open, 0);
    /* Our own close of a live connection is not reported. */
    struct side c;
    open_side(&r, &c);
    barrier(&r, &a, net_listen_url(c.net)); /* a -> c is up */
    net_forget(a.net, net_listen_url(c.net));
    NT_EQ_INT(net_stats_get(a.net)->peers_open, 0);
    barrier(&r, &a, net_listen_url(c.net));
    NT_EQ_INT(a.closed, 1);
    NT_EQ_INT(net_stats_get(a.net)->peers_closed, 1);
    net_forget(a.net, net_listen_url(c.net));
    net_close(c.net);
    /* Bad addresses are dropped and counted. */
    NT_EQ_INT(net_send(a.net, "ipc:///x", (const uint8_t *)"x", 1),
              NAOS_EINVAL);
    NT_EQ_INT(net_stats_get(a.net)->dropped_out, 1);
    net_close(a.net);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

static bool
keep_none(void *arg, const char *addr)
{
    (void)arg;
    (void)addr;
    return false;
}

static bool
keep_all(void *arg, const char *addr)
{
    (void)arg;
    (void)addr;
    return true;
}

/* A dialled peer is watched without any message sent; unwanted sockets
 * are closed by net_prune once unused for the linger, silently. */
static void
test_dial_prune(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side a, b;
    open_side(&r, &a);
    open_side(&r, &b);
    struct net_transport t;
    net_transport_nng(a.net, &t);
    NT_EQ_INT(t.dial(t.impl, net_listen_url(b.net)), NAOS_OK);
    NT_EQ_INT(t.dial(t.impl, net_listen_url(b.net)), NAOS_OK); /* no-op */
    NT_EQ_INT(net_stats_get(a.net)->peers_open, 1);
    NT_EQ_INT(net_stats_get(a.net)->msgs_out, 0);
    NT_EQ_INT(t.dial(t.impl, "udp://x:1"), NAOS_EINVAL);
    /* The connection comes up (reported), then b dies: reported. */
    wait_connected(&r, &a, 0);
    net_close(b.net);
    NT_TRUE(run_until(&r, closed_one, &a));
    /* A second peer, connected: its socket is pruned while live. */
    struct side c;
    open_side(&r, &c);
    barrier(&r, &a, net_listen_url(c.net));
    NT_EQ_INT(net_stats_get(a.net)->peers_open, 2);
    /* Wanted, or used within the linger: kept. */
    t.prune(t.impl, keep_all, NULL, 0);
    NT_EQ_INT(net_stats_get(a.net)->peers_open, 2);
    t.prune(t.impl, keep_none, NULL, 60000);
    NT_EQ_INT(net_stats_get(a.net)->peers_open, 2);
    /* Unwanted and unused: closed, and those closes are not reported. */
    t.prune(t.impl, keep_none, NULL, 0);
    NT_EQ_INT(net_stats_get(a.net)->peers_open, 0);
    barrier(&r, &a, net_listen_url(c.net));
    NT_EQ_INT(a.closed, 1);
    net_close(c.net);
    net_close(a.net);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

/* send_frames sends frames [from, to) of the test stream to addr; all
 * must be queued. */
static void
send_frames(struct side *s, const char *addr, int from, int to)
{
    uint8_t buf[4000];
    for (int i = from; i < to; i++) {
        size_t len = frame_fill(buf, i);
        NT_EQ_INT(net_send(s->net, addr, buf, len), NAOS_OK);
    }
}

struct frames_wait {
    struct side *s;
    int want;
};

static bool
frames_reached(void *arg)
{
    struct frames_wait *w = arg;
    return w->s->next_frame >= w->want;
}

/* A peer that dies and comes back at the same address. Its death is
 * reported once; what is sent while it is away is queued (NET_SENDBUF
 * frames, the rest dropped and counted) and delivered to the peer that
 * comes back, on a fresh connection: every frame intact and in order,
 * frames of many sizes, before and after. */
static void
test_peer_restart(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side a, b;
    open_side(&r, &a);
    open_side(&r, &b);
    b.frames = true;
    char baddr[NET_ADDR_MAX];
    snprintf(baddr, sizeof baddr, "%s", net_listen_url(b.net));
    /* Far more than the queue holds, sent as the connection comes up
     * (a send refused while the queue is full is tried again): they
     * arrive intact and in order. */
    int sent = 0;
    uint8_t buf[4000];
    naos_time end = naos_clock_now() + 10000;
    while (sent < 200 && naos_clock_now() < end) {
        size_t len = frame_fill(buf, sent);
        int rc = net_send(a.net, baddr, buf, len);
        if (rc == NAOS_OK)
            sent++;
        else
            NT_EQ_INT(rc, NAOS_EBUSY);
        reactor_run_once(&r, 0);
    }
    NT_EQ_INT(sent, 200);
    struct frames_wait fw = {&b, 200};
    NT_TRUE(run_until(&r, frames_reached, &fw));
    NT_EQ_INT(b.bad_frame, -1);
    NT_EQ_INT(b.next_frame, 200);
    /* b goes away: reported once, the connection counted as lost. */
    net_close(b.net);
    NT_TRUE(run_until(&r, closed_one, &a));
    NT_EQ_STR(a.closed_addr, baddr);
    NT_EQ_INT(net_stats_get(a.net)->peers_retired, 1);
    NT_EQ_INT(net_stats_get(a.net)->peers_open, 1);
    /* While it is away: NET_SENDBUF frames queue, the next is dropped. */
    uint64_t dropped = net_stats_get(a.net)->dropped_out;
    send_frames(&a, baddr, 200, 200 + NET_SENDBUF);
    size_t len = frame_fill(buf, 200 + NET_SENDBUF);
    NT_EQ_INT(net_send(a.net, baddr, buf, len), NAOS_EBUSY);
    NT_EQ_INT(net_stats_get(a.net)->dropped_out, dropped + 1);
    /* b comes back at its address: the queue goes out in order on the
     * new connection, then what follows it. */
    open_side_at(&r, &b, baddr);
    b.frames = true;
    b.next_frame = 200;
    fw.want = 200 + NET_SENDBUF;
    NT_TRUE(run_until(&r, frames_reached, &fw));
    NT_EQ_INT(b.bad_frame, -1);
    b.next_frame++; /* the frame dropped above */
    send_frames(&a, baddr, 201 + NET_SENDBUF, 210 + NET_SENDBUF);
    fw.want = 210 + NET_SENDBUF;
    NT_TRUE(run_until(&r, frames_reached, &fw));
    NT_EQ_INT(b.bad_frame, -1);
    NT_EQ_INT(b.next_frame, 210 + NET_SENDBUF);
    NT_EQ_INT(net_stats_get(a.net)->peers_retired, 1);
    NT_EQ_INT(net_stats_get(a.net)->peers_open, 1);
    NT_EQ_INT(a.closed, 1);
    NT_EQ_INT(a.connected, 2);
    net_close(b.net);
    net_close(a.net);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

/* A refusing peer: a TCP listener (its own thread) that completes the SP
 * header exchange as a pull0 peer and then closes the connection at once,
 * as a member does to a joiner whose envelope does not open under its
 * key. It notes when it accepted each connection. */
#define REFUSER_MAX 64
struct refuser {
    int lfd;
    char url[NET_ADDR_MAX];
    atomic_bool stop;
    atomic_int accepted;
    uint64_t at_us[REFUSER_MAX]; /* CLOCK_MONOTONIC of each accept */
    pthread_t thr;
};

static void *
refuser_main(void *arg)
{
    struct refuser *f = arg;
    static const uint8_t pull0[8] = {0, 'S', 'P', 0, 0, 0x51, 0, 0};
    while (!atomic_load(&f->stop)) {
        struct pollfd pl = {f->lfd, POLLIN, 0};
        if (poll(&pl, 1, 20) <= 0)
            continue;
        int fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        int k0 = atomic_load(&f->accepted);
        if (k0 < REFUSER_MAX)
            f->at_us[k0] = naos_clock_now_us();
        atomic_fetch_add(&f->accepted, 1);
        ssize_t k = write(fd, pull0, sizeof pull0);
        uint8_t theirs[8];
        struct pollfd pc = {fd, POLLIN, 0};
        if (k == (ssize_t)sizeof pull0 && poll(&pc, 1, 200) > 0)
            k = read(fd, theirs, sizeof theirs);
        (void)k;
        close(fd);
    }
    return NULL;
}

static void
refuser_start(struct refuser *f)
{
    memset(f, 0, sizeof *f);
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    NT_TRUE(f->lfd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    NT_EQ_INT(bind(f->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    NT_EQ_INT(listen(f->lfd, 64), 0);
    socklen_t sl = sizeof sa;
    NT_EQ_INT(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
    snprintf(f->url, sizeof f->url, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
    atomic_init(&f->stop, false);
    atomic_init(&f->accepted, 0);
    NT_EQ_INT(pthread_create(&f->thr, NULL, refuser_main, f), 0);
}

static void
refuser_stop(struct refuser *f)
{
    atomic_store(&f->stop, true);
    pthread_join(f->thr, NULL);
    close(f->lfd);
}

/* Sending to a peer that keeps dropping our connection right after the
 * header exchange (until it has accepted 7, or 10 s): nothing crashes or
 * leaks (the sanitizer build checks NNG's memory too), every connection
 * is reported up and then closed, counted, and redialled with backoff:
 * the k-th redial comes no sooner than min(100 ms * 2^k, 1 s) after the
 * drop before it, so accepts are at least that far apart. These are
 * lower bounds on gaps, which a slow machine only widens. */
static void
test_refusing_peer(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side a;
    open_side(&r, &a);
    struct refuser f;
    refuser_start(&f);
    naos_time start = naos_clock_now();
    int rounds = 0;
    while (atomic_load(&f.accepted) < 7 && naos_clock_now() - start < 10000) {
        int rc = net_send(a.net, f.url, (const uint8_t *)"knock", 5);
        NT_TRUE(rc == NAOS_OK || rc == NAOS_EBUSY);
        reactor_run_once(&r, 2);
        rounds++;
    }
    /* The last connection's drop is reported too. */
    struct count_wait w = {&a.closed, atomic_load(&f.accepted)};
    NT_TRUE(run_until(&r, count_reached, &w));
    naos_time took = naos_clock_now() - start;
    const struct net_stats *st = net_stats_get(a.net);
    int accepted = atomic_load(&f.accepted);
    fprintf(stderr, "  %d rounds in %llu ms: %d connections accepted, "
            "%llu lost, %llu drops reported, %llu sends dropped; gaps",
            rounds, (unsigned long long)took, accepted,
            (unsigned long long)st->peers_retired,
            (unsigned long long)st->peers_closed,
            (unsigned long long)st->dropped_out);
    for (int k = 1; k < accepted && k < REFUSER_MAX; k++)
        fprintf(stderr, " %llu", (unsigned long long)(f.at_us[k] -
                                                      f.at_us[k - 1]) / 1000);
    fprintf(stderr, " ms\n");
    NT_TRUE(accepted >= 7);
    NT_TRUE(a.connected >= accepted);
    NT_EQ_INT(st->peers_closed, (uint64_t)a.closed);
    NT_TRUE(st->peers_retired >= (uint64_t)accepted);
    uint64_t backoff_ms = 100;
    for (int k = 1; k < accepted && k < REFUSER_MAX; k++) {
        uint64_t gap_us = f.at_us[k] - f.at_us[k - 1];
        if (gap_us + 2000 < backoff_ms * 1000) /* 2 ms: clock rounding */
            NT_FAIL("accept %d came %llu us after the one before, under "
                    "the %llu ms backoff", k, (unsigned long long)gap_us,
                    (unsigned long long)backoff_ms);
        backoff_ms = backoff_ms * 2 > 1000 ? 1000 : backoff_ms * 2;
    }
    NT_EQ_INT(st->peers_open, 1);
    net_close(a.net);
    refuser_stop(&f);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

/* net_hurry: once a peer that keeps dropping us has pushed our redial
 * delay to 1 s, hearing from it has us dial at once (accept 6 comes well
 * under a second after accept 5, and would come a second later without);
 * a second hurry within a second of the first does nothing (accept 7
 * keeps its 100 ms delay, though we hurry at every loop iteration). */
static void
test_hurry(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side a;
    open_side(&r, &a);
    struct refuser f;
    refuser_start(&f);
    NT_EQ_INT(net_dial(a.net, f.url), NAOS_OK);
    struct count_wait w5 = {&a.closed, 5};
    NT_TRUE(run_until(&r, count_reached, &w5)); /* backoff now 1 s */
    NT_EQ_INT(atomic_load(&f.accepted), 5);
    net_hurry(a.net, "tcp://127.0.0.1:1"); /* unknown: nothing */
    net_hurry(a.net, f.url);
    naos_time end = naos_clock_now() + 10000;
    while (atomic_load(&f.accepted) < 6 && naos_clock_now() < end)
        reactor_run_once(&r, 2);
    NT_EQ_INT(atomic_load(&f.accepted), 6);
    uint64_t gap56 = f.at_us[5] - f.at_us[4];
    struct count_wait w6 = {&a.closed, 6};
    NT_TRUE(run_until(&r, count_reached, &w6));
    end = naos_clock_now() + 10000;
    while (atomic_load(&f.accepted) < 7 && naos_clock_now() < end) {
        net_hurry(a.net, f.url);
        reactor_run_once(&r, 2);
    }
    NT_EQ_INT(atomic_load(&f.accepted), 7);
    uint64_t gap67 = f.at_us[6] - f.at_us[5];
    fprintf(stderr, "  accept 5 -> 6 (hurried): %llu ms; 6 -> 7 (hurry "
            "refused): %llu ms\n", (unsigned long long)gap56 / 1000,
            (unsigned long long)gap67 / 1000);
    if (gap56 >= 700 * 1000)
        NT_FAIL("the hurried dial came %llu ms after the drop before it",
                (unsigned long long)gap56 / 1000);
    if (gap67 + 2000 < 100 * 1000)
        NT_FAIL("a second hurry within a second dialled at once (%llu us)",
                (unsigned long long)gap67);
    net_close(a.net);
    refuser_stop(&f);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

/* The SP/TCP mapping as NNG speaks it: our outbound side delivers to an
 * NNG pull0 socket, and an NNG push0 socket delivers to our listener;
 * a peer whose header is not pull0's (here an NNG push0 listener) is
 * never reported connected, its connections counted as lost. */
static void
test_nng_interop(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side a;
    open_side(&r, &a);
    nng_socket pull;
    nng_listener l;
    NT_EQ_INT(nng_pull0_open(&pull), 0);
    NT_EQ_INT(nng_listen(pull, "tcp://127.0.0.1:0", &l, 0), 0);
    int port = 0;
    NT_EQ_INT(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
    char url[NET_ADDR_MAX];
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    uint8_t buf[4000];
    for (int i = 0; i < 5; i++) {
        size_t len = frame_fill(buf, i);
        NT_EQ_INT(net_send(a.net, url, buf, len), NAOS_OK);
    }
    for (int i = 0; i < 5; i++) {
        void *m = NULL;
        size_t mlen = 0;
        int rv = NNG_EAGAIN;
        naos_time end = naos_clock_now() + 10000;
        while (rv == NNG_EAGAIN && naos_clock_now() < end) {
            reactor_run_once(&r, 5);
            rv = nng_recv(pull, &m, &mlen, NNG_FLAG_NONBLOCK | NNG_FLAG_ALLOC);
        }
        NT_EQ_INT(rv, 0);
        size_t len = frame_fill(buf, i);
        NT_EQ_INT(mlen, len);
        NT_TRUE(memcmp(m, buf, len) == 0);
        nng_free(m, mlen);
    }
    nng_close(pull);
    /* NNG push0 -> our listener. */
    nng_socket push;
    NT_EQ_INT(nng_push0_open(&push), 0);
    /* Neither may wait: our side answers only while the reactor runs. */
    NT_EQ_INT(nng_socket_set_int(push, NNG_OPT_SENDBUF, 4), 0);
    NT_EQ_INT(nng_dial(push, net_listen_url(a.net), NULL, NNG_FLAG_NONBLOCK),
              0);
    NT_EQ_INT(nng_send(push, "Ahoy", 4, NNG_FLAG_NONBLOCK), 0);
    NT_TRUE(run_until(&r, got_one, &a));
    NT_EQ_STR(a.last, "Ahoy");
    nng_close(push);
    /* A push0 listener answers with the wrong header. */
    NT_EQ_INT(nng_push0_open(&push), 0);
    NT_EQ_INT(nng_listen(push, "tcp://127.0.0.1:0", &l, 0), 0);
    NT_EQ_INT(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
    snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port);
    uint64_t lost = net_stats_get(a.net)->peers_retired;
    int connected = a.connected;
    NT_EQ_INT(net_dial(a.net, url), NAOS_OK);
    naos_time end = naos_clock_now() + 10000;
    while (net_stats_get(a.net)->peers_retired < lost + 2 &&
           naos_clock_now() < end)
        reactor_run_once(&r, 20);
    NT_TRUE(net_stats_get(a.net)->peers_retired >= lost + 2);
    NT_EQ_INT(a.connected, connected);
    net_forget(a.net, url);
    nng_close(push);
    net_close(a.net);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

static void
test_url_check(void)
{
    char err[128];
    bool wild;
    NT_EQ_INT(net_url_check("tcp://127.0.0.1:7946", &wild, err, sizeof err),
              NAOS_OK);
    NT_FALSE(wild);
    NT_EQ_INT(net_url_check("tcp://0.0.0.0:7946", &wild, err, sizeof err),
              NAOS_OK);
    NT_TRUE(wild);
    NT_EQ_INT(net_url_check("tcp://[::]:1", &wild, err, sizeof err), NAOS_OK);
    NT_TRUE(wild);
    NT_EQ_INT(net_url_check("tcp://[::1:1", NULL, err, sizeof err),
              NAOS_EINVAL);
    NT_EQ_INT(net_url_check("tcp://h:70000", NULL, err, sizeof err),
              NAOS_EINVAL);
    NT_EQ_INT(net_url_check("tcp://h:", NULL, err, sizeof err), NAOS_EINVAL);
    NT_EQ_INT(net_url_check("udp://h:1", NULL, err, sizeof err), NAOS_EINVAL);
    NT_EQ_INT(net_url_check(NULL, NULL, err, sizeof err), NAOS_EINVAL);
    /* Refused at open too, with a sentence. */
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct net *n = NULL;
    struct net_config c = {"tcp://127.0.0.1:x", 64, on_recv, on_closed, NULL};
    NT_EQ_INT(net_open(&n, &r, &c, err, sizeof err), NAOS_EINVAL);
    NT_TRUE(strstr(err, "port") != NULL);
    reactor_fini(&r);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_send_recv_close),
        NT_CASE(test_dial_prune),
        NT_CASE(test_peer_restart),
        NT_CASE(test_refusing_peer),
        NT_CASE(test_hurry),
        NT_CASE(test_nng_interop),
        NT_CASE(test_url_check),
        {0},
    };
    return nt_run(cases);
}
