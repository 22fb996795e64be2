/* SPDX-License-Identifier: Apache-2.0 */
/* net_limits_test.c: the inbound side of net.h against raw TCP clients on
 * loopback (what an outsider can do): the SP header exchange, frames over
 * recv_max refused and counted, unauthenticated connections timed out,
 * capped per address and in total (the oldest goes), authenticated ones
 * exempt, refused envelopes closing the connection, incomplete frames
 * timed out, accepting paused at max_conns, and the connected callback of
 * outbound sockets. Timeouts here are a few hundred ms (net_options); the
 * defaults are in net.h. */
#include "node/net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node/base/alloc.h"
#include "node/base/err.h"
#include "node/base/testing.h"
#include "node/base/time.h"

#define RECV_MAX 1000

struct side {
    struct net *net;
    int got;
    char last[64];
    int connected;
    char connected_addr[NET_ADDR_MAX];
};

/* Messages starting with 'A' authenticate their connection, 'R' are
 * refused, anything else gets no verdict. */
static void
on_recv(void *arg, const uint8_t *data, size_t len)
{
    struct side *s = arg;
    s->got++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)data);
    if (len && data[0] == 'A')
        net_recv_verdict(s->net, NET_AUTHENTIC);
    else if (len && data[0] == 'R')
        net_recv_verdict(s->net, NET_REFUSED);
}

static void
on_closed(void *arg, const char *addr)
{
    (void)arg;
    (void)addr;
}

static void
on_connected(void *arg, const char *addr)
{
    struct side *s = arg;
    s->connected++;
    snprintf(s->connected_addr, sizeof s->connected_addr, "%s", addr);
}

static void
open_side(struct reactor *r, struct side *s, const struct net_options *o)
{
    memset(s, 0, sizeof *s);
    struct net_config c = {"tcp://127.0.0.1:0", RECV_MAX, on_recv, on_closed,
                           s};
    char err[256];
    NT_EQ_INT(net_open_opts(&s->net, r, &c, o, err, sizeof err), NAOS_OK);
}

static int
port_of(struct net *n)
{
    const char *u = net_listen_url(n);
    return atoi(strrchr(u, ':') + 1);
}

/* client opens a raw TCP connection from src (an IPv4 loopback address)
 * to n, non-blocking. */
static int
client_from(struct net *n, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    NT_TRUE(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, src, &a.sin_addr);
    NT_EQ_INT(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct sockaddr_in d = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port_of(n))};
    inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
    NT_EQ_INT(connect(fd, (struct sockaddr *)&d, sizeof d), 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int
client(struct net *n)
{
    return client_from(n, "127.0.0.1");
}

static void
put_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t k = send(fd, p, len, MSG_NOSIGNAL);
        if (k < 0 && errno == EAGAIN) {
            struct pollfd pf = {fd, POLLOUT, 0};
            poll(&pf, 1, 100);
            continue;
        }
        NT_TRUE(k > 0);
        p += k;
        len -= (size_t)k;
    }
}

static const uint8_t push_hdr[8] = {0, 'S', 'P', 0, 0, 0x50, 0, 0};

static void
put_frame(int fd, const char *msg)
{
    size_t len = strlen(msg);
    uint8_t h[8] = {0};
    for (int i = 0; i < 8; i++)
        h[7 - i] = (uint8_t)((uint64_t)len >> (8 * i));
    put_all(fd, h, 8);
    put_all(fd, msg, len);
}

static void
put_len(int fd, uint64_t len)
{
    uint8_t h[8];
    for (int i = 0; i < 8; i++)
        h[7 - i] = (uint8_t)(len >> (8 * i));
    put_all(fd, h, 8);
}

/* State of a client socket: 1 open, 0 closed by the far end. Reads and
 * discards what arrived (the server's SP header). */
static int
is_open(int fd)
{
    uint8_t buf[64];
    for (;;) {
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k > 0)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        return 0;
    }
}

/* Runs the loop until pred() or ms pass. */
static bool
run_until(struct reactor *r, bool (*pred)(void *), void *arg, int ms)
{
    naos_time end = naos_clock_now() + (naos_time)ms;
    while (!pred(arg) && naos_clock_now() < end)
        reactor_run_once(r, 10);
    return pred(arg);
}

static void
run_for(struct reactor *r, int ms)
{
    naos_time end = naos_clock_now() + (naos_time)ms;
    while (naos_clock_now() < end)
        reactor_run_once(r, 10);
}

static bool
fd_closed(void *arg)
{
    return is_open(*(int *)arg) == 0;
}

