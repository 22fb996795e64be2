/* SPDX-License-Identifier: Apache-2.0 */
/* net_test.c: two transports on loopback: messages both ways, counters,
 * a far-end close reported once, our own closes never, bad addresses,
 * dialling without a message, pruning unwanted sockets, sockets whose
 * connection dropped replaced (and bounded redials to a peer that keeps
 * refusing us).
 *
 * Absence ("our own close is not reported") is checked behind a barrier,
 * not after a pause: a socket's pipe callbacks have all run when
 * nng_close returns (net.c, peer_close), and the pipe-event inbox is
 * FIFO, so once a connection made *after* the close is reported, a close
 * report, had there been one, was handled before it. The closed socket
 * has a live connection, so a wrong report would have a pipe to come
 * from. */
#include "node/net/net.h"

#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
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
};

static void
on_recv(void *arg, const uint8_t *data, size_t len)
{
    struct side *s = arg;
    s->got++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)data);
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

/* A peer that dies and comes back at the same address: the socket whose
 * connection dropped is retired when the drop is reported, and its fresh
 * successor delivers once the peer is back. */
static void
test_dropped_socket_replaced(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side a, b;
    open_side(&r, &a);
    open_side(&r, &b);
    char baddr[NET_ADDR_MAX];
    snprintf(baddr, sizeof baddr, "%s", net_listen_url(b.net));
    NT_EQ_INT(net_send(a.net, baddr, (const uint8_t *)"hi", 2), NAOS_OK);
    NT_TRUE(run_until(&r, got_one, &b));
    net_close(b.net);
    NT_TRUE(run_until(&r, closed_one, &a));
    NT_EQ_INT(net_stats_get(a.net)->peers_retired, 1);
    NT_EQ_INT(net_stats_get(a.net)->peers_open, 1);
    open_side_at(&r, &b, baddr);
    naos_time end = naos_clock_now() + 10000;
    while (b.got == 0 && naos_clock_now() < end) {
        (void)net_send(a.net, baddr, (const uint8_t *)"again", 5);
        reactor_run_once(&r, 20);
    }
    NT_EQ_STR(b.last, "again");
    NT_EQ_INT(net_stats_get(a.net)->peers_retired, 1);
    NT_EQ_INT(net_stats_get(a.net)->peers_open, 1);
    NT_EQ_INT(a.closed, 1);
    net_close(b.net);
    net_close(a.net);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

/* A refusing peer: a TCP listener (its own thread) that completes the SP
 * handshake as a pull0 peer and then closes the connection at once, as
 * a member does to a joiner whose envelope does not open under its key.
 * NNG gets a pipe and loses it straight away, again and again. */
struct refuser {
    int lfd;
    char url[NET_ADDR_MAX];
    atomic_bool stop;
    atomic_int accepted;
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

/* Sending to a peer that keeps dropping our connection (1000 rounds or
 * 10 s, whichever comes first): nothing crashes, every socket whose
 * connection dropped is retired (closed, a fresh one dialled) as soon as
 * the drop is handled, so a pipe NNG 1.5.2's push0 may have left on its ready list
 * is not sent to, and the redials are bounded (not one per send). Without
 * retirement this fails on the count and on the bound (NNG alone redials
 * such a peer some 35 times a second here); it has not been seen to
 * crash without it, the race being rare (net.c). */
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
    while (rounds < 1000 && naos_clock_now() - start < 10000) {
        int rc = net_send(a.net, f.url, (const uint8_t *)"knock", 5);
        NT_TRUE(rc == NAOS_OK || rc == NAOS_EBUSY);
        reactor_run_once(&r, 2);
        rounds++;
    }
    naos_time took = naos_clock_now() - start;
    const struct net_stats *st = net_stats_get(a.net);
    int accepted = atomic_load(&f.accepted);
    fprintf(stderr, "  %d rounds in %llu ms: %d connections accepted, "
            "%llu sockets retired, %llu drops reported, %llu sends "
            "dropped\n", rounds, (unsigned long long)took, accepted,
            (unsigned long long)st->peers_retired,
            (unsigned long long)st->peers_closed,
            (unsigned long long)st->dropped_out);
    NT_TRUE(st->peers_retired >= 1);
    NT_TRUE(st->peers_retired <= (uint64_t)accepted);
    /* Redials no faster than NNG's own reconnect floor (100 ms) allows,
     * with slack: a socket per send would be one connection per round. */
    NT_TRUE((naos_time)accepted <= 5 + 2 * took / 100);
    NT_EQ_INT(st->peers_open, 1);
    net_close(a.net);
    refuser_stop(&f);
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
        NT_CASE(test_dropped_socket_replaced),
        NT_CASE(test_refusing_peer),
        NT_CASE(test_url_check),
        {0},
    };
    return nt_run(cases);
}