static int want_got;
static bool
got_n(void *arg)
{
    return ((struct side *)arg)->got >= want_got;
}

static uint64_t want_accepted;
static bool
accepted_n(void *arg)
{
    return net_stats_get(((struct side *)arg)->net)->in_accepted >=
           want_accepted;
}

/* The server speaks first with a pull0 header, then reads frames; a frame
 * of exactly recv_max passes, one byte more is refused at its length,
 * counted, and closes the connection; recv_fn never sees it. */
static void
test_handshake_and_oversized(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side b;
    open_side(&r, &b, NULL);
    int fd = client(b.net);
    uint8_t hs[8] = {0};
    naos_time end = naos_clock_now() + 3000;
    size_t have = 0;
    while (have < 8 && naos_clock_now() < end) {
        reactor_run_once(&r, 10);
        ssize_t k = recv(fd, hs + have, 8 - have, 0);
        if (k > 0)
            have += (size_t)k;
    }
    NT_EQ_INT(have, 8);
    const uint8_t pull_hdr[8] = {0, 'S', 'P', 0, 0, 0x51, 0, 0};
    NT_TRUE(memcmp(hs, pull_hdr, 8) == 0);
    put_all(fd, push_hdr, 8);
    char *big = malloc(RECV_MAX + 1);
    memset(big, 'x', RECV_MAX);
    big[RECV_MAX] = '\0';
    put_frame(fd, big);
    want_got = 1;
    NT_TRUE(run_until(&r, got_n, &b, 3000));
    NT_EQ_INT(net_stats_get(b.net)->bytes_in, RECV_MAX);
    put_len(fd, RECV_MAX + 1);
    NT_TRUE(run_until(&r, fd_closed, &fd, 3000));
    const struct net_stats *st = net_stats_get(b.net);
    NT_EQ_INT(st->oversized, 1);
    NT_EQ_INT(st->in_closed[NET_CLOSE_OVERSIZED], 1);
    NT_EQ_INT(st->in_open, 0);
    NT_EQ_INT(b.got, 1);
    /* A length of 2^63 is refused the same way, without an allocation. */
    int fd2 = client(b.net);
    put_all(fd2, push_hdr, 8);
    put_len(fd2, UINT64_C(1) << 63);
    NT_TRUE(run_until(&r, fd_closed, &fd2, 3000));
    NT_EQ_INT(net_stats_get(b.net)->oversized, 2);
    free(big);
    close(fd);
    close(fd2);
    net_close(b.net);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

/* Anything but a push0 header is refused. */
static void
test_bad_handshake(void)
{
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side b;
    open_side(&r, &b, NULL);
    int fd = client(b.net);
    put_all(fd, "GET / HTTP/1.1\r\n\r\n", 18);
    NT_TRUE(run_until(&r, fd_closed, &fd, 3000));
    NT_EQ_INT(net_stats_get(b.net)->in_closed[NET_CLOSE_HANDSHAKE], 1);
    /* a pull0 talking to a pull0 is refused too */
    int fd2 = client(b.net);
    const uint8_t pull_hdr[8] = {0, 'S', 'P', 0, 0, 0x51, 0, 0};
    put_all(fd2, pull_hdr, 8);
    NT_TRUE(run_until(&r, fd_closed, &fd2, 3000));
    NT_EQ_INT(net_stats_get(b.net)->in_closed[NET_CLOSE_HANDSHAKE], 2);
    close(fd);
    close(fd2);
    net_close(b.net);
    reactor_fini(&r);
}

/* A connection that never authenticates is closed auth_timeout_ms after
 * it was accepted, whether it is silent, sent only the SP header or a
 * message without a verdict; one that authenticated stays. */
static void
test_auth_timeout(void)
{
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side b;
    struct net_options o = NET_OPTIONS_ZERO;
    o.auth_timeout_ms = 300;
    open_side(&r, &b, &o);
    naos_time t0 = naos_clock_now();
    int silent = client(b.net);
    int hdr_only = client(b.net);
    put_all(hdr_only, push_hdr, 8);
    int chatty = client(b.net);
    put_all(chatty, push_hdr, 8);
    put_frame(chatty, "hi");
    int member = client(b.net);
    put_all(member, push_hdr, 8);
    put_frame(member, "Auth");
    want_got = 2;
    NT_TRUE(run_until(&r, got_n, &b, 3000));
    NT_EQ_INT(net_stats_get(b.net)->in_unauth, 3);
    NT_TRUE(run_until(&r, fd_closed, &silent, 3000));
    NT_TRUE(run_until(&r, fd_closed, &hdr_only, 3000));
    NT_TRUE(run_until(&r, fd_closed, &chatty, 3000));
    NT_TRUE(naos_clock_now() - t0 >= 290);
    NT_EQ_INT(net_stats_get(b.net)->in_closed[NET_CLOSE_AUTH_TIMEOUT], 3);
    run_for(&r, 400);
    NT_EQ_INT(is_open(member), 1);
    NT_EQ_INT(net_stats_get(b.net)->in_open, 1);
    NT_EQ_INT(net_stats_get(b.net)->in_unauth, 0);
    /* and it still delivers */
    put_frame(member, "more");
    want_got = 3;
    NT_TRUE(run_until(&r, got_n, &b, 3000));
    NT_EQ_STR(b.last, "more");
    close(silent);
    close(hdr_only);
    close(chatty);
    close(member);
    net_close(b.net);
    reactor_fini(&r);
}

/* A frame started and not finished is closed frame_timeout_ms after its
 * first byte, authenticated or not; so is a partial length. */
static void
test_frame_timeout(void)
{
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side b;
    struct net_options o = NET_OPTIONS_ZERO;
    o.frame_timeout_ms = 300;
    open_side(&r, &b, &o);
    int member = client(b.net);
    put_all(member, push_hdr, 8);
    put_frame(member, "Auth");
    want_got = 1;
    NT_TRUE(run_until(&r, got_n, &b, 3000));
    put_len(member, 100);
    put_all(member, "0123456789", 10);
    int partial_len = client(b.net);
    put_all(partial_len, push_hdr, 8);
    put_all(partial_len, "\0\0\0", 3);
    NT_TRUE(run_until(&r, fd_closed, &member, 3000));
    NT_TRUE(run_until(&r, fd_closed, &partial_len, 3000));
    NT_EQ_INT(net_stats_get(b.net)->in_closed[NET_CLOSE_FRAME_TIMEOUT], 2);
    NT_EQ_INT(b.got, 1);
    close(member);
    close(partial_len);
    net_close(b.net);
    reactor_fini(&r);
}

/* NET_REFUSED closes an unauthenticated connection at once and leaves an
 * authenticated one alone. */
static void
test_refused(void)
{
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side b;
    open_side(&r, &b, NULL);
    int stranger = client(b.net);
    put_all(stranger, push_hdr, 8);
    put_frame(stranger, "Rubbish");
    NT_TRUE(run_until(&r, fd_closed, &stranger, 3000));
    NT_EQ_INT(net_stats_get(b.net)->in_closed[NET_CLOSE_REFUSED], 1);
    int member = client(b.net);
    put_all(member, push_hdr, 8);
    put_frame(member, "Auth");
    put_frame(member, "Rubbish");
    put_frame(member, "after");
    want_got = 4;
    NT_TRUE(run_until(&r, got_n, &b, 3000));
    NT_EQ_STR(b.last, "after");
    NT_EQ_INT(is_open(member), 1);
    NT_EQ_INT(net_stats_get(b.net)->in_closed[NET_CLOSE_REFUSED], 1);
    close(stranger);
    close(member);
    net_close(b.net);
    reactor_fini(&r);
}

/* Per address at most max_unauth_per_addr unauthenticated connections:
 * a newcomer closes the oldest of its address; in total at most
 * max_unauth: a newcomer closes the oldest of any. Authenticated ones are
 * never counted nor closed. */
static void
test_caps(void)
{
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side b;
    struct net_options o = NET_OPTIONS_ZERO;
    o.max_unauth_per_addr = 2;
    o.max_unauth = 3;
    open_side(&r, &b, &o);
    int member = client(b.net);
    put_all(member, push_hdr, 8);
    put_frame(member, "Auth");
    want_got = 1;
    NT_TRUE(run_until(&r, got_n, &b, 3000));
    int a[3];
    for (int i = 0; i < 3; i++) {
        a[i] = client(b.net);
        want_accepted = 2 + (uint64_t)i;
        NT_TRUE(run_until(&r, accepted_n, &b, 3000));
    }
    /* the oldest of 127.0.0.1 went */
    NT_TRUE(run_until(&r, fd_closed, &a[0], 3000));
    NT_EQ_INT(net_stats_get(b.net)->in_closed[NET_CLOSE_ADDR_CAP], 1);
    NT_EQ_INT(is_open(a[1]), 1);
    NT_EQ_INT(is_open(a[2]), 1);
    NT_EQ_INT(is_open(member), 1);
    /* 127.0.0.2 and 127.0.0.3: the third unauthenticated overall closes
     * the oldest overall, a[1] */
    int c2 = client_from(b.net, "127.0.0.2");
    want_accepted = 5;
    NT_TRUE(run_until(&r, accepted_n, &b, 3000));
    NT_EQ_INT(net_stats_get(b.net)->in_unauth, 3);
    int c3 = client_from(b.net, "127.0.0.3");
    want_accepted = 6;
    NT_TRUE(run_until(&r, accepted_n, &b, 3000));
    NT_TRUE(run_until(&r, fd_closed, &a[1], 3000));
    NT_EQ_INT(net_stats_get(b.net)->in_closed[NET_CLOSE_UNAUTH_CAP], 1);
    NT_EQ_INT(net_stats_get(b.net)->in_unauth, 3);
    NT_EQ_INT(net_stats_get(b.net)->in_open, 4);
    NT_EQ_INT(is_open(member), 1);
    NT_EQ_INT(is_open(c2), 1);
    NT_EQ_INT(is_open(c3), 1);
    for (int i = 0; i < 3; i++)
        close(a[i]);
    close(c2);
    close(c3);
    close(member);
    net_close(b.net);
    reactor_fini(&r);
}

/* At max_conns nothing more is accepted (the kernel holds the rest in its
 * backlog: no descriptor of ours); a close makes room. */
static void
test_max_conns(void)
{
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side b;
    struct net_options o = NET_OPTIONS_ZERO;
    o.max_conns = 2;
    o.max_unauth = 2;
    o.max_unauth_per_addr = 2;
    open_side(&r, &b, &o);
    int c1 = client(b.net), c2 = client(b.net), c3 = client(b.net);
    want_accepted = 2;
    NT_TRUE(run_until(&r, accepted_n, &b, 3000));
    run_for(&r, 200);
    NT_EQ_INT(net_stats_get(b.net)->in_accepted, 2);
    NT_EQ_INT(net_stats_get(b.net)->in_open, 2);
    NT_EQ_INT(net_stats_get(b.net)->accept_paused, 1);
    /* c1 or c2 goes away: c3 is taken */
    put_all(c1, "garbage!", 8);
    want_accepted = 3;
    NT_TRUE(run_until(&r, accepted_n, &b, 3000));
    NT_EQ_INT(net_stats_get(b.net)->in_open, 2);
    close(c1);
    close(c2);
    close(c3);
    net_close(b.net);
    reactor_fini(&r);
}

static bool
connected_one(void *arg)
{
    return ((struct side *)arg)->connected >= 1;
}

/* An outbound connection coming up is reported to connected_fn, and the
 * outbound side (push0, over a stream dialer) interoperates with the
 * listener. */
static void
test_connected(void)
{
    long live = naos_alloc_live();
    struct reactor r;
    NT_EQ_INT(reactor_init(&r), NAOS_OK);
    struct side a, b;
    struct net_options o = NET_OPTIONS_ZERO;
    o.connected = on_connected;
    open_side(&r, &a, &o);
    open_side(&r, &b, NULL);
    NT_EQ_INT(net_dial(a.net, net_listen_url(b.net)), NAOS_OK);
    NT_TRUE(run_until(&r, connected_one, &a, 3000));
    NT_EQ_STR(a.connected_addr, net_listen_url(b.net));
    NT_EQ_INT(net_send(a.net, net_listen_url(b.net), (const uint8_t *)"Ahoy",
                       4),
              NAOS_OK);
    want_got = 1;
    NT_TRUE(run_until(&r, got_n, &b, 3000));
    NT_EQ_STR(b.last, "Ahoy");
    NT_EQ_INT(net_stats_get(b.net)->in_unauth, 0);
    NT_EQ_INT(net_stats_get(b.net)->in_open, 1);
    net_close(a.net);
    net_close(b.net);
    reactor_fini(&r);
    NT_EQ_INT(naos_alloc_live(), live);
}

int
main(void)
{
    static const struct nt_case cases[] = {
        NT_CASE(test_handshake_and_oversized),
        NT_CASE(test_bad_handshake),
        NT_CASE(test_auth_timeout),
        NT_CASE(test_frame_timeout),
        NT_CASE(test_refused),
        NT_CASE(test_caps),
        NT_CASE(test_max_conns),
        NT_CASE(test_connected),
        {0},
    };
    return nt_run(cases);
}
